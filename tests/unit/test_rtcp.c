/* Unit tests of RTCP: compounds, reports, SDES, BYE, feedback, builders, receive statistics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rtc/rtcp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A browser's sender compound: SR with one report block, then SDES with its CNAME. */
static const uint8_t sr_sdes[] = {
	0x81, 0xc8, 0x00, 0x0c, /* V=2 RC=1, SR, 13 words */
	0x12, 0x34, 0x56, 0x78, /* sender SSRC */
	0xe7, 0x6b, 0x4f, 0x3c, /* NTP seconds */
	0x80, 0x00, 0x00, 0x00, /* NTP fraction: .5 */
	0x00, 0x0d, 0xbb, 0xa0, /* RTP timestamp 900000 */
	0x00, 0x00, 0x01, 0xf4, /* 500 packets */
	0x00, 0x01, 0x86, 0xa0, /* 100000 octets */
	0x9a, 0xbc, 0xde, 0xf0, /* report block: source */
	0x19, 0xff, 0xff, 0xfe, /* fraction 25, cumulative lost -2 */
	0x00, 0x01, 0x00, 0x05, /* extended highest seq 65541 */
	0x00, 0x00, 0x00, 0x2a, /* jitter 42 */
	0x4f, 0x3c, 0x80, 0x00, /* LSR */
	0x00, 0x01, 0x80, 0x00, /* DLSR 1.5 s */
	0x81, 0xca, 0x00, 0x06, /* SDES, SC=1, 7 words */
	0x12, 0x34, 0x56, 0x78, /* chunk source */
	0x01, 0x10, 'a',  'b',	/* CNAME, 16 bytes */
	'c',  'd',  'e',  'f',	'g', 'h', 'i',	'j',
	'k',  'l',  'm',  'n',	'o', 'p', 0x00, 0x00, /* end of items, padding */
};

/* A browser's receiver compound: RR with one block, then REMB at 1.5 Mbit/s. */
static const uint8_t rr_remb[] = {
	0x81, 0xc9, 0x00, 0x07, /* RR, RC=1 */
	0x00, 0x00, 0x00, 0x01, /* sender SSRC */
	0x12, 0x34, 0x56, 0x78, /* block source */
	0x00, 0x00, 0x00, 0x00, /* no loss */
	0x00, 0x00, 0x30, 0x39, /* highest seq 12345 */
	0x00, 0x00, 0x00, 0x10, /* jitter 16 */
	0x00, 0x00, 0x00, 0x00, /* no LSR */
	0x00, 0x00, 0x00, 0x00, /* no DLSR */
	0x8f, 0xce, 0x00, 0x05, /* PSFB FMT 15 */
	0x00, 0x00, 0x00, 0x01, /* sender */
	0x00, 0x00, 0x00, 0x00, /* media: unused */
	'R',  'E',  'M',  'B',	/* tag */
	0x01, 0x0e, 0xdc, 0x6c, /* one SSRC, exponent 3, mantissa 187500 */
	0x12, 0x34, 0x56, 0x78,
};

static const uint8_t pli[] = {0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78};

static const uint8_t fir[] = {
	0x84, 0xce, 0x00, 0x04, /* PSFB FMT 4 */
	0x00, 0x00, 0x00, 0x01, /* sender */
	0x00, 0x00, 0x00, 0x00, /* media source: unused */
	0x12, 0x34, 0x56, 0x78, /* entry: the source to refresh */
	0x07, 0x00, 0x00, 0x00, /* command sequence 7, reserved */
};

/* Generic NACK: PID 1000 + bits 0 and 2, then PID 65535 + bits 0 and 15 (wrapping). */
static const uint8_t nack[] = {
	0x81, 0xcd, 0x00, 0x04, /* RTPFB FMT 1 */
	0x00, 0x00, 0x00, 0x01, /* sender */
	0x12, 0x34, 0x56, 0x78, /* media */
	0x03, 0xe8, 0x00, 0x05, /* PID 1000, BLP bits 0 and 2 */
	0xff, 0xff, 0x80, 0x01, /* PID 65535, BLP bits 0 and 15 */
};

/* Transport-cc feedback for 27 packets from 65534, with every chunk kind, small and large
 * (negative) deltas and RTCP padding, as libwebrtc pads it. */
static const uint8_t twcc[] = {
	0xaf, 0xcd, 0x00, 0x0a, /* P=1 FMT 15, RTPFB, 11 words */
	0x00, 0x00, 0x00, 0x01, /* sender */
	0x12, 0x34, 0x56, 0x78, /* media */
	0xff, 0xfe, 0x00, 0x1b, /* base 65534, 27 packets */
	0x00, 0x00, 0x10, 0x05, /* reference time 16 (x 64 ms), feedback count 5 */
	0x20, 0x03,		/* run: 3 x small delta */
	0xac, 0x01,		/* 1-bit vector 10110000000001 */
	0xe1, 0x81,		/* 2-bit vector 2 0 1 2 0 0 1 */
	0x00, 0x03,		/* run: 3 x not received */
	0x04, 0x00, 0xff, 0x01, 0x02, 0x03, 0x08, /* small deltas */
	0xfc, 0x18,				  /* large: -1000 */
	0x10,					  /* small */
	0x13, 0x88,				  /* large: 5000 */
	0x00,					  /* small */
	0x00, 0x00, 0x03,			  /* RTCP padding */
};

static int next_ok(struct cw_rtcp_iter *it, struct cw_rtcp *pkt)
{
	int r = cw_rtcp_next(it, pkt);

	assert_int_equal(r, 1);
	return r;
}

/* Parses buf as exactly one packet and its feedback header. */
static void one_fb(const uint8_t *buf, size_t len, struct cw_rtcp *pkt, struct cw_rtcp_fb *fb)
{
	struct cw_rtcp_iter it;

	assert_int_equal(cw_rtcp_validate(buf, len), 0);
	cw_rtcp_iter_init(&it, buf, len);
	next_ok(&it, pkt);
	assert_int_equal(cw_rtcp_next(&it, pkt), 0);
	cw_rtcp_iter_init(&it, buf, len);
	next_ok(&it, pkt);
	assert_int_equal(cw_rtcp_fb_parse(pkt, fb), 0);
}

/* ---- parsing real packets ---- */

static void a_sender_report_compound_parses_field_by_field(void **state)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_report rep;
	struct cw_rtcp_report_block rb;

	(void)state;
	assert_int_equal(cw_rtcp_validate(sr_sdes, N(sr_sdes)), 0);
	cw_rtcp_iter_init(&it, sr_sdes, N(sr_sdes));
	next_ok(&it, &pkt);
	assert_int_equal(pkt.pt, CW_RTCP_SR);
	assert_int_equal(pkt.count, 1);
	assert_false(pkt.padding);
	assert_ptr_equal(pkt.buf, sr_sdes);
	assert_int_equal(pkt.len, 52);
	assert_int_equal(pkt.body_len, 48);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_SR);
	assert_int_equal(cw_rtcp_sr_parse(&pkt, &rep), 0);
	assert_true(rep.is_sr);
	assert_int_equal(rep.ssrc, 0x12345678);
	assert_int_equal(rep.si.ntp, 0xe76b4f3c80000000ull);
	assert_int_equal(rep.si.rtp_ts, 900000);
	assert_int_equal(rep.si.packets, 500);
	assert_int_equal(rep.si.octets, 100000);
	assert_int_equal(rep.n_blocks, 1);
	assert_int_equal(cw_rtcp_report_block(&rep, 0, &rb), 0);
	assert_int_equal(rb.ssrc, 0x9abcdef0);
	assert_int_equal(rb.fraction_lost, 25);
	assert_int_equal(rb.cumulative_lost, -2);
	assert_int_equal(rb.ext_high_seq, 65541);
	assert_int_equal(rb.jitter, 42);
	assert_int_equal(rb.lsr, 0x4f3c8000);
	assert_int_equal(rb.dlsr, 0x18000);
	assert_int_equal(cw_rtcp_report_block(&rep, 1, &rb), -ENOENT);
	assert_int_equal(cw_rtcp_rr_parse(&pkt, &rep), -EINVAL);

	next_ok(&it, &pkt);
	assert_int_equal(pkt.pt, CW_RTCP_SDES);
	assert_int_equal(pkt.len, 28);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_SDES);
	assert_int_equal(cw_rtcp_next(&it, &pkt), 0);
}

