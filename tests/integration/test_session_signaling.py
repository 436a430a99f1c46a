"""Media-session signaling over the WebSocket (docs/protocol.md, Media sessions): joining
with a call token and a publish offer, the subscribe offers the server makes as others
come, publish and leave, mute, the idle timeout, the tie to a ringing call, and bad
input that is refused and changes nothing. Media itself is tested in unit_sfu_media and
the browser tests; here the descriptions are real Chromium offers."""

import os
import re
import unittest

from wsclient import CallTestCase

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "sdp")


def sdp_file(name):
    with open(os.path.join(DATA, name), encoding="utf-8", newline="") as f:
        return f.read()


CHROMIUM_OFFER = sdp_file("chromium-audio-video.sdp")
CHROMIUM_ANSWER = sdp_file("chromium-answer-to-callwire-offer.sdp")
SSRCS = (3782820015, 3133988282, 1447120352)


def offer_with_ssrcs(base):
    """The Chromium offer with its SSRCs moved by base, as another browser would have."""
    text = CHROMIUM_OFFER
    for s in SSRCS:
        text = text.replace(str(s), str(s + base))
    return text


def ssrcs_of(sdp):
    return {int(m) for m in re.findall(r"^a=ssrc:(\d+) ", sdp, re.M)}


def media_lines(sdp):
    return re.findall(r"^m=(\w+) (\d+) ", sdp, re.M)


