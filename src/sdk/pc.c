/* pc: the client side of one WebRTC peer connection with the callwire SFU: ICE checks as the
 * controlling full agent, consent freshness, the DTLS client, SRTP, RTCP reports and NACK. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "callwire/callwire.h"
#include "media.h"
#include "sdk.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"

/*
 * Everything is bounded: PC_SEND_MAX sending and PC_RECV_MAX receiving SSRCs, a
 * retransmission cache of PC_CACHE_SLOTS packets (at most PC_CACHE_MS old) per sending
 * SSRC, PC_MISSING_MAX sequence numbers waiting for a retransmission per receiving SSRC,
 * and datagrams of PC_DGRAM_MAX bytes. A datagram that is none of the protocols, fails its
 * checks or comes from an address other than the selected pair is counted and dropped.
 *
 * Callbacks run from cw__pc_readable and cw__pc_timer; they may send (cw__pc_send_rtp,
 * cw__pc_request_keyframe) but must not free the pc. After cw__pc_readable the caller
 * asks cw__pc_timer again: a packet may have made something due sooner (a NACK repeat).
 */

#define PC_DGRAM_MAX 2048     /* what one read takes */
#define PC_READ_BURST 1024    /* datagrams one cw__pc_readable handles at most */
#define PC_SEND_MAX 8	      /* SSRCs we send */
#define PC_RECV_MAX 32	      /* SSRCs we receive */
#define PC_CACHE_SLOTS 256    /* retransmission cache per sending SSRC: [seq % slots] */
#define PC_CACHE_MS 500	      /* older packets are not sent again */
#define PC_SLOT_BYTES 1500    /* protected packets longer than this are not cached */
#define PC_MISSING_MAX 128    /* sequence numbers awaiting retransmission per SSRC */
#define PC_GAP_MAX 1000	      /* a jump further than this is a restart, not a loss */
#define PC_NACK_TRIES 4	      /* NACKs per missing packet before it counts as lost */
#define PC_NACK_MIN_MS 20     /* NACK repeats wait max(rtt, this) */
#define PC_NACK_NORTT_MS 50   /* ... or this while the RTT is unknown */
#define PC_NACK_ANSWER_MAX 64 /* retransmissions for one incoming NACK */
#define PC_RTO_MIN_MS 50      /* ICE check retransmissions: 50, 100, 200, 400, 500, 500… */
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
	struct pc_slot *cache; /* PC_CACHE_SLOTS, protected packets */
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

/* ---- small helpers ---- */

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void send_to(struct cw__pc *pc, const void *buf, size_t len,
		    const struct sockaddr_storage *to)
{
	/* UDP: a full socket buffer loses the datagram, as the network could. */
	(void)sendto(pc->fd, buf, len, 0, (const struct sockaddr *)to, addr_len(to));
}

static const struct sockaddr_storage *selected_addr(const struct cw__pc *pc)
{
	return &pc->par.candidates[pc->selected];
}

static void set_state(struct cw__pc *pc, enum cw__pc_state state)
{
	if (pc->state == state)
		return;
	pc->state = state;
	if (pc->par.cb.state)
		pc->par.cb.state(pc, state, pc->par.arg);
}

static bool media_ready(const struct cw__pc *pc)
{
	return pc->srtp && (pc->state == CW__PC_CONNECTED || pc->state == CW__PC_DISCONNECTED);
}

static void update_rtt(struct cw__pc *pc, int64_t sample_ms)
{
	if (sample_ms < 0)
		return;
	if (sample_ms > 60000)
		sample_ms = 60000;
	pc->st.rtt_ms = pc->st.rtt_ms < 0 ? (int)sample_ms
					  : (int)((7 * (int64_t)pc->st.rtt_ms + sample_ms) / 8);
}

static uint64_t ntp_now(const struct cw__pc *pc, int64_t now_ms)
{
	int64_t us = pc->ntp_offset_us + now_ms * 1000;

	return cw_rtcp_ntp_from_unix_us(us < 0 ? 0 : us);
}

/* ---- ICE ---- */

static void send_check(struct cw__pc *pc, const uint8_t tid[CW_STUN_TID_LEN],
		       const struct sockaddr_storage *to)
{
	struct cw_stun_check chk = {.username = pc->username,
				    .priority = PC_PRIORITY,
				    .role = CW_STUN_ROLE_CONTROLLING,
				    .tie_breaker = pc->tie_breaker,
				    .use_candidate = true};
	uint8_t buf[CW_STUN_USERNAME_MAX + 160];
	size_t len;

	if (cw_stun_build_binding_request(buf, sizeof(buf), &len, tid, &chk, pc->remote_pwd,
					  strlen(pc->remote_pwd)) == 0)
		send_to(pc, buf, len, to);
}

static void flush_dtls(struct cw__pc *pc)
{
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	while ((n = cw_dtls_output(pc->dtls, buf, sizeof(buf))) != 0) {
		if (n > 0 && pc->selected >= 0 && pc->state != CW__PC_FAILED)
			send_to(pc, buf, (size_t)n, selected_addr(pc));
	}
}

