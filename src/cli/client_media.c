/* client_media: the softphone: `call` with audio, `answer` and `join` play a WAV file or
 * a tone into a session, record what they hear to a WAV file, send the test pattern as
 * video and record the first video they see to a Y4M file, and print the session's
 * events as JSON lines. Built on libcallwire's sessions and its calling extension. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/phone.h"

struct phone {
	struct cli_waiter waiter;
	bool waiting; /* the waiter is open */
	const struct phone_opts *o;
	cw_client *client;
	cw_wav_source *source;
	cw_wav_sink *sink;
	cw_tone tone;
	cw_test_pattern *pattern;
	FILE *y4m;

	pthread_mutex_t lock; /* guards what follows */
	char sid[128];	      /* the call or session; empty until known */
	char incoming[128];   /* answer: the call to accept */
	cw_session *session;  /* while joined */
	bool joined, closed, done;
	int join_err;
	int outcome;	 /* an exit code once the call is over without us, else -1 */
	uint64_t frames; /* 20 ms frames heard since the join */
	cw_session_stats stats;
	bool have_stats;
	struct {
		char id[128];
		int width, height;
	} seen[16];	  /* the video participants and their last sizes */
	int y4m_w, y4m_h; /* the recording's size; 0 before its first picture */
	char y4m_id[128]; /* whose video it records */
	uint64_t y4m_pictures;
	/* The session's lines wait until the call's line is out (a join can finish before the
	 * command has printed the call it rang or accepted). */
	bool shown;
	json_t *held;
};

static void emit(json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (text) {
		printf("%s\n", text);
		fflush(stdout);
	}
	free(text);
	json_decref(obj);
}

/* A line of the session or the call: printed now, or held until the call's line is out.
 * With ph->lock held. */
static void say_locked(struct phone *ph, json_t *obj)
{
	if (!obj)
		return;
	if (!ph->shown && ph->held && json_array_append(ph->held, obj) == 0)
		json_decref(obj);
	else
		emit(obj);
}

static void say(struct phone *ph, json_t *obj)
{
	pthread_mutex_lock(&ph->lock);
	say_locked(ph, obj);
	pthread_mutex_unlock(&ph->lock);
}

/* The call's line is out: what waited follows it. */
static void show_held(struct phone *ph)
{
	size_t i;
	json_t *obj;

	pthread_mutex_lock(&ph->lock);
	ph->shown = true;
	json_array_foreach (ph->held, i, obj) {
		emit(json_incref(obj));
	}
	json_array_clear(ph->held);
	pthread_mutex_unlock(&ph->lock);
}

static void wake(struct phone *ph)
{
	cli_waiter_wake(&ph->waiter);
}

static void keep_stats_locked(struct phone *ph)
{
	if (ph->session && cw_session_get_stats(ph->session, &ph->stats) == 0)
		ph->have_stats = true;
}

/* ---- session callbacks (network thread) ---- */

static void on_mix(cw_session *s, const char *participant_id, const int16_t *pcm, size_t samples,
		   void *arg)
{
	struct phone *ph = arg;
	bool reached;

	if (ph->sink)
		cw_wav_sink_cb(s, participant_id, pcm, samples, ph->sink);
	pthread_mutex_lock(&ph->lock);
	ph->frames++;
	reached = ph->o->duration_ms > 0 && !ph->done &&
		  ph->frames * 20 >= (uint64_t)ph->o->duration_ms;
	if (reached) {
		ph->done = true;
		keep_stats_locked(ph);
	}
	pthread_mutex_unlock(&ph->lock);
	if (reached)
		wake(ph);
}

/* Records a picture as one Y4M frame. */
static void write_y4m(FILE *f, const cw_video_frame *v)
{
	for (int p = 0; p < 3; p++) {
		int w = p ? v->width / 2 : v->width, h = p ? v->height / 2 : v->height;
		for (int y = 0; y < h; y++)
			fwrite(v->planes[p] + (size_t)y * (size_t)v->strides[p], 1, (size_t)w, f);
	}
}

/* Each participant's video: a `video` line at its first picture and at each new size;
 * the first participant's pictures go to the Y4M file (at its first size). */
