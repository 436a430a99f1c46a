/* libcallwire's jitter buffer: playout of a 440 Hz Opus stream under reordering, loss,
 * duplicates, gaps, bursts, renumbering, other packet durations and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <opus/opus.h>

#include "callwire/callwire.h"
#include "media.h"
#include "tone.h"

#define FRAME CW__AUDIO_FRAME
#define RATE CW__AUDIO_RATE
#define TONE_FRAMES 300 /* 6 s of a 440 Hz tone, encoded once for every test */

struct packets {
	size_t n;
	int len[TONE_FRAMES];
	uint8_t data[TONE_FRAMES][CW__OPUS_MAX];
};

static struct packets *tone440;

/* ---- helpers ---- */

static int setup(void **state)
{
	struct cw__opus_enc *enc;
	int16_t pcm[FRAME];

	(void)state;
	tone440 = calloc(1, sizeof(*tone440));
	if (!tone440 || cw__opus_enc_new(&enc, 0) != 0)
		return -1;
	for (size_t f = 0; f < TONE_FRAMES; f++) {
		for (size_t i = 0; i < FRAME; i++)
			pcm[i] = (int16_t)(10000 * tone_at(440, RATE, f * FRAME + i));
		tone440->len[f] = cw__opus_enc_frame(enc, pcm, tone440->data[f], CW__OPUS_MAX);
		if (tone440->len[f] <= 0)
			return -1;
	}
	tone440->n = TONE_FRAMES;
	cw__opus_enc_free(enc);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(tone440);
	return 0;
}

/* One jitter buffer run: what each get made and the audio. */
struct run {
	struct cw__jb *jb;
	size_t gets;
	enum cw__jb_frame kind[2 * TONE_FRAMES];
	int16_t pcm[2 * TONE_FRAMES * FRAME];
};

static struct run *run_new(void)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(cw__jb_new(&r->jb), 0);
	return r;
}

static void run_free(struct run *r)
{
	cw__jb_free(r->jb);
	free(r);
}

static int put_tone(struct run *r, size_t seq, int64_t now)
{
	return cw__jb_put(r->jb, (uint16_t)seq, (uint32_t)(seq * FRAME), tone440->data[seq],
			  (size_t)tone440->len[seq], now);
}

static enum cw__jb_frame get(struct run *r, int64_t now)
{
	assert_true(r->gets < 2 * TONE_FRAMES);
	r->kind[r->gets] = cw__jb_get(r->jb, r->pcm + r->gets * FRAME, now);
	return r->kind[r->gets++];
}

/* Frames from..to-1 of the tone arriving on time, one per 20 ms, each followed by a get:
 * how many of those packets the buffer refused. */
static size_t play(struct run *r, size_t from, size_t to)
{
	size_t refused = 0;

	for (size_t t = from; t < to; t++) {
		refused += put_tone(r, t, (int64_t)t * 20) != 0;
		get(r, (int64_t)t * 20);
	}
	return refused;
}

/* Like play, but frame t goes as packet number first + t (mod 2^16) with timestamp 0, the
 * way a sender numbering afresh would send it; whether it was taken is not asked. */
