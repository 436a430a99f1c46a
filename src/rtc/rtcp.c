/* rtcp: RTCP compound parsing, feedback messages, builders and receive statistics. */
#include <errno.h>
#include <string.h>

#include "rtc/rtcp.h"

#define SR_INFO_LEN 20 /* NTP, RTP timestamp, packet and octet counts */
#define FB_HEADER_LEN 8
#define FIR_ENTRY_LEN 8
#define TWCC_HEADER_LEN 8
#define NTP_UNIX_OFFSET 2208988800u /* seconds from 1900 to 1970 */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
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

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int32_t sign24(uint32_t v)
{
	return v & 0x800000 ? (int32_t)v - 0x1000000 : (int32_t)v;
}

/* ---- the compound ---- */

void cw_rtcp_iter_init(struct cw_rtcp_iter *it, const uint8_t *buf, size_t len)
{
	it->buf = buf;
	it->len = buf ? len : 0;
	it->pos = 0;
}

int cw_rtcp_next(struct cw_rtcp_iter *it, struct cw_rtcp *pkt)
{
	const uint8_t *p;
	size_t avail;
	size_t plen;
	size_t pad = 0;

	if (it->pos >= it->len)
		return 0;
	p = it->buf + it->pos;
	avail = it->len - it->pos;
	if (avail < CW_RTCP_HEADER_LEN || p[0] >> 6 != 2)
		goto bad;
	plen = 4u * (get16(p + 2) + 1u);
	if (plen > avail)
		goto bad;
	if (p[0] & 0x20) {
		/* RFC 3550 puts padding on the last packet only, but the count is inside this
		 * packet's length either way, so a padded packet elsewhere is still readable. */
		pad = p[plen - 1];
		if (pad == 0 || pad > plen - CW_RTCP_HEADER_LEN)
			goto bad;
	}
	pkt->pt = p[1];
	pkt->count = p[0] & 0x1f;
	pkt->padding = pad != 0;
	pkt->buf = p;
	pkt->len = plen;
	pkt->body = p + CW_RTCP_HEADER_LEN;
	pkt->body_len = plen - CW_RTCP_HEADER_LEN - pad;
	it->pos += plen;
	return 1;
bad:
	it->pos = it->len;
	return -EBADMSG;
}

int cw_rtcp_validate(const uint8_t *buf, size_t len)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	int r;

	if (!buf || len == 0)
		return -EBADMSG;
	cw_rtcp_iter_init(&it, buf, len);
	while ((r = cw_rtcp_next(&it, &pkt)) > 0)
		;
	return r;
}

enum cw_rtcp_kind cw_rtcp_kind(const struct cw_rtcp *pkt)
{
	switch (pkt->pt) {
	case CW_RTCP_SR:
		return CW_RTCP_KIND_SR;
	case CW_RTCP_RR:
		return CW_RTCP_KIND_RR;
	case CW_RTCP_SDES:
		return CW_RTCP_KIND_SDES;
	case CW_RTCP_BYE:
		return CW_RTCP_KIND_BYE;
	case CW_RTCP_APP:
		return CW_RTCP_KIND_APP;
	case CW_RTCP_RTPFB:
		if (pkt->count == CW_RTCP_FMT_NACK)
			return CW_RTCP_KIND_NACK;
		if (pkt->count == CW_RTCP_FMT_TWCC)
			return CW_RTCP_KIND_TWCC;
		break;
	case CW_RTCP_PSFB:
		if (pkt->count == CW_RTCP_FMT_PLI)
			return CW_RTCP_KIND_PLI;
		if (pkt->count == CW_RTCP_FMT_FIR)
			return CW_RTCP_KIND_FIR;
		if (pkt->count == CW_RTCP_FMT_AFB && pkt->body_len >= FB_HEADER_LEN + 4 &&
		    memcmp(pkt->body + FB_HEADER_LEN, "REMB", 4) == 0)
			return CW_RTCP_KIND_REMB;
		break;
	default:
		break;
	}
	return CW_RTCP_KIND_UNKNOWN;
}

/* ---- reports ---- */

