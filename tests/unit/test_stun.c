/* Unit tests of STUN: the RFC 5769 vectors, browser checks, builders against an independent
 * encoder, round trips and every refusal. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "rtc/stun.h"

/*
 * The vectors: RFC 5769's byte for byte, and browser-style messages and our answers to
 * them as an independent encoder (Python's hmac, hashlib and zlib) wrote them, with the
 * server's ice-pwd SERVER_PWD. They are also the fuzzer's seeds (tests/fuzz/corpus/stun).
 */
#define RFC_PWD "VOkJxbRl1RmTxUk/WvJxBt"
#define SERVER_PWD "q5Gz2pVZ8mT7LwK0bXcR3eYn"

/* RFC 5769 §2.1: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME "evtj:h6vY", MI, FINGERPRINT. */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
	0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
	0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
	0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
	0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
	0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
	0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: SOFTWARE, XOR-MAPPED-ADDRESS 192.0.2.1:32853, MI, FINGERPRINT. */
static const uint8_t rfc5769_ipv4_response[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
	0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
	0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
	0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
	0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
	0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc5769_ipv6_response[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
	0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
	0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
	0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
	0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6,
	0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 §2.4: USERNAME, NONCE, REALM, MI keyed with MD5(user:realm:pass). */
static const uint8_t rfc5769_long_term_request[] = {
	0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
	0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88,
	0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00,
	0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
	0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73,
	0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
	0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02,
	0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

/* Chromium's nominating check: USERNAME, GOOG-NETWORK-INFO, ICE-CONTROLLING, USE-CANDIDATE,
 * PRIORITY, MI, FINGERPRINT. */
static const uint8_t chromium_binding_request[] = {
	0x00, 0x01, 0x00, 0x50, 0x21, 0x12, 0xa4, 0x42, 0x4a, 0x7f, 0x0c, 0x21, 0xd3, 0xb5, 0x9e,
	0x88, 0x61, 0xf0, 0xaa, 0x17, 0x00, 0x06, 0x00, 0x09, 0x63, 0x57, 0x73, 0x31, 0x3a, 0x73,
	0x52, 0x34, 0x6e, 0x00, 0x00, 0x00, 0xc0, 0x57, 0x00, 0x04, 0x00, 0x01, 0x00, 0x0a, 0x80,
	0x2a, 0x00, 0x08, 0x1c, 0x8e, 0x2f, 0x5a, 0xb3, 0xd4, 0x07, 0x19, 0x00, 0x25, 0x00, 0x00,
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x7f, 0x1e, 0xff, 0x00, 0x08, 0x00, 0x14, 0x5e, 0xb3, 0xbe,
	0x11, 0x82, 0x09, 0x59, 0x3a, 0xd3, 0x91, 0xb3, 0xbd, 0xd4, 0xc3, 0xcc, 0x6d, 0x84, 0x9e,
	0x1b, 0xf2, 0x80, 0x28, 0x00, 0x04, 0x2c, 0x7e, 0x75, 0x5b,
};

/* Chromium's consent check: the same without USE-CANDIDATE. */
static const uint8_t chromium_consent_request[] = {
	0x00, 0x01, 0x00, 0x4c, 0x21, 0x12, 0xa4, 0x42, 0x9d, 0x03, 0xe6, 0xb2, 0x7a, 0x4c,
	0x11, 0xf8, 0x5e, 0x0b, 0x3c, 0x6d, 0x00, 0x06, 0x00, 0x09, 0x63, 0x57, 0x73, 0x31,
	0x3a, 0x73, 0x52, 0x34, 0x6e, 0x00, 0x00, 0x00, 0xc0, 0x57, 0x00, 0x04, 0x00, 0x01,
	0x00, 0x0a, 0x80, 0x2a, 0x00, 0x08, 0x1c, 0x8e, 0x2f, 0x5a, 0xb3, 0xd4, 0x07, 0x19,
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x7f, 0x1e, 0xff, 0x00, 0x08, 0x00, 0x14, 0x90, 0xad,
	0xbe, 0xc6, 0xb0, 0xc5, 0x6b, 0xe0, 0xb2, 0xa1, 0x9a, 0x87, 0xa3, 0xea, 0xd2, 0xd3,
	0xc7, 0x0f, 0xc6, 0xf9, 0x80, 0x28, 0x00, 0x04, 0xe1, 0xd9, 0xe4, 0x0a,
};

/* Firefox's order: USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MI, FINGERPRINT. */
static const uint8_t firefox_binding_request[] = {
	0x00, 0x01, 0x00, 0x4c, 0x21, 0x12, 0xa4, 0x42, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50,
	0x61, 0x72, 0x83, 0x94, 0xa5, 0xb6, 0x00, 0x06, 0x00, 0x0d, 0x63, 0x57, 0x73, 0x31,
	0x3a, 0x38, 0x66, 0x32, 0x65, 0x31, 0x61, 0x37, 0x63, 0x00, 0x00, 0x00, 0x00, 0x24,
	0x00, 0x04, 0x7e, 0x7f, 0x00, 0xff, 0x80, 0x2a, 0x00, 0x08, 0x7f, 0x3a, 0x9b, 0x2c,
	0x4d, 0x5e, 0x6f, 0x01, 0x00, 0x25, 0x00, 0x00, 0x00, 0x08, 0x00, 0x14, 0xd5, 0x9a,
	0x5c, 0xf8, 0x86, 0xb0, 0xeb, 0xf2, 0x57, 0x4c, 0x9b, 0x9d, 0xa6, 0x31, 0xb8, 0xc9,
	0xed, 0x76, 0x2b, 0xdd, 0x80, 0x28, 0x00, 0x04, 0x4c, 0xea, 0x7f, 0xa5,
};

/* The answer to chromium_binding_request from 203.0.113.7:50123. */
static const uint8_t binding_success_ipv4[] = {
	0x01, 0x01, 0x00, 0x2c, 0x21, 0x12, 0xa4, 0x42, 0x4a, 0x7f, 0x0c, 0x21, 0xd3,
	0xb5, 0x9e, 0x88, 0x61, 0xf0, 0xaa, 0x17, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
	0xe2, 0xd9, 0xea, 0x12, 0xd5, 0x45, 0x00, 0x08, 0x00, 0x14, 0xb1, 0x9e, 0xcd,
	0x83, 0xb4, 0x11, 0x17, 0x53, 0xee, 0x8c, 0xad, 0x37, 0xfd, 0xa2, 0x98, 0x0d,
	0xa7, 0xa5, 0x86, 0x70, 0x80, 0x28, 0x00, 0x04, 0x51, 0xae, 0x6c, 0xb2,
};

/* The same from [2001:db8::7:1]:50123. */
static const uint8_t binding_success_ipv6[] = {
	0x01, 0x01, 0x00, 0x38, 0x21, 0x12, 0xa4, 0x42, 0x4a, 0x7f, 0x0c, 0x21, 0xd3,
	0xb5, 0x9e, 0x88, 0x61, 0xf0, 0xaa, 0x17, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
	0xe2, 0xd9, 0x01, 0x13, 0xa9, 0xfa, 0x4a, 0x7f, 0x0c, 0x21, 0xd3, 0xb5, 0x9e,
	0x88, 0x61, 0xf7, 0xaa, 0x16, 0x00, 0x08, 0x00, 0x14, 0x78, 0x36, 0x09, 0x72,
	0x5e, 0x5d, 0x4d, 0x67, 0xe9, 0x18, 0x87, 0xd9, 0x8e, 0xb2, 0x0f, 0x3a, 0x92,
	0x1f, 0xaf, 0x9d, 0x80, 0x28, 0x00, 0x04, 0x57, 0x8a, 0x07, 0x25,
};

/* 487 Role Conflict to chromium_binding_request, with MI. */
static const uint8_t binding_error_487[] = {
	0x01, 0x11, 0x00, 0x38, 0x21, 0x12, 0xa4, 0x42, 0x4a, 0x7f, 0x0c, 0x21, 0xd3,
	0xb5, 0x9e, 0x88, 0x61, 0xf0, 0xaa, 0x17, 0x00, 0x09, 0x00, 0x11, 0x00, 0x00,
	0x04, 0x57, 0x52, 0x6f, 0x6c, 0x65, 0x20, 0x43, 0x6f, 0x6e, 0x66, 0x6c, 0x69,
	0x63, 0x74, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x14, 0x8a, 0xb4, 0xb6, 0xe6,
	0x25, 0xef, 0x87, 0xd9, 0xf0, 0x53, 0xf8, 0x3f, 0xdb, 0x3b, 0xb3, 0xac, 0x2b,
	0xb2, 0x45, 0x04, 0x80, 0x28, 0x00, 0x04, 0x53, 0xfc, 0xb1, 0x74,
};

/* 401 Unauthorized to chromium_binding_request, without MI. */
static const uint8_t binding_error_401[] = {
	0x01, 0x11, 0x00, 0x1c, 0x21, 0x12, 0xa4, 0x42, 0x4a, 0x7f, 0x0c, 0x21,
	0xd3, 0xb5, 0x9e, 0x88, 0x61, 0xf0, 0xaa, 0x17, 0x00, 0x09, 0x00, 0x10,
	0x00, 0x00, 0x04, 0x01, 0x55, 0x6e, 0x61, 0x75, 0x74, 0x68, 0x6f, 0x72,
	0x69, 0x7a, 0x65, 0x64, 0x80, 0x28, 0x00, 0x04, 0xa7, 0x7b, 0x01, 0x68,
};

/* A check with the unknown comprehension-required attribute 0x7777. */
static const uint8_t request_unknown_required[] = {
	0x00, 0x01, 0x00, 0x40, 0x21, 0x12, 0xa4, 0x42, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50,
	0x61, 0x72, 0x83, 0x94, 0xa5, 0xb6, 0x00, 0x06, 0x00, 0x09, 0x63, 0x57, 0x73, 0x31,
	0x3a, 0x73, 0x52, 0x34, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x7f,
	0x1e, 0xff, 0x77, 0x77, 0x00, 0x03, 0x78, 0x79, 0x7a, 0x00, 0x00, 0x08, 0x00, 0x14,
	0x2e, 0x21, 0x65, 0x4c, 0x5d, 0x32, 0x46, 0xca, 0x36, 0x8e, 0xdd, 0x6f, 0xd8, 0x5d,
	0x5a, 0x23, 0x88, 0xf1, 0x92, 0x76, 0x80, 0x28, 0x00, 0x04, 0x00, 0x7c, 0xbb, 0x56,
};

/* A Binding indication: FINGERPRINT only. */
static const uint8_t binding_indication[] = {
	0x00, 0x11, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 0x9d, 0x03, 0xe6, 0xb2, 0x7a, 0x4c,
	0x11, 0xf8, 0x5e, 0x0b, 0x3c, 0x6d, 0x80, 0x28, 0x00, 0x04, 0xff, 0x96, 0x19, 0xbf,
};

static const uint8_t rfc_tid[CW_STUN_TID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
						 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
static const uint8_t chromium_tid[CW_STUN_TID_LEN] = {0x4a, 0x7f, 0x0c, 0x21, 0xd3, 0xb5,
						      0x9e, 0x88, 0x61, 0xf0, 0xaa, 0x17};
static const uint8_t firefox_tid[CW_STUN_TID_LEN] = {0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50,
						     0x61, 0x72, 0x83, 0x94, 0xa5, 0xb6};

/* ---- helpers ---- */

static int parse(struct cw_stun_msg *m, const uint8_t *buf, size_t len)
{
	return cw_stun_parse(m, buf, len);
}

static int check_pwd(const struct cw_stun_msg *m, const char *pwd)
{
	return cw_stun_check_integrity(m, pwd, strlen(pwd));
}

/* A message of type with the raw attribute bytes attrs and a length field that matches;
 * returns its length. */
static size_t raw_msg(uint8_t *out, uint16_t type, const uint8_t *attrs, size_t n)
{
	out[0] = (uint8_t)(type >> 8);
	out[1] = (uint8_t)type;
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	out[4] = 0x21;
	out[5] = 0x12;
	out[6] = 0xa4;
	out[7] = 0x42;
	memcpy(out + 8, rfc_tid, CW_STUN_TID_LEN);
	if (n)
		memcpy(out + CW_STUN_HEADER_LEN, attrs, n);
	return CW_STUN_HEADER_LEN + n;
}

/* CRC-32 a bit at a time: a second implementation, to re-seal messages a test altered. */
static uint32_t bitwise_crc32(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* Rewrites the FINGERPRINT that ends buf[0..len). */
static void refingerprint(uint8_t *buf, size_t len)
{
	uint32_t v = bitwise_crc32(buf, len - 8) ^ 0x5354554eu;

	buf[len - 4] = (uint8_t)(v >> 24);
	buf[len - 3] = (uint8_t)(v >> 16);
	buf[len - 2] = (uint8_t)(v >> 8);
	buf[len - 1] = (uint8_t)v;
}

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

/* Asserts that the view's XOR-MAPPED-ADDRESS is ip:port, formatted as inet_ntop does. */
static void assert_mapped(const struct cw_stun_msg *m, const char *ip, uint16_t port)
{
	char text[INET6_ADDRSTRLEN];

	assert_true(m->has_mapped);
	if (m->mapped.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&m->mapped;

		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&m->mapped;

		assert_int_equal(m->mapped.ss_family, AF_INET6);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(text, ip);
}

static void assert_text(const char *p, size_t len, const char *want)
{
	assert_non_null(p);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
}

/* ---- demultiplexing ---- */

static void demux_takes_stun_and_leaves_rtp_dtls_and_short_datagrams(void **state)
{
	uint8_t m[128];

	(void)state;
	assert_true(cw_stun_is_stun(rfc5769_request, sizeof(rfc5769_request)));
	assert_true(cw_stun_is_stun(rfc5769_ipv6_response, sizeof(rfc5769_ipv6_response)));
	assert_true(cw_stun_is_stun(chromium_binding_request, sizeof(chromium_binding_request)));
	assert_true(cw_stun_is_stun(binding_indication, sizeof(binding_indication)));

	/* The first byte tells STUN (0-3) from DTLS (20-63) and RTP/RTCP (128-191). */
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	m[0] = 0x16;
	assert_false(cw_stun_is_stun(m, sizeof(rfc5769_request)));
	m[0] = 0x80;
	assert_false(cw_stun_is_stun(m, sizeof(rfc5769_request)));
	m[0] = 0x04;
	assert_false(cw_stun_is_stun(m, sizeof(rfc5769_request)));
	/* A classic STUN (RFC 3489) message has no magic cookie. */
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	m[7] ^= 1;
	assert_false(cw_stun_is_stun(m, sizeof(rfc5769_request)));
	/* The length field must be the datagram's. */
	assert_false(cw_stun_is_stun(rfc5769_request, sizeof(rfc5769_request) - 4));
	assert_false(cw_stun_is_stun(rfc5769_request, sizeof(rfc5769_request) + 0 - 1));
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	m[3] = 0x59;
	assert_false(cw_stun_is_stun(m, 0x59 + CW_STUN_HEADER_LEN));
	assert_false(cw_stun_is_stun(rfc5769_request, CW_STUN_HEADER_LEN - 1));
	assert_false(cw_stun_is_stun(rfc5769_request, 0));
}

/* ---- RFC 5769 ---- */

static void rfc5769_request_parses_to_its_attributes(void **state)
{
	struct cw_stun_msg m;

	(void)state;
	assert_int_equal(parse(&m, rfc5769_request, sizeof(rfc5769_request)), 0);
	assert_int_equal(m.type, 0x0001);
	assert_int_equal(m.cls, CW_STUN_REQUEST);
	assert_int_equal(m.method, CW_STUN_BINDING);
	assert_memory_equal(m.tid, rfc_tid, CW_STUN_TID_LEN);
	assert_int_equal(m.len, sizeof(rfc5769_request));
	assert_text(m.username, m.username_len, "evtj:h6vY");
	assert_true(m.has_priority);
	assert_int_equal(m.priority, 0x6e0001ff);
	assert_int_equal(m.role, CW_STUN_ROLE_CONTROLLED);
	assert_true(m.tie_breaker == 0x932ff9b151263b36ull);
	assert_false(m.use_candidate);
	assert_false(m.has_mapped);
	assert_int_equal(m.error_code, 0);
	/* After the header, SOFTWARE (20), PRIORITY (8), ICE-CONTROLLED (12), USERNAME (16). */
	assert_int_equal(m.integrity_off, 76);
	assert_true(m.has_fingerprint);
	assert_int_equal(m.n_unknown, 0);
}

static void rfc5769_request_verifies_with_its_password_and_no_other(void **state)
{
	struct cw_stun_msg m;

	(void)state;
	assert_int_equal(parse(&m, rfc5769_request, sizeof(rfc5769_request)), 0);
	assert_int_equal(check_pwd(&m, RFC_PWD), 0);
	assert_int_equal(check_pwd(&m, "VOkJxbRl1RmTxUk/WvJxBu"), CW_STUN_ERR_INTEGRITY);
	assert_int_equal(check_pwd(&m, "VOkJxbRl1RmTxUk/WvJxB"), CW_STUN_ERR_INTEGRITY);
	assert_int_equal(check_pwd(&m, ""), CW_STUN_ERR_INTEGRITY);
	assert_int_equal(cw_stun_check_integrity(&m, NULL, 0), CW_STUN_ERR_INTEGRITY);
}

static void rfc5769_ipv4_response_maps_192_0_2_1_port_32853(void **state)
{
	struct cw_stun_msg m;

	(void)state;
	assert_int_equal(parse(&m, rfc5769_ipv4_response, sizeof(rfc5769_ipv4_response)), 0);
	assert_int_equal(m.cls, CW_STUN_SUCCESS);
	assert_int_equal(m.method, CW_STUN_BINDING);
	assert_memory_equal(m.tid, rfc_tid, CW_STUN_TID_LEN);
	assert_mapped(&m, "192.0.2.1", 32853);
	assert_null(m.username);
	assert_int_equal(m.role, CW_STUN_ROLE_NONE);
	assert_true(m.has_fingerprint);
	assert_int_equal(check_pwd(&m, RFC_PWD), 0);
	assert_int_equal(check_pwd(&m, SERVER_PWD), CW_STUN_ERR_INTEGRITY);
}

static void rfc5769_ipv6_response_maps_2001_db8_1234_port_32853(void **state)
{
	struct cw_stun_msg m;

	(void)state;
	assert_int_equal(parse(&m, rfc5769_ipv6_response, sizeof(rfc5769_ipv6_response)), 0);
	assert_int_equal(m.cls, CW_STUN_SUCCESS);
	assert_mapped(&m, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	assert_true(m.has_fingerprint);
	assert_int_equal(check_pwd(&m, RFC_PWD), 0);
}

static void rfc5769_long_term_request_verifies_with_the_md5_key(void **state)
{
	static const char user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
				   "\xe3\x82\xb9"; /* マトリックス */
	char material[128];
	unsigned char key[EVP_MAX_MD_SIZE];
	unsigned int key_len = 0;
	struct cw_stun_msg m;

	(void)state;
	/* REALM and NONCE are understood (and ignored), so the parse succeeds. */
	assert_int_equal(parse(&m, rfc5769_long_term_request, sizeof(rfc5769_long_term_request)),
			 0);
	assert_text(m.username, m.username_len, user);
	assert_false(m.has_fingerprint);
	snprintf(material, sizeof(material), "%s:example.org:TheMatrIX", user);
	assert_int_equal(EVP_Digest(material, strlen(material), key, &key_len, EVP_md5(), NULL), 1);
	assert_int_equal(cw_stun_check_integrity(&m, key, key_len), 0);
	assert_int_equal(check_pwd(&m, "TheMatrIX"), CW_STUN_ERR_INTEGRITY);
}

/* The vectors pad with spaces where we pad with zeros; padding is covered by the HMAC and
 * the CRC, so the test overwrites it before finishing, as the vectors' author did. */
static void writer_reproduces_the_rfc5769_vectors_byte_for_byte(void **state)
{
	struct cw_stun_writer w;
	struct sockaddr_storage v4 = addr("192.0.2.1", 32853);
	struct sockaddr_storage v6 = addr("2001:db8:1234:5678:11:2233:4455:6677", 32853);
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	cw_stun_writer_init(&w, buf, sizeof(buf), cw_stun_type(CW_STUN_REQUEST, CW_STUN_BINDING),
			    rfc_tid);
	cw_stun_put(&w, CW_STUN_ATTR_SOFTWARE, "STUN test client", 16);
	cw_stun_put_u32(&w, CW_STUN_ATTR_PRIORITY, 0x6e0001ff);
	cw_stun_put_u64(&w, CW_STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull);
	cw_stun_put(&w, CW_STUN_ATTR_USERNAME, "evtj:h6vY", 9);
	memset(buf + w.len - 3, ' ', 3);
	assert_int_equal(cw_stun_finish(&w, RFC_PWD, strlen(RFC_PWD), true, &len), 0);
	assert_int_equal(len, sizeof(rfc5769_request));
	assert_memory_equal(buf, rfc5769_request, len);

	cw_stun_writer_init(&w, buf, sizeof(buf), cw_stun_type(CW_STUN_SUCCESS, CW_STUN_BINDING),
			    rfc_tid);
	cw_stun_put(&w, CW_STUN_ATTR_SOFTWARE, "test vector", 11);
	buf[w.len - 1] = ' ';
	cw_stun_put_xor_address(&w, (const struct sockaddr *)&v4);
	assert_int_equal(cw_stun_finish(&w, RFC_PWD, strlen(RFC_PWD), true, &len), 0);
	assert_int_equal(len, sizeof(rfc5769_ipv4_response));
	assert_memory_equal(buf, rfc5769_ipv4_response, len);

	cw_stun_writer_init(&w, buf, sizeof(buf), cw_stun_type(CW_STUN_SUCCESS, CW_STUN_BINDING),
			    rfc_tid);
	cw_stun_put(&w, CW_STUN_ATTR_SOFTWARE, "test vector", 11);
	buf[w.len - 1] = ' ';
	cw_stun_put_xor_address(&w, (const struct sockaddr *)&v6);
	assert_int_equal(cw_stun_finish(&w, RFC_PWD, strlen(RFC_PWD), true, &len), 0);
	assert_int_equal(len, sizeof(rfc5769_ipv6_response));
	assert_memory_equal(buf, rfc5769_ipv6_response, len);
}

/* ---- browser checks and our answers ---- */

static void chromium_check_parses_verifies_and_nominates(void **state)
{
	struct cw_stun_msg m;

	(void)state;
	assert_int_equal(parse(&m, chromium_binding_request, sizeof(chromium_binding_request)), 0);
	assert_int_equal(m.cls, CW_STUN_REQUEST);
	assert_int_equal(m.method, CW_STUN_BINDING);
	assert_memory_equal(m.tid, chromium_tid, CW_STUN_TID_LEN);
	assert_text(m.username, m.username_len, "cWs1:sR4n");
	assert_int_equal(m.role, CW_STUN_ROLE_CONTROLLING);
	assert_true(m.tie_breaker == 0x1c8e2f5ab3d40719ull);
	assert_true(m.use_candidate);
	assert_true(m.has_priority);
	assert_int_equal(m.priority, 0x6e7f1eff);
	/* GOOG-NETWORK-INFO (0xc057) is comprehension-optional: skipped, not unknown. */
	assert_int_equal(m.n_unknown, 0);
	assert_true(m.has_fingerprint);
	assert_int_equal(check_pwd(&m, SERVER_PWD), 0);
	assert_int_equal(check_pwd(&m, RFC_PWD), CW_STUN_ERR_INTEGRITY);

	/* Its consent-freshness check is the same without USE-CANDIDATE. */
	assert_int_equal(parse(&m, chromium_consent_request, sizeof(chromium_consent_request)), 0);
	assert_false(m.use_candidate);
	assert_int_equal(m.role, CW_STUN_ROLE_CONTROLLING);
	assert_int_equal(check_pwd(&m, SERVER_PWD), 0);
}

static void success_answers_match_an_independent_encoder_byte_for_byte(void **state)
{
	struct sockaddr_storage v4 = addr("203.0.113.7", 50123);
	struct sockaddr_storage v6 = addr("2001:db8::7:1", 50123);
	struct cw_stun_msg req;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(parse(&req, chromium_binding_request, sizeof(chromium_binding_request)),
			 0);
	assert_int_equal(cw_stun_build_binding_success(buf, sizeof(buf), &len, &req, &v4,
						       SERVER_PWD, strlen(SERVER_PWD)),
			 0);
	assert_int_equal(len, sizeof(binding_success_ipv4));
	assert_memory_equal(buf, binding_success_ipv4, len);
	assert_int_equal(cw_stun_build_binding_success(buf, sizeof(buf), &len, &req, &v6,
						       SERVER_PWD, strlen(SERVER_PWD)),
			 0);
	assert_int_equal(len, sizeof(binding_success_ipv6));
	assert_memory_equal(buf, binding_success_ipv6, len);
}

static void error_answers_match_an_independent_encoder_byte_for_byte(void **state)
{
	struct cw_stun_msg req;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(parse(&req, chromium_binding_request, sizeof(chromium_binding_request)),
			 0);
	/* 487 after the check authenticated: signed. */
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req,
						     CW_STUN_CODE_ROLE_CONFLICT, SERVER_PWD,
						     strlen(SERVER_PWD)),
			 0);
	assert_int_equal(len, sizeof(binding_error_487));
	assert_memory_equal(buf, binding_error_487, len);
	/* 401 for a check that failed authentication: not signed (RFC 5389 §10.1.2). */
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req,
						     CW_STUN_CODE_UNAUTHORIZED, NULL, 0),
			 0);
	assert_int_equal(len, sizeof(binding_error_401));
	assert_memory_equal(buf, binding_error_401, len);
}

static void check_builder_matches_an_independent_encoder_byte_for_byte(void **state)
{
	const struct cw_stun_check check = {
		.username = "cWs1:8f2e1a7c",
		.priority = 0x7e7f00ff,
		.role = CW_STUN_ROLE_CONTROLLING,
		.tie_breaker = 0x7f3a9b2c4d5e6f01ull,
		.use_candidate = true,
	};
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(cw_stun_build_binding_request(buf, sizeof(buf), &len, firefox_tid, &check,
						       SERVER_PWD, strlen(SERVER_PWD)),
			 0);
	assert_int_equal(len, sizeof(firefox_binding_request));
	assert_memory_equal(buf, firefox_binding_request, len);
}

/* ---- round trips ---- */

static void built_checks_round_trip_through_the_parser(void **state)
{
	static const uint8_t tid[CW_STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	char long_name[CW_STUN_USERNAME_MAX + 1];
	struct cw_stun_check check = {
		.username = "remote:local",
		.priority = 1853824767,
		.role = CW_STUN_ROLE_CONTROLLED,
		.tie_breaker = 0xfedcba9876543210ull,
	};
	struct cw_stun_msg m;
	uint8_t buf[640];
	size_t len = 0;

	(void)state;
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &len, tid, &check, "pw", 2), 0);
	assert_true(cw_stun_is_stun(buf, len));
	assert_int_equal(parse(&m, buf, len), 0);
	assert_int_equal(m.cls, CW_STUN_REQUEST);
	assert_int_equal(m.method, CW_STUN_BINDING);
	assert_memory_equal(m.tid, tid, CW_STUN_TID_LEN);
	assert_text(m.username, m.username_len, "remote:local");
	assert_int_equal(m.priority, 1853824767);
	assert_int_equal(m.role, CW_STUN_ROLE_CONTROLLED);
	assert_true(m.tie_breaker == 0xfedcba9876543210ull);
	assert_false(m.use_candidate);
	assert_true(m.has_fingerprint);
	assert_int_equal(check_pwd(&m, "pw"), 0);

	/* The longest username there is, from the controlling side, nominating. */
	memset(long_name, 'u', CW_STUN_USERNAME_MAX);
	long_name[CW_STUN_USERNAME_MAX] = '\0';
	check.username = long_name;
	check.role = CW_STUN_ROLE_CONTROLLING;
	check.use_candidate = true;
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &len, tid, &check, "pw", 2), 0);
	assert_int_equal(parse(&m, buf, len), 0);
	assert_int_equal(m.username_len, CW_STUN_USERNAME_MAX);
	assert_int_equal(m.role, CW_STUN_ROLE_CONTROLLING);
	assert_true(m.use_candidate);
	assert_int_equal(check_pwd(&m, "pw"), 0);
}

