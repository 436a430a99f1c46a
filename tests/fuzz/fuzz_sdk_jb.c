/* libFuzzer target: arbitrary packets (sequence numbers, timestamps, Opus payloads) into
 * libcallwire's jitter buffer, with playout in between, as a hostile sender would send. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Records: a control byte (bit 0: play a frame after; bits 1-3: milliseconds to advance
 * in 20s), seq (2), ts (4), length (1), payload. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw__jb *jb;
	struct cw__jb_stats st;
	int16_t pcm[CW__AUDIO_FRAME];
	int64_t now = 1000;
	size_t at = 0;

	if (cw__jb_new(&jb) != 0)
		return 0;
	while (size - at >= 8) {
		uint8_t ctl = data[at];
		uint16_t seq = (uint16_t)(data[at + 1] << 8 | data[at + 2]);
		uint32_t ts = (uint32_t)data[at + 3] << 24 | (uint32_t)data[at + 4] << 16 |
			      (uint32_t)data[at + 5] << 8 | data[at + 6];
		size_t len = data[at + 7];

		at += 8;
		if (len > size - at)
			len = size - at;
		cw__jb_put(jb, seq, ts, data + at, len, now);
		at += len;
		now += 20 * ((ctl >> 1) & 7);
		if (ctl & 1)
			cw__jb_get(jb, pcm, now);
	}
	cw__jb_get(jb, pcm, now + 20);
	cw__jb_stats(jb, &st);
	cw__jb_free(jb);
	return 0;
}
