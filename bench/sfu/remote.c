/* remote: `sfu remote …`, the generator against an SFU running as a server process of its
 * own: callwire (`callwire serve`, joined through the WebSocket contract) or Janus (the
 * VideoRoom plugin, joined through Janus's HTTP API). The same peers, ICE checks, DTLS and
 * SRTP as in-process, with each server's SDP; publishers replay a recording of real Opus and
 * VP8 RTP payloads at the times it was recorded. One JSON report: the server process's CPU
 * per forwarded packet (/proc), loss, added latency, memory per participant. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "janus.h"
#include "media.h"
#include "rest.h"
#include "rtc/sdp.h"
#include "sfugen.h"
#include "util/util.h"
#include "ws.h"

#define SIGNAL_DEADLINE_S 120 /* every participant joined and every offer answered */
#define MAX_PARTS 2000
#define SSRC_BASE 0x20000000u

enum server_kind { SERVER_CALLWIRE, SERVER_JANUS };

/* Who is in a room: every participant publishes audio and video and subscribes to the
 * others (1:1, mesh), or `speakers` do and the rest only watch (webinar). */
struct scenario {
	const char *name;
	int per_room, speakers;
};

static const struct scenario scenarios[] = {
	{"1to1", 2, 2},
	{"mesh10", 10, 10},
	{"2x50", 52, 2},
};

struct ropts {
	enum server_kind server;
	const char *url;       /* callwire: http://HOST:PORT; Janus: http://HOST:PORT/janus */
	const char *app, *key; /* callwire */
	const char *bind;      /* the generator's address (its candidates) */
	const char *media;     /* the recording */
	const struct scenario *sc;
	int rooms, server_pid, sample;
	double duration, warmup;
};

struct part {
	int room, slot; /* slot in the room: the first `speakers` publish */
	bool publishes;
	struct peer *pub, *sub; /* sub: NULL when nobody else publishes */
	int expect_tracks;	/* m-sections with media the subscribe connection must get */
	/* callwire */
	char uid[32], *token, *call_token, pid[64], sid[32];
	struct ws ws;
	bool ready, joined, waiting; /* auth answered; join answered; a request outstanding */
	long long offer_version;     /* of the offer answered last */
	int tracks;		     /* media m-sections of that offer */
	/* Janus */
	uint64_t feed;
};

struct remote {
	const struct ropts *o;
	struct gen *g;
	struct part *parts;
	int n_parts, n_pub_peers;
	struct janus *janus;	 /* its session lives until the end: closing it hangs up */
	const char *fingerprint; /* ours, "sha-256 AB:…" */
	const struct cw_dtls_ctx *client, *server;
	struct sockaddr_in server_addr; /* callwire: its HTTP/WebSocket address */
	char host_port[64];
	long errors;
	char why[512];
};

static struct remote *the_remote; /* the WebSocket callbacks' */

static void usage(FILE *f)
{
	fprintf(f, "usage: sfu remote --server callwire|janus --url URL [--app APP --key KEY]\n"
		   "                  --server-pid PID --scenario 1to1|mesh10|2x50 [--rooms N]\n"
		   "                  --media FILE [--bind ADDR] [--duration S] [--warmup S]\n"
		   "                  [--sample N]\n");
}

static int parse(struct ropts *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{"server", required_argument, NULL, 's'},
		{"url", required_argument, NULL, 'u'},
		{"app", required_argument, NULL, 'a'},
		{"key", required_argument, NULL, 'k'},
		{"bind", required_argument, NULL, 'b'},
		{"media", required_argument, NULL, 'm'},
		{"scenario", required_argument, NULL, 'c'},
		{"rooms", required_argument, NULL, 'r'},
		{"server-pid", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"sample", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	*o = (struct ropts){
		.bind = "127.0.0.1", .rooms = 1, .sample = 4, .duration = 10, .warmup = 2};
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "callwire") == 0)
				o->server = SERVER_CALLWIRE;
			else if (strcmp(optarg, "janus") == 0)
				o->server = SERVER_JANUS;
			else
				return -1;
			break;
		case 'u':
			o->url = optarg;
			break;
		case 'a':
			o->app = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'b':
			o->bind = optarg;
			break;
		case 'm':
			o->media = optarg;
			break;
		case 'c':
			for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
				if (strcmp(optarg, scenarios[i].name) == 0)
					o->sc = &scenarios[i];
			}
			if (!o->sc)
				return -1;
			break;
		case 'r':
			o->rooms = atoi(optarg);
			break;
		case 'p':
			o->server_pid = atoi(optarg);
			break;
		case 'd':
			o->duration = atof(optarg);
			break;
		case 'w':
			o->warmup = atof(optarg);
			break;
		case 'S':
			o->sample = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc || !o->url || !o->media || !o->sc || o->server_pid <= 0 ||
	    o->rooms < 1 || o->rooms * o->sc->per_room > MAX_PARTS || o->sample < 1 ||
	    !(o->duration > 0 && o->duration <= MAX_DURATION) ||
	    !(o->warmup >= 0 && o->warmup <= MAX_WARMUP) ||
	    (o->server == SERVER_CALLWIRE && (!o->app || !o->key)))
		return -1;
	return 0;
}

