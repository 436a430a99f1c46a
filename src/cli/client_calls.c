/* client calls: `callwire listen`, `call` (--wait), accept, reject, cancel, end, get, active. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/client.h"
#include "cli/phone.h"

/* ---- listen ------------------------------------------------------------------------ */

struct listen_ctx {
	struct cli_waiter waiter;
	atomic_int stop; /* an exit code once the command cannot go on, else -1 */
};

static void listen_stop(struct listen_ctx *ctx, int code)
{
	int expected = -1;

	atomic_compare_exchange_strong(&ctx->stop, &expected, code);
	cli_waiter_wake(&ctx->waiter);
}

/* Prints obj as one JSON line and takes it; a closed stdout ends the command. */
static void emit(struct listen_ctx *ctx, json_t *obj)
{
	if (!obj || json_dumpf(obj, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		listen_stop(ctx, CLI_EXIT_ERROR);
	json_decref(obj);
}

static void emit_call(struct listen_ctx *ctx, const char *event, cw_call *call, const char *uid)
{
	char *text = cw_call_to_json(call);
	json_t *obj = json_pack("{s:s,s:o?}", "event", event, "call",
				text ? json_loads(text, 0, NULL) : NULL);

	if (obj && uid)
		json_object_set_new(obj, "uid", json_string(uid));
	cw_free(text);
	emit(ctx, obj);
}

/* One callback per member of cw_call_listener, each printing its own name. */
#define LISTEN_CALL_EVENTS(X)                                                                      \
	X(incoming_call_received)                                                                  \
	X(outgoing_call_accepted)                                                                  \
	X(outgoing_call_rejected)                                                                  \
	X(outgoing_call_cancelled)                                                                 \
	X(incoming_call_cancelled)                                                                 \
	X(call_ended)                                                                              \
	X(accepted_elsewhere)                                                                      \
	X(rejected_elsewhere)

#define LISTEN_DEFINE(name)                                                                        \
	static void on_##name(cw_client *client, cw_call *call, void *arg)                         \
	{                                                                                          \
		(void)client;                                                                      \
		emit_call(arg, #name, call, NULL);                                                 \
	}
LISTEN_CALL_EVENTS(LISTEN_DEFINE)
#undef LISTEN_DEFINE

static void on_participant_joined(cw_client *client, cw_call *call, const char *uid, void *arg)
{
	(void)client;
	emit_call(arg, "participant_joined", call, uid);
}

static void on_participant_left(cw_client *client, cw_call *call, const char *uid, void *arg)
{
	(void)client;
	emit_call(arg, "participant_left", call, uid);
}

static void on_connected(cw_client *client, void *arg)
{
	(void)client;
	emit(arg, json_pack("{s:s}", "event", "connected"));
}

static void on_disconnected(cw_client *client, int err, void *arg)
{
	(void)client;
	emit(arg, json_pack("{s:s,s:s}", "event", "disconnected", "error", cw_err_name(err)));
	/* A refused token keeps the client offline until the next login: nothing more can
	 * come, so say so and stop instead of listening forever. */
	if (err == CW_ERR_UNAUTHORIZED) {
		fprintf(stderr, "callwire: %s: %s; log in again (callwire login)\n",
			cw_err_name(err), cw_strerror(err));
		listen_stop(arg, CLI_EXIT_LOGIN);
	}
}

static void on_reconnecting(cw_client *client, unsigned attempt, unsigned delay_ms, void *arg)
{
	(void)client;
	emit(arg, json_pack("{s:s,s:I,s:I}", "event", "reconnecting", "attempt",
			    (json_int_t)attempt, "delayMs", (json_int_t)delay_ms));
}

static void on_reconnected(cw_client *client, bool resumed, void *arg)
{
	(void)client;
	emit(arg, json_pack("{s:s,s:b}", "event", "reconnected", "resumed", resumed));
}

static int listen_setup(cw_client *client, void *arg)
{
	static const cw_call_listener calls = {
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
	static const cw_connection_listener conn = {
		.connected = on_connected,
		.disconnected = on_disconnected,
		.reconnecting = on_reconnecting,
		.reconnected = on_reconnected,
	};
	int err = cw_add_connection_listener(client, "cli-listen", &conn, arg);

	return err ? err : cw_add_call_listener(client, "cli-listen", &calls, arg);
}

int cli_cmd_listen(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("listen")};
	struct listen_ctx ctx = {.stop = -1};
	cw_client *client = NULL;
	int rc;

	if ((rc = cli_parse_plain(&p, argc, argv, 0)) >= 0)
		return rc;
	if (cli_waiter_init(&ctx.waiter) != 0) {
		perror("callwire: pipe");
		return CLI_EXIT_ERROR;
	}
	if ((rc = cli_open(&p.common, &client, listen_setup, &ctx)) != 0)
		goto out;
	while (atomic_load(&ctx.stop) < 0 && cli_waiter_wait(&ctx.waiter))
		;
	rc = atomic_load(&ctx.stop) < 0 ? CLI_EXIT_OK : atomic_load(&ctx.stop);
out:
	/* Joins the network thread: no callback runs after this. */
	cw_client_free(client);
	cli_waiter_close(&ctx.waiter);
	return rc;
}

/* ---- call --------------------------------------------------------------------------- */

#define EARLY_MAX 16

/*
 * What `call --wait` knows about the outcome. Outcome events arrive on the network thread,
 * possibly before the initiate response gives the session id: until then they are kept
 * (the last EARLY_MAX of them) and matched once the id is known.
 */
struct call_wait {
	struct cli_waiter waiter;
	cw_client *client;
	pthread_mutex_t lock;
	char sid[128]; /* empty until the initiate returns */
	struct {
		char sid[128];
		cw_call *call;
	} early[EARLY_MAX];
	size_t nearly;
	cw_call *final; /* the call as of the outcome; NULL while ringing */
	int fatal;	/* an exit code when the outcome can no longer be learned, else 0 */
};

/* The exit code for a call's status; -1 while it still rings. */
static int outcome_of(const cw_call *call)
{
	switch (cw_call_get_status(call)) {
	case CW_STATUS_INITIATED:
		return -1;
	case CW_STATUS_ONGOING:
	case CW_STATUS_ENDED:
		return CLI_EXIT_OK;
	case CW_STATUS_REJECTED:
		return CLI_EXIT_REJECTED;
	case CW_STATUS_BUSY:
		return CLI_EXIT_BUSY;
	case CW_STATUS_UNANSWERED:
		return CLI_EXIT_UNANSWERED;
	case CW_STATUS_CANCELLED:
		return CLI_EXIT_CANCELLED;
	}
	return CLI_EXIT_ERROR;
}

/* Keeps call as the outcome when it is this call's and final. Called with the lock held. */
static bool settle_locked(struct call_wait *w, cw_call *call)
{
	if (w->final || outcome_of(call) < 0 || strcmp(cw_call_get_session_id(call), w->sid) != 0)
		return false;
	w->final = cw_call_ref(call);
	return true;
}

static void remember_early_locked(struct call_wait *w, cw_call *call)
{
	size_t i = w->nearly % EARLY_MAX;

	if (w->nearly >= EARLY_MAX)
		cw_call_unref(w->early[i].call);
	snprintf(w->early[i].sid, sizeof(w->early[i].sid), "%s", cw_call_get_session_id(call));
	w->early[i].call = cw_call_ref(call);
	w->nearly++;
}

static void on_outcome(cw_client *client, cw_call *call, void *arg)
{
	struct call_wait *w = arg;
	bool settled = false;

	(void)client;
	pthread_mutex_lock(&w->lock);
	if (!w->sid[0])
		remember_early_locked(w, call);
	else
		settled = settle_locked(w, call);
	pthread_mutex_unlock(&w->lock);
	if (settled)
		cli_waiter_wake(&w->waiter);
}

static void on_fetched(cw_client *client, int err, const char *message, cw_call *call, void *arg)
{
	(void)client;
	if (err == CW_ERR_CANCELLED)
		return; /* the command is over and frees the client */
	if (err) {
		fprintf(stderr, "callwire: %s: %s (while checking the call after a reconnect)\n",
			cw_err_name(err), message ? message : cw_strerror(err));
		return;
	}
	on_outcome(client, call, arg);
}

/* The events missed while offline are gone: ask the server how the call stands. */
static void on_wait_reconnected(cw_client *client, bool resumed, void *arg)
{
	struct call_wait *w = arg;
	char sid[sizeof(w->sid)];

	if (resumed)
		return;
	pthread_mutex_lock(&w->lock);
	snprintf(sid, sizeof(sid), "%s", w->sid);
	pthread_mutex_unlock(&w->lock);
	if (sid[0])
		cw_get_call(client, sid, on_fetched, w);
}

static void on_wait_disconnected(cw_client *client, int err, void *arg)
{
	struct call_wait *w = arg;

	(void)client;
	if (err != CW_ERR_UNAUTHORIZED)
		return;
	fprintf(stderr, "callwire: %s: %s; log in again (callwire login)\n", cw_err_name(err),
		cw_strerror(err));
	pthread_mutex_lock(&w->lock);
	w->fatal = CLI_EXIT_LOGIN;
	pthread_mutex_unlock(&w->lock);
	cli_waiter_wake(&w->waiter);
}

static int wait_setup(cw_client *client, void *arg)
{
	static const cw_call_listener calls = {
		.outgoing_call_accepted = on_outcome,
		.outgoing_call_rejected = on_outcome,
		.outgoing_call_cancelled = on_outcome,
		.call_ended = on_outcome,
	};
	static const cw_connection_listener conn = {
		.disconnected = on_wait_disconnected,
		.reconnected = on_wait_reconnected,
	};
	int err = cw_add_connection_listener(client, "cli-call-wait", &conn, arg);

	return err ? err : cw_add_call_listener(client, "cli-call-wait", &calls, arg);
}

/* Records the session id of the new call and settles on an event that came first, or on
 * the initiate result itself when it is already final (busy with autoBusy). */
static void wait_started(struct call_wait *w, cw_call *call)
{
	pthread_mutex_lock(&w->lock);
	snprintf(w->sid, sizeof(w->sid), "%s", cw_call_get_session_id(call));
	for (size_t i = 0; i < w->nearly && i < EARLY_MAX; i++)
		if (settle_locked(w, w->early[i].call))
			break;
	settle_locked(w, call);
	pthread_mutex_unlock(&w->lock);
}

static void wait_free(struct call_wait *w)
{
	for (size_t i = 0; i < w->nearly && i < EARLY_MAX; i++)
		cw_call_unref(w->early[i].call);
	cw_call_unref(w->final);
	pthread_mutex_destroy(&w->lock);
}

/* Interrupted while ringing: stop ringing the callee. When the cancel comes too late (the
 * call was answered or refused meanwhile), the call as the server has it is the outcome. */
static void wait_cancel(struct call_wait *w)
{
	cw_call *call = NULL;
	int err = cw_cancel_call_sync(w->client, w->sid, 0, &call), fatal = 0;

	if (err) {
		fatal = cli_fail(err);
		cw_call_unref(call);
		call = NULL;
		if (cw_get_call_sync(w->client, w->sid, 0, &call) != 0 || outcome_of(call) < 0) {
			cw_call_unref(call);
			call = NULL;
		}
	}
	pthread_mutex_lock(&w->lock);
	if (!w->final && call)
		w->final = cw_call_ref(call);
	else if (!w->final && !w->fatal)
		w->fatal = fatal ? fatal : CLI_EXIT_ERROR;
	pthread_mutex_unlock(&w->lock);
	cw_call_unref(call);
}

/* Waits for the outcome, prints the call as it ended up and returns the exit code. */
static int wait_outcome(struct call_wait *w)
{
	int fatal = 0, rc;
	cw_call *final = NULL;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		final = w->final;
		fatal = w->fatal;
		pthread_mutex_unlock(&w->lock);
		if (final || fatal)
			break;
		if (!cli_waiter_wait(&w->waiter))
			wait_cancel(w);
	}
	if (!final)
		return fatal;
	rc = outcome_of(final);
	if (cli_print_call(final) != 0)
		return CLI_EXIT_ERROR;
	if (rc != CLI_EXIT_OK)
		fprintf(stderr, "callwire: call %s: %s\n", w->sid,
			cw_call_status_str(cw_call_get_status(final)));
	return rc;
}

struct call_args {
	const char *receiver;
	cw_receiver_type receiver_type;
	cw_call_type type;
	int ring_timeout;
	const char *metadata;
	bool wait;
	struct phone_opts phone;
};

/* A positive whole number, or -1. */
static int parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v <= 0 || v > 1000000)
		return -1;
	return (int)v;
}

