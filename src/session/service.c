/* service: media sessions on the control plane (docs/protocol.md, Media sessions). */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/calltoken.h"
#include "calls/calls.h"
#include "rt/rt.h"
#include "session/internal.h"

/* ---- small things ---- */

static void reply_err(struct cw_session_reply *out, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_err(struct cw_session_reply *out, const char *code, const char *fmt, ...)
{
	va_list ap;

	out->code = code;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

/* ICE credentials are ice-chars; ours are letters and digits. */
static int rand_alnum(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t raw[64];

	if (n > sizeof(raw) || cw_rand_bytes(raw, n) != 0)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		out[i] = set[raw[i] % (sizeof(set) - 1)];
	out[n] = '\0';
	return 0;
}

static const char *str_param(json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

/* ---- participants and sessions ---- */

static void part_free(struct cw_sessions *s, struct part *p)
{
	struct session *sess = p->sess;

	cw_map_del(&s->peers, p->pub_ufrag);
	cw_map_del(&s->peers, p->sub_ufrag);
	cw_map_del(&s->parts, p->id);
	cw_sfu_remove_peer(s->sfu, sess->worker, p->pub_ufrag);
	cw_sfu_remove_peer(s->sfu, sess->worker, p->sub_ufrag);
	free(p);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct session *sess = h->data;

	cw_room_free(&sess->room);
	free(sess->parts);
	free(sess);
}

/* Frees a session whose participants are all gone. */
static void session_free(struct session *sess)
{
	struct cw_sessions *s = sess->svc;

	for (size_t i = 0; i < sess->n; i++)
		part_free(s, sess->parts[i]);
	sess->n = 0;
	if (cw_meetlog_end(&sess->log, s->store, cw_now_ms()) != 0)
		cw_error("session.log", "app=%s session=%s err=\"cannot end the call log entry\"",
			 sess->app_id, sess->id);
	cw_map_del(&s->sessions, sess->key);
	s->load[sess->worker]--;
	uv_timer_stop(&sess->timer);
	uv_close((uv_handle_t *)&sess->timer, on_timer_closed);
}

static void arm_idle(struct session *sess, int64_t now);

/* Ends a session for everyone in it. */
static void session_end(struct session *sess, const char *reason, int64_t now)
{
	cw_info("session.ended", "app=%s session=%s reason=%s participants=%zu", sess->app_id,
		sess->id, reason, sess->n);
	cw_room_end(&sess->room, &sess->svc->fx);
	cw_sess_room_effects(sess, now, reason);
	session_free(sess);
}

/* The last participant of a ringing call's session left: the call ends (hangs up). */
static void end_call_of(struct cw_sessions *s, const char *app_id, const char *session_id,
			const char *uid)
{
	struct cw_call_record rec, after = {0};
	struct cw_app app = {0};
	struct cw_actor who = {.app = &app, .uid = uid, .device = ""};

	if (!s->calls || cw_calls_get(s->calls, app_id, session_id, NULL, &rec) != 0)
		return;
	cw_strlcpy(app.id, app_id, sizeof(app.id));
	if (cw_call_active(&rec.call) && rec.call.category == CW_CATEGORY_CALL) {
		cw_store_batch_begin(s->store);
		if (cw_calls_act(s->calls, &who, session_id, CW_ACT_END, &after) >= 0)
			cw_call_record_free(&after);
	}
	cw_call_record_free(&rec);
}

/* p leaves (asked, or its media connection was lost). */
static void part_leave(struct part *p, const char *reason, int64_t now)
{
	struct session *sess = p->sess;
	struct cw_sessions *s = sess->svc;
	char uid[CW_UID_MAX + 1], app_id[CW_APPID_MAX + 1], sid[CW_APPID_MAX + 1];
	bool call;
	size_t i;

	cw_info("session.left", "app=%s session=%s participant=%s uid=%s reason=%s", sess->app_id,
		sess->id, p->id, p->uid, reason);
	/* Its tracks are gone for the others first, so their offers leave them out. */
	for (size_t k = 0; k < sess->n; k++) {
		struct part *q = sess->parts[k];
		if (q == p)
			continue;
		for (unsigned j = 0; j < p->ntracks; j++) {
			json_t *f = json_pack("{s:{s:s,s:s},s:o}", "participant", "participantId",
					      p->id, "uid", p->uid, "track",
					      cw_sess_track_json(p, &p->tracks[j]));
			cw_sess_emit(s, sess, q, "session.track_unpublished", f, now);
			json_decref(f);
		}
	}
	cw_room_leave(&sess->room, p->id, now, &s->fx);
	cw_sess_room_effects(sess, now, reason);
	for (i = 0; i < sess->n && sess->parts[i] != p; i++)
		;
	memmove(&sess->parts[i], &sess->parts[i + 1], (sess->n - i - 1) * sizeof(*sess->parts));
	sess->n--;
	cw_strlcpy(uid, p->uid, sizeof(uid));
	part_free(s, p);
	for (i = 0; i < sess->n && strcmp(sess->parts[i]->uid, uid) != 0; i++)
		;
	if (i == sess->n)
		cw_meetlog_leave(&sess->log, s->store, uid, now);
	for (size_t k = 0; k < sess->n; k++) {
		cw_sess_reconcile(sess->parts[k]);
		cw_sess_offer_if_needed(sess->parts[k], now);
	}
	if (sess->n) {
		arm_idle(sess, now);
		return;
	}
	call = sess->is_call;
	cw_strlcpy(app_id, sess->app_id, sizeof(app_id));
	cw_strlcpy(sid, sess->id, sizeof(sid));
	cw_info("session.ended", "app=%s session=%s reason=empty", app_id, sid);
	session_free(sess);
	if (call)
		end_call_of(s, app_id, sid, uid);
}

static void on_idle(uv_timer_t *t)
{
	struct session *sess = t->data;

	arm_idle(sess, cw_now_ms());
}

/* Runs the room's clock: the timeout warning, the end, and when to look again. */
static void arm_idle(struct session *sess, int64_t now)
{
	int64_t next = cw_room_tick(&sess->room, now, &sess->svc->fx);

	if (sess->room.ended) {
		session_end(sess, "idle_timeout", now);
		return;
	}
	cw_sess_room_effects(sess, now, NULL);
	uv_timer_stop(&sess->timer);
	if (next > 0)
		uv_timer_start(&sess->timer, on_idle, (uint64_t)(next > now ? next - now : 0), 0);
}

static int least_loaded(const struct cw_sessions *s)
{
	int best = 0;

	for (int i = 1; i < cw_sfu_workers(s->sfu); i++) {
		if (s->load[i] < s->load[best])
			best = i;
	}
	return best;
}

static struct session *session_get(struct cw_sessions *s, const struct cw_app *app,
				   const struct cw_calltoken *claims, bool audio_only_call,
				   int64_t idle_ms)
{
	char key[KEY_MAX];
	struct session *sess;

	snprintf(key, sizeof(key), "%s/%s", app->id, claims->session_id);
	if ((sess = cw_map_get(&s->sessions, key)))
		return sess;
	sess = calloc(1, sizeof(*sess));
	if (!sess)
		return NULL;
	sess->svc = s;
	cw_strlcpy(sess->key, key, sizeof(sess->key));
	cw_strlcpy(sess->app_id, app->id, sizeof(sess->app_id));
	cw_strlcpy(sess->id, claims->session_id, sizeof(sess->id));
	snprintf(sess->room_id, sizeof(sess->room_id), "r%llu", (unsigned long long)++s->rooms);
	sess->is_call = !claims->meet;
	sess->worker = least_loaded(s);
	cw_room_init(&sess->room, audio_only_call, app->settings.max_participants, idle_ms);
	if (cw_map_put(&s->sessions, key, sess) != 0) {
		cw_room_free(&sess->room);
		free(sess);
		return NULL;
	}
	s->load[sess->worker]++;
	uv_timer_init(s->loop, &sess->timer);
	sess->timer.data = sess;
	return sess;
}

/* ---- requests ---- */

static void do_join(struct cw_sessions *s, const struct cw_app *app, const char *uid,
		    json_t *params, int64_t now, struct cw_session_reply *out)
{
	const char *token = str_param(params, "callToken"), *offer = str_param(params, "offer");
	json_t *settings = json_object_get(params, "settings"), *v, *others, *sub = NULL;
	struct cw_room_settings rs = {0};
	struct cw_calltoken claims;
	struct cw_call_record rec;
	struct cw_neg_publish pub;
	struct cw_sdp_host hosts[IPS_MAX];
	struct cw_neg_local l = {0};
	struct cw_sfu_peer_params pp = {0};
	struct session *sess;
	struct part *p;
	bool audio_call = false, fresh;
	int64_t idle_ms = (int64_t)app->settings.idle_timeout * 1000;
	char why[256];
	int err;

	if (!token)
		return reply_err(out, "ERR_BAD_REQUEST", "callToken: required string");
	if (!offer)
		return reply_err(out, "ERR_BAD_REQUEST", "offer: required string (SDP)");
	if (settings && !json_is_object(settings) && !json_is_null(settings))
		return reply_err(out, "ERR_BAD_REQUEST", "settings: must be an object");
	if (cw_calltoken_verify(s->auth, app->id, token, now, &claims) != 0)
		return reply_err(out, "ERR_UNAUTHORIZED", "callToken: invalid or expired");
	if (strcmp(claims.uid, uid) != 0)
		return reply_err(out, "ERR_FORBIDDEN", "callToken: issued to another user");
	if ((v = json_object_get(params, "sessionId")) &&
	    (!json_is_string(v) || strcmp(json_string_value(v), claims.session_id) != 0))
		return reply_err(out, "ERR_BAD_REQUEST",
				 "sessionId: not the session of the call token");
#define BOOL_SETTING(name, dst)                                                                    \
	if ((v = json_object_get(settings, name)) && !json_is_null(v)) {                           \
		if (!json_is_boolean(v))                                                           \
			return reply_err(out, "ERR_BAD_REQUEST",                                   \
					 "settings." name ": must be a "                           \
					 "boolean");                                               \
		dst = json_is_true(v);                                                             \
	}
	BOOL_SETTING("audioOnly", rs.audio_only)
	BOOL_SETTING("startAudioMuted", rs.start_muted)
	BOOL_SETTING("startVideoPaused", rs.start_video_paused)
#undef BOOL_SETTING
	if ((v = json_object_get(settings, "idleTimeout")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > IDLE_MAX_S)
			return reply_err(out, "ERR_BAD_REQUEST",
					 "settings.idleTimeout: an integer of 0 to %d seconds",
					 IDLE_MAX_S);
		idle_ms = json_integer_value(v) * 1000;
	}
	if ((v = json_object_get(settings, "title")) && !json_is_null(v) &&
	    (!json_is_string(v) || strlen(json_string_value(v)) > TITLE_MAX))
		return reply_err(out, "ERR_BAD_REQUEST",
				 "settings.title: a string of at most %d "
				 "characters",
				 TITLE_MAX);
	if (!claims.meet) {
		/* A ringing call's session: only while the call is active. */
		if (!s->calls ||
		    cw_calls_get(s->calls, app->id, claims.session_id, NULL, &rec) != 0)
			return reply_err(out, "ERR_INVALID_STATE", "the call is over");
		fresh = cw_call_active(&rec.call);
		audio_call = rec.call.type == CW_CALL_AUDIO;
		cw_call_record_free(&rec);
		if (!fresh)
			return reply_err(out, "ERR_INVALID_STATE", "the call is over");
	}
	if (audio_call)
		rs.audio_only = true;
	{
		char key[KEY_MAX];
		snprintf(key, sizeof(key), "%s/%s", app->id, claims.session_id);
		fresh = cw_map_get(&s->sessions, key) == NULL;
	}
	sess = session_get(s, app, &claims, audio_call, idle_ms);
	if (!sess)
		return reply_err(out, "ERR_INTERNAL", "out of memory");
	if (sess->room.n >= (size_t)sess->room.max_participants) {
		reply_err(out, "ERR_CONFLICT", "the session is full (maxParticipants %d)",
			  sess->room.max_participants);
		goto undo_session;
	}
	if (fresh && (v = json_object_get(settings, "title")) && json_is_string(v))
		cw_strlcpy(sess->title, json_string_value(v), sizeof(sess->title));

	p = calloc(1, sizeof(*p));
	if (!p) {
		reply_err(out, "ERR_INTERNAL", "out of memory");
		goto undo_session;
	}
	p->sess = sess;
	p->joined_at = now;
	p->audio_only = rs.audio_only;
	cw_strlcpy(p->uid, uid, sizeof(p->uid));
	p->id[0] = 'p';
	if (rand_alnum(p->id + 1, 15) || rand_alnum(p->pub_ufrag, 8) ||
	    rand_alnum(p->pub_pwd, 32) || rand_alnum(p->sub_ufrag, 8) ||
	    rand_alnum(p->sub_pwd, 32) || cw_rand_bytes(&p->sdp_id, sizeof(p->sdp_id))) {
		free(p);
		reply_err(out, "ERR_INTERNAL", "no randomness");
		goto undo_session;
	}
	p->sdp_id &= 0x3fffffffffffffffULL; /* o= session ids fit a signed 64-bit integer */
	cw_sess_hosts(s, sess->worker, hosts);
	l = (struct cw_neg_local){.ufrag = p->pub_ufrag,
				  .pwd = p->pub_pwd,
				  .fingerprint = cw_sfu_fingerprint(s->sfu),
				  .hosts = hosts,
				  .nhosts = s->nips,
				  .session_id = p->sdp_id,
				  .version = ++p->pub_version};
	err = cw_neg_publish(offer, &l, rs.audio_only, &pub, why, sizeof(why));
	if (err) {
		free(p);
		reply_err(out, err == -ENOMEM ? "ERR_INTERNAL" : "ERR_BAD_REQUEST", "%s", why);
		goto undo_session;
	}
	pp = (struct cw_sfu_peer_params){.ufrag = p->pub_ufrag,
					 .pwd = p->pub_pwd,
					 .room = sess->room_id,
					 .remote_fingerprint = pub.remote_fingerprint,
					 .role = CW_DTLS_SERVER,
					 .dir = CW_SFU_PUBLISH,
					 .participant = p->id,
					 .map = &pub.map};
	err = cw_sfu_add_peer_v2(s->sfu, sess->worker, &pp);
	if (err) {
		free(pub.answer);
		free(p);
		if (err == -EINVAL)
			reply_err(out, "ERR_BAD_REQUEST", "offer: a=fingerprint not understood");
		else
			reply_err(out, "ERR_INTERNAL", "cannot add the media connection");
		goto undo_session;
	}
	err = cw_room_join(&sess->room, uid, p->id, &rs, now, &s->fx);
	if (err ||
	    (sess->n == sess->cap &&
	     !(sess->parts = realloc(sess->parts, (sess->cap = sess->cap ? sess->cap * 2 : 4) *
							  sizeof(*sess->parts))))) {
		cw_sfu_remove_peer(s->sfu, sess->worker, p->pub_ufrag);
		if (!err)
			cw_room_leave(&sess->room, p->id, now, &s->fx);
		cw_room_effects_free(&s->fx);
		memset(&s->fx, 0, sizeof(s->fx));
		free(pub.answer);
		free(p);
		if (err == CW_ROOM_FULL)
			reply_err(out, "ERR_CONFLICT", "the session is full");
		else
			reply_err(out, "ERR_INTERNAL", "cannot join");
		goto undo_session;
	}
	memcpy(p->tracks, pub.tracks, sizeof(p->tracks));
	p->ntracks = pub.ntracks;
	sess->parts[sess->n++] = p;
	cw_map_put(&s->peers, p->pub_ufrag, p);
	cw_map_put(&s->peers, p->sub_ufrag, p);
	cw_map_put(&s->parts, p->id, p);
	if (rs.start_muted)
		cw_sfu_set_muted(s->sfu, sess->worker, p->pub_ufrag, CW_SFU_KIND_AUDIO, true);
	if (rs.audio_only || rs.start_video_paused)
		cw_sfu_set_muted(s->sfu, sess->worker, p->pub_ufrag, CW_SFU_KIND_VIDEO, true);
	if (!sess->is_call && cw_meetlog_join(&sess->log, s->store, sess->app_id, sess->id, uid,
					      !rs.audio_only, now) != 0)
		cw_error("session.log", "app=%s session=%s err=\"cannot write the call log entry\"",
			 sess->app_id, sess->id);
	cw_info("session.joined", "app=%s session=%s participant=%s uid=%s worker=%d tracks=%u",
		sess->app_id, sess->id, p->id, uid, sess->worker, p->ntracks);

	/* The others hear of the newcomer, then of its tracks, then get their offers. */
	cw_sess_room_effects(sess, now, NULL);
	others = json_array();
	for (size_t k = 0; k < sess->n; k++) {
		struct part *q = sess->parts[k];
		if (q == p)
			continue;
		json_array_append_new(others, cw_sess_part_json(q));
		for (unsigned j = 0; j < p->ntracks; j++) {
			json_t *f = json_pack("{s:o,s:o}", "participant", cw_sess_part_json(p),
					      "track", cw_sess_track_json(p, &p->tracks[j]));
			cw_sess_emit(s, sess, q, "session.track_published", f, now);
			json_decref(f);
		}
		cw_sess_reconcile(q);
		cw_sess_offer_if_needed(q, now);
	}
	cw_sess_reconcile(p);
	sub = cw_sess_next_offer(p);
	out->result = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:{s:b,s:I,s:s}}", "sessionId", sess->id,
				"participantId", p->id, "category", sess->is_call ? "call" : "meet",
				"answer", pub.answer, "subscribe", sub ? sub : json_null(),
				"participants", others, "settings", "audioOnly",
				sess->room.audio_only, "idleTimeout",
				(json_int_t)(sess->room.idle_timeout / 1000), "title", sess->title);
	free(pub.answer);
	arm_idle(sess, now);
	return;

undo_session:
	if (sess->n == 0)
		session_free(sess);
}

static struct part *part_of(struct cw_sessions *s, const struct cw_app *app, const char *uid,
			    json_t *params, struct cw_session_reply *out)
{
	const char *sid = str_param(params, "sessionId"), *pid = str_param(params, "participantId");
	struct part *p;

	if (!sid)
		return reply_err(out, "ERR_BAD_REQUEST", "sessionId: required string"), NULL;
	if (!pid)
		return reply_err(out, "ERR_BAD_REQUEST", "participantId: required string"), NULL;
	p = cw_map_get(&s->parts, pid);
	if (!p || strcmp(p->sess->app_id, app->id) != 0 || strcmp(p->sess->id, sid) != 0 ||
	    strcmp(p->uid, uid) != 0)
		return reply_err(out, "ERR_NOT_FOUND", "no such participant in this session"), NULL;
	return p;
}

static void do_answer(struct cw_sessions *s, struct part *p, json_t *params, int64_t now,
		      struct cw_session_reply *out)
{
	const char *sdp = str_param(params, "sdp");
	json_t *ver = json_object_get(params, "version");
	char fp[CW_DTLS_FINGERPRINT_MAX], why[256];
	enum cw_dtls_role role;
	int err;

	if (!sdp)
		return reply_err(out, "ERR_BAD_REQUEST", "sdp: required string");
	if (!json_is_integer(ver))
		return reply_err(out, "ERR_BAD_REQUEST", "version: required integer");
	if (!p->outstanding || json_integer_value(ver) != p->offer_version)
		return reply_err(out, "ERR_INVALID_STATE",
				 "version %lld is not the outstanding subscribe offer",
				 (long long)json_integer_value(ver));
	if (cw_neg_subscribe_answer(sdp, fp, &role, why, sizeof(why)) != 0)
		return reply_err(out, "ERR_BAD_REQUEST", "%s", why);
	if (!p->sub_added) {
		struct cw_sfu_peer_params pp = {.ufrag = p->sub_ufrag,
						.pwd = p->sub_pwd,
						.room = p->sess->room_id,
						.remote_fingerprint = fp,
						.role = role,
						.dir = CW_SFU_SUBSCRIBE,
						.participant = p->id};
		err = cw_sfu_add_peer_v2(s->sfu, p->sess->worker, &pp);
		if (err)
			return reply_err(out, err == -EINVAL ? "ERR_BAD_REQUEST" : "ERR_INTERNAL",
					 "%s",
					 err == -EINVAL ? "sdp: a=fingerprint not understood"
							: "cannot add the media connection");
		p->sub_added = true;
	}
	p->outstanding = false;
	out->result = json_object();
	cw_sess_offer_if_needed(p, now);
}

static void do_publish(struct cw_sessions *s, struct part *p, json_t *params, int64_t now,
		       struct cw_session_reply *out)
{
	const char *offer = str_param(params, "offer");
	struct session *sess = p->sess;
	struct cw_sdp_host hosts[IPS_MAX];
	struct cw_neg_publish pub;
	struct cw_neg_track old[CW_SFU_TRACKS_MAX];
	unsigned nold = p->ntracks;
	char why[256];
	int err;

	if (!offer)
		return reply_err(out, "ERR_BAD_REQUEST", "offer: required string (SDP)");
	cw_sess_hosts(s, sess->worker, hosts);
	struct cw_neg_local l = {.ufrag = p->pub_ufrag,
				 .pwd = p->pub_pwd,
				 .fingerprint = cw_sfu_fingerprint(s->sfu),
				 .hosts = hosts,
				 .nhosts = s->nips,
				 .session_id = p->sdp_id,
				 .version = p->pub_version + 1};
	err = cw_neg_publish(offer, &l, p->audio_only, &pub, why, sizeof(why));
	if (err)
		return reply_err(out, err == -ENOMEM ? "ERR_INTERNAL" : "ERR_BAD_REQUEST", "%s",
				 why);
	p->pub_version++;
	cw_sfu_set_map(s->sfu, sess->worker, p->pub_ufrag, &pub.map);
	memcpy(old, p->tracks, sizeof(old));
	memcpy(p->tracks, pub.tracks, sizeof(p->tracks));
	p->ntracks = pub.ntracks;
	/* Tell the others what came and went. */
	for (size_t k = 0; k < sess->n; k++) {
		struct part *q = sess->parts[k];
		if (q == p)
			continue;
		for (unsigned i = 0; i < nold; i++) {
			bool kept = false;
			for (unsigned j = 0; j < p->ntracks; j++)
				kept |= old[i].ssrc == p->tracks[j].ssrc &&
					strcmp(old[i].mid, p->tracks[j].mid) == 0;
			if (!kept) {
				json_t *f =
					json_pack("{s:o,s:o}", "participant", cw_sess_part_json(p),
						  "track", cw_sess_track_json(p, &old[i]));
				cw_sess_emit(s, sess, q, "session.track_unpublished", f, now);
				json_decref(f);
			}
		}
		for (unsigned j = 0; j < p->ntracks; j++) {
			bool known = false;
			for (unsigned i = 0; i < nold; i++)
				known |= old[i].ssrc == p->tracks[j].ssrc &&
					 strcmp(old[i].mid, p->tracks[j].mid) == 0;
			if (!known) {
				json_t *f =
					json_pack("{s:o,s:o}", "participant", cw_sess_part_json(p),
						  "track", cw_sess_track_json(p, &p->tracks[j]));
				cw_sess_emit(s, sess, q, "session.track_published", f, now);
				json_decref(f);
			}
		}
		cw_sess_reconcile(q);
		cw_sess_offer_if_needed(q, now);
	}
	out->result = json_pack("{s:s}", "answer", pub.answer);
	free(pub.answer);
}

static void do_mute(struct cw_sessions *s, struct part *p, json_t *params, int64_t now,
		    struct cw_session_reply *out)
{
	const char *kind = str_param(params, "kind");
	json_t *muted = json_object_get(params, "muted");
	int k, err;

	if (!kind || (strcmp(kind, "audio") != 0 && strcmp(kind, "video") != 0))
		return reply_err(out, "ERR_BAD_REQUEST", "kind: \"audio\" or \"video\"");
	if (!json_is_boolean(muted))
		return reply_err(out, "ERR_BAD_REQUEST", "muted: required boolean");
	k = strcmp(kind, "video") == 0;
	err = cw_room_set(&p->sess->room, p->id, k, json_is_true(muted), now, &s->fx);
	if (err == CW_ROOM_NO_VIDEO) {
		cw_room_effects_free(&s->fx);
		memset(&s->fx, 0, sizeof(s->fx));
		return reply_err(out, "ERR_BAD_REQUEST",
				 "kind: this participant is audio-only; it has no video");
	}
	cw_sfu_set_muted(s->sfu, p->sess->worker, p->pub_ufrag,
			 k ? CW_SFU_KIND_VIDEO : CW_SFU_KIND_AUDIO, json_is_true(muted));
	cw_sess_room_effects(p->sess, now, NULL);
	out->result = json_object();
}

void cw_sessions_request(struct cw_sessions *s, const struct cw_app *app, const char *uid,
			 const char *method, json_t *params, int64_t now,
			 struct cw_session_reply *out)
{
	struct part *p;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(params))
		return reply_err(out, "ERR_BAD_REQUEST", "params: must be an object");
	if (!s || !s->sfu)
		return reply_err(out, "ERR_INTERNAL", "the media plane is not running");
	if (strcmp(method, "session.join") == 0)
		return do_join(s, app, uid, params, now, out);
	if (strcmp(method, "session.answer") != 0 && strcmp(method, "session.publish") != 0 &&
	    strcmp(method, "session.candidate") != 0 && strcmp(method, "session.mute") != 0 &&
	    strcmp(method, "session.leave") != 0)
		return reply_err(out, "ERR_BAD_REQUEST", "method: unknown");
	if (!(p = part_of(s, app, uid, params, out)))
		return;
	if (strcmp(method, "session.answer") == 0)
		return do_answer(s, p, params, now, out);
	if (strcmp(method, "session.publish") == 0)
		return do_publish(s, p, params, now, out);
	if (strcmp(method, "session.mute") == 0)
		return do_mute(s, p, params, now, out);
	if (strcmp(method, "session.candidate") == 0) {
		out->result = json_object(); /* ICE-lite: the client's checks tell us its address */
		return;
	}
	part_leave(p, "left", now);
	out->result = json_object();
}

