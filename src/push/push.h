/* push: VoIP pushes (APNs, FCM) and webhooks for call events. What to send is decided
 * on the control loop when a call changes and written to the store's outbox in the same
 * transaction as the change; a sender on the same loop drains the outbox over HTTP/2
 * with libcurl multi, retrying with backoff, until each entry is delivered, refused or
 * out of date. docs/push.md has the payloads. */
#ifndef CW_PUSH_H
#define CW_PUSH_H

#include <stdint.h>

#include <uv.h>

#include "calls/machine.h"
#include "store/store.h"

struct cw_push;
struct cw_rt;

/* Counters for /metrics, by service (0 APNs, 1 FCM, 2 webhooks). */
struct cw_push_stats {
	uint64_t sent[3], failed[3], retried[3], dropped[3];
	uint64_t tokens_removed;
	uint64_t jwt_minted, oauth_fetched;
	int64_t pending; /* entries in the outbox */
};

int cw_push_new(struct cw_push **pp, uv_loop_t *loop, struct cw_store *store);
/* Who is online, for "only callees without a live connection get a push". */
void cw_push_set_rt(struct cw_push *p, struct cw_rt *rt);
/* Starts draining what the outbox holds (entries left by a previous run included). */
int cw_push_start(struct cw_push *p);
/* Stops sending (transfers in flight are abandoned: their entries stay in the outbox)
 * and closes every handle; call before closing the loop. Then free. */
void cw_push_stop(struct cw_push *p);
void cw_push_free(struct cw_push *p);

/*
 * A call changed (prev_status -1: it was just created); fx are the events the change sent,
 * device the acting device ("" or NULL when none). Queues the pushes and webhooks this
 * calls for, inside the store's open batch. Never fails the change: problems are logged.
 */
void cw_push_call_changed(struct cw_push *p, const struct cw_call_record *rec, int prev_status,
			  const struct cw_effects *fx, const char *device, int64_t now);

void cw_push_stats(struct cw_push *p, struct cw_push_stats *out);

#endif
