/* sender: drains the outbox over HTTP/2 with libcurl multi on the control loop. APNs
 * provider tokens and FCM access tokens are made once and reused; failures are retried
 * with exponential backoff and jitter (honouring Retry-After) until the entry's window
 * closes; dead device tokens are forgotten. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/hmac.h>

#include "push/internal.h"
#include "push/jwt.h"
#include "util/util.h"

#define MAX_IN_FLIGHT 100
#define BATCH 64
#define RESPONSE_MAX (64 * 1024)
#define TRANSFER_TIMEOUT_MS 15000
#define CONNECT_TIMEOUT_MS 5000
#define PUMP_MIN_MS 200
#define PUMP_MAX_MS 60000
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define WEBHOOK_MAX_ATTEMPTS 12
/* APNs: a provider token is reused for 45 minutes (Apple: refresh between 20 and 60) and
 * never made again within 20 minutes of the last. */
#define APNS_JWT_REFRESH_MS (45 * 60 * 1000LL)
#define APNS_JWT_MIN_AGE_MS (20 * 60 * 1000LL)
/* FCM access tokens are renewed a minute before they expire. */
#define OAUTH_MARGIN_MS (60 * 1000LL)
#define FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

enum outcome { OK, RETRY, FAIL, GONE, REAUTH };

static const char *const svc_names[] = {"apns", "fcm", "webhook"};

struct xfer {
	struct xfer *next;
	struct cw_push *p;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	bool oauth; /* a token fetch, not an outbox entry */
	struct cw_outbox_entry e;
	char *resp;
	size_t resp_len;
	long retry_after; /* seconds, -1: none */
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct cw_push *p;
};

static void schedule(struct cw_push *p);
static void pump(struct cw_push *p);

/* ---- libcurl on libuv ------------------------------------------------------------- */

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void check_done(struct cw_push *p);

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *k = h->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(k->p->multi, k->fd, flags, &running);
	check_done(k->p);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct cw_push *p = userp;
	struct sock *k = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (k) {
			uv_poll_stop(&k->poll);
			curl_multi_assign(p->multi, fd, NULL);
			uv_close((uv_handle_t *)&k->poll, on_sock_closed);
		}
		return 0;
	}
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return -1;
		k->fd = fd;
		k->p = p;
		if (uv_poll_init_socket(p->loop, &k->poll, fd) != 0) {
			free(k);
			return -1;
		}
		k->poll.data = k;
		curl_multi_assign(p->multi, fd, k);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&k->poll, events, on_poll);
	return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
	struct cw_push *p = t->data;
	int running;

	curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(p);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct cw_push *p = userp;

	(void)multi;
	if (p->stopping)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&p->curl_timer);
	else
		uv_timer_start(&p->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- transfers -------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, keep = len;
	char *r;

	if (x->resp_len + keep > RESPONSE_MAX)
		keep = RESPONSE_MAX - x->resp_len;
	if (keep) {
		r = realloc(x->resp, x->resp_len + keep + 1);
		if (!r)
			return 0;
		x->resp = r;
		memcpy(x->resp + x->resp_len, data, keep);
		x->resp_len += keep;
		x->resp[x->resp_len] = '\0';
	}
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char *end;
		long v = strtol(data + sizeof(name) - 1, &end, 10);
		if (end != data + sizeof(name) - 1 && v >= 0 && v < 86400)
			x->retry_after = v;
	}
	return len;
}

static void xfer_free(struct xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->body);
	free(x->resp);
	free(x->e.target);
	free(x->e.dedupe);
	free(x->e.payload);
	free(x->e.meta);
	free(x);
}

static void unlink_xfer(struct cw_push *p, struct xfer *x)
{
	for (struct xfer **pp = &p->xfers; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			return;
		}
	}
}

static bool in_flight(struct cw_push *p, int64_t id)
{
	for (struct xfer *x = p->xfers; x; x = x->next)
		if (!x->oauth && x->e.id == id)
			return true;
	return false;
}

static size_t count_in_flight(struct cw_push *p)
{
	size_t n = 0;

	for (struct xfer *x = p->xfers; x; x = x->next)
		n++;
	return n;
}

static int header(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int header(struct xfer *x, const char *fmt, ...)
{
	char line[4096 + 64];
	struct curl_slist *l;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) || !(l = curl_slist_append(x->headers, line)))
		return -1;
	x->headers = l;
	return 0;
}

