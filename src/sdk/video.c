/* video: the sending side of VP8: libvpx's encoder set up for calls, and the RFC 7741
 * packetiser that cuts each picture into RTP payloads. */
#include <stdlib.h>
#include <string.h>

#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "sdk.h"
#include "video.h"

#define ENC_FPS_MAX 60
#define ENC_SIZE_MIN 16
/* The default target: bits per pixel of each picture (640x480 at 30 fps: ~740 kb/s). */
#define ENC_BITS_PER_PIXEL 0.08
#define ENC_KBPS_MIN 100
#define ENC_KBPS_MAX 2500
/* What an asked-for bitrate is held to. */
#define ENC_KBPS_FLOOR 30
#define ENC_KBPS_CEIL 20000
#define ENC_KF_MAX_DIST 3000
/* The rate control's buffer in milliseconds, as WebRTC sets it. */
#define ENC_BUF_MS 1000
#define ENC_BUF_INITIAL_MS 500
#define ENC_BUF_OPTIMAL_MS 600
/* Speed over quality: the encoder runs on the network thread. */
#define ENC_CPU_USED (-6)
#define PICTURE_ID_MASK 0x7fff

struct cw__vp8_enc {
	vpx_codec_ctx_t codec;
	bool open; /* codec is initialised for width x height */
	int width, height;
	int fps;
	int kbps; /* asked for; 0: from the size */
	int64_t pts;
	uint16_t picture_id; /* of the next picture */
	bool force_key;	     /* a picture was left out: the next must be a keyframe */
	uint8_t pkt[CW__VP8_PAYLOAD_MAX];
};

static int err_of(vpx_codec_err_t e)
{
	return e == VPX_CODEC_MEM_ERROR ? CW_ERR_NO_MEMORY : CW_ERR_INVALID_ARGUMENT;
}

int cw__vp8_enc_new(struct cw__vp8_enc **encp, int fps, int bitrate_kbps)
{
	struct cw__vp8_enc *e;

	if (!encp)
		return CW_ERR_INVALID_ARGUMENT;
	*encp = NULL;
	if (fps < 1 || fps > ENC_FPS_MAX || bitrate_kbps < 0)
		return CW_ERR_INVALID_ARGUMENT;
	e = calloc(1, sizeof(*e));
	if (!e)
		return CW_ERR_NO_MEMORY;
	e->fps = fps;
	if (bitrate_kbps > 0)
		e->kbps = bitrate_kbps < ENC_KBPS_FLOOR	 ? ENC_KBPS_FLOOR
			  : bitrate_kbps > ENC_KBPS_CEIL ? ENC_KBPS_CEIL
							 : bitrate_kbps;
	/* A receiver tells pictures apart by their number; starting anywhere makes a restarted
	 * sender's pictures unlike the old ones. */
	e->picture_id = (uint16_t)(cw__random_u32() & PICTURE_ID_MASK);
	*encp = e;
	return 0;
}

static void close_codec(struct cw__vp8_enc *e)
{
	if (e->open)
		vpx_codec_destroy(&e->codec);
	e->open = false;
}

void cw__vp8_enc_free(struct cw__vp8_enc *enc)
{
	if (!enc)
		return;
	close_codec(enc);
	free(enc);
}

static unsigned target_kbps(const struct cw__vp8_enc *e, int width, int height)
{
	double kbps;

	if (e->kbps > 0)
		return (unsigned)e->kbps;
	kbps = ENC_BITS_PER_PIXEL * width * height * e->fps / 1000;
	if (kbps < ENC_KBPS_MIN)
		return ENC_KBPS_MIN;
	if (kbps > ENC_KBPS_MAX)
		return ENC_KBPS_MAX;
	return (unsigned)kbps;
}

/* (Re)makes the encoder for a picture size. */
static int open_codec(struct cw__vp8_enc *e, int width, int height)
{
	vpx_codec_iface_t *iface = vpx_codec_vp8_cx();
	vpx_codec_enc_cfg_t cfg;
	vpx_codec_err_t ve;
	unsigned intra_pct;

	close_codec(e);
	ve = vpx_codec_enc_config_default(iface, &cfg, 0);
	if (ve != VPX_CODEC_OK)
		return err_of(ve);
	cfg.g_w = (unsigned)width;
	cfg.g_h = (unsigned)height;
	cfg.g_threads = 1;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = CW__VIDEO_CLOCK;
	cfg.g_lag_in_frames = 0;
	cfg.g_pass = VPX_RC_ONE_PASS;
	cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	cfg.rc_end_usage = VPX_CBR;
	cfg.rc_target_bitrate = target_kbps(e, width, height);
	cfg.rc_resize_allowed = 0;
	/* Never skip a picture: a receiver would take the hole for a loss. */
	cfg.rc_dropframe_thresh = 0;
	cfg.rc_min_quantizer = 2;
	cfg.rc_max_quantizer = 56;
	cfg.rc_undershoot_pct = 100;
	cfg.rc_overshoot_pct = 15;
	cfg.rc_buf_sz = ENC_BUF_MS;
	cfg.rc_buf_initial_sz = ENC_BUF_INITIAL_MS;
	cfg.rc_buf_optimal_sz = ENC_BUF_OPTIMAL_MS;
	cfg.kf_mode = VPX_KF_AUTO;
	cfg.kf_min_dist = 0;
	cfg.kf_max_dist = ENC_KF_MAX_DIST;
	ve = vpx_codec_enc_init(&e->codec, iface, &cfg, 0);
	if (ve != VPX_CODEC_OK)
		return err_of(ve);
	e->open = true;
	/* A keyframe may take this many percent of an average picture's bits (WebRTC's rule:
	 * half the optimal buffer), so that it does not stall the stream for long. */
	intra_pct = (unsigned)(ENC_BUF_OPTIMAL_MS / 2 * e->fps / 10);
	if (intra_pct < 300)
		intra_pct = 300;
	if (vpx_codec_control(&e->codec, VP8E_SET_CPUUSED, ENC_CPU_USED) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->codec, VP8E_SET_STATIC_THRESHOLD, 1u) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->codec, VP8E_SET_NOISE_SENSITIVITY, 0u) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->codec, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION) !=
		    VPX_CODEC_OK ||
	    vpx_codec_control(&e->codec, VP8E_SET_MAX_INTRA_BITRATE_PCT, intra_pct) !=
		    VPX_CODEC_OK) {
		close_codec(e);
		return CW_ERR_INVALID_ARGUMENT;
	}
	e->width = width;
	e->height = height;
	e->pts = 0;
	return 0;
}

