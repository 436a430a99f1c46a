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
#include "sfu/sfu.h"

#define CW_SFU_BATCH 32	      /* datagrams per recvmmsg / sendmmsg */
#define CW_SFU_DGRAM_MAX 1500 /* larger datagrams are truncated, then dropped */
/* A send slot holds a received datagram plus what protecting it again may add. */
#define CW_SFU_TX_SLOT (CW_SFU_DGRAM_MAX + CW_SRTP_TRAILER_MAX)
/* How often the worker looks for peers whose consent expired. */
#define CW_SFU_CONSENT_SCAN_MS 1000

struct cw_sfu_room;

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

	/* Media; all NULL for an ICE-only peer. */
	char room_id[CW_SFU_ROOM_MAX + 1];
	struct cw_sfu_room *room;
	size_t room_index;    /* its place in room->members */
	struct cw_dtls *dtls; /* freed when the handshake fails or times out */
	struct cw_srtp *srtp; /* once the handshake completed */
	bool handshaking;     /* on the worker's handshake list */
	struct cw_sfu_peer *hs_prev, *hs_next;
};

/* The peers of one room on one worker (a session lives on one worker). */
struct cw_sfu_room {
	struct cw_sfu_room *next;
	char id[CW_SFU_ROOM_MAX + 1];
	struct cw_sfu_peer **members;
	size_t n, cap;
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
bool cw_sfu_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

enum cw_sfu_cmd_kind { CW_SFU_CMD_ADD_PEER, CW_SFU_CMD_DEL_PEER };

struct cw_sfu_cmd {
	struct cw_sfu_cmd *next;
	enum cw_sfu_cmd_kind kind;
	struct cw_sfu_peer *peer; /* ADD: handed over to the worker */
	char ufrag[CW_SFU_UFRAG_MAX + 1];
};

struct cw_sfu_counters {
	atomic_uint_fast64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	atomic_uint_fast64_t stun_checks, stun_unauthorized, stun_bad;
	atomic_uint_fast64_t dropped_unknown, dropped_unverified, dropped_not_ready;
	atomic_uint_fast64_t dtls_connected, dtls_failed;
	atomic_uint_fast64_t srtp_auth_failed, srtp_replayed;
	atomic_uint_fast64_t rtp_forwarded, rtcp_forwarded, consent_expired;
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
	int fd, epfd, evfd;
	uint16_t port;
	pthread_t thread;
	bool started;
	int64_t consent_timeout_ms;

	/* The command queue: the only state shared with other threads, besides counters. */
	pthread_mutex_t lock;
	struct cw_sfu_cmd *head, **tail;
	bool stop;

	/* The worker's own. */
	struct cw_sfu_peers peers;
	struct cw_sfu_addrs addrs;
	struct cw_sfu_room *rooms;
	struct cw_sfu_peer *handshaking; /* peers whose DTLS handshake is pending */
	int64_t next_consent_scan;
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

/* forward.c: one SRTP or SRTCP datagram (first byte 128..191) of p, decrypted in place. */
void cw_sfu_media_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, uint8_t *buf, size_t len);

#endif
