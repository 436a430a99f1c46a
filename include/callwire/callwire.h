/* libcallwire: the C client library of callwire (log in, ring and be rung, call logs, and the
 * media of sessions). */
#ifndef CALLWIRE_H
#define CALLWIRE_H

/*
 * Conventions
 * -----------
 * - Functions that can fail return 0 or a negative CW_ERR_* code. A function that fails
 *   never invokes its callback.
 * - Asynchronous functions take a completion callback and an `arg` handed back to it.
 *   The callback runs exactly once, on the client's network thread, unless the function
 *   itself failed; its `message` is NULL on success, else the server's message or
 *   cw_strerror(err). Every such function has a `_sync` twin that blocks for at most
 *   `timeout_ms` (<= 0: the client's request timeout) and returns the outcome; a call
 *   the server sent with its error (see cw_call_cb) is returned through `callp` as well.
 * - Order: the realtime connection carries answers and events in the order the server
 *   sent them, so a request's callback runs before the callbacks of the events the
 *   server sent after answering it.
 * - Every function is safe to call from any thread, including from inside a callback.
 *   The `_sync` twins are the exception that cannot work there: called on the network
 *   thread they return CW_ERR_WOULD_DEADLOCK at once.
 * - Objects handed to a callback (calls, users, pages) are borrowed for the duration of
 *   the callback; take a reference (`cw_call_ref`) to keep one. Objects returned through
 *   a pointer argument belong to the caller.
 * - Strings returned by accessors live as long as the object they came from.
 * - Times are Unix milliseconds (0 when the contract says null); durations are seconds.
 * - The ABI is kept: later versions add functions (`_v2`), they do not change these.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CALLWIRE_BUILDING) && defined(__GNUC__)
#define CW_EXTERN __attribute__((visibility("default")))
#else
#define CW_EXTERN
#endif

#define CW_VERSION_MAJOR 0
#define CW_VERSION_MINOR 1
#define CW_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH". */
CW_EXTERN const char *cw_version(void);

/* ---- Errors ------------------------------------------------------------------------ */

/* X(NAME, value, description). The server's error codes map to the entries whose names
 * match them (ERR_NOT_FOUND -> CW_ERR_NOT_FOUND); an unknown server code is
 * CW_ERR_SERVER. */
#define CW_ERRNO_MAP(X)                                                                            \
	X(NOT_LOGGED_IN, -1,                                                                       \
	  "not logged in: log in first (cw_login_with_auth_key or "                                \
	  "cw_login_with_token)")                                                                  \
	X(ALREADY_LOGGED_IN, -2, "already logged in: log out first")                               \
	X(INVALID_ARGUMENT, -3, "invalid argument")                                                \
	X(NO_MEMORY, -4, "out of memory")                                                          \
	X(TIMEOUT, -5, "timed out")                                                                \
	X(CONNECTION, -6, "cannot reach the server")                                               \
	X(CONNECTION_LOST, -7,                                                                     \
	  "the connection to the server was lost (a request in flight may or may not have "        \
	  "taken effect)")                                                                         \
	X(CANCELLED, -8, "cancelled: the client logged out or was freed")                          \
	X(PROTOCOL, -9, "the server's answer does not follow the protocol")                        \
	X(IO, -10, "cannot read or write the session file")                                        \
	X(WOULD_DEADLOCK, -11,                                                                     \
	  "a blocking function was called from a callback; use the "                               \
	  "asynchronous one")                                                                      \
	X(BUSY, -12, "another request of this object is still running")                            \
	X(BAD_REQUEST, -20, "the server refused the request as malformed")                         \
	X(UNAUTHORIZED, -21, "the credentials are wrong, expired or revoked")                      \
	X(FORBIDDEN, -22, "not allowed")                                                           \
	X(NOT_FOUND, -23, "not found")                                                             \
	X(CONFLICT, -24, "conflict")                                                               \
	X(CALL_IN_PROGRESS, -25, "the user is already in a call")                                  \
	X(INVALID_STATE, -26, "the call is not in a state that allows this")                       \
	X(PAYLOAD_TOO_LARGE, -27, "the request is too large")                                      \
	X(RATE_LIMITED, -28, "too many requests; retry later")                                     \
	X(INTERNAL, -29, "the server failed")                                                      \
	X(SERVER, -30, "the server answered with an error this library does not know")

enum cw_error {
	CW_OK = 0,
#define CW__ERR_ENUM(name, value, text) CW_ERR_##name = value,
	CW_ERRNO_MAP(CW__ERR_ENUM)
#undef CW__ERR_ENUM
};

/* A description of err ("unknown error" for a value not in the list). */
CW_EXTERN const char *cw_strerror(int err);
/* The name of err: "CW_ERR_NOT_FOUND", "CW_OK", or "CW_ERR_UNKNOWN". */
CW_EXTERN const char *cw_err_name(int err);
/* The message that explains this thread's last failed `_sync` call or failed function:
 * the server's message when the server refused, otherwise cw_strerror(). Never NULL. */
