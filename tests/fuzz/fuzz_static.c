/* libFuzzer target: a request path and an If-None-Match header (split at the first newline)
 * against a small web folder. Whatever the bytes, the answer is one of the folder's own
 * files, a 304 for one of them, or an error: never a file from outside the folder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INSIDE "inside the folder"
#define OUTSIDE "SECRET outside the folder"

static char root[256];

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static char base[] = "/tmp/cw-fuzz-static-XXXXXX";

/* Removes what setup made (at exit). */
static void teardown(void)
{
	static const char *const files[] = {"web/index.html",	  "web/a.js", "web/.hidden",
					    "web/sub/index.html", "web/out",  "secret"};
	static const char *const dirs[] = {"web/sub", "web", ""};
	char path[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", base, files[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", base, dirs[i]);
		rmdir(path);
	}
}

/* base/web is the folder (with a subfolder, a dotfile and a symlink that leaves it);
 * base/secret sits beside it. */
static void setup(void)
{
	char path[512];

	if (!mkdtemp(base))
		abort();
	atexit(teardown);
	put(base, "secret", OUTSIDE);
	snprintf(root, sizeof(root), "%s/web", base);
	snprintf(path, sizeof(path), "%s/sub", root);
	if (mkdir(root, 0700) != 0 || mkdir(path, 0700) != 0)
		abort();
	put(root, "index.html", INSIDE);
	put(root, "a.js", INSIDE);
	put(root, ".hidden", OUTSIDE);
	put(path, "index.html", INSIDE);
	snprintf(path, sizeof(path), "%s/out", root);
	if (symlink("../secret", path) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_req req = {0};
	char *text, *nl;

	if (!root[0])
		setup();
	/* lws hands the server NUL-terminated, non-empty paths. */
	text = malloc(size + 2);
	if (!text)
		return 0;
	text[0] = '/';
	memcpy(text + 1, data, size);
	text[size + 1] = '\0';
	nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	req.method = size && data[0] == 'H' ? CW_HEAD : CW_GET;
	req.path = text;
	req.if_none_match = nl ? nl + 1 : NULL;
	req.web_root = root;
	cw_static_serve(&req);
	if (req.status == 200 && req.resp && memmem(req.resp, req.resp_len, "SECRET", 6))
		abort();
	if (req.status != 200 && req.status != 304 && req.status != 404 && req.status != 405)
		abort();
	cw_req_release(&req);
	free(text);
	return 0;
}
