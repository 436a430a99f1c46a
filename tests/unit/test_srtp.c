/* SRTP tests: the RFCs' vectors, libsrtp2 agreeing byte for byte, replay, tampering,
 * reordering around the sequence number wrap, the stream tables and no allocation per packet. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <srtp2/srtp.h>

#include "rtc/srtp.h"
#include "rtc/srtp_internal.h"

#define BUF_SIZE 2048
#define PROFILES 2

static const enum cw_srtp_profile profiles[PROFILES] = {CW_SRTP_AES128_CM_SHA1_80,
							CW_SRTP_AEAD_AES_128_GCM};

/* ---- Allocations: the SRTP code's (--wrap) and OpenSSL's (its memory functions) ---- */

static bool counting;
static size_t allocs;
static bool openssl_counted;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

void *__wrap_malloc(size_t size)
{
	allocs += counting;
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	allocs += counting;
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	allocs += counting;
	return __real_realloc(p, size);
}

static void *ossl_malloc(size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	allocs += counting;
	return __real_malloc(size);
}

static void *ossl_realloc(void *p, size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	allocs += counting;
	return __real_realloc(p, size);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* ---- Helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* Hex digits (spaces ignored) into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	int half = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ')
			continue;
		v = *s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10;
		assert_true(v >= 0 && v < 16);
		if (half < 0) {
			half = v;
		} else {
			out[n++] = (uint8_t)(half << 4 | v);
			half = -1;
		}
	}
	assert_int_equal(half, -1);
	return n;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* An RTP packet: random CSRCs, header extension and payload (of at most max_payload bytes)
 * when varied, else a plain header and payload bytes of len payload. */
static size_t make_rtp(uint8_t *p, uint32_t ssrc, uint16_t seq, bool varied, size_t payload)
{
	size_t len = 12;
	unsigned cc = varied && rnd() % 3 == 0 ? rnd() % 16 : 0;
	bool ext = varied && rnd() % 2 == 0;

	p[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
	p[1] = (uint8_t)(rnd() % 2 ? 0x80 | 111 : 96);
	put16(p + 2, seq);
	put32(p + 4, rnd());
	put32(p + 8, ssrc);
	rnd_bytes(p + len, 4u * cc);
	len += 4u * cc;
	if (ext) {
		uint16_t words = (uint16_t)(rnd() % 8);

		put16(p + len, rnd() % 2 ? 0xBEDE : 0x1000);
		put16(p + len + 2, words);
		rnd_bytes(p + len + 4, 4u * words);
		len += 4 + 4u * words;
	}
	if (varied)
		payload = rnd() % 4 == 0 ? rnd() % 40 : rnd() % (payload + 1);
	for (size_t i = 0; i < payload; i++)
		p[len + i] = varied ? (uint8_t)rnd() : (uint8_t)(seq + i);
	return len + payload;
}

static size_t rtp_hlen(const uint8_t *p)
{
	size_t hlen = 12 + 4u * (p[0] & 0x0f);

	if (p[0] & 0x10)
		hlen += 4 + 4u * (size_t)(p[hlen + 2] << 8 | p[hlen + 3]);
	return hlen;
}

/* A compound-looking RTCP packet from ssrc: a header and words of random body. */
static size_t make_rtcp(uint8_t *p, uint32_t ssrc)
{
	uint16_t words = (uint16_t)(1 + rnd() % 40);

	p[0] = (uint8_t)(0x80 | rnd() % 32);
	p[1] = (uint8_t)(200 + rnd() % 7);
	put16(p + 2, words);
	put32(p + 4, ssrc);
	rnd_bytes(p + 8, 4u * words - 4);
	return 4u + 4u * words;
}

static void random_keys(enum cw_srtp_profile profile, struct cw_srtp_keys *a,
			struct cw_srtp_keys *b)
{
	memset(a, 0, sizeof(*a));
	a->profile = profile;
	rnd_bytes(a->local_key, CW_SRTP_KEY_LEN);
	rnd_bytes(a->local_salt, cw_srtp_salt_len(profile));
	rnd_bytes(a->remote_key, CW_SRTP_KEY_LEN);
	rnd_bytes(a->remote_salt, cw_srtp_salt_len(profile));
	*b = *a;
	memcpy(b->local_key, a->remote_key, CW_SRTP_KEY_LEN);
	memcpy(b->local_salt, a->remote_salt, CW_SRTP_SALT_MAX);
	memcpy(b->remote_key, a->local_key, CW_SRTP_KEY_LEN);
	memcpy(b->remote_salt, a->local_salt, CW_SRTP_SALT_MAX);
}

static void pair(enum cw_srtp_profile profile, struct cw_srtp **a, struct cw_srtp **b)
{
	struct cw_srtp_keys ka, kb;

	random_keys(profile, &ka, &kb);
	assert_int_equal(cw_srtp_new(a, &ka), 0);
	assert_int_equal(cw_srtp_new(b, &kb), 0);
}

static int protect(struct cw_srtp *s, bool rtcp, uint8_t *p, size_t len)
{
	return rtcp ? cw_srtp_protect_rtcp(s, p, len, BUF_SIZE)
		    : cw_srtp_protect(s, p, len, BUF_SIZE);
}

static int unprotect(struct cw_srtp *s, bool rtcp, uint8_t *p, size_t len)
{
	return rtcp ? cw_srtp_unprotect_rtcp(s, p, len) : cw_srtp_unprotect(s, p, len);
}

/* Unprotects a copy of pkt; on success it must give back plain. */
static int unprotect_copy(struct cw_srtp *s, bool rtcp, const uint8_t *pkt, size_t len,
			  const uint8_t *plain, size_t plain_len)
{
	uint8_t buf[BUF_SIZE];
	int n;

	memcpy(buf, pkt, len);
	n = unprotect(s, rtcp, buf, len);
	if (n >= 0) {
		assert_int_equal(n, (int)plain_len);
		assert_memory_equal(buf, plain, plain_len);
	}
	return n;
}

/* ---- RFC 3711 Appendix B ---- */

/* B.2: the AES-CM keystream, its first blocks and the last ones of the 65,282-block segment. */
static void test_rfc3711_keystream(void **state)
{
	static const char *const blocks[][2] = {
		{"0000", "E03EAD0935C95E80E166B16DD92B4EB4"},
		{"0001", "D23513162B02D0F72A43A2FE4A5F97AB"},
		{"0002", "41E95B3BB0A2E8DD477901E4FCA894C0"},
		{"FEFF", "EC8CDF7398607CB0F2D21675EA9EA1E4"},
		{"FF00", "362B7C3C6773516318A077D7FC5073AE"},
		{"FF01", "6A2CC3787889374FBEB4C81B17BA6C44"},
	};
	const size_t len = 1044512;
	uint8_t key[16], iv[16], want[16], pkt[BUF_SIZE];
	uint8_t *ks = calloc(1, len);
	struct cw__srtp_session_keys sk;
	struct cw_srtp *s = NULL;

	(void)state;
	assert_non_null(ks);
	unhex("2B7E151628AED2A6ABF7158809CF4F3C", key);
	unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", iv);
	assert_int_equal(cw__srtp_aes_cm(key, iv, ks, len), 0);
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		uint8_t counter[2];

		unhex(blocks[i][0], counter);
		unhex(blocks[i][1], want);
		assert_memory_equal(ks + 16 * (size_t)(counter[0] << 8 | counter[1]), want, 16);
	}

	/* The same through a session: SSRC 0, index 0, so the counter block is the salt. */
	memset(&sk, 0, sizeof(sk));
	memcpy(sk.rtp_key, key, 16);
	memcpy(sk.rtp_salt, iv, 14);
	assert_int_equal(cw__srtp_new_session(&s, CW_SRTP_AES128_CM_SHA1_80, &sk, &sk), 0);
	memset(pkt, 0, 60);
	pkt[0] = 0x80;
	assert_int_equal(cw_srtp_protect(s, pkt, 60, BUF_SIZE), 70);
	assert_memory_equal(pkt + 12, ks, 48);
	cw_srtp_free(s);
	free(ks);
}

