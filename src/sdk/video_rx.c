/* video_rx: the receiving side of VP8: pictures put together from RTP packets in any order,
 * held for a retransmission of what is missing before them, decoded in order with libvpx,
 * and the keyframe requests after a loss. */
#include <stdlib.h>
#include <string.h>

#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "rtc/rtp.h"
#include "video.h"

/*
 * Packets wait in RX_SLOTS slots indexed by their sequence number. Once a picture was
 * taken (decoded, or skipped in order), `last_seq` is its last packet, and every packet
 * held is newer than it by less than RX_SLOTS, so no two held packets share a slot.
 *
 * Each packet that comes may complete the picture it belongs to: from a first packet (S=1,
 * partition 0) through consecutive sequence numbers of the same timestamp to a marker.
 * A complete picture that follows the last one taken (its PictureID is the next or,
 * without PictureIDs, its first packet is the next sequence number) is taken at once, and
 * so is a keyframe. Any other waits, held in its slots and marked complete in its first
 * packet's, for the pictures before it: a lost packet comes again (NACK) a round trip
 * later, usually after the next picture, and decoding everything in order then costs far
 * less than the keyframe a gap needs. Whenever a picture is taken, the held ones that now
 * follow are taken after it.
 *
 * The wait ends with the missing picture, with a keyframe (decoded at once; what is held
 * before it is dropped), or is given up: hold_wait() after the held pictures began to wait
 * (cw__vp8_rx_poll), or when a packet would not fit in the slots. Giving up takes the held
 * pictures in order as if the missing ones had been lost for good: the packets of an
 * incomplete picture are dropped with everything older, the pictures after it are
 * skipped, and only a keyframe can be decoded from then on.
 */
#define RX_SLOTS 512
#define RX_PAYLOAD_MAX 1500	    /* VP8 bytes of one packet, after its descriptor */
#define RX_STRAYS 16		    /* packets far older than the stream in a row: a new sender */
#define RX_KEY_INTERVAL_MS 250	    /* between two keyframe requests at least */
#define RX_LOST_MAX 128		    /* a PictureID jump counted as that many lost pictures */
#define RX_FRAME_BUF_MIN (64 << 10) /* the first size of the picture buffer */
#define RX_HOLD_MIN_MS 100	    /* the wait for a missing picture: twice the round trip, */
#define RX_HOLD_MAX_MS 500	    /* within these bounds */

struct rx_slot {
	uint8_t *data; /* RX_PAYLOAD_MAX bytes when decoding, allocated at first use */
	uint16_t len;
	uint16_t seq;
	uint32_t ts;
	bool used;
	bool marker;
	bool start; /* S=1 in partition 0: the picture's first packet */
	bool keyframe;
	bool has_pid, pid15;
	uint16_t pid;
	uint16_t width, height; /* of a keyframe whose header is complete */
	/* A held picture, in its first packet's slot: */
	bool complete;
	uint16_t hi;	 /* its last packet */
	uint32_t bytes;	 /* of VP8 in all */
	int64_t done_ms; /* when it completed */
};

struct cw__vp8_rx {
	bool decode;
	bool dec_open;
	vpx_codec_ctx_t dec;
	bool have_last; /* a picture was taken since the start (or a restart) */
	uint16_t last_seq;
	bool last_has_pid, last_pid15;
	uint16_t last_pid;
	bool want_key;
	bool holding; /* complete pictures wait for an older one, since hold_ms */
	int64_t hold_ms;
	bool asked; /* said yes once, at asked_ms */
	int64_t asked_ms;
	unsigned strays;
	uint8_t *frame; /* the picture put together for the decoder */
	size_t frame_cap;
	struct cw__vp8_rx_stats st;
	struct rx_slot slot[RX_SLOTS];
};

