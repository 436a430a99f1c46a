/* calls: the Calls section of the contract over REST (and, through ws.c, the WebSocket). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "http/internal.h"
#include "util/util.h"

#define TOKEN CW_ALLOW(CW_CRED_TOKEN)
#define ANY (CW_ALLOW(CW_CRED_TOKEN) | CW_ALLOW(CW_CRED_REST) | CW_ALLOW(CW_CRED_MASTER))

struct actor {
	struct cw_actor who;
	char device[17];
};

static void actor_of(struct cw_req *req, struct actor *a)
{
	cw_rt_device_id(req->cred.hash, a->device);
	a->who.app = &req->app;
	a->who.uid = req->cred.uid;
	a->who.device = a->device;
}

static void reply_call(struct cw_req *req, int status, struct cw_call_record *rec)
{
	cw_reply_json(req, status, cw_call_json(rec, req->now));
	cw_call_record_free(rec);
}

void cw_h_call_create(struct cw_req *req)
{
	struct cw_call_record rec = {0};
	struct cw_initiate in;
	struct cw_verr e;
	struct actor a;
	int rc, retry = 0;
	json_t *body;

	if (!cw_req_app_auth(req, TOKEN) || !(body = cw_req_body(req, false)))
		return;
	if (cw_check_call_create(body, &in, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	actor_of(req, &a);
	rc = cw_calls_initiate(req->calls, &a.who, &in, &rec, &retry);
	switch (rc) {
	case 0:
		reply_call(req, 201, &rec);
		break;
	case CW_CALLS_IN_PROGRESS:
		cw_reply_error_with(req, CW_E_CALL_IN_PROGRESS,
				    json_pack("{s:o}", "call", cw_call_json(&rec, req->now)),
				    "you are already in call %s; end it first",
				    rec.call.session_id);
		cw_call_record_free(&rec);
		break;
	case CW_CALLS_RATE_LIMITED:
		req->retry_after = retry > 0 ? retry : 1;
		cw_reply_error(req, CW_E_RATE_LIMITED, "too many calls; retry in %d s",
			       req->retry_after);
		break;
	case -EINVAL:
		cw_reply_error(req, CW_E_BAD_REQUEST, "receiver: %s",
			       in.receiver_type == CW_RECEIVER_USER
				       ? "you cannot call yourself"
				       : "the group has no other member to ring");
		break;
	case -ENOENT:
		cw_reply_error(req, CW_E_NOT_FOUND, "receiver: %s '%s' not found",
			       in.receiver_type == CW_RECEIVER_USER ? "user" : "group",
			       in.receiver);
		break;
	case -EPERM:
		cw_reply_error(req, CW_E_FORBIDDEN, "receiver: you are not a member of group '%s'",
			       in.receiver);
		break;
	default:
		cw_reply_errno(req, rc, "call");
		break;
	}
out:
	free(in.metadata);
	json_decref(body);
}

static void act(struct cw_req *req, enum cw_action action, json_t *body)
{
	struct cw_call_record rec = {0}, cur = {0};
	struct actor a;
	int rc;

	actor_of(req, &a);
	rc = cw_calls_act(req->calls, &a.who, req->id, action, &rec);
	switch (rc) {
	case 0:
	case CW_CALL_SAME:
		reply_call(req, 200, &rec);
		break;
	case -ENOENT:
		cw_reply_error(req, CW_E_NOT_FOUND, "call %s not found", req->id);
		break;
	case -EPERM:
		cw_reply_error(req, CW_E_FORBIDDEN, "%s",
			       action == CW_ACT_CANCEL || action == CW_ACT_END_ALL
				       ? "only the initiator may do this"
				       : "the initiator cannot answer their own call");
		break;
	case -EALREADY:
		/* The call as it stands tells the client why. */
		if (cw_calls_get(req->calls, req->app.id, req->id, NULL, &cur) == 0) {
			cw_reply_error_with(
				req, CW_E_INVALID_STATE,
				json_pack("{s:o}", "call", cw_call_json(&cur, req->now)),
				"not allowed while the call is %s",
				cw_call_status_name(cur.call.status));
			cw_call_record_free(&cur);
		} else {
			cw_reply_error(req, CW_E_INVALID_STATE, "not allowed in this state");
		}
		break;
	default:
		cw_reply_errno(req, rc, "call");
		break;
	}
	json_decref(body);
}

static bool session_ok(struct cw_req *req)
{
	if (cw_valid_session_id(req->id))
		return true;
	cw_reply_error(req, CW_E_BAD_REQUEST,
		       "sessionId: must be 1 to %d characters of [A-Za-z0-9_-]", CW_APPID_MAX);
	return false;
}

void cw_h_call_accept(struct cw_req *req)
{
	json_t *body;

	if (!session_ok(req) || !cw_req_app_auth(req, TOKEN) || !(body = cw_req_body(req, true)))
		return;
	act(req, CW_ACT_ACCEPT, body);
}

