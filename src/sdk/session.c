/* session: a media session from the app's side: the call token, join, leave, mute, the
 * server's session events as listener callbacks, and the session's lifetime across the
 * app's threads and the network thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

struct cw_session *cw__session_ref(struct cw_session *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void cw__session_unref(struct cw_session *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	json_decref(s->participants);
	pthread_mutex_destroy(&s->m);
	free(s->call_token);
	free(s->title);
	free(s->id);
	free(s);
}

/* ---- participants ---- */

static bool participant_of(struct cw_participant *p, json_t *obj)
{
	json_t *joined = json_object_get(obj, "joinedAt");

	memset(p, 0, sizeof(*p));
	p->obj = obj;
	p->id = json_string_value(json_object_get(obj, "participantId"));
	p->uid = json_string_value(json_object_get(obj, "uid"));
	p->muted = json_is_true(json_object_get(obj, "muted"));
	p->video_paused = json_is_true(json_object_get(obj, "videoPaused"));
	p->joined_at = json_is_integer(joined) ? json_integer_value(joined) : 0;
	return p->id && p->uid;
}

const char *cw_participant_get_id(const cw_participant *p)
{
	return p ? p->id : NULL;
}

const char *cw_participant_get_uid(const cw_participant *p)
{
	return p ? p->uid : NULL;
}

bool cw_participant_is_audio_muted(const cw_participant *p)
{
	return p && p->muted;
}

bool cw_participant_is_video_paused(const cw_participant *p)
{
	return p && p->video_paused;
}

int64_t cw_participant_get_joined_at(const cw_participant *p)
{
	return p ? p->joined_at : 0;
}

static void count_participants(struct cw_session *s)
{
	pthread_mutex_lock(&s->m);
	s->n_participants = json_object_size(s->participants);
	pthread_mutex_unlock(&s->m);
}

/* ---- creating, settings ---- */

void cw_session_settings_init(cw_session_settings *settings)
{
	if (!settings)
		return;
	memset(settings, 0, sizeof(*settings));
	settings->idle_timeout = -1;
}

int cw_session_new(cw_session **sp, cw_client *c, const char *session_id, const char *call_token,
		   const cw_session_settings *settings)
{
	struct cw_session *s;

	if (!sp || !c || !session_id || !*session_id || strlen(session_id) >= CW__ID_MAX)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "a client and a session id are needed");
	if (settings && (settings->idle_timeout > 86400 || settings->idle_timeout < -1 ||
			 (settings->title && strlen(settings->title) > 200)))
		return cw__fail(CW_ERR_INVALID_ARGUMENT,
				"the idle timeout is -1 or 0..86400 and the title at most 200 "
				"characters");
	*sp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return cw__fail(CW_ERR_NO_MEMORY, NULL);
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->m, NULL);
	cw__list_init(&s->link);
	s->c = c;
	s->sub_version = 0;
	cw_session_settings_init(&s->settings);
	if (settings)
		s->settings = *settings;
	s->audio_muted = s->settings.start_audio_muted;
	s->video_paused = s->settings.start_video_paused;
	s->stats.rtt_ms = -1;
	s->id = strdup(session_id);
	s->participants = json_object();
	if (call_token && *call_token)
		s->call_token = strdup(call_token);
	if (s->settings.title)
		s->title = strdup(s->settings.title);
	s->settings.title = s->title;
	if (!s->id || !s->participants || (call_token && *call_token && !s->call_token) ||
	    (settings && settings->title && !s->title)) {
		cw__session_unref(s);
		return cw__fail(CW_ERR_NO_MEMORY, NULL);
	}
	*sp = s;
	return 0;
}

const char *cw_session_get_id(const cw_session *s)
{
	return s ? s->id : NULL;
}

const char *cw_session_get_participant_id(const cw_session *s)
{
	const char *id;

	if (!s)
		return NULL;
	pthread_mutex_lock((pthread_mutex_t *)&s->m);
	id = s->participant_id[0] ? s->participant_id : NULL;
	pthread_mutex_unlock((pthread_mutex_t *)&s->m);
	return id;
}

