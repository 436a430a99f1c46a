/* validate: strict checks of untrusted request input (JSON bodies, ids, query values).
 * Pure functions: no I/O, so unit tests and the fuzzer drive them directly. */
#ifndef CW_VALIDATE_H
#define CW_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "calls/machine.h"
#include "store/push_store.h"
#include "store/store.h"

#define CW_BODY_MAX 65536
#define CW_METADATA_MAX 4096
#define CW_NAME_MAX 200
#define CW_AVATAR_MAX 2048
#define CW_MEMBERS_MAX 1000
#define CW_TTL_MAX 315360000 /* ten years */

/* A validation failure; msg names the offending field. */
struct cw_verr {
	char msg[256];
};

bool cw_valid_uid(const char *s);    /* uid, guid: 1–100 of [A-Za-z0-9_.@-], not only dots */
bool cw_valid_app_id(const char *s); /* appId, sessionId: 1–64 of [A-Za-z0-9_-] */

/* Parses a request body that must be one JSON object (duplicate keys refused). */
int cw_parse_object(const char *buf, size_t len, json_t **out, struct cw_verr *e);

/* Field readers. Each returns 0 when the field is valid or absent-and-optional (then *present,
 * where given, is false) and -EINVAL with e naming the field otherwise. */
int cw_get_string(json_t *obj, const char *field, bool required, size_t minchars, size_t maxchars,
		  const char **out, struct cw_verr *e);
int cw_get_id(json_t *obj, const char *field, const char **out, struct cw_verr *e);
int cw_get_int(json_t *obj, const char *field, long long min, long long max, long long *out,
	       bool *present, struct cw_verr *e);
int cw_get_bool(json_t *obj, const char *field, bool *out, bool *present, struct cw_verr *e);
/* A JSON object of at most CW_METADATA_MAX bytes, returned as compact text (malloc'd). */
int cw_get_metadata(json_t *obj, const char *field, char **out, struct cw_verr *e);
/* An array of uids, at most CW_MEMBERS_MAX, duplicates removed (malloc'd). */
int cw_get_id_array(json_t *obj, const char *field, bool required, char (**out)[CW_UID_MAX + 1],
		    size_t *n, struct cw_verr *e);

/* Request-level validators. Strings in the outputs are owned by the caller. */
int cw_check_app_create(json_t *body, const char **name, struct cw_verr *e);
int cw_check_settings(json_t *body, struct cw_settings *settings, struct cw_verr *e);
int cw_check_user_create(json_t *body, struct cw_user *user, struct cw_verr *e);
int cw_check_user_patch(json_t *body, struct cw_user *user, unsigned *fields, struct cw_verr *e);
int cw_check_group_create(json_t *body, struct cw_group *group, struct cw_verr *e);
int cw_check_token_create(json_t *body, long long *ttl, struct cw_verr *e);
int cw_check_login(json_t *body, const char **uid, const char **auth_key, struct cw_verr *e);

/* POST …/calls. out->metadata (malloc'd JSON text or NULL) is the caller's to free. */
int cw_check_call_create(json_t *body, struct cw_initiate *out, struct cw_verr *e);
/* POST …/reject {status?: "rejected"|"busy"}; POST …/end {forAll?: bool}. */
int cw_check_reject(json_t *body, bool *busy, struct cw_verr *e);
int cw_check_end(json_t *body, bool *for_all, struct cw_verr *e);
bool cw_valid_session_id(const char *s);

/* Call-log cursors: the base64url of the last call's order key. */
int cw_call_cursor_decode(const char *s, int64_t *before, struct cw_verr *e);
void cw_call_cursor_encode(int64_t id, char out[32]);

/* Push and webhooks (validate_push.c). */
#define CW_URL_MAX 2000
#define CW_WEBHOOK_URLS_MAX 5
#define CW_PUSH_KEY_MAX 16384 /* a PEM key, in bytes */

/* Whether s could be a device token of some platform: 1 to CW_PUSH_TOKEN_MAX characters
 * of [A-Za-z0-9_:.-] (APNs tokens are hex, FCM's use the rest). */
bool cw_valid_push_token(const char *s);
/* An absolute http:// or https:// URL of at most max characters, with a host and no user
 * name or password. */
bool cw_valid_url(const char *s, size_t max);
/* POST …/me/push_tokens {platform, token, environment?}. Fills platform, token (malloc'd;
 * an APNs token in lowercase) and production; *env_given says whether environment was
 * sent (the caller's default applies otherwise). */
int cw_check_push_token(json_t *body, struct cw_push_token *out, bool *env_given,
			struct cw_verr *e);
/* PATCH …/push: applies body {pushAlways?, apns?, fcm?, endpoints?} to *c. On failure *c is
 * unchanged. Keys are parsed (apns.key a PKCS#8 EC P-256 key, the service account's an RSA
 * key); whether endpoints.caFile names a readable file is the caller's to check. */
int cw_check_push_patch(json_t *body, struct cw_push_config *c, struct cw_verr *e);
/* PATCH …/webhooks {urls?, rotateSecret?}. *urls is the new JSON array text (malloc'd; NULL
 * for an empty list) when *urls_given. */
int cw_check_webhooks_patch(json_t *body, char **urls, bool *urls_given, bool *rotate,
			    struct cw_verr *e);

/* Query values. limit: 1..max, default def. A cursor is the base64url of the last id. */
int cw_parse_limit(const char *s, int def, int max, int *out, struct cw_verr *e);
int cw_cursor_decode(const char *s, char out[CW_UID_MAX + 1], struct cw_verr *e);
void cw_cursor_encode(const char *id, char out[2 * CW_UID_MAX]);

#endif