CW_EXTERN const char *cw_last_error_message(void);

/* Frees a string this library returned (cw_call_to_json and the like). */
CW_EXTERN void cw_free(void *p);

/* ---- Values ------------------------------------------------------------------------ */

typedef enum { CW_CALL_AUDIO, CW_CALL_VIDEO } cw_call_type;
typedef enum { CW_RECEIVER_USER, CW_RECEIVER_GROUP } cw_receiver_type;
typedef enum { CW_CATEGORY_CALL, CW_CATEGORY_MEET } cw_call_category;
typedef enum {
	CW_STATUS_INITIATED,
	CW_STATUS_ONGOING,
	CW_STATUS_ENDED,
	CW_STATUS_REJECTED,
	CW_STATUS_CANCELLED,
	CW_STATUS_BUSY,
	CW_STATUS_UNANSWERED
} cw_call_status;
typedef enum {
	CW_PARTICIPANT_RINGING,
	CW_PARTICIPANT_ONGOING,
	CW_PARTICIPANT_LEFT,
	CW_PARTICIPANT_REJECTED,
	CW_PARTICIPANT_BUSY,
	CW_PARTICIPANT_UNANSWERED,
	CW_PARTICIPANT_CANCELLED
} cw_participant_state;
typedef enum { CW_DIRECTION_INCOMING, CW_DIRECTION_OUTGOING } cw_direction;
typedef enum {
	CW_CONNECTION_OFFLINE,	  /* logged out, or stopped after the server refused the token */
	CW_CONNECTION_CONNECTING, /* connecting, or waiting to try again */
	CW_CONNECTION_CONNECTED	  /* authenticated; events flow */
} cw_connection_state;

/* The contract's names: "audio", "video", "user", "group", "call", "meet", "initiated",
 * …, "ringing", …, "incoming", "outgoing". NULL for a value out of range. */
CW_EXTERN const char *cw_call_type_str(cw_call_type t);
CW_EXTERN const char *cw_receiver_type_str(cw_receiver_type t);
CW_EXTERN const char *cw_call_category_str(cw_call_category c);
CW_EXTERN const char *cw_call_status_str(cw_call_status s);
CW_EXTERN const char *cw_participant_state_str(cw_participant_state s);
CW_EXTERN const char *cw_direction_str(cw_direction d);

/* ---- Users ------------------------------------------------------------------------- */

typedef struct cw_user cw_user;

CW_EXTERN cw_user *cw_user_ref(cw_user *user);
CW_EXTERN void cw_user_unref(cw_user *user);
CW_EXTERN const char *cw_user_get_uid(const cw_user *user);
CW_EXTERN const char *cw_user_get_name(const cw_user *user);
/* NULL when the user has none. */
CW_EXTERN const char *cw_user_get_avatar(const cw_user *user);

/* ---- Calls ------------------------------------------------------------------------- */

/* A snapshot of a call as the server last described it (the contract's call object). */
typedef struct cw_call cw_call;

/* A new reference (call itself); unref NULL is ignored. */
CW_EXTERN cw_call *cw_call_ref(cw_call *call);
CW_EXTERN void cw_call_unref(cw_call *call);

CW_EXTERN const char *cw_call_get_session_id(const cw_call *call);
CW_EXTERN cw_call_category cw_call_get_category(const cw_call *call);
CW_EXTERN cw_call_type cw_call_get_type(const cw_call *call);
CW_EXTERN cw_receiver_type cw_call_get_receiver_type(const cw_call *call);
CW_EXTERN const char *cw_call_get_initiator_uid(const cw_call *call);
CW_EXTERN const char *cw_call_get_initiator_name(const cw_call *call);
/* The receiver's uid, or its guid for a group call. */
CW_EXTERN const char *cw_call_get_receiver_id(const cw_call *call);
CW_EXTERN const char *cw_call_get_receiver_name(const cw_call *call);
CW_EXTERN cw_call_status cw_call_get_status(const cw_call *call);
CW_EXTERN int64_t cw_call_get_initiated_at(const cw_call *call);
CW_EXTERN int64_t cw_call_get_joined_at(const cw_call *call);
CW_EXTERN int64_t cw_call_get_ended_at(const cw_call *call);
CW_EXTERN double cw_call_get_duration(const cw_call *call);
/* The metadata object as compact JSON text ("{}" when there is none). */
CW_EXTERN const char *cw_call_get_metadata(const cw_call *call);
/* True when the call is initiated or ongoing. */
CW_EXTERN bool cw_call_is_active(const cw_call *call);