int cw__vp8_rx_new(struct cw__vp8_rx **rxp, bool decode)
{
	struct cw__vp8_rx *rx;

	if (!rxp)
		return CW_ERR_INVALID_ARGUMENT;
	*rxp = NULL;
	rx = calloc(1, sizeof(*rx));
	if (!rx)
		return CW_ERR_NO_MEMORY;
	rx->decode = decode;
	rx->want_key = true; /* nothing can be decoded before a keyframe */
	*rxp = rx;
	return 0;
}

static void close_decoder(struct cw__vp8_rx *rx)
{
	if (rx->dec_open)
		vpx_codec_destroy(&rx->dec);
	rx->dec_open = false;
}

void cw__vp8_rx_free(struct cw__vp8_rx *rx)
{
	if (!rx)
		return;
	close_decoder(rx);
	for (size_t i = 0; i < RX_SLOTS; i++)
		free(rx->slot[i].data);
	free(rx->frame);
	free(rx);
}

/* The packet with this sequence number, if held. */
static const struct rx_slot *held(const struct cw__vp8_rx *rx, uint16_t seq)
{
	const struct rx_slot *s = &rx->slot[seq % RX_SLOTS];

	return s->used && s->seq == seq ? s : NULL;
}

/* Forgets every packet held and the stream's position: the next complete picture starts
 * it again (a jump in the numbering, a new sender). */
static void restart(struct cw__vp8_rx *rx)
{
	if (rx->have_last)
		rx->st.dropped++;
	for (size_t i = 0; i < RX_SLOTS; i++)
		rx->slot[i].used = false;
	rx->have_last = false;
	rx->want_key = true;
	rx->holding = false;
	rx->strays = 0;
}

/* Drops what is no longer newer than the last picture taken, or too far ahead of it.
 * Returns how many held pictures went with it. */
static uint64_t forget_old(struct cw__vp8_rx *rx)
{
	uint64_t held_pictures = 0;

	for (size_t i = 0; i < RX_SLOTS; i++) {
		struct rx_slot *s = &rx->slot[i];
		int32_t ahead = cw_rtp_seq_diff(s->seq, rx->last_seq);

		if (s->used && (ahead <= 0 || ahead >= RX_SLOTS)) {
			s->used = false;
			held_pictures += s->complete;
		}
	}
	return held_pictures;
}

/* The first packet of the oldest picture held, if any. */
static struct rx_slot *next_held(struct cw__vp8_rx *rx)
{
	for (uint16_t i = 1; i < RX_SLOTS; i++) {
		uint16_t seq = (uint16_t)(rx->last_seq + i);
		struct rx_slot *s = &rx->slot[seq % RX_SLOTS];

		if (s->used && s->seq == seq && s->complete)
			return s;
	}
	return NULL;
}

/* When the earliest of the pictures held completed. */
static int64_t held_since(const struct cw__vp8_rx *rx, int64_t since)
{
	for (size_t i = 0; i < RX_SLOTS; i++) {
		const struct rx_slot *s = &rx->slot[i];

		if (s->used && s->complete && s->done_ms < since)
			since = s->done_ms;
	}
	return since;
}

/* How long held pictures wait for a missing one: a retransmission asked at once comes a
 * round trip later, and one asked again another round trip after. */
static int64_t hold_wait(int rtt_ms)
{
	int64_t wait = 2 * (int64_t)rtt_ms;

	if (wait < RX_HOLD_MIN_MS)
		return RX_HOLD_MIN_MS;
	return wait > RX_HOLD_MAX_MS ? RX_HOLD_MAX_MS : wait;
}

/* Whether the picture starting with first (at sequence number lo) is the one after the
 * last taken; otherwise *lost tells how many pictures went missing, as far as known.
 * PictureIDs decide when both pictures have them: then padding or other packets between
 * pictures do not matter. */
static bool follows(const struct cw__vp8_rx *rx, const struct rx_slot *first, uint16_t lo,
		    uint64_t *lost)
{
	*lost = 1;
	if (rx->last_has_pid && first->has_pid) {
		unsigned mask = rx->last_pid15 && first->pid15 ? 0x7fff : 0x7f;
		unsigned d = ((unsigned)first->pid - rx->last_pid) & mask;

		if (d == 1)
			return true;
		if (d > 1 && d <= RX_LOST_MAX + 1)
			*lost = d - 1;
		return false;
	}
	return lo == (uint16_t)(rx->last_seq + 1);
}

