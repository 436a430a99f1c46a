/* wav: RIFF WAVE files read into 48 kHz mono whatever their layout, and 48 kHz mono 16-bit
 * files written so that their header stays valid while they grow. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "callwire/callwire.h"
#include "media.h"

#define WAV_PCM 0x0001
#define WAV_FLOAT 0x0003
#define WAV_EXTENSIBLE 0xFFFE
#define WAV_FMT_MIN 16	      /* bytes of a WAVEFORMAT with its bits per sample */
#define WAV_FMT_EXTENSIBLE 40 /* bytes of a WAVEFORMATEXTENSIBLE */
#define WAV_RATE_MIN 8000
#define WAV_RATE_MAX 192000
#define WAV_CHANNELS_MAX 8
#define WAV_UNKNOWN_SIZE 0xFFFFFFFFu /* a streaming writer's size: to the end of the file */
#define WAV_HEADER 44

/* The resampler: a Blackman-windowed sinc of WAV_SINC_ZEROS zero crossings each side,
 * tabulated at WAV_SINC_RES points per crossing, its cutoff a little below the lower of
 * the two Nyquist frequencies so that the transition band stays under it. */
#define WAV_SINC_ZEROS 24
#define WAV_SINC_RES 128
#define WAV_CUTOFF 0.92

/* What follows the format code in the subformat GUID of WAVE_FORMAT_EXTENSIBLE. */
static const uint8_t wav_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
					  0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

struct wav_fmt {
	unsigned format; /* WAV_PCM or WAV_FLOAT, the subformat of an extensible one */
	unsigned channels, bits, block;
	uint32_t rate;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* Writes "path: why" into err and returns code. */
static int why(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int why(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return code;
	n = snprintf(err, errlen, "%s: ", path);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static int parse_fmt(struct wav_fmt *fmt, const uint8_t *b, uint32_t len, const char *path,
		     char *err, size_t errlen)
{
	unsigned format = le16(b);

	fmt->channels = le16(b + 2);
	fmt->rate = le32(b + 4);
	fmt->block = le16(b + 12);
	fmt->bits = le16(b + 14);
	if (format == WAV_EXTENSIBLE) {
		if (len < WAV_FMT_EXTENSIBLE)
			return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
				   "the WAVE_FORMAT_EXTENSIBLE header is cut short");
		if (memcmp(b + 26, wav_guid_tail, sizeof(wav_guid_tail)) != 0)
			return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
				   "unknown WAVE_FORMAT_EXTENSIBLE subformat");
		format = le16(b + 24);
	}
	fmt->format = format;
	if (format != WAV_PCM && format != WAV_FLOAT)
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
			   "format 0x%04x is not supported (only PCM and IEEE float are)", format);
	if (format == WAV_PCM && fmt->bits != 8 && fmt->bits != 16 && fmt->bits != 24 &&
	    fmt->bits != 32)
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
			   "%u-bit samples are not supported (8, 16, 24 or 32 are)", fmt->bits);
	if (format == WAV_FLOAT && fmt->bits != 32)
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
			   "%u-bit float samples are not supported (32 are)", fmt->bits);
	if (fmt->channels < 1 || fmt->channels > WAV_CHANNELS_MAX)
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
			   "%u channels are not supported (1 to %d are)", fmt->channels,
			   WAV_CHANNELS_MAX);
	if (fmt->rate < WAV_RATE_MIN || fmt->rate > WAV_RATE_MAX)
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
			   "a rate of %u Hz is not supported (%d to %d Hz are)",
			   (unsigned)fmt->rate, WAV_RATE_MIN, WAV_RATE_MAX);
	if (fmt->block != fmt->channels * (fmt->bits / 8))
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
			   "a block of %u bytes does not fit %u channels of %u bits", fmt->block,
			   fmt->channels, fmt->bits);
	return 0;
}

