/* remote_cw: `sfu remote --server callwire`: users and tokens over REST, one WebSocket per
 * participant, session.join with the publish offer, and every subscribe offer answered. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "remote.h"
#include "rest.h"

static void cw_send(struct part *pa, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	if (!text || ws_send_text(&pa->ws, text, strlen(text)) != 0)
		pa->r->errors++;
	else
		pa->waiting = true;
	free(text);
	json_decref(msg);
}

/* A subscribe offer: the first one gives the subscribe peer its transport; each is
 * answered. */
static void cw_offer(struct remote *r, struct part *pa, json_t *version, const char *sdp_text)
{
	struct cw_sdp *sdp = NULL;
	char *answer;
	int tracks = 0;

	if (!pa->sub || parse_sdp(r, sdp_text, &sdp) != 0 ||
	    (!pa->sub->rufrag[0] && take_remote(r, pa->sub, sdp, true) != 0)) {
		fprintf(stderr, "sfu: %s: %s\n", pa->uid, pa->sub ? r->why : "an unexpected offer");
		r->errors++;
		cw_sdp_free(sdp);
		return;
	}
	answer = subscribe_answer(r, pa->sub, sdp, &tracks);
	cw_sdp_free(sdp);
	pa->offer_version = json_integer_value(version);
	pa->tracks = tracks;
	cw_send(pa, json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:O,s:s}}", "type", "request", "id",
			      "answer", "method", "session.answer", "params", "sessionId", pa->sid,
			      "participantId", pa->pid, "version", version, "sdp", answer));
	free(answer);
}

static void cw_text(struct ws *w, char *text, size_t len)
{
	struct part *pa = w->user;
	struct remote *r = pa->r;
	json_t *m = json_loadb(text, len, 0, NULL), *res, *sub;
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *id = json_string_value(json_object_get(m, "id"));

	if (!type) {
		r->errors++;
	} else if (strcmp(type, "ready") == 0) {
		pa->ready = true;
		pa->waiting = false; /* the auth's answer */
	} else if (strcmp(type, "response") == 0 && id) {
		pa->waiting = false;
		res = json_object_get(m, "result");
		if (!res) {
			fprintf(stderr, "sfu: %s: %s failed: %s\n", pa->uid, id,
				json_string_value(
					json_object_get(json_object_get(m, "error"), "message")));
			r->errors++;
		} else if (strcmp(id, "join") == 0) {
			struct cw_sdp *sdp = NULL;
			const char *pid = json_string_value(json_object_get(res, "participantId"));
			snprintf(pa->pid, sizeof(pa->pid), "%s", pid ? pid : "");
			if (parse_sdp(r, json_string_value(json_object_get(res, "answer")), &sdp) ||
			    take_remote(r, pa->pub, sdp, false)) {
				fprintf(stderr, "sfu: %s: %s\n", pa->uid, r->why);
				r->errors++;
			}
			cw_sdp_free(sdp);
			pa->joined = true;
			sub = json_object_get(res, "subscribe");
			if (json_is_object(sub))
				cw_offer(r, pa, json_object_get(sub, "version"),
					 json_string_value(json_object_get(sub, "sdp")));
		}
	} else if (strcmp(type, "event") == 0) {
		const char *name = json_string_value(json_object_get(m, "name"));
		if (name && strcmp(name, "session.offer") == 0)
			cw_offer(r, pa, json_object_get(m, "version"),
				 json_string_value(json_object_get(m, "sdp")));
		else if (name && strcmp(name, "session.participant_left") == 0)
			r->errors++; /* nobody leaves during a run */
	}
	json_decref(m);
}

static void cw_closed(struct ws *w)
{
	struct part *pa = w->user;

	fprintf(stderr, "sfu: %s: the WebSocket closed (%d, %s)\n", pa->uid, w->close_code,
		w->error ? w->error : "clean");
	pa->r->errors++;
}

static void cw_open(struct ws *w)
{
	(void)w;
}

static const struct ws_handler cw_handler = {cw_open, cw_text, cw_closed};

/* Runs the generator's loop (WebSockets and peers) until done(r) or the deadline. */
static int pump_until(struct remote *r, bool (*done)(struct remote *), const char *what)
{
	uint64_t deadline = now_ns() + SIGNAL_DEADLINE_S * 1000000000ull;

	while (!done(r)) {
		if (r->errors) {
			snprintf(r->why, sizeof(r->why), "errors while %s", what);
			return -1;
		}
		if (now_ns() > deadline) {
			snprintf(r->why, sizeof(r->why), "%s: not within %d s", what,
				 SIGNAL_DEADLINE_S);
			return -1;
		}
		gen_poll(r->g, 10000000);
	}
	return 0;
}

