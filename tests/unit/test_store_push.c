/* Unit tests of the store's device tokens, push settings and outbox (push_store.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/push_store.h"
#include "util/util.h"

#include "store_fixture.h"

static void add_app(struct cw_store *s, const char *id)
{
	struct cw_app app;

	memset(&app, 0, sizeof(app));
	cw_strlcpy(app.id, id, sizeof(app.id));
	app.name = (char *)"Test app";
	memset(app.auth_key_hash, 'a', CW_HASH_HEX);
	cw_sha256_hex(id, strlen(id), app.rest_key_hash);
	cw_settings_default(&app.settings);
	app.created_at = 1700000000000;
	assert_int_equal(cw_store_app_create(s, &app), 0);
}

static void add_user(struct cw_store *s, const char *app_id, const char *uid)
{
	struct cw_user user;

	memset(&user, 0, sizeof(user));
	cw_strlcpy(user.uid, uid, sizeof(user.uid));
	user.name = (char *)uid;
	user.created_at = user.updated_at = 1700000000001;
	assert_int_equal(cw_store_user_create(s, app_id, &user), 0);
}

/* Two apps; alice and bob in app1, alice (another person) in app2. */
static struct cw_store *world(void **state)
{
	struct cw_store *s = store(state);

	add_app(s, "app1");
	add_app(s, "app2");
	add_user(s, "app1", "alice");
	add_user(s, "app1", "bob");
	add_user(s, "app2", "alice");
	return s;
}

static int put(struct cw_store *s, const char *app_id, const char *uid,
	       enum cw_push_platform platform, const char *token, const char *device,
	       int64_t created_at)
{
	struct cw_push_token t = {.platform = platform, .production = true};

	cw_strlcpy(t.uid, uid, sizeof(t.uid));
	t.token = (char *)token;
	memset(t.device, device[0], CW_HASH_HEX);
	t.created_at = created_at;
	return cw_store_push_token_put(s, app_id, &t);
}

/* The user's tokens as "token,token,…", oldest first. */
static void assert_tokens(struct cw_store *s, const char *app_id, const char *uid, const char *want)
{
	struct cw_push_token *t;
	char got[512] = "";
	size_t n;

	assert_int_equal(cw_store_push_tokens_of(s, app_id, uid, &t, &n), 0);
	assert_non_null(t);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(t[i].uid, uid);
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "",
			 t[i].token);
	}
	cw_push_tokens_free(t, n);
	assert_string_equal(got, want);
}

static int64_t outbox_count(struct cw_store *s)
{
	int64_t n = -1;

	assert_int_equal(cw_store_outbox_count(s, &n), 0);
	return n;
}

static void test_token_put_then_get_returns_every_field(void **state)
{
	struct cw_store *s = world(state);
	struct cw_push_token t = {.platform = CW_PUSH_APNS_VOIP, .production = false};
	struct cw_push_token out;

	cw_strlcpy(t.uid, "alice", sizeof(t.uid));
	t.token = (char *)"ab01";
	memset(t.device, 'd', CW_HASH_HEX);
	t.created_at = 1700000000100;
	assert_int_equal(cw_store_push_token_put(s, "app1", &t), 0);
	assert_int_equal(cw_store_push_token_get(s, "app1", CW_PUSH_APNS_VOIP, "ab01", &out), 0);
	assert_string_equal(out.uid, "alice");
	assert_int_equal(out.platform, CW_PUSH_APNS_VOIP);
	assert_string_equal(out.token, "ab01");
	assert_false(out.production);
	assert_string_equal(out.device, t.device);
	assert_int_equal(out.created_at, 1700000000100);
	cw_push_token_free(&out);
	/* Unique per platform: the same text as another platform's token is another token. */
	assert_int_equal(cw_store_push_token_get(s, "app1", CW_PUSH_APNS, "ab01", &out), -ENOENT);
	assert_int_equal(cw_store_push_token_get(s, "app2", CW_PUSH_APNS_VOIP, "ab01", &out),
			 -ENOENT);
}

