"""examples/doorphone.c, the SDK's smallest talking client, against a real server: one
door phone rings another, which answers; both talk (a tone each, and the test pattern as
video) until the caller's time is up, and each records what it hears.

Like ring, the example is built next to the server binary and links the build's
libcallwire; under the sanitizer build a leak or an error makes it exit non-zero."""

import os
import re
import tempfile

from sound import dominant, read_wav
from test_example_ring import Ring
from wsclient import CallTestCase

TALK_SECONDS = 4


class DoorphoneExampleTest(CallTestCase):

    def setUp(self):
        super().setUp()
        self.users("alice", "bob")

    def doorphone(self, uid, *args):
        d = Ring([self.server.base_url, self.a, uid, self.app["authKey"], *args],
                 name="doorphone")
        self.addCleanup(d.close)
        return d

    def stats(self, d):
        line = d.wait_line("stats ", timeout=0)
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}

    def test_two_door_phones_talk_and_see_each_other(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        heard = os.path.join(tmp.name, "alice-heard.wav")
        alice = self.doorphone("alice", "--answer", "--tone", "880", "--record", heard,
                               "--video", "160x120", "--seconds", "60")
        alice.wait_line("logged in")
        bob = self.doorphone("bob", "--call", "alice", "--tone", "440", "--video", "320x240",
                             "--seconds", str(TALK_SECONDS))
        for d in (alice, bob):
            d.wait_line("joined", timeout=20)
        # bob hangs up after TALK_SECONDS; alice sees the call end and stops too.
        for d in (bob, alice):
            self.assertEqual(d.wait(timeout=TALK_SECONDS + 30), 0, d.output())
        pcm = read_wav(heard)
        self.assertEqual(dominant(pcm[48000:72000]), 440)
        for d in (alice, bob):
            st = self.stats(d)
            self.assertGreater(st["decoded"], 100, d.output())
            self.assertLess(st["concealed"] * 20, st["decoded"], d.output())
            self.assertGreater(st["video_sent"], 30, d.output())
            self.assertGreater(st["video_decoded"], 30, d.output())
