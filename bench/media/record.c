/*
 * media_record: writes the recording the SFU benchmark replays (format in bench/sfu/media.h):
 * real VP8 and Opus RTP payloads, from the real encoders configured as WebRTC configures them,
 * fed with synthetic but camera- and speech-like sources. The same command gives the same bytes.
 *
 *   media_record OUT.cwmedia [--seconds 10] [--width 640 --height 480 --fps 30
 *                [--video-kbps 1000] [--audio-kbps 32]
 *   media_record --check FILE   loads FILE, decodes its VP8 and Opus, prints what it found
 *
 * The sources are computed with integer hashes and plain double arithmetic (a polynomial sine,
 * no libm but sqrt), so they do not depend on which libm variant the machine picks.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus/opus.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "media.h"

#define AUDIO_RATE 48000
#define AUDIO_FRAME 960 /* 20 ms */
#define VIDEO_CLOCK 90000
#define MAX_RTP_PAYLOAD 1100 /* what browsers packetize VP8 to, descriptor included */
#define KEYFRAME_EVERY_S 3
#define PI 3.14159265358979323846

struct opts {
	const char *out;
	int seconds, width, height, fps, video_kbps, audio_kbps;
};

/* ---- deterministic arithmetic ---- */

static double dsin(double x)
{
	double k = floor(x / (2 * PI) + 0.5);
	x -= k * (2 * PI);
	if (x > PI / 2)
		x = PI - x;
	else if (x < -PI / 2)
		x = -PI - x;
	double x2 = x * x;
	return x * (1 + x2 * (-1.0 / 6 +
			      x2 * (1.0 / 120 +
				    x2 * (-1.0 / 5040 +
					  x2 * (1.0 / 362880 + x2 * (-1.0 / 39916800 +
								     x2 * (1.0 / 6227020800)))))));
}

