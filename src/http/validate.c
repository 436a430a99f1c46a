/* validate: strict checks of untrusted request input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/validate.h"
#include "util/util.h"

#define fail(e, ...) (snprintf((e)->msg, sizeof((e)->msg), __VA_ARGS__), -EINVAL)

static bool id_char(char c, bool dot_at)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '_' || c == '-')
		return true;
	return dot_at && (c == '.' || c == '@');
}

static bool valid_id(const char *s, size_t max, bool dot_at)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		if (n >= max || !id_char(s[n], dot_at))
			return false;
	}
	return n > 0;
}

bool cw_valid_uid(const char *s)
{
	/* An id of dots only ("." or "..") is a dot-segment that HTTP clients and servers
	 * remove from paths (RFC 3986 5.2.4), so no URL could ever name it. */
	if (!valid_id(s, CW_UID_MAX, true) || s[strspn(s, ".")] == '\0')
		return false;
	return true;
}

bool cw_valid_app_id(const char *s)
{
	return valid_id(s, CW_APPID_MAX, false);
}

bool cw_valid_session_id(const char *s)
{
	return valid_id(s, CW_APPID_MAX, false);
}

int cw_parse_object(const char *buf, size_t len, json_t **out, struct cw_verr *e)
{
	json_error_t jerr;
	json_t *j;

	if (len == 0)
		return fail(e, "body: expected a JSON object");
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return fail(e, "body: invalid JSON at line %d column %d: %s", jerr.line,
			    jerr.column, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return fail(e, "body: expected a JSON object");
	}
	*out = j;
	return 0;
}

