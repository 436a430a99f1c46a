"""The realtime WebSocket: authentication, events and their seq across devices and
restarts, resume, protocol errors and their close codes, revocation, rate limiting."""

import json
import os
import socket
import time
import unittest

import websocket

from harness import wait_until
from wsclient import CallTestCase, Client, WsError


class ReadyAndEventsTest(CallTestCase):
    def setUp(self):
        super().setUp()
        self.users("alice", "bob")

    def test_ready_tells_the_user_the_latest_seq_and_the_device(self):
        tok = self.token("bob")
        b1 = self.connect("bob", token=tok)
        r = b1.ready
        self.assertEqual(r["type"], "ready")
        self.assertEqual(r["user"]["uid"], "bob")
        self.assertEqual(r["user"]["name"], "Bob")
        self.assertIn("avatar", r["user"])
        self.assertIs(r["resumed"], False)
        self.assertIsInstance(r["seq"], int)
        self.assertGreaterEqual(r["seq"], 0)
        # The same token is the same device; another token another device.
        self.assertEqual(self.connect("bob", token=tok).device, b1.device)
        self.assertNotEqual(self.connect("bob").device, b1.device)
        self.assertNotEqual(self.connect("alice").device, b1.device)
        # After an event the next ready reports its seq.
        a = self.rest_device("alice")
        sid = self.initiate("rest", a, "bob")["sessionId"]
        ev = self.event(b1, "call.incoming", sid)
        self.assertEqual(ev["seq"], r["seq"] + 1)
        self.assertEqual(set(ev) >= {"type", "seq", "name", "call"}, True, ev)
        self.assertEqual(self.connect("bob").ready["seq"], ev["seq"])

    def test_every_device_gets_every_event_and_seq_grows_by_one_per_user(self):
        a1 = self.connect("alice")
        b1 = self.connect("bob", name="bob1")
        b2 = self.connect("bob", name="bob2")
        b3 = self.connect("bob", name="bob3")
        bobs = [b1, b2, b3]
        self.assertEqual(len({b.ready["seq"] for b in bobs}), 1)
        # Events caused from REST and from each device.
        s1 = self.initiate("rest", a1, "bob")["sessionId"]
        self.assertOk(self.act("ws", b2, "call.reject", s1))
        s2 = self.initiate("ws", a1, "bob")["sessionId"]
        self.assertOk(self.act("ws", b3, "call.accept", s2))
        self.assertOk(self.act("rest", b1, "call.end", s2))
        want = [("call.incoming", s1), ("call.rejected_elsewhere", s1),
                ("call.incoming", s2), ("call.accepted_elsewhere", s2), ("call.ended", s2)]
        for b in bobs:
            got = [b.next_event(timeout=5) for _ in want]
            self.assertEqual([(e["name"], e["call"]["sessionId"]) for e in got], want,
                             b.name)
        self.quiet(*bobs)
        for b in bobs:
            self.assertSeqsConsecutive(b)
        self.assertEqual([e["seq"] for e in b1.events], [e["seq"] for e in b3.events])
        # alice's seq is hers: rejected, accepted, ended.
        got = [a1.next_event(timeout=5)["name"] for _ in range(3)]
        self.assertEqual(got, ["call.rejected", "call.accepted", "call.ended"])
        self.assertSeqsConsecutive(a1)

    def test_resume_replays_exactly_the_missed_events_in_order_then_live_ones(self):
        a = self.rest_device("alice")
        b1 = self.connect("bob", name="bob1")
        b2 = self.connect("bob", name="bob2")
        s1 = self.initiate("rest", a, "bob")["sessionId"]
        self.assertOk(self.act("rest", a, "call.cancel", s1))
        self.event(b1, "call.incoming", s1)
        self.event(b1, "call.cancelled", s1)
        processed = b1.last_seq
        b1.close()
        # While bob1 is away.
        s2 = self.initiate("rest", a, "bob")["sessionId"]
        self.assertOk(self.act("ws", b2, "call.accept", s2))
        self.assertOk(self.act("rest", a, "call.end", s2))
        missed = [self.event(b2, n, s2) for n in ("call.incoming", "call.accepted_elsewhere",
                                                   "call.ended")]
        self.assertEqual([e["seq"] for e in missed],
                         [processed + 1, processed + 2, processed + 3])

        back = self.connect("bob", token=b1.token, resume_from=processed, name="bob1-back")
        self.assertIs(back.ready["resumed"], True, back.ready)
        self.assertEqual(back.ready["seq"], processed + 3)
        self.assertEqual(back.messages[0]["type"], "ready", "replay must follow ready")
        replayed = [back.next_event(timeout=5) for _ in missed]
        self.assertEqual([(e["seq"], e["name"], e["call"]["sessionId"]) for e in replayed],
                         [(e["seq"], e["name"], e["call"]["sessionId"]) for e in missed])
        for got, want in zip(replayed, missed):
            self.assertEqual(got["call"]["status"], want["call"]["status"])
            self.assertEqual(got.get("device"), want.get("device"))
        back.expect_no_event(0.5)
        # Live again.
        s3 = self.initiate("rest", a, "bob")["sessionId"]
        ev = self.event(back, "call.incoming", s3)
        self.assertEqual(ev["seq"], processed + 4)
        back.expect_no_event(0.3)
        self.assertOk(self.act("rest", a, "call.cancel", s3))

    def test_resume_edges_ahead_of_the_log_current_zero_and_null(self):
        a = self.rest_device("alice")
        b1 = self.connect("bob")
        base = b1.ready["seq"]
        s1 = self.initiate("rest", a, "bob")["sessionId"]
        self.assertOk(self.act("rest", a, "call.cancel", s1))
        self.event(b1, "call.incoming", s1)
        self.event(b1, "call.cancelled", s1)
        latest = b1.last_seq
        self.assertEqual(latest, base + 2)

        ahead = self.connect("bob", token=b1.token, resume_from=latest + 100)
        self.assertIs(ahead.ready["resumed"], False, ahead.ready)
        self.assertEqual(ahead.ready["seq"], latest)
        current = self.connect("bob", token=b1.token, resume_from=latest)
        self.assertIs(current.ready["resumed"], True, current.ready)
        fresh = self.connect("bob", token=b1.token, resume_from=None)
        self.assertIs(fresh.ready["resumed"], False, fresh.ready)
        one_back = self.connect("bob", token=b1.token, resume_from=latest - 1)
        self.assertIs(one_back.ready["resumed"], True, one_back.ready)
        ev = one_back.next_event(timeout=5)
        self.assertEqual((ev["seq"], ev["name"]), (latest, "call.cancelled"))
        self.quiet(ahead, current, fresh, one_back, within=0.5)
        # Every one of them gets the next live event, with the next seq.
        s2 = self.initiate("rest", a, "bob")["sessionId"]
        for c in (ahead, current, fresh, one_back):
            self.assertEqual(self.event(c, "call.incoming", s2)["seq"], latest + 1)
        self.assertOk(self.act("rest", a, "call.cancel", s2))

    def test_resume_from_zero_replays_the_whole_log_of_a_new_user(self):
        self.users("carol")
        a = self.rest_device("alice")
        s1 = self.initiate("rest", a, "carol")["sessionId"]
        self.assertOk(self.act("rest", a, "call.cancel", s1))
        c = self.connect("carol", resume_from=0)
        self.assertIs(c.ready["resumed"], True, c.ready)
        top = c.ready["seq"]
        got = [c.next_event(timeout=5) for _ in range(2)]
        self.assertEqual([(e["seq"], e["name"]) for e in got],
                         [(top - 1, "call.incoming"), (top, "call.cancelled")])
        c.expect_no_event(0.3)


