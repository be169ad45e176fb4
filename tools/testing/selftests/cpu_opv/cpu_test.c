// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() and the CPUs: a vector aborts the rseq critical section of the
 * task it interrupts on the target CPU; an offline target CPU still runs
 * vectors, serialised, including while CPUs go on- and offline.
 */

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/rseq.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

static atomic_int stop;

#if defined(__x86_64__)

#define ROUNDS		20
#define WINDOW_MS	50

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

static void *spin_until_stopped(void *arg)
{
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

	while (!atomic_load(&stop)) {
		spin_in_critical_section(rs);
		atomic_store(&in_cs, 0);
		atomic_fetch_add(&aborts, 1);
	}
	return NULL;
}

/* A signal aborts the critical section: it only has to be delivered. */
static void kick(int sig)
{
}

/*
 * The spinner thread belongs to the fixture: the teardown, which also runs
 * after a failed ASSERT, stops it.
 */
FIXTURE(spinner) {
	pthread_t thread;
	bool running;
	int x;		/* the CPU it spins on */
	int self_cpu;	/* the CPU the test runs on */
};

FIXTURE_SETUP(spinner)
{
	struct sigaction sa = { .sa_handler = kick };

	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	if (!__rseq_size)
		SKIP(return, "glibc did not register rseq");
	if (two_cpus(&self->x, &self->self_cpu))
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

/*
 * Signals, not cpu_opv(), take the spinner out of its critical section: it
 * stops even if cpu_opv() never aborts it. Gives up after a second.
 */
FIXTURE_TEARDOWN(spinner)
{
	struct timespec ts;
	int i;

	if (!self->running)
		return;
	atomic_store(&stop, 1);
	for (i = 0; i < 100 && self->running; i++) {
		pthread_kill(self->thread, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!pthread_timedjoin_np(self->thread, NULL, &ts))
			self->running = false;
	}
	/*
	 * No handler after an EXPECT in a teardown: after a failed ASSERT,
	 * it would run whatever the outcome.
	 */
	if (self->running)
		TH_LOG("the spinner did not stop on a signal");
	EXPECT_FALSE(self->running);
}

/* Waits up to a second for the spinner to be in its critical section. */
static bool spinning(void)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (atomic_load(&in_cs))
			return true;
		usleep(100);
	}
	return false;
}

/* Waits until @end (in now_ns() time) for the spinner to abort after @n aborts. */
static bool aborted_before(int n, uint64_t end)
{
	do {
		if (atomic_load(&aborts) > n)
			return true;
		usleep(100);
	} while (now_ns() < end);
	return atomic_load(&aborts) > n;
}

/*
 * A thread spins in an rseq critical section on CPU X; cpu_opv(X) must make
 * it abort, within WINDOW_MS of the call, every time.
 *
 * Other things abort it too (a preemption, a signal): a control window of
 * the same length without a call precedes each call. The test runs on
 * another CPU, and is allowed on X only around its calls, so that it never
 * preempts the spinner itself. With aborts in at most a quarter of the
 * control windows, aborts that have nothing to do with the calls follow all
 * ROUNDS calls with a chance in the order of (1/4)^ROUNDS: a cpu_opv() that
 * does not abort the critical section, or does not interrupt X at all, or
 * does so more than WINDOW_MS late, fails.
 */