/* B.3: the session keys of the example master key and salt. */
static void test_rfc3711_kdf(void **state)
{
	uint8_t key[16], salt[14], out[94], want[94];

	(void)state;
	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", key);
	unhex("0EC675AD498AFEEBB6960B3AABE6", salt);
	assert_int_equal(cw__srtp_kdf(key, salt, 14, CW__SRTP_LABEL_RTP_KEY, out, 16), 0);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want);
	assert_memory_equal(out, want, 16);
	assert_int_equal(cw__srtp_kdf(key, salt, 14, CW__SRTP_LABEL_RTP_SALT, out, 14), 0);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want);
	assert_memory_equal(out, want, 14);
	assert_int_equal(cw__srtp_kdf(key, salt, 14, CW__SRTP_LABEL_RTP_AUTH, out, 94), 0);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE"
	      "E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25"
	      "6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
	      want);
	assert_memory_equal(out, want, 94);
	assert_int_equal(cw__srtp_kdf(key, salt, 15, CW__SRTP_LABEL_RTP_KEY, out, 16), -EINVAL);
}

/* ---- RFC 7714 §16 and §17 (AEAD_AES_128_GCM) ---- */

static struct cw_srtp *rfc7714_session(void)
{
	struct cw__srtp_session_keys sk;
	struct cw_srtp *s = NULL;

	memset(&sk, 0, sizeof(sk));
	unhex("000102030405060708090a0b0c0d0e0f", sk.rtp_key);
	unhex("517569642070726f2071756f", sk.rtp_salt);
	memcpy(sk.rtcp_key, sk.rtp_key, 16);
	memcpy(sk.rtcp_salt, sk.rtp_salt, 12);
	/* Both directions under the vectors' keys: the session reads what it wrote. */
	assert_int_equal(cw__srtp_new_session(&s, CW_SRTP_AEAD_AES_128_GCM, &sk, &sk), 0);
	return s;
}

/* §16.1: SSRC 0x5501a0b2, ROC 0, SEQ 0xf17b, "Gallia est omnis divisa in partes tres". */
static void test_rfc7714_rtp(void **state)
{
	uint8_t plain[64], want[80], pkt[BUF_SIZE];
	size_t plain_len = unhex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f"
				 "6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573",
				 plain);
	size_t want_len = unhex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c"
				"9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf"
				"8833899d 7f27beb1 6a9152cf 765ee439 0cce",
				want);
	struct cw_srtp *s = rfc7714_session();

	(void)state;
	memcpy(pkt, plain, plain_len);
	assert_int_equal(cw_srtp_protect(s, pkt, plain_len, BUF_SIZE), (int)want_len);
	assert_memory_equal(pkt, want, want_len);
	assert_int_equal(unprotect_copy(s, false, want, want_len, plain, plain_len),
			 (int)plain_len);
	assert_int_equal(unprotect_copy(s, false, want, want_len, plain, plain_len),
			 CW_SRTP_E_REPLAY);
	cw_srtp_free(s);
}

