/* jwt: the two signed tokens the push services want: ES256 for APNs provider tokens
 * (from the app's .p8 key) and RS256 for Google's OAuth service-account assertion. */
#ifndef CW_PUSH_JWT_H
#define CW_PUSH_JWT_H

#include <stddef.h>
#include <stdint.h>

/* An APNs provider token: header {"alg":"ES256","kid":key_id}, claims {"iss":team_id,
 * "iat":iat_s}, signed with the PEM (PKCS#8 EC P-256) key. Returns a malloc'd string, or
 * NULL with why filled. */
char *cw_jwt_apns(const char *key_pem, const char *key_id, const char *team_id, int64_t iat_s,
		  char *why, size_t why_size);

/* A service-account assertion: {"alg":"RS256","typ":"JWT","kid":key_id} (no kid when
 * key_id is NULL), claims {"iss":client_email,"scope":scope,"aud":aud,"iat":iat_s,
 * "exp":iat_s+3600}, signed with the RSA PEM key. */
char *cw_jwt_service_account(const char *key_pem, const char *key_id, const char *client_email,
			     const char *scope, const char *aud, int64_t iat_s, char *why,
			     size_t why_size);

/* Whether a PEM text holds a private key of that type (for validating settings). */
int cw_jwt_check_ec_p256(const char *key_pem);
int cw_jwt_check_rsa(const char *key_pem);

#endif
