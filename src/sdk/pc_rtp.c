/* pc_rtp: the media half of a client peer connection (pc.c): SRTP in and out, receive
 * statistics and NACK of what is missing, RTCP reports and feedback, the retransmission
 * cache that answers the server's NACKs. */
#include <stdlib.h>
#include <string.h>

#include "pc_internal.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* ---- RTCP out ---- */

static struct pc_send *find_send(struct cw__pc *pc, uint32_t ssrc)
{
	for (int i = 0; i < PC_SEND_MAX; i++) {
		if (pc->send[i].clock_rate && pc->send[i].ssrc == ssrc)
			return &pc->send[i];
	}
	return NULL;
}

static struct pc_recv *find_recv(struct cw__pc *pc, uint32_t ssrc)
{
	for (int i = 0; i < PC_RECV_MAX; i++) {
		if (pc->recv[i].clock_rate && pc->recv[i].ssrc == ssrc)
			return &pc->recv[i];
	}
	return NULL;
}

/* The SSRC our RTCP comes from: the first we send, or our own when we send nothing. */
static uint32_t sender_ssrc(const struct cw__pc *pc)
{
	for (int i = 0; i < PC_SEND_MAX; i++) {
		if (pc->send[i].clock_rate)
			return pc->send[i].ssrc;
	}
	return pc->rtcp_ssrc;
}

static void send_rtcp(struct cw__pc *pc, uint8_t *buf, size_t len)
{
	int n = cw_srtp_protect_rtcp(pc->srtp, buf, len, PC_RTCP_MAX + CW_SRTP_TRAILER_MAX);

	if (n > 0)
		cw__pc_send_to(pc, buf, (size_t)n, cw__pc_selected_addr(pc));
}

/* An empty RR and our SDES: what must lead a compound of feedback (RFC 4585 §3.1 without
 * reduced size). Returns the length written. */
static size_t compound_head(struct cw__pc *pc, uint8_t *buf, size_t cap)
{
	size_t a = 0, b = 0;
	uint32_t ssrc = sender_ssrc(pc);

	if (cw_rtcp_build_rr(buf, cap, &a, ssrc, NULL, 0) != 0 ||
	    cw_rtcp_build_sdes_cname(buf + a, cap - a, &b, ssrc, pc->cname, strlen(pc->cname)) != 0)
		return 0;
	return a + b;
}

/* The once-a-second compound: an SR per sending SSRC (the first carries the report blocks of
 * what we receive), or an RR when we send nothing, then our SDES. */
static void send_reports(struct cw__pc *pc, int64_t now_ms)
{
	struct cw_rtcp_report_block blocks[CW_RTCP_REPORT_BLOCKS_MAX];
	uint8_t buf[PC_RTCP_MAX + CW_SRTP_TRAILER_MAX];
	uint64_t ntp = cw__pc_ntp_now(pc, now_ms);
	size_t nb = 0, len = 0, n;
	bool blocks_sent = false;

	for (int i = 0; i < PC_RECV_MAX && nb < CW_RTCP_REPORT_BLOCKS_MAX; i++) {
		if (pc->recv[i].clock_rate && pc->recv[i].started)
			cw_rtcp_rx_report(&pc->recv[i].rx, now_ms * 1000, &blocks[nb++]);
	}
	for (int i = 0; i < PC_SEND_MAX; i++) {
		struct pc_send *s = &pc->send[i];
		struct cw_rtcp_sender_info si = {
			.ntp = ntp, .packets = s->packets, .octets = s->octets};
		if (!s->clock_rate || !s->packets)
			continue;
		/* The RTP time of now, extrapolated from the last packet on its clock. */
		si.rtp_ts = s->last_ts + (uint32_t)((now_ms - s->last_ms) * s->clock_rate / 1000);
		if (cw_rtcp_build_sr(buf + len, PC_RTCP_MAX - len, &n, s->ssrc, &si,
				     blocks_sent ? NULL : blocks, blocks_sent ? 0 : nb) != 0)
			break;
		len += n;
		blocks_sent = true;
	}
	if (!blocks_sent) {
		if (cw_rtcp_build_rr(buf, PC_RTCP_MAX, &len, sender_ssrc(pc), blocks, nb) != 0)
			return;
	}
	if (cw_rtcp_build_sdes_cname(buf + len, PC_RTCP_MAX - len, &n, sender_ssrc(pc), pc->cname,
				     strlen(pc->cname)) == 0)
		len += n;
	send_rtcp(pc, buf, len);
}

/* ---- NACK of what we receive ---- */

static int64_t nack_interval(const struct cw__pc *pc)
{
	if (pc->st.rtt_ms < 0)
		return PC_NACK_NORTT_MS;
	return pc->st.rtt_ms > PC_NACK_MIN_MS ? pc->st.rtt_ms : PC_NACK_MIN_MS;
}