/* ---- Participants and their peers ------------------------------------------------ */

static int parts_make(struct remote *r)
{
	const struct ropts *o = r->o;
	struct gen *g = r->g;
	int n = o->rooms * o->sc->per_room, np = 0, npub = 0;

	r->n_parts = n;
	r->parts = calloc((size_t)n, sizeof(*r->parts));
	/* Each participant: a publish peer (callwire gives everyone one; Janus only the
	 * speakers) and a subscribe peer. */
	g->peers = calloc((size_t)n * 2, sizeof(*g->peers));
	g->pubs = calloc((size_t)n, sizeof(*g->pubs));
	if (!r->parts || !g->peers || !g->pubs)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct part *pa = &r->parts[i];
		pa->room = i / o->sc->per_room;
		pa->slot = i % o->sc->per_room;
		pa->publishes = pa->slot < o->sc->speakers;
		pa->feed = (uint64_t)i + 1;
		pa->expect_tracks = 2 * (o->sc->speakers - (pa->publishes ? 1 : 0));
		snprintf(pa->uid, sizeof(pa->uid), "sfub-%d", i);
		snprintf(pa->sid, sizeof(pa->sid), "sfub-room-%d", pa->room);
	}
	/* Every publish peer first, then every subscribe peer: Janus lets nobody subscribe to
	 * a publisher before its connection is up, so its peers connect in these two parts. */
	for (int k = 0; k < 2; k++) {
		if (k == 1)
			r->n_pub_peers = np;
		for (int i = 0; i < n; i++) {
			struct part *pa = &r->parts[i];
			struct peer *p;
			if (k == 0 && !pa->publishes && o->server == SERVER_JANUS)
				continue;
			if (k == 1 && pa->expect_tracks == 0)
				continue;
			p = &g->peers[np];
			p->fd = -1;
			p->index = np++;
			p->room = pa->room;
			p->role = k == 0 ? ROLE_PUB : ROLE_SUB;
			p->next_check_ns = UINT64_MAX;
			p->pub = -1;
			snprintf(p->ufrag, sizeof(p->ufrag), "rp%05d", p->index);
			snprintf(p->pwd, sizeof(p->pwd), "%sabcdefghijklmnopqrstuv", p->ufrag);
			snprintf(p->participant, sizeof(p->participant), "%.23s", pa->uid);
			if (k == 0) {
				pa->pub = p;
				if (pa->publishes) {
					p->pub = npub;
					g->pubs[npub++] = p;
					p->ssrc[0] = SSRC_BASE + (uint32_t)p->pub * 2;
					p->ssrc[1] = p->ssrc[0] + 1;
					p->seq[0] = (uint16_t)(p->pub * 7919u);
					p->seq[1] = (uint16_t)(p->pub * 104729u);
					p->ts_base[0] = (uint32_t)p->pub * 2654435761u;
					p->ts_base[1] = (uint32_t)p->pub * 40503u;
					/* Everybody else in the room subscribes. */
					p->fanout = o->sc->per_room - 1;
				}
			} else {
				pa->sub = p;
				p->cap_tracks = pa->expect_tracks;
				p->tracks = calloc((size_t)p->cap_tracks, sizeof(*p->tracks));
				if (!p->tracks)
					return -ENOMEM;
			}
		}
	}
	g->n_peers = np;
	g->n_pubs = npub;
	return 0;
}

/* Opens p's socket on the generator's address; the port goes into our SDP. */
static int peer_bind(struct remote *r, struct peer *p)
{
	struct sockaddr_in local = {.sin_family = AF_INET};
	int size = 1 << 20;

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (inet_pton(AF_INET, r->o->bind, &local.sin_addr) != 1)
		return -EINVAL;
	if (bind(p->fd, (struct sockaddr *)&local, sizeof(local)) != 0)
		return -errno;
	return 0;
}

static uint16_t peer_port(const struct peer *p)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(p->fd, (struct sockaddr *)&a, &len) != 0)
		return 0;
	return ntohs(a.sin_port);
}

/* Connects p to the server's candidate and starts its DTLS endpoint in the role the SDP
 * gave it. */
static int peer_start(struct remote *r, struct peer *p)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};

	if (!p->remote.sin_port) {
		snprintf(r->why, sizeof(r->why), "peer %s: no server candidate", p->ufrag);
		return -1;
	}
	if (connect(p->fd, (struct sockaddr *)&p->remote, sizeof(p->remote)) != 0 ||
	    epoll_ctl(r->g->epfd, EPOLL_CTL_ADD, p->fd, &ev) != 0 ||
	    cw_dtls_new(&p->dtls, p->dtls_server ? r->server : r->client, p->rfingerprint,
			(int64_t)(now_ns() / 1000000)) != 0) {
		snprintf(r->why, sizeof(r->why), "peer %s: cannot start", p->ufrag);
		return -1;
	}
	return 0;
}

static int start_peers(struct remote *r, int from, int to)
{
	for (int i = from; i < to; i++) {
		if (peer_start(r, &r->g->peers[i]) != 0)
			return -1;
	}
	return 0;
}