static double dcos(double x)
{
	return dsin(x + PI / 2);
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double urand(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static uint32_t hash3(uint32_t x, uint32_t y, uint32_t s)
{
	uint32_t h = x * 0x8da6b343u ^ y * 0xd8163841u ^ s * 0xcb1ab31fu;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

/* Smooth value noise in [0, 1] with lattice cells of `cell` pixels. */
static double vnoise(double x, double y, double cell, uint32_t s)
{
	x /= cell;
	y /= cell;
	double fx = floor(x), fy = floor(y);
	uint32_t ix = (uint32_t)(int64_t)fx, iy = (uint32_t)(int64_t)fy;
	double u = x - fx, v = y - fy;
	u = u * u * (3 - 2 * u);
	v = v * v * (3 - 2 * v);
	double a = (hash3(ix, iy, s) >> 8) / 16777216.0;
	double b = (hash3(ix + 1, iy, s) >> 8) / 16777216.0;
	double c = (hash3(ix, iy + 1, s) >> 8) / 16777216.0;
	double d = (hash3(ix + 1, iy + 1, s) >> 8) / 16777216.0;
	return a + (b - a) * u + (c - a) * v + (a - b - c + d) * u * v;
}

static double fbm(double x, double y, double cell, int octaves, uint32_t s)
{
	double sum = 0, w = 0.5, norm = 0;
	for (int o = 0; o < octaves; o++) {
		sum += w * vnoise(x, y, cell, s + (uint32_t)o * 7919u);
		norm += w;
		w *= 0.55;
		cell *= 0.5;
	}
	return sum / norm;
}

/* RFC 6464 level of 16-bit samples: -dBov rounded, 0..127 (127 for silence). */
static int audio_level(const int16_t *pcm, int n)
{
	static double thr[127];
	if (thr[0] == 0) {
		/* thr[L] = full scale^2 * 10^(-(L + 0.5) / 10) */
		double t = 32768.0 * 32768.0 * 0.8912509381337456; /* 10^-0.05 */
		for (int l = 0; l < 127; l++) {
			thr[l] = t;
			t *= 0.7943282347242815; /* 10^-0.1 */
		}
	}
	double sq = 0;
	for (int i = 0; i < n; i++)
		sq += (double)pcm[i] * pcm[i];
	sq /= n;
	int level = 0;
	while (level < 127 && sq < thr[level])
		level++;
	return level;
}

/* ---- the speech-like source ---- */

struct syllable {
	int start, fric_len, vowel_len; /* samples: a fricative onset (maybe 0), then a vowel */
	double f[3], gain, accent, f0;
	double phrase_pos; /* 0..1 within its phrase: the pitch declines over a phrase */
	double fric_hz;
};

/* A talker: phrases of 4-12 syllables with pauses between, harmonics of a gliding pitch shaped
 * by moving formants, fricative noise onsets, a microphone's noise floor. */
static int16_t *speech_make(int seconds, size_t *n_out)
{
	static const double vowels[][3] = {
		{730, 1090, 2440}, {270, 2290, 3010}, {300, 870, 2240},
		{530, 1840, 2480}, {570, 840, 2410},  {660, 1720, 2410},
	};
	size_t n = (size_t)seconds * AUDIO_RATE;
	int16_t *pcm = calloc(n, sizeof(*pcm));
	size_t cap = 64, ns = 0;
	struct syllable *syl = malloc(cap * sizeof(*syl));
	if (!pcm || !syl) {
		free(pcm);
		free(syl);
		return NULL;
	}
	uint64_t rng = 0x5eed0001;
	/* The schedule: the last syllable ends 150 ms before the loop does. */
	int t = AUDIO_RATE / 5, end = (int)n - AUDIO_RATE * 15 / 100;
	while (t < end) {
		int count = 4 + (int)urand(&rng, 0, 9);
		double base = 165 * urand(&rng, 0.9, 1.1);
		for (int k = 0; k < count; k++) {
			struct syllable s = {0};
			s.start = t;
			s.fric_len = urand(&rng, 0, 1) < 0.4
					     ? (int)(AUDIO_RATE * urand(&rng, 0.04, 0.09))
					     : 0;
			s.vowel_len = (int)(AUDIO_RATE * urand(&rng, 0.10, 0.22));
			const double *v = vowels[(int)urand(&rng, 0, 6)];
			for (int j = 0; j < 3; j++)
				s.f[j] = v[j] * urand(&rng, 0.93, 1.07);
			s.gain = urand(&rng, 0.55, 1.0);
			s.accent =
				urand(&rng, 0, 1) < 0.3 ? urand(&rng, 0.5, 1) : urand(&rng, 0, 0.2);
			s.f0 = base;
			s.phrase_pos = (double)k / count;
			s.fric_hz = urand(&rng, 3500, 6500);
			if (s.start + s.fric_len + s.vowel_len > end)
				break;
			if (ns == cap) {
				struct syllable *m = realloc(syl, 2 * cap * sizeof(*syl));
				if (!m) {
					free(pcm);
					free(syl);
					return NULL;
				}
				syl = m;
				cap *= 2;
			}
			syl[ns++] = s;
			t = s.start + s.fric_len + s.vowel_len +
			    (int)(AUDIO_RATE * urand(&rng, 0.01, 0.05));
		}
		t += (int)(AUDIO_RATE * urand(&rng, 0.3, 0.9));
	}

	/* Rendering. */
	const double amp = 0.18 * 32768;
	double phase = 0, f0 = 165, fs[3] = {500, 1500, 2500};
	const double glide = 1.0 / (0.02 * AUDIO_RATE); /* formants move over ~20 ms */
	double harm[64];
	int nh = 0;
	double bq_x1 = 0, bq_x2 = 0, bq_y1 = 0, bq_y2 = 0;
	size_t si = 0;
	for (size_t i = 0; i < n; i++) {
		while (si < ns &&
		       (size_t)(syl[si].start + syl[si].fric_len + syl[si].vowel_len) <= i)
			si++;
		double voiced = 0, fric = 0;
		if (si < ns && (size_t)syl[si].start <= i) {
			const struct syllable *s = &syl[si];
			int pos = (int)i - s->start;
			if (pos < s->fric_len) {
				double u = (double)pos / s->fric_len;
				fric = dsin(PI * u) * s->gain;
			} else {
				pos -= s->fric_len;
				double u = (double)pos / s->vowel_len;
				double att = 0.025 * AUDIO_RATE, dec = 0.05 * AUDIO_RATE;
				double e = 1;
				if (pos < att)
					e = 0.5 - 0.5 * dcos(PI * pos / att);
				else if (pos > s->vowel_len - dec)
					e = 0.5 - 0.5 * dcos(PI * (s->vowel_len - pos) / dec);
				voiced = e * s->gain;
				double target = s->f0 * (1.12 - 0.25 * (s->phrase_pos + u / 10)) *
						(1 + 0.1 * s->accent * dsin(PI * u));
				f0 += (target - f0) * (1.0 / (0.03 * AUDIO_RATE));
				for (int j = 0; j < 3; j++)
					fs[j] += (s->f[j] - fs[j]) * glide;
			}
		}
		/* The harmonics' amplitudes, every millisecond: a formant filter and a tilt,
		 * normalised to unit power. */
		if (i % (AUDIO_RATE / 1000) == 0) {
			static const double bw[3] = {80, 110, 160}, g[3] = {1.0, 0.7, 0.35};
			double pw = 0;
			nh = 0;
			for (int h = 1; h < 64 && h * f0 < 7000; h++) {
				double f = h * f0, a = 0;
				for (int j = 0; j < 3; j++) {
					double d = (f - fs[j]) / bw[j];
					a += g[j] / (1 + d * d);
				}
				a *= 1 / (1 + f / 1500);
				harm[nh++] = a;
				pw += a * a;
			}
			double norm = pw > 0 ? 1 / sqrt(pw) : 0;
			for (int h = 0; h < nh; h++)
				harm[h] *= norm;
		}
		double vib = 1 + 0.006 * dsin(2 * PI * 5.3 * (double)i / AUDIO_RATE);
		phase += 2 * PI * f0 * vib / AUDIO_RATE;
		if (phase > 2 * PI)
			phase -= 2 * PI;
		double v = 0;
		if (voiced > 0)
			for (int h = 0; h < nh; h++)
				v += harm[h] * dsin((h + 1) * phase);
		/* White noise through a resonator for the fricatives; the microphone's floor. */
		double white = urand(&rng, -1, 1);
		double fr = 0;
		if (fric > 0) {
			double w0 = 2 * PI * syl[si].fric_hz / AUDIO_RATE, q = 1.2;
			double alpha = dsin(w0) / (2 * q), cw = dcos(w0), a0 = 1 + alpha;
			double y = (alpha * white - alpha * bq_x2 + 2 * cw * bq_y1 -
				    (1 - alpha) * bq_y2) /
				   a0;
			bq_x2 = bq_x1;
			bq_x1 = white;
			bq_y2 = bq_y1;
			bq_y1 = y;
			fr = y * fric * 0.9;
		} else {
			bq_x1 = bq_x2 = bq_y1 = bq_y2 = 0;
		}
		double floor_noise = (urand(&rng, -1, 1) + urand(&rng, -1, 1)) * 10;
		double x = amp * (voiced * v * 1.41421356 + fr) + floor_noise;
		pcm[i] = (int16_t)clampd(x < 0 ? x - 0.5 : x + 0.5, -32768, 32767);
	}
	free(syl);
	*n_out = n;
	return pcm;
}

/* ---- the camera-like scene ---- */

struct book {
	int x0, x1, top, bottom;
	double y, u, v;
};

struct scene {
	int w, h, fps, seconds;
	int bw, bh;	     /* the background, larger than the frame: the camera pans over it */
	double pan_x, pan_y; /* the largest pan, pixels */
	uint8_t *bg[3];	     /* Y at bw x bh, U and V at half that */
	double *mouth;	     /* per frame, 0..1: how loud the talker is then */
	int frames;
};

/* The room behind the talker, as Y, U, V at (x, y) of the background. */
static void room_pixel(const struct scene *sc, const struct book *books, int nbooks, double x,
		       double y, double out[3])
{
	double bw = sc->bw, bh = sc->bh;
	double n = fbm(x, y, 96 * sc->w / 640.0, 5, 11);
	double light = 0.6 + 0.4 * (x / bw) - 0.2 * (y / bh);
	out[0] = 60 + 110 * n * light + 30 * (vnoise(x, y, 2.5 * sc->w / 640.0, 17) - 0.5);
	out[1] = 118 + 10 * (fbm(x, y, 150, 2, 23) - 0.5);
	out[2] = 136 + 10 * (fbm(x, y, 150, 2, 29) - 0.5);
	/* A window: bright, with a dark frame and a cross bar. */
	double wx0 = 0.62 * bw, wx1 = 0.86 * bw, wy0 = 0.06 * bh, wy1 = 0.42 * bh;
	if (x >= wx0 && x < wx1 && y >= wy0 && y < wy1) {
		double f = 6 * sc->w / 640.0;
		bool frame = x < wx0 + f || x >= wx1 - f || y < wy0 + f || y >= wy1 - f ||
			     fabs(x - (wx0 + wx1) / 2) < f / 2 || fabs(y - (wy0 + wy1) / 2) < f / 2;
		if (frame) {
			out[0] = 45 + 10 * n;
			out[1] = 126;
			out[2] = 130;
		} else {
			out[0] = 205 + 30 * fbm(x, y, 40, 3, 41); /* sky and clouds */
			out[1] = 140 - 10 * n;
			out[2] = 118;
		}
	}
	/* A bookshelf: shelves and books of many widths and colours. */
	double sx0 = 0.04 * bw, sx1 = 0.30 * bw, sy0 = 0.12 * bh, sy1 = 0.88 * bh;
	if (x >= sx0 && x < sx1 && y >= sy0 && y < sy1) {
		out[0] = 50 + 20 * n;
		out[1] = 115;
		out[2] = 140;
		for (int b = 0; b < nbooks; b++) {
			if (x >= books[b].x0 && x < books[b].x1 && y >= books[b].top &&
			    y < books[b].bottom) {
				double shade = 0.75 + 0.25 * vnoise(x, y, 2, 53);
				out[0] = books[b].y * shade;
				/* Lettering down the middle of the spine. */
				double mid = (books[b].x0 + books[b].x1) / 2.0;
				if (fabs(x - mid) < (books[b].x1 - books[b].x0) * 0.3 &&
				    vnoise(x, y, 1.5, 59) > 0.62)
					out[0] = books[b].y > 110 ? 30 : 220;
				out[1] = books[b].u;
				out[2] = books[b].v;
				break;
			}
		}
	}
}

static int scene_init(struct scene *sc, int w, int h, int fps, int seconds, const int16_t *pcm,
		      size_t npcm)
{
	memset(sc, 0, sizeof(*sc));
	sc->w = w;
	sc->h = h;
	sc->fps = fps;
	sc->seconds = seconds;
	sc->frames = fps * seconds;
	sc->pan_x = w / 5.0;
	sc->pan_y = h / 12.0;
	sc->bw = (w + (int)sc->pan_x + 4) & ~1;
	sc->bh = (h + (int)sc->pan_y + 4) & ~1;

	/* Books: five shelves filled left to right. */
	struct book books[512];
	int nbooks = 0;
	uint64_t rng = 0x5eed0002;
	double sx0 = 0.04 * sc->bw, sx1 = 0.30 * sc->bw, sy0 = 0.12 * sc->bh, sy1 = 0.88 * sc->bh;
	double shelf = (sy1 - sy0) / 5;
	for (int s = 0; s < 5; s++) {
		double x = sx0 + 4;
		while (nbooks < 512) {
			double bwid = urand(&rng, 6, 18) * w / 640.0;
			if (x + bwid > sx1 - 4)
				break;
			struct book *b = &books[nbooks++];
			b->x0 = (int)x;
			b->x1 = (int)(x + bwid) - 1;
			b->top = (int)(sy0 + s * shelf + shelf * urand(&rng, 0.08, 0.4));
			b->bottom = (int)(sy0 + (s + 1) * shelf - 5.0 * w / 640);
			b->y = urand(&rng, 40, 190);
			b->u = urand(&rng, 90, 170);
			b->v = urand(&rng, 90, 170);
			x += bwid;
		}
	}

	size_t ny = (size_t)sc->bw * sc->bh, nc = ny / 4;
	float *full = malloc(ny * 3 * sizeof(float));
	sc->bg[0] = malloc(ny);
	sc->bg[1] = malloc(nc);
	sc->bg[2] = malloc(nc);
	sc->mouth = calloc((size_t)sc->frames, sizeof(double));
	if (!full || !sc->bg[0] || !sc->bg[1] || !sc->bg[2] || !sc->mouth) {
		free(full);
		return -1;
	}
	for (int y = 0; y < sc->bh; y++)
		for (int x = 0; x < sc->bw; x++) {
			double p[3];
			room_pixel(sc, books, nbooks, x, y, p);
			size_t i = (size_t)y * sc->bw + x;
			for (int c = 0; c < 3; c++)
				full[c * ny + i] = (float)p[c];
			sc->bg[0][i] = (uint8_t)clampd(p[0] + 0.5, 0, 255);
		}
	for (int y = 0; y < sc->bh / 2; y++)
		for (int x = 0; x < sc->bw / 2; x++) {
			size_t i = (size_t)2 * y * sc->bw + 2 * x;
			for (int c = 1; c < 3; c++) {
				const float *f = full + c * ny;
				double s = f[i] + f[i + 1] + f[i + sc->bw] + f[i + sc->bw + 1];
				sc->bg[c][(size_t)y * (sc->bw / 2) + x] =
					(uint8_t)clampd(s / 4 + 0.5, 0, 255);
			}
		}
	free(full);

	/* The mouth opens with the talker's loudness around each frame. */
	for (int f = 0; f < sc->frames; f++) {
		size_t c = (size_t)f * AUDIO_RATE / fps, a = c > 960 ? c - 960 : 0;
		size_t b = c + 960 < npcm ? c + 960 : npcm;
		double sq = 0;
		for (size_t i = a; i < b; i++)
			sq += (double)pcm[i] * pcm[i];
		double rms = b > a ? sqrt(sq / (double)(b - a)) : 0;
		sc->mouth[f] = clampd((rms - 300) / 3500, 0, 1);
	}
	return 0;
}

static void scene_free(struct scene *sc)
{
	for (int c = 0; c < 3; c++)
		free(sc->bg[c]);
	free(sc->mouth);
}

/* Coverage, 0..1, of an anti-aliased ellipse at (x, y). */
static double ellipse(double x, double y, double cx, double cy, double rx, double ry)
{
	double dx = (x - cx) / rx, dy = (y - cy) / ry, q = dx * dx + dy * dy;
	if (q > 4)
		return 0;
	double d = (sqrt(q) - 1) * (rx < ry ? rx : ry);
	return clampd(0.5 - d, 0, 1);
}

static double blend(double base, double over, double a)
{
	return base + (over - base) * a;
}

struct pose {
	double ox, oy;	       /* the camera's pan */
	double hx, hy, rx, ry; /* the head */
	double tx, ty;	       /* the torso's top centre */
	double bx, by, br;     /* a ball tossed about the room */
	double mouth, blink;   /* 0..1 */
};

static void pose_at(const struct scene *sc, int f, struct pose *p)
{
	double t = (double)f / sc->fps, L = sc->seconds, w = sc->w, h = sc->h;
	/* Every motion is periodic in the loop's length, so the replay loops seamlessly. */
	p->ox = sc->pan_x * (0.5 - 0.5 * dcos(2 * PI * t / L));
	p->oy = sc->pan_y * (0.5 - 0.5 * dcos(4 * PI * t / L));
	p->hx = w * (0.5 + 0.05 * dsin(2 * PI * 2 * t / L) + 0.015 * dsin(2 * PI * 7 * t / L));
	p->hy = h * (0.40 + 0.015 * dsin(2 * PI * 3 * t / L + 1));
	p->rx = h * 0.13;
	p->ry = h * 0.17;
	p->tx = w * (0.5 + 0.04 * dsin(2 * PI * 2 * t / L - 0.3));
	p->ty = p->hy + p->ry * 0.85;
	p->bx = w * (0.5 + 0.42 * dsin(2 * PI * t / L));
	p->by = h * (0.18 + 0.08 * dsin(2 * PI * 2 * t / L + 0.5));
	p->br = h * 0.055;
	p->mouth = sc->mouth[f];
	double blink = fmod(t + 0.7, 3.7);
	p->blink = blink < 0.15 ? 0.85 * dsin(PI * blink / 0.15) : 0;
}

/* The talker and the ball over the room, plane c (0 Y, 1 U, 2 V) at luma position (x, y). */
static double foreground(const struct pose *p, int c, double x, double y, double v)
{
	/* The torso: shoulders widening under the head, a shirt with soft stripes. */
	if (y > p->ty - p->ry * 0.3) {
		double dy = y - p->ty, hw = p->rx * 1.1 + (dy > 0 ? dy * 1.6 : 0);
		if (hw > p->rx * 3.2)
			hw = p->rx * 3.2;
		double a = ellipse(x, y, p->tx, p->ty + p->ry * 2.5, hw, p->ry * 2.8);
		if (a > 0) {
			double stripe = 0.5 + 0.5 * dsin(2 * PI * (x - p->tx) / (p->rx * 0.35));
			static const double shirt[3] = {70, 150, 110};
			double s = c == 0 ? shirt[0] + 45 * stripe +
						    24 * (vnoise(x - p->tx, y - p->ty, 2, 71) - 0.5)
					  : shirt[c] + (c == 1 ? 8 : -6) * stripe;
			v = blend(v, s, a);
		}
	}
	/* The head: shaded skin with a texture that moves with it, hair, eyes, a mouth. */
	double a = ellipse(x, y, p->hx, p->hy, p->rx, p->ry);
	if (a > 0) {
		double lx = x - p->hx, ly = y - p->hy;
		double q = (lx / p->rx) * (lx / p->rx) + (ly / p->ry) * (ly / p->ry);
		static const double skin[3] = {0, 108, 152};
		double s = c == 0 ? 95 + 70 * sqrt(clampd(1 - q, 0, 1)) +
					    14 * (vnoise(lx + 1000, ly + 1000, 5, 61) - 0.5)
				  : skin[c];
		/* Hair over the top of the head. */
		double hairline = -0.35 * p->ry + 0.06 * p->ry * dsin(lx / p->rx * 5);
		if (ly < hairline) {
			static const double hair[3] = {0, 124, 134};
			double hv =
				c == 0 ? 35 + 25 * vnoise(lx * 4 + 500, ly * 0.5, 2, 67) : hair[c];
			s = blend(s, hv, clampd(hairline - ly, 0, 1));
		}
		static const double dark[3] = {30, 128, 128};
		for (int e = -1; e <= 1; e += 2) {
			double ea = ellipse(x, y, p->hx + e * 0.36 * p->rx, p->hy - 0.08 * p->ry,
					    0.14 * p->rx, 0.07 * p->ry * (1 - p->blink) + 0.5);
			s = blend(s, dark[c], ea);
		}
		static const double lips[3] = {55, 118, 165};
		double ma = ellipse(x, y, p->hx, p->hy + 0.48 * p->ry, 0.32 * p->rx,
				    0.03 * p->ry + 0.13 * p->ry * p->mouth);
		s = blend(s, lips[c], ma);
		v = blend(v, s, a);
	}
	/* The ball: orange with a highlight. */
	double ba = ellipse(x, y, p->bx, p->by, p->br, p->br);
	if (ba > 0) {
		double hl = ellipse(x, y, p->bx - 0.35 * p->br, p->by - 0.35 * p->br, 0.3 * p->br,
				    0.3 * p->br);
		static const double ball[3] = {150, 80, 190};
		double s = c == 0 ? ball[0] + 80 * hl : ball[c] + (128 - ball[c]) * 0.7 * hl;
		v = blend(v, s, ba);
	}
	return v;
}

/* Frame f of the scene into an I420 image: the room sampled at the pan's subpixel offset, the
 * foreground, then sensor noise from a fixed-seed generator. */
static void scene_frame(const struct scene *sc, int f, vpx_image_t *img)
{
	struct pose p;
	pose_at(sc, f, &p);
	uint64_t rng = 0x5eed1000 + (uint64_t)f;
	for (int c = 0; c < 3; c++) {
		int sub = c ? 1 : 0, pw = sc->w >> sub, ph = sc->h >> sub, bw = sc->bw >> sub;
		const uint8_t *bg = sc->bg[c];
		int fx = (int)(p.ox / (1 << sub) * 256 + 0.5),
		    fy = (int)(p.oy / (1 << sub) * 256 + 0.5);
		int ix = fx >> 8, iy = fy >> 8, ax = fx & 255, ay = fy & 255;
		/* Foreground bounds, in this plane's pixels. */
		int y_fg0 = (int)((p.by - p.br - 2) / (1 << sub));
		int y_head0 = (int)((p.hy - p.ry - 2) / (1 << sub));
		if (y_head0 < y_fg0)
			y_fg0 = y_head0;
		uint8_t *row = img->planes[c];
		for (int y = 0; y < ph; y++, row += img->stride[c]) {
			const uint8_t *b0 = bg + (size_t)(y + iy) * bw + ix, *b1 = b0 + bw;
			uint64_t r = 0;
			for (int x = 0; x < pw; x++) {
				int v = (b0[x] * (256 - ax) + b0[x + 1] * ax) * (256 - ay) +
					(b1[x] * (256 - ax) + b1[x + 1] * ax) * ay;
				double d = (v + 32768) >> 16;
				if (y >= y_fg0) {
					double lx = (x + 0.5) * (1 << sub) - 0.5,
					       ly = (y + 0.5) * (1 << sub) - 0.5;
					d = foreground(&p, c, lx, ly, d);
				}
				if ((x & 3) == 0)
					r = splitmix(&rng);
				int noise = c == 0 ? (int)(r & 1) + (int)(r >> 1 & 1) +
							     (int)(r >> 2 & 1) + (int)(r >> 3 & 1) -
							     2
						   : (int)(r >> 4 & 1) + (int)(r >> 5 & 1) - 1;
				r >>= 16;
				int out = (int)(d + 0.5) + noise;
				row[x] = (uint8_t)(out < 0 ? 0 : out > 255 ? 255 : out);
			}
		}
	}
}

/* ---- recording ---- */

struct rec {
	uint64_t at_ns;
	uint32_t ts;
	uint16_t len;
	uint8_t kind, marker, keyframe, level;
	uint8_t *payload;
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

static struct rec *recs_add(struct recs *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		struct rec *r = realloc(v->r, cap * sizeof(*r));
		if (!r)
			return NULL;
		v->r = r;
		v->cap = cap;
	}
	struct rec *r = &v->r[v->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

static void recs_free(struct recs *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->r[i].payload);
	free(v->r);
}

/* One encoded VP8 frame as RFC 7741 packets of at most MAX_RTP_PAYLOAD bytes, as equal as can
 * be: descriptor X=1 N=0 S (first) PID 0, I=1 with a 15-bit PictureID. */
static int packetize_vp8(struct recs *v, const uint8_t *data, size_t len, int frame, bool key,
			 uint64_t at_ns, uint32_t ts)
{
	size_t room = MAX_RTP_PAYLOAD - MEDIA_VP8_DESC_BYTES;
	size_t np = (len + room - 1) / room, off = 0;
	uint16_t pid = (uint16_t)(frame & 0x7fff);
	for (size_t i = 0; i < np; i++) {
		size_t part = len / np + (i < len % np ? 1 : 0);
		struct rec *r = recs_add(v);
		if (!r)
			return -1;
		r->payload = malloc(MEDIA_VP8_DESC_BYTES + part);
		if (!r->payload)
			return -1;
		r->payload[0] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0));
		r->payload[1] = 0x80;
		r->payload[2] = (uint8_t)(0x80 | pid >> 8);
		r->payload[3] = (uint8_t)(pid & 0xff);
		memcpy(r->payload + MEDIA_VP8_DESC_BYTES, data + off, part);
		off += part;
		r->len = (uint16_t)(MEDIA_VP8_DESC_BYTES + part);
		r->at_ns = at_ns;
		r->ts = ts;
		r->kind = MEDIA_VIDEO;
		r->marker = i + 1 == np;
		r->keyframe = key;
	}
	return 0;
}

struct venc_stats {
	int frames, dropped;
	double psnr_sum;
	int psnr_n;
	double seconds; /* wall clock spent encoding */
};

static int encode_video(const struct opts *o, const struct scene *sc, struct recs *v,
			struct venc_stats *st)
{
	vpx_codec_enc_cfg_t cfg;
	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
		fprintf(stderr, "media_record: no VP8 encoder configuration\n");
		return -1;
	}
	/* As WebRTC's LibvpxVp8Encoder configures one stream (webrtc/modules/video_coding/codecs/
	 * vp8/libvpx_vp8_encoder.cc), but one thread and no frame dropping: a frame every 1/fps. */
	cfg.g_w = (unsigned)o->width;
	cfg.g_h = (unsigned)o->height;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = VIDEO_CLOCK;
	cfg.g_threads = 1;
	cfg.g_pass = VPX_RC_ONE_PASS;
	cfg.g_lag_in_frames = 0;
	cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	cfg.rc_end_usage = VPX_CBR;
	cfg.rc_target_bitrate = (unsigned)o->video_kbps;
	cfg.rc_dropframe_thresh = 0;
	cfg.rc_resize_allowed = 0;
	cfg.rc_min_quantizer = 2;
	cfg.rc_max_quantizer = 56;
	cfg.rc_undershoot_pct = 100;
	cfg.rc_overshoot_pct = 15;
	cfg.rc_buf_initial_sz = 500;
	cfg.rc_buf_optimal_sz = 600;
	cfg.rc_buf_sz = 1000;
	cfg.kf_mode = VPX_KF_AUTO;
	cfg.kf_min_dist = 0;
	cfg.kf_max_dist = (unsigned)(KEYFRAME_EVERY_S * o->fps);

	vpx_codec_ctx_t enc;
	if (vpx_codec_enc_init(&enc, vpx_codec_vp8_cx(), &cfg, VPX_CODEC_USE_PSNR) !=
	    VPX_CODEC_OK) {
		fprintf(stderr, "media_record: VP8 encoder: %s\n", vpx_codec_error(&enc));
		return -1;
	}
	/* MaxIntraTarget in WebRTC: buffer optimal size * 0.5 * fps / 10, at least 300 %. */
	unsigned max_intra = (unsigned)(600 * 0.5 * o->fps / 10);
	if (max_intra < 300)
		max_intra = 300;
	if (vpx_codec_control(&enc, VP8E_SET_CPUUSED, -6) != VPX_CODEC_OK ||
	    vpx_codec_control(&enc, VP8E_SET_NOISE_SENSITIVITY, 0u) != VPX_CODEC_OK ||
	    vpx_codec_control(&enc, VP8E_SET_STATIC_THRESHOLD, 1u) != VPX_CODEC_OK ||
	    vpx_codec_control(&enc, VP8E_SET_TOKEN_PARTITIONS, (int)VP8_ONE_TOKENPARTITION) !=
		    VPX_CODEC_OK ||
	    vpx_codec_control(&enc, VP8E_SET_MAX_INTRA_BITRATE_PCT, max_intra) != VPX_CODEC_OK ||
	    vpx_codec_control(&enc, VP8E_SET_SCREEN_CONTENT_MODE, 0u) != VPX_CODEC_OK) {
		fprintf(stderr, "media_record: VP8 encoder control: %s\n", vpx_codec_error(&enc));
		vpx_codec_destroy(&enc);
		return -1;
	}
	vpx_image_t *img =
		vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)o->width, (unsigned)o->height, 16);
	if (!img) {
		vpx_codec_destroy(&enc);
		return -1;
	}
	int rc = 0, kf_every = KEYFRAME_EVERY_S * o->fps;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int f = 0; f < sc->frames && rc == 0; f++) {
		scene_frame(sc, f, img);
		uint64_t pts = (uint64_t)f * VIDEO_CLOCK / (uint64_t)o->fps;
		uint64_t next = (uint64_t)(f + 1) * VIDEO_CLOCK / (uint64_t)o->fps;
		vpx_enc_frame_flags_t flags = f % kf_every == 0 ? VPX_EFLAG_FORCE_KF : 0;
		if (vpx_codec_encode(&enc, img, (vpx_codec_pts_t)pts, (unsigned long)(next - pts),
				     flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
			fprintf(stderr, "media_record: VP8 encode: %s\n", vpx_codec_error(&enc));
			rc = -1;
			break;
		}
		bool got = false;
		vpx_codec_iter_t it = NULL;
		const vpx_codec_cx_pkt_t *pkt;
		while ((pkt = vpx_codec_get_cx_data(&enc, &it))) {
			if (pkt->kind == VPX_CODEC_CX_FRAME_PKT) {
				got = true;
				bool key = pkt->data.frame.flags & VPX_FRAME_IS_KEY;
				uint64_t at = (uint64_t)f * 1000000000ull / (uint64_t)o->fps;
				if (packetize_vp8(v, pkt->data.frame.buf, pkt->data.frame.sz, f,
						  key, at, (uint32_t)pts) != 0) {
					fprintf(stderr, "media_record: out of memory\n");
					rc = -1;
				}
			} else if (pkt->kind == VPX_CODEC_PSNR_PKT) {
				st->psnr_sum += pkt->data.psnr.psnr[0];
				st->psnr_n++;
			}
		}
		if (got)
			st->frames++;
		else
			st->dropped++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	vpx_img_free(img);
	vpx_codec_destroy(&enc);
	return rc;
}

static int encode_audio(const struct opts *o, const int16_t *pcm, size_t n, struct recs *a)
{
	int err = 0;
	OpusEncoder *enc = opus_encoder_create(AUDIO_RATE, 1, OPUS_APPLICATION_VOIP, &err);
	if (!enc) {
		fprintf(stderr, "media_record: Opus encoder: %s\n", opus_strerror(err));
		return -1;
	}
	/* As browsers: VBR, in-band FEC allowed, no DTX, complexity 9 (desktop). */
	if (opus_encoder_ctl(enc, OPUS_SET_BITRATE(o->audio_kbps * 1000)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_VBR(1)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_DTX(0)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(9)) != OPUS_OK) {
		fprintf(stderr, "media_record: Opus encoder control failed\n");
		opus_encoder_destroy(enc);
		return -1;
	}
	uint8_t buf[MEDIA_MAX_PAYLOAD];
	int rc = 0;
	for (size_t i = 0; i + AUDIO_FRAME <= n; i += AUDIO_FRAME) {
		opus_int32 got = opus_encode(enc, pcm + i, AUDIO_FRAME, buf, sizeof(buf));
		if (got <= 0) {
			fprintf(stderr, "media_record: Opus encode: %s\n", opus_strerror(got));
			rc = -1;
			break;
		}
		struct rec *r = recs_add(a);
		if (!r || !(r->payload = malloc((size_t)got))) {
			fprintf(stderr, "media_record: out of memory\n");
			rc = -1;
			break;
		}
		memcpy(r->payload, buf, (size_t)got);
		r->len = (uint16_t)got;
		r->at_ns = (uint64_t)(i / AUDIO_FRAME) * 20000000ull;
		r->ts = (uint32_t)i;
		r->kind = MEDIA_AUDIO;
		r->level = (uint8_t)audio_level(pcm + i, AUDIO_FRAME);
	}
	opus_encoder_destroy(enc);
	return rc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static int write_rec(FILE *f, const struct rec *r)
{
	uint8_t h[MEDIA_RECORD_BYTES];
	put64(h, r->at_ns);
	h[8] = r->kind;
	h[9] = r->marker;
	h[10] = r->keyframe;
	h[11] = r->level;
	put32(h + 12, r->ts);
	put16(h + 16, r->len);
	return fwrite(h, 1, sizeof(h), f) == sizeof(h) && fwrite(r->payload, 1, r->len, f) == r->len
		       ? 0
		       : -1;
}

/* Video and audio merged by send time; on a tie, the video frame's packets go first. */
static int write_file(const struct opts *o, const struct recs *v, const struct recs *a)
{
	FILE *f = fopen(o->out, "wb");
	if (!f) {
		perror(o->out);
		return -1;
	}
	uint8_t h[MEDIA_HEADER_BYTES];
	memcpy(h, MEDIA_MAGIC, 8);
	put64(h + 8, (uint64_t)o->seconds * 1000000000ull);
	put32(h + 16, (uint32_t)o->seconds * VIDEO_CLOCK);
	put32(h + 20, (uint32_t)o->seconds * AUDIO_RATE);
	put32(h + 24, (uint32_t)(v->n + a->n));
	int rc = fwrite(h, 1, sizeof(h), f) == sizeof(h) ? 0 : -1;
	size_t i = 0, j = 0;
	while (rc == 0 && (i < v->n || j < a->n)) {
		if (j >= a->n || (i < v->n && v->r[i].at_ns <= a->r[j].at_ns))
			rc = write_rec(f, &v->r[i++]);
		else
			rc = write_rec(f, &a->r[j++]);
	}
	if (fclose(f) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "media_record: %s: write failed\n", o->out);
	return rc;
}

/* ---- the summary and the check ---- */

static void summary(const struct media *m)
{
	double secs = (double)m->loop_ns / 1e9;
	size_t n[2] = {0, 0}, bytes[2] = {0, 0}, max[2] = {0, 0}, frames = 0, keyframes = 0;
	size_t frame_bytes = 0, max_frame = 0, key_bytes = 0;
	double level_sum = 0;
	size_t quiet = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct media_pkt *p = &m->pkts[i];
		n[p->kind]++;
		bytes[p->kind] += p->len;
		if (p->len > max[p->kind])
			max[p->kind] = p->len;
		if (p->kind == MEDIA_VIDEO) {
			frame_bytes += p->len - MEDIA_VP8_DESC_BYTES;
			if (p->keyframe)
				key_bytes += p->len - MEDIA_VP8_DESC_BYTES;
			if (p->marker) {
				frames++;
				keyframes += p->keyframe;
				if (frame_bytes > max_frame)
					max_frame = frame_bytes;
				frame_bytes = 0;
			}
		} else {
			level_sum += p->audio_level;
			quiet += p->audio_level >= 50;
		}
	}
	fprintf(stderr,
		"loop %.3f s: %zu packets, %zu video, %zu audio, payloads up to %zu bytes\n", secs,
		m->n, m->n_video, m->n_audio, m->max_len);
	const char *name[2] = {"video VP8 ", "audio Opus"};
	for (int k = 0; k < 2; k++)
		fprintf(stderr,
			"  %s %7.1f packets/s %8.1f kb/s (payloads) payload max %4zu mean %6.1f "
			"bytes\n",
			name[k], n[k] / secs, bytes[k] * 8 / secs / 1000, max[k],
			n[k] ? (double)bytes[k] / n[k] : 0.0);
	fprintf(stderr,
		"  video: %zu frames (%.2f/s), %zu keyframes (%zu bytes in all), %.2f packets per "
		"frame, largest frame %zu bytes\n",
		frames, frames / secs, keyframes, key_bytes,
		frames ? (double)m->n_video / frames : 0.0, max_frame);
	fprintf(stderr, "  audio: mean level %.1f -dBov, %zu of %zu packets at 50 or quieter\n",
		m->n_audio ? level_sum / m->n_audio : 0.0, quiet, m->n_audio);
}

static int parse_vp8_desc(const uint8_t *p, size_t len, bool *start, int *pid, size_t *hdr)
{
	size_t o = 1;
	if (len < 1)
		return -1;
	*start = (p[0] & 0x10) && (p[0] & 0x07) == 0;
	*pid = -1;
	if (p[0] & 0x80) {
		if (len < 2)
			return -1;
		uint8_t x = p[1];
		o = 2;
		if (x & 0x80) {
			if (len < o + 1)
				return -1;
			if (p[o] & 0x80) {
				if (len < o + 2)
					return -1;
				*pid = (p[o] & 0x7f) << 8 | p[o + 1];
				o += 2;
			} else {
				*pid = p[o] & 0x7f;
				o += 1;
			}
		}
		if (x & 0x40)
			o++;
		if (x & 0x30)
			o++;
	}
	if (o >= len)
		return -1;
	*hdr = o;
	return 0;
}

static void psnr_plane(const uint8_t *a, int as, const uint8_t *b, int bs, int w, int h,
		       double *sse)
{
	double s = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int d = a[(size_t)y * as + x] - b[(size_t)y * bs + x];
			s += d * d;
		}
	*sse += s;
}

