/* rt: the realtime WebSocket protocol on libwebsockets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/message.h"
#include "rt/rt.h"
#include "util/map.h"
#include "util/util.h"

#define AUTH_DEADLINE_MS 5000
/* Requests per connection: a burst, then a steady rate; beyond it ERR_RATE_LIMITED. */
#define REQ_BURST 50.0
#define REQ_PER_SEC 20.0
/* Events replayed on resume at most; older gaps answer "resumed": false. */
#define REPLAY_MAX 5000
/* An oversized message is read and dropped up to this many bytes before the 1009 close. */
#define DISCARD_MAX (16 * 1024 * 1024)
/* lws_write's value for a close frame; its header keeps it private (it is 4 in every
 * release, between LWS_WRITE_HTTP and LWS_WRITE_PING). */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

struct msg {
	struct msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes, then the message */
};

struct queue {
	struct msg *head, *tail;
};

struct user;

enum conn_state { CONN_NEW, CONN_READY };

/* A place in an intrusive doubly linked list of connections; unlinked when prevp is NULL. */
struct link {
	struct link *next, **prevp;
	struct conn *conn;
};

/* One WebSocket connection; libwebsockets allocates it zeroed. */
struct conn {
	struct lws *wsi;
	struct cw_rt *rt;
	enum conn_state state;
	int64_t opened_at;
	struct cw_cred cred;
	char device[17];
	struct user *user;
	struct link by_user;  /* in its user's connections */
	struct link all;      /* in every connection, for the sweep */
	struct link pend;     /* in the connections with uncommitted messages */
	struct queue out;     /* committed: may be written */
	struct queue pending; /* queued during the open batch */
	size_t queued;	      /* bytes in both queues */
	char *rx;
	size_t rx_len, rx_cap;
	size_t oversized; /* bytes of a message over the limit, read and dropped */
	double tokens;
	uint64_t refill_ns;
	int close_code;
	char close_reason[64];
};

struct user {
	char key[CW_APPID_MAX + CW_UID_MAX + 2];
	char app_id[CW_APPID_MAX + 1];
	char uid[CW_UID_MAX + 1];
	struct link *conns;
	size_t n;
};

struct cw_rt {
	uv_loop_t *loop;
	struct cw_store *store;
	struct cw_auth *auth;
	struct cw_rt_hooks hooks;
	struct cw_map users;
	struct link *all;
	struct link *pending; /* connections with uncommitted messages */
	uv_timer_t sweep;
};

static void link_add(struct link **head, struct link *l)
{
	l->next = *head;
	if (*head)
		(*head)->prevp = &l->next;
	*head = l;
	l->prevp = head;
}

static void link_del(struct link *l)
{
	if (!l->prevp)
		return;
	*l->prevp = l->next;
	if (l->next)
		l->next->prevp = l->prevp;
	l->next = NULL;
	l->prevp = NULL;
}

static void user_key(char *out, size_t size, const char *app_id, const char *uid)
{
	snprintf(out, size, "%s/%s", app_id, uid);
}

void cw_rt_device_id(const char *token_hash, char out[17])
{
	cw_strlcpy(out, token_hash, 17);
}

static void queue_free(struct queue *q)
{
	struct msg *m, *next;

	for (m = q->head; m; m = next) {
		next = m->next;
		free(m);
	}
	q->head = q->tail = NULL;
}

