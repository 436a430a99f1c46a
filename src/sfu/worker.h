/* worker: the media plane's private header: one worker's loop, queues, peers and rooms. */
#ifndef CW_SFU_WORKER_H
#define CW_SFU_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include "rtc/dtls.h"
#include "rtc/srtp.h"
#include "rtc/stun.h"
#include "sfu/sfu.h"

#define CW_SFU_BATCH 32	      /* datagrams per recvmmsg / sendmmsg */
#define CW_SFU_DGRAM_MAX 1500 /* larger datagrams are truncated, then dropped */
/* A send slot holds a received datagram plus what protecting it again may add. */
#define CW_SFU_TX_SLOT (CW_SFU_DGRAM_MAX + CW_SRTP_TRAILER_MAX)
/* How often the worker looks for peers whose consent expired. */
#define CW_SFU_CONSENT_SCAN_MS 1000
/* Media timers: dominant speaker, then REMB and idle tracks. */
#define CW_SFU_SPEAKER_MS 300
#define CW_SFU_REMB_MS 1000
/* A track without a packet for this long gives its place (and cache) to new SSRCs. */
#define CW_SFU_TRACK_IDLE_MS 10000
/* Retransmission caches, by sequence number: room for so many packets (slots) and their
 * bytes (a ring). A video track's: the last 512 packets whatever their sizes (a datagram
 * more, for the end of the ring a packet may skip), about 2 s of HD video. An audio
 * track's: the last 128, 2.56 s of 20 ms Opus, while they average at most 128 bytes (Opus
 * at 32 kb/s with FEC makes about 100), and still a second's worth at 128 kb/s, longer
 * than a jitter buffer waits. Slots must divide 65536, so that sequence numbers wrap onto
 * the same slots. */
#define CW_SFU_RTX_SLOTS 512
#define CW_SFU_RTX_BYTES ((CW_SFU_RTX_SLOTS + 1) * CW_SFU_DGRAM_MAX)
#define CW_SFU_AUDIO_RTX_SLOTS 128
#define CW_SFU_AUDIO_RTX_BYTES 16384
/* Caches per publisher: its video's (camera and screen), then its audio's; a third video
 * or a second audio track has none. A map with video brings a publisher the video caches
 * (760 KiB each), one with audio the audio cache (18 KiB); calloc'd, so a cache takes
 * memory only as packets fill it. */
#define CW_SFU_VIDEO_CACHES 2
#define CW_SFU_AUDIO_CACHES 1
#define CW_SFU_CACHES (CW_SFU_VIDEO_CACHES + CW_SFU_AUDIO_CACHES)
/* Retransmissions one NACK may cause at most (a NACK can list thousands of numbers). */
#define CW_SFU_NACK_ANSWER_MAX 128
/* The sender SSRC of the worker's own PLIs and REMBs: any fixed non-zero value. */
#define CW_SFU_RTCP_SSRC 0x63770001u
/* Events kept per worker until polled (the oldest go first), and gathered per loop turn. */
#define CW_SFU_EVENTS_MAX 256
#define CW_SFU_EVENTS_PENDING 32

struct cw_sfu_room;

/* Where one packet of a retransmission cache is (len 0: nowhere). The SSRC is kept so that
 * a cache handed to a new track never answers with a packet of the old one. */
struct cw_sfu_rtx_slot {
	uint64_t at; /* its first byte's place in all the bytes the cache took */
	uint32_t ssrc;
	uint16_t seq;
	uint16_t len;
};

/* A track's last packets, the plain RTP after rewriting as subscribers got it: their bytes
 * one after the other in a ring (a packet is never split: one that does not fit before the
 * ring's end starts it again), found by sequence number. A packet is there until a newer
 * one takes its slot or its bytes. One allocation: the slots, then the ring. */
struct cw_sfu_rtx_cache {
	uint32_t slots; /* a power of two, at most 65536 */
	uint32_t bytes; /* of the ring, at least CW_SFU_DGRAM_MAX */
	uint32_t off;	/* where in the ring the next packet goes: head % bytes */
	uint64_t head;	/* bytes taken so far (ring ends skipped included): the next one's place */
	uint8_t *ring;
	struct cw_sfu_rtx_slot slot[]; /* [seq % slots] */
};