#define SETTER(s, assign)                                                                          \
	do {                                                                                       \
		if (!(s))                                                                          \
			return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");                    \
		pthread_mutex_lock(&(s)->m);                                                       \
		assign;                                                                            \
		pthread_mutex_unlock(&(s)->m);                                                     \
		return 0;                                                                          \
	} while (0)

int cw_session_set_listener(cw_session *s, const cw_session_listener *l, void *arg)
{
	static const cw_session_listener none;

	SETTER(s, (s->listener = l ? *l : none, s->listener_arg = arg));
}

int cw_session_set_audio_source(cw_session *s, cw_audio_source_cb cb, void *arg)
{
	SETTER(s, (s->source = cb, s->source_arg = arg));
}

int cw_session_set_audio_sink(cw_session *s, cw_audio_sink_cb cb, void *arg)
{
	SETTER(s, (s->sink = cb, s->sink_arg = arg));
}

int cw_session_set_audio_mix_sink(cw_session *s, cw_audio_sink_cb cb, void *arg)
{
	SETTER(s, (s->mix_sink = cb, s->mix_arg = arg));
}

int cw_session_set_receive_loss(cw_session *s, unsigned per_mille)
{
	if (per_mille > 1000)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "a share per mille: 0..1000");
	SETTER(s, s->loss_per_mille = per_mille);
}

bool cw_session_is_joined(const cw_session *s)
{
	bool joined;

	if (!s)
		return false;
	pthread_mutex_lock((pthread_mutex_t *)&s->m);
	joined = s->state == CW__SS_JOINED;
	pthread_mutex_unlock((pthread_mutex_t *)&s->m);
	return joined;
}

size_t cw_session_get_participant_count(const cw_session *s)
{
	size_t n;

	if (!s)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&s->m);
	n = s->n_participants;
	pthread_mutex_unlock((pthread_mutex_t *)&s->m);
	return n;
}

int cw_session_get_stats(const cw_session *s, cw_session_stats *stats)
{
	if (!s || !stats)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session or no stats");
	pthread_mutex_lock((pthread_mutex_t *)&s->m);
	*stats = s->stats;
	pthread_mutex_unlock((pthread_mutex_t *)&s->m);
	return 0;
}

static void set_state(struct cw_session *s, enum cw__session_state state)
{
	pthread_mutex_lock(&s->m);
	s->state = state;
	pthread_mutex_unlock(&s->m);
}

/* ---- requests of the session ---- */

/* Sends a WebSocket request about s; finish gets the request with s in r->extra (held). */
static int session_request(struct cw_session *s, const char *method, json_t *params,
			   cw__finish_fn finish, void *cb, void *arg)
{
	struct cw__req *r;
	int err = cw__req_new(&r, s->c, CW__REQ_WS, method, params, finish, cb, arg);

	if (err)
		return err;
	r->extra = cw__session_ref(s);
	pthread_mutex_lock(&s->m);
	r->deadline = cw__now_ms() + cw__timeout_of(s->c, s->timeout_ms);
	pthread_mutex_unlock(&s->m);
	err = cw__submit(s->c, r, true);
	if (err)
		cw__session_unref(s);
	return err;
}

/* A request whose answer nobody waits for (leave on free, mute, answers). */
static void finish_quiet(struct cw__req *r, int err, const char *message, json_t *result)
{
	(void)err;
	(void)message;
	(void)result;
	cw__session_unref(r->extra);
}

/* session.leave for participant_id, without waiting for the answer. */
static void leave_quietly(struct cw_session *s, const char *participant_id)
{
	session_request(s, "session.leave",
			json_pack("{s:s,s:s}", "sessionId", s->id, "participantId", participant_id),
			finish_quiet, NULL, NULL);
}

static void finish_done(struct cw__req *r, int err, const char *message)
{
	cw_done_cb cb = (cw_done_cb)r->cb;

	if (cb)
		cb(r->c, err, err ? (message ? message : cw_strerror(err)) : NULL, r->arg);
}

/* ---- join ---- */

static void join_done(struct cw_session *s, int err, const char *message)
{
	cw_done_cb cb;
	void *arg;

	pthread_mutex_lock(&s->m);
	cb = s->join_cb;
	arg = s->join_arg;
	s->join_cb = NULL;
	if (err)
		s->state = CW__SS_IDLE;
	pthread_mutex_unlock(&s->m);
	if (err)
		cw__media_stop(s);
	if (cb)
		cb(s->c, err, err ? (message ? message : cw_strerror(err)) : NULL, arg);
}

