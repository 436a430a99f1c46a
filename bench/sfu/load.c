/* load: the generator's loop: publishers paced on a schedule (open loop) or kept a window
 * of copies ahead of what subscribers received (saturation), everything received counted,
 * the window's snapshots taken at its edges. One thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sys/epoll.h>

#include "media.h"
#include "sfugen.h"

#define EVENTS_MAX 1024
#define LATE_NS 1000000ull	     /* a send this far behind its schedule is late */
#define STALL_NS 500000000ull	     /* saturation: no copy for this long writes them off */
#define CHUNK 8			     /* saturation: packets per publisher per round */
#define CONSENT_SCAN_NS 100000000ull /* how often consent checks are looked for */
#define QUIESCE_NS 5000000000ull     /* callgrind: how long to wait for the copies */
#define MAX_WAIT_NS 10000000ull	     /* the longest sleep of the loop */
#define NS 1000000000ull

void gen_poll(struct gen *g, uint64_t timeout_ns)
{
	struct epoll_event ev[EVENTS_MAX];
	int n;

	if (!g->no_pwait2) {
		struct timespec ts = {(time_t)(timeout_ns / NS), (long)(timeout_ns % NS)};
		/* Microsecond waits: a paced schedule cannot keep time in milliseconds. */
		n = epoll_pwait2(g->epfd, ev, EVENTS_MAX, &ts, NULL);
		if (n < 0 && errno == ENOSYS) {
			g->no_pwait2 = true;
			return;
		}
	} else {
		n = epoll_wait(g->epfd, ev, EVENTS_MAX, (int)((timeout_ns + 999999) / 1000000));
	}
	for (int i = 0; i < n; i++) {
		struct peer *p = ev[i].data.ptr;
		if (g->other && (p < g->peers || p >= g->peers + g->n_peers))
			g->other(ev[i].data.ptr, ev[i].events);
		else
			peer_receive(g, p);
	}
}

void gen_consent(struct gen *g, uint64_t now)
{
	if (now < g->next_consent_scan)
		return;
	g->next_consent_scan = now + CONSENT_SCAN_NS;
	for (int i = 0; i < g->n_peers; i++) {
		struct peer *p = &g->peers[i];
		if (p->state == PEER_UP && now >= p->next_check_ns) {
			if (peer_send_check(p) != 0)
				g->errors++;
			p->next_check_ns = now + CONSENT_EVERY_NS;
		}
	}
}