/* One SSRC a publisher sends, claimed by its first packet. */
struct cw_sfu_track {
	bool used;
	uint8_t kind; /* CW_SFU_KIND_* of its first packet; NONE without a media map */
	uint32_t ssrc;
	int64_t last_ms;     /* its newest packet, to free idle tracks */
	int64_t last_pli_ms; /* the last keyframe request passed on */
	int loud;	     /* audio: smoothed loudness, 16 x dB above the silence floor */
	bool heard;	     /* audio: a packet since the last speaker scan */
	struct cw_sfu_rtx_cache *cache; /* one of the publisher's caches of its kind, or NULL */
};

/* What a peer that sends media (CW_SFU_BOTH, CW_SFU_PUBLISH) needs on the packet path,
 * allocated with the peer. */
struct cw_sfu_pub {
	bool has_map; /* false: packets are forwarded unchanged, kinds unknown */
	struct cw_sfu_media_map map;
	bool muted[3]; /* [CW_SFU_KIND_*] */
	struct cw_sfu_track tracks[CW_SFU_TRACKS_MAX];
	/* Video's, then audio's (CW_SFU_CACHES), made for the kinds of the map. */
	struct cw_sfu_rtx_cache *caches[CW_SFU_CACHES];
	bool cache_taken[CW_SFU_CACHES];
};

/* One peer connection as the worker sees it: its ICE credentials, where it is, its DTLS
 * association and SRTP session, and its room. Everything it needs on the packet path is
 * allocated when it is added (the SRTP session when its handshake completes). */
struct cw_sfu_peer {
	char ufrag[CW_SFU_UFRAG_MAX + 1];
	char pwd[CW_SFU_PWD_MAX + 1];
	size_t pwd_len;
	bool selected; /* an address passed a check (and was nominated) */
	bool mapped;   /* addr is in the worker's address table, pointing here */
	struct sockaddr_storage addr;
	int64_t last_check_ms; /* consent freshness */
	bool dead;	       /* consent expired: nothing is sent to it any more */
	bool ended;	       /* FAILED or GONE was reported: at most one of them */

	/* Media; all NULL for an ICE-only peer. */
	char room_id[CW_SFU_ROOM_MAX + 1];
	struct cw_sfu_room *room;
	size_t room_index; /* its place in room->members */
	enum cw_sfu_dir dir;
	char participant[CW_SFU_PART_MAX + 1];
	struct cw_sfu_pub *pub; /* BOTH and PUBLISH: tracks, map, mutes; else NULL */
	struct cw_dtls *dtls;	/* freed when the handshake fails or times out */
	struct cw_srtp *srtp;	/* once the handshake completed */
	bool handshaking;	/* on the worker's handshake list */
	struct cw_sfu_peer *hs_prev, *hs_next;
};

/* The peers of one room on one worker (a session lives on one worker). */
struct cw_sfu_room {
	struct cw_sfu_room *next;
	char id[CW_SFU_ROOM_MAX + 1];
	struct cw_sfu_peer **members;
	size_t n, cap;
	/* Dominant speaker: the current one ("" before the first) and the participant that
	 * has been louder for `ticks` scans in a row. */
	char speaker[CW_SFU_PART_MAX + 1];
	char candidate[CW_SFU_PART_MAX + 1];
	unsigned ticks;
};

/* ufrag -> peer, open addressing with linear probing; grown only on the command path. */
struct cw_sfu_peers {
	struct cw_sfu_peer **slots;
	size_t cap, count;
};

struct cw_sfu_peer *cw_sfu_peers_find(const struct cw_sfu_peers *t, const char *ufrag, size_t len);
int cw_sfu_peers_add(struct cw_sfu_peers *t, struct cw_sfu_peer *p);
/* Unlinks the peer of ufrag from the table and returns it (NULL when unknown). */
struct cw_sfu_peer *cw_sfu_peers_remove(struct cw_sfu_peers *t, const char *ufrag);
/* Frees the table only (not the peers). */
void cw_sfu_peers_free(struct cw_sfu_peers *t);

/* Selected address -> peer, the same kind of table. Insertion never grows it: the worker
 * reserves room for every peer when the peer is added (cw_sfu_addrs_reserve), so the
 * packet path (a check moving a peer) never allocates. */
struct cw_sfu_addrs {
	struct cw_sfu_peer **slots;
	size_t cap, count;
};

