/* rtp: RTP parsing, header extensions, forwarding rewrites, VP8/H.264 inspection and RTX. */
#include <errno.h>
#include <string.h>

#include "rtc/rtp.h"

#define EXT_ONE_BYTE 0xBEDE
#define EXT_TWO_BYTE 0x1000 /* the top 12 bits; the low 4 are "appbits" */
#define EXT_TWO_BYTE_MASK 0xFFF0

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool is_two_byte(uint16_t profile)
{
	return (profile & EXT_TWO_BYTE_MASK) == EXT_TWO_BYTE;
}

enum cw_rtp_demux cw_rtp_demux(const uint8_t *buf, size_t len)
{
	uint8_t b;

	if (!buf || len == 0)
		return CW_RTP_DEMUX_OTHER;
	b = buf[0];
	if (b <= 3)
		return CW_RTP_DEMUX_STUN;
	if (b >= 16 && b <= 19)
		return CW_RTP_DEMUX_ZRTP;
	if (b >= 20 && b <= 63)
		return CW_RTP_DEMUX_DTLS;
	if (b >= 64 && b <= 79)
		return CW_RTP_DEMUX_TURN;
	if (b >= 128 && b <= 191) {
		if (len < 2)
			return CW_RTP_DEMUX_OTHER;
		/* RTCP packet types 192..223 are RTP payload types 64..95 with the marker bit,
		 * which RFC 5761 forbids for RTP on a muxed port. */
		return buf[1] >= 192 && buf[1] <= 223 ? CW_RTP_DEMUX_RTCP : CW_RTP_DEMUX_RTP;
	}
	return CW_RTP_DEMUX_OTHER;
}

int cw_rtp_parse(struct cw_rtp *pkt, const uint8_t *buf, size_t len)
{
	struct cw_rtp p = {0};
	size_t off;

	if (!pkt || !buf || len < CW_RTP_HEADER_MIN || buf[0] >> 6 != CW_RTP_VERSION)
		return -EBADMSG;
	p.buf = buf;
	p.len = len;
	p.padding = buf[0] & 0x20;
	p.extension = buf[0] & 0x10;
	p.cc = buf[0] & 0x0f;
	p.marker = buf[1] & 0x80;
	p.pt = buf[1] & 0x7f;
	p.seq = get16(buf + 2);
	p.ts = get32(buf + 4);
	p.ssrc = get32(buf + 8);

	off = CW_RTP_HEADER_MIN + 4u * p.cc;
	if (off > len)
		return -EBADMSG;
	if (p.extension) {
		if (len - off < 4)
			return -EBADMSG;
		p.ext_profile = get16(buf + off);
		p.ext_len = 4u * get16(buf + off + 2);
		off += 4;
		if (p.ext_len > len - off)
			return -EBADMSG;
		p.ext_off = off;
		off += p.ext_len;
	}
	p.payload_off = off;
	if (p.padding) {
		/* The count includes itself, so 0 is invalid; it may cover the whole payload
		 * (padding-only packets are how browsers probe bandwidth). */
		if (len == off)
			return -EBADMSG;
		p.pad_len = buf[len - 1];
		if (p.pad_len == 0 || p.pad_len > len - off)
			return -EBADMSG;
	}
	p.payload_len = len - off - p.pad_len;
	*pkt = p;
	return 0;
}

uint32_t cw_rtp_csrc(const struct cw_rtp *pkt, unsigned i)
{
	if (i >= pkt->cc)
		return 0;
	return get32(pkt->buf + CW_RTP_HEADER_MIN + 4u * i);
}

/* ---- header extensions (RFC 8285) ---- */

void cw_rtp_ext_iter_init(struct cw_rtp_ext_iter *it, const struct cw_rtp *pkt)
{
	it->buf = pkt->buf;
	it->pos = pkt->ext_off;
	it->end = pkt->ext_off;
	it->two_byte = false;
	if (!pkt->extension)
		return;
	if (pkt->ext_profile == EXT_ONE_BYTE) {
		it->end = pkt->ext_off + pkt->ext_len;
	} else if (is_two_byte(pkt->ext_profile)) {
		it->two_byte = true;
		it->end = pkt->ext_off + pkt->ext_len;
	}
}