class ProtocolErrorsTest(CallTestCase):
    def setUp(self):
        super().setUp()
        self.users("alice", "bob")

    def raw(self, name="raw"):
        return self.pool.open(name=name)

    def authed(self, uid="alice"):
        return self.connect(uid)

    def test_a_request_before_auth_closes_4002(self):
        c = self.raw()
        c.send_request("call.active", {})
        self.assertEqual(c.wait_closed(5), 4002)
        self.assertFalse([m for m in c.messages if isinstance(m, dict)
                          and m.get("type") == "response"], c.messages)

    def test_a_bad_token_closes_4001(self):
        other = self.create_app("other")
        self.create_user(other, "alice")
        other_tok = self.mint_token(other, "alice")
        logged_out = self.token("alice")
        self.assertEqual(self.req("POST", self.p("/logout"), token=logged_out)[0], 204)
        cases = {
            "unknown token": (self.a, "at_thisisnotatoken"),
            "token of another app": (self.a, other_tok),
            "logged-out token": (self.a, logged_out),
            "REST key": (self.a, self.key),
            "appId of another app": (other["appId"], self.token("alice")),
        }
        for what, (app_id, tok) in cases.items():
            with self.subTest(what):
                c = self.raw(what)
                c.send_json({"type": "auth", "appId": app_id, "token": tok, "resumeFrom": None})
                self.assertEqual(c.wait_closed(5), 4001)
                self.assertFalse([m for m in c.messages if isinstance(m, dict)
                                  and m.get("type") == "ready"], c.messages)

    def test_an_expired_token_closes_4001(self):
        tok = self.mint_token(self.app, "alice", ttl=1)
        wait_until(lambda: self.req("GET", self.p("/me"), token=tok)[0] == 401, 5,
                   "the 1-second token to expire")
        c = self.raw()
        c.send_json({"type": "auth", "appId": self.a, "token": tok, "resumeFrom": None})
        self.assertEqual(c.wait_closed(5), 4001)

    def test_no_auth_within_5_seconds_closes_4002(self):
        start = time.monotonic()
        c = self.raw()
        code = c.wait_closed(9)
        waited = time.monotonic() - start
        self.assertGreaterEqual(waited, 4.0)
        self.assertLess(waited, 8.0)
        self.assertEqual(code, 4002)

    def test_malformed_messages_close_4002(self):
        before_auth = {
            "not JSON": "hello",
            "JSON array": "[1,2]",
            "JSON string": '"auth"',
            "no type": json.dumps({"appId": self.a, "token": "x"}),
            "unknown type": json.dumps({"type": "hello"}),
        }
        after_auth = {
            "not JSON": "{not json",
            "JSON array": '[{"type":"request"}]',
            "no type": json.dumps({"id": "1", "method": "call.active", "params": {}}),
            "request without id": json.dumps({"type": "request", "method": "call.active",
                                               "params": {}}),
            "request without method": json.dumps({"type": "request", "id": "1",
                                                   "params": {}}),
        }
        for what, text in before_auth.items():
            with self.subTest(before_auth=what):
                c = self.raw(what)
                c.send_text(text)
                self.assertEqual(c.wait_closed(5), 4002)
        for what, text in after_auth.items():
            with self.subTest(after_auth=what):
                c = self.authed()
                c.send_text(text)
                self.assertEqual(c.wait_closed(5), 4002)
        self.assertStillServing()

    def test_a_message_over_64_kib_closes_1009_and_one_under_it_is_served(self):
        c = self.authed()
        # Just under the limit: an ordinary request with padding it ignores.
        pad = "x" * (65536 - 200)
        msg = json.dumps({"type": "request", "id": "big", "method": "call.active",
                          "params": {"pad": pad}})
        self.assertLessEqual(len(msg), 65536)
        c.send_text(msg)
        resp = c.response("big", timeout=5)
        self.assertEqual(resp.get("result"), {"call": None}, resp)
        over = json.dumps({"type": "request", "id": "huge", "method": "call.active",
                           "params": {"pad": "x" * 70000}})
        c.send_text(over)
        self.assertEqual(c.wait_closed(5), 1009)
        # Before auth as well.
        r = self.raw()
        r.send_text("x" * 70000)
        self.assertEqual(r.wait_closed(5), 1009)
        self.assertStillServing()

    def test_revoking_a_users_tokens_closes_their_live_connections_4001(self):
        b1 = self.connect("bob", name="bob1")
        b2 = self.connect("bob", name="bob2")
        a1 = self.connect("alice")
        st, _, data = self.req("DELETE", self.p("/users/bob/auth_tokens"), token=self.key)
        self.assertEqual(st, 200, data)
        self.assertGreaterEqual(data["revoked"], 2)
        codes = [b1.wait_closed(5), b2.wait_closed(5)]
        # Other users are not touched.
        self.assertEqual(a1.result("call.active", {}), {"call": None})
        self.assertFalse(a1.closed)
        # The revoked token cannot come back.
        c = self.raw()
        c.send_json({"type": "auth", "appId": self.a, "token": b1.token, "resumeFrom": None})
        self.assertEqual(c.wait_closed(5), 4001)
        # A new token works.
        self.connect("bob")
        self.assertEqual(codes, [4001, 4001])

    def test_deleting_a_user_closes_their_connections_4001(self):
        b1 = self.connect("bob")
        a1 = self.connect("alice")
        self.assertEqual(self.req("DELETE", self.p("/users/bob"), token=self.key)[0], 204)
        code = b1.wait_closed(5)
        self.assertEqual(a1.result("call.active", {}), {"call": None})
        self.assertEqual(code, 4001)

    def test_a_flood_of_requests_is_rate_limited_and_the_server_keeps_serving(self):
        c = self.authed()
        ids = [f"flood{i}" for i in range(200)]
        for i in ids:
            c.send_request("call.active", {}, req_id=i)
        answers = {i: c.response(i, timeout=10) for i in ids}
        ok = [i for i, r in answers.items() if "result" in r]
        limited = [i for i, r in answers.items()
                   if r.get("error", {}).get("code") == "ERR_RATE_LIMITED"]
        other = [r for r in answers.values() if "result" not in r
                 and r.get("error", {}).get("code") != "ERR_RATE_LIMITED"]
        self.assertFalse(other, other[:3])
        self.assertGreaterEqual(len(ok), 50, "50 requests at once are allowed")
        self.assertGreater(len(limited), 0, "200 requests at once must hit the limit")
        for i in limited[:3]:
            self.assertTrue(answers[i]["error"].get("message"), answers[i])
        # No second response to any request.
        time.sleep(0.2)
        extra = [m for m in c.messages if isinstance(m, dict) and m.get("type") == "response"]
        self.assertEqual(len(extra), 200)
        self.assertStillServing()
        self.assertFalse(c.closed, (c.close_code, c.close_reason))
        # Once the burst is over the connection is served again.
        deadline = time.monotonic() + 5
        while True:
            r = c.request("call.active", {})
            if "result" in r:
                break
            self.assertEqual(r["error"]["code"], "ERR_RATE_LIMITED", r)
            self.assertLess(time.monotonic(), deadline, "still rate limited after 5 s")
            time.sleep(0.1)
        # Other connections were never limited by this one.
        self.assertEqual(self.connect("bob").result("call.active", {}), {"call": None})


