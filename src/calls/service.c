/* service: calls in memory while active, persisted on every change, published as events;
 * ring timers, reconnect grace and the per-user initiate rate limit. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "push/push.h"
#include "util/map.h"
#include "util/util.h"

#define KEY_MAX (CW_APPID_MAX + CW_UID_MAX + 2)
/* Events are kept at least this long and at least this many per user (the contract). */
#define EVENTS_KEEP_MS (10 * 60 * 1000)
#define EVENTS_KEEP 1000

struct cw_calls;

/* A call while it is initiated or ongoing. */
struct active {
	struct cw_calls *svc;
	char key[KEY_MAX];
	struct cw_call_record rec;
	uv_timer_t ring;
};

/* A user who lost their last connection while engaged in a call. */
struct grace {
	struct cw_calls *svc;
	char key[KEY_MAX];
	char app_id[CW_APPID_MAX + 1];
	char uid[CW_UID_MAX + 1];
	uv_timer_t timer;
};

struct bucket {
	double tokens;
	uint64_t at;
};

struct cw_calls {
	uv_loop_t *loop;
	struct cw_store *store;
	struct cw_rt *rt;
	struct cw_map active;  /* "app/session" -> struct active */
	struct cw_map engaged; /* "app/uid" -> struct active the user is engaged in */
	struct cw_map graces;  /* "app/uid" -> struct grace */
	struct cw_map buckets; /* "app/uid" -> struct bucket */
	struct cw_effects fx;
	cw_calls_end_fn on_end;
	void *on_end_ctx;
	struct cw_push *push; /* VoIP pushes and webhooks, or NULL */
	uv_timer_t prune;
	bool stopping;
};

static void key_of(char out[KEY_MAX], const char *app_id, const char *id)
{
	snprintf(out, KEY_MAX, "%s/%s", app_id, id);
}

static json_t *ms_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

json_t *cw_call_json(const struct cw_call_record *rec, int64_t now)
{
	const struct cw_call *call = &rec->call;
	json_t *parts = json_array(), *meta, *receiver;

	for (size_t i = 0; i < call->n_participants; i++) {
		const struct cw_participant *p = &call->participants[i];
		json_array_append_new(parts, json_pack("{s:s,s:s,s:o,s:o,s:f}", "uid", p->uid,
						       "state", cw_part_state_name(p->state),
						       "joinedAt", ms_or_null(p->joined_at),
						       "leftAt", ms_or_null(p->left_at), "duration",
						       cw_participant_duration(p, now) / 1000.0));
	}
	meta = rec->metadata && strcmp(rec->metadata, "{}") != 0
		       ? json_loads(rec->metadata, 0, NULL)
		       : NULL;
	receiver = json_pack("{s:s,s:s}", call->receiver_type == CW_RECEIVER_GROUP ? "guid" : "uid",
			     call->receiver, "name",
			     rec->receiver_name ? rec->receiver_name : call->receiver);
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:o,s:s,s:I,s:o,s:o,s:f,s:o,s:o}", "sessionId",
		call->session_id, "category", call->category == CW_CATEGORY_MEET ? "meet" : "call",
		"type", call->type == CW_CALL_VIDEO ? "video" : "audio", "receiverType",
		call->receiver_type == CW_RECEIVER_GROUP ? "group" : "user", "initiator", "uid",
		call->initiator, "name",
		rec->initiator_name ? rec->initiator_name : call->initiator, "receiver", receiver,
		"status", cw_call_status_name(call->status), "initiatedAt",
		(json_int_t)call->initiated_at, "joinedAt", ms_or_null(call->joined_at), "endedAt",
		ms_or_null(call->ended_at), "duration", cw_call_duration(call, now) / 1000.0,
		"participants", parts, "metadata", meta ? meta : json_object());
}

static int record_copy(struct cw_call_record *dst, const struct cw_call_record *src)
{
	*dst = *src;
	dst->metadata = cw_strdup0(src->metadata);
	dst->initiator_name = cw_strdup0(src->initiator_name);
	dst->receiver_name = cw_strdup0(src->receiver_name);
	dst->call.participants = NULL;
	dst->call.n_participants = 0;
	if (cw_call_copy(&dst->call, &src->call) != 0 || (src->metadata && !dst->metadata)) {
		cw_call_record_free(dst);
		return -ENOMEM;
	}
	return 0;
}

/* Sends the effects of one change as events, each user's in the order the machine gave.
 * The call is serialised once; every event is spliced around that text. */
