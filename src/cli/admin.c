/* admin: `callwire admin`, the operator's client for the REST API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "util/util.h"

struct ctx {
	const char *server;
	char key[512];
	int json;
	CURL *curl;
};

struct buf {
	char *data;
	size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;
	char *d = realloc(b->data, b->len + n + 1);

	if (!d)
		return 0;
	memcpy(d + b->len, ptr, n);
	b->data = d;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Sends one request; on success *out holds the parsed response (NULL for 204). On an HTTP
 * error prints the server's message and returns 1; on a transport error returns 1 too. */
static int api(struct ctx *c, const char *method, const char *path, json_t *body, json_t **out)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = {0};
	char url[2048], auth[600];
	char *payload = NULL;
	long status = 0;
	CURLcode cc;
	int rc = 1;

	*out = NULL;
	snprintf(url, sizeof(url), "%s%s", c->server, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->key);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload);
	}
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		fprintf(stderr, "callwire admin: %s: %s\n", c->server, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (resp.len)
		*out = json_loadb(resp.data, resp.len, 0, NULL);
	if (status >= 400) {
		const char *msg = json_string_value(
			json_object_get(json_object_get(*out, "error"), "message"));
		fprintf(stderr, "callwire admin: %ld %s\n", status, msg ? msg : "error");
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	rc = 0;
out:
	free(payload);
	free(resp.data);
	curl_slist_free_all(hdrs);
	return rc;
}

static void print_value(const char *key, json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		printf("%s: %s\n", key, json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%s: %s\n", key, s ? s : "?");
	free(s);
}

static void print_result(struct ctx *c, json_t *j)
{
	const char *key;
	json_t *v;

	if (!j)
		return;
	if (c->json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		return;
	}
	if (json_is_array(json_object_get(j, "data"))) {
		size_t i;
		json_array_foreach (json_object_get(j, "data"), i, v) {
			const char *id = json_string_value(json_object_get(v, "uid"));
			if (!id)
				id = json_string_value(json_object_get(v, "guid"));
			if (!id)
				id = json_string_value(json_object_get(v, "appId"));
			printf("%-24s %s\n", id ? id : "?",
			       json_string_value(json_object_get(v, "name")));
		}
		return;
	}
	json_object_foreach (j, key, v)
		print_value(key, v);
}

/* Fetches every page of a list into one {"data":[…]}. */
static int list_all(struct ctx *c, const char *path, json_t **out)
{
	json_t *all = json_array(), *page;
	char url[1024], *cursor = NULL;
	int rc;

	for (;;) {
		snprintf(url, sizeof(url), "%s?limit=100%s%s", path, cursor ? "&cursor=" : "",
			 cursor ? cursor : "");
		free(cursor);
		cursor = NULL;
		if ((rc = api(c, "GET", url, NULL, &page)) != 0) {
			json_decref(all);
			return rc;
		}
		json_array_extend(all, json_object_get(page, "data"));
		if (json_is_string(json_object_get(page, "next")))
			cursor = strdup(json_string_value(json_object_get(page, "next")));
		json_decref(page);
		if (!cursor)
			break;
	}
	*out = json_pack("{s:o}", "data", all);
	return 0;
}

static json_t *uid_array(char **uids, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(uids[i]));
	return a;
}

static int run(struct ctx *c, const char *cmd, char **a, int n)
{
	char path[1024];
	json_t *out = NULL, *body = NULL;
	int rc;

#define NEED(k, u)                                                                                 \
	do {                                                                                       \
		if (n != (k)) {                                                                    \
			fprintf(stderr, "usage: callwire admin %s %s\n", cmd, u);                  \
			return 2;                                                                  \
		}                                                                                  \
	} while (0)

	if (strcmp(cmd, "create-app") == 0) {
		NEED(1, "NAME");
		body = json_pack("{s:s}", "name", a[0]);
		rc = api(c, "POST", "/v1/apps", body, &out);
	} else if (strcmp(cmd, "list-apps") == 0) {
		NEED(0, "");
		rc = list_all(c, "/v1/apps", &out);
	} else if (strcmp(cmd, "get-app") == 0) {
		NEED(1, "APP");
		snprintf(path, sizeof(path), "/v1/apps/%s", a[0]);
		rc = api(c, "GET", path, NULL, &out);
	} else if (strcmp(cmd, "set-settings") == 0) {
		json_t *settings = json_object();
		if (n < 2) {
			json_decref(settings);
			NEED(2, "APP key=value...");
		}
		for (int i = 1; i < n; i++) {
			char *eq = strchr(a[i], '=');
			json_t *v = eq ? json_loads(eq + 1, JSON_DECODE_ANY, NULL) : NULL;
			if (!v) {
				fprintf(stderr, "callwire admin: '%s' is not key=JSON-value\n",
					a[i]);
				json_decref(settings);
				return 2;
			}
			*eq = '\0';
			json_object_set_new(settings, a[i], v);
		}
		body = json_pack("{s:o}", "settings", settings);
		snprintf(path, sizeof(path), "/v1/apps/%s", a[0]);
		rc = api(c, "PATCH", path, body, &out);
	} else if (strcmp(cmd, "create-user") == 0) {
		NEED(3, "APP UID NAME");
		body = json_pack("{s:s,s:s}", "uid", a[1], "name", a[2]);
		snprintf(path, sizeof(path), "/v1/apps/%s/users", a[0]);
		rc = api(c, "POST", path, body, &out);
	} else if (strcmp(cmd, "get-user") == 0) {
		NEED(2, "APP UID");
		snprintf(path, sizeof(path), "/v1/apps/%s/users/%s", a[0], a[1]);
		rc = api(c, "GET", path, NULL, &out);
	} else if (strcmp(cmd, "list-users") == 0) {
		NEED(1, "APP");
		snprintf(path, sizeof(path), "/v1/apps/%s/users", a[0]);
		rc = list_all(c, path, &out);
	} else if (strcmp(cmd, "delete-user") == 0) {
		NEED(2, "APP UID");
		snprintf(path, sizeof(path), "/v1/apps/%s/users/%s", a[0], a[1]);
		rc = api(c, "DELETE", path, NULL, &out);
		if (!rc && !out)
			out = json_pack("{s:s,s:b}", "uid", a[1], "deleted", 1);
	} else if (strcmp(cmd, "create-group") == 0) {
		if (n < 3)
			NEED(3, "APP GUID NAME [UID...]");
		body = json_pack("{s:s,s:s,s:o}", "guid", a[1], "name", a[2], "members",
				 uid_array(a + 3, n - 3));
		snprintf(path, sizeof(path), "/v1/apps/%s/groups", a[0]);
		rc = api(c, "POST", path, body, &out);
	} else if (strcmp(cmd, "add-members") == 0) {
		if (n < 3)
			NEED(3, "APP GUID UID...");
		body = json_pack("{s:o}", "uids", uid_array(a + 2, n - 2));
		snprintf(path, sizeof(path), "/v1/apps/%s/groups/%s/members", a[0], a[1]);
		rc = api(c, "POST", path, body, &out);
	} else if (strcmp(cmd, "get-group") == 0) {
		NEED(2, "APP GUID");
		snprintf(path, sizeof(path), "/v1/apps/%s/groups/%s", a[0], a[1]);
		rc = api(c, "GET", path, NULL, &out);
	} else if (strcmp(cmd, "list-groups") == 0) {
		NEED(1, "APP");
		snprintf(path, sizeof(path), "/v1/apps/%s/groups", a[0]);
		rc = list_all(c, path, &out);
	} else if (strcmp(cmd, "create-token") == 0) {
		long long ttl = 0;
		char *end = NULL;
		if (n == 4 && strcmp(a[2], "--ttl") == 0) {
			errno = 0;
			ttl = strtoll(a[3], &end, 10);
			if (!*a[3] || *end || errno) {
				fprintf(stderr, "callwire admin: --ttl wants whole seconds\n");
				return 2;
			}
			n = 2;
		}
		NEED(2, "APP UID [--ttl SECONDS]");
		body = end ? json_pack("{s:I}", "ttl", (json_int_t)ttl) : json_object();
		snprintf(path, sizeof(path), "/v1/apps/%s/users/%s/auth_tokens", a[0], a[1]);
		rc = api(c, "POST", path, body, &out);
	} else if (strcmp(cmd, "revoke-tokens") == 0) {
		NEED(2, "APP UID");
		snprintf(path, sizeof(path), "/v1/apps/%s/users/%s/auth_tokens", a[0], a[1]);
		rc = api(c, "DELETE", path, NULL, &out);
	} else {
		fprintf(stderr, "callwire admin: unknown command '%s'\n", cmd);
		return 2;
	}
#undef NEED
	if (!rc)
		print_result(c, out);
	json_decref(out);
	json_decref(body);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: callwire admin [--server URL] [--key SECRET] [--data DIR] [--json] COMMAND "
		"ARGS...\n"
		"\n"
		"  create-app NAME                 list-apps\n"
		"  get-app APP                     set-settings APP key=value...\n"
		"  create-user APP UID NAME        get-user APP UID\n"
		"  list-users APP                  delete-user APP UID\n"
		"  create-group APP GUID NAME [UID...]\n"
		"  add-members APP GUID UID...     get-group APP GUID\n"
		"  list-groups APP\n"
		"  create-token APP UID [--ttl SECONDS]\n"
		"  revoke-tokens APP UID\n"
		"\n"
		"The server is --server, CALLWIRE_SERVER or http://127.0.0.1:8080. The key is "
		"--key,\n"
		"CALLWIRE_KEY, CALLWIRE_MASTER_KEY, or DIR/master.key (DIR: --data, CALLWIRE_DATA "
		"or\n"
		"./data). A REST API key works for its own app's commands.\n");
}

