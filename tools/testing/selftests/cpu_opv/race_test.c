// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() racing with changes to the address space: mprotect(), munmap()
 * and mmap() of a new mapping, fork(). No write may land where the mapping
 * does not allow it at the time, no update may be lost, and no page may stay
 * pinned. Also counts the interrupts that calls cause, and races vectors
 * for one CPU against each other.
 */

#include <pthread.h>
#include <sched.h>
#include <signal.h>
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

/*
 * What a test starts or maps belongs to the fixture, whose teardown also
 * runs after a failed ASSERT: no worker thread or child outlives the test.
 */
FIXTURE(race) {
	void *map;		/* the test's mapping, or NULL */
	size_t map_len;
	struct worker w;	/* the adder thread, while running */
	pthread_t thread;
	bool running;
	pid_t child;		/* a forked child not yet reaped, or 0 */
	bool knob;		/* vector_delay_us was set */
};

#define VECTOR_DELAY	"/sys/kernel/debug/cpu_opv/vector_delay_us"
#define IPI_ONLY	"/sys/kernel/debug/cpu_opv/ipi_only_tid"

FIXTURE_SETUP(race)
{
	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	/* Left set by a test that was killed (a timeout)? Not for this one. */
	write_file(VECTOR_DELAY, "0");
	write_file(IPI_ONLY, "0");
}

/* The teardown unmaps it. */
static void *map_anon(struct _test_data_race *self, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED) {
		self->map = p;
		self->map_len = len;
	}
	return p;
}

/* Starts the adder on another CPU; the teardown stops it. */
static int start(struct _test_data_race *self, uint64_t *target)
{
	int ret;

	self->w = (struct worker){ .target = target, .cpu = other_cpu() };
	atomic_store(&stop, 0);
	ret = pthread_create(&self->thread, NULL, adder, &self->w);
	self->running = !ret;
	return ret;
}

static void finish(struct _test_data_race *self)
{
	if (!self->running)
		return;
	atomic_store(&stop, 1);
	pthread_join(self->thread, NULL);
	self->running = false;
}

FIXTURE_TEARDOWN(race)
{
	finish(self);
	if (self->knob) {
		write_file(VECTOR_DELAY, "0");
		write_file(IPI_ONLY, "0");
	}
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->map)
		munmap(self->map, self->map_len);
}

/*
 * While the page is read-only, its counter does not move: no call that
 * pinned it writable before mprotect() writes after it. Every successful
 * call is counted exactly once.
 */
TEST_F(race, mprotect)
{
	uint64_t *p = map_anon(self, PAGE);
	struct worker *w = &self->w;
	int round;

	ASSERT_NE(MAP_FAILED, p);
	*p = 0;
	ASSERT_EQ(0, start(self, p));
	for (round = 0; round < ROUNDS; round++) {
		uint64_t frozen;

		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ));
		frozen = load(p);
		usleep(500);
		ASSERT_EQ(frozen, load(p)) TH_LOG("round %d: written while read-only", round);
		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
		usleep(500);
	}
	finish(self);
	EXPECT_EQ(w->ok, load(p));
	EXPECT_EQ(0, w->other);
	EXPECT_LT(0, w->ok);
	TH_LOG("%ld ok, %ld EAGAIN, %ld EFAULT", w->ok, w->eagain, w->efault);
}

/*
 * The page is unmapped and a new, read-only mapping takes its place: the
 * new mapping is never written. Then a writable one: it receives only the
 * updates of calls made while it is mapped.
 */
TEST_F(race, munmap_and_new_mapping)
{
	uint64_t *p = map_anon(self, PAGE);
	struct worker *w = &self->w;
	int round;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, start(self, p));
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
	finish(self);
	EXPECT_EQ(0, w->other);
	EXPECT_LT(0, w->ok);
	EXPECT_LT(0, w->eagain);
	EXPECT_GE((uint64_t)w->ok, load(p));
	TH_LOG("%ld ok, %ld EAGAIN, %ld EFAULT", w->ok, w->eagain, w->efault);
}

/*
 * In a child forked while the parent's calls add to *p: the child's copy of
 * the page is a snapshot taken at fork(), which no call of the parent's may
 * write into. Exits with 0 if it stays still, 1 if it changes. Only
 * async-signal-safe calls: the parent has another thread.
 */