/* §17.1: SSRC "Mars", SRTCP index 0x5d4, encrypted (E flag set). */
static void test_rfc7714_rtcp(void **state)
{
	uint8_t plain[64], want[96], pkt[BUF_SIZE];
	size_t plain_len = unhex("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a"
				 "0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef",
				 plain);
	size_t want_len = unhex("81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99"
				"7ff5c0f7 6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded"
				"0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4",
				want);
	struct cw_srtp *s = rfc7714_session();

	(void)state;
	assert_int_equal(cw__srtp_set_rtcp_index(s, 0x4d617273, 0x5d4), 0);
	memcpy(pkt, plain, plain_len);
	assert_int_equal(cw_srtp_protect_rtcp(s, pkt, plain_len, BUF_SIZE), (int)want_len);
	assert_memory_equal(pkt, want, want_len);
	/* The next packet takes the next index. */
	memcpy(pkt, plain, plain_len);
	assert_int_equal(cw_srtp_protect_rtcp(s, pkt, plain_len, BUF_SIZE), (int)want_len);
	assert_memory_equal(pkt + want_len - 4, "\x80\x00\x05\xd5", 4);

	/* The E flag is associated data: cleared, the tag fails; and unencrypted SRTCP is
	 * refused anyway. */
	memcpy(pkt, want, want_len);
	pkt[want_len - 4] &= 0x7f;
	assert_int_equal(cw_srtp_unprotect_rtcp(s, pkt, want_len), CW_SRTP_E_AUTH);
	assert_int_equal(unprotect_copy(s, true, want, want_len, plain, plain_len), (int)plain_len);
	assert_int_equal(unprotect_copy(s, true, want, want_len, plain, plain_len),
			 CW_SRTP_E_REPLAY);
	assert_int_equal(cw__srtp_set_rtcp_index(s, 1, 0), -EINVAL);
	assert_int_equal(cw__srtp_set_rtcp_index(s, 1, 0x80000000u), -EINVAL);
	cw_srtp_free(s);
}

/* ---- libsrtp2 ---- */

/* One direction of a libsrtp session, configured as src/rtc/srtp.c used to do it. */
static srtp_t lib_session(enum cw_srtp_profile profile, bool outbound, const uint8_t *key,
			  const uint8_t *salt)
{
	uint8_t master[CW_SRTP_KEY_LEN + CW_SRTP_SALT_MAX];
	srtp_policy_t policy;
	srtp_t ctx = NULL;

	memset(&policy, 0, sizeof(policy));
	if (profile == CW_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
	}
	memcpy(master, key, CW_SRTP_KEY_LEN);
	memcpy(master + CW_SRTP_KEY_LEN, salt, cw_srtp_salt_len(profile));
	policy.key = master;
	policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	policy.window_size = CW_SRTP_REPLAY_WINDOW;
	policy.allow_repeat_tx = outbound;
	assert_int_equal(srtp_create(&ctx, &policy), srtp_err_status_ok);
	return ctx;
}

static int lib_status(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
	case srtp_err_status_cipher_fail:
		return CW_SRTP_E_AUTH;
	case srtp_err_status_replay_fail:
		return CW_SRTP_E_REPLAY;
	case srtp_err_status_replay_old:
		return CW_SRTP_E_REPLAY_OLD;
	default:
		return CW_SRTP_E_FAIL;
	}
}

static int lib_protect(srtp_t ctx, bool rtcp, uint8_t *p, size_t len)
{
	int n = (int)len;
	srtp_err_status_t st = rtcp ? srtp_protect_rtcp(ctx, p, &n) : srtp_protect(ctx, p, &n);

	return st == srtp_err_status_ok ? n : lib_status(st);
}

static int lib_unprotect_copy(srtp_t ctx, bool rtcp, const uint8_t *pkt, size_t len,
			      const uint8_t *plain, size_t plain_len)
{
	uint8_t buf[BUF_SIZE];
	int n = (int)len;
	srtp_err_status_t st;

	memcpy(buf, pkt, len);
	st = rtcp ? srtp_unprotect_rtcp(ctx, buf, &n) : srtp_unprotect(ctx, buf, &n);
	if (st != srtp_err_status_ok)
		return lib_status(st);
	assert_int_equal(n, (int)plain_len);
	assert_memory_equal(buf, plain, plain_len);
	return n;
}

#define XC_SSRCS 5
#define XC_PACKETS 1500

struct sent {
	uint8_t plain[BUF_SIZE], ours[BUF_SIZE], lib[BUF_SIZE];
	size_t plain_len, len;
	bool rtcp;
};

/* A sends packets of several SSRCs (RTP starting near the wrap, RTCP between, some
 * retransmitted); ours and libsrtp must protect them to the same bytes. The receivers get
 * them reordered, some twice and some altered: ours unprotects libsrtp's bytes, libsrtp ours,
 * and both reach the same verdict and the same plaintext on every one. */
