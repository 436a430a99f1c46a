/* Unit tests of the call state machine: every transition of the contract's state rules,
 * every refusal, idempotent retries, effect lists, durations. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calls/machine.h"
#include "util/util.h"

#define T0 1700000000000LL
#define RING_S 45
#define DEADLINE (T0 + RING_S * 1000LL)

/* The group "g1": ann calls; the list is unsorted, repeats bob and contains ann herself. */
static const char group_members[][CW_UID_MAX + 1] = {"eve", "bob", "ann", "dan", "cat", "bob"};

/* ---- helpers ---- */

static void new_user_call(struct cw_call *c)
{
	static const char rx[][CW_UID_MAX + 1] = {"bob"};

	assert_int_equal(cw_call_init(c, "s1", CW_CALL_AUDIO, CW_RECEIVER_USER, "ann", "d-ann",
				      "bob", rx, 1, RING_S, T0, NULL),
			 0);
}

static void new_group_call(struct cw_call *c)
{
	assert_int_equal(cw_call_init(c, "s2", CW_CALL_VIDEO, CW_RECEIVER_GROUP, "ann", "d-ann",
				      "g1", group_members, CW_ARRAY_SIZE(group_members), RING_S, T0,
				      NULL),
			 0);
}

/* Applies action with the actor's usual device "d-<uid>" and asserts the result. fx, when
 * given, is emptied first so that it holds this step's events only. */
static void act(struct cw_call *c, enum cw_action action, const char *actor, int64_t now, int want,
		struct cw_effects *fx)
{
	char dev[CW_DEVICE_MAX + 1] = "";

	if (actor)
		snprintf(dev, sizeof(dev), "d-%s", actor);
	cw_effects_reset(fx);
	assert_int_equal(cw_call_apply(c, action, actor, actor ? dev : NULL, now, fx), want);
}

static struct cw_participant *part(const struct cw_call *c, const char *uid)
{
	struct cw_participant *p = cw_call_participant(c, uid);

	assert_non_null(p);
	return p;
}

static bool calls_equal(const struct cw_call *a, const struct cw_call *b)
{
	return strcmp(a->session_id, b->session_id) == 0 && a->category == b->category &&
	       a->type == b->type && a->receiver_type == b->receiver_type &&
	       strcmp(a->initiator, b->initiator) == 0 && strcmp(a->receiver, b->receiver) == 0 &&
	       a->status == b->status && a->initiated_at == b->initiated_at &&
	       a->joined_at == b->joined_at && a->ended_at == b->ended_at &&
	       a->ring_deadline == b->ring_deadline && a->n_participants == b->n_participants &&
	       memcmp(a->participants, b->participants,
		      a->n_participants * sizeof(*a->participants)) == 0;
}

static bool fx_has_duplicates(const struct cw_effects *fx)
{
	for (size_t i = 0; i < fx->n; i++) {
		for (size_t j = i + 1; j < fx->n; j++) {
			if (fx->list[i].event == fx->list[j].event &&
			    strcmp(fx->list[i].uid, fx->list[j].uid) == 0)
				return true;
		}
	}
	return false;
}

static void print_fx(const struct cw_effects *fx)
{
	for (size_t i = 0; i < fx->n; i++)
		print_message("  fx: %s:%s\n", fx->list[i].uid, cw_event_name(fx->list[i].event));
}

/* fx must hold exactly the events of spec ("uid:event uid:event …"), in any order, each
 * once. */
static void expect_fx(const struct cw_effects *fx, const char *spec)
{
	char buf[1024], *save = NULL;
	size_t want = 0;

	if (fx_has_duplicates(fx)) {
		print_fx(fx);
		fail_msg("duplicate effect");
	}
	cw_strlcpy(buf, spec, sizeof(buf));
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *ev = strchr(tok, ':');
		bool found = false;

		assert_non_null(ev);
		*ev++ = '\0';
		for (size_t i = 0; i < fx->n; i++) {
			if (strcmp(fx->list[i].uid, tok) == 0 &&
			    strcmp(cw_event_name(fx->list[i].event), ev) == 0)
				found = true;
		}
		if (!found) {
			print_fx(fx);
			fail_msg("missing effect %s:%s", tok, ev);
		}
		want++;
	}
	if (fx->n != want) {
		print_fx(fx);
		fail_msg("%zu effects, expected %zu (%s)", fx->n, want, spec);
	}
}

/* Every participant's state, in participant order: "ann:ongoing bob:ringing …". */
static void expect_states(const struct cw_call *c, const char *spec)
{
	char buf[1024], *save = NULL;
	size_t i = 0;

	cw_strlcpy(buf, spec, sizeof(buf));
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *st = strchr(tok, ':');

		assert_non_null(st);
		*st++ = '\0';
		assert_true(i < c->n_participants);
		assert_string_equal(c->participants[i].uid, tok);
		assert_string_equal(cw_part_state_name(c->participants[i].state), st);
		i++;
	}
	assert_int_equal(i, c->n_participants);
}

/* The action returns want and leaves both the call and the effect list exactly as they
 * were: an effect list already holding one entry keeps its memory, length and content,
 * and an empty one stays empty without allocating. */
static void expect_unchanged_dev(struct cw_call *c, enum cw_action action, const char *actor,
				 const char *device, int64_t now, int want)
{
	struct cw_effects fx = {0}, empty = {0};
	struct cw_effect *list;
	struct cw_call before;

	assert_int_equal(cw_call_copy(&before, c), 0);
	list = calloc(1, sizeof(*list));
	assert_non_null(list);
	cw_strlcpy(list[0].uid, "sentinel", sizeof(list[0].uid));
	list[0].event = CW_EV_PARTICIPANT_LEFT;
	fx.list = list;
	fx.n = fx.cap = 1;

	assert_int_equal(cw_call_apply(c, action, actor, device, now, &fx), want);
	assert_true(calls_equal(c, &before));
	assert_ptr_equal(fx.list, list);
	assert_int_equal(fx.n, 1);
	assert_int_equal(fx.cap, 1);
	assert_string_equal(fx.list[0].uid, "sentinel");
	assert_int_equal(fx.list[0].event, CW_EV_PARTICIPANT_LEFT);

	assert_int_equal(cw_call_apply(c, action, actor, device, now, &empty), want);
	assert_true(calls_equal(c, &before));
	assert_int_equal(empty.n, 0);
	assert_null(empty.list);

	cw_effects_free(&fx);
	cw_call_free(&before);
}

static void expect_unchanged(struct cw_call *c, enum cw_action action, const char *actor,
			     int64_t now, int want)
{
	char dev[CW_DEVICE_MAX + 1] = "";

	if (actor)
		snprintf(dev, sizeof(dev), "d-%s", actor);
	expect_unchanged_dev(c, action, actor, actor ? dev : NULL, now, want);
}

