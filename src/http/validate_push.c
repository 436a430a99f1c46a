/* validate_push: strict checks of device tokens, push settings and webhook settings. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http/validate.h"
#include "util/util.h"

#define fail(e, ...) (snprintf((e)->msg, sizeof((e)->msg), __VA_ARGS__), -EINVAL)

/* Where Google's OAuth tokens come from when the service account does not say. */
#define FCM_TOKEN_URI "https://oauth2.googleapis.com/token"
#define PATH_MAX_CHARS 4096

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool token_char(char c)
{
	return alnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

bool cw_valid_push_token(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		if (n >= CW_PUSH_TOKEN_MAX || !token_char(s[n]))
			return false;
	}
	return n > 0;
}

/* The host of a URL: a bracketed IPv6 literal or a name of [A-Za-z0-9.-]. Returns its
 * length, 0 when there is none. */
static size_t url_host(const char *p, size_t n)
{
	size_t i = 0;

	if (n > 0 && p[0] == '[') {
		for (i = 1; i < n && (hex(p[i]) || p[i] == ':' || p[i] == '.'); i++)
			;
		return i > 1 && i < n && p[i] == ']' ? i + 1 : 0;
	}
	while (i < n && (alnum(p[i]) || p[i] == '.' || p[i] == '-'))
		i++;
	return i;
}

bool cw_valid_url(const char *s, size_t max)
{
	const char *p;
	size_t n, h;

	if (!s || strlen(s) > max)
		return false;
	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		return false;
	/* The authority: a host and an optional port. No user name or password: they would
	 * show in every answer that lists the URL. */
	n = strcspn(p, "/?#");
	h = url_host(p, n);
	if (h == 0)
		return false;
	if (h < n) {
		long port;
		char *end;

		if (p[h] != ':' || n - h < 2 || n - h > 6 || !(p[h + 1] >= '0' && p[h + 1] <= '9'))
			return false;
		port = strtol(p + h + 1, &end, 10);
		if (end != p + n || port < 1 || port > 65535)
			return false;
	}
	/* The rest: visible ASCII only, so the URL is sent as it reads. */
	for (p += n; *p; p++) {
		if (*p < 0x21 || *p > 0x7e)
			return false;
	}
	return true;
}

/* A string member of obj; messages name it "<where>.<field>". *out is NULL when absent. */
static int member_string(json_t *obj, const char *where, const char *field, bool required,
			 const char **out, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (!v)
		return required ? fail(e, "%s.%s: required", where, field) : 0;
	if (!json_is_string(v))
		return fail(e, "%s.%s: expected a string", where, field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(e, "%s.%s: must not contain NUL characters", where, field);
	*out = json_string_value(v);
	return 0;
}

/* "sandbox" or "production" into *production. */
static int environment(json_t *v, const char *field, bool *production, struct cw_verr *e)
{
	const char *s = json_string_value(v);

	if (s && strcmp(s, "sandbox") == 0)
		*production = false;
	else if (s && strcmp(s, "production") == 0)
		*production = true;
	else
		return fail(e, "%s: must be \"sandbox\" or \"production\"", field);
	return 0;
}

int cw_check_push_token(json_t *body, struct cw_push_token *out, bool *env_given, struct cw_verr *e)
{
	json_t *v = json_object_get(body, "platform");
	const char *token;
	size_t len;
	int err;

	memset(out, 0, sizeof(*out));
	out->production = true;
	*env_given = false;
	if (!v)
		return fail(e, "platform: required");
	if (!json_is_string(v) || cw_push_platform_parse(json_string_value(v), &out->platform))
		return fail(e, "platform: must be \"apns_voip\", \"apns\" or \"fcm\"");
	v = json_object_get(body, "token");
	if (!v)
		return fail(e, "token: required");
	if (!json_is_string(v))
		return fail(e, "token: expected a string");
	token = json_string_value(v);
	len = strlen(token);
	if (len != json_string_length(v))
		return fail(e, "token: must not contain NUL characters");
	if (out->platform == CW_PUSH_FCM) {
		if (!cw_valid_push_token(token))
			return fail(e,
				    "token: an FCM registration token is 1 to %d characters of "
				    "[A-Za-z0-9_:.-]",
				    CW_PUSH_TOKEN_MAX);
	} else {
		bool ok = len >= 64 && len <= 200;

		for (size_t i = 0; ok && i < len; i++)
			ok = hex(token[i]);
		if (!ok)
			return fail(e,
				    "token: an APNs device token is 64 to 200 hexadecimal digits");
	}
	v = json_object_get(body, "environment");
	if (v && !json_is_null(v)) {
		if ((err = environment(v, "environment", &out->production, e)))
			return err;
		*env_given = true;
	}
	if (!(out->token = strdup(token)))
		return fail(e, "token: out of memory");
	/* APNs tokens are hex, written either way; one case keeps one token one row. */
	for (char *c = out->token; out->platform != CW_PUSH_FCM && *c; c++) {
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	}
	return 0;
}

/* Apple's team and key ids: ten characters of [A-Z0-9]. */
static bool apple_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (n >= 10 || !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
			return false;
	}
	return n == 10;
}