static int report_parse(const struct cw_rtcp *pkt, struct cw_rtcp_report *rep, bool sr)
{
	size_t info = sr ? SR_INFO_LEN : 0;
	const uint8_t *b = pkt->body;

	if (pkt->pt != (sr ? CW_RTCP_SR : CW_RTCP_RR))
		return -EINVAL;
	if (pkt->body_len < 4 + info + (size_t)pkt->count * CW_RTCP_BLOCK_LEN)
		return -EBADMSG;
	memset(rep, 0, sizeof(*rep));
	rep->ssrc = get32(b);
	rep->is_sr = sr;
	if (sr) {
		rep->si.ntp = (uint64_t)get32(b + 4) << 32 | get32(b + 8);
		rep->si.rtp_ts = get32(b + 12);
		rep->si.packets = get32(b + 16);
		rep->si.octets = get32(b + 20);
	}
	rep->n_blocks = pkt->count;
	rep->blocks = b + 4 + info;
	return 0;
}

int cw_rtcp_sr_parse(const struct cw_rtcp *pkt, struct cw_rtcp_report *rep)
{
	return report_parse(pkt, rep, true);
}

int cw_rtcp_rr_parse(const struct cw_rtcp *pkt, struct cw_rtcp_report *rep)
{
	return report_parse(pkt, rep, false);
}

int cw_rtcp_report_block(const struct cw_rtcp_report *rep, unsigned i,
			 struct cw_rtcp_report_block *rb)
{
	const uint8_t *p;

	if (i >= rep->n_blocks)
		return -ENOENT;
	p = rep->blocks + (size_t)i * CW_RTCP_BLOCK_LEN;
	rb->ssrc = get32(p);
	rb->fraction_lost = p[4];
	rb->cumulative_lost = sign24(get24(p + 5));
	rb->ext_high_seq = get32(p + 8);
	rb->jitter = get32(p + 12);
	rb->lsr = get32(p + 16);
	rb->dlsr = get32(p + 20);
	return 0;
}

/* ---- SDES and BYE ---- */

#define SDES_END 0
#define SDES_CNAME 1

int cw_rtcp_sdes_iter_init(struct cw_rtcp_sdes_iter *it, const struct cw_rtcp *pkt)
{
	if (pkt->pt != CW_RTCP_SDES)
		return -EINVAL;
	it->body = pkt->body;
	it->len = pkt->body_len;
	it->pos = 0;
	it->left = pkt->count;
	return 0;
}

int cw_rtcp_sdes_next(struct cw_rtcp_sdes_iter *it, struct cw_rtcp_sdes_chunk *chunk)
{
	const uint8_t *b = it->body;
	size_t pos = it->pos;

	if (it->left == 0)
		return 0;
	if (it->len - pos < 4)
		goto bad;
	chunk->ssrc = get32(b + pos);
	chunk->cname = NULL;
	chunk->cname_len = 0;
	pos += 4;
	for (;;) {
		size_t ilen;

		if (pos >= it->len)
			goto bad; /* no terminating null item */
		if (b[pos] == SDES_END)
			break;
		if (it->len - pos < 2)
			goto bad;
		ilen = b[pos + 1];
		if (ilen > it->len - pos - 2)
			goto bad;
		if (b[pos] == SDES_CNAME && !chunk->cname) {
			chunk->cname = (const char *)b + pos + 2;
			chunk->cname_len = ilen;
		}
		pos += 2 + ilen;
	}
	/* The null item, then null octets up to the next 32-bit boundary. */
	pos = (pos + 4) & ~(size_t)3;
	if (pos > it->len)
		goto bad;
	it->pos = pos;
	it->left--;
	return 1;
bad:
	it->left = 0;
	return -EBADMSG;
}

int cw_rtcp_bye_parse(const struct cw_rtcp *pkt, struct cw_rtcp_bye *bye)
{
	size_t list;

	if (pkt->pt != CW_RTCP_BYE)
		return -EINVAL;
	list = 4u * pkt->count;
	if (pkt->body_len < list)
		return -EBADMSG;
	bye->count = pkt->count;
	bye->ssrcs = pkt->body;
	bye->reason = NULL;
	bye->reason_len = 0;
	if (pkt->body_len > list) {
		/* A length octet and the text; what follows is padding to 32 bits. */
		size_t rlen = pkt->body[list];

		if (rlen > pkt->body_len - list - 1)
			return -EBADMSG;
		bye->reason = (const char *)pkt->body + list + 1;
		bye->reason_len = rlen;
	}
	return 0;
}

