/* store/sqlite_accounts: the SQLite ops of apps, users, groups and their members, and tokens. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_int.h"

/* Row readers: each reads the columns in the order its SELECT in sqlite.c lists them. */
static int row_app(sqlite3_stmt *stmt, void *item)
{
	struct cw_app *a = item;
	int err;

	memset(a, 0, sizeof(*a));
	if ((err = sq_col_copy(stmt, 0, a->id, sizeof(a->id))) ||
	    (err = sq_col_dup(stmt, 1, &a->name)) ||
	    (err = sq_col_copy(stmt, 2, a->auth_key_hash, sizeof(a->auth_key_hash))) ||
	    (err = sq_col_copy(stmt, 3, a->rest_key_hash, sizeof(a->rest_key_hash))))
		goto out;
	a->settings.auth_key_login = sqlite3_column_int(stmt, 4) != 0;
	a->settings.ring_timeout = sqlite3_column_int(stmt, 5);
	a->settings.auto_busy = sqlite3_column_int(stmt, 6) != 0;
	a->settings.reconnect_grace = sqlite3_column_int(stmt, 7);
	a->settings.idle_timeout = sqlite3_column_int(stmt, 8);
	a->settings.max_participants = sqlite3_column_int(stmt, 9);
	a->settings.call_rate_limit = sqlite3_column_int(stmt, 10);
	a->created_at = sqlite3_column_int64(stmt, 11);
out:
	if (err)
		cw_app_free(a);
	return err;
}

static int row_user(sqlite3_stmt *stmt, void *item)
{
	struct cw_user *u = item;
	int err;

	memset(u, 0, sizeof(*u));
	if ((err = sq_col_copy(stmt, 0, u->uid, sizeof(u->uid))) ||
	    (err = sq_col_dup(stmt, 1, &u->name)) || (err = sq_col_dup(stmt, 2, &u->avatar)) ||
	    (err = sq_col_dup(stmt, 3, &u->metadata)))
		goto out;
	u->created_at = sqlite3_column_int64(stmt, 4);
	u->updated_at = sqlite3_column_int64(stmt, 5);
out:
	if (err)
		cw_user_free(u);
	return err;
}

static int row_group(sqlite3_stmt *stmt, void *item)
{
	struct cw_group *g = item;
	int err;

	memset(g, 0, sizeof(*g));
	if ((err = sq_col_copy(stmt, 0, g->guid, sizeof(g->guid))) ||
	    (err = sq_col_dup(stmt, 1, &g->name)))
		goto out;
	g->created_at = sqlite3_column_int64(stmt, 2);
out:
	if (err)
		cw_group_free(g);
	return err;
}

static int row_member(sqlite3_stmt *stmt, void *item)
{
	return sq_col_copy(stmt, 0, item, CW_UID_MAX + 1);
}

static int row_token(sqlite3_stmt *stmt, void *item)
{
	struct cw_token *t = item;
	int err;

	memset(t, 0, sizeof(*t));
	if ((err = sq_col_copy(stmt, 0, t->app_id, sizeof(t->app_id))) ||
	    (err = sq_col_copy(stmt, 1, t->uid, sizeof(t->uid))))
		return err;
	t->created_at = sqlite3_column_int64(stmt, 2);
	t->expires_at = sqlite3_column_int64(stmt, 3);
	return 0;
}

static void release_app(void *item)
{
	cw_app_free(item);
}

static void release_user(void *item)
{
	cw_user_free(item);
}

static void release_group(void *item)
{
	cw_group_free(item);
}

int sqlite_app_create(struct cw_store *s, const struct cw_app *app)
{
	const struct cw_settings *c = &app->settings;

	return sq_run(sq_to_sqlite(s), S_APP_INSERT, "ttttiiiiiiil", app->id,
		      sq_str_or(app->name, ""), app->auth_key_hash, app->rest_key_hash,
		      c->auth_key_login, c->ring_timeout, c->auto_busy, c->reconnect_grace,
		      c->idle_timeout, c->max_participants, c->call_rate_limit, app->created_at);
}

int sqlite_app_get(struct cw_store *s, const char *app_id, struct cw_app *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_app app;
	int err;

	if ((err = sq_bind(st, S_APP_GET, "t", app_id)) ||
	    (err = sq_get_one(st, S_APP_GET, row_app, &app)))
		return err;
	*out = app;
	return 0;
}

int sqlite_app_find_by_rest_key(struct cw_store *s, const char *hash, struct cw_app *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_app app;
	int err;

	if ((err = sq_bind(st, S_APP_BY_REST_KEY, "t", hash)) ||
	    (err = sq_get_one(st, S_APP_BY_REST_KEY, row_app, &app)))
		return err;
	*out = app;
	return 0;
}

