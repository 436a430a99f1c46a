/* enqueue: what a call change sends (VoIP pushes, missed-call alerts, ring-end data
 * messages, webhooks), built into outbox entries in the change's transaction. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "calls/calls.h"
#include "push/internal.h"
#include "rt/rt.h"
#include "util/util.h"

/* Ring-end messages matter while a phone may still be ringing: an hour at most. */
#define RING_END_TTL_S 3600
/* Webhooks are retried for a day. */
#define WEBHOOK_TTL_MS (24 * 3600 * 1000LL)
/* How long a "this device was woken" mark outlives the ring window. */
#define RUNG_SLACK_MS (60 * 1000)

static const char *type_name(const struct cw_call *call)
{
	return call->type == CW_CALL_VIDEO ? "video" : "audio";
}

static const char *receiver_type_name(const struct cw_call *call)
{
	return call->receiver_type == CW_RECEIVER_GROUP ? "group" : "user";
}

/* The payload fields every push carries, all strings (FCM data wants strings). */
static json_t *call_fields(const struct cw_call_record *rec, const char *action, int64_t now)
{
	const struct cw_call *call = &rec->call;
	char sent[24];

	snprintf(sent, sizeof(sent), "%" PRId64, now);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "call", "callAction",
			 action, "sessionId", call->session_id, "callType", type_name(call),
			 "receiverType", receiver_type_name(call), "sender", call->initiator,
			 "senderName", rec->initiator_name ? rec->initiator_name : call->initiator,
			 "receiver", call->receiver, "receiverName",
			 rec->receiver_name ? rec->receiver_name : call->receiver, "sentAt", sent);
}

static void rung_key(char *out, size_t size, const char *app_id, const char *session_id,
		     const char *uid)
{
	snprintf(out, size, "%s/%s/%s", app_id, session_id, uid);
}

/* Remembers that uid's devices were woken for this call, until its ring window is over. */
static void mark_rung(struct cw_push *p, const struct cw_call_record *rec, const char *uid)
{
	char key[CW_APPID_MAX + CW_SESSION_ID_MAX + CW_UID_MAX + 3];
	int64_t *until = malloc(sizeof(*until));

	if (!until)
		return;
	*until = rec->call.ring_deadline + RUNG_SLACK_MS;
	rung_key(key, sizeof(key), rec->app_id, rec->call.session_id, uid);
	free(cw_map_del(&p->rung, key));
	if (cw_map_put(&p->rung, key, until) != 0)
		free(until);
}

/* Whether uid's devices were woken for this call; forgets it (the ring is over). */
static bool take_rung(struct cw_push *p, const struct cw_call_record *rec, const char *uid)
{
	char key[CW_APPID_MAX + CW_SESSION_ID_MAX + CW_UID_MAX + 3];
	int64_t *until;

	rung_key(key, sizeof(key), rec->app_id, rec->call.session_id, uid);
	until = cw_map_del(&p->rung, key);
	free(until);
	return until != NULL;
}

struct sweep {
	int64_t now;
	char (*gone)[CW_APPID_MAX + CW_SESSION_ID_MAX + CW_UID_MAX + 3];
	size_t n, cap;
};

static void sweep_one(void *ctx, const char *key, void *val)
{
	struct sweep *s = ctx;

	if (*(int64_t *)val >= s->now || s->n == s->cap)
		return;
	cw_strlcpy(s->gone[s->n++], key, sizeof(s->gone[0]));
}

/* Drops marks whose ring windows are long over (a call that ended while we were down). */
static void sweep_rung(struct cw_push *p, int64_t now)
{
	struct sweep s = {.now = now, .cap = 64};

	if (p->rung.count < 256 || !(s.gone = calloc(s.cap, sizeof(*s.gone))))
		return;
	cw_map_each(&p->rung, sweep_one, &s);
	for (size_t i = 0; i < s.n; i++)
		free(cw_map_del(&p->rung, s.gone[i]));
	free(s.gone);
}

/* The outbox entry's dedupe key: one per service, call event and target. */
static void dedupe_of(char *out, size_t size, const char *svc, const struct cw_call_record *rec,
		      const char *what, const char *target)
{
	char h[CW_SHA256_HEX_LEN + 1];

	cw_sha256_hex(target, strlen(target), h);
	h[32] = '\0';
	snprintf(out, size, "%s:%s:%s:%s:%s", svc, rec->app_id, rec->call.session_id, what, h);
}

