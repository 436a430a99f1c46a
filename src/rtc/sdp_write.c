/* sdp_write: codec negotiation, the answers and offers we build, and models as text. */
#include "rtc/sdp.h"
#include "rtc/sdp_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- codecs ---- */

static bool named(const struct cw_sdp_codec *c, const char *name, uint32_t clock)
{
	return c->name && strcasecmp(c->name, name) == 0 && c->clock == clock;
}

bool cw_sdp_codec_supported(enum cw_sdp_kind kind, const struct cw_sdp_codec *c, unsigned codecs)
{
	/* Without profile-level-id H.264 means 42000a (RFC 6184), a baseline profile. */
	uint32_t plid = c->profile_level_id ? c->profile_level_id : 0x42000a;

	if (kind == CW_SDP_AUDIO)
		return (codecs & CW_SDP_CODEC_OPUS) && named(c, "opus", 48000) && c->channels == 2;
	if (kind != CW_SDP_VIDEO)
		return false;
	if ((codecs & CW_SDP_CODEC_VP8) && named(c, "VP8", 90000))
		return true;
	return (codecs & CW_SDP_CODEC_H264) && named(c, "H264", 90000) &&
	       c->packetization_mode == 1 && (plid >> 16) == 0x42;
}

static const struct cw_sdp_codec default_audio[] = {
	{.pt = 111,
	 .name = "opus",
	 .clock = 48000,
	 .channels = 2,
	 .fmtp = "minptime=10;useinbandfec=1",
	 .apt = -1,
	 .packetization_mode = -1,
	 .fb = CW_SDP_FB_NACK | CW_SDP_FB_TWCC},
};

static const struct cw_sdp_codec default_video[] = {
	{.pt = 96,
	 .name = "VP8",
	 .clock = 90000,
	 .apt = -1,
	 .packetization_mode = -1,
	 .fb = CW_SDP_FB_ALL},
	{.pt = 97,
	 .name = "rtx",
	 .clock = 90000,
	 .fmtp = "apt=96",
	 .apt = 96,
	 .packetization_mode = -1},
	{.pt = 102,
	 .name = "H264",
	 .clock = 90000,
	 .fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	 .apt = -1,
	 .packetization_mode = 1,
	 .profile_level_id = 0x42e01f,
	 .fb = CW_SDP_FB_ALL},
	{.pt = 103,
	 .name = "rtx",
	 .clock = 90000,
	 .fmtp = "apt=102",
	 .apt = 102,
	 .packetization_mode = -1},
};

unsigned cw_sdp_default_codecs(enum cw_sdp_kind kind, const struct cw_sdp_codec **codecs)
{
	*codecs = kind == CW_SDP_AUDIO ? default_audio : default_video;
	if (kind == CW_SDP_AUDIO)
		return sizeof(default_audio) / sizeof(default_audio[0]);
	return kind == CW_SDP_VIDEO ? sizeof(default_video) / sizeof(default_video[0]) : 0;
}

