/* sdk: libcallwire's private header, shared by the files of src/sdk/. */
#ifndef CW_SDK_H
#define CW_SDK_H

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "callwire/callwire.h"

#define CW__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CW__DEFAULT_TIMEOUT_MS 15000
/* The params of one request at most: the server takes messages up to 64 KiB. */
#define CW__MAX_REQUEST (60u << 10)
/* Server messages larger than this close the connection (a page of 100 calls is far less). */
#define CW__MAX_MESSAGE (8u << 20)
/* Sessions this client accepted or declined lately, to tell its own *_elsewhere apart. */
#define CW__OWN_MAX 16

/* An intrusive doubly linked list; an empty list points at itself. */
struct cw__link {
	struct cw__link *prev, *next;
};

void cw__list_init(struct cw__link *head);
void cw__list_add_tail(struct cw__link *head, struct cw__link *l);
void cw__list_del(struct cw__link *l);
bool cw__list_empty(const struct cw__link *head);
/* Moves every entry of from to the end of to. */
void cw__list_splice(struct cw__link *to, struct cw__link *from);

#define cw__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- errors and values (errors.c, values.c) ---- */

/* Sets this thread's message for cw_last_error_message(); NULL means cw_strerror(err). */
void cw__set_error(int err, const char *message);
/* cw__set_error, then err: `return cw__fail(CW_ERR_…, "why");`. */
int cw__fail(int err, const char *message);
/* The CW_ERR_* of a server error code ("ERR_NOT_FOUND"); CW_ERR_SERVER when unknown. */
int cw__err_from_code(const char *code);
int64_t cw__now_ms(void);
/* Random bytes from OpenSSL's generator (ICE credentials, transaction ids, SSRCs). */
void cw__random_bytes(void *buf, size_t len);
uint32_t cw__random_u32(void);
/* Random unsigned in [0, bound). */
unsigned cw__rand_below(unsigned bound);
char *cw__strdup(const char *s);
int cw__parse_enum(const char *s, const char *const *names, size_t n);
extern const char *const cw__status_names[7];
extern const char *const cw__part_state_names[7];

/* ---- call objects (call.c) ---- */

struct cw__participant {
	const char *uid;
	cw_participant_state state;
	int64_t joined_at, left_at;
	double duration;
};

struct cw_call {
	atomic_int refs;
	json_t *obj; /* the strings below point into it */
	const char *session_id, *initiator_uid, *initiator_name, *receiver_id, *receiver_name;
	cw_call_category category;
	cw_call_type type;
	cw_receiver_type receiver_type;
	cw_call_status status;
	int64_t initiated_at, joined_at, ended_at;
	double duration;
	char *metadata;
	struct cw__participant *parts;
	size_t n_parts;
};

/* Builds a call from the contract's call object (takes a reference on obj).
 * -EINVAL (as CW_ERR_PROTOCOL) when a required field is missing or of the wrong kind. */
int cw__call_from_json(cw_call **callp, json_t *obj);
/* The index of uid among the participants, or -1. */
int cw__call_find(const cw_call *call, const char *uid);

struct cw_user {
	atomic_int refs;
	char *uid, *name, *avatar;
};

int cw__user_from_json(cw_user **userp, json_t *obj);
json_t *cw__user_to_json(const cw_user *user);

struct cw_call_page {
	atomic_int refs;
	cw_call **calls;
	size_t n;
};

cw_call_page *cw__page_ref(cw_call_page *page);

/* ---- server messages (message.c): pure, fuzzed ---- */

enum cw__msg_type { CW__MSG_READY, CW__MSG_EVENT, CW__MSG_RESPONSE, CW__MSG_OTHER };

struct cw__msg {
	enum cw__msg_type type;
	json_t *root;
	/* ready */
	json_t *user;
	int64_t seq; /* ready and event */
	bool resumed;
	const char *device;
	/* event */
	const char *name;
	cw_call *call;	 /* NULL when the event carries no call this version reads */
	const char *uid; /* participant events: who joined or left */
	/* response */
	const char *id;
	json_t *result;	  /* borrowed from root; NULL on error */
	json_t *error;	  /* the error object */
	const char *code; /* error code and message */
	const char *message;
};

