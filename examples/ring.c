/* ring: rings one user with libcallwire and prints what happens (the SDK's example).
 *
 *   ring SERVER_URL APP_ID UID AUTH_KEY CALLEE [--video] [--timeout S]
 *
 * Logs in as UID with the app's auth key (a development credential: a production app logs
 * in with an auth token from its backend, see docs/sdk.md) and rings CALLEE for S seconds
 * (5-300, default 30). If CALLEE answers, ring stays in the call until CALLEE hangs up or
 * HOLD_SECONDS pass, then hangs up itself. It logs out before it exits. Exit status: 0 when
 * the call was answered, 1 when not (or on an error), 2 on a usage error. Interrupted, ring
 * leaves the call to the server, which cancels it once ring's connection has been gone for
 * the app's reconnectGrace.
 */
/* clock_gettime and pthread_condattr_setclock under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <callwire/callwire.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HOLD_SECONDS = 5, DEFAULT_RING_SECONDS = 30, SLACK_SECONDS = 10 };
/* How far the call has got: the server's statuses folded into the stages ring waits for. */
enum stage { NONE, RINGING, ONGOING, OVER };

/* What main() shares with the callbacks, which run on the SDK's network thread. */
struct ring {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char sid[65];  /* our call's session id, once cw_initiate_call is done */
	cw_call *call; /* the latest snapshot of our call */
	int err;       /* why there is no call, or why no more news will come */
};

static enum stage stage_of(const cw_call *call)
{
	if (!call)
		return NONE;
	if (cw_call_get_status(call) == CW_STATUS_INITIATED)
		return RINGING;
	return cw_call_get_status(call) == CW_STATUS_ONGOING ? ONGOING : OVER;
}

/* Keeps call if it is news about ours (first: it is ours). Answers and events may cross
 * (a refresh after a reconnection against a live event), and a call only moves forward,
 * so the furthest stage wins. */
static void adopt(struct ring *r, cw_call *call, bool first)
{
	pthread_mutex_lock(&r->lock);
	if (first)
		snprintf(r->sid, sizeof(r->sid), "%s", cw_call_get_session_id(call));
	if (strcmp(cw_call_get_session_id(call), r->sid) == 0 &&
	    stage_of(call) >= stage_of(r->call)) {
		if (r->call)
			cw_call_unref(r->call);
		r->call = cw_call_ref(call);
		pthread_cond_signal(&r->changed);
	}
	pthread_mutex_unlock(&r->lock);
}

