/* Unit tests of request validation: what the server accepts and what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
