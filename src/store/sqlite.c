/* store/sqlite: the SQLite backend of store.h: opening, migrations, shared statement helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_int.h"
#include "util/util.h"

/* Schema migrations; PRAGMA user_version counts how many have been applied. Append only:
 * a migration that has shipped is never edited, since databases already carry its effect.
 * Ids use BINARY collation because they are case-sensitive ("Bob" and "bob" are two users),
 * and that collation also gives the byte order that keyset pagination relies on. */
static const char *const migrations[] = {
	/* 1: apps, users, groups, memberships and auth tokens. */
	"CREATE TABLE apps ("
	" id TEXT NOT NULL COLLATE BINARY PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" auth_key_hash TEXT NOT NULL,"
	" rest_key_hash TEXT NOT NULL,"
	" auth_key_login INTEGER NOT NULL,"
	" ring_timeout INTEGER NOT NULL,"
	" auto_busy INTEGER NOT NULL,"
	" reconnect_grace INTEGER NOT NULL,"
	" idle_timeout INTEGER NOT NULL,"
	" max_participants INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE UNIQUE INDEX apps_by_rest_key ON apps (rest_key_hash);"
	"CREATE TABLE users ("
	" app_id TEXT NOT NULL COLLATE BINARY REFERENCES apps (id) ON DELETE CASCADE,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" name TEXT NOT NULL,"
	" avatar TEXT,"
	" metadata TEXT NOT NULL DEFAULT '{}',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (app_id, uid)"
	") WITHOUT ROWID;"
	"CREATE TABLE groups ("
	" app_id TEXT NOT NULL COLLATE BINARY REFERENCES apps (id) ON DELETE CASCADE,"
	" guid TEXT NOT NULL COLLATE BINARY,"
	" name TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" PRIMARY KEY (app_id, guid)"
	") WITHOUT ROWID;"
	"CREATE TABLE group_members ("
	" app_id TEXT NOT NULL COLLATE BINARY,"
	" guid TEXT NOT NULL COLLATE BINARY,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" PRIMARY KEY (app_id, guid, uid),"
	" FOREIGN KEY (app_id, guid) REFERENCES groups (app_id, guid) ON DELETE CASCADE,"
	" FOREIGN KEY (app_id, uid) REFERENCES users (app_id, uid) ON DELETE CASCADE"
	") WITHOUT ROWID;"
	/* Deleting a user finds their memberships through this index, not a table scan. */
	"CREATE INDEX group_members_by_user ON group_members (app_id, uid);"
	"CREATE TABLE auth_tokens ("
	" hash TEXT NOT NULL PRIMARY KEY,"
	" app_id TEXT NOT NULL COLLATE BINARY,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL DEFAULT 0,"
	" FOREIGN KEY (app_id, uid) REFERENCES users (app_id, uid) ON DELETE CASCADE"
	") WITHOUT ROWID;"
	"CREATE INDEX auth_tokens_by_user ON auth_tokens (app_id, uid);",

	/* 2: the call rate limit setting, the call log and the per-user event log. Enums are
	 * stored by their contract names, so the file reads well in the sqlite3 shell. */
	"ALTER TABLE apps ADD COLUMN call_rate_limit INTEGER NOT NULL DEFAULT 30;"
	/* AUTOINCREMENT: an id is never reused, even after the newest call is deleted, so a
	 * list cursor (an id) always means the same place in the log. */
	"CREATE TABLE calls ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" app_id TEXT NOT NULL COLLATE BINARY REFERENCES apps (id) ON DELETE CASCADE,"
	" session_id TEXT NOT NULL COLLATE BINARY,"
	" category TEXT NOT NULL,"
	" type TEXT NOT NULL,"
	" receiver_type TEXT NOT NULL,"
	" initiator TEXT NOT NULL COLLATE BINARY,"
	" receiver TEXT NOT NULL COLLATE BINARY,"
	" status TEXT NOT NULL,"
	" initiated_at INTEGER NOT NULL,"
	" joined_at INTEGER NOT NULL DEFAULT 0,"
	" ended_at INTEGER NOT NULL DEFAULT 0,"
	" ring_deadline INTEGER NOT NULL DEFAULT 0,"
	" metadata TEXT NOT NULL DEFAULT '{}',"
	" initiator_name TEXT,"
	" receiver_name TEXT,"
	" has_recording INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (app_id, session_id)"
	");"
	/* An app's log, newest first; also the index the cascade from apps needs. */
	"CREATE INDEX calls_by_app ON calls (app_id, id);"
	/* Only the few live calls, for reconciliation at start. */
	"CREATE INDEX calls_active ON calls (status) WHERE status IN ('initiated', 'ongoing');"
	"CREATE TABLE call_participants ("
	" call_id INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,"
	" position INTEGER NOT NULL,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" state TEXT NOT NULL,"
	" initiator INTEGER NOT NULL,"
	" device TEXT NOT NULL DEFAULT '',"
	" joined_at INTEGER NOT NULL DEFAULT 0,"
	" left_at INTEGER NOT NULL DEFAULT 0,"
	" time_in INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (call_id, position)"
	") WITHOUT ROWID;"
	/* A user's log, newest first: walked backwards from a cursor, joined to calls for the
	 * app. Unique because a uid has one participant record per call. */
	"CREATE UNIQUE INDEX call_participants_by_user ON call_participants (uid, call_id);"
	/* The last seq given to each user; kept apart from events so that pruning never lets a
	 * seq be given twice. */
	"CREATE TABLE user_seq ("
	" app_id TEXT NOT NULL COLLATE BINARY,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" seq INTEGER NOT NULL,"
	" PRIMARY KEY (app_id, uid)"
	") WITHOUT ROWID;"
	"CREATE TABLE events ("
	" app_id TEXT NOT NULL COLLATE BINARY,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" seq INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" body TEXT NOT NULL,"
	" PRIMARY KEY (app_id, uid, seq)"
	") WITHOUT ROWID;"
	/* Pruning looks only at old events; without this it scanned the whole log. */
	"CREATE INDEX events_by_time ON events (created_at);",

	/* 3: VoIP push and webhooks. Tables with rowids: tokens (FCM's up to 4 KB), keys and
	 * payloads are too large for the rows of a WITHOUT ROWID table. */
	/* A token belongs to one user at a time: registered again, it moves (a phone that
	 * changed hands). device is the hash of the auth token that registered it. */
	"CREATE TABLE push_tokens ("
	" id INTEGER PRIMARY KEY,"
	" app_id TEXT NOT NULL COLLATE BINARY,"
	" platform TEXT NOT NULL,"
	" token TEXT NOT NULL COLLATE BINARY,"
	" uid TEXT NOT NULL COLLATE BINARY,"
	" production INTEGER NOT NULL,"
	" device TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" UNIQUE (app_id, platform, token),"
	" FOREIGN KEY (app_id, uid) REFERENCES users (app_id, uid) ON DELETE CASCADE"
	");"
	/* A callee's tokens at every ring; also the index the cascade from users needs. */
	"CREATE INDEX push_tokens_by_user ON push_tokens (app_id, uid);"
	/* Logout forgets what its device registered. */
	"CREATE INDEX push_tokens_by_device ON push_tokens (device);"
	/* One row per app that has settings; secrets as given, since the server signs with
	 * them. */
	"CREATE TABLE push_config ("
	" app_id TEXT NOT NULL COLLATE BINARY PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,"
	" push_always INTEGER NOT NULL DEFAULT 0,"
	" apns_team_id TEXT,"
	" apns_key_id TEXT,"
	" apns_key TEXT,"
	" apns_bundle_id TEXT,"
	" apns_production INTEGER NOT NULL DEFAULT 1,"
	" fcm_service_account TEXT,"
	" apns_url TEXT,"
	" fcm_url TEXT,"
	" oauth_url TEXT,"
	" ca_file TEXT,"
	" webhook_urls TEXT,"
	" webhook_secret TEXT"
	");"
	/* Messages to send. AUTOINCREMENT: ids only grow, so (next_at, id) orders retries
	 * fairly. The dedupe key makes adding an entry for a call event idempotent: an event
	 * written twice (a retried request, reconciliation after a crash) sends once. */
	"CREATE TABLE outbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" app_id TEXT NOT NULL COLLATE BINARY,"
	" kind TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" dedupe TEXT NOT NULL,"
	" payload TEXT NOT NULL,"
	" meta TEXT NOT NULL DEFAULT '{}',"
	" created_at INTEGER NOT NULL,"
	" next_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL DEFAULT 0,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (app_id, dedupe)"
	");"
	"CREATE INDEX outbox_by_next ON outbox (next_at);",
};

