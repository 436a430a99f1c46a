/* store: the persistence interface. Callers see only these functions; each backend
 * (SQLite today, PostgreSQL later) fills in a struct cw_store_ops. */
#ifndef CW_STORE_H
#define CW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_APPID_MAX 64
#define CW_UID_MAX 100
#define CW_HASH_HEX 64

/* App settings, as in the contract. */
struct cw_settings {
	bool auth_key_login;  /* authKeyLogin, default true */
	int ring_timeout;     /* ringTimeout seconds, default 45 */
	bool auto_busy;	      /* autoBusy, default true */
	int reconnect_grace;  /* reconnectGrace seconds, default 30 */
	int idle_timeout;     /* idleTimeout seconds, default 300, 0 = never */
	int max_participants; /* maxParticipants, default 50 */
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

/* Fields of a user to change in cw_store_user_update. */
enum {
	CW_USER_NAME = 1 << 0,
	CW_USER_AVATAR = 1 << 1,
	CW_USER_METADATA = 1 << 2,
};

struct cw_store;

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
	/* Deletes the user, their auth tokens and group memberships in one transaction. */
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
	int (*group_list)(struct cw_store *s, const char *app_id, const char *after, size_t limit,
			  struct cw_group **out, size_t *n, bool *more);
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
int cw_store_group_list(struct cw_store *s, const char *app_id, const char *after, size_t limit,
			struct cw_group **out, size_t *n, bool *more);
int cw_store_group_add_members(struct cw_store *s, const char *app_id, const char *guid,
			       const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad);
int cw_store_group_remove_member(struct cw_store *s, const char *app_id, const char *guid,
				 const char *uid);
int cw_store_token_add(struct cw_store *s, const char *hash, const struct cw_token *token);
int cw_store_token_find(struct cw_store *s, const char *hash, int64_t now, struct cw_token *out);
int cw_store_token_revoke(struct cw_store *s, const char *hash);
int cw_store_token_revoke_user(struct cw_store *s, const char *app_id, const char *uid,
			       size_t *count);

#endif
