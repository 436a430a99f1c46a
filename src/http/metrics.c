/* metrics: request counters and connection gauge in Prometheus text format; /healthz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "push/push.h"
#include "sfu/sfu.h"
#include "util/util.h"

/* Routes are a fixed set and statuses few, so a small array searched linearly is enough. */
struct counter {
	const char *route; /* a pattern from the route table, or "unmatched" */
	int method;
	int status;
	unsigned long long count;
};

struct cw_metrics {
	struct counter *counters;
	size_t n, cap;
	long open_connections;
	const struct cw_sfu *sfu;
	struct cw_push *push;
};

struct cw_metrics *cw_metrics_new(const struct cw_sfu *sfu, struct cw_push *push)
{
	struct cw_metrics *m = calloc(1, sizeof(struct cw_metrics));

	if (m) {
		m->sfu = sfu;
		m->push = push;
	}
	return m;
}

void cw_metrics_free(struct cw_metrics *m)
{
	if (!m)
		return;
	free(m->counters);
	free(m);
}

void cw_metrics_request(struct cw_metrics *m, const char *route, int method, int status)
{
	struct counter *c;

	for (size_t i = 0; i < m->n; i++) {
		c = &m->counters[i];
		if (c->route == route && c->method == method && c->status == status) {
			c->count++;
			return;
		}
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 32;
		c = realloc(m->counters, cap * sizeof(*c));
		if (!c)
			return;
		m->counters = c;
		m->cap = cap;
	}
	m->counters[m->n++] = (struct counter){route, method, status, 1};
}

void cw_metrics_connections(struct cw_metrics *m, int delta)
{
	m->open_connections += delta;
}

/* The media plane's counters, summed over its workers. */
static void render_media(FILE *f, const struct cw_sfu *sfu)
{
	struct cw_sfu_stats st;
	const struct {
		const char *name, *help;
	} rows[] = {
		{"media_rx_packets_total", "UDP datagrams the media workers received."},
		{"media_rx_bytes_total", "Bytes the media workers received."},
		{"media_tx_packets_total", "UDP datagrams the media workers sent."},
		{"media_tx_bytes_total", "Bytes the media workers sent."},
		{"media_ice_checks_total", "ICE checks answered with a success."},
		{"media_ice_unauthorized_total",
		 "ICE checks with an unknown ufrag or a wrong integrity (answered 401)."},
		{"media_stun_malformed_total", "STUN that is malformed or not an ICE check."},
		{"media_dropped_unknown_total", "Datagrams of no protocol the server speaks."},
		{"media_dropped_unverified_total",
		 "DTLS or RTP from an address that passed no ICE check."},
		{"media_dropped_not_ready_total",
		 "DTLS or SRTP from a checked address whose peer cannot take it (yet)."},
		{"media_dtls_connected_total", "DTLS handshakes completed, SRTP keyed."},
		{"media_dtls_failed_total",
		 "DTLS handshakes failed (fingerprint, alert, timeout, no SRTP profile)."},
		{"media_srtp_auth_failed_total", "SRTP or SRTCP that failed authentication."},
		{"media_srtp_replayed_total", "SRTP replayed, or older than the replay window."},
		{"media_rtp_forwarded_total", "RTP copies forwarded to subscribers."},
		{"media_rtcp_forwarded_total", "Keyframe requests (PLI, FIR) passed on."},
		{"media_consent_expired_total", "Peers that stopped answering consent checks."},
		{"media_dropped_muted_total",
		 "RTP of a muted track, or of a payload type the publisher's map drops."},
		{"media_pli_rate_limited_total",
		 "Keyframe requests not passed on: the track had one within 500 ms."},
		{"media_nack_received_total", "Sequence numbers subscribers asked for again."},
		{"media_rtp_retransmitted_total",
		 "Of those, packets answered from the retransmission cache."},
		{"media_remb_sent_total", "REMB packets sent to video publishers."},
	};
	uint64_t values[CW_ARRAY_SIZE(rows)];

	cw_sfu_get_stats(sfu, &st);
	values[0] = st.rx_packets;
	values[1] = st.rx_bytes;
	values[2] = st.tx_packets;
	values[3] = st.tx_bytes;
	values[4] = st.stun_checks;
	values[5] = st.stun_unauthorized;
	values[6] = st.stun_bad;
	values[7] = st.dropped_unknown;
	values[8] = st.dropped_unverified;
	values[9] = st.dropped_not_ready;
	values[10] = st.dtls_connected;
	values[11] = st.dtls_failed;
	values[12] = st.srtp_auth_failed;
	values[13] = st.srtp_replayed;
	values[14] = st.rtp_forwarded;
	values[15] = st.rtcp_forwarded;
	values[16] = st.consent_expired;
	values[17] = st.dropped_muted;
	values[18] = st.pli_rate_limited;
	values[19] = st.nack_received;
	values[20] = st.rtp_retransmitted;
	values[21] = st.remb_sent;
	for (size_t i = 0; i < CW_ARRAY_SIZE(rows); i++)
		fprintf(f, "# HELP callwire_%s %s\n# TYPE callwire_%s counter\ncallwire_%s %llu\n",
			rows[i].name, rows[i].help, rows[i].name, rows[i].name,
			(unsigned long long)values[i]);
	fprintf(f,
		"# HELP callwire_media_workers Media worker threads.\n"
		"# TYPE callwire_media_workers gauge\ncallwire_media_workers %d\n",
		cw_sfu_workers(sfu));
}

