/* bench: what the modes of `ringing` share: options, clients, the epoll loop. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <netinet/in.h>

#include "stats.h"
#include "ws.h"

/* Hard bounds, so that a typo cannot turn the generator into something else. */
#define MAX_PAIRS 10000
#define MAX_CONNS 20000
#define MAX_DURATION 600.0
#define MAX_HOLD 3600.0
#define MAX_RATE 100000.0
#define SETUP_DEADLINE_S 120.0

struct opts {
	char host_port[64];
	struct sockaddr_in addr;
	char base[96]; /* http://host:port */
	const char *app, *key, *prefix;
	long pairs, conns, users, max_cycles, in_flight;
	double duration, warmup, rate, hold;
	pid_t server_pid;
	const char *exec_start, *exec_end; /* shell commands run as the window opens/closes */
};

struct client;

/* The mode's handler of every message after `ready`. */
typedef void (*msg_fn)(struct client *c, json_t *msg, uint64_t now);

struct client {
	struct ws ws;
	const char *uid;
	const char *token;
	bool started, ready, failed;
	void *ctx; /* the mode's object (a pair) */
};

struct bench {
	const struct opts *o;
	int epfd;
	struct client *clients;
	size_t n, started, ready, failed;
	msg_fn on_msg;
	void (*on_fail)(struct client *c);
	void (*before_connect)(struct bench *b); /* after the REST set-up */
	double rest_s, connect_s;		 /* how long the set-up took */
	long errors;
	json_t *error_kinds; /* {"what": count} */
};

void bench_error(struct bench *b, const char *what);

/* Creates the users uids[0..nusers) with per_user tokens each, then one client per
 * token (client j is user uids[j / per_user]), connects them all, in_flight at a time,
 * and waits until every one got `ready`. Returns 0, or -1 when one failed or the
 * deadline passed. uids must outlive b. */
int bench_setup(struct bench *b, const struct opts *o, char **uids, size_t nusers, size_t per_user);

/* One round of the loop: waits up to timeout_us microseconds for events, handles them. */
void bench_poll(struct bench *b, long timeout_us);

/* Sends one JSON object (stolen) on c. */
void bench_send(struct bench *b, struct client *c, json_t *msg);

void bench_free(struct bench *b);

int run_cycles(const struct opts *o);
int run_idle(const struct opts *o);

#endif
