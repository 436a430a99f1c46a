/* harness: runs the real `callwire serve` for the SDK tests and drives its REST API. */
#ifndef CWT_HARNESS_H
#define CWT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* How long the server has to answer GET /healthz, and to exit after SIGTERM. */
#define CWT_START_DEADLINE_MS 10000
#define CWT_STOP_DEADLINE_MS 10000

/* One server process: a port and a data folder that survive restarts. */
struct cwt_server {
	pid_t pid; /* 0 while not running */
	int port;
	char url[64];
	char datadir[256];
	char logdir[256];
	char logpath[300];
	char master_key[128];
};

/* An app and its secrets, as POST /v1/apps returned them. */
struct cwt_app {
	char id[64];
	char auth_key[128];
	char rest_key[128];
};

/* Milliseconds of CLOCK_MONOTONIC. */
long long cwt_now_ms(void);

/* Starts a server on a free port with a fresh data folder and waits until it is ready.
 * Returns 0, or -1 after printing why (with the server's log). */
int cwt_server_new(struct cwt_server **srvp);
/* Starts the (stopped) server again on the same port and data folder; waits for ready. */
int cwt_server_start(struct cwt_server *srv);
/* Sends sig and waits up to CWT_STOP_DEADLINE_MS for the exit (then SIGKILL). Returns the
 * exit code, 128 + the signal for a process killed by one, or -1 when it was not running. */
int cwt_server_signal(struct cwt_server *srv, int sig);
/* SIGTERM; returns 0 when the server exited with 0 in time, else -1 after printing its log. */
int cwt_server_stop(struct cwt_server *srv);
/* Kills the server if it runs, removes its data and log folders, frees it. NULL is ignored. */
void cwt_server_free(struct cwt_server *srv);
/* Prints the last lines of the server's log to stderr (for failure reports). */
void cwt_server_print_log(const struct cwt_server *srv, int lines);
/* The server the running test uses (the latest one started), or NULL. */
struct cwt_server *cwt_current_server(void);

/* One HTTP request to the server. body: JSON text or NULL; token: a bearer or NULL.
 * Returns the HTTP status (-1 when no answer came); *out (may be NULL) receives the
 * parsed JSON answer or NULL. */
long cwt_http(const struct cwt_server *srv, const char *method, const char *path, const char *token,
	      const char *body, json_t **out);

/* REST helpers; each fails the running test when the server does not answer as the
 * contract says. */
void cwt_app_create(const struct cwt_server *srv, const char *name, struct cwt_app *app);
/* settings_json: the settings object, e.g. "{\"ringTimeout\":5}". */
void cwt_app_settings(const struct cwt_server *srv, const struct cwt_app *app,
		      const char *settings_json);
void cwt_user_create(const struct cwt_server *srv, const struct cwt_app *app, const char *uid,
		     const char *name);
/* members: NULL-terminated uids. */
void cwt_group_create(const struct cwt_server *srv, const struct cwt_app *app, const char *guid,
		      const char *name, const char *const *members);
/* Mints an auth token with the REST key into buf. */
void cwt_token_mint(const struct cwt_server *srv, const struct cwt_app *app, const char *uid,
		    char *buf, size_t size);
/* Revokes every auth token of uid; returns how many were revoked. */
int cwt_tokens_revoke(const struct cwt_server *srv, const struct cwt_app *app, const char *uid);

/* Removes a folder and everything under it. */
void cwt_rm_rf(const char *path);

#endif
