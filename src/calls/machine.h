/* machine: the call state machine. Pure: a call, an action, an actor and a time in; the
 * changed call and the events to send out. No I/O, no clock, no allocation but the
 * participant array and the effect list. */
#ifndef CW_CALL_MACHINE_H
#define CW_CALL_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define CW_SESSION_ID_MAX 64
#define CW_DEVICE_MAX 64

enum cw_call_status {
	CW_CALL_INITIATED,
	CW_CALL_ONGOING,
	CW_CALL_ENDED,
	CW_CALL_REJECTED,
	CW_CALL_CANCELLED,
	CW_CALL_BUSY,
	CW_CALL_UNANSWERED,
};

enum cw_part_state {
	CW_PART_RINGING,
	CW_PART_ONGOING,
	CW_PART_LEFT,
	CW_PART_REJECTED,
	CW_PART_BUSY,
	CW_PART_UNANSWERED,
	CW_PART_CANCELLED,
};

enum cw_call_type { CW_CALL_AUDIO, CW_CALL_VIDEO };
enum cw_receiver_type { CW_RECEIVER_USER, CW_RECEIVER_GROUP };
enum cw_call_category { CW_CATEGORY_CALL, CW_CATEGORY_MEET };

/* Event names of the contract. */
enum cw_event {
	CW_EV_INCOMING,		  /* call.incoming */
	CW_EV_ACCEPTED,		  /* call.accepted */
	CW_EV_REJECTED,		  /* call.rejected (also carries busy) */
	CW_EV_CANCELLED,	  /* call.cancelled */
	CW_EV_UNANSWERED,	  /* call.unanswered */
	CW_EV_ENDED,		  /* call.ended */
	CW_EV_ACCEPTED_ELSEWHERE, /* call.accepted_elsewhere */
	CW_EV_REJECTED_ELSEWHERE, /* call.rejected_elsewhere */
	CW_EV_PARTICIPANT_JOINED, /* call.participant_joined */
	CW_EV_PARTICIPANT_LEFT,	  /* call.participant_left */
};

struct cw_participant {
	char uid[CW_UID_MAX + 1];
	enum cw_part_state state;
	bool initiator;
	/* The device (a hash of its auth token) that accepted or initiated, or "". */
	char device[CW_DEVICE_MAX + 1];
	int64_t joined_at; /* Unix ms of the latest join, 0 = never */
	int64_t left_at;   /* Unix ms of the latest leave, 0 = not left */
	int64_t time_in;   /* ms spent in the call over all completed stays */
};

struct cw_call {
	char session_id[CW_SESSION_ID_MAX + 1];
	enum cw_call_category category;
	enum cw_call_type type;
	enum cw_receiver_type receiver_type;
	char initiator[CW_UID_MAX + 1];
	char receiver[CW_UID_MAX + 1]; /* uid or guid */
	enum cw_call_status status;
	int64_t initiated_at;
	int64_t joined_at;     /* first accept, 0 = never */
	int64_t ended_at;      /* 0 while initiated or ongoing */
	int64_t ring_deadline; /* when ringing members become unanswered */
	/* participants[0] is the initiator; then the receivers, in uid order for groups. */
	struct cw_participant *participants;
	size_t n_participants;
};

enum cw_action {
	CW_ACT_ACCEPT,	   /* a receiver's device accepts */
	CW_ACT_REJECT,	   /* a receiver declines */
	CW_ACT_BUSY,	   /* a receiver declines as busy (also the server's autoBusy) */
	CW_ACT_CANCEL,	   /* the initiator cancels while initiated */
	CW_ACT_END,	   /* a participant hangs up (group: leaves) */
	CW_ACT_END_ALL,	   /* the initiator ends a group call for everyone */
	CW_ACT_TIMEOUT,	   /* the ring deadline passed; actor is NULL */
	CW_ACT_DISCONNECT, /* the actor's reconnect grace ran out with no connection */
};

/* A request to start a call, as the REST body and the WebSocket params give it. */
struct cw_initiate {
	const char *receiver; /* uid or guid */
	enum cw_receiver_type receiver_type;
	enum cw_call_type type;
	int timeout;	/* ring timeout in seconds, 0 = the app's ringTimeout */
	char *metadata; /* JSON object text or NULL */
};

/* One event for one user (to all of that user's devices). */
struct cw_effect {
	char uid[CW_UID_MAX + 1];
	enum cw_event event;
};

struct cw_effects {
	struct cw_effect *list;
	size_t n, cap;
};

/* Results of cw_call_apply besides 0 (changed). */
#define CW_CALL_SAME 1 /* a repeat of the action that made the current state: no change */

/* Creates a call in `initiated` with participants[0] = initiator (state ongoing,
 * device initiator_device) and one ringing participant per receiver uid (1 for a user
 * call; the group's members minus the initiator for a group call, at least 1).
 * ring_deadline = now + ring_timeout_s * 1000. Adds call.incoming for every receiver.
 * Returns 0, -EINVAL (no receiver, or the initiator among them for a user call) or
 * -ENOMEM. */
int cw_call_init(struct cw_call *call, const char *session_id, enum cw_call_type type,
		 enum cw_receiver_type receiver_type, const char *initiator,
		 const char *initiator_device, const char *receiver,
		 const char (*receivers)[CW_UID_MAX + 1], size_t n_receivers, int ring_timeout_s,
		 int64_t now, struct cw_effects *fx);

/* Applies action by actor (uid; device: the acting device or "", for ACCEPT the one that
 * wins) at now. On 0 the call has changed and fx holds the events to send; otherwise the
 * call and fx are untouched. Returns:
 *   0              changed
 *   CW_CALL_SAME   an idempotent repeat by the same user (and, for ACCEPT, the same device)
 *   -ENOENT        actor is not a participant
 *   -EPERM         actor may not take this action (e.g. a receiver cancels)
 *   -EALREADY      the action is not allowed in the current state (409 ERR_INVALID_STATE)
 *   -ENOMEM
 */
int cw_call_apply(struct cw_call *call, enum cw_action action, const char *actor,
		  const char *device, int64_t now, struct cw_effects *fx);

/* The participant record of uid, or NULL. */
struct cw_participant *cw_call_participant(const struct cw_call *call, const char *uid);

/* True while initiated or ongoing. */
bool cw_call_active(const struct cw_call *call);

/* Whether uid is in the call in a way that makes them busy for other calls: ongoing in an
 * active call (the initiator is ongoing from the start until they cancel or leave). */
bool cw_call_engages(const struct cw_call *call, const char *uid);

/* Call duration in ms (joined_at to ended_at or now), and a participant's time in the
 * call including a stay still running at now. */
int64_t cw_call_duration(const struct cw_call *call, int64_t now);
int64_t cw_participant_duration(const struct cw_participant *p, int64_t now);

const char *cw_call_status_name(enum cw_call_status s);
const char *cw_part_state_name(enum cw_part_state s);
const char *cw_event_name(enum cw_event e);
/* Parse names; return -EINVAL when unknown. */
int cw_call_status_parse(const char *name, enum cw_call_status *out);
int cw_part_state_parse(const char *name, enum cw_part_state *out);

/* Deep copy (participants duplicated) and release. */
int cw_call_copy(struct cw_call *dst, const struct cw_call *src);
void cw_call_free(struct cw_call *call);

void cw_effects_reset(struct cw_effects *fx);
void cw_effects_free(struct cw_effects *fx);

#endif
