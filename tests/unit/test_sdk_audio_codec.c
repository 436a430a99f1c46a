/* libcallwire's audio samples: the Opus encoder's arguments, RFC 6464 levels, saturating
 * mixing and the tone source's continuity. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "callwire/callwire.h"
#include "media.h"
#include "tone.h"

#define FRAME CW__AUDIO_FRAME
#define RATE CW__AUDIO_RATE

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
		cmocka_unit_test(the_tone_source_is_continuous_and_keeps_its_phase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