/* A group call with ann (initiator), bob and cat in it, dan and eve still ringing. */
static void group_with_bob_and_cat_in(struct cw_call *c)
{
	new_group_call(c);
	act(c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	act(c, CW_ACT_ACCEPT, "cat", T0 + 2000, 0, NULL);
}

/* ---- creation ---- */

static void user_call_starts_initiated_with_the_callee_ringing(void **state)
{
	static const char rx[][CW_UID_MAX + 1] = {"bob"};
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	assert_int_equal(cw_call_init(&c, "s1", CW_CALL_VIDEO, CW_RECEIVER_USER, "ann", "d-ann",
				      "bob", rx, 1, RING_S, T0, &fx),
			 0);
	assert_string_equal(c.session_id, "s1");
	assert_int_equal(c.category, CW_CATEGORY_CALL);
	assert_int_equal(c.type, CW_CALL_VIDEO);
	assert_int_equal(c.receiver_type, CW_RECEIVER_USER);
	assert_string_equal(c.initiator, "ann");
	assert_string_equal(c.receiver, "bob");
	assert_int_equal(c.status, CW_CALL_INITIATED);
	assert_int_equal(c.initiated_at, T0);
	assert_int_equal(c.joined_at, 0);
	assert_int_equal(c.ended_at, 0);
	assert_int_equal(c.ring_deadline, T0 + 45000);
	expect_states(&c, "ann:ongoing bob:ringing");
	assert_true(c.participants[0].initiator);
	assert_string_equal(c.participants[0].device, "d-ann");
	assert_int_equal(c.participants[0].joined_at, 0);
	assert_false(c.participants[1].initiator);
	assert_string_equal(c.participants[1].device, "");
	assert_int_equal(c.participants[1].joined_at, 0);
	assert_int_equal(c.participants[1].left_at, 0);
	assert_int_equal(c.participants[1].time_in, 0);
	expect_fx(&fx, "bob:call.incoming");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_call_rings_every_member_but_the_initiator_once_in_uid_order(void **state)
{
	static const char rx[][CW_UID_MAX + 1] = {"eve", "bob", "ann", "Dan", "cat", "bob"};
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	assert_int_equal(cw_call_init(&c, "s2", CW_CALL_AUDIO, CW_RECEIVER_GROUP, "ann", "d-ann",
				      "g1", rx, CW_ARRAY_SIZE(rx), 30, T0, &fx),
			 0);
	assert_string_equal(c.receiver, "g1");
	assert_int_equal(c.receiver_type, CW_RECEIVER_GROUP);
	assert_int_equal(c.ring_deadline, T0 + 30000);
	/* strcmp order: upper case sorts before lower case. */
	expect_states(&c, "ann:ongoing Dan:ringing bob:ringing cat:ringing eve:ringing");
	assert_true(c.participants[0].initiator);
	for (size_t i = 1; i < c.n_participants; i++)
		assert_false(c.participants[i].initiator);
	expect_fx(&fx, "Dan:call.incoming bob:call.incoming cat:call.incoming eve:call.incoming");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void init_refuses_bad_receivers_and_leaves_call_and_effects_untouched(void **state)
{
	static const char one_bob[][CW_UID_MAX + 1] = {"bob"};
	static const char two[][CW_UID_MAX + 1] = {"bob", "cat"};
	static const char self[][CW_UID_MAX + 1] = {"ann"};
	static const char only_ann[][CW_UID_MAX + 1] = {"ann", "ann"};
	static const char empty_uid[][CW_UID_MAX + 1] = {"bob", ""};
	struct cw_effects fx = {0};
	struct cw_call c, pristine;
	struct {
		enum cw_receiver_type rt;
		const char *session, *receiver;
		const char (*rx)[CW_UID_MAX + 1];
		size_t n;
	} cases[] = {
		{CW_RECEIVER_USER, "s", "bob", one_bob, 0},   /* no receiver */
		{CW_RECEIVER_USER, "s", "bob", NULL, 1},      /* no receiver list */
		{CW_RECEIVER_USER, "s", "bob", two, 2},	      /* a user call has one callee */
		{CW_RECEIVER_USER, "s", "cat", one_bob, 1},   /* receiver is not the callee */
		{CW_RECEIVER_USER, "s", "ann", self, 1},      /* calling oneself */
		{CW_RECEIVER_GROUP, "s", "g1", one_bob, 0},   /* no member */
		{CW_RECEIVER_GROUP, "s", "g1", self, 1},      /* only the initiator */
		{CW_RECEIVER_GROUP, "s", "g1", only_ann, 2},  /* only the initiator, twice */
		{CW_RECEIVER_GROUP, "s", "g1", empty_uid, 2}, /* an empty uid */
		{CW_RECEIVER_GROUP, "", "g1", one_bob, 1},    /* no session id */
		{CW_RECEIVER_GROUP, "s", "", one_bob, 1},     /* no guid */
		{(enum cw_receiver_type)7, "s", "g1", one_bob, 1},
	};
	char long_session[CW_SESSION_ID_MAX + 2];

	(void)state;
	memset(&pristine, 0xab, sizeof(pristine));
	assert_int_equal(cw_call_init(&c, "s0", CW_CALL_AUDIO, CW_RECEIVER_USER, "ann", "", "bob",
				      one_bob, 1, RING_S, T0, &fx),
			 0);
	cw_call_free(&c);
	assert_int_equal(fx.n, 1);
	for (size_t i = 0; i < CW_ARRAY_SIZE(cases); i++) {
		struct cw_effect *list = fx.list;
		size_t cap = fx.cap;

		memcpy(&c, &pristine, sizeof(c));
		assert_int_equal(cw_call_init(&c, cases[i].session, CW_CALL_AUDIO, cases[i].rt,
					      "ann", "d-ann", cases[i].receiver, cases[i].rx,
					      cases[i].n, RING_S, T0, &fx),
				 -EINVAL);
		assert_memory_equal(&c, &pristine, sizeof(c));
		assert_ptr_equal(fx.list, list);
		assert_int_equal(fx.cap, cap);
		expect_fx(&fx, "bob:call.incoming");
	}
	memset(long_session, 'x', sizeof(long_session) - 1);
	long_session[sizeof(long_session) - 1] = '\0';
	assert_int_equal(cw_call_init(&c, long_session, CW_CALL_AUDIO, CW_RECEIVER_USER, "ann", "",
				      "bob", one_bob, 1, RING_S, T0, &fx),
			 -EINVAL);
	assert_memory_equal(&c, &pristine, sizeof(c));
	cw_effects_free(&fx);
}

/* ---- accept ---- */

static void user_accept_starts_the_call_and_tells_the_caller_and_the_callees_devices(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 2000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	assert_int_equal(c.joined_at, T0 + 2000);
	assert_int_equal(c.ended_at, 0);
	expect_states(&c, "ann:ongoing bob:ongoing");
	assert_int_equal(part(&c, "ann")->joined_at, T0 + 2000);
	assert_string_equal(part(&c, "ann")->device, "d-ann");
	assert_int_equal(part(&c, "bob")->joined_at, T0 + 2000);
	assert_int_equal(part(&c, "bob")->left_at, 0);
	assert_string_equal(part(&c, "bob")->device, "d-bob");
	expect_fx(&fx, "ann:call.accepted bob:call.accepted_elsewhere");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void user_accept_retry_from_the_winning_device_is_same_and_changes_nothing(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 2000, 0, NULL);
	expect_unchanged(&c, CW_ACT_ACCEPT, "bob", T0 + 3000, CW_CALL_SAME);
	cw_call_free(&c);
}

static void user_accept_from_another_device_after_the_first_won_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 2000, 0, NULL);
	expect_unchanged_dev(&c, CW_ACT_ACCEPT, "bob", "d-bob-tablet", T0 + 2001, -EALREADY);
	expect_unchanged_dev(&c, CW_ACT_ACCEPT, "bob", "", T0 + 2001, -EALREADY);
	cw_call_free(&c);
}

static void accept_by_the_initiator_is_forbidden_and_by_a_stranger_unknown(void **state)
{
	struct cw_call u, g;

	(void)state;
	new_user_call(&u);
	new_group_call(&g);
	expect_unchanged(&u, CW_ACT_ACCEPT, "ann", T0 + 1, -EPERM);
	expect_unchanged(&u, CW_ACT_ACCEPT, "zed", T0 + 1, -ENOENT);
	expect_unchanged(&g, CW_ACT_ACCEPT, "ann", T0 + 1, -EPERM);
	expect_unchanged(&g, CW_ACT_ACCEPT, "zed", T0 + 1, -ENOENT);
	act(&g, CW_ACT_ACCEPT, "bob", T0 + 2, 0, NULL);
	expect_unchanged(&g, CW_ACT_ACCEPT, "ann", T0 + 3, -EPERM);
	cw_call_free(&u);
	cw_call_free(&g);
}

static void accept_on_a_final_call_is_refused(void **state)
{
	static const enum cw_action enders[] = {CW_ACT_REJECT, CW_ACT_BUSY, CW_ACT_CANCEL,
						CW_ACT_TIMEOUT};
	struct cw_call c;

	(void)state;
	for (size_t i = 0; i < CW_ARRAY_SIZE(enders); i++) {
		const char *who = enders[i] == CW_ACT_CANCEL	? "ann"
				  : enders[i] == CW_ACT_TIMEOUT ? NULL
								: "bob";

		new_user_call(&c);
		act(&c, enders[i], who, DEADLINE, 0, NULL);
		assert_false(cw_call_active(&c));
		expect_unchanged(&c, CW_ACT_ACCEPT, "bob", DEADLINE + 1, -EALREADY);
		cw_call_free(&c);
	}
	/* Ended: the callee who was in cannot come back, from any device. */
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	act(&c, CW_ACT_END, "ann", T0 + 2000, 0, NULL);
	expect_unchanged(&c, CW_ACT_ACCEPT, "bob", T0 + 3000, -EALREADY);
	cw_call_free(&c);

	/* A group call that ended takes no late joiners, not even those who had left. */
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 5000, 0, NULL);
	expect_unchanged(&c, CW_ACT_ACCEPT, "bob", T0 + 6000, -EALREADY);
	expect_unchanged(&c, CW_ACT_ACCEPT, "dan", T0 + 6000, -EALREADY);
	cw_call_free(&c);
}

static void user_accept_needs_a_ringing_callee_where_a_group_allows_rejoining(void **state)
{
	struct cw_call u, g;

	(void)state;
	/* Not reachable through the API (a declining callee ends a 1:1 call), so the
	 * state is set by hand to isolate the rule. */
	new_user_call(&u);
	part(&u, "bob")->state = CW_PART_REJECTED;
	expect_unchanged(&u, CW_ACT_ACCEPT, "bob", T0 + 1000, -EALREADY);
	part(&u, "bob")->state = CW_PART_UNANSWERED;
	expect_unchanged(&u, CW_ACT_ACCEPT, "bob", T0 + 1000, -EALREADY);

	new_group_call(&g);
	act(&g, CW_ACT_REJECT, "bob", T0 + 500, 0, NULL);
	act(&g, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	assert_int_equal(g.status, CW_CALL_ONGOING);
	cw_call_free(&u);
	cw_call_free(&g);
}

static void group_first_accept_starts_the_call_and_tells_only_the_initiator(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_ACCEPT, "cat", T0 + 1000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	assert_int_equal(c.joined_at, T0 + 1000);
	assert_int_equal(part(&c, "ann")->joined_at, T0 + 1000);
	assert_int_equal(part(&c, "cat")->joined_at, T0 + 1000);
	assert_string_equal(part(&c, "cat")->device, "d-cat");
	expect_states(&c, "ann:ongoing bob:ringing cat:ongoing dan:ringing eve:ringing");
	expect_fx(&fx, "ann:call.accepted cat:call.accepted_elsewhere");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_late_join_tells_every_other_ongoing_participant(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	act(&c, CW_ACT_ACCEPT, "cat", T0 + 2000, 0, &fx);
	expect_fx(&fx, "ann:call.participant_joined bob:call.participant_joined "
		       "cat:call.accepted_elsewhere");
	/* The call's start and the initiator's join stay at the first accept. */
	assert_int_equal(c.joined_at, T0 + 1000);
	assert_int_equal(part(&c, "ann")->joined_at, T0 + 1000);
	assert_int_equal(part(&c, "cat")->joined_at, T0 + 2000);

	/* Who has left or still rings is not told. */
	act(&c, CW_ACT_END, "bob", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_ACCEPT, "dan", T0 + 4000, 0, &fx);
	expect_fx(&fx, "ann:call.participant_joined cat:call.participant_joined "
		       "dan:call.accepted_elsewhere");
	expect_states(&c, "ann:ongoing bob:left cat:ongoing dan:ongoing eve:ringing");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_member_may_rejoin_after_leaving_declining_or_missing_the_ring(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	/* Declined while ringing, then changed their mind: that starts the call. */
	act(&c, CW_ACT_BUSY, "eve", T0 + 100, 0, NULL);
	act(&c, CW_ACT_ACCEPT, "eve", T0 + 200, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	expect_fx(&fx, "ann:call.accepted eve:call.accepted_elsewhere");

	act(&c, CW_ACT_ACCEPT, "cat", T0 + 1000, 0, NULL);
	act(&c, CW_ACT_REJECT, "bob", T0 + 1100, 0, NULL);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
	expect_states(&c, "ann:ongoing bob:rejected cat:ongoing dan:unanswered eve:ongoing");

	act(&c, CW_ACT_ACCEPT, "bob", DEADLINE + 1000, 0, &fx);
	expect_fx(&fx, "ann:call.participant_joined cat:call.participant_joined "
		       "eve:call.participant_joined bob:call.accepted_elsewhere");
	act(&c, CW_ACT_ACCEPT, "dan", DEADLINE + 2000, 0, NULL);
	act(&c, CW_ACT_END, "cat", DEADLINE + 3000, 0, NULL);
	assert_int_equal(part(&c, "cat")->left_at, DEADLINE + 3000);
	act(&c, CW_ACT_ACCEPT, "cat", DEADLINE + 4000, 0, NULL);
	assert_int_equal(part(&c, "cat")->left_at, 0);
	assert_int_equal(part(&c, "cat")->joined_at, DEADLINE + 4000);
	expect_states(&c, "ann:ongoing bob:ongoing cat:ongoing dan:ongoing eve:ongoing");
	assert_int_equal(c.status, CW_CALL_ONGOING);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_rejoin_may_come_from_another_device(void **state)
{
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END, "bob", T0 + 3000, 0, NULL);
	assert_int_equal(cw_call_apply(&c, CW_ACT_ACCEPT, "bob", "d-bob-laptop", T0 + 4000, NULL),
			 0);
	assert_string_equal(part(&c, "bob")->device, "d-bob-laptop");
	cw_call_free(&c);
}

static void group_accept_retry_is_same_but_a_second_device_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	expect_unchanged(&c, CW_ACT_ACCEPT, "bob", T0 + 3000, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_ACCEPT, "cat", T0 + 3000, CW_CALL_SAME);
	expect_unchanged_dev(&c, CW_ACT_ACCEPT, "cat", "d-cat-2", T0 + 3000, -EALREADY);
	cw_call_free(&c);
}

/* ---- reject and busy ---- */

static void user_reject_ends_the_call_rejected_and_tells_the_caller(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 3000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_REJECTED);
	assert_int_equal(c.ended_at, T0 + 3000);
	assert_int_equal(c.joined_at, 0);
	expect_states(&c, "ann:left bob:rejected");
	assert_int_equal(part(&c, "ann")->left_at, T0 + 3000);
	assert_int_equal(part(&c, "ann")->time_in, 0);
	assert_int_equal(part(&c, "bob")->left_at, 0);
	expect_fx(&fx, "bob:call.rejected_elsewhere ann:call.rejected");
	assert_int_equal(cw_call_duration(&c, T0 + 9000), 0);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void user_busy_ends_the_call_busy_and_tells_the_caller_rejected(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_BUSY, "bob", T0 + 10, 0, &fx);
	assert_int_equal(c.status, CW_CALL_BUSY);
	assert_int_equal(c.ended_at, T0 + 10);
	expect_states(&c, "ann:left bob:busy");
	assert_int_equal(part(&c, "ann")->left_at, T0 + 10);
	expect_fx(&fx, "bob:call.rejected_elsewhere ann:call.rejected");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void decline_retries_are_same_even_after_the_call_ended(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 20, CW_CALL_SAME);
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_BUSY, "bob", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_BUSY, "bob", T0 + 20, CW_CALL_SAME);
	cw_call_free(&c);

	/* A group member who declined, in a call that has since ended. */
	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_BUSY, "dan", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 20, CW_CALL_SAME);
	act(&c, CW_ACT_ACCEPT, "cat", T0 + 30, 0, NULL);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 40, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 50, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_BUSY, "dan", T0 + 50, CW_CALL_SAME);
	cw_call_free(&c);
}

