/* session_file: the login kept in a file the app names, written atomically, mode 0600. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdk.h"

int cw__session_write(const char *path, const char *url, const char *app_id, const char *token,
		      const cw_user *user)
{
	json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:o}", "version", 1, "server", url, "appId",
				app_id, "authToken", token, "user", cw__user_to_json(user));
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL, *tmp = NULL;
	int fd = -1, err = CW_ERR_IO;
	size_t len, off = 0;

	json_decref(doc);
	if (!text || asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		err = CW_ERR_NO_MEMORY;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	len = strlen(text);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == 0)
		err = 0;
out:
	if (fd >= 0)
		close(fd);
	if (err && tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	return err;
}

int cw__session_read(const char *path, const char *url, const char *app_id, char **tokenp,
		     cw_user **userp)
{
	json_t *doc;
	const char *server, *app, *token;
	int err;

	*tokenp = NULL;
	*userp = NULL;
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (!doc)
		return access(path, F_OK) == 0 ? CW_ERR_IO : CW_ERR_NOT_LOGGED_IN;
	server = json_string_value(json_object_get(doc, "server"));
	app = json_string_value(json_object_get(doc, "appId"));
	token = json_string_value(json_object_get(doc, "authToken"));
	err = CW_ERR_NOT_LOGGED_IN;
	if (!server || !app || !token || strcmp(server, url) != 0 || strcmp(app, app_id) != 0)
		goto out;
	err = cw__user_from_json(userp, json_object_get(doc, "user"));
	if (err) {
		err = err == CW_ERR_NO_MEMORY ? err : CW_ERR_NOT_LOGGED_IN;
		goto out;
	}
	*tokenp = strdup(token);
	if (!*tokenp) {
		cw_user_unref(*userp);
		*userp = NULL;
		err = CW_ERR_NO_MEMORY;
	}
out:
	json_decref(doc);
	return err;
}

void cw__session_remove(const char *path)
{
	unlink(path);
}