static void publish(struct cw_calls *c, const struct cw_call_record *rec, const char *actor,
		    const char *device, int64_t now)
{
	json_t *call;
	char *call_text, *event;

	if (!c->rt || c->fx.n == 0)
		return;
	call = cw_call_json(rec, now);
	call_text = call ? json_dumps(call, JSON_COMPACT) : NULL;
	json_decref(call);
	for (size_t i = 0; call_text && i < c->fx.n; i++) {
		const struct cw_effect *e = &c->fx.list[i];
		/* The device that answered, so it can tell its own answer from another's. */
		bool with_device = (e->event == CW_EV_ACCEPTED_ELSEWHERE ||
				    e->event == CW_EV_REJECTED_ELSEWHERE) &&
				   device && *device;
		/* Who joined or left; ids are [A-Za-z0-9_.@-], nothing to escape. */
		bool with_uid = (e->event == CW_EV_PARTICIPANT_JOINED ||
				 e->event == CW_EV_PARTICIPANT_LEFT) &&
				actor && *actor;
		if (asprintf(&event, "{\"type\":\"event\",\"name\":\"%s\",\"call\":%s%s%s%s%s%s%s}",
			     cw_event_name(e->event), call_text,
			     with_device ? ",\"device\":\"" : "", with_device ? device : "",
			     with_device ? "\"" : "", with_uid ? ",\"uid\":\"" : "",
			     with_uid ? actor : "", with_uid ? "\"" : "") < 0)
			break;
		if (cw_rt_emit(c->rt, rec->app_id, e->uid, event, now) != 0)
			cw_error("calls.event", "app=%s uid=%s session=%s err=\"cannot store\"",
				 rec->app_id, e->uid, rec->call.session_id);
		free(event);
	}
	if (!call_text)
		cw_error("calls.event", "session=%s err=\"out of memory\"", rec->call.session_id);
	free(call_text);
}

static void arm_grace(struct cw_calls *c, const char *app_id, const char *uid);

static void on_ring_closed(uv_handle_t *h)
{
	struct active *a = h->data;

	cw_call_record_free(&a->rec);
	free(a);
}

static void active_drop(struct cw_calls *c, struct active *a)
{
	cw_map_del(&c->active, a->key);
	uv_timer_stop(&a->ring);
	uv_close((uv_handle_t *)&a->ring, on_ring_closed);
}

/* Keeps the user -> engaged call index in step with a changed call, and starts the grace
 * of engaged participants of an ongoing call who have no connection at all. */
static void reindex(struct cw_calls *c, struct active *a)
{
	const struct cw_call *call = &a->rec.call;
	char key[KEY_MAX];

	for (size_t i = 0; i < call->n_participants; i++) {
		const char *uid = call->participants[i].uid;
		key_of(key, a->rec.app_id, uid);
		if (cw_call_engages(call, uid)) {
			cw_map_put(&c->engaged, key, a);
			if (call->status == CW_CALL_ONGOING && c->rt &&
			    cw_rt_connections(c->rt, a->rec.app_id, uid) == 0)
				arm_grace(c, a->rec.app_id, uid);
		} else if (cw_map_get(&c->engaged, key) == a) {
			cw_map_del(&c->engaged, key);
		}
	}
}

/* Applies an action to an active call: the change is computed on a copy, written to the
 * store, and only then made current and published. */
static int apply(struct cw_calls *c, struct active *a, enum cw_action action, const char *actor,
		 const char *device, int64_t now)
{
	struct cw_call next, prev;
	int prev_status;
	int rc, err;

	if (cw_call_copy(&next, &a->rec.call) != 0)
		return -ENOMEM;
	cw_effects_reset(&c->fx);
	rc = cw_call_apply(&next, action, actor, device, now, &c->fx);
	if (rc != 0) {
		cw_call_free(&next);
		return rc;
	}
	prev = a->rec.call;
	prev_status = (int)prev.status;
	a->rec.call = next;
	err = cw_store_call_update(c->store, &a->rec);
	if (err) {
		a->rec.call = prev;
		cw_call_free(&next);
		return err;
	}
	cw_call_free(&prev);
	cw_info("call.changed", "app=%s session=%s status=%s", a->rec.app_id,
		a->rec.call.session_id, cw_call_status_name(a->rec.call.status));
	publish(c, &a->rec, actor, device, now);
	cw_push_call_changed(c->push, &a->rec, prev_status, &c->fx, device, now);
	reindex(c, a);
	if (!cw_call_active(&a->rec.call)) {
		if (c->on_end)
			c->on_end(c->on_end_ctx, a->rec.app_id, a->rec.call.session_id, now);
		active_drop(c, a);
	}
	return 0;
}