/* Parses one text message from the server. 0, or CW_ERR_PROTOCOL / CW_ERR_NO_MEMORY. */
int cw__msg_parse(struct cw__msg *msg, const char *data, size_t len);
void cw__msg_clear(struct cw__msg *msg);

/* ---- listeners (listeners.c) ---- */

enum cw__listener_kind { CW__L_CALL, CW__L_CONN };

struct cw__listener {
	struct cw__listener *next;
	int refs; /* under the client's mutex */
	bool removed;
	enum cw__listener_kind kind;
	char *id;
	union {
		cw_call_listener call;
		cw_connection_listener conn;
	} u;
	void *arg;
};

/* One registered listener as a dispatch sees it. */
typedef void (*cw__fire_fn)(cw_client *c, const struct cw__listener *l, void *ctx);
/* Calls fire for every live listener of kind, outside the lock, skipping those removed
 * meanwhile. */
void cw__listeners_fire(cw_client *c, enum cw__listener_kind kind, cw__fire_fn fire, void *ctx);
void cw__listeners_free(cw_client *c);

/* ---- requests (requests.c) ---- */

enum cw__req_kind { CW__REQ_WS, CW__REQ_HTTP, CW__REQ_LOCAL };

struct cw__req;
/* Completes a request on the network thread: err, the server's message, the result (or
 * the error object on a server error). Frees nothing. */
typedef void (*cw__finish_fn)(struct cw__req *r, int err, const char *message, json_t *result);

struct cw__req {
	struct cw__link link;
	cw_client *c;
	enum cw__req_kind kind;
	char id[24];
	const char *method; /* WebSocket method, or the HTTP method */
	char *path;	    /* HTTP: the path after /v1/apps/{appId} */
	char *token;	    /* HTTP: the bearer token, if any */
	json_t *params;	    /* WebSocket params or HTTP body (may be NULL) */
	bool idempotent;    /* may be sent again after a lost connection */
	bool logout;	    /* HTTP: the logout, which first closes the connection */
	int64_t deadline;
	cw__finish_fn finish;
	void *cb; /* the public callback, cast by finish */
	void *arg;
	void *extra; /* per-kind data (the call log request) */
	/* HTTP exchange state */
	struct lws *wsi;
	char *body_text;
	size_t body_len;
	int status;
	char *resp;
	size_t resp_len;
};

int cw__req_new(struct cw__req **rp, cw_client *c, enum cw__req_kind kind, const char *method,
		json_t *params, cw__finish_fn finish, void *cb, void *arg);
void cw__req_free(struct cw__req *r);
/* Checks the login, then queues r for the network thread. On failure r is freed. */
int cw__submit(cw_client *c, struct cw__req *r, bool needs_login);
/* Completes r (runs its finish) and frees it. */
void cw__complete(struct cw__req *r, int err, const char *message, json_t *result);
/* Fails every request in list with err. */
void cw__fail_all(struct cw__link *list, int err);

/* A waiter for the `_sync` twins. */
struct cw__waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int err;
	char message[512];
	cw_call *call;
	cw_user *user;
	cw_call_page *page;
};

/* CW_ERR_WOULD_DEADLOCK on the network thread, else 0 with w ready. */
int cw__wait_begin(cw_client *c, struct cw__waiter *w);
/* Waits for the outcome; sets this thread's error message; destroys w. */
int cw__wait_end(struct cw__waiter *w, int submit_err);
void cw__wait_done(struct cw__waiter *w, int err, const char *message);
void cw__sync_call_cb(cw_client *c, int err, const char *message, cw_call *call, void *arg);
void cw__sync_user_cb(cw_client *c, int err, const char *message, cw_user *user, void *arg);
void cw__sync_done_cb(cw_client *c, int err, const char *message, void *arg);
int cw__timeout_of(cw_client *c, int timeout_ms);

/* ---- the client (client.c, conn.c, http.c) ---- */