static void fail(struct cw__pc *pc)
{
	set_state(pc, CW__PC_FAILED);
}

/* A check to candidate i succeeded: the pair is ours, DTLS starts. */
static void select_pair(struct cw__pc *pc, int i, int64_t now_ms)
{
	pc->selected = i;
	pc->consent_ok_ms = now_ms;
	pc->consent_next_ms =
		now_ms + PC_CONSENT_MIN_MS + (int64_t)(cw__random_u32() % (PC_CONSENT_SPAN_MS + 1));
	set_state(pc, CW__PC_DTLS);
	/* The ClientHello has waited in the endpoint's queue since cw__pc_new. */
	flush_dtls(pc);
}

static void answer_request(struct cw__pc *pc, const struct cw_stun_msg *m,
			   const struct sockaddr_storage *from)
{
	size_t ulen = strlen(pc->local_ufrag), len;
	uint8_t out[128];

	/* The server's checks carry "<our ufrag>:<its ufrag>", keyed with our password. */
	if (!m->username || m->username_len <= ulen || m->username[ulen] != ':' ||
	    memcmp(m->username, pc->local_ufrag, ulen) != 0 ||
	    cw_stun_check_integrity(m, pc->local_pwd, strlen(pc->local_pwd)) != 0) {
		pc->st.dropped++;
		if (cw_stun_build_binding_error(out, sizeof(out), &len, m,
						CW_STUN_CODE_UNAUTHORIZED, NULL, 0) == 0)
			send_to(pc, out, len, from);
		return;
	}
	if (cw_stun_build_binding_success(out, sizeof(out), &len, m, from, pc->local_pwd,
					  strlen(pc->local_pwd)) == 0)
		send_to(pc, out, len, from);
}

static void stun_input(struct cw__pc *pc, const uint8_t *buf, size_t len,
		       const struct sockaddr_storage *from, int64_t now_ms)
{
	struct cw_stun_msg m;
	int rc = cw_stun_parse(&m, buf, len);

	if (rc != 0 || m.method != CW_STUN_BINDING) {
		pc->st.dropped++;
		return;
	}
	if (m.cls == CW_STUN_REQUEST) {
		answer_request(pc, &m, from);
		return;
	}
	/* Responses: to a check of ours, from where it went, keyed with the server's pwd. An
	 * error (401 while the server does not know us yet) is left to the retransmissions. */
	if (m.cls != CW_STUN_SUCCESS ||
	    cw_stun_check_integrity(&m, pc->remote_pwd, strlen(pc->remote_pwd)) != 0) {
		pc->st.dropped++;
		return;
	}
	if (pc->state == CW__PC_CHECKING) {
		for (unsigned i = 0; i < pc->par.ncandidates; i++) {
			struct pc_check *c = &pc->checks[i];
			if (memcmp(c->tid, m.tid, CW_STUN_TID_LEN) == 0 &&
			    same_addr(from, &pc->par.candidates[i])) {
				/* Karn: a retransmitted check's answer times nothing. */
				if (c->sent == 1)
					update_rtt(pc, now_ms - c->first_ms);
				select_pair(pc, (int)i, now_ms);
				return;
			}
		}
		pc->st.dropped++;
		return;
	}
	for (unsigned i = 0; i < PC_CONSENT_TIDS; i++) {
		struct pc_check *c = &pc->consent[i];
		if (c->first_ms && memcmp(c->tid, m.tid, CW_STUN_TID_LEN) == 0 &&
		    pc->selected >= 0 && same_addr(from, selected_addr(pc))) {
			update_rtt(pc, now_ms - c->first_ms);
			c->first_ms = 0;
			pc->consent_ok_ms = now_ms;
			if (pc->state == CW__PC_DISCONNECTED)
				set_state(pc, CW__PC_CONNECTED);
			return;
		}
	}
	/* The answer to a check of the CHECKING phase that came second, or a stale one. */
	pc->st.dropped++;
}

/* Retransmits due checks; FAILED when none was answered in time. */
static int64_t checks_timer(struct cw__pc *pc, int64_t now_ms)
{
	int64_t next = pc->started_ms + CW__PC_CHECK_TIMEOUT_MS;

	if (now_ms >= next) {
		fail(pc);
		return PC_NEVER;
	}
	for (unsigned i = 0; i < pc->par.ncandidates; i++) {
		struct pc_check *c = &pc->checks[i];
		if (c->next_ms <= now_ms) {
			send_check(pc, c->tid, &pc->par.candidates[i]);
			if (!c->sent++)
				c->first_ms = now_ms;
			c->rto = c->rto ? (c->rto * 2 > PC_RTO_MAX_MS ? PC_RTO_MAX_MS : c->rto * 2)
					: PC_RTO_MIN_MS;
			c->next_ms = now_ms + c->rto;
		}
		if (c->next_ms < next)
			next = c->next_ms;
	}
	return next;
}

