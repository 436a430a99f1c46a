/* Unit tests of RTP: demux, headers, extensions, rewrites, sequence numbers, VP8/H.264, RTX. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rtc/rtp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Opus from a browser: one-byte extensions audio level (id 1), transport-wide sequence
 * number (id 3) and mid (id 4), then a three-byte Opus frame. */
static const uint8_t opus[] = {
	0x90, 0x6f, 0x12, 0x34, /* V=2 X=1, PT 111, seq 0x1234 */
	0x00, 0x01, 0xe2, 0x40, /* timestamp 123456 */
	0xde, 0xad, 0xbe, 0xef, /* SSRC */
	0xbe, 0xde, 0x00, 0x02, /* one-byte extensions, 2 words */
	0x10, 0xaa,		/* id 1 L=0: V=1, level 42 */
	0x31, 0x01, 0x23,	/* id 3 L=1: transport seq 0x0123 */
	0x40, 0x30,		/* id 4 L=0: mid "0" */
	0x00,			/* padding */
	0xfc, 0xff, 0xfe,	/* Opus */
};

/* VP8 with two CSRCs, the marker bit, a two-byte extension block and RTP padding. */
static const uint8_t vp8_csrc_twobyte[] = {
	0xb2, 0xe0, 0xff, 0xff,	     /* V=2 P=1 X=1 CC=2, M=1 PT 96, seq 65535 */
	0xff, 0xff, 0xff, 0xfe,	     /* timestamp */
	0x00, 0x00, 0x00, 0x01,	     /* SSRC 1 */
	0x00, 0x00, 0x00, 0x02,	     /* CSRC 2 */
	0x00, 0x00, 0x00, 0x03,	     /* CSRC 3 */
	0x10, 0x00, 0x00, 0x03,	     /* two-byte extensions (appbits 0), 3 words */
	0x01, 0x01, 0x85,	     /* id 1 len 1 */
	0x00,			     /* padding */
	0x14, 0x00,		     /* id 20 len 0 */
	0x0f, 0x03, 'a',  'b',	'c', /* id 15 len 3 */
	0x00,			     /* padding */
	0x10, 0x01,		     /* VP8 payload */
	0x00, 0x00, 0x03,	     /* RTP padding, count 3 */
};

static void parse_ok(struct cw_rtp *p, const uint8_t *buf, size_t len)
{
	assert_int_equal(cw_rtp_parse(p, buf, len), 0);
}

static void datagrams_are_told_apart_by_their_first_bytes(void **state)
{
	static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00};
	static const uint8_t dtls[] = {0x16, 0xfe, 0xfd};
	static const uint8_t turn[] = {0x40, 0x00};
	static const uint8_t zrtp[] = {0x10, 0x00};
	static const uint8_t sr[] = {0x80, 0xc8};
	static const uint8_t rr[] = {0x81, 0xc9};
	static const uint8_t rtcp_edge[] = {0x80, 0xdf};  /* 223 */
	static const uint8_t rtp_marker[] = {0x80, 0xe0}; /* PT 96 with the marker: 224 */
	static const uint8_t rtp_191[] = {0xbf, 0x60};
	static const uint8_t v3[] = {0xc0, 0x60}; /* 192: outside 128..191 */
	static const uint8_t gap[] = {0x50, 0x00};

	(void)state;
	assert_int_equal(cw_rtp_demux(stun, N(stun)), CW_RTP_DEMUX_STUN);
	assert_int_equal(cw_rtp_demux(dtls, N(dtls)), CW_RTP_DEMUX_DTLS);
	assert_int_equal(cw_rtp_demux(turn, N(turn)), CW_RTP_DEMUX_TURN);
	assert_int_equal(cw_rtp_demux(zrtp, N(zrtp)), CW_RTP_DEMUX_ZRTP);
	assert_int_equal(cw_rtp_demux(opus, N(opus)), CW_RTP_DEMUX_RTP);
	assert_int_equal(cw_rtp_demux(sr, N(sr)), CW_RTP_DEMUX_RTCP);
	assert_int_equal(cw_rtp_demux(rr, N(rr)), CW_RTP_DEMUX_RTCP);
	assert_int_equal(cw_rtp_demux(rtcp_edge, N(rtcp_edge)), CW_RTP_DEMUX_RTCP);
	assert_int_equal(cw_rtp_demux(rtp_marker, N(rtp_marker)), CW_RTP_DEMUX_RTP);
	assert_int_equal(cw_rtp_demux(rtp_191, N(rtp_191)), CW_RTP_DEMUX_RTP);
	assert_int_equal(cw_rtp_demux(v3, N(v3)), CW_RTP_DEMUX_OTHER);
	assert_int_equal(cw_rtp_demux(gap, N(gap)), CW_RTP_DEMUX_OTHER);
	assert_int_equal(cw_rtp_demux(sr, 1), CW_RTP_DEMUX_OTHER); /* RTP or RTCP? unknown */
	assert_int_equal(cw_rtp_demux(sr, 0), CW_RTP_DEMUX_OTHER);
	assert_int_equal(cw_rtp_demux(NULL, 4), CW_RTP_DEMUX_OTHER);
}

static void an_opus_packet_parses_field_by_field(void **state)
{
	struct cw_rtp p;

	(void)state;
	parse_ok(&p, opus, N(opus));
	assert_ptr_equal(p.buf, opus);
	assert_int_equal(p.len, N(opus));
	assert_false(p.padding);
	assert_true(p.extension);
	assert_false(p.marker);
	assert_int_equal(p.cc, 0);
	assert_int_equal(p.pt, 111);
	assert_int_equal(p.seq, 0x1234);
	assert_int_equal(p.ts, 123456);
	assert_int_equal(p.ssrc, 0xdeadbeef);
	assert_int_equal(p.ext_profile, 0xBEDE);
	assert_int_equal(p.ext_off, 16);
	assert_int_equal(p.ext_len, 8);
	assert_int_equal(p.payload_off, 24);
	assert_int_equal(p.payload_len, 3);
	assert_int_equal(p.pad_len, 0);
	assert_memory_equal(opus + p.payload_off, "\xfc\xff\xfe", 3);
}