static void sdes_yields_each_chunk_with_its_cname(void **state)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_sdes_iter si;
	struct cw_rtcp_sdes_chunk c;

	(void)state;
	cw_rtcp_iter_init(&it, sr_sdes, N(sr_sdes));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_sdes_iter_init(&si, &pkt), -EINVAL); /* an SR */
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_sdes_iter_init(&si, &pkt), 0);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), 1);
	assert_int_equal(c.ssrc, 0x12345678);
	assert_int_equal(c.cname_len, 16);
	assert_memory_equal(c.cname, "abcdefghijklmnop", 16);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), 0);
}

static void sdes_skips_other_items_and_chunks_without_cname(void **state)
{
	static const uint8_t sdes[] = {
		0x82, 0xca, 0x00, 0x06, /* SC=2 */
		0x00, 0x00, 0x00, 0x0a, /* chunk 1 */
		0x02, 0x01, 'm',  0x01, /* NAME "m", CNAME */
		0x01, 'x',  0x00, 0x00, /* "x", end, padding to the word */
		0x00, 0x00, 0x00, 0x0b, /* chunk 2 */
		0x06, 0x01, 't',  0x00, /* TOOL "t", end */
		0x00, 0x00, 0x00, 0x00, /* a wasteful second null word */
	};
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_sdes_iter si;
	struct cw_rtcp_sdes_chunk c;

	(void)state;
	assert_int_equal(cw_rtcp_validate(sdes, N(sdes)), 0);
	cw_rtcp_iter_init(&it, sdes, N(sdes));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_sdes_iter_init(&si, &pkt), 0);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), 1);
	assert_int_equal(c.ssrc, 10);
	assert_int_equal(c.cname_len, 1);
	assert_memory_equal(c.cname, "x", 1);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), 1);
	assert_int_equal(c.ssrc, 11);
	assert_null(c.cname);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), 0);
}

static void a_receiver_report_with_remb_parses(void **state)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_report rep;
	struct cw_rtcp_report_block rb;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_remb remb;

	(void)state;
	assert_int_equal(cw_rtcp_validate(rr_remb, N(rr_remb)), 0);
	cw_rtcp_iter_init(&it, rr_remb, N(rr_remb));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_RR);
	assert_int_equal(cw_rtcp_rr_parse(&pkt, &rep), 0);
	assert_false(rep.is_sr);
	assert_int_equal(rep.ssrc, 1);
	assert_int_equal(rep.n_blocks, 1);
	assert_int_equal(cw_rtcp_report_block(&rep, 0, &rb), 0);
	assert_int_equal(rb.ssrc, 0x12345678);
	assert_int_equal(rb.cumulative_lost, 0);
	assert_int_equal(rb.ext_high_seq, 12345);
	assert_int_equal(rb.jitter, 16);
	assert_int_equal(rb.lsr, 0);
	assert_int_equal(cw_rtcp_sr_parse(&pkt, &rep), -EINVAL);

	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_REMB);
	assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), 0);
	assert_int_equal(fb.sender_ssrc, 1);
	assert_int_equal(fb.media_ssrc, 0);
	assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), 0);
	assert_int_equal(remb.bitrate, 1500000);
	assert_int_equal(remb.n_ssrcs, 1);
	assert_int_equal(cw_rtcp_remb_ssrc(&remb, 0), 0x12345678);
	assert_int_equal(cw_rtcp_remb_ssrc(&remb, 1), 0);
	assert_int_equal(cw_rtcp_next(&it, &pkt), 0);
}

static void a_pli_names_the_source_to_refresh(void **state)
{
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;

	(void)state;
	one_fb(pli, N(pli), &pkt, &fb);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_PLI);
	assert_int_equal(fb.pt, CW_RTCP_PSFB);
	assert_int_equal(fb.fmt, CW_RTCP_FMT_PLI);
	assert_int_equal(fb.sender_ssrc, 1);
	assert_int_equal(fb.media_ssrc, 0x12345678);
	assert_int_equal(fb.fci_len, 0);
}

static void a_fir_carries_target_and_command_sequence(void **state)
{
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_fir f;
	struct cw_rtcp_fir_entry e;

	(void)state;
	one_fb(fir, N(fir), &pkt, &fb);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_FIR);
	assert_int_equal(cw_rtcp_fir_parse(&fb, &f), 0);
	assert_int_equal(f.n_entries, 1);
	assert_int_equal(cw_rtcp_fir_entry(&f, 0, &e), 0);
	assert_int_equal(e.ssrc, 0x12345678);
	assert_int_equal(e.seq, 7);
	assert_int_equal(cw_rtcp_fir_entry(&f, 1, &e), -ENOENT);
}

static void a_generic_nack_expands_pid_and_blp_across_the_wrap(void **state)
{
	static const uint16_t want[] = {1000, 1001, 1003, 65535, 0, 15};
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	uint16_t seqs[16];
	size_t n = 0;

	(void)state;
	one_fb(nack, N(nack), &pkt, &fb);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_NACK);
	assert_int_equal(fb.media_ssrc, 0x12345678);
	assert_int_equal(cw_rtcp_nack_expand(&fb, seqs, N(seqs), &n), 0);
	assert_int_equal(n, N(want));
	assert_memory_equal(seqs, want, sizeof(want));

	/* A short array keeps the first ones and says so. */
	assert_int_equal(cw_rtcp_nack_expand(&fb, seqs, 4, &n), -ENOSPC);
	assert_int_equal(n, 4);
	assert_memory_equal(seqs, want, 4 * sizeof(uint16_t));
}

static int count_until_three(uint16_t seq, void *arg)
{
	int *count = arg;

	(void)seq;
	return ++*count == 3 ? 99 : 0;
}

static void a_nack_callback_can_stop_the_walk(void **state)
{
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	int count = 0;

	(void)state;
	one_fb(nack, N(nack), &pkt, &fb);
	assert_int_equal(cw_rtcp_nack_foreach(&fb, count_until_three, &count), 99);
	assert_int_equal(count, 3);
}

static void transport_cc_feedback_decodes_every_chunk_kind_and_delta_size(void **state)
{
	static const struct {
		uint16_t seq;
		bool received;
		int32_t delta_us;
		int64_t recv_us;
	} want[27] = {
		{65534, true, 1000, 1025000},
		{65535, true, 0, 1025000},
		{0, true, 63750, 1088750},
		{1, true, 250, 1089000},
		{2, false, 0, 0},
		{3, true, 500, 1089500},
		{4, true, 750, 1090250},
		{5, false, 0, 0},
		{6, false, 0, 0},
		{7, false, 0, 0},
		{8, false, 0, 0},
		{9, false, 0, 0},
		{10, false, 0, 0},
		{11, false, 0, 0},
		{12, false, 0, 0},
		{13, false, 0, 0},
		{14, true, 2000, 1092250},
		{15, true, -250000, 842250},
		{16, false, 0, 0},
		{17, true, 4000, 846250},
		{18, true, 1250000, 2096250},
		{19, false, 0, 0},
		{20, false, 0, 0},
		{21, true, 0, 2096250},
		{22, false, 0, 0},
		{23, false, 0, 0},
		{24, false, 0, 0},
	};
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_twcc tw;
	struct cw_rtcp_twcc_status st[32];
	size_t n = 0;

	(void)state;
	one_fb(twcc, N(twcc), &pkt, &fb);
	assert_true(pkt.padding);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_TWCC);
	assert_int_equal(fb.fci_len, 29);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), 0);
	assert_int_equal(tw.base_seq, 65534);
	assert_int_equal(tw.status_count, 27);
	assert_int_equal(tw.ref_time, 16);
	assert_int_equal(tw.fb_count, 5);
	assert_int_equal(n, 27);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(st[i].seq, want[i].seq);
		assert_int_equal(st[i].received, want[i].received);
		assert_int_equal(st[i].delta_us, want[i].delta_us);
		assert_int_equal(st[i].recv_us, want[i].recv_us);
	}

	/* Bounded: a short array gets the first packets. */
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, 5, &n), -ENOSPC);
	assert_int_equal(n, 5);
	assert_int_equal(st[4].seq, 2);
	assert_int_equal(st[3].recv_us, 1089000);
}

