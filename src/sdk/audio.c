/* audio: the Opus encoder, the RFC 6464 level of a frame, the jitter buffer that turns one
 * stream's Opus packets into steady 20 ms frames, and the mixing of streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

#include "callwire/callwire.h"
#include "media.h"

/* ---- the encoder ---- */

#define ENC_BITRATE 32000
#define ENC_BITRATE_MIN 6000
#define ENC_BITRATE_MAX 510000
/* Of 10: the encoder runs on the network thread, which may be a small device's. */
#define ENC_COMPLEXITY 5
/* The loss the in-band FEC is sized for. */
#define ENC_LOSS_PERC 10

struct cw__opus_enc {
	OpusEncoder *enc;
};

int cw__opus_enc_new(struct cw__opus_enc **encp, int bitrate)
{
	struct cw__opus_enc *e = NULL;
	int oerr, err = 0;

	if (!encp)
		return CW_ERR_INVALID_ARGUMENT;
	*encp = NULL;
	if (bitrate == 0)
		bitrate = ENC_BITRATE;
	if (bitrate < ENC_BITRATE_MIN || bitrate > ENC_BITRATE_MAX)
		return CW_ERR_INVALID_ARGUMENT;
	e = calloc(1, sizeof(*e));
	if (!e)
		return CW_ERR_NO_MEMORY;
	e->enc = opus_encoder_create(CW__AUDIO_RATE, 1, OPUS_APPLICATION_VOIP, &oerr);
	if (!e->enc) {
		err = oerr == OPUS_ALLOC_FAIL ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(bitrate)) != OPUS_OK ||
	    opus_encoder_ctl(e->enc, OPUS_SET_COMPLEXITY(ENC_COMPLEXITY)) != OPUS_OK ||
	    opus_encoder_ctl(e->enc, OPUS_SET_INBAND_FEC(1)) != OPUS_OK ||
	    opus_encoder_ctl(e->enc, OPUS_SET_PACKET_LOSS_PERC(ENC_LOSS_PERC)) != OPUS_OK ||
	    opus_encoder_ctl(e->enc, OPUS_SET_DTX(0)) != OPUS_OK)
		err = CW_ERR_INVALID_ARGUMENT;
out:
	if (err) {
		cw__opus_enc_free(e);
		return err;
	}
	*encp = e;
	return 0;
}

void cw__opus_enc_free(struct cw__opus_enc *enc)
{
	if (!enc)
		return;
	if (enc->enc)
		opus_encoder_destroy(enc->enc);
	free(enc);
}

int cw__opus_enc_frame(struct cw__opus_enc *enc, const int16_t *pcm, uint8_t *out, size_t cap)
{
	opus_int32 n;

	if (!enc || !pcm || !out || cap == 0)
		return CW_ERR_INVALID_ARGUMENT;
	if (cap > CW__OPUS_MAX)
		cap = CW__OPUS_MAX;
	n = opus_encode(enc->enc, pcm, CW__AUDIO_FRAME, out, (opus_int32)cap);
	if (n < 0)
		return n == OPUS_ALLOC_FAIL ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
	return (int)n;
}

uint8_t cw__audio_level(const int16_t *pcm, size_t n)
{
	double sum = 0, dbov;

	if (!pcm || n == 0)
		return 127;
	for (size_t i = 0; i < n; i++)
		sum += (double)pcm[i] * pcm[i];
	if (sum == 0)
		return 127;
	/* 0 dBov is the RMS of a full-scale square wave. */
	dbov = 20 * log10(sqrt(sum / (double)n) / 32768.0);
	if (dbov >= 0)
		return 0;
	if (dbov <= -127)
		return 127;
	return (uint8_t)lround(-dbov);
}

void cw__audio_mix(int16_t *dst, const int16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int32_t v = (int32_t)dst[i] + src[i];
		dst[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
	}
}

/* ---- the jitter buffer ---- */

