/* srtp: SRTP and SRTCP on OpenSSL's EVP (AES-NI): AES-CM with HMAC-SHA1-80 and AES-GCM, per-SSRC
 * rollover counters and replay windows, in-place protect and unprotect without allocation. */

/* HMAC-SHA1 runs on SHA1_Init/Update/Final from states keyed once per session: OpenSSL 3.0's
 * HMAC and EVP_MAC (and EVP_MD_CTX_copy_ex under them) allocate on every packet, and take
 * twice as long on small ones. Those functions are deprecated since 3.0, not removed. */
#define OPENSSL_API_COMPAT 10101

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "rtc/srtp.h"
#include "rtc/srtp_internal.h"

#define RTP_HEADER_LEN 12
#define RTCP_HEADER_LEN 8
#define CM_TAG_LEN 10  /* HMAC-SHA1 truncated to 80 bits */
#define GCM_TAG_LEN 16 /* RFC 7714's AEAD_AES_128_GCM */
#define CM_SALT_LEN 14
#define GCM_SALT_LEN 12
#define SRTCP_TRAILER_LEN 4 /* E flag and 31-bit SRTCP index */
#define SRTCP_E_FLAG 0x80000000u
#define SRTCP_INDEX_MAX 0x7fffffffu
/* No RTP packet comes near this (UDP carries 65,507 bytes); AES-CM's counter covers 2^16
 * blocks per packet, and EVP takes int lengths. */
#define PACKET_MAX (1u << 20)

#define WINDOW_WORDS (CW_SRTP_REPLAY_WINDOW / 64)
#define STREAMS_MIN 4

_Static_assert(CW_SRTP_REPLAY_WINDOW % 64 == 0, "the replay window is whole words");
_Static_assert(CW_SRTP_STREAMS_MAX <= 32768, "stream numbers fit the slots' uint16_t");
_Static_assert(CW_SRTP_TRAILER_MAX >= GCM_TAG_LEN + SRTCP_TRAILER_LEN, "room for any trailer");

/* ---- Per-SSRC state ---- */

/* The first member of both kinds of stream. */
struct stream_head {
	uint32_t ssrc;
	uint64_t used; /* the session's clock when a packet of it last authenticated (inbound) */
};

/* What this side sends with an SSRC. Indices are libsrtp's: 0 before the first packet. */
struct tx_stream {
	struct stream_head h;
	uint64_t rtp_index;  /* the highest RTP index sent: ROC << 16 | SEQ */
	uint32_t rtcp_index; /* the last SRTCP index sent; the first is 1 */
};

/* What the peer sent with an SSRC, counting only packets that authenticated. A window is a
 * ring of bits: index i is bit i % CW_SRTP_REPLAY_WINDOW, valid for the window's span. */
struct rx_stream {
	struct stream_head h;
	uint64_t rtp_index;
	uint64_t rtcp_index;
	uint64_t rtp_seen[WINDOW_WORDS];
	uint64_t rtcp_seen[WINDOW_WORDS];
};

/* Streams by SSRC: an array that grows by doubling (so that a stream's number stays) and an
 * open-addressing index over it, linear probing, at most half full. */
struct table {
	unsigned char *streams; /* cap streams of esize bytes */
	uint16_t *slots;	/* 2 * cap of them: 0 free, else a stream's number + 1 */
	uint32_t n, cap;
	unsigned bits; /* log2 of the slots */
	size_t esize;
};

/* ---- One direction's keys for RTP or RTCP ---- */

struct hmac {
	SHA_CTX inner, outer; /* SHA-1 after the key XOR ipad, and after the key XOR opad */
};

struct crypt {
	EVP_CIPHER_CTX *ctx; /* keyed once; each packet sets the IV only */
	struct hmac auth;    /* AES-CM only */
	uint8_t salt[CW_SRTP_SALT_MAX];
};

struct cw_srtp {
	enum cw_srtp_profile profile;
	bool gcm;
	struct crypt tx_rtp, tx_rtcp, rx_rtp, rx_rtcp;
	struct table tx, rx;
	uint64_t clock; /* counts the inbound packets that authenticated */
};

/* ---- OpenSSL's algorithms, fetched once per process ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_ctr, *aes_gcm;
static char version[64];

/* The algorithms stay for the process's life, shared read-only by every thread's sessions:
 * an EVP_*Init with a fetched cipher skips the name lookup an implicit fetch makes. */
