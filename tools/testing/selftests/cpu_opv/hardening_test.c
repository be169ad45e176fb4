// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() against a hostile caller, and against copy-on-write:
 *
 * - a vector whose operand never finishes faulting in (a userfaultfd page
 *   that nobody serves), aimed at an offline CPU, holds no lock that other
 *   callers or CPU hotplug need, and its caller can still be killed;
 * - a read operand that copy-on-write replaces while the vector waits for
 *   its CPU is not read stale (the debug dispatch delay widens the window,
 *   so that the race is hit every time, not by luck);
 * - an operand unmapped and mapped anew before the call takes the mmap lock
 *   to pin it (the debug lock delay): the vector acts on the new mapping, or
 *   fails if that one cannot be written;
 * - addresses at the top of the address space, or outside it, are faults
 *   (EFAULT, or EAGAIN when expected), never another errno;
 * - tagged addresses (x86 LAM) designate the memory they point to.
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

#define DELAY_KNOB	"/sys/kernel/debug/cpu_opv/dispatch_delay_us"
#define WAITING_FILE	"/sys/kernel/debug/cpu_opv/dispatch_waiting"
#define LOCK_KNOB	"/sys/kernel/debug/cpu_opv/lock_delay_us"
#define LOCK_WAITING	"/sys/kernel/debug/cpu_opv/lock_waiting"
#define SEC_NS		1000000000ULL

static int set_online(int cpu, int online)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	return write_file(path, online ? "1" : "0");
}

static int is_online(int cpu)
{
	char path[64], c = '0';
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return cpu == 0;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/* The online CPUs other than CPU 0 that can go offline, highest first. */
static int hotpluggable_cpus(int *cpus, int max)
{
	char path[64];
	int cpu, n = 0;

	for (cpu = CPU_SETSIZE - 1; cpu > 0 && n < max; cpu--) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/online", cpu);
		if (!access(path, W_OK) && is_online(cpu))
			cpus[n++] = cpu;
	}
	return n;
}

/*
 * Waits up to @ms for @pid to exit; returns its wait status, or -1 if it
 * is still running.
 */
static int wait_for(pid_t pid, int ms)
{
	uint64_t end = now_ns() + ms * 1000000ULL;
	int status;

	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(1000);
	} while (now_ns() < end);
	return -1;
}

/*
 * Runs @fn in a child process and waits up to @ms for it: its exit code.
 * A child that does not finish in time is killed, and reaped if it dies
 * within a second: one blocked in the kernel where SIGKILL does not reach
 * (a CPU hotplug write waiting for the hotplug lock) is left behind, so
 * that the test can report the failure instead of hanging with it.
 */
