/* rt: the realtime WebSocket (/v1/ws, subprotocol callwire.v1): authentication, per-user
 * event log with sequence numbers and resume, client requests, bounded send queues. */
#ifndef CW_RT_H
#define CW_RT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <uv.h>

#include "auth/auth.h"
#include "store/store.h"

/* Close codes besides the contract's 4001 (bad token) and 4002 (protocol error). */
#define CW_WS_BAD_TOKEN 4001
#define CW_WS_PROTOCOL 4002
#define CW_WS_TOO_SLOW 4008 /* the send queue passed its cap; reconnect with resumeFrom */
#define CW_WS_MSG_MAX 65536
#define CW_WS_QUEUE_MAX (1024 * 1024)

struct cw_rt;

struct cw_rt_hooks {
	void *ctx;
	/* Runs one client request with the connection's credential. Sets *result or *error
	 * to malloc'd JSON text: the result value, or the error object ({"code","message"},
	 * plus extra fields such as "call"). */
	void (*request)(void *ctx, const struct cw_cred *cred, const char *method, json_t *params,
			char **result, char **error);
	/* A user's first connection was authenticated (online) or their last one closed. */
	void (*presence)(void *ctx, const char *app_id, const char *uid, bool online);
};

int cw_rt_new(struct cw_rt **rtp, uv_loop_t *loop, struct cw_store *store, struct cw_auth *auth,
	      const struct cw_rt_hooks *hooks);
/* Call after the libwebsockets context is gone (it owns the connections). */
void cw_rt_free(struct cw_rt *rt);

/* The WebSocket protocol to list in the libwebsockets context, with .user = rt. */
struct lws_protocols cw_rt_protocol(struct cw_rt *rt);

/* Appends an event (JSON text {"type":"event","name":…} without seq) to the user's log, giving
 * it the user's next seq, and queues it for every connection of the user. It is sent
 * once the current store batch is committed (cw_rt_commit). */
int cw_rt_emit(struct cw_rt *rt, const char *app_id, const char *uid, const char *event,
	       int64_t now);

/* After a batch commit: releases what was queued during the batch. When the commit
 * failed (ok false), connections with unreleased messages are closed (1011) so their
 * clients resume from what the store really holds. */
void cw_rt_commit(struct cw_rt *rt, bool ok);

/* How many authenticated connections the user has. */
size_t cw_rt_connections(struct cw_rt *rt, const char *app_id, const char *uid);

/* Closes the user's connections (only those of token_hash when not NULL). */
void cw_rt_close_user(struct cw_rt *rt, const char *app_id, const char *uid, const char *token_hash,
		      int code, const char *reason);

/* A short public id of a device, derived from its auth token's hash. */
void cw_rt_device_id(const char *token_hash, char out[17]);

#endif
