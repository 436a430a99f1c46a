/* sfu_client: in-test browsers and event waits for the media plane's tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/stun.h"
#include "sfu_client.h"

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void send_raw(struct client *c, int fd, const void *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET};

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(cw_sfu_port(c->sfu, 0));
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

uint8_t payload_byte(uint32_t ssrc, uint16_t seq, size_t i)
{
	return (uint8_t)(ssrc * 7u + seq * 13u + i);
}

static void record_rtp(struct client *c, const uint8_t *buf, size_t len)
{
	struct cw_rtp rtp;
	unsigned i;
	bool ok;

	assert_int_equal(cw_rtp_parse(&rtp, buf, len), 0);
	ok = rtp.payload_len == PAYLOAD_LEN;
	for (size_t k = 0; ok && k < PAYLOAD_LEN; k++)
		ok = buf[rtp.payload_off + k] == payload_byte(rtp.ssrc, rtp.seq, k);
	for (i = 0; i < c->n_src && c->src[i].ssrc != rtp.ssrc; i++)
		;
	if (i == c->n_src) {
		assert_true(c->n_src < SOURCES_MAX);
		c->src[c->n_src++].ssrc = rtp.ssrc;
	}
	c->src[i].packets++;
	c->src[i].bad_payload += !ok;
	c->src[i].pt = rtp.pt;
	c->rtp++;
	memcpy(c->last, buf, len);
	c->last_len = len;
}

static void record_rtcp(struct client *c, const uint8_t *buf, size_t len)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp_remb remb;
	struct cw_rtcp_fb fb;
	struct cw_rtcp pkt;

	cw_rtcp_iter_init(&it, buf, len);
	while (cw_rtcp_next(&it, &pkt) == 1) {
		switch (cw_rtcp_kind(&pkt)) {
		case CW_RTCP_KIND_PLI:
			assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), 0);
			c->pli_ssrc = fb.media_ssrc;
			c->pli++;
			break;
		case CW_RTCP_KIND_FIR:
			c->fir++;
			break;
		case CW_RTCP_KIND_SR:
			c->sr++;
			break;
		case CW_RTCP_KIND_REMB:
			assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), 0);
			assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), 0);
			c->remb_bps = remb.bitrate;
			c->remb_n = remb.n_ssrcs < 4 ? remb.n_ssrcs : 4;
			for (unsigned i = 0; i < c->remb_n; i++)
				c->remb_ssrc[i] = cw_rtcp_remb_ssrc(&remb, i);
			c->remb++;
			break;
		default:
			break;
		}
	}
}

static bool lost(const struct client *c, const uint8_t *buf, size_t len)
{
	uint16_t seq = len >= 4 ? (uint16_t)(buf[2] << 8 | buf[3]) : 0;

	for (unsigned i = 0; i < c->n_lose; i++) {
		if (c->lose[i] == seq)
			return true;
	}
	return false;
}

static void media_in(struct client *c, uint8_t *buf, size_t n)
{
	int len;

	if (!c->srtp) {
		c->srtp_errors++;
	} else if (cw_rtp_demux(buf, n) == CW_RTP_DEMUX_RTCP) {
		len = cw_srtp_unprotect_rtcp(c->srtp, buf, n);
		if (len < 0)
			c->srtp_errors++;
		else
			record_rtcp(c, buf, (size_t)len);
	} else if (!lost(c, buf, n)) {
		len = cw_srtp_unprotect(c->srtp, buf, n);
		if (len < 0)
			c->srtp_errors++;
		else
			record_rtp(c, buf, (size_t)len);
	}
}

bool pump(struct client *c, int timeout_ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	uint8_t buf[2048];
	struct cw_stun_msg m;
	ssize_t n;

	if (poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return false;
	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return false;
	if (buf[0] <= 3) {
		if (c->want_tid && cw_stun_parse(&m, buf, (size_t)n) == 0 &&
		    memcmp(m.tid, c->want_tid, CW_STUN_TID_LEN) == 0)
			c->answer_cls = m.cls;
	} else if (buf[0] >= 20 && buf[0] <= 63) {
		if (c->dtls)
			cw_dtls_input(c->dtls, buf, (size_t)n, now_ms());
	} else if (buf[0] >= 128 && buf[0] <= 191) {
		media_in(c, buf, (size_t)n);
	}
	return true;
}

void drain(struct client *c, int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end)
		pump(c, (int)(end - now_ms()));
}

int check(struct client *c, int timeout_ms)
{
	struct cw_stun_check chk = {.priority = 1853824767,
				    .role = CW_STUN_ROLE_CONTROLLING,
				    .tie_breaker = 0x1122334455667788ull,
				    .use_candidate = true};
	char username[64];
	uint8_t req[512], tid[CW_STUN_TID_LEN];
	int64_t end = now_ms() + timeout_ms;
	size_t len;

	snprintf(username, sizeof(username), "%s:cli", c->ufrag);
	chk.username = username;
	memset(tid, ++c->tid_seed, CW_STUN_TID_LEN);
	tid[0] = (uint8_t)c->fd;
	assert_int_equal(cw_stun_build_binding_request(req, sizeof(req), &len, tid, &chk, c->pwd,
						       strlen(c->pwd)),
			 0);
	c->want_tid = tid;
	c->answer_cls = -1;
	send_raw(c, c->fd, req, len);
	while (c->answer_cls < 0 && now_ms() < end)
		pump(c, (int)(end - now_ms()));
	c->want_tid = NULL;
	return c->answer_cls;
}

void sync_ice(struct client *c)
{
	int64_t end = now_ms() + DEADLINE_MS;

	while (now_ms() < end) {
		if (check(c, 200) == CW_STUN_SUCCESS)
			return;
	}
	fail_msg("%s: no successful check within %d ms", c->name, DEADLINE_MS);
}

void dtls_send(struct client *c)
{
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	while ((n = cw_dtls_output(c->dtls, buf, sizeof(buf))) > 0)
		send_raw(c, c->fd, buf, (size_t)n);
}

enum cw_dtls_state handshake(struct client *c)
{
	int64_t end = now_ms() + DEADLINE_MS;
	struct cw_srtp_keys keys;

	dtls_send(c);
	while (cw_dtls_state(c->dtls) == CW_DTLS_HANDSHAKING && now_ms() < end) {
		int64_t t = now_ms(), due = cw_dtls_next_timeout(c->dtls, t);
		int64_t wait = (due < end ? due : end) - t;
		if (!pump(c, (int)(wait < 0 ? 0 : wait)) &&
		    cw_dtls_next_timeout(c->dtls, now_ms()) <= now_ms())
			cw_dtls_handle_timeout(c->dtls, now_ms());
		dtls_send(c);
	}
	if (cw_dtls_state(c->dtls) == CW_DTLS_CONNECTED) {
		assert_int_equal(cw_dtls_srtp_keys(c->dtls, &keys), 0);
		assert_int_equal(cw_srtp_new(&c->srtp, &keys), 0);
	}
	return cw_dtls_state(c->dtls);
}

void client_open(struct client *c, struct cw_sfu *sfu, const char *name, const char *ufrag,
		 const struct client_opts *o)
{
	struct cw_sfu_peer_params par = {.room = o->room,
					 .remote_fingerprint = o->announced_fp,
					 .role = CW_DTLS_SERVER,
					 .profiles = 0,
					 .dir = o->dir,
					 .participant = o->participant,
					 .map = o->map};
	struct sockaddr_in local = {.sin_family = AF_INET};
	struct cw_dtls_ctx *ctx;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->sfu = sfu;
	snprintf(c->ufrag, sizeof(c->ufrag), "%s", ufrag);
	snprintf(c->pwd, sizeof(c->pwd), "%s%s", ufrag, PWD_SUFFIX);
	c->ssrc = 0x10000000u + (uint32_t)ufrag[0] * 0x1000u + (uint32_t)ufrag[strlen(ufrag) - 1];
	c->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(c->fd >= 0);
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(c->fd, (struct sockaddr *)&local, sizeof(local)), 0);
	par.ufrag = c->ufrag;
	par.pwd = c->pwd;
	if (o->room && !par.remote_fingerprint)
		par.remote_fingerprint = cw_dtls_cert_fingerprint(o->cert);
	assert_int_equal(cw_sfu_add_peer_v2(sfu, 0, &par), 0);
	if (!o->room)
		return;
	assert_int_equal(cw_dtls_ctx_new(&ctx, o->cert, CW_DTLS_CLIENT, o->profiles), 0);
	assert_int_equal(cw_dtls_new(&c->dtls, ctx, cw_sfu_fingerprint(sfu), now_ms()), 0);
	cw_dtls_ctx_free(ctx);
}

void client_connect(struct client *c)
{
	sync_ice(c);
	assert_int_equal(handshake(c), CW_DTLS_CONNECTED);
	assert_non_null(c->srtp);
}

void client_close(struct client *c)
{
	cw_dtls_free(c->dtls);
	cw_srtp_free(c->srtp);
	if (c->fd > 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
}

void barrier(struct cw_sfu *sfu)
{
	static unsigned n;
	const struct client_opts ice_only = {0};
	struct client b;
	char ufrag[16];

	snprintf(ufrag, sizeof(ufrag), "bar%u", ++n);
	client_open(&b, sfu, "barrier", ufrag, &ice_only);
	/* Commands are applied in order: the barrier peer answers after the ones before. */
	sync_ice(&b);
	assert_int_equal(cw_sfu_remove_peer(sfu, 0, ufrag), 0);
	client_close(&b);
}

