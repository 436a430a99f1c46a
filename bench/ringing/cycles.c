/* cycles: caller/callee pairs through full calls (initiate, incoming, accept, end), closed
 * loop or on an open-loop schedule, measuring throughput and ring latency. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CYCLE_TIMEOUT_NS (10ull * 1000000000ull)
#define DRAIN_NS (10ull * 1000000000ull)
#define LATE_NS 1000000ull /* a start more than 1 ms behind its schedule is late */
/* The server answers ERR_RATE_LIMITED beyond 20 requests per second per connection
 * (burst 50). A caller sends two requests per cycle, so a pair stays under 9.5 cycles/s:
 * throughput must then come from more pairs, not from a faster pair. */
#define PAIR_MIN_INTERVAL_NS (1000000000ull * 2 / 19)

/* What a complete cycle delivers, caller side then callee side. */
enum {
	GOT_INIT_RESP = 1 << 0,
	GOT_ACCEPTED = 1 << 1,
	GOT_END_RESP = 1 << 2,
	GOT_CALLER_ENDED = 1 << 3,
	GOT_INCOMING = 1 << 4,
	GOT_ACCEPT_RESP = 1 << 5,
	GOT_CALLEE_ENDED = 1 << 6,
	GOT_ALL = (1 << 7) - 1,
};

struct pair {
	struct client *caller, *callee;
	bool busy, retired;
	unsigned got;
	long cycle;
	uint64_t t_init, next_allowed;
	char sid[72];
};

static struct run {
	struct bench b;
	const struct opts *o;
	struct pair *pairs;
	size_t npairs;
	size_t *free_q; /* idle pairs, oldest first */
	size_t free_head, free_len;
	uint64_t t0, win_start, win_end;
	bool window_open, stopping;
	long started, completed, counted;
	struct samples ring, cycle;
	struct samples done_at; /* completion times in the window, ns after its start */
	long late_starts, throttled;
	uint64_t max_lag;
} R;

/* The idle queue's size: one slot per pair (never 0: --pairs is at least 1). */
static size_t free_cap(void)
{
	return R.npairs ? R.npairs : 1;
}

static void free_push(struct pair *p)
{
	R.free_q[(R.free_head + R.free_len++) % free_cap()] = (size_t)(p - R.pairs);
}

static struct pair *free_head(void)
{
	return R.free_len ? &R.pairs[R.free_q[R.free_head]] : NULL;
}

/* The idle pair that has waited longest, if its connection may send again by now. */
static struct pair *free_pop(uint64_t now)
{
	struct pair *p = free_head();

	if (!p || p->next_allowed > now)
		return NULL;
	R.free_head = (R.free_head + 1) % free_cap();
	R.free_len--;
	return p;
}

static void send_text(struct client *c, const char *text, int len)
{
	if (ws_send_text(&c->ws, text, (size_t)len) != 0)
		bench_error(&R.b, "send failed");
}

static void cycle_fail(struct pair *p, const char *what)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "cycle: %s", what);
	bench_error(&R.b, buf);
	p->busy = false;
	p->retired = true;
}

static void start_cycle(struct pair *p)
{
	char req[256];
	int n;

	p->cycle++;
	p->busy = true;
	p->got = 0;
	p->sid[0] = '\0';
	n = snprintf(
		req, sizeof(req),
		"{\"type\":\"request\",\"id\":\"i%ld\",\"method\":\"call.initiate\","
		"\"params\":{\"receiver\":\"%s\",\"receiverType\":\"user\",\"type\":\"audio\"}}",
		p->cycle, p->callee->uid);
	R.started++;
	p->t_init = now_ns();
	p->next_allowed = p->t_init + PAIR_MIN_INTERVAL_NS;
	send_text(p->caller, req, n);
}

static void send_action(struct pair *p, struct client *c, char tag, const char *method)
{
	char req[256];
	int n = snprintf(req, sizeof(req),
			 "{\"type\":\"request\",\"id\":\"%c%ld\",\"method\":\"%s\","
			 "\"params\":{\"sessionId\":\"%s\"}}",
			 tag, p->cycle, method, p->sid);
	send_text(c, req, n);
}

static bool in_window(uint64_t t)
{
	return R.window_open && t >= R.win_start && t <= R.win_end;
}

