/* DTLS-SRTP tests: in-memory handshakes, key export, SRTP round trips, losses, garbage. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rtc/dtls.h"
#include "rtc/srtp.h"

#define T0 1000000LL /* the simulated clock's start, ms */
#define BUF_SIZE 2048

static struct cw_dtls_cert *server_cert, *client_cert, *other_cert;

static const unsigned int only_gcm = CW_DTLS_PROFILE(CW_SRTP_AEAD_AES_128_GCM);
static const unsigned int only_cm = CW_DTLS_PROFILE(CW_SRTP_AES128_CM_SHA1_80);

/* ---- Two endpoints joined by a simulated network ---- */

struct link {
	struct cw_dtls_ctx *sctx, *cctx;
	struct cw_dtls *srv, *cli;
	int64_t now;
	int flights;	 /* non-empty batches carried so far, lost ones included */
	int drop_flight; /* the batch to lose, or -1 */
	size_t datagrams;
	size_t max_datagram;
};

static size_t link_mtu = CW_DTLS_MTU; /* of the next link_open */

static void link_open(struct link *l, unsigned int srv_profiles, unsigned int cli_profiles,
		      const char *srv_expects, const char *cli_expects)
{
	memset(l, 0, sizeof(*l));
	l->now = T0;
	l->drop_flight = -1;
	assert_int_equal(cw_dtls_ctx_new(&l->sctx, server_cert, CW_DTLS_SERVER, srv_profiles), 0);
	assert_int_equal(cw_dtls_ctx_new(&l->cctx, client_cert, CW_DTLS_CLIENT, cli_profiles), 0);
	assert_int_equal(cw_dtls_ctx_set_mtu(l->sctx, link_mtu), 0);
	assert_int_equal(cw_dtls_ctx_set_mtu(l->cctx, link_mtu), 0);
	if (srv_expects == NULL)
		srv_expects = cw_dtls_cert_fingerprint(client_cert);
	if (cli_expects == NULL)
		cli_expects = cw_dtls_cert_fingerprint(server_cert);
	assert_int_equal(cw_dtls_new(&l->srv, l->sctx, srv_expects, l->now), 0);
	assert_int_equal(cw_dtls_new(&l->cli, l->cctx, cli_expects, l->now), 0);
	/* A context may go before its endpoints. */
	cw_dtls_ctx_free(l->sctx);
	cw_dtls_ctx_free(l->cctx);
	l->sctx = l->cctx = NULL;
}

static void link_close(struct link *l)
{
	cw_dtls_free(l->srv);
	cw_dtls_free(l->cli);
}

/* Moves every datagram from queued into to, or loses the batch if it is the one to drop. */
static int carry(struct link *l, struct cw_dtls *from, struct cw_dtls *to)
{
	unsigned char buf[CW_DTLS_MTU];
	bool drop = false;
	int n, count = 0;

	while ((n = cw_dtls_output(from, buf, sizeof(buf))) > 0) {
		if (count++ == 0)
			drop = l->flights++ == l->drop_flight;
		l->datagrams++;
		if ((size_t)n > l->max_datagram)
			l->max_datagram = (size_t)n;
		if (!drop)
			cw_dtls_input(to, buf, (size_t)n, l->now);
	}
	assert_int_equal(n, 0);
	return count;
}

/* Moves the simulated clock. When OpenSSL keeps its own wall clock (OpenSSL >= 3.2), real
 * time has to pass as well for a retransmission to happen. */
