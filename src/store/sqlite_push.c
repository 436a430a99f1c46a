/* store/sqlite_push: the SQLite ops of device tokens, push settings and the outbox. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_int.h"

/* Enums are stored by name, as in the other tables: "apns_voip" reads better in the sqlite3
 * shell than 0, and keeps its meaning if the enum is ever reordered. Platforms by the names
 * of push_store.h, outbox kinds by these. */
static const char *const kind_names[] = {
	[CW_OUT_APNS] = "apns",
	[CW_OUT_FCM] = "fcm",
	[CW_OUT_WEBHOOK] = "webhook",
};

/* The name of v, or NULL when v is out of range (a caller's bug, refused before it reaches a
 * NOT NULL column, whose failure would read as a backend error). */
static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

/* Reads an enum column; a name this build does not know is a damaged row. */
static int parse_kind(sqlite3_stmt *stmt, int col, enum cw_outbox_kind *out)
{
	const char *text = (const char *)sqlite3_column_text(stmt, col);

	for (size_t i = 0; text && i < CW_ARRAY_SIZE(kind_names); i++) {
		if (strcmp(kind_names[i], text) == 0) {
			*out = (enum cw_outbox_kind)i;
			return 0;
		}
	}
	return -EIO;
}

static int parse_platform(sqlite3_stmt *stmt, int col, enum cw_push_platform *out)
{
	const char *text = (const char *)sqlite3_column_text(stmt, col);

	return cw_push_platform_parse(text, out) ? -EIO : 0;
}

#define PLATFORM_NAME(v) cw_push_platform_name(v)
#define KIND_NAME(v) name_of(kind_names, CW_ARRAY_SIZE(kind_names), (int)(v))

/* Row readers: each reads the columns in the order its SELECT in sqlite.c lists them. */
static int row_token(sqlite3_stmt *stmt, void *item)
{
	struct cw_push_token *t = item;
	int err;

	memset(t, 0, sizeof(*t));
	if ((err = sq_col_copy(stmt, 0, t->uid, sizeof(t->uid))) ||
	    (err = parse_platform(stmt, 1, &t->platform)) ||
	    (err = sq_col_dup(stmt, 2, &t->token)) ||
	    (err = sq_col_copy(stmt, 4, t->device, sizeof(t->device))))
		goto out;
	t->production = sqlite3_column_int(stmt, 3) != 0;
	t->created_at = sqlite3_column_int64(stmt, 5);
out:
	if (err)
		cw_push_token_free(t);
	return err;
}

static void release_token(void *item)
{
	cw_push_token_free(item);
}

static int row_config(sqlite3_stmt *stmt, void *item)
{
	struct cw_push_config *c = item;
	int err;

	memset(c, 0, sizeof(*c));
	c->push_always = sqlite3_column_int(stmt, 0) != 0;
	c->apns_production = sqlite3_column_int(stmt, 5) != 0;
	if ((err = sq_col_dup(stmt, 1, &c->apns_team_id)) ||
	    (err = sq_col_dup(stmt, 2, &c->apns_key_id)) ||
	    (err = sq_col_dup(stmt, 3, &c->apns_key)) ||
	    (err = sq_col_dup(stmt, 4, &c->apns_bundle_id)) ||
	    (err = sq_col_dup(stmt, 6, &c->fcm_service_account)) ||
	    (err = sq_col_dup(stmt, 7, &c->apns_url)) || (err = sq_col_dup(stmt, 8, &c->fcm_url)) ||
	    (err = sq_col_dup(stmt, 9, &c->oauth_url)) ||
	    (err = sq_col_dup(stmt, 10, &c->ca_file)) ||
	    (err = sq_col_dup(stmt, 11, &c->webhook_urls)) ||
	    (err = sq_col_dup(stmt, 12, &c->webhook_secret)))
		cw_push_config_free(c);
	return err;
}

