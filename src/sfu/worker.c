/* worker: a media worker's thread: epoll over its UDP socket and its command eventfd,
 * datagrams read and written in batches (recvmmsg / sendmmsg), demultiplexed by their
 * first byte (RFC 7983). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rtc/stun.h"
#include "sfu/worker.h"
#include "util/util.h"

#define SOCKET_BUFFER (4 << 20)
/* Batches read per wake-up before commands and sends get their turn. */
#define RX_ROUNDS 8

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

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
			count(&w->n.tx_bytes, tx->msgs[sent + (unsigned)i].msg_len);
		count(&w->n.tx_packets, (uint64_t)n);
		sent += (unsigned)n;
	}
	tx->n = 0;
}

void cw_sfu_tx_push(struct cw_sfu_worker *w, const uint8_t *data, size_t len,
		    const struct sockaddr_storage *to)
{
	struct cw_sfu_tx *tx = &w->tx;
	unsigned i;

	if (len > CW_SFU_DGRAM_MAX)
		return;
	if (tx->n == CW_SFU_BATCH)
		cw_sfu_tx_flush(w);
	i = tx->n++;
	memcpy(tx->buf[i], data, len);
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

static void on_datagram(struct cw_sfu_worker *w, const uint8_t *buf, size_t len,
			const struct sockaddr_storage *from, int64_t now)
{
	uint8_t b = len ? buf[0] : 255;

	/* RFC 7983: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP. */
	if (b <= 3) {
		cw_sfu_ice_input(w, buf, len, from, now);
	} else if ((b >= 20 && b <= 63) || (b >= 128 && b <= 191)) {
		/* DTLS and SRTP come next; until a peer's address passed a check they are
		 * never accepted, so everything here is, for now, unverified. */
		count(&w->n.dropped_unverified, 1);
	} else {
		count(&w->n.dropped_unknown, 1);
	}
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
		int64_t now = mono_ms();
		for (int i = 0; i < n; i++) {
			struct mmsghdr *m = &w->rx_msgs[i];
			count(&w->n.rx_packets, 1);
			count(&w->n.rx_bytes, m->msg_len);
			if (m->msg_hdr.msg_flags & MSG_TRUNC) {
				count(&w->n.dropped_unknown, 1);
				continue;
			}
			on_datagram(w, w->rx_buf[i], m->msg_len, &w->rx_addr[i], now);
		}
		if (n < CW_SFU_BATCH)
			return;
	}
}

static void apply(struct cw_sfu_worker *w, struct cw_sfu_cmd *cmd)
{
	switch (cmd->kind) {
	case CW_SFU_CMD_ADD_PEER:
		if (cw_sfu_peers_add(&w->peers, cmd->peer) == 0)
			cmd->peer = NULL;
		else
			cw_warn("sfu.peer", "worker=%d ufrag=%s err=\"cannot add\"", w->index,
				cmd->peer->ufrag);
		break;
	case CW_SFU_CMD_DEL_PEER:
		cw_sfu_peers_remove(&w->peers, cmd->ufrag);
		break;
	}
	free(cmd->peer);
	free(cmd);
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

	while (running) {
		/* The before-sleep hook: what the last round queued leaves in one sendmmsg. */
		cw_sfu_tx_flush(w);
		int n = epoll_wait(w->epfd, evs, 4, 1000);
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
		free(w->head->peer);
		free(w->head);
		w->head = next;
	}
	cw_sfu_peers_free(&w->peers);
	if (w->fd >= 0)
		close(w->fd);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static int worker_new(struct cw_sfu_worker **wp, int index, const char *ip, uint16_t port)
{
	struct cw_sfu_worker *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	*wp = NULL;
	if (!w)
		return -ENOMEM;
	w->index = index;
	w->fd = w->epfd = w->evfd = -1;
	w->tail = &w->head;
	pthread_mutex_init(&w->lock, NULL);
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

int cw_sfu_start(struct cw_sfu **sfup, const struct cw_sfu_config *cfg)
{
	struct cw_sfu *sfu;
	int n = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	int err = 0;

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
	for (int i = 0; i < n && !err; i++) {
		uint16_t port = cfg->port_min ? (uint16_t)(cfg->port_min + i) : 0;
		err = worker_new(&sfu->workers[i], i, cfg->bind_ip ? cfg->bind_ip : "0.0.0.0",
				 port);
		if (!err)
			sfu->n_workers++;
	}
	if (err) {
		cw_sfu_stop(sfu);
		return err;
	}
	cw_info("sfu.start", "workers=%d first_port=%u", sfu->n_workers,
		(unsigned)sfu->workers[0]->port);
	*sfup = sfu;
	return 0;
}

void cw_sfu_stop(struct cw_sfu *sfu)
{
	if (!sfu)
		return;
	for (int i = 0; i < sfu->n_workers; i++)
		worker_free(sfu->workers[i]);
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

static int submit(struct cw_sfu *sfu, int worker, struct cw_sfu_cmd *cmd)
{
	struct cw_sfu_worker *w;
	uint64_t one = 1;

	if (worker < 0 || worker >= sfu->n_workers) {
		free(cmd->peer);
		free(cmd);
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

int cw_sfu_add_peer(struct cw_sfu *sfu, int worker, const char *ufrag, const char *pwd)
{
	struct cw_sfu_cmd *cmd;

	if (!valid_cred(ufrag, 4, CW_SFU_UFRAG_MAX) || !valid_cred(pwd, 22, CW_SFU_PWD_MAX))
		return -EINVAL;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd || !(cmd->peer = calloc(1, sizeof(*cmd->peer)))) {
		free(cmd);
		return -ENOMEM;
	}
	cmd->kind = CW_SFU_CMD_ADD_PEER;
	cw_strlcpy(cmd->peer->ufrag, ufrag, sizeof(cmd->peer->ufrag));
	cw_strlcpy(cmd->peer->pwd, pwd, sizeof(cmd->peer->pwd));
	cmd->peer->pwd_len = strlen(pwd);
	return submit(sfu, worker, cmd);
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
	}
}