struct cw_sfu_peer *cw_sfu_addrs_find(const struct cw_sfu_addrs *t,
				      const struct sockaddr_storage *addr);
int cw_sfu_addrs_reserve(struct cw_sfu_addrs *t, size_t peers);
/* Maps p->addr to p, replacing another peer mapped there (which is marked unmapped). */
void cw_sfu_addrs_put(struct cw_sfu_addrs *t, struct cw_sfu_peer *p);
/* Unmaps p->addr if it maps to p. */
void cw_sfu_addrs_del(struct cw_sfu_addrs *t, struct cw_sfu_peer *p);
void cw_sfu_addrs_free(struct cw_sfu_addrs *t);

enum cw_sfu_cmd_kind {
	CW_SFU_CMD_ADD_PEER,
	CW_SFU_CMD_DEL_PEER,
	CW_SFU_CMD_SET_MAP,
	CW_SFU_CMD_SET_MUTED,
};

struct cw_sfu_cmd {
	struct cw_sfu_cmd *next;
	enum cw_sfu_cmd_kind kind;
	struct cw_sfu_peer *peer; /* ADD: handed over to the worker */
	char ufrag[CW_SFU_UFRAG_MAX + 1];
	struct cw_sfu_media_map map; /* SET_MAP */
	/* SET_MAP: caches for the kinds of the map, made here for a publisher that has none of
	 * them yet. */
	struct cw_sfu_rtx_cache *caches[CW_SFU_CACHES];
	int media_kind; /* SET_MUTED */
	bool muted;
};

/* Frees a command and what it still holds. */
void cw_sfu_cmd_free(struct cw_sfu_cmd *cmd);

struct cw_sfu_counters {
	atomic_uint_fast64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	atomic_uint_fast64_t stun_checks, stun_unauthorized, stun_bad;
	atomic_uint_fast64_t dropped_unknown, dropped_unverified, dropped_not_ready;
	atomic_uint_fast64_t dtls_connected, dtls_failed;
	atomic_uint_fast64_t srtp_auth_failed, srtp_replayed;
	atomic_uint_fast64_t rtp_forwarded, rtcp_forwarded, consent_expired;
	atomic_uint_fast64_t dropped_muted, pli_rate_limited, nack_received, rtp_retransmitted;
	atomic_uint_fast64_t remb_sent;
	atomic_uint_fast64_t events_dropped; /* the queue was full: the oldest went */
};

/* An event as the queue keeps it: a number across workers, for cw_sfu_poll_events. */
struct cw_sfu_qevent {
	uint64_t seq;
	struct cw_sfu_event ev;
};

struct cw_sfu_tx {
	struct mmsghdr msgs[CW_SFU_BATCH];
	struct iovec iov[CW_SFU_BATCH];
	struct sockaddr_storage addr[CW_SFU_BATCH];
	uint8_t buf[CW_SFU_BATCH][CW_SFU_TX_SLOT];
	unsigned n;
};

struct cw_sfu_worker {
	int index;
	struct cw_sfu *sfu; /* its configuration (wake, remb_bps) and event numbers */
	int fd, epfd, evfd;
	uint16_t port;
	pthread_t thread;
	bool started;
	int64_t consent_timeout_ms;

	/* The command queue and the event queue: the only state shared with other threads,
	 * besides counters. */
	pthread_mutex_t lock;
	struct cw_sfu_cmd *head, **tail;
	bool stop;
	pthread_mutex_t ev_lock;
	struct cw_sfu_qevent events[CW_SFU_EVENTS_MAX]; /* a ring */
	size_t ev_head, ev_n;

	/* The worker's own. */
	struct cw_sfu_peers peers;
	struct cw_sfu_addrs addrs;
	struct cw_sfu_room *rooms;
	struct cw_sfu_peer *handshaking; /* peers whose DTLS handshake is pending */
	int64_t next_consent_scan, next_speaker_scan, next_remb;
	/* Events of this loop turn, published (one lock, one wake) before the worker sleeps:
	 * the packet path takes no lock. */
	struct cw_sfu_event pending[CW_SFU_EVENTS_PENDING];
	unsigned n_pending;
	struct cw_sfu_tx tx;
	struct mmsghdr rx_msgs[CW_SFU_BATCH];
	struct iovec rx_iov[CW_SFU_BATCH];
	struct sockaddr_storage rx_addr[CW_SFU_BATCH];
	uint8_t rx_buf[CW_SFU_BATCH][CW_SFU_DGRAM_MAX];

