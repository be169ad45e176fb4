// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() racing with changes to the address space: mprotect(), munmap()
 * and mmap() of a new mapping, fork(). No write may land where the mapping
 * does not allow it at the time, no update may be lost, and no page may stay
 * pinned. Also counts the interrupts that calls cause.
 */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

#define PAGE		4096UL
#define ROUNDS		200

static atomic_int stop;

/* The kernel writes the word concurrently: read it as an atomic. */
static uint64_t load(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

struct worker {
	uint64_t *target;
	int cpu;
	long ok, eagain, efault, other;
};

/* Adds 1 to *target on the given CPU until told to stop; counts outcomes. */
static void *adder(void *arg)
{
	struct worker *w = arg;
	struct cpu_op op = op_add(0, w->target, 1, 8);

	op.u.arithmetic_op.expect_fault_p = 1;
	while (!atomic_load(&stop)) {
		if (sys_cpu_opv(&op, 1, w->cpu, 0) == 0)
			w->ok++;
		else if (errno == EAGAIN)
			w->eagain++;
		else if (errno == EFAULT)
			w->efault++;
		else
			w->other++;
	}
	return NULL;
}

static int other_cpu(void)
{
	cpu_set_t set;
	int cpu, self = sched_getcpu();

	sched_getaffinity(0, sizeof(set), &set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && cpu != self)
			return cpu;
	return self;
}

static void start(struct worker *w, pthread_t *t, uint64_t *target)
{
	*w = (struct worker){ .target = target, .cpu = other_cpu() };
	atomic_store(&stop, 0);
	pthread_create(t, NULL, adder, w);
}

static void finish(struct worker *w, pthread_t t)
{
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
}

FIXTURE(race) {
};

FIXTURE_SETUP(race)
{
	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
}

FIXTURE_TEARDOWN(race)
{
}

/*
 * While the page is read-only, its counter does not move: no call that
 * pinned it writable before mprotect() writes after it. Every successful
 * call is counted exactly once.
 */
TEST_F(race, mprotect)
{
	uint64_t *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct worker w;
	pthread_t t;
	int round;

	ASSERT_NE(MAP_FAILED, p);
	*p = 0;
	start(&w, &t, p);
	for (round = 0; round < ROUNDS; round++) {
		uint64_t frozen;

		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ));
		frozen = load(p);
		usleep(500);
		ASSERT_EQ(frozen, load(p)) TH_LOG("round %d: written while read-only", round);
		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
		usleep(500);
	}
	finish(&w, t);
	EXPECT_EQ(w.ok, load(p));
	EXPECT_EQ(0, w.other);
	EXPECT_LT(0, w.ok);
	TH_LOG("%ld ok, %ld EAGAIN, %ld EFAULT", w.ok, w.eagain, w.efault);
	munmap(p, PAGE);
}

/*
 * The page is unmapped and a new, read-only mapping takes its place: the
 * new mapping is never written. Then a writable one: it receives only the
 * updates of calls made while it is mapped.
 */
