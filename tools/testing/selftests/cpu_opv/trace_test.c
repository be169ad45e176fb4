// SPDX-License-Identifier: GPL-2.0
/*
 * The cpu_opv trace events: each call has a cpu_opv_enter and a
 * cpu_opv_exit event with its arguments and its result, and a vector that
 * runs has a cpu_opv_dispatch event that says where it ran: locally, in an
 * IPI on another CPU, or here for an idle or an offline CPU, and how long
 * it kept the interrupts of the CPU that ran it off.
 *
 * The events are enabled in a trace instance of their own, filtered on the
 * test's process, so that the test neither sees nor disturbs other tracing.
 * Needs root and tracefs; the offline case also needs a CPU that can be
 * taken offline, and puts it back online.
 */

#include <fcntl.h>
#include <linux/kernel-page-flags.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

#define TRACEFS		"/sys/kernel/tracing"
#define TRACE_SIZE	(64 * 1024)

static int write_tracefs(const char *dir, const char *name, const char *s)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Empties the trace buffer of the instance @dir. */
static int clear_trace(const char *dir)
{
	return write_tracefs(dir, "trace", "");
}

/* Reads the trace of the instance @dir into @buf, NUL-terminated. */
static int read_trace(const char *dir, char *buf, size_t size)
{
	char path[256];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return 0;
}

/*
 * Finds the @nth (from 0) line of @event in @trace. Returns the offset of the
 * line, and copies its arguments (what follows "<event>: ") to @args and the
 * CPU it was recorded on (the "[NNN]" column) to @cpu; -1 if there is none.
 */
static long find_event(const char *trace, const char *event, int nth,
		       char *args, size_t size, int *cpu)
{
	const char *p = trace;
	char key[64];

	snprintf(key, sizeof(key), " %s: ", event);
	while ((p = strstr(p, key))) {
		const char *line = p, *end, *br;

		while (line > trace && line[-1] != '\n')
			line--;
		p += strlen(key);
		if (*line == '#' || nth-- > 0)
			continue;
		end = strchrnul(p, '\n');
		br = memchr(line, '[', p - line);
		if (cpu)
			*cpu = br ? atoi(br + 1) : -1;
		if (args)
			snprintf(args, size, "%.*s", (int)(end - p), p);
		return line - trace;
	}
	return -1;
}

/* The number of @event lines in @trace. */
static int count_events(const char *trace, const char *event)
{
	int n = 0;

	while (find_event(trace, event, n, NULL, 0, NULL) >= 0)
		n++;
	return n;
}

/*
 * The trace instance, and the CPU the offline test takes offline. The
 * teardown runs in the parent once the test's process has ended, whichever
 * way: it puts the CPU back and removes the instance even after a failed
 * ASSERT.
 */
FIXTURE(trace) {
	char dir[128];
	bool made;
	int cpu;
	int was_online;
	bool changed;
	char buf[TRACE_SIZE];
};

FIXTURE_SETUP(trace)
{
	char filter[64];

	self->made = false;
	self->changed = false;
	self->cpu = -1;
	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	if (geteuid())
		SKIP(return, "needs root for tracefs");
	if (access(TRACEFS "/instances", F_OK))
		mount("nodev", TRACEFS, "tracefs", 0, NULL);
	if (access(TRACEFS "/instances", F_OK))
		SKIP(return, "no tracefs at " TRACEFS);
	if (access(TRACEFS "/events/cpu_opv/enable", F_OK))
		SKIP(return, "no cpu_opv trace events (CONFIG_FTRACE?)");

	snprintf(self->dir, sizeof(self->dir), TRACEFS "/instances/cpu_opv_test_%d",
		 getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755))
		TH_LOG("mkdir %s: %s", self->dir, strerror(errno));
	self->made = true;
	snprintf(filter, sizeof(filter), "common_pid == %d", getpid());
	ASSERT_EQ(0, write_tracefs(self->dir, "events/cpu_opv/filter", filter));
	ASSERT_EQ(0, write_tracefs(self->dir, "events/cpu_opv/enable", "1"));
	ASSERT_EQ(0, clear_trace(self->dir));
}

