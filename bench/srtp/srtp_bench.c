/* srtp_bench: CPU time per SRTP protect and unprotect, src/rtc/srtp.c (OpenSSL EVP) against
 * libsrtp2 in the same run, for both profiles, 1,200- and 120-byte RTP packets and 10 or 1,000
 * sessions used in turn; JSON on stdout. For callgrind, fix the rounds and pick one case:
 *   valgrind --tool=callgrind --toggle-collect=cw_srtp_protect \
 *     srtp_bench --only evp --profile cm --size 1200 --sessions 10 --rounds 5
 * (7 rounds of 1,000 packets run in all: two to warm up, then the five). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <srtp2/srtp.h>

#include "rtc/srtp.h"

#define CAP (1200 + CW_SRTP_TRAILER_MAX)

struct opts {
	double seconds; /* CPU time to aim at per measurement (protect and unprotect) */
	int rounds;	/* fixed rounds instead (callgrind) */
	const char *only, *profile;
	int size, sessions;
};

/* One implementation: sessions pairs of a sender and a receiver. */
struct impl {
	const char *name;
	int (*open)(struct impl *im, int n, enum cw_srtp_profile profile);
	int (*protect)(struct impl *im, int i, uint8_t *p, size_t len);
	int (*unprotect)(struct impl *im, int i, uint8_t *p, size_t len);
	void (*close)(struct impl *im);
	int n;
	struct cw_srtp **evp_tx, **evp_rx;
	srtp_t *lib_tx, *lib_rx;
};

struct measure {
	double protect_ns, unprotect_ns, copy_ns;
	long packets;
};

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void random_keys(enum cw_srtp_profile profile, struct cw_srtp_keys *a,
			struct cw_srtp_keys *b)
{
	memset(a, 0, sizeof(*a));
	a->profile = profile;
	for (int i = 0; i < CW_SRTP_KEY_LEN; i++) {
		a->local_key[i] = rnd8();
		a->remote_key[i] = rnd8();
	}
	for (int i = 0; i < CW_SRTP_SALT_MAX; i++) {
		a->local_salt[i] = rnd8();
		a->remote_salt[i] = rnd8();
	}
	*b = *a;
	memcpy(b->local_key, a->remote_key, CW_SRTP_KEY_LEN);
	memcpy(b->local_salt, a->remote_salt, CW_SRTP_SALT_MAX);
	memcpy(b->remote_key, a->local_key, CW_SRTP_KEY_LEN);
	memcpy(b->remote_salt, a->local_salt, CW_SRTP_SALT_MAX);
}

/* ---- src/rtc/srtp.c ---- */

static int evp_open(struct impl *im, int n, enum cw_srtp_profile profile)
{
	im->n = n;
	im->evp_tx = calloc((size_t)n, sizeof(*im->evp_tx));
	im->evp_rx = calloc((size_t)n, sizeof(*im->evp_rx));
	if (im->evp_tx == NULL || im->evp_rx == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct cw_srtp_keys a, b;
		int err;

		random_keys(profile, &a, &b);
		err = cw_srtp_new(&im->evp_tx[i], &a);
		if (err == 0)
			err = cw_srtp_new(&im->evp_rx[i], &b);
		if (err != 0)
			return err;
	}
	return 0;
}

static int evp_protect(struct impl *im, int i, uint8_t *p, size_t len)
{
	return cw_srtp_protect(im->evp_tx[i], p, len, CAP);
}

static int evp_unprotect(struct impl *im, int i, uint8_t *p, size_t len)
{
	return cw_srtp_unprotect(im->evp_rx[i], p, len);
}

static void evp_close(struct impl *im)
{
	for (int i = 0; i < im->n && im->evp_tx != NULL; i++) {
		cw_srtp_free(im->evp_tx[i]);
		cw_srtp_free(im->evp_rx[i]);
	}
	free(im->evp_tx);
	free(im->evp_rx);
}

/* ---- libsrtp2, configured as src/rtc/srtp.c used to configure it ---- */

