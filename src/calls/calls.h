/* calls: the call service. Runs the state machine against the store, the realtime event
 * log, ring timers and presence; the REST and WebSocket handlers call it. */
#ifndef CW_CALLS_H
#define CW_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "calls/machine.h"
#include "rt/rt.h"
#include "store/store.h"

struct cw_calls;

int cw_calls_new(struct cw_calls **cp, uv_loop_t *loop, struct cw_store *store);
/* The realtime layer is created after the service (it reports presence to it). */
void cw_calls_set_rt(struct cw_calls *c, struct cw_rt *rt);
/* Queues pushes and webhooks for call changes (NULL: none). */
struct cw_push;
void cw_calls_set_push(struct cw_calls *c, struct cw_push *push);
/* Loads the active calls and reconciles them with the time now: rings past their
 * deadline become unanswered, and everybody engaged starts their reconnect grace, since
 * nobody is connected right after a start. */
int cw_calls_start(struct cw_calls *c);
void cw_calls_free(struct cw_calls *c);

/* What a call request needs to know of its caller. */
struct cw_actor {
	const struct cw_app *app;
	const char *uid;
	const char *device; /* "" when not known (REST key) */
};

/* Results besides 0 and negative errno codes. */
#define CW_CALLS_IN_PROGRESS 1	/* the caller is already in a call: *out is that call */
#define CW_CALLS_RATE_LIMITED 2 /* *retry_after is set */

/* Starts a call. On 0 or CW_CALLS_IN_PROGRESS *out is a copy to release with
 * cw_call_record_free. Errors: -EINVAL calling oneself or a group with nobody else,
 * -ENOENT unknown receiver. */
int cw_calls_initiate(struct cw_calls *c, const struct cw_actor *who, const struct cw_initiate *in,
		      struct cw_call_record *out, int *retry_after);

/* Applies an action of the contract; *out receives the call after it (also on
 * CW_CALL_SAME). Errors as cw_call_apply, and -ENOENT for an unknown session. */
int cw_calls_act(struct cw_calls *c, const struct cw_actor *who, const char *session_id,
		 enum cw_action action, struct cw_call_record *out);

/* The call, if it exists and uid took part (uid NULL: any call of the app). */
int cw_calls_get(struct cw_calls *c, const char *app_id, const char *session_id, const char *uid,
		 struct cw_call_record *out);

/* The user's initiated or ongoing call: 0 with *out, or -ENOENT. */
int cw_calls_active(struct cw_calls *c, const char *app_id, const char *uid,
		    struct cw_call_record *out);

/* Called when a call stops being active (ended, rejected, cancelled, unanswered…), after
 * its events went out: the media session of the call ends with it. */
typedef void (*cw_calls_end_fn)(void *ctx, const char *app_id, const char *session_id, int64_t now);
void cw_calls_on_end(struct cw_calls *c, cw_calls_end_fn fn, void *ctx);

/* Presence from the realtime layer. */
void cw_calls_presence(struct cw_calls *c, const char *app_id, const char *uid, bool online);

/* The contract's JSON call object. */
json_t *cw_call_json(const struct cw_call_record *rec, int64_t now);

#endif
