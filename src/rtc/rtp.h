/* rtp: RTP packet views, header extensions, forwarding rewrites and payload inspection. */
#ifndef CW_RTC_RTP_H
#define CW_RTC_RTP_H

/*
 * Everything here runs once per forwarded packet, so nothing allocates, reads a clock or
 * does I/O. Parsers return views into the caller's buffer (valid as long as it is);
 * builders write into caller buffers. Every read is bounds-checked.
 *
 * Errors are negative errno values:
 *   -EBADMSG  the bytes are not a well-formed packet (or payload header)
 *   -ENOENT   the requested header extension is absent
 *   -ENOSPC   the output buffer, or an element being rewritten in place, is too small
 *   -EINVAL   an argument is out of range (an extension id, a length)
 *   -ENOTSUP  the packet uses an extension profile other than RFC 8285's
 *
 * References: RFC 3550 (RTP), RFC 7983 and 5761 (demultiplexing), RFC 8285 (header
 * extensions), RFC 6464 (audio level), draft-holmer-rmcat-transport-wide-cc-extensions
 * (transport-wide sequence numbers), RFC 8843 (mid), RFC 7741 (VP8), RFC 6184 (H.264),
 * RFC 4588 (RTX).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_RTP_HEADER_MIN 12 /* fixed header, no CSRC, no extension */
#define CW_RTP_VERSION 2

/* What a datagram on a WebRTC 5-tuple carries, told by its first bytes (RFC 7983). */
enum cw_rtp_demux {
	CW_RTP_DEMUX_OTHER, /* none of the below: drop */
	CW_RTP_DEMUX_STUN,  /* first byte 0..3 */
	CW_RTP_DEMUX_ZRTP,  /* 16..19 */
	CW_RTP_DEMUX_DTLS,  /* 20..63 */
	CW_RTP_DEMUX_TURN,  /* 64..79, TURN channel data */
	CW_RTP_DEMUX_RTP,   /* 128..191, second byte (M + PT) outside 192..223 */
	CW_RTP_DEMUX_RTCP,  /* 128..191, packet type 192..223 (RFC 5761 section 4) */
};

/* A parsed RTP packet: header fields and offsets into buf. */
struct cw_rtp {
	const uint8_t *buf; /* the whole packet */
	size_t len;
	bool padding;
	bool extension;
	bool marker;
	uint8_t cc; /* CSRC count */
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint16_t ext_profile; /* 0xBEDE, 0x100X or another profile; 0 without extension */
	size_t ext_off;	      /* offset of the extension data, after its 4-byte header */
	size_t ext_len;	      /* its length in bytes (a multiple of 4) */
	size_t payload_off;   /* = header length */
	size_t payload_len;   /* without padding */
	uint8_t pad_len;      /* padding bytes at the end, including the count byte */
};

/* One header extension element (RFC 8285). */
struct cw_rtp_ext {
	uint8_t id;	     /* 1..14 one-byte form, 1..255 two-byte form */
	uint8_t len;	     /* data length: 1..16 one-byte form, 0..255 two-byte form */
	const uint8_t *data; /* into the packet */
	size_t off;	     /* offset of data in the packet, for in-place rewrites */
};

/* Iteration state over a packet's extension elements; fields are private. */
struct cw_rtp_ext_iter {
	const uint8_t *buf;
	size_t pos;
	size_t end;
	bool two_byte;
};

/* Classifies a datagram by its first bytes per RFC 7983, and RTP against RTCP by the
 * second byte per RFC 5761. Looks at no more than two bytes; an RTP or RTCP answer means
 * only "parse it as such". */
enum cw_rtp_demux cw_rtp_demux(const uint8_t *buf, size_t len);

/* Parses the RTP header of buf[0..len): version 2, CSRCs, the extension block and
 * padding (a count of at least 1 and no more than the bytes after the header) must all
 * fit. Fills pkt on success. Returns 0 or -EBADMSG. */
int cw_rtp_parse(struct cw_rtp *pkt, const uint8_t *buf, size_t len);

/* The i-th CSRC of a parsed packet, or 0 when i >= pkt->cc. */
uint32_t cw_rtp_csrc(const struct cw_rtp *pkt, unsigned i);

/* Starts iterating the extension elements of pkt. A packet without an extension, or with
 * a profile other than one-byte (0xBEDE) or two-byte (0x100X), yields no elements. */
