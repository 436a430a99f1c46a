/* peers: a worker's ufrag -> peer table. Lookups run per packet and allocate nothing;
 * growing happens when a peer is added, on the command path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/worker.h"

#define INITIAL_CAP 64

/* FNV-1a over the ufrag's bytes. */
static size_t hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return (size_t)h;
}

struct cw_sfu_peer *cw_sfu_peers_find(const struct cw_sfu_peers *t, const char *ufrag, size_t len)
{
	if (t->cap == 0 || len == 0 || len > CW_SFU_UFRAG_MAX)
		return NULL;
	for (size_t i = hash(ufrag, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct cw_sfu_peer *p = t->slots[i];
		if (!p)
			return NULL;
		if (strlen(p->ufrag) == len && memcmp(p->ufrag, ufrag, len) == 0)
			return p;
	}
}

static void place(struct cw_sfu_peer **slots, size_t cap, struct cw_sfu_peer *p)
{
	size_t i = hash(p->ufrag, strlen(p->ufrag)) & (cap - 1);

	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = p;
}

static int grow(struct cw_sfu_peers *t)
{
	size_t cap = t->cap ? t->cap * 2 : INITIAL_CAP;
	struct cw_sfu_peer **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i])
			place(slots, cap, t->slots[i]);
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

int cw_sfu_peers_add(struct cw_sfu_peers *t, struct cw_sfu_peer *p)
{
	int err;

	if (cw_sfu_peers_find(t, p->ufrag, strlen(p->ufrag)))
		return -EEXIST;
	/* At most half full, so probes stay short. */
	if ((t->count + 1) * 2 > t->cap && (err = grow(t)) != 0)
		return err;
	place(t->slots, t->cap, p);
	t->count++;
	return 0;
}

void cw_sfu_peers_remove(struct cw_sfu_peers *t, const char *ufrag)
{
	size_t len = strlen(ufrag), i;

	if (t->cap == 0)
		return;
	for (i = hash(ufrag, len) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		if (strcmp(t->slots[i]->ufrag, ufrag) == 0)
			break;
	}
	if (!t->slots[i])
		return;
	free(t->slots[i]);
	t->slots[i] = NULL;
	t->count--;
	/* Re-place the rest of the cluster so that no lookup stops early. */
	for (i = (i + 1) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		struct cw_sfu_peer *p = t->slots[i];
		t->slots[i] = NULL;
		place(t->slots, t->cap, p);
	}
}

void cw_sfu_peers_free(struct cw_sfu_peers *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i]);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