TEST_F(race, munmap_and_new_mapping)
{
	uint64_t *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct worker w;
	pthread_t t;
	int round;

	ASSERT_NE(MAP_FAILED, p);
	start(&w, &t, p);
	for (round = 0; round < ROUNDS; round++) {
		void *q;

		ASSERT_EQ(0, munmap(p, PAGE));
		q = mmap(p, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0);
		ASSERT_EQ(p, q);
		usleep(300);
		ASSERT_EQ(0, load(p))
			TH_LOG("round %d: a read-only new mapping was written", round);
		ASSERT_EQ(0, munmap(p, PAGE));
		q = mmap(p, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ASSERT_EQ(p, q);
		usleep(300);
	}
	finish(&w, t);
	EXPECT_EQ(0, w.other);
	EXPECT_LT(0, w.ok);
	EXPECT_LT(0, w.eagain);
	EXPECT_GE((uint64_t)w.ok, load(p));
	TH_LOG("%ld ok, %ld EAGAIN, %ld EFAULT", w.ok, w.eagain, w.efault);
	munmap(p, PAGE);
}

/* fork() write-protects and copies; no successful update is lost. */
TEST_F(race, fork)
{
	uint64_t *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct worker w;
	pthread_t t;
	int round;

	ASSERT_NE(MAP_FAILED, p);
	*p = 0;
	start(&w, &t, p);
	for (round = 0; round < ROUNDS / 4; round++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(load(p) == (uint64_t)-1);
		ASSERT_LT(0, pid);
		waitpid(pid, NULL, 0);
	}
	finish(&w, t);
	EXPECT_EQ(w.ok, load(p));
	EXPECT_EQ(0, w.other + w.efault);
	TH_LOG("%ld ok, %ld EAGAIN", w.ok, w.eagain);
	munmap(p, PAGE);
}

static long read_vmstat(const char *name)
{
	char key[64];
	long val;
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	/* Fold the per-CPU deltas into the global counters: exact values. */
	if (f) {
		fputs("1", f);
		fclose(f);
	}
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

/* Every page pinned by cpu_opv was unpinned, whatever the outcome. */
TEST_F(race, no_pin_leaks)
{
	uint8_t *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long acquired, released;
	struct cpu_op ops[3];
	int i;

	ASSERT_NE(MAP_FAILED, p);
	acquired = read_vmstat("nr_foll_pin_acquired");
	if (acquired < 0)
		SKIP(return, "no nr_foll_pin_acquired in /proc/vmstat");
	for (i = 0; i < 1000; i++) {
		ops[0] = op_memcpy(0, p + PAGE - 5, p + 3, 100);	/* 4 pages pinned */
		ops[1] = op_compare(i & 1, p, p + 8, 8);		/* stops half of them */
		ops[2] = op_add(0, (void *)(i & 2 ? 0x10 : (uintptr_t)p), 1, 8); /* faults */
		sys_cpu_opv(ops, 3, sched_getcpu(), 0);
	}
	acquired = read_vmstat("nr_foll_pin_acquired");
	released = read_vmstat("nr_foll_pin_released");
	TH_LOG("nr_foll_pin_acquired %ld, nr_foll_pin_released %ld", acquired, released);
	EXPECT_LT(4000, acquired);
	EXPECT_EQ(acquired, released);
	munmap(p, 2 * PAGE);
}

/* Sum of the per-CPU counts of one /proc/interrupts line, or of one CPU's. */
static long count_interrupts(const char *name, int cpu)
{
	char line[4096];
	long total = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *end;
		int col = 0;

		while (*s == ' ')
			s++;
		if (strncmp(s, name, strlen(name)) || s[strlen(name)] != ':')
			continue;
		s += strlen(name) + 1;
		for (;;) {
			long v = strtol(s, &end, 10);

			if (end == s)
				break;
			if (cpu < 0 || col == cpu)
				total += v;
			col++;
			s = end;
		}
		fclose(f);
		return total;
	}
	fclose(f);
	return -1;
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * 10^4 calls on the current CPU cause no TLB shootdown and no function-call
 * IPI; 10^4 calls on another CPU cause one function-call IPI each there.
 */
TEST_F(race, interrupt_counts)
{
	const long n = 10000;
	uint64_t counter = 0;
	struct cpu_op op = op_add(0, &counter, 1, 8);
	long tlb0, cal0, tlb1, cal1;
	int self_cpu = 0, remote = 1;
	cpu_set_t set;
	long i;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	if (!CPU_ISSET(0, &set) || !CPU_ISSET(1, &set))
		SKIP(return, "needs CPUs 0 and 1");
	if (count_interrupts("TLB", -1) < 0 || count_interrupts("CAL", -1) < 0)
		SKIP(return, "no TLB/CAL lines in /proc/interrupts");
	ASSERT_EQ(0, pin_self(self_cpu));

	tlb0 = count_interrupts("TLB", -1);
	cal0 = count_interrupts("CAL", -1);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, sys_cpu_opv(&op, 1, self_cpu, 0));
	tlb1 = count_interrupts("TLB", -1);
	cal1 = count_interrupts("CAL", -1);
	TH_LOG("%ld local calls: %ld TLB shootdowns, %ld function-call IPIs", n,
	       tlb1 - tlb0, cal1 - cal0);
	EXPECT_EQ(0, tlb1 - tlb0);
	EXPECT_GT(n / 100, cal1 - cal0);

	/*
	 * The caller must be allowed on the target CPU; it may run on either
	 * of the two, and always targets the other one.
	 */
	CPU_ZERO(&set);
	CPU_SET(self_cpu, &set);
	CPU_SET(remote, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	cal0 = count_interrupts("CAL", -1);
	tlb0 = count_interrupts("TLB", -1);
	for (i = 0; i < n; i++) {
		int target = sched_getcpu() == remote ? self_cpu : remote;

		ASSERT_EQ(0, sys_cpu_opv(&op, 1, target, 0));
	}
	cal1 = count_interrupts("CAL", -1);
	tlb1 = count_interrupts("TLB", -1);
	TH_LOG("%ld remote calls: %ld function-call IPIs, %ld TLB shootdowns", n,
	       cal1 - cal0, tlb1 - tlb0);
	EXPECT_EQ(2 * n, counter);
	EXPECT_LE(n * 9 / 10, cal1 - cal0);
	EXPECT_GE(n * 11 / 10, cal1 - cal0);
	EXPECT_EQ(0, tlb1 - tlb0);
}

TEST_HARNESS_MAIN
