/* recorder: listeners that log every SDK event, and completions of async calls, to wait on. */
#ifndef CWT_RECORDER_H
#define CWT_RECORDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <callwire/callwire.h>

/* How long a test waits for an event that must come. */
#define CWT_EVENT_TIMEOUT_MS 10000

/* One callback as a listener saw it. */
struct rec_event {
	unsigned long order; /* process-wide: tells the order of events across recorders */
	char name[40];	     /* the listener member: "incoming_call_received", "connected"… */
	char session_id[72]; /* "" for connection events */
	int status;	     /* the call's status; disconnected: err; else -1 */
	char uid[104];	     /* participant_joined/left: the uid; else "" */
	long detail;	     /* reconnecting: attempt; reconnected: resumed; else 0 */
	bool on_test_thread; /* it ran on the thread that created the recorder */
	cw_call *call;	     /* a reference to the call, or NULL */
};

struct recorder;

/* label names the recorder in failure reports. */
struct recorder *rec_new(const char *label);
/* Frees the log and the calls it holds. Free the clients it listens to first. */
void rec_free(struct recorder *rec);
/* Adds a call listener and a connection listener, both under id, that log into rec. */
int rec_attach(struct recorder *rec, cw_client *client, const char *id);
/* The listener structs rec_attach uses, with rec as their arg. */
const cw_call_listener *rec_call_listener(void);
const cw_connection_listener *rec_connection_listener(void);

/* Waits until the n-th (1-based) event named name (and of session_id unless NULL) is in
 * the log; returns it, or NULL at the timeout. The event lives as long as rec. */
const struct rec_event *wait_event_n(struct recorder *rec, const char *name, const char *session_id,
				     size_t n, int timeout_ms);
#define wait_event(rec, name, sid, ms) wait_event_n(rec, name, sid, 1, ms)
/* How many events named name (any when NULL) of session_id (any when NULL) are logged. */
size_t rec_count(struct recorder *rec, const char *name, const char *session_id);
/* Prints the log to stderr. */
void rec_dump(struct recorder *rec);

/* wait_event that fails the test (printing the log and the server's) at the timeout. */
const struct rec_event *rec_expect(struct recorder *rec, const char *name, const char *session_id,
				   size_t n, int timeout_ms, const char *file, int line);
#define EXPECT_EVENT(rec, name, sid)                                                               \
	rec_expect(rec, name, sid, 1, CWT_EVENT_TIMEOUT_MS, __FILE__, __LINE__)
#define EXPECT_EVENT_N(rec, name, sid, n)                                                          \
	rec_expect(rec, name, sid, n, CWT_EVENT_TIMEOUT_MS, __FILE__, __LINE__)

/* The completion of one asynchronous call: what its callback was given. */
struct done {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fired; /* how many times the callback ran */
	int err;
	char message[512];
	cw_call *call;					 /* a reference, or NULL */
	cw_user *user;					 /* a reference, or NULL */
	char **page_ids;				 /* the session ids of a page, in order */
	size_t page_count;				 /* how many calls the page had */
	bool page_null;					 /* the page pointer was NULL */
	pthread_t ran_on;				 /* the thread the callback ran on */
	void (*then)(struct done *d, cw_client *client); /* run inside the callback */
	void *ctx;					 /* for then */
};

struct done *done_new(void);
void done_free(struct done *d);
/* Callbacks of each kind; arg is a struct done. */
void done_cb(cw_client *client, int err, const char *message, void *arg);
void done_user_cb(cw_client *client, int err, const char *message, cw_user *user, void *arg);
void done_call_cb(cw_client *client, int err, const char *message, cw_call *call, void *arg);
void done_page_cb(cw_client *client, int err, const char *message, cw_call_page *page, void *arg);
/* How many times the callback has run so far. */
int done_count(struct done *d);
/* Waits for the callback; returns 0, or -1 at the timeout. */
int done_wait(struct done *d, int timeout_ms);
/* done_wait that fails the test at the timeout. */
void done_expect(struct done *d, const char *file, int line);
#define EXPECT_DONE(d) done_expect(d, __FILE__, __LINE__)

#endif
