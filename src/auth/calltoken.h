/* calltoken: short-lived JWTs (HS256) that admit one user to one media session. */
#ifndef CW_CALLTOKEN_H
#define CW_CALLTOKEN_H

#include <stdint.h>

#include "auth/auth.h"

/* Default lifetime of a call token, in seconds. */
#define CW_CALLTOKEN_TTL (2 * 3600)

/* The claims of a call token. */
struct cw_calltoken {
	char app_id[CW_APPID_MAX + 1];
	char uid[CW_UID_MAX + 1];
	char session_id[CW_APPID_MAX + 1];
	int meet;	    /* category: 0 "call", 1 "meet" */
	int64_t expires_at; /* Unix ms */
};

/* Issues a token for claims (expires_at filled from now + ttl_s). *token is malloc'd. */
int cw_calltoken_issue(const struct cw_auth *auth, struct cw_calltoken *claims, int64_t now,
		       int ttl_s, char **token);

/* Checks a token's signature (HS256 with app_id's secret only), expiry and claims.
 * 0 with *claims, or -EACCES for anything wrong (forged, expired, another app's, another
 * algorithm, malformed). */
int cw_calltoken_verify(const struct cw_auth *auth, const char *app_id, const char *token,
			int64_t now, struct cw_calltoken *claims);

#endif
