/* conn: the realtime WebSocket: authentication, requests and responses, events in seq
 * order exactly once, and reconnection with backoff, jitter and resume. Network thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk.h"

#define CW_WS_UNAUTHORIZED 4001
#define CW_WS_PROTOCOL 4002
#define CW_WS_TOO_BIG 1009
/* A connection that stayed up this long resets the backoff; one dropped sooner (a server
 * that accepts and then closes) keeps it growing. */
#define STABLE_MS 10000
#define RETRY_BASE_MS 250
#define RETRY_MAX_MS 15000

/* The server pings every 15 s; a connection without any valid traffic for 50 s is dead. */
static const lws_retry_bo_t liveness = {
	.secs_since_valid_ping = 20,
	.secs_since_valid_hangup = 50,
};

static bool mine(cw_client *c, struct lws *wsi)
{
	return (uintptr_t)lws_get_opaque_user_data(wsi) == c->gen &&
	       (c->ws_state == CW__WS_CONNECTING || c->ws_state == CW__WS_AUTH ||
		c->ws_state == CW__WS_READY);
}

static void out_clear(cw_client *c)
{
	while (!cw__list_empty(&c->out)) {
		struct cw__link *l = c->out.next;
		cw__list_del(l);
		free(cw__container_of(l, struct cw__out, link));
	}
	free(c->rx);
	c->rx = NULL;
	c->rx_len = 0;
}

/* Queues one text message; 0 or CW_ERR_NO_MEMORY. */
static int send_json(cw_client *c, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	struct cw__out *o = NULL;
	size_t len;

	json_decref(msg);
	if (text) {
		len = strlen(text);
		o = malloc(sizeof(*o) + LWS_PRE + len);
	}
	if (!o) {
		free(text);
		return CW_ERR_NO_MEMORY;
	}
	o->len = len;
	memcpy(o->buf + LWS_PRE, text, len);
	free(text);
	cw__list_add_tail(&c->out, &o->link);
	if (c->ws)
		lws_callback_on_writable(c->ws);
	return 0;
}

static void fire_connected(cw_client *c, const struct cw__listener *l, void *ctx)
{
	(void)ctx;
	if (l->u.conn.connected)
		l->u.conn.connected(c, l->arg);
}

static void fire_reconnected(cw_client *c, const struct cw__listener *l, void *ctx)
{
	if (l->u.conn.reconnected)
		l->u.conn.reconnected(c, *(bool *)ctx, l->arg);
}

static void fire_disconnected(cw_client *c, const struct cw__listener *l, void *ctx)
{
	if (l->u.conn.disconnected)
		l->u.conn.disconnected(c, *(int *)ctx, l->arg);
}

struct retry_info {
	unsigned attempt, delay;
};

static void fire_reconnecting(cw_client *c, const struct cw__listener *l, void *ctx)
{
	struct retry_info *ri = ctx;

	if (l->u.conn.reconnecting)
		l->u.conn.reconnecting(c, ri->attempt, ri->delay, l->arg);
}

static void on_retry(lws_sorted_usec_list_t *sul)
{
	cw_client *c = cw__container_of(sul, cw_client, retry_sul);

	if (c->ws_state != CW__WS_WAIT)
		return;
	c->ws_state = CW__WS_IDLE;
	cw__conn_start(c);
}

/* A delay drawn from the upper half of an exponentially growing window, so that clients
 * dropped together by a restart do not all come back in the same instant. */
static void schedule_retry(cw_client *c)
{
	struct retry_info ri;
	unsigned shift = c->attempt < 6 ? c->attempt : 6, window;

	window = RETRY_BASE_MS << shift;
	if (window > RETRY_MAX_MS)
		window = RETRY_MAX_MS;
	ri.attempt = ++c->attempt;
	ri.delay = window / 2 + cw__rand_below(window / 2 + 1);
	c->ws_state = CW__WS_WAIT;
	cw__set_conn_state(c, CW_CONNECTION_CONNECTING);
	lws_sul_schedule(c->ctx, 0, &c->retry_sul, on_retry, (lws_usec_t)ri.delay * LWS_US_PER_MS);
	cw__listeners_fire(c, CW__L_CONN, fire_reconnecting, &ri);
}

