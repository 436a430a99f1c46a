/* sfu: the media plane: worker threads, each with its own epoll loop and UDP port, that
 * answer ICE checks, run DTLS-SRTP with each peer and forward media between the peers of
 * a room. The control plane talks to the workers only through their command queues. */
#ifndef CW_SFU_H
#define CW_SFU_H

#include <stdbool.h>
#include <stdint.h>

#include "rtc/dtls.h"

#define CW_SFU_WORKERS_MAX 64
#define CW_SFU_UFRAG_MAX 32 /* ICE ufrag: 4–32 characters (RFC 8839 allows 256; we make ours) */
#define CW_SFU_PWD_MAX 64   /* ICE pwd: 22–256; ours are 32 */
#define CW_SFU_ROOM_MAX 64  /* room id: 1–64 bytes (a session id) */
#define CW_SFU_PART_MAX 32  /* participant id: 1–32 bytes */
#define CW_SFU_TRACKS_MAX 4 /* media SSRCs a publisher may send (audio, camera, screen…) */
/* Bitrate announced to video publishers with REMB when the configuration gives none. */
#define CW_SFU_REMB_BPS 2500000
/* Keyframe requests (PLI, FIR) reach a publisher's track at most this often. */
#define CW_SFU_PLI_INTERVAL_MS 500
/* Canonical RTP header extension ids, as subscribers see them (cw_sdp_offer's). */
#define CW_SFU_EXT_AUDIO_LEVEL 1

/* RFC 7675: a peer whose last valid check is older than this has lost consent. */
#define CW_SFU_CONSENT_TIMEOUT_MS 30000
/* A DTLS handshake still pending this long after the peer was added is abandoned. */
#define CW_SFU_HANDSHAKE_TIMEOUT_MS 30000

/*
 * What the media plane does not do yet (later work, in this order of need):
 * - No SSRC or sequence number rewriting, no per-track subscription (a subscriber gets
 *   every track of the other participants of its room), no simulcast layers, no RTX.
 * - Bandwidth: the REMB sent to video publishers is a fixed ceiling (remb_bps), not an
 *   estimate; subscribers' REMB and transport-cc feedback are consumed unused, and the
 *   server sends no sender or receiver reports of its own (publishers' SRs are passed on).
 * - A peer without a media map (CW_SFU_BOTH, map NULL) sends packets of no known kind:
 *   they are forwarded, but cannot be muted, cached for NACK, measured for the dominant
 *   speaker or named in REMB.
 * - Only one-byte header extensions are rewritten, and an id subscribers did not negotiate
 *   becomes 15, which hides the elements after it from them.
 * - A publisher has at most CW_SFU_TRACKS_MAX SSRCs at a time (one silent for 10 s gives
 *   its place up), two video tracks with a retransmission cache (512 packets, up to 760 KiB
 *   each) and one audio track with one (128 packets, 18 KiB); other SSRCs are forwarded
 *   without one, and NACKs for them go unanswered. RTP that a subscribe connection sends
 *   is dropped.
 * - A peer that failed or is gone stays until cw_sfu_remove_peer; what it still sends is
 *   dropped (dropped_not_ready).
 * - Rooms are found by a list walk on the command path and in the speaker scan (never per
 *   packet).
 */

struct cw_sfu;

/* What a worker tells the control plane (cw_sfu_poll_events). */
enum cw_sfu_event_kind {
	CW_SFU_EV_CONNECTED, /* the peer's DTLS handshake completed: media flows */
	CW_SFU_EV_FAILED,    /* the handshake failed or timed out: the peer gets nothing */
	CW_SFU_EV_GONE,	     /* consent expired, or the peer closed DTLS (close_notify) */
	CW_SFU_EV_SPEAKER,   /* the room's dominant speaker changed to `participant` */
};

struct cw_sfu_event {
	enum cw_sfu_event_kind kind;
	int worker;
	char ufrag[CW_SFU_UFRAG_MAX + 1]; /* the peer ("" for SPEAKER) */
	char room[CW_SFU_ROOM_MAX + 1];
	char participant[CW_SFU_PART_MAX + 1]; /* the peer's participant, or the speaker */
};