void cw_rtp_ext_iter_init(struct cw_rtp_ext_iter *it, const struct cw_rtp *pkt);

/* The next element: returns 1 with *ext filled, 0 at the end, -EBADMSG when an element
 * runs past the extension block. Padding bytes are skipped; in the one-byte form the
 * reserved id 15 ends the iteration (RFC 8285 section 4.2). */
int cw_rtp_ext_next(struct cw_rtp_ext_iter *it, struct cw_rtp_ext *ext);

/* Finds the first element with id. Returns 0, -ENOENT or -EBADMSG. */
int cw_rtp_ext_find(const struct cw_rtp *pkt, uint8_t id, struct cw_rtp_ext *ext);

/* Reads the RFC 6464 client-to-mixer audio level under the negotiated id: *voice is the V
 * bit, *level the level in -dBov (0 loudest .. 127 silence). Returns 0, -ENOENT or
 * -EBADMSG (an empty element). */
int cw_rtp_audio_level(const struct cw_rtp *pkt, uint8_t id, bool *voice, uint8_t *level);

/* Reads the transport-wide sequence number (first two bytes of the element under id).
 * Returns 0, -ENOENT or -EBADMSG (an element shorter than two bytes). */
int cw_rtp_twcc_seq(const struct cw_rtp *pkt, uint8_t id, uint16_t *seq);

/* Rewrites the transport-wide sequence number in place; pkt is buf parsed. Returns 0,
 * -ENOENT, -EBADMSG or -EINVAL (pkt is not a view of buf). */
int cw_rtp_set_twcc_seq(uint8_t *buf, const struct cw_rtp *pkt, uint8_t id, uint16_t seq);

/* The mid (RFC 8843) under id as a view: *mid points into the packet, not terminated.
 * Returns 0, -ENOENT or -EBADMSG (an empty mid). */
int cw_rtp_mid(const struct cw_rtp *pkt, uint8_t id, const char **mid, size_t *mid_len);

/* Rewrites the mid in place when the new one is no longer than the old: the element
 * shrinks and the bytes it frees become zero padding, which RFC 8285 allows between
 * elements in both forms. pkt is buf parsed. Returns 0, -ENOENT, -EBADMSG, -EINVAL (empty mid, pkt
 * not a view of buf) or -ENOSPC (longer than the element: use cw_rtp_copy_set_ext()). */
int cw_rtp_set_mid(uint8_t *buf, const struct cw_rtp *pkt, uint8_t id, const char *mid,
		   size_t mid_len);

/* Copies pkt into out with the extension element id set to data[0..len), replacing an
 * existing one or adding it; data == NULL removes it instead (and the extension block with
 * it when it ends up empty). The one-byte form is kept when the element fits it (id
 * 1..14, len 1..16), otherwise the block is rewritten in the two-byte form. Payload and
 * padding are copied unchanged. out must not overlap pkt->buf. Returns 0 with *out_len
 * set, -ENOSPC, -EINVAL (id 0, or id/len fit no form), -ENOTSUP or -EBADMSG. */
int cw_rtp_copy_set_ext(uint8_t *out, size_t out_size, size_t *out_len, const struct cw_rtp *pkt,
			uint8_t id, const uint8_t *data, size_t len);

/* In-place rewrites of the fixed header for forwarding (len is the packet's length, at
 * least 12). set_pt keeps the marker bit. Each returns 0 or -EBADMSG. */
int cw_rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc);
int cw_rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq);
int cw_rtp_set_ts(uint8_t *buf, size_t len, uint32_t ts);
int cw_rtp_set_pt(uint8_t *buf, size_t len, uint8_t pt);
int cw_rtp_set_marker(uint8_t *buf, size_t len, bool marker);

/* Signed distance a - b between two sequence numbers across the wrap: positive when a is
 * newer. Exactly half the space apart (32768) counts as a being newer. */
static inline int32_t cw_rtp_seq_diff(uint16_t a, uint16_t b)
{
	uint16_t d = (uint16_t)(a - b);

	return d <= 0x8000 ? (int32_t)d : (int32_t)d - 0x10000;
}

/* True when sequence number a comes after b (wrap-aware), false when equal or older. */
static inline bool cw_rtp_seq_newer(uint16_t a, uint16_t b)
{
	return cw_rtp_seq_diff(a, b) > 0;
}

