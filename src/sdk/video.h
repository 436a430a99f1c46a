/* video: libcallwire's private header for video: VP8 through libvpx, its RTP payload
 * (RFC 7741) both ways, and the test pattern (video.c, video_rx.c, pattern.c). Like the
 * audio side, everything runs on the client's network thread and is not locked. */
#ifndef CW_SDK_VIDEO_H
#define CW_SDK_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callwire/callwire.h"

#define CW__VIDEO_CLOCK 90000	 /* Hz: VP8's RTP clock */
#define CW__VIDEO_WIDTH_MAX 1920 /* and height 1088: what the encoder and decoder take */
#define CW__VIDEO_HEIGHT_MAX 1088
#define CW__VP8_PAYLOAD_MAX 1160    /* RTP payload bytes per packet, descriptor included */
#define CW__VP8_DESCRIPTOR 4	    /* X=1, I with a 15-bit PictureID */
#define CW__VP8_FRAME_MAX (1 << 20) /* bytes of one encoded picture at most */

/* ---- sending (video.c) ---- */

/* A VP8 encoder for real time: one thread, CBR, no lag, error resilient, keyframes only
 * when asked (PLI) or every 3000 pictures; its packetiser numbers the pictures. */
struct cw__vp8_enc;

/* One RTP payload of a picture: the VP8 payload descriptor and a piece of the picture.
 * marker on the last of the picture. */
typedef void (*cw__vp8_emit_fn)(const uint8_t *payload, size_t len, bool marker, void *arg);

/* fps 1..60, bitrate_kbps 0: from the size (set at the first picture) and fps. 0,
 * CW_ERR_NO_MEMORY, CW_ERR_INVALID_ARGUMENT. */
int cw__vp8_enc_new(struct cw__vp8_enc **encp, int fps, int bitrate_kbps);
void cw__vp8_enc_free(struct cw__vp8_enc *enc);
/* Encodes one I420 picture (the encoder is made again when the size changes; odd or
 * out-of-range sizes are CW_ERR_INVALID_ARGUMENT) and emits its payloads in order.
 * keyframe asks for a keyframe. Returns the number of payloads emitted (0 when the rate
 * control skipped the picture), or a negative CW_ERR_*; *was_key tells whether the
 * picture was a keyframe. */
int cw__vp8_enc_frame(struct cw__vp8_enc *enc, const cw_video_frame *frame, bool keyframe,
		      cw__vp8_emit_fn emit, void *arg, bool *was_key);

/* ---- receiving (video_rx.c) ---- */

/* Reassembles the pictures of one incoming VP8 stream from RTP packets in any order
 * (duplicates and retransmissions included) and decodes them. A picture is complete when
 * every sequence number from its first packet (S=1, partition 0) to its last (the
 * marker) is there with its timestamp. Pictures are decoded in order. One complete after
 * a gap (a picture not complete yet, seen by its PictureID or its sequence numbers) is
 * held, with those after it, for the retransmission that completes the missing picture;
 * then all are decoded at once. A keyframe ends the wait at once (the held pictures older
 * than it are dropped); otherwise the wait is given up after twice the round trip
 * (100 to 500 ms, see cw__vp8_rx_poll) or when the held packets fill the store: the held
 * pictures are dropped, nothing is decoded until a keyframe, and the stream wants one. */
struct cw__vp8_rx;

/* A decoded picture (borrowed for the call). */
typedef void (*cw__vp8_frame_fn)(const cw_video_frame *frame, void *arg);

struct cw__vp8_rx_stats {
	uint64_t packets;	/* taken into the reassembly */
	uint64_t duplicates;	/* ignored */
	uint64_t malformed;	/* no valid descriptor, too big, or too old: ignored */
	uint64_t frames;	/* decoded and delivered */
	uint64_t keyframes;	/* of those */
	uint64_t dropped;	/* pictures skipped: incomplete, after a gap, or undecodable */
	uint64_t held;		/* pictures complete after a gap, held for it */
	uint64_t key_wanted;	/* times cw__vp8_rx_wants_keyframe said yes */
	uint16_t width, height; /* of the last decoded picture */
};

/* decode false: reassembly only, complete pictures are counted and not decoded (the
 * fuzz target's mode). 0 or CW_ERR_NO_MEMORY. */
int cw__vp8_rx_new(struct cw__vp8_rx **rxp, bool decode);
void cw__vp8_rx_free(struct cw__vp8_rx *rx);
/* One RTP packet of the stream at now_ms: its sequence number, timestamp, marker and
 * payload (descriptor first). The pictures it lets decode in order (its own, and those
 * held after it) are decoded and delivered to frame at once. 0 when taken, 1 when ignored
 * (duplicate, malformed, older than what was decoded). */
int cw__vp8_rx_put(struct cw__vp8_rx *rx, uint16_t seq, uint32_t ts, bool marker,
		   const uint8_t *payload, size_t len, int64_t now_ms, cw__vp8_frame_fn frame,
		   void *arg);
/* Gives up the wait for a missing picture once it has lasted max(2 * rtt_ms, 100 ms),
 * 500 ms at most (rtt_ms < 0: unknown). To call on the clock of cw__vp8_rx_put, every
 * 20 ms or so. The held pictures are dropped: each VP8 picture but a keyframe refers to
 * the one before, so none decodes after a gap, and frame is called for nothing today.
 * true when it gave up: the stream wants a keyframe now. */
bool cw__vp8_rx_poll(struct cw__vp8_rx *rx, int64_t now_ms, int rtt_ms, cw__vp8_frame_fn frame,
		     void *arg);
/* Whether to send a PLI now: the stream waits for a keyframe (a gap given up, a decode
 * error, no keyframe yet since the start) and it did not say yes within the last
 * max(rtt, 250 ms). Saying yes is counted. */
bool cw__vp8_rx_wants_keyframe(struct cw__vp8_rx *rx, int64_t now_ms, int rtt_ms);
void cw__vp8_rx_stats(const struct cw__vp8_rx *rx, struct cw__vp8_rx_stats *st);

#endif