static void crosscheck(enum cw_srtp_profile profile)
{
	struct cw_srtp_keys ka, kb;
	struct cw_srtp *tx = NULL, *rx = NULL;
	srtp_t lib_tx, lib_rx;
	uint32_t ssrcs[XC_SSRCS];
	uint16_t seqs[XC_SSRCS];
	struct sent *sent = calloc(XC_PACKETS, sizeof(*sent));
	size_t order[XC_PACKETS];
	int accepted = 0, replays = 0, altered = 0, wraps = 0;

	assert_non_null(sent);
	random_keys(profile, &ka, &kb);
	assert_int_equal(cw_srtp_new(&tx, &ka), 0);
	assert_int_equal(cw_srtp_new(&rx, &kb), 0);
	lib_tx = lib_session(profile, true, ka.local_key, ka.local_salt);
	lib_rx = lib_session(profile, false, ka.local_key, ka.local_salt);
	for (int i = 0; i < XC_SSRCS; i++) {
		ssrcs[i] = rnd();
		/* One stream starts low, the others within a few hundred of the wrap. */
		seqs[i] = (uint16_t)(i == 0 ? rnd() % 1000 : 65536 - 20 - rnd() % 150);
	}

	for (size_t i = 0; i < XC_PACKETS; i++) {
		struct sent *p = &sent[i];
		int k = (int)(rnd() % XC_SSRCS);
		int a, b;

		p->rtcp = rnd() % 5 == 0;
		if (!p->rtcp && i > 10 && rnd() % 20 == 0) {
			/* A retransmission: the same packet protected again. */
			size_t j = i - 1 - rnd() % 10;

			while (j > 0 && sent[j].rtcp)
				j--;
			memcpy(p->plain, sent[j].plain, sent[j].plain_len);
			p->plain_len = sent[j].plain_len;
			p->rtcp = sent[j].rtcp;
		} else if (p->rtcp) {
			p->plain_len = make_rtcp(p->plain, ssrcs[k]);
		} else {
			uint16_t next = (uint16_t)(seqs[k] + 1 + (rnd() % 8 == 0 ? rnd() % 5 : 0));

			wraps += next < seqs[k];
			p->plain_len = make_rtp(p->plain, ssrcs[k], seqs[k], true, 1200);
			seqs[k] = next;
		}
		memcpy(p->ours, p->plain, p->plain_len);
		memcpy(p->lib, p->plain, p->plain_len);
		a = protect(tx, p->rtcp, p->ours, p->plain_len);
		b = lib_protect(lib_tx, p->rtcp, p->lib, p->plain_len);
		assert_int_equal(a, b);
		assert_true(a > (int)p->plain_len);
		p->len = (size_t)a;
		assert_memory_equal(p->ours, p->lib, p->len);
	}
	assert_true(wraps >= XC_SSRCS - 1);

	/* Delivery order: each packet moves up to 20 places. */
	for (size_t i = 0; i < XC_PACKETS; i++)
		order[i] = i;
	for (size_t i = 0; i + 1 < XC_PACKETS; i++) {
		size_t j = i + rnd() % 20;
		size_t t;

		if (j >= XC_PACKETS)
			j = XC_PACKETS - 1;
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < XC_PACKETS; i++) {
		struct sent *p = &sent[order[i]];
		int copies = rnd() % 10 == 0 ? 2 : 1;

		if (rnd() % 15 == 0) {
			/* Altered past the header (whose length libsrtp reads otherwise), and for
			 * RTCP not in the index word (libsrtp reads the E flag before the tag):
			 * both refuse it, as a replay if it is, and it changes nothing. */
			bool gcm = profile == CW_SRTP_AEAD_AES_128_GCM;
			size_t from = p->rtcp ? 8 : rtp_hlen(p->plain);
			size_t at = from + rnd() % (p->len - from);
			uint8_t bad[BUF_SIZE];
			int a, b;

			if (p->rtcp && at >= p->len - (gcm ? 4 : 14) &&
			    at < p->len - (gcm ? 0 : 10))
				at = 8;
			memcpy(bad, p->ours, p->len);
			bad[at] ^= (uint8_t)(1u << (rnd() % 8));
			a = unprotect_copy(rx, p->rtcp, bad, p->len, NULL, 0);
			b = lib_unprotect_copy(lib_rx, p->rtcp, bad, p->len, NULL, 0);
			assert_int_equal(a, b);
			assert_true(a == CW_SRTP_E_AUTH || a == CW_SRTP_E_REPLAY);
			altered += a == CW_SRTP_E_AUTH;
		}
		for (int c = 0; c < copies; c++) {
			int a = unprotect_copy(rx, p->rtcp, p->lib, p->len, p->plain, p->plain_len);
			int b = lib_unprotect_copy(lib_rx, p->rtcp, p->ours, p->len, p->plain,
						   p->plain_len);

			assert_int_equal(a, b);
			accepted += a >= 0;
			replays += a == CW_SRTP_E_REPLAY;
		}
	}
	/* Retransmissions and second copies are replays; the rest got through. */
	assert_true(accepted > XC_PACKETS * 8 / 10);
	assert_true(replays > XC_PACKETS / 20);
	assert_true(altered > 0);
	print_message("  %s: %d accepted, %d replays, %d altered, %d wraps\n",
		      cw_srtp_profile_name(profile), accepted, replays, altered, wraps);
	srtp_dealloc(lib_tx);
	srtp_dealloc(lib_rx);
	cw_srtp_free(tx);
	cw_srtp_free(rx);
	free(sent);
}

static void test_libsrtp_crosscheck(void **state)
{
	(void)state;
	for (int i = 0; i < PROFILES; i++)
		crosscheck(profiles[i]);
}

