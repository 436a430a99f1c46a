/* store: backend selection, dispatch and the free functions of store.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

void cw_settings_default(struct cw_settings *s)
{
	s->auth_key_login = true;
	s->ring_timeout = 45;
	s->auto_busy = true;
	s->reconnect_grace = 30;
	s->idle_timeout = 300;
	s->max_participants = 50;
	s->call_rate_limit = 30;
}

int cw_store_open(struct cw_store **sp, const char *url)
{
	if (strncmp(url, "sqlite:", 7) == 0)
		url += 7;
	if (!*url)
		return -EINVAL;
	return cw_store_sqlite_open(sp, url);
}

void cw_store_close(struct cw_store *s)
{
	if (s)
		s->ops->close(s);
}

void cw_app_free(struct cw_app *app)
{
	if (!app)
		return;
	free(app->name);
	app->name = NULL;
}

void cw_user_free(struct cw_user *user)
{
	if (!user)
		return;
	free(user->name);
	free(user->avatar);
	free(user->metadata);
	user->name = user->avatar = user->metadata = NULL;
}

void cw_group_free(struct cw_group *group)
{
	if (!group)
		return;
	free(group->name);
	free(group->members);
	group->name = NULL;
	group->members = NULL;
	group->n_members = 0;
}

void cw_call_record_free(struct cw_call_record *rec)
{
	if (!rec)
		return;
	cw_call_free(&rec->call);
	free(rec->metadata);
	free(rec->initiator_name);
	free(rec->receiver_name);
	rec->metadata = rec->initiator_name = rec->receiver_name = NULL;
}

void cw_call_records_free(struct cw_call_record *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cw_call_record_free(&recs[i]);
	free(recs);
}

void cw_event_records_free(struct cw_event_record *evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(evs[i].body);
	free(evs);
}

void cw_apps_free(struct cw_app *apps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cw_app_free(&apps[i]);
	free(apps);
}

void cw_users_free(struct cw_user *users, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cw_user_free(&users[i]);
	free(users);
}

void cw_groups_free(struct cw_group *groups, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cw_group_free(&groups[i]);
	free(groups);
}

int cw_store_app_create(struct cw_store *s, const struct cw_app *app)
{
	return s->ops->app_create(s, app);
}

int cw_store_app_get(struct cw_store *s, const char *app_id, struct cw_app *out)
{
	return s->ops->app_get(s, app_id, out);
}

int cw_store_app_find_by_rest_key(struct cw_store *s, const char *hash, struct cw_app *out)
{
	return s->ops->app_find_by_rest_key(s, hash, out);
}

int cw_store_app_set_settings(struct cw_store *s, const char *app_id,
			      const struct cw_settings *settings)
{
	return s->ops->app_set_settings(s, app_id, settings);
}

int cw_store_app_list(struct cw_store *s, const char *after, size_t limit, struct cw_app **out,
		      size_t *n, bool *more)
{
	return s->ops->app_list(s, after, limit, out, n, more);
}

int cw_store_user_create(struct cw_store *s, const char *app_id, const struct cw_user *user)
{
	return s->ops->user_create(s, app_id, user);
}

int cw_store_user_get(struct cw_store *s, const char *app_id, const char *uid, struct cw_user *out)
{
	return s->ops->user_get(s, app_id, uid, out);
}

int cw_store_user_update(struct cw_store *s, const char *app_id, const struct cw_user *user,
			 unsigned fields)
{
	return s->ops->user_update(s, app_id, user, fields);
}

int cw_store_user_delete(struct cw_store *s, const char *app_id, const char *uid)
{
	return s->ops->user_delete(s, app_id, uid);
}

int cw_store_user_list(struct cw_store *s, const char *app_id, const char *after, size_t limit,
		       struct cw_user **out, size_t *n, bool *more)
{
	return s->ops->user_list(s, app_id, after, limit, out, n, more);
}

int cw_store_group_create(struct cw_store *s, const char *app_id, const struct cw_group *group,
			  size_t *bad)
{
	return s->ops->group_create(s, app_id, group, bad);
}

int cw_store_group_get(struct cw_store *s, const char *app_id, const char *guid,
		       struct cw_group *out)
{
	return s->ops->group_get(s, app_id, guid, out);
}

int cw_store_group_delete(struct cw_store *s, const char *app_id, const char *guid)
{
	return s->ops->group_delete(s, app_id, guid);
}

int cw_store_group_list(struct cw_store *s, const char *app_id, const char *member,
			const char *after, size_t limit, struct cw_group **out, size_t *n,
			bool *more)
{
	return s->ops->group_list(s, app_id, member, after, limit, out, n, more);
}

int cw_store_group_add_members(struct cw_store *s, const char *app_id, const char *guid,
			       const char (*uids)[CW_UID_MAX + 1], size_t n, size_t *bad)
{
	return s->ops->group_add_members(s, app_id, guid, uids, n, bad);
}

int cw_store_group_remove_member(struct cw_store *s, const char *app_id, const char *guid,
				 const char *uid)
{
	return s->ops->group_remove_member(s, app_id, guid, uid);
}

int cw_store_token_add(struct cw_store *s, const char *hash, const struct cw_token *token)
{
	return s->ops->token_add(s, hash, token);
}

int cw_store_token_find(struct cw_store *s, const char *hash, int64_t now, struct cw_token *out)
{
	return s->ops->token_find(s, hash, now, out);
}

int cw_store_token_revoke(struct cw_store *s, const char *hash)
{
	return s->ops->token_revoke(s, hash);
}

int cw_store_token_revoke_user(struct cw_store *s, const char *app_id, const char *uid,
			       size_t *count)
{
	return s->ops->token_revoke_user(s, app_id, uid, count);
}

int cw_store_call_create(struct cw_store *s, struct cw_call_record *rec)
{
	return s->ops->call_create(s, rec);
}

int cw_store_call_update(struct cw_store *s, const struct cw_call_record *rec)
{
	return s->ops->call_update(s, rec);
}

int cw_store_call_get(struct cw_store *s, const char *app_id, const char *session_id,
		      struct cw_call_record *out)
{
	return s->ops->call_get(s, app_id, session_id, out);
}

int cw_store_call_list(struct cw_store *s, const struct cw_call_filter *f,
		       struct cw_call_record **out, size_t *n, bool *more)
{
	return s->ops->call_list(s, f, out, n, more);
}

int cw_store_call_list_active(struct cw_store *s, struct cw_call_record **out, size_t *n)
{
	return s->ops->call_list_active(s, out, n);
}

int cw_store_event_append(struct cw_store *s, const char *app_id, const char *uid, const char *body,
			  int64_t now, int64_t *seq)
{
	return s->ops->event_append(s, app_id, uid, body, now, seq);
}

int cw_store_events_after(struct cw_store *s, const char *app_id, const char *uid, int64_t after,
			  size_t limit, struct cw_event_record **out, size_t *n)
{
	return s->ops->events_after(s, app_id, uid, after, limit, out, n);
}

int cw_store_event_last_seq(struct cw_store *s, const char *app_id, const char *uid, int64_t *seq)
{
	return s->ops->event_last_seq(s, app_id, uid, seq);
}

int cw_store_events_prune(struct cw_store *s, int64_t before, size_t keep, size_t *count)
{
	return s->ops->events_prune(s, before, keep, count);
}

int cw_store_batch_begin(struct cw_store *s)
{
	return s->ops->batch_begin(s);
}

int cw_store_batch_commit(struct cw_store *s)
{
	return s->ops->batch_commit(s);
}

void cw_store_batch_rollback(struct cw_store *s)
{
	s->ops->batch_rollback(s);
}

bool cw_store_batch_open(struct cw_store *s)
{
	return s->ops->batch_open(s);
}
