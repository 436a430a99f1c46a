/* libFuzzer target: arbitrary bytes as an SDP offer, through parse, answer and write. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What we write must parse again and write the same: a fixed point after one pass. */
static void write_parse_write(const struct cw_sdp *s)
{
	struct cw_sdp *back = NULL;
	char *t1, *t2;
	size_t l1, l2;

	if (cw_sdp_write_alloc(s, &t1, &l1) < 0)
		return;
	if (cw_sdp_parse(&back, t1, l1, NULL) < 0) {
		if (l1 <= CW_SDP_MAX_TEXT)
			abort();
		free(t1);
		return;
	}
	if (cw_sdp_write_alloc(back, &t2, &l2) == 0) {
		if (l1 != l2 || memcmp(t1, t2, l1) != 0)
			abort();
		free(t2);
	}
	cw_sdp_free(back);
	free(t1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cw_sdp_host hosts[] = {{"192.0.2.1", 40000}, {"2001:db8::1", 40000}};
	struct cw_sdp_caps caps = {CW_SDP_CODEC_ALL, CW_SDP_FB_ALL, CW_SDP_EXT_ALL, size & 1};
	struct cw_sdp_local local = {.ufrag = "fuzz",
				     .pwd = "fuzzfuzzfuzzfuzzfuzzfuzz",
				     .hosts = hosts,
				     .nhosts = 2,
				     .caps = &caps};
	struct cw_sdp_track track = {.kind = CW_SDP_AUDIO,
				     .mid = "0",
				     .ssrc = 1,
				     .rtx_ssrc = 2,
				     .stream_id = "s",
				     .track_id = "t",
				     .cname = "c"};
	struct cw_sdp *s = NULL, *a = NULL;
	struct cw_sdp_transport t;

	if (cw_sdp_parse(&s, (const char *)data, size, NULL) < 0)
		return 0;
	for (unsigned i = 0; i < s->nmedia; i++)
		cw_sdp_media_transport(s, i, &t);
	write_parse_write(s);
	/* Answer with and without a track on the first mid (refused when it does not fit). */
	for (unsigned n = 0; n < 2; n++) {
		if (cw_sdp_answer(&a, s, &local, &track, n, NULL) == 0) {
			write_parse_write(a);
			cw_sdp_free(a);
		}
	}
	cw_sdp_free(s);
	return 0;
}
