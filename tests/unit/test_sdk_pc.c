/* The SDK's peer connection transport against the real SFU in-process, over loopback: ICE,
 * DTLS and SRTP up to CONNECTED, media from a publisher to a subscriber, losses repaired by
 * NACK, keyframe requests, RTT, garbage ignored, a silent server failing the checks. */
#include <arpa/inet.h>
#include <netinet/in.h>
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

#include "callwire/callwire.h"
#include "media.h"
#include "rtc/dtls.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"
#include "sfu/sfu.h"

#define DEADLINE_MS 5000
#define VIDEO_SSRC 0xA1B2C3D4u
#define VIDEO_PT 96
#define PAYLOAD_LEN 100
#define PCS_MAX 4

/* What one pc's callbacks saw. */
struct peer {
	struct cw__pc *pc;
	enum cw__pc_state states[16];
	unsigned nstates;
	unsigned rtp, bad_payload, pli, fir;
	uint32_t pli_ssrc;
	uint16_t last_seq;
	uint8_t last_pt;
};

static struct {
	struct cw_sfu *sfu;
	struct cw_dtls_cert *cert;
	struct cw_dtls_ctx *ctx;
	struct cw_sfu_media_map map;
	struct peer pub, sub, silent;
	int silent_fd; /* the server that never answers */
	int64_t silent_started;
	uint16_t seq;
	struct peer *all[PCS_MAX];
	unsigned nall;
} w;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint8_t payload_byte(uint16_t seq, size_t i)
{
	return (uint8_t)(seq * 13u + i * 7u);
}

static void on_state(struct cw__pc *pc, enum cw__pc_state state, void *arg)
{
	struct peer *p = arg;

	(void)pc;
	if (p->nstates < 16)
		p->states[p->nstates++] = state;
}

static void on_rtp(struct cw__pc *pc, const uint8_t *pkt, size_t len, int64_t t, void *arg)
{
	struct peer *p = arg;
	struct cw_rtp rtp;
	bool ok;

	(void)pc;
	(void)t;
	assert_int_equal(cw_rtp_parse(&rtp, pkt, len), 0);
	ok = rtp.payload_len == PAYLOAD_LEN;
	for (size_t i = 0; ok && i < PAYLOAD_LEN; i++)
		ok = pkt[rtp.payload_off + i] == payload_byte(rtp.seq, i);
	p->bad_payload += !ok;
	p->rtp++;
	p->last_seq = rtp.seq;
	p->last_pt = rtp.pt;
}

static void on_feedback(struct cw__pc *pc, enum cw__pc_feedback fb, uint32_t ssrc, void *arg)
{
	struct peer *p = arg;

	(void)pc;
	if (fb == CW__PC_PLI) {
		p->pli++;
		p->pli_ssrc = ssrc;
	} else {
		p->fir++;
	}
}

/* A minimal ICE-lite DTLS server of the test's own (fake_*), for what the SFU never does:
 * NACK a publisher, send receiver reports, send checks. */
struct fake {
	int fd;
	struct sockaddr_storage peer;
	struct cw_dtls *dtls;
	struct cw_srtp *srtp;
	uint16_t lose[4]; /* RTP of these numbers is thrown away unread, as if lost */
	unsigned nlose;
	unsigned rtp, srtp_errors;
	uint16_t seen[64];
	unsigned nseen;
	uint32_t sr_lsr; /* of the last SR that came */
	int64_t sr_ms;	 /* when; 0: none */
	uint8_t want_tid[CW_STUN_TID_LEN];
	bool answered, mapped_ok;
};

static struct fake *fake;

static void fake_read(int64_t t);

/* One turn of the loop: every pc's timer, then a poll of their sockets (and the fake
 * server's) until the earliest deadline (at most max_ms), then the readable ones (and their
 * timers again). */