class SessionSignalingTest(CallTestCase):

    def setUp(self):
        super().setUp()
        self.users("alice", "bob", "carol")
        self.ws = {u: self.connect(u) for u in ("alice", "bob", "carol")}

    def call_token(self, uid, sid):
        r = self.req("POST", self.p(f"/sessions/{sid}/token"), token=self.ws[uid].token)
        return self.assertStatus(r, 201)["callToken"]

    def join(self, uid, sid, offer=CHROMIUM_OFFER, **settings):
        params = {"callToken": self.call_token(uid, sid), "offer": offer}
        if settings:
            params["settings"] = settings
        return self.ws[uid].result("session.join", params)

    def join_error(self, uid, params):
        resp = self.ws[uid].request("session.join", params)
        self.assertIn("error", resp, resp)
        return resp["error"]

    def event(self, uid, name, to=None):
        ev = self.ws[uid].next_event(name)
        if to is not None:
            self.assertEqual(ev["to"], to, ev)
        return ev

    def test_the_answer_is_ice_lite_and_dtls_passive_with_our_candidates(self):
        r = self.join("alice", "standup")
        self.assertEqual(r["sessionId"], "standup")
        self.assertEqual(r["category"], "meet")
        self.assertTrue(re.match(r"^p[A-Za-z0-9]{15}$", r["participantId"]), r)
        self.assertEqual(r["participants"], [])
        self.assertIsNone(r["subscribe"], "nobody else publishes yet")
        answer = r["answer"]
        self.assertIn("a=ice-lite", answer)
        self.assertIn("a=setup:passive", answer)
        self.assertRegex(answer, r"a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}")
        self.assertRegex(answer, r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host")
        self.assertEqual(media_lines(answer), [("audio", "9"), ("video", "9")])
        self.assertIn("a=rtpmap:111 opus/48000/2", answer)
        self.assertIn("a=rtpmap:96 VP8/90000", answer)
        self.assertIn("a=recvonly", answer)

    def test_a_second_participant_gets_the_first_ones_tracks_and_the_first_an_offer(self):
        a = self.join("alice", "room1")
        b = self.join("bob", "room1", offer=offer_with_ssrcs(1))
        pa, pb = a["participantId"], b["participantId"]

        # Bob's join brings alice's tracks at once.
        self.assertEqual([p["participantId"] for p in b["participants"]], [pa])
        self.assertEqual(b["participants"][0]["uid"], "alice")
        self.assertEqual({t["kind"] for t in b["participants"][0]["tracks"]}, {"audio", "video"})
        sub = b["subscribe"]
        self.assertEqual(sub["version"], 1)
        self.assertEqual(ssrcs_of(sub["sdp"]), {SSRCS[0], SSRCS[1]})
        self.assertIn("a=setup:actpass", sub["sdp"])
        self.assertIn(f"a=msid:{pa} ", sub["sdp"])
        self.assertIn("a=sendonly", sub["sdp"])

        # Alice hears of bob, of his tracks, then gets her first subscribe offer.
        joined = self.event("alice", "session.participant_joined", to=pa)
        self.assertEqual(joined["participant"]["participantId"], pb)
        self.assertEqual(joined["participant"]["uid"], "bob")
        self.assertEqual(joined["sessionId"], "room1")
        for _ in range(2):
            ev = self.event("alice", "session.track_published", to=pa)
            self.assertEqual(ev["track"]["streamId"], pb)
        offer = self.event("alice", "session.offer", to=pa)
        self.assertEqual(offer["version"], 1)
        self.assertEqual(ssrcs_of(offer["sdp"]), {SSRCS[0] + 1, SSRCS[1] + 1})

        # Only the outstanding version is answered.
        stale = self.ws["alice"].request("session.answer", {
            "sessionId": "room1", "participantId": pa, "version": 7, "sdp": CHROMIUM_ANSWER})
        self.assertEqual(stale["error"]["code"], "ERR_INVALID_STATE", stale)
        self.assertEqual(self.ws["alice"].result("session.answer", {
            "sessionId": "room1", "participantId": pa, "version": 1,
            "sdp": CHROMIUM_ANSWER}), {})
        again = self.ws["alice"].request("session.answer", {
            "sessionId": "room1", "participantId": pa, "version": 1, "sdp": CHROMIUM_ANSWER})
        self.assertEqual(again["error"]["code"], "ERR_INVALID_STATE", again)

    def test_mute_is_told_to_the_others_and_leaving_ends_the_tracks(self):
        a = self.join("alice", "room2")
        b = self.join("bob", "room2", offer=offer_with_ssrcs(1))
        pa, pb = a["participantId"], b["participantId"]
        self.event("alice", "session.participant_joined")
        self.event("alice", "session.offer")
        ws_b = self.ws["bob"]
        self.assertEqual(ws_b.result("session.mute", {"sessionId": "room2", "participantId": pb,
                                                      "kind": "audio", "muted": True}), {})
        ev = self.event("alice", "session.muted", to=pa)
        self.assertEqual((ev["participant"]["participantId"], ev["kind"]), (pb, "audio"))
        self.assertTrue(ev["participant"]["muted"])
        # The same state again is a repeat: no event.
        ws_b.result("session.mute", {"sessionId": "room2", "participantId": pb,
                                     "kind": "audio", "muted": True})
        ws_b.result("session.mute", {"sessionId": "room2", "participantId": pb,
                                     "kind": "video", "muted": True})
        ev = self.event("alice", "session.muted", to=pa)
        self.assertEqual(ev["kind"], "video")
        self.assertTrue(ev["participant"]["videoPaused"])
        ws_b.result("session.mute", {"sessionId": "room2", "participantId": pb,
                                     "kind": "video", "muted": False})
        self.assertEqual(self.event("alice", "session.unmuted", to=pa)["kind"], "video")
        bad = ws_b.request("session.mute", {"sessionId": "room2", "participantId": pb,
                                            "kind": "screen", "muted": True})
        self.assertEqual(bad["error"]["code"], "ERR_BAD_REQUEST")

        self.assertEqual(ws_b.result("session.leave", {"sessionId": "room2",
                                                       "participantId": pb}), {})
        gone = [self.event("alice", "session.track_unpublished", to=pa) for _ in range(2)]
        self.assertEqual({g["track"]["kind"] for g in gone}, {"audio", "video"})
        left = self.event("alice", "session.participant_left", to=pa)
        self.assertEqual(left["participant"], {"participantId": pb, "uid": "bob"})
        self.assertEqual(left["reason"], "left")
        # Leaving twice: the participant is gone.
        again = ws_b.request("session.leave", {"sessionId": "room2", "participantId": pb})
        self.assertEqual(again["error"]["code"], "ERR_NOT_FOUND")

    def test_a_gone_participants_places_stay_inactive_and_are_reused(self):
        a = self.join("alice", "room9")
        pa = a["participantId"]
        b = self.join("bob", "room9", offer=offer_with_ssrcs(1))
        pb = b["participantId"]
        first = self.event("alice", "session.offer", to=pa)
        self.ws["alice"].result("session.answer", {
            "sessionId": "room9", "participantId": pa, "version": first["version"],
            "sdp": CHROMIUM_ANSWER})
        self.ws["bob"].result("session.leave", {"sessionId": "room9", "participantId": pb})

        # Bob's places stay in alice's next offer: inactive, on the bundled transport.
        gone = self.event("alice", "session.offer", to=pa)
        self.assertEqual(gone["version"], first["version"] + 1)
        sdp = gone["sdp"]
        self.assertEqual(len(media_lines(sdp)), 2)
        self.assertTrue(all(port != "0" for _, port in media_lines(sdp)), sdp)
        self.assertEqual(sdp.count("a=inactive"), 2, sdp)
        self.assertEqual(ssrcs_of(sdp), set())
        self.assertNotIn("a=msid:", sdp)
        self.assertRegex(sdp, r"a=group:BUNDLE \S+ \S+")
        self.ws["alice"].result("session.answer", {
            "sessionId": "room9", "participantId": pa, "version": gone["version"],
            "sdp": CHROMIUM_ANSWER})

        # Carol's tracks take the same places.
        self.join("carol", "room9", offer=offer_with_ssrcs(2))
        again = self.event("alice", "session.offer", to=pa)
        self.assertEqual(len(media_lines(again["sdp"])), 2)
        self.assertEqual(ssrcs_of(again["sdp"]), {SSRCS[0] + 2, SSRCS[1] + 2})
        self.assertNotIn("a=inactive", again["sdp"])

    def test_a_lone_participant_is_warned_then_the_session_ends(self):
        a = self.join("alice", "lonely", idleTimeout=1)
        self.assertEqual(a["settings"]["idleTimeout"], 1)
        warn = self.event("alice", "session.timeout_warning", to=a["participantId"])
        self.assertIsInstance(warn["endsAt"], int)
        ended = self.event("alice", "session.ended", to=a["participantId"])
        self.assertEqual(ended["reason"], "idle_timeout")
        gone = self.ws["alice"].request("session.leave", {"sessionId": "lonely",
                                                          "participantId": a["participantId"]})
        self.assertEqual(gone["error"]["code"], "ERR_NOT_FOUND")

    def test_a_full_session_refuses_the_next_one(self):
        self.patch_settings({"maxParticipants": 2})
        self.join("alice", "small")
        self.join("bob", "small", offer=offer_with_ssrcs(1))
        err = self.join_error("carol", {"callToken": self.call_token("carol", "small"),
                                        "offer": offer_with_ssrcs(2)})
        self.assertEqual(err["code"], "ERR_CONFLICT", err)

    def test_bad_joins_are_refused_with_a_reason_and_change_nothing(self):
        tok = self.call_token("alice", "guarded")
        cases = [
            ({"offer": CHROMIUM_OFFER}, "ERR_BAD_REQUEST", "callToken"),
            ({"callToken": tok}, "ERR_BAD_REQUEST", "offer"),
            ({"callToken": tok + "x", "offer": CHROMIUM_OFFER}, "ERR_UNAUTHORIZED", "callToken"),
            ({"callToken": "not.a.jwt", "offer": CHROMIUM_OFFER}, "ERR_UNAUTHORIZED", None),
            ({"callToken": tok, "offer": "v=0\r\nm=audio\r\n"}, "ERR_BAD_REQUEST", "line"),
            ({"callToken": tok, "offer": CHROMIUM_OFFER.replace("a=rtcp-mux\r\n", "")},
             "ERR_BAD_REQUEST", None),
            ({"callToken": tok, "offer": re.sub(r"a=rtpmap:111 opus/48000/2", "a=rtpmap:111 x/1",
                                                re.sub(r"VP8|H264", "XYZ", CHROMIUM_OFFER))},
             "ERR_BAD_REQUEST", None),
            ({"callToken": tok, "offer": CHROMIUM_OFFER, "settings": {"idleTimeout": "5"}},
             "ERR_BAD_REQUEST", "idleTimeout"),
            ({"callToken": tok, "offer": CHROMIUM_OFFER, "settings": {"audioOnly": 1}},
             "ERR_BAD_REQUEST", "audioOnly"),
            ({"callToken": tok, "offer": 42}, "ERR_BAD_REQUEST", "offer"),
            ({"callToken": tok, "offer": CHROMIUM_OFFER, "sessionId": "other"},
             "ERR_BAD_REQUEST", "sessionId"),
        ]
        for params, code, word in cases:
            with self.subTest(code=code, word=word):
                err = self.join_error("alice", params)
                self.assertEqual(err["code"], code, err)
                if word:
                    self.assertIn(word, err["message"])
        # Another user's token is not bob's to use.
        err = self.join_error("bob", {"callToken": tok, "offer": CHROMIUM_OFFER})
        self.assertEqual(err["code"], "ERR_FORBIDDEN", err)
        # Nothing was joined: the next one finds the session empty.
        self.assertEqual(self.join("carol", "guarded")["participants"], [])
        self.ws["alice"].expect_no_event(0.2)

    def test_an_audio_only_participant_publishes_no_video(self):
        r = self.join("alice", "voice", audioOnly=True)
        self.assertEqual(media_lines(r["answer"]), [("audio", "9"), ("video", "0")])
        bad = self.ws["alice"].request("session.mute", {
            "sessionId": "voice", "participantId": r["participantId"], "kind": "video",
            "muted": False})
        self.assertEqual(bad["error"]["code"], "ERR_BAD_REQUEST")

    def test_requests_about_someone_elses_participant_are_not_found(self):
        a = self.join("alice", "mine")
        for method in ("session.leave", "session.answer", "session.mute", "session.publish"):
            with self.subTest(method=method):
                resp = self.ws["bob"].request(method, {"sessionId": "mine",
                                                       "participantId": a["participantId"]})
                self.assertEqual(resp["error"]["code"], "ERR_NOT_FOUND", resp)

    def test_a_republish_adds_and_removes_tracks_for_the_others(self):
        a = self.join("alice", "pub")
        b = self.join("bob", "pub", offer=offer_with_ssrcs(1))
        pb = b["participantId"]
        self.event("alice", "session.offer")
        # Bob stops his camera: his new offer has the audio section only sending.
        audio_only = offer_with_ssrcs(1)
        head, video = audio_only.split("m=video", 1)
        video = re.sub(r"a=ssrc[^\r\n]*\r\n", "", video).replace("a=sendrecv", "a=inactive")
        r = self.ws["bob"].result("session.publish", {"sessionId": "pub", "participantId": pb,
                                                      "offer": head + "m=video" + video})
        self.assertIn("a=ice-lite", r["answer"])
        gone = self.event("alice", "session.track_unpublished", to=a["participantId"])
        self.assertEqual(gone["track"]["kind"], "video")

    def test_a_calls_session_ends_the_call_when_the_last_one_leaves(self):
        call = self.ws["alice"].result("call.initiate", {"receiver": "bob",
                                                        "receiverType": "user",
                                                        "type": "video"})
        sid = call["sessionId"]
        self.ws["bob"].result("call.accept", {"sessionId": sid})
        a = self.join("alice", sid)
        self.assertEqual(a["category"], "call")
        b = self.join("bob", sid, offer=offer_with_ssrcs(1))
        err = self.join_error("carol", {"callToken": "x", "offer": CHROMIUM_OFFER})
        self.assertEqual(err["code"], "ERR_UNAUTHORIZED")
        self.ws["bob"].result("session.leave", {"sessionId": sid,
                                                "participantId": b["participantId"]})
        self.ws["alice"].result("session.leave", {"sessionId": sid,
                                                  "participantId": a["participantId"]})
        ended = self.ws["bob"].next_event("call.ended")
        self.assertEqual(ended["call"]["sessionId"], sid)

    def test_ending_the_call_ends_its_session_for_everyone(self):
        call = self.ws["alice"].result("call.initiate", {"receiver": "bob",
                                                        "receiverType": "user",
                                                        "type": "audio"})
        sid = call["sessionId"]
        self.ws["bob"].result("call.accept", {"sessionId": sid})
        a = self.join("alice", sid)
        # An audio call's session takes no video.
        self.assertEqual(media_lines(a["answer"]), [("audio", "9"), ("video", "0")])
        self.ws["bob"].result("call.end", {"sessionId": sid})
        ended = self.event("alice", "session.ended", to=a["participantId"])
        self.assertEqual(ended["reason"], "call_ended")
        # The call is over: its session admits no one now.
        r = self.req("POST", self.p(f"/sessions/{sid}/token"), token=self.ws["bob"].token)
        self.assertEqual(r[0], 409)

    def test_a_meet_session_has_a_call_log_entry(self):
        a = self.join("alice", "weekly")
        call = self.assertStatus(self.req("GET", self.p("/calls/weekly"),
                                          token=self.ws["alice"].token), 200)
        self.assertEqual((call["category"], call["status"], call["initiator"]["uid"]),
                         ("meet", "ongoing", "alice"))
        b = self.join("bob", "weekly", offer=offer_with_ssrcs(1))
        self.ws["bob"].result("session.leave", {"sessionId": "weekly",
                                                "participantId": b["participantId"]})
        self.ws["alice"].result("session.leave", {"sessionId": "weekly",
                                                  "participantId": a["participantId"]})
        call = self.assertStatus(self.req("GET", self.p("/calls/weekly"),
                                          token=self.ws["bob"].token), 200)
        self.assertEqual(call["status"], "ended")
        self.assertEqual({p["uid"]: p["state"] for p in call["participants"]},
                         {"alice": "left", "bob": "left"})
        log = self.assertStatus(self.req("GET", self.p("/calls?category=meet"),
                                         token=self.ws["bob"].token), 200)
        self.assertEqual([c["sessionId"] for c in log["data"]], ["weekly"])


if __name__ == "__main__":
    unittest.main()
