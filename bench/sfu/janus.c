/* janus: a blocking client of Janus's HTTP API with libcurl and jansson (janus.h).
 *
 * Two easy handles, both kept alive for the whole session: `req` sends every request
 * (curl_easy_perform, one persistent connection), `poll` is the long poll, driven through a
 * multi handle so that it stays in flight between calls. Janus's HTTP transport parks a
 * long poll until an event arrives (30 s at most) and then writes the events it took from
 * the session's queue to it, whether or not its client is still there: cutting a long poll
 * short with a client timeout would lose the next batch of events, so this never does. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "janus.h"

#define DEADLINE_MS 10000    /* default: each request, each wait for an event */
#define POLL_MAXEV 100	     /* events per long-poll answer */
#define POLL_CURL_MS 45000   /* Janus answers a long poll within 30 s, with a keepalive */
#define POLL_RETRY_MS 200    /* after a failed long poll */
#define POLL_FAILURES_MAX 10 /* consecutive: janus_poll reports -1 */
#define BODY_MAX (4u << 20)  /* bytes of one HTTP answer */

struct buf {
	char *p;
	size_t len;
};

struct janus {
	CURL *req, *poll;
	CURLM *multi;
	struct curl_slist *headers;
	char *base; /* http://host:port/janus, no trailing slash */
	char *poll_url;
	uint64_t session;
	uint64_t ctl; /* a handle for synchronous requests (create), 0 until needed */
	unsigned long txn;
	char txn_prefix[16];
	int deadline_ms;
	struct buf req_body, poll_body;
	bool poll_running;
	int poll_failures;
	long long poll_retry_at; /* ms, CLOCK_MONOTONIC */
	char poll_err[256];
	/* The event a call is waiting for: its transaction and sender; `got` once it came. */
	const char *want_txn;
	uint64_t want_sender;
	json_t *got;
	struct janus_counts counts;
	struct janus_event *evq; /* ring of JANUS_EVENT_QUEUE */
	size_t evq_head, evq_len;
	unsigned long evq_dropped;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > BODY_MAX)
		return 0;
	p = realloc(b->p, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, n);
	b->p = p;
	b->len += n;
	p[b->len] = '\0';
	return n;
}

static CURL *easy_new(struct janus *j, struct buf *body)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* never an http_proxy of the environment */
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	return e;
}

/* The text of a Janus error answer, or of a plugin's error_code in plugindata.data; true
 * if msg is one. */
static bool janus_failed(json_t *msg, char *err, size_t errlen)
{
	const char *kind = json_string_value(json_object_get(msg, "janus"));
	json_t *data;

	if (kind && !strcmp(kind, "error")) {
		json_t *e = json_object_get(msg, "error");
		seterr(err, errlen, "janus error %lld: %s",
		       (long long)json_integer_value(json_object_get(e, "code")),
		       json_string_value(json_object_get(e, "reason"))
			       ? json_string_value(json_object_get(e, "reason"))
			       : "(no reason)");
		return true;
	}
	data = json_object_get(json_object_get(msg, "plugindata"), "data");
	if (json_object_get(data, "error_code")) {
		const char *text = json_string_value(json_object_get(data, "error"));
		seterr(err, errlen, "videoroom error %lld: %s",
		       (long long)json_integer_value(json_object_get(data, "error_code")),
		       text ? text : "(no text)");
		return true;
	}
	return false;
}

/* POSTs req (a transaction is added) to base[/session[/handle]]. The answer in *resp, or
 * -1 with err (transport failure, HTTP status, JSON, or a Janus error answer). */