FIXTURE_TEARDOWN_PARENT(trace)
{
	if (self->changed && cpu_set_online(self->cpu, self->was_online)) {
		TH_LOG("cannot put CPU %d back %s", self->cpu,
		       self->was_online ? "online" : "offline");
		EXPECT_TRUE(false);
	}
	if (self->made) {
		write_tracefs(self->dir, "events/cpu_opv/enable", "0");
		EXPECT_EQ(0, rmdir(self->dir));
	}
}

/*
 * The irqoff_ns=N that ends the arguments of a cpu_opv_dispatch line (@rest:
 * what follows its other arguments), or -1.
 */
static long long dispatch_irqoff(const char *rest)
{
	long long ns;
	int end = 0;

	if (sscanf(rest, " irqoff_ns=%lld%n", &ns, &end) != 1 || rest[end])
		return -1;
	return ns;
}

/*
 * Checks that the trace of one call holds exactly one cpu_opv_enter line
 * with @enter, one cpu_opv_exit line with @leave after it, no cpu_opv_retry
 * line (@retry NULL) or one with @retry between them, and no
 * cpu_opv_dispatch line (@dispatch NULL) or one between them, after the
 * retry, whose arguments start with @dispatch and end with the time the
 * vector kept interrupts off, which cannot be 0 ns.
 */
#define EXPECT_CALL(trace, enter, retry, dispatch, leave) do {			\
	const char *_trace = (trace), *_retry = (retry), *_want = (dispatch);	\
	char _args[256];							\
	long _enter, _at, _leave;						\
										\
	EXPECT_EQ(1, count_events(_trace, "cpu_opv_enter"));			\
	EXPECT_EQ(1, count_events(_trace, "cpu_opv_exit"));			\
	EXPECT_EQ(_retry ? 1 : 0, count_events(_trace, "cpu_opv_retry"));	\
	EXPECT_EQ(_want ? 1 : 0, count_events(_trace, "cpu_opv_dispatch"));	\
	_enter = find_event(_trace, "cpu_opv_enter", 0, _args, sizeof(_args), NULL); \
	EXPECT_STREQ(enter, _args);						\
	_leave = find_event(_trace, "cpu_opv_exit", 0, _args, sizeof(_args), NULL); \
	EXPECT_STREQ(leave, _args);						\
	EXPECT_LT(_enter, _leave);						\
	if (_retry) {								\
		_at = find_event(_trace, "cpu_opv_retry", 0, _args,		\
				 sizeof(_args), NULL);				\
		EXPECT_STREQ(_retry, _args);					\
		EXPECT_LT(_enter, _at);						\
		_enter = _at;							\
	}									\
	if (_want) {								\
		_at = find_event(_trace, "cpu_opv_dispatch", 0, _args,		\
				 sizeof(_args), NULL);				\
		EXPECT_EQ(0, strncmp(_want, _args, strlen(_want)))		\
			TH_LOG("cpu_opv_dispatch: %s, expected %s", _args,	\
			       _want);						\
		EXPECT_LT(0, dispatch_irqoff(_args + strlen(_want)))		\
			TH_LOG("cpu_opv_dispatch: %s: no irq-off time", _args);	\
		EXPECT_LT(_enter, _at);						\
		EXPECT_LT(_at, _leave);						\
	}									\
} while (0)

/*
 * EXPECT_CALL() for a call of @cpuopcnt operations that ran on @cpu, its own,
 * with its operands pinned or not (in the caller's mm) as @pinned says.
 */
