/* libcallwire's video, the receiving side under loss: the pictures after a missing one held
 * for its retransmission, the wait given up, and keyframes asked for and taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "video.h"
#include "vp8_support.h"

/* A packet lost for good: the pictures after it wait for it, and once the wait is over
 * (twice the round trip, 100 ms at least) they are dropped and the stream asks for a
 * keyframe, with which decoding resumes. */
static void a_lost_packet_stops_decoding_until_a_keyframe(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	int64_t t, held_at;

	stream_pictures(r, s, 10, NO_KEYFRAME);
	assert_int_equal(r->frames, 10);
	assert_false(wants_keyframe(r, r->now, 0));

	sender_picture(s, false); /* picture 10 loses its first packet */
	put_picture_but(r, s, 10, 0);
	held_at = r->now; /* when picture 11 completes */
	stream_pictures(r, s, 4, NO_KEYFRAME);
	assert_int_equal(r->frames, 10);
	assert_int_equal(stats(r).held, 4);
	assert_int_equal(stats(r).dropped, 0);
	assert_false(wants_keyframe(r, r->now, 40));

	/* A round trip of 40 ms: the wait is 100 ms from the first picture held. */
	assert_false(poll_at(r, held_at + 99, 40));
	assert_int_equal(stats(r).dropped, 0);
	assert_true(poll_at(r, held_at + 100, 40));
	assert_false(poll_at(r, held_at + 1000, 40)); /* nothing is held any more */
	assert_int_equal(r->frames, 10);
	assert_int_equal(stats(r).dropped, 5);
	assert_int_equal(put(r, packet(s, 10, 0)), 1); /* too late now */

	t = r->now;
	assert_true(wants_keyframe(r, t, 40));
	assert_false(wants_keyframe(r, t + 100, 40));
	assert_true(wants_keyframe(r, t + 250, 40));

	/* The keyframe the request brings, and the pictures after it. */
	put_picture(r, s, sender_picture(s, true));
	assert_true(s->key[15]);
	stream_pictures(r, s, 4, NO_KEYFRAME);
	assert_int_equal(r->frames, 15);
	assert_numbers(r, 0, 10, 0);
	assert_numbers(r, 10, 15, 15);
	assert_int_equal(stats(r).keyframes, 2);
	assert_int_equal(stats(r).key_wanted, 2);
	assert_false(wants_keyframe(r, t + 1000, 40));
}

/* A stream wants a keyframe from its start until one came, asked at most once per
 * max(rtt, 250 ms). */
static void keyframe_requests_are_rate_limited(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);

	assert_true(wants_keyframe(r, 1000, 0));
	assert_false(wants_keyframe(r, 1100, 0));
	assert_false(wants_keyframe(r, 1249, 0));
	assert_true(wants_keyframe(r, 1250, 0));
	assert_false(wants_keyframe(r, 1600, 400)); /* a long round trip */
	assert_true(wants_keyframe(r, 1650, 400));
	assert_int_equal(stats(r).key_wanted, 3);

	/* A stream joined in the middle: its delta pictures wait for the keyframe. */
	encode_pictures(s, 5, NO_KEYFRAME);
	put_pictures(r, s, 1, 5);
	assert_int_equal(r->frames, 0);
	assert_int_equal(stats(r).dropped, 4);
	assert_true(wants_keyframe(r, 2000, 0));
	put_picture(r, s, sender_picture(s, true));
	assert_int_equal(r->frames, 1);
	assert_numbers(r, 0, 1, 5);
	assert_false(wants_keyframe(r, 5000, 0));
	assert_int_equal(stats(r).key_wanted, 4);
}

/* A packet that comes again (a retransmission) while the next picture is still coming in
 * completes its picture, and both are decoded. */
static void a_late_retransmission_recovers_its_picture(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	size_t n5, n6;

	stream_pictures(r, s, 5, NO_KEYFRAME);
	sender_picture(s, true); /* keyframes: several packets each */
	sender_picture(s, true);
	n5 = packets_of(s, 5);
	n6 = packets_of(s, 6);
	assert_true(n5 >= 3 && n6 >= 2);
	put_picture_but(r, s, 5, 1);
	put_picture_but(r, s, 6, n6 - 1);
	assert_int_equal(r->frames, 5);
	assert_int_equal(put(r, packet(s, 5, 1)), 0); /* the retransmission */
	assert_int_equal(r->frames, 6);
	assert_int_equal(put(r, packet(s, 6, n6 - 1)), 0);
	stream_pictures(r, s, 3, NO_KEYFRAME);
	assert_decoded(r, 10);
	assert_int_equal(stats(r).dropped, 0);
}