uint32_t cw_rtcp_bye_ssrc(const struct cw_rtcp_bye *bye, unsigned i)
{
	return i < bye->count ? get32(bye->ssrcs + 4u * i) : 0;
}

/* ---- feedback ---- */

int cw_rtcp_fb_parse(const struct cw_rtcp *pkt, struct cw_rtcp_fb *fb)
{
	if (pkt->pt != CW_RTCP_RTPFB && pkt->pt != CW_RTCP_PSFB)
		return -EINVAL;
	if (pkt->body_len < FB_HEADER_LEN)
		return -EBADMSG;
	fb->pt = pkt->pt;
	fb->fmt = pkt->count;
	fb->sender_ssrc = get32(pkt->body);
	fb->media_ssrc = get32(pkt->body + 4);
	fb->fci = pkt->body + FB_HEADER_LEN;
	fb->fci_len = pkt->body_len - FB_HEADER_LEN;
	return 0;
}

static int nack_check(const struct cw_rtcp_fb *fb)
{
	if (fb->pt != CW_RTCP_RTPFB || fb->fmt != CW_RTCP_FMT_NACK)
		return -EINVAL;
	if (fb->fci_len == 0 || fb->fci_len % 4)
		return -EBADMSG;
	return 0;
}

int cw_rtcp_nack_foreach(const struct cw_rtcp_fb *fb, cw_rtcp_nack_fn fn, void *arg)
{
	size_t off;
	int err = nack_check(fb);

	if (err)
		return err;
	for (off = 0; off < fb->fci_len; off += 4) {
		uint16_t pid = get16(fb->fci + off);
		uint16_t blp = get16(fb->fci + off + 2);
		unsigned bit;

		err = fn(pid, arg);
		if (err)
			return err;
		for (bit = 0; bit < 16; bit++) {
			if (!(blp & (1u << bit)))
				continue;
			err = fn((uint16_t)(pid + bit + 1), arg);
			if (err)
				return err;
		}
	}
	return 0;
}

struct nack_array {
	uint16_t *seqs;
	size_t max;
	size_t n;
};

static int nack_store(uint16_t seq, void *arg)
{
	struct nack_array *a = arg;

	if (a->n == a->max)
		return -ENOSPC;
	a->seqs[a->n++] = seq;
	return 0;
}

int cw_rtcp_nack_expand(const struct cw_rtcp_fb *fb, uint16_t *seqs, size_t max, size_t *n)
{
	struct nack_array a = {seqs, max, 0};
	int err = cw_rtcp_nack_foreach(fb, nack_store, &a);

	*n = a.n;
	return err;
}

int cw_rtcp_fir_parse(const struct cw_rtcp_fb *fb, struct cw_rtcp_fir *fir)
{
	if (fb->pt != CW_RTCP_PSFB || fb->fmt != CW_RTCP_FMT_FIR)
		return -EINVAL;
	if (fb->fci_len == 0 || fb->fci_len % FIR_ENTRY_LEN)
		return -EBADMSG;
	fir->n_entries = fb->fci_len / FIR_ENTRY_LEN;
	fir->entries = fb->fci;
	return 0;
}

int cw_rtcp_fir_entry(const struct cw_rtcp_fir *fir, size_t i, struct cw_rtcp_fir_entry *e)
{
	if (i >= fir->n_entries)
		return -ENOENT;
	e->ssrc = get32(fir->entries + i * FIR_ENTRY_LEN);
	e->seq = fir->entries[i * FIR_ENTRY_LEN + 4];
	return 0;
}

int cw_rtcp_remb_parse(const struct cw_rtcp_fb *fb, struct cw_rtcp_remb *remb)
{
	const uint8_t *f = fb->fci;
	unsigned exp;
	uint64_t mantissa;

	if (fb->pt != CW_RTCP_PSFB || fb->fmt != CW_RTCP_FMT_AFB || fb->fci_len < 4 ||
	    memcmp(f, "REMB", 4) != 0)
		return -EINVAL;
	if (fb->fci_len < 8 || fb->fci_len - 8 < 4u * f[4])
		return -EBADMSG;
	exp = f[5] >> 2;
	mantissa = (uint64_t)(f[5] & 0x03) << 16 | (uint64_t)f[6] << 8 | f[7];
	/* An 18-bit mantissa shifted by up to 63: saturate rather than wrap. */
	if (mantissa && exp > 63 - 17 && (mantissa >> (64 - exp)) != 0)
		remb->bitrate = UINT64_MAX;
	else
		remb->bitrate = mantissa << exp;
	remb->n_ssrcs = f[4];
	remb->ssrcs = f + 8;
	return 0;
}