/* A reverse-DNS bundle id: labels of [A-Za-z0-9-] joined by dots, at least two of them. */
static bool bundle_id(const char *s)
{
	size_t n = strlen(s), label = 0, dots = 0;

	if (n < 1 || n > 155)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			dots++;
		} else if (alnum(s[i]) || s[i] == '-') {
			label++;
		} else {
			return false;
		}
	}
	return label > 0 && dots > 0;
}

/* Keys are never read from a terminal: an encrypted one is refused. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The .p8 key of APNs token auth: PKCS#8 PEM of an EC key on P-256 (ES256). */
static int check_apns_key(const char *pem, struct cw_verr *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	char group[64] = "";
	BIO *bio;
	int err;

	if (strlen(pem) > CW_PUSH_KEY_MAX)
		return fail(e, "apns.key: must be at most %d bytes", CW_PUSH_KEY_MAX);
	if (!(bio = BIO_new_mem_buf(pem, (int)strlen(pem))))
		return fail(e, "apns.key: out of memory");
	p8 = PEM_read_bio_PKCS8_PRIV_KEY_INFO(bio, NULL, no_password, NULL);
	if (!p8)
		err = fail(e, "apns.key: not an unencrypted PKCS#8 PEM private key (-----BEGIN "
			      "PRIVATE KEY-----), as in the .p8 file from Apple");
	else if (!(pkey = EVP_PKCS82PKEY(p8)))
		err = fail(e, "apns.key: the private key cannot be read");
	else if (!EVP_PKEY_is_a(pkey, "EC"))
		err = fail(e, "apns.key: not an EC key; APNs tokens are signed with ES256 (P-256)");
	else if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) ||
		 (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
		err = fail(e, "apns.key: an EC key on %s, not P-256",
			   group[0] ? group : "an unknown curve");
	else
		err = 0;
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(bio);
	/* A failed parse leaves errors on the thread's queue, where the next TLS call on this
	 * thread would find them and fail. */
	ERR_clear_error();
	return err;
}

/* A service account's private key: a PEM RSA key (RS256). */
static int check_rsa_key(const char *pem, const char *field, struct cw_verr *e)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	int err;

	if (strlen(pem) > CW_PUSH_KEY_MAX)
		return fail(e, "%s: must be at most %d bytes", field, CW_PUSH_KEY_MAX);
	if (!(bio = BIO_new_mem_buf(pem, (int)strlen(pem))))
		return fail(e, "%s: out of memory", field);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	if (!pkey)
		err = fail(e, "%s: not an unencrypted PEM private key", field);
	else if (!EVP_PKEY_is_a(pkey, "RSA"))
		err = fail(e, "%s: not an RSA key; FCM's OAuth tokens are signed with RS256",
			   field);
	else
		err = 0;
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	return err;
}

/* Sets *slot to a copy of v (or NULL), freeing what it held. */
static int replace(char **slot, const char *v, const char *field, struct cw_verr *e)
{
	char *copy = NULL;

	if (v && !(copy = strdup(v)))
		return fail(e, "%s: out of memory", field);
	free(*slot);
	*slot = copy;
	return 0;
}

