/* tokens: auth tokens minted by the REST API, auth-key login, me and logout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "http/internal.h"
#include "rt/rt.h"
#include "store/push_store.h"
#include "util/util.h"

#define ADMIN CW_ALLOW(CW_CRED_MASTER) | CW_ALLOW(CW_CRED_REST)

/* Mints a token for uid and stores its hash; the secret is written to out. */
static int mint(struct cw_req *req, const char *uid, long long ttl, char out[CW_SECRET_MAX],
		struct cw_token *tok)
{
	char hash[CW_HASH_HEX + 1];
	int err;

	memset(tok, 0, sizeof(*tok));
	err = cw_auth_new_secret(out, CW_PREFIX_TOKEN);
	if (err)
		return err;
	cw_strlcpy(tok->app_id, req->app.id, sizeof(tok->app_id));
	cw_strlcpy(tok->uid, uid, sizeof(tok->uid));
	tok->created_at = req->now;
	tok->expires_at = ttl ? req->now + ttl * 1000 : 0;
	cw_auth_hash(out, hash);
	return cw_store_token_add(req->store, hash, tok);
}

void cw_h_token_create(struct cw_req *req)
{
	char secret[CW_SECRET_MAX];
	struct cw_user user;
	struct cw_token tok;
	struct cw_verr e;
	long long ttl;
	json_t *body;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, true)))
		return;
	if (cw_check_token_create(body, &ttl, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	err = cw_store_user_get(req->store, req->app.id, req->id, &user);
	if (err) {
		cw_reply_errno(req, err, "user");
		goto out;
	}
	cw_user_free(&user);
	err = mint(req, req->id, ttl, secret, &tok);
	if (err) {
		cw_reply_errno(req, err, "token");
		goto out;
	}
	cw_reply_json(req, 201,
		      json_pack("{s:s,s:o}", "authToken", secret, "expiresAt",
				tok.expires_at ? json_integer(tok.expires_at) : json_null()));
	OPENSSL_cleanse(secret, sizeof(secret));
out:
	json_decref(body);
}

void cw_h_tokens_revoke(struct cw_req *req)
{
	struct cw_user user;
	size_t count = 0;
	int err;

	if (!cw_req_app_auth(req, ADMIN))
		return;
	err = cw_store_user_get(req->store, req->app.id, req->id, &user);
	if (err) {
		cw_reply_errno(req, err, "user");
		return;
	}
	cw_user_free(&user);
	/* The phones the user was signed in on stop ringing too. Push tokens go first: were
	 * the second step to fail, a retry would still find the user's auth tokens to revoke. */
	err = cw_store_push_tokens_delete_user(req->store, req->app.id, req->id, NULL);
	if (!err)
		err = cw_store_token_revoke_user(req->store, req->app.id, req->id, &count);
	if (err) {
		cw_reply_errno(req, err, "user");
		return;
	}
	cw_rt_close_user(req->rt, req->app.id, req->id, NULL, CW_WS_BAD_TOKEN,
			 "auth tokens revoked");
	cw_reply_json(req, 200, json_pack("{s:I}", "revoked", (json_int_t)count));
}

void cw_h_login(struct cw_req *req)
{
	char secret[CW_SECRET_MAX], hash[CW_HASH_HEX + 1];
	const char *uid, *auth_key;
	struct cw_user user;
	struct cw_token tok;
	struct cw_verr e;
	json_t *body;
	int err;

	err = cw_store_app_get(req->store, req->app_id, &req->app);
	if (err) {
		cw_reply_errno(req, err, "app");
		return;
	}
	if (!(body = cw_req_body(req, false)))
		return;
	if (cw_check_login(body, &uid, &auth_key, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	if (!req->app.settings.auth_key_login) {
		cw_reply_error(req, CW_E_FORBIDDEN,
			       "auth key login is off for this app; use an auth token minted by "
			       "the app's backend");
		goto out;
	}
	cw_auth_hash(auth_key, hash);
	if (!cw_secret_eq(hash, req->app.auth_key_hash)) {
		cw_reply_error(req, CW_E_UNAUTHORIZED, "wrong auth key");
		goto out;
	}
	err = cw_store_user_get(req->store, req->app.id, uid, &user);
	if (err) {
		cw_reply_errno(req, err, "user");
		goto out;
	}
	err = mint(req, uid, 0, secret, &tok);
	if (err)
		cw_reply_errno(req, err, "token");
	else
		cw_reply_json(
			req, 200,
			json_pack("{s:s,s:o}", "authToken", secret, "user", cw_user_json(&user)));
	OPENSSL_cleanse(secret, sizeof(secret));
	cw_user_free(&user);
out:
	json_decref(body);
}

void cw_h_me(struct cw_req *req)
{
	struct cw_user user;
	int err;

	if (!cw_req_app_auth(req, CW_ALLOW(CW_CRED_TOKEN)))
		return;
	err = cw_store_user_get(req->store, req->app.id, req->cred.uid, &user);
	if (err) {
		cw_reply_errno(req, err, "user");
		return;
	}
	cw_reply_json(req, 200, cw_user_json(&user));
	cw_user_free(&user);
}

void cw_h_logout(struct cw_req *req)
{
	int err;

	if (!cw_req_app_auth(req, CW_ALLOW(CW_CRED_TOKEN)))
		return;
	/* A phone signed out must not ring: what this device registered goes with its token,
	 * in the request's transaction, and first, so a retry can still finish the logout. */
	err = cw_store_push_tokens_delete_device(req->store, req->cred.hash, NULL);
	if (!err)
		err = cw_store_token_revoke(req->store, req->cred.hash);
	if (err && err != -ENOENT) {
		cw_reply_errno(req, err, "token");
		return;
	}
	cw_rt_close_user(req->rt, req->app.id, req->cred.uid, req->cred.hash, CW_WS_BAD_TOKEN,
			 "logged out");
	cw_reply_empty(req, 204);
}
