/* ws: a minimal non-blocking WebSocket client (RFC 6455) for the load generator: the
 * HTTP/1.1 upgrade with a subprotocol, masked text frames out, unmasked frames in, pings
 * answered, close handled. The caller owns the epoll set and the event loop. */
#ifndef BENCH_WS_H
#define BENCH_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

enum ws_state {
	WS_CONNECTING, /* TCP connect in progress */
	WS_UPGRADING,  /* upgrade request sent, waiting for the 101 */
	WS_OPEN,
	WS_CLOSED, /* closed by either side or failed; see close_code and error */
};

struct ws;

struct ws_handler {
	/* The 101 was checked: text may be sent now. */
	void (*open)(struct ws *w);
	/* One complete text message (not NUL-terminated; text[len] is writable). */
	void (*text)(struct ws *w, char *text, size_t len);
	/* The connection is gone; the ws is freed by the caller with ws_free afterwards. */
	void (*closed)(struct ws *w);
};

struct ws {
	int fd, epfd;
	enum ws_state state;
	void *user;
	const struct ws_handler *h;
	int close_code;	   /* from the server's close frame, 0 when none came */
	const char *error; /* what went wrong, NULL after a clean close */
	char key[32];	   /* Sec-WebSocket-Key, base64 of 16 random bytes */
	char *rx;	   /* bytes received but not yet parsed */
	size_t rx_len, rx_cap;
	char *msg; /* a fragmented message being reassembled */
	size_t msg_len, msg_cap;
	char *tx; /* bytes the kernel did not take yet */
	size_t tx_len, tx_cap;
	bool want_out; /* EPOLLOUT is registered */
};

/* Starts a non-blocking connect to addr, queues the upgrade request (Host: host_port)
 * and adds the socket to epfd with data.ptr = w. Returns 0 or a negative errno. */
int ws_connect(struct ws *w, int epfd, const struct sockaddr_in *addr, const char *host_port,
	       const struct ws_handler *h, void *user);

/* Handles epoll events for w. May call the handler's callbacks, including closed. */
void ws_on_events(struct ws *w, uint32_t events);

/* Queues one masked text frame. Returns 0, or -1 when the connection is not open. */
int ws_send_text(struct ws *w, const char *text, size_t len);

/* Sends a close frame (1000) and shuts the connection down; closed is not called. */
void ws_close(struct ws *w);

/* Releases the socket and buffers; the struct itself belongs to the caller. */
void ws_free(struct ws *w);

#endif
