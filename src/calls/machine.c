/* machine: the call state machine of the contract's "Calls" and "State rules". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/machine.h"

static const char *const status_names[] = {
	[CW_CALL_INITIATED] = "initiated",   [CW_CALL_ONGOING] = "ongoing",
	[CW_CALL_ENDED] = "ended",	     [CW_CALL_REJECTED] = "rejected",
	[CW_CALL_CANCELLED] = "cancelled",   [CW_CALL_BUSY] = "busy",
	[CW_CALL_UNANSWERED] = "unanswered",
};

static const char *const state_names[] = {
	[CW_PART_RINGING] = "ringing",	   [CW_PART_ONGOING] = "ongoing",
	[CW_PART_LEFT] = "left",	   [CW_PART_REJECTED] = "rejected",
	[CW_PART_BUSY] = "busy",	   [CW_PART_UNANSWERED] = "unanswered",
	[CW_PART_CANCELLED] = "cancelled",
};

static const char *const event_names[] = {
	[CW_EV_INCOMING] = "call.incoming",
	[CW_EV_ACCEPTED] = "call.accepted",
	[CW_EV_REJECTED] = "call.rejected",
	[CW_EV_CANCELLED] = "call.cancelled",
	[CW_EV_UNANSWERED] = "call.unanswered",
	[CW_EV_ENDED] = "call.ended",
	[CW_EV_ACCEPTED_ELSEWHERE] = "call.accepted_elsewhere",
	[CW_EV_REJECTED_ELSEWHERE] = "call.rejected_elsewhere",
	[CW_EV_PARTICIPANT_JOINED] = "call.participant_joined",
	[CW_EV_PARTICIPANT_LEFT] = "call.participant_left",
};

/* One cw_call_apply in progress. Every handler checks first and mutates only after
 * step_ready() succeeded, so a refused or failed step leaves call and fx as they were. */
struct step {
	struct cw_call *call;
	struct cw_participant *actor; /* NULL for TIMEOUT */
	const char *device;
	int64_t now;
	struct cw_effects *fx;
	size_t fx_start; /* effects before this index belong to earlier steps */
};

/* An effect list grows only here; realloc failing leaves it as it was. */
static int fx_reserve(struct cw_effects *fx, size_t extra)
{
	struct cw_effect *list;
	size_t need, cap;

	if (!fx)
		return 0;
	if (extra > SIZE_MAX - fx->n)
		return -ENOMEM;
	need = fx->n + extra;
	if (need <= fx->cap)
		return 0;
	cap = fx->cap ? fx->cap : 8;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > SIZE_MAX / sizeof(*list))
		return -ENOMEM;
	list = realloc(fx->list, cap * sizeof(*list));
	if (!list)
		return -ENOMEM;
	fx->list = list;
	fx->cap = cap;
	return 0;
}

/* Adds (uid, ev) unless this step already did. Room was reserved beforehand; the bound
 * check only keeps a logic error from writing out of bounds. */
static void fx_add(struct cw_effects *fx, size_t start, const char *uid, enum cw_event ev)
{
	if (!fx)
		return;
	for (size_t i = start; i < fx->n; i++) {
		if (fx->list[i].event == ev && strcmp(fx->list[i].uid, uid) == 0)
			return;
	}
	if (fx->n >= fx->cap)
		return;
	/* Whole entries are written, so two equal effect lists are equal byte for byte. */
	memset(&fx->list[fx->n], 0, sizeof(fx->list[fx->n]));
	cw_strlcpy(fx->list[fx->n].uid, uid, sizeof(fx->list[fx->n].uid));
	fx->list[fx->n].event = ev;
	fx->n++;
}

static void emit(struct step *s, const struct cw_participant *p, enum cw_event ev)
{
	fx_add(s->fx, s->fx_start, p->uid, ev);
}

/* A step sends each participant at most two events (the actor's *_elsewhere and one
 * about the call), so twice the participant count is always enough room. */
static int step_ready(struct step *s)
{
	if (s->call->n_participants > SIZE_MAX / 2)
		return -ENOMEM;
	return fx_reserve(s->fx, 2 * s->call->n_participants);
}

static bool is_group(const struct cw_call *call)
{
	return call->receiver_type == CW_RECEIVER_GROUP;
}

static bool any_in_state(const struct cw_call *call, enum cw_part_state state)
{
	for (size_t i = 0; i < call->n_participants; i++) {
		if (call->participants[i].state == state)
			return true;
	}
	return false;
}