static void switching_between_reject_and_busy_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_BUSY, "bob", T0 + 20, -EALREADY);
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_BUSY, "bob", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 20, -EALREADY);
	cw_call_free(&c);

	/* In a group call that is still ringing, too. */
	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_BUSY, "cat", T0 + 10, 0, NULL);
	assert_int_equal(c.status, CW_CALL_INITIATED);
	expect_unchanged(&c, CW_ACT_BUSY, "bob", T0 + 20, -EALREADY);
	expect_unchanged(&c, CW_ACT_REJECT, "cat", T0 + 20, -EALREADY);
	cw_call_free(&c);
}

static void decline_by_a_receiver_who_is_or_was_in_the_call_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 20, -EALREADY);
	expect_unchanged(&c, CW_ACT_BUSY, "bob", T0 + 20, -EALREADY);
	act(&c, CW_ACT_END, "bob", T0 + 30, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 40, -EALREADY);
	cw_call_free(&c);

	group_with_bob_and_cat_in(&c);
	expect_unchanged(&c, CW_ACT_REJECT, "cat", T0 + 3000, -EALREADY);
	act(&c, CW_ACT_END, "cat", T0 + 3000, 0, NULL);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	expect_unchanged(&c, CW_ACT_REJECT, "cat", T0 + 4000, -EALREADY);
	expect_unchanged(&c, CW_ACT_BUSY, "cat", T0 + 4000, -EALREADY);
	cw_call_free(&c);
}

static void decline_by_the_initiator_is_forbidden_and_by_a_stranger_unknown(void **state)
{
	struct cw_call u, g;

	(void)state;
	new_user_call(&u);
	new_group_call(&g);
	expect_unchanged(&u, CW_ACT_REJECT, "ann", T0 + 1, -EPERM);
	expect_unchanged(&u, CW_ACT_BUSY, "ann", T0 + 1, -EPERM);
	expect_unchanged(&u, CW_ACT_REJECT, "zed", T0 + 1, -ENOENT);
	expect_unchanged(&u, CW_ACT_BUSY, "zed", T0 + 1, -ENOENT);
	expect_unchanged(&g, CW_ACT_REJECT, "ann", T0 + 1, -EPERM);
	expect_unchanged(&g, CW_ACT_BUSY, "ann", T0 + 1, -EPERM);
	expect_unchanged(&g, CW_ACT_REJECT, "zed", T0 + 1, -ENOENT);
	/* Even on a final call, the role is checked first. */
	act(&u, CW_ACT_CANCEL, "ann", T0 + 2, 0, NULL);
	expect_unchanged(&u, CW_ACT_REJECT, "ann", T0 + 3, -EPERM);
	cw_call_free(&u);
	cw_call_free(&g);
}

static void decline_on_a_call_that_ended_otherwise_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", T0 + 20, -EALREADY);
	expect_unchanged(&c, CW_ACT_BUSY, "bob", T0 + 20, -EALREADY);
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "bob", DEADLINE + 1, -EALREADY);
	expect_unchanged(&c, CW_ACT_BUSY, "bob", DEADLINE + 1, -EALREADY);
	cw_call_free(&c);

	/* Group: dan still rang when the call ended, and was cancelled. */
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 3000, 0, NULL);
	expect_unchanged(&c, CW_ACT_REJECT, "dan", T0 + 4000, -EALREADY);
	expect_unchanged(&c, CW_ACT_BUSY, "dan", T0 + 4000, -EALREADY);
	cw_call_free(&c);
}

static void group_decline_keeps_the_others_ringing(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, &fx);
	assert_int_equal(c.status, CW_CALL_INITIATED);
	assert_int_equal(c.ended_at, 0);
	expect_states(&c, "ann:ongoing bob:rejected cat:ringing dan:ringing eve:ringing");
	expect_fx(&fx, "bob:call.rejected_elsewhere");
	act(&c, CW_ACT_BUSY, "cat", T0 + 20, 0, &fx);
	expect_fx(&fx, "cat:call.rejected_elsewhere");
	assert_int_equal(c.status, CW_CALL_INITIATED);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_ends_busy_when_every_member_declines_busy(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_BUSY, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_BUSY, "cat", T0 + 20, 0, NULL);
	act(&c, CW_ACT_BUSY, "dan", T0 + 30, 0, NULL);
	act(&c, CW_ACT_BUSY, "eve", T0 + 40, 0, &fx);
	assert_int_equal(c.status, CW_CALL_BUSY);
	assert_int_equal(c.ended_at, T0 + 40);
	expect_states(&c, "ann:left bob:busy cat:busy dan:busy eve:busy");
	assert_int_equal(part(&c, "ann")->left_at, T0 + 40);
	expect_fx(&fx, "eve:call.rejected_elsewhere ann:call.rejected");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_ends_rejected_when_members_decline_with_reject_or_busy(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_BUSY, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_REJECT, "cat", T0 + 20, 0, NULL);
	act(&c, CW_ACT_BUSY, "dan", T0 + 30, 0, NULL);
	act(&c, CW_ACT_BUSY, "eve", T0 + 40, 0, &fx);
	assert_int_equal(c.status, CW_CALL_REJECTED);
	assert_int_equal(c.ended_at, T0 + 40);
	expect_states(&c, "ann:left bob:busy cat:rejected dan:busy eve:busy");
	expect_fx(&fx, "eve:call.rejected_elsewhere ann:call.rejected");
	cw_call_free(&c);

	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_REJECT, "cat", T0 + 20, 0, NULL);
	act(&c, CW_ACT_REJECT, "dan", T0 + 30, 0, NULL);
	act(&c, CW_ACT_REJECT, "eve", T0 + 40, 0, &fx);
	assert_int_equal(c.status, CW_CALL_REJECTED);
	expect_fx(&fx, "eve:call.rejected_elsewhere ann:call.rejected");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void
