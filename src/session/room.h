/* room: a media session's membership as the control plane keeps it. Pure: a room, an
 * action and a time in; the changed room and the events to send out. No I/O, no clock;
 * the only allocation is the participant array. */
#ifndef CW_SESSION_ROOM_H
#define CW_SESSION_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define CW_ROOM_CONN_MAX 32 /* a connection's id (one user may join from two devices) */
/* Before the idle timeout ends a lone participant's session, a warning this long ahead. */
#define CW_ROOM_WARNING_MS 60000

/* What a participant asked for when joining (the contract's session settings). */
struct cw_room_settings {
	bool audio_only;
	bool start_muted;
	bool start_video_paused;
};

struct cw_room_part {
	char uid[CW_UID_MAX + 1];
	char conn[CW_ROOM_CONN_MAX + 1];
	bool audio_only;
	bool muted;	   /* audio */
	bool video_paused; /* video (always true for an audio-only participant) */
	int64_t joined_at;
};

struct cw_room {
	bool audio_only;      /* the session refuses video (an audio call's session) */
	int max_participants; /* the app's maxParticipants */
	int64_t idle_timeout; /* ms, 0 = never */
	struct cw_room_part *parts;
	size_t n, cap;
	bool alone;	     /* exactly one participant is in */
	int64_t alone_since; /* since when */
	bool warned;	     /* the timeout warning went out for this stretch alone */
	bool ended;
};

enum cw_room_event {
	CW_ROOM_JOINED,	      /* session.participant_joined (to the others) */
	CW_ROOM_LEFT,	      /* session.participant_left (to the others) */
	CW_ROOM_MUTED,	      /* session.muted (to the others) */
	CW_ROOM_UNMUTED,      /* session.unmuted */
	CW_ROOM_TIMEOUT_WARN, /* session.timeout_warning (to the one alone) */
	CW_ROOM_ENDED,	      /* session.ended (to everyone still in) */
};

/* One event for one participant connection; `about` is the participant it concerns. */
struct cw_room_effect {
	char to_uid[CW_UID_MAX + 1];
	char to_conn[CW_ROOM_CONN_MAX + 1];
	enum cw_room_event event;
	char about[CW_UID_MAX + 1];	       /* the uid it concerns */
	char about_conn[CW_ROOM_CONN_MAX + 1]; /* and that participant's connection */
	int kind;			       /* MUTED/UNMUTED: 0 audio, 1 video */
	int64_t at;			       /* TIMEOUT_WARN: when the session will end */
};

struct cw_room_effects {
	struct cw_room_effect *list;
	size_t n, cap;
};

const char *cw_room_event_name(enum cw_room_event e);

void cw_room_init(struct cw_room *r, bool audio_only, int max_participants,
		  int64_t idle_timeout_ms);
void cw_room_free(struct cw_room *r);
void cw_room_effects_free(struct cw_room_effects *fx);

/* Errors of the actions. */
#define CW_ROOM_FULL (-1001)	  /* maxParticipants reached */
#define CW_ROOM_NO_VIDEO (-1002)  /* video in an audio-only session */
#define CW_ROOM_NOT_IN (-1003)	  /* the connection is not in the room */
#define CW_ROOM_ENDED_ERR (-1004) /* the session is over */

/* conn joins as uid. Joining again from the same connection is a retry (0, nothing
 * changes). Others get JOINED. */
int cw_room_join(struct cw_room *r, const char *uid, const char *conn,
		 const struct cw_room_settings *s, int64_t now, struct cw_room_effects *fx);
/* conn leaves; others get LEFT. The room ends (ENDED to nobody: it is empty) when the last
 * one leaves. */
int cw_room_leave(struct cw_room *r, const char *conn, int64_t now, struct cw_room_effects *fx);
/* Mutes or unmutes conn's audio (kind 0) or pauses/resumes its video (kind 1). Setting the
 * state it already has is a retry. */
int cw_room_set(struct cw_room *r, const char *conn, int kind, bool off, int64_t now,
		struct cw_room_effects *fx);
/* Ends the room for everyone in it (the call ended, or the idle timeout). */
void cw_room_end(struct cw_room *r, struct cw_room_effects *fx);
/* Time passes: the timeout warning, then the end, for a participant left alone. Returns
 * the next time tick should run, or 0 when nothing is pending. */
int64_t cw_room_tick(struct cw_room *r, int64_t now, struct cw_room_effects *fx);

#endif