static void csrcs_marker_two_byte_extensions_and_padding_parse(void **state)
{
	struct cw_rtp p;

	(void)state;
	parse_ok(&p, vp8_csrc_twobyte, N(vp8_csrc_twobyte));
	assert_true(p.padding);
	assert_true(p.marker);
	assert_int_equal(p.pt, 96);
	assert_int_equal(p.seq, 65535);
	assert_int_equal(p.ts, 0xfffffffe);
	assert_int_equal(p.ssrc, 1);
	assert_int_equal(p.cc, 2);
	assert_int_equal(cw_rtp_csrc(&p, 0), 2);
	assert_int_equal(cw_rtp_csrc(&p, 1), 3);
	assert_int_equal(cw_rtp_csrc(&p, 2), 0); /* past the count */
	assert_int_equal(p.ext_profile, 0x1000);
	assert_int_equal(p.ext_off, 24);
	assert_int_equal(p.ext_len, 12);
	assert_int_equal(p.payload_off, 36);
	assert_int_equal(p.pad_len, 3);
	assert_int_equal(p.payload_len, 2);
}

static void one_byte_extensions_iterate_in_order_skipping_padding(void **state)
{
	struct cw_rtp p;
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e;

	(void)state;
	parse_ok(&p, opus, N(opus));
	cw_rtp_ext_iter_init(&it, &p);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(e.id, 1);
	assert_int_equal(e.len, 1);
	assert_int_equal(e.off, 17);
	assert_ptr_equal(e.data, opus + 17);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(e.id, 3);
	assert_int_equal(e.len, 2);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(e.id, 4);
	assert_int_equal(e.len, 1);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 0);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 0);
}

static void two_byte_extensions_allow_empty_elements_and_high_ids(void **state)
{
	struct cw_rtp p;
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e;

	(void)state;
	parse_ok(&p, vp8_csrc_twobyte, N(vp8_csrc_twobyte));
	cw_rtp_ext_iter_init(&it, &p);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(e.id, 1);
	assert_int_equal(e.len, 1);
	assert_int_equal(e.data[0], 0x85);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(e.id, 20);
	assert_int_equal(e.len, 0);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(e.id, 15); /* an ordinary id in this form */
	assert_memory_equal(e.data, "abc", 3);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 0);

	assert_int_equal(cw_rtp_ext_find(&p, 20, &e), 0);
	assert_int_equal(cw_rtp_ext_find(&p, 2, &e), -ENOENT);
}

static void one_byte_id_15_ends_the_extension_list(void **state)
{
	static const uint8_t pkt[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0xbe, 0xde, 0x00, 0x01, /* one-byte, 1 word */
		0x10, 0x07,		/* id 1 */
		0xf5, 0x22,		/* id 15: stop; what follows is not read */
	};
	uint8_t zero_id[N(pkt)];
	struct cw_rtp p;
	struct cw_rtp_ext e;

	(void)state;
	parse_ok(&p, pkt, N(pkt));
	assert_int_equal(cw_rtp_ext_find(&p, 1, &e), 0);
	assert_int_equal(cw_rtp_ext_find(&p, 2, &e), -ENOENT);

	/* Id 0 with a length is not a padding byte either: it ends the list too. */
	memcpy(zero_id, pkt, sizeof(zero_id));
	zero_id[18] = 0x05;
	parse_ok(&p, zero_id, sizeof(zero_id));
	assert_int_equal(cw_rtp_ext_find(&p, 1, &e), 0);
	assert_int_equal(cw_rtp_ext_find(&p, 2, &e), -ENOENT);
}

static void unknown_extension_profiles_yield_no_elements(void **state)
{
	static const uint8_t pkt[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0x12, 0x34, 0x00, 0x01, /* profile 0x1234, 1 word */
		0x10, 0x07, 0x00, 0x00, /* looks like one-byte elements, but is not */
	};
	struct cw_rtp p;
	struct cw_rtp_ext e;
	uint8_t out[64];
	size_t len;

	(void)state;
	parse_ok(&p, pkt, N(pkt));
	assert_int_equal(p.ext_profile, 0x1234);
	assert_int_equal(cw_rtp_ext_find(&p, 1, &e), -ENOENT);
	assert_int_equal(
		cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 4, (const uint8_t *)"1", 1),
		-ENOTSUP);
}

static void packets_without_extensions_have_none_to_find(void **state)
{
	static const uint8_t pkt[] = {0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa};
	struct cw_rtp p;
	struct cw_rtp_ext e;
	bool v;
	uint8_t level;

	(void)state;
	parse_ok(&p, pkt, N(pkt));
	assert_false(p.extension);
	assert_int_equal(p.ext_profile, 0);
	assert_int_equal(p.payload_off, 12);
	assert_int_equal(p.payload_len, 1);
	assert_int_equal(cw_rtp_ext_find(&p, 1, &e), -ENOENT);
	assert_int_equal(cw_rtp_audio_level(&p, 1, &v, &level), -ENOENT);
}

static void audio_level_transport_seq_and_mid_are_read_by_negotiated_id(void **state)
{
	struct cw_rtp p;
	bool voice = false;
	uint8_t level = 0;
	uint16_t tseq = 0;
	const char *mid = NULL;
	size_t mid_len = 0;

	(void)state;
	parse_ok(&p, opus, N(opus));
	assert_int_equal(cw_rtp_audio_level(&p, 1, &voice, &level), 0);
	assert_true(voice);
	assert_int_equal(level, 42);
	assert_int_equal(cw_rtp_twcc_seq(&p, 3, &tseq), 0);
	assert_int_equal(tseq, 0x0123);
	assert_int_equal(cw_rtp_mid(&p, 4, &mid, &mid_len), 0);
	assert_int_equal(mid_len, 1);
	assert_memory_equal(mid, "0", 1);
	/* Another negotiation maps the ids elsewhere. */
	assert_int_equal(cw_rtp_audio_level(&p, 2, &voice, &level), -ENOENT);
	assert_int_equal(cw_rtp_twcc_seq(&p, 5, &tseq), -ENOENT);
	/* A one-byte audio level is too short to be a transport sequence number. */
	assert_int_equal(cw_rtp_twcc_seq(&p, 1, &tseq), -EBADMSG);
}

static void silence_without_voice_reads_as_level_127(void **state)
{
	uint8_t pkt[N(opus)];
	struct cw_rtp p;
	bool voice = true;
	uint8_t level = 0;

	(void)state;
	memcpy(pkt, opus, sizeof(pkt));
	pkt[17] = 0x7f;
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(cw_rtp_audio_level(&p, 1, &voice, &level), 0);
	assert_false(voice);
	assert_int_equal(level, 127);
}

static void empty_two_byte_elements_are_refused_as_levels_and_mids(void **state)
{
	struct cw_rtp p;
	bool v;
	uint8_t level;
	const char *mid;
	size_t n;

	(void)state;
	parse_ok(&p, vp8_csrc_twobyte, N(vp8_csrc_twobyte));
	assert_int_equal(cw_rtp_audio_level(&p, 20, &v, &level), -EBADMSG);
	assert_int_equal(cw_rtp_mid(&p, 20, &mid, &n), -EBADMSG);
	assert_int_equal(cw_rtp_mid(&p, 15, &mid, &n), 0);
	assert_int_equal(n, 3);
}