static bool frame_ok(const cw_video_frame *f)
{
	int cw = f->width / 2;

	if (f->width < ENC_SIZE_MIN || f->width > CW__VIDEO_WIDTH_MAX || f->height < ENC_SIZE_MIN ||
	    f->height > CW__VIDEO_HEIGHT_MAX || f->width % 2 || f->height % 2)
		return false;
	if (!f->planes[0] || !f->planes[1] || !f->planes[2])
		return false;
	return f->strides[0] >= f->width && f->strides[1] >= cw && f->strides[2] >= cw;
}

/* Cuts one encoded picture into payloads of near-equal size, each with its descriptor:
 * X=1, S on the first, partition 0, then I with a 15-bit PictureID (M=1). */
static int packetise(struct cw__vp8_enc *e, const uint8_t *data, size_t len, cw__vp8_emit_fn emit,
		     void *arg)
{
	const size_t room = CW__VP8_PAYLOAD_MAX - CW__VP8_DESCRIPTOR;
	size_t n = (len + room - 1) / room, base = len / n, extra = len % n, at = 0;
	uint16_t pid = e->picture_id;

	for (size_t i = 0; i < n; i++) {
		size_t take = base + (i < extra ? 1 : 0);

		e->pkt[0] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0));
		e->pkt[1] = 0x80;
		e->pkt[2] = (uint8_t)(0x80 | (pid >> 8));
		e->pkt[3] = (uint8_t)pid;
		memcpy(e->pkt + CW__VP8_DESCRIPTOR, data + at, take);
		at += take;
		emit(e->pkt, CW__VP8_DESCRIPTOR + take, i + 1 == n, arg);
	}
	e->picture_id = (uint16_t)((pid + 1) & PICTURE_ID_MASK);
	return (int)n;
}

int cw__vp8_enc_frame(struct cw__vp8_enc *enc, const cw_video_frame *frame, bool keyframe,
		      cw__vp8_emit_fn emit, void *arg, bool *was_key)
{
	const vpx_codec_cx_pkt_t *cx;
	vpx_codec_iter_t iter = NULL;
	vpx_image_t img;
	vpx_codec_err_t ve;
	int emitted = 0;
	bool key = false;

	if (was_key)
		*was_key = false;
	if (!enc || !frame || !emit || !frame_ok(frame))
		return CW_ERR_INVALID_ARGUMENT;
	if (!enc->open || frame->width != enc->width || frame->height != enc->height) {
		int err = open_codec(enc, frame->width, frame->height);

		if (err)
			return err;
	}
	/* The app's planes as they are: the encoder copies what it keeps. */
	if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, (unsigned)frame->width, (unsigned)frame->height,
			  1, (unsigned char *)frame->planes[0]))
		return CW_ERR_INVALID_ARGUMENT;
	for (int i = 0; i < 3; i++) {
		img.planes[i] = (unsigned char *)frame->planes[i];
		img.stride[i] = frame->strides[i];
	}
	keyframe = keyframe || enc->force_key;
	enc->force_key = false;
	ve = vpx_codec_encode(&enc->codec, &img, enc->pts, CW__VIDEO_CLOCK / (unsigned)enc->fps,
			      keyframe ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME);
	enc->pts += CW__VIDEO_CLOCK / enc->fps;
	if (ve != VPX_CODEC_OK) {
		/* The encoder's state is unknown now: start afresh with a keyframe. */
		close_codec(enc);
		return err_of(ve);
	}
	while ((cx = vpx_codec_get_cx_data(&enc->codec, &iter))) {
		if (cx->kind != VPX_CODEC_CX_FRAME_PKT || cx->data.frame.sz == 0)
			continue;
		if (cx->data.frame.sz > CW__VP8_FRAME_MAX) {
			/* More than a receiver takes: left out, with its number, so that receivers
			 * see the hole; the next picture is a keyframe that does not need it. */
			enc->picture_id = (uint16_t)((enc->picture_id + 1) & PICTURE_ID_MASK);
			enc->force_key = true;
			continue;
		}
		key = key || (cx->data.frame.flags & VPX_FRAME_IS_KEY);
		emitted += packetise(enc, cx->data.frame.buf, cx->data.frame.sz, emit, arg);
	}
	if (was_key)
		*was_key = key;
	return emitted;
}
