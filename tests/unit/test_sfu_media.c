/* A media worker carrying DTLS-SRTP media between in-test "browsers" over loopback UDP:
 * real ICE checks, real DTLS handshakes, real SRTP, what is refused and counted, and the
 * events the control plane hears. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtc/dtls.h"
#include "rtc/rtcp.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"
#include "sfu/sfu.h"
#include "sfu_client.h"

struct world {
	struct cw_sfu *sfu;
	struct cw_dtls_cert *cert, *wrong_cert;
	struct client a, b;
};

static struct world world;

/* A CW_SFU_BOTH client of its own participant in room, presenting cert while the server
 * is told to expect announced_fp; it accepts only the server's profiles in `profiles`. */
static void open_both(struct client *c, const char *name, const char *ufrag, const char *room,
		      const struct cw_dtls_cert *cert, const char *announced_fp, unsigned profiles)
{
	const struct client_opts o = {
		.room = room, .cert = cert, .announced_fp = announced_fp, .profiles = profiles};

	client_open(c, world.sfu, name, ufrag, &o);
}

static struct cw_sfu_stats stats(void)
{
	return sfu_stats(world.sfu);
}

/* ---- The group: one worker, clients A and B in room r1 ---- */

static int setup(void **state)
{
	struct cw_sfu_config cfg = {.bind_ip = "127.0.0.1", .workers = 1, .wake = events_wake};
	const char *fp;

	memset(&world, 0, sizeof(world));
	events_start();
	assert_int_equal(cw_sfu_start(&world.sfu, &cfg), 0);
	assert_int_equal(strncmp(cw_sfu_fingerprint(world.sfu), "sha-256 ", 8), 0);
	assert_int_equal(cw_dtls_cert_new(&world.cert), 0);
	assert_int_equal(cw_dtls_cert_new(&world.wrong_cert), 0);
	fp = cw_dtls_cert_fingerprint(world.cert);
	/* A offers both profiles (the worker picks GCM), B only AES-CM: forwarding re-protects
	 * across profiles. */
	open_both(&world.a, "A", "cliA", "r1", world.cert, fp, 0);
	open_both(&world.b, "B", "cliB", "r1", world.cert, fp,
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
	events_stop();
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

static void completed_handshakes_are_reported_connected(void **state)
{
	struct world *w = *state;

	assert_true(wait_event(w->sfu, CW_SFU_EV_CONNECTED, "cliA", DEADLINE_MS));
	assert_true(wait_event(w->sfu, CW_SFU_EV_CONNECTED, "cliB", DEADLINE_MS));
	assert_true(events_wakes() >= 1);
}

static void a_keyframe_request_reaches_the_publisher(void **state)
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

	open_both(&c, "C", "cliC", "r2", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
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

	open_both(&d, "D", "cliD", "r1", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
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

	open_both(&f, "F", "cliF", "r3", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
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
	open_both(&e, "E", "cliE", "r1", w->wrong_cert, cw_dtls_cert_fingerprint(w->cert), 0);
	sync_ice(&e);
	assert_int_not_equal(handshake(&e), CW_DTLS_CONNECTED);
	end = now_ms() + DEADLINE_MS;
	while (stats().dtls_failed == before.dtls_failed && now_ms() < end)
		pump(&e, 10);
	assert_int_equal(stats().dtls_failed - before.dtls_failed, 1);
	assert_int_equal(stats().dtls_connected, before.dtls_connected);
	assert_true(wait_event(w->sfu, CW_SFU_EV_FAILED, "cliE", DEADLINE_MS));
	had = received_from(&w->b, &w->a);
	send_rtp(&w->a, 3000, 10);
	assert_int_equal(receive_from(&w->b, &w->a, had + 10), had + 10);
	drain(&e, 100);
	assert_int_equal(e.rtp + e.srtp_errors, 0);
	assert_int_equal(cw_sfu_remove_peer(e.sfu, 0, "cliE"), 0);
	client_close(&e);
}

static void a_peer_that_closes_dtls_is_gone_and_gets_no_more_media(void **state)
{
	struct world *w = *state;
	unsigned had = received_from(&w->b, &w->a);
	struct client g;

	open_both(&g, "G", "cliG", "r1", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	client_connect(&g);
	assert_true(wait_event(w->sfu, CW_SFU_EV_CONNECTED, "cliG", DEADLINE_MS));
	send_rtp(&w->a, 5000, 3);
	assert_int_equal(receive_from(&g, &w->a, 3), 3);
	/* The browser closes the connection: close_notify. */
	assert_int_equal(cw_dtls_close(g.dtls), 0);
	dtls_send(&g);
	assert_true(wait_event(w->sfu, CW_SFU_EV_GONE, "cliG", DEADLINE_MS));
	send_rtp(&w->a, 5003, 5);
	assert_int_equal(receive_from(&w->b, &w->a, had + 8), had + 8);
	drain(&g, 50);
	assert_int_equal(received_from(&g, &w->a), 3);
	assert_int_equal(cw_sfu_remove_peer(w->sfu, 0, "cliG"), 0);
	client_close(&g);
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
	struct cw_sfu_config cfg = {.bind_ip = "127.0.0.1",
				    .workers = 1,
				    .consent_timeout_ms = 600,
				    .wake = events_wake};
	struct world *w = *state, saved = *w;
	struct client p, q;
	int64_t end;
	struct cw_sfu_stats st;
	uint64_t forwarded, not_ready;

	(void)saved;
	assert_int_equal(cw_sfu_start(&w->sfu, &cfg), 0);
	open_both(&p, "P", "cliP", "c", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
	open_both(&q, "Q", "cliQ", "c", w->cert, cw_dtls_cert_fingerprint(w->cert), 0);
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
	assert_true(wait_event(w->sfu, CW_SFU_EV_GONE, "cliQ", DEADLINE_MS));
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
		cmocka_unit_test(completed_handshakes_are_reported_connected),
		cmocka_unit_test(a_keyframe_request_reaches_the_publisher),
		cmocka_unit_test(a_peer_of_another_room_receives_nothing),
		cmocka_unit_test(forged_and_replayed_srtp_is_counted_and_not_forwarded),
		cmocka_unit_test(dtls_from_an_address_that_passed_no_check_is_dropped),
		cmocka_unit_test(a_wrong_certificate_fails_the_handshake_and_gets_no_media),
		cmocka_unit_test(the_worker_retransmits_a_lost_handshake_flight),
		cmocka_unit_test(a_peer_that_closes_dtls_is_gone_and_gets_no_more_media),
		cmocka_unit_test(a_peer_without_consent_stops_receiving_and_sending),
		cmocka_unit_test(a_removed_peer_gets_no_more_media),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