/* A plain packet into buf: header, extension block, payload. */
static size_t make_plain(uint8_t *buf, uint32_t ssrc, uint8_t pt, uint16_t seq, const uint8_t *ext,
			 size_t ext_len)
{
	uint32_t ts = seq * 960u;
	size_t off = 12;

	memset(buf, 0, 12);
	buf[0] = ext_len ? 0x90 : 0x80;
	buf[1] = pt;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	if (ext_len) {
		size_t words = (ext_len + 3) / 4;
		buf[12] = 0xBE;
		buf[13] = 0xDE;
		buf[14] = 0;
		buf[15] = (uint8_t)words;
		memset(buf + 16, 0, words * 4);
		memcpy(buf + 16, ext, ext_len);
		off = 16 + words * 4;
	}
	for (size_t k = 0; k < PAYLOAD_LEN; k++)
		buf[off + k] = payload_byte(ssrc, seq, k);
	return off + PAYLOAD_LEN;
}

size_t make_srtp(struct client *c, struct cw_srtp *srtp, uint16_t seq, uint8_t *buf, size_t cap)
{
	size_t len = make_plain(buf, c->ssrc, 111, seq, NULL, 0);
	int n = cw_srtp_protect(srtp, buf, len, cap);

	assert_true(n > (int)len);
	return (size_t)n;
}