static void a_negative_reference_time_and_a_long_run_decode(void **state)
{
	/* 1000 packets from 10: a run of 2 received, then a run of 998 lost; trailing zero
	 * bytes after the deltas are tolerated. */
	static const uint8_t pkt_bytes[] = {
		0x8f, 0xcd, 0x00, 0x06, /* RTPFB FMT 15 */
		0x00, 0x00, 0x00, 0x01, /* sender */
		0x00, 0x00, 0x00, 0x02, /* media */
		0x00, 0x0a, 0x03, 0xe8, /* base 10, 1000 packets */
		0xff, 0xff, 0xff, 0x00, /* reference time -1 */
		0x20, 0x02, 0x03, 0xe6, /* run 2 x small, run 998 x lost */
		0x04, 0x04, 0x00, 0x00, /* deltas, zero tail */
	};
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_twcc tw;
	static struct cw_rtcp_twcc_status st[1000];
	size_t n;

	(void)state;
	one_fb(pkt_bytes, N(pkt_bytes), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), 0);
	assert_int_equal(tw.ref_time, -1);
	assert_int_equal(n, 1000);
	assert_int_equal(st[0].recv_us, -64000 + 1000);
	assert_int_equal(st[1].recv_us, -64000 + 2000);
	assert_false(st[2].received);
	assert_false(st[999].received);
	assert_int_equal(st[999].seq, 1009);
}

static void symbols_after_the_status_count_are_ignored(void **state)
{
	/* Two packets in a 1-bit vector whose other twelve bits claim receptions: only the
	 * first two symbols count, so only their two deltas must be present. */
	static const uint8_t pkt_bytes[] = {
		0x8f, 0xcd, 0x00, 0x05, /* RTPFB FMT 15 */
		0x00, 0x00, 0x00, 0x01, /* sender */
		0x00, 0x00, 0x00, 0x02, /* media */
		0x00, 0x07, 0x00, 0x02, /* base 7, 2 packets */
		0x00, 0x00, 0x01, 0x00, /* reference time 1 */
		0xbf, 0xff, 0x08, 0x0c, /* 1-bit vector, all received; deltas 2 ms, 3 ms */
	};
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_twcc tw;
	struct cw_rtcp_twcc_status st[16];
	size_t n;

	(void)state;
	one_fb(pkt_bytes, N(pkt_bytes), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st[0].seq, 7);
	assert_int_equal(st[0].recv_us, 64000 + 2000);
	assert_int_equal(st[1].seq, 8);
	assert_int_equal(st[1].recv_us, 64000 + 5000);
}

static void bye_lists_sources_and_an_optional_reason(void **state)
{
	static const uint8_t bye[] = {
		0x82, 0xcb, 0x00, 0x04, /* BYE, SC=2 */
		0x00, 0x00, 0x00, 0x01, /* sources */
		0x00, 0x00, 0x00, 0x02, /* */
		0x04, 'g',  'o',  'n',	/* reason "gone" */
		'e',  0x00, 0x00, 0x00, /* padding */
	};
	static const uint8_t bye_bare[] = {0x81, 0xcb, 0x00, 0x01, 0, 0, 0, 9};
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_bye b;

	(void)state;
	assert_int_equal(cw_rtcp_validate(bye, N(bye)), 0);
	cw_rtcp_iter_init(&it, bye, N(bye));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_BYE);
	assert_int_equal(cw_rtcp_bye_parse(&pkt, &b), 0);
	assert_int_equal(b.count, 2);
	assert_int_equal(cw_rtcp_bye_ssrc(&b, 0), 1);
	assert_int_equal(cw_rtcp_bye_ssrc(&b, 1), 2);
	assert_int_equal(cw_rtcp_bye_ssrc(&b, 2), 0);
	assert_int_equal(b.reason_len, 4);
	assert_memory_equal(b.reason, "gone", 4);

	cw_rtcp_iter_init(&it, bye_bare, N(bye_bare));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_bye_parse(&pkt, &b), 0);
	assert_int_equal(b.count, 1);
	assert_null(b.reason);
}

static void app_xr_and_unknown_feedback_are_skipped(void **state)
{
	static const uint8_t compound[] = {
		0x80, 0xc9, 0x00, 0x01, /* empty RR */
		0x00, 0x00, 0x00, 0x01, /* */
		0x80, 0xcc, 0x00, 0x03, /* APP */
		0x00, 0x00, 0x00, 0x01, /* */
		'n',  'a',  'm',  'e',	/* */
		0xaa, 0xbb, 0xcc, 0xdd, /* */
		0x80, 0xcf, 0x00, 0x02, /* XR */
		0x00, 0x00, 0x00, 0x01, /* */
		0x04, 0x00, 0x00, 0x00, /* */
		0x83, 0xcd, 0x00, 0x02, /* RTPFB FMT 3 */
		0x00, 0x00, 0x00, 0x01, /* */
		0x00, 0x00, 0x00, 0x02, /* */
		0x8f, 0xce, 0x00, 0x03, /* application feedback, not REMB */
		0x00, 0x00, 0x00, 0x01, /* */
		0x00, 0x00, 0x00, 0x02, /* */
		'X',  'Y',  'Z',  'W',	/* */
		0x81, 0xce, 0x00, 0x02, /* PLI */
		0x00, 0x00, 0x00, 0x01, /* */
		0x00, 0x00, 0x00, 0x02, /* */
	};
	static const enum cw_rtcp_kind want[] = {
		CW_RTCP_KIND_RR,      CW_RTCP_KIND_APP,	    CW_RTCP_KIND_UNKNOWN,
		CW_RTCP_KIND_UNKNOWN, CW_RTCP_KIND_UNKNOWN, CW_RTCP_KIND_PLI,
	};
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_remb remb;
	size_t i = 0;
	int r;

	(void)state;
	assert_int_equal(cw_rtcp_validate(compound, N(compound)), 0);
	cw_rtcp_iter_init(&it, compound, N(compound));
	while ((r = cw_rtcp_next(&it, &pkt)) > 0) {
		assert_true(i < N(want));
		assert_int_equal(cw_rtcp_kind(&pkt), want[i]);
		if (i == 4) { /* application feedback that is not a REMB */
			assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), 0);
			assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), -EINVAL);
		}
		i++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(i, N(want));
}

static void a_remb_tag_outside_the_packet_does_not_count(void **state)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;

	(void)state;
	cw_rtcp_iter_init(&it, rr_remb + 32, 24);
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_REMB);
	pkt.body_len = 8; /* as if the packet ended before the tag */
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_UNKNOWN);
}

/* ---- malformed compounds and packets ---- */

static void truncated_headers_and_bad_versions_are_rejected(void **state)
{
	uint8_t buf[N(rr_remb)];
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;

	(void)state;
	assert_int_equal(cw_rtcp_validate(rr_remb, 0), -EBADMSG);
	assert_int_equal(cw_rtcp_validate(NULL, 8), -EBADMSG);
	for (size_t len = 1; len < N(rr_remb); len++)
		assert_int_equal(cw_rtcp_validate(rr_remb, len), len == 32 ? 0 : -EBADMSG);

	memcpy(buf, rr_remb, sizeof(buf));
	buf[0] = 0x41; /* version 1 */
	assert_int_equal(cw_rtcp_validate(buf, sizeof(buf)), -EBADMSG);
	memcpy(buf, rr_remb, sizeof(buf));
	buf[32] = 0xcf; /* version 3 in the second packet */
	assert_int_equal(cw_rtcp_validate(buf, sizeof(buf)), -EBADMSG);
	cw_rtcp_iter_init(&it, buf, sizeof(buf));
	next_ok(&it, &pkt); /* the first is still readable on its own */
	assert_int_equal(cw_rtcp_next(&it, &pkt), -EBADMSG);
	assert_int_equal(cw_rtcp_next(&it, &pkt), 0); /* and the iteration has ended */
}

