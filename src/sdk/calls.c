/* calls: ringing over the realtime connection: initiate, accept, reject, cancel, end,
 * get and the active call, each asynchronous with a blocking twin. */
#include <stdlib.h>
#include <string.h>

#include "sdk.h"
#include "session.h"

/* A call result: the call, {"call": call|null} for call.active, or a server error that
 * may carry the call it is about. */
static void finish_call(struct cw__req *r, int err, const char *message, json_t *result)
{
	cw_call_cb cb = (cw_call_cb)r->cb;
	cw_call *call = NULL;
	json_t *obj = result;
	int perr;

	if (!err && strcmp(r->method, "call.active") == 0)
		obj = json_object_get(result, "call");
	else if (err)
		obj = json_object_get(result, "call");
	if (obj && !json_is_null(obj)) {
		perr = cw__call_from_json(&call, obj);
		if (perr && !err) {
			err = perr;
			message = NULL;
		}
	} else if (!err && strcmp(r->method, "call.active") != 0) {
		err = CW_ERR_PROTOCOL;
	}
	if (cb)
		cb(r->c, err, err ? (message ? message : cw_strerror(err)) : NULL, call, r->arg);
	if (!err && call && strcmp(r->method, "call.initiate") == 0)
		cw__calling_on_initiated(r->c, call);
	if (!err && call && strcmp(r->method, "call.accept") == 0)
		cw__calling_on_accepted(r->c, call);
	cw_call_unref(call);
}

static int submit_call(cw_client *c, const char *method, json_t *params, bool idempotent,
		       int timeout_ms, cw_call_cb cb, void *arg)
{
	struct cw__req *r;
	int err;

	if (!c) {
		json_decref(params);
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "no client");
		return CW_ERR_INVALID_ARGUMENT;
	}
	err = cw__req_new(&r, c, CW__REQ_WS, method, params, finish_call, (void *)cb, arg);
	if (err)
		return err;
	r->idempotent = idempotent;
	r->deadline = cw__now_ms() + cw__timeout_of(c, timeout_ms);
	return cw__submit(c, r, true);
}

static int bad_argument(const char *what)
{
	cw__set_error(CW_ERR_INVALID_ARGUMENT, what);
	return CW_ERR_INVALID_ARGUMENT;
}

static int initiate(cw_client *c, const char *receiver, cw_receiver_type rtype, cw_call_type type,
		    int ring_timeout_s, const char *metadata_json, int timeout_ms, cw_call_cb cb,
		    void *arg)
{
	json_t *params, *meta = NULL;

	if (!receiver || !*receiver)
		return bad_argument("a receiver is needed");
	if (!cw_receiver_type_str(rtype) || !cw_call_type_str(type))
		return bad_argument("unknown receiver type or call type");
	if (ring_timeout_s < 0)
		return bad_argument("the ring timeout cannot be negative");
	if (metadata_json) {
		meta = json_loads(metadata_json, 0, NULL);
		if (!json_is_object(meta)) {
			json_decref(meta);
			return bad_argument("metadata must be a JSON object");
		}
	}
	params = json_pack("{s:s,s:s,s:s}", "receiver", receiver, "receiverType",
			   cw_receiver_type_str(rtype), "type", cw_call_type_str(type));
	if (params &&
	    ((ring_timeout_s > 0 &&
	      json_object_set_new(params, "timeout", json_integer(ring_timeout_s)) != 0) ||
	     (meta && json_object_set(params, "metadata", meta) != 0))) {
		json_decref(params);
		params = NULL;
	}
	json_decref(meta);
	/* Not repeated after a lost connection: a second initiate is a second call. */
	return submit_call(c, "call.initiate", params, false, timeout_ms, cb, arg);
}

/* extra: more params, if want_extra (NULL then means out of memory). */
static int on_session(cw_client *c, const char *method, const char *session_id, json_t *extra,
		      int timeout_ms, cw_call_cb cb, void *arg, bool want_extra)
{
	json_t *params;

	if (!session_id || !*session_id) {
		json_decref(extra);
		return bad_argument("a session id is needed");
	}
	params = want_extra ? extra : json_object();
	if (params && json_object_set_new(params, "sessionId", json_string(session_id)) != 0) {
		json_decref(params);
		params = NULL;
	}
	/* The contract makes repeating these safe: the same user repeating an action gets
	 * the same call. */
	return submit_call(c, method, params, true, timeout_ms, cb, arg);
}

