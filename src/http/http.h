/* http: the control plane's HTTP server (libwebsockets on the caller's libuv loop). */
#ifndef CW_HTTP_H
#define CW_HTTP_H

#include <uv.h>

#include <jansson.h>

#include "auth/auth.h"
#include "calls/calls.h"
#include "rt/rt.h"
#include "store/store.h"

struct cw_http;

struct cw_sfu;
struct cw_sessions;

struct cw_http_config {
	const char *host; /* address to listen on, e.g. "127.0.0.1" */
	int port;
	const struct cw_sfu *sfu;     /* the media plane, for /metrics (may be NULL) */
	struct cw_sessions *sessions; /* media sessions, for session.* requests (may be NULL) */
	/* The web folder's real path (realpath()), whose files are served at / outside the
	 * API, or NULL to serve none. Copied. */
	const char *web_root;
	struct cw_push *push; /* pushes and webhooks, for /metrics (may be NULL) */
};

/* Starts serving HTTP, and the realtime WebSocket of rt, on loop. Everything passed in
 * must outlive the server. */
int cw_http_start(struct cw_http **hp, uv_loop_t *loop, const struct cw_http_config *cfg,
		  struct cw_store *store, struct cw_auth *auth, struct cw_calls *calls,
		  struct cw_rt *rt);

/* After the store batch of this loop iteration was committed (or failed): responses held
 * back until then are sent (or replaced by 500). */
void cw_http_commit(struct cw_http *h, bool ok);

/* The realtime layer's request hook: runs a WebSocket request with the connection's
 * credential through the REST handlers. */
void cw_http_ws_request(struct cw_http *h, const struct cw_cred *cred, const char *method,
			json_t *params, char **result, char **error);

/* Stops accepting and closes every connection. The caller then runs the loop until its
 * handles have closed, and calls cw_http_free. Safe with NULL. */
void cw_http_stop(struct cw_http *h);
void cw_http_free(struct cw_http *h);

#endif