group_ends_unanswered_when_the_last_ringing_declines_and_one_never_answered(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	/* An unanswered member in a ringing call is set by hand: the ring timeout would
	 * have ended the call. */
	new_group_call(&c);
	part(&c, "eve")->state = CW_PART_UNANSWERED;
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_BUSY, "cat", T0 + 20, 0, NULL);
	act(&c, CW_ACT_REJECT, "dan", T0 + 30, 0, &fx);
	assert_int_equal(c.status, CW_CALL_UNANSWERED);
	assert_int_equal(c.ended_at, T0 + 30);
	expect_states(&c, "ann:left bob:rejected cat:busy dan:rejected eve:unanswered");
	assert_int_equal(part(&c, "ann")->left_at, T0 + 30);
	expect_fx(&fx, "dan:call.rejected_elsewhere ann:call.unanswered");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_decline_during_an_ongoing_call_leaves_the_call_going(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_ACCEPT, "cat", T0 + 10, 0, NULL);
	act(&c, CW_ACT_REJECT, "bob", T0 + 20, 0, &fx);
	expect_fx(&fx, "bob:call.rejected_elsewhere");
	act(&c, CW_ACT_BUSY, "dan", T0 + 30, 0, &fx);
	expect_fx(&fx, "dan:call.rejected_elsewhere");
	act(&c, CW_ACT_REJECT, "eve", T0 + 40, 0, &fx);
	expect_fx(&fx, "eve:call.rejected_elsewhere");
	assert_int_equal(c.status, CW_CALL_ONGOING);
	assert_int_equal(c.ended_at, 0);
	expect_states(&c, "ann:ongoing bob:rejected cat:ongoing dan:busy eve:rejected");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_member_who_missed_the_ring_may_still_decline(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
	act(&c, CW_ACT_REJECT, "dan", DEADLINE + 10, 0, &fx);
	expect_fx(&fx, "dan:call.rejected_elsewhere");
	act(&c, CW_ACT_BUSY, "eve", DEADLINE + 20, 0, &fx);
	expect_fx(&fx, "eve:call.rejected_elsewhere");
	expect_states(&c, "ann:ongoing bob:ongoing cat:ongoing dan:rejected eve:busy");
	assert_int_equal(c.status, CW_CALL_ONGOING);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

/* ---- cancel ---- */

static void cancel_ends_the_ringing_call_and_tells_the_initiator_and_the_ringing(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 5000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_CANCELLED);
	assert_int_equal(c.ended_at, T0 + 5000);
	expect_states(&c, "ann:cancelled bob:cancelled");
	assert_int_equal(part(&c, "ann")->left_at, T0 + 5000);
	assert_int_equal(part(&c, "ann")->time_in, 0);
	expect_fx(&fx, "ann:call.cancelled bob:call.cancelled");
	cw_call_free(&c);

	/* Who already declined keeps their answer and is not told. */
	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_BUSY, "dan", T0 + 20, 0, NULL);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 5000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_CANCELLED);
	assert_int_equal(c.ended_at, T0 + 5000);
	expect_states(&c, "ann:cancelled bob:rejected cat:cancelled dan:busy eve:cancelled");
	expect_fx(&fx, "ann:call.cancelled cat:call.cancelled eve:call.cancelled");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void cancel_retry_is_same(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_CANCEL, "ann", T0 + 20, CW_CALL_SAME);
	cw_call_free(&c);

	new_group_call(&c);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_CANCEL, "ann", T0 + 20, CW_CALL_SAME);
	cw_call_free(&c);
}

static void cancel_by_a_receiver_is_forbidden_and_by_a_stranger_unknown(void **state)
{
	struct cw_call u, g;

	(void)state;
	new_user_call(&u);
	new_group_call(&g);
	expect_unchanged(&u, CW_ACT_CANCEL, "bob", T0 + 1, -EPERM);
	expect_unchanged(&u, CW_ACT_CANCEL, "zed", T0 + 1, -ENOENT);
	expect_unchanged(&g, CW_ACT_CANCEL, "eve", T0 + 1, -EPERM);
	expect_unchanged(&g, CW_ACT_CANCEL, "zed", T0 + 1, -ENOENT);
	act(&g, CW_ACT_ACCEPT, "bob", T0 + 2, 0, NULL);
	expect_unchanged(&g, CW_ACT_CANCEL, "bob", T0 + 3, -EPERM);
	act(&u, CW_ACT_CANCEL, "ann", T0 + 2, 0, NULL);
	expect_unchanged(&u, CW_ACT_CANCEL, "bob", T0 + 3, -EPERM);
	cw_call_free(&u);
	cw_call_free(&g);
}

static void cancel_after_an_answer_or_another_end_is_refused(void **state)
{
	static const enum cw_action enders[] = {CW_ACT_REJECT, CW_ACT_BUSY, CW_ACT_TIMEOUT,
						CW_ACT_ACCEPT};
	struct cw_call c;

	(void)state;
	for (size_t i = 0; i < CW_ARRAY_SIZE(enders); i++) {
		new_user_call(&c);
		act(&c, enders[i], enders[i] == CW_ACT_TIMEOUT ? NULL : "bob", DEADLINE, 0, NULL);
		expect_unchanged(&c, CW_ACT_CANCEL, "ann", DEADLINE + 1, -EALREADY);
		if (enders[i] == CW_ACT_ACCEPT) {
			act(&c, CW_ACT_END, "bob", DEADLINE + 2, 0, NULL);
			expect_unchanged(&c, CW_ACT_CANCEL, "ann", DEADLINE + 3, -EALREADY);
		}
		cw_call_free(&c);
	}
	group_with_bob_and_cat_in(&c);
	expect_unchanged(&c, CW_ACT_CANCEL, "ann", T0 + 3000, -EALREADY);
	cw_call_free(&c);
}

/* ---- end ---- */

static void user_end_by_either_party_ends_the_call_and_counts_the_time(void **state)
{
	static const char *const enders[] = {"ann", "bob"};
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	for (size_t i = 0; i < CW_ARRAY_SIZE(enders); i++) {
		new_user_call(&c);
		act(&c, CW_ACT_ACCEPT, "bob", T0 + 2000, 0, NULL);
		act(&c, CW_ACT_END, enders[i], T0 + 7000, 0, &fx);
		assert_int_equal(c.status, CW_CALL_ENDED);
		assert_int_equal(c.ended_at, T0 + 7000);
		expect_states(&c, "ann:left bob:left");
		assert_int_equal(part(&c, "ann")->left_at, T0 + 7000);
		assert_int_equal(part(&c, "bob")->left_at, T0 + 7000);
		assert_int_equal(part(&c, "ann")->time_in, 5000);
		assert_int_equal(part(&c, "bob")->time_in, 5000);
		assert_int_equal(cw_call_duration(&c, T0 + 99000), 5000);
		expect_fx(&fx, "ann:call.ended bob:call.ended");
		cw_call_free(&c);
	}
	cw_effects_free(&fx);
}

static void end_before_anyone_answered_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	expect_unchanged(&c, CW_ACT_END, "ann", T0 + 1, -EALREADY);
	expect_unchanged(&c, CW_ACT_END, "bob", T0 + 1, -EALREADY);
	expect_unchanged(&c, CW_ACT_END, "zed", T0 + 1, -ENOENT);
	cw_call_free(&c);

	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 1, 0, NULL);
	expect_unchanged(&c, CW_ACT_END, "ann", T0 + 2, -EALREADY);
	expect_unchanged(&c, CW_ACT_END, "bob", T0 + 2, -EALREADY);
	expect_unchanged(&c, CW_ACT_END, "cat", T0 + 2, -EALREADY);
	cw_call_free(&c);
}

static void end_retry_after_the_call_ended_is_same_for_whoever_was_in_it(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_END, "ann", T0 + 20, 0, NULL);
	expect_unchanged(&c, CW_ACT_END, "ann", T0 + 30, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_END, "bob", T0 + 30, CW_CALL_SAME);
	cw_call_free(&c);

	/* Group: the initiator and whoever had joined; not a member who only rang. */
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END, "bob", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_END, "ann", T0 + 4000, 0, NULL);
	act(&c, CW_ACT_END, "cat", T0 + 5000, 0, NULL);
	assert_int_equal(c.status, CW_CALL_ENDED);
	expect_unchanged(&c, CW_ACT_END, "ann", T0 + 6000, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_END, "bob", T0 + 6000, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_END, "cat", T0 + 6000, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_END, "dan", T0 + 6000, -EALREADY);
	expect_unchanged(&c, CW_ACT_END, "zed", T0 + 6000, -ENOENT);
	cw_call_free(&c);
}

static void end_of_a_call_that_ended_otherwise_is_refused(void **state)
{
	static const enum cw_action enders[] = {CW_ACT_REJECT, CW_ACT_BUSY, CW_ACT_CANCEL,
						CW_ACT_TIMEOUT};
	struct cw_call c;

	(void)state;
	for (size_t i = 0; i < CW_ARRAY_SIZE(enders); i++) {
		const char *who = enders[i] == CW_ACT_CANCEL	? "ann"
				  : enders[i] == CW_ACT_TIMEOUT ? NULL
								: "bob";

		new_user_call(&c);
		act(&c, enders[i], who, DEADLINE, 0, NULL);
		expect_unchanged(&c, CW_ACT_END, "ann", DEADLINE + 1, -EALREADY);
		expect_unchanged(&c, CW_ACT_END, "bob", DEADLINE + 1, -EALREADY);
		cw_call_free(&c);

		new_group_call(&c);
		if (enders[i] == CW_ACT_REJECT || enders[i] == CW_ACT_BUSY) {
			act(&c, enders[i], "bob", T0 + 1, 0, NULL);
			act(&c, enders[i], "cat", T0 + 1, 0, NULL);
			act(&c, enders[i], "dan", T0 + 1, 0, NULL);
			act(&c, enders[i], "eve", T0 + 1, 0, NULL);
		} else {
			act(&c, enders[i], who, DEADLINE, 0, NULL);
		}
		assert_false(cw_call_active(&c));
		expect_unchanged(&c, CW_ACT_END, "ann", DEADLINE + 1, -EALREADY);
		expect_unchanged(&c, CW_ACT_END, "bob", DEADLINE + 1, -EALREADY);
		cw_call_free(&c);
	}
}

static void group_leave_tells_the_others_and_the_call_goes_on(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END, "bob", T0 + 5000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	assert_int_equal(c.ended_at, 0);
	expect_states(&c, "ann:ongoing bob:left cat:ongoing dan:ringing eve:ringing");
	assert_int_equal(part(&c, "bob")->left_at, T0 + 5000);
	assert_int_equal(part(&c, "bob")->time_in, 4000);
	expect_fx(&fx, "ann:call.participant_left cat:call.participant_left");

	/* The initiator leaving does not end a group call either. */
	act(&c, CW_ACT_END, "ann", T0 + 6000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	expect_fx(&fx, "cat:call.participant_left");
	expect_states(&c, "ann:left bob:left cat:ongoing dan:ringing eve:ringing");
	assert_int_equal(part(&c, "ann")->time_in, 5000);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void group_leave_retry_is_same(void **state)
{
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END, "bob", T0 + 5000, 0, NULL);
	expect_unchanged(&c, CW_ACT_END, "bob", T0 + 6000, CW_CALL_SAME);
	act(&c, CW_ACT_END, "ann", T0 + 7000, 0, NULL);
	expect_unchanged(&c, CW_ACT_END, "ann", T0 + 8000, CW_CALL_SAME);
	cw_call_free(&c);
}

static void group_end_by_a_member_who_is_not_in_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_REJECT, "dan", T0 + 3000, 0, NULL);
	expect_unchanged(&c, CW_ACT_END, "eve", T0 + 4000, -EALREADY); /* ringing */
	expect_unchanged(&c, CW_ACT_END, "dan", T0 + 4000, -EALREADY); /* rejected */
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
	expect_unchanged(&c, CW_ACT_END, "eve", DEADLINE + 1, -EALREADY); /* unanswered */
	expect_unchanged(&c, CW_ACT_END, "zed", DEADLINE + 1, -ENOENT);
	cw_call_free(&c);
}