/* ---- writing ---- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void put_transport(struct out *o, const struct cw_sdp_transport *t)
{
	if (t->ufrag)
		put(o, "a=ice-ufrag:%s\r\n", t->ufrag);
	if (t->pwd)
		put(o, "a=ice-pwd:%s\r\n", t->pwd);
	if (t->options)
		put(o, "a=ice-options:%s\r\n", t->options);
	for (unsigned i = 0; i < t->nfingerprints; i++) {
		const struct cw_sdp_fingerprint *fp = &t->fingerprints[i];

		put(o, "a=fingerprint:%s ", fp->alg);
		for (unsigned k = 0; k < fp->len; k++)
			put(o, "%02X%s", fp->hash[k], k + 1 < fp->len ? ":" : "\r\n");
	}
	if (t->setup > CW_SDP_SETUP_NONE && t->setup <= CW_SDP_SETUP_HOLDCONN)
		put(o, "a=setup:%s\r\n", cw__sdp_setup_names[t->setup]);
}

static void put_codec(struct out *o, const struct cw_sdp_codec *c)
{
	static const char *const fbs[] = {"nack", "nack pli", "ccm fir", "goog-remb",
					  "transport-cc"};

	if (c->name) {
		put(o, "a=rtpmap:%u %s/%" PRIu32, c->pt, c->name, c->clock);
		put(o, c->channels ? "/%u\r\n" : "\r\n", c->channels);
	}
	for (unsigned k = 0; k < 5; k++)
		if (c->fb & (1u << k))
			put(o, "a=rtcp-fb:%u %s\r\n", c->pt, fbs[k]);
	if (c->fmtp)
		put(o, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
}

static void put_media(struct out *o, const struct cw_sdp_media *m)
{
	const char *media = m->media ? m->media : cw__sdp_kind_names[m->kind & 3];

	put(o, "m=%s %u %s", media, m->port, m->proto ? m->proto : "UDP/TLS/RTP/SAVPF");
	if (!m->rtp)
		put(o, " %s", m->fmts ? m->fmts : "");
	for (unsigned i = 0; m->rtp && i < m->ncodecs; i++)
		put(o, " %u", m->codecs[i].pt);
	put(o, "%s\r\nc=IN IP4 0.0.0.0\r\n", m->rtp && !m->ncodecs ? " 0" : "");
	put_transport(o, &m->transport);
	if (m->mid)
		put(o, "a=mid:%s\r\n", m->mid);
	for (unsigned i = 0; i < m->nextmaps; i++) {
		const struct cw_sdp_extmap *e = &m->extmaps[i];

		put(o, "a=extmap:%u%s%s %s\r\n", e->id, e->has_dir ? "/" : "",
		    e->has_dir ? cw__sdp_dir_names[e->dir & 3] : "", e->uri);
	}
	put(o, "a=%s\r\n", cw__sdp_dir_names[m->dir & 3]);
	if (m->msid_stream)
		put(o, "a=msid:%s%s%s\r\n", m->msid_stream, m->msid_track ? " " : "",
		    m->msid_track ? m->msid_track : "");
	if (m->rtcp_mux)
		put(o, "a=rtcp-mux\r\n");
	if (m->rtcp_rsize)
		put(o, "a=rtcp-rsize\r\n");
	for (unsigned i = 0; i < m->ncodecs; i++)
		put_codec(o, &m->codecs[i]);
	for (unsigned i = 0; i < m->nrids; i++)
		put(o, "a=rid:%s\r\n", m->rids[i]);
	if (m->simulcast)
		put(o, "a=simulcast:%s\r\n", m->simulcast);
	for (unsigned i = 0; i < m->ngroups; i++) {
		put(o, "a=ssrc-group:%s", m->groups[i].semantics);
		for (unsigned k = 0; k < m->groups[i].nssrcs; k++)
			put(o, " %" PRIu32, m->groups[i].ssrcs[k]);
		put(o, "\r\n");
	}
	for (unsigned i = 0; i < m->nssrcs; i++) {
		const struct cw_sdp_ssrc *s = &m->ssrcs[i];

		if (s->cname)
			put(o, "a=ssrc:%" PRIu32 " cname:%s\r\n", s->ssrc, s->cname);
		if (s->msid_stream)
			put(o, "a=ssrc:%" PRIu32 " msid:%s%s%s\r\n", s->ssrc, s->msid_stream,
			    s->msid_track ? " " : "", s->msid_track ? s->msid_track : "");
		if (!s->cname && !s->msid_stream)
			put(o, "a=ssrc:%" PRIu32 "\r\n", s->ssrc);
	}
	for (unsigned i = 0; i < m->ncandidates; i++)
		put(o, "a=candidate:%s\r\n", m->candidates[i].raw);
	if (m->end_of_candidates)
		put(o, "a=end-of-candidates\r\n");
}

int cw_sdp_write(const struct cw_sdp *sdp, char *buf, size_t size, size_t *lenp)
{
	struct out o = {buf, size, 0};

	put(&o, "v=0\r\no=%s\r\ns=%s\r\nt=0 0\r\n",
	    sdp->origin ? sdp->origin : "- 0 0 IN IP4 0.0.0.0", sdp->name ? sdp->name : "-");
	if (sdp->ice_lite)
		put(&o, "a=ice-lite\r\n");
	if (sdp->nbundle) {
		put(&o, "a=group:BUNDLE");
		for (unsigned i = 0; i < sdp->nbundle; i++)
			put(&o, " %s", sdp->bundle[i]);
		put(&o, "\r\n");
	}
	if (sdp->extmap_allow_mixed)
		put(&o, "a=extmap-allow-mixed\r\n");
	if (sdp->msid_semantic)
		put(&o, "a=msid-semantic:%s\r\n", sdp->msid_semantic);
	put_transport(&o, &sdp->transport);
	if (sdp->end_of_candidates)
		put(&o, "a=end-of-candidates\r\n");
	for (unsigned i = 0; i < sdp->nmedia; i++)
		put_media(&o, &sdp->media[i]);
	*lenp = o.len;
	return o.len < size ? 0 : -ENOSPC;
}

int cw_sdp_write_alloc(const struct cw_sdp *sdp, char **textp, size_t *lenp)
{
	size_t len;

	*textp = NULL;
	cw_sdp_write(sdp, NULL, 0, &len);
	if (!(*textp = malloc(len + 1)))
		return -ENOMEM;
	cw_sdp_write(sdp, *textp, len + 1, lenp);
	return 0;
}

/* ---- what answers and offers share ---- */

