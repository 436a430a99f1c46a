/* janus_smoke BASE CLIENT_ADDR: checks bench/sfu/janus.c against a running Janus 1.1.2 (started
 * by bench/janus/smoke inside bench/janus/netns) and records how Janus behaves on the wire.
 *
 *   1. creates a room (and checks that creating it again is an error with Janus's text);
 *   2. publishes with a hand-written WebRTC offer (BUNDLE, rtcp-mux, Opus 111 and VP8 96,
 *      sendonly, a=ssrc lines, one host candidate at CLIENT_ADDR) and prints Janus's answer;
 *   3. connects that publisher: ICE connectivity checks to ICE-lite Janus, first without
 *      USE-CANDIDATE for 1.5 s (Janus answers them but starts no DTLS: it needs the
 *      nomination), then with it, answering the check Janus sends back; the DTLS handshake in
 *      the role Janus's a=setup leaves us (callwire's rtc/dtls); waits for "webrtcup".
 *      VideoRoom refuses subscriptions to a publisher whose PeerConnection is not up ("No
 *      such feed"), so this step is needed for the next one;
 *   4. subscribes a second handle to the feed, prints Janus's offer, answers it (recvonly,
 *      setup:active), starts it (janus_start) and connects it the same way;
 *   5. sends a second of SRTP media from the publisher (Opus-like and VP8 keyframes with
 *      header extensions) and reports what the subscriber receives (SSRC, sequence numbers,
 *      timestamps, header extensions) and which RTCP Janus sends to either side;
 *   6. detaches both handles and prints the events janus.c counted.
 * Exit 0 when every step succeeded. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include "janus.h"
#include "rtc/dtls.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"

#define ROOM 4242
#define FEED 7
#define SSRC_AUDIO 11111111u
#define SSRC_VIDEO 22222222u
#define PT_AUDIO 111
#define PT_VIDEO 96
/* The ids our offer gives the header extensions (Janus's answer decides which stay). */
#define EXT_AUDIO_LEVEL 1
#define EXT_TWCC 3
#define EXT_MID 4
#define STEP_MS 10000 /* each connection step's deadline */
/* A DTLS client's first flight waits this long after the nominating check was answered:
 * Janus drops a ClientHello that comes sooner (its DTLS starts once libnice reports the
 * component ready, some 20-40 ms later), and the retransmission then costs 500 ms. */
#define DTLS_DELAY_MS 50