/* Ends a stay; the initiator of a call nobody joined has joined_at 0 and gains no time. */
static void leave(struct cw_participant *p, int64_t now)
{
	p->state = CW_PART_LEFT;
	p->left_at = now;
	if (p->joined_at)
		p->time_in += now - p->joined_at;
}

/* An ongoing call ends for everyone: who is in leaves, who still rings is cancelled. */
static void end_for_all(struct step *s)
{
	struct cw_call *call = s->call;

	call->status = CW_CALL_ENDED;
	call->ended_at = s->now;
	for (size_t i = 0; i < call->n_participants; i++) {
		struct cw_participant *p = &call->participants[i];

		if (p->state == CW_PART_ONGOING)
			leave(p, s->now);
		else if (p->state == CW_PART_RINGING)
			p->state = CW_PART_CANCELLED;
		emit(s, p, CW_EV_ENDED);
	}
}

static int do_accept(struct step *s)
{
	struct cw_call *call = s->call;
	struct cw_participant *a = s->actor;
	bool first;
	int rc;

	if (a->initiator)
		return -EPERM;
	if (!cw_call_active(call))
		return -EALREADY;
	if (a->state == CW_PART_ONGOING)
		return strcmp(a->device, s->device) == 0 ? CW_CALL_SAME : -EALREADY;
	/* 1:1: the first accepting device wins. A group member may join late or rejoin from
	 * any other state while the call is active. */
	if (!is_group(call) && a->state != CW_PART_RINGING)
		return -EALREADY;
	rc = step_ready(s);
	if (rc)
		return rc;

	first = call->status == CW_CALL_INITIATED;
	if (!first) {
		for (size_t i = 0; i < call->n_participants; i++) {
			if (call->participants[i].state == CW_PART_ONGOING)
				emit(s, &call->participants[i], CW_EV_PARTICIPANT_JOINED);
		}
	}
	a->state = CW_PART_ONGOING;
	cw_strlcpy(a->device, s->device, sizeof(a->device));
	a->joined_at = s->now;
	a->left_at = 0;
	if (first) {
		call->status = CW_CALL_ONGOING;
		call->joined_at = s->now;
		call->participants[0].joined_at = s->now;
		emit(s, &call->participants[0], CW_EV_ACCEPTED);
	}
	/* Sent to the actor's user so that their other devices stop ringing. */
	emit(s, a, CW_EV_ACCEPTED_ELSEWHERE);
	return 0;
}

/* The outcome of a group call whose last ringing member declined before anyone joined. */
static void group_declined(struct step *s)
{
	struct cw_call *call = s->call;
	bool all_busy = true, all_declined = true;

	for (size_t i = 1; i < call->n_participants; i++) {
		enum cw_part_state st = call->participants[i].state;

		if (st != CW_PART_BUSY)
			all_busy = false;
		if (st != CW_PART_BUSY && st != CW_PART_REJECTED)
			all_declined = false;
	}
	if (all_busy)
		call->status = CW_CALL_BUSY;
	else if (all_declined)
		call->status = CW_CALL_REJECTED;
	else
		call->status = CW_CALL_UNANSWERED;
	call->ended_at = s->now;
	leave(&call->participants[0], s->now);
	emit(s, &call->participants[0],
	     call->status == CW_CALL_UNANSWERED ? CW_EV_UNANSWERED : CW_EV_REJECTED);
}

static int do_decline(struct step *s, enum cw_part_state to)
{
	struct cw_call *call = s->call;
	struct cw_participant *a = s->actor;
	enum cw_part_state other = to == CW_PART_REJECTED ? CW_PART_BUSY : CW_PART_REJECTED;
	int rc;

	if (a->initiator)
		return -EPERM;
	/* A retry is safe even after the decline ended the call. */
	if (a->state == to)
		return CW_CALL_SAME;
	if (a->state == CW_PART_ONGOING || a->state == CW_PART_LEFT || a->state == other)
		return -EALREADY;
	if (!cw_call_active(call))
		return -EALREADY;
	if (a->state != CW_PART_RINGING && !(is_group(call) && a->state == CW_PART_UNANSWERED))
		return -EALREADY;
	rc = step_ready(s);
	if (rc)
		return rc;

	a->state = to;
	emit(s, a, CW_EV_REJECTED_ELSEWHERE);
	if (!is_group(call)) {
		call->status = to == CW_PART_REJECTED ? CW_CALL_REJECTED : CW_CALL_BUSY;
		call->ended_at = s->now;
		leave(&call->participants[0], s->now);
		emit(s, &call->participants[0], CW_EV_REJECTED);
	} else if (call->status == CW_CALL_INITIATED && !any_in_state(call, CW_PART_RINGING)) {
		group_declined(s);
	}
	return 0;
}

