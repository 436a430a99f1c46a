/* forward: SRTP and SRTCP from a peer, decrypted once and re-protected for every other
 * connected peer of its room, straight into the worker's send batch. No allocation. */
#include <string.h>

#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "sfu/worker.h"

static void count_srtp_error(struct cw_sfu_worker *w, int err)
{
	if (err == CW_SRTP_E_AUTH)
		cw_sfu_count(&w->n.srtp_auth_failed, 1);
	else if (err == CW_SRTP_E_REPLAY || err == CW_SRTP_E_REPLAY_OLD)
		cw_sfu_count(&w->n.srtp_replayed, 1);
	else
		cw_sfu_count(&w->n.dropped_unknown, 1); /* not RTP/RTCP, or libsrtp failed */
}

/* Whether `to` may receive media: keyed, reachable and still consenting. */
static bool receives(const struct cw_sfu_peer *to)
{
	return to->srtp && to->selected && !to->dead;
}

/* Copies the plain packet into a send slot, protects it there with to's outbound context
 * (the slot has CW_SRTP_TRAILER_MAX bytes of room past any datagram) and queues it. */
static bool send_protected(struct cw_sfu_worker *w, struct cw_sfu_peer *to, const uint8_t *plain,
			   size_t len, bool rtcp)
{
	uint8_t *slot = cw_sfu_tx_slot(w);
	int n;

	memcpy(slot, plain, len);
	n = rtcp ? cw_srtp_protect_rtcp(to->srtp, slot, len, CW_SFU_TX_SLOT)
		 : cw_srtp_protect(to->srtp, slot, len, CW_SFU_TX_SLOT);
	if (n < 0)
		return false;
	cw_sfu_tx_commit(w, (size_t)n, &to->addr);
	return true;
}

static void forward_rtp(struct cw_sfu_worker *w, struct cw_sfu_peer *from, const uint8_t *pkt,
			size_t len)
{
	struct cw_sfu_room *r = from->room;
	uint64_t sent = 0;

	/* Every other peer gets every packet, unchanged (see sfu.h for what is missing:
	 * subscriptions, SSRC rewriting, layer selection). */
	for (size_t i = 0; i < r->n; i++) {
		struct cw_sfu_peer *to = r->members[i];
		if (to != from && receives(to) && send_protected(w, to, pkt, len, false))
			sent++;
	}
	cw_sfu_count(&w->n.rtp_forwarded, sent);
}

/* RTCP from a peer: keyframe requests (PLI, FIR) go on to the other peers of the room so
 * that the publisher of the media SSRC hears them. Still missing (sfu.h): routing by
 * media SSRC to its publisher alone, rate limiting, SSRC rewriting, answering NACK from a
 * retransmission cache, our own reports and bandwidth feedback; everything else in the
 * compound is consumed here. */
static void rtcp_input(struct cw_sfu_worker *w, struct cw_sfu_peer *from, const uint8_t *buf,
		       size_t len)
{
	struct cw_sfu_room *r = from->room;
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	uint64_t sent = 0;

	if (cw_rtcp_validate(buf, len) != 0) {
		cw_sfu_count(&w->n.dropped_unknown, 1);
		return;
	}
	cw_rtcp_iter_init(&it, buf, len);
	while (cw_rtcp_next(&it, &pkt) == 1) {
		enum cw_rtcp_kind kind = cw_rtcp_kind(&pkt);
		if (kind != CW_RTCP_KIND_PLI && kind != CW_RTCP_KIND_FIR)
			continue;
		/* Alone in its packet: reduced-size RTCP (RFC 5506), which browsers accept. */
		for (size_t i = 0; i < r->n; i++) {
			struct cw_sfu_peer *to = r->members[i];
			if (to != from && receives(to) &&
			    send_protected(w, to, pkt.buf, pkt.len, true))
				sent++;
		}
	}
	cw_sfu_count(&w->n.rtcp_forwarded, sent);
}

void cw_sfu_media_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, uint8_t *buf, size_t len)
{
	enum cw_rtp_demux kind = cw_rtp_demux(buf, len);
	int n;

	/* A peer that lost consent neither receives nor sends: its media may be spoofed. */
	if (!p->srtp || !p->room || p->dead) {
		cw_sfu_count(&w->n.dropped_not_ready, 1);
		return;
	}
	if (kind == CW_RTP_DEMUX_RTCP) {
		n = cw_srtp_unprotect_rtcp(p->srtp, buf, len);
		if (n < 0)
			count_srtp_error(w, n);
		else
			rtcp_input(w, p, buf, (size_t)n);
	} else {
		n = cw_srtp_unprotect(p->srtp, buf, len);
		if (n < 0)
			count_srtp_error(w, n);
		else
			forward_rtp(w, p, buf, (size_t)n);
	}
}
