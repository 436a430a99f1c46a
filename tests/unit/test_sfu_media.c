/* A media worker carrying DTLS-SRTP media between in-test "browsers" over loopback UDP:
 * real ICE checks, real DTLS handshakes, real SRTP, and what is refused and counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtc/dtls.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"
#include "sfu/sfu.h"

#define DEADLINE_MS 5000
#define PWD_SUFFIX "0123456789abcdefghijkl" /* 22 characters: with a prefix, a valid pwd */
#define PAYLOAD_LEN 60
#define SOURCES_MAX 8

/* One in-test browser: a socket, the server-side ICE credentials it checks against, a DTLS
 * client (a=setup:active) and, once connected, its SRTP session; and what it received. */
struct client {
	const char *name;
	int fd;
	struct cw_sfu *sfu;
	char ufrag[16], pwd[40];
	struct cw_dtls *dtls;
	struct cw_srtp *srtp;
	uint32_t ssrc;
	uint8_t tid_seed;
	const uint8_t *want_tid; /* the check whose answer pump waits for */
	int answer_cls;		 /* its class once it arrived, else -1 */
	/* Received: RTP packets per source SSRC (payload checked), RTCP keyframe requests. */
	struct {
		uint32_t ssrc;
		unsigned packets, bad_payload;
	} src[SOURCES_MAX];
	unsigned n_src, rtp, pli, srtp_errors;
};

struct world {
	struct cw_sfu *sfu;
	struct cw_dtls_cert *cert, *wrong_cert;
	struct client a, b;
};

static struct world world;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_raw(struct client *c, int fd, const void *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET};

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(cw_sfu_port(c->sfu, 0));
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

/* Opus-like payload bytes, different for every source and sequence number. */
static uint8_t payload_byte(uint32_t ssrc, uint16_t seq, size_t i)
{
	return (uint8_t)(ssrc * 7u + seq * 13u + i);
}

static void record_rtp(struct client *c, const uint8_t *buf, size_t len)
{
	struct cw_rtp rtp;
	unsigned i;
	bool ok;

	assert_int_equal(cw_rtp_parse(&rtp, buf, len), 0);
	ok = rtp.pt == 111 && rtp.payload_len == PAYLOAD_LEN;
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
	c->rtp++;
}

static void record_rtcp(struct client *c, const uint8_t *buf, size_t len)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;

	cw_rtcp_iter_init(&it, buf, len);
	while (cw_rtcp_next(&it, &pkt) == 1) {
		if (cw_rtcp_kind(&pkt) == CW_RTCP_KIND_PLI)
			c->pli++;
	}
}

/* Reads and handles one datagram within timeout_ms; false when none came. */
static bool pump(struct client *c, int timeout_ms)
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
		int len;
		if (!c->srtp) {
			c->srtp_errors++;
		} else if (cw_rtp_demux(buf, (size_t)n) == CW_RTP_DEMUX_RTCP) {
			len = cw_srtp_unprotect_rtcp(c->srtp, buf, (size_t)n);
			if (len < 0)
				c->srtp_errors++;
			else
				record_rtcp(c, buf, (size_t)len);
		} else {
			len = cw_srtp_unprotect(c->srtp, buf, (size_t)n);
			if (len < 0)
				c->srtp_errors++;
			else
				record_rtp(c, buf, (size_t)len);
		}
	}
	return true;
}

/* Handles whatever arrives for ms (a grace period to show that nothing does). */
static void drain(struct client *c, int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end)
		pump(c, (int)(end - now_ms()));
}

/* One connectivity check (nominating); returns the answer's class, or -1 without one. */
static int check(struct client *c, int timeout_ms)
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

/* Checks until one succeeds. Datagrams from one socket are handled in order, so after a
 * success everything this client sent before has been seen by the worker. */
static void sync_ice(struct client *c)
{
	int64_t end = now_ms() + DEADLINE_MS;

	while (now_ms() < end) {
		if (check(c, 200) == CW_STUN_SUCCESS)
			return;
	}
	fail_msg("%s: no successful check within %d ms", c->name, DEADLINE_MS);
}

/* Sends what the DTLS client queued. */
static void dtls_send(struct client *c)
{
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	while ((n = cw_dtls_output(c->dtls, buf, sizeof(buf))) > 0)
		send_raw(c, c->fd, buf, (size_t)n);
}

/* Runs the handshake on the test's clock until it settles; returns the final state. */
static enum cw_dtls_state handshake(struct client *c)
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