/* RFC 7675 on the selected pair: checks every 4–6 s (each a new transaction, sooner while
 * unanswered), DISCONNECTED after CW__PC_DISCONNECT_MS of silence, FAILED after
 * CW__PC_CONSENT_MS. */
static int64_t consent_timer(struct cw__pc *pc, int64_t now_ms)
{
	int64_t silent = now_ms - pc->consent_ok_ms, next;

	if (silent >= CW__PC_CONSENT_MS) {
		fail(pc);
		return PC_NEVER;
	}
	if (silent >= CW__PC_DISCONNECT_MS && pc->state == CW__PC_CONNECTED)
		set_state(pc, CW__PC_DISCONNECTED);
	if (now_ms >= pc->consent_next_ms) {
		struct pc_check *c = &pc->consent[pc->consent_pos++ % PC_CONSENT_TIDS];
		cw__random_bytes(c->tid, CW_STUN_TID_LEN);
		c->first_ms = now_ms;
		send_check(pc, c->tid, selected_addr(pc));
		pc->consent_next_ms =
			now_ms +
			(silent > PC_CONSENT_MIN_MS
				 ? PC_CONSENT_RETRY_MS
				 : PC_CONSENT_MIN_MS +
					   (int64_t)(cw__random_u32() % (PC_CONSENT_SPAN_MS + 1)));
	}
	next = pc->consent_next_ms;
	if (pc->state == CW__PC_CONNECTED && pc->consent_ok_ms + CW__PC_DISCONNECT_MS < next)
		next = pc->consent_ok_ms + CW__PC_DISCONNECT_MS;
	if (pc->consent_ok_ms + CW__PC_CONSENT_MS < next)
		next = pc->consent_ok_ms + CW__PC_CONSENT_MS;
	return next;
}

/* ---- DTLS ---- */

/* Acts on the endpoint's state after input or a timeout. */
static void dtls_settle(struct cw__pc *pc, int64_t now_ms)
{
	struct cw_srtp_keys keys;
	enum cw_dtls_state st = cw_dtls_state(pc->dtls);
	int err;

	if (st == CW_DTLS_FAILED) {
		fail(pc);
		return;
	}
	if (st == CW_DTLS_CLOSED) {
		/* The server sent close_notify: the association and its media are over. */
		set_state(pc, CW__PC_CLOSED);
		return;
	}
	if (st != CW_DTLS_CONNECTED || pc->srtp)
		return;
	/* One session both ways: the exported "local" keys are the client's write keys. */
	err = cw_dtls_srtp_keys(pc->dtls, &keys);
	if (!err)
		err = cw_srtp_new(&pc->srtp, &keys);
	memset(&keys, 0, sizeof(keys));
	if (err) {
		fail(pc);
		return;
	}
	pc->rtcp_next_ms = now_ms + PC_RTCP_MS / 2;
	set_state(pc, CW__PC_CONNECTED);
}

static void dtls_in(struct cw__pc *pc, const uint8_t *buf, size_t len, int64_t now_ms)
{
	if (pc->state != CW__PC_DTLS && !media_ready(pc)) {
		pc->st.dropped++;
		return;
	}
	cw_dtls_input(pc->dtls, buf, len, now_ms);
	/* Send first: after a failure the queue may hold the fatal alert. */
	flush_dtls(pc);
	dtls_settle(pc, now_ms);
}

/* ---- RTCP out ---- */

static struct pc_send *find_send(struct cw__pc *pc, uint32_t ssrc)
{
	for (int i = 0; i < PC_SEND_MAX; i++) {
		if (pc->send[i].clock_rate && pc->send[i].ssrc == ssrc)
			return &pc->send[i];
	}
	return NULL;
}

static struct pc_recv *find_recv(struct cw__pc *pc, uint32_t ssrc)
{
	for (int i = 0; i < PC_RECV_MAX; i++) {
		if (pc->recv[i].clock_rate && pc->recv[i].ssrc == ssrc)
			return &pc->recv[i];
	}
	return NULL;
}

/* The SSRC our RTCP comes from: the first we send, or our own when we send nothing. */
static uint32_t sender_ssrc(const struct cw__pc *pc)
{
	for (int i = 0; i < PC_SEND_MAX; i++) {
		if (pc->send[i].clock_rate)
			return pc->send[i].ssrc;
	}
	return pc->rtcp_ssrc;
}

static void send_rtcp(struct cw__pc *pc, uint8_t *buf, size_t len)
{
	int n = cw_srtp_protect_rtcp(pc->srtp, buf, len, PC_RTCP_MAX + CW_SRTP_TRAILER_MAX);

	if (n > 0)
		send_to(pc, buf, (size_t)n, selected_addr(pc));
}

/* An empty RR and our SDES: what must lead a compound of feedback (RFC 4585 §3.1 without
 * reduced size). Returns the length written. */