static void transport_seq_is_rewritten_in_place(void **state)
{
	uint8_t pkt[N(opus)], other[N(opus)];
	struct cw_rtp p;
	uint16_t tseq;

	(void)state;
	memcpy(pkt, opus, sizeof(pkt));
	memcpy(other, opus, sizeof(other));
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(cw_rtp_set_twcc_seq(pkt, &p, 3, 0xbeef), 0);
	assert_int_equal(cw_rtp_twcc_seq(&p, 3, &tseq), 0);
	assert_int_equal(tseq, 0xbeef);
	assert_memory_equal(pkt, opus, 19); /* nothing before it moved */
	assert_memory_equal(pkt + 21, opus + 21, sizeof(pkt) - 21);
	assert_int_equal(cw_rtp_set_twcc_seq(pkt, &p, 9, 1), -ENOENT);
	assert_int_equal(cw_rtp_set_twcc_seq(other, &p, 3, 1), -EINVAL); /* p is not other */
}

static void a_shorter_mid_is_rewritten_in_place_with_padding(void **state)
{
	static const uint8_t pkt_mid3[] = {
		0x90, 0x6f, 0x00, 0x01, /* V=2 X=1, PT 111, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0xbe, 0xde, 0x00, 0x02, /* one-byte, 2 words */
		0x42, 'a',  'b',  'c',	/* id 4 L=2: mid "abc" */
		0x10, 0x05, 0x00, 0x00, /* id 1: level 5, padding */
		0x99,			/* payload */
	};
	uint8_t pkt[N(pkt_mid3)];
	struct cw_rtp p;
	const char *mid;
	size_t n;
	bool v;
	uint8_t level;

	(void)state;
	memcpy(pkt, pkt_mid3, sizeof(pkt));
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(cw_rtp_set_mid(pkt, &p, 4, "7", 1), 0);
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(cw_rtp_mid(&p, 4, &mid, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(mid, "7", 1);
	assert_memory_equal(pkt + 16,
			    "\x40"
			    "7\x00\x00",
			    4);
	/* The element after it is still found, and the payload is untouched. */
	assert_int_equal(cw_rtp_audio_level(&p, 1, &v, &level), 0);
	assert_int_equal(level, 5);
	assert_int_equal(pkt[24], 0x99);

	/* Longer than the slot: the caller must copy instead. */
	assert_int_equal(cw_rtp_set_mid(pkt, &p, 4, "12", 2), -ENOSPC);
	assert_int_equal(cw_rtp_set_mid(pkt, &p, 4, "", 0), -EINVAL);
	assert_int_equal(cw_rtp_set_mid(pkt, &p, 6, "1", 1), -ENOENT);
}

static void a_two_byte_mid_shrinks_in_place_too(void **state)
{
	uint8_t pkt[N(vp8_csrc_twobyte)];
	struct cw_rtp p;
	const char *mid;
	size_t n;

	(void)state;
	memcpy(pkt, vp8_csrc_twobyte, sizeof(pkt));
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(cw_rtp_set_mid(pkt, &p, 15, "z", 1), 0);
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(cw_rtp_mid(&p, 15, &mid, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(mid, "z", 1);
}

static void copying_with_a_longer_mid_keeps_the_other_extensions(void **state)
{
	uint8_t out[128];
	size_t len = 0;
	struct cw_rtp p, q;
	const char *mid;
	size_t n;
	bool v;
	uint8_t level;
	uint16_t tseq;

	(void)state;
	parse_ok(&p, opus, N(opus));
	assert_int_equal(
		cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 4, (const uint8_t *)"video-1", 7),
		0);
	parse_ok(&q, out, len);
	assert_int_equal(q.ext_profile, 0xBEDE);
	assert_int_equal(q.ext_len % 4, 0);
	assert_int_equal(cw_rtp_mid(&q, 4, &mid, &n), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(mid, "video-1", 7);
	assert_int_equal(cw_rtp_audio_level(&q, 1, &v, &level), 0);
	assert_int_equal(level, 42);
	assert_int_equal(cw_rtp_twcc_seq(&q, 3, &tseq), 0);
	assert_int_equal(tseq, 0x0123);
	/* The fixed header and the payload are carried over. */
	assert_memory_equal(out + 1, opus + 1, 11);
	assert_int_equal(q.payload_len, 3);
	assert_memory_equal(out + q.payload_off, "\xfc\xff\xfe", 3);

	/* Too small a buffer, at each stage. */
	for (size_t sz = 0; sz < len; sz++)
		assert_int_equal(
			cw_rtp_copy_set_ext(out, sz, &n, &p, 4, (const uint8_t *)"video-1", 7),
			-ENOSPC);
}

static void a_mid_too_long_for_one_byte_switches_to_two_byte(void **state)
{
	static const char long_mid[] = "a-mid-of-twenty-chars";
	uint8_t out[128];
	size_t len;
	struct cw_rtp p, q;
	const char *mid;
	size_t n;
	bool v;
	uint8_t level;
	uint16_t tseq;

	(void)state;
	parse_ok(&p, opus, N(opus));
	assert_int_equal(cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 4,
					     (const uint8_t *)long_mid, strlen(long_mid)),
			 0);
	parse_ok(&q, out, len);
	assert_int_equal(q.ext_profile, 0x1000);
	assert_int_equal(cw_rtp_mid(&q, 4, &mid, &n), 0);
	assert_int_equal(n, strlen(long_mid));
	assert_memory_equal(mid, long_mid, n);
	assert_int_equal(cw_rtp_audio_level(&q, 1, &v, &level), 0);
	assert_int_equal(level, 42);
	assert_int_equal(cw_rtp_twcc_seq(&q, 3, &tseq), 0);
	assert_int_equal(tseq, 0x0123);
	assert_memory_equal(out + q.payload_off, "\xfc\xff\xfe", 3);

	/* Ids above 14 also need the two-byte form; 0 is never an id. */
	assert_int_equal(
		cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 200, (const uint8_t *)"x", 1), 0);
	parse_ok(&q, out, len);
	assert_int_equal(q.ext_profile, 0x1000);
	assert_int_equal(cw_rtp_mid(&q, 200, &mid, &n), 0);
	/* So does an empty element. */
	assert_int_equal(cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 5, (const uint8_t *)"", 0),
			 0);
	parse_ok(&q, out, len);
	assert_int_equal(q.ext_profile, 0x1000);
	assert_int_equal(cw_rtp_audio_level(&q, 1, &v, &level), 0);
	assert_int_equal(level, 42);
	assert_int_equal(cw_rtp_audio_level(&q, 5, &v, &level), -EBADMSG); /* found, empty */
	assert_int_equal(
		cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 0, (const uint8_t *)"x", 1),
		-EINVAL);
}