static void test_token_of_an_unknown_user_is_enoent(void **state)
{
	struct cw_store *s = world(state);

	assert_int_equal(put(s, "app1", "carol", CW_PUSH_FCM, "f1", "d", 1), -ENOENT);
	assert_int_equal(put(s, "app3", "alice", CW_PUSH_FCM, "f1", "d", 1), -ENOENT);
	assert_tokens(s, "app1", "carol", "");
}

static void test_tokens_of_lists_every_device_oldest_first(void **state)
{
	struct cw_store *s = world(state);

	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f3", "x", 30), 0);
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_APNS, "a1", "y", 10), 0);
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_APNS_VOIP, "v2", "y", 20), 0);
	assert_int_equal(put(s, "app1", "bob", CW_PUSH_FCM, "fb", "z", 5), 0);
	assert_tokens(s, "app1", "alice", "a1,v2,f3");
	assert_tokens(s, "app1", "bob", "fb");
}

static void test_token_registered_again_moves_to_the_new_user_and_device(void **state)
{
	struct cw_store *s = world(state);
	struct cw_push_token out;

	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f1", "a", 10), 0);
	/* The same user again (another device, a later time): one token, its age kept. */
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f1", "b", 20), 0);
	assert_int_equal(cw_store_push_token_get(s, "app1", CW_PUSH_FCM, "f1", &out), 0);
	assert_int_equal(out.created_at, 10);
	assert_int_equal(out.device[0], 'b');
	cw_push_token_free(&out);
	/* The phone changed hands: bob has it now, registered anew. */
	assert_int_equal(put(s, "app1", "bob", CW_PUSH_FCM, "f1", "c", 30), 0);
	assert_int_equal(cw_store_push_token_get(s, "app1", CW_PUSH_FCM, "f1", &out), 0);
	assert_string_equal(out.uid, "bob");
	assert_int_equal(out.created_at, 30);
	assert_int_equal(out.device[0], 'c');
	cw_push_token_free(&out);
	assert_tokens(s, "app1", "alice", "");
	assert_tokens(s, "app1", "bob", "f1");
}

static void test_token_delete_needs_the_users_own_token(void **state)
{
	struct cw_store *s = world(state);

	assert_int_equal(put(s, "app1", "alice", CW_PUSH_APNS_VOIP, "v1", "a", 1), 0);
	assert_int_equal(put(s, "app1", "bob", CW_PUSH_FCM, "f1", "b", 2), 0);
	assert_int_equal(cw_store_push_token_delete(s, "app1", "bob", "v1"), -ENOENT);
	assert_int_equal(cw_store_push_token_delete(s, "app2", "alice", "v1"), -ENOENT);
	assert_int_equal(cw_store_push_token_delete(s, "app1", "alice", "v1"), 0);
	assert_int_equal(cw_store_push_token_delete(s, "app1", "alice", "v1"), -ENOENT);
	assert_tokens(s, "app1", "alice", "");
	assert_tokens(s, "app1", "bob", "f1");
}

static void test_token_forget_removes_a_dead_token_of_any_user(void **state)
{
	struct cw_store *s = world(state);

	assert_int_equal(put(s, "app1", "bob", CW_PUSH_FCM, "f1", "b", 1), 0);
	assert_int_equal(put(s, "app1", "bob", CW_PUSH_APNS, "f1", "b", 2), 0);
	assert_int_equal(cw_store_push_token_forget(s, "app2", CW_PUSH_FCM, "f1"), -ENOENT);
	assert_int_equal(cw_store_push_token_forget(s, "app1", CW_PUSH_FCM, "f1"), 0);
	assert_int_equal(cw_store_push_token_forget(s, "app1", CW_PUSH_FCM, "f1"), -ENOENT);
	/* Only that platform's token. */
	assert_tokens(s, "app1", "bob", "f1");
}

