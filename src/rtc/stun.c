/* stun: STUN parsing, MESSAGE-INTEGRITY and FINGERPRINT, and the builders ICE-lite needs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "rtc/stun.h"

#define FINGERPRINT_XOR 0x5354554eu
#define HMAC_SHA1_LEN 20
#define ATTR_HEADER_LEN 4
#define BODY_MAX 0xfffcu /* the largest length field that is a multiple of 4 */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static size_t padded(size_t len)
{
	return (len + 3) & ~(size_t)3;
}

/* ---- errors ------------------------------------------------------------------------ */

const char *cw_stun_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CW_STUN_ERR_TEXT(name, value, text)                                                        \
	case CW_STUN_ERR_##name:                                                                   \
		return text;
		CW_STUN_ERRNO_MAP(CW_STUN_ERR_TEXT)
#undef CW_STUN_ERR_TEXT
	default:
		return "unknown error";
	}
}

const char *cw_stun_err_name(int err)
{
	switch (err) {
	case 0:
		return "OK";
#define CW_STUN_ERR_NAME(name, value, text)                                                        \
	case CW_STUN_ERR_##name:                                                                   \
		return #name;
		CW_STUN_ERRNO_MAP(CW_STUN_ERR_NAME)
#undef CW_STUN_ERR_NAME
	default:
		return "UNKNOWN";
	}
}

/* ---- FINGERPRINT and MESSAGE-INTEGRITY ----------------------------------------------- */

/* CRC-32 (ISO-HDLC, zlib's), a byte at a time: it runs on every STUN datagram that
 * carries a FINGERPRINT, before any key is looked up. */
static uint32_t crc32(const uint8_t *p, size_t len)
{
	static const uint32_t tab[256] = {
		0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f, 0xe963a535,
		0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988, 0x09b64c2b, 0x7eb17cbd,
		0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de, 0x1adad47d,
		0x6ddde4eb, 0xf4d4b551, 0x83d385c7, 0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
		0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4,
		0xa2677172, 0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
		0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59, 0x26d930ac,
		0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
		0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924, 0x2f6f7c87, 0x58684c11, 0xc1611dab,
		0xb6662d3d, 0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f,
		0x9fbfe4a5, 0xe8b8d433, 0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb,
		0x086d3d2d, 0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
		0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea,
		0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65, 0x4db26158, 0x3ab551ce,
		0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a,
		0x346ed9fc, 0xad678846, 0xda60b8d0, 0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
		0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409,
		0xce61e49f, 0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
		0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a, 0xead54739,
		0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
		0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1, 0xf00f9344, 0x8708a3d2, 0x1e01f268,
		0x6906c2fe, 0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0,
		0x10da7a5a, 0x67dd4acc, 0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8,
		0xa1d1937e, 0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
		0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55, 0x316e8eef,
		0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236, 0xcc0c7795, 0xbb0b4703,
		0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7,
		0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d, 0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
		0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae,
		0x0cb61b38, 0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
		0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777, 0x88085ae6,
		0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
		0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2, 0xa7672661, 0xd06016f7, 0x4969474d,
		0x3e6e77db, 0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5,
		0x47b2cf7f, 0x30b5ffe9, 0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605,
		0xcdd70693, 0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
		0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
	};
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++)
		c = (c >> 8) ^ tab[(c ^ p[i]) & 0xff];
	return ~c;
}

/* The HMAC implementation, fetched once rather than per message. OpenSSL 3 still allocates
 * a context and looks SHA1 up by name on each check: about 1 us, fine at the rate of ICE
 * checks and consent requests, and on no path that a peer without a valid USERNAME reaches. */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* HMAC-SHA1 of the 20-byte header hdr followed by body[0..body_len). The header comes apart
 * from the body so that a check can substitute the adjusted length field without copying
 * the message. */