/* Counts UTF-8 code points; jansson has already checked the encoding. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int cw_get_string(json_t *obj, const char *field, bool required, size_t minchars, size_t maxchars,
		  const char **out, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);
	size_t n;

	*out = NULL;
	if (!v) {
		if (required)
			return fail(e, "%s: required", field);
		return 0;
	}
	if (!json_is_string(v))
		return fail(e, "%s: expected a string", field);
	/* Embedded NULs (\u0000) would silently truncate the value downstream. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(e, "%s: must not contain NUL characters", field);
	n = utf8_chars(json_string_value(v));
	if (n < minchars || n > maxchars)
		return fail(e, "%s: must be %zu to %zu characters", field, minchars, maxchars);
	*out = json_string_value(v);
	return 0;
}

int cw_get_id(json_t *obj, const char *field, const char **out, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);

	if (!v)
		return fail(e, "%s: required", field);
	if (!json_is_string(v))
		return fail(e, "%s: expected a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v) ||
	    !cw_valid_uid(json_string_value(v)))
		return fail(e, "%s: must be 1 to %d characters of [A-Za-z0-9_.@-], not only dots",
			    field, CW_UID_MAX);
	*out = json_string_value(v);
	return 0;
}

int cw_get_int(json_t *obj, const char *field, long long min, long long max, long long *out,
	       bool *present, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);

	*present = false;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return fail(e, "%s: expected an integer", field);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(e, "%s: must be between %lld and %lld", field, min, max);
	*out = json_integer_value(v);
	*present = true;
	return 0;
}

int cw_get_bool(json_t *obj, const char *field, bool *out, bool *present, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);

	*present = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(e, "%s: expected true or false", field);
	*out = json_is_true(v);
	*present = true;
	return 0;
}

int cw_get_metadata(json_t *obj, const char *field, char **out, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);
	char *text;

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return fail(e, "%s: expected a JSON object", field);
	text = json_dumps(v, JSON_COMPACT);
	if (!text)
		return fail(e, "%s: cannot be serialised", field);
	if (strlen(text) > CW_METADATA_MAX) {
		free(text);
		return fail(e, "%s: must be at most %d bytes", field, CW_METADATA_MAX);
	}
	*out = text;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

int cw_get_id_array(json_t *obj, const char *field, bool required, char (**out)[CW_UID_MAX + 1],
		    size_t *n, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field), *item;
	char(*ids)[CW_UID_MAX + 1];
	size_t i, count = 0;

	*out = NULL;
	*n = 0;
	if (!v) {
		if (required)
			return fail(e, "%s: required", field);
		return 0;
	}
	if (!json_is_array(v))
		return fail(e, "%s: expected an array of uids", field);
	if (json_array_size(v) > CW_MEMBERS_MAX)
		return fail(e, "%s: at most %d uids", field, CW_MEMBERS_MAX);
	if (json_array_size(v) == 0)
		return 0;
	ids = calloc(json_array_size(v), sizeof(*ids));
	if (!ids)
		return fail(e, "%s: out of memory", field);
	json_array_foreach (v, i, item) {
		const char *s = json_string_value(item);
		if (!s || strlen(s) != json_string_length(item) || !cw_valid_uid(s)) {
			free(ids);
			return fail(e,
				    "%s[%zu]: must be a uid of 1 to %d characters of "
				    "[A-Za-z0-9_.@-]",
				    field, i, CW_UID_MAX);
		}
		cw_strlcpy(ids[i], s, sizeof(ids[i]));
	}
	qsort(ids, json_array_size(v), sizeof(*ids), cmp_id);
	for (i = 0; i < json_array_size(v); i++) {
		if (count == 0 || strcmp(ids[count - 1], ids[i]) != 0)
			memmove(ids[count++], ids[i], sizeof(ids[i]));
	}
	*out = ids;
	*n = count;
	return 0;
}

int cw_check_app_create(json_t *body, const char **name, struct cw_verr *e)
{
	return cw_get_string(body, "name", true, 1, CW_NAME_MAX, name, e);
}

int cw_check_settings(json_t *body, struct cw_settings *settings, struct cw_verr *e)
{
	static const struct {
		const char *name;
		long long min, max;
		size_t off;
	} ints[] = {
		{"ringTimeout", 5, 300, offsetof(struct cw_settings, ring_timeout)},
		{"reconnectGrace", 0, 3600, offsetof(struct cw_settings, reconnect_grace)},
		{"idleTimeout", 0, 86400, offsetof(struct cw_settings, idle_timeout)},
		{"maxParticipants", 2, 500, offsetof(struct cw_settings, max_participants)},
		{"callRateLimit", 0, 100000, offsetof(struct cw_settings, call_rate_limit)},
	};
	json_t *s = json_object_get(body, "settings");
	struct cw_settings next = *settings;
	bool present;
	long long v;
	int err;

	if (!s)
		return fail(e, "settings: required");
	if (!json_is_object(s))
		return fail(e, "settings: expected a JSON object");
	if ((err = cw_get_bool(s, "authKeyLogin", &next.auth_key_login, &present, e)) ||
	    (err = cw_get_bool(s, "autoBusy", &next.auto_busy, &present, e)))
		return err;
	for (size_t i = 0; i < CW_ARRAY_SIZE(ints); i++) {
		err = cw_get_int(s, ints[i].name, ints[i].min, ints[i].max, &v, &present, e);
		if (err)
			return err;
		if (present)
			*(int *)((char *)&next + ints[i].off) = (int)v;
	}
	*settings = next;
	return 0;
}

static int check_avatar(json_t *body, struct cw_user *user, bool *present, struct cw_verr *e)
{
	json_t *v = json_object_get(body, "avatar");
	const char *s;
	int err;

	*present = v != NULL;
	if (!v || json_is_null(v))
		return 0;
	err = cw_get_string(body, "avatar", false, 0, CW_AVATAR_MAX, &s, e);
	if (err)
		return err;
	user->avatar = strdup(s);
	return 0;
}

int cw_check_user_create(json_t *body, struct cw_user *user, struct cw_verr *e)
{
	const char *uid, *name;
	bool present;
	int err;

	memset(user, 0, sizeof(*user));
	if ((err = cw_get_id(body, "uid", &uid, e)) ||
	    (err = cw_get_string(body, "name", true, 1, CW_NAME_MAX, &name, e)))
		return err;
	cw_strlcpy(user->uid, uid, sizeof(user->uid));
	user->name = strdup(name);
	if ((err = check_avatar(body, user, &present, e)) ||
	    (err = cw_get_metadata(body, "metadata", &user->metadata, e)))
		goto out;
	if (!user->metadata)
		user->metadata = strdup("{}");
out:
	if (err)
		cw_user_free(user);
	return err;
}

int cw_check_user_patch(json_t *body, struct cw_user *user, unsigned *fields, struct cw_verr *e)
{
	const char *name;
	bool present;
	int err;

	*fields = 0;
	if ((err = cw_get_string(body, "name", false, 1, CW_NAME_MAX, &name, e)))
		return err;
	if (name) {
		free(user->name);
		user->name = strdup(name);
		*fields |= CW_USER_NAME;
	}
	if (json_object_get(body, "avatar")) {
		free(user->avatar);
		user->avatar = NULL;
		if ((err = check_avatar(body, user, &present, e)))
			return err;
		*fields |= CW_USER_AVATAR;
	}
	if (json_object_get(body, "metadata")) {
		char *meta;
		if ((err = cw_get_metadata(body, "metadata", &meta, e)))
			return err;
		free(user->metadata);
		user->metadata = meta;
		*fields |= CW_USER_METADATA;
	}
	return 0;
}

int cw_check_group_create(json_t *body, struct cw_group *group, struct cw_verr *e)
{
	const char *guid, *name;
	int err;

	memset(group, 0, sizeof(*group));
	if ((err = cw_get_id(body, "guid", &guid, e)) ||
	    (err = cw_get_string(body, "name", true, 1, CW_NAME_MAX, &name, e)) ||
	    (err = cw_get_id_array(body, "members", false, &group->members, &group->n_members, e)))
		return err;
	cw_strlcpy(group->guid, guid, sizeof(group->guid));
	group->name = strdup(name);
	return 0;
}

int cw_check_token_create(json_t *body, long long *ttl, struct cw_verr *e)
{
	bool present;
	json_t *v = json_object_get(body, "ttl");

	*ttl = 0;
	if (v && json_is_null(v))
		return 0;
	return cw_get_int(body, "ttl", 1, CW_TTL_MAX, ttl, &present, e);
}

int cw_check_login(json_t *body, const char **uid, const char **auth_key, struct cw_verr *e)
{
	int err;

	if ((err = cw_get_id(body, "uid", uid, e)) ||
	    (err = cw_get_string(body, "authKey", true, 1, 256, auth_key, e)))
		return err;
	return 0;
}

int cw_parse_limit(const char *s, int def, int max, int *out, struct cw_verr *e)
{
	char *end;
	long v;

	if (!s) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > max)
		return fail(e, "limit: must be an integer from 1 to %d", max);
	*out = (int)v;
	return 0;
}

int cw_cursor_decode(const char *s, char out[CW_UID_MAX + 1], struct cw_verr *e)
{
	int n;

	out[0] = '\0';
	if (!s)
		return 0;
	n = cw_b64url_decode(s, strlen(s), out, CW_UID_MAX);
	if (n <= 0)
		return fail(e, "cursor: not a cursor this server issued");
	out[n] = '\0';
	if (!cw_valid_uid(out))
		return fail(e, "cursor: not a cursor this server issued");
	return 0;
}

void cw_cursor_encode(const char *id, char out[2 * CW_UID_MAX])
{
	cw_b64url_encode(id, strlen(id), out);
}

/* Reads an optional string field that must be one of names; *index gets its position. */
static int get_enum(json_t *obj, const char *field, const char *const *names, size_t n,
		    bool required, int *index, struct cw_verr *e)
{
	json_t *v = json_object_get(obj, field);

	if (!v) {
		if (required)
			return fail(e, "%s: required", field);
		return 0;
	}
	for (size_t i = 0; json_is_string(v) && i < n; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*index = (int)i;
			return 0;
		}
	}
	return n == 2 ? fail(e, "%s: must be \"%s\" or \"%s\"", field, names[0], names[1])
		      : fail(e, "%s: not an allowed value", field);
}

