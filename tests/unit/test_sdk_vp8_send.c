/* libcallwire's video, the sending side: the test pattern, the VP8 encoder through libvpx
 * and its RFC 7741 payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callwire/callwire.h"
#include "rtc/rtp.h"
#include "video.h"
#include "vp8_support.h"

#define W 320 /* the size of the hand-made pictures */
#define H 240
#define I420_BYTES (W * H * 3 / 2)

/* A WxH I420 picture over buf (I420_BYTES). */
static cw_video_frame i420_frame(uint8_t *buf)
{
	return (cw_video_frame){.width = W,
				.height = H,
				.planes = {buf, buf + W * H, buf + W * H * 5 / 4},
				.strides = {W, W / 2, W / 2}};
}

/* The encoder refuses the call: CW_ERR_INVALID_ARGUMENT, nothing emitted and, when key is
 * given, no keyframe said. */
static void assert_refused(struct sender *s, const cw_video_frame *f, cw__vp8_emit_fn emit,
			   bool *key)
{
	size_t n = s->n;

	if (key)
		*key = true;
	assert_int_equal(cw__vp8_enc_frame(s->enc, f, false, emit, s, key),
			 CW_ERR_INVALID_ARGUMENT);
	if (key)
		assert_false(*key);
	assert_int_equal(s->n, n);
}

/* ---- the test pattern ---- */

static void the_pattern_reads_back_its_numbers(void **state)
{
	static const int sizes[][2] = {{64, 64}, {320, 240}, {642, 362}, {1920, 1088}};

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		cw_test_pattern *p;
		cw_video_frame f;
		uint32_t n = 12345;

		assert_int_equal(cw_test_pattern_new(&p, sizes[i][0], sizes[i][1]), 0);
		for (uint32_t k = 0; k < 40; k++) {
			assert_int_equal(cw_test_pattern_source_cb(NULL, &f, p), 0);
			assert_int_equal(f.width, sizes[i][0]);
			assert_int_equal(f.height, sizes[i][1]);
			assert_true(cw_test_pattern_read(&f, &n));
			assert_int_equal(n, k);
		}
		cw_test_pattern_free(p);
	}
}

/* The number is the low 16 bits of the picture's count. */
static void the_pattern_number_wraps_at_16_bits(void **state)
{
	cw_test_pattern *p;
	cw_video_frame f;
	uint32_t n;

	(void)state;
	assert_int_equal(cw_test_pattern_new(&p, 64, 64), 0);
	for (uint32_t k = 0; k < 65536 + 3; k++)
		assert_int_equal(cw_test_pattern_source_cb(NULL, &f, p), 0);
	assert_true(cw_test_pattern_read(&f, &n));
	assert_int_equal(n, 2);
	cw_test_pattern_free(p);
}

static void a_picture_without_the_bars_is_not_the_pattern(void **state)
{
	cw_test_pattern *p;
	cw_video_frame f, g;
	uint8_t *grey = malloc(I420_BYTES);

	(void)state;
	assert_non_null(grey);
	memset(grey, 128, I420_BYTES);
	g = i420_frame(grey);
	assert_false(cw_test_pattern_read(&g, NULL));

	assert_int_equal(cw_test_pattern_new(&p, W, H), 0);
	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, p), 0);
	assert_true(cw_test_pattern_read(&f, NULL));
	g = f; /* U and V swapped: the colours are wrong */
	g.planes[1] = f.planes[2];
	g.planes[2] = f.planes[1];
	assert_false(cw_test_pattern_read(&g, NULL));
	g = f; /* the bars' luma where the chroma is: wrong too */
	g.planes[1] = f.planes[0];
	g.strides[1] = f.strides[0];
	assert_false(cw_test_pattern_read(&g, NULL));
	g = f;
	g.width = W + 1;
	assert_false(cw_test_pattern_read(&g, NULL));
	g = f;
	g.strides[0] = 100;
	assert_false(cw_test_pattern_read(&g, NULL));
	assert_false(cw_test_pattern_read(NULL, NULL));
	cw_test_pattern_free(p);
	free(grey);
}

static void odd_and_out_of_range_sizes_are_refused(void **state)
{
	static const int bad[][2] = {{63, 64}, {64, 63},  {65, 64},	{64, 65},
				     {62, 64}, {64, 62},  {1922, 1088}, {1920, 1090},
				     {0, 0},   {-64, 64}, {321, 240},	{320, 241}};
	/* The encoder takes even sizes up to 1920x1088 only. */
	static const int bad_frame[][2] = {{319, 240}, {320, 239}, {320, 1090}, {1922, 240}};
	struct sender *s = sender_new(320, 240);
	cw_test_pattern *p = (cw_test_pattern *)1;
	cw_video_frame f;
	bool key;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cw_test_pattern_new(&p, bad[i][0], bad[i][1]),
				 CW_ERR_INVALID_ARGUMENT);
		assert_null(p);
	}
	assert_int_equal(cw_test_pattern_new(NULL, 64, 64), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, NULL), CW_ERR_INVALID_ARGUMENT);

	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, s->pat), 0);
	for (size_t i = 0; i < sizeof(bad_frame) / sizeof(bad_frame[0]); i++) {
		f.width = bad_frame[i][0];
		f.height = bad_frame[i][1];
		assert_refused(s, &f, sender_emit, &key);
	}
	sender_free(s);
}

/* ---- the encoder and its payloads ---- */

