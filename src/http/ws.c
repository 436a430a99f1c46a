/* ws: WebSocket requests run through the REST handlers, so both have one behaviour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "session/service.h"
#include "util/util.h"

struct ws_method {
	const char *name;
	int method;
	const char *action; /* path after /calls/{sessionId}, "" for the call, NULL: none */
	const char *path;   /* path after /v1/apps/{appId} when there is no session */
};

static const struct ws_method methods[] = {
	{"call.initiate", CW_POST, NULL, "/calls"},
	{"call.accept", CW_POST, "/accept", NULL},
	{"call.reject", CW_POST, "/reject", NULL},
	{"call.cancel", CW_POST, "/cancel", NULL},
	{"call.end", CW_POST, "/end", NULL},
	{"call.get", CW_GET, "", NULL},
	{"call.active", CW_GET, NULL, "/calls/active"},
	{"calls.list", CW_GET, NULL, "/calls"},
};

/* calls.list params become the REST query: strings and numbers as they are. */
static char *query_of(json_t *params)
{
	static const char *const keys[] = {"limit",  "cursor",	  "type",
					   "status", "direction", "uid",
					   "guid",   "category",  "hasRecording"};
	char *q = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&q, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < CW_ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(params, keys[i]);
		char *text = NULL;
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v))
			text = strdup(json_string_value(v));
		else
			text = json_dumps(v, JSON_ENCODE_ANY);
		if (!text)
			continue;
		/* Values of these keys are ids, names and numbers: '&' and '=' cannot be
		 * part of a valid one, so they are cut rather than escaped. */
		text[strcspn(text, "&=")] = '\0';
		fprintf(f, "%s%s=%s", ftell(f) > 0 ? "&" : "", keys[i], text);
		free(text);
	}
	fclose(f);
	return q;
}

static char *error_obj(const char *code, const char *message)
{
	char *text = NULL;

	return asprintf(&text, "{\"code\":\"%s\",\"message\":\"%s\"}", code, message) < 0 ? NULL
											  : text;
}

/* session.* requests go to the media session service, with the app of the connection. */
static void session_request(struct cw_req *tmpl, const char *name, json_t *params, char **result,
			    char **error)
{
	struct cw_req req = *tmpl;
	struct cw_session_reply r;
	json_t *e;

	req.method = CW_POST;
	req.path = "";
	req.query = "";
	cw_strlcpy(req.app_id, tmpl->cred.app_id, sizeof(req.app_id));
	if (!cw_req_app_auth(&req, CW_ALLOW(CW_CRED_TOKEN))) {
		static const char prefix[] = "{\"error\":";
		size_t plen = sizeof(prefix) - 1;
		if (req.resp_len > plen + 1 && memcmp(req.resp, prefix, plen) == 0)
			*error = strndup(req.resp + plen, req.resp_len - plen - 1);
		else
			*error = error_obj("ERR_UNAUTHORIZED", "not authorised");
		cw_req_release(&req);
		return;
	}
	cw_sessions_request(req.sessions, &req.app, req.cred.uid, name, params, req.now, &r);
	if (r.code) {
		e = json_pack("{s:s,s:s}", "code", r.code, "message", r.message);
		*error = e ? json_dumps(e, JSON_COMPACT) : NULL;
		json_decref(e);
	} else {
		*result = json_dumps(r.result, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(r.result);
	}
	cw_info("ws.request", "method=%s error=%s", name, r.code ? r.code : "-");
	cw_req_release(&req);
}

void cw_ws_request(struct cw_req *tmpl, const char *name, json_t *params, char **result,
		   char **error)
{
	const struct ws_method *m = NULL;
	struct cw_req req = *tmpl;
	char path[256];
	char *query = NULL;

	for (size_t i = 0; i < CW_ARRAY_SIZE(methods); i++) {
		if (strcmp(methods[i].name, name) == 0)
			m = &methods[i];
	}
	if (!m && strncmp(name, "session.", 8) == 0) {
		session_request(tmpl, name, params, result, error);
		return;
	}
	if (!m) {
		*error = error_obj("ERR_BAD_REQUEST", "method: unknown");
		return;
	}
	if (m->action) {
		const char *sid = json_string_value(json_object_get(params, "sessionId"));
		if (!sid || !cw_valid_session_id(sid)) {
			*error = error_obj(
				"ERR_BAD_REQUEST",
				"sessionId: required, 1 to 64 characters of [A-Za-z0-9_-]");
			return;
		}
		snprintf(path, sizeof(path), "/v1/apps/%s/calls/%s%s", tmpl->cred.app_id, sid,
			 m->action);
	} else {
		snprintf(path, sizeof(path), "/v1/apps/%s%s", tmpl->cred.app_id, m->path);
	}
	if (m->method == CW_POST)
		req.body_json = params; /* a JSON object already: no text round trip */
	else if (strcmp(name, "calls.list") == 0)
		query = query_of(params);
	req.method = m->method;
	req.path = path;
	req.query = query ? query : "";
	req.body = NULL;
	req.body_len = 0;
	cw_dispatch(&req);

	/* The handler's body is already JSON text: an error body is {"error":{…}}, whose
	 * inner object is the WebSocket error; anything else is the result as it is. */
	if (req.status >= 400) {
		static const char prefix[] = "{\"error\":";
		size_t plen = sizeof(prefix) - 1;
		if (req.resp_len > plen + 1 && memcmp(req.resp, prefix, plen) == 0)
			*error = strndup(req.resp + plen, req.resp_len - plen - 1);
		else
			*error = error_obj("ERR_INTERNAL", "no error body");
	} else if (req.resp_len) {
		*result = req.resp;
		req.resp = NULL;
	} else {
		*result = strdup("null");
	}
	cw_info("ws.request", "method=%s status=%d", name, req.status);
	cw_req_release(&req);
	free(query);
}
