/* Unit tests of request validation: what the server accepts and what it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http/validate.h"

static json_t *obj(const char *text)
{
	struct cw_verr e;
	json_t *j = NULL;

	assert_int_equal(cw_parse_object(text, strlen(text), &j, &e), 0);
	return j;
}

static void expect_refused(const char *text, const char *field)
{
	struct cw_verr e;
	json_t *j = NULL;

	assert_int_not_equal(cw_parse_object(text, strlen(text), &j, &e), 0);
	assert_null(j);
	assert_non_null(strstr(e.msg, field));
}

static void uids_follow_the_contract_alphabet_and_length(void **state)
{
	char longest[101], too_long[102];

	(void)state;
	memset(longest, 'a', 100);
	longest[100] = '\0';
	memset(too_long, 'a', 101);
	too_long[101] = '\0';
	assert_true(cw_valid_uid("alice"));
	assert_true(cw_valid_uid("a.b@c-d_E9"));
	assert_true(cw_valid_uid(longest));
	assert_false(cw_valid_uid(too_long));
	assert_false(cw_valid_uid(""));
	assert_false(cw_valid_uid("al ice"));
	assert_false(cw_valid_uid("al/ice"));
	assert_false(cw_valid_uid("alïce"));
	assert_false(cw_valid_uid(NULL));
	assert_false(cw_valid_uid("."));
	assert_false(cw_valid_uid("..."));
	assert_true(cw_valid_uid(".a."));
}

static void app_ids_refuse_dots_and_at_signs(void **state)
{
	(void)state;
	assert_true(cw_valid_app_id("a1b2-c3_d4"));
	assert_false(cw_valid_app_id("a.b"));
	assert_false(cw_valid_app_id("a@b"));
	assert_false(cw_valid_app_id(""));
}

static void bodies_must_be_one_json_object(void **state)
{
	(void)state;
	expect_refused("", "body");
	expect_refused("[1,2]", "body");
	expect_refused("\"text\"", "body");
	expect_refused("{\"uid\":", "body");
	expect_refused("{\"a\":1,\"a\":2}", "body");
	expect_refused("{} {}", "body");
	expect_refused("{\"uid\":\"a\\u0000b\"}", "body"); /* NUL inside a string */
}

static void user_create_names_the_bad_field(void **state)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"name\":\"A\"}", "uid"},
		{"{\"uid\":7,\"name\":\"A\"}", "uid"},
		{"{\"uid\":\"a b\",\"name\":\"A\"}", "uid"},
		{"{\"uid\":\"..\",\"name\":\"A\"}", "uid"},
		{"{\"uid\":\"a\"}", "name"},
		{"{\"uid\":\"a\",\"name\":\"\"}", "name"},
		{"{\"uid\":\"a\",\"name\":[]}", "name"},
		{"{\"uid\":\"a\",\"name\":\"A\",\"avatar\":5}", "avatar"},
		{"{\"uid\":\"a\",\"name\":\"A\",\"metadata\":[1]}", "metadata"},
	};
	struct cw_user u;
	struct cw_verr e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = obj(cases[i].body);
		assert_int_not_equal(cw_check_user_create(j, &u, &e), 0);
		assert_non_null(strstr(e.msg, cases[i].field));
		json_decref(j);
	}
}

static void user_create_accepts_optional_fields_and_ignores_unknown_ones(void **state)
{
	json_t *j = obj("{\"uid\":\"bob\",\"name\":\"Bob\",\"avatar\":\"https://x/y.png\","
			"\"metadata\":{\"k\":[1,2]},\"colour\":\"red\"}");
	struct cw_user u;
	struct cw_verr e;

	(void)state;
	assert_int_equal(cw_check_user_create(j, &u, &e), 0);
	assert_string_equal(u.uid, "bob");
	assert_string_equal(u.name, "Bob");
	assert_string_equal(u.avatar, "https://x/y.png");
	assert_string_equal(u.metadata, "{\"k\":[1,2]}");
	cw_user_free(&u);
	json_decref(j);
}

static void metadata_over_4_kib_is_refused(void **state)
{
	char *text = malloc(5000);
	struct cw_user u;
	struct cw_verr e;
	json_t *j;

	(void)state;
	strcpy(text, "{\"uid\":\"a\",\"name\":\"A\",\"metadata\":{\"k\":\"");
	memset(text + strlen(text), 'x', 4100);
	strcpy(text + strlen("{\"uid\":\"a\",\"name\":\"A\",\"metadata\":{\"k\":\"") + 4100,
	       "\"}}");
	j = obj(text);
	assert_int_not_equal(cw_check_user_create(j, &u, &e), 0);
	assert_non_null(strstr(e.msg, "metadata"));
	json_decref(j);
	free(text);
}