static void success_answers_round_trip_and_map_v4_mapped_sources_as_ipv4(void **state)
{
	static const struct {
		const char *ip, *want;
		size_t len;
	} cases[] = {
		{"198.51.100.20", "198.51.100.20", 64},
		{"0.0.0.0", "0.0.0.0", 64},
		{"255.255.255.255", "255.255.255.255", 64},
		{"2001:db8::1", "2001:db8::1", 76},
		{"fe80::1:2:3:4", "fe80::1:2:3:4", 76},
		/* A dual-stack socket reports an IPv4 peer this way. */
		{"::ffff:198.51.100.20", "198.51.100.20", 64},
	};
	struct cw_stun_msg req, res;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(parse(&req, chromium_binding_request, sizeof(chromium_binding_request)),
			 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = addr(cases[i].ip, (uint16_t)(1 + 9000 * i));

		assert_int_equal(
			cw_stun_build_binding_success(buf, sizeof(buf), &len, &req, &ss, "pwd", 3),
			0);
		assert_int_equal(len, cases[i].len);
		assert_int_equal(parse(&res, buf, len), 0);
		assert_int_equal(res.cls, CW_STUN_SUCCESS);
		assert_int_equal(res.method, CW_STUN_BINDING);
		assert_memory_equal(res.tid, req.tid, CW_STUN_TID_LEN);
		assert_mapped(&res, cases[i].want, (uint16_t)(1 + 9000 * i));
		assert_true(res.has_fingerprint);
		assert_int_equal(check_pwd(&res, "pwd"), 0);
	}
	/* Without a key: no MESSAGE-INTEGRITY, still a FINGERPRINT. */
	{
		struct sockaddr_storage ss = addr("192.0.2.9", 9);

		assert_int_equal(
			cw_stun_build_binding_success(buf, sizeof(buf), &len, &req, &ss, NULL, 0),
			0);
		assert_int_equal(parse(&res, buf, len), 0);
		assert_int_equal(res.integrity_off, 0);
		assert_true(res.has_fingerprint);
		assert_int_equal(check_pwd(&res, "pwd"), CW_STUN_ERR_NO_INTEGRITY);
	}
}

