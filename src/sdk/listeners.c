/* listeners: call and connection listeners registered under string ids. */
#include <stdlib.h>
#include <string.h>

#include "sdk.h"

static void listener_unref(struct cw__listener *l)
{
	if (--l->refs > 0)
		return;
	free(l->id);
	free(l);
}

/* Adds l, or puts it in the place of the listener of that kind and id. */
static int listener_add(cw_client *c, enum cw__listener_kind kind, const char *id, const void *fns,
			size_t size, void *arg)
{
	struct cw__listener *l, **pp;

	if (!c || !id || !*id || !fns) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "a client, an id and a listener are needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->id = strdup(id))) {
		free(l);
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	l->refs = 1;
	l->kind = kind;
	memcpy(&l->u, fns, size);
	l->arg = arg;
	cw__lock(c);
	for (pp = &c->listeners; *pp; pp = &(*pp)->next) {
		struct cw__listener *old = *pp;
		if (old->kind == kind && strcmp(old->id, id) == 0) {
			l->next = old->next;
			old->removed = true;
			*pp = l;
			listener_unref(old);
			cw__unlock(c);
			return 0;
		}
	}
	*pp = l;
	cw__unlock(c);
	return 0;
}

static int listener_remove(cw_client *c, enum cw__listener_kind kind, const char *id)
{
	struct cw__listener **pp;

	if (!c || !id) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, NULL);
		return CW_ERR_INVALID_ARGUMENT;
	}
	cw__lock(c);
	for (pp = &c->listeners; *pp; pp = &(*pp)->next) {
		struct cw__listener *l = *pp;
		if (l->kind == kind && strcmp(l->id, id) == 0) {
			*pp = l->next;
			l->removed = true;
			listener_unref(l);
			cw__unlock(c);
			return 0;
		}
	}
	cw__unlock(c);
	cw__set_error(CW_ERR_NOT_FOUND, "no listener has that id");
	return CW_ERR_NOT_FOUND;
}

int cw_add_call_listener(cw_client *c, const char *id, const cw_call_listener *listener, void *arg)
{
	return listener_add(c, CW__L_CALL, id, listener, sizeof(*listener), arg);
}

int cw_remove_call_listener(cw_client *c, const char *id)
{
	return listener_remove(c, CW__L_CALL, id);
}

int cw_add_connection_listener(cw_client *c, const char *id, const cw_connection_listener *listener,
			       void *arg)
{
	return listener_add(c, CW__L_CONN, id, listener, sizeof(*listener), arg);
}

int cw_remove_connection_listener(cw_client *c, const char *id)
{
	return listener_remove(c, CW__L_CONN, id);
}

void cw__listeners_fire(cw_client *c, enum cw__listener_kind kind, cw__fire_fn fire, void *ctx)
{
	struct cw__listener *snap[64], **list = snap, *l;
	size_t n = 0, cap = CW__ARRAY_SIZE(snap);

	/* A snapshot, each entry held, so the callbacks run without the lock and may add or
	 * remove listeners; whether each is still registered is checked just before. */
	cw__lock(c);
	for (l = c->listeners; l; l = l->next) {
		if (l->kind != kind)
			continue;
		if (n == cap) {
			struct cw__listener **bigger = malloc(2 * cap * sizeof(*bigger));
			if (!bigger)
				break;
			memcpy(bigger, list, n * sizeof(*list));
			if (list != snap)
				free(list);
			list = bigger;
			cap *= 2;
		}
		l->refs++;
		list[n++] = l;
	}
	cw__unlock(c);
	for (size_t i = 0; i < n; i++) {
		struct cw__listener copy;
		bool live;

		cw__lock(c);
		/* Nothing fires once the client is being freed (from inside a callback). */
		live = !list[i]->removed && !c->stopping;
		copy = *list[i];
		cw__unlock(c);
		if (live)
			fire(c, &copy, ctx);
	}
	cw__lock(c);
	for (size_t i = 0; i < n; i++)
		listener_unref(list[i]);
	cw__unlock(c);
	if (list != snap)
		free(list);
}

void cw__listeners_free(cw_client *c)
{
	while (c->listeners) {
		struct cw__listener *l = c->listeners;
		c->listeners = l->next;
		listener_unref(l);
	}
}
