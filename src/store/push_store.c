/* push_store: dispatch of push_store.h to the backend, its names and free functions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/push_store.h"
#include "util/util.h"

static const char *const platform_names[] = {
	[CW_PUSH_APNS_VOIP] = "apns_voip",
	[CW_PUSH_APNS] = "apns",
	[CW_PUSH_FCM] = "fcm",
};

const char *cw_push_platform_name(enum cw_push_platform platform)
{
	return (unsigned)platform < CW_ARRAY_SIZE(platform_names) ? platform_names[platform] : NULL;
}

int cw_push_platform_parse(const char *name, enum cw_push_platform *out)
{
	for (size_t i = 0; name && i < CW_ARRAY_SIZE(platform_names); i++) {
		if (strcmp(platform_names[i], name) == 0) {
			*out = (enum cw_push_platform)i;
			return 0;
		}
	}
	return -EINVAL;
}

void cw_push_token_free(struct cw_push_token *t)
{
	if (!t)
		return;
	free(t->token);
	t->token = NULL;
}

void cw_push_tokens_free(struct cw_push_token *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++)
		cw_push_token_free(&t[i]);
	free(t);
}

/* Frees a secret, wiping it first: freed memory is handed out again. */
static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void cw_push_config_free(struct cw_push_config *c)
{
	if (!c)
		return;
	free_secret(c->apns_key);
	free_secret(c->fcm_service_account);
	free_secret(c->webhook_secret);
	free(c->apns_team_id);
	free(c->apns_key_id);
	free(c->apns_bundle_id);
	free(c->apns_url);
	free(c->fcm_url);
	free(c->oauth_url);
	free(c->ca_file);
	free(c->webhook_urls);
	*c = (struct cw_push_config){0};
}

void cw_outbox_entry_free(struct cw_outbox_entry *e)
{
	if (!e)
		return;
	free(e->target);
	free(e->dedupe);
	free(e->payload);
	free(e->meta);
	e->target = e->dedupe = e->payload = e->meta = NULL;
}

void cw_outbox_entries_free(struct cw_outbox_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		cw_outbox_entry_free(&e[i]);
	free(e);
}

int cw_store_push_token_put(struct cw_store *s, const char *app_id, const struct cw_push_token *t)
{
	return s->ops->push->token_put(s, app_id, t);
}

int cw_store_push_token_get(struct cw_store *s, const char *app_id, enum cw_push_platform platform,
			    const char *token, struct cw_push_token *out)
{
	return s->ops->push->token_get(s, app_id, platform, token, out);
}

int cw_store_push_token_delete(struct cw_store *s, const char *app_id, const char *uid,
			       const char *token)
{
	return s->ops->push->token_delete(s, app_id, uid, token);
}

int cw_store_push_token_forget(struct cw_store *s, const char *app_id,
			       enum cw_push_platform platform, const char *token)
{
	return s->ops->push->token_forget(s, app_id, platform, token);
}

int cw_store_push_tokens_delete_device(struct cw_store *s, const char *device, size_t *count)
{
	return s->ops->push->tokens_delete_device(s, device, count);
}

int cw_store_push_tokens_delete_user(struct cw_store *s, const char *app_id, const char *uid,
				     size_t *count)
{
	return s->ops->push->tokens_delete_user(s, app_id, uid, count);
}

int cw_store_push_tokens_of(struct cw_store *s, const char *app_id, const char *uid,
			    struct cw_push_token **out, size_t *n)
{
	return s->ops->push->tokens_of(s, app_id, uid, out, n);
}

int cw_store_push_config_get(struct cw_store *s, const char *app_id, struct cw_push_config *out)
{
	return s->ops->push->config_get(s, app_id, out);
}

int cw_store_push_config_set(struct cw_store *s, const char *app_id, const struct cw_push_config *c)
{
	return s->ops->push->config_set(s, app_id, c);
}

int cw_store_outbox_add(struct cw_store *s, struct cw_outbox_entry *e)
{
	return s->ops->push->outbox_add(s, e);
}

int cw_store_outbox_due(struct cw_store *s, int64_t now, size_t limit, struct cw_outbox_entry **out,
			size_t *n)
{
	return s->ops->push->outbox_due(s, now, limit, out, n);
}

int cw_store_outbox_next_at(struct cw_store *s, int64_t *when)
{
	return s->ops->push->outbox_next_at(s, when);
}

int cw_store_outbox_retry(struct cw_store *s, int64_t id, int64_t next_at, int attempts)
{
	return s->ops->push->outbox_retry(s, id, next_at, attempts);
}

int cw_store_outbox_delete(struct cw_store *s, int64_t id)
{
	return s->ops->push->outbox_delete(s, id);
}

int cw_store_outbox_count(struct cw_store *s, int64_t *count)
{
	return s->ops->push->outbox_count(s, count);
}
