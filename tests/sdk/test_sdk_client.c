/* SDK tests of the client: values, login and logout, session files, tokens, async and sync. */
#include <errno.h>
#include <signal.h>
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

#include "world.h"

static void assert_mentions(const char *text, const char *part)
{
	if (!text || !strstr(text, part)) {
		print_error("\"%s\" does not mention \"%s\"\n", text ? text : "(null)", part);
		fail();
	}
}

static void values_have_the_contracts_names(void **state)
{
	(void)state;
	assert_string_equal(cw_version(), "0.1.0");
	assert_string_equal(cw_call_type_str(CW_CALL_AUDIO), "audio");
	assert_string_equal(cw_call_type_str(CW_CALL_VIDEO), "video");
	assert_string_equal(cw_receiver_type_str(CW_RECEIVER_USER), "user");
	assert_string_equal(cw_receiver_type_str(CW_RECEIVER_GROUP), "group");
	assert_string_equal(cw_call_category_str(CW_CATEGORY_CALL), "call");
	assert_string_equal(cw_call_category_str(CW_CATEGORY_MEET), "meet");
	assert_string_equal(cw_call_status_str(CW_STATUS_INITIATED), "initiated");
	assert_string_equal(cw_call_status_str(CW_STATUS_ONGOING), "ongoing");
	assert_string_equal(cw_call_status_str(CW_STATUS_ENDED), "ended");
	assert_string_equal(cw_call_status_str(CW_STATUS_REJECTED), "rejected");
	assert_string_equal(cw_call_status_str(CW_STATUS_CANCELLED), "cancelled");
	assert_string_equal(cw_call_status_str(CW_STATUS_BUSY), "busy");
	assert_string_equal(cw_call_status_str(CW_STATUS_UNANSWERED), "unanswered");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_RINGING), "ringing");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_ONGOING), "ongoing");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_LEFT), "left");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_REJECTED), "rejected");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_BUSY), "busy");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_UNANSWERED), "unanswered");
	assert_string_equal(cw_participant_state_str(CW_PARTICIPANT_CANCELLED), "cancelled");
	assert_string_equal(cw_direction_str(CW_DIRECTION_INCOMING), "incoming");
	assert_string_equal(cw_direction_str(CW_DIRECTION_OUTGOING), "outgoing");
	assert_null(cw_call_status_str((cw_call_status)99));
	assert_null(cw_participant_state_str((cw_participant_state)-1));

	assert_string_equal(cw_err_name(CW_OK), "CW_OK");
	assert_string_equal(cw_err_name(CW_ERR_NOT_FOUND), "CW_ERR_NOT_FOUND");
	assert_string_equal(cw_err_name(CW_ERR_WOULD_DEADLOCK), "CW_ERR_WOULD_DEADLOCK");
	assert_string_equal(cw_err_name(-999), "CW_ERR_UNKNOWN");
	assert_string_equal(cw_strerror(-999), "unknown error");
	assert_mentions(cw_strerror(CW_ERR_NOT_LOGGED_IN), "log in");
	assert_non_null(cw_last_error_message());
}

/* Counts callbacks that must never run. */
static int stray_calls;

static void stray_call_cb(cw_client *client, int err, const char *message, cw_call *call, void *arg)
{
	(void)client, (void)err, (void)message, (void)call, (void)arg;
	__atomic_add_fetch(&stray_calls, 1, __ATOMIC_SEQ_CST);
}

static void stray_done_cb(cw_client *client, int err, const char *message, void *arg)
{
	(void)client, (void)err, (void)message, (void)arg;
	__atomic_add_fetch(&stray_calls, 1, __ATOMIC_SEQ_CST);
}

static void stray_page_cb(cw_client *client, int err, const char *message, cw_call_page *page,
			  void *arg)
{
	(void)client, (void)err, (void)message, (void)page, (void)arg;
	__atomic_add_fetch(&stray_calls, 1, __ATOMIC_SEQ_CST);
}

/* rc is CW_ERR_NOT_LOGGED_IN and the message tells what to do. */
#define ASSERT_NOT_LOGGED_IN(rc)                                                                   \
	do {                                                                                       \
		ASSERT_ERR(rc, CW_ERR_NOT_LOGGED_IN);                                              \
		assert_mentions(cw_last_error_message(), "log in");                                \
	} while (0)