/* libsrtp derives AES-GCM's session keys from a 12-byte salt as we do: the same master key
 * gives the same bytes for the vectors' packet under both. */
static void test_libsrtp_gcm_kdf(void **state)
{
	for (int round = 0; round < 20; round++) {
		struct cw_srtp_keys ka, kb;
		struct cw_srtp *tx = NULL;
		srtp_t lib;
		uint8_t a[BUF_SIZE], b[BUF_SIZE];
		size_t len;

		(void)state;
		random_keys(CW_SRTP_AEAD_AES_128_GCM, &ka, &kb);
		assert_int_equal(cw_srtp_new(&tx, &ka), 0);
		lib = lib_session(CW_SRTP_AEAD_AES_128_GCM, true, ka.local_key, ka.local_salt);
		len = make_rtp(a, rnd(), (uint16_t)rnd(), false, 100);
		memcpy(b, a, len);
		assert_int_equal(protect(tx, false, a, len), (int)len + 16);
		assert_int_equal(lib_protect(lib, false, b, len), (int)len + 16);
		assert_memory_equal(a, b, len + 16);
		srtp_dealloc(lib);
		cw_srtp_free(tx);
	}
}

/* ---- Behaviour ---- */

/* A packet protected by tx into h (the plaintext kept beside it). */
struct held {
	uint8_t pkt[512], plain[512];
	size_t len, plen;
};

static void hold(struct cw_srtp *tx, struct held *h, bool rtcp, uint32_t ssrc, uint16_t seq)
{
	int n;

	h->plen = rtcp ? make_rtcp(h->plain, ssrc) : make_rtp(h->plain, ssrc, seq, false, 40);
	memcpy(h->pkt, h->plain, h->plen);
	n = rtcp ? cw_srtp_protect_rtcp(tx, h->pkt, h->plen, sizeof(h->pkt))
		 : cw_srtp_protect(tx, h->pkt, h->plen, sizeof(h->pkt));
	assert_true(n > (int)h->plen);
	h->len = (size_t)n;
}

static int deliver(struct cw_srtp *rx, bool rtcp, const struct held *h)
{
	return unprotect_copy(rx, rtcp, h->pkt, h->len, h->plain, h->plen);
}

/* A packet counts once; one altered anywhere fails authentication, or is not RTP at all when
 * the bit is the version's or changes the header's length, and leaves no state behind. */
static void tamper(enum cw_srtp_profile profile, bool rtcp)
{
	struct cw_srtp *tx = NULL, *rx = NULL;
	struct held h, behind, ahead;
	uint8_t bad[BUF_SIZE];

	pair(profile, &tx, &rx);
	hold(tx, &h, rtcp, 0xabcd, 100);
	for (size_t bit = 0; bit < 8 * h.len; bit++) {
		int n;

		memcpy(bad, h.pkt, h.len);
		bad[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		n = unprotect(rx, rtcp, bad, h.len);
		if (n == -EINVAL) /* the version, or RTP's X bit or CSRC count */
			assert_true(bit < 2 || (!rtcp && bit >= 3 && bit < 8));
		else
			assert_int_equal(n, CW_SRTP_E_AUTH);
	}
	assert_int_equal(cw__srtp_streams(rx, false), 0);
	assert_int_equal(deliver(rx, rtcp, &h), (int)h.plen);
	assert_int_equal(cw__srtp_streams(rx, false), 1);
	assert_int_equal(deliver(rx, rtcp, &h), CW_SRTP_E_REPLAY);

	/* A forgery far ahead does not move the window: a packet 500 behind the newest is still
	 * taken, which it would not be had the window followed the forgery 1,000 further on.
	 * RTP past 2^15 (where the ROC is estimated); for RTCP, indices 2..1001 and 501. */
	if (rtcp) {
		for (int k = 2; k <= 1001; k++) {
			hold(tx, &ahead, true, 0xabcd, 0);
			if (k == 501)
				behind = ahead;
			else
				assert_int_equal(deliver(rx, true, &ahead), (int)ahead.plen);
		}
	} else {
		hold(tx, &behind, false, 0xabcd, 39500);
		hold(tx, &ahead, false, 0xabcd, 40000);
		assert_int_equal(deliver(rx, false, &ahead), (int)ahead.plen);
	}
	memcpy(bad, ahead.pkt, ahead.len);
	if (rtcp) /* index 2001 */
		put32(bad + ahead.len - (profile == CW_SRTP_AEAD_AES_128_GCM ? 4 : 14),
		      0x80000000u | 2001);
	else
		put16(bad + 2, 41000);
	assert_int_equal(unprotect(rx, rtcp, bad, ahead.len), CW_SRTP_E_AUTH);
	assert_int_equal(deliver(rx, rtcp, &behind), (int)behind.plen);
	cw_srtp_free(tx);
	cw_srtp_free(rx);
}

static void test_tamper(void **state)
{
	(void)state;
	for (int i = 0; i < PROFILES; i++) {
		tamper(profiles[i], false);
		tamper(profiles[i], true);
	}
}

/* The window holds CW_SRTP_REPLAY_WINDOW indices: a packet that many behind the newest is
 * refused as too old, one less is still taken, once. Protecting a packet again is allowed and
 * gives the same bytes; protecting one as old as the window is refused. */
static void test_replay_window(void **state)
{
	enum { N = 1100, OLD = N - 1 - CW_SRTP_REPLAY_WINDOW };
	struct held *p = calloc(N, sizeof(*p));

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < PROFILES; i++) {
		for (int rtcp = 0; rtcp < 2; rtcp++) {
			struct cw_srtp *tx = NULL, *rx = NULL;
			struct held again;

			pair(profiles[i], &tx, &rx);
			for (int k = 0; k < N; k++) {
				hold(tx, &p[k], rtcp, 7, (uint16_t)(5000 + k));
				if (rtcp)
					continue;
				again = p[k];
				memcpy(again.pkt, again.plain, again.plen);
				assert_int_equal(cw_srtp_protect(tx, again.pkt, again.plen,
								 sizeof(again.pkt)),
						 (int)p[k].len);
				assert_memory_equal(again.pkt, p[k].pkt, p[k].len);
			}
			for (int k = 0; k < N; k++)
				if (k != OLD && k != OLD + 1)
					assert_int_equal(deliver(rx, rtcp, &p[k]), (int)p[k].plen);
			assert_int_equal(deliver(rx, rtcp, &p[OLD]), CW_SRTP_E_REPLAY_OLD);
			assert_int_equal(deliver(rx, rtcp, &p[OLD + 1]), (int)p[OLD + 1].plen);
			assert_int_equal(deliver(rx, rtcp, &p[OLD + 1]), CW_SRTP_E_REPLAY);
			if (!rtcp) {
				again = p[OLD];
				memcpy(again.pkt, again.plain, again.plen);
				assert_int_equal(cw_srtp_protect(tx, again.pkt, again.plen,
								 sizeof(again.pkt)),
						 CW_SRTP_E_REPLAY_OLD);
				again = p[OLD + 1];
				memcpy(again.pkt, again.plain, again.plen);
				assert_int_equal(cw_srtp_protect(tx, again.pkt, again.plen,
								 sizeof(again.pkt)),
						 (int)p[OLD + 1].len);
			}
			cw_srtp_free(tx);
			cw_srtp_free(rx);
		}
	}
	free(p);
}

