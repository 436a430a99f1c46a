/* vp8_support: the VP8 unit tests' two ends: a sender (the test pattern through the encoder
 * into numbered RTP packets) and a receiver (cw__vp8_rx, its pictures read as the pattern),
 * the steps the tests take between them, and what they assert about what came out. */
#ifndef CW_TEST_VP8_SUPPORT_H
#define CW_TEST_VP8_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callwire/callwire.h"
#include "video.h"

#define FPS 30
#define TS_STEP (CW__VIDEO_CLOCK / FPS)
#define PKTS_MAX 8192
#define FRAMES_MAX 512
#define NO_KEYFRAME (-1) /* for key_at: no picture is asked to be a keyframe */

/* A small xorshift generator, so that "random" tests run the same every time. */
void rng_seed(uint32_t seed);
uint32_t rng(void);

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

struct sender *sender_new(int width, int height);
void sender_free(struct sender *s);
/* The encoder's emit callback: the payload is the sender's next packet. */
void sender_emit(const uint8_t *payload, size_t len, bool marker, void *arg);
/* Encodes the pattern's next picture; its packets are s->p[first[i]] to s->p[first[i+1]).
 * Returns its number i. */
int sender_picture(struct sender *s, bool keyframe);
/* Encodes the pattern's next n pictures, the one numbered key_at asked to be a keyframe. */
void encode_pictures(struct sender *s, int n, int key_at);
size_t packets_of(const struct sender *s, int picture);
const struct pkt *packet(const struct sender *s, int picture, size_t k);

/* A receiver: what came out of cw__vp8_rx, read as the test pattern. */
struct receiver {
	struct cw__vp8_rx *rx;
	int64_t now;
	size_t frames;
	int64_t number[FRAMES_MAX]; /* -1: not the test pattern */
	int width[FRAMES_MAX], height[FRAMES_MAX];
};

/* decode false: the receiver only counts complete pictures. */
struct receiver *receiver_new(bool decode);
void receiver_free(struct receiver *r);
/* The frame callback: records the picture's number and size. */
void on_frame(const cw_video_frame *f, void *arg);
/* One packet at the receiver's clock: cw__vp8_rx_put's result. */
int put(struct receiver *r, const struct pkt *p);
/* Sends every packet of a picture, in order, each taken; the clock moves a picture on. */
void put_picture(struct receiver *r, const struct sender *s, int picture);
/* Sends pictures from to to-1 that way. */
void put_pictures(struct receiver *r, const struct sender *s, int from, int to);
/* Sends a picture's packets in order but one, the lost one, each taken; the clock stands. */
void put_picture_but(struct receiver *r, const struct sender *s, int picture, size_t lost);
/* Encodes n more pictures (the one numbered key_at a keyframe) and sends each whole. */
void stream_pictures(struct receiver *r, struct sender *s, int n, int key_at);
/* The session's clock tick: true when a wait was given up. */
bool poll_at(struct receiver *r, int64_t now, int rtt_ms);
bool wants_keyframe(struct receiver *r, int64_t now, int rtt_ms);
struct cw__vp8_rx_stats stats(const struct receiver *r);

/* Frames from to to-1 delivered read as pictures first, first+1, ... */
void assert_numbers(const struct receiver *r, size_t from, size_t to, int64_t first);
/* Exactly n frames delivered: pictures 0 to n-1, in order. */
void assert_decoded(const struct receiver *r, size_t n);
/* Frames from to to-1 delivered are width x height. */
void assert_size(const struct receiver *r, size_t from, size_t to, int width, int height);

/* The fixture of the tests of one stream: a 320x240 (or 1280x720, whose keyframes take
 * several packets) sender and a decoding receiver, freed even when the test fails. */
int link_setup(void **state);
int link_setup_hd(void **state);
int link_teardown(void **state);
struct sender *link_sender(void **state);
struct receiver *link_receiver(void **state);
/* A cmocka test with that fixture. */
#define LINK_TEST(test) cmocka_unit_test_setup_teardown(test, link_setup, link_teardown)
#define LINK_TEST_HD(test) cmocka_unit_test_setup_teardown(test, link_setup_hd, link_teardown)

#endif