/* Starts a POST of x->body to url. */
static int post(struct cw_push *p, struct xfer *x, const char *url, const char *ca_file)
{
	x->easy = curl_easy_init();
	if (!x->easy)
		return -ENOMEM;
	x->p = p;
	x->retry_after = -1;
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)TRANSFER_TIMEOUT_MS);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* Wait for a connection that can multiplex rather than open another. */
	curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "callwire");
	if (ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, ca_file);
	if (curl_multi_add_handle(p->multi, x->easy) != CURLM_OK)
		return -EIO;
	x->next = p->xfers;
	p->xfers = x;
	return 0;
}

/* ---- credentials -------------------------------------------------------------------- */

struct creds *cw__push_creds(struct cw_push *p, const char *app_id)
{
	struct creds *c = cw_map_get(&p->creds, app_id);

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	cw_strlcpy(c->app_id, app_id, sizeof(c->app_id));
	if (cw_map_put(&p->creds, app_id, c) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void key_hash(const char *a, const char *b, const char *c, char out[CW_HASH_HEX + 1])
{
	char *text = NULL;

	if (asprintf(&text, "%s\n%s\n%s", a ? a : "", b ? b : "", c ? c : "") < 0) {
		out[0] = '\0';
		return;
	}
	cw_sha256_hex(text, strlen(text), out);
	explicit_bzero(text, strlen(text));
	free(text);
}

/* The app's APNs provider token, made when there is none, when the key changed, or when
 * it is 45 minutes old. NULL when it cannot be made now. */
static const char *apns_jwt(struct cw_push *p, struct creds *cr, const struct cw_push_config *c,
			    int64_t now)
{
	char h[CW_HASH_HEX + 1], why[120];
	char *jwt;

	key_hash(c->apns_key, c->apns_key_id, c->apns_team_id, h);
	if (cr->apns_jwt && strcmp(h, cr->apns_key_hash) == 0 &&
	    now - cr->apns_minted_at < APNS_JWT_REFRESH_MS)
		return cr->apns_jwt;
	jwt = cw_jwt_apns(c->apns_key, c->apns_key_id, c->apns_team_id, now / 1000, why,
			  sizeof(why));
	if (!jwt) {
		cw_error("push.apns", "app=%s err=\"%s\"", cr->app_id, why);
		return NULL;
	}
	free(cr->apns_jwt);
	cr->apns_jwt = jwt;
	cr->apns_minted_at = now;
	memcpy(cr->apns_key_hash, h, sizeof(h));
	p->stats.jwt_minted++;
	cw_info("push.apns_token", "app=%s key=%s", cr->app_id, c->apns_key_id);
	return jwt;
}

struct account {
	json_t *root;
	const char *project, *email, *key, *key_id, *token_uri;
};

static int account_of(const struct cw_push_config *c, struct account *a)
{
	memset(a, 0, sizeof(*a));
	a->root = c->fcm_service_account ? json_loads(c->fcm_service_account, 0, NULL) : NULL;
	if (json_unpack(a->root, "{s:s,s:s,s:s}", "project_id", &a->project, "client_email",
			&a->email, "private_key", &a->key) != 0) {
		json_decref(a->root);
		a->root = NULL;
		return -EINVAL;
	}
	a->key_id = json_string_value(json_object_get(a->root, "private_key_id"));
	a->token_uri = json_string_value(json_object_get(a->root, "token_uri"));
	if (!a->token_uri)
		a->token_uri = "https://oauth2.googleapis.com/token";
	return 0;
}

/* Starts fetching an FCM access token for the app. */
static void oauth_fetch(struct cw_push *p, struct creds *cr, const struct cw_push_config *c,
			int64_t now)
{
	struct account a;
	struct xfer *x;
	char why[120], *jwt;

	if (cr->fcm_fetching || now < cr->fcm_retry_at || account_of(c, &a) != 0)
		return;
	jwt = cw_jwt_service_account(a.key, a.key_id, a.email, FCM_SCOPE, a.token_uri, now / 1000,
				     why, sizeof(why));
	x = calloc(1, sizeof(*x));
	if (!jwt || !x ||
	    asprintf(&x->body,
		     "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
		     "&assertion=%s",
		     jwt) < 0) {
		cw_error("push.oauth", "app=%s err=\"%s\"", cr->app_id,
			 jwt ? "out of memory" : why);
		cr->fcm_retry_at = now + BACKOFF_MAX_MS;
		free(jwt);
		free(x);
		json_decref(a.root);
		return;
	}
	free(jwt);
	x->oauth = true;
	cw_strlcpy(x->e.app_id, cr->app_id, sizeof(x->e.app_id));
	key_hash(a.key, a.email, a.project, cr->fcm_key_hash);
	if (header(x, "Content-Type: application/x-www-form-urlencoded") != 0 ||
	    post(p, x, c->oauth_url ? c->oauth_url : a.token_uri, c->ca_file) != 0) {
		unlink_xfer(p, x);
		xfer_free(x);
	} else {
		cr->fcm_fetching = true;
	}
	json_decref(a.root);
}

static void oauth_done(struct cw_push *p, struct xfer *x, CURLcode res, long status)
{
	struct creds *cr = cw__push_creds(p, x->e.app_id);
	int64_t now = cw_now_ms();
	json_t *r = x->resp ? json_loads(x->resp, 0, NULL) : NULL;
	const char *token = NULL;
	json_int_t expires = 0;

	if (!cr)
		goto out;
	cr->fcm_fetching = false;
	if (res == CURLE_OK && status == 200 &&
	    json_unpack(r, "{s:s,s:I}", "access_token", &token, "expires_in", &expires) == 0 &&
	    expires > 0) {
		free(cr->fcm_token);
		cr->fcm_token = strdup(token);
		cr->fcm_expires_at = now + (int64_t)expires * 1000;
		cr->fcm_failures = 0;
		p->stats.oauth_fetched++;
		cw_info("push.oauth", "app=%s expires_in=%lld", cr->app_id, (long long)expires);
	} else {
		int64_t wait = BACKOFF_BASE_MS << (cr->fcm_failures < 8 ? cr->fcm_failures : 8);
		cr->fcm_failures++;
		cr->fcm_retry_at = now + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
		cw_warn("push.oauth", "app=%s status=%ld curl=%d err=\"no access token\"",
			cr->app_id, status, (int)res);
	}
out:
	json_decref(r);
	cw__push_kick(p);
}

/* ---- outbox entries ----------------------------------------------------------------- */

/* Starts sending e (copied). Returns 1 when started, 0 when it must wait (credentials
 * coming), or a negative errno: the entry cannot be sent and is dropped. */
static int start(struct cw_push *p, const struct cw_outbox_entry *e, int64_t now)
{
	struct cw_push_config c;
	struct creds *cr = cw__push_creds(p, e->app_id);
	json_t *meta = e->meta ? json_loads(e->meta, 0, NULL) : NULL;
	struct xfer *x = NULL;
	char *url = NULL;
	int rc = -EINVAL;

	if (!cr || cw_store_push_config_get(p->store, e->app_id, &c) != 0) {
		json_decref(meta);
		return cr ? -ENOENT : -ENOMEM;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		goto out;
	x->e = *e;
	x->e.target = strdup(e->target);
	x->e.dedupe = strdup(e->dedupe);
	x->e.payload = strdup(e->payload);
	x->e.meta = strdup(e->meta ? e->meta : "{}");
	x->body = strdup(e->payload);
	if (!x->e.target || !x->e.dedupe || !x->e.payload || !x->e.meta || !x->body)
		goto out;
	if (e->kind == CW_OUT_APNS) {
		const char *type, *topic, *collapse, *jwt;
		json_int_t expiration;
		int priority, production;

		if (!c.apns_key || !c.apns_key_id || !c.apns_team_id ||
		    json_unpack(meta, "{s:s,s:s,s:i,s:I,s:s,s:b}", "pushType", &type, "topic",
				&topic, "priority", &priority, "expiration", &expiration,
				"collapseId", &collapse, "production", &production) != 0)
			goto out;
		if (!(jwt = apns_jwt(p, cr, &c, now)))
			goto out;
		if (asprintf(&url, "%s/3/device/%s",
			     c.apns_url	  ? c.apns_url
			     : production ? "https://api.push.apple.com"
					  : "https://api.sandbox.push.apple.com",
			     e->target) < 0) {
			url = NULL;
			goto out;
		}
		if (header(x, "authorization: bearer %s", jwt) ||
		    header(x, "apns-push-type: %s", type) || header(x, "apns-topic: %s", topic) ||
		    header(x, "apns-priority: %d", priority) ||
		    header(x, "apns-expiration: %lld", (long long)expiration) ||
		    header(x, "apns-collapse-id: %.64s", collapse) ||
		    header(x, "content-type: application/json"))
			goto out;
	} else if (e->kind == CW_OUT_FCM) {
		struct account a;

		char h[CW_HASH_HEX + 1];

		if (account_of(&c, &a) != 0)
			goto out;
		/* A new service account: the token of the old one is no use. */
		key_hash(a.key, a.email, a.project, h);
		if (cr->fcm_token && strcmp(h, cr->fcm_key_hash) != 0) {
			free(cr->fcm_token);
			cr->fcm_token = NULL;
		}
		if (!cr->fcm_token || cr->fcm_expires_at - OAUTH_MARGIN_MS <= now) {
			oauth_fetch(p, cr, &c, now);
			json_decref(a.root);
			rc = 0; /* waits for the token */
			goto out;
		}
		rc = asprintf(&url, "%s/v1/projects/%s/messages:send",
			      c.fcm_url ? c.fcm_url : "https://fcm.googleapis.com", a.project);
		json_decref(a.root);
		if (rc < 0) {
			url = NULL;
			rc = -ENOMEM;
			goto out;
		}
		rc = -EINVAL;
		if (header(x, "authorization: Bearer %s", cr->fcm_token) ||
		    header(x, "content-type: application/json; charset=utf-8"))
			goto out;
	} else {
		unsigned char mac[32];
		unsigned int maclen = sizeof(mac);
		char hex[65], *signed_text = NULL;
		const char *event = json_string_value(json_object_get(meta, "event"));
		long long t = (long long)(now / 1000);

		if (!c.webhook_secret || asprintf(&signed_text, "%lld.%s", t, e->payload) < 0 ||
		    !HMAC(EVP_sha256(), c.webhook_secret, (int)strlen(c.webhook_secret),
			  (const unsigned char *)signed_text, strlen(signed_text), mac, &maclen)) {
			free(signed_text);
			goto out;
		}
		free(signed_text);
		for (unsigned i = 0; i < maclen; i++)
			snprintf(hex + 2 * i, 3, "%02x", mac[i]);
		url = strdup(e->target);
		if (!url || header(x, "content-type: application/json") ||
		    header(x, "callwire-signature: t=%lld,v1=%s", t, hex) ||
		    header(x, "callwire-event: %s", event ? event : "call") ||
		    header(x, "callwire-delivery: %s", e->dedupe))
			goto out;
	}
	if (post(p, x, url, c.ca_file) != 0) {
		unlink_xfer(p, x);
		rc = -EIO;
		goto out;
	}
	x = NULL;
	rc = 1;
out:
	if (x)
		xfer_free(x);
	free(url);
	json_decref(meta);
	cw_push_config_free(&c);
	return rc;
}

/* What a response means. reason: the service's error reason, for the log. */
static enum outcome classify(const struct xfer *x, CURLcode res, long status, char *reason,
			     size_t size)
{
	json_t *r = x->resp ? json_loads(x->resp, 0, NULL) : NULL;
	const char *why = NULL;
	enum outcome o;

	reason[0] = '\0';
	if (res != CURLE_OK) {
		snprintf(reason, size, "%s", curl_easy_strerror(res));
		json_decref(r);
		return RETRY;
	}
	if (x->e.kind == CW_OUT_APNS) {
		why = json_string_value(json_object_get(r, "reason"));
		if (status == 200)
			o = OK;
		else if (status == 410 ||
			 (status == 400 && why && strcmp(why, "BadDeviceToken") == 0))
			o = GONE;
		else if (status == 403 && why &&
			 (strcmp(why, "ExpiredProviderToken") == 0 ||
			  strcmp(why, "InvalidProviderToken") == 0))
			o = REAUTH;
		else
			o = status == 429 || status >= 500 ? RETRY : FAIL;
	} else if (x->e.kind == CW_OUT_FCM) {
		json_t *err = json_object_get(r, "error"), *d;
		size_t i;
		bool unregistered = false;

		why = json_string_value(json_object_get(err, "status"));
		json_array_foreach (json_object_get(err, "details"), i, d) {
			const char *code = json_string_value(json_object_get(d, "errorCode"));
			if (code) {
				why = code;
				unregistered |= strcmp(code, "UNREGISTERED") == 0;
			}
		}
		if (status == 200)
			o = OK;
		else if (status == 404 || unregistered)
			o = GONE;
		else if (status == 401)
			o = REAUTH;
		else
			o = status == 429 || status >= 500 ? RETRY : FAIL;
	} else {
		o = status >= 200 && status < 300				       ? OK
		    : status == 408 || status == 425 || status == 429 || status >= 500 ? RETRY
										       : FAIL;
	}
	if (o != OK)
		snprintf(reason, size, "%s", why ? why : "-");
	json_decref(r);
	return o;
}

static int64_t backoff_ms(int attempts, long retry_after)
{
	int64_t base;
	uint32_t r = 0;

	if (retry_after >= 0)
		return retry_after * 1000;
	base = (int64_t)BACKOFF_BASE_MS << (attempts < 12 ? attempts - 1 : 11);
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	cw_rand_bytes(&r, sizeof(r));
	return base / 2 + (int64_t)(r % (uint32_t)(base / 2 + 1));
}

static void forget_token(struct cw_push *p, const struct xfer *x, const char *meta_text)
{
	json_t *meta = meta_text ? json_loads(meta_text, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(meta, "pushType"));
	enum cw_push_platform platform = x->e.kind == CW_OUT_FCM	     ? CW_PUSH_FCM
					 : type && strcmp(type, "voip") == 0 ? CW_PUSH_APNS_VOIP
									     : CW_PUSH_APNS;

	if (cw_store_push_token_forget(p->store, x->e.app_id, platform, x->e.target) == 0) {
		p->stats.tokens_removed++;
		cw_info("push.token_removed", "app=%s service=%s", x->e.app_id,
			svc_names[x->e.kind]);
	}
	json_decref(meta);
}

static void entry_done(struct cw_push *p, struct xfer *x, CURLcode res, long status)
{
	int64_t now = cw_now_ms(), next;
	int svc = x->e.kind, attempts = x->e.attempts + 1;
	struct creds *cr = cw__push_creds(p, x->e.app_id);
	char reason[120];
	enum outcome o = classify(x, res, status, reason, sizeof(reason));

	switch (o) {
	case OK:
		p->stats.sent[svc]++;
		cw_store_outbox_delete(p->store, x->e.id);
		cw_log(CW_LOG_DEBUG, "push.sent", "app=%s service=%s id=%" PRId64, x->e.app_id,
		       svc_names[svc], x->e.id);
		break;
	case GONE:
		forget_token(p, x, x->e.meta);
		p->stats.failed[svc]++;
		cw_store_outbox_delete(p->store, x->e.id);
		break;
	case FAIL:
		p->stats.failed[svc]++;
		cw_store_outbox_delete(p->store, x->e.id);
		cw_warn("push.failed", "app=%s service=%s status=%ld reason=\"%s\"", x->e.app_id,
			svc_names[svc], status, reason);
		break;
	case REAUTH:
	case RETRY:
		if (o == REAUTH && cr && svc == CW_OUT_FCM) {
			free(cr->fcm_token);
			cr->fcm_token = NULL;
		}
		next = now + backoff_ms(attempts, x->retry_after);
		/* A provider token younger than 20 minutes is not replaced: wait for that. */
		if (o == REAUTH && cr && svc == CW_OUT_APNS && cr->apns_jwt) {
			if (now - cr->apns_minted_at >= APNS_JWT_MIN_AGE_MS)
				cr->apns_minted_at = 0; /* old enough: a new one on the next send */
			else if (next < cr->apns_minted_at + APNS_JWT_MIN_AGE_MS)
				next = cr->apns_minted_at + APNS_JWT_MIN_AGE_MS;
		}
		if ((x->e.expires_at && next > x->e.expires_at) ||
		    (svc == CW_OUT_WEBHOOK && attempts >= WEBHOOK_MAX_ATTEMPTS)) {
			p->stats.dropped[svc]++;
			cw_store_outbox_delete(p->store, x->e.id);
			cw_warn("push.dropped",
				"app=%s service=%s status=%ld reason=\"%s\" attempts=%d",
				x->e.app_id, svc_names[svc], status, reason, attempts);
		} else {
			p->stats.retried[svc]++;
			cw_store_outbox_retry(p->store, x->e.id, next, attempts);
			cw_info("push.retry",
				"app=%s service=%s status=%ld reason=\"%s\" in_ms=%" PRId64,
				x->e.app_id, svc_names[svc], status, reason, next - now);
		}
		break;
	}
}

static void check_done(struct cw_push *p)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(p->multi, &left))) {
		struct xfer *x = NULL;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(p->multi, m->easy_handle);
		unlink_xfer(p, x);
		if (x->oauth)
			oauth_done(p, x, m->data.result, status);
		else
			entry_done(p, x, m->data.result, status);
		xfer_free(x);
		cw__push_kick(p);
	}
}