static void error_answers_round_trip_with_code_and_reason(void **state)
{
	static const struct {
		int code;
		const char *reason;
	} cases[] = {
		{CW_STUN_CODE_BAD_REQUEST, "Bad Request"},
		{CW_STUN_CODE_UNAUTHORIZED, "Unauthorized"},
		{CW_STUN_CODE_ROLE_CONFLICT, "Role Conflict"},
		{CW_STUN_CODE_SERVER_ERROR, "Server Error"},
		{699, "Error"},
	};
	struct cw_stun_msg req, res;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(parse(&req, firefox_binding_request, sizeof(firefox_binding_request)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req,
							     cases[i].code, "k", 1),
				 0);
		assert_int_equal(parse(&res, buf, len), 0);
		assert_int_equal(res.cls, CW_STUN_ERROR);
		assert_int_equal(res.method, CW_STUN_BINDING);
		assert_memory_equal(res.tid, firefox_tid, CW_STUN_TID_LEN);
		assert_int_equal(res.error_code, cases[i].code);
		assert_text(res.reason, res.reason_len, cases[i].reason);
		assert_int_equal(check_pwd(&res, "k"), 0);
	}
	/* The writer takes any reason phrase. */
	{
		struct cw_stun_writer w;

		cw_stun_writer_init(&w, buf, sizeof(buf),
				    cw_stun_type(CW_STUN_ERROR, CW_STUN_BINDING), firefox_tid);
		cw_stun_put_error_code(&w, 438, "Stale Nonce, try again");
		assert_int_equal(cw_stun_finish(&w, NULL, 0, false, &len), 0);
		assert_int_equal(parse(&res, buf, len), 0);
		assert_int_equal(res.error_code, 438);
		assert_text(res.reason, res.reason_len, "Stale Nonce, try again");
		assert_false(res.has_fingerprint);
	}
}

