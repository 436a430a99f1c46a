/* world: the per-test fixture of the SDK tests: a server, an app, users and their clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "world.h"

static void global_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(curl_global_cleanup);
}

int world_setup(void **state)
{
	static const char *const users[][2] = {
		{"alice", "Alice"}, {"bob", "Bob"}, {"carol", "Carol"}, {"dave", "Dave"}};
	const char *tmp = getenv("TMPDIR");
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	global_init();
	snprintf(w->tmpdir, sizeof(w->tmpdir), "%s/cwt-tmp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(w->tmpdir) || cwt_server_new(&w->srv) != 0) {
		free(w);
		return -1;
	}
	*state = w;
	cwt_app_create(w->srv, "sdk test", &w->app);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		cwt_user_create(w->srv, &w->app, users[i][0], users[i][1]);
	return 0;
}

int world_teardown(void **state)
{
	struct world *w = *state;
	int rc = 0;

	if (!w)
		return 0;
	/* Clients first: once they are freed no callback can reach what follows. */
	for (size_t i = 0; i < w->n_peers; i++) {
		cw_client_free(w->peers[i]->client);
		w->peers[i]->client = NULL;
	}
	while (w->n_deferred > 0) {
		w->n_deferred--;
		w->deferred[w->n_deferred].fn(w->deferred[w->n_deferred].p);
	}
	for (size_t i = 0; i < w->n_peers; i++) {
		rec_free(w->peers[i]->rec);
		free(w->peers[i]);
	}
	if (w->srv && cwt_server_stop(w->srv) != 0)
		rc = -1;
	cwt_server_free(w->srv);
	cwt_rm_rf(w->tmpdir);
	free(w);
	*state = NULL;
	return rc;
}

void world_defer(struct world *w, void (*fn)(void *), void *p)
{
	assert_true(w->n_deferred < sizeof(w->deferred) / sizeof(w->deferred[0]));
	w->deferred[w->n_deferred].fn = fn;
	w->deferred[w->n_deferred].p = p;
	w->n_deferred++;
}

static void free_done(void *p)
{
	done_free(p);
}

static void free_recorder(void *p)
{
	rec_free(p);
}

struct done *world_done(struct world *w)
{
	struct done *d = done_new();

	assert_non_null(d);
	world_defer(w, free_done, d);
	return d;
}

struct recorder *world_recorder(struct world *w, const char *label)
{
	struct recorder *rec = rec_new(label);

	assert_non_null(rec);
	world_defer(w, free_recorder, rec);
	return rec;
}

struct peer *peer_new(struct world *w, const char *uid)
{
	struct peer *p = calloc(1, sizeof(*p));
	char label[96];

	assert_non_null(p);
	assert_true(w->n_peers < WORLD_MAX);
	w->peers[w->n_peers++] = p;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	snprintf(label, sizeof(label), "%s#%zu", uid, w->n_peers);
	p->rec = rec_new(label);
	assert_non_null(p->rec);
	assert_int_equal(cw_client_new(&p->client, w->srv->url, w->app.id), 0);
	assert_int_equal(cw_client_set_request_timeout(p->client, CWT_EVENT_TIMEOUT_MS), 0);
	assert_int_equal(rec_attach(p->rec, p->client, PEER_LISTENER_ID), 0);
	return p;
}

struct peer *peer_login(struct world *w, const char *uid)
{
	struct peer *p = peer_new(w, uid);
	int rc = cw_login_with_auth_key_sync(p->client, uid, w->app.auth_key, 0);

	if (rc != 0) {
		print_error("login of %s: %s (%s)\n", uid, cw_err_name(rc),
			    cw_last_error_message());
		cwt_server_print_log(w->srv, 30);
		fail();
	}
	EXPECT_EVENT(p->rec, "connected", NULL);
	return p;
}

void peer_close(struct world *w, struct peer *p)
{
	(void)w;
	cw_client_free(p->client);
	p->client = NULL;
}

size_t participant_index(const cw_call *call, const char *uid)
{
	size_t n = cw_call_get_participant_count(call);

	for (size_t i = 0; i < n; i++) {
		const char *u = cw_call_get_participant_uid(call, i);

		if (u && strcmp(u, uid) == 0)
			return i;
	}
	print_error("%s is not a participant of %s\n", uid, cw_call_get_session_id(call));
	fail();
	return 0;
}

void assert_ok_at(int rc, const char *what, const char *file, int line)
{
	if (rc == 0)
		return;
	print_error("%s:%d: %s: %s (%s)\n", file, line, what, cw_err_name(rc),
		    cw_last_error_message());
	_fail(file, line);
}

void assert_err_at(int rc, int want, const char *what, const char *file, int line)
{
	if (rc == want)
		return;
	print_error("%s:%d: %s: want %s, got %s (%s)\n", file, line, what, cw_err_name(want),
		    cw_err_name(rc), cw_last_error_message());
	_fail(file, line);
}

void assert_refused_at(int rc, struct done *d, const char *what, const char *file, int line)
{
	if (rc == CW_ERR_INVALID_ARGUMENT)
		return;
	assert_ok_at(rc, what, file, line);
	done_expect(d, file, line);
	assert_err_at(d->err, CW_ERR_BAD_REQUEST, what, file, line);
}

static void unref_call(void *p)
{
	cw_call_unref(p);
}

cw_call *keep(struct world *w, cw_call *call)
{
	if (call)
		world_defer(w, unref_call, call);
	return call;
}

cw_call *ring(struct world *w, struct peer *from, const char *receiver,
	      cw_receiver_type receiver_type, cw_call_type type, int ring_timeout_s,
	      const char *metadata_json)
{
	cw_call *call = NULL;

	ASSERT_OK(cw_initiate_call_sync(from->client, receiver, receiver_type, type, ring_timeout_s,
					metadata_json, 0, &call));
	assert_non_null(call);
	return keep(w, call);
}

cw_call *accept_sync(struct world *w, struct peer *p, const char *session_id)
{
	cw_call *call = NULL;

	ASSERT_OK(cw_accept_call_sync(p->client, session_id, 0, &call));
	assert_non_null(call);
	return keep(w, call);
}

cw_call *end_sync(struct world *w, struct peer *p, const char *session_id)
{
	cw_call *call = NULL;

	ASSERT_OK(cw_end_call_sync(p->client, session_id, 0, &call));
	assert_non_null(call);
	return keep(w, call);
}
