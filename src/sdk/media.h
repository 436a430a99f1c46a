/* media: libcallwire's private header for the media side of a session: the audio codec
 * and jitter buffer (audio.c), WAV files (wav.c) and the client's WebRTC transport, one
 * per peer connection (pc.c). Everything here runs on one thread (the client's network
 * thread) and is not locked. */
#ifndef CW_SDK_MEDIA_H
#define CW_SDK_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtc/dtls.h"

/* ---- audio (audio.c) ------------------------------------------------------------------ */

#define CW__AUDIO_RATE 48000 /* Hz: what the app gives and gets, and Opus's RTP clock */
#define CW__AUDIO_FRAME 960  /* samples of one 20 ms frame, mono */
#define CW__OPUS_MAX 1275    /* bytes of one Opus packet at most (RFC 6716) */

/* An Opus encoder: 48 kHz mono, VoIP application, in-band FEC on, 20 ms frames. */
struct cw__opus_enc;
/* bitrate in bits/s (0: 32,000). 0, CW_ERR_NO_MEMORY or CW_ERR_INVALID_ARGUMENT. */
int cw__opus_enc_new(struct cw__opus_enc **encp, int bitrate);
void cw__opus_enc_free(struct cw__opus_enc *enc);
/* Encodes one frame of CW__AUDIO_FRAME samples; the payload's length, or a negative
 * CW_ERR_*. */
int cw__opus_enc_frame(struct cw__opus_enc *enc, const int16_t *pcm, uint8_t *out, size_t cap);
/* The frame's level for RFC 6464: 0 (loudest, 0 dBov) to 127 (-127 dBov, silence). */
uint8_t cw__audio_level(const int16_t *pcm, size_t n);

/* What cw__jb_get produced. */
enum cw__jb_frame {
	CW__JB_DECODED,	  /* the frame's packet was there and decoded */
	CW__JB_FEC,	  /* recovered from the next packet's in-band FEC */
	CW__JB_CONCEALED, /* the packet was missing: Opus packet-loss concealment */
	CW__JB_SILENT	  /* nothing to play: not started yet, or a long gap; pcm is zeros */
};

struct cw__jb_stats {
	uint64_t packets;    /* accepted into the buffer */
	uint64_t late;	     /* arrived after their frame was played; dropped */
	uint64_t duplicates; /* dropped */
	uint64_t decoded, fec, concealed, silent; /* frames cw__jb_get produced, by kind */
	uint64_t resyncs; /* times the playout point jumped (a clock step, a long gap) */
	int delay_ms;	  /* the current playout delay behind the newest packet */
};

/* A jitter buffer with its own Opus decoder (48 kHz mono) for one incoming audio stream:
 * packets in any order, frames out on the playout clock, losses concealed. */
struct cw__jb;
int cw__jb_new(struct cw__jb **jbp);
void cw__jb_free(struct cw__jb *jb);
/* One RTP packet's sequence number, timestamp and Opus payload, arrived at now_ms (any
 * monotonic clock in milliseconds). 0 when kept, 1 when dropped (late, duplicate, empty
 * or not Opus-shaped), CW_ERR_NO_MEMORY. */
int cw__jb_put(struct cw__jb *jb, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
	       int64_t now_ms);
/* The next CW__AUDIO_FRAME samples of playout into pcm. Called once per 20 ms by the
 * caller's clock; returns what it made (enum cw__jb_frame). */
enum cw__jb_frame cw__jb_get(struct cw__jb *jb, int16_t *pcm, int64_t now_ms);
void cw__jb_stats(const struct cw__jb *jb, struct cw__jb_stats *st);

/* Adds src into dst with saturation (the mix of several participants). */
void cw__audio_mix(int16_t *dst, const int16_t *src, size_t n);

/* ---- WAV files (wav.c) ------------------------------------------------------------------ */

/* Reads a RIFF WAVE file of PCM (8, 16, 24 or 32 bits) or IEEE float (32 bits), any
 * channel count (mixed down) and any rate from 8,000 to 192,000 Hz (resampled), into
 * 48 kHz mono samples (malloc'd). 0, or CW_ERR_IO (cannot read), CW_ERR_INVALID_ARGUMENT
 * (not a WAV file this reads: err says why), CW_ERR_NO_MEMORY. */
int cw__wav_load(const char *path, int16_t **pcmp, size_t *np, char *err, size_t errlen);

/* A 48 kHz mono 16-bit WAV file being written; its header is brought up to date at least
 * once a second and on close, so a file cut short by a crash still plays. */
struct cw__wav_out;
int cw__wav_create(struct cw__wav_out **outp, const char *path);
int cw__wav_write(struct cw__wav_out *out, const int16_t *pcm, size_t n);
uint64_t cw__wav_samples(const struct cw__wav_out *out);
/* Finishes the header and closes; 0 or CW_ERR_IO. NULL is ignored. */
int cw__wav_close(struct cw__wav_out *out);

/* ---- the transport of one peer connection (pc.c) ---------------------------------------- */

enum cw__pc_state {
	CW__PC_CHECKING,     /* ICE checks to the server's candidates */
	CW__PC_DTLS,	     /* a pair answered; the DTLS handshake runs */
	CW__PC_CONNECTED,    /* SRTP keys are in place; media flows */
	CW__PC_DISCONNECTED, /* no answer to consent checks for CW__PC_DISCONNECT_MS */
	CW__PC_FAILED,	     /* no consent for 30 s, ICE found no pair, or DTLS failed */
	CW__PC_CLOSED
};