/* ---- the outbox pump ------------------------------------------------------------------ */

static void on_pump(uv_timer_t *t)
{
	pump(t->data);
}

void cw__push_kick(struct cw_push *p)
{
	if (p->started && !p->stopping)
		uv_timer_start(&p->pump_timer, on_pump, 0, 0);
}

static void schedule(struct cw_push *p)
{
	int64_t when = 0, wait;

	if (p->stopping || cw_store_outbox_next_at(p->store, &when) != 0 || when == 0)
		return;
	wait = when - cw_now_ms();
	if (wait < PUMP_MIN_MS)
		wait = PUMP_MIN_MS;
	if (wait > PUMP_MAX_MS)
		wait = PUMP_MAX_MS;
	uv_timer_start(&p->pump_timer, on_pump, (uint64_t)wait, 0);
}

static void pump(struct cw_push *p)
{
	struct cw_outbox_entry *due = NULL;
	int64_t now = cw_now_ms();
	size_t n = 0;

	if (p->stopping)
		return;
	if (cw_store_outbox_due(p->store, now, BATCH, &due, &n) != 0) {
		schedule(p);
		return;
	}
	for (size_t i = 0; i < n && count_in_flight(p) < MAX_IN_FLIGHT; i++) {
		const struct cw_outbox_entry *e = &due[i];
		int rc;

		if (in_flight(p, e->id))
			continue;
		if (e->expires_at && now > e->expires_at) {
			p->stats.dropped[e->kind]++;
			cw_store_outbox_delete(p->store, e->id);
			cw_info("push.dropped", "app=%s service=%s reason=\"out of its window\"",
				e->app_id, svc_names[e->kind]);
			continue;
		}
		rc = start(p, e, now);
		if (rc < 0) {
			p->stats.failed[e->kind]++;
			cw_store_outbox_delete(p->store, e->id);
			cw_warn("push.failed", "app=%s service=%s err=\"cannot be sent (%s)\"",
				e->app_id, svc_names[e->kind],
				rc == -ENOENT ? "no settings" : "settings incomplete");
		}
	}
	cw_outbox_entries_free(due, n);
	schedule(p);
}

