"""Call tokens: POST /v1/apps/{appId}/sessions/{sessionId}/token admits a ringing call's
participants to its session, anyone of the app to any other (meet) session, and no one
else. The token is a JWT (HS256) carrying app, uid, session, category and expiry."""

import base64
import json
import unittest

from wsclient import CallTestCase, now_ms

TWO_HOURS_MS = 2 * 3600 * 1000


def jwt_parts(token):
    """The header and claims of a JWT (not verified: the server's secret is its own)."""
    def decode(part):
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    head, body, sig = token.split(".")
    assert sig, "a signed token has a signature"
    return decode(head), decode(body)


class SessionTokenTest(CallTestCase):

    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol")
        self.tok = {u: self.token(u) for u in ("alice", "bob", "carol")}

    def token_for(self, uid, sid):
        return self.req("POST", self.p(f"/sessions/{sid}/token"), token=self.tok[uid])

    def ring(self):
        call = self.assertStatus(self.req("POST", self.p("/calls"),
                                          {"receiver": "bob", "receiverType": "user",
                                           "type": "audio"}, token=self.tok["alice"]), 201)
        return call["sessionId"]

    def test_a_ringing_calls_participants_get_a_token_with_its_claims(self):
        sid = self.ring()
        for uid in ("alice", "bob"):
            before = now_ms()
            body = self.assertStatus(self.token_for(uid, sid), 201)
            head, claims = jwt_parts(body["callToken"])
            self.assertEqual(head["alg"], "HS256")
            self.assertEqual(claims["app"], self.a)
            self.assertEqual(claims["uid"], uid)
            self.assertEqual(claims["session"], sid)
            self.assertEqual(claims["category"], "call")
            self.assertEqual(body["category"], "call")
            # Two hours, to the second the JWT can say.
            self.assertEqual(claims["exp"] * 1000, body["expiresAt"])
            self.assertGreaterEqual(body["expiresAt"], before - 1000 + TWO_HOURS_MS)
            self.assertLessEqual(body["expiresAt"], now_ms() + TWO_HOURS_MS)

    def test_someone_outside_a_ringing_call_is_refused(self):
        sid = self.ring()
        self.assertError(self.token_for("carol", sid), 403, "ERR_FORBIDDEN")

    def test_a_call_that_is_over_admits_no_one(self):
        sid = self.ring()
        self.assertStatus(self.req("POST", self.p(f"/calls/{sid}/cancel"),
                                   token=self.tok["alice"]), 200)
        self.assertError(self.token_for("bob", sid), 409, "ERR_INVALID_STATE")

    def test_any_other_session_id_is_a_meet_session_open_to_every_user(self):
        for uid in ("alice", "carol"):
            body = self.assertStatus(self.token_for(uid, "weekly-standup_7"), 201)
            _, claims = jwt_parts(body["callToken"])
            self.assertEqual(claims["category"], "meet")
            self.assertEqual(claims["session"], "weekly-standup_7")
            self.assertEqual(claims["uid"], uid)

    def test_tokens_of_two_apps_differ_for_the_same_user_and_session(self):
        a1 = self.assertStatus(self.token_for("alice", "room"), 201)["callToken"]
        self.new_app("second")
        self.users("alice")
        other = self.mint_token(self.app, "alice")
        a2 = self.assertStatus(self.req("POST", self.p("/sessions/room/token"), token=other),
                               201)["callToken"]
        self.assertNotEqual(a1.split(".")[2], a2.split(".")[2])

    def test_only_an_auth_token_may_ask_and_ids_are_checked(self):
        self.assertError(self.req("POST", self.p("/sessions/room/token")), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", self.p("/sessions/room/token"), token=self.key),
                         403, "ERR_FORBIDDEN")
        self.assertError(self.req("POST", self.p("/sessions/bad%20id/token"),
                                  token=self.tok["alice"]), 400, "ERR_BAD_REQUEST")
        self.assertError(self.req("POST", self.p("/sessions/" + "x" * 65 + "/token"),
                                  token=self.tok["alice"]), 400, "ERR_BAD_REQUEST")
        self.assertError(self.req("GET", self.p("/sessions/room/token"),
                                  token=self.tok["alice"]), 405, "ERR_BAD_REQUEST")
        # Another app's token reaches nothing of this app.
        self.new_app("third")
        self.assertError(self.req("POST", self.p("/sessions/room/token"),
                                  token=self.tok["alice"]), 404, "ERR_NOT_FOUND")


if __name__ == "__main__":
    unittest.main()