enum cw__ws_state { CW__WS_IDLE, CW__WS_CONNECTING, CW__WS_AUTH, CW__WS_READY, CW__WS_WAIT };

struct cw__out {
	struct cw__link link;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes, then the text */
};

struct cw_client {
	/* Set at creation, read-only afterwards. */
	char *url, *host, *app_id;
	char *host_header; /* "host[:port]", IPv6 in brackets */
	int port;
	bool tls;
	struct lws_context *ctx;
	pthread_t thread;

	pthread_mutex_t mutex; /* guards what follows, up to the network thread's own */
	struct cw__link queue; /* requests for the network thread */
	bool logged_in, login_busy, stopping, free_on_exit;
	char *token;
	cw_user *user;
	char *session_file;
	cw_connection_state conn_state;
	int timeout_ms;
	bool want_connect; /* a login happened: (re)start the connection */
	struct cw__listener *listeners;

	/* The network thread's own. */
	struct cw__link waiting; /* WebSocket requests waiting for a connection */
	struct cw__link inflight;
	struct cw__link http;
	unsigned http_completed;
	struct cw__link out;
	unsigned next_id; /* of WebSocket requests */
	int64_t ready_at; /* when the current connection became ready (monotonic ms) */
	struct lws *ws;
	uintptr_t gen; /* the current connection's number; older ones are ignored */
	enum cw__ws_state ws_state;
	int close_code;
	char *rx;
	size_t rx_len;
	int64_t last_seq; /* -1 until the first ready */
	bool had_ready;
	unsigned attempt;
	lws_sorted_usec_list_t retry_sul, tick_sul;
	bool ticking;
	char own[CW__OWN_MAX][65];
	unsigned own_next;
	char device[33];	     /* this login's device id, from ready */
	struct cw__link sessions;    /* media sessions joined or joining (session.c) */
	struct cw__calling *calling; /* the calling extension (calling.c), under the mutex */
};

void cw__lock(cw_client *c);
void cw__unlock(cw_client *c);
bool cw__on_network_thread(cw_client *c);
/* Wakes the network thread to look at its queue. Called with the lock held: the network
 * thread reads `stopping` under it before destroying the context, so a wake-up never
 * reaches a context being destroyed. */
void cw__wake(cw_client *c);
/* Network thread: takes the queued requests and starts them. */
void cw__drain(cw_client *c);

/* Checks request deadlines periodically while any request is pending. */
void cw__arm_tick(cw_client *c);

/* conn.c: the realtime connection, on the network thread. */
extern const struct lws_protocols cw__ws_protocol;
void cw__conn_start(cw_client *c);
void cw__conn_close(cw_client *c);
/* Sends or parks a WebSocket request. */
void cw__conn_send(cw_client *c, struct cw__req *r);
void cw__conn_tick(cw_client *c, int64_t now);

/* http.c: one HTTP exchange per request. */
extern const struct lws_protocols cw__http_protocol;
void cw__http_start(cw_client *c, struct cw__req *r);
/* Fails every HTTP request with err, detached from its connection. */
void cw__http_fail_all(cw_client *c, int err);
void cw__http_tick(cw_client *c, int64_t now);

/* client.c */
/* Logged in from the server's answer (a user and the token). Network thread. 0 or
 * CW_ERR_NO_MEMORY. */
int cw__set_login(cw_client *c, const char *token, cw_user *user);
/* The login was refused or revoked: forget it (and its session file). */
void cw__drop_login(cw_client *c);
/* Whether the client is being freed; takes the lock. */
bool cw__stopping(cw_client *c);
bool cw__logged_in(cw_client *c);
void cw__set_conn_state(cw_client *c, cw_connection_state s);

/* events.c: server events to listener callbacks. */
void cw__dispatch_event(cw_client *c, const struct cw__msg *msg);
void cw__remember_own(cw_client *c, const char *session_id);

/* session_file.c */
int cw__session_write(const char *path, const char *url, const char *app_id, const char *token,
		      const cw_user *user);
int cw__session_read(const char *path, const char *url, const char *app_id, char **tokenp,
		     cw_user **userp);
void cw__session_remove(const char *path);

#endif
