"""VoIP pushes and webhooks delivered to local fakes of APNs, FCM (and Google's OAuth
endpoint) and an app backend (fakes/push_fakes.py): who gets what when a call rings and
when the ringing ends, retries, dead tokens, token reuse, a kill -9 with pushes pending,
and signed webhooks. See docs/push.md."""

import re
import shutil
import tempfile
import time

from fakes.push_fakes import (FakeAPNs, FakeFCM, FakeOAuth, TestPKI, WebhookSink, apns_token,
                              fcm_token)
from harness import wait_until
from wsclient import CallTestCase

TEAM = "TEAM123456"
BUNDLE = "com.example.callwire"
DEADLINE = 20.0


class PushDeliveryTest(CallTestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="cw-push-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pki = TestPKI(self.dir)
        p8, key_id = self.pki.apns_key()
        # Fresh fakes per test: a test's connections and provider tokens are its own.
        self.apns = FakeAPNs(self.pki, TEAM, key_id, p8, BUNDLE).start()
        self.oauth = FakeOAuth(self.pki).start()
        self.fcm = FakeFCM(self.pki, self.oauth).start()
        self.sink = WebhookSink().start()
        for f in (self.apns, self.oauth, self.fcm, self.sink):
            self.addCleanup(f.stop)
        self.users("alice", "bob", "carol")
        self.assertStatus(self.req("PATCH", self.p("/push"), {
            "apns": {"teamId": TEAM, "keyId": key_id, "key": p8, "bundleId": BUNDLE,
                     "environment": "sandbox"},
            "fcm": {"serviceAccount": self.oauth.service_account},
            "endpoints": {"apns": self.apns.url, "fcm": self.fcm.url,
                          "caFile": self.pki.ca_file}}, token=self.key), 200)
        hooks = self.assertStatus(self.req("PATCH", self.p("/webhooks"),
                                           {"urls": [self.sink.url + "/hook"]},
                                           token=self.key), 200)
        self.secret = hooks["secret"]
        self.bob_token = self.token("bob")
        self.voip, self.alert, self.android = apns_token(), apns_token(), fcm_token()
        for platform, tok in (("apns_voip", self.voip), ("apns", self.alert),
                              ("fcm", self.android)):
            body = {"platform": platform, "token": tok}
            if platform != "fcm":
                body["environment"] = "sandbox"
            self.assertStatus(self.req("POST", self.p("/me/push_tokens"), body,
                                       token=self.bob_token), 201)

    def tearDown(self):
        for f in (self.apns, self.fcm, self.oauth):
            self.assertEqual(f.errors, [], f"{f.name} refused what callwire sent")

    # helpers ----------------------------------------------------------------------------

    def call(self, caller, receiver="bob", type_="video", **extra):
        body = dict({"receiver": receiver, "receiverType": "user", "type": type_}, **extra)
        return self.assertStatus(self.req("POST", self.p("/calls"), body,
                                          token=caller.token), 201)

    def metric(self, name, labels=""):
        text = self.req("GET", "/metrics")[2]
        m = re.search(rf"^callwire_{name}{re.escape(labels)} (\d+)$", text, re.M)
        return int(m.group(1)) if m else None

    def settle(self):
        """Waits until the outbox is empty: everything queued was sent or given up."""
        wait_until(lambda: self.metric("push_outbox_pending") == 0, DEADLINE,
                   "the push outbox to drain")

    def wait_sent(self, fake, token, n=1):
        """Waits until fake answered n requests for token with 200."""
        return fake.wait_requests(n, DEADLINE, match=lambda r: r["token"] == token
                                  and r["status"] == 200)

    def apns_to(self, token, status=200):
        return [r for r in self.apns.requests if r["token"] == token and r["status"] == status]

    def fcm_to(self, token, status=200):
        return [r for r in self.fcm.requests if r["token"] == token and r["status"] == status]

    def hooks(self, type_, session_id):
        return [r for r in self.sink.requests if r["body"]["type"] == type_
                and r["body"]["data"]["call"]["sessionId"] == session_id]

    # tests ------------------------------------------------------------------------------

    def test_an_offline_callee_gets_one_voip_push_and_one_fcm_message_then_missed_call_ones(self):
        alice = self.connect("alice")
        call = self.call(alice)
        sid = call["sessionId"]
        self.wait_sent(self.apns, self.voip)
        self.wait_sent(self.fcm, self.android)

        push = self.apns_to(self.voip)[0]
        h = push["headers"]
        self.assertEqual(h["apns-push-type"], "voip")
        self.assertEqual(h["apns-topic"], BUNDLE + ".voip")
        self.assertEqual(h["apns-priority"], "10")
        self.assertEqual(h["apns-collapse-id"], sid)
        deadline_s = int(h["apns-expiration"])
        self.assertAlmostEqual(deadline_s * 1000, call["initiatedAt"] + 45000, delta=2000)
        body = push["body"]
        for k, v in {"type": "call", "callAction": "initiated", "sessionId": sid,
                     "callType": "video", "receiverType": "user", "sender": "alice",
                     "senderName": "Alice", "receiver": "bob"}.items():
            self.assertEqual(body[k], v, body)

        msg = self.fcm_to(self.android)[0]["body"]["message"]
        self.assertEqual(msg["android"]["priority"], "high")
        self.assertRegex(msg["android"]["ttl"], r"^(4[0-5])s$")
        self.assertNotIn("notification", msg)
        self.assertTrue(all(isinstance(v, str) for v in msg["data"].values()), msg)
        self.assertEqual(msg["data"]["callAction"], "initiated")

        # The caller cancels: a missed-call alert, a normal-priority data message, no VoIP.
        self.assertStatus(self.req("POST", self.p(f"/calls/{sid}/cancel"), token=alice.token),
                          200)
        self.wait_sent(self.apns, self.alert)
        self.wait_sent(self.fcm, self.android, 2)
        self.settle()
        alert = self.apns_to(self.alert)[0]
        self.assertEqual(alert["headers"]["apns-push-type"], "alert")
        self.assertEqual(alert["headers"]["apns-topic"], BUNDLE)
        self.assertEqual(alert["body"]["aps"]["alert"]["body"], "Missed video call from Alice")
        self.assertEqual(alert["body"]["callAction"], "cancelled")
        end = self.fcm_to(self.android)[1]["body"]["message"]
        self.assertEqual((end["android"]["priority"], end["data"]["callAction"]),
                         ("normal", "cancelled"))
        self.assertEqual(len(self.apns_to(self.voip)), 1, "exactly one VoIP push")
        self.assertEqual(len(self.fcm_to(self.android)), 2)

    def test_an_online_callee_gets_no_push_unless_the_app_pushes_always(self):
        alice, bob = self.connect("alice"), self.connect("bob", token=self.bob_token)
        sid = self.call(alice)["sessionId"]
        bob.next_event("call.incoming")
        self.assertStatus(self.req("POST", self.p(f"/calls/{sid}/cancel"), token=alice.token),
                          200)
        self.sink.wait_requests(2, DEADLINE)
        self.settle()
        self.assertEqual(self.apns.requests, [])
        self.assertEqual(self.fcm.requests, [])

        self.assertStatus(self.req("PATCH", self.p("/push"), {"pushAlways": True},
                                   token=self.key), 200)
        self.call(alice)
        self.wait_sent(self.apns, self.voip)
        self.wait_sent(self.fcm, self.android)

    def test_unanswered_rings_end_with_missed_call_pushes_and_no_voip_push(self):
        alice = self.connect("alice")
        sid = self.call(alice, timeout=5)["sessionId"]
        self.wait_sent(self.apns, self.voip)
        self.wait_sent(self.apns, self.alert)
        self.wait_sent(self.fcm, self.android, 2)
        self.settle()
        self.assertEqual(self.apns_to(self.alert)[0]["body"]["callAction"], "unanswered")
        self.assertEqual(self.fcm_to(self.android)[1]["body"]["message"]["data"]["callAction"],
                         "unanswered")
        self.assertEqual(len(self.apns_to(self.voip)), 1)
        self.assertEqual(len(self.hooks("call.unanswered", sid)), 1)

    def test_dead_tokens_are_removed(self):
        removed = self.metric("push_tokens_removed_total")
        self.apns.unregister(self.voip)
        self.fcm.unregister(self.android)
        alice = self.connect("alice")
        self.call(alice)
        self.apns.wait_requests(1, DEADLINE, match=lambda r: r["status"] == 410)
        self.fcm.wait_requests(1, DEADLINE, match=lambda r: r["status"] == 404)
        self.settle()
        self.assertEqual(self.metric("push_tokens_removed_total") - removed, 2)
        left = self.assertStatus(self.req("GET", self.p("/me/push_tokens"),
                                          token=self.bob_token), 200)["data"]
        self.assertEqual([t["token"] for t in left], [self.alert])

    def test_a_503_with_retry_after_is_retried_then_delivered(self):
        self.apns.script(self.voip, [(503, "ServiceUnavailable", {"retry-after": "1"})])
        alice = self.connect("alice")
        self.call(alice)
        self.apns.wait_requests(1, DEADLINE, match=lambda r: r["token"] == self.voip
                                and r["status"] == 200)
        tries = [r for r in self.apns.requests if r["token"] == self.voip]
        self.assertEqual([r["status"] for r in tries], [503, 200])
        self.assertGreaterEqual(tries[1]["time"] - tries[0]["time"], 0.9,
                                "the retry waited for Retry-After")
        self.assertGreaterEqual(self.metric("push_retried_total", '{service="apns"}'), 1)

    def test_the_provider_and_access_tokens_are_reused_across_many_pushes(self):
        minted = self.metric("push_apns_tokens_minted_total")
        alice = self.connect("alice")
        for _ in range(5):
            sid = self.call(alice)["sessionId"]
            self.assertStatus(self.req("POST", self.p(f"/calls/{sid}/cancel"),
                                       token=alice.token), 200)
        self.apns.wait_requests(10, DEADLINE, match=lambda r: r["status"] == 200)
        self.fcm.wait_requests(10, DEADLINE, match=lambda r: r["status"] == 200)
        self.settle()
        self.assertEqual(len(self.apns.distinct_jwts()), 1)
        self.assertEqual(len(self.oauth.issued), 1)
        self.assertEqual(self.metric("push_apns_tokens_minted_total"), minted + 1,
                         "one provider token for the app")

    def test_pushes_pending_at_a_kill_9_are_delivered_once_after_the_restart(self):
        self.apns.hold(self.voip)
        alice = self.connect("alice")
        self.call(alice)
        self.apns.wait_requests(1, DEADLINE, match=lambda r: r["token"] == self.voip)
        # The FCM message was answered and its entry left the outbox before the kill: only
        # the held VoIP push is pending. (An entry whose answer arrived but whose removal
        # a kill -9 beat is sent again after the restart: delivery is at least once.)
        wait_until(lambda: self.fcm_to(self.android) and
                   self.metric("push_outbox_pending") == 1, DEADLINE,
                   "the FCM message delivered and only the held push pending")
        self.restart_server(hard=True)
        self.apns.release()
        self.apns.wait_requests(1, DEADLINE, match=lambda r: r["token"] == self.voip
                                and r["status"] == 200)
        self.settle()
        self.assertEqual(len(self.apns_to(self.voip)), 1)
        self.assertEqual(len(self.fcm_to(self.android)), 1)

    def test_webhooks_arrive_signed_and_are_retried_after_a_failure(self):
        self.sink.script([(500,)])
        alice, bob = self.connect("alice"), self.connect("bob", token=self.bob_token)
        sid = self.call(alice)["sessionId"]
        bob.next_event("call.incoming")
        self.assertStatus(self.req("POST", self.p(f"/calls/{sid}/accept"),
                                   token=bob.token), 200)
        self.assertStatus(self.req("POST", self.p(f"/calls/{sid}/end"), token=bob.token), 200)
        wait_until(lambda: len([r for r in self.sink.requests if r["status"] == 200]) >= 3,
                   DEADLINE, "three webhooks delivered")
        self.settle()
        ok = [r for r in self.sink.requests if r["status"] == 200]
        self.sink.verify(self.secret, ok)
        by_type = {r["body"]["type"]: r["body"] for r in ok}
        self.assertEqual(sorted(by_type), ["call.accepted", "call.ended", "call.initiated"])
        ended = by_type["call.ended"]["data"]["call"]
        self.assertEqual((ended["status"], ended["sessionId"]), ("ended", sid))
        failed = [r for r in self.sink.requests if r["status"] == 500]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["body"]["id"], by_type["call.initiated"]["id"],
                         "the retry is the same event")
        self.assertGreaterEqual(self.metric("push_retried_total", '{service="webhook"}'), 1)