static void test_delete_device_forgets_only_what_that_device_registered(void **state)
{
	struct cw_store *s = world(state);
	char device[CW_HASH_HEX + 1];
	size_t count = 99;

	assert_int_equal(put(s, "app1", "alice", CW_PUSH_APNS_VOIP, "v1", "a", 1), 0);
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_APNS, "a1", "a", 2), 0);
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f1", "b", 3), 0);
	assert_int_equal(put(s, "app2", "alice", CW_PUSH_FCM, "f2", "c", 4), 0);
	memset(device, 'a', CW_HASH_HEX);
	device[CW_HASH_HEX] = '\0';
	assert_int_equal(cw_store_push_tokens_delete_device(s, device, &count), 0);
	assert_int_equal(count, 2);
	assert_tokens(s, "app1", "alice", "f1");
	assert_tokens(s, "app2", "alice", "f2");
	assert_int_equal(cw_store_push_tokens_delete_device(s, device, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(cw_store_push_tokens_delete_device(s, device, NULL), 0);
}

static void test_delete_user_and_user_deletion_take_only_that_users_tokens(void **state)
{
	struct cw_store *s = world(state);
	size_t count = 99;

	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f1", "a", 1), 0);
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f2", "b", 2), 0);
	assert_int_equal(put(s, "app1", "bob", CW_PUSH_FCM, "f3", "c", 3), 0);
	assert_int_equal(put(s, "app2", "alice", CW_PUSH_FCM, "f4", "d", 4), 0);
	assert_int_equal(cw_store_push_tokens_delete_user(s, "app1", "alice", &count), 0);
	assert_int_equal(count, 2);
	assert_tokens(s, "app1", "alice", "");
	assert_tokens(s, "app2", "alice", "f4");

	assert_int_equal(cw_store_user_delete(s, "app1", "bob"), 0);
	assert_tokens(s, "app1", "bob", "");
	/* A new bob does not inherit the old one's phone. */
	add_user(s, "app1", "bob");
	assert_tokens(s, "app1", "bob", "");
	assert_tokens(s, "app2", "alice", "f4");
}

static void test_config_of_an_app_without_settings_is_empty(void **state)
{
	struct cw_store *s = world(state);
	struct cw_push_config c;

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(cw_store_push_config_get(s, "app1", &c), 0);
	assert_false(c.push_always);
	assert_false(c.apns_production);
	assert_null(c.apns_team_id);
	assert_null(c.apns_key_id);
	assert_null(c.apns_key);
	assert_null(c.apns_bundle_id);
	assert_null(c.fcm_service_account);
	assert_null(c.apns_url);
	assert_null(c.fcm_url);
	assert_null(c.oauth_url);
	assert_null(c.ca_file);
	assert_null(c.webhook_urls);
	assert_null(c.webhook_secret);
	cw_push_config_free(&c);
	assert_int_equal(cw_store_push_config_get(s, "nope", &c), -ENOENT);
	assert_int_equal(cw_store_push_config_set(s, "nope", &c), -ENOENT);
}

static void test_config_set_then_get_round_trips_values_and_nulls(void **state)
{
	struct cw_store *s = world(state);
	struct cw_push_config in = {
		.push_always = true,
		.apns_team_id = (char *)"TEAM123456",
		.apns_key_id = (char *)"KEY1234567",
		.apns_key = (char *)"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
		.apns_bundle_id = (char *)"com.example.app",
		.apns_production = true,
		.fcm_service_account = NULL,
		.apns_url = (char *)"https://127.0.0.1:8443",
		.ca_file = (char *)"/tmp/ca.pem",
		.webhook_urls = (char *)"[\"https://example.com/hook\"]",
		.webhook_secret = (char *)"whsec_x",
	};
	struct cw_push_config out, other;

	assert_int_equal(cw_store_push_config_set(s, "app1", &in), 0);
	assert_int_equal(cw_store_push_config_get(s, "app1", &out), 0);
	assert_true(out.push_always);
	assert_true(out.apns_production);
	assert_string_equal(out.apns_team_id, in.apns_team_id);
	assert_string_equal(out.apns_key_id, in.apns_key_id);
	assert_string_equal(out.apns_key, in.apns_key);
	assert_string_equal(out.apns_bundle_id, in.apns_bundle_id);
	assert_null(out.fcm_service_account);
	assert_string_equal(out.apns_url, in.apns_url);
	assert_null(out.fcm_url);
	assert_null(out.oauth_url);
	assert_string_equal(out.ca_file, in.ca_file);
	assert_string_equal(out.webhook_urls, in.webhook_urls);
	assert_string_equal(out.webhook_secret, in.webhook_secret);
	cw_push_config_free(&out);

	/* Another app sees none of it. */
	assert_int_equal(cw_store_push_config_get(s, "app2", &other), 0);
	assert_false(other.push_always);
	assert_null(other.apns_key);
	assert_null(other.webhook_secret);
	cw_push_config_free(&other);

	/* A set replaces every field: NULLs clear what was there. */
	memset(&in, 0, sizeof(in));
	in.fcm_service_account = (char *)"{\"project_id\":\"p\"}";
	assert_int_equal(cw_store_push_config_set(s, "app1", &in), 0);
	reopen(state);
	s = store(state);
	assert_int_equal(cw_store_push_config_get(s, "app1", &out), 0);
	assert_false(out.push_always);
	assert_false(out.apns_production);
	assert_null(out.apns_team_id);
	assert_null(out.apns_key);
	assert_null(out.apns_url);
	assert_null(out.webhook_urls);
	assert_null(out.webhook_secret);
	assert_string_equal(out.fcm_service_account, in.fcm_service_account);
	cw_push_config_free(&out);
}

static void fill_entry(struct cw_outbox_entry *e, const char *app_id, const char *dedupe,
		       int64_t next_at)
{
	memset(e, 0, sizeof(*e));
	cw_strlcpy(e->app_id, app_id, sizeof(e->app_id));
	e->kind = CW_OUT_FCM;
	e->target = (char *)"token";
	e->dedupe = (char *)dedupe;
	e->payload = (char *)"{\"message\":{}}";
	e->meta = (char *)"{\"uid\":\"alice\"}";
	e->created_at = 1000;
	e->next_at = next_at;
	e->expires_at = 50000;
}

static int64_t add_entry(struct cw_store *s, const char *app_id, const char *dedupe,
			 int64_t next_at)
{
	struct cw_outbox_entry e;

	fill_entry(&e, app_id, dedupe, next_at);
	assert_int_equal(cw_store_outbox_add(s, &e), 0);
	assert_true(e.id > 0);
	return e.id;
}

/* The ids of the due entries as "id,id,…". */
static void assert_due(struct cw_store *s, int64_t now, size_t limit, const char *want)
{
	struct cw_outbox_entry *e;
	char got[256] = "";
	size_t n;

	assert_int_equal(cw_store_outbox_due(s, now, limit, &e, &n), 0);
	assert_non_null(e);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", i ? "," : "",
			 (long long)e[i].id);
	cw_outbox_entries_free(e, n);
	assert_string_equal(got, want);
}

