/* libFuzzer target: arbitrary RTP packets (sequence numbers, timestamps, markers, VP8
 * payloads) into libcallwire's VP8 receiver, as a hostile sender would send them, with the
 * clock that ends its waits for missing pictures: the reassembly alone, then, on short
 * inputs, with libvpx decoding what completes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "video.h"

/* Decoding is much slower than putting together; only short inputs go through it. */
#define DECODE_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_frame(const cw_video_frame *f, void *arg)
{
	uint64_t *sum = arg;

	/* Touch the picture's corners: they must be inside the planes. */
	for (int i = 0; i < 3; i++) {
		int w = i ? f->width / 2 : f->width, h = i ? f->height / 2 : f->height;

		*sum += f->planes[i][0] +
			f->planes[i][(size_t)(h - 1) * (size_t)f->strides[i] + (size_t)(w - 1)];
	}
}

/* Records: a control byte (bit 0: the marker; bit 1: ask whether a keyframe is wanted
 * after the packet; bits 2-4: tens of milliseconds to advance; bits 5-6: the round trip
 * the clock's tick tells, see rtts), seq (2 bytes, big-endian), a timestamp byte (times
 * 3000), the payload's length (2 bytes, big-endian; what is left when shorter), the
 * payload. The clock ticks after each record. */
static void run(const uint8_t *data, size_t size, bool decode)
{
	static const int rtts[] = {-1, 20, 120, 400};
	struct cw__vp8_rx *rx;
	struct cw__vp8_rx_stats st;
	uint64_t sum = 0;
	int64_t now = 1000;
	size_t at = 0;

	if (cw__vp8_rx_new(&rx, decode) != 0)
		return;
	while (size - at >= 6) {
		uint8_t ctl = data[at];
		uint16_t seq = (uint16_t)(data[at + 1] << 8 | data[at + 2]);
		uint32_t ts = data[at + 3] * 3000u;
		size_t len = (size_t)(data[at + 4] << 8 | data[at + 5]);

		at += 6;
		if (len > size - at)
			len = size - at;
		cw__vp8_rx_put(rx, seq, ts, ctl & 1, data + at, len, now, on_frame, &sum);
		at += len;
		now += 10 * ((ctl >> 2) & 7);
		cw__vp8_rx_poll(rx, now, rtts[(ctl >> 5) & 3], on_frame, &sum);
		if (ctl & 2)
			cw__vp8_rx_wants_keyframe(rx, now, 100);
	}
	cw__vp8_rx_stats(rx, &st);
	cw__vp8_rx_free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, false);
	if (size <= DECODE_MAX)
		run(data, size, true);
	return 0;
}
