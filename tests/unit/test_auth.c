/* Unit tests of secrets: generation, hashing, the master key file, bearer resolution. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/calltoken.h"
#include "util/util.h"

static void secrets_are_prefixed_random_and_distinct(void **state)
{
	char a[CW_SECRET_MAX], b[CW_SECRET_MAX];

	(void)state;
	assert_int_equal(cw_auth_new_secret(a, CW_PREFIX_TOKEN), 0);
	assert_int_equal(cw_auth_new_secret(b, CW_PREFIX_TOKEN), 0);
	assert_int_equal(strncmp(a, "at_", 3), 0);
	assert_int_equal(strlen(a), 3 + 43); /* 256 bits in base64url */
	assert_string_not_equal(a, b);
}

static void hashes_are_sha256_hex_and_never_the_secret(void **state)
{
	char h[CW_HASH_HEX + 1];

	(void)state;
	cw_auth_hash("abc", h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cw_auth_hash("at_secret", h);
	assert_null(strstr(h, "secret"));
}

static void secret_comparison_needs_equal_strings(void **state)
{
	(void)state;
	assert_true(cw_secret_eq("abc", "abc"));
	assert_false(cw_secret_eq("abc", "abd"));
	assert_false(cw_secret_eq("abc", "abcd"));
	assert_false(cw_secret_eq("", "a"));
}

static void master_key_file_is_created_private_and_then_reused(void **state)
{
	char dir[] = "/tmp/cw-auth-XXXXXX", path[64], k1[CW_SECRET_MAX], k2[CW_SECRET_MAX];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cw_auth_load_master_key(dir, k1), 0);
	assert_int_equal(strncmp(k1, "mk_", 3), 0);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cw_auth_load_master_key(dir, k2), 0);
	assert_string_equal(k1, k2);
	unlink(path);
	rmdir(dir);
}

static void a_truncated_master_key_file_is_refused(void **state)
{
	char dir[] = "/tmp/cw-auth-XXXXXX", path[64], k[CW_SECRET_MAX];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/master.key", dir);
	f = fopen(path, "w");
	fputs("short\n", f);
	fclose(f);
	assert_int_not_equal(cw_auth_load_master_key(dir, k), 0);
	unlink(path);
	rmdir(dir);
}

static void bearer_resolution_tells_master_rest_key_token_and_unknown_apart(void **state)
{
	char dir[] = "/tmp/cw-auth-XXXXXX", db[64], rest[CW_SECRET_MAX], tok[CW_SECRET_MAX],
	     h[CW_HASH_HEX + 1];
	struct cw_app app = {.id = "app1", .name = "App"};
	struct cw_token t = {.app_id = "app1", .uid = "alice"};
	struct cw_user u = {.uid = "alice", .name = "Alice", .metadata = "{}"};
	struct cw_store *store;
	struct cw_auth auth;
	struct cw_cred c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/t.db", dir);
	assert_int_equal(cw_store_open(&store, db), 0);
	cw_auth_new_secret(rest, CW_PREFIX_REST_KEY);
	cw_auth_hash(rest, app.rest_key_hash);
	cw_auth_hash("ak_unused", app.auth_key_hash);
	cw_settings_default(&app.settings);
	assert_int_equal(cw_store_app_create(store, &app), 0);
	assert_int_equal(cw_store_user_create(store, "app1", &u), 0);
	cw_auth_new_secret(tok, CW_PREFIX_TOKEN);
	cw_auth_hash(tok, h);
	t.expires_at = 2000;
	assert_int_equal(cw_store_token_add(store, h, &t), 0);
	cw_auth_init(&auth, store, "mk_master-key-for-tests");

	assert_int_equal(cw_auth_resolve(&auth, "mk_master-key-for-tests", 1000, &c), 0);
	assert_int_equal(c.kind, CW_CRED_MASTER);
	assert_int_equal(cw_auth_resolve(&auth, rest, 1000, &c), 0);
	assert_int_equal(c.kind, CW_CRED_REST);
	assert_string_equal(c.app_id, "app1");
	assert_int_equal(cw_auth_resolve(&auth, tok, 1000, &c), 0);
	assert_int_equal(c.kind, CW_CRED_TOKEN);
	assert_string_equal(c.uid, "alice");
	/* The same token after its expiry, and secrets nobody issued. */
	assert_int_equal(cw_auth_resolve(&auth, tok, 2000, &c), -EACCES);
	assert_int_equal(cw_auth_resolve(&auth, "rk_forged", 1000, &c), -EACCES);
	assert_int_equal(cw_auth_resolve(&auth, "", 1000, &c), -EACCES);

	cw_store_close(store);
	unlink(db);
	snprintf(db, sizeof(db), "%s/t.db-wal", dir);
	unlink(db);
	snprintf(db, sizeof(db), "%s/t.db-shm", dir);
	unlink(db);
	rmdir(dir);
}

/* ---- call tokens ---- */

static const int64_t T0 = 1795000000000; /* a fixed "now", Unix ms */