static void every_call_function_before_login_fails_with_not_logged_in(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_new(w, "alice");
	cw_client *c = alice->client;
	cw_call_log_request *req = NULL;
	cw_call_page *page = NULL;
	cw_call *call = NULL;
	int rc;

	stray_calls = 0;
	assert_int_equal(cw_client_get_connection_state(c), CW_CONNECTION_OFFLINE);
	assert_null(cw_get_logged_in_user(c));

	ASSERT_NOT_LOGGED_IN(cw_initiate_call(c, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL,
					      stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_initiate_call_sync(c, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
						   NULL, 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_accept_call(c, "s1", stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_accept_call_sync(c, "s1", 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_reject_call(c, "s1", CW_STATUS_REJECTED, stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_reject_call_sync(c, "s1", CW_STATUS_BUSY, 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_cancel_call(c, "s1", stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_cancel_call_sync(c, "s1", 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_end_call(c, "s1", stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_end_call_sync(c, "s1", 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_end_call_for_all(c, "s1", stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_end_call_for_all_sync(c, "s1", 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_get_call(c, "s1", stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_get_call_sync(c, "s1", 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_get_active_call(c, stray_call_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_get_active_call_sync(c, 0, &call));
	ASSERT_NOT_LOGGED_IN(cw_logout(c, stray_done_cb, NULL));
	ASSERT_NOT_LOGGED_IN(cw_logout_sync(c, 0));
	/* A log request may be refused at once, or at its first fetch. */
	rc = cw_call_log_request_new(&req, c);
	if (rc == CW_ERR_NOT_LOGGED_IN) {
		assert_mentions(cw_last_error_message(), "log in");
	} else {
		ASSERT_OK(rc);
		ASSERT_NOT_LOGGED_IN(cw_call_log_request_fetch_next(req, stray_page_cb, NULL));
		ASSERT_NOT_LOGGED_IN(cw_call_log_request_fetch_next_sync(req, 0, &page));
		cw_call_log_request_free(req);
		req = NULL;
	}
	assert_null(call);
	assert_null(page);

	/* After a login the same client works, and none of the failed calls ever called back. */
	ASSERT_OK(cw_login_with_auth_key_sync(c, "alice", w->app.auth_key, 0));
	EXPECT_EVENT(alice->rec, "connected", NULL);
	assert_int_equal(cw_client_get_connection_state(c), CW_CONNECTION_CONNECTED);
	ASSERT_OK(cw_get_active_call_sync(c, 0, &call));
	assert_null(call);
	ASSERT_OK(cw_call_log_request_new(&req, c));
	ASSERT_OK(cw_call_log_request_fetch_next_sync(req, 0, &page));
	assert_non_null(page);
	assert_int_equal(cw_call_page_count(page), 0);
	cw_call_page_free(page);
	cw_call_log_request_free(req);
	assert_int_equal(__atomic_load_n(&stray_calls, __ATOMIC_SEQ_CST), 0);
}

static void wrong_credentials_are_unauthorized_and_leave_the_client_offline(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_new(w, "alice");
	struct done *d = world_done(w);
	cw_user *me;

	ASSERT_ERR(cw_login_with_auth_key_sync(alice->client, "alice", "ak_wrong", 0),
		   CW_ERR_UNAUTHORIZED);
	assert_true(strlen(cw_last_error_message()) > 0);
	assert_int_equal(cw_client_get_connection_state(alice->client), CW_CONNECTION_OFFLINE);
	assert_null(cw_get_logged_in_user(alice->client));

	ASSERT_OK(cw_login_with_auth_key(alice->client, "alice", "ak_wrong", done_user_cb, d));
	EXPECT_DONE(d);
	assert_int_equal(d->err, CW_ERR_UNAUTHORIZED);
	assert_true(strlen(d->message) > 0);
	assert_null(d->user);

	ASSERT_ERR(cw_login_with_token_sync(alice->client, "at_not-a-token", 0),
		   CW_ERR_UNAUTHORIZED);
	/* The right key for a user who does not exist. */
	ASSERT_ERR(cw_login_with_auth_key_sync(alice->client, "nobody", w->app.auth_key, 0),
		   CW_ERR_NOT_FOUND);
	assert_null(cw_get_logged_in_user(alice->client));

	/* The right one works; a second login needs a logout first. */
	ASSERT_OK(cw_login_with_auth_key_sync(alice->client, "alice", w->app.auth_key, 0));
	EXPECT_EVENT(alice->rec, "connected", NULL);
	me = cw_get_logged_in_user(alice->client);
	assert_non_null(me);
	assert_string_equal(cw_user_get_uid(me), "alice");
	assert_string_equal(cw_user_get_name(me), "Alice");
	assert_null(cw_user_get_avatar(me));
	cw_user_unref(me);
	ASSERT_ERR(cw_login_with_auth_key_sync(alice->client, "alice", w->app.auth_key, 0),
		   CW_ERR_ALREADY_LOGGED_IN);
	assert_int_equal(rec_count(alice->rec, "connected", NULL), 1);
	assert_int_equal(done_count(d), 1);
}

static void login_with_a_token_minted_by_the_rest_api_works(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_new(w, "bob");
	struct done *d = world_done(w);
	char token[256];
	const char *sid;
	cw_user *me;

	cwt_token_mint(w->srv, &w->app, "bob", token, sizeof(token));
	ASSERT_OK(cw_login_with_token(bob->client, token, done_user_cb, d));
	EXPECT_DONE(d);
	assert_int_equal(d->err, CW_OK);
	assert_non_null(d->user);
	assert_string_equal(cw_user_get_uid(d->user), "bob");
	assert_string_equal(cw_user_get_name(d->user), "Bob");
	assert_false(pthread_equal(d->ran_on, pthread_self()));
	EXPECT_EVENT(bob->rec, "connected", NULL);
	me = cw_get_logged_in_user(bob->client);
	assert_non_null(me);
	assert_string_equal(cw_user_get_uid(me), "bob");
	cw_user_unref(me);

	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
	accept_sync(w, bob, sid);
	EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);
}

static void free_client(void *p)
{
	cw_client_free(p);
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void persisted_login_is_restored_by_a_new_client_and_logout_removes_it(void **state)
{
	struct world *w = *state;
	struct peer *first = peer_new(w, "alice"), *second, *third, *bob = peer_login(w, "bob");
	char path[400], bad[400];
	struct cwt_app other;
	cw_client *stranger;
	struct stat st;
	const char *sid;
	cw_user *me;

	snprintf(path, sizeof(path), "%s/alice.session", w->tmpdir);
	snprintf(bad, sizeof(bad), "%s/no/such/folder/alice.session", w->tmpdir);

	/* No file yet: nothing to restore, but the next login is written there. */
	ASSERT_ERR(cw_client_set_session_file(first->client, path), CW_ERR_NOT_LOGGED_IN);
	assert_null(cw_get_logged_in_user(first->client));
	ASSERT_OK(cw_login_with_auth_key_sync(first->client, "alice", w->app.auth_key, 0));
	EXPECT_EVENT(first->rec, "connected", NULL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	ASSERT_ERR(cw_client_set_session_file(first->client, bad), CW_ERR_IO);
	peer_close(w, first); /* the app quits without logging out */

	/* The next start of the app is logged in at once and connects by itself. */
	second = peer_new(w, "alice");
	ASSERT_OK(cw_client_set_session_file(second->client, path));
	me = cw_get_logged_in_user(second->client);
	assert_non_null(me);
	assert_string_equal(cw_user_get_uid(me), "alice");
	cw_user_unref(me);
	EXPECT_EVENT(second->rec, "connected", NULL);
	sid = cw_call_get_session_id(
		ring(w, bob, "alice", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(second->rec, "incoming_call_received", sid);

	/* The file belongs to this server and app: another app's client finds no login. */
	cwt_app_create(w->srv, "another app", &other);
	ASSERT_OK(cw_client_new(&stranger, w->srv->url, other.id));
	world_defer(w, free_client, stranger);
	ASSERT_ERR(cw_client_set_session_file(stranger, path), CW_ERR_NOT_LOGGED_IN);
	assert_null(cw_get_logged_in_user(stranger));

	ASSERT_OK(cw_logout_sync(second->client, 0));
	assert_false(file_exists(path));
	assert_null(cw_get_logged_in_user(second->client));
	assert_int_equal(cw_client_get_connection_state(second->client), CW_CONNECTION_OFFLINE);
	/* Nothing is left to restore. */
	third = peer_new(w, "alice");
	ASSERT_ERR(cw_client_set_session_file(third->client, path), CW_ERR_NOT_LOGGED_IN);
	assert_null(cw_get_logged_in_user(third->client));
}

static void restored_login_with_a_revoked_token_reports_unauthorized(void **state)
{
	struct world *w = *state;
	struct peer *first = peer_new(w, "alice"), *second;
	const struct rec_event *ev;
	char path[400];

	snprintf(path, sizeof(path), "%s/alice.session", w->tmpdir);
	ASSERT_ERR(cw_client_set_session_file(first->client, path), CW_ERR_NOT_LOGGED_IN);
	ASSERT_OK(cw_login_with_auth_key_sync(first->client, "alice", w->app.auth_key, 0));
	EXPECT_EVENT(first->rec, "connected", NULL);
	peer_close(w, first);
	/* Meanwhile the app's backend revoked the user's tokens. */
	assert_true(cwt_tokens_revoke(w->srv, &w->app, "alice") >= 1);

	second = peer_new(w, "alice");
	ASSERT_OK(cw_client_set_session_file(second->client, path));
	ev = EXPECT_EVENT(second->rec, "disconnected", NULL);
	assert_int_equal(ev->status, CW_ERR_UNAUTHORIZED);
	assert_int_equal(cw_client_get_connection_state(second->client), CW_CONNECTION_OFFLINE);
	assert_int_equal(rec_count(second->rec, "connected", NULL), 0);
	/* A fresh login is the way back. */
	ASSERT_OK(cw_login_with_auth_key_sync(second->client, "alice", w->app.auth_key, 0));
	EXPECT_EVENT(second->rec, "connected", NULL);
	assert_int_equal(rec_count(second->rec, "reconnecting", NULL), 0);
}

static void login_after_logout_switches_the_user_of_the_client(void **state)
{
	struct world *w = *state;
	struct peer *bob = peer_login(w, "bob"), *device = peer_login(w, "alice");
	const char *to_alice, *to_carol;
	cw_user *me;

	ASSERT_OK(cw_logout_sync(device->client, 0));
	ASSERT_OK(cw_login_with_auth_key_sync(device->client, "carol", w->app.auth_key, 0));
	EXPECT_EVENT_N(device->rec, "connected", NULL, 2);
	me = cw_get_logged_in_user(device->client);
	assert_non_null(me);
	assert_string_equal(cw_user_get_uid(me), "carol");
	cw_user_unref(me);

	/* alice's calls no longer reach the device; carol's do. */
	to_alice = cw_call_get_session_id(
		ring(w, bob, "alice", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	ASSERT_OK(cw_cancel_call_sync(bob->client, to_alice, 0, NULL));
	to_carol = cw_call_get_session_id(
		ring(w, bob, "carol", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(device->rec, "incoming_call_received", to_carol);
	assert_int_equal(rec_count(device->rec, NULL, to_alice), 0);
	assert_int_equal(rec_count(device->rec, "incoming_call_received", NULL), 1);
}

static void revoked_token_disconnects_with_unauthorized_until_the_next_login(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	const struct rec_event *ev;
	cw_call *call = NULL;
	const char *sid;

	assert_true(cwt_tokens_revoke(w->srv, &w->app, "bob") >= 1);
	ev = EXPECT_EVENT(bob->rec, "disconnected", NULL);
	assert_int_equal(ev->status, CW_ERR_UNAUTHORIZED);
	assert_int_equal(cw_client_get_connection_state(bob->client), CW_CONNECTION_OFFLINE);

	/* A new login brings bob back; in between the client did not try to reconnect. */
	ASSERT_OK(cw_login_with_auth_key_sync(bob->client, "bob", w->app.auth_key, 0));
	EXPECT_EVENT_N(bob->rec, "connected", NULL, 2);
	assert_int_equal(rec_count(bob->rec, "reconnecting", NULL), 0);
	assert_int_equal(rec_count(bob->rec, "reconnected", NULL), 0);
	assert_int_equal(rec_count(bob->rec, "disconnected", NULL), 1);
	ASSERT_OK(cw_get_active_call_sync(bob->client, 0, &call));
	assert_null(call);
	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);
}

static void async_functions_call_back_once_on_the_network_thread(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_new(w, "alice"), *bob = peer_login(w, "bob");
	struct done *login = world_done(w), *init = world_done(w), *acc = world_done(w),
		    *get = world_done(w), *active = world_done(w), *end = world_done(w),
		    *none = world_done(w), *out = world_done(w);
	struct done *all[] = {login, init, acc, get, active, end, none, out};
	const char *sid;

	ASSERT_OK(cw_login_with_auth_key(alice->client, "alice", w->app.auth_key, done_user_cb,
					 login));
	EXPECT_DONE(login);
	assert_int_equal(login->err, 0);
	assert_string_equal(cw_user_get_uid(login->user), "alice");
	EXPECT_EVENT(alice->rec, "connected", NULL);

	ASSERT_OK(cw_initiate_call(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_VIDEO, 0,
				   "{\"k\":\"v\"}", done_call_cb, init));
	EXPECT_DONE(init);
	assert_int_equal(init->err, 0);
	assert_non_null(init->call);
	assert_int_equal(cw_call_get_status(init->call), CW_STATUS_INITIATED);
	sid = cw_call_get_session_id(init->call);
	EXPECT_EVENT(bob->rec, "incoming_call_received", sid);

	ASSERT_OK(cw_accept_call(bob->client, sid, done_call_cb, acc));
	EXPECT_DONE(acc);
	assert_int_equal(acc->err, 0);
	assert_int_equal(cw_call_get_status(acc->call), CW_STATUS_ONGOING);
	EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);

	ASSERT_OK(cw_get_call(alice->client, sid, done_call_cb, get));
	EXPECT_DONE(get);
	assert_int_equal(get->err, 0);
	assert_string_equal(cw_call_get_session_id(get->call), sid);
	assert_int_equal(cw_call_get_status(get->call), CW_STATUS_ONGOING);

	ASSERT_OK(cw_get_active_call(bob->client, done_call_cb, active));
	EXPECT_DONE(active);
	assert_int_equal(active->err, 0);
	assert_non_null(active->call);
	assert_string_equal(cw_call_get_session_id(active->call), sid);

	ASSERT_OK(cw_end_call(bob->client, sid, done_call_cb, end));
	EXPECT_DONE(end);
	assert_int_equal(end->err, 0);
	assert_int_equal(cw_call_get_status(end->call), CW_STATUS_ENDED);
	EXPECT_EVENT(alice->rec, "call_ended", sid);

	ASSERT_OK(cw_get_active_call(alice->client, done_call_cb, none));
	EXPECT_DONE(none);
	assert_int_equal(none->err, 0);
	assert_null(none->call);

	ASSERT_OK(cw_logout(alice->client, done_cb, out));
	EXPECT_DONE(out);
	assert_int_equal(out->err, 0);
	assert_int_equal(cw_client_get_connection_state(alice->client), CW_CONNECTION_OFFLINE);
	ASSERT_ERR(cw_get_active_call(alice->client, done_call_cb, none), CW_ERR_NOT_LOGGED_IN);

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_int_equal(done_count(all[i]), 1);
		assert_false(pthread_equal(all[i]->ran_on, pthread_self()));
	}
}

/* What bob's listener and completions did on the network thread. */
struct nested {
	int accept_sync_rc;
	int active_sync_rc;
	int initiate_sync_rc;
	char sync_message[256];
	int get_sync_rc;  /* inside the accept completion */
	int get_async_rc; /* inside the accept completion */
	int accept_async_rc;
	struct done *accepted; /* completion of the accept started in the listener */
	struct done *got;      /* completion of the get started in that completion */
};

static void get_inside_completion(struct done *d, cw_client *client)
{
	struct nested *n = d->ctx;
	cw_call *c = NULL;

	n->get_sync_rc = cw_get_call_sync(client, cw_call_get_session_id(d->call), 1000, &c);
	cw_call_unref(c);
	n->get_async_rc =
		cw_get_call(client, cw_call_get_session_id(d->call), done_call_cb, n->got);
}

static void answer_inside_listener(cw_client *client, cw_call *call, void *arg)
{
	struct nested *n = arg;
	cw_call *c = NULL;

	n->accept_sync_rc = cw_accept_call_sync(client, cw_call_get_session_id(call), 1000, &c);
	snprintf(n->sync_message, sizeof(n->sync_message), "%s", cw_last_error_message());
	cw_call_unref(c);
	c = NULL;
	n->active_sync_rc = cw_get_active_call_sync(client, 1000, &c);
	cw_call_unref(c);
	c = NULL;
	n->initiate_sync_rc = cw_initiate_call_sync(client, "carol", CW_RECEIVER_USER,
						    CW_CALL_AUDIO, 0, NULL, 1000, &c);
	cw_call_unref(c);
	n->accept_async_rc =
		cw_accept_call(client, cw_call_get_session_id(call), done_call_cb, n->accepted);
}

static void sync_calls_in_a_callback_would_deadlock_but_async_calls_work(void **state)
{
	struct world *w = *state;
	static const cw_call_listener answerer = {.incoming_call_received = answer_inside_listener};
	struct peer *alice = peer_login(w, "alice"), *bob = peer_login(w, "bob");
	struct nested *n = calloc(1, sizeof(*n));
	const char *sid;

	assert_non_null(n);
	world_defer(w, free, n);
	n->accepted = world_done(w);
	n->got = world_done(w);
	n->accepted->then = get_inside_completion;
	n->accepted->ctx = n;
	ASSERT_OK(cw_add_call_listener(bob->client, "answerer", &answerer, n));

	sid = cw_call_get_session_id(
		ring(w, alice, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL));
	EXPECT_EVENT(alice->rec, "outgoing_call_accepted", sid);
	EXPECT_DONE(n->accepted);
	EXPECT_DONE(n->got);

	assert_int_equal(n->accept_sync_rc, CW_ERR_WOULD_DEADLOCK);
	assert_int_equal(n->active_sync_rc, CW_ERR_WOULD_DEADLOCK);
	assert_int_equal(n->initiate_sync_rc, CW_ERR_WOULD_DEADLOCK);
	assert_string_equal(n->sync_message, cw_strerror(CW_ERR_WOULD_DEADLOCK));
	assert_int_equal(n->accept_async_rc, 0);
	assert_int_equal(n->accepted->err, 0);
	assert_int_equal(cw_call_get_status(n->accepted->call), CW_STATUS_ONGOING);
	assert_int_equal(n->get_sync_rc, CW_ERR_WOULD_DEADLOCK);
	assert_int_equal(n->get_async_rc, 0);
	assert_int_equal(n->got->err, 0);
	assert_string_equal(cw_call_get_session_id(n->got->call), sid);
	assert_int_equal(cw_call_get_status(n->got->call), CW_STATUS_ONGOING);
	/* The blocked attempts changed nothing: bob is in alice's call, not in one with carol. */
	assert_int_equal(rec_count(bob->rec, "accepted_elsewhere", sid), 0);
}

static void freeing_a_client_cancels_its_pending_requests(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice");
	struct done *pending = world_done(w);

	/* With the server gone the request waits for a connection that never comes. */
	assert_int_equal(cwt_server_signal(w->srv, SIGKILL), 128 + SIGKILL);
	EXPECT_EVENT(alice->rec, "disconnected", NULL);
	ASSERT_OK(cw_get_active_call(alice->client, done_call_cb, pending));
	peer_close(w, alice);
	assert_int_equal(done_count(pending), 1);
	assert_int_equal(pending->err, CW_ERR_CANCELLED);
	assert_null(pending->call);
}

/* bob's client frees itself when its call is answered, with a request still pending. */
struct self_free {
	struct done *pending;
	int get_rc;
};

static void free_myself(cw_client *client, cw_call *call, void *arg)
{
	struct self_free *sf = arg;

	sf->get_rc = cw_get_call(client, cw_call_get_session_id(call), done_call_cb, sf->pending);
	cw_client_free(client);
}

static void client_may_free_itself_inside_a_callback(void **state)
{
	struct world *w = *state;
	static const cw_call_listener freer = {.outgoing_call_accepted = free_myself};
	struct peer *alice = peer_login(w, "alice");
	struct recorder *rec = world_recorder(w, "bob (frees itself)");
	struct self_free *sf = calloc(1, sizeof(*sf));
	cw_client *bob;
	cw_call *c = NULL;
	const char *sid;

	assert_non_null(sf);
	world_defer(w, free, sf);
	sf->pending = world_done(w);
	cwt_app_settings(w->srv, &w->app, "{\"reconnectGrace\":1}");
	ASSERT_OK(cw_client_new(&bob, w->srv->url, w->app.id));
	ASSERT_OK(cw_add_call_listener(bob, "freer", &freer, sf));
	ASSERT_OK(rec_attach(rec, bob, "recorder"));
	ASSERT_OK(cw_login_with_auth_key_sync(bob, "bob", w->app.auth_key, 0));
	EXPECT_EVENT(rec, "connected", NULL);
	ASSERT_OK(cw_initiate_call_sync(bob, "alice", CW_RECEIVER_USER, CW_CALL_AUDIO, 0, NULL, 0,
					&c));
	sid = cw_call_get_session_id(keep(w, c));
	EXPECT_EVENT(alice->rec, "incoming_call_received", sid);
	accept_sync(w, alice, sid);

	/* The request started in the callback is cancelled when the client goes. */
	EXPECT_DONE(sf->pending);
	assert_int_equal(sf->get_rc, 0);
	assert_int_equal(sf->pending->err, CW_ERR_CANCELLED);
	/* bob's connection closed with it, so the server ends the call after the grace. */
	EXPECT_EVENT(alice->rec, "call_ended", sid);
	/* Once freed, nothing of the client fires: not even the listener added after the
	 * one that freed it, for the same event. */
	assert_int_equal(rec_count(rec, "outgoing_call_accepted", sid), 0);
}

/* A request the server would refuse by closing the connection (over 64 KiB) is refused by
 * the library at once; the connection, and the requests of others on it, are untouched. */
static void oversized_requests_are_refused_before_they_reach_the_server(void **state)
{
	struct world *w = *state;
	struct peer *alice = peer_login(w, "alice");
	cw_call_log_request *req;
	size_t n = 70000;
	char *big = malloc(n + 1), *meta = malloc(n + 16);
	cw_call *call = NULL;
	int strays = __atomic_load_n(&stray_calls, __ATOMIC_SEQ_CST);

	assert_non_null(big);
	assert_non_null(meta);
	memset(big, 'x', n);
	big[n] = '\0';
	snprintf(meta, n + 16, "{\"note\":\"%s\"}", big);
	EXPECT_EVENT(alice->rec, "connected", NULL);
	assert_int_equal(cw_initiate_call(alice->client, "bob", CW_RECEIVER_USER, CW_CALL_AUDIO, 0,
					  meta, stray_call_cb, NULL),
			 CW_ERR_PAYLOAD_TOO_LARGE);
	ASSERT_OK(cw_call_log_request_new(&req, alice->client));
	ASSERT_OK(cw_call_log_request_set_uid(req, big));
	assert_int_equal(cw_call_log_request_fetch_next(req, stray_page_cb, NULL),
			 CW_ERR_PAYLOAD_TOO_LARGE);
	cw_call_log_request_free(req);
	/* Still connected: the next request goes through on the same connection. */
	ASSERT_OK(cw_get_active_call_sync(alice->client, 0, &call));
	assert_null(call);
	assert_int_equal(rec_count(alice->rec, "disconnected", NULL), 0);
	/* The refused requests never call back. */
	assert_int_equal(__atomic_load_n(&stray_calls, __ATOMIC_SEQ_CST), strays);
	free(big);
	free(meta);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(values_have_the_contracts_names),
		cmocka_unit_test_setup_teardown(
			oversized_requests_are_refused_before_they_reach_the_server, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			every_call_function_before_login_fails_with_not_logged_in, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			wrong_credentials_are_unauthorized_and_leave_the_client_offline,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(login_with_a_token_minted_by_the_rest_api_works,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			persisted_login_is_restored_by_a_new_client_and_logout_removes_it,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			restored_login_with_a_revoked_token_reports_unauthorized, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(login_after_logout_switches_the_user_of_the_client,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			revoked_token_disconnects_with_unauthorized_until_the_next_login,
			world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(
			async_functions_call_back_once_on_the_network_thread, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(
			sync_calls_in_a_callback_would_deadlock_but_async_calls_work, world_setup,
			world_teardown),
		cmocka_unit_test_setup_teardown(freeing_a_client_cancels_its_pending_requests,
						world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(client_may_free_itself_inside_a_callback,
						world_setup, world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
