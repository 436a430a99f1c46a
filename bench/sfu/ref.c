/* ref: costs measured in the same run as the load, so that the SFU's CPU time per packet can
 * be read as a ratio that the machine's speed and its neighbours' noise mostly cancel in:
 * one SRTP protect and one unprotect of a packet of the run's size, and one datagram sent
 * and received over loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sfugen.h"

#define CHUNK_PKTS 1024
#define SRTP_CHUNKS 64	 /* 65,536 packets each way */
#define UDP_BATCHES 4096 /* of 32 datagrams */
#define UDP_BATCH 32

static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ref_srtp(const struct opts *o, struct reference *r)
{
	struct cw_srtp_keys ka, kb;
	struct cw_srtp *a = NULL, *b = NULL;
	size_t slot = (size_t)o->size + CW_SRTP_TRAILER_MAX;
	uint8_t *pkts = malloc(CHUNK_PKTS * slot);
	int lens[CHUNK_PKTS], err = -ENOMEM;
	uint64_t prot = 0, unprot = 0;
	uint16_t seq = 0;

	if (!pkts)
		goto out;
	/* Any keys: the two sessions' local and remote halves swapped. */
	memset(&ka, 0, sizeof(ka));
	ka.profile = o->profile;
	memset(ka.local_key, 0x11, sizeof(ka.local_key));
	memset(ka.local_salt, 0x22, sizeof(ka.local_salt));
	memset(ka.remote_key, 0x33, sizeof(ka.remote_key));
	memset(ka.remote_salt, 0x44, sizeof(ka.remote_salt));
	kb = ka;
	memcpy(kb.local_key, ka.remote_key, sizeof(kb.local_key));
	memcpy(kb.local_salt, ka.remote_salt, sizeof(kb.local_salt));
	memcpy(kb.remote_key, ka.local_key, sizeof(kb.remote_key));
	memcpy(kb.remote_salt, ka.local_salt, sizeof(kb.remote_salt));
	err = cw_srtp_new(&a, &ka);
	if (!err)
		err = cw_srtp_new(&b, &kb);
	for (int c = 0; c < SRTP_CHUNKS && !err; c++) {
		uint64_t t0, t1, t2;
		for (int i = 0; i < CHUNK_PKTS; i++) {
			uint8_t *p = pkts + (size_t)i * slot;
			memset(p, 0x5a, (size_t)o->size);
			p[0] = 0x80;
			p[1] = PT_VIDEO;
			p[2] = (uint8_t)(seq >> 8);
			p[3] = (uint8_t)seq++;
			memset(p + 8, 0x42, 4);
		}
		t0 = thread_ns();
		for (int i = 0; i < CHUNK_PKTS && !err; i++) {
			lens[i] =
				cw_srtp_protect(a, pkts + (size_t)i * slot, (size_t)o->size, slot);
			err = lens[i] < 0 ? lens[i] : 0;
		}
		t1 = thread_ns();
		for (int i = 0; i < CHUNK_PKTS && !err; i++) {
			int n = cw_srtp_unprotect(b, pkts + (size_t)i * slot, (size_t)lens[i]);
			err = n != o->size ? (n < 0 ? n : -EBADMSG) : 0;
		}
		t2 = thread_ns();
		prot += t1 - t0;
		unprot += t2 - t1;
	}
	r->srtp_protect_ns = (double)prot / (CHUNK_PKTS * SRTP_CHUNKS);
	r->srtp_unprotect_ns = (double)unprot / (CHUNK_PKTS * SRTP_CHUNKS);
out:
	cw_srtp_free(a);
	cw_srtp_free(b);
	free(pkts);
	return err;
}

static int ref_udp(const struct opts *o, struct reference *r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	/* The datagram an SFU sends: the packet and its GCM tag. */
	size_t size = (size_t)o->size + 16;
	uint8_t *bufs = calloc(UDP_BATCH, size);
	int tx = socket(AF_INET, SOCK_DGRAM, 0), rx = socket(AF_INET, SOCK_DGRAM, 0), err = 0;
	uint64_t t0, moved = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bufs || tx < 0 || rx < 0 || bind(rx, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(rx, (struct sockaddr *)&sa, &len) != 0 ||
	    connect(tx, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < UDP_BATCH; i++) {
		iov[i].iov_base = bufs + (size_t)i * size;
		iov[i].iov_len = size;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = thread_ns();
	for (int b = 0; b < UDP_BATCHES; b++) {
		int s = sendmmsg(tx, msgs, UDP_BATCH, 0), n = 0;
		while (s > 0 && n < s) {
			int got = recvmmsg(rx, msgs, (unsigned)(s - n), MSG_DONTWAIT, NULL);
			if (got <= 0)
				break;
			n += got;
		}
		moved += (uint64_t)n;
	}
	r->udp_ns = moved ? (double)(thread_ns() - t0) / (double)moved : 0;
	if (moved < UDP_BATCHES * UDP_BATCH / 2)
		err = -EIO;
out:
	free(bufs);
	if (tx >= 0)
		close(tx);
	if (rx >= 0)
		close(rx);
	return err;
}

const char *ref_srtp_backend(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	bool nss = false;

	if (!f)
		return "unknown";
	while (!nss && fgets(line, sizeof(line), f))
		nss = strstr(line, "/libnss3.so") != NULL;
	fclose(f);
	return nss ? "nss" : "openssl or built-in";
}

int ref_measure(const struct opts *o, struct reference *r)
{
	int err = ref_srtp(o, r);

	return err ? err : ref_udp(o, r);
}
