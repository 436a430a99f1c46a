/* call: the call, user and page objects built from the server's JSON, and their accessors. */
#include <stdlib.h>
#include <string.h>

#include "sdk.h"

static const char *str_of(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* A time: an integer, or 0 for null or anything else. */
static int64_t ms_of(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static double num_of(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

static int enum_of(json_t *obj, const char *key, const char *const *names, size_t n)
{
	return cw__parse_enum(str_of(obj, key), names, n);
}

static void call_free(cw_call *call)
{
	free(call->parts);
	free(call->metadata);
	json_decref(call->obj);
	free(call);
}

static int parse_parts(cw_call *call, json_t *list)
{
	json_t *p;
	size_t i;

	if (!json_is_array(list))
		return CW_ERR_PROTOCOL;
	call->n_parts = json_array_size(list);
	if (call->n_parts == 0)
		return 0;
	call->parts = calloc(call->n_parts, sizeof(*call->parts));
	if (!call->parts)
		return CW_ERR_NO_MEMORY;
	json_array_foreach (list, i, p) {
		struct cw__participant *cp = &call->parts[i];
		int state = enum_of(p, "state", cw__part_state_names, 7);

		cp->uid = str_of(p, "uid");
		if (!cp->uid || state < 0)
			return CW_ERR_PROTOCOL;
		cp->state = (cw_participant_state)state;
		cp->joined_at = ms_of(p, "joinedAt");
		cp->left_at = ms_of(p, "leftAt");
		cp->duration = num_of(p, "duration");
	}
	return 0;
}

int cw__call_from_json(cw_call **callp, json_t *obj)
{
	static const char *const types[] = {"audio", "video"};
	static const char *const receivers[] = {"user", "group"};
	static const char *const categories[] = {"call", "meet"};
	cw_call *call;
	json_t *initiator, *receiver, *meta;
	int type, rtype, category, status, err;

	*callp = NULL;
	if (!json_is_object(obj))
		return CW_ERR_PROTOCOL;
	call = calloc(1, sizeof(*call));
	if (!call)
		return CW_ERR_NO_MEMORY;
	atomic_init(&call->refs, 1);
	call->obj = json_incref(obj);
	initiator = json_object_get(obj, "initiator");
	receiver = json_object_get(obj, "receiver");
	type = enum_of(obj, "type", types, 2);
	rtype = enum_of(obj, "receiverType", receivers, 2);
	category = enum_of(obj, "category", categories, 2);
	status = enum_of(obj, "status", cw__status_names, 7);
	call->session_id = str_of(obj, "sessionId");
	call->initiator_uid = str_of(initiator, "uid");
	call->initiator_name = str_of(initiator, "name");
	call->receiver_id = str_of(receiver, rtype == CW_RECEIVER_GROUP ? "guid" : "uid");
	call->receiver_name = str_of(receiver, "name");
	err = CW_ERR_PROTOCOL;
	if (!call->session_id || !call->initiator_uid || !call->receiver_id || type < 0 ||
	    rtype < 0 || category < 0 || status < 0)
		goto out;
	if (!call->initiator_name)
		call->initiator_name = call->initiator_uid;
	if (!call->receiver_name)
		call->receiver_name = call->receiver_id;
	call->type = (cw_call_type)type;
	call->receiver_type = (cw_receiver_type)rtype;
	call->category = (cw_call_category)category;
	call->status = (cw_call_status)status;
	call->initiated_at = ms_of(obj, "initiatedAt");
	call->joined_at = ms_of(obj, "joinedAt");
	call->ended_at = ms_of(obj, "endedAt");
	call->duration = num_of(obj, "duration");
	meta = json_object_get(obj, "metadata");
	call->metadata = json_is_object(meta) ? json_dumps(meta, JSON_COMPACT) : strdup("{}");
	err = call->metadata ? parse_parts(call, json_object_get(obj, "participants"))
			     : CW_ERR_NO_MEMORY;
out:
	if (err) {
		call_free(call);
		return err;
	}
	*callp = call;
	return 0;
}

int cw__call_find(const cw_call *call, const char *uid)
{
	for (size_t i = 0; uid && i < call->n_parts; i++) {
		if (strcmp(call->parts[i].uid, uid) == 0)
			return (int)i;
	}
	return -1;
}

cw_call *cw_call_ref(cw_call *call)
{
	if (call)
		atomic_fetch_add(&call->refs, 1);
	return call;
}

void cw_call_unref(cw_call *call)
{
	if (call && atomic_fetch_sub(&call->refs, 1) == 1)
		call_free(call);
}

const char *cw_call_get_session_id(const cw_call *call)
{
	return call ? call->session_id : NULL;
}

cw_call_category cw_call_get_category(const cw_call *call)
{
	return call ? call->category : CW_CATEGORY_CALL;
}

cw_call_type cw_call_get_type(const cw_call *call)
{
	return call ? call->type : CW_CALL_AUDIO;
}

cw_receiver_type cw_call_get_receiver_type(const cw_call *call)
{
	return call ? call->receiver_type : CW_RECEIVER_USER;
}

const char *cw_call_get_initiator_uid(const cw_call *call)
{
	return call ? call->initiator_uid : NULL;
}

const char *cw_call_get_initiator_name(const cw_call *call)
{
	return call ? call->initiator_name : NULL;
}

const char *cw_call_get_receiver_id(const cw_call *call)
{
	return call ? call->receiver_id : NULL;
}

const char *cw_call_get_receiver_name(const cw_call *call)
{
	return call ? call->receiver_name : NULL;
}

cw_call_status cw_call_get_status(const cw_call *call)
{
	return call ? call->status : CW_STATUS_ENDED;
}

int64_t cw_call_get_initiated_at(const cw_call *call)
{
	return call ? call->initiated_at : 0;
}

int64_t cw_call_get_joined_at(const cw_call *call)
{
	return call ? call->joined_at : 0;
}

int64_t cw_call_get_ended_at(const cw_call *call)
{
	return call ? call->ended_at : 0;
}

double cw_call_get_duration(const cw_call *call)
{
	return call ? call->duration : 0.0;
}

const char *cw_call_get_metadata(const cw_call *call)
{
	return call ? call->metadata : NULL;
}

bool cw_call_is_active(const cw_call *call)
{
	return call && (call->status == CW_STATUS_INITIATED || call->status == CW_STATUS_ONGOING);
}

size_t cw_call_get_participant_count(const cw_call *call)
{
	return call ? call->n_parts : 0;
}

static const struct cw__participant *part_at(const cw_call *call, size_t i)
{
	return call && i < call->n_parts ? &call->parts[i] : NULL;
}

const char *cw_call_get_participant_uid(const cw_call *call, size_t i)
{
	const struct cw__participant *p = part_at(call, i);

	return p ? p->uid : NULL;
}

int cw_call_get_participant_state(const cw_call *call, size_t i)
{
	const struct cw__participant *p = part_at(call, i);

	return p ? (int)p->state : -1;
}

int64_t cw_call_get_participant_joined_at(const cw_call *call, size_t i)
{
	const struct cw__participant *p = part_at(call, i);

	return p ? p->joined_at : 0;
}

int64_t cw_call_get_participant_left_at(const cw_call *call, size_t i)
{
	const struct cw__participant *p = part_at(call, i);

	return p ? p->left_at : 0;
}

double cw_call_get_participant_duration(const cw_call *call, size_t i)
{
	const struct cw__participant *p = part_at(call, i);

	return p ? p->duration : 0.0;
}

char *cw_call_to_json(const cw_call *call)
{
	return call ? json_dumps(call->obj, JSON_COMPACT) : NULL;
}

/* ---- users ---- */

static void user_free(cw_user *user)
{
	free(user->uid);
	free(user->name);
	free(user->avatar);
	free(user);
}

int cw__user_from_json(cw_user **userp, json_t *obj)
{
	const char *uid = str_of(obj, "uid"), *name = str_of(obj, "name");
	const char *avatar = str_of(obj, "avatar");
	cw_user *user;

	*userp = NULL;
	if (!uid)
		return CW_ERR_PROTOCOL;
	user = calloc(1, sizeof(*user));
	if (!user)
		return CW_ERR_NO_MEMORY;
	atomic_init(&user->refs, 1);
	user->uid = strdup(uid);
	user->name = strdup(name ? name : uid);
	user->avatar = cw__strdup(avatar);
	if (!user->uid || !user->name || (avatar && !user->avatar)) {
		user_free(user);
		return CW_ERR_NO_MEMORY;
	}
	*userp = user;
	return 0;
}

json_t *cw__user_to_json(const cw_user *user)
{
	return json_pack("{s:s,s:s,s:s?}", "uid", user->uid, "name", user->name, "avatar",
			 user->avatar);
}

cw_user *cw_user_ref(cw_user *user)
{
	if (user)
		atomic_fetch_add(&user->refs, 1);
	return user;
}

void cw_user_unref(cw_user *user)
{
	if (user && atomic_fetch_sub(&user->refs, 1) == 1)
		user_free(user);
}

const char *cw_user_get_uid(const cw_user *user)
{
	return user ? user->uid : NULL;
}

const char *cw_user_get_name(const cw_user *user)
{
	return user ? user->name : NULL;
}

const char *cw_user_get_avatar(const cw_user *user)
{
	return user ? user->avatar : NULL;
}

/* ---- pages ---- */

cw_call_page *cw__page_ref(cw_call_page *page)
{
	if (page)
		atomic_fetch_add(&page->refs, 1);
	return page;
}

size_t cw_call_page_count(const cw_call_page *page)
{
	return page ? page->n : 0;
}

cw_call *cw_call_page_get(const cw_call_page *page, size_t i)
{
	return page && i < page->n ? page->calls[i] : NULL;
}

void cw_call_page_free(cw_call_page *page)
{
	if (!page || atomic_fetch_sub(&page->refs, 1) != 1)
		return;
	for (size_t i = 0; i < page->n; i++)
		cw_call_unref(page->calls[i]);
	free(page->calls);
	free(page);
}