static void an_extension_is_added_to_a_packet_without_any(void **state)
{
	static const uint8_t pkt[] = {0x80, 0xe0, 0x00, 0x07, 0, 0, 0, 9, 0, 0, 0, 5, 0x10, 0x02};
	uint8_t out[64];
	size_t len;
	struct cw_rtp p, q;
	const char *mid;
	size_t n;

	(void)state;
	parse_ok(&p, pkt, N(pkt));
	assert_int_equal(
		cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 4, (const uint8_t *)"1", 1), 0);
	assert_int_equal(len, N(pkt) + 8);
	parse_ok(&q, out, len);
	assert_true(q.extension);
	assert_true(q.marker);
	assert_int_equal(q.ext_profile, 0xBEDE);
	assert_int_equal(cw_rtp_mid(&q, 4, &mid, &n), 0);
	assert_memory_equal(mid, "1", 1);
	assert_memory_equal(out + q.payload_off, "\x10\x02", 2);
}

static void removing_the_last_extension_drops_the_block(void **state)
{
	static const uint8_t pkt[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0xbe, 0xde, 0x00, 0x01, /* one-byte, 1 word */
		0x40, '0',  0x00, 0x00, /* id 4: mid "0", padding */
		0x77,			/* payload */
	};
	static const uint8_t want[] = {0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 1, 0x77};
	uint8_t out[64];
	size_t len;
	struct cw_rtp p, q;
	struct cw_rtp_ext e;

	(void)state;
	parse_ok(&p, pkt, N(pkt));
	assert_int_equal(cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 4, NULL, 0), 0);
	assert_int_equal(len, N(want));
	assert_memory_equal(out, want, len);

	/* Removing one of several keeps the rest. */
	parse_ok(&p, opus, N(opus));
	assert_int_equal(cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 3, NULL, 0), 0);
	parse_ok(&q, out, len);
	assert_int_equal(cw_rtp_ext_find(&q, 3, &e), -ENOENT);
	assert_int_equal(cw_rtp_ext_find(&q, 1, &e), 0);
	assert_int_equal(cw_rtp_ext_find(&q, 4, &e), 0);
	assert_int_equal(q.ext_len, 4);
}

static void copying_keeps_rtp_padding(void **state)
{
	uint8_t out[128];
	size_t len;
	struct cw_rtp p, q;

	(void)state;
	parse_ok(&p, vp8_csrc_twobyte, N(vp8_csrc_twobyte));
	assert_int_equal(
		cw_rtp_copy_set_ext(out, sizeof(out), &len, &p, 2, (const uint8_t *)"xy", 2), 0);
	parse_ok(&q, out, len);
	assert_int_equal(q.ext_profile, 0x1000);
	assert_int_equal(q.cc, 2);
	assert_int_equal(cw_rtp_csrc(&q, 1), 3);
	assert_true(q.padding);
	assert_int_equal(q.pad_len, 3);
	assert_int_equal(q.payload_len, 2);
}

static void forwarding_rewrites_touch_only_their_fields(void **state)
{
	uint8_t pkt[N(vp8_csrc_twobyte)];
	struct cw_rtp p;

	(void)state;
	memcpy(pkt, vp8_csrc_twobyte, sizeof(pkt));
	assert_int_equal(cw_rtp_set_ssrc(pkt, sizeof(pkt), 0xcafebabe), 0);
	assert_int_equal(cw_rtp_set_seq(pkt, sizeof(pkt), 42), 0);
	assert_int_equal(cw_rtp_set_ts(pkt, sizeof(pkt), 90000), 0);
	assert_int_equal(cw_rtp_set_pt(pkt, sizeof(pkt), 100), 0);
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(p.ssrc, 0xcafebabe);
	assert_int_equal(p.seq, 42);
	assert_int_equal(p.ts, 90000);
	assert_int_equal(p.pt, 100);
	assert_true(p.marker); /* kept by set_pt */
	assert_int_equal(pkt[0], vp8_csrc_twobyte[0]);
	assert_memory_equal(pkt + 12, vp8_csrc_twobyte + 12, sizeof(pkt) - 12);

	assert_int_equal(cw_rtp_set_marker(pkt, sizeof(pkt), false), 0);
	parse_ok(&p, pkt, sizeof(pkt));
	assert_false(p.marker);
	assert_int_equal(p.pt, 100);
	assert_int_equal(cw_rtp_set_marker(pkt, sizeof(pkt), true), 0);
	assert_int_equal(pkt[1], 0x80 | 100);

	assert_int_equal(cw_rtp_set_ssrc(pkt, 11, 1), -EBADMSG);
	assert_int_equal(cw_rtp_set_seq(pkt, 11, 1), -EBADMSG);
	assert_int_equal(cw_rtp_set_ts(pkt, 11, 1), -EBADMSG);
	assert_int_equal(cw_rtp_set_pt(pkt, 11, 1), -EBADMSG);
	assert_int_equal(cw_rtp_set_marker(pkt, 11, true), -EBADMSG);
}

/* ---- malformed packets ---- */

static void truncated_headers_are_rejected(void **state)
{
	struct cw_rtp p;

	(void)state;
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(cw_rtp_parse(&p, opus, len), -EBADMSG);
	/* Cutting into the extension block or its header. */
	for (size_t len = 12; len < 24; len++)
		assert_int_equal(cw_rtp_parse(&p, opus, len), -EBADMSG);
	assert_int_equal(cw_rtp_parse(&p, opus, 24), 0); /* an empty payload is fine */
	assert_int_equal(cw_rtp_parse(&p, NULL, 24), -EBADMSG);
}

static void versions_other_than_2_are_rejected(void **state)
{
	uint8_t pkt[N(opus)];
	struct cw_rtp p;

	(void)state;
	memcpy(pkt, opus, sizeof(pkt));
	for (unsigned v = 0; v < 4; v++) {
		pkt[0] = (uint8_t)((opus[0] & 0x3f) | v << 6);
		assert_int_equal(cw_rtp_parse(&p, pkt, sizeof(pkt)), v == 2 ? 0 : -EBADMSG);
	}
}