static void the_encoder_refuses_bad_arguments(void **state)
{
	struct cw__vp8_enc *enc = (struct cw__vp8_enc *)1;
	struct sender *s = sender_new(320, 240);
	cw_video_frame f;

	(void)state;
	assert_int_equal(cw__vp8_enc_new(&enc, 0, 0), CW_ERR_INVALID_ARGUMENT);
	assert_null(enc);
	assert_int_equal(cw__vp8_enc_new(&enc, 61, 0), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw__vp8_enc_new(&enc, 30, -1), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw__vp8_enc_new(NULL, 30, 0), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, s->pat), 0);
	assert_refused(s, NULL, sender_emit, NULL);
	assert_refused(s, &f, NULL, NULL);
	f.planes[2] = NULL;
	assert_refused(s, &f, sender_emit, NULL);
	f.planes[2] = f.planes[1];
	f.strides[1] = 100;
	assert_refused(s, &f, sender_emit, NULL);
	assert_int_equal(s->n, 0);
	cw__vp8_enc_free(NULL);
	sender_free(s);
}

/* One payload of a picture: the 4-byte descriptor (X, I, M with a 15-bit PictureID,
 * partition 0, S on the first of the picture only), within CW__VP8_PAYLOAD_MAX, the marker
 * on the last of the n; the PictureID counts the pictures from pid0. */
static void assert_payload(const struct pkt *p, int picture, size_t k, size_t n, uint16_t pid0)
{
	struct cw_rtp_vp8 d;

	assert_true(p->len <= CW__VP8_PAYLOAD_MAX);
	assert_int_equal(cw_rtp_vp8_parse(&d, p->data, p->len), 0);
	assert_int_equal(d.desc_len, CW__VP8_DESCRIPTOR);
	assert_int_equal(p->data[0] & 0xEF, 0x80); /* X, not N, PID 0 */
	assert_int_equal(p->data[1], 0x80);	   /* I only */
	assert_true(d.has_picture_id && d.picture_id_15);
	assert_int_equal(d.s, k == 0);
	assert_int_equal(d.keyframe, k == 0 && picture == 0);
	assert_int_equal(p->marker, k + 1 == n);
	assert_int_equal(d.picture_id, (pid0 + picture) & 0x7fff);
}

/* Every payload follows RFC 7741 (assert_payload), and the pieces of a picture are of
 * near-equal size. */
static void payloads_follow_rfc_7741(void **state)
{
	static const int sizes[][2] = {{320, 240}, {640, 480}, {1280, 720}};
	size_t split = 0;

	(void)state;
	for (size_t z = 0; z < 3; z++) {
		struct sender *s = sender_new(sizes[z][0], sizes[z][1]);
		struct cw_rtp_vp8 d0;

		encode_pictures(s, 30, NO_KEYFRAME);
		assert_true(s->key[0]);
		assert_int_equal(cw_rtp_vp8_parse(&d0, s->p[0].data, s->p[0].len), 0);
		for (int i = 0; i < 30; i++) {
			size_t n = packets_of(s, i), lo = SIZE_MAX, hi = 0;

			split += n > 1;
			if (i > 0)
				assert_false(s->key[i]);
			for (size_t k = 0; k < n; k++) {
				const struct pkt *p = packet(s, i, k);

				assert_payload(p, i, k, n, d0.picture_id);
				if (p->len < lo)
					lo = p->len;
				if (p->len > hi)
					hi = p->len;
			}
			assert_true(hi - lo <= 1);
		}
		sender_free(s);
	}
	assert_true(split >= 3); /* the larger keyframes at least */
}

static void a_keyframe_is_made_when_asked(void **state)
{
	struct sender *s = sender_new(320, 240);

	(void)state;
	encode_pictures(s, 10, 6);
	for (int i = 0; i < 10; i++)
		assert_int_equal(s->key[i], i == 0 || i == 6);
	sender_free(s);
}

/* The default bitrate is about 0.08 bit per pixel of each picture, and a given one is
 * followed: a noisy picture at 320x240 and 30 fps makes about 184 kb/s. */
static void the_bitrate_follows_the_size_or_the_setting(void **state)
{
	static const int kbps[] = {0, 600};
	uint8_t *buf = malloc(I420_BYTES);

	(void)state;
	assert_non_null(buf);
	for (size_t c = 0; c < 2; c++) {
		struct sender *s = sender_new(W, H);
		cw_video_frame f = i420_frame(buf);
		double want = kbps[c] ? kbps[c] : 0.08 * W * H * 30 / 1000, got;
		size_t bytes = 0;

		cw__vp8_enc_free(s->enc);
		assert_int_equal(cw__vp8_enc_new(&s->enc, FPS, kbps[c]), 0);
		rng_seed(4242);
		for (int i = 0; i < 120; i++) {
			bool key;
			for (size_t k = 0; k < I420_BYTES; k++)
				buf[k] = (uint8_t)(96 + rng() % 64);
			s->first[0] = s->n = 0;
			assert_true(cw__vp8_enc_frame(s->enc, &f, false, sender_emit, s, &key) >=
				    1);
			/* The last three seconds, after the keyframe. */
			for (size_t k = 0; i >= 30 && k < s->n; k++)
				bytes += s->p[k].len - CW__VP8_DESCRIPTOR;
		}
		got = (double)bytes * 8 / 3 / 1000;
		if (got < want * 0.7 || got > want * 1.3)
			fail_msg("%.0f kb/s for a target of %.0f", got, want);
		sender_free(s);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_pattern_reads_back_its_numbers),
		cmocka_unit_test(the_pattern_number_wraps_at_16_bits),
		cmocka_unit_test(a_picture_without_the_bars_is_not_the_pattern),
		cmocka_unit_test(odd_and_out_of_range_sizes_are_refused),
		cmocka_unit_test(the_encoder_refuses_bad_arguments),
		cmocka_unit_test(payloads_follow_rfc_7741),
		cmocka_unit_test(a_keyframe_is_made_when_asked),
		cmocka_unit_test(the_bitrate_follows_the_size_or_the_setting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