static void advance(struct link *l, int64_t to)
{
	if (!cw_dtls_timer_exact() && to > l->now) {
		struct timespec ts = {(time_t)((to - l->now) / 1000),
				      (long)((to - l->now) % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	l->now = to;
}

static bool pending(const struct cw_dtls *d)
{
	return cw_dtls_state(d) == CW_DTLS_HANDSHAKING;
}

/* Runs both endpoints until neither is handshaking (or limit_ms passed): datagrams flow while
 * there are any; otherwise the clock jumps to the earliest retransmission deadline. */
static void run(struct link *l, int64_t limit_ms)
{
	for (int i = 0; i < 1000; i++) {
		int64_t a, b, next;

		if (carry(l, l->cli, l->srv) + carry(l, l->srv, l->cli) > 0)
			continue;
		if (!pending(l->srv) && !pending(l->cli))
			return;
		a = cw_dtls_next_timeout(l->srv, l->now);
		b = cw_dtls_next_timeout(l->cli, l->now);
		next = a < b ? a : b;
		if (next == CW_DTLS_NO_TIMEOUT || next - T0 > limit_ms)
			return;
		assert_true(next >= l->now);
		advance(l, next);
		cw_dtls_handle_timeout(l->srv, l->now);
		cw_dtls_handle_timeout(l->cli, l->now);
	}
	fail_msg("the endpoints never settled");
}

/* ---- Packets ---- */

/* An Opus-like RTP packet; with ext, a one-byte header extension (audio level, RFC 6464). */
static size_t make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t payload, bool ext)
{
	uint32_t ts = seq * 960u;
	size_t n = 12;

	p[0] = ext ? 0x90 : 0x80;
	p[1] = 111;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	if (ext) {
		static const uint8_t level[] = {0xbe, 0xde, 0x00, 0x01, 0x10, 0x2a, 0x00, 0x00};

		memcpy(p + n, level, sizeof(level));
		n += sizeof(level);
	}
	for (size_t i = 0; i < payload; i++)
		p[n + i] = (uint8_t)(seq + i * 7);
	return n + payload;
}

/* A sender report without report blocks (28 bytes). */
static size_t make_rtcp_sr(uint8_t *p, uint32_t ssrc, uint32_t packets)
{
	memset(p, 0, 28);
	p[0] = 0x80;
	p[1] = 200;
	p[3] = 6;
	p[4] = (uint8_t)(ssrc >> 24);
	p[5] = (uint8_t)(ssrc >> 16);
	p[6] = (uint8_t)(ssrc >> 8);
	p[7] = (uint8_t)ssrc;
	for (int i = 8; i < 20; i++)
		p[i] = (uint8_t)(i * 13);
	p[20] = (uint8_t)(packets >> 24);
	p[23] = (uint8_t)packets;
	return 28;
}

/* Protects a copy of plain of len bytes with tx into out; returns the SRTP length. */
static size_t protect(struct cw_srtp *tx, bool rtcp, const uint8_t *plain, size_t len, uint8_t *out)
{
	int n;

	memcpy(out, plain, len);
	n = rtcp ? cw_srtp_protect_rtcp(tx, out, len, BUF_SIZE)
		 : cw_srtp_protect(tx, out, len, BUF_SIZE);
	assert_true(n > (int)len);
	assert_true(n <= (int)(len + CW_SRTP_TRAILER_MAX));
	return (size_t)n;
}

static int unprotect(struct cw_srtp *rx, bool rtcp, uint8_t *pkt, size_t len)
{
	return rtcp ? cw_srtp_unprotect_rtcp(rx, pkt, len) : cw_srtp_unprotect(rx, pkt, len);
}

/* One packet each way through tx and rx: equal to the original; the same packet again is a
 * replay; an altered copy fails authentication. */
static void exchange(struct cw_srtp *tx, struct cw_srtp *rx, bool rtcp, uint16_t seq, bool ext)
{
	uint8_t plain[BUF_SIZE], a[BUF_SIZE], b[BUF_SIZE], c[BUF_SIZE];
	size_t len = rtcp ? make_rtcp_sr(plain, 0x11223344u, seq)
			  : make_rtp(plain, seq, 0x11223344u, 160, ext);
	size_t slen = protect(tx, rtcp, plain, len, a);

	assert_memory_not_equal(a, plain, len); /* the payload is encrypted */
	memcpy(b, a, slen);
	memcpy(c, a, slen);
	c[slen / 2] ^= 0x01; /* a bit of the payload (and for RTP, past the header) */
	assert_int_equal(unprotect(rx, rtcp, c, slen), CW_SRTP_E_AUTH);
	assert_int_equal(unprotect(rx, rtcp, a, slen), (int)len);
	assert_memory_equal(a, plain, len);
	assert_int_equal(unprotect(rx, rtcp, b, slen), CW_SRTP_E_REPLAY);
}

/* Keys both sides exported agree, and media flows both ways under them. */
static void check_media(struct link *l, enum cw_srtp_profile profile)
{
	struct cw_srtp_keys ks, kc;
	struct cw_srtp *ss = NULL, *sc = NULL;
	size_t salt = cw_srtp_salt_len(profile);

	assert_int_equal(cw_dtls_srtp_keys(l->srv, &ks), 0);
	assert_int_equal(cw_dtls_srtp_keys(l->cli, &kc), 0);
	assert_int_equal(ks.profile, profile);
	assert_int_equal(kc.profile, profile);
	assert_memory_equal(ks.local_key, kc.remote_key, CW_SRTP_KEY_LEN);
	assert_memory_equal(ks.local_salt, kc.remote_salt, salt);
	assert_memory_equal(ks.remote_key, kc.local_key, CW_SRTP_KEY_LEN);
	assert_memory_equal(ks.remote_salt, kc.local_salt, salt);
	assert_memory_not_equal(ks.local_key, ks.remote_key, CW_SRTP_KEY_LEN);

	assert_int_equal(cw_srtp_new(&ss, &ks), 0);
	assert_int_equal(cw_srtp_new(&sc, &kc), 0);
	assert_int_equal(cw_srtp_profile(ss), profile);
	exchange(ss, sc, false, 1000, false);
	exchange(ss, sc, false, 1001, true);
	exchange(sc, ss, false, 7, false);
	exchange(ss, sc, true, 1, false);
	exchange(sc, ss, true, 2, false);
	cw_srtp_free(ss);
	cw_srtp_free(sc);
}

static void handshake_with(unsigned int srv_profiles, unsigned int cli_profiles,
			   enum cw_srtp_profile expect)
{
	struct link l;

	link_open(&l, srv_profiles, cli_profiles, NULL, NULL);
	assert_int_equal(cw_dtls_pending_ms(l.cli, T0 + 5), 5);
	run(&l, 0);
	assert_int_equal(cw_dtls_state(l.srv), CW_DTLS_CONNECTED);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CONNECTED);
	assert_int_equal(cw_dtls_error(l.srv), 0);
	assert_string_equal(cw_dtls_error_detail(l.cli), "");
	assert_int_equal(l.now, T0); /* nothing waited for a timer */
	assert_int_equal(l.flights, 4);
	assert_true(l.max_datagram <= CW_DTLS_MTU);
	assert_int_equal(cw_dtls_pending_ms(l.srv, T0 + 100), 0);
	assert_int_equal(cw_dtls_next_timeout(l.cli, l.now), CW_DTLS_NO_TIMEOUT);
	check_media(&l, expect);
	print_message("  %s: %zu datagrams in 4 flights, largest %zu bytes\n",
		      cw_srtp_profile_name(expect), l.datagrams, l.max_datagram);
	link_close(&l);
}

/* ---- Tests ---- */

static void test_certificate(void **state)
{
	const char *fp = cw_dtls_cert_fingerprint(server_cert);

	(void)state;
	assert_int_equal(strlen(fp), 8 + 32 * 3 - 1);
	assert_memory_equal(fp, "sha-256 ", 8);
	for (size_t i = 8; fp[i] != '\0'; i++) {
		if ((i - 8) % 3 == 2)
			assert_int_equal(fp[i], ':');
		else
			assert_non_null(strchr("0123456789ABCDEF", fp[i]));
	}
	assert_string_not_equal(fp, cw_dtls_cert_fingerprint(client_cert));
	print_message("  %s\n", fp);
	print_message("  %s, timer on the caller's clock: %s\n", cw_srtp_library_version(),
		      cw_dtls_timer_exact() ? "exact" : "OpenSSL's wall clock");
}

static void test_handshake_gcm(void **state)
{
	(void)state;
	handshake_with(0, only_gcm, CW_SRTP_AEAD_AES_128_GCM);
}

static void test_handshake_aes_cm(void **state)
{
	(void)state;
	handshake_with(0, only_cm, CW_SRTP_AES128_CM_SHA1_80);
}

static void test_gcm_preferred(void **state)
{
	(void)state;
	handshake_with(0, 0, CW_SRTP_AEAD_AES_128_GCM);
	/* A server that allows only AES-CM gets AES-CM from a client that offers both. */
	handshake_with(only_cm, 0, CW_SRTP_AES128_CM_SHA1_80);
}

static void test_no_common_profile(void **state)
{
	struct link l;
	struct cw_srtp_keys k;

	(void)state;
	link_open(&l, only_gcm, only_cm, NULL, NULL);
	run(&l, 0);
	assert_int_equal(cw_dtls_error(l.srv), CW_DTLS_E_NO_SRTP);
	assert_int_equal(cw_dtls_error(l.cli), CW_DTLS_E_NO_SRTP);
	assert_int_equal(cw_dtls_srtp_keys(l.srv, &k), -ENOTCONN);
	link_close(&l);
}

static void test_client_rejects_wrong_fingerprint(void **state)
{
	struct link l;

	(void)state;
	link_open(&l, 0, 0, NULL, cw_dtls_cert_fingerprint(other_cert));
	run(&l, 60000);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_FAILED);
	assert_int_equal(cw_dtls_error(l.cli), CW_DTLS_E_FINGERPRINT);
	assert_non_null(strstr(cw_dtls_error_detail(l.cli), cw_dtls_cert_fingerprint(other_cert)));
	assert_non_null(strstr(cw_dtls_error_detail(l.cli), cw_dtls_cert_fingerprint(server_cert)));
	/* The client's alert ends the server's handshake too, at once. */
	assert_int_equal(cw_dtls_state(l.srv), CW_DTLS_FAILED);
	assert_int_equal(cw_dtls_error(l.srv), CW_DTLS_E_ALERT);
	assert_non_null(strstr(cw_dtls_error_detail(l.srv), "bad certificate"));
	assert_int_equal(l.now, T0);
	print_message("  client: %s: %s\n  server: %s: %s\n",
		      cw_dtls_strerror(cw_dtls_error(l.cli)), cw_dtls_error_detail(l.cli),
		      cw_dtls_strerror(cw_dtls_error(l.srv)), cw_dtls_error_detail(l.srv));
	/* A failed endpoint refuses further input with its reason. */
	assert_int_equal(cw_dtls_input(l.cli, "\x16\xfe\xfd", 3, l.now), CW_DTLS_E_FINGERPRINT);
	link_close(&l);
}

