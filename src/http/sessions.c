/* sessions: call tokens that admit a user to a media session (the contract's Media
 * sessions). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/calltoken.h"
#include "calls/calls.h"
#include "http/internal.h"
#include "util/util.h"

/* A ringing call's session admits its participants while the call is active; any other
 * session id is a meet session, which any user of the app may join. */
static int admit(struct cw_req *req, struct cw_calltoken *claims)
{
	struct cw_call_record rec;
	bool part, active;
	int err;

	err = cw_calls_get(req->calls, req->app.id, req->id, NULL, &rec);
	if (err == -ENOENT) {
		claims->meet = 1;
		return 0;
	}
	if (err) {
		cw_reply_errno(req, err, "call");
		return err;
	}
	claims->meet = rec.call.category == CW_CATEGORY_MEET;
	part = cw_call_participant(&rec.call, req->cred.uid) != NULL;
	active = cw_call_active(&rec.call);
	cw_call_record_free(&rec);
	if (claims->meet)
		return 0;
	if (!part) {
		/* Like a call the user cannot see: its existence is not told. */
		cw_reply_error(req, CW_E_FORBIDDEN,
			       "only the call's participants may join its session");
		return -EPERM;
	}
	if (!active) {
		cw_reply_error(req, CW_E_INVALID_STATE, "the call is over");
		return -EALREADY;
	}
	return 0;
}

void cw_h_session_token(struct cw_req *req)
{
	struct cw_calltoken claims = {0};
	char *token = NULL;
	int err;

	/* The router has checked the session id. */
	if (!cw_req_app_auth(req, CW_ALLOW(CW_CRED_TOKEN)) || admit(req, &claims) != 0)
		return;
	cw_strlcpy(claims.app_id, req->app.id, sizeof(claims.app_id));
	cw_strlcpy(claims.uid, req->cred.uid, sizeof(claims.uid));
	cw_strlcpy(claims.session_id, req->id, sizeof(claims.session_id));
	err = cw_calltoken_issue(req->auth, &claims, req->now, CW_CALLTOKEN_TTL, &token);
	if (err) {
		cw_reply_errno(req, err, "call token");
		return;
	}
	cw_reply_json(req, 201,
		      json_pack("{s:s,s:I,s:s}", "callToken", token, "expiresAt",
				(json_int_t)claims.expires_at, "category",
				claims.meet ? "meet" : "call"));
	free(token);
}