static void a_length_overrun_inside_a_compound_is_rejected(void **state)
{
	uint8_t buf[N(sr_sdes) + 4];
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;

	(void)state;
	memcpy(buf, sr_sdes, N(sr_sdes));
	buf[55] = 7; /* the SDES claims 32 bytes, 28 remain */
	assert_int_equal(cw_rtcp_validate(buf, N(sr_sdes)), -EBADMSG);
	cw_rtcp_iter_init(&it, buf, N(sr_sdes));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_next(&it, &pkt), -EBADMSG);

	memcpy(buf, sr_sdes, N(sr_sdes));
	buf[2] = 0xff; /* the SR claims the world */
	assert_int_equal(cw_rtcp_validate(buf, N(sr_sdes)), -EBADMSG);

	/* Lengths that do not add up: trailing bytes after the last packet. */
	memcpy(buf, sr_sdes, N(sr_sdes));
	memset(buf + N(sr_sdes), 0, 4);
	assert_int_equal(cw_rtcp_validate(buf, N(sr_sdes) + 2), -EBADMSG);
	assert_int_equal(cw_rtcp_validate(buf, N(sr_sdes) + 4), -EBADMSG);
}

static void padding_counts_are_checked_on_every_packet(void **state)
{
	uint8_t buf[N(twcc)];
	uint8_t pad_first[N(pli) + N(pli)];
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;

	(void)state;
	memcpy(buf, twcc, sizeof(buf));
	buf[sizeof(buf) - 1] = 0;
	assert_int_equal(cw_rtcp_validate(buf, sizeof(buf)), -EBADMSG);
	buf[sizeof(buf) - 1] = 41; /* more than the packet after its header */
	assert_int_equal(cw_rtcp_validate(buf, sizeof(buf)), -EBADMSG);
	buf[sizeof(buf) - 1] = 40; /* all of the body: readable, but too short for feedback */
	assert_int_equal(cw_rtcp_validate(buf, sizeof(buf)), 0);

	/* Padding on a packet that is not the last is still counted inside that packet. */
	memcpy(pad_first, pli, N(pli));
	memcpy(pad_first + N(pli), pli, N(pli));
	pad_first[0] |= 0x20;
	pad_first[11] = 4;
	assert_int_equal(cw_rtcp_validate(pad_first, sizeof(pad_first)), 0);
	cw_rtcp_iter_init(&it, pad_first, sizeof(pad_first));
	next_ok(&it, &pkt);
	assert_true(pkt.padding);
	assert_int_equal(pkt.body_len, 4);
	pad_first[11] = 0;
	assert_int_equal(cw_rtcp_validate(pad_first, sizeof(pad_first)), -EBADMSG);
}

static void reports_with_more_blocks_than_bytes_are_rejected(void **state)
{
	uint8_t buf[N(sr_sdes)];
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_report rep;

	(void)state;
	memcpy(buf, sr_sdes, sizeof(buf));
	buf[0] = 0x82; /* RC=2, one block present */
	assert_int_equal(cw_rtcp_validate(buf, sizeof(buf)), 0);
	cw_rtcp_iter_init(&it, buf, sizeof(buf));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_sr_parse(&pkt, &rep), -EBADMSG);

	memcpy(buf, rr_remb, N(rr_remb));
	buf[0] = 0x81;
	buf[3] = 0x00; /* an RR that is only a header: not even its SSRC */
	cw_rtcp_iter_init(&it, buf, 8);
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_rr_parse(&pkt, &rep), -EBADMSG);
}

static void malformed_sdes_chunks_are_rejected(void **state)
{
	static const uint8_t item_overrun[] = {
		0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x09, 'a', 'b',
	};
	static const uint8_t no_terminator[] = {
		0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b',
	};
	static const uint8_t missing_chunk[] = {
		0x82, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x01, 'a', 0x00,
	};
	static const uint8_t cut_ssrc[] = {0x81, 0xca, 0x00, 0x01, 0, 0, 0, 1};
	const uint8_t *bad[] = {item_overrun, no_terminator, cut_ssrc};
	size_t lens[] = {N(item_overrun), N(no_terminator), N(cut_ssrc)};
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_sdes_iter si;
	struct cw_rtcp_sdes_chunk c;

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		cw_rtcp_iter_init(&it, bad[i], lens[i]);
		next_ok(&it, &pkt);
		assert_int_equal(cw_rtcp_sdes_iter_init(&si, &pkt), 0);
		assert_int_equal(cw_rtcp_sdes_next(&si, &c), -EBADMSG);
		assert_int_equal(cw_rtcp_sdes_next(&si, &c), 0);
	}
	cw_rtcp_iter_init(&it, missing_chunk, N(missing_chunk));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_sdes_iter_init(&si, &pkt), 0);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), 1);
	assert_int_equal(cw_rtcp_sdes_next(&si, &c), -EBADMSG);
}

static void malformed_bye_is_rejected(void **state)
{
	static const uint8_t count_overrun[] = {0x83, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
	static const uint8_t reason_overrun[] = {0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 9, 'a', 0, 0};
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_bye b;

	(void)state;
	cw_rtcp_iter_init(&it, count_overrun, N(count_overrun));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_bye_parse(&pkt, &b), -EBADMSG);
	cw_rtcp_iter_init(&it, reason_overrun, N(reason_overrun));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_bye_parse(&pkt, &b), -EBADMSG);
	cw_rtcp_iter_init(&it, pli, N(pli));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_bye_parse(&pkt, &b), -EINVAL);
}

static void malformed_feedback_is_rejected(void **state)
{
	static const uint8_t fb_short[] = {0x81, 0xce, 0x00, 0x01, 0, 0, 0, 1};
	static const uint8_t nack_empty[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
	static const uint8_t fir_half[] = {
		0x84, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
	};
	static const uint8_t remb_cut[] = {
		0x8f, 0xce, 0x00, 0x05, /* PSFB FMT 15 */
		0x00, 0x00, 0x00, 0x01, /* */
		0x00, 0x00, 0x00, 0x00, /* */
		'R',  'E',  'M',  'B',	/* */
		0x02, 0x0e, 0xdc, 0x6c, /* two SSRCs announced */
		0x00, 0x00, 0x00, 0x01, /* one present */
	};
	static const uint8_t remb_no_bitrate[] = {
		0x8f, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B',
	};
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_fir f;
	struct cw_rtcp_remb remb;
	uint16_t seqs[4];
	size_t n;

	(void)state;
	cw_rtcp_iter_init(&it, fb_short, N(fb_short));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), -EBADMSG);

	one_fb(nack_empty, N(nack_empty), &pkt, &fb);
	assert_int_equal(cw_rtcp_nack_expand(&fb, seqs, N(seqs), &n), -EBADMSG);
	one_fb(nack, N(nack), &pkt, &fb);
	fb.fci_len = 6; /* not whole pairs */
	assert_int_equal(cw_rtcp_nack_expand(&fb, seqs, N(seqs), &n), -EBADMSG);

	one_fb(fir_half, N(fir_half), &pkt, &fb);
	assert_int_equal(cw_rtcp_fir_parse(&fb, &f), -EBADMSG);
	one_fb(fir, N(fir), &pkt, &fb);
	fb.fci_len = 0;
	assert_int_equal(cw_rtcp_fir_parse(&fb, &f), -EBADMSG);

	one_fb(remb_cut, N(remb_cut), &pkt, &fb);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_REMB);
	assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), -EBADMSG);
	one_fb(remb_no_bitrate, N(remb_no_bitrate), &pkt, &fb);
	assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), -EBADMSG);

	/* Each parser refuses the other messages. */
	one_fb(pli, N(pli), &pkt, &fb);
	assert_int_equal(cw_rtcp_nack_expand(&fb, seqs, N(seqs), &n), -EINVAL);
	assert_int_equal(cw_rtcp_fir_parse(&fb, &f), -EINVAL);
	assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), -EINVAL);
	cw_rtcp_iter_init(&it, sr_sdes, N(sr_sdes));
	next_ok(&it, &pkt);
	assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), -EINVAL);
}

