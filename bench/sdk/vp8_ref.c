/* vp8_ref: the same-run video reference of bench/run-sdk. Draws libcallwire's test pattern
 * (cw_test_pattern_source_cb, the pictures `callwire call --video-pattern WxH` sends),
 * encodes it as VP8 with the encoder settings of libcallwire (src/sdk/video.c: realtime,
 * cpu-used -6, one thread, CBR at 0.08 bit per pixel of each picture, no lag, error
 * resilient, static threshold 1, one token partition, a keyframe at most every 3000
 * pictures unless asked for one) and decodes what it encoded (src/sdk/video_rx.c: one
 * thread), at 30 pictures a second of video. That is the codec's share of a client's video
 * call, without the network, the RTP packetiser and reassembly, SRTP, RTCP, the audio or
 * the WebSocket.
 *
 *   vp8_ref [SECONDS [WxH [KEY_AT]]]          (default 20 s, 640x480, no keyframe)
 *   vp8_ref --paced SECONDS [WxH [KEY_AT]]
 *
 * By default it runs as fast as it can: all the pictures drawn and encoded, then all
 * decoded, each stage timed apart (CLOCK_PROCESS_CPUTIME_ID) per second of video. --paced
 * draws, encodes and decodes one picture every 1/30 s of the clock, as a client in a
 * two-party call does (it sends one stream and decodes the other's), for SECONDS; bench/
 * run-sdk measures it from /proc alongside the clients. Either prints one JSON line at the
 * end: the bitrate the encoder made, picture sizes, keyframes, and the CPU of each stage
 * (in --paced, per picture and thread CPU time, including the caches a paced loop finds).
 * KEY_AT forces a keyframe at that picture (counted from 0), as a receiver's PLI makes the
 * client do: the first picture is the only keyframe otherwise.
 *
 * Built by bench/run-sdk with `cc -O2 -Iinclude vp8_ref.c libcallwire.a $(pkg-config
 * --libs vpx ...)`: only the test pattern comes from libcallwire. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "callwire/callwire.h"

#define FPS 30
#define CLOCK_HZ 90000 /* VP8's RTP clock, the encoder's timebase in libcallwire */
#define BITS_PER_PIXEL 0.08
#define KBPS_MIN 100
#define KBPS_MAX 2500

struct totals {
	long pictures, keyframes, bytes, key_bytes, max_bytes, decoded;
	long q_sum, q_min, q_max;    /* the encoder's quantizer (0..63) of each picture */
	double draw, encode, decode; /* CPU seconds */
};

static double cpu_now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned target_kbps(int width, int height)
{
	double kbps = BITS_PER_PIXEL * width * height * FPS / 1000;

	return kbps < KBPS_MIN ? KBPS_MIN : kbps > KBPS_MAX ? KBPS_MAX : (unsigned)kbps;
}

/* The encoder exactly as src/sdk/video.c's open_codec sets it up. */
static int enc_open(vpx_codec_ctx_t *c, int width, int height)
{
	vpx_codec_iface_t *iface = vpx_codec_vp8_cx();
	vpx_codec_enc_cfg_t cfg;
	unsigned intra_pct = 600 / 2 * FPS / 10;

	if (vpx_codec_enc_config_default(iface, &cfg, 0) != VPX_CODEC_OK)
		return -1;
	cfg.g_w = (unsigned)width;
	cfg.g_h = (unsigned)height;
	cfg.g_threads = 1;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = CLOCK_HZ;
	cfg.g_lag_in_frames = 0;
	cfg.g_pass = VPX_RC_ONE_PASS;
	cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	cfg.rc_end_usage = VPX_CBR;
	cfg.rc_target_bitrate = target_kbps(width, height);
	cfg.rc_resize_allowed = 0;
	cfg.rc_dropframe_thresh = 0;
	cfg.rc_min_quantizer = 2;
	cfg.rc_max_quantizer = 56;
	cfg.rc_undershoot_pct = 100;
	cfg.rc_overshoot_pct = 15;
	cfg.rc_buf_sz = 1000;
	cfg.rc_buf_initial_sz = 500;
	cfg.rc_buf_optimal_sz = 600;
	cfg.kf_mode = VPX_KF_AUTO;
	cfg.kf_min_dist = 0;
	cfg.kf_max_dist = 3000;
	if (vpx_codec_enc_init(c, iface, &cfg, 0) != VPX_CODEC_OK)
		return -1;
	if (intra_pct < 300)
		intra_pct = 300;
	if (vpx_codec_control(c, VP8E_SET_CPUUSED, -6) != VPX_CODEC_OK ||
	    vpx_codec_control(c, VP8E_SET_STATIC_THRESHOLD, 1u) != VPX_CODEC_OK ||
	    vpx_codec_control(c, VP8E_SET_NOISE_SENSITIVITY, 0u) != VPX_CODEC_OK ||
	    vpx_codec_control(c, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION) !=
		    VPX_CODEC_OK ||
	    vpx_codec_control(c, VP8E_SET_MAX_INTRA_BITRATE_PCT, intra_pct) != VPX_CODEC_OK)
		return -1;
	return 0;
}

