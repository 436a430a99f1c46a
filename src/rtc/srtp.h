/* srtp: SRTP and SRTCP sessions (RFC 3711, RFC 7714) on OpenSSL's EVP, keyed from DTLS-SRTP. */
#ifndef CW_RTC_SRTP_H
#define CW_RTC_SRTP_H

#include <stddef.h>
#include <stdint.h>

/* The protection profiles, numbered as in the IANA DTLS-SRTP registry (RFC 5764, RFC 7714). */
enum cw_srtp_profile {
	CW_SRTP_AES128_CM_SHA1_80 = 0x0001, /* SRTP_AES128_CM_HMAC_SHA1_80 */
	CW_SRTP_AEAD_AES_128_GCM = 0x0007,  /* SRTP_AEAD_AES_128_GCM, 16-byte tag */
};

/* Master key and salt sizes: the key is 16 bytes for both profiles, the salt 14 bytes for
 * AES-CM and 12 for AES-GCM. */
#define CW_SRTP_KEY_LEN 16
#define CW_SRTP_SALT_MAX 14

/* Room a protect call may write past the packet (libsrtp's SRTP_MAX_TRAILER_LEN, kept when the
 * implementation left libsrtp so that callers' buffers stay valid). A buffer handed to
 * cw_srtp_protect or cw_srtp_protect_rtcp must hold len + CW_SRTP_TRAILER_MAX bytes. The actual
 * growth is 10 bytes (RTP, AES-CM), 16 (RTP, GCM), 14 (RTCP, AES-CM) or 20 (RTCP, GCM). */
#define CW_SRTP_TRAILER_MAX 144

/* Replay window of the inbound streams, in packets. Wide enough for retransmissions that
 * NACK asks for (and RTX) to arrive up to a second late in a 1,000 packet/s video stream. */
#define CW_SRTP_REPLAY_WINDOW 1024

/* SSRCs a session keeps state for, per direction (an SSRC's RTP and RTCP share one entry).
 * Inbound, a stream is created only by a packet that authenticates, and beyond this many the
 * least recently used one is forgotten (a later packet of it starts it again from ROC 0).
 * Outbound, a stream is never forgotten, since starting it again would reuse its indices and
 * so its keystream (and for GCM its nonces): a new SSRC beyond the limit is refused with
 * CW_SRTP_E_FAIL. The SFU sends a subscriber at most a few SSRCs per other participant. */
#define CW_SRTP_STREAMS_MAX 1024

/* Errors besides negative errno values (-EINVAL for a packet too short or malformed to be
 * RTP/RTCP, -ENOSPC when the buffer lacks CW_SRTP_TRAILER_MAX bytes of room, -ENOMEM,
 * -EIO when OpenSSL lacks a cipher). Distinct codes let the caller count each kind. */
#define CW_SRTP_ERR_MAP(X)                                                                         \
	X(AUTH, -4201, "SRTP authentication failed (wrong key or altered packet)")                 \
	X(REPLAY, -4202, "SRTP packet replayed (index already received)")                          \
	X(REPLAY_OLD, -4203, "SRTP packet older than the replay window")                           \
	X(FAIL, -4204, "SRTP processing failed")

enum cw_srtp_error {
#define CW_SRTP_ERR_ENUM(name, value, text) CW_SRTP_E_##name = value,
	CW_SRTP_ERR_MAP(CW_SRTP_ERR_ENUM)
#undef CW_SRTP_ERR_ENUM
};

/* A description of err: one of CW_SRTP_E_*, a negative errno value or 0. Never NULL. */
const char *cw_srtp_strerror(int err);

/* Keys for one SRTP session, seen from one side: "local" protects what this side sends,
 * "remote" unprotects what it receives. cw_dtls_srtp_keys fills it from a DTLS handshake;
 * key lengths follow the profile (cw_srtp_salt_len). */