/* Participants, index 0 being the initiator. Out-of-range indexes give NULL, 0 or -1. */
CW_EXTERN size_t cw_call_get_participant_count(const cw_call *call);
CW_EXTERN const char *cw_call_get_participant_uid(const cw_call *call, size_t i);
/* The participant's state, or -1 when i is out of range. */
CW_EXTERN int cw_call_get_participant_state(const cw_call *call, size_t i);
CW_EXTERN int64_t cw_call_get_participant_joined_at(const cw_call *call, size_t i);
CW_EXTERN int64_t cw_call_get_participant_left_at(const cw_call *call, size_t i);
CW_EXTERN double cw_call_get_participant_duration(const cw_call *call, size_t i);

/* The call object as the server sent it, compact JSON; free with cw_free. NULL on
 * out-of-memory. */
CW_EXTERN char *cw_call_to_json(const cw_call *call);

/* ---- The client -------------------------------------------------------------------- */

typedef struct cw_client cw_client;

typedef void (*cw_done_cb)(cw_client *client, int err, const char *message, void *arg);
typedef void (*cw_user_cb)(cw_client *client, int err, const char *message, cw_user *user,
			   void *arg);
/* On CW_ERR_CALL_IN_PROGRESS `call` is the call the user is already in; on other errors
 * that the server sends with a call (CW_ERR_INVALID_STATE) it is that call; else NULL. */
typedef void (*cw_call_cb)(cw_client *client, int err, const char *message, cw_call *call,
			   void *arg);

/* Creates a client for the server at server_url ("http://host:port" or "https://…")
 * and the app app_id, and starts its network thread. Nothing is sent until a login.
 * libwebsockets' logging, which is process-wide, is set to errors only. */
CW_EXTERN int cw_client_new(cw_client **clientp, const char *server_url, const char *app_id);
/* Logs nothing out: stops the network thread, fails pending requests with
 * CW_ERR_CANCELLED (their callbacks run), and frees the client. From inside a callback
 * the client is freed once the callback returns. NULL is ignored. */
CW_EXTERN void cw_client_free(cw_client *client);

/* Keeps the login in a file (mode 0600). If the client is logged in, the login is written
 * there now; otherwise a login found there for this server and app is restored: the
 * client is logged in at once and connects in the background. Every later login
 * rewrites the file and logout removes it. Returns CW_ERR_IO when the file cannot be
 * read or written, CW_ERR_NOT_LOGGED_IN when it holds no login for this server and app
 * (the path is kept for the next login). */
CW_EXTERN int cw_client_set_session_file(cw_client *client, const char *path);
/* The default timeout of requests and of `_sync` calls given timeout_ms <= 0 (default
 * 15,000 ms). A request waits that long for a connection when there is none. */
CW_EXTERN int cw_client_set_request_timeout(cw_client *client, int timeout_ms);
CW_EXTERN cw_connection_state cw_client_get_connection_state(cw_client *client);

/* Logs in with the app's auth key (development). On success the realtime connection
 * starts; the `connected` listener fires when it is up. CW_ERR_ALREADY_LOGGED_IN when
 * logged in, CW_ERR_BUSY while another login runs. */
CW_EXTERN int cw_login_with_auth_key(cw_client *client, const char *uid, const char *auth_key,
				     cw_user_cb cb, void *arg);
CW_EXTERN int cw_login_with_auth_key_sync(cw_client *client, const char *uid, const char *auth_key,
					  int timeout_ms);
/* Logs in with an auth token that the app's backend obtained (production). */
CW_EXTERN int cw_login_with_token(cw_client *client, const char *auth_token, cw_user_cb cb,
				  void *arg);
CW_EXTERN int cw_login_with_token_sync(cw_client *client, const char *auth_token, int timeout_ms);
/* The logged-in user (a new reference), or NULL. */
CW_EXTERN cw_user *cw_get_logged_in_user(cw_client *client);
/* Revokes the token on the server, closes the connection, forgets the login (and removes
 * the session file). The client is logged out even when the server cannot be reached;
 * err then says so. Pending requests fail with CW_ERR_CANCELLED. */
CW_EXTERN int cw_logout(cw_client *client, cw_done_cb cb, void *arg);
CW_EXTERN int cw_logout_sync(cw_client *client, int timeout_ms);

/* ---- Listeners --------------------------------------------------------------------- */

/*
 * Listeners are registered under a string id. Adding with an id that is already
 * registered replaces that listener; listeners with distinct ids all fire, in the order
 * they were first added. After cw_remove_*_listener returns, the listener is not called
 * again (unless it is running on the network thread at that moment). Adding or removing
 * from inside a callback is allowed; a listener added during an event fires from the
 * next event on. Every member may be NULL.
 */

typedef void (*cw_call_event_cb)(cw_client *client, cw_call *call, void *arg);
typedef void (*cw_participant_cb)(cw_client *client, cw_call *call, const char *uid, void *arg);

