/* SDK tests of ringing: every call listener, 1:1 and group calls, busy, timeouts, devices. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "world.h"

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void assert_same_json(const char *got, const char *want)
{
	json_t *a = json_loads(got, 0, NULL), *b = json_loads(want, 0, NULL);

	if (!a || !b || !json_equal(a, b)) {
		print_error("JSON differs: got %s, want %s\n", got ? got : "(null)", want);
		json_decref(a);
		json_decref(b);
		fail();
	}
	json_decref(a);
	json_decref(b);
}

/* A duration in seconds matches the milliseconds it was computed from. */
static void assert_duration(double seconds, int64_t from_ms, int64_t to_ms)
{
	double want = (double)(to_ms - from_ms) / 1000.0;

	if (seconds < 0 || fabs(seconds - want) > 0.05) {
		print_error("duration %.3f s, want %.3f s (%lld..%lld)\n", seconds, want,
			    (long long)from_ms, (long long)to_ms);
		fail();
	}
}

static void incoming_call_carries_every_field_and_the_metadata(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	const char *meta = "{\"topic\":\"stand-up\",\"n\":3,\"tags\":[\"a\",\"b\"],"
			   "\"nested\":{\"ok\":true,\"none\":null}}";
	int64_t before = wall_ms();
	cw_call *out = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_VIDEO, 0, meta);
	const char *sid = cw_call_get_session_id(out);
	const struct rec_event *ev;
	json_t *doc;
	char *text;
	cw_call *in;

	/* The caller's own copy. */
	assert_non_null(sid);
	assert_int_equal(cw_call_get_status(out), CW_STATUS_INITIATED);
	assert_string_equal(cw_call_get_initiator_uid(out), "alice");
	assert_string_equal(cw_call_get_receiver_id(out), "bob");
	assert_same_json(cw_call_get_metadata(out), meta);

	ev = EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	assert_false(ev->on_test_thread);
	in = ev->call;
	assert_non_null(in);
	assert_string_equal(cw_call_get_session_id(in), sid);
	assert_int_equal(cw_call_get_category(in), CW_CATEGORY_CALL);
	assert_int_equal(cw_call_get_type(in), CW_CALL_VIDEO);
	assert_int_equal(cw_call_get_receiver_type(in), CW_RECEIVER_USER);
	assert_string_equal(cw_call_get_initiator_uid(in), "alice");
	assert_string_equal(cw_call_get_initiator_name(in), "Alice");
	assert_string_equal(cw_call_get_receiver_id(in), "bob");
	assert_string_equal(cw_call_get_receiver_name(in), "Bob");
	assert_int_equal(cw_call_get_status(in), CW_STATUS_INITIATED);
	assert_true(cw_call_is_active(in));
	assert_int_equal(cw_call_get_initiated_at(in), cw_call_get_initiated_at(out));
	assert_true(cw_call_get_initiated_at(in) >= before - 5000);
	assert_true(cw_call_get_initiated_at(in) <= wall_ms() + 5000);
	assert_int_equal(cw_call_get_joined_at(in), 0);
	assert_int_equal(cw_call_get_ended_at(in), 0);
	assert_true(cw_call_get_duration(in) == 0.0);
	assert_same_json(cw_call_get_metadata(in), meta);

	/* The initiator first, still "ongoing" while it rings, then the callee, ringing. */
	assert_int_equal(cw_call_get_participant_count(in), 2);
	assert_string_equal(cw_call_get_participant_uid(in, 0), "alice");
	assert_int_equal(cw_call_get_participant_state(in, 0), CW_PARTICIPANT_ONGOING);
	assert_string_equal(cw_call_get_participant_uid(in, 1), "bob");
	assert_int_equal(cw_call_get_participant_state(in, 1), CW_PARTICIPANT_RINGING);
	assert_int_equal(cw_call_get_participant_joined_at(in, 1), 0);
	assert_int_equal(cw_call_get_participant_left_at(in, 1), 0);
	assert_null(cw_call_get_participant_uid(in, 2));
	assert_int_equal(cw_call_get_participant_state(in, 2), -1);

	/* The JSON form is the contract's call object. */
	text = cw_call_to_json(in);
	assert_non_null(text);
	doc = json_loads(text, 0, NULL);
	cw_free(text);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "sessionId")), sid);
	assert_string_equal(json_string_value(json_object_get(doc, "status")), "initiated");
	assert_string_equal(json_string_value(json_object_get(doc, "type")), "video");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "metadata"), "n")),
			 3);
	json_decref(doc);

	/* A call without metadata has an empty object. */
	ASSERT_OK(cw_cancel_call_sync(alice->client, sid, 0, NULL));
	out = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	ev = EXPECT_EVENT(bob->rec, "incoming_call_received", cw_call_get_session_id(out));
	assert_int_equal(cw_call_get_type(ev->call), CW_CALL_AUDIO);
	assert_same_json(cw_call_get_metadata(ev->call), "{}");
}

