/* Secrets and hashes: OpenSSL's CSPRNG, SHA-256 and constant-time comparison. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/util.h"

int cw_rand_bytes(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int cw_rand_secret(char *out, size_t outsz, const char *prefix, size_t nbytes)
{
	unsigned char raw[64];
	size_t plen = strlen(prefix);

	if (nbytes > sizeof(raw) || outsz < plen + (4 * nbytes) / 3 + 2)
		return -ENOSPC;
	if (cw_rand_bytes(raw, nbytes) != 0)
		return -EIO;
	memcpy(out, prefix, plen);
	cw_b64url_encode(raw, nbytes, out + plen);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void cw_sha256_hex(const void *data, size_t len, char out[CW_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[CW_SHA256_HEX_LEN] = '\0';
}

bool cw_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}