static bool is_json_object(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	bool ok = json_is_object(j);

	json_decref(j);
	return ok;
}

enum { CALL_GROUP, CALL_VIDEO, CALL_TIMEOUT, CALL_METADATA, CALL_WAIT };

static int call_option(struct cli_parser *p, int id, const char *value)
{
	struct call_args *a = p->ctx;

	if (id >= PHONE_AUDIO_IN)
		return phone_option(p, &a->phone, id, value);
	switch (id) {
	case CALL_GROUP:
		a->receiver = value;
		a->receiver_type = CW_RECEIVER_GROUP;
		break;
	case CALL_VIDEO:
		a->type = CW_CALL_VIDEO;
		break;
	case CALL_TIMEOUT:
		if ((a->ring_timeout = parse_count(value)) < 0)
			return cli_usage_error(p->cmd, "--timeout wants whole seconds, not '%s'",
					       value);
		break;
	case CALL_METADATA:
		if (!is_json_object(value))
			return cli_usage_error(p->cmd, "--metadata wants a JSON object, not '%s'",
					       value);
		a->metadata = value;
		break;
	case CALL_WAIT:
		a->wait = true;
		break;
	}
	return -1;
}

static int parse_call(struct cli_parser *p, int argc, char **argv, struct call_args *a)
{
	static const struct cli_opt own[] = {
		{"group", CALL_GROUP, true},	 {"video", CALL_VIDEO, false},
		{"timeout", CALL_TIMEOUT, true}, {"metadata", CALL_METADATA, true},
		{"wait", CALL_WAIT, false},
	};
	static struct cli_opt opts[sizeof(own) / sizeof(own[0]) + 16]; /* + phone_options */
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		opts[n++] = own[i];
	for (size_t i = 0; phone_options[i].name && n + 1 < sizeof(opts) / sizeof(opts[0]); i++)
		opts[n++] = phone_options[i];
	opts[n] = (struct cli_opt){NULL, 0, false};

	p->opts = opts;
	p->fn = call_option;
	p->ctx = a;
	if ((rc = cli_parse(p, argc, argv)) >= 0)
		return rc;
	if (p->nargs > 1 || (p->nargs == 1) == (a->receiver != NULL))
		return cli_usage_error(p->cmd, "give one receiver: a UID or --group GUID");
	if (!a->receiver)
		a->receiver = p->args[0];
	return -1;
}

