/* sfugen: what the parts of bench/sfu share: options, the loopback peers, the run's state. */
#ifndef BENCH_SFUGEN_H
#define BENCH_SFUGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <netinet/in.h>

#include "rtc/dtls.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"
#include "sfu/sfu.h"
#include "stats.h"

/* Hard bounds, so that a typo cannot turn the generator into something else. */
#define MAX_ROOMS 1000
#define MAX_PUBLISHERS 16  /* per room */
#define MAX_SUBSCRIBERS 64 /* per room */
#define MAX_PEERS 4000
#define MAX_PPS 50000.0	    /* video packets per second of one publisher */
#define MAX_DURATION 600.0  /* seconds measured */
#define MAX_WARMUP 60.0	    /* seconds before the window */
#define MAX_WINDOW 100000   /* saturation: forwarded copies in flight */
#define SIZE_MIN 64	    /* RTP packet bytes before SRTP */
#define SIZE_MAX_RTP 1400   /* + the 16-byte tag stays under the worker's 1,500 bytes */
#define SETUP_DEADLINE_S 60 /* ICE and DTLS of every peer */
#define DRAIN_MS 500	    /* after the last send: what is still on its way */

#define BATCH 64		       /* datagrams per sendmmsg / recvmmsg */
#define DGRAM_MAX 1536		       /* receive buffer per datagram */
#define CONSENT_EVERY_NS 5000000000ull /* a consent check per peer this often (RFC 7675) */
#define AUDIO_PPS 50		       /* Opus-like: 20 ms frames */
#define AUDIO_SIZE 120		       /* its RTP packet bytes */
#define PT_VIDEO 96		       /* VP8 */
#define PT_AUDIO 111		       /* Opus */
#define AUDIO_LEVEL_ID 1	       /* RFC 6464 header extension id in our offers */
#define STAMP_MAGIC 0x43575342u	       /* "CWSB": a packet of this generator */

struct opts {
	int rooms, publishers, subscribers, workers;
	double pps;	 /* video packets per second per publisher (paced runs) */
	int size;	 /* video RTP packet bytes before SRTP: header and payload */
	bool audio;	 /* publishers also send AUDIO_PPS Opus-like packets */
	bool saturate;	 /* closed loop: keep `window` copies in flight, as fast as they return */
	int window;	 /* forwarded copies in flight at most (saturate) */
	double duration; /* the measured window, seconds */
	double warmup;	 /* seconds of load before the window */
	enum cw_srtp_profile profile;
	int sample;	  /* a subscriber decrypts packets whose seq % sample == 0 */
	int pin;	  /* -1 auto, 0 off, 1 on: generator on one CPU, workers on the others */
	long max_packets; /* per publisher in the window, then the window ends (0: none) */
	bool callgrind;	  /* zero and dump callgrind's counts at the window's edges */
};

enum peer_role { ROLE_PUB, ROLE_SUB };
enum peer_state { PEER_ICE, PEER_DTLS, PEER_UP, PEER_FAILED };

/* What a subscriber received of one SSRC. */
struct track_rx {
	uint32_t ssrc;
	struct cw_rtp_seq_unwrap unwrap;
	int64_t lo, hi; /* extended sequence numbers seen */
	uint64_t packets;
};

/* One loopback client: its own UDP socket connected to its worker, the ICE credentials it
 * checks with, a DTLS client (a=setup:active), its SRTP session, what it sent and got. */
struct peer {
	int fd;
	int index; /* 0..n_peers */
	int room, worker;
	enum peer_role role;
	char ufrag[16], pwd[48], participant[24];
	enum peer_state state;
	enum cw_srtp_profile profile; /* the one asked for: the SFU must choose it */
	struct cw_dtls *dtls;
	struct cw_srtp *srtp;
	uint8_t tid[12]; /* the check whose answer setup waits for */
	uint32_t checks; /* checks sent: the transaction ids' counter */
	uint64_t next_check_ns;

	/* Publisher. */
	int pub;		 /* 0..n_pubs */
	uint32_t ssrc[2];	 /* video, audio */
	uint16_t seq[2];	 /* the next sequence numbers */
	uint64_t issued[2];	 /* packets built and handed to sendmmsg, per kind */
	uint64_t sent[2];	 /* of those, the ones the kernel took */
	uint64_t window_sent[2]; /* of those, in the window */
	/* The pacing schedule: packet issued[k] is due at offset_ns[k] +
	 * (issued[k] - base[k]) * interval. */
	uint64_t offset_ns[2], base[2];
	bool keyframe_due;	 /* a PLI/FIR arrived, or the first packet */
	unsigned keyframe_every; /* video packets between keyframes */
	uint64_t send_failed;

	/* Receiving. */
	struct track_rx *tracks;
	int n_tracks, cap_tracks, last_track;
	uint64_t rtp_rx, rtcp_rx, stun_rx, dtls_rx, other_rx;
	uint64_t decrypted, srtp_errors, bad_payload, unknown_ssrc;
	uint64_t pli_rx, fir_rx, remb_rx;