static int lib_create(srtp_t *ctx, enum cw_srtp_profile profile, bool outbound, const uint8_t *key,
		      const uint8_t *salt)
{
	uint8_t master[CW_SRTP_KEY_LEN + CW_SRTP_SALT_MAX];
	srtp_policy_t policy;

	memset(&policy, 0, sizeof(policy));
	if (profile == CW_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
	}
	memcpy(master, key, CW_SRTP_KEY_LEN);
	memcpy(master + CW_SRTP_KEY_LEN, salt, cw_srtp_salt_len(profile));
	policy.key = master;
	policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	policy.window_size = CW_SRTP_REPLAY_WINDOW;
	policy.allow_repeat_tx = outbound;
	return srtp_create(ctx, &policy) == srtp_err_status_ok ? 0 : -EIO;
}

static int lib_open(struct impl *im, int n, enum cw_srtp_profile profile)
{
	im->n = n;
	im->lib_tx = calloc((size_t)n, sizeof(*im->lib_tx));
	im->lib_rx = calloc((size_t)n, sizeof(*im->lib_rx));
	if (im->lib_tx == NULL || im->lib_rx == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct cw_srtp_keys a, b;
		int err;

		random_keys(profile, &a, &b);
		err = lib_create(&im->lib_tx[i], profile, true, a.local_key, a.local_salt);
		if (err == 0)
			err = lib_create(&im->lib_rx[i], profile, false, a.local_key, a.local_salt);
		if (err != 0)
			return err;
	}
	return 0;
}

static int lib_protect(struct impl *im, int i, uint8_t *p, size_t len)
{
	int n = (int)len;

	return srtp_protect(im->lib_tx[i], p, &n) == srtp_err_status_ok ? n : -EIO;
}

static int lib_unprotect(struct impl *im, int i, uint8_t *p, size_t len)
{
	int n = (int)len;

	return srtp_unprotect(im->lib_rx[i], p, &n) == srtp_err_status_ok ? n : -EIO;
}

static void lib_close(struct impl *im)
{
	for (int i = 0; i < im->n && im->lib_tx != NULL; i++) {
		if (im->lib_tx[i] != NULL)
			srtp_dealloc(im->lib_tx[i]);
		if (im->lib_rx[i] != NULL)
			srtp_dealloc(im->lib_rx[i]);
	}
	free(im->lib_tx);
	free(im->lib_rx);
}

/* ---- Measuring ---- */

/* A 12-byte header with a one-word extension, then payload: what a browser sends. */
static void make_plain(uint8_t *p, int size)
{
	static const uint8_t head[] = {0x90, 0x60, 0,	 0,    0, 0, 0,	   0,	 0, 0,
				       0,    0,	   0xbe, 0xde, 0, 1, 0x10, 0x55, 0, 0};

	memcpy(p, head, sizeof(head));
	for (int i = (int)sizeof(head); i < size; i++)
		p[i] = rnd8();
}

/* Packets per round: at least this many, so that reading the clock (a system call for a
 * thread's CPU time) weighs nothing per packet. */
#define ROUND_MIN 1000

static int batch_of(int sessions)
{
	return sessions >= ROUND_MIN ? 1 : (ROUND_MIN + sessions - 1) / sessions;
}

/* The plaintext of session i's packet seq into p. */
static void fill(uint8_t *p, const uint8_t *plain, int size, int i, uint16_t seq)
{
	memcpy(p, plain, (size_t)size);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[8] = (uint8_t)(i >> 8); /* an SSRC per session */
	p[9] = (uint8_t)i;
}

/* One round: batch times, every session in turn protects its next packet into a slot of its
 * own; then the receivers unprotect them in the same order. Times in ns added to tp and tu;
 * returns the packets that failed. */