/* ---- SDP ---------------------------------------------------------------------------- */

struct buf {
	char *s;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 1024;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
}

static void put_transport(struct remote *r, struct buf *b, const struct peer *p, const char *setup)
{
	put(b,
	    "c=IN IP4 %s\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
	    "a=fingerprint:%s\r\na=setup:%s\r\n",
	    r->o->bind, p->ufrag, p->pwd, r->fingerprint, setup);
}

static void put_candidate(struct remote *r, struct buf *b, const struct peer *p)
{
	put(b, "a=candidate:1 1 udp 2122260223 %s %u typ host\r\na=end-of-candidates\r\n",
	    r->o->bind, peer_port(p));
}

/* The publish connection's offer: Opus and VP8, sendonly, with their SSRCs; a participant
 * who only watches (callwire gives everyone a publish connection) offers one recvonly
 * audio m-section. */
static char *publish_offer(struct remote *r, const struct part *pa)
{
	const struct peer *p = pa->pub;
	struct buf b = {0};

	put(&b, "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 1000 + p->index);
	put(&b, "a=group:BUNDLE %s\r\na=msid-semantic: WMS %s\r\n", pa->publishes ? "0 1" : "0",
	    pa->uid);
	put(&b, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
	put_transport(r, &b, p, "actpass");
	put(&b, "a=mid:0\r\na=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n%s",
	    AUDIO_LEVEL_ID, pa->publishes ? "a=sendonly\r\n" : "a=recvonly\r\n");
	if (pa->publishes)
		put(&b, "a=msid:%s %s-a\r\n", pa->uid, pa->uid);
	put(&b, "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n"
		"a=fmtp:111 minptime=10;useinbandfec=1\r\n");
	if (pa->publishes)
		put(&b, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s-a\r\n", p->ssrc[1], pa->uid,
		    p->ssrc[1], pa->uid, pa->uid);
	put_candidate(r, &b, p);
	if (!pa->publishes)
		return b.s;
	put(&b, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
	put_transport(r, &b, p, "actpass");
	put(&b,
	    "a=mid:1\r\na=sendonly\r\na=msid:%s %s-v\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
	    "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 ccm fir\r\n"
	    "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n",
	    pa->uid, pa->uid);
	put(&b, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s-v\r\n", p->ssrc[0], pa->uid, p->ssrc[0],
	    pa->uid, pa->uid);
	put_candidate(r, &b, p);
	return b.s;
}

/* The codec we take of an offered m-section: Opus or VP8; -1 when it has neither. */
static int pick_codec(const struct cw_sdp_media *m)
{
	for (unsigned i = 0; i < m->ncodecs; i++) {
		const char *name = m->codecs[i].name;
		if (name && ((m->kind == CW_SDP_AUDIO && strcasecmp(name, "opus") == 0) ||
			     (m->kind == CW_SDP_VIDEO && strcasecmp(name, "VP8") == 0)))
			return m->codecs[i].pt;
	}
	return -1;
}

static bool media_usable(const struct cw_sdp_media *m)
{
	return m->port && m->rtp && (m->kind == CW_SDP_AUDIO || m->kind == CW_SDP_VIDEO) &&
	       pick_codec(m) >= 0 && m->mid;
}

/* Our answer to a server's subscribe offer: every m-section with Opus or VP8 received
 * (a=recvonly, or inactive as offered), the others rejected; one BUNDLE transport. */
static char *subscribe_answer(struct remote *r, const struct peer *p, const struct cw_sdp *offer,
			      int *tracks)
{
	struct buf b = {0};
	bool first = true;

	*tracks = 0;
	put(&b, "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE",
	    5000 + p->index);
	for (unsigned i = 0; i < offer->nmedia; i++) {
		if (media_usable(&offer->media[i]))
			put(&b, " %s", offer->media[i].mid);
	}
	put(&b, "\r\na=msid-semantic: WMS\r\n");
	for (unsigned i = 0; i < offer->nmedia; i++) {
		const struct cw_sdp_media *m = &offer->media[i];
		int pt = pick_codec(m);
		bool active = m->dir == CW_SDP_SENDONLY || m->dir == CW_SDP_SENDRECV;

		if (!media_usable(m)) {
			if (m->rtp && m->ncodecs)
				put(&b, "m=%s 0 %s %u\r\n", m->media, m->proto, m->codecs[0].pt);
			else
				put(&b, "m=%s 0 %s %s\r\n", m->media, m->proto,
				    m->fmts ? m->fmts : "0");
			put(&b, "c=IN IP4 0.0.0.0\r\n");
			if (m->mid)
				put(&b, "a=mid:%s\r\n", m->mid);
			put(&b, "a=inactive\r\n");
			continue;
		}
		if (active && m->nssrcs)
			(*tracks)++;
		put(&b, "m=%s 9 UDP/TLS/RTP/SAVPF %d\r\n",
		    m->kind == CW_SDP_AUDIO ? "audio" : "video", pt);
		put_transport(r, &b, p, "active");
		put(&b, "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\n", m->mid,
		    active ? "recvonly" : "inactive");
		if (m->kind == CW_SDP_AUDIO)
			put(&b,
			    "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n",
			    pt, pt);
		else
			put(&b,
			    "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack "
			    "pli\r\n"
			    "a=rtcp-fb:%d goog-remb\r\n",
			    pt, pt, pt, pt);
		if (first)
			put_candidate(r, &b, p);
		first = false;
	}
	return b.s;
}

/* Takes the server's transport from its SDP into p: ICE credentials, fingerprint, DTLS
 * role and its first IPv4 UDP candidate. */
static int take_remote(struct remote *r, struct peer *p, const struct cw_sdp *sdp, bool offer)
{
	struct cw_sdp_transport t;
	int first = -1;

	for (unsigned i = 0; i < sdp->nmedia && first < 0; i++) {
		if (sdp->media[i].port)
			first = (int)i;
	}
	if (first < 0) {
		snprintf(r->why, sizeof(r->why), "peer %s: every m-section rejected", p->ufrag);
		return -1;
	}
	cw_sdp_media_transport(sdp, (unsigned)first, &t);
	if (!t.ufrag || !t.pwd || !t.nfingerprints) {
		snprintf(r->why, sizeof(r->why), "peer %s: no ICE credentials or fingerprint",
			 p->ufrag);
		return -1;
	}
	snprintf(p->rufrag, sizeof(p->rufrag), "%s", t.ufrag);
	snprintf(p->rpwd, sizeof(p->rpwd), "%s", t.pwd);
	{
		static const char hex[] = "0123456789ABCDEF";
		const struct cw_sdp_fingerprint *f = &t.fingerprints[0];
		size_t pos =
			(size_t)snprintf(p->rfingerprint, sizeof(p->rfingerprint), "%s ", f->alg);
		for (unsigned i = 0; i < f->len && pos + 4 < sizeof(p->rfingerprint); i++) {
			if (i)
				p->rfingerprint[pos++] = ':';
			p->rfingerprint[pos++] = hex[f->hash[i] >> 4];
			p->rfingerprint[pos++] = hex[f->hash[i] & 15];
		}
		p->rfingerprint[pos] = '\0';
	}
	/* Its answer's a=setup:active makes it the DTLS client; to its offers we answer
	 * active. */
	p->dtls_server = !offer && t.setup == CW_SDP_SETUP_ACTIVE;
	for (unsigned i = 0; i < sdp->nmedia && !p->remote.sin_port; i++) {
		const struct cw_sdp_media *m = &sdp->media[i];
		for (unsigned k = 0; k < m->ncandidates; k++) {
			const struct cw_sdp_candidate *c = &m->candidates[k];
			struct in_addr a;
			if (c->component == 1 && strcasecmp(c->transport, "udp") == 0 &&
			    inet_pton(AF_INET, c->ip, &a) == 1) {
				p->remote.sin_family = AF_INET;
				p->remote.sin_addr = a;
				p->remote.sin_port = htons(c->port);
				break;
			}
		}
	}
	if (!p->remote.sin_port) {
		snprintf(r->why, sizeof(r->why), "peer %s: no IPv4 UDP candidate", p->ufrag);
		return -1;
	}
	return 0;
}

static int parse_sdp(struct remote *r, const char *text, struct cw_sdp **sdp)
{
	struct cw_sdp_err e;

	if (text && getenv("SFU_DEBUG_SDP"))
		fprintf(stderr, "---- the server's SDP\n%s\n", text);
	if (!text || cw_sdp_parse(sdp, text, strlen(text), &e) != 0) {
		snprintf(r->why, sizeof(r->why), "the server's SDP: line %u: %s", e.line, e.msg);
		return -1;
	}
	return 0;
}

/* ---- Janus -------------------------------------------------------------------------- */

/* Janus, first part: the rooms, and every publisher's offer answered. */
static int janus_publishers(struct remote *r)
{
	const struct ropts *o = r->o;
	char err[256];

	r->janus = janus_open(o->url, err, sizeof(err));
	if (!r->janus) {
		snprintf(r->why, sizeof(r->why), "janus: %s", err);
		return -1;
	}
	for (int room = 0; room < o->rooms; room++) {
		if (janus_room_create(r->janus, 1000 + (uint64_t)room, o->sc->speakers, err,
				      sizeof(err)) != 0)
			goto fail;
	}
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		struct cw_sdp *sdp = NULL;
		char *offer, *answer = NULL;
		uint64_t handle;
		int e;

		if (!pa->publishes)
			continue;
		offer = publish_offer(r, pa);
		e = janus_publish(r->janus, 1000 + (uint64_t)pa->room, pa->feed, pa->uid, offer,
				  &answer, &handle, err, sizeof(err));
		free(offer);
		if (e != 0)
			goto fail;
		e = parse_sdp(r, answer, &sdp) || take_remote(r, pa->pub, sdp, false);
		cw_sdp_free(sdp);
		free(answer);
		if (e)
			return -1;
	}
	return 0;
fail:
	snprintf(r->why, sizeof(r->why), "janus: %s", err);
	return -1;
}

/* Janus, second part (once the publishers' connections are up): every subscriber's handle
 * to the other publishers of its room, Janus's offer answered. */
static int janus_subscribers(struct remote *r)
{
	const struct ropts *o = r->o;
	char err[256];

	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i], *in = &r->parts[pa->room * o->sc->per_room];
		uint64_t others[64], handle;
		struct cw_sdp *sdp = NULL;
		char *offer = NULL, *answer = NULL;
		int n = 0, e, tracks = 0, tries = 0;

		if (!pa->sub)
			continue;
		for (int s = 0; s < o->sc->speakers; s++) {
			if (in[s].feed != pa->feed)
				others[n++] = in[s].feed;
		}
		/* A publisher counts once Janus has seen its DTLS handshake end, which may be a
		 * moment after ours did. */
		while ((e = janus_subscribe(r->janus, 1000 + (uint64_t)pa->room, others, n, &offer,
					    &handle, err, sizeof(err))) != 0 &&
		       strstr(err, "No such feed") && ++tries < 50)
			janus_poll(r->janus, 100);
		if (e != 0)
			goto fail;
		e = parse_sdp(r, offer, &sdp) || take_remote(r, pa->sub, sdp, true);
		if (!e)
			answer = subscribe_answer(r, pa->sub, sdp, &tracks);
		cw_sdp_free(sdp);
		free(offer);
		if (e)
			return -1;
		e = janus_start(r->janus, handle, answer, err, sizeof(err));
		free(answer);
		if (e != 0)
			goto fail;
		if (tracks != pa->expect_tracks) {
			snprintf(r->why, sizeof(r->why), "janus offered %d tracks, not %d", tracks,
				 pa->expect_tracks);
			return -1;
		}
	}
	return 0;
fail:
	snprintf(r->why, sizeof(r->why), "janus: %s", err);
	return -1;
}