uint32_t cw_rtcp_remb_ssrc(const struct cw_rtcp_remb *remb, unsigned i)
{
	return i < remb->n_ssrcs ? get32(remb->ssrcs + 4u * i) : 0;
}

/* ---- transport-cc feedback ---- */

/* A packet status chunk: bit 15 clear is a run of one symbol (2 bits) over 13 bits of
 * length; set, it is a vector of 14 one-bit or 7 two-bit symbols (bit 14). Symbols: 0 not
 * received, 1 received with a small (8-bit) delta, 2 with a large (16-bit signed) delta;
 * 3 is reserved. The symbol value is also the number of delta bytes. */
static unsigned chunk_len(uint16_t c)
{
	if (!(c & 0x8000))
		return c & 0x1fff;
	return (c & 0x4000) ? 7 : 14;
}

static unsigned chunk_sym(uint16_t c, unsigned k)
{
	if (!(c & 0x8000))
		return (c >> 13) & 3;
	if (c & 0x4000)
		return (c >> (12 - 2 * k)) & 3;
	return (c >> (13 - k)) & 1;
}

int cw_rtcp_twcc_parse(const struct cw_rtcp_fb *fb, struct cw_rtcp_twcc *twcc,
		       struct cw_rtcp_twcc_status *out, size_t max, size_t *n)
{
	const uint8_t *f = fb->fci;
	size_t pos = TWCC_HEADER_LEN;
	size_t covered = 0;
	size_t delta_bytes = 0;
	size_t dpos;
	size_t cpos = TWCC_HEADER_LEN;
	size_t i;
	unsigned k = 0;
	unsigned clen = 0;
	uint16_t c = 0;
	int64_t t;

	*n = 0;
	if (fb->pt != CW_RTCP_RTPFB || fb->fmt != CW_RTCP_FMT_TWCC)
		return -EINVAL;
	if (fb->fci_len < TWCC_HEADER_LEN)
		return -EBADMSG;
	twcc->base_seq = get16(f);
	twcc->status_count = get16(f + 2);
	twcc->ref_time = sign24(get24(f + 4));
	twcc->fb_count = f[7];
	if (twcc->status_count == 0)
		return -EBADMSG;

	/* First pass: the chunks must cover status_count packets and the deltas they call
	 * for must fit. The last chunk may describe more packets than counted. */
	while (covered < twcc->status_count) {
		size_t want = twcc->status_count - covered;
		size_t take;

		if (fb->fci_len - pos < 2)
			return -EBADMSG;
		c = get16(f + pos);
		pos += 2;
		take = chunk_len(c) < want ? chunk_len(c) : want;
		if (!(c & 0x8000)) {
			if (take && chunk_sym(c, 0) == 3)
				return -EBADMSG;
			delta_bytes += take * chunk_sym(c, 0);
		} else {
			for (k = 0; k < take; k++) {
				unsigned s = chunk_sym(c, k);

				if (s == 3)
					return -EBADMSG;
				delta_bytes += s;
			}
		}
		covered += take;
	}
	if (fb->fci_len - pos < delta_bytes)
		return -EBADMSG;

	/* Second pass: decode, now that every read is known to be in bounds. */
	dpos = pos;
	t = (int64_t)twcc->ref_time * 64000;
	k = 0;
	for (i = 0; i < twcc->status_count && i < max; i++) {
		struct cw_rtcp_twcc_status *st = &out[i];
		unsigned s;

		while (k >= clen) {
			c = get16(f + cpos);
			cpos += 2;
			clen = chunk_len(c);
			k = 0;
		}
		s = chunk_sym(c, k++);
		st->seq = (uint16_t)(twcc->base_seq + i);
		st->received = s != 0;
		st->delta_us = 0;
		st->recv_us = 0;
		if (s == 1) {
			st->delta_us = f[dpos] * 250;
			dpos += 1;
		} else if (s == 2) {
			int32_t d = get16(f + dpos);

			st->delta_us = (d & 0x8000 ? d - 0x10000 : d) * 250;
			dpos += 2;
		}
		if (s) {
			t += st->delta_us;
			st->recv_us = t;
		}
	}
	*n = i;
	return i < twcc->status_count ? -ENOSPC : 0;
}