static int do_cancel(struct step *s)
{
	struct cw_call *call = s->call;
	struct cw_participant *a = s->actor;
	int rc;

	if (!a->initiator)
		return -EPERM;
	if (call->status == CW_CALL_CANCELLED)
		return CW_CALL_SAME;
	if (call->status != CW_CALL_INITIATED)
		return -EALREADY;
	rc = step_ready(s);
	if (rc)
		return rc;

	call->status = CW_CALL_CANCELLED;
	call->ended_at = s->now;
	a->state = CW_PART_CANCELLED;
	a->left_at = s->now;
	emit(s, a, CW_EV_CANCELLED);
	for (size_t i = 1; i < call->n_participants; i++) {
		struct cw_participant *p = &call->participants[i];

		if (p->state == CW_PART_RINGING) {
			p->state = CW_PART_CANCELLED;
			emit(s, p, CW_EV_CANCELLED);
		}
	}
	return 0;
}

static int do_end(struct step *s)
{
	struct cw_call *call = s->call;
	struct cw_participant *a = s->actor;
	int rc;

	if (call->status == CW_CALL_INITIATED)
		return -EALREADY;
	/* Hanging up again is a retry only for someone who could hang up in the first place. */
	if (call->status == CW_CALL_ENDED)
		return a->initiator || a->joined_at ? CW_CALL_SAME : -EALREADY;
	if (call->status != CW_CALL_ONGOING)
		return -EALREADY;
	if (is_group(call) && a->state == CW_PART_LEFT)
		return CW_CALL_SAME;
	if (a->state != CW_PART_ONGOING)
		return -EALREADY;
	rc = step_ready(s);
	if (rc)
		return rc;

	/* In a 1:1 call either participant leaving ends it. */
	if (!is_group(call)) {
		end_for_all(s);
		return 0;
	}
	leave(a, s->now);
	for (size_t i = 0; i < call->n_participants; i++) {
		if (call->participants[i].state == CW_PART_ONGOING)
			emit(s, &call->participants[i], CW_EV_PARTICIPANT_LEFT);
	}
	if (!any_in_state(call, CW_PART_ONGOING))
		end_for_all(s);
	return 0;
}

static int do_end_all(struct step *s)
{
	struct cw_call *call = s->call;
	int rc;

	if (!is_group(call))
		return do_end(s);
	if (!s->actor->initiator)
		return -EPERM;
	if (call->status == CW_CALL_ENDED)
		return CW_CALL_SAME;
	if (call->status != CW_CALL_ONGOING)
		return -EALREADY;
	rc = step_ready(s);
	if (rc)
		return rc;
	end_for_all(s);
	return 0;
}

static int do_timeout(struct step *s)
{
	struct cw_call *call = s->call;
	int rc;

	if (s->now < call->ring_deadline)
		return CW_CALL_SAME;
	if (call->status != CW_CALL_INITIATED &&
	    !(call->status == CW_CALL_ONGOING && any_in_state(call, CW_PART_RINGING)))
		return CW_CALL_SAME;
	rc = step_ready(s);
	if (rc)
		return rc;

	for (size_t i = 1; i < call->n_participants; i++) {
		struct cw_participant *p = &call->participants[i];

		if (p->state == CW_PART_RINGING) {
			p->state = CW_PART_UNANSWERED;
			emit(s, p, CW_EV_UNANSWERED);
		}
	}
	/* An ongoing group call goes on without those who never answered. */
	if (call->status == CW_CALL_INITIATED) {
		call->status = CW_CALL_UNANSWERED;
		call->ended_at = s->now;
		leave(&call->participants[0], s->now);
		emit(s, &call->participants[0], CW_EV_UNANSWERED);
	}
	return 0;
}

/* The reconnect grace ran out. A ringing receiver keeps ringing: a push may be waking
 * that phone, and the ring timeout ends it anyway. */
static int do_disconnect(struct step *s)
{
	if (s->actor->initiator && s->call->status == CW_CALL_INITIATED)
		return do_cancel(s);
	if (s->actor->state == CW_PART_ONGOING && s->call->status == CW_CALL_ONGOING)
		return do_end(s);
	return CW_CALL_SAME;
}

