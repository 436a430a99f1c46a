/* opus_ref: the same-run reference of bench/run-sdk. Encodes and decodes SECONDS of a
 * sine tone in 20 ms frames with the encoder settings of libcallwire (src/sdk/audio.c:
 * 48 kHz mono, VOIP, 32 kb/s, complexity 5, in-band FEC sized for 10 % loss, no DTX) and
 * the tone of `callwire call --tone HZ` (amplitude 0.25), as fast as it can, and prints
 * one JSON line: the CPU seconds this took per second of audio, encoding and decoding
 * apart. That is the codec's share of a client's call, without the network, SRTP, RTCP,
 * the jitter buffer or the WebSocket.
 *
 *   opus_ref [SECONDS [HZ]]      (default 20 s, 440 Hz)
 *   opus_ref --paced SECONDS [HZ]
 *
 * --paced encodes and decodes one frame every 20 ms of the clock, as a call does, for
 * SECONDS, and prints nothing: bench/run-sdk measures it from /proc alongside the clients.
 * That is the codec's cost with the caches, the branch predictors and the timer wake-ups of
 * a call, where the default measures it hot, back to back.
 *
 * Built by bench/run-sdk with `cc -O2 opus_ref.c $(pkg-config --cflags --libs opus) -lm`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus/opus.h>

#define RATE 48000
#define FRAME 960 /* 20 ms */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int paced = argc > 1 && strcmp(argv[1], "--paced") == 0;
	double seconds = argc > 1 + paced ? atof(argv[1 + paced]) : 20.0;
	double hz = argc > 2 + paced ? atof(argv[2 + paced]) : 440.0;
	int frames = (int)(seconds * RATE / FRAME), err, bytes = 0;
	OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &err);
	OpusDecoder *dec = opus_decoder_create(RATE, 1, &err);
	int16_t *pcm = malloc(sizeof(int16_t) * FRAME * (size_t)frames), out[FRAME];
	unsigned char (*pkt)[1500] = malloc(1500 * (size_t)frames);
	int *len = malloc(sizeof(int) * (size_t)frames);
	double t0, t1, t2;

	if (!enc || !dec || !pcm || !pkt || !len || frames <= 0 ||
	    opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(5)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(10)) != OPUS_OK ||
	    opus_encoder_ctl(enc, OPUS_SET_DTX(0)) != OPUS_OK) {
		fprintf(stderr, "opus_ref: cannot set up the codec\n");
		return 1;
	}
	for (long i = 0; i < (long)FRAME * frames; i++)
		pcm[i] = (int16_t)lrint(0.25 * 32767.0 * sin(2.0 * M_PI * hz * (double)i / RATE));
	if (paced) {
		struct timespec next;

		clock_gettime(CLOCK_MONOTONIC, &next);
		for (int f = 0; f < frames; f++) {
			next.tv_nsec += 20000000;
			if (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
			len[f] = opus_encode(enc, pcm + (long)f * FRAME, FRAME, pkt[f], 1500);
			if (len[f] < 0 || opus_decode(dec, pkt[f], len[f], out, FRAME, 0) != FRAME) {
				fprintf(stderr, "opus_ref: the codec failed\n");
				return 1;
			}
		}
		return 0;
	}
	t0 = cpu_now();
	for (int f = 0; f < frames; f++) {
		len[f] = opus_encode(enc, pcm + (long)f * FRAME, FRAME, pkt[f], 1500);
		if (len[f] < 0) {
			fprintf(stderr, "opus_ref: opus_encode: %s\n", opus_strerror(len[f]));
			return 1;
		}
		bytes += len[f];
	}
	t1 = cpu_now();
	for (int f = 0; f < frames; f++)
		if (opus_decode(dec, pkt[f], len[f], out, FRAME, 0) != FRAME) {
			fprintf(stderr, "opus_ref: opus_decode failed\n");
			return 1;
		}
	t2 = cpu_now();
	printf("{\"seconds\":%.2f,\"frames\":%d,\"bitrate\":%.0f,\"encode_cpu_per_s\":%.6f,"
	       "\"decode_cpu_per_s\":%.6f,\"cpu_per_s\":%.6f,\"version\":\"%s\"}\n",
	       frames * 0.02, frames, bytes * 8.0 / (frames * 0.02), (t1 - t0) / (frames * 0.02),
	       (t2 - t1) / (frames * 0.02), (t2 - t0) / (frames * 0.02), opus_get_version_string());
	opus_encoder_destroy(enc);
	opus_decoder_destroy(dec);
	free(pcm);
	free(pkt);
	free(len);
	return 0;
}
