"""Durability: calls and their events survive a graceful restart (SIGTERM) and a crash
(SIGKILL) of the server; rings go on, or end unanswered, by their deadline."""

import threading
import unittest

from wsclient import CallTestCase, now_ms


class DurabilityTest(CallTestCase):
    def test_a_ring_survives_a_graceful_restart_and_ends_unanswered_at_its_deadline(self):
        self.users("alice", "bob")
        a1 = self.connect("alice")
        b1 = self.connect("bob")
        call = self.initiate("ws", a1, "bob", timeout=8)
        sid = call["sessionId"]
        deadline = call["initiatedAt"] + 8000
        self.event(b1, "call.incoming", sid)
        a_seq, b_seq = a1.last_seq, b1.last_seq

        self.restart_server()
        for c in (a1, b1):
            c.wait_closed(5)
        self.assertLess(now_ms(), deadline - 1500, "the restart took too long for this test")
        self.assertCall(self.get_call(sid), sid, "initiated",
                        {"alice": "ongoing", "bob": "ringing"})
        a2 = self.connect("alice", token=a1.token, resume_from=a_seq)
        b2 = self.connect("bob", token=b1.token, resume_from=b_seq)
        for c in (a2, b2):
            self.assertIs(c.ready["resumed"], True, c.ready)
        # Still ringing: bob may still answer, but nobody does.
        self.quiet(a2, b2, within=0.3)
        wait = (deadline - now_ms()) / 1000 + 5
        for c, seq in ((a2, a_seq), (b2, b_seq)):
            ev = self.event(c, "call.unanswered", sid, "unanswered", timeout=wait)
            self.assertEqual(ev["seq"], seq + 1)
            self.assertGreaterEqual(ev["call"]["endedAt"], deadline - 50,
                                    "ended before its ring deadline")
            self.assertLess(ev["call"]["endedAt"], deadline + 3000, "ended late")
        self.assertCall(self.get_call(sid), sid, "unanswered",
                        {"alice": "left", "bob": "unanswered"})

    def test_a_ring_whose_deadline_passes_while_the_server_is_down_is_unanswered_after_start(
            self):
        self.users("alice", "bob")
        a1 = self.connect("alice")
        b1 = self.connect("bob")
        call = self.initiate("rest", a1, "bob", timeout=5)
        sid = call["sessionId"]
        deadline = call["initiatedAt"] + 5000
        self.event(b1, "call.incoming", sid)
        a_seq, b_seq = a1.last_seq, b1.last_seq

        self.restart_server(hard=True, down_until=deadline + 500)
        # At once after the start, not one ring timeout later.
        final = self.get_call(sid)
        self.assertCall(final, sid, "unanswered", {"alice": "left", "bob": "unanswered"})
        self.assertGreaterEqual(final["endedAt"], deadline - 50)
        for uid, tok, seq in (("alice", a1.token, a_seq), ("bob", b1.token, b_seq)):
            c = self.connect(uid, token=tok, resume_from=seq)
            self.assertIs(c.ready["resumed"], True, c.ready)
            ev = self.event(c, "call.unanswered", sid, "unanswered")
            self.assertEqual(ev["seq"], seq + 1)
            c.expect_no_event(0.3)
        # Both are free to call again.
        again = self.initiate("rest", a1, "bob")
        self.assertEqual(again["status"], "initiated")

    def test_every_acknowledged_call_survives_a_kill_9(self):
        callers = [f"c{i}" for i in range(20)]
        self.users("target", *callers)
        tokens = {u: self.token(u) for u in callers}
        target = self.connect("target")
        base = target.ready["seq"]
        results = {}
        barrier = threading.Barrier(len(callers))

        def call(uid):
            barrier.wait(5)
            results[uid] = self.do("rest", tokens[uid], "call.initiate",
                                   {"receiver": "target", "receiverType": "user",
                                    "type": "audio"})

        threads = [threading.Thread(target=call, args=(u,)) for u in callers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        sids = {u: self.assertOk(results[u], 201)["sessionId"] for u in callers}
        # Five of them are cancelled, concurrently too; each 200 is a promise as well.
        cancelled = callers[:5]
        outs = {}

        def cancel(uid):
            outs[uid] = self.do("rest", tokens[uid], "call.cancel", {"sessionId": sids[uid]})

        threads = [threading.Thread(target=cancel, args=(u,)) for u in cancelled]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        for u in cancelled:
            self.assertEqual(self.assertOk(outs[u])["status"], "cancelled")

        self.restart_server(hard=True)
        for u in callers:
            want = "cancelled" if u in cancelled else "initiated"
            self.assertCall(self.get_call(sids[u]), sids[u], want)
        listed = {c["sessionId"] for c in self.list_all(self.p("/calls"), self.key)}
        self.assertEqual(listed, set(sids.values()))
        # The events that went out were stored too: the target's log replays all of them.
        back = self.connect("target", token=target.token, resume_from=base)
        self.assertIs(back.ready["resumed"], True, back.ready)
        self.assertEqual(back.ready["seq"], base + 25)
        got = [back.next_event(timeout=5) for _ in range(25)]
        self.assertEqual([e["seq"] for e in got], list(range(base + 1, base + 26)))
        names = [e["name"] for e in got]
        self.assertEqual(names.count("call.incoming"), 20)
        self.assertEqual(names.count("call.cancelled"), 5)
        self.assertEqual({e["call"]["sessionId"] for e in got if e["name"] == "call.incoming"},
                         set(sids.values()))
        back.expect_no_event(0.3)


if __name__ == "__main__":
    unittest.main()