static void close_with(struct conn *c, int code, const char *reason)
{
	if (c->close_code)
		return;
	/* Whatever is still queued is dropped, so the close goes out next and the memory
	 * comes back now: a client that stopped reading would never drain it. It resumes
	 * from its last seq on reconnect. */
	queue_free(&c->out);
	queue_free(&c->pending);
	c->queued = 0;
	c->close_code = code;
	cw_strlcpy(c->close_reason, reason, sizeof(c->close_reason));
	lws_callback_on_writable(c->wsi);
	/* The close frame goes out when the socket can take it; a peer that does not read
	 * never lets it, so the connection is dropped after 2 s in any case. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2);
}

/* Queues text for c: into pending while a batch is open (sent after its commit), else
 * straight to the write queue. A client that lets its queue pass the cap is closed. */
static void send_text(struct conn *c, const char *text, size_t len)
{
	struct cw_rt *rt = c->rt;
	bool batch = cw_store_batch_open(rt->store);
	struct queue *q = batch ? &c->pending : &c->out;
	struct msg *m;

	if (c->close_code)
		return;
	if (c->queued + len > CW_WS_QUEUE_MAX) {
		cw_warn("ws.slow", "app=%s uid=%s queued=%zu", c->cred.app_id, c->cred.uid,
			c->queued);
		close_with(c, CW_WS_TOO_SLOW, "send queue full; reconnect with resumeFrom");
		return;
	}
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m) {
		close_with(c, 1011, "out of memory");
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	c->queued += len;
	if (!batch)
		lws_callback_on_writable(c->wsi);
	else if (!c->pend.prevp)
		link_add(&rt->pending, &c->pend);
}

static void send_json(struct conn *c, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!text) {
		close_with(c, 1011, "out of memory");
		return;
	}
	send_text(c, text, strlen(text));
	free(text);
}

/* The wire form of a stored event: its body with the seq put in front. */
static void send_event(struct conn *c, int64_t seq, const char *body)
{
	size_t blen = strlen(body);
	char *text = malloc(blen + 32);
	int n;

	if (!text) {
		close_with(c, 1011, "out of memory");
		return;
	}
	n = snprintf(text, 32, "{\"seq\":%lld%s", (long long)seq, blen > 2 ? "," : "");
	memcpy(text + n, body + 1, blen); /* body without its '{', with its NUL */
	send_text(c, text, (size_t)n + blen - 1);
	free(text);
}

static void user_attach(struct cw_rt *rt, struct conn *c)
{
	char key[sizeof(((struct user *)0)->key)];
	struct user *u;

	user_key(key, sizeof(key), c->cred.app_id, c->cred.uid);
	u = cw_map_get(&rt->users, key);
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u || cw_map_put(&rt->users, key, u) != 0) {
			free(u);
			close_with(c, 1011, "out of memory");
			return;
		}
		cw_strlcpy(u->key, key, sizeof(u->key));
		cw_strlcpy(u->app_id, c->cred.app_id, sizeof(u->app_id));
		cw_strlcpy(u->uid, c->cred.uid, sizeof(u->uid));
	}
	link_add(&u->conns, &c->by_user);
	c->user = u;
	if (u->n++ == 0 && rt->hooks.presence)
		rt->hooks.presence(rt->hooks.ctx, u->app_id, u->uid, true);
}

static void user_detach(struct cw_rt *rt, struct conn *c)
{
	struct user *u = c->user;

	if (!u)
		return;
	link_del(&c->by_user);
	c->user = NULL;
	if (--u->n == 0) {
		char app_id[CW_APPID_MAX + 1], uid[CW_UID_MAX + 1];
		cw_strlcpy(app_id, u->app_id, sizeof(app_id));
		cw_strlcpy(uid, u->uid, sizeof(uid));
		cw_map_del(&rt->users, u->key);
		free(u);
		if (rt->hooks.presence)
			rt->hooks.presence(rt->hooks.ctx, app_id, uid, false);
	}
}

/* Loads the user's events after `from` for a resume. False when they are no longer all
 * kept (or `from` is ahead of the log): the client must then refetch its state. */
static bool load_missed(struct conn *c, int64_t from, int64_t last, struct cw_event_record **evs,
			size_t *n)
{
	*evs = NULL;
	*n = 0;
	if (from > last || last - from > REPLAY_MAX)
		return false;
	if (from == last)
		return true;
	if (cw_store_events_after(c->rt->store, c->cred.app_id, c->cred.uid, from,
				  (size_t)(last - from), evs, n) != 0)
		return false;
	return *n == (size_t)(last - from) && (*evs)[0].seq == from + 1;
}