static long round_trip(struct impl *im, const uint8_t *plain, int size, uint8_t *slots, int *lens,
		       uint16_t *seq, double *tp, double *tu)
{
	int batch = batch_of(im->n);
	long bad = 0;
	double t0 = now_ns(), t1;

	for (int b = 0, k = 0; b < batch; b++, (*seq)++) {
		for (int i = 0; i < im->n; i++, k++) {
			uint8_t *p = slots + (size_t)k * CAP;

			fill(p, plain, size, i, *seq);
			lens[k] = im->protect(im, i, p, (size_t)size);
		}
	}
	t1 = now_ns();
	for (int b = 0, k = 0; b < batch; b++) {
		for (int i = 0; i < im->n; i++, k++) {
			if (lens[k] < 0 ||
			    im->unprotect(im, i, slots + (size_t)k * CAP, (size_t)lens[k]) != size)
				bad++;
		}
	}
	*tu += now_ns() - t1;
	*tp += t1 - t0;
	return bad;
}

/* The same copying as round_trip's protect loop, alone. */
static double copy_round(int n, const uint8_t *plain, int size, uint8_t *slots, uint16_t seq)
{
	int batch = batch_of(n);
	double t0 = now_ns();

	for (int b = 0, k = 0; b < batch; b++, seq++)
		for (int i = 0; i < n; i++, k++)
			fill(slots + (size_t)k * CAP, plain, size, i, seq);
	__asm__ volatile("" : : "r"(slots) : "memory");
	return now_ns() - t0;
}

static int measure(struct impl *im, const struct opts *o, enum cw_srtp_profile profile, int size,
		   int sessions, struct measure *m)
{
	size_t per_round = (size_t)sessions * (size_t)batch_of(sessions);
	uint8_t plain[1200], *slots = malloc(per_round * CAP);
	int *lens = calloc(per_round, sizeof(*lens));
	double tp = 0, tu = 0, tc = 0, t_one = 0;
	long bad = 0;
	int rounds, err;
	uint16_t seq = 1;

	memset(m, 0, sizeof(*m));
	if (slots == NULL || lens == NULL) {
		err = -ENOMEM;
		goto out;
	}
	make_plain(plain, size);
	err = im->open(im, sessions, profile);
	if (err != 0)
		goto out;
	/* The first round creates each SSRC's state; the second tells how long a round takes. */
	bad += round_trip(im, plain, size, slots, lens, &seq, &tp, &tu);
	tp = tu = 0;
	bad += round_trip(im, plain, size, slots, lens, &seq, &tp, &t_one);
	t_one += tp;
	rounds = o->rounds > 0 ? o->rounds : (int)(o->seconds * 1e9 / (t_one > 1 ? t_one : 1));
	if (rounds < 3)
		rounds = 3;
	tp = tu = 0;
	for (int r = 0; r < rounds; r++) {
		tc += copy_round(sessions, plain, size, slots, seq);
		bad += round_trip(im, plain, size, slots, lens, &seq, &tp, &tu);
	}
	m->packets = (long)rounds * (long)per_round;
	m->copy_ns = tc / (double)m->packets;
	m->protect_ns = tp / (double)m->packets - m->copy_ns;
	m->unprotect_ns = tu / (double)m->packets;
	if (bad != 0) {
		fprintf(stderr, "srtp_bench: %s: %ld packets failed\n", im->name, bad);
		err = -EIO;
	}
out:
	if (im->close != NULL)
		im->close(im);
	free(slots);
	free(lens);
	return err;
}

static void cpu_name(char *out, size_t size)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, size, "unknown");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			snprintf(out, size, "%s", colon + 2);
			out[strcspn(out, "\n\"")] = '\0';
			break;
		}
	}
	if (f != NULL)
		fclose(f);
}

static void print_impl(const char *name, bool done, const struct measure *m)
{
	if (done)
		printf("     \"%s\": {\"protect_ns\": %.1f, \"unprotect_ns\": %.1f, "
		       "\"packets\": %ld},\n",
		       name, m->protect_ns, m->unprotect_ns, m->packets);
	else
		printf("     \"%s\": null,\n", name);
}

/* Measures one profile, size and session count with the implementations asked for, and
 * prints its JSON object. Returns 0 or -1 if packets failed. */
