/* SDK tests of sessions: two C clients in one call hear each other's tones through the
 * real server's SFU; losses are repaired by NACK and concealed; meeting sessions report
 * who joins, mutes and leaves; a bad call token changes nothing. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tone.h"
#include "world.h"

#define RATE CW_AUDIO_RATE
#define REC_SECONDS 30
#define DEADLINE_MS 20000

/* What one client heard and what its session told it, filled on the network thread. */
struct ear {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int16_t *pcm; /* the mix, from the first frame */
	size_t n;
	cw_tone tone;
	unsigned loss;
	cw_session *session;   /* the calling extension's, while it lives */
	cw_session_stats last; /* as the session closed */
	int created, joined, join_err, closed;
	int participant_joined, participant_left, muted_events, ended, warnings;
	int64_t ends_at;
	char last_uid[64], last_reason[32], last_kind[16];
	bool last_muted;
};

static void ear_init(struct ear *e, double freq, unsigned loss)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->m, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->pcm = calloc((size_t)RATE * REC_SECONDS, sizeof(int16_t));
	assert_non_null(e->pcm);
	e->tone.frequency = freq;
	e->tone.amplitude = 0.3;
	e->loss = loss;
}

static void ear_free(void *p)
{
	struct ear *e = p;

	free(e->pcm);
	pthread_mutex_destroy(&e->m);
	pthread_cond_destroy(&e->cv);
	free(e);
}

static struct ear *ear_new(struct world *w, double freq, unsigned loss)
{
	struct ear *e = malloc(sizeof(*e));

	assert_non_null(e);
	ear_init(e, freq, loss);
	world_defer(w, ear_free, e);
	return e;
}

#define EAR_UPDATE(e, stmt) UPDATE_UNDER(&(e)->m, &(e)->cv, stmt)

/* Waits until cond (an expression over e) holds, or fails the test at the deadline. */
#define EAR_WAIT(e, cond) WAIT_UNDER(&(e)->m, &(e)->cv, cond, DEADLINE_MS)

/* ---- listeners ---- */

static void on_mix(cw_session *s, const char *pid, const int16_t *pcm, size_t n, void *arg)
{
	struct ear *e = arg;

	(void)s;
	assert_null(pid);
	EAR_UPDATE(e, {
		size_t room = (size_t)RATE * REC_SECONDS - e->n;
		size_t take = n < room ? n : room;
		memcpy(e->pcm + e->n, pcm, take * sizeof(*pcm));
		e->n += take;
	});
}

static void on_p_joined(cw_session *s, const cw_participant *p, void *arg)
{
	struct ear *e = arg;

	(void)s;
	EAR_UPDATE(e, (e->participant_joined++, snprintf(e->last_uid, sizeof(e->last_uid), "%s",
							 cw_participant_get_uid(p))));
}

static void on_p_left(cw_session *s, const cw_participant *p, const char *reason, void *arg)
{
	struct ear *e = arg;

	(void)s;
	EAR_UPDATE(e, (e->participant_left++,
		       snprintf(e->last_uid, sizeof(e->last_uid), "%s", cw_participant_get_uid(p)),
		       snprintf(e->last_reason, sizeof(e->last_reason), "%s", reason)));
}

static void on_p_muted(cw_session *s, const cw_participant *p, const char *kind, bool muted,
		       void *arg)
{
	struct ear *e = arg;

	(void)s;
	EAR_UPDATE(e,
		   (e->muted_events++, e->last_muted = muted,
		    snprintf(e->last_kind, sizeof(e->last_kind), "%s", kind),
		    snprintf(e->last_uid, sizeof(e->last_uid), "%s", cw_participant_get_uid(p))));
}

static void on_ended(cw_session *s, const char *reason, void *arg)
{
	struct ear *e = arg;

	(void)s;
	EAR_UPDATE(e, (e->ended++, snprintf(e->last_reason, sizeof(e->last_reason), "%s", reason)));
}

static void on_warning(cw_session *s, int64_t ends_at, void *arg)
{
	struct ear *e = arg;

	(void)s;
	EAR_UPDATE(e, (e->warnings++, e->ends_at = ends_at));
}

static const cw_session_listener ear_listener = {
	.timeout_warning = on_warning,
	.participant_joined = on_p_joined,
	.participant_left = on_p_left,
	.participant_muted = on_p_muted,
	.session_ended = on_ended,
};

