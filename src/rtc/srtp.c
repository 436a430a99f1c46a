/* srtp: libsrtp2 sessions from DTLS-SRTP keys; in-place protect and unprotect, no allocation. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "rtc/srtp.h"

_Static_assert(CW_SRTP_TRAILER_MAX == SRTP_MAX_TRAILER_LEN, "trailer room must match libsrtp");

#define RTP_HEADER_LEN 12
#define RTCP_HEADER_LEN 8

struct cw_srtp {
	srtp_t tx;
	srtp_t rx;
	enum cw_srtp_profile profile;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_init_fail;

static void init_library(void)
{
	init_status = srtp_init();
}

/* libsrtp's global state (its crypto kernel) is set up once per process and stays for the
 * process's life: sessions of every thread share it read-only. */
static int srtp_ready(void)
{
	pthread_once(&init_once, init_library);
	return init_status == srtp_err_status_ok ? 0 : -EIO;
}

const char *cw_srtp_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CW_SRTP_ERR_TEXT(name, value, text)                                                        \
	case CW_SRTP_E_##name:                                                                     \
		return text;
		CW_SRTP_ERR_MAP(CW_SRTP_ERR_TEXT)
#undef CW_SRTP_ERR_TEXT
	default:
		return err < 0 ? strerror(-err) : "unknown error";
	}
}

size_t cw_srtp_salt_len(enum cw_srtp_profile profile)
{
	switch (profile) {
	case CW_SRTP_AES128_CM_SHA1_80:
		return 14;
	case CW_SRTP_AEAD_AES_128_GCM:
		return 12;
	}
	return 0;
}

const char *cw_srtp_profile_name(enum cw_srtp_profile profile)
{
	switch (profile) {
	case CW_SRTP_AES128_CM_SHA1_80:
		return "SRTP_AES128_CM_SHA1_80";
	case CW_SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM";
	}
	return "unknown";
}

const char *cw_srtp_library_version(void)
{
	if (srtp_ready() != 0)
		return "libsrtp2 (failed to start)";
	return srtp_get_version_string();
}

/* One direction's context. The key buffer is libsrtp's master key followed by the master
 * salt; libsrtp derives its session keys from it in srtp_create and keeps no pointer. */
static int create_context(srtp_t *ctx, enum cw_srtp_profile profile, bool outbound,
			  const uint8_t *key, const uint8_t *salt)
{
	uint8_t master[CW_SRTP_KEY_LEN + CW_SRTP_SALT_MAX];
	size_t salt_len = cw_srtp_salt_len(profile);
	srtp_policy_t policy;
	srtp_err_status_t st;

	memset(&policy, 0, sizeof(policy));
	if (profile == CW_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
	}
	memcpy(master, key, CW_SRTP_KEY_LEN);
	memcpy(master + CW_SRTP_KEY_LEN, salt, salt_len);
	policy.key = master;
	/* One template per direction: every SSRC of the bundle shares the master key, and
	 * libsrtp clones the template (after authenticating, for inbound) per new SSRC. */
	policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	policy.window_size = CW_SRTP_REPLAY_WINDOW;
	/* The SFU resends a packet it still holds when a NACK asks for it. */
	policy.allow_repeat_tx = outbound;
	st = srtp_create(ctx, &policy);
	OPENSSL_cleanse(master, sizeof(master));
	if (st == srtp_err_status_alloc_fail)
		return -ENOMEM;
	return st == srtp_err_status_ok ? 0 : -EIO;
}

int cw_srtp_new(struct cw_srtp **srtpp, const struct cw_srtp_keys *keys)
{
	struct cw_srtp *s = NULL;
	int err;

	*srtpp = NULL;
	if (cw_srtp_salt_len(keys->profile) == 0)
		return -EINVAL;
	err = srtp_ready();
	if (err != 0)
		return err;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->profile = keys->profile;
	err = create_context(&s->tx, keys->profile, true, keys->local_key, keys->local_salt);
	if (err != 0)
		goto out;
	err = create_context(&s->rx, keys->profile, false, keys->remote_key, keys->remote_salt);
	if (err != 0)
		goto out;
	*srtpp = s;
	s = NULL;
out:
	cw_srtp_free(s);
	return err;
}