/*
 * Packets wait in a ring of JB_SLOTS slots indexed by their extended sequence number. The
 * playout point `next` is the sequence number of the packet that plays next; `highest` is
 * the newest one that arrived. The buffered level is the audio from next to highest, in
 * milliseconds, and the buffer steers it towards target_ms:
 *
 * - A stream starts (or starts again after a gap) by filling: silence until the target is
 *   buffered, or until the first packet has waited the target's time.
 * - A missing packet is recovered from the next one's in-band FEC when that one is there,
 *   otherwise concealed; the playout moves on. When nothing newer has come at all, the
 *   packet may only be late: the frame is concealed and the playout waits for it, which
 *   makes the delay a frame longer. More than JB_GAP_FRAMES frames concealed in a row is
 *   a gap: silence, and playout starts afresh with the next packet (a resync).
 * - Upward: a packet arriving after its frame was played (late), or one the playout waited
 *   for, raises the target by a frame, up to JB_TARGET_MAX_MS; after a late packet one
 *   concealed frame is inserted before the next packet to reach the new target at once.
 * - Downward: the target falls back by a frame after JB_CALM gets without a late packet,
 *   and when the level stayed two frames above the target for a whole window of gets, one
 *   frame is dropped. Lost packets while above the target are skipped, not concealed.
 * - A packet that would put more than JB_MAX_MS (or the ring) between the playout point
 *   and itself (a burst, the sender's clock running fast, a jump in its numbering) moves
 *   the playout point forward to about the target, dropping older frames (a resync).
 *
 * Decoded audio goes through `left`, so packets of 10, 40 or 60 ms come out as 20 ms
 * frames all the same.
 */
#define JB_SLOTS 64
#define JB_PACKET_MAX 5760 /* samples of Opus's longest packet (120 ms) */
#define JB_TARGET_MIN_MS 60
#define JB_TARGET_MAX_MS 200
#define JB_STEP_MS 20
#define JB_MAX_MS 300
#define JB_GAP_FRAMES 10
#define JB_WINDOW 50 /* gets (1 s) over which the lowest level is watched */
#define JB_CALM 500  /* gets (10 s) without a late packet before the target falls */
#define JB_STRAYS 3  /* packets far older than the playout in a row: the sender restarted */
#define JB_SEQ_BASE (INT64_C(1) << 32) /* the first extended number: room to go back */

struct jb_slot {
	int64_t seq; /* extended */
	bool used;
	uint16_t len;
	int samples;
	uint8_t data[CW__OPUS_MAX];
};

enum jb_state {
	JB_WAITING, /* no packet yet, or after a gap: silence */
	JB_FILLING, /* packets came: silence until the target is buffered */
	JB_PLAYING
};

struct cw__jb {
	OpusDecoder *dec;
	enum jb_state state;
	bool have_seq; /* highest is known */
	bool started;  /* played before: starting again is a resync */
	bool holding;  /* the playout waits for next, which has not come */
	bool stretch;  /* insert a frame before the next packet (a late packet came) */
	bool shrink;   /* drop the next packet (the level stayed above the target) */
	int64_t next, highest;
	int64_t fill_start; /* when filling began, by the caller's clock */
	int samples;	    /* of the newest packet: the size of a concealed frame */
	int target_ms;
	int run;	    /* frames concealed in a row for want of a packet */
	int win_n, win_min; /* gets of the current window and the lowest level in it */
	int calm;	    /* gets since the target last rose */
	int strays;
	struct cw__jb_stats st;
	enum cw__jb_frame left_kind;
	size_t nleft;
	int16_t left[CW__AUDIO_FRAME + JB_PACKET_MAX];
	struct jb_slot slot[JB_SLOTS];
};

int cw__jb_new(struct cw__jb **jbp)
{
	struct cw__jb *jb;
	int oerr;

	if (!jbp)
		return CW_ERR_INVALID_ARGUMENT;
	*jbp = NULL;
	jb = calloc(1, sizeof(*jb));
	if (!jb)
		return CW_ERR_NO_MEMORY;
	jb->dec = opus_decoder_create(CW__AUDIO_RATE, 1, &oerr);
	if (!jb->dec) {
		free(jb);
		return oerr == OPUS_ALLOC_FAIL ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
	}
	jb->state = JB_WAITING;
	jb->samples = CW__AUDIO_FRAME;
	jb->target_ms = JB_TARGET_MIN_MS;
	*jbp = jb;
	return 0;
}

