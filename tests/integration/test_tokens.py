"""Auth tokens: minting, expiry, revocation, auth-key login, `me` and logout."""

import time
import unittest

import re
import socket

from harness import ServerTestCase, wait_until


def raw_http(server, request):
    """Sends one request exactly as given and returns the raw reply."""
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(request.encode())
        data = b""
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    return data
            b = s.recv(65536)
            if not b:
                return data
            data += b


class TokensTest(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("tokens")
        self.a = self.app["appId"]
        self.key = self.app["restApiKey"]
        self.create_user(self.app, "tom", "Tom", metadata={"role": "tester"})
        self.tokens = f"/v1/apps/{self.a}/users/tom/auth_tokens"
        self.me = f"/v1/apps/{self.a}/me"

    def mint(self, body=None, raw=None, uid="tom", token=None):
        return self.req("POST", f"/v1/apps/{self.a}/users/{uid}/auth_tokens", body,
                        raw=raw, token=token or self.key)

    def test_a_minted_token_without_ttl_never_expires_and_identifies_the_user(self):
        st, _, t = self.mint({})
        self.assertEqual(st, 201, t)
        self.assertEqual(set(t), {"authToken", "expiresAt"})
        self.assertTrue(t["authToken"].startswith("at_"), t)
        self.assertGreater(len(t["authToken"]), 16)
        self.assertIsNone(t["expiresAt"])
        st, _, me = self.req("GET", self.me, token=t["authToken"])
        self.assertEqual(st, 200, me)
        self.assertEqual(me["uid"], "tom")
        self.assertEqual(me["name"], "Tom")
        self.assertEqual(me["metadata"], {"role": "tester"})
        self.assertEqual(me, self.req("GET", f"/v1/apps/{self.a}/users/tom", token=self.key)[2])

    def test_a_token_may_be_minted_with_no_body_at_all(self):
        for raw in (None, b""):
            with self.subTest(raw=raw):
                st, _, t = self.req("POST", self.tokens, raw=raw, token=self.key)
                self.assertEqual(st, 201, t)
                self.assertIsNone(t["expiresAt"])
                self.assertEqual(self.req("GET", self.me, token=t["authToken"])[0], 200)

    def test_a_request_with_an_empty_body_is_handled_exactly_once(self):
        # Python's http.client, and many other clients, send "Content-Length: 0" on a POST
        # without a body; curl sends no Content-Length at all. Both mint one token.
        self.assertEqual(self.req("DELETE", self.tokens, token=self.key)[0], 200)
        st, _, t = self.req("POST", self.tokens, raw=b"", token=self.key)
        self.assertEqual(st, 201, t)
        self.assertEqual(self.req("DELETE", self.tokens, token=self.key)[2], {"revoked": 1})
        st, _, t = self.req("POST", self.tokens, token=self.key,
                            headers={"Content-Length": "0"})
        self.assertEqual(st, 201, t)
        self.assertEqual(self.req("DELETE", self.tokens, token=self.key)[2], {"revoked": 1})
        reply = raw_http(self.server, f"POST {self.tokens} HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {self.key}\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 201"), reply[:200])
        self.assertEqual(self.req("DELETE", self.tokens, token=self.key)[2], {"revoked": 1})

    def test_a_ttl_sets_expires_at_in_unix_milliseconds(self):
        before = int(time.time() * 1000)
        st, _, t = self.mint({"ttl": 3600})
        after = int(time.time() * 1000)
        self.assertEqual(st, 201, t)
        self.assertIsInstance(t["expiresAt"], int)
        self.assertGreaterEqual(t["expiresAt"], before + 3600 * 1000 - 1000)
        self.assertLessEqual(t["expiresAt"], after + 3600 * 1000 + 1000)
        self.assertEqual(self.req("GET", self.me, token=t["authToken"])[0], 200)
        st, _, t = self.mint({"ttl": 315360000})
        self.assertEqual(st, 201, t)
        self.assertGreaterEqual(t["expiresAt"], before + 315360000 * 1000 - 1000)

    def test_every_token_is_different(self):
        seen = {self.mint({})[2]["authToken"] for _ in range(5)}
        self.assertEqual(len(seen), 5)

    def test_an_expired_token_is_401(self):
        st, _, t = self.mint({"ttl": 1})
        self.assertEqual(st, 201, t)
        tok = t["authToken"]
        # It works at first (unless this machine is very slow) and stops within a few seconds.
        wait_until(lambda: self.req("GET", self.me, token=tok)[0] == 401, 5.0,
                   "the 1-second token to expire")
        self.assertError(self.req("GET", self.me, token=tok), 401, "ERR_UNAUTHORIZED")
        self.assertGreaterEqual(int(time.time() * 1000), t["expiresAt"] - 50)
        self.assertError(self.req("POST", f"/v1/apps/{self.a}/logout", token=tok),
                         401, "ERR_UNAUTHORIZED")

    def test_a_bad_ttl_is_rejected_by_name_and_mints_nothing(self):
        before = self.req("DELETE", self.tokens, token=self.key)
        self.assertEqual(before[0], 200, before)
        for ttl in (0, -1, 315360001, "60", 1.5, True, [], {}, 1e30):
            with self.subTest(ttl=ttl):
                self.assertError(self.mint({"ttl": ttl}), 400, "ERR_BAD_REQUEST", field="ttl")
        # Too big for any integer type: still a 400, whatever names it.
        self.assertError(self.mint(raw=b'{"ttl": 18446744073709551617}'), 400, "ERR_BAD_REQUEST")
        # Nothing was minted: revoking finds no token.
        st, _, data = self.req("DELETE", self.tokens, token=self.key)
        self.assertEqual((st, data), (200, {"revoked": 0}))

    def test_a_null_ttl_means_no_expiry(self):
        st, _, t = self.mint({"ttl": None})
        if st == 201:
            self.assertIsNone(t["expiresAt"])
        else:
            self.assertError((st, None, t), 400, "ERR_BAD_REQUEST", field="ttl")

    def test_minting_for_an_unknown_user_is_404(self):
        self.assertError(self.mint({}, uid="ghost"), 404, "ERR_NOT_FOUND")

    def test_minting_needs_this_apps_rest_key_or_the_master_key(self):
        other = self.create_app()
        tok = self.mint({})[2]["authToken"]
        self.assertError(self.mint({}, token=tok), 403, "ERR_FORBIDDEN")
        self.assertError(self.mint({}, token=other["restApiKey"]), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("POST", self.tokens, {}), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.mint({}, token=self.app["authKey"]), 401, "ERR_UNAUTHORIZED")
        st, _, t = self.mint({}, token=self.master)
        self.assertEqual(st, 201, t)
        self.assertEqual(self.req("GET", self.me, token=t["authToken"])[2]["uid"], "tom")

    def test_revoking_all_tokens_counts_them_and_they_stop_working(self):
        toks = [self.mint({})[2]["authToken"] for _ in range(3)]
        toks.append(self.mint({"ttl": 3600})[2]["authToken"])
        self.create_user(self.app, "other")
        keep = self.mint_token(self.app, "other")
        st, _, data = self.req("DELETE", self.tokens, token=self.key)
        self.assertEqual(st, 200, data)
        self.assertEqual(data, {"revoked": 4})
        for tok in toks:
            self.assertError(self.req("GET", self.me, token=tok), 401, "ERR_UNAUTHORIZED")
        self.assertEqual(self.req("GET", self.me, token=keep)[2]["uid"], "other")
        st, _, data = self.req("DELETE", self.tokens, token=self.key)
        self.assertEqual((st, data), (200, {"revoked": 0}))
        # New tokens work again.
        self.assertEqual(self.req("GET", self.me, token=self.mint_token(self.app, "tom"))[0], 200)

    def test_revoking_needs_a_rest_key_and_a_known_user(self):
        tok = self.mint({})[2]["authToken"]
        other = self.create_app()
        self.assertError(self.req("DELETE", self.tokens, token=tok), 403, "ERR_FORBIDDEN")
        self.assertError(self.req("DELETE", self.tokens), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("DELETE", self.tokens, token=other["restApiKey"]),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"/v1/apps/{self.a}/users/ghost/auth_tokens",
                                  token=self.key), 404, "ERR_NOT_FOUND")
        self.assertEqual(self.req("GET", self.me, token=tok)[0], 200)
        st, _, data = self.req("DELETE", self.tokens, token=self.master)
        self.assertEqual((st, data), (200, {"revoked": 1}))