struct cw_srtp_keys {
	enum cw_srtp_profile profile;
	uint8_t local_key[CW_SRTP_KEY_LEN];
	uint8_t local_salt[CW_SRTP_SALT_MAX];
	uint8_t remote_key[CW_SRTP_KEY_LEN];
	uint8_t remote_salt[CW_SRTP_SALT_MAX];
};

/* The master salt length of a profile (14 or 12), or 0 for an unknown profile. */
size_t cw_srtp_salt_len(enum cw_srtp_profile profile);

/* The profile's name as RFC 5764 / RFC 7714 spell it ("SRTP_AEAD_AES_128_GCM"), or "unknown". */
const char *cw_srtp_profile_name(enum cw_srtp_profile profile);

/* The crypto library behind SRTP ("OpenSSL 3.0.13 (EVP)"), for logs. */
const char *cw_srtp_library_version(void);

/* One peer's SRTP session: an outbound context (any SSRC this side sends) and an inbound one
 * (any SSRC the peer sends), RTP and RTCP (rtcp-mux), one profile. Not thread-safe: one
 * thread uses a session at a time; different sessions may be used from different threads. */
struct cw_srtp;

/* Creates a session from keys (the caller may wipe them afterwards): derives the session keys
 * (RFC 3711 §4.3, key derivation rate 0) and keys OpenSSL's cipher contexts, whose algorithms
 * are fetched once per process. Returns 0, -EINVAL (unknown profile), -ENOMEM or -EIO. */
int cw_srtp_new(struct cw_srtp **srtpp, const struct cw_srtp_keys *keys);

/* Frees the session and wipes its keys and stream state. NULL is accepted. */
void cw_srtp_free(struct cw_srtp *srtp);

/* The session's profile. */
enum cw_srtp_profile cw_srtp_profile(const struct cw_srtp *srtp);

/* Protects the RTP packet of len bytes in pkt in place; pkt holds cap bytes, at least
 * len + CW_SRTP_TRAILER_MAX. Returns the SRTP length (> len) or a negative code:
 * -EINVAL (not RTP, or longer than 1 MiB), -ENOSPC, CW_SRTP_E_REPLAY_OLD (a sequence number
 * more than CW_SRTP_REPLAY_WINDOW behind the highest one sent: the receiver would drop it),
 * CW_SRTP_E_FAIL (CW_SRTP_STREAMS_MAX outbound SSRCs already) or -ENOMEM.
 * A sequence number may be protected again (a NACK retransmission of the same packet), but
 * never for different content: that would reuse a keystream. The rollover counter follows
 * the sequence numbers as RFC 3711 Appendix A estimates it. No allocation, except when the
 * session's table of SSRCs grows for a new one. */
int cw_srtp_protect(struct cw_srtp *srtp, void *pkt, size_t len, size_t cap);

/* Verifies and decrypts the SRTP packet of len bytes in pkt in place. Returns the RTP length
 * (< len) or CW_SRTP_E_AUTH, CW_SRTP_E_REPLAY, CW_SRTP_E_REPLAY_OLD, -EINVAL (not RTP, or
 * too short to hold the header and the tag), -ENOMEM (a new SSRC's state), CW_SRTP_E_FAIL.
 * The replay window is checked before anything is decrypted and moved only once the packet
 * authenticated, so a forged or altered packet changes no state. On failure pkt's content
 * is unspecified. */
int cw_srtp_unprotect(struct cw_srtp *srtp, void *pkt, size_t len);

/* cw_srtp_protect for a (compound) RTCP packet: encrypted (E flag set), with the SSRC's next
 * SRTCP index, 1 first. CW_SRTP_E_FAIL once an SSRC used all 2^31 - 1 indices. */
int cw_srtp_protect_rtcp(struct cw_srtp *srtp, void *pkt, size_t len, size_t cap);

/* cw_srtp_unprotect for an SRTCP packet. An SRTCP packet that is not encrypted (E flag clear)
 * is refused as CW_SRTP_E_AUTH: this side only accepts what it sends. */
int cw_srtp_unprotect_rtcp(struct cw_srtp *srtp, void *pkt, size_t len);

#endif
