/* negotiate: the SDP side of a media session: our answer to a participant's publish
 * offer (and the media map the worker rewrites its packets with), our offers on the
 * subscribe connection, and what we need from the participant's subscribe answer. */
#ifndef CW_SESSION_NEGOTIATE_H
#define CW_SESSION_NEGOTIATE_H

#include <stdbool.h>
#include <stdint.h>

#include "rtc/dtls.h"
#include "rtc/sdp.h"
#include "sfu/sfu.h"

#define CW_NEG_MID_MAX 32
#define CW_NEG_TRACK_ID_MAX 80

/* Our side of one peer connection. */
struct cw_neg_local {
	const char *ufrag, *pwd;
	const char *fingerprint; /* cw_sfu_fingerprint: "sha-256 AB:CD:…" */
	const struct cw_sdp_host *hosts;
	unsigned nhosts;
	uint64_t session_id, version; /* o= line */
};

/* A track a participant publishes. */
struct cw_neg_track {
	enum cw_sdp_kind kind; /* CW_SDP_AUDIO or CW_SDP_VIDEO */
	char mid[CW_NEG_MID_MAX + 1];
	uint32_t ssrc;
};

struct cw_neg_publish {
	char *answer; /* malloc'd SDP text */
	struct cw_sfu_media_map map;
	char remote_fingerprint[CW_DTLS_FINGERPRINT_MAX];
	struct cw_neg_track tracks[CW_SFU_TRACKS_MAX];
	unsigned ntracks;
};

/*
 * Answers a publish offer: Opus, and VP8 or H.264 unless audio_only (then video
 * m-sections are rejected); NACK, PLI, FIR and REMB feedback; the audio-level extension.
 * The tracks are the accepted m-sections the client sends on, with the SSRC its a=ssrc
 * lines announce. Returns 0, or -EINVAL / -ENOTSUP / -ENOMEM with why (a sentence for the
 * client) filled.
 */
int cw_neg_publish(const char *offer, const struct cw_neg_local *local, bool audio_only,
		   struct cw_neg_publish *out, char *why, size_t why_size);

/* A track in a subscribe offer. */
struct cw_neg_sub_track {
	enum cw_sdp_kind kind;
	char mid[CW_NEG_MID_MAX + 1];
	uint32_t ssrc;
	char stream_id[CW_SFU_PART_MAX + 1]; /* the publisher's participant id */
	char track_id[CW_NEG_TRACK_ID_MAX + 1];
	bool stopped;
	bool inactive; /* a gone track's place, kept for the next one */
};

/* The server's offer on a subscribe connection (malloc'd text in *text). */
int cw_neg_subscribe_offer(const struct cw_neg_local *local, const struct cw_neg_sub_track *t,
			   unsigned n, char **text, char *why, size_t why_size);

/* Reads a subscribe answer: the client's fingerprint and our DTLS role. */
int cw_neg_subscribe_answer(const char *answer, char fingerprint[CW_DTLS_FINGERPRINT_MAX],
			    enum cw_dtls_role *role, char *why, size_t why_size);

#endif