static void ear_attach(struct ear *e, cw_session *s)
{
	cw_session_set_listener(s, &ear_listener, e);
	cw_session_set_audio_source(s, cw_tone_source_cb, &e->tone);
	cw_session_set_audio_mix_sink(s, on_mix, e);
	if (e->loss)
		cw_session_set_receive_loss(s, e->loss);
}

/* The calling extension's callbacks. */
static void ext_created(cw_client *c, cw_call *call, cw_session *s, void *arg)
{
	struct ear *e = arg;

	(void)c;
	(void)call;
	ear_attach(e, s);
	EAR_UPDATE(e, (e->created++, e->session = s));
}

static void ext_joined(cw_client *c, cw_session *s, int err, const char *message, void *arg)
{
	struct ear *e = arg;

	(void)c;
	(void)s;
	(void)message;
	EAR_UPDATE(e, (e->joined++, e->join_err = err));
}

static void ext_closed(cw_client *c, cw_session *s, void *arg)
{
	struct ear *e = arg;

	(void)c;
	EAR_UPDATE(e, (cw_session_get_stats(s, &e->last), e->closed++, e->session = NULL));
}

static void enable_calling(struct peer *p, struct ear *e)
{
	cw_calling_options o;

	cw_calling_options_init(&o);
	o.session_created = ext_created;
	o.session_joined = ext_joined;
	o.session_closed = ext_closed;
	o.arg = e;
	ASSERT_OK(cw_client_enable_calling(p->client, &o));
}

/* ---- what was heard ---- */

/* Waits until e heard `seconds` of sound after its first loud frame. */
static size_t wait_heard(struct ear *e, double seconds)
{
	size_t start = 0;

	EAR_WAIT(e, ({
			 while (start + 960 <= e->n && rms(e->pcm + start, 960) < 300)
				 start += 960;
			 start + 960 <= e->n && e->n - start >= (size_t)(seconds * RATE);
		 }));
	return start;
}

/* The dominant frequency of `seconds` from start; computed on a copy, so that the network
 * thread (which takes e->m every 20 ms) never waits for it. */
static void assert_hears(struct ear *e, size_t start, double seconds, double want)
{
	size_t n = (size_t)(seconds * RATE);
	int16_t *copy = malloc(n * sizeof(*copy));
	double got, level;

	assert_non_null(copy);
	pthread_mutex_lock(&e->m);
	memcpy(copy, e->pcm + start, n * sizeof(*copy));
	pthread_mutex_unlock(&e->m);
	got = dominant(copy, n, RATE, 2000);
	level = rms(copy, n);
	free(copy);
	if (fabs(got - want) > 10) {
		print_error("heard %.0f Hz (rms %.0f), want %.0f Hz\n", got, level, want);
		fail();
	}
}

/* ---- tests ---- */

static cw_call *call_and_answer(struct world *w, struct peer *alice, struct peer *bob)
{
	cw_call *out = ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	const char *sid = cw_call_get_session_id(out);

	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	accept_sync(w, bob, sid);
	return out;
}

