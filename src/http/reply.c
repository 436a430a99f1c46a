/* reply: responses, credential checks, body and query access, JSON views of stored objects. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "util/util.h"

static const struct {
	int status;
	const char *code;
} errors[] = {
	[CW_E_BAD_REQUEST] = {400, "ERR_BAD_REQUEST"},
	[CW_E_UNAUTHORIZED] = {401, "ERR_UNAUTHORIZED"},
	[CW_E_FORBIDDEN] = {403, "ERR_FORBIDDEN"},
	[CW_E_NOT_FOUND] = {404, "ERR_NOT_FOUND"},
	/* The contract has no code of its own for a wrong method. */
	[CW_E_METHOD] = {405, "ERR_BAD_REQUEST"},
	[CW_E_CONFLICT] = {409, "ERR_CONFLICT"},
	[CW_E_TOO_LARGE] = {413, "ERR_PAYLOAD_TOO_LARGE"},
	[CW_E_INTERNAL] = {500, "ERR_INTERNAL"},
	[CW_E_CALL_IN_PROGRESS] = {409, "ERR_CALL_IN_PROGRESS"},
	[CW_E_INVALID_STATE] = {409, "ERR_INVALID_STATE"},
	[CW_E_RATE_LIMITED] = {429, "ERR_RATE_LIMITED"},
};

void cw_reply_text(struct cw_req *req, int status, const char *type, char *text, size_t len)
{
	free(req->resp);
	req->status = status;
	req->content_type = type;
	req->resp = text;
	req->resp_len = len;
	req->cache_control = NULL;
	req->omit_body = false;
	req->n_headers = 0;
	req->header_text_len = 0;
}

int cw_reply_header(struct cw_req *req, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value), at = req->header_text_len;

	/* Stored as "name:\0value\0", the form libwebsockets takes names in. */
	if (req->n_headers == CW_REQ_HEADERS_MAX || nlen + vlen + 3 > sizeof(req->header_text) - at)
		return -ENOSPC;
	memcpy(req->header_text + at, name, nlen);
	memcpy(req->header_text + at + nlen, ":", 2);
	memcpy(req->header_text + at + nlen + 2, value, vlen + 1);
	req->headers[req->n_headers].name = (uint16_t)at;
	req->headers[req->n_headers].value = (uint16_t)(at + nlen + 2);
	req->n_headers++;
	req->header_text_len = at + nlen + vlen + 3;
	return 0;
}

void cw_reply_json(struct cw_req *req, int status, json_t *json)
{
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;

	json_decref(json);
	if (!text) {
		cw_reply_error(req, CW_E_INTERNAL, "out of memory");
		return;
	}
	cw_reply_text(req, status, "application/json", text, strlen(text));
}

void cw_reply_empty(struct cw_req *req, int status)
{
	cw_reply_text(req, status, NULL, NULL, 0);
}

static void reply_error(struct cw_req *req, enum cw_err err, json_t *extra, const char *fmt,
			va_list ap)
{
	char msg[512];
	json_t *j, *e;
	char *text;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	e = json_pack("{s:s,s:s}", "code", errors[err].code, "message", msg);
	if (e && extra)
		json_object_update(e, extra);
	json_decref(extra);
	j = e ? json_pack("{s:o}", "error", e) : NULL;
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		/* Out of memory: a fixed body still tells the client what happened. */
		text = strdup(
			"{\"error\":{\"code\":\"ERR_INTERNAL\",\"message\":\"out of memory\"}}");
	}
	cw_reply_text(req, errors[err].status, "application/json", text, text ? strlen(text) : 0);
}

void cw_reply_error(struct cw_req *req, enum cw_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error(req, err, NULL, fmt, ap);
	va_end(ap);
}

void cw_reply_error_with(struct cw_req *req, enum cw_err err, json_t *extra, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error(req, err, extra, fmt, ap);
	va_end(ap);
}

void cw_reply_errno(struct cw_req *req, int err, const char *what)
{
	switch (err) {
	case -ENOENT:
		cw_reply_error(req, CW_E_NOT_FOUND, "%s not found", what);
		break;
	case -EEXIST:
		cw_reply_error(req, CW_E_CONFLICT, "%s already exists", what);
		break;
	default:
		cw_reply_error(req, CW_E_INTERNAL, "storage error");
		break;
	}
}

static bool resolve(struct cw_req *req)
{
	int err;

	if (req->cred_preset)
		return true;
	if (!req->bearer) {
		cw_reply_error(req, CW_E_UNAUTHORIZED,
			       "missing credentials: send Authorization: Bearer <key or token>");
		return false;
	}
	err = cw_auth_resolve(req->auth, req->bearer, req->now, &req->cred);
	if (err == -EACCES) {
		cw_reply_error(req, CW_E_UNAUTHORIZED, "invalid, expired or revoked credentials");
		return false;
	}
	if (err) {
		cw_reply_error(req, CW_E_INTERNAL, "storage error");
		return false;
	}
	return true;
}