static const struct cw_sdp_caps all_caps = {CW_SDP_CODEC_ALL, CW_SDP_FB_ALL, CW_SDP_EXT_ALL, false};

#define EXT_RID 0x100u /* rtp-stream-id and its repair stream: with accepted simulcast */

static unsigned ext_flag(const char *uri)
{
	static const struct {
		const char *uri;
		unsigned flag;
	} exts[] = {{CW_SDP_URI_AUDIO_LEVEL, CW_SDP_EXT_AUDIO_LEVEL},
		    {CW_SDP_URI_TWCC, CW_SDP_EXT_TWCC},
		    {CW_SDP_URI_MID, CW_SDP_EXT_MID},
		    {CW_SDP_URI_ABS_SEND_TIME, CW_SDP_EXT_ABS_SEND_TIME},
		    {CW_SDP_URI_RID, EXT_RID},
		    {CW_SDP_URI_RRID, EXT_RID}};

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcmp(uri, exts[i].uri) == 0)
			return exts[i].flag;
	return 0;
}

/* A value that goes on an SDP line as one token: printable ASCII, no space. */
static bool token(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return n && n <= max;
}

static bool ice_chars(const char *s, size_t min)
{
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return false;
	return n >= min && n <= 256;
}

static int check_local(const struct cw_sdp_local *l, struct cw_sdp_err *err)
{
	if (!ice_chars(l->ufrag, 4))
		return cw__sdp_fail(err, 0, -EINVAL, "local ufrag: 4..256 of [A-Za-z0-9+/]");
	if (!ice_chars(l->pwd, 22))
		return cw__sdp_fail(err, 0, -EINVAL, "local pwd: 22..256 of [A-Za-z0-9+/]");
	if (l->nhosts > CW_SDP_MAX_CANDIDATES || (l->nhosts && !l->hosts))
		return cw__sdp_fail(err, 0, -EINVAL, "at most %d hosts", CW_SDP_MAX_CANDIDATES);
	for (unsigned i = 0; i < l->nhosts; i++)
		if (!token(l->hosts[i].ip, 64) ||
		    strspn(l->hosts[i].ip, "0123456789abcdefABCDEF.:") != strlen(l->hosts[i].ip) ||
		    !l->hosts[i].port)
			return cw__sdp_fail(err, 0, -EINVAL,
					    "host %u: needs an IP address and a port", i);
	return 0;
}