/* A client for the server's ufrag `ufrag` in room, presenting cert while the server is told
 * to expect announced_fp; the client accepts only the server's profiles in `profiles`. */
static void client_open(struct client *c, const char *name, const char *ufrag, const char *room,
			const struct cw_dtls_cert *cert, const char *announced_fp,
			unsigned profiles)
{
	struct cw_sfu_peer_params par = {
		.room = room, .remote_fingerprint = announced_fp, .role = CW_DTLS_SERVER};
	struct sockaddr_in local = {.sin_family = AF_INET};
	struct cw_dtls_ctx *ctx;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->sfu = world.sfu;
	snprintf(c->ufrag, sizeof(c->ufrag), "%s", ufrag);
	snprintf(c->pwd, sizeof(c->pwd), "%s%s", ufrag, PWD_SUFFIX);
	c->ssrc = 0x10000000u + (uint32_t)ufrag[0] * 0x1000u + (uint32_t)ufrag[strlen(ufrag) - 1];
	c->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(c->fd >= 0);
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(c->fd, (struct sockaddr *)&local, sizeof(local)), 0);
	par.ufrag = c->ufrag;
	par.pwd = c->pwd;
	assert_int_equal(cw_sfu_add_peer_v2(c->sfu, 0, &par), 0);
	assert_int_equal(cw_dtls_ctx_new(&ctx, cert, CW_DTLS_CLIENT, profiles), 0);
	assert_int_equal(cw_dtls_new(&c->dtls, ctx, cw_sfu_fingerprint(c->sfu), now_ms()), 0);
	cw_dtls_ctx_free(ctx);
}

/* ICE, then DTLS: a client that ends up with SRTP keys. */
static void client_connect(struct client *c)
{
	sync_ice(c);
	assert_int_equal(handshake(c), CW_DTLS_CONNECTED);
	assert_non_null(c->srtp);
}

static void client_close(struct client *c)
{
	cw_dtls_free(c->dtls);
	cw_srtp_free(c->srtp);
	if (c->fd > 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
}

/* An Opus-like packet (PT 111, 20 ms at 48 kHz) of c's SSRC, protected with srtp. */
static size_t make_srtp(struct client *c, struct cw_srtp *srtp, uint16_t seq, uint8_t *buf,
			size_t cap)
{
	uint32_t ts = seq * 960u;
	int n;

	memset(buf, 0, 12);
	buf[0] = 0x80;
	buf[1] = 111;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(c->ssrc >> (24 - 8 * i));
	}
	for (size_t k = 0; k < PAYLOAD_LEN; k++)
		buf[12 + k] = payload_byte(c->ssrc, seq, k);
	n = cw_srtp_protect(srtp, buf, 12 + PAYLOAD_LEN, cap);
	assert_true(n > 12 + PAYLOAD_LEN);
	return (size_t)n;
}

static void send_rtp(struct client *c, uint16_t first_seq, unsigned count)
{
	uint8_t buf[512];

	for (unsigned i = 0; i < count; i++) {
		size_t n = make_srtp(c, c->srtp, (uint16_t)(first_seq + i), buf, sizeof(buf));
		send_raw(c, c->fd, buf, n);
	}
}

static unsigned received_from(const struct client *c, const struct client *from)
{
	for (unsigned i = 0; i < c->n_src; i++) {
		if (c->src[i].ssrc == from->ssrc) {
			assert_int_equal(c->src[i].bad_payload, 0);
			return c->src[i].packets;
		}
	}
	return 0;
}

/* Receives until `count` packets of from arrived or the deadline passed. */
static unsigned receive_from(struct client *c, const struct client *from, unsigned count)
{
	int64_t end = now_ms() + DEADLINE_MS;

	while (received_from(c, from) < count && now_ms() < end)
		pump(c, (int)(end - now_ms()));
	return received_from(c, from);
}

static struct cw_sfu_stats stats(void)
{
	struct cw_sfu_stats st;

	cw_sfu_get_stats(world.sfu, &st);
	return st;
}

/* ---- The group: one worker, clients A and B in room r1 ---- */