int cw_rtp_ext_next(struct cw_rtp_ext_iter *it, struct cw_rtp_ext *ext)
{
	while (it->pos < it->end) {
		size_t avail = it->end - it->pos;
		uint8_t b = it->buf[it->pos];
		uint8_t id;
		size_t len;
		size_t hdr;

		if (b == 0) { /* a padding byte, in either form */
			it->pos++;
			continue;
		}
		if (it->two_byte) {
			if (avail < 2)
				goto bad;
			id = b;
			len = it->buf[it->pos + 1];
			hdr = 2;
		} else {
			id = b >> 4;
			len = (b & 0x0f) + 1u;
			hdr = 1;
			/* Id 15 means "stop here"; id 0 with a length is not padding either, and
			 * libwebrtc stops at it as well. */
			if (id == 15 || id == 0) {
				it->pos = it->end;
				return 0;
			}
		}
		if (len > avail - hdr)
			goto bad;
		ext->id = id;
		ext->len = (uint8_t)len;
		ext->off = it->pos + hdr;
		ext->data = it->buf + ext->off;
		it->pos += hdr + len;
		return 1;
	}
	return 0;
bad:
	it->pos = it->end;
	return -EBADMSG;
}

int cw_rtp_ext_find(const struct cw_rtp *pkt, uint8_t id, struct cw_rtp_ext *ext)
{
	struct cw_rtp_ext_iter it;
	int r;

	cw_rtp_ext_iter_init(&it, pkt);
	while ((r = cw_rtp_ext_next(&it, ext)) > 0) {
		if (ext->id == id)
			return 0;
	}
	return r < 0 ? r : -ENOENT;
}

int cw_rtp_audio_level(const struct cw_rtp *pkt, uint8_t id, bool *voice, uint8_t *level)
{
	struct cw_rtp_ext e;
	int err = cw_rtp_ext_find(pkt, id, &e);

	if (err)
		return err;
	if (e.len < 1)
		return -EBADMSG;
	*voice = e.data[0] & 0x80;
	*level = e.data[0] & 0x7f;
	return 0;
}

int cw_rtp_twcc_seq(const struct cw_rtp *pkt, uint8_t id, uint16_t *seq)
{
	struct cw_rtp_ext e;
	int err = cw_rtp_ext_find(pkt, id, &e);

	if (err)
		return err;
	if (e.len < 2)
		return -EBADMSG;
	*seq = get16(e.data);
	return 0;
}

int cw_rtp_set_twcc_seq(uint8_t *buf, const struct cw_rtp *pkt, uint8_t id, uint16_t seq)
{
	struct cw_rtp_ext e;
	int err;

	if (!buf || pkt->buf != buf)
		return -EINVAL;
	err = cw_rtp_ext_find(pkt, id, &e);
	if (err)
		return err;
	if (e.len < 2)
		return -EBADMSG;
	put16(buf + e.off, seq);
	return 0;
}

int cw_rtp_mid(const struct cw_rtp *pkt, uint8_t id, const char **mid, size_t *mid_len)
{
	struct cw_rtp_ext e;
	int err = cw_rtp_ext_find(pkt, id, &e);

	if (err)
		return err;
	if (e.len < 1)
		return -EBADMSG;
	*mid = (const char *)e.data;
	*mid_len = e.len;
	return 0;
}

int cw_rtp_set_mid(uint8_t *buf, const struct cw_rtp *pkt, uint8_t id, const char *mid,
		   size_t mid_len)
{
	struct cw_rtp_ext e;
	int err;

	if (!buf || pkt->buf != buf || !mid || mid_len == 0)
		return -EINVAL;
	err = cw_rtp_ext_find(pkt, id, &e);
	if (err)
		return err;
	if (mid_len > e.len)
		return -ENOSPC;
	memcpy(buf + e.off, mid, mid_len);
	memset(buf + e.off + mid_len, 0, e.len - mid_len);
	if (is_two_byte(pkt->ext_profile))
		buf[e.off - 1] = (uint8_t)mid_len;
	else
		buf[e.off - 1] = (uint8_t)(id << 4 | (mid_len - 1));
	return 0;
}

