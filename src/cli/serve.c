/* serve: `callwire serve`, the server process. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "calls/calls.h"
#include "cli/cli.h"
#include "http/http.h"
#include "push/push.h"
#include "rt/rt.h"
#include "session/service.h"
#include "sfu/sfu.h"
#include "util/util.h"

struct server {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	/* Group commit: the writes of one loop iteration are committed together, before the
	 * loop waits again (prepare) and right after I/O (check). */
	uv_prepare_t prepare;
	uv_check_t check;
	struct cw_store *store;
	struct cw_http *http;
	struct cw_calls *calls;
	struct cw_rt *rt;
	struct cw_sessions *sessions;
	struct cw_sfu *sfu;
	struct cw_push *push;
	uv_async_t media; /* a media worker has events for the sessions */
	int stopping;
};

static void commit(struct server *s)
{
	bool ok;

	if (!cw_store_batch_open(s->store))
		return;
	ok = cw_store_batch_commit(s->store) == 0;
	if (!ok)
		cw_error("store.commit", "%s", "err=\"batch failed; answers replaced by errors\"");
	if (s->rt)
		cw_rt_commit(s->rt, ok);
	if (s->http)
		cw_http_commit(s->http, ok);
}

static void on_prepare(uv_prepare_t *h)
{
	commit(h->data);
}

static void on_check(uv_check_t *h)
{
	commit(h->data);
}

static void hook_request(void *ctx, const struct cw_cred *cred, const char *method, json_t *params,
			 char **result, char **error)
{
	struct server *s = ctx;

	cw_http_ws_request(s->http, cred, method, params, result, error);
}

static void hook_presence(void *ctx, const char *app_id, const char *uid, bool online)
{
	struct server *s = ctx;

	cw_calls_presence(s->calls, app_id, uid, online);
}

static void media_wake(void *arg)
{
	uv_async_send(arg);
}

static void on_media(uv_async_t *a)
{
	struct server *s = a->data;

	cw_sessions_media_events(s->sessions);
}

static void on_call_end(void *ctx, const char *app_id, const char *session_id, int64_t now)
{
	struct server *s = ctx;

	cw_sessions_call_ended(s->sessions, app_id, session_id, now);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct server *s = sig->data;

	if (s->stopping++)
		return;
	cw_info("server.stopping", "signal=%d", signum);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	/* lws closes its connections and handles; then the service's timers go, and the
	 * loop ends when no handle is left. What the last callbacks wrote is committed. */
	cw_http_stop(s->http);
	/* Transfers in flight are abandoned; their entries wait in the outbox for the next
	 * start. */
	cw_push_stop(s->push);
	cw_sessions_free(s->sessions);
	s->sessions = NULL;
	/* The workers stop before the handle they wake goes. */
	cw_sfu_stop(s->sfu);
	s->sfu = NULL;
	uv_close((uv_handle_t *)&s->media, NULL);
	commit(s);
	cw_calls_free(s->calls);
	uv_close((uv_handle_t *)&s->prepare, NULL);
	uv_close((uv_handle_t *)&s->check, NULL);
}

static int mkdirs(const char *path)
{
	char buf[1024];
	size_t len = cw_strlcpy(buf, path, sizeof(buf));

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: callwire serve [--listen HOST:PORT] [--data DIR] [--config FILE]\n"
		"                      [--log-level debug|info|warn|error] [--demo]\n"
		"                      [--media-ports MIN-MAX] [--media-workers N]\n"
		"                      [--public-ip IP[,IP…]] [--web DIR|none]\n"
		"environment: CALLWIRE_LISTEN, CALLWIRE_DATA, CALLWIRE_MASTER_KEY, "
		"CALLWIRE_CONFIG, CALLWIRE_LOG_LEVEL,\n"
		"             CALLWIRE_MEDIA_PORTS, CALLWIRE_MEDIA_WORKERS, CALLWIRE_PUBLIC_IP, "
		"CALLWIRE_WEB\n");
}

/* The browser client's folder, resolved into root (empty: serve none). The one configured,
 * else the source tree's web/ while it exists, else the installed one. A configured folder
 * that is not there fails the start; a missing default only means no browser client. */
