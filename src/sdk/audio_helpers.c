/* audio_helpers: ready-made audio sources and sinks: a WAV file played, a WAV file
 * recorded, a sine tone. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "sdk.h"

struct cw_wav_source {
	int16_t *pcm;
	size_t n, pos;
	bool loop;
	atomic_bool done;
};

int cw_wav_source_open(cw_wav_source **sp, const char *path, bool loop)
{
	char why[256] = "";
	cw_wav_source *s;
	int err;

	if (!sp || !path) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "a path is needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	*sp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	err = cw__wav_load(path, &s->pcm, &s->n, why, sizeof(why));
	if (err) {
		free(s);
		cw__set_error(err, why[0] ? why : NULL);
		return err;
	}
	s->loop = loop && s->n > 0;
	atomic_init(&s->done, s->n == 0);
	*sp = s;
	return 0;
}

void cw_wav_source_free(cw_wav_source *s)
{
	if (!s)
		return;
	free(s->pcm);
	free(s);
}

double cw_wav_source_duration(const cw_wav_source *s)
{
	return s ? (double)s->n / CW__AUDIO_RATE : 0;
}

bool cw_wav_source_done(const cw_wav_source *s)
{
	return !s || atomic_load(&s->done);
}

int cw_wav_source_cb(cw_session *session, int16_t *pcm, size_t samples, void *arg)
{
	cw_wav_source *s = arg;
	size_t made = 0;

	(void)session;
	while (made < samples && s->n > 0) {
		size_t take = s->n - s->pos < samples - made ? s->n - s->pos : samples - made;
		memcpy(pcm + made, s->pcm + s->pos, take * sizeof(*pcm));
		made += take;
		s->pos += take;
		if (s->pos < s->n)
			continue;
		if (!s->loop)
			break;
		s->pos = 0;
	}
	if (made == 0 && !s->loop) {
		atomic_store(&s->done, true);
		return -1;
	}
	return (int)made;
}

struct cw_wav_sink {
	struct cw__wav_out *out;
	atomic_uint_least64_t samples;
	bool failed;
};

int cw_wav_sink_open(cw_wav_sink **kp, const char *path)
{
	cw_wav_sink *k;
	int err;

	if (!kp || !path) {
		cw__set_error(CW_ERR_INVALID_ARGUMENT, "a path is needed");
		return CW_ERR_INVALID_ARGUMENT;
	}
	*kp = NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		cw__set_error(CW_ERR_NO_MEMORY, NULL);
		return CW_ERR_NO_MEMORY;
	}
	err = cw__wav_create(&k->out, path);
	if (err) {
		char why[320];
		snprintf(why, sizeof(why), "cannot create the WAV file: %s",
			 err == CW_ERR_IO ? strerror(errno) : cw_strerror(err));
		free(k);
		cw__set_error(err, why);
		return err;
	}
	atomic_init(&k->samples, 0);
	*kp = k;
	return 0;
}

int cw_wav_sink_close(cw_wav_sink *k)
{
	int err;

	if (!k)
		return 0;
	err = cw__wav_close(k->out);
	if (!err && k->failed)
		err = CW_ERR_IO;
	free(k);
	if (err)
		cw__set_error(err, "cannot write the WAV file");
	return err;
}

uint64_t cw_wav_sink_samples(const cw_wav_sink *k)
{
	return k ? atomic_load(&((cw_wav_sink *)k)->samples) : 0;
}

void cw_wav_sink_cb(cw_session *session, const char *participant_id, const int16_t *pcm,
		    size_t samples, void *arg)
{
	cw_wav_sink *k = arg;

	(void)session;
	(void)participant_id;
	if (cw__wav_write(k->out, pcm, samples) != 0)
		k->failed = true;
	else
		atomic_fetch_add(&k->samples, samples);
}

int cw_tone_source_cb(cw_session *session, int16_t *pcm, size_t samples, void *arg)
{
	cw_tone *t = arg;
	double amp = t->amplitude < 0 ? 0 : t->amplitude > 1 ? 1 : t->amplitude;

	(void)session;
	for (size_t i = 0; i < samples; i++) {
		/* The phase in cycles is n * f / rate; with n = q * rate + r that is q * f + r *
		 * f / rate, and only its fraction matters: precise over any call's length, and
		 * continuous for any frequency. */
		uint64_t n = t->position + i;
		double whole = (double)(n / CW__AUDIO_RATE) * t->frequency;
		double cycles = (whole - floor(whole)) +
				(double)(n % CW__AUDIO_RATE) * t->frequency / CW__AUDIO_RATE;
		pcm[i] = (int16_t)lrint(32767.0 * amp * sin(2 * M_PI * cycles));
	}
	t->position += samples;
	return (int)samples;
}