static void a_csrc_count_beyond_the_packet_is_rejected(void **state)
{
	/* CC=15 needs 72 bytes of header. */
	static const uint8_t pkt[] = {0x8f, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
	static const uint8_t two_cut[] = {0x82, 0x60, 0, 1, 0, 0, 0, 1, 0,
					  0,	0,    1, 0, 0, 0, 2, 0, 0};
	struct cw_rtp p;

	(void)state;
	assert_int_equal(cw_rtp_parse(&p, pkt, N(pkt)), -EBADMSG);
	/* CC=2: the second CSRC is cut short by two bytes. */
	assert_int_equal(cw_rtp_parse(&p, two_cut, N(two_cut)), -EBADMSG);
	assert_int_equal(cw_rtp_parse(&p, two_cut, 12 + 4), -EBADMSG);
}

static void an_extension_length_past_the_packet_is_rejected(void **state)
{
	uint8_t pkt[N(opus)];
	struct cw_rtp p;

	(void)state;
	memcpy(pkt, opus, sizeof(pkt));
	pkt[15] = 3; /* 12 bytes of extension, only 11 remain */
	assert_int_equal(cw_rtp_parse(&p, pkt, sizeof(pkt)), -EBADMSG);
	pkt[14] = 0xff;
	pkt[15] = 0xff;
	assert_int_equal(cw_rtp_parse(&p, pkt, sizeof(pkt)), -EBADMSG);
}

static void an_element_past_the_extension_block_is_rejected(void **state)
{
	static const uint8_t one[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0xbe, 0xde, 0x00, 0x01, /* one-byte, 1 word */
		0x10, 0x01, 0x22, 0xaa, /* id 1; id 2 L=2 needs 3 bytes, 1 left */
		0x55, 0x55,		/* payload: not part of the block */
	};
	static const uint8_t two[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0x10, 0x00, 0x00, 0x01, /* two-byte, 1 word */
		0x00, 0x00, 0x05, 0x04, /* padding, id 5 len 4: past the end */
		0x55, 0x55, 0x55, 0x55, /* payload */
	};
	static const uint8_t two_cut[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0x10, 0x00, 0x00, 0x01, /* two-byte, 1 word */
		0x00, 0x00, 0x00, 0x05, /* padding, id 5 and no length byte */
	};
	static const uint8_t short_by_one[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0xbe, 0xde, 0x00, 0x01, /* one-byte, 1 word */
		0x10, 0x01, 0x00, 0x30, /* id 1, padding, id 3 L=0 with no byte left */
		0x55, 0x55,		/* payload */
	};
	static const uint8_t two_short_by_one[] = {
		0x90, 0x60, 0x00, 0x01, /* V=2 X=1, PT 96, seq 1 */
		0x00, 0x00, 0x00, 0x01, /* timestamp */
		0x00, 0x00, 0x00, 0x01, /* SSRC */
		0x10, 0x00, 0x00, 0x01, /* two-byte, 1 word */
		0x00, 0x00, 0x05, 0x01, /* padding, id 5 len 1 with no byte left */
		0x55, 0x55,		/* payload */
	};
	struct cw_rtp p;
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e;
	bool v;
	uint8_t level;

	(void)state;
	parse_ok(&p, one, N(one));
	cw_rtp_ext_iter_init(&it, &p);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 1);
	assert_int_equal(cw_rtp_ext_next(&it, &e), -EBADMSG);
	assert_int_equal(cw_rtp_ext_next(&it, &e), 0); /* and stays ended */
	assert_int_equal(cw_rtp_ext_find(&p, 1, &e), 0);
	assert_int_equal(cw_rtp_audio_level(&p, 7, &v, &level), -EBADMSG);

	parse_ok(&p, two, N(two));
	assert_int_equal(cw_rtp_ext_find(&p, 5, &e), -EBADMSG);
	parse_ok(&p, two_cut, N(two_cut));
	assert_int_equal(cw_rtp_ext_find(&p, 5, &e), -EBADMSG);

	/* One byte short, with the payload right after: still outside the block. */
	parse_ok(&p, short_by_one, N(short_by_one));
	assert_int_equal(cw_rtp_ext_find(&p, 3, &e), -EBADMSG);
	parse_ok(&p, two_short_by_one, N(two_short_by_one));
	assert_int_equal(cw_rtp_ext_find(&p, 5, &e), -EBADMSG);
}

static void padding_must_be_counted_within_the_payload(void **state)
{
	uint8_t pkt[16] = {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 0x00, 0x00, 0x03};
	struct cw_rtp p;

	(void)state;
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(p.pad_len, 3);
	assert_int_equal(p.payload_len, 1);
	pkt[15] = 4; /* padding only: how browsers probe */
	parse_ok(&p, pkt, sizeof(pkt));
	assert_int_equal(p.payload_len, 0);
	pkt[15] = 5; /* longer than the payload */
	assert_int_equal(cw_rtp_parse(&p, pkt, sizeof(pkt)), -EBADMSG);
	pkt[15] = 0; /* the count includes itself */
	assert_int_equal(cw_rtp_parse(&p, pkt, sizeof(pkt)), -EBADMSG);
	pkt[15] = 255;
	assert_int_equal(cw_rtp_parse(&p, pkt, sizeof(pkt)), -EBADMSG);
	/* P set and nothing after the header. */
	assert_int_equal(cw_rtp_parse(&p, pkt, 12), -EBADMSG);
}

/* ---- sequence numbers ---- */

static void sequence_comparisons_wrap_at_65535(void **state)
{
	(void)state;
	assert_int_equal(cw_rtp_seq_diff(1, 0), 1);
	assert_int_equal(cw_rtp_seq_diff(0, 65535), 1);
	assert_int_equal(cw_rtp_seq_diff(65535, 0), -1);
	assert_int_equal(cw_rtp_seq_diff(10, 65530), 16);
	assert_int_equal(cw_rtp_seq_diff(5, 5), 0);
	assert_int_equal(cw_rtp_seq_diff(0x8000, 0), 0x8000);
	assert_int_equal(cw_rtp_seq_diff(0x8001, 0), -0x7fff);
	assert_true(cw_rtp_seq_newer(0, 65535));
	assert_true(cw_rtp_seq_newer(100, 99));
	assert_false(cw_rtp_seq_newer(65535, 0));
	assert_false(cw_rtp_seq_newer(7, 7));
}

static void extended_sequence_numbers_grow_across_wraps(void **state)
{
	struct cw_rtp_seq_unwrap u = {0};

	(void)state;
	assert_int_equal(cw_rtp_seq_unwrap(&u, 65533), 65533);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 65535), 65535);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 1), 65537);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 65534), 65534); /* late, from before the wrap */
	assert_int_equal(cw_rtp_seq_unwrap(&u, 2), 65538);
	/* A second wrap, in big steps that are each under half the space. */
	assert_int_equal(cw_rtp_seq_unwrap(&u, 30000), 95536);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 60000), 125536);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 100), 131172);
	assert_int_equal(u.last, 131172);
}

