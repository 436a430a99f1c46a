/* sfu: a load generator for callwire's media plane. It starts the SFU in this process
 * (cw_sfu_start on 127.0.0.1) and forks the generator, which connects rooms of publishers
 * and subscribers to it over loopback with real ICE checks, DTLS handshakes and SRTP, sends
 * paced or saturating media and prints one JSON report: forwarded packets per second and
 * per CPU second of the workers, added latency, loss, the SFU's counters and same-run
 * references.
 *
 * Two processes, so that the SFU's CPU time, caches and allocator are its own: when SRTP
 * was libsrtp over NSS, whose tables and locks are shared by a whole process, the
 * generator's sessions in the SFU's process made each of the SFU's packets dearer.
 *
 * `sfu remote …` (remote.c) drives a server process instead: callwire or Janus. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#ifdef BENCH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif

#include "sfugen.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sfu [--rooms R] [--publishers P] [--subscribers S] [--workers N]\n"
		"           [--pps PPS | --saturate [--window COPIES]] [--size BYTES] [--audio]\n"
		"           [--duration S] [--warmup S] [--profile gcm|cm] [--sample N]\n"
		"           [--pin auto|on|off] [--max-packets N] [--callgrind]\n"
		"Defaults: 10 rooms of 1 publisher and 10 subscribers, 1 worker, 1000 video\n"
		"packets/s per publisher of 1200 bytes, AEAD_AES_128_GCM, 1 s warm-up, 10 s.\n");
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{"rooms", required_argument, NULL, 'r'},
		{"publishers", required_argument, NULL, 'P'},
		{"subscribers", required_argument, NULL, 'S'},
		{"workers", required_argument, NULL, 'w'},
		{"pps", required_argument, NULL, 'p'},
		{"size", required_argument, NULL, 's'},
		{"audio", no_argument, NULL, 'a'},
		{"saturate", no_argument, NULL, 'X'},
		{"window", required_argument, NULL, 'W'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'u'},
		{"profile", required_argument, NULL, 'f'},
		{"sample", required_argument, NULL, 'm'},
		{"pin", required_argument, NULL, 'n'},
		{"max-packets", required_argument, NULL, 'M'},
		{"callgrind", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	*o = (struct opts){.rooms = 10,
			   .publishers = 1,
			   .subscribers = 10,
			   .workers = 1,
			   .pps = 1000,
			   .size = 1200,
			   .window = 2048,
			   .duration = 10,
			   .warmup = 1,
			   .profile = CW_SRTP_AEAD_AES_128_GCM,
			   .sample = 16,
			   .pin = -1};
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->rooms = atoi(optarg);
			break;
		case 'P':
			o->publishers = atoi(optarg);
			break;
		case 'S':
			o->subscribers = atoi(optarg);
			break;
		case 'w':
			o->workers = atoi(optarg);
			break;
		case 'p':
			o->pps = atof(optarg);
			break;
		case 's':
			o->size = atoi(optarg);
			break;
		case 'a':
			o->audio = true;
			break;
		case 'X':
			o->saturate = true;
			break;
		case 'W':
			o->window = atoi(optarg);
			break;
		case 'd':
			o->duration = atof(optarg);
			break;
		case 'u':
			o->warmup = atof(optarg);
			break;
		case 'f':
			if (strcmp(optarg, "gcm") == 0)
				o->profile = CW_SRTP_AEAD_AES_128_GCM;
			else if (strcmp(optarg, "cm") == 0)
				o->profile = CW_SRTP_AES128_CM_SHA1_80;
			else
				return -1;
			break;
		case 'm':
			o->sample = atoi(optarg);
			break;
		case 'n':
			o->pin = strcmp(optarg, "on") == 0    ? 1
				 : strcmp(optarg, "off") == 0 ? 0
							      : -1;
			break;
		case 'M':
			o->max_packets = atol(optarg);
			break;
		case 'C':
			o->callgrind = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc || o->rooms < 1 || o->rooms > MAX_ROOMS || o->publishers < 1 ||
	    o->publishers > MAX_PUBLISHERS || o->subscribers < 1 ||
	    o->subscribers > MAX_SUBSCRIBERS ||
	    o->rooms * (o->publishers + o->subscribers) > MAX_PEERS || o->workers < 1 ||
	    o->workers > CW_SFU_WORKERS_MAX || !(o->pps >= 1 && o->pps <= MAX_PPS) ||
	    o->size < SIZE_MIN || o->size > SIZE_MAX_RTP || o->window < o->subscribers ||
	    o->window > MAX_WINDOW || !(o->duration > 0 && o->duration <= MAX_DURATION) ||
	    !(o->warmup >= 0 && o->warmup <= MAX_WARMUP) || o->sample < 1 || o->sample > 4096 ||
	    o->max_packets < 0)
		return -1;
#ifndef BENCH_HAVE_CALLGRIND
	if (o->callgrind) {
		fprintf(stderr, "sfu: built without valgrind/callgrind.h: no --callgrind\n");
		return -1;
	}
#endif
	return 0;
}

int init_buffers(struct gen *g)
{
	g->rx_buf = calloc(BATCH, sizeof(*g->rx_buf));
	g->tx_buf = calloc(BATCH, sizeof(*g->tx_buf));
	if (!g->rx_buf || !g->tx_buf)
		return -ENOMEM;
	for (int i = 0; i < BATCH; i++) {
		g->rx_iov[i].iov_base = g->rx_buf[i];
		g->rx_iov[i].iov_len = DGRAM_MAX;
		g->rx_msgs[i].msg_hdr.msg_iov = &g->rx_iov[i];
		g->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		g->tx_iov[i].iov_base = g->tx_buf[i];
		g->tx_msgs[i].msg_hdr.msg_iov = &g->tx_iov[i];
		g->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

int gen_snapshot(struct gen *g, int tag, struct snapshot *s)
{
	struct timespec ts;

	if (g->remote) {
		if (remote_snapshot(g, s) != 0)
			return -1;
	} else if (send(g->ctl, &tag, sizeof(tag), MSG_NOSIGNAL) != sizeof(tag) ||
		   recv(g->ctl, s, sizeof(*s), 0) != sizeof(*s)) {
		fprintf(stderr, "sfu: the SFU process is gone\n");
		return -1;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	s->gen_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->gen_wait_ns = sys_wait_ns(0);
	return 0;
}

/* The generator process: connects every peer, measures the references, runs the load and
 * prints the report. Returns the exit status. */
