/* doorphone: a door phone on libcallwire: it rings someone (or answers whoever rings it)
 * and talks, with the calling extension joining the call's session on acceptance.
 *
 *   doorphone SERVER_URL APP_ID UID AUTH_KEY (--call CALLEE | --answer)
 *             [--tone HZ | --wav FILE] [--record FILE.wav] [--video WxH] [--seconds S]
 *
 * It logs in as UID with the app's auth key (a development credential, see docs/sdk.md),
 * plays a tone (440 Hz unless --tone or --wav says otherwise) into the call, records what
 * it hears to --record, sends the test pattern as video with --video (a video call), and
 * hangs up S seconds (default 10) after the session is joined, or when the other side
 * hangs up. It prints one line per step and the session's counters at the end. Exit
 * status: 0 when it talked, 1 when not (or on an error), 2 on a usage error.
 *
 * Nothing else than libcallwire: the smallest C client of a call, as a device runs it
 * (bench/run-sdk measures its CPU and memory).
 */
/* clock_gettime and pthread_condattr_setclock under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <callwire/callwire.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { DEFAULT_SECONDS = 10, ANSWER_WAIT_SECONDS = 120, JOIN_SLACK_SECONDS = 30 };

/* What main() shares with the callbacks, which run on the SDK's network thread. */
struct door {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char ringing[65];     /* answer: the session id of a call ringing us */
	bool joined, over;    /* the session is joined; the call or session is over */
	bool closed;	      /* the session was closed: `end` holds its counters */
	int join_err;	      /* why the join failed */
	cw_session_stats end; /* the counters as the session closed */
	cw_tone tone;
	cw_wav_source *wav;
	cw_wav_sink *record;
	cw_test_pattern *pattern;
	uint64_t pictures; /* of the others, decoded */
};

static void signal_locked(struct door *d)
{
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

static void on_picture(cw_session *s, const char *who, const cw_video_frame *f, void *arg)
{
	struct door *d = arg;

	(void)s;
	(void)who;
	(void)f;
	pthread_mutex_lock(&d->lock);
	d->pictures++;
	pthread_mutex_unlock(&d->lock);
}

/* The calling extension made the call's session: what it plays and records. */
static void on_session(cw_client *c, cw_call *call, cw_session *s, void *arg)
{
	struct door *d = arg;

	(void)c;
	(void)call;
	if (d->wav)
		cw_session_set_audio_source(s, cw_wav_source_cb, d->wav);
	else
		cw_session_set_audio_source(s, cw_tone_source_cb, &d->tone);
	if (d->record)
		cw_session_set_audio_mix_sink(s, cw_wav_sink_cb, d->record);
	if (d->pattern)
		cw_session_set_video_source(s, cw_test_pattern_source_cb, d->pattern, NULL);
	cw_session_set_video_sink(s, on_picture, d);
}

static void on_joined(cw_client *c, cw_session *s, int err, const char *message, void *arg)
{
	struct door *d = arg;

	(void)c;
	(void)s;
	if (err)
		fprintf(stderr, "doorphone: cannot join: %s\n", message);
	pthread_mutex_lock(&d->lock);
	d->joined = !err;
	d->join_err = err;
	d->over = err != 0;
	signal_locked(d);
}

static void on_closed(cw_client *c, cw_session *s, void *arg)
{
	struct door *d = arg;

	(void)c;
	pthread_mutex_lock(&d->lock);
	cw_session_get_stats(s, &d->end);
	d->over = d->closed = true;
	signal_locked(d);
}

static void on_incoming(cw_client *c, cw_call *call, void *arg)
{
	struct door *d = arg;

	(void)c;
	pthread_mutex_lock(&d->lock);
	if (!d->ringing[0])
		snprintf(d->ringing, sizeof(d->ringing), "%s", cw_call_get_session_id(call));
	signal_locked(d);
}

static void on_over(cw_client *c, cw_call *call, void *arg)
{
	struct door *d = arg;

	(void)c;
	(void)call;
	pthread_mutex_lock(&d->lock);
	d->over = true;
	signal_locked(d);
}

/* Waits until pred(d) or the deadline; true when pred holds. */
static bool wait_until(struct door *d, bool (*pred)(const struct door *), int seconds)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&d->lock);
	while (!(ok = pred(d)) && pthread_cond_timedwait(&d->changed, &d->lock, &until) == 0)
		;
	ok = pred(d);
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static bool rung(const struct door *d)
{
	return d->ringing[0] != '\0';
}

static bool settled(const struct door *d)
{
	return d->joined || d->over;
}

static bool is_over(const struct door *d)
{
	return d->over;
}