static void unknown_required_attribute_is_reported_and_answered_with_420(void **state)
{
	static const uint8_t listed[] = {0x00, 0x0a, 0x00, 0x02, 0x77, 0x77, 0x00, 0x00};
	struct cw_stun_msg req, res;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	/* The parse fails, and yet the view is whole: the check authenticates first (RFC 5389
	 * §7.3), then earns a 420. */
	assert_int_equal(parse(&req, request_unknown_required, sizeof(request_unknown_required)),
			 CW_STUN_ERR_UNKNOWN_ATTR);
	assert_int_equal(req.n_unknown, 1);
	assert_int_equal(req.unknown[0], 0x7777);
	assert_text(req.username, req.username_len, "cWs1:sR4n");
	assert_int_equal(req.priority, 0x6e7f1eff);
	assert_true(req.has_fingerprint);
	assert_int_equal(check_pwd(&req, SERVER_PWD), 0);

	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req,
						     CW_STUN_CODE_UNKNOWN_ATTRIBUTE, SERVER_PWD,
						     strlen(SERVER_PWD)),
			 0);
	assert_int_equal(parse(&res, buf, len), 0);
	assert_int_equal(res.error_code, 420);
	assert_text(res.reason, res.reason_len, "Unknown Attribute");
	assert_int_equal(check_pwd(&res, SERVER_PWD), 0);
	/* UNKNOWN-ATTRIBUTES lists 0x7777, padded to 4 bytes. */
	assert_non_null(memmem(buf, len, listed, sizeof(listed)));
}