static int generator_main(struct gen *g, const struct cw_dtls_cert *cert)
{
	const struct opts *o = g->o;
	struct cw_dtls_ctx *ctx = NULL;
	struct reference ref = {0};
	struct snapshot s0, a, b, se;
	struct report_in in = {.s0 = &s0, .a = &a, .b = &b, .se = &se};
	uint64_t drops0[2], udp0[2];
	json_t *report = NULL;
	int rc = 1, done = SNAP_DONE;

	if (recv(g->ctl, &g->sfu, sizeof(g->sfu), 0) != sizeof(g->sfu)) {
		fprintf(stderr, "sfu: the SFU process did not start\n");
		goto out;
	}
	if (g->sfu.pinned)
		sys_pin(0, g->sfu.generator_cpu);
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->epfd < 0 || init_buffers(g) != 0 ||
	    cw_dtls_ctx_new(&ctx, cert, CW_DTLS_CLIENT, CW_DTLS_PROFILE(o->profile)) != 0) {
		fprintf(stderr, "sfu: cannot set the generator up\n");
		goto out;
	}
	in.setup_ns = now_ns();
	for (int i = 0; i < g->n_peers; i++) {
		int err = peer_open(g, &g->peers[i], ctx);
		if (err) {
			fprintf(stderr, "sfu: peer %d: %s\n", i, strerror(-err));
			goto out;
		}
	}
	if (peers_connect(g) != 0)
		goto out;
	in.setup_ns = now_ns() - in.setup_ns;
	/* The references on the generator's CPU while the SFU idles; not under valgrind,
	 * where they would mean nothing. */
	if (!o->callgrind) {
		if (ref_measure(o, &ref) != 0) {
			fprintf(stderr, "sfu: the reference measurements failed\n");
			goto out;
		}
		in.ref = &ref;
	}
	sys_udp_drops(g->sfu.ports, g->sfu.n_workers, &drops0[0], &drops0[1]);
	sys_udp_errors(&udp0[0], &udp0[1]);
	if (gen_snapshot(g, SNAP_START, &s0) != 0 || gen_load(g, &a, &b) != 0 ||
	    gen_snapshot(g, SNAP_END, &se) != 0)
		goto out;
	sys_udp_drops(g->sfu.ports, g->sfu.n_workers, &in.drops[0], &in.drops[1]);
	sys_udp_errors(&in.udp_err[0], &in.udp_err[1]);
	for (int i = 0; i < 2; i++) {
		in.drops[i] -= drops0[i];
		in.udp_err[i] -= udp0[i];
	}
	report = report_build(g, &in);
	json_dumpf(report, stdout, JSON_INDENT(1));
	putchar('\n');
	fflush(stdout);
	rc = g->errors ? 3 : 0;
