/* http private: the request object, routing and reply helpers shared by the handlers. */
#ifndef CW_HTTP_INTERNAL_H
#define CW_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "http/validate.h"
#include "store/store.h"

enum cw_method {
	CW_GET = 1 << 0,
	CW_POST = 1 << 1,
	CW_PUT = 1 << 2,
	CW_PATCH = 1 << 3,
	CW_DELETE = 1 << 4,
	CW_HEAD = 1 << 5,
	CW_OPTIONS = 1 << 6,
};

const char *cw_method_name(int method);

/* Errors of the contract: each maps to an HTTP status and an ERR_ code. */
enum cw_err {
	CW_E_BAD_REQUEST,
	CW_E_UNAUTHORIZED,
	CW_E_FORBIDDEN,
	CW_E_NOT_FOUND,
	CW_E_METHOD,
	CW_E_CONFLICT,
	CW_E_TOO_LARGE,
	CW_E_INTERNAL,
	CW_E_CALL_IN_PROGRESS,
	CW_E_INVALID_STATE,
	CW_E_RATE_LIMITED,
};

struct cw_metrics;
struct cw_route;
struct cw_calls;
struct cw_rt;

/* Room for the extra response headers of one request (cw_reply_header). */
#define CW_REQ_HEADERS_MAX 8
#define CW_REQ_HEADER_TEXT 1024

/* One HTTP request and its response, independent of libwebsockets. */
struct cw_req {
	struct cw_store *store;
	struct cw_auth *auth;
	struct cw_metrics *metrics;
	struct cw_calls *calls;
	struct cw_rt *rt;
	struct cw_sessions *sessions;
	int method;
	const char *path;
	const char *query;  /* "a=1&b=2", already URL-decoded per value, or "" */
	const char *bearer; /* the Authorization: Bearer value, or NULL */
	const char *body;   /* raw body bytes, or NULL */
	json_t *body_json;  /* the body already parsed (WebSocket params), or NULL; borrowed */
	size_t body_len;
	int64_t now; /* Unix ms at the start of the request */

	/* For the files of the web folder (static.c). */
	const char *web_root;	   /* the folder's real path, or NULL: no files are served */
	const char *if_none_match; /* the If-None-Match header, or NULL */

	/* Filled by routing. */
	const struct cw_route *route;
	char app_id[CW_APPID_MAX + 1];
	char id[CW_UID_MAX + 1];  /* uid or guid */
	char sub[CW_UID_MAX + 1]; /* member uid */
	char *token;		  /* {token}: a device token, up to 4 KB (malloc'd) */
	struct cw_cred cred;
	bool cred_preset;  /* cred was resolved already (a WebSocket request) */
	struct cw_app app; /* loaded by cw_req_app_auth */

	/* The response. */
	int status;
	char *resp; /* malloc'd */
	size_t resp_len;
	const char *content_type;
	char allow[64];
	int retry_after; /* seconds for a Retry-After header, 0 = none */

	/* Cache-Control, static text; NULL: "no-store". */
	const char *cache_control;
	/* Send the headers only, with Content-Length still resp_len (a 304); the server also
	 * leaves out the body of every answer to HEAD. resp may then be NULL. */
	bool omit_body;
	/* More headers, set by cw_reply_header: name and value offsets into header_text. */
	struct {
		uint16_t name, value;
	} headers[CW_REQ_HEADERS_MAX];
	size_t n_headers, header_text_len;
	char header_text[CW_REQ_HEADER_TEXT];
};

typedef void (*cw_handler)(struct cw_req *req);

struct cw_route {
	const char *pattern; /* e.g. "/v1/apps/{appId}/users/{uid}" */
	cw_handler get, post, patch, del;
};

/* Routes and runs the request; always leaves a response in req. */
void cw_dispatch(struct cw_req *req);
void cw_req_release(struct cw_req *req);

/* Replies. json is stolen. A new reply drops the extra headers, cache control and
 * omit_body of the one it replaces. */
void cw_reply_json(struct cw_req *req, int status, json_t *json);
void cw_reply_text(struct cw_req *req, int status, const char *type, char *text, size_t len);
/* Adds a header to the reply already set; name is lowercase without the colon. Both are
 * copied. Returns 0, or -ENOSPC when the request has no room left for it. */
