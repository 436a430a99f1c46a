/* http: the control plane's HTTP server (libwebsockets on the caller's libuv loop). */
#ifndef CW_HTTP_H
#define CW_HTTP_H

#include <uv.h>

#include "auth/auth.h"
#include "store/store.h"

struct cw_http;

struct cw_http_config {
	const char *host; /* address to listen on, e.g. "127.0.0.1" */
	int port;
};

/* Starts serving on loop. The store and auth must outlive the server. */
int cw_http_start(struct cw_http **hp, uv_loop_t *loop, const struct cw_http_config *cfg,
		  struct cw_store *store, struct cw_auth *auth);

/* Stops accepting and closes every connection. The caller then runs the loop until its
 * handles have closed, and calls cw_http_free. Safe with NULL. */
void cw_http_stop(struct cw_http *h);
void cw_http_free(struct cw_http *h);

#endif