static void child_sees_a_snapshot(uint64_t *p)
{
	uint64_t seen = load(p);

	usleep(500);
	_exit(load(p) != seen);
}

/*
 * fork() write-protects and copies; no successful update is lost, and none
 * lands in the child's copy.
 */
TEST_F(race, fork)
{
	uint64_t *p = map_anon(self, PAGE);
	struct worker *w = &self->w;
	int round, status;

	ASSERT_NE(MAP_FAILED, p);
	*p = 0;
	ASSERT_EQ(0, start(self, p));
	for (round = 0; round < ROUNDS / 4; round++) {
		self->child = fork();
		if (self->child == 0)
			child_sees_a_snapshot(p);
		ASSERT_LT(0, self->child);
		ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
		self->child = 0;
		/* A child that crashed, or whose copy changed, fails the test. */
		ASSERT_TRUE(WIFEXITED(status))
			TH_LOG("round %d: child ended with status %#x", round, status);
		ASSERT_EQ(0, WEXITSTATUS(status))
			TH_LOG("round %d: the child's copy was written", round);
	}
	finish(self);
	EXPECT_EQ(w->ok, load(p));
	EXPECT_EQ(0, w->other + w->efault);
	TH_LOG("%ld ok, %ld EAGAIN", w->ok, w->eagain);
}

/*
 * Reads nr_foll_pin_acquired and nr_foll_pin_released from /proc/vmstat in
 * one pass, after folding the per-CPU deltas into them (vm/stat_refresh,
 * root only): exact values. Returns 0, or -1 if that cannot be done.
 */
static int read_pin_counts(long *acquired, long *released)
{
	char key[64];
	long val;
	int found = 0;
	FILE *f;

	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		return -1;
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, "nr_foll_pin_acquired")) {
			*acquired = val;
			found |= 1;
		} else if (!strcmp(key, "nr_foll_pin_released")) {
			*released = val;
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -1;
}

/*
 * Every page pinned by cpu_opv was unpinned, whatever the outcome: around
 * the calls, as many pins are released as are acquired.
 *
 * The counters are system-wide: a pin taken or dropped anywhere else while
 * this runs counts too. The two deltas still match unless such a pin is
 * held across one of the reads and not the other (a pin taken and dropped
 * between them adds 1 to both). In the test guest nothing else runs during
 * the kselftests and this process has no other thread, so nothing else
 * pins (no O_DIRECT, io_uring, VFIO or RDMA): the check is exact. On a busy
 * system it can fail spuriously.
 */
TEST_F(race, no_pin_leaks)
{
	uint8_t *p = map_anon(self, 2 * PAGE);
	long acquired0, released0, acquired, released;
	struct cpu_op ops[3];
	int i;

	ASSERT_NE(MAP_FAILED, p);
	if (read_pin_counts(&acquired0, &released0))
		SKIP(return, "cannot read exact nr_foll_pin_* (needs root for vm/stat_refresh)");
	for (i = 0; i < 1000; i++) {
		ops[0] = op_memcpy(0, p + PAGE - 5, p + 3, 100);	/* 3 pages pinned */
		ops[1] = op_compare(i & 1, p, p + 8, 8);		/* stops half of them */
		ops[2] = op_add(0, (void *)(i & 2 ? 0x10 : (uintptr_t)p), 1, 8); /* faults */
		sys_cpu_opv(ops, 3, sched_getcpu(), 0);
	}
	ASSERT_EQ(0, read_pin_counts(&acquired, &released));
	acquired -= acquired0;
	released -= released0;
	TH_LOG("%ld pins acquired, %ld released", acquired, released);
	/*
	 * The test did pin: at least the 2 pages of the first operation's
	 * destination in each of the 500 calls without a faulting operand.
	 */
	EXPECT_LE(1000, acquired);
	EXPECT_EQ(acquired, released);
}

/*
 * The sum over all CPUs of the /proc/interrupts line whose description is
 * @desc ("Function call interrupts": CAL on x86, IPI1 on arm64), or -1 if
 * there is none.
 */
static long count_interrupts(const char *desc)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char *line = NULL;
	size_t size = 0;
	long found = -1;

	if (!f)
		return -1;
	while (found < 0 && getline(&line, &size, f) > 0) {
		char *s = strchr(line, ':'), *end;
		long total = 0;

		if (!s || !strstr(s, desc))
			continue;
		for (s++; ; s = end) {
			long v = strtol(s, &end, 10);

			if (end == s)
				break;
			total += v;
		}
		while (*s == ' ')
			s++;
		if (!strncmp(s, desc, strlen(desc)))
			found = total;
	}
	free(line);
	fclose(f);
	return found;
}

