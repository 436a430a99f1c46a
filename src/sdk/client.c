/* client: creation and teardown, the network thread, login, logout and the session file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk.h"
#include "session.h"

#define TICK_MS 100

void cw__lock(cw_client *c)
{
	pthread_mutex_lock(&c->mutex);
}

void cw__unlock(cw_client *c)
{
	pthread_mutex_unlock(&c->mutex);
}

bool cw__on_network_thread(cw_client *c)
{
	return pthread_equal(pthread_self(), c->thread);
}

void cw__wake(cw_client *c)
{
	lws_cancel_service(c->ctx);
}

void cw__set_conn_state(cw_client *c, cw_connection_state s)
{
	cw__lock(c);
	c->conn_state = s;
	cw__unlock(c);
}

/* Splits "http://host:port" (or https, ws, wss) into its parts. */
static int parse_url(cw_client *c, const char *url)
{
	const char *p = url, *host, *host_end, *port_at = NULL;
	bool v6;
	size_t n;

	if (strncmp(p, "https://", 8) == 0 || strncmp(p, "wss://", 6) == 0)
		c->tls = true;
	else if (strncmp(p, "http://", 7) != 0 && strncmp(p, "ws://", 5) != 0)
		return CW_ERR_INVALID_ARGUMENT;
	p = strstr(p, "://") + 3;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return CW_ERR_INVALID_ARGUMENT;
		p = host_end + 1;
	} else {
		host = p;
		host_end = host + strcspn(host, ":/");
		p = host_end;
	}
	if (*p == ':')
		port_at = p + 1;
	n = (size_t)(host_end - host);
	if (n == 0 || n > 253)
		return CW_ERR_INVALID_ARGUMENT;
	c->host = strndup(host, n);
	if (!c->host)
		return CW_ERR_NO_MEMORY;
	c->port = c->tls ? 443 : 80;
	if (port_at) {
		char *end;
		long port = strtol(port_at, &end, 10);
		if (end == port_at || port < 1 || port > 65535)
			return CW_ERR_INVALID_ARGUMENT;
		c->port = (int)port;
		p = end;
	}
	/* The API lives at the server's root. */
	if (*p && strcmp(p, "/") != 0)
		return CW_ERR_INVALID_ARGUMENT;
	v6 = strchr(c->host, ':') != NULL;
	if (asprintf(&c->host_header, "%s%s%s%s%.0d", v6 ? "[" : "", c->host, v6 ? "]" : "",
		     port_at ? ":" : "", port_at ? c->port : 0) < 0) {
		c->host_header = NULL;
		return CW_ERR_NO_MEMORY;
	}
	return 0;
}

static bool requests_pending(cw_client *c)
{
	return !cw__list_empty(&c->waiting) || !cw__list_empty(&c->inflight) ||
	       !cw__list_empty(&c->http);
}

/* Deadlines are checked every TICK_MS while requests are pending; an idle client does
 * not wake up at all. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
	cw_client *c = cw__container_of(sul, cw_client, tick_sul);
	int64_t now = cw__now_ms();

	c->ticking = false;
	cw__conn_tick(c, now);
	cw__http_tick(c, now);
	cw__arm_tick(c);
}

void cw__arm_tick(cw_client *c)
{
	if (c->ticking || !c->ctx || !requests_pending(c))
		return;
	c->ticking = true;
	lws_sul_schedule(c->ctx, 0, &c->tick_sul, on_tick, TICK_MS * LWS_US_PER_MS);
}

static void start_request(cw_client *c, struct cw__req *r)
{
	switch (r->kind) {
	case CW__REQ_WS:
		cw__conn_send(c, r);
		break;
	case CW__REQ_HTTP:
		if (r->logout)
			cw__conn_close(c);
		cw__http_start(c, r);
		break;
	case CW__REQ_LOCAL:
		cw__complete(r, 0, NULL, NULL);
		break;
	}
}

void cw__drain(cw_client *c)
{
	struct cw__link local;
	bool connect;

	cw__list_init(&local);
	cw__lock(c);
	cw__list_splice(&local, &c->queue);
	connect = c->want_connect;
	c->want_connect = false;
	cw__unlock(c);
	/* Requests first: a logout queued before a restored login closes the old connection
	 * before the new one starts. */
	while (!cw__list_empty(&local)) {
		struct cw__req *r = cw__container_of(local.next, struct cw__req, link);
		cw__list_del(&r->link);
		start_request(c, r);
	}
	if (connect) {
		c->last_seq = -1;
		c->had_ready = false;
		c->attempt = 0;
		cw__conn_start(c);
	}
	cw__arm_tick(c);
}

