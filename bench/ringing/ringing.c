/* ringing: a single-threaded load generator for callwire's ringing over real WebSockets.
 * `ringing cycles` runs caller/callee pairs through initiate, incoming, accept and end;
 * `ringing idle` holds many authenticated connections open. Loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/resource.h>

#include "bench.h"
#include "rest.h"

#define EVENTS_MAX 512

static struct bench *g_bench; /* the one bench of this process, for the ws callbacks */

void bench_error(struct bench *b, const char *what)
{
	json_t *n = json_object_get(b->error_kinds, what);

	if (b->errors++ < 5)
		fprintf(stderr, "ringing: error: %s\n", what);
	json_object_set_new(b->error_kinds, what, json_integer(n ? json_integer_value(n) + 1 : 1));
}

void bench_send(struct bench *b, struct client *c, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (!text || ws_send_text(&c->ws, text, strlen(text)) != 0)
		bench_error(b, "send failed");
	free(text);
}

static void on_open(struct ws *w)
{
	struct client *c = (struct client *)w;

	bench_send(g_bench, c,
		   json_pack("{s:s,s:s,s:s,s:n}", "type", "auth", "appId", g_bench->o->app, "token",
			     c->token, "resumeFrom"));
}

static void on_text(struct ws *w, char *text, size_t len)
{
	struct client *c = (struct client *)w;
	struct bench *b = g_bench;
	uint64_t now = now_ns();
	json_t *msg = json_loadb(text, len, 0, NULL);
	const char *type = json_string_value(json_object_get(msg, "type"));

	if (getenv("RINGING_TRACE"))
		fprintf(stderr, "< %s %.*s\n", c->uid, (int)len, text);
	if (!type) {
		bench_error(b, "a message that is not a JSON object with a type");
	} else if (!c->ready) {
		if (strcmp(type, "ready") == 0) {
			c->ready = true;
			b->ready++;
		} else {
			bench_error(b, "a message before ready");
		}
	} else if (b->on_msg) {
		b->on_msg(c, msg, now);
	}
	json_decref(msg);
}

static void on_closed(struct ws *w)
{
	struct client *c = (struct client *)w;
	struct bench *b = g_bench;
	char what[96];

	if (c->failed)
		return;
	c->failed = true;
	b->failed++;
	if (w->close_code)
		snprintf(what, sizeof(what), "closed by the server (%d)", w->close_code);
	else
		snprintf(what, sizeof(what), "connection: %s", w->error ? w->error : "closed");
	bench_error(b, what);
	if (b->on_fail)
		b->on_fail(c);
}

static const struct ws_handler handler = {on_open, on_text, on_closed};

void bench_poll(struct bench *b, long timeout_us)
{
	struct epoll_event ev[EVENTS_MAX];
	struct timespec ts = {timeout_us / 1000000, timeout_us % 1000000 * 1000};
	/* epoll_pwait2 for microsecond timeouts: an open-loop schedule of 1,000 starts a
	 * second cannot keep time with epoll_wait's milliseconds. */
	int n = epoll_pwait2(b->epfd, ev, EVENTS_MAX, timeout_us < 0 ? NULL : &ts, NULL);

	for (int i = 0; i < n; i++)
		ws_on_events(ev[i].data.ptr, ev[i].events);
}

int bench_setup(struct bench *b, const struct opts *o, char **uids, size_t nusers, size_t per_user)
{
	char **tokens;
	size_t n = nusers * per_user;
	uint64_t t0 = now_ns(), t1, deadline = t0 + (uint64_t)(SETUP_DEADLINE_S * 1e9);

	g_bench = b;
	b->o = o;
	b->n = n;
	b->error_kinds = json_object();
	b->clients = calloc(n, sizeof(*b->clients));
	tokens = calloc(n, sizeof(*tokens));
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!b->clients || !tokens || b->epfd < 0 ||
	    rest_users_and_tokens(o->base, o->app, o->key, uids, nusers, per_user, tokens) != 0) {
		for (size_t i = 0; tokens && i < n; i++)
			free(tokens[i]);
		free(tokens);
		return -1;
	}
	t1 = now_ns();
	b->rest_s = (double)(t1 - t0) / 1e9;
	if (b->before_connect)
		b->before_connect(b);
	for (size_t i = 0; i < n; i++) {
		b->clients[i].uid = uids[i / per_user];
		b->clients[i].token = tokens[i];
		b->clients[i].ws.fd = -1;
	}
	while (b->ready + b->failed < n && now_ns() < deadline) {
		while (b->started < n && b->started - b->ready - b->failed < (size_t)o->in_flight) {
			struct client *c = &b->clients[b->started++];
			c->started = true;
			if (ws_connect(&c->ws, b->epfd, &o->addr, o->host_port, &handler, c) != 0) {
				c->failed = true;
				b->failed++;
				bench_error(b, "connect failed");
			}
		}
		bench_poll(b, 50000);
	}
	b->connect_s = (double)(now_ns() - t1) / 1e9;
	/* The tokens went out in the auth messages; they are not needed any more. */
	for (size_t i = 0; i < n; i++) {
		free(tokens[i]);
		b->clients[i].token = NULL;
	}
	free(tokens);
	if (b->ready < n)
		fprintf(stderr, "ringing: %zu of %zu connections ready, %zu failed\n", b->ready, n,
			b->failed);
	return b->ready == n ? 0 : -1;
}

