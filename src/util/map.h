/* map: a string-keyed hash map of pointers (chained, grows by doubling). */
#ifndef CW_MAP_H
#define CW_MAP_H

#include <stddef.h>

struct cw_map_entry;

struct cw_map {
	struct cw_map_entry **buckets;
	size_t nbuckets, count;
};

/* An empty map needs no allocation: zero-initialise it. */
void *cw_map_get(const struct cw_map *m, const char *key);
/* Inserts or replaces. Returns 0 or -ENOMEM. */
int cw_map_put(struct cw_map *m, const char *key, void *val);
/* Removes key and returns its value, or NULL. */
void *cw_map_del(struct cw_map *m, const char *key);
/* Calls fn for every entry; fn must not change the map. */
void cw_map_each(const struct cw_map *m, void (*fn)(void *ctx, const char *key, void *val),
		 void *ctx);
/* Frees the map's memory (not the values). */
void cw_map_clear(struct cw_map *m);

#endif