static void miss_remove(struct pc_recv *r, unsigned i)
{
	memmove(&r->miss[i], &r->miss[i + 1], (r->nmiss - i - 1) * sizeof(r->miss[0]));
	r->nmiss--;
}

/* Sends one NACK with every missing number of r that is due, and gives up on those asked
 * PC_NACK_TRIES times already. Returns when the next one is due. */
static int64_t nack_run(struct cw__pc *pc, struct pc_recv *r, int64_t now_ms)
{
	uint8_t buf[PC_RTCP_MAX + CW_SRTP_TRAILER_MAX];
	uint16_t seqs[PC_MISSING_MAX];
	int64_t next = PC_NEVER;
	size_t n = 0, head, len;

	for (unsigned i = 0; i < r->nmiss;) {
		struct pc_missing *m = &r->miss[i];
		if (m->next_ms > now_ms) {
			next = m->next_ms < next ? m->next_ms : next;
			i++;
			continue;
		}
		if (m->tries >= PC_NACK_TRIES) {
			pc->st.lost++;
			miss_remove(r, i);
			continue;
		}
		if (m->tries++ == 0)
			pc->st.nack_seqs++;
		m->next_ms = now_ms + nack_interval(pc);
		next = m->next_ms < next ? m->next_ms : next;
		seqs[n++] = m->seq;
		i++;
	}
	if (n == 0 || !cw__pc_media_ready(pc))
		return next;
	head = compound_head(pc, buf, PC_RTCP_MAX);
	if (head && cw_rtcp_build_nack(buf + head, PC_RTCP_MAX - head, &len, sender_ssrc(pc),
				       r->ssrc, seqs, n) == 0) {
		send_rtcp(pc, buf, head + len);
		pc->st.nack_sent++;
	}
	return next;
}

/* Notes seq of r: a gap makes missing numbers (asked for at once), an old one may fill a
 * hole. */
static void track_seq(struct cw__pc *pc, struct pc_recv *r, uint16_t seq, int64_t now_ms)
{
	int32_t d;

	if (!r->started) {
		r->started = true;
		r->highest = seq;
		return;
	}
	d = cw_rtp_seq_diff(seq, r->highest);
	if (d > PC_GAP_MAX || d < -PC_GAP_MAX) {
		/* The sender restarted its numbering: what was missing will not come. */
		pc->st.lost += r->nmiss;
		r->nmiss = 0;
		r->highest = seq;
		return;
	}
	if (d <= 0) {
		for (unsigned i = 0; i < r->nmiss; i++) {
			if (r->miss[i].seq == seq) {
				if (r->miss[i].tries)
					pc->st.recovered++;
				miss_remove(r, i);
				break;
			}
		}
		return;
	}
	for (uint16_t s = (uint16_t)(r->highest + 1); s != seq && r->nack; s++) {
		if (r->nmiss == PC_MISSING_MAX) {
			pc->st.lost++;
			miss_remove(r, 0);
		}
		r->miss[r->nmiss++] = (struct pc_missing){.seq = s, .next_ms = now_ms};
	}
	r->highest = seq;
	if (r->nmiss)
		nack_run(pc, r, now_ms);
}

/* ---- media in ---- */

void cw__pc_rtp_in(struct cw__pc *pc, uint8_t *buf, size_t len, int64_t now_ms)
{
	struct cw_rtp rtp;
	struct pc_recv *r;
	int n;

	if (pc->drop_per_mille && xorshift32(&pc->drop_state) % 1000 < pc->drop_per_mille) {
		pc->st.dropped_by_test++;
		return;
	}
	n = cw_srtp_unprotect(pc->srtp, buf, len);
	if (n < 0) {
		pc->st.srtp_errors++;
		return;
	}
	if (cw_rtp_parse(&rtp, buf, (size_t)n) != 0 || !(r = find_recv(pc, rtp.ssrc))) {
		pc->st.dropped++;
		return;
	}
	pc->st.packets_received++;
	pc->st.bytes_received += (uint64_t)n;
	cw_rtcp_rx_packet(&r->rx, rtp.seq, rtp.ts, now_ms * 1000);
	track_seq(pc, r, rtp.seq, now_ms);
	if (pc->par.cb.rtp)
		pc->par.cb.rtp(pc, buf, (size_t)n, now_ms, pc->par.arg);
}