static void test_outbox_add_then_due_returns_every_field(void **state)
{
	struct cw_store *s = world(state);
	struct cw_outbox_entry in, *out;
	size_t n;

	fill_entry(&in, "app1", "s1:incoming:token", 2000);
	in.kind = CW_OUT_WEBHOOK;
	in.attempts = 2;
	assert_int_equal(cw_store_outbox_add(s, &in), 0);
	assert_int_equal(cw_store_outbox_due(s, 2000, 10, &out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, in.id);
	assert_string_equal(out[0].app_id, "app1");
	assert_int_equal(out[0].kind, CW_OUT_WEBHOOK);
	assert_string_equal(out[0].target, in.target);
	assert_string_equal(out[0].dedupe, in.dedupe);
	assert_string_equal(out[0].payload, in.payload);
	assert_string_equal(out[0].meta, in.meta);
	assert_int_equal(out[0].created_at, 1000);
	assert_int_equal(out[0].next_at, 2000);
	assert_int_equal(out[0].expires_at, 50000);
	assert_int_equal(out[0].attempts, 2);
	cw_outbox_entries_free(out, n);
}

static void test_outbox_refuses_a_second_entry_with_the_same_dedupe_key(void **state)
{
	struct cw_store *s = world(state);
	struct cw_outbox_entry e;
	int64_t first;

	first = add_entry(s, "app1", "s1:incoming:t1", 10);
	fill_entry(&e, "app1", "s1:incoming:t1", 5);
	e.id = 12345;
	assert_int_equal(cw_store_outbox_add(s, &e), -EEXIST);
	assert_int_equal(e.id, 12345);
	assert_int_equal(outbox_count(s), 1);
	assert_due(s, 100, 10, "1");
	assert_int_equal(first, 1);
	/* Keys are per app: another app's session ids are its own. */
	add_entry(s, "app2", "s1:incoming:t1", 10);
	assert_int_equal(outbox_count(s), 2);
}

static void test_outbox_due_orders_by_next_at_then_id_up_to_limit(void **state)
{
	struct cw_store *s = world(state);
	int64_t a = add_entry(s, "app1", "a", 300);
	int64_t b = add_entry(s, "app1", "b", 100);
	int64_t c = add_entry(s, "app2", "c", 100);
	int64_t d = add_entry(s, "app1", "d", 200);
	int64_t e = add_entry(s, "app1", "e", 900);
	char want[64];

	assert_true(a < b && b < c && c < d && d < e);
	assert_due(s, 99, 10, "");
	snprintf(want, sizeof(want), "%lld,%lld", (long long)b, (long long)c);
	assert_due(s, 100, 10, want);
	snprintf(want, sizeof(want), "%lld,%lld,%lld,%lld", (long long)b, (long long)c,
		 (long long)d, (long long)a);
	assert_due(s, 899, 10, want);
	snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)b, (long long)c, (long long)d);
	assert_due(s, 1000, 3, want);
}

