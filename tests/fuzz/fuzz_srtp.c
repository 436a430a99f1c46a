/* libFuzzer target: arbitrary bytes as SRTP and SRTCP into sessions of both profiles, and
 * arbitrary RTP and RTCP through protect and back. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rtc/srtp.h"
#include "rtc/srtp_internal.h"

/* A broken invariant is a crash, so libFuzzer keeps the input. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_PKT 65535

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[MAX_PKT + CW_SRTP_TRAILER_MAX];

/*
 * The input: one byte whose low bit picks the profile (1: AES-GCM), then records of a kind
 * byte, a 16-bit big-endian length and that many bytes (fewer if the input ends):
 *   kind & 3 == 0: SRTP into the receiving session; 1: SRTCP into it;
 *   2: RTP protected by the sending session, then unprotected; 3: the same for RTCP.
 * The sessions are new for each input and keyed as a pair, so a packet the sender protected
 * authenticates at the receiver: tests/fuzz/corpus/srtp holds such packets.
 */
static void keys(enum cw_srtp_profile profile, struct cw_srtp_keys *tx, struct cw_srtp_keys *rx)
{
	memset(tx, 0, sizeof(*tx));
	tx->profile = profile;
	for (int i = 0; i < CW_SRTP_KEY_LEN; i++) {
		tx->local_key[i] = (uint8_t)(i + 1);
		tx->remote_key[i] = (uint8_t)(0xf0 - i);
	}
	for (int i = 0; i < CW_SRTP_SALT_MAX; i++) {
		tx->local_salt[i] = (uint8_t)(0x40 + i);
		tx->remote_salt[i] = (uint8_t)(0x80 + i);
	}
	*rx = *tx;
	memcpy(rx->local_key, tx->remote_key, CW_SRTP_KEY_LEN);
	memcpy(rx->local_salt, tx->remote_salt, CW_SRTP_SALT_MAX);
	memcpy(rx->remote_key, tx->local_key, CW_SRTP_KEY_LEN);
	memcpy(rx->remote_salt, tx->local_salt, CW_SRTP_SALT_MAX);
}

static bool known_error(int n)
{
	return n == -EINVAL || n == CW_SRTP_E_AUTH || n == CW_SRTP_E_REPLAY ||
	       n == CW_SRTP_E_REPLAY_OLD || n == CW_SRTP_E_FAIL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_srtp_keys ktx, krx;
	struct cw_srtp *tx = NULL, *rx = NULL;
	/* Once a packet from the input authenticated, or the receiver forgot an SSRC, the two
	 * sides' states may differ, and a round trip may fail: the invariant below is off. */
	bool diverged = false;
	size_t at = 1;

	if (size < 1)
		return 0;
	keys(data[0] & 1 ? CW_SRTP_AEAD_AES_128_GCM : CW_SRTP_AES128_CM_SHA1_80, &ktx, &krx);
	CHECK(cw_srtp_new(&tx, &ktx) == 0 && cw_srtp_new(&rx, &krx) == 0);
	while (at + 3 <= size) {
		unsigned kind = data[at] & 3;
		size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
		bool rtcp = kind & 1;
		int n, m;

		at += 3;
		if (len > size - at)
			len = size - at;
		memcpy(buf, data + at, len);
		at += len;
		if (kind < 2) {
			n = rtcp ? cw_srtp_unprotect_rtcp(rx, buf, len)
				 : cw_srtp_unprotect(rx, buf, len);
			CHECK(n < 0 ? known_error(n) : (size_t)n < len);
			diverged |= n >= 0;
			continue;
		}
		n = rtcp ? cw_srtp_protect_rtcp(tx, buf, len, sizeof(buf))
			 : cw_srtp_protect(tx, buf, len, sizeof(buf));
		if (n < 0) {
			CHECK(n == -EINVAL || n == CW_SRTP_E_REPLAY_OLD || n == CW_SRTP_E_FAIL);
			continue;
		}
		CHECK((size_t)n > len && (size_t)n <= len + CW_SRTP_TRAILER_MAX);
		m = rtcp ? cw_srtp_unprotect_rtcp(rx, buf, (size_t)n)
			 : cw_srtp_unprotect(rx, buf, (size_t)n);
		if (m >= 0) {
			CHECK((size_t)m == len && memcmp(buf, data + at - len, len) == 0);
		} else {
			/* A sequence number protected again is a replay; nothing else fails. */
			CHECK(diverged ? known_error(m) : !rtcp && m == CW_SRTP_E_REPLAY);
		}
		diverged |= cw__srtp_streams(rx, false) == CW_SRTP_STREAMS_MAX;
	}
	cw_srtp_free(tx);
	cw_srtp_free(rx);
	return 0;
}

