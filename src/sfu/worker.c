/* worker: a media worker's thread: epoll over its UDP socket and its command eventfd,
 * datagrams read and written in batches (recvmmsg / sendmmsg), demultiplexed by their
 * first byte (RFC 7983); DTLS timers, consent checks, speaker and REMB scans between
 * batches, and the turn's events published before it sleeps. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rtc/stun.h"
#include "sfu/worker.h"
#include "util/util.h"

#define SOCKET_BUFFER (4 << 20)
/* Batches read per wake-up before commands and sends get their turn. */
#define RX_ROUNDS 8

void cw_sfu_tx_flush(struct cw_sfu_worker *w)
{
	struct cw_sfu_tx *tx = &w->tx;
	unsigned sent = 0;

	while (sent < tx->n) {
		int n = sendmmsg(w->fd, tx->msgs + sent, tx->n - sent, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* A full socket buffer or an unreachable peer: media is loss-tolerant,
			 * the batch is dropped rather than the loop stalled. */
			break;
		}
		for (int i = 0; i < n; i++)
			cw_sfu_count(&w->n.tx_bytes, tx->msgs[sent + (unsigned)i].msg_len);
		cw_sfu_count(&w->n.tx_packets, (uint64_t)n);
		sent += (unsigned)n;
	}
	tx->n = 0;
}

uint8_t *cw_sfu_tx_slot(struct cw_sfu_worker *w)
{
	if (w->tx.n == CW_SFU_BATCH)
		cw_sfu_tx_flush(w);
	return w->tx.buf[w->tx.n];
}

void cw_sfu_tx_push(struct cw_sfu_worker *w, const uint8_t *data, size_t len,
		    const struct sockaddr_storage *to)
{
	if (len > CW_SFU_DGRAM_MAX)
		return;
	memcpy(cw_sfu_tx_slot(w), data, len);
	cw_sfu_tx_commit(w, len, to);
}

void cw_sfu_tx_commit(struct cw_sfu_worker *w, size_t len, const struct sockaddr_storage *to)
{
	struct cw_sfu_tx *tx = &w->tx;
	unsigned i = tx->n++;

	tx->addr[i] = *to;
	tx->iov[i].iov_base = tx->buf[i];
	tx->iov[i].iov_len = len;
	memset(&tx->msgs[i], 0, sizeof(tx->msgs[i]));
	tx->msgs[i].msg_hdr.msg_name = &tx->addr[i];
	tx->msgs[i].msg_hdr.msg_namelen = to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								    : sizeof(struct sockaddr_in);
	tx->msgs[i].msg_hdr.msg_iov = &tx->iov[i];
	tx->msgs[i].msg_hdr.msg_iovlen = 1;
}

static void on_datagram(struct cw_sfu_worker *w, uint8_t *buf, size_t len,
			const struct sockaddr_storage *from, int64_t now)
{
	uint8_t b = len ? buf[0] : 255;
	bool dtls = b >= 20 && b <= 63, media = b >= 128 && b <= 191;
	struct cw_sfu_peer *p;

	/* RFC 7983: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP. */
	if (b <= 3) {
		cw_sfu_ice_input(w, buf, len, from, now);
		return;
	}
	if (!dtls && !media) {
		cw_sfu_count(&w->n.dropped_unknown, 1);
		return;
	}
	/* DTLS and SRTP are accepted only from the address a peer's checks selected. */
	p = cw_sfu_addrs_find(&w->addrs, from);
	if (!p) {
		cw_sfu_count(&w->n.dropped_unverified, 1);
		return;
	}
	if (dtls)
		cw_sfu_dtls_input(w, p, buf, len, now);
	else
		cw_sfu_media_input(w, p, buf, len, now);
}

