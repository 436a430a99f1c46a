/* srtp_internal: the parts of srtp.c below its API, for the tests to check against the RFCs. */
#ifndef CW_RTC_SRTP_INTERNAL_H
#define CW_RTC_SRTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/srtp.h"

/* The key derivation labels of RFC 3711 §4.3.2. */
enum cw__srtp_label {
	CW__SRTP_LABEL_RTP_KEY = 0x00,
	CW__SRTP_LABEL_RTP_AUTH = 0x01,
	CW__SRTP_LABEL_RTP_SALT = 0x02,
	CW__SRTP_LABEL_RTCP_KEY = 0x03,
	CW__SRTP_LABEL_RTCP_AUTH = 0x04,
	CW__SRTP_LABEL_RTCP_SALT = 0x05,
};

#define CW__SRTP_AUTH_KEY_LEN 20 /* HMAC-SHA1's key (RFC 3711 §8.2) */

/* AES-128 in counter mode as SRTP uses it (RFC 3711 §4.1.1): XORs len bytes of buf in place
 * with the keystream whose first counter block is iv. Returns 0, -ENOMEM or -EIO. */
int cw__srtp_aes_cm(const uint8_t key[CW_SRTP_KEY_LEN], const uint8_t iv[16], uint8_t *buf,
		    size_t len);

/* The key derivation function (RFC 3711 §4.3.1 and §4.3.3, key derivation rate 0), which
 * RFC 7714 keeps for AES-GCM: out_len bytes for label from a master key and a master salt of
 * salt_len bytes. AES-GCM's 12-byte salt takes the first 12 of the PRF's 14 salt bytes, the
 * last two zero, as libsrtp does. Returns 0, -EINVAL, -ENOMEM or -EIO. */
int cw__srtp_kdf(const uint8_t key[CW_SRTP_KEY_LEN], const uint8_t *salt, size_t salt_len,
		 enum cw__srtp_label label, uint8_t *out, size_t out_len);

/* The session keys of one direction. The salts use their first 14 bytes (AES-CM) or 12
 * (AES-GCM); the authentication keys serve AES-CM only. */
struct cw__srtp_session_keys {
	uint8_t rtp_key[CW_SRTP_KEY_LEN];
	uint8_t rtp_salt[CW_SRTP_SALT_MAX];
	uint8_t rtp_auth[CW__SRTP_AUTH_KEY_LEN];
	uint8_t rtcp_key[CW_SRTP_KEY_LEN];
	uint8_t rtcp_salt[CW_SRTP_SALT_MAX];
	uint8_t rtcp_auth[CW__SRTP_AUTH_KEY_LEN];
};

/* Derives one direction's session keys from its master key and salt. */
int cw__srtp_derive(struct cw__srtp_session_keys *out, enum cw_srtp_profile profile,
		    const uint8_t key[CW_SRTP_KEY_LEN], const uint8_t *salt);

/* A session from session keys rather than master keys (RFC 7714's vectors give those).
 * Returns 0, -EINVAL (unknown profile), -ENOMEM or -EIO. */
int cw__srtp_new_session(struct cw_srtp **srtpp, enum cw_srtp_profile profile,
			 const struct cw__srtp_session_keys *local,
			 const struct cw__srtp_session_keys *remote);

/* Makes index the SRTCP index of the next RTCP packet the session protects for ssrc
 * (1 .. 2^31 - 1), creating the SSRC's outbound state if needed. Returns 0, -EINVAL, -ENOMEM
 * or CW_SRTP_E_FAIL. */
int cw__srtp_set_rtcp_index(struct cw_srtp *srtp, uint32_t ssrc, uint32_t index);

/* The number of SSRCs the session keeps state for, outbound or inbound. */
size_t cw__srtp_streams(const struct cw_srtp *srtp, bool outbound);

#endif