void cw__conn_start(cw_client *c)
{
	struct lws_client_connect_info i;
	bool logged_in;

	if (c->ws_state != CW__WS_IDLE)
		return;
	cw__lock(c);
	logged_in = c->logged_in && !c->stopping;
	cw__unlock(c);
	if (!logged_in)
		return;
	memset(&i, 0, sizeof(i));
	i.context = c->ctx;
	i.address = c->host;
	i.port = c->port;
	i.path = "/v1/ws";
	i.host = c->host_header;
	i.origin = c->host_header;
	i.protocol = "callwire.v1";
	i.local_protocol_name = cw__ws_protocol.name;
	i.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
	i.retry_and_idle_policy = &liveness;
	i.opaque_user_data = (void *)++c->gen;
	c->ws_state = CW__WS_CONNECTING;
	c->close_code = 0;
	cw__set_conn_state(c, CW_CONNECTION_CONNECTING);
	c->ws = lws_client_connect_via_info(&i);
	/* A failure may already have been reported (and a retry scheduled) from inside. */
	if (!c->ws && c->ws_state == CW__WS_CONNECTING) {
		c->gen++;
		schedule_retry(c);
	}
}

/* Closes on purpose: no reconnection, and whatever waited for the connection fails. */
void cw__conn_close(cw_client *c)
{
	if (c->ws)
		lws_set_timeout(c->ws, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	c->ws = NULL;
	c->gen++;
	c->ws_state = CW__WS_IDLE;
	lws_sul_schedule(c->ctx, 0, &c->retry_sul, on_retry, LWS_SET_TIMER_USEC_CANCEL);
	out_clear(c);
	cw__fail_all(&c->inflight, CW_ERR_CANCELLED);
	cw__fail_all(&c->waiting, CW_ERR_CANCELLED);
	c->last_seq = -1;
	c->had_ready = false;
	c->attempt = 0;
	cw__set_conn_state(c, CW_CONNECTION_OFFLINE);
}

static void send_request(cw_client *c, struct cw__req *r)
{
	json_t *msg;
	const char *sid;

	snprintf(r->id, sizeof(r->id), "%u", ++c->next_id);
	msg = json_pack("{s:s,s:s,s:s,s:O}", "type", "request", "id", r->id, "method", r->method,
			"params", r->params);
	if (send_json(c, msg) != 0) {
		cw__complete(r, CW_ERR_NO_MEMORY, NULL, NULL);
		return;
	}
	/* The *_elsewhere event this answer causes is not news to this client. */
	sid = json_string_value(json_object_get(r->params, "sessionId"));
	if (sid && (strcmp(r->method, "call.accept") == 0 || strcmp(r->method, "call.reject") == 0))
		cw__remember_own(c, sid);
	cw__list_del(&r->link);
	cw__list_add_tail(&c->inflight, &r->link);
}

void cw__conn_send(cw_client *c, struct cw__req *r)
{
	/* Queued just before the login went away (a logout, a revoked token). */
	if (!cw__logged_in(c)) {
		cw__complete(r, CW_ERR_NOT_LOGGED_IN, NULL, NULL);
		return;
	}
	if (c->ws_state == CW__WS_READY) {
		send_request(c, r);
		return;
	}
	cw__list_del(&r->link);
	cw__list_add_tail(&c->waiting, &r->link);
	cw__conn_start(c);
}

static void send_auth(cw_client *c)
{
	json_t *msg;
	char *token;

	cw__lock(c);
	token = cw__strdup(c->token);
	cw__unlock(c);
	msg = json_pack("{s:s,s:s,s:s?,s:o}", "type", "auth", "appId", c->app_id, "token", token,
			"resumeFrom", c->last_seq >= 0 ? json_integer(c->last_seq) : json_null());
	free(token);
	if (send_json(c, msg) != 0 && c->ws)
		lws_set_timeout(c->ws, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	c->ws_state = CW__WS_AUTH;
}

static void on_ready(cw_client *c, const struct cw__msg *msg)
{
	bool first = !c->had_ready, resumed = msg->resumed;

	c->ws_state = CW__WS_READY;
	c->ready_at = cw__now_ms();
	/* Without a resume the events in between are gone: continue from the present. */
	if (c->last_seq < 0 || !resumed)
		c->last_seq = msg->seq;
	c->had_ready = true;
	snprintf(c->device, sizeof(c->device), "%s", msg->device ? msg->device : "");
	cw__set_conn_state(c, CW_CONNECTION_CONNECTED);
	while (!cw__list_empty(&c->waiting) && c->ws_state == CW__WS_READY)
		send_request(c, cw__container_of(c->waiting.next, struct cw__req, link));
	if (first)
		cw__listeners_fire(c, CW__L_CONN, fire_connected, NULL);
	else
		cw__listeners_fire(c, CW__L_CONN, fire_reconnected, &resumed);
}

static void on_response(cw_client *c, const struct cw__msg *msg)
{
	struct cw__link *l;

	for (l = c->inflight.next; l != &c->inflight; l = l->next) {
		struct cw__req *r = cw__container_of(l, struct cw__req, link);
		if (strcmp(r->id, msg->id) != 0)
			continue;
		if (msg->error)
			cw__complete(r, cw__err_from_code(msg->code), msg->message, msg->error);
		else
			cw__complete(r, 0, NULL, msg->result);
		return;
	}
	/* An answer to a request that timed out already: nobody waits for it. */
}

/* One complete message; nonzero closes the connection. */
static int on_message(cw_client *c)
{
	struct cw__msg msg;

	if (cw__msg_parse(&msg, c->rx, c->rx_len) != 0)
		return -1;
	switch (msg.type) {
	case CW__MSG_READY:
		if (c->ws_state == CW__WS_AUTH)
			on_ready(c, &msg);
		break;
	case CW__MSG_EVENT:
		/* Replays after a resume can overlap what was seen: each seq once. An event
		 * this version cannot read still counts, or it would be replayed forever. */
		if (c->ws_state == CW__WS_READY && msg.seq > c->last_seq) {
			c->last_seq = msg.seq;
			if (msg.call || (msg.name && strncmp(msg.name, "session.", 8) == 0))
				cw__dispatch_event(c, &msg);
		}
		break;
	case CW__MSG_RESPONSE:
		on_response(c, &msg);
		break;
	default:
		break;
	}
	cw__msg_clear(&msg);
	return 0;
}

static int on_receive(cw_client *c, struct lws *wsi, const void *in, size_t len)
{
	char *grown;
	int rc = 0;

	/* Being freed: no more callbacks. */
	if (cw__stopping(c))
		return 0;
	if (lws_is_first_fragment(wsi))
		c->rx_len = 0;
	if (c->rx_len + len > CW__MAX_MESSAGE)
		return -1;
	grown = realloc(c->rx, c->rx_len + len + 1);
	if (!grown)
		return -1;
	c->rx = grown;
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
		rc = on_message(c);
		c->rx_len = 0;
	}
	return rc;
}

static int on_writable(cw_client *c, struct lws *wsi)
{
	struct cw__out *o;
	int n;

	if (cw__list_empty(&c->out))
		return 0;
	o = cw__container_of(c->out.next, struct cw__out, link);
	n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
	cw__list_del(&o->link);
	free(o);
	if (n < 0)
		return -1;
	if (!cw__list_empty(&c->out))
		lws_callback_on_writable(wsi);
	return 0;
}

/* Requests that may be repeated wait for the next connection, ahead of newer ones; the
 * others cannot know their outcome. */
static void requeue_inflight(cw_client *c)
{
	struct cw__link again;

	cw__list_init(&again);
	while (!cw__list_empty(&c->inflight)) {
		struct cw__req *r = cw__container_of(c->inflight.next, struct cw__req, link);
		if (r->idempotent) {
			cw__list_del(&r->link);
			cw__list_add_tail(&again, &r->link);
		} else {
			cw__complete(r, CW_ERR_CONNECTION_LOST, NULL, NULL);
		}
	}
	cw__list_splice(&again, &c->waiting);
	cw__list_splice(&c->waiting, &again);
}

/* The server closed because of a request (too large, malformed): sending it again would
 * only close the next connection too. */
static void fail_refused(cw_client *c)
{
	if (c->close_code == CW_WS_TOO_BIG)
		cw__fail_all(&c->inflight, CW_ERR_PAYLOAD_TOO_LARGE);
	else if (c->close_code == CW_WS_PROTOCOL)
		cw__fail_all(&c->inflight, CW_ERR_PROTOCOL);
}

static void on_lost(cw_client *c)
{
	bool was_ready = c->ws_state == CW__WS_READY;
	int err;

	c->ws = NULL;
	c->gen++;
	c->ws_state = CW__WS_IDLE;
	out_clear(c);
	if (cw__stopping(c))
		return;
	if (was_ready && cw__now_ms() - c->ready_at >= STABLE_MS)
		c->attempt = 0;
	if (c->close_code == CW_WS_UNAUTHORIZED) {
		cw__drop_login(c);
		cw__fail_all(&c->inflight, CW_ERR_UNAUTHORIZED);
		cw__fail_all(&c->waiting, CW_ERR_UNAUTHORIZED);
		c->last_seq = -1;
		c->had_ready = false;
		c->attempt = 0;
		cw__set_conn_state(c, CW_CONNECTION_OFFLINE);
		err = CW_ERR_UNAUTHORIZED;
		cw__listeners_fire(c, CW__L_CONN, fire_disconnected, &err);
		return;
	}
	fail_refused(c);
	requeue_inflight(c);
	if (was_ready) {
		err = CW_ERR_CONNECTION_LOST;
		cw__listeners_fire(c, CW__L_CONN, fire_disconnected, &err);
	}
	/* A listener may have logged out or freed the client meanwhile. */
	if (c->ws_state == CW__WS_IDLE && !cw__stopping(c) && cw__logged_in(c))
		schedule_retry(c);
}

void cw__conn_tick(cw_client *c, int64_t now)
{
	struct cw__link *lists[] = {&c->waiting, &c->inflight};

	for (size_t k = 0; k < CW__ARRAY_SIZE(lists); k++) {
		struct cw__link *l = lists[k]->next, *next;
		for (; l != lists[k]; l = next) {
			struct cw__req *r = cw__container_of(l, struct cw__req, link);
			next = l->next;
			if (r->deadline <= now)
				cw__complete(
					r, CW_ERR_TIMEOUT,
					k == 0 ? "timed out waiting for a connection to the server"
					       : "timed out waiting for the server's answer",
					NULL);
		}
	}
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	cw_client *c = lws_context_user(lws_get_context(wsi));

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		cw__drain(c);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (mine(c, wsi)) {
			c->ws = wsi;
			send_auth(c);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return mine(c, wsi) ? on_receive(c, wsi, in, len) : -1;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return mine(c, wsi) ? on_writable(c, wsi) : -1;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (mine(c, wsi) && len >= 2)
			c->close_code = ((const unsigned char *)in)[0] << 8 |
					((const unsigned char *)in)[1];
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (mine(c, wsi))
			on_lost(c);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols cw__ws_protocol = {
	.name = "callwire-sdk-ws",
	.callback = ws_callback,
	.rx_buffer_size = 0,
};
