/* libcallwire's WAV files: read in every layout other programs write (rates, widths,
 * channels, float, extensible headers, odd chunks), refused with a reason when malformed,
 * and written with a valid header while they grow. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "callwire/callwire.h"
#include "media.h"
#include "tone.h"

#define FRAME CW__AUDIO_FRAME
#define RATE CW__AUDIO_RATE

static char tmpdir[64];

/* ---- helpers ---- */

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
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cw_audio_XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}

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

/* The file s describes, loaded: want_n samples at 48 kHz whose strongest frequency after the
 * first tenth (where the resampler starts) is s's tone. */
static int16_t *load_tone(const struct wav_spec *s, size_t want_n)
{
	struct bytes b = {0};
	char path[128], err[256];
	int16_t *pcm;
	size_t n;

	make_wav(&b, s);
	path_of(path, sizeof(path), "spec.wav");
	write_file(path, b.p, b.n);
	free(b.p);
	assert_int_equal(cw__wav_load(path, &pcm, &n, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	unlink(path);
	assert_int_equal(n, want_n);
	assert_true(dominant(pcm + want_n / 10, want_n / 10 * 8, RATE, 4000) == s->freq);
	return pcm;
}

static void a_written_file_loads_back_equal(void **state)
{
	struct cw__wav_out *out;
	int16_t *in, *back;
	size_t n = RATE * 3 / 2, nback;
	uint32_t seed = 99;
	char path[128], err[256];

	(void)state;
	in = malloc(n * sizeof(*in));
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (int16_t)(i < 100 ? (i % 2 ? 32767 : -32768) : (int16_t)noise32(&seed));
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

	(void)state;
	pcm = load_tone(&s, 24000);
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

	(void)state;
	pcm = load_tone(&s, 48000);
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

	(void)state;
	pcm = load_tone(&s, 24000);
	assert_true(goertzel(pcm + 2400, 19200, 18000, RATE) <
		    goertzel(pcm + 2400, 19200, 1000, RATE) * 1e-6);
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

	(void)state;
	pcm = load_tone(&s, 48006);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_written_file_loads_back_equal),
		cmocka_unit_test(an_open_file_has_valid_sizes_after_a_second),
		cmocka_unit_test(stereo_16_khz_is_mixed_down_and_resampled),
		cmocka_unit_test(extensible_24_bit_at_44_1_khz_loads),
		cmocka_unit_test(float_at_96_khz_is_low_passed),
		cmocka_unit_test(odd_chunks_and_8_bit_load),
		cmocka_unit_test(malformed_files_are_refused_with_a_reason),
		cmocka_unit_test(the_example_greeting_loads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
