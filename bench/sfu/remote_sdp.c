/* remote_sdp: the descriptions `sfu remote` offers and answers, and what it takes of the
 * server's: ICE credentials, fingerprint, DTLS role, candidate. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/socket.h>

#include "remote.h"

static uint16_t peer_port(const struct peer *p)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(p->fd, (struct sockaddr *)&a, &len) != 0)
		return 0;
	return ntohs(a.sin_port);
}

struct buf {
	char *s;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 1024;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
}

static void put_transport(struct remote *r, struct buf *b, const struct peer *p, const char *setup)
{
	put(b,
	    "c=IN IP4 %s\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
	    "a=fingerprint:%s\r\na=setup:%s\r\n",
	    r->o->bind, p->ufrag, p->pwd, r->fingerprint, setup);
}

static void put_candidate(struct remote *r, struct buf *b, const struct peer *p)
{
	put(b, "a=candidate:1 1 udp 2122260223 %s %u typ host\r\na=end-of-candidates\r\n",
	    r->o->bind, peer_port(p));
}

/* The publish connection's offer: Opus and VP8, sendonly, with their SSRCs; a participant
 * who only watches (callwire gives everyone a publish connection) offers one recvonly
 * audio m-section. */
char *publish_offer(struct remote *r, const struct part *pa)
{
	const struct peer *p = pa->pub;
	struct buf b = {0};

	put(&b, "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 1000 + p->index);
	put(&b, "a=group:BUNDLE %s\r\na=msid-semantic: WMS %s\r\n", pa->publishes ? "0 1" : "0",
	    pa->uid);
	put(&b, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
	put_transport(r, &b, p, "actpass");
	put(&b, "a=mid:0\r\na=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n%s",
	    AUDIO_LEVEL_ID, pa->publishes ? "a=sendonly\r\n" : "a=recvonly\r\n");
	if (pa->publishes)
		put(&b, "a=msid:%s %s-a\r\n", pa->uid, pa->uid);
	put(&b, "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n"
		"a=fmtp:111 minptime=10;useinbandfec=1\r\n");
	if (pa->publishes)
		put(&b, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s-a\r\n", p->ssrc[1], pa->uid,
		    p->ssrc[1], pa->uid, pa->uid);
	put_candidate(r, &b, p);
	if (!pa->publishes)
		return b.s;
	put(&b, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
	put_transport(r, &b, p, "actpass");
	put(&b,
	    "a=mid:1\r\na=sendonly\r\na=msid:%s %s-v\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
	    "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 ccm fir\r\n"
	    "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n",
	    pa->uid, pa->uid);
	put(&b, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s-v\r\n", p->ssrc[0], pa->uid, p->ssrc[0],
	    pa->uid, pa->uid);
	put_candidate(r, &b, p);
	return b.s;
}

/* The codec we take of an offered m-section: Opus or VP8; -1 when it has neither. */
static int pick_codec(const struct cw_sdp_media *m)
{
	for (unsigned i = 0; i < m->ncodecs; i++) {
		const char *name = m->codecs[i].name;
		if (name && ((m->kind == CW_SDP_AUDIO && strcasecmp(name, "opus") == 0) ||
			     (m->kind == CW_SDP_VIDEO && strcasecmp(name, "VP8") == 0)))
			return m->codecs[i].pt;
	}
	return -1;
}

static bool media_usable(const struct cw_sdp_media *m)
{
	return m->port && m->rtp && (m->kind == CW_SDP_AUDIO || m->kind == CW_SDP_VIDEO) &&
	       pick_codec(m) >= 0 && m->mid;
}

/* Our answer to a server's subscribe offer: every m-section with Opus or VP8 received
 * (a=recvonly, or inactive as offered), the others rejected; one BUNDLE transport. */
char *subscribe_answer(struct remote *r, const struct peer *p, const struct cw_sdp *offer,
		       int *tracks)
{
	struct buf b = {0};
	bool first = true;

	*tracks = 0;
	put(&b, "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE",
	    5000 + p->index);
	for (unsigned i = 0; i < offer->nmedia; i++) {
		if (media_usable(&offer->media[i]))
			put(&b, " %s", offer->media[i].mid);
	}
	put(&b, "\r\na=msid-semantic: WMS\r\n");
	for (unsigned i = 0; i < offer->nmedia; i++) {
		const struct cw_sdp_media *m = &offer->media[i];
		int pt = pick_codec(m);
		bool active = m->dir == CW_SDP_SENDONLY || m->dir == CW_SDP_SENDRECV;

		if (!media_usable(m)) {
			if (m->rtp && m->ncodecs)
				put(&b, "m=%s 0 %s %u\r\n", m->media, m->proto, m->codecs[0].pt);
			else
				put(&b, "m=%s 0 %s %s\r\n", m->media, m->proto,
				    m->fmts ? m->fmts : "0");
			put(&b, "c=IN IP4 0.0.0.0\r\n");
			if (m->mid)
				put(&b, "a=mid:%s\r\n", m->mid);
			put(&b, "a=inactive\r\n");
			continue;
		}
		if (active && m->nssrcs)
			(*tracks)++;
		put(&b, "m=%s 9 UDP/TLS/RTP/SAVPF %d\r\n",
		    m->kind == CW_SDP_AUDIO ? "audio" : "video", pt);
		put_transport(r, &b, p, "active");
		put(&b, "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\n", m->mid,
		    active ? "recvonly" : "inactive");
		if (m->kind == CW_SDP_AUDIO)
			put(&b,
			    "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n",
			    pt, pt);
		else
			put(&b,
			    "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack "
			    "pli\r\n"
			    "a=rtcp-fb:%d goog-remb\r\n",
			    pt, pt, pt, pt);
		if (first)
			put_candidate(r, &b, p);
		first = false;
	}
	return b.s;
}

/* Takes the server's transport from its SDP into p: ICE credentials, fingerprint, DTLS
 * role and its first IPv4 UDP candidate. */
int take_remote(struct remote *r, struct peer *p, const struct cw_sdp *sdp, bool offer)
{
	struct cw_sdp_transport t;
	int first = -1;

	for (unsigned i = 0; i < sdp->nmedia && first < 0; i++) {
		if (sdp->media[i].port)
			first = (int)i;
	}
	if (first < 0) {
		snprintf(r->why, sizeof(r->why), "peer %s: every m-section rejected", p->ufrag);
		return -1;
	}
	cw_sdp_media_transport(sdp, (unsigned)first, &t);
	if (!t.ufrag || !t.pwd || !t.nfingerprints) {
		snprintf(r->why, sizeof(r->why), "peer %s: no ICE credentials or fingerprint",
			 p->ufrag);
		return -1;
	}
	snprintf(p->rufrag, sizeof(p->rufrag), "%s", t.ufrag);
	snprintf(p->rpwd, sizeof(p->rpwd), "%s", t.pwd);
	{
		static const char hex[] = "0123456789ABCDEF";
		const struct cw_sdp_fingerprint *f = &t.fingerprints[0];
		size_t pos =
			(size_t)snprintf(p->rfingerprint, sizeof(p->rfingerprint), "%s ", f->alg);
		for (unsigned i = 0; i < f->len && pos + 4 < sizeof(p->rfingerprint); i++) {
			if (i)
				p->rfingerprint[pos++] = ':';
			p->rfingerprint[pos++] = hex[f->hash[i] >> 4];
			p->rfingerprint[pos++] = hex[f->hash[i] & 15];
		}
		p->rfingerprint[pos] = '\0';
	}
	/* Its answer's a=setup:active makes it the DTLS client; to its offers we answer
	 * active. */
	p->dtls_server = !offer && t.setup == CW_SDP_SETUP_ACTIVE;
	for (unsigned i = 0; i < sdp->nmedia && !p->remote.sin_port; i++) {
		const struct cw_sdp_media *m = &sdp->media[i];
		for (unsigned k = 0; k < m->ncandidates; k++) {
			const struct cw_sdp_candidate *c = &m->candidates[k];
			struct in_addr a;
			if (c->component == 1 && strcasecmp(c->transport, "udp") == 0 &&
			    inet_pton(AF_INET, c->ip, &a) == 1) {
				p->remote.sin_family = AF_INET;
				p->remote.sin_addr = a;
				p->remote.sin_port = htons(c->port);
				break;
			}
		}
	}
	if (!p->remote.sin_port) {
		snprintf(r->why, sizeof(r->why), "peer %s: no IPv4 UDP candidate", p->ufrag);
		return -1;
	}
	return 0;
}

int parse_sdp(struct remote *r, const char *text, struct cw_sdp **sdp)
{
	struct cw_sdp_err e;

	if (text && getenv("SFU_DEBUG_SDP"))
		fprintf(stderr, "---- the server's SDP\n%s\n", text);
	if (!text || cw_sdp_parse(sdp, text, strlen(text), &e) != 0) {
		snprintf(r->why, sizeof(r->why), "the server's SDP: line %u: %s", e.line, e.msg);
		return -1;
	}
	return 0;
}