#define EXPECT_LOCAL_CALL(trace, cpu, cpuopcnt, pinned, retry, leave) do {	\
	char _lenter[64], _ldispatch[64];					\
	int _lcpu = (cpu);							\
										\
	snprintf(_lenter, sizeof(_lenter), "cpu=%d cpuopcnt=%d flags=0x0",	\
		 _lcpu, (cpuopcnt));						\
	snprintf(_ldispatch, sizeof(_ldispatch),				\
		 "cpu=%d mode=local hotplug=0 pinned=%d", _lcpu, (pinned));	\
	EXPECT_CALL(trace, _lenter, retry, _ldispatch, leave);			\
} while (0)

/* A private anonymous page never written (the shared zero page backs it). */
static uint64_t *fresh_page(void)
{
	void *p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A vector for the CPU the test runs on runs there. One add to a word the
 * test has written (its page is mapped writable) runs in the caller's mm,
 * without pinning it.
 */
TEST_F(trace, local)
{
	static uint64_t counter;
	struct cpu_op op = op_add(0, &counter, 1, 8);
	int cpu = sched_getcpu(), line_cpu = -1;

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	__atomic_store_n(&counter, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(0, clear_trace(self->dir));
	ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu, 0)) TH_LOG("errno %d", errno);
	ASSERT_EQ(1, counter);
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));

	EXPECT_LOCAL_CALL(self->buf, cpu, 1, 0, NULL, "ret=0");
	find_event(self->buf, "cpu_opv_dispatch", 0, NULL, 0, &line_cpu);
	EXPECT_EQ(cpu, line_cpu);
}

/*
 * A compare that stops the vector: the vector ran, and returns 1. Its
 * operands are on the stack, on anonymous pages already written: the vector
 * runs in the caller's mm, without pinning them.
 */
TEST_F(trace, compare_stops)
{
	uint64_t a = 1, b = 2;
	struct cpu_op op = op_compare(1, &a, &b, sizeof(a));
	int cpu = sched_getcpu();

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	ASSERT_EQ(1, sys_cpu_opv(&op, 1, cpu, 0)) TH_LOG("errno %d", errno);
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));

	EXPECT_LOCAL_CALL(self->buf, cpu, 1, 0, NULL, "ret=1");
}

/*
 * A compare of memory never written, on the shared zero page. The page is
 * not mapped yet: in the caller's mm the compare would fault, so the
 * operands are pinned. The read pin of the first attempt cannot see a
 * copy-on-write, so the operands are pinned again for writing, and the
 * second attempt runs the vector.
 */
TEST_F(trace, unshare)
{
	int cpu = sched_getcpu();
	struct cpu_op op;
	uint64_t *p;

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	p = fresh_page();
	ASSERT_NE(NULL, p);
	op = op_compare(1, &p[0], &p[1], sizeof(*p));
	ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu, 0)) TH_LOG("errno %d", errno);
	munmap(p, getpagesize());
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));

	EXPECT_LOCAL_CALL(self->buf, cpu, 1, 1, "attempt=1 reason=unshare", "ret=0");
}

/*
 * A compare and an add on one page never written: the page is pinned once,
 * for writing since the add writes it, so the compare reads the page the
 * add writes, and no attempt is lost to unsharing. (Pinned per operand, the
 * compare's read pin would hold the zero page, which the add's write pin
 * replaces.) The page is faulted in first, which is no retry: not mapped,
 * it makes the vector, short as it is, pin its operands.
 */
TEST_F(trace, shared_page)
{
	int cpu = sched_getcpu();
	struct cpu_op ops[2];
	uint64_t *p;

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	p = fresh_page();
	ASSERT_NE(NULL, p);
	ops[0] = op_compare(1, &p[0], &p[1], sizeof(*p));
	ops[1] = op_add(0, &p[2], 1, sizeof(*p));
	ASSERT_EQ(0, sys_cpu_opv(ops, 2, cpu, 0)) TH_LOG("errno %d", errno);
	EXPECT_EQ(1, p[2]);
	munmap(p, getpagesize());
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));

	EXPECT_LOCAL_CALL(self->buf, cpu, 2, 1, NULL, "ret=0");
}

/*
 * Whether the folio that maps @addr has its referenced flag set (1) or not
 * (0), from /proc/self/pagemap and /proc/kpageflags (root), or -1.
 */