static void accepted_call_ends_for_both_sides_with_durations(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	const char *sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	const struct rec_event *ev;
	cw_call *c, *ended;
	int64_t joined, end_at;

	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	c = accept_sync(w, bob, sid);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ONGOING);

	ev = EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);
	c = ev->call;
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ONGOING);
	joined = cw_call_get_joined_at(c);
	assert_true(joined >= cw_call_get_initiated_at(c));
	assert_int_equal(cw_call_get_ended_at(c), 0);
	assert_int_equal(cw_call_get_participant_state(c, participant_index(c, "alice")),
			 CW_PARTICIPANT_ONGOING);
	assert_int_equal(cw_call_get_participant_state(c, participant_index(c, "bob")),
			 CW_PARTICIPANT_ONGOING);
	assert_int_equal(cw_call_get_participant_joined_at(c, participant_index(c, "bob")), joined);

	ended = end_sync(w, alice, sid);
	assert_int_equal(cw_call_get_status(ended), CW_STATUS_ENDED);
	assert_false(cw_call_is_active(ended));

	for (int side = 0; side < 2; side++) {
		struct peer *p = side ? bob : alice;

		ev = EXPECT_EVENT(p->rec, "call_ended", sid);
		c = ev->call;
		assert_int_equal(cw_call_get_status(c), CW_STATUS_ENDED);
		end_at = cw_call_get_ended_at(c);
		assert_int_equal(cw_call_get_joined_at(c), joined);
		assert_true(end_at >= joined);
		assert_duration(cw_call_get_duration(c), joined, end_at);
		for (size_t i = 0; i < cw_call_get_participant_count(c); i++) {
			assert_int_equal(cw_call_get_participant_state(c, i), CW_PARTICIPANT_LEFT);
			assert_int_equal(cw_call_get_participant_left_at(c, i), end_at);
			assert_duration(cw_call_get_participant_duration(c, i), joined, end_at);
		}
	}
	/* Both hanging up at once is fine: the second end is a safe repeat. */
	c = end_sync(w, bob, sid);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ENDED);
	assert_int_equal(rec_count(alice->rec, "call_ended", sid), 1);
	assert_int_equal(rec_count(bob->rec, "call_ended", sid), 1);
}