#define UFRAG_PUB "cwpb"
#define UFRAG_SUB "cwsb"
#define PWD "cwsmokepassword0123456789"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- SDP --------------------------------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->cap ? o->cap * 2 : 4096) + n;
		char *p = realloc(o->p, cap);
		if (!p) {
			fprintf(stderr, "janus_smoke: out of memory\n");
			exit(1);
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The value of the first line starting with prefix ("a=ice-ufrag:"), up to the line's end. */
static int sdp_value(const char *sdp, const char *prefix, char *out, size_t outlen)
{
	const char *p = sdp;
	size_t pl = strlen(prefix), n;

	while (p && *p) {
		if (!strncmp(p, prefix, pl)) {
			p += pl;
			n = strcspn(p, "\r\n");
			if (n >= outlen)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* The first host candidate's address. */
static int sdp_candidate(const char *sdp, struct sockaddr_in *sa)
{
	char cand[256], ip[64];
	unsigned port;

	if (sdp_value(sdp, "a=candidate:", cand, sizeof(cand)) < 0 ||
	    sscanf(cand, "%*s %*s %*s %*s %63s %u typ host", ip, &port) != 2 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* A publisher's offer as a browser would send it: BUNDLE, rtcp-mux, Opus and VP8, sendonly,
 * a=ssrc lines, the usual header extensions, one host candidate. */
static char *publisher_offer(const char *addr, int port, const char *fingerprint)
{
	struct out o = {0};

	putf(&o, "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		 "a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS cwbench\r\n");
	putf(&o,
	     "m=audio %d UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 %s\r\na=rtcp:%d IN IP4 %s\r\n"
	     "a=candidate:1 1 udp 2122260223 %s %d typ host generation 0\r\n"
	     "a=end-of-candidates\r\n",
	     port, PT_AUDIO, addr, port, addr, addr, port);
	putf(&o,
	     "a=ice-ufrag:" UFRAG_PUB "\r\na=ice-pwd:" PWD "\r\na=fingerprint:%s\r\n"
	     "a=setup:actpass\r\na=mid:0\r\n"
	     "a=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
	     "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	     "a=extmap:%d "
	     "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	     "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
	     "a=sendonly\r\na=msid:cwbench cwaudio\r\na=rtcp-mux\r\n"
	     "a=rtpmap:%d opus/48000/2\r\na=rtcp-fb:%d transport-cc\r\n"
	     "a=fmtp:%d minptime=10;useinbandfec=1\r\n"
	     "a=ssrc:%u cname:cwbench\r\na=ssrc:%u msid:cwbench cwaudio\r\n",
	     fingerprint, EXT_AUDIO_LEVEL, EXT_TWCC, EXT_MID, PT_AUDIO, PT_AUDIO, PT_AUDIO,
	     SSRC_AUDIO, SSRC_AUDIO);
	putf(&o,
	     "m=video %d UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 %s\r\na=rtcp:%d IN IP4 %s\r\n"
	     "a=ice-ufrag:" UFRAG_PUB "\r\na=ice-pwd:" PWD "\r\na=fingerprint:%s\r\n"
	     "a=setup:actpass\r\na=mid:1\r\n",
	     port, PT_VIDEO, addr, port, addr, fingerprint);
	putf(&o,
	     "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
	     "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	     "a=extmap:13 urn:3gpp:video-orientation\r\n"
	     "a=extmap:%d "
	     "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	     "a=extmap:12 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
	     "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
	     "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n",
	     EXT_TWCC, EXT_MID);
	putf(&o,
	     "a=sendonly\r\na=msid:cwbench cwvideo\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
	     "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d goog-remb\r\na=rtcp-fb:%d transport-cc\r\n"
	     "a=rtcp-fb:%d ccm fir\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n"
	     "a=ssrc:%u cname:cwbench\r\na=ssrc:%u msid:cwbench cwvideo\r\n",
	     PT_VIDEO, PT_VIDEO, PT_VIDEO, PT_VIDEO, PT_VIDEO, PT_VIDEO, SSRC_VIDEO, SSRC_VIDEO);
	return o.p;
}

/* The attribute lines of Janus's offer that name payload type pt (rtpmap, fmtp, rtcp-fb). */
static bool names_pt(const char *line, size_t len, const char *pt)
{
	static const char *const attrs[] = {"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"};
	size_t ptl = strlen(pt);

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		size_t al = strlen(attrs[i]);
		if (len > al + ptl && !strncmp(line, attrs[i], al) &&
		    !strncmp(line + al, pt, ptl) && line[al + ptl] == ' ')
			return true;
	}
	return false;
}

/* The answer to Janus's offer: every m-line accepted recvonly with its first payload type,
 * its header extensions kept, setup:active (we are the DTLS client), our one candidate. */
static char *subscriber_answer(const char *offer, const char *addr, int port,
			       const char *fingerprint)
{
	struct out o = {0}, bundle = {0};
	const char *p, *m;
	bool first = true;

	for (p = offer; (p = strstr(p, "a=mid:")); p += 6) {
		put(&bundle, " ", 1);
		put(&bundle, p + 6, strcspn(p + 6, "\r\n"));
	}
	putf(&o,
	     "v=0\r\no=- 1795138530 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	     "a=group:BUNDLE%s\r\na=msid-semantic: WMS\r\n",
	     bundle.p ? bundle.p : "");
	free(bundle.p);
	for (m = strstr(offer, "\nm="); m; m = strstr(m + 1, "\nm=")) {
		const char *end = strstr(m + 1, "\nm="), *l;
		char kind[16] = "", pt[16] = "";

		m++;
		if (!end)
			end = m + strlen(m);
		if (sscanf(m, "m=%15s %*s %*s %15s", kind, pt) != 2)
			continue;
		putf(&o, "m=%s %d UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 %s\r\na=rtcp:%d IN IP4 %s\r\n",
		     kind, port, pt, addr, port, addr);
		if (first) {
			putf(&o,
			     "a=candidate:1 1 udp 2122260223 %s %d typ host generation 0\r\n"
			     "a=end-of-candidates\r\n",
			     addr, port);
			first = false;
		}
		putf(&o,
		     "a=ice-ufrag:" UFRAG_SUB "\r\na=ice-pwd:" PWD "\r\na=fingerprint:%s\r\n"
		     "a=setup:active\r\n",
		     fingerprint);
		for (l = m; l && l < end; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			size_t n = strcspn(l, "\r\n");
			if (!strncmp(l, "a=mid:", 6) || !strncmp(l, "a=extmap:", 9) ||
			    names_pt(l, n, pt)) {
				put(&o, l, n);
				put(&o, "\r\n", 2);
			}
		}
		putf(&o, "a=recvonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\n");
	}
	return o.p;
}

static void show(const char *title, const char *sdp)
{
	printf("----- %s\n", title);
	for (const char *l = sdp; *l;) {
		size_t n = strcspn(l, "\r\n");
		printf("%.*s\n", (int)n, l);
		l += n;
		while (*l == '\r' || *l == '\n')
			l++;
	}
}

/* ---- One PeerConnection to Janus ---------------------------------------------------- */

struct rx { /* what arrived of one SSRC */
	uint32_t ssrc;
	uint8_t pt;
	unsigned packets;
	uint16_t first_seq, last_seq;
	uint32_t first_ts, last_ts;
	uint8_t ext_ids[16]; /* ids seen, in order of first appearance */
	unsigned n_ext;
};

struct pc {
	const char *name;
	const char *lufrag;
	int fd;
	struct sockaddr_in janus;
	char rufrag[64], rpwd[128], rfp[CW_DTLS_FINGERPRINT_MAX];
	struct cw_dtls *dtls;
	struct cw_srtp *srtp;
	uint8_t tid[CW_STUN_TID_LEN];
	uint64_t tie;
	unsigned checks_sent, checks_ok, checks_failed, janus_checks;
	unsigned dtls_in, dtls_out;
	bool nominating;	 /* checks carry USE-CANDIDATE */
	int64_t nominated_at;	 /* when the first of those was answered (0: not yet) */
	int64_t first_dtls_at;	 /* when Janus's first DTLS datagram came (0: none yet) */
	int64_t first_dtls_sent; /* when we sent our first DTLS datagram (0: not yet) */
	unsigned rtp_in, rtcp_in, srtp_errors;
	unsigned rtcp_kinds[CW_RTCP_KIND_REMB + 1];
	struct rx rx[8];
	unsigned n_rx;
};

static int pc_socket(struct pc *pc, const char *addr, int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	pc->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pc->fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    bind(pc->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(pc->fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	RAND_bytes((unsigned char *)&pc->tie, sizeof(pc->tie));
	return 0;
}

/* Janus's ufrag, pwd, fingerprint and candidate from its SDP. */
static int pc_remote(struct pc *pc, const char *sdp)
{
	if (sdp_value(sdp, "a=ice-ufrag:", pc->rufrag, sizeof(pc->rufrag)) < 0 ||
	    sdp_value(sdp, "a=ice-pwd:", pc->rpwd, sizeof(pc->rpwd)) < 0 ||
	    sdp_value(sdp, "a=fingerprint:", pc->rfp, sizeof(pc->rfp)) < 0 ||
	    sdp_candidate(sdp, &pc->janus) < 0)
		return -1;
	return 0;
}

static void pc_send(struct pc *pc, const void *buf, size_t len)
{
	sendto(pc->fd, buf, len, 0, (struct sockaddr *)&pc->janus, sizeof(pc->janus));
}

static void pc_flush_dtls(struct pc *pc)
{
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	while (pc->dtls && (n = cw_dtls_output(pc->dtls, buf, sizeof(buf))) > 0) {
		pc_send(pc, buf, (size_t)n);
		if (!pc->dtls_out++)
			pc->first_dtls_sent = now_ms();
	}
}

static void pc_check(struct pc *pc, bool nominate)
{
	char user[160];
	uint8_t buf[256];
	size_t len;
	struct cw_stun_check check = {
		.username = user,
		.priority = 1853817087u, /* a peer-reflexive candidate's */
		.role = CW_STUN_ROLE_CONTROLLING,
		.tie_breaker = pc->tie,
		.use_candidate = nominate,
	};

	snprintf(user, sizeof(user), "%s:%s", pc->rufrag, pc->lufrag);
	RAND_bytes(pc->tid, sizeof(pc->tid));
	if (cw_stun_build_binding_request(buf, sizeof(buf), &len, pc->tid, &check, pc->rpwd,
					  strlen(pc->rpwd)) == 0) {
		pc_send(pc, buf, len);
		pc->checks_sent++;
	}
}

static void pc_rx(struct pc *pc, const uint8_t *buf, size_t len)
{
	struct cw_rtp rtp;
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext ext;
	struct rx *r = NULL;

	if (cw_rtp_parse(&rtp, buf, len) < 0)
		return;
	pc->rtp_in++;
	for (unsigned i = 0; i < pc->n_rx; i++)
		if (pc->rx[i].ssrc == rtp.ssrc)
			r = &pc->rx[i];
	if (!r) {
		if (pc->n_rx == sizeof(pc->rx) / sizeof(pc->rx[0]))
			return;
		r = &pc->rx[pc->n_rx++];
		*r = (struct rx){
			.ssrc = rtp.ssrc, .pt = rtp.pt, .first_seq = rtp.seq, .first_ts = rtp.ts};
	}
	r->packets++;
	r->last_seq = rtp.seq;
	r->last_ts = rtp.ts;
	cw_rtp_ext_iter_init(&it, &rtp);
	while (cw_rtp_ext_next(&it, &ext) == 1) {
		bool seen = false;
		for (unsigned i = 0; i < r->n_ext; i++)
			seen |= r->ext_ids[i] == ext.id;
		if (!seen && r->n_ext < sizeof(r->ext_ids))
			r->ext_ids[r->n_ext++] = ext.id;
	}
}

static void pc_rtcp(struct pc *pc, const uint8_t *buf, size_t len)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;

	pc->rtcp_in++;
	cw_rtcp_iter_init(&it, buf, len);
	while (cw_rtcp_next(&it, &pkt) == 1)
		pc->rtcp_kinds[cw_rtcp_kind(&pkt)]++;
}

/* Everything that arrived on the PeerConnection's socket. */
static void pc_input(struct pc *pc, int64_t now)
{
	uint8_t buf[2048 + CW_SRTP_TRAILER_MAX];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(pc->fd, buf, 2048, 0, (struct sockaddr *)&from, &fl)) > 0) {
		enum cw_rtp_demux kind = cw_rtp_demux(buf, (size_t)n);
		struct cw_stun_msg msg;
		int len;

		fl = sizeof(from);
		if (kind == CW_RTP_DEMUX_STUN) {
			if (cw_stun_parse(&msg, buf, (size_t)n) != 0)
				continue;
			if (msg.cls == CW_STUN_REQUEST) {
				/* ICE-lite or not, Janus's libnice (0.1.18) sends a triggered check
				 * back for our first one, and selects no pair, so starts no DTLS,
				 * until that check is answered: answer it (USERNAME is
				 * "<our ufrag>:<its ufrag>", keyed with our pwd). */
				uint8_t out[128];
				size_t ol;
				struct sockaddr_storage ss = {0};
				memcpy(&ss, &from, sizeof(from));
				pc->janus_checks++;
				if (cw_stun_build_binding_success(out, sizeof(out), &ol, &msg, &ss,
								  PWD, strlen(PWD)) == 0)
					pc_send(pc, out, ol);
			} else if (!memcmp(msg.tid, pc->tid, CW_STUN_TID_LEN)) {
				if (msg.cls == CW_STUN_SUCCESS &&
				    cw_stun_check_integrity(&msg, pc->rpwd, strlen(pc->rpwd)) ==
					    0) {
					pc->checks_ok++;
					if (pc->nominating && !pc->nominated_at)
						pc->nominated_at = now;
				} else
					pc->checks_failed++;
			}
		} else if (kind == CW_RTP_DEMUX_DTLS) {
			pc->dtls_in++;
			if (!pc->first_dtls_at)
				pc->first_dtls_at = now;
			if (pc->dtls) {
				cw_dtls_input(pc->dtls, buf, (size_t)n, now);
				pc_flush_dtls(pc);
			}
		} else if (kind == CW_RTP_DEMUX_RTP && pc->srtp) {
			len = cw_srtp_unprotect(pc->srtp, buf, (size_t)n);
			if (len < 0)
				pc->srtp_errors++;
			else
				pc_rx(pc, buf, (size_t)len);
		} else if (kind == CW_RTP_DEMUX_RTCP && pc->srtp) {
			len = cw_srtp_unprotect_rtcp(pc->srtp, buf, (size_t)n);
			if (len < 0)
				pc->srtp_errors++;
			else
				pc_rtcp(pc, buf, (size_t)len);
		}
	}
}

/* Waits up to ms for datagrams on the PeerConnections, handling them and DTLS timers. */
static void pump(struct pc **pcs, int n, int ms)
{
	struct pollfd fds[4];
	int64_t now = now_ms(), wait = ms;

	for (int i = 0; i < n; i++) {
		fds[i] = (struct pollfd){.fd = pcs[i]->fd, .events = POLLIN};
		if (pcs[i]->dtls) {
			int64_t t = cw_dtls_next_timeout(pcs[i]->dtls, now);
			if (t != CW_DTLS_NO_TIMEOUT && t - now < wait)
				wait = t - now > 0 ? t - now : 0;
		}
	}
	poll(fds, (nfds_t)n, (int)wait);
	now = now_ms();
	for (int i = 0; i < n; i++) {
		pc_input(pcs[i], now);
		if (pcs[i]->dtls && cw_dtls_next_timeout(pcs[i]->dtls, now) <= now) {
			cw_dtls_handle_timeout(pcs[i]->dtls, now);
			pc_flush_dtls(pcs[i]);
		}
	}
}

/* Connects pc: ICE checks (without USE-CANDIDATE for probe_ms first), DTLS in `role`, then
 * the SRTP session. 0, or -1 with a message. */
static int pc_connect(struct pc *pc, const struct cw_dtls_ctx *ctx, enum cw_dtls_role role,
		      int probe_ms)
{
	int64_t start = now_ms(), last_check = 0, now;
	struct cw_srtp_keys keys;
	int rc;

	rc = cw_dtls_new(&pc->dtls, ctx, pc->rfp, start);
	if (rc < 0) {
		fprintf(stderr, "janus_smoke: %s: cw_dtls_new: %s\n", pc->name,
			cw_dtls_strerror(rc));
		return -1;
	}
	/* A DTLS client would send its ClientHello at once; hold it until ICE answered. */
	if (probe_ms > 0) {
		while ((now = now_ms()) - start < probe_ms) {
			if (now - last_check >= 50) {
				pc_check(pc, false);
				last_check = now;
			}
			pump(&pc, 1, 10);
		}
		printf("%s: %u checks without USE-CANDIDATE: %u answered; Janus sent %u DTLS "
		       "datagrams meanwhile\n",
		       pc->name, pc->checks_sent, pc->checks_ok, pc->dtls_in);
	}
	pc->nominating = true;
	start = now_ms();
	while (cw_dtls_state(pc->dtls) == CW_DTLS_HANDSHAKING) {
		now = now_ms();
		if (now - start > STEP_MS) {
			fprintf(stderr,
				"janus_smoke: %s: not connected after %d ms (checks %u/%u "
				"answered, DTLS in %u)\n",
				pc->name, STEP_MS, pc->checks_ok, pc->checks_sent, pc->dtls_in);
			return -1;
		}
		/* Checks with USE-CANDIDATE until one is answered, then every 500 ms. */
		if (now - last_check >= (pc->nominated_at ? 500 : 50)) {
			pc_check(pc, true);
			last_check = now;
		}
		if (pc->nominated_at && now - pc->nominated_at >= DTLS_DELAY_MS)
			pc_flush_dtls(pc);
		pump(&pc, 1, 10);
	}
	if (cw_dtls_state(pc->dtls) != CW_DTLS_CONNECTED) {
		fprintf(stderr, "janus_smoke: %s: DTLS failed: %s\n", pc->name,
			cw_dtls_error_detail(pc->dtls));
		return -1;
	}
	if (cw_dtls_srtp_keys(pc->dtls, &keys) < 0 || cw_srtp_new(&pc->srtp, &keys) < 0) {
		fprintf(stderr, "janus_smoke: %s: no SRTP keys\n", pc->name);
		return -1;
	}
	printf("%s: we were the DTLS %s; after the first check with USE-CANDIDATE: answered "
	       "+%lld ms, our first DTLS +%lld ms, Janus's first DTLS +%lld ms, connected +%lld "
	       "ms (DTLS datagrams: %u out, %u in); SRTP profile %s\n",
	       pc->name, role == CW_DTLS_SERVER ? "server" : "client",
	       (long long)(pc->nominated_at - start),
	       (long long)(pc->first_dtls_sent ? pc->first_dtls_sent - start : -1),
	       (long long)(pc->first_dtls_at ? pc->first_dtls_at - start : -1),
	       (long long)(now_ms() - start), pc->dtls_out, pc->dtls_in,
	       cw_srtp_profile_name(keys.profile));
	return 0;
}

static void pc_free(struct pc *pc)
{
	if (pc->fd >= 0)
		close(pc->fd);
	cw_dtls_free(pc->dtls);
	cw_srtp_free(pc->srtp);
}

/* ---- Media ------------------------------------------------------------------------- */

/* An RTP packet with one-byte header extensions (id, len, data)… ended by id 0. */
static size_t rtp_build(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
			uint32_t ssrc, const uint8_t *exts, size_t ext_len, const uint8_t *payload,
			size_t payload_len)
{
	size_t n = 12, words = (ext_len + 3) / 4;

	buf[0] = 0x80 | (ext_len ? 0x10 : 0);
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	if (ext_len) {
		buf[n++] = 0xbe;
		buf[n++] = 0xde;
		buf[n++] = (uint8_t)(words >> 8);
		buf[n++] = (uint8_t)words;
		memset(buf + n, 0, words * 4);
		memcpy(buf + n, exts, ext_len);
		n += words * 4;
	}
	memcpy(buf + n, payload, payload_len);
	return n + payload_len;
}

/* A second of media from the publisher: Opus-like packets every 20 ms, a VP8 keyframe
 * packet every 10 ms, with the header extensions Janus's answer kept (mid, audio level,
 * transport-wide sequence numbers), while both PeerConnections are served. */
static void send_media(struct pc *pub, struct pc *sub)
{
	struct pc *pcs[2] = {pub, sub};
	uint8_t pkt[1500 + CW_SRTP_TRAILER_MAX], vp8[400] = {0}, opus[80] = {0};
	uint16_t aseq = 1000, vseq = 5000, twcc = 1;
	uint32_t ats = 48000, vts = 90000;
	int64_t start = now_ms(), next_a = start, next_v = start;
	unsigned sent_a = 0, sent_v = 0;

	/* VP8: payload descriptor S=1 PID 0, then a keyframe's frame tag and start code. */
	memcpy(vp8, "\x10\x50\x02\x00\x9d\x01\x2a\x40\x01\xf0\x00", 11);
	opus[0] = 0xfc;
	while (now_ms() - start < 1000) {
		int64_t now = now_ms();
		uint8_t ext[16];
		size_t n;
		int len;

		if (now >= next_a) {
			/* audio level 0x80|30, mid "0" */
			memcpy(ext,
			       "\x10\x9e\x40"
			       "0",
			       4);
			n = rtp_build(pkt, PT_AUDIO, false, aseq++, ats, SSRC_AUDIO, ext, 4, opus,
				      sizeof(opus));
			ats += 960;
			len = cw_srtp_protect(pub->srtp, pkt, n, sizeof(pkt));
			if (len > 0) {
				pc_send(pub, pkt, (size_t)len);
				sent_a++;
			}
			next_a += 20;
		}
		if (now >= next_v) {
			/* transport-wide seq, mid "1" */
			ext[0] = (EXT_TWCC << 4) | 1;
			ext[1] = (uint8_t)(twcc >> 8);
			ext[2] = (uint8_t)twcc;
			twcc++;
			ext[3] = (EXT_MID << 4) | 0;
			ext[4] = '1';
			n = rtp_build(pkt, PT_VIDEO, true, vseq++, vts, SSRC_VIDEO, ext, 5, vp8,
				      sizeof(vp8));
			vts += 900;
			len = cw_srtp_protect(pub->srtp, pkt, n, sizeof(pkt));
			if (len > 0) {
				pc_send(pub, pkt, (size_t)len);
				sent_v++;
			}
			next_v += 10;
		}
		pump(pcs, 2, 2);
	}
	for (int64_t end = now_ms() + 500; now_ms() < end;)
		pump(pcs, 2, 20);
	printf("media: sent %u audio (ssrc %u pt %d seq 1000.. ts 48000..) and %u video (ssrc %u "
	       "pt %d seq 5000.. ts 90000..) packets\n",
	       sent_a, SSRC_AUDIO, PT_AUDIO, sent_v, SSRC_VIDEO, PT_VIDEO);
}

static void report_pc(const struct pc *pc)
{
	static const char *const kinds[] = {"other", "SR",   "RR",  "SDES", "BYE", "APP",
					    "NACK",  "TWCC", "PLI", "FIR",  "REMB"};

	printf("%s: RTP in %u, RTCP in %u, SRTP errors %u, Janus's STUN checks %u; RTCP kinds:",
	       pc->name, pc->rtp_in, pc->rtcp_in, pc->srtp_errors, pc->janus_checks);
	for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (pc->rtcp_kinds[k])
			printf(" %s %u", kinds[k], pc->rtcp_kinds[k]);
	printf("\n");
	for (unsigned i = 0; i < pc->n_rx; i++) {
		const struct rx *r = &pc->rx[i];
		printf("  received ssrc %u pt %u: %u packets, seq %u..%u, ts %u..%u, header "
		       "extension ids:",
		       r->ssrc, r->pt, r->packets, r->first_seq, r->last_seq, r->first_ts,
		       r->last_ts);
		for (unsigned k = 0; k < r->n_ext; k++)
			printf(" %u", r->ext_ids[k]);
		printf("\n");
	}
}

/* ---- Janus events ------------------------------------------------------------------ */

static const char *who(uint64_t handle, uint64_t pub, uint64_t sub)
{
	return handle == pub ? "publisher" : handle == sub ? "subscriber" : "another handle";
}

static void drain_events(struct janus *j, uint64_t pub, uint64_t sub, bool *pub_up, bool *sub_up)
{
	struct janus_event ev;

	janus_poll(j, 0);
	while (janus_next_event(j, &ev)) {
		printf("event: %s from the %s", ev.kind, who(ev.handle, pub, sub));
		if (ev.receiving >= 0)
			printf(" (mid %s, receiving %s)", ev.mid, ev.receiving ? "yes" : "no");
		printf("\n");
		if (!strcmp(ev.kind, "webrtcup")) {
			if (ev.handle == pub && pub_up)
				*pub_up = true;
			if (ev.handle == sub && sub_up)
				*sub_up = true;
		}
	}
}

static int fail(const char *step, const char *err)
{
	fprintf(stderr, "janus_smoke: %s: %s\n", step, err);
	return 1;
}

int main(int argc, char **argv)
{
	char err[512];
	struct janus *j = NULL;
	char *offer = NULL, *answer = NULL, *sub_offer = NULL, *sub_answer = NULL;
	uint64_t pub_h = 0, sub_h = 0, feed = FEED;
	struct pc pub = {.name = "publisher", .lufrag = UFRAG_PUB, .fd = -1};
	struct pc sub = {.name = "subscriber", .lufrag = UFRAG_SUB, .fd = -1};
	struct pc *both[2] = {&pub, &sub};
	struct cw_dtls_cert *cert = NULL;
	struct cw_dtls_ctx *server = NULL, *client = NULL;
	struct janus_counts c;
	int pub_port, sub_port, rc = 1;
	bool pub_up = false, sub_up = false;

	if (argc != 3) {
		fprintf(stderr, "usage: janus_smoke BASE CLIENT_ADDR\n"
				"  e.g. janus_smoke http://10.77.0.1:8088/janus 10.77.0.2\n");
		return 2;
	}
	if (cw_dtls_cert_new(&cert) < 0 ||
	    cw_dtls_ctx_new(&server, cert, CW_DTLS_SERVER, CW_DTLS_PROFILES_ALL) < 0 ||
	    cw_dtls_ctx_new(&client, cert, CW_DTLS_CLIENT, CW_DTLS_PROFILES_ALL) < 0)
		return fail("dtls", "no certificate or context");
	if (pc_socket(&pub, argv[2], &pub_port) < 0 || pc_socket(&sub, argv[2], &sub_port) < 0)
		return fail("socket", strerror(errno));

	j = janus_open(argv[1], err, sizeof(err));
	if (!j)
		return fail("open", err);
	printf("session %" PRIu64 "\n", janus_session(j));
	if (janus_room_create(j, ROOM, 100, err, sizeof(err)) < 0) {
		fail("room_create", err);
		goto out;
	}
	printf("room %d created\n", ROOM);
	if (janus_room_create(j, ROOM, 100, err, sizeof(err)) == 0) {
		fail("room_create twice", "succeeded");
		goto out;
	}
	printf("room %d again: %s (expected)\n", ROOM, err);

	/* Publisher. */
	offer = publisher_offer(argv[2], pub_port, cw_dtls_cert_fingerprint(cert));
	if (janus_publish(j, ROOM, FEED, "smoke publisher", offer, &answer, &pub_h, err,
			  sizeof(err)) < 0) {
		fail("publish", err);
		goto out;
	}
	printf("publisher handle %" PRIu64 "\n", pub_h);
	show("our offer (publisher)", offer);
	show("Janus's answer (publisher)", answer);
	if (pc_remote(&pub, answer) < 0) {
		fail("publisher", "no ufrag, pwd, fingerprint or host candidate in Janus's answer");
		goto out;
	}
	if (pc_connect(&pub, strstr(answer, "a=setup:active") ? server : client,
		       strstr(answer, "a=setup:active") ? CW_DTLS_SERVER : CW_DTLS_CLIENT,
		       1500) < 0)
		goto out;
	for (int64_t end = now_ms() + STEP_MS; !pub_up && now_ms() < end;) {
		pump(both, 1, 20);
		drain_events(j, pub_h, sub_h, &pub_up, &sub_up);
	}
	if (!pub_up) {
		fail("publisher", "no webrtcup event");
		goto out;
	}

	/* Subscriber. */
	if (janus_subscribe(j, ROOM, &feed, 1, &sub_offer, &sub_h, err, sizeof(err)) < 0) {
		fail("subscribe", err);
		goto out;
	}
	printf("subscriber handle %" PRIu64 "\n", sub_h);
	show("Janus's offer (subscriber)", sub_offer);
	sub_answer =
		subscriber_answer(sub_offer, argv[2], sub_port, cw_dtls_cert_fingerprint(cert));
	show("our answer (subscriber)", sub_answer);
	if (janus_start(j, sub_h, sub_answer, err, sizeof(err)) < 0) {
		fail("start", err);
		goto out;
	}
	printf("subscriber started\n");
	if (pc_remote(&sub, sub_offer) < 0) {
		fail("subscriber", "no ufrag, pwd, fingerprint or host candidate in Janus's offer");
		goto out;
	}
	if (pc_connect(&sub, client, CW_DTLS_CLIENT, 0) < 0)
		goto out;
	for (int64_t end = now_ms() + STEP_MS; !sub_up && now_ms() < end;) {
		pump(both, 2, 20);
		drain_events(j, pub_h, sub_h, &pub_up, &sub_up);
	}
	if (!sub_up) {
		fail("subscriber", "no webrtcup event");
		goto out;
	}

	/* Media. */
	send_media(&pub, &sub);
	drain_events(j, pub_h, sub_h, NULL, NULL);
	report_pc(&pub);
	report_pc(&sub);
	if (!sub.rtp_in) {
		fail("media", "the subscriber received no RTP");
		goto out;
	}

	if (janus_keepalive(j, err, sizeof(err)) < 0) {
		fail("keepalive", err);
		goto out;
	}
	if (janus_detach(j, sub_h, err, sizeof(err)) < 0) {
		fail("detach subscriber", err);
		goto out;
	}
	if (janus_detach(j, pub_h, err, sizeof(err)) < 0) {
		fail("detach publisher", err);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		janus_poll(j, 200);
		drain_events(j, pub_h, sub_h, NULL, NULL);
	}
	janus_counts(j, &c);
	printf("counts: webrtcup %u media %u hangup %u slowlink %u other %u\n", c.webrtcup, c.media,
	       c.hangup, c.slowlink, c.other);
	rc = 0;
	printf("janus_smoke: ok\n");
out:
	free(offer);
	free(answer);
	free(sub_offer);
	free(sub_answer);
	janus_close(j);
	pc_free(&pub);
	pc_free(&sub);
	cw_dtls_ctx_free(server);
	cw_dtls_ctx_free(client);
	cw_dtls_cert_free(cert);
	return rc;
}