int sqlite_app_set_settings(struct cw_store *s, const char *app_id, const struct cw_settings *c)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	err = sq_run(st, S_APP_SETTINGS, "tiiiiiii", app_id, c->auth_key_login, c->ring_timeout,
		     c->auto_busy, c->reconnect_grace, c->idle_timeout, c->max_participants,
		     c->call_rate_limit);
	return sq_changed(st, err);
}

int sqlite_app_list(struct cw_store *s, const char *after, size_t limit, struct cw_app **out,
		    size_t *n, bool *more)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	void *arr;
	int err;

	if ((err = sq_bind(st, S_APP_LIST, "tl", sq_str_or(after, ""), sq_list_limit(limit))) ||
	    (err = sq_collect(st, S_APP_LIST, limit, sizeof(**out), row_app, release_app, &arr, n,
			      more)))
		return err;
	*out = arr;
	return 0;
}

int sqlite_user_create(struct cw_store *s, const char *app_id, const struct cw_user *user)
{
	return sq_run(sq_to_sqlite(s), S_USER_INSERT, "tttttll", app_id, user->uid,
		      sq_str_or(user->name, ""), user->avatar, sq_str_or(user->metadata, "{}"),
		      user->created_at, user->updated_at);
}

int sqlite_user_get(struct cw_store *s, const char *app_id, const char *uid, struct cw_user *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_user user;
	int err;

	if ((err = sq_bind(st, S_USER_GET, "tt", app_id, uid)) ||
	    (err = sq_get_one(st, S_USER_GET, row_user, &user)))
		return err;
	*out = user;
	return 0;
}

int sqlite_user_update(struct cw_store *s, const char *app_id, const struct cw_user *user,
		       unsigned fields)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	/* A NULL avatar clears it; name and metadata are NOT NULL, so NULL means their
	 * defaults, as on create. */
	err = sq_run(st, S_USER_UPDATE, "ttitititl", app_id, user->uid,
		     (fields & CW_USER_NAME) != 0, sq_str_or(user->name, ""),
		     (fields & CW_USER_AVATAR) != 0, user->avatar, (fields & CW_USER_METADATA) != 0,
		     sq_str_or(user->metadata, "{}"), user->updated_at);
	return sq_changed(st, err);
}

int sqlite_user_delete(struct cw_store *s, const char *app_id, const char *uid)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	/* The foreign keys would cascade too; deleting explicitly keeps the promise of
	 * store.h even on a connection where they are off. */
	if ((err = sq_tx_begin(st)))
		return err;
	if ((err = sq_run(st, S_TOKEN_REVOKE_USER, "tt", app_id, uid)) ||
	    (err = sq_run(st, S_PUSH_TOKENS_USER, "tt", app_id, uid)) ||
	    (err = sq_run(st, S_MEMBER_DELETE_USER, "tt", app_id, uid)))
		goto out;
	err = sq_changed(st, sq_run(st, S_USER_DELETE, "tt", app_id, uid));
out:
	return sq_tx_end(st, err);
}

int sqlite_user_list(struct cw_store *s, const char *app_id, const char *after, size_t limit,
		     struct cw_user **out, size_t *n, bool *more)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	void *arr;
	int err;

	if ((err = sq_bind(st, S_USER_LIST, "ttl", app_id, sq_str_or(after, ""),
			   sq_list_limit(limit))) ||
	    (err = sq_collect(st, S_USER_LIST, limit, sizeof(**out), row_user, release_user, &arr,
			      n, more)))
		return err;
	*out = arr;
	return 0;
}

/* Adds uids to a group inside the caller's transaction. Each uid is checked first, since
 * a foreign key failure would not say which member was unknown. */
static int add_members(struct sqlite_store *st, const char *app_id, const char *guid,
		       const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad)
{
	for (size_t i = 0; i < n; i++) {
		int err = sq_exists(st, S_USER_EXISTS, app_id, uids[i]);

		if (err == 0) {
			if (bad)
				*bad = i;
			return -ENOENT;
		}
		if (err < 0)
			return err;
		if ((err = sq_run(st, S_MEMBER_INSERT, "ttt", app_id, guid, uids[i])))
			return err;
	}
	return 0;
}