static void declined_call_tells_the_caller_rejected_or_busy(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	const cw_call_status how[] = {CW_STATUS_REJECTED, CW_STATUS_BUSY};
	const cw_participant_state part[] = {CW_PARTICIPANT_REJECTED, CW_PARTICIPANT_BUSY};
	const char *sid;
	struct done *d;

	for (size_t k = 0; k < 2; k++) {
		const struct rec_event *ev;
		cw_call *c = NULL;

		sid = cw_call_get_session_id(
			ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
		EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
		ASSERT_OK(cw_reject_call_sync(bob->client, sid, how[k], 0, &c));
		keep(w, c);
		assert_non_null(c);
		assert_int_equal(cw_call_get_status(c), how[k]);

		ev = EXPECT_EVENT(alice->rec, "outgoing_call_rejected", sid);
		assert_int_equal(ev->status, how[k]);
		assert_false(cw_call_is_active(ev->call));
		assert_true(cw_call_get_ended_at(ev->call) > 0);
		assert_int_equal(
			cw_call_get_participant_state(ev->call, participant_index(ev->call, "bob")),
			part[k]);
		/* Declining is not answering elsewhere, and nothing ongoing ended. */
		assert_int_equal(rec_count(bob->rec, "rejected_elsewhere", sid), 0);
		assert_int_equal(rec_count(alice->rec, "call_ended", sid), 0);
	}
	/* Only the two statuses a callee can choose are accepted. */
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	d = world_done(w);
	ASSERT_REFUSED(cw_reject_call(bob->client, sid, CW_STATUS_ENDED, done_call_cb, d), d);
}

static void callee_in_a_call_is_busy_at_once_without_ringing(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob"),
		    *carol = peer_login(w, "carol");
	const char *first, *sid;
	const struct rec_event *ev;
	cw_call *c;

	first = cw_call_get_session_id(
		ring(w, carol, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", first);
	accept_sync(w, bob, first);

	/* autoBusy (the default): the server declines for bob, who hears nothing. */
	c = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	sid = cw_call_get_session_id(c);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_BUSY);
	ev = EXPECT_EVENT(alice->rec, "outgoing_call_rejected", sid);
	assert_int_equal(ev->status, CW_STATUS_BUSY);
	end_sync(w, carol, first);
	EXPECT_EVENT(bob->rec, "call_ended", first);
	assert_int_equal(rec_count(bob->rec, NULL, sid), 0);

	/* With autoBusy off, bob is rung even while in a call. */
	cwt_app_settings(w->srv, &w->app, "{\"autoBusy\":false}");
	first = cw_call_get_session_id(
		ring(w, carol, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", first);
	accept_sync(w, bob, first);
	c = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_INITIATED);
	EXPECT_EVENT(bob->rec, "incoming_call_received", cw_call_get_session_id(c));
}

static void unanswered_call_stops_ringing_after_the_ring_timeout(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob"),
		    *carol = peer_login(w, "carol"), *dave = peer_login(w, "dave");
	const char *sid, *sid2;
	const struct rec_event *ev;
	struct done *d;
	cw_call *c;
	int64_t rang;

	/* The app's ringTimeout for one call, the call's own timeout for the other. */
	cwt_app_settings(w->srv, &w->app, "{\"ringTimeout\":5}");
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	sid2 = cw_call_get_session_id(
		ring(w, carol, "dave", CW_RECEIVER_USER, CW_CALL_AUDIO, 7, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	EXPECT_EVENT(dave->rec, "incoming_call_received", sid2);

	ev = rec_expect(alice->rec, "outgoing_call_rejected", sid, 1, 15000, __FILE__, __LINE__);
	assert_int_equal(ev->status, CW_STATUS_UNANSWERED);
	rang = cw_call_get_ended_at(ev->call) - cw_call_get_initiated_at(ev->call);
	assert_true(rang >= 5000 && rang < 7000);

	ev = rec_expect(bob->rec, "incoming_call_cancelled", sid, 1, 15000, __FILE__, __LINE__);
	c = ev->call;
	assert_int_equal(cw_call_get_status(c), CW_STATUS_UNANSWERED);
	assert_int_equal(cw_call_get_participant_state(c, participant_index(c, "bob")),
			 CW_PARTICIPANT_UNANSWERED);

	ev = rec_expect(carol->rec, "outgoing_call_rejected", sid2, 1, 15000, __FILE__, __LINE__);
	assert_int_equal(ev->status, CW_STATUS_UNANSWERED);
	rang = cw_call_get_ended_at(ev->call) - cw_call_get_initiated_at(ev->call);
	assert_true(rang >= 7000 && rang < 9000);
	ev = rec_expect(dave->rec, "incoming_call_cancelled", sid2, 1, 15000, __FILE__, __LINE__);
	assert_int_equal(
		cw_call_get_participant_state(ev->call, participant_index(ev->call, "dave")),
		CW_PARTICIPANT_UNANSWERED);

	/* A ring timeout outside 5–300 s is refused. */
	d = world_done(w);
	ASSERT_REFUSED(cw_initiate_call(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 4,
					NULL, done_call_cb, d),
		       d);
}

static void cancelled_call_stops_ringing_and_reaches_the_callers_other_device(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *alice2 = peer_login(w, "alice"),
		    *bob = peer_login(w, "bob");
	const char *sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_VIDEO, 0, NULL));
	const struct rec_event *ev;
	cw_call *c = NULL;

	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	/* Only the caller may cancel. */
	ASSERT_ERR(cw_cancel_call_sync(bob->client, sid, 0, &c), CW_ERR_FORBIDDEN);
	keep(w, c);
	c = NULL;

	ASSERT_OK(cw_cancel_call_sync(alice->client, sid, 0, &c));
	keep(w, c);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_CANCELLED);

	ev = EXPECT_EVENT(bob->rec, "incoming_call_cancelled", sid);
	assert_int_equal(ev->status, CW_STATUS_CANCELLED);
	assert_int_equal(
		cw_call_get_participant_state(ev->call, participant_index(ev->call, "bob")),
		CW_PARTICIPANT_CANCELLED);
	ev = EXPECT_EVENT(alice2->rec, "outgoing_call_cancelled", sid);
	assert_int_equal(ev->status, CW_STATUS_CANCELLED);
	assert_int_equal(rec_count(bob->rec, "call_ended", sid), 0);
}

static void second_device_hears_accepted_and_rejected_elsewhere(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob1 = peer_login(w, "bob"),
		    *bob2 = peer_login(w, "bob");
	const char *sid, *sid2, *sid3;
	const struct rec_event *ev;
	cw_call *c = NULL;

	/* bob1 answers: bob2 stops ringing, and cannot answer too. */
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob1->rec, "incoming_call_received", sid);
	EXPECT_EVENT(bob2->rec, "incoming_call_received", sid);
	accept_sync(w, bob1, sid);
	ev = EXPECT_EVENT(bob2->rec, "accepted_elsewhere", sid);
	assert_int_equal(ev->status, CW_STATUS_ONGOING);
	ASSERT_ERR(cw_accept_call_sync(bob2->client, sid, 0, &c), CW_ERR_INVALID_STATE);
	keep(w, c);
	EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);
	end_sync(w, alice, sid);
	EXPECT_EVENT(bob1->rec, "call_ended", sid);
	assert_int_equal(rec_count(bob1->rec, "accepted_elsewhere", sid), 0);

	/* bob2 declines: bob1 stops ringing. */
	sid2 = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob1->rec, "incoming_call_received", sid2);
	EXPECT_EVENT(bob2->rec, "incoming_call_received", sid2);
	c = NULL;
	ASSERT_OK(cw_reject_call_sync(bob2->client, sid2, CW_STATUS_REJECTED, 0, &c));
	keep(w, c);
	ev = EXPECT_EVENT(bob1->rec, "rejected_elsewhere", sid2);
	assert_int_equal(ev->status, CW_STATUS_REJECTED);
	EXPECT_EVENT(alice->rec, "outgoing_call_rejected", sid2);

	/* bob2's next event comes after anything of sid2: it never heard its own decline. */
	sid3 = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob2->rec, "incoming_call_received", sid3);
	assert_int_equal(rec_count(bob2->rec, "rejected_elsewhere", sid2), 0);
	assert_int_equal(rec_count(bob1->rec, "incoming_call_received", sid2), 1);
}