class LoginTest(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("login")
        self.a = self.app["appId"]
        self.create_user(self.app, "lia", "Lia")
        self.login_path = f"/v1/apps/{self.a}/login"
        self.me = f"/v1/apps/{self.a}/me"

    def login(self, uid="lia", auth_key=None, app_id=None, token=None):
        path = f"/v1/apps/{app_id}/login" if app_id else self.login_path
        return self.req("POST", path, {"uid": uid, "authKey": auth_key or self.app["authKey"]},
                        token=token)

    def test_login_with_the_auth_key_returns_a_working_token_and_the_user(self):
        st, _, data = self.login()
        self.assertEqual(st, 200, data)
        self.assertEqual(set(data), {"authToken", "user"})
        self.assertTrue(data["authToken"].startswith("at_"), data)
        self.assertEqual(data["user"]["uid"], "lia")
        self.assertEqual(data["user"]["name"], "Lia")
        st, _, me = self.req("GET", self.me, token=data["authToken"])
        self.assertEqual(st, 200, me)
        self.assertEqual(me, data["user"])

    def test_each_login_is_a_separate_token(self):
        a = self.login()[2]["authToken"]
        b = self.login()[2]["authToken"]
        self.assertNotEqual(a, b)
        self.assertEqual(self.req("GET", self.me, token=a)[0], 200)
        self.assertEqual(self.req("GET", self.me, token=b)[0], 200)

    def test_login_with_a_wrong_auth_key_is_401(self):
        other = self.create_app()
        for key in ("ak_wrong", self.app["restApiKey"], other["authKey"], self.master, ""):
            with self.subTest(key=key[:3]):
                st, _, data = self.req("POST", self.login_path, {"uid": "lia", "authKey": key})
                if key == "":
                    self.assertIn(st, (400, 401), data)
                else:
                    self.assertError((st, None, data), 401, "ERR_UNAUTHORIZED")

    def test_login_to_an_unknown_app_is_404(self):
        self.assertError(self.login(app_id="nosuchapp"), 404, "ERR_NOT_FOUND")

    def test_login_of_an_unknown_uid_with_the_right_key_is_404(self):
        self.assertError(self.login(uid="ghost"), 404, "ERR_NOT_FOUND")

    def test_login_is_forbidden_when_the_app_turns_auth_key_login_off(self):
        st, _, _ = self.req("PATCH", f"/v1/apps/{self.a}", {"settings": {"authKeyLogin": False}},
                            token=self.app["restApiKey"])
        self.assertEqual(st, 200)
        self.assertError(self.login(), 403, "ERR_FORBIDDEN")
        # Server-minted tokens still work.
        self.assertEqual(self.req("GET", self.me, token=self.mint_token(self.app, "lia"))[0],
                         200)
        st, _, _ = self.req("PATCH", f"/v1/apps/{self.a}", {"settings": {"authKeyLogin": True}},
                            token=self.app["restApiKey"])
        self.assertEqual(st, 200)
        self.assertEqual(self.login()[0], 200)

    def test_login_rejects_missing_or_bad_fields(self):
        for body, field in (({"authKey": self.app["authKey"]}, "uid"),
                            ({"uid": "lia"}, "authKey"),
                            ({"uid": 1, "authKey": self.app["authKey"]}, "uid"),
                            ({"uid": "a b", "authKey": self.app["authKey"]}, "uid"),
                            ({"uid": "lia", "authKey": 5}, "authKey"),
                            ({"uid": "lia", "authKey": None}, "authKey")):
            with self.subTest(body=body):
                self.assertError(self.req("POST", self.login_path, body),
                                 400, "ERR_BAD_REQUEST", field=field)

    def test_login_ignores_an_authorization_header(self):
        st, _, data = self.login(token="rk_garbage")
        self.assertEqual(st, 200, data)

    def test_me_needs_an_auth_token_of_this_app(self):
        tok = self.login()[2]["authToken"]
        other = self.create_app()
        self.create_user(other, "lia")
        other_tok = self.mint_token(other, "lia")
        self.assertError(self.req("GET", self.me), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("GET", self.me, token="at_bogus"), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("GET", self.me, token=self.app["restApiKey"]),
                         403, "ERR_FORBIDDEN")
        self.assertError(self.req("GET", self.me, token=self.master), 403, "ERR_FORBIDDEN")
        self.assertError(self.req("GET", self.me, token=other_tok), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", self.me, token=self.app["authKey"]),
                         401, "ERR_UNAUTHORIZED")
        self.assertEqual(self.req("GET", self.me, token=tok)[0], 200)

    def test_me_reflects_updates_to_the_user(self):
        tok = self.login()[2]["authToken"]
        self.req("PATCH", f"/v1/apps/{self.a}/users/lia", {"name": "Lia B"},
                 token=self.app["restApiKey"])
        self.assertEqual(self.req("GET", self.me, token=tok)[2]["name"], "Lia B")

    def test_logout_revokes_only_that_token(self):
        one = self.login()[2]["authToken"]
        two = self.login()[2]["authToken"]
        minted = self.mint_token(self.app, "lia")
        st, _, data = self.req("POST", f"/v1/apps/{self.a}/logout", token=one)
        self.assertEqual(st, 204, data)
        self.assertEqual(data, "")
        self.assertError(self.req("GET", self.me, token=one), 401, "ERR_UNAUTHORIZED")
        self.assertEqual(self.req("GET", self.me, token=two)[0], 200)
        self.assertEqual(self.req("GET", self.me, token=minted)[0], 200)
        self.assertError(self.req("POST", f"/v1/apps/{self.a}/logout", token=one),
                         401, "ERR_UNAUTHORIZED")

    def test_logout_without_any_body_or_content_length(self):
        tok = self.login()[2]["authToken"]
        reply = raw_http(self.server, f"POST /v1/apps/{self.a}/logout HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {tok}\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 204"), reply[:200])
        self.assertError(self.req("GET", self.me, token=tok), 401, "ERR_UNAUTHORIZED")

    def test_logout_with_content_length_zero(self):
        tok = self.login()[2]["authToken"]
        st, _, data = self.req("POST", f"/v1/apps/{self.a}/logout", raw=b"", token=tok)
        self.assertEqual(st, 204, data)
        self.assertError(self.req("GET", self.me, token=tok), 401, "ERR_UNAUTHORIZED")

    def test_logout_accepts_an_empty_json_body(self):
        tok = self.login()[2]["authToken"]
        st, _, data = self.req("POST", f"/v1/apps/{self.a}/logout", {}, token=tok)
        self.assertEqual(st, 204, data)
        self.assertError(self.req("GET", self.me, token=tok), 401, "ERR_UNAUTHORIZED")

    def test_logout_needs_an_auth_token(self):
        tok = self.login()[2]["authToken"]
        logout = f"/v1/apps/{self.a}/logout"
        self.assertError(self.req("POST", logout), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", logout, token=self.app["restApiKey"]),
                         403, "ERR_FORBIDDEN")
        self.assertError(self.req("POST", logout, token=self.master), 403, "ERR_FORBIDDEN")
        other = self.create_app()
        self.assertError(self.req("POST", f"/v1/apps/{other['appId']}/logout", token=tok),
                         404, "ERR_NOT_FOUND")
        self.assertEqual(self.req("GET", self.me, token=tok)[0], 200)

    def test_a_token_works_only_on_its_own_app_even_with_the_same_uid(self):
        other = self.create_app()
        self.create_user(other, "lia", "Other Lia")
        tok = self.login()[2]["authToken"]
        self.assertError(self.req("GET", f"/v1/apps/{other['appId']}/me", token=tok),
                         404, "ERR_NOT_FOUND")
        self.assertEqual(self.req("GET", self.me, token=tok)[2]["name"], "Lia")


if __name__ == "__main__":
    unittest.main()
