/* groups: the app's groups and their members (REST key or master key; a user may read the
 * groups they are a member of). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "util/util.h"

#define ADMIN CW_ALLOW(CW_CRED_MASTER) | CW_ALLOW(CW_CRED_REST)
#define READ ADMIN | CW_ALLOW(CW_CRED_TOKEN)

/* The uid whose groups an auth token may see, or NULL for the app's keys (every group). */
static const char *reader(const struct cw_req *req)
{
	return req->cred.kind == CW_CRED_TOKEN ? req->cred.uid : NULL;
}

static bool has_member(const struct cw_group *group, const char *uid)
{
	for (size_t i = 0; i < group->n_members; i++) {
		if (strcmp(group->members[i], uid) == 0)
			return true;
	}
	return false;
}

void cw_h_group_create(struct cw_req *req)
{
	struct cw_group group = {0};
	struct cw_verr e;
	json_t *body;
	size_t bad;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	if (cw_check_group_create(body, &group, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	group.created_at = req->now;
	err = cw_store_group_create(req->store, req->app.id, &group, &bad);
	if (err == -EEXIST)
		cw_reply_error(req, CW_E_CONFLICT, "guid '%s' already exists", group.guid);
	else if (err == -ENOENT && bad < group.n_members)
		cw_reply_error(req, CW_E_NOT_FOUND, "members: user '%s' not found",
			       group.members[bad]);
	else if (err)
		cw_reply_errno(req, err, "app");
	else
		cw_reply_json(req, 201, cw_group_json(&group));
out:
	cw_group_free(&group);
	json_decref(body);
}

void cw_h_group_get(struct cw_req *req)
{
	struct cw_group group;
	const char *uid;
	int err;

	if (!cw_req_app_auth(req, READ))
		return;
	err = cw_store_group_get(req->store, req->app.id, req->id, &group);
	if (err) {
		cw_reply_errno(req, err, "group");
		return;
	}
	/* To anyone outside it, a group does not exist: its guid does not leak either. */
	uid = reader(req);
	if (uid && !has_member(&group, uid))
		cw_reply_errno(req, -ENOENT, "group");
	else
		cw_reply_json(req, 200, cw_group_json(&group));
	cw_group_free(&group);
}

void cw_h_groups_list(struct cw_req *req)
{
	char after[CW_UID_MAX + 1];
	struct cw_group *groups;
	json_t *items;
	size_t n;
	bool more;
	int limit, err;

	if (!cw_req_app_auth(req, READ) || !cw_req_page(req, &limit, after))
		return;
	err = cw_store_group_list(req->store, req->app.id, reader(req), after, (size_t)limit,
				  &groups, &n, &more);
	if (err) {
		cw_reply_errno(req, err, "app");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, cw_group_json(&groups[i]));
	cw_reply_page(req, items, more, n ? groups[n - 1].guid : NULL);
	cw_groups_free(groups, n);
}

void cw_h_group_delete(struct cw_req *req)
{
	int err;

	if (!cw_req_app_auth(req, ADMIN))
		return;
	err = cw_store_group_delete(req->store, req->app.id, req->id);
	if (err) {
		cw_reply_errno(req, err, "group");
		return;
	}
	cw_reply_empty(req, 204);
}

void cw_h_members_add(struct cw_req *req)
{
	char(*uids)[CW_UID_MAX + 1] = NULL;
	struct cw_group group;
	struct cw_verr e;
	json_t *body;
	size_t n, bad;
	int err;

	if (!cw_req_app_auth(req, ADMIN) || !(body = cw_req_body(req, false)))
		return;
	if (cw_get_id_array(body, "uids", true, &uids, &n, &e)) {
		cw_reply_error(req, CW_E_BAD_REQUEST, "%s", e.msg);
		goto out;
	}
	err = cw_store_group_add_members(req->store, req->app.id, req->id, uids, n, &bad);
	if (err == -ENOENT && bad < n)
		cw_reply_error(req, CW_E_NOT_FOUND, "uids: user '%s' not found", uids[bad]);
	else if (err)
		cw_reply_errno(req, err, "group");
	else if ((err = cw_store_group_get(req->store, req->app.id, req->id, &group)))
		cw_reply_errno(req, err, "group");
	else {
		cw_reply_json(req, 200, cw_group_json(&group));
		cw_group_free(&group);
	}
out:
	free(uids);
	json_decref(body);
}

void cw_h_member_remove(struct cw_req *req)
{
	int err;

	if (!cw_req_app_auth(req, ADMIN))
		return;
	err = cw_store_group_remove_member(req->store, req->app.id, req->id, req->sub);
	if (err) {
		cw_reply_errno(req, err, "group member");
		return;
	}
	cw_reply_empty(req, 204);
}
