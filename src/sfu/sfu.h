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

/* RFC 7675: a peer whose last valid check is older than this has lost consent. */
#define CW_SFU_CONSENT_TIMEOUT_MS 30000
/* A DTLS handshake still pending this long after the peer was added is abandoned. */
#define CW_SFU_HANDSHAKE_TIMEOUT_MS 30000

/*
 * What the media plane does not do yet (later work, in this order of need):
 * - No events go back to the control plane: a peer whose consent expired, whose handshake
 *   failed or timed out is only marked (it receives nothing) and counted; the control plane
 *   still has to remove it with cw_sfu_remove_peer. What a peer without consent still sends
 *   is dropped (dropped_not_ready) until then.
 * - Forwarding is "every RTP packet of a peer to every other connected peer of its room",
 *   unchanged: no SSRC or sequence rewriting, no per-track subscription, no simulcast
 *   layer selection, no audio-level or dominant-speaker detection.
 * - RTCP: only PLI and FIR are forwarded (to every other peer of the room, not only the
 *   publisher of the media SSRC, and without rate limiting). Sender and receiver reports,
 *   SDES, BYE, NACK (no retransmission cache), REMB and transport-cc feedback are consumed
 *   and dropped, so browsers fall back to their own bandwidth estimate.
 * - Rooms are found by a list walk on the command path (never per packet).
 */

struct cw_sfu;

struct cw_sfu_config {
	const char *bind_ip; /* the address the workers' sockets bind ("0.0.0.0", "127.0.0.1") */
	/* Worker i binds port_min + i; port_min 0 lets the kernel choose each port. */
	uint16_t port_min, port_max;
	int workers; /* 1..CW_SFU_WORKERS_MAX; 0: one per online core */
	/* Consent freshness timeout in ms; 0: CW_SFU_CONSENT_TIMEOUT_MS. Tests shorten it. */
	int consent_timeout_ms;
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

void cw_sfu_get_stats(const struct cw_sfu *sfu, struct cw_sfu_stats *out);

#endif