	/* Against a server process (remote.c): what its SDP said, and the media replay. */
	struct sockaddr_in remote;		    /* its candidate; connected */
	char rufrag[64], rpwd[256];		    /* its ICE credentials: our checks' */
	char rfingerprint[CW_DTLS_FINGERPRINT_MAX]; /* its certificate */
	bool dtls_server;			    /* it answered or offered a=setup:active */
	int fanout;				    /* subscribers that get each packet of ours */
	size_t mpos;				    /* the next packet of the recording */
	uint64_t loops;				    /* times the recording was replayed */
	uint32_t ts_base[2];			    /* RTP timestamps of the recording's start */
	uint64_t unstamped;			    /* packets too small to carry a stamp */
};

/* Counters of the generator's side, summed over peers at the end. */
struct gen_totals {
	uint64_t sent, window_sent, send_failed;
	uint64_t sub_rtp, pub_rtp, rtcp, stun, decrypted, srtp_errors, bad_payload, unknown_ssrc;
	uint64_t seq_gaps, pli, fir, remb;
};

/* What the SFU process tells the generator once its workers run and the peers are added. */
struct hello {
	int n_workers;
	uint16_t ports[CW_SFU_WORKERS_MAX];
	char fingerprint[CW_DTLS_FINGERPRINT_MAX];
	bool pinned;
	int generator_cpu, worker_cpus[CW_SFU_WORKERS_MAX], cpus;
};

struct media;

/* The generator process's state. */
struct gen {
	const struct opts *o;
	/* Against a server process (remote.c): its pid for /proc, the recording replayed. */
	bool remote;
	int server_pid;
	const struct media *media;
	uint64_t copies_in_window; /* copies that arrived inside the window */
	/* gen_poll hands it what is not a peer of g->peers (remote.c's WebSockets). */
	void (*other)(void *ptr, uint32_t events);
	struct hello sfu; /* the SFU process's ports, fingerprint and CPUs */
	int ctl;	  /* the socket to the SFU process (snapshots) */
	struct peer *peers;
	int n_peers, n_pubs;
	struct peer **pubs;
	int epfd;
	bool no_pwait2; /* valgrind 3.19 lacks epoll_pwait2: millisecond waits */
	uint64_t next_consent_scan;

	/* The phases, on now_ns()'s clock (CLOCK_MONOTONIC: the same in both processes). */
	uint64_t t_start, t0, t1;
	bool in_window, sending;

	/* Receiving: shared batch buffers (one thread). */
	struct mmsghdr rx_msgs[BATCH];
	struct iovec rx_iov[BATCH];
	uint8_t (*rx_buf)[DGRAM_MAX];

	/* Sending. */
	struct mmsghdr tx_msgs[BATCH];
	struct iovec tx_iov[BATCH];
	uint8_t (*tx_buf)[SIZE_MAX_RTP + CW_SRTP_TRAILER_MAX];

	/* Saturation: copies expected by subscribers, received, and written off as lost. */
	uint64_t copies_expected, copies_received, copies_written_off;
	uint64_t last_progress_ns, stalls;
	int rr; /* the publisher that sends first in the next round */

	/* Paced: how far behind the schedule sends went. */
	uint64_t late_sends, max_lag_ns;

	struct samples latency; /* added latency of sampled packets sent in the window */
	uint64_t samples_outside;
	long errors;
};

/* peer.c */
/* Names every peer of the run (ufrag, pwd, room, participant, role): both processes
 * compute the same. Returns 0 or -ENOMEM. */
int peers_make(struct gen *g);
/* The SFU process: adds p to its worker, expecting the generator's certificate gen_fp. */
int peer_register(struct cw_sfu *sfu, const struct opts *o, const struct peer *p,
		  const char *gen_fp);
/* The generator process: opens p's socket connected to its worker, and its DTLS client. */
int peer_open(struct gen *g, struct peer *p, const struct cw_dtls_ctx *ctx);
void peer_close(struct peer *p);
/* Sends an ICE connectivity check (nominating) with a fresh transaction id. */
int peer_send_check(struct peer *p);
/* Sends what the DTLS endpoint queued. */
void peer_dtls_flush(struct peer *p);
/* Handles one datagram from the SFU. */
void peer_datagram(struct gen *g, struct peer *p, uint8_t *buf, size_t len, uint64_t now);
/* Reads one batch from p's socket; the number of datagrams. */
int peer_receive(struct gen *g, struct peer *p);
/* Runs ICE and DTLS for every peer until all are up; 0 or -1. */
int peers_connect(struct gen *g);
/* Writes a protected RTP packet of kind (0 video, 1 audio) into buf; its length or < 0. */
int peer_build_rtp(struct gen *g, struct peer *p, int kind, uint8_t *buf, size_t cap);
/* Writes the recording's packet mp as p's next protected RTP packet into buf (remote.c's
 * replay): its length or < 0. */
struct media_pkt;
int peer_build_media(struct gen *g, struct peer *p, const struct media_pkt *mp, uint8_t *buf,
		     size_t cap);