static void initiating_while_in_a_call_returns_the_existing_call(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob"),
		    *carol = peer_login(w, "carol");
	const char *sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	struct done *d = world_done(w);
	cw_call *c = NULL;

	ASSERT_ERR(cw_initiate_call_sync(alice->client, "carol", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
					 NULL, 0, &c),
		   CW_ERR_CALL_IN_PROGRESS);
	keep(w, c);
	assert_non_null(c);
	assert_string_equal(cw_call_get_session_id(c), sid);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_INITIATED);
	assert_true(strlen(cw_last_error_message()) > 0);

	ASSERT_OK(cw_initiate_call(alice->client, "carol", CW_RECEIVER_USER, CW_CALL_VIDEO, 0, NULL,
				   done_call_cb, d));
	EXPECT_DONE(d);
	assert_int_equal(d->err, CW_ERR_CALL_IN_PROGRESS);
	assert_true(strlen(d->message) > 0);
	assert_non_null(d->call);
	assert_string_equal(cw_call_get_session_id(d->call), sid);

	/* Once that call is over a new one starts; carol only ever heard of that one. */
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	ASSERT_OK(cw_cancel_call_sync(alice->client, sid, 0, NULL));
	c = ring(w, alice, "carol", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	EXPECT_EVENT(carol->rec, "incoming_call_received", cw_call_get_session_id(c));
	assert_int_equal(rec_count(carol->rec, "incoming_call_received", NULL), 1);
	assert_int_equal(done_count(d), 1);
}