/* Checks the tracks and returns the bytes their strings take, or a negative errno. */
static long check_tracks(const struct cw_sdp_track *tracks, unsigned n, struct cw_sdp_err *err)
{
	long bytes = 0;

	if (n && !tracks)
		return cw__sdp_fail(err, 0, -EINVAL, "tracks is NULL");
	for (unsigned i = 0; i < n; i++) {
		const struct cw_sdp_track *t = &tracks[i];
		const struct cw_sdp_codec *c = t->codecs;
		unsigned nc = c ? t->ncodecs : cw_sdp_default_codecs(t->kind, &c);

		if ((t->kind != CW_SDP_AUDIO && t->kind != CW_SDP_VIDEO) || !token(t->mid, 64))
			return cw__sdp_fail(err, 0, -EINVAL,
					    "track %u: needs audio/video and a mid", i);
		/* An inactive place has no SSRC or ids: nothing of them is written. */
		if (!t->inactive &&
		    (!t->ssrc || t->rtx_ssrc == t->ssrc || !token(t->stream_id, 255) ||
		     !token(t->track_id, 255) || !token(t->cname, 255)))
			return cw__sdp_fail(err, 0, -EINVAL,
					    "track %s: needs an SSRC (and a different RTX SSRC), "
					    "stream and track ids, and a cname",
					    t->mid);
		for (unsigned k = 0; k < i; k++)
			if (strcmp(tracks[k].mid, t->mid) == 0)
				return cw__sdp_fail(err, 0, -EINVAL, "two tracks with mid %s",
						    t->mid);
		if (nc > CW_SDP_MAX_CODECS)
			return cw__sdp_fail(err, 0, -EINVAL, "track %s: more than %d codecs",
					    t->mid, CW_SDP_MAX_CODECS);
		bytes += (long)strlen(t->mid) + 1;
		if (!t->inactive)
			bytes += (long)(strlen(t->stream_id) + strlen(t->track_id) +
					strlen(t->cname) + 3);
		for (unsigned k = 0; k < nc; k++) {
			bool dup = false;

			for (unsigned j = 0; j < k; j++)
				dup |= c[j].pt == c[k].pt;
			if (dup || c[k].pt > 127 || (c[k].name && !token(c[k].name, 32)) ||
			    (c[k].fmtp && strcspn(c[k].fmtp, "\r\n") != strlen(c[k].fmtp)))
				return cw__sdp_fail(err, 0, -EINVAL, "track %s: bad codec %u",
						    t->mid, c[k].pt);
			bytes += (long)((c[k].name ? strlen(c[k].name) + 1 : 0) +
					(c[k].fmtp ? strlen(c[k].fmtp) + 1 : 0));
		}
	}
	return bytes;
}

/*
 * A model for a description of ours with room for nmedia m-sections and `extra` bytes of
 * other strings: origin, ICE credentials and one host candidate per local host, built once
 * and shared by every m-section.
 */
static struct cw_sdp *start(const struct cw_sdp_local *l, unsigned nmedia, size_t extra,
			    struct cw_sdp_candidate *cands, struct cw_sdp_transport *t)
{
	size_t size = extra + strlen(l->ufrag) + strlen(l->pwd) + 128;
	struct cw_sdp *s;