void send_rtp(struct client *c, uint16_t first_seq, unsigned count)
{
	uint8_t buf[512];

	for (unsigned i = 0; i < count; i++) {
		size_t n = make_srtp(c, c->srtp, (uint16_t)(first_seq + i), buf, sizeof(buf));
		send_raw(c, c->fd, buf, n);
	}
}

void send_media(struct client *c, uint32_t ssrc, uint8_t pt, uint16_t seq, const uint8_t *ext,
		size_t ext_len)
{
	uint8_t buf[512];
	size_t len = make_plain(buf, ssrc, pt, seq, ext, ext_len);
	int n = cw_srtp_protect(c->srtp, buf, len, sizeof(buf));

	assert_true(n > (int)len);
	send_raw(c, c->fd, buf, (size_t)n);
}

void send_rtcp(struct client *c, const uint8_t *buf, size_t len)
{
	uint8_t out[512];
	int n;

	assert_true(len <= 256);
	memcpy(out, buf, len);
	n = cw_srtp_protect_rtcp(c->srtp, out, len, sizeof(out));
	assert_true(n > (int)len);
	send_raw(c, c->fd, out, (size_t)n);
}

unsigned received_ssrc(const struct client *c, uint32_t ssrc)
{
	for (unsigned i = 0; i < c->n_src; i++) {
		if (c->src[i].ssrc == ssrc) {
			assert_int_equal(c->src[i].bad_payload, 0);
			return c->src[i].packets;
		}
	}
	return 0;
}