void cw_srtp_free(struct cw_srtp *srtp)
{
	if (srtp == NULL)
		return;
	/* srtp_dealloc wipes the derived keys of every stream. */
	if (srtp->tx != NULL)
		srtp_dealloc(srtp->tx);
	if (srtp->rx != NULL)
		srtp_dealloc(srtp->rx);
	free(srtp);
}

enum cw_srtp_profile cw_srtp_profile(const struct cw_srtp *srtp)
{
	return srtp->profile;
}

static int map_status(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
	case srtp_err_status_cipher_fail: /* an AEAD tag that does not verify */
		return CW_SRTP_E_AUTH;
	case srtp_err_status_replay_fail:
		return CW_SRTP_E_REPLAY;
	case srtp_err_status_replay_old:
		return CW_SRTP_E_REPLAY_OLD;
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
		return -EINVAL;
	default:
		return CW_SRTP_E_FAIL;
	}
}

/* The fixed header, the CSRC list and the header extension lie inside the packet: libsrtp
 * reads them before it authenticates anything. */
static bool rtp_header_fits(const uint8_t *p, size_t len)
{
	size_t hlen;

	if (len < RTP_HEADER_LEN || (p[0] >> 6) != 2)
		return false;
	hlen = RTP_HEADER_LEN + 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (len < hlen + 4)
			return false;
		hlen += 4 + 4u * (((size_t)p[hlen + 2] << 8) | p[hlen + 3]);
	}
	return hlen <= len;
}

static bool rtcp_header_fits(const uint8_t *p, size_t len)
{
	return len >= RTCP_HEADER_LEN && (p[0] >> 6) == 2;
}

/* Lengths fit an int (libsrtp's type) with the trailer added. */
static int check_room(size_t len, size_t cap)
{
	if (len > INT_MAX - CW_SRTP_TRAILER_MAX)
		return -EINVAL;
	return cap >= len + CW_SRTP_TRAILER_MAX ? 0 : -ENOSPC;
}

int cw_srtp_protect(struct cw_srtp *srtp, void *pkt, size_t len, size_t cap)
{
	int n = (int)len;
	int err;

	if (!rtp_header_fits(pkt, len))
		return -EINVAL;
	err = check_room(len, cap);
	if (err != 0)
		return err;
	err = map_status(srtp_protect(srtp->tx, pkt, &n));
	return err != 0 ? err : n;
}

int cw_srtp_unprotect(struct cw_srtp *srtp, void *pkt, size_t len)
{
	int n = (int)len;
	int err;

	if (len > INT_MAX || !rtp_header_fits(pkt, len))
		return -EINVAL;
	err = map_status(srtp_unprotect(srtp->rx, pkt, &n));
	return err != 0 ? err : n;
}

int cw_srtp_protect_rtcp(struct cw_srtp *srtp, void *pkt, size_t len, size_t cap)
{
	int n = (int)len;
	int err;

	if (!rtcp_header_fits(pkt, len))
		return -EINVAL;
	err = check_room(len, cap);
	if (err != 0)
		return err;
	err = map_status(srtp_protect_rtcp(srtp->tx, pkt, &n));
	return err != 0 ? err : n;
}

int cw_srtp_unprotect_rtcp(struct cw_srtp *srtp, void *pkt, size_t len)
{
	int n = (int)len;
	int err;

	if (len > INT_MAX || !rtcp_header_fits(pkt, len))
		return -EINVAL;
	err = map_status(srtp_unprotect_rtcp(srtp->rx, pkt, &n));
	return err != 0 ? err : n;
}