typedef struct cw_call_listener {
	/* Someone rings this user (call.incoming). */
	cw_call_event_cb incoming_call_received;
	/* The callee answered this user's call (call.accepted). */
	cw_call_event_cb outgoing_call_accepted;
	/* This user's call ended unanswered: cw_call_get_status() is CW_STATUS_REJECTED,
	 * CW_STATUS_BUSY or CW_STATUS_UNANSWERED. */
	cw_call_event_cb outgoing_call_rejected;
	/* This user's own ringing call was cancelled: by this client, by another of their
	 * devices, or by the server after the reconnect grace. */
	cw_call_event_cb outgoing_call_cancelled;
	/* A call ringing this user stopped ringing: the caller cancelled
	 * (CW_STATUS_CANCELLED) or nobody answered in time (this user's participant state
	 * is CW_PARTICIPANT_UNANSWERED). */
	cw_call_event_cb incoming_call_cancelled;
	/* An ongoing call this user was in is over (call.ended). */
	cw_call_event_cb call_ended;
	/* Another device (or another client of the same login) of this user answered or
	 * declined. Not fired on the client that did it. */
	cw_call_event_cb accepted_elsewhere;
	cw_call_event_cb rejected_elsewhere;
	/* In a group call: uid joined or left. */
	cw_participant_cb participant_joined;
	cw_participant_cb participant_left;
} cw_call_listener;

typedef struct cw_connection_listener {
	/* The first realtime connection after a login (or a restored login) is up. */
	void (*connected)(cw_client *client, void *arg);
	/* The connection dropped. err says why: CW_ERR_CONNECTION_LOST (network, server
	 * restart: the client reconnects by itself) or CW_ERR_UNAUTHORIZED (the token was
	 * revoked or expired: the client stays offline until the next login). */
	void (*disconnected)(cw_client *client, int err, void *arg);
	/* The attempt-th reconnection starts in delay_ms. */
	void (*reconnecting)(cw_client *client, unsigned attempt, unsigned delay_ms, void *arg);
	/* Connected again. resumed: every event missed meanwhile follows, right after this
	 * callback; when false the server no longer had them (fetch the active call and the
	 * call log). */
	void (*reconnected)(cw_client *client, bool resumed, void *arg);
} cw_connection_listener;

/* The listener struct is copied. Removing an id that is not registered is
 * CW_ERR_NOT_FOUND. */
CW_EXTERN int cw_add_call_listener(cw_client *client, const char *id,
				   const cw_call_listener *listener, void *arg);
CW_EXTERN int cw_remove_call_listener(cw_client *client, const char *id);
CW_EXTERN int cw_add_connection_listener(cw_client *client, const char *id,
					 const cw_connection_listener *listener, void *arg);
CW_EXTERN int cw_remove_connection_listener(cw_client *client, const char *id);

/* ---- Ringing ----------------------------------------------------------------------- */

/* Rings receiver (a uid, or a guid with CW_RECEIVER_GROUP). ring_timeout_s: 5–300, or 0
 * for the app's ringTimeout. metadata_json: a JSON object of at most 4 KiB, or NULL. */
CW_EXTERN int cw_initiate_call(cw_client *client, const char *receiver,
			       cw_receiver_type receiver_type, cw_call_type type,
			       int ring_timeout_s, const char *metadata_json, cw_call_cb cb,
			       void *arg);
/* On success *callp is the new call (free with cw_call_unref). On
 * CW_ERR_CALL_IN_PROGRESS, when callp is not NULL, *callp is the call the user is in. */
CW_EXTERN int cw_initiate_call_sync(cw_client *client, const char *receiver,
				    cw_receiver_type receiver_type, cw_call_type type,
				    int ring_timeout_s, const char *metadata_json, int timeout_ms,
				    cw_call **callp);

CW_EXTERN int cw_accept_call(cw_client *client, const char *session_id, cw_call_cb cb, void *arg);
CW_EXTERN int cw_accept_call_sync(cw_client *client, const char *session_id, int timeout_ms,
				  cw_call **callp);
/* status: CW_STATUS_REJECTED or CW_STATUS_BUSY. */
CW_EXTERN int cw_reject_call(cw_client *client, const char *session_id, cw_call_status status,
			     cw_call_cb cb, void *arg);
CW_EXTERN int cw_reject_call_sync(cw_client *client, const char *session_id, cw_call_status status,
				  int timeout_ms, cw_call **callp);
CW_EXTERN int cw_cancel_call(cw_client *client, const char *session_id, cw_call_cb cb, void *arg);
CW_EXTERN int cw_cancel_call_sync(cw_client *client, const char *session_id, int timeout_ms,
				  cw_call **callp);
/* Leaves the call; a 1:1 call ends, a group call ends when nobody is left. */
CW_EXTERN int cw_end_call(cw_client *client, const char *session_id, cw_call_cb cb, void *arg);
CW_EXTERN int cw_end_call_sync(cw_client *client, const char *session_id, int timeout_ms,
			       cw_call **callp);