unsigned receive_ssrc(struct client *c, uint32_t ssrc, unsigned count)
{
	int64_t end = now_ms() + DEADLINE_MS;

	while (received_ssrc(c, ssrc) < count && now_ms() < end)
		pump(c, (int)(end - now_ms()));
	return received_ssrc(c, ssrc);
}

unsigned received_from(const struct client *c, const struct client *from)
{
	return received_ssrc(c, from->ssrc);
}

unsigned receive_from(struct client *c, const struct client *from, unsigned count)
{
	return receive_ssrc(c, from->ssrc, count);
}

struct cw_sfu_stats sfu_stats(struct cw_sfu *sfu)
{
	struct cw_sfu_stats st;

	cw_sfu_get_stats(sfu, &st);
	return st;
}

/* ---- events ---- */

#define LOG_MAX 512

static struct {
	int pipe[2];
	atomic_uint wakes;
	struct cw_sfu_event log[LOG_MAX];
	bool taken[LOG_MAX];
	size_t n;
} evs = {.pipe = {-1, -1}};

void events_wake(void *arg)
{
	char one = 1;

	(void)arg;
	atomic_fetch_add(&evs.wakes, 1);
	/* Non-blocking: a full pipe is readable already. */
	if (write(evs.pipe[1], &one, 1) < 0 && errno != EAGAIN)
		abort();
}

void events_start(void)
{
	assert_int_equal(pipe2(evs.pipe, O_NONBLOCK | O_CLOEXEC), 0);
	atomic_store(&evs.wakes, 0);
	evs.n = 0;
}

void events_stop(void)
{
	close(evs.pipe[0]);
	close(evs.pipe[1]);
	evs.pipe[0] = evs.pipe[1] = -1;
}

unsigned events_wakes(void)
{
	return atomic_load(&evs.wakes);
}

static void take_events(struct cw_sfu *sfu)
{
	char buf[64];

	while (read(evs.pipe[0], buf, sizeof(buf)) > 0)
		;
	while (evs.n < LOG_MAX) {
		size_t got = cw_sfu_poll_events(sfu, evs.log + evs.n, LOG_MAX - evs.n);
		if (got == 0)
			break;
		for (size_t i = 0; i < got; i++)
			evs.taken[evs.n + i] = false;
		evs.n += got;
	}
	assert_true(evs.n < LOG_MAX);
}

static bool find_event(enum cw_sfu_event_kind kind, const char *who)
{
	for (size_t i = 0; i < evs.n; i++) {
		const struct cw_sfu_event *e = &evs.log[i];
		const char *name = kind == CW_SFU_EV_SPEAKER ? e->participant : e->ufrag;
		if (!evs.taken[i] && e->kind == kind && strcmp(name, who) == 0) {
			evs.taken[i] = true;
			return true;
		}
	}
	return false;
}

bool wait_event(struct cw_sfu *sfu, enum cw_sfu_event_kind kind, const char *who, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	struct pollfd p = {.fd = evs.pipe[0], .events = POLLIN};

	for (;;) {
		take_events(sfu);
		if (find_event(kind, who))
			return true;
		if (now_ms() >= end)
			return false;
		/* Nothing polls without a wake: an event that arrives wakes this wait. */
		poll(&p, 1, (int)(end - now_ms()));
	}
}

void events_forget(struct cw_sfu *sfu)
{
	take_events(sfu);
	evs.n = 0;
}
