/* world: the per-test fixture of the SDK tests: a server, an app, users and their clients. */
#ifndef CWT_WORLD_H
#define CWT_WORLD_H

#include <stddef.h>

#include <callwire/callwire.h>

#include "harness.h"
#include "recorder.h"

#define WORLD_MAX 32

/* The id under which a peer's recorder listens. */
#define PEER_LISTENER_ID "test-recorder"

/* One client of one user, with a recorder listening to it. */
struct peer {
	char uid[64];
	cw_client *client;
	struct recorder *rec;
};

/* Everything one test owns; the teardown frees it even when the test failed. */
struct world {
	struct cwt_server *srv;
	struct cwt_app app;
	char tmpdir[256]; /* a scratch folder (session files) */
	struct peer *peers[WORLD_MAX];
	size_t n_peers;
	struct {
		void (*fn)(void *);
		void *p;
	} deferred[WORLD_MAX * 4];
	size_t n_deferred;
};

/* cmocka setup: a server of its own, an app, and the users alice
 * ("Alice"), bob ("Bob"), carol ("Carol") and dave ("Dave"). */
int world_setup(void **state);
/* cmocka teardown: frees the clients, then what was deferred, then stops the server
 * (fails when it does not exit cleanly on SIGTERM). */
int world_teardown(void **state);

/* A client of the app with a recorder attached under PEER_LISTENER_ID, not logged in. */
struct peer *peer_new(struct world *w, const char *uid);
/* peer_new, then a login with the auth key, then waits for `connected`. */
struct peer *peer_login(struct world *w, const char *uid);
/* Frees the peer's client now (its recorder stays until the teardown). */
void peer_close(struct world *w, struct peer *p);

/* Frees p with fn at the teardown, after every client is gone (in reverse order). */
void world_defer(struct world *w, void (*fn)(void *), void *p);
/* A completion / a recorder freed at the teardown. */
struct done *world_done(struct world *w);
struct recorder *world_recorder(struct world *w, const char *label);

/* Fails the test unless rc is 0, naming the error and cw_last_error_message(). */
#define ASSERT_OK(rc) assert_ok_at((rc), #rc, __FILE__, __LINE__)
void assert_ok_at(int rc, const char *what, const char *file, int line);
/* Fails the test unless rc is want. */
#define ASSERT_ERR(rc, want) assert_err_at((rc), (want), #rc, __FILE__, __LINE__)
void assert_err_at(int rc, int want, const char *what, const char *file, int line);

/* A bad argument to an async function: refused at once with CW_ERR_INVALID_ARGUMENT, or
 * sent and refused by the server (CW_ERR_BAD_REQUEST through the callback d). */
#define ASSERT_REFUSED(rc, d) assert_refused_at((rc), (d), #rc, __FILE__, __LINE__)
void assert_refused_at(int rc, struct done *d, const char *what, const char *file, int line);

/* Unrefs call at the teardown; returns it. */
cw_call *keep(struct world *w, cw_call *call);
/* cw_initiate_call_sync that must succeed; the call is kept by the world. */
cw_call *ring(struct world *w, struct peer *from, const char *receiver,
	      cw_receiver_type receiver_type, cw_call_type type, int ring_timeout_s,
	      const char *metadata_json);
/* cw_accept_call_sync / cw_end_call_sync that must succeed; the call is kept. */
cw_call *accept_sync(struct world *w, struct peer *p, const char *session_id);
cw_call *end_sync(struct world *w, struct peer *p, const char *session_id);

/* The call's participant index of uid, failing the test when there is none. */
size_t participant_index(const cw_call *call, const char *uid);

/* Runs stmt with m held, then wakes the waiters of cv. */
#define UPDATE_UNDER(m, cv, stmt)                                                                  \
	do {                                                                                       \
		pthread_mutex_lock(m);                                                             \
		stmt;                                                                              \
		pthread_cond_broadcast(cv);                                                        \
		pthread_mutex_unlock(m);                                                           \
	} while (0)

/* Waits on cv (with m, a pthread mutex) until cond holds, or fails the test after
 * deadline_ms, naming cond. cond is evaluated with m held. */
#define WAIT_UNDER(m, cv, cond, deadline_ms)                                                       \
	do {                                                                                       \
		long long until_ = cwt_now_ms() + (deadline_ms);                                   \
		pthread_mutex_lock(m);                                                             \
		while (!(cond) && cwt_now_ms() < until_) {                                         \
			struct timespec ts_;                                                       \
			clock_gettime(CLOCK_REALTIME, &ts_);                                       \
			ts_.tv_nsec += 50 * 1000000L;                                              \
			if (ts_.tv_nsec >= 1000000000L) {                                          \
				ts_.tv_sec++;                                                      \
				ts_.tv_nsec -= 1000000000L;                                        \
			}                                                                          \
			pthread_cond_timedwait(cv, m, &ts_);                                       \
		}                                                                                  \
		bool ok_ = (cond);                                                                 \
		pthread_mutex_unlock(m);                                                           \
		if (!ok_) {                                                                        \
			print_error("%s:%d: timed out waiting for %s\n", __FILE__, __LINE__,       \
				    #cond);                                                        \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

#endif