static void on_video(cw_session *s, const char *pid, const cw_video_frame *v, void *arg)
{
	struct phone *ph = arg;
	size_t i, n = sizeof(ph->seen) / sizeof(ph->seen[0]);
	bool news = false;

	(void)s;
	pthread_mutex_lock(&ph->lock);
	for (i = 0; i < n && ph->seen[i].id[0] && strcmp(ph->seen[i].id, pid) != 0; i++)
		;
	if (i < n && (!ph->seen[i].id[0] || ph->seen[i].width != v->width ||
		      ph->seen[i].height != v->height)) {
		snprintf(ph->seen[i].id, sizeof(ph->seen[i].id), "%s", pid);
		ph->seen[i].width = v->width;
		ph->seen[i].height = v->height;
		news = true;
	}
	if (ph->y4m && !ph->y4m_w) {
		snprintf(ph->y4m_id, sizeof(ph->y4m_id), "%s", pid);
		ph->y4m_w = v->width;
		ph->y4m_h = v->height;
		fprintf(ph->y4m, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg\n", v->width, v->height);
	}
	if (ph->y4m && strcmp(ph->y4m_id, pid) == 0 && v->width == ph->y4m_w &&
	    v->height == ph->y4m_h) {
		fputs("FRAME\n", ph->y4m);
		write_y4m(ph->y4m, v);
		ph->y4m_pictures++;
	}
	if (news)
		say_locked(ph, json_pack("{s:s,s:s,s:i,s:i}", "event", "video", "participantId",
					 pid, "width", v->width, "height", v->height));
	pthread_mutex_unlock(&ph->lock);
}

static void say_participant(struct phone *ph, const char *event, const cw_participant *p,
			    const char *key, const char *value)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "event", event, "participantId",
			      cw_participant_get_id(p), "uid", cw_participant_get_uid(p));
	if (o && key)
		json_object_set_new(o, key, json_string(value));
	say(ph, o);
}

static void on_joined_p(cw_session *s, const cw_participant *p, void *arg)
{
	(void)s;
	say_participant(arg, "participant_joined", p, NULL, NULL);
}

static void on_left_p(cw_session *s, const cw_participant *p, const char *reason, void *arg)
{
	(void)s;
	say_participant(arg, "participant_left", p, "reason", reason);
}

static void on_muted(cw_session *s, const cw_participant *p, const char *kind, bool muted,
		     void *arg)
{
	(void)s;
	say_participant(arg, muted ? "muted" : "unmuted", p, "kind", kind);
}

static void on_lost(cw_session *s, void *arg)
{
	(void)s;
	say(arg, json_pack("{s:s}", "event", "connection_lost"));
}

static void on_restored(cw_session *s, void *arg)
{
	(void)s;
	say(arg, json_pack("{s:s}", "event", "connection_restored"));
}

static void on_session_ended(cw_session *s, const char *reason, void *arg)
{
	struct phone *ph = arg;

	(void)s;
	say(ph, json_pack("{s:s,s:s}", "event", "session_ended", "reason", reason));
	pthread_mutex_lock(&ph->lock);
	keep_stats_locked(ph);
	ph->closed = true;
	pthread_mutex_unlock(&ph->lock);
	wake(ph);
}

static void setup_session(struct phone *ph, cw_session *s)
{
	static const cw_session_listener listener = {
		.participant_joined = on_joined_p,
		.participant_left = on_left_p,
		.participant_muted = on_muted,
		.connection_lost = on_lost,
		.connection_restored = on_restored,
		.session_ended = on_session_ended,
	};

	cw_session_set_listener(s, &listener, ph);
	if (ph->source)
		cw_session_set_audio_source(s, cw_wav_source_cb, ph->source);
	else if (ph->o->tone > 0)
		cw_session_set_audio_source(s, cw_tone_source_cb, &ph->tone);
	cw_session_set_audio_mix_sink(s, on_mix, ph);
	if (ph->pattern)
		cw_session_set_video_source(s, cw_test_pattern_source_cb, ph->pattern, NULL);
	if (phone_video(ph->o))
		cw_session_set_video_sink(s, on_video, ph);
	if (ph->o->receive_loss)
		cw_session_set_receive_loss(s, ph->o->receive_loss);
	pthread_mutex_lock(&ph->lock);
	ph->session = s;
	pthread_mutex_unlock(&ph->lock);
}

static void joined(struct phone *ph, cw_session *s, int err, const char *message)
{
	if (err)
		fprintf(stderr, "callwire: %s: %s (joining the session)\n", cw_err_name(err),
			message);
	else
		say(ph,
		    json_pack("{s:s,s:s,s:s}", "event", "joined", "sessionId", cw_session_get_id(s),
			      "participantId", cw_session_get_participant_id(s)));
	pthread_mutex_lock(&ph->lock);
	ph->joined = !err;
	ph->join_err = err;
	if (err)
		ph->closed = true;
	pthread_mutex_unlock(&ph->lock);
	wake(ph);
}

