/* store/sqlite private: the state, statement ids and helpers shared by the sqlite*.c files. */
#ifndef CW_STORE_SQLITE_INT_H
#define CW_STORE_SQLITE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/push_store.h"
#include "store/store.h"

/* Every statement the backend runs, prepared once at open and reset after each use; the SQL
 * of each is in stmt_defs in sqlite.c. The transaction statements come first: they are
 * prepared before the migrations, which use them, while the rest can only be prepared once
 * the tables exist. */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_TX_END, /* not a statement: the end of the ones the migrations need */
	S_APP_INSERT = S_TX_END,
	S_APP_GET,
	S_APP_BY_REST_KEY,
	S_APP_SETTINGS,
	S_APP_LIST,
	S_USER_INSERT,
	S_USER_GET,
	S_USER_EXISTS,
	S_USER_UPDATE,
	S_USER_DELETE,
	S_USER_LIST,
	S_GROUP_INSERT,
	S_GROUP_GET,
	S_GROUP_EXISTS,
	S_GROUP_DELETE,
	S_GROUP_LIST,
	S_GROUP_LIST_MEMBER,
	S_MEMBER_LIST,
	S_MEMBER_INSERT,
	S_MEMBER_DELETE,
	S_MEMBER_DELETE_USER,
	S_TOKEN_INSERT,
	S_TOKEN_FIND,
	S_TOKEN_REVOKE,
	S_TOKEN_REVOKE_USER,
	S_CALL_INSERT,
	S_CALL_UPDATE,
	S_CALL_GET,
	S_CALL_LIST_APP,
	S_CALL_LIST_USER,
	S_CALL_LIST_ACTIVE,
	S_PART_UPSERT,
	S_PART_TRIM,
	S_PART_LIST,
	S_SEQ_NEXT,
	S_SEQ_GET,
	S_EVENT_INSERT,
	S_EVENT_AFTER,
	S_EVENT_PRUNE,
	S_PUSH_TOKEN_PUT,
	S_PUSH_TOKEN_GET,
	S_PUSH_TOKEN_DELETE,
	S_PUSH_TOKEN_FORGET,
	S_PUSH_TOKENS_DEVICE,
	S_PUSH_TOKENS_USER,
	S_PUSH_TOKENS_OF,
	S_PUSH_CONFIG_GET,
	S_PUSH_CONFIG_SET,
	S_OUTBOX_INSERT,
	S_OUTBOX_DUE,
	S_OUTBOX_NEXT_AT,
	S_OUTBOX_RETRY,
	S_OUTBOX_DELETE,
	S_OUTBOX_COUNT,
	S_COUNT
};

struct sqlite_store {
	struct cw_store base; /* first, so a struct cw_store * converts back */
	sqlite3 *db;
	sqlite3_stmt *stmts[S_COUNT];
	/* A batch (store.h's group commit) is open: its transaction holds every write. */
	bool batch;
	/* How many sq_tx_begin calls that opened a savepoint are not yet ended. */
	unsigned savepoints;
};

/* Fills one out-struct from the current row; frees what it allocated when it fails. */
typedef int (*sq_row_fn)(sqlite3_stmt *stmt, void *item);
/* Frees one out-struct that a sq_row_fn filled. */
typedef void (*sq_release_fn)(void *item);

/* Helpers, defined in sqlite.c. Unless noted they return 0 or a negative errno: -EEXIST for a
 * duplicate key, -ENOENT for a missing parent row, -EIO (logged) for any other failure. A
 * statement bound with sq_bind holds pointers into the caller's strings until it is finished
 * by sq_get_one, sq_collect or sq_reset; sq_run and sq_exists bind and finish their own. */

/* The backend behind a store handle. */
struct sqlite_store *sq_to_sqlite(struct cw_store *s);
/* s, or fallback when s is NULL: the default of a NOT NULL column. */
const char *sq_str_or(const char *s, const char *fallback);
/* Binds the arguments by type: 't' const char * (NULL binds SQL NULL), 'i' int, 'l' int64_t. */
int sq_bind(struct sqlite_store *st, enum stmt_id id, const char *types, ...);
/* Steps a bound statement: 1 when a row is ready, 0 at the end, or a negative errno. */
int sq_step(struct sqlite_store *st, enum stmt_id id);
/* Resets a statement and clears its bindings, ready for its next use. */
void sq_reset(struct sqlite_store *st, enum stmt_id id);
/* Binds like sq_bind, runs to completion and resets a statement that returns no rows. */
int sq_run(struct sqlite_store *st, enum stmt_id id, const char *types, ...);
/* Passes err on, but -ENOENT when err is 0 and the last write changed no row. */
int sq_changed(struct sqlite_store *st, int err);
/* Whether the (app_id, key) row of an S_*_EXISTS statement exists: 1, 0 or a negative errno. */
int sq_exists(struct sqlite_store *st, enum stmt_id id, const char *app_id, const char *key);
/* Reads the single row of a bound statement into item with row; -ENOENT when there is none. */
int sq_get_one(struct sqlite_store *st, enum stmt_id id, sq_row_fn row, void *item);
/* Reads up to limit rows into a new array, never NULL on success; one row more sets *morep. */
int sq_collect(struct sqlite_store *st, enum stmt_id id, size_t limit, size_t size, sq_row_fn row,
	       sq_release_fn release, void **outp, size_t *np, bool *morep);
