/* sdp: WebRTC session descriptions (RFC 8866, JSEP subset of RFC 8829): parse, negotiate, write. */
#ifndef CW_RTC_SDP_H
#define CW_RTC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Memory: a description (struct cw_sdp) is one heap block holding the struct, its
 * m-sections (a fixed-size struct each, as many as the text has) and a string area that
 * every `const char *` of the model points into; cw_sdp_free releases it whole. A model
 * never points at the caller's text or configuration, so those may go right after a call.
 *
 * Limits (exceeding one is an error naming it, -E2BIG), except candidates: those past
 * CW_SDP_MAX_CANDIDATES are dropped, since an ICE-lite agent learns its peer's address
 * from the STUN checks, not from the SDP.
 */
#define CW_SDP_MAX_TEXT 65536 /* bytes of SDP text (the signaling message limit) */
#define CW_SDP_MAX_LINE 4096  /* bytes of one line, without its line break */
#define CW_SDP_MAX_MEDIA 128  /* m-sections */
#define CW_SDP_MAX_CODECS 64  /* payload types of one m-section (Chromium offers 34) */
#define CW_SDP_MAX_EXTMAPS 32
#define CW_SDP_MAX_SSRCS 32
#define CW_SDP_MAX_SSRC_GROUPS 16
#define CW_SDP_MAX_GROUP_SSRCS 8
#define CW_SDP_MAX_CANDIDATES 32
#define CW_SDP_MAX_FINGERPRINTS 4
#define CW_SDP_MAX_RIDS 8
#define CW_SDP_MAX_HASH 64 /* bytes of a fingerprint (sha-512) */

/* The reason a call failed: "line 7: bad m= line: port is not a number". */
struct cw_sdp_err {
	unsigned line; /* 1-based line of the fault; 0 when it concerns no single line */
	char msg[160];
};

enum cw_sdp_kind { CW_SDP_AUDIO, CW_SDP_VIDEO, CW_SDP_APPLICATION, CW_SDP_OTHER };
enum cw_sdp_dir { CW_SDP_SENDRECV, CW_SDP_SENDONLY, CW_SDP_RECVONLY, CW_SDP_INACTIVE };
enum cw_sdp_setup {
	CW_SDP_SETUP_NONE,
	CW_SDP_SETUP_ACTPASS,
	CW_SDP_SETUP_ACTIVE,
	CW_SDP_SETUP_PASSIVE,
	CW_SDP_SETUP_HOLDCONN
};

/* RTCP feedback (a=rtcp-fb) we understand; others are ignored. */
#define CW_SDP_FB_NACK 0x01u /* nack */
#define CW_SDP_FB_PLI 0x02u  /* nack pli */
#define CW_SDP_FB_FIR 0x04u  /* ccm fir */
#define CW_SDP_FB_REMB 0x08u /* goog-remb */
#define CW_SDP_FB_TWCC 0x10u /* transport-cc */
#define CW_SDP_FB_ALL 0x1fu

/* Codecs we support. */
#define CW_SDP_CODEC_OPUS 0x01u /* opus/48000/2 */
#define CW_SDP_CODEC_VP8 0x02u	/* VP8/90000 */
#define CW_SDP_CODEC_H264 0x04u /* H264/90000, packetization-mode=1, profile-level-id 42xxxx */
#define CW_SDP_CODEC_RTX 0x08u	/* rtx/90000 for an accepted video codec */
#define CW_SDP_CODEC_ALL 0x0fu

/* RTP header extensions we support (matched by URI). */
#define CW_SDP_EXT_AUDIO_LEVEL 0x01u   /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
#define CW_SDP_EXT_TWCC 0x02u	       /* ...draft-holmer-rmcat-transport-wide-cc-extensions-01 */
#define CW_SDP_EXT_MID 0x04u	       /* urn:ietf:params:rtp-hdrext:sdes:mid */
#define CW_SDP_EXT_ABS_SEND_TIME 0x08u /* ...webrtc.org/experiments/rtp-hdrext/abs-send-time */
#define CW_SDP_EXT_ALL 0x0fu