/* ---- the calling extension's callbacks ---- */

static void on_created(cw_client *c, cw_call *call, cw_session *s, void *arg)
{
	struct phone *ph = arg;

	(void)c;
	(void)call;
	setup_session(ph, s);
}

static void on_ext_joined(cw_client *c, cw_session *s, int err, const char *message, void *arg)
{
	(void)c;
	joined(arg, s, err, message);
}

static void on_closed(cw_client *c, cw_session *s, void *arg)
{
	struct phone *ph = arg;

	(void)c;
	(void)s;
	pthread_mutex_lock(&ph->lock);
	keep_stats_locked(ph);
	ph->session = NULL;
	ph->closed = true;
	pthread_mutex_unlock(&ph->lock);
	wake(ph);
}

/* ---- call events ---- */

static void on_call_over(cw_client *c, cw_call *call, void *arg)
{
	struct phone *ph = arg;
	cw_call_status st = cw_call_get_status(call);

	(void)c;
	pthread_mutex_lock(&ph->lock);
	if (strcmp(ph->sid, cw_call_get_session_id(call)) == 0 && ph->outcome < 0) {
		ph->outcome = st == CW_STATUS_REJECTED	   ? CLI_EXIT_REJECTED
			      : st == CW_STATUS_BUSY	   ? CLI_EXIT_BUSY
			      : st == CW_STATUS_UNANSWERED ? CLI_EXIT_UNANSWERED
			      : st == CW_STATUS_CANCELLED  ? CLI_EXIT_CANCELLED
							   : CLI_EXIT_OK;
		say_locked(ph, json_pack("{s:s,s:s,s:s}", "event", "call_over", "sessionId",
					 ph->sid, "status", cw_call_status_str(st)));
	}
	pthread_mutex_unlock(&ph->lock);
	wake(ph);
}

static void on_incoming(cw_client *c, cw_call *call, void *arg)
{
	struct phone *ph = arg;

	(void)c;
	pthread_mutex_lock(&ph->lock);
	if (!ph->incoming[0])
		snprintf(ph->incoming, sizeof(ph->incoming), "%s", cw_call_get_session_id(call));
	pthread_mutex_unlock(&ph->lock);
	wake(ph);
}

static int phone_setup(cw_client *client, void *arg)
{
	static const cw_call_listener calls = {
		.incoming_call_received = on_incoming,
		.outgoing_call_rejected = on_call_over,
		.outgoing_call_cancelled = on_call_over,
		.incoming_call_cancelled = on_call_over,
		.call_ended = on_call_over,
	};
	struct phone *ph = arg;
	cw_calling_options o;

	cw_calling_options_init(&o);
	o.settings.audio_only = !phone_video(ph->o);
	o.session_created = on_created;
	o.session_joined = on_ext_joined;
	o.session_closed = on_closed;
	o.arg = ph;
	if (ph->o->no_join)
		o.no_auto_join = true;
	int err = cw_client_enable_calling(client, &o);
	return err ? err : cw_add_call_listener(client, "cli-phone", &calls, ph);
}

/* ---- the command's life ---- */

/* Opens the files of the options and the client (with setup, which may be NULL).
 * 0, or an exit code after saying why; phone_finish releases what was opened either way. */
static int phone_open(struct phone *ph, const struct phone_opts *o, const struct cli_common *common,
		      cli_setup_fn setup)
{
	memset(ph, 0, sizeof(*ph));
	ph->o = o;
	ph->outcome = -1;
	ph->tone.frequency = o->tone;
	ph->tone.amplitude = 0.25;
	pthread_mutex_init(&ph->lock, NULL);
	if (cli_waiter_init(&ph->waiter) != 0) {
		perror("callwire: pipe");
		return CLI_EXIT_ERROR;
	}
	ph->waiting = true;
	ph->held = json_array();
	if (o->audio_in && cw_wav_source_open(&ph->source, o->audio_in, o->loop) != 0) {
		fprintf(stderr, "callwire: %s: %s\n", o->audio_in, cw_last_error_message());
		return CLI_EXIT_ERROR;
	}
	if (o->audio_out && cw_wav_sink_open(&ph->sink, o->audio_out) != 0) {
		fprintf(stderr, "callwire: %s: %s\n", o->audio_out, cw_last_error_message());
		return CLI_EXIT_ERROR;
	}
	if (o->video_w && cw_test_pattern_new(&ph->pattern, o->video_w, o->video_h) != 0) {
		fprintf(stderr, "callwire: --video-pattern: %s\n", cw_last_error_message());
		return CLI_EXIT_ERROR;
	}
	if (o->video_out && !(ph->y4m = fopen(o->video_out, "wbe"))) {
		fprintf(stderr, "callwire: %s: %s\n", o->video_out, strerror(errno));
		return CLI_EXIT_ERROR;
	}
	return cli_open(common, &ph->client, setup, setup ? ph : NULL);
}