void cw__jb_free(struct cw__jb *jb)
{
	if (!jb)
		return;
	opus_decoder_destroy(jb->dec);
	free(jb);
}

static int64_t extend_seq(const struct cw__jb *jb, uint16_t seq)
{
	int d;

	if (!jb->have_seq)
		return JB_SEQ_BASE + seq;
	d = (uint16_t)(seq - (uint16_t)jb->highest);
	if (d >= 0x8000)
		d -= 0x10000;
	return jb->highest + d;
}

static struct jb_slot *slot_of(struct cw__jb *jb, int64_t seq)
{
	struct jb_slot *s = &jb->slot[(uint64_t)seq % JB_SLOTS];

	return s->used && s->seq == seq ? s : NULL;
}

static int frame_ms(const struct cw__jb *jb)
{
	return jb->samples / (CW__AUDIO_RATE / 1000);
}

/* The audio from the playout point to the newest packet, with packets of the newest one's
 * duration. */
static int level_ms(const struct cw__jb *jb)
{
	if (jb->highest < jb->next)
		return 0;
	return (int)(jb->highest - jb->next + 1) * frame_ms(jb);
}

static void raise_target(struct cw__jb *jb, bool stretch)
{
	jb->target_ms += JB_STEP_MS;
	if (jb->target_ms > JB_TARGET_MAX_MS)
		jb->target_ms = JB_TARGET_MAX_MS;
	jb->stretch = stretch;
	jb->calm = 0;
}

/* Puts the playout point about the target before seq (the newest packet), dropping what is
 * older, or fills again from seq when too little is left. */
static void resync(struct cw__jb *jb, int64_t seq, int64_t now_ms)
{
	int frames = (jb->target_ms + frame_ms(jb) - 1) / frame_ms(jb);
	int64_t from = seq - (frames > 1 ? frames - 1 : 0);

	for (size_t i = 0; i < JB_SLOTS; i++) {
		if (jb->slot[i].seq < from || jb->slot[i].seq > seq)
			jb->slot[i].used = false;
	}
	while (from < seq && !slot_of(jb, from))
		from++;
	jb->next = from;
	jb->highest = seq;
	jb->run = 0;
	jb->holding = false;
	jb->st.resyncs++;
	jb->state = level_ms(jb) >= jb->target_ms ? JB_PLAYING : JB_FILLING;
	jb->fill_start = now_ms;
}

