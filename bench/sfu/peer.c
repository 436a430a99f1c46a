/* peer: one loopback client of the SFU: ICE checks, a DTLS client, SRTP media out
 * (publishers) and in (subscribers: every packet counted, a sample decrypted and timed). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>

#include "media.h"
#include "rtc/rtcp.h"
#include "rtc/stun.h"
#include "sfugen.h"

#define PWD_SUFFIX "0123456789abcdefghijkl" /* 22 characters: with a prefix, a valid pwd */
#define STAMP_LEN 16			    /* magic, publisher, send time */
#define STAMP_MIN_PAYLOAD 8	    /* a stamp leaves a packet's first bytes (its VP8 descriptor) */
#define VP8_HDR_LEN 11		    /* descriptor and a keyframe's payload header */
#define HANDSHAKES_AT_ONCE 32	    /* peers in ICE or DTLS at a time during set-up */
#define CHECK_RETRY_NS 100000000ull /* an unanswered check is sent again after this */
#define RCVBUF (1 << 20)

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int peers_make(struct gen *g)
{
	const struct opts *o = g->o;
	int per_room = o->publishers + o->subscribers;

	g->n_peers = o->rooms * per_room;
	g->n_pubs = o->rooms * o->publishers;
	g->peers = calloc((size_t)g->n_peers, sizeof(*g->peers));
	g->pubs = calloc((size_t)g->n_pubs, sizeof(*g->pubs));
	if (!g->peers || !g->pubs)
		return -ENOMEM;
	/* Room r: P publishers then S subscribers, all on worker r % N (a room lives on one
	 * worker). Each peer is a participant of its own. */
	for (int i = 0; i < g->n_peers; i++) {
		struct peer *p = &g->peers[i];
		p->fd = -1;
		p->index = i;
		p->room = i / per_room;
		p->worker = p->room % o->workers;
		p->profile = o->profile;
		p->role = i % per_room < o->publishers ? ROLE_PUB : ROLE_SUB;
		p->next_check_ns = UINT64_MAX; /* until set-up admits it */
		snprintf(p->ufrag, sizeof(p->ufrag), "bp%05d", i);
		snprintf(p->pwd, sizeof(p->pwd), "%s%s", p->ufrag, PWD_SUFFIX);
		snprintf(p->participant, sizeof(p->participant), "%s%d-%d",
			 p->role == ROLE_PUB ? "pub" : "sub", p->room, i);
		if (p->role == ROLE_PUB) {
			p->pub = p->room * o->publishers + i % per_room;
			g->pubs[p->pub] = p;
			/* A keyframe a second, as a browser sends after a loss or a PLI. */
			p->keyframe_every = o->saturate ? 1000 : (unsigned)o->pps;
		}
	}
	return 0;
}

int peer_register(struct cw_sfu *sfu, const struct opts *o, const struct peer *p,
		  const char *gen_fp)
{
	struct cw_sfu_media_map map;
	struct cw_sfu_peer_params par;
	char room[24];

	snprintf(room, sizeof(room), "bench-%d", p->room);
	/* A publisher's map keeps its payload types (they are the canonical ones already). */
	memset(&map, 0, sizeof(map));
	map.pt[PT_VIDEO].to = PT_VIDEO;
	map.pt[PT_VIDEO].kind = CW_SFU_KIND_VIDEO;
	map.pt[PT_AUDIO].to = PT_AUDIO;
	map.pt[PT_AUDIO].kind = CW_SFU_KIND_AUDIO;
	memset(&par, 0, sizeof(par));
	par.ufrag = p->ufrag;
	par.pwd = p->pwd;
	par.room = room;
	par.remote_fingerprint = gen_fp;
	par.role = CW_DTLS_SERVER; /* the generator is a=setup:active */
	par.profiles = CW_DTLS_PROFILE(o->profile);
	par.dir = p->role == ROLE_PUB ? CW_SFU_PUBLISH : CW_SFU_SUBSCRIBE;
	par.participant = p->participant;
	par.map = p->role == ROLE_PUB ? &map : NULL;
	return cw_sfu_add_peer_v2(sfu, p->worker, &par);
}