int cw_reply_header(struct cw_req *req, const char *name, const char *value);
void cw_reply_empty(struct cw_req *req, int status);
void cw_reply_error(struct cw_req *req, enum cw_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error with more fields in its error object (e.g. "call"); extra is stolen. */
void cw_reply_error_with(struct cw_req *req, enum cw_err err, json_t *extra, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Replies 400 for a validation failure, 404 for -ENOENT, 409 for -EEXIST, else 500. */
void cw_reply_errno(struct cw_req *req, int err, const char *what);

/* Credential checks; each replies and returns false when the request may not go on.
 * allowed: a mask of 1 << CW_CRED_* kinds. For app-scoped routes the app is loaded into
 * req->app. */
#define CW_ALLOW(kind) (1u << (kind))
bool cw_req_master(struct cw_req *req);
bool cw_req_app_auth(struct cw_req *req, unsigned allowed);
/* The body as a JSON object; replies 400 and returns NULL when it is not one. With
 * optional, an empty body reads as {}. */
json_t *cw_req_body(struct cw_req *req, bool optional);
/* A query parameter's value (URL-decoded) into buf, or NULL when absent. */
const char *cw_req_query(struct cw_req *req, const char *name, char *buf, size_t size);
/* limit and cursor of a list request; replies 400 and returns false when invalid. */
bool cw_req_page(struct cw_req *req, int *limit, char after[CW_UID_MAX + 1]);
/* {"data": items, "next": cursor-or-null}; items is stolen. */
void cw_reply_page(struct cw_req *req, json_t *items, bool more, const char *last_id);

/* JSON views of stored objects. */
json_t *cw_app_json(const struct cw_app *app);
json_t *cw_settings_json(const struct cw_settings *s);
json_t *cw_user_json(const struct cw_user *user);
json_t *cw_group_json(const struct cw_group *group);

/* Metrics. */
struct cw_sfu;
struct cw_push;
struct cw_metrics *cw_metrics_new(const struct cw_sfu *sfu, struct cw_push *push);
void cw_metrics_free(struct cw_metrics *m);
void cw_metrics_request(struct cw_metrics *m, const char *route, int method, int status);
void cw_metrics_connections(struct cw_metrics *m, int delta);
char *cw_metrics_render(struct cw_metrics *m, size_t *len);

/* Handlers, one file per resource. */
void cw_h_healthz(struct cw_req *req);
void cw_h_metrics(struct cw_req *req);
void cw_h_apps_list(struct cw_req *req);
void cw_h_app_create(struct cw_req *req);
void cw_h_app_get(struct cw_req *req);
void cw_h_app_patch(struct cw_req *req);
void cw_h_users_list(struct cw_req *req);
void cw_h_user_create(struct cw_req *req);
void cw_h_user_get(struct cw_req *req);
void cw_h_user_patch(struct cw_req *req);
void cw_h_user_delete(struct cw_req *req);
void cw_h_groups_list(struct cw_req *req);
void cw_h_group_create(struct cw_req *req);
void cw_h_group_get(struct cw_req *req);
void cw_h_group_delete(struct cw_req *req);
void cw_h_members_add(struct cw_req *req);
void cw_h_member_remove(struct cw_req *req);
void cw_h_token_create(struct cw_req *req);
void cw_h_tokens_revoke(struct cw_req *req);
void cw_h_login(struct cw_req *req);
void cw_h_me(struct cw_req *req);
void cw_h_logout(struct cw_req *req);
void cw_h_call_create(struct cw_req *req);
void cw_h_call_active(struct cw_req *req);
void cw_h_calls_list(struct cw_req *req);
void cw_h_call_get(struct cw_req *req);
void cw_h_call_accept(struct cw_req *req);
void cw_h_call_reject(struct cw_req *req);
void cw_h_call_cancel(struct cw_req *req);
void cw_h_call_end(struct cw_req *req);
void cw_h_session_token(struct cw_req *req);
void cw_h_push_token_register(struct cw_req *req);
void cw_h_push_tokens_list(struct cw_req *req);
void cw_h_push_token_delete(struct cw_req *req);
void cw_h_push_get(struct cw_req *req);
void cw_h_push_patch(struct cw_req *req);
void cw_h_webhooks_get(struct cw_req *req);
void cw_h_webhooks_patch(struct cw_req *req);

/* Static files of the web folder (static.c): answers a request for a path outside the
 * API. Needs req->web_root. */
void cw_static_serve(struct cw_req *req);
/* Whether path belongs to the web folder rather than the API: not /v1 or under it. */
bool cw_static_path(const char *path);

/* Runs a WebSocket request through the same handlers as REST (ws.c). */
void cw_ws_request(struct cw_req *tmpl, const char *method, json_t *params, char **result,
		   char **error);

#endif