struct cw_sfu_config {
	const char *bind_ip; /* the address the workers' sockets bind ("0.0.0.0", "127.0.0.1") */
	/* Worker i binds port_min + i; port_min 0 lets the kernel choose each port. */
	uint16_t port_min, port_max;
	int workers; /* 1..CW_SFU_WORKERS_MAX; 0: one per online core */
	/* Consent freshness timeout in ms; 0: CW_SFU_CONSENT_TIMEOUT_MS. Tests shorten it. */
	int consent_timeout_ms;
	/* REMB bitrate sent to video publishers every second; 0: CW_SFU_REMB_BPS. */
	uint32_t remb_bps;
	/* Called (from a worker thread) after a worker queued events, so the control plane
	 * polls them (cw_sfu_poll_events); e.g. uv_async_send. May be NULL. */
	void (*wake)(void *arg);
	void *wake_arg;
};

/* Counters of the whole media plane, for /metrics. */
struct cw_sfu_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t stun_checks;	     /* valid checks answered with a success */
	uint64_t stun_unauthorized;  /* unknown ufrag or wrong integrity: answered 401 */
	uint64_t stun_bad;	     /* malformed, or a request ICE does not send: 400 or dropped */
	uint64_t dropped_unknown;    /* bytes that are no protocol of ours, malformed SRTP */
	uint64_t dropped_unverified; /* DTLS or RTP from an address that passed no check */
	uint64_t dropped_not_ready;  /* DTLS or SRTP from a verified address whose peer has no
				      * DTLS (ICE-only), a failed handshake, no keys yet, or
				      * lost consent */
	uint64_t dtls_connected;     /* handshakes completed, SRTP keyed */
	uint64_t dtls_failed;	     /* handshakes failed: fingerprint, alert, timeout, no SRTP */
	uint64_t srtp_auth_failed;   /* SRTP/SRTCP whose authentication failed */
	uint64_t srtp_replayed;	     /* SRTP/SRTCP replayed or older than the replay window */
	uint64_t rtp_forwarded;	     /* RTP packets sent to subscribers (one per copy) */
	uint64_t rtcp_forwarded;     /* RTCP feedback (PLI, FIR) sent on to other peers */
	uint64_t consent_expired;    /* peers that stopped sending checks (RFC 7675) */
	uint64_t dropped_muted;	     /* RTP of a muted track, or of a payload type not mapped */
	uint64_t pli_rate_limited;   /* keyframe requests not passed on (CW_SFU_PLI_INTERVAL_MS) */
	uint64_t nack_received;	     /* sequence numbers subscribers asked for again */
	uint64_t rtp_retransmitted;  /* of those, answered from the retransmission cache */
	uint64_t remb_sent;	     /* REMB packets sent to publishers */
};

/* Starts the workers; each has bound its socket when this returns. Also makes the DTLS
 * certificate every peer of this media plane sees (cw_sfu_fingerprint). 0 or a negative
 * errno (-EADDRINUSE when a port of the range is taken, -EIO when no certificate). */
int cw_sfu_start(struct cw_sfu **sfup, const struct cw_sfu_config *cfg);
/* Stops and joins the workers and frees everything, the peers' DTLS and SRTP state too.
 * NULL is ignored. */
void cw_sfu_stop(struct cw_sfu *sfu);

int cw_sfu_workers(const struct cw_sfu *sfu);
/* The UDP port worker i listens on. */
uint16_t cw_sfu_port(const struct cw_sfu *sfu, int worker);

/* Our certificate's fingerprint, the value of the SDP answer's a=fingerprint
 * ("sha-256 AB:CD:…"). Valid until cw_sfu_stop; any thread may call it. */
const char *cw_sfu_fingerprint(const struct cw_sfu *sfu);

/* How a peer takes part in its room. */
enum cw_sfu_dir {
	CW_SFU_BOTH = 0,  /* sends media to the room and receives the room's (one connection) */
	CW_SFU_PUBLISH,	  /* its media goes to the subscribers of the other participants */
	CW_SFU_SUBSCRIBE, /* receives the publishers' media of the other participants */
};

/* Payload type kinds of a publisher's media map. */
enum { CW_SFU_KIND_NONE = 0, CW_SFU_KIND_AUDIO, CW_SFU_KIND_VIDEO };

