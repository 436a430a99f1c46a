/* message: parsing of client WebSocket messages. Pure, so the fuzzer drives it directly. */
#ifndef CW_RT_MESSAGE_H
#define CW_RT_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum cw_ws_kind { CW_WS_AUTH, CW_WS_REQUEST };

struct cw_ws_msg {
	enum cw_ws_kind kind;
	json_t *root; /* owns the strings below; release with cw_ws_msg_free */
	/* auth */
	const char *app_id, *token;
	int64_t resume_from; /* -1 when null or absent */
	/* request */
	json_t *id; /* a string or an integer, echoed in the response */
	const char *method;
	json_t *params; /* an object (an empty one when absent) */
};

/* Parses one text message. Returns 0, or -EINVAL with a reason for the close frame. */
int cw_ws_parse(const char *buf, size_t len, struct cw_ws_msg *out, const char **why);
void cw_ws_msg_free(struct cw_ws_msg *msg);

#endif
