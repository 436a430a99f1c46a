/* dtls_peer: a peer's DTLS-SRTP handshake on its worker: datagrams in from the selected
 * address, flights out through the send batch, retransmissions on the worker's clock, and
 * the SRTP session keyed from the handshake. */
#include <string.h>

#include "sfu/worker.h"
#include "util/util.h"

void cw_sfu_hs_link(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	if (p->handshaking)
		return;
	p->handshaking = true;
	p->hs_prev = NULL;
	p->hs_next = w->handshaking;
	if (w->handshaking)
		w->handshaking->hs_prev = p;
	w->handshaking = p;
}

void cw_sfu_hs_unlink(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	if (!p->handshaking)
		return;
	if (p->hs_prev)
		p->hs_prev->hs_next = p->hs_next;
	else
		w->handshaking = p->hs_next;
	if (p->hs_next)
		p->hs_next->hs_prev = p->hs_prev;
	p->hs_prev = p->hs_next = NULL;
	p->handshaking = false;
}

void cw_sfu_dtls_flush(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	if (!p->dtls)
		return;
	/* Until a check selected an address the flight waits in the endpoint's queue; a dead
	 * peer gets nothing (RFC 7675). */
	while (p->selected && !p->dead) {
		uint8_t *slot = cw_sfu_tx_slot(w);
		int n = cw_dtls_output(p->dtls, slot, CW_SFU_DGRAM_MAX);
		if (n == 0)
			break;
		if (n > 0)
			cw_sfu_tx_commit(w, (size_t)n, &p->addr);
	}
}

/* The handshake failed or was abandoned: the endpoint goes, and DTLS or SRTP from the peer
 * is dropped as not ready from now on. */
static void give_up(struct cw_sfu_worker *w, struct cw_sfu_peer *p, const char *why)
{
	cw_sfu_count(&w->n.dtls_failed, 1);
	cw_warn("sfu.dtls", "worker=%d ufrag=%s room=%s result=failed err=\"%s\"", w->index,
		p->ufrag, p->room_id, why);
	cw_sfu_hs_unlink(w, p);
	cw_dtls_free(p->dtls);
	p->dtls = NULL;
	cw_srtp_free(p->srtp);
	p->srtp = NULL;
	cw_sfu_event_peer(w, p, CW_SFU_EV_FAILED);
}

/* Acts on the endpoint's state after input or a timeout. */
static void settle(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	struct cw_srtp_keys keys;
	enum cw_dtls_state st = cw_dtls_state(p->dtls);
	int err;

	if (st == CW_DTLS_HANDSHAKING)
		return;
	if (st == CW_DTLS_FAILED) {
		give_up(w, p, cw_dtls_error_detail(p->dtls));
		return;
	}
	if (st == CW_DTLS_CLOSED) {
		/* close_notify: the peer ended the association, and its media with it. */
		cw_sfu_hs_unlink(w, p);
		cw_srtp_free(p->srtp);
		p->srtp = NULL;
		if (!p->ended)
			cw_info("sfu.dtls", "worker=%d ufrag=%s room=%s result=closed", w->index,
				p->ufrag, p->room_id);
		cw_sfu_event_peer(w, p, CW_SFU_EV_GONE);
		return;
	}
	if (p->srtp)
		return;
	cw_sfu_hs_unlink(w, p);
	/* Once per peer: the session is allocated here, not per packet. */
	err = cw_dtls_srtp_keys(p->dtls, &keys);
	if (!err)
		err = cw_srtp_new(&p->srtp, &keys);
	memset(&keys, 0, sizeof(keys));
	if (err) {
		give_up(w, p, cw_srtp_strerror(err));
		return;
	}
	cw_sfu_count(&w->n.dtls_connected, 1);
	cw_info("sfu.dtls", "worker=%d ufrag=%s room=%s result=connected profile=%s", w->index,
		p->ufrag, p->room_id, cw_srtp_profile_name(cw_srtp_profile(p->srtp)));
	cw_sfu_event_peer(w, p, CW_SFU_EV_CONNECTED);
	/* A new subscriber can decode nothing before a keyframe; not every receiver asks
	 * for one (aiortc does not), so the publishers it now hears are asked for it. */
	if (p->dir != CW_SFU_PUBLISH && p->room) {
		int64_t now = cw_sfu_now_ms();
		for (size_t i = 0; i < p->room->n; i++) {
			struct cw_sfu_peer *m = p->room->members[i];
			if (m != p && strcmp(m->participant, p->participant) != 0)
				cw_sfu_request_keyframes(w, m, now);
		}
	}
}

void cw_sfu_dtls_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, const uint8_t *buf,
		       size_t len, int64_t now)
{
	if (!p->dtls) {
		cw_sfu_count(&w->n.dropped_not_ready, 1);
		return;
	}
	cw_dtls_input(p->dtls, buf, len, now);
	/* Send first: after a failure the queue may hold the fatal alert. */
	cw_sfu_dtls_flush(w, p);
	settle(w, p);
}

int64_t cw_sfu_dtls_timers(struct cw_sfu_worker *w, int64_t now)
{
	int64_t next = CW_DTLS_NO_TIMEOUT;
	struct cw_sfu_peer *p = w->handshaking, *pnext;

	for (; p; p = pnext) {
		pnext = p->hs_next; /* p may leave the list */
		if (cw_dtls_pending_ms(p->dtls, now) > CW_SFU_HANDSHAKE_TIMEOUT_MS) {
			give_up(w, p, "the handshake did not complete in time");
			continue;
		}
		int64_t due = cw_dtls_next_timeout(p->dtls, now);
		if (due <= now) {
			cw_dtls_handle_timeout(p->dtls, now);
			cw_sfu_dtls_flush(w, p);
			settle(w, p);
			if (!p->handshaking)
				continue;
			due = cw_dtls_next_timeout(p->dtls, now);
		}
		if (due < next)
			next = due;
	}
	return next;
}
