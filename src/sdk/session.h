/* session: libcallwire's private header for media sessions: the session object
 * (session.c: requests, events, lifetime), its media (session_media.c: the two peer
 * connections on the network thread, the audio clock), its descriptions
 * (session_sdp.c) and the calling extension (calling.c). */
#ifndef CW_SDK_SESSION_H
#define CW_SDK_SESSION_H

#include "media.h"
#include "video.h"
#include "rtc/sdp.h"
#include "sdk.h"

#define CW__PT_OPUS 111	      /* our publish offer's Opus payload type */
#define CW__PT_VP8 96	      /* and VP8's */
#define CW__EXT_AUDIO_LEVEL 1 /* RFC 6464 header extension id in our offer */
#define CW__TRACKS_MAX 32     /* remote tracks of one session */
#define CW__ID_MAX 128	      /* participant and session ids */
#define CW__MID_MAX 32
#define CW__FRAME_MS 20
#define CW__CATCH_UP_MAX 10 /* frames made at once after a stall; then the clock restarts */

/* ---- descriptions (session_sdp.c) ---- */

struct cw__sdp_local {
	const char *ufrag, *pwd;
	const char *fingerprint; /* "sha-256 AB:…" */
	uint64_t session_id;
	unsigned version;
};

/* The server's side of one connection, read from its description. */
struct cw__sdp_remote {
	char ufrag[257], pwd[257];
	char fingerprint[CW_DTLS_FINGERPRINT_MAX];
	struct sockaddr_storage candidates[CW__PC_CANDIDATES_MAX];
	uint32_t priority[CW__PC_CANDIDATES_MAX];
	unsigned ncandidates;
};

/* Our publish offer: one Opus track (audio_ssrc) of the stream stream_id, and a VP8 track
 * (video_ssrc) unless video_ssrc is 0. */
int cw__sdp_publish_offer(char **textp, const struct cw__sdp_local *l, uint32_t audio_ssrc,
			  uint32_t video_ssrc, const char *stream_id);
/* Our answer to a subscribe offer: every audio and video m-section received (Opus, VP8),
 * anything else refused. */
int cw__sdp_subscribe_answer(char **textp, const struct cw_sdp *offer,
			     const struct cw__sdp_local *l);
/* The ICE credentials, fingerprint and UDP candidates of a description of the server.
 * CW_ERR_PROTOCOL when one is missing. */
int cw__sdp_remote(const struct cw_sdp *sdp, struct cw__sdp_remote *r);

/* ---- the session ---- */

enum cw__session_state { CW__SS_IDLE, CW__SS_JOINING, CW__SS_JOINED, CW__SS_LEAVING };

/* A remote track: one m-section of the subscribe connection. */
struct cw__track {
	bool used;
	bool audio;
	char mid[CW__MID_MAX];
	uint32_t ssrc;
	char participant[CW__ID_MAX];
	struct cw__jb *jb;	/* audio */
	struct cw__vp8_rx *vrx; /* video */
};

/* One peer connection and its socket as libwebsockets polls it. */
struct cw__conn {
	struct cw__pc *pc;
	struct lws *wsi;
	struct cw_session *s;
	char ufrag[16], pwd[32];
	bool connected_once;
	bool quiet;  /* connected: the clock's ticks read the socket, not the poll */
	int64_t due; /* when cw__pc_timer wants to run next */
};

struct cw_participant {
	json_t *obj;
	const char *id, *uid;
	bool muted, video_paused;
	int64_t joined_at;
};

struct cw_session {
	atomic_int refs; /* the app's (or the calling extension's), and requests in flight */
	cw_client *c;
	char *id;

	pthread_mutex_t m; /* guards what follows, up to the network thread's own */
	char *call_token;
	cw_session_settings settings; /* title points at title */
	char *title;
	enum cw__session_state state;
	char participant_id[CW__ID_MAX];
	bool audio_muted, video_paused;
	cw_session_listener listener;
	void *listener_arg;
	cw_audio_source_cb source;
	void *source_arg;
	cw_audio_sink_cb sink, mix_sink;
	void *sink_arg, *mix_arg;
	cw_video_source_cb vsource;
	void *vsource_arg;
	cw_video_options vopts;
	cw_video_sink_cb vsink;
	void *vsink_arg;
	bool video_published; /* the join's offer had video */
	cw_session_stats stats;
	size_t n_participants;
	unsigned loss_per_mille;
	cw_done_cb join_cb;
	void *join_arg;
	int timeout_ms; /* of each request of a `_sync` join or leave; 0: the client's */