void cw_h_call_reject(struct cw_req *req)
{
	struct cw_verr e;
	json_t *body;
	bool busy;

	if (!session_ok(req) || !cw_req_app_auth(req, TOKEN) || !(body = cw_req_body(req, true)))
		return;
	if (cw_check_reject(body, &busy, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		json_decref(body);
		return;
	}
	act(req, busy ? CW_ACT_BUSY : CW_ACT_REJECT, body);
}

void cw_h_call_cancel(struct cw_req *req)
{
	json_t *body;

	if (!session_ok(req) || !cw_req_app_auth(req, TOKEN) || !(body = cw_req_body(req, true)))
		return;
	act(req, CW_ACT_CANCEL, body);
}

void cw_h_call_end(struct cw_req *req)
{
	struct cw_verr e;
	bool for_all;
	json_t *body;

	if (!session_ok(req) || !cw_req_app_auth(req, TOKEN) || !(body = cw_req_body(req, true)))
		return;
	if (cw_check_end(body, &for_all, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		json_decref(body);
		return;
	}
	act(req, for_all ? CW_ACT_END_ALL : CW_ACT_END, body);
}

void cw_h_call_get(struct cw_req *req)
{
	struct cw_call_record rec;
	int err;

	if (!session_ok(req) || !cw_req_app_auth(req, ANY))
		return;
	err = cw_calls_get(req->calls, req->app.id, req->id,
			   req->cred.kind == CW_CRED_TOKEN ? req->cred.uid : NULL, &rec);
	if (err)
		cw_reply_errno(req, err, "call");
	else
		reply_call(req, 200, &rec);
}

void cw_h_call_active(struct cw_req *req)
{
	struct cw_call_record rec;
	int err;

	if (!cw_req_app_auth(req, TOKEN))
		return;
	err = cw_calls_active(req->calls, req->app.id, req->cred.uid, &rec);
	if (err == -ENOENT) {
		cw_reply_json(req, 200, json_pack("{s:n}", "call"));
	} else if (err) {
		cw_reply_errno(req, err, "call");
	} else {
		cw_reply_json(req, 200, json_pack("{s:o}", "call", cw_call_json(&rec, req->now)));
		cw_call_record_free(&rec);
	}
}

/* Parses one enumerated query value into *out; -1 when absent. */
static bool query_enum(struct cw_req *req, const char *name, const char *const *names, size_t n,
		       int *out)
{
	char buf[32];
	const char *v = cw_req_query(req, name, buf, sizeof(buf));

	*out = -1;
	if (!v)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	cw_reply_error(req, CW_E_BAD_REQUEST, "%s: not an allowed value", name);
	return false;
}

static bool query_id(struct cw_req *req, const char *name, char *buf, size_t size, const char **out)
{
	*out = cw_req_query(req, name, buf, size);
	if (!*out || cw_valid_uid(*out))
		return true;
	cw_reply_error(req, CW_E_BAD_REQUEST, "%s: must be 1 to %d characters of [A-Za-z0-9_.@-]",
		       name, CW_UID_MAX);
	return false;
}

void cw_h_calls_list(struct cw_req *req)
{
	static const char *const types[] = {"audio", "video"};
	static const char *const statuses[] = {"initiated", "ongoing", "ended",	    "rejected",
					       "cancelled", "busy",    "unanswered"};
	static const char *const directions[] = {"incoming", "outgoing"};
	static const char *const categories[] = {"call", "meet"};
	static const char *const bools[] = {"false", "true"};
	char lbuf[32], cbuf[64], ubuf[128], gbuf[128], next[32];
	struct cw_call_filter f = {0};
	struct cw_call_record *recs;
	struct cw_verr e;
	int limit, dir;
	size_t n;
	bool more;
	json_t *items;
	int err;

	if (!cw_req_app_auth(req, ANY))
		return;
	if (cw_parse_limit(cw_req_query(req, "limit", lbuf, sizeof(lbuf)), 30, 100, &limit, &e) ||
	    cw_call_cursor_decode(cw_req_query(req, "cursor", cbuf, sizeof(cbuf)), &f.before, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		return;
	}
	if (!query_enum(req, "type", types, 2, &f.type) ||
	    !query_enum(req, "status", statuses, 7, &f.status) ||
	    !query_enum(req, "direction", directions, 2, &dir) ||
	    !query_enum(req, "category", categories, 2, &f.category) ||
	    !query_enum(req, "hasRecording", bools, 2, &f.has_recording) ||
	    !query_id(req, "uid", ubuf, sizeof(ubuf), &f.with_uid) ||
	    !query_id(req, "guid", gbuf, sizeof(gbuf), &f.guid))
		return;
	f.app_id = req->app.id;
	f.limit = (size_t)limit;
	f.direction = dir + 1;
	if (req->cred.kind == CW_CRED_TOKEN) {
		f.member = req->cred.uid;
	} else if (dir >= 0) {
		/* For the app's backend a direction is relative to the uid filter. */
		if (!f.with_uid) {
			cw_reply_error(req, CW_E_BAD_REQUEST,
				       "direction: needs uid with the REST API key");
			return;
		}
		f.member = f.with_uid;
		f.with_uid = NULL;
	}
	err = cw_store_call_list(req->store, &f, &recs, &n, &more);
	if (err) {
		cw_reply_errno(req, err, "call");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, cw_call_json(&recs[i], req->now));
	if (more && n) {
		cw_call_cursor_encode(recs[n - 1].id, next);
		cw_reply_json(req, 200, json_pack("{s:o,s:s}", "data", items, "next", next));
	} else {
		cw_reply_json(req, 200, json_pack("{s:o,s:n}", "data", items, "next"));
	}
	cw_call_records_free(recs, n);
}