static void read_socket(struct cw_sfu_worker *w)
{
	for (int round = 0; round < RX_ROUNDS; round++) {
		int n;

		for (unsigned i = 0; i < CW_SFU_BATCH; i++) {
			w->rx_iov[i].iov_base = w->rx_buf[i];
			w->rx_iov[i].iov_len = CW_SFU_DGRAM_MAX;
			memset(&w->rx_msgs[i].msg_hdr, 0, sizeof(w->rx_msgs[i].msg_hdr));
			w->rx_msgs[i].msg_hdr.msg_name = &w->rx_addr[i];
			w->rx_msgs[i].msg_hdr.msg_namelen = sizeof(w->rx_addr[i]);
			w->rx_msgs[i].msg_hdr.msg_iov = &w->rx_iov[i];
			w->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(w->fd, w->rx_msgs, CW_SFU_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		int64_t now = cw_sfu_now_ms();
		for (int i = 0; i < n; i++) {
			struct mmsghdr *m = &w->rx_msgs[i];
			cw_sfu_count(&w->n.rx_packets, 1);
			cw_sfu_count(&w->n.rx_bytes, m->msg_len);
			if (m->msg_hdr.msg_flags & MSG_TRUNC) {
				cw_sfu_count(&w->n.dropped_unknown, 1);
				continue;
			}
			on_datagram(w, w->rx_buf[i], m->msg_len, &w->rx_addr[i], now);
		}
		if (n < CW_SFU_BATCH)
			return;
	}
}

/* Adds a peer. An ICE-only peer of the same ufrag (a subscribe connection offered before
 * its answer came, so that the client's first checks already succeed) is replaced, and
 * its selected address and consent carry over. */
static void add_peer(struct cw_sfu_worker *w, struct cw_sfu_cmd *cmd)
{
	struct cw_sfu_peer *p = cmd->peer,
			   *old = cw_sfu_peers_find(&w->peers, p->ufrag, strlen(p->ufrag));
	struct sockaddr_storage addr;
	bool had = false;
	int64_t last = 0;

	if (old && !old->room_id[0] && p->room_id[0]) {
		had = old->selected && !old->dead;
		addr = old->addr;
		last = old->last_check_ms;
		cw_sfu_peers_remove(&w->peers, old->ufrag);
		cw_sfu_peer_detach(w, old);
	}
	if (cw_sfu_peer_attach(w, p) != 0) {
		cw_warn("sfu.peer", "worker=%d ufrag=%s err=\"cannot add\"", w->index, p->ufrag);
		return;
	}
	cmd->peer = NULL;
	if (had) {
		p->last_check_ms = last;
		cw_sfu_peer_select(w, p, &addr);
	}
}

static void apply(struct cw_sfu_worker *w, struct cw_sfu_cmd *cmd)
{
	switch (cmd->kind) {
	case CW_SFU_CMD_ADD_PEER:
		add_peer(w, cmd);
		break;
	case CW_SFU_CMD_DEL_PEER: {
		struct cw_sfu_peer *p = cw_sfu_peers_remove(&w->peers, cmd->ufrag);
		if (p)
			cw_sfu_peer_detach(w, p);
		break;
	}
	case CW_SFU_CMD_SET_MAP:
		cw_sfu_apply_map(w, cmd);
		break;
	case CW_SFU_CMD_SET_MUTED:
		cw_sfu_apply_muted(w, cmd, cw_sfu_now_ms());
		break;
	}
	cw_sfu_cmd_free(cmd);
}

/* Takes the queued commands; false when the worker is to stop. */
static bool drain_commands(struct cw_sfu_worker *w)
{
	struct cw_sfu_cmd *list;
	uint64_t v;
	bool stop;

	if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		cw_warn("sfu.worker", "worker=%d err=\"eventfd read: %s\"", w->index,
			strerror(errno));
	pthread_mutex_lock(&w->lock);
	list = w->head;
	w->head = NULL;
	w->tail = &w->head;
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct cw_sfu_cmd *next = list->next;
		apply(w, list);
		list = next;
	}
	return !stop;
}

static void *worker_main(void *arg)
{
	struct cw_sfu_worker *w = arg;
	struct epoll_event evs[4];
	bool running = true;
	char name[16];

	snprintf(name, sizeof(name), "cw-media-%d", w->index);
	pthread_setname_np(pthread_self(), name); /* for top -H, perf and bench/sfu */
	w->next_consent_scan = cw_sfu_now_ms() + CW_SFU_CONSENT_SCAN_MS;
	w->next_speaker_scan = cw_sfu_now_ms() + CW_SFU_SPEAKER_MS;
	w->next_remb = cw_sfu_now_ms() + CW_SFU_REMB_MS;
	while (running) {
		int64_t now = cw_sfu_now_ms(), next;
		int timeout;

		/* Timers between batches: due DTLS retransmissions, consent, speakers, REMB. */
		next = cw_sfu_dtls_timers(w, now);
		if (now >= w->next_consent_scan)
			w->next_consent_scan = cw_sfu_consent_scan(w, now);
		if (now >= w->next_speaker_scan) {
			cw_sfu_speaker_scan(w);
			w->next_speaker_scan = now + CW_SFU_SPEAKER_MS;
		}
		if (now >= w->next_remb) {
			cw_sfu_remb_scan(w, now);
			w->next_remb = now + CW_SFU_REMB_MS;
		}
		if (w->next_consent_scan < next)
			next = w->next_consent_scan;
		if (w->next_speaker_scan < next)
			next = w->next_speaker_scan;
		if (w->next_remb < next)
			next = w->next_remb;
		timeout = next <= now ? 0 : next - now > 1000 ? 1000 : (int)(next - now);
		/* The before-sleep hook: what the last round queued leaves in one sendmmsg, and
		 * its events reach the control plane with one lock and one wake. */
		cw_sfu_tx_flush(w);
		cw_sfu_events_flush(w);
		int n = epoll_wait(w->epfd, evs, 4, timeout);
		if (n < 0 && errno != EINTR) {
			cw_error("sfu.worker", "worker=%d err=\"epoll: %s\"", w->index,
				 strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == w->evfd)
				running = drain_commands(w) && running;
			else
				read_socket(w);
		}
	}
	return NULL;
}

static int bind_socket(struct cw_sfu_worker *w, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int size = SOCKET_BUFFER;

	if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else {
		return -EINVAL;
	}
	w->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0)
		return -errno;
	/* Best effort: bursts of video survive a busy moment of the worker. */
	setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(w->fd, (struct sockaddr *)&ss, len) != 0)
		return -errno;
	len = sizeof(ss);
	if (getsockname(w->fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static void worker_free(struct cw_sfu_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		uint64_t one = 1;
		if (write(w->evfd, &one, sizeof(one)) < 0)
			cw_warn("sfu.worker", "worker=%d err=\"cannot wake\"", w->index);
		pthread_join(w->thread, NULL);
	}
	while (w->head) {
		struct cw_sfu_cmd *next = w->head->next;
		cw_sfu_cmd_free(w->head);
		w->head = next;
	}
	cw_sfu_rooms_free(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->ev_lock);
	free(w);
}

static int worker_new(struct cw_sfu_worker **wp, struct cw_sfu *sfu, int index, const char *ip,
		      uint16_t port, int consent_timeout_ms)
{
	struct cw_sfu_worker *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	*wp = NULL;
	if (!w)
		return -ENOMEM;
	w->index = index;
	w->sfu = sfu;
	w->consent_timeout_ms =
		consent_timeout_ms > 0 ? consent_timeout_ms : CW_SFU_CONSENT_TIMEOUT_MS;
	w->fd = w->epfd = w->evfd = -1;
	w->tail = &w->head;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->ev_lock, NULL);
	err = bind_socket(w, ip, port);
	if (err)
		goto out;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0) {
		err = -errno;
		goto out;
	}
	ev.data.fd = w->fd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0) {
		err = -errno;
		goto out;
	}
	ev.data.fd = w->evfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0) {
		err = -errno;
		goto out;
	}
	err = -pthread_create(&w->thread, NULL, worker_main, w);
	w->started = err == 0;