static void turn(int max_ms)
{
	struct pollfd fds[PCS_MAX + 1];
	int64_t t = now_ms(), due = t + max_ms;
	unsigned n = w.nall;

	for (unsigned i = 0; i < w.nall; i++) {
		int64_t d = cw__pc_timer(w.all[i]->pc, t);
		due = d < due ? d : due;
		fds[i] = (struct pollfd){.fd = cw__pc_fd(w.all[i]->pc), .events = POLLIN};
	}
	if (fake) {
		int64_t d = fake->dtls ? cw_dtls_next_timeout(fake->dtls, t) : INT64_MAX;
		due = d < due ? d : due;
		fds[n++] = (struct pollfd){.fd = fake->fd, .events = POLLIN};
	}
	poll(fds, n, due > t ? (int)(due - t) : 0);
	t = now_ms();
	for (unsigned i = 0; i < w.nall; i++) {
		if (fds[i].revents & POLLIN) {
			cw__pc_readable(w.all[i]->pc, t);
			cw__pc_timer(w.all[i]->pc, t);
		}
	}
	if (fake)
		fake_read(t);
}

/* Runs the loop until cond holds or timeout_ms passed; returns cond. */
static bool run_until(bool (*cond)(void), int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	while (!cond() && now_ms() < end)
		turn((int)(end - now_ms()));
	return cond();
}

static void run_for(int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end)
		turn((int)(end - now_ms()));
}

static struct cw__pc_stats stats_of(const struct peer *p)
{
	struct cw__pc_stats st;

	cw__pc_get_stats(p->pc, &st);
	return st;
}

static void sockaddr_loopback(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in->sin_port = htons(port);
}

/* Adds the server's side of a peer (ufrag srv; dir CW_SFU_BOTH: none) and opens our pc
 * towards port (ufrag cli). */
static void open_pc(struct peer *p, const char *srv, const char *cli, enum cw_sfu_dir dir,
		    const char *participant, uint16_t port)
{
	char srv_pwd[64], cli_pwd[64];
	struct cw_sfu_peer_params sp = {.ufrag = srv,
					.pwd = srv_pwd,
					.room = "room",
					.remote_fingerprint = cw_dtls_cert_fingerprint(w.cert),
					.role = CW_DTLS_SERVER,
					.dir = dir,
					.participant = participant,
					.map = dir == CW_SFU_PUBLISH ? &w.map : NULL};
	struct cw__pc_params par = {.ncandidates = 1,
				    .local_ufrag = cli,
				    .local_pwd = cli_pwd,
				    .remote_ufrag = srv,
				    .remote_pwd = srv_pwd,
				    .remote_fingerprint = cw_sfu_fingerprint(w.sfu),
				    .dtls = w.ctx,
				    .cb = {on_state, on_rtp, on_feedback},
				    .arg = p};

	snprintf(srv_pwd, sizeof(srv_pwd), "%sserverpassword0123456789", srv);
	snprintf(cli_pwd, sizeof(cli_pwd), "%sclientpassword0123456789", cli);
	if (dir != CW_SFU_BOTH)
		assert_int_equal(cw_sfu_add_peer_v2(w.sfu, 0, &sp), 0);
	sockaddr_loopback(&par.candidates[0], port);
	memset(p, 0, sizeof(*p));
	assert_int_equal(cw__pc_new(&p->pc, &par, now_ms()), 0);
	assert_int_equal(cw__pc_get_state(p->pc), CW__PC_CHECKING);
	w.all[w.nall++] = p;
}

static bool both_connected(void)
{
	return cw__pc_get_state(w.pub.pc) == CW__PC_CONNECTED &&
	       cw__pc_get_state(w.sub.pc) == CW__PC_CONNECTED;
}