static void group_call_rings_every_member_and_tracks_who_joins_and_leaves(void **state)
{
	struct world *w = *state;
	static const char *const members[] = {"alice", "bob", "carol", NULL};
	struct peer *alice, *bob, *carol;
	const struct rec_event *ev;
	const char *sid;
	cw_call *c = NULL;

	cwt_group_create(w->srv, &w->app, "team", "The Team", members);
	alice = peer_login(w, "alice");
	bob = peer_login(w, "bob");
	carol = peer_login(w, "carol");
	c = ring(w, alice, "team", CW_RECEIVER_GROUP, CW_CALL_AUDIO, 0, NULL);
	sid = cw_call_get_session_id(c);
	assert_int_equal(cw_call_get_receiver_type(c), CW_RECEIVER_GROUP);

	for (int i = 0; i < 2; i++) {
		struct peer *p = i ? carol : bob;

		ev = EXPECT_EVENT(p->rec, "incoming_call_received", sid);
		c = ev->call;
		assert_int_equal(cw_call_get_receiver_type(c), CW_RECEIVER_GROUP);
		assert_string_equal(cw_call_get_receiver_id(c), "team");
		assert_string_equal(cw_call_get_receiver_name(c), "The Team");
		assert_string_equal(cw_call_get_initiator_uid(c), "alice");
		assert_int_equal(cw_call_get_participant_count(c), 3);
		assert_string_equal(cw_call_get_participant_uid(c, 0), "alice");
		assert_string_equal(cw_call_get_participant_uid(c, 1), "bob");
		assert_string_equal(cw_call_get_participant_uid(c, 2), "carol");
		assert_int_equal(cw_call_get_participant_state(c, 1), CW_PARTICIPANT_RINGING);
		assert_int_equal(cw_call_get_participant_state(c, 2), CW_PARTICIPANT_RINGING);
	}

	/* bob answers first: the call is on, carol keeps ringing. */
	accept_sync(w, bob, sid);
	ev = EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);
	assert_int_equal(ev->status, CW_STATUS_ONGOING);
	c = NULL;
	ASSERT_OK(cw_get_call_sync(carol->client, sid, 0, &c));
	keep(w, c);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ONGOING);
	assert_int_equal(cw_call_get_participant_state(c, 2), CW_PARTICIPANT_RINGING);

	/* carol joins late. */
	accept_sync(w, carol, sid);
	ev = EXPECT_EVENT(alice->rec, "participant_joined", sid);
	assert_string_equal(ev->uid, "carol");
	ev = EXPECT_EVENT(bob->rec, "participant_joined", sid);
	assert_string_equal(ev->uid, "carol");
	assert_int_equal(cw_call_get_participant_state(ev->call, 2), CW_PARTICIPANT_ONGOING);

	/* bob leaves; the call goes on for the others. */
	c = end_sync(w, bob, sid);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ONGOING);
	ev = EXPECT_EVENT(alice->rec, "participant_left", sid);
	assert_string_equal(ev->uid, "bob");
	ev = EXPECT_EVENT(carol->rec, "participant_left", sid);
	assert_string_equal(ev->uid, "bob");
	assert_int_equal(cw_call_get_participant_state(ev->call, 1), CW_PARTICIPANT_LEFT);

	/* Only the initiator may end it for everyone. */
	c = NULL;
	ASSERT_ERR(cw_end_call_for_all_sync(carol->client, sid, 0, &c), CW_ERR_FORBIDDEN);
	keep(w, c);
	c = NULL;
	ASSERT_OK(cw_end_call_for_all_sync(alice->client, sid, 0, &c));
	keep(w, c);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ENDED);
	for (int i = 0; i < 3; i++) {
		struct peer *p = i == 0 ? alice : i == 1 ? bob : carol;

		ev = EXPECT_EVENT(p->rec, "call_ended", sid);
		assert_int_equal(ev->status, CW_STATUS_ENDED);
		for (size_t k = 0; k < 3; k++)
			assert_int_equal(cw_call_get_participant_state(ev->call, k),
					 CW_PARTICIPANT_LEFT);
	}
	/* Everything above came before call_ended: nothing was doubled or invented. */
	assert_int_equal(rec_count(alice->rec, "outgoing_call_accepted", sid), 1);
	assert_int_equal(rec_count(alice->rec, "participant_joined", sid), 1);
	assert_int_equal(rec_count(bob->rec, "participant_left", sid), 0);
	assert_int_equal(rec_count(carol->rec, "participant_joined", sid), 0);
	assert_int_equal(rec_count(carol->rec, "incoming_call_cancelled", sid), 0);
	assert_int_equal(rec_count(carol->rec, "accepted_elsewhere", sid), 0);
	assert_int_equal(rec_count(bob->rec, "accepted_elsewhere", sid), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rec_count((i == 0   ? alice
					    : i == 1 ? bob
						     : carol)
						   ->rec,
					   "call_ended", sid),
				 1);
}