int cw__jb_put(struct cw__jb *jb, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
	       int64_t now_ms)
{
	struct jb_slot *s;
	int64_t x;
	int samples;

	(void)ts; /* the sequence numbers order the frames; Opus packets carry their length */
	if (!jb)
		return CW_ERR_INVALID_ARGUMENT;
	if (!payload || len == 0 || len > CW__OPUS_MAX)
		return 1;
	samples = opus_packet_get_nb_samples(payload, (opus_int32)len, CW__AUDIO_RATE);
	if (samples <= 0 || samples > JB_PACKET_MAX)
		return 1;
	x = extend_seq(jb, seq);

	switch (jb->state) {
	case JB_WAITING:
		for (size_t i = 0; i < JB_SLOTS; i++)
			jb->slot[i].used = false;
		if (jb->started)
			jb->st.resyncs++;
		jb->state = JB_FILLING;
		jb->next = jb->highest = x;
		jb->fill_start = now_ms;
		jb->run = 0;
		break;
	case JB_FILLING:
		/* Filling starts from the oldest packet, in whatever order they come. */
		if (x < jb->next) {
			if (jb->highest - x >= JB_SLOTS ||
			    (jb->highest - x + 1) * (samples / (CW__AUDIO_RATE / 1000)) >
				    JB_MAX_MS) {
				jb->st.late++;
				return 1;
			}
			jb->next = x;
		}
		break;
	case JB_PLAYING:
		if (x >= jb->next)
			break;
		if (jb->next - x > JB_SLOTS && ++jb->strays >= JB_STRAYS) {
			/* Far behind again and again: the sender numbers its packets afresh. */
			resync(jb, x, now_ms);
			break;
		}
		jb->st.late++;
		if (jb->next - x <= JB_SLOTS)
			raise_target(jb, true);
		return 1;
	}
	jb->strays = 0;
	jb->samples = samples;
	if (x - jb->next >= JB_SLOTS || (x - jb->next + 1) * frame_ms(jb) > JB_MAX_MS)
		resync(jb, x, now_ms);

	s = &jb->slot[(uint64_t)x % JB_SLOTS];
	if (s->used && s->seq == x) {
		jb->st.duplicates++;
		return 1;
	}
	s->seq = x;
	s->used = true;
	s->len = (uint16_t)len;
	s->samples = samples;
	memcpy(s->data, payload, len);
	if (x > jb->highest)
		jb->highest = x;
	jb->have_seq = true;
	jb->st.packets++;
	if (jb->holding && x == jb->next)
		raise_target(jb, false); /* it came after the playout had to wait for it */
	return 0;
}

/* Decodes into `left`: a packet, its FEC data (fec) or a concealment (data NULL) of
 * `samples`. The samples made, 0 when the decoder refused. */
static int decode(struct cw__jb *jb, const uint8_t *data, size_t len, int fec, int samples)
{
	int room = (int)(sizeof(jb->left) / sizeof(jb->left[0]) - jb->nleft);
	int n;

	n = opus_decode(jb->dec, data, (opus_int32)len, jb->left + jb->nleft,
			data && !fec ? room : samples, fec);
	if (n <= 0)
		return 0;
	jb->nleft += (size_t)n;
	return n;
}

static int conceal(struct cw__jb *jb)
{
	int n = decode(jb, NULL, 0, 0, jb->samples);

	if (n > 0)
		return n;
	memset(jb->left + jb->nleft, 0, (size_t)jb->samples * sizeof(jb->left[0]));
	jb->nleft += (size_t)jb->samples;
	return jb->samples;
}

/* Only SILK and hybrid packets (TOC configurations 0 to 15) carry in-band FEC. */
static bool has_fec(const struct jb_slot *s)
{
	return (s->data[0] >> 3) < 16;
}

static void advance(struct cw__jb *jb)
{
	jb->next++;
	jb->holding = false;
}

/* Plays the packet at the playout point, or what stands for it, into `left`: the samples
 * made (*kind says how), or 0 when the step made none (a frame dropped or skipped, a jump,
 * the start of a gap). */
static int play_one(struct cw__jb *jb, enum cw__jb_frame *kind)
{
	struct jb_slot *s = slot_of(jb, jb->next), *after;
	bool bad = false;
	int n;

	if (s && jb->stretch) {
		jb->stretch = false;
		if (level_ms(jb) < jb->target_ms) {
			*kind = CW__JB_CONCEALED;
			return conceal(jb);
		}
	}
	if (s) {
		n = decode(jb, s->data, s->len, 0, 0);
		s->used = false;
		if (n > 0) {
			advance(jb);
			jb->run = 0;
			if (jb->shrink) {
				jb->shrink = false;
				jb->nleft -= (size_t)n;
				return 0;
			}
			*kind = CW__JB_DECODED;
			return n;
		}
		bad = true; /* not Opus after all: as if lost */
	}

	if (!bad && jb->highest <= jb->next) {
		/* Nothing newer has come: the packet may be late, so wait for it. */
		if (jb->run >= JB_GAP_FRAMES) {
			jb->state = JB_WAITING;
			jb->run = 0;
			jb->holding = false;
			opus_decoder_ctl(jb->dec, OPUS_RESET_STATE);
			return 0;
		}
		jb->run++;
		jb->holding = true;
		*kind = CW__JB_CONCEALED;
		return conceal(jb);
	}
	if (jb->run >= JB_GAP_FRAMES) {
		/* A long gap that newer packets ended: on to the first of them. */
		do
			jb->next++;
		while (jb->next < jb->highest && !slot_of(jb, jb->next));
		jb->run = 0;
		jb->holding = false;
		jb->st.resyncs++;
		return 0;
	}
	if (level_ms(jb) - frame_ms(jb) >= jb->target_ms + frame_ms(jb)) {
		advance(jb);
		return 0;
	}
	after = slot_of(jb, jb->next + 1);
	if (after && has_fec(after)) {
		n = decode(jb, after->data, after->len, 1, after->samples);
		if (n > 0) {
			advance(jb);
			jb->run = 0;
			*kind = CW__JB_FEC;
			return n;
		}
	}
	advance(jb);
	jb->run++;
	*kind = CW__JB_CONCEALED;
	return conceal(jb);
}