/* Appends one element at *pos of out. */
static int put_elem(uint8_t *out, size_t size, size_t *pos, bool two_byte, uint8_t id,
		    const uint8_t *data, size_t len)
{
	size_t hdr = two_byte ? 2 : 1;

	if (size - *pos < hdr + len)
		return -ENOSPC;
	if (two_byte) {
		out[*pos] = id;
		out[*pos + 1] = (uint8_t)len;
	} else {
		out[*pos] = (uint8_t)(id << 4 | (len - 1));
	}
	if (len)
		memcpy(out + *pos + hdr, data, len);
	*pos += hdr + len;
	return 0;
}

int cw_rtp_copy_set_ext(uint8_t *out, size_t out_size, size_t *out_len, const struct cw_rtp *pkt,
			uint8_t id, const uint8_t *data, size_t len)
{
	size_t hdr = CW_RTP_HEADER_MIN + 4u * pkt->cc;
	size_t start = hdr + 4; /* where the elements go */
	size_t pos = start;
	size_t rest = pkt->len - pkt->payload_off;
	uint16_t profile = EXT_ONE_BYTE;
	struct cw_rtp_ext_iter it;
	struct cw_rtp_ext e;
	bool two = false;
	int r;

	if (id == 0 || (data && len > 255))
		return -EINVAL;
	if (pkt->extension) {
		if (is_two_byte(pkt->ext_profile)) {
			two = true;
			profile = pkt->ext_profile;
		} else if (pkt->ext_profile != EXT_ONE_BYTE) {
			return -ENOTSUP;
		}
	}
	if (data && !two && (id > 14 || len < 1 || len > 16)) {
		/* Every one-byte element also fits the two-byte form. */
		two = true;
		profile = EXT_TWO_BYTE;
	}
	if (out_size < start)
		return -ENOSPC;
	memcpy(out, pkt->buf, hdr);

	cw_rtp_ext_iter_init(&it, pkt);
	while ((r = cw_rtp_ext_next(&it, &e)) > 0) {
		if (e.id == id)
			continue;
		r = put_elem(out, out_size, &pos, two, e.id, e.data, e.len);
		if (r)
			return r;
	}
	if (r < 0)
		return r;
	if (data) {
		r = put_elem(out, out_size, &pos, two, id, data, len);
		if (r)
			return r;
	}
	while ((pos - start) % 4) {
		if (pos == out_size)
			return -ENOSPC;
		out[pos++] = 0;
	}
	if (pos == start) {
		out[0] &= (uint8_t)~0x10;
		pos = hdr;
	} else {
		if ((pos - start) / 4 > 0xFFFF)
			return -ENOSPC;
		out[0] |= 0x10;
		put16(out + hdr, profile);
		put16(out + hdr + 2, (uint16_t)((pos - start) / 4));
	}
	if (out_size - pos < rest)
		return -ENOSPC;
	memcpy(out + pos, pkt->buf + pkt->payload_off, rest);
	*out_len = pos + rest;
	return 0;
}

/* ---- fixed header rewrites ---- */

int cw_rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc)
{
	if (!buf || len < CW_RTP_HEADER_MIN)
		return -EBADMSG;
	put32(buf + 8, ssrc);
	return 0;
}

int cw_rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq)
{
	if (!buf || len < CW_RTP_HEADER_MIN)
		return -EBADMSG;
	put16(buf + 2, seq);
	return 0;
}

int cw_rtp_set_ts(uint8_t *buf, size_t len, uint32_t ts)
{
	if (!buf || len < CW_RTP_HEADER_MIN)
		return -EBADMSG;
	put32(buf + 4, ts);
	return 0;
}