#define CALL_IPIS	"Function call interrupts"
#define TLB_IPIS	"TLB shootdowns"

/*
 * 10^4 calls on the current CPU cause no TLB shootdown and no function-call
 * IPI; 10^4 calls on another CPU that runs a task cause one function-call
 * IPI each there, and on an idle CPU none (the vector runs on the caller's
 * CPU, under the idle CPU's runqueue lock). An architecture without a TLB
 * shootdown line (arm64 invalidates other CPUs' TLBs by broadcast, without
 * an IPI) counts 0 of them.
 */
static long tlb_ipis(void)
{
	long n = count_interrupts(TLB_IPIS);

	return n < 0 ? 0 : n;
}

/* Spins until stop is set: keeps its CPU busy. */
static void *spinner(void *arg)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		;
	return NULL;
}

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
	if (count_interrupts(CALL_IPIS) < 0)
		SKIP(return, "no \"" CALL_IPIS "\" line in /proc/interrupts");
	if (count_interrupts(TLB_IPIS) < 0)
		TH_LOG("no \"" TLB_IPIS "\" line in /proc/interrupts: none are sent");
	ASSERT_EQ(0, pin_to(self_cpu));

	tlb0 = tlb_ipis();
	cal0 = count_interrupts(CALL_IPIS);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, sys_cpu_opv(&op, 1, self_cpu, 0));
	tlb1 = tlb_ipis();
	cal1 = count_interrupts(CALL_IPIS);
	TH_LOG("%ld local calls: %ld TLB shootdowns, %ld function-call IPIs", n,
	       tlb1 - tlb0, cal1 - cal0);
	EXPECT_EQ(0, tlb1 - tlb0);
	EXPECT_GT(n / 100, cal1 - cal0);

	/*
	 * The caller must be allowed on the target CPU; it may run on either
	 * of the two, and always targets the other one, idle: no IPI, but
	 * for the odd call that finds a kernel thread running there.
	 */
	CPU_ZERO(&set);
	CPU_SET(self_cpu, &set);
	CPU_SET(remote, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	cal0 = count_interrupts(CALL_IPIS);
	tlb0 = tlb_ipis();
	for (i = 0; i < n; i++) {
		int target = sched_getcpu() == remote ? self_cpu : remote;

		ASSERT_EQ(0, sys_cpu_opv(&op, 1, target, 0));
	}
	cal1 = count_interrupts(CALL_IPIS);
	tlb1 = tlb_ipis();
	TH_LOG("%ld calls to an idle CPU: %ld function-call IPIs, %ld TLB shootdowns",
	       n, cal1 - cal0, tlb1 - tlb0);
	EXPECT_EQ(2 * n, counter);
	EXPECT_GT(n / 100, cal1 - cal0);
	EXPECT_EQ(0, tlb1 - tlb0);

	/*
	 * Now the target runs a thread of the test, spinning (the caller
	 * targets its own CPU, should it be moved to the remote one): one
	 * IPI each.
	 */
	atomic_store(&stop, 0);
	CPU_ZERO(&set);
	CPU_SET(remote, &set);
	ASSERT_EQ(0, pthread_create(&self->thread, NULL, spinner, NULL));
	self->running = true;
	ASSERT_EQ(0, pthread_setaffinity_np(self->thread, sizeof(set), &set));
	CPU_SET(self_cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	usleep(100000);
	cal0 = count_interrupts(CALL_IPIS);
	for (i = 0; i < n; i++) {
		int target = sched_getcpu() == remote ? self_cpu : remote;

		ASSERT_EQ(0, sys_cpu_opv(&op, 1, target, 0));
	}
	cal1 = count_interrupts(CALL_IPIS);
	finish(self);
	TH_LOG("%ld calls to a busy CPU: %ld function-call IPIs", n, cal1 - cal0);
	EXPECT_EQ(3 * n, counter);
	EXPECT_LE(n * 9 / 10, cal1 - cal0);
	EXPECT_GE(n * 11 / 10, cal1 - cal0);
}

/* Runs a vector on a CPU until told to stop. */
struct caller {
	struct cpu_op *ops;
	int cnt, cpu;
	long calls, errors;
	int last_errno;		/* of the last error */
	cpu_set_t allowed;	/* set by the thread itself first */
};

static void *call_loop(void *arg)
{
	struct caller *c = arg;

	while (!atomic_load(&stop)) {
		if (sys_cpu_opv(c->ops, c->cnt, c->cpu, 0)) {
			c->errors++;
			c->last_errno = errno;
		} else {
			c->calls++;
		}
	}
	return NULL;
}

/*
 * The adder: its vectors go by IPI, also to an idle CPU. It widens its
 * allowed CPUs itself, before its first call (a vector for a CPU it is not
 * allowed on is EINVAL): it keeps running where it started.
 */
static void *ipi_call_loop(void *arg)
{
	struct caller *c = arg;
	char tid[32];

	if (sched_setaffinity(0, sizeof(c->allowed), &c->allowed))
		return NULL;
	snprintf(tid, sizeof(tid), "%ld", (long)syscall(SYS_gettid));
	if (write_file(IPI_ONLY, tid))
		return NULL;
	return call_loop(arg);
}

/*
 * The vectors for one CPU are serialised wherever they run: in an IPI on
 * that CPU, or on their callers' CPUs while it is idle (under its runqueue
 * lock, which does not keep out an IPI that reaches the idle CPU). CPU B
 * stays idle. From CPU A, a thread whose vectors the kernel's debug knob
 * sends by IPI even to an idle CPU adds 1 to two counters, one operation
 * each: they run on B, in idle. From CPU C, vectors copy the two counters,
 * one operation each: they run on C, on the idle path. Another knob makes
 * every vector spin 200 us between its two operations. A copy of two
 * different values is half of an addition.
 */
TEST_F(race, vectors_for_one_cpu_serialised)
{
	static uint64_t pair[2], snap[2];
	struct cpu_op add2[2], copy2[2];
	struct caller adder = { .ops = add2, .cnt = 2 };
	long copies = 0, torn = 0;
	int a, b, c, n = 0, cpu;
	uint64_t t0;
	cpu_set_t set;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	a = -1;
	b = -1;
	c = -1;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 3; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		*(n == 0 ? &a : n == 1 ? &b : &c) = cpu;
		n++;
	}
	if (n < 3)
		SKIP(return, "needs three CPUs");
	if (write_file(VECTOR_DELAY, "200") || write_file(IPI_ONLY, "0"))
		SKIP(return, "no %s (CONFIG_CPU_OPV_DEBUG_DELAY)", VECTOR_DELAY);
	self->knob = true;

	add2[0] = op_add(0, &pair[0], 1, 8);
	add2[1] = op_add(0, &pair[1], 1, 8);
	copy2[0] = op_memcpy(0, &snap[0], &pair[0], 8);
	copy2[1] = op_memcpy(0, &snap[1], &pair[1], 8);
	/* Each caller first on its own CPU, then also allowed on B. */
	ASSERT_EQ(0, pin_to(a));
	atomic_store(&stop, 0);
	adder.cpu = b;
	CPU_ZERO(&adder.allowed);
	CPU_SET(a, &adder.allowed);
	CPU_SET(b, &adder.allowed);
	ASSERT_EQ(0, pthread_create(&self->thread, NULL, ipi_call_loop, &adder));
	self->running = true;
	ASSERT_EQ(0, pin_to(c));
	CPU_ZERO(&set);
	CPU_SET(c, &set);
	CPU_SET(b, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));

	t0 = now_ns();
	while (now_ns() - t0 < 2000000000ULL) {
		if (sys_cpu_opv(copy2, 2, b, 0) != 0)
			break;
		copies++;
		if (snap[0] != snap[1])
			torn++;
	}
	finish(self);
	TH_LOG("%ld copies, %ld torn, %ld additions, %ld errors (last: %s)", copies, torn,
	       adder.calls, adder.errors, adder.errors ? strerror(adder.last_errno) : "none");
	EXPECT_LT(100, copies);
	EXPECT_LT(100, adder.calls);
	EXPECT_EQ(0, adder.errors);
	EXPECT_EQ(adder.calls, pair[0]);
	EXPECT_EQ(pair[0], pair[1]);
	EXPECT_EQ(0, torn);
}

TEST_HARNESS_MAIN