static int in_child(int (*fn)(void *), void *arg, int ms)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(arg));
	status = wait_for(pid, ms);
	if (status == -1) {
		kill(pid, SIGKILL);
		wait_for(pid, 1000);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads the number in @path, or -1. */
static long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/*
 * Waits up to 10 s for the count of vectors in a debug delay (@path) to
 * reach @want or more (@more), or to fall to @want or less. Returns
 * whether it did.
 */
static bool wait_waiting(const char *path, long want, bool more)
{
	uint64_t end = now_ns() + 10 * SEC_NS;
	long n;

	for (;;) {
		n = read_long(path);
		if (n >= 0 && (more ? n >= want : n <= want))
			return true;
		if (now_ns() > end)
			return false;
		usleep(1000);
	}
}

/*
 * Offline target CPU, operand that never faults in.
 *
 * The child "stuck" registers a page with userfaultfd and never serves its
 * faults, then calls cpu_opv() on it with an offline target CPU: the call
 * waits in the fault for good. Meanwhile another process's cpu_opv() to
 * the same offline CPU, and a CPU hotplug cycle of another CPU, must each
 * finish within a second, and the stuck child must die within a second of
 * SIGKILL.
 *
 * Variant "never_present": the page is missing from the start, so the
 * call waits in its first fault. Variant "zapped_after_pin": the page is
 * present when the call pins it, and another thread of the child zaps it
 * (MADV_DONTNEED) while the vector waits in the debug dispatch delay, so
 * that any later attempt to fault the page in waits for good. An engine
 * that pins again under the CPU hotplug lock or the offline mutex, once
 * it has found the target CPU offline, blocks there, and with it every
 * hotplug operation (the bug this test was written for); one that runs
 * the vector over the pages it pinned first completes the call.
 */

FIXTURE(offline_stuck) {
	int offline;		/* the offline target CPU */
	int cycled;		/* the CPU taken off- and online */
	pid_t stuck;
	int pipe[2];
	int knob;
};

FIXTURE_VARIANT(offline_stuck) {
	int zap;	/* the page is present when pinned, then zapped */
};

FIXTURE_VARIANT_ADD(offline_stuck, never_present) {
	.zap = 0,
};

FIXTURE_VARIANT_ADD(offline_stuck, zapped_after_pin) {
	.zap = 1,
};

FIXTURE_SETUP(offline_stuck)
{
	int cpus[2];

	self->offline = -1;
	self->cycled = -1;
	self->stuck = -1;
	self->pipe[0] = -1;
	self->pipe[1] = -1;
	self->knob = 0;
	if (geteuid())
		SKIP(return, "needs root for CPU hotplug and userfaultfd");
	if (hotpluggable_cpus(cpus, 2) < 2)
		SKIP(return, "needs two CPUs besides CPU 0 that can go offline");
	if (variant->zap && (access(DELAY_KNOB, W_OK) || access(WAITING_FILE, R_OK)))
		SKIP(return, "needs CONFIG_CPU_OPV_DEBUG_DELAY");
	ASSERT_EQ(0, pipe(self->pipe));
	ASSERT_EQ(0, set_online(cpus[0], 0));
	self->offline = cpus[0];
	self->cycled = cpus[1];
}

FIXTURE_TEARDOWN(offline_stuck)
{
	if (self->knob)
		write_file(DELAY_KNOB, "0");
	if (self->stuck > 0) {
		kill(self->stuck, SIGKILL);
		waitpid(self->stuck, NULL, 0);
	}
	if (self->cycled >= 0 && !is_online(self->cycled))
		set_online(self->cycled, 1);
	if (self->offline >= 0)
		set_online(self->offline, 1);
	if (self->pipe[0] >= 0) {
		close(self->pipe[0]);
		close(self->pipe[1]);
	}
}

struct zapper {
	int fd;
	char *p;
	long page;
};

/*
 * Zaps the stuck child's page once its vector waits in the dispatch delay,
 * and reports 'z', or 'x' if the vector never got there.
 */
static void *zapper(void *arg)
{
	struct zapper *z = arg;

	if (!wait_waiting(WAITING_FILE, 1, true) ||
	    madvise(z->p, z->page, MADV_DONTNEED))
		write(z->fd, "x", 1);
	else
		write(z->fd, "z", 1);
	return NULL;
}

/*
 * The stuck child: reports 's' (skip), 'r' (about to call), then 'z' (its
 * page zapped while the vector waited) if @zap, then 'd' (the call
 * returned). Exits with 0 if the call succeeded.
 */
static void stuck_child(int fd, int cpu, int zap)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct cpu_op op;
	long page = sysconf(_SC_PAGESIZE);
	struct zapper z;
	pthread_t t;
	char *p;
	int uffd, ret;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (uffd < 0 || p == MAP_FAILED || ioctl(uffd, UFFDIO_API, &api)) {
		write(fd, "s", 1);
		_exit(0);
	}
	/* Present before registering: only missing pages are trapped. */
	if (zap)
		memset(p, 0, page);
	reg.range.start = (uintptr_t)p;
	reg.range.len = page;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		write(fd, "s", 1);
		_exit(0);
	}
	z = (struct zapper){ .fd = fd, .p = p, .page = page };
	if (zap && pthread_create(&t, NULL, zapper, &z)) {
		write(fd, "s", 1);
		_exit(0);
	}
	op = op_add(0, p, 1, 8);
	write(fd, "r", 1);
	ret = sys_cpu_opv(&op, 1, cpu, 0);
	if (zap)
		pthread_join(t, NULL);
	write(fd, "d", 1);
	_exit(ret ? 1 : 0);
}