/* Once the wait of a newer complete picture is over, an incomplete older one is given up:
 * its late packet is too old then, and the newer picture, after a gap, waits for a
 * keyframe. */
static void a_stale_picture_is_dropped_after_the_wait(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);

	stream_pictures(r, s, 5, NO_KEYFRAME);
	sender_picture(s, true);
	assert_true(packets_of(s, 5) >= 2);
	put_picture_but(r, s, 5, 0);
	put_picture(r, s, sender_picture(s, false));
	assert_true(poll_at(r, r->now + 500, 1000));
	assert_int_equal(put(r, packet(s, 5, 0)), 1); /* too late */
	/* And a packet of a picture already decoded is too old as well. */
	assert_int_equal(put(r, packet(s, 3, 0)), 1);
	assert_int_equal(r->frames, 5);
	assert_int_equal(stats(r).dropped, 2);
	assert_int_equal(stats(r).malformed, 2);
	assert_true(wants_keyframe(r, r->now, 0));
}

/* A packet lost and sent again (NACK) a round trip later, after the two next pictures
 * completed: they wait for it, and all three are decoded in order with no keyframe. */
static void a_retransmission_after_later_pictures_decodes_them_all(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	size_t last;

	stream_pictures(r, s, 5, NO_KEYFRAME);
	assert_false(wants_keyframe(r, r->now, 40));
	sender_picture(s, false); /* picture 5 loses its last packet */
	last = packets_of(s, 5) - 1;
	assert_true(last >= 1);
	put_picture_but(r, s, 5, last);
	stream_pictures(r, s, 2, NO_KEYFRAME);
	assert_int_equal(r->frames, 5);
	assert_int_equal(stats(r).held, 2);
	assert_false(poll_at(r, r->now, 40)); /* 66 ms of the 100 the wait lasts */
	assert_false(wants_keyframe(r, r->now, 40));

	assert_int_equal(put(r, packet(s, 5, last)), 0); /* the retransmission */
	assert_int_equal(r->frames, 8);
	assert_false(poll_at(r, r->now + 1000, 40)); /* nothing waits any more */
	stream_pictures(r, s, 4, NO_KEYFRAME);
	assert_decoded(r, 12);
	assert_int_equal(stats(r).dropped, 0);
	assert_int_equal(stats(r).keyframes, 1);
	assert_int_equal(stats(r).key_wanted, 0);
	assert_false(wants_keyframe(r, r->now, 40));
}

/* The keyframe a stream waits for is big, the picture likeliest to lose a packet: the
 * pictures after it wait for its retransmission too, rather than for another keyframe. */
static void a_keyframe_missing_a_packet_is_waited_for(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	size_t n;

	encode_pictures(s, 2, NO_KEYFRAME);
	put_picture(r, s, 1); /* the stream joined after its first keyframe */
	assert_int_equal(stats(r).dropped, 1);
	assert_true(wants_keyframe(r, r->now, 40));
	sender_picture(s, true);
	n = packets_of(s, 2);
	assert_true(n >= 3);
	put_picture_but(r, s, 2, n / 2);
	stream_pictures(r, s, 3, NO_KEYFRAME);
	assert_int_equal(r->frames, 0);
	assert_int_equal(stats(r).held, 3);
	assert_int_equal(put(r, packet(s, 2, n / 2)), 0); /* the retransmission */
	assert_int_equal(r->frames, 4);
	assert_numbers(r, 0, 4, 2);
	assert_int_equal(stats(r).dropped, 1);
	assert_false(wants_keyframe(r, r->now + 1000, 40));
}

/* Two pictures lost apart: the first retransmission lets the pictures up to the second gap
 * be decoded, and the rest wait for the second one. */
static void two_gaps_are_waited_for_one_after_the_other(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);

	encode_pictures(s, 10, NO_KEYFRAME);
	put_pictures(r, s, 0, 3); /* 3 and 6 are lost */
	put_pictures(r, s, 4, 6);
	put_pictures(r, s, 7, 10);
	assert_int_equal(r->frames, 3);
	assert_int_equal(stats(r).held, 5);
	put_picture(r, s, 3);
	assert_decoded(r, 6);
	/* The wait goes on from when picture 7 completed, four pictures of 33 ms ago, rather
	 * than from when picture 4 did, two pictures before: 100 ms from that are over. */
	assert_false(poll_at(r, r->now - 4 * 33 + 99, 40));
	put_picture(r, s, 6);
	assert_decoded(r, 10);
	assert_int_equal(stats(r).dropped, 0);
	assert_false(poll_at(r, r->now + 1000, 40));
}

