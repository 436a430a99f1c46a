/* auth: secret generation, hashing, the master key file and bearer resolution. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "auth/auth.h"
#include "util/util.h"

int cw_auth_new_secret(char out[CW_SECRET_MAX], const char *prefix)
{
	return cw_rand_secret(out, CW_SECRET_MAX, prefix, 32);
}

void cw_auth_hash(const char *secret, char out[CW_HASH_HEX + 1])
{
	/* The secrets are 256 random bits, so a plain SHA-256 is as strong as a slow KDF
	 * here, and lets a credential be looked up by its hash in one index probe. */
	cw_sha256_hex(secret, strlen(secret), out);
}

void cw_auth_init(struct cw_auth *auth, struct cw_store *store, const char *master_key)
{
	static const char label[] = "callwire call tokens v1";
	unsigned int len = sizeof(auth->token_key);

	auth->store = store;
	cw_auth_hash(master_key, auth->master_hash);
	HMAC(EVP_sha256(), master_key, (int)strlen(master_key), (const unsigned char *)label,
	     sizeof(label) - 1, auth->token_key, &len);
}

int cw_auth_resolve(struct cw_auth *auth, const char *secret, int64_t now, struct cw_cred *cred)
{
	struct cw_token tok;
	struct cw_app app;
	int err;

	memset(cred, 0, sizeof(*cred));
	if (!secret || !*secret || strlen(secret) > 256)
		return -EACCES;
	cw_auth_hash(secret, cred->hash);

	if (cw_secret_eq(cred->hash, auth->master_hash)) {
		cred->kind = CW_CRED_MASTER;
		return 0;
	}

	if (strncmp(secret, CW_PREFIX_REST_KEY, strlen(CW_PREFIX_REST_KEY)) == 0) {
		err = cw_store_app_find_by_rest_key(auth->store, cred->hash, &app);
		if (err)
			return err == -ENOENT ? -EACCES : err;
		cred->kind = CW_CRED_REST;
		cw_strlcpy(cred->app_id, app.id, sizeof(cred->app_id));
		cw_app_free(&app);
		return 0;
	}

	err = cw_store_token_find(auth->store, cred->hash, now, &tok);
	if (err)
		return err == -ENOENT ? -EACCES : err;
	cred->kind = CW_CRED_TOKEN;
	cw_strlcpy(cred->app_id, tok.app_id, sizeof(cred->app_id));
	cw_strlcpy(cred->uid, tok.uid, sizeof(cred->uid));
	return 0;
}

int cw_auth_create_app(struct cw_store *store, const char *name, int64_t now, struct cw_app *app,
		       char auth_key[CW_SECRET_MAX], char rest_key[CW_SECRET_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[8];
	int err = -EEXIST;

	/* 64 random bits: app ids are public, so they need only be unique; a collision
	 * is retried rather than trusted never to happen. */
	for (int attempt = 0; attempt < 3 && err == -EEXIST; attempt++) {
		memset(app, 0, sizeof(*app));
		if (cw_rand_bytes(raw, sizeof(raw)) ||
		    cw_auth_new_secret(auth_key, CW_PREFIX_AUTH_KEY) ||
		    cw_auth_new_secret(rest_key, CW_PREFIX_REST_KEY))
			return -EIO;
		for (size_t i = 0; i < sizeof(raw); i++) {
			app->id[2 * i] = hex[raw[i] >> 4];
			app->id[2 * i + 1] = hex[raw[i] & 15];
		}
		app->name = (char *)name;
		cw_auth_hash(auth_key, app->auth_key_hash);
		cw_auth_hash(rest_key, app->rest_key_hash);
		cw_settings_default(&app->settings);
		app->created_at = now;
		err = cw_store_app_create(store, app);
	}
	return err;
}

static int read_key_file(const char *path, char out[CW_SECRET_MAX])
{
	char buf[CW_SECRET_MAX + 2];
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) < 16 || strlen(buf) >= CW_SECRET_MAX) {
		err = -EINVAL;
		goto out;
	}
	memcpy(out, buf, strlen(buf) + 1);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return err;
}

int cw_auth_load_master_key(const char *dir, char out[CW_SECRET_MAX])
{
	char path[4096], tmp[4096];
	int fd, err;
	size_t len;

	snprintf(path, sizeof(path), "%s/master.key", dir);
	err = read_key_file(path, out);
	if (err != -ENOENT) {
		if (err)
			cw_error("auth.master_key", "path=%s err=\"%s\"", path, strerror(-err));
		return err;
	}

	err = cw_auth_new_secret(out, CW_PREFIX_MASTER);
	if (err)
		return err;
	/* Write to a temporary file and rename, so a crash never leaves a half-written key. */
	snprintf(tmp, sizeof(tmp), "%s/.master.key.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	len = strlen(out);
	out[len] = '\n';
	err = write(fd, out, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0 ? 0 : -EIO;
	out[len] = '\0';
	close(fd);
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		goto fail;
	}
	cw_info("auth.master_key", "path=%s created=true", path);
	return 0;
fail:
	cw_error("auth.master_key", "path=%s err=\"%s\"", path, strerror(-err));
	return err;
}