/* ---- callwire ------------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;

	put(b, "%.*s", (int)(size * nmemb), data);
	return size * nmemb;
}

/* POST url with a bearer token and a JSON body; the parsed answer of a 2xx, else NULL. */
static json_t *http_post(CURL *e, const char *url, const char *bearer, const char *body)
{
	struct buf b = {0};
	struct curl_slist *h = NULL;
	char auth[1024];
	long status = 0;
	json_t *j = NULL;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(e) == CURLE_OK &&
	    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status / 100 == 2 && b.s)
		j = json_loads(b.s, 0, NULL);
	curl_slist_free_all(h);
	free(b.s);
	return j;
}

static struct part *part_of_ws(struct remote *r, struct ws *w)
{
	return (struct part *)w->user;
	(void)r;
}

static void cw_send(struct part *pa, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	if (!text || ws_send_text(&pa->ws, text, strlen(text)) != 0)
		the_remote->errors++;
	else
		pa->waiting = true;
	free(text);
	json_decref(msg);
}

/* A subscribe offer: the first one gives the subscribe peer its transport; each is
 * answered. */
static void cw_offer(struct remote *r, struct part *pa, json_t *version, const char *sdp_text)
{
	struct cw_sdp *sdp = NULL;
	char *answer;
	int tracks = 0;

	if (!pa->sub || parse_sdp(r, sdp_text, &sdp) != 0 ||
	    (!pa->sub->rufrag[0] && take_remote(r, pa->sub, sdp, true) != 0)) {
		fprintf(stderr, "sfu: %s: %s\n", pa->uid, pa->sub ? r->why : "an unexpected offer");
		r->errors++;
		cw_sdp_free(sdp);
		return;
	}
	answer = subscribe_answer(r, pa->sub, sdp, &tracks);
	cw_sdp_free(sdp);
	pa->offer_version = json_integer_value(version);
	pa->tracks = tracks;
	cw_send(pa, json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:O,s:s}}", "type", "request", "id",
			      "answer", "method", "session.answer", "params", "sessionId", pa->sid,
			      "participantId", pa->pid, "version", version, "sdp", answer));
	free(answer);
}

