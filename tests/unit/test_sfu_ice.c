/* Media workers answering ICE checks over real UDP sockets on loopback: who gets a success,
 * who a 400, 401 or 487, and what is dropped and counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtc/stun.h"
#include "sfu/sfu.h"

#define UFRAG "srvA"
#define PWD "abcdefghijklmnopqrstuvwx"
#define DEADLINE_MS 5000

struct fixture {
	struct cw_sfu *sfu;
	int fd;
	struct sockaddr_in local;
	uint8_t tid_seed;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	static struct fixture f;
	struct cw_sfu_config cfg = {.bind_ip = "127.0.0.1", .workers = 2};
	socklen_t len = sizeof(f.local);

	memset(&f, 0, sizeof(f));
	assert_int_equal(cw_sfu_start(&f.sfu, &cfg), 0);
	assert_int_equal(cw_sfu_workers(f.sfu), 2);
	assert_int_not_equal(cw_sfu_port(f.sfu, 0), cw_sfu_port(f.sfu, 1));
	f.fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(f.fd >= 0);
	f.local.sin_family = AF_INET;
	f.local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f.fd, (struct sockaddr *)&f.local, sizeof(f.local)), 0);
	assert_int_equal(getsockname(f.fd, (struct sockaddr *)&f.local, &len), 0);
	assert_int_equal(cw_sfu_add_peer(f.sfu, 0, UFRAG, PWD), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	cw_sfu_stop(f->sfu);
	return 0;
}

static void send_to(struct fixture *f, int worker, const void *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET};

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(cw_sfu_port(f->sfu, worker));
	assert_int_equal(sendto(f->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)len);
}

/* A check as a browser sends it; returns its length in buf. */
static size_t check(struct fixture *f, uint8_t *buf, uint8_t tid[CW_STUN_TID_LEN],
		    const char *username, const char *key, enum cw_stun_role role)
{
	struct cw_stun_check c = {.username = username,
				  .priority = 1853824767,
				  .role = role,
				  .tie_breaker = 0x1122334455667788ull,
				  .use_candidate = role == CW_STUN_ROLE_CONTROLLING};
	size_t len;

	memset(tid, ++f->tid_seed, CW_STUN_TID_LEN);
	assert_int_equal(
		cw_stun_build_binding_request(buf, 512, &len, tid, &c, key, key ? strlen(key) : 0),
		0);
	return len;
}

/* Waits for the answer to tid (ignoring others); false at the deadline. */
static bool answer(struct fixture *f, const uint8_t *tid, uint8_t *buf, size_t *len, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	struct cw_stun_msg m;

	while (now_ms() < end) {
		struct pollfd p = {.fd = f->fd, .events = POLLIN};
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			continue;
		ssize_t n = recv(f->fd, buf, 1500, 0);
		if (n > 0 && cw_stun_parse(&m, buf, (size_t)n) == 0 &&
		    memcmp(m.tid, tid, CW_STUN_TID_LEN) == 0) {
			*len = (size_t)n;
			return true;
		}
	}
	return false;
}

/* Checks until one succeeds (adding a peer is queued: the first may race it, as a real
 * agent's first checks race the answer's arrival). */
static void connect_peer(struct fixture *f, uint8_t *resp, size_t *len)
{
	int64_t end = now_ms() + DEADLINE_MS;
	uint8_t req[512], tid[CW_STUN_TID_LEN];
	struct cw_stun_msg m;

	while (now_ms() < end) {
		size_t n = check(f, req, tid, UFRAG ":cli1", PWD, CW_STUN_ROLE_CONTROLLING);
		send_to(f, 0, req, n);
		if (answer(f, tid, resp, len, 200) && cw_stun_parse(&m, resp, *len) == 0 &&
		    m.cls == CW_STUN_SUCCESS)
			return;
	}
	fail_msg("no successful check within %d ms", DEADLINE_MS);
}

static int expect_error(struct fixture *f, int worker, const uint8_t *req, size_t n,
			const uint8_t *tid)
{
	uint8_t resp[1500];
	size_t len;
	struct cw_stun_msg m;

	send_to(f, worker, req, n);
	assert_true(answer(f, tid, resp, &len, DEADLINE_MS));
	assert_int_equal(cw_stun_parse(&m, resp, len), 0);
	assert_int_equal(m.cls, CW_STUN_ERROR);
	return m.error_code;
}

static void a_valid_check_gets_a_signed_success_with_the_source_address(void **state)
{
	struct fixture *f = *state;
	uint8_t resp[1500];
	size_t len;
	struct cw_stun_msg m;
	struct cw_sfu_stats st;
	const struct sockaddr_in *mapped;

	connect_peer(f, resp, &len);
	assert_int_equal(cw_stun_parse(&m, resp, len), 0);
	assert_true(m.has_fingerprint);
	assert_int_equal(cw_stun_check_integrity(&m, PWD, strlen(PWD)), 0);
	assert_int_not_equal(cw_stun_check_integrity(&m, "another password ok!!!", 22), 0);
	assert_true(m.has_mapped);
	mapped = (const struct sockaddr_in *)&m.mapped;
	assert_int_equal(mapped->sin_family, AF_INET);
	assert_int_equal(mapped->sin_port, f->local.sin_port);
	assert_int_equal(mapped->sin_addr.s_addr, f->local.sin_addr.s_addr);
	cw_sfu_get_stats(f->sfu, &st);
	assert_true(st.stun_checks >= 1);
	assert_true(st.tx_packets >= 1);
}