static void fail(struct ring *r, int err)
{
	pthread_mutex_lock(&r->lock);
	r->err = err;
	pthread_cond_signal(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

/* cw_initiate_call's completion. It runs on the network thread before the events that
 * follow the server's answer, so adopt() knows our session by the time they come. */
static void on_initiated(cw_client *client, int err, const char *message, cw_call *call, void *arg)
{
	(void)client;
	if (err) {
		fprintf(stderr, "ring: cannot ring: %s\n", message);
		fail(arg, err);
	} else {
		adopt(arg, call, true);
	}
}

/* One callback serves accepted, rejected (also busy and unanswered), cancelled and ended:
 * the call's status says which, and main() reports it. */
static void on_call_event(cw_client *client, cw_call *call, void *arg)
{
	(void)client;
	adopt(arg, call, false);
}

static void on_refreshed(cw_client *client, int err, const char *message, cw_call *call, void *arg)
{
	(void)client;
	if (err)
		fprintf(stderr, "ring: cannot refresh the call: %s\n", message);
	else
		adopt(arg, call, false);
}

static void on_reconnected(cw_client *client, bool resumed, void *arg)
{
	struct ring *r = arg;
	char sid[sizeof(r->sid)] = "";

	printf("reconnected%s\n", resumed ? "" : "; events were lost, asking for the call");
	pthread_mutex_lock(&r->lock);
	if (!resumed)
		snprintf(sid, sizeof(sid), "%s", r->sid);
	pthread_mutex_unlock(&r->lock);
	/* On the network thread only the asynchronous functions work, not the _sync ones. */
	if (sid[0] && cw_get_call(client, sid, on_refreshed, r))
		fprintf(stderr, "ring: cannot refresh the call: %s\n", cw_last_error_message());
}

static void on_disconnected(cw_client *client, int err, void *arg)
{
	(void)client;
	printf("connection lost (%s)\n", cw_err_name(err));
	/* A refused token stays refused: the client will not reconnect by itself. */
	if (err == CW_ERR_UNAUTHORIZED)
		fail(arg, err);
}

static void on_reconnecting(cw_client *client, unsigned attempt, unsigned delay_ms, void *arg)
{
	(void)client, (void)arg;
	printf("reconnecting in %.1f s (attempt %u)\n", delay_ms / 1000.0, attempt);
}

/* Waits until the call reaches stage `want`, an error ends the wait, or `seconds` pass;
 * returns the stage reached. A monotonic clock: setting the time cannot cut it short. */
static enum stage wait_for(struct ring *r, enum stage want, int seconds)
{
	struct timespec deadline;
	enum stage now;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
	pthread_mutex_lock(&r->lock);
	while ((now = stage_of(r->call)) < want && !r->err &&
	       pthread_cond_timedwait(&r->changed, &r->lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&r->lock);
	return now;
}

/* Hands the call a _sync function returned to adopt(), and lets go of it. */
static void adopt_result(struct ring *r, int err, cw_call *call)
{
	if (!err)
		adopt(r, call, false);
	if (call)
		cw_call_unref(call);
}

/* How the call ended, from the caller's side. */
static void report(const cw_call *call, const char *callee)
{
	switch (cw_call_get_status(call)) {
	case CW_STATUS_ENDED:
		printf("call ended after %.0f s\n", cw_call_get_duration(call));
		break;
	case CW_STATUS_REJECTED:
		printf("%s rejected the call\n", callee);
		break;
	case CW_STATUS_BUSY:
		printf("%s is busy\n", callee);
		break;
	case CW_STATUS_UNANSWERED:
		printf("%s did not answer\n", callee);
		break;
	default: /* cancelled, or still ringing or ongoing after a failure */
		printf("the call is %s\n", cw_call_status_str(cw_call_get_status(call)));
	}
}

int main(int argc, char **argv)
{
	static const cw_call_listener calls = {
		.outgoing_call_accepted = on_call_event,
		.outgoing_call_rejected = on_call_event,
		.outgoing_call_cancelled = on_call_event,
		.call_ended = on_call_event,
	};
	static const cw_connection_listener connection = {
		.disconnected = on_disconnected,
		.reconnecting = on_reconnecting,
		.reconnected = on_reconnected,
	};
	struct ring r = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cw_call_type type = CW_CALL_AUDIO;
	int ring_s = DEFAULT_RING_SECONDS, err;
	bool logged_in = false, answered = false;
	cw_client *client = NULL;
	cw_call *call = NULL;
	pthread_condattr_t attr;
	char *end;

	for (int i = 6; i < argc; i++) {
		if (strcmp(argv[i], "--video") == 0) {
			type = CW_CALL_VIDEO;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			ring_s = (int)strtol(argv[++i], &end, 10);
			if (*end || ring_s < 5 || ring_s > 300)
				argc = 0; /* a usage error */
		} else {
			argc = 0;
		}
	}
	if (argc < 6) {
		fprintf(stderr, "usage: ring SERVER_URL APP_ID UID AUTH_KEY CALLEE [--video] "
				"[--timeout S]\n");
		return 2;
	}
	const char *uid = argv[3], *callee = argv[5];
	enum stage reached = NONE;

	setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time, also into a pipe */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r.changed, &attr);
	pthread_condattr_destroy(&attr);

	if ((err = cw_client_new(&client, argv[1], argv[2])))
		goto out;
	/* Listeners go on before the login so that no event can slip past them. An app adds
	 * its call listener once, at its top level, under an id that never changes. */
	if ((err = cw_add_call_listener(client, "ring.calls", &calls, &r)) ||
	    (err = cw_add_connection_listener(client, "ring.connection", &connection, &r)) ||
	    (err = cw_login_with_auth_key_sync(client, uid, argv[4], 0)))
		goto out;
	logged_in = true;
	printf("logged in as %s\n", uid);

	if ((err = cw_initiate_call(client, callee, CW_RECEIVER_USER, type, ring_s, NULL,
				    on_initiated, &r)))
		goto out;
	/* on_initiated() says why when the request fails. */
	if (wait_for(&r, RINGING, ring_s + SLACK_SECONDS) == NONE)
		goto out;
	/* r.sid is written once, before the signal that woke us: reading it needs no lock. */
	printf("ringing %s (%s call %s)\n", callee, cw_call_type_str(type), r.sid);

	/* The server stops the ring after ring_s; the slack covers a slow network. */
	reached = wait_for(&r, ONGOING, ring_s + SLACK_SECONDS);
	if (reached == RINGING) {
		printf("still ringing: cancelling\n");
		err = cw_cancel_call_sync(client, r.sid, 0, &call);
		adopt_result(&r, err, call);
	} else if (reached == ONGOING) {
		printf("%s accepted the call\n", callee);
		if (wait_for(&r, OVER, HOLD_SECONDS) == ONGOING) {
			printf("hanging up\n");
			err = cw_end_call_sync(client, r.sid, 0, &call);
			adopt_result(&r, err, call);
		} else {
			printf("%s hung up\n", callee);
		}
	}

out:
	if (err)
		fprintf(stderr, "ring: %s (%s)\n", cw_last_error_message(), cw_err_name(err));
	/* Logging out revokes the token this run's login created. */
	if (logged_in && cw_logout_sync(client, 0))
		fprintf(stderr, "ring: logout: %s\n", cw_last_error_message());
	/* Freeing the client stops its network thread: no callback runs after this, so r.call
	 * can be read without the lock. */
	cw_client_free(client);
	if (r.call) {
		/* joinedAt is set once the callee accepted, whatever happened next. */
		answered = cw_call_get_joined_at(r.call) != 0;
		if (answered && reached != ONGOING) /* it was all over before we looked */
			printf("%s accepted the call\n", callee);
		report(r.call, callee);
		cw_call_unref(r.call);
	}
	pthread_cond_destroy(&r.changed);
	return answered ? 0 : 1;
}
