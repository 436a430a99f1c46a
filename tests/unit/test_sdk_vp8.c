/* libcallwire's video: the test pattern, VP8 through libvpx and RFC 7741 both ways, and
 * the receiver under reordering, duplicates, loss, late retransmissions (the pictures after
 * a loss held for them), size changes, wrapping numbers and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callwire/callwire.h"
#include "rtc/rtp.h"
#include "video.h"

#define FPS 30
#define TS_STEP (CW__VIDEO_CLOCK / FPS)
#define PKTS_MAX 8192
#define FRAMES_MAX 512

/* ---- helpers ---- */

static uint32_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

struct pkt {
	uint16_t seq;
	uint32_t ts;
	bool marker;
	int picture;
	size_t len;
	uint8_t data[CW__VP8_PAYLOAD_MAX];
};

/* A sender: the test pattern through the encoder into numbered packets. */
struct sender {
	cw_test_pattern *pat;
	struct cw__vp8_enc *enc;
	uint16_t seq;
	uint32_t ts;
	int picture; /* pictures encoded */
	bool key[FRAMES_MAX];
	size_t first[FRAMES_MAX + 1]; /* each picture's first packet in p */
	size_t n;
	struct pkt p[PKTS_MAX];
};

static struct sender *sender_new(int width, int height)
{
	struct sender *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(cw_test_pattern_new(&s->pat, width, height), 0);
	assert_int_equal(cw__vp8_enc_new(&s->enc, FPS, 0), 0);
	s->seq = 1000;
	s->ts = 5000;
	return s;
}

static void sender_free(struct sender *s)
{
	cw_test_pattern_free(s->pat);
	cw__vp8_enc_free(s->enc);
	free(s);
}

static void sender_emit(const uint8_t *payload, size_t len, bool marker, void *arg)
{
	struct sender *s = arg;
	struct pkt *p;

	assert_true(s->n < PKTS_MAX);
	assert_true(len <= CW__VP8_PAYLOAD_MAX);
	p = &s->p[s->n++];
	p->seq = s->seq++;
	p->ts = s->ts;
	p->marker = marker;
	p->picture = s->picture;
	p->len = len;
	memcpy(p->data, payload, len);
}

/* Encodes the pattern's next picture; its packets are s->p[first[i]] to s->p[first[i+1]). */
static int sender_picture(struct sender *s, bool keyframe)
{
	cw_video_frame f;
	int n, i = s->picture;

	assert_true(i < FRAMES_MAX);
	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, s->pat), 0);
	s->first[i] = s->n;
	n = cw__vp8_enc_frame(s->enc, &f, keyframe, sender_emit, s, &s->key[i]);
	assert_true(n >= 1);
	assert_int_equal((size_t)n, s->n - s->first[i]);
	s->first[i + 1] = s->n;
	s->picture++;
	s->ts += TS_STEP;
	return i;
}

static size_t packets_of(const struct sender *s, int picture)
{
	return s->first[picture + 1] - s->first[picture];
}

static const struct pkt *packet(const struct sender *s, int picture, size_t k)
{
	return &s->p[s->first[picture] + k];
}

/* A receiver: what came out of cw__vp8_rx, read as the test pattern. */
struct receiver {
	struct cw__vp8_rx *rx;
	int64_t now;
	size_t frames;
	int64_t number[FRAMES_MAX]; /* -1: not the test pattern */
	int width[FRAMES_MAX], height[FRAMES_MAX];
};

static void on_frame(const cw_video_frame *f, void *arg)
{
	struct receiver *r = arg;
	uint32_t n;

	assert_true(r->frames < FRAMES_MAX);
	r->number[r->frames] = cw_test_pattern_read(f, &n) ? (int64_t)n : -1;
	r->width[r->frames] = f->width;
	r->height[r->frames] = f->height;
	r->frames++;
}

static struct receiver *receiver_new(bool decode)
{
	struct receiver *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(cw__vp8_rx_new(&r->rx, decode), 0);
	r->now = 100000;
	return r;
}

static void receiver_free(struct receiver *r)
{
	cw__vp8_rx_free(r->rx);
	free(r);
}

static int put(struct receiver *r, const struct pkt *p)
{
	return cw__vp8_rx_put(r->rx, p->seq, p->ts, p->marker, p->data, p->len, r->now, on_frame,
			      r);
}

/* Sends every packet of a picture, in order. */
static void put_picture(struct receiver *r, const struct sender *s, int picture)
{
	for (size_t k = 0; k < packets_of(s, picture); k++)
		assert_int_equal(put(r, packet(s, picture, k)), 0);
	r->now += 1000 / FPS;
}