static int hmac_sha1(const void *key, size_t key_len, const uint8_t *hdr, const uint8_t *body,
		     size_t body_len, uint8_t out[HMAC_SHA1_LEN])
{
	char digest[] = "SHA1";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	size_t n = 0;
	int err = CW_STUN_ERR_CRYPTO;

	if (pthread_once(&hmac_once, hmac_fetch) != 0 || !hmac_alg)
		return CW_STUN_ERR_CRYPTO;
	ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!ctx)
		return CW_STUN_ERR_CRYPTO;
	/* A NULL key would mean "keep the previous key"; an empty one is a key. */
	if (EVP_MAC_init(ctx, key_len ? key : (const void *)"", key_len, params) &&
	    EVP_MAC_update(ctx, hdr, CW_STUN_HEADER_LEN) && EVP_MAC_update(ctx, body, body_len) &&
	    EVP_MAC_final(ctx, out, &n, HMAC_SHA1_LEN) && n == HMAC_SHA1_LEN)
		err = 0;
	EVP_MAC_CTX_free(ctx);
	return err;
}

int cw_stun_check_integrity(const struct cw_stun_msg *msg, const void *key, size_t key_len)
{
	uint8_t hdr[CW_STUN_HEADER_LEN], mac[HMAC_SHA1_LEN];
	size_t off = msg->integrity_off;
	int err;

	if (!off)
		return CW_STUN_ERR_NO_INTEGRITY;
	if (!key && key_len)
		return CW_STUN_ERR_INVALID;
	/* The length field as if MESSAGE-INTEGRITY ended the message (RFC 5389 §15.4). */
	memcpy(hdr, msg->raw, sizeof(hdr));
	wr16(hdr + 2, (uint16_t)(off + ATTR_HEADER_LEN + HMAC_SHA1_LEN - CW_STUN_HEADER_LEN));
	err = hmac_sha1(key, key_len, hdr, msg->raw + CW_STUN_HEADER_LEN, off - CW_STUN_HEADER_LEN,
			mac);
	if (err)
		return err;
	if (CRYPTO_memcmp(mac, msg->raw + off + ATTR_HEADER_LEN, HMAC_SHA1_LEN) != 0)
		return CW_STUN_ERR_INTEGRITY;
	return 0;
}

/* ---- parsing ----------------------------------------------------------------------- */

bool cw_stun_is_stun(const uint8_t *buf, size_t len)
{
	return len >= CW_STUN_HEADER_LEN && buf[0] < 4 && rd32(buf + 4) == CW_STUN_MAGIC_COOKIE &&
	       (rd16(buf + 2) & 3) == 0 && (size_t)rd16(buf + 2) + CW_STUN_HEADER_LEN == len;
}

uint16_t cw_stun_type(enum cw_stun_class cls, uint16_t method)
{
	/* The class bits C1 and C0 sit at bits 8 and 4, between the method's bits. */
	unsigned m = method, c = (unsigned)cls;

	return (uint16_t)((m & 0x000fu) | (m & 0x0070u) << 1 | (m & 0x0f80u) << 2 | (c & 1u) << 4 |
			  (c & 2u) << 7);
}

static int check_header(const uint8_t *buf, size_t len)
{
	size_t body;

	if (len > 0 && buf[0] > 3)
		return CW_STUN_ERR_NOT_STUN;
	if (len < CW_STUN_HEADER_LEN)
		return CW_STUN_ERR_TRUNCATED;
	if (rd32(buf + 4) != CW_STUN_MAGIC_COOKIE)
		return CW_STUN_ERR_NOT_STUN;
	body = rd16(buf + 2);
	if (body & 3)
		return CW_STUN_ERR_BAD_LENGTH;
	if (body > len - CW_STUN_HEADER_LEN)
		return CW_STUN_ERR_TRUNCATED;
	if (body < len - CW_STUN_HEADER_LEN)
		return CW_STUN_ERR_BAD_LENGTH;
	return 0;
}

/* XOR-MAPPED-ADDRESS: the port is XORed with the cookie's high half, an IPv4 address with
 * the cookie, an IPv6 address with the cookie and the transaction id (header bytes 4..19). */