static void group_last_leave_ends_the_call_cancels_the_ringing_and_tells_everyone(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	act(&c, CW_ACT_REJECT, "cat", T0 + 1500, 0, NULL);
	act(&c, CW_ACT_BUSY, "eve", T0 + 1600, 0, NULL);
	act(&c, CW_ACT_END, "ann", T0 + 2000, 0, &fx);
	expect_fx(&fx, "bob:call.participant_left");
	act(&c, CW_ACT_END, "bob", T0 + 9000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ENDED);
	assert_int_equal(c.ended_at, T0 + 9000);
	expect_states(&c, "ann:left bob:left cat:rejected dan:cancelled eve:busy");
	assert_int_equal(part(&c, "bob")->left_at, T0 + 9000);
	assert_int_equal(part(&c, "bob")->time_in, 8000);
	assert_int_equal(part(&c, "ann")->time_in, 1000);
	expect_fx(&fx,
		  "ann:call.ended bob:call.ended cat:call.ended dan:call.ended eve:call.ended");
	assert_int_equal(cw_call_duration(&c, T0 + 99000), 8000);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

/* ---- end for all ---- */

static void end_all_ends_the_group_call_for_everyone(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_REJECT, "eve", T0 + 2500, 0, NULL);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 6000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ENDED);
	assert_int_equal(c.ended_at, T0 + 6000);
	expect_states(&c, "ann:left bob:left cat:left dan:cancelled eve:rejected");
	assert_int_equal(part(&c, "ann")->time_in, 5000);
	assert_int_equal(part(&c, "bob")->time_in, 5000);
	assert_int_equal(part(&c, "cat")->time_in, 4000);
	assert_int_equal(part(&c, "cat")->left_at, T0 + 6000);
	expect_fx(&fx,
		  "ann:call.ended bob:call.ended cat:call.ended dan:call.ended eve:call.ended");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void end_all_by_an_initiator_who_left_still_ends_the_call(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END, "ann", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 4000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ENDED);
	assert_int_equal(part(&c, "ann")->left_at, T0 + 3000);
	assert_int_equal(part(&c, "ann")->time_in, 2000);
	expect_states(&c, "ann:left bob:left cat:left dan:cancelled eve:cancelled");
	expect_fx(&fx,
		  "ann:call.ended bob:call.ended cat:call.ended dan:call.ended eve:call.ended");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void end_all_by_a_member_is_forbidden(void **state)
{
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	expect_unchanged(&c, CW_ACT_END_ALL, "bob", T0 + 3000, -EPERM);
	expect_unchanged(&c, CW_ACT_END_ALL, "dan", T0 + 3000, -EPERM);
	expect_unchanged(&c, CW_ACT_END_ALL, "zed", T0 + 3000, -ENOENT);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 4000, 0, NULL);
	expect_unchanged(&c, CW_ACT_END_ALL, "bob", T0 + 5000, -EPERM);
	cw_call_free(&c);
}

static void end_all_before_an_answer_or_after_another_end_is_refused(void **state)
{
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 1, -EALREADY);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 2, 0, NULL);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 3, -EALREADY);
	cw_call_free(&c);

	new_group_call(&c);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", DEADLINE + 1, -EALREADY);
	cw_call_free(&c);

	new_group_call(&c);
	act(&c, CW_ACT_BUSY, "bob", T0 + 1, 0, NULL);
	act(&c, CW_ACT_BUSY, "cat", T0 + 1, 0, NULL);
	act(&c, CW_ACT_BUSY, "dan", T0 + 1, 0, NULL);
	act(&c, CW_ACT_REJECT, "eve", T0 + 1, 0, NULL);
	assert_int_equal(c.status, CW_CALL_REJECTED);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 2, -EALREADY);
	cw_call_free(&c);
}

static void end_all_retry_after_the_group_call_ended_is_same(void **state)
{
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 3000, 0, NULL);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 4000, CW_CALL_SAME);
	cw_call_free(&c);

	/* Also when the call ended because everyone left. */
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END, "ann", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_END, "bob", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_END, "cat", T0 + 3000, 0, NULL);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 4000, CW_CALL_SAME);
	cw_call_free(&c);
}

static void end_all_on_a_user_call_is_a_plain_end_for_either_party(void **state)
{
	struct cw_effects fx = {0}, fx2 = {0};
	struct cw_call c, d;

	(void)state;
	new_user_call(&c);
	expect_unchanged(&c, CW_ACT_END_ALL, "bob", T0 + 1, -EALREADY);
	expect_unchanged(&c, CW_ACT_END_ALL, "zed", T0 + 1, -ENOENT);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	assert_int_equal(cw_call_copy(&d, &c), 0);
	act(&c, CW_ACT_END_ALL, "bob", T0 + 4000, 0, &fx);
	act(&d, CW_ACT_END, "bob", T0 + 4000, 0, &fx2);
	assert_true(calls_equal(&c, &d));
	assert_int_equal(c.status, CW_CALL_ENDED);
	expect_fx(&fx, "ann:call.ended bob:call.ended");
	expect_fx(&fx2, "ann:call.ended bob:call.ended");
	expect_unchanged(&c, CW_ACT_END_ALL, "bob", T0 + 5000, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 5000, CW_CALL_SAME);
	cw_effects_free(&fx);
	cw_effects_free(&fx2);
	cw_call_free(&c);
	cw_call_free(&d);

	new_user_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 1, 0, NULL);
	expect_unchanged(&c, CW_ACT_END_ALL, "ann", T0 + 2, -EALREADY);
	cw_call_free(&c);
}

/* ---- ring timeout ---- */

static void timeout_before_the_deadline_is_same(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE - 1, CW_CALL_SAME);
	cw_call_free(&c);

	group_with_bob_and_cat_in(&c);
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE - 1, CW_CALL_SAME);
	cw_call_free(&c);
}

static void timeout_of_a_ringing_user_call_makes_it_unanswered(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, &fx);
	assert_int_equal(c.status, CW_CALL_UNANSWERED);
	assert_int_equal(c.ended_at, DEADLINE);
	expect_states(&c, "ann:left bob:unanswered");
	assert_int_equal(part(&c, "ann")->left_at, DEADLINE);
	assert_int_equal(part(&c, "ann")->time_in, 0);
	expect_fx(&fx, "ann:call.unanswered bob:call.unanswered");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void timeout_of_a_ringing_group_call_spares_those_who_declined(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_BUSY, "dan", T0 + 10, 0, NULL);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE + 5, 0, &fx);
	assert_int_equal(c.status, CW_CALL_UNANSWERED);
	assert_int_equal(c.ended_at, DEADLINE + 5);
	expect_states(&c, "ann:left bob:rejected cat:unanswered dan:busy eve:unanswered");
	expect_fx(&fx, "ann:call.unanswered cat:call.unanswered eve:call.unanswered");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void timeout_in_an_ongoing_group_call_marks_the_ringing_unanswered_and_goes_on(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_REJECT, "eve", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	assert_int_equal(c.ended_at, 0);
	expect_states(&c, "ann:ongoing bob:ongoing cat:ongoing dan:unanswered eve:rejected");
	expect_fx(&fx, "dan:call.unanswered");
	/* Nobody rings any more: a second timer firing is a no-op. */
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE + 1000, CW_CALL_SAME);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void timeout_with_nobody_ringing_or_after_the_end_is_same(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, CW_CALL_SAME);
	act(&c, CW_ACT_END, "bob", T0 + 20, 0, NULL);
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, CW_CALL_SAME);
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE + 1, CW_CALL_SAME);
	cw_call_free(&c);

	/* An ended group call with members who still rang at the end (now cancelled). */
	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_END_ALL, "ann", T0 + 3000, 0, NULL);
	expect_unchanged(&c, CW_ACT_TIMEOUT, NULL, DEADLINE, CW_CALL_SAME);
	cw_call_free(&c);
}

/* ---- disconnect ---- */

/* The disconnect and the equivalent action give the same call and the same events. */
static void expect_disconnect_is(const struct cw_call *from, const char *actor,
				 enum cw_action equivalent, int64_t now)
{
	struct cw_effects fx1 = {0}, fx2 = {0};
	struct cw_call a, b;

	assert_int_equal(cw_call_copy(&a, from), 0);
	assert_int_equal(cw_call_copy(&b, from), 0);
	assert_int_equal(cw_call_apply(&a, CW_ACT_DISCONNECT, actor, "", now, &fx1), 0);
	assert_int_equal(cw_call_apply(&b, equivalent, actor, "", now, &fx2), 0);
	assert_true(calls_equal(&a, &b));
	assert_int_equal(fx1.n, fx2.n);
	assert_true(fx1.n > 0);
	assert_memory_equal(fx1.list, fx2.list, fx1.n * sizeof(*fx1.list));
	cw_effects_free(&fx1);
	cw_effects_free(&fx2);
	cw_call_free(&a);
	cw_call_free(&b);
}

