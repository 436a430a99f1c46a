/* phone: the softphone side of the client commands (client_media.c): `call` with audio,
 * `answer` and `join`. */
#ifndef CW_CLI_PHONE_H
#define CW_CLI_PHONE_H

#include "cli/client.h"

/* The media options `call`, `answer` and `join` share. */
struct phone_opts {
	const char *audio_in;  /* a WAV file to play, or NULL */
	const char *audio_out; /* a WAV file to record what is heard, or NULL */
	double tone;	       /* Hz of a tone to play instead; 0: none */
	int duration_ms;       /* hang up (leave) this long after joining; 0: stay */
	bool loop;	       /* play audio_in again and again */
	unsigned receive_loss; /* per mille of incoming packets dropped (tests) */
	int video_w, video_h;  /* send the test pattern at this size; 0: no video */
	const char *video_out; /* a Y4M file to record the first video seen, or NULL */
	bool no_join;	       /* ring only */
	bool media;	       /* any of the above was given */
};

enum {
	PHONE_AUDIO_IN = 100,
	PHONE_AUDIO_OUT,
	PHONE_TONE,
	PHONE_DURATION,
	PHONE_LOOP,
	PHONE_LOSS,
	PHONE_VIDEO_PATTERN,
	PHONE_VIDEO_OUT
};

/* The options above as cli_opt entries, up to {NULL}. */
extern const struct cli_opt phone_options[];
/* Takes one of them; returns -1 to go on (also for an id that is not one), else an exit
 * code. */
int phone_option(struct cli_parser *p, struct phone_opts *o, int id, const char *value);

/* Whether the options send or record video. */
static inline bool phone_video(const struct phone_opts *o)
{
	return o->video_w > 0 || o->video_out;
}

/* Rings receiver, and when the call is accepted joins its session with the options;
 * stays until --duration passed, the call ended, or SIGINT/SIGTERM (then hangs up). */
int phone_call(const struct cli_common *common, const char *receiver, cw_receiver_type rtype,
	       cw_call_type type, int ring_timeout, const char *metadata,
	       const struct phone_opts *o);

int cli_cmd_answer(int argc, char **argv);
int cli_cmd_join(int argc, char **argv);

#endif