static bool all_ready(struct remote *r)
{
	for (int i = 0; i < r->n_parts; i++) {
		if (!r->parts[i].ready)
			return false;
	}
	return true;
}

static bool all_open(struct remote *r)
{
	for (int i = 0; i < r->n_parts; i++) {
		if (r->parts[i].ws.state != WS_OPEN)
			return false;
	}
	return true;
}

static bool joined(struct remote *r)
{
	return r->joining->joined;
}

static bool all_answered(struct remote *r)
{
	for (int i = 0; i < r->n_parts; i++) {
		const struct part *pa = &r->parts[i];
		if (pa->waiting || (pa->sub && pa->tracks != pa->expect_tracks))
			return false;
	}
	return true;
}

int callwire_setup(struct remote *r)
{
	const struct ropts *o = r->o;
	char **uids = calloc((size_t)r->n_parts, sizeof(char *));
	char **sids = calloc((size_t)r->n_parts, sizeof(char *));
	char **tokens = calloc((size_t)r->n_parts, sizeof(char *));
	char **calls = calloc((size_t)r->n_parts, sizeof(char *));
	const char *hp = strstr(o->url, "://"), *colon;
	char host[64];
	int rc = -1;

	if (!uids || !sids || !tokens || !calls || !hp)
		goto out;
	snprintf(r->host_port, sizeof(r->host_port), "%s", hp + 3);
	colon = strrchr(r->host_port, ':');
	if (!colon || (size_t)(colon - r->host_port) >= sizeof(host)) {
		snprintf(r->why, sizeof(r->why), "--url: want http://IPv4:PORT");
		goto out;
	}
	memcpy(host, r->host_port, (size_t)(colon - r->host_port));
	host[colon - r->host_port] = '\0';
	r->server_addr.sin_family = AF_INET;
	r->server_addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &r->server_addr.sin_addr) != 1) {
		snprintf(r->why, sizeof(r->why), "--url: want http://IPv4:PORT");
		goto out;
	}
	for (int i = 0; i < r->n_parts; i++) {
		uids[i] = r->parts[i].uid;
		sids[i] = r->parts[i].sid;
	}
	if (rest_users_and_tokens(o->url, o->app, o->key, uids, (size_t)r->n_parts, 1, tokens) !=
		    0 ||
	    rest_call_tokens(o->url, o->app, tokens, sids, (size_t)r->n_parts, calls) != 0) {
		snprintf(r->why, sizeof(r->why), "cannot make the users and their tokens");
		goto out;
	}
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];

		pa->token = tokens[i];
		pa->call_token = calls[i];
		tokens[i] = calls[i] = NULL;
		if (ws_connect(&pa->ws, r->g->epfd, &r->server_addr, r->host_port, &cw_handler,
			       pa) != 0) {
			snprintf(r->why, sizeof(r->why), "%s: cannot connect", pa->uid);
			goto out;
		}
	}
	/* Everyone's auth, once the sockets are open. */
	if (pump_until(r, all_open, "opening the WebSockets") != 0)
		goto out;
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		cw_send(pa, json_pack("{s:s,s:s,s:s,s:n}", "type", "auth", "appId", o->app, "token",
				      pa->token, "resumeFrom"));
	}
	if (pump_until(r, all_ready, "authenticating") != 0)
		goto out;
	/* One join at a time, in order: the others' offers come as events meanwhile. */
	for (int i = 0; i < r->n_parts; i++) {
		struct part *pa = &r->parts[i];
		char *offer = publish_offer(r, pa);
		cw_send(pa, json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "type", "request", "id",
				      "join", "method", "session.join", "params", "callToken",
				      pa->call_token, "sessionId", pa->sid, "offer", offer));
		free(offer);
		r->joining = pa;
		if (pump_until(r, joined, "joining") != 0)
			goto out;
	}
	if (pump_until(r, all_answered, "answering the subscribe offers") != 0)
		goto out;
	rc = 0;
out:
	for (int i = 0; tokens && calls && i < r->n_parts; i++) {
		free(tokens[i]);
		free(calls[i]);
	}
	free(uids);
	free(sids);
	free(tokens);
	free(calls);
	return rc;
}

/* gen_poll's other file descriptors: the WebSockets. */
void callwire_on_events(void *ptr, uint32_t events)
{
	ws_on_events(ptr, events);
}