static void client_destroy(cw_client *c)
{
	cw__calling_free(c);
	cw__listeners_free(c);
	cw_user_unref(c->user);
	free(c->token);
	free(c->session_file);
	free(c->url);
	free(c->host);
	free(c->host_header);
	free(c->app_id);
	pthread_mutex_destroy(&c->mutex);
	free(c);
}

static void *network_main(void *arg)
{
	cw_client *c = arg;
	bool stop = false, free_self;

	while (!stop) {
		lws_service(c->ctx, 0);
		cw__lock(c);
		stop = c->stopping;
		cw__unlock(c);
	}
	/* Every pending request is cancelled (its callback runs once), then the connections
	 * close; their callbacks find nothing left to complete. */
	cw__http_fail_all(c, CW_ERR_CANCELLED);
	cw__fail_all(&c->inflight, CW_ERR_CANCELLED);
	cw__fail_all(&c->waiting, CW_ERR_CANCELLED);
	cw__sessions_close_all(c);
	lws_context_destroy(c->ctx);
	cw__lock(c);
	c->ctx = NULL;
	c->ws = NULL;
	cw__list_splice(&c->waiting, &c->queue);
	free_self = c->free_on_exit;
	cw__unlock(c);
	cw__fail_all(&c->waiting, CW_ERR_CANCELLED);
	while (!cw__list_empty(&c->out)) {
		struct cw__link *l = c->out.next;
		cw__list_del(l);
		free(cw__container_of(l, struct cw__out, link));
	}
	free(c->rx);
	if (free_self) {
		pthread_detach(pthread_self());
		client_destroy(c);
	}
	return NULL;
}

int cw_client_new(cw_client **clientp, const char *server_url, const char *app_id)
{
	static const struct lws_protocols *protocols[] = {&cw__ws_protocol, &cw__http_protocol,
							  &cw__media_protocol};
	struct lws_protocols list[4];
	struct lws_context_creation_info info;
	cw_client *c;
	int err;

	if (!clientp || !server_url || !app_id || !*app_id) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "a server URL and an app id are needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	*clientp = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	pthread_mutex_init(&c->mutex, NULL);
	cw__list_init(&c->queue);
	cw__list_init(&c->waiting);
	cw__list_init(&c->inflight);
	cw__list_init(&c->http);
	cw__list_init(&c->out);
	cw__list_init(&c->sessions);
	c->timeout_ms = CW__DEFAULT_TIMEOUT_MS;
	c->last_seq = -1;
	c->url = strdup(server_url);
	c->app_id = strdup(app_id);
	err = c->url && c->app_id ? parse_url(c, server_url) : CW_ERR_NO_MEMORY;
	if (err) {
		cw__set_error(err, err == CW_ERR_INVALID_ARGUMENT
					   ? "the server URL must look like http://host:port"
					   : NULL);
		goto fail;
	}
	memset(list, 0, sizeof(list));
	for (size_t i = 0; i < CW__ARRAY_SIZE(protocols); i++)
		list[i] = *protocols[i];
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = list;
	/* TLS only when the server URL asks for it: libwebsockets 4.1 with OpenSSL 3 does not
	 * free a context's client TLS state when contexts overlap (each client has one). */
	info.options = c->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	info.user = c;
	info.fd_limit_per_thread = 32;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	/* libwebsockets logs to stderr by default; a library keeps quiet but for errors. */
	lws_set_log_level(LLL_ERR, NULL);
	c->ctx = lws_create_context(&info);
	if (!c->ctx) {
		err = CW_ERR_NO_MEMORY;
		cw__set_error(err, "cannot create the network context");
		goto fail;
	}
	if (pthread_create(&c->thread, NULL, network_main, c) != 0) {
		err = CW_ERR_NO_MEMORY;
		cw__set_error(err, "cannot start the network thread");
		lws_context_destroy(c->ctx);
		goto fail;
	}
	*clientp = c;
	return 0;
fail:
	client_destroy(c);
	return err;
}

