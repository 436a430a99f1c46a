/* message: one text message from the server, parsed and checked; no I/O, fuzzed. */
#include <string.h>

#include "sdk.h"

void cw__msg_clear(struct cw__msg *msg)
{
	cw_call_unref(msg->call);
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
}

static int parse_ready(struct cw__msg *msg)
{
	json_t *seq = json_object_get(msg->root, "seq");

	msg->user = json_object_get(msg->root, "user");
	msg->device = json_string_value(json_object_get(msg->root, "device"));
	msg->resumed = json_is_true(json_object_get(msg->root, "resumed"));
	if (!json_is_object(msg->user) || !json_is_integer(seq) || json_integer_value(seq) < 0)
		return CW_ERR_PROTOCOL;
	msg->seq = json_integer_value(seq);
	return 0;
}

static int parse_event(struct cw__msg *msg)
{
	json_t *seq = json_object_get(msg->root, "seq");

	msg->name = json_string_value(json_object_get(msg->root, "name"));
	msg->device = json_string_value(json_object_get(msg->root, "device"));
	msg->uid = json_string_value(json_object_get(msg->root, "uid"));
	if (!msg->name || !json_is_integer(seq) || json_integer_value(seq) <= 0)
		return CW_ERR_PROTOCOL;
	msg->seq = json_integer_value(seq);
	/* Events without a call this version can read (later protocol versions, other
	 * event families) keep their place in the sequence: call stays NULL. */
	if (strncmp(msg->name, "call.", 5) == 0)
		cw__call_from_json(&msg->call, json_object_get(msg->root, "call"));
	return 0;
}

static int parse_response(struct cw__msg *msg)
{
	msg->id = json_string_value(json_object_get(msg->root, "id"));
	msg->error = json_object_get(msg->root, "error");
	if (!msg->id)
		return CW_ERR_PROTOCOL;
	if (msg->error) {
		msg->code = json_string_value(json_object_get(msg->error, "code"));
		msg->message = json_string_value(json_object_get(msg->error, "message"));
		return json_is_object(msg->error) && msg->code ? 0 : CW_ERR_PROTOCOL;
	}
	msg->result = json_object_get(msg->root, "result");
	return msg->result ? 0 : CW_ERR_PROTOCOL;
}

int cw__msg_parse(struct cw__msg *msg, const char *data, size_t len)
{
	const char *type;
	int err;

	memset(msg, 0, sizeof(*msg));
	msg->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(msg->root)) {
		cw__msg_clear(msg);
		return CW_ERR_PROTOCOL;
	}
	type = json_string_value(json_object_get(msg->root, "type"));
	if (!type) {
		err = CW_ERR_PROTOCOL;
	} else if (strcmp(type, "ready") == 0) {
		msg->type = CW__MSG_READY;
		err = parse_ready(msg);
	} else if (strcmp(type, "event") == 0) {
		msg->type = CW__MSG_EVENT;
		err = parse_event(msg);
	} else if (strcmp(type, "response") == 0) {
		msg->type = CW__MSG_RESPONSE;
		err = parse_response(msg);
	} else {
		/* Unknown types are for later versions of the protocol: ignored. */
		msg->type = CW__MSG_OTHER;
		err = 0;
	}
	if (err)
		cw__msg_clear(msg);
	return err;
}