static void unknown_required_attributes_beyond_the_view_still_fail_the_parse(void **state)
{
	uint8_t attrs[4 * (CW_STUN_UNKNOWN_MAX + 2)], m[128];
	struct cw_stun_msg v;
	size_t len;

	(void)state;
	for (size_t i = 0; i < CW_STUN_UNKNOWN_MAX + 2; i++) {
		attrs[4 * i] = 0x70;
		attrs[4 * i + 1] = (uint8_t)i;
		attrs[4 * i + 2] = 0;
		attrs[4 * i + 3] = 0;
	}
	len = raw_msg(m, 0x0001, attrs, sizeof(attrs));
	assert_int_equal(parse(&v, m, len), CW_STUN_ERR_UNKNOWN_ATTR);
	assert_int_equal(v.n_unknown, CW_STUN_UNKNOWN_MAX);
	assert_int_equal(v.unknown[CW_STUN_UNKNOWN_MAX - 1], 0x7000 + CW_STUN_UNKNOWN_MAX - 1);
}

static void optional_attributes_unknown_or_ignored_are_skipped(void **state)
{
	static const uint8_t attrs[] = {
		0xff, 0xff, 0x00, 0x03, 'a',  'b',  'c',  0x00,		    /* unknown optional */
		0x80, 0x22, 0x00, 0x01, 'x',  0x00, 0x00, 0x00,		    /* SOFTWARE */
		0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x50, 1, 2, 3, 4, /* MAPPED-ADDRESS */
		0x00, 0x14, 0x00, 0x02, 'r',  'm',  0x00, 0x00,		    /* REALM */
		0x00, 0x24, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07,		    /* PRIORITY */
	};
	uint8_t m[128];
	struct cw_stun_msg v;
	size_t len = raw_msg(m, 0x0001, attrs, sizeof(attrs));

	(void)state;
	assert_int_equal(parse(&v, m, len), 0);
	assert_int_equal(v.n_unknown, 0);
	assert_true(v.has_priority);
	assert_int_equal(v.priority, 7);
	assert_false(v.has_mapped);
	assert_false(v.has_fingerprint);
	assert_int_equal(v.integrity_off, 0);
}

static void attributes_after_integrity_are_ignored_but_fingerprint_is_checked(void **state)
{
	static const uint8_t tid[CW_STUN_TID_LEN] = {0};
	struct cw_stun_writer w;
	struct cw_stun_msg v;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	cw_stun_writer_init(&w, buf, sizeof(buf), cw_stun_type(CW_STUN_REQUEST, CW_STUN_BINDING),
			    tid);
	cw_stun_put(&w, CW_STUN_ATTR_USERNAME, "a:b", 3);
	assert_int_equal(cw_stun_finish(&w, "pw", 2, false, &len), 0);
	/* An unknown required attribute and a PRIORITY after MESSAGE-INTEGRITY. */
	cw_stun_put(&w, 0x7777, "zz", 2);
	cw_stun_put_u32(&w, CW_STUN_ATTR_PRIORITY, 99);
	cw_stun_put(&w, CW_STUN_ATTR_MESSAGE_INTEGRITY, "01234567890123456789", 20);
	assert_int_equal(cw_stun_finish(&w, NULL, 0, true, &len), 0);

	assert_int_equal(parse(&v, buf, len), 0);
	assert_int_equal(v.n_unknown, 0);
	assert_false(v.has_priority);
	assert_int_equal(v.integrity_off, 28);
	assert_true(v.has_fingerprint);
	assert_int_equal(check_pwd(&v, "pw"), 0);
}