void cw_client_free(cw_client *c)
{
	bool self;

	if (!c)
		return;
	self = cw__on_network_thread(c);
	cw__lock(c);
	c->stopping = true;
	c->free_on_exit = self;
	cw__wake(c);
	cw__unlock(c);
	if (self)
		return;
	pthread_join(c->thread, NULL);
	client_destroy(c);
}

int cw_client_set_request_timeout(cw_client *c, int timeout_ms)
{
	if (!c || timeout_ms <= 0) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT,
			      c ? "the timeout must be positive" : "no client");
		return CW_ERR_INVALID_ARGUMENT;
	}
	cw__lock(c);
	c->timeout_ms = timeout_ms;
	cw__unlock(c);
	return 0;
}

cw_connection_state cw_client_get_connection_state(cw_client *c)
{
	cw_connection_state s;

	if (!c)
		return CW_CONNECTION_OFFLINE;
	cw__lock(c);
	s = c->conn_state;
	cw__unlock(c);
	return s;
}

cw_user *cw_get_logged_in_user(cw_client *c)
{
	cw_user *user = NULL;

	if (!c)
		return NULL;
	cw__lock(c);
	if (c->logged_in)
		user = cw_user_ref(c->user);
	cw__unlock(c);
	return user;
}

int cw_client_set_session_file(cw_client *c, const char *path)
{
	char *copy, *token = NULL;
	cw_user *user = NULL;
	int err;

	if (!c || !path || !*path) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "a path is needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	copy = strdup(path);
	if (!copy) {
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	cw__lock(c);
	free(c->session_file);
	c->session_file = copy;
	if (c->logged_in) {
		/* Written outside the lock: a disk write must not hold up every other call. */
		token = cw__strdup(c->token);
		user = cw_user_ref(c->user);
		cw__unlock(c);
		err = token ? cw__session_write(path, c->url, c->app_id, token, user)
			    : CW_ERR_NO_MEMORY;
		free(token);
		cw_user_unref(user);
		cw__set_error(err, err ? "cannot write the session file" : NULL);
		return err;
	}
	cw__unlock(c);
	err = cw__session_read(path, c->url, c->app_id, &token, &user);
	if (err) {
		cw__set_error(err, err == CW_ERR_NOT_LOGGED_IN
					   ? "no login for this server and app in the session file"
					   : "cannot read the session file");
		return err;
	}
	cw__lock(c);
	if (c->logged_in || c->login_busy || c->stopping) {
		/* A login raced this restore and won, or the client is being freed. */
		cw__unlock(c);
		free(token);
		cw_user_unref(user);
		return 0;
	}
	c->logged_in = true;
	c->token = token;
	c->user = user;
	c->want_connect = true;
	cw__wake(c);
	cw__unlock(c);
	return 0;
}

bool cw__stopping(cw_client *c)
{
	bool s;

	cw__lock(c);
	s = c->stopping;
	cw__unlock(c);
	return s;
}

bool cw__logged_in(cw_client *c)
{
	bool s;

	cw__lock(c);
	s = c->logged_in;
	cw__unlock(c);
	return s;
}

int cw__set_login(cw_client *c, const char *token, cw_user *user)
{
	char *copy = strdup(token), *path;

	cw__lock(c);
	c->login_busy = false;
	if (!copy) {
		cw__unlock(c);
		return CW_ERR_NO_MEMORY;
	}
	free(c->token);
	cw_user_unref(c->user);
	c->token = copy;
	c->user = cw_user_ref(user);
	c->logged_in = true;
	path = cw__strdup(c->session_file);
	cw__unlock(c);
	/* A session file that cannot be written leaves the login working, only unkept. */
	if (path)
		cw__session_write(path, c->url, c->app_id, token, user);
	free(path);
	c->last_seq = -1;
	c->had_ready = false;
	c->attempt = 0;
	cw__conn_start(c);
	return 0;
}

/* Forgets the login; the lock is held. Returns the token (the caller frees it) and the
 * session file's path to remove (likewise). */
static char *drop_login_locked(cw_client *c, char **pathp)
{
	char *token = c->token;

	c->logged_in = false;
	c->token = NULL;
	cw_user_unref(c->user);
	c->user = NULL;
	*pathp = cw__strdup(c->session_file);
	return token;
}

void cw__drop_login(cw_client *c)
{
	char *path, *token;

	cw__lock(c);
	token = drop_login_locked(c, &path);
	cw__unlock(c);
	free(token);
	if (path)
		cw__session_remove(path);
	free(path);
}

/* ---- login and logout ---- */

static void finish_login(struct cw__req *r, int err, const char *message, json_t *result)
{
	cw_client *c = r->c;
	cw_user_cb cb = (cw_user_cb)r->cb;
	cw_user *user = NULL;
	const char *token = r->token;
	json_t *user_obj = result;

	if (!err && !r->token) {
		/* The auth key login answers {authToken, user}; /me answers the user. */
		token = json_string_value(json_object_get(result, "authToken"));
		user_obj = json_object_get(result, "user");
	}
	if (!err && !token)
		err = CW_ERR_PROTOCOL;
	if (!err)
		err = cw__user_from_json(&user, user_obj);
	if (!err)
		err = cw__set_login(c, token, user);
	if (err) {
		cw__lock(c);
		c->login_busy = false;
		cw__unlock(c);
	}
	if (cb)
		cb(c, err, err ? (message ? message : cw_strerror(err)) : NULL, err ? NULL : user,
		   r->arg);
	cw_user_unref(user);
}

static int login_begin(cw_client *c)
{
	int err = 0;

	cw__lock(c);
	if (c->logged_in)
		err = CW_ERR_ALREADY_LOGGED_IN;
	else if (c->login_busy)
		err = CW_ERR_BUSY;
	else
		c->login_busy = true;
	cw__unlock(c);
	if (err)
		cw__set_error(err, err == CW_ERR_BUSY ? "a login is already running" : NULL);
	return err;
}

/* Queues the login request r, unless preparing it failed with err; either way a failure
 * ends the login in progress. */
static int login_submit(cw_client *c, struct cw__req *r, int err, int timeout_ms)
{
	if (err) {
		cw__req_free(r);
		cw__set_error(err, NULL);
	} else {
		r->deadline = cw__now_ms() + cw__timeout_of(c, timeout_ms);
		err = cw__submit(c, r, false);
	}
	if (err) {
		cw__lock(c);
		c->login_busy = false;
		cw__unlock(c);
	}
	return err;
}

static int login_key(cw_client *c, const char *uid, const char *auth_key, int timeout_ms,
		     cw_user_cb cb, void *arg)
{
	struct cw__req *r;
	int err;

	if (!c || !uid || !*uid || !auth_key) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "a uid and an auth key are needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	err = login_begin(c);
	if (err)
		return err;
	err = cw__req_new(&r, c, CW__REQ_HTTP, "POST",
			  json_pack("{s:s,s:s}", "uid", uid, "authKey", auth_key), finish_login,
			  (void *)cb, arg);
	if (!err && !r->params)
		err = CW_ERR_NO_MEMORY;
	if (!err && !(r->path = strdup("/login")))
		err = CW_ERR_NO_MEMORY;
	return login_submit(c, r, err, timeout_ms);
}

static int login_token(cw_client *c, const char *token, int timeout_ms, cw_user_cb cb, void *arg)
{
	struct cw__req *r;
	int err;

	if (!c || !token || !*token) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "an auth token is needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	err = login_begin(c);
	if (err)
		return err;
	err = cw__req_new(&r, c, CW__REQ_HTTP, "GET", NULL, finish_login, (void *)cb, arg);
	if (!err && (!(r->path = strdup("/me")) || !(r->token = strdup(token))))
		err = CW_ERR_NO_MEMORY;
	return login_submit(c, r, err, timeout_ms);
}

int cw_login_with_auth_key(cw_client *c, const char *uid, const char *auth_key, cw_user_cb cb,
			   void *arg)
{
	return login_key(c, uid, auth_key, 0, cb, arg);
}

int cw_login_with_auth_key_sync(cw_client *c, const char *uid, const char *auth_key, int timeout_ms)
{
	struct cw__waiter w;
	int err = cw__wait_begin(c, &w);

	if (err)
		return err;
	err = cw__wait_end(&w, login_key(c, uid, auth_key, timeout_ms, cw__sync_user_cb, &w));
	cw_user_unref(w.user);
	return err;
}

int cw_login_with_token(cw_client *c, const char *auth_token, cw_user_cb cb, void *arg)
{
	return login_token(c, auth_token, 0, cb, arg);
}

int cw_login_with_token_sync(cw_client *c, const char *auth_token, int timeout_ms)
{
	struct cw__waiter w;
	int err = cw__wait_begin(c, &w);

	if (err)
		return err;
	err = cw__wait_end(&w, login_token(c, auth_token, timeout_ms, cw__sync_user_cb, &w));
	cw_user_unref(w.user);
	return err;
}

static void finish_logout(struct cw__req *r, int err, const char *message, json_t *result)
{
	cw_done_cb cb = (cw_done_cb)r->cb;

	(void)result;
	if (cb)
		cb(r->c, err, err ? (message ? message : cw_strerror(err)) : NULL, r->arg);
}

static int logout(cw_client *c, int timeout_ms, cw_done_cb cb, void *arg)
{
	struct cw__req *r;
	char *path = NULL;
	int err;

	if (!c) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, NULL);
		return CW_ERR_INVALID_ARGUMENT;
	}
	err = cw__req_new(&r, c, CW__REQ_HTTP, "POST", NULL, finish_logout, (void *)cb, arg);
	if (err)
		return err;
	r->logout = true;
	r->path = strdup("/logout");
	r->deadline = cw__now_ms() + cw__timeout_of(c, timeout_ms);
	if (!r->path) {
		cw__req_free(r);
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	/* Logged out from here on, in one step: later requests fail at once, and the token
	 * goes with the logout request, which closes the connection before it is sent. */
	cw__lock(c);
	err = c->stopping ? CW_ERR_CANCELLED : !c->logged_in ? CW_ERR_NOT_LOGGED_IN : 0;
	if (!err) {
		r->token = drop_login_locked(c, &path);
		cw__list_add_tail(&c->queue, &r->link);
		cw__wake(c);
	}
	cw__unlock(c);
	if (err) {
		cw__req_free(r);
		cw__set_error(err, NULL);
		return err;
	}
	if (path)
		cw__session_remove(path);
	free(path);
	return 0;
}

int cw_logout(cw_client *c, cw_done_cb cb, void *arg)
{
	return logout(c, 0, cb, arg);
}

int cw_logout_sync(cw_client *c, int timeout_ms)
{
	struct cw__waiter w;
	int err = cw__wait_begin(c, &w);

	if (err)
		return err;
	return cw__wait_end(&w, logout(c, timeout_ms, cw__sync_done_cb, &w));
}
