/* libcallwire under memory exhaustion: every allocation of a scenario is made to fail in
 * turn; each API call then fails with CW_ERR_NO_MEMORY (or succeeds), never aborts, and
 * leaks nothing (the ASan build checks the leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sdk.h"

/* Allocations are counted on the test's thread only, so the failures are deterministic;
 * the library's network thread allocates normally. */
static _Thread_local bool armed;
static _Thread_local long countdown;
static _Thread_local bool failed;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static bool fail_now(void)
{
	if (!armed)
		return false;
	if (countdown-- == 0) {
		failed = true;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

/* jansson allocates through these, so its allocations fail in turn too. */
static void *json_alloc(size_t n)
{
	return __wrap_malloc(n);
}

static const char event_text[] =
	"{\"seq\":13,\"type\":\"event\",\"name\":\"call.incoming\",\"call\":{\"sessionId\":"
	"\"zS6E\",\"category\":\"call\",\"type\":\"video\",\"receiverType\":\"user\","
	"\"initiator\":{\"uid\":\"alice\",\"name\":\"Alice\"},\"receiver\":{\"uid\":\"bob\","
	"\"name\":\"Bob\"},\"status\":\"initiated\",\"initiatedAt\":1,\"joinedAt\":null,"
	"\"endedAt\":null,\"duration\":0.0,\"participants\":[{\"uid\":\"alice\",\"state\":"
	"\"ongoing\",\"joinedAt\":null,\"leftAt\":null,\"duration\":0.0},{\"uid\":\"bob\","
	"\"state\":\"ringing\",\"joinedAt\":null,\"leftAt\":null,\"duration\":0.0}],"
	"\"metadata\":{\"room\":\"7\"}}}";

static void expect_ok_or_nomem(int rc, int alternative)
{
	if (rc != 0 && rc != CW_ERR_NO_MEMORY && rc != alternative)
		fail_msg("unexpected %s", cw_err_name(rc));
}

/* A server message becomes a call with every field, or fails cleanly. */
static int scenario_parse(void)
{
	struct cw__msg msg;
	char *json;
	int rc = cw__msg_parse(&msg, event_text, strlen(event_text));

	/* jansson reports its own exhaustion as a parse failure. */
	expect_ok_or_nomem(rc, CW_ERR_PROTOCOL);
	if (rc)
		return rc;
	/* A call that could not be built leaves the event without one (it is skipped, its
	 * seq still counted); with this valid input only exhaustion can do that. */
	if (!msg.call) {
		assert_true(failed);
		cw__msg_clear(&msg);
		return CW_ERR_NO_MEMORY;
	}
	assert_string_equal(cw_call_get_metadata(msg.call), "{\"room\":\"7\"}");
	assert_int_equal(cw_call_get_participant_count(msg.call), 2);
	json = cw_call_to_json(msg.call);
	cw_free(json);
	cw__msg_clear(&msg);
	return 0;
}

static void noop_incoming(cw_client *c, cw_call *call, void *arg)
{
	(void)c;
	(void)call;
	(void)arg;
}

/* A client, listeners, a log request and calls before login. */
static int scenario_client(void)
{
	cw_call_listener l = {.incoming_call_received = noop_incoming};
	cw_call_log_request *logs = NULL;
	cw_client *c = NULL;
	int rc;

	rc = cw_client_new(&c, "http://127.0.0.1:9", "app1");
	expect_ok_or_nomem(rc, 0);
	if (rc)
		return rc;
	rc = cw_add_call_listener(c, "app-shell", &l, NULL);
	expect_ok_or_nomem(rc, 0);
	if (!rc)
		assert_int_equal(cw_add_call_listener(c, "app-shell", &l, NULL) == 0 || failed, 1);
	rc = cw_accept_call(c, "zS6E", NULL, NULL);
	expect_ok_or_nomem(rc, CW_ERR_NOT_LOGGED_IN);
	assert_int_not_equal(rc, 0);
	rc = cw_call_log_request_new(&logs, c);
	expect_ok_or_nomem(rc, 0);
	if (!rc) {
		expect_ok_or_nomem(cw_call_log_request_set_uid(logs, "bob"), 0);
		expect_ok_or_nomem(cw_call_log_request_set_limit(logs, 10), 0);
	}
	cw_call_log_request_free(logs);
	cw_client_free(c);
	return 0;
}

/* The session file is written whole or not at all. */
static int scenario_session_file(void)
{
	char path[] = "/tmp/cw_oom_sessionXXXXXX";
	cw_user *user = NULL, *back = NULL;
	char *token = NULL;
	json_t *obj;
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	close(fd);
	obj = json_pack("{s:s,s:s}", "uid", "alice", "name", "Alice");
	rc = obj ? cw__user_from_json(&user, obj) : CW_ERR_NO_MEMORY;
	json_decref(obj);
	if (!rc)
		rc = cw__session_write(path, "http://h:1", "app1", "at_x", user);
	expect_ok_or_nomem(rc, CW_ERR_IO);
	if (!rc) {
		rc = cw__session_read(path, "http://h:1", "app1", &token, &back);
		/* A failed read of a good file is an allocation failure, never a wrong login. */
		expect_ok_or_nomem(rc, CW_ERR_IO);
		if (!rc) {
			assert_string_equal(token, "at_x");
			assert_string_equal(cw_user_get_uid(back), "alice");
		}
	}
	free(token);
	cw_user_unref(back);
	cw_user_unref(user);
	unlink(path);
	return rc;
}

static void run_exhaustively(int (*scenario)(void))
{
	long n;

	for (n = 0; n < 100000; n++) {
		armed = true;
		countdown = n;
		failed = false;
		scenario();
		armed = false;
		if (!failed)
			break;
	}
	/* Reached a run where nothing failed: every allocation was tried. */
	assert_false(failed);
	assert_true(n > 0);
}

static void test_parsing_survives_every_allocation_failure(void **state)
{
	(void)state;
	run_exhaustively(scenario_parse);
}

static void test_client_survives_every_allocation_failure(void **state)
{
	(void)state;
	run_exhaustively(scenario_client);
}

static void test_session_file_survives_every_allocation_failure(void **state)
{
	(void)state;
	run_exhaustively(scenario_session_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsing_survives_every_allocation_failure),
		cmocka_unit_test(test_client_survives_every_allocation_failure),
		cmocka_unit_test(test_session_file_survives_every_allocation_failure),
	};

	json_set_alloc_funcs(json_alloc, free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