/* Ends a group call for everyone (its initiator only). */
CW_EXTERN int cw_end_call_for_all(cw_client *client, const char *session_id, cw_call_cb cb,
				  void *arg);
CW_EXTERN int cw_end_call_for_all_sync(cw_client *client, const char *session_id, int timeout_ms,
				       cw_call **callp);
CW_EXTERN int cw_get_call(cw_client *client, const char *session_id, cw_call_cb cb, void *arg);
CW_EXTERN int cw_get_call_sync(cw_client *client, const char *session_id, int timeout_ms,
			       cw_call **callp);
/* The user's initiated or ongoing call; call is NULL (with err 0) when there is none. */
CW_EXTERN int cw_get_active_call(cw_client *client, cw_call_cb cb, void *arg);
CW_EXTERN int cw_get_active_call_sync(cw_client *client, int timeout_ms, cw_call **callp);

/* ---- Call logs --------------------------------------------------------------------- */

/* One page of calls, newest first. */
typedef struct cw_call_page cw_call_page;

CW_EXTERN size_t cw_call_page_count(const cw_call_page *page);
/* The i-th call (borrowed from the page), or NULL. */
CW_EXTERN cw_call *cw_call_page_get(const cw_call_page *page, size_t i);
CW_EXTERN void cw_call_page_free(cw_call_page *page);

/* Pages through the calls the logged-in user took part in. Filters are set before the
 * first fetch (later they return CW_ERR_BUSY). One request object is used by one thread
 * at a time (its callbacks aside), like a FILE. */
typedef struct cw_call_log_request cw_call_log_request;
typedef void (*cw_page_cb)(cw_client *client, int err, const char *message, cw_call_page *page,
			   void *arg);

CW_EXTERN int cw_call_log_request_new(cw_call_log_request **requestp, cw_client *client);
/* Must not be called while a fetch is running. NULL is ignored. */
CW_EXTERN void cw_call_log_request_free(cw_call_log_request *request);
/* 1–100; the server's default is 30. */
CW_EXTERN int cw_call_log_request_set_limit(cw_call_log_request *request, int limit);
CW_EXTERN int cw_call_log_request_set_type(cw_call_log_request *request, cw_call_type type);
CW_EXTERN int cw_call_log_request_set_status(cw_call_log_request *request, cw_call_status status);
CW_EXTERN int cw_call_log_request_set_direction(cw_call_log_request *request,
						cw_direction direction);
/* Calls with this other user / in this group. */
CW_EXTERN int cw_call_log_request_set_uid(cw_call_log_request *request, const char *uid);
CW_EXTERN int cw_call_log_request_set_guid(cw_call_log_request *request, const char *guid);
CW_EXTERN int cw_call_log_request_set_category(cw_call_log_request *request,
					       cw_call_category category);
CW_EXTERN int cw_call_log_request_set_has_recording(cw_call_log_request *request,
						    bool has_recording);
/* Fetches the next page. After the last page it completes with an empty page.
 * CW_ERR_BUSY while another fetch of this request runs. */
CW_EXTERN int cw_call_log_request_fetch_next(cw_call_log_request *request, cw_page_cb cb,
					     void *arg);
CW_EXTERN int cw_call_log_request_fetch_next_sync(cw_call_log_request *request, int timeout_ms,
						  cw_call_page **pagep);
/* False once a fetch has returned the last page. */
CW_EXTERN bool cw_call_log_request_has_more(const cw_call_log_request *request);

/* ---- Media sessions ---------------------------------------------------------------- */

/*
 * A session is the media side of a call or of a meeting: the participants' audio (and
 * video) through the server's SFU. Joining needs a call token (cw_generate_call_token)
 * for the session id: the call's sessionId, or any other id for a meeting. The client's
 * network thread carries the media: ICE checks to the server, DTLS, SRTP and RTCP
 * (receiver and sender reports, NACK, PLI), Opus at 48 kHz in 20 ms frames.
 *
 * Audio is mono 16-bit PCM at 48 kHz. Every 20 ms the network thread asks the audio
 * source for CW_AUDIO_FRAME samples and hands each remote participant's decoded (or, for
 * a lost packet, concealed) frame to the audio sink, then their mix to the mix sink.
 * These callbacks run on the network thread: they must return quickly and must not
 * block (no `_sync` calls). A session's callbacks are not called after
 * cw_session_free returns (unless one is running at that moment on the network thread).
 */

#define CW_AUDIO_RATE 48000 /* Hz */
#define CW_AUDIO_FRAME 960  /* samples in one 20 ms frame */

typedef struct cw_session cw_session;
typedef struct cw_participant cw_participant;

