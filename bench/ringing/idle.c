/* idle: many authenticated connections that only answer pings, to measure what an idle
 * connection costs the server. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SETTLE_NS 1000000000ull /* after the last `ready`, before reading the RSS */

static volatile sig_atomic_t stop_signal;
static long rss_before = -1;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void idle_msg(struct client *c, json_t *msg, uint64_t now)
{
	(void)c;
	(void)msg;
	(void)now;
	/* Nothing is expected on an idle connection; pings are answered by ws. */
}

static void before_connect(struct bench *b)
{
	if (b->o->server_pid)
		rss_before = proc_rss_kb(b->o->server_pid);
}

/* Keeps the loop turning (pings, closes) for ns nanoseconds or until a signal. */
static void wait_for(struct bench *b, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (!stop_signal && now_ns() < end)
		bench_poll(b, 100000);
}

int run_idle(const struct opts *o)
{
	size_t per_user = (size_t)(o->conns / o->users);
	char **uids = calloc((size_t)o->users, sizeof(char *));
	struct bench b = {.epfd = -1};
	struct sigaction sa = {.sa_handler = on_signal};
	long rss_after = -1, rss_closed = -1;
	size_t dropped, failed_before;
	json_t *out;
	int rc = 1;

	if (!uids)
		return 1;
	for (long i = 0; i < o->users; i++) {
		if (asprintf(&uids[i], "%s-u%ld", o->prefix, i) < 0)
			goto out;
	}
	/* No SA_RESTART: the signal ends epoll_wait at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	b.on_msg = idle_msg;
	b.before_connect = before_connect;
	bench_setup(&b, o, uids, (size_t)o->users, per_user);
	wait_for(&b, SETTLE_NS);
	failed_before = b.failed;
	if (o->server_pid)
		rss_after = proc_rss_kb(o->server_pid);

	out = json_pack("{s:s,s:I,s:I,s:I,s:f,s:f}", "mode", "idle", "connections", (json_int_t)b.n,
			"ready", (json_int_t)b.ready, "failed", (json_int_t)b.failed,
			"rest_setup_s", b.rest_s, "connect_s", b.connect_s);
	if (o->server_pid && rss_before >= 0 && rss_after >= 0) {
		json_object_set_new(out, "server_rss_kb_before", json_integer(rss_before));
		json_object_set_new(out, "server_rss_kb_after", json_integer(rss_after));
		json_object_set_new(
			out, "server_kb_per_conn",
			json_real(b.ready ? (double)(rss_after - rss_before) / (double)b.ready
					  : 0));
	}
	json_object_set_new(out, "client_rss_kb", json_integer(proc_rss_kb(getpid())));
	json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	putchar('\n');
	fflush(stdout);
	json_decref(out);

	/* Hold until told, or for --hold seconds; never longer than MAX_HOLD. */
	wait_for(&b, (uint64_t)((o->hold > 0 ? o->hold : MAX_HOLD) * 1e9));
	dropped = b.failed - failed_before;
	for (size_t i = 0; i < b.n; i++)
		ws_close(&b.clients[i].ws);
	if (o->server_pid) {
		/* Give the server time to see the closes before reading its RSS again. */
		stop_signal = 0;
		for (int i = 0; i < 20; i++)
			wait_for(&b, 100000000ull);
		rss_closed = proc_rss_kb(o->server_pid);
	}
	out = json_pack("{s:s,s:I,s:I}", "mode", "idle-closed", "dropped_while_held",
			(json_int_t)dropped, "server_rss_kb_after_close", (json_int_t)rss_closed);
	json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(out);
	rc = b.ready == b.n && dropped == 0 ? 0 : 3;
out:
	bench_free(&b);
	for (long i = 0; i < o->users; i++)
		free(uids[i]);
	free(uids);
	return rc;
}
