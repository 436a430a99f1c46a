/* session_media: a joined session's media on the client's network thread: its two peer
 * connections (publish, subscribe) polled by libwebsockets, the remote tracks, the 20 ms
 * audio clock that pulls the source, encodes and sends, and plays every remote audio
 * track out of its jitter buffer into the sinks. Video is session_video.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "session.h"

#define RTP_HEADER 12
#define LEVEL_EXT 8    /* the one-byte extension header and the audio level, padded */
#define VOICE_LEVEL 60 /* below -60 dBov a frame is not voice */
#define OPUS_BITRATE 32000

static void schedule(struct cw_session *s, int64_t now);
static void run_due(struct cw__conn *conn, int64_t now);

static void random_token(char *out, size_t len)
{
	static const char chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i++)
		out[i] = chars[cw__rand_below(64)];
	out[len] = '\0';
}

/* ---- the sockets in libwebsockets' poll ---- */

static void check_failed(struct cw_session *s);

static int media_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			  size_t len)
{
	struct cw__conn *conn = lws_get_opaque_user_data(wsi);
	struct cw_session *s;
	int64_t now;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!conn || !conn->pc)
			break;
		now = cw__now_ms();
		s = cw__session_ref(conn->s);
		s->depth++;
		cw__pc_readable(conn->pc, now);
		/* A packet can bring this connection's work forward (a NACK); the other's
		 * deadline stands. */
		conn->due = cw__pc_timer(conn->pc, now);
		schedule(s, now);
		check_failed(s);
		s->depth--;
		cw__session_settle(s);
		cw__session_unref(s);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (conn)
			conn->wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols cw__media_protocol = {
	"callwire-media", media_callback, 0, 0, 0, NULL, 0};

/* libwebsockets polls (and at the end closes) a copy of the connection's socket. */
static int watch(struct cw__conn *conn)
{
	struct lws_vhost *vh = lws_get_vhost_by_name(conn->s->c->ctx, "default");
	lws_sock_file_fd_type fd;

	fd.filefd = dup(cw__pc_fd(conn->pc));
	if (fd.filefd < 0)
		return CW_ERR_NO_MEMORY;
	conn->wsi = vh ? lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd,
						    cw__media_protocol.name, NULL)
		       : NULL;
	if (!conn->wsi) {
		close(fd.filefd);
		return CW_ERR_NO_MEMORY;
	}
	lws_set_opaque_user_data(conn->wsi, conn);
	return 0;
}