	for (unsigned i = 0; i < l->nhosts; i++)
		size += 2 * strlen(l->hosts[i].ip) + 96;
	if (!(s = cw__sdp_alloc(nmedia, size)))
		return NULL;
	s->origin = cw__sdp_keepf(s, "- %" PRIu64 " %" PRIu64 " IN IP4 0.0.0.0", l->session_id,
				  l->version);
	s->name = "-";
	s->ice_lite = true;
	*t = (struct cw_sdp_transport){.ufrag = cw__sdp_keep_str(s, l->ufrag),
				       .pwd = cw__sdp_keep_str(s, l->pwd),
				       .nfingerprints = 1};
	snprintf(t->fingerprints[0].alg, sizeof(t->fingerprints[0].alg), "sha-256");
	t->fingerprints[0].len = 32;
	memcpy(t->fingerprints[0].hash, l->fingerprint, 32);
	for (unsigned i = 0; i < l->nhosts; i++) {
		/* RFC 8445 5.1.2.1: type preference 126 (host), then the order given. */
		uint32_t prio = 126u << 24 | (65535u - i) << 8 | 255u;
		const char *ip = cw__sdp_keep_str(s, l->hosts[i].ip);

		cands[i] = (struct cw_sdp_candidate){
			.raw = cw__sdp_keepf(s, "%u 1 udp %" PRIu32 " %s %u typ host", i + 1, prio,
					     ip, l->hosts[i].port),
			.foundation = cw__sdp_keepf(s, "%u", i + 1),
			.component = 1,
			.transport = "udp",
			.priority = prio,
			.ip = ip,
			.port = l->hosts[i].port,
			.type = "host"};
	}
	return s;
}

static void set_ice(struct cw_sdp_media *m, const struct cw_sdp_transport *t,
		    enum cw_sdp_setup setup, const struct cw_sdp_candidate *cands, unsigned n)
{
	m->transport = *t;
	m->transport.setup = setup;
	memcpy(m->candidates, cands, n * sizeof(*cands));
	m->ncandidates = n;
	m->end_of_candidates = n > 0;
}

static struct cw_sdp_codec *add_codec(struct cw_sdp *s, struct cw_sdp_media *m,
				      const struct cw_sdp_codec *c, unsigned fb)
{
	struct cw_sdp_codec *d = &m->codecs[m->ncodecs++];

	*d = *c;
	d->name = cw__sdp_keep_str(s, c->name);
	d->fmtp = cw__sdp_keep_str(s, c->fmtp);
	d->fb = c->fb & fb;
	return d;
}

/* The SSRCs (with RTX, when the section has an RTX codec) and msid of a track we send. */
static void add_track(struct cw_sdp *s, struct cw_sdp_media *m, const struct cw_sdp_track *t)
{
	const char *stream = cw__sdp_keep_str(s, t->stream_id);
	const char *track = cw__sdp_keep_str(s, t->track_id);
	const char *cname = cw__sdp_keep_str(s, t->cname);
	bool rtx = false;

	for (unsigned i = 0; i < m->ncodecs; i++)
		rtx |= m->codecs[i].apt >= 0 && m->codecs[i].name &&
		       strcasecmp(m->codecs[i].name, "rtx") == 0;
	m->msid_stream = stream;
	m->msid_track = track;
	m->ssrcs[m->nssrcs++] = (struct cw_sdp_ssrc){t->ssrc, cname, stream, track};
	if (!rtx || !t->rtx_ssrc)
		return;
	m->ssrcs[m->nssrcs++] = (struct cw_sdp_ssrc){t->rtx_ssrc, cname, stream, track};
	m->groups[m->ngroups++] = (struct cw_sdp_ssrc_group){
		.semantics = "FID", .nssrcs = 2, .ssrcs = {t->ssrc, t->rtx_ssrc}};
}

static int finish(struct cw_sdp *s, struct cw_sdp **outp, struct cw_sdp_err *err)
{
	if (s->strings_used > s->strings_size) {
		cw_sdp_free(s);
		return cw__sdp_fail(err, 0, -ENOMEM, "out of string space");
	}
	*outp = s;
	return 0;
}

/* ---- answers ---- */

static enum cw_sdp_dir mirror(enum cw_sdp_dir d)
{
	return d == CW_SDP_SENDONLY ? CW_SDP_RECVONLY : d == CW_SDP_RECVONLY ? CW_SDP_SENDONLY : d;
}

/* A copy of an a=simulcast or a=rid value seen from our side: the words at the positions
 * in `at` (a bit per space-separated word) that are send or recv are swapped. */
