/* vp8_support: the VP8 unit tests' sender, receiver, steps and assertions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vp8_support.h"

static uint32_t rng_state;

void rng_seed(uint32_t seed)
{
	rng_state = seed;
}

uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- the sender ---- */

struct sender *sender_new(int width, int height)
{
	struct sender *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(cw_test_pattern_new(&s->pat, width, height), 0);
	assert_int_equal(cw__vp8_enc_new(&s->enc, FPS, 0), 0);
	s->seq = 1000;
	s->ts = 5000;
	return s;
}

void sender_free(struct sender *s)
{
	cw_test_pattern_free(s->pat);
	cw__vp8_enc_free(s->enc);
	free(s);
}

void sender_emit(const uint8_t *payload, size_t len, bool marker, void *arg)
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

int sender_picture(struct sender *s, bool keyframe)
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

void encode_pictures(struct sender *s, int n, int key_at)
{
	for (int k = 0; k < n; k++)
		sender_picture(s, s->picture == key_at);
}

size_t packets_of(const struct sender *s, int picture)
{
	return s->first[picture + 1] - s->first[picture];
}

const struct pkt *packet(const struct sender *s, int picture, size_t k)
{
	return &s->p[s->first[picture] + k];
}

/* ---- the receiver ---- */

void on_frame(const cw_video_frame *f, void *arg)
{
	struct receiver *r = arg;
	uint32_t n;

	assert_true(r->frames < FRAMES_MAX);
	r->number[r->frames] = cw_test_pattern_read(f, &n) ? (int64_t)n : -1;
	r->width[r->frames] = f->width;
	r->height[r->frames] = f->height;
	r->frames++;
}

struct receiver *receiver_new(bool decode)
{
	struct receiver *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(cw__vp8_rx_new(&r->rx, decode), 0);
	r->now = 100000;
	return r;
}

void receiver_free(struct receiver *r)
{
	cw__vp8_rx_free(r->rx);
	free(r);
}

int put(struct receiver *r, const struct pkt *p)
{
	return cw__vp8_rx_put(r->rx, p->seq, p->ts, p->marker, p->data, p->len, r->now, on_frame,
			      r);
}

void put_picture(struct receiver *r, const struct sender *s, int picture)
{
	for (size_t k = 0; k < packets_of(s, picture); k++)
		assert_int_equal(put(r, packet(s, picture, k)), 0);
	r->now += 1000 / FPS;
}

void put_pictures(struct receiver *r, const struct sender *s, int from, int to)
{
	for (int i = from; i < to; i++)
		put_picture(r, s, i);
}

void put_picture_but(struct receiver *r, const struct sender *s, int picture, size_t lost)
{
	assert_true(lost < packets_of(s, picture));
	for (size_t k = 0; k < packets_of(s, picture); k++)
		if (k != lost)
			assert_int_equal(put(r, packet(s, picture, k)), 0);
}

void stream_pictures(struct receiver *r, struct sender *s, int n, int key_at)
{
	for (int k = 0; k < n; k++)
		put_picture(r, s, sender_picture(s, s->picture == key_at));
}

bool poll_at(struct receiver *r, int64_t now, int rtt_ms)
{
	return cw__vp8_rx_poll(r->rx, now, rtt_ms, on_frame, r);
}

bool wants_keyframe(struct receiver *r, int64_t now, int rtt_ms)
{
	return cw__vp8_rx_wants_keyframe(r->rx, now, rtt_ms);
}

struct cw__vp8_rx_stats stats(const struct receiver *r)
{
	struct cw__vp8_rx_stats st;

	cw__vp8_rx_stats(r->rx, &st);
	return st;
}

/* ---- what came out ---- */

void assert_numbers(const struct receiver *r, size_t from, size_t to, int64_t first)
{
	assert_true(to <= r->frames);
	for (size_t i = from; i < to; i++) {
		if (r->number[i] != first + (int64_t)(i - from))
			fail_msg("frame %zu reads as %lld, not %lld", i, (long long)r->number[i],
				 (long long)(first + (int64_t)(i - from)));
	}
}

void assert_decoded(const struct receiver *r, size_t n)
{
	assert_int_equal(r->frames, n);
	assert_numbers(r, 0, n, 0);
}

void assert_size(const struct receiver *r, size_t from, size_t to, int width, int height)
{
	assert_true(to <= r->frames);
	for (size_t i = from; i < to; i++) {
		assert_int_equal(r->width[i], width);
		assert_int_equal(r->height[i], height);
	}
}

/* ---- the fixture ---- */

struct link {
	struct sender *s;
	struct receiver *r;
};

static int link_new(void **state, int width, int height)
{
	struct link *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	*state = l;
	l->s = sender_new(width, height);
	l->r = receiver_new(true);
	return 0;
}

int link_setup(void **state)
{
	return link_new(state, 320, 240);
}

int link_setup_hd(void **state)
{
	return link_new(state, 1280, 720);
}

int link_teardown(void **state)
{
	struct link *l = *state;

	receiver_free(l->r);
	sender_free(l->s);
	free(l);
	return 0;
}

struct sender *link_sender(void **state)
{
	return ((struct link *)*state)->s;
}

struct receiver *link_receiver(void **state)
{
	return ((struct link *)*state)->r;
}
