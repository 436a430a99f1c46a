/* SDK tests of call logs: paging newest first to the end, filters, and request rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "world.h"

#define HISTORY 8
#define SID_MAX 72

typedef char sid_buf[SID_MAX];

/* The calls of a history, oldest first, and who took part. */
struct history {
	struct peer *alice, *bob, *carol;
	const char *sid[HISTORY];
};

/* Eight finished calls; all but the last involve alice.
 *   0 alice -> bob    audio cancelled      4 alice -> team  audio cancelled (group)
 *   1 alice -> carol  video cancelled      5 carol -> alice audio cancelled
 *   2 bob   -> alice  audio rejected       6 alice -> bob   audio rejected
 *   3 alice -> bob    video ended          7 bob   -> carol audio cancelled */
static void make_history(struct world *w, struct history *h)
{
	static const char *const team[] = {"alice", "bob", "carol", NULL};
	cw_call *c;

	cwt_group_create(w->srv, &w->app, "team", "Team", team);
	h->alice = peer_login(w, "alice");
	h->bob = peer_login(w, "bob");
	h->carol = peer_login(w, "carol");

	h->sid[0] = cw_call_get_session_id(
		ring(w, h->alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	ASSERT_OK(cw_cancel_call_sync(h->alice->client, h->sid[0], 0, NULL));
	h->sid[1] = cw_call_get_session_id(
		ring(w, h->alice, "carol", CW_RECEIVER_USER, CW_CALL_VIDEO, 0, NULL));
	ASSERT_OK(cw_cancel_call_sync(h->alice->client, h->sid[1], 0, NULL));
	h->sid[2] = cw_call_get_session_id(
		ring(w, h->bob, "alice", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	ASSERT_OK(cw_reject_call_sync(h->alice->client, h->sid[2], CW_STATUS_REJECTED, 0, NULL));
	h->sid[3] = cw_call_get_session_id(
		ring(w, h->alice, "bob", CW_RECEIVER_USER, CW_CALL_VIDEO, 0, NULL));
	accept_sync(w, h->bob, h->sid[3]);
	end_sync(w, h->alice, h->sid[3]);
	h->sid[4] = cw_call_get_session_id(
		ring(w, h->alice, "team", CW_RECEIVER_GROUP, CW_CALL_AUDIO, 0, NULL));
	ASSERT_OK(cw_cancel_call_sync(h->alice->client, h->sid[4], 0, NULL));
	h->sid[5] = cw_call_get_session_id(
		ring(w, h->carol, "alice", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	ASSERT_OK(cw_cancel_call_sync(h->carol->client, h->sid[5], 0, NULL));
	h->sid[6] = cw_call_get_session_id(
		ring(w, h->alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	c = NULL;
	ASSERT_OK(cw_reject_call_sync(h->bob->client, h->sid[6], CW_STATUS_REJECTED, 0, &c));
	keep(w, c);
	h->sid[7] = cw_call_get_session_id(
		ring(w, h->bob, "carol", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	ASSERT_OK(cw_cancel_call_sync(h->bob->client, h->sid[7], 0, NULL));
}

/* Fetches every page of req; returns how many ids were written to ids (newest first). */
static size_t fetch_all(cw_call_log_request *req, sid_buf *ids, size_t max)
{
	size_t n = 0;

	for (int pages = 0; cw_call_log_request_has_more(req); pages++) {
		cw_call_page *page = NULL;

		assert_true(pages < 50);
		ASSERT_OK(cw_call_log_request_fetch_next_sync(req, 0, &page));
		assert_non_null(page);
		for (size_t i = 0; i < cw_call_page_count(page); i++) {
			assert_true(n < max);
			snprintf(ids[n++], SID_MAX, "%s",
				 cw_call_get_session_id(cw_call_page_get(page, i)));
		}
		cw_call_page_free(page);
	}
	return n;
}

/* ids, newest first, are exactly the history entries idx (given oldest first). */
static void assert_ids(const struct history *h, sid_buf *ids, size_t n, const int *idx,
		       size_t want_n)
{
	bool ok = n == want_n;

	for (size_t i = 0; ok && i < n; i++)
		ok = strcmp(ids[i], h->sid[idx[want_n - 1 - i]]) == 0;
	if (!ok) {
		print_error("got %zu calls, want %zu:\n", n, want_n);
		for (size_t i = 0; i < n; i++) {
			int at = -1;

			for (int k = 0; k < HISTORY; k++)
				at = strcmp(ids[i], h->sid[k]) == 0 ? k : at;
			print_error("  %s (history #%d)\n", ids[i], at);
		}
		fail();
	}
}

/* A request of alice's with the filters that `set` sets, walked to the end two calls at a
 * time, has exactly the history entries given. */
#define CHECK_FILTER(set, ...)                                                                     \
	do {                                                                                       \
		static const int want[] = {__VA_ARGS__};                                           \
		cw_call_log_request *r_ = NULL;                                                    \
		sid_buf ids_[HISTORY * 2];                                                         \
		size_t n_;                                                                         \
		ASSERT_OK(cw_call_log_request_new(&r_, h.alice->client));                          \
		ASSERT_OK(cw_call_log_request_set_limit(r_, 2));                                   \
		ASSERT_OK(set);                                                                    \
		n_ = fetch_all(r_, ids_, HISTORY * 2);                                             \
		cw_call_log_request_free(r_);                                                      \
		assert_ids(&h, ids_, n_, want, sizeof(want) / sizeof(want[0]));                    \
	} while (0)

static void call_log_pages_newest_first_without_repeats_until_has_more_is_false(void **state)
{
	static const int alices[] = {0, 1, 2, 3, 4, 5, 6};
	struct world *w = *state;
	cw_call_log_request *req = NULL;
	sid_buf ids[HISTORY * 2];
	cw_call_page *page = NULL;
	struct history h;
	size_t n = 0, pages = 0;
	int64_t prev = INT64_MAX;

	make_history(w, &h);
	ASSERT_OK(cw_call_log_request_new(&req, h.alice->client));
	ASSERT_OK(cw_call_log_request_set_limit(req, 3));
	assert_true(cw_call_log_request_has_more(req));
	while (cw_call_log_request_has_more(req)) {
		assert_true(pages++ < 10);
		ASSERT_OK(cw_call_log_request_fetch_next_sync(req, 0, &page));
		assert_non_null(page);
		assert_true(cw_call_page_count(page) <= 3);
		for (size_t i = 0; i < cw_call_page_count(page); i++) {
			cw_call *c = cw_call_page_get(page, i);

			assert_non_null(c);
			assert_true(cw_call_get_initiated_at(c) <= prev);
			prev = cw_call_get_initiated_at(c);
			assert_true(n < HISTORY * 2);
			snprintf(ids[n++], SID_MAX, "%s", cw_call_get_session_id(c));
		}
		assert_null(cw_call_page_get(page, cw_call_page_count(page)));
		cw_call_page_free(page);
		/* A call made while paging is newer than the cursor: it shifts nothing. */
		if (pages == 1)
			ring(w, h.alice, "carol", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL);
	}
	assert_ids(&h, ids, n, alices, 7);
	assert_true(pages >= 3);

	/* Past the end: an empty page. */
	ASSERT_OK(cw_call_log_request_fetch_next_sync(req, 0, &page));
	assert_non_null(page);
	assert_int_equal(cw_call_page_count(page), 0);
	cw_call_page_free(page);
	assert_false(cw_call_log_request_has_more(req));
	cw_call_log_request_free(req);

	/* A new request sees the new call first, and bob's log is bob's. */
	ASSERT_OK(cw_call_log_request_new(&req, h.alice->client));
	n = fetch_all(req, ids, HISTORY * 2);
	cw_call_log_request_free(req);
	assert_int_equal(n, 8);
	assert_string_equal(ids[1], h.sid[6]);
	ASSERT_OK(cw_call_log_request_new(&req, h.bob->client));
	n = fetch_all(req, ids, HISTORY * 2);
	cw_call_log_request_free(req);
	{
		static const int bobs[] = {0, 2, 3, 4, 6, 7};

		assert_ids(&h, ids, n, bobs, 6);
	}
}

static int outgoing_audio_cancelled(cw_call_log_request *req)
{
	int rc = cw_call_log_request_set_direction(req, CW_DIRECTION_OUTGOING);

	if (!rc)
		rc = cw_call_log_request_set_type(req, CW_CALL_AUDIO);
	if (!rc)
		rc = cw_call_log_request_set_status(req, CW_STATUS_CANCELLED);
	return rc;
}

static void call_log_filters_keep_only_the_matching_calls(void **state)
{
	struct world *w = *state;
	struct history h;

	make_history(w, &h);
	CHECK_FILTER(cw_call_log_request_set_direction(r_, CW_DIRECTION_INCOMING), 2, 5);
	CHECK_FILTER(cw_call_log_request_set_direction(r_, CW_DIRECTION_OUTGOING), 0, 1, 3, 4, 6);
	CHECK_FILTER(cw_call_log_request_set_type(r_, CW_CALL_VIDEO), 1, 3);
	CHECK_FILTER(cw_call_log_request_set_status(r_, CW_STATUS_CANCELLED), 0, 1, 4, 5);
	CHECK_FILTER(cw_call_log_request_set_status(r_, CW_STATUS_REJECTED), 2, 6);
	CHECK_FILTER(cw_call_log_request_set_status(r_, CW_STATUS_ENDED), 3);
	CHECK_FILTER(cw_call_log_request_set_uid(r_, "carol"), 1, 4, 5);
	CHECK_FILTER(cw_call_log_request_set_guid(r_, "team"), 4);
	CHECK_FILTER(cw_call_log_request_set_category(r_, CW_CATEGORY_CALL), 0, 1, 2, 3, 4, 5, 6);
	/* Several filters at once must all hold. */
	CHECK_FILTER(outgoing_audio_cancelled(r_), 0, 4);

	/* Filters that match nothing: one empty page, then no more. */
	{
		cw_call_log_request *req = NULL;
		cw_call_page *page = NULL;

		ASSERT_OK(cw_call_log_request_new(&req, h.alice->client));
		ASSERT_OK(cw_call_log_request_set_category(req, CW_CATEGORY_MEET));
		ASSERT_OK(cw_call_log_request_fetch_next_sync(req, 0, &page));
		assert_int_equal(cw_call_page_count(page), 0);
		assert_false(cw_call_log_request_has_more(req));
		cw_call_page_free(page);
		cw_call_log_request_free(req);

		ASSERT_OK(cw_call_log_request_new(&req, h.alice->client));
		ASSERT_OK(cw_call_log_request_set_has_recording(req, true));
		ASSERT_OK(cw_call_log_request_fetch_next_sync(req, 0, &page));
		assert_int_equal(cw_call_page_count(page), 0);
		cw_call_page_free(page);
		cw_call_log_request_free(req);
	}
}

static void call_log_request_refuses_changes_once_fetching_started(void **state)
{
	struct world *w = *state;
	struct done *first = world_done(w), *second = world_done(w), *again = world_done(w);
	cw_call_log_request *req = NULL;
	struct history h;

	make_history(w, &h);
	ASSERT_OK(cw_call_log_request_new(&req, h.alice->client));
	ASSERT_ERR(cw_call_log_request_set_limit(req, 0), CW_ERR_INVALID_ARGUMENT);
	ASSERT_ERR(cw_call_log_request_set_limit(req, 101), CW_ERR_INVALID_ARGUMENT);
	ASSERT_OK(cw_call_log_request_set_limit(req, 4));

	/* One fetch at a time. */
	ASSERT_OK(cw_call_log_request_fetch_next(req, done_page_cb, first));
	ASSERT_ERR(cw_call_log_request_fetch_next(req, done_page_cb, second), CW_ERR_BUSY);
	EXPECT_DONE(first);
	assert_int_equal(first->err, 0);
	assert_int_equal(first->page_count, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(first->page_ids[i], h.sid[6 - i]);
	assert_false(pthread_equal(first->ran_on, pthread_self()));

	/* Filters are fixed after the first fetch. */
	ASSERT_ERR(cw_call_log_request_set_type(req, CW_CALL_VIDEO), CW_ERR_BUSY);
	ASSERT_ERR(cw_call_log_request_set_limit(req, 2), CW_ERR_BUSY);
	ASSERT_ERR(cw_call_log_request_set_uid(req, "bob"), CW_ERR_BUSY);

	ASSERT_OK(cw_call_log_request_fetch_next(req, done_page_cb, again));
	EXPECT_DONE(again);
	assert_int_equal(again->err, 0);
	assert_int_equal(again->page_count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(again->page_ids[i], h.sid[2 - i]);
	cw_call_log_request_free(req);
	assert_int_equal(done_count(second), 0);
	assert_int_equal(done_count(first), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			call_log_pages_newest_first_without_repeats_until_has_more_is_false,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(call_log_filters_keep_only_the_matching_calls,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			call_log_request_refuses_changes_once_fetching_started, world_setup,
			world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