/* The LIMIT to bind for a list of limit items: one more, to learn whether more rows exist. */
int64_t sq_list_limit(size_t limit);
/* Begins a write transaction (BEGIN IMMEDIATE), or a savepoint inside one already open (a
 * batch), so that an op is atomic on its own either way. */
int sq_tx_begin(struct sqlite_store *st);
/* Commits (or releases the savepoint) when err is 0, otherwise rolls back what was written
 * since sq_tx_begin; returns err, or the commit's failure. */
int sq_tx_end(struct sqlite_store *st, int err);
/* Copies NOT NULL text column i into buf; -ENOMEM when SQLite cannot convert it. */
int sq_col_copy(sqlite3_stmt *stmt, int i, char *buf, size_t size);
/* Sets *out to a malloc'd copy of text column i, or to NULL when the column is NULL. */
int sq_col_dup(sqlite3_stmt *stmt, int i, char **out);

/* The ops of apps, users, groups and auth tokens, in sqlite_accounts.c; see store.h. */
int sqlite_app_create(struct cw_store *s, const struct cw_app *app);
int sqlite_app_get(struct cw_store *s, const char *app_id, struct cw_app *out);
int sqlite_app_find_by_rest_key(struct cw_store *s, const char *hash, struct cw_app *out);
int sqlite_app_set_settings(struct cw_store *s, const char *app_id, const struct cw_settings *c);
int sqlite_app_list(struct cw_store *s, const char *after, size_t limit, struct cw_app **out,
		    size_t *n, bool *more);
int sqlite_user_create(struct cw_store *s, const char *app_id, const struct cw_user *user);
int sqlite_user_get(struct cw_store *s, const char *app_id, const char *uid, struct cw_user *out);
int sqlite_user_update(struct cw_store *s, const char *app_id, const struct cw_user *user,
		       unsigned fields);
int sqlite_user_delete(struct cw_store *s, const char *app_id, const char *uid);
int sqlite_user_list(struct cw_store *s, const char *app_id, const char *after, size_t limit,
		     struct cw_user **out, size_t *n, bool *more);
int sqlite_group_create(struct cw_store *s, const char *app_id, const struct cw_group *group,
			size_t *bad);
int sqlite_group_get(struct cw_store *s, const char *app_id, const char *guid,
		     struct cw_group *out);
int sqlite_group_delete(struct cw_store *s, const char *app_id, const char *guid);
int sqlite_group_list(struct cw_store *s, const char *app_id, const char *member, const char *after,
		      size_t limit, struct cw_group **out, size_t *n, bool *more);
int sqlite_group_add_members(struct cw_store *s, const char *app_id, const char *guid,
			     const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad);
int sqlite_group_remove_member(struct cw_store *s, const char *app_id, const char *guid,
			       const char *uid);
int sqlite_token_add(struct cw_store *s, const char *hash, const struct cw_token *token);
int sqlite_token_find(struct cw_store *s, const char *hash, int64_t now, struct cw_token *out);
int sqlite_token_revoke(struct cw_store *s, const char *hash);
int sqlite_token_revoke_user(struct cw_store *s, const char *app_id, const char *uid,
			     size_t *count);

/* The ops of calls and of the per-user event log, in sqlite_calls.c; see store.h. */
int sqlite_call_create(struct cw_store *s, struct cw_call_record *rec);
int sqlite_call_update(struct cw_store *s, const struct cw_call_record *rec);
int sqlite_call_get(struct cw_store *s, const char *app_id, const char *session_id,
		    struct cw_call_record *out);
int sqlite_call_list(struct cw_store *s, const struct cw_call_filter *f,
		     struct cw_call_record **out, size_t *n, bool *more);
int sqlite_call_list_active(struct cw_store *s, struct cw_call_record **out, size_t *n);
int sqlite_event_append(struct cw_store *s, const char *app_id, const char *uid, const char *body,
			int64_t now, int64_t *seq);
int sqlite_events_after(struct cw_store *s, const char *app_id, const char *uid, int64_t after,
			size_t limit, struct cw_event_record **out, size_t *n);
int sqlite_event_last_seq(struct cw_store *s, const char *app_id, const char *uid, int64_t *seq);
int sqlite_events_prune(struct cw_store *s, int64_t before, size_t keep, size_t *count);

/* The ops of device tokens, push settings and the outbox, in sqlite_push.c; see
 * push_store.h. */
extern const struct cw_push_store_ops sqlite_push_ops;

#endif
