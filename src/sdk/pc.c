/* pc: the client side of one WebRTC peer connection with the callwire SFU: its socket, ICE
 * checks as the controlling full agent, consent freshness, the DTLS client, and the API;
 * the media half (SRTP, RTCP, NACK) is pc_rtp.c. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pc_internal.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"

/* ---- small helpers ---- */

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

void cw__pc_send_to(struct cw__pc *pc, const void *buf, size_t len,
		    const struct sockaddr_storage *to)
{
	/* UDP: a full socket buffer loses the datagram, as the network could. */
	(void)sendto(pc->fd, buf, len, 0, (const struct sockaddr *)to, addr_len(to));
}

const struct sockaddr_storage *cw__pc_selected_addr(const struct cw__pc *pc)
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

bool cw__pc_media_ready(const struct cw__pc *pc)
{
	return pc->srtp && (pc->state == CW__PC_CONNECTED || pc->state == CW__PC_DISCONNECTED);
}

void cw__pc_update_rtt(struct cw__pc *pc, int64_t sample_ms)
{
	if (sample_ms < 0)
		return;
	if (sample_ms > 60000)
		sample_ms = 60000;
	pc->st.rtt_ms = pc->st.rtt_ms < 0 ? (int)sample_ms
					  : (int)((7 * (int64_t)pc->st.rtt_ms + sample_ms) / 8);
}

uint64_t cw__pc_ntp_now(const struct cw__pc *pc, int64_t now_ms)
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
		cw__pc_send_to(pc, buf, len, to);
}

static void flush_dtls(struct cw__pc *pc)
{
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	while ((n = cw_dtls_output(pc->dtls, buf, sizeof(buf))) != 0) {
		if (n > 0 && pc->selected >= 0 && pc->state != CW__PC_FAILED)
			cw__pc_send_to(pc, buf, (size_t)n, cw__pc_selected_addr(pc));
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
			cw__pc_send_to(pc, out, len, from);
		return;
	}
	if (cw_stun_build_binding_success(out, sizeof(out), &len, m, from, pc->local_pwd,
					  strlen(pc->local_pwd)) == 0)
		cw__pc_send_to(pc, out, len, from);
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
			    cw_stun_addr_equal(from, &pc->par.candidates[i])) {
				/* Karn: a retransmitted check's answer times nothing. */
				if (c->sent == 1)
					cw__pc_update_rtt(pc, now_ms - c->first_ms);
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
		    pc->selected >= 0 && cw_stun_addr_equal(from, cw__pc_selected_addr(pc))) {
			cw__pc_update_rtt(pc, now_ms - c->first_ms);
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
		send_check(pc, c->tid, cw__pc_selected_addr(pc));
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
	if (pc->state != CW__PC_DTLS && !cw__pc_media_ready(pc)) {
		pc->st.dropped++;
		return;
	}
	cw_dtls_input(pc->dtls, buf, len, now_ms);
	/* Send first: after a failure the queue may hold the fatal alert. */
	flush_dtls(pc);
	dtls_settle(pc, now_ms);
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
	if (pc->selected < 0 || !cw_stun_addr_equal(from, cw__pc_selected_addr(pc))) {
		pc->st.dropped++;
		return;
	}
	if (kind == CW_RTP_DEMUX_DTLS) {
		dtls_in(pc, buf, len, now_ms);
	} else if ((kind == CW_RTP_DEMUX_RTP || kind == CW_RTP_DEMUX_RTCP) &&
		   cw__pc_media_ready(pc)) {
		if (kind == CW_RTP_DEMUX_RTP)
			cw__pc_rtp_in(pc, buf, len, now_ms);
		else
			cw__pc_rtcp_in(pc, buf, len, now_ms);
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
	return cw__pc_media_timer(pc, now_ms, next);
}

void cw__pc_get_stats(const struct cw__pc *pc, struct cw__pc_stats *st)
{
	*st = pc->st;
}