static int phone_finish(struct phone *ph, int rc)
{
	cw_client_free(ph->client);
	ph->client = NULL;
	show_held(ph);
	if (ph->have_stats) {
		const cw_session_stats *st = &ph->stats;
		json_t *o = json_pack(
			"{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i}", "event", "stats",
			"audioPacketsSent", (json_int_t)st->audio_packets_sent,
			"audioPacketsReceived", (json_int_t)st->audio_packets_received,
			"framesDecoded", (json_int_t)st->frames_decoded, "framesFec",
			(json_int_t)st->frames_fec, "framesConcealed",
			(json_int_t)st->frames_concealed, "packetsLate",
			(json_int_t)st->packets_late, "nackSent", (json_int_t)st->nack_sent,
			"packetsRecovered", (json_int_t)st->packets_recovered, "packetsLost",
			(json_int_t)st->packets_lost, "packetsRetransmitted",
			(json_int_t)st->packets_retransmitted, "droppedByTest",
			(json_int_t)st->dropped_by_test, "rttMs", st->rtt_ms);
		if (o && phone_video(ph->o))
			json_object_update_new(
				o,
				json_pack(
					"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "videoFramesSent",
					(json_int_t)st->video_frames_sent, "videoKeyframesSent",
					(json_int_t)st->video_keyframes_sent,
					"videoPacketsReceived",
					(json_int_t)st->video_packets_received,
					"videoFramesDecoded", (json_int_t)st->video_frames_decoded,
					"videoFramesDropped", (json_int_t)st->video_frames_dropped,
					"keyframesRequested", (json_int_t)st->keyframes_requested,
					"keyframeRequestsReceived",
					(json_int_t)st->keyframe_requests_received,
					"videoFramesRecorded", (json_int_t)ph->y4m_pictures));
		emit(o);
	}
	if (ph->sink && cw_wav_sink_close(ph->sink) != 0 && rc == 0) {
		fprintf(stderr, "callwire: %s: %s\n", ph->o->audio_out, cw_last_error_message());
		rc = CLI_EXIT_ERROR;
	}
	if (ph->y4m) {
		/* A write that failed on the way (a full disk) leaves the error flag; the close
		 * reports only the last flush. */
		bool failed = ferror(ph->y4m) != 0;
		errno = failed ? EIO : 0;
		if ((fclose(ph->y4m) != 0 || failed) && rc == 0) {
			fprintf(stderr, "callwire: %s: %s\n", ph->o->video_out, strerror(errno));
			rc = CLI_EXIT_ERROR;
		}
	}
	cw_test_pattern_free(ph->pattern);
	cw_wav_source_free(ph->source);
	if (ph->waiting)
		cli_waiter_close(&ph->waiter);
	json_decref(ph->held);
	pthread_mutex_destroy(&ph->lock);
	return rc;
}

/* Waits until the duration has passed, the call or session is over, or a signal came.
 * Returns 0 when the wait ended by itself, 1 on a signal. */
static int phone_wait(struct phone *ph)
{
	for (;;) {
		bool over;
		pthread_mutex_lock(&ph->lock);
		over = ph->done || ph->closed || ph->outcome >= 0;
		pthread_mutex_unlock(&ph->lock);
		if (over)
			return 0;
		if (!cli_waiter_wait(&ph->waiter))
			return 1;
	}
}

/* Hangs up the call (the calling extension then leaves and frees the session). */
static void hang_up(struct phone *ph)
{
	cw_call *call = NULL;
	bool active;

	pthread_mutex_lock(&ph->lock);
	keep_stats_locked(ph);
	active = ph->sid[0] && ph->outcome < 0;
	pthread_mutex_unlock(&ph->lock);
	if (!active)
		return;
	if (cw_end_call_sync(ph->client, ph->sid, 0, &call) != 0)
		cw_cancel_call_sync(ph->client, ph->sid, 0, NULL);
	cw_call_unref(call);
}

