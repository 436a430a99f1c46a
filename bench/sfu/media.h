/*
 * media: a recording of real Opus and VP8 RTP payloads, replayed by the SFU load generator at
 * the rates they were recorded at. bench/media/record.c (`media_record`) writes one.
 *
 * File format (.cwmedia), all integers little-endian:
 *
 *   header, 28 bytes:
 *     8  magic "CWMEDIA1"
 *     u64 loop_ns            the recording's length in ns: replay loops after this
 *     u32 video_ts_per_loop  RTP timestamp units (90 kHz) the video advances per loop
 *     u32 audio_ts_per_loop  RTP timestamp units (48 kHz) the audio advances per loop
 *     u32 count              the number of records that follow
 *   then `count` records in send-time order, each 18 bytes + payload:
 *     u64 at_ns        send time offset from the start of the loop, < loop_ns; the packets of
 *                      one video frame all carry the frame's capture time, audio is every 20 ms
 *     u8  kind         0 video (VP8, RFC 7741 payload descriptor included), 1 audio (Opus)
 *     u8  marker       the RTP marker bit: the last packet of a video frame; 0 for audio
 *     u8  keyframe     video: the packet belongs to a keyframe; 0 for audio
 *     u8  audio_level  audio: RFC 6464 level, 0..127 (-dBov); 0 for video
 *     u32 ts           RTP timestamp offset from the loop's first one (0), < *_ts_per_loop
 *     u16 len          payload bytes, 1..MEDIA_MAX_PAYLOAD
 *     len bytes        the RTP payload
 *   and nothing after the last record.
 *
 * Send times never decrease; within a kind, timestamps never decrease. The VP8 payload
 * descriptor is 4 bytes (X=1, I=1 with a 15-bit PictureID, S on a frame's first packet, PID 0);
 * the PictureID is the frame's index in the loop, so a replay that wants PictureIDs to run on
 * across loops adds (loop * frames per loop) mod 2^15. The first frame is a keyframe, so a
 * decoder follows the replay from one loop into the next.
 *
 * Replay of loop k (k = 0, 1, ...): send at k * loop_ns + at_ns with RTP timestamp
 * base + k * {video,audio}_ts_per_loop + ts.
 */
#ifndef BENCH_MEDIA_H
#define BENCH_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#define MEDIA_MAGIC "CWMEDIA1"
#define MEDIA_HEADER_BYTES 28
#define MEDIA_RECORD_BYTES 18 /* before the payload */
#define MEDIA_MAX_PAYLOAD 1200
#define MEDIA_VP8_DESC_BYTES 4 /* the payload descriptor media_record writes */
#define MEDIA_MAX_FILE_BYTES (1ull << 30)

enum media_kind { MEDIA_VIDEO = 0, MEDIA_AUDIO = 1 };

struct media_pkt {
	uint64_t at_ns; /* send time offset in the loop */
	uint32_t ts;	/* RTP timestamp offset */
	uint16_t len;	/* payload bytes */
	uint8_t kind;	/* 0 video (VP8), 1 audio (Opus) */
	uint8_t marker, keyframe, audio_level;
	const uint8_t *payload;
};

struct media {
	struct media_pkt *pkts; /* send-time order */
	size_t n;
	uint64_t loop_ns; /* the recording's length: replay loops after this */
	uint32_t video_ts_per_loop, audio_ts_per_loop; /* timestamps advance by these each loop */
	size_t n_video, n_audio, max_len;
	void *blob; /* the file's bytes */
};

/* Reads and validates the file at path into m; 0, or -1 with a message in err (m left empty). */
int media_load(const char *path, struct media *m, char *err, size_t errlen);
/* Checks a recording already in memory; m->blob stays NULL and payloads point into buf, which
 * must outlive m. 0 or -1 with a message. */
int media_parse(const uint8_t *buf, size_t len, struct media *m, char *err, size_t errlen);
void media_free(struct media *m);

#endif
