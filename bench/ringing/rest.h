/* rest: the untimed set-up of a benchmark over callwire's REST API: users and auth
 * tokens, many requests in flight at once so the server's group commit batches them. */
#ifndef BENCH_REST_H
#define BENCH_REST_H

#include <stddef.h>

/* Creates the users uids[0..n) (name = uid) in app; an existing uid is fine. Then mints
 * per_user tokens for each, stored in tokens[i * per_user + k] (malloc'd strings).
 * base is "http://127.0.0.1:PORT". Returns 0, or -1 with a message on stderr. */
int rest_users_and_tokens(const char *base, const char *app, const char *key, char **uids, size_t n,
			  size_t per_user, char **tokens);

/* Mints, for each i, a call token of session sids[i] for the user of auth token auth[i]
 * (POST …/sessions/{sid}/token), many at once; call_tokens[i] is malloc'd. 0, or -1 with a
 * message on stderr. */
int rest_call_tokens(const char *base, const char *app, char *const *auth, char *const *sids,
		     size_t n, char **call_tokens);

#endif
