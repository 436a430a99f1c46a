/* SDK tests of the listener rules: same id replaces, distinct ids fire, changes in callbacks. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "world.h"

#define RECONNECT_TIMEOUT_MS 20000

static void same_id_replaces_and_distinct_ids_fire_in_the_order_first_added(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct recorder *a = world_recorder(w, "A"), *b = world_recorder(w, "B"),
			*c = world_recorder(w, "C"), *last = world_recorder(w, "last");
	const struct rec_event *eb, *ec, *el, *main_ev;
	const char *sid;

	ASSERT_OK(rec_attach(a, bob->client, "ui"));
	ASSERT_OK(rec_attach(c, bob->client, "other"));
	ASSERT_OK(rec_attach(b, bob->client, "ui")); /* replaces A, in A's place */
	ASSERT_OK(rec_attach(last, bob->client, "last"));

	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	el = EXPECT_EVENT(last, "incoming_call_received", sid);
	eb = EXPECT_EVENT(b, "incoming_call_received", sid);
	ec = EXPECT_EVENT(c, "incoming_call_received", sid);
	main_ev = EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	assert_int_equal(rec_count(a, NULL, NULL), 0);
	assert_int_equal(rec_count(b, "incoming_call_received", sid), 1);
	assert_int_equal(rec_count(c, "incoming_call_received", sid), 1);
	assert_true(main_ev->order < eb->order);
	assert_true(eb->order < ec->order);
	assert_true(ec->order < el->order);

	/* Removing by id stops only that listener. */
	ASSERT_OK(cw_remove_call_listener(bob->client, "other"));
	ASSERT_OK(cw_cancel_call_sync(alice->client, sid, 0, NULL));
	EXPECT_EVENT(last, "incoming_call_cancelled", sid);
	assert_int_equal(rec_count(b, "incoming_call_cancelled", sid), 1);
	assert_int_equal(rec_count(c, "incoming_call_cancelled", sid), 0);
	assert_int_equal(rec_count(a, NULL, NULL), 0);

	/* Connection listeners follow the same rule, apart from call listeners: "other" still
	 * has its connection listener, "ui" loses only its own. */
	ASSERT_OK(cw_remove_connection_listener(bob->client, "ui"));
	assert_int_equal(cwt_server_signal(w->srv, SIGKILL), 128 + SIGKILL);
	EXPECT_EVENT(last, "disconnected", NULL);
	ASSERT_OK(cwt_server_start(w->srv));
	rec_expect(last, "reconnected", NULL, 1, RECONNECT_TIMEOUT_MS, __FILE__, __LINE__);
	assert_int_equal(rec_count(c, "disconnected", NULL), 1);
	assert_int_equal(rec_count(c, "reconnected", NULL), 1);
	assert_int_equal(rec_count(b, "disconnected", NULL), 0);
	assert_int_equal(rec_count(b, "reconnected", NULL), 0);

	/* B's call listener is still there. */
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(last, "incoming_call_received", sid);
	assert_int_equal(rec_count(b, "incoming_call_received", sid), 1);
	assert_int_equal(rec_count(c, "incoming_call_received", sid), 0);
}

/* What the mutating listener does at its first event, and what came of it. */
struct mutator {
	struct recorder *victim, *swap_new, *late;
	int calls;
	int rc_remove_victim, rc_replace_swap, rc_add_late, rc_remove_self;
};

static void mutate(cw_client *client, cw_call *call, void *arg)
{
	struct mutator *m = arg;

	(void)call;
	if (m->calls++ > 0)
		return;
	m->rc_remove_victim = cw_remove_call_listener(client, "victim");
	m->rc_replace_swap = cw_add_call_listener(client, "swap", rec_call_listener(), m->swap_new);
	m->rc_add_late = cw_add_call_listener(client, "late", rec_call_listener(), m->late);
	m->rc_remove_self = cw_remove_call_listener(client, "mutator");
}

static void listeners_changed_inside_a_callback_take_effect_from_the_next_event(void **state)
{
	struct world *w = *state;
	static const cw_call_listener mutator_listener = {.incoming_call_received = mutate};
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct recorder *swap_old = world_recorder(w, "swap-old");
	struct mutator *m = calloc(1, sizeof(*m));
	const struct rec_event *late_ev, *swap_ev;
	const char *sid, *sid2;

	assert_non_null(m);
	world_defer(w, free, m);
	m->victim = world_recorder(w, "victim");
	m->swap_new = world_recorder(w, "swap-new");
	m->late = world_recorder(w, "late");
	m->rc_remove_victim = m->rc_replace_swap = m->rc_add_late = m->rc_remove_self = -1000;
	ASSERT_OK(cw_add_call_listener(bob->client, "mutator", &mutator_listener, m));
	ASSERT_OK(cw_add_call_listener(bob->client, "victim", rec_call_listener(), m->victim));
	ASSERT_OK(cw_add_call_listener(bob->client, "swap", rec_call_listener(), swap_old));

	/* Event 1: the mutator runs first and changes the listeners after it. */
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	/* Event 2 reaches the listener added last, so event 1 is wholly dispatched. */
	ASSERT_OK(cw_cancel_call_sync(alice->client, sid, 0, NULL));
	late_ev = EXPECT_EVENT(m->late, "incoming_call_cancelled", sid);
	swap_ev = EXPECT_EVENT(m->swap_new, "incoming_call_cancelled", sid);

	assert_int_equal(m->rc_remove_victim, 0);
	assert_int_equal(m->rc_replace_swap, 0);
	assert_int_equal(m->rc_add_late, 0);
	assert_int_equal(m->rc_remove_self, 0);
	/* Removed during event 1 before its turn: never called. */
	assert_int_equal(rec_count(m->victim, NULL, NULL), 0);
	/* Replaced during event 1: the old one is not called, the new one from event 2 on. */
	assert_int_equal(rec_count(swap_old, NULL, NULL), 0);
	assert_int_equal(rec_count(m->swap_new, "incoming_call_received", NULL), 0);
	/* Added during event 1: fires from event 2 on, after the listeners added before it. */
	assert_int_equal(rec_count(m->late, "incoming_call_received", NULL), 0);
	assert_true(swap_ev->order < late_ev->order);

	/* Event 3: the mutator removed itself and stays removed. */
	sid2 = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(m->late, "incoming_call_received", sid2);
	assert_int_equal(m->calls, 1);
	assert_int_equal(rec_count(m->swap_new, "incoming_call_received", sid2), 1);
	assert_int_equal(rec_count(m->victim, NULL, NULL), 0);
	assert_int_equal(rec_count(swap_old, NULL, NULL), 0);
}

static void every_listener_member_may_be_null(void **state)
{
	struct world *w = *state;
	static const cw_call_listener empty_call = {0};
	static const cw_connection_listener empty_connection = {0};
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct recorder *last = world_recorder(w, "last");
	const char *sid;

	ASSERT_OK(cw_add_call_listener(bob->client, "empty", &empty_call, NULL));
	ASSERT_OK(cw_add_connection_listener(bob->client, "empty", &empty_connection, NULL));
	ASSERT_OK(rec_attach(last, bob->client, "last"));
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(last, "incoming_call_received", sid);
	accept_sync(w, bob, sid);
	end_sync(w, alice, sid);
	EXPECT_EVENT(last, "call_ended", sid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			same_id_replaces_and_distinct_ids_fire_in_the_order_first_added,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			listeners_changed_inside_a_callback_take_effect_from_the_next_event,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(every_listener_member_may_be_null, world_setup,
						world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
