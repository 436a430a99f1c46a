/* recorder: listeners that log every SDK event, and completions of async calls, to wait on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "recorder.h"

struct recorder {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char label[64];
	pthread_t creator;
	struct rec_event **log;
	size_t n, cap;
};

static unsigned long next_order = 1;
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;

/* Condition variables on CLOCK_MONOTONIC, so that deadlines ignore clock changes. */
static void cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
}

static struct timespec deadline_of(int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

struct recorder *rec_new(const char *label)
{
	struct recorder *rec = calloc(1, sizeof(*rec));

	if (!rec)
		return NULL;
	pthread_mutex_init(&rec->mu, NULL);
	cond_init(&rec->cv);
	snprintf(rec->label, sizeof(rec->label), "%s", label);
	rec->creator = pthread_self();
	return rec;
}

void rec_free(struct recorder *rec)
{
	if (!rec)
		return;
	for (size_t i = 0; i < rec->n; i++) {
		cw_call_unref(rec->log[i]->call);
		free(rec->log[i]);
	}
	free(rec->log);
	pthread_cond_destroy(&rec->cv);
	pthread_mutex_destroy(&rec->mu);
	free(rec);
}

/* Appends one event. Runs on the SDK's network thread: no cmocka assertion here. */
static void note(struct recorder *rec, const char *name, cw_call *call, const char *uid, int status,
		 long detail)
{
	struct rec_event *ev = calloc(1, sizeof(*ev));

	if (!ev) {
		fprintf(stderr, "recorder %s: out of memory, %s lost\n", rec->label, name);
		return;
	}
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	if (call) {
		const char *sid = cw_call_get_session_id(call);

		snprintf(ev->session_id, sizeof(ev->session_id), "%s", sid ? sid : "(null)");
		ev->status = (int)cw_call_get_status(call);
		ev->call = cw_call_ref(call);
	} else {
		ev->status = status;
	}
	snprintf(ev->uid, sizeof(ev->uid), "%s", uid ? uid : "");
	ev->detail = detail;
	ev->on_test_thread = pthread_equal(pthread_self(), rec->creator);

	pthread_mutex_lock(&rec->mu);
	pthread_mutex_lock(&order_mu);
	ev->order = next_order++;
	pthread_mutex_unlock(&order_mu);
	if (rec->n == rec->cap) {
		size_t cap = rec->cap ? 2 * rec->cap : 32;
		struct rec_event **log = realloc(rec->log, cap * sizeof(*log));

		if (!log) {
			pthread_mutex_unlock(&rec->mu);
			cw_call_unref(ev->call);
			free(ev);
			fprintf(stderr, "recorder %s: out of memory, %s lost\n", rec->label, name);
			return;
		}
		rec->log = log;
		rec->cap = cap;
	}
	rec->log[rec->n++] = ev;
	pthread_cond_broadcast(&rec->cv);
	pthread_mutex_unlock(&rec->mu);
}

#define CALL_EVENT(member)                                                                         \
	static void on_##member(cw_client *client, cw_call *call, void *arg)                       \
	{                                                                                          \
		(void)client;                                                                      \
		note(arg, #member, call, NULL, -1, 0);                                             \
	}
CALL_EVENT(incoming_call_received)
CALL_EVENT(outgoing_call_accepted)
CALL_EVENT(outgoing_call_rejected)
CALL_EVENT(outgoing_call_cancelled)
CALL_EVENT(incoming_call_cancelled)
CALL_EVENT(call_ended)
CALL_EVENT(accepted_elsewhere)
CALL_EVENT(rejected_elsewhere)
#undef CALL_EVENT

static void on_participant_joined(cw_client *client, cw_call *call, const char *uid, void *arg)
{
	(void)client;
	note(arg, "participant_joined", call, uid, -1, 0);
}

static void on_participant_left(cw_client *client, cw_call *call, const char *uid, void *arg)
{
	(void)client;
	note(arg, "participant_left", call, uid, -1, 0);
}

static void on_connected(cw_client *client, void *arg)
{
	(void)client;
	note(arg, "connected", NULL, NULL, -1, 0);
}

static void on_disconnected(cw_client *client, int err, void *arg)
{
	(void)client;
	note(arg, "disconnected", NULL, NULL, err, 0);
}

static void on_reconnecting(cw_client *client, unsigned attempt, unsigned delay_ms, void *arg)
{
	(void)client;
	(void)delay_ms;
	note(arg, "reconnecting", NULL, NULL, -1, (long)attempt);
}

static void on_reconnected(cw_client *client, bool resumed, void *arg)
{
	(void)client;
	note(arg, "reconnected", NULL, NULL, -1, resumed);
}

static const cw_call_listener call_listener = {
	.incoming_call_received = on_incoming_call_received,
	.outgoing_call_accepted = on_outgoing_call_accepted,
	.outgoing_call_rejected = on_outgoing_call_rejected,
	.outgoing_call_cancelled = on_outgoing_call_cancelled,
	.incoming_call_cancelled = on_incoming_call_cancelled,
	.call_ended = on_call_ended,
	.accepted_elsewhere = on_accepted_elsewhere,
	.rejected_elsewhere = on_rejected_elsewhere,
	.participant_joined = on_participant_joined,
	.participant_left = on_participant_left,
};

static const cw_connection_listener connection_listener = {
	.connected = on_connected,
	.disconnected = on_disconnected,
	.reconnecting = on_reconnecting,
	.reconnected = on_reconnected,
};

const cw_call_listener *rec_call_listener(void)
{
	return &call_listener;
}

const cw_connection_listener *rec_connection_listener(void)
{
	return &connection_listener;
}

int rec_attach(struct recorder *rec, cw_client *client, const char *id)
{
	int rc = cw_add_call_listener(client, id, &call_listener, rec);

	if (rc == 0)
		rc = cw_add_connection_listener(client, id, &connection_listener, rec);
	return rc;
}

static bool matches(const struct rec_event *ev, const char *name, const char *session_id)
{
	return (!name || strcmp(ev->name, name) == 0) &&
	       (!session_id || strcmp(ev->session_id, session_id) == 0);
}

/* The n-th match, or NULL; rec->mu held. */
static const struct rec_event *find(struct recorder *rec, const char *name, const char *session_id,
				    size_t n)
{
	size_t seen = 0;

	for (size_t i = 0; i < rec->n; i++) {
		if (matches(rec->log[i], name, session_id) && ++seen == n)
			return rec->log[i];
	}
	return NULL;
}

const struct rec_event *wait_event_n(struct recorder *rec, const char *name, const char *session_id,
				     size_t n, int timeout_ms)
{
	struct timespec deadline = deadline_of(timeout_ms);
	const struct rec_event *ev;

	pthread_mutex_lock(&rec->mu);
	while (!(ev = find(rec, name, session_id, n))) {
		if (pthread_cond_timedwait(&rec->cv, &rec->mu, &deadline) == ETIMEDOUT) {
			ev = find(rec, name, session_id, n);
			break;
		}
	}
	pthread_mutex_unlock(&rec->mu);
	return ev;
}

size_t rec_count(struct recorder *rec, const char *name, const char *session_id)
{
	size_t count = 0;

	pthread_mutex_lock(&rec->mu);
	for (size_t i = 0; i < rec->n; i++)
		count += matches(rec->log[i], name, session_id);
	pthread_mutex_unlock(&rec->mu);
	return count;
}

void rec_dump(struct recorder *rec)
{
	pthread_mutex_lock(&rec->mu);
	fprintf(stderr, "--- events of %s (%zu) ---\n", rec->label, rec->n);
	for (size_t i = 0; i < rec->n; i++) {
		const struct rec_event *ev = rec->log[i];

		fprintf(stderr, "  #%lu %s session=%s status=%d uid=%s detail=%ld\n", ev->order,
			ev->name, ev->session_id, ev->status, ev->uid, ev->detail);
	}
	pthread_mutex_unlock(&rec->mu);
}

const struct rec_event *rec_expect(struct recorder *rec, const char *name, const char *session_id,
				   size_t n, int timeout_ms, const char *file, int line)
{
	const struct rec_event *ev = wait_event_n(rec, name, session_id, n, timeout_ms);

	if (!ev) {
		print_error("%s:%d: %s: no %s #%zu of session %s within %d ms\n", file, line,
			    rec->label, name, n, session_id ? session_id : "(any)", timeout_ms);
		rec_dump(rec);
		cwt_server_print_log(cwt_current_server(), 30);
		_fail(file, line);
	}
	return ev;
}

/* ---- Completions ------------------------------------------------------------------- */

struct done *done_new(void)
{
	struct done *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->mu, NULL);
	cond_init(&d->cv);
	return d;
}

void done_free(struct done *d)
{
	if (!d)
		return;
	cw_call_unref(d->call);
	cw_user_unref(d->user);
	for (size_t i = 0; i < d->page_count; i++)
		free(d->page_ids[i]);
	free(d->page_ids);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* Records the outcome; the page, call and user were noted by the caller. */
static void finish(struct done *d, cw_client *client, int err, const char *message)
{
	pthread_mutex_lock(&d->mu);
	d->err = err;
	snprintf(d->message, sizeof(d->message), "%s", message ? message : "");
	d->ran_on = pthread_self();
	pthread_mutex_unlock(&d->mu);
	if (d->then)
		d->then(d, client);
	pthread_mutex_lock(&d->mu);
	d->fired++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void done_cb(cw_client *client, int err, const char *message, void *arg)
{
	finish(arg, client, err, message);
}

void done_user_cb(cw_client *client, int err, const char *message, cw_user *user, void *arg)
{
	struct done *d = arg;

	pthread_mutex_lock(&d->mu);
	cw_user_unref(d->user);
	d->user = user ? cw_user_ref(user) : NULL;
	pthread_mutex_unlock(&d->mu);
	finish(d, client, err, message);
}

void done_call_cb(cw_client *client, int err, const char *message, cw_call *call, void *arg)
{
	struct done *d = arg;

	pthread_mutex_lock(&d->mu);
	cw_call_unref(d->call);
	d->call = call ? cw_call_ref(call) : NULL;
	pthread_mutex_unlock(&d->mu);
	finish(d, client, err, message);
}

void done_page_cb(cw_client *client, int err, const char *message, cw_call_page *page, void *arg)
{
	struct done *d = arg;
	size_t n = page ? cw_call_page_count(page) : 0;

	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->page_count; i++)
		free(d->page_ids[i]);
	free(d->page_ids);
	d->page_ids = n ? calloc(n, sizeof(*d->page_ids)) : NULL;
	d->page_count = d->page_ids ? n : 0;
	for (size_t i = 0; i < d->page_count; i++) {
		const char *sid = cw_call_get_session_id(cw_call_page_get(page, i));

		d->page_ids[i] = strdup(sid ? sid : "(null)");
	}
	d->page_null = page == NULL;
	pthread_mutex_unlock(&d->mu);
	finish(d, client, err, message);
}

int done_count(struct done *d)
{
	int n;

	pthread_mutex_lock(&d->mu);
	n = d->fired;
	pthread_mutex_unlock(&d->mu);
	return n;
}

int done_wait(struct done *d, int timeout_ms)
{
	struct timespec deadline = deadline_of(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&d->mu);
	while (!d->fired) {
		if (pthread_cond_timedwait(&d->cv, &d->mu, &deadline) == ETIMEDOUT) {
			rc = d->fired ? 0 : -1;
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

void done_expect(struct done *d, const char *file, int line)
{
	if (done_wait(d, CWT_EVENT_TIMEOUT_MS + 5000) != 0) {
		print_error("%s:%d: the completion callback did not run within %d ms\n", file, line,
			    CWT_EVENT_TIMEOUT_MS + 5000);
		cwt_server_print_log(cwt_current_server(), 30);
		_fail(file, line);
	}
}
