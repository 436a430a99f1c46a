/* store: the persistence interface. Callers see only these functions; each backend
 * (SQLite today, PostgreSQL later) fills in a struct cw_store_ops. */
#ifndef CW_STORE_H
#define CW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls/machine.h"
#include "util/util.h"

/* App settings, as in the contract. */
struct cw_settings {
	bool auth_key_login;  /* authKeyLogin, default true */
	int ring_timeout;     /* ringTimeout seconds, default 45 */
	bool auto_busy;	      /* autoBusy, default true */
	int reconnect_grace;  /* reconnectGrace seconds, default 30 */
	int idle_timeout;     /* idleTimeout seconds, default 300, 0 = never */
	int max_participants; /* maxParticipants, default 50 */
	int call_rate_limit;  /* callRateLimit: call.initiate per user per minute, default 30 */
};

void cw_settings_default(struct cw_settings *s);

struct cw_app {
	char id[CW_APPID_MAX + 1];
	char *name;
	char auth_key_hash[CW_HASH_HEX + 1]; /* SHA-256 hex of the auth key */
	char rest_key_hash[CW_HASH_HEX + 1]; /* SHA-256 hex of the REST API key */
	struct cw_settings settings;
	int64_t created_at; /* Unix ms */
};

struct cw_user {
	char uid[CW_UID_MAX + 1];
	char *name;
	char *avatar;	/* NULL when unset */
	char *metadata; /* JSON object text, never NULL once loaded ("{}" by default) */
	int64_t created_at;
	int64_t updated_at;
};

struct cw_group {
	char guid[CW_UID_MAX + 1];
	char *name;
	int64_t created_at;
	char (*members)[CW_UID_MAX + 1]; /* uids, ascending */
	size_t n_members;
};

struct cw_token {
	char app_id[CW_APPID_MAX + 1];
	char uid[CW_UID_MAX + 1];
	int64_t created_at;
	int64_t expires_at; /* 0 = never */
};

/* A call as stored: the machine's call plus what the call log shows. */
struct cw_call_record {
	char app_id[CW_APPID_MAX + 1];
	int64_t id; /* the store's order key, set by call_create: a later call has a larger id */
	struct cw_call call;
	char *metadata;	      /* JSON object text, "{}" by default */
	char *initiator_name; /* names as they were when the call started */
	char *receiver_name;
	bool has_recording;
};

/* Which calls call_list returns, newest (largest id) first. */
struct cw_call_filter {
	const char *app_id;
	const char *member; /* only calls this uid took part in (initiator or receiver), or NULL */
	const char *with_uid; /* only calls in which this uid also took part, or NULL */
	const char *guid;     /* only group calls to this group, or NULL */
	int direction;	      /* 0 any; 1 incoming: member is not the initiator; 2 outgoing */
	int type;	      /* -1 any, else enum cw_call_type */
	int status;	      /* -1 any, else enum cw_call_status */
	int category;	      /* -1 any, else enum cw_call_category */
	int has_recording;    /* -1 any, 0 or 1 */
	int64_t before;	      /* only calls with id < before; 0 = from the newest */
	size_t limit;
};

/* One entry of a user's event log. */
struct cw_event_record {
	int64_t seq;
	int64_t created_at;
	char *body; /* JSON object text of the event without its seq */
};

/* Fields of a user to change in cw_store_user_update. */
enum {
	CW_USER_NAME = 1 << 0,
	CW_USER_AVATAR = 1 << 1,
	CW_USER_METADATA = 1 << 2,
};

struct cw_store;
struct cw_push_store_ops;

/* Every function returns 0 on success or a negative errno-style code:
 *   -ENOENT  the app, user, group or token does not exist
 *   -EEXIST  the id is taken
 *   -EIO     the backend failed (logged by the backend)
 * Lists return items in ascending id order, strictly after `after` (NULL or "" = from the
 * start), at most `limit` of them; *more is set when further items exist. Out-parameters
 * are filled only on success and released with the matching cw_*_free. */
struct cw_store_ops {
	const char *name;
	void (*close)(struct cw_store *s);

	int (*app_create)(struct cw_store *s, const struct cw_app *app);
	int (*app_get)(struct cw_store *s, const char *app_id, struct cw_app *out);
	/* The app whose REST API key has this hash. */
	int (*app_find_by_rest_key)(struct cw_store *s, const char *hash, struct cw_app *out);
	int (*app_set_settings)(struct cw_store *s, const char *app_id,
				const struct cw_settings *settings);
	int (*app_list)(struct cw_store *s, const char *after, size_t limit, struct cw_app **out,
			size_t *n, bool *more);

