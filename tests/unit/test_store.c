/* Unit tests of the SQLite store: each test runs against a fresh database file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

#include "store_fixture.h"

static void fill_app(struct cw_app *app, const char *id)
{
	memset(app, 0, sizeof(*app));
	cw_strlcpy(app->id, id, sizeof(app->id));
	app->name = (char *)"Test app";
	memset(app->auth_key_hash, 'a', CW_HASH_HEX);
	/* REST keys identify their app, so each app gets its own hash. */
	cw_sha256_hex(id, strlen(id), app->rest_key_hash);
	cw_settings_default(&app->settings);
	app->created_at = 1700000000000;
}

static void add_app(struct cw_store *s, const char *id)
{
	struct cw_app app;

	fill_app(&app, id);
	assert_int_equal(cw_store_app_create(s, &app), 0);
}

static void fill_user(struct cw_user *user, const char *uid)
{
	memset(user, 0, sizeof(*user));
	cw_strlcpy(user->uid, uid, sizeof(user->uid));
	user->name = (char *)uid;
	user->created_at = 1700000000001;
	user->updated_at = 1700000000001;
}

static void add_user(struct cw_store *s, const char *app_id, const char *uid)
{
	struct cw_user user;

	fill_user(&user, uid);
	assert_int_equal(cw_store_user_create(s, app_id, &user), 0);
}

static void add_token(struct cw_store *s, const char *hash, const char *app_id, const char *uid,
		      int64_t expires_at)
{
	struct cw_token t = {.created_at = 1700000000002, .expires_at = expires_at};

	cw_strlcpy(t.app_id, app_id, sizeof(t.app_id));
	cw_strlcpy(t.uid, uid, sizeof(t.uid));
	assert_int_equal(cw_store_token_add(s, hash, &t), 0);
}

/* A group whose members point into a caller-owned array. */
static void fill_group(struct cw_group *g, const char *guid, char (*members)[CW_UID_MAX + 1],
		       size_t n)
{
	memset(g, 0, sizeof(*g));
	cw_strlcpy(g->guid, guid, sizeof(g->guid));
	g->name = (char *)"Group";
	g->created_at = 1700000000003;
	g->members = members;
	g->n_members = n;
}

