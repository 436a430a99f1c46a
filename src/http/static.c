/* static: the files of the web folder (the browser client), for GET and HEAD outside /v1. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/internal.h"
#include "util/util.h"

/* The client's files are small; a larger one is a mistake in the folder, not a download. */
#define STATIC_FILE_MAX (8 * 1024 * 1024)

/* The page may talk to its own origin only (HTTP and the realtime WebSocket), show camera
 * and microphone streams (blob:), and load no script, style or frame from elsewhere. */
static const char csp[] = "default-src 'self'; connect-src 'self' ws: wss:; "
			  "img-src 'self' data: blob:; media-src 'self' blob:; "
			  "style-src 'self'; script-src 'self'; object-src 'none'; "
			  "base-uri 'none'; frame-ancestors 'none'";

static const struct {
	const char *ext, *type;
} types[] = {
	{"html", "text/html; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"ico", "image/x-icon"},
	{"json", "application/json"},
	{"webmanifest", "application/manifest+json"},
	{"wav", "audio/wav"},
	{"woff2", "font/woff2"},
};

bool cw_static_path(const char *path)
{
	return strcmp(path, "/v1") != 0 && strncmp(path, "/v1/", 4) != 0 &&
	       strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '~' || c == '-';
}

/* Whether a path (already URL-decoded) may name a file of the folder: segments of
 * [A-Za-z0-9._~-] that do not start with a dot, one slash apart. Only the last segment may
 * be empty (a trailing slash: that folder's index.html). This keeps out "..", dotfiles such
 * as .git, and anything a file system might read in a surprising way. */
static bool path_ok(const char *path)
{
	const char *p = path;

	if (*p != '/')
		return false;
	while (*p == '/') {
		size_t len = 0;

		p++;
		while (p[len] && p[len] != '/') {
			if (!name_char(p[len]))
				return false;
			len++;
		}
		if (len == 0)
			return p[len] == '\0';
		if (p[0] == '.')
			return false;
		p += len;
	}
	return *p == '\0';
}

/* The part of real, a resolved path, below the folder root (as "/a/b"), or NULL when real
 * is not strictly inside root. */
static const char *below(const char *root, const char *real)
{
	size_t n = strlen(root);

	if (n > 0 && root[n - 1] == '/')
		n--; /* the root is "/" */
	if (strncmp(real, root, n) != 0 || real[n] != '/' || real[n + 1] == '\0')
		return NULL;
	return real + n;
}

static const char *type_of(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

	if (dot && (!slash || dot > slash)) {
		for (size_t i = 0; i < CW_ARRAY_SIZE(types); i++) {
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
		}
	}
	return "application/octet-stream";
}

/* Whether an If-None-Match value (a list of entity tags, or "*") names etag. The
 * comparison is the weak one RFC 9110 asks for here: a W/ prefix does not matter. */
static bool etag_matches(const char *header, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = header, *end;

	while (*p) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"') {
			p += strcspn(p, ",");
			continue;
		}
		end = strchr(p + 1, '"');
		if (!end)
			return false;
		if ((size_t)(end + 1 - p) == elen && memcmp(p, etag, elen) == 0)
			return true;
		p = end + 1;
	}
	return false;
}

static void not_found(struct cw_req *req)
{
	cw_reply_error(req, CW_E_NOT_FOUND, "not found: %s", req->path);
}

/* Reads exactly size bytes of fd into a new buffer; a file that shrank meanwhile gives
 * what it still has. Returns 0 or a negative errno. */