static float sample_at(const struct wav_fmt *fmt, const uint8_t *p)
{
	uint32_t u;
	float f;

	switch (fmt->bits) {
	case 8:
		return (float)(p[0] - 128) / 128.0f;
	case 16:
		return (float)(int16_t)le16(p) / 32768.0f;
	case 24:
		/* Shifted up to 32 bits for the sign, then scaled back down. */
		u = (uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24;
		return (float)((int32_t)u / 256) / 8388608.0f;
	default:
		u = le32(p);
		if (fmt->format == WAV_PCM)
			return (float)((double)(int32_t)u / 2147483648.0);
		memcpy(&f, &u, sizeof(f));
		return isfinite(f) ? f : 0.0f;
	}
}

/* Reads the data chunk's nframes frames, each mixed down to one sample. */
static int read_frames(FILE *f, const struct wav_fmt *fmt, float *mono, size_t nframes)
{
	uint8_t buf[8192];
	size_t per = sizeof(buf) / fmt->block;

	for (size_t done = 0; done < nframes;) {
		size_t k = nframes - done < per ? nframes - done : per;
		if (fread(buf, fmt->block, k, f) != k)
			return CW_ERR_IO;
		for (size_t i = 0; i < k; i++) {
			const uint8_t *p = buf + i * fmt->block;
			float sum = 0;
			for (unsigned c = 0; c < fmt->channels; c++)
				sum += sample_at(fmt, p + c * (fmt->bits / 8));
			mono[done + i] = sum / (float)fmt->channels;
		}
		done += k;
	}
	return 0;
}

static int16_t to_s16(double v)
{
	v = v * 32768.0;
	if (v >= INT16_MAX)
		return INT16_MAX;
	if (v <= INT16_MIN)
		return INT16_MIN;
	return (int16_t)lrint(v);
}

/* Resamples nin samples at rate to nout at 48 kHz: each output sample is the windowed-sinc
 * interpolation of the input around its instant, with the weights normalised so that a
 * constant stays constant (at the edges too). */
static int resample(const float *in, size_t nin, uint32_t rate, int16_t *out, size_t nout)
{
	double cut = WAV_CUTOFF * (rate > CW__AUDIO_RATE ? (double)CW__AUDIO_RATE / rate : 1.0);
	int64_t half = (int64_t)ceil(WAV_SINC_ZEROS / cut);
	size_t ntab = WAV_SINC_ZEROS * WAV_SINC_RES + 1;
	float *tab = malloc((ntab + 1) * sizeof(*tab));

	if (!tab)
		return CW_ERR_NO_MEMORY;
	tab[0] = 1.0f;
	for (size_t j = 1; j <= ntab; j++) {
		double x = (double)j / WAV_SINC_RES, u = x / WAV_SINC_ZEROS;
		double w = u >= 1 ? 0 : 0.42 + 0.5 * cos(M_PI * u) + 0.08 * cos(2 * M_PI * u);
		tab[j] = (float)(sin(M_PI * x) / (M_PI * x) * w);
	}
	for (size_t i = 0; i < nout; i++) {
		uint64_t pos = (uint64_t)i * rate;
		int64_t k0 = (int64_t)(pos / CW__AUDIO_RATE);
		double frac = (double)(pos % CW__AUDIO_RATE) / CW__AUDIO_RATE, acc = 0, sum = 0;
		int64_t lo = k0 - half + 1 < 0 ? 0 : k0 - half + 1;
		int64_t hi = k0 + half >= (int64_t)nin ? (int64_t)nin - 1 : k0 + half;

		for (int64_t k = lo; k <= hi; k++) {
			double x = fabs((double)(k - k0) - frac) * cut * WAV_SINC_RES, w;
			size_t j = (size_t)x;
			if (j >= ntab - 1)
				continue;
			w = tab[j] + (tab[j + 1] - tab[j]) * (x - (double)j);
			acc += w * in[k];
			sum += w;
		}
		out[i] = to_s16(sum > 0 ? acc / sum : 0);
	}
	free(tab);
	return 0;
}

int cw__wav_load(const char *path, int16_t **pcmp, size_t *np, char *err, size_t errlen)
{
	struct wav_fmt fmt = {0};
	bool have_fmt = false, have_data = false;
	uint64_t size, pos = 12, data_off = 0, data_len = 0, nout;
	uint8_t head[12], fmtbuf[WAV_FMT_EXTENSIBLE];
	size_t nframes = 0;
	int16_t *pcm = NULL;
	float *mono = NULL;
	struct stat sb;
	FILE *f = NULL;
	int ret = 0;

	if (err && errlen)
		err[0] = '\0';
	if (pcmp)
		*pcmp = NULL;
	if (np)
		*np = 0;
	if (!path || !pcmp || !np)
		return why(CW_ERR_INVALID_ARGUMENT, err, errlen, "?", "a path is needed");
	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb) != 0) {
		ret = why(CW_ERR_IO, err, errlen, path, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = why(CW_ERR_IO, err, errlen, path, "not a regular file");
		goto out;
	}
	size = (uint64_t)sb.st_size;
	if (size < sizeof(head) || fread(head, 1, sizeof(head), f) != sizeof(head) ||
	    memcmp(head, "RIFF", 4) != 0 || memcmp(head + 8, "WAVE", 4) != 0) {
		ret = why(CW_ERR_INVALID_ARGUMENT, err, errlen, path, "not a RIFF/WAVE file");
		goto out;
	}

	/* The chunks, up to the end of the file: the RIFF size is often wrong. */
	while (!(have_fmt && have_data) && size - pos >= 8) {
		uint8_t ch[8];
		uint64_t len;

		if (fseeko(f, (off_t)pos, SEEK_SET) != 0 || fread(ch, 1, 8, f) != 8) {
			ret = why(CW_ERR_IO, err, errlen, path, "cannot read");
			goto out;
		}
		len = le32(ch + 4);
		pos += 8;
		if (memcmp(ch, "data", 4) == 0 && len == WAV_UNKNOWN_SIZE)
			len = size - pos;
		if (len > size - pos) {
			ret = why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
				  "truncated: the '%.4s' chunk needs %llu bytes, %llu are left",
				  (const char *)ch, (unsigned long long)len,
				  (unsigned long long)(size - pos));
			goto out;
		}
		if (memcmp(ch, "fmt ", 4) == 0 && !have_fmt) {
			size_t want = len < sizeof(fmtbuf) ? (size_t)len : sizeof(fmtbuf);
			if (len < WAV_FMT_MIN) {
				ret = why(CW_ERR_INVALID_ARGUMENT, err, errlen, path,
					  "the fmt chunk is too short (%u bytes)", (unsigned)len);
				goto out;
			}
			if (fread(fmtbuf, 1, want, f) != want) {
				ret = why(CW_ERR_IO, err, errlen, path, "cannot read");
				goto out;
			}
			ret = parse_fmt(&fmt, fmtbuf, (uint32_t)len, path, err, errlen);
			if (ret)
				goto out;
			have_fmt = true;
		} else if (memcmp(ch, "data", 4) == 0 && !have_data) {
			data_off = pos;
			data_len = len;
			have_data = true;
		}
		pos += len + (len & 1); /* chunks of odd size are padded */
		if (pos > size)
			pos = size;
	}
	if (!have_fmt || !have_data) {
		ret = why(CW_ERR_INVALID_ARGUMENT, err, errlen, path, "no '%s' chunk",
			  have_fmt ? "data" : "fmt ");
		goto out;
	}

	nframes = (size_t)(data_len / fmt.block);
	nout = ((uint64_t)nframes * CW__AUDIO_RATE + fmt.rate - 1) / fmt.rate;
	if (nframes == 0)
		goto out;
	if (nout > SIZE_MAX / sizeof(*pcm) || nframes > SIZE_MAX / sizeof(*mono)) {
		ret = why(CW_ERR_NO_MEMORY, err, errlen, path, "too long");
		goto out;
	}
	mono = malloc(nframes * sizeof(*mono));
	pcm = malloc((size_t)nout * sizeof(*pcm));
	if (!mono || !pcm) {
		ret = why(CW_ERR_NO_MEMORY, err, errlen, path, "out of memory");
		goto out;
	}
	if (fseeko(f, (off_t)data_off, SEEK_SET) != 0 || read_frames(f, &fmt, mono, nframes) != 0) {
		ret = why(CW_ERR_IO, err, errlen, path, "cannot read");
		goto out;
	}
	if (fmt.rate == CW__AUDIO_RATE) {
		for (size_t i = 0; i < nframes; i++)
			pcm[i] = to_s16(mono[i]);
	} else if (resample(mono, nframes, fmt.rate, pcm, (size_t)nout) != 0) {
		ret = why(CW_ERR_NO_MEMORY, err, errlen, path, "out of memory");
		goto out;
	}
	*pcmp = pcm;
	*np = (size_t)nout;
	pcm = NULL;