int cw_rtp_set_pt(uint8_t *buf, size_t len, uint8_t pt)
{
	if (!buf || len < CW_RTP_HEADER_MIN)
		return -EBADMSG;
	buf[1] = (uint8_t)((buf[1] & 0x80) | (pt & 0x7f));
	return 0;
}

int cw_rtp_set_marker(uint8_t *buf, size_t len, bool marker)
{
	if (!buf || len < CW_RTP_HEADER_MIN)
		return -EBADMSG;
	buf[1] = (uint8_t)((buf[1] & 0x7f) | (marker ? 0x80 : 0));
	return 0;
}

/* ---- sequence numbers ---- */

int64_t cw_rtp_seq_unwrap(struct cw_rtp_seq_unwrap *u, uint16_t seq)
{
	int64_t v;

	if (!u->started) {
		u->started = true;
		u->last = seq;
		return seq;
	}
	v = u->last + cw_rtp_seq_diff(seq, (uint16_t)u->last);
	if (v > u->last)
		u->last = v;
	return v;
}

/* ---- VP8 (RFC 7741) ---- */

int cw_rtp_vp8_parse(struct cw_rtp_vp8 *vp8, const uint8_t *p, size_t len)
{
	struct cw_rtp_vp8 d = {0};
	size_t off = 1;

	if (!vp8 || !p || len < 1)
		return -EBADMSG;
	d.n = p[0] & 0x20;
	d.s = p[0] & 0x10;
	d.pid = p[0] & 0x07;
	if (p[0] & 0x80) { /* X: the extension byte follows */
		uint8_t x;

		if (len < 2)
			return -EBADMSG;
		x = p[1];
		off = 2;
		if (x & 0x80) { /* I: PictureID */
			if (off >= len)
				return -EBADMSG;
			d.has_picture_id = true;
			d.picture_id_off = off;
			if (p[off] & 0x80) { /* M: 15 bits */
				if (len - off < 2)
					return -EBADMSG;
				d.picture_id_15 = true;
				d.picture_id = (uint16_t)((p[off] & 0x7f) << 8 | p[off + 1]);
				off += 2;
			} else {
				d.picture_id = p[off] & 0x7f;
				off += 1;
			}
		}
		if (x & 0x40) { /* L: TL0PICIDX */
			if (off >= len)
				return -EBADMSG;
			d.has_tl0picidx = true;
			d.tl0picidx_off = off;
			d.tl0picidx = p[off++];
		}
		if (x & 0x30) { /* T and/or K share one byte */
			if (off >= len)
				return -EBADMSG;
			if (x & 0x20) {
				d.has_tid = true;
				d.tid = p[off] >> 6;
				d.y = p[off] & 0x20;
			}
			if (x & 0x10) {
				d.has_keyidx = true;
				d.keyidx = p[off] & 0x1f;
			}
			off++;
		}
	}
	if (off >= len)
		return -EBADMSG;
	d.desc_len = off;
	d.frame_start = d.s && d.pid == 0;
	if (d.frame_start) {
		const uint8_t *f = p + off;

		/* The frame tag's lowest bit is the inverse key frame flag. A key frame then
		 * has the start code 9d 01 2a and two 14-bit dimensions, little-endian. */
		d.keyframe = !(f[0] & 0x01);
		if (d.keyframe && len - off >= 10 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a) {
			d.width = (uint16_t)((f[6] | f[7] << 8) & 0x3fff);
			d.height = (uint16_t)((f[8] | f[9] << 8) & 0x3fff);
		}
	}
	*vp8 = d;
	return 0;
}

bool cw_rtp_vp8_is_keyframe(const uint8_t *payload, size_t len)
{
	struct cw_rtp_vp8 d;

	return cw_rtp_vp8_parse(&d, payload, len) == 0 && d.keyframe;
}

