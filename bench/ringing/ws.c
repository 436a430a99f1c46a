/* ws: a minimal non-blocking WebSocket client for the load generator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SUBPROTOCOL "callwire.v1"
#define HEADERS_MAX 8192
#define FRAME_MAX (16u * 1024 * 1024)

/* Masking keys only have to keep intermediaries from reading the payload as HTTP; a fast
 * generator seeded from the kernel is enough for a load generator. */
static uint64_t rng_state;

static uint32_t rng_next(void)
{
	if (!rng_state &&
	    (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state) || !rng_state))
		rng_state = 0x9e3779b97f4a7c15ull;
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static int buf_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 1024;
		char *b;
		while (c < *len + n)
			c *= 2;
		b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}

static void set_events(struct ws *w, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = w};

	if (w->want_out == want_out)
		return;
	w->want_out = want_out;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

static void fail(struct ws *w, const char *error)
{
	if (w->state == WS_CLOSED)
		return;
	w->state = WS_CLOSED;
	w->error = error;
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->h->closed)
		w->h->closed(w);
}

/* Writes what the kernel takes now; keeps the rest for EPOLLOUT. */
static void flush(struct ws *w)
{
	size_t off = 0;

	while (off < w->tx_len) {
		ssize_t n = write(w->fd, w->tx + off, w->tx_len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			fail(w, "write failed");
			return;
		}
		off += (size_t)n;
	}
	memmove(w->tx, w->tx + off, w->tx_len - off);
	w->tx_len -= off;
	set_events(w, w->tx_len > 0);
}

static int send_raw(struct ws *w, const void *data, size_t len)
{
	if (buf_append(&w->tx, &w->tx_len, &w->tx_cap, data, len) != 0) {
		fail(w, "out of memory");
		return -1;
	}
	if (w->state != WS_CONNECTING)
		flush(w);
	return 0;
}

static int send_frame(struct ws *w, int opcode, const char *payload, size_t len)
{
	unsigned char stack[1024], *f = stack, *mask;
	size_t hdr = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
	uint32_t m = rng_next();
	int rc;

	if (hdr + 4 + len > sizeof(stack) && !(f = malloc(hdr + 4 + len))) {
		fail(w, "out of memory");
		return -1;
	}
	f[0] = (unsigned char)(0x80 | opcode);
	if (hdr == 2) {
		f[1] = (unsigned char)(0x80 | len);
	} else if (hdr == 4) {
		f[1] = 0x80 | 126;
		f[2] = (unsigned char)(len >> 8);
		f[3] = (unsigned char)len;
	} else {
		f[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	mask = f + hdr;
	memcpy(mask, &m, 4);
	for (size_t i = 0; i < len; i++)
		f[hdr + 4 + i] = (unsigned char)payload[i] ^ mask[i & 3];
	rc = send_raw(w, f, hdr + 4 + len);
	if (f != stack)
		free(f);
	return rc;
}

int ws_send_text(struct ws *w, const char *text, size_t len)
{
	if (w->state != WS_OPEN)
		return -1;
	return send_frame(w, 0x1, text, len);
}

void ws_close(struct ws *w)
{
	static const char code[2] = {0x03, (char)0xe8}; /* 1000 */

	if (w->state == WS_CLOSED)
		return;
	if (w->state == WS_OPEN)
		send_frame(w, 0x8, code, sizeof(code));
	w->state = WS_CLOSED;
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

void ws_free(struct ws *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->rx);
	free(w->msg);
	free(w->tx);
	w->rx = w->msg = w->tx = NULL;
	w->rx_len = w->rx_cap = w->msg_len = w->msg_cap = w->tx_len = w->tx_cap = 0;
}

static void b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int ws_connect(struct ws *w, int epfd, const struct sockaddr_in *addr, const char *host_port,
	       const struct ws_handler *h, void *user)
{
	struct epoll_event ev;
	unsigned char raw[16];
	char req[512];
	int one = 1, n;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->epfd = epfd;
	w->h = h;
	w->user = user;
	for (int i = 0; i < 4; i++) {
		uint32_t r = rng_next();
		memcpy(raw + 4 * i, &r, 4);
	}
	b64(raw, sizeof(raw), w->key);
	w->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0)
		return -errno;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(w->fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 &&
	    errno != EINPROGRESS) {
		int err = -errno;
		close(w->fd);
		w->fd = -1;
		return err;
	}
	n = snprintf(req, sizeof(req),
		     "GET /v1/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " SUBPROTOCOL "\r\n\r\n",
		     host_port, w->key);
	w->state = WS_CONNECTING;
	if (buf_append(&w->tx, &w->tx_len, &w->tx_cap, req, (size_t)n) != 0)
		return -ENOMEM;
	w->want_out = true;
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = w;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0)
		return -errno;
	return 0;
}

/* The value of header `name` (lowercase, with ':') in the response head, or NULL. */
static const char *header(const char *head, const char *name, size_t *len)
{
	size_t nlen = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *v, *end;
		if (strncasecmp(line, name, nlen) != 0)
			continue;
		v = line + nlen;
		while (*v == ' ' || *v == '\t')
			v++;
		end = strstr(v, "\r\n");
		if (!end)
			return NULL;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*len = (size_t)(end - v);
		return v;
	}
	return NULL;
}