static void malformed_transport_cc_is_rejected(void **state)
{
	uint8_t buf[N(twcc)];
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_twcc tw;
	struct cw_rtcp_twcc_status st[64];
	size_t n;

	(void)state;
	/* A status count of zero. */
	memcpy(buf, twcc, sizeof(buf));
	buf[14] = buf[15] = 0;
	one_fb(buf, sizeof(buf), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EBADMSG);

	/* More packets than the chunks describe before the bytes run out. */
	memcpy(buf, twcc, sizeof(buf));
	buf[15] = 60;
	one_fb(buf, sizeof(buf), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EBADMSG);

	/* Deltas cut short (the FCI ends inside the last delta). */
	one_fb(twcc, N(twcc), &pkt, &fb);
	fb.fci_len = 28;
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EBADMSG);
	fb.fci_len = 7; /* not even the header */
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EBADMSG);

	/* The reserved symbol in a 2-bit vector, and in a run. */
	memcpy(buf, twcc, sizeof(buf));
	buf[24] = 0xf1; /* first symbol 3 */
	one_fb(buf, sizeof(buf), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EBADMSG);
	memcpy(buf, twcc, sizeof(buf));
	buf[26] = 0x60; /* run of 3 x symbol 3 */
	one_fb(buf, sizeof(buf), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EBADMSG);

	/* A NACK is not transport-cc. */
	one_fb(nack, N(nack), &pkt, &fb);
	assert_int_equal(cw_rtcp_twcc_parse(&fb, &tw, st, N(st), &n), -EINVAL);
}

/* ---- builders ---- */

static void build_and_parse_one(const uint8_t *buf, size_t len, struct cw_rtcp *pkt)
{
	struct cw_rtcp_iter it;

	assert_int_equal(len % 4, 0);
	assert_int_equal(cw_rtcp_validate(buf, len), 0);
	cw_rtcp_iter_init(&it, buf, len);
	next_ok(&it, pkt);
	assert_int_equal(pkt->len, len);
}

static void assert_block_equal(const struct cw_rtcp_report_block *a,
			       const struct cw_rtcp_report_block *b)
{
	assert_int_equal(a->ssrc, b->ssrc);
	assert_int_equal(a->fraction_lost, b->fraction_lost);
	assert_int_equal(a->cumulative_lost, b->cumulative_lost);
	assert_int_equal(a->ext_high_seq, b->ext_high_seq);
	assert_int_equal(a->jitter, b->jitter);
	assert_int_equal(a->lsr, b->lsr);
	assert_int_equal(a->dlsr, b->dlsr);
}

static const struct cw_rtcp_report_block blocks[2] = {
	{0x11111111, 25, -2, 65541, 42, 0x4f3c8000, 0x18000},
	{0x22222222, 255, 0x7fffff, 0xffffffff, 0, 0, 0},
};

static void sender_reports_round_trip(void **state)
{
	const struct cw_rtcp_sender_info si = {0xe76b4f3c80000000ull, 900000, 500, 100000};
	uint8_t buf[256];
	size_t len;
	struct cw_rtcp pkt;
	struct cw_rtcp_report rep;
	struct cw_rtcp_report_block rb;

	(void)state;
	assert_int_equal(cw_rtcp_build_sr(buf, sizeof(buf), &len, 0x12345678, &si, blocks, 2), 0);
	assert_int_equal(len, 76);
	build_and_parse_one(buf, len, &pkt);
	assert_int_equal(cw_rtcp_sr_parse(&pkt, &rep), 0);
	assert_int_equal(rep.ssrc, 0x12345678);
	assert_int_equal(rep.si.ntp, si.ntp);
	assert_int_equal(rep.si.rtp_ts, si.rtp_ts);
	assert_int_equal(rep.si.packets, si.packets);
	assert_int_equal(rep.si.octets, si.octets);
	assert_int_equal(rep.n_blocks, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(cw_rtcp_report_block(&rep, i, &rb), 0);
		assert_block_equal(&rb, &blocks[i]);
	}
	/* The first 52 bytes match the browser's SR byte for byte. */
	assert_int_equal(cw_rtcp_build_sr(buf, sizeof(buf), &len, 0x12345678, &si, blocks, 1), 0);
	memcpy(buf + 28, "\x9a\xbc\xde\xf0", 4); /* the block's source */
	assert_memory_equal(buf, sr_sdes, 52);

	for (size_t sz = 0; sz < 76; sz++)
		assert_int_equal(cw_rtcp_build_sr(buf, sz, &len, 1, &si, blocks, 2), -ENOSPC);
	assert_int_equal(cw_rtcp_build_sr(buf, sizeof(buf), &len, 1, NULL, blocks, 2), -EINVAL);
}

static void receiver_reports_round_trip_with_0_to_31_blocks(void **state)
{
	struct cw_rtcp_report_block many[32];
	uint8_t buf[1024];
	size_t len;
	struct cw_rtcp pkt;
	struct cw_rtcp_report rep;
	struct cw_rtcp_report_block rb;

	(void)state;
	for (unsigned i = 0; i < 32; i++)
		many[i] = (struct cw_rtcp_report_block){i + 1, (uint8_t)i, -(int32_t)i, i * 1000, i,
							i,     i};
	assert_int_equal(cw_rtcp_build_rr(buf, sizeof(buf), &len, 7, NULL, 0), 0);
	assert_int_equal(len, 8);
	build_and_parse_one(buf, len, &pkt);
	assert_int_equal(cw_rtcp_rr_parse(&pkt, &rep), 0);
	assert_int_equal(rep.n_blocks, 0);
	assert_int_equal(rep.ssrc, 7);

	assert_int_equal(cw_rtcp_build_rr(buf, sizeof(buf), &len, 7, many, 31), 0);
	build_and_parse_one(buf, len, &pkt);
	assert_int_equal(cw_rtcp_rr_parse(&pkt, &rep), 0);
	assert_int_equal(rep.n_blocks, 31);
	for (unsigned i = 0; i < 31; i++) {
		assert_int_equal(cw_rtcp_report_block(&rep, i, &rb), 0);
		assert_block_equal(&rb, &many[i]);
	}
	assert_int_equal(cw_rtcp_build_rr(buf, sizeof(buf), &len, 7, many, 32), -EINVAL);
}

static void cumulative_loss_is_clamped_to_24_bits(void **state)
{
	struct cw_rtcp_report_block b[2] = {{.ssrc = 1, .cumulative_lost = -9000000},
					    {.ssrc = 2, .cumulative_lost = 9000000}};
	uint8_t buf[64];
	size_t len;
	struct cw_rtcp pkt;
	struct cw_rtcp_report rep;
	struct cw_rtcp_report_block rb;

	(void)state;
	assert_int_equal(cw_rtcp_build_rr(buf, sizeof(buf), &len, 7, b, 2), 0);
	build_and_parse_one(buf, len, &pkt);
	assert_int_equal(cw_rtcp_rr_parse(&pkt, &rep), 0);
	assert_int_equal(cw_rtcp_report_block(&rep, 0, &rb), 0);
	assert_int_equal(rb.cumulative_lost, -0x800000);
	assert_int_equal(cw_rtcp_report_block(&rep, 1, &rb), 0);
	assert_int_equal(rb.cumulative_lost, 0x7fffff);
}

