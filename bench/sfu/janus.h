/* janus: a blocking client of Janus's HTTP API (the VideoRoom plugin), for the benchmark's
 * generator. One Janus session; every call waits for its answer. Not thread-safe.
 *
 * Every request and every wait for an event has a deadline (10 s, janus_set_deadline): no
 * call hangs. Janus's events come over one long poll (GET base/<session>?maxev=100) that is
 * kept in flight between calls and never abandoned: Janus's HTTP transport hands the next
 * events to a parked long poll even after its client gave up on it (the connection is
 * suspended, so it does not notice), so a long poll cut short by a client timeout would
 * lose them. janus_poll(j, timeout_ms) therefore waits on that one long poll, never on a
 * new one. */
#ifndef BENCH_JANUS_H
#define BENCH_JANUS_H

#include <stddef.h>
#include <stdint.h>

struct janus;
/* base: "http://10.77.0.1:8088/janus". Creates the Janus session. NULL on failure, with a
 * message in err. */
struct janus *janus_open(const char *base, char *err, size_t errlen);
void janus_close(struct janus *j); /* destroys the session (detaches handles), frees */
/* Creates VideoRoom room `room` (not permanent) allowing up to max_publishers, audio opus,
 * video vp8, no recording, no notify_joining overhead beyond defaults; bitrate 0 (no REMB cap)
 * or as large as allowed. 0 or -1 (message in err). */
int janus_room_create(struct janus *j, uint64_t room, int max_publishers, char *err, size_t errlen);
/* Attaches a handle, joins `room` as publisher with id `feed` and display name, then
 * publishes with the SDP offer (jsep {type:offer, sdp}; body {request:"publish", audio/video as
 * offered}). *answer gets the JSEP answer's SDP (malloc'd; the caller frees); *handle the
 * handle id. Waits for the asynchronous event carrying the answer (long poll on
 * GET base/<session>?maxev=…, events of other handles are queued, not lost). */
int janus_publish(struct janus *j, uint64_t room, uint64_t feed, const char *display,
		  const char *offer, char **answer, uint64_t *handle, char *err, size_t errlen);
/* Attaches a handle and joins `room` as a subscriber to all streams of the n feeds (Janus
 * 1.x multistream: streams:[{feed}, …]). *offer gets Janus's JSEP offer SDP (malloc'd);
 * *handle the handle id. */
int janus_subscribe(struct janus *j, uint64_t room, const uint64_t *feeds, int n, char **offer,
		    uint64_t *handle, char *err, size_t errlen);
/* Sends {request:"start"} with the JSEP answer on a subscriber handle; waits for "started". */
int janus_start(struct janus *j, uint64_t handle, const char *answer, char *err, size_t errlen);
/* Detaches one handle (hangs up its PeerConnection). */
int janus_detach(struct janus *j, uint64_t handle, char *err, size_t errlen);
/* Sends a keepalive for the session (the generator calls it now and then). */
int janus_keepalive(struct janus *j, char *err, size_t errlen);
/* Events that arrived for handles but were not the answer to a call (e.g. "webrtcup",
 * "media", "hangup", "slowlink"): counts by kind, for the report. */
struct janus_counts {
	unsigned webrtcup, media, hangup, slowlink, other;
};
void janus_counts(const struct janus *j, struct janus_counts *c);
/* Processes pending events without blocking long: waits up to timeout_ms for the long
 * poll's next batch (returning as soon as one was processed). The number of events
 * processed, or -1 when the long poll keeps failing (janus_error says why). */
int janus_poll(struct janus *j, int timeout_ms);

/* Additions. */

/* One event that was not the answer to a call, as janus_counts counted it. */
struct janus_event {
	uint64_t handle; /* its sender (0: the session itself, e.g. "timeout") */
	char kind[16];	 /* "webrtcup", "media", "hangup", "slowlink", "detached", "event", … */
	int receiving;	 /* "media": 1 media started, 0 stopped; otherwise -1 */
	char mid[8];	 /* "media": the m-line's mid; otherwise "" */
};
/* Takes the oldest queued event: 1, or 0 when there is none. The queue keeps the newest
 * JANUS_EVENT_QUEUE events; older ones are dropped (janus_events_dropped counts them). */
#define JANUS_EVENT_QUEUE 4096
int janus_next_event(struct janus *j, struct janus_event *ev);
unsigned long janus_events_dropped(const struct janus *j);
/* The deadline of each request and of each wait for an event, in ms (default 10,000). */
void janus_set_deadline(struct janus *j, int ms);
/* The session's id, and why the long poll last failed ("" if it has not). */
uint64_t janus_session(const struct janus *j);
const char *janus_error(const struct janus *j);

#endif
