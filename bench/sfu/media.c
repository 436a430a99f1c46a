/* media: loads a .cwmedia recording (format in media.h) and checks every field of it. */
#include "media.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int media_parse(const uint8_t *buf, size_t len, struct media *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (len < MEDIA_HEADER_BYTES)
		return fail(err, errlen, "%zu bytes: shorter than the %d-byte header", len,
			    MEDIA_HEADER_BYTES);
	if (memcmp(buf, MEDIA_MAGIC, 8) != 0)
		return fail(err, errlen, "not a recording: no \"%s\" magic", MEDIA_MAGIC);
	uint64_t loop_ns = rd64(buf + 8);
	uint32_t vts = rd32(buf + 16), ats = rd32(buf + 20), count = rd32(buf + 24);
	if (loop_ns == 0)
		return fail(err, errlen, "the loop's length is 0");
	if (count == 0)
		return fail(err, errlen, "no records");
	if (count > (len - MEDIA_HEADER_BYTES) / (MEDIA_RECORD_BYTES + 1))
		return fail(err, errlen, "%u records cannot fit in %zu bytes", count, len);

	struct media_pkt *pkts = calloc(count, sizeof(*pkts));
	if (!pkts)
		return fail(err, errlen, "out of memory for %u records", count);
	size_t off = MEDIA_HEADER_BYTES, n_video = 0, n_audio = 0, max_len = 0;
	uint64_t last_at = 0;
	uint32_t last_ts[2] = {0, 0};
	for (uint32_t i = 0; i < count; i++) {
		if (len - off < MEDIA_RECORD_BYTES) {
			free(pkts);
			return fail(err, errlen, "record %u: truncated at byte %zu", i, off);
		}
		const uint8_t *r = buf + off;
		struct media_pkt *p = &pkts[i];
		p->at_ns = rd64(r);
		p->kind = r[8];
		p->marker = r[9];
		p->keyframe = r[10];
		p->audio_level = r[11];
		p->ts = rd32(r + 12);
		p->len = rd16(r + 16);
		off += MEDIA_RECORD_BYTES;
		const char *why = NULL;
		if (p->kind > MEDIA_AUDIO)
			why = "kind is neither 0 (video) nor 1 (audio)";
		else if (p->marker > 1 || p->keyframe > 1)
			why = "marker or keyframe is not 0 or 1";
		else if (p->kind == MEDIA_AUDIO && (p->marker || p->keyframe))
			why = "an audio packet with a marker or keyframe flag";
		else if (p->kind == MEDIA_VIDEO && p->audio_level)
			why = "a video packet with an audio level";
		else if (p->audio_level > 127)
			why = "audio level above 127";
		else if (p->at_ns >= loop_ns)
			why = "send time beyond the loop";
		else if (p->at_ns < last_at)
			why = "send time goes back";
		else if (p->ts >= (p->kind == MEDIA_VIDEO ? vts : ats))
			why = "RTP timestamp beyond the loop's";
		else if (p->ts < last_ts[p->kind])
			why = "RTP timestamp goes back";
		else if (p->len == 0 || p->len > MEDIA_MAX_PAYLOAD)
			why = "payload length out of 1..MEDIA_MAX_PAYLOAD";
		else if (p->len > len - off)
			why = "payload truncated";
		else if (p->kind == MEDIA_VIDEO && p->len <= MEDIA_VP8_DESC_BYTES)
			why = "a video payload without data after its descriptor";
		if (why) {
			free(pkts);
			return fail(err, errlen, "record %u at byte %zu: %s", i,
				    off - MEDIA_RECORD_BYTES, why);
		}
		p->payload = buf + off;
		off += p->len;
		last_at = p->at_ns;
		last_ts[p->kind] = p->ts;
		if (p->kind == MEDIA_VIDEO)
			n_video++;
		else
			n_audio++;
		if (p->len > max_len)
			max_len = p->len;
	}
	if (off != len) {
		free(pkts);
		return fail(err, errlen, "%zu bytes after the last record", len - off);
	}
	m->pkts = pkts;
	m->n = count;
	m->loop_ns = loop_ns;
	m->video_ts_per_loop = vts;
	m->audio_ts_per_loop = ats;
	m->n_video = n_video;
	m->n_audio = n_audio;
	m->max_len = max_len;
	return 0;
}

int media_load(const char *path, struct media *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			if (cap >= MEDIA_MAX_FILE_BYTES) {
				free(buf);
				fclose(f);
				return fail(err, errlen, "%s: larger than %llu bytes", path,
					    (unsigned long long)MEDIA_MAX_FILE_BYTES);
			}
			size_t ncap = cap ? cap * 2 : 1 << 20;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				fclose(f);
				return fail(err, errlen, "%s: out of memory", path);
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		free(buf);
		return fail(err, errlen, "%s: read error", path);
	}
	char why[200];
	if (media_parse(buf, len, m, why, sizeof(why)) != 0) {
		free(buf);
		return fail(err, errlen, "%s: %s", path, why);
	}
	m->blob = buf;
	return 0;
}

void media_free(struct media *m)
{
	free(m->pkts);
	free(m->blob);
	memset(m, 0, sizeof(*m));
}