static void disconnect_of_the_initiator_while_ringing_cancels_the_call(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	expect_disconnect_is(&c, "ann", CW_ACT_CANCEL, T0 + 100);
	act(&c, CW_ACT_DISCONNECT, "ann", T0 + 100, 0, &fx);
	assert_int_equal(c.status, CW_CALL_CANCELLED);
	expect_fx(&fx, "ann:call.cancelled bob:call.cancelled");
	cw_call_free(&c);

	new_group_call(&c);
	act(&c, CW_ACT_REJECT, "cat", T0 + 50, 0, NULL);
	expect_disconnect_is(&c, "ann", CW_ACT_CANCEL, T0 + 100);
	act(&c, CW_ACT_DISCONNECT, "ann", T0 + 100, 0, &fx);
	assert_int_equal(c.status, CW_CALL_CANCELLED);
	expect_fx(&fx, "ann:call.cancelled bob:call.cancelled dan:call.cancelled "
		       "eve:call.cancelled");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void disconnect_of_an_ongoing_participant_hangs_up(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	expect_disconnect_is(&c, "ann", CW_ACT_END, T0 + 2000);
	expect_disconnect_is(&c, "bob", CW_ACT_END, T0 + 2000);
	act(&c, CW_ACT_DISCONNECT, "bob", T0 + 2000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ENDED);
	expect_fx(&fx, "ann:call.ended bob:call.ended");
	cw_call_free(&c);

	/* Group: the one who dropped leaves; the last one to drop ends the call. */
	group_with_bob_and_cat_in(&c);
	expect_disconnect_is(&c, "ann", CW_ACT_END, T0 + 3000);
	expect_disconnect_is(&c, "cat", CW_ACT_END, T0 + 3000);
	act(&c, CW_ACT_DISCONNECT, "cat", T0 + 3000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	expect_fx(&fx, "ann:call.participant_left bob:call.participant_left");
	act(&c, CW_ACT_DISCONNECT, "ann", T0 + 4000, 0, &fx);
	expect_fx(&fx, "bob:call.participant_left");
	act(&c, CW_ACT_DISCONNECT, "bob", T0 + 5000, 0, &fx);
	assert_int_equal(c.status, CW_CALL_ENDED);
	expect_states(&c, "ann:left bob:left cat:left dan:cancelled eve:cancelled");
	expect_fx(&fx,
		  "ann:call.ended bob:call.ended cat:call.ended dan:call.ended eve:call.ended");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void disconnect_of_a_ringing_receiver_keeps_the_call_ringing(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "bob", T0 + 100, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "zed", T0 + 100, -ENOENT);
	cw_call_free(&c);

	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_REJECT, "eve", T0 + 3000, 0, NULL);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "dan", T0 + 4000, CW_CALL_SAME); /* ringing */
	expect_unchanged(&c, CW_ACT_DISCONNECT, "eve", T0 + 4000, CW_CALL_SAME); /* rejected */
	act(&c, CW_ACT_END, "ann", T0 + 5000, 0, NULL);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "ann", T0 + 6000, CW_CALL_SAME); /* left */
	cw_call_free(&c);
}

static void disconnect_after_the_call_is_over_is_same(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 10, 0, NULL);
	act(&c, CW_ACT_END, "bob", T0 + 20, 0, NULL);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "ann", T0 + 30, CW_CALL_SAME);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "bob", T0 + 30, CW_CALL_SAME);
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 10, 0, NULL);
	expect_unchanged(&c, CW_ACT_DISCONNECT, "ann", T0 + 30, CW_CALL_SAME);
	cw_call_free(&c);
}

/* ---- arguments and effect lists ---- */

static void apply_refuses_bad_arguments_without_effect(void **state)
{
	char long_device[CW_DEVICE_MAX + 2];
	struct cw_call c;

	(void)state;
	memset(long_device, 'd', sizeof(long_device) - 1);
	long_device[sizeof(long_device) - 1] = '\0';
	new_user_call(&c);
	expect_unchanged_dev(&c, CW_ACT_ACCEPT, "bob", long_device, T0 + 1, -EINVAL);
	expect_unchanged(&c, (enum cw_action)99, "bob", T0 + 1, -EINVAL);
	expect_unchanged(&c, CW_ACT_ACCEPT, NULL, T0 + 1, -ENOENT);
	expect_unchanged(&c, CW_ACT_CANCEL, NULL, T0 + 1, -ENOENT);
	/* Without an effect list the transition still happens. */
	assert_int_equal(cw_call_apply(&c, CW_ACT_ACCEPT, "bob", NULL, T0 + 2, NULL), 0);
	assert_int_equal(c.status, CW_CALL_ONGOING);
	assert_string_equal(part(&c, "bob")->device, "");
	cw_call_free(&c);
}

static void each_apply_appends_its_events_and_dedupes_only_within_itself(void **state)
{
	struct cw_effects fx = {0};
	struct cw_call c;

	(void)state;
	group_with_bob_and_cat_in(&c);
	assert_int_equal(cw_call_apply(&c, CW_ACT_END, "bob", "", T0 + 3000, &fx), 0);
	assert_int_equal(cw_call_apply(&c, CW_ACT_ACCEPT, "bob", "d", T0 + 4000, &fx), 0);
	assert_int_equal(cw_call_apply(&c, CW_ACT_END, "bob", "", T0 + 5000, &fx), 0);
	assert_int_equal(fx.n, 7);
	assert_string_equal(fx.list[0].uid, "ann");
	assert_int_equal(fx.list[0].event, CW_EV_PARTICIPANT_LEFT);
	assert_string_equal(fx.list[1].uid, "cat");
	assert_int_equal(fx.list[1].event, CW_EV_PARTICIPANT_LEFT);
	assert_string_equal(fx.list[4].uid, "bob");
	assert_int_equal(fx.list[4].event, CW_EV_ACCEPTED_ELSEWHERE);
	assert_string_equal(fx.list[5].uid, "ann");
	assert_int_equal(fx.list[5].event, CW_EV_PARTICIPANT_LEFT);
	assert_string_equal(fx.list[6].uid, "cat");
	assert_int_equal(fx.list[6].event, CW_EV_PARTICIPANT_LEFT);
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void no_user_gets_the_same_event_twice_from_one_step(void **state)
{
	struct cw_effects fx = {0};
	struct cw_participant *parts;
	struct cw_call c;

	(void)state;
	/* Calls made by cw_call_init list each user once; one read back from damaged storage
	 * might not, and the user must still get each event once. */
	group_with_bob_and_cat_in(&c);
	parts = realloc(c.participants, (c.n_participants + 1) * sizeof(*parts));
	assert_non_null(parts);
	c.participants = parts;
	c.participants[c.n_participants++] = *part(&c, "cat");
	act(&c, CW_ACT_ACCEPT, "dan", T0 + 3000, 0, &fx);
	expect_fx(&fx, "ann:call.participant_joined bob:call.participant_joined "
		       "cat:call.participant_joined dan:call.accepted_elsewhere");
	act(&c, CW_ACT_END_ALL, "ann", T0 + 4000, 0, &fx);
	expect_fx(&fx,
		  "ann:call.ended bob:call.ended cat:call.ended dan:call.ended eve:call.ended");
	cw_effects_free(&fx);
	cw_call_free(&c);
}

static void a_step_whose_events_cannot_be_stored_fails_without_effect(void **state)
{
	static const char rx[][CW_UID_MAX + 1] = {"bob"};
	struct cw_effect *list = calloc(1, sizeof(*list));
	struct cw_effects fx;
	struct cw_call c, before, untouched;

	(void)state;
	/* An effect list that claims to be nearly as long as memory allows cannot grow, so
	 * the step runs out of memory after all its checks passed. */
	assert_non_null(list);
	fx.list = list;
	fx.n = fx.cap = SIZE_MAX - 3;
	new_user_call(&c);
	assert_int_equal(cw_call_copy(&before, &c), 0);
	assert_int_equal(cw_call_apply(&c, CW_ACT_ACCEPT, "bob", "d-bob", T0 + 1, &fx), -ENOMEM);
	assert_true(calls_equal(&c, &before));
	assert_ptr_equal(fx.list, list);
	assert_true(fx.n == SIZE_MAX - 3 && fx.cap == SIZE_MAX - 3);
	/* Refusals are decided before any memory is needed. */
	assert_int_equal(cw_call_apply(&c, CW_ACT_ACCEPT, "ann", "d-ann", T0 + 1, &fx), -EPERM);

	memset(&untouched, 0xab, sizeof(untouched));
	cw_call_free(&c);
	memcpy(&c, &untouched, sizeof(c));
	fx.n = fx.cap = SIZE_MAX;
	assert_int_equal(cw_call_init(&c, "s1", CW_CALL_AUDIO, CW_RECEIVER_USER, "ann", "", "bob",
				      rx, 1, RING_S, T0, &fx),
			 -ENOMEM);
	assert_memory_equal(&c, &untouched, sizeof(c));
	assert_true(fx.n == SIZE_MAX && fx.cap == SIZE_MAX);
	free(list);
	cw_call_free(&before);
}

static void effects_reset_empties_the_list_but_keeps_its_memory(void **state)
{
	struct cw_effects fx = {0};
	struct cw_effect *list;
	struct cw_call c;
	size_t cap;

	(void)state;
	assert_int_equal(cw_call_init(&c, "s2", CW_CALL_AUDIO, CW_RECEIVER_GROUP, "ann", "", "g1",
				      group_members, CW_ARRAY_SIZE(group_members), RING_S, T0, &fx),
			 0);
	assert_int_equal(fx.n, 4);
	list = fx.list;
	cap = fx.cap;
	assert_true(cap >= 4);
	cw_effects_reset(&fx);
	assert_int_equal(fx.n, 0);
	assert_ptr_equal(fx.list, list);
	assert_int_equal(fx.cap, cap);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1, 0, &fx);
	assert_int_equal(fx.n, 2);
	cw_effects_free(&fx);
	assert_null(fx.list);
	assert_int_equal(fx.n, 0);
	assert_int_equal(fx.cap, 0);
	cw_effects_free(&fx); /* twice is harmless */
	cw_effects_reset(NULL);
	cw_effects_free(NULL);
	cw_call_free(&c);
}

static void copy_is_deep_and_free_releases_the_participants(void **state)
{
	struct cw_call c, d;

	(void)state;
	new_group_call(&c);
	assert_int_equal(cw_call_copy(&d, &c), 0);
	assert_true(calls_equal(&c, &d));
	assert_ptr_not_equal(c.participants, d.participants);
	act(&d, CW_ACT_ACCEPT, "bob", T0 + 1, 0, NULL);
	assert_int_equal(c.status, CW_CALL_INITIATED);
	assert_int_equal(part(&c, "bob")->state, CW_PART_RINGING);
	cw_call_free(&d);
	assert_null(d.participants);
	assert_int_equal(d.n_participants, 0);
	cw_call_free(&d);
	cw_call_free(NULL);
	cw_call_free(&c);
}

/* ---- queries ---- */

