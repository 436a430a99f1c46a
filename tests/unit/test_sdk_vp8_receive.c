/* libcallwire's video, the receiving side without loss: cw__vp8_rx reassembles and decodes
 * pictures under reordering, duplicates, size changes, wrapping numbers and garbage. */
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

static void pictures_sent_in_order_are_all_decoded(void **state)
{
	static const int sizes[][2] = {{320, 240}, {640, 480}};

	(void)state;
	for (size_t z = 0; z < 2; z++) {
		struct sender *s = sender_new(sizes[z][0], sizes[z][1]);
		struct receiver *r = receiver_new(true);
		struct cw__vp8_rx_stats st;

		stream_pictures(r, s, 30, NO_KEYFRAME);
		assert_decoded(r, 30);
		assert_size(r, 0, 30, sizes[z][0], sizes[z][1]);
		st = stats(r);
		assert_int_equal(st.frames, 30);
		assert_int_equal(st.keyframes, 1);
		assert_int_equal(st.packets, s->n);
		assert_int_equal(st.dropped + st.duplicates + st.malformed, 0);
		assert_int_equal(st.width, sizes[z][0]);
		assert_int_equal(st.height, sizes[z][1]);
		/* Decoding started at a keyframe: nothing to ask for. */
		assert_false(wants_keyframe(r, r->now, 0));
		receiver_free(r);
		sender_free(s);
	}
}

/* Fisher-Yates, with rng. */
static void shuffle(const struct pkt **order, size_t n)
{
	for (size_t k = n; k > 1; k--) {
		size_t j = rng() % k;
		const struct pkt *t = order[k - 1];

		order[k - 1] = order[j];
		order[j] = t;
	}
}

/* The packets of each picture shuffled, and some sent twice: every picture still decodes,
 * once. */
static void shuffled_and_duplicated_packets_still_decode(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	struct cw__vp8_rx_stats st;
	const struct pkt *order[256];
	size_t dups = 0;

	rng_seed(2024);
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
		shuffle(order, m);
		for (size_t k = 0; k < m; k++)
			put(r, order[k]);
	}
	st = stats(r);
	assert_decoded(r, 30);
	assert_int_equal(st.packets, s->n);
	/* A copy that came after its picture was decoded is too old rather than a duplicate. */
	assert_true(st.duplicates > 0);
	assert_int_equal(st.duplicates + st.malformed, dups);
	assert_int_equal(st.dropped, 0);
}

/* Rewrites the PictureID of every packet sent: first_id for picture 0, and on. */
static void set_picture_ids(struct sender *s, uint16_t first_id)
{
	for (size_t k = 0; k < s->n; k++) {
		struct pkt *p = &s->p[k];
		struct cw_rtp_vp8 d;

		assert_int_equal(cw_rtp_vp8_parse(&d, p->data, p->len), 0);
		assert_int_equal(
			cw_rtp_vp8_set_picture_id(p->data, &d, (uint16_t)(first_id + p->picture)),
			0);
	}
}

/* Sequence numbers and PictureIDs wrap without a hitch. */
static void numbers_wrap_without_a_loss(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);

	s->seq = 65530;
	encode_pictures(s, 20, NO_KEYFRAME);
	set_picture_ids(s, 32760);
	put_pictures(r, s, 0, 20);
	assert_decoded(r, 20);
	assert_int_equal(stats(r).dropped, 0);
}

/* The source's pictures grow from 320x240 to 640x360: the encoder starts again with a
 * keyframe and the receiver follows. */
static void a_size_change_is_followed(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	struct cw__vp8_rx_stats st;

	stream_pictures(r, s, 10, NO_KEYFRAME);
	cw_test_pattern_free(s->pat);
	assert_int_equal(cw_test_pattern_new(&s->pat, 640, 360), 0);
	stream_pictures(r, s, 10, NO_KEYFRAME);
	assert_true(s->key[10]);
	assert_int_equal(r->frames, 20);
	assert_numbers(r, 0, 10, 0);
	assert_numbers(r, 10, 20, 0);
	assert_size(r, 0, 10, 320, 240);
	assert_size(r, 10, 20, 640, 360);
	st = stats(r);
	assert_int_equal(st.keyframes, 2);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.width, 640);
	assert_int_equal(st.height, 360);
}

/* A payload with the given sequence number is ignored. */
static void assert_ignored(struct receiver *r, uint16_t seq, const uint8_t *payload, size_t len)
{
	assert_int_equal(cw__vp8_rx_put(r->rx, seq, 0, true, payload, len, r->now, on_frame, r), 1);
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
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	uint8_t *big = calloc(1, 2000);
	size_t junk = 0;

	assert_non_null(big);
	big[0] = 0x10;
	for (int i = 0; i < 10; i++) {
		uint16_t seq;

		sender_picture(s, false);
		seq = packet(s, i, 0)->seq; /* junk with the numbers of the picture's packets */
		for (size_t b = 0; b < 4; b++, junk++)
			assert_ignored(r, seq, bad[b], bad_len[b]);
		assert_ignored(r, seq, big, 1502);
		assert_ignored(r, seq, NULL, 10);
		assert_ignored(r, seq, big, 0);
		junk += 3;
		put_picture(r, s, i);
	}
	assert_decoded(r, 10);
	assert_int_equal(stats(r).malformed, junk);
	assert_int_equal(stats(r).packets, s->n);
	assert_int_equal(cw__vp8_rx_put(NULL, 1, 0, true, big, 10, 0, NULL, NULL),
			 CW_ERR_INVALID_ARGUMENT);
	free(big);
}

/* Random packets (bytes, lengths, numbers, timestamps, markers) between and around a real
 * stream: nothing breaks for good; after keyframe requests answered the stream decodes. */
static void random_packets_do_not_break_the_stream(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	uint8_t junk[1600];
	size_t before = 0;

	rng_seed(31337);
	for (int i = 0; i < 60; i++) {
		/* Keyframes when asked, and one after the junk stopped: junk that took a real
		 * packet's number can spoil a picture without the decoder noticing. */
		bool key = wants_keyframe(r, r->now, 0) || i == 40;

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
		/* Junk may have taken a real packet's number: not every one is taken. */
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
}

/* Without decoding, complete pictures are counted all the same. */
static void counting_mode_counts_pictures_without_decoding(void **state)
{
	struct sender *s = sender_new(320, 240);
	struct receiver *r = receiver_new(false);
	struct cw__vp8_rx_stats st;

	(void)state;
	stream_pictures(r, s, 30, 20);
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
		cmocka_unit_test(pictures_sent_in_order_are_all_decoded),
		LINK_TEST_HD(shuffled_and_duplicated_packets_still_decode),
		LINK_TEST(numbers_wrap_without_a_loss),
		LINK_TEST(a_size_change_is_followed),
		LINK_TEST(malformed_payloads_are_ignored_and_counted),
		LINK_TEST(random_packets_do_not_break_the_stream),
		cmocka_unit_test(counting_mode_counts_pictures_without_decoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