static void assert_members(struct cw_store *s, const char *app_id, const char *guid,
			   const char *const *want, size_t n)
{
	struct cw_group g;

	assert_int_equal(cw_store_group_get(s, app_id, guid, &g), 0);
	assert_int_equal(g.n_members, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(g.members[i], want[i]);
	cw_group_free(&g);
}

/* Field by field: the struct has padding, so memcmp would compare garbage. */
static void assert_settings_equal(const struct cw_settings *a, const struct cw_settings *b)
{
	assert_int_equal(a->auth_key_login, b->auth_key_login);
	assert_int_equal(a->ring_timeout, b->ring_timeout);
	assert_int_equal(a->auto_busy, b->auto_busy);
	assert_int_equal(a->reconnect_grace, b->reconnect_grace);
	assert_int_equal(a->idle_timeout, b->idle_timeout);
	assert_int_equal(a->max_participants, b->max_participants);
}

/* Reads a one-row PRAGMA through a connection of its own, bypassing the store. */
static void raw_pragma(const char *path, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *stmt;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	cw_strlcpy(buf, (const char *)sqlite3_column_text(stmt, 0), size);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static int raw_user_version(const char *path)
{
	char buf[32];

	raw_pragma(path, "PRAGMA user_version", buf, sizeof(buf));
	return atoi(buf);
}

static void test_reopen_keeps_data_at_current_schema_version(void **state)
{
	struct fixture *f = *state;
	char members[1][CW_UID_MAX + 1] = {"alice"};
	struct cw_group g;
	struct cw_app app;
	struct cw_user user;
	struct cw_token tok;
	char mode[16];

	assert_true(cw_store_schema_version() >= 1);
	add_app(f->s, "app1");
	add_user(f->s, "app1", "alice");
	fill_group(&g, "team", members, 1);
	assert_int_equal(cw_store_group_create(f->s, "app1", &g, NULL), 0);
	add_token(f->s, "h1", "app1", "alice", 0);

	reopen(state);
	assert_int_equal(raw_user_version(f->path), cw_store_schema_version());
	raw_pragma(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(cw_store_app_get(f->s, "app1", &app), 0);
	assert_string_equal(app.name, "Test app");
	cw_app_free(&app);
	assert_int_equal(cw_store_user_get(f->s, "app1", "alice", &user), 0);
	cw_user_free(&user);
	assert_members(f->s, "app1", "team", (const char *[]){"alice"}, 1);
	assert_int_equal(cw_store_token_find(f->s, "h1", 1, &tok), 0);
	assert_string_equal(tok.uid, "alice");
}

static void test_open_refuses_database_with_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct cw_store *s = NULL;
	char sql[64];
	sqlite3 *db;

	cw_store_close(f->s);
	f->s = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", cw_store_schema_version() + 1);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(cw_store_sqlite_open(&s, f->path), -ENOTSUP);
	assert_null(s);
	/* Refusing must not touch the version either. */
	assert_int_equal(raw_user_version(f->path), cw_store_schema_version() + 1);
}

static void test_open_fails_on_file_that_is_not_a_database(void **state)
{
	struct fixture *f = *state;
	struct cw_store *s = NULL;
	char path[320];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite database, not even close to one.........\n", fp);
	fclose(fp);
	assert_int_equal(cw_store_sqlite_open(&s, path), -EIO);
	assert_null(s);
	unlink(path);
}

static void test_app_create_then_get_returns_every_field(void **state)
{
	struct cw_store *s = store(state);
	struct cw_app in, out;

	fill_app(&in, "app1");
	in.settings.auth_key_login = false;
	in.settings.ring_timeout = 12;
	in.settings.auto_busy = false;
	in.settings.reconnect_grace = 7;
	in.settings.idle_timeout = 0;
	in.settings.max_participants = 3;
	assert_int_equal(cw_store_app_create(s, &in), 0);
	assert_int_equal(cw_store_app_get(s, "app1", &out), 0);
	assert_string_equal(out.id, "app1");
	assert_string_equal(out.name, "Test app");
	assert_string_equal(out.auth_key_hash, in.auth_key_hash);
	assert_string_equal(out.rest_key_hash, in.rest_key_hash);
	assert_settings_equal(&out.settings, &in.settings);
	assert_int_equal(out.created_at, in.created_at);
	cw_app_free(&out);
}

static void test_app_create_duplicate_id_is_eexist(void **state)
{
	struct cw_store *s = store(state);
	struct cw_app app;

	add_app(s, "app1");
	fill_app(&app, "app1");
	app.name = (char *)"Other";
	assert_int_equal(cw_store_app_create(s, &app), -EEXIST);
	assert_int_equal(cw_store_app_get(s, "app1", &app), 0);
	assert_string_equal(app.name, "Test app");
	cw_app_free(&app);
}

static void test_app_is_found_by_its_rest_key_hash_only(void **state)
{
	struct cw_store *s = store(state);
	char hash[CW_HASH_HEX + 1];
	struct cw_app app;

	add_app(s, "app1");
	add_app(s, "app2");
	cw_sha256_hex("app2", 4, hash);
	assert_int_equal(cw_store_app_find_by_rest_key(s, hash, &app), 0);
	assert_string_equal(app.id, "app2");
	cw_app_free(&app);
	cw_sha256_hex("app3", 4, hash);
	assert_int_equal(cw_store_app_find_by_rest_key(s, hash, &app), -ENOENT);
}

static void test_app_get_missing_is_enoent_and_leaves_out_untouched(void **state)
{
	struct cw_app out;

	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(cw_store_app_get(store(state), "nope", &out), -ENOENT);
	assert_int_equal(out.id[0], 0x5a);
}

static void test_app_set_settings_replaces_settings_only(void **state)
{
	struct cw_store *s = store(state);
	struct cw_settings set;
	struct cw_app out;

	add_app(s, "app1");
	cw_settings_default(&set);
	set.ring_timeout = 99;
	set.auto_busy = false;
	set.max_participants = 2;
	assert_int_equal(cw_store_app_set_settings(s, "app1", &set), 0);
	assert_int_equal(cw_store_app_get(s, "app1", &out), 0);
	assert_settings_equal(&out.settings, &set);
	assert_string_equal(out.name, "Test app");
	cw_app_free(&out);
	assert_int_equal(cw_store_app_set_settings(s, "nope", &set), -ENOENT);
}

static void test_app_list_pages_in_id_order(void **state)
{
	struct cw_store *s = store(state);
	struct cw_app *apps;
	size_t n;
	bool more;

	add_app(s, "c");
	add_app(s, "a");
	add_app(s, "b");
	assert_int_equal(cw_store_app_list(s, NULL, 2, &apps, &n, &more), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	assert_string_equal(apps[0].id, "a");
	assert_string_equal(apps[1].id, "b");
	assert_string_equal(apps[1].name, "Test app");
	cw_apps_free(apps, n);
	assert_int_equal(cw_store_app_list(s, "b", 2, &apps, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(apps[0].id, "c");
	cw_apps_free(apps, n);
	assert_int_equal(cw_store_app_list(s, "c", 2, &apps, &n, &more), 0);
	assert_int_equal(n, 0);
	assert_false(more);
	cw_apps_free(apps, n);
}

static void test_user_create_then_get_defaults_metadata_and_avatar(void **state)
{
	struct cw_store *s = store(state);
	struct cw_user in, out;

	add_app(s, "app1");
	fill_user(&in, "alice");
	in.name = (char *)"Alice";
	in.created_at = 5;
	in.updated_at = 6;
	assert_int_equal(cw_store_user_create(s, "app1", &in), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &out), 0);
	assert_string_equal(out.uid, "alice");
	assert_string_equal(out.name, "Alice");
	assert_null(out.avatar);
	assert_string_equal(out.metadata, "{}");
	assert_int_equal(out.created_at, 5);
	assert_int_equal(out.updated_at, 6);
	cw_user_free(&out);
}

static void test_user_create_duplicate_is_eexist(void **state)
{
	struct cw_store *s = store(state);
	struct cw_user user;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	fill_user(&user, "alice");
	assert_int_equal(cw_store_user_create(s, "app1", &user), -EEXIST);
}

static void test_user_create_in_missing_app_is_enoent(void **state)
{
	struct cw_user user;

	fill_user(&user, "alice");
	assert_int_equal(cw_store_user_create(store(state), "nope", &user), -ENOENT);
}

static void test_same_uid_in_two_apps_is_two_users(void **state)
{
	struct cw_store *s = store(state);
	struct cw_user user;

	add_app(s, "app1");
	add_app(s, "app2");
	add_user(s, "app1", "alice");
	add_user(s, "app2", "alice");
	assert_int_equal(cw_store_user_delete(s, "app1", "alice"), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &user), -ENOENT);
	assert_int_equal(cw_store_user_get(s, "app2", "alice", &user), 0);
	cw_user_free(&user);
}

static void test_user_update_changes_only_flagged_fields(void **state)
{
	struct cw_store *s = store(state);
	struct cw_user in, out;

	add_app(s, "app1");
	fill_user(&in, "alice");
	in.name = (char *)"Alice";
	in.avatar = (char *)"https://a/1.png";
	in.metadata = (char *)"{\"k\":1}";
	assert_int_equal(cw_store_user_create(s, "app1", &in), 0);

	in.name = (char *)"Alicia";
	in.avatar = (char *)"https://a/2.png";
	in.metadata = (char *)"{\"k\":2}";
	in.updated_at = 100;
	assert_int_equal(cw_store_user_update(s, "app1", &in, CW_USER_NAME), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &out), 0);
	assert_string_equal(out.name, "Alicia");
	assert_string_equal(out.avatar, "https://a/1.png");
	assert_string_equal(out.metadata, "{\"k\":1}");
	assert_int_equal(out.updated_at, 100);
	assert_int_equal(out.created_at, 1700000000001);
	cw_user_free(&out);

	in.updated_at = 200;
	assert_int_equal(cw_store_user_update(s, "app1", &in, CW_USER_AVATAR), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &out), 0);
	assert_string_equal(out.avatar, "https://a/2.png");
	assert_string_equal(out.metadata, "{\"k\":1}");
	assert_int_equal(out.updated_at, 200);
	cw_user_free(&out);

	in.updated_at = 300;
	assert_int_equal(cw_store_user_update(s, "app1", &in, CW_USER_METADATA), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &out), 0);
	assert_string_equal(out.name, "Alicia");
	assert_string_equal(out.avatar, "https://a/2.png");
	assert_string_equal(out.metadata, "{\"k\":2}");
	assert_int_equal(out.updated_at, 300);
	cw_user_free(&out);

	/* A NULL avatar under its flag clears it. */
	in.avatar = NULL;
	assert_int_equal(cw_store_user_update(s, "app1", &in, CW_USER_AVATAR), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &out), 0);
	assert_null(out.avatar);
	cw_user_free(&out);
}