int peer_open(struct gen *g, struct peer *p, const struct cw_dtls_ctx *ctx)
{
	struct sockaddr_in local = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
	int size = p->role == ROLE_SUB ? RCVBUF : RCVBUF / 4, err;

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	/* Bursts of copies wait here while the generator is busy elsewhere; FORCE (as root)
	 * goes past rmem_max. */
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	local.sin_addr.s_addr = to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(g->sfu.ports[p->worker]);
	if (bind(p->fd, (struct sockaddr *)&local, sizeof(local)) != 0 ||
	    connect(p->fd, (struct sockaddr *)&to, sizeof(to)) != 0 ||
	    epoll_ctl(g->epfd, EPOLL_CTL_ADD, p->fd, &ev) != 0)
		return -errno;
	err = cw_dtls_new(&p->dtls, ctx, g->sfu.fingerprint, (int64_t)(now_ns() / 1000000));
	if (err)
		return err;
	if (p->role == ROLE_PUB) {
		p->ssrc[0] = 0x10000000u + (uint32_t)p->pub * 2;
		p->ssrc[1] = p->ssrc[0] + 1;
		p->seq[0] = (uint16_t)(p->pub * 7919u);
		p->seq[1] = (uint16_t)(p->pub * 104729u);
		p->keyframe_due = true;
	} else {
		p->cap_tracks = g->o->publishers * 2;
		p->tracks = calloc((size_t)p->cap_tracks, sizeof(*p->tracks));
		if (!p->tracks)
			return -ENOMEM;
	}
	return 0;
}

void peer_close(struct peer *p)
{
	cw_dtls_free(p->dtls);
	cw_srtp_free(p->srtp);
	free(p->tracks);
	if (p->fd >= 0)
		close(p->fd);
	p->dtls = NULL;
	p->srtp = NULL;
	p->tracks = NULL;
	p->fd = -1;
}

int peer_send_check(struct peer *p)
{
	struct cw_stun_check chk = {.priority = 1853824767,
				    .role = CW_STUN_ROLE_CONTROLLING,
				    .tie_breaker = 0x6377626e63680000ull + (uint64_t)p->index,
				    .use_candidate = true};
	char username[340];
	uint8_t req[512];
	size_t len;

	/* Against a server process its SDP's credentials (remote.c); in-process the SFU took
	 * ours. */
	const char *pwd = p->rufrag[0] ? p->rpwd : p->pwd;

	if (p->rufrag[0])
		snprintf(username, sizeof(username), "%s:%s", p->rufrag, p->ufrag);
	else
		snprintf(username, sizeof(username), "%s:cli", p->ufrag);
	chk.username = username;
	put32(p->tid, (uint32_t)p->index);
	put32(p->tid + 4, ++p->checks);
	put32(p->tid + 8, STAMP_MAGIC);
	if (cw_stun_build_binding_request(req, sizeof(req), &len, p->tid, &chk, pwd, strlen(pwd)) !=
	    0)
		return -EIO;
	return send(p->fd, req, len, 0) == (ssize_t)len ? 0 : -errno;
}

void peer_dtls_flush(struct peer *p)
{
	uint8_t buf[CW_DTLS_MTU_MAX];
	int n;

	while ((n = cw_dtls_output(p->dtls, buf, sizeof(buf))) > 0) {
		if (send(p->fd, buf, (size_t)n, 0) < 0)
			break; /* DTLS retransmits */
	}
}

/* Acts on the DTLS endpoint's state: keys SRTP once it is connected. */
static void settle(struct peer *p)
{
	struct cw_srtp_keys keys;
	enum cw_dtls_state st = cw_dtls_state(p->dtls);

	if (p->state != PEER_DTLS)
		return;
	if (st == CW_DTLS_FAILED || st == CW_DTLS_CLOSED) {
		fprintf(stderr, "sfu: peer %s: DTLS failed: %s\n", p->ufrag,
			cw_dtls_error_detail(p->dtls));
		p->state = PEER_FAILED;
		return;
	}
	if (st != CW_DTLS_CONNECTED)
		return;
	if (cw_dtls_srtp_keys(p->dtls, &keys) != 0 || cw_srtp_new(&p->srtp, &keys) != 0) {
		fprintf(stderr, "sfu: peer %s: no SRTP keys\n", p->ufrag);
		p->state = PEER_FAILED;
		return;
	}
	memset(&keys, 0, sizeof(keys));
	/* In-process the SFU must choose the profile asked for; a server process chooses. */
	if (p->profile && cw_srtp_profile(p->srtp) != p->profile) {
		fprintf(stderr, "sfu: peer %s: the SFU chose %s\n", p->ufrag,
			cw_srtp_profile_name(cw_srtp_profile(p->srtp)));
		p->state = PEER_FAILED;
		return;
	}
	p->state = PEER_UP;
	p->next_check_ns = now_ns() + CONSENT_EVERY_NS;
}