static void report_blocks(struct cw__pc *pc, const struct cw_rtcp_report *rep, int64_t now_ms)
{
	struct cw_rtcp_report_block rb;
	int64_t rtt_us;

	for (unsigned i = 0; cw_rtcp_report_block(rep, i, &rb) == 0; i++) {
		if (find_send(pc, rb.ssrc) &&
		    cw_rtcp_rtt_us(cw_rtcp_ntp_mid(cw__pc_ntp_now(pc, now_ms)), rb.lsr, rb.dlsr,
				   &rtt_us) == 0)
			cw__pc_update_rtt(pc, rtt_us / 1000);
	}
}

struct nack_answer {
	struct cw__pc *pc;
	struct pc_send *s;
	int64_t now_ms;
	unsigned answered;
};

/* Sends the cached packet of seq again, the same bytes as the first time. */
static int answer_nack(uint16_t seq, void *arg)
{
	struct nack_answer *a = arg;
	struct pc_slot *slot = &a->s->cache[seq % a->s->slots];

	if (a->answered == PC_NACK_ANSWER_MAX)
		return 1;
	if (slot->len && slot->seq == seq && a->now_ms - slot->ms <= PC_CACHE_MS) {
		cw__pc_send_to(a->pc, slot->data, slot->len, cw__pc_selected_addr(a->pc));
		a->pc->st.retransmitted++;
		a->answered++;
	}
	return 0;
}

static void feedback(struct cw__pc *pc, enum cw__pc_feedback fb, uint32_t ssrc)
{
	if (fb == CW__PC_PLI)
		pc->st.pli_received++;
	else
		pc->st.fir_received++;
	if (pc->par.cb.feedback)
		pc->par.cb.feedback(pc, fb, ssrc, pc->par.arg);
}

void cw__pc_rtcp_in(struct cw__pc *pc, uint8_t *buf, size_t len, int64_t now_ms)
{
	struct cw_rtcp_report rep;
	struct cw_rtcp_fir_entry e;
	struct cw_rtcp_iter it;
	struct cw_rtcp_fir fir;
	struct cw_rtcp_fb fb;
	struct cw_rtcp pkt;
	struct pc_recv *r;
	struct pc_send *s;
	int n = cw_srtp_unprotect_rtcp(pc->srtp, buf, len);

	if (n < 0) {
		pc->st.srtp_errors++;
		return;
	}
	if (cw_rtcp_validate(buf, (size_t)n) != 0) {
		pc->st.dropped++;
		return;
	}
	cw_rtcp_iter_init(&it, buf, (size_t)n);
	while (cw_rtcp_next(&it, &pkt) == 1 && cw__pc_media_ready(pc)) {
		switch (cw_rtcp_kind(&pkt)) {
		case CW_RTCP_KIND_SR:
			if (cw_rtcp_sr_parse(&pkt, &rep) != 0)
				break;
			if ((r = find_recv(pc, rep.ssrc)))
				cw_rtcp_rx_sr(&r->rx, rep.si.ntp, now_ms * 1000);
			report_blocks(pc, &rep, now_ms);
			break;
		case CW_RTCP_KIND_RR:
			if (cw_rtcp_rr_parse(&pkt, &rep) == 0)
				report_blocks(pc, &rep, now_ms);
			break;
		case CW_RTCP_KIND_PLI:
			if (cw_rtcp_fb_parse(&pkt, &fb) == 0 && find_send(pc, fb.media_ssrc))
				feedback(pc, CW__PC_PLI, fb.media_ssrc);
			break;
		case CW_RTCP_KIND_FIR:
			if (cw_rtcp_fb_parse(&pkt, &fb) != 0 || cw_rtcp_fir_parse(&fb, &fir) != 0)
				break;
			for (size_t i = 0; cw_rtcp_fir_entry(&fir, i, &e) == 0; i++) {
				if (find_send(pc, e.ssrc))
					feedback(pc, CW__PC_FIR, e.ssrc);
			}
			break;
		case CW_RTCP_KIND_NACK:
			if (cw_rtcp_fb_parse(&pkt, &fb) == 0 &&
			    (s = find_send(pc, fb.media_ssrc))) {
				struct nack_answer a = {.pc = pc, .s = s, .now_ms = now_ms};
				cw_rtcp_nack_foreach(&fb, answer_nack, &a);
			}
			break;
		default: /* REMB, SDES, BYE, transport-cc: nothing we act on */
			break;
		}
	}
}

int64_t cw__pc_media_timer(struct cw__pc *pc, int64_t now_ms, int64_t next)
{
	int64_t t;

	if (now_ms >= pc->rtcp_next_ms) {
		send_reports(pc, now_ms);
		pc->rtcp_next_ms = now_ms + PC_RTCP_MS;
	}
	next = pc->rtcp_next_ms < next ? pc->rtcp_next_ms : next;
	for (int i = 0; i < PC_RECV_MAX; i++) {
		if (pc->recv[i].clock_rate && pc->recv[i].nmiss) {
			t = nack_run(pc, &pc->recv[i], now_ms);
			next = t < next ? t : next;
		}
	}
	return next;
}