static void cw_text(struct ws *w, char *text, size_t len)
{
	struct remote *r = the_remote;
	struct part *pa = part_of_ws(r, w);
	json_t *m = json_loadb(text, len, 0, NULL), *res, *sub;
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *id = json_string_value(json_object_get(m, "id"));

	if (!type) {
		r->errors++;
	} else if (strcmp(type, "ready") == 0) {
		pa->ready = true;
	} else if (strcmp(type, "response") == 0 && id) {
		pa->waiting = false;
		res = json_object_get(m, "result");
		if (!res) {
			fprintf(stderr, "sfu: %s: %s failed: %s\n", pa->uid, id,
				json_string_value(
					json_object_get(json_object_get(m, "error"), "message")));
			r->errors++;
		} else if (strcmp(id, "join") == 0) {
			struct cw_sdp *sdp = NULL;
			snprintf(pa->pid, sizeof(pa->pid), "%s",
				 json_string_value(json_object_get(res, "participantId")));
			if (parse_sdp(r, json_string_value(json_object_get(res, "answer")), &sdp) ||
			    take_remote(r, pa->pub, sdp, false)) {
				fprintf(stderr, "sfu: %s: %s\n", pa->uid, r->why);
				r->errors++;
			}
			cw_sdp_free(sdp);
			pa->joined = true;
			sub = json_object_get(res, "subscribe");
			if (json_is_object(sub))
				cw_offer(r, pa, json_object_get(sub, "version"),
					 json_string_value(json_object_get(sub, "sdp")));
		}
	} else if (strcmp(type, "event") == 0) {
		const char *name = json_string_value(json_object_get(m, "name"));
		if (name && strcmp(name, "session.offer") == 0)
			cw_offer(r, pa, json_object_get(m, "version"),
				 json_string_value(json_object_get(m, "sdp")));
		else if (name && strcmp(name, "session.participant_left") == 0)
			r->errors++; /* nobody leaves during a run */
	}
	json_decref(m);
}