static void finish_answer(struct cw__req *r, int err, const char *message, json_t *result)
{
	(void)message;
	(void)result;
	/* ERR_INVALID_STATE: a newer offer is on its way; it will be answered. */
	(void)err;
	cw__session_unref(r->extra);
}

/* Answers a subscribe offer (the join's or a session.offer event's). */
static void take_offer(struct cw_session *s, int64_t version, const char *sdp)
{
	char *answer = NULL;

	if (version <= s->sub_version || !sdp)
		return;
	s->sub_version = version;
	if (cw__media_offer(s, sdp, &answer) != 0)
		return;
	session_request(s, "session.answer",
			json_pack("{s:s,s:s,s:I,s:s}", "sessionId", s->id, "participantId",
				  s->participant_id, "version", (json_int_t)version, "sdp", answer),
			finish_answer, NULL, NULL);
	free(answer);
}

static void finish_join(struct cw__req *r, int err, const char *message, json_t *result)
{
	struct cw_session *s = r->extra;
	const char *pid = json_string_value(json_object_get(result, "participantId"));
	const char *answer = json_string_value(json_object_get(result, "answer"));
	json_t *sub = json_object_get(result, "subscribe"), *list, *item;
	size_t i;

	if (s->destroyed) {
		/* Freed while its join was in flight: the server admitted a participant that
		 * nobody will carry; let it go now rather than at its consent timeout. */
		if (!err && pid)
			leave_quietly(s, pid);
		goto out;
	}
	if (!err && (!pid || !answer || strlen(pid) >= CW__ID_MAX)) {
		err = CW_ERR_PROTOCOL;
		message = NULL;
	}
	if (!err) {
		pthread_mutex_lock(&s->m);
		snprintf(s->participant_id, sizeof(s->participant_id), "%s", pid);
		pthread_mutex_unlock(&s->m);
		err = cw__media_start(s, answer);
		if (err) {
			message = "the server's answer cannot be used";
			/* Joined on the server but not here: leave there too. */
			leave_quietly(s, pid);
		}
	}
	if (err) {
		join_done(s, err, message);
		goto out;
	}
	json_object_clear(s->participants);
	list = json_object_get(result, "participants");
	json_array_foreach (list, i, item) {
		struct cw_participant p;
		if (participant_of(&p, item))
			json_object_set(s->participants, p.id, item);
	}
	count_participants(s);
	set_state(s, CW__SS_JOINED);
	if (json_is_object(sub))
		take_offer(s, json_integer_value(json_object_get(sub, "version")),
			   json_string_value(json_object_get(sub, "sdp")));
	s->depth++;
	join_done(s, 0, NULL);
	if (json_object_size(s->participants) > 0)
		CW__SESSION_FIRE(s, participant_list_changed, s->listener_arg);
	s->depth--;
	cw__session_settle(s);
out:
	cw__session_unref(s);
}

static void send_join(struct cw_session *s)
{
	json_t *settings = json_object(), *params;
	char *offer = NULL;
	int err;

	err = cw__media_prepare(s, &offer);
	if (err) {
		json_decref(settings);
		join_done(s, err, "cannot prepare the media connection");
		return;
	}
	pthread_mutex_lock(&s->m);
	json_object_set_new(settings, "audioOnly", json_boolean(s->settings.audio_only));
	json_object_set_new(settings, "startAudioMuted", json_boolean(s->audio_muted));
	json_object_set_new(settings, "startVideoPaused", json_boolean(s->video_paused));
	if (s->title)
		json_object_set_new(settings, "title", json_string(s->title));
	if (s->settings.idle_timeout >= 0)
		json_object_set_new(settings, "idleTimeout",
				    json_integer(s->settings.idle_timeout));
	params = json_pack("{s:s,s:s,s:s,s:o}", "sessionId", s->id, "callToken", s->call_token,
			   "offer", offer, "settings", settings);
	pthread_mutex_unlock(&s->m);
	free(offer);
	err = session_request(s, "session.join", params, finish_join, NULL, NULL);
	if (err)
		join_done(s, err, NULL);
}

