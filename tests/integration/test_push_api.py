"""Push and webhooks over REST: device tokens, push settings, webhook settings.

What is sent to APNs, FCM and webhook receivers is tested against the fake servers; this
file covers what the API accepts, stores and shows, and that secrets never come back out.
"""

import json
import os
import re
import tempfile
import unittest
import urllib.parse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import ServerTestCase, q

NO_ENC = serialization.NoEncryption()


def pem(key, fmt=serialization.PrivateFormat.PKCS8, enc=NO_ENC):
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode()


def body_line(pem_text):
    """A line of the key's base64 body: if a response held the key, it would hold this."""
    return pem_text.strip().splitlines()[1]


# Generated once: RSA key generation takes a moment.
P256 = ec.generate_private_key(ec.SECP256R1())
APNS_KEY = pem(P256)
RSA_KEY = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
BAD_APNS_KEYS = {
    "P-384": pem(ec.generate_private_key(ec.SECP384R1())),
    "SEC1 form": pem(ec.generate_private_key(ec.SECP256R1()),
                     serialization.PrivateFormat.TraditionalOpenSSL),
    "encrypted": pem(ec.generate_private_key(ec.SECP256R1()),
                     enc=serialization.BestAvailableEncryption(b"secret")),
    "RSA": RSA_KEY,
    "public key": P256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    "garbage": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    "not PEM": "hello",
}

APNS = {"teamId": "TEAM123456", "keyId": "KEY1234567", "key": APNS_KEY,
        "bundleId": "com.example.calls"}
SERVICE_ACCOUNT = {"type": "service_account", "project_id": "callwire-demo",
                   "private_key_id": "0123abcd", "private_key": RSA_KEY,
                   "client_email": "push@callwire-demo.iam.gserviceaccount.com",
                   "client_id": "1234567890"}

VOIP = "a1" * 32          # a 64-hex-digit APNs token
FCM = "fGh1:APA91b" + "x_y-z." * 20
EMPTY_PUSH = {"pushAlways": False, "apns": None, "fcm": None,
              "endpoints": {"apns": None, "fcm": None, "oauth": None, "caFile": None}}
SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9_-]{43}$")