static void cw_closed(struct ws *w)
{
	struct part *pa = w->user;

	fprintf(stderr, "sfu: %s: the WebSocket closed (%d, %s)\n", pa->uid, w->close_code,
		w->error ? w->error : "clean");
	the_remote->errors++;
}

static void cw_open(struct ws *w)
{
	(void)w;
}

static const struct ws_handler cw_handler = {cw_open, cw_text, cw_closed};

/* Runs the generator's loop (WebSockets and peers) until done(r) or the deadline. */
static int pump_until(struct remote *r, bool (*done)(struct remote *), const char *what)
{
	uint64_t deadline = now_ns() + SIGNAL_DEADLINE_S * 1000000000ull;

	while (!done(r)) {
		if (r->errors) {
			snprintf(r->why, sizeof(r->why), "errors while %s", what);
			return -1;
		}
		if (now_ns() > deadline) {
			snprintf(r->why, sizeof(r->why), "%s: not within %d s", what,
				 SIGNAL_DEADLINE_S);
			return -1;
		}
		gen_poll(r->g, 10000000);
	}
	return 0;
}

static bool all_ready(struct remote *r)
{
	for (int i = 0; i < r->n_parts; i++) {
		if (!r->parts[i].ready)
			return false;
	}
	return true;
}

static struct part *joining;

static bool joined(struct remote *r)
{
	(void)r;
	return joining->joined;
}

static bool all_answered(struct remote *r)
{
	for (int i = 0; i < r->n_parts; i++) {
		const struct part *pa = &r->parts[i];
		if (pa->waiting || (pa->sub && pa->tracks != pa->expect_tracks))
			return false;
	}
	return true;
}

static int callwire_setup(struct remote *r)
{
	const struct ropts *o = r->o;
	char **uids = calloc((size_t)r->n_parts, sizeof(char *));
	char **tokens = calloc((size_t)r->n_parts, sizeof(char *));
	const char *hp = strstr(o->url, "://");
	CURL *e = curl_easy_init();
	int rc = -1;

	if (!uids || !tokens || !e || !hp)
		goto out;
	hp += 3;
	snprintf(r->host_port, sizeof(r->host_port), "%s", hp);
	{
		char host[64];
		const char *colon = strrchr(r->host_port, ':');
		if (!colon || (size_t)(colon - r->host_port) >= sizeof(host))
			goto out;
		memcpy(host, r->host_port, (size_t)(colon - r->host_port));
		host[colon - r->host_port] = '\0';
		r->server_addr.sin_family = AF_INET;
		r->server_addr.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &r->server_addr.sin_addr) != 1)
			goto out;
	}
	for (int i = 0; i < r->n_parts; i++)
		uids[i] = r->parts[i].uid;
	if (rest_users_and_tokens(o->url, o->app, o->key, uids, (size_t)r->n_parts, 1, tokens) !=
	    0) {
		snprintf(r->why, sizeof(r->why), "cannot make the users and their tokens");
		goto out;
	}
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		char url[512];
		json_t *j;

		pa->token = tokens[i];
		tokens[i] = NULL;
		snprintf(url, sizeof(url), "%s/v1/apps/%s/sessions/%s/token", o->url, o->app,
			 pa->sid);
		j = http_post(e, url, pa->token, "{}");
		if (!json_string_value(json_object_get(j, "callToken"))) {
			snprintf(r->why, sizeof(r->why), "%s: no call token", pa->uid);
			json_decref(j);
			goto out;
		}
		pa->call_token = strdup(json_string_value(json_object_get(j, "callToken")));
		json_decref(j);
		if (ws_connect(&pa->ws, r->g->epfd, &r->server_addr, r->host_port, &cw_handler,
			       pa) != 0) {
			snprintf(r->why, sizeof(r->why), "%s: cannot connect", pa->uid);
			goto out;
		}
	}
	/* Everyone's auth, once the sockets are open. */
	for (;;) {
		int open = 0;
		for (int i = 0; i < r->n_parts; i++)
			open += r->parts[i].ws.state == WS_OPEN;
		if (open == r->n_parts)
			break;
		gen_poll(r->g, 10000000);
		if (r->errors) {
			snprintf(r->why, sizeof(r->why), "WebSockets failed to open");
			goto out;
		}
	}
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		json_t *m = json_pack("{s:s,s:s,s:s,s:n}", "type", "auth", "appId", o->app, "token",
				      pa->token, "resumeFrom");
		char *text = json_dumps(m, JSON_COMPACT);
		if (ws_send_text(&pa->ws, text, strlen(text)) != 0)
			r->errors++;
		free(text);
		json_decref(m);
	}
	if (pump_until(r, all_ready, "authenticating") != 0)
		goto out;
	/* One join at a time, in order: the others' offers come as events meanwhile. */
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		char *offer = publish_offer(r, pa);
		cw_send(pa, json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "type", "request", "id",
				      "join", "method", "session.join", "params", "callToken",
				      pa->call_token, "sessionId", pa->sid, "offer", offer));
		free(offer);
		joining = pa;
		if (pump_until(r, joined, "joining") != 0)
			goto out;
	}
	if (pump_until(r, all_answered, "answering the subscribe offers") != 0)
		goto out;
	rc = 0;