static const char *swap_dirs(struct cw_sdp *s, const char *v, unsigned at)
{
	char tmp[CW_SDP_MAX_LINE + 1];
	size_t n = strlen(v) < CW_SDP_MAX_LINE ? strlen(v) : CW_SDP_MAX_LINE;
	unsigned word = 0;

	memcpy(tmp, v, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < n; word++) {
		size_t len = strcspn(tmp + i, " ");

		if (word < 32 && (at >> word & 1) && len == 4 &&
		    (!memcmp(tmp + i, "send", 4) || !memcmp(tmp + i, "recv", 4)))
			memcpy(tmp + i, tmp[i] == 's' ? "recv" : "send", 4);
		i += len;
		i += strspn(tmp + i, " ");
	}
	return cw__sdp_keep(s, tmp, n);
}

/* The bytes an answer may copy from one offered m-section: all its strings, at most once. */
static size_t media_bytes(const struct cw_sdp_media *m)
{
	size_t n = 8;

#define LEN(str) ((str) ? strlen(str) + 1 : 0)
	n += LEN(m->media) + LEN(m->proto) + LEN(m->fmts) + LEN(m->mid) + LEN(m->simulcast);
	for (unsigned i = 0; i < m->nrids; i++)
		n += LEN(m->rids[i]);
	for (unsigned i = 0; i < m->ncodecs; i++)
		n += LEN(m->codecs[i].name) + LEN(m->codecs[i].fmtp);
	for (unsigned i = 0; i < m->nextmaps; i++)
		n += LEN(m->extmaps[i].uri);
#undef LEN
	return n;
}

static bool in_bundle(const struct cw_sdp *offer, const char *mid)
{
	for (unsigned i = 0; mid && i < offer->nbundle; i++)
		if (strcmp(offer->bundle[i], mid) == 0)
			return true;
	return false;
}

/*
 * Negotiates one m-section into am. Returns NULL when it is accepted, or why not, with am
 * then holding only what a rejected section repeats (media, proto, mid).
 */
static const char *answer_media(struct cw_sdp *a, const struct cw_sdp *offer,
				const struct cw_sdp_media *om, struct cw_sdp_media *am,
				const struct cw_sdp_caps *caps, bool first)
{
	bool ok[256] = {0}; /* by payload type; 256 so a hand-made model cannot overrun it */
	unsigned nprimary = 0, exts = caps->exts;

	am->kind = om->kind;
	am->media = cw__sdp_keep_str(a, om->media);
	am->proto = cw__sdp_keep_str(a, om->proto);
	am->rtp = om->rtp;
	am->fmts = cw__sdp_keep_str(a, om->fmts);
	am->mid = cw__sdp_keep_str(a, om->mid);
	am->dir = mirror(om->dir);
	if (!om->port)
		return "rejected by the offerer";
	if (om->kind != CW_SDP_AUDIO && om->kind != CW_SDP_VIDEO)
		return "neither audio nor video";
	if (!om->rtp || !strstr(om->proto, "RTP/SAVP"))
		return "not RTP over DTLS-SRTP";
	if (!om->rtcp_mux)
		return "no a=rtcp-mux";
	if (offer->nbundle ? !in_bundle(offer, om->mid) : !first)
		return offer->nbundle ? "not in the BUNDLE group" : "no BUNDLE: one m-section only";
	for (unsigned i = 0; i < om->ncodecs; i++)
		if (cw_sdp_codec_supported(om->kind, &om->codecs[i], caps->codecs))
			ok[om->codecs[i].pt] = true, nprimary++;
	if (!nprimary)
		return "no codec we support (Opus, VP8, H.264 constrained baseline)";
	for (unsigned i = 0; i < om->ncodecs; i++) {
		const struct cw_sdp_codec *c = &om->codecs[i];
		bool rtx = (caps->codecs & CW_SDP_CODEC_RTX) && c->name &&
			   strcasecmp(c->name, "rtx") == 0 && c->apt >= 0 && c->apt < 256 &&
			   ok[c->apt];

		if (ok[c->pt] || rtx)
			add_codec(a, am, c, caps->fb);
	}
	if (caps->simulcast && om->simulcast && om->nrids) {
		exts |= EXT_RID;
		am->simulcast = swap_dirs(a, om->simulcast, 0x5);
		for (unsigned i = 0; i < om->nrids; i++)
			am->rids[am->nrids++] = swap_dirs(a, om->rids[i], 0x2);
	}
	for (unsigned i = 0; i < om->nextmaps; i++) {
		struct cw_sdp_extmap e = om->extmaps[i];

		if (!(ext_flag(e.uri) & exts))
			continue;
		e.uri = cw__sdp_keep_str(a, e.uri);
		e.dir = mirror(e.dir);
		am->extmaps[am->nextmaps++] = e;
	}
	am->port = 9;
	am->rtcp_mux = true;
	am->rtcp_rsize = om->rtcp_rsize;
	return NULL;
}