static void on_ring_deadline(uv_timer_t *t)
{
	struct active *a = t->data;
	struct cw_calls *c = a->svc;

	int64_t now = cw_now_ms();

	/* libuv's timers run on the loop's cached monotonic clock, which may fire a few ms
	 * before the wall-clock deadline; the timer exists for that deadline, so it has come. */
	if (now < a->rec.call.ring_deadline)
		now = a->rec.call.ring_deadline;
	cw_store_batch_begin(c->store);
	apply(c, a, CW_ACT_TIMEOUT, NULL, NULL, now);
}

static int active_add(struct cw_calls *c, struct cw_call_record *rec, struct active **out)
{
	struct active *a = calloc(1, sizeof(*a));
	int64_t wait;

	if (!a)
		return -ENOMEM;
	a->svc = c;
	a->rec = *rec;
	key_of(a->key, rec->app_id, rec->call.session_id);
	if (cw_map_put(&c->active, a->key, a) != 0) {
		free(a);
		return -ENOMEM;
	}
	memset(rec, 0, sizeof(*rec)); /* a owns it now */
	uv_timer_init(c->loop, &a->ring);
	a->ring.data = a;
	wait = a->rec.call.ring_deadline - cw_now_ms();
	uv_timer_start(&a->ring, on_ring_deadline, wait > 0 ? (uint64_t)wait : 0, 0);
	*out = a;
	return 0;
}

static void on_grace_closed(uv_handle_t *h)
{
	free(h->data);
}

static void grace_drop(struct cw_calls *c, struct grace *g)
{
	cw_map_del(&c->graces, g->key);
	uv_timer_stop(&g->timer);
	uv_close((uv_handle_t *)&g->timer, on_grace_closed);
}

static void on_grace_over(uv_timer_t *t)
{
	struct grace *g = t->data;
	struct cw_calls *c = g->svc;
	char key[KEY_MAX];
	struct active *a;

	key_of(key, g->app_id, g->uid);
	a = cw_map_get(&c->engaged, key);
	if (a && (!c->rt || cw_rt_connections(c->rt, g->app_id, g->uid) == 0)) {
		cw_info("call.grace_over", "app=%s uid=%s session=%s", g->app_id, g->uid,
			a->rec.call.session_id);
		cw_store_batch_begin(c->store);
		apply(c, a, CW_ACT_DISCONNECT, g->uid, "", cw_now_ms());
	}
	grace_drop(c, g);
}

static void arm_grace(struct cw_calls *c, const char *app_id, const char *uid)
{
	struct cw_app app;
	struct grace *g;
	int seconds = 30;

	if (c->stopping)
		return;
	g = calloc(1, sizeof(*g));
	if (!g)
		return;
	key_of(g->key, app_id, uid);
	if (cw_map_get(&c->graces, g->key) || cw_map_put(&c->graces, g->key, g) != 0) {
		free(g);
		return;
	}
	if (cw_store_app_get(c->store, app_id, &app) == 0) {
		seconds = app.settings.reconnect_grace;
		cw_app_free(&app);
	}
	g->svc = c;
	cw_strlcpy(g->app_id, app_id, sizeof(g->app_id));
	cw_strlcpy(g->uid, uid, sizeof(g->uid));
	uv_timer_init(c->loop, &g->timer);
	g->timer.data = g;
	uv_timer_start(&g->timer, on_grace_over, (uint64_t)seconds * 1000, 0);
}

void cw_calls_presence(struct cw_calls *c, const char *app_id, const char *uid, bool online)
{
	char key[KEY_MAX];
	struct grace *g;

	if (c->stopping)
		return;
	key_of(key, app_id, uid);
	if (online) {
		g = cw_map_get(&c->graces, key);
		if (g)
			grace_drop(c, g);
	} else if (cw_map_get(&c->engaged, key)) {
		arm_grace(c, app_id, uid);
	}
}