/* The contract's session settings (docs/protocol.md). */
typedef struct cw_session_settings {
	bool audio_only;	 /* publish no video */
	bool start_audio_muted;	 /* join muted (cw_session_mute_audio later) */
	bool start_video_paused; /* join with video paused */
	const char *title;	 /* NULL: none; at most 200 characters */
	int idle_timeout;	 /* seconds 0..86400 for the session's first participant; -1:
				    the app's */
} cw_session_settings;

/* Audio only false, nothing muted, no title, the app's idle timeout. */
CW_EXTERN void cw_session_settings_init(cw_session_settings *settings);

/* Fills pcm with up to `samples` (CW_AUDIO_FRAME) samples and returns how many it wrote;
 * the rest of the frame is silence. A negative return says the source has ended: the
 * session sends silence from then on and the source is not asked again. */
typedef int (*cw_audio_source_cb)(cw_session *session, int16_t *pcm, size_t samples, void *arg);
/* One remote participant's 20 ms (participant_id), or the mix of all of them (NULL). */
typedef void (*cw_audio_sink_cb)(cw_session *session, const char *participant_id,
				 const int16_t *pcm, size_t samples, void *arg);

/*
 * Video is I420 (planar Y, then U and V at half the width and height; even sizes up to
 * 1920×1088), VP8 on the wire. With a video source set before the join (and the session
 * not audio-only), the client publishes a video track: every 1/fps s the network thread
 * asks the source for a picture and encodes it; a size change is followed. Each remote
 * participant's decoded pictures go to the video sink as they complete.
 */
typedef struct cw_video_frame {
	int width, height;	  /* pixels, even */
	const uint8_t *planes[3]; /* Y, U, V */
	int strides[3];		  /* bytes per row of each plane */
} cw_video_frame;

/* Points frame's planes at the next picture, which must stay valid until the source is
 * asked again (or the session is freed). Returns 0 for a new picture, 1 for none this
 * time (nothing is sent), a negative number when the source has ended (it is not asked
 * again). */
typedef int (*cw_video_source_cb)(cw_session *session, cw_video_frame *frame, void *arg);
/* One remote participant's decoded picture, borrowed for the call. */
typedef void (*cw_video_sink_cb)(cw_session *session, const char *participant_id,
				 const cw_video_frame *frame, void *arg);

typedef struct cw_video_options {
	int fps;	  /* pictures asked for per second, 1..60; 0: 30 */
	int bitrate_kbps; /* the encoder's target; 0: from the size and the rate */
} cw_video_options;

/* A participant as the server described it last. Borrowed in callbacks. */
CW_EXTERN const char *cw_participant_get_id(const cw_participant *p);
CW_EXTERN const char *cw_participant_get_uid(const cw_participant *p);
CW_EXTERN bool cw_participant_is_audio_muted(const cw_participant *p);
CW_EXTERN bool cw_participant_is_video_paused(const cw_participant *p);
CW_EXTERN int64_t cw_participant_get_joined_at(const cw_participant *p);

typedef struct cw_session_listener {
	void (*participant_joined)(cw_session *session, const cw_participant *p, void *arg);
	/* reason: "left", "disconnected" or "removed". */
	void (*participant_left)(cw_session *session, const cw_participant *p, const char *reason,
				 void *arg);
	/* Somebody joined or left; cw_session_get_participant_count tells how many. */
	void (*participant_list_changed)(cw_session *session, void *arg);
	/* kind: "audio" (muted) or "video" (paused). */
	void (*participant_muted)(cw_session *session, const cw_participant *p, const char *kind,
				  bool muted, void *arg);
	void (*dominant_speaker_changed)(cw_session *session, const cw_participant *p, void *arg);
	/* This client's media connection to the server stopped answering, and came back. */
	void (*connection_lost)(cw_session *session, void *arg);
	void (*connection_restored)(cw_session *session, void *arg);
	/* The session is over for this client: reason "idle_timeout", "call_ended", or
	 * "media_failed" (the media connection could not be made or was lost for 30 s). */
	void (*session_ended)(cw_session *session, const char *reason, void *arg);
	/* This participant is alone: the session ends at ends_at (Unix ms) unless someone
	 * joins. */
	void (*timeout_warning)(cw_session *session, int64_t ends_at, void *arg);
} cw_session_listener;