int cw_sdp_answer(struct cw_sdp **answerp, const struct cw_sdp *offer,
		  const struct cw_sdp_local *local, const struct cw_sdp_track *tracks,
		  unsigned ntracks, struct cw_sdp_err *err)
{
	const struct cw_sdp_caps *caps = local->caps ? local->caps : &all_caps;
	struct cw_sdp_candidate cands[CW_SDP_MAX_CANDIDATES];
	struct cw_sdp_transport t;
	const char *why = "the offer has no m-section";
	unsigned naccepted = 0, why_at = 0;
	struct cw_sdp *a;
	long bytes;
	int rc;

	*answerp = NULL;
	if (err)
		*err = (struct cw_sdp_err){0};
	if ((rc = check_local(local, err)) < 0 || (bytes = check_tracks(tracks, ntracks, err)) < 0)
		return rc < 0 ? rc : (int)bytes;
	for (unsigned i = 0; i < offer->nmedia; i++)
		bytes += (long)media_bytes(&offer->media[i]);
	if (!(a = start(local, offer->nmedia, (size_t)bytes + 16, cands, &t)))
		return cw__sdp_fail(err, 0, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < offer->nmedia; i++) {
		const struct cw_sdp_media *om = &offer->media[i];
		struct cw_sdp_media *am = &a->media[a->nmedia++];
		const char *no = answer_media(a, offer, om, am, caps, naccepted == 0);

		if (no) {
			/* A rejected m= line still needs a format: the offer's first. */
			if (om->rtp && om->ncodecs)
				add_codec(a, am, &om->codecs[0], 0);
			if (naccepted == 0 && why_at == 0)
				why = no, why_at = i + 1;
			continue;
		}
		naccepted++;
		set_ice(am, &t, CW_SDP_SETUP_PASSIVE, cands, local->nhosts);
		if (offer->nbundle && am->mid)
			a->bundle[a->nbundle++] = am->mid;
	}
	if (!naccepted) {
		cw_sdp_free(a);
		if (!why_at)
			return cw__sdp_fail(err, 0, -ENOTSUP, "%s", why);
		return cw__sdp_fail(err, 0, -ENOTSUP,
				    "nothing in the offer can be accepted: "
				    "m-section %u: %s",
				    why_at - 1, why);
	}
	for (unsigned i = 0; i < ntracks; i++) {
		int k = cw_sdp_find_mid(a, tracks[i].mid);
		struct cw_sdp_media *am = k < 0 ? NULL : &a->media[k];

		if (!am || (am->port && am->kind != tracks[i].kind))
			rc = cw__sdp_fail(err, 0, -EINVAL, "track %s: no %s m-section has that mid",
					  tracks[i].mid, cw__sdp_kind_names[tracks[i].kind & 3]);
		else if (am->port && (am->dir == CW_SDP_RECVONLY || am->dir == CW_SDP_INACTIVE))
			rc = cw__sdp_fail(err, 0, -EINVAL,
					  "track %s: the offerer does not receive it",
					  tracks[i].mid);
		else if (am->port) /* a rejected section carries nothing */
			add_track(a, am, &tracks[i]);
		if (rc < 0) {
			cw_sdp_free(a);
			return rc;
		}
	}
	if (ntracks)
		a->msid_semantic = "WMS *";
	return finish(a, answerp, err);
}