static int parse_xor_address(struct cw_stun_msg *msg, const uint8_t *v, size_t n)
{
	uint16_t port;

	if (n < 4)
		return CW_STUN_ERR_BAD_ATTR;
	port = rd16(v + 2) ^ (uint16_t)(CW_STUN_MAGIC_COOKIE >> 16);
	if (v[1] == 0x01 && n == 8) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&msg->mapped;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(rd32(v + 4) ^ CW_STUN_MAGIC_COOKIE);
	} else if (v[1] == 0x02 && n == 20) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&msg->mapped;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		for (size_t i = 0; i < 16; i++)
			sin6->sin6_addr.s6_addr[i] = v[4 + i] ^ msg->raw[4 + i];
	} else {
		return CW_STUN_ERR_BAD_ATTR;
	}
	msg->has_mapped = true;
	return 0;
}

static int parse_error_code(struct cw_stun_msg *msg, const uint8_t *v, size_t n)
{
	int cls, number;

	if (n < 4 || n - 4 > CW_STUN_REASON_MAX)
		return CW_STUN_ERR_BAD_ATTR;
	cls = v[2] & 7;
	number = v[3];
	if (cls < 3 || cls > 6 || number > 99)
		return CW_STUN_ERR_BAD_ATTR;
	msg->error_code = cls * 100 + number;
	msg->reason = (const char *)v + 4;
	msg->reason_len = n - 4;
	return 0;
}

static int parse_role(struct cw_stun_msg *msg, enum cw_stun_role role, const uint8_t *v, size_t n)
{
	if (n != 8)
		return CW_STUN_ERR_BAD_ATTR;
	/* Claiming both roles at once is no role at all. */
	if (msg->role != CW_STUN_ROLE_NONE)
		return msg->role == role ? 0 : CW_STUN_ERR_BAD_ATTR;
	msg->role = role;
	msg->tie_breaker = (uint64_t)rd32(v) << 32 | rd32(v + 4);
	return 0;
}

/* One attribute before MESSAGE-INTEGRITY (or MESSAGE-INTEGRITY itself) at offset off. Only
 * the first of a repeated attribute counts (RFC 5389 §15). */
static int parse_attr(struct cw_stun_msg *msg, uint16_t type, const uint8_t *v, size_t n,
		      size_t off)
{
	switch (type) {
	case CW_STUN_ATTR_USERNAME:
		if (n > CW_STUN_USERNAME_MAX)
			return CW_STUN_ERR_BAD_ATTR;
		if (!msg->username) {
			msg->username = (const char *)v;
			msg->username_len = n;
		}
		return 0;
	case CW_STUN_ATTR_MESSAGE_INTEGRITY:
		if (n != HMAC_SHA1_LEN)
			return CW_STUN_ERR_BAD_ATTR;
		msg->integrity_off = off;
		return 0;
	case CW_STUN_ATTR_PRIORITY:
		if (n != 4)
			return CW_STUN_ERR_BAD_ATTR;
		if (!msg->has_priority) {
			msg->has_priority = true;
			msg->priority = rd32(v);
		}
		return 0;
	case CW_STUN_ATTR_USE_CANDIDATE:
		if (n != 0)
			return CW_STUN_ERR_BAD_ATTR;
		msg->use_candidate = true;
		return 0;
	case CW_STUN_ATTR_ICE_CONTROLLING:
		return parse_role(msg, CW_STUN_ROLE_CONTROLLING, v, n);
	case CW_STUN_ATTR_ICE_CONTROLLED:
		return parse_role(msg, CW_STUN_ROLE_CONTROLLED, v, n);
	case CW_STUN_ATTR_XOR_MAPPED_ADDRESS:
		return msg->has_mapped ? 0 : parse_xor_address(msg, v, n);
	case CW_STUN_ATTR_ERROR_CODE:
		return msg->error_code ? 0 : parse_error_code(msg, v, n);
	case CW_STUN_ATTR_MAPPED_ADDRESS:
	case CW_STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case CW_STUN_ATTR_REALM:
	case CW_STUN_ATTR_NONCE:
		/* Understood, and of no use to ICE-lite. */
		return 0;
	default:
		/* 0x0000-0x7fff are comprehension-required: the caller must not act on a message
		 * it does not fully understand. 0x8000-0xffff may be skipped. */
		if (type < 0x8000 && msg->n_unknown < CW_STUN_UNKNOWN_MAX)
			msg->unknown[msg->n_unknown++] = type;
		return type < 0x8000 ? CW_STUN_ERR_UNKNOWN_ATTR : 0;
	}
}