static int post(struct janus *j, uint64_t handle, json_t *req, char *txn, size_t txnlen,
		json_t **resp, char *err, size_t errlen)
{
	char url[512], *text;
	long status = 0;
	CURLcode rc;
	json_error_t jerr;

	*resp = NULL;
	snprintf(txn, txnlen, "%s%lu", j->txn_prefix, ++j->txn);
	json_object_set_new(req, "transaction", json_string(txn));
	if (j->session && handle)
		snprintf(url, sizeof(url), "%s/%llu/%llu", j->base, (unsigned long long)j->session,
			 (unsigned long long)handle);
	else if (j->session)
		snprintf(url, sizeof(url), "%s/%llu", j->base, (unsigned long long)j->session);
	else
		snprintf(url, sizeof(url), "%s", j->base);
	text = json_dumps(req, JSON_COMPACT);
	if (!text) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	free(j->req_body.p);
	j->req_body.p = NULL;
	j->req_body.len = 0;
	curl_easy_setopt(j->req, CURLOPT_URL, url);
	curl_easy_setopt(j->req, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(j->req, CURLOPT_TIMEOUT_MS, (long)j->deadline_ms);
	rc = curl_easy_perform(j->req);
	free(text);
	if (rc != CURLE_OK) {
		seterr(err, errlen, "POST %s: %s", url, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(j->req, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		seterr(err, errlen, "POST %s: HTTP %ld", url, status);
		return -1;
	}
	*resp = json_loads(j->req_body.p ? j->req_body.p : "", 0, &jerr);
	if (!json_is_object(*resp)) {
		seterr(err, errlen, "POST %s: not a JSON object: %s", url, jerr.text);
		json_decref(*resp);
		*resp = NULL;
		return -1;
	}
	if (janus_failed(*resp, err, errlen)) {
		json_decref(*resp);
		*resp = NULL;
		return -1;
	}
	return 0;
}

static void enqueue(struct janus *j, const struct janus_event *ev)
{
	if (j->evq_len == JANUS_EVENT_QUEUE) {
		j->evq_head = (j->evq_head + 1) % JANUS_EVENT_QUEUE;
		j->evq_len--;
		j->evq_dropped++;
	}
	j->evq[(j->evq_head + j->evq_len) % JANUS_EVENT_QUEUE] = *ev;
	j->evq_len++;
}

/* One event of the long poll: the answer a call waits for, or counted and queued. */
static int dispatch(struct janus *j, json_t *msg)
{
	const char *kind = json_string_value(json_object_get(msg, "janus"));
	const char *txn = json_string_value(json_object_get(msg, "transaction"));
	uint64_t sender = (uint64_t)json_integer_value(json_object_get(msg, "sender"));
	struct janus_event ev = {.handle = sender, .receiving = -1};

	if (!kind || !strcmp(kind, "keepalive") || !strcmp(kind, "ack"))
		return 0; /* the answer to an idle long poll */
	if (j->want_txn && !j->got && txn && !strcmp(txn, j->want_txn) &&
	    sender == j->want_sender) {
		j->got = json_incref(msg);
		return 1;
	}
	if (!strcmp(kind, "webrtcup"))
		j->counts.webrtcup++;
	else if (!strcmp(kind, "media"))
		j->counts.media++;
	else if (!strcmp(kind, "hangup"))
		j->counts.hangup++;
	else if (!strcmp(kind, "slowlink"))
		j->counts.slowlink++;
	else
		j->counts.other++;
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	if (!strcmp(kind, "media")) {
		json_t *r = json_object_get(msg, "receiving");
		const char *mid = json_string_value(json_object_get(msg, "mid"));
		if (json_is_boolean(r))
			ev.receiving = json_is_true(r);
		snprintf(ev.mid, sizeof(ev.mid), "%s", mid ? mid : "");
	}
	enqueue(j, &ev);
	return 1;
}

static int poll_start(struct janus *j)
{
	char url[512];

	free(j->poll_body.p);
	j->poll_body.p = NULL;
	j->poll_body.len = 0;
	/* rid: a fresh URL each time, as janus.js does (no cache can answer it). */
	snprintf(url, sizeof(url), "%s?maxev=%d&rid=%lld", j->poll_url, POLL_MAXEV, now_ms());
	curl_easy_setopt(j->poll, CURLOPT_URL, url);
	if (curl_multi_add_handle(j->multi, j->poll) != CURLM_OK) {
		snprintf(j->poll_err, sizeof(j->poll_err), "curl_multi_add_handle failed");
		return -1;
	}
	j->poll_running = true;
	return 0;
}

/* The long poll's answer: dispatches its events; how many, or -1. */
static int poll_done(struct janus *j, CURLcode rc)
{
	long status = 0;
	json_t *root;
	json_error_t jerr;
	int n = 0;

	curl_multi_remove_handle(j->multi, j->poll);
	j->poll_running = false;
	curl_easy_getinfo(j->poll, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		if (rc != CURLE_OK)
			snprintf(j->poll_err, sizeof(j->poll_err), "long poll: %s",
				 curl_easy_strerror(rc));
		else
			snprintf(j->poll_err, sizeof(j->poll_err), "long poll: HTTP %ld", status);
		j->poll_failures++;
		j->poll_retry_at = now_ms() + POLL_RETRY_MS;
		return -1;
	}
	root = json_loads(j->poll_body.p ? j->poll_body.p : "", 0, &jerr);
	if (!root) {
		snprintf(j->poll_err, sizeof(j->poll_err), "long poll: bad JSON: %s", jerr.text);
		j->poll_failures++;
		j->poll_retry_at = now_ms() + POLL_RETRY_MS;
		return -1;
	}
	j->poll_failures = 0;
	if (json_is_array(root)) {
		size_t i;
		json_t *msg;
		json_array_foreach (root, i, msg) {
			n += dispatch(j, msg);
		}
	} else {
		n = dispatch(j, root);
	}
	json_decref(root);
	return n;
}

/* Drives the long poll until `until` (ms, CLOCK_MONOTONIC), or until the awaited event came
 * (want_txn) or, with stop_on_batch, an answer was processed. Events processed, or -1 when
 * the long poll failed POLL_FAILURES_MAX times in a row. */
static int drive(struct janus *j, long long until, bool stop_on_batch)
{
	int events = 0;

	for (;;) {
		long long now = now_ms();
		int still = 0, left, wait;
		bool batch = false;
		CURLMsg *m;

		if (!j->poll_running && now >= j->poll_retry_at && poll_start(j) < 0)
			return -1;
		if (curl_multi_perform(j->multi, &still) != CURLM_OK) {
			snprintf(j->poll_err, sizeof(j->poll_err), "curl_multi_perform failed");
			return -1;
		}
		while ((m = curl_multi_info_read(j->multi, &left))) {
			if (m->msg == CURLMSG_DONE && m->easy_handle == j->poll) {
				int n = poll_done(j, m->data.result);
				if (n >= 0) {
					events += n;
					batch = true;
				}
				break; /* the handle was removed: the rest of the list is stale */
			}
		}
		if (j->poll_failures >= POLL_FAILURES_MAX)
			return -1;
		if ((j->want_txn && j->got) || (stop_on_batch && batch))
			return events;
		if (!j->poll_running && now_ms() >= j->poll_retry_at)
			continue; /* restart the long poll at once */
		now = now_ms();
		if (now >= until)
			return events;
		wait = (int)(until - now);
		if (!j->poll_running && j->poll_retry_at - now < wait)
			wait = (int)(j->poll_retry_at - now);
		if (wait > 1000)
			wait = 1000;
		if (j->poll_running)
			curl_multi_poll(j->multi, NULL, 0, wait, NULL);
		else if (wait > 0)
			usleep((useconds_t)wait * 1000);
	}
}

/* Sends a plugin message on handle and returns the plugin's answer: synchronous (the
 * POST's "success") or the event of the same transaction and sender (after an "ack").
 * *data gets plugindata.data, *jsep the JSEP if any (both borrowed from *msg, which the
 * caller frees). */
static int message(struct janus *j, uint64_t handle, json_t *body, json_t *jsep, json_t **msg,
		   json_t **data, json_t **jsep_out, char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s, s:o}", "janus", "message", "body", body);
	json_t *resp = NULL;
	const char *kind;
	char txn[48];
	int rc;

	*msg = NULL;
	if (!req) {
		json_decref(jsep);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (jsep)
		json_object_set_new(req, "jsep", jsep);
	rc = post(j, handle, req, txn, sizeof(txn), &resp, err, errlen);
	json_decref(req);
	if (rc < 0)
		return -1;
	kind = json_string_value(json_object_get(resp, "janus"));
	if (kind && !strcmp(kind, "ack")) {
		json_decref(resp);
		j->want_txn = txn;
		j->want_sender = handle;
		j->got = NULL;
		if (drive(j, now_ms() + j->deadline_ms, false) < 0 && !j->got) {
			seterr(err, errlen, "waiting for the answer to %s: %s", txn, j->poll_err);
			j->want_txn = NULL;
			return -1;
		}
		j->want_txn = NULL;
		resp = j->got;
		j->got = NULL;
		if (!resp) {
			seterr(err, errlen, "no answer to %s within %d ms%s%s", txn, j->deadline_ms,
			       j->poll_err[0] ? "; " : "", j->poll_err);
			return -1;
		}
		if (janus_failed(resp, err, errlen)) {
			json_decref(resp);
			return -1;
		}
	} else if (!kind || strcmp(kind, "success")) {
		seterr(err, errlen, "unexpected answer '%s'", kind ? kind : "?");
		json_decref(resp);
		return -1;
	}
	*msg = resp;
	*data = json_object_get(json_object_get(resp, "plugindata"), "data");
	*jsep_out = json_object_get(resp, "jsep");
	if (!json_is_object(*data)) {
		seterr(err, errlen, "answer without plugindata");
		json_decref(resp);
		*msg = NULL;
		return -1;
	}
	return 0;
}

/* {janus: kind} on the session (or the root without one); data.id of the answer if idp. */
static int simple(struct janus *j, uint64_t handle, json_t *req, uint64_t *idp, char *err,
		  size_t errlen)
{
	json_t *resp;
	char txn[48];
	int rc = post(j, handle, req, txn, sizeof(txn), &resp, err, errlen);

	json_decref(req);
	if (rc < 0)
		return -1;
	if (idp) {
		json_t *id = json_object_get(json_object_get(resp, "data"), "id");
		if (!json_is_integer(id)) {
			seterr(err, errlen, "answer without data.id");
			json_decref(resp);
			return -1;
		}
		*idp = (uint64_t)json_integer_value(id);
	}
	json_decref(resp);
	return 0;
}

static char *sdp_of(json_t *jsep, const char *type, char *err, size_t errlen)
{
	const char *t = json_string_value(json_object_get(jsep, "type"));
	const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
	char *s;

	if (!t || !sdp || strcmp(t, type)) {
		seterr(err, errlen, "the answer carries no JSEP %s", type);
		return NULL;
	}
	s = strdup(sdp);
	if (!s)
		seterr(err, errlen, "out of memory");
	return s;
}

struct janus *janus_open(const char *base, char *err, size_t errlen)
{
	struct janus *j = calloc(1, sizeof(*j));
	size_t n;
	char url[512];

	if (!j) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		seterr(err, errlen, "curl_global_init failed");
		free(j);
		return NULL;
	}
	j->deadline_ms = DEADLINE_MS;
	j->base = strdup(base);
	j->evq = calloc(JANUS_EVENT_QUEUE, sizeof(*j->evq));
	if (!j->base || !j->evq) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	n = strlen(j->base);
	while (n > 0 && j->base[n - 1] == '/')
		j->base[--n] = '\0';
	snprintf(j->txn_prefix, sizeof(j->txn_prefix), "cw%x-",
		 (unsigned)(now_ms() ^ ((long long)getpid() << 16)) & 0xffffffu);
	j->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (j->headers)
		j->headers = curl_slist_append(j->headers, "Expect:"); /* no 100-continue RTT */
	j->req = easy_new(j, &j->req_body);
	j->poll = easy_new(j, &j->poll_body);
	j->multi = curl_multi_init();
	if (!j->headers || !j->req || !j->poll || !j->multi) {
		seterr(err, errlen, "curl initialisation failed");
		goto fail;
	}
	curl_easy_setopt(j->poll, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(j->poll, CURLOPT_TIMEOUT_MS, (long)POLL_CURL_MS);
	if (simple(j, 0, json_pack("{s:s}", "janus", "create"), &j->session, err, errlen) < 0)
		goto fail;
	snprintf(url, sizeof(url), "%s/%llu", j->base, (unsigned long long)j->session);
	j->poll_url = strdup(url);
	if (!j->poll_url || poll_start(j) < 0) {
		seterr(err, errlen, "starting the long poll failed");
		janus_close(j);
		return NULL;
	}
	return j;
fail:
	janus_close(j);
	return NULL;
}

void janus_close(struct janus *j)
{
	if (!j)
		return;
	if (j->session && j->req) {
		char e[256];
		/* Destroying the session detaches its handles (and hangs up their PCs). */
		simple(j, 0, json_pack("{s:s}", "janus", "destroy"), NULL, e, sizeof(e));
	}
	if (j->multi && j->poll && j->poll_running)
		curl_multi_remove_handle(j->multi, j->poll);
	if (j->poll)
		curl_easy_cleanup(j->poll);
	if (j->multi)
		curl_multi_cleanup(j->multi);
	if (j->req)
		curl_easy_cleanup(j->req);
	curl_slist_free_all(j->headers);
	json_decref(j->got);
	free(j->req_body.p);
	free(j->poll_body.p);
	free(j->poll_url);
	free(j->base);
	free(j->evq);
	free(j);
	curl_global_cleanup();
}

static int attach(struct janus *j, uint64_t *handle, char *err, size_t errlen)
{
	return simple(
		j, 0,
		json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"),
		handle, err, errlen);
}

int janus_room_create(struct janus *j, uint64_t room, int max_publishers, char *err, size_t errlen)
{
	json_t *body, *msg, *data, *jsep;
	const char *what;

	if (max_publishers < 1) {
		seterr(err, errlen, "max_publishers < 1");
		return -1;
	}
	/* Synchronous requests need a handle too: one, attached on first use, for them all. */
	if (!j->ctl && attach(j, &j->ctl, err, errlen) < 0)
		return -1;
	body = json_pack("{s:s, s:I, s:b, s:s, s:b, s:i, s:i, s:s, s:s, s:b, s:b}", "request",
			 "create", "room", (json_int_t)room, "permanent", 0, "description",
			 "callwire bench", "is_private", 1, "publishers", max_publishers, "bitrate",
			 0, "audiocodec", "opus", "videocodec", "vp8", "record", 0,
			 "notify_joining", 0);
	if (!body) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (message(j, j->ctl, body, NULL, &msg, &data, &jsep, err, errlen) < 0)
		return -1;
	what = json_string_value(json_object_get(data, "videoroom"));
	if (!what || strcmp(what, "created")) {
		seterr(err, errlen, "create: unexpected answer '%s'", what ? what : "?");
		json_decref(msg);
		return -1;
	}
	json_decref(msg);
	return 0;
}

static void detach_quietly(struct janus *j, uint64_t handle)
{
	char e[256];

	janus_detach(j, handle, e, sizeof(e));
}

int janus_publish(struct janus *j, uint64_t room, uint64_t feed, const char *display,
		  const char *offer, char **answer, uint64_t *handle, char *err, size_t errlen)
{
	json_t *body, *msg, *data, *jsep;
	const char *what;
	uint64_t h;

	*answer = NULL;
	*handle = 0;
	if (attach(j, &h, err, errlen) < 0)
		return -1;
	body = json_pack("{s:s, s:s, s:I, s:I, s:s}", "request", "join", "ptype", "publisher",
			 "room", (json_int_t)room, "id", (json_int_t)feed, "display",
			 display ? display : "");
	if (!body || message(j, h, body, NULL, &msg, &data, &jsep, err, errlen) < 0) {
		if (!body)
			seterr(err, errlen, "out of memory");
		goto fail;
	}
	what = json_string_value(json_object_get(data, "videoroom"));
	if (!what || strcmp(what, "joined")) {
		seterr(err, errlen, "join: unexpected answer '%s'", what ? what : "?");
		json_decref(msg);
		goto fail;
	}
	json_decref(msg);
	/* audio/video: Janus 0.x's flags; 1.x takes what the offer has and ignores them. */
	body = json_pack("{s:s, s:b, s:b}", "request", "publish", "audio",
			 strstr(offer, "m=audio") != NULL, "video",
			 strstr(offer, "m=video") != NULL);
	jsep = json_pack("{s:s, s:s, s:b}", "type", "offer", "sdp", offer, "trickle", 0);
	if (!body || !jsep) {
		json_decref(body);
		json_decref(jsep);
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (message(j, h, body, jsep, &msg, &data, &jsep, err, errlen) < 0)
		goto fail;
	what = json_string_value(json_object_get(data, "configured"));
	if (!what || strcmp(what, "ok")) {
		seterr(err, errlen, "publish: not configured");
		json_decref(msg);
		goto fail;
	}
	*answer = sdp_of(jsep, "answer", err, errlen);
	json_decref(msg);
	if (!*answer)
		goto fail;
	*handle = h;
	return 0;
fail:
	detach_quietly(j, h);
	return -1;
}

int janus_subscribe(struct janus *j, uint64_t room, const uint64_t *feeds, int n, char **offer,
		    uint64_t *handle, char *err, size_t errlen)
{
	json_t *body, *streams, *msg, *data, *jsep;
	const char *what;
	uint64_t h;

	*offer = NULL;
	*handle = 0;
	if (n < 1) {
		seterr(err, errlen, "no feed to subscribe to");
		return -1;
	}
	streams = json_array();
	for (int i = 0; streams && i < n; i++)
		json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)feeds[i]));
	body = json_pack("{s:s, s:s, s:I, s:o}", "request", "join", "ptype", "subscriber", "room",
			 (json_int_t)room, "streams", streams);
	if (!body) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (attach(j, &h, err, errlen) < 0) {
		json_decref(body);
		return -1;
	}
	if (message(j, h, body, NULL, &msg, &data, &jsep, err, errlen) < 0)
		goto fail;
	what = json_string_value(json_object_get(data, "videoroom"));
	if (!what || strcmp(what, "attached")) {
		seterr(err, errlen, "subscribe: unexpected answer '%s'", what ? what : "?");
		json_decref(msg);
		goto fail;
	}
	*offer = sdp_of(jsep, "offer", err, errlen);
	json_decref(msg);
	if (!*offer)
		goto fail;
	*handle = h;
	return 0;
fail:
	detach_quietly(j, h);
	return -1;
}

int janus_start(struct janus *j, uint64_t handle, const char *answer, char *err, size_t errlen)
{
	json_t *body = json_pack("{s:s}", "request", "start");
	json_t *jsep = json_pack("{s:s, s:s, s:b}", "type", "answer", "sdp", answer, "trickle", 0);
	json_t *msg, *data, *jsep_out;
	const char *what;

	if (!body || !jsep) {
		json_decref(body);
		json_decref(jsep);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (message(j, handle, body, jsep, &msg, &data, &jsep_out, err, errlen) < 0)
		return -1;
	what = json_string_value(json_object_get(data, "started"));
	if (!what || strcmp(what, "ok")) {
		seterr(err, errlen, "start: not started");
		json_decref(msg);
		return -1;
	}
	json_decref(msg);
	return 0;
}

int janus_detach(struct janus *j, uint64_t handle, char *err, size_t errlen)
{
	if (!handle) {
		seterr(err, errlen, "no handle");
		return -1;
	}
	return simple(j, handle, json_pack("{s:s}", "janus", "detach"), NULL, err, errlen);
}

int janus_keepalive(struct janus *j, char *err, size_t errlen)
{
	return simple(j, 0, json_pack("{s:s}", "janus", "keepalive"), NULL, err, errlen);
}

void janus_counts(const struct janus *j, struct janus_counts *c)
{
	*c = j->counts;
}

int janus_poll(struct janus *j, int timeout_ms)
{
	return drive(j, now_ms() + (timeout_ms > 0 ? timeout_ms : 0), true);
}

int janus_next_event(struct janus *j, struct janus_event *ev)
{
	if (!j->evq_len)
		return 0;
	*ev = j->evq[j->evq_head];
	j->evq_head = (j->evq_head + 1) % JANUS_EVENT_QUEUE;
	j->evq_len--;
	return 1;
}

unsigned long janus_events_dropped(const struct janus *j)
{
	return j->evq_dropped;
}

void janus_set_deadline(struct janus *j, int ms)
{
	j->deadline_ms = ms > 0 ? ms : DEADLINE_MS;
}

uint64_t janus_session(const struct janus *j)
{
	return j->session;
}

const char *janus_error(const struct janus *j)
{
	return j->poll_err;
}