static void first_of_repeated_attributes_counts(void **state)
{
	static const uint8_t attrs[] = {
		0x00, 0x06, 0x00, 0x01, 'a', 0,	  0, 0,		    /* USERNAME "a" */
		0x00, 0x06, 0x00, 0x02, 'b', 'b', 0, 0,		    /* USERNAME "bb" */
		0x00, 0x24, 0x00, 0x04, 0,   0,	  0, 1,		    /* PRIORITY 1 */
		0x00, 0x24, 0x00, 0x04, 0,   0,	  0, 2,		    /* PRIORITY 2 */
		0x80, 0x2a, 0x00, 0x08, 0,   0,	  0, 0, 0, 0, 0, 3, /* ICE-CONTROLLING 3 */
		0x80, 0x2a, 0x00, 0x08, 0,   0,	  0, 0, 0, 0, 0, 4, /* ICE-CONTROLLING 4 */
		0x00, 0x09, 0x00, 0x04, 0,   0,	  4, 0,		    /* ERROR-CODE 400 */
		0x00, 0x09, 0x00, 0x04, 0,   0,	  5, 0,		    /* ERROR-CODE 500 */
	};
	uint8_t m[128];
	struct cw_stun_msg v;
	size_t len = raw_msg(m, 0x0001, attrs, sizeof(attrs));

	(void)state;
	assert_int_equal(parse(&v, m, len), 0);
	assert_text(v.username, v.username_len, "a");
	assert_int_equal(v.priority, 1);
	assert_int_equal(v.role, CW_STUN_ROLE_CONTROLLING);
	assert_true(v.tie_breaker == 3);
	assert_int_equal(v.error_code, 400);
	assert_int_equal(v.reason_len, 0);
}

/* ---- refusals ---- */

static void truncated_datagrams_are_refused(void **state)
{
	struct cw_stun_msg v;

	(void)state;
	assert_int_equal(parse(&v, chromium_binding_request, 0), CW_STUN_ERR_TRUNCATED);
	/* Every prefix: too short for the header, or for what its length field says. */
	for (size_t n = 1; n < sizeof(chromium_binding_request); n++)
		assert_int_equal(parse(&v, chromium_binding_request, n), CW_STUN_ERR_TRUNCATED);
}

static void length_field_that_disagrees_with_the_datagram_is_refused(void **state)
{
	uint8_t m[128];
	struct cw_stun_msg v;

	(void)state;
	/* Not a multiple of 4. */
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	m[3] = 0x57;
	assert_int_equal(parse(&v, m, 0x57 + CW_STUN_HEADER_LEN), CW_STUN_ERR_BAD_LENGTH);
	/* Short of the datagram: trailing bytes. */
	memset(m + sizeof(rfc5769_request), 0, 4);
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	assert_int_equal(parse(&v, m, sizeof(rfc5769_request) + 4), CW_STUN_ERR_BAD_LENGTH);
	/* Longer than the datagram. */
	m[3] = 0x5c;
	assert_int_equal(parse(&v, m, sizeof(rfc5769_request)), CW_STUN_ERR_TRUNCATED);
}

static void what_is_not_stun_is_refused(void **state)
{
	static const uint8_t rtp[24] = {0x80, 0x6f, 0x12, 0x34};
	static const uint8_t dtls[24] = {0x16, 0xfe, 0xfd, 0x00};
	uint8_t m[128];
	struct cw_stun_msg v;

	(void)state;
	assert_int_equal(parse(&v, rtp, sizeof(rtp)), CW_STUN_ERR_NOT_STUN);
	assert_int_equal(parse(&v, dtls, sizeof(dtls)), CW_STUN_ERR_NOT_STUN);
	assert_int_equal(parse(&v, rtp, 3), CW_STUN_ERR_NOT_STUN);
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	m[0] = 0x40; /* the two top bits must be zero */
	assert_int_equal(parse(&v, m, sizeof(rfc5769_request)), CW_STUN_ERR_NOT_STUN);
	memcpy(m, rfc5769_request, sizeof(rfc5769_request));
	m[4] = 0x12; /* the magic cookie */
	assert_int_equal(parse(&v, m, sizeof(rfc5769_request)), CW_STUN_ERR_NOT_STUN);
}

static void attribute_overrunning_the_message_is_refused(void **state)
{
	static const struct {
		uint8_t attrs[12];
		size_t len;
	} cases[] = {
		/* USERNAME of 9 bytes in 8. */
		{{0x00, 0x06, 0x00, 0x09, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}, 12},
		/* A PRIORITY header with no room for its value. */
		{{0x80, 0x22, 0x00, 0x00, 0x00, 0x24, 0x00, 0x04}, 8},
		/* The largest length there is. */
		{{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 8},
		/* 5 bytes of value: fits, its padding does not. */
		{{0x80, 0x22, 0x00, 0x05, 'a', 'b', 'c', 'd'}, 8},
	};
	uint8_t m[128];
	struct cw_stun_msg v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = raw_msg(m, 0x0001, cases[i].attrs, cases[i].len);

		assert_int_equal(parse(&v, m, len), CW_STUN_ERR_ATTR_OVERRUN);
	}
}

static void malformed_attributes_are_refused(void **state)
{
	static const struct {
		const char *what;
		uint8_t attrs[40];
		size_t len;
	} cases[] = {
		{"PRIORITY of 3 bytes", {0x00, 0x24, 0x00, 0x03, 1, 2, 3, 0}, 8},
		{"PRIORITY of 8 bytes", {0x00, 0x24, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}, 12},
		{"USE-CANDIDATE with a value", {0x00, 0x25, 0x00, 0x04, 1, 2, 3, 4}, 8},
		{"ICE-CONTROLLING of 4 bytes", {0x80, 0x2a, 0x00, 0x04, 1, 2, 3, 4}, 8},
		{"ICE-CONTROLLED of 12 bytes",
		 {0x80, 0x29, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		 16},
		{"both roles",
		 {0x80, 0x2a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
		  0x80, 0x29, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8},
		 24},
		{"MESSAGE-INTEGRITY of 16 bytes", {0x00, 0x08, 0x00, 0x10}, 20},
		{"FINGERPRINT of 8 bytes", {0x80, 0x28, 0x00, 0x08}, 12},
		{"an attribute after FINGERPRINT",
		 {0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0, 0x80, 0x22, 0x00, 0x00},
		 12},
		{"XOR-MAPPED-ADDRESS of family 3",
		 {0x00, 0x20, 0x00, 0x08, 0, 3, 1, 2, 3, 4, 5, 6},
		 12},
		{"XOR-MAPPED-ADDRESS IPv4 of 20 bytes", {0x00, 0x20, 0x00, 0x14, 0, 1}, 24},
		{"XOR-MAPPED-ADDRESS IPv6 of 8 bytes", {0x00, 0x20, 0x00, 0x08, 0, 2}, 12},
		{"XOR-MAPPED-ADDRESS of 2 bytes", {0x00, 0x20, 0x00, 0x02, 0, 1}, 8},
		{"ERROR-CODE of 2 bytes", {0x00, 0x09, 0x00, 0x02, 0, 0}, 8},
		{"ERROR-CODE of class 2", {0x00, 0x09, 0x00, 0x04, 0, 0, 2, 0}, 8},
		{"ERROR-CODE of class 7", {0x00, 0x09, 0x00, 0x04, 0, 0, 7, 0}, 8},
		{"ERROR-CODE number 100", {0x00, 0x09, 0x00, 0x04, 0, 0, 4, 100}, 8},
	};
	uint8_t m[1024], attrs[800];
	struct cw_stun_msg v;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = raw_msg(m, 0x0001, cases[i].attrs, cases[i].len);
		if (parse(&v, m, len) != CW_STUN_ERR_BAD_ATTR)
			fail_msg("%s: %s", cases[i].what, cw_stun_strerror(parse(&v, m, len)));
	}

	/* USERNAME of 513 bytes; 512 is the most. */
	memset(attrs, 'u', sizeof(attrs));
	attrs[0] = 0x00;
	attrs[1] = 0x06;
	attrs[2] = 0x02;
	attrs[3] = 0x01;
	len = raw_msg(m, 0x0001, attrs, 4 + 516);
	assert_int_equal(parse(&v, m, len), CW_STUN_ERR_BAD_ATTR);
	attrs[3] = 0x00;
	len = raw_msg(m, 0x0001, attrs, 4 + 512);
	assert_int_equal(parse(&v, m, len), 0);
	/* A reason phrase of 764 bytes; 763 is the most. */
	memset(attrs, 'r', sizeof(attrs));
	memcpy(attrs, "\x00\x09\x03\x00\x00\x00\x04\x00", 8); /* 768 = 4 + 764 */
	len = raw_msg(m, 0x0111, attrs, 4 + 768);
	assert_int_equal(parse(&v, m, len), CW_STUN_ERR_BAD_ATTR);
	attrs[2] = 0x02;
	attrs[3] = 0xff;
	len = raw_msg(m, 0x0111, attrs, 4 + 768);
	assert_int_equal(parse(&v, m, len), 0);
	assert_int_equal(v.reason_len, CW_STUN_REASON_MAX);
}

