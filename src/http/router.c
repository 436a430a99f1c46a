/* router: the route table, path matching with {params}, and method checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "util/util.h"

static const struct cw_route routes[] = {
	{"/healthz", .get = cw_h_healthz},
	{"/metrics", .get = cw_h_metrics},
	{"/v1/apps", .get = cw_h_apps_list, .post = cw_h_app_create},
	{"/v1/apps/{appId}", .get = cw_h_app_get, .patch = cw_h_app_patch},
	{"/v1/apps/{appId}/users", .get = cw_h_users_list, .post = cw_h_user_create},
	{"/v1/apps/{appId}/users/{uid}", .get = cw_h_user_get, .patch = cw_h_user_patch,
	 .del = cw_h_user_delete},
	{"/v1/apps/{appId}/users/{uid}/auth_tokens", .post = cw_h_token_create,
	 .del = cw_h_tokens_revoke},
	{"/v1/apps/{appId}/groups", .get = cw_h_groups_list, .post = cw_h_group_create},
	{"/v1/apps/{appId}/groups/{guid}", .get = cw_h_group_get, .del = cw_h_group_delete},
	{"/v1/apps/{appId}/groups/{guid}/members", .post = cw_h_members_add},
	{"/v1/apps/{appId}/groups/{guid}/members/{uid}", .del = cw_h_member_remove},
	{"/v1/apps/{appId}/login", .post = cw_h_login},
	{"/v1/apps/{appId}/me", .get = cw_h_me},
	{"/v1/apps/{appId}/logout", .post = cw_h_logout},
	{"/v1/apps/{appId}/me/push_tokens", .get = cw_h_push_tokens_list,
	 .post = cw_h_push_token_register},
	{"/v1/apps/{appId}/me/push_tokens/{token}", .del = cw_h_push_token_delete},
	{"/v1/apps/{appId}/push", .get = cw_h_push_get, .patch = cw_h_push_patch},
	{"/v1/apps/{appId}/webhooks", .get = cw_h_webhooks_get, .patch = cw_h_webhooks_patch},
	{"/v1/apps/{appId}/calls", .get = cw_h_calls_list, .post = cw_h_call_create},
	/* Before {sessionId}: "active" is not a session id the server makes. */
	{"/v1/apps/{appId}/calls/active", .get = cw_h_call_active},
	{"/v1/apps/{appId}/calls/{sessionId}", .get = cw_h_call_get},
	{"/v1/apps/{appId}/calls/{sessionId}/accept", .post = cw_h_call_accept},
	{"/v1/apps/{appId}/calls/{sessionId}/reject", .post = cw_h_call_reject},
	{"/v1/apps/{appId}/calls/{sessionId}/cancel", .post = cw_h_call_cancel},
	{"/v1/apps/{appId}/calls/{sessionId}/end", .post = cw_h_call_end},
	{"/v1/apps/{appId}/sessions/{sessionId}/token", .post = cw_h_session_token},
};

/* Not matched by path: the router hands it the requests for the web folder, so that logs
 * and metrics name them route="static". */
static const struct cw_route static_route = {.pattern = "static"};

const char *cw_method_name(int method)
{
	switch (method) {
	case CW_GET:
		return "GET";
	case CW_POST:
		return "POST";
	case CW_PUT:
		return "PUT";
	case CW_PATCH:
		return "PATCH";
	case CW_DELETE:
		return "DELETE";
	case CW_HEAD:
		return "HEAD";
	case CW_OPTIONS:
		return "OPTIONS";
	}
	return "OTHER";
}

/* Bit of *too_long for {token}, after those of the positional parameters. */
#define TOKEN_TOO_LONG (1u << 3)

/* Matches path against pattern segment by segment; a "{name}" segment captures one
 * non-empty path segment into the request, and sets bit i of *too_long when the i-th
 * parameter does not fit. A "{token}" segment, which may be far longer than an id, is only
 * located (*token, *token_len) for the caller to copy. Returns false on mismatch. */
static bool match(const char *pattern, const char *path, struct cw_req *req, unsigned *too_long,
		  const char **token, size_t *token_len)
{
	char *dst;
	size_t cap;
	int nparam = 0;

	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
		if (*pattern == '{' && plen == 7 && memcmp(pattern, "{token}", 7) == 0) {
			if (slen == 0)
				return false;
			*token = path;
			*token_len = slen;
		} else if (*pattern == '{') {
			if (slen == 0)
				return false;
			/* app id, then id (uid/guid), then sub (a member uid). */
			if (nparam == 0) {
				dst = req->app_id;
				cap = sizeof(req->app_id);
			} else if (nparam == 1) {
				dst = req->id;
				cap = sizeof(req->id);
			} else {
				dst = req->sub;
				cap = sizeof(req->sub);
			}
			if (slen >= cap) {
				/* Too long to be an id: keep a prefix; the caller answers 400. */
				*too_long |= 1u << nparam;
				memcpy(dst, path, cap - 1);
				dst[cap - 1] = '\0';
			} else {
				memcpy(dst, path, slen);
				dst[slen] = '\0';
			}
			nparam++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	return !*pattern && !*path;
}

static cw_handler handler_for(const struct cw_route *r, int method)
{
	switch (method) {
	case CW_GET:
		return r->get;
	case CW_POST:
		return r->post;
	case CW_PATCH:
		return r->patch;
	case CW_DELETE:
		return r->del;
	}
	return NULL;
}

static void allowed(const struct cw_route *r, char *buf, size_t size)
{
	const int methods[] = {CW_GET, CW_POST, CW_PATCH, CW_DELETE};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < CW_ARRAY_SIZE(methods); i++) {
		if (handler_for(r, methods[i]))
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
					      cw_method_name(methods[i]));
	}
}