/* ---- offers ---- */

int cw_sdp_offer(struct cw_sdp **offerp, const struct cw_sdp_local *local,
		 const struct cw_sdp_track *tracks, unsigned ntracks, struct cw_sdp_err *err)
{
	static const struct cw_sdp_extmap exts[] = {{1, false, 0, CW_SDP_URI_AUDIO_LEVEL},
						    {2, false, 0, CW_SDP_URI_ABS_SEND_TIME},
						    {3, false, 0, CW_SDP_URI_TWCC},
						    {4, false, 0, CW_SDP_URI_MID}};
	const struct cw_sdp_caps *caps = local->caps ? local->caps : &all_caps;
	struct cw_sdp_candidate cands[CW_SDP_MAX_CANDIDATES];
	struct cw_sdp_transport t;
	struct cw_sdp *s;
	long bytes;
	int rc;

	*offerp = NULL;
	if (err)
		*err = (struct cw_sdp_err){0};
	if (!ntracks || ntracks > CW_SDP_MAX_MEDIA)
		return cw__sdp_fail(err, 0, -EINVAL, "an offer needs 1..%d tracks",
				    CW_SDP_MAX_MEDIA);
	if ((rc = check_local(local, err)) < 0 || (bytes = check_tracks(tracks, ntracks, err)) < 0)
		return rc < 0 ? rc : (int)bytes;
	if (!(s = start(local, ntracks, (size_t)bytes + 16, cands, &t)))
		return cw__sdp_fail(err, 0, -ENOMEM, "out of memory");
	s->msid_semantic = "WMS *";
	for (unsigned i = 0; i < ntracks; i++) {
		const struct cw_sdp_track *tr = &tracks[i];
		struct cw_sdp_media *m = &s->media[s->nmedia++];
		const struct cw_sdp_codec *c = tr->codecs;
		unsigned nc = c ? tr->ncodecs : cw_sdp_default_codecs(tr->kind, &c);
		bool ok[128] = {0};

		m->kind = tr->kind;
		m->media = cw__sdp_kind_names[tr->kind];
		m->proto = "UDP/TLS/RTP/SAVPF";
		m->rtp = m->rtcp_mux = m->rtcp_rsize = true;
		m->mid = cw__sdp_keep_str(s, tr->mid);
		m->port = tr->stopped ? 0 : 9;
		m->dir = tr->stopped || tr->inactive ? CW_SDP_INACTIVE : CW_SDP_SENDONLY;
		/* Our defaults go through caps (an audio-only session has no H.264); the
		 * caller's own list is taken as given. */
		for (unsigned k = 0; k < nc; k++) {
			bool rtx = c[k].name && strcasecmp(c[k].name, "rtx") == 0 &&
				   c[k].apt >= 0 && c[k].apt < 128 && ok[c[k].apt] &&
				   (caps->codecs & CW_SDP_CODEC_RTX);

			if (tr->codecs || rtx ||
			    cw_sdp_codec_supported(tr->kind, &c[k], caps->codecs))
				ok[add_codec(s, m, &c[k], caps->fb)->pt] = true;
		}
		if (!m->ncodecs) {
			cw_sdp_free(s);
			return cw__sdp_fail(err, 0, -EINVAL, "track %s: no codec to offer",
					    tr->mid);
		}
		for (unsigned k = 0; k < sizeof(exts) / sizeof(exts[0]); k++)
			if ((ext_flag(exts[k].uri) & caps->exts) &&
			    (tr->kind == CW_SDP_AUDIO || exts[k].id != 1))
				m->extmaps[m->nextmaps++] = exts[k];
		set_ice(m, &t, CW_SDP_SETUP_ACTPASS, cands, tr->stopped ? 0 : local->nhosts);
		if (tr->stopped)
			continue;
		if (!tr->inactive)
			add_track(s, m, tr);
		s->bundle[s->nbundle++] = m->mid;
	}
	return finish(s, offerp, err);
}
