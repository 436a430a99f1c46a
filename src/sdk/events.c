/* events: the server's call events, as the call listener's callbacks. Network thread. */
#include <stdio.h>
#include <string.h>

#include "sdk.h"
#include "session.h"

enum slot {
	S_INCOMING,
	S_OUT_ACCEPTED,
	S_OUT_REJECTED,
	S_OUT_CANCELLED,
	S_IN_CANCELLED,
	S_ENDED,
	S_ACCEPTED_ELSEWHERE,
	S_REJECTED_ELSEWHERE,
	S_JOINED,
	S_LEFT,
	S_NONE
};

struct fire_ctx {
	enum slot slot;
	cw_call *call;
	const char *uid;
};

static void fire_call(cw_client *c, const struct cw__listener *l, void *p)
{
	const struct fire_ctx *f = p;
	const cw_call_listener *cl = &l->u.call;
	cw_call_event_cb cbs[] = {
		[S_INCOMING] = cl->incoming_call_received,
		[S_OUT_ACCEPTED] = cl->outgoing_call_accepted,
		[S_OUT_REJECTED] = cl->outgoing_call_rejected,
		[S_OUT_CANCELLED] = cl->outgoing_call_cancelled,
		[S_IN_CANCELLED] = cl->incoming_call_cancelled,
		[S_ENDED] = cl->call_ended,
		[S_ACCEPTED_ELSEWHERE] = cl->accepted_elsewhere,
		[S_REJECTED_ELSEWHERE] = cl->rejected_elsewhere,
	};

	if (f->slot == S_JOINED || f->slot == S_LEFT) {
		cw_participant_cb pcb =
			f->slot == S_JOINED ? cl->participant_joined : cl->participant_left;
		if (pcb)
			pcb(c, f->call, f->uid, l->arg);
	} else if (cbs[f->slot]) {
		cbs[f->slot](c, f->call, l->arg);
	}
}

void cw__remember_own(cw_client *c, const char *session_id)
{
	snprintf(c->own[c->own_next % CW__OWN_MAX], sizeof(c->own[0]), "%s", session_id);
	c->own_next++;
}

/* True (and forgotten) when this client itself answered session_id: it sent the answer,
 * and the answer came from its device (another device may have won the race). */
static bool take_own(cw_client *c, const char *session_id, const char *device)
{
	if (device && strcmp(device, c->device) != 0)
		return false;
	for (size_t i = 0; i < CW__OWN_MAX; i++) {
		if (strcmp(c->own[i], session_id) == 0) {
			c->own[i][0] = '\0';
			return true;
		}
	}
	return false;
}

/* The participant a joined/left event is about, for servers that do not name it: the
 * latest to reach that state. */
static const char *latest(const cw_call *call, cw_participant_state state)
{
	const struct cw__participant *best = NULL;

	for (size_t i = 0; i < call->n_parts; i++) {
		const struct cw__participant *p = &call->parts[i];
		int64_t t = state == CW_PARTICIPANT_ONGOING ? p->joined_at : p->left_at;
		if (p->state != state)
			continue;
		if (!best ||
		    t > (state == CW_PARTICIPANT_ONGOING ? best->joined_at : best->left_at))
			best = p;
	}
	return best ? best->uid : NULL;
}

static enum slot slot_of(cw_client *c, const struct cw__msg *msg, const char **uid)
{
	const char *name = msg->name;
	const cw_call *call = msg->call;
	bool initiator;

	cw__lock(c);
	initiator = c->user && strcmp(c->user->uid, call->initiator_uid) == 0;
	cw__unlock(c);
	if (strcmp(name, "call.incoming") == 0)
		return S_INCOMING;
	if (strcmp(name, "call.accepted") == 0)
		return S_OUT_ACCEPTED;
	if (strcmp(name, "call.rejected") == 0)
		return S_OUT_REJECTED;
	if (strcmp(name, "call.unanswered") == 0)
		return initiator ? S_OUT_REJECTED : S_IN_CANCELLED;
	if (strcmp(name, "call.cancelled") == 0)
		return initiator ? S_OUT_CANCELLED : S_IN_CANCELLED;
	if (strcmp(name, "call.ended") == 0)
		return S_ENDED;
	if (strcmp(name, "call.accepted_elsewhere") == 0)
		return take_own(c, call->session_id, msg->device) ? S_NONE : S_ACCEPTED_ELSEWHERE;
	if (strcmp(name, "call.rejected_elsewhere") == 0)
		return take_own(c, call->session_id, msg->device) ? S_NONE : S_REJECTED_ELSEWHERE;
	if (strcmp(name, "call.participant_joined") == 0) {
		*uid = msg->uid ? msg->uid : latest(call, CW_PARTICIPANT_ONGOING);
		return *uid ? S_JOINED : S_NONE;
	}
	if (strcmp(name, "call.participant_left") == 0) {
		*uid = msg->uid ? msg->uid : latest(call, CW_PARTICIPANT_LEFT);
		return *uid ? S_LEFT : S_NONE;
	}
	/* Events of later protocol versions. */
	return S_NONE;
}

void cw__dispatch_event(cw_client *c, const struct cw__msg *msg)
{
	struct fire_ctx f = {.call = msg->call};

	if (strncmp(msg->name, "session.", 8) == 0) {
		cw__session_event(c, msg);
		return;
	}
	if (!msg->call)
		return;
	f.slot = slot_of(c, msg, &f.uid);
	if (f.slot != S_NONE)
		cw__listeners_fire(c, CW__L_CALL, fire_call, &f);
	cw__calling_on_event(c, msg->name, msg->call);
}