/* What is not RTP or RTCP, too short for its tag, or lacks room is refused as such. */
static void test_malformed(void **state)
{
	(void)state;
	for (int i = 0; i < PROFILES; i++) {
		struct cw_srtp *tx = NULL, *rx = NULL;
		size_t tag = profiles[i] == CW_SRTP_AEAD_AES_128_GCM ? 16 : 10;
		uint8_t p[BUF_SIZE], q[8];
		size_t len;

		pair(profiles[i], &tx, &rx);
		len = make_rtp(p, 1, 1, false, 20);
		assert_int_equal(cw_srtp_protect(tx, p, len, len + CW_SRTP_TRAILER_MAX - 1),
				 -ENOSPC);
		assert_int_equal(cw_srtp_protect_rtcp(tx, p, len, len + CW_SRTP_TRAILER_MAX - 1),
				 -ENOSPC);
		assert_int_equal(cw_srtp_protect(tx, p, 11, BUF_SIZE), -EINVAL);
		assert_int_equal(cw_srtp_protect_rtcp(tx, p, 7, BUF_SIZE), -EINVAL);
		/* Longer than any RTP packet (nothing is read past the header). */
		assert_int_equal(cw_srtp_protect(tx, p, (1u << 20) + 1, 1u << 21), -EINVAL);
		/* Header and tag only: the shortest SRTP; a byte less is not SRTP. */
		assert_int_equal(cw_srtp_unprotect(rx, p, 12 + tag), CW_SRTP_E_AUTH);
		assert_int_equal(cw_srtp_unprotect(rx, p, 12 + tag - 1), -EINVAL);
		p[0] = 0x81; /* a CSRC: the header grows to 16 bytes */
		assert_int_equal(cw_srtp_unprotect(rx, p, 16 + tag - 1), -EINVAL);
		assert_int_equal(cw_srtp_unprotect(rx, p, 16 + tag), CW_SRTP_E_AUTH);
		p[0] = 0x90; /* an extension of 0x0101 words */
		p[12] = p[13] = p[14] = p[15] = 1;
		assert_int_equal(cw_srtp_unprotect(rx, p, 100), -EINVAL);
		assert_int_equal(cw_srtp_protect(tx, p, 100, BUF_SIZE), -EINVAL);
		assert_int_equal(cw_srtp_unprotect(rx, p, 14),
				 -EINVAL); /* no room for its header */
		p[0] = 0x40;		   /* version 1 */
		assert_int_equal(cw_srtp_unprotect(rx, p, 100), -EINVAL);
		assert_int_equal(cw_srtp_unprotect_rtcp(rx, p, 100), -EINVAL);
		assert_int_equal(cw_srtp_protect_rtcp(tx, p, 100, BUF_SIZE), -EINVAL);
		p[0] = 0x80;
		assert_int_equal(cw_srtp_unprotect_rtcp(rx, p, 8 + tag + 4 - 1), -EINVAL);
		p[8] = p[8 + tag] = 0x80; /* the E flag, where either profile has the index */
		assert_int_equal(cw_srtp_unprotect_rtcp(rx, p, 8 + tag + 4), CW_SRTP_E_AUTH);
		assert_int_equal(cw__srtp_streams(rx, false), 0);

		/* An RTCP header alone (an empty RR) goes through. */
		memcpy(p, "\x80\xc9\x00\x01\x00\x00\x00\x03", 8);
		memcpy(q, p, 8);
		assert_int_equal(cw_srtp_protect_rtcp(tx, p, 8, BUF_SIZE), (int)(8 + tag + 4));
		assert_int_equal(unprotect_copy(rx, true, p, 8 + tag + 4, q, 8), 8);
		assert_int_equal(cw__srtp_streams(rx, false), 1);
		cw_srtp_free(tx);
		cw_srtp_free(rx);
	}
	assert_int_equal(
		cw_srtp_new(&(struct cw_srtp *){NULL}, &(struct cw_srtp_keys){.profile = 2}),
		-EINVAL);
	cw_srtp_free(NULL);
}

