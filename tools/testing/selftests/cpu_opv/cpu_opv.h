/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the cpu_opv selftests.
 */
#ifndef _SELFTESTS_CPU_OPV_H
#define _SELFTESTS_CPU_OPV_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/cpu_opv.h>

static inline int sys_cpu_opv(struct cpu_op *ops, int cnt, int cpu, int flags)
{
	return syscall(__NR_cpu_opv, ops, cnt, cpu, flags);
}

/* CLOCK_MONOTONIC, in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Writes @val to the file @path (a sysctl, a debugfs knob) in one write(): 0,
 * or -1 with errno set. Async-signal-safe.
 */
static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/*
 * Counter @name of /proc/vmstat, or -1 if the kernel has none. Node counters
 * such as nr_foll_pin_acquired keep per-CPU deltas that /proc/vmstat only
 * shows once folded: @folded (if not NULL) says whether vm.stat_refresh
 * (root) folded them first, which only then makes the value exact.
 */
static inline long vmstat_counter(const char *name, bool *folded)
{
	bool ok = !write_file("/proc/sys/vm/stat_refresh", "1");
	char key[64];
	FILE *f;
	long val;

	if (folded)
		*folded = ok;
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

/*
 * The kB of transparent huge pages (AnonHugePages) of the mapping that holds
 * @addr, from /proc/self/smaps; -1 if there is no such mapping.
 */
static inline long anon_huge_kb(const void *addr)
{
	unsigned long lo, hi, a = (unsigned long)addr;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* "lo-hi perms ..." starts a mapping, "Field: value" describes it. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Makes @cpu the only CPU the calling thread may run on. */
static inline int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* The first two CPUs of the caller's affinity mask in @a and @b, or -1. */
static inline int two_cpus(int *a, int *b)
{
	cpu_set_t set;
	int cpu, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++ == 0)
			*a = cpu;
		else
			*b = cpu;
	}
	return n == 2 ? 0 : -1;
}

/* nr_cpu_ids as the kernel sees it: one more than the last possible CPU. */
static inline int nr_possible_cpus(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	char *last;
	int n = -1;

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		last = strrchr(buf, '-');
		last = last ? last + 1 : strrchr(buf, ',') ? strrchr(buf, ',') + 1 : buf;
		n = atoi(last) + 1;
	}
	fclose(f);
	return n;
}

/* Opens the sysfs "online" file of @cpu. */
static inline int cpu_online_open(int cpu, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	return open(path, flags);
}

/* Whether @cpu is online: 1 or 0, or -1. */
static inline int cpu_is_online(int cpu)
{
	int fd = cpu_online_open(cpu, O_RDONLY);
	char c = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, &c, 1);
	close(fd);
	return n == 1 && (c == '0' || c == '1') ? c - '0' : -1;
}

/* Takes @cpu offline (@online 0) or brings it online: 0, or -1. */
static inline int cpu_set_online(int cpu, int online)
{
	int fd = cpu_online_open(cpu, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, online ? "1" : "0", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

static inline struct cpu_op op_compare(int eq, void *a, void *b, uint32_t len)
{
	struct cpu_op op = {
		.op = eq ? CPU_COMPARE_EQ_OP : CPU_COMPARE_NE_OP,
		.len = len,
		.u.compare_op.a = (uintptr_t)a,
		.u.compare_op.b = (uintptr_t)b,
	};
	return op;
}

static inline struct cpu_op op_memcpy(int release, void *dst, const void *src,
				      uint32_t len)
{
	struct cpu_op op = {
		.op = release ? CPU_MEMCPY_RELEASE_OP : CPU_MEMCPY_OP,
		.len = len,
		.u.memcpy_op.dst = (uintptr_t)dst,
		.u.memcpy_op.src = (uintptr_t)src,
	};
	return op;
}

static inline struct cpu_op op_add(int release, void *p, int64_t count,
				   uint32_t len)
{
	struct cpu_op op = {
		.op = release ? CPU_ADD_RELEASE_OP : CPU_ADD_OP,
		.len = len,
		.u.arithmetic_op.p = (uintptr_t)p,
		.u.arithmetic_op.count = count,
	};
	return op;
}

#endif /* _SELFTESTS_CPU_OPV_H */