	int (*user_create)(struct cw_store *s, const char *app_id, const struct cw_user *user);
	int (*user_get)(struct cw_store *s, const char *app_id, const char *uid,
			struct cw_user *out);
	int (*user_update)(struct cw_store *s, const char *app_id, const struct cw_user *user,
			   unsigned fields);
	/* Deletes the user, their auth tokens, push tokens and group memberships in one
	 * transaction. */
	int (*user_delete)(struct cw_store *s, const char *app_id, const char *uid);
	int (*user_list)(struct cw_store *s, const char *app_id, const char *after, size_t limit,
			 struct cw_user **out, size_t *n, bool *more);

	/* Creates the group with its members atomically. An unknown member gives -ENOENT
	 * with *bad set to its index in group->members, and nothing is written. */
	int (*group_create)(struct cw_store *s, const char *app_id, const struct cw_group *group,
			    size_t *bad);
	int (*group_get)(struct cw_store *s, const char *app_id, const char *guid,
			 struct cw_group *out);
	int (*group_delete)(struct cw_store *s, const char *app_id, const char *guid);
	/* With member, only the groups that uid is a member of. */
	int (*group_list)(struct cw_store *s, const char *app_id, const char *member,
			  const char *after, size_t limit, struct cw_group **out, size_t *n,
			  bool *more);
	/* Adds members (already-present ones are kept); atomic like group_create. -ENOENT with
	 * *bad == (size_t)-1 when the group itself does not exist. */
	int (*group_add_members)(struct cw_store *s, const char *app_id, const char *guid,
				 const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad);
	/* -ENOENT when the group does not exist or uid is not a member. */
	int (*group_remove_member)(struct cw_store *s, const char *app_id, const char *guid,
				   const char *uid);

	/* Auth tokens, identified by the SHA-256 hex of the token. */
	int (*token_add)(struct cw_store *s, const char *hash, const struct cw_token *token);
	/* Finds a token that is not expired at `now` (Unix ms). */
	int (*token_find)(struct cw_store *s, const char *hash, int64_t now, struct cw_token *out);
	int (*token_revoke)(struct cw_store *s, const char *hash);
	/* Revokes every token of the user; *count (may be NULL) receives how many. */
	int (*token_revoke_user)(struct cw_store *s, const char *app_id, const char *uid,
				 size_t *count);

	/* Calls. call_create sets rec->id; a session id already used in the app: -EEXIST.
	 * call_update writes status, times and every participant of rec->call. */
	int (*call_create)(struct cw_store *s, struct cw_call_record *rec);
	int (*call_update)(struct cw_store *s, const struct cw_call_record *rec);
	int (*call_get)(struct cw_store *s, const char *app_id, const char *session_id,
			struct cw_call_record *out);
	int (*call_list)(struct cw_store *s, const struct cw_call_filter *f,
			 struct cw_call_record **out, size_t *n, bool *more);
	/* Every initiated or ongoing call of every app (for reconciliation at start). */
	int (*call_list_active)(struct cw_store *s, struct cw_call_record **out, size_t *n);

	/* Per-user event log. event_append gives the event the user's next seq (1, 2, …,
	 * never reused, across restarts). events_after returns up to limit events with
	 * seq > after, ascending. event_last_seq is 0 for a user with no event yet. */
	int (*event_append)(struct cw_store *s, const char *app_id, const char *uid,
			    const char *body, int64_t now, int64_t *seq);
	int (*events_after)(struct cw_store *s, const char *app_id, const char *uid, int64_t after,
			    size_t limit, struct cw_event_record **out, size_t *n);
	int (*event_last_seq)(struct cw_store *s, const char *app_id, const char *uid,
			      int64_t *seq);
	/* Deletes events created before `before` that are not among their user's latest
	 * `keep`; *count (may be NULL) receives how many. */
	int (*events_prune)(struct cw_store *s, int64_t before, size_t keep, size_t *count);

	/* Group commit: batch_begin opens a transaction that every later write joins until
	 * batch_commit (or batch_rollback). Ops that need their own transaction nest inside
	 * it. batch_begin while a batch is open is a no-op. */
	int (*batch_begin)(struct cw_store *s);
	int (*batch_commit)(struct cw_store *s);
	void (*batch_rollback)(struct cw_store *s);
	bool (*batch_open)(struct cw_store *s);

	/* Device tokens, push settings and the outbox (store/push_store.h). */
	const struct cw_push_store_ops *push;
};