int cw_call_apply(struct cw_call *call, enum cw_action action, const char *actor,
		  const char *device, int64_t now, struct cw_effects *fx)
{
	struct step s = {
		.call = call,
		.device = device ? device : "",
		.now = now,
		.fx = fx,
		.fx_start = fx ? fx->n : 0,
	};

	if (!call || strlen(s.device) > CW_DEVICE_MAX)
		return -EINVAL;
	if (action != CW_ACT_TIMEOUT) {
		s.actor = cw_call_participant(call, actor);
		if (!s.actor)
			return -ENOENT;
	}
	switch (action) {
	case CW_ACT_ACCEPT:
		return do_accept(&s);
	case CW_ACT_REJECT:
		return do_decline(&s, CW_PART_REJECTED);
	case CW_ACT_BUSY:
		return do_decline(&s, CW_PART_BUSY);
	case CW_ACT_CANCEL:
		return do_cancel(&s);
	case CW_ACT_END:
		return do_end(&s);
	case CW_ACT_END_ALL:
		return do_end_all(&s);
	case CW_ACT_TIMEOUT:
		return do_timeout(&s);
	case CW_ACT_DISCONNECT:
		return do_disconnect(&s);
	}
	return -EINVAL;
}

/* An identifier of 1..max characters; receivers come as fixed arrays, hence strnlen. */
static bool id_ok(const char *id, size_t max)
{
	size_t len;

	if (!id)
		return false;
	len = strnlen(id, max + 1);
	return len >= 1 && len <= max;
}

static int cmp_uid(const void *a, const void *b)
{
	const struct cw_participant *pa = a, *pb = b;

	return strcmp(pa->uid, pb->uid);
}

static int check_init(const char *session_id, enum cw_receiver_type receiver_type,
		      const char *initiator, const char *initiator_device, const char *receiver,
		      const char (*receivers)[CW_UID_MAX + 1], size_t n_receivers)
{
	if (!id_ok(session_id, CW_SESSION_ID_MAX) || !id_ok(initiator, CW_UID_MAX) ||
	    !id_ok(receiver, CW_UID_MAX))
		return -EINVAL;
	if (initiator_device && strlen(initiator_device) > CW_DEVICE_MAX)
		return -EINVAL;
	if (receiver_type != CW_RECEIVER_USER && receiver_type != CW_RECEIVER_GROUP)
		return -EINVAL;
	if (!receivers || n_receivers == 0)
		return -EINVAL;
	for (size_t i = 0; i < n_receivers; i++) {
		if (!id_ok(receivers[i], CW_UID_MAX))
			return -EINVAL;
	}
	if (receiver_type == CW_RECEIVER_USER &&
	    (n_receivers != 1 || strcmp(receivers[0], receiver) != 0 ||
	     strcmp(receiver, initiator) == 0))
		return -EINVAL;
	return 0;
}

int cw_call_init(struct cw_call *call, const char *session_id, enum cw_call_type type,
		 enum cw_receiver_type receiver_type, const char *initiator,
		 const char *initiator_device, const char *receiver,
		 const char (*receivers)[CW_UID_MAX + 1], size_t n_receivers, int ring_timeout_s,
		 int64_t now, struct cw_effects *fx)
{
	struct cw_participant *parts = NULL;
	struct cw_call c = {0};
	size_t n = 1, fx_start = fx ? fx->n : 0;
	int rc;

	if (!call)
		return -EINVAL;
	rc = check_init(session_id, receiver_type, initiator, initiator_device, receiver, receivers,
			n_receivers);
	if (rc)
		return rc;
	if (n_receivers >= SIZE_MAX / sizeof(*parts))
		return -ENOMEM;
	parts = calloc(n_receivers + 1, sizeof(*parts));
	if (!parts)
		return -ENOMEM;

	cw_strlcpy(parts[0].uid, initiator, sizeof(parts[0].uid));
	parts[0].state = CW_PART_ONGOING;
	parts[0].initiator = true;
	cw_strlcpy(parts[0].device, initiator_device ? initiator_device : "",
		   sizeof(parts[0].device));
	for (size_t i = 0; i < n_receivers; i++) {
		if (strcmp(receivers[i], initiator) == 0)
			continue;
		cw_strlcpy(parts[n].uid, receivers[i], sizeof(parts[n].uid));
		parts[n].state = CW_PART_RINGING;
		n++;
	}
	if (receiver_type == CW_RECEIVER_GROUP && n > 1) {
		size_t kept = 2;

		qsort(parts + 1, n - 1, sizeof(*parts), cmp_uid);
		for (size_t i = 2; i < n; i++) {
			if (strcmp(parts[i].uid, parts[kept - 1].uid) != 0)
				parts[kept++] = parts[i];
		}
		n = kept;
	}
	if (n == 1) {
		rc = -EINVAL;
		goto out;
	}
	rc = fx_reserve(fx, n - 1);
	if (rc)
		goto out;

	cw_strlcpy(c.session_id, session_id, sizeof(c.session_id));
	c.category = CW_CATEGORY_CALL;
	c.type = type;
	c.receiver_type = receiver_type;
	cw_strlcpy(c.initiator, initiator, sizeof(c.initiator));
	cw_strlcpy(c.receiver, receiver, sizeof(c.receiver));
	c.status = CW_CALL_INITIATED;
	c.initiated_at = now;
	c.ring_deadline = now + (int64_t)ring_timeout_s * 1000;
	c.participants = parts;
	c.n_participants = n;
	for (size_t i = 1; i < n; i++)
		fx_add(fx, fx_start, parts[i].uid, CW_EV_INCOMING);
	*call = c;
	parts = NULL;
out:
	free(parts);
	return rc;
}