static void on_stun(struct peer *p, const uint8_t *buf, size_t len)
{
	struct cw_stun_msg m;

	p->stun_rx++;
	/* A server that checks too (libnice, even as ICE-lite, sends triggered checks and
	 * nominates only once they succeed) gets its answer, keyed with our password. */
	if (p->rufrag[0] && cw_stun_parse(&m, buf, len) == 0 && m.cls == CW_STUN_REQUEST &&
	    m.method == CW_STUN_BINDING) {
		struct sockaddr_storage mapped = {0};
		uint8_t out[128];
		size_t n;
		memcpy(&mapped, &p->remote, sizeof(p->remote)); /* where the request came from */
		if (cw_stun_build_binding_success(out, sizeof(out), &n, &m, &mapped, p->pwd,
						  strlen(p->pwd)) == 0)
			send(p->fd, out, n, 0);
		return;
	}
	if (p->state != PEER_ICE || cw_stun_parse(&m, buf, len) != 0 ||
	    memcmp(m.tid, p->tid, CW_STUN_TID_LEN) != 0 || m.cls != CW_STUN_SUCCESS)
		return; /* a 401 before the worker took the peer in: the check is sent again */
	/* The worker selected our address: our ClientHello may go. */
	p->state = PEER_DTLS;
	peer_dtls_flush(p);
}

static void on_dtls(struct peer *p, const uint8_t *buf, size_t len, uint64_t now)
{
	p->dtls_rx++;
	if (!p->dtls || p->state == PEER_ICE)
		return;
	cw_dtls_input(p->dtls, buf, len, (int64_t)(now / 1000000));
	peer_dtls_flush(p);
	settle(p);
}

/* RTCP: what the SFU sends publishers (keyframe requests, REMB) is decrypted and counted;
 * a subscriber's is only counted. */
static void on_rtcp(struct peer *p, uint8_t *buf, size_t len)
{
	struct cw_rtcp_iter it;
	struct cw_rtcp pkt;
	int n;

	p->rtcp_rx++;
	if (p->role != ROLE_PUB || !p->srtp)
		return;
	n = cw_srtp_unprotect_rtcp(p->srtp, buf, len);
	if (n < 0) {
		p->srtp_errors++;
		return;
	}
	cw_rtcp_iter_init(&it, buf, (size_t)n);
	while (cw_rtcp_next(&it, &pkt) == 1) {
		switch (cw_rtcp_kind(&pkt)) {
		case CW_RTCP_KIND_PLI:
			p->pli_rx++;
			p->keyframe_due = true;
			break;
		case CW_RTCP_KIND_FIR:
			p->fir_rx++;
			p->keyframe_due = true;
			break;
		case CW_RTCP_KIND_REMB:
			p->remb_rx++;
			break;
		default:
			break;
		}
	}
}

static struct track_rx *track_get(struct peer *p, uint32_t ssrc)
{
	int i = p->last_track;

	if (i < p->n_tracks && p->tracks[i].ssrc == ssrc)
		return &p->tracks[i];
	for (i = 0; i < p->n_tracks; i++) {
		if (p->tracks[i].ssrc == ssrc) {
			p->last_track = i;
			return &p->tracks[i];
		}
	}
	if (p->n_tracks == p->cap_tracks)
		return NULL;
	p->tracks[p->n_tracks].ssrc = ssrc;
	p->last_track = p->n_tracks;
	return &p->tracks[p->n_tracks++];
}

/* A subscriber's RTP: counted by SSRC and sequence number from the clear header; every
 * o->sample-th sequence number is decrypted (SRTP tolerates the skipped indexes) and its
 * send time read from the payload. */