/* The session's clock tick: true when a wait was given up. */
static bool poll_at(struct receiver *r, int64_t now, int rtt_ms)
{
	return cw__vp8_rx_poll(r->rx, now, rtt_ms, on_frame, r);
}

static struct cw__vp8_rx_stats stats(const struct receiver *r)
{
	struct cw__vp8_rx_stats st;

	cw__vp8_rx_stats(r->rx, &st);
	return st;
}

/* Frames from..to-1 delivered read as pictures first, first+1, ... */
static void assert_numbers(const struct receiver *r, size_t from, size_t to, int64_t first)
{
	assert_true(to <= r->frames);
	for (size_t i = from; i < to; i++) {
		if (r->number[i] != first + (int64_t)(i - from))
			fail_msg("frame %zu reads as %lld, not %lld", i, (long long)r->number[i],
				 (long long)(first + (int64_t)(i - from)));
	}
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
	uint8_t *grey = malloc(320 * 240 * 3 / 2);

	(void)state;
	assert_non_null(grey);
	memset(grey, 128, 320 * 240 * 3 / 2);
	g = (cw_video_frame){.width = 320,
			     .height = 240,
			     .planes = {grey, grey + 320 * 240, grey + 320 * 240 * 5 / 4},
			     .strides = {320, 160, 160}};
	assert_false(cw_test_pattern_read(&g, NULL));

	assert_int_equal(cw_test_pattern_new(&p, 320, 240), 0);
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
	g.width = 321;
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
	struct cw__vp8_enc *enc;
	cw_test_pattern *p = (cw_test_pattern *)1;
	cw_video_frame f;
	bool key = true;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cw_test_pattern_new(&p, bad[i][0], bad[i][1]),
				 CW_ERR_INVALID_ARGUMENT);
		assert_null(p);
	}
	assert_int_equal(cw_test_pattern_new(NULL, 64, 64), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, NULL), CW_ERR_INVALID_ARGUMENT);

	/* The encoder takes even sizes up to 1920x1088 only. */
	assert_int_equal(cw_test_pattern_new(&p, 320, 240), 0);
	assert_int_equal(cw_test_pattern_source_cb(NULL, &f, p), 0);
	assert_int_equal(cw__vp8_enc_new(&enc, FPS, 0), 0);
	f.width = 319;
	assert_int_equal(cw__vp8_enc_frame(enc, &f, false, sender_emit, NULL, &key),
			 CW_ERR_INVALID_ARGUMENT);
	assert_false(key);
	f.width = 320;
	f.height = 239;
	assert_int_equal(cw__vp8_enc_frame(enc, &f, false, sender_emit, NULL, &key),
			 CW_ERR_INVALID_ARGUMENT);
	f.height = 1090;
	assert_int_equal(cw__vp8_enc_frame(enc, &f, false, sender_emit, NULL, &key),
			 CW_ERR_INVALID_ARGUMENT);
	f.height = 240;
	f.width = 1922;
	assert_int_equal(cw__vp8_enc_frame(enc, &f, false, sender_emit, NULL, &key),
			 CW_ERR_INVALID_ARGUMENT);
	cw__vp8_enc_free(enc);
	cw_test_pattern_free(p);
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
	assert_int_equal(cw__vp8_enc_frame(s->enc, NULL, false, sender_emit, s, NULL),
			 CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw__vp8_enc_frame(s->enc, &f, false, NULL, s, NULL),
			 CW_ERR_INVALID_ARGUMENT);
	f.planes[2] = NULL;
	assert_int_equal(cw__vp8_enc_frame(s->enc, &f, false, sender_emit, s, NULL),
			 CW_ERR_INVALID_ARGUMENT);
	f.planes[2] = f.planes[1];
	f.strides[1] = 100;
	assert_int_equal(cw__vp8_enc_frame(s->enc, &f, false, sender_emit, s, NULL),
			 CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(s->n, 0);
	cw__vp8_enc_free(NULL);
	sender_free(s);
}

/* Every payload has the 4-byte descriptor (X, I, M with a 15-bit PictureID, partition 0,
 * S on the first of a picture only), fits CW__VP8_PAYLOAD_MAX, and the pieces of a
 * picture are of near-equal size with the marker on the last. */
