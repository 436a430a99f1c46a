/* Structured logging in logfmt, one line per event. */
#include <stdio.h>
#include <time.h>

#include "util/util.h"

static enum cw_log_level min_level = CW_LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void cw_log_set_level(enum cw_log_level level)
{
	min_level = level;
}

void cw_log(enum cw_log_level level, const char *event, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level < min_level)
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, level_names[level], event);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	line[n] = ' ';
	va_start(ap, fmt);
	vsnprintf(line + n + 1, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (line[n + 1] == '\0')
		line[n] = '\0';
	/* One write per line so lines from several threads never interleave. */
	fprintf(stderr, "%s\n", line);
}
