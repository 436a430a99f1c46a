/* subscribe: the m-sections of each participant's subscribe connection and the offers
 * the server makes on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/internal.h"

void cw_sess_hosts(const struct cw_sessions *s, int worker, struct cw_sdp_host *hosts)
{
	for (unsigned i = 0; i < s->nips; i++) {
		hosts[i].ip = s->ips[i];
		hosts[i].port = cw_sfu_port(s->sfu, worker);
	}
}

/* ---- the subscribe side ---- */

static bool track_live(const struct session *sess, const struct slot *sl)
{
	const struct part *owner;

	if (!sl->owner[0] || !(owner = cw_sess_find_part(sess, sl->owner)))
		return false;
	for (unsigned i = 0; i < owner->ntracks; i++) {
		if (strcmp(owner->tracks[i].mid, sl->owner_mid) == 0 &&
		    owner->tracks[i].ssrc == sl->t.ssrc)
			return true;
	}
	return false;
}

static bool has_slot(const struct part *p, const struct part *owner, const struct cw_neg_track *t)
{
	for (unsigned i = 0; i < p->nslots; i++) {
		const struct slot *sl = &p->slots[i];
		if (strcmp(sl->owner, owner->id) == 0 && strcmp(sl->owner_mid, t->mid) == 0 &&
		    sl->t.ssrc == t->ssrc)
			return true;
	}
	return false;
}

/* Brings p's subscribe slots in line with the others' tracks; marks p dirty on change. */
void cw_sess_reconcile(struct part *p)
{
	struct session *sess = p->sess;

	for (unsigned i = 0; i < p->nslots; i++) {
		struct slot *sl = &p->slots[i];
		if (sl->owner[0] && !track_live(sess, sl)) {
			sl->owner[0] = '\0';
			p->dirty = true;
		}
	}
	for (size_t k = 0; k < sess->n; k++) {
		const struct part *q = sess->parts[k];
		if (q == p)
			continue;
		for (unsigned j = 0; j < q->ntracks; j++) {
			const struct cw_neg_track *t = &q->tracks[j];
			struct slot *sl = NULL;
			if (has_slot(p, q, t))
				continue;
			for (unsigned i = 0; i < p->nslots && !sl; i++) {
				if (!p->slots[i].owner[0] && p->slots[i].t.kind == t->kind)
					sl = &p->slots[i];
			}
			if (!sl && p->nslots < SLOTS_MAX) {
				sl = &p->slots[p->nslots++];
				memset(sl, 0, sizeof(*sl));
				sl->t.kind = t->kind;
				snprintf(sl->t.mid, sizeof(sl->t.mid), "%u", p->next_mid++);
			}
			if (!sl)
				continue; /* full: the track is not offered to p */
			cw_strlcpy(sl->owner, q->id, sizeof(sl->owner));
			cw_strlcpy(sl->owner_mid, t->mid, sizeof(sl->owner_mid));
			sl->t.ssrc = t->ssrc;
			cw_strlcpy(sl->t.stream_id, q->id, sizeof(sl->t.stream_id));
			snprintf(sl->t.track_id, sizeof(sl->t.track_id), "%s-%s", q->id, t->mid);
			p->dirty = true;
		}
	}
}

/* The next subscribe offer of p as JSON {version, sdp}, or NULL (nothing to offer, one is
 * outstanding, or it could not be made). */
json_t *cw_sess_next_offer(struct part *p)
{
	struct cw_sessions *s = p->sess->svc;
	struct cw_sdp_host hosts[IPS_MAX];
	struct cw_neg_sub_track t[SLOTS_MAX];
	struct cw_neg_local l = {.ufrag = p->sub_ufrag,
				 .pwd = p->sub_pwd,
				 .fingerprint = cw_sfu_fingerprint(s->sfu),
				 .hosts = hosts,
				 .nhosts = s->nips,
				 .session_id = p->sdp_id + 1};
	char why[200], *sdp = NULL;
	json_t *j;

	if (!p->dirty || p->outstanding || !p->nslots)
		return NULL;
	cw_sess_hosts(s, p->sess->worker, hosts);
	for (unsigned i = 0; i < p->nslots; i++) {
		t[i] = p->slots[i].t;
		/* A gone track's place: kept, inactive (stopped would drop it from BUNDLE). */
		t[i].inactive = !p->slots[i].owner[0];
	}
	/* The client starts its checks as soon as it has answered, before the answer
	 * reaches us: the subscribe peer answers them from the first offer on, and takes on
	 * DTLS when the answer comes (the worker keeps its address). */
	if (!p->offer_version &&
	    cw_sfu_add_peer(s->sfu, p->sess->worker, p->sub_ufrag, p->sub_pwd) != 0)
		return NULL;
	l.version = ++p->sub_version;
	if (cw_neg_subscribe_offer(&l, t, p->nslots, &sdp, why, sizeof(why)) != 0) {
		cw_error("session.offer", "session=%s participant=%s err=\"%s\"", p->sess->id,
			 p->id, why);
		return NULL;
	}
	j = json_pack("{s:i,s:s}", "version", ++p->offer_version, "sdp", sdp);
	free(sdp);
	p->outstanding = true;
	p->dirty = false;
	return j;
}

void cw_sess_offer_if_needed(struct part *p, int64_t now)
{
	json_t *offer = cw_sess_next_offer(p);

	if (!offer)
		return;
	cw_sess_emit(p->sess->svc, p->sess, p, "session.offer", offer, now);
	json_decref(offer);
}
