/* negotiate: publish answers, subscribe offers and answers, in the words of rtc/sdp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session/negotiate.h"
#include "util/util.h"

static int fail(char *why, size_t size, int err, const char *what, const struct cw_sdp_err *e)
{
	if (e && e->line)
		snprintf(why, size, "%s: line %u: %s", what, e->line, e->msg);
	else if (e && e->msg[0])
		snprintf(why, size, "%s: %s", what, e->msg);
	else
		snprintf(why, size, "%s", what);
	return err;
}

/* "sha-256 AB:CD:…" into 32 bytes. */
static int parse_fingerprint(const char *text, uint8_t out[32])
{
	const char *p;

	if (strncmp(text, "sha-256 ", 8) != 0)
		return -EINVAL;
	p = text + 8;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(p, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
		p += 2;
		if (i < 31 && *p++ != ':')
			return -EINVAL;
	}
	return 0;
}

static void format_fingerprint(const struct cw_sdp_fingerprint *f,
			       char out[CW_DTLS_FINGERPRINT_MAX])
{
	size_t n = (size_t)snprintf(out, CW_DTLS_FINGERPRINT_MAX, "%s ", f->alg);

	for (unsigned i = 0; i < f->len && n + 4 < CW_DTLS_FINGERPRINT_MAX; i++)
		n += (size_t)snprintf(out + n, CW_DTLS_FINGERPRINT_MAX - n, i ? ":%02X" : "%02X",
				      f->hash[i]);
}

static int local_of(const struct cw_neg_local *l, const struct cw_sdp_caps *caps,
		    struct cw_sdp_local *out)
{
	memset(out, 0, sizeof(*out));
	out->ufrag = l->ufrag;
	out->pwd = l->pwd;
	out->hosts = l->hosts;
	out->nhosts = l->nhosts;
	out->session_id = l->session_id;
	out->version = l->version;
	out->caps = caps;
	return parse_fingerprint(l->fingerprint, out->fingerprint);
}

/* The SSRC a client sends media with in m: the first of its FID group (the second is
 * RTX), else the first announced. 0 when none is. */
static uint32_t media_ssrc(const struct cw_sdp_media *m)
{
	for (unsigned i = 0; i < m->ngroups; i++) {
		if (strcmp(m->groups[i].semantics, "FID") == 0 && m->groups[i].nssrcs)
			return m->groups[i].ssrcs[0];
	}
	return m->nssrcs ? m->ssrcs[0].ssrc : 0;
}

/* The payload types subscribers see (the numbers of cw_sdp_default_codecs). */
static void map_codec(struct cw_sfu_media_map *map, const struct cw_sdp_codec *c)
{
	if (!c->name || c->pt >= 128)
		return;
	if (strcasecmp(c->name, "opus") == 0) {
		map->pt[c->pt].to = 111;
		map->pt[c->pt].kind = CW_SFU_KIND_AUDIO;
	} else if (strcasecmp(c->name, "VP8") == 0) {
		map->pt[c->pt].to = 96;
		map->pt[c->pt].kind = CW_SFU_KIND_VIDEO;
	} else if (strcasecmp(c->name, "H264") == 0) {
		map->pt[c->pt].to = 102;
		map->pt[c->pt].kind = CW_SFU_KIND_VIDEO;
	}
}

int cw_neg_publish(const char *offer_text, const struct cw_neg_local *local, bool audio_only,
		   struct cw_neg_publish *out, char *why, size_t why_size)
{
	const struct cw_sdp_caps caps = {
		.codecs = audio_only ? CW_SDP_CODEC_OPUS
				     : CW_SDP_CODEC_OPUS | CW_SDP_CODEC_VP8 | CW_SDP_CODEC_H264,
		.fb = CW_SDP_FB_NACK | CW_SDP_FB_PLI | CW_SDP_FB_FIR | CW_SDP_FB_REMB,
		.exts = CW_SDP_EXT_AUDIO_LEVEL,
	};
	struct cw_sdp *offer = NULL, *answer = NULL;
	struct cw_sdp_local sl;
	struct cw_sdp_err e = {0};
	bool have_fp = false;
	size_t len;
	int err;

