// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() and the CPUs: a vector aborts the rseq critical section of the
 * task it interrupts on the target CPU; an offline target CPU still runs
 * vectors, serialised, including while CPUs go on- and offline.
 */

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/rseq.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Two distinct online CPUs the test may use, or -1. */
static int two_cpus(int *a, int *b)
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

static atomic_int stop;

#if defined(__x86_64__)

static atomic_int in_cs;
static atomic_int aborts;

/*
 * Enters an rseq critical section that spins until the kernel aborts it,
 * then returns. The descriptor and abort handler follow the x86 layout of
 * the rseq selftests: the abort handler is preceded by the signature.
 */
static void spin_in_critical_section(struct rseq *rs)
{
	asm volatile goto(".pushsection __rseq_cs, \"aw\"\n\t"
		".balign 32\n\t"
		"3:\n\t"
		".long 0, 0\n\t"
		".quad 1f, (2f - 1f), 4f\n\t"
		".popsection\n\t"
		"leaq 3b(%%rip), %%rax\n\t"
		"movq %%rax, %[rseq_cs]\n\t"
		"1:\n\t"
		"movl $1, %[in_cs]\n\t"
		"5:\n\t"
		"pause\n\t"
		"jmp 5b\n\t"
		"2:\n\t"
		".pushsection __rseq_failure, \"ax\"\n\t"
		".byte 0x0f, 0xb9, 0x3d\n\t"
		".long 0x53053053\n\t"
		"4:\n\t"
		"jmp %l[aborted]\n\t"
		".popsection\n\t"
		: /* no outputs */
		: [rseq_cs] "m" (rs->rseq_cs), [in_cs] "m" (in_cs)
		: "memory", "cc", "rax"
		: aborted);
aborted:
	return;
}

static void *spinner(void *arg)
{
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

	pin_to(*(int *)arg);
	while (!atomic_load(&stop)) {
		spin_in_critical_section(rs);
		atomic_store(&in_cs, 0);
		atomic_fetch_add(&aborts, 1);
	}
	return NULL;
}

/* Waits up to @ms for the spinner to have aborted more than @n times. */
static int aborted_since(int n, int ms)
{
	uint64_t end = now_ns() + ms * 1000000ULL;

	while (now_ns() < end) {
		if (atomic_load(&aborts) > n)
			return 1;
		usleep(100);
	}
	return 0;
}

/*
 * A thread spins in an rseq critical section on CPU X; cpu_opv(X) must make
 * it abort. As a control, the same thread left alone for as long mostly
 * keeps spinning: otherwise this test could not tell anything.
 */
TEST(rseq_critical_section_is_aborted)
{
	const int rounds = 20, quiet_ms = 20;
	int x, self_cpu, round, quiet = 0, ret;
	uint64_t counter = 0;
	struct cpu_op op = op_add(0, &counter, 1, 8);
	pthread_t thread;

	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	if (!__rseq_size)
		SKIP(return, "glibc did not register rseq");
	if (two_cpus(&x, &self_cpu))
		SKIP(return, "needs two CPUs");
	/*
	 * cpu_opv(x) needs x in the caller's affinity mask; the caller mostly
	 * runs on the other CPU, where it was and where it sleeps.
	 */
	{
		cpu_set_t set;

		ASSERT_EQ(0, pin_to(self_cpu));
		CPU_ZERO(&set);
		CPU_SET(self_cpu, &set);
		CPU_SET(x, &set);
		ASSERT_EQ(0, pthread_create(&thread, NULL, spinner, &x));
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	}

	for (round = 0; round < rounds; round++) {
		int before;

		while (!atomic_load(&in_cs))
			usleep(100);
		before = atomic_load(&aborts);
		/* Control: nothing aborts it for a while, most of the time. */
		usleep(quiet_ms * 1000);
		if (atomic_load(&aborts) == before)
			quiet++;
		while (!atomic_load(&in_cs))
			usleep(100);
		before = atomic_load(&aborts);
		ret = sys_cpu_opv(&op, 1, x, 0);
		ASSERT_EQ(0, ret) TH_LOG("errno %d", errno);
		EXPECT_TRUE(aborted_since(before, 2000)) TH_LOG("round %d", round);
	}
	atomic_store(&stop, 1);
	/* The spinner leaves at its next abort. */
	sys_cpu_opv(&op, 1, x, 0);
	pthread_join(thread, NULL);
	EXPECT_EQ(rounds + 1, counter);
	TH_LOG("%d of %d quiet windows of %d ms without abort; %d aborts", quiet,
	       rounds, quiet_ms, atomic_load(&aborts));
	EXPECT_LE(rounds / 2, quiet);
}

#endif /* __x86_64__ */

/* The last CPU's sysfs "online" file, opened for writing, or -1. */
static int hotplug_file(int *cpu)
{
	char path[64];
	int nr = nr_possible_cpus();

	*cpu = nr - 1;
	if (*cpu < 1)
		return -1;
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", *cpu);
	return open(path, O_WRONLY);
}

static int set_online(int fd, int online)
{
	return pwrite(fd, online ? "1" : "0", 1, 0) == 1 ? 0 : -1;
}

struct adder {
	int cpu;
	uint64_t *counter;
	long done;
	long errors;
};

static void *add_until_stopped(void *arg)
{
	struct adder *a = arg;
	struct cpu_op op = op_add(0, a->counter, 1, 8);

	while (!atomic_load(&stop) || a->done < 100) {
		if (sys_cpu_opv(&op, 1, a->cpu, 0) == 0)
			a->done++;
		else
			a->errors++;
	}
	return NULL;
}

/*
 * Vectors for an offline CPU run, serialised: two threads doing
 * read-modify-write adds on one counter lose no update, while the CPU is
 * offline and while it goes on- and offline underneath them.
 */
TEST(offline_cpu)
{
	static uint64_t counter;
	struct adder adders[2];
	pthread_t threads[2];
	int fd, cpu, i, cycles = 0;

	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	fd = hotplug_file(&cpu);
	if (fd < 0)
		SKIP(return, "cannot offline a CPU here");
	ASSERT_EQ(0, set_online(fd, 0));

	/* Offline and stable. */
	atomic_store(&stop, 0);
	for (i = 0; i < 2; i++) {
		adders[i] = (struct adder){ .cpu = cpu, .counter = &counter };
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, add_until_stopped, &adders[i]));
	}
	usleep(200 * 1000);
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	EXPECT_EQ(0, adders[0].errors + adders[1].errors);
	EXPECT_EQ(adders[0].done + adders[1].done, counter);

	/* Going on- and offline underneath. */
	counter = 0;
	atomic_store(&stop, 0);
	for (i = 0; i < 2; i++) {
		adders[i] = (struct adder){ .cpu = cpu, .counter = &counter };
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, add_until_stopped, &adders[i]));
	}
	for (cycles = 0; cycles < 10; cycles++) {
		ASSERT_EQ(0, set_online(fd, 1));
		usleep(20 * 1000);
		ASSERT_EQ(0, set_online(fd, 0));
		usleep(20 * 1000);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	ASSERT_EQ(0, set_online(fd, 1));
	close(fd);
	EXPECT_EQ(0, adders[0].errors + adders[1].errors);
	EXPECT_EQ(adders[0].done + adders[1].done, counter);
	TH_LOG("%ld + %ld adds over %d hotplug cycles", adders[0].done, adders[1].done,
	       cycles);
}

TEST_HARNESS_MAIN