static void init_library(void)
{
	aes_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	snprintf(version, sizeof(version), "OpenSSL %s (EVP)",
		 OpenSSL_version(OPENSSL_VERSION_STRING));
}

static int library_ready(void)
{
	pthread_once(&init_once, init_library);
	return aes_ctr != NULL && aes_gcm != NULL ? 0 : -EIO;
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
		return CM_SALT_LEN;
	case CW_SRTP_AEAD_AES_128_GCM:
		return GCM_SALT_LEN;
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
	pthread_once(&init_once, init_library);
	return version;
}

/* ---- Bytes ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The session salt XOR the SSRC and the 48-bit index in the six bytes after it. AES-CM's
 * counter block (RFC 3711 §4.1.1): the 14-byte salt, SSRC at byte 4, index at byte 8, the
 * last two bytes zero. AES-GCM's nonce (RFC 7714 §8.1, §9.1): the 12-byte salt, SSRC at
 * byte 2, then ROC and SEQ, or two zero bytes and the SRTCP index: the same 48-bit number. */
static void make_iv(uint8_t iv[16], bool gcm, const uint8_t *salt, uint32_t ssrc, uint64_t index)
{
	uint8_t *q = iv + (gcm ? 2 : 4);

	memcpy(iv, salt, gcm ? GCM_SALT_LEN : CM_SALT_LEN);
	if (!gcm)
		iv[14] = iv[15] = 0;
	q[0] ^= (uint8_t)(ssrc >> 24);
	q[1] ^= (uint8_t)(ssrc >> 16);
	q[2] ^= (uint8_t)(ssrc >> 8);
	q[3] ^= (uint8_t)ssrc;
	for (int i = 0; i < 6; i++)
		q[4 + i] ^= (uint8_t)(index >> (40 - 8 * i));
}

/* ---- HMAC-SHA1 (RFC 2104) ---- */

static void hmac_init(struct hmac *h, const uint8_t key[CW__SRTP_AUTH_KEY_LEN])
{
	uint8_t pad[SHA_CBLOCK];

	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < CW__SRTP_AUTH_KEY_LEN; i++)
		pad[i] ^= key[i];
	SHA1_Init(&h->inner);
	SHA1_Update(&h->inner, pad, sizeof(pad));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	SHA1_Init(&h->outer);
	SHA1_Update(&h->outer, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
}

/* The MAC of a then b (b may be empty), its first CM_TAG_LEN bytes into tag. */
static void hmac_tag(const struct hmac *h, const uint8_t *a, size_t alen, const uint8_t *b,
		     size_t blen, uint8_t tag[CM_TAG_LEN])
{
	uint8_t md[SHA_DIGEST_LENGTH];
	SHA_CTX c = h->inner;

	SHA1_Update(&c, a, alen);
	if (blen > 0)
		SHA1_Update(&c, b, blen);
	SHA1_Final(md, &c);
	c = h->outer;
	SHA1_Update(&c, md, sizeof(md));
	SHA1_Final(md, &c);
	memcpy(tag, md, CM_TAG_LEN);
}

/* ---- Ciphers ---- */

/* AES-CM: len bytes at p XOR the keystream from the counter block iv. */
static int ctr_xor(EVP_CIPHER_CTX *ctx, const uint8_t iv[16], uint8_t *p, size_t len)
{
	int n;

	if (!EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL))
		return CW_SRTP_E_FAIL;
	if (len > 0 && !EVP_EncryptUpdate(ctx, p, &n, p, (int)len))
		return CW_SRTP_E_FAIL;
	return 0;
}

/* AES-GCM: encrypts p[0..len) in place after the two pieces of associated data, then writes
 * the tag at p + len. */
static int gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t iv[GCM_SALT_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *aad2, size_t aad2_len, uint8_t *p, size_t len)
{
	OSSL_PARAM params[2];
	int n;

	if (!EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) ||
	    !EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len))
		return CW_SRTP_E_FAIL;
	if (aad2_len > 0 && !EVP_EncryptUpdate(ctx, NULL, &n, aad2, (int)aad2_len))
		return CW_SRTP_E_FAIL;
	if (len > 0 && !EVP_EncryptUpdate(ctx, p, &n, p, (int)len))
		return CW_SRTP_E_FAIL;
	if (!EVP_EncryptFinal_ex(ctx, p + len, &n))
		return CW_SRTP_E_FAIL;
	params[0] =
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, p + len, GCM_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	return EVP_CIPHER_CTX_get_params(ctx, params) ? 0 : CW_SRTP_E_FAIL;
}