static int setup(void **state)
{
	struct cw_sfu_config cfg = {.bind_ip = "127.0.0.1", .workers = 1};
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(cw_sfu_start(&w.sfu, &cfg), 0);
	assert_int_equal(cw_dtls_cert_new(&w.cert), 0);
	assert_int_equal(cw_dtls_ctx_new(&w.ctx, w.cert, CW_DTLS_CLIENT, 0), 0);
	w.map.pt[VIDEO_PT].to = VIDEO_PT;
	w.map.pt[VIDEO_PT].kind = CW_SFU_KIND_VIDEO;

	/* The silent server first: its check timeout runs while the other tests do. */
	w.silent_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(w.silent_fd >= 0);
	sockaddr_loopback(&bound, 0);
	assert_int_equal(bind(w.silent_fd, (struct sockaddr *)&bound, sizeof(struct sockaddr_in)),
			 0);
	assert_int_equal(getsockname(w.silent_fd, (struct sockaddr *)&bound, &blen), 0);
	open_pc(&w.silent, "mute", "cliM", CW_SFU_BOTH, NULL,
		ntohs(((struct sockaddr_in *)&bound)->sin_port));
	w.silent_started = now_ms();

	open_pc(&w.pub, "srvP", "cliP", CW_SFU_PUBLISH, "alice", cw_sfu_port(w.sfu, 0));
	open_pc(&w.sub, "srvS", "cliS", CW_SFU_SUBSCRIBE, "bob", cw_sfu_port(w.sfu, 0));
	assert_int_equal(cw__pc_add_send_ssrc(w.pub.pc, VIDEO_SSRC, 90000), 0);
	assert_int_equal(cw__pc_add_recv_ssrc(w.sub.pc, VIDEO_SSRC, 90000, true), 0);
	w.seq = 1000;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < w.nall; i++)
		cw__pc_free(w.all[i]->pc);
	close(w.silent_fd);
	cw_sfu_stop(w.sfu);
	cw_dtls_ctx_free(w.ctx);
	cw_dtls_cert_free(w.cert);
	return 0;
}

/* Sends the publisher's next video packet. */
static void publish(void)
{
	uint8_t pkt[12 + PAYLOAD_LEN + CW_SRTP_TRAILER_MAX];
	uint16_t seq = w.seq++;
	uint32_t ts = seq * 3000u;

	memset(pkt, 0, 12);
	pkt[0] = 0x80;
	pkt[1] = VIDEO_PT;
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		pkt[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		pkt[8 + i] = (uint8_t)(VIDEO_SSRC >> (24 - 8 * i));
	}
	for (size_t i = 0; i < PAYLOAD_LEN; i++)
		pkt[12 + i] = payload_byte(seq, i);
	assert_int_equal(cw__pc_send_rtp(w.pub.pc, pkt, 12 + PAYLOAD_LEN, sizeof(pkt), now_ms()),
			 0);
}

static unsigned want_rtp;

static bool sub_has_rtp(void)
{
	return w.sub.rtp >= want_rtp;
}

static void both_connect_through_ice_and_dtls(void **state)
{
	uint8_t pkt[256] = {0x80, VIDEO_PT};

	(void)state;
	/* Nothing to send on before the keys exist. */
	assert_int_equal(cw__pc_send_rtp(w.pub.pc, pkt, 12, sizeof(pkt), now_ms()),
			 CW_ERR_INVALID_STATE);
	assert_true(run_until(both_connected, DEADLINE_MS));
	assert_int_equal(w.pub.nstates, 2);
	assert_int_equal(w.pub.states[0], CW__PC_DTLS);
	assert_int_equal(w.pub.states[1], CW__PC_CONNECTED);
	assert_int_equal(w.sub.states[w.sub.nstates - 1], CW__PC_CONNECTED);
}

static void media_arrives_decrypted_at_the_subscriber(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++)
		publish();
	want_rtp = 20;
	assert_true(run_until(sub_has_rtp, DEADLINE_MS));
	assert_int_equal(w.sub.bad_payload, 0);
	assert_int_equal(w.sub.last_pt, VIDEO_PT);
	assert_int_equal(w.sub.last_seq, (uint16_t)(w.seq - 1));
	assert_int_equal(stats_of(&w.pub).packets_sent, 20);
	assert_int_equal(stats_of(&w.sub).packets_received, 20);
	assert_int_equal(stats_of(&w.sub).srtp_errors, 0);
}

static bool nothing_missing(void)
{
	struct cw__pc_stats st = stats_of(&w.sub);

	/* Every number asked for either came or was given up on, and the rest arrived. */
	return st.recovered + st.lost >= st.nack_seqs && w.sub.rtp + st.lost >= want_rtp;
}