static int web_folder(const struct cw_config *cfg, char root[PATH_MAX])
{
	static const char *const defaults[] = {CW_WEB_DIR, CW_WEB_INSTALL_DIR};
	struct stat st;

	root[0] = '\0';
	if (strcmp(cfg->web, "none") == 0)
		return 0;
	if (cfg->web[0]) {
		if (!realpath(cfg->web, root) || stat(root, &st) != 0) {
			fprintf(stderr, "callwire serve: --web %s: %s\n", cfg->web,
				strerror(errno));
			return -EINVAL;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "callwire serve: --web %s: not a folder\n", cfg->web);
			return -EINVAL;
		}
		return 0;
	}
	for (size_t i = 0; i < CW_ARRAY_SIZE(defaults); i++) {
		if (realpath(defaults[i], root) && stat(root, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	root[0] = '\0';
	cw_warn("web.missing", "tried=%s,%s", CW_WEB_DIR, CW_WEB_INSTALL_DIR);
	return 0;
}

/* The media plane's settings: its sockets bind the listen address (or every address when
 * that is a wildcard); the public addresses only go into ICE candidates. */
static int media_config(const struct cw_config *cfg, const char *host, struct cw_sfu_config *out)
{
	unsigned char addr[16];
	char *end, ips[sizeof(cfg->public_ip)], *ip, *save = NULL;
	long lo = 0, hi = 0, n = 0;

	memset(out, 0, sizeof(*out));
	out->bind_ip = host;
	if (cfg->media_ports[0]) {
		lo = strtol(cfg->media_ports, &end, 10);
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (*end || lo < 1 || hi < lo || hi > 65535) {
			fprintf(stderr, "callwire serve: --media-ports wants MIN-MAX, got '%s'\n",
				cfg->media_ports);
			return -EINVAL;
		}
	}
	if (cfg->media_workers[0]) {
		n = strtol(cfg->media_workers, &end, 10);
		if (*end || n < 1 || n > CW_SFU_WORKERS_MAX) {
			fprintf(stderr, "callwire serve: --media-workers wants 1 to %d, got '%s'\n",
				CW_SFU_WORKERS_MAX, cfg->media_workers);
			return -EINVAL;
		}
	}
	cw_strlcpy(ips, cfg->public_ip, sizeof(ips));
	for (ip = strtok_r(ips, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
		if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1) {
			fprintf(stderr, "callwire serve: --public-ip: '%s' is not an IP address\n",
				ip);
			return -EINVAL;
		}
	}
	out->port_min = (uint16_t)lo;
	out->port_max = (uint16_t)hi;
	out->workers = (int)n;
	if (lo && hi - lo + 1 < (n ? n : sysconf(_SC_NPROCESSORS_ONLN))) {
		fprintf(stderr, "callwire serve: --media-ports %s has fewer ports than workers\n",
			cfg->media_ports);
		return -EINVAL;
	}
	return 0;
}

static bool is_wildcard(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "*") == 0;
}

static enum cw_log_level level_of(const char *s)
{
	if (strcmp(s, "debug") == 0)
		return CW_LOG_DEBUG;
	if (strcmp(s, "warn") == 0)
		return CW_LOG_WARN;
	if (strcmp(s, "error") == 0)
		return CW_LOG_ERROR;
	return CW_LOG_INFO;
}

int cw_cmd_serve(int argc, char **argv)
{
	struct cw_http_config hcfg;
	struct cw_sfu_config mcfg;
	int merr;
	struct cw_store *store = NULL;
	struct cw_config cfg;
	struct cw_auth auth;
	struct server s;
	char err[512], host[256], master[CW_SECRET_MAX], dbpath[1100], web[PATH_MAX];
	int rc = 1, port;

	if (argc > 0 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0)) {
		usage();
		return 0;
	}
	if (cw_config_load(&cfg, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "callwire serve: %s\n", err);
		usage();
		return 2;
	}
	cw_log_set_level(level_of(cfg.log_level));
	if (cw_parse_listen(cfg.listen, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "callwire serve: --listen wants HOST:PORT, got '%s'\n", cfg.listen);
		return 2;
	}
	if (media_config(&cfg, host, &mcfg) != 0)
		return 2;
	if (web_folder(&cfg, web) != 0)
		return 1;
	if (mkdirs(cfg.data) != 0) {
		fprintf(stderr, "callwire serve: cannot create data folder %s: %s\n", cfg.data,
			strerror(errno));
		return 1;
	}
	if (cfg.master_key[0])
		cw_strlcpy(master, cfg.master_key, sizeof(master));
	else if (cw_auth_load_master_key(cfg.data, master) != 0)
		return 1;

	snprintf(dbpath, sizeof(dbpath), "%s/callwire.db", cfg.data);
	if (cw_store_open(&store, dbpath) != 0) {
		fprintf(stderr, "callwire serve: cannot open the store %s\n", dbpath);
		return 1;
	}
	cw_auth_init(&auth, store, master);
	explicit_bzero(master, sizeof(master));
	explicit_bzero(cfg.master_key, sizeof(cfg.master_key));
	if (cfg.demo && cw_demo_ensure(store, cfg.data, cfg.listen, web[0] != '\0') != 0)
		goto out_store;

	memset(&s, 0, sizeof(s));
	s.store = store;
	uv_loop_init(&s.loop);
	uv_signal_init(&s.loop, &s.sigint);
	uv_signal_init(&s.loop, &s.sigterm);
	s.sigint.data = s.sigterm.data = &s;
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);
	uv_prepare_init(&s.loop, &s.prepare);
	uv_check_init(&s.loop, &s.check);
	s.prepare.data = s.check.data = &s;
	uv_prepare_start(&s.prepare, on_prepare);
	uv_check_start(&s.check, on_check);
	signal(SIGPIPE, SIG_IGN);

	struct cw_rt_hooks hooks = {.ctx = &s, .request = hook_request, .presence = hook_presence};
	if (cw_calls_new(&s.calls, &s.loop, store) != 0 ||
	    cw_rt_new(&s.rt, &s.loop, store, &auth, &hooks) != 0)
		goto out_loop;
	cw_calls_set_rt(s.calls, s.rt);
	if (cw_push_new(&s.push, &s.loop, store) != 0)
		goto out_loop;
	cw_push_set_rt(s.push, s.rt);
	cw_calls_set_push(s.calls, s.push);
	if (cw_calls_start(s.calls) != 0) {
		fprintf(stderr, "callwire serve: cannot load the active calls\n");
		goto out_loop;
	}
	commit(&s);
	if (cw_push_start(s.push) != 0) {
		fprintf(stderr, "callwire serve: cannot start the push sender\n");
		goto out_loop;
	}

	uv_async_init(&s.loop, &s.media, on_media);
	s.media.data = &s;
	mcfg.wake = media_wake;
	mcfg.wake_arg = &s.media;
	merr = cw_sfu_start(&s.sfu, &mcfg);
	if (merr) {
		fprintf(stderr, "callwire serve: cannot start the media workers on %s: %s\n", host,
			strerror(-merr));
		goto out_loop;
	}
	struct cw_sessions_config scfg = {.loop = &s.loop,
					  .store = store,
					  .rt = s.rt,
					  .calls = s.calls,
					  .auth = &auth,
					  .sfu = s.sfu,
					  .public_ips = cfg.public_ip[0]    ? cfg.public_ip
							: is_wildcard(host) ? NULL
									    : host};
	if (cw_sessions_new(&s.sessions, &scfg) != 0)
		goto out_loop;
	cw_calls_on_end(s.calls, on_call_end, &s);
	memset(&hcfg, 0, sizeof(hcfg));
	hcfg.host = host;
	hcfg.port = port;
	hcfg.sfu = s.sfu;
	hcfg.sessions = s.sessions;
	hcfg.web_root = web[0] ? web : NULL;
	hcfg.push = s.push;
	if (cw_http_start(&s.http, &s.loop, &hcfg, store, &auth, s.calls, s.rt) != 0) {
		fprintf(stderr, "callwire serve: cannot listen on %s\n", cfg.listen);
		s.stopping = 1;
		uv_close((uv_handle_t *)&s.sigint, NULL);
		uv_close((uv_handle_t *)&s.sigterm, NULL);
		cw_http_stop(s.http);
		cw_push_stop(s.push);
		cw_sessions_free(s.sessions);
		cw_sfu_stop(s.sfu);
		s.sfu = NULL;
		uv_close((uv_handle_t *)&s.media, NULL);
		cw_calls_free(s.calls);
		uv_close((uv_handle_t *)&s.prepare, NULL);
		uv_close((uv_handle_t *)&s.check, NULL);
		uv_run(&s.loop, UV_RUN_DEFAULT);
		cw_http_free(s.http);
		cw_rt_free(s.rt);
		uv_run(&s.loop, UV_RUN_DEFAULT);
		goto out_loop;
	}
	cw_info("server.started", "listen=%s data=%s store=%s web=%s", cfg.listen, cfg.data,
		store->ops->name, web[0] ? web : "none");
	uv_run(&s.loop, UV_RUN_DEFAULT);
	cw_http_free(s.http);
	cw_rt_free(s.rt);
	uv_run(&s.loop, UV_RUN_DEFAULT);
	if (cw_store_batch_open(store))
		cw_store_batch_commit(store);
	rc = 0;
	cw_info("server.stopped", "%s", "");
out_loop:
	cw_sfu_stop(s.sfu);
	uv_loop_close(&s.loop);
	cw_push_free(s.push);
out_store:
	cw_store_close(store);
	return rc;
}