/* A flipped bit is refused, or (in an attribute's length) swallows MESSAGE-INTEGRITY and
 * FINGERPRINT into another attribute: then the check has neither, which ICE must refuse;
 * or it lies in the FINGERPRINT's header, after what MESSAGE-INTEGRITY covers. */
static void any_flipped_bit_of_a_signed_check_is_caught(void **state)
{
	uint8_t m[sizeof(chromium_binding_request)];
	struct cw_stun_msg v;
	int rc;

	(void)state;
	for (size_t i = 0; i < sizeof(m); i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(m, chromium_binding_request, sizeof(m));
			m[i] ^= (uint8_t)(1u << bit);
			rc = parse(&v, m, sizeof(m));
			if (rc != 0 && rc != CW_STUN_ERR_UNKNOWN_ATTR)
				continue;
			/* What MESSAGE-INTEGRITY covers is authentic or refused; a flip in the
			 * FINGERPRINT's header makes it an ignored attribute. */
			if (v.has_fingerprint || (check_pwd(&v, SERVER_PWD) == 0 && i < 92))
				fail_msg("byte %zu bit %d flipped, and the check passed", i, bit);
		}
	}
	/* Past the header, what catches a flip in a value is the FINGERPRINT. */
	memcpy(m, chromium_binding_request, sizeof(m));
	m[25] ^= 0x20; /* "cWs1" -> "cws1" */
	assert_int_equal(parse(&v, m, sizeof(m)), CW_STUN_ERR_FINGERPRINT);
	memcpy(m, chromium_binding_request, sizeof(m));
	m[sizeof(m) - 1] ^= 1;
	assert_int_equal(parse(&v, m, sizeof(m)), CW_STUN_ERR_FINGERPRINT);
}

static void altered_or_unsigned_checks_fail_integrity(void **state)
{
	uint8_t m[sizeof(chromium_binding_request)];
	struct cw_stun_msg v;
	uint8_t plain[64];
	size_t len;

	(void)state;
	/* A changed PRIORITY, re-fingerprinted as an attacker can: the HMAC catches it. */
	memcpy(m, chromium_binding_request, sizeof(m));
	m[67] ^= 1;
	refingerprint(m, sizeof(m));
	assert_int_equal(parse(&v, m, sizeof(m)), 0);
	assert_int_equal(v.priority, 0x6e7f1efe);
	assert_int_equal(check_pwd(&v, SERVER_PWD), CW_STUN_ERR_INTEGRITY);
	/* A changed HMAC. */
	memcpy(m, chromium_binding_request, sizeof(m));
	m[80] ^= 0x80;
	refingerprint(m, sizeof(m));
	assert_int_equal(parse(&v, m, sizeof(m)), 0);
	assert_int_equal(check_pwd(&v, SERVER_PWD), CW_STUN_ERR_INTEGRITY);
	/* A changed transaction id: the header is covered too. */
	memcpy(m, chromium_binding_request, sizeof(m));
	m[19] ^= 1;
	refingerprint(m, sizeof(m));
	assert_int_equal(parse(&v, m, sizeof(m)), 0);
	assert_int_equal(check_pwd(&v, SERVER_PWD), CW_STUN_ERR_INTEGRITY);
	/* The right message, the wrong password. */
	assert_int_equal(parse(&v, chromium_binding_request, sizeof(chromium_binding_request)), 0);
	assert_int_equal(check_pwd(&v, "q5Gz2pVZ8mT7LwK0bXcR3eYN"), CW_STUN_ERR_INTEGRITY);
	/* No MESSAGE-INTEGRITY at all. */
	len = raw_msg(plain, 0x0001, (const uint8_t *)"\x00\x06\x00\x04user", 8);
	assert_int_equal(parse(&v, plain, len), 0);
	assert_int_equal(check_pwd(&v, SERVER_PWD), CW_STUN_ERR_NO_INTEGRITY);
}

/* ---- builder limits ---- */

static void builders_refuse_small_buffers_and_never_write_past_them(void **state)
{
	const struct cw_stun_check check = {
		.username = "cWs1:sR4n",
		.priority = 1,
		.role = CW_STUN_ROLE_CONTROLLING,
		.use_candidate = true,
	};
	struct sockaddr_storage v6 = addr("2001:db8::1", 1);
	struct cw_stun_msg req;
	uint8_t buf[256];
	size_t need[3], len;

	(void)state;
	assert_int_equal(parse(&req, request_unknown_required, sizeof(request_unknown_required)),
			 CW_STUN_ERR_UNKNOWN_ATTR);
	assert_int_equal(
		cw_stun_build_binding_success(buf, sizeof(buf), &need[0], &req, &v6, "k", 1), 0);
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &need[1], &req, 420, "k", 1),
			 0);
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &need[2], req.tid, &check, "k", 1),
		0);
	assert_int_equal(need[0], 76);
	assert_true(need[1] <= 128);
	for (size_t cap = 0; cap < 128; cap++) {
		int rc[3];

		memset(buf, 0xa5, sizeof(buf));
		len = 12345;
		rc[0] = cw_stun_build_binding_success(buf, cap, &len, &req, &v6, "k", 1);
		rc[1] = cw_stun_build_binding_error(buf, cap, &len, &req, 420, "k", 1);
		rc[2] = cw_stun_build_binding_request(buf, cap, &len, req.tid, &check, "k", 1);
		for (int i = 0; i < 3; i++)
			assert_int_equal(rc[i], cap < need[i] ? CW_STUN_ERR_NO_SPACE : 0);
		if (cap < need[0] && cap < need[1] && cap < need[2])
			assert_int_equal(len, 12345);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xa5);
	}
}