static int page_referenced(const void *addr)
{
	uint64_t entry, pfn, flags;
	int fd, ret = -1;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -1;
	if (pread(fd, &entry, sizeof(entry),
		  (uintptr_t)addr / getpagesize() * sizeof(entry)) != sizeof(entry)) {
		close(fd);
		return -1;
	}
	close(fd);
	pfn = entry & ((1ULL << 55) - 1);
	if (!(entry >> 63) || !pfn)
		return -1;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return -1;
	if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) == sizeof(flags))
		ret = !!(flags & (1ULL << KPF_REFERENCED));
	close(fd);
	return ret;
}

/*
 * A 16-byte copy between two pages the test wrote runs on its own CPU
 * through the page tables it locks, without pinning the pages: it marks
 * both folios referenced, as the pinned path's pin_user_pages_fast() does,
 * since an access through the kernel's mapping sets no accessed bit in the
 * entries. MADV_COLD clears the flag first. A third page, never touched,
 * is advised cold after: MADV_COLD first drains this CPU's LRU batches,
 * where the first call may have left the two folios to deactivate later
 * (with the multi-gen LRU), which would clear the flag again.
 */
TEST_F(trace, locked_referenced)
{
	int cpu = sched_getcpu(), page = getpagesize();
	struct cpu_op op;
	char *p;

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, page);
	memset(p + page, 2, page);
	if (madvise(p, 2 * page, MADV_COLD) ||
	    madvise(p + 2 * page, page, MADV_COLD) || page_referenced(p) ||
	    page_referenced(p + page)) {
		munmap(p, 3 * page);
		SKIP(return, "no referenced flag to clear (MADV_COLD, /proc/kpageflags)");
	}
	op = op_memcpy(0, p + page, p, 16);
	ASSERT_EQ(0, clear_trace(self->dir));
	ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu, 0)) TH_LOG("errno %d", errno);
	EXPECT_EQ(1, p[page]);
	EXPECT_EQ(1, page_referenced(p));
	EXPECT_EQ(1, page_referenced(p + page));
	munmap(p, 3 * page);
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));

	EXPECT_LOCAL_CALL(self->buf, cpu, 1, 0, NULL, "ret=0");
}

/* Spins on the CPU it is pinned to until *arg is cleared: a busy CPU. */
static void *spin(void *arg)
{
	while (__atomic_load_n((int *)arg, __ATOMIC_RELAXED))
		;
	return NULL;
}

/*
 * A vector for CPU B, sent from CPU A, with a thread of the test spinning on
 * B if @busy: the vector runs in an IPI on B; or with B idle: it runs on A,
 * under B's runqueue lock, without waking B. The test runs on A with both
 * CPUs in its mask (the target must be in it): should it land on B, the
 * vector runs locally; should B happen to run something else when idle is
 * wanted, the vector runs in an IPI: try again.
 */
static void remote_call(struct __test_metadata *_metadata,
			struct _test_data_trace *self, bool busy)
{
	static uint64_t counter;
	struct cpu_op op = op_add(0, &counter, 1, 8);
	char enter[64], want[64], args[256];
	int a, b, tries, spinning = 1;
	cpu_set_t both, on_b;
	pthread_t t;