static void sdes_cnames_of_every_alignment_round_trip(void **state)
{
	char cname[256];
	uint8_t buf[300];
	size_t len;
	struct cw_rtcp pkt;
	struct cw_rtcp_sdes_iter si;
	struct cw_rtcp_sdes_chunk c;

	(void)state;
	for (size_t i = 0; i < sizeof(cname); i++)
		cname[i] = (char)('a' + i % 26);
	for (size_t n = 1; n <= 255; n++) {
		assert_int_equal(cw_rtcp_build_sdes_cname(buf, sizeof(buf), &len, 0xabc, cname, n),
				 0);
		build_and_parse_one(buf, len, &pkt);
		assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_SDES);
		assert_int_equal(cw_rtcp_sdes_iter_init(&si, &pkt), 0);
		assert_int_equal(cw_rtcp_sdes_next(&si, &c), 1);
		assert_int_equal(c.ssrc, 0xabc);
		assert_int_equal(c.cname_len, n);
		assert_memory_equal(c.cname, cname, n);
		assert_int_equal(cw_rtcp_sdes_next(&si, &c), 0);
		assert_int_equal(cw_rtcp_build_sdes_cname(buf, len - 1, &len, 1, cname, n),
				 -ENOSPC);
	}
	assert_int_equal(cw_rtcp_build_sdes_cname(buf, sizeof(buf), &len, 1, cname, 0), -EINVAL);
	assert_int_equal(cw_rtcp_build_sdes_cname(buf, sizeof(buf), &len, 1, cname, 256), -EINVAL);
	/* The browser's SDES, byte for byte. */
	assert_int_equal(cw_rtcp_build_sdes_cname(buf, sizeof(buf), &len, 0x12345678,
						  "abcdefghijklmnop", 16),
			 0);
	assert_int_equal(len, 28);
	assert_memory_equal(buf, sr_sdes + 52, 28);
}

static void bye_pli_and_fir_round_trip(void **state)
{
	static const uint32_t ssrcs[] = {5, 6, 7};
	uint8_t buf[64];
	size_t len;
	struct cw_rtcp pkt;
	struct cw_rtcp_bye b;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_fir f;
	struct cw_rtcp_fir_entry e;

	(void)state;
	assert_int_equal(cw_rtcp_build_bye(buf, sizeof(buf), &len, ssrcs, 3), 0);
	build_and_parse_one(buf, len, &pkt);
	assert_int_equal(cw_rtcp_bye_parse(&pkt, &b), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(cw_rtcp_bye_ssrc(&b, 2), 7);
	assert_int_equal(cw_rtcp_build_bye(buf, sizeof(buf), &len, ssrcs, 0), -EINVAL);
	assert_int_equal(cw_rtcp_build_bye(buf, 15, &len, ssrcs, 3), -ENOSPC);

	assert_int_equal(cw_rtcp_build_pli(buf, sizeof(buf), &len, 1, 0x12345678), 0);
	assert_int_equal(len, N(pli));
	assert_memory_equal(buf, pli, len);
	assert_int_equal(cw_rtcp_build_pli(buf, 11, &len, 1, 2), -ENOSPC);

	assert_int_equal(cw_rtcp_build_fir(buf, sizeof(buf), &len, 1, 0x12345678, 7), 0);
	assert_int_equal(len, N(fir));
	assert_memory_equal(buf, fir, len);
	one_fb(buf, len, &pkt, &fb);
	assert_int_equal(cw_rtcp_fir_parse(&fb, &f), 0);
	assert_int_equal(cw_rtcp_fir_entry(&f, 0, &e), 0);
	assert_int_equal(e.ssrc, 0x12345678);
	assert_int_equal(e.seq, 7);
	assert_int_equal(cw_rtcp_build_fir(buf, 19, &len, 1, 2, 3), -ENOSPC);
}

static void remb_bitrates_round_trip_rounded_down_to_18_bits(void **state)
{
	static const struct {
		uint64_t in, out;
	} cases[] = {
		{0, 0},
		{1, 1},
		{0x3ffff, 0x3ffff},
		{0x40000, 0x40000},
		{0x40001, 0x40000},
		{1500000, 1500000},
		{1500007, 1500000},
		{2500000000ull, 2499985408ull},
		{UINT64_MAX, 0x3ffffull << 46},
	};
	static const uint32_t ssrcs[] = {0x12345678, 0x9abcdef0};
	uint8_t buf[64];
	size_t len;
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_remb remb;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		assert_int_equal(
			cw_rtcp_build_remb(buf, sizeof(buf), &len, 1, cases[i].in, ssrcs, 2), 0);
		build_and_parse_one(buf, len, &pkt);
		assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_REMB);
		assert_int_equal(cw_rtcp_fb_parse(&pkt, &fb), 0);
		assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), 0);
		assert_int_equal(remb.bitrate, cases[i].out);
		assert_int_equal(remb.n_ssrcs, 2);
		assert_int_equal(cw_rtcp_remb_ssrc(&remb, 1), 0x9abcdef0);
	}
	/* The browser's REMB, byte for byte. */
	assert_int_equal(cw_rtcp_build_remb(buf, sizeof(buf), &len, 1, 1500000, ssrcs, 1), 0);
	assert_memory_equal(buf, rr_remb + 32, 24);
	assert_int_equal(cw_rtcp_build_remb(buf, 27, &len, 1, 1, ssrcs, 2), -ENOSPC);
	assert_int_equal(cw_rtcp_build_remb(buf, sizeof(buf), &len, 1, 1, ssrcs, 256), -EINVAL);
}

static void remb_exponents_that_overflow_64_bits_saturate(void **state)
{
	uint8_t buf[24] = {0x8f, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 0};
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	struct cw_rtcp_remb remb;
	static const struct {
		uint8_t b[3];
		uint64_t bitrate;
	} cases[] = {
		{{0xff, 0xff, 0xff}, UINT64_MAX},	/* exp 63, full mantissa */
		{{0xbf, 0xff, 0xff}, UINT64_MAX},	/* exp 47 */
		{{0xbb, 0xff, 0xff}, 0x3ffffull << 46}, /* exp 46: fits */
		{{0xfc, 0x00, 0x01}, 1ull << 63},	/* exp 63, mantissa 1 */
		{{0xfc, 0x00, 0x00}, 0},
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		memcpy(buf + 17, cases[i].b, 3);
		one_fb(buf, 20, &pkt, &fb);
		assert_int_equal(cw_rtcp_remb_parse(&fb, &remb), 0);
		assert_int_equal(remb.bitrate, cases[i].bitrate);
	}
}

/* Builds a NACK from lost, parses it back and checks the pairs and the expansion. */
static void nack_round_trip(const uint16_t *lost, size_t n, const uint16_t *want, size_t n_want,
			    size_t pairs)
{
	uint8_t buf[2048];
	size_t len, got;
	struct cw_rtcp pkt;
	struct cw_rtcp_fb fb;
	uint16_t seqs[1024];

	assert_int_equal(cw_rtcp_build_nack(buf, sizeof(buf), &len, 1, 2, lost, n), 0);
	assert_int_equal(len, 12 + 4 * pairs);
	one_fb(buf, len, &pkt, &fb);
	assert_int_equal(cw_rtcp_kind(&pkt), CW_RTCP_KIND_NACK);
	assert_int_equal(fb.sender_ssrc, 1);
	assert_int_equal(fb.media_ssrc, 2);
	assert_int_equal(cw_rtcp_nack_expand(&fb, seqs, N(seqs), &got), 0);
	assert_int_equal(got, n_want);
	assert_memory_equal(seqs, want, n_want * sizeof(uint16_t));
}