static void play_numbered(struct run *r, size_t from, size_t to, unsigned first)
{
	for (size_t t = from; t < to; t++) {
		cw__jb_put(r->jb, (uint16_t)(first + t), 0, tone440->data[t],
			   (size_t)tone440->len[t], (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
}

/* The first get that played sound. */
static size_t first_sound(const struct run *r)
{
	size_t i = 0;

	while (i < r->gets && r->kind[i] == CW__JB_SILENT)
		i++;
	return i;
}

/* Every get from the from-th on decoded a packet. */
static void assert_decoded_from(const struct run *r, size_t from)
{
	for (size_t i = from; i < r->gets; i++)
		assert_int_equal(r->kind[i], CW__JB_DECODED);
}

/* The last second of output is the 440 Hz tone. */
static void assert_plays_440(const struct run *r)
{
	assert_true(r->gets >= 50);
	assert_true(dominant(r->pcm + (r->gets - 50) * FRAME, 50 * FRAME, RATE, 4000) == 440);
	assert_true(rms(r->pcm + (r->gets - 50) * FRAME, 50 * FRAME) > 3000);
}

/* ---- the jitter buffer ---- */

/* Packets in order, one per 20 ms: after the target delay fills, every frame is decoded. */
static void packets_in_order_play_the_tone(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;

	(void)state;
	assert_int_equal(play(r, 0, 200), 0);
	assert_true(first_sound(r) <= 3);
	assert_decoded_from(r, first_sound(r));
	assert_plays_440(r);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.packets, 200);
	assert_int_equal(st.decoded + st.silent, 200);
	assert_int_equal(st.late + st.duplicates + st.concealed + st.fec + st.resyncs, 0);
	assert_true(st.delay_ms >= 20 && st.delay_ms <= 100);
	run_free(r);
}

/* Pairs swapped on the way: the buffer puts them back in order, nothing is concealed. */
static void reordered_packets_are_put_back_in_order(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;

	(void)state;
	for (size_t t = 0; t < 200; t++) {
		assert_int_equal(put_tone(r, t ^ 1, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
	assert_true(first_sound(r) <= 4);
	assert_decoded_from(r, first_sound(r));
	assert_plays_440(r);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.late + st.duplicates + st.concealed + st.fec, 0);
	run_free(r);
}

/* 5% of the packets lost: each loss costs about one recovered or concealed frame and the
 * tone goes on. */
static void losses_are_recovered_or_concealed(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;
	size_t lost = 0;
	uint32_t seed = 12345;

	(void)state;
	for (size_t t = 0; t < TONE_FRAMES; t++) {
		/* Not at the start (the fill) nor the end (frames still buffered). */
		if (t > 5 && t < TONE_FRAMES - 5 && noise32(&seed) % 100 < 5)
			lost++;
		else
			assert_int_equal(put_tone(r, t, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
	cw__jb_stats(r->jb, &st);
	assert_true(lost >= 8);
	assert_true(st.fec + st.concealed >= lost);
	assert_true(st.fec + st.concealed <= lost + lost / 4 + 2);
	assert_true(st.fec > 0); /* the next packet's in-band FEC is used */
	assert_int_equal(st.decoded + st.fec + st.concealed + st.silent, TONE_FRAMES);
	assert_int_equal(st.late + st.duplicates, 0);
	assert_plays_440(r);
	run_free(r);
}

static void duplicates_and_late_packets_are_counted_and_dropped(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;

	(void)state;
	assert_int_equal(play(r, 0, 20), 0);
	assert_int_equal(put_tone(r, 19, 400), 1); /* still waiting to be played */
	assert_int_equal(put_tone(r, 5, 400), 1);  /* played long ago */
	assert_int_equal(cw__jb_put(r->jb, 20, 0, tone440->data[20], 0, 400), 1);
	assert_int_equal(cw__jb_put(r->jb, 20, 0, NULL, 10, 400), 1);
	assert_int_equal(cw__jb_put(r->jb, 20, 0, tone440->data[20], CW__OPUS_MAX + 1, 400), 1);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.packets, 20);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.late, 1);
	/* After a late packet the playout goes on without losing anything. */
	assert_int_equal(play(r, 20, 80), 0);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.fec, 0);
	assert_true(st.concealed <= 1); /* the frame inserted to raise the delay */
	assert_plays_440(r);
	run_free(r);
}

/* Random bytes, random lengths, random sequence numbers between good packets: nothing
 * crashes, reads out of bounds or stops the playout for good. */
static void garbage_payloads_do_not_crash(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;
	uint8_t junk[CW__OPUS_MAX + 8];
	uint32_t seed = 777;

	(void)state;
	for (size_t t = 0; t < 200; t++) {
		for (int j = 0; j < 3; j++) {
			size_t len = noise32(&seed) % sizeof(junk);
			for (size_t i = 0; i < len; i++)
				junk[i] = (uint8_t)noise32(&seed);
			cw__jb_put(r->jb, (uint16_t)(t + noise32(&seed) % 200 - 100),
				   noise32(&seed), junk, len, (int64_t)t * 20);
		}
		if (t % 3)
			put_tone(r, t, (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.decoded + st.fec + st.concealed + st.silent, 200);
	/* And a clean stream afterwards plays as it should. */
	play(r, 200, 300); /* some of these numbers came as garbage already */
	assert_decoded_from(r, r->gets - 50);
	assert_plays_440(r);
	run_free(r);
}

/* The sender goes away for 600 ms: a little concealment, then silence; when packets come
 * again the playout starts afresh from them. */
static void a_long_gap_is_silence_then_a_resync(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;
	size_t silent = 0, concealed = 0, back;

	(void)state;
	assert_int_equal(play(r, 0, 50), 0);
	for (size_t t = 50; t < 80; t++) {
		enum cw__jb_frame k = get(r, (int64_t)t * 20);
		concealed += k == CW__JB_CONCEALED;
		silent += k == CW__JB_SILENT;
		if (k == CW__JB_SILENT)
			for (size_t i = 0; i < FRAME; i++)
				assert_int_equal(r->pcm[(r->gets - 1) * FRAME + i], 0);
	}
	assert_true(concealed >= 5 && concealed <= 12);
	assert_true(silent >= 15);
	assert_int_equal(r->kind[r->gets - 1], CW__JB_SILENT);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.resyncs, 0);

	back = r->gets;
	assert_int_equal(play(r, 80, 200), 0);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.resyncs, 1);
	for (size_t i = back; i < r->gets; i++) {
		if (i >= back + 3)
			assert_int_equal(r->kind[i], CW__JB_DECODED);
		else
			assert_true(r->kind[i] == CW__JB_SILENT || r->kind[i] == CW__JB_DECODED);
	}
	assert_plays_440(r);
	run_free(r);
}

/* A burst of 600 ms at once: old frames are dropped to keep the delay bounded. */
static void a_burst_is_cut_to_the_target(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;

	(void)state;
	assert_int_equal(play(r, 0, 20), 0);
	for (size_t t = 20; t < 50; t++)
		put_tone(r, t, 400);
	cw__jb_stats(r->jb, &st);
	assert_true(st.resyncs >= 1);
	assert_true(st.delay_ms <= 300);
	for (size_t t = 50; t < 150; t++) {
		put_tone(r, t, (int64_t)(t - 30) * 20);
		get(r, (int64_t)(t - 30) * 20);
	}
	cw__jb_stats(r->jb, &st);
	assert_true(st.delay_ms <= 120);
	assert_decoded_from(r, r->gets - 80);
	assert_plays_440(r);
	run_free(r);
}

/* A sender that numbers its packets afresh, forward or back (a restart), is followed after
 * a short break, across the 16-bit wrap too. */
static void a_sender_numbering_afresh_is_followed(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;

	(void)state;
	play_numbered(r, 0, 60, 65500);
	play_numbered(r, 60, 120, 20000);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.resyncs, 1);
	play_numbered(r, 120, 200, 9000);
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.resyncs, 2);
	assert_int_equal(st.late, 2); /* the first two of the new numbering, taken for strays */
	assert_decoded_from(r, r->gets - 60);
	assert_plays_440(r);
	run_free(r);
}

/* Packets of 10 and 60 ms still come out as steady 20 ms frames of the same tone. */
static void packets_of_other_durations_play(void **state)
{
	static const int durations[] = {480, 2880};

	(void)state;
	for (size_t d = 0; d < 2; d++) {
		int samples = durations[d];
		OpusEncoder *enc;
		struct run *r = run_new();
		int16_t pcm[2880];
		uint8_t pkt[CW__OPUS_MAX];
		size_t made = 0, seq = 0;
		int oerr;

		enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &oerr);
		assert_non_null(enc);
		for (size_t t = 0; t < 150; t++) {
			/* Packets are sent as soon as their audio is complete. */
			while (made < (t + 1) * FRAME) {
				int n;
				for (int i = 0; i < samples; i++)
					pcm[i] = (int16_t)(10000 *
							   tone_at(440, RATE, made + (size_t)i));
				n = opus_encode(enc, pcm, samples, pkt, sizeof(pkt));
				assert_true(n > 0);
				assert_int_equal(cw__jb_put(r->jb, (uint16_t)seq++, (uint32_t)made,
							    pkt, (size_t)n, (int64_t)t * 20),
						 0);
				made += (size_t)samples;
			}
			get(r, (int64_t)t * 20);
		}
		for (size_t i = first_sound(r); i < r->gets; i++)
			assert_int_equal(r->kind[i], CW__JB_DECODED);
		assert_true(first_sound(r) <= 5);
		assert_plays_440(r);
		opus_encoder_destroy(enc);
		run_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(packets_in_order_play_the_tone),
		cmocka_unit_test(reordered_packets_are_put_back_in_order),
		cmocka_unit_test(losses_are_recovered_or_concealed),
		cmocka_unit_test(duplicates_and_late_packets_are_counted_and_dropped),
		cmocka_unit_test(garbage_payloads_do_not_crash),
		cmocka_unit_test(a_long_gap_is_silence_then_a_resync),
		cmocka_unit_test(a_burst_is_cut_to_the_target),
		cmocka_unit_test(a_sender_numbering_afresh_is_followed),
		cmocka_unit_test(packets_of_other_durations_play),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
