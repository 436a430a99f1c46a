/* util: logging, randomness, hashing, encodings and clocks shared by every module. */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Sizes of the contract's identifiers (without the terminating NUL). */
#define CW_APPID_MAX 64 /* appId, sessionId */
#define CW_UID_MAX 100	/* uid, guid */
#define CW_HASH_HEX 64	/* SHA-256 in hex */

/* Logging: one line per event in logfmt ("ts=… level=… event=… key=value …") on stderr.
 * Callers pass only key=value pairs in fmt; never a secret. */
enum cw_log_level { CW_LOG_DEBUG, CW_LOG_INFO, CW_LOG_WARN, CW_LOG_ERROR };

void cw_log_set_level(enum cw_log_level level);
void cw_log(enum cw_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define cw_info(ev, ...) cw_log(CW_LOG_INFO, ev, __VA_ARGS__)
#define cw_warn(ev, ...) cw_log(CW_LOG_WARN, ev, __VA_ARGS__)
#define cw_error(ev, ...) cw_log(CW_LOG_ERROR, ev, __VA_ARGS__)

/* Randomness from the OS CSPRNG (OpenSSL). Returns 0 or -EIO. */
int cw_rand_bytes(void *buf, size_t len);

/* A random secret: prefix followed by the base64url form of nbytes random bytes.
 * out must hold strlen(prefix) + 4 * nbytes / 3 + 2 bytes. Returns 0, -EIO or -ENOSPC. */
int cw_rand_secret(char *out, size_t outsz, const char *prefix, size_t nbytes);

/* SHA-256 of data as 64 lowercase hex digits and a terminating NUL. */
#define CW_SHA256_HEX_LEN 64
void cw_sha256_hex(const void *data, size_t len, char out[CW_SHA256_HEX_LEN + 1]);

/* Compares two strings in time that depends only on their lengths. */
bool cw_secret_eq(const char *a, const char *b);

/* base64url without padding. encode returns the length written (out needs 4*len/3+2 bytes);
 * decode returns the decoded length or -EINVAL. */
size_t cw_b64url_encode(const void *in, size_t len, char *out);
int cw_b64url_decode(const char *in, size_t len, void *out, size_t outsz);

/* Wall clock in Unix milliseconds, and a monotonic clock in nanoseconds. */
int64_t cw_now_ms(void);
uint64_t cw_mono_ns(void);

/* strlcpy: copies at most size-1 bytes, always terminates, returns strlen(src). */
size_t cw_strlcpy(char *dst, const char *src, size_t size);

/* strdup that accepts NULL (returns NULL). */
char *cw_strdup0(const char *s);

#endif