static void render_push(FILE *f, struct cw_push *p)
{
	static const char *const svc[] = {"apns", "fcm", "webhook"};
	static const struct {
		const char *name, *help;
	} rows[] = {
		{"push_sent_total", "Pushes and webhooks delivered, by service."},
		{"push_failed_total", "Pushes and webhooks refused for good, by service."},
		{"push_retried_total", "Deliveries tried again later, by service."},
		{"push_dropped_total", "Entries given up: out of their window or out of attempts."},
	};
	struct cw_push_stats st;

	cw_push_stats(p, &st);
	for (size_t r = 0; r < CW_ARRAY_SIZE(rows); r++) {
		const uint64_t *v = r == 0   ? st.sent
				    : r == 1 ? st.failed
				    : r == 2 ? st.retried
					     : st.dropped;
		fprintf(f, "# HELP callwire_%s %s\n# TYPE callwire_%s counter\n", rows[r].name,
			rows[r].help, rows[r].name);
		for (size_t i = 0; i < CW_ARRAY_SIZE(svc); i++)
			fprintf(f, "callwire_%s{service=\"%s\"} %llu\n", rows[r].name, svc[i],
				(unsigned long long)v[i]);
	}
	fprintf(f,
		"# HELP callwire_push_tokens_removed_total Device tokens the services said are "
		"dead.\n"
		"# TYPE callwire_push_tokens_removed_total counter\n"
		"callwire_push_tokens_removed_total %llu\n"
		"# HELP callwire_push_apns_tokens_minted_total APNs provider tokens made.\n"
		"# TYPE callwire_push_apns_tokens_minted_total counter\n"
		"callwire_push_apns_tokens_minted_total %llu\n"
		"# HELP callwire_push_oauth_tokens_fetched_total FCM access tokens fetched.\n"
		"# TYPE callwire_push_oauth_tokens_fetched_total counter\n"
		"callwire_push_oauth_tokens_fetched_total %llu\n"
		"# HELP callwire_push_outbox_pending Entries waiting in the outbox.\n"
		"# TYPE callwire_push_outbox_pending gauge\n"
		"callwire_push_outbox_pending %lld\n",
		(unsigned long long)st.tokens_removed, (unsigned long long)st.jwt_minted,
		(unsigned long long)st.oauth_fetched, (long long)st.pending);
}

char *cw_metrics_render(struct cw_metrics *m, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs("# HELP callwire_http_requests_total HTTP requests by route, method and status.\n"
	      "# TYPE callwire_http_requests_total counter\n",
	      f);
	for (size_t i = 0; i < m->n; i++) {
		const struct counter *c = &m->counters[i];
		fprintf(f,
			"callwire_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} "
			"%llu\n",
			c->route, cw_method_name(c->method), c->status, c->count);
	}
	fprintf(f,
		"# HELP callwire_http_open_connections Open HTTP connections.\n"
		"# TYPE callwire_http_open_connections gauge\n"
		"callwire_http_open_connections %ld\n",
		m->open_connections);
	if (m->sfu)
		render_media(f, m->sfu);
	if (m->push)
		render_push(f, m->push);
	fclose(f);
	*len = size;
	return buf;
}

void cw_h_metrics(struct cw_req *req)
{
	size_t len = 0;
	char *text = cw_metrics_render(req->metrics, &len);

	if (!text) {
		cw_reply_error(req, CW_E_INTERNAL, "out of memory");
		return;
	}
	cw_reply_text(req, 200, "text/plain; version=0.0.4", text, len);
}

void cw_h_healthz(struct cw_req *req)
{
	cw_reply_json(req, 200,
		      json_pack("{s:s,s:s,s:i}", "status", "ok", "store", req->store->ops->name,
				"schemaVersion", cw_store_schema_version()));
}