/* ---- builders ---- */

/* Writes the common header for a packet of len bytes (a multiple of 4). */
static void put_header(uint8_t *out, uint8_t count, uint8_t pt, size_t len)
{
	out[0] = (uint8_t)(0x80 | (count & 0x1f));
	out[1] = pt;
	put16(out + 2, (uint16_t)(len / 4 - 1));
}

static void put_block(uint8_t *p, const struct cw_rtcp_report_block *rb)
{
	int32_t lost = rb->cumulative_lost;

	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	put32(p, rb->ssrc);
	p[4] = rb->fraction_lost;
	put24(p + 5, (uint32_t)lost & 0xffffff);
	put32(p + 8, rb->ext_high_seq);
	put32(p + 12, rb->jitter);
	put32(p + 16, rb->lsr);
	put32(p + 20, rb->dlsr);
}

static int build_report(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
			const struct cw_rtcp_sender_info *si,
			const struct cw_rtcp_report_block *blocks, size_t n)
{
	size_t info = si ? SR_INFO_LEN : 0;
	size_t need = CW_RTCP_HEADER_LEN + 4 + info + n * CW_RTCP_BLOCK_LEN;
	uint8_t *p;
	size_t i;

	if (n > CW_RTCP_REPORT_BLOCKS_MAX || (n && !blocks))
		return -EINVAL;
	if (!out || size < need)
		return -ENOSPC;
	put_header(out, (uint8_t)n, si ? CW_RTCP_SR : CW_RTCP_RR, need);
	put32(out + 4, ssrc);
	p = out + 8;
	if (si) {
		put32(p, (uint32_t)(si->ntp >> 32));
		put32(p + 4, (uint32_t)si->ntp);
		put32(p + 8, si->rtp_ts);
		put32(p + 12, si->packets);
		put32(p + 16, si->octets);
		p += SR_INFO_LEN;
	}
	for (i = 0; i < n; i++, p += CW_RTCP_BLOCK_LEN)
		put_block(p, &blocks[i]);
	*len = need;
	return 0;
}

int cw_rtcp_build_sr(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
		     const struct cw_rtcp_sender_info *si,
		     const struct cw_rtcp_report_block *blocks, size_t n)
{
	if (!si)
		return -EINVAL;
	return build_report(out, size, len, ssrc, si, blocks, n);
}

int cw_rtcp_build_rr(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
		     const struct cw_rtcp_report_block *blocks, size_t n)
{
	return build_report(out, size, len, ssrc, NULL, blocks, n);
}

int cw_rtcp_build_sdes_cname(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
			     const char *cname, size_t cname_len)
{
	/* SSRC, CNAME item, at least one null octet, padded to 32 bits. */
	size_t chunk = (4 + 2 + cname_len + 1 + 3) & ~(size_t)3;
	size_t need = CW_RTCP_HEADER_LEN + chunk;

	if (!cname || cname_len == 0 || cname_len > 255)
		return -EINVAL;
	if (!out || size < need)
		return -ENOSPC;
	put_header(out, 1, CW_RTCP_SDES, need);
	put32(out + 4, ssrc);
	out[8] = SDES_CNAME;
	out[9] = (uint8_t)cname_len;
	memcpy(out + 10, cname, cname_len);
	memset(out + 10 + cname_len, 0, need - 10 - cname_len);
	*len = need;
	return 0;
}

int cw_rtcp_build_bye(uint8_t *out, size_t size, size_t *len, const uint32_t *ssrcs, size_t n)
{
	size_t need = CW_RTCP_HEADER_LEN + 4 * n;
	size_t i;

	if (!ssrcs || n == 0 || n > 31)
		return -EINVAL;
	if (!out || size < need)
		return -ENOSPC;
	put_header(out, (uint8_t)n, CW_RTCP_BYE, need);
	for (i = 0; i < n; i++)
		put32(out + 4 + 4 * i, ssrcs[i]);
	*len = need;
	return 0;
}

