/* peers: a worker's ufrag -> peer and address -> peer tables. Lookups run per packet and
 * allocate nothing; growing happens when a peer is added, on the command path. */
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

struct cw_sfu_peer *cw_sfu_peers_remove(struct cw_sfu_peers *t, const char *ufrag)
{
	size_t len = strlen(ufrag), i;
	struct cw_sfu_peer *found;

	if (t->cap == 0)
		return NULL;
	for (i = hash(ufrag, len) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		if (strcmp(t->slots[i]->ufrag, ufrag) == 0)
			break;
	}
	found = t->slots[i];
	if (!found)
		return NULL;
	t->slots[i] = NULL;
	t->count--;
	/* Re-place the rest of the cluster so that no lookup stops early. */
	for (i = (i + 1) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		struct cw_sfu_peer *p = t->slots[i];
		t->slots[i] = NULL;
		place(t->slots, t->cap, p);
	}
	return found;
}

void cw_sfu_peers_free(struct cw_sfu_peers *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* ---- address -> peer ---- */

static size_t addr_hash(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		return hash((const char *)&x->sin6_addr, sizeof(x->sin6_addr)) ^
		       ((size_t)x->sin6_port * 0x9e3779b1u);
	}
	const struct sockaddr_in *x = (const void *)a;
	return hash((const char *)&x->sin_addr, sizeof(x->sin_addr)) ^
	       ((size_t)x->sin_port * 0x9e3779b1u);
}

static size_t addr_slot(const struct cw_sfu_addrs *t, const struct sockaddr_storage *a)
{
	size_t i = addr_hash(a) & (t->cap - 1);

	while (t->slots[i] && !cw_stun_addr_equal(&t->slots[i]->addr, a))
		i = (i + 1) & (t->cap - 1);
	return i;
}

struct cw_sfu_peer *cw_sfu_addrs_find(const struct cw_sfu_addrs *t,
				      const struct sockaddr_storage *addr)
{
	return t->cap ? t->slots[addr_slot(t, addr)] : NULL;
}

int cw_sfu_addrs_reserve(struct cw_sfu_addrs *t, size_t peers)
{
	size_t cap = t->cap ? t->cap : INITIAL_CAP;
	struct cw_sfu_peer **slots;

	/* At most half full, however many peers get an address. */
	while (cap < peers * 2)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct cw_sfu_peer *p = t->slots[i];
		size_t j;
		if (!p)
			continue;
		for (j = addr_hash(&p->addr) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = p;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

void cw_sfu_addrs_put(struct cw_sfu_addrs *t, struct cw_sfu_peer *p)
{
	size_t i;

	if (t->cap == 0 || (t->count + 1) * 2 > t->cap)
		return; /* not reserved: the peer stays unreachable rather than the table full */
	i = addr_slot(t, &p->addr);
	if (t->slots[i])
		t->slots[i]->mapped = false;
	else
		t->count++;
	t->slots[i] = p;
	p->mapped = true;
}

void cw_sfu_addrs_del(struct cw_sfu_addrs *t, struct cw_sfu_peer *p)
{
	size_t i;

	if (!p->mapped || t->cap == 0)
		return;
	p->mapped = false;
	i = addr_slot(t, &p->addr);
	if (t->slots[i] != p)
		return;
	t->slots[i] = NULL;
	t->count--;
	for (i = (i + 1) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		struct cw_sfu_peer *q = t->slots[i];
		size_t j;
		t->slots[i] = NULL;
		for (j = addr_hash(&q->addr) & (t->cap - 1); t->slots[j];
		     j = (j + 1) & (t->cap - 1))
			;
		t->slots[j] = q;
	}
}

void cw_sfu_addrs_free(struct cw_sfu_addrs *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