static void on_auth(struct conn *c, const struct cw_ws_msg *msg)
{
	const char *app_id = msg->app_id, *token = msg->token;
	struct cw_event_record *missed = NULL;
	struct cw_user user;
	size_t n_missed = 0;
	int64_t last = 0;
	bool resumed = false;

	if (cw_auth_resolve(c->rt->auth, token, cw_now_ms(), &c->cred) != 0 ||
	    c->cred.kind != CW_CRED_TOKEN || strcmp(c->cred.app_id, app_id) != 0 ||
	    cw_store_user_get(c->rt->store, app_id, c->cred.uid, &user) != 0) {
		memset(&c->cred, 0, sizeof(c->cred));
		close_with(c, CW_WS_BAD_TOKEN, "invalid, expired or revoked token");
		return;
	}
	cw_rt_device_id(c->cred.hash, c->device);
	if (cw_store_event_last_seq(c->rt->store, app_id, c->cred.uid, &last) != 0) {
		cw_user_free(&user);
		close_with(c, 1011, "storage error");
		return;
	}
	if (msg->resume_from >= 0) {
		resumed = load_missed(c, msg->resume_from, last, &missed, &n_missed);
		if (!resumed)
			n_missed = 0;
	}
	/* Attached before anything is sent, so an event emitted from now on reaches this
	 * connection after the replay: none is missed and none comes twice. */
	c->state = CONN_READY;
	user_attach(c->rt, c);
	send_json(c, json_pack("{s:s,s:{s:s,s:s,s:s?},s:I,s:b,s:s}", "type", "ready", "user", "uid",
			       user.uid, "name", user.name, "avatar", user.avatar, "seq",
			       (json_int_t)last, "resumed", resumed, "device", c->device));
	for (size_t i = 0; i < n_missed; i++)
		send_event(c, missed[i].seq, missed[i].body);
	cw_event_records_free(missed, n_missed);
	cw_user_free(&user);
	cw_info("ws.ready", "app=%s uid=%s device=%s seq=%lld resumed=%s", app_id, c->cred.uid,
		c->device, (long long)last, resumed ? "true" : "false");
}