static int other_process_call(void *arg)
{
	int cpu = *(int *)arg;
	uint64_t *v = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct cpu_op op;

	if (v == MAP_FAILED)
		return 2;
	*v = 41;
	op = op_add(0, v, 1, 8);
	if (sys_cpu_opv(&op, 1, cpu, 0))
		return 3;
	return *v == 42 ? 0 : 4;
}

static int hotplug_cycle(void *arg)
{
	int cpu = *(int *)arg;

	return set_online(cpu, 0) || set_online(cpu, 1);
}

TEST_F_TIMEOUT(offline_stuck, others_proceed_and_caller_dies, 120)
{
	struct pollfd pfd = { .fd = self->pipe[0], .events = POLLIN };
	uint64_t t0, control;
	int status, finished = 0;
	char c = 0;

	/*
	 * How long a hotplug cycle takes here when nothing is stuck: under
	 * emulation it can take most of a second. A cycle blocked by the
	 * stuck caller would never finish.
	 */
	t0 = now_ns();
	ASSERT_EQ(0, in_child(hotplug_cycle, &self->cycled, 10000));
	control = (now_ns() - t0) / 1000000;
	TH_LOG("hotplug cycle of CPU %d, nothing stuck: %llu ms", self->cycled,
	       (unsigned long long)control);

	if (variant->zap) {
		/* Long enough for the zapper to see the vector waiting. */
		ASSERT_EQ(0, write_file(DELAY_KNOB, "500000"));
		self->knob = 1;
	}
	self->stuck = fork();
	ASSERT_LE(0, self->stuck);
	if (!self->stuck)
		stuck_child(self->pipe[1], self->offline, variant->zap);
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_EQ(1, read(self->pipe[0], &c, 1));
	if (c == 's')
		SKIP(return, "userfaultfd is not available");
	ASSERT_EQ('r', c);
	if (variant->zap) {
		ASSERT_EQ(1, poll(&pfd, 1, 20000));
		ASSERT_EQ(1, read(self->pipe[0], &c, 1));
		ASSERT_EQ('z', c) {
			TH_LOG("the page could not be zapped while the vector waited");
		}
		/* The other process's call below must not wait. */
		ASSERT_EQ(0, write_file(DELAY_KNOB, "0"));
		self->knob = 0;
		/*
		 * Once the vector has left the delay, the call either
		 * completes at once (it runs over the pages it pinned) or
		 * faults the zapped page in again, and waits for good.
		 */
		ASSERT_TRUE(wait_waiting(WAITING_FILE, 0, false));
		finished = poll(&pfd, 1, 1000) == 1;
		if (finished) {
			/*
			 * The add went to the page it pinned, zapped since:
			 * lost with it, as any write that races MADV_DONTNEED.
			 */
			ASSERT_EQ(1, read(self->pipe[0], &c, 1));
			ASSERT_EQ('d', c);
			status = wait_for(self->stuck, 1000);
			ASSERT_NE(-1, status);
			self->stuck = -1;
			EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
				TH_LOG("the call on the zapped page failed");
			}
		}
		TH_LOG("the call on the zapped page %s", finished ?
		       "completed" : "waits for the page to fault in again");
	} else {
		/* The stuck child is in its call, and stays there. */
		ASSERT_EQ(0, poll(&pfd, 1, 300)) {
			TH_LOG("cpu_opv() on a page nobody serves returned");
		}
	}

	t0 = now_ns();
	EXPECT_EQ(0, in_child(other_process_call, &self->offline, 1000)) {
		TH_LOG("another process's cpu_opv() to offline CPU %d did not complete within 1 s",
		       self->offline);
	}
	TH_LOG("another process's call to CPU %d: %llu us", self->offline,
	       (unsigned long long)(now_ns() - t0) / 1000);

	t0 = now_ns();
	EXPECT_EQ(0, in_child(hotplug_cycle, &self->cycled,
			      1000 > 3 * control ? 1000 : 3 * control)) {
		TH_LOG("CPU %d did not go off- and online within 1 s (or 3 times the control)",
		       self->cycled);
	}
	TH_LOG("hotplug cycle of CPU %d: %llu us", self->cycled,
	       (unsigned long long)(now_ns() - t0) / 1000);

	if (finished)
		return;
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	t0 = now_ns();
	ASSERT_EQ(0, kill(self->stuck, SIGKILL));
	status = wait_for(self->stuck, 1000);
	ASSERT_NE(-1, status) {
		TH_LOG("the stuck caller did not die within 1 s of SIGKILL");
	}
	self->stuck = -1;
	EXPECT_TRUE(WIFSIGNALED(status));
	TH_LOG("SIGKILL to exit: %llu us",
	       (unsigned long long)(now_ns() - t0) / 1000);
}