static void settings_are_range_checked_and_applied_all_or_nothing(void **state)
{
	struct cw_settings s;
	struct cw_verr e;
	json_t *j;

	(void)state;
	cw_settings_default(&s);
	j = obj("{\"settings\":{\"autoBusy\":false,\"ringTimeout\":301}}");
	assert_int_not_equal(cw_check_settings(j, &s, &e), 0);
	assert_non_null(strstr(e.msg, "ringTimeout"));
	assert_true(s.auto_busy); /* untouched by the refused request */
	json_decref(j);

	j = obj("{\"settings\":{\"authKeyLogin\":\"no\"}}");
	assert_int_not_equal(cw_check_settings(j, &s, &e), 0);
	assert_non_null(strstr(e.msg, "authKeyLogin"));
	json_decref(j);

	j = obj("{\"settings\":{\"autoBusy\":false,\"ringTimeout\":5,\"idleTimeout\":0}}");
	assert_int_equal(cw_check_settings(j, &s, &e), 0);
	assert_false(s.auto_busy);
	assert_int_equal(s.ring_timeout, 5);
	assert_int_equal(s.idle_timeout, 0);
	assert_int_equal(s.reconnect_grace, 30);
	json_decref(j);

	j = obj("{\"name\":\"x\"}");
	assert_int_not_equal(cw_check_settings(j, &s, &e), 0);
	assert_non_null(strstr(e.msg, "settings"));
	json_decref(j);
}