/* Packets delivered out of order across two sequence number wraps all decrypt: a late one
 * from before a wrap takes ROC - 1, an early one after it ROC + 1. */
static void test_reorder_wrap(void **state)
{
	enum { N = 140000, HOLD = 40 };
	static const uint16_t order[] = {65530, 65533, 65534, 1, 65535, 0, 2, 65532};
	struct held *ring = calloc(HOLD, sizeof(*ring));
	struct held p[8];

	(void)state;
	assert_non_null(ring);
	for (int i = 0; i < PROFILES; i++) {
		struct cw_srtp *tx = NULL, *rx = NULL;
		uint16_t seq = 65000;

		/* Each packet waits in a ring until a later one takes its place at random. */
		pair(profiles[i], &tx, &rx);
		for (int k = 0; k < HOLD; k++)
			hold(tx, &ring[k], false, 0x5eed, seq++);
		for (int k = HOLD; k < N; k++) {
			struct held *h = &ring[rnd() % HOLD];

			assert_int_equal(deliver(rx, false, h), (int)h->plen);
			hold(tx, h, false, 0x5eed, seq++);
		}
		for (int k = 0; k < HOLD; k++)
			assert_int_equal(deliver(rx, false, &ring[k]), (int)ring[k].plen);
		cw_srtp_free(tx);
		cw_srtp_free(rx);

		/* Sent in sequence, received as order lists them. */
		pair(profiles[i], &tx, &rx);
		for (uint32_t s = 65530; s <= 65538; s++)
			for (int k = 0; k < 8; k++)
				if (order[k] == (uint16_t)s)
					hold(tx, &p[k], false, 0x77, order[k]);
		for (int k = 0; k < 8; k++)
			assert_int_equal(deliver(rx, false, &p[k]), (int)p[k].plen);
		assert_int_equal(deliver(rx, false, &p[4]), CW_SRTP_E_REPLAY);
		assert_int_equal(deliver(rx, false, &p[3]), CW_SRTP_E_REPLAY);
		cw_srtp_free(tx);
		cw_srtp_free(rx);
	}
	free(ring);
}

/* Outbound, every SSRC keeps its state and a new one past the limit is refused; inbound, the
 * least recently used SSRCs are forgotten for new ones while the others keep theirs, and
 * packets that fail authentication never make an SSRC known. */
static void test_streams(void **state)
{
	enum { NEW = 300 };
	struct held *sent = calloc(CW_SRTP_STREAMS_MAX + 1, sizeof(*sent));

	(void)state;
	assert_non_null(sent);
	for (int i = 0; i < PROFILES; i++) {
		struct cw_srtp_keys ka, kb;
		struct cw_srtp *tx = NULL, *tx2 = NULL, *rx = NULL;
		struct held recent, h;
		uint8_t p[BUF_SIZE];
		size_t len;

		random_keys(profiles[i], &ka, &kb);
		assert_int_equal(cw_srtp_new(&tx, &ka), 0);
		assert_int_equal(cw_srtp_new(&tx2, &ka), 0);
		assert_int_equal(cw_srtp_new(&rx, &kb), 0);
		for (int k = 0; k < 3000; k++) {
			len = make_rtp(p, rnd(), (uint16_t)rnd(), true, 300);
			assert_int_equal(cw_srtp_unprotect(rx, p, len + 16), CW_SRTP_E_AUTH);
			len = make_rtcp(p, rnd());
			p[len + 6] = p[len + 16] = 0x80; /* the E flag of either profile */
			assert_int_equal(cw_srtp_unprotect_rtcp(rx, p, len + 20), CW_SRTP_E_AUTH);
		}
		assert_int_equal(cw__srtp_streams(rx, false), 0);

		/* SSRCs are multiples of 4096 apart: many share a hash slot. */
		for (uint32_t k = 1; k <= CW_SRTP_STREAMS_MAX; k++) {
			hold(tx, &sent[k], false, k * 4096, 100);
			assert_int_equal(deliver(rx, false, &sent[k]), (int)sent[k].plen);
		}
		assert_int_equal(cw__srtp_streams(tx, true), CW_SRTP_STREAMS_MAX);
		assert_int_equal(cw__srtp_streams(rx, false), CW_SRTP_STREAMS_MAX);
		/* One more outbound SSRC is refused, RTP or RTCP; known ones go on. */
		len = make_rtp(p, 1, 1, false, 10);
		assert_int_equal(cw_srtp_protect(tx, p, len, BUF_SIZE), CW_SRTP_E_FAIL);
		len = make_rtcp(p, 1);
		assert_int_equal(cw_srtp_protect_rtcp(tx, p, len, BUF_SIZE), CW_SRTP_E_FAIL);
		hold(tx, &recent, false, 2 * 4096, 101);
		assert_int_equal(deliver(rx, false, &recent), (int)recent.plen);

		/* Inbound, NEW SSRCs (from another sender) take the places of the least recently
		 * used: 1, then 3 onwards (2 was just used). */
		for (uint32_t k = 0; k < NEW; k++) {
			hold(tx2, &h, false, 7 + k * 4096, 100);
			assert_int_equal(deliver(rx, false, &h), (int)h.plen);
			assert_int_equal(deliver(rx, false, &h), CW_SRTP_E_REPLAY);
		}
		assert_int_equal(cw__srtp_streams(rx, false), CW_SRTP_STREAMS_MAX);
		/* Everything kept is still found (so a replay is one)... */
		assert_int_equal(deliver(rx, false, &recent), CW_SRTP_E_REPLAY);
		for (uint32_t k = NEW + 2; k <= CW_SRTP_STREAMS_MAX; k++)
			assert_int_equal(deliver(rx, false, &sent[k]), CW_SRTP_E_REPLAY);
		/* ...and what was forgotten starts again. */
		assert_int_equal(deliver(rx, false, &sent[1]), (int)sent[1].plen);
		assert_int_equal(deliver(rx, false, &sent[NEW + 1]), (int)sent[NEW + 1].plen);
		cw_srtp_free(tx);
		cw_srtp_free(tx2);
		cw_srtp_free(rx);
	}
	free(sent);
}

