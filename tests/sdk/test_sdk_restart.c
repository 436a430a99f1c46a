/* SDK tests of lost connections: restarts, reconnection with resume, the reconnect grace. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "world.h"

/* Reconnection waits out a back-off; give it more than one event's time. */
#define RECONNECT_TIMEOUT_MS 25000

static void expect_connection_lost(struct peer *p)
{
	const struct rec_event *ev = EXPECT_EVENT(p->rec, "disconnected", NULL);

	assert_int_equal(ev->status, CW_ERR_CONNECTION_LOST);
	ev = EXPECT_EVENT(p->rec, "reconnecting", NULL);
	assert_true(ev->detail >= 1);
}

static void expect_resumed(struct peer *p)
{
	const struct rec_event *ev = rec_expect(p->rec, "reconnected", NULL, 1,
						RECONNECT_TIMEOUT_MS, __FILE__, __LINE__);

	assert_int_equal(ev->detail, 1); /* resumed: the server kept every event */
	assert_int_equal(cw_client_get_connection_state(p->client), CW_CONNECTION_CONNECTED);
}

/* One drop, one recovery, and `connected` only for the login. */
static void assert_one_reconnection(struct peer *p)
{
	assert_int_equal(rec_count(p->rec, "connected", NULL), 1);
	assert_int_equal(rec_count(p->rec, "disconnected", NULL), 1);
	assert_int_equal(rec_count(p->rec, "reconnected", NULL), 1);
}

static void server_killed_while_ringing_comes_back_and_the_answer_arrives_once(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct done *accepted = world_done(w);
	const struct rec_event *ev;
	const char *sid;

	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_VIDEO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);

	assert_int_equal(cwt_server_signal(w->srv, SIGKILL), 128 + SIGKILL);
	expect_connection_lost(alice);
	expect_connection_lost(bob);
	assert_int_equal(cw_client_get_connection_state(bob->client), CW_CONNECTION_CONNECTING);

	/* bob answers while the server is down: the request waits for the connection. */
	ASSERT_OK(cw_accept_call(bob->client, sid, done_call_cb, accepted));
	ASSERT_OK(cwt_server_start(w->srv));
	expect_resumed(alice);
	expect_resumed(bob);
	EXPECT_DONE(accepted);
	ASSERT_OK(accepted->err);
	assert_int_equal(cw_call_get_status(accepted->call), CW_STATUS_ONGOING);

	ev = EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);
	assert_int_equal(ev->status, CW_STATUS_ONGOING);
	end_sync(w, alice, sid);
	EXPECT_EVENT(alice->rec, "call_ended", sid);
	EXPECT_EVENT(bob->rec, "call_ended", sid);

	/* Everything of the call came before call_ended: count it. */
	assert_int_equal(rec_count(alice->rec, "outgoing_call_accepted", sid), 1);
	assert_int_equal(rec_count(alice->rec, "call_ended", sid), 1);
	assert_int_equal(rec_count(alice->rec, NULL, sid), 2);
	assert_int_equal(rec_count(bob->rec, "incoming_call_received", sid), 1);
	assert_int_equal(rec_count(bob->rec, "call_ended", sid), 1);
	assert_int_equal(rec_count(bob->rec, NULL, sid), 2);
	assert_one_reconnection(alice);
	assert_one_reconnection(bob);
	assert_int_equal(done_count(accepted), 1);
}