	/* The network thread's own. */
	struct cw__link link; /* in the client's sessions */
	bool listed;
	bool destroyed;	   /* freed by its owner: requests in flight find nothing to do */
	int depth;	   /* callbacks of this session running */
	bool free_pending; /* cw_session_free from inside one of them */
	bool ext;	   /* made by the calling extension */
	struct cw_dtls_cert *cert;
	struct cw_dtls_ctx *dtls;
	struct cw__conn pub, sub;
	uint64_t sdp_session_id;
	unsigned sub_answers;
	int64_t sub_version;
	json_t *participants; /* participantId -> participant object */
	struct cw__track tracks[CW__TRACKS_MAX];
	/* Sending audio. */
	struct cw__opus_enc *enc;
	uint32_t audio_ssrc;
	uint16_t seq;
	uint32_t ts;
	bool source_ended, marker;
	/* Sending video. */
	struct cw__vp8_enc *venc;
	uint32_t video_ssrc; /* 0: no video published */
	uint16_t vseq;
	uint32_t vts0;	    /* the RTP timestamp at vstart */
	int64_t vstart;	    /* when the video clock started */
	int64_t next_video; /* the next picture's time; 0: no video clock */
	uint64_t vframe_no; /* pictures of the clock so far */
	int vfps, vkbps;    /* the encoder's options */
	bool key_wanted;    /* a PLI or FIR came, or video resumed */
	bool vsource_ended;
	uint64_t vframes, vkeys, vpackets, key_requests; /* sent; requests received */
	uint64_t vpackets_in;				 /* video RTP received */
	/* The 20 ms clock and the connections' timers. */
	lws_sorted_usec_list_t sul;
	int64_t next_frame;
	bool lost;	       /* connection_lost fired, restored not yet */
	unsigned loss_applied; /* the test loss the subscribe connection has */
	cw_session_stats gone; /* the counters of tracks that went away */
	bool ticking;
	int64_t tick_at; /* when the timer fires, while ticking */
};

/* session.c */
struct cw_session *cw__session_ref(struct cw_session *s);
void cw__session_unref(struct cw_session *s);
/* A session.* event for this client (network thread). */
void cw__session_event(cw_client *c, const struct cw__msg *msg);
/* The client stops: every session's media closes (network thread, last). */
void cw__sessions_close_all(cw_client *c);
/* Fires a listener member with the session held and its depth counted. */
#define CW__SESSION_FIRE(s, member, ...)                                                           \
	do {                                                                                       \
		if ((s)->listener.member) {                                                        \
			(s)->depth++;                                                              \
			(s)->listener.member((s), __VA_ARGS__);                                    \
			(s)->depth--;                                                              \
		}                                                                                  \
	} while (0)
/* After firing: frees the session if a callback asked to. True when it is gone. */
bool cw__session_settle(struct cw_session *s);
/* The session ended under the app (server, media failure): media closed, state idle,
 * session_ended fired, the calling extension told. leave: tell the server too (it did
 * not end the session itself). */
void cw__session_end(struct cw_session *s, const char *reason, bool leave);

/* session_token.c: the HTTP request for a call token of session_id (timeout_ms <= 0:
 * the client's); finish gets the answer ({"callToken",…}), extra is the request's. */
int cw__call_token_request(cw_client *c, const char *session_id, cw__finish_fn finish, void *cb,
			   void *arg, void *extra, int timeout_ms);

/* session_media.c: network thread */
extern const struct lws_protocols cw__media_protocol;
/* Opens the publish connection from the join's answer and prepares sending. */
int cw__media_start(struct cw_session *s, const char *answer_sdp);
/* A subscribe offer: (re)configures the subscribe connection and the tracks; *answerp is
 * our answer. */
int cw__media_offer(struct cw_session *s, const char *offer_sdp, char **answerp);
/* Our publish offer for the join (makes the certificate, ICE credentials, SSRC). */
int cw__media_prepare(struct cw_session *s, char **offerp);
/* Closes both connections, frees the tracks and the encoder, stops the clock. */
void cw__media_stop(struct cw_session *s);
/* The 12 bytes of an RTP header (version 2, no padding, extension or CSRC). */
void cw__rtp_head(uint8_t *pkt, uint8_t pt, bool marker, uint16_t seq, uint32_t ts, uint32_t ssrc);

/* session_video.c: network thread */
struct cw_rtp;
/* Whether the join publishes video (a source, not audio-only); remembered for the
 * source's setter. */
bool cw__video_wanted(struct cw_session *s);
/* Before the publish offer: the video SSRC (0 when no video is published). */
int cw__video_prepare(struct cw_session *s);
/* The publish connection is open: declares the SSRC and starts the picture clock. */
int cw__video_start(struct cw_session *s, int64_t now);
/* A picture when one is due (s->next_video); true when one was due. */
bool cw__video_tick(struct cw_session *s, int64_t now);
/* A PLI or FIR for ssrc. */
void cw__video_keyframe_request(struct cw_session *s, uint32_t ssrc);
/* A packet of the video track t. */
void cw__video_rtp(struct cw_session *s, struct cw__track *t, const struct cw_rtp *pkt,
		   const uint8_t *buf, int64_t now);
void cw__video_poll(struct cw_session *s, int64_t now);
void cw__video_add_stats(cw_session_stats *st, const struct cw__vp8_rx *rx);
/* Frees the encoder and stops the clock. */
void cw__video_stop(struct cw_session *s);

/* calling.c */
/* Call events and accepted calls, for the calling extension (network thread). */
void cw__calling_on_event(cw_client *c, const char *name, cw_call *call);
void cw__calling_on_accepted(cw_client *c, cw_call *call);
/* This client rang call: its acceptance is this client's to join. */
void cw__calling_on_initiated(cw_client *c, cw_call *call);
/* An extension session ended by itself (network thread). */
void cw__calling_session_ended(cw_client *c, struct cw_session *s);
void cw__calling_free(cw_client *c);

#endif