/*
 * Copy-on-write of a read operand while the vector waits for its CPU.
 *
 * The vector is "Z == 0 ? X += 1". Z starts as a never-written page of a
 * private writable mapping: the zero page, or a page-cache page of a
 * private file mapping. While the vector waits in the dispatch delay, a
 * thread on the target CPU stores Z = 1 (a copy-on-write fault: Z moves to
 * a new page) and then reads X. If the vector succeeded, it ran on that
 * CPU before the store, so before the read, which must then see X == 1.
 * A vector that compared the old page would succeed and leave the thread
 * with X == 0: that is the failure.
 */

FIXTURE(cow) {
	int caller, target;
	int knob;
};

FIXTURE_VARIANT(cow) {
	int file;	/* a private file mapping instead of anonymous memory */
};

FIXTURE_VARIANT_ADD(cow, zero_page) {
	.file = 0,
};

FIXTURE_VARIANT_ADD(cow, private_file) {
	.file = 1,
};

FIXTURE_SETUP(cow)
{
	cpu_set_t set;
	int cpu, n = 0;

	self->knob = 0;
	if (access(DELAY_KNOB, W_OK) || access(WAITING_FILE, R_OK))
		SKIP(return, "needs root and CONFIG_CPU_OPV_DEBUG_DELAY");
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++)
			self->target = cpu;
		else
			self->caller = cpu;
	}
	if (n < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, write_file(DELAY_KNOB, "300000"));
	self->knob = 1;
}

FIXTURE_TEARDOWN(cow)
{
	if (self->knob)
		write_file(DELAY_KNOB, "0");
}

struct cow_writer {
	int cpu;
	uint64_t *z;
	uint64_t *x;
	atomic_int go;
	uint64_t x_seen;
	int pinned;
	int waited;	/* the store was made while the vector waited */
};

static void *cow_writer(void *arg)
{
	struct cow_writer *w = arg;

	w->pinned = !pin_to(w->cpu);
	while (!atomic_load(&w->go))
		;
	/* Once the vector waits in its 300 ms delay, pinned. */
	w->waited = wait_waiting(WAITING_FILE, 1, true);
	__atomic_store_n(w->z, 1, __ATOMIC_RELAXED);
	w->x_seen = __atomic_load_n(w->x, __ATOMIC_RELAXED);
	return NULL;
}