static void payloads_follow_rfc_7741(void **state)
{
	static const int sizes[][2] = {{320, 240}, {640, 480}, {1280, 720}};
	size_t split = 0;

	(void)state;
	for (size_t z = 0; z < 3; z++) {
		struct sender *s = sender_new(sizes[z][0], sizes[z][1]);
		uint16_t pid0 = 0;

		for (int i = 0; i < 30; i++)
			sender_picture(s, false);
		assert_true(s->key[0]);
		for (int i = 0; i < 30; i++) {
			size_t n = packets_of(s, i), lo = SIZE_MAX, hi = 0;

			split += n > 1;

			if (i > 0)
				assert_false(s->key[i]);
			for (size_t k = 0; k < n; k++) {
				const struct pkt *p = packet(s, i, k);
				struct cw_rtp_vp8 d;

				assert_true(p->len <= CW__VP8_PAYLOAD_MAX);
				assert_int_equal(cw_rtp_vp8_parse(&d, p->data, p->len), 0);
				assert_int_equal(d.desc_len, CW__VP8_DESCRIPTOR);
				assert_int_equal(p->data[0] & 0xEF, 0x80); /* X, not N, PID 0 */
				assert_int_equal(p->data[1], 0x80);	   /* I only */
				assert_true(d.has_picture_id && d.picture_id_15);
				assert_int_equal(d.s, k == 0);
				assert_int_equal(d.keyframe, k == 0 && i == 0);
				assert_int_equal(p->marker, k + 1 == n);
				if (i == 0 && k == 0)
					pid0 = d.picture_id;
				assert_int_equal(d.picture_id, (pid0 + i) & 0x7fff);
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
	for (int i = 0; i < 10; i++)
		sender_picture(s, i == 6);
	for (int i = 0; i < 10; i++)
		assert_int_equal(s->key[i], i == 0 || i == 6);
	sender_free(s);
}

/* The default bitrate is about 0.08 bit per pixel of each picture, and a given one is
 * followed: a noisy picture at 320x240 and 30 fps makes about 184 kb/s. */
static void the_bitrate_follows_the_size_or_the_setting(void **state)
{
	static const int kbps[] = {0, 600};
	uint8_t *buf = malloc(320 * 240 * 3 / 2);

	(void)state;
	assert_non_null(buf);
	for (size_t c = 0; c < 2; c++) {
		struct sender *s = sender_new(320, 240);
		cw_video_frame f = {.width = 320,
				    .height = 240,
				    .planes = {buf, buf + 320 * 240, buf + 320 * 240 * 5 / 4},
				    .strides = {320, 160, 160}};
		double want = kbps[c] ? kbps[c] : 0.08 * 320 * 240 * 30 / 1000, got;
		size_t bytes = 0;

		cw__vp8_enc_free(s->enc);
		assert_int_equal(cw__vp8_enc_new(&s->enc, FPS, kbps[c]), 0);
		rng_state = 4242;
		for (int i = 0; i < 120; i++) {
			bool key;
			for (size_t k = 0; k < 320 * 240 * 3 / 2; k++)
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

/* ---- the receiver ---- */

static void pictures_sent_in_order_are_all_decoded(void **state)
{
	static const int sizes[][2] = {{320, 240}, {640, 480}};

	(void)state;
	for (size_t z = 0; z < 2; z++) {
		struct sender *s = sender_new(sizes[z][0], sizes[z][1]);
		struct receiver *r = receiver_new(true);
		struct cw__vp8_rx_stats st;

		for (int i = 0; i < 30; i++)
			put_picture(r, s, sender_picture(s, false));
		assert_int_equal(r->frames, 30);
		assert_numbers(r, 0, 30, 0);
		for (size_t i = 0; i < 30; i++) {
			assert_int_equal(r->width[i], sizes[z][0]);
			assert_int_equal(r->height[i], sizes[z][1]);
		}
		st = stats(r);
		assert_int_equal(st.frames, 30);
		assert_int_equal(st.keyframes, 1);
		assert_int_equal(st.packets, s->n);
		assert_int_equal(st.dropped + st.duplicates + st.malformed, 0);
		assert_int_equal(st.width, sizes[z][0]);
		assert_int_equal(st.height, sizes[z][1]);
		/* Decoding started at a keyframe: nothing to ask for. */
		assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 0));
		receiver_free(r);
		sender_free(s);
	}
}

/* The packets of each picture shuffled, and some sent twice: every picture still decodes,
 * once. */
static void shuffled_and_duplicated_packets_still_decode(void **state)
{
	struct sender *s = sender_new(1280, 720);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;
	const struct pkt *order[256];
	size_t dups = 0;

	(void)state;
	rng_state = 2024;
	for (int i = 0; i < 30; i++) {
		size_t n, m;

		sender_picture(s, i % 5 == 0); /* keyframes: pictures of several packets */
		n = packets_of(s, i);
		assert_true(i % 5 || n >= 3);
		assert_true(n <= 128);
		for (size_t k = 0; k < n; k++)
			order[k] = packet(s, i, k);
		m = n;
		for (size_t k = 0; k < n; k++) /* a third of them twice */
			if (rng() % 3 == 0)
				order[m++] = order[k];
		dups += m - n;
		n = m;
		for (size_t k = n; k > 1; k--) { /* Fisher-Yates */
			size_t j = rng() % k;
			const struct pkt *t = order[k - 1];
			order[k - 1] = order[j];
			order[j] = t;
		}
		for (size_t k = 0; k < n; k++)
			put(r, order[k]);
	}
	st = stats(r);
	assert_int_equal(r->frames, 30);
	assert_numbers(r, 0, 30, 0);
	assert_int_equal(st.packets, s->n);
	/* A copy that came after its picture was decoded is too old rather than a duplicate. */
	assert_true(st.duplicates > 0);
	assert_int_equal(st.duplicates + st.malformed, dups);
	assert_int_equal(st.dropped, 0);
	receiver_free(r);
	sender_free(s);
}

/* A packet lost for good: the pictures after it wait for it, and once the wait is over
 * (twice the round trip, 100 ms at least) they are dropped and the stream asks for a
 * keyframe, with which decoding resumes. */
static void a_lost_packet_stops_decoding_until_a_keyframe(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;
	int64_t t, held_at;

	(void)state;
	for (int i = 0; i < 10; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 10);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 0));

	sender_picture(s, false); /* picture 10 loses its first packet */
	for (size_t k = 1; k < packets_of(s, 10); k++)
		put(r, packet(s, 10, k));
	held_at = r->now; /* when picture 11 completes */
	for (int i = 11; i < 15; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 10);
	st = stats(r);
	assert_int_equal(st.held, 4);
	assert_int_equal(st.dropped, 0);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));

	/* A round trip of 40 ms: the wait is 100 ms from the first picture held. */
	assert_false(poll_at(r, held_at + 99, 40));
	assert_int_equal(stats(r).dropped, 0);
	assert_true(poll_at(r, held_at + 100, 40));
	assert_false(poll_at(r, held_at + 1000, 40)); /* nothing is held any more */
	assert_int_equal(r->frames, 10);
	st = stats(r);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(put(r, packet(s, 10, 0)), 1); /* too late now */

	t = r->now;
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, t, 40));
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, t + 100, 40));
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, t + 250, 40));

	/* The keyframe the request brings, and the pictures after it. */
	put_picture(r, s, sender_picture(s, true));
	assert_true(s->key[15]);
	for (int i = 16; i < 20; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 15);
	assert_numbers(r, 0, 10, 0);
	assert_numbers(r, 10, 15, 15);
	st = stats(r);
	assert_int_equal(st.keyframes, 2);
	assert_int_equal(st.key_wanted, 2);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, t + 1000, 40));
	receiver_free(r);
	sender_free(s);
}