/* ---- the media plane's events ---- */

void cw_sessions_media_events(struct cw_sessions *s)
{
	struct cw_sfu_event ev[64];
	size_t n;
	int64_t now = cw_now_ms();

	while ((n = cw_sfu_poll_events(s->sfu, ev, CW_ARRAY_SIZE(ev))) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct part *p;
			if (ev[i].kind == CW_SFU_EV_SPEAKER) {
				p = cw_map_get(&s->parts, ev[i].participant);
				if (!p)
					continue;
				json_t *f = json_pack("{s:{s:s,s:s}}", "participant",
						      "participantId", p->id, "uid", p->uid);
				for (size_t k = 0; k < p->sess->n; k++)
					cw_sess_emit(s, p->sess, p->sess->parts[k],
						     "session.dominant_speaker", f, now);
				json_decref(f);
				continue;
			}
			p = cw_map_get(&s->peers, ev[i].ufrag);
			if (!p)
				continue;
			if (ev[i].kind == CW_SFU_EV_CONNECTED) {
				cw_info("session.media",
					"session=%s participant=%s peer=%s state=connected",
					p->sess->id, p->id,
					strcmp(p->pub_ufrag, ev[i].ufrag) == 0 ? "publish"
									       : "subscribe");
				continue;
			}
			cw_warn("session.media", "session=%s participant=%s state=%s", p->sess->id,
				p->id, ev[i].kind == CW_SFU_EV_FAILED ? "failed" : "gone");
			part_leave(p, "disconnected", now);
		}
	}
}

