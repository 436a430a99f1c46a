"""examples/ring.c, the SDK's example program, against a real server: it rings bob, who is a
WebSocket client driven by the test, and its exit status and output say what bob did.

The example is built next to the server binary (`ring` beside `callwire`), so it links
the same libcallwire the build produced; under the sanitizer build a leak or an error in
the SDK or the example makes ring exit non-zero and fails these tests."""

import os
import subprocess
import tempfile
import threading
import time

from harness import callwire_bin
from wsclient import CallTestCase

RING_TIMEOUT = 20  # the --timeout given to ring: the server's ring timeout, in seconds
HOLD_SECONDS = 5  # how long ring stays in an answered call before it hangs up (ring.c)
EXIT_DEADLINE = RING_TIMEOUT + 20  # ring gives up 10 s after the ring timeout, plus logout


def example_bin(name):
    return os.path.join(os.path.dirname(callwire_bin()), name)


class Ring:
    """One run of an example (ring unless name says which). stdout is read line by line as
    it comes, so a test can wait for a line (with a deadline) while the example is still
    running; stderr goes to a file."""

    def __init__(self, args, name="ring"):
        path = example_bin(name)
        if not os.path.exists(path):
            raise AssertionError(f"example not found: {path} (build the `{name}` target; "
                                 f"it is looked for next to $CALLWIRE_BIN)")
        self._stderr = tempfile.TemporaryFile()
        self.lines = []
        self._eof = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen([path] + list(args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def output(self):
        with self._cond:
            out = "\n".join(self.lines)
        self._stderr.seek(0)
        err = self._stderr.read().decode("utf-8", "replace")
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"

    def wait_line(self, text, timeout=10.0):
        """Waits until ring prints a line containing text; returns it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(left)
        raise AssertionError(f"ring did not print {text!r} within {timeout} s\n"
                             f"{self.output()}")

    def wait(self, timeout=EXIT_DEADLINE):
        """Waits for ring to exit; returns its exit status."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"ring still running after {timeout} s\n{self.output()}")
        self._reader.join(5.0)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5.0)

    def close(self):
        self.kill()
        self.proc.stdout.close()
        self._stderr.close()


class RingExampleTest(CallTestCase):

    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol")
        self.bob = self.connect("bob")

    def ring(self, *extra):
        """Starts ring as alice, ringing bob."""
        r = Ring([self.server.base_url, self.a, "alice", self.app["authKey"], "bob",
                  "--timeout", str(RING_TIMEOUT), *extra])
        self.addCleanup(r.close)
        return r

    def incoming(self):
        """bob's phone rings: returns the session id."""
        ev = self.bob.next_event("call.incoming", timeout=10.0)
        self.assertEqual(ev["call"]["initiator"]["uid"], "alice", ev)
        return ev["call"]["sessionId"]

    def assertExit(self, ring, code):
        got = ring.wait()
        self.assertEqual(got, code, f"ring exited with {got}, want {code}\n{ring.output()}")

    def test_answered_call_exits_0_and_says_it_was_accepted(self):
        ring = self.ring("--video")
        sid = self.incoming()
        self.assertEqual(self.get_call(sid)["type"], "video")
        self.bob.result("call.accept", {"sessionId": sid})
        ring.wait_line("accepted the call")
        # bob hangs up while ring holds the call: ring sees call.ended and stops at once.
        self.bob.result("call.end", {"sessionId": sid})
        self.assertExit(ring, 0)
        ring.wait_line("bob hung up", timeout=0)
        ring.wait_line("call ended", timeout=0)
        self.assertEqual(self.get_call(sid)["status"], "ended")

    def test_ring_hangs_up_an_answered_call_after_a_few_seconds(self):
        ring = self.ring()
        sid = self.incoming()
        self.bob.result("call.accept", {"sessionId": sid})
        ring.wait_line("accepted the call")
        # bob stays: ring hangs up by itself after HOLD_SECONDS.
        ev = self.event(self.bob, "call.ended", sid, "ended", timeout=HOLD_SECONDS + 10)
        self.assertGreater(ev["call"]["duration"], HOLD_SECONDS - 1, ev)
        self.assertExit(ring, 0)
        ring.wait_line("hanging up", timeout=0)

    def test_rejected_call_exits_1(self):
        ring = self.ring()
        sid = self.incoming()
        self.bob.result("call.reject", {"sessionId": sid})
        self.assertExit(ring, 1)
        ring.wait_line("bob rejected the call", timeout=0)
        self.assertEqual(self.get_call(sid)["status"], "rejected")

    def test_busy_callee_exits_1(self):
        # bob is in a call with carol: autoBusy refuses alice's call at once, unrung.
        carol = self.connect("carol")
        other = carol.result("call.initiate", {"receiver": "bob", "receiverType": "user",
                                               "type": "audio"})["sessionId"]
        self.bob.next_event("call.incoming", timeout=10.0, session_id=other)
        self.bob.result("call.accept", {"sessionId": other})
        self.bob.next_event("call.accepted_elsewhere", session_id=other)
        ring = self.ring()
        self.assertExit(ring, 1)
        ring.wait_line("bob is busy", timeout=0)
        self.bob.expect_no_event(within=0.2)  # nothing about alice's call reached bob

    def test_wrong_auth_key_exits_1_and_says_why(self):
        r = Ring([self.server.base_url, self.a, "alice", "ak_wrong", "bob"])
        self.addCleanup(r.close)
        self.assertExit(r, 1)
        self.assertIn("CW_ERR_UNAUTHORIZED", r.output())
        self.bob.expect_no_event(within=0.2)

    def test_usage_error_exits_2(self):
        r = Ring([self.server.base_url, self.a, "alice"])
        self.addCleanup(r.close)
        self.assertExit(r, 2)
        self.assertIn("usage: ring", r.output())