static int check_video(const struct media *m)
{
	vpx_codec_ctx_t dec;
	if (vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), NULL, 0) != VPX_CODEC_OK) {
		fprintf(stderr, "check: no VP8 decoder\n");
		return -1;
	}
	uint8_t *frame = malloc(1 << 22);
	size_t flen = 0;
	bool in_frame = false, frame_key = false;
	int frame_pid = -1, last_pid = -1, width = 0, height = 0;
	uint32_t frame_ts = 0;
	uint64_t frame_at = 0;
	long frames = 0, decoded = 0, errors = 0, bad_packets = 0, keyframes = 0, key_mismatch = 0;
	long pid_gaps = 0, size_changes = 0;
	/* The source again, to compare the decoded pictures with (when the recording is one of
	 * this program's at whole seconds and the usual size). */
	struct scene sc;
	bool have_src = false;
	vpx_image_t *src = NULL;
	double sse = 0, samples = 0;
	long compared = 0;
	int seconds = (int)(m->loop_ns / 1000000000ull);

	for (size_t i = 0; i < m->n && frame; i++) {
		const struct media_pkt *p = &m->pkts[i];
		if (p->kind != MEDIA_VIDEO)
			continue;
		bool start;
		int pid;
		size_t hdr;
		if (parse_vp8_desc(p->payload, p->len, &start, &pid, &hdr) != 0) {
			bad_packets++;
			in_frame = false;
			continue;
		}
		if (start) {
			if (in_frame)
				errors++; /* the previous frame never ended */
			in_frame = true;
			flen = 0;
			frame_pid = pid;
			frame_ts = p->ts;
			frame_at = p->at_ns;
			frame_key = p->keyframe;
		} else if (!in_frame || pid != frame_pid || p->ts != frame_ts ||
			   p->at_ns != frame_at || p->keyframe != frame_key) {
			bad_packets++;
			in_frame = false;
			continue;
		}
		size_t part = p->len - hdr;
		if (flen + part > (1 << 22)) {
			bad_packets++;
			in_frame = false;
			continue;
		}
		memcpy(frame + flen, p->payload + hdr, part);
		flen += part;
		if (!p->marker)
			continue;
		in_frame = false;
		frames++;
		if (last_pid >= 0 && frame_pid != ((last_pid + 1) & 0x7fff))
			pid_gaps++;
		last_pid = frame_pid;
		bool key = flen >= 10 && (frame[0] & 1) == 0 && frame[3] == 0x9d &&
			   frame[4] == 0x01 && frame[5] == 0x2a;
		keyframes += key;
		if (key != frame_key)
			key_mismatch++;
		if (key) {
			int w = (frame[6] | frame[7] << 8) & 0x3fff,
			    h = (frame[8] | frame[9] << 8) & 0x3fff;
			if (width && (w != width || h != height))
				size_changes++;
			width = w;
			height = h;
		}
		if (vpx_codec_decode(&dec, frame, (unsigned)flen, NULL, 0) != VPX_CODEC_OK) {
			errors++;
			continue;
		}
		vpx_codec_iter_t it = NULL;
		vpx_image_t *img;
		while ((img = vpx_codec_get_frame(&dec, &it))) {
			decoded++;
			if ((int)img->d_w != width || (int)img->d_h != height)
				size_changes++;
			/* The source frame: index from the send time and the frame rate, found from
			 * the first two frames' timestamps. */
			if (!have_src && frames == 2 && frame_ts > 0 &&
			    VIDEO_CLOCK % frame_ts == 0) {
				int fps = VIDEO_CLOCK / (int)frame_ts;
				size_t npcm = 0;
				int16_t *pcm = speech_make(seconds, &npcm);
				if (pcm && seconds > 0 &&
				    m->loop_ns == (uint64_t)seconds * 1000000000ull &&
				    scene_init(&sc, width, height, fps, seconds, pcm, npcm) == 0) {
					have_src = true;
					src = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)width,
							    (unsigned)height, 16);
				}
				free(pcm);
			}
			if (have_src && src && (int)img->d_w == sc.w && (int)img->d_h == sc.h) {
				int f = (int)((uint64_t)frame_ts * (uint64_t)sc.fps / VIDEO_CLOCK);
				if (f < sc.frames) {
					scene_frame(&sc, f, src);
					for (int c = 0; c < 3; c++) {
						int w = c ? sc.w / 2 : sc.w,
						    h = c ? sc.h / 2 : sc.h;
						psnr_plane(img->planes[c], img->stride[c],
							   src->planes[c], src->stride[c], w, h,
							   &sse);
						samples += (double)w * h;
					}
					compared++;
				}
			}
		}
	}
	if (in_frame)
		errors++;
	vpx_codec_destroy(&dec);
	free(frame);
	fprintf(stderr,
		"check video: %ld frames depacketized, %ld decoded by libvpx, %ld decode errors, "
		"%ld bad packets, %ld keyframes (%ld flags wrong), %dx%d, %ld PictureID gaps, "
		"%ld size changes\n",
		frames, decoded, errors, bad_packets, keyframes, key_mismatch, width, height,
		pid_gaps, size_changes);
	if (compared) {
		double mse = sse / samples;
		fprintf(stderr,
			"check video: PSNR of %ld decoded frames against the regenerated "
			"source: %.2f dB\n",
			compared, mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99.0);
	}
	if (have_src)
		scene_free(&sc);
	if (src)
		vpx_img_free(src);
	return errors || bad_packets || key_mismatch || frames == 0 || decoded != frames ||
			       size_changes
		       ? -1
		       : 0;
}

