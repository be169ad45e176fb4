// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() and isolated CPUs: how often a call interrupts a nohz_full CPU.
 *
 * Any task may have cpu_opv() run a vector on any CPU of its affinity mask,
 * in an interrupt on that CPU. On a kernel booted with nohz_full= and
 * isolcpus=, this counts the interrupts that an isolated CPU, running one
 * busy user-space thread, takes while another CPU makes calls: to other
 * CPUs (they must not interrupt it at all) and to it (one function-call
 * interrupt per call, nothing more: the tick stays off), next to the
 * membarrier RSEQ fence aimed at it, which interrupts it the same way.
 * Without an isolated CPU the test is skipped.
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/membarrier.h>

#include "../kselftest.h"
#include "cpu_opv.h"

#define CALLS		2000
#define SETTLE_MS	1500

/* The interrupt counters of /proc/interrupts that the test reports. */
enum irq_row { ROW_LOC, ROW_CAL, ROW_RES, ROW_TLB, ROW_ALL, NR_ROWS };
static const char * const row_names[NR_ROWS] = { "LOC", "CAL", "RES", "TLB", "all" };

struct irq_count {
	uint64_t n[NR_ROWS];
};

static atomic_int stop;
/* Calls the caller made while on the isolated CPU: must stay 0. */
static long moved;
static uint64_t counter;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The first CPU of the kernel's nohz_full list, or -1. */
static int isolated_cpu(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/devices/system/cpu/nohz_full", "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	return atoi(buf);
}

/*
 * The interrupts @cpu has taken so far, per row of /proc/interrupts: the
 * column of @cpu in every row, "all" their sum. 0 on success.
 */
static int read_irqs(int cpu, struct irq_count *c)
{
	char line[4096];
	int ncpus = 0, col = -1, i;
	FILE *f = fopen("/proc/interrupts", "r");
	char *tok, *save;

	if (!f)
		return -1;
	memset(c, 0, sizeof(*c));
	/* The header names the online CPUs' columns: "CPU0 CPU1 ...". */
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		if (!strncmp(tok, "CPU", 3) && atoi(tok + 3) == cpu)
			col = ncpus;
		ncpus++;
	}
	if (col < 0) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *name = strtok_r(line, " \t\n", &save);
		uint64_t v = 0;

		if (!name)
			continue;
		for (i = 0; i <= col; i++) {
			tok = strtok_r(NULL, " \t\n", &save);
			if (!tok || tok[0] < '0' || tok[0] > '9')
				break;
			v = strtoull(tok, NULL, 10);
		}
		if (i <= col)
			continue;
		c->n[ROW_ALL] += v;
		for (i = 0; i < ROW_ALL; i++)
			if (!strncmp(name, row_names[i], 3) && name[3] == ':')
				c->n[i] = v;
	}
	fclose(f);
	return 0;
}

static void diff(struct irq_count *d, const struct irq_count *a, const struct irq_count *b)
{
	int i;

	for (i = 0; i < NR_ROWS; i++)
		d->n[i] = b->n[i] - a->n[i];
}

/* The tenant of the isolated CPU: a user-space loop that never enters the kernel. */
static void *tenant(void *arg)
{
	int cpu = *(int *)arg;

	if (pin_to(cpu))
		return (void *)1;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		;
	return NULL;
}

static int opv_add(int cpu)
{
	struct cpu_op op = op_add(0, &counter, 1, sizeof(counter));

	return sys_cpu_opv(&op, 1, cpu, 0);
}

static int fence(int cpu)
{
	return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
		       MEMBARRIER_CMD_FLAG_CPU, cpu);
}

enum action { IDLE, OPV, FENCE };

/* What @calls actions aimed at @target cost the isolated CPU @iso. */
static int measure(int iso, enum action action, int target, int calls,
		   struct irq_count *d)
{
	struct irq_count a, b;
	int i, ret = 0;

	if (read_irqs(iso, &a))
		return -1;
	for (i = 0; i < calls && !ret; i++) {
		switch (action) {
		case IDLE:
			sleep_ms(1);
			break;
		case OPV:
			ret = opv_add(target);
			break;
		case FENCE:
			ret = fence(target);
			break;
		}
		moved += sched_getcpu() == iso;
	}
	if (read_irqs(iso, &b))
		return -1;
	diff(d, &a, &b);
	return ret;
}