int cw_stun_parse(struct cw_stun_msg *msg, const uint8_t *buf, size_t len)
{
	size_t off = CW_STUN_HEADER_LEN, fingerprint_off = 0;
	bool unknown = false;
	int err = check_header(buf, len);

	if (err)
		return err;
	memset(msg, 0, sizeof(*msg));
	msg->raw = buf;
	msg->len = len;
	msg->type = rd16(buf);
	msg->cls = (enum cw_stun_class)((msg->type >> 7 & 2) | (msg->type >> 4 & 1));
	msg->method = (uint16_t)((msg->type & 0x000f) | (msg->type >> 1 & 0x0070) |
				 (msg->type >> 2 & 0x0f80));
	msg->tid = buf + 8;

	while (off < len) {
		size_t room = len - off - ATTR_HEADER_LEN, n;
		uint16_t type;

		/* The header's length is a multiple of 4 and so is every padded attribute, so
		 * an attribute header always fits; its value and padding may not. */
		type = rd16(buf + off);
		n = rd16(buf + off + 2);
		if (padded(n) > room)
			return CW_STUN_ERR_ATTR_OVERRUN;
		/* FINGERPRINT, when present, is last (RFC 5389 §15.5). */
		if (fingerprint_off)
			return CW_STUN_ERR_BAD_ATTR;
		if (type == CW_STUN_ATTR_FINGERPRINT) {
			if (n != 4)
				return CW_STUN_ERR_BAD_ATTR;
			fingerprint_off = off;
		} else if (!msg->integrity_off) {
			/* After MESSAGE-INTEGRITY, all but FINGERPRINT is ignored (§15.4). */
			err = parse_attr(msg, type, buf + off + ATTR_HEADER_LEN, n, off);
			if (err == CW_STUN_ERR_UNKNOWN_ATTR)
				unknown = true;
			else if (err)
				return err;
		}
		off += ATTR_HEADER_LEN + padded(n);
	}

	if (fingerprint_off) {
		uint32_t want = crc32(buf, fingerprint_off) ^ FINGERPRINT_XOR;

		if (rd32(buf + fingerprint_off + ATTR_HEADER_LEN) != want)
			return CW_STUN_ERR_FINGERPRINT;
		msg->has_fingerprint = true;
	}
	return unknown ? CW_STUN_ERR_UNKNOWN_ATTR : 0;
}

/* ---- building ---------------------------------------------------------------------- */

void cw_stun_writer_init(struct cw_stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
			 const uint8_t tid[CW_STUN_TID_LEN])
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
	if (!buf || !tid || (type & 0xc000))
		w->err = CW_STUN_ERR_INVALID;
	else if (cap < CW_STUN_HEADER_LEN)
		w->err = CW_STUN_ERR_NO_SPACE;
	if (w->err)
		return;
	wr16(buf, type);
	wr16(buf + 2, 0);
	wr32(buf + 4, CW_STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, CW_STUN_TID_LEN);
	w->len = CW_STUN_HEADER_LEN;
}

/* Appends an attribute header and its zero padding; returns where its n-byte value goes,
 * or NULL with w->err set. */
static uint8_t *reserve(struct cw_stun_writer *w, uint16_t type, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > BODY_MAX || w->len - CW_STUN_HEADER_LEN + ATTR_HEADER_LEN + padded(n) > BODY_MAX) {
		w->err = CW_STUN_ERR_INVALID;
		return NULL;
	}
	if (ATTR_HEADER_LEN + padded(n) > w->cap - w->len) {
		w->err = CW_STUN_ERR_NO_SPACE;
		return NULL;
	}
	p = w->buf + w->len;
	wr16(p, type);
	wr16(p + 2, (uint16_t)n);
	memset(p + ATTR_HEADER_LEN + n, 0, padded(n) - n);
	w->len += ATTR_HEADER_LEN + padded(n);
	return p + ATTR_HEADER_LEN;
}

void cw_stun_put(struct cw_stun_writer *w, uint16_t type, const void *val, size_t len)
{
	uint8_t *p;

	if (!val && len && !w->err)
		w->err = CW_STUN_ERR_INVALID;
	p = reserve(w, type, len);
	if (p && len)
		memcpy(p, val, len);
}