static void a_late_packet_does_not_move_the_reference(void **state)
{
	struct cw_rtp_seq_unwrap u = {0};

	(void)state;
	assert_int_equal(cw_rtp_seq_unwrap(&u, 30000), 30000);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 5000), 5000); /* 25000 late */
	/* 10000 after the newest, though more than half the space after the late one. */
	assert_int_equal(cw_rtp_seq_unwrap(&u, 40000), 40000);
}

static void a_packet_older_than_the_first_unwraps_below_it(void **state)
{
	struct cw_rtp_seq_unwrap u = {0};

	(void)state;
	assert_int_equal(cw_rtp_seq_unwrap(&u, 3), 3);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 65534), -2);
	assert_int_equal(cw_rtp_seq_unwrap(&u, 4), 4);
}

/* ---- VP8 ---- */

/* Start of a VP8 keyframe from a browser with temporal layers: X, I (15-bit PictureID
 * 0x1234), L (TL0PICIDX 5), T (TID 0, Y 1), then the frame tag, start code and 640x480. */
static const uint8_t vp8_key[] = {
	0x90, 0xe0, 0x92, 0x34, 0x05, 0x20,			    /* descriptor */
	0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, /* key frame header */
	0x39, 0x6b,
};

static void a_vp8_keyframe_start_is_recognised_with_its_descriptor(void **state)
{
	struct cw_rtp_vp8 d;

	(void)state;
	assert_int_equal(cw_rtp_vp8_parse(&d, vp8_key, N(vp8_key)), 0);
	assert_false(d.n);
	assert_true(d.s);
	assert_int_equal(d.pid, 0);
	assert_true(d.has_picture_id);
	assert_true(d.picture_id_15);
	assert_int_equal(d.picture_id, 0x1234);
	assert_true(d.has_tl0picidx);
	assert_int_equal(d.tl0picidx, 5);
	assert_true(d.has_tid);
	assert_int_equal(d.tid, 0);
	assert_true(d.y);
	assert_false(d.has_keyidx);
	assert_int_equal(d.desc_len, 6);
	assert_true(d.frame_start);
	assert_true(d.keyframe);
	assert_int_equal(d.width, 640);
	assert_int_equal(d.height, 480);
	assert_true(cw_rtp_vp8_is_keyframe(vp8_key, N(vp8_key)));
}

static void vp8_interframes_and_later_partitions_are_not_keyframes(void **state)
{
	/* 7-bit PictureID 0x55, no other extensions; frame tag with P=1. */
	static const uint8_t inter[] = {0x90, 0x80, 0x55, 0x31, 0x01, 0x00};
	/* Continuation packet of the keyframe (S=0). */
	static const uint8_t cont[] = {0x80, 0x80, 0x55, 0x50, 0x42};
	/* Start of partition 1 (S=1, PID=1). */
	static const uint8_t part1[] = {0x11, 0x50, 0x42};
	/* The minimal descriptor: one byte, then a key frame tag. */
	static const uint8_t minimal[] = {0x10, 0x50, 0x42, 0x00};
	struct cw_rtp_vp8 d;

	(void)state;
	assert_int_equal(cw_rtp_vp8_parse(&d, inter, N(inter)), 0);
	assert_false(d.picture_id_15);
	assert_int_equal(d.picture_id, 0x55);
	assert_int_equal(d.desc_len, 3);
	assert_true(d.frame_start);
	assert_false(d.keyframe);
	assert_false(cw_rtp_vp8_is_keyframe(inter, N(inter)));
	assert_false(cw_rtp_vp8_is_keyframe(cont, N(cont)));
	assert_int_equal(cw_rtp_vp8_parse(&d, part1, N(part1)), 0);
	assert_int_equal(d.pid, 1);
	assert_false(d.frame_start);
	assert_false(d.keyframe);
	assert_true(cw_rtp_vp8_is_keyframe(minimal, N(minimal)));
	assert_int_equal(cw_rtp_vp8_parse(&d, minimal, N(minimal)), 0);
	assert_int_equal(d.width, 0); /* too short to carry dimensions */
}

static void vp8_keyidx_and_non_reference_flags_parse(void **state)
{
	/* X, N, S; extension K only: KEYIDX 17. */
	static const uint8_t pkt[] = {0xb0, 0x10, 0x11, 0x31};
	struct cw_rtp_vp8 d;

	(void)state;
	assert_int_equal(cw_rtp_vp8_parse(&d, pkt, N(pkt)), 0);
	assert_true(d.n);
	assert_true(d.has_keyidx);
	assert_int_equal(d.keyidx, 17);
	assert_false(d.has_tid);
	assert_false(d.has_picture_id);
	assert_int_equal(d.desc_len, 3);
}

static void truncated_vp8_descriptors_are_rejected(void **state)
{
	static const uint8_t x_only[] = {0x90};
	static const uint8_t pid15_cut[] = {0x90, 0x80, 0x92};
	static const uint8_t l_cut[] = {0x90, 0xc0, 0x12};
	static const uint8_t tk_cut[] = {0x90, 0x30};
	static const uint8_t no_payload[] = {0x90, 0x80, 0x12};
	struct cw_rtp_vp8 d;

	(void)state;
	assert_int_equal(cw_rtp_vp8_parse(&d, x_only, N(x_only)), -EBADMSG);
	assert_int_equal(cw_rtp_vp8_parse(&d, pid15_cut, N(pid15_cut)), -EBADMSG);
	assert_int_equal(cw_rtp_vp8_parse(&d, l_cut, N(l_cut)), -EBADMSG);
	assert_int_equal(cw_rtp_vp8_parse(&d, tk_cut, N(tk_cut)), -EBADMSG);
	assert_int_equal(cw_rtp_vp8_parse(&d, no_payload, N(no_payload)), -EBADMSG);
	assert_int_equal(cw_rtp_vp8_parse(&d, vp8_key, 0), -EBADMSG);
	for (size_t len = 0; len <= 6; len++)
		assert_int_equal(cw_rtp_vp8_parse(&d, vp8_key, len), -EBADMSG);
	assert_false(cw_rtp_vp8_is_keyframe(vp8_key, 6));
}