static void issue(const struct cw_auth *auth, const char *app, int meet, int ttl, char **token)
{
	struct cw_calltoken c = {0};

	cw_strlcpy(c.app_id, app, sizeof(c.app_id));
	cw_strlcpy(c.uid, "alice", sizeof(c.uid));
	cw_strlcpy(c.session_id, "q8Jx-room_1", sizeof(c.session_id));
	c.meet = meet;
	assert_int_equal(cw_calltoken_issue(auth, &c, T0, ttl, token), 0);
	assert_int_equal(c.expires_at, T0 + (int64_t)(ttl > 0 ? ttl : CW_CALLTOKEN_TTL) * 1000);
}

static void call_tokens_carry_their_claims_and_last_two_hours(void **state)
{
	struct cw_auth auth;
	struct cw_calltoken c;
	char *token;

	(void)state;
	cw_auth_init(&auth, NULL, "mk_test-master-key");
	issue(&auth, "app1", 1, 0, &token);
	assert_int_equal(cw_calltoken_verify(&auth, "app1", token, T0 + 1000, &c), 0);
	assert_string_equal(c.app_id, "app1");
	assert_string_equal(c.uid, "alice");
	assert_string_equal(c.session_id, "q8Jx-room_1");
	assert_int_equal(c.meet, 1);
	assert_int_equal(c.expires_at, T0 + 2 * 3600 * 1000);
	/* Expired at its expiry. */
	assert_int_equal(cw_calltoken_verify(&auth, "app1", token, T0 + 2 * 3600 * 1000, &c),
			 -EACCES);
	free(token);
}

static void call_tokens_of_another_app_or_server_are_refused(void **state)
{
	struct cw_auth auth, other;
	struct cw_calltoken c;
	char *token;

	(void)state;
	cw_auth_init(&auth, NULL, "mk_test-master-key");
	cw_auth_init(&other, NULL, "mk_another-master-key");
	issue(&auth, "app1", 0, 60, &token);
	assert_int_equal(cw_calltoken_verify(&auth, "app2", token, T0, &c), -EACCES);
	assert_int_equal(cw_calltoken_verify(&other, "app1", token, T0, &c), -EACCES);
	assert_int_equal(cw_calltoken_verify(&auth, "app1", token, T0, &c), 0);
	assert_int_equal(c.meet, 0);
	free(token);
}

static void forged_call_tokens_are_refused(void **state)
{
	struct cw_auth auth;
	struct cw_calltoken c;
	char *token, *dot, forged[2048];
	/* {"alg":"none","typ":"JWT"} . {"app":"app1","uid":"mallory","session":"s",
	 * "category":"call","exp":9999999999} . (no signature) */
	const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
			   "eyJhcHAiOiJhcHAxIiwidWlkIjoibWFsbG9yeSIsInNlc3Npb24iOiJzIiwiY2F0ZW"
			   "dvcnkiOiJjYWxsIiwiZXhwIjo5OTk5OTk5OTk5fQ.";

	(void)state;
	cw_auth_init(&auth, NULL, "mk_test-master-key");
	issue(&auth, "app1", 0, 60, &token);
	/* Another uid in the payload, the signature kept. */
	dot = strchr(token, '.');
	assert_non_null(dot);
	/* The payload: every claim valid, the uid changed to mallory. */
	snprintf(forged, sizeof(forged), "%.*s.%s", (int)(dot - token), token,
		 "eyJhcHAiOiJhcHAxIiwidWlkIjoibWFsbG9yeSIsInNlc3Npb24iOiJxOEp4LXJvb21fMSIsImNhdGVnb"
		 "3J5IjoiY2FsbCIsImV4cCI6OTk5OTk5OTk5OX0");
	strcat(forged, strrchr(token, '.'));
	assert_int_equal(cw_calltoken_verify(&auth, "app1", forged, T0, &c), -EACCES);
	assert_int_equal(cw_calltoken_verify(&auth, "app1", none, T0, &c), -EACCES);
	assert_int_equal(cw_calltoken_verify(&auth, "app1", "not a token", T0, &c), -EACCES);
	assert_int_equal(cw_calltoken_verify(&auth, "app1", "", T0, &c), -EACCES);
	assert_int_equal(cw_calltoken_verify(&auth, "app1", NULL, T0, &c), -EACCES);
	free(token);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secrets_are_prefixed_random_and_distinct),
		cmocka_unit_test(hashes_are_sha256_hex_and_never_the_secret),
		cmocka_unit_test(secret_comparison_needs_equal_strings),
		cmocka_unit_test(master_key_file_is_created_private_and_then_reused),
		cmocka_unit_test(a_truncated_master_key_file_is_refused),
		cmocka_unit_test(bearer_resolution_tells_master_rest_key_token_and_unknown_apart),
		cmocka_unit_test(call_tokens_carry_their_claims_and_last_two_hours),
		cmocka_unit_test(call_tokens_of_another_app_or_server_are_refused),
		cmocka_unit_test(forged_call_tokens_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