static void test_user_update_missing_user_is_enoent(void **state)
{
	struct cw_user user;

	add_app(store(state), "app1");
	fill_user(&user, "ghost");
	assert_int_equal(cw_store_user_update(store(state), "app1", &user, CW_USER_NAME), -ENOENT);
}

static void test_user_delete_takes_tokens_and_memberships(void **state)
{
	struct cw_store *s = store(state);
	char members[2][CW_UID_MAX + 1] = {"alice", "bob"};
	struct cw_group g;
	struct cw_user user;
	struct cw_token tok;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	fill_group(&g, "team", members, 2);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	add_token(s, "ha", "app1", "alice", 0);
	add_token(s, "hb", "app1", "bob", 0);

	assert_int_equal(cw_store_user_delete(s, "app1", "alice"), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "alice", &user), -ENOENT);
	assert_int_equal(cw_store_token_find(s, "ha", 1, &tok), -ENOENT);
	assert_int_equal(cw_store_token_find(s, "hb", 1, &tok), 0);
	assert_members(s, "app1", "team", (const char *[]){"bob"}, 1);
	assert_int_equal(cw_store_user_delete(s, "app1", "alice"), -ENOENT);

	/* The uid is free again, with no token or membership left over from before. */
	add_user(s, "app1", "alice");
	assert_int_equal(cw_store_token_find(s, "ha", 1, &tok), -ENOENT);
	assert_members(s, "app1", "team", (const char *[]){"bob"}, 1);
}