/* Encodes picture n of the pattern (a keyframe when key); its bytes are put at *out
 * (grown as needed), *len of them. */
static int encode(vpx_codec_ctx_t *c, const cw_video_frame *f, long n, bool key, uint8_t **out,
		  size_t *len, size_t *cap, struct totals *t)
{
	const vpx_codec_cx_pkt_t *cx;
	vpx_codec_iter_t iter = NULL;
	vpx_image_t img;
	int q;

	if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, (unsigned)f->width, (unsigned)f->height, 1,
			  (unsigned char *)f->planes[0]))
		return -1;
	for (int i = 0; i < 3; i++) {
		img.planes[i] = (unsigned char *)f->planes[i];
		img.stride[i] = f->strides[i];
	}
	if (vpx_codec_encode(c, &img, n * (CLOCK_HZ / FPS), CLOCK_HZ / FPS,
			     key ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME) != VPX_CODEC_OK)
		return -1;
	*len = 0;
	while ((cx = vpx_codec_get_cx_data(c, &iter))) {
		size_t sz = cx->data.frame.sz;

		if (cx->kind != VPX_CODEC_CX_FRAME_PKT || sz == 0)
			continue;
		if (*len + sz > *cap) {
			size_t ncap = (*len + sz) * 2;
			uint8_t *p = realloc(*out, ncap);

			if (!p)
				return -1;
			*out = p;
			*cap = ncap;
		}
		if (vpx_codec_control(c, VP8E_GET_LAST_QUANTIZER_64, &q) == VPX_CODEC_OK) {
			t->q_sum += q;
			if (t->pictures == 0 || q < t->q_min)
				t->q_min = q;
			if (q > t->q_max)
				t->q_max = q;
		}
		memcpy(*out + *len, cx->data.frame.buf, sz);
		*len += sz;
		t->pictures++;
		t->bytes += (long)sz;
		if ((long)sz > t->max_bytes)
			t->max_bytes = (long)sz;
		if (cx->data.frame.flags & VPX_FRAME_IS_KEY) {
			t->keyframes++;
			t->key_bytes += (long)sz;
		}
	}
	return 0;
}

static int decode(vpx_codec_ctx_t *d, const uint8_t *buf, size_t len, struct totals *t)
{
	vpx_codec_iter_t iter = NULL;

	if (vpx_codec_decode(d, buf, (unsigned)len, NULL, 0) != VPX_CODEC_OK)
		return -1;
	while (vpx_codec_get_frame(d, &iter))
		t->decoded++;
	return 0;
}