class SeqAcrossRestartTest(CallTestCase):
    """seq keeps growing by one per user across a restart of the server."""

    def test_seq_and_resume_survive_a_restart(self):
        self.users("alice", "bob")
        a = self.rest_device("alice")
        b1 = self.connect("bob", name="bob1")
        b2 = self.connect("bob", name="bob2")
        s1 = self.initiate("rest", a, "bob")["sessionId"]
        self.assertOk(self.act("rest", a, "call.cancel", s1))
        for b in (b1, b2):
            self.event(b, "call.incoming", s1)
            self.event(b, "call.cancelled", s1)
        last = b1.last_seq
        self.restart_server()
        for b in (b1, b2):
            b.wait_closed(5)

        again = self.connect("bob", token=b1.token, resume_from=last - 2, name="bob1-again")
        self.assertIs(again.ready["resumed"], True, again.ready)
        self.assertEqual(again.ready["seq"], last)
        got = [again.next_event(timeout=5) for _ in range(2)]
        self.assertEqual([(e["seq"], e["name"]) for e in got],
                         [(last - 1, "call.incoming"), (last, "call.cancelled")])
        other = self.connect("bob", token=b2.token, resume_from=last, name="bob2-again")
        self.assertIs(other.ready["resumed"], True, other.ready)
        s2 = self.initiate("rest", a, "bob")["sessionId"]
        for b in (again, other):
            self.assertEqual(self.event(b, "call.incoming", s2)["seq"], last + 1)
        self.assertOk(self.act("ws", other, "call.reject", s2))
        for b in (again, other):
            self.assertEqual(self.event(b, "call.rejected_elsewhere", s2)["seq"], last + 2)
        self.quiet(again, other)


