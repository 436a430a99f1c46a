/* forward: SRTP and SRTCP from a peer, decrypted once in place; a publisher's RTP is
 * rewritten by its media map, measured (audio), kept for retransmission and re-protected for
 * every subscriber of another participant straight into the worker's send batch. No
 * allocation, no lock. */
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
		cw_sfu_count(&w->n.dropped_unknown, 1); /* not RTP/RTCP, or SRTP failed */
}

bool cw_sfu_forwards(const struct cw_sfu_peer *from, const struct cw_sfu_peer *to)
{
	return to != from && from->dir != CW_SFU_SUBSCRIBE && to->dir != CW_SFU_PUBLISH &&
	       cw_sfu_peer_receives(to) && strcmp(to->participant, from->participant) != 0;
}

/* The slot has CW_SRTP_TRAILER_MAX bytes of room past any datagram. */
bool cw_sfu_send_protected(struct cw_sfu_worker *w, struct cw_sfu_peer *to, const uint8_t *plain,
			   size_t len, bool rtcp)
{
	uint8_t *slot;
	int n;

	if (len > CW_SFU_DGRAM_MAX)
		return false;
	slot = cw_sfu_tx_slot(w);
	memcpy(slot, plain, len);
	n = rtcp ? cw_srtp_protect_rtcp(to->srtp, slot, len, CW_SFU_TX_SLOT)
		 : cw_srtp_protect(to->srtp, slot, len, CW_SFU_TX_SLOT);
	if (n < 0)
		return false;
	cw_sfu_tx_commit(w, (size_t)n, &to->addr);
	return true;
}

/* The publisher's one-byte extension ids become the subscribers' (RFC 8285 §4.2); an id
 * they did not negotiate becomes 15, where receivers stop reading. Other profiles pass.
 * Returns the audio level element's byte (RFC 6464: V bit and level), or -1: it is read on
 * the way, since an element before it may now end the parsing. */
static int rewrite_ext(uint8_t *buf, const struct cw_rtp *pkt, const uint8_t *ext_map)
{
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e;
	int level = -1;

	if (pkt->ext_profile != 0xBEDE)
		return -1;
	cw_rtp_ext_iter_init(&it, pkt);
	/* The iterator reads ahead of the byte rewritten (the element's header, at off - 1). */
	while (cw_rtp_ext_next(&it, &e) == 1) {
		uint8_t id = ext_map[e.id - 1] ? ext_map[e.id - 1] : 15;
		buf[e.off - 1] = (uint8_t)(id << 4 | (buf[e.off - 1] & 0x0f));
		if (id == CW_SFU_EXT_AUDIO_LEVEL && level < 0)
			level = e.data[0];
	}
	return level;
}

static void forward_rtp(struct cw_sfu_worker *w, struct cw_sfu_peer *from, uint8_t *buf, size_t len,
			int64_t now)
{
	struct cw_sfu_pub *pub = from->pub;
	struct cw_sfu_room *r = from->room;
	uint8_t kind = CW_SFU_KIND_NONE;
	struct cw_sfu_track *t;
	struct cw_rtp pkt;
	uint64_t sent = 0;
	int level = -1;

	/* A subscribe connection sends no media of its own: nothing to forward. */
	if (!pub)
		return;
	if (cw_rtp_parse(&pkt, buf, len) != 0) {
		cw_sfu_count(&w->n.dropped_unknown, 1);
		return;
	}
	if (pub->has_map) {
		kind = pub->map.pt[pkt.pt].kind;
		if (kind == CW_SFU_KIND_NONE) {
			cw_sfu_count(&w->n.dropped_muted, 1);
			return;
		}
		cw_rtp_set_pt(buf, len, pub->map.pt[pkt.pt].to);
		level = rewrite_ext(buf, &pkt, pub->map.ext);
	}
	/* Claimed even while muted, so that resuming video finds the track to ask a keyframe
	 * of. A fifth SSRC gets no track: it is forwarded, without cache or loudness. */
	t = cw_sfu_track_get(pub, pkt.ssrc, kind, now);
	if (kind != CW_SFU_KIND_NONE && pub->muted[kind]) {
		cw_sfu_count(&w->n.dropped_muted, 1);
		return;
	}
	if (t && kind == CW_SFU_KIND_AUDIO && level >= 0)
		cw_sfu_track_level(t, level & 0x80, (uint8_t)(level & 0x7f));
	if (t)
		cw_sfu_rtx_store(t, buf, len, pkt.seq);
	for (size_t i = 0; i < r->n; i++) {
		struct cw_sfu_peer *to = r->members[i];
		if (cw_sfu_forwards(from, to) && cw_sfu_send_protected(w, to, buf, len, false))
			sent++;
	}
	cw_sfu_count(&w->n.rtp_forwarded, sent);
}

void cw_sfu_media_input(struct cw_sfu_worker *w, struct cw_sfu_peer *p, uint8_t *buf, size_t len,
			int64_t now)
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
			cw_sfu_rtcp_input(w, p, buf, (size_t)n, now);
	} else {
		n = cw_srtp_unprotect(p->srtp, buf, len);
		if (n < 0)
			count_srtp_error(w, n);
		else
			forward_rtp(w, p, buf, (size_t)n, now);
	}
}
