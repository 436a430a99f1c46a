/* notify: session events to participants, through the users' event logs. */
#include <stdlib.h>
#include <string.h>

#include "rt/rt.h"
#include "session/internal.h"

void cw_sess_emit(struct cw_sessions *s, struct session *sess, const struct part *to,
		  const char *name, json_t *fields, int64_t now)
{
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "type", "event", "name", name, "sessionId",
			       sess->id, "to", to->id);
	char *text;

	if (ev && fields)
		json_object_update(ev, fields);
	text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	cw_store_batch_begin(s->store);
	if (!text || cw_rt_emit(s->rt, sess->app_id, to->uid, text, now) != 0)
		cw_error("session.event", "app=%s session=%s event=%s err=\"cannot store\"",
			 sess->app_id, sess->id, name);
	free(text);
}

json_t *cw_sess_track_json(const struct part *p, const struct cw_neg_track *t)
{
	char tid[CW_NEG_TRACK_ID_MAX + 1];

	snprintf(tid, sizeof(tid), "%s-%s", p->id, t->mid);
	return json_pack("{s:s,s:s,s:s}", "trackId", tid, "kind",
			 t->kind == CW_SDP_AUDIO ? "audio" : "video", "streamId", p->id);
}

static const struct cw_room_part *room_part(const struct session *sess, const char *pid)
{
	for (size_t i = 0; i < sess->room.n; i++) {
		if (strcmp(sess->room.parts[i].conn, pid) == 0)
			return &sess->room.parts[i];
	}
	return NULL;
}

json_t *cw_sess_part_json(const struct part *p)
{
	const struct cw_room_part *rp = room_part(p->sess, p->id);
	json_t *tracks = json_array();

	for (unsigned i = 0; i < p->ntracks; i++)
		json_array_append_new(tracks, cw_sess_track_json(p, &p->tracks[i]));
	return json_pack("{s:s,s:s,s:b,s:b,s:I,s:o}", "participantId", p->id, "uid", p->uid,
			 "muted", rp ? rp->muted : false, "videoPaused",
			 rp ? rp->video_paused : true, "joinedAt", (json_int_t)p->joined_at,
			 "tracks", tracks);
}

struct part *cw_sess_find_part(const struct session *sess, const char *pid)
{
	for (size_t i = 0; i < sess->n; i++) {
		if (strcmp(sess->parts[i]->id, pid) == 0)
			return sess->parts[i];
	}
	return NULL;
}

/* ---- effects of the room ---- */

void cw_sess_room_effects(struct session *sess, int64_t now, const char *reason)
{
	struct cw_sessions *s = sess->svc;

	for (size_t i = 0; i < s->fx.n; i++) {
		const struct cw_room_effect *e = &s->fx.list[i];
		struct part *to = cw_sess_find_part(sess, e->to_conn);
		struct part *about =
			e->about_conn[0] ? cw_sess_find_part(sess, e->about_conn) : NULL;
		json_t *f = NULL;

		if (!to)
			continue;
		switch (e->event) {
		case CW_ROOM_JOINED:
			if (!about)
				continue;
			f = json_pack("{s:o}", "participant", cw_sess_part_json(about));
			break;
		case CW_ROOM_LEFT:
			f = json_pack("{s:{s:s,s:s},s:s}", "participant", "participantId",
				      e->about_conn, "uid", e->about, "reason",
				      reason ? reason : "left");
			break;
		case CW_ROOM_MUTED:
		case CW_ROOM_UNMUTED:
			if (!about)
				continue;
			f = json_pack("{s:o,s:s}", "participant", cw_sess_part_json(about), "kind",
				      e->kind ? "video" : "audio");
			break;
		case CW_ROOM_TIMEOUT_WARN:
			f = json_pack("{s:I}", "endsAt", (json_int_t)e->at);
			break;
		case CW_ROOM_ENDED:
			f = json_pack("{s:s}", "reason", reason ? reason : "idle_timeout");
			break;
		}
		cw_sess_emit(s, sess, to, cw_room_event_name(e->event), f, now);
		json_decref(f);
	}
	cw_room_effects_free(&s->fx);
	memset(&s->fx, 0, sizeof(s->fx));
}
