/* http: the few REST exchanges the client needs (login, me, logout), one connection
 * each. Network thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk.h"

#define MAX_RESPONSE (1u << 20)

static struct cw__req *req_of(struct lws *wsi)
{
	return lws_get_opaque_user_data(wsi);
}

/* Detaches r from its connection (which is closed) and completes it. */
static void finish(struct cw__req *r, int err, const char *message, json_t *result)
{
	if (r->wsi) {
		lws_set_opaque_user_data(r->wsi, NULL);
		r->wsi = NULL;
	}
	r->c->http_completed++;
	cw__complete(r, err, message, result);
}

/* The HTTP answer as a result or a server error. */
static void finish_response(struct cw__req *r)
{
	json_t *body = r->resp ? json_loadb(r->resp, r->resp_len, 0, NULL) : NULL;
	json_t *error = json_object_get(body, "error");

	if (r->status >= 200 && r->status < 300) {
		if (json_is_object(body) || r->status == 204)
			finish(r, 0, NULL, body);
		else
			finish(r, CW_ERR_PROTOCOL, NULL, NULL);
	} else if (json_is_object(error)) {
		finish(r, cw__err_from_code(json_string_value(json_object_get(error, "code"))),
		       json_string_value(json_object_get(error, "message")), error);
	} else {
		char msg[64];
		snprintf(msg, sizeof(msg), "the server answered HTTP %d", r->status);
		finish(r, CW_ERR_SERVER, msg, NULL);
	}
	json_decref(body);
}

static int add_header(struct lws *wsi, enum lws_token_indexes tok, const char *value,
		      unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_token(wsi, tok, (const unsigned char *)value,
					    (int)strlen(value), p, end);
}

static int append_headers(struct cw__req *r, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = (*p) + len;
	char value[600];

	if (r->token) {
		snprintf(value, sizeof(value), "Bearer %s", r->token);
		if (add_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, value, p, end))
			return -1;
	}
	if (r->body_text) {
		snprintf(value, sizeof(value), "%zu", r->body_len);
		if (add_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, "application/json", p, end) ||
		    add_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, value, p, end))
			return -1;
		lws_client_http_body_pending(wsi, 1);
		lws_callback_on_writable(wsi);
	}
	return 0;
}

static int on_body(struct cw__req *r, const void *in, size_t len)
{
	char *grown;

	if (r->resp_len + len > MAX_RESPONSE)
		return -1;
	grown = realloc(r->resp, r->resp_len + len + 1);
	if (!grown)
		return -1;
	r->resp = grown;
	memcpy(r->resp + r->resp_len, in, len);
	r->resp_len += len;
	return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct cw__req *r = req_of(wsi);
	char buf[LWS_PRE + 4096], *px;
	int n;

	(void)user;
	if (!r)
		return reason == LWS_CALLBACK_CLIENT_HTTP_WRITEABLE ||
				       reason == LWS_CALLBACK_RECEIVE_CLIENT_HTTP
			       ? -1
			       : 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return append_headers(r, wsi, in, len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (!r->body_text)
			return 0;
		lws_client_http_body_pending(wsi, 0);
		memcpy(buf + LWS_PRE, r->body_text,
		       r->body_len < sizeof(buf) - LWS_PRE ? r->body_len : sizeof(buf) - LWS_PRE);
		n = lws_write(wsi, (unsigned char *)buf + LWS_PRE, r->body_len,
			      LWS_WRITE_HTTP_FINAL);
		return n < 0 ? -1 : 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		r->status = (int)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		return on_body(r, in, len);
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		px = buf + LWS_PRE;
		n = sizeof(buf) - LWS_PRE;
		return lws_http_client_read(wsi, &px, &n) < 0 ? -1 : 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		finish_response(r);
		return -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		char msg[300];
		snprintf(msg, sizeof(msg), "cannot reach the server at %s:%d (%s)", r->c->host,
			 r->c->port, in ? (const char *)in : "connection failed");
		finish(r, CW_ERR_CONNECTION, msg, NULL);
		return 0;
	}
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		finish(r, CW_ERR_CONNECTION_LOST, NULL, NULL);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols cw__http_protocol = {
	.name = "callwire-sdk-http",
	.callback = http_callback,
};

void cw__http_start(cw_client *c, struct cw__req *r)
{
	struct lws_client_connect_info i;
	char path[512];
	unsigned before;
	struct lws *wsi;

	if (r->params) {
		r->body_text = json_dumps(r->params, JSON_COMPACT);
		if (!r->body_text) {
			cw__complete(r, CW_ERR_NO_MEMORY, NULL, NULL);
			return;
		}
		r->body_len = strlen(r->body_text);
		/* Bodies are a login at most: one write. */
		if (r->body_len > 4096 - 1) {
			cw__complete(r, CW_ERR_INVALID_ARGUMENT, "request body too large", NULL);
			return;
		}
	}
	snprintf(path, sizeof(path), "/v1/apps/%s%s", c->app_id, r->path);
	memset(&i, 0, sizeof(i));
	i.context = c->ctx;
	i.address = c->host;
	i.port = c->port;
	i.path = path;
	i.host = c->host_header;
	i.origin = c->host_header;
	i.method = r->method;
	i.local_protocol_name = cw__http_protocol.name;
	i.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
	i.opaque_user_data = r;
	cw__list_del(&r->link);
	cw__list_add_tail(&c->http, &r->link);
	before = c->http_completed;
	wsi = lws_client_connect_via_info(&i);
	/* The error callback may already have completed (and freed) r. */
	if (c->http_completed != before)
		return;
	r->wsi = wsi;
	if (!wsi)
		finish(r, CW_ERR_CONNECTION, NULL, NULL);
}

void cw__http_fail_all(cw_client *c, int err)
{
	while (!cw__list_empty(&c->http))
		finish(cw__container_of(c->http.next, struct cw__req, link), err, NULL, NULL);
}

void cw__http_tick(cw_client *c, int64_t now)
{
	struct cw__link *l, *next;

	for (l = c->http.next; l != &c->http; l = next) {
		struct cw__req *r = cw__container_of(l, struct cw__req, link);
		next = l->next;
		if (r->deadline > now)
			continue;
		if (r->wsi)
			lws_set_timeout(r->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		finish(r, CW_ERR_TIMEOUT, "timed out waiting for the server's answer", NULL);
	}
}