static void cycle_done(struct pair *p, uint64_t now)
{
	p->busy = false;
	R.completed++;
	if (in_window(now)) {
		R.counted++;
		samples_add(&R.cycle, now - p->t_init);
		samples_add(&R.done_at, now - R.win_start);
	}
	if (R.o->rate <= 0 && now < p->next_allowed)
		R.throttled++;
	free_push(p);
}

/* Takes the call's sessionId: the first message of the cycle names it, later ones must
 * name the same. */
static bool same_call(struct pair *p, const char *sid)
{
	if (!sid || !*sid || strlen(sid) >= sizeof(p->sid))
		return false;
	if (!p->sid[0])
		strcpy(p->sid, sid);
	return strcmp(p->sid, sid) == 0;
}

static void on_response(struct pair *p, bool caller, json_t *msg)
{
	const char *id = json_string_value(json_object_get(msg, "id"));
	json_t *err = json_object_get(msg, "error"), *result = json_object_get(msg, "result");
	char want[24];

	if (!id || !p->busy) {
		bench_error(&R.b, "a response outside a cycle");
		return;
	}
	if (err) {
		const char *code = json_string_value(json_object_get(err, "code"));
		cycle_fail(p, code ? code : "an error without a code");
		return;
	}
	if (caller) {
		snprintf(want, sizeof(want), "i%ld", p->cycle);
		if (strcmp(id, want) == 0) {
			if (!same_call(p, json_string_value(json_object_get(result, "sessionId"))))
				cycle_fail(p, "initiate answered with another sessionId");
			else
				p->got |= GOT_INIT_RESP;
			return;
		}
		snprintf(want, sizeof(want), "e%ld", p->cycle);
		if (strcmp(id, want) == 0)
			p->got |= GOT_END_RESP;
		else
			bench_error(&R.b, "a response to an unknown request");
		return;
	}
	snprintf(want, sizeof(want), "a%ld", p->cycle);
	if (strcmp(id, want) == 0)
		p->got |= GOT_ACCEPT_RESP;
	else
		bench_error(&R.b, "a response to an unknown request");
}

static void on_event(struct pair *p, bool caller, json_t *msg, uint64_t now)
{
	const char *name = json_string_value(json_object_get(msg, "name"));
	json_t *call = json_object_get(msg, "call");
	const char *sid = json_string_value(json_object_get(call, "sessionId"));

	if (!name || !p->busy) {
		bench_error(&R.b, "an event outside a cycle");
		return;
	}
	if (!same_call(p, sid)) {
		cycle_fail(p, "an event of another call");
		return;
	}
	if (caller && strcmp(name, "call.accepted") == 0) {
		p->got |= GOT_ACCEPTED;
		send_action(p, p->caller, 'e', "call.end");
	} else if (caller && strcmp(name, "call.ended") == 0) {
		p->got |= GOT_CALLER_ENDED;
	} else if (!caller && strcmp(name, "call.incoming") == 0) {
		if (in_window(p->t_init))
			samples_add(&R.ring, now - p->t_init);
		p->got |= GOT_INCOMING;
		send_action(p, p->callee, 'a', "call.accept");
	} else if (!caller && strcmp(name, "call.accepted_elsewhere") == 0) {
		/* Sent to every device of the callee, naming the one that answered. */
	} else if (!caller && strcmp(name, "call.ended") == 0) {
		p->got |= GOT_CALLEE_ENDED;
	} else {
		cycle_fail(p, name);
	}
}

static void on_msg(struct client *c, json_t *msg, uint64_t now)
{
	struct pair *p = c->ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));
	bool caller = c == p->caller;

	if (strcmp(type, "response") == 0)
		on_response(p, caller, msg);
	else if (strcmp(type, "event") == 0)
		on_event(p, caller, msg, now);
	else
		bench_error(&R.b, "a message of an unknown type");
	if (p->busy && p->got == GOT_ALL)
		cycle_done(p, now);
}

static void on_fail(struct client *c)
{
	struct pair *p = c->ctx;

	if (p && !p->retired) {
		p->busy = false;
		p->retired = true;
	}
}

static void run_hook(const char *cmd)
{
	if (cmd && system(cmd) != 0)
		fprintf(stderr, "ringing: hook failed: %s\n", cmd);
}

struct marks {
	double server_cpu, self_cpu;
	long rss_kb;
};