	memset(out, 0, sizeof(*out));
	if (local_of(local, &caps, &sl) != 0)
		return fail(why, why_size, -EINVAL, "server fingerprint", NULL);
	err = cw_sdp_parse(&offer, offer_text, strlen(offer_text), &e);
	if (err)
		return fail(why, why_size, err, "offer", &e);
	err = cw_sdp_answer(&answer, offer, &sl, NULL, 0, &e);
	if (err) {
		cw_sdp_free(offer);
		return fail(why, why_size, err, "offer", &e);
	}
	for (unsigned i = 0; i < answer->nmedia; i++) {
		const struct cw_sdp_media *am = &answer->media[i], *om = &offer->media[i];
		struct cw_sdp_transport t;

		if (!am->port)
			continue;
		/* We never send on a publish connection. */
		answer->media[i].dir = om->dir == CW_SDP_SENDRECV || om->dir == CW_SDP_SENDONLY
					       ? CW_SDP_RECVONLY
					       : CW_SDP_INACTIVE;
		if (!have_fp) {
			cw_sdp_media_transport(offer, i, &t);
			if (t.nfingerprints == 0 || t.setup == CW_SDP_SETUP_PASSIVE) {
				err = fail(why, why_size, -EINVAL,
					   t.nfingerprints ? "offer: a=setup:passive: the server "
							     "is ICE-lite and DTLS passive"
							   : "offer: no a=fingerprint",
					   NULL);
				goto out;
			}
			format_fingerprint(&t.fingerprints[0], out->remote_fingerprint);
			have_fp = true;
		}
		for (unsigned k = 0; k < am->ncodecs; k++)
			map_codec(&out->map, &am->codecs[k]);
		for (unsigned k = 0; k < am->nextmaps; k++) {
			const struct cw_sdp_extmap *x = &am->extmaps[k];
			if (x->id >= 1 && x->id <= 14 &&
			    strcmp(x->uri, CW_SDP_URI_AUDIO_LEVEL) == 0)
				out->map.ext[x->id - 1] = CW_SFU_EXT_AUDIO_LEVEL;
		}
		if ((om->dir == CW_SDP_SENDONLY || om->dir == CW_SDP_SENDRECV) && media_ssrc(om) &&
		    out->ntracks < CW_SFU_TRACKS_MAX && om->mid) {
			struct cw_neg_track *tr = &out->tracks[out->ntracks++];
			tr->kind = om->kind;
			tr->ssrc = media_ssrc(om);
			cw_strlcpy(tr->mid, om->mid, sizeof(tr->mid));
		}
	}
	if (!have_fp) {
		err = fail(why, why_size, -ENOTSUP, "offer: no m-section was accepted", NULL);
		goto out;
	}
	err = cw_sdp_write_alloc(answer, &out->answer, &len);
	if (err)
		fail(why, why_size, err, "out of memory", NULL);
out:
	cw_sdp_free(offer);
	cw_sdp_free(answer);
	return err;
}

int cw_neg_subscribe_offer(const struct cw_neg_local *local, const struct cw_neg_sub_track *t,
			   unsigned n, char **text, char *why, size_t why_size)
{
	const struct cw_sdp_caps caps = {
		.codecs = CW_SDP_CODEC_OPUS | CW_SDP_CODEC_VP8 | CW_SDP_CODEC_H264,
		.fb = CW_SDP_FB_NACK | CW_SDP_FB_PLI | CW_SDP_FB_FIR,
		.exts = CW_SDP_EXT_AUDIO_LEVEL,
	};
	struct cw_sdp_track *tracks;
	struct cw_sdp_local sl;
	struct cw_sdp_err e = {0};
	struct cw_sdp *offer = NULL;
	size_t len;
	int err;

	*text = NULL;
	if (local_of(local, &caps, &sl) != 0)
		return fail(why, why_size, -EINVAL, "server fingerprint", NULL);
	tracks = calloc(n ? n : 1, sizeof(*tracks));
	if (!tracks)
		return fail(why, why_size, -ENOMEM, "out of memory", NULL);
	for (unsigned i = 0; i < n; i++) {
		tracks[i].kind = t[i].kind;
		tracks[i].mid = t[i].mid;
		tracks[i].ssrc = t[i].ssrc;
		tracks[i].stream_id = t[i].stream_id;
		tracks[i].track_id = t[i].track_id;
		tracks[i].cname = t[i].stream_id;
		tracks[i].stopped = t[i].stopped;
		tracks[i].inactive = t[i].inactive;
	}
	err = cw_sdp_offer(&offer, &sl, tracks, n, &e);
	free(tracks);
	if (err)
		return fail(why, why_size, err, "subscribe offer", &e);
	err = cw_sdp_write_alloc(offer, text, &len);
	cw_sdp_free(offer);
	return err ? fail(why, why_size, err, "out of memory", NULL) : 0;
}

int cw_neg_subscribe_answer(const char *text, char fingerprint[CW_DTLS_FINGERPRINT_MAX],
			    enum cw_dtls_role *role, char *why, size_t why_size)
{
	struct cw_sdp *answer = NULL;
	struct cw_sdp_err e = {0};
	int err;

	err = cw_sdp_parse(&answer, text, strlen(text), &e);
	if (err)
		return fail(why, why_size, err, "sdp", &e);
	err = fail(why, why_size, -EINVAL, "sdp: no accepted m-section with a=fingerprint", NULL);
	for (unsigned i = 0; i < answer->nmedia; i++) {
		struct cw_sdp_transport t;

		if (!answer->media[i].port)
			continue;
		cw_sdp_media_transport(answer, i, &t);
		if (!t.nfingerprints)
			break;
		if (t.setup != CW_SDP_SETUP_ACTIVE && t.setup != CW_SDP_SETUP_PASSIVE) {
			err = fail(why, why_size, -EINVAL,
				   "sdp: an answer's a=setup must be active or passive", NULL);
			break;
		}
		format_fingerprint(&t.fingerprints[0], fingerprint);
		*role = t.setup == CW_SDP_SETUP_ACTIVE ? CW_DTLS_SERVER : CW_DTLS_CLIENT;
		err = 0;
		break;
	}
	cw_sdp_free(answer);
	return err;
}
