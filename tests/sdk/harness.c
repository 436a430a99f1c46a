/* harness: runs the real `callwire serve` for the SDK tests and drives its REST API. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"

#ifndef CWT_DEFAULT_BIN
#define CWT_DEFAULT_BIN "build/callwire"
#endif

#define MAX_LIVE 32

extern char **environ;

/* Every server not yet freed, so that an exit in the middle of a test still kills them. */
static struct cwt_server *live[MAX_LIVE];
static struct cwt_server *current;

long long cwt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void cwt_rm_rf(const char *path)
{
	if (path && *path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void kill_all_at_exit(void)
{
	for (size_t i = 0; i < MAX_LIVE; i++) {
		struct cwt_server *srv = live[i];

		if (!srv)
			continue;
		if (srv->pid > 0) {
			kill(srv->pid, SIGKILL);
			waitpid(srv->pid, NULL, 0);
			srv->pid = 0;
		}
		cwt_rm_rf(srv->datadir);
		cwt_rm_rf(srv->logdir);
	}
}

static void track(struct cwt_server *srv, bool add)
{
	static bool registered;

	if (add && !registered) {
		atexit(kill_all_at_exit);
		registered = true;
	}
	for (size_t i = 0; i < MAX_LIVE; i++) {
		if (add && !live[i]) {
			live[i] = srv;
			return;
		}
		if (!add && live[i] == srv)
			live[i] = NULL;
	}
}

struct cwt_server *cwt_current_server(void)
{
	return current;
}

/* The binary under test: $CALLWIRE_BIN, else the one CMake built. */
static const char *server_bin(void)
{
	const char *bin = getenv("CALLWIRE_BIN");

	return bin && *bin ? bin : CWT_DEFAULT_BIN;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* The environment minus the variables that would make the server ignore our flags. */
static char **child_env(void)
{
	static const char *const drop[] = {
		"CALLWIRE_MASTER_KEY=", "CALLWIRE_LISTEN=", "CALLWIRE_DATA=",	  "CALLWIRE_KEY=",
		"CALLWIRE_SERVER=",	"CALLWIRE_CONFIG=", "CALLWIRE_LOG_LEVEL="};
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool keep = true;

		for (size_t j = 0; j < sizeof(drop) / sizeof(drop[0]); j++) {
			if (strncmp(environ[i], drop[j], strlen(drop[j])) == 0)
				keep = false;
		}
		if (keep)
			env[k++] = environ[i];
	}
	return env;
}

static int read_master_key(struct cwt_server *srv)
{
	char path[300];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/master.key", srv->datadir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(srv->master_key, sizeof(srv->master_key), f)) {
		srv->master_key[strcspn(srv->master_key, "\r\n")] = '\0';
		rc = srv->master_key[0] ? 0 : -1;
	}
	fclose(f);
	return rc;
}

/* Forks and execs `callwire serve`. Only async-signal-safe calls happen in the child. */
static int launch(struct cwt_server *srv)
{
	char listen[64];
	char *argv[] = {(char *)server_bin(), "serve", "--listen", listen, "--data",
			srv->datadir,	      NULL};
	char **env = child_env();
	pid_t parent = getpid(), pid;
	int logfd, nullfd;

	if (!env)
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv->port);
	logfd = open(srv->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		fprintf(stderr, "harness: cannot open %s: %s\n", srv->logpath, strerror(errno));
		goto fail;
	}
	if (access(argv[0], X_OK) != 0) {
		fprintf(stderr, "harness: server binary %s: %s (build it, or set CALLWIRE_BIN)\n",
			argv[0], strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		/* The server dies with the test process, however that ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* The test's own sockets (the SDK's connections) must not live on in the
		 * server, or closing them would not reach it. */
		close_range(3, ~0U, 0);
		if (chdir(srv->logdir) != 0)
			_exit(127);
		execve(argv[0], argv, env);
		_exit(127);
	}
	srv->pid = pid;
	close(logfd);
	close(nullfd);
	free(env);
	return 0;
fail:
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	free(env);
	return -1;
}

int cwt_server_start(struct cwt_server *srv)
{
	long long deadline;
	int status;

	if (srv->pid > 0)
		return 0;
	if (launch(srv) != 0)
		return -1;
	current = srv;
	deadline = cwt_now_ms() + CWT_START_DEADLINE_MS;
	for (;;) {
		if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
			srv->pid = 0;
			fprintf(stderr, "harness: the server exited during startup (status %d)\n",
				status);
			cwt_server_print_log(srv, 40);
			return -1;
		}
		if (cwt_http(srv, "GET", "/healthz", NULL, NULL, NULL) == 200 &&
		    read_master_key(srv) == 0)
			return 0;
		if (cwt_now_ms() > deadline) {
			fprintf(stderr, "harness: no 200 from GET /healthz within %d ms\n",
				CWT_START_DEADLINE_MS);
			cwt_server_signal(srv, SIGKILL);
			cwt_server_print_log(srv, 40);
			return -1;
		}
		pause_ms(20);
	}
}

