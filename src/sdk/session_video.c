/* session_video: a joined session's video on the client's network thread: the picture
 * clock that pulls the video source, encodes (VP8) and sends, keyframes on request, and
 * the remote video tracks reassembled, decoded and handed to the video sink. */
#include <string.h>

#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "session.h"

#define RTP_HEADER 12
#define FPS_DEFAULT 30
#define FPS_MAX 60

int cw_session_set_video_source(cw_session *s, cw_video_source_cb cb, void *arg,
				const cw_video_options *opts)
{
	cw_video_options o = {FPS_DEFAULT, 0};

	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	if (opts && (opts->fps < 0 || opts->fps > FPS_MAX || opts->bitrate_kbps < 0 ||
		     opts->bitrate_kbps > 100000))
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "fps 0..60, bitrate_kbps 0..100000");
	if (opts) {
		o = *opts;
		if (!o.fps)
			o.fps = FPS_DEFAULT;
	}
	pthread_mutex_lock(&s->m);
	if (s->state != CW__SS_IDLE && !s->video_published && cb) {
		pthread_mutex_unlock(&s->m);
		return cw__fail(CW_ERR_INVALID_STATE, "the join published no video");
	}
	s->vsource = cb;
	s->vsource_arg = arg;
	s->vopts = o;
	pthread_mutex_unlock(&s->m);
	return 0;
}

int cw_session_set_video_sink(cw_session *s, cw_video_sink_cb cb, void *arg)
{
	if (!s)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "no session");
	pthread_mutex_lock(&s->m);
	s->vsink = cb;
	s->vsink_arg = arg;
	pthread_mutex_unlock(&s->m);
	return 0;
}

/* ---- sending ---- */

bool cw__video_wanted(struct cw_session *s)
{
	bool want;

	pthread_mutex_lock(&s->m);
	want = s->vsource && !s->settings.audio_only;
	s->video_published = want;
	pthread_mutex_unlock(&s->m);
	return want;
}

int cw__video_prepare(struct cw_session *s)
{
	s->video_ssrc = 0;
	if (!cw__video_wanted(s))
		return 0;
	s->video_ssrc = cw__random_u32() | 1;
	if (s->video_ssrc == s->audio_ssrc)
		s->video_ssrc ^= 2;
	s->vseq = (uint16_t)cw__rand_below(1u << 15);
	s->vts0 = cw__random_u32();
	s->key_wanted = true;
	s->vsource_ended = false;
	s->vframes = s->vkeys = s->vpackets = 0;
	return 0;
}

int cw__video_start(struct cw_session *s, int64_t now)
{
	int err;

	if (!s->video_ssrc)
		return 0;
	err = cw__pc_add_send_ssrc(s->pub.pc, s->video_ssrc, CW__VIDEO_CLOCK);
	if (err)
		return err;
	s->vstart = now;
	s->next_video = now;
	s->vframe_no = 0;
	return 0;
}

struct emit_ctx {
	struct cw_session *s;
	uint32_t ts;
	int64_t now;
};

static void emit(const uint8_t *payload, size_t len, bool marker, void *arg)
{
	struct emit_ctx *e = arg;
	struct cw_session *s = e->s;
	uint8_t pkt[RTP_HEADER + CW__VP8_PAYLOAD_MAX + CW_SRTP_TRAILER_MAX];

	if (len > CW__VP8_PAYLOAD_MAX)
		return;
	cw__rtp_head(pkt, CW__PT_VP8, marker, s->vseq, e->ts, s->video_ssrc);
	memcpy(pkt + RTP_HEADER, payload, len);
	if (cw__pc_send_rtp(s->pub.pc, pkt, RTP_HEADER + len, sizeof(pkt), e->now) == 0) {
		s->vseq++;
		s->vpackets++;
	}
}

/* Makes the encoder again when the app's options changed. */
static int encoder_for(struct cw_session *s, const cw_video_options *o)
{
	int err;

	if (s->venc && s->vfps == o->fps && s->vkbps == o->bitrate_kbps)
		return 0;
	cw__vp8_enc_free(s->venc);
	s->venc = NULL;
	err = cw__vp8_enc_new(&s->venc, o->fps, o->bitrate_kbps);
	if (err)
		return err;
	s->vfps = o->fps;
	s->vkbps = o->bitrate_kbps;
	s->key_wanted = true;
	return 0;
}