/* The SQL of each enum stmt_id. The row readers in sqlite_<area>.c read the columns in the
 * order these SELECTs list them. */
#define APP_COLS                                                                                   \
	"id, name, auth_key_hash, rest_key_hash, auth_key_login, ring_timeout, auto_busy, "        \
	"reconnect_grace, idle_timeout, max_participants, call_rate_limit, created_at"
#define USER_COLS "uid, name, avatar, metadata, created_at, updated_at"
#define GROUP_COLS "guid, name, created_at"
#define CALL_COLS                                                                                  \
	"c.id, c.app_id, c.session_id, c.category, c.type, c.receiver_type, c.initiator, "         \
	"c.receiver, c.status, c.initiated_at, c.joined_at, c.ended_at, c.ring_deadline, "         \
	"c.metadata, c.initiator_name, c.receiver_name, c.has_recording"
#define PART_COLS "uid, state, initiator, device, joined_at, left_at, time_in"
#define PUSH_TOKEN_COLS "uid, platform, token, production, device, created_at"
#define PUSH_CONFIG_COLS                                                                           \
	"push_always, apns_team_id, apns_key_id, apns_key, apns_bundle_id, apns_production, "      \
	"fcm_service_account, apns_url, fcm_url, oauth_url, ca_file, webhook_urls, "               \
	"webhook_secret"
#define OUTBOX_COLS                                                                                \
	"id, app_id, kind, target, dedupe, payload, meta, created_at, next_at, expires_at, "       \
	"attempts"

/* The filters of call_list, shared by its two statements so both bind the same parameters.
 * A NULL text, a negative has_recording or a zero direction disables a filter: one prepared
 * statement serves every combination. ?2 is the member (direction compares the initiator
 * with it), ?3 with_uid, ?4 guid, ?5 direction, ?6 type, ?7 status, ?8 category,
 * ?9 has_recording; ?1 app_id, ?10 before and ?11 the limit are in the statements. */
