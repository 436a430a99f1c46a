"""Call logs: GET …/calls with every filter, as a user and with the REST key, limits and
cursors, keyset pagination while new calls arrive, isolation between apps, and the
participants' times."""

import time
import unittest
import urllib.parse

from wsclient import CallTestCase, ClientPool


class CallLogFiltersTest(CallTestCase):
    """One app per class holding seven finished calls (built once; the tests only read)."""

    data = None

    def setUp(self):
        cls = type(self)
        if cls.data is None:
            self.new_app()
            cls.data = self.build()
        d = cls.data
        self.app, self.a, self.key = d["app"], d["app"]["appId"], d["app"]["restApiKey"]
        self.calls, self.tok = d["calls"], d["tokens"]
        self.pool = ClientPool(self.server.port)
        self.addCleanup(self.pool.close_all)

    @classmethod
    def tearDownClass(cls):
        cls.data = None
        super().tearDownClass()

    def build(self):
        self.users("alice", "bob", "carol", "dave")
        self.create_group(self.app, "g", ["alice", "bob", "carol"])
        dev = {u: self.rest_device(u) for u in ("alice", "bob", "carol", "dave")}
        calls = []

        def add(caller, receiver, type_, rtype="user"):
            call = self.initiate("rest", dev[caller], receiver, rtype, type_)
            members = {"alice", "bob", "carol"} if rtype == "group" else {caller, receiver}
            calls.append({"sid": call["sessionId"], "type": type_, "initiator": caller,
                          "uids": members, "guid": receiver if rtype == "group" else None})
            return call["sessionId"]

        def finish(sid, status):
            calls[-1]["status"] = status
            self.assertEqual(self.get_call(sid)["status"], status)

        s = add("alice", "bob", "audio")
        self.assertOk(self.act("rest", dev["bob"], "call.accept", s))
        time.sleep(0.3)  # a short call, long enough to measure
        self.assertOk(self.act("rest", dev["alice"], "call.end", s))
        finish(s, "ended")
        s = add("bob", "alice", "video")
        self.assertOk(self.act("rest", dev["alice"], "call.reject", s))
        finish(s, "rejected")
        s = add("alice", "carol", "video")
        self.assertOk(self.act("rest", dev["alice"], "call.cancel", s))
        finish(s, "cancelled")
        s = add("carol", "alice", "audio")
        self.assertOk(self.act("rest", dev["alice"], "call.reject", s, status="busy"))
        finish(s, "busy")
        s = add("alice", "g", "audio", "group")
        self.assertOk(self.act("rest", dev["bob"], "call.accept", s))
        time.sleep(0.1)
        self.assertOk(self.act("rest", dev["alice"], "call.end", s, forAll=True))
        finish(s, "ended")
        s = add("dave", "bob", "audio")
        self.assertOk(self.act("rest", dev["dave"], "call.cancel", s))
        finish(s, "cancelled")
        s = add("bob", "carol", "video")
        self.assertOk(self.act("rest", dev["carol"], "call.accept", s))
        self.assertOk(self.act("rest", dev["carol"], "call.end", s))
        finish(s, "ended")
        return {"app": self.app, "calls": calls,
                "tokens": {u: d.token for u, d in dev.items()}}

    # helpers -------------------------------------------------------------------------

    def expect(self, viewer=None, **f):
        """The session ids the log should hold, newest first. viewer: the user whose token
        lists (None: the REST key)."""
        out = []
        for c in self.calls:
            if viewer is not None and viewer not in c["uids"]:
                continue
            if "type" in f and c["type"] != f["type"]:
                continue
            if "status" in f and c["status"] != f["status"]:
                continue
            if "uid" in f and f["uid"] not in c["uids"]:
                continue
            if "guid" in f and c["guid"] != f["guid"]:
                continue
            if "category" in f and f["category"] != "call":
                continue
            if "hasRecording" in f and f["hasRecording"] == "true":
                continue
            if "direction" in f:
                me = viewer if viewer is not None else f["uid"]
                outgoing = c["initiator"] == me
                if (f["direction"] == "outgoing") != outgoing:
                    continue
            out.append(c["sid"])
        return out[::-1]

    def listing(self, token, **f):
        q = urllib.parse.urlencode(f)
        items = self.list_all(self.p("/calls" + (f"?{q}" if q else "")), token)
        for c in items:
            self.assertCallShape(c)
        return [c["sessionId"] for c in items]

    # tests ---------------------------------------------------------------------------

    FILTERS = [
        {}, {"type": "audio"}, {"type": "video"}, {"status": "ended"},
        {"status": "rejected"}, {"status": "cancelled"}, {"status": "busy"},
        {"status": "unanswered"}, {"status": "initiated"}, {"status": "ongoing"},
        {"category": "call"}, {"category": "meet"},
        {"hasRecording": "false"}, {"hasRecording": "true"},
        {"guid": "g"}, {"guid": "nosuchgroup"},
        {"type": "audio", "status": "ended"},
    ]

    def test_every_filter_as_a_user(self):
        filters = self.FILTERS + [
            {"direction": "incoming"}, {"direction": "outgoing"},
            {"uid": "bob"}, {"uid": "carol"}, {"uid": "dave"}, {"uid": "alice"},
            {"direction": "outgoing", "type": "audio"},
            {"direction": "incoming", "uid": "carol"},
        ]
        for viewer in ("alice", "bob", "dave"):
            for f in filters:
                with self.subTest(viewer=viewer, **f):
                    self.assertEqual(self.listing(self.tok[viewer], **f),
                                     self.expect(viewer, **f))

    def test_every_filter_with_the_rest_key_and_the_master_key(self):
        filters = self.FILTERS + [
            {"uid": "bob"}, {"uid": "dave"}, {"uid": "nobody"},
            {"uid": "bob", "direction": "outgoing"}, {"uid": "bob", "direction": "incoming"},
            {"uid": "alice", "direction": "incoming", "type": "video"},
        ]
        for f in filters:
            with self.subTest(**f):
                want = self.expect(None, **f)
                self.assertEqual(self.listing(self.key, **f), want)
                self.assertEqual(self.listing(self.master, **f), want)
        self.assertEqual(len(self.expect()), 7)

    def test_the_same_log_over_a_websocket(self):
        c = self.connect("bob", token=self.tok["bob"])
        for f in ({}, {"type": "video"}, {"direction": "incoming"}, {"status": "ended"},
                  {"uid": "carol"}, {"hasRecording": False}, {"limit": 2}):
            with self.subTest(**f):
                res = c.result("calls.list", f)
                self.assertEqual(set(res), {"data", "next"}, res)
                rest = self.assertStatus(self.req(
                    "GET", self.p("/calls?" + urllib.parse.urlencode(
                        {k: (str(v).lower() if isinstance(v, bool) else v)
                         for k, v in f.items()})), token=self.tok["bob"]), 200)
                self.assertEqual([x["sessionId"] for x in res["data"]],
                                 [x["sessionId"] for x in rest["data"]])
                self.assertEqual(res["data"], rest["data"])
                self.assertEqual(res["next"] is None, rest["next"] is None)

    def test_direction_with_the_rest_key_needs_uid(self):
        for d in ("incoming", "outgoing"):
            self.assertError(self.req("GET", self.p(f"/calls?direction={d}"), token=self.key),
                             400, "ERR_BAD_REQUEST", field="direction")

    def test_bad_filter_values_are_400_naming_the_parameter(self):
        cases = [("type", "hologram"), ("status", "nope"), ("status", "ringing"),
                 ("direction", "sideways"), ("category", "chat"), ("hasRecording", "maybe"),
                 ("uid", "bad uid!"), ("guid", "bad/guid")]
        for token in (self.key, self.tok["alice"]):
            for name, value in cases:
                with self.subTest(name=name, value=value, key=token == self.key):
                    q = urllib.parse.urlencode({name: value})
                    self.assertError(self.req("GET", self.p(f"/calls?{q}"), token=token),
                                     400, "ERR_BAD_REQUEST", field=name)

    def test_limit_bounds(self):
        for token in (self.key, self.tok["alice"]):
            for bad in ("0", "101", "-1", "abc", "1.5", ""):
                with self.subTest(limit=bad):
                    self.assertError(self.req("GET", self.p(f"/calls?limit={bad}"),
                                              token=token), 400, "ERR_BAD_REQUEST",
                                     field="limit")
            page = self.assertStatus(self.req("GET", self.p("/calls?limit=1"), token=token), 200)
            self.assertEqual(len(page["data"]), 1)
            self.assertIsNotNone(page["next"])
            page = self.assertStatus(self.req("GET", self.p("/calls?limit=100"), token=token),
                                     200)
            self.assertIsNone(page["next"])
            page = self.assertStatus(self.req("GET", self.p("/calls"), token=token), 200)
            self.assertIsNone(page["next"])

    def test_a_bad_cursor_is_400(self):
        for token in (self.key, self.tok["alice"]):
            for bad in ("not a cursor!", "zzzz~~~~", "%ff%fe", "x" * 500):
                with self.subTest(cursor=bad[:20]):
                    q = urllib.parse.urlencode({"cursor": bad})
                    self.assertError(self.req("GET", self.p(f"/calls?{q}"), token=token),
                                     400, "ERR_BAD_REQUEST", field="cursor")

    def test_only_participants_credentials_and_the_apps_keys_may_list(self):
        self.assertError(self.req("GET", self.p("/calls")), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("GET", self.p("/calls"), token="at_nope"), 401,
                         "ERR_UNAUTHORIZED")

    def test_participants_carry_join_leave_times_and_plausible_durations(self):
        by_sid = {c["sid"]: c for c in self.calls}
        short = self.get_call(self.calls[0]["sid"])
        self.assertCall(short, status="ended", states={"alice": "left", "bob": "left"})
        span = (short["endedAt"] - short["joinedAt"]) / 1000
        self.assertGreaterEqual(short["duration"], 0.25, short)
        self.assertLess(short["duration"], 5, short)
        self.assertAlmostEqual(short["duration"], span, delta=0.05)
        for uid in ("alice", "bob"):
            p = self.part(short, uid)
            self.assertIsInstance(p["joinedAt"], int, p)
            self.assertIsInstance(p["leftAt"], int, p)
            self.assertGreater(p["duration"], 0.2, p)
            self.assertAlmostEqual(p["duration"], (p["leftAt"] - p["joinedAt"]) / 1000,
                                   delta=0.05)
        self.assertEqual(self.part(short, "alice")["joinedAt"], short["joinedAt"])

        rejected = self.get_call(self.calls[1]["sid"])
        self.assertCall(rejected, status="rejected", states={"bob": "left", "alice": "rejected"})
        self.assertIsNone(rejected["joinedAt"])
        self.assertEqual(rejected["duration"], 0)
        for p in rejected["participants"]:
            self.assertIsNone(p["joinedAt"], p)
            self.assertEqual(p["duration"], 0, p)

        group = self.get_call(self.calls[4]["sid"])
        self.assertCall(group, status="ended",
                        states={"alice": "left", "bob": "left", "carol": "cancelled"})
        self.assertEqual(group["receiver"], {"guid": "g", "name": "Group g"})
        self.assertGreater(self.part(group, "bob")["duration"], 0)
        self.assertIsNone(self.part(group, "carol")["joinedAt"])
        self.assertEqual(self.part(group, "carol")["duration"], 0)

        # The log shows the same call objects as GET.
        listed = self.assertStatus(self.req("GET", self.p("/calls?limit=100"),
                                            token=self.key), 200)["data"]
        for item in listed:
            self.assertIn(item["sessionId"], by_sid)
            self.assertEqual(item, self.get_call(item["sessionId"]))
        self.assertEqual([c["status"] for c in listed],
                         [c["status"] for c in reversed(self.calls)])
        times = [c["initiatedAt"] for c in listed]
        self.assertEqual(times, sorted(times, reverse=True))