static int check_audio(const struct media *m)
{
	int err = 0;
	OpusDecoder *dec = opus_decoder_create(AUDIO_RATE, 1, &err);
	if (!dec) {
		fprintf(stderr, "check: Opus decoder: %s\n", opus_strerror(err));
		return -1;
	}
	int16_t pcm[5760];
	long packets = 0, decoded = 0, errors = 0, wrong_duration = 0, ts_gaps = 0;
	long modes[3] = {0, 0, 0}, bands[5] = {0, 0, 0, 0, 0};
	double level_diff = 0;
	uint32_t next_ts = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct media_pkt *p = &m->pkts[i];
		if (p->kind != MEDIA_AUDIO)
			continue;
		packets++;
		if (p->ts != next_ts)
			ts_gaps++;
		int ns = opus_packet_get_nb_samples(p->payload, p->len, AUDIO_RATE);
		next_ts = p->ts + (ns > 0 ? (uint32_t)ns : AUDIO_FRAME);
		if (ns != AUDIO_FRAME)
			wrong_duration++;
		int cfg = p->payload[0] >> 3;
		modes[cfg < 12 ? 0 : cfg < 16 ? 1 : 2]++;
		int bw = opus_packet_get_bandwidth(p->payload);
		if (bw >= OPUS_BANDWIDTH_NARROWBAND && bw <= OPUS_BANDWIDTH_FULLBAND)
			bands[bw - OPUS_BANDWIDTH_NARROWBAND]++;
		int got = opus_decode(dec, p->payload, p->len, pcm, 5760, 0);
		if (got < 0) {
			errors++;
			continue;
		}
		decoded++;
		level_diff += abs(audio_level(pcm, got) - p->audio_level);
	}
	opus_decoder_destroy(dec);
	fprintf(stderr,
		"check audio: %ld packets, %ld decoded by libopus, %ld errors, %ld not 20 ms, %ld "
		"timestamp gaps; modes SILK %ld hybrid %ld CELT %ld; bandwidth NB %ld MB %ld WB "
		"%ld "
		"SWB %ld FB %ld; decoded level vs stored: mean |diff| %.2f dB\n",
		packets, decoded, errors, wrong_duration, ts_gaps, modes[0], modes[1], modes[2],
		bands[0], bands[1], bands[2], bands[3], bands[4],
		decoded ? level_diff / decoded : 0.0);
	return errors || wrong_duration || ts_gaps || packets == 0 ? -1 : 0;
}