static size_t compound_head(struct cw__pc *pc, uint8_t *buf, size_t cap)
{
	size_t a = 0, b = 0;
	uint32_t ssrc = sender_ssrc(pc);

	if (cw_rtcp_build_rr(buf, cap, &a, ssrc, NULL, 0) != 0 ||
	    cw_rtcp_build_sdes_cname(buf + a, cap - a, &b, ssrc, pc->cname, strlen(pc->cname)) != 0)
		return 0;
	return a + b;
}

/* The once-a-second compound: an SR per sending SSRC (the first carries the report blocks of
 * what we receive), or an RR when we send nothing, then our SDES. */
static void send_reports(struct cw__pc *pc, int64_t now_ms)
{
	struct cw_rtcp_report_block blocks[CW_RTCP_REPORT_BLOCKS_MAX];
	uint8_t buf[PC_RTCP_MAX + CW_SRTP_TRAILER_MAX];
	uint64_t ntp = ntp_now(pc, now_ms);
	size_t nb = 0, len = 0, n;
	bool blocks_sent = false;

	for (int i = 0; i < PC_RECV_MAX && nb < CW_RTCP_REPORT_BLOCKS_MAX; i++) {
		if (pc->recv[i].clock_rate && pc->recv[i].started)
			cw_rtcp_rx_report(&pc->recv[i].rx, now_ms * 1000, &blocks[nb++]);
	}
	for (int i = 0; i < PC_SEND_MAX; i++) {
		struct pc_send *s = &pc->send[i];
		struct cw_rtcp_sender_info si = {
			.ntp = ntp, .packets = s->packets, .octets = s->octets};
		if (!s->clock_rate || !s->packets)
			continue;
		/* The RTP time of now, extrapolated from the last packet on its clock. */
		si.rtp_ts = s->last_ts + (uint32_t)((now_ms - s->last_ms) * s->clock_rate / 1000);
		if (cw_rtcp_build_sr(buf + len, PC_RTCP_MAX - len, &n, s->ssrc, &si,
				     blocks_sent ? NULL : blocks, blocks_sent ? 0 : nb) != 0)
			break;
		len += n;
		blocks_sent = true;
	}
	if (!blocks_sent) {
		if (cw_rtcp_build_rr(buf, PC_RTCP_MAX, &len, sender_ssrc(pc), blocks, nb) != 0)
			return;
	}
	if (cw_rtcp_build_sdes_cname(buf + len, PC_RTCP_MAX - len, &n, sender_ssrc(pc), pc->cname,
				     strlen(pc->cname)) == 0)
		len += n;
	send_rtcp(pc, buf, len);
}

/* ---- NACK of what we receive ---- */

static int64_t nack_interval(const struct cw__pc *pc)
{
	if (pc->st.rtt_ms < 0)
		return PC_NACK_NORTT_MS;
	return pc->st.rtt_ms > PC_NACK_MIN_MS ? pc->st.rtt_ms : PC_NACK_MIN_MS;
}

static void miss_remove(struct pc_recv *r, unsigned i)
{
	memmove(&r->miss[i], &r->miss[i + 1], (r->nmiss - i - 1) * sizeof(r->miss[0]));
	r->nmiss--;
}

/* Sends one NACK with every missing number of r that is due, and gives up on those asked
 * PC_NACK_TRIES times already. Returns when the next one is due. */
static int64_t nack_run(struct cw__pc *pc, struct pc_recv *r, int64_t now_ms)
{
	uint8_t buf[PC_RTCP_MAX + CW_SRTP_TRAILER_MAX];
	uint16_t seqs[PC_MISSING_MAX];
	int64_t next = PC_NEVER;
	size_t n = 0, head, len;

	for (unsigned i = 0; i < r->nmiss;) {
		struct pc_missing *m = &r->miss[i];
		if (m->next_ms > now_ms) {
			next = m->next_ms < next ? m->next_ms : next;
			i++;
			continue;
		}
		if (m->tries >= PC_NACK_TRIES) {
			pc->st.lost++;
			miss_remove(r, i);
			continue;
		}
		if (m->tries++ == 0)
			pc->st.nack_seqs++;
		m->next_ms = now_ms + nack_interval(pc);
		next = m->next_ms < next ? m->next_ms : next;
		seqs[n++] = m->seq;
		i++;
	}
	if (n == 0 || !media_ready(pc))
		return next;
	head = compound_head(pc, buf, PC_RTCP_MAX);
	if (head && cw_rtcp_build_nack(buf + head, PC_RTCP_MAX - head, &len, sender_ssrc(pc),
				       r->ssrc, seqs, n) == 0) {
		send_rtcp(pc, buf, head + len);
		pc->st.nack_sent++;
	}
	return next;
}

/* Notes seq of r: a gap makes missing numbers (asked for at once), an old one may fill a
 * hole. */