static void losses_are_repaired_by_nack(void **state)
{
	struct cw__pc_stats before = stats_of(&w.sub), st;
	struct cw_sfu_stats sfu;
	unsigned had = w.sub.rtp;

	(void)state;
	cw__pc_set_rx_drop(w.sub.pc, 50, 12345);
	/* 600 packets, 20 at a time with the loop turning in between (about 2 s of video). */
	for (int i = 0; i < 30; i++) {
		for (int k = 0; k < 20; k++)
			publish();
		run_for(5);
	}
	want_rtp = had + 600;
	assert_true(run_until(nothing_missing, DEADLINE_MS));
	cw__pc_set_rx_drop(w.sub.pc, 0, 0);
	st = stats_of(&w.sub);
	cw_sfu_get_stats(w.sfu, &sfu);
	print_message("dropped %llu, asked %llu in %llu NACKs, recovered %llu, lost %llu; "
		      "server retransmitted %llu\n",
		      (unsigned long long)(st.dropped_by_test - before.dropped_by_test),
		      (unsigned long long)(st.nack_seqs - before.nack_seqs),
		      (unsigned long long)(st.nack_sent - before.nack_sent),
		      (unsigned long long)(st.recovered - before.recovered),
		      (unsigned long long)(st.lost - before.lost),
		      (unsigned long long)sfu.rtp_retransmitted);
	/* 5 % of 600 and of the retransmissions. */
	assert_true(st.dropped_by_test - before.dropped_by_test >= 10);
	assert_true(st.nack_sent > before.nack_sent);
	assert_true(st.nack_seqs - before.nack_seqs >= 10);
	assert_true(sfu.rtp_retransmitted >= st.recovered - before.recovered);
	/* Four tries each, 5 % loss each time: practically all come back. */
	assert_true((st.recovered - before.recovered) * 10 >=
		    (st.nack_seqs - before.nack_seqs) * 9);
	assert_true(w.sub.rtp - had + (st.lost - before.lost) >= 600);
	assert_int_equal(w.sub.bad_payload, 0);
	assert_int_equal(st.srtp_errors, 0);
}

static bool pub_got_pli(void)
{
	return w.pub.pli > 0;
}

static void a_keyframe_request_reaches_the_publisher(void **state)
{
	(void)state;
	assert_int_equal(cw__pc_request_keyframe(w.sub.pc, VIDEO_SSRC), 0);
	assert_true(run_until(pub_got_pli, DEADLINE_MS));
	assert_int_equal(w.pub.pli_ssrc, VIDEO_SSRC);
	assert_int_equal(stats_of(&w.sub).pli_sent, 1);
	assert_int_equal(stats_of(&w.pub).pli_received, 1);
}