void cw_stun_put_u32(struct cw_stun_writer *w, uint16_t type, uint32_t val)
{
	uint8_t v[4];

	wr32(v, val);
	cw_stun_put(w, type, v, sizeof(v));
}

void cw_stun_put_u64(struct cw_stun_writer *w, uint16_t type, uint64_t val)
{
	uint8_t v[8];

	wr32(v, (uint32_t)(val >> 32));
	wr32(v + 4, (uint32_t)val);
	cw_stun_put(w, type, v, sizeof(v));
}

void cw_stun_put_xor_address(struct cw_stun_writer *w, const struct sockaddr *sa)
{
	const uint16_t cookie_hi = (uint16_t)(CW_STUN_MAGIC_COOKIE >> 16);
	uint8_t v[20] = {0};
	size_t n = 0;

	if (w->err)
		return;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		v[1] = 0x01;
		wr16(v + 2, ntohs(sin->sin_port) ^ cookie_hi);
		wr32(v + 4, ntohl(sin->sin_addr.s_addr) ^ CW_STUN_MAGIC_COOKIE);
		n = 8;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		wr16(v + 2, ntohs(sin6->sin6_port) ^ cookie_hi);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* The peer is an IPv4 host: its candidates are IPv4. */
			v[1] = 0x01;
			wr32(v + 4, rd32(a + 12) ^ CW_STUN_MAGIC_COOKIE);
			n = 8;
		} else {
			v[1] = 0x02;
			for (size_t i = 0; i < 16; i++)
				v[4 + i] = a[i] ^ w->buf[4 + i];
			n = 20;
		}
	} else {
		w->err = CW_STUN_ERR_INVALID;
		return;
	}
	cw_stun_put(w, CW_STUN_ATTR_XOR_MAPPED_ADDRESS, v, n);
}

static const char *reason_phrase(int code)
{
	switch (code) {
	case 300:
		return "Try Alternate";
	case CW_STUN_CODE_BAD_REQUEST:
		return "Bad Request";
	case CW_STUN_CODE_UNAUTHORIZED:
		return "Unauthorized";
	case CW_STUN_CODE_UNKNOWN_ATTRIBUTE:
		return "Unknown Attribute";
	case 438:
		return "Stale Nonce";
	case CW_STUN_CODE_ROLE_CONFLICT:
		return "Role Conflict";
	case CW_STUN_CODE_SERVER_ERROR:
		return "Server Error";
	default:
		return "Error";
	}
}

void cw_stun_put_error_code(struct cw_stun_writer *w, int code, const char *reason)
{
	size_t n;
	uint8_t *p;

	if (w->err)
		return;
	if (!reason)
		reason = reason_phrase(code);
	n = strnlen(reason, CW_STUN_REASON_MAX + 1);
	if (code < 300 || code > 699 || n > CW_STUN_REASON_MAX) {
		w->err = CW_STUN_ERR_INVALID;
		return;
	}
	p = reserve(w, CW_STUN_ATTR_ERROR_CODE, 4 + n);
	if (!p)
		return;
	p[0] = 0;
	p[1] = 0;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	memcpy(p + 4, reason, n);
}

int cw_stun_finish(struct cw_stun_writer *w, const void *key, size_t key_len, bool fingerprint,
		   size_t *lenp)
{
	uint8_t *p;

	if (!key && key_len && !w->err)
		w->err = CW_STUN_ERR_INVALID;
	if (key) {
		p = reserve(w, CW_STUN_ATTR_MESSAGE_INTEGRITY, HMAC_SHA1_LEN);
		if (!p)
			return w->err;
		/* The length field counts MESSAGE-INTEGRITY, not what follows it. */
		wr16(w->buf + 2, (uint16_t)(w->len - CW_STUN_HEADER_LEN));
		w->err = hmac_sha1(key, key_len, w->buf, w->buf + CW_STUN_HEADER_LEN,
				   (size_t)(p - ATTR_HEADER_LEN - w->buf) - CW_STUN_HEADER_LEN, p);
	}
	if (fingerprint) {
		p = reserve(w, CW_STUN_ATTR_FINGERPRINT, 4);
		if (!p)
			return w->err;
		wr16(w->buf + 2, (uint16_t)(w->len - CW_STUN_HEADER_LEN));
		wr32(p, crc32(w->buf, (size_t)(p - ATTR_HEADER_LEN - w->buf)) ^ FINGERPRINT_XOR);
	}
	if (w->err)
		return w->err;
	wr16(w->buf + 2, (uint16_t)(w->len - CW_STUN_HEADER_LEN));
	if (lenp)
		*lenp = w->len;
	return 0;
}