/* Adds one entry; body and meta are stolen. */
static void add(struct cw_push *p, const struct cw_call_record *rec, enum cw_outbox_kind kind,
		const char *target, const char *what, json_t *body, json_t *meta,
		int64_t expires_at, int64_t now)
{
	static const char *const svc[] = {"apns", "fcm", "webhook"};
	char dedupe[256];
	struct cw_outbox_entry e = {.kind = kind,
				    .target = (char *)target,
				    .dedupe = dedupe,
				    .created_at = now,
				    .next_at = now,
				    .expires_at = expires_at};
	int err = -ENOMEM;

	cw_strlcpy(e.app_id, rec->app_id, sizeof(e.app_id));
	dedupe_of(dedupe, sizeof(dedupe), svc[kind], rec, what, target);
	e.payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
	e.meta = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	if (e.payload && e.meta)
		err = cw_store_outbox_add(p->store, &e);
	if (err && err != -EEXIST)
		cw_error("push.enqueue", "app=%s session=%s what=%s err=%d", rec->app_id,
			 rec->call.session_id, what, err);
	free(e.payload);
	free(e.meta);
	json_decref(body);
	json_decref(meta);
}

static bool apns_ready(const struct cw_push_config *c)
{
	return c->apns_team_id && c->apns_key_id && c->apns_key && c->apns_bundle_id;
}

/* An APNs entry's meta: the headers and the environment of the token. */
static json_t *apns_meta(const struct cw_push_config *c, const struct cw_push_token *t, bool voip,
			 int priority, int64_t expiration_s, const char *collapse)
{
	char topic[200];

	snprintf(topic, sizeof(topic), "%s%s", c->apns_bundle_id, voip ? ".voip" : "");
	return json_pack("{s:s,s:s,s:s,s:i,s:I,s:s,s:b}", "uid", t->uid, "pushType",
			 voip ? "voip" : "alert", "topic", topic, "priority", priority,
			 "expiration", (json_int_t)expiration_s, "collapseId", collapse,
			 "production", t->production);
}

/* An FCM HTTP v1 message: data only, every value a string. */
static json_t *fcm_message(const struct cw_push_token *t, json_t *data, bool high, int ttl_s)
{
	char ttl[24];

	snprintf(ttl, sizeof(ttl), "%ds", ttl_s > 0 ? ttl_s : 0);
	return json_pack("{s:{s:s,s:o,s:{s:s,s:s}}}", "message", "token", t->token, "data", data,
			 "android", "priority", high ? "high" : "normal", "ttl", ttl);
}

/* The devices of uid are rung: a VoIP push to each PushKit token, a high-priority data
 * message to each FCM token; ordinary APNs tokens get nothing (nothing to show yet). */