static void test_outbox_next_at_is_the_earliest_or_zero_when_empty(void **state)
{
	struct cw_store *s = world(state);
	int64_t when = -1, a, b;

	assert_int_equal(cw_store_outbox_next_at(s, &when), 0);
	assert_int_equal(when, 0);
	a = add_entry(s, "app1", "a", 500);
	b = add_entry(s, "app2", "b", 300);
	assert_int_equal(cw_store_outbox_next_at(s, &when), 0);
	assert_int_equal(when, 300);
	assert_int_equal(cw_store_outbox_delete(s, b), 0);
	assert_int_equal(cw_store_outbox_next_at(s, &when), 0);
	assert_int_equal(when, 500);
	assert_int_equal(cw_store_outbox_delete(s, a), 0);
	assert_int_equal(cw_store_outbox_next_at(s, &when), 0);
	assert_int_equal(when, 0);
}

static void test_outbox_retry_moves_an_entry_later_and_counts_attempts(void **state)
{
	struct cw_store *s = world(state);
	struct cw_outbox_entry *out;
	int64_t a = add_entry(s, "app1", "a", 100);
	int64_t b = add_entry(s, "app1", "b", 200);
	char want[64];
	size_t n;

	assert_int_equal(cw_store_outbox_retry(s, a, 400, 1), 0);
	snprintf(want, sizeof(want), "%lld,%lld", (long long)b, (long long)a);
	assert_due(s, 1000, 10, want);
	assert_int_equal(cw_store_outbox_due(s, 1000, 10, &out, &n), 0);
	assert_int_equal(out[1].next_at, 400);
	assert_int_equal(out[1].attempts, 1);
	cw_outbox_entries_free(out, n);
	assert_int_equal(cw_store_outbox_retry(s, 999, 400, 1), -ENOENT);
}