static void garbage_is_counted_and_ignored(void **state)
{
	struct sockaddr_storage to, local;
	socklen_t llen = sizeof(local);
	struct cw__pc_stats before = stats_of(&w.sub);
	uint8_t junk[300];
	uint8_t stun[CW_STUN_HEADER_LEN] = {0x01, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned had = w.sub.rtp;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(getsockname(cw__pc_fd(w.sub.pc), (struct sockaddr *)&local, &llen), 0);
	sockaddr_loopback(&to, ntohs(((struct sockaddr_in *)&local)->sin_port));
	/* Bytes of no protocol, DTLS-, RTP- and RTCP-looking ones from a stranger, and a
	 * STUN success answering no transaction of ours. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	const uint8_t firsts[] = {0xff, 22, 0x80, 0x80};
	for (size_t i = 0; i < sizeof(firsts); i++) {
		junk[0] = firsts[i];
		junk[1] = i == 3 ? 200 : 96;
		assert_true(sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&to,
				   sizeof(struct sockaddr_in)) > 0);
	}
	assert_true(sendto(fd, stun, sizeof(stun), 0, (struct sockaddr *)&to,
			   sizeof(struct sockaddr_in)) > 0);
	assert_true(sendto(fd, junk, 1, 0, (struct sockaddr *)&to, sizeof(struct sockaddr_in)) > 0);
	close(fd);
	/* Media still flows afterwards. */
	for (int i = 0; i < 5; i++)
		publish();
	want_rtp = had + 5;
	assert_true(run_until(sub_has_rtp, DEADLINE_MS));
	assert_true(stats_of(&w.sub).dropped - before.dropped >= 6);
	assert_int_equal(stats_of(&w.sub).srtp_errors, 0);
	assert_int_equal(cw__pc_get_state(w.sub.pc), CW__PC_CONNECTED);
	assert_int_equal(w.sub.bad_payload, 0);
}

static bool rtt_known(void)
{
	return stats_of(&w.pub).rtt_ms >= 0 && stats_of(&w.sub).rtt_ms >= 0;
}

static void rtt_becomes_known(void **state)
{
	(void)state;
	/* The SFU sends no receiver reports of its own: RTT comes from the consent checks. */
	assert_true(run_until(rtt_known, 7000));
	assert_true(stats_of(&w.pub).rtt_ms < 100);
}

/* ---- the fake server ---- */

#define FAKE_PWD "fakeserverpassword0123456789"
#define FAKE_SSRC 0x5EED0001u

static void fake_send(const void *buf, size_t len)
{
	assert_true(sendto(fake->fd, buf, len, 0, (const struct sockaddr *)&fake->peer,
			   sizeof(struct sockaddr_in)) == (ssize_t)len);
}

static void fake_flush(int64_t t)
{
	struct cw_srtp_keys keys;
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	if (cw_dtls_next_timeout(fake->dtls, t) <= t)
		cw_dtls_handle_timeout(fake->dtls, t);
	while ((n = cw_dtls_output(fake->dtls, buf, sizeof(buf))) > 0)
		fake_send(buf, (size_t)n);
	if (cw_dtls_state(fake->dtls) == CW_DTLS_CONNECTED && !fake->srtp) {
		assert_int_equal(cw_dtls_srtp_keys(fake->dtls, &keys), 0);
		assert_int_equal(cw_srtp_new(&fake->srtp, &keys), 0);
	}
}

static void fake_stun(const uint8_t *buf, size_t len, const struct sockaddr_storage *from)
{
	struct cw_stun_msg m;
	uint8_t out[128];
	size_t n;

	assert_int_equal(cw_stun_parse(&m, buf, len), 0);
	if (m.cls != CW_STUN_REQUEST) {
		/* The answer to our own check, keyed with the pc's password. */
		if (memcmp(m.tid, fake->want_tid, CW_STUN_TID_LEN) == 0 &&
		    m.cls == CW_STUN_SUCCESS &&
		    cw_stun_check_integrity(&m, "cliFclientpassword0123456789", 28) == 0) {
			struct sockaddr_storage mine;
			socklen_t ml = sizeof(mine);
			assert_int_equal(getsockname(fake->fd, (struct sockaddr *)&mine, &ml), 0);
			fake->mapped_ok = m.has_mapped &&
					  memcmp(&m.mapped, &mine, sizeof(struct sockaddr_in)) == 0;
			fake->answered = true;
		}
		return;
	}
	assert_int_equal(cw_stun_check_integrity(&m, FAKE_PWD, strlen(FAKE_PWD)), 0);
	assert_true(m.use_candidate);
	assert_int_equal(m.role, CW_STUN_ROLE_CONTROLLING);
	assert_int_equal(cw_stun_build_binding_success(out, sizeof(out), &n, &m, from, FAKE_PWD,
						       strlen(FAKE_PWD)),
			 0);
	fake->peer = *from;
	fake_send(out, n);
}

static void fake_media(uint8_t *buf, size_t len, int64_t t)
{
	struct cw_rtcp_report rep;
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
	int n;

	if (cw_rtp_demux(buf, len) == CW_RTP_DEMUX_RTCP) {
		n = cw_srtp_unprotect_rtcp(fake->srtp, buf, len);
		fake->srtp_errors += n < 0;
		cw_rtcp_iter_init(&it, buf, n < 0 ? 0 : (size_t)n);
		while (cw_rtcp_next(&it, &pkt) == 1) {
			if (cw_rtcp_kind(&pkt) == CW_RTCP_KIND_SR &&
			    cw_rtcp_sr_parse(&pkt, &rep) == 0 && rep.ssrc == FAKE_SSRC) {
				fake->sr_lsr = cw_rtcp_ntp_mid(rep.si.ntp);
				fake->sr_ms = t;
			}
		}
		return;
	}
	for (unsigned i = 0; i < fake->nlose; i++) {
		if (fake->lose[i] == seq) {
			fake->lose[i] = fake->lose[--fake->nlose];
			return;
		}
	}
	n = cw_srtp_unprotect(fake->srtp, buf, len);
	if (n < 0) {
		fake->srtp_errors++;
		return;
	}
	fake->rtp++;
	if (fake->nseen < 64)
		fake->seen[fake->nseen++] = seq;
}

static void fake_read(int64_t t)
{
	uint8_t buf[2048];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(fake->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &flen)) > 0) {
		if (cw_rtp_demux(buf, (size_t)n) == CW_RTP_DEMUX_STUN)
			fake_stun(buf, (size_t)n, &from);
		else if (cw_dtls_is_record(buf, (size_t)n))
			cw_dtls_input(fake->dtls, buf, (size_t)n, t);
		else if (fake->srtp)
			fake_media(buf, (size_t)n, t);
		flen = sizeof(from);
	}
	fake_flush(t);
}