static void track_seq(struct cw__pc *pc, struct pc_recv *r, uint16_t seq, int64_t now_ms)
{
	int32_t d;

	if (!r->started) {
		r->started = true;
		r->highest = seq;
		return;
	}
	d = cw_rtp_seq_diff(seq, r->highest);
	if (d > PC_GAP_MAX || d < -PC_GAP_MAX) {
		/* The sender restarted its numbering: what was missing will not come. */
		pc->st.lost += r->nmiss;
		r->nmiss = 0;
		r->highest = seq;
		return;
	}
	if (d <= 0) {
		for (unsigned i = 0; i < r->nmiss; i++) {
			if (r->miss[i].seq == seq) {
				if (r->miss[i].tries)
					pc->st.recovered++;
				miss_remove(r, i);
				break;
			}
		}
		return;
	}
	for (uint16_t s = (uint16_t)(r->highest + 1); s != seq && r->nack; s++) {
		if (r->nmiss == PC_MISSING_MAX) {
			pc->st.lost++;
			miss_remove(r, 0);
		}
		r->miss[r->nmiss++] = (struct pc_missing){.seq = s, .next_ms = now_ms};
	}
	r->highest = seq;
	if (r->nmiss)
		nack_run(pc, r, now_ms);
}

/* ---- media in ---- */

static void rtp_in(struct cw__pc *pc, uint8_t *buf, size_t len, int64_t now_ms)
{
	struct cw_rtp rtp;
	struct pc_recv *r;
	int n;

	if (pc->drop_per_mille && xorshift32(&pc->drop_state) % 1000 < pc->drop_per_mille) {
		pc->st.dropped_by_test++;
		return;
	}
	n = cw_srtp_unprotect(pc->srtp, buf, len);
	if (n < 0) {
		pc->st.srtp_errors++;
		return;
	}
	if (cw_rtp_parse(&rtp, buf, (size_t)n) != 0 || !(r = find_recv(pc, rtp.ssrc))) {
		pc->st.dropped++;
		return;
	}
	pc->st.packets_received++;
	pc->st.bytes_received += (uint64_t)n;
	cw_rtcp_rx_packet(&r->rx, rtp.seq, rtp.ts, now_ms * 1000);
	track_seq(pc, r, rtp.seq, now_ms);
	if (pc->par.cb.rtp)
		pc->par.cb.rtp(pc, buf, (size_t)n, now_ms, pc->par.arg);
}

static void report_blocks(struct cw__pc *pc, const struct cw_rtcp_report *rep, int64_t now_ms)
{
	struct cw_rtcp_report_block rb;
	int64_t rtt_us;

	for (unsigned i = 0; cw_rtcp_report_block(rep, i, &rb) == 0; i++) {
		if (find_send(pc, rb.ssrc) && cw_rtcp_rtt_us(cw_rtcp_ntp_mid(ntp_now(pc, now_ms)),
							     rb.lsr, rb.dlsr, &rtt_us) == 0)
			update_rtt(pc, rtt_us / 1000);
	}
}

struct nack_answer {
	struct cw__pc *pc;
	struct pc_send *s;
	int64_t now_ms;
	unsigned answered;
};

/* Sends the cached packet of seq again, the same bytes as the first time. */
static int answer_nack(uint16_t seq, void *arg)
{
	struct nack_answer *a = arg;
	struct pc_slot *slot = &a->s->cache[seq % PC_CACHE_SLOTS];

	if (a->answered == PC_NACK_ANSWER_MAX)
		return 1;
	if (slot->len && slot->seq == seq && a->now_ms - slot->ms <= PC_CACHE_MS) {
		send_to(a->pc, slot->data, slot->len, selected_addr(a->pc));
		a->pc->st.retransmitted++;
		a->answered++;
	}
	return 0;
}

static void feedback(struct cw__pc *pc, enum cw__pc_feedback fb, uint32_t ssrc)
{
	if (fb == CW__PC_PLI)
		pc->st.pli_received++;
	else
		pc->st.fir_received++;
	if (pc->par.cb.feedback)
		pc->par.cb.feedback(pc, fb, ssrc, pc->par.arg);
}

