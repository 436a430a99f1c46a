/* service: media sessions as the control plane runs them: participants joining with a
 * call token, their publish and subscribe negotiations, mute, leave, the idle timeout,
 * the media workers' events, and the tie to a ringing call (docs/protocol.md, Media
 * sessions). Runs on the server's loop; talks to the workers through rtc/sfu's queues. */
#ifndef CW_SESSION_SERVICE_H
#define CW_SESSION_SERVICE_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "auth/auth.h"
#include "store/store.h"

struct cw_sessions;
struct cw_sfu;
struct cw_rt;
struct cw_calls;

struct cw_sessions_config {
	uv_loop_t *loop;
	struct cw_store *store;
	struct cw_rt *rt;
	struct cw_calls *calls;
	const struct cw_auth *auth;
	struct cw_sfu *sfu;
	/* The addresses put into our ICE candidates: "IP[,IP…]". */
	const char *public_ips;
};

int cw_sessions_new(struct cw_sessions **sp, const struct cw_sessions_config *cfg);
/* Ends every session (their participants hear nothing: the server is stopping) and frees
 * the service; the sessions' timers close on the loop's next run. NULL is ignored. */
void cw_sessions_free(struct cw_sessions *s);

/* The answer to one session.* request: a result, or an error code of the contract
 * ("ERR_BAD_REQUEST", …) with a message. */
struct cw_session_reply {
	json_t *result; /* owned by the caller */
	const char *code;
	char message[320];
};

/* Runs a session.* WebSocket request of uid (authenticated with an auth token of app). */
void cw_sessions_request(struct cw_sessions *s, const struct cw_app *app, const char *uid,
			 const char *method, json_t *params, int64_t now,
			 struct cw_session_reply *out);

/* Takes the media workers' events (cw_sfu_poll_events): a participant whose connection
 * failed or went silent leaves; a new dominant speaker is told. Call it on the loop when a
 * worker wakes it (cw_sfu_config.wake). */
void cw_sessions_media_events(struct cw_sessions *s);

/* A ringing call ended: its session ends for everyone still in it. */
void cw_sessions_call_ended(struct cw_sessions *s, const char *app_id, const char *session_id,
			    int64_t now);

#endif
