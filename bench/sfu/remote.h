/* remote: what the parts of `sfu remote` share (remote.c: options, participants, measuring;
 * remote_sdp.c: our descriptions and the servers'; remote_cw.c: joining callwire over its
 * WebSocket; remote_janus.c: joining Janus's VideoRoom over its HTTP API). */
#ifndef BENCH_REMOTE_H
#define BENCH_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include "rtc/dtls.h"
#include "rtc/sdp.h"
#include "sfugen.h"
#include "ws.h"

#define SIGNAL_DEADLINE_S 120 /* every participant joined and every offer answered */

enum server_kind { SERVER_CALLWIRE, SERVER_JANUS };

/* Who is in a room: every participant publishes audio and video and subscribes to the
 * others (1:1, mesh), or `speakers` do and the rest only watch (webinar). */
struct scenario {
	const char *name;
	int per_room, speakers;
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

struct remote;

struct part {
	struct remote *r;
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
	struct part *joining;		/* callwire: whose join is outstanding */
	char host_port[64];
	long errors;
	char why[512];
};

/* remote_sdp.c */
/* The publish connection's offer of pa (malloc'd). */
char *publish_offer(struct remote *r, const struct part *pa);
/* Our answer to a server's subscribe offer on p (malloc'd); *tracks: the m-sections that
 * carry media to us. */
char *subscribe_answer(struct remote *r, const struct peer *p, const struct cw_sdp *offer,
		       int *tracks);
/* Takes the server's transport from its SDP (an offer or an answer) into p. 0 or -1 (r->why). */
int take_remote(struct remote *r, struct peer *p, const struct cw_sdp *sdp, bool offer);
/* Parses the server's SDP text. 0 or -1 (r->why). */
int parse_sdp(struct remote *r, const char *text, struct cw_sdp **sdp);

/* remote_janus.c: the rooms and publishers; then, once the publishers' connections are up,
 * the subscribers. 0 or -1 (r->why). */
int janus_publishers(struct remote *r);
int janus_subscribers(struct remote *r);

/* remote_cw.c: users, tokens, WebSockets, every join and subscribe offer answered. 0 or -1
 * (r->why). */
int callwire_setup(struct remote *r);
/* gen_poll's other file descriptors: the WebSockets. */
void callwire_on_events(void *ptr, uint32_t events);

#endif
