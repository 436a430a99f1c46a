/* SDK tests of video in sessions: two C clients see each other's test pattern through the
 * real server's SFU, at different sizes; lost packets are asked again and pictures keep
 * coming; a paused camera stops and resumes with a keyframe; what cannot work is refused.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "world.h"

#define DEADLINE_MS 20000

/* What one client saw, filled on the network thread. */
struct eye {
	pthread_mutex_t m;
	pthread_cond_t cv;
	cw_test_pattern *pattern;
	cw_tone tone;
	uint64_t pictures;   /* decoded pictures of the others */
	uint64_t recognised; /* of those, the test pattern */
	uint64_t in_order;   /* recognised with the number after the last recognised one */
	uint32_t last_number;
	int width, height;
	uint64_t audio_frames; /* mix frames: the session's clock */
	int muted_events;
	char last_kind[16];
	bool last_muted;
};

static void eye_free(void *p)
{
	struct eye *e = p;

	cw_test_pattern_free(e->pattern);
	pthread_mutex_destroy(&e->m);
	pthread_cond_destroy(&e->cv);
	free(e);
}

/* An eye that sends the pattern at width x height (0: sends no video). */
static struct eye *eye_new(struct world *w, int width, int height)
{
	struct eye *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	pthread_mutex_init(&e->m, NULL);
	pthread_cond_init(&e->cv, NULL);
	if (width)
		ASSERT_OK(cw_test_pattern_new(&e->pattern, width, height));
	e->tone.frequency = 440;
	e->tone.amplitude = 0.2;
	world_defer(w, eye_free, e);
	return e;
}

#define EYE_UPDATE(e, stmt) UPDATE_UNDER(&(e)->m, &(e)->cv, stmt)

#define EYE_WAIT(e, cond) WAIT_UNDER(&(e)->m, &(e)->cv, cond, DEADLINE_MS)

static void on_video(cw_session *s, const char *pid, const cw_video_frame *f, void *arg)
{
	struct eye *e = arg;
	uint32_t number = 0;
	bool ok = cw_test_pattern_read(f, &number);

	(void)s;
	assert_non_null(pid);
	EYE_UPDATE(e, {
		e->pictures++;
		e->width = f->width;
		e->height = f->height;
		if (ok) {
			if (e->recognised && number == ((e->last_number + 1) & 0xffff))
				e->in_order++;
			e->recognised++;
			e->last_number = number;
		}
	});
}

static void on_mix(cw_session *s, const char *pid, const int16_t *pcm, size_t n, void *arg)
{
	struct eye *e = arg;

	(void)s;
	(void)pid;
	(void)pcm;
	(void)n;
	EYE_UPDATE(e, e->audio_frames++);
}

static void on_muted(cw_session *s, const cw_participant *p, const char *kind, bool muted,
		     void *arg)
{
	struct eye *e = arg;

	(void)s;
	(void)p;
	EYE_UPDATE(e, (e->muted_events++, e->last_muted = muted,
		       snprintf(e->last_kind, sizeof(e->last_kind), "%s", kind)));
}

static const cw_session_listener eye_listener = {.participant_muted = on_muted};

/* A session of p in the meeting `room`, with e's pattern (if any) and sinks, joined. */
static cw_session *eye_join(struct peer *p, struct eye *e, const char *room, unsigned loss)
{
	cw_session *s;

	ASSERT_OK(cw_session_new(&s, p->client, room, NULL, NULL));
	ASSERT_OK(cw_session_set_listener(s, &eye_listener, e));
	ASSERT_OK(cw_session_set_audio_source(s, cw_tone_source_cb, &e->tone));
	ASSERT_OK(cw_session_set_audio_mix_sink(s, on_mix, e));
	if (e->pattern)
		ASSERT_OK(cw_session_set_video_source(s, cw_test_pattern_source_cb, e->pattern,
						      NULL));
	ASSERT_OK(cw_session_set_video_sink(s, on_video, e));
	if (loss)
		ASSERT_OK(cw_session_set_receive_loss(s, loss));
	ASSERT_OK(cw_session_join_sync(s, 0));
	return s;
}

static cw_session_stats stats_of(cw_session *s)
{
	cw_session_stats st;

	ASSERT_OK(cw_session_get_stats(s, &st));
	return st;
}

/* ---- tests ---- */

static void two_c_clients_see_each_others_test_pattern(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct eye *ea = eye_new(w, 320, 240), *eb = eye_new(w, 640, 480);
	cw_session *sa = eye_join(alice, ea, "video-room", 0);
	cw_session *sb = eye_join(bob, eb, "video-room", 0);
	cw_session_stats st;

	/* Each decodes the other's pictures at the other's size, nearly all of them in order
	 * on loopback. */
	EYE_WAIT(ea, ea->recognised >= 60);
	EYE_WAIT(eb, eb->recognised >= 60);
	pthread_mutex_lock(&ea->m);
	assert_int_equal(ea->width, 640);
	assert_int_equal(ea->height, 480);
	assert_true(ea->in_order * 100 >= (ea->recognised - 1) * 95);
	assert_true(ea->recognised * 100 >= ea->pictures * 95);
	pthread_mutex_unlock(&ea->m);
	pthread_mutex_lock(&eb->m);
	assert_int_equal(eb->width, 320);
	assert_int_equal(eb->height, 240);
	assert_true(eb->in_order * 100 >= (eb->recognised - 1) * 95);
	pthread_mutex_unlock(&eb->m);

	st = stats_of(sa);
	assert_true(st.video_frames_sent >= 60);
	assert_true(st.video_keyframes_sent >= 1);
	assert_true(st.video_packets_sent >= st.video_frames_sent);
	/* The counters are a snapshot of the last 20 ms tick. */
	if (st.video_frames_decoded < 55)
		fail_msg("%llu pictures decoded", (unsigned long long)st.video_frames_decoded);
	assert_true(st.video_packets_received > 0);
	/* Audio flows beside it, and its counters hold audio only. */
	assert_true(st.audio_packets_sent > 0);
	assert_true(st.audio_packets_received > 0);
	assert_true(st.audio_packets_received < st.audio_packets_sent + 100);
	cw_session_free(sb);
	cw_session_free(sa);
}

