/* sfu_client: in-test "browsers" for the media plane's tests: a loopback UDP socket, real
 * ICE checks, a DTLS client (a=setup:active), SRTP, and what arrived; and the media
 * plane's events, waited for with deadlines. */
#ifndef CW_TEST_SFU_CLIENT_H
#define CW_TEST_SFU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/dtls.h"
#include "rtc/srtp.h"
#include "sfu/sfu.h"

#define DEADLINE_MS 5000
#define PWD_SUFFIX "0123456789abcdefghijkl" /* 22 characters: with a prefix, a valid pwd */
#define PAYLOAD_LEN 60
#define SOURCES_MAX 8
#define LOSE_MAX 8

/* How a client joins (zero: a CW_SFU_BOTH peer of its own participant, no map). */
struct client_opts {
	const char *room;		 /* NULL: ICE only */
	const struct cw_dtls_cert *cert; /* the certificate the client presents */
	const char *announced_fp;	 /* the server is told to expect it; NULL: cert's */
	unsigned profiles;		 /* the server's profiles the client accepts; 0 all */
	enum cw_sfu_dir dir;
	const char *participant;
	const struct cw_sfu_media_map *map;
};

struct client {
	const char *name;
	int fd;
	struct cw_sfu *sfu;
	char ufrag[16], pwd[40];
	struct cw_dtls *dtls;
	struct cw_srtp *srtp;
	uint32_t ssrc; /* of send_rtp */
	uint8_t tid_seed;
	const uint8_t *want_tid; /* the check whose answer pump waits for */
	int answer_cls;		 /* its class once it arrived, else -1 */
	/* Received RTP per source SSRC (payload checked, last payload type) and the last
	 * packet itself, plain. */
	struct {
		uint32_t ssrc;
		unsigned packets, bad_payload;
		uint8_t pt;
	} src[SOURCES_MAX];
	unsigned n_src, rtp, srtp_errors;
	uint8_t last[1500];
	size_t last_len;
	/* RTP of these sequence numbers is thrown away unread, as if lost. */
	uint16_t lose[LOSE_MAX];
	unsigned n_lose;
	/* Received RTCP. */
	unsigned pli, fir, sr, remb;
	uint32_t pli_ssrc; /* the media SSRC of the last PLI */
	uint64_t remb_bps;
	uint32_t remb_ssrc[4];
	unsigned remb_n;
};

int64_t now_ms(void);

/* Opens c (a socket) and adds its peer under ufrag to worker 0 of sfu. */
void client_open(struct client *c, struct cw_sfu *sfu, const char *name, const char *ufrag,
		 const struct client_opts *o);
/* ICE, then DTLS: a client that ends up with SRTP keys. */
void client_connect(struct client *c);
void client_close(struct client *c);

void send_raw(struct client *c, int fd, const void *buf, size_t len);
/* Reads and handles one datagram within timeout_ms; false when none came. */
bool pump(struct client *c, int timeout_ms);
/* Handles whatever arrives for ms (a grace period to show that nothing does). */
void drain(struct client *c, int ms);
/* One connectivity check (nominating); returns the answer's class, or -1 without one. */
int check(struct client *c, int timeout_ms);
/* Checks until one succeeds. The worker reads its one socket in order, so after a success
 * everything sent to it before (by any client) has been handled. */
void sync_ice(struct client *c);
/* Sends what the DTLS client queued. */
void dtls_send(struct client *c);
/* Runs the handshake on the test's clock until it settles; returns the final state. */
enum cw_dtls_state handshake(struct client *c);
/* Once this returns, every command queued to worker 0 of sfu before was applied. */
void barrier(struct cw_sfu *sfu);

/* Payload bytes, different for every source and sequence number. */
uint8_t payload_byte(uint32_t ssrc, uint16_t seq, size_t i);
/* An Opus-like packet (PT 111) of c->ssrc, protected with srtp. */
size_t make_srtp(struct client *c, struct cw_srtp *srtp, uint16_t seq, uint8_t *buf, size_t cap);
void send_rtp(struct client *c, uint16_t first_seq, unsigned count);
/* A packet of ssrc and pt with PAYLOAD_LEN payload bytes and, when ext_len, one-byte header
 * extension elements ext[0..ext_len) (padded here), protected and sent. */
void send_media(struct client *c, uint32_t ssrc, uint8_t pt, uint16_t seq, const uint8_t *ext,
		size_t ext_len);
/* A plain RTCP packet, protected and sent. */
void send_rtcp(struct client *c, const uint8_t *buf, size_t len);

unsigned received_ssrc(const struct client *c, uint32_t ssrc);
/* Receives until `count` packets of ssrc arrived or the deadline passed. */
unsigned receive_ssrc(struct client *c, uint32_t ssrc, unsigned count);
unsigned received_from(const struct client *c, const struct client *from);
unsigned receive_from(struct client *c, const struct client *from, unsigned count);

struct cw_sfu_stats sfu_stats(struct cw_sfu *sfu);

/* ---- events ---- */

/* The wake callback for cw_sfu_config.wake: counts and makes the event pipe readable. */
void events_wake(void *arg);
void events_start(void);
void events_stop(void);
unsigned events_wakes(void);
/* Waits until an event of kind about `who` (the ufrag; for SPEAKER the participant) came,
 * and takes it; false at the deadline. */
bool wait_event(struct cw_sfu *sfu, enum cw_sfu_event_kind kind, const char *who, int timeout_ms);
/* Forgets the events seen so far. */
void events_forget(struct cw_sfu *sfu);

#endif
