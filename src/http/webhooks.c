/* webhooks: the URLs that receive an app's call events, and the secret that signs them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "http/internal.h"
#include "store/push_store.h"
#include "util/util.h"

#define ADMIN CW_ALLOW(CW_CRED_MASTER) | CW_ALLOW(CW_CRED_REST)

/* "whsec_" and the base64url of 32 random bytes. */
#define SECRET_PREFIX "whsec_"
#define SECRET_BYTES 32

static json_t *webhooks_json(const struct cw_push_config *c)
{
	json_t *urls = c->webhook_urls ? json_loads(c->webhook_urls, 0, NULL) : NULL;

	if (!json_is_array(urls)) {
		json_decref(urls);
		urls = json_array();
	}
	return json_pack("{s:o,s:b}", "urls", urls, "secretSet", c->webhook_secret != NULL);
}

void cw_h_webhooks_get(struct cw_req *req)
{
	struct cw_push_config c;
	int err;

	if (!cw_req_app_auth(req, ADMIN))
		return;
	if ((err = cw_store_push_config_get(req->store, req->app.id, &c))) {
		cw_reply_errno(req, err, "app");
		return;
	}
	cw_reply_json(req, 200, webhooks_json(&c));
	cw_push_config_free(&c);
}

/* The secret is shown once: when the first URLs make one, or when it is rotated. Removing
 * every URL keeps it, so receivers set up before need no new one when URLs come back. */
void cw_h_webhooks_patch(struct cw_req *req)
{
	char secret[sizeof(SECRET_PREFIX) + 4 * SECRET_BYTES / 3 + 2] = "";
	struct cw_push_config c;
	bool urls_given, rotate;
	struct cw_verr e;
	char *urls = NULL, *copy;
	json_t *body, *view;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	err = cw_check_webhooks_patch(body, &urls, &urls_given, &rotate, &e);
	json_decref(body);
	if (err) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		return;
	}
	if ((err = cw_store_push_config_get(req->store, req->app.id, &c))) {
		cw_reply_errno(req, err, "app");
		free(urls);
		return;
	}
	if (urls_given) {
		free(c.webhook_urls);
		c.webhook_urls = urls;
	} else {
		free(urls);
	}
	if (rotate || (c.webhook_urls && !c.webhook_secret)) {
		if (cw_rand_secret(secret, sizeof(secret), SECRET_PREFIX, SECRET_BYTES) ||
		    !(copy = strdup(secret))) {
			cw_reply_error(req, CW_E_INTERNAL, "cannot make a secret");
			goto out;
		}
		if (c.webhook_secret)
			explicit_bzero(c.webhook_secret, strlen(c.webhook_secret));
		free(c.webhook_secret);
		c.webhook_secret = copy;
	}
	if ((err = cw_store_push_config_set(req->store, req->app.id, &c))) {
		cw_reply_errno(req, err, "app");
		goto out;
	}
	view = webhooks_json(&c);
	if (view && secret[0])
		json_object_set_new(view, "secret", json_string(secret));
	cw_info("webhooks.settings", "app=%s urls=%zu secret=%s", req->app.id,
		json_array_size(json_object_get(view, "urls")), secret[0] ? "new" : "kept");
	cw_reply_json(req, 200, view);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	cw_push_config_free(&c);
}