static void member_lists_are_deduplicated_and_checked(void **state)
{
	char(*ids)[CW_UID_MAX + 1];
	struct cw_verr e;
	size_t n;
	json_t *j;

	(void)state;
	j = obj("{\"uids\":[\"carol\",\"alice\",\"carol\"]}");
	assert_int_equal(cw_get_id_array(j, "uids", true, &ids, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "alice");
	assert_string_equal(ids[1], "carol");
	free(ids);
	json_decref(j);

	j = obj("{\"uids\":[\"ok\",3]}");
	assert_int_not_equal(cw_get_id_array(j, "uids", true, &ids, &n, &e), 0);
	assert_non_null(strstr(e.msg, "uids[1]"));
	json_decref(j);

	j = obj("{}");
	assert_int_not_equal(cw_get_id_array(j, "uids", true, &ids, &n, &e), 0);
	assert_non_null(strstr(e.msg, "uids"));
	json_decref(j);
}

static void token_ttl_must_be_a_positive_integer(void **state)
{
	struct cw_verr e;
	long long ttl;
	json_t *j;

	(void)state;
	j = obj("{\"ttl\":0}");
	assert_int_not_equal(cw_check_token_create(j, &ttl, &e), 0);
	json_decref(j);
	j = obj("{\"ttl\":1.5}");
	assert_int_not_equal(cw_check_token_create(j, &ttl, &e), 0);
	assert_non_null(strstr(e.msg, "ttl"));
	json_decref(j);
	j = obj("{\"ttl\":3600}");
	assert_int_equal(cw_check_token_create(j, &ttl, &e), 0);
	assert_int_equal(ttl, 3600);
	json_decref(j);
	j = obj("{}");
	assert_int_equal(cw_check_token_create(j, &ttl, &e), 0);
	assert_int_equal(ttl, 0);
	json_decref(j);
}

static void limits_and_cursors_round_trip_and_refuse_garbage(void **state)
{
	char enc[2 * CW_UID_MAX], dec[CW_UID_MAX + 1];
	struct cw_verr e;
	int limit;

	(void)state;
	assert_int_equal(cw_parse_limit(NULL, 30, 100, &limit, &e), 0);
	assert_int_equal(limit, 30);
	assert_int_equal(cw_parse_limit("100", 30, 100, &limit, &e), 0);
	assert_int_not_equal(cw_parse_limit("101", 30, 100, &limit, &e), 0);
	assert_int_not_equal(cw_parse_limit("0", 30, 100, &limit, &e), 0);
	assert_int_not_equal(cw_parse_limit("5x", 30, 100, &limit, &e), 0);
	assert_int_not_equal(cw_parse_limit("", 30, 100, &limit, &e), 0);

	cw_cursor_encode("user.name@example", enc);
	assert_int_equal(cw_cursor_decode(enc, dec, &e), 0);
	assert_string_equal(dec, "user.name@example");
	assert_int_not_equal(cw_cursor_decode("!!!", dec, &e), 0);
	assert_non_null(strstr(e.msg, "cursor"));
	cw_cursor_encode("a b", enc); /* decodes, but to no valid id */
	assert_int_not_equal(cw_cursor_decode(enc, dec, &e), 0);
}

static void urls_are_http_or_https_with_a_host(void **state)
{
	char long_url[2100];

	(void)state;
	assert_true(cw_valid_url("https://example.com/hooks/calls?x=1", CW_URL_MAX));
	assert_true(cw_valid_url("http://127.0.0.1:8443", CW_URL_MAX));
	assert_true(cw_valid_url("https://[::1]:9000/path", CW_URL_MAX));
	assert_false(cw_valid_url("ftp://example.com/", CW_URL_MAX));
	assert_false(cw_valid_url("https://", CW_URL_MAX));
	assert_false(cw_valid_url("https:///path", CW_URL_MAX));
	assert_false(cw_valid_url("https://user:pw@example.com/", CW_URL_MAX));
	assert_false(cw_valid_url("https://example.com:0/", CW_URL_MAX));
	assert_false(cw_valid_url("https://example.com:65536/", CW_URL_MAX));
	assert_false(cw_valid_url("https://example.com:/", CW_URL_MAX));
	assert_false(cw_valid_url("https://example.com/a b", CW_URL_MAX));
	assert_false(cw_valid_url("https://exa_mple.com/", CW_URL_MAX));
	assert_false(cw_valid_url("HTTPS://example.com/", CW_URL_MAX));
	strcpy(long_url, "https://example.com/");
	memset(long_url + 20, 'a', 1980);
	long_url[2000] = '\0';
	assert_true(cw_valid_url(long_url, CW_URL_MAX));
	strcat(long_url, "a");
	assert_false(cw_valid_url(long_url, CW_URL_MAX));
}

static int check_token(const char *text, struct cw_push_token *t, bool *env, struct cw_verr *e)
{
	json_t *body = obj(text);
	int err = cw_check_push_token(body, t, env, e);

	json_decref(body);
	return err;
}

static void push_tokens_follow_each_platforms_format(void **state)
{
	char body[5000], apns[202], fcm[4098];
	struct cw_push_token t;
	struct cw_verr e;
	bool env;

	(void)state;
	memset(apns, 'A', 64);
	apns[64] = '\0';
	snprintf(body, sizeof(body), "{\"platform\":\"apns_voip\",\"token\":\"%s\"}", apns);
	assert_int_equal(check_token(body, &t, &env, &e), 0);
	assert_int_equal(t.platform, CW_PUSH_APNS_VOIP);
	assert_int_equal(strspn(t.token, "a"), 64); /* one case: lowercase */
	assert_true(t.production);
	assert_false(env);
	cw_push_token_free(&t);

	apns[63] = '\0';
	snprintf(body, sizeof(body), "{\"platform\":\"apns\",\"token\":\"%s\"}", apns);
	assert_int_not_equal(check_token(body, &t, &env, &e), 0);
	assert_non_null(strstr(e.msg, "token"));
	memset(apns, 'b', 201);
	apns[201] = '\0';
	snprintf(body, sizeof(body), "{\"platform\":\"apns\",\"token\":\"%s\"}", apns);
	assert_int_not_equal(check_token(body, &t, &env, &e), 0);
	apns[64] = '\0';
	apns[3] = 'g';
	snprintf(body, sizeof(body), "{\"platform\":\"apns\",\"token\":\"%s\"}", apns);
	assert_int_not_equal(check_token(body, &t, &env, &e), 0);

	memset(fcm, 'x', 4096);
	memcpy(fcm, "Ab9_:.-", 7);
	fcm[4096] = '\0';
	snprintf(body, sizeof(body),
		 "{\"platform\":\"fcm\",\"token\":\"%s\",\"environment\":\"sandbox\"}", fcm);
	assert_int_equal(check_token(body, &t, &env, &e), 0);
	assert_string_equal(t.token, fcm); /* FCM tokens are case-sensitive */
	cw_push_token_free(&t);
	strcat(fcm, "x");
	snprintf(body, sizeof(body), "{\"platform\":\"fcm\",\"token\":\"%s\"}", fcm);
	assert_int_not_equal(check_token(body, &t, &env, &e), 0);
	assert_int_not_equal(check_token("{\"platform\":\"fcm\",\"token\":\"a/b\"}", &t, &env, &e),
			     0);
	assert_int_not_equal(check_token("{\"platform\":\"fcm\",\"token\":\"\"}", &t, &env, &e), 0);

	assert_int_not_equal(check_token("{\"token\":\"abc\"}", &t, &env, &e), 0);
	assert_non_null(strstr(e.msg, "platform"));
	assert_int_not_equal(check_token("{\"platform\":\"gcm\",\"token\":\"a\"}", &t, &env, &e),
			     0);
	assert_non_null(strstr(e.msg, "platform"));
	assert_int_not_equal(check_token("{\"platform\":\"fcm\",\"token\":7}", &t, &env, &e), 0);
	assert_non_null(strstr(e.msg, "token"));
	assert_int_not_equal(
		check_token("{\"platform\":\"fcm\",\"token\":\"a\",\"environment\":\"dev\"}", &t,
			    &env, &e),
		0);
	assert_non_null(strstr(e.msg, "environment"));
}

/* A freshly generated key as PEM: PKCS#8 unless traditional. */
static char *key_pem(EVP_PKEY *pkey, bool traditional)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long len;

	assert_non_null(pkey);
	if (traditional)
		assert_int_equal(
			PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL),
			1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return pem;
}