static int row_outbox(sqlite3_stmt *stmt, void *item)
{
	struct cw_outbox_entry *e = item;
	int err;

	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(stmt, 0);
	if ((err = sq_col_copy(stmt, 1, e->app_id, sizeof(e->app_id))) ||
	    (err = parse_kind(stmt, 2, &e->kind)) || (err = sq_col_dup(stmt, 3, &e->target)) ||
	    (err = sq_col_dup(stmt, 4, &e->dedupe)) || (err = sq_col_dup(stmt, 5, &e->payload)) ||
	    (err = sq_col_dup(stmt, 6, &e->meta)))
		goto out;
	e->created_at = sqlite3_column_int64(stmt, 7);
	e->next_at = sqlite3_column_int64(stmt, 8);
	e->expires_at = sqlite3_column_int64(stmt, 9);
	e->attempts = sqlite3_column_int(stmt, 10);
out:
	if (err)
		cw_outbox_entry_free(e);
	return err;
}

static void release_outbox(void *item)
{
	cw_outbox_entry_free(item);
}

/* Runs a bound statement whose single row is one integer; NULL reads as 0. */
static int get_int64(struct sqlite_store *st, enum stmt_id id, int64_t *value)
{
	int err = sq_step(st, id);

	if (err > 0) {
		*value = sqlite3_column_int64(st->stmts[id], 0);
		err = 0;
	} else if (err == 0) {
		err = -EIO; /* an aggregate always answers one row */
	}
	sq_reset(st, id);
	return err;
}

/* Passes on err of a DELETE just run, and on success gives how many rows it removed. */
static int delete_counted(struct sqlite_store *st, int err, size_t *count)
{
	if (!err && count)
		*count = (size_t)sqlite3_changes(st->db);
	return err;
}

static int sqlite_push_token_put(struct cw_store *s, const char *app_id,
				 const struct cw_push_token *t)
{
	const char *platform = PLATFORM_NAME(t->platform);

	if (!platform || !t->token)
		return -EINVAL;
	/* A token of an unknown user fails its foreign key, which reads as -ENOENT. */
	return sq_run(sq_to_sqlite(s), S_PUSH_TOKEN_PUT, "ttttitl", app_id, t->uid, platform,
		      t->token, t->production, t->device, t->created_at);
}

static int sqlite_push_token_get(struct cw_store *s, const char *app_id,
				 enum cw_push_platform platform, const char *token,
				 struct cw_push_token *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	const char *name = PLATFORM_NAME(platform);
	struct cw_push_token t;
	int err;

	if (!name)
		return -EINVAL;
	if ((err = sq_bind(st, S_PUSH_TOKEN_GET, "ttt", app_id, name, token)) ||
	    (err = sq_get_one(st, S_PUSH_TOKEN_GET, row_token, &t)))
		return err;
	*out = t;
	return 0;
}

static int sqlite_push_token_delete(struct cw_store *s, const char *app_id, const char *uid,
				    const char *token)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	return sq_changed(st, sq_run(st, S_PUSH_TOKEN_DELETE, "ttt", app_id, uid, token));
}

static int sqlite_push_token_forget(struct cw_store *s, const char *app_id,
				    enum cw_push_platform platform, const char *token)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	const char *name = PLATFORM_NAME(platform);

	if (!name)
		return -EINVAL;
	return sq_changed(st, sq_run(st, S_PUSH_TOKEN_FORGET, "ttt", app_id, name, token));
}

static int sqlite_push_tokens_delete_device(struct cw_store *s, const char *device, size_t *count)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	return delete_counted(st, sq_run(st, S_PUSH_TOKENS_DEVICE, "t", device), count);
}

static int sqlite_push_tokens_delete_user(struct cw_store *s, const char *app_id, const char *uid,
					  size_t *count)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	return delete_counted(st, sq_run(st, S_PUSH_TOKENS_USER, "tt", app_id, uid), count);
}

static int sqlite_push_tokens_of(struct cw_store *s, const char *app_id, const char *uid,
				 struct cw_push_token **out, size_t *n)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	void *arr;
	bool more;
	int err;

	if ((err = sq_bind(st, S_PUSH_TOKENS_OF, "tt", app_id, uid)) ||
	    (err = sq_collect(st, S_PUSH_TOKENS_OF, SIZE_MAX, sizeof(**out), row_token,
			      release_token, &arr, n, &more)))
		return err;
	*out = arr;
	return 0;
}

