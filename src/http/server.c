/* server: libwebsockets on the caller's libuv loop; turns HTTP transactions into cw_req. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "http/http.h"
#include "http/internal.h"
#include "util/util.h"

/* Bodies up to this size are read and discarded before a 413, so the client reliably sees
 * the answer; larger ones are answered at once and the connection is closed. */
#define DISCARD_MAX (1024 * 1024)

struct txn;

struct cw_http {
	struct lws_context *ctx;
	struct cw_store *store;
	struct cw_auth *auth;
	struct cw_metrics *metrics;
	struct cw_calls *calls;
	struct cw_rt *rt;
	struct cw_sessions *sessions;
	char *web_root; /* the web folder's real path, or NULL */
	struct lws_protocols protocols[3];
	struct txn *held; /* answered during the open batch, sent after its commit */
};

/* One HTTP connection's current transaction; lws allocates it zeroed per connection. */
struct txn {
	struct lws *wsi;
	struct txn *held_next, **held_prevp;
	char *path, *query, *bearer, *if_none_match;
	char *body;
	size_t body_len, body_cap;
	bool too_large, close_after, malformed, nul, dispatched, responding, headers_sent;
	size_t resp_off;
	uint64_t t0;
	struct cw_req req;
};

static void unhold(struct txn *t)
{
	if (t->held_prevp) {
		*t->held_prevp = t->held_next;
		if (t->held_next)
			t->held_next->held_prevp = t->held_prevp;
		t->held_next = NULL;
		t->held_prevp = NULL;
	}
}

static void txn_reset(struct txn *t)
{
	unhold(t);
	free(t->path);
	free(t->query);
	if (t->bearer)
		explicit_bzero(t->bearer, strlen(t->bearer));
	free(t->bearer);
	free(t->if_none_match);
	free(t->body);
	cw_req_release(&t->req);
	memset(t, 0, sizeof(*t));
}

static int method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		int method;
	} map[] = {
		{WSI_TOKEN_GET_URI, CW_GET},	     {WSI_TOKEN_POST_URI, CW_POST},
		{WSI_TOKEN_PUT_URI, CW_PUT},	     {WSI_TOKEN_PATCH_URI, CW_PATCH},
		{WSI_TOKEN_DELETE_URI, CW_DELETE},   {WSI_TOKEN_HEAD_URI, CW_HEAD},
		{WSI_TOKEN_OPTIONS_URI, CW_OPTIONS},
	};

	for (size_t i = 0; i < CW_ARRAY_SIZE(map); i++) {
		if (lws_hdr_total_length(wsi, map[i].tok))
			return map[i].method;
	}
	return 0;
}

