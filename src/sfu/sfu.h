/* sfu: the media plane: worker threads, each with its own epoll loop and UDP port, that
 * answer ICE checks and (to come) carry DTLS-SRTP media between a session's peers. The
 * control plane talks to the workers only through their command queues. */
#ifndef CW_SFU_H
#define CW_SFU_H

#include <stdbool.h>
#include <stdint.h>

#define CW_SFU_WORKERS_MAX 64
#define CW_SFU_UFRAG_MAX 32 /* ICE ufrag: 4–32 characters (RFC 8839 allows 256; we make ours) */
#define CW_SFU_PWD_MAX 64   /* ICE pwd: 22–256; ours are 32 */

struct cw_sfu;

struct cw_sfu_config {
	const char *bind_ip; /* the address the workers' sockets bind ("0.0.0.0", "127.0.0.1") */
	/* Worker i binds port_min + i; port_min 0 lets the kernel choose each port. */
	uint16_t port_min, port_max;
	int workers; /* 1..CW_SFU_WORKERS_MAX; 0: one per online core */
};

/* Counters of the whole media plane, for /metrics. */
struct cw_sfu_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t stun_checks;	     /* valid checks answered with a success */
	uint64_t stun_unauthorized;  /* unknown ufrag or wrong integrity: answered 401 */
	uint64_t stun_bad;	     /* malformed, or a request ICE does not send: 400 or dropped */
	uint64_t dropped_unknown;    /* bytes that are no protocol of ours */
	uint64_t dropped_unverified; /* DTLS or RTP from an address that passed no check */
};

/* Starts the workers; each has bound its socket when this returns. 0 or a negative errno
 * (-EADDRINUSE when a port of the range is taken). */
int cw_sfu_start(struct cw_sfu **sfup, const struct cw_sfu_config *cfg);
/* Stops and joins the workers and frees everything. NULL is ignored. */
void cw_sfu_stop(struct cw_sfu *sfu);

int cw_sfu_workers(const struct cw_sfu *sfu);
/* The UDP port worker i listens on. */
uint16_t cw_sfu_port(const struct cw_sfu *sfu, int worker);

/* Makes worker answer ICE checks addressed to ufrag, integrity-keyed with pwd (both ours,
 * as put in our SDP). Queued: the worker applies it before it reads its next packets.
 * 0, -EINVAL for credentials out of bounds, -ENOMEM. */
int cw_sfu_add_peer(struct cw_sfu *sfu, int worker, const char *ufrag, const char *pwd);
int cw_sfu_remove_peer(struct cw_sfu *sfu, int worker, const char *ufrag);

void cw_sfu_get_stats(const struct cw_sfu *sfu, struct cw_sfu_stats *out);

#endif
