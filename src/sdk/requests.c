/* requests: requests queued for the network thread, their completion, and the waiters
 * that turn them into the blocking `_sync` calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk.h"

int cw__req_new(struct cw__req **rp, cw_client *c, enum cw__req_kind kind, const char *method,
		json_t *params, cw__finish_fn finish, void *cb, void *arg)
{
	struct cw__req *r = calloc(1, sizeof(*r));

	*rp = NULL;
	if (!r) {
		json_decref(params);
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	cw__list_init(&r->link);
	r->c = c;
	r->kind = kind;
	r->method = method;
	r->params = params;
	r->finish = finish;
	r->cb = cb;
	r->arg = arg;
	*rp = r;
	return 0;
}

void cw__req_free(struct cw__req *r)
{
	if (!r)
		return;
	cw__list_del(&r->link);
	json_decref(r->params);
	free(r->path);
	free(r->token);
	free(r->body_text);
	free(r->resp);
	free(r);
}

int cw__timeout_of(cw_client *c, int timeout_ms)
{
	int t;

	if (timeout_ms > 0)
		return timeout_ms;
	cw__lock(c);
	t = c->timeout_ms;
	cw__unlock(c);
	return t;
}

/* The server closes a connection on a message over 64 KiB; such a request is refused
 * here instead, before it can take the connection (and others' requests) down. */
static bool too_large(json_t *params)
{
	size_t n = json_dumpb(params, NULL, 0, JSON_COMPACT);

	return n == 0 || n > CW__MAX_REQUEST;
}

int cw__submit(cw_client *c, struct cw__req *r, bool needs_login)
{
	int err = 0;

	cw__lock(c);
	if (c->stopping)
		err = CW_ERR_CANCELLED;
	else if (needs_login && !c->logged_in)
		err = CW_ERR_NOT_LOGGED_IN;
	else if (r->kind == CW__REQ_WS && !r->params)
		err = CW_ERR_NO_MEMORY;
	else if (r->kind == CW__REQ_WS && too_large(r->params))
		err = CW_ERR_PAYLOAD_TOO_LARGE;
	if (!err) {
		if (!r->deadline)
			r->deadline = cw__now_ms() + c->timeout_ms;
		cw__list_add_tail(&c->queue, &r->link);
		cw__wake(c);
	}
	cw__unlock(c);
	if (err) {
		cw__set_error(err, NULL);
		cw__req_free(r);
	}
	return err;
}

void cw__complete(struct cw__req *r, int err, const char *message, json_t *result)
{
	cw__list_del(&r->link);
	if (r->finish)
		r->finish(r, err, message, result);
	cw__req_free(r);
}

void cw__fail_all(struct cw__link *list, int err)
{
	while (!cw__list_empty(list)) {
		struct cw__req *r = cw__container_of(list->next, struct cw__req, link);
		cw__complete(r, err, NULL, NULL);
	}
}

/* ---- waiters ---- */

int cw__wait_begin(cw_client *c, struct cw__waiter *w)
{
	memset(w, 0, sizeof(*w));
	if (!c) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "no client");
		return CW_ERR_INVALID_ARGUMENT;
	}
	if (cw__on_network_thread(c)) {
		cw__set_error(CW_ERR_WOULD_DEADLOCK, NULL);
		return CW_ERR_WOULD_DEADLOCK;
	}
	pthread_mutex_init(&w->m, NULL);
	pthread_cond_init(&w->cv, NULL);
	return 0;
}

int cw__wait_end(struct cw__waiter *w, int submit_err)
{
	int err = submit_err;

	/* A request that was queued always completes: by its answer, its deadline, a
	 * logout or the client being freed. */
	if (!submit_err) {
		pthread_mutex_lock(&w->m);
		while (!w->done)
			pthread_cond_wait(&w->cv, &w->m);
		pthread_mutex_unlock(&w->m);
		err = w->err;
		if (err)
			cw__set_error(err, w->message);
		else
			cw__set_error(0, "success");
	}
	pthread_mutex_destroy(&w->m);
	pthread_cond_destroy(&w->cv);
	return err;
}

void cw__wait_done(struct cw__waiter *w, int err, const char *message)
{
	pthread_mutex_lock(&w->m);
	w->err = err;
	snprintf(w->message, sizeof(w->message), "%s", message ? message : cw_strerror(err));
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

void cw__sync_call_cb(cw_client *c, int err, const char *message, cw_call *call, void *arg)
{
	struct cw__waiter *w = arg;

	(void)c;
	w->call = cw_call_ref(call);
	cw__wait_done(w, err, message);
}

void cw__sync_user_cb(cw_client *c, int err, const char *message, cw_user *user, void *arg)
{
	struct cw__waiter *w = arg;

	(void)c;
	w->user = cw_user_ref(user);
	cw__wait_done(w, err, message);
}

void cw__sync_done_cb(cw_client *c, int err, const char *message, void *arg)
{
	(void)c;
	cw__wait_done(arg, err, message);
}