static uint64_t *map_z(int file)
{
	void *p;
	int fd;

	if (!file)
		return mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("cpu_opv_cow", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 4096)) {
		if (fd >= 0)
			close(fd);
		return MAP_FAILED;
	}
	/* The page cache holds the page: the mapping reads it in place. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	return p;
}

TEST_F_TIMEOUT(cow, read_operand_is_not_stale, 120)
{
	static const uint64_t zero;
	int i, raced = 0;
	cpu_set_t both;

	/*
	 * The target must be in the caller's mask; the caller starts on the
	 * other CPU (a vector that ends up running locally races the same).
	 */
	ASSERT_EQ(0, pin_to(self->caller));
	CPU_ZERO(&both);
	CPU_SET(self->caller, &both);
	CPU_SET(self->target, &both);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(both), &both));
	for (i = 0; i < 4; i++) {
		uint64_t *z = map_z(variant->file);
		uint64_t x = 0;
		struct cow_writer w = {
			.cpu = self->target, .z = z, .x = &x,
		};
		struct cpu_op ops[2];
		pthread_t t;
		int ret;

		ASSERT_NE(MAP_FAILED, z);
		/* Read, never written: mapped read-only, shared. */
		ASSERT_EQ(0ULL, __atomic_load_n(z, __ATOMIC_RELAXED));
		ops[0] = op_compare(1, z, (void *)&zero, 8);
		ops[1] = op_add(0, &x, 1, 8);
		ASSERT_EQ(0, pthread_create(&t, NULL, cow_writer, &w));
		usleep(10000);
		atomic_store(&w.go, 1);
		ret = sys_cpu_opv(ops, 2, self->target, 0);
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_TRUE(w.pinned);
		ASSERT_TRUE(w.waited) {
			TH_LOG("round %d: the vector was never seen waiting", i);
		}
		ASSERT_LE(0, ret) {
			TH_LOG("cpu_opv: %s", strerror(errno));
		}
		/* The vector succeeded after the store to Z: it read a stale page. */
		ASSERT_FALSE(ret == 0 && w.x_seen == 0) {
			TH_LOG("round %d: the compare saw Z == 0 after the target CPU stored Z = 1",
			       i);
		}
		if (ret == 1) {
			ASSERT_EQ(0ULL, x);
			raced++;
		} else {
			ASSERT_EQ(1ULL, x);
		}
		munmap(z, 4096);
	}
	/* With the store made while the vector waits, every round races. */
	TH_LOG("%d of 4 rounds stored Z while the vector waited", raced);
	ASSERT_EQ(4, raced);
}

/*
 * An operand remapped before the call pins it.
 *
 * The call's page is mapped and written: the first pin would find it. The
 * call waits in the debug lock delay, before it takes the mmap lock to pin
 * its operands. Meanwhile the test unmaps the page and maps a new one at the
 * same address: writable, or read-only. The call must pin what the address
 * maps once it holds the lock: the add lands in the new writable page
 * (faulted in first), or the call fails with EFAULT on the read-only one,
 * which stays zero. An engine that pinned before taking the lock, and
 * trusted its pins, would add to the old page, gone, and report success.
 */
FIXTURE(remap) {
	int knob;
};

FIXTURE_VARIANT(remap) {
	int prot;	/* of the new mapping */
};

FIXTURE_VARIANT_ADD(remap, writable) {
	.prot = PROT_READ | PROT_WRITE,
};

FIXTURE_VARIANT_ADD(remap, read_only) {
	.prot = PROT_READ,
};

FIXTURE_SETUP(remap)
{
	self->knob = 0;
	if (access(LOCK_KNOB, W_OK) || access(LOCK_WAITING, R_OK))
		SKIP(return, "needs root and CONFIG_CPU_OPV_DEBUG_DELAY");
	ASSERT_EQ(0, write_file(LOCK_KNOB, "300000"));
	self->knob = 1;
}

FIXTURE_TEARDOWN(remap)
{
	if (self->knob)
		write_file(LOCK_KNOB, "0");
}

struct remap_call {
	uint64_t *p;
	int ret, err;
};