class CallLogPagingTest(CallTestCase):
    """Keyset pagination: paging through while calls are being created never repeats or
    skips a call."""

    def setUp(self):
        super().setUp()
        self.callers = [f"u{i}" for i in range(8)]
        self.users("target", "late", *self.callers)
        self.dev = {u: self.rest_device(u) for u in self.callers + ["late", "target"]}
        self.n = 0

    def make_call(self, caller=None):
        caller = caller or self.callers[self.n % len(self.callers)]
        self.n += 1
        sid = self.initiate("rest", self.dev[caller], "target")["sessionId"]
        self.assertOk(self.act("rest", self.dev[caller], "call.cancel", sid))
        return sid

    def walk(self, page, limit, between):
        """Pages through with page(cursor) until next is null, calling between() after
        every page."""
        seen, cursor = [], None
        for _ in range(1000):
            data = page(cursor)
            self.assertLessEqual(len(data["data"]), limit)
            seen.extend(c["sessionId"] for c in data["data"])
            cursor = data["next"]
            between()
            if cursor is None:
                return seen
        self.fail("paging never ended")

    def test_paging_while_calls_arrive_neither_repeats_nor_skips(self):
        created = [self.make_call() for _ in range(33)]
        full = self.list_all(self.p("/calls"), self.key, limit=100)
        self.assertEqual([c["sessionId"] for c in full], created[::-1])
        first = self.assertStatus(self.req("GET", self.p("/calls"), token=self.key), 200)
        self.assertEqual(len(first["data"]), 30, "default limit is 30")
        self.assertIsNotNone(first["next"])

        def rest_page(token):
            def page(cursor):
                q = "limit=3" + (f"&cursor={urllib.parse.quote(cursor, safe='')}"
                                 if cursor else "")
                return self.assertStatus(self.req("GET", self.p(f"/calls?{q}"), token=token),
                                         200)
            return page

        before = [c["sessionId"] for c in self.list_all(self.p("/calls"), self.key)]
        seen = self.walk(rest_page(self.key), 3, lambda: self.make_call("late"))
        self.assertEqual(len(seen), len(set(seen)), "a call came twice")
        self.assertEqual(seen, before)

        # A user's view, as the target (every call), paged over the WebSocket.
        ws = self.connect("target", token=self.dev["target"].token)
        before = [c["sessionId"] for c in self.list_all(self.p("/calls"),
                                                        self.dev["target"].token)]

        def ws_page(cursor):
            params = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            return ws.result("calls.list", params)

        seen = self.walk(ws_page, 3, lambda: self.make_call("late"))
        self.assertEqual(seen, before)

        # And a caller's view with a filter, over REST with the user's token.
        u0 = self.dev["u0"].token
        before = [c["sessionId"] for c in self.list_all(self.p("/calls?direction=outgoing"),
                                                        u0)]
        self.assertEqual(len(before), 5)

        def filtered(cursor):
            q = "limit=2&direction=outgoing" + (
                f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
            return self.assertStatus(self.req("GET", self.p(f"/calls?{q}"), token=u0), 200)

        seen = self.walk(filtered, 2, lambda: self.make_call("u0"))
        self.assertEqual(seen, before)


class CallLogIsolationTest(CallTestCase):
    def test_apps_never_see_each_others_calls(self):
        self.users("alice", "bob")
        a_dev = {u: self.rest_device(u) for u in ("alice", "bob")}
        sid_a = self.initiate("rest", a_dev["alice"], "bob")["sessionId"]
        app_a, key_a = self.app, self.key

        app_b = self.new_app("B")
        self.users("alice", "bob")
        b_dev = {u: self.rest_device(u) for u in ("alice", "bob")}
        sid_b = self.initiate("rest", b_dev["alice"], "bob")["sessionId"]
        key_b = self.key
        pa, pb = f"/v1/apps/{app_a['appId']}", f"/v1/apps/{app_b['appId']}"

        # Keys of one app on the other's calls: 404, not 403.
        self.assertError(self.req("GET", f"{pa}/calls", token=key_b), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", f"{pa}/calls/{sid_a}", token=key_b), 404,
                         "ERR_NOT_FOUND")
        self.assertError(self.req("GET", f"{pb}/calls/{sid_a}", token=key_b), 404,
                         "ERR_NOT_FOUND")
        self.assertError(self.req("GET", f"{pb}/calls", token=key_a), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("POST", f"{pa}/calls/{sid_a}/cancel",
                                  token=b_dev["alice"].token), 404, "ERR_NOT_FOUND")
        # Same uids, different apps: each alice sees only her app's call.
        for p, tok, sid, other in ((pa, a_dev["alice"].token, sid_a, sid_b),
                                   (pb, b_dev["alice"].token, sid_b, sid_a)):
            listed = [c["sessionId"] for c in self.list_all(f"{p}/calls", tok)]
            self.assertEqual(listed, [sid])
            self.assertError(self.req("GET", f"{p}/calls/{other}", token=tok), 404,
                             "ERR_NOT_FOUND")
            st, _, active = self.req("GET", f"{p}/calls/active", token=tok)
            self.assertEqual(st, 200, active)
            self.assertEqual(active["call"]["sessionId"], sid)
        self.assertEqual([c["sessionId"] for c in self.list_all(f"{pa}/calls", key_a)],
                         [sid_a])
        self.assertEqual([c["sessionId"] for c in self.list_all(f"{pb}/calls?uid=alice",
                                                                key_b)], [sid_b])
        self.assertError(self.req("GET", f"{pb}/calls", token=a_dev["alice"].token), 404,
                         "ERR_NOT_FOUND")
        # Cancelling in B left A's call alone.
        self.assertEqual(self.req("POST", f"{pb}/calls/{sid_b}/cancel",
                                  token=b_dev["alice"].token)[0], 200)
        self.assertEqual(self.req("GET", f"{pa}/calls/{sid_a}", token=key_a)[2]["status"],
                         "initiated")


if __name__ == "__main__":
    unittest.main()
