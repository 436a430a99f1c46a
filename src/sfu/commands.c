/* commands: the control plane's side of the media plane: peers added, changed and removed
 * through the workers' command queues, the certificate's fingerprint and the summed
 * counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfu/worker.h"
#include "util/util.h"

void cw_sfu_cmd_free(struct cw_sfu_cmd *cmd)
{
	if (!cmd)
		return;
	cw_sfu_peer_free(cmd->peer);
	cw_sfu_caches_free(cmd->caches);
	free(cmd);
}

static int submit(struct cw_sfu *sfu, int worker, struct cw_sfu_cmd *cmd)
{
	struct cw_sfu_worker *w;
	uint64_t one = 1;

	if (worker < 0 || worker >= sfu->n_workers) {
		cw_sfu_cmd_free(cmd);
		return -EINVAL;
	}
	w = sfu->workers[worker];
	pthread_mutex_lock(&w->lock);
	*w->tail = cmd;
	w->tail = &cmd->next;
	pthread_mutex_unlock(&w->lock);
	if (write(w->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static bool valid_cred(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	/* ice-char (RFC 8839): ALPHA / DIGIT / "+" / "/" */
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return false;
	}
	return true;
}

/* The context index of a profile set, or -1 for a set we do not offer. */
static int profile_index(unsigned profiles)
{
	if (profiles == 0 || profiles == CW_DTLS_PROFILES_ALL)
		return CW_SFU_PROF_ALL;
	if (profiles == CW_DTLS_PROFILE(CW_SRTP_AEAD_AES_128_GCM))
		return CW_SFU_PROF_GCM;
	if (profiles == CW_DTLS_PROFILE(CW_SRTP_AES128_CM_SHA1_80))
		return CW_SFU_PROF_CM;
	return -1;
}