static void test_server_rejects_wrong_fingerprint(void **state)
{
	struct link l;

	(void)state;
	link_open(&l, 0, 0, cw_dtls_cert_fingerprint(other_cert), NULL);
	run(&l, 60000);
	assert_int_equal(cw_dtls_error(l.srv), CW_DTLS_E_FINGERPRINT);
	assert_int_equal(cw_dtls_error(l.cli), CW_DTLS_E_ALERT);
	print_message("  server: %s\n  client: %s\n", cw_dtls_error_detail(l.srv),
		      cw_dtls_error_detail(l.cli));
	link_close(&l);
}

static void test_fingerprint_forms(void **state)
{
	struct cw_dtls_ctx *ctx = NULL;
	struct cw_dtls *d = NULL;
	char fp[CW_DTLS_FINGERPRINT_MAX];
	static const char *bad[] = {
		"",
		"sha-256",
		"sha-256 ",
		"md5 AB:CD",
		/* sha-1 is accepted nowhere: too weak to bind a certificate */
		"sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
		"sha-256 AB:CD:EF",
		"sha-256 AB:CD:EF:",
		"sha-256 zz:00",
	};

	(void)state;
	assert_int_equal(cw_dtls_ctx_new(&ctx, server_cert, CW_DTLS_SERVER, 0), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cw_dtls_new(&d, ctx, bad[i], T0), -EINVAL);
		assert_null(d);
	}
	assert_int_equal(cw_dtls_new(&d, ctx, NULL, T0), -EINVAL);
	/* Case does not matter, in the name or the digits; trailing space is tolerated. */
	snprintf(fp, sizeof(fp), "SHA-256 %s\r\n", cw_dtls_cert_fingerprint(client_cert) + 8);
	for (char *p = fp + 8; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	assert_int_equal(cw_dtls_new(&d, ctx, fp, T0), 0);
	cw_dtls_free(d);
	cw_dtls_ctx_free(ctx);
	assert_int_equal(cw_dtls_ctx_new(&ctx, server_cert, CW_DTLS_SERVER, 1u << 3), -EINVAL);
	assert_null(ctx);
}