#define CW_SDP_URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define CW_SDP_URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define CW_SDP_URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define CW_SDP_URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define CW_SDP_URI_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define CW_SDP_URI_RRID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

/* What we accept when answering and put in offers. NULL where one is taken: all of it. */
struct cw_sdp_caps {
	unsigned codecs; /* CW_SDP_CODEC_* */
	unsigned fb;	 /* CW_SDP_FB_* */
	unsigned exts;	 /* CW_SDP_EXT_* */
	/* Answer a=simulcast send offers (rids mirrored as recv, with the rtp-stream-id
	 * extensions). When off the offerer falls back to its first encoding only. */
	bool simulcast;
};

struct cw_sdp_fingerprint {
	char alg[16]; /* lower case: "sha-256" */
	uint8_t len;
	uint8_t hash[CW_SDP_MAX_HASH];
};

/* ICE and DTLS parameters, at session level or overriding it in one m-section. */
struct cw_sdp_transport {
	const char *ufrag, *pwd, *options; /* a=ice-ufrag, a=ice-pwd, a=ice-options; NULL: absent */
	unsigned nfingerprints;
	struct cw_sdp_fingerprint fingerprints[CW_SDP_MAX_FINGERPRINTS];
	enum cw_sdp_setup setup;
};

/* One payload type: m= line, a=rtpmap, a=fmtp, a=rtcp-fb. */
struct cw_sdp_codec {
	uint8_t pt;
	const char *name; /* as written ("opus", "VP8"); NULL: no a=rtpmap (a static type) */
	uint32_t clock;
	uint8_t channels;	   /* 0: not given */
	const char *fmtp;	   /* a=fmtp parameters as written; NULL: absent */
	int apt;		   /* fmtp apt= (RTX); -1: absent */
	int packetization_mode;	   /* fmtp packetization-mode= (H.264); -1: absent */
	uint32_t profile_level_id; /* fmtp profile-level-id= (H.264), 24 bits; 0: absent */
	unsigned fb;		   /* CW_SDP_FB_*; a=rtcp-fb:* counts for every type */
};

struct cw_sdp_extmap {
	uint16_t id;
	bool has_dir; /* a=extmap:ID/DIR */
	enum cw_sdp_dir dir;
	const char *uri; /* extension attributes after the URI are not kept */
};

/* The a=ssrc lines of one SSRC, merged. */
struct cw_sdp_ssrc {
	uint32_t ssrc;
	const char *cname;		      /* NULL: absent */
	const char *msid_stream, *msid_track; /* a=ssrc:N msid:STREAM TRACK; NULL: absent */
};

struct cw_sdp_ssrc_group {
	const char *semantics; /* "FID", "SIM", "FEC-FR", ... */
	unsigned nssrcs;
	uint32_t ssrcs[CW_SDP_MAX_GROUP_SSRCS];
};

struct cw_sdp_candidate {
	const char *raw;	/* everything after "a=candidate:" */
	const char *foundation; /* the parsed fields of raw */
	unsigned component;
	const char *transport; /* as written: "udp", "UDP", "tcp" */
	uint32_t priority;
	const char *ip; /* an address or an mDNS name */
	uint16_t port;
	const char *type; /* "host", "srflx", "prflx", "relay" */
};

