/* dtls: DTLS 1.2 for DTLS-SRTP (RFC 5764) over memory: no sockets, no threads, no clock. */
#ifndef CW_RTC_DTLS_H
#define CW_RTC_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/srtp.h"

/* Times are milliseconds on the caller's monotonic clock (any origin). */

/* Largest datagram an endpoint emits by default (cw_dtls_ctx_set_mtu): the UDP payload,
 * which keeps a handshake flight clear of IP fragmentation on tunnels and TURN relays.
 * Longer handshake messages are fragmented by DTLS itself. */
#define CW_DTLS_MTU 1200
#define CW_DTLS_MTU_MIN 256 /* OpenSSL's smallest */
#define CW_DTLS_MTU_MAX 1500

/* Room for an SDP fingerprint value ("sha-512 " and 64 hex pairs) and its NUL. */
#define CW_DTLS_FINGERPRINT_MAX 200

/* Retransmission of a handshake flight (RFC 6347 §4.2.4): first after this long, then
 * doubling up to the maximum. OpenSSL gives up after 12 retransmissions of one flight, about
 * 44 s; callers usually give up earlier (cw_dtls_pending_ms). */
#define CW_DTLS_RTO_INITIAL_MS 500
#define CW_DTLS_RTO_MAX_MS 4000

/* cw_dtls_next_timeout's answer when no timer is running. */
#define CW_DTLS_NO_TIMEOUT INT64_MAX

/* Datagrams kept for the caller at most; more are dropped, as a full socket would. */
#define CW_DTLS_QUEUE_MAX 32

/* Why an endpoint failed (besides negative errno values for bad arguments and memory). */
#define CW_DTLS_ERR_MAP(X)                                                                         \
	X(FINGERPRINT, -4101, "the peer's certificate does not match the fingerprint in its SDP")  \
	X(ALERT, -4102, "the peer ended the handshake with a fatal alert")                         \
	X(TIMEOUT, -4103, "the handshake timed out: every retransmission went unanswered")         \
	X(NO_SRTP, -4104, "the peer agreed to no SRTP protection profile that is offered")         \
	X(PROTOCOL, -4105, "the DTLS handshake failed")                                            \
	X(CLOSED, -4106, "the DTLS connection is closed")

enum cw_dtls_error {
#define CW_DTLS_ERR_ENUM(name, value, text) CW_DTLS_E_##name = value,
	CW_DTLS_ERR_MAP(CW_DTLS_ERR_ENUM)
#undef CW_DTLS_ERR_ENUM
};

/* A description of err: one of CW_DTLS_E_*, a negative errno value or 0. Never NULL. */
const char *cw_dtls_strerror(int err);

/* The SDP's a=setup decides the role: setup:passive (the SFU) is the DTLS server,
 * setup:active (a client such as the SDK) the DTLS client. */
enum cw_dtls_role { CW_DTLS_SERVER, CW_DTLS_CLIENT };

enum cw_dtls_state {
	CW_DTLS_HANDSHAKING, /* until the handshake completes or fails */
	CW_DTLS_CONNECTED,   /* keys may be exported */
	CW_DTLS_CLOSED,	     /* close_notify sent or received */
	CW_DTLS_FAILED,	     /* see cw_dtls_error */
};

/* ---- Certificate ------------------------------------------------------------------ */

/* A self-signed ECDSA P-256 certificate and its key; one per process (or server), made at
 * start and shared by every DTLS context. Immutable, so any thread may read it. */
struct cw_dtls_cert;

/* Generates a key pair and a certificate valid from a day ago for a year. Returns 0,
 * -ENOMEM or -EIO. */
int cw_dtls_cert_new(struct cw_dtls_cert **certp);

/* Frees the certificate; contexts made from it keep their own reference. NULL is accepted. */
void cw_dtls_cert_free(struct cw_dtls_cert *cert);

/* The certificate's fingerprint as the value of an SDP a=fingerprint attribute:
 * "sha-256 " and 32 upper-case hex pairs joined by colons. */
const char *cw_dtls_cert_fingerprint(const struct cw_dtls_cert *cert);

/* ---- Context ---------------------------------------------------------------------- */

/* The configuration shared by the endpoints of one role (an SSL_CTX): certificate, DTLS 1.2,
 * ECDHE cipher suites, the SRTP profiles to offer or accept, peer verification by SDP
 * fingerprint. Endpoints may be created from several threads at once. */
struct cw_dtls_ctx;

/* Bit of a profile in the profiles argument of cw_dtls_ctx_new. */
#define CW_DTLS_PROFILE(p) (1u << (p))
/* Both profiles, AEAD_AES_128_GCM preferred (it costs a fraction of AES-CM + HMAC-SHA1). */
#define CW_DTLS_PROFILES_ALL                                                                       \
	(CW_DTLS_PROFILE(CW_SRTP_AEAD_AES_128_GCM) | CW_DTLS_PROFILE(CW_SRTP_AES128_CM_SHA1_80))

