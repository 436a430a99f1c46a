/* map: a string-keyed hash map of pointers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"

struct cw_map_entry {
	struct cw_map_entry *next;
	void *val;
	uint64_t hash;
	char key[];
};

/* FNV-1a: keys are short ids, and the map is not exposed to chosen-collision attacks
 * beyond what one app's own ids can do to its own latency. */
static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static struct cw_map_entry **slot(const struct cw_map *m, const char *key, uint64_t h)
{
	struct cw_map_entry **e = &m->buckets[h & (m->nbuckets - 1)];

	while (*e && ((*e)->hash != h || strcmp((*e)->key, key) != 0))
		e = &(*e)->next;
	return e;
}

void *cw_map_get(const struct cw_map *m, const char *key)
{
	struct cw_map_entry *e;

	if (!m->nbuckets)
		return NULL;
	e = *slot(m, key, hash_of(key));
	return e ? e->val : NULL;
}

static int grow(struct cw_map *m)
{
	size_t n = m->nbuckets ? 2 * m->nbuckets : 64;
	struct cw_map_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct cw_map_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return 0;
}

int cw_map_put(struct cw_map *m, const char *key, void *val)
{
	uint64_t h = hash_of(key);
	struct cw_map_entry **s, *e;
	size_t len = strlen(key);

	if (m->count >= m->nbuckets && grow(m) != 0)
		return -ENOMEM;
	s = slot(m, key, h);
	if (*s) {
		(*s)->val = val;
		return 0;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->val = val;
	e->hash = h;
	memcpy(e->key, key, len + 1);
	*s = e;
	m->count++;
	return 0;
}

void *cw_map_del(struct cw_map *m, const char *key)
{
	struct cw_map_entry **s, *e;
	void *val;

	if (!m->nbuckets)
		return NULL;
	s = slot(m, key, hash_of(key));
	e = *s;
	if (!e)
		return NULL;
	*s = e->next;
	val = e->val;
	free(e);
	m->count--;
	return val;
}

void cw_map_each(const struct cw_map *m, void (*fn)(void *ctx, const char *key, void *val),
		 void *ctx)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct cw_map_entry *e = m->buckets[i]; e; e = e->next)
			fn(ctx, e->key, e->val);
	}
}

void cw_map_clear(struct cw_map *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct cw_map_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}
