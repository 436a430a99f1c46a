/* calling: the calling extension: the session of an accepted call is made and joined by
 * itself, and left and freed when the call ends. Network thread, but for the options. */
#include <stdlib.h>
#include <string.h>

#include "session.h"

struct cw__calling {
	cw_calling_options opts; /* settings.title points at title */
	char *title;
	struct cw_session *sessions[8]; /* the extension's, joined or joining */
	/* Calls this client rang: only the device that rang joins when they are accepted. */
	char rang[8][CW__ID_MAX];
	unsigned rang_next;
};

void cw_calling_options_init(cw_calling_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	cw_session_settings_init(&o->settings);
}

static void calling_free(struct cw__calling *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < CW__ARRAY_SIZE(k->sessions); i++) {
		if (k->sessions[i])
			cw__session_unref(k->sessions[i]);
	}
	free(k->title);
	free(k);
}

int cw_client_enable_calling(cw_client *c, const cw_calling_options *o)
{
	struct cw__calling *k = NULL;

	if (!c) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "no client");
		return CW_ERR_INVALID_ARGUMENT;
	}
	if (o) {
		k = calloc(1, sizeof(*k));
		if (!k || (o->settings.title && !(k->title = strdup(o->settings.title)))) {
			free(k);
			cw__set_error(CW_ERR_NO_MEMORY, NULL);
			return CW_ERR_NO_MEMORY;
		}
		k->opts = *o;
		k->opts.settings.title = k->title;
	}
	cw__lock(c);
	if (c->calling && k) {
		/* The sessions made so far stay with the new options. */
		memcpy(k->sessions, c->calling->sessions, sizeof(k->sessions));
		memset(c->calling->sessions, 0, sizeof(c->calling->sessions));
	}
	if (c->calling && !k) {
		k = c->calling; /* kept for its sessions, with nothing more made */
		k->opts.no_auto_join = true;
		k->opts.session_created = NULL;
		cw__unlock(c);
		return 0;
	}
	struct cw__calling *old = c->calling;
	c->calling = k;
	cw__unlock(c);
	calling_free(old);
	return 0;
}

void cw__calling_free(cw_client *c)
{
	calling_free(c->calling);
	c->calling = NULL;
}

static int slot_of(struct cw__calling *k, const char *session_id)
{
	for (size_t i = 0; i < CW__ARRAY_SIZE(k->sessions); i++) {
		if (k->sessions[i] && strcmp(k->sessions[i]->id, session_id) == 0)
			return (int)i;
	}
	return -1;
}

static void joined_cb(cw_client *c, int err, const char *message, void *arg)
{
	struct cw_session *s = arg;
	cw_calling_options o = {0};

	cw__lock(c);
	if (c->calling)
		o = c->calling->opts;
	cw__unlock(c);
	if (o.session_joined)
		o.session_joined(c, s, err, message, o.arg);
}

void cw__calling_on_initiated(cw_client *c, cw_call *call)
{
	cw__lock(c);
	if (c->calling && strlen(call->session_id) < CW__ID_MAX) {
		struct cw__calling *k = c->calling;
		strcpy(k->rang[k->rang_next++ % CW__ARRAY_SIZE(k->rang)], call->session_id);
	}
	cw__unlock(c);
}

void cw__calling_on_accepted(cw_client *c, cw_call *call)
{
	struct cw__calling *k;
	cw_session_settings settings;
	cw_calling_options o;
	struct cw_session *s;
	int slot = -1;

	cw__lock(c);
	k = c->calling;
	if (k && !k->opts.no_auto_join && slot_of(k, call->session_id) < 0) {
		for (size_t i = 0; i < CW__ARRAY_SIZE(k->sessions) && slot < 0; i++) {
			if (!k->sessions[i])
				slot = (int)i;
		}
	}
	if (slot >= 0)
		o = k->opts;
	cw__unlock(c);
	if (slot < 0)
		return;
	settings = o.settings;
	if (call->type == CW_CALL_AUDIO)
		settings.audio_only = true;
	if (cw_session_new(&s, c, call->session_id, NULL, &settings) != 0)
		return;
	s->ext = true;
	cw__lock(c);
	if (c->calling == k)
		k->sessions[slot] = s;
	cw__unlock(c);
	if (o.session_created) {
		s->depth++;
		o.session_created(c, call, s, o.arg);
		s->depth--;
	}
	int err = cw_session_join(s, joined_cb, s);
	if (err && o.session_joined)
		o.session_joined(c, s, err, cw_last_error_message(), o.arg);
}

/* Takes the extension's session of session_id out of its list: the caller frees it. */
static struct cw_session *take(cw_client *c, const char *session_id, cw_calling_options *o)
{
	struct cw_session *s = NULL;
	int slot;

	cw__lock(c);
	if (c->calling && (slot = slot_of(c->calling, session_id)) >= 0) {
		s = c->calling->sessions[slot];
		c->calling->sessions[slot] = NULL;
		*o = c->calling->opts;
	}
	cw__unlock(c);
	return s;
}

static void close_session(cw_client *c, struct cw_session *s, const cw_calling_options *o)
{
	if (o->session_closed) {
		s->depth++;
		o->session_closed(c, s, o->arg);
		s->depth--;
	}
	/* The list's reference goes to cw_session_free, which leaves and unlists. */
	cw_session_free(s);
}

void cw__calling_on_event(cw_client *c, const char *name, cw_call *call)
{
	cw_calling_options o;
	struct cw_session *s;

	if (strcmp(name, "call.accepted") == 0) {
		bool mine = false;
		cw__lock(c);
		for (size_t i = 0; c->calling && i < CW__ARRAY_SIZE(c->calling->rang); i++) {
			if (strcmp(c->calling->rang[i], call->session_id) == 0) {
				c->calling->rang[i][0] = '\0';
				mine = true;
			}
		}
		cw__unlock(c);
		if (mine)
			cw__calling_on_accepted(c, call);
		return;
	}
	if (cw_call_is_active(call) || !(s = take(c, call->session_id, &o)))
		return;
	close_session(c, s, &o);
}

void cw__calling_session_ended(cw_client *c, struct cw_session *s)
{
	cw_calling_options o;

	if (take(c, s->id, &o) == s)
		close_session(c, s, &o);
}
