/* Signals for the audio tests: a sine or noise to feed in, and what frequency and level came
 * out. */
#ifndef CW_TESTS_TONE_H
#define CW_TESTS_TONE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Sample i of a unit sine at freq Hz, sampled at rate Hz. */
static inline double tone_at(double freq, double rate, size_t i)
{
	return sin(2 * M_PI * freq * (double)i / rate);
}

/* The next of a repeatable run of noise (xorshift32) from *state, which must not be 0. */
static inline uint32_t noise32(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* The power of x, sampled at rate Hz, at freq Hz (Goertzel's algorithm). */
static inline double goertzel(const int16_t *x, size_t n, double freq, double rate)
{
	double k = 2 * cos(2 * M_PI * freq / rate), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + k * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - k * s1 * s2;
}

/* The strongest frequency of x from 100 Hz to top Hz, in steps of 10 Hz; 0 for silence. */
static inline double dominant(const int16_t *x, size_t n, double rate, double top)
{
	double best = 0, best_f = 0;

	for (double f = 100; f <= top; f += 10) {
		double p = goertzel(x, n, f, rate);
		if (p > best) {
			best = p;
			best_f = f;
		}
	}
	return best_f;
}

/* The root mean square of x, in sample units; 0 for no samples. */
static inline double rms(const int16_t *x, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)x[i] * x[i];
	return n ? sqrt(sum / (double)n) : 0;
}

#endif