/* A stream wants a keyframe from its start until one came, asked at most once per
 * max(rtt, 250 ms). */
static void keyframe_requests_are_rate_limited(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);

	(void)state;
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, 1000, 0));
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, 1100, 0));
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, 1249, 0));
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, 1250, 0));
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, 1600, 400)); /* a long round trip */
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, 1650, 400));
	assert_int_equal(stats(r).key_wanted, 3);

	/* A stream joined in the middle: its delta pictures wait for the keyframe. */
	for (int i = 0; i < 5; i++)
		sender_picture(s, false);
	for (int i = 1; i < 5; i++)
		put_picture(r, s, i);
	assert_int_equal(r->frames, 0);
	assert_int_equal(stats(r).dropped, 4);
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, 2000, 0));
	put_picture(r, s, sender_picture(s, true));
	assert_int_equal(r->frames, 1);
	assert_numbers(r, 0, 1, 5);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, 5000, 0));
	assert_int_equal(stats(r).key_wanted, 4);
	receiver_free(r);
	sender_free(s);
}

/* A packet that comes again (a retransmission) while the next picture is still coming in
 * completes its picture, and both are decoded. */
static void a_late_retransmission_recovers_its_picture(void **state)
{
	struct sender *s = sender_new(1280, 720);
	struct receiver *r = receiver_new(true);
	size_t n5, n6;

	(void)state;
	for (int i = 0; i < 5; i++)
		put_picture(r, s, sender_picture(s, false));
	sender_picture(s, true); /* keyframes: several packets each */
	sender_picture(s, true);
	n5 = packets_of(s, 5);
	n6 = packets_of(s, 6);
	assert_true(n5 >= 3 && n6 >= 2);
	for (size_t k = 0; k < n5; k++)
		if (k != 1)
			assert_int_equal(put(r, packet(s, 5, k)), 0);
	for (size_t k = 0; k + 1 < n6; k++)
		assert_int_equal(put(r, packet(s, 6, k)), 0);
	assert_int_equal(r->frames, 5);
	assert_int_equal(put(r, packet(s, 5, 1)), 0); /* the retransmission */
	assert_int_equal(r->frames, 6);
	assert_int_equal(put(r, packet(s, 6, n6 - 1)), 0);
	for (int i = 7; i < 10; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 10);
	assert_numbers(r, 0, 10, 0);
	assert_int_equal(stats(r).dropped, 0);
	receiver_free(r);
	sender_free(s);
}