static void finish_token(struct cw__req *r, int err, const char *message, json_t *result)
{
	struct cw_session *s = r->extra;
	const char *token = json_string_value(json_object_get(result, "callToken"));

	if (s->destroyed)
		goto out;
	if (!err && !token)
		err = CW_ERR_PROTOCOL;
	if (!err) {
		pthread_mutex_lock(&s->m);
		free(s->call_token);
		s->call_token = strdup(token);
		pthread_mutex_unlock(&s->m);
		if (!s->call_token)
			err = CW_ERR_NO_MEMORY;
	}
	if (err)
		join_done(s, err, message);
	else
		send_join(s);
out:
	cw__session_unref(s);
}

/* On the network thread: the join starts. */
static void finish_join_start(struct cw__req *r, int err, const char *message, json_t *result)
{
	struct cw_session *s = r->extra;
	cw_client *c = r->c;
	bool have_token;

	(void)message;
	(void)result;
	if (s->destroyed || err) {
		if (!s->destroyed)
			join_done(s, err, NULL);
		goto out;
	}
	if (!s->listed) {
		cw__list_add_tail(&c->sessions, &s->link);
		s->listed = true;
	}
	int timeout_ms;

	pthread_mutex_lock(&s->m);
	have_token = s->call_token != NULL;
	timeout_ms = s->timeout_ms;
	pthread_mutex_unlock(&s->m);
	if (have_token) {
		send_join(s);
	} else {
		err = cw__call_token_request(c, s->id, finish_token, NULL, NULL, cw__session_ref(s),
					     timeout_ms);
		if (err) {
			cw__session_unref(s);
			join_done(s, err, NULL);
		}
	}
out:
	cw__session_unref(s);
}

/* Queues fn for the network thread with s held. */
static int on_network(struct cw_session *s, cw__finish_fn fn, bool needs_login)
{
	struct cw__req *r;
	int err = cw__req_new(&r, s->c, CW__REQ_LOCAL, "session", NULL, fn, NULL, NULL);

	if (err)
		return err;
	r->extra = cw__session_ref(s);
	err = cw__submit(s->c, r, needs_login);
	if (err)
		cw__session_unref(s);
	return err;
}

int cw_session_join(cw_session *s, cw_done_cb cb, void *arg)
{
	int err;

	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	pthread_mutex_lock(&s->m);
	if (s->state != CW__SS_IDLE) {
		pthread_mutex_unlock(&s->m);
		return cw__fail(CW_ERR_BUSY, "the session is joined or joining");
	}
	s->state = CW__SS_JOINING;
	s->join_cb = cb;
	s->join_arg = arg;
	pthread_mutex_unlock(&s->m);
	err = on_network(s, finish_join_start, true);
	if (err) {
		pthread_mutex_lock(&s->m);
		s->state = CW__SS_IDLE;
		s->join_cb = NULL;
		pthread_mutex_unlock(&s->m);
	}
	return err;
}

/* A `_sync` twin: start with cw__sync_done_cb; each of the requests it makes gets
 * timeout_ms. */
static int session_sync(cw_session *s, int (*start)(cw_session *, cw_done_cb, void *),
			int timeout_ms)
{
	struct cw__waiter w;
	int err;

	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	err = cw__wait_begin(s->c, &w);
	if (err)
		return err;
	pthread_mutex_lock(&s->m);
	s->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&s->m);
	return cw__wait_end(&w, start(s, cw__sync_done_cb, &w));
}

int cw_session_join_sync(cw_session *s, int timeout_ms)
{
	return session_sync(s, cw_session_join, timeout_ms);
}

/* ---- leave ---- */

static void finish_leave(struct cw__req *r, int err, const char *message, json_t *result)
{
	struct cw_session *s = r->extra;

	(void)result;
	if (!s->destroyed) {
		cw__media_stop(s);
		json_object_clear(s->participants);
		count_participants(s);
		set_state(s, CW__SS_IDLE);
		/* Not found: the server had already let this participant go. */
		if (err == CW_ERR_NOT_FOUND)
			err = 0;
		finish_done(r, err, message);
	}
	cw__session_unref(s);
}

