/* session_sdp: the client's session descriptions: the publish offer, the answer to the
 * server's subscribe offers, and the server's transport (ICE, DTLS, candidates) read
 * from its descriptions. Pure: text in, text out. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session.h"

struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->p && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 2048;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

static int finish(struct text *t, char **textp)
{
	if (t->failed || !t->p) {
		free(t->p);
		return CW_ERR_NO_MEMORY;
	}
	*textp = t->p;
	return 0;
}

static void put_session(struct text *t, const struct cw__sdp_local *l)
{
	put(t, "v=0\r\no=- %llu %u IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
	    (unsigned long long)l->session_id, l->version);
}

/* The transport lines every m-section of ours repeats (BUNDLE keeps only the first's). */
static void put_transport(struct text *t, const struct cw__sdp_local *l, const char *setup)
{
	put(t, "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
	put(t, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", l->ufrag, l->pwd);
	put(t, "a=fingerprint:%s\r\na=setup:%s\r\n", l->fingerprint, setup);
}

int cw__sdp_publish_offer(char **textp, const struct cw__sdp_local *l, uint32_t audio_ssrc,
			  uint32_t video_ssrc, const char *stream_id)
{
	struct text t = {0};

	*textp = NULL;
	put_session(&t, l);
	put(&t, "a=group:BUNDLE 0%s\r\na=msid-semantic: WMS %s\r\n", video_ssrc ? " 1" : "",
	    stream_id);
	put(&t, "m=audio 9 UDP/TLS/RTP/SAVPF %u\r\n", CW__PT_OPUS);
	put_transport(&t, l, "actpass");
	put(&t, "a=mid:0\r\na=extmap:%u %s\r\na=sendonly\r\na=msid:%s audio0\r\na=rtcp-mux\r\n",
	    CW__EXT_AUDIO_LEVEL, CW_SDP_URI_AUDIO_LEVEL, stream_id);
	put(&t, "a=rtpmap:%u opus/48000/2\r\na=rtcp-fb:%u nack\r\n", CW__PT_OPUS, CW__PT_OPUS);
	put(&t, "a=fmtp:%u minptime=10;useinbandfec=1\r\n", CW__PT_OPUS);
	put(&t, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s audio0\r\n", audio_ssrc, stream_id,
	    audio_ssrc, stream_id);
	if (!video_ssrc)
		return finish(&t, textp);
	put(&t, "m=video 9 UDP/TLS/RTP/SAVPF %u\r\n", CW__PT_VP8);
	put_transport(&t, l, "actpass");
	put(&t, "a=mid:1\r\na=sendonly\r\na=msid:%s video0\r\na=rtcp-mux\r\n", stream_id);
	put(&t, "a=rtpmap:%u VP8/90000\r\n", CW__PT_VP8);
	put(&t, "a=rtcp-fb:%u nack\r\na=rtcp-fb:%u nack pli\r\na=rtcp-fb:%u ccm fir\r\n",
	    CW__PT_VP8, CW__PT_VP8, CW__PT_VP8);
	put(&t, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s video0\r\n", video_ssrc, stream_id,
	    video_ssrc, stream_id);
	return finish(&t, textp);
}

/* The offered codec we take for m: Opus for audio, VP8 for video; NULL if none. */
static const struct cw_sdp_codec *pick_codec(const struct cw_sdp_media *m)
{
	const char *want = m->kind == CW_SDP_AUDIO ? "opus" : "VP8";

	for (unsigned i = 0; i < m->ncodecs; i++) {
		if (m->codecs[i].name && strcasecmp(m->codecs[i].name, want) == 0)
			return &m->codecs[i];
	}
	return NULL;
}

static bool usable(const struct cw_sdp_media *m)
{
	return m->port != 0 && m->rtp && m->mid &&
	       (m->kind == CW_SDP_AUDIO || m->kind == CW_SDP_VIDEO) && pick_codec(m);
}

int cw__sdp_subscribe_answer(char **textp, const struct cw_sdp *offer,
			     const struct cw__sdp_local *l)
{
	struct text t = {0};

	*textp = NULL;
	put_session(&t, l);
	put(&t, "a=group:BUNDLE");
	for (unsigned i = 0; i < offer->nmedia; i++) {
		if (usable(&offer->media[i]))
			put(&t, " %s", offer->media[i].mid);
	}
	put(&t, "\r\na=msid-semantic: WMS\r\n");
	for (unsigned i = 0; i < offer->nmedia; i++) {
		const struct cw_sdp_media *m = &offer->media[i];
		const struct cw_sdp_codec *codec = usable(m) ? pick_codec(m) : NULL;

		if (!codec) {
			/* Refused: the m-line keeps its place, port 0. */
			put(&t, "m=%s 0 %s %u\r\n", m->media ? m->media : "audio",
			    m->proto ? m->proto : "UDP/TLS/RTP/SAVPF",
			    m->ncodecs ? m->codecs[0].pt : 0u);
			put(&t, "c=IN IP4 0.0.0.0\r\n");
			if (m->mid)
				put(&t, "a=mid:%s\r\n", m->mid);
			put(&t, "a=inactive\r\n");
			continue;
		}
		put(&t, "m=%s 9 UDP/TLS/RTP/SAVPF %u\r\n",
		    m->kind == CW_SDP_AUDIO ? "audio" : "video", codec->pt);
		put_transport(&t, l, "active");
		put(&t, "a=mid:%s\r\n", m->mid);
		for (unsigned e = 0; e < m->nextmaps; e++) {
			if (m->kind == CW_SDP_AUDIO &&
			    strcmp(m->extmaps[e].uri, CW_SDP_URI_AUDIO_LEVEL) == 0)
				put(&t, "a=extmap:%u %s\r\n", m->extmaps[e].id, m->extmaps[e].uri);
		}
		put(&t, "a=%s\r\na=rtcp-mux\r\n",
		    m->dir == CW_SDP_SENDONLY || m->dir == CW_SDP_SENDRECV ? "recvonly"
									   : "inactive");
		put(&t, "a=rtpmap:%u %s/%u%s\r\n", codec->pt, codec->name, codec->clock,
		    m->kind == CW_SDP_AUDIO ? "/2" : "");
		if (codec->fb & CW_SDP_FB_NACK)
			put(&t, "a=rtcp-fb:%u nack\r\n", codec->pt);
		if (codec->fb & CW_SDP_FB_PLI)
			put(&t, "a=rtcp-fb:%u nack pli\r\n", codec->pt);
		if (m->kind == CW_SDP_AUDIO)
			put(&t, "a=fmtp:%u minptime=10;useinbandfec=1\r\n", codec->pt);
	}
	return finish(&t, textp);
}

static void format_fingerprint(const struct cw_sdp_fingerprint *f, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%s ", f->alg);

	for (unsigned i = 0; i < f->len && n + 3 < size; i++)
		n += (size_t)snprintf(out + n, size - n, i ? ":%02X" : "%02X", f->hash[i]);
}

/* A candidate's address, when it is a UDP IP address (not an mDNS name). */
static bool candidate_addr(const struct cw_sdp_candidate *cand, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (!cand->transport || strcasecmp(cand->transport, "udp") != 0 || cand->component != 1)
		return false;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cand->ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(cand->port);
		return true;
	}
	if (inet_pton(AF_INET6, cand->ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(cand->port);
		return true;
	}
	return false;
}

int cw__sdp_remote(const struct cw_sdp *sdp, struct cw__sdp_remote *r)
{
	struct cw_sdp_transport tr;
	int first = -1;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < sdp->nmedia && first < 0; i++) {
		if (sdp->media[i].port != 0)
			first = (int)i;
	}
	if (first < 0)
		return CW_ERR_PROTOCOL;
	cw_sdp_media_transport(sdp, (unsigned)first, &tr);
	if (!tr.ufrag || !tr.pwd || tr.nfingerprints == 0 || strlen(tr.ufrag) >= sizeof(r->ufrag) ||
	    strlen(tr.pwd) >= sizeof(r->pwd))
		return CW_ERR_PROTOCOL;
	snprintf(r->ufrag, sizeof(r->ufrag), "%s", tr.ufrag);
	snprintf(r->pwd, sizeof(r->pwd), "%s", tr.pwd);
	format_fingerprint(&tr.fingerprints[0], r->fingerprint, sizeof(r->fingerprint));
	/* The candidates, highest priority first, of the first live m-section (BUNDLE). */
	const struct cw_sdp_media *m = &sdp->media[first];
	for (unsigned i = 0; i < m->ncandidates && r->ncandidates < CW__PC_CANDIDATES_MAX; i++) {
		struct sockaddr_storage ss;
		unsigned at = r->ncandidates;

		if (!candidate_addr(&m->candidates[i], &ss))
			continue;
		while (at > 0 && r->priority[at - 1] < m->candidates[i].priority) {
			r->candidates[at] = r->candidates[at - 1];
			r->priority[at] = r->priority[at - 1];
			at--;
		}
		r->candidates[at] = ss;
		r->priority[at] = m->candidates[i].priority;
		r->ncandidates++;
	}
	return r->ncandidates ? 0 : CW_ERR_PROTOCOL;
}
