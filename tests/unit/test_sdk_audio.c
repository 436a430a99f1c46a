/* libcallwire's audio: the Opus encoder, the jitter buffer's playout under reordering, loss,
 * gaps, bursts and garbage, and WAV files read in every layout and written while growing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <opus/opus.h>

#include "callwire/callwire.h"
#include "media.h"

#define FRAME CW__AUDIO_FRAME
#define RATE CW__AUDIO_RATE
#define TONE_FRAMES 300 /* 6 s of a 440 Hz tone, encoded once for every test */

struct packets {
	size_t n;
	int len[TONE_FRAMES];
	uint8_t data[TONE_FRAMES][CW__OPUS_MAX];
};

static struct packets *tone440;
static char tmpdir[64];

/* ---- helpers ---- */

static uint32_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static double tone_at(double freq, double rate, size_t i)
{
	return sin(2 * M_PI * freq * (double)i / rate);
}

/* The power of x at freq (Goertzel). */
static double power_at(const int16_t *x, size_t n, double freq)
{
	double w = 2 * cos(2 * M_PI * freq / RATE), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + w * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - w * s1 * s2;
}

/* The strongest frequency of x from 100 Hz to 4 kHz, in steps of 10 Hz. */
static double dominant(const int16_t *x, size_t n)
{
	double best = 0, best_f = 0;

	for (double f = 100; f <= 4000; f += 10) {
		double p = power_at(x, n, f);
		if (p > best) {
			best = p;
			best_f = f;
		}
	}
	return best_f;
}

static double rms(const int16_t *x, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)x[i] * x[i];
	return n ? sqrt(sum / (double)n) : 0;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct cw__opus_enc *enc;
	int16_t pcm[FRAME];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cw_audio_XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
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
	rmdir(tmpdir);
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

/* The first get that played sound. */
static size_t first_sound(const struct run *r)
{
	size_t i = 0;

	while (i < r->gets && r->kind[i] == CW__JB_SILENT)
		i++;
	return i;
}

/* The last second of output is the 440 Hz tone. */
static void assert_plays_440(const struct run *r)
{
	assert_true(r->gets >= 50);
	assert_true(dominant(r->pcm + (r->gets - 50) * FRAME, 50 * FRAME) == 440);
	assert_true(rms(r->pcm + (r->gets - 50) * FRAME, 50 * FRAME) > 3000);
}

/* ---- the encoder, levels, mixing ---- */

static void encoder_refuses_bad_arguments(void **state)
{
	struct cw__opus_enc *enc;
	int16_t pcm[FRAME] = {0};
	uint8_t out[CW__OPUS_MAX];

	(void)state;
	assert_int_equal(cw__opus_enc_new(&enc, 100), CW_ERR_INVALID_ARGUMENT);
	assert_null(enc);
	assert_int_equal(cw__opus_enc_new(&enc, 64000), 0);
	assert_int_equal(cw__opus_enc_frame(enc, pcm, out, 0), CW_ERR_INVALID_ARGUMENT);
	assert_int_equal(cw__opus_enc_frame(enc, NULL, out, sizeof(out)), CW_ERR_INVALID_ARGUMENT);
	assert_true(cw__opus_enc_frame(enc, pcm, out, sizeof(out)) > 0);
	cw__opus_enc_free(enc);
	cw__opus_enc_free(NULL);
}

static void levels_follow_rfc_6464(void **state)
{
	int16_t pcm[FRAME];

	(void)state;
	memset(pcm, 0, sizeof(pcm));
	assert_int_equal(cw__audio_level(pcm, FRAME), 127);
	assert_int_equal(cw__audio_level(pcm, 0), 127);
	for (size_t i = 0; i < FRAME; i++)
		pcm[i] = i % 2 ? 32767 : -32768;
	assert_int_equal(cw__audio_level(pcm, FRAME), 0);
	/* A sine peaking at -20 dBov has an RMS 3 dB lower. */
	for (size_t i = 0; i < FRAME; i++)
		pcm[i] = (int16_t)(3276.8 * tone_at(1000, RATE, i));
	assert_int_equal(cw__audio_level(pcm, FRAME), 23);
	pcm[0] = 1;
	memset(pcm + 1, 0, sizeof(pcm) - sizeof(pcm[0]));
	assert_int_equal(cw__audio_level(pcm, FRAME), 120);
}