/* What the session carried so far. */
typedef struct cw_session_stats {
	uint64_t audio_packets_sent;
	uint64_t audio_packets_received; /* of every remote participant, decrypted */
	uint64_t frames_decoded;	 /* frames played from their own packet */
	uint64_t frames_fec;		 /* recovered from the next packet's FEC */
	uint64_t frames_concealed;	 /* made up by packet-loss concealment */
	uint64_t packets_late;		 /* arrived after their time to play */
	uint64_t nack_sent;		 /* NACK messages this client sent */
	uint64_t packets_recovered;	 /* missing packets that a NACK brought back */
	uint64_t packets_lost;		 /* missing packets that never came */
	uint64_t packets_retransmitted;	 /* packets this client sent again on NACK */
	uint64_t dropped_by_test;	 /* cw_session_set_receive_loss */
	int rtt_ms;			 /* to the server; -1 until known */
	uint64_t video_frames_sent;	 /* pictures encoded and sent */
	uint64_t video_keyframes_sent;
	uint64_t video_packets_sent;
	uint64_t video_packets_received;
	uint64_t video_frames_decoded;	     /* of every remote participant */
	uint64_t video_frames_dropped;	     /* incomplete or undecodable, waiting for a keyframe */
	uint64_t keyframes_requested;	     /* PLIs this client sent */
	uint64_t keyframe_requests_received; /* PLIs and FIRs for this client's video */
} cw_session_stats;

/* An async call token (cw_free it, or it is freed after the callback). */
typedef void (*cw_token_cb)(cw_client *client, int err, const char *message, const char *call_token,
			    void *arg);
/* Gets a call token admitting the logged-in user to session_id (REST, docs/api.md). */
CW_EXTERN int cw_generate_call_token(cw_client *client, const char *session_id, cw_token_cb cb,
				     void *arg);
/* *tokenp: the token, free with cw_free. */
CW_EXTERN int cw_generate_call_token_sync(cw_client *client, const char *session_id, int timeout_ms,
					  char **tokenp);

/* A session object for session_id, not joined yet. call_token: NULL to have the join
 * generate one. settings: NULL for the defaults. Set the source, sinks and listener
 * before joining. */
CW_EXTERN int cw_session_new(cw_session **sessionp, cw_client *client, const char *session_id,
			     const char *call_token, const cw_session_settings *settings);
/* Leaves (when joined) and frees; every resource is released. NULL is ignored. From
 * inside one of the session's callbacks the session is freed once the callback returns. */
CW_EXTERN void cw_session_free(cw_session *session);
CW_EXTERN const char *cw_session_get_id(const cw_session *session);
/* The participant id the server gave this client; NULL before the join succeeded. */
CW_EXTERN const char *cw_session_get_participant_id(const cw_session *session);
/* The listener struct is copied; NULL removes it. Before joining. */
CW_EXTERN int cw_session_set_listener(cw_session *session, const cw_session_listener *listener,
				      void *arg);
CW_EXTERN int cw_session_set_audio_source(cw_session *session, cw_audio_source_cb cb, void *arg);
CW_EXTERN int cw_session_set_audio_sink(cw_session *session, cw_audio_sink_cb cb, void *arg);
CW_EXTERN int cw_session_set_audio_mix_sink(cw_session *session, cw_audio_sink_cb cb, void *arg);
/* The camera (options: NULL for the defaults). Set before the join to publish video; once
 * joined it may be replaced (CW_ERR_INVALID_STATE when the join published no video), and
 * NULL stops sending pictures. */
CW_EXTERN int cw_session_set_video_source(cw_session *session, cw_video_source_cb cb, void *arg,
					  const cw_video_options *options);
CW_EXTERN int cw_session_set_video_sink(cw_session *session, cw_video_sink_cb cb, void *arg);

/* Joins: the call token, `session.join` with the publish offer, then the media
 * connections. cb runs when the join is answered: err 0 means joined (media connects in
 * the background; connection_lost fires if it cannot). CW_ERR_BUSY when joined or
 * joining. */
CW_EXTERN int cw_session_join(cw_session *session, cw_done_cb cb, void *arg);
/* timeout_ms bounds each of the join's requests (the call token, the join). */
CW_EXTERN int cw_session_join_sync(cw_session *session, int timeout_ms);
/* Leaves: `session.leave`, then the media connections close. The session may be joined
 * again afterwards. */
CW_EXTERN int cw_session_leave(cw_session *session, cw_done_cb cb, void *arg);
CW_EXTERN int cw_session_leave_sync(cw_session *session, int timeout_ms);
/* Mutes (no audio is sent, the others see `muted`) or unmutes. Before the join it sets
 * the state the join starts with. */
CW_EXTERN int cw_session_mute_audio(cw_session *session, bool muted);
/* Pauses or resumes video: CW_ERR_INVALID_STATE in an audio-only session. */
CW_EXTERN int cw_session_pause_video(cw_session *session, bool paused);
CW_EXTERN bool cw_session_is_joined(const cw_session *session);
CW_EXTERN size_t cw_session_get_participant_count(const cw_session *session);
CW_EXTERN int cw_session_get_stats(const cw_session *session, cw_session_stats *stats);
/* For tests: drops this share (per mille, 0..1000) of the media packets that arrive,
 * before the session looks at them, as a lossy network would. */
CW_EXTERN int cw_session_set_receive_loss(cw_session *session, unsigned per_mille);

/* ---- Audio helpers ----------------------------------------------------------------- */

