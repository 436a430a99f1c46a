/* jwt: ES256 and RS256 JSON Web Tokens with OpenSSL's EVP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "push/jwt.h"
#include "util/util.h"

static EVP_PKEY *load_key(const char *pem)
{
	BIO *bio;
	EVP_PKEY *key;

	if (!pem)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	if (!bio)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

static bool is_ec_p256(EVP_PKEY *key)
{
	char group[64];
	size_t len = 0;

	return EVP_PKEY_is_a(key, "EC") &&
	       EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					      &len) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

int cw_jwt_check_ec_p256(const char *key_pem)
{
	EVP_PKEY *key = load_key(key_pem);
	int ok = key && is_ec_p256(key);

	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

int cw_jwt_check_rsa(const char *key_pem)
{
	EVP_PKEY *key = load_key(key_pem);
	int ok = key && EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;

	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

/* base64url(json) of a JSON value, appended to buf at *off. */
static int append_part(char *buf, size_t size, size_t *off, const void *data, size_t len)
{
	if (*off + (len + 2) / 3 * 4 + 2 > size)
		return -1;
	*off += cw_b64url_encode(data, len, buf + *off);
	return 0;
}

static int append_json(char *buf, size_t size, size_t *off, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = text ? append_part(buf, size, off, text, strlen(text)) : -1;

	free(text);
	json_decref(j);
	return rc;
}

/* A JWS over "header.claims" with key; ES256 signatures are raw r||s (RFC 7518 3.4). */
static char *sign(EVP_PKEY *key, bool ecdsa, json_t *header, json_t *claims, char *why,
		  size_t why_size)
{
	size_t size = 8192, off = 0, siglen = 0;
	unsigned char der[512], raw[64];
	const unsigned char *sig = der;
	char *out = malloc(size);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!out || !md || append_json(out, size, &off, header) != 0) {
		json_decref(claims);
		goto fail;
	}
	out[off++] = '.';
	if (append_json(out, size, &off, claims) != 0)
		goto fail;
	siglen = sizeof(der);
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &siglen, (const unsigned char *)out, off) != 1)
		goto fail;
	if (ecdsa) {
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &sig, (long)siglen);
		const BIGNUM *r, *s;

		if (!es)
			goto fail;
		ECDSA_SIG_get0(es, &r, &s);
		if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32) {
			ECDSA_SIG_free(es);
			goto fail;
		}
		ECDSA_SIG_free(es);
		sig = raw;
		siglen = sizeof(raw);
	}
	out[off++] = '.';
	if (append_part(out, size, &off, sig, siglen) != 0)
		goto fail;
	out[off] = '\0';
	EVP_MD_CTX_free(md);
	return out;
fail:
	snprintf(why, why_size, "cannot sign the token");
	EVP_MD_CTX_free(md);
	free(out);
	return NULL;
}

char *cw_jwt_apns(const char *key_pem, const char *key_id, const char *team_id, int64_t iat_s,
		  char *why, size_t why_size)
{
	EVP_PKEY *key = load_key(key_pem);
	char *jwt;

	if (!key || !is_ec_p256(key)) {
		snprintf(why, why_size, "the APNs key is not a P-256 private key");
		EVP_PKEY_free(key);
		return NULL;
	}
	jwt = sign(key, true, json_pack("{s:s,s:s}", "alg", "ES256", "kid", key_id),
		   json_pack("{s:s,s:I}", "iss", team_id, "iat", (json_int_t)iat_s), why, why_size);
	EVP_PKEY_free(key);
	return jwt;
}

char *cw_jwt_service_account(const char *key_pem, const char *key_id, const char *client_email,
			     const char *scope, const char *aud, int64_t iat_s, char *why,
			     size_t why_size)
{
	EVP_PKEY *key = load_key(key_pem);
	json_t *header = json_pack("{s:s,s:s}", "alg", "RS256", "typ", "JWT");
	char *jwt;

	if (!key || !EVP_PKEY_is_a(key, "RSA")) {
		snprintf(why, why_size, "the service account's private_key is not an RSA key");
		EVP_PKEY_free(key);
		json_decref(header);
		return NULL;
	}
	if (key_id)
		json_object_set_new(header, "kid", json_string(key_id));
	jwt = sign(key, false, header,
		   json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", client_email, "scope", scope, "aud",
			     aud, "iat", (json_int_t)iat_s, "exp", (json_int_t)(iat_s + 3600)),
		   why, why_size);
	EVP_PKEY_free(key);
	return jwt;
}
