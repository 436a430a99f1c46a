/* Unit tests of a media session's room: who is told what on join, leave, mute and pause,
 * the participant limit, audio-only sessions, and the idle timeout of someone alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "session/room.h"

static const struct cw_room_settings AV = {0};
static const struct cw_room_settings AUDIO = {.audio_only = true};

/* How many effects of ev went to to_uid about `about`. */
static size_t told(const struct cw_room_effects *fx, const char *to_uid, enum cw_room_event ev,
		   const char *about)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->n; i++) {
		const struct cw_room_effect *e = &fx->list[i];
		if (strcmp(e->to_uid, to_uid) == 0 && e->event == ev &&
		    (!about || strcmp(e->about, about) == 0))
			n++;
	}
	return n;
}

static void reset(struct cw_room_effects *fx)
{
	fx->n = 0;
}

static void joining_tells_those_already_in_and_nobody_else(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};

	(void)state;
	cw_room_init(&r, false, 10, 0);
	assert_int_equal(cw_room_join(&r, "alice", "c1", &AV, 1000, &fx), 0);
	assert_int_equal(fx.n, 0);
	assert_int_equal(cw_room_join(&r, "bob", "c2", &AV, 2000, &fx), 0);
	assert_int_equal(fx.n, 1);
	assert_int_equal(told(&fx, "alice", CW_ROOM_JOINED, "bob"), 1);
	reset(&fx);
	assert_int_equal(cw_room_join(&r, "carol", "c3", &AV, 3000, &fx), 0);
	assert_int_equal(told(&fx, "alice", CW_ROOM_JOINED, "carol"), 1);
	assert_int_equal(told(&fx, "bob", CW_ROOM_JOINED, "carol"), 1);
	assert_int_equal(told(&fx, "carol", CW_ROOM_JOINED, NULL), 0);
	/* A retry from the same connection changes nothing. */
	reset(&fx);
	assert_int_equal(cw_room_join(&r, "carol", "c3", &AV, 3500, &fx), 0);
	assert_int_equal(fx.n, 0);
	assert_int_equal(r.n, 3);
	/* The same user from a second device is a second participant. */
	assert_int_equal(cw_room_join(&r, "carol", "c4", &AV, 4000, &fx), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(fx.list[0].to_conn, "c1");
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

static void leaving_tells_the_rest_and_the_last_one_out_ends_the_room(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};

	(void)state;
	cw_room_init(&r, false, 10, 0);
	cw_room_join(&r, "alice", "c1", &AV, 1000, &fx);
	cw_room_join(&r, "bob", "c2", &AV, 2000, &fx);
	reset(&fx);
	assert_int_equal(cw_room_leave(&r, "c1", 3000, &fx), 0);
	assert_int_equal(fx.n, 1);
	assert_int_equal(told(&fx, "bob", CW_ROOM_LEFT, "alice"), 1);
	assert_false(r.ended);
	assert_int_equal(cw_room_leave(&r, "c1", 3100, &fx), CW_ROOM_NOT_IN);
	assert_int_equal(cw_room_leave(&r, "c2", 4000, &fx), 0);
	assert_true(r.ended);
	assert_int_equal(cw_room_join(&r, "alice", "c1", &AV, 5000, &fx), CW_ROOM_ENDED_ERR);
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

static void the_participant_limit_and_audio_only_sessions_are_enforced(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};

	(void)state;
	cw_room_init(&r, true, 2, 0);
	assert_int_equal(cw_room_join(&r, "alice", "c1", &AV, 1000, &fx), CW_ROOM_NO_VIDEO);
	assert_int_equal(cw_room_join(&r, "alice", "c1", &AUDIO, 1000, &fx), 0);
	assert_true(r.parts[0].video_paused);
	assert_int_equal(cw_room_join(&r, "bob", "c2", &AUDIO, 1000, &fx), 0);
	assert_int_equal(cw_room_join(&r, "carol", "c3", &AUDIO, 1000, &fx), CW_ROOM_FULL);
	assert_int_equal(r.n, 2);
	/* An audio-only participant cannot turn video on. */
	assert_int_equal(cw_room_set(&r, "c1", 1, false, 2000, &fx), CW_ROOM_NO_VIDEO);
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

static void mute_and_pause_are_told_to_the_others_once(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};
	const struct cw_room_settings muted = {.start_muted = true};

	(void)state;
	cw_room_init(&r, false, 10, 0);
	cw_room_join(&r, "alice", "c1", &muted, 1000, &fx);
	cw_room_join(&r, "bob", "c2", &AV, 1000, &fx);
	assert_true(r.parts[0].muted);
	reset(&fx);
	/* Already muted: a retry. */
	assert_int_equal(cw_room_set(&r, "c1", 0, true, 2000, &fx), 0);
	assert_int_equal(fx.n, 0);
	assert_int_equal(cw_room_set(&r, "c1", 0, false, 2000, &fx), 0);
	assert_int_equal(told(&fx, "bob", CW_ROOM_UNMUTED, "alice"), 1);
	assert_int_equal(told(&fx, "alice", CW_ROOM_UNMUTED, NULL), 0);
	reset(&fx);
	assert_int_equal(cw_room_set(&r, "c2", 1, true, 2000, &fx), 0);
	assert_int_equal(told(&fx, "alice", CW_ROOM_MUTED, "bob"), 1);
	assert_int_equal(fx.list[0].kind, 1);
	assert_int_equal(cw_room_set(&r, "c9", 0, true, 2000, &fx), CW_ROOM_NOT_IN);
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

static void someone_alone_is_warned_then_the_room_ends(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};
	int64_t next;

	(void)state;
	cw_room_init(&r, false, 10, 300000);
	cw_room_join(&r, "alice", "c1", &AV, 1000, &fx);
	/* Alone from the start: the warning a minute before the end. */
	next = cw_room_tick(&r, 1000, &fx);
	assert_int_equal(next, 1000 + 300000 - 60000);
	assert_int_equal(fx.n, 0);
	/* Company resets the clock. */
	cw_room_join(&r, "bob", "c2", &AV, 100000, &fx);
	assert_int_equal(cw_room_tick(&r, 250000, &fx), 0);
	reset(&fx);
	cw_room_leave(&r, "c2", 400000, &fx);
	next = cw_room_tick(&r, 400000 + 240000, &fx);
	assert_int_equal(told(&fx, "alice", CW_ROOM_TIMEOUT_WARN, NULL), 1);
	assert_int_equal(fx.list[fx.n - 1].at, 400000 + 300000);
	assert_int_equal(next, 400000 + 300000);
	/* Warned once only. */
	reset(&fx);
	cw_room_tick(&r, 400000 + 250000, &fx);
	assert_int_equal(fx.n, 0);
	cw_room_tick(&r, 400000 + 300000, &fx);
	assert_int_equal(told(&fx, "alice", CW_ROOM_ENDED, NULL), 1);
	assert_true(r.ended);
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

static void short_idle_timeouts_warn_halfway_and_zero_never_ends(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};

	(void)state;
	cw_room_init(&r, false, 10, 10000);
	cw_room_join(&r, "alice", "c1", &AV, 0, &fx);
	assert_int_equal(cw_room_tick(&r, 0, &fx), 5000);
	cw_room_free(&r);
	cw_room_init(&r, false, 10, 0);
	cw_room_join(&r, "alice", "c1", &AV, 0, &fx);
	assert_int_equal(cw_room_tick(&r, 99999999, &fx), 0);
	assert_false(r.ended);
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

static void ending_tells_everyone_in(void **state)
{
	struct cw_room r;
	struct cw_room_effects fx = {0};

	(void)state;
	cw_room_init(&r, false, 10, 0);
	cw_room_join(&r, "alice", "c1", &AV, 0, &fx);
	cw_room_join(&r, "bob", "c2", &AV, 0, &fx);
	reset(&fx);
	cw_room_end(&r, &fx);
	assert_int_equal(told(&fx, "alice", CW_ROOM_ENDED, NULL), 1);
	assert_int_equal(told(&fx, "bob", CW_ROOM_ENDED, NULL), 1);
	reset(&fx);
	cw_room_end(&r, &fx);
	assert_int_equal(fx.n, 0);
	assert_string_equal(cw_room_event_name(CW_ROOM_TIMEOUT_WARN), "session.timeout_warning");
	cw_room_effects_free(&fx);
	cw_room_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(joining_tells_those_already_in_and_nobody_else),
		cmocka_unit_test(leaving_tells_the_rest_and_the_last_one_out_ends_the_room),
		cmocka_unit_test(the_participant_limit_and_audio_only_sessions_are_enforced),
		cmocka_unit_test(mute_and_pause_are_told_to_the_others_once),
		cmocka_unit_test(someone_alone_is_warned_then_the_room_ends),
		cmocka_unit_test(short_idle_timeouts_warn_halfway_and_zero_never_ends),
		cmocka_unit_test(ending_tells_everyone_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