/* AES-GCM: decrypts p[0..len) in place and checks the tag at p + len (OpenSSL compares it in
 * constant time). The plaintext is written before the tag is known to be good. */
static int gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t iv[GCM_SALT_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *aad2, size_t aad2_len, uint8_t *p, size_t len)
{
	OSSL_PARAM params[2];
	int n;

	if (!EVP_DecryptInit_ex2(ctx, NULL, NULL, iv, NULL) ||
	    !EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len))
		return CW_SRTP_E_FAIL;
	if (aad2_len > 0 && !EVP_DecryptUpdate(ctx, NULL, &n, aad2, (int)aad2_len))
		return CW_SRTP_E_FAIL;
	if (len > 0 && !EVP_DecryptUpdate(ctx, p, &n, p, (int)len))
		return CW_SRTP_E_FAIL;
	params[0] =
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, p + len, GCM_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_CIPHER_CTX_set_params(ctx, params))
		return CW_SRTP_E_FAIL;
	return EVP_DecryptFinal_ex(ctx, p + len, &n) ? 0 : CW_SRTP_E_AUTH;
}

int cw__srtp_aes_cm(const uint8_t key[CW_SRTP_KEY_LEN], const uint8_t iv[16], uint8_t *buf,
		    size_t len)
{
	EVP_CIPHER_CTX *ctx;
	int err;

	if (library_ready() != 0)
		return -EIO;
	if (len > INT_MAX)
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	err = EVP_EncryptInit_ex2(ctx, aes_ctr, key, NULL, NULL) ? ctr_xor(ctx, iv, buf, len)
								 : -EIO;
	EVP_CIPHER_CTX_free(ctx);
	return err != 0 ? -EIO : 0;
}

/* ---- Key derivation (RFC 3711 §4.3) ---- */

int cw__srtp_kdf(const uint8_t key[CW_SRTP_KEY_LEN], const uint8_t *salt, size_t salt_len,
		 enum cw__srtp_label label, uint8_t *out, size_t out_len)
{
	uint8_t iv[16] = {0};

	if (salt_len > CM_SALT_LEN)
		return -EINVAL;
	/* x = key_id XOR master salt, key_id being the label and six bytes of index DIV kdr (0),
	 * aligned right in the salt's 14 bytes; the counter block is x * 2^16. */
	memcpy(iv, salt, salt_len);
	iv[7] ^= (uint8_t)label;
	memset(out, 0, out_len);
	return cw__srtp_aes_cm(key, iv, out, out_len);
}

int cw__srtp_derive(struct cw__srtp_session_keys *out, enum cw_srtp_profile profile,
		    const uint8_t key[CW_SRTP_KEY_LEN], const uint8_t *salt)
{
	size_t salt_len = cw_srtp_salt_len(profile);
	int err;

	memset(out, 0, sizeof(*out));
	if (salt_len == 0)
		return -EINVAL;
	err = cw__srtp_kdf(key, salt, salt_len, CW__SRTP_LABEL_RTP_KEY, out->rtp_key,
			   CW_SRTP_KEY_LEN);
	if (err == 0)
		err = cw__srtp_kdf(key, salt, salt_len, CW__SRTP_LABEL_RTP_SALT, out->rtp_salt,
				   salt_len);
	if (err == 0)
		err = cw__srtp_kdf(key, salt, salt_len, CW__SRTP_LABEL_RTCP_KEY, out->rtcp_key,
				   CW_SRTP_KEY_LEN);
	if (err == 0)
		err = cw__srtp_kdf(key, salt, salt_len, CW__SRTP_LABEL_RTCP_SALT, out->rtcp_salt,
				   salt_len);
	if (err == 0 && profile == CW_SRTP_AES128_CM_SHA1_80)
		err = cw__srtp_kdf(key, salt, salt_len, CW__SRTP_LABEL_RTP_AUTH, out->rtp_auth,
				   CW__SRTP_AUTH_KEY_LEN);
	if (err == 0 && profile == CW_SRTP_AES128_CM_SHA1_80)
		err = cw__srtp_kdf(key, salt, salt_len, CW__SRTP_LABEL_RTCP_AUTH, out->rtcp_auth,
				   CW__SRTP_AUTH_KEY_LEN);
	if (err != 0)
		OPENSSL_cleanse(out, sizeof(*out));
	return err;
}

