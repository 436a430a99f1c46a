"""The push service fakes answer curl (libcurl and nghttp2, as callwire uses them) the way
APNs, FCM, Google OAuth and a webhook receiver would, and refuse what those would refuse."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from cryptography.hazmat.primitives.asymmetric import ec

from fakes.push_fakes import (FCM_SCOPE, JWT_BEARER, FakeAPNs, FakeFCM, FakeOAuth,
                              TestPKI, WebhookSink, apns_token, fcm_token, jwt_encode,
                              sign_webhook)

CURL_TIMEOUT = 20.0
TEAM = "TEAM123456"
BUNDLE = "com.example.callwire"


def curl(url, *args, data=None, cafile=None, timeout=CURL_TIMEOUT):
    """One request by the curl command line: (status, headers, body, HTTP version)."""
    with tempfile.TemporaryDirectory() as d:
        hdr, out = os.path.join(d, "headers"), os.path.join(d, "body")
        cmd = ["curl", "-sS", "-D", hdr, "-o", out, "-w", "%{http_code} %{http_version}"]
        if cafile:
            cmd += ["--cacert", cafile]
        if data is not None:
            cmd += ["--data-binary", "@-"]
        proc = subprocess.run(cmd + list(args) + [url], input=data, capture_output=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"curl exited with {proc.returncode}: {proc.stderr.decode()}")
        status, version = proc.stdout.decode().split()
        headers = {}
        with open(hdr, encoding="latin-1") as f:
            for line in f.read().splitlines()[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
        with open(out, "rb") as f:
            body = f.read()
    return int(status), headers, body, version


def no_fake_threads():
    return [t.name for t in threading.enumerate()
            if t.name.startswith(("fake-", "webhook-sink"))]


class FakeTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="callwire-fakes-")
        cls.pki = TestPKI(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        # Cleanups run last registered first: this one runs after the fakes' stop().
        self.addCleanup(lambda: self.assertEqual(no_fake_threads(), [],
                                                 "a fake left threads running"))

    def json_of(self, body):
        return json.loads(body.decode())


class APNsTest(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.p8, self.key_id = self.pki.apns_key()
        self.apns = FakeAPNs(self.pki, TEAM, self.key_id, self.p8, BUNDLE).start()
        self.addCleanup(self.apns.stop)
        self.token = apns_token()

    def jwt(self, key=None, iat=None, kid=None):
        return jwt_encode(key or self.p8, {"alg": "ES256", "kid": kid or self.key_id},
                          {"iss": TEAM, "iat": int(time.time()) if iat is None else iat})

    def push(self, token=None, jwt=None, topic=BUNDLE + ".voip", kind="voip", payload=None,
             extra=(), urls=None):
        args = ["--http2", "-H", f"authorization: bearer {jwt or self.jwt()}",
                "-H", f"apns-topic: {topic}", "-H", f"apns-push-type: {kind}",
                "-H", "apns-priority: 10", "-H", f"apns-expiration: {int(time.time()) + 30}",
                "-H", "apns-collapse-id: session-1"] + list(extra)
        body = json.dumps(payload or {"type": "call", "sessionId": "session-1"}).encode()
        return curl(f"{self.apns.url}/3/device/{token or self.token}", *args, data=body,
                    cafile=self.pki.ca_file)

    def test_a_valid_voip_push_is_answered_200_with_an_apns_id_and_recorded(self):
        status, headers, body, version = self.push()
        self.assertEqual((status, version, body), (200, "2", b""))
        self.assertRegex(headers.get("apns-id", ""), r"^[0-9A-F-]{36}$")
        rec = self.apns.wait_requests(1, match=lambda r: r["status"] == 200)[0]
        self.assertEqual(rec["token"], self.token)
        self.assertEqual(rec["body"], {"type": "call", "sessionId": "session-1"})
        self.assertEqual(rec["headers"]["apns-push-type"], "voip")
        self.assertEqual(rec["claims"]["iss"], TEAM)
        self.assertEqual(self.apns.distinct_jwts(), [rec["jwt"]])
        self.assertEqual(self.apns.errors, [])

    def test_a_jwt_signed_with_another_key_is_refused_403_invalid_provider_token(self):
        other = ec.generate_private_key(ec.SECP256R1())
        status, _, body, _ = self.push(jwt=self.jwt(key=other))
        self.assertEqual((status, self.json_of(body)), (403, {"reason": "InvalidProviderToken"}))
        self.assertIn("signature", self.apns.errors[0])

    def test_a_jwt_older_than_an_hour_is_refused_403_expired_provider_token(self):
        status, _, body, _ = self.push(jwt=self.jwt(iat=int(time.time()) - 3700))
        self.assertEqual((status, self.json_of(body)["reason"]), (403, "ExpiredProviderToken"))

    def test_a_new_provider_token_within_20_minutes_on_one_connection_is_refused_429(self):
        now = int(time.time())
        first, second = self.jwt(iat=now - 60), self.jwt(iat=now)

        def push(jwt):  # curl reuses its connection across --next
            return ["--http2", "--cacert", self.pki.ca_file, "-sS", "-o", "/dev/null",
                    "-w", "%{http_code}\n", "-H", f"authorization: bearer {jwt}",
                    "-H", f"apns-topic: {BUNDLE}.voip", "-H", "apns-push-type: voip",
                    "--data-binary", "{}", f"{self.apns.url}/3/device/{self.token}"]

        out = subprocess.run(["curl", *push(first), "--next", *push(second), "--next",
                              *push(first)], capture_output=True, timeout=CURL_TIMEOUT)
        self.assertEqual(out.stdout.decode().split(), ["200", "429", "200"], out.stderr)
        self.assertEqual(self.apns.connections, 1)
        self.assertEqual([r["reason"] for r in self.apns.requests],
                         [None, "TooManyProviderTokenUpdates", None])

    def test_a_voip_push_to_the_bundle_topic_is_refused_400_bad_topic(self):
        status, _, body, _ = self.push(topic=BUNDLE)
        self.assertEqual((status, self.json_of(body)["reason"]), (400, "BadTopic"))
        self.assertIn(BUNDLE + ".voip", self.apns.errors[0])
        status, _, body, _ = self.push(kind="alert", topic=BUNDLE)  # no aps.alert
        self.assertEqual((status, self.json_of(body)["reason"]), (400, "BadPayload"))

    def test_a_token_that_is_not_hex_is_refused_400_bad_device_token(self):
        status, _, body, _ = self.push(token="not-a-token")
        self.assertEqual((status, self.json_of(body)["reason"]), (400, "BadDeviceToken"))

    def test_a_scripted_503_with_retry_after_comes_first_then_success(self):
        self.apns.script(self.token, [(503, "ServiceUnavailable", {"retry-after": "2"})])
        status, headers, body, _ = self.push()
        self.assertEqual((status, self.json_of(body)), (503, {"reason": "ServiceUnavailable"}))
        self.assertEqual(headers.get("retry-after"), "2")
        self.assertEqual(self.push()[0], 200)
        self.assertEqual([r["status"] for r in self.apns.requests], [503, 200])
        self.assertEqual(self.apns.errors, [], "a scripted answer is not a violation")

    def test_an_unregistered_token_is_answered_410_with_a_timestamp(self):
        self.apns.unregister(self.token)
        status, _, body, _ = self.push()
        answer = self.json_of(body)
        self.assertEqual((status, answer["reason"]), (410, "Unregistered"))
        self.assertIsInstance(answer["timestamp"], int)

    def test_held_streams_stay_open_together_on_one_connection_until_released(self):
        self.apns.hold()
        tokens = [apns_token() for _ in range(20)]
        jwt = self.jwt()
        args = ["curl", "-sS", "--parallel", "--parallel-max", "50", "--http2",
                "--cacert", self.pki.ca_file, "-w", "%{http_code} %{http_version}\n",
                "-H", f"authorization: bearer {jwt}", "-H", f"apns-topic: {BUNDLE}.voip",
                "-H", "apns-push-type: voip", "--data-binary", '{"type":"call"}']
        proc = subprocess.Popen(args + [f"{self.apns.url}/3/device/{t}" for t in tokens],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.apns.wait_requests(20)
            self.assertIsNone(proc.poll(), "curl finished although nothing was answered")
            self.assertTrue(all(r["status"] is None for r in self.apns.requests))
            self.apns.release()
            out, err = proc.communicate(timeout=CURL_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(out.decode().split("\n")[:-1], ["200 2"] * 20, err.decode())
        self.assertEqual(self.apns.connections, 1)
        self.assertEqual(len(self.apns.distinct_jwts()), 1)
        self.assertEqual(self.apns.errors, [])

    def test_a_client_without_http2_is_turned_away(self):
        with self.assertRaises(AssertionError):
            curl(f"{self.apns.url}/3/device/{self.token}", "--http1.1", data=b"{}",
                 cafile=self.pki.ca_file)
        self.assertIn("ALPN", self.apns.errors[0])


class GoogleTest(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.oauth = FakeOAuth(self.pki).start()
        self.addCleanup(self.oauth.stop)
        self.fcm = FakeFCM(self.pki, self.oauth).start()
        self.addCleanup(self.fcm.stop)
        self.sa = self.oauth.service_account

    def assertion(self, key=None, **claims):
        now = int(time.time())
        c = {"iss": self.sa["client_email"], "scope": FCM_SCOPE, "aud": self.sa["token_uri"],
             "iat": now, "exp": now + 3600}
        c.update(claims)
        return jwt_encode(key or self.sa["private_key"],
                          {"alg": "RS256", "typ": "JWT", "kid": self.sa["private_key_id"]}, c)

    def access_token(self, *curl_args, assertion=None):
        form = f"grant_type={JWT_BEARER}&assertion={assertion or self.assertion()}"
        return curl(self.sa["token_uri"], *curl_args, data=form.encode(),
                    cafile=self.pki.ca_file)

    def send(self, access_token, message=None):
        message = message or {"token": fcm_token(),
                              "data": {"type": "call", "callAction": "initiated",
                                       "sessionId": "session-1"},
                              "android": {"priority": "high", "ttl": "45s"}}
        return curl(f"{self.fcm.url}/v1/projects/callwire-test/messages:send", "--http2",
                    "-H", f"authorization: Bearer {access_token}",
                    "-H", "content-type: application/json",
                    data=json.dumps({"message": message}).encode(), cafile=self.pki.ca_file)

    def token(self):
        status, _, body, _ = self.access_token("--http2")
        self.assertEqual(status, 200, body)
        return self.json_of(body)["access_token"]

    def test_the_oauth_flow_then_a_data_message_is_sent(self):
        status, _, body, version = self.access_token("--http2")
        answer = self.json_of(body)
        self.assertEqual((status, version), (200, "2"))
        self.assertRegex(answer["access_token"], r"^ya29\.")
        self.assertEqual((answer["expires_in"], answer["token_type"]), (3600, "Bearer"))
        status, _, body, version = self.send(answer["access_token"])
        self.assertEqual((status, version), (200, "2"), body)
        self.assertRegex(self.json_of(body)["name"], r"^projects/callwire-test/messages/0:")
        rec = self.fcm.wait_requests(1)[0]
        self.assertEqual(rec["body"]["message"]["data"]["callAction"], "initiated")
        self.assertEqual(rec["access_token"], answer["access_token"])
        self.assertEqual((self.oauth.errors, self.fcm.errors), ([], []))

    def test_the_token_endpoint_also_speaks_http_1_1(self):
        self.assertEqual(self.access_token("--http1.1")[::3], (200, "1.1"))

    def test_an_assertion_signed_by_another_key_is_refused_invalid_grant(self):
        other = self.pki.service_account(self.sa["token_uri"])["private_key"]
        status, _, body, _ = self.access_token(assertion=self.assertion(key=other))
        self.assertEqual((status, self.json_of(body)["error"]), (400, "invalid_grant"))
        status, _, body, _ = self.access_token(assertion=self.assertion(exp=int(time.time())
                                                                        + 7200))
        self.assertEqual((status, self.json_of(body)["error"]), (400, "invalid_grant"))
        self.assertEqual(len(self.oauth.errors), 2, self.oauth.errors)

    def test_a_send_without_a_live_access_token_is_refused_401(self):
        status, _, body, _ = self.send("ya29.made-up")
        self.assertEqual((status, self.json_of(body)["error"]["status"]),
                         (401, "UNAUTHENTICATED"))
        token = self.token()
        self.oauth.expire_all()
        self.assertEqual(self.send(token)[0], 401)

    def test_data_values_must_be_strings(self):
        status, _, body, _ = self.send(self.token(), {"token": fcm_token(),
                                                      "data": {"sentAt": 1700000000}})
        self.assertEqual((status, self.json_of(body)["error"]["status"]),
                         (400, "INVALID_ARGUMENT"))
        self.assertIn("sentAt", self.fcm.errors[0])

    def test_unregistered_and_scripted_errors_come_in_googles_shape(self):
        token, device = self.token(), fcm_token()
        message = {"token": device, "data": {"type": "call"}}
        self.fcm.unregister(device)
        status, _, body, _ = self.send(token, message)
        self.assertEqual((status, self.json_of(body)), (404, {"error": {
            "code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                         "errorCode": "UNREGISTERED"}]}}))
        self.fcm.script_all([(429, "QUOTA_EXCEEDED", {"retry-after": "3"})])
        status, headers, body, _ = self.send(token)
        self.assertEqual((status, headers.get("retry-after")), (429, "3"))
        self.assertEqual(self.json_of(body)["error"]["details"][0]["errorCode"],
                         "QUOTA_EXCEEDED")
        self.assertEqual(self.fcm.errors, [])


class WebhookTest(FakeTestCase):
    SECRET = "whsec-test"

    def post(self, sink, raw, signature=None, *args):
        headers = ["-H", "content-type: application/json"]
        if signature:
            headers += ["-H", f"Callwire-Signature: {signature}"]
        return curl(sink.url + "/hooks/callwire", *headers, *args, data=raw,
                    cafile=self.pki.ca_file)

    def test_a_signed_webhook_is_recorded_and_verifies(self):
        raw = json.dumps({"event": "call.ended", "sessionId": "s1"}).encode()
        with WebhookSink() as sink:
            sink.script([(500, {"retry-after": "1"})])
            self.assertEqual(self.post(sink, raw, sign_webhook(self.SECRET, raw))[0], 500)
            self.assertEqual(self.post(sink, raw, sign_webhook(self.SECRET, raw))[0], 200)
            recs = sink.wait_requests(2)
            self.assertEqual([r["status"] for r in recs], [500, 200])
            self.assertEqual((recs[1]["body"]["event"], recs[1]["raw"]), ("call.ended", raw))
            sink.verify(self.SECRET)
            with self.assertRaisesRegex(AssertionError, "no v1 signature matches"):
                sink.verify("another secret")
            self.assertEqual(sink.errors, [])

    def test_a_sink_with_the_secret_refuses_a_stale_or_unsigned_post_over_tls(self):
        raw = b'{"event":"call.accepted"}'
        with WebhookSink(self.pki, secret=self.SECRET) as sink:
            self.assertTrue(sink.url.startswith("https://"))
            stale = sign_webhook(self.SECRET, raw, int(time.time()) - 600)
            self.assertEqual(self.post(sink, raw, stale)[0], 401)
            self.assertEqual(self.post(sink, raw)[0], 401)
            self.assertEqual(self.post(sink, raw, sign_webhook(self.SECRET, raw))[0], 200)
            self.assertEqual(len(sink.errors), 2, sink.errors)


if __name__ == "__main__":
    unittest.main()
