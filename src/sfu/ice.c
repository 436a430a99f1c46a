/* ice: the ICE-lite side of a worker (RFC 8445 §2.5): answer connectivity checks for our
 * ufrags, authenticated with our passwords, and remember the address a peer's nominated
 * check came from. No check is ever sent: the full agent is the peer. */
#include <string.h>

#include "rtc/stun.h"
#include "sfu/worker.h"

static void count(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void reply_error(struct cw_sfu_worker *w, const struct cw_stun_msg *req, int code,
			const struct sockaddr_storage *to)
{
	uint8_t out[128];
	size_t len;

	if (cw_stun_build_binding_error(out, sizeof(out), &len, req, code, NULL, 0) == 0)
		cw_sfu_tx_push(w, out, len, to);
}

/* The local ufrag of a check's USERNAME "<ours>:<theirs>". */
static size_t local_ufrag(const struct cw_stun_msg *m)
{
	const char *colon = memchr(m->username, ':', m->username_len);

	return colon ? (size_t)(colon - m->username) : 0;
}

void cw_sfu_ice_input(struct cw_sfu_worker *w, const uint8_t *buf, size_t len,
		      const struct sockaddr_storage *from, int64_t now_ms)
{
	struct cw_stun_msg m;
	struct cw_sfu_peer *peer;
	uint8_t out[128];
	size_t n, ulen;
	int rc = cw_stun_parse(&m, buf, len);

	/* Only requests are answered; responses and indications are not ICE-lite's. */
	if ((rc != 0 && rc != CW_STUN_ERR_UNKNOWN_ATTR) || m.cls != CW_STUN_REQUEST ||
	    m.method != CW_STUN_BINDING) {
		count(&w->n.stun_bad);
		return;
	}
	/* RFC 8445 §7.3: a check without USERNAME, integrity or fingerprint is a 400. */
	if (!m.username || !m.integrity_off || !m.has_fingerprint) {
		count(&w->n.stun_bad);
		reply_error(w, &m, CW_STUN_CODE_BAD_REQUEST, from);
		return;
	}
	ulen = local_ufrag(&m);
	peer = cw_sfu_peers_find(&w->peers, m.username, ulen);
	if (!peer || cw_stun_check_integrity(&m, peer->pwd, peer->pwd_len) != 0) {
		count(&w->n.stun_unauthorized);
		reply_error(w, &m, CW_STUN_CODE_UNAUTHORIZED, from);
		return;
	}
	if (rc == CW_STUN_ERR_UNKNOWN_ATTR) {
		count(&w->n.stun_bad);
		if (cw_stun_build_binding_error(out, sizeof(out), &n, &m,
						CW_STUN_CODE_UNKNOWN_ATTRIBUTE, peer->pwd,
						peer->pwd_len) == 0)
			cw_sfu_tx_push(w, out, n, from);
		return;
	}
	/* ICE-lite is always controlled: a controlled peer is in the wrong role (§7.3.1.1);
	 * it switches on a 487. */
	if (m.role == CW_STUN_ROLE_CONTROLLED) {
		count(&w->n.stun_bad);
		if (cw_stun_build_binding_error(out, sizeof(out), &n, &m,
						CW_STUN_CODE_ROLE_CONFLICT, peer->pwd,
						peer->pwd_len) == 0)
			cw_sfu_tx_push(w, out, n, from);
		return;
	}
	if (cw_stun_build_binding_success(out, sizeof(out), &n, &m, from, peer->pwd,
					  peer->pwd_len) != 0)
		return;
	count(&w->n.stun_checks);
	cw_sfu_tx_push(w, out, n, from);
	/* A valid check is consent to receive (RFC 7675); the nominated one, or the first
	 * when nothing was nominated yet, picks where media goes. */
	peer->last_check_ms = now_ms;
	if (m.use_candidate || !peer->selected)
		cw_sfu_peer_select(w, peer, from);
}