static void rtcp_in(struct cw__pc *pc, uint8_t *buf, size_t len, int64_t now_ms)
{
	struct cw_rtcp_report rep;
	struct cw_rtcp_fir_entry e;
	struct cw_rtcp_iter it;
	struct cw_rtcp_fir fir;
	struct cw_rtcp_fb fb;
	struct cw_rtcp pkt;
	struct pc_recv *r;
	struct pc_send *s;
	int n = cw_srtp_unprotect_rtcp(pc->srtp, buf, len);

	if (n < 0) {
		pc->st.srtp_errors++;
		return;
	}
	if (cw_rtcp_validate(buf, (size_t)n) != 0) {
		pc->st.dropped++;
		return;
	}
	cw_rtcp_iter_init(&it, buf, (size_t)n);
	while (cw_rtcp_next(&it, &pkt) == 1 && media_ready(pc)) {
		switch (cw_rtcp_kind(&pkt)) {
		case CW_RTCP_KIND_SR:
			if (cw_rtcp_sr_parse(&pkt, &rep) != 0)
				break;
			if ((r = find_recv(pc, rep.ssrc)))
				cw_rtcp_rx_sr(&r->rx, rep.si.ntp, now_ms * 1000);
			report_blocks(pc, &rep, now_ms);
			break;
		case CW_RTCP_KIND_RR:
			if (cw_rtcp_rr_parse(&pkt, &rep) == 0)
				report_blocks(pc, &rep, now_ms);
			break;
		case CW_RTCP_KIND_PLI:
			if (cw_rtcp_fb_parse(&pkt, &fb) == 0 && find_send(pc, fb.media_ssrc))
				feedback(pc, CW__PC_PLI, fb.media_ssrc);
			break;
		case CW_RTCP_KIND_FIR:
			if (cw_rtcp_fb_parse(&pkt, &fb) != 0 || cw_rtcp_fir_parse(&fb, &fir) != 0)
				break;
			for (size_t i = 0; cw_rtcp_fir_entry(&fir, i, &e) == 0; i++) {
				if (find_send(pc, e.ssrc))
					feedback(pc, CW__PC_FIR, e.ssrc);
			}
			break;
		case CW_RTCP_KIND_NACK:
			if (cw_rtcp_fb_parse(&pkt, &fb) == 0 &&
			    (s = find_send(pc, fb.media_ssrc))) {
				struct nack_answer a = {.pc = pc, .s = s, .now_ms = now_ms};
				cw_rtcp_nack_foreach(&fb, answer_nack, &a);
			}
			break;
		default: /* REMB, SDES, BYE, transport-cc: nothing we act on */
			break;
		}
	}
}

static void datagram_in(struct cw__pc *pc, uint8_t *buf, size_t len,
			const struct sockaddr_storage *from, int64_t now_ms)
{
	enum cw_rtp_demux kind = cw_rtp_demux(buf, len);

	if (kind == CW_RTP_DEMUX_STUN) {
		stun_input(pc, buf, len, from, now_ms);
		return;
	}
	/* Everything else comes only from the selected pair. */
	if (pc->selected < 0 || !same_addr(from, selected_addr(pc))) {
		pc->st.dropped++;
		return;
	}
	if (kind == CW_RTP_DEMUX_DTLS) {
		dtls_in(pc, buf, len, now_ms);
	} else if ((kind == CW_RTP_DEMUX_RTP || kind == CW_RTP_DEMUX_RTCP) && media_ready(pc)) {
		if (kind == CW_RTP_DEMUX_RTP)
			rtp_in(pc, buf, len, now_ms);
		else
			rtcp_in(pc, buf, len, now_ms);
	} else {
		pc->st.dropped++;
	}
}

/* ---- the API ---- */

static char *dup_str(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *d = s ? malloc(n + 1) : NULL;

	if (d)
		memcpy(d, s, n + 1);
	return d;
}