static void report(const char *what, const struct irq_count *d, int calls)
{
	ksft_print_msg("%-30s %5d calls: LOC %llu CAL %llu RES %llu TLB %llu\n",
		       what, calls, (unsigned long long)d->n[ROW_LOC],
		       (unsigned long long)d->n[ROW_CAL], (unsigned long long)d->n[ROW_RES],
		       (unsigned long long)d->n[ROW_TLB]);
	ksft_print_msg("%-30s %5d calls: %llu interrupts in all, %.3f a call\n",
		       what, calls, (unsigned long long)d->n[ROW_ALL],
		       (double)d->n[ROW_ALL] / calls);
}

int main(void)
{
	struct irq_count idle, other, local, aimed, fenced;
	int iso = isolated_cpu(), home = -1, other_cpu = -1, cpu;
	pthread_t t;
	cpu_set_t set;
	uint64_t slack;

	ksft_print_header();
	ksft_set_plan(3);
	if (iso < 0)
		ksft_exit_skip("no nohz_full CPU (boot with nohz_full= and isolcpus=)\n");
	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0)
		ksft_exit_skip("cpu_opv: %s\n", strerror(errno));
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0))
		ksft_exit_skip("membarrier RSEQ: %s\n", strerror(errno));
	/* Housekeeping CPUs: the caller's, and one more to aim at. */
	CPU_ZERO(&set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (cpu = 0; cpu < 64; cpu++) {
		if (cpu == iso || cpu_is_online(cpu) != 1)
			continue;
		if (home < 0)
			home = cpu;
		else if (other_cpu < 0)
			other_cpu = cpu;
	}
	if (home < 0 || other_cpu < 0)
		ksft_exit_skip("needs two housekeeping CPUs besides CPU %d\n", iso);
	ksft_print_msg("isolated CPU %d, caller on CPU %d, other target CPU %d\n",
		       iso, home, other_cpu);

	if (pthread_create(&t, NULL, tenant, &iso))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	/*
	 * The caller runs on a housekeeping CPU; its mask must hold every
	 * target. isolcpus=domain keeps the load balancer from moving it to
	 * the isolated CPU: checked below.
	 */
	if (pin_to(home))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
	CPU_ZERO(&set);
	CPU_SET(home, &set);
	CPU_SET(other_cpu, &set);
	CPU_SET(iso, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
	/* Let the isolated CPU stop its tick under its single busy task. */
	sleep_ms(SETTLE_MS);

	if (measure(iso, IDLE, -1, CALLS / 4, &idle) ||
	    measure(iso, OPV, home, CALLS, &local) ||
	    measure(iso, OPV, other_cpu, CALLS, &other) ||
	    measure(iso, OPV, iso, CALLS, &aimed) ||
	    measure(iso, FENCE, iso, CALLS, &fenced))
		ksft_exit_fail_msg("measuring: %s\n", strerror(errno));
	if (moved)
		ksft_exit_fail_msg("the caller ran on the isolated CPU (%ld calls)\n", moved);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);

	ksft_print_msg("interrupts taken by the isolated CPU (/proc/interrupts):\n");
	report("idle (1 ms sleeps)", &idle, CALLS / 4);
	report("cpu_opv on the caller's CPU", &local, CALLS);
	report("cpu_opv on another CPU", &other, CALLS);
	report("cpu_opv on the isolated CPU", &aimed, CALLS);
	report("membarrier RSEQ fence on it", &fenced, CALLS);
	if (counter != 3 * CALLS)
		ksft_exit_fail_msg("counter %llu, expected %d\n",
				   (unsigned long long)counter, 3 * CALLS);

	/*
	 * What the CPU takes anyway while the caller runs (its residual
	 * tick, say), scaled to the time the calls took, is not the calls'
	 * doing: allow for it, and for 1 % more.
	 */
	slack = idle.n[ROW_ALL] + CALLS / 100;
	ksft_test_result(local.n[ROW_ALL] + other.n[ROW_ALL] <= 2 * slack,
			 "calls to other CPUs do not interrupt the isolated CPU (%llu, %llu interrupts)\n",
			 (unsigned long long)local.n[ROW_ALL],
			 (unsigned long long)other.n[ROW_ALL]);
	ksft_test_result(aimed.n[ROW_CAL] >= CALLS && aimed.n[ROW_ALL] <= CALLS + slack,
			 "a call to the isolated CPU interrupts it once (%llu function-call interrupts, %llu in all, for %d calls)\n",
			 (unsigned long long)aimed.n[ROW_CAL],
			 (unsigned long long)aimed.n[ROW_ALL], CALLS);
	ksft_test_result(fenced.n[ROW_CAL] >= CALLS,
			 "the membarrier RSEQ fence interrupts it as often (%llu)\n",
			 (unsigned long long)fenced.n[ROW_CAL]);
	ksft_finished();
}