out:
	if (err) {
		worker_free(w);
		return err;
	}
	*wp = w;
	return 0;
}

/* One context per role and profile set, made once: endpoints are cheap to make from them. */
static int make_contexts(struct cw_sfu *sfu)
{
	static const unsigned profiles[CW_SFU_PROF_N] = {
		[CW_SFU_PROF_ALL] = CW_DTLS_PROFILES_ALL,
		[CW_SFU_PROF_GCM] = CW_DTLS_PROFILE(CW_SRTP_AEAD_AES_128_GCM),
		[CW_SFU_PROF_CM] = CW_DTLS_PROFILE(CW_SRTP_AES128_CM_SHA1_80),
	};
	int err = cw_dtls_cert_new(&sfu->cert);

	for (int role = 0; role < 2 && !err; role++) {
		for (int i = 0; i < CW_SFU_PROF_N && !err; i++)
			err = cw_dtls_ctx_new(&sfu->ctx[role][i], sfu->cert,
					      (enum cw_dtls_role)role, profiles[i]);
	}
	return err;
}

int cw_sfu_start(struct cw_sfu **sfup, const struct cw_sfu_config *cfg)
{
	struct cw_sfu *sfu;
	int n = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	*sfup = NULL;
	if (n < 1)
		n = 1;
	if (n > CW_SFU_WORKERS_MAX)
		n = CW_SFU_WORKERS_MAX;
	if (cfg->port_min &&
	    (cfg->port_max < cfg->port_min || cfg->port_max - cfg->port_min + 1 < n))
		return -EINVAL;
	sfu = calloc(1, sizeof(*sfu));
	if (!sfu)
		return -ENOMEM;
	sfu->wake = cfg->wake;
	sfu->wake_arg = cfg->wake_arg;
	sfu->remb_bps = cfg->remb_bps ? cfg->remb_bps : CW_SFU_REMB_BPS;
	err = make_contexts(sfu);
	for (int i = 0; i < n && !err; i++) {
		uint16_t port = cfg->port_min ? (uint16_t)(cfg->port_min + i) : 0;
		err = worker_new(&sfu->workers[i], sfu, i, cfg->bind_ip ? cfg->bind_ip : "0.0.0.0",
				 port, cfg->consent_timeout_ms);
		if (!err)
			sfu->n_workers++;
	}
	if (err) {
		cw_sfu_stop(sfu);
		return err;
	}
	cw_info("sfu.start", "workers=%d first_port=%u fingerprint=\"%s\"", sfu->n_workers,
		(unsigned)sfu->workers[0]->port, cw_dtls_cert_fingerprint(sfu->cert));
	*sfup = sfu;
	return 0;
}

void cw_sfu_stop(struct cw_sfu *sfu)
{
	if (!sfu)
		return;
	for (int i = 0; i < sfu->n_workers; i++)
		worker_free(sfu->workers[i]);
	for (int role = 0; role < 2; role++) {
		for (int i = 0; i < CW_SFU_PROF_N; i++)
			cw_dtls_ctx_free(sfu->ctx[role][i]);
	}
	cw_dtls_cert_free(sfu->cert);
	free(sfu);
}

int cw_sfu_workers(const struct cw_sfu *sfu)
{
	return sfu->n_workers;
}

uint16_t cw_sfu_port(const struct cw_sfu *sfu, int worker)
{
	return worker >= 0 && worker < sfu->n_workers ? sfu->workers[worker]->port : 0;
}