static void vp8_picture_id_and_tl0picidx_are_rewritten_in_place(void **state)
{
	uint8_t pkt[N(vp8_key)];
	uint8_t short_pid[] = {0x90, 0x80, 0x55, 0x31};
	struct cw_rtp_vp8 d;

	(void)state;
	memcpy(pkt, vp8_key, sizeof(pkt));
	assert_int_equal(cw_rtp_vp8_parse(&d, pkt, sizeof(pkt)), 0);
	assert_int_equal(cw_rtp_vp8_set_picture_id(pkt, &d, 0x7ffe), 0);
	assert_int_equal(cw_rtp_vp8_set_tl0picidx(pkt, &d, 200), 0);
	assert_int_equal(cw_rtp_vp8_parse(&d, pkt, sizeof(pkt)), 0);
	assert_int_equal(d.picture_id, 0x7ffe);
	assert_int_equal(d.tl0picidx, 200);
	assert_true(d.keyframe);
	assert_int_equal(cw_rtp_vp8_set_picture_id(pkt, &d, 0x8001), 0); /* 15 bits kept */
	assert_int_equal(cw_rtp_vp8_parse(&d, pkt, sizeof(pkt)), 0);
	assert_int_equal(d.picture_id, 1);

	assert_int_equal(cw_rtp_vp8_parse(&d, short_pid, sizeof(short_pid)), 0);
	assert_int_equal(cw_rtp_vp8_set_picture_id(short_pid, &d, 0x1ff), 0);
	assert_int_equal(cw_rtp_vp8_parse(&d, short_pid, sizeof(short_pid)), 0);
	assert_false(d.picture_id_15);
	assert_int_equal(d.picture_id, 0x7f);
	assert_int_equal(cw_rtp_vp8_set_tl0picidx(short_pid, &d, 1), -ENOENT);
	assert_int_equal(cw_rtp_vp8_parse(&d, (const uint8_t *)"\x10\x00", 2), 0);
	assert_int_equal(cw_rtp_vp8_set_picture_id(short_pid, &d, 1), -ENOENT);
}

/* ---- H.264 ---- */

static void h264_idr_and_sps_are_keyframes_alone_aggregated_or_fragmented(void **state)
{
	static const uint8_t idr[] = {0x65, 0x88, 0x84};
	static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f};
	static const uint8_t stap_key[] = {
		0x78,				    /* STAP-A */
		0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, /* SPS */
		0x00, 0x02, 0x68, 0xce,		    /* PPS */
		0x00, 0x03, 0x65, 0x88, 0x84,	    /* IDR */
	};
	static const uint8_t fu_start_idr[] = {0x7c, 0x85, 0x88, 0x84};
	static const uint8_t fu_start_sps[] = {0x7c, 0x87, 0x42};

	(void)state;
	assert_true(cw_rtp_h264_is_keyframe(idr, N(idr)));
	assert_true(cw_rtp_h264_is_keyframe(sps, N(sps)));
	assert_true(cw_rtp_h264_is_keyframe(stap_key, N(stap_key)));
	assert_true(cw_rtp_h264_is_keyframe(fu_start_idr, N(fu_start_idr)));
	assert_true(cw_rtp_h264_is_keyframe(fu_start_sps, N(fu_start_sps)));
}

static void h264_other_nals_and_later_fragments_are_not_keyframes(void **state)
{
	static const uint8_t slice[] = {0x41, 0x9a};
	static const uint8_t pps[] = {0x68, 0xce};
	static const uint8_t sei[] = {0x06, 0x05};
	static const uint8_t stap_inter[] = {0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x41, 0x9a};
	static const uint8_t fu_middle_idr[] = {0x7c, 0x05, 0x88};
	static const uint8_t fu_end_idr[] = {0x7c, 0x45, 0x88};
	static const uint8_t fu_start_slice[] = {0x7c, 0x81, 0x9a};
	static const uint8_t fu_header_cut[] = {0x7c};
	static const uint8_t stap_b[] = {0x79, 0x00, 0x01, 0x00, 0x01, 0x65};

	(void)state;
	assert_false(cw_rtp_h264_is_keyframe(slice, N(slice)));
	assert_false(cw_rtp_h264_is_keyframe(pps, N(pps)));
	assert_false(cw_rtp_h264_is_keyframe(sei, N(sei)));
	assert_false(cw_rtp_h264_is_keyframe(stap_inter, N(stap_inter)));
	assert_false(cw_rtp_h264_is_keyframe(fu_middle_idr, N(fu_middle_idr)));
	assert_false(cw_rtp_h264_is_keyframe(fu_end_idr, N(fu_end_idr)));
	assert_false(cw_rtp_h264_is_keyframe(fu_start_slice, N(fu_start_slice)));
	assert_false(cw_rtp_h264_is_keyframe(fu_header_cut, N(fu_header_cut)));
	assert_false(cw_rtp_h264_is_keyframe(stap_b, N(stap_b))); /* not used by WebRTC */
	assert_false(cw_rtp_h264_is_keyframe(slice, 0));
	assert_false(cw_rtp_h264_is_keyframe(NULL, 3));
}

static void malformed_h264_aggregates_are_not_keyframes(void **state)
{
	static const uint8_t size_past_end[] = {0x78, 0x00, 0x09, 0x65, 0x88};
	static const uint8_t size_zero[] = {0x78, 0x00, 0x00, 0x00, 0x01, 0x65};
	static const uint8_t trailing_byte[] = {0x78, 0x00, 0x01, 0x65, 0x00};
	static const uint8_t key_then_cut[] = {0x78, 0x00, 0x01, 0x65, 0x00, 0x05, 0x41};

	(void)state;
	assert_false(cw_rtp_h264_is_keyframe(size_past_end, N(size_past_end)));
	assert_false(cw_rtp_h264_is_keyframe(size_zero, N(size_zero)));
	assert_false(cw_rtp_h264_is_keyframe(trailing_byte, N(trailing_byte)));
	assert_false(cw_rtp_h264_is_keyframe(key_then_cut, N(key_then_cut)));
	assert_true(cw_rtp_h264_is_keyframe(key_then_cut, 4));
}

/* ---- RTX ---- */

static void an_rtx_packet_carries_the_original_seq_before_the_payload(void **state)
{
	uint8_t out[128];
	size_t len;
	struct cw_rtp orig, rtx;
	uint16_t osn;
	bool v;
	uint8_t level;

	(void)state;
	parse_ok(&orig, opus, N(opus));
	assert_int_equal(cw_rtp_rtx_build(out, sizeof(out), &len, &orig, 97, 0x11223344, 500), 0);
	assert_int_equal(len, N(opus) + 2);
	parse_ok(&rtx, out, len);
	assert_int_equal(rtx.pt, 97);
	assert_int_equal(rtx.ssrc, 0x11223344);
	assert_int_equal(rtx.seq, 500);
	assert_int_equal(rtx.ts, orig.ts);
	assert_int_equal(rtx.marker, orig.marker);
	assert_int_equal(cw_rtp_rtx_osn(&rtx, &osn), 0);
	assert_int_equal(osn, 0x1234);
	assert_int_equal(rtx.payload_len, 5);
	assert_memory_equal(out + rtx.payload_off, "\x12\x34\xfc\xff\xfe", 5);
	assert_int_equal(cw_rtp_audio_level(&rtx, 1, &v, &level), 0); /* extensions kept */
	assert_int_equal(level, 42);

	for (size_t sz = 0; sz < len; sz++)
		assert_int_equal(cw_rtp_rtx_build(out, sz, &len, &orig, 97, 1, 1), -ENOSPC);
}

