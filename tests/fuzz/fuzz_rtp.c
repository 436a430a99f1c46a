/* libFuzzer target: arbitrary bytes as an RTP packet, through every reader and rewriter. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "rtc/rtp.h"

/* A broken invariant is a crash, so libFuzzer keeps the input. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_IN 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t copy[MAX_IN];
static uint8_t out[MAX_IN + 1024];
static uint8_t back[MAX_IN + 1024];

static void check_extensions(const struct cw_rtp *p)
{
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e;
	bool voice;
	uint8_t level;
	uint16_t seq;
	const char *mid;
	size_t mid_len;

	cw_rtp_ext_iter_init(&it, p);
	while (cw_rtp_ext_next(&it, &e) > 0) {
		CHECK(e.off >= p->ext_off && e.off + e.len <= p->ext_off + p->ext_len);
		CHECK(e.data == p->buf + e.off && e.id != 0);
	}
	for (unsigned id = 1; id < 256; id = id < 16 ? id + 1 : id * 2 + 1) {
		(void)cw_rtp_audio_level(p, (uint8_t)id, &voice, &level);
		if (cw_rtp_twcc_seq(p, (uint8_t)id, &seq) == 0)
			(void)seq;
		if (cw_rtp_mid(p, (uint8_t)id, &mid, &mid_len) == 0)
			CHECK(mid_len >= 1);
	}
}

/* Copies p with element id set (or removed) and checks the result keeps everything else. */
static void check_copy_set_ext(const struct cw_rtp *p, uint8_t id, const uint8_t *val, size_t len)
{
	struct cw_rtp q;
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e, f, g;
	size_t olen;

	if (cw_rtp_copy_set_ext(out, sizeof(out), &olen, p, id, val, len) != 0)
		return;
	CHECK(cw_rtp_parse(&q, out, olen) == 0);
	CHECK(q.seq == p->seq && q.ts == p->ts && q.ssrc == p->ssrc && q.pt == p->pt);
	CHECK(q.payload_len == p->payload_len && q.pad_len == p->pad_len);
	CHECK(memcmp(out + q.payload_off, p->buf + p->payload_off, p->len - p->payload_off) == 0);
	if (val) {
		CHECK(cw_rtp_ext_find(&q, id, &e) == 0);
		CHECK(e.len == len && memcmp(e.data, val, len) == 0);
	} else {
		CHECK(cw_rtp_ext_find(&q, id, &e) == -ENOENT);
	}
	/* Every other id reads the same as before. */
	cw_rtp_ext_iter_init(&it, p);
	while (cw_rtp_ext_next(&it, &e) > 0) {
		if (e.id == id)
			continue;
		CHECK(cw_rtp_ext_find(p, e.id, &f) == 0);
		CHECK(cw_rtp_ext_find(&q, e.id, &g) == 0);
		CHECK(f.len == g.len && memcmp(f.data, g.data, f.len) == 0);
	}
}

static void check_rewrites(const uint8_t *data, size_t size)
{
	struct cw_rtp q;
	uint16_t seq;
	const char *mid;
	size_t mid_len;

	memcpy(copy, data, size);
	CHECK(cw_rtp_parse(&q, copy, size) == 0);
	if (cw_rtp_set_twcc_seq(copy, &q, 3, 0xabcd) == 0) {
		CHECK(cw_rtp_twcc_seq(&q, 3, &seq) == 0 && seq == 0xabcd);
	}
	if (cw_rtp_set_mid(copy, &q, 4, "z", 1) == 0) {
		CHECK(cw_rtp_parse(&q, copy, size) == 0);
		CHECK(cw_rtp_mid(&q, 4, &mid, &mid_len) == 0 && mid_len == 1 && mid[0] == 'z');
	}
	CHECK(cw_rtp_set_ssrc(copy, size, 0x01020304) == 0);
	CHECK(cw_rtp_set_seq(copy, size, 7) == 0);
	CHECK(cw_rtp_set_ts(copy, size, 9) == 0);
	CHECK(cw_rtp_set_pt(copy, size, 100) == 0);
	CHECK(cw_rtp_set_marker(copy, size, true) == 0);
	CHECK(cw_rtp_parse(&q, copy, size) == 0);
	CHECK(q.ssrc == 0x01020304 && q.seq == 7 && q.ts == 9 && q.pt == 100 && q.marker);
}