int cw_stun_build_binding_success(uint8_t *buf, size_t cap, size_t *lenp,
				  const struct cw_stun_msg *req,
				  const struct sockaddr_storage *mapped, const void *key,
				  size_t key_len)
{
	struct cw_stun_writer w;

	/* Answering anything but a request would let a peer make us reflect responses. */
	if (!req || req->cls != CW_STUN_REQUEST || !mapped)
		return CW_STUN_ERR_INVALID;
	cw_stun_writer_init(&w, buf, cap, cw_stun_type(CW_STUN_SUCCESS, CW_STUN_BINDING), req->tid);
	cw_stun_put_xor_address(&w, (const struct sockaddr *)mapped);
	return cw_stun_finish(&w, key, key_len, true, lenp);
}

int cw_stun_build_binding_error(uint8_t *buf, size_t cap, size_t *lenp,
				const struct cw_stun_msg *req, int code, const void *key,
				size_t key_len)
{
	struct cw_stun_writer w;

	if (!req || req->cls != CW_STUN_REQUEST || req->n_unknown > CW_STUN_UNKNOWN_MAX)
		return CW_STUN_ERR_INVALID;
	cw_stun_writer_init(&w, buf, cap, cw_stun_type(CW_STUN_ERROR, CW_STUN_BINDING), req->tid);
	cw_stun_put_error_code(&w, code, NULL);
	if (code == CW_STUN_CODE_UNKNOWN_ATTRIBUTE && req->n_unknown) {
		uint8_t list[2 * CW_STUN_UNKNOWN_MAX];

		for (size_t i = 0; i < req->n_unknown; i++)
			wr16(list + 2 * i, req->unknown[i]);
		cw_stun_put(&w, CW_STUN_ATTR_UNKNOWN_ATTRIBUTES, list, 2 * req->n_unknown);
	}
	return cw_stun_finish(&w, key, key_len, true, lenp);
}

int cw_stun_build_binding_request(uint8_t *buf, size_t cap, size_t *lenp,
				  const uint8_t tid[CW_STUN_TID_LEN],
				  const struct cw_stun_check *check, const void *key,
				  size_t key_len)
{
	struct cw_stun_writer w;
	size_t ulen;

	if (!check || !check->username)
		return CW_STUN_ERR_INVALID;
	ulen = strnlen(check->username, CW_STUN_USERNAME_MAX + 1);
	/* Only the controlling agent nominates (RFC 8445 §7.1.2). */
	if (ulen > CW_STUN_USERNAME_MAX ||
	    (check->role != CW_STUN_ROLE_CONTROLLING && check->role != CW_STUN_ROLE_CONTROLLED) ||
	    (check->use_candidate && check->role != CW_STUN_ROLE_CONTROLLING))
		return CW_STUN_ERR_INVALID;
	cw_stun_writer_init(&w, buf, cap, cw_stun_type(CW_STUN_REQUEST, CW_STUN_BINDING), tid);
	cw_stun_put(&w, CW_STUN_ATTR_USERNAME, check->username, ulen);
	cw_stun_put_u32(&w, CW_STUN_ATTR_PRIORITY, check->priority);
	cw_stun_put_u64(&w,
			check->role == CW_STUN_ROLE_CONTROLLING ? CW_STUN_ATTR_ICE_CONTROLLING
								: CW_STUN_ATTR_ICE_CONTROLLED,
			check->tie_breaker);
	if (check->use_candidate)
		cw_stun_put(&w, CW_STUN_ATTR_USE_CANDIDATE, NULL, 0);
	return cw_stun_finish(&w, key, key_len, true, lenp);
}

bool cw_stun_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}