/* Extends 16-bit sequence numbers to 64 bits across wraps. Zero-initialise; fields are
 * private. */
struct cw_rtp_seq_unwrap {
	int64_t last; /* extended value of the newest number seen */
	bool started;
};

/* The extended value of seq: the first number maps to itself, later ones to the value
 * closest to the newest seen, so a late packet from before a wrap maps below it (and may
 * be negative when it predates the first packet). */
int64_t cw_rtp_seq_unwrap(struct cw_rtp_seq_unwrap *u, uint16_t seq);

/* The RFC 7741 VP8 payload descriptor and, when present, the start of the frame. */
struct cw_rtp_vp8 {
	bool n;	     /* non-reference frame */
	bool s;	     /* start of a VP8 partition */
	uint8_t pid; /* partition index */
	bool has_picture_id;
	bool picture_id_15; /* M bit: 15-bit PictureID */
	uint16_t picture_id;
	bool has_tl0picidx;
	uint8_t tl0picidx;
	bool has_tid; /* T bit: tid and y are valid */
	uint8_t tid;
	bool y;
	bool has_keyidx;
	uint8_t keyidx;
	size_t desc_len;  /* descriptor bytes: the VP8 payload starts here */
	bool frame_start; /* s && pid == 0: the VP8 payload header follows */
	bool keyframe;	  /* frame_start and the payload header's P bit is 0 */
	uint16_t width;	  /* keyframes with a complete header only, else 0 */
	uint16_t height;
	size_t picture_id_off; /* offsets within the payload for in-place rewrites */
	size_t tl0picidx_off;
};

/* Parses the VP8 payload descriptor at the start of an RTP payload. At least one byte of
 * VP8 payload must follow it. Returns 0 or -EBADMSG. */
int cw_rtp_vp8_parse(struct cw_rtp_vp8 *vp8, const uint8_t *payload, size_t len);

/* True when the payload starts a VP8 keyframe (start of partition 0, P bit 0). */
bool cw_rtp_vp8_is_keyframe(const uint8_t *payload, size_t len);

/* Rewrites the PictureID (in the width the packet uses: 7 or 15 bits, higher bits
 * dropped) or the TL0PICIDX in place, as an SFU does when it switches between simulcast
 * layers. vp8 is payload parsed. Returns 0 or -ENOENT (the field is absent). */
int cw_rtp_vp8_set_picture_id(uint8_t *payload, const struct cw_rtp_vp8 *vp8, uint16_t picture_id);
int cw_rtp_vp8_set_tl0picidx(uint8_t *payload, const struct cw_rtp_vp8 *vp8, uint8_t tl0picidx);

/* True when an RFC 6184 payload starts an H.264 keyframe: an IDR slice (NAL type 5) or a
 * sequence parameter set (7), alone, inside a STAP-A, or as the first fragment of an FU-A.
 * Malformed aggregates are not keyframes. */
bool cw_rtp_h264_is_keyframe(const uint8_t *payload, size_t len);

/* The original sequence number (OSN) of an RFC 4588 RTX packet: the first two bytes of
 * its payload. Returns 0 or -EBADMSG (payload shorter than two bytes). */
int cw_rtp_rtx_osn(const struct cw_rtp *rtx, uint16_t *osn);

/* Builds into out the RTX packet that retransmits orig: orig's header (CSRCs, extensions,
 * marker, timestamp) with pt, ssrc and seq replaced, then orig's sequence number, then
 * orig's payload; orig's padding is dropped. out must not overlap orig->buf. Returns 0
 * with *out_len set, or -ENOSPC. */
int cw_rtp_rtx_build(uint8_t *out, size_t out_size, size_t *out_len, const struct cw_rtp *orig,
		     uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq);

/* The inverse: rebuilds into out the original packet an RTX packet carries, with the
 * original pt and ssrc given by the caller (from the SDP's apt and ssrc-group) and the
 * OSN as sequence number. Returns 0 with *out_len set, -EBADMSG or -ENOSPC. */
int cw_rtp_rtx_restore(uint8_t *out, size_t out_size, size_t *out_len, const struct cw_rtp *rtx,
		       uint8_t orig_pt, uint32_t orig_ssrc);

#endif
