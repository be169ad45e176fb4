/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the cpu_opv benchmarks (cpu_opv_bench,
 * percpu_drain_bench): option parsing and order statistics (the clock
 * and pinning are cpu_opv.h's).
 */
#ifndef _SELFTESTS_CPU_OPV_BENCH_H
#define _SELFTESTS_CPU_OPV_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "../kselftest.h"

/* Each program prints its usage and exits with @status. */
static void usage(const char *prog, int status);

/* The option argument @s, an integer in [@min, @max]; else usage(). */
static inline long arg_long(const char *s, const char *prog, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		usage(prog, KSFT_FAIL);
	return v;
}

/* qsort() comparisons. */
static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @s. */
static inline uint64_t percentile(const uint64_t *s, long n, double pct)
{
	long rank = (long)(pct / 100.0 * n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return s[rank - 1];
}

/* @a / @b, or 0 if either was not measured (is 0). */
static inline double div_or_0(double a, double b)
{
	return a && b ? a / b : 0;
}

/* Digits after the point that keep about three significant ones. */
static inline int ratio_digits(double ratio)
{
	return ratio < 0.01 ? 4 : ratio < 0.1 ? 3 : ratio < 100 ? 2 : 0;
}

#endif /* _SELFTESTS_CPU_OPV_BENCH_H */