out:
	for (int i = 0; tokens && i < r->n_parts; i++)
		free(tokens[i]);
	free(uids);
	free(tokens);
	if (e)
		curl_easy_cleanup(e);
	return rc;
}

/* gen_poll's other file descriptors: the WebSockets. */
static void on_other(void *ptr, uint32_t events)
{
	ws_on_events(ptr, events);
}

/* ---- Measuring ---------------------------------------------------------------------- */

int remote_snapshot(struct gen *g, struct snapshot *s)
{
	double cpu = proc_cpu_seconds(g->server_pid);
	long rss = proc_rss_kb(g->server_pid);

	memset(s, 0, sizeof(*s));
	if (cpu < 0 || rss < 0) {
		fprintf(stderr, "sfu: the server process %d is gone\n", g->server_pid);
		return -1;
	}
	s->wall_ns = now_ns();
	s->sfu_process_ns = (uint64_t)(cpu * 1e9);
	s->server_rss_kb = (uint64_t)rss;
	return 0;
}

static json_t *report(struct remote *r, const struct snapshot *a, const struct snapshot *b,
		      long rss0, long rss1, double setup_s)
{
	struct gen *g = r->g;
	const struct ropts *o = r->o;
	double secs = (double)(b->wall_ns - a->wall_ns) / 1e9;
	double cpu = (double)(b->sfu_process_ns - a->sfu_process_ns) / 1e9;
	double gen_cpu = (double)(b->gen_ns - a->gen_ns) / 1e9;
	uint64_t received = 0, gaps = 0, srtp_err = 0, unknown = 0, pli = 0, remb = 0, sent = 0;
	uint64_t profiles[2] = {0};
	int64_t lost;

	for (int i = 0; i < g->n_peers; i++) {
		struct peer *p = &g->peers[i];
		if (p->role == ROLE_SUB)
			received += p->rtp_rx;
		gaps += peer_seq_gaps(p);
		srtp_err += p->srtp_errors;
		unknown += p->unknown_ssrc;
		pli += p->pli_rx + p->fir_rx;
		remb += p->remb_rx;
		sent += p->sent[0] + p->sent[1];
		if (p->srtp)
			profiles[cw_srtp_profile(p->srtp) == CW_SRTP_AEAD_AES_128_GCM]++;
	}
	lost = (int64_t)g->copies_expected - (int64_t)received;
	return json_pack(
		"{s:s,s:s,s:i,s:i,s:i,s:i,s:f,"
		"s:{s:f,s:f,s:I,s:f,s:f,s:f,s:f},"
		"s:{s:I,s:I,s:I,s:f,s:I,s:I,s:I},"
		"s:{s:f,s:f,s:f,s:I,s:I},"
		"s:{s:I,s:I,s:f},"
		"s:{s:I,s:I,s:I,s:I,s:f},s:I}",
		"server", o->server == SERVER_JANUS ? "janus" : "callwire", "scenario", o->sc->name,
		"rooms", o->rooms, "participants", r->n_parts, "peers", g->n_peers, "publishers",
		g->n_pubs, "setup_s", setup_s,
		/* window */
		"window", "seconds", secs, "server_cpu_s", cpu, "forwarded",
		(json_int_t)g->copies_in_window, "forwarded_per_sec",
		(double)g->copies_in_window / secs, "server_cpu_s_per_million",
		g->copies_in_window ? cpu / (double)g->copies_in_window * 1e6 : 0.0,
		"server_cpu_util", cpu / secs, "generator_cpu_util", gen_cpu / secs,
		/* loss */
		"loss", "expected", (json_int_t)g->copies_expected, "received",
		(json_int_t)received, "lost", (json_int_t)lost, "lost_pct",
		g->copies_expected ? 100.0 * (double)lost / (double)g->copies_expected : 0.0,
		"seq_gaps", (json_int_t)gaps, "srtp_errors", (json_int_t)srtp_err, "unknown_ssrc",
		(json_int_t)unknown,
		/* latency */
		"latency_ms", "p50", samples_ms(&g->latency, 0.5), "p99",
		samples_ms(&g->latency, 0.99), "max", samples_ms(&g->latency, 1.0), "samples",
		(json_int_t)g->latency.n, "late_sends", (json_int_t)g->late_sends,
		/* memory */
		"memory", "rss_before_kb", (json_int_t)rss0, "rss_after_kb", (json_int_t)rss1,
		"per_participant_kb", (double)(rss1 - rss0) / r->n_parts,
		/* misc */
		"counters", "sent", (json_int_t)sent, "keyframe_requests", (json_int_t)pli, "remb",
		(json_int_t)remb, "srtp_gcm_sessions", (json_int_t)profiles[1], "generator_cpu_s",
		gen_cpu, "errors", (json_int_t)(g->errors + r->errors));
}