/* ---- life cycle ----------------------------------------------------------------------- */

int cw_push_new(struct cw_push **pp, uv_loop_t *loop, struct cw_store *store)
{
	struct cw_push *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->store = store;
	*pp = p;
	return 0;
}

void cw_push_set_rt(struct cw_push *p, struct cw_rt *rt)
{
	p->rt = rt;
}

int cw_push_start(struct cw_push *p)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	p->multi = curl_multi_init();
	if (!p->multi)
		return -ENOMEM;
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	uv_timer_init(p->loop, &p->curl_timer);
	p->curl_timer.data = p;
	uv_timer_init(p->loop, &p->pump_timer);
	p->pump_timer.data = p;
	p->started = true;
	cw__push_kick(p);
	return 0;
}

void cw_push_stop(struct cw_push *p)
{
	if (!p || !p->started || p->stopping)
		return;
	p->stopping = true;
	while (p->xfers) {
		struct xfer *x = p->xfers;
		p->xfers = x->next;
		curl_multi_remove_handle(p->multi, x->easy);
		xfer_free(x);
	}
	curl_multi_cleanup(p->multi);
	p->multi = NULL;
	uv_close((uv_handle_t *)&p->curl_timer, NULL);
	uv_close((uv_handle_t *)&p->pump_timer, NULL);
}

static void free_rung(void *ctx, const char *key, void *val)
{
	(void)ctx;
	(void)key;
	free(val);
}

static void free_creds(void *ctx, const char *key, void *val)
{
	struct creds *c = val;

	(void)ctx;
	(void)key;
	free(c->apns_jwt);
	free(c->fcm_token);
	free(c);
}

void cw_push_free(struct cw_push *p)
{
	if (!p)
		return;
	cw_map_each(&p->rung, free_rung, NULL);
	cw_map_clear(&p->rung);
	cw_map_each(&p->creds, free_creds, NULL);
	cw_map_clear(&p->creds);
	if (p->started)
		curl_global_cleanup();
	free(p);
}

void cw_push_stats(struct cw_push *p, struct cw_push_stats *out)
{
	*out = p->stats;
	out->pending = 0;
	cw_store_outbox_count(p->store, &out->pending);
}