static int reject(cw_client *c, const char *session_id, cw_call_status status, int timeout_ms,
		  cw_call_cb cb, void *arg)
{
	if (status != CW_STATUS_REJECTED && status != CW_STATUS_BUSY)
		return bad_argument("a call is rejected with CW_STATUS_REJECTED or CW_STATUS_BUSY");
	return on_session(c, "call.reject", session_id,
			  json_pack("{s:s}", "status", cw_call_status_str(status)), timeout_ms, cb,
			  arg, true);
}

/* Runs an asynchronous call function as a blocking one; *callp stays NULL unless a call
 * comes back. */
#define SYNC_CALL(c, callp, expr_with_w)                                                           \
	do {                                                                                       \
		struct cw__waiter w;                                                               \
		if ((callp))                                                                       \
			*(callp) = NULL;                                                           \
		int err_ = cw__wait_begin((c), &w);                                                \
		if (err_)                                                                          \
			return err_;                                                               \
		err_ = cw__wait_end(&w, (expr_with_w));                                            \
		if ((callp))                                                                       \
			*(callp) = w.call;                                                         \
		else                                                                               \
			cw_call_unref(w.call);                                                     \
		return err_;                                                                       \
	} while (0)

int cw_initiate_call(cw_client *c, const char *receiver, cw_receiver_type rtype, cw_call_type type,
		     int ring_timeout_s, const char *metadata_json, cw_call_cb cb, void *arg)
{
	return initiate(c, receiver, rtype, type, ring_timeout_s, metadata_json, 0, cb, arg);
}

int cw_initiate_call_sync(cw_client *c, const char *receiver, cw_receiver_type rtype,
			  cw_call_type type, int ring_timeout_s, const char *metadata_json,
			  int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  initiate(c, receiver, rtype, type, ring_timeout_s, metadata_json, timeout_ms,
			   cw__sync_call_cb, &w));
}

int cw_accept_call(cw_client *c, const char *session_id, cw_call_cb cb, void *arg)
{
	return on_session(c, "call.accept", session_id, NULL, 0, cb, arg, false);
}

int cw_accept_call_sync(cw_client *c, const char *session_id, int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  on_session(c, "call.accept", session_id, NULL, timeout_ms, cw__sync_call_cb, &w,
			     false));
}

int cw_reject_call(cw_client *c, const char *session_id, cw_call_status status, cw_call_cb cb,
		   void *arg)
{
	return reject(c, session_id, status, 0, cb, arg);
}

int cw_reject_call_sync(cw_client *c, const char *session_id, cw_call_status status, int timeout_ms,
			cw_call **callp)
{
	SYNC_CALL(c, callp, reject(c, session_id, status, timeout_ms, cw__sync_call_cb, &w));
}

int cw_cancel_call(cw_client *c, const char *session_id, cw_call_cb cb, void *arg)
{
	return on_session(c, "call.cancel", session_id, NULL, 0, cb, arg, false);
}

int cw_cancel_call_sync(cw_client *c, const char *session_id, int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  on_session(c, "call.cancel", session_id, NULL, timeout_ms, cw__sync_call_cb, &w,
			     false));
}

int cw_end_call(cw_client *c, const char *session_id, cw_call_cb cb, void *arg)
{
	return on_session(c, "call.end", session_id, NULL, 0, cb, arg, false);
}

int cw_end_call_sync(cw_client *c, const char *session_id, int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  on_session(c, "call.end", session_id, NULL, timeout_ms, cw__sync_call_cb, &w,
			     false));
}

int cw_end_call_for_all(cw_client *c, const char *session_id, cw_call_cb cb, void *arg)
{
	return on_session(c, "call.end", session_id, json_pack("{s:b}", "forAll", 1), 0, cb, arg,
			  true);
}

int cw_end_call_for_all_sync(cw_client *c, const char *session_id, int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  on_session(c, "call.end", session_id, json_pack("{s:b}", "forAll", 1), timeout_ms,
			     cw__sync_call_cb, &w, true));
}

int cw_get_call(cw_client *c, const char *session_id, cw_call_cb cb, void *arg)
{
	return on_session(c, "call.get", session_id, NULL, 0, cb, arg, false);
}

int cw_get_call_sync(cw_client *c, const char *session_id, int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  on_session(c, "call.get", session_id, NULL, timeout_ms, cw__sync_call_cb, &w,
			     false));
}

int cw_get_active_call(cw_client *c, cw_call_cb cb, void *arg)
{
	return submit_call(c, "call.active", json_object(), true, 0, cb, arg);
}

int cw_get_active_call_sync(cw_client *c, int timeout_ms, cw_call **callp)
{
	SYNC_CALL(c, callp,
		  submit_call(c, "call.active", json_object(), true, timeout_ms, cw__sync_call_cb,
			      &w));
}
