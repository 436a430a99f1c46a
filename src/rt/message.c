/* message: parsing of client WebSocket messages. */
#include <errno.h>
#include <string.h>

#include "rt/message.h"

static int fail(struct cw_ws_msg *m, const char **why, const char *reason)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
	*why = reason;
	return -EINVAL;
}

int cw_ws_parse(const char *buf, size_t len, struct cw_ws_msg *m, const char **why)
{
	const char *type;
	json_t *resume;

	memset(m, 0, sizeof(*m));
	m->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	type = json_string_value(json_object_get(m->root, "type"));
	if (!json_is_object(m->root) || !type)
		return fail(m, why, "messages are JSON objects with a type");
	if (strcmp(type, "auth") == 0) {
		m->kind = CW_WS_AUTH;
		m->app_id = json_string_value(json_object_get(m->root, "appId"));
		m->token = json_string_value(json_object_get(m->root, "token"));
		resume = json_object_get(m->root, "resumeFrom");
		m->resume_from = -1;
		if (json_is_integer(resume) && json_integer_value(resume) >= 0)
			m->resume_from = json_integer_value(resume);
		else if (resume && !json_is_null(resume))
			return fail(m, why, "resumeFrom must be a seq (an integer >= 0) or null");
		if (!m->app_id || !m->token)
			return fail(m, why, "auth needs appId and token");
		return 0;
	}
	if (strcmp(type, "request") == 0) {
		m->kind = CW_WS_REQUEST;
		m->id = json_object_get(m->root, "id");
		m->method = json_string_value(json_object_get(m->root, "method"));
		m->params = json_object_get(m->root, "params");
		if ((!json_is_string(m->id) && !json_is_integer(m->id)) || !m->method)
			return fail(m, why,
				    "a request needs an id (string or integer) and a method");
		if (m->params && !json_is_object(m->params))
			return fail(m, why, "params must be an object");
		if (!m->params) {
			m->params = json_object();
			json_object_set_new(m->root, "params", m->params);
		}
		return 0;
	}
	return fail(m, why, "unknown message type");
}

void cw_ws_msg_free(struct cw_ws_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}