/* Path parameters are checked before any credential: a malformed id can name nothing. */
static bool params_valid(struct cw_req *req, unsigned too_long)
{
	const char *p = req->route->pattern;

	if (strstr(p, "{appId}") && ((too_long & 1) || !cw_valid_app_id(req->app_id))) {
		cw_reply_error(req, CW_E_BAD_REQUEST,
			       "appId: must be 1 to %d characters of [A-Za-z0-9_-]", CW_APPID_MAX);
		return false;
	}
	if (req->id[0] && strstr(p, "{sessionId}")) {
		if ((too_long & 2) || !cw_valid_session_id(req->id)) {
			cw_reply_error(req, CW_E_BAD_REQUEST,
				       "sessionId: must be 1 to %d characters of [A-Za-z0-9_-]",
				       CW_APPID_MAX);
			return false;
		}
	} else if (req->id[0] && ((too_long & 2) || !cw_valid_uid(req->id))) {
		cw_reply_error(req, CW_E_BAD_REQUEST,
			       "%s: must be 1 to %d characters of [A-Za-z0-9_.@-]",
			       strstr(p, "{guid}") ? "guid" : "uid", CW_UID_MAX);
		return false;
	}
	if (req->sub[0] && ((too_long & 4) || !cw_valid_uid(req->sub))) {
		cw_reply_error(req, CW_E_BAD_REQUEST,
			       "uid: must be 1 to %d characters of [A-Za-z0-9_.@-]", CW_UID_MAX);
		return false;
	}
	if (strstr(p, "{token}") &&
	    ((too_long & TOKEN_TOO_LONG) || !cw_valid_push_token(req->token))) {
		cw_reply_error(req, CW_E_BAD_REQUEST,
			       "token: must be 1 to %d characters of [A-Za-z0-9_:.-]",
			       CW_PUSH_TOKEN_MAX);
		return false;
	}
	return true;
}

/* Copies the {token} that match() located; false (with a 500 sent) without memory. */
static bool take_token(struct cw_req *req, const char *token, size_t len, unsigned *too_long)
{
	if (!token)
		return true;
	if (len > CW_PUSH_TOKEN_MAX) {
		*too_long |= TOKEN_TOO_LONG;
		return true;
	}
	if (!(req->token = strndup(token, len))) {
		cw_reply_error(req, CW_E_INTERNAL, "out of memory");
		return false;
	}
	return true;
}

void cw_dispatch(struct cw_req *req)
{
	cw_handler h;

	for (size_t i = 0; i < CW_ARRAY_SIZE(routes); i++) {
		const char *token = NULL;
		size_t token_len = 0;
		unsigned too_long = 0;

		req->app_id[0] = req->id[0] = req->sub[0] = '\0';
		if (!match(routes[i].pattern, req->path, req, &too_long, &token, &token_len))
			continue;
		req->route = &routes[i];
		h = handler_for(&routes[i], req->method);
		if (!h) {
			allowed(&routes[i], req->allow, sizeof(req->allow));
			cw_reply_error(req, CW_E_METHOD, "method %s is not allowed on %s; use %s",
				       cw_method_name(req->method), routes[i].pattern, req->allow);
			return;
		}
		if (req->body_len > CW_BODY_MAX) {
			cw_reply_error(req, CW_E_TOO_LARGE, "body: larger than %d bytes",
				       CW_BODY_MAX);
			return;
		}
		if (!take_token(req, token, token_len, &too_long) || !params_valid(req, too_long))
			return;
		h(req);
		if (!req->status)
			cw_reply_error(req, CW_E_INTERNAL, "no response");
		return;
	}
	req->app_id[0] = req->id[0] = req->sub[0] = '\0';
	/* Outside the API, paths name files of the web folder, when there is one. */
	if (req->web_root && cw_static_path(req->path)) {
		req->route = &static_route;
		cw_static_serve(req);
		return;
	}
	cw_reply_error(req, CW_E_NOT_FOUND, "no route for %s", req->path);
}

void cw_req_release(struct cw_req *req)
{
	free(req->resp);
	req->resp = NULL;
	free(req->token);
	req->token = NULL;
	cw_app_free(&req->app);
}