/* SRTCP that is authenticated but not encrypted (E flag clear, RFC 3711 §3.4) is refused:
 * nothing here sends it, and taking it would mean decrypting plaintext. */
static void test_rtcp_unencrypted(void **state)
{
	struct cw__srtp_session_keys sk;
	struct cw_srtp *s = NULL;
	uint8_t p[BUF_SIZE], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t len;

	(void)state;
	memset(&sk, 0, sizeof(sk));
	rnd_bytes(sk.rtcp_key, sizeof(sk.rtcp_key));
	rnd_bytes(sk.rtcp_auth, sizeof(sk.rtcp_auth));
	assert_int_equal(cw__srtp_new_session(&s, CW_SRTP_AES128_CM_SHA1_80, &sk, &sk), 0);
	len = make_rtcp(p, 99);
	put32(p + len, 1); /* index 1, E clear */
	assert_non_null(
		HMAC(EVP_sha1(), sk.rtcp_auth, sizeof(sk.rtcp_auth), p, len + 4, md, &md_len));
	memcpy(p + len + 4, md, 10);
	assert_int_equal(cw_srtp_unprotect_rtcp(s, p, len + 14), CW_SRTP_E_AUTH);
	/* The same with the E flag set authenticates (and decrypts to something else). */
	put32(p + len, 0x80000001u);
	assert_non_null(
		HMAC(EVP_sha1(), sk.rtcp_auth, sizeof(sk.rtcp_auth), p, len + 4, md, &md_len));
	memcpy(p + len + 4, md, 10);
	assert_int_equal(cw_srtp_unprotect_rtcp(s, p, len + 14), (int)len);
	cw_srtp_free(s);
}

/* After each SSRC's first packet, protecting and unprotecting allocate nothing. */
static void test_no_allocation(void **state)
{
	(void)state;
	assert_true(openssl_counted);
	for (int i = 0; i < PROFILES; i++) {
		struct cw_srtp *tx = NULL, *rx = NULL;
		uint8_t p[BUF_SIZE], q[BUF_SIZE];

		pair(profiles[i], &tx, &rx);
		for (int round = 0; round < 2; round++) {
			counting = round == 1;
			allocs = 0;
			for (int k = 0; k < 5000; k++) {
				bool rtcp = k % 4 == 0;
				size_t plen =
					rtcp ? make_rtcp(q, (uint32_t)(k % 3))
					     : make_rtp(q, (uint32_t)(k % 3),
							(uint16_t)(round * 5000 + k), true, 1200);
				int n;

				memcpy(p, q, plen);
				n = protect(tx, rtcp, p, plen);
				assert_true(n > 0);
				assert_int_equal(unprotect(rx, rtcp, p, (size_t)n), (int)plen);
			}
			counting = false;
		}
		assert_int_equal(allocs, 0);
		cw_srtp_free(tx);
		cw_srtp_free(rx);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_true(strncmp(cw_srtp_library_version(), "OpenSSL 3", 9) == 0);
	assert_non_null(strstr(cw_srtp_library_version(), "(EVP)"));
	assert_string_equal(cw_srtp_strerror(CW_SRTP_E_REPLAY_OLD),
			    "SRTP packet older than the replay window");
	print_message("  %s; cross-checked against %s\n", cw_srtp_library_version(),
		      srtp_get_version_string());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3711_keystream),
		cmocka_unit_test(test_rfc3711_kdf),
		cmocka_unit_test(test_rfc7714_rtp),
		cmocka_unit_test(test_rfc7714_rtcp),
		cmocka_unit_test(test_libsrtp_crosscheck),
		cmocka_unit_test(test_libsrtp_gcm_kdf),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_reorder_wrap),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_rtcp_unencrypted),
		cmocka_unit_test(test_no_allocation),
		cmocka_unit_test(test_names),
	};
	const char *seed = getenv("CW_TEST_SEED");

	/* Before OpenSSL allocates anything. */
	openssl_counted = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) == 1;
	if (seed != NULL)
		rng_state = strtoull(seed, NULL, 0) | 1;
	if (srtp_init() != srtp_err_status_ok)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