void bench_free(struct bench *b)
{
	for (size_t i = 0; b->clients && i < b->n; i++) {
		ws_close(&b->clients[i].ws);
		ws_free(&b->clients[i].ws);
	}
	free(b->clients);
	json_decref(b->error_kinds);
	if (b->epfd >= 0)
		close(b->epfd);
}

static void usage(void)
{
	fprintf(stderr, "usage: ringing cycles --server 127.0.0.1:PORT --app APP --key REST_KEY\n"
			"                      --pairs N --duration S [--rate R] [--warmup S]\n"
			"                      [--max-cycles N] [--server-pid PID]\n"
			"                      [--exec-at-start CMD] [--exec-at-end CMD]\n"
			"       ringing idle --server 127.0.0.1:PORT --app APP --key REST_KEY\n"
			"                    --conns N --users U [--hold S] [--server-pid PID]\n"
			"common: [--prefix UIDPREFIX] [--in-flight N]\n"
			"Prints one JSON report on stdout. Only loopback servers are accepted.\n");
}

static int parse_server(struct opts *o, const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[32];
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	/* A load generator must not be pointed at someone else's server. */
	if (strcmp(host, "127.0.0.1") != 0 || port < 1 || port > 65535)
		return -1;
	o->addr.sin_family = AF_INET;
	o->addr.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &o->addr.sin_addr);
	snprintf(o->host_port, sizeof(o->host_port), "127.0.0.1:%ld", port);
	snprintf(o->base, sizeof(o->base), "http://127.0.0.1:%ld", port);
	return 0;
}

/* One descriptor per connection: take the hard limit as the soft one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"app", required_argument, NULL, 'a'},
		{"key", required_argument, NULL, 'k'},
		{"pairs", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'd'},
		{"rate", required_argument, NULL, 'r'},
		{"warmup", required_argument, NULL, 'w'},
		{"max-cycles", required_argument, NULL, 'm'},
		{"conns", required_argument, NULL, 'c'},
		{"users", required_argument, NULL, 'u'},
		{"hold", required_argument, NULL, 'H'},
		{"server-pid", required_argument, NULL, 'P'},
		{"prefix", required_argument, NULL, 'x'},
		{"in-flight", required_argument, NULL, 'f'},
		{"exec-at-start", required_argument, NULL, 'S'},
		{"exec-at-end", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct opts o = {.pairs = 50,
			 .duration = 10,
			 .warmup = 1,
			 .users = 1000,
			 .conns = 10000,
			 .in_flight = 500,
			 .hold = 0};
	static char prefix[32];
	const char *mode;
	bool have_server = false;
	int ch;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return argc < 2 ? 2 : 0;
	}
	mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_server(&o, optarg) != 0) {
				fprintf(stderr, "ringing: --server must be 127.0.0.1:PORT\n");
				return 2;
			}
			have_server = true;
			break;
		case 'a':
			o.app = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'p':
			o.pairs = atol(optarg);
			break;
		case 'd':
			o.duration = atof(optarg);
			break;
		case 'r':
			o.rate = atof(optarg);
			break;
		case 'w':
			o.warmup = atof(optarg);
			break;
		case 'm':
			o.max_cycles = atol(optarg);
			break;
		case 'c':
			o.conns = atol(optarg);
			break;
		case 'u':
			o.users = atol(optarg);
			break;
		case 'H':
			o.hold = atof(optarg);
			break;
		case 'P':
			o.server_pid = (pid_t)atol(optarg);
			break;
		case 'x':
			o.prefix = optarg;
			break;
		case 'f':
			o.in_flight = atol(optarg);
			break;
		case 'S':
			o.exec_start = optarg;
			break;
		case 'E':
			o.exec_end = optarg;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (!have_server || !o.app || !o.key) {
		usage();
		return 2;
	}
	if (!o.prefix) {
		snprintf(prefix, sizeof(prefix), "bench%lx%x", (unsigned long)time(NULL),
			 (unsigned)getpid());
		o.prefix = prefix;
	}
	if (o.in_flight < 1 || o.in_flight > 5000 || o.duration <= 0 || o.duration > MAX_DURATION ||
	    o.warmup < 0 || o.warmup > 60 || o.rate < 0 || o.rate > MAX_RATE || o.hold < 0 ||
	    o.hold > MAX_HOLD || o.max_cycles < 0) {
		fprintf(stderr, "ringing: an option is out of range\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (strcmp(mode, "cycles") == 0) {
		if (o.pairs < 1 || o.pairs > MAX_PAIRS) {
			fprintf(stderr, "ringing: --pairs must be 1 to %d\n", MAX_PAIRS);
			return 2;
		}
		return run_cycles(&o);
	}
	if (strcmp(mode, "idle") == 0) {
		if (o.conns < 1 || o.conns > MAX_CONNS || o.users < 1 || o.users > o.conns ||
		    o.conns % o.users != 0) {
			fprintf(stderr, "ringing: --conns 1 to %d, a multiple of --users\n",
				MAX_CONNS);
			return 2;
		}
		return run_idle(&o);
	}
	usage();
	return 2;
}