/* Once the wait of a newer complete picture is over, an incomplete older one is given up:
 * its late packet is too old then, and the newer picture, after a gap, waits for a
 * keyframe. */
static void a_stale_picture_is_dropped_after_the_wait(void **state)
{
	struct sender *s = sender_new(1280, 720);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;

	(void)state;
	for (int i = 0; i < 5; i++)
		put_picture(r, s, sender_picture(s, false));
	sender_picture(s, true);
	assert_true(packets_of(s, 5) >= 2);
	for (size_t k = 1; k < packets_of(s, 5); k++)
		put(r, packet(s, 5, k));
	put_picture(r, s, sender_picture(s, false));
	assert_true(poll_at(r, r->now + 500, 1000));
	assert_int_equal(put(r, packet(s, 5, 0)), 1); /* too late */
	/* And a packet of a picture already decoded is too old as well. */
	assert_int_equal(put(r, packet(s, 3, 0)), 1);
	assert_int_equal(r->frames, 5);
	st = stats(r);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.malformed, 2);
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, r->now, 0));
	receiver_free(r);
	sender_free(s);
}

/* A packet lost and sent again (NACK) a round trip later, after the two next pictures
 * completed: they wait for it, and all three are decoded in order with no keyframe. */
static void a_retransmission_after_later_pictures_decodes_them_all(void **state)
{
	struct sender *s = sender_new(1280, 720);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;

	(void)state;
	for (int i = 0; i < 5; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));
	sender_picture(s, false); /* picture 5 loses its last packet */
	assert_true(packets_of(s, 5) >= 2);
	for (size_t k = 0; k + 1 < packets_of(s, 5); k++)
		assert_int_equal(put(r, packet(s, 5, k)), 0);
	for (int i = 6; i < 8; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 5);
	assert_int_equal(stats(r).held, 2);
	assert_false(poll_at(r, r->now, 40)); /* 66 ms of the 100 the wait lasts */
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));

	assert_int_equal(put(r, packet(s, 5, packets_of(s, 5) - 1)), 0); /* the retransmission */
	assert_int_equal(r->frames, 8);
	assert_false(poll_at(r, r->now + 1000, 40)); /* nothing waits any more */
	for (int i = 8; i < 12; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 12);
	assert_numbers(r, 0, 12, 0);
	st = stats(r);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.keyframes, 1);
	assert_int_equal(st.key_wanted, 0);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));
	receiver_free(r);
	sender_free(s);
}

/* The keyframe a stream waits for is big, the picture likeliest to lose a packet: the
 * pictures after it wait for its retransmission too, rather than for another keyframe. */
static void a_keyframe_missing_a_packet_is_waited_for(void **state)
{
	struct sender *s = sender_new(1280, 720);
	struct receiver *r = receiver_new(true);
	size_t n;

	(void)state;
	sender_picture(s, false);
	sender_picture(s, false);
	put_picture(r, s, 1); /* the stream joined after its first keyframe */
	assert_int_equal(stats(r).dropped, 1);
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));
	sender_picture(s, true);
	n = packets_of(s, 2);
	assert_true(n >= 3);
	for (size_t k = 0; k < n; k++)
		if (k != n / 2)
			assert_int_equal(put(r, packet(s, 2, k)), 0);
	for (int i = 3; i < 6; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 0);
	assert_int_equal(stats(r).held, 3);
	assert_int_equal(put(r, packet(s, 2, n / 2)), 0); /* the retransmission */
	assert_int_equal(r->frames, 4);
	assert_numbers(r, 0, 4, 2);
	assert_int_equal(stats(r).dropped, 1);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now + 1000, 40));
	receiver_free(r);
	sender_free(s);
}

/* Two pictures lost apart: the first retransmission lets the pictures up to the second gap
 * be decoded, and the rest wait for the second one. */
static void two_gaps_are_waited_for_one_after_the_other(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);

	(void)state;
	for (int i = 0; i < 10; i++)
		sender_picture(s, false);
	for (int i = 0; i < 10; i++)
		if (i != 3 && i != 6)
			put_picture(r, s, i);
	assert_int_equal(r->frames, 3);
	assert_int_equal(stats(r).held, 5);
	put_picture(r, s, 3);
	assert_int_equal(r->frames, 6);
	assert_numbers(r, 0, 6, 0);
	/* The wait goes on from when picture 7 completed, four pictures of 33 ms ago, rather
	 * than from when picture 4 did, two pictures before: 100 ms from that are over. */
	assert_false(poll_at(r, r->now - 4 * 33 + 99, 40));
	put_picture(r, s, 6);
	assert_int_equal(r->frames, 10);
	assert_numbers(r, 0, 10, 0);
	assert_int_equal(stats(r).dropped, 0);
	assert_false(poll_at(r, r->now + 1000, 40));
	receiver_free(r);
	sender_free(s);
}