static int read_all(int fd, size_t size, char **out, size_t *len)
{
	char *buf = malloc(size ? size : 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	while (n < size) {
		ssize_t r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno ? -errno : -EIO;
			free(buf);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* The headers of a file's answer (200 and 304), after its body and status are set. */
static int file_headers(struct cw_req *req, const char *type, const char *etag)
{
	int err;

	req->cache_control = "no-cache";
	if ((err = cw_reply_header(req, "etag", etag)) ||
	    (err = cw_reply_header(req, "x-content-type-options", "nosniff")) ||
	    (err = cw_reply_header(req, "referrer-policy", "no-referrer")))
		return err;
	if (strncmp(type, "text/html", 9) == 0)
		return cw_reply_header(req, "content-security-policy", csp);
	return 0;
}

/* Serves real, the resolved form of path; the type follows the name asked for. */
static void serve_file(struct cw_req *req, const char *path, const char *real)
{
	const char *type = type_of(path);
	char etag[80], *body = NULL;
	struct stat st;
	size_t len = 0;
	int fd, err;

	/* O_NONBLOCK: a FIFO in the folder must not hang the loop in open(). */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
			not_found(req);
		} else {
			cw_error("web.read", "path=%s err=\"%s\"", req->path, strerror(errno));
			cw_reply_error(req, CW_E_INTERNAL, "cannot read %s", req->path);
		}
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		not_found(req);
		goto out;
	}
	if (st.st_size > STATIC_FILE_MAX) {
		cw_error("web.too_large", "path=%s size=%lld max=%d", req->path,
			 (long long)st.st_size, STATIC_FILE_MAX);
		cw_reply_error(req, CW_E_INTERNAL, "%s is larger than the server serves",
			       req->path);
		goto out;
	}
	/* Changes whenever the file is edited or replaced (a new inode, size or mtime). */
	snprintf(etag, sizeof(etag), "\"%" PRIxMAX "-%" PRIxMAX "-%" PRIxMAX "\"",
		 (uintmax_t)st.st_ino, (uintmax_t)st.st_size,
		 (uintmax_t)st.st_mtim.tv_sec * 1000000000u + (uintmax_t)st.st_mtim.tv_nsec);

	if (req->if_none_match && etag_matches(req->if_none_match, etag)) {
		cw_reply_text(req, 304, NULL, NULL, 0);
		req->resp_len = (size_t)st.st_size;
		req->omit_body = true;
	} else if (req->method == CW_HEAD) {
		cw_reply_text(req, 200, type, NULL, 0);
		req->resp_len = (size_t)st.st_size;
		req->omit_body = true;
	} else {
		err = read_all(fd, (size_t)st.st_size, &body, &len);
		if (err) {
			cw_error("web.read", "path=%s err=\"%s\"", req->path, strerror(-err));
			cw_reply_error(req, CW_E_INTERNAL, "cannot read %s", req->path);
			goto out;
		}
		cw_reply_text(req, 200, type, body, len);
	}
	if (file_headers(req, type, etag) != 0)
		cw_reply_error(req, CW_E_INTERNAL, "response headers do not fit");
out:
	close(fd);
}

void cw_static_serve(struct cw_req *req)
{
	char path[PATH_MAX], real[PATH_MAX];
	const char *rest;
	size_t plen = strlen(req->path);
	int n;

	if (req->method != CW_GET && req->method != CW_HEAD) {
		cw_strlcpy(req->allow, "GET, HEAD", sizeof(req->allow));
		cw_reply_error(req, CW_E_METHOD, "method %s is not allowed on %s; use GET, HEAD",
			       cw_method_name(req->method), req->path);
		return;
	}
	if (!path_ok(req->path)) {
		not_found(req);
		return;
	}
	n = snprintf(path, sizeof(path), "%s%s%s", req->web_root, req->path,
		     req->path[plen - 1] == '/' ? "index.html" : "");
	if (n < 0 || (size_t)n >= sizeof(path)) {
		not_found(req);
		return;
	}
	/* Symlinks are followed, but what they lead to must be in the folder too, and must not
	 * be a dotfile there either. */
	if (!realpath(path, real) || !(rest = below(req->web_root, real)) || !path_ok(rest)) {
		not_found(req);
		return;
	}
	serve_file(req, path, real);
}