/* Each of the four flights lost once in turn: the retransmission timer, driven by the
 * simulated clock, recovers it. The last one (the server's Finished) comes back because the
 * client retransmits its own flight and the connected server answers it again. */
static void test_lost_flight(void **state)
{
	(void)state;
	for (int lost = 0; lost < 4; lost++) {
		struct link l;

		link_open(&l, 0, 0, NULL, NULL);
		l.drop_flight = lost;
		run(&l, 30000);
		assert_int_equal(cw_dtls_state(l.srv), CW_DTLS_CONNECTED);
		assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CONNECTED);
		if (cw_dtls_timer_exact())
			assert_int_equal(l.now - T0, CW_DTLS_RTO_INITIAL_MS);
		else
			assert_true(l.now - T0 >= CW_DTLS_RTO_INITIAL_MS);
		assert_true(l.flights > 4);
		check_media(&l, CW_SRTP_AEAD_AES_128_GCM);
		print_message("  flight %d lost: connected at +%lld ms after %d flights\n",
			      lost + 1, (long long)(l.now - T0), l.flights);
		link_close(&l);
	}
}

/* Two losses in a row: the second retransmission waits twice as long. */
static void test_lost_twice(void **state)
{
	struct link l;

	(void)state;
	if (!cw_dtls_timer_exact())
		skip(); /* the deadlines are OpenSSL's wall clock's, not exactly these */
	link_open(&l, 0, 0, NULL, NULL);
	l.drop_flight = 0;
	assert_int_equal(carry(&l, l.cli, l.srv), 1); /* the ClientHello, lost */
	run(&l, 0);
	advance(&l, T0 + CW_DTLS_RTO_INITIAL_MS);
	assert_int_equal(cw_dtls_next_timeout(l.cli, l.now), T0 + CW_DTLS_RTO_INITIAL_MS);
	assert_int_equal(cw_dtls_handle_timeout(l.cli, l.now), 0);
	l.drop_flight = 1;
	assert_int_equal(carry(&l, l.cli, l.srv), 1); /* its retransmission, lost too */
	assert_int_equal(cw_dtls_next_timeout(l.cli, l.now), T0 + 3 * CW_DTLS_RTO_INITIAL_MS);
	run(&l, 30000);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CONNECTED);
	assert_int_equal(l.now - T0, 3 * CW_DTLS_RTO_INITIAL_MS);
	link_close(&l);
}