/* Applies a patch built from a format with one string argument (JSON-escaped here). */
static int patch(struct cw_push_config *c, const char *fmt, const char *arg, struct cw_verr *e)
{
	json_t *s = json_string(arg ? arg : "");
	char *quoted = json_dumps(s, JSON_ENCODE_ANY), *text = NULL;
	json_t *body;
	int err;

	assert_true(asprintf(&text, fmt, quoted) > 0);
	body = obj(text);
	err = cw_check_push_patch(body, c, e);
	json_decref(body);
	json_decref(s);
	free(quoted);
	free(text);
	return err;
}

static void push_settings_parse_keys_and_change_nothing_on_failure(void **state)
{
	char *p256 = key_pem(EVP_EC_gen("P-256"), false);
	char *p256_sec1 = key_pem(EVP_EC_gen("P-256"), true);
	char *p384 = key_pem(EVP_EC_gen("P-384"), false);
	char *rsa = key_pem(EVP_RSA_gen(1024), false);
	struct cw_push_config c = {0};
	struct cw_verr e;
	json_t *sa;

	(void)state;
	assert_int_equal(patch(&c,
			       "{\"apns\":{\"teamId\":\"TEAM123456\",\"keyId\":\"KEY1234567\","
			       "\"bundleId\":\"com.example.app\",\"key\":%s}}",
			       p256, &e),
			 0);
	assert_string_equal(c.apns_key, p256);
	assert_true(c.apns_production);
	/* Set already: a partial object changes only what it names. */
	assert_int_equal(patch(&c, "{\"apns\":{\"environment\":%s}}", "sandbox", &e), 0);
	assert_false(c.apns_production);
	assert_string_equal(c.apns_team_id, "TEAM123456");
	assert_string_equal(c.apns_key, p256);

	/* Refused keys and fields leave everything as it was. */
	assert_int_not_equal(patch(&c, "{\"pushAlways\":true,\"apns\":{\"key\":%s}}", p384, &e), 0);
	assert_non_null(strstr(e.msg, "apns.key"));
	assert_false(c.push_always);
	assert_int_not_equal(patch(&c, "{\"apns\":{\"key\":%s}}", p256_sec1, &e), 0);
	assert_non_null(strstr(e.msg, "apns.key"));
	assert_int_not_equal(patch(&c, "{\"apns\":{\"key\":%s}}", rsa, &e), 0);
	assert_non_null(strstr(e.msg, "apns.key"));
	assert_int_not_equal(patch(&c, "{\"apns\":{\"key\":%s}}", "not a key", &e), 0);
	assert_int_not_equal(patch(&c, "{\"apns\":{\"teamId\":%s}}", "team123456", &e), 0);
	assert_non_null(strstr(e.msg, "apns.teamId"));
	assert_int_not_equal(patch(&c, "{\"apns\":{\"bundleId\":%s}}", "example", &e), 0);
	assert_non_null(strstr(e.msg, "apns.bundleId"));
	assert_string_equal(c.apns_key, p256);
	assert_string_equal(c.apns_bundle_id, "com.example.app");

	/* The service account is kept whole and compact, with Google's token URI by default. */
	assert_int_equal(patch(&c,
			       "{\"fcm\":{\"serviceAccount\":{\"type\":\"service_account\", "
			       "\"project_id\":\"demo-1\",\"client_email\":\"a@b.iam\","
			       "\"private_key_id\":\"k1\",\"private_key\":%s}}}",
			       rsa, &e),
			 0);
	assert_null(strstr(c.fcm_service_account, ", "));
	sa = json_loads(c.fcm_service_account, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(sa, "token_uri")),
			    "https://oauth2.googleapis.com/token");
	assert_string_equal(json_string_value(json_object_get(sa, "private_key_id")), "k1");
	assert_string_equal(json_string_value(json_object_get(sa, "private_key")), rsa);
	json_decref(sa);
	assert_int_not_equal(patch(&c,
				   "{\"fcm\":{\"serviceAccount\":{\"project_id\":\"p\","
				   "\"client_email\":\"a@b\",\"private_key\":%s}}}",
				   p256, &e),
			     0);
	assert_non_null(strstr(e.msg, "fcm.serviceAccount.private_key"));

	/* null removes; the rest stays. */
	assert_int_equal(patch(&c, "{\"apns\":null,\"endpoints\":{\"apns\":%s}}",
			       "https://127.0.0.1:8443", &e),
			 0);
	assert_null(c.apns_key);
	assert_null(c.apns_team_id);
	assert_non_null(c.fcm_service_account);
	assert_string_equal(c.apns_url, "https://127.0.0.1:8443");
	assert_int_not_equal(patch(&c, "{\"endpoints\":{\"caFile\":%s}}", "ca.pem", &e), 0);
	assert_non_null(strstr(e.msg, "endpoints.caFile"));
	assert_int_equal(patch(&c, "{\"endpoints\":null,\"x\":%s}", "", &e), 0);
	assert_null(c.apns_url);
	/* Without APNs set, every part of it is needed. */
	assert_int_not_equal(patch(&c, "{\"apns\":{\"key\":%s}}", p256, &e), 0);
	assert_non_null(strstr(e.msg, "apns.teamId: required"));

	cw_push_config_free(&c);
	free(p256);
	free(p256_sec1);
	free(p384);
	free(rsa);
}