/* The call this command rang or accepted (err: the library's answer): prints it, stays
 * until the duration passed, the call ended or a signal came, hangs up. */
static int phone_in_call(struct phone *ph, int err, cw_call *call)
{
	int rc;

	if (err) {
		cw_call_unref(call);
		return phone_finish(ph, cli_fail(err));
	}
	pthread_mutex_lock(&ph->lock);
	snprintf(ph->sid, sizeof(ph->sid), "%s", cw_call_get_session_id(call));
	pthread_mutex_unlock(&ph->lock);
	if (!cw_call_is_active(call)) /* busy already (autoBusy) */
		on_call_over(ph->client, call, ph);
	cli_print_call(call);
	show_held(ph);
	cw_call_unref(call);
	phone_wait(ph);
	hang_up(ph);
	pthread_mutex_lock(&ph->lock);
	rc = ph->join_err ? CLI_EXIT_ERROR : ph->outcome > 0 ? ph->outcome : 0;
	pthread_mutex_unlock(&ph->lock);
	return phone_finish(ph, rc);
}

int phone_call(const struct cli_common *common, const char *receiver, cw_receiver_type rtype,
	       cw_call_type type, int ring_timeout, const char *metadata,
	       const struct phone_opts *o)
{
	struct phone ph;
	cw_call *call = NULL;
	int rc, err;

	if ((rc = phone_open(&ph, o, common, phone_setup)) != 0)
		return phone_finish(&ph, rc);
	if (o->video_w > 0)
		type = CW_CALL_VIDEO; /* a camera makes it a video call */
	err = cw_initiate_call_sync(ph.client, receiver, rtype, type, ring_timeout, metadata, 0,
				    &call);
	return phone_in_call(&ph, err, call);
}

/* A call that already rings this user, found in the call log: a ringing callee is not
 * "engaged" (call.active is the caller's), and a call rung before this client's first
 * connection was up sent its call.incoming to nobody here. The log request goes over the
 * realtime connection, so it runs once the listener sees every later call. */
static void ringing_now(struct phone *ph)
{
	cw_call_log_request *req = NULL;
	cw_call_page *page = NULL;
	cw_call *call;

	if (cw_call_log_request_new(&req, ph->client) != 0)
		return;
	if (cw_call_log_request_set_status(req, CW_STATUS_INITIATED) == 0 &&
	    cw_call_log_request_set_direction(req, CW_DIRECTION_INCOMING) == 0 &&
	    cw_call_log_request_set_limit(req, 1) == 0 &&
	    cw_call_log_request_fetch_next_sync(req, 0, &page) == 0 &&
	    (call = cw_call_page_get(page, 0)) != NULL) {
		pthread_mutex_lock(&ph->lock);
		if (!ph->incoming[0])
			snprintf(ph->incoming, sizeof(ph->incoming), "%s",
				 cw_call_get_session_id(call));
		pthread_mutex_unlock(&ph->lock);
	}
	cw_call_page_free(page);
	cw_call_log_request_free(req);
}

/* The session id of the next call ringing this user (one ringing now counts), or an
 * empty string after a signal. */
static void next_incoming(struct phone *ph, char *sid, size_t size)
{
	ringing_now(ph);
	for (;;) {
		pthread_mutex_lock(&ph->lock);
		snprintf(sid, size, "%s", ph->incoming);
		pthread_mutex_unlock(&ph->lock);
		if (sid[0] || !cli_waiter_wait(&ph->waiter))
			return;
	}
}

static int phone_answer(const struct cli_common *common, const struct phone_opts *o)
{
	struct phone ph;
	cw_call *call = NULL;
	char sid[128];
	int rc, err;

	if ((rc = phone_open(&ph, o, common, phone_setup)) != 0)
		return phone_finish(&ph, rc);
	next_incoming(&ph, sid, sizeof(sid));
	if (!sid[0])
		return phone_finish(&ph, CLI_EXIT_CANCELLED);
	/* Known before the accept, so that an end right after it is not missed. */
	pthread_mutex_lock(&ph.lock);
	snprintf(ph.sid, sizeof(ph.sid), "%s", sid);
	pthread_mutex_unlock(&ph.lock);
	err = cw_accept_call_sync(ph.client, sid, 0, &call);
	return phone_in_call(&ph, err, call);
}