static void mark(struct marks *m)
{
	m->server_cpu = R.o->server_pid ? proc_cpu_seconds(R.o->server_pid) : -1;
	m->self_cpu = self_cpu_seconds();
	m->rss_kb = R.o->server_pid ? proc_rss_kb(R.o->server_pid) : -1;
}

static long us_until(uint64_t t, uint64_t now)
{
	return t <= now ? 0 : (long)((t - now + 999) / 1000);
}

/* Closed loop: every idle pair starts again as soon as its connection may. */
static long restart(uint64_t now)
{
	struct pair *p;

	while ((p = free_pop(now)))
		start_cycle(p);
	p = free_head();
	return p ? us_until(p->next_allowed, now) : 100000;
}

/* Open loop: starts the cycles that are due on the schedule, as far as pairs are idle. */
static long schedule(uint64_t now)
{
	double period = 1e9 / R.o->rate;

	for (;;) {
		uint64_t due = R.t0 + (uint64_t)((double)R.started * period);
		struct pair *p;
		if (due > now)
			return us_until(due, now);
		if (!(p = free_pop(now))) {
			p = free_head();
			return p ? us_until(p->next_allowed, now) : 100000;
		}
		if (now - due > R.max_lag)
			R.max_lag = now - due;
		if (now - due > LATE_NS)
			R.late_starts++;
		start_cycle(p);
	}
}

/* Completions per second as the least-squares slope of the completion count over time.
 * With hundreds of pairs a saturated server completes cycles in waves (one per group
 * commit), and a plain count over the window is off by up to one wave; the slope is not. */
static double fitted_rate(const struct samples *s)
{
	double n = (double)s->n, st = 0, sk = 0, stt = 0, stk = 0;

	if (s->n < 2)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		double t = (double)s->v[i] / 1e9, k = (double)(i + 1);
		st += t;
		sk += k;
		stt += t * t;
		stk += t * k;
	}
	return n * stt - st * st > 0 ? (n * stk - st * sk) / (n * stt - st * st) : 0;
}

static json_t *latency_json(struct samples *s)
{
	return json_pack("{s:I,s:f,s:f,s:f,s:f}", "samples", (json_int_t)s->n, "p50",
			 samples_ms(s, 0.50), "p90", samples_ms(s, 0.90), "p99",
			 samples_ms(s, 0.99), "max", samples_ms(s, 1.0));
}

static void report(const struct marks *a, const struct marks *z, double secs, double setup_s)
{
	size_t unfinished = 0, retired = 0;
	double scpu = z->server_cpu - a->server_cpu;
	json_t *out;

	for (size_t i = 0; i < R.npairs; i++) {
		unfinished += R.pairs[i].busy;
		retired += R.pairs[i].retired;
	}
	out = json_pack("{s:s,s:I,s:o,s:f,s:f,s:I,s:f,s:o,s:o,s:I,s:O,s:I,s:I,s:f}", "mode",
			"cycles", "pairs", (json_int_t)R.npairs, "rate_target",
			R.o->rate > 0 ? json_real(R.o->rate) : json_null(), "seconds", secs,
			"warmup_s", R.o->warmup, "cycles", (json_int_t)R.counted, "cycles_per_sec",
			(double)R.counted / secs, "ring_latency_ms", latency_json(&R.ring),
			"cycle_latency_ms", latency_json(&R.cycle), "errors",
			(json_int_t)R.b.errors, "error_kinds", R.b.error_kinds, "unfinished",
			(json_int_t)unfinished, "retired_pairs", (json_int_t)retired, "setup_s",
			setup_s);
	json_object_set_new(out, "cycles_per_sec_fit", json_real(fitted_rate(&R.done_at)));
	if (R.o->rate > 0)
		json_object_set_new(out, "schedule",
				    json_pack("{s:I,s:f}", "late_starts", (json_int_t)R.late_starts,
					      "max_lag_ms", (double)R.max_lag / 1e6));
	/* Closed loop: cycles that ended before their pair could start again. Many mean the
	 * per-connection request limit, not the server, set the rate: add pairs. */
	if (R.o->rate <= 0)
		json_object_set_new(out, "throttled_starts", json_integer(R.throttled));
	if (R.o->server_pid && a->server_cpu >= 0 && z->server_cpu >= 0) {
		json_object_set_new(out, "server_cpu_s", json_real(scpu));
		json_object_set_new(out, "server_cpu_util", json_real(scpu / secs));
		json_object_set_new(out, "server_cpu_s_per_1000_cycles",
				    R.counted ? json_real(scpu * 1000.0 / (double)R.counted)
					      : json_null());
		json_object_set_new(out, "server_rss_kb_start", json_integer(a->rss_kb));
		json_object_set_new(out, "server_rss_kb_end", json_integer(z->rss_kb));
	}
	json_object_set_new(out, "client_cpu_s", json_real(z->self_cpu - a->self_cpu));
	json_object_set_new(out, "client_cpu_util", json_real((z->self_cpu - a->self_cpu) / secs));
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(out);
}