#define CALL_FILTERS                                                                               \
	" AND (?3 IS NULL OR EXISTS (SELECT 1 FROM call_participants w"                            \
	" WHERE w.uid = ?3 AND w.call_id = c.id))"                                                 \
	" AND (?4 IS NULL OR (c.receiver_type = 'group' AND c.receiver = ?4))"                     \
	" AND (?5 = 0 OR (?5 = 1 AND c.initiator <> ?2) OR (?5 = 2 AND c.initiator = ?2))"         \
	" AND (?6 IS NULL OR c.type = ?6) AND (?7 IS NULL OR c.status = ?7)"                       \
	" AND (?8 IS NULL OR c.category = ?8) AND (?9 < 0 OR c.has_recording = ?9)"

static const struct {
	const char *name; /* the op= of log lines */
	const char *sql;
} stmt_defs[S_COUNT] = {
	[S_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
	[S_COMMIT] = {"commit", "COMMIT"},
	[S_ROLLBACK] = {"rollback", "ROLLBACK"},
	[S_SAVEPOINT] = {"savepoint", "SAVEPOINT sq"},
	[S_RELEASE] = {"release", "RELEASE sq"},
	[S_ROLLBACK_TO] = {"rollback_to", "ROLLBACK TO sq"},
	[S_APP_INSERT] = {"app_create", "INSERT INTO apps (" APP_COLS ")"
					" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
	[S_APP_GET] = {"app_get", "SELECT " APP_COLS " FROM apps WHERE id = ?"},
	[S_APP_BY_REST_KEY] = {"app_find_by_rest_key",
			       "SELECT " APP_COLS " FROM apps WHERE rest_key_hash = ?"},
	[S_APP_SETTINGS] =
		{"app_set_settings",
		 "UPDATE apps SET auth_key_login = ?2, ring_timeout = ?3, auto_busy = ?4,"
		 " reconnect_grace = ?5, idle_timeout = ?6, max_participants = ?7,"
		 " call_rate_limit = ?8 WHERE id = ?1"},
	[S_APP_LIST] = {"app_list",
			"SELECT " APP_COLS " FROM apps WHERE id > ? ORDER BY id LIMIT ?"},
	[S_USER_INSERT] = {"user_create", "INSERT INTO users (app_id, " USER_COLS
					  ") VALUES (?, ?, ?, ?, ?, ?, ?)"},
	[S_USER_GET] = {"user_get", "SELECT " USER_COLS " FROM users WHERE app_id = ? AND uid = ?"},
	[S_USER_EXISTS] = {"user_exists", "SELECT 1 FROM users WHERE app_id = ? AND uid = ?"},
	/* One statement for every combination of fields: a flag chooses new value or old. */
	[S_USER_UPDATE] = {"user_update",
			   "UPDATE users SET name = CASE WHEN ?3 THEN ?4 ELSE name END,"
			   " avatar = CASE WHEN ?5 THEN ?6 ELSE avatar END,"
			   " metadata = CASE WHEN ?7 THEN ?8 ELSE metadata END,"
			   " updated_at = ?9 WHERE app_id = ?1 AND uid = ?2"},
	[S_USER_DELETE] = {"user_delete", "DELETE FROM users WHERE app_id = ? AND uid = ?"},
	[S_USER_LIST] = {"user_list", "SELECT " USER_COLS " FROM users"
				      " WHERE app_id = ? AND uid > ? ORDER BY uid LIMIT ?"},
	[S_GROUP_INSERT] = {"group_create", "INSERT INTO groups (app_id, " GROUP_COLS ")"
					    " VALUES (?, ?, ?, ?)"},
	[S_GROUP_GET] = {"group_get",
			 "SELECT " GROUP_COLS " FROM groups WHERE app_id = ? AND guid = ?"},
	[S_GROUP_EXISTS] = {"group_exists", "SELECT 1 FROM groups WHERE app_id = ? AND guid = ?"},
	[S_GROUP_DELETE] = {"group_delete", "DELETE FROM groups WHERE app_id = ? AND guid = ?"},
	[S_GROUP_LIST] = {"group_list", "SELECT " GROUP_COLS " FROM groups"
					" WHERE app_id = ? AND guid > ? ORDER BY guid LIMIT ?"},
	/* One user's groups: walks group_members_by_user, whose entries (app_id, uid) also
	 * carry the guid of the primary key, in guid order from the cursor to the limit. */
	[S_GROUP_LIST_MEMBER] = {"group_list_member",
				 "SELECT g.guid, g.name, g.created_at FROM group_members m"
				 " CROSS JOIN groups g ON g.app_id = m.app_id AND g.guid = m.guid"
				 " WHERE m.app_id = ? AND m.uid = ? AND m.guid > ?"
				 " ORDER BY m.guid LIMIT ?"},
	[S_MEMBER_LIST] = {"member_list", "SELECT uid FROM group_members"
					  " WHERE app_id = ? AND guid = ? ORDER BY uid"},
	[S_MEMBER_INSERT] = {"member_add", "INSERT OR IGNORE INTO group_members"
					   " (app_id, guid, uid) VALUES (?, ?, ?)"},
	[S_MEMBER_DELETE] = {"member_remove", "DELETE FROM group_members"
					      " WHERE app_id = ? AND guid = ? AND uid = ?"},
	[S_MEMBER_DELETE_USER] = {"member_remove_user",
				  "DELETE FROM group_members WHERE app_id = ? AND uid = ?"},
	[S_TOKEN_INSERT] = {"token_add", "INSERT INTO auth_tokens"
					 " (hash, app_id, uid, created_at, expires_at)"
					 " VALUES (?, ?, ?, ?, ?)"},
	[S_TOKEN_FIND] = {"token_find", "SELECT app_id, uid, created_at, expires_at"
					" FROM auth_tokens WHERE hash = ?"
					" AND (expires_at = 0 OR expires_at > ?)"},
	[S_TOKEN_REVOKE] = {"token_revoke", "DELETE FROM auth_tokens WHERE hash = ?"},
	[S_TOKEN_REVOKE_USER] = {"token_revoke_user",
				 "DELETE FROM auth_tokens WHERE app_id = ? AND uid = ?"},
	/* Insert and update bind the same sixteen parameters in the same order. */
	[S_CALL_INSERT] = {"call_create",
			   "INSERT INTO calls (app_id, session_id, category, type, receiver_type,"
			   " initiator, receiver, status, initiated_at, joined_at, ended_at,"
			   " ring_deadline, metadata, initiator_name, receiver_name, has_recording)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
			   " ?15, ?16)"},
	[S_CALL_UPDATE] = {"call_update",
			   "UPDATE calls SET category = ?3, type = ?4, receiver_type = ?5,"
			   " initiator = ?6, receiver = ?7, status = ?8, initiated_at = ?9,"
			   " joined_at = ?10, ended_at = ?11, ring_deadline = ?12, metadata = ?13,"
			   " initiator_name = ?14, receiver_name = ?15, has_recording = ?16"
			   " WHERE app_id = ?1 AND session_id = ?2 RETURNING id"},
	[S_CALL_GET] = {"call_get", "SELECT " CALL_COLS " FROM calls c"
				    " WHERE c.app_id = ? AND c.session_id = ?"},
	[S_CALL_LIST_APP] = {"call_list", "SELECT " CALL_COLS " FROM calls c"
					  " WHERE c.app_id = ?1 AND c.id < ?10" CALL_FILTERS
					  " ORDER BY c.id DESC LIMIT ?11"},
	/* CROSS JOIN fixes the join order: walk the member's index entries backwards from the
	 * cursor and stop at the limit, rather than scan the whole app's log. */
	[S_CALL_LIST_USER] = {"call_list_user",
			      "SELECT " CALL_COLS " FROM call_participants m"
			      " CROSS JOIN calls c ON c.id = m.call_id"
			      " WHERE m.uid = ?2 AND m.call_id < ?10 AND c.app_id = ?1" CALL_FILTERS
			      " ORDER BY m.call_id DESC LIMIT ?11"},
	/* The same condition as the partial index calls_active, so that it is used. */
	[S_CALL_LIST_ACTIVE] = {"call_list_active",
				"SELECT " CALL_COLS " FROM calls c"
				" WHERE c.status IN ('initiated', 'ongoing') ORDER BY c.id"},
	[S_PART_UPSERT] = {"participant_put",
			   "INSERT INTO call_participants (call_id, position, " PART_COLS ")"
			   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
			   " ON CONFLICT (call_id, position) DO UPDATE SET uid = excluded.uid,"
			   " state = excluded.state, initiator = excluded.initiator,"
			   " device = excluded.device, joined_at = excluded.joined_at,"
			   " left_at = excluded.left_at, time_in = excluded.time_in"},
	[S_PART_TRIM] = {"participant_trim",
			 "DELETE FROM call_participants WHERE call_id = ? AND position >= ?"},
	[S_PART_LIST] = {"participant_list", "SELECT " PART_COLS " FROM call_participants"
					     " WHERE call_id = ? ORDER BY position"},
	[S_SEQ_NEXT] = {"event_seq", "INSERT INTO user_seq (app_id, uid, seq) VALUES (?, ?, 1)"
				     " ON CONFLICT (app_id, uid) DO UPDATE SET seq = seq + 1"
				     " RETURNING seq"},
	[S_SEQ_GET] = {"event_last_seq", "SELECT seq FROM user_seq WHERE app_id = ? AND uid = ?"},
	[S_EVENT_INSERT] = {"event_append",
			    "INSERT INTO events (app_id, uid, seq, created_at, body)"
			    " VALUES (?, ?, ?, ?, ?)"},
	[S_EVENT_AFTER] = {"events_after",
			   "SELECT seq, created_at, body FROM events"
			   " WHERE app_id = ? AND uid = ? AND seq > ? ORDER BY seq LIMIT ?"},
	[S_EVENT_PRUNE] = {"events_prune",
			   "DELETE FROM events WHERE created_at < ?1 AND seq <= (SELECT s.seq"
			   " FROM user_seq s WHERE s.app_id = events.app_id AND s.uid = events.uid)"
			   " - ?2"},
	/* Registered again, a token moves to the new user and device; it keeps its age only
	 * while it stays with the same user. */
	[S_PUSH_TOKEN_PUT] = {"push_token_put",
			      "INSERT INTO push_tokens (app_id, " PUSH_TOKEN_COLS ")"
			      " VALUES (?, ?, ?, ?, ?, ?, ?)"
			      " ON CONFLICT (app_id, platform, token) DO UPDATE SET"
			      " created_at = CASE WHEN uid = excluded.uid THEN created_at"
			      " ELSE excluded.created_at END, uid = excluded.uid,"
			      " production = excluded.production, device = excluded.device"},
	[S_PUSH_TOKEN_GET] = {"push_token_get", "SELECT " PUSH_TOKEN_COLS " FROM push_tokens"
						" WHERE app_id = ? AND platform = ? AND token = ?"},
	[S_PUSH_TOKEN_DELETE] =
		{"push_token_delete",
		 "DELETE FROM push_tokens WHERE app_id = ? AND uid = ? AND token = ?"},
	[S_PUSH_TOKEN_FORGET] = {"push_token_forget",
				 "DELETE FROM push_tokens"
				 " WHERE app_id = ? AND platform = ? AND token = ?"},
	[S_PUSH_TOKENS_DEVICE] = {"push_tokens_delete_device",
				  "DELETE FROM push_tokens WHERE device = ?"},
	[S_PUSH_TOKENS_USER] = {"push_tokens_delete_user",
				"DELETE FROM push_tokens WHERE app_id = ? AND uid = ?"},
	[S_PUSH_TOKENS_OF] = {"push_tokens_of",
			      "SELECT " PUSH_TOKEN_COLS " FROM push_tokens"
			      " WHERE app_id = ? AND uid = ? ORDER BY created_at, id"},
	/* The app's row joined to its settings: no app, no row; an app without settings, a row
	 * of NULLs. */
	[S_PUSH_CONFIG_GET] = {"push_config_get",
			       "SELECT " PUSH_CONFIG_COLS " FROM apps a"
			       " LEFT JOIN push_config c ON c.app_id = a.id WHERE a.id = ?"},
	[S_PUSH_CONFIG_SET] =
		{"push_config_set",
		 "INSERT INTO push_config (app_id, " PUSH_CONFIG_COLS ")"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		 " ON CONFLICT (app_id) DO UPDATE SET push_always = excluded.push_always,"
		 " apns_team_id = excluded.apns_team_id, apns_key_id = excluded.apns_key_id,"
		 " apns_key = excluded.apns_key, apns_bundle_id = excluded.apns_bundle_id,"
		 " apns_production = excluded.apns_production,"
		 " fcm_service_account = excluded.fcm_service_account,"
		 " apns_url = excluded.apns_url, fcm_url = excluded.fcm_url,"
		 " oauth_url = excluded.oauth_url, ca_file = excluded.ca_file,"
		 " webhook_urls = excluded.webhook_urls, webhook_secret = excluded.webhook_secret"},
	[S_OUTBOX_INSERT] = {"outbox_add",
			     "INSERT INTO outbox (app_id, kind, target, dedupe, payload, meta,"
			     " created_at, next_at, expires_at, attempts)"
			     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
	[S_OUTBOX_DUE] = {"outbox_due", "SELECT " OUTBOX_COLS " FROM outbox"
					" WHERE next_at <= ? ORDER BY next_at, id LIMIT ?"},
	[S_OUTBOX_NEXT_AT] = {"outbox_next_at", "SELECT min(next_at) FROM outbox"},
	[S_OUTBOX_RETRY] = {"outbox_retry",
			    "UPDATE outbox SET next_at = ?, attempts = ? WHERE id = ?"},
	[S_OUTBOX_DELETE] = {"outbox_delete", "DELETE FROM outbox WHERE id = ?"},
	[S_OUTBOX_COUNT] = {"outbox_count", "SELECT count(*) FROM outbox"},
};

struct sqlite_store *sq_to_sqlite(struct cw_store *s)
{
	return (struct sqlite_store *)s;
}

int cw_store_schema_version(void)
{
	return (int)CW_ARRAY_SIZE(migrations);
}

const char *sq_str_or(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

/* Maps a failed result code of statement id to an errno, logging the unexpected ones.
 * Extended result codes tell a duplicate key from a missing parent row. */
static int db_error(struct sqlite_store *st, enum stmt_id id, int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	default:
		cw_error("store.sqlite", "op=%s err=\"%s\"", stmt_defs[id].name,
			 sqlite3_errmsg(st->db));
		return -EIO;
	}
}

void sq_reset(struct sqlite_store *st, enum stmt_id id)
{
	/* reset repeats the last step's error, which the caller has already handled.
	 * clear_bindings drops the SQLITE_STATIC pointers into the caller's strings. */
	sqlite3_reset(st->stmts[id]);
	sqlite3_clear_bindings(st->stmts[id]);
}

/* Binds the variadic arguments to statement id by type: 't' const char * (NULL binds SQL
 * NULL), 'i' int (bool promotes to it), 'l' int64_t. */
static int stmt_bindv(struct sqlite_store *st, enum stmt_id id, const char *types, va_list ap)
{
	sqlite3_stmt *stmt = st->stmts[id];
	const char *arg;
	int rc = SQLITE_OK;

	/* SQLite ends a transaction by itself on some failures (a full disk, an I/O error).
	 * Inside a batch, the writes that follow would then commit one by one behind the
	 * batch owner's back, so every statement fails until the owner ends the batch. */
	if (st->batch && sqlite3_get_autocommit(st->db)) {
		cw_error("store.sqlite", "op=%s err=\"the batch's transaction was rolled back\"",
			 stmt_defs[id].name);
		return -EIO;
	}
	/* A type string that does not match the statement is a bug; refuse it before reading
	 * arguments that may not be there. */
	if (strlen(types) != (size_t)sqlite3_bind_parameter_count(stmt)) {
		cw_error("store.sqlite", "op=%s err=\"%zu arguments for %d parameters\"",
			 stmt_defs[id].name, strlen(types), sqlite3_bind_parameter_count(stmt));
		return -EIO;
	}
	for (int i = 1; rc == SQLITE_OK && *types; i++, types++) {
		switch (*types) {
		case 't':
			arg = va_arg(ap, const char *);
			rc = sqlite3_bind_text(stmt, i, arg, -1, SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int(stmt, i, va_arg(ap, int));
			break;
		case 'l':
			rc = sqlite3_bind_int64(stmt, i, va_arg(ap, int64_t));
			break;
		default:
			rc = SQLITE_MISUSE;
			break;
		}
	}
	if (rc == SQLITE_OK)
		return 0;
	sq_reset(st, id);
	return db_error(st, id, rc);
}

int sq_bind(struct sqlite_store *st, enum stmt_id id, const char *types, ...)
{
	va_list ap;
	int err;

	va_start(ap, types);
	err = stmt_bindv(st, id, types, ap);
	va_end(ap);
	return err;
}

/* Returns 1 when a row is ready, 0 at the end, or a negative errno. */
int sq_step(struct sqlite_store *st, enum stmt_id id)
{
	int rc = sqlite3_step(st->stmts[id]);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(st, id, rc);
}

/* Binds, runs to completion and resets a statement that returns no rows. */
int sq_run(struct sqlite_store *st, enum stmt_id id, const char *types, ...)
{
	va_list ap;
	int err;

	va_start(ap, types);
	err = stmt_bindv(st, id, types, ap);
	va_end(ap);
	if (err)
		return err;
	err = sq_step(st, id);
	sq_reset(st, id);
	return err < 0 ? err : 0;
}

/* Passes err on, except that a write which changed no row means its target does not exist. */
int sq_changed(struct sqlite_store *st, int err)
{
	if (!err && sqlite3_changes(st->db) == 0)
		return -ENOENT;
	return err;
}

/* Whether the (app_id, key) row of an S_*_EXISTS statement exists: 1, 0 or a negative errno. */
int sq_exists(struct sqlite_store *st, enum stmt_id id, const char *app_id, const char *key)
{
	int err = sq_bind(st, id, "tt", app_id, key);

	if (err)
		return err;
	err = sq_step(st, id);
	sq_reset(st, id);
	return err;
}

/* Reads the single row of an already bound statement into item. */
int sq_get_one(struct sqlite_store *st, enum stmt_id id, sq_row_fn row, void *item)
{
	int err = sq_step(st, id);

	if (err == 0)
		err = -ENOENT;
	else if (err > 0)
		err = row(st->stmts[id], item);
	sq_reset(st, id);
	return err;
}

static int grow(char **arr, size_t *cap, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	char *p;

	if (ncap > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Reads up to limit rows of an already bound statement into a new array of items of the
 * given size; one row beyond limit only sets *morep. The array is never NULL on success, so
 * callers can tell an empty list from a failure without looking at *np. */
int sq_collect(struct sqlite_store *st, enum stmt_id id, size_t limit, size_t size, sq_row_fn row,
	       sq_release_fn release, void **outp, size_t *np, bool *morep)
{
	char *arr = NULL;
	size_t n = 0, cap = 0;
	bool more = false;
	int err;

	while ((err = sq_step(st, id)) > 0) {
		if (n == limit) {
			more = true;
			err = 0;
			break;
		}
		if (n == cap && (err = grow(&arr, &cap, size)))
			break;
		if ((err = row(st->stmts[id], arr + n * size)))
			break;
		n++;
	}
	sq_reset(st, id);
	if (!err && !arr && !(arr = calloc(1, size)))
		err = -ENOMEM;
	if (err) {
		for (size_t i = 0; release && i < n; i++)
			release(arr + i * size);
		free(arr);
		return err;
	}
	*outp = arr;
	*np = n;
	*morep = more;
	return 0;
}

/* The LIMIT of a list query: one more than asked, to learn whether more rows exist. */
int64_t sq_list_limit(size_t limit)
{
	return limit >= (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit + 1;
}

/* Inside a batch an op's writes must stay in the batch's transaction, so the op nests a
 * savepoint there: its failure undoes only its own writes, and the batch goes on. */
int sq_tx_begin(struct sqlite_store *st)
{
	int err;

	if (sqlite3_get_autocommit(st->db))
		return sq_run(st, S_BEGIN, "");
	if ((err = sq_run(st, S_SAVEPOINT, "")))
		return err;
	st->savepoints++;
	return 0;
}

/* Commits when err is 0, otherwise rolls back; returns the op's result. */
int sq_tx_end(struct sqlite_store *st, int err)
{
	if (st->savepoints > 0) {
		st->savepoints--;
		if (!err && !(err = sq_run(st, S_RELEASE, "")))
			return 0;
		/* ROLLBACK TO undoes the op's writes but leaves the savepoint in place; RELEASE
		 * then removes it. Neither applies when SQLite has already rolled back the whole
		 * transaction, which the batch reports at its end. */
		if (!sqlite3_get_autocommit(st->db)) {
			sq_run(st, S_ROLLBACK_TO, "");
			sq_run(st, S_RELEASE, "");
		}
		return err;
	}
	if (!err && !(err = sq_run(st, S_COMMIT, "")))
		return 0;
	/* Some errors end the transaction by themselves; only roll back one still open, so
	 * the next op does not run inside it. */
	if (!sqlite3_get_autocommit(st->db))
		sq_run(st, S_ROLLBACK, "");
	return err;
}

/* Column readers. The columns copied into fixed buffers are NOT NULL, so a NULL pointer
 * from sqlite3_column_text can only mean SQLite ran out of memory converting the value. */
int sq_col_copy(sqlite3_stmt *stmt, int i, char *buf, size_t size)
{
	const unsigned char *text = sqlite3_column_text(stmt, i);

	if (!text)
		return -ENOMEM;
	cw_strlcpy(buf, (const char *)text, size);
	return 0;
}

int sq_col_dup(sqlite3_stmt *stmt, int i, char **out)
{
	const unsigned char *text;

	/* Ask for the type first: it is undefined once column_text has converted the value. */
	*out = NULL;
	if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
		return 0;
	text = sqlite3_column_text(stmt, i);
	if (!text || !(*out = strdup((const char *)text)))
		return -ENOMEM;
	return 0;
}

/* Group commit. The batch is tracked apart from sqlite3_get_autocommit so that a transaction
 * SQLite rolled back on its own is noticed (see stmt_bindv) instead of silently ending it. */
static int sqlite_batch_begin(struct cw_store *s)
{
	struct sqlite_store *st = sq_to_sqlite(s);
	int err;

	if (st->batch)
		return 0;
	if ((err = sq_run(st, S_BEGIN, "")))
		return err;
	st->batch = true;
	return 0;
}

static int sqlite_batch_commit(struct cw_store *s)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	if (!st->batch)
		return 0;
	st->batch = false;
	if (sqlite3_get_autocommit(st->db)) {
		cw_error("store.sqlite",
			 "op=commit err=\"the batch's transaction was rolled back\"");
		return -EIO;
	}
	if (sq_run(st, S_COMMIT, "") == 0)
		return 0;
	if (!sqlite3_get_autocommit(st->db))
		sq_run(st, S_ROLLBACK, "");
	return -EIO;
}

static void sqlite_batch_rollback(struct cw_store *s)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	if (!st->batch)
		return;
	st->batch = false;
	if (!sqlite3_get_autocommit(st->db))
		sq_run(st, S_ROLLBACK, "");
}

static bool sqlite_batch_open(struct cw_store *s)
{
	return sq_to_sqlite(s)->batch;
}

/* A batch still open is rolled back by sqlite3_close: what was not committed is lost. */
static void sqlite_close(struct cw_store *s)
{
	struct sqlite_store *st = sq_to_sqlite(s);

	for (size_t i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	/* Fails only while statements are live, which would be a bug here; say so. */
	if (sqlite3_close(st->db) != SQLITE_OK)
		cw_error("store.sqlite", "op=close err=\"%s\"", sqlite3_errmsg(st->db));
	free(st);
}

static const struct cw_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.app_create = sqlite_app_create,
	.app_get = sqlite_app_get,
	.app_find_by_rest_key = sqlite_app_find_by_rest_key,
	.app_set_settings = sqlite_app_set_settings,
	.app_list = sqlite_app_list,
	.user_create = sqlite_user_create,
	.user_get = sqlite_user_get,
	.user_update = sqlite_user_update,
	.user_delete = sqlite_user_delete,
	.user_list = sqlite_user_list,
	.group_create = sqlite_group_create,
	.group_get = sqlite_group_get,
	.group_delete = sqlite_group_delete,
	.group_list = sqlite_group_list,
	.group_add_members = sqlite_group_add_members,
	.group_remove_member = sqlite_group_remove_member,
	.token_add = sqlite_token_add,
	.token_find = sqlite_token_find,
	.token_revoke = sqlite_token_revoke,
	.token_revoke_user = sqlite_token_revoke_user,
	.call_create = sqlite_call_create,
	.call_update = sqlite_call_update,
	.call_get = sqlite_call_get,
	.call_list = sqlite_call_list,
	.call_list_active = sqlite_call_list_active,
	.event_append = sqlite_event_append,
	.events_after = sqlite_events_after,
	.event_last_seq = sqlite_event_last_seq,
	.events_prune = sqlite_events_prune,
	.batch_begin = sqlite_batch_begin,
	.batch_commit = sqlite_batch_commit,
	.batch_rollback = sqlite_batch_rollback,
	.batch_open = sqlite_batch_open,
	.push = &sqlite_push_ops,
};

static int exec(struct sqlite_store *st, const char *op, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	cw_error("store.sqlite", "op=%s err=\"%s\"", op, sqlite3_errmsg(st->db));
	return -EIO;
}

/* Runs a PRAGMA that answers one row and copies its first column into buf. */
static int pragma(struct sqlite_store *st, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *stmt = NULL;
	int err = -EIO;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		cw_error("store.sqlite", "op=pragma err=\"%s\"", sqlite3_errmsg(st->db));
		goto out;
	}
	err = sq_col_copy(stmt, 0, buf, size);
out:
	sqlite3_finalize(stmt);
	return err;
}

static int prepare(struct sqlite_store *st, enum stmt_id from, enum stmt_id to)
{
	for (enum stmt_id id = from; id < to; id++) {
		if (sqlite3_prepare_v3(st->db, stmt_defs[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
				       &st->stmts[id], NULL) != SQLITE_OK) {
			cw_error("store.sqlite", "op=prepare stmt=%s err=\"%s\"",
				 stmt_defs[id].name, sqlite3_errmsg(st->db));
			return -EIO;
		}
	}
	return 0;
}

/* Applies the next migration, if any, in its own transaction. The version is read inside
 * the write transaction so that two processes opening one file at once cannot both apply
 * the same migration. */
static int migrate_one(struct sqlite_store *st, bool *done)
{
	const int latest = cw_store_schema_version();
	char buf[48];
	int err, version;

	if ((err = sq_tx_begin(st)))
		return err;
	if ((err = pragma(st, "PRAGMA user_version", buf, sizeof(buf))))
		goto out;
	version = atoi(buf);
	if (version < 0 || version > latest) {
		/* An older build must not write to a schema it does not understand. */
		cw_error("store.sqlite",
			 "op=migrate err=\"unknown schema version %d, latest is %d\"", version,
			 latest);
		err = -ENOTSUP;
		goto out;
	}
	if (version == latest) {
		*done = true;
		goto out;
	}
	if ((err = exec(st, "migrate", migrations[version])))
		goto out;
	/* PRAGMA takes no parameters, so the number is formatted into the statement. */
	snprintf(buf, sizeof(buf), "PRAGMA user_version = %d", version + 1);
	if ((err = exec(st, "migrate", buf)))
		goto out;
	cw_info("store.sqlite", "op=migrate version=%d", version + 1);
out:
	return sq_tx_end(st, err);
}

static int migrate(struct sqlite_store *st)
{
	bool done = false;
	int err = 0;

	while (!done && !err)
		err = migrate_one(st, &done);
	return err;
}

static int configure(struct sqlite_store *st)
{
	char mode[16];
	int err;

	sqlite3_extended_result_codes(st->db, 1);
	/* Another process (the admin command) may hold the write lock for a moment. */
	sqlite3_busy_timeout(st->db, 5000);
	if ((err = pragma(st, "PRAGMA journal_mode = WAL", mode, sizeof(mode))))
		return err;
	/* WAL is for concurrent readers, not correctness, so a file system without it is
	 * worth a warning rather than a refusal. */
	if (strcmp(mode, "wal") != 0)
		cw_warn("store.sqlite", "op=open journal_mode=%s", mode);
	/* In WAL mode, NORMAL may lose the last commits on power loss; FULL syncs the log on
	 * every commit, so whatever the server acknowledged survives a crash. */
	if ((err = exec(st, "open", "PRAGMA synchronous = FULL")))
		return err;
	/* Each store operation inside a batch is a savepoint, whose statement journal would
	 * otherwise be a temporary file written on every operation. An 8 MB page cache (the
	 * default is 2 MB) holds a batch's pages without spilling them mid-batch; a larger
	 * one grew the server's memory more than it saved (BENCHMARKS.md). */
	if ((err = exec(st, "open", "PRAGMA temp_store = MEMORY")) ||
	    (err = exec(st, "open", "PRAGMA cache_size = -8192")))
		return err;
	/* Checkpoints stay SQLite's automatic ones (every 1,000 pages) on the loop thread:
	 * a checkpoint thread measured +30 % cycles/s but a 5x worse p99 ring latency, its
	 * database fsyncs queueing the commits' WAL fsyncs (BENCHMARKS.md). */
	/* Off by default on every connection, and group deletion relies on its cascade. */
	return exec(st, "open", "PRAGMA foreign_keys = ON");
}

int cw_store_sqlite_open(struct cw_store **sp, const char *path)
{
	struct sqlite_store *st;
	int err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->base.ops = &sqlite_ops;
	/* NOMUTEX: one thread owns the store, so SQLite's own locking would be wasted. */
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		cw_error("store.sqlite", "op=open err=\"%s\"", sqlite3_errmsg(st->db));
		err = -EIO;
		goto out;
	}
	if ((err = configure(st)) || (err = prepare(st, 0, S_TX_END)) || (err = migrate(st)) ||
	    (err = prepare(st, S_TX_END, S_COUNT)))
		goto out;
	*sp = &st->base;
out:
	if (err)
		sqlite_close(&st->base);
	return err;
}