/* A keyframe that completes while pictures wait is decoded at once: what waited before it
 * is dropped, and what came after it follows. */
static void a_keyframe_ends_the_wait_at_once(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;

	(void)state;
	for (int i = 0; i < 12; i++)
		sender_picture(s, i == 8);
	assert_true(s->key[8]);
	for (int i = 0; i < 5; i++)
		put_picture(r, s, i);
	put_picture(r, s, 6); /* 5 is lost */
	put_picture(r, s, 7);
	put_picture(r, s, 9); /* it came before the keyframe, and waits for it */
	assert_int_equal(r->frames, 5);
	assert_int_equal(stats(r).held, 3);
	put_picture(r, s, 8);
	assert_int_equal(r->frames, 7);
	assert_numbers(r, 5, 7, 8);
	st = stats(r);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.keyframes, 2);
	assert_int_equal(put(r, packet(s, 5, 0)), 1); /* too old */
	assert_false(poll_at(r, r->now + 1000, 40));
	put_picture(r, s, 10);
	put_picture(r, s, 11);
	assert_int_equal(r->frames, 9);
	assert_numbers(r, 5, 9, 8);
	assert_int_equal(stats(r).dropped, 3);
	assert_false(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));
	receiver_free(r);
	sender_free(s);
}

/* The wait is twice the round trip (a NACK and the one repeating it), 100 ms at least
 * (and when the round trip is unknown), 500 ms at most. */
static void the_wait_is_twice_the_round_trip_within_bounds(void **state)
{
	static const int rtt[] = {-1, 0, 30, 100, 200, 249, 400, 5000};
	static const int64_t wait[] = {100, 100, 100, 200, 400, 498, 500, 500};
	struct sender *s = sender_new(320, 240);

	(void)state;
	for (int i = 0; i < 4; i++)
		sender_picture(s, false);
	for (size_t c = 0; c < sizeof(rtt) / sizeof(rtt[0]); c++) {
		struct receiver *r = receiver_new(true);
		int64_t held_at;

		put_picture(r, s, 0);
		put_picture(r, s, 1);
		held_at = r->now;
		put_picture(r, s, 3); /* 2 is lost */
		assert_false(poll_at(r, held_at + wait[c] - 1, rtt[c]));
		assert_int_equal(stats(r).dropped, 0);
		assert_true(poll_at(r, held_at + wait[c], rtt[c]));
		assert_int_equal(stats(r).dropped, 2);
		receiver_free(r);
	}
	assert_false(cw__vp8_rx_poll(NULL, 0, 0, NULL, NULL));
	sender_free(s);
}

/* A flood of pictures after a lost packet, with no clock to end the wait: it ends when the
 * held packets would not fit in the store any more, and the stream goes on (as after any
 * wait given up) to the next keyframe. */
static void the_held_pictures_never_outgrow_the_slots(void **state)
{
	struct sender *s = sender_new(1280, 720);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;
	size_t packets = 0;
	int last;

	(void)state;
	for (int i = 0; i < 3; i++)
		put_picture(r, s, sender_picture(s, false));
	sender_picture(s, false); /* picture 3 loses its first packet */
	for (size_t k = 1; k < packets_of(s, 3); k++)
		put(r, packet(s, 3, k));
	/* The packets of 512 sequence numbers and more; put_picture checks each is taken. */
	for (last = 4; packets < 700; last++) {
		sender_picture(s, false);
		packets += packets_of(s, last);
		put_picture(r, s, last);
		r->now = 100000; /* the clock stands still */
	}
	st = stats(r);
	assert_int_equal(r->frames, 3);
	/* What was held fit in the slots after the missing packet. */
	assert_true(st.held >= 1);
	assert_true(s->first[4 + st.held] - s->first[3] < 512);
	assert_true(s->first[4 + st.held + 1] - s->first[3] >= 512);
	/* Every picture from the lost one on was dropped, one at a time: no restart. */
	assert_int_equal(st.dropped, (uint64_t)(last - 3));
	assert_int_equal(put(r, packet(s, 3, 0)), 1);
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, r->now, 40));
	put_picture(r, s, sender_picture(s, true));
	put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 5);
	assert_numbers(r, 3, 5, last);
	receiver_free(r);
	sender_free(s);
}

