"""Calls: every status path of a 1:1 call over REST and over WebSocket requests, the
events each device gets, retries and refused transitions, who may act, the accept race
between devices, autoBusy, group calls and the reconnect grace.

Each test runs in a fresh app; the WebSocket clients are real connections."""

import threading
import time
import unittest

from wsclient import VIAS, CallTestCase, now_ms


class OneToOneTest(CallTestCase):
    """A 1:1 call through each of its paths, once over REST and once over WS requests."""

    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol")

    def devices(self):
        """alice with one device, bob with two; all connected."""
        return self.connect("alice"), self.connect("bob", name="bob1"), \
            self.connect("bob", name="bob2")

    def test_initiate_rings_every_callee_device_and_returns_the_call(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                before = now_ms()
                call = self.initiate(via, a1, "bob", type_="video", metadata={"topic": "x"})
                after = now_ms()
                sid = call["sessionId"]
                self.assertCall(call, status="initiated",
                                states={"alice": "ongoing", "bob": "ringing"})
                self.assertEqual(call["category"], "call")
                self.assertEqual(call["type"], "video")
                self.assertEqual(call["receiverType"], "user")
                self.assertEqual(call["initiator"], {"uid": "alice", "name": "Alice"})
                self.assertEqual(call["receiver"], {"uid": "bob", "name": "Bob"})
                self.assertEqual(call["metadata"], {"topic": "x"})
                self.assertTrue(before - 1000 <= call["initiatedAt"] <= after + 1000, call)
                self.assertIsNone(call["joinedAt"])
                self.assertIsNone(call["endedAt"])
                self.assertEqual(call["duration"], 0)
                self.assertEqual([p["uid"] for p in call["participants"]], ["alice", "bob"])
                bob = self.part(call, "bob")
                self.assertIsNone(bob["joinedAt"])
                self.assertIsNone(bob["leftAt"])
                self.assertEqual(bob["duration"], 0)
                for dev in (b1, b2):
                    ev = self.event(dev, "call.incoming", sid, "initiated")
                    self.assertEqual(ev["call"]["initiator"]["uid"], "alice")
                    self.assertEqual(ev["call"]["metadata"], {"topic": "x"})
                self.quiet(a1, b1, b2)
                self.assertEqual([e["seq"] for e in b1.events], [e["seq"] for e in b2.events])
                # Leave the users free for the next subtest.
                self.assertOk(self.act(via, a1, "call.cancel", sid))

    def test_accept_then_end_reaches_both_sides_and_every_device(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.events([b1, b2], "call.incoming", sid)
                call = self.assertOk(self.act(via, b2, "call.accept", sid))
                self.assertCall(call, sid, "ongoing", {"alice": "ongoing", "bob": "ongoing"})
                self.assertIsInstance(call["joinedAt"], int)
                self.assertIsInstance(self.part(call, "bob")["joinedAt"], int)
                self.event(a1, "call.accepted", sid, "ongoing")
                for dev in (b1, b2):
                    ev = self.event(dev, "call.accepted_elsewhere", sid, "ongoing")
                    self.assertEqual(ev.get("device"), b2.device, ev)
                self.quiet(a1, b1, b2)

                call = self.assertOk(self.act(via, a1, "call.end", sid))
                self.assertCall(call, sid, "ended", {"alice": "left", "bob": "left"})
                self.assertGreaterEqual(call["endedAt"], call["joinedAt"])
                self.assertGreaterEqual(call["duration"], 0)
                for dev in (a1, b1, b2):
                    self.event(dev, "call.ended", sid, "ended")
                self.quiet(a1, b1, b2)
                for dev in (a1, b1, b2):
                    self.assertSeqsConsecutive(dev)
                self.assertEqual(self.get_call(sid)["status"], "ended")

    def test_callee_can_end_the_call_too(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.assertOk(self.act(via, b1, "call.accept", sid))
                call = self.assertOk(self.act(via, b1, "call.end", sid))
                self.assertCall(call, sid, "ended", {"alice": "left", "bob": "left"})
                for dev in (a1, b1, b2):
                    self.event(dev, "call.ended", sid, "ended")

    def test_repeats_are_safe_and_other_actions_on_a_final_call_are_409(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                # End is not possible while the call rings.
                err = self.assertFails(self.act(via, a1, "call.end", sid), 409,
                                       "ERR_INVALID_STATE")
                self.assertEqual(err["call"]["status"], "initiated", err)
                self.assertOk(self.act(via, b1, "call.accept", sid))
                # Accept again from the same device: 200 and the same call.
                again = self.assertOk(self.act(via, b1, "call.accept", sid))
                self.assertCall(again, sid, "ongoing")
                # From another device of the callee: 409 with the call.
                err = self.assertFails(self.act(via, b2, "call.accept", sid), 409,
                                       "ERR_INVALID_STATE")
                self.assertCall(err["call"], sid, "ongoing")
                # Cancelling or rejecting an ongoing call is a wrong transition.
                err = self.assertFails(self.act(via, a1, "call.cancel", sid), 409,
                                       "ERR_INVALID_STATE")
                self.assertEqual(err["call"]["status"], "ongoing")
                err = self.assertFails(self.act(via, b1, "call.reject", sid), 409,
                                       "ERR_INVALID_STATE")
                self.assertEqual(err["call"]["status"], "ongoing")
                ended = self.assertOk(self.act(via, a1, "call.end", sid))
                self.assertEqual(ended["status"], "ended")
                self.events([a1, b1, b2], "call.ended", sid, "ended")
                for dev in (a1, b1, b2):
                    dev.drain_events()
                # Both hang up at once: end by either participant is 200.
                for who in (a1, b1, b2):
                    again = self.assertOk(self.act(via, who, "call.end", sid))
                    self.assertEqual(again, ended, "a repeat returns the same call")
                for who, method in ((b1, "call.accept"), (b2, "call.accept"),
                                    (b1, "call.reject"), (a1, "call.cancel")):
                    err = self.assertFails(self.act(via, who, method, sid), 409,
                                           "ERR_INVALID_STATE")
                    self.assertCall(err["call"], sid, "ended")
                # The repeats and refusals sent no events.
                self.quiet(a1, b1, b2, within=0.3)

    def test_reject_ends_the_call_as_rejected(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.events([b1, b2], "call.incoming", sid)
                call = self.assertOk(self.act(via, b1, "call.reject", sid))
                self.assertCall(call, sid, "rejected", {"alice": "left", "bob": "rejected"})
                self.assertIsNone(call["joinedAt"])
                self.assertEqual(call["duration"], 0)
                self.event(a1, "call.rejected", sid, "rejected")
                for dev in (b1, b2):
                    ev = self.event(dev, "call.rejected_elsewhere", sid, "rejected")
                    self.assertEqual(ev.get("device"), b1.device, ev)
                self.quiet(a1, b1, b2)
                # Explicit status "rejected" and another device of bob: still a repeat.
                again = self.assertOk(self.act(via, b2, "call.reject", sid, status="rejected"))
                self.assertEqual(again, call, "a repeat returns the same call")
                for who, method, extra in ((b1, "call.reject", {"status": "busy"}),
                                           (b1, "call.accept", {}),
                                           (a1, "call.cancel", {}),
                                           (a1, "call.end", {}),
                                           (b1, "call.end", {})):
                    err = self.assertFails(self.act(via, who, method, sid, **extra), 409,
                                           "ERR_INVALID_STATE")
                    self.assertCall(err["call"], sid, "rejected")
                self.quiet(a1, b1, b2, within=0.2)

    def test_reject_as_busy_ends_the_call_as_busy(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.events([b1, b2], "call.incoming", sid)
                call = self.assertOk(self.act(via, b2, "call.reject", sid, status="busy"))
                self.assertCall(call, sid, "busy", {"alice": "left", "bob": "busy"})
                self.event(a1, "call.rejected", sid, "busy")
                for dev in (b1, b2):
                    ev = self.event(dev, "call.rejected_elsewhere", sid, "busy")
                    self.assertEqual(ev.get("device"), b2.device, ev)
                again = self.assertOk(self.act(via, b2, "call.reject", sid, status="busy"))
                self.assertEqual(again, call, "a repeat returns the same call")
                err = self.assertFails(self.act(via, b2, "call.reject", sid), 409,
                                       "ERR_INVALID_STATE")
                self.assertCall(err["call"], sid, "busy")
                self.assertEqual(self.get_call(sid)["status"], "busy")
                self.quiet(a1, b1, b2, within=0.2)

    def test_reject_with_a_status_that_is_not_rejected_or_busy_is_400(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, _ = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                for status in ("maybe", "cancelled", "ended", "REJECTED", "", 1, True, [], {}):
                    with self.subTest(status=status):
                        self.assertFails(self.act(via, b1, "call.reject", sid, status=status),
                                         400, "ERR_BAD_REQUEST", field="status")
                self.assertEqual(self.get_call(sid)["status"], "initiated")
                self.assertOk(self.act(via, a1, "call.cancel", sid))

    def test_cancel_stops_the_ring_on_every_callee_device(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.events([b1, b2], "call.incoming", sid)
                call = self.assertOk(self.act(via, a1, "call.cancel", sid))
                self.assertCall(call, sid, "cancelled",
                                {"alice": "cancelled", "bob": "cancelled"})
                self.assertIsInstance(call["endedAt"], int)
                for dev in (b1, b2):
                    self.event(dev, "call.cancelled", sid, "cancelled")
                # The caller's own devices learn it too (the WebSocket example in
                # docs/protocol.md: the acting user gets the event of their action).
                self.event(a1, "call.cancelled", sid, "cancelled")
                self.quiet(a1, b1, b2)
                again = self.assertOk(self.act(via, a1, "call.cancel", sid))
                self.assertEqual(again, call, "a repeat returns the same call")
                for who, method in ((b1, "call.accept"), (b1, "call.reject"),
                                    (a1, "call.end")):
                    err = self.assertFails(self.act(via, who, method, sid), 409,
                                           "ERR_INVALID_STATE")
                    self.assertCall(err["call"], sid, "cancelled")
                self.quiet(a1, b1, b2, within=0.2)

    def test_a_ring_nobody_answers_ends_unanswered_at_the_timeout(self):
        # Both ways at once, so that the suite waits for one ring timeout only.
        self.users("dave", "erin")
        calls = []
        for via, caller, callee in (("rest", "alice", "bob"), ("ws", "dave", "erin")):
            c = self.connect(caller)
            d = self.connect(callee)
            call = self.initiate(via, c, callee, timeout=5)
            self.event(d, "call.incoming", call["sessionId"])
            calls.append((via, c, d, call))
        for via, c, d, call in calls:
            with self.subTest(via=via):
                sid = call["sessionId"]
                ev_c = self.event(c, "call.unanswered", sid, "unanswered", timeout=10)
                ev_d = self.event(d, "call.unanswered", sid, "unanswered", timeout=5)
                final = self.assertCall(ev_c["call"], sid, "unanswered",
                                        {c.uid: "left", d.uid: "unanswered"})
                waited = final["endedAt"] - final["initiatedAt"]
                self.assertGreaterEqual(waited, 5000 - 50, final)
                self.assertLess(waited, 8000, final)
                self.assertEqual(ev_d["call"]["endedAt"], final["endedAt"])
                self.assertEqual(self.get_call(sid)["status"], "unanswered")
                for who, method in ((d, "call.accept"), (d, "call.reject"),
                                    (c, "call.cancel"), (c, "call.end")):
                    err = self.assertFails(self.act(via, who, method, sid), 409,
                                           "ERR_INVALID_STATE")
                    self.assertCall(err["call"], sid, "unanswered")
                self.quiet(c, d, within=0.2)

    def test_a_timeout_outside_5_to_300_seconds_is_400(self):
        a1 = self.connect("alice")
        for via in VIAS:
            for timeout in (4, 0, -1, 301, 1e9, "10", True, [], {}):
                with self.subTest(via=via, timeout=timeout):
                    out = self.do(via, a1, "call.initiate", {"receiver": "bob",
                                                            "receiverType": "user",
                                                            "type": "audio",
                                                            "timeout": timeout})
                    self.assertFails(out, 400, "ERR_BAD_REQUEST", field="timeout")
        for timeout in (5, 300):
            with self.subTest(timeout=timeout):
                call = self.initiate("rest", a1, "bob", timeout=timeout)
                self.assertOk(self.act("rest", a1, "call.cancel", call["sessionId"]))

    def test_a_bad_initiate_body_is_400_naming_the_field(self):
        a1 = self.connect("alice")
        good = {"receiver": "bob", "receiverType": "user", "type": "audio"}
        cases = [
            ("receiver", {k: v for k, v in good.items() if k != "receiver"}),
            ("receiverType", {k: v for k, v in good.items() if k != "receiverType"}),
            ("type", {k: v for k, v in good.items() if k != "type"}),
            ("receiver", dict(good, receiver=5)),
            ("receiver", dict(good, receiver="")),
            ("receiver", dict(good, receiver="bad id!")),
            ("receiverType", dict(good, receiverType="robot")),
            ("type", dict(good, type="hologram")),
            ("metadata", dict(good, metadata=[1])),
            ("metadata", dict(good, metadata="x")),
            ("metadata", dict(good, metadata={"blob": "x" * 5000})),
        ]
        for via in VIAS:
            for field, body in cases:
                with self.subTest(via=via, field=field, body=str(body)[:80]):
                    self.assertFails(self.do(via, a1, "call.initiate", body), 400,
                                     "ERR_BAD_REQUEST", field=field)
        self.assertEqual(self.assertOk(self.do("rest", a1, "call.active"))["call"], None)

    def test_calling_oneself_is_400_and_an_unknown_receiver_404(self):
        a1 = self.connect("alice")
        self.create_group(self.app, "grest", ["alice", "bob"])
        for via in VIAS:
            with self.subTest(via=via):
                self.assertFails(self.do(via, a1, "call.initiate",
                                         {"receiver": "alice", "receiverType": "user",
                                          "type": "audio"}), 400, "ERR_BAD_REQUEST")
                self.assertFails(self.do(via, a1, "call.initiate",
                                         {"receiver": "nobody", "receiverType": "user",
                                          "type": "audio"}), 404, "ERR_NOT_FOUND")
                self.assertFails(self.do(via, a1, "call.initiate",
                                         {"receiver": "nogroup", "receiverType": "group",
                                          "type": "audio"}), 404, "ERR_NOT_FOUND")
                # A user id is not a group id, nor the other way round.
                self.assertFails(self.do(via, a1, "call.initiate",
                                         {"receiver": "bob", "receiverType": "group",
                                          "type": "audio"}), 404, "ERR_NOT_FOUND")
                self.assertFails(self.do(via, a1, "call.initiate",
                                         {"receiver": "grest", "receiverType": "user",
                                          "type": "audio"}), 404, "ERR_NOT_FOUND")
        self.assertIsNone(self.assertOk(self.do("rest", a1, "call.active"))["call"])
        self.quiet(a1, within=0.2)

    def test_only_an_auth_token_may_start_a_call(self):
        body = {"receiver": "bob", "receiverType": "user", "type": "audio"}
        self.assertError(self.req("POST", self.p("/calls"), body), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", self.p("/calls"), body, token="at_nonsense"), 401,
                         "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", self.p("/calls"), body, token=self.key), 403,
                         "ERR_FORBIDDEN")
        self.assertError(self.req("POST", self.p("/calls"), body, token=self.master), 403,
                         "ERR_FORBIDDEN")
        other = self.create_app("other")
        self.create_user(other, "alice")
        tok = self.mint_token(other, "alice")
        self.assertError(self.req("POST", self.p("/calls"), body, token=tok), 404,
                         "ERR_NOT_FOUND")

    def test_non_participants_and_unknown_sessions_are_404(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, _ = self.devices()
                c1 = self.connect("carol")
                sid = self.initiate(via, a1, "bob")["sessionId"]
                for method in ("call.get", "call.accept", "call.reject", "call.cancel",
                               "call.end"):
                    with self.subTest(method=method):
                        self.assertFails(self.act(via, c1, method, sid), 404, "ERR_NOT_FOUND")
                        self.assertFails(self.act(via, a1, method, "nosuchsession123"), 404,
                                         "ERR_NOT_FOUND")
                self.assertEqual(self.get_call(sid)["status"], "initiated")
                self.assertError(self.req("GET", self.p("/calls/nosuchsession123"),
                                          token=self.key), 404, "ERR_NOT_FOUND")
                self.quiet(c1, within=0.2)
                self.assertOk(self.act(via, a1, "call.cancel", sid))

    def test_who_may_act_receiver_cancel_and_initiator_answer_are_403(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, b2 = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.assertFails(self.act(via, b1, "call.cancel", sid), 403, "ERR_FORBIDDEN")
                self.assertFails(self.act(via, a1, "call.accept", sid), 403, "ERR_FORBIDDEN")
                self.assertFails(self.act(via, a1, "call.reject", sid), 403, "ERR_FORBIDDEN")
                self.assertFails(self.act(via, a1, "call.reject", sid, status="busy"), 403,
                                 "ERR_FORBIDDEN")
                call = self.get_call(sid)
                self.assertCall(call, sid, "initiated", {"alice": "ongoing", "bob": "ringing"})
                self.assertOk(self.act(via, a1, "call.cancel", sid))

    def test_a_caller_already_in_a_call_gets_409_call_in_progress_with_that_call(self):
        self.users("dave", "erin")
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, _ = self.devices()
                first = self.initiate(via, a1, "bob")
                out = self.do(via, a1, "call.initiate", {"receiver": "carol",
                                                        "receiverType": "user",
                                                        "type": "audio"})
                err = self.assertFails(out, 409, "ERR_CALL_IN_PROGRESS")
                self.assertCall(err["call"], first["sessionId"], "initiated")
                # A ringing callee is not in a call yet: bob may call someone else.
                other = self.initiate(via, b1, "carol")
                self.assertOk(self.act(via, b1, "call.cancel", other["sessionId"]))
                # Once bob has accepted, bob is in the call too.
                self.assertOk(self.act(via, b1, "call.accept", first["sessionId"]))
                err = self.assertFails(self.do(via, b1, "call.initiate",
                                               {"receiver": "carol", "receiverType": "user",
                                                "type": "audio"}),
                                       409, "ERR_CALL_IN_PROGRESS")
                self.assertCall(err["call"], first["sessionId"], "ongoing")
                self.assertOk(self.act(via, b1, "call.end", first["sessionId"]))
                # Free again.
                again = self.initiate(via, a1, "carol")
                self.assertOk(self.act(via, a1, "call.cancel", again["sessionId"]))

    def test_active_call_follows_the_call(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, _ = self.devices()
                c1 = self.connect("carol")
                self.assertEqual(self.assertOk(self.do(via, a1, "call.active")), {"call": None})
                call = self.initiate(via, a1, "bob")
                sid = call["sessionId"]
                active = self.assertOk(self.do(via, a1, "call.active"))
                self.assertCall(active["call"], sid, "initiated")
                self.assertEqual(self.assertOk(self.do(via, c1, "call.active")), {"call": None})
                self.assertOk(self.act(via, b1, "call.accept", sid))
                for who in (a1, b1):
                    active = self.assertOk(self.do(via, who, "call.active"))
                    self.assertCall(active["call"], sid, "ongoing")
                self.assertOk(self.act(via, b1, "call.end", sid))
                for who in (a1, b1, c1):
                    self.assertEqual(self.assertOk(self.do(via, who, "call.active")),
                                     {"call": None})

    def test_get_call_by_participants_and_by_the_rest_key(self):
        for via in VIAS:
            with self.subTest(via=via):
                a1, b1, _ = self.devices()
                sid = self.initiate(via, a1, "bob")["sessionId"]
                self.assertOk(self.act(via, b1, "call.accept", sid))
                by_alice = self.assertCall(self.assertOk(self.act(via, a1, "call.get", sid)),
                                           sid, "ongoing")
                by_bob = self.assertCall(self.assertOk(self.act(via, b1, "call.get", sid)),
                                         sid, "ongoing")
                by_key = self.assertCall(self.get_call(sid), sid, "ongoing")
                by_master = self.assertCall(self.get_call(sid, token=self.master), sid,
                                            "ongoing")
                for c in (by_bob, by_key, by_master):
                    self.assertEqual(c["participants"][0]["uid"], "alice")
                    self.assertEqual(c["joinedAt"], by_alice["joinedAt"])
                    self.assertEqual(c["initiatedAt"], by_alice["initiatedAt"])
                other = self.create_app("other")
                self.assertError(self.req("GET", self.p(f"/calls/{sid}"),
                                          token=other["restApiKey"]), 404, "ERR_NOT_FOUND")
                self.assertError(self.req("GET", f"/v1/apps/{other['appId']}/calls/{sid}",
                                          token=other["restApiKey"]), 404, "ERR_NOT_FOUND")
                self.assertOk(self.act(via, a1, "call.end", sid))


class AcceptRaceTest(CallTestCase):
    """The first accepting device wins; the others get 409 and accepted_elsewhere."""

    ROUNDS = 3

    def test_two_devices_accepting_at_once_exactly_one_wins(self):
        self.users("alice", "bob")
        a1 = self.connect("alice")
        bobs = [self.connect("bob", name=f"bob{i}") for i in (1, 2, 3)]
        for via in VIAS:
            for rnd in range(self.ROUNDS):
                with self.subTest(via=via, round=rnd):
                    sid = self.initiate(via, a1, "bob")["sessionId"]
                    self.events(bobs, "call.incoming", sid)
                    racers = bobs[:2]
                    barrier = threading.Barrier(len(racers))
                    outs = [None] * len(racers)

                    def accept(i):
                        barrier.wait(5)
                        outs[i] = self.act(via, racers[i], "call.accept", sid)

                    threads = [threading.Thread(target=accept, args=(i,))
                               for i in range(len(racers))]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join(10)
                    winners = [i for i, o in enumerate(outs) if o.error is None]
                    self.assertEqual(len(winners), 1, f"want exactly one 200: {outs!r}")
                    w = winners[0]
                    self.assertCall(self.assertOk(outs[w]), sid, "ongoing")
                    err = self.assertFails(outs[1 - w], 409, "ERR_INVALID_STATE")
                    self.assertCall(err["call"], sid, "ongoing")
                    winner = racers[w]
                    for dev in bobs:
                        ev = self.event(dev, "call.accepted_elsewhere", sid, "ongoing")
                        self.assertEqual(ev.get("device"), winner.device, ev)
                    self.event(a1, "call.accepted", sid, "ongoing")
                    self.quiet(a1, *bobs)
                    # The third device is too late; the winner may retry.
                    self.assertFails(self.act(via, bobs[2], "call.accept", sid), 409,
                                     "ERR_INVALID_STATE")
                    self.assertOk(self.act(via, winner, "call.accept", sid))
                    self.assertOk(self.act(via, a1, "call.end", sid))
                    self.events([a1] + bobs, "call.ended", sid, "ended")
        for dev in [a1] + bobs:
            self.assertSeqsConsecutive(dev)


class AutoBusyTest(CallTestCase):
    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol", "dave", "erin", "frank")

    def engaged_pair(self, caller, callee):
        """caller → callee, accepted; returns the session id."""
        c = self.rest_device(caller)
        d = self.rest_device(callee)
        sid = self.initiate("rest", c, callee)["sessionId"]
        self.assertOk(self.act("rest", d, "call.accept", sid))
        return sid

    def test_calling_a_user_in_an_ongoing_call_is_busy_at_once(self):
        self.engaged_pair("carol", "dave")
        a1 = self.connect("alice")
        d1 = self.connect("dave")
        for via in VIAS:
            with self.subTest(via=via):
                call = self.initiate(via, a1, "dave")
                sid = call["sessionId"]
                self.assertCall(call, sid, "busy", {"alice": "left", "dave": "busy"})
                self.assertIsInstance(call["endedAt"], int)
                self.event(a1, "call.rejected", sid, "busy")
                self.assertEqual(self.get_call(sid)["status"], "busy")
                # The busy callee's devices are not rung at all.
                self.quiet(a1, d1)
                # The caller is free again at once.
                self.assertIsNone(self.assertOk(self.do(via, a1, "call.active"))["call"])

    def test_calling_the_initiator_of_a_ringing_call_is_busy(self):
        e = self.rest_device("erin")
        ring = self.initiate("rest", e, "frank")["sessionId"]
        a1 = self.connect("alice")
        e1 = self.connect("erin", token=e.token)
        call = self.initiate("ws", a1, "erin")
        self.assertCall(call, status="busy", states={"erin": "busy"})
        self.event(a1, "call.rejected", call["sessionId"], "busy")
        self.quiet(e1)
        self.assertEqual(self.get_call(ring)["status"], "initiated")

    def test_a_ringing_callee_is_not_busy(self):
        b = self.rest_device("bob")
        first = self.initiate("rest", b, "frank")["sessionId"]
        f1 = self.connect("frank")
        a1 = self.connect("alice")
        second = self.initiate("ws", a1, "frank")
        self.assertCall(second, status="initiated", states={"frank": "ringing"})
        self.event(f1, "call.incoming", second["sessionId"], "initiated")
        self.assertEqual(self.get_call(first)["status"], "initiated")

    def test_with_autobusy_off_an_engaged_callee_rings(self):
        self.engaged_pair("carol", "dave")
        self.assertFalse(self.patch_settings({"autoBusy": False})["settings"]["autoBusy"])
        a1 = self.connect("alice")
        d1 = self.connect("dave")
        call = self.initiate("rest", a1, "dave")
        sid = call["sessionId"]
        self.assertCall(call, sid, "initiated", {"dave": "ringing"})
        self.event(d1, "call.incoming", sid, "initiated")
        self.quiet(a1)
        self.assertOk(self.act("rest", a1, "call.cancel", sid))
        self.event(d1, "call.cancelled", sid, "cancelled")
        # And on again: busy again.
        self.assertTrue(self.patch_settings({"autoBusy": True})["settings"]["autoBusy"])
        call = self.initiate("rest", a1, "dave")
        self.assertEqual(call["status"], "busy")


class GroupCallTest(CallTestCase):
    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol", "dave")
        self.create_group(self.app, "team", ["dave", "alice", "carol", "bob"])

    def clients(self):
        return {u: self.connect(u) for u in ("alice", "bob", "carol", "dave")}

    def test_members_ring_join_leave_and_the_call_ends_when_nobody_is_left(self):
        c = self.clients()
        a, b, cc, d = c["alice"], c["bob"], c["carol"], c["dave"]
        call = self.initiate("ws", a, "team", "group", "video")
        sid = call["sessionId"]
        self.assertCall(call, sid, "initiated", {"alice": "ongoing", "bob": "ringing",
                                                 "carol": "ringing", "dave": "ringing"})
        self.assertEqual(call["receiverType"], "group")
        self.assertEqual(call["receiver"], {"guid": "team", "name": "Group team"})
        self.assertEqual([p["uid"] for p in call["participants"]],
                         ["alice", "bob", "carol", "dave"])
        self.events([b, cc, d], "call.incoming", sid, "initiated")
        self.quiet(a)

        # First accept: the call is ongoing; the others keep ringing.
        got = self.assertOk(self.act("rest", b, "call.accept", sid))
        self.assertCall(got, sid, "ongoing", {"bob": "ongoing", "carol": "ringing"})
        self.event(a, "call.accepted", sid, "ongoing")
        self.assertEqual(self.event(b, "call.accepted_elsewhere", sid)["device"], b.device)
        self.quiet(a, b, cc, d)

        # A later member joins: the others in the call hear of it.
        got = self.assertOk(self.act("ws", cc, "call.accept", sid))
        self.assertCall(got, sid, "ongoing", {"carol": "ongoing"})
        for who in (a, b):
            ev = self.event(who, "call.participant_joined", sid, "ongoing")
            self.assertEqual(self.part(ev["call"], "carol")["state"], "ongoing")
        self.event(cc, "call.accepted_elsewhere", sid)
        self.quiet(a, b, d)

        # bob leaves; the call goes on.
        got = self.assertOk(self.act("ws", b, "call.end", sid))
        self.assertCall(got, sid, "ongoing", {"bob": "left"})
        self.assertIsInstance(self.part(got, "bob")["leftAt"], int)
        for who in (a, cc):
            ev = self.event(who, "call.participant_left", sid, "ongoing")
            self.assertEqual(self.part(ev["call"], "bob")["state"], "left")
        # Leaving again is a safe retry.
        self.assertCall(self.assertOk(self.act("rest", b, "call.end", sid)), sid, "ongoing")

        # dave declines the ring, then joins late anyway.
        self.assertCall(self.assertOk(self.act("rest", d, "call.reject", sid)), sid,
                        "ongoing", {"dave": "rejected"})
        self.assertCall(self.assertOk(self.act("rest", d, "call.accept", sid)), sid,
                        "ongoing", {"dave": "ongoing"})
        for who in (a, cc):
            self.event(who, "call.participant_joined", sid, "ongoing")

        # The initiator leaves: the call goes on without them.
        got = self.assertOk(self.act("ws", a, "call.end", sid))
        self.assertCall(got, sid, "ongoing", {"alice": "left"})
        for who in (cc, d):
            self.event(who, "call.participant_left", sid, "ongoing")
        # bob rejoins.
        self.assertOk(self.act("ws", b, "call.accept", sid))
        for who in (cc, d):
            self.event(who, "call.participant_joined", sid, "ongoing")
        self.assertOk(self.act("ws", cc, "call.end", sid))
        self.assertOk(self.act("ws", b, "call.end", sid))
        self.assertEqual(self.get_call(sid)["status"], "ongoing")
        # The last one out ends it.
        got = self.assertOk(self.act("ws", d, "call.end", sid))
        self.assertCall(got, sid, "ended", {u: "left" for u in c})
        self.event(d, "call.ended", sid, "ended")
        final = self.get_call(sid)
        self.assertCall(final, sid, "ended")
        for p in final["participants"]:
            self.assertIsInstance(p["joinedAt"], int, p)
            self.assertIsInstance(p["leftAt"], int, p)
            self.assertGreaterEqual(p["leftAt"], p["joinedAt"], p)
            self.assertGreaterEqual(p["duration"], 0, p)
        # bob was in twice: his duration counts both stays, within the call's.
        bob = self.part(final, "bob")
        self.assertGreater(bob["duration"], 0, bob)
        self.assertLessEqual(bob["duration"], final["duration"] + 0.01, final)
        self.assertGreater(final["duration"], 0)
        for who in c.values():
            self.assertSeqsConsecutive(who)

    def test_the_initiator_ends_a_group_call_for_everyone(self):
        c = self.clients()
        a, b, cc, d = c["alice"], c["bob"], c["carol"], c["dave"]
        sid = self.initiate("rest", a, "team", "group")["sessionId"]
        self.assertOk(self.act("rest", b, "call.accept", sid))
        self.assertFails(self.act("rest", b, "call.end", sid, forAll=True), 403,
                         "ERR_FORBIDDEN")
        self.assertFails(self.act("ws", b, "call.end", sid, forAll=True), 403,
                         "ERR_FORBIDDEN")
        self.assertEqual(self.get_call(sid)["status"], "ongoing")
        got = self.assertOk(self.act("ws", a, "call.end", sid, forAll=True))
        self.assertCall(got, sid, "ended", {"alice": "left", "bob": "left",
                                            "carol": "cancelled", "dave": "cancelled"})
        for who in c.values():
            self.event(who, "call.ended", sid, "ended")
        again = self.assertOk(self.act("rest", a, "call.end", sid, forAll=True))
        self.assertCall(again, sid, "ended")
        self.assertFails(self.act("rest", cc, "call.accept", sid), 409, "ERR_INVALID_STATE")

    def test_every_member_declining_ends_the_call_rejected_or_busy(self):
        c = self.clients()
        a = c["alice"]
        sid = self.initiate("rest", a, "team", "group")["sessionId"]
        self.assertOk(self.act("rest", c["bob"], "call.reject", sid))
        self.assertOk(self.act("ws", c["carol"], "call.reject", sid, status="busy"))
        self.assertEqual(self.get_call(sid)["status"], "initiated")
        self.quiet(a)
        got = self.assertOk(self.act("ws", c["dave"], "call.reject", sid))
        self.assertCall(got, sid, "rejected", {"alice": "left", "bob": "rejected",
                                               "carol": "busy", "dave": "rejected"})
        self.event(a, "call.rejected", sid, "rejected")
        for u in ("bob", "carol", "dave"):
            self.event(c[u], "call.rejected_elsewhere", sid)
        self.quiet(a)
        self.assertFails(self.act("rest", c["bob"], "call.accept", sid), 409,
                         "ERR_INVALID_STATE")

        sid = self.initiate("ws", a, "team", "group")["sessionId"]
        for u in ("bob", "carol", "dave"):
            self.assertOk(self.act("ws", c[u], "call.reject", sid, status="busy"))
        self.assertCall(self.get_call(sid), sid, "busy")
        self.event(a, "call.rejected", sid, "busy")

    def test_who_may_ring_a_group(self):
        self.users("erin")
        self.create_group(self.app, "solo", ["alice"])
        e = self.rest_device("erin")
        a = self.rest_device("alice")
        for via in ("rest",):
            self.assertFails(self.do(via, e, "call.initiate",
                                     {"receiver": "team", "receiverType": "group",
                                      "type": "audio"}), 403, "ERR_FORBIDDEN")
            self.assertFails(self.do(via, a, "call.initiate",
                                     {"receiver": "solo", "receiverType": "group",
                                      "type": "audio"}), 400, "ERR_BAD_REQUEST")
        self.assertIsNone(self.assertOk(self.do("rest", a, "call.active"))["call"])

    def test_ring_timeout_unanswered_and_members_who_missed_it_may_join_late(self):
        self.users("erin", "frank", "gina")
        self.create_group(self.app, "crew", ["erin", "frank", "gina"])
        c = self.clients()
        e, f, g = self.connect("erin"), self.connect("frank"), self.connect("gina")
        # Nobody answers the team; frank answers the crew, gina does not.
        quiet_sid = self.initiate("rest", c["alice"], "team", "group", timeout=5)["sessionId"]
        busy_sid = self.initiate("ws", e, "crew", "group", timeout=5)["sessionId"]
        self.assertOk(self.act("ws", f, "call.accept", busy_sid))

        self.event(c["alice"], "call.unanswered", quiet_sid, "unanswered", timeout=10)
        for u in ("bob", "carol", "dave"):
            self.event(c[u], "call.unanswered", quiet_sid, "unanswered")
        final = self.get_call(quiet_sid)
        self.assertCall(final, quiet_sid, "unanswered",
                        {"alice": "left", "bob": "unanswered", "carol": "unanswered",
                         "dave": "unanswered"})
        self.assertGreaterEqual(final["endedAt"] - final["initiatedAt"], 5000 - 50)

        ev = self.event(g, "call.unanswered", busy_sid, "ongoing", timeout=5)
        self.assertEqual(self.part(ev["call"], "gina")["state"], "unanswered")
        call = self.get_call(busy_sid)
        self.assertCall(call, busy_sid, "ongoing", {"erin": "ongoing", "frank": "ongoing",
                                                    "gina": "unanswered"})
        # The call goes on; the ring of gina ended without telling erin or frank a thing
        # that would end their call.
        for who in (e, f):
            for ev in who.drain_events():
                self.assertNotIn(ev["name"], ("call.ended", "call.unanswered",
                                              "call.cancelled"), ev)
        got = self.assertOk(self.act("rest", g, "call.accept", busy_sid))
        self.assertCall(got, busy_sid, "ongoing", {"gina": "ongoing"})
        for who in (e, f):
            self.event(who, "call.participant_joined", busy_sid, "ongoing")
        self.assertOk(self.act("ws", e, "call.end", busy_sid, forAll=True))
        for who in (e, f, g):
            self.event(who, "call.ended", busy_sid, "ended")


class ReconnectGraceTest(CallTestCase):
    """reconnectGrace: a participant whose last connection is gone is treated as having
    cancelled (initiator of a ringing call) or left (ongoing) once the grace runs out."""

    APP_SETTINGS = {"reconnectGrace": 1}

    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol")

    def test_ringing_callers_only_connection_closes_call_cancelled_after_the_grace(self):
        a1 = self.connect("alice")
        b1 = self.connect("bob")
        sid = self.initiate("ws", a1, "bob")["sessionId"]
        self.event(b1, "call.incoming", sid)
        gone = now_ms()
        a1.close()
        ev = self.event(b1, "call.cancelled", sid, "cancelled", timeout=6)
        self.assertGreaterEqual(ev["call"]["endedAt"] - gone, 1000 - 150,
                                "cancelled before the grace ran out")
        self.assertCall(self.get_call(sid), sid, "cancelled",
                        {"alice": "cancelled", "bob": "cancelled"})
        # Alice's device learns it when it comes back.
        a2 = self.connect("alice", token=a1.token, resume_from=a1.last_seq)
        self.assertTrue(a2.ready["resumed"], a2.ready)
        self.event(a2, "call.cancelled", sid, "cancelled")

    def test_ongoing_participant_whose_connection_drops_leaves_and_the_1to1_call_ends(self):
        a1 = self.connect("alice")
        b1 = self.connect("bob")
        sid = self.initiate("ws", a1, "bob")["sessionId"]
        self.assertOk(self.act("ws", b1, "call.accept", sid))
        self.event(a1, "call.accepted", sid)
        gone = now_ms()
        b1.drop()  # no close frame: the network went away
        ev = self.event(a1, "call.ended", sid, "ended", timeout=6)
        self.assertGreaterEqual(ev["call"]["endedAt"] - gone, 1000 - 150)
        self.assertCall(self.get_call(sid), sid, "ended", {"alice": "left", "bob": "left"})

    def test_reconnecting_within_the_grace_keeps_the_call(self):
        self.patch_settings({"reconnectGrace": 2})
        a1 = self.connect("alice")
        a2 = self.connect("alice", name="alice2")
        b1 = self.connect("bob")
        # Ringing: the caller loses one of two connections (not the last): nothing.
        sid = self.initiate("ws", a1, "bob")["sessionId"]
        self.event(b1, "call.incoming", sid)
        a2.close()
        # ... and then the last one, but is back at once.
        a1.drop()
        a3 = self.connect("alice", token=a1.token, resume_from=a1.last_seq)
        self.assertTrue(a3.ready["resumed"], a3.ready)
        self.quiet(b1, a3, within=3.0)
        self.assertEqual(self.get_call(sid)["status"], "initiated")
        # Ongoing: the callee drops and comes back within the grace.
        self.assertOk(self.act("ws", b1, "call.accept", sid))
        self.event(a3, "call.accepted", sid)
        b1.drop()
        b2 = self.connect("bob", token=b1.token, resume_from=b1.last_seq)
        self.quiet(a3, within=3.0)
        self.assertEqual(self.get_call(sid)["status"], "ongoing")
        self.assertOk(self.act("ws", b2, "call.end", sid))
        self.event(a3, "call.ended", sid, "ended")

    def test_a_ringing_callee_without_a_connection_rings_until_the_timeout(self):
        a1 = self.connect("alice")
        b1 = self.connect("bob")
        sid = self.initiate("ws", a1, "bob", timeout=5)["sessionId"]
        self.event(b1, "call.incoming", sid)
        b1.close()
        # Past the grace: still ringing.
        self.quiet(a1, within=2.0)
        self.assertCall(self.get_call(sid), sid, "initiated", {"bob": "ringing"})
        ev = self.event(a1, "call.unanswered", sid, "unanswered", timeout=8)
        self.assertCall(ev["call"], sid, "unanswered", {"bob": "unanswered"})
        # bob's phone comes back and learns what happened.
        b2 = self.connect("bob", token=b1.token, resume_from=b1.last_seq)
        self.assertTrue(b2.ready["resumed"], b2.ready)
        self.event(b2, "call.unanswered", sid, "unanswered")
        b2.expect_no_event(0.3)

    def test_an_ongoing_call_of_rest_only_clients_does_not_stay_open(self):
        a = self.rest_device("alice")
        b = self.rest_device("bob")
        sid = self.initiate("rest", a, "bob")["sessionId"]
        self.assertOk(self.act("rest", b, "call.accept", sid))
        deadline = time.monotonic() + 8
        while self.get_call(sid)["status"] == "ongoing":
            self.assertLess(time.monotonic(), deadline,
                            "a 1:1 call nobody is connected to stayed ongoing")
            time.sleep(0.1)
        self.assertEqual(self.get_call(sid)["status"], "ended")


if __name__ == "__main__":
    unittest.main()