static int parse_size(const char *s, int *w, int *h)
{
	return sscanf(s, "%dx%d", w, h) == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int paced = argc > 1 && strcmp(argv[1], "--paced") == 0;
	double seconds = argc > 1 + paced ? atof(argv[1 + paced]) : 20.0;
	int width = 640, height = 480;
	long key_at = argc > 3 + paced ? atol(argv[3 + paced]) : -1;
	long pictures = (long)(seconds * FPS);
	clockid_t clk = paced ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID;
	vpx_codec_dec_cfg_t dcfg = {.threads = 1};
	vpx_codec_ctx_t enc, dec;
	cw_test_pattern *pat;
	struct totals t = {0};
	uint8_t *buf = NULL, *all = NULL;
	size_t len = 0, cap = 0, all_len = 0, all_cap = 0;
	size_t *lens = NULL;
	double video_s = (double)pictures / FPS;

	if ((argc > 2 + paced && parse_size(argv[2 + paced], &width, &height) != 0) ||
	    pictures <= 0 || cw_test_pattern_new(&pat, width, height) != 0 ||
	    enc_open(&enc, width, height) != 0 ||
	    vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), &dcfg, 0) != VPX_CODEC_OK ||
	    !(lens = calloc((size_t)pictures, sizeof(*lens)))) {
		fprintf(stderr, "vp8_ref: cannot set up the pattern or the codec\n");
		return 1;
	}
	if (paced) {
		struct timespec next;

		clock_gettime(CLOCK_MONOTONIC, &next);
		for (long n = 0; n < pictures; n++) {
			cw_video_frame f;
			double a, b, c, e;

			next.tv_nsec += 1000000000L / FPS + (n % 3 == 2); /* 33.333… ms */
			if (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
			memset(&f, 0, sizeof(f));
			a = cpu_now(clk);
			if (cw_test_pattern_source_cb(NULL, &f, pat) != 0)
				goto fail;
			b = cpu_now(clk);
			if (encode(&enc, &f, n, n == key_at, &buf, &len, &cap, &t) != 0)
				goto fail;
			c = cpu_now(clk);
			if (len && decode(&dec, buf, len, &t) != 0)
				goto fail;
			e = cpu_now(clk);
			t.draw += b - a;
			t.encode += c - b;
			t.decode += e - c;
		}
	} else {
		double a, b;

		for (long n = 0; n < pictures; n++) {
			cw_video_frame f;

			memset(&f, 0, sizeof(f));
			a = cpu_now(clk);
			if (cw_test_pattern_source_cb(NULL, &f, pat) != 0)
				goto fail;
			b = cpu_now(clk);
			t.draw += b - a;
			if (encode(&enc, &f, n, n == key_at, &buf, &len, &cap, &t) != 0)
				goto fail;
			t.encode += cpu_now(clk) - b;
			if (all_len + len > all_cap) {
				size_t ncap = (all_len + len) * 2 + 65536;
				uint8_t *p = realloc(all, ncap);

				if (!p)
					goto fail;
				all = p;
				all_cap = ncap;
			}
			memcpy(all + all_len, buf, len);
			all_len += len;
			lens[n] = len;
		}
		a = cpu_now(clk);
		for (size_t n = 0, at = 0; n < (size_t)pictures; at += lens[n], n++)
			if (lens[n] && decode(&dec, all + at, lens[n], &t) != 0)
				goto fail;
		t.decode = cpu_now(clk) - a;
	}
	printf("{\"mode\":\"%s\",\"seconds\":%.3f,\"width\":%d,\"height\":%d,\"fps\":%d,"
	       "\"target_kbps\":%u,\"key_at\":%ld,\"pictures\":%ld,\"decoded\":%ld,\"keyframes\":%"
	       "ld,"
	       "\"bytes\":%ld,\"bitrate\":%.0f,\"mean_picture_bytes\":%.0f,"
	       "\"keyframe_bytes\":%ld,\"max_picture_bytes\":%ld,\"quantizer_mean\":%.1f,"
	       "\"quantizer_min\":%ld,\"quantizer_max\":%ld,"
	       "\"draw_cpu_per_s\":%.6f,\"encode_cpu_per_s\":%.6f,\"decode_cpu_per_s\":%.6f,"
	       "\"codec_cpu_per_s\":%.6f,\"encode_us_per_picture\":%.1f,"
	       "\"decode_us_per_picture\":%.1f,\"version\":\"%s\"}\n",
	       paced ? "paced" : "back_to_back", video_s, width, height, FPS,
	       target_kbps(width, height), key_at, t.pictures, t.decoded, t.keyframes, t.bytes,
	       t.bytes * 8.0 / video_s, t.pictures ? (double)t.bytes / (double)t.pictures : 0.0,
	       t.key_bytes, t.max_bytes, t.pictures ? (double)t.q_sum / (double)t.pictures : 0.0,
	       t.q_min, t.q_max, t.draw / video_s, t.encode / video_s, t.decode / video_s,
	       (t.encode + t.decode) / video_s,
	       t.pictures ? t.encode / (double)t.pictures * 1e6 : 0,
	       t.decoded ? t.decode / (double)t.decoded * 1e6 : 0, vpx_codec_version_str());
	vpx_codec_destroy(&enc);
	vpx_codec_destroy(&dec);
	cw_test_pattern_free(pat);
	free(buf);
	free(all);
	free(lens);
	return 0;
fail:
	fprintf(stderr, "vp8_ref: the codec failed\n");
	return 1;
}