int cwt_server_new(struct cwt_server **srvp)
{
	const char *tmp = getenv("TMPDIR");
	struct cwt_server *srv = calloc(1, sizeof(*srv));

	*srvp = NULL;
	if (!srv)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	track(srv, true);
	tmp = tmp && *tmp ? tmp : "/tmp";
	snprintf(srv->datadir, sizeof(srv->datadir), "%s/cwt-data-XXXXXX", tmp);
	snprintf(srv->logdir, sizeof(srv->logdir), "%s/cwt-log-XXXXXX", tmp);
	if (!mkdtemp(srv->datadir) || !mkdtemp(srv->logdir)) {
		fprintf(stderr, "harness: mkdtemp in %s: %s\n", tmp, strerror(errno));
		goto fail;
	}
	snprintf(srv->logpath, sizeof(srv->logpath), "%s/server.log", srv->logdir);
	srv->port = free_port();
	if (srv->port <= 0)
		goto fail;
	snprintf(srv->url, sizeof(srv->url), "http://127.0.0.1:%d", srv->port);
	if (cwt_server_start(srv) != 0)
		goto fail;
	*srvp = srv;
	return 0;
fail:
	cwt_server_free(srv);
	return -1;
}

int cwt_server_signal(struct cwt_server *srv, int sig)
{
	long long deadline = cwt_now_ms() + CWT_STOP_DEADLINE_MS;
	int status = 0;
	pid_t r;

	if (srv->pid <= 0)
		return -1;
	kill(srv->pid, sig);
	for (;;) {
		r = waitpid(srv->pid, &status, WNOHANG);
		if (r == srv->pid)
			break;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "harness: waitpid %d: %s\n", (int)srv->pid,
				strerror(errno));
			srv->pid = 0;
			return -1;
		}
		if (cwt_now_ms() > deadline) {
			fprintf(stderr,
				"harness: the server did not exit within %d ms of signal %d\n",
				CWT_STOP_DEADLINE_MS, sig);
			kill(srv->pid, SIGKILL);
			waitpid(srv->pid, &status, 0);
			break;
		}
		pause_ms(10);
	}
	srv->pid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int cwt_server_stop(struct cwt_server *srv)
{
	int code;

	if (srv->pid <= 0)
		return 0;
	code = cwt_server_signal(srv, SIGTERM);
	if (code == 0)
		return 0;
	fprintf(stderr, "harness: the server exited with %d after SIGTERM (want 0)\n", code);
	cwt_server_print_log(srv, 40);
	return -1;
}

void cwt_server_free(struct cwt_server *srv)
{
	if (!srv)
		return;
	if (srv->pid > 0)
		cwt_server_signal(srv, SIGKILL);
	cwt_rm_rf(srv->datadir);
	cwt_rm_rf(srv->logdir);
	track(srv, false);
	if (current == srv)
		current = NULL;
	free(srv);
}

void cwt_server_print_log(const struct cwt_server *srv, int lines)
{
	FILE *f = srv ? fopen(srv->logpath, "r") : NULL;
	char *buf = NULL;
	long size, start;
	int seen = 0;

	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0)
		goto out;
	buf = malloc((size_t)size + 1);
	if (!buf)
		goto out;
	rewind(f);
	size = (long)fread(buf, 1, (size_t)size, f);
	buf[size] = '\0';
	start = size;
	while (start > 0 && seen <= lines) {
		start--;
		if (buf[start] == '\n')
			seen++;
	}
	fprintf(stderr, "--- server log (%s), last lines ---\n%s--- end of server log ---\n",
		srv->logpath, buf + start + (start > 0));
out:
	free(buf);
	fclose(f);
}

/* ---- HTTP ------------------------------------------------------------------------- */