static int phone_join(const struct cli_common *common, const char *session_id,
		      const struct phone_opts *o)
{
	struct phone ph;
	cw_session *s = NULL;
	cw_session_settings settings;
	int rc, err;

	if ((rc = phone_open(&ph, o, common, NULL)) != 0)
		return phone_finish(&ph, rc);
	show_held(&ph); /* no call to print first */
	cw_session_settings_init(&settings);
	settings.audio_only = !phone_video(o);
	err = cw_session_new(&s, ph.client, session_id, NULL, &settings);
	if (!err) {
		setup_session(&ph, s);
		err = cw_session_join_sync(s, 0);
		joined(&ph, s, err, cw_last_error_message());
	}
	if (err) {
		cw_session_free(s);
		return phone_finish(&ph, cli_fail(err));
	}
	phone_wait(&ph);
	pthread_mutex_lock(&ph.lock);
	keep_stats_locked(&ph);
	ph.session = NULL;
	pthread_mutex_unlock(&ph.lock);
	if (cw_session_is_joined(s))
		cw_session_leave_sync(s, 0);
	cw_session_free(s);
	return phone_finish(&ph, 0);
}

/* ---- options ---- */

const struct cli_opt phone_options[] = {
	{"audio-in", PHONE_AUDIO_IN, true},
	{"audio-out", PHONE_AUDIO_OUT, true},
	{"tone", PHONE_TONE, true},
	{"duration", PHONE_DURATION, true},
	{"loop", PHONE_LOOP, false},
	{"receive-loss", PHONE_LOSS, true},
	{"video-pattern", PHONE_VIDEO_PATTERN, true},
	{"video-out", PHONE_VIDEO_OUT, true},
	{NULL, 0, false},
};

int phone_option(struct cli_parser *p, struct phone_opts *o, int id, const char *value)
{
	char *end;
	double v;

	switch (id) {
	case PHONE_AUDIO_IN:
		o->audio_in = value;
		break;
	case PHONE_AUDIO_OUT:
		o->audio_out = value;
		break;
	case PHONE_LOOP:
		o->loop = true;
		break;
	case PHONE_VIDEO_OUT:
		o->video_out = value;
		break;
	case PHONE_VIDEO_PATTERN: {
		int w, h, used = 0;
		if (sscanf(value, "%dx%d%n", &w, &h, &used) != 2 || value[used] || w < 64 ||
		    h < 64 || w > 1920 || h > 1088 || w % 2 || h % 2)
			return cli_usage_error(p->cmd,
					       "--video-pattern wants WIDTHxHEIGHT (even, 64x64 "
					       "to 1920x1088), not '%s'",
					       value);
		o->video_w = w;
		o->video_h = h;
		break;
	}
	case PHONE_TONE:
	case PHONE_DURATION:
	case PHONE_LOSS:
		errno = 0;
		v = strtod(value, &end);
		if (!*value || *end || errno || v <= 0 || v > 100000 ||
		    (id == PHONE_LOSS && v > 1000))
			return cli_usage_error(p->cmd, "--%s wants a positive number, not '%s'",
					       id == PHONE_TONE	      ? "tone"
					       : id == PHONE_DURATION ? "duration"
								      : "receive-loss",
					       value);
		if (id == PHONE_TONE)
			o->tone = v;
		else if (id == PHONE_DURATION)
			o->duration_ms = (int)(v * 1000);
		else
			o->receive_loss = (unsigned)v;
		break;
	default:
		return -1;
	}
	o->media = true;
	return -1;
}

static int media_option(struct cli_parser *p, int id, const char *value)
{
	return phone_option(p, p->ctx, id, value);
}

static int parse_media(struct cli_parser *p, int argc, char **argv, struct phone_opts *o, int nargs)
{
	int rc;

	p->opts = phone_options;
	p->fn = media_option;
	p->ctx = o;
	if ((rc = cli_parse(p, argc, argv)) >= 0)
		return rc;
	if (p->nargs != nargs)
		return cli_usage_error(p->cmd, nargs ? "give one session id" : "no arguments");
	if (o->audio_in && o->tone > 0)
		return cli_usage_error(p->cmd, "--audio-in or --tone, not both");
	return -1;
}

int cli_cmd_answer(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("answer")};
	struct phone_opts o = {0};
	int rc;

	if ((rc = parse_media(&p, argc, argv, &o, 0)) >= 0)
		return rc;
	return phone_answer(&p.common, &o);
}

int cli_cmd_join(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("join")};
	struct phone_opts o = {0};
	int rc;

	if ((rc = parse_media(&p, argc, argv, &o, 1)) >= 0)
		return rc;
	return phone_join(&p.common, p.args[0], &o);
}