/* A token bucket per user: rate per minute, with a burst of the same size. */
static bool rate_ok(struct cw_calls *c, const struct cw_actor *who, int *retry_after)
{
	int per_min = who->app->settings.call_rate_limit;
	char key[KEY_MAX];
	struct bucket *b;
	uint64_t now = cw_mono_ns();

	if (per_min <= 0)
		return true;
	key_of(key, who->app->id, who->uid);
	b = cw_map_get(&c->buckets, key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || cw_map_put(&c->buckets, key, b) != 0) {
			free(b);
			return true;
		}
		b->tokens = per_min;
		b->at = now;
	}
	b->tokens += (double)(now - b->at) / 60e9 * per_min;
	if (b->tokens > per_min)
		b->tokens = per_min;
	b->at = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return true;
	}
	*retry_after = (int)ceil((1.0 - b->tokens) * 60.0 / per_min);
	return false;
}

/* Receivers of a new call: the user, or the group's members. */
static int receivers_of(struct cw_calls *c, const struct cw_actor *who,
			const struct cw_initiate *in, char (**out)[CW_UID_MAX + 1], size_t *n,
			char **name)
{
	struct cw_group group;
	struct cw_user user;
	int err;

	if (in->receiver_type == CW_RECEIVER_USER) {
		if (strcmp(in->receiver, who->uid) == 0)
			return -EINVAL;
		err = cw_store_user_get(c->store, who->app->id, in->receiver, &user);
		if (err)
			return err;
		*name = user.name;
		user.name = NULL;
		cw_user_free(&user);
		*out = calloc(1, sizeof(**out));
		if (!*out)
			return -ENOMEM;
		cw_strlcpy((*out)[0], in->receiver, sizeof((*out)[0]));
		*n = 1;
		return 0;
	}
	err = cw_store_group_get(c->store, who->app->id, in->receiver, &group);
	if (err)
		return err;
	err = -EPERM;
	for (size_t i = 0; i < group.n_members; i++) {
		if (strcmp(group.members[i], who->uid) == 0)
			err = 0;
	}
	if (!err && group.n_members < 2)
		err = -EINVAL;
	if (!err) {
		*out = group.members;
		*n = group.n_members;
		*name = group.name;
		group.members = NULL;
		group.name = NULL;
	}
	cw_group_free(&group);
	return err;
}