struct buf {
	char *data;
	size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *p = realloc(b->data, b->len + add + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, ptr, add);
	b->data = p;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

long cwt_http(const struct cwt_server *srv, const char *method, const char *path, const char *token,
	      const char *body, json_t **out)
{
	struct curl_slist *headers = NULL;
	struct buf b = {0};
	char url[1200], auth[300];
	long status = -1;
	CURL *curl;

	if (out)
		*out = NULL;
	curl = curl_easy_init();
	if (!curl)
		return -1;
	snprintf(url, sizeof(url), "%s%s", srv->url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers = curl_slist_append(headers, auth);
	}
	if (body) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (out && b.data)
		*out = json_loadb(b.data, b.len, 0, NULL);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(b.data);
	return status;
}

/* Fails the test unless the request answers want; returns the answer (caller decrefs). */
static json_t *expect(const struct cwt_server *srv, long want, const char *method, const char *path,
		      const char *token, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *answer = NULL;
	long status = cwt_http(srv, method, path, token, text, &answer);

	bool ok = status == want;

	if (!ok) {
		char *got = answer ? json_dumps(answer, JSON_COMPACT) : NULL;

		print_error("%s %s %s: want %ld, got %ld %s\n", method, path, text ? text : "",
			    want, status, got ? got : "");
		free(got);
		json_decref(answer);
		answer = NULL;
	}
	free(text);
	json_decref(body);
	if (!ok)
		fail();
	return answer;
}

static void copy_field(const json_t *obj, const char *key, char *dst, size_t size)
{
	const char *v = json_string_value(json_object_get(obj, key));

	if (!v || strlen(v) >= size) {
		print_error("the answer has no usable \"%s\"\n", key);
		fail();
	}
	memcpy(dst, v, strlen(v) + 1);
}

void cwt_app_create(const struct cwt_server *srv, const char *name, struct cwt_app *app)
{
	json_t *a = expect(srv, 201, "POST", "/v1/apps", srv->master_key,
			   json_pack("{s:s}", "name", name));

	copy_field(a, "appId", app->id, sizeof(app->id));
	copy_field(a, "authKey", app->auth_key, sizeof(app->auth_key));
	copy_field(a, "restApiKey", app->rest_key, sizeof(app->rest_key));
	json_decref(a);
}

void cwt_app_settings(const struct cwt_server *srv, const struct cwt_app *app,
		      const char *settings_json)
{
	char path[128];
	json_t *settings = json_loads(settings_json, 0, NULL);

	assert_non_null(settings);
	snprintf(path, sizeof(path), "/v1/apps/%s", app->id);
	json_decref(expect(srv, 200, "PATCH", path, srv->master_key,
			   json_pack("{s:o}", "settings", settings)));
}

void cwt_user_create(const struct cwt_server *srv, const struct cwt_app *app, const char *uid,
		     const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/apps/%s/users", app->id);
	json_decref(expect(srv, 201, "POST", path, app->rest_key,
			   json_pack("{s:s,s:s}", "uid", uid, "name", name)));
}

void cwt_group_create(const struct cwt_server *srv, const struct cwt_app *app, const char *guid,
		      const char *name, const char *const *members)
{
	json_t *list = json_array();
	char path[128];

	for (size_t i = 0; members && members[i]; i++)
		json_array_append_new(list, json_string(members[i]));
	snprintf(path, sizeof(path), "/v1/apps/%s/groups", app->id);
	json_decref(
		expect(srv, 201, "POST", path, app->rest_key,
		       json_pack("{s:s,s:s,s:o}", "guid", guid, "name", name, "members", list)));
}

void cwt_token_mint(const struct cwt_server *srv, const struct cwt_app *app, const char *uid,
		    char *buf, size_t size)
{
	char path[256];
	json_t *t;

	snprintf(path, sizeof(path), "/v1/apps/%s/users/%s/auth_tokens", app->id, uid);
	t = expect(srv, 201, "POST", path, app->rest_key, json_object());
	copy_field(t, "authToken", buf, size);
	json_decref(t);
}

int cwt_tokens_revoke(const struct cwt_server *srv, const struct cwt_app *app, const char *uid)
{
	char path[256];
	json_t *r;
	int n;

	snprintf(path, sizeof(path), "/v1/apps/%s/users/%s/auth_tokens", app->id, uid);
	r = expect(srv, 200, "DELETE", path, app->rest_key, NULL);
	n = (int)json_integer_value(json_object_get(r, "revoked"));
	json_decref(r);
	return n;
}