static void server_refusals_map_to_error_codes_with_the_servers_message(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	char big[5000];
	cw_call *c = NULL;
	int rc;

	ASSERT_ERR(cw_initiate_call_sync(alice->client, "nobody", CW_RECEIVER_USER, CW_CALL_AUDIO,
					 0, NULL, 0, &c),
		   CW_ERR_NOT_FOUND);
	assert_null(c);
	/* The server's own words, which name what is missing. */
	assert_non_null(strstr(cw_last_error_message(), "nobody"));
	ASSERT_ERR(cw_accept_call_sync(bob->client, "no-such-call", 0, &c), CW_ERR_NOT_FOUND);
	assert_non_null(strstr(cw_last_error_message(), "no-such-call"));
	ASSERT_ERR(cw_initiate_call_sync(alice->client, "alice", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
					 NULL, 0, &c),
		   CW_ERR_BAD_REQUEST);
	ASSERT_ERR(cw_initiate_call_sync(alice->client, "team", CW_RECEIVER_GROUP, CW_CALL_AUDIO, 0,
					 NULL, 0, &c),
		   CW_ERR_NOT_FOUND);

	/* Metadata must be a JSON object of at most 4 KiB. */
	rc = cw_initiate_call_sync(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
				   "[1,2]", 0, &c);
	assert_true(rc == CW_ERR_INVALID_ARGUMENT || rc == CW_ERR_BAD_REQUEST);
	rc = cw_initiate_call_sync(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
				   "{not json", 0, &c);
	assert_true(rc == CW_ERR_INVALID_ARGUMENT || rc == CW_ERR_BAD_REQUEST);
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"k\":\"", 6);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	rc = cw_initiate_call_sync(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, big, 0,
				   &c);
	assert_true(rc == CW_ERR_INVALID_ARGUMENT || rc == CW_ERR_BAD_REQUEST ||
		    rc == CW_ERR_PAYLOAD_TOO_LARGE);
	assert_null(c);

	/* The app's callRateLimit: the third ring in a minute is refused. */
	cwt_app_settings(w->srv, &w->app, "{\"callRateLimit\":2}");
	for (int i = 0; i < 2; i++) {
		c = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
		ASSERT_OK(cw_cancel_call_sync(alice->client, cw_call_get_session_id(c), 0, NULL));
	}
	c = NULL;
	ASSERT_ERR(cw_initiate_call_sync(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
					 NULL, 0, &c),
		   CW_ERR_RATE_LIMITED);
	assert_null(c);
}