/* A protected compound RTCP packet from the fake server. */
static void fake_rtcp(const uint8_t *plain, size_t len)
{
	uint8_t buf[512];
	int n;

	memcpy(buf, plain, len);
	n = cw_srtp_protect_rtcp(fake->srtp, buf, len, sizeof(buf));
	assert_true(n > (int)len);
	fake_send(buf, (size_t)n);
}

static struct peer fpeer;
static struct fake fk;

static bool fake_connected(void)
{
	return cw__pc_get_state(fpeer.pc) == CW__PC_CONNECTED && fk.srtp;
}

static bool fake_answered(void)
{
	return fk.answered;
}

static bool fake_got_10(void)
{
	return fk.rtp >= 8;
}

static bool fake_got_all(void)
{
	return fk.rtp >= 10;
}

static bool fake_got_sr(void)
{
	return fk.sr_ms != 0 && now_ms() - fk.sr_ms >= 300;
}

static bool fake_rtt(void)
{
	return stats_of(&fpeer).rtt_ms >= 30;
}

static void a_server_s_nacks_checks_and_reports_are_answered(void **state)
{
	struct cw_dtls_ctx *sctx;
	struct sockaddr_storage addr;
	socklen_t alen = sizeof(addr);
	struct cw_stun_check chk = {
		.username = "cliF:fake", .priority = 1, .role = CW_STUN_ROLE_CONTROLLED};
	struct cw_rtcp_report_block rb = {.ssrc = FAKE_SSRC};
	const uint16_t nack[] = {3, 5};
	uint8_t buf[512];
	size_t len, n;

	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fk.fd >= 0);
	sockaddr_loopback(&addr, 0);
	assert_int_equal(bind(fk.fd, (struct sockaddr *)&addr, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(getsockname(fk.fd, (struct sockaddr *)&addr, &alen), 0);
	assert_int_equal(cw_dtls_ctx_new(&sctx, w.cert, CW_DTLS_SERVER, 0), 0);
	assert_int_equal(cw_dtls_new(&fk.dtls, sctx, cw_dtls_cert_fingerprint(w.cert), now_ms()),
			 0);
	cw_dtls_ctx_free(sctx);
	fake = &fk;
	{
		struct cw__pc_params par = {.ncandidates = 1,
					    .local_ufrag = "cliF",
					    .local_pwd = "cliFclientpassword0123456789",
					    .remote_ufrag = "fake",
					    .remote_pwd = FAKE_PWD,
					    .remote_fingerprint = cw_dtls_cert_fingerprint(w.cert),
					    .dtls = w.ctx,
					    .cb = {on_state, on_rtp, on_feedback},
					    .arg = &fpeer};
		par.candidates[0] = addr;
		memset(&fpeer, 0, sizeof(fpeer));
		assert_int_equal(cw__pc_new(&fpeer.pc, &par, now_ms()), 0);
		w.all[w.nall++] = &fpeer;
	}
	assert_int_equal(cw__pc_add_send_ssrc(fpeer.pc, FAKE_SSRC, 48000), 0);
	assert_true(run_until(fake_connected, DEADLINE_MS));

	/* The server's own check is answered, keyed with our password, with its address. */
	memset(fk.want_tid, 0x5a, CW_STUN_TID_LEN);
	assert_int_equal(cw_stun_build_binding_request(buf, sizeof(buf), &len, fk.want_tid, &chk,
						       "cliFclientpassword0123456789", 28),
			 0);
	fake_send(buf, len);
	assert_true(run_until(fake_answered, DEADLINE_MS));
	assert_true(fk.mapped_ok);

	/* Packets 3 and 5 are "lost" on the way; the server's NACK brings them again, and
	 * its SRTP accepts the copies (they are the same bytes under the same index). */
	fk.lose[0] = 3;
	fk.lose[1] = 5;
	fk.nlose = 2;
	for (uint16_t seq = 1; seq <= 10; seq++) {
		uint8_t pkt[12 + PAYLOAD_LEN + CW_SRTP_TRAILER_MAX] = {0x80, 111};
		pkt[2] = (uint8_t)(seq >> 8);
		pkt[3] = (uint8_t)seq;
		pkt[8] = 0x5E, pkt[9] = 0xED, pkt[10] = 0x00, pkt[11] = 0x01;
		assert_int_equal(
			cw__pc_send_rtp(fpeer.pc, pkt, 12 + PAYLOAD_LEN, sizeof(pkt), now_ms()), 0);
	}
	assert_true(run_until(fake_got_10, DEADLINE_MS));
	assert_int_equal(fk.rtp, 8);
	assert_int_equal(cw_rtcp_build_rr(buf, sizeof(buf), &len, 0x11111111u, NULL, 0), 0);
	assert_int_equal(cw_rtcp_build_nack(buf + len, sizeof(buf) - len, &n, 0x11111111u,
					    FAKE_SSRC, nack, 2),
			 0);
	fake_rtcp(buf, len + n);
	assert_true(run_until(fake_got_all, DEADLINE_MS));
	assert_int_equal(fk.seen[8], 3);
	assert_int_equal(fk.seen[9], 5);
	assert_int_equal(fk.srtp_errors, 0);
	assert_int_equal(stats_of(&fpeer).retransmitted, 2);

	/* A receiver report about our SSRC gives the RTT: here it claims no delay for an SR it
	 * held 300 ms, so the RTT it yields is about 300 ms. */
	assert_true(run_until(fake_got_sr, 3000));
	rb.lsr = fk.sr_lsr;
	assert_int_equal(cw_rtcp_build_rr(buf, sizeof(buf), &len, 0x11111111u, &rb, 1), 0);
	fake_rtcp(buf, len);
	assert_true(run_until(fake_rtt, DEADLINE_MS));
	print_message("rtt after the report: %d ms\n", stats_of(&fpeer).rtt_ms);

	/* Closing sends close_notify: the server's endpoint sees the end. */
	cw__pc_free(fpeer.pc);
	w.nall--;
	run_for(50);
	assert_int_equal(cw_dtls_state(fk.dtls), CW_DTLS_CLOSED);
	fake = NULL;
	cw_dtls_free(fk.dtls);
	cw_srtp_free(fk.srtp);
	close(fk.fd);
}

static bool silent_failed(void)
{
	return cw__pc_get_state(w.silent.pc) == CW__PC_FAILED;
}

static void a_server_that_never_answers_fails_the_checks(void **state)
{
	int64_t took;

	(void)state;
	assert_true(run_until(silent_failed, CW__PC_CHECK_TIMEOUT_MS + 2000));
	took = now_ms() - w.silent_started;
	assert_true(took >= CW__PC_CHECK_TIMEOUT_MS - 50);
	assert_int_equal(w.silent.nstates, 1);
	assert_int_equal(w.silent.states[0], CW__PC_FAILED);
	/* And the others stayed up meanwhile, with consent checks answered. */
	assert_true(both_connected());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_connect_through_ice_and_dtls),
		cmocka_unit_test(media_arrives_decrypted_at_the_subscriber),
		cmocka_unit_test(losses_are_repaired_by_nack),
		cmocka_unit_test(a_keyframe_request_reaches_the_publisher),
		cmocka_unit_test(garbage_is_counted_and_ignored),
		cmocka_unit_test(rtt_becomes_known),
		cmocka_unit_test(a_server_s_nacks_checks_and_reports_are_answered),
		cmocka_unit_test(a_server_that_never_answers_fails_the_checks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