int run_cycles(const struct opts *o)
{
	char **uids = calloc(2 * (size_t)o->pairs, sizeof(char *));
	struct marks a = {0}, z = {0};
	uint64_t setup_t = now_ns(), drain_end = 0, last_sweep = 0;
	double secs;
	int rc = 1;

	R.o = o;
	R.b.epfd = -1;
	R.npairs = (size_t)o->pairs;
	R.pairs = calloc(R.npairs, sizeof(*R.pairs));
	R.free_q = calloc(R.npairs, sizeof(*R.free_q));
	if (!uids || !R.pairs || !R.free_q)
		goto out;
	for (size_t i = 0; i < R.npairs; i++) {
		if (asprintf(&uids[2 * i], "%s-a%zu", o->prefix, i) < 0 ||
		    asprintf(&uids[2 * i + 1], "%s-b%zu", o->prefix, i) < 0)
			goto out;
	}
	R.b.on_msg = on_msg;
	R.b.on_fail = on_fail;
	if (bench_setup(&R.b, o, uids, 2 * R.npairs, 1) != 0)
		goto out;
	for (size_t i = 0; i < R.npairs; i++) {
		R.pairs[i].caller = &R.b.clients[2 * i];
		R.pairs[i].callee = &R.b.clients[2 * i + 1];
		R.pairs[i].caller->ctx = R.pairs[i].callee->ctx = &R.pairs[i];
	}
	R.t0 = now_ns();
	R.win_start = R.t0 + (uint64_t)(o->warmup * 1e9);
	for (size_t i = 0; i < R.npairs; i++)
		free_push(&R.pairs[i]);
	for (;;) {
		uint64_t now = now_ns();
		long timeout = 100000;
		bool busy = false;

		if (!R.window_open && now >= R.win_start) {
			run_hook(o->exec_start);
			mark(&a);
			R.win_start = now_ns();
			R.win_end = R.win_start + (uint64_t)(o->duration * 1e9);
			R.window_open = true;
		}
		if (R.window_open && !R.stopping &&
		    (now >= R.win_end || (o->max_cycles && R.counted >= o->max_cycles))) {
			if (now < R.win_end)
				R.win_end = now;
			mark(&z);
			run_hook(o->exec_end);
			R.stopping = true;
			drain_end = now + DRAIN_NS;
		}
		if (now - last_sweep > 100000000ull) {
			last_sweep = now;
			for (size_t i = 0; i < R.npairs; i++) {
				struct pair *p = &R.pairs[i];
				if (p->busy && now - p->t_init > CYCLE_TIMEOUT_NS)
					cycle_fail(p, "no complete cycle within 10 s");
				busy |= p->busy;
			}
			if (R.stopping && (!busy || now > drain_end))
				break;
		}
		if (!R.stopping) {
			long t = o->rate > 0 ? schedule(now) : restart(now);
			timeout = t < timeout ? t : timeout;
		}
		if (!R.window_open) {
			long left = us_until(R.win_start, now);
			timeout = left < timeout ? left : timeout;
		}
		if (R.stopping && timeout > 10000)
			timeout = 10000;
		bench_poll(&R.b, timeout);
	}
	secs = (double)(R.win_end - R.win_start) / 1e9;
	report(&a, &z, secs, (double)(R.t0 - setup_t) / 1e9);
	rc = R.b.errors ? 3 : 0;
out:
	bench_free(&R.b);
	for (size_t i = 0; uids && i < 2 * R.npairs; i++)
		free(uids[i]);
	free(uids);
	samples_free(&R.ring);
	samples_free(&R.cycle);
	samples_free(&R.done_at);
	free(R.pairs);
	free(R.free_q);
	return rc;
}