/* The uids of the first two `name` events of sid are a and b, in either order. */
static void expect_two_named(struct recorder *rec, const char *name, const char *sid, const char *a,
			     const char *b)
{
	const char *u1 = EXPECT_EVENT_N(rec, name, sid, 1)->uid;
	const char *u2 = EXPECT_EVENT_N(rec, name, sid, 2)->uid;

	if (!((strcmp(u1, a) == 0 && strcmp(u2, b) == 0) ||
	      (strcmp(u1, b) == 0 && strcmp(u2, a) == 0))) {
		print_error("%s named %s and %s, want %s and %s\n", name, u1, u2, a, b);
		rec_dump(rec);
		fail();
	}
}

static void members_joining_or_leaving_at_once_are_each_named(void **state)
{
	struct world *w = *state;
	static const char *const members[] = {"alice", "bob", "carol", "dave", NULL};
	struct done *j1 = world_done(w), *j2 = world_done(w), *l1 = world_done(w),
		    *l2 = world_done(w);
	struct peer *alice, *bob, *carol, *dave;
	const char *sid;

	cwt_group_create(w->srv, &w->app, "team", "The Team", members);
	alice = peer_login(w, "alice");
	bob = peer_login(w, "bob");
	carol = peer_login(w, "carol");
	dave = peer_login(w, "dave");
	sid = cw_call_get_session_id(
		ring(w, alice, "team", CW_RECEIVER_GROUP, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	EXPECT_EVENT(carol->rec, "incoming_call_received", sid);
	EXPECT_EVENT(dave->rec, "incoming_call_received", sid);
	accept_sync(w, bob, sid);

	/* carol and dave answer at the same moment, very likely within one millisecond. */
	ASSERT_OK(cw_accept_call(carol->client, sid, done_call_cb, j1));
	ASSERT_OK(cw_accept_call(dave->client, sid, done_call_cb, j2));
	EXPECT_DONE(j1);
	EXPECT_DONE(j2);
	ASSERT_OK(j1->err);
	ASSERT_OK(j2->err);
	expect_two_named(alice->rec, "participant_joined", sid, "carol", "dave");
	expect_two_named(bob->rec, "participant_joined", sid, "carol", "dave");

	/* And hang up at the same moment. */
	ASSERT_OK(cw_end_call(carol->client, sid, done_call_cb, l1));
	ASSERT_OK(cw_end_call(dave->client, sid, done_call_cb, l2));
	EXPECT_DONE(l1);
	EXPECT_DONE(l2);
	ASSERT_OK(l1->err);
	ASSERT_OK(l2->err);
	expect_two_named(alice->rec, "participant_left", sid, "carol", "dave");
	expect_two_named(bob->rec, "participant_left", sid, "carol", "dave");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(incoming_call_carries_every_field_and_the_metadata,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(accepted_call_ends_for_both_sides_with_durations,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(declined_call_tells_the_caller_rejected_or_busy,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(callee_in_a_call_is_busy_at_once_without_ringing,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			unanswered_call_stops_ringing_after_the_ring_timeout, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			cancelled_call_stops_ringing_and_reaches_the_callers_other_device,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(second_device_hears_accepted_and_rejected_elsewhere,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			initiating_while_in_a_call_returns_the_existing_call, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			group_call_rings_every_member_and_tracks_who_joins_and_leaves, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(members_joining_or_leaving_at_once_are_each_named,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			server_refusals_map_to_error_codes_with_the_servers_message, world_setup,
			world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