static void *remap_caller(void *arg)
{
	struct remap_call *c = arg;
	struct cpu_op op = op_add(0, c->p, 1, 8);

	c->ret = sys_cpu_opv(&op, 1, sched_getcpu(), 0);
	c->err = errno;
	return NULL;
}

TEST_F_TIMEOUT(remap, repinned_after_remap, 120)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct remap_call c = { .p = p };
		pthread_t t;
		void *q;

		ASSERT_NE(MAP_FAILED, p);
		*p = 41;
		ASSERT_EQ(0, pthread_create(&t, NULL, remap_caller, &c));
		ASSERT_TRUE(wait_waiting(LOCK_WAITING, 1, true)) {
			TH_LOG("round %d: the vector was never seen waiting", i);
		}
		ASSERT_EQ(0, munmap(p, 4096));
		q = mmap(p, 4096, variant->prot,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ASSERT_EQ((void *)p, q);
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (variant->prot & PROT_WRITE) {
			ASSERT_EQ(0, c.ret) {
				TH_LOG("round %d: %s", i, strerror(c.err));
			}
			ASSERT_EQ(1ULL, *p) {
				TH_LOG("round %d: the add did not land in the new mapping", i);
			}
		} else {
			ASSERT_EQ(-1, c.ret);
			ASSERT_EQ(EFAULT, c.err);
			ASSERT_EQ(0ULL, *p);
		}
		munmap(p, 4096);
	}
}

/*
 * Addresses at the top of the address space, or outside it. The operands are
 * __u64 whatever the size of a pointer: a 32-bit caller can name all of them.
 */
TEST(wild_addresses_fault)
{
	static const uint64_t wild[] = {
		(uintptr_t)-16, (uintptr_t)-4096, (uintptr_t)-8,
		0x8000000000000000ULL, 0xffffffff81000000ULL,
		0x00007ffffffff000ULL, 0,
	};
	uint64_t local = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(wild); i++) {
		struct cpu_op op = op_add(0, NULL, 1, 8);
		int cpu = sched_getcpu();

		op.u.arithmetic_op.p = wild[i];
		errno = 0;
		EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu, 0));
		EXPECT_EQ(EFAULT, errno) {
			TH_LOG("add at %#llx: %s", (unsigned long long)wild[i],
			       strerror(errno));
		}
		op.u.arithmetic_op.expect_fault_p = 1;
		errno = 0;
		EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu, 0));
		EXPECT_EQ(EAGAIN, errno) {
			TH_LOG("add at %#llx, fault expected: %s",
			       (unsigned long long)wild[i], strerror(errno));
		}
		op = op_compare(1, NULL, &local, 8);
		op.u.compare_op.a = wild[i];
		errno = 0;
		EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu, 0));
		EXPECT_EQ(EFAULT, errno);
		op = op_memcpy(0, &local, NULL, 8);
		op.u.memcpy_op.src = wild[i];
		errno = 0;
		EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu, 0));
		EXPECT_EQ(EFAULT, errno);
	}
	EXPECT_EQ(0ULL, local);
}

#if defined(__x86_64__)
#include <asm/prctl.h>
#ifndef ARCH_ENABLE_TAGGED_ADDR
#define ARCH_ENABLE_TAGGED_ADDR	0x4002
#endif

/* With x86 LAM, a tagged pointer designates the untagged address. */
TEST(tagged_address)
{
	uint64_t *v = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long tag = 0x2aUL << 57;
	struct cpu_op op;

	ASSERT_NE(MAP_FAILED, v);
	if (syscall(SYS_arch_prctl, ARCH_ENABLE_TAGGED_ADDR, 6))
		SKIP(return, "no x86 LAM here: %s", strerror(errno));
	*v = 1;
	op = op_add(0, (void *)((uintptr_t)v | tag), 1, 8);
	ASSERT_EQ(0, sys_cpu_opv(&op, 1, sched_getcpu(), 0));
	ASSERT_EQ(2ULL, *v);
}
#endif

TEST_HARNESS_MAIN