/* ---- the service ---- */

static int parse_ips(struct cw_sessions *s, const char *list)
{
	char buf[512], *ip, *save = NULL;
	struct ifaddrs *ifs, *i;

	cw_strlcpy(buf, list ? list : "", sizeof(buf));
	for (ip = strtok_r(buf, ",", &save); ip && s->nips < IPS_MAX;
	     ip = strtok_r(NULL, ",", &save))
		cw_strlcpy(s->ips[s->nips++], ip, sizeof(s->ips[0]));
	if (s->nips)
		return 0;
	/* None given (a wildcard listen address): this machine's IPv4 addresses, loopback
	 * only when there is nothing else. */
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i && s->nips < IPS_MAX; i = i->ifa_next) {
			const struct sockaddr_in *sin = (const void *)i->ifa_addr;
			if (!sin || sin->sin_family != AF_INET ||
			    ntohl(sin->sin_addr.s_addr) >> 24 == 127)
				continue;
			inet_ntop(AF_INET, &sin->sin_addr, s->ips[s->nips++], sizeof(s->ips[0]));
		}
		freeifaddrs(ifs);
	}
	if (!s->nips)
		cw_strlcpy(s->ips[s->nips++], "127.0.0.1", sizeof(s->ips[0]));
	return 0;
}