/* Writes a feedback header for a packet of need bytes, after checking the room. */
static int fb_start(uint8_t *out, size_t size, size_t need, uint8_t pt, uint8_t fmt,
		    uint32_t sender_ssrc, uint32_t media_ssrc)
{
	if (!out || size < need)
		return -ENOSPC;
	put_header(out, fmt, pt, need);
	put32(out + 4, sender_ssrc);
	put32(out + 8, media_ssrc);
	return 0;
}

int cw_rtcp_build_pli(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		      uint32_t media_ssrc)
{
	int err = fb_start(out, size, 12, CW_RTCP_PSFB, CW_RTCP_FMT_PLI, sender_ssrc, media_ssrc);

	if (err)
		return err;
	*len = 12;
	return 0;
}

int cw_rtcp_build_fir(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		      uint32_t target_ssrc, uint8_t seq)
{
	/* RFC 5104 4.3.1.2: the media source field is unused and zero; the FCI names it. */
	int err = fb_start(out, size, 20, CW_RTCP_PSFB, CW_RTCP_FMT_FIR, sender_ssrc, 0);

	if (err)
		return err;
	put32(out + 12, target_ssrc);
	out[16] = seq;
	put24(out + 17, 0);
	*len = 20;
	return 0;
}

int cw_rtcp_build_nack(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		       uint32_t media_ssrc, const uint16_t *lost, size_t n)
{
	size_t pos = 12;
	uint16_t pid = 0;
	uint16_t blp = 0;
	size_t i;
	int err;

	if (!lost || n == 0)
		return -EINVAL;
	if (!out || size < 16)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		if (i > 0) {
			uint16_t d = (uint16_t)(lost[i] - pid);

			if (d == 0)
				continue;
			if (d <= 16) {
				blp |= (uint16_t)(1u << (d - 1));
				continue;
			}
			/* Out of this pair's reach: close it and start another. */
			if (size - pos < 8)
				return -ENOSPC;
			put16(out + pos, pid);
			put16(out + pos + 2, blp);
			pos += 4;
		}
		pid = lost[i];
		blp = 0;
	}
	put16(out + pos, pid);
	put16(out + pos + 2, blp);
	pos += 4;
	if (pos / 4 - 1 > 0xffff)
		return -ENOSPC;
	err = fb_start(out, size, pos, CW_RTCP_RTPFB, CW_RTCP_FMT_NACK, sender_ssrc, media_ssrc);
	if (err)
		return err;
	*len = pos;
	return 0;
}

int cw_rtcp_build_remb(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		       uint64_t bitrate, const uint32_t *ssrcs, size_t n)
{
	size_t need = 12 + 8 + 4 * n;
	unsigned exp = 0;
	size_t i;
	int err;

	if (n > 255 || (n && !ssrcs))
		return -EINVAL;
	while (bitrate >> exp > 0x3ffff)
		exp++;
	err = fb_start(out, size, need, CW_RTCP_PSFB, CW_RTCP_FMT_AFB, sender_ssrc, 0);
	if (err)
		return err;
	memcpy(out + 12, "REMB", 4);
	out[16] = (uint8_t)n;
	put24(out + 17, (uint32_t)(exp << 18 | (bitrate >> exp)));
	for (i = 0; i < n; i++)
		put32(out + 20 + 4 * i, ssrcs[i]);
	*len = need;
	return 0;
}

/* ---- receive statistics ---- */

#define SEQ_MOD 0x10000u
#define MAX_DROPOUT 3000u
#define MAX_MISORDER 100u

/* Arrival time in RTP clock units, modulo 2^32, without overflowing the product. */
static uint32_t to_rtp_units(int64_t us, uint32_t rate)
{
	uint64_t u = (uint64_t)us;

	return (uint32_t)((u / 1000000) * rate + (u % 1000000) * rate / 1000000);
}

static void seq_restart(struct cw_rtcp_rx_stats *s, uint16_t seq)
{
	s->started = true;
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = SEQ_MOD + 1; /* never equal to a 16-bit number */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
	s->have_transit = false;
}

void cw_rtcp_rx_init(struct cw_rtcp_rx_stats *s, uint32_t ssrc, uint32_t clock_rate)
{
	memset(s, 0, sizeof(*s));
	s->ssrc = ssrc;
	s->clock_rate = clock_rate;
}