static bool size_ok(unsigned width, unsigned height)
{
	return width > 0 && height > 0 && width <= CW__VIDEO_WIDTH_MAX &&
	       height <= CW__VIDEO_HEIGHT_MAX;
}

/* Delivers what the decoder made of the last picture. */
static void deliver(struct cw__vp8_rx *rx, bool keyframe, cw__vp8_frame_fn frame, void *arg)
{
	vpx_codec_iter_t iter = NULL;
	vpx_image_t *img;

	while ((img = vpx_codec_get_frame(&rx->dec, &iter))) {
		/* The public frame is even-sized: another sender's odd column or row is cut. */
		cw_video_frame f = {.width = (int)(img->d_w & ~1u),
				    .height = (int)(img->d_h & ~1u)};

		if (img->fmt != VPX_IMG_FMT_I420 || f.width == 0 || f.height == 0 ||
		    !size_ok(img->d_w, img->d_h))
			continue;
		for (int i = 0; i < 3; i++) {
			f.planes[i] = img->planes[i];
			f.strides[i] = img->stride[i];
		}
		rx->st.frames++;
		if (keyframe)
			rx->st.keyframes++;
		rx->st.width = (uint16_t)f.width;
		rx->st.height = (uint16_t)f.height;
		if (frame)
			frame(&f, arg);
	}
}