int cw__pc_add_send_ssrc(struct cw__pc *pc, uint32_t ssrc, uint32_t clock_rate)
{
	struct pc_send *s = find_send(pc, ssrc);

	if (!clock_rate) {
		/* Forgotten: its reports stop and NACKs for it go unanswered. */
		if (s) {
			free(s->cache);
			memset(s, 0, sizeof(*s));
		}
		return 0;
	}
	if (s) {
		s->clock_rate = clock_rate;
		return 0;
	}
	for (int i = 0; i < PC_SEND_MAX && !s; i++) {
		if (!pc->send[i].clock_rate)
			s = &pc->send[i];
	}
	if (!s)
		return CW_ERR_INVALID_ARGUMENT;
	s->slots = clock_rate <= CW__AUDIO_RATE ? PC_CACHE_SLOTS_AUDIO : PC_CACHE_SLOTS;
	s->cache = calloc(s->slots, sizeof(*s->cache));
	if (!s->cache)
		return CW_ERR_NO_MEMORY;
	s->ssrc = ssrc;
	s->clock_rate = clock_rate;
	return 0;
}

int cw__pc_add_recv_ssrc(struct cw__pc *pc, uint32_t ssrc, uint32_t clock_rate, bool nack)
{
	struct pc_recv *r = find_recv(pc, ssrc);

	if (!clock_rate) {
		if (r) {
			pc->st.lost += r->nmiss;
			memset(r, 0, sizeof(*r));
		}
		return 0;
	}
	if (r) {
		r->clock_rate = r->rx.clock_rate = clock_rate;
		r->nack = nack;
		if (!nack)
			r->nmiss = 0;
		return 0;
	}
	for (int i = 0; i < PC_RECV_MAX && !r; i++) {
		if (!pc->recv[i].clock_rate)
			r = &pc->recv[i];
	}
	if (!r)
		return CW_ERR_INVALID_ARGUMENT;
	memset(r, 0, sizeof(*r));
	r->ssrc = ssrc;
	r->clock_rate = clock_rate;
	r->nack = nack;
	cw_rtcp_rx_init(&r->rx, ssrc, clock_rate);
	return 0;
}

int cw__pc_send_rtp(struct cw__pc *pc, uint8_t *pkt, size_t len, size_t cap, int64_t now_ms)
{
	struct pc_slot *slot;
	struct pc_send *s;
	struct cw_rtp rtp;
	int n;

	if (!cw__pc_media_ready(pc))
		return CW_ERR_INVALID_STATE;
	if (cw_rtp_parse(&rtp, pkt, len) != 0 || !(s = find_send(pc, rtp.ssrc)))
		return CW_ERR_INVALID_ARGUMENT;
	s->packets++;
	s->octets += (uint32_t)rtp.payload_len;
	s->last_ts = rtp.ts;
	s->last_ms = now_ms;
	n = cw_srtp_protect(pc->srtp, pkt, len, cap);
	if (n < 0)
		return n == -ENOMEM ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
	pc->st.packets_sent++;
	pc->st.bytes_sent += len;
	/* The protected bytes are kept and sent again verbatim for a NACK: what protecting
	 * the same packet under the same index again would make, without the work. */
	slot = &s->cache[rtp.seq % s->slots];
	slot->len = 0;
	if ((size_t)n <= PC_SLOT_BYTES) {
		memcpy(slot->data, pkt, (size_t)n);
		slot->len = (uint16_t)n;
		slot->seq = rtp.seq;
		slot->ms = now_ms;
	}
	cw__pc_send_to(pc, pkt, (size_t)n, cw__pc_selected_addr(pc));
	return 0;
}

int cw__pc_request_keyframe(struct cw__pc *pc, uint32_t ssrc)
{
	uint8_t buf[PC_RTCP_MAX + CW_SRTP_TRAILER_MAX];
	size_t head, len;

	if (!cw__pc_media_ready(pc))
		return CW_ERR_INVALID_STATE;
	head = compound_head(pc, buf, PC_RTCP_MAX);
	if (!head ||
	    cw_rtcp_build_pli(buf + head, PC_RTCP_MAX - head, &len, sender_ssrc(pc), ssrc) != 0)
		return CW_ERR_INVALID_ARGUMENT;
	send_rtcp(pc, buf, head + len);
	pc->st.pli_sent++;
	return 0;
}

void cw__pc_set_rx_drop(struct cw__pc *pc, unsigned per_mille, uint32_t seed)
{
	pc->drop_per_mille = per_mille > 1000 ? 1000 : per_mille;
	/* xorshift's state must not be zero. */
	pc->drop_state = seed ? seed : 0x9e3779b9u;
}
