/* push_store: what the store keeps for VoIP pushes and webhooks: users' device tokens,
 * each app's push and webhook settings, and the durable outbox the sender drains. Same
 * conventions as store.h (0 or a negative errno; out-parameters filled only on success). */
#ifndef CW_PUSH_STORE_H
#define CW_PUSH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum cw_push_platform {
	CW_PUSH_APNS_VOIP, /* "apns_voip": PushKit */
	CW_PUSH_APNS,	   /* "apns": ordinary alerts */
	CW_PUSH_FCM,	   /* "fcm" */
};

#define CW_PUSH_TOKEN_MAX 4096

/* "apns_voip", "apns" or "fcm"; NULL for a value out of range. */
const char *cw_push_platform_name(enum cw_push_platform platform);
/* The platform of a name; -EINVAL for any other text. */
int cw_push_platform_parse(const char *name, enum cw_push_platform *out);

/* One device token of one user, registered by one device (auth token). */
struct cw_push_token {
	char uid[CW_UID_MAX + 1];
	enum cw_push_platform platform;
	char *token;		      /* APNs: hex; FCM: the registration token */
	bool production;	      /* APNs environment (default production); FCM ignores it */
	char device[CW_HASH_HEX + 1]; /* the registering auth token's hash */
	int64_t created_at;
};

/* An app's push and webhook settings. Every string may be NULL (not set). */
struct cw_push_config {
	bool push_always; /* push incoming calls even to callees with a live connection */
	/* APNs token-based auth. */
	char *apns_team_id, *apns_key_id, *apns_key /* the .p8 PEM */, *apns_bundle_id;
	bool apns_production; /* the default environment of tokens registered without one */
	/* FCM HTTP v1: the service-account JSON (project_id, client_email, private_key,
	 * token_uri). */
	char *fcm_service_account;
	/* Overrides for testing: base URLs ("https://127.0.0.1:8443") and a CA file. */
	char *apns_url, *fcm_url, *oauth_url, *ca_file;
	/* Webhooks: a JSON array of URLs, and the HMAC-SHA256 secret. */
	char *webhook_urls;
	char *webhook_secret;
};

enum cw_outbox_kind {
	CW_OUT_APNS,
	CW_OUT_FCM,
	CW_OUT_WEBHOOK,
};

/* One message to send, kept until it is delivered or given up. */
struct cw_outbox_entry {
	int64_t id; /* set by outbox_add: ascending */
	char app_id[CW_APPID_MAX + 1];
	enum cw_outbox_kind kind;
	char *target;  /* APNs/FCM: the device token; webhooks: the URL */
	char *dedupe;  /* unique: one entry per call event and target */
	char *payload; /* the body to send (JSON) */
	char *meta;    /* JSON object text: what the sender needs besides the body (APNs
			* headers and environment, the platform, the user) */
	int64_t created_at;
	int64_t next_at;    /* Unix ms: not before */
	int64_t expires_at; /* Unix ms: dropped after (0: never) */
	int attempts;
};

void cw_push_token_free(struct cw_push_token *t);
void cw_push_tokens_free(struct cw_push_token *t, size_t n);
/* Wipes the keys and the webhook secret before freeing them. */
void cw_push_config_free(struct cw_push_config *c);
void cw_outbox_entry_free(struct cw_outbox_entry *e);
void cw_outbox_entries_free(struct cw_outbox_entry *e, size_t n);

/* Registers a token for t->uid; the same (platform, token) registered again moves to the
 * new user and device (a phone that changed hands). created_at stays that of the first
 * registration while the token stays with the same user, and is t->created_at otherwise.
 * -ENOENT when the user does not exist. */
int cw_store_push_token_put(struct cw_store *s, const char *app_id, const struct cw_push_token *t);
/* The token registered for (platform, token) in the app, whoever has it; -ENOENT if none. */
int cw_store_push_token_get(struct cw_store *s, const char *app_id, enum cw_push_platform platform,
			    const char *token, struct cw_push_token *out);
/* -ENOENT unless uid has that token (any platform). */
int cw_store_push_token_delete(struct cw_store *s, const char *app_id, const char *uid,
			       const char *token);
/* Forgets a token the push service said is dead (any user). */
int cw_store_push_token_forget(struct cw_store *s, const char *app_id,
			       enum cw_push_platform platform, const char *token);
/* Every token a device registered (logout); *count may be NULL. */
int cw_store_push_tokens_delete_device(struct cw_store *s, const char *device, size_t *count);
/* Every token of the user, whichever device registered it (their auth tokens were
 * revoked); *count may be NULL. */
int cw_store_push_tokens_delete_user(struct cw_store *s, const char *app_id, const char *uid,
				     size_t *count);
/* The user's tokens, oldest first. */
int cw_store_push_tokens_of(struct cw_store *s, const char *app_id, const char *uid,
			    struct cw_push_token **out, size_t *n);

/* An app without settings reads as all-NULL/false (not -ENOENT) when the app exists. */
int cw_store_push_config_get(struct cw_store *s, const char *app_id, struct cw_push_config *out);
int cw_store_push_config_set(struct cw_store *s, const char *app_id,
			     const struct cw_push_config *c);

/* Adds e (setting e->id). An entry of the same app with the same dedupe key already
 * there: -EEXIST and nothing is written. */
int cw_store_outbox_add(struct cw_store *s, struct cw_outbox_entry *e);
/* Up to limit entries with next_at <= now, by next_at then id. */
int cw_store_outbox_due(struct cw_store *s, int64_t now, size_t limit, struct cw_outbox_entry **out,
			size_t *n);
/* The earliest next_at of any entry, or 0 when the outbox is empty. */
int cw_store_outbox_next_at(struct cw_store *s, int64_t *when);
int cw_store_outbox_retry(struct cw_store *s, int64_t id, int64_t next_at, int attempts);
int cw_store_outbox_delete(struct cw_store *s, int64_t id);
/* How many entries are waiting (for /metrics). */
int cw_store_outbox_count(struct cw_store *s, int64_t *count);

/* The backend's side of the functions above, one op each (store.h's cw_store_ops.push). */
struct cw_push_store_ops {
	int (*token_put)(struct cw_store *s, const char *app_id, const struct cw_push_token *t);
	int (*token_get)(struct cw_store *s, const char *app_id, enum cw_push_platform platform,
			 const char *token, struct cw_push_token *out);
	int (*token_delete)(struct cw_store *s, const char *app_id, const char *uid,
			    const char *token);
	int (*token_forget)(struct cw_store *s, const char *app_id, enum cw_push_platform platform,
			    const char *token);
	int (*tokens_delete_device)(struct cw_store *s, const char *device, size_t *count);
	int (*tokens_delete_user)(struct cw_store *s, const char *app_id, const char *uid,
				  size_t *count);
	int (*tokens_of)(struct cw_store *s, const char *app_id, const char *uid,
			 struct cw_push_token **out, size_t *n);
	int (*config_get)(struct cw_store *s, const char *app_id, struct cw_push_config *out);
	int (*config_set)(struct cw_store *s, const char *app_id, const struct cw_push_config *c);
	int (*outbox_add)(struct cw_store *s, struct cw_outbox_entry *e);
	int (*outbox_due)(struct cw_store *s, int64_t now, size_t limit,
			  struct cw_outbox_entry **out, size_t *n);
	int (*outbox_next_at)(struct cw_store *s, int64_t *when);
	int (*outbox_retry)(struct cw_store *s, int64_t id, int64_t next_at, int attempts);
	int (*outbox_delete)(struct cw_store *s, int64_t id);
	int (*outbox_count)(struct cw_store *s, int64_t *count);
};

#endif