static void server_stopped_during_a_call_comes_back_and_the_call_ends_once(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	const char *sid;
	cw_call *c = NULL;

	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	accept_sync(w, bob, sid);
	EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);

	/* A clean stop (SIGTERM, exit 0), then the same port and data. */
	ASSERT_OK(cwt_server_stop(w->srv));
	expect_connection_lost(alice);
	expect_connection_lost(bob);
	ASSERT_OK(cwt_server_start(w->srv));
	expect_resumed(alice);
	expect_resumed(bob);

	/* The call survived the restart and is still theirs. */
	ASSERT_OK(cw_get_active_call_sync(alice->client, 0, &c));
	keep(w, c);
	assert_non_null(c);
	assert_string_equal(cw_call_get_session_id(c), sid);
	assert_int_equal(cw_call_get_status(c), CW_STATUS_ONGOING);

	end_sync(w, bob, sid);
	EXPECT_EVENT(alice->rec, "call_ended", sid);
	EXPECT_EVENT(bob->rec, "call_ended", sid);
	assert_int_equal(rec_count(alice->rec, NULL, sid), 2);
	assert_int_equal(rec_count(bob->rec, NULL, sid), 2);
	assert_one_reconnection(alice);
	assert_one_reconnection(bob);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ring_that_timed_out_while_the_server_was_down_is_replayed_once(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	const struct rec_event *ev;
	int64_t deadline;
	cw_call *c;
	const char *sid;

	cwt_app_settings(w->srv, &w->app, "{\"ringTimeout\":5}");
	c = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	sid = cw_call_get_session_id(c);
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	assert_int_equal(cwt_server_signal(w->srv, SIGKILL), 128 + SIGKILL);
	expect_connection_lost(alice);
	expect_connection_lost(bob);

	/* The ring deadline passes while nothing runs; the restarted server ends the call at
	 * once, and the clients learn it from the replay of what they missed. */
	deadline = cw_call_get_initiated_at(c) + 5000 + 100;
	while (wall_ms() < deadline) {
		struct timespec ts = {0, 20 * 1000000};

		nanosleep(&ts, NULL);
	}
	ASSERT_OK(cwt_server_start(w->srv));
	expect_resumed(alice);
	expect_resumed(bob);
	ev = EXPECT_EVENT(alice->rec, "outgoing_call_rejected", sid);
	assert_int_equal(ev->status, CW_STATUS_UNANSWERED);
	ev = EXPECT_EVENT(bob->rec, "incoming_call_cancelled", sid);
	assert_int_equal(ev->status, CW_STATUS_UNANSWERED);

	/* A later call is the later event after which nothing of sid may come. */
	c = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	EXPECT_EVENT(bob->rec, "incoming_call_received", cw_call_get_session_id(c));
	ASSERT_OK(cw_cancel_call_sync(alice->client, cw_call_get_session_id(c), 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_cancelled", cw_call_get_session_id(c));
	assert_int_equal(rec_count(alice->rec, NULL, sid), 1);
	assert_int_equal(rec_count(bob->rec, NULL, sid), 2);
	assert_one_reconnection(alice);
	assert_one_reconnection(bob);
}

static void vanished_caller_or_partner_is_timed_out_after_the_reconnect_grace(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob"),
		    *carol = peer_login(w, "carol");
	const struct rec_event *ev;
	const char *sid;
	long long t0;

	cwt_app_settings(w->srv, &w->app, "{\"reconnectGrace\":1}");

	/* The caller's app dies while it rings: the ringing stops after the grace. */
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	t0 = cwt_now_ms();
	peer_close(w, alice);
	ev = EXPECT_EVENT(bob->rec, "incoming_call_cancelled", sid);
	assert_int_equal(ev->status, CW_STATUS_CANCELLED);
	assert_true(cwt_now_ms() - t0 >= 900);

	/* The partner's app dies during a call: the call ends after the grace. */
	sid = cw_call_get_session_id(
		ring(w, carol, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	accept_sync(w, bob, sid);
	EXPECT_EVENT(carol->rec, "outgoing_call_accepted", sid);
	t0 = cwt_now_ms();
	peer_close(w, carol);
	ev = EXPECT_EVENT(bob->rec, "call_ended", sid);
	assert_int_equal(ev->status, CW_STATUS_ENDED);
	assert_true(cwt_now_ms() - t0 >= 900);
	assert_int_equal(rec_count(bob->rec, "call_ended", sid), 1);
}

/* A request made while the server is away waits for it, but only until its deadline. */
static void request_waiting_for_a_down_server_times_out_at_its_deadline(void **state)
{
	struct world *w = *state;
	struct peer *bob = peer_login(w, "bob");
	cw_call *call = NULL;
	long long start, took;
	int rc;

	assert_int_equal(cwt_server_signal(w->srv, SIGKILL), 128 + SIGKILL);
	expect_connection_lost(bob);
	start = cwt_now_ms();
	rc = cw_get_active_call_sync(bob->client, 600, &call);
	took = cwt_now_ms() - start;
	assert_int_equal(rc, CW_ERR_TIMEOUT);
	assert_null(call);
	assert_non_null(strstr(cw_last_error_message(), "connection"));
	/* Not before the deadline, and not long after it (the deadline is checked every
	 * 100 ms; the bound leaves room for a loaded machine). */
	assert_true(took >= 600);
	assert_true(took < 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			request_waiting_for_a_down_server_times_out_at_its_deadline, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			server_killed_while_ringing_comes_back_and_the_answer_arrives_once,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			server_stopped_during_a_call_comes_back_and_the_call_ends_once, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			ring_that_timed_out_while_the_server_was_down_is_replayed_once, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			vanished_caller_or_partner_is_timed_out_after_the_reconnect_grace,
			world_setup, world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