static void restoring_an_rtx_packet_gives_back_the_original_bytes(void **state)
{
	uint8_t rtxbuf[128], back[128];
	size_t rlen, blen;
	struct cw_rtp orig, rtx;

	(void)state;
	parse_ok(&orig, opus, N(opus));
	assert_int_equal(cw_rtp_rtx_build(rtxbuf, sizeof(rtxbuf), &rlen, &orig, 97, 7, 9), 0);
	parse_ok(&rtx, rtxbuf, rlen);
	assert_int_equal(cw_rtp_rtx_restore(back, sizeof(back), &blen, &rtx, 111, 0xdeadbeef), 0);
	assert_int_equal(blen, N(opus));
	assert_memory_equal(back, opus, blen);
	assert_int_equal(cw_rtp_rtx_restore(back, blen - 1, &blen, &rtx, 111, 1), -ENOSPC);
}

static void rtx_drops_the_original_padding_and_keeps_the_marker(void **state)
{
	uint8_t out[128];
	size_t len;
	struct cw_rtp orig, rtx;
	uint16_t osn;

	(void)state;
	parse_ok(&orig, vp8_csrc_twobyte, N(vp8_csrc_twobyte));
	assert_int_equal(cw_rtp_rtx_build(out, sizeof(out), &len, &orig, 97, 2, 3), 0);
	parse_ok(&rtx, out, len);
	assert_false(rtx.padding);
	assert_true(rtx.marker);
	assert_int_equal(rtx.cc, 2);
	assert_int_equal(rtx.payload_len, 4);
	assert_int_equal(cw_rtp_rtx_osn(&rtx, &osn), 0);
	assert_int_equal(osn, 65535);
}

static void an_rtx_packet_too_short_for_an_osn_is_rejected(void **state)
{
	/* Padding-only RTX, as browsers send for probing. */
	static const uint8_t probe[] = {0xa0, 0x61, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4};
	static const uint8_t one[] = {0x80, 0x61, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0x12};
	uint8_t out[64];
	size_t len;
	struct cw_rtp p;
	uint16_t osn;

	(void)state;
	parse_ok(&p, probe, N(probe));
	assert_int_equal(cw_rtp_rtx_osn(&p, &osn), -EBADMSG);
	assert_int_equal(cw_rtp_rtx_restore(out, sizeof(out), &len, &p, 96, 1), -EBADMSG);
	parse_ok(&p, one, N(one));
	assert_int_equal(cw_rtp_rtx_osn(&p, &osn), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(datagrams_are_told_apart_by_their_first_bytes),
		cmocka_unit_test(an_opus_packet_parses_field_by_field),
		cmocka_unit_test(csrcs_marker_two_byte_extensions_and_padding_parse),
		cmocka_unit_test(one_byte_extensions_iterate_in_order_skipping_padding),
		cmocka_unit_test(two_byte_extensions_allow_empty_elements_and_high_ids),
		cmocka_unit_test(one_byte_id_15_ends_the_extension_list),
		cmocka_unit_test(unknown_extension_profiles_yield_no_elements),
		cmocka_unit_test(packets_without_extensions_have_none_to_find),
		cmocka_unit_test(audio_level_transport_seq_and_mid_are_read_by_negotiated_id),
		cmocka_unit_test(silence_without_voice_reads_as_level_127),
		cmocka_unit_test(empty_two_byte_elements_are_refused_as_levels_and_mids),
		cmocka_unit_test(transport_seq_is_rewritten_in_place),
		cmocka_unit_test(a_shorter_mid_is_rewritten_in_place_with_padding),
		cmocka_unit_test(a_two_byte_mid_shrinks_in_place_too),
		cmocka_unit_test(copying_with_a_longer_mid_keeps_the_other_extensions),
		cmocka_unit_test(a_mid_too_long_for_one_byte_switches_to_two_byte),
		cmocka_unit_test(an_extension_is_added_to_a_packet_without_any),
		cmocka_unit_test(removing_the_last_extension_drops_the_block),
		cmocka_unit_test(copying_keeps_rtp_padding),
		cmocka_unit_test(forwarding_rewrites_touch_only_their_fields),
		cmocka_unit_test(truncated_headers_are_rejected),
		cmocka_unit_test(versions_other_than_2_are_rejected),
		cmocka_unit_test(a_csrc_count_beyond_the_packet_is_rejected),
		cmocka_unit_test(an_extension_length_past_the_packet_is_rejected),
		cmocka_unit_test(an_element_past_the_extension_block_is_rejected),
		cmocka_unit_test(padding_must_be_counted_within_the_payload),
		cmocka_unit_test(sequence_comparisons_wrap_at_65535),
		cmocka_unit_test(extended_sequence_numbers_grow_across_wraps),
		cmocka_unit_test(a_late_packet_does_not_move_the_reference),
		cmocka_unit_test(a_packet_older_than_the_first_unwraps_below_it),
		cmocka_unit_test(a_vp8_keyframe_start_is_recognised_with_its_descriptor),
		cmocka_unit_test(vp8_interframes_and_later_partitions_are_not_keyframes),
		cmocka_unit_test(vp8_keyidx_and_non_reference_flags_parse),
		cmocka_unit_test(truncated_vp8_descriptors_are_rejected),
		cmocka_unit_test(vp8_picture_id_and_tl0picidx_are_rewritten_in_place),
		cmocka_unit_test(h264_idr_and_sps_are_keyframes_alone_aggregated_or_fragmented),
		cmocka_unit_test(h264_other_nals_and_later_fragments_are_not_keyframes),
		cmocka_unit_test(malformed_h264_aggregates_are_not_keyframes),
		cmocka_unit_test(an_rtx_packet_carries_the_original_seq_before_the_payload),
		cmocka_unit_test(restoring_an_rtx_packet_gives_back_the_original_bytes),
		cmocka_unit_test(rtx_drops_the_original_padding_and_keeps_the_marker),
		cmocka_unit_test(an_rtx_packet_too_short_for_an_osn_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