static int check_apns(json_t *v, struct cw_push_config *c, struct cw_verr *e)
{
	/* Set already: a partial object changes only what it names. */
	bool set = c->apns_team_id && c->apns_key_id && c->apns_key && c->apns_bundle_id;
	const char *team, *key_id, *key, *bundle;
	json_t *env;
	int err;

	if (json_is_null(v)) {
		free(c->apns_team_id);
		free(c->apns_key_id);
		free(c->apns_key);
		free(c->apns_bundle_id);
		c->apns_team_id = c->apns_key_id = c->apns_key = c->apns_bundle_id = NULL;
		c->apns_production = false;
		return 0;
	}
	if (!json_is_object(v))
		return fail(e, "apns: expected a JSON object or null");
	if ((err = member_string(v, "apns", "teamId", !set, &team, e)) ||
	    (err = member_string(v, "apns", "keyId", !set, &key_id, e)) ||
	    (err = member_string(v, "apns", "key", !set, &key, e)) ||
	    (err = member_string(v, "apns", "bundleId", !set, &bundle, e)))
		return err;
	if (team && !apple_id(team))
		return fail(e, "apns.teamId: must be the 10 characters of [A-Z0-9] of the Apple "
			       "team id");
	if (key_id && !apple_id(key_id))
		return fail(e, "apns.keyId: must be the 10 characters of [A-Z0-9] of the key id");
	if (key && (err = check_apns_key(key, e)))
		return err;
	if (bundle && !bundle_id(bundle))
		return fail(e,
			    "apns.bundleId: must be a reverse-DNS name (com.example.app) of 1 to "
			    "155 characters of [A-Za-z0-9.-]");
	env = json_object_get(v, "environment");
	if (env && !json_is_null(env)) {
		if ((err = environment(env, "apns.environment", &c->apns_production, e)))
			return err;
	} else if (env || !set) {
		c->apns_production = true;
	}
	if ((team && (err = replace(&c->apns_team_id, team, "apns.teamId", e))) ||
	    (key_id && (err = replace(&c->apns_key_id, key_id, "apns.keyId", e))) ||
	    (key && (err = replace(&c->apns_key, key, "apns.key", e))) ||
	    (bundle && (err = replace(&c->apns_bundle_id, bundle, "apns.bundleId", e))))
		return err;
	return 0;
}

/* Google project ids, also domain-scoped ones ("example.com:project"). */
static bool project_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (n >= 100 ||
		    !(alnum(s[n]) || s[n] == '-' || s[n] == '.' || s[n] == ':' || s[n] == '_'))
			return false;
	}
	return n > 0;
}

