"""Bad input: malformed or oversized bodies, invalid ids and fields, broken HTTP.

Every case checks three things: the answer is the documented 400/413 error naming the
problem, nothing in the app changed, and the server keeps serving.
"""

import json
import socket
import threading
import unittest

from harness import ServerTestCase, q

BAD_UIDS = ["", "x" * 101, "a b", "a/b", "a#b", "ä", "a\nb", "a\tb", "a:b", "a+b", "a%b",
            "a?b", "a,b", "a\\b", "a\"b", "a*b", "🙂", "a\rb", "a\r\nb", "a\n"]
BAD_JSON = [b"{", b"not json", b'{"uid":"j","name":"J"', b"{'uid':'j','name':'J'}",
            b'{"uid":"j","name":"J"}garbage', b'{"uid":"j","name":"J"}{}',
            b'{"uid":"j","name":"J",}', b'{"uid":"j" "name":"J"}', b"{uid:j}",
            b'{"uid":"j","name":"J\x01"}']
NOT_OBJECTS = [b"[]", b"null", b"123", b'"str"', b"true", b'[{"uid":"j","name":"J"}]']
MAX_BODY = 65536


def padded_user_body(uid, size):
    """A valid user-create body of exactly `size` bytes (the padding is an unknown field)."""
    base = {"uid": uid, "name": "Padded", "pad": ""}
    overhead = len(json.dumps(base, separators=(",", ":")).encode())
    base["pad"] = "p" * (size - overhead)
    raw = json.dumps(base, separators=(",", ":")).encode()
    assert len(raw) == size, (len(raw), size)
    return raw


class BadInputTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.app = None

    def setUp(self):
        if BadInputTest.app is None:
            app = self.create_app("bad input")
            for uid in ("ann", "ben"):
                self.create_user(app, uid)
            self.create_group(app, "grp", ["ann"])
            BadInputTest.app = app
        self.a = self.app["appId"]
        self.key = self.app["restApiKey"]
        self.users = f"/v1/apps/{self.a}/users"
        self.before = self.snapshot()

    def tearDown(self):
        # Whatever a test sent, the app is as it was, and the server still answers.
        self.assertEqual(self.snapshot(), self.before, "a rejected request changed data")
        self.assertStillServing()

    def snapshot(self):
        return (self.users_of(self.app), self.groups_of(self.app), self.get_app(self.app),
                len(self.list_all("/v1/apps", self.master)))

    # JSON syntax -----------------------------------------------------------------

    def write_routes(self):
        """(method, path) of every route that takes a JSON body, with a credential."""
        return [("POST", "/v1/apps", self.master),
                ("PATCH", f"/v1/apps/{self.a}", self.key),
                ("POST", self.users, self.key),
                ("PATCH", f"{self.users}/ann", self.key),
                ("POST", f"/v1/apps/{self.a}/groups", self.key),
                ("POST", f"/v1/apps/{self.a}/groups/grp/members", self.key),
                ("POST", f"{self.users}/ann/auth_tokens", self.key),
                ("POST", f"/v1/apps/{self.a}/login", None)]

    def test_malformed_json_is_400_on_every_route_that_takes_a_body(self):
        for method, path, token in self.write_routes():
            for raw in BAD_JSON:
                with self.subTest(method=method, path=path, raw=raw):
                    self.assertError(self.req(method, path, raw=raw, token=token),
                                     400, "ERR_BAD_REQUEST")

    def test_a_body_that_is_not_a_json_object_is_400(self):
        for method, path, token in self.write_routes():
            for raw in NOT_OBJECTS:
                with self.subTest(method=method, path=path, raw=raw):
                    self.assertError(self.req(method, path, raw=raw, token=token),
                                     400, "ERR_BAD_REQUEST")

    def test_an_empty_body_where_fields_are_required_is_400(self):
        for method, path, token in self.write_routes():
            if path.endswith("/auth_tokens"):
                continue  # an empty body is allowed there
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, raw=b"", token=token),
                                 400, "ERR_BAD_REQUEST")

    def test_duplicate_keys_are_400(self):
        cases = [
            ("POST", self.users, b'{"uid":"d1","uid":"d2","name":"D"}'),
            ("POST", self.users, b'{"uid":"d1","name":"D","name":"E"}'),
            ("POST", self.users, b'{"uid":"d1","name":"D","metadata":{"k":1,"k":2}}'),
            ("PATCH", f"/v1/apps/{self.a}",
             b'{"settings":{"ringTimeout":10,"ringTimeout":20}}'),
            ("PATCH", f"/v1/apps/{self.a}", b'{"settings":{},"settings":{"ringTimeout":10}}'),
            ("PATCH", f"{self.users}/ann", b'{"name":"X","name":"Y"}'),
            ("POST", f"/v1/apps/{self.a}/groups", b'{"guid":"g1","guid":"g2","name":"G"}'),
        ]
        for method, path, raw in cases:
            with self.subTest(raw=raw):
                self.assertError(self.req(method, path, raw=raw, token=self.key),
                                 400, "ERR_BAD_REQUEST")

    def test_invalid_utf8_and_forbidden_escapes_are_400(self):
        for raw in (b'{"uid":"u8","name":"\xff\xfe"}', b'{"uid":"u8","name":"\xc0\xaf"}',
                    b'{"uid":"u8","name":"\xed\xa0\x80"}', b'{"uid":"u8","name":"\\ud800"}',
                    b'{"uid":"u8","name":"a\\u0000b"}', b'{"uid":"u8","name":"J","\xff":1}'):
            with self.subTest(raw=raw):
                self.assertError(self.req("POST", self.users, raw=raw, token=self.key),
                                 400, "ERR_BAD_REQUEST")

    def test_deeply_nested_json_is_rejected_without_harm(self):
        depth = 30000
        raw = (b'{"uid":"deep","name":"D","metadata":{"a":' + b"[" * depth + b"]" * depth +
               b"}}")
        self.assertLessEqual(len(raw), MAX_BODY)
        self.assertError(self.req("POST", self.users, raw=raw, token=self.key),
                         400, "ERR_BAD_REQUEST")

    # body size ---------------------------------------------------------------------

    def test_a_body_over_64_kib_is_413_and_creates_nothing(self):
        for size in (MAX_BODY + 1, 200000, 4 * 1024 * 1024):
            with self.subTest(size=size):
                raw = padded_user_body("big", size)
                self.assertError(self.req("POST", self.users, raw=raw, token=self.key),
                                 413, "ERR_PAYLOAD_TOO_LARGE")
        self.assertError(self.req("GET", f"{self.users}/big", token=self.key),
                         404, "ERR_NOT_FOUND")

    def test_a_body_of_exactly_64_kib_is_accepted(self):
        raw = padded_user_body("exact", MAX_BODY)
        st, _, user = self.req("POST", self.users, raw=raw, token=self.key)
        self.assertEqual(st, 201, user)
        self.assertNotIn("pad", user)
        # Undo, so tearDown's comparison holds.
        self.assertEqual(self.req("DELETE", f"{self.users}/exact", token=self.key)[0], 204)

    def test_an_oversized_body_is_413_even_without_a_credential(self):
        raw = padded_user_body("big", MAX_BODY * 2)
        st, _, data = self.req("POST", self.users, raw=raw)
        self.assertIn(st, (401, 413), data)

    # fields ------------------------------------------------------------------------

    def test_an_invalid_uid_in_the_body_is_400_naming_uid(self):
        for uid in BAD_UIDS + [123, None, [], {"a": 1}, True]:
            with self.subTest(uid=uid):
                self.assertError(self.req("POST", self.users, {"uid": uid, "name": "N"},
                                          token=self.key), 400, "ERR_BAD_REQUEST", field="uid")
        self.assertError(self.req("POST", self.users, {"name": "N"}, token=self.key),
                         400, "ERR_BAD_REQUEST", field="uid")

    def test_a_nul_character_in_a_uid_is_400(self):
        self.assertError(self.req("POST", self.users, {"uid": "a\u0000b", "name": "N"},
                                  token=self.key), 400, "ERR_BAD_REQUEST")

    def test_a_percent_encoded_nul_is_refused_and_changes_nothing(self):
        # libwebsockets 4.1 refuses a decoded NUL inside its request parser, before the
        # server sees the request, by closing the connection (docs/protocol.md). The
        # request must not act on a shortened path, and the server must keep serving.
        tok = self.mint_token(self.app, "ann")
        for method, path in (("GET", f"{self.users}/a%00b"), ("GET", f"{self.users}?cursor=%00"),
                             ("GET", f"{self.users}?limit=%00"),
                             ("DELETE", f"{self.users}/ann%00x/auth_tokens"),
                             ("DELETE", f"{self.users}/ann%00x")):
            with self.subTest(method=method, path=path):
                try:
                    resp = self.req(method, path, token=self.key)
                except OSError:
                    resp = None
                if resp is not None:
                    self.assertError(resp, 400, "ERR_BAD_REQUEST")
                self.assertEqual(self.req("GET", f"/v1/apps/{self.a}/me", token=tok)[0], 200,
                                 "the token of 'ann' was revoked")
                self.assertEqual(self.req("GET", f"{self.users}/ann", token=self.key)[0], 200,
                                 "user 'ann' was deleted")
        self.assertEqual(self.req("GET", "/healthz")[0], 200)

    def test_an_encoded_line_break_in_the_path_never_reaches_another_resource(self):
        # "ann" exists. A path whose uid is "ann<CR/LF>x" must be refused, not be cut at
        # the line break and applied to "ann".
        for enc in ("%0A", "%0D", "%0D%0A"):
            with self.subTest(enc=enc):
                tok = self.mint_token(self.app, "ann")
                self.assertError(self.req("DELETE", f"{self.users}/ann{enc}x/auth_tokens",
                                          token=self.key), 400, "ERR_BAD_REQUEST", field="uid")
                self.assertEqual(self.req("GET", f"/v1/apps/{self.a}/me", token=tok)[0], 200,
                                 "the token of 'ann' was revoked")
                self.assertError(self.req("DELETE", f"{self.users}/ann{enc}x", token=self.key),
                                 400, "ERR_BAD_REQUEST", field="uid")
                self.assertEqual(self.req("GET", f"{self.users}/ann", token=self.key)[0], 200,
                                 "user 'ann' was deleted")
                self.assertEqual(self.req("DELETE", f"{self.users}/ann/auth_tokens",
                                          token=self.key)[0], 200)

    def test_an_invalid_uid_in_the_path_is_400_naming_uid(self):
        for uid in BAD_UIDS:
            if uid == "" or uid == "a/b":
                continue  # these change the route itself
            p = q(uid)
            routes = [("GET", f"{self.users}/{p}", None),
                      ("PATCH", f"{self.users}/{p}", {"name": "x"}),
                      ("DELETE", f"{self.users}/{p}", None),
                      ("POST", f"{self.users}/{p}/auth_tokens", {}),
                      ("DELETE", f"{self.users}/{p}/auth_tokens", None),
                      ("DELETE", f"/v1/apps/{self.a}/groups/grp/members/{p}", None)]
            for method, path, body in routes:
                with self.subTest(uid=uid, method=method, path=path):
                    self.assertError(self.req(method, path, body, token=self.key),
                                     400, "ERR_BAD_REQUEST", field="uid")

    def test_an_invalid_guid_in_the_path_is_400_naming_guid(self):
        for guid in ("x" * 101, "a b", "a#b", "ä", "a:b"):
            p = q(guid)
            g = f"/v1/apps/{self.a}/groups/{p}"
            for method, path, body in (("GET", g, None), ("DELETE", g, None),
                                       ("POST", f"{g}/members", {"uids": ["ann"]}),
                                       ("DELETE", f"{g}/members/ann", None)):
                with self.subTest(guid=guid, method=method):
                    self.assertError(self.req(method, path, body, token=self.key),
                                     400, "ERR_BAD_REQUEST", field="guid")

    def test_an_invalid_name_is_400_naming_name(self):
        for name in ("", "n" * 201, 123, None, {}, [], False):
            with self.subTest(name=name):
                self.assertError(self.req("POST", self.users, {"uid": "nn", "name": name},
                                          token=self.key), 400, "ERR_BAD_REQUEST", field="name")
        self.assertError(self.req("POST", self.users, {"uid": "nn"}, token=self.key),
                         400, "ERR_BAD_REQUEST", field="name")

    def test_name_length_counts_characters_not_bytes(self):
        st, _, user = self.req("POST", self.users, {"uid": "wide", "name": "é" * 200},
                               token=self.key)
        self.assertEqual(st, 201, user)
        self.assertEqual(user["name"], "é" * 200)
        self.assertEqual(self.req("DELETE", f"{self.users}/wide", token=self.key)[0], 204)
        self.assertError(self.req("POST", self.users, {"uid": "wide", "name": "é" * 201},
                                  token=self.key), 400, "ERR_BAD_REQUEST", field="name")

    def test_avatar_up_to_2048_characters_or_null(self):
        for avatar in ("a" * 2048, None, ""):
            with self.subTest(avatar=avatar if avatar is None else len(avatar)):
                st, _, user = self.req("POST", self.users,
                                       {"uid": "av", "name": "A", "avatar": avatar},
                                       token=self.key)
                self.assertEqual(st, 201, user)
                self.assertEqual(user["avatar"], avatar)
                self.assertEqual(self.req("DELETE", f"{self.users}/av", token=self.key)[0], 204)
        for avatar in ("a" * 2049, 5, {}, [], True):
            with self.subTest(avatar=avatar if not isinstance(avatar, str) else len(avatar)):
                self.assertError(self.req("POST", self.users,
                                          {"uid": "av", "name": "A", "avatar": avatar},
                                          token=self.key), 400, "ERR_BAD_REQUEST",
                                 field="avatar")

    def test_metadata_must_be_an_object_of_at_most_4096_bytes(self):
        def meta_of(size):
            m = {"k": ""}
            m["k"] = "x" * (size - len(json.dumps(m, separators=(",", ":"))))
            assert len(json.dumps(m, separators=(",", ":"))) == size
            return m

        st, _, user = self.req("POST", self.users,
                               {"uid": "meta", "name": "M", "metadata": meta_of(4096)},
                               token=self.key)
        self.assertEqual(st, 201, user)
        self.assertEqual(user["metadata"], meta_of(4096))
        self.assertEqual(self.req("DELETE", f"{self.users}/meta", token=self.key)[0], 204)
        for meta in (meta_of(4097), meta_of(60000), [], "x", 3, True,
                     {"list": list(range(2000))}):
            with self.subTest(meta=str(meta)[:30]):
                self.assertError(self.req("POST", self.users,
                                          {"uid": "meta", "name": "M", "metadata": meta},
                                          token=self.key), 400, "ERR_BAD_REQUEST",
                                 field="metadata")
                self.assertError(self.req("PATCH", f"{self.users}/ann", {"metadata": meta},
                                          token=self.key), 400, "ERR_BAD_REQUEST",
                                 field="metadata")

    def test_one_bad_field_among_good_ones_rejects_the_whole_request(self):
        self.assertError(self.req("POST", self.users,
                                  {"uid": "mix", "name": "Mix", "avatar": 7,
                                   "metadata": {"ok": True}},
                                  token=self.key), 400, "ERR_BAD_REQUEST", field="avatar")
        self.assertError(self.req("PATCH", f"{self.users}/ann",
                                  {"name": "Renamed", "metadata": "nope"},
                                  token=self.key), 400, "ERR_BAD_REQUEST", field="metadata")

    def test_a_missing_or_bad_credential_is_checked_before_the_body(self):
        self.assertError(self.req("POST", self.users, raw=b"{bad json"), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", self.users, raw=b"{bad json", token="rk_x"),
                         401, "ERR_UNAUTHORIZED")


class ConcurrencyTest(ServerTestCase):
    def run_parallel(self, fns):
        results = [None] * len(fns)

        def run(i):
            try:
                results[i] = fns[i]()
            except BaseException as e:  # reported below
                results[i] = e

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results

    def test_parallel_creates_all_succeed_and_are_all_listed(self):
        app = self.create_app("parallel")
        path = f"/v1/apps/{app['appId']}/users"
        uids = [f"p{i:03d}" for i in range(40)]
        results = self.run_parallel([
            (lambda uid=uid: self.req("POST", path, {"uid": uid, "name": uid},
                                      token=app["restApiKey"])[0]) for uid in uids])
        self.assertEqual(results, [201] * len(uids))
        self.assertEqual([u["uid"] for u in self.users_of(app)], uids)

    def test_parallel_creates_of_one_uid_give_one_201_and_the_rest_409(self):
        app = self.create_app("race")
        path = f"/v1/apps/{app['appId']}/users"
        results = self.run_parallel([
            (lambda i=i: self.req("POST", path, {"uid": "same", "name": f"n{i}"},
                                  token=app["restApiKey"])[0]) for i in range(20)])
        self.assertEqual(sorted(results), [201] + [409] * 19)
        self.assertEqual(len(self.users_of(app)), 1)

    def test_parallel_token_mints_are_all_distinct_and_all_revoked(self):
        app = self.create_app("tokens")
        self.create_user(app, "u")
        toks = self.run_parallel([(lambda: self.mint_token(app, "u")) for _ in range(20)])
        self.assertEqual(len(set(toks)), 20)
        st, _, data = self.req("DELETE", f"/v1/apps/{app['appId']}/users/u/auth_tokens",
                               {}, token=app["restApiKey"])
        self.assertEqual((st, data), (200, {"revoked": 20}))


class BrokenHttpTest(ServerTestCase):
    """Clients that do not speak HTTP properly must not hurt the server."""

    def raw_exchange(self, data, read=True):
        with socket.create_connection((self.server.host, self.server.port), timeout=5) as s:
            if data:
                try:
                    s.sendall(data)
                except OSError:
                    return b""
            if not read:
                return b""
            chunks = []
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
            except OSError:
                pass
            return b"".join(chunks)

    def test_garbage_request_lines_do_not_stop_the_server(self):
        for data in (b"GARBAGE\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n",
                     b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
                     b"POST /v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     b"POST /v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                     b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"h" * 100000 +
                     b"\r\n\r\n"):
            with self.subTest(data=data[:40]):
                self.raw_exchange(data)
                self.assertStillServing()

    def test_clients_that_vanish_mid_request_do_not_stop_the_server(self):
        master = self.master
        partial = [b"",
                   b"GET /heal",
                   b"POST /v1/apps HTTP/1.1\r\nHost: x\r\n",
                   (b"POST /v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    master.encode() + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{\"name\":"),
                   ]
        before = len(self.list_all("/v1/apps", master))
        for data in partial:
            with self.subTest(data=data[:40]):
                self.raw_exchange(data, read=False)
                self.assertStillServing()
        self.assertEqual(len(self.list_all("/v1/apps", master)), before)

    def test_a_slow_client_does_not_block_other_clients(self):
        with socket.create_connection((self.server.host, self.server.port), timeout=5) as slow:
            slow.sendall(b"POST /v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
            for _ in range(3):
                self.assertStillServing()
            st, _, _ = self.req("GET", "/v1/apps", token=self.master)
            self.assertEqual(st, 200)

    def test_chunked_request_bodies_are_read_or_refused_cleanly(self):
        body = json.dumps({"name": "chunked"}).encode()
        data = (b"POST /v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                self.master.encode() + b"\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        reply = self.raw_exchange(data)
        self.assertTrue(reply.startswith(b"HTTP/1.1 "), reply[:100])
        status = int(reply.split(b" ", 2)[1])
        self.assertIn(status, (201, 400, 411, 413, 501), reply[:300])
        self.assertStillServing()

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        import http.client
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=5)
        try:
            for _ in range(3):
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                resp.read()
            conn.request("GET", "/v1/apps", headers={"Authorization": f"Bearer {self.master}"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            json.loads(resp.read())
            conn.request("GET", "/v1/nothing")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 404)
            resp.read()
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