int cw_rtcp_rx_packet(struct cw_rtcp_rx_stats *s, uint16_t seq, uint32_t rtp_ts, int64_t arrival_us)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);
	bool in_order = false;

	/* Appendix A.1 without the probation period: WebRTC sources start at once. */
	if (!s->started) {
		seq_restart(s, seq);
		in_order = true;
	} else if (udelta > 0 && udelta < MAX_DROPOUT) {
		if (seq < s->max_seq)
			s->cycles += SEQ_MOD;
		s->max_seq = seq;
		in_order = true;
	} else if (udelta > 0 && udelta <= SEQ_MOD - MAX_MISORDER) {
		if (seq != s->bad_seq) {
			s->bad_seq = (seq + 1u) & (SEQ_MOD - 1);
			return -ERANGE;
		}
		/* Two in sequence after a big jump: the source restarted. */
		seq_restart(s, seq);
		in_order = true;
	}
	/* else a duplicate or a reordered packet: counted, as A.1 does */
	s->received++;

	if (in_order && s->clock_rate) {
		/* A.8: jitter from the change in transit time, both in timestamp units. */
		uint32_t transit = to_rtp_units(arrival_us, s->clock_rate) - rtp_ts;

		if (s->have_transit) {
			int64_t d = (int32_t)(transit - s->transit);

			if (d < 0)
				d = -d;
			int64_t j = (int64_t)s->jitter + d - ((s->jitter + 8) >> 4);

			s->jitter = j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
		}
		s->transit = transit;
		s->have_transit = true;
	}
	return 0;
}

void cw_rtcp_rx_sr(struct cw_rtcp_rx_stats *s, uint64_t ntp, int64_t arrival_us)
{
	s->lsr = cw_rtcp_ntp_mid(ntp);
	s->lsr_arrival_us = arrival_us;
}

void cw_rtcp_rx_report(struct cw_rtcp_rx_stats *s, int64_t now_us, struct cw_rtcp_report_block *rb)
{
	uint32_t ext_max = s->cycles + s->max_seq;
	int64_t expected = s->started ? (int64_t)ext_max - s->base_seq + 1 : 0;
	int64_t lost = expected - s->received;
	int64_t expected_interval = expected - s->expected_prior;
	int64_t received_interval = (int64_t)s->received - s->received_prior;
	int64_t lost_interval = expected_interval - received_interval;

	memset(rb, 0, sizeof(*rb));
	rb->ssrc = s->ssrc;
	/* A.3: cumulative loss is clamped to 24 signed bits. */
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	rb->cumulative_lost = (int32_t)lost;
	if (expected_interval > 0 && lost_interval > 0)
		rb->fraction_lost = (uint8_t)((lost_interval << 8) / expected_interval);
	s->expected_prior = (uint32_t)expected;
	s->received_prior = s->received;
	rb->ext_high_seq = ext_max;
	rb->jitter = s->jitter >> 4;
	if (s->lsr) {
		int64_t since = now_us - s->lsr_arrival_us;

		rb->lsr = s->lsr;
		/* In 1/65536 s, 32 bits: saturated after 18 hours. */
		if (since <= 0)
			rb->dlsr = 0;
		else if (since / 1000000 >= 65536)
			rb->dlsr = UINT32_MAX;
		else
			rb->dlsr = (uint32_t)(since / 1000000 * 65536 +
					      since % 1000000 * 65536 / 1000000);
	}
}

uint32_t cw_rtcp_ntp_mid(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

uint64_t cw_rtcp_ntp_from_unix_us(int64_t unix_us)
{
	uint64_t us = (uint64_t)unix_us;
	uint64_t secs = us / 1000000 + NTP_UNIX_OFFSET;
	uint64_t frac = ((us % 1000000) << 32) / 1000000;

	return secs << 32 | frac;
}

int cw_rtcp_rtt_us(uint32_t now_mid, uint32_t lsr, uint32_t dlsr, int64_t *rtt_us)
{
	uint32_t r;

	if (lsr == 0)
		return -ENOENT;
	r = now_mid - lsr - dlsr;
	if (r & 0x80000000u) /* negative: clock skew or a bogus DLSR */
		r = 0;
	*rtt_us = (int64_t)r * 1000000 / 65536;
	return 0;
}