int cw_rtp_vp8_set_picture_id(uint8_t *payload, const struct cw_rtp_vp8 *vp8, uint16_t picture_id)
{
	uint8_t *p;

	if (!vp8->has_picture_id)
		return -ENOENT;
	p = payload + vp8->picture_id_off;
	if (vp8->picture_id_15) {
		p[0] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
		p[1] = (uint8_t)picture_id;
	} else {
		p[0] = picture_id & 0x7f;
	}
	return 0;
}

int cw_rtp_vp8_set_tl0picidx(uint8_t *payload, const struct cw_rtp_vp8 *vp8, uint8_t tl0picidx)
{
	if (!vp8->has_tl0picidx)
		return -ENOENT;
	payload[vp8->tl0picidx_off] = tl0picidx;
	return 0;
}

/* ---- H.264 (RFC 6184) ---- */

#define H264_IDR 5
#define H264_SPS 7
#define H264_STAP_A 24
#define H264_FU_A 28

static bool h264_key_nal(uint8_t type)
{
	return type == H264_IDR || type == H264_SPS;
}

bool cw_rtp_h264_is_keyframe(const uint8_t *p, size_t len)
{
	uint8_t type;

	if (!p || len < 1)
		return false;
	type = p[0] & 0x1f;
	if (type >= 1 && type <= 23)
		return h264_key_nal(type);
	if (type == H264_STAP_A) {
		/* Aggregation units: a 16-bit size then the NAL unit. Walk all of them, so
		 * that a truncated aggregate is refused as a whole. */
		size_t off = 1;
		bool key = false;

		while (off < len) {
			size_t n;

			if (len - off < 2)
				return false;
			n = get16(p + off);
			off += 2;
			if (n == 0 || n > len - off)
				return false;
			key = key || h264_key_nal(p[off] & 0x1f);
			off += n;
		}
		return key;
	}
	if (type == H264_FU_A) /* FU header: S|E|R|type; only the start fragment counts */
		return len >= 2 && (p[1] & 0x80) && h264_key_nal(p[1] & 0x1f);
	return false;
}

/* ---- RTX (RFC 4588) ---- */

int cw_rtp_rtx_osn(const struct cw_rtp *rtx, uint16_t *osn)
{
	if (rtx->payload_len < 2)
		return -EBADMSG;
	*osn = get16(rtx->buf + rtx->payload_off);
	return 0;
}

/* Copies pkt's header into out with P cleared and pt, seq and ssrc replaced. */
static void copy_header(uint8_t *out, const struct cw_rtp *pkt, uint8_t pt, uint16_t seq,
			uint32_t ssrc)
{
	memcpy(out, pkt->buf, pkt->payload_off);
	out[0] &= (uint8_t)~0x20;
	out[1] = (uint8_t)((out[1] & 0x80) | (pt & 0x7f));
	put16(out + 2, seq);
	put32(out + 8, ssrc);
}

int cw_rtp_rtx_build(uint8_t *out, size_t out_size, size_t *out_len, const struct cw_rtp *orig,
		     uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq)
{
	size_t need = orig->payload_off + 2 + orig->payload_len;

	if (!out || out_size < need)
		return -ENOSPC;
	copy_header(out, orig, rtx_pt, rtx_seq, rtx_ssrc);
	put16(out + orig->payload_off, orig->seq);
	memcpy(out + orig->payload_off + 2, orig->buf + orig->payload_off, orig->payload_len);
	*out_len = need;
	return 0;
}

int cw_rtp_rtx_restore(uint8_t *out, size_t out_size, size_t *out_len, const struct cw_rtp *rtx,
		       uint8_t orig_pt, uint32_t orig_ssrc)
{
	uint16_t osn;
	size_t need;

	if (cw_rtp_rtx_osn(rtx, &osn))
		return -EBADMSG;
	need = rtx->payload_off + rtx->payload_len - 2;
	if (!out || out_size < need)
		return -ENOSPC;
	copy_header(out, rtx, orig_pt, osn, orig_ssrc);
	memcpy(out + rtx->payload_off, rtx->buf + rtx->payload_off + 2, rtx->payload_len - 2);
	*out_len = need;
	return 0;
}