static void nack_packs_tricky_loss_patterns(void **state)
{
	uint16_t run17[17];
	static const uint16_t gap17[] = {100, 117};
	static const uint16_t gaps[] = {1, 18, 40, 41};
	static const uint16_t wrap[] = {65534, 65535, 0, 1, 20};
	static const uint16_t edge[] = {65530, 10};
	static const uint16_t dups[] = {7, 7, 8, 8};
	static const uint16_t dups_want[] = {7, 8};
	static const uint16_t unsorted[] = {50, 40, 45};

	(void)state;
	for (uint16_t i = 0; i < 17; i++)
		run17[i] = (uint16_t)(100 + i);
	nack_round_trip(run17, 17, run17, 17, 1);     /* PID + all 16 bits */
	nack_round_trip(gap17, 2, gap17, 2, 2);	      /* 17 apart: a new pair */
	nack_round_trip(gaps, 4, gaps, 4, 3);	      /* gaps over 16 */
	nack_round_trip(wrap, 5, wrap, 5, 2);	      /* across 65535 */
	nack_round_trip(edge, 2, edge, 2, 1);	      /* 16 after, across the wrap */
	nack_round_trip(dups, 4, dups_want, 2, 1);    /* duplicates collapse */
	nack_round_trip(unsorted, 3, unsorted, 3, 2); /* still correct */
	nack_round_trip(wrap + 4, 1, wrap + 4, 1, 1); /* a single loss */
}

static void nack_of_random_losses_expands_to_the_same_list(void **state)
{
	uint32_t rng = 12345;

	(void)state;
	for (int round = 0; round < 300; round++) {
		uint16_t lost[512];
		size_t n = 0;
		uint16_t seq;
		size_t pairs = 0;
		uint16_t pid = 0;

		rng = rng * 1103515245 + 12345;
		seq = (uint16_t)(rng >> 8); /* anywhere, so many rounds cross the wrap */
		while (n < N(lost)) {
			rng = rng * 1103515245 + 12345;
			/* Mostly short gaps, sometimes long ones. */
			seq = (uint16_t)(seq + 1 +
					 ((rng >> 16) % 8 == 0 ? (rng >> 20) % 100
							       : (rng >> 20) % 3));
			lost[n++] = seq;
			if ((rng >> 24) % 64 == 0)
				break;
		}
		for (size_t i = 0; i < n; i++) {
			if (i == 0 || (uint16_t)(lost[i] - pid) > 16) {
				pid = lost[i];
				pairs++;
			}
		}
		nack_round_trip(lost, n, lost, n, pairs);
	}
}

static void nack_builder_refuses_empty_lists_and_small_buffers(void **state)
{
	static const uint16_t two_pairs[] = {1, 100};
	uint8_t buf[64];
	size_t len;

	(void)state;
	assert_int_equal(cw_rtcp_build_nack(buf, sizeof(buf), &len, 1, 2, two_pairs, 0), -EINVAL);
	assert_int_equal(cw_rtcp_build_nack(buf, sizeof(buf), &len, 1, 2, NULL, 1), -EINVAL);
	for (size_t sz = 0; sz < 20; sz++)
		assert_int_equal(cw_rtcp_build_nack(buf, sz, &len, 1, 2, two_pairs, 2), -ENOSPC);
	assert_int_equal(cw_rtcp_build_nack(buf, 20, &len, 1, 2, two_pairs, 2), 0);
}

static void a_compound_built_piece_by_piece_validates(void **state)
{
	static const uint16_t lost[] = {3, 4, 9};
	static const uint32_t ssrcs[] = {0x1234};
	static const enum cw_rtcp_kind want[] = {
		CW_RTCP_KIND_RR,  CW_RTCP_KIND_SDES, CW_RTCP_KIND_REMB, CW_RTCP_KIND_NACK,
		CW_RTCP_KIND_PLI, CW_RTCP_KIND_FIR,  CW_RTCP_KIND_BYE,
	};
	uint8_t buf[512];
	size_t off = 0, len;
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	size_t i = 0;

	(void)state;
	assert_int_equal(cw_rtcp_build_rr(buf + off, sizeof(buf) - off, &len, 1, blocks, 1), 0);
	off += len;
	assert_int_equal(cw_rtcp_build_sdes_cname(buf + off, sizeof(buf) - off, &len, 1, "sfu", 3),
			 0);
	off += len;
	assert_int_equal(
		cw_rtcp_build_remb(buf + off, sizeof(buf) - off, &len, 1, 3000000, ssrcs, 1), 0);
	off += len;
	assert_int_equal(cw_rtcp_build_nack(buf + off, sizeof(buf) - off, &len, 1, 0x1234, lost, 3),
			 0);
	off += len;
	assert_int_equal(cw_rtcp_build_pli(buf + off, sizeof(buf) - off, &len, 1, 0x1234), 0);
	off += len;
	assert_int_equal(cw_rtcp_build_fir(buf + off, sizeof(buf) - off, &len, 1, 0x1234, 1), 0);
	off += len;
	assert_int_equal(cw_rtcp_build_bye(buf + off, sizeof(buf) - off, &len, ssrcs, 1), 0);
	off += len;

	assert_int_equal(cw_rtcp_validate(buf, off), 0);
	cw_rtcp_iter_init(&it, buf, off);
	while (cw_rtcp_next(&it, &pkt) > 0)
		assert_int_equal(cw_rtcp_kind(&pkt), want[i++]);
	assert_int_equal(i, N(want));
}

/* ---- receive statistics ---- */

/* Feeds seq as the n-th frame of a steady 25 fps, 90 kHz stream (3600 ticks, 40 ms),
 * arriving late_us late. */
static int feed(struct cw_rtcp_rx_stats *s, uint16_t seq, uint32_t n, int64_t late_us)
{
	return cw_rtcp_rx_packet(s, seq, 3600u * n, 1000000 + 40000 * (int64_t)n + late_us);
}

static void loss_and_fraction_lost_follow_appendix_a3_across_the_wrap(void **state)
{
	struct cw_rtcp_rx_stats s;
	struct cw_rtcp_report_block rb;
	uint32_t n = 0;

	(void)state;
	cw_rtcp_rx_init(&s, 0xabc, 90000);
	/* 65530 .. 65535, 0 .. 9 with 65533 and 3 lost: 16 expected, 14 received. */
	for (uint32_t i = 65530; i < 65536 + 10; i++, n++) {
		uint16_t seq = (uint16_t)i;

		if (seq != 65533 && seq != 3)
			assert_int_equal(feed(&s, seq, n, 0), 0);
	}
	cw_rtcp_rx_report(&s, 2000000, &rb);
	assert_int_equal(rb.ssrc, 0xabc);
	assert_int_equal(rb.ext_high_seq, 65536 + 9);
	assert_int_equal(rb.cumulative_lost, 2);
	assert_int_equal(rb.fraction_lost, 2 * 256 / 16);
	assert_int_equal(rb.lsr, 0);
	assert_int_equal(rb.dlsr, 0);

	/* Next interval: 10 .. 19 and a duplicate of 15: nothing lost this time, and the
	 * duplicate pays back one of the earlier losses. */
	for (uint16_t seq = 10; seq < 20; seq++, n++)
		assert_int_equal(feed(&s, seq, n, 0), 0);
	assert_int_equal(feed(&s, 15, n - 5, 0), 0);
	cw_rtcp_rx_report(&s, 3000000, &rb);
	assert_int_equal(rb.ext_high_seq, 65536 + 19);
	assert_int_equal(rb.cumulative_lost, 1);
	assert_int_equal(rb.fraction_lost, 0);

	/* An interval with nothing received reports nothing new. */
	cw_rtcp_rx_report(&s, 4000000, &rb);
	assert_int_equal(rb.fraction_lost, 0);
	assert_int_equal(rb.cumulative_lost, 1);

	/* 20 .. 29 with 22 and 27 lost: the fraction is of this interval only. */
	for (uint16_t seq = 20; seq < 30; seq++, n++)
		if (seq != 22 && seq != 27)
			assert_int_equal(feed(&s, seq, n, 0), 0);
	cw_rtcp_rx_report(&s, 5000000, &rb);
	assert_int_equal(rb.fraction_lost, 2 * 256 / 10);
	assert_int_equal(rb.cumulative_lost, 3);
}

