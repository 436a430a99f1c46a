/* libFuzzer target: arbitrary text as the server's subscribe offer (or publish answer)
 * reaching libcallwire: its transport read out, and the client's answer written. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FP8 "00:11:22:33:44:55:66:77"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw__sdp_local l = {.ufrag = "abcd",
				  .pwd = "0123456789abcdefghijkl",
				  .fingerprint = "sha-256 " FP8 ":" FP8 ":" FP8 ":" FP8,
				  .session_id = 1,
				  .version = 2};
	struct cw__sdp_remote *r = malloc(sizeof(*r));
	struct cw_sdp *sdp = NULL;
	char *answer = NULL;

	if (r && cw_sdp_parse(&sdp, (const char *)data, size, NULL) == 0) {
		cw__sdp_remote(sdp, r);
		if (cw__sdp_subscribe_answer(&answer, sdp, &l) == 0) {
			struct cw_sdp *back = NULL;
			/* What we answer is always SDP that parses. */
			if (cw_sdp_parse(&back, answer, strlen(answer), NULL) != 0)
				abort();
			cw_sdp_free(back);
		}
	}
	free(answer);
	cw_sdp_free(sdp);
	free(r);
	return 0;
}