int remote_main(int argc, char **argv)
{
	struct ropts o;
	struct opts go = {0};
	struct gen g;
	struct remote r;
	struct media media;
	struct cw_dtls_cert *cert = NULL;
	struct cw_dtls_ctx *client = NULL, *server = NULL;
	struct snapshot a, b;
	struct rlimit rl;
	char err[256];
	long rss0, rss1;
	uint64_t t_setup;
	json_t *rep;
	int rc = 1, e;

	if (parse(&o, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	cw_log_set_level(CW_LOG_WARN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (media_load(o.media, &media, err, sizeof(err)) != 0) {
		fprintf(stderr, "sfu: %s: %s\n", o.media, err);
		return 1;
	}
	/* What load.c and peer.c read of the in-process options. */
	go.duration = o.duration;
	go.warmup = o.warmup;
	go.sample = o.sample;
	go.subscribers = 1;
	memset(&g, 0, sizeof(g));
	memset(&r, 0, sizeof(r));
	g.o = &go;
	g.remote = true;
	g.server_pid = o.server_pid;
	g.media = &media;
	g.other = on_other;
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	r.o = &o;
	r.g = &g;
	the_remote = &r;
	alarm((unsigned)(SIGNAL_DEADLINE_S * 2 + SETUP_DEADLINE_S + o.warmup + o.duration + 30));
	if (g.epfd < 0 || init_buffers(&g) != 0 || parts_make(&r) != 0 ||
	    cw_dtls_cert_new(&cert) != 0 ||
	    cw_dtls_ctx_new(&client, cert, CW_DTLS_CLIENT, CW_DTLS_PROFILES_ALL) != 0 ||
	    cw_dtls_ctx_new(&server, cert, CW_DTLS_SERVER, CW_DTLS_PROFILES_ALL) != 0) {
		fprintf(stderr, "sfu: cannot set the generator up\n");
		goto out;
	}
	r.fingerprint = cw_dtls_cert_fingerprint(cert);
	r.client = client;
	r.server = server;
	for (int i = 0; i < g.n_peers; i++) {
		e = peer_bind(&r, &g.peers[i]);
		if (e) {
			fprintf(stderr, "sfu: cannot bind to %s: %s\n", o.bind, strerror(-e));
			goto out;
		}
	}
	rss0 = proc_rss_kb(o.server_pid);
	t_setup = now_ns();
	if (o.server == SERVER_JANUS) {
		int all = g.n_peers;
		/* The publishers' connections first: only then may anybody subscribe. */
		if (janus_publishers(&r) != 0 || start_peers(&r, 0, r.n_pub_peers) != 0)
			goto fail;
		g.n_peers = r.n_pub_peers;
		e = peers_connect(&g);
		g.n_peers = all;
		if (e != 0 || janus_subscribers(&r) != 0 ||
		    start_peers(&r, r.n_pub_peers, g.n_peers) != 0)
			goto fail;
	} else if (callwire_setup(&r) != 0 || start_peers(&r, 0, g.n_peers) != 0) {
		goto fail;
	}
	if (peers_connect(&g) != 0)
		goto out;
	rss1 = proc_rss_kb(o.server_pid);
	t_setup = now_ns() - t_setup;
	if (gen_load(&g, &a, &b) != 0)
		goto out;
	rep = report(&r, &a, &b, rss0, rss1, (double)t_setup / 1e9);
	json_dumpf(rep, stdout, JSON_INDENT(1));
	putchar('\n');
	fflush(stdout);
	json_decref(rep);
	rc = g.errors || r.errors ? 3 : 0;
	goto out;
fail:
	fprintf(stderr, "sfu: %s\n", r.why);
out:
	if (r.janus)
		janus_close(r.janus);
	for (int i = 0; g.peers && i < g.n_peers; i++)
		peer_close(&g.peers[i]);
	for (int i = 0; r.parts && i < r.n_parts; i++) {
		if (o.server == SERVER_CALLWIRE && r.parts[i].ws.fd > 0)
			ws_free(&r.parts[i].ws);
		free(r.parts[i].token);
		free(r.parts[i].call_token);
	}
	free(r.parts);
	free(g.peers);
	free(g.pubs);
	cw_dtls_ctx_free(client);
	cw_dtls_ctx_free(server);
	cw_dtls_cert_free(cert);
	samples_free(&g.latency);
	media_free(&media);
	free(g.rx_buf);
	free(g.tx_buf);
	if (g.epfd >= 0)
		close(g.epfd);
	curl_global_cleanup();
	return rc;
}