struct cw_participant *cw_call_participant(const struct cw_call *call, const char *uid)
{
	if (!call || !uid)
		return NULL;
	for (size_t i = 0; i < call->n_participants; i++) {
		if (strcmp(call->participants[i].uid, uid) == 0)
			return &call->participants[i];
	}
	return NULL;
}

bool cw_call_active(const struct cw_call *call)
{
	return call->status == CW_CALL_INITIATED || call->status == CW_CALL_ONGOING;
}

bool cw_call_engages(const struct cw_call *call, const char *uid)
{
	const struct cw_participant *p;

	/* The initiator is ongoing from the start, so this covers them too, and stops
	 * covering them once they have left a group call that goes on without them. */
	if (!uid || !cw_call_active(call))
		return false;
	p = cw_call_participant(call, uid);
	return p && p->state == CW_PART_ONGOING;
}

int64_t cw_call_duration(const struct cw_call *call, int64_t now)
{
	if (!call->joined_at)
		return 0;
	return (call->ended_at ? call->ended_at : now) - call->joined_at;
}

int64_t cw_participant_duration(const struct cw_participant *p, int64_t now)
{
	return p->time_in + (p->state == CW_PART_ONGOING && p->joined_at ? now - p->joined_at : 0);
}

static const char *name_of(const char *const *names, size_t count, unsigned v)
{
	return v < count ? names[v] : NULL;
}

static int parse_name(const char *const *names, size_t count, const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(names[i], name) == 0)
			return (int)i;
	}
	return -EINVAL;
}

const char *cw_call_status_name(enum cw_call_status s)
{
	return name_of(status_names, CW_ARRAY_SIZE(status_names), (unsigned)s);
}

const char *cw_part_state_name(enum cw_part_state s)
{
	return name_of(state_names, CW_ARRAY_SIZE(state_names), (unsigned)s);
}

const char *cw_event_name(enum cw_event e)
{
	return name_of(event_names, CW_ARRAY_SIZE(event_names), (unsigned)e);
}

int cw_call_status_parse(const char *name, enum cw_call_status *out)
{
	int v = parse_name(status_names, CW_ARRAY_SIZE(status_names), name);

	if (v < 0)
		return v;
	*out = (enum cw_call_status)v;
	return 0;
}

int cw_part_state_parse(const char *name, enum cw_part_state *out)
{
	int v = parse_name(state_names, CW_ARRAY_SIZE(state_names), name);

	if (v < 0)
		return v;
	*out = (enum cw_part_state)v;
	return 0;
}

int cw_call_copy(struct cw_call *dst, const struct cw_call *src)
{
	struct cw_participant *parts = NULL;
	size_t n = src->n_participants;

	if (n) {
		if (n > SIZE_MAX / sizeof(*parts))
			return -ENOMEM;
		parts = malloc(n * sizeof(*parts));
		if (!parts)
			return -ENOMEM;
		memcpy(parts, src->participants, n * sizeof(*parts));
	}
	memcpy(dst, src, sizeof(*dst));
	dst->participants = parts;
	return 0;
}

void cw_call_free(struct cw_call *call)
{
	if (!call)
		return;
	free(call->participants);
	call->participants = NULL;
	call->n_participants = 0;
}

void cw_effects_reset(struct cw_effects *fx)
{
	if (fx)
		fx->n = 0;
}

void cw_effects_free(struct cw_effects *fx)
{
	if (!fx)
		return;
	free(fx->list);
	fx->list = NULL;
	fx->n = 0;
	fx->cap = 0;
}