bool cw_req_master(struct cw_req *req)
{
	if (!resolve(req))
		return false;
	if (req->cred.kind != CW_CRED_MASTER) {
		cw_reply_error(req, CW_E_FORBIDDEN, "this needs the master key");
		return false;
	}
	return true;
}

bool cw_req_app_auth(struct cw_req *req, unsigned allowed)
{
	int err;

	if (!resolve(req))
		return false;
	/* Another app's credential sees the same 404 as an unknown app, so ids do not leak. */
	if (req->cred.kind != CW_CRED_MASTER && strcmp(req->cred.app_id, req->app_id) != 0) {
		cw_reply_error(req, CW_E_NOT_FOUND, "app not found");
		return false;
	}
	err = cw_store_app_get(req->store, req->app_id, &req->app);
	if (err) {
		cw_reply_errno(req, err, "app");
		return false;
	}
	if (!(allowed & CW_ALLOW(req->cred.kind))) {
		cw_reply_error(req, CW_E_FORBIDDEN, "%s",
			       (allowed & CW_ALLOW(CW_CRED_TOKEN))
				       ? "this needs a user's auth token"
				       : "this needs the app's REST API key");
		return false;
	}
	return true;
}

json_t *cw_req_body(struct cw_req *req, bool optional)
{
	struct cw_verr e;
	json_t *j;

	if (req->body_json)
		return json_incref(req->body_json);
	if (optional && req->body_len == 0)
		return json_object();
	if (cw_parse_object(req->body, req->body_len, &j, &e) != 0) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		return NULL;
	}
	return j;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *cw_req_query(struct cw_req *req, const char *name, char *buf, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	while (p && *p) {
		size_t len = strcspn(p, "&");
		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t o = 0;
			for (size_t i = nlen + 1; i < len && o + 1 < size; i++) {
				int hi, lo;
				if (p[i] == '%' && i + 2 < len && (hi = hexval(p[i + 1])) >= 0 &&
				    (lo = hexval(p[i + 2])) >= 0) {
					buf[o++] = (char)(hi << 4 | lo);
					i += 2;
				} else {
					buf[o++] = p[i] == '+' ? ' ' : p[i];
				}
			}
			buf[o] = '\0';
			return buf;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return NULL;
}

bool cw_req_page(struct cw_req *req, int *limit, char after[CW_UID_MAX + 1])
{
	char lbuf[32], cbuf[256];
	struct cw_verr e;

	if (cw_parse_limit(cw_req_query(req, "limit", lbuf, sizeof(lbuf)), 30, 100, limit, &e) ||
	    cw_cursor_decode(cw_req_query(req, "cursor", cbuf, sizeof(cbuf)), after, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		return false;
	}
	return true;
}

void cw_reply_page(struct cw_req *req, json_t *items, bool more, const char *last_id)
{
	char cursor[2 * CW_UID_MAX];
	json_t *next = json_null();

	if (more && last_id) {
		cw_cursor_encode(last_id, cursor);
		next = json_string(cursor);
	}
	cw_reply_json(req, 200, json_pack("{s:o,s:o}", "data", items, "next", next));
}

json_t *cw_settings_json(const struct cw_settings *s)
{
	return json_pack("{s:b,s:i,s:b,s:i,s:i,s:i,s:i}", "authKeyLogin", s->auth_key_login,
			 "ringTimeout", s->ring_timeout, "autoBusy", s->auto_busy, "reconnectGrace",
			 s->reconnect_grace, "idleTimeout", s->idle_timeout, "maxParticipants",
			 s->max_participants, "callRateLimit", s->call_rate_limit);
}

json_t *cw_app_json(const struct cw_app *app)
{
	return json_pack("{s:s,s:s,s:o,s:I}", "appId", app->id, "name", app->name, "settings",
			 cw_settings_json(&app->settings), "createdAt",
			 (json_int_t)app->created_at);
}

json_t *cw_user_json(const struct cw_user *user)
{
	json_t *meta = user->metadata ? json_loads(user->metadata, 0, NULL) : NULL;

	return json_pack("{s:s,s:s,s:s?,s:o,s:I,s:I}", "uid", user->uid, "name", user->name,
			 "avatar", user->avatar, "metadata", meta ? meta : json_object(),
			 "createdAt", (json_int_t)user->created_at, "updatedAt",
			 (json_int_t)user->updated_at);
}

json_t *cw_group_json(const struct cw_group *group)
{
	json_t *members = json_array();

	for (size_t i = 0; i < group->n_members; i++)
		json_array_append_new(members, json_string(group->members[i]));
	return json_pack("{s:s,s:s,s:o,s:I}", "guid", group->guid, "name", group->name, "members",
			 members, "createdAt", (json_int_t)group->created_at);
}