static void checks_with_wrong_credentials_get_401(void **state)
{
	struct fixture *f = *state;
	uint8_t req[512], tid[CW_STUN_TID_LEN], resp[1500];
	size_t n, len;
	struct cw_sfu_stats before, after;

	connect_peer(f, resp, &len);
	cw_sfu_get_stats(f->sfu, &before);
	n = check(f, req, tid, UFRAG ":cli1", "wrong-password-for-srvA", CW_STUN_ROLE_CONTROLLING);
	assert_int_equal(expect_error(f, 0, req, n, tid), 401);
	n = check(f, req, tid, "nobody:cli1", PWD, CW_STUN_ROLE_CONTROLLING);
	assert_int_equal(expect_error(f, 0, req, n, tid), 401);
	/* The peer lives on worker 0 only. */
	n = check(f, req, tid, UFRAG ":cli1", PWD, CW_STUN_ROLE_CONTROLLING);
	assert_int_equal(expect_error(f, 1, req, n, tid), 401);
	cw_sfu_get_stats(f->sfu, &after);
	assert_int_equal(after.stun_unauthorized - before.stun_unauthorized, 3);
}

static void a_check_without_integrity_gets_400_and_a_controlled_peer_487(void **state)
{
	struct fixture *f = *state;
	uint8_t req[512], tid[CW_STUN_TID_LEN], resp[1500];
	size_t n, len;

	connect_peer(f, resp, &len);
	n = check(f, req, tid, UFRAG ":cli1", NULL, CW_STUN_ROLE_CONTROLLING);
	assert_int_equal(expect_error(f, 0, req, n, tid), 400);
	n = check(f, req, tid, UFRAG ":cli1", PWD, CW_STUN_ROLE_CONTROLLED);
	assert_int_equal(expect_error(f, 0, req, n, tid), 487);
}

static void garbage_is_dropped_counted_and_the_worker_carries_on(void **state)
{
	struct fixture *f = *state;
	static const uint8_t junk[] = {0xff, 1, 2, 3, 4, 5, 6, 7};
	static const uint8_t fake_dtls[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t fake_rtp[] = {0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9};
	uint8_t stunlike[20] = {0, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42}, resp[1500];
	struct cw_sfu_stats before, after;
	struct sockaddr_in to = {.sin_family = AF_INET};
	int other = socket(AF_INET, SOCK_DGRAM, 0);
	size_t len;

	assert_true(other >= 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(cw_sfu_port(f->sfu, 0));
	connect_peer(f, resp, &len);
	cw_sfu_get_stats(f->sfu, &before);
	/* From an address that passed no check: unverified. */
	assert_int_equal(
		sendto(other, fake_dtls, sizeof(fake_dtls), 0, (struct sockaddr *)&to, sizeof(to)),
		(ssize_t)sizeof(fake_dtls));
	assert_int_equal(
		sendto(other, fake_rtp, sizeof(fake_rtp), 0, (struct sockaddr *)&to, sizeof(to)),
		(ssize_t)sizeof(fake_rtp));
	close(other);
	send_to(f, 0, junk, sizeof(junk));
	/* From the checked address of an ICE-only peer (no room, no DTLS): not ready. */
	send_to(f, 0, fake_dtls, sizeof(fake_dtls));
	send_to(f, 0, fake_rtp, sizeof(fake_rtp));
	send_to(f, 0, stunlike, sizeof(stunlike)); /* a length that overruns the datagram */
	/* Datagrams of one socket are handled in order: once this check is answered, the
	 * ones before it have been seen (the other socket's were sent before them). */
	connect_peer(f, resp, &len);
	cw_sfu_get_stats(f->sfu, &after);
	assert_int_equal(after.dropped_unknown - before.dropped_unknown, 1);
	assert_int_equal(after.dropped_unverified - before.dropped_unverified, 2);
	assert_int_equal(after.dropped_not_ready - before.dropped_not_ready, 2);
	assert_int_equal(after.stun_bad - before.stun_bad, 1);
}

static void a_removed_peer_is_no_longer_answered(void **state)
{
	struct fixture *f = *state;
	uint8_t req[512], tid[CW_STUN_TID_LEN], resp[1500];
	int64_t end = now_ms() + DEADLINE_MS;
	size_t n, len;

	connect_peer(f, resp, &len);
	assert_int_equal(cw_sfu_remove_peer(f->sfu, 0, UFRAG), 0);
	/* Removal is queued: within the deadline, checks turn into 401s. */
	for (;;) {
		assert_true(now_ms() < end);
		n = check(f, req, tid, UFRAG ":cli1", PWD, CW_STUN_ROLE_CONTROLLING);
		send_to(f, 0, req, n);
		struct cw_stun_msg m;
		if (answer(f, tid, resp, &len, 500) && cw_stun_parse(&m, resp, len) == 0 &&
		    m.cls == CW_STUN_ERROR && m.error_code == 401)
			break;
	}
	assert_int_equal(cw_sfu_add_peer(f->sfu, 0, UFRAG, PWD), 0);
}

static void credentials_out_of_bounds_are_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cw_sfu_add_peer(f->sfu, 0, "abc", PWD), -EINVAL);
	assert_int_equal(cw_sfu_add_peer(f->sfu, 0, "has:colon", PWD), -EINVAL);
	assert_int_equal(cw_sfu_add_peer(f->sfu, 0, "srvB", "short"), -EINVAL);
	assert_int_equal(cw_sfu_add_peer(f->sfu, 7, "srvB", PWD), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_valid_check_gets_a_signed_success_with_the_source_address),
		cmocka_unit_test(checks_with_wrong_credentials_get_401),
		cmocka_unit_test(a_check_without_integrity_gets_400_and_a_controlled_peer_487),
		cmocka_unit_test(garbage_is_dropped_counted_and_the_worker_carries_on),
		cmocka_unit_test(a_removed_peer_is_no_longer_answered),
		cmocka_unit_test(credentials_out_of_bounds_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
