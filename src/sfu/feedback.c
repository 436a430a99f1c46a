/* feedback: RTCP on a worker. Subscribers' keyframe requests go to the publisher of the
 * media SSRC alone, rate-limited per track; their NACKs are answered from the retransmission
 * cache of the publisher's track, audio or video; publishers' sender reports go on to their
 * subscribers (SSRCs are not rewritten, so they stay valid). The worker's own PLIs and REMBs
 * are made here too. Everything else (receiver reports, SDES, BYE, REMB and transport-cc of
 * subscribers) is consumed. */
#include <string.h>

#include "rtc/rtcp.h"
#include "sfu/worker.h"

/* A subscriber asked ssrc for a keyframe with pkt (a PLI or a FIR), sent on unchanged
 * (reduced-size RTCP, RFC 5506) unless the track had one within CW_SFU_PLI_INTERVAL_MS. */
static void keyframe_request(struct cw_sfu_worker *w, struct cw_sfu_peer *sub, uint32_t ssrc,
			     const struct cw_rtcp *pkt, int64_t now)
{
	struct cw_sfu_peer *publisher;
	struct cw_sfu_track *t = cw_sfu_track_find(sub, ssrc, &publisher);

	if (!t || !cw_sfu_peer_receives(publisher))
		return;
	if (now - t->last_pli_ms < CW_SFU_PLI_INTERVAL_MS) {
		cw_sfu_count(&w->n.pli_rate_limited, 1);
		return;
	}
	t->last_pli_ms = now;
	if (cw_sfu_send_protected(w, publisher, pkt->buf, pkt->len, true))
		cw_sfu_count(&w->n.rtcp_forwarded, 1);
}

struct nack_ctx {
	struct cw_sfu_worker *w;
	struct cw_sfu_peer *sub;
	const struct cw_sfu_track *t; /* NULL: an SSRC of nobody's, nothing to answer */
	unsigned answered;
};

static int answer_nack(uint16_t seq, void *arg)
{
	struct nack_ctx *c = arg;
	const uint8_t *pkt;
	size_t len;

	cw_sfu_count(&c->w->n.nack_received, 1);
	if (!c->t || c->answered == CW_SFU_NACK_ANSWER_MAX)
		return 0;
	pkt = cw_sfu_rtx_find(c->t, seq, &len);
	/* The same bytes under the same index as the first time: cw_srtp_protect allows the
	 * repeat, and no keystream is reused for other content. */
	if (pkt && cw_sfu_send_protected(c->w, c->sub, pkt, len, false)) {
		c->answered++;
		cw_sfu_count(&c->w->n.rtp_retransmitted, 1);
	}
	return 0;
}

/* Sends pkt on to every subscriber of the publisher `from`. */
static void forward_sr(struct cw_sfu_worker *w, struct cw_sfu_peer *from, const struct cw_rtcp *pkt)
{
	struct cw_sfu_room *r = from->room;

	for (size_t i = 0; i < r->n; i++) {
		struct cw_sfu_peer *to = r->members[i];
		if (cw_sfu_forwards(from, to))
			cw_sfu_send_protected(w, to, pkt->buf, pkt->len, true);
	}
}

void cw_sfu_rtcp_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, const uint8_t *buf,
		       size_t len, int64_t now)
{
	bool publishes = p->dir != CW_SFU_SUBSCRIBE, subscribes = p->dir != CW_SFU_PUBLISH;
	struct cw_rtcp_fir_entry e;
	struct cw_rtcp_iter it;
	struct cw_rtcp_fir fir;
	struct cw_rtcp_fb fb;
	struct cw_rtcp pkt;

	if (cw_rtcp_validate(buf, len) != 0) {
		cw_sfu_count(&w->n.dropped_unknown, 1);
		return;
	}
	cw_rtcp_iter_init(&it, buf, len);
	while (cw_rtcp_next(&it, &pkt) == 1) {
		switch (cw_rtcp_kind(&pkt)) {
		case CW_RTCP_KIND_SR:
			if (publishes)
				forward_sr(w, p, &pkt);
			break;
		case CW_RTCP_KIND_PLI:
			if (subscribes && cw_rtcp_fb_parse(&pkt, &fb) == 0)
				keyframe_request(w, p, fb.media_ssrc, &pkt, now);
			break;
		case CW_RTCP_KIND_FIR:
			/* The targets are in the entries (the media SSRC field is 0). */
			if (!subscribes || cw_rtcp_fb_parse(&pkt, &fb) != 0 ||
			    cw_rtcp_fir_parse(&fb, &fir) != 0)
				break;
			for (size_t i = 0; cw_rtcp_fir_entry(&fir, i, &e) == 0; i++)
				keyframe_request(w, p, e.ssrc, &pkt, now);
			break;
		case CW_RTCP_KIND_NACK: {
			struct nack_ctx c = {.w = w, .sub = p};
			struct cw_sfu_peer *publisher;
			if (!subscribes || cw_rtcp_fb_parse(&pkt, &fb) != 0)
				break;
			c.t = cw_sfu_track_find(p, fb.media_ssrc, &publisher);
			cw_rtcp_nack_foreach(&fb, answer_nack, &c);
			break;
		}
		default:
			break;
		}
	}
}

void cw_sfu_request_keyframes(struct cw_sfu_worker *w, struct cw_sfu_peer *p, int64_t now)
{
	uint8_t buf[64];
	size_t len;

	if (!p->pub || !cw_sfu_peer_receives(p))
		return;
	for (int i = 0; i < CW_SFU_TRACKS_MAX; i++) {
		struct cw_sfu_track *t = &p->pub->tracks[i];
		if (!t->used || t->kind != CW_SFU_KIND_VIDEO ||
		    cw_rtcp_build_pli(buf, sizeof(buf), &len, CW_SFU_RTCP_SSRC, t->ssrc) != 0)
			continue;
		t->last_pli_ms = now;
		cw_sfu_send_protected(w, p, buf, len, true);
	}
}

/* The bitrate every video publisher may use: a fixed ceiling (no estimate of our own yet),
 * so that browsers do not stay at their cautious start rate. */
static void send_remb(struct cw_sfu_worker *w, struct cw_sfu_peer *p)
{
	uint32_t ssrcs[CW_SFU_TRACKS_MAX];
	uint8_t buf[64];
	size_t n = 0, len;

	for (int i = 0; i < CW_SFU_TRACKS_MAX; i++) {
		if (p->pub->tracks[i].used && p->pub->tracks[i].kind == CW_SFU_KIND_VIDEO)
			ssrcs[n++] = p->pub->tracks[i].ssrc;
	}
	if (n == 0 || cw_rtcp_build_remb(buf, sizeof(buf), &len, CW_SFU_RTCP_SSRC, w->sfu->remb_bps,
					 ssrcs, n) != 0)
		return;
	if (cw_sfu_send_protected(w, p, buf, len, true))
		cw_sfu_count(&w->n.remb_sent, 1);
}

void cw_sfu_remb_scan(struct cw_sfu_worker *w, int64_t now)
{
	for (size_t i = 0; i < w->peers.cap; i++) {
		struct cw_sfu_peer *p = w->peers.slots[i];
		if (!p || !p->pub)
			continue;
		cw_sfu_tracks_expire(p, now);
		if (cw_sfu_peer_receives(p))
			send_remb(w, p);
	}
}
