/* session_token: call tokens, the REST request that admits a user to one session
 * (docs/api.md), for the app and for the join. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

int cw__call_token_request(cw_client *c, const char *session_id, cw__finish_fn finish, void *cb,
			   void *arg, void *extra, int timeout_ms)
{
	struct cw__req *r;
	char *path;
	bool logged_in;
	int err;

	if (strlen(session_id) >= CW__ID_MAX)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "the session id is too long");
	err = cw__req_new(&r, c, CW__REQ_HTTP, "POST", NULL, finish, cb, arg);
	if (err)
		return err;
	path = malloc(strlen(session_id) * 3 + 32);
	if (path) {
		/* Session ids are URL-safe by the contract; anything else is escaped. */
		char *o = path + sprintf(path, "/sessions/");
		for (const unsigned char *p = (const unsigned char *)session_id; *p; p++) {
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
				*o++ = (char)*p;
			else
				o += sprintf(o, "%%%02X", *p);
		}
		strcpy(o, "/token");
	}
	r->path = path;
	cw__lock(c);
	logged_in = c->token != NULL;
	r->token = logged_in ? strdup(c->token) : NULL;
	cw__unlock(c);
	if (!r->path || !r->token) {
		cw__req_free(r);
		return cw__fail(logged_in ? CW_ERR_NO_MEMORY : CW_ERR_NOT_LOGGED_IN, NULL);
	}
	r->extra = extra;
	r->deadline = cw__now_ms() + cw__timeout_of(c, timeout_ms);
	return cw__submit(c, r, true);
}

static void finish_call_token(struct cw__req *r, int err, const char *message, json_t *result)
{
	cw_token_cb cb = (cw_token_cb)r->cb;
	const char *token = json_string_value(json_object_get(result, "callToken"));

	if (!err && !token)
		err = CW_ERR_PROTOCOL;
	if (cb)
		cb(r->c, err, err ? (message ? message : cw_strerror(err)) : NULL,
		   err ? NULL : token, r->arg);
}

int cw_generate_call_token(cw_client *c, const char *session_id, cw_token_cb cb, void *arg)
{
	if (!c || !session_id || !*session_id)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "a client and a session id are needed");
	return cw__call_token_request(c, session_id, finish_call_token, (void *)cb, arg, NULL, 0);
}

struct token_wait {
	struct cw__waiter w;
	char *token;
};

static void sync_token_cb(cw_client *c, int err, const char *message, const char *token, void *arg)
{
	struct token_wait *tw = arg;

	(void)c;
	if (!err && !(tw->token = strdup(token)))
		err = CW_ERR_NO_MEMORY;
	cw__wait_done(&tw->w, err, message);
}

int cw_generate_call_token_sync(cw_client *c, const char *session_id, int timeout_ms, char **tokenp)
{
	struct token_wait tw = {.token = NULL};
	int err;

	if (!c || !session_id || !*session_id || !tokenp)
		return cw__fail(CW_ERR_INVALID_ARGUMENT,
				"a client, a session id and tokenp are needed");
	*tokenp = NULL;
	err = cw__wait_begin(c, &tw.w);
	if (err)
		return err;
	err = cw__wait_end(&tw.w,
			   cw__call_token_request(c, session_id, finish_call_token,
						  (void *)sync_token_cb, &tw, NULL, timeout_ms));
	if (err)
		free(tw.token);
	else
		*tokenp = tw.token;
	return err;
}