static void test_user_list_pages_of_three_cover_seven_users_once(void **state)
{
	struct cw_store *s = store(state);
	const char *uids[] = {"u5", "u1", "u7", "u3", "u2", "u6", "u4"};
	const size_t want_n[] = {3, 3, 1};
	const bool want_more[] = {true, true, false};
	char after[CW_UID_MAX + 1] = "";
	struct cw_user *users;
	size_t n, seen = 0;
	bool more;

	add_app(s, "app1");
	for (size_t i = 0; i < CW_ARRAY_SIZE(uids); i++)
		add_user(s, "app1", uids[i]);
	for (size_t page = 0; page < 3; page++) {
		assert_int_equal(cw_store_user_list(s, "app1", after, 3, &users, &n, &more), 0);
		assert_int_equal(n, want_n[page]);
		assert_int_equal(more, want_more[page]);
		for (size_t i = 0; i < n; i++) {
			char want[8];

			snprintf(want, sizeof(want), "u%zu", ++seen);
			assert_string_equal(users[i].uid, want);
			assert_string_equal(users[i].name, want);
			assert_string_equal(users[i].metadata, "{}");
		}
		cw_strlcpy(after, users[n - 1].uid, sizeof(after));
		cw_users_free(users, n);
	}
	assert_int_equal(seen, 7);
}

static void test_uids_differing_in_case_are_two_users(void **state)
{
	struct cw_store *s = store(state);
	struct cw_user *users, user;
	size_t n;
	bool more;

	add_app(s, "app1");
	add_user(s, "app1", "bob");
	add_user(s, "app1", "Bob");
	assert_int_equal(cw_store_user_list(s, "app1", NULL, 10, &users, &n, &more), 0);
	assert_int_equal(n, 2);
	assert_string_equal(users[0].uid, "Bob"); /* byte order: 'B' < 'b' */
	assert_string_equal(users[1].uid, "bob");
	cw_users_free(users, n);
	assert_int_equal(cw_store_user_delete(s, "app1", "BOB"), -ENOENT);
	assert_int_equal(cw_store_user_delete(s, "app1", "Bob"), 0);
	assert_int_equal(cw_store_user_get(s, "app1", "bob", &user), 0);
	cw_user_free(&user);
}