static void on_rtp(struct gen *g, struct peer *p, uint8_t *buf, size_t len, uint64_t now)
{
	struct track_rx *t;
	struct cw_rtp rtp;
	uint16_t seq;
	uint64_t sent;
	uint32_t magic, pub;
	int n;

	p->rtp_rx++;
	if (p->role != ROLE_SUB)
		return; /* a publisher gets copies only while every peer is CW_SFU_BOTH */
	g->copies_received++;
	if (g->in_window)
		g->copies_in_window++;
	seq = (uint16_t)(buf[2] << 8 | buf[3]);
	t = track_get(p, get32(buf + 8));
	if (!t) {
		p->unknown_ssrc++;
	} else {
		int64_t ext = cw_rtp_seq_unwrap(&t->unwrap, seq);
		if (!t->packets || ext < t->lo)
			t->lo = ext;
		if (!t->packets || ext > t->hi)
			t->hi = ext;
		t->packets++;
	}
	if (seq % (unsigned)g->o->sample != 0 || !p->srtp)
		return;
	n = cw_srtp_unprotect(p->srtp, buf, len);
	if (n < 0) {
		p->srtp_errors++;
		return;
	}
	p->decrypted++;
	if (cw_rtp_parse(&rtp, buf, (size_t)n) != 0) {
		p->bad_payload++;
		return;
	}
	if (rtp.payload_len < STAMP_LEN + STAMP_MIN_PAYLOAD) {
		p->unstamped++; /* a recorded packet too small to carry a stamp */
		return;
	}
	buf += rtp.payload_off + rtp.payload_len - STAMP_LEN;
	memcpy(&magic, buf, 4);
	memcpy(&pub, buf + 4, 4);
	memcpy(&sent, buf + 8, 8);
	if (magic != STAMP_MAGIC || pub >= (uint32_t)g->n_pubs || g->pubs[pub]->room != p->room) {
		p->bad_payload++;
		return;
	}
	if (sent < g->t0 || (g->t1 && sent >= g->t1) || now < sent)
		g->samples_outside++;
	else
		samples_add(&g->latency, now - sent);
}

void peer_datagram(struct gen *g, struct peer *p, uint8_t *buf, size_t len, uint64_t now)
{
	uint8_t b = len ? buf[0] : 255;

	/* RFC 7983: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP. */
	if (b >= 128 && b <= 191 && len >= CW_RTP_HEADER_MIN) {
		if (cw_rtp_demux(buf, len) == CW_RTP_DEMUX_RTCP)
			on_rtcp(p, buf, len);
		else
			on_rtp(g, p, buf, len, now);
	} else if (b <= 3) {
		on_stun(p, buf, len);
	} else if (b >= 20 && b <= 63) {
		on_dtls(p, buf, len, now);
	} else {
		p->other_rx++;
	}
}