class PushApiTest(ServerTestCase):
    def setUp(self):
        self.responses = []
        self.secrets = [body_line(APNS_KEY), body_line(RSA_KEY)]
        self.shown_once = []
        self.app = self.create_app("push")
        self.a = self.app["appId"]
        self.key = self.app["restApiKey"]
        for uid in ("alice", "bob"):
            self.create_user(self.app, uid)
        self.alice = self.mint_token(self.app, "alice")
        self.bob = self.mint_token(self.app, "bob")
        self.other = self.create_app("other")
        self.create_user(self.other, "alice")
        self.other_alice = self.mint_token(self.other, "alice")

    def tearDown(self):
        # No answer of this test ever showed a key, and each webhook secret showed only in
        # the answer that made it; no log line ever showed either.
        log = self.server.log()
        for secret in self.secrets:
            self.assertEqual([t for t in self.responses if secret in t], [])
            self.assertNotIn(secret, log)
        for secret in self.shown_once:
            self.assertEqual(len([t for t in self.responses if secret in t]), 1, secret)
            self.assertNotIn(secret, log)

    def req(self, method, path, body=None, token=None, raw=None, headers=None):
        resp = super().req(method, path, body=body, token=token, raw=raw, headers=headers)
        self.responses.append(json.dumps(resp[2]) if not isinstance(resp[2], str) else resp[2])
        return resp

    # shorthands -------------------------------------------------------------

    def tokens_path(self, app=None):
        return f"/v1/apps/{(app or self.app)['appId']}/me/push_tokens"

    def register(self, token, body):
        return self.req("POST", self.tokens_path(), body, token=token)

    def tokens_of(self, token, app=None):
        data = self.assertStatus(self.req("GET", self.tokens_path(app), token=token), 200)
        self.assertEqual(set(data), {"data"})
        return data["data"]

    def push(self, token=None):
        return self.assertStatus(self.req("GET", f"/v1/apps/{self.a}/push",
                                          token=token or self.key), 200)

    def patch_push(self, body, token=None):
        return self.req("PATCH", f"/v1/apps/{self.a}/push", body, token=token or self.key)

    def webhooks(self):
        return self.assertStatus(self.req("GET", f"/v1/apps/{self.a}/webhooks",
                                          token=self.key), 200)

    def patch_webhooks(self, body):
        return self.req("PATCH", f"/v1/apps/{self.a}/webhooks", body, token=self.key)

    # device tokens ------------------------------------------------------------

    def test_registering_a_voip_token_answers_it_with_production_by_default(self):
        st, _, t = self.register(self.alice, {"platform": "apns_voip", "token": VOIP.upper()})
        self.assertEqual(st, 201, t)
        self.assertEqual(set(t), {"platform", "token", "environment", "createdAt"})
        self.assertEqual(t["platform"], "apns_voip")
        self.assertEqual(t["token"], VOIP)  # hex is kept in lowercase
        self.assertEqual(t["environment"], "production")
        self.assertIsInstance(t["createdAt"], int)
        self.assertEqual(self.tokens_of(self.alice), [t])

    def test_registering_the_same_token_again_is_200_with_the_same_object(self):
        body = {"platform": "apns", "token": VOIP, "environment": "sandbox"}
        st, _, first = self.register(self.alice, body)
        self.assertEqual(st, 201, first)
        self.assertEqual(first["environment"], "sandbox")
        st, _, again = self.register(self.alice, body)
        self.assertEqual(st, 200, again)
        self.assertEqual(again, first)
        self.assertEqual(self.tokens_of(self.alice), [first])

    def test_fcm_tokens_have_no_environment_and_keep_their_case(self):
        st, _, t = self.register(self.alice, {"platform": "fcm", "token": FCM,
                                              "environment": "sandbox"})
        self.assertEqual(st, 201, t)
        self.assertEqual(t["token"], FCM)
        self.assertIsNone(t["environment"])

    def test_apns_tokens_default_to_the_apps_apns_environment(self):
        self.assertStatus(self.patch_push({"apns": dict(APNS, environment="sandbox")}), 200)
        st, _, t = self.register(self.alice, {"platform": "apns_voip", "token": VOIP})
        self.assertEqual(st, 201, t)
        self.assertEqual(t["environment"], "sandbox")
        st, _, t = self.register(self.alice, {"platform": "apns", "token": VOIP,
                                              "environment": "production"})
        self.assertEqual(t["environment"], "production")

    def test_token_formats_follow_each_platform(self):
        ok = [("apns_voip", "0" * 64), ("apns", "aB" * 100), ("fcm", "x"),
              ("fcm", "A:b_c-d." + "z" * 4088)]
        bad = [("apns_voip", "0" * 63), ("apns_voip", "0" * 201), ("apns", "g" * 64),
               ("apns", "0" * 63 + " "), ("fcm", ""), ("fcm", "x" * 4097), ("fcm", "a/b"),
               ("fcm", "a b"), ("fcm", "é")]
        for platform, token in ok:
            with self.subTest(platform=platform, length=len(token)):
                self.assertStatus(self.register(self.alice, {"platform": platform,
                                                             "token": token}), 201)
        for platform, token in bad:
            with self.subTest(platform=platform, token=token[:20], length=len(token)):
                self.assertError(self.register(self.alice, {"platform": platform,
                                                            "token": token}),
                                 400, "ERR_BAD_REQUEST", "token")
        self.assertEqual(len(self.tokens_of(self.alice)), len(ok))

    def test_bad_bodies_are_400_naming_the_field(self):
        cases = [({"token": VOIP}, "platform"), ({"platform": "voip", "token": VOIP}, "platform"),
                 ({"platform": 1, "token": VOIP}, "platform"), ({"platform": "fcm"}, "token"),
                 ({"platform": "fcm", "token": 12}, "token"),
                 ({"platform": "apns", "token": VOIP, "environment": "dev"}, "environment"),
                 ({"platform": "apns", "token": VOIP, "environment": True}, "environment")]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertError(self.register(self.alice, body), 400, "ERR_BAD_REQUEST", field)
        self.assertError(self.req("POST", self.tokens_path(), raw="[]", token=self.alice),
                         400, "ERR_BAD_REQUEST", "body")
        self.assertEqual(self.tokens_of(self.alice), [])

    def test_only_a_users_auth_token_may_use_the_token_routes(self):
        body = {"platform": "fcm", "token": FCM}
        for cred in (self.key, self.master):
            with self.subTest(cred=cred[:3]):
                self.assertError(self.register(cred, body), 403, "ERR_FORBIDDEN")
                self.assertError(self.req("GET", self.tokens_path(), token=cred), 403,
                                 "ERR_FORBIDDEN")
                self.assertError(self.req("DELETE", f"{self.tokens_path()}/{FCM}", token=cred),
                                 403, "ERR_FORBIDDEN")
        self.assertError(self.register(None, body), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.register(self.other_alice, body), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", self.tokens_path(), token=self.other["restApiKey"]),
                         404, "ERR_NOT_FOUND")

    def test_the_list_has_the_users_tokens_of_every_device_oldest_first(self):
        phone = self.mint_token(self.app, "alice")
        a = self.assertStatus(self.register(self.alice, {"platform": "apns_voip",
                                                         "token": VOIP}), 201)
        b = self.assertStatus(self.register(phone, {"platform": "fcm", "token": FCM}), 201)
        self.assertStatus(self.register(self.bob, {"platform": "fcm", "token": "bobs"}), 201)
        self.assertEqual(self.tokens_of(self.alice), [a, b])
        self.assertEqual(self.tokens_of(phone), [a, b])
        self.assertEqual([t["token"] for t in self.tokens_of(self.bob)], ["bobs"])
        # The same uid in another app is another user.
        self.assertEqual(self.tokens_of(self.other_alice, self.other), [])

    def test_a_token_registered_by_another_user_moves_to_them(self):
        self.assertStatus(self.register(self.alice, {"platform": "fcm", "token": FCM}), 201)
        st, _, t = self.register(self.bob, {"platform": "fcm", "token": FCM})
        self.assertEqual(st, 200, t)
        self.assertEqual(self.tokens_of(self.alice), [])
        self.assertEqual(self.tokens_of(self.bob), [t])
        # alice can no longer remove what is now bob's.
        self.assertError(self.req("DELETE", f"{self.tokens_path()}/{FCM}", token=self.alice),
                         404, "ERR_NOT_FOUND")
        self.assertEqual(self.tokens_of(self.bob), [t])

    def test_a_token_is_unique_per_app(self):
        self.assertStatus(self.register(self.alice, {"platform": "fcm", "token": FCM}), 201)
        st, _, t = self.req("POST", self.tokens_path(self.other),
                            {"platform": "fcm", "token": FCM}, token=self.other_alice)
        self.assertEqual(st, 201, t)
        self.assertEqual(len(self.tokens_of(self.alice)), 1)

    def test_deleting_a_token(self):
        self.assertStatus(self.register(self.alice, {"platform": "apns_voip",
                                                     "token": VOIP}), 201)
        self.assertStatus(self.register(self.alice, {"platform": "fcm", "token": FCM}), 201)
        # An FCM token's ':' may be sent as it is or percent-encoded.
        st, _, data = self.req("DELETE", f"{self.tokens_path()}/{q(FCM)}", token=self.alice)
        self.assertEqual(st, 204, data)
        self.assertError(self.req("DELETE", f"{self.tokens_path()}/{FCM}", token=self.alice),
                         404, "ERR_NOT_FOUND")
        # APNs tokens are hex in either case.
        self.assertEqual(self.req("DELETE", f"{self.tokens_path()}/{VOIP.upper()}",
                                  token=self.alice)[0], 204)
        self.assertEqual(self.tokens_of(self.alice), [])

    def test_a_long_fcm_token_can_be_deleted_by_path(self):
        token = "L:" + "q" * 4094
        self.assertStatus(self.register(self.alice, {"platform": "fcm", "token": token}), 201)
        st, _, data = self.req("DELETE", f"{self.tokens_path()}/{token}", token=self.alice)
        self.assertEqual(st, 204, data)
        self.assertEqual(self.tokens_of(self.alice), [])

    def test_a_token_in_the_path_that_cannot_exist_is_400(self):
        for token in ("a%20b", "a,b", "a%21b", "x" * 4097, "%C3%A9"):
            with self.subTest(token=token[:20]):
                self.assertError(self.req("DELETE", f"{self.tokens_path()}/{token}",
                                          token=self.alice), 400, "ERR_BAD_REQUEST", "token")

    def test_logout_removes_the_tokens_of_that_device_only(self):
        phone = self.mint_token(self.app, "alice")
        self.assertStatus(self.register(self.alice, {"platform": "apns_voip",
                                                     "token": VOIP}), 201)
        self.assertStatus(self.register(self.alice, {"platform": "apns",
                                                     "token": "b2" * 32}), 201)
        kept = self.assertStatus(self.register(phone, {"platform": "fcm", "token": FCM}), 201)
        self.assertStatus(self.register(self.bob, {"platform": "fcm", "token": "bobs"}), 201)
        st, _, data = self.req("POST", f"/v1/apps/{self.a}/logout", token=self.alice)
        self.assertEqual(st, 204, data)
        self.assertEqual(self.tokens_of(phone), [kept])
        self.assertEqual(len(self.tokens_of(self.bob)), 1)

    def test_revoking_a_users_auth_tokens_removes_their_push_tokens(self):
        self.assertStatus(self.register(self.alice, {"platform": "fcm", "token": FCM}), 201)
        self.assertStatus(self.register(self.bob, {"platform": "fcm", "token": "bobs"}), 201)
        st, _, data = self.req("DELETE", f"/v1/apps/{self.a}/users/alice/auth_tokens",
                               token=self.key)
        self.assertEqual((st, data), (200, {"revoked": 1}))
        self.assertEqual(self.tokens_of(self.mint_token(self.app, "alice")), [])
        self.assertEqual(len(self.tokens_of(self.bob)), 1)

    def test_deleting_a_user_removes_their_push_tokens(self):
        self.assertStatus(self.register(self.alice, {"platform": "fcm", "token": FCM}), 201)
        self.assertEqual(self.req("DELETE", f"/v1/apps/{self.a}/users/alice",
                                  token=self.key)[0], 204)
        self.create_user(self.app, "alice")
        self.assertEqual(self.tokens_of(self.mint_token(self.app, "alice")), [])

    # push settings ------------------------------------------------------------

    def test_an_app_starts_without_push_settings(self):
        self.assertEqual(self.push(), EMPTY_PUSH)
        self.assertEqual(self.push(self.master), EMPTY_PUSH)

    def test_apns_and_fcm_settings_are_shown_without_their_keys(self):
        st, _, view = self.patch_push({"pushAlways": True, "apns": APNS,
                                       "fcm": {"serviceAccount": SERVICE_ACCOUNT}})
        self.assertEqual(st, 200, view)
        self.assertEqual(view, {
            "pushAlways": True,
            "apns": {"teamId": "TEAM123456", "keyId": "KEY1234567",
                     "bundleId": "com.example.calls", "environment": "production",
                     "keySet": True},
            "fcm": {"projectId": "callwire-demo",
                    "clientEmail": "push@callwire-demo.iam.gserviceaccount.com",
                    "keySet": True},
            "endpoints": EMPTY_PUSH["endpoints"]})
        self.assertEqual(self.push(), view)
        self.assertEqual(self.push(self.master), view)
        # Another app sees none of it.
        st, _, theirs = self.req("GET", f"/v1/apps/{self.other['appId']}/push",
                                 token=self.other["restApiKey"])
        self.assertEqual((st, theirs), (200, EMPTY_PUSH))

    def test_partial_updates_keep_the_other_parts(self):
        self.assertStatus(self.patch_push({"apns": APNS,
                                           "fcm": {"serviceAccount": SERVICE_ACCOUNT}}), 200)
        before = self.push()
        view = self.assertStatus(self.patch_push({"pushAlways": True}), 200)
        self.assertEqual(view, dict(before, pushAlways=True))
        # Inside apns, only what is named changes; the key stays.
        view = self.assertStatus(self.patch_push({"apns": {"environment": "sandbox",
                                                           "keyId": "NEWKEY0001"}}), 200)
        self.assertEqual(view["apns"], dict(before["apns"], environment="sandbox",
                                            keyId="NEWKEY0001"))
        self.assertEqual(view["fcm"], before["fcm"])
        view = self.assertStatus(self.patch_push({}), 200)
        self.assertEqual(view, self.push())

    def test_null_removes_a_part(self):
        self.assertStatus(self.patch_push({"apns": APNS,
                                           "fcm": {"serviceAccount": SERVICE_ACCOUNT},
                                           "endpoints": {"apns": "https://127.0.0.1:8443",
                                                         "fcm": "http://127.0.0.1:9000"}}),
                          200)
        view = self.assertStatus(self.patch_push({"apns": None}), 200)
        self.assertIsNone(view["apns"])
        self.assertIsNotNone(view["fcm"])
        view = self.assertStatus(self.patch_push({"fcm": None,
                                                  "endpoints": {"apns": None}}), 200)
        self.assertIsNone(view["fcm"])
        self.assertEqual(view["endpoints"], dict(EMPTY_PUSH["endpoints"],
                                                 fcm="http://127.0.0.1:9000"))
        view = self.assertStatus(self.patch_push({"endpoints": None}), 200)
        self.assertEqual(view, EMPTY_PUSH)
        # Once removed, APNs needs every part again.
        self.assertError(self.patch_push({"apns": {"environment": "sandbox"}}), 400,
                         "ERR_BAD_REQUEST", "apns.teamId")

    def test_endpoint_overrides(self):
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
            f.write("-----BEGIN CERTIFICATE-----\n")
        self.addCleanup(os.unlink, f.name)
        endpoints = {"apns": "https://127.0.0.1:8443", "fcm": "https://localhost:9443/fcm",
                     "oauth": "http://[::1]:9444/token/", "caFile": f.name}
        # The server appends paths to the APNs and FCM base URLs: their last '/' goes.
        view = self.assertStatus(self.patch_push({"endpoints": dict(
            endpoints, apns="https://127.0.0.1:8443/", fcm="https://localhost:9443/fcm/")}), 200)
        self.assertEqual(view["endpoints"], endpoints)
        self.assertEqual(self.push()["endpoints"], endpoints)

    def test_bad_apns_keys_are_refused(self):
        for name, key in BAD_APNS_KEYS.items():
            with self.subTest(key=name):
                self.assertError(self.patch_push({"apns": dict(APNS, key=key)}), 400,
                                 "ERR_BAD_REQUEST", "apns.key")
        self.assertEqual(self.push(), EMPTY_PUSH)

    def test_bad_service_account_keys_are_refused(self):
        for name, key in (("EC", APNS_KEY), ("garbage", BAD_APNS_KEYS["garbage"]),
                          ("encrypted", pem(rsa.generate_private_key(65537, 2048),
                                            enc=serialization.BestAvailableEncryption(b"pw")))):
            with self.subTest(key=name):
                body = {"fcm": {"serviceAccount": dict(SERVICE_ACCOUNT, private_key=key)}}
                self.assertError(self.patch_push(body), 400, "ERR_BAD_REQUEST",
                                 "fcm.serviceAccount.private_key")
        self.assertEqual(self.push(), EMPTY_PUSH)

    def test_every_bad_field_is_400_naming_it_and_changes_nothing(self):
        self.assertStatus(self.patch_push({"apns": APNS}), 200)
        before = self.push()
        sa = SERVICE_ACCOUNT
        cases = [
            ({"pushAlways": "yes"}, "pushAlways"),
            ({"apns": "on"}, "apns"),
            ({"apns": dict(APNS, teamId="team123456")}, "apns.teamId"),
            ({"apns": dict(APNS, teamId="TEAM12345")}, "apns.teamId"),
            ({"apns": dict(APNS, keyId=1234567890)}, "apns.keyId"),
            ({"apns": dict(APNS, keyId="KEY-123456")}, "apns.keyId"),
            ({"apns": dict(APNS, bundleId="calls")}, "apns.bundleId"),
            ({"apns": dict(APNS, bundleId="com..calls")}, "apns.bundleId"),
            ({"apns": dict(APNS, bundleId="com.example/calls")}, "apns.bundleId"),
            ({"apns": dict(APNS, bundleId="com." + "a" * 152)}, "apns.bundleId"),
            ({"apns": dict(APNS, environment="development")}, "apns.environment"),
            ({"fcm": "on"}, "fcm"),
            ({"fcm": {}}, "fcm.serviceAccount"),
            ({"fcm": {"serviceAccount": json.dumps(sa)}}, "fcm.serviceAccount"),
            ({"fcm": {"serviceAccount": {k: v for k, v in sa.items() if k != "project_id"}}},
             "fcm.serviceAccount.project_id"),
            ({"fcm": {"serviceAccount": dict(sa, project_id="a/b")}},
             "fcm.serviceAccount.project_id"),
            ({"fcm": {"serviceAccount": dict(sa, client_email="nobody")}},
             "fcm.serviceAccount.client_email"),
            ({"fcm": {"serviceAccount": dict(sa, token_uri="ftp://x/token")}},
             "fcm.serviceAccount.token_uri"),
            ({"endpoints": []}, "endpoints"),
            ({"endpoints": {"apns": "ftp://127.0.0.1"}}, "endpoints.apns"),
            ({"endpoints": {"fcm": "https://"}}, "endpoints.fcm"),
            ({"endpoints": {"oauth": 8443}}, "endpoints.oauth"),
            ({"endpoints": {"caFile": "ca.pem"}}, "endpoints.caFile"),
            ({"endpoints": {"caFile": "/nonexistent/ca.pem"}}, "endpoints.caFile"),
            ({"endpoints": {"caFile": "/"}}, "endpoints.caFile"),
        ]
        for body, field in cases:
            with self.subTest(field=field, body=str(body)[:80]):
                # A valid change sent along with the bad one is not applied either.
                self.assertError(self.patch_push(dict(body, pushAlways=True)
                                                 if "pushAlways" not in body else body),
                                 400, "ERR_BAD_REQUEST", field)
                self.assertEqual(self.push(), before)

    def test_push_settings_need_the_rest_key_or_the_master_key(self):
        self.assertError(self.req("GET", f"/v1/apps/{self.a}/push", token=self.alice), 403,
                         "ERR_FORBIDDEN")
        self.assertError(self.patch_push({"pushAlways": True}, token=self.alice), 403,
                         "ERR_FORBIDDEN")
        self.assertError(self.req("GET", f"/v1/apps/{self.a}/push"), 401, "ERR_UNAUTHORIZED")
        other = self.other["restApiKey"]
        self.assertError(self.req("GET", f"/v1/apps/{self.a}/push", token=other), 404,
                         "ERR_NOT_FOUND")
        self.assertError(self.patch_push({"pushAlways": True}, token=other), 404,
                         "ERR_NOT_FOUND")
        self.assertError(self.req("GET", "/v1/apps/nosuchapp/push", token=self.master), 404,
                         "ERR_NOT_FOUND")
        self.assertEqual(self.push(), EMPTY_PUSH)

    # webhooks -----------------------------------------------------------------

    def test_the_first_urls_create_a_secret_shown_once(self):
        self.assertEqual(self.webhooks(), {"urls": [], "secretSet": False})
        st, _, data = self.patch_webhooks({"urls": ["https://example.com/hooks"]})
        self.assertEqual(st, 200, data)
        self.assertRegex(data.get("secret", ""), SECRET_RE)
        self.shown_once.append(data["secret"])
        self.assertEqual(data, {"urls": ["https://example.com/hooks"], "secretSet": True,
                                "secret": data["secret"]})
        self.assertEqual(self.webhooks(), {"urls": ["https://example.com/hooks"],
                                           "secretSet": True})
        urls = ["https://example.com/hooks", "http://127.0.0.1:9000/calls?app=1"]
        st, _, data = self.patch_webhooks({"urls": urls})
        self.assertEqual((st, data), (200, {"urls": urls, "secretSet": True}))

    def test_rotating_gives_a_new_secret(self):
        first = self.assertStatus(self.patch_webhooks({"urls": ["https://a.example/h"]}),
                                  200)["secret"]
        second = self.assertStatus(self.patch_webhooks({"rotateSecret": True}), 200)
        self.assertRegex(second["secret"], SECRET_RE)
        self.assertNotEqual(second["secret"], first)
        self.assertEqual(second["urls"], ["https://a.example/h"])
        self.shown_once += [first, second["secret"]]
        self.assertNotIn("secret", self.assertStatus(self.patch_webhooks({"rotateSecret": False}),
                                                     200))

    def test_removing_every_url_keeps_the_secret(self):
        self.shown_once.append(self.assertStatus(
            self.patch_webhooks({"urls": ["https://a.example/h"]}), 200)["secret"])
        data = self.assertStatus(self.patch_webhooks({"urls": []}), 200)
        self.assertEqual(data, {"urls": [], "secretSet": True})
        data = self.assertStatus(self.patch_webhooks({"urls": ["https://b.example/h"]}), 200)
        self.assertNotIn("secret", data)
        # Webhook settings do not disturb push settings, nor the other way round.
        self.assertEqual(self.push(), EMPTY_PUSH)
        self.assertStatus(self.patch_push({"apns": APNS}), 200)
        self.assertEqual(self.webhooks(), {"urls": ["https://b.example/h"], "secretSet": True})

    def test_bad_webhook_settings_are_400_and_change_nothing(self):
        self.shown_once.append(self.assertStatus(
            self.patch_webhooks({"urls": ["https://a.example/h"]}), 200)["secret"])
        before = self.webhooks()
        cases = [({"urls": "https://a.example/h"}, "urls"),
                 ({"urls": [f"https://a.example/{i}" for i in range(6)]}, "urls"),
                 ({"urls": ["https://a.example/1", 2]}, "urls[1]"),
                 ({"urls": ["ftp://a.example/1"]}, "urls[0]"),
                 ({"urls": ["https://a.example/" + "x" * 1983]}, "urls[0]"),
                 ({"urls": ["https://a.example/1", "https://a.example/1"]}, "urls[1]"),
                 ({"urls": ["https://user:pw@a.example/1"]}, "urls[0]"),
                 ({"urls": ["https://b.example/h"], "rotateSecret": "yes"}, "rotateSecret")]
        for body, field in cases:
            with self.subTest(body=str(body)[:60]):
                self.assertError(self.patch_webhooks(body), 400, "ERR_BAD_REQUEST", field)
                self.assertEqual(self.webhooks(), before)
        # 2000 characters is the longest allowed.
        longest = "https://a.example/" + "x" * 1982
        self.assertStatus(self.patch_webhooks({"urls": [longest]}), 200)

    def test_webhook_settings_need_the_rest_key_or_the_master_key(self):
        path = f"/v1/apps/{self.a}/webhooks"
        self.assertError(self.req("GET", path, token=self.alice), 403, "ERR_FORBIDDEN")
        self.assertError(self.req("PATCH", path, {"urls": []}, token=self.alice), 403,
                         "ERR_FORBIDDEN")
        self.assertError(self.req("PATCH", path, {"urls": []},
                                  token=self.other["restApiKey"]), 404, "ERR_NOT_FOUND")
        data = self.assertStatus(self.req("PATCH", path, {"urls": ["https://m.example/"]},
                                          token=self.master), 200)
        self.shown_once.append(data["secret"])


if __name__ == "__main__":
    unittest.main()