TEST_F(spinner, rseq_critical_section_is_aborted)
{
	int x = self->x, round = 0, calls = 0, hits = 0, noisy = 0;
	uint64_t counter = 0;
	struct cpu_op op = op_add(0, &counter, 1, 8);
	pthread_attr_t attr;
	cpu_set_t on_x, both;

	CPU_ZERO(&on_x);
	CPU_SET(x, &on_x);
	CPU_ZERO(&both);
	CPU_SET(x, &both);
	CPU_SET(self->self_cpu, &both);
	ASSERT_EQ(0, pin_to(self->self_cpu));
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setaffinity_np(&attr, sizeof(on_x), &on_x));
	ASSERT_EQ(0, pthread_create(&self->thread, &attr, spin_until_stopped, NULL));
	self->running = true;
	pthread_attr_destroy(&attr);

	while (round < ROUNDS) {
		int before, cpu, ret, err;
		bool quiet;
		uint64_t end;

		/* Control: a window without a call. */
		ASSERT_TRUE(spinning());
		before = atomic_load(&aborts);
		usleep(WINDOW_MS * 1000);
		quiet = atomic_load(&aborts) == before;

		/* A window of the same length that starts with a call. */
		ASSERT_TRUE(spinning());
		before = atomic_load(&aborts);
		end = now_ns() + WINDOW_MS * 1000000ULL;
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(both), &both));
		ret = sys_cpu_opv(&op, 1, x, 0);
		err = errno;
		cpu = sched_getcpu();
		ASSERT_EQ(0, pin_to(self->self_cpu));
		ASSERT_EQ(0, ret) TH_LOG("errno %d", err);
		calls++;
		ASSERT_GT(2 * ROUNDS, calls) TH_LOG("the test keeps landing on CPU %d", x);
		if (aborted_before(before, end)) {
			/*
			 * Unless the test ran on X: then it preempted the
			 * spinner, which aborts it as well. Such a round does
			 * not count.
			 */
			if (cpu != self->self_cpu)
				continue;
			hits++;
		} else {
			TH_LOG("round %d: no abort within %d ms of the call", round, WINDOW_MS);
		}
		noisy += !quiet;
		round++;
	}
	TH_LOG("%d of %d calls followed by an abort within %d ms", hits, ROUNDS, WINDOW_MS);
	TH_LOG("%d of %d control windows with an abort", noisy, ROUNDS);
	EXPECT_EQ(calls, counter);
	EXPECT_EQ(ROUNDS, hits);
	EXPECT_GE(ROUNDS / 4, noisy);
}

#endif /* __x86_64__ */

struct adder {
	int cpu;
	uint64_t *counter;
	long done;
	long errors;
};

/* At least 100 calls each, also when every call fails. */
static void *add_until_stopped(void *arg)
{
	struct adder *a = arg;
	struct cpu_op op = op_add(0, a->counter, 1, 8);

	while (!atomic_load(&stop) || a->done + a->errors < 100) {
		if (sys_cpu_opv(&op, 1, a->cpu, 0) == 0)
			a->done++;
		else
			a->errors++;
	}
	return NULL;
}

/*
 * The last CPU, which the test takes off- and online, and its state
 * before. The teardown runs in the parent process once the test's process
 * has ended, whichever way (a failed ASSERT abort()s it): none of the test's
 * threads still runs then, and not even a crash of the test leaves the CPU
 * offline.
 */
FIXTURE(hotplug) {
	int cpu;
	int was_online;
	bool changed;
};

FIXTURE_SETUP(hotplug)
{
	int fd;

	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	self->cpu = nr_possible_cpus() - 1;
	fd = self->cpu < 1 ? -1 : cpu_online_open(self->cpu, O_WRONLY);
	if (fd < 0)
		SKIP(return, "cannot offline a CPU here");
	close(fd);
	self->was_online = cpu_is_online(self->cpu);
	ASSERT_LE(0, self->was_online);
}

FIXTURE_TEARDOWN_PARENT(hotplug)
{
	int ret;

	if (!self->changed)
		return;
	ret = cpu_set_online(self->cpu, self->was_online);
	if (ret)
		TH_LOG("cannot put CPU %d back %s", self->cpu,
		       self->was_online ? "online" : "offline");
	EXPECT_EQ(0, ret);
}

/*
 * Vectors for an offline CPU run, serialised: two threads doing
 * read-modify-write adds on one counter lose no update, while the CPU is
 * offline and while it goes on- and offline underneath them.
 */
TEST_F(hotplug, offline_cpu)
{
	static uint64_t counter;
	struct adder adders[2];
	pthread_t threads[2];
	int cpu = self->cpu, i, cycles = 0;

	self->changed = true;
	ASSERT_EQ(0, cpu_set_online(cpu, 0));

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
		ASSERT_EQ(0, cpu_set_online(cpu, 1));
		usleep(20 * 1000);
		ASSERT_EQ(0, cpu_set_online(cpu, 0));
		usleep(20 * 1000);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	ASSERT_EQ(0, cpu_set_online(cpu, 1));
	EXPECT_EQ(0, adders[0].errors + adders[1].errors);
	EXPECT_EQ(adders[0].done + adders[1].done, counter);
	TH_LOG("%ld + %ld adds over %d hotplug cycles", adders[0].done, adders[1].done,
	       cycles);
}

TEST_HARNESS_MAIN
