/* stats: latency samples and percentiles, and what /proc says about another process. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct samples {
	uint64_t *v; /* nanoseconds */
	size_t n, cap;
	int sorted;
};

uint64_t now_ns(void);

void samples_add(struct samples *s, uint64_t ns);
/* The q-quantile (0..1) in milliseconds by the nearest-rank method; 0 without samples. */
double samples_ms(struct samples *s, double q);
void samples_free(struct samples *s);

/* utime + stime of pid in seconds, or -1. */
double proc_cpu_seconds(pid_t pid);
/* VmRSS of pid in KiB, or -1. */
long proc_rss_kb(pid_t pid);
/* This process's user + system CPU seconds. */
double self_cpu_seconds(void);

#endif