static char *header_dup(struct lws *wsi, enum lws_token_indexes tok)
{
	int len = lws_hdr_total_length(wsi, tok);
	char *s;

	if (len <= 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (s && lws_hdr_copy(wsi, s, len + 1, tok) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

static char *query_dup(struct lws *wsi)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	char *q = malloc((size_t)(total > 0 ? total : 0) + 64);
	size_t n = 0;

	if (!q)
		return NULL;
	for (int i = 0; total > 0; i++) {
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len <= 0)
			break;
		if (n)
			q[n++] = '&';
		if (lws_hdr_copy_fragment(wsi, q + n, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		n += (size_t)len;
	}
	q[n] = '\0';
	return q;
}

/* The body goes out unless the answer is headers only: to HEAD, or a 304. */
static size_t body_len(const struct cw_req *r)
{
	return r->omit_body || r->method == CW_HEAD ? 0 : r->resp_len;
}

/* Paths are logged up to this length: a device token in a path may be 4 KB, and a log line
 * cut short would lose the status that follows it. */
#define LOG_PATH_MAX 256

static void log_request(struct cw_http *h, struct txn *t)
{
	const char *route = t->req.route ? t->req.route->pattern : "unmatched";
	const char *path = t->path ? t->path : "-";
	double ms = (double)(cw_mono_ns() - t->t0) / 1e6;
	bool cut = strlen(path) > LOG_PATH_MAX;

	cw_metrics_request(h->metrics, route, t->req.method, t->req.status);
	cw_info("http.request", "method=%s route=%s path=%.*s%s status=%d ms=%.3f bytes=%zu",
		cw_method_name(t->req.method), route, LOG_PATH_MAX, path, cut ? "..." : "",
		t->req.status, ms, body_len(&t->req));
}

/* Runs the request and asks for a WRITEABLE callback, where the response is sent. */
static void respond(struct cw_http *h, struct lws *wsi, struct txn *t)
{
	struct cw_req *r = &t->req;
	const char *bearer = NULL;

	/* With "Content-Length: 0" lws reports both the request and a body completion;
	 * a request runs once. */
	if (t->dispatched)
		return;
	t->dispatched = true;
	if (t->bearer && strncasecmp(t->bearer, "Bearer ", 7) == 0) {
		bearer = t->bearer + 7;
		while (*bearer == ' ')
			bearer++;
	}
	r->store = h->store;
	r->auth = h->auth;
	r->metrics = h->metrics;
	r->calls = h->calls;
	r->rt = h->rt;
	r->path = t->path;
	r->query = t->query ? t->query : "";
	r->bearer = t->bearer ? bearer ? bearer : "" : NULL;
	r->if_none_match = t->if_none_match;
	r->web_root = h->web_root;
	r->body = t->body;
	r->body_len = t->too_large ? CW_BODY_MAX + 1 : t->body_len;
	r->now = cw_now_ms();
	if (!r->method) {
		cw_reply_error(r, CW_E_BAD_REQUEST, "unsupported method");
	} else if (t->malformed) {
		cw_reply_error(r, CW_E_BAD_REQUEST,
			       "malformed request line: the path has a control character; ids "
			       "(appId, uid, guid) allow only [A-Za-z0-9_.@-]");
	} else if (t->nul) {
		cw_reply_error(r, CW_E_NOT_FOUND, "no route or file has a NUL in its path");
	} else if (t->too_large && t->close_after) {
		cw_reply_error(r, CW_E_TOO_LARGE, "body: larger than %d bytes", CW_BODY_MAX);
	} else {
		/* A request and its writes join the loop's batch; the answer waits for its
		 * commit, so nothing is acknowledged before it is in the store. */
		cw_store_batch_begin(h->store);
		cw_dispatch(r);
	}
	t->responding = true;
	t->wsi = wsi;
	if (cw_store_batch_open(h->store)) {
		t->held_next = h->held;
		if (h->held)
			h->held->held_prevp = &t->held_next;
		h->held = t;
		t->held_prevp = &h->held;
	} else {
		lws_callback_on_writable(wsi);
	}
}

void cw_http_commit(struct cw_http *h, bool ok)
{
	struct txn *t;

	while ((t = h->held)) {
		unhold(t);
		if (!ok)
			cw_reply_error(&t->req, CW_E_INTERNAL,
				       "storage error; nothing was changed");
		lws_callback_on_writable(t->wsi);
	}
}

void cw_http_ws_request(struct cw_http *h, const struct cw_cred *cred, const char *method,
			json_t *params, char **result, char **error)
{
	struct cw_req tmpl = {0};

	tmpl.store = h->store;
	tmpl.auth = h->auth;
	tmpl.metrics = h->metrics;
	tmpl.calls = h->calls;
	tmpl.rt = h->rt;
	tmpl.sessions = h->sessions;
	tmpl.cred = *cred;
	tmpl.cred_preset = true;
	tmpl.bearer = "";
	tmpl.now = cw_now_ms();
	cw_ws_request(&tmpl, method, params, result, error);
}

static int on_request(struct cw_http *h, struct lws *wsi, struct txn *t, const char *path,
		      size_t len)
{
	char *clen;
	long long clen_value = 0;

	txn_reset(t);
	t->t0 = cw_mono_ns();
	t->req.method = method_of(wsi);
	t->path = strdup(path ? path : "/");
	t->query = query_dup(wsi);
	t->bearer = header_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	t->if_none_match = header_dup(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);
	if (!t->path || !t->query)
		return -1;
	/* libwebsockets 4.1 ends the request line at a percent-decoded CR or LF, so
	 * "/users/a%0Ab" would arrive as "/users/a". Such a request has lost its HTTP
	 * version: refuse it rather than act on a path the client did not send. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) <= 0) {
		t->malformed = true;
		t->close_after = true;
		respond(h, wsi, t);
		return 0;
	}

	/* Nor on a path cut short at a percent-decoded NUL: "/%00/x" arrives as "/", and its
	 * full length says so. No route or file has such a name. (libwebsockets itself drops
	 * a NUL that ends the path, "/x/%00" arriving as "/x/", and closes the connection on
	 * one inside a segment.) */
	if (path && len != strlen(path))
		t->nul = true;

	clen = header_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (clen) {
		clen_value = atoll(clen);
		free(clen);
	}
	if (clen_value > CW_BODY_MAX) {
		t->too_large = true;
		if (clen_value > DISCARD_MAX) {
			t->close_after = true;
			respond(h, wsi, t);
			return 0;
		}
	}
	/* With a body, lws delivers it next and we answer at BODY_COMPLETION. */
	if (clen_value > 0)
		return 0;
	respond(h, wsi, t);
	return 0;
}

static int on_body(struct txn *t, const void *in, size_t len)
{
	if (len == 0)
		return 0;
	if (t->too_large || t->body_len + len > CW_BODY_MAX) {
		t->too_large = true;
		return 0;
	}
	if (t->body_len + len > t->body_cap) {
		size_t cap = t->body_cap ? t->body_cap : 1024;
		char *b;
		while (cap < t->body_len + len)
			cap *= 2;
		b = realloc(t->body, cap);
		if (!b)
			return -1;
		t->body = b;
		t->body_cap = cap;
	}
	memcpy(t->body + t->body_len, in, len);
	t->body_len += len;
	return 0;
}

/* The headers every answer has, then the ones of this request. */
static int add_headers(struct lws *wsi, struct cw_req *r, unsigned char **p, unsigned char *end)
{
	const char *cache = r->cache_control ? r->cache_control : "no-store";

	if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->content_type, r->resp_len, p,
					end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)cache, (int)strlen(cache), p, end))
		return -1;
	if (r->allow[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
						       (const unsigned char *)r->allow,
						       (int)strlen(r->allow), p, end))
		return -1;
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *name = r->header_text + r->headers[i].name;
		const char *value = r->header_text + r->headers[i].value;

		if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
						(const unsigned char *)value, (int)strlen(value), p,
						end))
			return -1;
	}
	return 0;
}