	struct cw_sfu_counters n;
};

/* The DTLS contexts by our role and the profiles a peer may pick. */
enum { CW_SFU_PROF_ALL, CW_SFU_PROF_GCM, CW_SFU_PROF_CM, CW_SFU_PROF_N };

struct cw_sfu {
	int n_workers;
	struct cw_sfu_worker *workers[CW_SFU_WORKERS_MAX];
	struct cw_dtls_cert *cert;
	struct cw_dtls_ctx *ctx[2][CW_SFU_PROF_N]; /* [enum cw_dtls_role][CW_SFU_PROF_*] */
	/* What the workers need of the configuration. */
	void (*wake)(void *arg);
	void *wake_arg;
	uint32_t remb_bps;
	atomic_uint_fast64_t event_seq;
};

static inline int64_t cw_sfu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void cw_sfu_count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Queues one datagram for the next sendmmsg; flushes first when the batch is full. */
void cw_sfu_tx_push(struct cw_sfu_worker *w, const uint8_t *data, size_t len,
		    const struct sockaddr_storage *to);
/* The next free send slot (CW_SFU_TX_SLOT bytes), flushing first when the batch is full;
 * write a datagram into it, then cw_sfu_tx_commit it (or leave it: nothing is sent). */
uint8_t *cw_sfu_tx_slot(struct cw_sfu_worker *w);
void cw_sfu_tx_commit(struct cw_sfu_worker *w, size_t len, const struct sockaddr_storage *to);
void cw_sfu_tx_flush(struct cw_sfu_worker *w);

/* ice.c: one STUN datagram from `from`. */
void cw_sfu_ice_input(struct cw_sfu_worker *w, const uint8_t *buf, size_t len,
		      const struct sockaddr_storage *from, int64_t now_ms);

/* room.c: peers joining and leaving the worker, rooms, consent. */
/* Takes p into the worker (tables, room, handshake list). 0, -EEXIST or -ENOMEM (p is
 * left to the caller). */
int cw_sfu_peer_attach(struct cw_sfu_worker *w, struct cw_sfu_peer *p);
/* Unlinks p from everything on the worker and frees it. */
void cw_sfu_peer_detach(struct cw_sfu_worker *w, struct cw_sfu_peer *p);
/* Frees a peer that is linked nowhere (its DTLS and SRTP state too). NULL is accepted. */
void cw_sfu_peer_free(struct cw_sfu_peer *p);
/* A check from `from` passed and selects it as p's address. */
void cw_sfu_peer_select(struct cw_sfu_worker *w, struct cw_sfu_peer *p,
			const struct sockaddr_storage *from);
/* Marks peers whose consent expired; returns when to scan next. */
int64_t cw_sfu_consent_scan(struct cw_sfu_worker *w, int64_t now);
/* Frees every peer and room of the worker. */
void cw_sfu_rooms_free(struct cw_sfu_worker *w);

/* dtls_peer.c: the DTLS association of a peer. */
void cw_sfu_dtls_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, const uint8_t *buf,
		       size_t len, int64_t now);
/* Sends what p's endpoint queued, once p has an address. */
void cw_sfu_dtls_flush(struct cw_sfu_worker *w, struct cw_sfu_peer *p);
/* Runs due retransmissions and gives up on old handshakes; returns the next deadline. */
int64_t cw_sfu_dtls_timers(struct cw_sfu_worker *w, int64_t now);
void cw_sfu_hs_link(struct cw_sfu_worker *w, struct cw_sfu_peer *p);
void cw_sfu_hs_unlink(struct cw_sfu_worker *w, struct cw_sfu_peer *p);

/* Whether `to` may receive media: keyed, reachable and still consenting. */
static inline bool cw_sfu_peer_receives(const struct cw_sfu_peer *to)
{
	return to->srtp && to->selected && !to->dead;
}

/* Whether from's media goes to `to`: from publishes (BOTH, PUBLISH), `to` subscribes
 * (BOTH, SUBSCRIBE), they belong to different participants and `to` can receive. */