int cw_session_leave(cw_session *s, cw_done_cb cb, void *arg)
{
	int err;

	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	pthread_mutex_lock(&s->m);
	if (s->state != CW__SS_JOINED) {
		pthread_mutex_unlock(&s->m);
		return cw__fail(CW_ERR_INVALID_STATE, "the session is not joined");
	}
	s->state = CW__SS_LEAVING;
	pthread_mutex_unlock(&s->m);
	err = session_request(
		s, "session.leave",
		json_pack("{s:s,s:s}", "sessionId", s->id, "participantId", s->participant_id),
		finish_leave, (void *)cb, arg);
	if (err)
		set_state(s, CW__SS_JOINED);
	return err;
}

int cw_session_leave_sync(cw_session *s, int timeout_ms)
{
	return session_sync(s, cw_session_leave, timeout_ms);
}

/* ---- mute ---- */

static int send_mute(cw_session *s, const char *kind, bool muted)
{
	bool joined;
	char pid[CW__ID_MAX];

	pthread_mutex_lock(&s->m);
	joined = s->state == CW__SS_JOINED;
	snprintf(pid, sizeof(pid), "%s", s->participant_id);
	pthread_mutex_unlock(&s->m);
	if (!joined)
		return 0;
	return session_request(s, "session.mute",
			       json_pack("{s:s,s:s,s:s,s:b}", "sessionId", s->id, "participantId",
					 pid, "kind", kind, "muted", muted),
			       finish_quiet, NULL, NULL);
}

int cw_session_mute_audio(cw_session *s, bool muted)
{
	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	pthread_mutex_lock(&s->m);
	if (s->audio_muted != muted)
		s->marker = true; /* a talkspurt starts when unmuted */
	s->audio_muted = muted;
	pthread_mutex_unlock(&s->m);
	return send_mute(s, "audio", muted);
}

int cw_session_pause_video(cw_session *s, bool paused)
{
	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	pthread_mutex_lock(&s->m);
	if (s->settings.audio_only) {
		pthread_mutex_unlock(&s->m);
		return cw__fail(CW_ERR_INVALID_STATE, "the session is audio-only");
	}
	s->video_paused = paused;
	pthread_mutex_unlock(&s->m);
	return send_mute(s, "video", paused);
}

/* ---- free ---- */

/* Network thread: leaves if joined, closes the media, unlists, drops the owner's ref. */
static void destroy(struct cw_session *s)
{
	bool joined;

	pthread_mutex_lock(&s->m);
	joined = s->state == CW__SS_JOINED || s->state == CW__SS_JOINING;
	s->state = CW__SS_IDLE;
	pthread_mutex_unlock(&s->m);
	if (joined && s->participant_id[0])
		leave_quietly(s, s->participant_id);
	s->destroyed = true;
	cw__media_stop(s);
	if (s->listed) {
		cw__list_del(&s->link);
		s->listed = false;
	}
	cw__session_unref(s);
}

bool cw__session_settle(struct cw_session *s)
{
	if (s->depth > 0 || !s->free_pending)
		return false;
	s->free_pending = false;
	destroy(s);
	return true;
}

static void finish_free(struct cw__req *r, int err, const char *message, json_t *result)
{
	struct cw_session *s = r->extra;

	(void)err;
	(void)message;
	(void)result;
	destroy(s);
	cw__wait_done(r->arg, 0, NULL);
	cw__session_unref(s);
}

void cw_session_free(cw_session *s)
{
	struct cw__waiter w;
	struct cw__req *r;

	if (!s)
		return;
	if (cw__on_network_thread(s->c)) {
		s->free_pending = true;
		cw__session_settle(s);
		return;
	}
	if (cw__wait_begin(s->c, &w) != 0 ||
	    cw__req_new(&r, s->c, CW__REQ_LOCAL, "session", NULL, finish_free, NULL, &w) != 0)
		goto direct;
	r->extra = cw__session_ref(s);
	if (cw__submit(s->c, r, false) != 0) {
		cw__session_unref(s);
		cw__wait_end(&w, CW_ERR_CANCELLED);
		goto direct;
	}
	cw__wait_end(&w, 0);
	return;
direct:
	/* The network thread is gone (the client is being freed): its media is closed. */
	cw__session_unref(s);
}