/* Builds n packets of kind for p and sends them in one sendmmsg; how many the kernel took. */
static int send_batch(struct gen *g, struct peer *p, int kind, int n)
{
	int built = 0, sent = 0;

	for (; built < n; built++) {
		int len = peer_build_rtp(g, p, kind, g->tx_buf[built], sizeof(g->tx_buf[built]));
		if (len < 0) {
			g->errors++;
			break;
		}
		g->tx_iov[built].iov_len = (size_t)len;
	}
	p->issued[kind] += (uint64_t)built;
	while (sent < built) {
		int r = sendmmsg(p->fd, g->tx_msgs + sent, (unsigned)(built - sent), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		sent += r;
	}
	p->sent[kind] += (uint64_t)sent;
	if (g->in_window)
		p->window_sent[kind] += (uint64_t)sent;
	p->send_failed += (uint64_t)(built - sent);
	g->copies_expected += (uint64_t)sent * (uint64_t)g->o->subscribers;
	return sent;
}

/* When p's next packet of the recording is due. */
static uint64_t media_due(const struct gen *g, const struct peer *p)
{
	return p->offset_ns[0] + p->loops * g->media->loop_ns + g->media->pkts[p->mpos].at_ns;
}

/* Replay (remote.c): every publisher sends what is due of the recording, at the times it
 * was recorded, in one sendmmsg per publisher and round; returns when the next is due. */
static uint64_t send_media(struct gen *g, uint64_t now)
{
	const struct media *m = g->media;
	uint64_t next = now + MAX_WAIT_NS;

	for (int i = 0; i < g->n_pubs; i++) {
		struct peer *p = g->pubs[i];
		uint8_t kinds[BATCH];
		uint64_t due = media_due(g, p);
		int built = 0, sent = 0;

		if (p->state != PEER_UP)
			continue;
		while (due <= now && built < BATCH) {
			const struct media_pkt *mp = &m->pkts[p->mpos];
			int len = peer_build_media(g, p, mp, g->tx_buf[built],
						   sizeof(g->tx_buf[built]));
			if (g->in_window && now - due > LATE_NS)
				g->late_sends++;
			if (g->in_window && now - due > g->max_lag_ns)
				g->max_lag_ns = now - due;
			if (++p->mpos == m->n) {
				p->mpos = 0;
				p->loops++;
			}
			due = media_due(g, p);
			if (len < 0) {
				g->errors++;
				continue;
			}
			kinds[built] = mp->kind ? 1 : 0;
			g->tx_iov[built++].iov_len = (size_t)len;
		}
		while (sent < built) {
			int r = sendmmsg(p->fd, g->tx_msgs + sent, (unsigned)(built - sent), 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			sent += r;
		}
		for (int k = 0; k < built; k++) {
			p->issued[kinds[k]]++;
			if (k < sent) {
				p->sent[kinds[k]]++;
				if (g->in_window)
					p->window_sent[kinds[k]]++;
			}
		}
		p->send_failed += (uint64_t)(built - sent);
		g->copies_expected += (uint64_t)sent * (uint64_t)p->fanout;
		if (due < next)
			next = due;
	}
	return next;
}

static bool done_in_window(const struct gen *g, const struct peer *p)
{
	return g->o->max_packets && g->in_window &&
	       p->window_sent[0] >= (uint64_t)g->o->max_packets;
}

/* Every publisher's schedule starts at now, the publishers spread over one interval. */
static void schedule_start(struct gen *g, uint64_t now)
{
	if (g->media) {
		/* Replay: the publishers' starts spread over one video frame interval. */
		for (int i = 0; i < g->n_pubs; i++)
			g->pubs[i]->offset_ns[0] =
				now + 33333333ull * (uint64_t)i / (uint64_t)g->n_pubs;
		return;
	}
	for (int i = 0; i < g->n_pubs; i++) {
		struct peer *p = g->pubs[i];
		for (int k = 0; k < 2; k++) {
			uint64_t interval = k ? NS / AUDIO_PPS : (uint64_t)(NS / g->o->pps);
			p->offset_ns[k] = now + interval * (uint64_t)i / (uint64_t)g->n_pubs;
			p->base[k] = p->issued[k];
		}
	}
}

/* Open loop: what is due of every publisher's schedule; returns when the next packet is. */
static uint64_t send_paced(struct gen *g, uint64_t now)
{
	uint64_t next = now + MAX_WAIT_NS;
	int kinds = g->o->audio ? 2 : 1;

	for (int i = 0; i < g->n_pubs; i++) {
		struct peer *p = g->pubs[i];
		if (done_in_window(g, p))
			continue;
		for (int k = 0; k < kinds; k++) {
			uint64_t interval = k ? NS / AUDIO_PPS : (uint64_t)(NS / g->o->pps);
			uint64_t due_at = p->offset_ns[k] + (p->issued[k] - p->base[k]) * interval;
			uint64_t n;

			if (now >= due_at) {
				uint64_t lag = now - due_at;
				n = (now - due_at) / interval + 1;
				if (n > BATCH)
					n = BATCH; /* the rest in the next round */
				if (!k && g->o->max_packets && g->in_window &&
				    n > (uint64_t)g->o->max_packets - p->window_sent[0])
					n = (uint64_t)g->o->max_packets - p->window_sent[0];
				if (g->in_window && lag > LATE_NS)
					g->late_sends += n;
				if (g->in_window && lag > g->max_lag_ns)
					g->max_lag_ns = lag;
				send_batch(g, p, k, (int)n);
				due_at = p->offset_ns[k] + (p->issued[k] - p->base[k]) * interval;
			}
			if (due_at < next)
				next = due_at;
		}
	}
	return next;
}

/* Copies on their way; negative when some written off arrived after all. */
static int64_t in_flight(const struct gen *g)
{
	return (int64_t)g->copies_expected - (int64_t)g->copies_received -
	       (int64_t)g->copies_written_off;
}

/* Saturation: as long as fewer than o->window copies are on their way, publishers send (in
 * turn, CHUNK each), so the SFU always has work and its queues stay bounded. Copies lost on
 * the way would hold the window shut: after STALL_NS without any, they are written off.
 * Returns whether it may send again at once. */
static bool send_saturated(struct gen *g, uint64_t now)
{
	int64_t s = g->o->subscribers, flight = in_flight(g), room;
	/* Send in bursts of at least a quarter of the window, not packet by packet. */
	int64_t burst = g->o->window / 4 / s;

	if (flight < 0)
		flight = 0;
	room = (g->o->window - flight) / s;
	if (room < (burst ? burst : 1)) {
		if (flight > 0 && now - g->last_progress_ns > STALL_NS) {
			g->copies_written_off += (uint64_t)flight;
			g->stalls++;
			g->last_progress_ns = now;
		}
		return false;
	}
	for (int tried = 0; room > 0 && tried < g->n_pubs; tried++) {
		struct peer *p = g->pubs[g->rr];
		g->rr = (g->rr + 1) % g->n_pubs;
		if (done_in_window(g, p))
			continue;
		room -= send_batch(g, p, 0, (int)(room < CHUNK ? room : CHUNK));
	}
	return true;
}

/* Sends what is due (or allowed) and handles what arrived, once. */
static void step(struct gen *g, uint64_t until)
{
	uint64_t now = now_ns(), wait = 0, received = g->copies_received;

	if (g->sending && g->o->saturate) {
		if (!send_saturated(g, now))
			wait = 1000000;
	} else if (g->sending) {
		uint64_t next = g->media ? send_media(g, now) : send_paced(g, now);
		now = now_ns();
		wait = next > now ? next - now : 0;
	} else {
		wait = MAX_WAIT_NS;
	}
	if (now + wait > until)
		wait = until > now ? until - now : 0;
	gen_consent(g, now);
	gen_poll(g, wait);
	if (g->copies_received != received)
		g->last_progress_ns = now_ns();
}

static bool all_done(const struct gen *g)
{
	for (int i = 0; i < g->n_pubs; i++) {
		if (!done_in_window(g, g->pubs[i]))
			return false;
	}
	return true;
}

/* Waits without sending until every copy arrived (or `ns` passed). */
static void drain(struct gen *g, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	g->sending = false;
	while (in_flight(g) > 0 && now_ns() < end)
		step(g, end);
}

int gen_load(struct gen *g, struct snapshot *at_t0, struct snapshot *at_t1)
{
	const struct opts *o = g->o;
	uint64_t now = now_ns(), end;

	g->t_start = now;
	g->t0 = now + (uint64_t)(o->warmup * 1e9);
	g->t1 = 0;
	g->last_progress_ns = now;
	schedule_start(g, now);
	g->sending = true;
	while (now_ns() < g->t0)
		step(g, g->t0);

	/* callgrind counts instructions, not time: the window must hold exactly the packets
	 * sent in it and all their copies, so it starts and ends with nothing in flight. */
	if (o->callgrind) {
		drain(g, QUIESCE_NS);
		schedule_start(g, now_ns());
	}
	if (gen_snapshot(g, SNAP_WINDOW_START, at_t0) != 0)
		return -1;
	g->t0 = now_ns();
	g->in_window = true;
	g->sending = true;
	end = g->t0 + (uint64_t)(o->duration * 1e9);
	while (now_ns() < end && !(o->max_packets && all_done(g)))
		step(g, end);
	g->t1 = now_ns();
	if (!o->callgrind && gen_snapshot(g, SNAP_WINDOW_END, at_t1) != 0)
		return -1;
	g->sending = false;
	drain(g, o->callgrind ? QUIESCE_NS : DRAIN_MS * 1000000ull);
	if (o->callgrind && gen_snapshot(g, SNAP_WINDOW_END, at_t1) != 0)
		return -1;
	g->in_window = false;
	/* Whatever is still missing now is lost; a last look at the late ones. */
	end = now_ns() + 50000000ull;
	while (now_ns() < end)
		step(g, end);
	return 0;
}
