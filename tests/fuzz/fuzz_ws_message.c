/* libFuzzer target: arbitrary bytes as a client WebSocket message. */
#include <stdint.h>

#include "rt/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_ws_msg msg;
	const char *why;

	if (cw_ws_parse((const char *)data, size, &msg, &why) == 0)
		cw_ws_msg_free(&msg);
	return 0;
}