int cw_cmd_admin(int argc, char **argv)
{
	const char *data = getenv("CALLWIRE_DATA"), *key = NULL;
	struct ctx c = {0};
	int i, rc;

	c.server = getenv("CALLWIRE_SERVER");
	for (i = 0; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			c.json = 1;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (i + 1 < argc && strcmp(argv[i], "--server") == 0) {
			c.server = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--key") == 0) {
			key = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--data") == 0) {
			data = argv[++i];
		} else {
			fprintf(stderr, "callwire admin: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!c.server || !*c.server)
		c.server = "http://127.0.0.1:8080";
	if (!key)
		key = getenv("CALLWIRE_KEY");
	if (!key)
		key = getenv("CALLWIRE_MASTER_KEY");
	if (key) {
		cw_strlcpy(c.key, key, sizeof(c.key));
	} else {
		char mk[CW_SECRET_MAX], path[1100];
		FILE *f;
		snprintf(path, sizeof(path), "%s/master.key", data && *data ? data : "./data");
		f = fopen(path, "r");
		if (!f || !fgets(mk, sizeof(mk), f)) {
			fprintf(stderr,
				"callwire admin: no key: pass --key, set CALLWIRE_KEY, or point "
				"--data at the server's data folder (%s unreadable)\n",
				path);
			if (f)
				fclose(f);
			return 2;
		}
		fclose(f);
		mk[strcspn(mk, "\r\n")] = '\0';
		cw_strlcpy(c.key, mk, sizeof(c.key));
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	c.curl = curl_easy_init();
	rc = c.curl ? run(&c, argv[i], argv + i + 1, argc - i - 1) : 1;
	curl_easy_cleanup(c.curl);
	curl_global_cleanup();
	return rc;
}