/* A peer that never answers: the flight goes out again at 0.5, 1, 2, 4, 4, … s until OpenSSL
 * gives up; meanwhile the caller can see how long the handshake has been pending. */
static void test_handshake_never_finishes(void **state)
{
	struct cw_dtls_ctx *ctx = NULL;
	struct cw_dtls *cli = NULL, *srv = NULL;
	unsigned char buf[CW_DTLS_MTU];
	int64_t now = T0, interval = CW_DTLS_RTO_INITIAL_MS;
	int sent = 0, resent = 0;

	(void)state;
	if (!cw_dtls_timer_exact())
		skip(); /* 44 s of real time with OpenSSL's wall clock */
	assert_int_equal(cw_dtls_ctx_new(&ctx, client_cert, CW_DTLS_CLIENT, 0), 0);
	assert_int_equal(cw_dtls_new(&cli, ctx, cw_dtls_cert_fingerprint(server_cert), T0), 0);
	while (cw_dtls_output(cli, buf, sizeof(buf)) > 0)
		sent++;
	assert_int_equal(sent, 1);
	while (cw_dtls_state(cli) == CW_DTLS_HANDSHAKING) {
		int64_t next = cw_dtls_next_timeout(cli, now);

		assert_int_equal(next - now, interval);
		/* Early calls change nothing. */
		assert_int_equal(cw_dtls_handle_timeout(cli, next - 1), 0);
		assert_int_equal(cw_dtls_output(cli, buf, sizeof(buf)), 0);
		now = next;
		assert_int_equal(cw_dtls_pending_ms(cli, now), now - T0);
		if (cw_dtls_handle_timeout(cli, now) != 0)
			break;
		assert_true(cw_dtls_output(cli, buf, sizeof(buf)) > 0);
		resent++;
		interval = interval * 2 > CW_DTLS_RTO_MAX_MS ? CW_DTLS_RTO_MAX_MS : interval * 2;
	}
	assert_int_equal(cw_dtls_state(cli), CW_DTLS_FAILED);
	assert_int_equal(cw_dtls_error(cli), CW_DTLS_E_TIMEOUT);
	assert_int_equal(resent, 12);
	assert_int_equal(now - T0, 500 + 1000 + 2000 + 10 * 4000);
	assert_int_equal(cw_dtls_pending_ms(cli, now), 0);
	assert_int_equal(cw_dtls_next_timeout(cli, now), CW_DTLS_NO_TIMEOUT);
	print_message("  %s: %s\n", cw_dtls_strerror(CW_DTLS_E_TIMEOUT), cw_dtls_error_detail(cli));
	cw_dtls_free(cli);
	cw_dtls_ctx_free(ctx);

	/* A server that never hears a ClientHello has no timer, only a pending time. */
	assert_int_equal(cw_dtls_ctx_new(&ctx, server_cert, CW_DTLS_SERVER, 0), 0);
	assert_int_equal(cw_dtls_new(&srv, ctx, cw_dtls_cert_fingerprint(client_cert), T0), 0);
	assert_int_equal(cw_dtls_next_timeout(srv, T0 + 7000), CW_DTLS_NO_TIMEOUT);
	assert_int_equal(cw_dtls_handle_timeout(srv, T0 + 7000), 0);
	assert_int_equal(cw_dtls_output(srv, buf, sizeof(buf)), 0);
	assert_int_equal(cw_dtls_pending_ms(srv, T0 + 7000), 7000);
	cw_dtls_free(srv);
	cw_dtls_ctx_free(ctx);
}

static void test_close_notify(void **state)
{
	struct link l;
	struct cw_srtp_keys k;

	(void)state;
	link_open(&l, 0, 0, NULL, NULL);
	run(&l, 0);
	assert_int_equal(cw_dtls_close(l.cli), 0);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CLOSED);
	assert_int_equal(carry(&l, l.cli, l.srv), 1); /* close_notify */
	assert_int_equal(cw_dtls_state(l.srv), CW_DTLS_CLOSED);
	assert_int_equal(carry(&l, l.srv, l.cli), 1); /* the answer, dropped by the closed client */
	assert_int_equal(cw_dtls_srtp_keys(l.srv, &k), -ENOTCONN);
	assert_int_equal(cw_dtls_error(l.srv), 0);
	link_close(&l);
}

/* A small MTU makes DTLS fragment the certificate messages; every datagram stays within it,
 * and a lost fragment is recovered like a lost flight. */
