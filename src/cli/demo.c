/* demo: a ready-to-use app with three users and a group for `make run` on a new data folder. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/util.h"

/* The server's base URL for people: a wildcard listen address is reached on loopback, and
 * an IPv6 address goes in brackets. */
static void base_url(const char *listen, char *out, size_t size)
{
	char host[256];
	int port;

	if (cw_parse_listen(listen, host, sizeof(host), &port) != 0) {
		snprintf(out, size, "http://%s", listen);
		return;
	}
	if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
	    strcmp(host, "[::]") == 0 || strcmp(host, "*") == 0)
		cw_strlcpy(host, "127.0.0.1", sizeof(host));
	if (strchr(host, ':') && host[0] != '[')
		snprintf(out, size, "http://[%s]:%d", host, port);
	else
		snprintf(out, size, "http://%s:%d", host, port);
}

static void print_banner(const char *app_id, const char *auth_key, const char *listen,
			 const char *path, bool browser)
{
	char url[300];

	base_url(listen, url, sizeof(url));
	printf("\n  callwire demo app\n");
	if (browser)
		printf("    open %s/#/login?app=%s&authKey=%s\n"
		       "    in two browser windows and log in as alice in one and bob in the "
		       "other\n"
		       "\n",
		       url, app_id, auth_key);
	printf("    app id    %s\n"
	       "    auth key  %s   (development logins; kept in %s)\n"
	       "    users     alice, bob, carol\n"
	       "    group     team (alice, bob, carol)\n"
	       "\n"
	       "  ring bob from the command line (two terminals; callwire is build/callwire\n"
	       "  after make, or on PATH after make install):\n"
	       "    callwire login --server %s --app %s --uid bob --auth-key %s "
	       "--session bob.json\n"
	       "    callwire listen --session bob.json\n"
	       "    callwire login --server %s --app %s --uid alice --auth-key %s "
	       "--session alice.json\n"
	       "    callwire call bob --wait --session alice.json\n"
	       "\n"
	       "  or log in as alice over REST:\n"
	       "    curl -s -X POST %s/v1/apps/%s/login \\\n"
	       "         -H 'Content-Type: application/json' \\\n"
	       "         -d '{\"uid\":\"alice\",\"authKey\":\"%s\"}'\n"
	       "  then send the authToken it returns as 'Authorization: Bearer <token>'.\n\n",
	       app_id, auth_key, path, url, app_id, auth_key, url, app_id, auth_key, url, app_id,
	       auth_key);
	fflush(stdout);
}

static int create_demo(struct cw_store *store, const char *path, json_t **out)
{
	static const char *const users[][2] = {
		{"alice", "Alice"}, {"bob", "Bob"}, {"carol", "Carol"}};
	char auth_key[CW_SECRET_MAX], rest_key[CW_SECRET_MAX];
	char members[CW_ARRAY_SIZE(users)][CW_UID_MAX + 1];
	struct cw_group team = {.members = members};
	struct cw_app app;
	char *text = NULL;
	int fd, err;

	if ((err = cw_auth_create_app(store, "Demo", cw_now_ms(), &app, auth_key, rest_key)))
		return err;
	for (size_t i = 0; i < CW_ARRAY_SIZE(users); i++) {
		struct cw_user u = {0};
		cw_strlcpy(u.uid, users[i][0], sizeof(u.uid));
		u.name = (char *)users[i][1];
		u.metadata = "{}";
		u.created_at = u.updated_at = app.created_at;
		if ((err = cw_store_user_create(store, app.id, &u)))
			return err;
		cw_strlcpy(team.members[i], users[i][0], sizeof(team.members[i]));
	}
	cw_strlcpy(team.guid, "team", sizeof(team.guid));
	team.name = (char *)"Team";
	team.n_members = CW_ARRAY_SIZE(users);
	team.created_at = app.created_at;
	if ((err = cw_store_group_create(store, app.id, &team, NULL)))
		return err;

	*out = json_pack("{s:s,s:s,s:s}", "appId", app.id, "authKey", auth_key, "restApiKey",
			 rest_key);
	text = json_dumps(*out, JSON_INDENT(2));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !text || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		err = -EIO;
	if (fd >= 0)
		close(fd);
	free(text);
	return err;
}

int cw_demo_ensure(struct cw_store *store, const char *data_dir, const char *listen, bool browser)
{
	char path[2048];
	struct cw_app *apps = NULL;
	json_t *demo = NULL;
	size_t n = 0;
	bool more;
	int err;

	snprintf(path, sizeof(path), "%s/demo.json", data_dir);
	err = cw_store_app_list(store, NULL, 1, &apps, &n, &more);
	cw_apps_free(apps, n);
	if (err)
		return err;
	if (n == 0) {
		err = create_demo(store, path, &demo);
		if (err) {
			cw_error("demo.create", "err=\"%s\"", strerror(-err));
			json_decref(demo);
			return err;
		}
		cw_info("demo.created", "app=%s",
			json_string_value(json_object_get(demo, "appId")));
	} else {
		demo = json_load_file(path, 0, NULL);
		if (!demo)
			return 0; /* an existing folder without demo app: just serve it */
	}
	print_banner(json_string_value(json_object_get(demo, "appId")),
		     json_string_value(json_object_get(demo, "authKey")), listen, path, browser);
	json_decref(demo);
	return 0;
}
