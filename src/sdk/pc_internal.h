/* pc_internal: what the two halves of a client peer connection share: pc.c (the socket,
 * ICE, consent, DTLS, the API) and pc_rtp.c (media, RTCP, NACK). */
#ifndef CW_SDK_PC_INTERNAL_H
#define CW_SDK_PC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "callwire/callwire.h"
#include "media.h"
#include "rtc/rtcp.h"
#include "rtc/stun.h"
#include "sdk.h"

/*
 * Everything is bounded: PC_SEND_MAX sending and PC_RECV_MAX receiving SSRCs, a
 * retransmission cache of PC_CACHE_SLOTS packets (PC_CACHE_SLOTS_AUDIO for a clock of
 * 48 kHz or less; at most PC_CACHE_MS old) per sending SSRC, PC_MISSING_MAX sequence numbers
 * waiting for a retransmission per receiving SSRC, and datagrams of PC_DGRAM_MAX bytes. A datagram
 * that is none of the protocols, fails its checks or comes from an address other than the selected
 * pair is counted and dropped.
 *
 * Callbacks run from cw__pc_readable and cw__pc_timer; they may send (cw__pc_send_rtp,
 * cw__pc_request_keyframe) but must not free the pc. After cw__pc_readable the caller
 * asks cw__pc_timer again: a packet may have made something due sooner (a NACK repeat).
 */

#define PC_DGRAM_MAX 2048	/* what one read takes */
#define PC_READ_BURST 1024	/* datagrams one cw__pc_readable handles at most */
#define PC_SEND_MAX 8		/* SSRCs we send */
#define PC_RECV_MAX 32		/* SSRCs we receive */
#define PC_CACHE_SLOTS 256	/* retransmission cache per sending video SSRC: [seq % slots] */
#define PC_CACHE_SLOTS_AUDIO 64 /* and audio's: 50 packets a second outlast PC_CACHE_MS */
#define PC_CACHE_MS 500		/* older packets are not sent again */
#define PC_SLOT_BYTES 1500	/* protected packets longer than this are not cached */
#define PC_MISSING_MAX 128	/* sequence numbers awaiting retransmission per SSRC */
#define PC_GAP_MAX 1000		/* a jump further than this is a restart, not a loss */
#define PC_NACK_TRIES 4		/* NACKs per missing packet before it counts as lost */
#define PC_NACK_MIN_MS 20	/* NACK repeats wait max(rtt, this) */
#define PC_NACK_NORTT_MS 50	/* ... or this while the RTT is unknown */
#define PC_NACK_ANSWER_MAX 64	/* retransmissions for one incoming NACK */
#define PC_RTO_MIN_MS 50	/* ICE check retransmissions: 50, 100, 200, 400, 500, 500… */
#define PC_RTO_MAX_MS 500
#define PC_CONSENT_MIN_MS 4000 /* consent checks every 4–6 s (RFC 7675 §5.1) */
#define PC_CONSENT_SPAN_MS 2000
#define PC_CONSENT_RETRY_MS 1000 /* while the last one is unanswered */
#define PC_CONSENT_TIDS 8	 /* consent transactions whose answers still count */
#define PC_RTCP_MS 1000		 /* report interval */
#define PC_RTCP_MAX 1200	 /* a compound RTCP packet before SRTCP */
#define PC_PRIORITY (110u << 24 | 65535u << 8 | 255u) /* peer-reflexive, component 1 */
#define PC_NEVER INT64_MAX

/* One check to a candidate, retransmitted until answered. */
struct pc_check {
	uint8_t tid[CW_STUN_TID_LEN];
	int64_t first_ms, next_ms; /* first_ms 0: not sent yet (or, for consent, free) */
	int rto;
	unsigned sent;
};

struct pc_slot {
	int64_t ms;
	uint16_t seq;
	uint16_t len; /* 0: empty */
	uint8_t data[PC_SLOT_BYTES];
};

struct pc_send {
	uint32_t ssrc, clock_rate; /* clock_rate 0: unused */
	uint32_t packets, octets;  /* for the SR: payload octets */
	uint32_t last_ts;
	int64_t last_ms;
	struct pc_slot *cache; /* `slots` protected packets */
	unsigned slots;
};

struct pc_missing {
	uint16_t seq;
	uint8_t tries;
	int64_t next_ms;
};

struct pc_recv {
	uint32_t ssrc, clock_rate; /* clock_rate 0: unused */
	bool nack, started;
	uint16_t highest;
	struct cw_rtcp_rx_stats rx;
	struct pc_missing miss[PC_MISSING_MAX]; /* ascending (wrap-aware) */
	unsigned nmiss;
};

struct cw__pc {
	struct cw__pc_params par; /* strings below are our copies */
	char *local_ufrag, *local_pwd, *remote_ufrag, *remote_pwd, username[CW_STUN_USERNAME_MAX];
	int fd, family;
	enum cw__pc_state state;
	int64_t started_ms;
	uint64_t tie_breaker;

	struct pc_check checks[CW__PC_CANDIDATES_MAX];
	int selected; /* candidate index, -1 before a check succeeded */

	struct pc_check consent[PC_CONSENT_TIDS]; /* ring: first_ms 0 is free */
	unsigned consent_pos;
	int64_t consent_next_ms, consent_ok_ms;

	struct cw_dtls *dtls;
	struct cw_srtp *srtp;

	uint32_t rtcp_ssrc; /* the sender of our RTCP when we send no media */
	char cname[17];
	int64_t rtcp_next_ms;
	int64_t ntp_offset_us; /* unix time minus the caller's clock, for NTP timestamps */

	struct pc_send send[PC_SEND_MAX];
	struct pc_recv recv[PC_RECV_MAX];

	unsigned drop_per_mille;
	uint32_t drop_state;
	struct cw__pc_stats st;
};

/* pc.c */
void cw__pc_send_to(struct cw__pc *pc, const void *buf, size_t len,
		    const struct sockaddr_storage *to);
const struct sockaddr_storage *cw__pc_selected_addr(const struct cw__pc *pc);
/* SRTP keys are in place and the pair has consent (or lost it lately). */
bool cw__pc_media_ready(const struct cw__pc *pc);
/* A round-trip sample, smoothed by 1/8. */
void cw__pc_update_rtt(struct cw__pc *pc, int64_t sample_ms);
uint64_t cw__pc_ntp_now(const struct cw__pc *pc, int64_t now_ms);

/* pc_rtp.c */
/* One SRTP or SRTCP datagram from the selected pair (buf is decrypted in place). */
void cw__pc_rtp_in(struct cw__pc *pc, uint8_t *buf, size_t len, int64_t now_ms);
void cw__pc_rtcp_in(struct cw__pc *pc, uint8_t *buf, size_t len, int64_t now_ms);
/* Reports and NACK repeats due at now_ms; the earlier of next and what comes next. */
int64_t cw__pc_media_timer(struct cw__pc *pc, int64_t now_ms, int64_t next);

#endif