static void test_small_mtu(void **state)
{
	struct cw_dtls_ctx *ctx = NULL;
	struct link l;

	(void)state;
	link_mtu = CW_DTLS_MTU_MIN;
	link_open(&l, 0, 0, NULL, NULL);
	run(&l, 0);
	assert_int_equal(cw_dtls_state(l.srv), CW_DTLS_CONNECTED);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CONNECTED);
	assert_int_equal(l.flights, 4);
	assert_true(l.datagrams > 6);
	assert_true(l.max_datagram <= CW_DTLS_MTU_MIN);
	check_media(&l, CW_SRTP_AEAD_AES_128_GCM);
	print_message("  MTU %d: %zu datagrams in 4 flights, largest %zu bytes\n", CW_DTLS_MTU_MIN,
		      l.datagrams, l.max_datagram);
	link_close(&l);

	link_open(&l, 0, 0, NULL, NULL);
	l.drop_flight = 1; /* the server's certificate flight, in fragments */
	run(&l, 30000);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CONNECTED);
	assert_true(l.max_datagram <= CW_DTLS_MTU_MIN);
	link_close(&l);
	link_mtu = CW_DTLS_MTU;

	assert_int_equal(cw_dtls_ctx_new(&ctx, server_cert, CW_DTLS_SERVER, 0), 0);
	assert_int_equal(cw_dtls_ctx_set_mtu(ctx, CW_DTLS_MTU_MIN - 1), -EINVAL);
	assert_int_equal(cw_dtls_ctx_set_mtu(ctx, CW_DTLS_MTU_MAX + 1), -EINVAL);
	cw_dtls_ctx_free(ctx);
}