out:
	free(pcm);
	free(mono);
	if (f)
		fclose(f);
	return ret;
}

/* ---- writing ---- */

/* The most samples a RIFF file's 32-bit sizes can count. */
#define WAV_OUT_MAX ((UINT32_MAX - (WAV_HEADER - 8)) / 2)

struct cw__wav_out {
	FILE *f;
	uint64_t samples;
	uint64_t fixed; /* samples the header counts */
	bool failed;
};

static void make_header(uint8_t *h, uint32_t riff_size, uint32_t data_size)
{
	memcpy(h, "RIFF", 4);
	put32(h + 4, riff_size);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, WAV_PCM);
	put16(h + 22, 1);
	put32(h + 24, CW__AUDIO_RATE);
	put32(h + 28, CW__AUDIO_RATE * 2);
	put16(h + 32, 2);
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, data_size);
}

/* Brings the header's sizes up to what is written, the samples flushed first so that the
 * header never counts more than the file holds. */
static int fix_header(struct cw__wav_out *out)
{
	uint32_t bytes = (uint32_t)(out->samples * 2);
	uint8_t h[WAV_HEADER];

	make_header(h, WAV_HEADER - 8 + bytes, bytes);
	if (fflush(out->f) != 0 || fseeko(out->f, 0, SEEK_SET) != 0 ||
	    fwrite(h, 1, sizeof(h), out->f) != sizeof(h) || fseeko(out->f, 0, SEEK_END) != 0 ||
	    fflush(out->f) != 0) {
		out->failed = true;
		return CW_ERR_IO;
	}
	out->fixed = out->samples;
	return 0;
}