static void two_c_clients_hear_each_others_tone(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct ear *ea = ear_new(w, 440, 0), *eb = ear_new(w, 880, 0);
	cw_session_stats sa, sb;
	cw_call *call;
	size_t at, bt;

	enable_calling(alice, ea);
	enable_calling(bob, eb);
	call = call_and_answer(w, alice, bob);
	EAR_WAIT(ea, ea->joined == 1);
	EAR_WAIT(eb, eb->joined == 1);
	assert_int_equal(ea->join_err, 0);
	assert_int_equal(eb->join_err, 0);

	/* Each hears the other's tone, and hardly anything is concealed on loopback. */
	at = wait_heard(ea, 3.0);
	bt = wait_heard(eb, 3.0);
	assert_hears(ea, at, 3.0, 880);
	assert_hears(eb, bt, 3.0, 440);
	pthread_mutex_lock(&ea->m);
	cw_session_get_stats(ea->session, &sa);
	pthread_mutex_unlock(&ea->m);
	pthread_mutex_lock(&eb->m);
	cw_session_get_stats(eb->session, &sb);
	pthread_mutex_unlock(&eb->m);
	print_message("alice: %llu decoded, %llu FEC, %llu concealed, %llu late; bob: %llu, %llu, "
		      "%llu, %llu\n",
		      (unsigned long long)sa.frames_decoded, (unsigned long long)sa.frames_fec,
		      (unsigned long long)sa.frames_concealed, (unsigned long long)sa.packets_late,
		      (unsigned long long)sb.frames_decoded, (unsigned long long)sb.frames_fec,
		      (unsigned long long)sb.frames_concealed, (unsigned long long)sb.packets_late);
	assert_true(sa.frames_decoded >= 150);
	assert_true(sb.frames_decoded >= 150);
	assert_true(sa.frames_concealed * 50 < sa.frames_decoded);
	assert_true(sb.frames_concealed * 50 < sb.frames_decoded);
	assert_true(sa.audio_packets_sent >= 150 && sb.audio_packets_sent >= 150);

	/* Hanging up leaves both sessions and frees them. */
	end_sync(w, alice, cw_call_get_session_id(call));
	EAR_WAIT(ea, ea->closed == 1);
	EAR_WAIT(eb, eb->closed == 1);
	assert_true(ea->last.frames_decoded >= sa.frames_decoded);
}

static void lost_packets_are_asked_again_and_concealed(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct ear *ea = ear_new(w, 440, 0), *eb = ear_new(w, 880, 50);
	cw_session_stats sb;
	cw_call *call;
	size_t bt;

	enable_calling(alice, ea);
	enable_calling(bob, eb);
	call = call_and_answer(w, alice, bob);
	bt = wait_heard(eb, 4.0);
	assert_hears(eb, bt, 4.0, 440);
	pthread_mutex_lock(&eb->m);
	cw_session_get_stats(eb->session, &sb);
	pthread_mutex_unlock(&eb->m);
	print_message("bob, 5%% dropped: %llu dropped, %llu NACKs, %llu recovered, %llu lost, "
		      "%llu decoded, %llu FEC, %llu concealed\n",
		      (unsigned long long)sb.dropped_by_test, (unsigned long long)sb.nack_sent,
		      (unsigned long long)sb.packets_recovered, (unsigned long long)sb.packets_lost,
		      (unsigned long long)sb.frames_decoded, (unsigned long long)sb.frames_fec,
		      (unsigned long long)sb.frames_concealed);
	/* About 5 % of 200+ packets dropped; the server's cache answers the NACKs and brings
	 * them back (a loss the jitter buffer could not wait for is FEC or concealment). */
	assert_true(sb.dropped_by_test >= 3);
	assert_true(sb.nack_sent >= 1);
	assert_true(sb.packets_recovered >= 1);
	assert_true(sb.packets_recovered * 2 >= sb.dropped_by_test);
	assert_true(sb.frames_decoded >= 150);
	end_sync(w, alice, cw_call_get_session_id(call));
	EAR_WAIT(eb, eb->closed == 1);
}

static void a_meeting_reports_joins_mutes_and_leaves(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct ear *ea = ear_new(w, 440, 0), *eb = ear_new(w, 880, 0);
	cw_session *sa, *sb;

	ASSERT_OK(cw_session_new(&sa, alice->client, "standup-media", NULL, NULL));
	cw_session_settings audio_only;
	cw_session_settings_init(&audio_only);
	audio_only.audio_only = true;
	ASSERT_OK(cw_session_new(&sb, bob->client, "standup-media", NULL, &audio_only));
	ear_attach(ea, sa);
	ear_attach(eb, sb);
	ASSERT_OK(cw_session_join_sync(sa, 0));
	assert_true(cw_session_is_joined(sa));
	assert_non_null(cw_session_get_participant_id(sa));
	assert_int_equal(cw_session_join(sa, NULL, NULL), CW_ERR_BUSY);
	ASSERT_OK(cw_session_join_sync(sb, 0));
	EAR_WAIT(ea, ea->participant_joined == 1);
	assert_string_equal(ea->last_uid, "bob");
	assert_int_equal(cw_session_get_participant_count(sb), 1);

	/* Both hear each other in a meeting too. */
	assert_hears(eb, wait_heard(eb, 2.0), 2.0, 440);

	ASSERT_OK(cw_session_mute_audio(sb, true));
	EAR_WAIT(ea, ea->muted_events == 1);
	assert_true(ea->last_muted);
	assert_string_equal(ea->last_kind, "audio");
	assert_int_equal(cw_session_pause_video(sb, true), CW_ERR_INVALID_STATE);
	ASSERT_OK(cw_session_mute_audio(sb, false));
	EAR_WAIT(ea, ea->muted_events == 2);
	assert_false(ea->last_muted);

	ASSERT_OK(cw_session_leave_sync(sb, 0));
	assert_false(cw_session_is_joined(sb));
	EAR_WAIT(ea, ea->participant_left == 1);
	assert_string_equal(ea->last_reason, "left");
	assert_int_equal(cw_session_get_participant_count(sa), 0);
	cw_session_free(sb);
	/* Freed while joined: it leaves by itself. */
	cw_session_free(sa);
}