static void engages_whoever_is_ongoing_in_an_active_call(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	assert_true(cw_call_engages(&c, "ann"));
	assert_false(cw_call_engages(&c, "bob")); /* ringing is not busy */
	assert_false(cw_call_engages(&c, "zed"));
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1, 0, NULL);
	assert_true(cw_call_engages(&c, "ann"));
	assert_true(cw_call_engages(&c, "bob"));
	act(&c, CW_ACT_END, "bob", T0 + 2, 0, NULL);
	assert_false(cw_call_engages(&c, "ann"));
	assert_false(cw_call_engages(&c, "bob"));
	cw_call_free(&c);

	group_with_bob_and_cat_in(&c);
	act(&c, CW_ACT_REJECT, "dan", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_END, "ann", T0 + 3000, 0, NULL);
	act(&c, CW_ACT_END, "bob", T0 + 3000, 0, NULL);
	assert_false(cw_call_engages(&c, "ann")); /* the initiator left: free for other calls */
	assert_false(cw_call_engages(&c, "bob"));
	assert_true(cw_call_engages(&c, "cat"));
	assert_false(cw_call_engages(&c, "dan"));
	assert_false(cw_call_engages(&c, "eve"));
	assert_false(cw_call_engages(&c, NULL));
	act(&c, CW_ACT_END, "cat", T0 + 4000, 0, NULL);
	assert_false(cw_call_engages(&c, "ann"));
	assert_false(cw_call_engages(&c, "cat"));
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_CANCEL, "ann", T0 + 1, 0, NULL);
	assert_false(cw_call_engages(&c, "ann"));
	cw_call_free(&c);
}

static void active_means_initiated_or_ongoing(void **state)
{
	struct cw_call c;

	(void)state;
	new_user_call(&c);
	for (int s = CW_CALL_INITIATED; s <= CW_CALL_UNANSWERED; s++) {
		c.status = (enum cw_call_status)s;
		assert_int_equal(cw_call_active(&c),
				 s == CW_CALL_INITIATED || s == CW_CALL_ONGOING);
	}
	cw_call_free(&c);
}

static void durations_count_every_stay_over_leave_and_rejoin(void **state)
{
	struct cw_call c;

	(void)state;
	new_group_call(&c);
	assert_int_equal(cw_call_duration(&c, T0 + 500), 0);
	assert_int_equal(cw_participant_duration(part(&c, "ann"), T0 + 500), 0);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 1000, 0, NULL);
	assert_int_equal(cw_participant_duration(part(&c, "bob"), T0 + 3000), 2000);
	act(&c, CW_ACT_END, "bob", T0 + 4000, 0, NULL);
	assert_int_equal(part(&c, "bob")->time_in, 3000);
	/* A finished stay no longer grows. */
	assert_int_equal(cw_participant_duration(part(&c, "bob"), T0 + 8000), 3000);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 10000, 0, NULL);
	assert_int_equal(part(&c, "bob")->time_in, 3000);
	assert_int_equal(cw_participant_duration(part(&c, "bob"), T0 + 12000), 5000);
	act(&c, CW_ACT_END, "bob", T0 + 15000, 0, NULL);
	assert_int_equal(part(&c, "bob")->time_in, 8000);
	assert_int_equal(cw_participant_duration(part(&c, "bob"), T0 + 99000), 8000);
	assert_int_equal(cw_call_duration(&c, T0 + 20000), 19000);
	act(&c, CW_ACT_END, "ann", T0 + 21000, 0, NULL);
	assert_int_equal(c.status, CW_CALL_ENDED);
	assert_int_equal(part(&c, "ann")->time_in, 20000);
	assert_int_equal(cw_participant_duration(part(&c, "ann"), T0 + 99000), 20000);
	assert_int_equal(cw_call_duration(&c, T0 + 99000), 20000);
	/* Members who never joined spent no time in the call. */
	assert_int_equal(cw_participant_duration(part(&c, "cat"), T0 + 99000), 0);
	cw_call_free(&c);

	new_user_call(&c);
	act(&c, CW_ACT_ACCEPT, "bob", T0 + 2000, 0, NULL);
	assert_int_equal(cw_call_duration(&c, T0 + 5000), 3000);
	assert_int_equal(cw_participant_duration(part(&c, "ann"), T0 + 5000), 3000);
	act(&c, CW_ACT_END, "ann", T0 + 7000, 0, NULL);
	assert_int_equal(cw_call_duration(&c, T0 + 99000), 5000);
	assert_int_equal(cw_participant_duration(part(&c, "ann"), T0 + 99000), 5000);
	assert_int_equal(cw_participant_duration(part(&c, "bob"), T0 + 99000), 5000);
	cw_call_free(&c);
}

static void names_match_the_contract_and_parse_back(void **state)
{
	static const char *const statuses[] = {"initiated", "ongoing", "ended",	    "rejected",
					       "cancelled", "busy",    "unanswered"};
	static const char *const states[] = {"ringing", "ongoing",    "left",	  "rejected",
					     "busy",	"unanswered", "cancelled"};
	static const char *const events[] = {"call.incoming",		"call.accepted",
					     "call.rejected",		"call.cancelled",
					     "call.unanswered",		"call.ended",
					     "call.accepted_elsewhere", "call.rejected_elsewhere",
					     "call.participant_joined", "call.participant_left"};
	enum cw_call_status st = CW_CALL_BUSY;
	enum cw_part_state ps = CW_PART_BUSY;

	(void)state;
	for (size_t i = 0; i < CW_ARRAY_SIZE(statuses); i++) {
		assert_string_equal(cw_call_status_name((enum cw_call_status)i), statuses[i]);
		assert_int_equal(cw_call_status_parse(statuses[i], &st), 0);
		assert_int_equal(st, i);
	}
	for (size_t i = 0; i < CW_ARRAY_SIZE(states); i++) {
		assert_string_equal(cw_part_state_name((enum cw_part_state)i), states[i]);
		assert_int_equal(cw_part_state_parse(states[i], &ps), 0);
		assert_int_equal(ps, i);
	}
	for (size_t i = 0; i < CW_ARRAY_SIZE(events); i++)
		assert_string_equal(cw_event_name((enum cw_event)i), events[i]);

	st = CW_CALL_BUSY;
	ps = CW_PART_BUSY;
	assert_int_equal(cw_call_status_parse("Ongoing", &st), -EINVAL);
	assert_int_equal(cw_call_status_parse("ringing", &st), -EINVAL);
	assert_int_equal(cw_call_status_parse("", &st), -EINVAL);
	assert_int_equal(cw_call_status_parse(NULL, &st), -EINVAL);
	assert_int_equal(st, CW_CALL_BUSY);
	assert_int_equal(cw_part_state_parse("initiated", &ps), -EINVAL);
	assert_int_equal(cw_part_state_parse("left ", &ps), -EINVAL);
	assert_int_equal(cw_part_state_parse(NULL, &ps), -EINVAL);
	assert_int_equal(ps, CW_PART_BUSY);
	assert_null(cw_call_status_name((enum cw_call_status)42));
	assert_null(cw_part_state_name((enum cw_part_state)42));
	assert_null(cw_event_name((enum cw_event)42));
}

/* ---- every status x every action x every role ---- */

/* Roles: I initiator, R a receiver who rings (or, once the call is over, who rang), O a
 * receiver who is in the call (or was), X a stranger. Expected per role, in that order:
 * '0' changed, 'S' CW_CALL_SAME, 'P' -EPERM, 'A' -EALREADY, 'N' -ENOENT, '-' no such
 * person in a call of that status. */
static const char *const group_role_uid[] = {"ann", "bob", "cat", "zed"};
static const char *const user_role_uid[] = {"ann", "bob", "bob", "zed"};
static const char role_name[] = "IROX";

struct table_row {
	enum cw_call_status status;
	const char *want[CW_ACT_DISCONNECT + 1]; /* by action */
};

/* Group fixtures: R is bob, O is cat. */
static const struct table_row group_table[] = {
	/* status             ACCEPT  REJECT  BUSY    CANCEL  END     END_ALL TIMEOUT DISCON */
	{CW_CALL_INITIATED, {"P0-N", "P0-N", "P0-N", "0P-N", "AA-N", "AP-N", "00-0", "0S-N"}},
	{CW_CALL_ONGOING, {"P0SN", "P0AN", "P0AN", "APPN", "0A0N", "0PPN", "0000", "0S0N"}},
	{CW_CALL_ENDED, {"PAAN", "PAAN", "PAAN", "APPN", "SASN", "SPPN", "SSSS", "SSSN"}},
	{CW_CALL_REJECTED, {"PA-N", "PS-N", "PA-N", "AP-N", "AA-N", "AP-N", "SS-S", "SS-N"}},
	{CW_CALL_CANCELLED, {"PA-N", "PA-N", "PA-N", "SP-N", "AA-N", "AP-N", "SS-S", "SS-N"}},
	{CW_CALL_BUSY, {"PA-N", "PA-N", "PS-N", "AP-N", "AA-N", "AP-N", "SS-S", "SS-N"}},
	{CW_CALL_UNANSWERED, {"PA-N", "PA-N", "PA-N", "AP-N", "AA-N", "AP-N", "SS-S", "SS-N"}},
};

/* User fixtures: the callee bob is R until he answers and O from then on. */
static const struct table_row user_table[] = {
	/* status             ACCEPT  REJECT  BUSY    CANCEL  END     END_ALL TIMEOUT DISCON */
	{CW_CALL_INITIATED, {"P0-N", "P0-N", "P0-N", "0P-N", "AA-N", "AA-N", "00-0", "0S-N"}},
	{CW_CALL_ONGOING, {"P-SN", "P-AN", "P-AN", "A-PN", "0-0N", "0-0N", "S-SS", "0-0N"}},
	{CW_CALL_ENDED, {"P-AN", "P-AN", "P-AN", "A-PN", "S-SN", "S-SN", "S-SS", "S-SN"}},
	{CW_CALL_REJECTED, {"PA-N", "PS-N", "PA-N", "AP-N", "AA-N", "AA-N", "SS-S", "SS-N"}},
	{CW_CALL_CANCELLED, {"PA-N", "PA-N", "PA-N", "SP-N", "AA-N", "AA-N", "SS-S", "SS-N"}},
	{CW_CALL_BUSY, {"PA-N", "PA-N", "PS-N", "AP-N", "AA-N", "AA-N", "SS-S", "SS-N"}},
	{CW_CALL_UNANSWERED, {"PA-N", "PA-N", "PA-N", "AP-N", "AA-N", "AA-N", "SS-S", "SS-N"}},
};