struct cw_sdp_media {
	enum cw_sdp_kind kind;
	const char *media;   /* the m= line's media as written ("audio", "text") */
	uint16_t port;	     /* 0: rejected or stopped */
	const char *proto;   /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
	bool rtp;	     /* proto carries RTP: the formats are payload types */
	const char *fmts;    /* not RTP: the m= line's format list as written; RTP: NULL */
	const char *mid;     /* NULL: absent */
	enum cw_sdp_dir dir; /* the section's, else the session's, else sendrecv */
	bool rtcp_mux, rtcp_rsize, end_of_candidates;
	struct cw_sdp_transport transport;    /* absent fields: see cw_sdp_media_transport */
	const char *msid_stream, *msid_track; /* a=msid; NULL: absent */
	const char *simulcast;		      /* a=simulcast value as written; NULL: absent */
	unsigned nrids;
	const char *rids[CW_SDP_MAX_RIDS]; /* a=rid values as written */
	unsigned ncodecs;
	struct cw_sdp_codec codecs[CW_SDP_MAX_CODECS]; /* in m= line order (preference) */
	unsigned nextmaps;
	struct cw_sdp_extmap extmaps[CW_SDP_MAX_EXTMAPS]; /* session-level ones merged in */
	unsigned nssrcs;
	struct cw_sdp_ssrc ssrcs[CW_SDP_MAX_SSRCS];
	unsigned ngroups;
	struct cw_sdp_ssrc_group groups[CW_SDP_MAX_SSRC_GROUPS];
	unsigned ncandidates;
	struct cw_sdp_candidate candidates[CW_SDP_MAX_CANDIDATES];
};

struct cw_sdp {
	const char *origin; /* o= value as written; NULL: absent */
	const char *name;   /* s= value; NULL: absent */
	struct cw_sdp_transport transport;
	bool ice_lite, extmap_allow_mixed, end_of_candidates;
	const char *msid_semantic; /* a=msid-semantic value ("WMS *"); NULL: absent */
	unsigned nbundle;	   /* the first a=group:BUNDLE; later groups are ignored */
	const char *bundle[CW_SDP_MAX_MEDIA];
	unsigned nmedia;
	struct cw_sdp_media *media; /* nmedia m-sections, in order */
	/* Internal: the string area. */
	char *strings;
	size_t strings_used, strings_size;
};

/* Our side of a peer connection, for answers and offers. */
struct cw_sdp_host {
	const char *ip; /* IPv4 or IPv6 address put in a typ host UDP candidate */
	uint16_t port;
};

struct cw_sdp_local {
	const char *ufrag, *pwd; /* ICE: 4..256 and 22..256 characters of [A-Za-z0-9+/] */
	uint8_t fingerprint[32]; /* SHA-256 of our DTLS certificate */
	const struct cw_sdp_host *hosts;
	unsigned nhosts;
	uint64_t session_id, version;	/* o= line: fixed per peer connection, +1 per description */
	const struct cw_sdp_caps *caps; /* NULL: everything we support */
};

/* A track we send: its m-section in a subscriber offer, or its SSRCs in an answer. */
struct cw_sdp_track {
	enum cw_sdp_kind kind; /* audio or video */
	const char *mid;
	uint32_t ssrc, rtx_ssrc;		  /* rtx_ssrc 0: no RTX stream */
	const char *stream_id, *track_id, *cname; /* a=msid and a=ssrc cname; required */
	/* Offers: the payload types to offer (e.g. the publisher's, so packets need no
	 * rewriting); NULL: cw_sdp_default_codecs. Answers take the offerer's instead. */
	const struct cw_sdp_codec *codecs;
	unsigned ncodecs;
	bool stopped; /* offers: the track ended; its m-section stays (port 0, inactive) */
	/* Offers: a place kept for a later track: a=inactive, still in BUNDLE, no SSRC,
	 * msid or cname (those may be 0/NULL). */
	bool inactive;
};

/*
 * Parses an offer or answer of len bytes (at most CW_SDP_MAX_TEXT, CRLF or LF line ends,
 * no NUL). Unknown lines and attributes are ignored. On success *sdpp is a new model to
 * release with cw_sdp_free. Returns 0, -EINVAL (malformed), -E2BIG (a limit) or -ENOMEM,
 * with *err saying which line and why (err may be NULL).
 */
int cw_sdp_parse(struct cw_sdp **sdpp, const char *text, size_t len, struct cw_sdp_err *err);

/* Releases a model from cw_sdp_parse, cw_sdp_answer or cw_sdp_offer. NULL is a no-op. */
void cw_sdp_free(struct cw_sdp *sdp);