static void lost_video_packets_are_asked_again(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct eye *ea = eye_new(w, 640, 480), *eb = eye_new(w, 0, 0);
	cw_session *sa = eye_join(alice, ea, "lossy-video", 0);
	cw_session *sb = eye_join(bob, eb, "lossy-video", 50);
	cw_session_stats st;

	/* 5 % of what bob receives is dropped: NACKs bring it back, and the pictures keep
	 * coming, recognisable. */
	EYE_WAIT(eb, eb->recognised >= 90);
	st = stats_of(sb);
	assert_true(st.dropped_by_test > 0);
	assert_true(st.nack_sent > 0);
	assert_true(st.packets_recovered > 0);
	pthread_mutex_lock(&eb->m);
	assert_true(eb->recognised * 100 >= eb->pictures * 95);
	pthread_mutex_unlock(&eb->m);
	cw_session_free(sb);
	cw_session_free(sa);
}

static void a_paused_camera_stops_and_resumes_with_a_keyframe(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct eye *ea = eye_new(w, 320, 240), *eb = eye_new(w, 0, 0);
	cw_session *sa = eye_join(alice, ea, "pause-room", 0);
	cw_session *sb = eye_join(bob, eb, "pause-room", 0);
	cw_session_stats before, after;
	uint64_t clock;

	EYE_WAIT(eb, eb->recognised >= 10);
	ASSERT_OK(cw_session_pause_video(sa, true));
	EYE_WAIT(eb, eb->muted_events == 1);
	assert_string_equal(eb->last_kind, "video");
	assert_true(eb->last_muted);

	/* Half a second of the session's clock (25 audio frames) later, alice has encoded
	 * nothing more. */
	before = stats_of(sa);
	pthread_mutex_lock(&ea->m);
	clock = ea->audio_frames;
	pthread_mutex_unlock(&ea->m);
	EYE_WAIT(ea, ea->audio_frames >= clock + 25);
	after = stats_of(sa);
	assert_true(after.video_frames_sent <= before.video_frames_sent + 1);

	/* Resumed: bob sees pictures again, and the first one alice sent was a keyframe. */
	pthread_mutex_lock(&eb->m);
	uint64_t seen = eb->recognised;
	pthread_mutex_unlock(&eb->m);
	ASSERT_OK(cw_session_pause_video(sa, false));
	EYE_WAIT(eb, eb->muted_events == 2 && eb->recognised >= seen + 10);
	assert_false(eb->last_muted);
	assert_true(stats_of(sa).video_keyframes_sent > after.video_keyframes_sent);
	cw_session_free(sb);
	cw_session_free(sa);
}

static void video_settings_that_cannot_work_are_refused(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice");
	struct eye *ea = eye_new(w, 320, 240);
	cw_session_settings audio_only;
	cw_video_options bad = {.fps = 500};
	cw_test_pattern *pattern = NULL;
	cw_session *s;

	assert_int_equal(cw_test_pattern_new(&pattern, 321, 240), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw_test_pattern_new(&pattern, 32, 32), CW_ERR_INVALID_ARGUMENT);
	assert_null(pattern);

	cw_session_settings_init(&audio_only);
	audio_only.audio_only = true;
	ASSERT_OK(cw_session_new(&s, alice->client, "quiet-room", NULL, &audio_only));
	assert_int_equal(
		cw_session_set_video_source(s, cw_test_pattern_source_cb, ea->pattern, &bad),
		CW_ERR_INVALID_ARGUMENT);
	/* A camera set on an audio-only session publishes nothing, and cannot be set once
	 * joined. */
	ASSERT_OK(cw_session_set_video_source(s, cw_test_pattern_source_cb, ea->pattern, NULL));
	ASSERT_OK(cw_session_join_sync(s, 0));
	assert_int_equal(
		cw_session_set_video_source(s, cw_test_pattern_source_cb, ea->pattern, NULL),
		CW_ERR_INVALID_STATE);
	assert_int_equal(cw_session_pause_video(s, true), CW_ERR_INVALID_STATE);
	assert_int_equal(stats_of(s).video_frames_sent, 0);
	cw_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(two_c_clients_see_each_others_test_pattern,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(lost_video_packets_are_asked_again, world_setup,
						world_teardown),
		cmocka_unit_test_setup_teardown(a_paused_camera_stops_and_resumes_with_a_keyframe,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(video_settings_that_cannot_work_are_refused,
						world_setup, world_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