out:
	send(g->ctl, &done, sizeof(done), MSG_NOSIGNAL);
	json_decref(report);
	for (int i = 0; g->peers && i < g->n_peers; i++)
		peer_close(&g->peers[i]);
	cw_dtls_ctx_free(ctx);
	samples_free(&g->latency);
	free(g->rx_buf);
	free(g->tx_buf);
	if (g->epfd >= 0)
		close(g->epfd);
	return rc;
}

/* cw_sfu_config.wake, from a worker thread: the SFU process's loop polls the events. */
static void wake_loop(void *arg)
{
	uint64_t one = 1;

	if (write(*(const int *)arg, &one, sizeof(one)) < 0)
		return; /* the counter is full: the loop is awake anyway */
}

/* Takes the workers' queued events, as a control plane does, and counts them by kind. */
static void take_events(struct cw_sfu *sfu, int evfd, uint64_t counts[SFU_EVENT_KINDS])
{
	struct cw_sfu_event evs[64];
	uint64_t v;
	size_t n;

	if (read(evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	while ((n = cw_sfu_poll_events(sfu, evs, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if ((unsigned)evs[i].kind < SFU_EVENT_KINDS)
				counts[evs[i].kind]++;
		}
	}
}

/* Answers the generator's snapshot requests and takes the SFU's events until the generator
 * is done. */
static void serve(const struct opts *o, struct cw_sfu *sfu, int ctl, int evfd, const int *tids,
		  int n_workers)
{
	struct pollfd pf[2] = {{.fd = ctl, .events = POLLIN}, {.fd = evfd, .events = POLLIN}};
	uint64_t events[SFU_EVENT_KINDS] = {0};
	struct snapshot s;
	int tag;

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pf[1].revents)
			take_events(sfu, evfd, events);
		if (!pf[0].revents)
			continue;
		if (recv(ctl, &tag, sizeof(tag), 0) != sizeof(tag) || tag == SNAP_DONE)
			return;
		take_events(sfu, evfd, events);
		sys_snapshot(&s, sfu, tids, n_workers);
		memcpy(s.events, events, sizeof(events));
#ifdef BENCH_HAVE_CALLGRIND
		/* Only the workers' instructions are collected (--toggle-collect=worker_main):
		 * those between the window's edges. */
		if (o->callgrind && tag == SNAP_WINDOW_START)
			CALLGRIND_ZERO_STATS;
		if (o->callgrind && tag == SNAP_WINDOW_END)
			CALLGRIND_DUMP_STATS_AT("window");
#else
		(void)o;
#endif
		if (send(ctl, &s, sizeof(s), MSG_NOSIGNAL) != sizeof(s))
			return;
	}
}

/* The SFU process: starts the workers on their CPUs, adds every peer, tells the generator
 * where they are, then serves it until it is done. */
static int sfu_main(struct gen *g, int ctl, pid_t child, const char *gen_fp)
{
	const struct opts *o = g->o;
	int evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct cw_sfu_config cfg = {.bind_ip = "127.0.0.1",
				    .workers = o->workers,
				    .wake = wake_loop,
				    .wake_arg = &evfd};
	struct cw_sfu *sfu = NULL;
	struct hello h;
	int before[1024], n_before = sys_tasks(before, 1024), tids[CW_SFU_WORKERS_MAX];
	int cpus[CPUS_MAX], n_cpus = sys_cpus(cpus, CPUS_MAX), status = 0, rc = 1;

	memset(&h, 0, sizeof(h));
	if (evfd < 0 || cw_sfu_start(&sfu, &cfg) != 0) {
		fprintf(stderr, "sfu: cannot start the SFU\n");
		goto out;
	}
	h.n_workers = cw_sfu_workers(sfu);
	if (sys_find_workers(before, n_before, tids, h.n_workers) != 0) {
		fprintf(stderr, "sfu: cannot tell the SFU's %d worker threads\n", h.n_workers);
		goto out;
	}
	/* The generator and this process's main thread on the first CPU, the workers on the
	 * others: when there are enough CPUs, nothing of the bench shares a worker's. */
	h.cpus = n_cpus;
	h.pinned = n_cpus >= 2 && (o->pin == 1 || (o->pin == -1 && n_cpus >= h.n_workers + 1));
	h.generator_cpu = cpus[0];
	for (int i = 0; i < h.n_workers && h.pinned; i++) {
		h.worker_cpus[i] = cpus[1 + i % (n_cpus - 1)];
		h.pinned = sys_pin(tids[i], h.worker_cpus[i]) == 0;
	}
	if (h.pinned)
		sys_pin(0, cpus[0]);
	for (int i = 0; i < h.n_workers; i++)
		h.ports[i] = cw_sfu_port(sfu, i);
	snprintf(h.fingerprint, sizeof(h.fingerprint), "%s", cw_sfu_fingerprint(sfu));
	for (int i = 0; i < g->n_peers; i++) {
		int err = peer_register(sfu, o, &g->peers[i], gen_fp);
		if (err) {
			fprintf(stderr, "sfu: peer %d: %s\n", i, strerror(-err));
			goto out;
		}
	}
	if (send(ctl, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
		goto out;
	serve(o, sfu, ctl, evfd, tids, h.n_workers);
	rc = 0;
out:
	close(ctl);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		rc = 1;
	else if (rc == 0)
		rc = WEXITSTATUS(status);
	cw_sfu_stop(sfu);
	if (evfd >= 0)
		close(evfd);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct gen g;
	struct cw_dtls_cert *cert = NULL;
	struct rlimit rl;
	int sv[2], rc = 1;
	pid_t child;

	if (argc > 1 && strcmp(argv[1], "remote") == 0)
		return remote_main(argc - 1, argv + 1);
	if (parse_opts(&o, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	cw_log_set_level(CW_LOG_WARN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&g, 0, sizeof(g));
	g.o = &o;
	g.epfd = -1;
	/* The generator's certificate is made before the fork: the SFU process expects its
	 * fingerprint, as it would find it in the peers' SDP. */
	if (peers_make(&g) != 0 || cw_dtls_cert_new(&cert) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		fprintf(stderr, "sfu: cannot prepare the run\n");
		goto out;
	}
	child = fork();
	if (child < 0) {
		fprintf(stderr, "sfu: fork: %s\n", strerror(errno));
		goto out;
	}
	/* Bounded whatever happens: set-up, warm-up, window, drain and a margin (valgrind
	 * makes everything many times slower). An alarm is not inherited: each sets its own. */
	alarm((unsigned)((SETUP_DEADLINE_S + o.warmup + o.duration + 30) * (o.callgrind ? 10 : 1)));
	if (child == 0) {
		close(sv[0]);
		g.ctl = sv[1];
		rc = generator_main(&g, cert);
		close(sv[1]);
	} else {
		close(sv[1]);
		rc = sfu_main(&g, sv[0], child, cw_dtls_cert_fingerprint(cert));
	}
out:
	cw_dtls_cert_free(cert);
	free(g.peers);
	free(g.pubs);
	return rc;
}