/* Rewrites a packet's descriptor to the shortest (no X, no PictureID). */
static void strip_picture_id(struct pkt *p)
{
	uint8_t b0 = p->data[0] & 0x10; /* S */

	memmove(p->data + 1, p->data + CW__VP8_DESCRIPTOR, p->len - CW__VP8_DESCRIPTOR);
	p->data[0] = b0;
	p->len -= CW__VP8_DESCRIPTOR - 1;
}

/* Without PictureIDs the sequence numbers tell that a whole picture went missing. */
static void without_picture_ids_sequence_numbers_show_a_loss(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);

	(void)state;
	for (int i = 0; i < 12; i++)
		sender_picture(s, false);
	for (size_t k = 0; k < s->n; k++)
		strip_picture_id(&s->p[k]);
	for (int i = 0; i < 6; i++)
		put_picture(r, s, i);
	assert_int_equal(r->frames, 6);
	assert_numbers(r, 0, 6, 0);
	for (int i = 7; i < 12; i++) /* picture 6 is lost whole */
		put_picture(r, s, i);
	assert_int_equal(r->frames, 6);
	assert_int_equal(stats(r).held, 5); /* the next sequence number never came */
	assert_true(poll_at(r, r->now + 100, -1));
	assert_int_equal(stats(r).dropped, 6);
	assert_true(cw__vp8_rx_wants_keyframe(r->rx, r->now, 0));
	receiver_free(r);
	sender_free(s);
}

/* Sequence numbers and PictureIDs wrap without a hitch. */
static void numbers_wrap_without_a_loss(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);

	(void)state;
	s->seq = 65530;
	for (int i = 0; i < 20; i++)
		sender_picture(s, false);
	for (int i = 0; i < 20; i++) {
		for (size_t k = 0; k < packets_of(s, i); k++) {
			struct pkt *p = &s->p[s->first[i] + k];
			struct cw_rtp_vp8 d;

			assert_int_equal(cw_rtp_vp8_parse(&d, p->data, p->len), 0);
			assert_int_equal(
				cw_rtp_vp8_set_picture_id(p->data, &d, (uint16_t)(32760 + i)), 0);
		}
		put_picture(r, s, i);
	}
	assert_int_equal(r->frames, 20);
	assert_numbers(r, 0, 20, 0);
	assert_int_equal(stats(r).dropped, 0);
	receiver_free(r);
	sender_free(s);
}

/* The source's pictures grow from 320x240 to 640x360: the encoder starts again with a
 * keyframe and the receiver follows. */
static void a_size_change_is_followed(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);
	struct cw__vp8_rx_stats st;

	(void)state;
	for (int i = 0; i < 10; i++)
		put_picture(r, s, sender_picture(s, false));
	cw_test_pattern_free(s->pat);
	assert_int_equal(cw_test_pattern_new(&s->pat, 640, 360), 0);
	for (int i = 10; i < 20; i++)
		put_picture(r, s, sender_picture(s, false));
	assert_true(s->key[10]);
	assert_int_equal(r->frames, 20);
	assert_numbers(r, 0, 10, 0);
	assert_numbers(r, 10, 20, 0);
	for (size_t i = 0; i < 20; i++) {
		assert_int_equal(r->width[i], i < 10 ? 320 : 640);
		assert_int_equal(r->height[i], i < 10 ? 240 : 360);
	}
	st = stats(r);
	assert_int_equal(st.keyframes, 2);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.width, 640);
	assert_int_equal(st.height, 360);
	receiver_free(r);
	sender_free(s);
}

/* Payloads without a valid descriptor, or too big, are counted and change nothing. */
static void malformed_payloads_are_ignored_and_counted(void **state)
{
	static const uint8_t bad[][4] = {
		{0x80},			  /* X without its byte */
		{0x80, 0x80},		  /* I without the PictureID */
		{0x90, 0x80, 0x80},	  /* a 15-bit PictureID cut short */
		{0x90, 0x80, 0x80, 0x01}, /* a descriptor and no VP8 */
	};
	static const size_t bad_len[] = {1, 2, 3, 4};
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);
	uint8_t *big = calloc(1, 2000);
	size_t junk = 0;

	(void)state;
	assert_non_null(big);
	big[0] = 0x10;
	for (int i = 0; i < 10; i++) {
		sender_picture(s, false);
		/* Junk with the numbers the picture's packets will have. */
		for (size_t b = 0; b < 4; b++, junk++)
			assert_int_equal(cw__vp8_rx_put(r->rx, packet(s, i, 0)->seq, 0, true,
							bad[b], bad_len[b], r->now, on_frame, r),
					 1);
		assert_int_equal(cw__vp8_rx_put(r->rx, packet(s, i, 0)->seq, 0, true, big, 1502,
						r->now, on_frame, r),
				 1);
		assert_int_equal(cw__vp8_rx_put(r->rx, packet(s, i, 0)->seq, 0, true, NULL, 10,
						r->now, on_frame, r),
				 1);
		assert_int_equal(cw__vp8_rx_put(r->rx, packet(s, i, 0)->seq, 0, true, big, 0,
						r->now, on_frame, r),
				 1);
		junk += 3;
		put_picture(r, s, i);
	}
	assert_int_equal(r->frames, 10);
	assert_numbers(r, 0, 10, 0);
	assert_int_equal(stats(r).malformed, junk);
	assert_int_equal(stats(r).packets, s->n);
	assert_int_equal(cw__vp8_rx_put(NULL, 1, 0, true, big, 10, 0, NULL, NULL),
			 CW_ERR_INVALID_ARGUMENT);
	free(big);
	receiver_free(r);
	sender_free(s);
}