/* A peer with its DTLS endpoint, made here so that the caller hears of a bad fingerprint. */
static int peer_new(struct cw_sfu_peer **pp, const struct cw_sfu *sfu,
		    const struct cw_sfu_peer_params *par)
{
	struct cw_sfu_peer *p;
	int prof = profile_index(par->profiles), err = 0;
	size_t room_len = par->room ? strlen(par->room) : 0;
	size_t part_len = par->participant ? strlen(par->participant) : 0;
	bool publishes = par->dir == CW_SFU_BOTH || par->dir == CW_SFU_PUBLISH;

	*pp = NULL;
	if (!valid_cred(par->ufrag, 4, CW_SFU_UFRAG_MAX) ||
	    !valid_cred(par->pwd, 22, CW_SFU_PWD_MAX))
		return -EINVAL;
	if (par->room &&
	    (room_len == 0 || room_len > CW_SFU_ROOM_MAX || prof < 0 || !par->remote_fingerprint ||
	     (par->role != CW_DTLS_SERVER && par->role != CW_DTLS_CLIENT)))
		return -EINVAL;
	/* A publisher's packets are rewritten for subscribers: it needs a map to say how. */
	if (par->room && ((unsigned)par->dir > CW_SFU_SUBSCRIBE ||
			  (par->participant && (part_len == 0 || part_len > CW_SFU_PART_MAX)) ||
			  (par->dir == CW_SFU_PUBLISH && !par->map) ||
			  (par->map && !cw_sfu_map_valid(par->map))))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cw_strlcpy(p->ufrag, par->ufrag, sizeof(p->ufrag));
	cw_strlcpy(p->pwd, par->pwd, sizeof(p->pwd));
	p->pwd_len = strlen(par->pwd);
	cw_strlcpy(p->participant, par->participant ? par->participant : par->ufrag,
		   sizeof(p->participant));
	if (par->room) {
		cw_strlcpy(p->room_id, par->room, sizeof(p->room_id));
		p->dir = par->dir;
		/* Tracks and caches now, so that the packet path never allocates. */
		if (publishes)
			err = cw_sfu_pub_new(&p->pub, par->map);
		if (!err)
			err = cw_dtls_new(&p->dtls, sfu->ctx[par->role][prof],
					  par->remote_fingerprint, cw_sfu_now_ms());
	}
	if (err) {
		cw_sfu_peer_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

int cw_sfu_add_peer_v2(struct cw_sfu *sfu, int worker, const struct cw_sfu_peer_params *par)
{
	struct cw_sfu_cmd *cmd;
	struct cw_sfu_peer *p;
	int err;

	if (worker < 0 || worker >= sfu->n_workers)
		return -EINVAL;
	err = peer_new(&p, sfu, par);
	if (err)
		return err;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd) {
		cw_sfu_peer_free(p);
		return -ENOMEM;
	}
	cmd->kind = CW_SFU_CMD_ADD_PEER;
	cmd->peer = p;
	return submit(sfu, worker, cmd);
}

int cw_sfu_add_peer(struct cw_sfu *sfu, int worker, const char *ufrag, const char *pwd)
{
	const struct cw_sfu_peer_params par = {.ufrag = ufrag, .pwd = pwd};

	return cw_sfu_add_peer_v2(sfu, worker, &par);
}

int cw_sfu_remove_peer(struct cw_sfu *sfu, int worker, const char *ufrag)
{
	struct cw_sfu_cmd *cmd;

	if (!valid_cred(ufrag, 4, CW_SFU_UFRAG_MAX))
		return -EINVAL;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	cmd->kind = CW_SFU_CMD_DEL_PEER;
	cw_strlcpy(cmd->ufrag, ufrag, sizeof(cmd->ufrag));
	return submit(sfu, worker, cmd);
}

int cw_sfu_set_map(struct cw_sfu *sfu, int worker, const char *ufrag,
		   const struct cw_sfu_media_map *map)
{
	struct cw_sfu_cmd *cmd;

	if (!valid_cred(ufrag, 4, CW_SFU_UFRAG_MAX) || !map || !cw_sfu_map_valid(map))
		return -EINVAL;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	cmd->kind = CW_SFU_CMD_SET_MAP;
	cw_strlcpy(cmd->ufrag, ufrag, sizeof(cmd->ufrag));
	cmd->map = *map;
	/* The worker does not allocate: caches come along in case the publisher has none
	 * yet (it frees them otherwise). */
	if (cw_sfu_caches_new(cmd->caches, map) != 0) {
		free(cmd);
		return -ENOMEM;
	}
	return submit(sfu, worker, cmd);
}

int cw_sfu_set_muted(struct cw_sfu *sfu, int worker, const char *ufrag, int kind, bool muted)
{
	struct cw_sfu_cmd *cmd;

	if (!valid_cred(ufrag, 4, CW_SFU_UFRAG_MAX) ||
	    (kind != CW_SFU_KIND_AUDIO && kind != CW_SFU_KIND_VIDEO))
		return -EINVAL;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	cmd->kind = CW_SFU_CMD_SET_MUTED;
	cw_strlcpy(cmd->ufrag, ufrag, sizeof(cmd->ufrag));
	cmd->media_kind = kind;
	cmd->muted = muted;
	return submit(sfu, worker, cmd);
}

const char *cw_sfu_fingerprint(const struct cw_sfu *sfu)
{
	return cw_dtls_cert_fingerprint(sfu->cert);
}

void cw_sfu_get_stats(const struct cw_sfu *sfu, struct cw_sfu_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < sfu->n_workers; i++) {
		const struct cw_sfu_counters *c = &sfu->workers[i]->n;
		out->rx_packets += atomic_load(&c->rx_packets);
		out->rx_bytes += atomic_load(&c->rx_bytes);
		out->tx_packets += atomic_load(&c->tx_packets);
		out->tx_bytes += atomic_load(&c->tx_bytes);
		out->stun_checks += atomic_load(&c->stun_checks);
		out->stun_unauthorized += atomic_load(&c->stun_unauthorized);
		out->stun_bad += atomic_load(&c->stun_bad);
		out->dropped_unknown += atomic_load(&c->dropped_unknown);
		out->dropped_unverified += atomic_load(&c->dropped_unverified);
		out->dropped_not_ready += atomic_load(&c->dropped_not_ready);
		out->dtls_connected += atomic_load(&c->dtls_connected);
		out->dtls_failed += atomic_load(&c->dtls_failed);
		out->srtp_auth_failed += atomic_load(&c->srtp_auth_failed);
		out->srtp_replayed += atomic_load(&c->srtp_replayed);
		out->rtp_forwarded += atomic_load(&c->rtp_forwarded);
		out->rtcp_forwarded += atomic_load(&c->rtcp_forwarded);
		out->consent_expired += atomic_load(&c->consent_expired);
		out->dropped_muted += atomic_load(&c->dropped_muted);
		out->pli_rate_limited += atomic_load(&c->pli_rate_limited);
		out->nack_received += atomic_load(&c->nack_received);
		out->rtp_retransmitted += atomic_load(&c->rtp_retransmitted);
		out->remb_sent += atomic_load(&c->remb_sent);
	}
}
