/* room: a worker's peers as members of rooms: joining and leaving (on the command path,
 * where all allocation happens), the address a peer's checks select, and consent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/worker.h"
#include "util/util.h"

static struct cw_sfu_room *room_get(struct cw_sfu_worker *w, const char *id)
{
	struct cw_sfu_room *r;

	for (r = w->rooms; r; r = r->next) {
		if (strcmp(r->id, id) == 0)
			return r;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	cw_strlcpy(r->id, id, sizeof(r->id));
	r->next = w->rooms;
	w->rooms = r;
	return r;
}

static void room_free_if_empty(struct cw_sfu_worker *w, struct cw_sfu_room *r)
{
	struct cw_sfu_room **pp;

	if (r->n)
		return;
	for (pp = &w->rooms; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = r->next;
	free(r->members);
	free(r);
}

static int room_join(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	struct cw_sfu_room *r = room_get(w, p->room_id);

	if (!r)
		return -ENOMEM;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct cw_sfu_peer **m = realloc(r->members, cap * sizeof(*m));
		if (!m) {
			room_free_if_empty(w, r);
			return -ENOMEM;
		}
		r->members = m;
		r->cap = cap;
	}
	p->room = r;
	p->room_index = r->n;
	r->members[r->n++] = p;
	return 0;
}

static void room_leave(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	struct cw_sfu_room *r = p->room;

	if (!r)
		return;
	/* The last member takes the leaver's place: order within a room does not matter. */
	r->members[p->room_index] = r->members[--r->n];
	r->members[p->room_index]->room_index = p->room_index;
	p->room = NULL;
	room_free_if_empty(w, r);
}

void cw_sfu_peer_free(struct cw_sfu_peer *p)
{
	if (!p)
		return;
	cw_dtls_free(p->dtls);
	cw_srtp_free(p->srtp);
	cw_sfu_pub_free(p->pub);
	free(p);
}

int cw_sfu_peer_attach(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	int err;

	/* Room for every peer's address, so that a check never has to grow the table. */
	err = cw_sfu_addrs_reserve(&w->addrs, w->peers.count + 1);
	if (err)
		return err;
	err = cw_sfu_peers_add(&w->peers, p);
	if (err)
		return err;
	if (p->room_id[0]) {
		err = room_join(w, p);
		if (err) {
			cw_sfu_peers_remove(&w->peers, p->ufrag);
			return err;
		}
	}
	if (p->dtls)
		cw_sfu_hs_link(w, p);
	return 0;
}

void cw_sfu_peer_detach(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	room_leave(w, p);
	cw_sfu_addrs_del(&w->addrs, p);
	cw_sfu_hs_unlink(w, p);
	cw_sfu_peer_free(p);
}

void cw_sfu_peer_select(struct cw_sfu_worker *w, struct cw_sfu_peer *p,
			const struct sockaddr_storage *from)
{
	bool first = !p->selected;

	if (p->selected && p->mapped && cw_stun_addr_equal(&p->addr, from))
		return;
	cw_sfu_addrs_del(&w->addrs, p);
	p->addr = *from;
	p->selected = true;
	cw_sfu_addrs_put(&w->addrs, p);
	/* As the DTLS client, our ClientHello has waited for an address. */
	if (first && p->dtls)
		cw_sfu_dtls_flush(w, p);
}

int64_t cw_sfu_consent_scan(struct cw_sfu_worker *w, int64_t now)
{
	for (size_t i = 0; i < w->peers.cap; i++) {
		struct cw_sfu_peer *p = w->peers.slots[i];
		if (!p || !p->selected || p->dead || now - p->last_check_ms < w->consent_timeout_ms)
			continue;
		/* RFC 7675 §5.1: without consent nothing more is sent to the peer; the control
		 * plane hears of it and removes it. */
		p->dead = true;
		cw_sfu_count(&w->n.consent_expired, 1);
		cw_info("sfu.consent", "worker=%d ufrag=%s room=%s result=expired", w->index,
			p->ufrag, p->room_id);
		cw_sfu_event_peer(w, p, CW_SFU_EV_GONE);
	}
	return now + CW_SFU_CONSENT_SCAN_MS;
}

void cw_sfu_rooms_free(struct cw_sfu_worker *w)
{
	for (size_t i = 0; i < w->peers.cap; i++)
		cw_sfu_peer_free(w->peers.slots[i]);
	cw_sfu_peers_free(&w->peers);
	cw_sfu_addrs_free(&w->addrs);
	while (w->rooms) {
		struct cw_sfu_room *next = w->rooms->next;
		free(w->rooms->members);
		free(w->rooms);
		w->rooms = next;
	}
	w->handshaking = NULL;
}
