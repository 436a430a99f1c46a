/* libFuzzer target: arbitrary bytes as an RTCP compound, every parser and a rebuild of it. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "rtc/rtcp.h"

/* A broken invariant is a crash, so libFuzzer keeps the input. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define NACK_MAX 256
#define TWCC_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[2048];
static struct cw_rtcp_twcc_status statuses[TWCC_MAX];

static bool block_eq(const struct cw_rtcp_report_block *a, const struct cw_rtcp_report_block *b)
{
	return a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost &&
	       a->cumulative_lost == b->cumulative_lost && a->ext_high_seq == b->ext_high_seq &&
	       a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr;
}

/* Parses out[0..len) as one packet. */
static void reparse(size_t len, struct cw_rtcp *pkt)
{
	struct cw_rtcp_iter it;

	CHECK(cw_rtcp_validate(out, len) == 0);
	cw_rtcp_iter_init(&it, out, len);
	CHECK(cw_rtcp_next(&it, pkt) == 1 && pkt->len == len);
}

static void check_report(const struct cw_rtcp *pkt)
{
	struct cw_rtcp_report rep, rep2;
	struct cw_rtcp_report_block rb[CW_RTCP_REPORT_BLOCKS_MAX], rb2;
	struct cw_rtcp copy;
	size_t len;
	bool sr = pkt->pt == CW_RTCP_SR;
	int err = sr ? cw_rtcp_sr_parse(pkt, &rep) : cw_rtcp_rr_parse(pkt, &rep);

	if (err)
		return;
	for (unsigned i = 0; i < rep.n_blocks; i++)
		CHECK(cw_rtcp_report_block(&rep, i, &rb[i]) == 0);
	CHECK(cw_rtcp_report_block(&rep, rep.n_blocks, &rb2) == -ENOENT);
	err = sr ? cw_rtcp_build_sr(out, sizeof(out), &len, rep.ssrc, &rep.si, rb, rep.n_blocks)
		 : cw_rtcp_build_rr(out, sizeof(out), &len, rep.ssrc, rb, rep.n_blocks);
	CHECK(err == 0);
	reparse(len, &copy);
	CHECK((sr ? cw_rtcp_sr_parse(&copy, &rep2) : cw_rtcp_rr_parse(&copy, &rep2)) == 0);
	CHECK(rep2.ssrc == rep.ssrc && rep2.n_blocks == rep.n_blocks);
	CHECK(!sr || (rep2.si.ntp == rep.si.ntp && rep2.si.rtp_ts == rep.si.rtp_ts &&
		      rep2.si.packets == rep.si.packets && rep2.si.octets == rep.si.octets));
	for (unsigned i = 0; i < rep.n_blocks; i++) {
		CHECK(cw_rtcp_report_block(&rep2, i, &rb2) == 0);
		CHECK(block_eq(&rb[i], &rb2));
	}
}

static void check_sdes(const struct cw_rtcp *pkt)
{
	struct cw_rtcp_sdes_iter it, it2;
	struct cw_rtcp_sdes_chunk c, c2;
	struct cw_rtcp copy;
	size_t len;

	CHECK(cw_rtcp_sdes_iter_init(&it, pkt) == 0);
	while (cw_rtcp_sdes_next(&it, &c) > 0) {
		CHECK(c.cname == NULL ||
		      ((const uint8_t *)c.cname >= pkt->body &&
		       (const uint8_t *)c.cname + c.cname_len <= pkt->body + pkt->body_len));
		if (!c.cname || c.cname_len == 0)
			continue;
		CHECK(cw_rtcp_build_sdes_cname(out, sizeof(out), &len, c.ssrc, c.cname,
					       c.cname_len) == 0);
		reparse(len, &copy);
		CHECK(cw_rtcp_sdes_iter_init(&it2, &copy) == 0);
		CHECK(cw_rtcp_sdes_next(&it2, &c2) == 1);
		CHECK(c2.ssrc == c.ssrc && c2.cname_len == c.cname_len);
		CHECK(memcmp(c2.cname, c.cname, c.cname_len) == 0);
	}
}