static void builders_refuse_invalid_arguments(void **state)
{
	struct cw_stun_check check = {
		.username = "a:b",
		.role = CW_STUN_ROLE_CONTROLLED,
		.use_candidate = true,
	};
	struct sockaddr_storage un;
	struct sockaddr_storage v4 = addr("192.0.2.1", 1);
	struct cw_stun_msg req, res;
	struct cw_stun_writer w;
	char long_name[CW_STUN_USERNAME_MAX + 2];
	uint8_t buf[1024];
	size_t len;

	(void)state;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	assert_int_equal(parse(&req, chromium_binding_request, sizeof(chromium_binding_request)),
			 0);
	assert_int_equal(parse(&res, binding_success_ipv4, sizeof(binding_success_ipv4)), 0);

	assert_int_equal(cw_stun_build_binding_success(buf, sizeof(buf), &len, &req, &un, "k", 1),
			 CW_STUN_ERR_INVALID);
	assert_int_equal(cw_stun_build_binding_success(buf, sizeof(buf), &len, &req, NULL, "k", 1),
			 CW_STUN_ERR_INVALID);
	/* Only requests are answered: never a response or an indication. */
	assert_int_equal(cw_stun_build_binding_success(buf, sizeof(buf), &len, &res, &v4, "k", 1),
			 CW_STUN_ERR_INVALID);
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &res, 400, NULL, 0),
			 CW_STUN_ERR_INVALID);
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req, 299, NULL, 0),
			 CW_STUN_ERR_INVALID);
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req, 700, NULL, 0),
			 CW_STUN_ERR_INVALID);
	/* A key length without a key. */
	assert_int_equal(cw_stun_build_binding_error(buf, sizeof(buf), &len, &req, 400, NULL, 5),
			 CW_STUN_ERR_INVALID);

	/* USE-CANDIDATE is the controlling side's. */
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &len, req.tid, &check, "k", 1),
		CW_STUN_ERR_INVALID);
	check.use_candidate = false;
	check.role = CW_STUN_ROLE_NONE;
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &len, req.tid, &check, "k", 1),
		CW_STUN_ERR_INVALID);
	check.role = CW_STUN_ROLE_CONTROLLING;
	memset(long_name, 'u', CW_STUN_USERNAME_MAX + 1);
	long_name[CW_STUN_USERNAME_MAX + 1] = '\0';
	check.username = long_name;
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &len, req.tid, &check, "k", 1),
		CW_STUN_ERR_INVALID);
	check.username = NULL;
	assert_int_equal(
		cw_stun_build_binding_request(buf, sizeof(buf), &len, req.tid, &check, "k", 1),
		CW_STUN_ERR_INVALID);

	/* The writer: a type with the top bits set, a value with no bytes, a value too long for
	 * a length field; the first error sticks. */
	cw_stun_writer_init(&w, buf, sizeof(buf), 0xc001, req.tid);
	assert_int_equal(cw_stun_finish(&w, NULL, 0, true, &len), CW_STUN_ERR_INVALID);
	cw_stun_writer_init(&w, buf, sizeof(buf), 0x0001, req.tid);
	cw_stun_put(&w, CW_STUN_ATTR_SOFTWARE, NULL, 3);
	assert_int_equal(w.err, CW_STUN_ERR_INVALID);
	cw_stun_writer_init(&w, buf, sizeof(buf), 0x0001, req.tid);
	cw_stun_put(&w, CW_STUN_ATTR_SOFTWARE, buf, 0x10000);
	assert_int_equal(w.err, CW_STUN_ERR_INVALID);
	cw_stun_put(&w, CW_STUN_ATTR_SOFTWARE, "ok", 2);
	assert_int_equal(cw_stun_finish(&w, "k", 1, true, &len), CW_STUN_ERR_INVALID);
}

/* ---- types and errors ---- */

static void message_types_interleave_class_and_method_bits(void **state)
{
	uint8_t m[32];
	struct cw_stun_msg v;
	size_t len;

	(void)state;
	assert_int_equal(cw_stun_type(CW_STUN_REQUEST, CW_STUN_BINDING), 0x0001);
	assert_int_equal(cw_stun_type(CW_STUN_INDICATION, CW_STUN_BINDING), 0x0011);
	assert_int_equal(cw_stun_type(CW_STUN_SUCCESS, CW_STUN_BINDING), 0x0101);
	assert_int_equal(cw_stun_type(CW_STUN_ERROR, CW_STUN_BINDING), 0x0111);
	assert_int_equal(cw_stun_type(CW_STUN_ERROR, 0xfff), 0x3fff);
	assert_int_equal(cw_stun_type(CW_STUN_REQUEST, 0x003), 0x0003); /* TURN Allocate */
	assert_int_equal(cw_stun_type(CW_STUN_SUCCESS, 0x080), 0x0300);

	assert_int_equal(parse(&v, binding_indication, sizeof(binding_indication)), 0);
	assert_int_equal(v.cls, CW_STUN_INDICATION);
	assert_int_equal(v.method, CW_STUN_BINDING);
	assert_true(v.has_fingerprint);
	/* Types from 0x0400 on begin with a byte above 3, which RFC 7983 leaves to others. */
	for (unsigned t = 0; t < 0x0400; t += 0x0013) {
		len = raw_msg(m, (uint16_t)t, NULL, 0);
		assert_int_equal(parse(&v, m, len), 0);
		assert_int_equal(cw_stun_type(v.cls, v.method), t);
	}
	len = raw_msg(m, 0x0400, NULL, 0);
	assert_int_equal(parse(&v, m, len), CW_STUN_ERR_NOT_STUN);
}

static void every_error_has_a_distinct_name_and_a_text(void **state)
{
	static const int errs[] = {
#define ERR_VALUE(name, value, text) CW_STUN_ERR_##name,
		CW_STUN_ERRNO_MAP(ERR_VALUE)
#undef ERR_VALUE
	};

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_true(errs[i] < 0);
		assert_string_not_equal(cw_stun_strerror(errs[i]), "unknown error");
		assert_string_not_equal(cw_stun_err_name(errs[i]), "UNKNOWN");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(cw_stun_err_name(errs[i]),
						cw_stun_err_name(errs[j]));
	}
	assert_string_equal(cw_stun_err_name(CW_STUN_ERR_INTEGRITY), "INTEGRITY");
	assert_int_equal(CW_STUN_ERR_INTEGRITY, -EACCES);
	assert_string_equal(cw_stun_strerror(0), "success");
	assert_string_equal(cw_stun_err_name(0), "OK");
	assert_string_equal(cw_stun_strerror(12345), "unknown error");
	assert_string_equal(cw_stun_err_name(-12345), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(demux_takes_stun_and_leaves_rtp_dtls_and_short_datagrams),
		cmocka_unit_test(rfc5769_request_parses_to_its_attributes),
		cmocka_unit_test(rfc5769_request_verifies_with_its_password_and_no_other),
		cmocka_unit_test(rfc5769_ipv4_response_maps_192_0_2_1_port_32853),
		cmocka_unit_test(rfc5769_ipv6_response_maps_2001_db8_1234_port_32853),
		cmocka_unit_test(rfc5769_long_term_request_verifies_with_the_md5_key),
		cmocka_unit_test(writer_reproduces_the_rfc5769_vectors_byte_for_byte),
		cmocka_unit_test(chromium_check_parses_verifies_and_nominates),
		cmocka_unit_test(success_answers_match_an_independent_encoder_byte_for_byte),
		cmocka_unit_test(error_answers_match_an_independent_encoder_byte_for_byte),
		cmocka_unit_test(check_builder_matches_an_independent_encoder_byte_for_byte),
		cmocka_unit_test(built_checks_round_trip_through_the_parser),
		cmocka_unit_test(success_answers_round_trip_and_map_v4_mapped_sources_as_ipv4),
		cmocka_unit_test(error_answers_round_trip_with_code_and_reason),
		cmocka_unit_test(unknown_required_attribute_is_reported_and_answered_with_420),
		cmocka_unit_test(unknown_required_attributes_beyond_the_view_still_fail_the_parse),
		cmocka_unit_test(optional_attributes_unknown_or_ignored_are_skipped),
		cmocka_unit_test(attributes_after_integrity_are_ignored_but_fingerprint_is_checked),
		cmocka_unit_test(first_of_repeated_attributes_counts),
		cmocka_unit_test(truncated_datagrams_are_refused),
		cmocka_unit_test(length_field_that_disagrees_with_the_datagram_is_refused),
		cmocka_unit_test(what_is_not_stun_is_refused),
		cmocka_unit_test(attribute_overrunning_the_message_is_refused),
		cmocka_unit_test(malformed_attributes_are_refused),
		cmocka_unit_test(any_flipped_bit_of_a_signed_check_is_caught),
		cmocka_unit_test(altered_or_unsigned_checks_fail_integrity),
		cmocka_unit_test(builders_refuse_small_buffers_and_never_write_past_them),
		cmocka_unit_test(builders_refuse_invalid_arguments),
		cmocka_unit_test(message_types_interleave_class_and_method_bits),
		cmocka_unit_test(every_error_has_a_distinct_name_and_a_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