/* Random packets (bytes, lengths, numbers, timestamps, markers) between and around a real
 * stream: nothing breaks for good; after keyframe requests answered the stream decodes. */
static void random_packets_do_not_break_the_stream(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(true);
	uint8_t junk[1600];
	size_t before = 0;

	(void)state;
	rng_state = 31337;
	for (int i = 0; i < 60; i++) {
		/* Keyframes when asked, and one after the junk stopped: junk that took a real
		 * packet's number can spoil a picture without the decoder noticing. */
		bool key = cw__vp8_rx_wants_keyframe(r->rx, r->now, 0) || i == 40;

		sender_picture(s, key);
		for (int j = 0; i < 30 && j < 40; j++) {
			size_t len = rng() % sizeof(junk);
			uint16_t seq = (uint16_t)(rng() % 4 ? s->seq + rng() % 64 - 56 : rng());

			for (size_t k = 0; k < len; k++)
				junk[k] = (uint8_t)rng();
			if (rng() % 2)
				junk[0] = (uint8_t)(0x90 | (junk[0] & 0x20));
			cw__vp8_rx_put(r->rx, seq, rng() % 4 ? s->ts - TS_STEP : rng(), rng() % 2,
				       junk, len, r->now, on_frame, r);
		}
		for (size_t k = 0; k < packets_of(s, i); k++)
			put(r, packet(s, i, k));
		r->now += 1000 / FPS;
		poll_at(r, r->now, 0);
		if (i == 29)
			before = r->frames;
	}
	/* The last ten pictures, clean, are decoded in order. */
	assert_true(r->frames >= before + 10);
	assert_numbers(r, r->frames - 10, r->frames, 50);
	receiver_free(r);
	sender_free(s);
}

/* Without decoding, complete pictures are counted all the same. */
static void counting_mode_counts_pictures_without_decoding(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(false);
	struct cw__vp8_rx_stats st;

	(void)state;
	for (int i = 0; i < 30; i++)
		put_picture(r, s, sender_picture(s, i == 20));
	st = stats(r);
	assert_int_equal(r->frames, 0);
	assert_int_equal(st.frames, 30);
	assert_int_equal(st.keyframes, 2);
	assert_int_equal(st.width, 320);
	assert_int_equal(st.height, 240);
	assert_int_equal(st.dropped, 0);
	receiver_free(r);
	sender_free(s);
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
		cmocka_unit_test(pictures_sent_in_order_are_all_decoded),
		cmocka_unit_test(shuffled_and_duplicated_packets_still_decode),
		cmocka_unit_test(a_lost_packet_stops_decoding_until_a_keyframe),
		cmocka_unit_test(keyframe_requests_are_rate_limited),
		cmocka_unit_test(a_late_retransmission_recovers_its_picture),
		cmocka_unit_test(a_stale_picture_is_dropped_after_the_wait),
		cmocka_unit_test(a_retransmission_after_later_pictures_decodes_them_all),
		cmocka_unit_test(a_keyframe_missing_a_packet_is_waited_for),
		cmocka_unit_test(two_gaps_are_waited_for_one_after_the_other),
		cmocka_unit_test(a_keyframe_ends_the_wait_at_once),
		cmocka_unit_test(the_wait_is_twice_the_round_trip_within_bounds),
		cmocka_unit_test(the_held_pictures_never_outgrow_the_slots),
		cmocka_unit_test(without_picture_ids_sequence_numbers_show_a_loss),
		cmocka_unit_test(numbers_wrap_without_a_loss),
		cmocka_unit_test(a_size_change_is_followed),
		cmocka_unit_test(malformed_payloads_are_ignored_and_counted),
		cmocka_unit_test(random_packets_do_not_break_the_stream),
		cmocka_unit_test(counting_mode_counts_pictures_without_decoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