static void mixing_saturates(void **state)
{
	int16_t dst[4] = {30000, -30000, 100, -5};
	const int16_t src[4] = {10000, -10000, -300, 5};

	(void)state;
	cw__audio_mix(dst, src, 4);
	assert_int_equal(dst[0], 32767);
	assert_int_equal(dst[1], -32768);
	assert_int_equal(dst[2], -200);
	assert_int_equal(dst[3], 0);
}

/* ---- the jitter buffer ---- */

/* Packets in order, one per 20 ms: after the target delay fills, every frame is decoded. */
static void packets_in_order_play_the_tone(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;

	(void)state;
	for (size_t t = 0; t < 200; t++) {
		assert_int_equal(put_tone(r, t, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
	assert_true(first_sound(r) <= 3);
	for (size_t i = first_sound(r); i < r->gets; i++)
		assert_int_equal(r->kind[i], CW__JB_DECODED);
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
	for (size_t i = first_sound(r); i < r->gets; i++)
		assert_int_equal(r->kind[i], CW__JB_DECODED);
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

	(void)state;
	rng_state = 12345;
	for (size_t t = 0; t < TONE_FRAMES; t++) {
		/* Not at the start (the fill) nor the end (frames still buffered). */
		if (t > 5 && t < TONE_FRAMES - 5 && rng() % 100 < 5)
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
	for (size_t t = 0; t < 20; t++) {
		assert_int_equal(put_tone(r, t, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
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
	for (size_t t = 20; t < 80; t++) {
		assert_int_equal(put_tone(r, t, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
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

	(void)state;
	rng_state = 777;
	for (size_t t = 0; t < 200; t++) {
		for (int j = 0; j < 3; j++) {
			size_t len = rng() % sizeof(junk);
			for (size_t i = 0; i < len; i++)
				junk[i] = (uint8_t)rng();
			cw__jb_put(r->jb, (uint16_t)(t + rng() % 200 - 100), rng(), junk, len,
				   (int64_t)t * 20);
		}
		if (t % 3)
			put_tone(r, t, (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.decoded + st.fec + st.concealed + st.silent, 200);
	/* And a clean stream afterwards plays as it should. */
	for (size_t t = 200; t < 300; t++) {
		put_tone(r, t, (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
	for (size_t i = r->gets - 50; i < r->gets; i++)
		assert_int_equal(r->kind[i], CW__JB_DECODED);
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
	for (size_t t = 0; t < 50; t++) {
		assert_int_equal(put_tone(r, t, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
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
	for (size_t t = 80; t < 200; t++) {
		assert_int_equal(put_tone(r, t, (int64_t)t * 20), 0);
		get(r, (int64_t)t * 20);
	}
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
	for (size_t t = 0; t < 20; t++) {
		put_tone(r, t, (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
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
	for (size_t i = r->gets - 80; i < r->gets; i++)
		assert_int_equal(r->kind[i], CW__JB_DECODED);
	assert_plays_440(r);
	run_free(r);
}

/* A sender that numbers its packets afresh, forward or back (a restart), is followed after
 * a short break, across the 16-bit wrap too. */
static void a_sender_numbering_afresh_is_followed(void **state)
{
	struct run *r = run_new();
	struct cw__jb_stats st;
	size_t t = 0;

	(void)state;
	for (; t < 60; t++) {
		cw__jb_put(r->jb, (uint16_t)(65500 + t), 0, tone440->data[t],
			   (size_t)tone440->len[t], (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
	for (; t < 120; t++) {
		cw__jb_put(r->jb, (uint16_t)(20000 + t), 0, tone440->data[t],
			   (size_t)tone440->len[t], (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.resyncs, 1);
	for (; t < 200; t++) {
		cw__jb_put(r->jb, (uint16_t)(9000 + t), 0, tone440->data[t],
			   (size_t)tone440->len[t], (int64_t)t * 20);
		get(r, (int64_t)t * 20);
	}
	cw__jb_stats(r->jb, &st);
	assert_int_equal(st.resyncs, 2);
	assert_int_equal(st.late, 2); /* the first two of the new numbering, taken for strays */
	for (size_t i = r->gets - 60; i < r->gets; i++)
		assert_int_equal(r->kind[i], CW__JB_DECODED);
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

/* ---- WAV files ---- */

/* A WAV file made byte by byte, the way other programs write them (or get them wrong). */
struct bytes {
	uint8_t *p;
	size_t n, cap;
};

static void add(struct bytes *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

static void add16(struct bytes *b, unsigned v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	add(b, x, 2);
}

static void add32(struct bytes *b, uint32_t v)
{
	add16(b, v & 0xFFFF);
	add16(b, v >> 16);
}

struct wav_spec {
	unsigned format; /* 1 PCM, 3 float */
	bool extensible;
	unsigned channels, bits;
	uint32_t rate;
	size_t frames;
	double freq, amp; /* the tone, in every channel */
	double freq2;	  /* a second tone of the same amplitude (0: none) */
	bool odd_chunk;	  /* an unknown chunk of odd size before the data */
};

static void add_sample(struct bytes *b, const struct wav_spec *s, double v)
{
	int32_t i;

	if (s->format == 3) {
		float f = (float)v;
		uint32_t u;
		memcpy(&u, &f, sizeof(u));
		add32(b, u);
		return;
	}
	switch (s->bits) {
	case 8:
		i = (int32_t)lrint(v * 127) + 128;
		add(b, &(uint8_t){(uint8_t)i}, 1);
		break;
	case 16:
		add16(b, (uint16_t)(int16_t)lrint(v * 32767));
		break;
	case 24:
		i = (int32_t)lrint(v * 8388607);
		add16(b, (uint16_t)(i & 0xFFFF));
		add(b, &(uint8_t){(uint8_t)((uint32_t)i >> 16)}, 1);
		break;
	default:
		add32(b, (uint32_t)(int32_t)lrint(v * 2147483000.0));
		break;
	}
}

static void make_wav(struct bytes *b, const struct wav_spec *s)
{
	unsigned block = s->channels * s->bits / 8;
	size_t data_len = s->frames * block;

	b->n = 0;
	add(b, "RIFF", 4);
	add32(b, 0); /* a wrong RIFF size, as some writers leave it */
	add(b, "WAVEfmt ", 8);
	add32(b, s->extensible ? 40 : 16);
	add16(b, s->extensible ? 0xFFFE : s->format);
	add16(b, s->channels);
	add32(b, s->rate);
	add32(b, s->rate * block);
	add16(b, block);
	add16(b, s->bits);
	if (s->extensible) {
		static const uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
						 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
		add16(b, 22);
		add16(b, s->bits);
		add32(b, 0);
		add16(b, s->format);
		add(b, tail, sizeof(tail));
	}
	if (s->odd_chunk) {
		add(b, "LIST", 4);
		add32(b, 5);
		add(b, "INFOx\0", 6);
	}
	add(b, "data", 4);
	add32(b, (uint32_t)data_len);
	for (size_t i = 0; i < s->frames; i++) {
		double v = s->amp * tone_at(s->freq, s->rate, i);
		if (s->freq2 > 0)
			v += s->amp * tone_at(s->freq2, s->rate, i);
		for (unsigned c = 0; c < s->channels; c++)
			add_sample(b, s, v);
	}
	if (data_len & 1)
		add(b, "", 1);
}

static void load_spec(const struct wav_spec *s, int16_t **pcm, size_t *n)
{
	struct bytes b = {0};
	char path[128], err[256];

	make_wav(&b, s);
	path_of(path, sizeof(path), "spec.wav");
	write_file(path, b.p, b.n);
	free(b.p);
	assert_int_equal(cw__wav_load(path, pcm, n, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	unlink(path);
}

static void a_written_file_loads_back_equal(void **state)
{
	struct cw__wav_out *out;
	int16_t *in, *back;
	size_t n = RATE * 3 / 2, nback;
	char path[128], err[256];

	(void)state;
	in = malloc(n * sizeof(*in));
	assert_non_null(in);
	rng_state = 99;
	for (size_t i = 0; i < n; i++)
		in[i] = (int16_t)(i < 100 ? (i % 2 ? 32767 : -32768) : (int16_t)rng());
	path_of(path, sizeof(path), "round.wav");
	assert_int_equal(cw__wav_create(&out, path), 0);
	for (size_t i = 0; i < n; i += 777)
		assert_int_equal(cw__wav_write(out, in + i, n - i < 777 ? n - i : 777), 0);
	assert_int_equal(cw__wav_samples(out), n);
	assert_int_equal(cw__wav_close(out), 0);
	assert_int_equal(cw__wav_close(NULL), 0);

	assert_int_equal(cw__wav_load(path, &back, &nback, err, sizeof(err)), 0);
	assert_int_equal(nback, n);
	assert_memory_equal(back, in, n * sizeof(*in));
	free(back);
	free(in);
	unlink(path);
}

/* A recording still being written has a valid header after its first second, so a crash
 * leaves a playable file. */
static void an_open_file_has_valid_sizes_after_a_second(void **state)
{
	struct cw__wav_out *out;
	int16_t pcm[FRAME] = {0}, *back;
	uint8_t h[44];
	uint32_t riff, data;
	size_t nback;
	char path[128], err[256];
	FILE *f;
	long len;

	(void)state;
	path_of(path, sizeof(path), "open.wav");
	assert_int_equal(cw__wav_create(&out, path), 0);
	for (size_t i = 0; i < 60; i++) /* 1.2 s */
		assert_int_equal(cw__wav_write(out, pcm, FRAME), 0);

	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(h, 1, sizeof(h), f), sizeof(h));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	fclose(f);
	assert_memory_equal(h, "RIFF", 4);
	assert_memory_equal(h + 36, "data", 4);
	data = (uint32_t)h[40] | (uint32_t)h[41] << 8 | (uint32_t)h[42] << 16 |
	       (uint32_t)h[43] << 24;
	riff = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
	assert_int_equal(data, RATE * 2);
	assert_int_equal(riff, 36 + data);
	assert_true(len >= 44 + (long)data);
	assert_int_equal(cw__wav_load(path, &back, &nback, err, sizeof(err)), 0);
	assert_int_equal(nback, RATE);
	free(back);

	assert_int_equal(cw__wav_close(out), 0);
	assert_int_equal(cw__wav_load(path, &back, &nback, err, sizeof(err)), 0);
	assert_int_equal(nback, 60 * FRAME);
	free(back);
	unlink(path);
}

static void stereo_16_khz_is_mixed_down_and_resampled(void **state)
{
	struct wav_spec s = {.format = 1,
			     .channels = 2,
			     .bits = 16,
			     .rate = 16000,
			     .frames = 8000,
			     .freq = 1000,
			     .amp = 0.5};
	int16_t *pcm;
	size_t n;

	(void)state;
	load_spec(&s, &pcm, &n);
	assert_int_equal(n, 24000);
	assert_true(dominant(pcm + 2400, 19200) == 1000);
	/* The amplitude is kept: RMS of 0.5 full scale is 11585. */
	assert_true(fabs(rms(pcm + 2400, 19200) - 11585) < 300);
	free(pcm);
}

static void extensible_24_bit_at_44_1_khz_loads(void **state)
{
	struct wav_spec s = {.format = 1,
			     .extensible = true,
			     .channels = 1,
			     .bits = 24,
			     .rate = 44100,
			     .frames = 44100,
			     .freq = 1000,
			     .amp = 0.3};
	int16_t *pcm;
	size_t n;

	(void)state;
	load_spec(&s, &pcm, &n);
	assert_int_equal(n, 48000);
	assert_true(dominant(pcm + 4800, 38400) == 1000);
	assert_true(fabs(rms(pcm + 4800, 38400) - 0.3 * 32768 / sqrt(2)) < 200);
	free(pcm);
}

/* Downsampling filters out what the 48 kHz output cannot carry instead of folding it back:
 * a 30 kHz tone at 96 kHz would alias to 18 kHz. */
static void float_at_96_khz_is_low_passed(void **state)
{
	struct wav_spec s = {.format = 3,
			     .channels = 1,
			     .bits = 32,
			     .rate = 96000,
			     .frames = 48000,
			     .freq = 1000,
			     .amp = 0.4,
			     .freq2 = 30000};
	int16_t *pcm;
	size_t n;

	(void)state;
	load_spec(&s, &pcm, &n);
	assert_int_equal(n, 24000);
	assert_true(dominant(pcm + 2400, 19200) == 1000);
	assert_true(power_at(pcm + 2400, 19200, 18000) < power_at(pcm + 2400, 19200, 1000) * 1e-6);
	free(pcm);
}

/* 8-bit, three channels, an odd unknown chunk and an odd data chunk, each padded. */
static void odd_chunks_and_8_bit_load(void **state)
{
	struct wav_spec s = {.format = 1,
			     .channels = 3,
			     .bits = 8,
			     .rate = 8000,
			     .frames = 8001,
			     .freq = 1000,
			     .amp = 0.5,
			     .odd_chunk = true};
	int16_t *pcm;
	size_t n;

	(void)state;
	load_spec(&s, &pcm, &n);
	assert_int_equal(n, 48006);
	assert_true(dominant(pcm + 4800, 38400) == 1000);
	free(pcm);
}

static void expect_refused(const char *name, const struct bytes *b, const char *says)
{
	char path[128], err[256] = "x";
	int16_t *pcm = (int16_t *)1;
	size_t n = 1;

	path_of(path, sizeof(path), name);
	write_file(path, b->p, b->n);
	assert_int_equal(cw__wav_load(path, &pcm, &n, err, sizeof(err)), CW_ERR_INVALID_ARGUMENT);
	assert_null(pcm);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, path));
	if (says && !strstr(err, says))
		fail_msg("%s: \"%s\" does not say \"%s\"", name, err, says);
	unlink(path);
}

/* Patches the little-endian field at off. */
static void patch(struct bytes *b, size_t off, uint32_t v, int width)
{
	for (int i = 0; i < width; i++)
		b->p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void malformed_files_are_refused_with_a_reason(void **state)
{
	struct wav_spec s = {.format = 1,
			     .channels = 1,
			     .bits = 16,
			     .rate = 16000,
			     .frames = 100,
			     .freq = 1000,
			     .amp = 0.5};
	struct bytes good = {0}, b = {0};
	char path[128], err[256];
	int16_t *pcm;
	size_t n;

	(void)state;
	make_wav(&good, &s);
	add(&b, good.p, good.n);
#define REFUSED(says, ...)                                                                         \
	do {                                                                                       \
		b.n = 0;                                                                           \
		add(&b, good.p, good.n);                                                           \
		__VA_ARGS__;                                                                       \
		expect_refused("bad.wav", &b, says);                                               \
	} while (0)
	REFUSED("not a RIFF/WAVE file", b.n = 0);
	REFUSED("not a RIFF/WAVE file", b.p[3] = 'X');
	REFUSED("not a RIFF/WAVE file", memcpy(b.p + 8, "AVI ", 4));
	REFUSED("12-bit samples are not supported", patch(&b, 34, 12, 2));
	REFUSED("64-bit float", patch(&b, 20, 3, 2); patch(&b, 34, 64, 2));
	REFUSED("format 0x0002", patch(&b, 20, 2, 2));
	REFUSED("0 channels", patch(&b, 22, 0, 2));
	REFUSED("9 channels", patch(&b, 22, 9, 2); patch(&b, 32, 18, 2));
	REFUSED("4000 Hz", patch(&b, 24, 4000, 4));
	REFUSED("200000 Hz", patch(&b, 24, 200000, 4));
	REFUSED("block", patch(&b, 32, 4, 2));
	REFUSED("fmt chunk is too short", patch(&b, 16, 14, 4));
	REFUSED("EXTENSIBLE", patch(&b, 20, 0xFFFE, 2));
	REFUSED("truncated", patch(&b, 40, 100000, 4));
	REFUSED("truncated", patch(&b, 16, 0x7FFFFFF0, 4));
	REFUSED("no 'data' chunk", memcpy(b.p + 36, "junk", 4));
	REFUSED("no 'fmt ' chunk", memcpy(b.p + 12, "junk", 4));
	/* Cut short anywhere in its header. */
	for (size_t len = 0; len < 44; len++)
		REFUSED(NULL, b.n = len);

	/* A bad subformat GUID in an extensible header. */
	s.extensible = true;
	make_wav(&b, &s);
	b.p[44 + 4] ^= 1;
	expect_refused("bad.wav", &b, "subformat");

	path_of(path, sizeof(path), "missing.wav");
	assert_int_equal(cw__wav_load(path, &pcm, &n, err, sizeof(err)), CW_ERR_IO);
	assert_non_null(strstr(err, "missing.wav"));
	assert_int_equal(cw__wav_load(NULL, &pcm, &n, err, sizeof(err)), CW_ERR_INVALID_ARGUMENT);
	free(good.p);
	free(b.p);
#undef REFUSED
}

/* The example greeting that ships with the SDK loads (a couple of seconds of speech). */
static void the_example_greeting_loads(void **state)
{
	char path[512], err[256];
	const char *slash = strrchr(__FILE__, '/');
	int16_t *pcm;
	size_t n;

	(void)state;
	if (!slash || __FILE__[0] != '/')
		skip();
	snprintf(path, sizeof(path), "%.*s/../../examples/hello.wav", (int)(slash - __FILE__),
		 __FILE__);
	assert_int_equal(access(path, R_OK), 0); /* it ships with the source */
	assert_int_equal(cw__wav_load(path, &pcm, &n, err, sizeof(err)), 0);
	assert_true(n >= 2 * RATE && n <= 4 * RATE);
	assert_true(rms(pcm, n) > 500);
	free(pcm);
}

/* The tone source is continuous for any frequency, across the frames it is asked for and
 * across whole seconds, and keeps its phase after hours of calling. */
static void the_tone_source_is_continuous_and_keeps_its_phase(void **state)
{
	cw_tone t = {.frequency = 440.25, .amplitude = 0.5, .position = 0};
	int16_t pcm[3 * RATE];
	double step = 2 * M_PI * 440.25 / RATE * 0.5 * 32767 * 1.01 + 1;

	(void)state;
	for (size_t at = 0; at < 3 * RATE; at += CW__AUDIO_FRAME)
		assert_int_equal(cw_tone_source_cb(NULL, pcm + at, CW__AUDIO_FRAME, &t),
				 CW__AUDIO_FRAME);
	assert_true(t.position == 3 * RATE);
	for (size_t i = 1; i < 3 * RATE; i++) {
		if (fabs((double)pcm[i] - pcm[i - 1]) > step) {
			print_error("a jump of %d at sample %zu\n", pcm[i] - pcm[i - 1], i);
			fail();
		}
	}
	/* Ten hours and a second in: the sample is the sine at n * f / rate cycles. */
	t.position = (uint64_t)36001 * RATE + 12345;
	cw_tone_source_cb(NULL, pcm, 1, &t);
	long double cycles = (long double)((uint64_t)36001 * RATE + 12345) * 440.25L / RATE;
	double want = 0.5 * 32767 * sin((double)(2 * M_PI * (cycles - floorl(cycles))));
	assert_true(fabs(pcm[0] - want) <= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoder_refuses_bad_arguments),
		cmocka_unit_test(levels_follow_rfc_6464),
		cmocka_unit_test(mixing_saturates),
		cmocka_unit_test(packets_in_order_play_the_tone),
		cmocka_unit_test(reordered_packets_are_put_back_in_order),
		cmocka_unit_test(losses_are_recovered_or_concealed),
		cmocka_unit_test(duplicates_and_late_packets_are_counted_and_dropped),
		cmocka_unit_test(garbage_payloads_do_not_crash),
		cmocka_unit_test(a_long_gap_is_silence_then_a_resync),
		cmocka_unit_test(a_burst_is_cut_to_the_target),
		cmocka_unit_test(a_sender_numbering_afresh_is_followed),
		cmocka_unit_test(packets_of_other_durations_play),
		cmocka_unit_test(a_written_file_loads_back_equal),
		cmocka_unit_test(an_open_file_has_valid_sizes_after_a_second),
		cmocka_unit_test(stereo_16_khz_is_mixed_down_and_resampled),
		cmocka_unit_test(extensible_24_bit_at_44_1_khz_loads),
		cmocka_unit_test(float_at_96_khz_is_low_passed),
		cmocka_unit_test(odd_chunks_and_8_bit_load),
		cmocka_unit_test(the_tone_source_is_continuous_and_keeps_its_phase),
		cmocka_unit_test(malformed_files_are_refused_with_a_reason),
		cmocka_unit_test(the_example_greeting_loads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