/* How a publisher's packets are rewritten for subscribers, taken from the publish
 * negotiation: the payload type numbers and header extension ids the publisher uses
 * become those of the subscribe offers (Opus 111, VP8 96, H.264 102;
 * CW_SFU_EXT_AUDIO_LEVEL). A packet whose payload type has kind CW_SFU_KIND_NONE is
 * dropped; an extension whose id maps to 0 is rewritten to id 15 (receivers stop parsing
 * there, RFC 8285). Only one-byte header extensions are rewritten. */
struct cw_sfu_media_map {
	struct {
		uint8_t to;   /* the payload type subscribers see */
		uint8_t kind; /* CW_SFU_KIND_* */
	} pt[128];
	uint8_t ext[15]; /* [id - 1] for ids 1..14 (ext[14] unused): the canonical id, or 0 */
};

/* A peer connection to add to a worker. */
struct cw_sfu_peer_params {
	const char *ufrag, *pwd; /* ours, as put in our SDP */
	/* The room whose other peers receive this peer's media and send it theirs. NULL: an
	 * ICE-only peer (checks answered, DTLS and media dropped as not ready). */
	const char *room;
	/* With a room: the a=fingerprint value of the peer's SDP, which its certificate must
	 * match, and our DTLS role: CW_DTLS_SERVER when the peer is a=setup:active (browsers
	 * answering our offer, or offering actpass), CW_DTLS_CLIENT when it is passive. */
	const char *remote_fingerprint;
	enum cw_dtls_role role;
	/* The SRTP profiles the peer may pick: CW_DTLS_PROFILE bits, 0 for all (GCM first). */
	unsigned profiles;
	/* With a room: how the peer takes part, and the participant it belongs to (a
	 * participant's publish and subscribe peers share it; NULL: the ufrag). */
	enum cw_sfu_dir dir;
	const char *participant;
	/* CW_SFU_PUBLISH: the media map (required). CW_SFU_BOTH: NULL forwards unchanged. */
	const struct cw_sfu_media_map *map;
};

/* Makes worker answer ICE checks for p->ufrag, integrity-keyed with p->pwd, and, with a room,
 * run DTLS from the address the peer's checks come from and forward SRTP within the room.
 * The DTLS endpoint is made here (the caller learns of a bad fingerprint at once); the rest
 * is queued and the worker applies it before it reads its next packets. 0, -EINVAL
 * (credentials, room, fingerprint, role or profiles out of bounds), -ENOMEM or -EIO. */
int cw_sfu_add_peer_v2(struct cw_sfu *sfu, int worker, const struct cw_sfu_peer_params *p);
/* An ICE-only peer: cw_sfu_add_peer_v2 with ufrag and pwd and no room. */
int cw_sfu_add_peer(struct cw_sfu *sfu, int worker, const char *ufrag, const char *pwd);
/* Removes the peer of ufrag (queued): it gets no more media, and its DTLS and SRTP state
 * is freed. Removing an unknown ufrag does nothing. 0, -EINVAL or -ENOMEM. */
int cw_sfu_remove_peer(struct cw_sfu *sfu, int worker, const char *ufrag);

/* A publisher renegotiated: its new media map (queued). 0, -EINVAL or -ENOMEM. */
int cw_sfu_set_map(struct cw_sfu *sfu, int worker, const char *ufrag,
		   const struct cw_sfu_media_map *map);
/* Stops (muted true) or resumes forwarding a publisher's audio (CW_SFU_KIND_AUDIO) or video
 * (CW_SFU_KIND_VIDEO) (queued). On resuming video the worker asks the publisher for a
 * keyframe. 0, -EINVAL or -ENOMEM. */
int cw_sfu_set_muted(struct cw_sfu *sfu, int worker, const char *ufrag, int kind, bool muted);

/* Takes up to max queued events of every worker, oldest first; returns how many. Any
 * thread; the events of one worker keep their order. */
size_t cw_sfu_poll_events(struct cw_sfu *sfu, struct cw_sfu_event *out, size_t max);

void cw_sfu_get_stats(const struct cw_sfu *sfu, struct cw_sfu_stats *out);

#endif