static int fx_add(struct cw_effects *fx, const struct cw_effect *e)
{
	if (fx->n == fx->cap) {
		size_t cap = fx->cap ? 2 * fx->cap : 8;
		struct cw_effect *l = realloc(fx->list, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		fx->list = l;
		fx->cap = cap;
	}
	fx->list[fx->n++] = *e;
	return 0;
}

/* autoBusy: receivers engaged in another call decline as busy at once, and nothing of
 * this call (not even call.incoming) is sent to them. */
static void auto_busy(struct cw_calls *c, struct cw_call *call, const char *app_id, int64_t now)
{
	struct cw_effects fx = {0};
	char key[KEY_MAX];

	for (size_t i = 1; i < call->n_participants; i++) {
		const char *uid = call->participants[i].uid;
		key_of(key, app_id, uid);
		if (!cw_map_get(&c->engaged, key))
			continue;
		cw_effects_reset(&fx);
		if (cw_call_apply(call, CW_ACT_BUSY, uid, "", now, &fx) != 0)
			continue;
		size_t kept = 0;
		for (size_t j = 0; j < c->fx.n; j++) {
			if (strcmp(c->fx.list[j].uid, uid) != 0)
				c->fx.list[kept++] = c->fx.list[j];
		}
		c->fx.n = kept;
		for (size_t j = 0; j < fx.n; j++) {
			if (strcmp(fx.list[j].uid, uid) != 0)
				fx_add(&c->fx, &fx.list[j]);
		}
	}
	cw_effects_free(&fx);
}

int cw_calls_initiate(struct cw_calls *c, const struct cw_actor *who, const struct cw_initiate *in,
		      struct cw_call_record *out, int *retry_after)
{
	struct cw_call_record rec = {0};
	char(*receivers)[CW_UID_MAX + 1] = NULL;
	unsigned char raw[16];
	char key[KEY_MAX], sid[32];
	struct active *a;
	struct cw_user me;
	size_t n = 0;
	int64_t now = cw_now_ms();
	int err;

	if (!rate_ok(c, who, retry_after))
		return CW_CALLS_RATE_LIMITED;
	key_of(key, who->app->id, who->uid);
	a = cw_map_get(&c->engaged, key);
	if (a) {
		err = record_copy(out, &a->rec);
		return err ? err : CW_CALLS_IN_PROGRESS;
	}
	err = receivers_of(c, who, in, &receivers, &n, &rec.receiver_name);
	if (err)
		goto out;
	err = cw_store_user_get(c->store, who->app->id, who->uid, &me);
	if (err)
		goto out;
	rec.initiator_name = me.name;
	me.name = NULL;
	cw_user_free(&me);
	if ((err = cw_rand_bytes(raw, sizeof(raw))))
		goto out;
	cw_b64url_encode(raw, sizeof(raw), sid);
	/* A leading '-' would read as an option on command lines: start with a letter. */
	if (sid[0] == '-' || sid[0] == '_')
		sid[0] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[raw[0] % 52];

	cw_strlcpy(rec.app_id, who->app->id, sizeof(rec.app_id));
	rec.metadata = strdup(in->metadata ? in->metadata : "{}");
	cw_effects_reset(&c->fx);
	err = cw_call_init(&rec.call, sid, in->type, in->receiver_type, who->uid, who->device,
			   in->receiver, (const char(*)[CW_UID_MAX + 1]) receivers, n,
			   in->timeout ? in->timeout : who->app->settings.ring_timeout, now,
			   &c->fx);
	if (err)
		goto out;
	if (who->app->settings.auto_busy)
		auto_busy(c, &rec.call, who->app->id, now);
	err = cw_store_call_create(c->store, &rec);
	if (err)
		goto out;
	err = record_copy(out, &rec);
	if (err)
		goto out;
	cw_info("call.initiated", "app=%s session=%s from=%s status=%s", rec.app_id, sid, who->uid,
		cw_call_status_name(rec.call.status));
	publish(c, &rec, who->uid, who->device, now);
	cw_push_call_changed(c->push, &rec, -1, &c->fx, who->device, now);
	if (cw_call_active(&rec.call)) {
		err = active_add(c, &rec, &a);
		if (!err)
			reindex(c, a);
	}
out:
	free(receivers);
	cw_call_record_free(&rec);
	return err;
}

/* The call of session_id: the active one, or loaded from the store into *tmp. */
static int find(struct cw_calls *c, const char *app_id, const char *session_id, struct active **a,
		struct cw_call_record *tmp)
{
	char key[KEY_MAX];

	key_of(key, app_id, session_id);
	*a = cw_map_get(&c->active, key);
	if (*a)
		return 0;
	return cw_store_call_get(c->store, app_id, session_id, tmp);
}

int cw_calls_act(struct cw_calls *c, const struct cw_actor *who, const char *session_id,
		 enum cw_action action, struct cw_call_record *out)
{
	struct cw_call_record tmp = {0};
	struct active *a;
	int rc, err;

	err = find(c, who->app->id, session_id, &a, &tmp);
	if (err)
		return err;
	if (!a) {
		/* A final call does not change; the machine still tells a safe repeat (200)
		 * from a conflicting action (409) and a stranger (404). */
		cw_effects_reset(&c->fx);
		rc = cw_call_apply(&tmp.call, action, who->uid, who->device, cw_now_ms(), &c->fx);
		if (rc == 0)
			rc = CW_CALL_SAME;
		if (rc == CW_CALL_SAME)
			*out = tmp;
		else
			cw_call_record_free(&tmp);
		return rc;
	}
	/* An ended call leaves memory only when its timer's close callback runs, after this
	 * request: a->rec is still the call as it now stands. */
	rc = apply(c, a, action, who->uid, who->device, cw_now_ms());
	if (rc < 0)
		return rc;
	err = record_copy(out, &a->rec);
	return err ? err : rc;
}

int cw_calls_get(struct cw_calls *c, const char *app_id, const char *session_id, const char *uid,
		 struct cw_call_record *out)
{
	struct cw_call_record tmp = {0};
	struct active *a;
	int err;

	err = find(c, app_id, session_id, &a, &tmp);
	if (err)
		return err;
	if (a) {
		if (uid && !cw_call_participant(&a->rec.call, uid))
			return -ENOENT;
		return record_copy(out, &a->rec);
	}
	if (uid && !cw_call_participant(&tmp.call, uid)) {
		cw_call_record_free(&tmp);
		return -ENOENT;
	}
	*out = tmp;
	return 0;
}

int cw_calls_active(struct cw_calls *c, const char *app_id, const char *uid,
		    struct cw_call_record *out)
{
	char key[KEY_MAX];
	struct active *a;

	key_of(key, app_id, uid);
	a = cw_map_get(&c->engaged, key);
	if (!a)
		return -ENOENT;
	return record_copy(out, &a->rec);
}

static void on_prune(uv_timer_t *t)
{
	struct cw_calls *c = t->data;
	size_t count = 0;

	cw_store_batch_begin(c->store);
	if (cw_store_events_prune(c->store, cw_now_ms() - EVENTS_KEEP_MS, EVENTS_KEEP, &count) ==
		    0 &&
	    count)
		cw_info("events.pruned", "count=%zu", count);
}

int cw_calls_new(struct cw_calls **cp, uv_loop_t *loop, struct cw_store *store)
{
	struct cw_calls *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->store = store;
	uv_timer_init(loop, &c->prune);
	c->prune.data = c;
	uv_timer_start(&c->prune, on_prune, 60000, 60000);
	*cp = c;
	return 0;
}

void cw_calls_on_end(struct cw_calls *c, cw_calls_end_fn fn, void *ctx)
{
	c->on_end = fn;
	c->on_end_ctx = ctx;
}

void cw_calls_set_rt(struct cw_calls *c, struct cw_rt *rt)
{
	c->rt = rt;
}

void cw_calls_set_push(struct cw_calls *c, struct cw_push *push)
{
	c->push = push;
}

static void end_meet(struct cw_calls *c, struct cw_call_record *rec, int64_t now)
{
	struct cw_call *call = &rec->call;

	for (size_t i = 0; i < call->n_participants; i++) {
		struct cw_participant *p = &call->participants[i];
		if (p->state != CW_PART_ONGOING)
			continue;
		p->state = CW_PART_LEFT;
		p->left_at = now;
		p->time_in += now - p->joined_at;
	}
	call->status = CW_CALL_ENDED;
	call->ended_at = now;
	if (cw_store_call_update(c->store, rec) != 0)
		cw_error("calls.start", "app=%s session=%s err=\"cannot end a meeting\"",
			 rec->app_id, call->session_id);
}

int cw_calls_start(struct cw_calls *c)
{
	struct cw_call_record *recs = NULL;
	size_t n = 0;
	int64_t now = cw_now_ms();
	int err;

	err = cw_store_call_list_active(c->store, &recs, &n);
	if (err)
		return err;
	cw_store_batch_begin(c->store);
	for (size_t i = 0; i < n; i++) {
		struct active *a;
		if (recs[i].call.category == CW_CATEGORY_MEET) {
			/* Media sessions do not outlive the server: their meetings are over. */
			end_meet(c, &recs[i], now);
			continue;
		}
		if (active_add(c, &recs[i], &a) != 0)
			continue;
		reindex(c, a);
		/* Nobody is connected after a start: every engaged participant gets the
		 * grace to come back, as if they had just lost their connection. */
		for (size_t j = 0; j < a->rec.call.n_participants; j++) {
			const char *uid = a->rec.call.participants[j].uid;
			if (cw_call_engages(&a->rec.call, uid))
				arm_grace(c, a->rec.app_id, uid);
		}
		/* A ring whose deadline passed while the server was down ends now. */
		if (a->rec.call.ring_deadline <= now)
			apply(c, a, CW_ACT_TIMEOUT, NULL, NULL, now);
	}
	cw_call_records_free(recs, n);
	cw_info("calls.reconciled", "active=%zu", c->active.count);
	return 0;
}

static void close_active(void *ctx, const char *key, void *val)
{
	struct active *a = val;

	(void)ctx;
	(void)key;
	uv_timer_stop(&a->ring);
	uv_close((uv_handle_t *)&a->ring, on_ring_closed);
}

static void close_grace(void *ctx, const char *key, void *val)
{
	struct grace *g = val;

	(void)ctx;
	(void)key;
	uv_timer_stop(&g->timer);
	uv_close((uv_handle_t *)&g->timer, on_grace_closed);
}

static void free_bucket(void *ctx, const char *key, void *val)
{
	(void)ctx;
	(void)key;
	free(val);
}

static void on_prune_closed(uv_handle_t *h)
{
	free(h->data);
}

void cw_calls_free(struct cw_calls *c)
{
	if (!c)
		return;
	c->stopping = true;
	cw_map_each(&c->active, close_active, NULL);
	cw_map_each(&c->graces, close_grace, NULL);
	cw_map_each(&c->buckets, free_bucket, NULL);
	cw_map_clear(&c->active);
	cw_map_clear(&c->engaged);
	cw_map_clear(&c->graces);
	cw_map_clear(&c->buckets);
	cw_effects_free(&c->fx);
	uv_timer_stop(&c->prune);
	uv_close((uv_handle_t *)&c->prune, on_prune_closed);
}