static void reordered_packets_are_counted_without_moving_the_highest(void **state)
{
	struct cw_rtcp_rx_stats s;
	struct cw_rtcp_report_block rb;

	(void)state;
	cw_rtcp_rx_init(&s, 1, 48000);
	assert_int_equal(feed(&s, 100, 0, 0), 0);
	assert_int_equal(feed(&s, 102, 2, 0), 0);
	assert_int_equal(feed(&s, 101, 1, 0), 0); /* late, within MAX_MISORDER */
	cw_rtcp_rx_report(&s, 0, &rb);
	assert_int_equal(rb.ext_high_seq, 102);
	assert_int_equal(rb.cumulative_lost, 0);
}

static void jitter_follows_appendix_a8(void **state)
{
	struct cw_rtcp_rx_stats s;
	struct cw_rtcp_report_block rb;
	uint32_t n;

	(void)state;
	cw_rtcp_rx_init(&s, 1, 90000);
	for (n = 0; n < 10; n++)
		assert_int_equal(feed(&s, (uint16_t)n, n, 0), 0);
	cw_rtcp_rx_report(&s, 0, &rb);
	assert_int_equal(rb.jitter, 0); /* a steady pace */

	/* One packet 5 ms late: D = 450 timestamp units, J = 450 / 16. */
	assert_int_equal(feed(&s, (uint16_t)n, n, 5000), 0);
	n++;
	cw_rtcp_rx_report(&s, 0, &rb);
	assert_int_equal(rb.jitter, 450 / 16);
	/* Back on pace: another |D| of 450, J += (450 - J) / 16. */
	assert_int_equal(feed(&s, (uint16_t)n, n, 0), 0);
	cw_rtcp_rx_report(&s, 0, &rb);
	assert_int_equal(rb.jitter, (450 + 450 - ((450 + 8) >> 4)) >> 4);
}

static void a_sequence_jump_counts_only_once_the_next_packet_follows_it(void **state)
{
	struct cw_rtcp_rx_stats s;
	struct cw_rtcp_report_block rb;

	(void)state;
	cw_rtcp_rx_init(&s, 1, 90000);
	for (uint16_t seq = 0; seq <= 100; seq++)
		assert_int_equal(feed(&s, seq, seq, 0), 0);
	/* A stray packet far ahead is held back; the stream goes on. */
	assert_int_equal(feed(&s, 20000, 101, 0), -ERANGE);
	assert_int_equal(feed(&s, 101, 101, 0), 0);
	cw_rtcp_rx_report(&s, 0, &rb);
	assert_int_equal(rb.ext_high_seq, 101);
	assert_int_equal(rb.cumulative_lost, 0);

	/* The sender restarted: two in a row from the new place restart the statistics. */
	assert_int_equal(feed(&s, 40000, 102, 0), -ERANGE);
	assert_int_equal(feed(&s, 40001, 103, 0), 0);
	assert_int_equal(feed(&s, 40002, 104, 0), 0);
	cw_rtcp_rx_report(&s, 0, &rb);
	assert_int_equal(rb.ext_high_seq, 40002);
	assert_int_equal(rb.cumulative_lost, 0);
	assert_int_equal(rb.fraction_lost, 0);
}

static void lsr_and_dlsr_come_from_the_last_sender_report(void **state)
{
	struct cw_rtcp_rx_stats s;
	struct cw_rtcp_report_block rb;

	(void)state;
	cw_rtcp_rx_init(&s, 1, 90000);
	assert_int_equal(feed(&s, 1, 0, 0), 0);
	cw_rtcp_rx_sr(&s, 0xe76b4f3c80000000ull, 1000000);
	cw_rtcp_rx_report(&s, 2500000, &rb);
	assert_int_equal(rb.lsr, 0x4f3c8000);
	assert_int_equal(rb.dlsr, 0x18000); /* 1.5 s in 1/65536 s */
	cw_rtcp_rx_report(&s, 900000, &rb); /* a clock earlier than the SR: no delay */
	assert_int_equal(rb.dlsr, 0);
}

static void ntp_helpers_and_round_trip_time(void **state)
{
	int64_t rtt = -1;

	(void)state;
	assert_int_equal(cw_rtcp_ntp_from_unix_us(0), (uint64_t)2208988800u << 32);
	assert_int_equal(cw_rtcp_ntp_from_unix_us(1500000),
			 ((uint64_t)2208988801u << 32) | 0x80000000u);
	assert_int_equal(cw_rtcp_ntp_mid(0xe76b4f3c80000000ull), 0x4f3c8000);

	/* The SR left at lsr, was held dlsr, and the report came back 100 ms later. */
	assert_int_equal(cw_rtcp_rtt_us(0x4f3c8000 + 0x18000 + 6554, 0x4f3c8000, 0x18000, &rtt), 0);
	assert_int_equal(rtt, (int64_t)6554 * 1000000 / 65536);
	assert_int_equal(cw_rtcp_rtt_us(0x4f3c8000, 0x4f3c8000, 0x18000, &rtt), 0);
	assert_int_equal(rtt, 0); /* negative: clamped */
	assert_int_equal(cw_rtcp_rtt_us(5, 0, 0, &rtt), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_sender_report_compound_parses_field_by_field),
		cmocka_unit_test(sdes_yields_each_chunk_with_its_cname),
		cmocka_unit_test(sdes_skips_other_items_and_chunks_without_cname),
		cmocka_unit_test(a_receiver_report_with_remb_parses),
		cmocka_unit_test(a_pli_names_the_source_to_refresh),
		cmocka_unit_test(a_fir_carries_target_and_command_sequence),
		cmocka_unit_test(a_generic_nack_expands_pid_and_blp_across_the_wrap),
		cmocka_unit_test(a_nack_callback_can_stop_the_walk),
		cmocka_unit_test(transport_cc_feedback_decodes_every_chunk_kind_and_delta_size),
		cmocka_unit_test(a_negative_reference_time_and_a_long_run_decode),
		cmocka_unit_test(symbols_after_the_status_count_are_ignored),
		cmocka_unit_test(bye_lists_sources_and_an_optional_reason),
		cmocka_unit_test(app_xr_and_unknown_feedback_are_skipped),
		cmocka_unit_test(a_remb_tag_outside_the_packet_does_not_count),
		cmocka_unit_test(truncated_headers_and_bad_versions_are_rejected),
		cmocka_unit_test(a_length_overrun_inside_a_compound_is_rejected),
		cmocka_unit_test(padding_counts_are_checked_on_every_packet),
		cmocka_unit_test(reports_with_more_blocks_than_bytes_are_rejected),
		cmocka_unit_test(malformed_sdes_chunks_are_rejected),
		cmocka_unit_test(malformed_bye_is_rejected),
		cmocka_unit_test(malformed_feedback_is_rejected),
		cmocka_unit_test(malformed_transport_cc_is_rejected),
		cmocka_unit_test(sender_reports_round_trip),
		cmocka_unit_test(receiver_reports_round_trip_with_0_to_31_blocks),
		cmocka_unit_test(cumulative_loss_is_clamped_to_24_bits),
		cmocka_unit_test(sdes_cnames_of_every_alignment_round_trip),
		cmocka_unit_test(bye_pli_and_fir_round_trip),
		cmocka_unit_test(remb_bitrates_round_trip_rounded_down_to_18_bits),
		cmocka_unit_test(remb_exponents_that_overflow_64_bits_saturate),
		cmocka_unit_test(nack_packs_tricky_loss_patterns),
		cmocka_unit_test(nack_of_random_losses_expands_to_the_same_list),
		cmocka_unit_test(nack_builder_refuses_empty_lists_and_small_buffers),
		cmocka_unit_test(a_compound_built_piece_by_piece_validates),
		cmocka_unit_test(loss_and_fraction_lost_follow_appendix_a3_across_the_wrap),
		cmocka_unit_test(reordered_packets_are_counted_without_moving_the_highest),
		cmocka_unit_test(jitter_follows_appendix_a8),
		cmocka_unit_test(a_sequence_jump_counts_only_once_the_next_packet_follows_it),
		cmocka_unit_test(lsr_and_dlsr_come_from_the_last_sender_report),
		cmocka_unit_test(ntp_helpers_and_round_trip_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