int cw_sessions_new(struct cw_sessions **sp, const struct cw_sessions_config *cfg)
{
	struct cw_sessions *s = calloc(1, sizeof(*s));

	*sp = NULL;
	if (!s)
		return -ENOMEM;
	s->loop = cfg->loop;
	s->store = cfg->store;
	s->rt = cfg->rt;
	s->calls = cfg->calls;
	s->auth = cfg->auth;
	s->sfu = cfg->sfu;
	parse_ips(s, cfg->public_ips);
	s->load = calloc(CW_SFU_WORKERS_MAX, sizeof(*s->load));
	if (!s->load) {
		free(s);
		return -ENOMEM;
	}
	*sp = s;
	return 0;
}

static void end_each(void *ctx, const char *key, void *val)
{
	struct session ***list = ctx;

	(void)key;
	*(*list)++ = val;
}

static void service_free(struct cw_sessions *s)
{
	cw_map_clear(&s->sessions);
	cw_map_clear(&s->peers);
	cw_map_clear(&s->parts);
	cw_room_effects_free(&s->fx);
	free(s->load);
	free(s);
}

void cw_sessions_free(struct cw_sessions *s)
{
	struct session **all, **end;

	if (!s)
		return;
	all = calloc(s->sessions.count + 1, sizeof(*all));
	end = all;
	if (all) {
		cw_map_each(&s->sessions, end_each, &end);
		for (struct session **i = all; i < end; i++)
			session_free(*i);
		free(all);
	}
	service_free(s);
}

void cw_sessions_call_ended(struct cw_sessions *s, const char *app_id, const char *session_id,
			    int64_t now)
{
	char key[KEY_MAX];
	struct session *sess;

	if (!s)
		return;
	snprintf(key, sizeof(key), "%s/%s", app_id, session_id);
	sess = cw_map_get(&s->sessions, key);
	if (sess && sess->is_call)
		session_end(sess, "call_ended", now);
}