static int run(const struct opts *o, enum cw_srtp_profile profile, int size, int sessions,
	       bool first)
{
	struct impl evp = {.name = "evp",
			   .open = evp_open,
			   .protect = evp_protect,
			   .unprotect = evp_unprotect,
			   .close = evp_close};
	struct impl lib = {.name = "libsrtp2",
			   .open = lib_open,
			   .protect = lib_protect,
			   .unprotect = lib_unprotect,
			   .close = lib_close};
	bool do_evp = o->only == NULL || strcmp(o->only, "evp") == 0;
	bool do_lib = o->only == NULL || strcmp(o->only, "libsrtp2") == 0;
	struct measure me = {0}, ml = {0};
	int err = 0;

	if (do_evp && measure(&evp, o, profile, size, sessions, &me) != 0)
		err = -1;
	if (do_lib && measure(&lib, o, profile, size, sessions, &ml) != 0)
		err = -1;
	printf("%s\n    {\"profile\": \"%s\", \"size\": %d, \"sessions\": %d, \"copy_ns\": %.1f,\n",
	       first ? "" : ",", cw_srtp_profile_name(profile), size, sessions,
	       do_evp ? me.copy_ns : ml.copy_ns);
	print_impl("evp", do_evp, &me);
	print_impl("libsrtp2", do_lib, &ml);
	if (do_evp && do_lib)
		printf("     \"ratio\": {\"protect\": %.2f, \"unprotect\": %.2f}}",
		       ml.protect_ns / me.protect_ns, ml.unprotect_ns / me.unprotect_ns);
	else
		printf("     \"ratio\": null}");
	fflush(stdout);
	return err;
}

static int usage(void)
{
	fprintf(stderr, "usage: srtp_bench [--seconds S] [--rounds N] [--only evp|libsrtp2]\n"
			"                  [--profile cm|gcm] [--size BYTES] [--sessions N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const enum cw_srtp_profile profiles[] = {CW_SRTP_AES128_CM_SHA1_80,
							CW_SRTP_AEAD_AES_128_GCM};
	static const int sizes[] = {1200, 120}, counts[] = {10, 1000};
	struct opts o = {.seconds = 0.3};
	char cpu[128];
	bool first = true;
	int status = 0;

	/* Options come as pairs: a name and its value. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return usage();
		if (strcmp(a, "--seconds") == 0)
			o.seconds = atof(v);
		else if (strcmp(a, "--rounds") == 0)
			o.rounds = atoi(v);
		else if (strcmp(a, "--only") == 0)
			o.only = v;
		else if (strcmp(a, "--profile") == 0)
			o.profile = v;
		else if (strcmp(a, "--size") == 0)
			o.size = atoi(v);
		else if (strcmp(a, "--sessions") == 0)
			o.sessions = atoi(v);
		else
			return usage();
	}
	if (o.size < 0 || o.size > 1200 || (o.size > 0 && o.size < 20) || o.sessions < 0 ||
	    o.sessions > 65535)
		return usage();
	if (srtp_init() != srtp_err_status_ok)
		return 1;
	cpu_name(cpu, sizeof(cpu));
	printf("{\n  \"bench\": \"srtp\",\n  \"cpu\": \"%s\",\n  \"evp\": \"%s\",\n"
	       "  \"libsrtp2\": \"%s\",\n  \"clock\": \"CLOCK_THREAD_CPUTIME_ID\",\n"
	       "  \"note\": \"ns per packet of one thread; protect_ns leaves out copying the "
	       "plaintext into the buffer (copy_ns); ratio is libsrtp2 over evp\",\n"
	       "  \"results\": [",
	       cpu, cw_srtp_library_version(), srtp_get_version_string());
	for (size_t p = 0; p < 2; p++) {
		const char *short_name = profiles[p] == CW_SRTP_AEAD_AES_128_GCM ? "gcm" : "cm";

		if (o.profile != NULL && strcmp(o.profile, short_name) != 0)
			continue;
		for (size_t s = 0; s < 2; s++) {
			for (size_t c = 0; c < 2; c++) {
				if ((o.size && s > 0) || (o.sessions && c > 0))
					continue;
				if (run(&o, profiles[p], o.size ? o.size : sizes[s],
					o.sessions ? o.sessions : counts[c], first) != 0)
					status = 1;
				first = false;
			}
		}
	}
	printf("\n  ]\n}\n");
	return status;
}