static int check(const char *path)
{
	struct media m;
	char err[300];
	if (media_load(path, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "check: %s\n", err);
		return 1;
	}
	summary(&m);
	int rc = check_video(&m) | check_audio(&m);
	media_free(&m);
	fprintf(stderr, "check: %s\n", rc ? "FAILED" : "ok");
	return rc ? 1 : 0;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: media_record OUT.cwmedia [--seconds 10] [--width 640 --height 480 "
			"--fps 30]\n"
			"                    [--video-kbps 1000] [--audio-kbps 32]\n"
			"       media_record --check FILE\n");
}

static int int_arg(const char *name, const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "media_record: %s wants an integer in %d..%d\n", name, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {NULL, 10, 640, 480, 30, 1000, 32};
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return check(argv[2]);
	for (int i = 1; i < argc; i++) {
		static const struct {
			const char *name;
			int lo, hi;
			size_t off;
		} nums[] = {
			{"--seconds", 1, 600, offsetof(struct opts, seconds)},
			{"--width", 16, 1920, offsetof(struct opts, width)},
			{"--height", 16, 1088, offsetof(struct opts, height)},
			{"--fps", 1, 60, offsetof(struct opts, fps)},
			{"--video-kbps", 50, 20000, offsetof(struct opts, video_kbps)},
			{"--audio-kbps", 6, 510, offsetof(struct opts, audio_kbps)},
		};
		bool matched = false;
		for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
			if (strcmp(argv[i], nums[k].name) == 0) {
				if (int_arg(nums[k].name, i + 1 < argc ? argv[i + 1] : NULL,
					    nums[k].lo, nums[k].hi,
					    (int *)((char *)&o + nums[k].off)) != 0)
					return 2;
				i++;
				matched = true;
			}
		if (matched)
			continue;
		if (argv[i][0] == '-' || o.out) {
			usage();
			return 2;
		}
		o.out = argv[i];
	}
	if (!o.out) {
		usage();
		return 2;
	}
	if (o.width % 2 || o.height % 2) {
		fprintf(stderr, "media_record: width and height must be even\n");
		return 2;
	}

	size_t npcm = 0;
	int16_t *pcm = speech_make(o.seconds, &npcm);
	struct scene sc;
	if (!pcm || scene_init(&sc, o.width, o.height, o.fps, o.seconds, pcm, npcm) != 0) {
		fprintf(stderr, "media_record: out of memory\n");
		return 1;
	}
	struct recs v = {0}, a = {0};
	struct venc_stats st = {0};
	int rc = encode_video(&o, &sc, &v, &st);
	if (rc == 0)
		rc = encode_audio(&o, pcm, npcm, &a);
	if (rc == 0)
		rc = write_file(&o, &v, &a);
	scene_free(&sc);
	free(pcm);
	recs_free(&v);
	recs_free(&a);
	if (rc != 0)
		return 1;

	/* What was written, as the generator will see it. */
	struct media m;
	char err[300];
	if (media_load(o.out, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "media_record: the file written does not load: %s\n", err);
		return 1;
	}
	fprintf(stderr,
		"%s: %dx%d@%d VP8 CBR %d kb/s, Opus VoIP %d kb/s VBR, %d s; %d frames encoded, %d "
		"dropped, mean PSNR %.2f dB, %.1f encoded frames/s\n",
		o.out, o.width, o.height, o.fps, o.video_kbps, o.audio_kbps, o.seconds, st.frames,
		st.dropped, st.psnr_n ? st.psnr_sum / st.psnr_n : 0.0,
		st.seconds > 0 ? st.frames / st.seconds : 0.0);
	summary(&m);
	media_free(&m);
	return 0;
}