/* Checks the 101 answer in rx; returns the length of the head, 0 while incomplete. */
static size_t check_upgrade(struct ws *w)
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char src[96], want[32], *end, *head;
	const char *v;
	size_t len, head_len;

	if (buf_append(&w->rx, &w->rx_len, &w->rx_cap, "", 1) != 0) /* NUL for strstr */
		return 0;
	w->rx_len--;
	end = strstr(w->rx, "\r\n\r\n");
	if (!end) {
		if (w->rx_len > HEADERS_MAX)
			fail(w, "upgrade answer too long");
		return 0;
	}
	head_len = (size_t)(end - w->rx) + 4;
	head = w->rx;
	end[2] = '\0'; /* the head as a string, ending with its last header's CRLF */
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		fail(w, "upgrade refused (no 101)");
		return 0;
	}
	snprintf(src, sizeof(src), "%s%s", w->key, WS_GUID);
	SHA1((const unsigned char *)src, strlen(src), digest);
	b64(digest, sizeof(digest), want);
	v = header(head, "sec-websocket-accept:", &len);
	if (!v || len != strlen(want) || memcmp(v, want, len) != 0) {
		fail(w, "bad Sec-WebSocket-Accept");
		return 0;
	}
	v = header(head, "sec-websocket-protocol:", &len);
	if (!v || len != strlen(SUBPROTOCOL) || memcmp(v, SUBPROTOCOL, len) != 0) {
		fail(w, "subprotocol not accepted");
		return 0;
	}
	return head_len;
}

static void on_control(struct ws *w, int op, const char *p, size_t len)
{
	if (op == 0x9) {
		send_frame(w, 0xA, p, len);
	} else if (op == 0x8) {
		w->close_code = len >= 2 ? ((unsigned char)p[0] << 8) | (unsigned char)p[1] : 1005;
		if (w->state == WS_OPEN)
			send_frame(w, 0x8, p, len >= 2 ? 2 : 0);
		fail(w, NULL);
	}
}

/* Parses one frame at p; returns the bytes it used, 0 when incomplete, -1 on error. */
static long parse_frame(struct ws *w, char *p, size_t avail)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t hdr = 2;
	uint64_t len;
	int op;
	bool fin;

	if (avail < 2)
		return 0;
	fin = u[0] & 0x80;
	op = u[0] & 0x0f;
	if ((u[0] & 0x70) || (u[1] & 0x80)) {
		fail(w, "reserved bits or a masked server frame");
		return -1;
	}
	len = u[1] & 0x7f;
	if (len == 126) {
		if (avail < 4)
			return 0;
		len = ((uint64_t)u[2] << 8) | u[3];
		hdr = 4;
	} else if (len == 127) {
		if (avail < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | u[2 + i];
		hdr = 10;
	}
	if (len > FRAME_MAX) {
		fail(w, "frame too large");
		return -1;
	}
	if (avail < hdr + len)
		return 0;
	p += hdr;
	if (op >= 0x8) {
		on_control(w, op, p, (size_t)len);
	} else if (op == 0x2 || (op == 0x1 && w->msg_len) || (op == 0x0 && !w->msg_len && !fin)) {
		fail(w, op == 0x2 ? "binary frame" : "bad fragmentation");
		return -1;
	} else if (fin && !w->msg_len) {
		w->h->text(w, p, (size_t)len);
	} else {
		if (buf_append(&w->msg, &w->msg_len, &w->msg_cap, p, (size_t)len) != 0) {
			fail(w, "out of memory");
			return -1;
		}
		if (fin) {
			w->h->text(w, w->msg, w->msg_len);
			w->msg_len = 0;
		}
	}
	return (long)(hdr + len);
}

/* Parses what is in data; returns the bytes used. Stops when the connection closes. */
static size_t parse(struct ws *w, char *data, size_t n)
{
	size_t off = 0;

	while (off < n && w->state == WS_OPEN) {
		long used = parse_frame(w, data + off, n - off);
		if (used <= 0)
			break;
		off += (size_t)used;
	}
	return off;
}

static void on_data(struct ws *w, char *data, size_t n)
{
	size_t used;

	if (w->state == WS_UPGRADING) {
		size_t head;
		if (buf_append(&w->rx, &w->rx_len, &w->rx_cap, data, n) != 0) {
			fail(w, "out of memory");
			return;
		}
		head = check_upgrade(w);
		if (!head)
			return;
		w->rx_len -= head;
		memmove(w->rx, w->rx + head, w->rx_len);
		w->state = WS_OPEN;
		w->h->open(w);
		data = NULL;
		n = 0;
	} else if (w->rx_len) {
		if (buf_append(&w->rx, &w->rx_len, &w->rx_cap, data, n) != 0) {
			fail(w, "out of memory");
			return;
		}
		data = NULL;
	}
	if (!data) {
		/* Parse from the connection's own buffer. */
		used = parse(w, w->rx, w->rx_len);
		if (w->state == WS_CLOSED)
			return;
		memmove(w->rx, w->rx + used, w->rx_len - used);
		w->rx_len -= used;
		return;
	}
	/* The common case: whole frames straight from the shared read buffer. */
	used = parse(w, data, n);
	if (w->state != WS_CLOSED && used < n &&
	    buf_append(&w->rx, &w->rx_len, &w->rx_cap, data + used, n - used) != 0)
		fail(w, "out of memory");
}

static void on_readable(struct ws *w)
{
	static char buf[1 << 16];

	for (int i = 0; i < 4 && w->state != WS_CLOSED; i++) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				fail(w, "read failed");
			return;
		}
		if (n == 0) {
			fail(w, "connection closed without a close frame");
			return;
		}
		on_data(w, buf, (size_t)n);
		if ((size_t)n < sizeof(buf))
			return;
	}
}

void ws_on_events(struct ws *w, uint32_t events)
{
	if (w->state == WS_CLOSED)
		return;
	if (w->state == WS_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			fail(w, err == ECONNREFUSED ? "connection refused" : "connect failed");
			return;
		}
		w->state = WS_UPGRADING;
		flush(w);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(w);
	if (w->state != WS_CLOSED && (events & EPOLLOUT))
		flush(w);
}
