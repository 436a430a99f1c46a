/* libFuzzer target: arbitrary bytes as a server message arriving at libcallwire. */
#include <stdint.h>
#include <stdlib.h>

#include "sdk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every field a listener could read, so the sanitizers see each access. */
static void touch(const cw_call *call)
{
	char *json = cw_call_to_json(call);
	size_t n = cw_call_get_participant_count(call);

	free(json);
	(void)cw_call_get_session_id(call);
	(void)cw_call_status_str(cw_call_get_status(call));
	(void)cw_call_get_initiator_name(call);
	(void)cw_call_get_receiver_name(call);
	(void)cw_call_get_metadata(call);
	for (size_t i = 0; i <= n; i++) {
		(void)cw_call_get_participant_uid(call, i);
		(void)cw_call_get_participant_state(call, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw__msg msg;
	cw_user *user = NULL;

	if (cw__msg_parse(&msg, (const char *)data, size) != 0)
		return 0;
	if (msg.call)
		touch(msg.call);
	if (msg.type == CW__MSG_READY && cw__user_from_json(&user, msg.user) == 0)
		cw_user_unref(user);
	if (msg.type == CW__MSG_RESPONSE && msg.result) {
		cw_call *call;
		if (cw__call_from_json(&call, msg.result) == 0) {
			touch(call);
			cw_call_unref(call);
		}
	}
	cw__msg_clear(&msg);
	return 0;
}