static void incoming(struct cw_push *p, const struct cw_push_config *c,
		     const struct cw_call_record *rec, const char *uid, int64_t now)
{
	int64_t deadline = rec->call.ring_deadline;
	int ttl = (int)((deadline - now + 999) / 1000);
	struct cw_push_token *tokens = NULL;
	size_t n = 0;
	bool any = false;

	if (ttl <= 0 || cw_store_push_tokens_of(p->store, rec->app_id, uid, &tokens, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct cw_push_token *t = &tokens[i];
		json_t *fields = call_fields(rec, "initiated", now);

		if (t->platform == CW_PUSH_APNS_VOIP && apns_ready(c)) {
			json_object_set_new(fields, "aps", json_object());
			add(p, rec, CW_OUT_APNS, t->token, "initiated", fields,
			    apns_meta(c, t, true, 10, deadline / 1000, rec->call.session_id),
			    deadline, now);
			any = true;
		} else if (t->platform == CW_PUSH_FCM && c->fcm_service_account) {
			add(p, rec, CW_OUT_FCM, t->token, "initiated",
			    fcm_message(t, fields, true, ttl), json_pack("{s:s}", "uid", uid),
			    deadline, now);
			any = true;
		} else {
			json_decref(fields);
		}
	}
	cw_push_tokens_free(tokens, n);
	if (any)
		mark_rung(p, rec, uid);
}

/* The ring stopped on uid's devices without being answered there (action says why):
 * never a VoIP push (iOS ends apps that do not show one); a missed-call alert to APNs
 * tokens when the call was missed; a normal-priority data message to FCM tokens so the
 * app can take down its ringing screen. skip_device: the device that answered. */
static void ring_end(struct cw_push *p, const struct cw_push_config *c,
		     const struct cw_call_record *rec, const char *uid, const char *action,
		     const char *skip_device, int64_t now)
{
	bool missed = strcmp(action, "cancelled") == 0 || strcmp(action, "unanswered") == 0;
	struct cw_push_token *tokens = NULL;
	size_t n = 0;

	if (cw_store_push_tokens_of(p->store, rec->app_id, uid, &tokens, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct cw_push_token *t = &tokens[i];
		char device[17], body[300];
		json_t *fields;

		cw_rt_device_id(t->device, device);
		if (skip_device && *skip_device && strcmp(device, skip_device) == 0)
			continue;
		if (t->platform == CW_PUSH_APNS && missed && apns_ready(c)) {
			const char *name =
				rec->initiator_name ? rec->initiator_name : rec->call.initiator;
			snprintf(body, sizeof(body), "Missed %s call from %s",
				 type_name(&rec->call), name);
			fields = call_fields(rec, action, now);
			json_object_set_new(fields, "aps",
					    json_pack("{s:{s:s,s:s},s:s,s:s}", "alert", "title",
						      "Missed call", "body", body, "sound",
						      "default", "thread-id", rec->call.initiator));
			add(p, rec, CW_OUT_APNS, t->token, action, fields,
			    apns_meta(c, t, false, 10, now / 1000 + RING_END_TTL_S,
				      rec->call.session_id),
			    now + RING_END_TTL_S * 1000LL, now);
		} else if (t->platform == CW_PUSH_FCM && c->fcm_service_account) {
			add(p, rec, CW_OUT_FCM, t->token, action,
			    fcm_message(t, call_fields(rec, action, now), false, RING_END_TTL_S),
			    json_pack("{s:s}", "uid", uid), now + RING_END_TTL_S * 1000LL, now);
		}
	}
	cw_push_tokens_free(tokens, n);
}

/* The webhook event of a status change, or NULL. */
static const char *webhook_event(int prev, enum cw_call_status now)
{
	static const char *const names[] = {
		[CW_CALL_INITIATED] = "call.initiated",	  [CW_CALL_ONGOING] = "call.accepted",
		[CW_CALL_ENDED] = "call.ended",		  [CW_CALL_REJECTED] = "call.rejected",
		[CW_CALL_CANCELLED] = "call.cancelled",	  [CW_CALL_BUSY] = "call.busy",
		[CW_CALL_UNANSWERED] = "call.unanswered",
	};

	if (prev == (int)now || (unsigned)now >= CW_ARRAY_SIZE(names))
		return NULL;
	return names[now];
}

static void webhook(struct cw_push *p, const struct cw_push_config *c,
		    const struct cw_call_record *rec, const char *event, int64_t now)
{
	json_t *urls = c->webhook_urls ? json_loads(c->webhook_urls, 0, NULL) : NULL;
	char id[80], h[CW_SHA256_HEX_LEN + 1], seed[200];
	json_t *u, *body, *call;
	size_t i;

	if (!json_is_array(urls) || !json_array_size(urls) || !c->webhook_secret ||
	    !(call = cw_call_json(rec, now))) {
		json_decref(urls);
		return;
	}
	snprintf(seed, sizeof(seed), "%s/%s/%s", rec->app_id, rec->call.session_id, event);
	cw_sha256_hex(seed, strlen(seed), h);
	h[24] = '\0';
	snprintf(id, sizeof(id), "evt_%s", h);
	/* One body for every URL: the same event, with the same id. */
	body = json_pack("{s:s,s:s,s:s,s:I,s:{s:o}}", "id", id, "type", event, "appId", rec->app_id,
			 "createdAt", (json_int_t)now, "data", "call", call);
	json_array_foreach (urls, i, u) {
		if (json_is_string(u) && body)
			add(p, rec, CW_OUT_WEBHOOK, json_string_value(u), event, json_incref(body),
			    json_pack("{s:s}", "event", event), now + WEBHOOK_TTL_MS, now);
	}
	json_decref(body);
	json_decref(urls);
}

void cw_push_call_changed(struct cw_push *p, const struct cw_call_record *rec, int prev_status,
			  const struct cw_effects *fx, const char *device, int64_t now)
{
	struct cw_push_config c;
	const char *event;
	bool queued = false;

	if (!p || p->stopping || cw_store_push_config_get(p->store, rec->app_id, &c) != 0)
		return;
	sweep_rung(p, now);
	if (apns_ready(&c) || c.fcm_service_account) {
		for (size_t i = 0; i < fx->n; i++) {
			const struct cw_effect *e = &fx->list[i];
			const char *uid = e->uid;

			switch (e->event) {
			case CW_EV_INCOMING:
				if (c.push_always || !p->rt ||
				    cw_rt_connections(p->rt, rec->app_id, uid) == 0) {
					incoming(p, &c, rec, uid, now);
					queued = true;
				}
				break;
			case CW_EV_CANCELLED:
			case CW_EV_UNANSWERED:
				if (strcmp(uid, rec->call.initiator) != 0 &&
				    take_rung(p, rec, uid)) {
					ring_end(p, &c, rec, uid,
						 e->event == CW_EV_CANCELLED ? "cancelled"
									     : "unanswered",
						 NULL, now);
					queued = true;
				}
				break;
			case CW_EV_ACCEPTED_ELSEWHERE:
			case CW_EV_REJECTED_ELSEWHERE:
				if (take_rung(p, rec, uid)) {
					ring_end(p, &c, rec, uid,
						 e->event == CW_EV_ACCEPTED_ELSEWHERE
							 ? "accepted_elsewhere"
							 : "rejected_elsewhere",
						 device, now);
					queued = true;
				}
				break;
			default:
				break;
			}
		}
	}
	if ((event = webhook_event(prev_status, rec->call.status))) {
		if (prev_status < 0 && rec->call.status != CW_CALL_INITIATED)
			webhook(p, &c, rec, "call.initiated", now);
		webhook(p, &c, rec, event, now);
		queued = true;
	}
	cw_push_config_free(&c);
	if (queued)
		cw__push_kick(p);
}