int sqlite_group_create(struct cw_store *s, const char *app_id, const struct cw_group *group,
			size_t *bad)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	/* (size_t)-1 marks an -ENOENT that is not about a member: here, a missing app. */
	if (bad)
		*bad = (size_t)-1;
	if ((err = sq_tx_begin(st)))
		return err;
	if ((err = sq_run(st, S_GROUP_INSERT, "tttl", app_id, group->guid,
			  sq_str_or(group->name, ""), group->created_at)))
		goto out;
	err = add_members(st, app_id, group->guid, group->members, group->n_members, bad);
out:
	return sq_tx_end(st, err);
}

static int load_members(struct sqlite_store *st, const char *app_id, struct cw_group *g)
{
	void *arr;
	bool more;
	int err;

	if ((err = sq_bind(st, S_MEMBER_LIST, "tt", app_id, g->guid)) ||
	    (err = sq_collect(st, S_MEMBER_LIST, SIZE_MAX, sizeof(*g->members), row_member, NULL,
			      &arr, &g->n_members, &more)))
		return err;
	g->members = arr;
	return 0;
}

int sqlite_group_get(struct cw_store *s, const char *app_id, const char *guid, struct cw_group *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_group group;
	int err;

	if ((err = sq_bind(st, S_GROUP_GET, "tt", app_id, guid)) ||
	    (err = sq_get_one(st, S_GROUP_GET, row_group, &group)))
		return err;
	if ((err = load_members(st, app_id, &group))) {
		cw_group_free(&group);
		return err;
	}
	*out = group;
	return 0;
}

/* Memberships go with the group through ON DELETE CASCADE, in the same statement. */
int sqlite_group_delete(struct cw_store *s, const char *app_id, const char *guid)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	return sq_changed(st, sq_run(st, S_GROUP_DELETE, "tt", app_id, guid));
}

int sqlite_group_list(struct cw_store *s, const char *app_id, const char *member, const char *after,
		      size_t limit, struct cw_group **out, size_t *n, bool *more)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	enum stmt_id id = member ? S_GROUP_LIST_MEMBER : S_GROUP_LIST;
	struct cw_group *groups;
	void *arr;
	size_t count = 0;
	bool further;
	int err;

	if (member)
		err = sq_bind(st, id, "tttl", app_id, member, sq_str_or(after, ""),
			      sq_list_limit(limit));
	else
		err = sq_bind(st, id, "ttl", app_id, sq_str_or(after, ""), sq_list_limit(limit));
	if (err || (err = sq_collect(st, id, limit, sizeof(**out), row_group, release_group, &arr,
				     &count, &further)))
		return err;
	groups = arr;
	for (size_t i = 0; i < count && !err; i++)
		err = load_members(st, app_id, &groups[i]);
	if (err) {
		cw_groups_free(groups, count);
		return err;
	}
	*out = groups;
	*n = count;
	*more = further;
	return 0;
}

int sqlite_group_add_members(struct cw_store *s, const char *app_id, const char *guid,
			     const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	if (bad)
		*bad = (size_t)-1;
	if ((err = sq_tx_begin(st)))
		return err;
	err = sq_exists(st, S_GROUP_EXISTS, app_id, guid);
	if (err == 0)
		err = -ENOENT;
	if (err < 0)
		goto out;
	err = add_members(st, app_id, guid, uids, n, bad);
out:
	return sq_tx_end(st, err);
}

int sqlite_group_remove_member(struct cw_store *s, const char *app_id, const char *guid,
			       const char *uid)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	err = sq_run(st, S_MEMBER_DELETE, "ttt", app_id, guid, uid);
	return sq_changed(st, err);
}

int sqlite_token_add(struct cw_store *s, const char *hash, const struct cw_token *token)
{
	/* A token of an unknown user fails its foreign key, which reads as -ENOENT. */
	return sq_run(sq_to_sqlite(s), S_TOKEN_INSERT, "tttll", hash, token->app_id, token->uid,
		      token->created_at, token->expires_at);
}

int sqlite_token_find(struct cw_store *s, const char *hash, int64_t now, struct cw_token *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_token token;
	int err;

	if ((err = sq_bind(st, S_TOKEN_FIND, "tl", hash, now)) ||
	    (err = sq_get_one(st, S_TOKEN_FIND, row_token, &token)))
		return err;
	*out = token;
	return 0;
}

int sqlite_token_revoke(struct cw_store *s, const char *hash)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	err = sq_run(st, S_TOKEN_REVOKE, "t", hash);
	return sq_changed(st, err);
}

int sqlite_token_revoke_user(struct cw_store *s, const char *app_id, const char *uid, size_t *count)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	err = sq_run(st, S_TOKEN_REVOKE_USER, "tt", app_id, uid);
	if (!err && count)
		*count = (size_t)sqlite3_changes(st->db);
	return err;
}