/* Seq gaps over every track p received. */
uint64_t peer_seq_gaps(const struct peer *p);

/* main.c: the shared receive and send batches of g. 0 or -ENOMEM. */
int init_buffers(struct gen *g);

/* load.c */
/* One wait for datagrams (up to timeout_ns; 0 polls) and their handling. */
void gen_poll(struct gen *g, uint64_t timeout_ns);
/* Sends consent checks that are due. */
void gen_consent(struct gen *g, uint64_t now);
/* Runs the load: warm-up, the window (with a snapshot at each edge), the drain. */
struct snapshot;
int gen_load(struct gen *g, struct snapshot *at_t0, struct snapshot *at_t1);
/* Asks the SFU process for a snapshot (tag: SNAP_*), adds the generator's CPU time. */
int gen_snapshot(struct gen *g, int tag, struct snapshot *s);

/* sys.c: the worker threads, CPU clocks and the kernel's counters. */
#define CPUS_MAX 64
#define SFU_EVENT_KINDS 4 /* CONNECTED, FAILED, GONE, SPEAKER */
/* Snapshot requests of the generator; the SFU process zeroes callgrind's counts after
 * SNAP_WINDOW_START and dumps them after SNAP_WINDOW_END. SNAP_DONE ends the run. */
enum { SNAP_START, SNAP_WINDOW_START, SNAP_WINDOW_END, SNAP_END, SNAP_DONE };
struct snapshot {
	uint64_t wall_ns;
	uint64_t worker_ns[CW_SFU_WORKERS_MAX]; /* each worker thread's CPU time */
	/* Its user and system (syscalls, and softirq work done in its context) clock ticks,
	 * sampled by the scheduler's tick: the split of worker_ns. */
	uint64_t worker_utime[CW_SFU_WORKERS_MAX], worker_stime[CW_SFU_WORKERS_MAX];
	/* How long each worker waited, runnable, for a CPU (schedstat): other processes of
	 * the machine taking its CPU show here. */
	uint64_t worker_wait_ns[CW_SFU_WORKERS_MAX];
	uint64_t gen_wait_ns;	 /* the same for the generator */
	uint64_t gen_ns;	 /* the generator process's */
	uint64_t server_rss_kb;	 /* remote: the server process's resident memory */
	uint64_t sfu_process_ns; /* the SFU process's: its workers and main */
	/* /proc/stat per CPU, in clock ticks: busy (user, nice, system, irq, softirq),
	 * softirq alone, steal. */
	uint64_t cpu_busy[CPUS_MAX], cpu_softirq[CPUS_MAX], cpu_steal[CPUS_MAX];
	struct cw_sfu_stats sfu;
	/* Events the SFU process took with cw_sfu_poll_events, by enum cw_sfu_event_kind. */
	uint64_t events[SFU_EVENT_KINDS];
};

/* The threads cw_sfu_start made: tids of tasks that are not in `before` (n_before). */
int sys_tasks(int *tids, int max);
int sys_find_workers(const int *before, int n_before, int *workers, int n_workers);
int sys_pin(int tid, int cpu);
/* The time thread tid of this process (0: the calling thread) waited for a CPU, in ns. */
uint64_t sys_wait_ns(int tid);
/* The CPUs this process may run on, ascending; how many. */
int sys_cpus(int *cpus, int max);
void sys_snapshot(struct snapshot *s, struct cw_sfu *sfu, const int *worker_tids, int n);
/* Datagrams the kernel dropped at full receive buffers (/proc/net/udp): at the sockets
 * bound to `ports` (the SFU's), and at the sockets connected to them (the generator's). */
void sys_udp_drops(const uint16_t *ports, int n_ports, uint64_t *server, uint64_t *generator);
/* RcvbufErrors and SndbufErrors of /proc/net/snmp. */
void sys_udp_errors(uint64_t *rcvbuf, uint64_t *sndbuf);

/* remote.c: `sfu remote …`, the generator against a server process (callwire or Janus). */
int remote_main(int argc, char **argv);
int remote_snapshot(struct gen *g, struct snapshot *s);

/* report.c */
struct report_in {
	uint64_t setup_ns;
	const struct reference *ref;		/* NULL under callgrind */
	const struct snapshot *s0, *a, *b, *se; /* load start, window edges, end */
	uint64_t drops[2], udp_err[2];		/* sys_udp_drops, sys_udp_errors over the load */
};
/* The report of the run (a new reference); counts the run's errors into g->errors. */
json_t *report_build(struct gen *g, const struct report_in *in);

/* ref.c: the same-run references. */
struct reference {
	double srtp_protect_ns, srtp_unprotect_ns; /* one packet of --size bytes */
	double udp_ns;				   /* loopback sendmmsg + recvmmsg, per datagram */
};
int ref_measure(const struct opts *o, struct reference *r);
/* Which crypto library libsrtp uses in this process: "nss" when libnss3 is mapped
 * (Debian's libsrtp2 is built with NSS), else "openssl or built-in". */
const char *ref_srtp_backend(void);

#endif