static bool is_closed(const struct door *d)
{
	return d->closed;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: doorphone SERVER_URL APP_ID UID AUTH_KEY (--call CALLEE | "
		"--answer)\n"
		"                 [--tone HZ | --wav FILE] [--record FILE.wav] [--video WxH] "
		"[--seconds S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const cw_call_listener calls = {
		.incoming_call_received = on_incoming,
		.outgoing_call_rejected = on_over,
		.outgoing_call_cancelled = on_over,
		.incoming_call_cancelled = on_over,
		.call_ended = on_over,
	};
	struct door d = {.tone = {.frequency = 440, .amplitude = 0.25}};
	const char *callee = NULL, *wav = NULL, *record = NULL;
	int seconds = DEFAULT_SECONDS, width = 0, height = 0, err = 0;
	bool answer = false;
	pthread_condattr_t ca;
	cw_calling_options o;
	cw_client *client = NULL;
	cw_call *call = NULL;

	if (argc < 6)
		return usage();
	for (int i = 5; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--answer") == 0)
			answer = true;
		else if (strcmp(argv[i], "--call") == 0 && v)
			callee = argv[++i];
		else if (strcmp(argv[i], "--tone") == 0 && v)
			d.tone.frequency = atof(argv[++i]);
		else if (strcmp(argv[i], "--wav") == 0 && v)
			wav = argv[++i];
		else if (strcmp(argv[i], "--record") == 0 && v)
			record = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && v)
			seconds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--video") == 0 && v &&
			 sscanf(argv[++i], "%dx%d", &width, &height) == 2)
			;
		else
			return usage();
	}
	if (answer == (callee != NULL) || seconds <= 0 || d.tone.frequency <= 0)
		return usage();

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d.changed, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&d.lock, NULL);
	if ((wav && (err = cw_wav_source_open(&d.wav, wav, true))) ||
	    (record && (err = cw_wav_sink_open(&d.record, record))) ||
	    (width && (err = cw_test_pattern_new(&d.pattern, width, height))) ||
	    (err = cw_client_new(&client, argv[1], argv[2])))
		goto out;

	cw_calling_options_init(&o);
	o.settings.audio_only = width == 0;
	o.session_created = on_session;
	o.session_joined = on_joined;
	o.session_closed = on_closed;
	o.arg = &d;
	if ((err = cw_client_enable_calling(client, &o)) ||
	    (err = cw_add_call_listener(client, "doorphone", &calls, &d)) ||
	    (err = cw_login_with_auth_key_sync(client, argv[3], argv[4], 0)))
		goto out;
	printf("logged in as %s\n", argv[3]);
	fflush(stdout);

	if (answer) {
		if (!wait_until(&d, rung, ANSWER_WAIT_SECONDS)) {
			fprintf(stderr, "doorphone: nobody rang\n");
			err = CW_ERR_TIMEOUT;
			goto out;
		}
		err = cw_accept_call_sync(client, d.ringing, 0, &call);
	} else {
		err = cw_initiate_call_sync(client, callee, CW_RECEIVER_USER,
					    width ? CW_CALL_VIDEO : CW_CALL_AUDIO, 0, NULL, 0,
					    &call);
	}
	if (err)
		goto out;
	printf("call %s\n", cw_call_get_session_id(call));
	fflush(stdout);

	/* Ringing, then the join; then the talk until the time is up or the call is over. */
	if (!wait_until(&d, settled, ANSWER_WAIT_SECONDS + JOIN_SLACK_SECONDS) || !d.joined) {
		err = d.join_err ? d.join_err : CW_ERR_TIMEOUT;
		goto hang_up;
	}
	printf("joined\n");
	fflush(stdout);
	wait_until(&d, is_over, seconds);

hang_up:
	if (!d.over) {
		cw_call *ended = NULL;
		if (cw_end_call_sync(client, cw_call_get_session_id(call), 0, &ended) != 0)
			cw_cancel_call_sync(client, cw_call_get_session_id(call), 0, NULL);
		cw_call_unref(ended);
	}
	/* The call's end reaches the call listener before the session is closed. */
	wait_until(&d, is_closed, JOIN_SLACK_SECONDS);
	pthread_mutex_lock(&d.lock);
	printf("stats audio_sent=%llu audio_received=%llu decoded=%llu concealed=%llu "
	       "video_sent=%llu video_decoded=%llu pictures_seen=%llu\n",
	       (unsigned long long)d.end.audio_packets_sent,
	       (unsigned long long)d.end.audio_packets_received,
	       (unsigned long long)d.end.frames_decoded, (unsigned long long)d.end.frames_concealed,
	       (unsigned long long)d.end.video_frames_sent,
	       (unsigned long long)d.end.video_frames_decoded, (unsigned long long)d.pictures);
	pthread_mutex_unlock(&d.lock);
out:
	if (err)
		fprintf(stderr, "doorphone: %s (%s)\n", cw_last_error_message(), cw_err_name(err));
	cw_call_unref(call);
	if (client)
		cw_logout_sync(client, 0);
	cw_client_free(client);
	cw_test_pattern_free(d.pattern);
	if (d.record && cw_wav_sink_close(d.record) != 0 && !err)
		err = CW_ERR_IO;
	cw_wav_source_free(d.wav);
	pthread_cond_destroy(&d.changed);
	pthread_mutex_destroy(&d.lock);
	return err ? 1 : 0;
}
