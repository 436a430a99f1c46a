/* remote: `sfu remote …`, the generator against an SFU running as a server process of its
 * own: callwire (`callwire serve`, joined through the WebSocket contract) or Janus (the
 * VideoRoom plugin, joined through Janus's HTTP API). The same peers, ICE checks, DTLS and
 * SRTP as in-process, with each server's SDP; publishers replay a recording of real Opus and
 * VP8 RTP payloads at the times it was recorded. One JSON report: the server process's CPU
 * per forwarded packet (/proc), loss, added latency, memory per participant. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "janus.h"
#include "media.h"
#include "remote.h"
#include "util/util.h"

#define MAX_PARTS 2000
#define SSRC_BASE 0x20000000u

static const struct scenario scenarios[] = {
	{"1to1", 2, 2},
	{"mesh10", 10, 10},
	{"2x50", 52, 2},
};

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
		pa->r = r;
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
	g.other = callwire_on_events;
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	r.o = &o;
	r.g = &g;
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