/*
 * Writes sdp as text with CRLF line ends into buf (size bytes, NUL-terminated) and sets
 * *lenp to its length without the NUL. Returns 0, or -ENOSPC when size is too small:
 * then *lenp is the length needed (so size 0 with a NULL buf measures). Parsing the text
 * gives back the same model, except that c= lines are always "IN IP4 0.0.0.0", an absent
 * o= or s= is written "- 0 0 IN IP4 0.0.0.0" and "-", and unknown lines are gone.
 */
int cw_sdp_write(const struct cw_sdp *sdp, char *buf, size_t size, size_t *lenp);

/* As cw_sdp_write into a malloc'd string the caller frees. Returns 0 or -ENOMEM. */
int cw_sdp_write_alloc(const struct cw_sdp *sdp, char **textp, size_t *lenp);

/*
 * Negotiates and builds our answer to a remote offer, as an ICE-lite server: a=ice-lite,
 * local's credentials, sha-256 fingerprint, a=setup:passive, host candidates and
 * a=end-of-candidates in every accepted m-section, rtcp-mux, and the BUNDLE group of the
 * accepted mids. Each m-section keeps the offerer's payload type numbers, takes the
 * codecs, feedback and extensions that are in both the offer and local->caps, and
 * mirrors the offered direction. An m-section is rejected (port 0) when it is not
 * audio/video over DTLS-SRTP, lacks rtcp-mux, is outside the offer's BUNDLE group (the
 * first one only when there is no group), or has no codec we support.
 * tracks are what we send: each names an offered m-section (by mid) that receives.
 * On success *answerp is the answer model, which is also the negotiation result.
 * Returns 0, -ENOTSUP (no m-section has a codec we support), -EINVAL (bad local or
 * tracks) or -ENOMEM, with *err saying why (err may be NULL).
 */
int cw_sdp_answer(struct cw_sdp **answerp, const struct cw_sdp *offer,
		  const struct cw_sdp_local *local, const struct cw_sdp_track *tracks,
		  unsigned ntracks, struct cw_sdp_err *err);

/*
 * Builds the server's offer to a subscriber: one sendonly m-section per track, in order
 * (mids must be unique; a stopped track keeps its place with port 0), with its codecs,
 * our supported extensions, SSRC, RTX SSRC (a=ssrc-group:FID) and msid, local's ICE and
 * DTLS parameters (a=setup:actpass) and candidates, and a BUNDLE group of the live mids.
 * Returns 0, -EINVAL (bad local or tracks, with *err saying why) or -ENOMEM.
 */
int cw_sdp_offer(struct cw_sdp **offerp, const struct cw_sdp_local *local,
		 const struct cw_sdp_track *tracks, unsigned ntracks, struct cw_sdp_err *err);

/*
 * The transport parameters that apply to m-section i: each of its own fields, or the
 * session's where it has none (ufrag, pwd, options, fingerprints, setup separately).
 */
void cw_sdp_media_transport(const struct cw_sdp *sdp, unsigned i, struct cw_sdp_transport *out);

/* The index of the m-section whose mid is mid, or -ENOENT. */
int cw_sdp_find_mid(const struct cw_sdp *sdp, const char *mid);

/* The codec of payload type pt in m, or NULL. */
const struct cw_sdp_codec *cw_sdp_codec_by_pt(const struct cw_sdp_media *m, unsigned pt);

/*
 * Whether c is a primary codec we support in an m-section of that kind under codecs
 * (CW_SDP_CODEC_*): Opus/48000/2 in audio; VP8/90000 or H.264/90000 with
 * packetization-mode=1 and a profile-level-id of profile 0x42 (constrained) baseline in
 * video. RTX is not primary: it is accepted with the codec its apt= names.
 */
bool cw_sdp_codec_supported(enum cw_sdp_kind kind, const struct cw_sdp_codec *c, unsigned codecs);

/*
 * Our codecs as we offer them by default (Chromium's numbers): audio opus 111; video
 * VP8 96 + rtx 97, H.264 42e01f 102 + rtx 103. Sets *codecs and returns how many (0
 * for other kinds).
 */
unsigned cw_sdp_default_codecs(enum cw_sdp_kind kind, const struct cw_sdp_codec **codecs);

#endif