static int setup(void **state)
{
	struct cw_sfu_config cfg = {.bind_ip = "127.0.0.1", .workers = 1};
	const char *fp;

	memset(&world, 0, sizeof(world));
	assert_int_equal(cw_sfu_start(&world.sfu, &cfg), 0);
	assert_int_equal(strncmp(cw_sfu_fingerprint(world.sfu), "sha-256 ", 8), 0);
	assert_int_equal(cw_dtls_cert_new(&world.cert), 0);
	assert_int_equal(cw_dtls_cert_new(&world.wrong_cert), 0);
	fp = cw_dtls_cert_fingerprint(world.cert);
	/* A offers both profiles (the worker picks GCM), B only AES-CM: forwarding re-protects
	 * across profiles. */
	client_open(&world.a, "A", "cliA", "r1", world.cert, fp, 0);
	client_open(&world.b, "B", "cliB", "r1", world.cert, fp,
		    CW_DTLS_PROFILE(CW_SRTP_AES128_CM_SHA1_80));
	client_connect(&world.a);
	client_connect(&world.b);
	*state = &world;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	client_close(&world.a);
	client_close(&world.b);
	cw_sfu_stop(world.sfu);
	cw_dtls_cert_free(world.cert);
	cw_dtls_cert_free(world.wrong_cert);
	return 0;
}

static void two_peers_of_a_room_exchange_srtp_both_ways(void **state)
{
	struct world *w = *state;
	struct cw_sfu_stats st = stats();

	assert_int_equal(cw_srtp_profile(w->a.srtp), CW_SRTP_AEAD_AES_128_GCM);
	assert_int_equal(cw_srtp_profile(w->b.srtp), CW_SRTP_AES128_CM_SHA1_80);
	assert_true(st.dtls_connected >= 2);
	send_rtp(&w->a, 1000, 50);
	/* Loopback loses nothing in practice; a couple of drops would not mean a bug. */
	assert_true(receive_from(&w->b, &w->a, 50) >= 48);
	send_rtp(&w->b, 7000, 50);
	assert_true(receive_from(&w->a, &w->b, 50) >= 48);
	assert_int_equal(w->a.srtp_errors + w->b.srtp_errors, 0);
	assert_true(stats().rtp_forwarded - st.rtp_forwarded >= 96);
}

static void a_keyframe_request_reaches_the_other_peers(void **state)
{
	struct world *w = *state;
	uint8_t buf[256];
	size_t len;
	int n;
	int64_t end = now_ms() + DEADLINE_MS;

	/* B asks A's stream for a keyframe. */
	assert_int_equal(cw_rtcp_build_pli(buf, sizeof(buf), &len, w->b.ssrc, w->a.ssrc), 0);
	n = cw_srtp_protect_rtcp(w->b.srtp, buf, len, sizeof(buf));
	assert_true(n > (int)len);
	send_raw(&w->b, w->b.fd, buf, (size_t)n);
	while (w->a.pli == 0 && now_ms() < end)
		pump(&w->a, (int)(end - now_ms()));
	assert_int_equal(w->a.pli, 1);
}

