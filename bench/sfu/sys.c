/* sys: the SFU's worker threads in this process (found, pinned, their CPU clocks) and the
 * kernel's counters of CPUs and UDP sockets, read from /proc. */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfugen.h"

int sys_tasks(int *tids, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			tids[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* A worker's index from its thread name ("cw-media-N", as src/sfu/worker.c names them),
 * or -1 when the thread has another name. */
static int worker_index(int tid)
{
	char path[64], comm[32];
	FILE *f;
	int i = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
	if (!(f = fopen(path, "r")))
		return -1;
	if (!fgets(comm, sizeof(comm), f) || sscanf(comm, "cw-media-%d", &i) != 1)
		i = -1;
	fclose(f);
	return i;
}

int sys_find_workers(const int *before, int n_before, int *workers, int n_workers)
{
	int now[1024], fresh[1024], n = sys_tasks(now, 1024), n_fresh = 0, named = 0;

	for (int i = 0; i < n; i++) {
		bool old = false;
		for (int j = 0; j < n_before && !old; j++)
			old = now[i] == before[j];
		if (!old)
			fresh[n_fresh++] = now[i];
	}
	if (n_fresh != n_workers)
		return -1;
	/* By name when the workers carry one; otherwise in the order they were made (the
	 * kernel hands out increasing thread ids). */
	for (int i = 0; i < n_fresh; i++) {
		int w = worker_index(fresh[i]);
		if (w >= 0 && w < n_workers) {
			workers[w] = fresh[i];
			named++;
		}
	}
	if (named != n_workers) {
		qsort(fresh, (size_t)n_fresh, sizeof(int), cmp_int);
		memcpy(workers, fresh, (size_t)n_fresh * sizeof(int));
	}
	return 0;
}

int sys_pin(int tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set);
}

int sys_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	for (int i = 0; i < CPU_SETSIZE && n < max; i++) {
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	}
	return n;
}

/* The CPU time of a thread of this process in ns: the kernel's per-thread CPU clock (what
 * pthread_getcpuclockid gives for a pthread_t, made from the thread id: CPUCLOCK_SCHED
 * with the per-thread bit), so every nanosecond the scheduler charged it, including the
 * softirq work (loopback delivery) that runs in its context. */
static uint64_t thread_cpu_ns(int tid)
{
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* utime and stime of a thread of this process, in clock ticks. */
static void thread_times(int tid, uint64_t *utime, uint64_t *stime)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if (!(f = fopen(path, "r")))
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (p &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
		*utime = ut;
		*stime = st;
	}
}

uint64_t sys_wait_ns(int tid)
{
	char path[64];
	unsigned long long run, wait = 0;
	FILE *f;

	/* schedstat: time on the CPU, time waiting on a run queue, timeslices (ns). */
	if (tid)
		snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	else
		snprintf(path, sizeof(path), "/proc/thread-self/schedstat");
	if (!(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return wait;
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void read_proc_stat(struct snapshot *s)
{
	char line[512];
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
		int cpu;
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &user,
			   &nice, &sys, &idle, &iowait, &irq, &softirq, &steal) != 9 ||
		    cpu < 0 || cpu >= CPUS_MAX)
			continue;
		s->cpu_busy[cpu] = user + nice + sys + irq + softirq;
		s->cpu_softirq[cpu] = softirq;
		s->cpu_steal[cpu] = steal;
	}
	fclose(f);
}

void sys_snapshot(struct snapshot *s, struct cw_sfu *sfu, const int *worker_tids, int n)
{
	memset(s, 0, sizeof(*s));
	s->wall_ns = now_ns();
	for (int i = 0; i < n; i++) {
		s->worker_ns[i] = thread_cpu_ns(worker_tids[i]);
		thread_times(worker_tids[i], &s->worker_utime[i], &s->worker_stime[i]);
		s->worker_wait_ns[i] = sys_wait_ns(worker_tids[i]);
	}
	s->sfu_process_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	read_proc_stat(s);
	cw_sfu_get_stats(sfu, &s->sfu);
}

void sys_udp_drops(const uint16_t *ports, int n_ports, uint64_t *server, uint64_t *generator)
{
	char line[512];
	FILE *f = fopen("/proc/net/udp", "r");

	*server = *generator = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned lport, rport;
		unsigned long long drops;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
		if (sscanf(line,
			   " %*d: %*x:%x %*x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %*u %*u %*x %llu",
			   &lport, &rport, &drops) != 3)
			continue;
		for (int i = 0; i < n_ports; i++) {
			if (lport == ports[i])
				*server += drops;
			else if (rport == ports[i])
				*generator += drops;
		}
	}
	fclose(f);
}

void sys_udp_errors(uint64_t *rcvbuf, uint64_t *sndbuf)
{
	char names[512], values[512];
	FILE *f = fopen("/proc/net/snmp", "r");

	*rcvbuf = *sndbuf = 0;
	if (!f)
		return;
	while (fgets(names, sizeof(names), f)) {
		if (strncmp(names, "Udp:", 4) != 0 || !fgets(values, sizeof(values), f))
			continue;
		char *sn, *sv, *n = strtok_r(names, " \n", &sn), *v = strtok_r(values, " \n", &sv);
		for (; n && v; n = strtok_r(NULL, " \n", &sn), v = strtok_r(NULL, " \n", &sv)) {
			if (strcmp(n, "RcvbufErrors") == 0)
				*rcvbuf = strtoull(v, NULL, 10);
			else if (strcmp(n, "SndbufErrors") == 0)
				*sndbuf = strtoull(v, NULL, 10);
		}
		break;
	}
	fclose(f);
}
