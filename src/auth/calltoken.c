/* calltoken: call tokens as JWTs (HS256). Each app's signing secret is derived from the
 * server's token key (itself derived from the master key): nothing to store, and one
 * app's secret says nothing about another's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "auth/calltoken.h"
#include "util/util.h"

static void app_secret(const struct cw_auth *auth, const char *app_id, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), auth->token_key, sizeof(auth->token_key), (const unsigned char *)app_id,
	     strlen(app_id), out, &len);
}

int cw_calltoken_issue(const struct cw_auth *auth, struct cw_calltoken *claims, int64_t now,
		       int ttl_s, char **token)
{
	unsigned char key[32];
	jwt_t *jwt = NULL;
	int err = -ENOMEM;

	*token = NULL;
	if (ttl_s <= 0)
		ttl_s = CW_CALLTOKEN_TTL;
	/* Whole seconds, as the JWT's exp says it. */
	claims->expires_at = (now / 1000 + ttl_s) * 1000;
	app_secret(auth, claims->app_id, key);
	if (jwt_new(&jwt) != 0)
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, key, sizeof(key)) != 0 ||
	    jwt_add_grant(jwt, "app", claims->app_id) != 0 ||
	    jwt_add_grant(jwt, "uid", claims->uid) != 0 ||
	    jwt_add_grant(jwt, "session", claims->session_id) != 0 ||
	    jwt_add_grant(jwt, "category", claims->meet ? "meet" : "call") != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)(now / 1000)) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(claims->expires_at / 1000)) != 0)
		goto out;
	*token = jwt_encode_str(jwt);
	err = *token ? 0 : -ENOMEM;
out:
	jwt_free(jwt);
	OPENSSL_cleanse(key, sizeof(key));
	return err;
}

static int copy_claim(jwt_t *jwt, const char *name, char *out, size_t size)
{
	const char *v = jwt_get_grant(jwt, name);

	if (!v || !*v || strlen(v) >= size)
		return -EACCES;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int cw_calltoken_verify(const struct cw_auth *auth, const char *app_id, const char *token,
			int64_t now, struct cw_calltoken *claims)
{
	unsigned char key[32];
	const char *category;
	jwt_t *jwt = NULL;
	long exp;
	int err = -EACCES;

	memset(claims, 0, sizeof(*claims));
	if (!token || strlen(token) > 4096)
		return -EACCES;
	app_secret(auth, app_id, key);
	/* The algorithm is fixed: a token naming another one ("none", RS256) is refused. */
	if (jwt_decode(&jwt, token, key, sizeof(key)) != 0 || jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	if (copy_claim(jwt, "app", claims->app_id, sizeof(claims->app_id)) ||
	    copy_claim(jwt, "uid", claims->uid, sizeof(claims->uid)) ||
	    copy_claim(jwt, "session", claims->session_id, sizeof(claims->session_id)) ||
	    strcmp(claims->app_id, app_id) != 0)
		goto out;
	category = jwt_get_grant(jwt, "category");
	exp = jwt_get_grant_int(jwt, "exp");
	if (!category || (strcmp(category, "call") != 0 && strcmp(category, "meet") != 0) ||
	    exp <= 0 || (int64_t)exp * 1000 <= now)
		goto out;
	claims->meet = strcmp(category, "meet") == 0;
	claims->expires_at = (int64_t)exp * 1000;
	err = 0;
out:
	if (err)
		memset(claims, 0, sizeof(*claims));
	jwt_free(jwt);
	OPENSSL_cleanse(key, sizeof(key));
	return err;
}