/* ---- events ---- */

void cw__session_end(struct cw_session *s, const char *reason, bool leave)
{
	if (leave && s->participant_id[0])
		leave_quietly(s, s->participant_id);
	cw__media_stop(s);
	json_object_clear(s->participants);
	count_participants(s);
	set_state(s, CW__SS_IDLE);
	s->depth++;
	CW__SESSION_FIRE(s, session_ended, reason, s->listener_arg);
	if (s->ext)
		cw__calling_session_ended(s->c, s);
	s->depth--;
	cw__session_settle(s);
}

static struct cw_session *find(cw_client *c, const char *id, const char *to)
{
	for (struct cw__link *l = c->sessions.next; l != &c->sessions; l = l->next) {
		struct cw_session *s = cw__container_of(l, struct cw_session, link);
		if (!s->destroyed && strcmp(s->id, id) == 0 && strcmp(s->participant_id, to) == 0)
			return s;
	}
	return NULL;
}

static void on_participant(struct cw_session *s, const char *name, json_t *root)
{
	json_t *obj = json_object_get(root, "participant");
	struct cw_participant p;

	if (!participant_of(&p, obj))
		return;
	if (strcmp(name, "session.participant_joined") == 0) {
		json_object_set(s->participants, p.id, obj);
		count_participants(s);
		CW__SESSION_FIRE(s, participant_joined, &p, s->listener_arg);
		CW__SESSION_FIRE(s, participant_list_changed, s->listener_arg);
	} else if (strcmp(name, "session.participant_left") == 0) {
		const char *reason = json_string_value(json_object_get(root, "reason"));
		json_incref(obj);
		json_object_del(s->participants, p.id);
		count_participants(s);
		CW__SESSION_FIRE(s, participant_left, &p, reason ? reason : "left",
				 s->listener_arg);
		CW__SESSION_FIRE(s, participant_list_changed, s->listener_arg);
		json_decref(obj);
	} else if (strcmp(name, "session.muted") == 0 || strcmp(name, "session.unmuted") == 0) {
		const char *kind = json_string_value(json_object_get(root, "kind"));
		if (json_object_get(s->participants, p.id))
			json_object_set(s->participants, p.id, obj);
		CW__SESSION_FIRE(s, participant_muted, &p, kind ? kind : "audio", name[8] == 'm',
				 s->listener_arg);
	} else if (strcmp(name, "session.dominant_speaker") == 0) {
		CW__SESSION_FIRE(s, dominant_speaker_changed, &p, s->listener_arg);
	}
}

void cw__session_event(cw_client *c, const struct cw__msg *msg)
{
	json_t *root = msg->root;
	const char *id = json_string_value(json_object_get(root, "sessionId"));
	const char *to = json_string_value(json_object_get(root, "to"));
	const char *name = msg->name;
	struct cw_session *s;

	if (!id || !to || !(s = find(c, id, to)))
		return;
	cw__session_ref(s);
	s->depth++;
	if (strcmp(name, "session.offer") == 0) {
		json_t *v = json_object_get(root, "version");
		if (json_is_integer(v))
			take_offer(s, json_integer_value(v),
				   json_string_value(json_object_get(root, "sdp")));
	} else if (strcmp(name, "session.timeout_warning") == 0) {
		json_t *at = json_object_get(root, "endsAt");
		CW__SESSION_FIRE(s, timeout_warning,
				 json_is_integer(at) ? json_integer_value(at) : 0, s->listener_arg);
	} else if (strcmp(name, "session.ended") == 0) {
		const char *reason = json_string_value(json_object_get(root, "reason"));
		cw__session_end(s, reason ? reason : "call_ended", false);
	} else {
		on_participant(s, name, root);
	}
	s->depth--;
	cw__session_settle(s);
	cw__session_unref(s);
}

void cw__sessions_close_all(cw_client *c)
{
	while (!cw__list_empty(&c->sessions)) {
		struct cw_session *s = cw__container_of(c->sessions.next, struct cw_session, link);
		cw__media_stop(s);
		cw__list_del(&s->link);
		s->listed = false;
		set_state(s, CW__SS_IDLE);
	}
}
