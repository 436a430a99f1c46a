/* room: membership, mute state and the idle timeout of one media session, as effects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session/room.h"

static const char *const event_names[] = {
	[CW_ROOM_JOINED] = "session.participant_joined",
	[CW_ROOM_LEFT] = "session.participant_left",
	[CW_ROOM_MUTED] = "session.muted",
	[CW_ROOM_UNMUTED] = "session.unmuted",
	[CW_ROOM_TIMEOUT_WARN] = "session.timeout_warning",
	[CW_ROOM_ENDED] = "session.ended",
};

const char *cw_room_event_name(enum cw_room_event e)
{
	return (unsigned)e < CW_ARRAY_SIZE(event_names) ? event_names[e] : "";
}

void cw_room_init(struct cw_room *r, bool audio_only, int max_participants, int64_t idle_timeout_ms)
{
	memset(r, 0, sizeof(*r));
	r->audio_only = audio_only;
	r->max_participants = max_participants > 0 ? max_participants : 1;
	r->idle_timeout = idle_timeout_ms > 0 ? idle_timeout_ms : 0;
}

void cw_room_free(struct cw_room *r)
{
	free(r->parts);
	memset(r, 0, sizeof(*r));
}

void cw_room_effects_free(struct cw_room_effects *fx)
{
	free(fx->list);
	memset(fx, 0, sizeof(*fx));
}

static struct cw_room_effect *fx_add(struct cw_room_effects *fx, const struct cw_room_part *to,
				     enum cw_room_event ev, const char *about,
				     const char *about_conn)
{
	struct cw_room_effect *e;

	if (fx->n == fx->cap) {
		size_t cap = fx->cap ? fx->cap * 2 : 8;
		struct cw_room_effect *list = realloc(fx->list, cap * sizeof(*list));
		if (!list)
			return NULL;
		fx->list = list;
		fx->cap = cap;
	}
	e = &fx->list[fx->n++];
	memset(e, 0, sizeof(*e));
	cw_strlcpy(e->to_uid, to->uid, sizeof(e->to_uid));
	cw_strlcpy(e->to_conn, to->conn, sizeof(e->to_conn));
	e->event = ev;
	cw_strlcpy(e->about, about, sizeof(e->about));
	cw_strlcpy(e->about_conn, about_conn, sizeof(e->about_conn));
	return e;
}

/* Tells everyone but `except` (an index, or -1) about `about`. */
static int tell_others(struct cw_room *r, long except, enum cw_room_event ev, const char *about,
		       const char *about_conn, int kind, struct cw_room_effects *fx)
{
	for (size_t i = 0; i < r->n; i++) {
		struct cw_room_effect *e;
		if ((long)i == except)
			continue;
		e = fx_add(fx, &r->parts[i], ev, about, about_conn);
		if (!e)
			return -ENOMEM;
		e->kind = kind;
	}
	return 0;
}

static long find(const struct cw_room *r, const char *conn)
{
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->parts[i].conn, conn) == 0)
			return (long)i;
	}
	return -1;
}

/* Keeps alone_since in step with the count: set when one remains, cleared otherwise. */
static void track_alone(struct cw_room *r, int64_t now)
{
	if (r->n == 1) {
		if (!r->alone) {
			r->alone = true;
			r->alone_since = now;
			r->warned = false;
		}
	} else {
		r->alone = false;
		r->warned = false;
	}
}

int cw_room_join(struct cw_room *r, const char *uid, const char *conn,
		 const struct cw_room_settings *s, int64_t now, struct cw_room_effects *fx)
{
	struct cw_room_part *p;
	int err;

	if (r->ended)
		return CW_ROOM_ENDED_ERR;
	if (find(r, conn) >= 0)
		return 0;
	if (r->n >= (size_t)r->max_participants)
		return CW_ROOM_FULL;
	if (r->audio_only && !s->audio_only)
		return CW_ROOM_NO_VIDEO;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct cw_room_part *parts = realloc(r->parts, cap * sizeof(*parts));
		if (!parts)
			return -ENOMEM;
		r->parts = parts;
		r->cap = cap;
	}
	p = &r->parts[r->n];
	memset(p, 0, sizeof(*p));
	cw_strlcpy(p->uid, uid, sizeof(p->uid));
	cw_strlcpy(p->conn, conn, sizeof(p->conn));
	p->audio_only = s->audio_only;
	p->muted = s->start_muted;
	p->video_paused = s->audio_only || s->start_video_paused;
	p->joined_at = now;
	err = tell_others(r, -1, CW_ROOM_JOINED, uid, conn, 0, fx);
	if (err)
		return err;
	r->n++;
	track_alone(r, now);
	return 0;
}

int cw_room_leave(struct cw_room *r, const char *conn, int64_t now, struct cw_room_effects *fx)
{
	long i = find(r, conn);
	char uid[CW_UID_MAX + 1], left[CW_ROOM_CONN_MAX + 1];

	if (i < 0)
		return CW_ROOM_NOT_IN;
	cw_strlcpy(uid, r->parts[i].uid, sizeof(uid));
	cw_strlcpy(left, conn, sizeof(left));
	memmove(&r->parts[i], &r->parts[i + 1], (r->n - (size_t)i - 1) * sizeof(*r->parts));
	r->n--;
	if (tell_others(r, -1, CW_ROOM_LEFT, uid, left, 0, fx) != 0)
		return -ENOMEM;
	if (r->n == 0)
		r->ended = true;
	track_alone(r, now);
	return 0;
}

int cw_room_set(struct cw_room *r, const char *conn, int kind, bool off, int64_t now,
		struct cw_room_effects *fx)
{
	long i = find(r, conn);
	struct cw_room_part *p;
	bool *state;

	(void)now;
	if (i < 0)
		return CW_ROOM_NOT_IN;
	p = &r->parts[i];
	if (kind == 1 && p->audio_only && !off)
		return CW_ROOM_NO_VIDEO;
	state = kind == 0 ? &p->muted : &p->video_paused;
	if (*state == off)
		return 0;
	*state = off;
	return tell_others(r, i, off ? CW_ROOM_MUTED : CW_ROOM_UNMUTED, p->uid, p->conn, kind, fx);
}

void cw_room_end(struct cw_room *r, struct cw_room_effects *fx)
{
	if (r->ended)
		return;
	/* Best effort under memory pressure: the room ends either way. */
	tell_others(r, -1, CW_ROOM_ENDED, "", "", 0, fx);
	r->ended = true;
	r->n = 0;
	r->alone = false;
}

/* The warning comes a minute before the end, or halfway for short timeouts. */
static int64_t warn_lead(const struct cw_room *r)
{
	return r->idle_timeout > 2 * CW_ROOM_WARNING_MS ? CW_ROOM_WARNING_MS : r->idle_timeout / 2;
}

int64_t cw_room_tick(struct cw_room *r, int64_t now, struct cw_room_effects *fx)
{
	int64_t end, warn_at;

	if (r->ended || !r->idle_timeout || !r->alone)
		return 0;
	end = r->alone_since + r->idle_timeout;
	warn_at = end - warn_lead(r);
	if (now >= end) {
		cw_room_end(r, fx);
		return 0;
	}
	if (now >= warn_at && !r->warned) {
		struct cw_room_effect *e = fx_add(fx, &r->parts[0], CW_ROOM_TIMEOUT_WARN, "", "");
		if (e) {
			e->at = end;
			r->warned = true;
		}
	}
	return r->warned ? end : warn_at;
}
