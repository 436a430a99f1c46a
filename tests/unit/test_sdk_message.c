/* libcallwire's reading of server messages: what it keeps, skips and refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sdk.h"

static int parse(struct cw__msg *msg, const char *text)
{
	return cw__msg_parse(msg, text, strlen(text));
}

/* An event this version cannot read still has a seq, so resuming moves past it instead
 * of having it replayed on every reconnection. */
static void events_without_a_readable_call_keep_their_seq(void **state)
{
	struct cw__msg msg;

	(void)state;
	assert_int_equal(parse(&msg, "{\"type\":\"event\",\"seq\":7,\"name\":\"session.muted\","
				     "\"uid\":\"bob\"}"),
			 0);
	assert_int_equal(msg.type, CW__MSG_EVENT);
	assert_int_equal(msg.seq, 7);
	assert_null(msg.call);
	cw__msg_clear(&msg);

	/* A call event whose call has a status this version does not know. */
	assert_int_equal(parse(&msg, "{\"type\":\"event\",\"seq\":8,\"name\":\"call.paused\","
				     "\"call\":{\"sessionId\":\"s\",\"status\":\"paused\"}}"),
			 0);
	assert_int_equal(msg.seq, 8);
	assert_null(msg.call);
	cw__msg_clear(&msg);
}

static void broken_envelopes_are_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2]",
		"{\"seq\":1}",
		"{\"type\":\"event\",\"name\":\"call.incoming\"}",
		"{\"type\":\"event\",\"seq\":0,\"name\":\"call.incoming\"}",
		"{\"type\":\"event\",\"seq\":3}",
		"{\"type\":\"ready\",\"seq\":-1,\"user\":{\"uid\":\"a\"}}",
		"{\"type\":\"ready\",\"seq\":1}",
		"{\"type\":\"response\",\"result\":{}}",
		"{\"type\":\"response\",\"id\":\"1\"}",
		"{\"type\":\"response\",\"id\":\"1\",\"error\":{\"message\":\"no code\"}}",
		"{\"type\":\"event\",\"seq\":1,\"seq\":2,\"name\":\"x\"}",
	};
	struct cw__msg msg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&msg, bad[i]) != CW_ERR_PROTOCOL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(msg.root);
	}
}

static void unknown_message_types_are_ignored_not_refused(void **state)
{
	struct cw__msg msg;

	(void)state;
	assert_int_equal(parse(&msg, "{\"type\":\"notice\",\"text\":\"maintenance at 3\"}"), 0);
	assert_int_equal(msg.type, CW__MSG_OTHER);
	cw__msg_clear(&msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events_without_a_readable_call_keep_their_seq),
		cmocka_unit_test(broken_envelopes_are_refused),
		cmocka_unit_test(unknown_message_types_are_ignored_not_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