static void sort_unique(uint16_t *v, size_t *n)
{
	size_t i, j, m = 0;

	for (i = 1; i < *n; i++) {
		uint16_t x = v[i];

		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	for (i = 0; i < *n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	*n = m;
}

static void check_nack(const struct cw_rtcp_fb *fb)
{
	uint16_t seqs[NACK_MAX], again[NACK_MAX];
	size_t n, n2, len;
	struct cw_rtcp copy;
	struct cw_rtcp_fb fb2;

	if (cw_rtcp_nack_expand(fb, seqs, NACK_MAX, &n) != 0)
		return;
	CHECK(n >= 1);
	CHECK(cw_rtcp_build_nack(out, sizeof(out), &len, fb->sender_ssrc, fb->media_ssrc, seqs,
				 n) == 0);
	reparse(len, &copy);
	CHECK(cw_rtcp_fb_parse(&copy, &fb2) == 0);
	CHECK(cw_rtcp_nack_expand(&fb2, again, NACK_MAX, &n2) == 0);
	/* The same set of losses, perhaps packed into fewer pairs. */
	sort_unique(seqs, &n);
	sort_unique(again, &n2);
	CHECK(n == n2 && memcmp(seqs, again, n * sizeof(uint16_t)) == 0);
}

static void check_feedback(const struct cw_rtcp *pkt)
{
	struct cw_rtcp_fb fb, fb2;
	struct cw_rtcp_fir fir;
	struct cw_rtcp_fir_entry e;
	struct cw_rtcp_remb remb, remb2;
	struct cw_rtcp_twcc tw;
	struct cw_rtcp copy;
	size_t n, len;

	if (cw_rtcp_fb_parse(pkt, &fb) != 0)
		return;
	check_nack(&fb);
	if (cw_rtcp_fir_parse(&fb, &fir) == 0) {
		for (size_t i = 0; i < fir.n_entries; i++)
			CHECK(cw_rtcp_fir_entry(&fir, i, &e) == 0);
		CHECK(cw_rtcp_fir_entry(&fir, fir.n_entries, &e) == -ENOENT);
	}
	if (cw_rtcp_remb_parse(&fb, &remb) == 0) {
		uint32_t ssrcs[255];

		for (unsigned i = 0; i < remb.n_ssrcs; i++)
			ssrcs[i] = cw_rtcp_remb_ssrc(&remb, i);
		CHECK(cw_rtcp_build_remb(out, sizeof(out), &len, fb.sender_ssrc, remb.bitrate,
					 ssrcs, remb.n_ssrcs) == 0);
		reparse(len, &copy);
		CHECK(cw_rtcp_kind(&copy) == CW_RTCP_KIND_REMB);
		CHECK(cw_rtcp_fb_parse(&copy, &fb2) == 0 && cw_rtcp_remb_parse(&fb2, &remb2) == 0);
		CHECK(remb2.bitrate <= remb.bitrate && remb2.n_ssrcs == remb.n_ssrcs);
		CHECK(remb.bitrate == UINT64_MAX || remb2.bitrate == remb.bitrate);
	}
	if (cw_rtcp_twcc_parse(&fb, &tw, statuses, TWCC_MAX, &n) == 0 || n == TWCC_MAX) {
		for (size_t i = 0; i < n; i++) {
			CHECK(statuses[i].seq == (uint16_t)(tw.base_seq + i));
			CHECK(statuses[i].received || statuses[i].delta_us == 0);
		}
	}
}

static void check_bye(const struct cw_rtcp *pkt)
{
	struct cw_rtcp_bye bye, bye2;
	struct cw_rtcp copy;
	uint32_t ssrcs[31];
	size_t len;

	if (cw_rtcp_bye_parse(pkt, &bye) != 0 || bye.count == 0)
		return;
	CHECK(!bye.reason ||
	      ((const uint8_t *)bye.reason + bye.reason_len <= pkt->body + pkt->body_len));
	for (unsigned i = 0; i < bye.count; i++)
		ssrcs[i] = cw_rtcp_bye_ssrc(&bye, i);
	CHECK(cw_rtcp_build_bye(out, sizeof(out), &len, ssrcs, bye.count) == 0);
	reparse(len, &copy);
	CHECK(cw_rtcp_bye_parse(&copy, &bye2) == 0 && bye2.count == bye.count);
	CHECK(memcmp(bye2.ssrcs, bye.ssrcs, 4u * bye.count) == 0);
}

/* The receive statistics on a stream of (seq, timestamp, arrival) records. */
static void check_rx_stats(const uint8_t *data, size_t size)
{
	struct cw_rtcp_rx_stats s;
	struct cw_rtcp_report_block rb;
	size_t i;

	if (size < 4)
		return;
	cw_rtcp_rx_init(&s, 1, (uint32_t)data[0] * 1000 + 1);
	for (i = 4; i + 10 <= size; i += 10) {
		const uint8_t *r = data + i;
		uint32_t ts = (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | r[4] << 8 | r[5];
		uint32_t at = (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 | r[8] << 8 | r[9];

		(void)cw_rtcp_rx_packet(&s, (uint16_t)(r[0] << 8 | r[1]), ts, at);
		if (r[0] == 0xff)
			cw_rtcp_rx_sr(&s, (uint64_t)ts << 32 | at, at);
		if (r[1] == 0xff)
			cw_rtcp_rx_report(&s, at, &rb);
	}
	cw_rtcp_rx_report(&s, INT64_MAX / 2, &rb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	int valid = cw_rtcp_validate(data, size);
	int r;

	check_rx_stats(data, size);
	cw_rtcp_iter_init(&it, data, size);
	while ((r = cw_rtcp_next(&it, &pkt)) > 0) {
		CHECK(pkt.buf >= data && pkt.buf + pkt.len <= data + size);
		CHECK(pkt.body_len + 4 <= pkt.len);
		switch (cw_rtcp_kind(&pkt)) {
		case CW_RTCP_KIND_SR:
		case CW_RTCP_KIND_RR:
			check_report(&pkt);
			break;
		case CW_RTCP_KIND_SDES:
			check_sdes(&pkt);
			break;
		case CW_RTCP_KIND_BYE:
			check_bye(&pkt);
			break;
		default:
			check_feedback(&pkt);
			break;
		}
	}
	/* validate() says yes exactly when the iteration reaches the end cleanly. */
	CHECK((valid == 0) == (r == 0 && size > 0));
	return 0;
}
