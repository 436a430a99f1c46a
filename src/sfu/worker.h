/* worker: the media plane's private header: one worker's loop, queues and peers. */
#ifndef CW_SFU_WORKER_H
#define CW_SFU_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "sfu/sfu.h"

#define CW_SFU_BATCH 32	      /* datagrams per recvmmsg / sendmmsg */
#define CW_SFU_DGRAM_MAX 1500 /* larger datagrams are truncated, then dropped */

/* One peer connection as the worker sees it: its ICE credentials and where it is. */
struct cw_sfu_peer {
	char ufrag[CW_SFU_UFRAG_MAX + 1];
	char pwd[CW_SFU_PWD_MAX + 1];
	size_t pwd_len;
	bool selected; /* an address passed a check (and was nominated) */
	struct sockaddr_storage addr;
	int64_t last_check_ms; /* consent freshness */
};

/* ufrag -> peer, open addressing with linear probing; grown only on the command path. */
struct cw_sfu_peers {
	struct cw_sfu_peer **slots;
	size_t cap, count;
};

struct cw_sfu_peer *cw_sfu_peers_find(const struct cw_sfu_peers *t, const char *ufrag, size_t len);
int cw_sfu_peers_add(struct cw_sfu_peers *t, struct cw_sfu_peer *p);
void cw_sfu_peers_remove(struct cw_sfu_peers *t, const char *ufrag);
void cw_sfu_peers_free(struct cw_sfu_peers *t);

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
	atomic_uint_fast64_t dropped_unknown, dropped_unverified;
};

struct cw_sfu_tx {
	struct mmsghdr msgs[CW_SFU_BATCH];
	struct iovec iov[CW_SFU_BATCH];
	struct sockaddr_storage addr[CW_SFU_BATCH];
	uint8_t buf[CW_SFU_BATCH][CW_SFU_DGRAM_MAX];
	unsigned n;
};

struct cw_sfu_worker {
	int index;
	int fd, epfd, evfd;
	uint16_t port;
	pthread_t thread;
	bool started;

	/* The command queue: the only state shared with other threads, besides counters. */
	pthread_mutex_t lock;
	struct cw_sfu_cmd *head, **tail;
	bool stop;

	/* The worker's own. */
	struct cw_sfu_peers peers;
	struct cw_sfu_tx tx;
	struct mmsghdr rx_msgs[CW_SFU_BATCH];
	struct iovec rx_iov[CW_SFU_BATCH];
	struct sockaddr_storage rx_addr[CW_SFU_BATCH];
	uint8_t rx_buf[CW_SFU_BATCH][CW_SFU_DGRAM_MAX];

	struct cw_sfu_counters n;
};

struct cw_sfu {
	int n_workers;
	struct cw_sfu_worker *workers[CW_SFU_WORKERS_MAX];
};

/* Queues one datagram for the next sendmmsg; flushes first when the batch is full. */
void cw_sfu_tx_push(struct cw_sfu_worker *w, const uint8_t *data, size_t len,
		    const struct sockaddr_storage *to);
void cw_sfu_tx_flush(struct cw_sfu_worker *w);

/* ice.c: one STUN datagram from `from`. */
void cw_sfu_ice_input(struct cw_sfu_worker *w, const uint8_t *buf, size_t len,
		      const struct sockaddr_storage *from, int64_t now_ms);

#endif