/* ---- Stream tables ---- */

static struct stream_head *stream_at(const struct table *t, uint32_t k)
{
	return (struct stream_head *)(t->streams + (size_t)k * t->esize);
}

static uint32_t slot_of(uint32_t ssrc, unsigned bits)
{
	return (ssrc * 0x9e3779b1u) >> (32 - bits); /* Fibonacci hashing */
}

static void *table_find(const struct table *t, uint32_t ssrc)
{
	uint32_t mask, i;

	if (t->n == 0)
		return NULL;
	mask = (1u << t->bits) - 1;
	for (i = slot_of(ssrc, t->bits);; i = (i + 1) & mask) {
		struct stream_head *h;

		if (t->slots[i] == 0)
			return NULL;
		h = stream_at(t, t->slots[i] - 1u);
		if (h->ssrc == ssrc)
			return h;
	}
}

static void table_link(struct table *t, uint32_t k)
{
	uint32_t mask = (1u << t->bits) - 1;
	uint32_t i = slot_of(stream_at(t, k)->ssrc, t->bits);

	while (t->slots[i] != 0)
		i = (i + 1) & mask;
	t->slots[i] = (uint16_t)(k + 1);
}

/* Removes stream k from the index, moving back the entries after it that probed past it. */
static void table_unlink(struct table *t, uint32_t k)
{
	uint32_t mask = (1u << t->bits) - 1;
	uint32_t i = slot_of(stream_at(t, k)->ssrc, t->bits);

	while (t->slots[i] != k + 1)
		i = (i + 1) & mask;
	t->slots[i] = 0;
	for (uint32_t j = (i + 1) & mask; t->slots[j] != 0; j = (j + 1) & mask) {
		uint32_t home = slot_of(stream_at(t, t->slots[j] - 1u)->ssrc, t->bits);

		/* The entry at j may fill the hole at i unless its home lies cyclically in
		 * (i, j]: then it was never past i. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = 0;
			i = j;
		}
	}
}

static int table_grow(struct table *t)
{
	uint32_t cap = t->cap == 0 ? STREAMS_MIN : t->cap * 2;
	unsigned bits = 1;
	unsigned char *streams;
	uint16_t *slots;

	while ((1u << bits) < 2 * cap)
		bits++;
	slots = calloc((size_t)1 << bits, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	streams = realloc(t->streams, cap * t->esize);
	if (streams == NULL) {
		free(slots);
		return -ENOMEM;
	}
	free(t->slots);
	t->streams = streams;
	t->slots = slots;
	t->cap = cap;
	t->bits = bits;
	for (uint32_t k = 0; k < t->n; k++)
		table_link(t, k);
	return 0;
}

/* A new stream for ssrc (not in the table), its state zero. A full table forgets its least
 * recently used stream if evict, else refuses. */
static int table_add(struct table *t, uint32_t ssrc, bool evict, struct stream_head **headp)
{
	struct stream_head *h;
	uint32_t k;
	int err;

	if (t->n == t->cap && t->cap < CW_SRTP_STREAMS_MAX) {
		err = table_grow(t);
		if (err != 0)
			return err;
	}
	if (t->n < t->cap) {
		k = t->n++;
	} else {
		if (!evict)
			return CW_SRTP_E_FAIL;
		k = 0;
		for (uint32_t i = 1; i < t->n; i++)
			if (stream_at(t, i)->used < stream_at(t, k)->used)
				k = i;
		table_unlink(t, k);
		OPENSSL_cleanse(stream_at(t, k), t->esize);
	}
	h = stream_at(t, k);
	memset(h, 0, t->esize);
	h->ssrc = ssrc;
	table_link(t, k);
	*headp = h;
	return 0;
}

static void table_free(struct table *t)
{
	if (t->streams != NULL)
		OPENSSL_cleanse(t->streams, (size_t)t->cap * t->esize);
	free(t->streams);
	free(t->slots);
}

/* ---- Indices and replay windows ---- */

/* The 48-bit index of sequence number seq, given the highest index so far (RFC 3711
 * Appendix A), and in *delta its distance from that one. As in libsrtp, whose peers must
 * agree with us on every ROC: while the highest index is at most 2^15 the ROC is taken to be
 * 0, so that a stream starting with a high sequence number does not guess ROC -1. */
static uint64_t estimate_index(uint64_t highest, uint16_t seq, int64_t *delta)
{
	uint32_t roc = (uint32_t)(highest >> 16);
	int32_t s_l = (int32_t)(highest & 0xffff);
	int32_t d = (int32_t)seq - s_l;

	if (highest <= 32768) {
		*delta = (int64_t)seq - (int64_t)highest;
		return seq;
	}
	if (s_l < 32768 && d > 32768) {
		roc--;
		d -= 65536;
	} else if (s_l >= 32768 && s_l - 32768 > (int32_t)seq) {
		roc++;
		d += 65536;
	}
	*delta = d;
	return (uint64_t)roc << 16 | seq;
}

static bool seen(const uint64_t *bits, uint64_t index)
{
	uint32_t b = (uint32_t)(index % CW_SRTP_REPLAY_WINDOW);

	return (bits[b / 64] >> (b % 64)) & 1;
}

/* Whether index, delta past the highest index accepted, may be accepted. */
static int window_check(const uint64_t *bits, uint64_t index, int64_t delta)
{
	if (delta > 0)
		return 0;
	if (delta <= -CW_SRTP_REPLAY_WINDOW)
		return CW_SRTP_E_REPLAY_OLD;
	return seen(bits, index) ? CW_SRTP_E_REPLAY : 0;
}

/* Marks index accepted; past the highest, the window moves and forgets what it leaves. */
static void window_add(uint64_t *bits, uint64_t *highest, uint64_t index, int64_t delta)
{
	uint32_t b;

	if (delta > 0) {
		if (delta >= CW_SRTP_REPLAY_WINDOW) {
			memset(bits, 0, WINDOW_WORDS * sizeof(*bits));
		} else {
			for (uint64_t i = *highest + 1; i < index; i++) {
				b = (uint32_t)(i % CW_SRTP_REPLAY_WINDOW);
				bits[b / 64] &= ~((uint64_t)1 << (b % 64));
			}
		}
		*highest = index;
	}
	b = (uint32_t)(index % CW_SRTP_REPLAY_WINDOW);
	bits[b / 64] |= (uint64_t)1 << (b % 64);
}

/* ---- Sessions ---- */

static int crypt_init(struct crypt *c, bool gcm, bool decrypt, const uint8_t *key,
		      const uint8_t *salt, const uint8_t *auth)
{
	c->ctx = EVP_CIPHER_CTX_new();
	if (c->ctx == NULL)
		return -ENOMEM;
	if (!(decrypt && gcm
		      ? EVP_DecryptInit_ex2(c->ctx, aes_gcm, key, NULL, NULL)
		      : EVP_EncryptInit_ex2(c->ctx, gcm ? aes_gcm : aes_ctr, key, NULL, NULL)))
		return -EIO;
	memcpy(c->salt, salt, CW_SRTP_SALT_MAX);
	if (!gcm)
		hmac_init(&c->auth, auth);
	return 0;
}

static void crypt_free(struct crypt *c)
{
	/* Freeing a cipher context cleanses its key schedule. */
	EVP_CIPHER_CTX_free(c->ctx);
	OPENSSL_cleanse(c, sizeof(*c));
}

int cw__srtp_new_session(struct cw_srtp **srtpp, enum cw_srtp_profile profile,
			 const struct cw__srtp_session_keys *local,
			 const struct cw__srtp_session_keys *remote)
{
	struct cw_srtp *s = NULL;
	bool gcm = profile == CW_SRTP_AEAD_AES_128_GCM;
	int err;

	*srtpp = NULL;
	if (cw_srtp_salt_len(profile) == 0)
		return -EINVAL;
	err = library_ready();
	if (err != 0)
		return err;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->profile = profile;
	s->gcm = gcm;
	s->tx.esize = sizeof(struct tx_stream);
	s->rx.esize = sizeof(struct rx_stream);
	err = crypt_init(&s->tx_rtp, gcm, false, local->rtp_key, local->rtp_salt, local->rtp_auth);
	if (err == 0)
		err = crypt_init(&s->tx_rtcp, gcm, false, local->rtcp_key, local->rtcp_salt,
				 local->rtcp_auth);
	if (err == 0)
		err = crypt_init(&s->rx_rtp, gcm, true, remote->rtp_key, remote->rtp_salt,
				 remote->rtp_auth);
	if (err == 0)
		err = crypt_init(&s->rx_rtcp, gcm, true, remote->rtcp_key, remote->rtcp_salt,
				 remote->rtcp_auth);
	if (err != 0)
		goto out;
	*srtpp = s;
	s = NULL;
out:
	cw_srtp_free(s);
	return err;
}

int cw_srtp_new(struct cw_srtp **srtpp, const struct cw_srtp_keys *keys)
{
	struct cw__srtp_session_keys local, remote;
	int err;

	*srtpp = NULL;
	err = cw__srtp_derive(&local, keys->profile, keys->local_key, keys->local_salt);
	if (err == 0)
		err = cw__srtp_derive(&remote, keys->profile, keys->remote_key, keys->remote_salt);
	if (err == 0)
		err = cw__srtp_new_session(srtpp, keys->profile, &local, &remote);
	OPENSSL_cleanse(&local, sizeof(local));
	OPENSSL_cleanse(&remote, sizeof(remote));
	return err;
}

void cw_srtp_free(struct cw_srtp *srtp)
{
	if (srtp == NULL)
		return;
	crypt_free(&srtp->tx_rtp);
	crypt_free(&srtp->tx_rtcp);
	crypt_free(&srtp->rx_rtp);
	crypt_free(&srtp->rx_rtcp);
	table_free(&srtp->tx);
	table_free(&srtp->rx);
	OPENSSL_cleanse(srtp, sizeof(*srtp));
	free(srtp);
}

enum cw_srtp_profile cw_srtp_profile(const struct cw_srtp *srtp)
{
	return srtp->profile;
}

size_t cw__srtp_streams(const struct cw_srtp *srtp, bool outbound)
{
	return outbound ? srtp->tx.n : srtp->rx.n;
}

static int tx_stream(struct cw_srtp *s, uint32_t ssrc, struct tx_stream **streamp)
{
	struct stream_head *h = table_find(&s->tx, ssrc);
	int err = h != NULL ? 0 : table_add(&s->tx, ssrc, false, &h);

	/* The head is a stream's first member. */
	*streamp = err == 0 ? (struct tx_stream *)h : NULL;
	return err;
}

/* A packet of st's SSRC authenticated: a new SSRC's stream (st is then a blank one on the
 * caller's stack) is kept only now, and index enters its RTP or RTCP replay window. */
static int rx_accepted(struct cw_srtp *s, uint32_t ssrc, struct rx_stream *st, bool fresh,
		       bool rtcp, uint64_t index, int64_t delta)
{
	if (fresh) {
		struct stream_head *h;
		int err = table_add(&s->rx, ssrc, true, &h);

		if (err != 0)
			return err;
		st = (struct rx_stream *)h;
	}
	if (rtcp)
		window_add(st->rtcp_seen, &st->rtcp_index, index, delta);
	else
		window_add(st->rtp_seen, &st->rtp_index, index, delta);
	st->h.used = ++s->clock;
	return 0;
}

int cw__srtp_set_rtcp_index(struct cw_srtp *srtp, uint32_t ssrc, uint32_t index)
{
	struct tx_stream *st;
	int err;

	if (index == 0 || index > SRTCP_INDEX_MAX)
		return -EINVAL;
	err = tx_stream(srtp, ssrc, &st);
	if (err == 0)
		st->rtcp_index = index - 1;
	return err;
}

/* ---- Packets ---- */

/* The length of the RTP header (fixed part, CSRCs, extension) if the first len bytes hold it
 * and it is version 2, else 0. */
static size_t rtp_header_len(const uint8_t *p, size_t len)
{
	size_t hlen;

	if (len < RTP_HEADER_LEN || (p[0] >> 6) != 2)
		return 0;
	hlen = RTP_HEADER_LEN + 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (len < hlen + 4)
			return 0;
		hlen += 4 + 4u * get16(p + hlen + 2);
	}
	return hlen <= len ? hlen : 0;
}

static bool rtcp_header_fits(const uint8_t *p, size_t len)
{
	return len >= RTCP_HEADER_LEN && (p[0] >> 6) == 2;
}

static int check_room(size_t len, size_t cap)
{
	if (len > PACKET_MAX)
		return -EINVAL;
	return cap >= len + CW_SRTP_TRAILER_MAX ? 0 : -ENOSPC;
}

int cw_srtp_protect(struct cw_srtp *srtp, void *pkt, size_t len, size_t cap)
{
	uint8_t *p = pkt, iv[16], roc[4];
	size_t hlen = rtp_header_len(p, len);
	uint32_t ssrc;
	struct tx_stream *st;
	uint64_t index;
	int64_t delta;
	int err;

	if (hlen == 0)
		return -EINVAL;
	err = check_room(len, cap);
	if (err != 0)
		return err;
	ssrc = get32(p + 8);
	err = tx_stream(srtp, ssrc, &st);
	if (err != 0)
		return err;
	index = estimate_index(st->rtp_index, get16(p + 2), &delta);
	/* Behind the window: the receiver would refuse it (libsrtp refuses it here too). Within,
	 * a sequence number sent before is a retransmission of the same packet. */
	if (delta <= -CW_SRTP_REPLAY_WINDOW)
		return CW_SRTP_E_REPLAY_OLD;
	if (srtp->gcm) {
		make_iv(iv, true, srtp->tx_rtp.salt, ssrc, index);
		err = gcm_seal(srtp->tx_rtp.ctx, iv, p, hlen, NULL, 0, p + hlen, len - hlen);
		len += GCM_TAG_LEN;
	} else {
		make_iv(iv, false, srtp->tx_rtp.salt, ssrc, index);
		err = ctr_xor(srtp->tx_rtp.ctx, iv, p + hlen, len - hlen);
		put32(roc, (uint32_t)(index >> 16));
		hmac_tag(&srtp->tx_rtp.auth, p, len, roc, sizeof(roc), p + len);
		len += CM_TAG_LEN;
	}
	if (err != 0)
		return err;
	if (delta > 0)
		st->rtp_index = index;
	return (int)len;
}

int cw_srtp_unprotect(struct cw_srtp *srtp, void *pkt, size_t len)
{
	uint8_t *p = pkt, iv[16], roc[4], tag[CM_TAG_LEN];
	size_t tag_len = srtp->gcm ? GCM_TAG_LEN : CM_TAG_LEN;
	size_t hlen = rtp_header_len(p, len);
	struct rx_stream fresh, *st;
	uint32_t ssrc;
	uint64_t index;
	int64_t delta;
	int err;

	if (hlen == 0 || len > PACKET_MAX || len - hlen < tag_len)
		return -EINVAL;
	len -= tag_len;
	ssrc = get32(p + 8);
	st = table_find(&srtp->rx, ssrc);
	if (st == NULL) {
		/* Kept only once a packet of it authenticates: forged SSRCs cost nothing. */
		memset(&fresh, 0, sizeof(fresh));
		st = &fresh;
	}
	index = estimate_index(st->rtp_index, get16(p + 2), &delta);
	err = window_check(st->rtp_seen, index, delta);
	if (err != 0)
		return err;
	if (srtp->gcm) {
		make_iv(iv, true, srtp->rx_rtp.salt, ssrc, index);
		err = gcm_open(srtp->rx_rtp.ctx, iv, p, hlen, NULL, 0, p + hlen, len - hlen);
	} else {
		put32(roc, (uint32_t)(index >> 16));
		hmac_tag(&srtp->rx_rtp.auth, p, len, roc, sizeof(roc), tag);
		if (CRYPTO_memcmp(tag, p + len, CM_TAG_LEN) != 0)
			return CW_SRTP_E_AUTH;
		make_iv(iv, false, srtp->rx_rtp.salt, ssrc, index);
		err = ctr_xor(srtp->rx_rtp.ctx, iv, p + hlen, len - hlen);
	}
	if (err == 0)
		err = rx_accepted(srtp, ssrc, st, st == &fresh, false, index, delta);
	return err != 0 ? err : (int)len;
}

int cw_srtp_protect_rtcp(struct cw_srtp *srtp, void *pkt, size_t len, size_t cap)
{
	uint8_t *p = pkt, iv[16], trailer[SRTCP_TRAILER_LEN];
	uint32_t ssrc;
	struct tx_stream *st;
	int err;

	if (!rtcp_header_fits(p, len))
		return -EINVAL;
	err = check_room(len, cap);
	if (err != 0)
		return err;
	ssrc = get32(p + 4);
	err = tx_stream(srtp, ssrc, &st);
	if (err != 0)
		return err;
	if (st->rtcp_index >= SRTCP_INDEX_MAX)
		return CW_SRTP_E_FAIL; /* every index used: the keys must change */
	/* Taken before anything can fail, so that no index serves twice. */
	st->rtcp_index++;
	put32(trailer, SRTCP_E_FLAG | st->rtcp_index);
	if (srtp->gcm) {
		/* RFC 7714 §9: the header and the E flag with the index are associated data;
		 * the tag follows the ciphertext, the index the tag. */
		make_iv(iv, true, srtp->tx_rtcp.salt, ssrc, st->rtcp_index);
		err = gcm_seal(srtp->tx_rtcp.ctx, iv, p, RTCP_HEADER_LEN, trailer, sizeof(trailer),
			       p + RTCP_HEADER_LEN, len - RTCP_HEADER_LEN);
		memcpy(p + len + GCM_TAG_LEN, trailer, sizeof(trailer));
		len += GCM_TAG_LEN + SRTCP_TRAILER_LEN;
	} else {
		/* RFC 3711 §3.4: the index follows the ciphertext; the tag covers both. */
		make_iv(iv, false, srtp->tx_rtcp.salt, ssrc, st->rtcp_index);
		err = ctr_xor(srtp->tx_rtcp.ctx, iv, p + RTCP_HEADER_LEN, len - RTCP_HEADER_LEN);
		memcpy(p + len, trailer, sizeof(trailer));
		len += SRTCP_TRAILER_LEN;
		hmac_tag(&srtp->tx_rtcp.auth, p, len, NULL, 0, p + len);
		len += CM_TAG_LEN;
	}
	return err != 0 ? err : (int)len;
}

int cw_srtp_unprotect_rtcp(struct cw_srtp *srtp, void *pkt, size_t len)
{
	uint8_t *p = pkt, iv[16], tag[CM_TAG_LEN];
	size_t tag_len = srtp->gcm ? GCM_TAG_LEN : CM_TAG_LEN;
	struct rx_stream fresh, *st;
	uint32_t ssrc, word, index;
	int64_t delta;
	int err;

	if (!rtcp_header_fits(p, len) || len > PACKET_MAX ||
	    len < RTCP_HEADER_LEN + tag_len + SRTCP_TRAILER_LEN)
		return -EINVAL;
	word = get32(srtp->gcm ? p + len - SRTCP_TRAILER_LEN
			       : p + len - CM_TAG_LEN - SRTCP_TRAILER_LEN);
	/* Unencrypted SRTCP is not what this side sends; for AES-CM its tag would cover the
	 * flag, so a flipped flag is a failed authentication either way. */
	if (!(word & SRTCP_E_FLAG))
		return CW_SRTP_E_AUTH;
	index = word & SRTCP_INDEX_MAX;
	ssrc = get32(p + 4);
	st = table_find(&srtp->rx, ssrc);
	if (st == NULL) {
		memset(&fresh, 0, sizeof(fresh));
		st = &fresh;
	}
	delta = (int64_t)index - (int64_t)st->rtcp_index;
	err = window_check(st->rtcp_seen, index, delta);
	if (err != 0)
		return err;
	len -= tag_len + SRTCP_TRAILER_LEN;
	if (srtp->gcm) {
		make_iv(iv, true, srtp->rx_rtcp.salt, ssrc, index);
		err = gcm_open(srtp->rx_rtcp.ctx, iv, p, RTCP_HEADER_LEN, p + len + GCM_TAG_LEN,
			       SRTCP_TRAILER_LEN, p + RTCP_HEADER_LEN, len - RTCP_HEADER_LEN);
	} else {
		hmac_tag(&srtp->rx_rtcp.auth, p, len + SRTCP_TRAILER_LEN, NULL, 0, tag);
		if (CRYPTO_memcmp(tag, p + len + SRTCP_TRAILER_LEN, CM_TAG_LEN) != 0)
			return CW_SRTP_E_AUTH;
		make_iv(iv, false, srtp->rx_rtcp.salt, ssrc, index);
		err = ctr_xor(srtp->rx_rtcp.ctx, iv, p + RTCP_HEADER_LEN, len - RTCP_HEADER_LEN);
	}
	if (err == 0)
		err = rx_accepted(srtp, ssrc, st, st == &fresh, true, index, delta);
	return err != 0 ? err : (int)len;
}
