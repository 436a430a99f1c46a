/* push_tokens: the device tokens a user's phones register for VoIP pushes (auth token). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "store/push_store.h"
#include "util/util.h"

#define USER CW_ALLOW(CW_CRED_TOKEN)

static json_t *token_json(const struct cw_push_token *t)
{
	const char *env = t->platform == CW_PUSH_FCM ? NULL
			  : t->production	     ? "production"
						     : "sandbox";

	return json_pack("{s:s,s:s,s:s?,s:I}", "platform", cw_push_platform_name(t->platform),
			 "token", t->token, "environment", env, "createdAt",
			 (json_int_t)t->created_at);
}

/* The environment of an APNs token registered without one: the app's APNs environment
 * once APNs is set up (a development build against the sandbox registers sandbox tokens),
 * otherwise production. */
static int default_production(struct cw_req *req, bool *production)
{
	struct cw_push_config c;
	int err;

	if ((err = cw_store_push_config_get(req->store, req->app.id, &c)))
		return err;
	*production = c.apns_key ? c.apns_production : true;
	cw_push_config_free(&c);
	return 0;
}

/* Registering a token again is an update (200): the same phone after a restart, or one
 * that changed hands and now rings its new user. */
void cw_h_push_token_register(struct cw_req *req)
{
	struct cw_push_token t, old, stored;
	struct cw_verr e;
	bool env_given, existed;
	json_t *body;
	int err;

	if (!cw_req_app_auth(req, USER) || !(body = cw_req_body(req, false)))
		return;
	if (cw_check_push_token(body, &t, &env_given, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		json_decref(body);
		return;
	}
	json_decref(body);
	cw_strlcpy(t.uid, req->cred.uid, sizeof(t.uid));
	cw_strlcpy(t.device, req->cred.hash, sizeof(t.device));
	t.created_at = req->now;
	if (!env_given && t.platform != CW_PUSH_FCM &&
	    (err = default_production(req, &t.production)))
		goto fail;
	err = cw_store_push_token_get(req->store, req->app.id, t.platform, t.token, &old);
	if (err && err != -ENOENT)
		goto fail;
	existed = err == 0;
	if (existed)
		cw_push_token_free(&old);
	if ((err = cw_store_push_token_put(req->store, req->app.id, &t)) ||
	    (err = cw_store_push_token_get(req->store, req->app.id, t.platform, t.token, &stored)))
		goto fail;
	cw_reply_json(req, existed ? 200 : 201, token_json(&stored));
	cw_push_token_free(&stored);
	cw_push_token_free(&t);
	return;
fail:
	cw_reply_errno(req, err, "user");
	cw_push_token_free(&t);
}

void cw_h_push_tokens_list(struct cw_req *req)
{
	struct cw_push_token *tokens;
	json_t *items;
	size_t n;
	int err;

	if (!cw_req_app_auth(req, USER))
		return;
	err = cw_store_push_tokens_of(req->store, req->app.id, req->cred.uid, &tokens, &n);
	if (err) {
		cw_reply_errno(req, err, "user");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, token_json(&tokens[i]));
	cw_push_tokens_free(tokens, n);
	cw_reply_json(req, 200, json_pack("{s:o}", "data", items));
}

void cw_h_push_token_delete(struct cw_req *req)
{
	int err;

	if (!cw_req_app_auth(req, USER))
		return;
	err = cw_store_push_token_delete(req->store, req->app.id, req->cred.uid, req->token);
	/* APNs tokens are kept in lowercase; one written in uppercase names the same. */
	if (err == -ENOENT && req->token[strspn(req->token, "0123456789abcdefABCDEF")] == '\0' &&
	    req->token[strcspn(req->token, "ABCDEF")] != '\0') {
		for (char *c = req->token; *c; c++) {
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
		}
		err = cw_store_push_token_delete(req->store, req->app.id, req->cred.uid,
						 req->token);
	}
	if (err == -ENOENT) {
		cw_reply_error(req, CW_E_NOT_FOUND, "push token not found");
		return;
	}
	if (err) {
		cw_reply_errno(req, err, "push token");
		return;
	}
	cw_reply_empty(req, 204);
}