static int sqlite_push_config_get(struct cw_store *s, const char *app_id,
				  struct cw_push_config *out)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	struct cw_push_config c;
	int err;

	if ((err = sq_bind(st, S_PUSH_CONFIG_GET, "t", app_id)) ||
	    (err = sq_get_one(st, S_PUSH_CONFIG_GET, row_config, &c)))
		return err;
	*out = c;
	return 0;
}

static int sqlite_push_config_set(struct cw_store *s, const char *app_id,
				  const struct cw_push_config *c)
{
	/* A missing app fails the foreign key: -ENOENT. */
	return sq_run(sq_to_sqlite(s), S_PUSH_CONFIG_SET, "tittttittttttt", app_id, c->push_always,
		      c->apns_team_id, c->apns_key_id, c->apns_key, c->apns_bundle_id,
		      c->apns_production, c->fcm_service_account, c->apns_url, c->fcm_url,
		      c->oauth_url, c->ca_file, c->webhook_urls, c->webhook_secret);
}

static int sqlite_outbox_add(struct cw_store *s, struct cw_outbox_entry *e)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	const char *kind = KIND_NAME(e->kind);
	int err;

	if (!kind || !e->target || !e->dedupe || !e->payload)
		return -EINVAL;
	/* One statement: atomic by itself, and inside a batch a duplicate undoes only itself. */
	err = sq_run(st, S_OUTBOX_INSERT, "ttttttllli", e->app_id, kind, e->target, e->dedupe,
		     e->payload, sq_str_or(e->meta, "{}"), e->created_at, e->next_at, e->expires_at,
		     e->attempts);
	if (err)
		return err;
	e->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static int sqlite_outbox_due(struct cw_store *s, int64_t now, size_t limit,
			     struct cw_outbox_entry **out, size_t *n)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	void *arr;
	bool more;
	int err;

	if ((err = sq_bind(st, S_OUTBOX_DUE, "ll", now, sq_list_limit(limit))) ||
	    (err = sq_collect(st, S_OUTBOX_DUE, limit, sizeof(**out), row_outbox, release_outbox,
			      &arr, n, &more)))
		return err;
	*out = arr;
	return 0;
}

static int sqlite_outbox_next_at(struct cw_store *s, int64_t *when)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int64_t v = 0;
	int err;

	if ((err = sq_bind(st, S_OUTBOX_NEXT_AT, "")) ||
	    (err = get_int64(st, S_OUTBOX_NEXT_AT, &v)))
		return err;
	*when = v;
	return 0;
}

static int sqlite_outbox_retry(struct cw_store *s, int64_t id, int64_t next_at, int attempts)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	return sq_changed(st, sq_run(st, S_OUTBOX_RETRY, "lil", next_at, attempts, id));
}

static int sqlite_outbox_delete(struct cw_store *s, int64_t id)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	return sq_changed(st, sq_run(st, S_OUTBOX_DELETE, "l", id));
}

static int sqlite_outbox_count(struct cw_store *s, int64_t *count)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int64_t v = 0;
	int err;

	if ((err = sq_bind(st, S_OUTBOX_COUNT, "")) || (err = get_int64(st, S_OUTBOX_COUNT, &v)))
		return err;
	*count = v;
	return 0;
}

const struct cw_push_store_ops sqlite_push_ops = {
	.token_put = sqlite_push_token_put,
	.token_get = sqlite_push_token_get,
	.token_delete = sqlite_push_token_delete,
	.token_forget = sqlite_push_token_forget,
	.tokens_delete_device = sqlite_push_tokens_delete_device,
	.tokens_delete_user = sqlite_push_tokens_delete_user,
	.tokens_of = sqlite_push_tokens_of,
	.config_get = sqlite_push_config_get,
	.config_set = sqlite_push_config_set,
	.outbox_add = sqlite_outbox_add,
	.outbox_due = sqlite_outbox_due,
	.outbox_next_at = sqlite_outbox_next_at,
	.outbox_retry = sqlite_outbox_retry,
	.outbox_delete = sqlite_outbox_delete,
	.outbox_count = sqlite_outbox_count,
};
