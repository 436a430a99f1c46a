/* push private: the service's state, shared by the enqueue side and the sender. */
#ifndef CW_PUSH_INTERNAL_H
#define CW_PUSH_INTERNAL_H

#include <stdbool.h>

#include <curl/curl.h>
#include <uv.h>

#include "push/push.h"
#include "store/push_store.h"
#include "util/map.h"

enum { SVC_APNS, SVC_FCM, SVC_WEBHOOK };

/* Per-app credentials, minted or fetched once and reused. */
struct creds {
	char app_id[CW_APPID_MAX + 1];
	/* APNs provider token, and what it was made from. */
	char *apns_jwt;
	char apns_key_hash[CW_HASH_HEX + 1];
	int64_t apns_minted_at;
	/* FCM OAuth access token. */
	char *fcm_token;
	char fcm_key_hash[CW_HASH_HEX + 1];
	int64_t fcm_expires_at;
	bool fcm_fetching;
	int64_t fcm_retry_at; /* after a failed fetch */
	int fcm_failures;
};

struct cw_push {
	uv_loop_t *loop;
	struct cw_store *store;
	struct cw_rt *rt;
	CURLM *multi;
	uv_timer_t curl_timer; /* libcurl's own timeout */
	uv_timer_t pump_timer; /* the next look at the outbox */
	bool started, stopping;
	/* Receivers whose devices were woken for a call: "app/session/uid" -> expiry (ms, in a
	 * malloc'd int64_t). Only they get the pushes that end the ringing. */
	struct cw_map rung;
	struct cw_map creds; /* app id -> struct creds */
	struct xfer *xfers;  /* transfers in flight */
	struct cw_push_stats stats;
};

/* The credentials of an app (created on first use). */
struct creds *cw__push_creds(struct cw_push *p, const char *app_id);
/* Looks at the outbox soon. */
void cw__push_kick(struct cw_push *p);

#endif