static void conn_close(struct cw__conn *conn)
{
	if (conn->wsi) {
		lws_set_opaque_user_data(conn->wsi, NULL);
		lws_set_timeout(conn->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		conn->wsi = NULL;
	}
	cw__pc_free(conn->pc);
	conn->pc = NULL;
	conn->connected_once = false;
	conn->quiet = false;
}

/* ---- connection states ---- */

static bool conn_down(const struct cw__conn *conn)
{
	return conn->pc && cw__pc_get_state(conn->pc) == CW__PC_DISCONNECTED;
}

static void on_state(struct cw__pc *pc, enum cw__pc_state state, void *arg)
{
	struct cw__conn *conn = arg;
	struct cw_session *s = conn->s;

	(void)pc;
	if (state == CW__PC_CONNECTED && !conn->quiet && conn->wsi) {
		/* From now on the clock's ticks read the socket (every 20 ms at most): a
		 * wake-up per tick instead of one per packet. */
		lws_rx_flow_control(conn->wsi, 0);
		conn->quiet = true;
	}
	if (state == CW__PC_CONNECTED)
		conn->connected_once = true;
	if (state == CW__PC_DISCONNECTED && !s->lost) {
		s->lost = true;
		CW__SESSION_FIRE(s, connection_lost, s->listener_arg);
	} else if (state == CW__PC_CONNECTED && s->lost && !conn_down(&s->pub) &&
		   !conn_down(&s->sub)) {
		s->lost = false;
		CW__SESSION_FIRE(s, connection_restored, s->listener_arg);
	}
}

static bool joined(struct cw_session *s)
{
	bool j;

	pthread_mutex_lock(&s->m);
	j = s->state == CW__SS_JOINED;
	pthread_mutex_unlock(&s->m);
	return j;
}

/* A connection that failed ends the session; done outside the connection's own calls. */
static void check_failed(struct cw_session *s)
{
	bool failed = (s->pub.pc && cw__pc_get_state(s->pub.pc) == CW__PC_FAILED) ||
		      (s->sub.pc && cw__pc_get_state(s->sub.pc) == CW__PC_FAILED);

	if (!failed || !joined(s))
		return;
	cw__session_end(s, "media_failed", true);
}

/* ---- receiving ---- */

static struct cw__track *track_by_ssrc(struct cw_session *s, uint32_t ssrc)
{
	for (size_t i = 0; i < CW__TRACKS_MAX; i++) {
		if (s->tracks[i].used && s->tracks[i].ssrc == ssrc)
			return &s->tracks[i];
	}
	return NULL;
}

static void on_rtp(struct cw__pc *pc, const uint8_t *buf, size_t len, int64_t now, void *arg)
{
	struct cw__conn *conn = arg;
	struct cw_rtp pkt;
	struct cw__track *t;

	(void)pc;
	if (cw_rtp_parse(&pkt, buf, len) != 0)
		return;
	t = track_by_ssrc(conn->s, pkt.ssrc);
	if (t && t->jb && pkt.payload_len > 0)
		cw__jb_put(t->jb, pkt.seq, pkt.ts, buf + pkt.payload_off, pkt.payload_len, now);
	else if (t && t->vrx)
		cw__video_rtp(conn->s, t, &pkt, buf, now);
}

static void on_feedback(struct cw__pc *pc, enum cw__pc_feedback fb, uint32_t ssrc, void *arg)
{
	struct cw__conn *conn = arg;

	(void)pc;
	(void)fb;
	cw__video_keyframe_request(conn->s, ssrc);
}

static int conn_open(struct cw_session *s, struct cw__conn *conn, const char *sdp_text)
{
	struct cw__pc_params par;
	struct cw__sdp_remote *r;
	struct cw_sdp *sdp = NULL;
	int err;

	if (cw_sdp_parse(&sdp, sdp_text, strlen(sdp_text), NULL) != 0)
		return CW_ERR_PROTOCOL;
	r = malloc(sizeof(*r));
	err = r ? cw__sdp_remote(sdp, r) : CW_ERR_NO_MEMORY;
	cw_sdp_free(sdp);
	if (err)
		goto out;
	memset(&par, 0, sizeof(par));
	memcpy(par.candidates, r->candidates, sizeof(par.candidates));
	par.ncandidates = r->ncandidates;
	par.local_ufrag = conn->ufrag;
	par.local_pwd = conn->pwd;
	par.remote_ufrag = r->ufrag;
	par.remote_pwd = r->pwd;
	par.remote_fingerprint = r->fingerprint;
	par.dtls = s->dtls;
	par.cb.state = on_state;
	par.cb.rtp = on_rtp;
	par.cb.feedback = on_feedback;
	par.arg = conn;
	conn->s = s;
	err = cw__pc_new(&conn->pc, &par, cw__now_ms());
	if (!err)
		err = watch(conn);
	if (!err)
		conn->due = cw__pc_timer(conn->pc, cw__now_ms());
	if (err)
		conn_close(conn);
out:
	free(r);
	return err;
}

/* ---- the 20 ms clock ---- */

void cw__rtp_head(uint8_t *pkt, uint8_t pt, bool marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	pkt[0] = 0x80; /* version 2 */
	pkt[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		pkt[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		pkt[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}

static size_t build_audio(struct cw_session *s, const int16_t *pcm, bool marker, uint8_t *pkt,
			  size_t cap)
{
	uint8_t level = cw__audio_level(pcm, CW__AUDIO_FRAME);
	int n;

	cw__rtp_head(pkt, CW__PT_OPUS, marker, s->seq, s->ts, s->audio_ssrc);
	pkt[0] |= 0x10; /* an extension follows */
	/* RFC 8285 one-byte header: 0xBEDE, one word: id and length 0, V and the level. */
	memcpy(pkt + RTP_HEADER, (const uint8_t[]){0xBE, 0xDE, 0x00, 0x01}, 4);
	pkt[RTP_HEADER + 4] = CW__EXT_AUDIO_LEVEL << 4;
	pkt[RTP_HEADER + 5] = (uint8_t)((level < VOICE_LEVEL ? 0x80 : 0) | level);
	pkt[RTP_HEADER + 6] = pkt[RTP_HEADER + 7] = 0;
	n = cw__opus_enc_frame(s->enc, pcm, pkt + RTP_HEADER + LEVEL_EXT,
			       cap - RTP_HEADER - LEVEL_EXT - CW_SRTP_TRAILER_MAX);
	return n > 0 ? RTP_HEADER + LEVEL_EXT + (size_t)n : 0;
}

static void send_audio(struct cw_session *s, cw_audio_source_cb source, void *arg, bool marker,
		       int64_t now)
{
	int16_t pcm[CW__AUDIO_FRAME] = {0};
	uint8_t pkt[RTP_HEADER + LEVEL_EXT + CW__OPUS_MAX + CW_SRTP_TRAILER_MAX];
	size_t len;

	if (source && !s->source_ended) {
		int n = source(s, pcm, CW__AUDIO_FRAME, arg);
		if (n < 0)
			s->source_ended = true;
		if (n < CW__AUDIO_FRAME)
			memset(pcm + (n > 0 ? n : 0), 0,
			       sizeof(int16_t) * (size_t)(CW__AUDIO_FRAME - (n > 0 ? n : 0)));
	}
	len = build_audio(s, pcm, marker, pkt, sizeof(pkt));
	if (len && cw__pc_send_rtp(s->pub.pc, pkt, len, sizeof(pkt), now) == 0)
		s->seq++;
}

static void add_jb(cw_session_stats *st, const struct cw__jb_stats *js)
{
	st->frames_decoded += js->decoded;
	st->frames_fec += js->fec;
	st->frames_concealed += js->concealed;
	st->packets_late += js->late;
}

/* The snapshot the app reads: the connections' counters, every track's (those gone
 * too). */
static void update_stats(struct cw_session *s)
{
	struct cw__pc_stats pub = {.rtt_ms = -1}, sub = {.rtt_ms = -1};
	struct cw__jb_stats js;
	cw_session_stats st = s->gone;

	if (s->pub.pc)
		cw__pc_get_stats(s->pub.pc, &pub);
	if (s->sub.pc)
		cw__pc_get_stats(s->sub.pc, &sub);
	for (size_t i = 0; i < CW__TRACKS_MAX; i++) {
		if (s->tracks[i].used && s->tracks[i].jb) {
			cw__jb_stats(s->tracks[i].jb, &js);
			add_jb(&st, &js);
		}
		if (s->tracks[i].used && s->tracks[i].vrx)
			cw__video_add_stats(&st, s->tracks[i].vrx);
	}
	st.audio_packets_sent = pub.packets_sent - s->vpackets;
	st.audio_packets_received = sub.packets_received - s->vpackets_in;
	st.video_frames_sent = s->vframes;
	st.video_keyframes_sent = s->vkeys;
	st.video_packets_sent = s->vpackets;
	st.video_packets_received = s->vpackets_in;
	st.keyframes_requested = sub.pli_sent;
	st.keyframe_requests_received = s->key_requests;
	st.nack_sent = sub.nack_sent;
	st.packets_recovered = sub.recovered;
	st.packets_lost = sub.lost;
	st.packets_retransmitted = pub.retransmitted;
	st.dropped_by_test = sub.dropped_by_test;
	st.rtt_ms = sub.rtt_ms >= 0 ? sub.rtt_ms : pub.rtt_ms;
	pthread_mutex_lock(&s->m);
	s->stats = st;
	pthread_mutex_unlock(&s->m);
}

static void audio_frame(struct cw_session *s, int64_t now)
{
	int16_t pcm[CW__AUDIO_FRAME], mix[CW__AUDIO_FRAME] = {0};
	cw_audio_source_cb source;
	cw_audio_sink_cb sink, mix_sink;
	void *source_arg, *sink_arg, *mix_arg;
	bool muted, marker;
	unsigned loss;

	pthread_mutex_lock(&s->m);
	source = s->source;
	source_arg = s->source_arg;
	sink = s->sink;
	sink_arg = s->sink_arg;
	mix_sink = s->mix_sink;
	mix_arg = s->mix_arg;
	muted = s->audio_muted;
	marker = s->marker;
	s->marker = false;
	loss = s->loss_per_mille;
	pthread_mutex_unlock(&s->m);

	if (s->sub.pc && loss != s->loss_applied) {
		cw__pc_set_rx_drop(s->sub.pc, loss, cw__random_u32());
		s->loss_applied = loss;
	}
	if (s->pub.pc && cw__pc_get_state(s->pub.pc) == CW__PC_CONNECTED && !muted)
		send_audio(s, source, source_arg, marker, now);

	s->ts += CW__AUDIO_FRAME; /* the clock runs on while nothing is sent */
	for (size_t i = 0; i < CW__TRACKS_MAX && !s->free_pending; i++) {
		struct cw__track *t = &s->tracks[i];
		if (!t->used || !t->jb)
			continue;
		cw__jb_get(t->jb, pcm, now);
		if (sink)
			sink(s, t->participant, pcm, CW__AUDIO_FRAME, sink_arg);
		cw__audio_mix(mix, pcm, CW__AUDIO_FRAME);
	}
	if (mix_sink && !s->free_pending)
		mix_sink(s, NULL, mix, CW__AUDIO_FRAME, mix_arg);
}

/* What arrived on a connection whose socket the ticks read. */
static void read_quiet(struct cw__conn *conn, int64_t now)
{
	if (!conn->pc || !conn->quiet || conn->s->free_pending)
		return;
	cw__pc_readable(conn->pc, now);
	conn->due = cw__pc_timer(conn->pc, now);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct cw_session *s = cw__container_of(sul, struct cw_session, sul);
	int64_t now = cw__now_ms();
	int made = 0;

	s->ticking = false;
	cw__session_ref(s);
	s->depth++;
	read_quiet(&s->pub, now);
	read_quiet(&s->sub, now);
	while (s->next_frame && now >= s->next_frame && !s->free_pending && joined(s)) {
		audio_frame(s, now);
		s->next_frame += CW__FRAME_MS;
		if (++made == CW__CATCH_UP_MAX) {
			/* Stalled for long: start the clock again rather than burst. */
			s->next_frame = now + CW__FRAME_MS;
			break;
		}
	}
	if (!s->free_pending && joined(s) && cw__video_tick(s, now))
		made++;
	if (!s->free_pending && joined(s))
		cw__video_poll(s, now);
	if (made)
		update_stats(s); /* what the app reads: as of the media just made */
	if (!s->free_pending && (s->pub.pc || s->sub.pc)) {
		run_due(&s->pub, now);
		run_due(&s->sub, now);
		schedule(s, now);
		check_failed(s);
	}
	s->depth--;
	cw__session_settle(s);
	cw__session_unref(s);
}

/* Sets the timer for the earliest of the audio clock and the connections' deadlines
 * (each conn->due is what its cw__pc_timer returned last). Per packet this is a
 * comparison: the timer moves only when something became due sooner. */
static void schedule(struct cw_session *s, int64_t now)
{
	int64_t next = s->next_frame ? s->next_frame : now + 1000;

	if (s->next_video && s->next_video < next)
		next = s->next_video;

	if (s->pub.pc && s->pub.due < next)
		next = s->pub.due;
	if (s->sub.pc && s->sub.due < next)
		next = s->sub.due;
	if (next < now)
		next = now;
	if (s->ticking && next >= s->tick_at)
		return;
	s->ticking = true;
	s->tick_at = next;
	/* The delay from the clock as it is now: the work done since `now` (an encoded
	 * picture) must not push every following tick back by as much. */
	now = cw__now_ms();
	lws_sul_schedule(s->c->ctx, 0, &s->sul, on_tick,
			 (next > now ? next - now : 0) * LWS_US_PER_MS);
}

/* Runs a connection's work when it is due. */
static void run_due(struct cw__conn *conn, int64_t now)
{
	if (conn->pc && conn->due <= now)
		conn->due = cw__pc_timer(conn->pc, now);
}

/* ---- setting up and tearing down ---- */

int cw__media_prepare(struct cw_session *s, char **offerp)
{
	struct cw__sdp_local l;
	int err;

	*offerp = NULL;
	cw__media_stop(s);
	if (cw_dtls_cert_new(&s->cert) != 0 ||
	    cw_dtls_ctx_new(&s->dtls, s->cert, CW_DTLS_CLIENT, 0) != 0)
		return CW_ERR_NO_MEMORY;
	err = cw__opus_enc_new(&s->enc, OPUS_BITRATE);
	if (err)
		return err;
	random_token(s->pub.ufrag, 8);
	random_token(s->pub.pwd, 24);
	random_token(s->sub.ufrag, 8);
	random_token(s->sub.pwd, 24);
	s->audio_ssrc = cw__random_u32() | 1;
	s->seq = (uint16_t)cw__rand_below(1u << 15); /* room before the wrap (RFC 3550) */
	s->ts = cw__random_u32();
	s->marker = true;
	s->source_ended = false;
	memset(&s->gone, 0, sizeof(s->gone));
	s->vpackets_in = s->key_requests = 0;
	err = cw__video_prepare(s);
	if (err)
		return err;
	s->sdp_session_id = cw__random_u32();
	memset(&l, 0, sizeof(l));
	l.ufrag = s->pub.ufrag;
	l.pwd = s->pub.pwd;
	l.fingerprint = cw_dtls_cert_fingerprint(s->cert);
	l.session_id = s->sdp_session_id;
	l.version = 1;
	return cw__sdp_publish_offer(offerp, &l, s->audio_ssrc, s->video_ssrc, s->id);
}

int cw__media_start(struct cw_session *s, const char *answer)
{
	int64_t now = cw__now_ms();
	int err = conn_open(s, &s->pub, answer);

	if (!err)
		err = cw__pc_add_send_ssrc(s->pub.pc, s->audio_ssrc, CW__AUDIO_RATE);
	if (!err)
		err = cw__video_start(s, now);
	if (err)
		return err;
	s->next_frame = now + CW__FRAME_MS;
	schedule(s, now);
	return 0;
}

static void track_drop(struct cw_session *s, struct cw__track *t)
{
	struct cw__jb_stats js;

	if (t->jb) {
		cw__jb_stats(t->jb, &js);
		add_jb(&s->gone, &js);
	}
	if (t->vrx)
		cw__video_add_stats(&s->gone, t->vrx);
	if (s->sub.pc)
		cw__pc_add_recv_ssrc(s->sub.pc, t->ssrc, 0, false);
	cw__jb_free(t->jb);
	cw__vp8_rx_free(t->vrx);
	memset(t, 0, sizeof(*t));
}

static struct cw__track *track_by_mid(struct cw_session *s, const char *mid)
{
	for (size_t i = 0; i < CW__TRACKS_MAX; i++) {
		if (s->tracks[i].used && strcmp(s->tracks[i].mid, mid) == 0)
			return &s->tracks[i];
	}
	return NULL;
}

/* The SSRC of an m-section's media: the first of its FID group (the second is RTX), else
 * the first announced. */
static uint32_t media_ssrc(const struct cw_sdp_media *m)
{
	for (unsigned i = 0; i < m->ngroups; i++) {
		if (strcmp(m->groups[i].semantics, "FID") == 0 && m->groups[i].nssrcs)
			return m->groups[i].ssrcs[0];
	}
	return m->ssrcs[0].ssrc;
}

/* The track an m-section of a subscribe offer carries: its SSRC and its participant. */
static bool offered_track(const struct cw_sdp_media *m, uint32_t *ssrc, const char **owner)
{
	if (m->port == 0 || !m->mid || (m->kind != CW_SDP_AUDIO && m->kind != CW_SDP_VIDEO) ||
	    m->nssrcs == 0 || (m->dir != CW_SDP_SENDONLY && m->dir != CW_SDP_SENDRECV))
		return false;
	*ssrc = media_ssrc(m);
	*owner = m->msid_stream ? m->msid_stream : m->ssrcs[0].msid_stream;
	return *owner && strlen(*owner) < CW__ID_MAX && strlen(m->mid) < CW__MID_MAX;
}

static void update_tracks(struct cw_session *s, const struct cw_sdp *sdp)
{
	for (unsigned i = 0; i < sdp->nmedia; i++) {
		const struct cw_sdp_media *m = &sdp->media[i];
		struct cw__track *t = m->mid ? track_by_mid(s, m->mid) : NULL;
		const char *owner;
		uint32_t ssrc;

		if (!offered_track(m, &ssrc, &owner)) {
			if (t)
				track_drop(s, t);
			continue;
		}
		if (t && t->ssrc == ssrc && strcmp(t->participant, owner) == 0)
			continue;
		if (t)
			track_drop(s, t);
		for (size_t k = 0; k < CW__TRACKS_MAX && !t; k++) {
			if (!s->tracks[k].used)
				t = &s->tracks[k];
		}
		if (!t)
			continue;
		t->audio = m->kind == CW_SDP_AUDIO;
		if (t->audio ? cw__jb_new(&t->jb) != 0 : cw__vp8_rx_new(&t->vrx, true) != 0)
			continue;
		t->used = true;
		t->ssrc = ssrc;
		snprintf(t->mid, sizeof(t->mid), "%s", m->mid);
		snprintf(t->participant, sizeof(t->participant), "%s", owner);
		cw__pc_add_recv_ssrc(s->sub.pc, ssrc, t->audio ? CW__AUDIO_RATE : CW__VIDEO_CLOCK,
				     true);
	}
}

int cw__media_offer(struct cw_session *s, const char *offer, char **answerp)
{
	struct cw__sdp_local l;
	struct cw_sdp *sdp = NULL;
	int err;

	*answerp = NULL;
	if (!s->dtls || cw_sdp_parse(&sdp, offer, strlen(offer), NULL) != 0)
		return CW_ERR_PROTOCOL;
	err = s->sub.pc ? 0 : conn_open(s, &s->sub, offer);
	if (!err) {
		s->loss_applied = 0;
		update_tracks(s, sdp);
		memset(&l, 0, sizeof(l));
		l.ufrag = s->sub.ufrag;
		l.pwd = s->sub.pwd;
		l.fingerprint = cw_dtls_cert_fingerprint(s->cert);
		l.session_id = s->sdp_session_id + 1;
		l.version = ++s->sub_answers;
		err = cw__sdp_subscribe_answer(answerp, sdp, &l);
	}
	cw_sdp_free(sdp);
	if (!err)
		schedule(s, cw__now_ms());
	return err;
}

void cw__media_stop(struct cw_session *s)
{
	if (s->ticking && s->c->ctx)
		lws_sul_cancel(&s->sul);
	s->ticking = false;
	s->next_frame = 0;
	update_stats(s);
	for (size_t i = 0; i < CW__TRACKS_MAX; i++) {
		if (s->tracks[i].used)
			track_drop(s, &s->tracks[i]);
	}
	conn_close(&s->pub);
	conn_close(&s->sub);
	cw__opus_enc_free(s->enc);
	s->enc = NULL;
	cw__video_stop(s);
	cw_dtls_ctx_free(s->dtls);
	s->dtls = NULL;
	cw_dtls_cert_free(s->cert);
	s->cert = NULL;
	s->sub_version = 0;
	s->sub_answers = 0;
	s->lost = false;
	s->loss_applied = 0;
}