struct cw_store {
	const struct cw_store_ops *ops;
};

/* Opens the store named by url: "sqlite:PATH" or a plain PATH to a SQLite file.
 * Migrations run before it returns. */
int cw_store_open(struct cw_store **sp, const char *url);
void cw_store_close(struct cw_store *s);

int cw_store_sqlite_open(struct cw_store **sp, const char *path);

/* The current schema version, for /healthz and tests. */
int cw_store_schema_version(void);

void cw_call_record_free(struct cw_call_record *rec);
void cw_call_records_free(struct cw_call_record *recs, size_t n);
void cw_event_records_free(struct cw_event_record *evs, size_t n);
void cw_app_free(struct cw_app *app);
void cw_user_free(struct cw_user *user);
void cw_group_free(struct cw_group *group);
void cw_apps_free(struct cw_app *apps, size_t n);
void cw_users_free(struct cw_user *users, size_t n);
void cw_groups_free(struct cw_group *groups, size_t n);

/* Dispatchers: callers use these, never the ops table directly. */
int cw_store_app_create(struct cw_store *s, const struct cw_app *app);
int cw_store_app_get(struct cw_store *s, const char *app_id, struct cw_app *out);
int cw_store_app_find_by_rest_key(struct cw_store *s, const char *hash, struct cw_app *out);
int cw_store_app_set_settings(struct cw_store *s, const char *app_id,
			      const struct cw_settings *settings);
int cw_store_app_list(struct cw_store *s, const char *after, size_t limit, struct cw_app **out,
		      size_t *n, bool *more);
int cw_store_user_create(struct cw_store *s, const char *app_id, const struct cw_user *user);
int cw_store_user_get(struct cw_store *s, const char *app_id, const char *uid, struct cw_user *out);
int cw_store_user_update(struct cw_store *s, const char *app_id, const struct cw_user *user,
			 unsigned fields);
int cw_store_user_delete(struct cw_store *s, const char *app_id, const char *uid);
int cw_store_user_list(struct cw_store *s, const char *app_id, const char *after, size_t limit,
		       struct cw_user **out, size_t *n, bool *more);
int cw_store_group_create(struct cw_store *s, const char *app_id, const struct cw_group *group,
			  size_t *bad);
int cw_store_group_get(struct cw_store *s, const char *app_id, const char *guid,
		       struct cw_group *out);
int cw_store_group_delete(struct cw_store *s, const char *app_id, const char *guid);
int cw_store_group_list(struct cw_store *s, const char *app_id, const char *member,
			const char *after, size_t limit, struct cw_group **out, size_t *n,
			bool *more);
int cw_store_group_add_members(struct cw_store *s, const char *app_id, const char *guid,
			       const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad);
int cw_store_group_remove_member(struct cw_store *s, const char *app_id, const char *guid,
				 const char *uid);
int cw_store_token_add(struct cw_store *s, const char *hash, const struct cw_token *token);
int cw_store_token_find(struct cw_store *s, const char *hash, int64_t now, struct cw_token *out);
int cw_store_token_revoke(struct cw_store *s, const char *hash);
int cw_store_token_revoke_user(struct cw_store *s, const char *app_id, const char *uid,
			       size_t *count);
int cw_store_call_create(struct cw_store *s, struct cw_call_record *rec);
int cw_store_call_update(struct cw_store *s, const struct cw_call_record *rec);
int cw_store_call_get(struct cw_store *s, const char *app_id, const char *session_id,
		      struct cw_call_record *out);
int cw_store_call_list(struct cw_store *s, const struct cw_call_filter *f,
		       struct cw_call_record **out, size_t *n, bool *more);
int cw_store_call_list_active(struct cw_store *s, struct cw_call_record **out, size_t *n);
int cw_store_event_append(struct cw_store *s, const char *app_id, const char *uid, const char *body,
			  int64_t now, int64_t *seq);
int cw_store_events_after(struct cw_store *s, const char *app_id, const char *uid, int64_t after,
			  size_t limit, struct cw_event_record **out, size_t *n);
int cw_store_event_last_seq(struct cw_store *s, const char *app_id, const char *uid, int64_t *seq);
int cw_store_events_prune(struct cw_store *s, int64_t before, size_t keep, size_t *count);
int cw_store_batch_begin(struct cw_store *s);
int cw_store_batch_commit(struct cw_store *s);
void cw_store_batch_rollback(struct cw_store *s);
bool cw_store_batch_open(struct cw_store *s);

#endif