static void test_group_create_stores_members_ascending(void **state)
{
	struct cw_store *s = store(state);
	char members[3][CW_UID_MAX + 1] = {"carol", "alice", "carol"};
	struct cw_group g, out;
	size_t bad = 0;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "carol");
	fill_group(&g, "team", members, 3);
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), 0);
	assert_int_equal(cw_store_group_get(s, "app1", "team", &out), 0);
	assert_string_equal(out.guid, "team");
	assert_string_equal(out.name, "Group");
	assert_int_equal(out.created_at, g.created_at);
	assert_int_equal(out.n_members, 2);
	assert_string_equal(out.members[0], "alice");
	assert_string_equal(out.members[1], "carol");
	cw_group_free(&out);
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), -EEXIST);
}

static void test_group_create_with_unknown_member_writes_nothing(void **state)
{
	struct cw_store *s = store(state);
	char members[3][CW_UID_MAX + 1] = {"alice", "ghost", "nobody"};
	struct cw_group g, out;
	size_t bad = 0;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	fill_group(&g, "team", members, 3);
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), -ENOENT);
	assert_int_equal(bad, 1);
	assert_int_equal(cw_store_group_get(s, "app1", "team", &out), -ENOENT);
	/* Nothing half-written blocks a correct retry. */
	g.n_members = 1;
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), 0);
	assert_members(s, "app1", "team", (const char *[]){"alice"}, 1);
}

static void test_group_create_in_missing_app_is_enoent_without_index(void **state)
{
	struct cw_group g;
	size_t bad = 0;

	fill_group(&g, "team", NULL, 0);
	assert_int_equal(cw_store_group_create(store(state), "nope", &g, &bad), -ENOENT);
	assert_int_equal(bad, (size_t)-1);
}

static void test_group_add_members_is_idempotent_and_atomic(void **state)
{
	struct cw_store *s = store(state);
	char first[1][CW_UID_MAX + 1] = {"alice"};
	char again[2][CW_UID_MAX + 1] = {"bob", "alice"};
	char partly[2][CW_UID_MAX + 1] = {"carol", "ghost"};
	struct cw_group g;
	size_t bad = 0;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	add_user(s, "app1", "carol");
	fill_group(&g, "team", first, 1);
	assert_int_equal(cw_store_group_create(s, "app1", &g, &bad), 0);

	assert_int_equal(cw_store_group_add_members(s, "app1", "team", again, 2, &bad), 0);
	assert_int_equal(cw_store_group_add_members(s, "app1", "team", again, 2, &bad), 0);
	assert_members(s, "app1", "team", (const char *[]){"alice", "bob"}, 2);

	assert_int_equal(cw_store_group_add_members(s, "app1", "team", partly, 2, &bad), -ENOENT);
	assert_int_equal(bad, 1);
	assert_members(s, "app1", "team", (const char *[]){"alice", "bob"}, 2);

	assert_int_equal(cw_store_group_add_members(s, "app1", "nogroup", again, 2, &bad), -ENOENT);
	assert_int_equal(bad, (size_t)-1);
}

static void test_group_remove_member_and_non_member(void **state)
{
	struct cw_store *s = store(state);
	char members[2][CW_UID_MAX + 1] = {"alice", "bob"};
	struct cw_group g;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	add_user(s, "app1", "carol");
	fill_group(&g, "team", members, 2);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);

	assert_int_equal(cw_store_group_remove_member(s, "app1", "team", "alice"), 0);
	assert_members(s, "app1", "team", (const char *[]){"bob"}, 1);
	assert_int_equal(cw_store_group_remove_member(s, "app1", "team", "alice"), -ENOENT);
	assert_int_equal(cw_store_group_remove_member(s, "app1", "team", "carol"), -ENOENT);
	assert_int_equal(cw_store_group_remove_member(s, "app1", "nogroup", "bob"), -ENOENT);
	/* The user outlives the membership. */
	assert_int_equal(cw_store_user_delete(s, "app1", "alice"), 0);
}

static void test_group_delete_drops_its_memberships(void **state)
{
	struct cw_store *s = store(state);
	char members[1][CW_UID_MAX + 1] = {"alice"};
	struct cw_group g;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	fill_group(&g, "team", members, 1);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	assert_int_equal(cw_store_group_delete(s, "app1", "team"), 0);
	assert_int_equal(cw_store_group_delete(s, "app1", "team"), -ENOENT);

	/* A group recreated under the same guid starts empty. */
	g.n_members = 0;
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	assert_members(s, "app1", "team", NULL, 0);
}