/* A keyframe that completes while pictures wait is decoded at once: what waited before it
 * is dropped, and what came after it follows. */
static void a_keyframe_ends_the_wait_at_once(void **state)
{
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);

	encode_pictures(s, 12, 8);
	assert_true(s->key[8]);
	put_pictures(r, s, 0, 5);
	put_picture(r, s, 6); /* 5 is lost */
	put_picture(r, s, 7);
	put_picture(r, s, 9); /* it came before the keyframe, and waits for it */
	assert_int_equal(r->frames, 5);
	assert_int_equal(stats(r).held, 3);
	put_picture(r, s, 8);
	assert_int_equal(r->frames, 7);
	assert_numbers(r, 5, 7, 8);
	assert_int_equal(stats(r).dropped, 3);
	assert_int_equal(stats(r).keyframes, 2);
	assert_int_equal(put(r, packet(s, 5, 0)), 1); /* too old */
	assert_false(poll_at(r, r->now + 1000, 40));
	put_pictures(r, s, 10, 12);
	assert_int_equal(r->frames, 9);
	assert_numbers(r, 5, 9, 8);
	assert_int_equal(stats(r).dropped, 3);
	assert_false(wants_keyframe(r, r->now, 40));
}

/* The wait is twice the round trip (a NACK and the one repeating it), 100 ms at least
 * (and when the round trip is unknown), 500 ms at most. */
static void the_wait_is_twice_the_round_trip_within_bounds(void **state)
{
	static const int rtt[] = {-1, 0, 30, 100, 200, 249, 400, 5000};
	static const int64_t wait[] = {100, 100, 100, 200, 400, 498, 500, 500};
	struct sender *s = sender_new(320, 240);

	(void)state;
	encode_pictures(s, 4, NO_KEYFRAME);
	for (size_t c = 0; c < sizeof(rtt) / sizeof(rtt[0]); c++) {
		struct receiver *r = receiver_new(true);
		int64_t held_at;

		put_pictures(r, s, 0, 2);
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
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);
	struct cw__vp8_rx_stats st;
	size_t packets = 0;
	int last;

	stream_pictures(r, s, 3, NO_KEYFRAME);
	sender_picture(s, false); /* picture 3 loses its first packet */
	put_picture_but(r, s, 3, 0);
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
	assert_true(wants_keyframe(r, r->now, 40));
	put_picture(r, s, sender_picture(s, true));
	put_picture(r, s, sender_picture(s, false));
	assert_int_equal(r->frames, 5);
	assert_numbers(r, 3, 5, last);
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
	struct sender *s = link_sender(state);
	struct receiver *r = link_receiver(state);

	encode_pictures(s, 12, NO_KEYFRAME);
	for (size_t k = 0; k < s->n; k++)
		strip_picture_id(&s->p[k]);
	put_pictures(r, s, 0, 6);
	assert_decoded(r, 6);
	put_pictures(r, s, 7, 12); /* picture 6 is lost whole */
	assert_int_equal(r->frames, 6);
	assert_int_equal(stats(r).held, 5); /* the next sequence number never came */
	assert_true(poll_at(r, r->now + 100, -1));
	assert_int_equal(stats(r).dropped, 6);
	assert_true(wants_keyframe(r, r->now, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LINK_TEST(a_lost_packet_stops_decoding_until_a_keyframe),
		LINK_TEST(keyframe_requests_are_rate_limited),
		LINK_TEST_HD(a_late_retransmission_recovers_its_picture),
		LINK_TEST_HD(a_stale_picture_is_dropped_after_the_wait),
		LINK_TEST_HD(a_retransmission_after_later_pictures_decodes_them_all),
		LINK_TEST_HD(a_keyframe_missing_a_packet_is_waited_for),
		LINK_TEST(two_gaps_are_waited_for_one_after_the_other),
		LINK_TEST(a_keyframe_ends_the_wait_at_once),
		cmocka_unit_test(the_wait_is_twice_the_round_trip_within_bounds),
		LINK_TEST_HD(the_held_pictures_never_outgrow_the_slots),
		LINK_TEST(without_picture_ids_sequence_numbers_show_a_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