static void test_output_too_small(void **state)
{
	struct cw_dtls_ctx *ctx = NULL;
	struct cw_dtls *cli = NULL;
	unsigned char buf[16];
	struct cw_srtp_keys k;

	(void)state;
	assert_int_equal(cw_dtls_ctx_new(&ctx, client_cert, CW_DTLS_CLIENT, 0), 0);
	assert_int_equal(cw_dtls_new(&cli, ctx, cw_dtls_cert_fingerprint(server_cert), T0), 0);
	assert_int_equal(cw_dtls_srtp_keys(cli, &k), -ENOTCONN);
	assert_int_equal(cw_dtls_output(cli, buf, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(cw_dtls_output(cli, buf, sizeof(buf)), 0);
	cw_dtls_free(cli);
	cw_dtls_ctx_free(ctx);
}

/* ---- Garbage ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* Random bytes; or a DTLS 1.2 record header (sometimes with a handshake message header)
 * over random bytes, so that parsing goes past the first checks. */
static size_t garbage(uint8_t *p)
{
	size_t len = rnd() % 1400;
	int shape = (int)(rnd() % 3);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
	if (shape == 0 || len < 25)
		return len;
	p[0] = (uint8_t)(20 + rnd() % 4);
	p[1] = 0xfe;
	p[2] = rnd() % 2 ? 0xfd : 0xff;
	p[3] = 0;
	p[4] = (uint8_t)(rnd() % 2);
	if (rnd() % 4 != 0) {
		p[11] = (uint8_t)((len - 13) >> 8);
		p[12] = (uint8_t)(len - 13);
	}
	if (shape == 2) {
		size_t body = len - 25;

		p[0] = 22;
		p[13] = (uint8_t)(rnd() % 4 ? 1 + rnd() % 20 : 1);
		p[14] = 0;
		p[15] = (uint8_t)(body >> 8);
		p[16] = (uint8_t)body;
		p[17] = 0;
		p[18] = (uint8_t)(rnd() % 3);
		memset(p + 19, 0, 3);
		p[22] = p[14];
		p[23] = p[15];
		p[24] = p[16];
	}
	return len;
}

static void feed_garbage(struct cw_dtls *d, int count)
{
	uint8_t buf[1500], out[CW_DTLS_MTU];

	for (int i = 0; i < count; i++) {
		size_t len = garbage(buf);
		int r = cw_dtls_input(d, buf, len, T0 + i);
		int n;

		assert_true(r == 0 || (r <= CW_DTLS_E_FINGERPRINT && r >= CW_DTLS_E_CLOSED));
		while ((n = cw_dtls_output(d, out, sizeof(out))) > 0)
			;
		assert_int_equal(n, 0);
	}
}

static void test_garbage(void **state)
{
	struct cw_dtls_ctx *sctx = NULL, *cctx = NULL;
	struct cw_srtp_keys before, after;
	int failed = 0;
	struct link l;

	(void)state;
	assert_int_equal(cw_dtls_ctx_new(&sctx, server_cert, CW_DTLS_SERVER, 0), 0);
	assert_int_equal(cw_dtls_ctx_new(&cctx, client_cert, CW_DTLS_CLIENT, 0), 0);
	/* A server waiting for a ClientHello and a client waiting for the server's flight;
	 * a malformed handshake message may end the handshake, never the process. */
	for (int round = 0; round < 40; round++) {
		struct cw_dtls *srv = NULL, *cli = NULL;

		assert_int_equal(cw_dtls_new(&srv, sctx, cw_dtls_cert_fingerprint(client_cert), T0),
				 0);
		assert_int_equal(cw_dtls_new(&cli, cctx, cw_dtls_cert_fingerprint(server_cert), T0),
				 0);
		feed_garbage(srv, 100);
		feed_garbage(cli, 100);
		failed += cw_dtls_state(srv) == CW_DTLS_FAILED;
		failed += cw_dtls_state(cli) == CW_DTLS_FAILED;
		cw_dtls_free(srv);
		cw_dtls_free(cli);
	}
	cw_dtls_ctx_free(sctx);
	cw_dtls_ctx_free(cctx);
	print_message("  8000 garbage datagrams to fresh endpoints: %d of 80 failed\n", failed);

	/* Connected endpoints drop what does not authenticate and stay connected. */
	link_open(&l, 0, 0, NULL, NULL);
	run(&l, 0);
	assert_int_equal(cw_dtls_srtp_keys(l.srv, &before), 0);
	feed_garbage(l.srv, 2000);
	feed_garbage(l.cli, 2000);
	assert_int_equal(cw_dtls_state(l.srv), CW_DTLS_CONNECTED);
	assert_int_equal(cw_dtls_state(l.cli), CW_DTLS_CONNECTED);
	assert_int_equal(cw_dtls_srtp_keys(l.srv, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	link_close(&l);
}

/* ---- SRTP without DTLS ---- */

static void fixed_keys(enum cw_srtp_profile profile, struct cw_srtp_keys *a, struct cw_srtp_keys *b)
{
	memset(a, 0, sizeof(*a));
	a->profile = profile;
	for (int i = 0; i < CW_SRTP_KEY_LEN; i++) {
		a->local_key[i] = (uint8_t)(i + 1);
		a->remote_key[i] = (uint8_t)(0xf0 - i);
	}
	for (int i = 0; i < CW_SRTP_SALT_MAX; i++) {
		a->local_salt[i] = (uint8_t)(0x40 + i);
		a->remote_salt[i] = (uint8_t)(0x80 + i);
	}
	*b = *a;
	memcpy(b->local_key, a->remote_key, CW_SRTP_KEY_LEN);
	memcpy(b->local_salt, a->remote_salt, CW_SRTP_SALT_MAX);
	memcpy(b->remote_key, a->local_key, CW_SRTP_KEY_LEN);
	memcpy(b->remote_salt, a->local_salt, CW_SRTP_SALT_MAX);
}

/* Packets up to CW_SRTP_REPLAY_WINDOW behind the newest are still accepted once (a NACKed
 * retransmission arriving late); older ones are refused as such. */
static void replay_window(enum cw_srtp_profile profile)
{
	struct cw_srtp_keys ka, kb;
	struct cw_srtp *tx = NULL, *rx = NULL;
	uint8_t plain[BUF_SIZE], pkt[BUF_SIZE], late[BUF_SIZE], old[BUF_SIZE];
	size_t late_len = 0, old_len = 0, plain_len = 0;

	fixed_keys(profile, &ka, &kb);
	assert_int_equal(cw_srtp_new(&tx, &ka), 0);
	assert_int_equal(cw_srtp_new(&rx, &kb), 0);
	for (uint16_t seq = 1; seq <= 1100; seq++) {
		size_t len = plain_len = make_rtp(plain, seq, 0xcafe, 100, false);
		size_t slen = protect(tx, false, plain, len, pkt);

		if (seq == 10) {
			memcpy(old, pkt, slen);
			old_len = slen;
		} else if (seq == 150) {
			memcpy(late, pkt, slen);
			late_len = slen;
		} else {
			assert_int_equal(cw_srtp_unprotect(rx, pkt, slen), (int)len);
		}
	}
	assert_int_equal(cw_srtp_unprotect(rx, late, late_len), (int)plain_len);
	assert_int_equal(cw_srtp_unprotect(rx, old, old_len), CW_SRTP_E_REPLAY_OLD);
	cw_srtp_free(tx);
	cw_srtp_free(rx);
}

static void test_srtp_replay_window(void **state)
{
	(void)state;
	replay_window(CW_SRTP_AEAD_AES_128_GCM);
	replay_window(CW_SRTP_AES128_CM_SHA1_80);
}

/* What is not RTP, lacks room or was never protected is refused without a crash. */
static void test_srtp_bad_input(void **state)
{
	static const enum cw_srtp_profile profiles[] = {CW_SRTP_AEAD_AES_128_GCM,
							CW_SRTP_AES128_CM_SHA1_80};
	uint8_t pkt[BUF_SIZE];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct cw_srtp_keys ka, kb;
		struct cw_srtp *tx = NULL, *rx = NULL;
		size_t len;

		fixed_keys(profiles[i], &ka, &kb);
		assert_int_equal(cw_srtp_new(&tx, &ka), 0);
		assert_int_equal(cw_srtp_new(&rx, &kb), 0);

		len = make_rtp(pkt, 1, 1, 100, false);
		assert_int_equal(cw_srtp_protect(tx, pkt, len, len + CW_SRTP_TRAILER_MAX - 1),
				 -ENOSPC);
		assert_int_equal(cw_srtp_protect(tx, pkt, 11, BUF_SIZE), -EINVAL);
		assert_int_equal(cw_srtp_protect_rtcp(tx, pkt, 7, BUF_SIZE), -EINVAL);
		pkt[0] = 0x40; /* version 1 */
		assert_int_equal(cw_srtp_protect(tx, pkt, len, BUF_SIZE), -EINVAL);
		assert_int_equal(cw_srtp_unprotect(rx, pkt, len), -EINVAL);
		pkt[0] = 0x8f; /* 15 CSRCs: 72 bytes of header */
		assert_int_equal(cw_srtp_unprotect(rx, pkt, 40), -EINVAL);
		len = make_rtp(pkt, 1, 1, 0, true);
		pkt[14] = 0xff; /* an extension longer than the packet */
		assert_int_equal(cw_srtp_unprotect(rx, pkt, len), -EINVAL);

		/* Never protected: random bytes behind an RTP or RTCP header. */
		for (int round = 0; round < 500; round++) {
			len = 12 + rnd() % 1200;
			for (size_t j = 0; j < len; j++)
				pkt[j] = (uint8_t)rnd();
			pkt[0] = 0x80;
			assert_true(cw_srtp_unprotect(rx, pkt, len) < 0);
			pkt[1] = 200;
			assert_true(cw_srtp_unprotect_rtcp(rx, pkt, len) < 0);
		}
		pkt[0] = 0x80;
		assert_int_equal(cw_srtp_unprotect(rx, pkt, 100), CW_SRTP_E_AUTH);
		cw_srtp_free(tx);
		cw_srtp_free(rx);
	}
	assert_int_equal(
		cw_srtp_new(&(struct cw_srtp *){NULL}, &(struct cw_srtp_keys){.profile = 2}),
		-EINVAL);
}

static void test_names(void **state)
{
	(void)state;
#define CHECK_DTLS(name, value, text) assert_string_equal(cw_dtls_strerror(value), text);
	CW_DTLS_ERR_MAP(CHECK_DTLS)
#undef CHECK_DTLS
#define CHECK_SRTP(name, value, text) assert_string_equal(cw_srtp_strerror(value), text);
	CW_SRTP_ERR_MAP(CHECK_SRTP)
#undef CHECK_SRTP
	assert_string_equal(cw_srtp_profile_name(CW_SRTP_AEAD_AES_128_GCM),
			    "SRTP_AEAD_AES_128_GCM");
	assert_int_equal(cw_srtp_salt_len(CW_SRTP_AES128_CM_SHA1_80), 14);
	assert_int_equal(cw_srtp_salt_len(CW_SRTP_AEAD_AES_128_GCM), 12);
	assert_true(cw_dtls_is_record("\x16", 1));
	assert_true(cw_dtls_is_record("\x3f", 1));
	assert_false(cw_dtls_is_record("\x00", 1));
	assert_false(cw_dtls_is_record("\x80", 1));
	assert_false(cw_dtls_is_record("\x40", 1));
	assert_false(cw_dtls_is_record("", 0));
}

static int setup(void **state)
{
	(void)state;
	if (cw_dtls_cert_new(&server_cert) != 0 || cw_dtls_cert_new(&client_cert) != 0 ||
	    cw_dtls_cert_new(&other_cert) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cw_dtls_cert_free(server_cert);
	cw_dtls_cert_free(client_cert);
	cw_dtls_cert_free(other_cert);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_handshake_gcm),
		cmocka_unit_test(test_handshake_aes_cm),
		cmocka_unit_test(test_gcm_preferred),
		cmocka_unit_test(test_no_common_profile),
		cmocka_unit_test(test_client_rejects_wrong_fingerprint),
		cmocka_unit_test(test_server_rejects_wrong_fingerprint),
		cmocka_unit_test(test_fingerprint_forms),
		cmocka_unit_test(test_lost_flight),
		cmocka_unit_test(test_lost_twice),
		cmocka_unit_test(test_handshake_never_finishes),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_small_mtu),
		cmocka_unit_test(test_output_too_small),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_srtp_replay_window),
		cmocka_unit_test(test_srtp_bad_input),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