int peer_receive(struct gen *g, struct peer *p)
{
	int n = recvmmsg(p->fd, g->rx_msgs, BATCH, MSG_DONTWAIT, NULL);
	uint64_t now;

	if (n <= 0)
		return 0;
	/* One clock reading per batch: a packet's arrival is when the batch was read. */
	now = now_ns();
	for (int i = 0; i < n; i++) {
		if (g->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			p->other_rx++;
		else
			peer_datagram(g, p, g->rx_buf[i], g->rx_msgs[i].msg_len, now);
	}
	return n;
}

int peers_connect(struct gen *g)
{
	uint64_t deadline = now_ns() + SETUP_DEADLINE_S * 1000000000ull;
	int up = 0, admitted = 0;

	while (up < g->n_peers) {
		uint64_t now = now_ns();
		int64_t ms = (int64_t)(now / 1000000);
		int busy = 0;

		if (now > deadline) {
			fprintf(stderr, "sfu: %d of %d peers connected within %d s\n", up,
				g->n_peers, SETUP_DEADLINE_S);
			return -1;
		}
		up = 0;
		for (int i = 0; i < admitted; i++) {
			struct peer *p = &g->peers[i];
			switch (p->state) {
			case PEER_ICE:
				busy++;
				if (now >= p->next_check_ns) {
					if (peer_send_check(p) != 0)
						return -1;
					p->next_check_ns = now + CHECK_RETRY_NS;
				}
				break;
			case PEER_DTLS:
				busy++;
				if (cw_dtls_next_timeout(p->dtls, ms) <= ms) {
					cw_dtls_handle_timeout(p->dtls, ms);
					peer_dtls_flush(p);
					settle(p);
				}
				break;
			case PEER_UP:
				up++;
				break;
			case PEER_FAILED:
				return -1;
			}
		}
		/* A few handshakes at a time: the worker's retransmission timers then never
		 * fire only because it is busy with the others' key exchanges. */
		while (busy < HANDSHAKES_AT_ONCE && admitted < g->n_peers) {
			g->peers[admitted++].next_check_ns = now;
			busy++;
		}
		gen_consent(g, now);
		gen_poll(g, busy ? 2000000 : 0);
	}
	return 0;
}

int peer_build_rtp(struct gen *g, struct peer *p, int kind, uint8_t *buf, size_t cap)
{
	/* A VP8 keyframe's first bytes (RFC 7741 descriptor: S=1, PID 0; a 640x480
	 * keyframe header) or an interframe's; the rest is filler, the stamp last. */
	static const uint8_t key[VP8_HDR_LEN] = {0x10, 0x10, 0x02, 0x00, 0x9d, 0x01,
						 0x2a, 0x80, 0x02, 0xe0, 0x01};
	static const uint8_t inter[VP8_HDR_LEN] = {0x10, 0x11, 0x02, 0x00};
	size_t len = kind ? AUDIO_SIZE : (size_t)g->o->size;
	uint16_t seq = p->seq[kind]++;
	uint32_t pub = (uint32_t)p->pub, magic = STAMP_MAGIC;
	uint64_t now = now_ns();
	/* RTP clocks: 90 kHz video, 48 kHz audio. */
	uint32_t ts = kind ? (uint32_t)(now / 20833) : (uint32_t)(now / 11111);
	uint8_t *payload = buf + CW_RTP_HEADER_MIN;

	buf[0] = 0x80;
	buf[1] = (uint8_t)(kind ? PT_AUDIO : 0x80 | PT_VIDEO); /* a video packet ends a frame */
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	put32(buf + 4, ts);
	put32(buf + 8, p->ssrc[kind]);
	memset(payload, 0x5a, len - CW_RTP_HEADER_MIN);
	if (!kind) {
		bool keyframe = p->keyframe_due || seq % p->keyframe_every == 0;
		memcpy(payload, keyframe ? key : inter, VP8_HDR_LEN);
		p->keyframe_due = false;
	}
	memcpy(buf + len - STAMP_LEN, &magic, 4);
	memcpy(buf + len - STAMP_LEN + 4, &pub, 4);
	memcpy(buf + len - STAMP_LEN + 8, &now, 8);
	return cw_srtp_protect(p->srtp, buf, len, cap);
}

uint64_t peer_seq_gaps(const struct peer *p)
{
	uint64_t gaps = 0;

	for (int i = 0; i < p->n_tracks; i++) {
		const struct track_rx *t = &p->tracks[i];
		if (t->packets && (uint64_t)(t->hi - t->lo + 1) > t->packets)
			gaps += (uint64_t)(t->hi - t->lo + 1) - t->packets;
	}
	return gaps;
}

int peer_build_media(struct gen *g, struct peer *p, const struct media_pkt *mp, uint8_t *buf,
		     size_t cap)
{
	const struct media *m = g->media;
	int kind = mp->kind ? 1 : 0;
	uint16_t seq = p->seq[kind]++;
	uint32_t pub = (uint32_t)p->pub, magic = STAMP_MAGIC;
	uint32_t per_loop = kind ? m->audio_ts_per_loop : m->video_ts_per_loop;
	uint32_t ts = p->ts_base[kind] + (uint32_t)p->loops * per_loop + mp->ts;
	size_t hlen = CW_RTP_HEADER_MIN, len;
	uint64_t now = now_ns();

	if (hlen + 8 + mp->len + CW_SRTP_TRAILER_MAX > cap)
		return -ENOSPC;
	buf[0] = 0x80;
	buf[1] = (uint8_t)((mp->marker ? 0x80 : 0) | (kind ? PT_AUDIO : PT_VIDEO));
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	put32(buf + 4, ts);
	put32(buf + 8, p->ssrc[kind]);
	if (kind) {
		/* RFC 6464's level in a one-byte header extension (RFC 8285), id AUDIO_LEVEL_ID,
		 * as browsers send it: the SFUs pick the dominant speaker from it. */
		static const uint8_t ext[4] = {0xbe, 0xde, 0x00, 0x01};
		buf[0] |= 0x10;
		memcpy(buf + hlen, ext, 4);
		buf[hlen + 4] = (uint8_t)(AUDIO_LEVEL_ID << 4);
		buf[hlen + 5] = mp->audio_level & 0x7f;
		buf[hlen + 6] = buf[hlen + 7] = 0;
		hlen += 8;
	}
	memcpy(buf + hlen, mp->payload, mp->len);
	len = hlen + mp->len;
	/* The stamp replaces the payload's last bytes: the copies' latency and origin. */
	if (mp->len >= STAMP_LEN + STAMP_MIN_PAYLOAD) {
		memcpy(buf + len - STAMP_LEN, &magic, 4);
		memcpy(buf + len - STAMP_LEN + 4, &pub, 4);
		memcpy(buf + len - STAMP_LEN + 8, &now, 8);
	}
	return cw_srtp_protect(p->srtp, buf, len, cap);
}