/* Decodes the picture held from lo to hi (bytes of VP8 in all). false when it cannot be. */
static bool decode(struct cw__vp8_rx *rx, uint16_t lo, uint16_t hi, size_t bytes, bool keyframe,
		   cw__vp8_frame_fn frame, void *arg)
{
	size_t at = 0;
	int corrupted = 0;

	if (!rx->dec_open) {
		vpx_codec_dec_cfg_t cfg = {.threads = 1};

		if (vpx_codec_dec_init(&rx->dec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK)
			return false;
		rx->dec_open = true;
	}
	if (rx->frame_cap < bytes) {
		size_t cap = rx->frame_cap ? rx->frame_cap : RX_FRAME_BUF_MIN;
		uint8_t *p;

		while (cap < bytes)
			cap *= 2;
		p = realloc(rx->frame, cap);
		if (!p)
			return false;
		rx->frame = p;
		rx->frame_cap = cap;
	}
	for (uint16_t seq = lo;; seq++) {
		const struct rx_slot *s = held(rx, seq);

		memcpy(rx->frame + at, s->data, s->len);
		at += s->len;
		if (seq == hi)
			break;
	}
	if (vpx_codec_decode(&rx->dec, rx->frame, (unsigned)bytes, NULL, 0) != VPX_CODEC_OK ||
	    vpx_codec_control(&rx->dec, VP8D_GET_FRAME_CORRUPTED, &corrupted) != VPX_CODEC_OK ||
	    corrupted) {
		/* Whatever state the decoder is in, the next keyframe starts a fresh one. */
		close_decoder(rx);
		return false;
	}
	deliver(rx, keyframe, frame, arg);
	return true;
}

/* Whether the picture starting with first is a keyframe this takes. */
static bool is_key(const struct rx_slot *first)
{
	return first->keyframe && size_ok(first->width, first->height);
}

/* Takes the complete picture from lo to hi, in order or after a gap. */
static void take(struct cw__vp8_rx *rx, uint16_t lo, uint16_t hi, size_t bytes,
		 cw__vp8_frame_fn frame, void *arg)
{
	const struct rx_slot *first = held(rx, lo);
	bool key = is_key(first), gap = false;
	uint64_t lost = 0, forgotten;
	bool ok;

	rx->slot[lo % RX_SLOTS].complete = false; /* held no more, if it was */
	if (rx->have_last && !follows(rx, first, lo, &lost)) {
		gap = true;
		rx->want_key = true;
	}
	if (first->keyframe && !key)
		ok = false; /* a keyframe's header cut short, or a size this does not take */
	else if (rx->want_key && !key)
		ok = false;
	else if (bytes > CW__VP8_FRAME_MAX)
		ok = false;
	else if (!rx->decode)
		ok = true;
	else
		ok = decode(rx, lo, hi, bytes, key, frame, arg);

	if (ok) {
		rx->want_key = false;
		if (!rx->decode) {
			rx->st.frames++;
			rx->st.keyframes += key;
			if (key) {
				rx->st.width = first->width;
				rx->st.height = first->height;
			}
		}
	} else {
		rx->st.dropped++;
		/* After a skipped picture the stream needs a keyframe; a delta picture skipped
		 * while waiting for one changes nothing. */
		rx->want_key = true;
	}
	rx->have_last = true;
	rx->last_seq = hi;
	rx->last_has_pid = first->has_pid;
	rx->last_pid15 = first->pid15;
	rx->last_pid = first->pid;
	/* Pictures held before this one are skipped (a keyframe does not wait for them). A gap
	 * counts its pictures by PictureID, which includes those; without, one at least. */
	forgotten = forget_old(rx);
	if (gap)
		rx->st.dropped += lost > forgotten ? lost : forgotten + 1;
	else
		rx->st.dropped += forgotten;
}

/* Takes the held pictures that now follow the last one taken. The first that does not
 * keeps the wait going, from when the earliest one still held completed. */
static void take_held(struct cw__vp8_rx *rx, cw__vp8_frame_fn frame, void *arg)
{
	struct rx_slot *s;
	uint64_t lost;

	while (rx->holding && (s = next_held(rx))) {
		if (!follows(rx, s, s->seq, &lost)) {
			rx->hold_ms = held_since(rx, s->done_ms);
			return;
		}
		take(rx, s->seq, s->hi, s->bytes, frame, arg);
	}
	rx->holding = false;
}

/* Gives up on what is missing: the held pictures are taken in order, after the gap. */
static void give_up(struct cw__vp8_rx *rx, cw__vp8_frame_fn frame, void *arg)
{
	struct rx_slot *s;

	while ((s = next_held(rx)))
		take(rx, s->seq, s->hi, s->bytes, frame, arg);
	rx->holding = false;
}

/* Keeps the complete picture starting with first to wait for the ones before it. */
static void hold(struct cw__vp8_rx *rx, struct rx_slot *first, uint16_t hi, size_t bytes,
		 int64_t now_ms)
{
	first->complete = true;
	first->hi = hi;
	first->bytes = (uint32_t)bytes;
	first->done_ms = now_ms;
	rx->st.held++;
	if (!rx->holding) {
		rx->holding = true;
		rx->hold_ms = now_ms;
	}
}

/* Takes or holds the picture seq belongs to if it is complete now. */
static void complete(struct cw__vp8_rx *rx, uint16_t seq, int64_t now_ms, cw__vp8_frame_fn frame,
		     void *arg)
{
	const struct rx_slot *s = held(rx, seq), *p;
	struct rx_slot *first;
	uint16_t lo = seq, hi = seq;
	uint32_t ts = s->ts;
	size_t bytes = s->len;
	unsigned n = 1;
	uint64_t lost;

	/* Back to the first packet, over packets of the same picture only. */
	while (!s->start) {
		p = held(rx, (uint16_t)(lo - 1));
		if (!p || p->ts != ts || p->marker || ++n >= RX_SLOTS)
			return;
		lo--;
		bytes += p->len;
		s = p;
	}
	/* On to the marker. */
	s = held(rx, seq);
	while (!s->marker) {
		p = held(rx, (uint16_t)(hi + 1));
		if (!p || p->ts != ts || p->start || ++n >= RX_SLOTS)
			return;
		hi++;
		bytes += p->len;
		s = p;
	}
	first = &rx->slot[lo % RX_SLOTS];
	if (rx->have_last && !follows(rx, first, lo, &lost) && !is_key(first)) {
		hold(rx, first, hi, bytes, now_ms);
		return;
	}
	take(rx, lo, hi, bytes, frame, arg);
	take_held(rx, frame, arg);
}

int cw__vp8_rx_put(struct cw__vp8_rx *rx, uint16_t seq, uint32_t ts, bool marker,
		   const uint8_t *payload, size_t len, int64_t now_ms, cw__vp8_frame_fn frame,
		   void *arg)
{
	struct cw_rtp_vp8 d;
	struct rx_slot *s;
	size_t vlen;

	if (!rx)
		return CW_ERR_INVALID_ARGUMENT;
	if (!payload || cw_rtp_vp8_parse(&d, payload, len) != 0 ||
	    len - d.desc_len > RX_PAYLOAD_MAX) {
		rx->st.malformed++;
		return 1;
	}
	vlen = len - d.desc_len;
	if (rx->have_last) {
		int32_t ahead = cw_rtp_seq_diff(seq, rx->last_seq);

		if (ahead <= 0 && (ahead >= -RX_SLOTS || ++rx->strays < RX_STRAYS)) {
			rx->st.malformed++; /* older than what was taken */
			return 1;
		}
		/* Far ahead, or far behind again and again. Pictures waiting for a missing one
		 * wait no more: the packet needs their slots. */
		if ((ahead <= 0 || ahead >= RX_SLOTS) && rx->holding) {
			give_up(rx, frame, arg);
			ahead = cw_rtp_seq_diff(seq, rx->last_seq);
		}
		/* If still so, the sender jumped or started afresh, and what is held belongs to
		 * the past. */
		if (ahead <= 0 || ahead >= RX_SLOTS)
			restart(rx);
	}
	rx->strays = 0;

	s = &rx->slot[seq % RX_SLOTS];
	if (s->used && s->seq == seq) {
		rx->st.duplicates++;
		return 1;
	}
	/* Before the first picture nothing orders the packets: of two that share a slot the
	 * newer stays. */
	if (s->used && cw_rtp_seq_diff(seq, s->seq) < 0) {
		rx->st.malformed++;
		return 1;
	}
	if (rx->decode) {
		if (!s->data && !(s->data = malloc(RX_PAYLOAD_MAX)))
			return CW_ERR_NO_MEMORY;
		memcpy(s->data, payload + d.desc_len, vlen);
	}
	s->used = true;
	s->seq = seq;
	s->ts = ts;
	s->len = (uint16_t)vlen;
	s->marker = marker;
	s->start = d.frame_start;
	s->keyframe = d.keyframe;
	s->has_pid = d.has_picture_id;
	s->pid15 = d.picture_id_15;
	s->pid = d.picture_id;
	s->width = d.width;
	s->height = d.height;
	s->complete = false;
	rx->st.packets++;
	complete(rx, seq, now_ms, frame, arg);
	return 0;
}

bool cw__vp8_rx_poll(struct cw__vp8_rx *rx, int64_t now_ms, int rtt_ms, cw__vp8_frame_fn frame,
		     void *arg)
{
	if (!rx || !rx->holding || now_ms - rx->hold_ms < hold_wait(rtt_ms))
		return false;
	give_up(rx, frame, arg);
	return true;
}

bool cw__vp8_rx_wants_keyframe(struct cw__vp8_rx *rx, int64_t now_ms, int rtt_ms)
{
	int64_t wait = rtt_ms > RX_KEY_INTERVAL_MS ? rtt_ms : RX_KEY_INTERVAL_MS;

	if (!rx || !rx->want_key)
		return false;
	if (rx->asked && now_ms - rx->asked_ms < wait)
		return false;
	rx->asked = true;
	rx->asked_ms = now_ms;
	rx->st.key_wanted++;
	return true;
}

void cw__vp8_rx_stats(const struct cw__vp8_rx *rx, struct cw__vp8_rx_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (rx)
		*st = rx->st;
}