static bool email(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');

	if (n < 3 || n > 320 || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (; *s; s++) {
		if (*s < 0x21 || *s > 0x7e)
			return false;
	}
	return true;
}

static int check_fcm(json_t *v, struct cw_push_config *c, struct cw_verr *e)
{
	static const char where[] = "fcm.serviceAccount";
	const char *project, *client, *key, *uri;
	json_t *sa, *copy;
	char *text;
	int err;

	if (json_is_null(v))
		return replace(&c->fcm_service_account, NULL, "fcm", e);
	if (!json_is_object(v))
		return fail(e, "fcm: expected a JSON object or null");
	sa = json_object_get(v, "serviceAccount");
	if (!sa)
		return fail(e, "%s: required", where);
	if (!json_is_object(sa))
		return fail(e, "%s: expected the service account's JSON object", where);
	if ((err = member_string(sa, where, "project_id", true, &project, e)) ||
	    (err = member_string(sa, where, "client_email", true, &client, e)) ||
	    (err = member_string(sa, where, "private_key", true, &key, e)) ||
	    (err = member_string(sa, where, "token_uri", false, &uri, e)))
		return err;
	if (!project_id(project))
		return fail(e, "%s.project_id: must be 1 to 100 characters of [A-Za-z0-9.:_-]",
			    where);
	if (!email(client))
		return fail(e, "%s.client_email: must be an e-mail address", where);
	if ((err = check_rsa_key(key, "fcm.serviceAccount.private_key", e)))
		return err;
	if (uri && !cw_valid_url(uri, CW_URL_MAX))
		return fail(e, "%s.token_uri: must be an http:// or https:// URL", where);
	/* Kept whole (the key id, for one, may serve the sender), with the default filled in. */
	copy = json_deep_copy(sa);
	if (copy && !uri)
		json_object_set_new(copy, "token_uri", json_string(FCM_TOKEN_URI));
	text = copy ? json_dumps(copy, JSON_COMPACT) : NULL;
	json_decref(copy);
	if (!text)
		return fail(e, "%s: out of memory", where);
	free(c->fcm_service_account);
	c->fcm_service_account = text;
	return 0;
}

static void drop_trailing_slashes(char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
}

static int check_endpoints(json_t *v, struct cw_push_config *c, struct cw_verr *e)
{
	/* base: the sender appends paths ("/3/device/…") to it, so it keeps no slash of its
	 * own at the end. */
	static const struct {
		const char *name;
		size_t off;
		bool base;
	} fields[] = {
		{"apns", offsetof(struct cw_push_config, apns_url), true},
		{"fcm", offsetof(struct cw_push_config, fcm_url), true},
		{"oauth", offsetof(struct cw_push_config, oauth_url), false},
		{"caFile", offsetof(struct cw_push_config, ca_file), false},
	};
	int err;

	if (!json_is_null(v) && !json_is_object(v))
		return fail(e, "endpoints: expected a JSON object or null");
	for (size_t i = 0; i < CW_ARRAY_SIZE(fields); i++) {
		char **slot = (char **)((char *)c + fields[i].off);
		const char *name = fields[i].name, *s = NULL;
		json_t *f = json_is_null(v) ? json_null() : json_object_get(v, name);

		if (!f)
			continue;
		if (!json_is_null(f)) {
			s = json_string_value(f);
			if (!s || strlen(s) != json_string_length(f))
				return fail(e, "endpoints.%s: expected a string or null", name);
		}
		if (s && strcmp(name, "caFile") == 0) {
			if (s[0] != '/' || strlen(s) > PATH_MAX_CHARS)
				return fail(e,
					    "endpoints.caFile: must be an absolute path of at most "
					    "%d bytes",
					    PATH_MAX_CHARS);
		} else if (s && !cw_valid_url(s, CW_URL_MAX)) {
			return fail(
				e,
				"endpoints.%s: must be an http:// or https:// URL of at most %d "
				"characters",
				name, CW_URL_MAX);
		}
		if ((err = replace(slot, s, "endpoints", e)))
			return err;
		if (fields[i].base && *slot)
			drop_trailing_slashes(*slot);
	}
	return 0;
}

/* The strings of a struct cw_push_config, for copying it. */
static const size_t config_strings[] = {
	offsetof(struct cw_push_config, apns_team_id),
	offsetof(struct cw_push_config, apns_key_id),
	offsetof(struct cw_push_config, apns_key),
	offsetof(struct cw_push_config, apns_bundle_id),
	offsetof(struct cw_push_config, fcm_service_account),
	offsetof(struct cw_push_config, apns_url),
	offsetof(struct cw_push_config, fcm_url),
	offsetof(struct cw_push_config, oauth_url),
	offsetof(struct cw_push_config, ca_file),
	offsetof(struct cw_push_config, webhook_urls),
	offsetof(struct cw_push_config, webhook_secret),
};

/* A deep copy, so that a patch is built aside and applied only once all of it is valid. */
static int config_copy(const struct cw_push_config *src, struct cw_push_config *dst)
{
	int err = 0;

	*dst = *src;
	for (size_t i = 0; i < CW_ARRAY_SIZE(config_strings); i++)
		*(char **)((char *)dst + config_strings[i]) = NULL;
	for (size_t i = 0; i < CW_ARRAY_SIZE(config_strings) && !err; i++) {
		const char *from = *(char *const *)((const char *)src + config_strings[i]);
		char **to = (char **)((char *)dst + config_strings[i]);

		if (from && !(*to = strdup(from)))
			err = -ENOMEM;
	}
	if (err)
		cw_push_config_free(dst);
	return err;
}

int cw_check_push_patch(json_t *body, struct cw_push_config *c, struct cw_verr *e)
{
	struct cw_push_config next;
	bool present;
	json_t *v;
	int err;

	if (config_copy(c, &next))
		return fail(e, "body: out of memory");
	if ((err = cw_get_bool(body, "pushAlways", &next.push_always, &present, e)))
		goto out;
	if ((v = json_object_get(body, "apns")) && (err = check_apns(v, &next, e)))
		goto out;
	if ((v = json_object_get(body, "fcm")) && (err = check_fcm(v, &next, e)))
		goto out;
	if ((v = json_object_get(body, "endpoints")) && (err = check_endpoints(v, &next, e)))
		goto out;
out:
	if (err) {
		cw_push_config_free(&next);
		return err;
	}
	cw_push_config_free(c);
	*c = next;
	return 0;
}

int cw_check_webhooks_patch(json_t *body, char **urls, bool *urls_given, bool *rotate,
			    struct cw_verr *e)
{
	json_t *v = json_object_get(body, "urls"), *item;
	bool present;
	size_t i;
	int err;

	*urls = NULL;
	*urls_given = false;
	*rotate = false;
	if ((err = cw_get_bool(body, "rotateSecret", rotate, &present, e)))
		return err;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail(e, "urls: expected an array of URLs");
	if (json_array_size(v) > CW_WEBHOOK_URLS_MAX)
		return fail(e, "urls: at most %d URLs", CW_WEBHOOK_URLS_MAX);
	json_array_foreach (v, i, item) {
		const char *s = json_string_value(item);

		if (!s || strlen(s) != json_string_length(item) || !cw_valid_url(s, CW_URL_MAX))
			return fail(e,
				    "urls[%zu]: must be an http:// or https:// URL of at most %d "
				    "characters",
				    i, CW_URL_MAX);
		/* The same URL twice would get every event twice. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(s, json_string_value(json_array_get(v, j))) == 0)
				return fail(e, "urls[%zu]: repeats urls[%zu]", i, j);
		}
	}
	*urls_given = true;
	if (json_array_size(v) == 0)
		return 0;
	if (!(*urls = json_dumps(v, JSON_COMPACT)))
		return fail(e, "urls: out of memory");
	return 0;
}