static void test_outbox_delete_and_count(void **state)
{
	struct cw_store *s = world(state);
	int64_t a = add_entry(s, "app1", "a", 100);

	add_entry(s, "app1", "b", 100);
	assert_int_equal(outbox_count(s), 2);
	assert_int_equal(cw_store_outbox_delete(s, a), 0);
	assert_int_equal(cw_store_outbox_delete(s, a), -ENOENT);
	assert_int_equal(outbox_count(s), 1);
	/* Once an entry is gone its key may come again, with a new id: ids are never reused. */
	assert_true(add_entry(s, "app1", "a", 100) > a);
}

/* The calls service adds entries inside the batch of the call change: they commit with it,
 * or vanish with it. */
static void test_outbox_writes_join_the_open_batch(void **state)
{
	struct cw_store *s = world(state);
	struct cw_outbox_entry e;

	assert_int_equal(cw_store_batch_begin(s), 0);
	add_entry(s, "app1", "rolled-back", 100);
	assert_int_equal(put(s, "app1", "alice", CW_PUSH_FCM, "f1", "a", 1), 0);
	cw_store_batch_rollback(s);
	assert_int_equal(outbox_count(s), 0);
	assert_tokens(s, "app1", "alice", "");

	assert_int_equal(cw_store_batch_begin(s), 0);
	add_entry(s, "app1", "kept", 100);
	/* A duplicate inside the batch fails alone; the batch goes on. */
	fill_entry(&e, "app1", "kept", 100);
	assert_int_equal(cw_store_outbox_add(s, &e), -EEXIST);
	add_entry(s, "app1", "kept-too", 100);
	assert_int_equal(cw_store_batch_commit(s), 0);
	reopen(state);
	assert_int_equal(outbox_count(store(state)), 2);
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A database left at version 2 (a fresh one taken back to it) gets the push tables on open,
 * and its data stays. */
static void test_open_migrates_a_version_2_database(void **state)
{
	struct fixture *f = *state;
	struct cw_push_config c;
	struct cw_user u;

	world(state);
	cw_store_close(f->s);
	f->s = NULL;
	raw_exec(f->path, "DROP TABLE push_tokens; DROP TABLE push_config; DROP TABLE outbox;"
			  "PRAGMA user_version = 2;");
	reopen(state);
	assert_int_equal(cw_store_user_get(f->s, "app1", "alice", &u), 0);
	cw_user_free(&u);
	assert_int_equal(put(f->s, "app1", "alice", CW_PUSH_FCM, "f1", "a", 1), 0);
	assert_int_equal(cw_store_push_config_get(f->s, "app1", &c), 0);
	cw_push_config_free(&c);
	add_entry(f->s, "app1", "x", 1);
	assert_true(cw_store_schema_version() >= 3);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_token_put_then_get_returns_every_field),
		T(test_token_of_an_unknown_user_is_enoent),
		T(test_tokens_of_lists_every_device_oldest_first),
		T(test_token_registered_again_moves_to_the_new_user_and_device),
		T(test_token_delete_needs_the_users_own_token),
		T(test_token_forget_removes_a_dead_token_of_any_user),
		T(test_delete_device_forgets_only_what_that_device_registered),
		T(test_delete_user_and_user_deletion_take_only_that_users_tokens),
		T(test_config_of_an_app_without_settings_is_empty),
		T(test_config_set_then_get_round_trips_values_and_nulls),
		T(test_outbox_add_then_due_returns_every_field),
		T(test_outbox_refuses_a_second_entry_with_the_same_dedupe_key),
		T(test_outbox_due_orders_by_next_at_then_id_up_to_limit),
		T(test_outbox_next_at_is_the_earliest_or_zero_when_empty),
		T(test_outbox_retry_moves_an_entry_later_and_counts_attempts),
		T(test_outbox_delete_and_count),
		T(test_outbox_writes_join_the_open_batch),
		T(test_open_migrates_a_version_2_database),
	};

	/* Expected failures log at error level; keep the output to those. */
	cw_log_set_level(CW_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