/* One picture of the clock, due at `at`. */
static void video_frame(struct cw_session *s, int64_t at, int64_t now)
{
	cw_video_source_cb source;
	cw_video_options o;
	cw_video_frame f;
	struct emit_ctx e = {s, s->vts0 + (uint32_t)((at - s->vstart) * (CW__VIDEO_CLOCK / 1000)),
			     now};
	bool paused, key = false;
	void *arg;
	int n;

	pthread_mutex_lock(&s->m);
	source = s->vsource;
	arg = s->vsource_arg;
	o = s->vopts;
	paused = s->video_paused;
	pthread_mutex_unlock(&s->m);
	if (paused) {
		s->key_wanted = true; /* the others start again from a keyframe */
		return;
	}
	if (!source || s->vsource_ended || !s->pub.pc ||
	    cw__pc_get_state(s->pub.pc) != CW__PC_CONNECTED)
		return;
	memset(&f, 0, sizeof(f));
	n = source(s, &f, arg);
	if (n < 0)
		s->vsource_ended = true;
	if (n != 0 || s->free_pending || encoder_for(s, &o) != 0)
		return;
	n = cw__vp8_enc_frame(s->venc, &f, s->key_wanted, emit, &e, &key);
	if (n <= 0)
		return;
	s->vframes++;
	if (key) {
		s->vkeys++;
		s->key_wanted = false;
	}
}

bool cw__video_tick(struct cw_session *s, int64_t now)
{
	int fps;

	if (!s->next_video || now < s->next_video)
		return false;
	pthread_mutex_lock(&s->m);
	fps = s->vopts.fps > 0 ? s->vopts.fps : FPS_DEFAULT;
	pthread_mutex_unlock(&s->m);
	video_frame(s, s->next_video, now);
	/* The next picture on the clock; pictures that are already late are skipped. */
	do {
		s->vframe_no++;
		s->next_video = s->vstart + (int64_t)(s->vframe_no * 1000 / (uint64_t)fps);
	} while (s->next_video <= now);
	return true;
}

void cw__video_keyframe_request(struct cw_session *s, uint32_t ssrc)
{
	if (ssrc && ssrc == s->video_ssrc) {
		s->key_requests++;
		s->key_wanted = true;
	}
}

/* ---- receiving ---- */

struct deliver_ctx {
	struct cw_session *s;
	struct cw__track *t;
};

/* A decoded picture of track t to the app's video sink as it is now (looked up per
 * picture, not per packet). */
static void deliver(const cw_video_frame *frame, void *arg)
{
	struct deliver_ctx *d = arg;
	cw_video_sink_cb sink;
	void *sink_arg;

	if (d->s->free_pending)
		return;
	pthread_mutex_lock(&d->s->m);
	sink = d->s->vsink;
	sink_arg = d->s->vsink_arg;
	pthread_mutex_unlock(&d->s->m);
	if (!sink)
		return;
	d->s->depth++;
	sink(d->s, d->t->participant, frame, sink_arg);
	d->s->depth--;
}

void cw__video_rtp(struct cw_session *s, struct cw__track *t, const struct cw_rtp *pkt,
		   const uint8_t *buf, int64_t now)
{
	struct deliver_ctx d = {s, t};

	s->vpackets_in++;
	cw__vp8_rx_put(t->vrx, pkt->seq, pkt->ts, pkt->marker, buf + pkt->payload_off,
		       pkt->payload_len, now, deliver, &d);
	if (s->sub.pc && cw__vp8_rx_wants_keyframe(t->vrx, now, s->stats.rtt_ms))
		cw__pc_request_keyframe(s->sub.pc, t->ssrc);
}

/* On the session's clock (on_tick): ends the video tracks' waits for lost pictures that
 * have lasted long enough, and asks for keyframes then. */
void cw__video_poll(struct cw_session *s, int64_t now)
{
	for (size_t i = 0; i < CW__TRACKS_MAX && !s->free_pending; i++) {
		struct cw__track *t = &s->tracks[i];
		struct deliver_ctx d = {s, t};

		if (!t->used || !t->vrx)
			continue;
		/* A PLI at once when a wait was given up; while the stream then waits for the
		 * keyframe, its packets ask again (cw__video_rtp): a track that sends nothing
		 * is not asked for anything. */
		if (cw__vp8_rx_poll(t->vrx, now, s->stats.rtt_ms, deliver, &d) && s->sub.pc &&
		    cw__vp8_rx_wants_keyframe(t->vrx, now, s->stats.rtt_ms))
			cw__pc_request_keyframe(s->sub.pc, t->ssrc);
	}
}

void cw__video_add_stats(cw_session_stats *st, const struct cw__vp8_rx *rx)
{
	struct cw__vp8_rx_stats vs;

	cw__vp8_rx_stats(rx, &vs);
	st->video_frames_decoded += vs.frames;
	st->video_frames_dropped += vs.dropped;
}

void cw__video_stop(struct cw_session *s)
{
	cw__vp8_enc_free(s->venc);
	s->venc = NULL;
	s->vfps = s->vkbps = 0;
	s->next_video = 0;
	s->video_ssrc = 0;
}
