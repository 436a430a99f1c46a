/* libFuzzer target: arbitrary bytes as a STUN datagram; the answers to what parses parse back. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The passwords of the seeds: RFC 5769's and the browser-style checks' server ice-pwd. */
static const char *const keys[] = {"VOkJxbRl1RmTxUk/WvJxBt", "q5Gz2pVZ8mT7LwK0bXcR3eYn"};

static void must(int cond)
{
	if (!cond)
		abort();
}

/* The answers ICE-lite gives to a request must be well-formed for any request. */
static void answer(const struct cw_stun_msg *req, const char *key, const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct cw_stun_msg res;
	uint8_t out[256];
	size_t len = 0, klen = strlen(key);
	int code = req->n_unknown ? CW_STUN_CODE_UNKNOWN_ATTRIBUTE : CW_STUN_CODE_ROLE_CONFLICT;

	/* A source address drawn from the input: IPv4, IPv6, sometimes IPv4-mapped IPv6. */
	memset(&ss, 0, sizeof(ss));
	if (data[size - 1] & 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)size);
		memcpy(&sin->sin_addr, data + 8, 4);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)size);
		memcpy(sin6->sin6_addr.s6_addr, data + 4, 16);
	}
	must(cw_stun_build_binding_success(out, sizeof(out), &len, req, &ss, key, klen) == 0);
	must(cw_stun_is_stun(out, len));
	must(cw_stun_parse(&res, out, len) == 0);
	must(res.cls == CW_STUN_SUCCESS && res.method == CW_STUN_BINDING && res.has_mapped);
	must(memcmp(res.tid, req->tid, CW_STUN_TID_LEN) == 0 && res.has_fingerprint);
	must(cw_stun_check_integrity(&res, key, klen) == 0);
	if (ss.ss_family == AF_INET)
		must(memcmp(&res.mapped, &ss, sizeof(struct sockaddr_in)) == 0);
	else if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		must(memcmp(&res.mapped, &ss, sizeof(*sin6)) == 0);
	else
		must(res.mapped.ss_family == AF_INET);

	must(cw_stun_build_binding_error(out, sizeof(out), &len, req, code, key, klen) == 0);
	must(cw_stun_parse(&res, out, len) == 0 && res.error_code == code);
	must(cw_stun_check_integrity(&res, key, klen) == 0);
}

/* A check rebuilt from what a parsed one says must say the same. */
static void rebuild(const struct cw_stun_msg *msg, const char *key)
{
	char user[CW_STUN_USERNAME_MAX + 1];
	struct cw_stun_check check = {
		.username = user,
		.priority = msg->priority,
		.role = msg->role,
		.tie_breaker = msg->tie_breaker,
		.use_candidate = msg->use_candidate,
	};
	struct cw_stun_msg back;
	uint8_t out[640];
	size_t len = 0;

	if (!msg->username || memchr(msg->username, 0, msg->username_len) ||
	    msg->role == CW_STUN_ROLE_NONE ||
	    (msg->use_candidate && msg->role != CW_STUN_ROLE_CONTROLLING))
		return;
	memcpy(user, msg->username, msg->username_len);
	user[msg->username_len] = '\0';
	must(cw_stun_build_binding_request(out, sizeof(out), &len, msg->tid, &check, key,
					   strlen(key)) == 0);
	must(cw_stun_parse(&back, out, len) == 0);
	must(back.username_len == msg->username_len &&
	     memcmp(back.username, msg->username, msg->username_len) == 0);
	must(back.priority == msg->priority && back.role == msg->role &&
	     back.tie_breaker == msg->tie_breaker && back.use_candidate == msg->use_candidate);
	must(cw_stun_check_integrity(&back, key, strlen(key)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_stun_msg msg;
	const char *key = keys[size % 2];
	int rc = cw_stun_parse(&msg, data, size);

	if (rc != 0 && rc != CW_STUN_ERR_UNKNOWN_ATTR) {
		must(rc < 0 && strcmp(cw_stun_err_name(rc), "UNKNOWN") != 0);
		return 0;
	}
	/* The demultiplexer's quick test never turns away what the parser accepts. */
	must(cw_stun_is_stun(data, size));
	must(msg.len == size && msg.integrity_off < size);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (cw_stun_check_integrity(&msg, keys[i], strlen(keys[i])) == 0)
			key = keys[i];
	}
	if (msg.cls == CW_STUN_REQUEST) {
		answer(&msg, key, data, size);
		if (rc == 0)
			rebuild(&msg, key);
	}
	return 0;
}