static void webhook_urls_are_few_distinct_urls(void **state)
{
	struct {
		const char *body;
		int ok;
		const char *field;
	} cases[] = {
		{"{}", 1, NULL},
		{"{\"urls\":[],\"rotateSecret\":true}", 1, NULL},
		{"{\"urls\":[\"https://a.example/1\",\"https://a.example/2\"]}", 1, NULL},
		{"{\"urls\":\"https://a.example/1\"}", 0, "urls"},
		{"{\"urls\":[\"https://a.example/1\",\"https://a.example/1\"]}", 0, "urls[1]"},
		{"{\"urls\":[\"ftp://a.example/1\"]}", 0, "urls[0]"},
		{"{\"urls\":[1]}", 0, "urls[0]"},
		{"{\"urls\":[\"http://a/1\",\"http://a/2\",\"http://a/3\",\"http://a/4\","
		 "\"http://a/5\",\"http://a/6\"]}",
		 0, "urls"},
		{"{\"rotateSecret\":\"yes\"}", 0, "rotateSecret"},
	};
	struct cw_verr e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *body = obj(cases[i].body);
		bool given, rotate;
		char *urls;
		int err = cw_check_webhooks_patch(body, &urls, &given, &rotate, &e);

		json_decref(body);
		if (cases[i].ok) {
			assert_int_equal(err, 0);
			free(urls);
		} else {
			assert_int_not_equal(err, 0);
			assert_non_null(strstr(e.msg, cases[i].field));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uids_follow_the_contract_alphabet_and_length),
		cmocka_unit_test(app_ids_refuse_dots_and_at_signs),
		cmocka_unit_test(bodies_must_be_one_json_object),
		cmocka_unit_test(user_create_names_the_bad_field),
		cmocka_unit_test(user_create_accepts_optional_fields_and_ignores_unknown_ones),
		cmocka_unit_test(metadata_over_4_kib_is_refused),
		cmocka_unit_test(settings_are_range_checked_and_applied_all_or_nothing),
		cmocka_unit_test(member_lists_are_deduplicated_and_checked),
		cmocka_unit_test(token_ttl_must_be_a_positive_integer),
		cmocka_unit_test(limits_and_cursors_round_trip_and_refuse_garbage),
		cmocka_unit_test(urls_are_http_or_https_with_a_host),
		cmocka_unit_test(push_tokens_follow_each_platforms_format),
		cmocka_unit_test(push_settings_parse_keys_and_change_nothing_on_failure),
		cmocka_unit_test(webhook_urls_are_few_distinct_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
