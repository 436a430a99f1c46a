/* events: what the workers tell the control plane (peers connected, failed or gone, and
 * dominant speakers). A worker gathers a loop turn's events without a lock, then publishes
 * them into its bounded ring under its event lock and wakes the control plane once; any
 * thread takes them with cw_sfu_poll_events. */
#include <string.h>

#include "sfu/worker.h"
#include "util/util.h"

static struct cw_sfu_event *pending_slot(struct cw_sfu_worker *w)
{
	struct cw_sfu_event *ev;

	/* More events in one turn than the buffer holds: publish early (rare). */
	if (w->n_pending == CW_SFU_EVENTS_PENDING)
		cw_sfu_events_flush(w);
	ev = &w->pending[w->n_pending++];
	memset(ev, 0, sizeof(*ev));
	ev->worker = w->index;
	return ev;
}

void cw_sfu_event_peer(struct cw_sfu_worker *w, struct cw_sfu_peer *p, enum cw_sfu_event_kind kind)
{
	struct cw_sfu_event *ev;

	/* A peer ends once: a failed handshake is not also "gone" when its consent expires. */
	if (kind == CW_SFU_EV_FAILED || kind == CW_SFU_EV_GONE) {
		if (p->ended)
			return;
		p->ended = true;
	}
	ev = pending_slot(w);
	ev->kind = kind;
	cw_strlcpy(ev->ufrag, p->ufrag, sizeof(ev->ufrag));
	cw_strlcpy(ev->room, p->room_id, sizeof(ev->room));
	cw_strlcpy(ev->participant, p->participant, sizeof(ev->participant));
}

void cw_sfu_event_speaker(struct cw_sfu_worker *w, const struct cw_sfu_room *r)
{
	struct cw_sfu_event *ev = pending_slot(w);

	ev->kind = CW_SFU_EV_SPEAKER;
	cw_strlcpy(ev->room, r->id, sizeof(ev->room));
	cw_strlcpy(ev->participant, r->speaker, sizeof(ev->participant));
}

void cw_sfu_events_flush(struct cw_sfu_worker *w)
{
	uint64_t dropped = 0;

	if (w->n_pending == 0)
		return;
	pthread_mutex_lock(&w->ev_lock);
	for (unsigned i = 0; i < w->n_pending; i++) {
		struct cw_sfu_qevent *q;
		/* A control plane that does not poll loses the oldest, not the newest. */
		if (w->ev_n == CW_SFU_EVENTS_MAX) {
			w->ev_head = (w->ev_head + 1) % CW_SFU_EVENTS_MAX;
			w->ev_n--;
			dropped++;
		}
		q = &w->events[(w->ev_head + w->ev_n) % CW_SFU_EVENTS_MAX];
		q->seq = atomic_fetch_add(&w->sfu->event_seq, 1);
		q->ev = w->pending[i];
		w->ev_n++;
	}
	pthread_mutex_unlock(&w->ev_lock);
	w->n_pending = 0;
	if (dropped) {
		cw_sfu_count(&w->n.events_dropped, dropped);
		cw_warn("sfu.events", "worker=%d dropped=%llu err=\"event queue full\"", w->index,
			(unsigned long long)dropped);
	}
	if (w->sfu->wake)
		w->sfu->wake(w->sfu->wake_arg);
}

size_t cw_sfu_poll_events(struct cw_sfu *sfu, struct cw_sfu_event *out, size_t max)
{
	size_t n = 0;

	/* Every ring at once (always in index order), so that events leave in the order they
	 * were published across workers. */
	for (int i = 0; i < sfu->n_workers; i++)
		pthread_mutex_lock(&sfu->workers[i]->ev_lock);
	while (n < max) {
		struct cw_sfu_worker *best = NULL;
		for (int i = 0; i < sfu->n_workers; i++) {
			struct cw_sfu_worker *w = sfu->workers[i];
			if (w->ev_n &&
			    (!best || w->events[w->ev_head].seq < best->events[best->ev_head].seq))
				best = w;
		}
		if (!best)
			break;
		out[n++] = best->events[best->ev_head].ev;
		best->ev_head = (best->ev_head + 1) % CW_SFU_EVENTS_MAX;
		best->ev_n--;
	}
	for (int i = sfu->n_workers - 1; i >= 0; i--)
		pthread_mutex_unlock(&sfu->workers[i]->ev_lock);
	return n;
}