static int call_setup(cw_client *client, void *arg)
{
	return arg ? wait_setup(client, arg) : 0;
}

/* Rings, prints the call, and with --wait waits for its outcome. */
static int run_call(const struct cli_common *common, struct call_args *a, struct call_wait *w)
{
	cw_client *client = NULL;
	cw_call *call = NULL;
	int rc, err;

	/* The listeners go in before the initiate, so no outcome can pass unseen. */
	if ((rc = cli_open(common, &client, call_setup, a->wait ? w : NULL)) != 0)
		return rc;
	w->client = client;
	err = cw_initiate_call_sync(client, a->receiver, a->receiver_type, a->type, a->ring_timeout,
				    a->metadata, 0, &call);
	if (err) {
		rc = cli_fail(err);
		if (err == CW_ERR_CALL_IN_PROGRESS && call)
			fprintf(stderr, "callwire: already in call %s\n",
				cw_call_get_session_id(call));
		goto out;
	}
	if ((rc = cli_print_call(call)) != 0 || !a->wait)
		goto out;
	wait_started(w, call);
	rc = wait_outcome(w);
out:
	cw_call_unref(call);
	cw_client_free(client);
	return rc;
}

int cli_cmd_call(int argc, char **argv)
{
	struct cli_parser p = {.cmd = cli_command_find("call")};
	struct call_args a = {.receiver_type = CW_RECEIVER_USER, .type = CW_CALL_AUDIO};
	struct call_wait w = {0};
	int rc;

	if ((rc = parse_call(&p, argc, argv, &a)) >= 0)
		return rc;
	if (a.phone.media)
		return phone_call(&p.common, a.receiver, a.receiver_type, a.type, a.ring_timeout,
				  a.metadata, &a.phone);
	/* Only --wait waits for signals; otherwise SIGINT keeps ending the command at once. */
	if (a.wait && cli_waiter_init(&w.waiter) != 0) {
		perror("callwire: pipe");
		return CLI_EXIT_ERROR;
	}
	pthread_mutex_init(&w.lock, NULL);
	rc = run_call(&p.common, &a, &w);
	/* The client is freed: no callback can touch w any more. */
	wait_free(&w);
	if (a.wait)
		cli_waiter_close(&w.waiter);
	return rc;
}