bool cw_sfu_forwards(const struct cw_sfu_peer *from, const struct cw_sfu_peer *to);

/* forward.c: one SRTP or SRTCP datagram (first byte 128..191) of p, decrypted in place. */
void cw_sfu_media_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, uint8_t *buf, size_t len,
			int64_t now);
/* Copies a plain RTP or RTCP packet into a send slot, protects it there for `to` and queues
 * it; false when protecting failed. */
bool cw_sfu_send_protected(struct cw_sfu_worker *w, struct cw_sfu_peer *to, const uint8_t *plain,
			   size_t len, bool rtcp);

/* feedback.c: RTCP. */
/* A plain RTCP compound of p: keyframe requests and NACKs of subscribers, sender reports of
 * publishers; the rest is consumed. */
void cw_sfu_rtcp_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, const uint8_t *buf,
		       size_t len, int64_t now);
/* A PLI of ours to p for each of its video tracks (video resumed). */
void cw_sfu_request_keyframes(struct cw_sfu_worker *w, struct cw_sfu_peer *p, int64_t now);
/* Every CW_SFU_REMB_MS: frees idle tracks, then sends a REMB to every publisher that
 * sends video. */
void cw_sfu_remb_scan(struct cw_sfu_worker *w, int64_t now);

/* tracks.c: publishers' tracks, media maps, retransmission caches, speakers. */
/* Makes a publisher's state; with a map, the caches of its kinds too. */
int cw_sfu_pub_new(struct cw_sfu_pub **pubp, const struct cw_sfu_media_map *map);
void cw_sfu_pub_free(struct cw_sfu_pub *pub);
bool cw_sfu_map_valid(const struct cw_sfu_media_map *map);
/* Into caches[CW_SFU_CACHES]: the video caches when map has a video payload type, the
 * audio cache when it has an audio one (the others NULL). 0 or -ENOMEM (none kept). */
int cw_sfu_caches_new(struct cw_sfu_rtx_cache **caches, const struct cw_sfu_media_map *map);
void cw_sfu_caches_free(struct cw_sfu_rtx_cache **caches);
/* The track of ssrc, claimed on its first packet; NULL when all are taken. */
struct cw_sfu_track *cw_sfu_track_get(struct cw_sfu_pub *pub, uint32_t ssrc, uint8_t kind,
				      int64_t now);
/* The publisher among the room's peers whose media goes to `sub` that sends ssrc. */
struct cw_sfu_track *cw_sfu_track_find(const struct cw_sfu_peer *sub, uint32_t ssrc,
				       struct cw_sfu_peer **publisher);
/* Keeps packet seq of t in its cache, when it has one. */
void cw_sfu_rtx_store(struct cw_sfu_track *t, const uint8_t *pkt, size_t len, uint16_t seq);
/* The packet seq of t as it was stored (*len bytes), or NULL when its cache no longer has
 * it, never had it, or t has no cache. */
const uint8_t *cw_sfu_rtx_find(const struct cw_sfu_track *t, uint16_t seq, size_t *len);
/* Notes the RFC 6464 voice activity and level (-dBov) of an audio packet. */
void cw_sfu_track_level(struct cw_sfu_track *t, bool voice, uint8_t level);
/* Frees the tracks of p that sent nothing for CW_SFU_TRACK_IDLE_MS. */
void cw_sfu_tracks_expire(struct cw_sfu_peer *p, int64_t now);
/* Picks each room's dominant speaker; queues SPEAKER when it changes. */
void cw_sfu_speaker_scan(struct cw_sfu_worker *w);
/* The commands. */
void cw_sfu_apply_map(struct cw_sfu_worker *w, struct cw_sfu_cmd *cmd);
void cw_sfu_apply_muted(struct cw_sfu_worker *w, const struct cw_sfu_cmd *cmd, int64_t now);

/* events.c: what the worker tells the control plane. */
/* Queues kind for p (FAILED and GONE at most once per peer, together). */
void cw_sfu_event_peer(struct cw_sfu_worker *w, struct cw_sfu_peer *p, enum cw_sfu_event_kind kind);
void cw_sfu_event_speaker(struct cw_sfu_worker *w, const struct cw_sfu_room *r);
/* Publishes this turn's events and wakes the control plane; before the worker sleeps. */
void cw_sfu_events_flush(struct cw_sfu_worker *w);

#endif