static bool take_token(struct conn *c)
{
	uint64_t now = cw_mono_ns();

	c->tokens += (double)(now - c->refill_ns) / 1e9 * REQ_PER_SEC;
	if (c->tokens > REQ_BURST)
		c->tokens = REQ_BURST;
	c->refill_ns = now;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

static void on_request(struct conn *c, const struct cw_ws_msg *msg)
{
	char *result = NULL, *error = NULL, *id, *text = NULL;
	int n;

	if (!take_token(c))
		error = strdup("{\"code\":\"ERR_RATE_LIMITED\",\"message\":\"too many requests "
			       "on this connection; slow down\"}");
	else
		c->rt->hooks.request(c->rt->hooks.ctx, &c->cred, msg->method, msg->params, &result,
				     &error);
	/* The response is spliced from texts the handler already serialised. */
	id = json_dumps(msg->id, JSON_ENCODE_ANY);
	n = asprintf(&text, "{\"type\":\"response\",\"id\":%s,\"%s\":%s}", id ? id : "null",
		     error ? "error" : "result",
		     error    ? error
		     : result ? result
			      : "null");
	if (n < 0)
		close_with(c, 1011, "out of memory");
	else
		send_text(c, text, (size_t)n);
	free(text);
	free(id);
	free(result);
	free(error);
}

static void on_message(struct conn *c)
{
	struct cw_ws_msg msg;
	const char *why;

	if (cw_ws_parse(c->rx, c->rx_len, &msg, &why) != 0) {
		close_with(c, CW_WS_PROTOCOL, why);
		return;
	}
	if (c->state == CONN_NEW && msg.kind != CW_WS_AUTH)
		close_with(c, CW_WS_PROTOCOL, "the first message must be auth");
	else if (c->state == CONN_NEW)
		on_auth(c, &msg);
	else if (msg.kind == CW_WS_AUTH)
		close_with(c, CW_WS_PROTOCOL, "already authenticated");
	else
		on_request(c, &msg);
	cw_ws_msg_free(&msg);
}

static int on_receive(struct lws *wsi, struct conn *c, const void *in, size_t len)
{
	if (c->close_code)
		return 0;
	if (c->oversized || c->rx_len + len > CW_WS_MSG_MAX) {
		/* Read the oversized message to its end before closing: closing with unread
		 * input would reset the connection and lose the close frame. Past a bound the
		 * client is not worth the wait. */
		c->oversized += len;
		c->rx_len = 0;
		if (c->oversized > DISCARD_MAX ||
		    (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)))
			close_with(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message over 64 KiB");
		return 0;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 1024;
		char *b;
		while (cap < c->rx_len + len)
			cap *= 2;
		b = realloc(c->rx, cap);
		if (!b)
			return -1;
		c->rx = b;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (lws_frame_is_binary(wsi))
		close_with(c, CW_WS_PROTOCOL, "messages are text");
	else
		on_message(c);
	c->rx_len = 0;
	/* Do not keep a large buffer for an idle connection. */
	if (c->rx_cap > 4096) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	return 0;
}

static int on_writeable(struct lws *wsi, struct conn *c)
{
	struct msg *m = c->out.head;

	if (c->close_code && !m) {
		/* The close frame is written here: libwebsockets 4.1 drops a connection whose
		 * callback returns -1 without sending the reason set by lws_close_reason. */
		unsigned char frame[LWS_PRE + 2 + sizeof(c->close_reason)];
		size_t rlen = strlen(c->close_reason);
		frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
		memcpy(frame + LWS_PRE + 2, c->close_reason, rlen);
		lws_write(wsi, frame + LWS_PRE, 2 + rlen, WS_WRITE_CLOSE);
		return -1;
	}
	if (!m)
		return 0;
	if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	c->out.head = m->next;
	if (!c->out.head)
		c->out.tail = NULL;
	c->queued -= m->len;
	free(m);
	if (c->out.head || c->close_code)
		lws_callback_on_writable(wsi);
	return 0;
}

static bool path_is_ws(struct lws *wsi)
{
	char path[16];

	return lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) > 0 &&
	       strcmp(path, "/v1/ws") == 0;
}

static void conn_release(struct cw_rt *rt, struct conn *c)
{
	link_del(&c->pend);
	link_del(&c->all);
	user_detach(rt, c);
	queue_free(&c->out);
	queue_free(&c->pending);
	free(c->rx);
	c->rx = NULL;
	c->rt = NULL;
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	const struct lws_protocols *proto = lws_get_protocol(wsi);
	struct cw_rt *rt = proto ? proto->user : NULL;
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		if (!rt || !path_is_ws(wsi))
			return -1;
		c->wsi = wsi;
		c->rt = rt;
		c->opened_at = cw_now_ms();
		c->tokens = REQ_BURST;
		c->refill_ns = cw_mono_ns();
		c->by_user.conn = c->all.conn = c->pend.conn = c;
		link_add(&rt->all, &c->all);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (!c->rt)
			return -1;
		/* Every message and its effects are written in the loop's batch. */
		cw_store_batch_begin(rt->store);
		return on_receive(wsi, c, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->rt ? on_writeable(wsi, c) : -1;
	case LWS_CALLBACK_CLOSED:
		if (c->rt) {
			cw_store_batch_begin(rt->store);
			conn_release(rt, c);
		}
		return 0;
	default:
		break;
	}
	return 0;
}

struct lws_protocols cw_rt_protocol(struct cw_rt *rt)
{
	struct lws_protocols p = {
		.name = "callwire.v1",
		.callback = cb_ws,
		.per_session_data_size = sizeof(struct conn),
		.rx_buffer_size = 4096,
		.user = rt,
	};
	return p;
}

int cw_rt_emit(struct cw_rt *rt, const char *app_id, const char *uid, const char *event,
	       int64_t now)
{
	char key[sizeof(((struct user *)0)->key)];
	struct user *u;
	int64_t seq;
	int err;

	err = cw_store_event_append(rt->store, app_id, uid, event, now, &seq);
	if (err)
		return err;
	user_key(key, sizeof(key), app_id, uid);
	u = cw_map_get(&rt->users, key);
	for (struct link *l = u ? u->conns : NULL; l; l = l->next)
		send_event(l->conn, seq, event);
	return 0;
}

void cw_rt_commit(struct cw_rt *rt, bool ok)
{
	struct conn *c;

	while (rt->pending) {
		c = rt->pending->conn;
		link_del(&c->pend);
		if (!c->pending.head)
			continue;
		if (!ok) {
			queue_free(&c->pending);
			close_with(c, 1011, "storage error; reconnect with resumeFrom");
			continue;
		}
		if (c->out.tail)
			c->out.tail->next = c->pending.head;
		else
			c->out.head = c->pending.head;
		c->out.tail = c->pending.tail;
		c->pending.head = c->pending.tail = NULL;
		lws_callback_on_writable(c->wsi);
	}
}

size_t cw_rt_connections(struct cw_rt *rt, const char *app_id, const char *uid)
{
	char key[sizeof(((struct user *)0)->key)];
	struct user *u;

	user_key(key, sizeof(key), app_id, uid);
	u = cw_map_get(&rt->users, key);
	return u ? u->n : 0;
}

void cw_rt_close_user(struct cw_rt *rt, const char *app_id, const char *uid, const char *token_hash,
		      int code, const char *reason)
{
	char key[sizeof(((struct user *)0)->key)];
	struct user *u;

	user_key(key, sizeof(key), app_id, uid);
	u = cw_map_get(&rt->users, key);
	for (struct link *l = u ? u->conns : NULL; l; l = l->next) {
		if (!token_hash || strcmp(l->conn->cred.hash, token_hash) == 0)
			close_with(l->conn, code, reason);
	}
}

/* Once a second: connections that did not authenticate within 5 s are closed. Silence
 * (no pong for 45 s) is handled by libwebsockets' idle policy. */
static void on_sweep(uv_timer_t *t)
{
	struct cw_rt *rt = t->data;
	int64_t now = cw_now_ms();

	for (struct link *l = rt->all; l; l = l->next) {
		if (l->conn->state == CONN_NEW && now - l->conn->opened_at > AUTH_DEADLINE_MS)
			close_with(l->conn, CW_WS_PROTOCOL, "no auth message within 5 s");
	}
}

int cw_rt_new(struct cw_rt **rtp, uv_loop_t *loop, struct cw_store *store, struct cw_auth *auth,
	      const struct cw_rt_hooks *hooks)
{
	struct cw_rt *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return -ENOMEM;
	rt->loop = loop;
	rt->store = store;
	rt->auth = auth;
	rt->hooks = *hooks;
	uv_timer_init(loop, &rt->sweep);
	rt->sweep.data = rt;
	uv_timer_start(&rt->sweep, on_sweep, 1000, 1000);
	uv_unref((uv_handle_t *)&rt->sweep);
	*rtp = rt;
	return 0;
}

static void free_user(void *ctx, const char *key, void *val)
{
	(void)ctx;
	(void)key;
	free(val);
}

static void on_sweep_closed(uv_handle_t *h)
{
	struct cw_rt *rt = h->data;

	cw_map_each(&rt->users, free_user, NULL);
	cw_map_clear(&rt->users);
	free(rt);
}

void cw_rt_free(struct cw_rt *rt)
{
	if (!rt)
		return;
	uv_timer_stop(&rt->sweep);
	uv_close((uv_handle_t *)&rt->sweep, on_sweep_closed);
}
