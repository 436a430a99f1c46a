/* internal: the session service's private state, shared by service.c (requests and
 * lifecycle), subscribe.c (the subscribe connections' m-sections and offers) and notify.c
 * (events to the participants). */
#ifndef CW_SESSION_INTERNAL_H
#define CW_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "session/meetlog.h"
#include "session/negotiate.h"
#include "session/room.h"
#include "session/service.h"
#include "sfu/sfu.h"
#include "util/map.h"
#include "util/util.h"

#define IPS_MAX 8
#define SLOTS_MAX 64	 /* m-sections of one subscribe connection */
#define TITLE_MAX 200	 /* settings.title */
#define IDLE_MAX_S 86400 /* settings.idleTimeout */
#define KEY_MAX (CW_APPID_MAX * 2 + 2)

/* One m-section of a subscriber's connection: a track of another participant, or a place
 * a gone track left (inactive, reused by the next track of its kind). */
struct slot {
	struct cw_neg_sub_track t;
	char owner[CW_SFU_PART_MAX + 1]; /* the publisher's participant id; "" when gone */
	char owner_mid[CW_NEG_MID_MAX + 1];
};

struct session;

struct part {
	struct session *sess;
	char id[CW_SFU_PART_MAX + 1];
	char uid[CW_UID_MAX + 1];
	bool audio_only;
	int64_t joined_at;
	char pub_ufrag[CW_SFU_UFRAG_MAX + 1], pub_pwd[CW_SFU_PWD_MAX + 1];
	char sub_ufrag[CW_SFU_UFRAG_MAX + 1], sub_pwd[CW_SFU_PWD_MAX + 1];
	uint64_t sdp_id, pub_version, sub_version;
	struct cw_neg_track tracks[CW_SFU_TRACKS_MAX];
	unsigned ntracks;
	struct slot slots[SLOTS_MAX];
	unsigned nslots, next_mid;
	int offer_version; /* of the latest subscribe offer; 0: none yet */
	bool outstanding;  /* that offer awaits its answer */
	bool dirty;	   /* the subscribe side changed since that offer */
	bool sub_added;	   /* the subscribe peer is on the worker */
};

struct session {
	struct cw_sessions *svc;
	char key[KEY_MAX];
	char app_id[CW_APPID_MAX + 1];
	char id[CW_APPID_MAX + 1];
	char room_id[CW_SFU_ROOM_MAX + 1];
	char title[TITLE_MAX + 1];
	bool is_call; /* the session of a ringing call */
	int worker;
	struct cw_room room;
	struct cw_meetlog log; /* a meet session's call-log entry */
	struct part **parts;
	size_t n, cap;
	uv_timer_t timer;
};

struct cw_sessions {
	uv_loop_t *loop;
	struct cw_store *store;
	struct cw_rt *rt;
	struct cw_calls *calls;
	const struct cw_auth *auth;
	struct cw_sfu *sfu;
	char ips[IPS_MAX][48];
	unsigned nips;
	struct cw_map sessions; /* "app/session" -> struct session */
	struct cw_map peers;	/* ufrag -> struct part (publish and subscribe) */
	struct cw_map parts;	/* participant id -> struct part */
	int *load;		/* sessions per worker */
	uint64_t rooms;		/* room ids handed out */
	struct cw_room_effects fx;
};

/* notify.c: events to participants. */
/* Emits event `name` (with fields merged in, may be NULL) to participant `to`. */
void cw_sess_emit(struct cw_sessions *s, struct session *sess, const struct part *to,
		  const char *name, json_t *fields, int64_t now);
json_t *cw_sess_track_json(const struct part *p, const struct cw_neg_track *t);
json_t *cw_sess_part_json(const struct part *p);
struct part *cw_sess_find_part(const struct session *sess, const char *pid);
/* Sends the room's queued effects (s->fx) as events and clears them; reason goes into
 * participant_left and ended. */
void cw_sess_room_effects(struct session *sess, int64_t now, const char *reason);

/* subscribe.c: the subscribe side. */
/* Our host candidates: each public address at the worker's port (hosts: IPS_MAX). */
void cw_sess_hosts(const struct cw_sessions *s, int worker, struct cw_sdp_host *hosts);
/* Brings p's subscribe m-sections in line with the others' tracks; marks p dirty. */
void cw_sess_reconcile(struct part *p);
/* The next subscribe offer of p as JSON {version, sdp}, or NULL (nothing to offer, one is
 * outstanding, or it could not be made). */
json_t *cw_sess_next_offer(struct part *p);
/* Sends p its next subscribe offer as a session.offer event, if there is one. */
void cw_sess_offer_if_needed(struct part *p, int64_t now);

#endif