int cw_check_call_create(json_t *body, struct cw_initiate *out, struct cw_verr *e)
{
	static const char *const receiver_types[] = {"user", "group"};
	static const char *const types[] = {"audio", "video"};
	int rtype = 0, type = 0, err;
	long long timeout = 0;
	bool present;

	memset(out, 0, sizeof(*out));
	if ((err = cw_get_id(body, "receiver", &out->receiver, e)) ||
	    (err = get_enum(body, "receiverType", receiver_types, 2, true, &rtype, e)) ||
	    (err = get_enum(body, "type", types, 2, true, &type, e)) ||
	    (err = cw_get_int(body, "timeout", 5, 300, &timeout, &present, e)) ||
	    (err = cw_get_metadata(body, "metadata", &out->metadata, e)))
		return err;
	out->receiver_type = rtype ? CW_RECEIVER_GROUP : CW_RECEIVER_USER;
	out->type = type ? CW_CALL_VIDEO : CW_CALL_AUDIO;
	out->timeout = (int)timeout;
	return 0;
}

int cw_check_reject(json_t *body, bool *busy, struct cw_verr *e)
{
	static const char *const statuses[] = {"rejected", "busy"};
	int status = 0, err;

	err = get_enum(body, "status", statuses, 2, false, &status, e);
	*busy = status == 1;
	return err;
}

int cw_check_end(json_t *body, bool *for_all, struct cw_verr *e)
{
	bool present;

	*for_all = false;
	return cw_get_bool(body, "forAll", for_all, &present, e);
}

int cw_call_cursor_decode(const char *s, int64_t *before, struct cw_verr *e)
{
	char buf[32], *end;
	long long v;
	int n;

	*before = 0;
	if (!s)
		return 0;
	n = cw_b64url_decode(s, strlen(s), buf, sizeof(buf) - 1);
	if (n <= 0)
		return fail(e, "cursor: not a cursor this server issued");
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (*end || errno || v <= 0 || buf[0] == '+' || buf[0] == '-' || buf[0] == ' ')
		return fail(e, "cursor: not a cursor this server issued");
	*before = v;
	return 0;
}

void cw_call_cursor_encode(int64_t id, char out[32])
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)id);

	cw_b64url_encode(buf, (size_t)n, out);
}