/* ---- accept, reject, cancel, end, get, active ---------------------------------------- */

/* One request about one call; flag is the command's switch (--busy, --all). */
typedef int (*call_op)(cw_client *client, const char *sid, bool flag, cw_call **callp);

static int op_accept(cw_client *client, const char *sid, bool flag, cw_call **callp)
{
	(void)flag;
	return cw_accept_call_sync(client, sid, 0, callp);
}

static int op_reject(cw_client *client, const char *sid, bool busy, cw_call **callp)
{
	return cw_reject_call_sync(client, sid, busy ? CW_STATUS_BUSY : CW_STATUS_REJECTED, 0,
				   callp);
}

static int op_cancel(cw_client *client, const char *sid, bool flag, cw_call **callp)
{
	(void)flag;
	return cw_cancel_call_sync(client, sid, 0, callp);
}

static int op_end(cw_client *client, const char *sid, bool all, cw_call **callp)
{
	if (all)
		return cw_end_call_for_all_sync(client, sid, 0, callp);
	return cw_end_call_sync(client, sid, 0, callp);
}

static int op_get(cw_client *client, const char *sid, bool flag, cw_call **callp)
{
	(void)flag;
	return cw_get_call_sync(client, sid, 0, callp);
}

static int op_active(cw_client *client, const char *sid, bool flag, cw_call **callp)
{
	(void)sid;
	(void)flag;
	return cw_get_active_call_sync(client, 0, callp);
}