#ifdef FUZZ_SRTP_SEEDS
/* Writes the seed corpus into the folder argv[1]: built without libFuzzer, e.g.
 *   cc -DFUZZ_SRTP_SEEDS -Isrc tests/fuzz/fuzz_srtp.c build/libcallwire_rtc.a -lcrypto
 * Each seed's packets are those the input's own sender session protects first. */
static size_t record(uint8_t *out, unsigned kind, const uint8_t *p, size_t len)
{
	out[0] = (uint8_t)kind;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	memcpy(out + 3, p, len);
	return 3 + len;
}

static const uint8_t rtp_plain[] = {
	0x90, 0xe0, 0xff, 0xfe, 0x00, 0x01, 0x5f, 0x90, 0x12, 0x34, 0x56, 0x78, /* seq 65534 */
	0xbe, 0xde, 0x00, 0x01, 0x10, 0x7f, 0x00, 0x00,				/* level */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c};
static const uint8_t rtcp_plain[] = {0x81, 0xc9, 0x00, 0x07, 0x12, 0x34, 0x56, 0x78,
				     0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x01,
				     0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x10,
				     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

int main(int argc, char **argv)
{
	for (int gcm = 0; gcm < 2 && argc > 1; gcm++) {
		struct cw_srtp_keys ktx, krx;
		struct cw_srtp *tx = NULL;
		uint8_t seed[4096], p[512];
		const char *names[] = {"rtp", "rtcp", "rtp_wrap_roundtrip", "rtcp_roundtrip"};

		keys(gcm ? CW_SRTP_AEAD_AES_128_GCM : CW_SRTP_AES128_CM_SHA1_80, &ktx, &krx);
		for (unsigned kind = 0; kind < 4; kind++) {
			bool rtcp = kind & 1;
			size_t len = rtcp ? sizeof(rtcp_plain) : sizeof(rtp_plain);
			size_t n = 1;
			char path[512];
			FILE *f;

			seed[0] = (uint8_t)gcm;
			CHECK(cw_srtp_new(&tx, &ktx) == 0);
			for (int i = 0; i < 3; i++) {

				uint16_t seq = (uint16_t)(65534 + i); /* across the wrap */

				memcpy(p, rtcp ? rtcp_plain : rtp_plain, len);
				if (!rtcp) {
					p[2] = (uint8_t)(seq >> 8);
					p[3] = (uint8_t)seq;
				}
				if (kind >= 2) {
					n += record(seed + n, kind, p, len);
					continue;
				}
				int k = rtcp ? cw_srtp_protect_rtcp(tx, p, len, sizeof(p))
					     : cw_srtp_protect(tx, p, len, sizeof(p));
				CHECK(k > 0);
				n += record(seed + n, kind, p, (size_t)k);
			}
			cw_srtp_free(tx);
			snprintf(path, sizeof(path), "%s/%s_%s", argv[1], gcm ? "gcm" : "cm",
				 names[kind]);
			f = fopen(path, "wb");
			CHECK(f != NULL && fwrite(seed, 1, n, f) == n && fclose(f) == 0);
		}
	}
	return argc > 1 ? 0 : 2;
}
#endif