/* Creates a context for role with cert. profiles is a set of CW_DTLS_PROFILE bits (0 means
 * CW_DTLS_PROFILES_ALL); GCM comes first when included. A server picks by its own order, so
 * it chooses GCM whenever the client offers it. Returns 0, -EINVAL, -ENOMEM or -EIO. */
int cw_dtls_ctx_new(struct cw_dtls_ctx **ctxp, const struct cw_dtls_cert *cert,
		    enum cw_dtls_role role, unsigned int profiles);

/* Frees the context; endpoints made from it keep working. NULL is accepted. */
void cw_dtls_ctx_free(struct cw_dtls_ctx *ctx);

/* Sets the largest datagram (UDP payload) of the endpoints created afterwards, between
 * CW_DTLS_MTU_MIN and CW_DTLS_MTU_MAX. Call while configuring, before the context is shared.
 * Returns 0 or -EINVAL. */
int cw_dtls_ctx_set_mtu(struct cw_dtls_ctx *ctx, size_t mtu);

/* ---- Endpoint --------------------------------------------------------------------- */

/* One peer's DTLS association. The caller feeds it the datagrams that arrive from the peer
 * (cw_dtls_input), sends what it queues (cw_dtls_output), and drives its retransmission timer
 * (cw_dtls_next_timeout, cw_dtls_handle_timeout). Single-threaded: one thread at a time. */
struct cw_dtls;

/* Creates an endpoint of ctx's role for a peer whose SDP carries remote_fingerprint
 * ("sha-256 AB:CD:…"; sha-384 and sha-512 are accepted too). A client queues its
 * ClientHello at once; a server waits for one. The handshake counts as pending from now.
 * Returns 0, -EINVAL (fingerprint not understood), -ENOMEM or -EIO. */
int cw_dtls_new(struct cw_dtls **dtlsp, const struct cw_dtls_ctx *ctx,
		const char *remote_fingerprint, int64_t now);

/* Frees the endpoint (without sending close_notify: see cw_dtls_close). NULL is accepted. */
void cw_dtls_free(struct cw_dtls *dtls);

/* Processes one datagram from the peer (demultiplexed by the caller: first byte 20..63,
 * RFC 7983). Invalid records are dropped silently, as DTLS requires. Datagrams to send in
 * reply are queued. Returns 0, or the endpoint's error once it has failed (state FAILED);
 * after a failure the queue may hold a fatal alert that the caller should still send. */
int cw_dtls_input(struct cw_dtls *dtls, const void *buf, size_t len, int64_t now);

/* Moves the next queued datagram into buf (size bytes; the context's MTU suffices). Returns
 * its length, 0 when the queue is empty, or -EMSGSIZE (the datagram is dropped) when it
 * does not fit. */
int cw_dtls_output(struct cw_dtls *dtls, void *buf, size_t size);

/* When cw_dtls_handle_timeout should run next, or CW_DTLS_NO_TIMEOUT. Call after input. */
int64_t cw_dtls_next_timeout(const struct cw_dtls *dtls, int64_t now);

/* Retransmits the last flight if its timer expired at now (queuing datagrams). Returns 0,
 * or CW_DTLS_E_TIMEOUT when the retransmissions are exhausted (state FAILED). */
int cw_dtls_handle_timeout(struct cw_dtls *dtls, int64_t now);

/* True when the retransmission timer follows the caller's clock exactly (OpenSSL 3.0 and
 * 3.1). With later OpenSSL, OpenSSL's own wall clock decides when a flight is due; the
 * caller's schedule still works because both clocks advance together. */
bool cw_dtls_timer_exact(void);

/* Moves to CLOSED; a connected endpoint queues close_notify for the peer first. Returns 0. */
int cw_dtls_close(struct cw_dtls *dtls);

/* The endpoint's state. */
enum cw_dtls_state cw_dtls_state(const struct cw_dtls *dtls);

/* How long the handshake has been pending at now (0 once it is no longer in progress); the
 * caller gives up after its own limit (cw_dtls_free). */
int64_t cw_dtls_pending_ms(const struct cw_dtls *dtls, int64_t now);

/* The reason of a failure (CW_DTLS_E_*), or 0. */
int cw_dtls_error(const struct cw_dtls *dtls);

/* A one-line explanation of the failure for logs (the alert received, the fingerprints that
 * differ, OpenSSL's reason), or "" when the endpoint has not failed. */
const char *cw_dtls_error_detail(const struct cw_dtls *dtls);

/* Exports the SRTP keys of a CONNECTED endpoint (RFC 5764 §4.2: "EXTRACTOR-dtls_srtp",
 * split into client and server key and salt for the negotiated profile); local keys are
 * this side's write keys. Returns 0 or -ENOTCONN (or -EIO). */
int cw_dtls_srtp_keys(struct cw_dtls *dtls, struct cw_srtp_keys *keys);

/* Whether a datagram's first byte marks DTLS (20..63) in the RFC 7983 demultiplexing of one
 * UDP port shared with STUN (0..3) and SRTP/SRTCP (128..191). */
bool cw_dtls_is_record(const void *buf, size_t len);

#endif