static void a_bad_call_token_is_refused_and_changes_nothing(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice");
	cw_session *s;
	char *token = NULL;

	ASSERT_OK(cw_generate_call_token_sync(alice->client, "room-1", 0, &token));
	assert_non_null(token);
	assert_true(strlen(token) > 20);
	cw_free(token);

	ASSERT_OK(cw_session_new(&s, alice->client, "room-1", "not.a.token", NULL));
	assert_int_equal(cw_session_join_sync(s, 0), CW_ERR_UNAUTHORIZED);
	assert_false(cw_session_is_joined(s));
	assert_null(cw_session_get_participant_id(s));
	cw_session_free(s);
	assert_int_equal(cw_session_new(&s, alice->client, "", NULL, NULL),
			 CW_ERR_INVALID_ARGUMENT);
}

static void a_session_freed_while_joining_leaves_the_server_at_once(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct ear *eb = ear_new(w, 880, 0);
	cw_session *sa, *sb;
	char *token = NULL;

	ASSERT_OK(cw_session_new(&sb, bob->client, "freed-while-joining", NULL, NULL));
	ear_attach(eb, sb);
	ASSERT_OK(cw_session_join_sync(sb, 0));
	/* With the token at hand the join request leaves at once; the free follows it on the
	 * network thread before any answer can come. */
	ASSERT_OK(cw_generate_call_token_sync(alice->client, "freed-while-joining", 0, &token));
	ASSERT_OK(cw_session_new(&sa, alice->client, "freed-while-joining", token, NULL));
	cw_free(token);
	ASSERT_OK(cw_session_join(sa, NULL, NULL));
	cw_session_free(sa);
	/* The server admitted alice, and the client let her go on the answer: "left", long
	 * before a consent timeout (30 s) would have said "disconnected". */
	EAR_WAIT(eb, eb->participant_joined == 1);
	EAR_WAIT(eb, eb->participant_left == 1);
	assert_string_equal(eb->last_uid, "alice");
	assert_string_equal(eb->last_reason, "left");
	cw_session_free(sb);
}

static void a_lone_participant_is_warned_then_the_session_ends(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice");
	struct ear *ea = ear_new(w, 440, 0);
	cw_session_settings settings;
	cw_session *s;
	long long before = cwt_now_ms();

	cw_session_settings_init(&settings);
	settings.idle_timeout = 4;
	ASSERT_OK(cw_session_new(&s, alice->client, "alone-for-a-while", NULL, &settings));
	ear_attach(ea, s);
	ASSERT_OK(cw_session_join_sync(s, 0));
	/* Alone: warned halfway (a timeout under 2 minutes), then ended by the server. */
	EAR_WAIT(ea, ea->warnings == 1);
	assert_true(ea->ends_at > 0);
	EAR_WAIT(ea, ea->ended == 1);
	assert_string_equal(ea->last_reason, "idle_timeout");
	assert_true(cwt_now_ms() - before >= 3000);
	assert_false(cw_session_is_joined(s));
	cw_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(two_c_clients_hear_each_others_tone, world_setup,
						world_teardown),
		cmocka_unit_test_setup_teardown(lost_packets_are_asked_again_and_concealed,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(a_meeting_reports_joins_mutes_and_leaves,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(a_bad_call_token_is_refused_and_changes_nothing,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			a_session_freed_while_joining_leaves_the_server_at_once, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(a_lone_participant_is_warned_then_the_session_ends,
						world_setup, world_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