static void test_group_list_pages_with_members(void **state)
{
	struct cw_store *s = store(state);
	char ab[2][CW_UID_MAX + 1] = {"bob", "alice"};
	struct cw_group g, *groups;
	size_t n;
	bool more;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	fill_group(&g, "g2", ab, 2);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	fill_group(&g, "g1", ab, 1);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	fill_group(&g, "g3", NULL, 0);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);

	assert_int_equal(cw_store_group_list(s, "app1", NULL, "", 2, &groups, &n, &more), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	assert_string_equal(groups[0].guid, "g1");
	assert_int_equal(groups[0].n_members, 1);
	assert_string_equal(groups[0].members[0], "bob");
	assert_string_equal(groups[1].guid, "g2");
	assert_int_equal(groups[1].n_members, 2);
	assert_string_equal(groups[1].members[0], "alice");
	assert_string_equal(groups[1].members[1], "bob");
	cw_groups_free(groups, n);

	assert_int_equal(cw_store_group_list(s, "app1", NULL, "g2", 2, &groups, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(groups[0].guid, "g3");
	assert_int_equal(groups[0].n_members, 0);
	cw_groups_free(groups, n);
}

static void test_group_list_of_a_member_pages_through_their_groups_only(void **state)
{
	struct cw_store *s = store(state);
	char ab[2][CW_UID_MAX + 1] = {"alice", "bob"};
	struct cw_group g, *groups;
	size_t n;
	bool more;

	add_app(s, "app1");
	add_app(s, "app2");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	add_user(s, "app2", "alice");
	fill_group(&g, "g1", ab + 1, 1);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	fill_group(&g, "g2", ab, 2);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	fill_group(&g, "g3", NULL, 0);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	fill_group(&g, "g4", ab, 1);
	assert_int_equal(cw_store_group_create(s, "app1", &g, NULL), 0);
	/* The same uid in another app, in a group that sorts first. */
	fill_group(&g, "g0", ab, 1);
	assert_int_equal(cw_store_group_create(s, "app2", &g, NULL), 0);

	/* alice is in g2 and g4; each group comes with all its members. */
	assert_int_equal(cw_store_group_list(s, "app1", "alice", "", 1, &groups, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	assert_string_equal(groups[0].guid, "g2");
	assert_int_equal(groups[0].n_members, 2);
	assert_string_equal(groups[0].members[1], "bob");
	cw_groups_free(groups, n);
	assert_int_equal(cw_store_group_list(s, "app1", "alice", "g2", 1, &groups, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(groups[0].guid, "g4");
	assert_int_equal(groups[0].n_members, 1);
	cw_groups_free(groups, n);

	/* A cursor between two of the member's groups, and one past the last. */
	assert_int_equal(cw_store_group_list(s, "app1", "bob", "g1", 10, &groups, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(groups[0].guid, "g2");
	cw_groups_free(groups, n);
	assert_int_equal(cw_store_group_list(s, "app1", "alice", "g4", 10, &groups, &n, &more), 0);
	assert_int_equal(n, 0);
	assert_false(more);
	cw_groups_free(groups, n);

	/* Someone in no group (or no user at all) has an empty list, not an error. */
	assert_int_equal(cw_store_group_list(s, "app1", "nobody", NULL, 10, &groups, &n, &more), 0);
	assert_int_equal(n, 0);
	cw_groups_free(groups, n);

	assert_int_equal(cw_store_group_list(s, "app2", "alice", NULL, 10, &groups, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_string_equal(groups[0].guid, "g0");
	cw_groups_free(groups, n);
}

static void test_token_find_returns_owner(void **state)
{
	struct cw_store *s = store(state);
	struct cw_token out;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_token(s, "h1", "app1", "alice", 0);
	assert_int_equal(cw_store_token_find(s, "h1", 1700000000000, &out), 0);
	assert_string_equal(out.app_id, "app1");
	assert_string_equal(out.uid, "alice");
	assert_int_equal(out.created_at, 1700000000002);
	assert_int_equal(out.expires_at, 0);
	assert_int_equal(cw_store_token_find(s, "h2", 1700000000000, &out), -ENOENT);
}

static void test_token_add_rejects_unknown_user_and_duplicate_hash(void **state)
{
	struct cw_store *s = store(state);
	struct cw_token t = {.app_id = "app1", .uid = "ghost"};

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	assert_int_equal(cw_store_token_add(s, "h1", &t), -ENOENT);
	add_token(s, "h1", "app1", "alice", 0);
	cw_strlcpy(t.uid, "alice", sizeof(t.uid));
	assert_int_equal(cw_store_token_add(s, "h1", &t), -EEXIST);
}

static void test_token_find_after_expiry_is_enoent(void **state)
{
	struct cw_store *s = store(state);
	struct cw_token out;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_token(s, "h1", "app1", "alice", 1000);
	assert_int_equal(cw_store_token_find(s, "h1", 999, &out), 0);
	assert_int_equal(out.expires_at, 1000);
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(cw_store_token_find(s, "h1", 1000, &out), -ENOENT);
	assert_int_equal(cw_store_token_find(s, "h1", 5000, &out), -ENOENT);
	assert_int_equal(out.app_id[0], 0x5a);
}

static void test_token_revoke_removes_only_that_token(void **state)
{
	struct cw_store *s = store(state);
	struct cw_token out;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_token(s, "h1", "app1", "alice", 0);
	add_token(s, "h2", "app1", "alice", 0);
	assert_int_equal(cw_store_token_revoke(s, "h1"), 0);
	assert_int_equal(cw_store_token_find(s, "h1", 1, &out), -ENOENT);
	assert_int_equal(cw_store_token_find(s, "h2", 1, &out), 0);
	assert_int_equal(cw_store_token_revoke(s, "h1"), -ENOENT);
}

static void test_token_revoke_user_counts_that_users_tokens(void **state)
{
	struct cw_store *s = store(state);
	struct cw_token out;
	size_t count = 99;

	add_app(s, "app1");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	add_token(s, "h1", "app1", "alice", 0);
	add_token(s, "h2", "app1", "alice", 10);
	add_token(s, "h3", "app1", "bob", 0);
	assert_int_equal(cw_store_token_revoke_user(s, "app1", "alice", &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(cw_store_token_find(s, "h1", 1, &out), -ENOENT);
	assert_int_equal(cw_store_token_find(s, "h3", 1, &out), 0);
	assert_int_equal(cw_store_token_revoke_user(s, "app1", "alice", &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(cw_store_token_revoke_user(s, "app1", "bob", NULL), 0);
	assert_int_equal(cw_store_token_find(s, "h3", 1, &out), -ENOENT);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reopen_keeps_data_at_current_schema_version),
		T(test_open_refuses_database_with_newer_schema),
		T(test_open_fails_on_file_that_is_not_a_database),
		T(test_app_create_then_get_returns_every_field),
		T(test_app_create_duplicate_id_is_eexist),
		T(test_app_is_found_by_its_rest_key_hash_only),
		T(test_app_get_missing_is_enoent_and_leaves_out_untouched),
		T(test_app_set_settings_replaces_settings_only),
		T(test_app_list_pages_in_id_order),
		T(test_user_create_then_get_defaults_metadata_and_avatar),
		T(test_user_create_duplicate_is_eexist),
		T(test_user_create_in_missing_app_is_enoent),
		T(test_same_uid_in_two_apps_is_two_users),
		T(test_user_update_changes_only_flagged_fields),
		T(test_user_update_missing_user_is_enoent),
		T(test_user_delete_takes_tokens_and_memberships),
		T(test_user_list_pages_of_three_cover_seven_users_once),
		T(test_uids_differing_in_case_are_two_users),
		T(test_group_create_stores_members_ascending),
		T(test_group_create_with_unknown_member_writes_nothing),
		T(test_group_create_in_missing_app_is_enoent_without_index),
		T(test_group_add_members_is_idempotent_and_atomic),
		T(test_group_remove_member_and_non_member),
		T(test_group_delete_drops_its_memberships),
		T(test_group_list_pages_with_members),
		T(test_group_list_of_a_member_pages_through_their_groups_only),
		T(test_token_find_returns_owner),
		T(test_token_add_rejects_unknown_user_and_duplicate_hash),
		T(test_token_find_after_expiry_is_enoent),
		T(test_token_revoke_removes_only_that_token),
		T(test_token_revoke_user_counts_that_users_tokens),
	};

	/* Expected failures log at error level; keep the output to those. */
	cw_log_set_level(CW_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
