/* users: the app's users (REST key or master key; the app's users may read them). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "rt/rt.h"
#include "util/util.h"

#define ADMIN CW_ALLOW(CW_CRED_MASTER) | CW_ALLOW(CW_CRED_REST)
/* The directory a client shows (who can be called) is open to every user of the app. */
#define READ ADMIN | CW_ALLOW(CW_CRED_TOKEN)

void cw_h_user_create(struct cw_req *req)
{
	struct cw_user user = {0};
	struct cw_verr e;
	json_t *body;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	if (cw_check_user_create(body, &user, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	user.created_at = user.updated_at = req->now;
	err = cw_store_user_create(req->store, req->app.id, &user);
	if (err == -EEXIST)
		cw_reply_error(req, CW_E_CONFLICT, "uid '%s' already exists", user.uid);
	else if (err)
		cw_reply_errno(req, err, "app");
	else
		cw_reply_json(req, 201, cw_user_json(&user));
out:
	cw_user_free(&user);
	json_decref(body);
}

void cw_h_user_get(struct cw_req *req)
{
	struct cw_user user;
	int err;

	if (!cw_req_app_auth(req, READ))
		return;
	err = cw_store_user_get(req->store, req->app.id, req->id, &user);
	if (err) {
		cw_reply_errno(req, err, "user");
		return;
	}
	cw_reply_json(req, 200, cw_user_json(&user));
	cw_user_free(&user);
}

void cw_h_users_list(struct cw_req *req)
{
	char after[CW_UID_MAX + 1];
	struct cw_user *users;
	json_t *items;
	size_t n;
	bool more;
	int limit, err;

	if (!cw_req_app_auth(req, READ) || !cw_req_page(req, &limit, after))
		return;
	err = cw_store_user_list(req->store, req->app.id, after, (size_t)limit, &users, &n, &more);
	if (err) {
		cw_reply_errno(req, err, "app");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, cw_user_json(&users[i]));
	cw_reply_page(req, items, more, n ? users[n - 1].uid : NULL);
	cw_users_free(users, n);
}

void cw_h_user_patch(struct cw_req *req)
{
	struct cw_user user;
	struct cw_verr e;
	unsigned fields;
	json_t *body;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	err = cw_store_user_get(req->store, req->app.id, req->id, &user);
	if (err) {
		cw_reply_errno(req, err, "user");
		json_decref(body);
		return;
	}
	if (cw_check_user_patch(body, &user, &fields, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	user.updated_at = req->now;
	err = cw_store_user_update(req->store, req->app.id, &user, fields);
	if (err)
		cw_reply_errno(req, err, "user");
	else
		cw_reply_json(req, 200, cw_user_json(&user));
out:
	cw_user_free(&user);
	json_decref(body);
}

void cw_h_user_delete(struct cw_req *req)
{
	int err;

	if (!cw_req_app_auth(req, ADMIN))
		return;
	err = cw_store_user_delete(req->store, req->app.id, req->id);
	if (err) {
		cw_reply_errno(req, err, "user");
		return;
	}
	cw_rt_close_user(req->rt, req->app.id, req->id, NULL, CW_WS_BAD_TOKEN, "user deleted");
	cw_reply_empty(req, 204);
}