static void a_peer_of_another_room_receives_nothing(void **state)
{
	struct world *w = *state;
	struct client c;
	struct cw_sfu_stats before;
	unsigned had;

	client_open(&c, "C", "cliC", "r2", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	client_connect(&c);
	before = stats();
	had = received_from(&w->b, &w->a);
	send_rtp(&w->a, 2000, 20);
	assert_int_equal(receive_from(&w->b, &w->a, had + 20), had + 20);
	/* Each packet went to B alone, in the same batches that C would have had its copies. */
	assert_int_equal(stats().rtp_forwarded - before.rtp_forwarded, 20);
	send_rtp(&c, 1, 5); /* and C's media reaches nobody in r1 */
	sync_ice(&c);
	drain(&c, 100);
	drain(&w->a, 50);
	assert_int_equal(c.rtp, 0);
	assert_int_equal(received_from(&w->a, &c) + received_from(&w->b, &c), 0);
	assert_int_equal(stats().rtp_forwarded - before.rtp_forwarded, 20);
	client_close(&c);
	assert_int_equal(cw_sfu_remove_peer(w->a.sfu, 0, "cliC"), 0);
}

static void forged_and_replayed_srtp_is_counted_and_not_forwarded(void **state)
{
	struct world *w = *state;
	struct client d;
	struct cw_srtp_keys keys;
	struct cw_srtp *forger;
	struct cw_sfu_stats before, after;
	uint8_t buf[512];
	size_t n;

	client_open(&d, "D", "cliD", "r1", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	client_connect(&d);
	/* The right profile and a key of D's own making: every tag is forged. */
	memset(&keys, 0x5a, sizeof(keys));
	keys.profile = cw_srtp_profile(d.srtp);
	assert_int_equal(cw_srtp_new(&forger, &keys), 0);
	before = stats();
	for (uint16_t seq = 1; seq <= 5; seq++) {
		n = make_srtp(&d, forger, seq, buf, sizeof(buf));
		send_raw(&d, d.fd, buf, n);
	}
	/* One genuine packet, sent twice: the copy is a replay. */
	n = make_srtp(&d, d.srtp, 100, buf, sizeof(buf));
	send_raw(&d, d.fd, buf, n);
	send_raw(&d, d.fd, buf, n);
	sync_ice(&d);
	after = stats();
	assert_int_equal(after.srtp_auth_failed - before.srtp_auth_failed, 5);
	assert_int_equal(after.srtp_replayed - before.srtp_replayed, 1);
	assert_int_equal(after.rtp_forwarded - before.rtp_forwarded, 2); /* the genuine one */
	assert_int_equal(receive_from(&w->a, &d, 1), 1);
	assert_int_equal(receive_from(&w->b, &d, 1), 1);
	drain(&w->a, 50);
	drain(&w->b, 50);
	assert_int_equal(received_from(&w->a, &d) + received_from(&w->b, &d), 2);
	cw_srtp_free(forger);
	assert_int_equal(cw_sfu_remove_peer(d.sfu, 0, "cliD"), 0);
	client_close(&d);
}

static void dtls_from_an_address_that_passed_no_check_is_dropped(void **state)
{
	struct world *w = *state;
	struct cw_dtls_ctx *ctx;
	struct cw_dtls *intruder;
	struct cw_sfu_stats before;
	uint8_t buf[CW_DTLS_MTU_MAX];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), n, sent = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	assert_true(fd >= 0);
	/* A genuine ClientHello, from a socket that never sent a check. */
	assert_int_equal(cw_dtls_ctx_new(&ctx, w->cert, CW_DTLS_CLIENT, 0), 0);
	assert_int_equal(cw_dtls_new(&intruder, ctx, cw_sfu_fingerprint(w->sfu), now_ms()), 0);
	before = stats();
	while ((n = cw_dtls_output(intruder, buf, sizeof(buf))) > 0) {
		send_raw(&w->a, fd, buf, (size_t)n);
		sent++;
	}
	assert_true(sent >= 1);
	/* Loopback delivers in sending order: A's check comes after the intruder's hello. */
	sync_ice(&w->a);
	assert_int_equal(stats().dropped_unverified - before.dropped_unverified, (uint64_t)sent);
	assert_int_equal(poll(&p, 1, 100), 0); /* no answer */
	cw_dtls_free(intruder);
	cw_dtls_ctx_free(ctx);
	close(fd);
}

static void the_worker_retransmits_a_lost_handshake_flight(void **state)
{
	struct world *w = *state;
	struct client f;
	uint8_t buf[CW_DTLS_MTU_MAX];
	struct pollfd p;
	int64_t first = 0, again = 0, end;
	ssize_t n = 0;

	client_open(&f, "F", "cliF", "r3", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	sync_ice(&f);
	dtls_send(&f); /* the ClientHello; the client's own timer is left alone from here */
	p = (struct pollfd){.fd = f.fd, .events = POLLIN};
	end = now_ms() + DEADLINE_MS;
	/* The worker's first flight is lost: read and thrown away. */
	while (!again && now_ms() < end && poll(&p, 1, (int)(end - now_ms())) > 0) {
		n = recv(f.fd, buf, sizeof(buf), 0);
		if (n <= 0 || buf[0] < 20 || buf[0] > 63)
			continue;
		if (!first)
			first = now_ms();
		else if (now_ms() - first >= CW_DTLS_RTO_INITIAL_MS / 2)
			again = now_ms();
	}
	assert_true(first && again);
	/* The retransmission completes the handshake. */
	cw_dtls_input(f.dtls, buf, (size_t)n, now_ms());
	assert_int_equal(handshake(&f), CW_DTLS_CONNECTED);
	assert_int_equal(cw_sfu_remove_peer(f.sfu, 0, "cliF"), 0);
	client_close(&f);
}

static void a_wrong_certificate_fails_the_handshake_and_gets_no_media(void **state)
{
	struct world *w = *state;
	struct client e;
	struct cw_sfu_stats before = stats();
	int64_t end;
	unsigned had;

	/* The server expects the certificate of E's SDP; E presents another. */
	client_open(&e, "E", "cliE", "r1", w->wrong_cert, cw_dtls_cert_fingerprint(w->cert), 0);
	sync_ice(&e);
	assert_int_not_equal(handshake(&e), CW_DTLS_CONNECTED);
	end = now_ms() + DEADLINE_MS;
	while (stats().dtls_failed == before.dtls_failed && now_ms() < end)
		pump(&e, 10);
	assert_int_equal(stats().dtls_failed - before.dtls_failed, 1);
	assert_int_equal(stats().dtls_connected, before.dtls_connected);
	had = received_from(&w->b, &w->a);
	send_rtp(&w->a, 3000, 10);
	assert_int_equal(receive_from(&w->b, &w->a, had + 10), had + 10);
	drain(&e, 100);
	assert_int_equal(e.rtp + e.srtp_errors, 0);
	assert_int_equal(cw_sfu_remove_peer(e.sfu, 0, "cliE"), 0);
	client_close(&e);
}

static void a_removed_peer_gets_no_more_media(void **state)
{
	struct world *w = *state;
	int64_t end = now_ms() + DEADLINE_MS;
	unsigned had = received_from(&w->b, &w->a);
	struct cw_sfu_stats before;

	assert_int_equal(cw_sfu_remove_peer(w->sfu, 0, w->b.ufrag), 0);
	/* Removal is queued: once B's checks get 401, it was applied. */
	while (check(&w->b, 200) != CW_STUN_ERROR)
		assert_true(now_ms() < end);
	before = stats();
	send_rtp(&w->a, 4000, 10);
	sync_ice(&w->a);
	drain(&w->b, 100);
	assert_int_equal(received_from(&w->b, &w->a), had);
	assert_int_equal(stats().rtp_forwarded, before.rtp_forwarded);
	/* And B's media (its state is gone) is dropped, not forwarded. */
	send_rtp(&w->b, 8000, 3);
	sync_ice(&w->a);
	assert_int_equal(stats().dropped_unverified - before.dropped_unverified, 3);
}

/* ---- Consent freshness, on a media plane of its own with a short timeout ---- */

static void a_peer_without_consent_stops_receiving_and_sending(void **state)
{
	struct cw_sfu_config cfg = {
		.bind_ip = "127.0.0.1", .workers = 1, .consent_timeout_ms = 600};
	struct world *w = *state, saved = *w;
	struct client p, q;
	int64_t end;
	struct cw_sfu_stats st;
	uint64_t forwarded, not_ready;

	(void)saved;
	assert_int_equal(cw_sfu_start(&w->sfu, &cfg), 0);
	client_open(&p, "P", "cliP", "c", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	client_open(&q, "Q", "cliQ", "c", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	client_connect(&p);
	client_connect(&q);
	send_rtp(&p, 1, 5);
	assert_int_equal(receive_from(&q, &p, 5), 5);
	/* P keeps checking, Q falls silent. */
	end = now_ms() + DEADLINE_MS;
	do {
		sync_ice(&p);
		drain(&q, 100);
		cw_sfu_get_stats(w->sfu, &st);
	} while (st.consent_expired == 0 && now_ms() < end);
	assert_int_equal(st.consent_expired, 1);
	send_rtp(&p, 6, 5);
	sync_ice(&p);
	drain(&q, 100);
	assert_int_equal(received_from(&q, &p), 5);
	/* Nor is what the silent peer still sends passed on. One server socket reads both
	 * clients' datagrams in order: once P's check is answered, Q's four were handled. */
	cw_sfu_get_stats(w->sfu, &st);
	forwarded = st.rtp_forwarded;
	not_ready = st.dropped_not_ready;
	send_rtp(&q, 100, 4);
	sync_ice(&p);
	drain(&p, 100);
	cw_sfu_get_stats(w->sfu, &st);
	assert_int_equal(received_from(&p, &q), 0);
	assert_int_equal(st.rtp_forwarded, forwarded);
	assert_int_equal(st.dropped_not_ready - not_ready, 4);
	client_close(&p);
	client_close(&q);
	cw_sfu_stop(w->sfu);
	w->sfu = saved.sfu;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_peers_of_a_room_exchange_srtp_both_ways),
		cmocka_unit_test(a_keyframe_request_reaches_the_other_peers),
		cmocka_unit_test(a_peer_of_another_room_receives_nothing),
		cmocka_unit_test(forged_and_replayed_srtp_is_counted_and_not_forwarded),
		cmocka_unit_test(dtls_from_an_address_that_passed_no_check_is_dropped),
		cmocka_unit_test(a_wrong_certificate_fails_the_handshake_and_gets_no_media),
		cmocka_unit_test(the_worker_retransmits_a_lost_handshake_flight),
		cmocka_unit_test(a_peer_without_consent_stops_receiving_and_sending),
		cmocka_unit_test(a_removed_peer_gets_no_more_media),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