/* Drives a fresh call into status the way users would. */
static void build(struct cw_call *c, enum cw_receiver_type rt, enum cw_call_status status)
{
	static const char *const members[] = {"bob", "cat", "dan", "eve"};
	bool group = rt == CW_RECEIVER_GROUP;
	const char *callee_in = group ? "cat" : "bob";

	if (group)
		new_group_call(c);
	else
		new_user_call(c);
	switch (status) {
	case CW_CALL_INITIATED:
		break;
	case CW_CALL_ONGOING:
		act(c, CW_ACT_ACCEPT, callee_in, T0 + 1000, 0, NULL);
		break;
	case CW_CALL_ENDED:
		act(c, CW_ACT_ACCEPT, callee_in, T0 + 1000, 0, NULL);
		act(c, CW_ACT_END, "ann", T0 + 2000, 0, NULL);
		if (group)
			act(c, CW_ACT_END, callee_in, T0 + 3000, 0, NULL);
		break;
	case CW_CALL_REJECTED:
	case CW_CALL_BUSY:
		for (size_t i = 0; i < (group ? CW_ARRAY_SIZE(members) : 1); i++)
			act(c, status == CW_CALL_BUSY ? CW_ACT_BUSY : CW_ACT_REJECT, members[i],
			    T0 + 1000, 0, NULL);
		break;
	case CW_CALL_CANCELLED:
		act(c, CW_ACT_CANCEL, "ann", T0 + 1000, 0, NULL);
		break;
	case CW_CALL_UNANSWERED:
		act(c, CW_ACT_TIMEOUT, NULL, DEADLINE, 0, NULL);
		break;
	}
	assert_int_equal(c->status, status);
}

static int code_of(char want)
{
	switch (want) {
	case '0':
		return 0;
	case 'S':
		return CW_CALL_SAME;
	case 'P':
		return -EPERM;
	case 'A':
		return -EALREADY;
	default:
		return -ENOENT;
	}
}

/* One cell of the table: a fresh call in status, action by the actor of role r. A refusal
 * or a repeat must change nothing; a change must show in the call and send events. */
static void run_cell(enum cw_receiver_type rt, enum cw_call_status status, enum cw_action action,
		     size_t r, char want)
{
	static const char *const action_names[] = {"accept", "reject",	"busy",	   "cancel",
						   "end",    "end_all", "timeout", "disconnect"};
	const char *const *uids = rt == CW_RECEIVER_GROUP ? group_role_uid : user_role_uid;
	const char *actor = action == CW_ACT_TIMEOUT ? NULL : uids[r];
	/* Late enough for the ring timeout to be due. */
	const int64_t now = DEADLINE + 1000;
	char dev[CW_DEVICE_MAX + 1] = "";
	struct cw_effects fx = {0};
	struct cw_call c, before;
	int rc;

	if (want == '-')
		return;
	build(&c, rt, status);
	if (actor)
		snprintf(dev, sizeof(dev), "d-%s", actor);
	assert_int_equal(cw_call_copy(&before, &c), 0);
	rc = cw_call_apply(&c, action, actor, dev, now, &fx);
	if (rc != code_of(want))
		fail_msg("%s call %s, %s by %c: got %d, want %d",
			 rt == CW_RECEIVER_GROUP ? "group" : "user", cw_call_status_name(status),
			 action_names[action], role_name[r], rc, code_of(want));
	if (want == '0') {
		assert_false(calls_equal(&c, &before));
		assert_true(fx.n > 0);
		assert_false(fx_has_duplicates(&fx));
	} else {
		expect_unchanged_dev(&before, action, actor, dev, now, code_of(want));
	}
	cw_effects_free(&fx);
	cw_call_free(&before);
	cw_call_free(&c);
}

static void run_table(enum cw_receiver_type rt, const struct table_row *rows, size_t n_rows)
{
	/* Exactly one row for every status, with an outcome for every action and role:
	 * nothing is left out. */
	assert_int_equal(n_rows, CW_CALL_UNANSWERED + 1);
	for (size_t i = 0; i < n_rows; i++) {
		assert_int_equal(rows[i].status, i);
		for (int a = CW_ACT_ACCEPT; a <= CW_ACT_DISCONNECT; a++) {
			const char *want = rows[i].want[a];

			assert_non_null(want);
			assert_int_equal(strlen(want), 4);
			for (size_t r = 0; r < 4; r++)
				run_cell(rt, rows[i].status, (enum cw_action)a, r, want[r]);
		}
	}
}

static void every_status_action_and_role_of_a_user_call_has_its_outcome(void **state)
{
	(void)state;
	run_table(CW_RECEIVER_USER, user_table, CW_ARRAY_SIZE(user_table));
}

static void every_status_action_and_role_of_a_group_call_has_its_outcome(void **state)
{
	(void)state;
	run_table(CW_RECEIVER_GROUP, group_table, CW_ARRAY_SIZE(group_table));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(user_call_starts_initiated_with_the_callee_ringing),
		cmocka_unit_test(group_call_rings_every_member_but_the_initiator_once_in_uid_order),
		cmocka_unit_test(init_refuses_bad_receivers_and_leaves_call_and_effects_untouched),
		cmocka_unit_test(
			user_accept_starts_the_call_and_tells_the_caller_and_the_callees_devices),
		cmocka_unit_test(
			user_accept_retry_from_the_winning_device_is_same_and_changes_nothing),
		cmocka_unit_test(user_accept_from_another_device_after_the_first_won_is_refused),
		cmocka_unit_test(accept_by_the_initiator_is_forbidden_and_by_a_stranger_unknown),
		cmocka_unit_test(accept_on_a_final_call_is_refused),
		cmocka_unit_test(user_accept_needs_a_ringing_callee_where_a_group_allows_rejoining),
		cmocka_unit_test(group_first_accept_starts_the_call_and_tells_only_the_initiator),
		cmocka_unit_test(group_late_join_tells_every_other_ongoing_participant),
		cmocka_unit_test(
			group_member_may_rejoin_after_leaving_declining_or_missing_the_ring),
		cmocka_unit_test(group_rejoin_may_come_from_another_device),
		cmocka_unit_test(group_accept_retry_is_same_but_a_second_device_is_refused),
		cmocka_unit_test(user_reject_ends_the_call_rejected_and_tells_the_caller),
		cmocka_unit_test(user_busy_ends_the_call_busy_and_tells_the_caller_rejected),
		cmocka_unit_test(decline_retries_are_same_even_after_the_call_ended),
		cmocka_unit_test(switching_between_reject_and_busy_is_refused),
		cmocka_unit_test(decline_by_a_receiver_who_is_or_was_in_the_call_is_refused),
		cmocka_unit_test(decline_by_the_initiator_is_forbidden_and_by_a_stranger_unknown),
		cmocka_unit_test(decline_on_a_call_that_ended_otherwise_is_refused),
		cmocka_unit_test(group_decline_keeps_the_others_ringing),
		cmocka_unit_test(group_ends_busy_when_every_member_declines_busy),
		cmocka_unit_test(group_ends_rejected_when_members_decline_with_reject_or_busy),
		cmocka_unit_test(
			group_ends_unanswered_when_the_last_ringing_declines_and_one_never_answered),
		cmocka_unit_test(group_decline_during_an_ongoing_call_leaves_the_call_going),
		cmocka_unit_test(group_member_who_missed_the_ring_may_still_decline),
		cmocka_unit_test(
			cancel_ends_the_ringing_call_and_tells_the_initiator_and_the_ringing),
		cmocka_unit_test(cancel_retry_is_same),
		cmocka_unit_test(cancel_by_a_receiver_is_forbidden_and_by_a_stranger_unknown),
		cmocka_unit_test(cancel_after_an_answer_or_another_end_is_refused),
		cmocka_unit_test(user_end_by_either_party_ends_the_call_and_counts_the_time),
		cmocka_unit_test(end_before_anyone_answered_is_refused),
		cmocka_unit_test(end_retry_after_the_call_ended_is_same_for_whoever_was_in_it),
		cmocka_unit_test(end_of_a_call_that_ended_otherwise_is_refused),
		cmocka_unit_test(group_leave_tells_the_others_and_the_call_goes_on),
		cmocka_unit_test(group_leave_retry_is_same),
		cmocka_unit_test(group_end_by_a_member_who_is_not_in_is_refused),
		cmocka_unit_test(
			group_last_leave_ends_the_call_cancels_the_ringing_and_tells_everyone),
		cmocka_unit_test(end_all_ends_the_group_call_for_everyone),
		cmocka_unit_test(end_all_by_an_initiator_who_left_still_ends_the_call),
		cmocka_unit_test(end_all_by_a_member_is_forbidden),
		cmocka_unit_test(end_all_before_an_answer_or_after_another_end_is_refused),
		cmocka_unit_test(end_all_retry_after_the_group_call_ended_is_same),
		cmocka_unit_test(end_all_on_a_user_call_is_a_plain_end_for_either_party),
		cmocka_unit_test(timeout_before_the_deadline_is_same),
		cmocka_unit_test(timeout_of_a_ringing_user_call_makes_it_unanswered),
		cmocka_unit_test(timeout_of_a_ringing_group_call_spares_those_who_declined),
		cmocka_unit_test(
			timeout_in_an_ongoing_group_call_marks_the_ringing_unanswered_and_goes_on),
		cmocka_unit_test(timeout_with_nobody_ringing_or_after_the_end_is_same),
		cmocka_unit_test(disconnect_of_the_initiator_while_ringing_cancels_the_call),
		cmocka_unit_test(disconnect_of_an_ongoing_participant_hangs_up),
		cmocka_unit_test(disconnect_of_a_ringing_receiver_keeps_the_call_ringing),
		cmocka_unit_test(disconnect_after_the_call_is_over_is_same),
		cmocka_unit_test(apply_refuses_bad_arguments_without_effect),
		cmocka_unit_test(each_apply_appends_its_events_and_dedupes_only_within_itself),
		cmocka_unit_test(no_user_gets_the_same_event_twice_from_one_step),
		cmocka_unit_test(a_step_whose_events_cannot_be_stored_fails_without_effect),
		cmocka_unit_test(effects_reset_empties_the_list_but_keeps_its_memory),
		cmocka_unit_test(copy_is_deep_and_free_releases_the_participants),
		cmocka_unit_test(engages_whoever_is_ongoing_in_an_active_call),
		cmocka_unit_test(active_means_initiated_or_ongoing),
		cmocka_unit_test(durations_count_every_stay_over_leave_and_rejoin),
		cmocka_unit_test(names_match_the_contract_and_parse_back),
		cmocka_unit_test(every_status_action_and_role_of_a_user_call_has_its_outcome),
		cmocka_unit_test(every_status_action_and_role_of_a_group_call_has_its_outcome),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
