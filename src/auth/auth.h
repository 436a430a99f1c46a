/* auth: secrets (master key, app keys, auth tokens) and resolving a bearer credential. */
#ifndef CW_AUTH_H
#define CW_AUTH_H

#include <stdint.h>

#include "store/store.h"

/* Secret prefixes make each kind recognisable in configs and to secret scanners. */
#define CW_PREFIX_MASTER "mk_"
#define CW_PREFIX_AUTH_KEY "ak_"
#define CW_PREFIX_REST_KEY "rk_"
#define CW_PREFIX_TOKEN "at_"

/* Large enough for any secret this module makes: prefix + base64url of 32 bytes. */
#define CW_SECRET_MAX 64

enum cw_cred_kind {
	CW_CRED_NONE,	/* no usable credential */
	CW_CRED_MASTER, /* the operator */
	CW_CRED_REST,	/* an app's backend */
	CW_CRED_TOKEN,	/* one user on one device */
};

struct cw_cred {
	enum cw_cred_kind kind;
	char app_id[CW_APPID_MAX + 1]; /* REST, TOKEN */
	char uid[CW_UID_MAX + 1];      /* TOKEN */
	char hash[CW_HASH_HEX + 1];    /* SHA-256 of the secret */
};

struct cw_auth {
	struct cw_store *store;
	char master_hash[CW_HASH_HEX + 1];
	unsigned char token_key[32]; /* signs call tokens (auth/calltoken.h) */
};

/* Makes a new random secret with the given prefix. */
int cw_auth_new_secret(char out[CW_SECRET_MAX], const char *prefix);

/* The stored form of a secret. */
void cw_auth_hash(const char *secret, char out[CW_HASH_HEX + 1]);

void cw_auth_init(struct cw_auth *auth, struct cw_store *store, const char *master_key);

/* Resolves a bearer secret. Returns 0 with *cred filled, -EACCES when the secret is
 * unknown, expired or revoked, or -EIO. An app's REST key is recognised for any app. */
int cw_auth_resolve(struct cw_auth *auth, const char *secret, int64_t now, struct cw_cred *cred);

/* Creates an app named name with a new id, auth key and REST API key, default settings,
 * and stores it. On success app holds the stored app (app->name borrows name) and the two
 * keys, which exist nowhere else, are written to auth_key and rest_key. */
int cw_auth_create_app(struct cw_store *store, const char *name, int64_t now, struct cw_app *app,
		       char auth_key[CW_SECRET_MAX], char rest_key[CW_SECRET_MAX]);

/* Loads the master key from dir/master.key, creating it (mode 0600) when missing.
 * Returns 0, or a negative errno with the reason logged. */
int cw_auth_load_master_key(const char *dir, char out[CW_SECRET_MAX]);

#endif