int cw__wav_create(struct cw__wav_out **outp, const char *path)
{
	struct cw__wav_out *out;
	uint8_t h[WAV_HEADER];

	if (!outp || !path)
		return CW_ERR_INVALID_ARGUMENT;
	*outp = NULL;
	out = calloc(1, sizeof(*out));
	if (!out)
		return CW_ERR_NO_MEMORY;
	/* Until the first second is written the sizes say "to the end of the file", as a
	 * streaming writer's do. */
	make_header(h, WAV_UNKNOWN_SIZE, WAV_UNKNOWN_SIZE);
	out->f = fopen(path, "wb");
	if (!out->f || fwrite(h, 1, sizeof(h), out->f) != sizeof(h) || fflush(out->f) != 0) {
		if (out->f)
			fclose(out->f);
		free(out);
		return CW_ERR_IO;
	}
	*outp = out;
	return 0;
}

int cw__wav_write(struct cw__wav_out *out, const int16_t *pcm, size_t n)
{
	uint8_t buf[4096];

	if (!out || (!pcm && n > 0))
		return CW_ERR_INVALID_ARGUMENT;
	if (out->failed || n > WAV_OUT_MAX - out->samples)
		return CW_ERR_IO;
	while (n > 0) {
		/* Up to the next second, where the header is brought up to date. */
		uint64_t due = out->fixed + CW__AUDIO_RATE - out->samples;
		size_t k = n < sizeof(buf) / 2 ? n : sizeof(buf) / 2;
		if (k > due)
			k = (size_t)due;
		for (size_t i = 0; i < k; i++)
			put16(buf + 2 * i, (uint16_t)pcm[i]);
		if (fwrite(buf, 2, k, out->f) != k) {
			out->failed = true;
			return CW_ERR_IO;
		}
		out->samples += k;
		pcm += k;
		n -= k;
		if (out->samples - out->fixed >= CW__AUDIO_RATE && fix_header(out) != 0)
			return CW_ERR_IO;
	}
	return 0;
}

uint64_t cw__wav_samples(const struct cw__wav_out *out)
{
	return out ? out->samples : 0;
}

int cw__wav_close(struct cw__wav_out *out)
{
	int err = 0;

	if (!out)
		return 0;
	if (out->failed || fix_header(out) != 0)
		err = CW_ERR_IO;
	if (fclose(out->f) != 0)
		err = CW_ERR_IO;
	free(out);
	return err;
}
