/* metrics: request counters and connection gauge in Prometheus text format; /healthz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
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
};

struct cw_metrics *cw_metrics_new(void)
{
	return calloc(1, sizeof(struct cw_metrics));
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