/* A WAV file played as an audio source (PCM 8/16/24/32-bit or float, any channels, any
 * rate from 8 to 192 kHz: converted to 48 kHz mono at open). */
typedef struct cw_wav_source cw_wav_source;
/* loop: start again at the end instead of ending. CW_ERR_IO, CW_ERR_INVALID_ARGUMENT
 * (not a WAV file this reads; cw_last_error_message says why). */
CW_EXTERN int cw_wav_source_open(cw_wav_source **sourcep, const char *path, bool loop);
CW_EXTERN void cw_wav_source_free(cw_wav_source *source);
/* Its length in seconds. */
CW_EXTERN double cw_wav_source_duration(const cw_wav_source *source);
/* True once a source that does not loop has been played to its end. */
CW_EXTERN bool cw_wav_source_done(const cw_wav_source *source);
/* A cw_audio_source_cb: pass the cw_wav_source as arg. */
CW_EXTERN int cw_wav_source_cb(cw_session *session, int16_t *pcm, size_t samples, void *arg);

/* A 48 kHz mono 16-bit WAV file being recorded from an audio sink. */
typedef struct cw_wav_sink cw_wav_sink;
CW_EXTERN int cw_wav_sink_open(cw_wav_sink **sinkp, const char *path);
/* Completes the file (its header) and frees; CW_ERR_IO when writing failed. */
CW_EXTERN int cw_wav_sink_close(cw_wav_sink *sink);
/* Samples written so far. */
CW_EXTERN uint64_t cw_wav_sink_samples(const cw_wav_sink *sink);
/* A cw_audio_sink_cb (use it as the mix sink): pass the cw_wav_sink as arg. */
CW_EXTERN void cw_wav_sink_cb(cw_session *session, const char *participant_id, const int16_t *pcm,
			      size_t samples, void *arg);

/* A sine tone as an audio source (any frequency, continuous across frames and over hours):
 * arg points to a cw_tone the caller keeps. */
typedef struct cw_tone {
	double frequency;  /* Hz */
	double amplitude;  /* 0..1 of full scale */
	uint64_t position; /* samples played so far (start at 0) */
} cw_tone;
CW_EXTERN int cw_tone_source_cb(cw_session *session, int16_t *pcm, size_t samples, void *arg);

/* ---- Video helpers ----------------------------------------------------------------- */

/* A moving test picture as a video source: eight colour bars (white, yellow, cyan, green,
 * magenta, red, blue, black) over the top two thirds, and below them the picture's number
 * in 16 black or white blocks and a white square that moves one step each picture. */
typedef struct cw_test_pattern cw_test_pattern;
/* width and height: even, 64×64 up to 1920×1088. */
CW_EXTERN int cw_test_pattern_new(cw_test_pattern **patternp, int width, int height);
CW_EXTERN void cw_test_pattern_free(cw_test_pattern *pattern);
/* A cw_video_source_cb: pass the cw_test_pattern as arg. */
CW_EXTERN int cw_test_pattern_source_cb(cw_session *session, cw_video_frame *frame, void *arg);
/* Whether frame shows the test pattern (its bars within a codec's error), and then its
 * picture number (the low 16 bits). */
CW_EXTERN bool cw_test_pattern_read(const cw_video_frame *frame, uint32_t *number);

/* ---- The calling extension --------------------------------------------------------- */

/*
 * Ringing and media together: with the extension on, when a ringing call is accepted
 * (this user accepted with cw_accept_call, or the callee accepted this user's call),
 * the client makes a session for it and joins, unless `no_auto_join`; when the call ends
 * (either side hangs up, cw_end_call, or the session ends), the session is left and
 * freed. The app meets each session in `session_created`, where it sets the audio source
 * and sinks and the session listener.
 */
typedef struct cw_calling_options {
	bool no_auto_join;	      /* make nothing: the app joins sessions itself */
	cw_session_settings settings; /* for video calls; audio calls are audio-only */
	/* A session was made for the accepted call; it joins when this returns. */
	void (*session_created)(cw_client *client, cw_call *call, cw_session *session, void *arg);
	/* The join's outcome. */
	void (*session_joined)(cw_client *client, cw_session *session, int err, const char *message,
			       void *arg);
	/* The session is being left and freed (the call ended, or the session did). */
	void (*session_closed)(cw_client *client, cw_session *session, void *arg);
	void *arg;
} cw_calling_options;

/* Defaults: auto-join on, cw_session_settings_init, no callbacks. */
CW_EXTERN void cw_calling_options_init(cw_calling_options *options);
/* Turns the extension on with these options (copied; the title is copied too), or off
 * with NULL (sessions already made stay until their call ends). */
CW_EXTERN int cw_client_enable_calling(cw_client *client, const cw_calling_options *options);

#ifdef __cplusplus
}
#endif

#endif