static int on_writeable(struct cw_http *h, struct lws *wsi, struct txn *t)
{
	unsigned char buf[LWS_PRE + 16384];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	struct cw_req *r = &t->req;
	size_t n, len = body_len(r);

	if (!t->responding)
		return 0;
	if (!t->headers_sent) {
		if (add_headers(wsi, r, &p, end))
			return -1;
		if (r->retry_after) {
			char ra[16];
			int ralen = snprintf(ra, sizeof(ra), "%d", r->retry_after);
			if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER,
							 (const unsigned char *)ra, ralen, &p, end))
				return -1;
		}
		if (t->close_after &&
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						 (const unsigned char *)"close", 5, &p, end))
			return -1;
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		t->headers_sent = true;
		if (len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		n = len - t->resp_off;
		if (n > sizeof(buf) - LWS_PRE)
			n = sizeof(buf) - LWS_PRE;
		memcpy(start, r->resp + t->resp_off, n);
		t->resp_off += n;
		if (lws_write(wsi, start, n,
			      t->resp_off == len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		if (t->resp_off < len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}

	log_request(h, t);
	t->responding = false;
	if (t->close_after)
		return -1;
	/* May free and rebind this transaction's memory: nothing touches t afterwards. */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct cw_http *h = lws_context_user(lws_get_context(wsi));
	struct txn *t = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_request(h, wsi, t, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return t ? on_body(t, in, len) : -1;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		respond(h, wsi, t);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return t ? on_writeable(h, wsi, t) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (t)
			txn_reset(t);
		return 0;
	case LWS_CALLBACK_WSI_CREATE:
		if (h)
			cw_metrics_connections(h->metrics, 1);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (h)
			cw_metrics_connections(h->metrics, -1);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* WebSocket pings after 15 s without traffic; a connection silent for 45 s is closed. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 15,
	.secs_since_valid_hangup = 45,
};

static void lws_log(int level, const char *line)
{
	char msg[512];
	size_t n = cw_strlcpy(msg, line, sizeof(msg));

	n = n < sizeof(msg) ? n : sizeof(msg) - 1;
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (char *c = msg; *c; c++) {
		if (*c == '"')
			*c = '\'';
	}
	cw_log(level == LLL_ERR ? CW_LOG_ERROR : CW_LOG_WARN, "lws", "msg=\"%s\"", msg);
}

int cw_http_start(struct cw_http **hp, uv_loop_t *loop, const struct cw_http_config *cfg,
		  struct cw_store *store, struct cw_auth *auth, struct cw_calls *calls,
		  struct cw_rt *rt)
{
	struct lws_context_creation_info info;
	void *loops[1] = {loop};
	struct cw_http *h;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->store = store;
	h->auth = auth;
	h->calls = calls;
	h->rt = rt;
	h->sessions = cfg->sessions;
	if (cfg->web_root && !(h->web_root = strdup(cfg->web_root))) {
		free(h);
		return -ENOMEM;
	}
	h->protocols[0] =
		(struct lws_protocols){"http", cb_http, sizeof(struct txn), 0, 0, NULL, 0};
	h->protocols[1] = cw_rt_protocol(rt);
	h->metrics = cw_metrics_new(cfg->sfu, cfg->push);
	if (!h->metrics) {
		free(h->web_root);
		free(h);
		return -ENOMEM;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	memset(&info, 0, sizeof(info));
	/* An explicit vhost, so that a port that cannot be bound fails the start. */
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6 |
		       LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.foreign_loops = loops;
	info.iface = cfg->host;
	info.port = cfg->port;
	info.protocols = h->protocols;
	info.retry_and_idle_policy = &idle_policy;
	info.user = h;
	info.pcontext = &h->ctx;
	info.max_http_header_data = 8192;
	info.timeout_secs = 20;
	info.keepalive_timeout = 30;
	info.vhost_name = "callwire";

	h->ctx = lws_create_context(&info);
	if (h->ctx && !lws_create_vhost(h->ctx, &info)) {
		/* The context joined the loop: it leaves it as at shutdown. */
		cw_error("http.start", "listen=%s:%d err=\"cannot listen\"", cfg->host, cfg->port);
		*hp = h;
		return -EADDRINUSE;
	}
	if (!h->ctx) {
		cw_error("http.start", "listen=%s:%d err=\"cannot listen\"", cfg->host, cfg->port);
		cw_metrics_free(h->metrics);
		free(h->web_root);
		free(h);
		return -EADDRINUSE;
	}
	cw_info("http.listening", "listen=%s:%d", cfg->host, cfg->port);
	*hp = h;
	return 0;
}

void cw_http_stop(struct cw_http *h)
{
	if (h && h->ctx)
		lws_context_destroy(h->ctx);
}

void cw_http_free(struct cw_http *h)
{
	if (!h)
		return;
	/* The first destroy leaves the loop to close lws's handles; this one completes it. */
	if (h->ctx)
		lws_context_destroy(h->ctx);
	cw_metrics_free(h->metrics);
	free(h->web_root);
	free(h);
}