static int open_socket(struct cw__pc *pc)
{
	bool v6 = false;
	int zero = 0, rcvbuf = 1 << 20;

	for (unsigned i = 0; i < pc->par.ncandidates; i++) {
		int f = pc->par.candidates[i].ss_family;
		if (f != AF_INET && f != AF_INET6)
			return CW_ERR_INVALID_ARGUMENT;
		v6 |= f == AF_INET6;
	}
	/* With an IPv6 candidate among them, one dual-stack socket reaches the IPv4 ones as
	 * v4-mapped addresses. */
	if (v6) {
		for (unsigned i = 0; i < pc->par.ncandidates; i++) {
			struct sockaddr_storage *a = &pc->par.candidates[i];
			struct sockaddr_in v4;
			struct sockaddr_in6 m = {.sin6_family = AF_INET6};
			if (a->ss_family != AF_INET)
				continue;
			memcpy(&v4, a, sizeof(v4));
			m.sin6_port = v4.sin_port;
			m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&m.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
			memset(a, 0, sizeof(*a));
			memcpy(a, &m, sizeof(m));
		}
	}
	pc->family = v6 ? AF_INET6 : AF_INET;
	pc->fd = socket(pc->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pc->fd < 0)
		return CW_ERR_CONNECTION;
	if (v6)
		(void)setsockopt(pc->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	/* Room for a burst of video (a keyframe) between two reads; best effort. */
	(void)setsockopt(pc->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

int cw__pc_new(struct cw__pc **pcp, const struct cw__pc_params *params, int64_t now_ms)
{
	static const char alnum[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct cw__pc *pc = NULL;
	struct timespec ts;
	uint8_t rnd[16];
	int err, n;

	if (!pcp || !params || !params->ncandidates ||
	    params->ncandidates > CW__PC_CANDIDATES_MAX || !params->local_ufrag ||
	    !params->local_pwd || !params->remote_ufrag || !params->remote_pwd ||
	    !params->remote_fingerprint || !params->dtls) {
		err = CW_ERR_INVALID_ARGUMENT;
		goto out;
	}
	n = snprintf(NULL, 0, "%s:%s", params->remote_ufrag, params->local_ufrag);
	if (n < 0 || n >= CW_STUN_USERNAME_MAX) {
		err = CW_ERR_INVALID_ARGUMENT;
		goto out;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		err = CW_ERR_NO_MEMORY;
		goto out;
	}
	pc->fd = -1;
	pc->selected = -1;
	pc->par = *params;
	pc->local_ufrag = dup_str(params->local_ufrag);
	pc->local_pwd = dup_str(params->local_pwd);
	pc->remote_ufrag = dup_str(params->remote_ufrag);
	pc->remote_pwd = dup_str(params->remote_pwd);
	/* Not kept: the fingerprint goes to the DTLS endpoint, the context is referenced by it. */
	pc->par.remote_fingerprint = NULL;
	pc->par.dtls = NULL;
	if (!pc->local_ufrag || !pc->local_pwd || !pc->remote_ufrag || !pc->remote_pwd) {
		err = CW_ERR_NO_MEMORY;
		goto out;
	}
	pc->par.local_ufrag = pc->local_ufrag;
	pc->par.local_pwd = pc->local_pwd;
	pc->par.remote_ufrag = pc->remote_ufrag;
	pc->par.remote_pwd = pc->remote_pwd;
	snprintf(pc->username, sizeof(pc->username), "%s:%s", pc->remote_ufrag, pc->local_ufrag);
	err = cw_dtls_new(&pc->dtls, params->dtls, params->remote_fingerprint, now_ms);
	if (err) {
		err = err == -ENOMEM ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
		goto out;
	}
	err = open_socket(pc);
	if (err)
		goto out;
	cw__random_bytes(&pc->tie_breaker, sizeof(pc->tie_breaker));
	pc->rtcp_ssrc = cw__random_u32() | 1;
	cw__random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(pc->cname) - 1; i++)
		pc->cname[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	pc->drop_state = 1;
	pc->st.rtt_ms = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	pc->ntp_offset_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - now_ms * 1000;
	pc->started_ms = now_ms;
	for (unsigned i = 0; i < pc->par.ncandidates; i++) {
		cw__random_bytes(pc->checks[i].tid, CW_STUN_TID_LEN);
		/* In the order given, 20 ms apart (RFC 8445's Ta), the first at once. */
		pc->checks[i].next_ms = now_ms + 20 * (int64_t)i;
	}
	pc->state = CW__PC_CHECKING;
	checks_timer(pc, now_ms);
	*pcp = pc;
	pc = NULL;
out:
	cw__pc_free(pc);
	return err;
}

void cw__pc_free(struct cw__pc *pc)
{
	if (!pc)
		return;
	if (pc->dtls && pc->selected >= 0 && cw_dtls_state(pc->dtls) == CW_DTLS_CONNECTED &&
	    pc->state != CW__PC_FAILED) {
		cw_dtls_close(pc->dtls);
		flush_dtls(pc);
	}
	cw_dtls_free(pc->dtls);
	cw_srtp_free(pc->srtp);
	if (pc->fd >= 0)
		close(pc->fd);
	for (int i = 0; i < PC_SEND_MAX; i++)
		free(pc->send[i].cache);
	free(pc->local_ufrag);
	free(pc->local_pwd);
	free(pc->remote_ufrag);
	free(pc->remote_pwd);
	free(pc);
}

int cw__pc_fd(const struct cw__pc *pc)
{
	return pc->fd;
}

enum cw__pc_state cw__pc_get_state(const struct cw__pc *pc)
{
	return pc->state;
}

void cw__pc_readable(struct cw__pc *pc, int64_t now_ms)
{
	uint8_t buf[PC_DGRAM_MAX];

	for (int i = 0; i < PC_READ_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(pc->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from,
				     &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN, or an ICMP error of an earlier send */
		}
		if (n == 0 || (size_t)n > sizeof(buf)) {
			pc->st.dropped++;
			continue;
		}
		if (pc->state == CW__PC_FAILED || pc->state == CW__PC_CLOSED)
			continue; /* read and forgotten, so that poll stays quiet */
		datagram_in(pc, buf, (size_t)n, &from, now_ms);
	}
}

int64_t cw__pc_timer(struct cw__pc *pc, int64_t now_ms)
{
	int64_t next, t;

	if (pc->state == CW__PC_CHECKING)
		return checks_timer(pc, now_ms);
	if (pc->state == CW__PC_FAILED || pc->state == CW__PC_CLOSED)
		return PC_NEVER;
	next = consent_timer(pc, now_ms);
	if (pc->state == CW__PC_FAILED)
		return PC_NEVER;
	if (pc->state == CW__PC_DTLS) {
		if (cw_dtls_next_timeout(pc->dtls, now_ms) <= now_ms) {
			cw_dtls_handle_timeout(pc->dtls, now_ms);
			flush_dtls(pc);
			dtls_settle(pc, now_ms);
		}
		if (pc->state == CW__PC_DTLS) {
			t = cw_dtls_next_timeout(pc->dtls, now_ms);
			return t < next ? t : next;
		}
		if (pc->state != CW__PC_CONNECTED)
			return PC_NEVER;
	}
	if (now_ms >= pc->rtcp_next_ms) {
		send_reports(pc, now_ms);
		pc->rtcp_next_ms = now_ms + PC_RTCP_MS;
	}
	next = pc->rtcp_next_ms < next ? pc->rtcp_next_ms : next;
	for (int i = 0; i < PC_RECV_MAX; i++) {
		if (pc->recv[i].clock_rate && pc->recv[i].nmiss) {
			t = nack_run(pc, &pc->recv[i], now_ms);
			next = t < next ? t : next;
		}
	}
	return next;
}

int cw__pc_add_send_ssrc(struct cw__pc *pc, uint32_t ssrc, uint32_t clock_rate)
{
	struct pc_send *s = find_send(pc, ssrc);

	if (!clock_rate) {
		/* Forgotten: its reports stop and NACKs for it go unanswered. */
		if (s) {
			free(s->cache);
			memset(s, 0, sizeof(*s));
		}
		return 0;
	}
	if (s) {
		s->clock_rate = clock_rate;
		return 0;
	}
	for (int i = 0; i < PC_SEND_MAX && !s; i++) {
		if (!pc->send[i].clock_rate)
			s = &pc->send[i];
	}
	if (!s)
		return CW_ERR_INVALID_ARGUMENT;
	s->cache = calloc(PC_CACHE_SLOTS, sizeof(*s->cache));
	if (!s->cache)
		return CW_ERR_NO_MEMORY;
	s->ssrc = ssrc;
	s->clock_rate = clock_rate;
	return 0;
}

int cw__pc_add_recv_ssrc(struct cw__pc *pc, uint32_t ssrc, uint32_t clock_rate, bool nack)
{
	struct pc_recv *r = find_recv(pc, ssrc);

	if (!clock_rate) {
		if (r) {
			pc->st.lost += r->nmiss;
			memset(r, 0, sizeof(*r));
		}
		return 0;
	}
	if (r) {
		r->clock_rate = r->rx.clock_rate = clock_rate;
		r->nack = nack;
		if (!nack)
			r->nmiss = 0;
		return 0;
	}
	for (int i = 0; i < PC_RECV_MAX && !r; i++) {
		if (!pc->recv[i].clock_rate)
			r = &pc->recv[i];
	}
	if (!r)
		return CW_ERR_INVALID_ARGUMENT;
	memset(r, 0, sizeof(*r));
	r->ssrc = ssrc;
	r->clock_rate = clock_rate;
	r->nack = nack;
	cw_rtcp_rx_init(&r->rx, ssrc, clock_rate);
	return 0;
}

int cw__pc_send_rtp(struct cw__pc *pc, uint8_t *pkt, size_t len, size_t cap, int64_t now_ms)
{
	struct pc_slot *slot;
	struct pc_send *s;
	struct cw_rtp rtp;
	int n;

	if (!media_ready(pc))
		return CW_ERR_INVALID_STATE;
	if (cw_rtp_parse(&rtp, pkt, len) != 0 || !(s = find_send(pc, rtp.ssrc)))
		return CW_ERR_INVALID_ARGUMENT;
	s->packets++;
	s->octets += (uint32_t)rtp.payload_len;
	s->last_ts = rtp.ts;
	s->last_ms = now_ms;
	n = cw_srtp_protect(pc->srtp, pkt, len, cap);
	if (n < 0)
		return n == -ENOMEM ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
	pc->st.packets_sent++;
	pc->st.bytes_sent += len;
	/* The protected bytes are kept and sent again verbatim for a NACK: what protecting
	 * the same packet under the same index again would make, without the work. */
	slot = &s->cache[rtp.seq % PC_CACHE_SLOTS];
	slot->len = 0;
	if ((size_t)n <= PC_SLOT_BYTES) {
		memcpy(slot->data, pkt, (size_t)n);
		slot->len = (uint16_t)n;
		slot->seq = rtp.seq;
		slot->ms = now_ms;
	}
	send_to(pc, pkt, (size_t)n, selected_addr(pc));
	return 0;
}

int cw__pc_request_keyframe(struct cw__pc *pc, uint32_t ssrc)
{
	uint8_t buf[PC_RTCP_MAX + CW_SRTP_TRAILER_MAX];
	size_t head, len;

	if (!media_ready(pc))
		return CW_ERR_INVALID_STATE;
	head = compound_head(pc, buf, PC_RTCP_MAX);
	if (!head ||
	    cw_rtcp_build_pli(buf + head, PC_RTCP_MAX - head, &len, sender_ssrc(pc), ssrc) != 0)
		return CW_ERR_INVALID_ARGUMENT;
	send_rtcp(pc, buf, head + len);
	pc->st.pli_sent++;
	return 0;
}

void cw__pc_get_stats(const struct cw__pc *pc, struct cw__pc_stats *st)
{
	*st = pc->st;
}

void cw__pc_set_rx_drop(struct cw__pc *pc, unsigned per_mille, uint32_t seed)
{
	pc->drop_per_mille = per_mille > 1000 ? 1000 : per_mille;
	/* xorshift's state must not be zero. */
	pc->drop_state = seed ? seed : 0x9e3779b9u;
}
