/* apps: create, read, list and configure apps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "http/internal.h"
#include "util/util.h"

#define ADMIN CW_ALLOW(CW_CRED_MASTER) | CW_ALLOW(CW_CRED_REST)

void cw_h_app_create(struct cw_req *req)
{
	char auth_key[CW_SECRET_MAX], rest_key[CW_SECRET_MAX];
	struct cw_app app;
	struct cw_verr e;
	const char *name;
	json_t *body, *j;
	int err;

	if (!cw_req_master(req) || !(body = cw_req_body(req, false)))
		return;
	if (cw_check_app_create(body, &name, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	err = cw_auth_create_app(req->store, name, req->now, &app, auth_key, rest_key);
	if (err) {
		cw_reply_errno(req, err, "app");
		goto out;
	}
	j = cw_app_json(&app);
	json_object_set_new(j, "authKey", json_string(auth_key));
	json_object_set_new(j, "restApiKey", json_string(rest_key));
	cw_reply_json(req, 201, j);
	cw_info("app.created", "app=%s", app.id);
out:
	OPENSSL_cleanse(auth_key, sizeof(auth_key));
	OPENSSL_cleanse(rest_key, sizeof(rest_key));
	json_decref(body);
}

void cw_h_apps_list(struct cw_req *req)
{
	char after[CW_UID_MAX + 1];
	struct cw_app *apps;
	json_t *items;
	size_t n;
	bool more;
	int limit, err;

	if (!cw_req_master(req) || !cw_req_page(req, &limit, after))
		return;
	err = cw_store_app_list(req->store, after, (size_t)limit, &apps, &n, &more);
	if (err) {
		cw_reply_errno(req, err, "app");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, cw_app_json(&apps[i]));
	cw_reply_page(req, items, more, n ? apps[n - 1].id : NULL);
	cw_apps_free(apps, n);
}

void cw_h_app_get(struct cw_req *req)
{
	if (!cw_req_app_auth(req, ADMIN))
		return;
	cw_reply_json(req, 200, cw_app_json(&req->app));
}

void cw_h_app_patch(struct cw_req *req)
{
	struct cw_verr e;
	json_t *body;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	if (cw_check_settings(body, &req->app.settings, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	err = cw_store_app_set_settings(req->store, req->app.id, &req->app.settings);
	if (err) {
		cw_reply_errno(req, err, "app");
		goto out;
	}
	cw_reply_json(req, 200, cw_app_json(&req->app));
out:
	json_decref(body);
}