static void check_rtx(const struct cw_rtp *p)
{
	struct cw_rtp rtx, orig;
	size_t rlen, blen;
	uint16_t osn;

	if (cw_rtp_rtx_build(out, sizeof(out), &rlen, p, 97, 0xfeedface, 42) != 0)
		return;
	CHECK(cw_rtp_parse(&rtx, out, rlen) == 0);
	CHECK(rtx.pt == 97 && rtx.ssrc == 0xfeedface && rtx.seq == 42 && rtx.ts == p->ts);
	CHECK(cw_rtp_rtx_osn(&rtx, &osn) == 0 && osn == p->seq);
	CHECK(cw_rtp_rtx_restore(back, sizeof(back), &blen, &rtx, p->pt, p->ssrc) == 0);
	CHECK(cw_rtp_parse(&orig, back, blen) == 0);
	CHECK(orig.seq == p->seq && orig.pt == p->pt && orig.payload_len == p->payload_len);
	CHECK((back[0] | 0x20) == (p->buf[0] | 0x20)); /* all but P, which is cleared */
	CHECK(memcmp(back + 1, p->buf + 1, p->payload_off - 1) == 0);
	CHECK(memcmp(back + orig.payload_off, p->buf + p->payload_off, p->payload_len) == 0);
}

static void check_payload(const struct cw_rtp *p)
{
	const uint8_t *pl = p->buf + p->payload_off;
	struct cw_rtp_vp8 d;

	(void)cw_rtp_h264_is_keyframe(pl, p->payload_len);
	/* Every truncation of the descriptor is refused, never read past. */
	for (size_t len = 0; len < p->payload_len && len < 8; len++)
		(void)cw_rtp_vp8_parse(&d, pl, len);
	if (cw_rtp_vp8_parse(&d, pl, p->payload_len) == 0) {
		CHECK(d.desc_len < p->payload_len);
		CHECK(!d.keyframe || d.frame_start);
		memcpy(copy, pl, p->payload_len);
		(void)cw_rtp_vp8_set_picture_id(copy, &d, 0x7fff);
		(void)cw_rtp_vp8_set_tl0picidx(copy, &d, 3);
		CHECK(cw_rtp_vp8_parse(&d, copy, p->payload_len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t long_mid[20] = "a-twenty-byte-mid-xx";
	struct cw_rtp p;
	struct cw_rtp_seq_unwrap u = {0};

	if (size > MAX_IN)
		return 0;
	(void)cw_rtp_demux(data, size);
	if (cw_rtp_parse(&p, data, size) != 0) {
		(void)cw_rtp_h264_is_keyframe(data, size);
		(void)cw_rtp_vp8_is_keyframe(data, size);
		return 0;
	}
	CHECK(p.payload_off + p.payload_len + p.pad_len == size);
	CHECK(cw_rtp_seq_unwrap(&u, p.seq) == p.seq);
	CHECK(cw_rtp_seq_unwrap(&u, (uint16_t)(p.seq + p.ts)) - p.seq ==
	      cw_rtp_seq_diff((uint16_t)(p.seq + p.ts), p.seq));
	check_extensions(&p);
	check_rewrites(data, size);
	check_copy_set_ext(&p, 4, (const uint8_t *)"1", 1);
	check_copy_set_ext(&p, 4, long_mid, sizeof(long_mid));
	check_copy_set_ext(&p, 200, NULL, 0);
	check_copy_set_ext(&p, 1, NULL, 0);
	check_rtx(&p);
	check_payload(&p);
	return 0;
}