	if (two_cpus(&a, &b))
		SKIP(return, "needs two CPUs");
	CPU_ZERO(&both);
	CPU_SET(a, &both);
	CPU_SET(b, &both);
	CPU_ZERO(&on_b);
	CPU_SET(b, &on_b);
	snprintf(enter, sizeof(enter), "cpu=%d cpuopcnt=1 flags=0x0", b);
	snprintf(want, sizeof(want), "cpu=%d mode=%s hotplug=0 pinned=%d", b,
		 busy ? "ipi" : "idle", busy);
	__atomic_store_n(&counter, 0, __ATOMIC_RELAXED);
	if (busy) {
		ASSERT_EQ(0, pthread_create(&t, NULL, spin, &spinning));
		ASSERT_EQ(0, pthread_setaffinity_np(t, sizeof(on_b), &on_b));
	}
	for (tries = 0; tries < 20; tries++) {
		ASSERT_EQ(0, pin_to(a));
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(both), &both));
		if (!busy)
			usleep(10000);
		ASSERT_EQ(0, clear_trace(self->dir));
		ASSERT_EQ(0, sys_cpu_opv(&op, 1, b, 0)) TH_LOG("errno %d", errno);
		ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));
		ASSERT_LE(0, find_event(self->buf, "cpu_opv_dispatch", 0, args,
					sizeof(args), NULL));
		if (strncmp(args, want, strlen(want)) == 0)
			break;
		TH_LOG("try %d: cpu_opv_dispatch: %s", tries, args);
	}
	if (busy) {
		__atomic_store_n(&spinning, 0, __ATOMIC_RELAXED);
		ASSERT_EQ(0, pthread_join(t, NULL));
	}
	ASSERT_GT(20, tries) TH_LOG("never dispatched as %s", want);
	EXPECT_CALL(self->buf, enter, NULL, want, "ret=0");
}

/* A vector for a CPU that runs a task runs there, in an IPI. */
TEST_F(trace, remote_busy)
{
	remote_call(_metadata, self, true);
}

/* A vector for an idle CPU runs here, without waking it. */
TEST_F(trace, remote_idle)
{
	remote_call(_metadata, self, false);
}

/* A call refused before it runs anything: enter and exit, no dispatch. */
TEST_F(trace, einval)
{
	struct cpu_op ops[5] = {};
	char leave[32];

	ASSERT_EQ(-1, sys_cpu_opv(ops, 5, 0, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));
	snprintf(leave, sizeof(leave), "ret=%d", -EINVAL);
	EXPECT_CALL(self->buf, "cpu=0 cpuopcnt=5 flags=0x0", NULL, NULL, leave);
}

/* A query: its flag, and its answer. */
TEST_F(trace, query)
{
	char enter[64], leave[32];
	int n = sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG);

	ASSERT_LT(0, n);
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));
	snprintf(enter, sizeof(enter), "cpu=0 cpuopcnt=0 flags=0x%x", CPU_OP_NR_FLAG);
	snprintf(leave, sizeof(leave), "ret=%d", n);
	EXPECT_CALL(self->buf, enter, NULL, NULL, leave);
}

/*
 * A vector for an offline CPU runs here, under the CPU hotplug lock: the
 * last CPU is taken offline for it.
 */
TEST_F(trace, offline)
{
	static uint64_t counter;
	struct cpu_op op = op_add(0, &counter, 1, 8);
	char enter[64], dispatch[64];
	int cpu = nr_possible_cpus() - 1, fd;

	fd = cpu < 1 ? -1 : cpu_online_open(cpu, O_WRONLY);
	if (fd < 0)
		SKIP(return, "cannot offline a CPU here");
	close(fd);
	self->cpu = cpu;
	self->was_online = cpu_is_online(cpu);
	ASSERT_LE(0, self->was_online);
	self->changed = true;
	ASSERT_EQ(0, cpu_set_online(cpu, 0));
	ASSERT_EQ(0, clear_trace(self->dir));

	ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu, 0)) TH_LOG("errno %d", errno);
	ASSERT_EQ(1, counter);
	ASSERT_EQ(0, read_trace(self->dir, self->buf, sizeof(self->buf)));
	ASSERT_EQ(0, cpu_set_online(cpu, self->was_online));
	self->changed = false;

	snprintf(enter, sizeof(enter), "cpu=%d cpuopcnt=1 flags=0x0", cpu);
	snprintf(dispatch, sizeof(dispatch), "cpu=%d mode=offline hotplug=1 pinned=1",
		 cpu);
	EXPECT_CALL(self->buf, enter, NULL, dispatch, "ret=0");
}

TEST_HARNESS_MAIN