/* Once per get while playing: watches the level and lets the target and delay come down. */
static void adapt(struct cw__jb *jb)
{
	int level = level_ms(jb);

	if (jb->win_n == 0 || level < jb->win_min)
		jb->win_min = level;
	if (++jb->win_n >= JB_WINDOW) {
		if (jb->win_min >= jb->target_ms + 2 * frame_ms(jb))
			jb->shrink = true;
		jb->win_n = 0;
	}
	if (++jb->calm >= JB_CALM) {
		jb->calm = 0;
		if (jb->target_ms > JB_TARGET_MIN_MS)
			jb->target_ms -= JB_STEP_MS;
	}
}

enum cw__jb_frame cw__jb_get(struct cw__jb *jb, int16_t *pcm, int64_t now_ms)
{
	enum cw__jb_frame kind = jb ? jb->left_kind : CW__JB_SILENT, k;
	bool sound;
	size_t take;

	if (!jb || !pcm) {
		if (pcm)
			memset(pcm, 0, CW__AUDIO_FRAME * sizeof(*pcm));
		return CW__JB_SILENT;
	}
	sound = jb->nleft > 0;
	if (jb->state == JB_FILLING &&
	    (level_ms(jb) >= jb->target_ms || now_ms - jb->fill_start >= jb->target_ms)) {
		jb->state = JB_PLAYING;
		jb->started = true;
		jb->win_n = 0;
	}
	if (jb->state == JB_PLAYING)
		adapt(jb);
	/* Every step either makes samples or moves the playout point within the ring. */
	for (int i = 0; jb->nleft < CW__AUDIO_FRAME && jb->state == JB_PLAYING && i < 2 * JB_SLOTS;
	     i++) {
		if (play_one(jb, &k) == 0)
			continue;
		kind = sound && kind > k ? kind : k;
		jb->left_kind = k;
		sound = true;
	}

	take = jb->nleft < CW__AUDIO_FRAME ? jb->nleft : CW__AUDIO_FRAME;
	memcpy(pcm, jb->left, take * sizeof(*pcm));
	memset(pcm + take, 0, (CW__AUDIO_FRAME - take) * sizeof(*pcm));
	memmove(jb->left, jb->left + take, (jb->nleft - take) * sizeof(*pcm));
	jb->nleft -= take;
	if (!sound)
		kind = CW__JB_SILENT;

	switch (kind) {
	case CW__JB_DECODED:
		jb->st.decoded++;
		break;
	case CW__JB_FEC:
		jb->st.fec++;
		break;
	case CW__JB_CONCEALED:
		jb->st.concealed++;
		break;
	case CW__JB_SILENT:
		jb->st.silent++;
		break;
	}
	return kind;
}

void cw__jb_stats(const struct cw__jb *jb, struct cw__jb_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!jb)
		return;
	*st = jb->st;
	st->delay_ms = jb->state == JB_WAITING
			       ? 0
			       : level_ms(jb) + (int)(jb->nleft / (CW__AUDIO_RATE / 1000));
}