static int set_flag(struct cli_parser *p, int id, const char *value)
{
	(void)id;
	(void)value;
	*(bool *)p->ctx = true;
	return -1;
}

/* Parses `NAME [SESSION] [--FLAG]`, runs op once and prints the call. */
static int run_op(const char *name, int argc, char **argv, const char *flag_name, int nargs,
		  call_op op)
{
	const struct cli_opt opts[] = {{flag_name, 0, false}, {NULL, 0, false}};
	bool flag = false;
	struct cli_parser p = {
		.cmd = cli_command_find(name), .opts = opts, .fn = set_flag, .ctx = &flag};
	cw_client *client = NULL;
	cw_call *call = NULL;
	int rc, err;

	if ((rc = cli_parse_plain(&p, argc, argv, nargs)) >= 0)
		return rc;
	if ((rc = cli_open(&p.common, &client, NULL, NULL)) != 0)
		return rc;
	err = op(client, nargs ? p.args[0] : NULL, flag, &call);
	rc = err ? cli_fail(err) : cli_print_call(call);
	cw_call_unref(call);
	cw_client_free(client);
	return rc;
}

int cli_cmd_accept(int argc, char **argv)
{
	return run_op("accept", argc, argv, NULL, 1, op_accept);
}

int cli_cmd_reject(int argc, char **argv)
{
	return run_op("reject", argc, argv, "busy", 1, op_reject);
}

int cli_cmd_cancel(int argc, char **argv)
{
	return run_op("cancel", argc, argv, NULL, 1, op_cancel);
}

int cli_cmd_end(int argc, char **argv)
{
	return run_op("end", argc, argv, "all", 1, op_end);
}

int cli_cmd_get(int argc, char **argv)
{
	return run_op("get", argc, argv, NULL, 1, op_get);
}

int cli_cmd_active(int argc, char **argv)
{
	return run_op("active", argc, argv, NULL, 0, op_active);
}