#define CW__PC_CANDIDATES_MAX 8
#define CW__PC_CHECK_TIMEOUT_MS 10000 /* ICE gives up without any answer after this */
#define CW__PC_DISCONNECT_MS 6000     /* consent unanswered this long: disconnected */
#define CW__PC_CONSENT_MS 30000	      /* and this long: failed (RFC 7675) */

/* A feedback message about one of our sending SSRCs. */
enum cw__pc_feedback { CW__PC_PLI, CW__PC_FIR };

struct cw__pc;

struct cw__pc_callbacks {
	void (*state)(struct cw__pc *pc, enum cw__pc_state state, void *arg);
	/* An incoming RTP packet, decrypted: the whole packet (header and payload). The buffer
	 * is the transport's; it is valid during the call. Retransmissions answering our
	 * NACKs come here too, like the original would have. */
	void (*rtp)(struct cw__pc *pc, const uint8_t *pkt, size_t len, int64_t now_ms, void *arg);
	/* A keyframe request for one of our SSRCs. */
	void (*feedback)(struct cw__pc *pc, enum cw__pc_feedback fb, uint32_t ssrc, void *arg);
};

struct cw__pc_params {
	/* The server's ICE-lite candidates (UDP), tried in order of their priority. */
	struct sockaddr_storage candidates[CW__PC_CANDIDATES_MAX];
	unsigned ncandidates;
	const char *local_ufrag, *local_pwd;   /* ours, as in our SDP */
	const char *remote_ufrag, *remote_pwd; /* the server's */
	/* The server's certificate: "sha-256 AB:CD:…" as cw_dtls_new takes it. */
	const char *remote_fingerprint;
	const struct cw_dtls_ctx *dtls; /* a client (a=setup:active) context */
	struct cw__pc_callbacks cb;
	void *arg;
};

struct cw__pc_stats {
	uint64_t packets_sent, bytes_sent;	   /* RTP, before SRTP */
	uint64_t packets_received, bytes_received; /* RTP that decrypted */
	uint64_t nack_sent;			   /* NACK messages we sent */
	uint64_t nack_seqs;	/* sequence numbers they asked for (first asks) */
	uint64_t recovered;	/* of those, packets that came after all */
	uint64_t retransmitted; /* packets we sent again for the server's NACKs */
	uint64_t pli_sent, pli_received, fir_received;
	uint64_t srtp_errors;	  /* packets that did not authenticate */
	uint64_t dropped_by_test; /* cw__pc_set_rx_drop */
	uint64_t lost;		  /* missing sequence numbers never recovered */
	uint64_t dropped;	  /* datagrams ignored: no protocol of ours, malformed, failed STUN
				   * integrity, not from the selected pair, RTP of undeclared SSRCs */
	int rtt_ms; /* from the server's reports, or the ICE consent checks against a server
		     * that sends none (callwire's SFU); -1: not known yet */
};

/* Opens a UDP socket (non-blocking, close-on-exec) for the candidates' family and starts
 * the checks: USE-CANDIDATE on every check (aggressive nomination), ICE-CONTROLLING.
 * 0 or a negative CW_ERR_*. */
int cw__pc_new(struct cw__pc **pcp, const struct cw__pc_params *params, int64_t now_ms);
/* Sends a DTLS close_notify when connected, closes the socket and frees. NULL ignored. */
void cw__pc_free(struct cw__pc *pc);
/* The socket, for the network thread's poll. */
int cw__pc_fd(const struct cw__pc *pc);
enum cw__pc_state cw__pc_get_state(const struct cw__pc *pc);
/* Reads every datagram waiting on the socket and handles it (STUN, DTLS, SRTP, SRTCP). */
void cw__pc_readable(struct cw__pc *pc, int64_t now_ms);
/* Does what is due at now_ms (check retransmissions, consent, DTLS timers, RTCP reports
 * every second, NACK repeats) and returns the next time it wants to be called. */
int64_t cw__pc_timer(struct cw__pc *pc, int64_t now_ms);
/* Declares an SSRC we send, with its RTP clock, for sender reports and NACK answers. */
int cw__pc_add_send_ssrc(struct cw__pc *pc, uint32_t ssrc, uint32_t clock_rate);
/* Declares an SSRC we receive (its clock; whether to NACK its losses). Packets of an
 * undeclared SSRC are dropped. Removing is done by declaring again with clock_rate 0. */
int cw__pc_add_recv_ssrc(struct cw__pc *pc, uint32_t ssrc, uint32_t clock_rate, bool nack);
/* Protects and sends one RTP packet (pkt has room for cap bytes: SRTP's trailer), keeping
 * a copy to answer NACKs. CW_ERR_INVALID_STATE before CONNECTED. */
int cw__pc_send_rtp(struct cw__pc *pc, uint8_t *pkt, size_t len, size_t cap, int64_t now_ms);
/* Asks the server for a keyframe of ssrc (PLI). */
int cw__pc_request_keyframe(struct cw__pc *pc, uint32_t ssrc);
void cw__pc_get_stats(const struct cw__pc *pc, struct cw__pc_stats *st);
/* Test hook: drops this fraction (per mille) of incoming SRTP media packets before they
 * are looked at, chosen by a PRNG seeded with seed. */
void cw__pc_set_rx_drop(struct cw__pc *pc, unsigned per_mille, uint32_t seed);

#endif