if __name__ == "__main__":
    unittest.main()


class SlowConsumerTest(CallTestCase):
    """A client that stops reading cannot make the server hold its messages without bound:
    past the send-queue cap the connection is closed, and the server carries on."""

    def setUp(self):
        super().setUp()
        self.users("alice", "bob")

    def rss_kb(self):
        with open(f"/proc/{self.server.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def open_connections(self):
        # The metrics request itself is one of the open connections.
        st, _, text = self.req("GET", "/metrics")
        self.assertEqual(st, 200)
        for line in text.splitlines():
            if line.startswith("callwire_http_open_connections "):
                return int(float(line.split()[1])) - 1
        self.fail("no callwire_http_open_connections in /metrics")

    def test_a_client_that_does_not_read_is_closed_and_its_queue_released(self):
        # 100 calls with 4 KiB of metadata each: one calls.list answer is about 450 KB.
        bob = self.rest_device("bob")
        meta = {"note": "x" * 4000}
        for _ in range(100):
            sid = self.initiate("rest", bob, "alice", metadata=meta)["sessionId"]
            self.assertOk(self.act("rest", bob, "call.cancel", sid))
        rss_before = self.rss_kb()
        before = self.open_connections()
        url = f"ws://127.0.0.1:{self.server.port}/v1/ws"
        # A tiny receive window, and then the client never reads.
        ws = websocket.create_connection(url, subprotocols=["callwire.v1"], timeout=10,
                                         sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        ws.send(json.dumps({"type": "auth", "appId": self.app["appId"],
                            "token": self.token("alice"), "resumeFrom": None}))
        # Paced, so that the kernel's socket buffers fill first and the server's own
        # queue grows behind them (all at once, the cap would trip before anything reached
        # the socket). 45 stays under the burst of 50, so every request is answered.
        for i in range(45):
            ws.send(json.dumps({"type": "request", "id": i, "method": "calls.list",
                                "params": {"limit": 100}}))
            time.sleep(0.05)
        # 45 answers are about 20 MB: far past the kernel's buffers and the 1 MiB queue.
        wait_until(lambda: "event=ws.slow" in self.server.log(), timeout=20,
                   what="the server to notice the client is not reading")
        # The queue was dropped: the server did not keep those 20 MB. (Not measurable
        # under AddressSanitizer, whose quarantine holds freed memory on purpose.)
        if "ASAN_OPTIONS" not in os.environ:
            self.assertLess(self.rss_kb() - rss_before, 16 * 1024)
        # And the connection is gone, although the client has still read nothing.
        wait_until(lambda: self.open_connections() <= before, timeout=8,
                   what="the server to drop the connection of the client that does not read")
        # The client, reading now, finds the connection closed after what got through.
        ws.settimeout(10)
        closed = False
        try:
            while True:
                op, _ = ws.recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    closed = True
                    break
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            closed = True
        self.assertTrue(closed)
        self.assertStillServing()
        # A new connection of the same user resumes normally.
        c = self.connect("alice")
        self.assertEqual(c.result("call.active", {}), {"call": None})
