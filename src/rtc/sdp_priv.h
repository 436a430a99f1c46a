/* sdp_priv: what sdp.c (model, parsing) shares with sdp_write.c (negotiation, output). */
#ifndef CW_RTC_SDP_PRIV_H
#define CW_RTC_SDP_PRIV_H

#include <stddef.h>

#include "rtc/sdp.h"

/* Names by enum value: directions, a=setup roles, m= media of the known kinds. */
extern const char *const cw__sdp_dir_names[4];
extern const char *const cw__sdp_setup_names[5];
extern const char *const cw__sdp_kind_names[4];

/* Fills *err (when not NULL) with "line N: <fmt>" (or just <fmt> for line 0); returns rc. */
int cw__sdp_fail(struct cw_sdp_err *err, unsigned line, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A zeroed model block with room for nmedia m-sections and `strings` bytes of strings. */
struct cw_sdp *cw__sdp_alloc(unsigned nmedia, size_t strings);

/*
 * Copy a string into s's string area and return the copy. When the area is full they
 * return "" and mark s (strings_used > strings_size), which callers check once at the end.
 */
const char *cw__sdp_keep(struct cw_sdp *s, const char *p, size_t n);
const char *cw__sdp_keep_str(struct cw_sdp *s, const char *str); /* NULL stays NULL */
const char *cw__sdp_keepf(struct cw_sdp *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
