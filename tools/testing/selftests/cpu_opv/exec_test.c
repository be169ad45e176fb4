// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() execution: what each operation does to memory, byte-exact and
 * across page boundaries, on every kind of memory cpu_opv accepts, on every
 * online CPU; and the errors of operands that cannot be accessed.
 */

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/loop.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

#define PAGE	4096UL
#define NUMA_BALANCING	"/proc/sys/kernel/numa_balancing"

static int cpu_now(void)
{
	return sched_getcpu();
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

#define NR_MAPS	3
#define NR_FDS	2
#define MNT	"/tmp/cpu_opv_mnt"

/*
 * What a test maps, opens, mounts or changes belongs to the fixture, whose
 * teardown also runs after a failed ASSERT: nothing stays mapped, open,
 * mounted, attached or changed.
 */
FIXTURE(exec) {
	uint8_t *mem;	/* 4 pages: src in 0-1, dst in 2-3 */
	uint8_t *ref;
	struct {
		void *addr;
		size_t len;
	} map[NR_MAPS];	/* the test's mappings, NULL if unused */
	int fd[NR_FDS];	/* the test's files, -1 if unused */
	bool mounted;	/* ext2 on MNT */
	int loop;	/* a loop device bound to a file, or -1 */
	long nr_hugepages;	/* vm.nr_hugepages to restore, or -1 */
};

FIXTURE_SETUP(exec)
{
	int i;

	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	for (i = 0; i < NR_FDS; i++)
		self->fd[i] = -1;
	self->loop = -1;
	self->nr_hugepages = -1;
	self->mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->ref = malloc(4 * PAGE);
	ASSERT_NE(NULL, self->ref);
}

/* mmap() for a test, unmapped by the teardown. */
static void *test_mmap(struct _test_data_exec *self, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);
	int i;

	for (i = 0; i < NR_MAPS && p != MAP_FAILED; i++) {
		if (!self->map[i].addr) {
			self->map[i].addr = p;
			self->map[i].len = len;
			return p;
		}
	}
	if (p != MAP_FAILED)
		munmap(p, len);
	return MAP_FAILED;
}

/* Unmaps the end of a test's mapping, from @len on; the teardown the rest. */
static int unmap_tail(struct _test_data_exec *self, void *addr, size_t len)
{
	int i;

	for (i = 0; i < NR_MAPS; i++) {
		if (self->map[i].addr == addr && self->map[i].len > len) {
			size_t tail = self->map[i].len - len;

			self->map[i].len = len;
			return munmap((uint8_t *)addr + len, tail);
		}
	}
	return -1;
}

/* Keeps @fd for the teardown to close; returns it. */
static int keep_fd(struct _test_data_exec *self, int fd)
{
	int i;

	for (i = 0; i < NR_FDS && fd >= 0; i++) {
		if (self->fd[i] < 0) {
			self->fd[i] = fd;
			return fd;
		}
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Unmaps and closes what the test mapped and opened. */
static void release(struct _test_data_exec *self)
{
	int i;

	for (i = 0; i < NR_MAPS; i++) {
		if (self->map[i].addr)
			munmap(self->map[i].addr, self->map[i].len);
		self->map[i].addr = NULL;
	}
	for (i = 0; i < NR_FDS; i++) {
		if (self->fd[i] >= 0)
			close(self->fd[i]);
		self->fd[i] = -1;
	}
}

/* vm.nr_hugepages, or -1. */
static long read_nr_hugepages(void)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long nr = -1;

	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	return nr;
}

static int set_nr_hugepages(long nr)
{
	char val[24];

	snprintf(val, sizeof(val), "%ld", nr);
	return write_file("/proc/sys/vm/nr_hugepages", val);
}

FIXTURE_TEARDOWN(exec)
{
	release(self);
	if (self->mounted) {
		umount(MNT);
		rmdir(MNT);
	}
	if (self->loop >= 0) {
		ioctl(self->loop, LOOP_CLR_FD, 0);
		close(self->loop);
	}
	if (self->nr_hugepages >= 0)
		set_nr_hugepages(self->nr_hugepages);
	munmap(self->mem, 4 * PAGE);
	free(self->ref);
}

/* memcpy at every interesting offset and length, across the page boundary. */
TEST_F(exec, memcpy_offsets_and_lengths)
{
	static const size_t offs[] = { 0, 1, 7, 8, 4088, 4095 };
	static const uint32_t lens[] = { 0, 1, 7, 8, 9, 4095, 4096 };
	const size_t no = ARRAY_SIZE(offs), nl = ARRAY_SIZE(lens);
	size_t n;

	/* Every source offset x destination offset x length x release. */
	for (n = 0; n < 2 * no * no * nl; n++) {
		size_t i = n % no, k = n / no % no, j = n / no / no % nl;
		int rel = n / no / no / nl;
		uint8_t *src = self->mem + offs[i];
		uint8_t *dst = self->mem + 2 * PAGE + offs[k];
		struct cpu_op op = op_memcpy(rel, dst, src, lens[j]);

		fill(self->mem, 4 * PAGE, i + 3 * j + k);
		memcpy(self->ref, self->mem, 4 * PAGE);
		memcpy(self->ref + 2 * PAGE + offs[k], self->ref + offs[i], lens[j]);
		ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu_now(), 0))
			TH_LOG("src +%zu dst +%zu len %u: errno %d", offs[i], offs[k],
			       lens[j], errno);
		ASSERT_EQ(0, memcmp(self->ref, self->mem, 4 * PAGE))
			TH_LOG("src +%zu dst +%zu len %u", offs[i], offs[k], lens[j]);
	}
}

/* compare at every offset and length; a difference anywhere is seen. */
TEST_F(exec, compare_offsets_and_lengths)
{
	static const size_t offs[] = { 0, 1, 7, 8, 4088, 4095 };
	static const uint32_t lens[] = { 0, 1, 7, 8, 9, 4095, 4096 };
	const size_t no = ARRAY_SIZE(offs), nl = ARRAY_SIZE(lens);
	size_t n;

	/* Every offset of a x offset of b x length. */
	for (n = 0; n < no * no * nl; n++) {
		size_t i = n % no, k = n / no % no, j = n / no / no;
		uint8_t *a = self->mem + offs[i];
		uint8_t *b = self->mem + 2 * PAGE + offs[k];
		struct cpu_op eq = op_compare(1, a, b, lens[j]);
		struct cpu_op ne = op_compare(0, a, b, lens[j]);

		fill(self->mem, 4 * PAGE, 5);
		memcpy(b, a, lens[j]);
		memcpy(self->ref, self->mem, 4 * PAGE);
		EXPECT_EQ(0, sys_cpu_opv(&eq, 1, cpu_now(), 0));
		EXPECT_EQ(1, sys_cpu_opv(&ne, 1, cpu_now(), 0));
		if (lens[j]) {
			/* Differ in the last byte, which may be on the 2nd page. */
			b[lens[j] - 1] ^= 0x40;
			memcpy(self->ref, self->mem, 4 * PAGE);
			EXPECT_EQ(1, sys_cpu_opv(&eq, 1, cpu_now(), 0));
			EXPECT_EQ(0, sys_cpu_opv(&ne, 1, cpu_now(), 0));
		}
		/* Compares never write. */
		ASSERT_EQ(0, memcmp(self->ref, self->mem, 4 * PAGE));
	}
}

/* add at every width: truncated count, wrapping, nothing else touched. */
TEST_F(exec, add_widths)
{
	static const int64_t counts[] = { 1, -1, 255, 256, 0x10001, INT64_MIN, INT64_MAX,
					  -0x123456789LL };
	const size_t nc = ARRAY_SIZE(counts);
	size_t n;

	/* Every count x width (1, 2, 4, 8) x release. */
	for (n = 0; n < 2 * 4 * nc; n++) {
		size_t i = n % nc;
		uint32_t len = 1U << (n / nc % 4);
		int rel = n / nc / 4;
		uint8_t *p = self->mem + 2 * PAGE - len;	/* end of a page */
		struct cpu_op op = op_add(rel, p, counts[i], len);
		uint64_t before = 0, after = 0, expect;

		fill(self->mem, 4 * PAGE, len + i);
		memcpy(self->ref, self->mem, 4 * PAGE);
		memcpy(&before, p, len);
		expect = before + (uint64_t)counts[i];
		if (len < 8)
			expect &= (1ULL << (8 * len)) - 1;
		memcpy(self->ref + 2 * PAGE - len, &expect, len);
		ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu_now(), 0));
		memcpy(&after, p, len);
		EXPECT_EQ(expect, after)
			TH_LOG("len %u count %lld", len, (long long)counts[i]);
		ASSERT_EQ(0, memcmp(self->ref, self->mem, 4 * PAGE));
	}
}

/*
 * A failed compare stops the vector: the return value is its index + 1,
 * the operations before it took effect and those after it did not.
 */
TEST_F(exec, compare_failure_stops_the_vector)
{
	uint64_t *w = (uint64_t *)(self->mem + 2 * PAGE);
	struct cpu_op ops[4];
	int fail;

	for (fail = 0; fail < 4; fail++) {
		int i;

		memset(w, 0, 8 * sizeof(*w));
		w[7] = 1;
		for (i = 0; i < 4; i++) {
			if (i == fail)
				ops[i] = op_compare(1, &w[6], &w[7], 8); /* 0 != 1 */
			else
				ops[i] = op_add(0, &w[i], 10 + i, 8);
		}
		EXPECT_EQ(fail + 1, sys_cpu_opv(ops, 4, cpu_now(), 0));
		for (i = 0; i < 4; i++) {
			if (i == fail)
				continue;
			EXPECT_EQ(i < fail ? 10 + i : 0, w[i]) TH_LOG("fail %d op %d", fail, i);
		}
	}
	/* And a passing compare lets it run to the end. */
	w[6] = 1;
	ops[0] = op_compare(1, &w[6], &w[7], 8);
	ops[1] = op_compare(0, &w[5], &w[7], 8);
	ops[2] = op_memcpy(1, &w[4], &w[7], 8);
	ops[3] = op_add(1, &w[5], -2, 8);
	EXPECT_EQ(0, sys_cpu_opv(ops, 4, cpu_now(), 0));
	EXPECT_EQ(1, w[4]);
	EXPECT_EQ((uint64_t)-2, w[5]);
}

/* The worst-case vector: a full-page copy across a boundary plus 3 adds. */
TEST_F(exec, worst_case_vector)
{
	uint64_t *w = (uint64_t *)(self->mem + 3 * PAGE + 2048);
	struct cpu_op ops[4] = {
		op_memcpy(0, self->mem + 2 * PAGE + 100, self->mem + 200, 4096),
		op_add(0, &w[0], 1, 8),
		op_add(0, &w[1], 2, 8),
		op_add(1, &w[2], 3, 8),
	};

	fill(self->mem, 2 * PAGE, 9);
	memset(self->mem + 2 * PAGE, 0, 2 * PAGE);
	EXPECT_EQ(0, sys_cpu_opv(ops, 4, cpu_now(), 0));
	EXPECT_EQ(0, memcmp(self->mem + 2 * PAGE + 100, self->mem + 200, 4096));
	EXPECT_EQ(1, w[0]);
	EXPECT_EQ(2, w[1]);
	EXPECT_EQ(3, w[2]);
}

/* Every online CPU in the affinity mask runs vectors, local or remote. */
TEST_F(exec, every_cpu)
{
	uint64_t *counter = (uint64_t *)self->mem;
	int nr = nr_possible_cpus(), cpu, n = 0, i;
	struct cpu_op op = op_add(0, counter, 1, 8);
	cpu_set_t set;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	*counter = 0;
	for (cpu = 0; cpu < nr; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		for (i = 0; i < 100; i++)
			ASSERT_EQ(0, sys_cpu_opv(&op, 1, cpu, 0)) TH_LOG("cpu %d", cpu);
		n++;
	}
	EXPECT_EQ(100 * n, *counter);
	EXPECT_LE(2, n) TH_LOG("the guest is expected to have several CPUs");
}

/*
 * Operands that cannot be accessed: EFAULT, or EAGAIN when expect_fault is
 * set for that operand. The vector does not run: memory is unchanged.
 */
TEST_F(exec, faults)
{
	uint64_t *ok = (uint64_t *)(self->mem + 2 * PAGE);
	uint8_t *ro, *none, *gone;
	struct cpu_op ops[2];

	ro = test_mmap(self, 3 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(MAP_FAILED, ro);
	none = ro + PAGE;
	gone = ro + 2 * PAGE;
	ASSERT_EQ(0, mprotect(none, PAGE, PROT_NONE));
	ASSERT_EQ(0, unmap_tail(self, ro, 2 * PAGE));	/* gone */
	*ok = 5;

	/* Write to read-only memory, to PROT_NONE, to nothing. */
	ops[0] = op_add(0, ok, 1, 8);
	ops[1] = op_add(0, ro, 1, 8);
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	ops[1].u.arithmetic_op.expect_fault_p = 1;
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EAGAIN, errno);
	ops[1] = op_memcpy(0, gone, ok, 8);
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	ops[1].u.memcpy_op.expect_fault_dst = 1;
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EAGAIN, errno);
	/* expect_fault of the other operand does not count. */
	ops[1] = op_memcpy(0, gone, ok, 8);
	ops[1].u.memcpy_op.expect_fault_src = 1;
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	/* Reads of PROT_NONE and of unmapped memory. */
	ops[1] = op_compare(1, none, ok, 8);
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	ops[1] = op_compare(1, ok, gone - 4, 8);	/* crosses into the hole */
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	ops[1].u.compare_op.expect_fault_b = 1;
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EAGAIN, errno);
	/* Kernel addresses: __u64, even for a 32-bit caller. */
	ops[1] = op_add(0, NULL, 1, 8);
	ops[1].u.arithmetic_op.p = 0xffff888000000000ULL;
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	ops[1] = op_memcpy(0, ok + 1, (void *)(-8L), 8);
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);

	/* None of these ran: the first add never happened. */
	EXPECT_EQ(5, *ok);

	/* Reading read-only memory is fine. */
	ops[1] = op_compare(1, ro, ro, 8);
	EXPECT_EQ(0, sys_cpu_opv(ops, 2, cpu_now(), 0));
	EXPECT_EQ(6, *ok);
}

/* Never-written anonymous memory reads as the zero page. */
TEST_F(exec, zero_page_source)
{
	uint8_t *zero = test_mmap(self, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	uint8_t *dst = self->mem + 2 * PAGE + 1000;
	struct cpu_op op = op_memcpy(0, dst, zero + 2000, 4096);
	uint8_t expect[4096] = { 0 };

	ASSERT_NE(MAP_FAILED, zero);
	memset(dst, 0xaa, 4096);
	EXPECT_EQ(0, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(0, memcmp(dst, expect, 4096));
}

/* The kinds of memory cpu_opv accepts. */
static void exercise(struct __test_metadata *_metadata, uint8_t *p, const char *what)
{
	uint64_t *w = (uint64_t *)(p + PAGE - 16);
	struct cpu_op ops[3];

	memset(p, 0, 2 * PAGE);
	*w = 41;
	ops[0] = op_add(0, w, 1, 8);
	ops[1] = op_memcpy(0, p + PAGE - 3, "abcdefgh", 8);	/* crosses */
	ops[2] = op_compare(0, w, p, 8);
	ASSERT_EQ(0, sys_cpu_opv(ops, 3, cpu_now(), 0)) TH_LOG("%s: errno %d", what, errno);
	EXPECT_EQ(0, memcmp(p + PAGE - 3, "abcdefgh", 8)) TH_LOG("%s", what);
	EXPECT_EQ(42, *w) TH_LOG("%s", what);
}

TEST_F(exec, memory_kinds)
{
	char path[] = "/tmp/cpu_opv_exec_XXXXXX";
	uint8_t *p;
	int fd;

	p = test_mmap(self, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	ASSERT_NE(MAP_FAILED, p);
	exercise(_metadata, p, "shared anonymous");

	fd = keep_fd(self, memfd_create("cpu_opv", 0));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 2 * PAGE));
	p = test_mmap(self, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	ASSERT_NE(MAP_FAILED, p);
	exercise(_metadata, p, "memfd");

	/*
	 * A private mapping of a file (tmpfs): written pages are anonymous
	 * copies. The file is unlinked at once: nothing to remove after.
	 */
	fd = keep_fd(self, mkstemp(path));
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, 2 * PAGE));
	p = test_mmap(self, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	ASSERT_NE(MAP_FAILED, p);
	exercise(_metadata, p, "file-backed private");
}

/*
 * Only if a transparent huge page backs the memory: otherwise this would
 * repeat the anonymous memory tests, and is skipped.
 */
TEST_F(exec, transparent_huge_page)
{
	size_t huge = 2UL << 20;
	uint8_t *raw = test_mmap(self, 2 * huge, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1);
	uint8_t *p;
	long kb;

	ASSERT_NE(MAP_FAILED, raw);
	p = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
	if (madvise(p, huge, MADV_HUGEPAGE))
		SKIP(return, "MADV_HUGEPAGE: %s", strerror(errno));
	p[0] = 1;
	/* madvise() made [p, p + huge) a mapping of its own. */
	kb = anon_huge_kb(p);
	if (kb < (long)(huge >> 10))
		SKIP(return, "no transparent huge page: AnonHugePages %ld kB", kb);
	exercise(_metadata, p + huge / 2, "THP");
}

TEST_F(exec, hugetlb)
{
	size_t huge = 2UL << 20;
	long nr = read_nr_hugepages();
	uint8_t *p;

	/*
	 * Reserve two huge pages if nobody did, for the teardown to give
	 * back; fails harmlessly if not root.
	 */
	if (nr >= 0 && nr < 2 && !set_nr_hugepages(2))
		self->nr_hugepages = nr;
	p = test_mmap(self, 2 * huge, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
	if (p == MAP_FAILED)
		SKIP(return, "no huge pages: %s", strerror(errno));
	/* An operand across the boundary between the two huge pages. */
	exercise(_metadata, p + huge - PAGE, "hugetlb");
}

/* The start of the first mapping named @name in /proc/self/maps, or 0. */
static unsigned long mapping_start(const char *name)
{
	char line[512];
	unsigned long start = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, name)) {
			start = strtoul(line, NULL, 16);
			break;
		}
	}
	fclose(f);
	return start;
}

/*
 * Device memory (here the vDSO data pages, a VM_IO | VM_PFNMAP mapping) is
 * refused by policy: EFAULT, even when the caller expects a fault, since a
 * retry could never succeed.
 */
TEST_F(exec, policy_device_memory)
{
	unsigned long vvar = mapping_start("[vvar");
	struct cpu_op op;

	if (!vvar)
		SKIP(return, "no [vvar] mapping");
	op = op_compare(1, (void *)vvar, self->mem, 8);
	EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	op.u.compare_op.expect_fault_a = 1;
	EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
}

/*
 * Writes into a shared writable mapping of a file on a filesystem with
 * writeback (ext2 on a loop device) are refused by policy; reads of it, and
 * writes into a private mapping of the same file, are fine.
 */
TEST_F(exec, policy_dirty_tracked_file)
{
	const char *img = "/tmp/cpu_opv_ext2.img";
	char dev[32], cmd[64];
	int ctl, loop, imgfd, fd, n, ret;
	uint64_t *shared, *private;
	struct cpu_op op;

	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		SKIP(return, "no loop devices");
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	ASSERT_LE(0, n);
	snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	/* The loop device keeps the image open: nothing to remove after. */
	imgfd = keep_fd(self, open(img, O_RDWR | O_CREAT | O_TRUNC, 0600));
	ASSERT_LE(0, imgfd);
	unlink(img);
	ASSERT_EQ(0, ftruncate(imgfd, 4 << 20));
	loop = open(dev, O_RDWR);
	ASSERT_LE(0, loop);
	/* The teardown only detaches what this test attached. */
	ret = ioctl(loop, LOOP_SET_FD, imgfd);
	if (ret)
		close(loop);
	else
		self->loop = loop;
	ASSERT_EQ(0, ret);
	snprintf(cmd, sizeof(cmd), "mke2fs -F %s >/dev/null 2>&1", dev);
	if (system(cmd))
		SKIP(return, "mke2fs failed or is missing");
	mkdir(MNT, 0700);
	if (mount(dev, MNT, "ext2", 0, NULL))
		SKIP(return, "cannot mount ext2: %s", strerror(errno));
	self->mounted = true;
	fd = keep_fd(self, open(MNT "/file", O_RDWR | O_CREAT, 0600));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, PAGE));
	shared = test_mmap(self, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	ASSERT_NE(MAP_FAILED, shared);
	private = test_mmap(self, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	ASSERT_NE(MAP_FAILED, private);
	shared[0] = 7;

	op = op_add(0, shared, 1, 8);
	EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	op.u.arithmetic_op.expect_fault_p = 1;
	EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	op = op_memcpy(0, shared + 1, self->mem, 8);
	EXPECT_EQ(-1, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(7, shared[0]);

	op = op_memcpy(0, self->mem, shared, 8);		/* reading is fine */
	EXPECT_EQ(0, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(0, memcmp(self->mem, shared, 8));
	op = op_add(0, private, 1, 8);			/* so is a private copy */
	EXPECT_EQ(0, sys_cpu_opv(&op, 1, cpu_now(), 0));
	EXPECT_EQ(8, private[0]);
	EXPECT_EQ(7, shared[0]);

	/* The teardown detaches the loop device and removes the mount point. */
	release(self);
	EXPECT_EQ(0, umount(MNT));
}

/*
 * Whether a vector for the current CPU pins its pages, told apart by the
 * pins the whole system makes (nr_foll_pin_acquired, folded from the per-CPU
 * deltas, which could hide up to a threshold's worth of pins), which nothing
 * else in the test guest moves. NUMA balancing, which unmaps pages now and
 * then to sample accesses (the test kernel has two NUMA nodes), is off
 * meanwhile: a vector that finds its page unmapped that way pins it, as it
 * should. A few such calls are allowed all the same.
 */
struct pin_count {
	int cpu;
	char numa[16];
};

/*
 * Pins the caller to its CPU, turns NUMA balancing off and returns 0. Or
 * returns -1 if the caller cannot be pinned, 1 if the pins cannot be
 * counted, with the reason in *why.
 */
static int pin_count_start(struct pin_count *pc, const char **why)
{
	bool folded;
	FILE *f;

	pc->cpu = cpu_now();
	pc->numa[0] = 0;
	*why = "cannot pin the caller to its CPU";
	if (pc->cpu < 0 || pin_to(pc->cpu))
		return -1;
	*why = "no nr_foll_pin_acquired in /proc/vmstat";
	if (vmstat_counter("nr_foll_pin_acquired", &folded) < 0)
		return 1;
	*why = "needs root for vm.stat_refresh";
	if (!folded)
		return 1;
	/* Read, then written from offset 0: a sysctl ignores a write past it. */
	f = fopen(NUMA_BALANCING, "r");
	if (f) {
		if (!fgets(pc->numa, sizeof(pc->numa), f))
			pc->numa[0] = 0;
		fclose(f);
	}
	if (pc->numa[0])
		write_file(NUMA_BALANCING, "0");
	return 0;
}

static void pin_count_end(struct pin_count *pc)
{
	if (pc->numa[0])
		write_file(NUMA_BALANCING, pc->numa);
}

/*
 * Calls cpu_opv() n times with ops[0..count) for pc's CPU; returns the pins
 * the calls made, and adds the failed calls to *failed.
 */
static long pins_of(struct pin_count *pc, struct cpu_op *ops, int count, int n, int *failed)
{
	long before, after;
	bool folded;
	int i;

	before = vmstat_counter("nr_foll_pin_acquired", &folded);
	for (i = 0; i < n; i++)
		*failed += !!sys_cpu_opv(ops, count, pc->cpu, 0);
	after = vmstat_counter("nr_foll_pin_acquired", &folded);
	return after - before;
}

/*
 * A short vector for the current CPU (word operands, one store, at the end)
 * runs in the caller's mm, through its page tables: it pins no page while
 * its page is mapped for the access. A vector that stores twice runs through
 * the direct map of its pages while their page table is locked, and pins
 * nothing either, while the entries of its written pages are dirty. One that
 * writes to a page whose entry is clean (MADV_FREE cleans it, and stores
 * through the direct map leave it clean) pins it at every call, until user
 * space writes to the page again.
 */
TEST_F(exec, vectors_for_this_cpu_pin_only_what_they_must)
{
	uint64_t *p = (uint64_t *)(self->mem + 2 * PAGE);
	long short_pins, locked_pins, clean_pins, redirtied_pins;
	struct pin_count pc;
	struct cpu_op ops[3];
	const char *why;
	int ret, failed = 0;

	ret = pin_count_start(&pc, &why);
	ASSERT_LE(0, ret) TH_LOG("%s", why);
	if (ret)
		SKIP(return, "%s", why);
	memset(p, 0, 4 * sizeof(*p));
	p[3] = 5;
	ops[0] = op_compare(1, &p[3], &p[3], sizeof(*p));
	ops[1] = op_add(1, &p[0], 1, sizeof(*p));
	ops[2] = op_add(0, &p[1], 2, sizeof(*p));
	/* No ASSERT until NUMA balancing is back as it was. */
	short_pins = pins_of(&pc, ops, 2, 100, &failed);
	locked_pins = pins_of(&pc, ops, 3, 100, &failed);
	failed += !!madvise(self->mem + 2 * PAGE, PAGE, MADV_FREE);
	clean_pins = pins_of(&pc, ops, 3, 100, &failed);
	p[2] = 1;
	redirtied_pins = pins_of(&pc, ops, 3, 100, &failed);
	pin_count_end(&pc);
	EXPECT_EQ(0, failed);
	/* No memory pressure in the test guest: MADV_FREE dropped nothing. */
	EXPECT_EQ(400, p[0]);
	EXPECT_EQ(600, p[1]);
	EXPECT_LE(short_pins, 10)
		TH_LOG("%ld pins for 100 short vectors", short_pins);
	EXPECT_LE(locked_pins, 10)
		TH_LOG("%ld pins for 100 vectors of two stores", locked_pins);
	EXPECT_LE(100, clean_pins)
		TH_LOG("%ld pins for 100 vectors that write a clean page", clean_pins);
	EXPECT_LE(redirtied_pins, 10)
		TH_LOG("%ld pins for 100 vectors once user space wrote the page", redirtied_pins);
}

/*
 * The vectors that run through locked page tables lock at most four: a
 * vector whose operands are in five of the ranges that one last-level page
 * table maps (a page of 8-byte entries: 2 MiB with 4 KiB pages) pins them,
 * and does what it must. Transparent huge pages are off for the range: a
 * page that a huge page maps is never found in a page table, and is always
 * pinned.
 */
TEST_F(exec, vectors_on_many_page_tables_are_pinned)
{
	const size_t range = PAGE * (PAGE / sizeof(uint64_t));
	uint64_t *w[5], val[5] = { 0 };
	long four_pins, five_pins;
	struct pin_count pc;
	struct cpu_op ops[4];
	char *map;
	const char *why;
	int i, ret, failed = 0;

	ret = pin_count_start(&pc, &why);
	ASSERT_LE(0, ret) TH_LOG("%s", why);
	if (ret)
		SKIP(return, "%s", why);
	map = test_mmap(self, 6 * range, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (map == MAP_FAILED || madvise(map, 6 * range, MADV_NOHUGEPAGE)) {
		pin_count_end(&pc);
		ASSERT_NE(MAP_FAILED, map);
		ASSERT_EQ(0, madvise(map, 6 * range, MADV_NOHUGEPAGE));
	}
	/* A word in each of five consecutive aligned ranges of the map. */
	map = (char *)(((uintptr_t)map + range - 1) & ~(range - 1));
	for (i = 0; i < 5; i++) {
		w[i] = (uint64_t *)(map + i * range);
		*w[i] = 0;
	}
	/* Four tables: three adds and a compare of a word with itself. */
	ops[0] = op_compare(1, w[3], w[3], sizeof(uint64_t));
	for (i = 0; i < 3; i++)
		ops[i + 1] = op_add(0, w[i], i + 1, sizeof(uint64_t));
	four_pins = pins_of(&pc, ops, 4, 100, &failed);
	for (i = 0; i < 3; i++)
		val[i] += 100 * (i + 1);
	/* Five: the compare's second operand in the fifth range. */
	ops[0] = op_compare(1, w[3], w[4], sizeof(uint64_t));
	five_pins = pins_of(&pc, ops, 4, 100, &failed);
	for (i = 0; i < 3; i++)
		val[i] += 100 * (i + 1);
	pin_count_end(&pc);
	EXPECT_EQ(0, failed);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(val[i], *w[i]);
	EXPECT_LE(four_pins, 10)
		TH_LOG("%ld pins for 100 vectors on four page tables", four_pins);
	EXPECT_LE(100, five_pins)
		TH_LOG("%ld pins for 100 vectors on five page tables", five_pins);
}

#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

/*
 * memfd_secret() pages are not in the kernel's direct map: cpu_opv refuses
 * them, as GUP does (EFAULT), whatever path the vector would take: in the
 * caller's mm (one store), or through locked page tables (two stores), where
 * the kernel would reach them through the direct map and oops.
 */
TEST_F(exec, memfd_secret_is_refused)
{
	struct cpu_op ops[2];
	uint64_t *p;
	int fd, cpu = cpu_now();

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	fd = keep_fd(self, syscall(__NR_memfd_secret, 0));
	if (fd < 0)
		SKIP(return, "no memfd_secret(): %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(fd, PAGE));
	p = test_mmap(self, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	ASSERT_NE(MAP_FAILED, p);
	/* Mapped and dirty: nothing but the policy can refuse it. */
	p[0] = 1;
	p[1] = 2;
	ops[0] = op_add(0, &p[0], 1, sizeof(*p));
	ops[1] = op_add(0, &p[1], 1, sizeof(*p));
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, sys_cpu_opv(ops, 1, cpu, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, p[0]);
	EXPECT_EQ(2, p[1]);
}

/*
 * A page whose entry no longer allows the access is refused, by every path,
 * even when its entry is present and was dirty: writes to a page made
 * read-only, and reads of a page made PROT_NONE (which some architectures
 * keep as a present entry that their pte_access_permitted() lets through).
 * The vectors (two stores; a compare of 16 bytes) would run through the
 * locked page table of that page, in one mapping.
 */
TEST_F(exec, protection_changes_are_seen)
{
	uint64_t *p = (uint64_t *)(self->mem + PAGE);
	struct cpu_op ops[2];
	int cpu = cpu_now();

	ASSERT_LE(0, cpu);
	ASSERT_EQ(0, pin_to(cpu));
	p[0] = 1;
	p[1] = 2;
	ops[0] = op_add(0, &p[0], 1, sizeof(*p));
	ops[1] = op_add(0, &p[1], 1, sizeof(*p));
	ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ));
	EXPECT_EQ(-1, sys_cpu_opv(ops, 2, cpu, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mprotect(p, PAGE, PROT_NONE));
	ops[0] = op_compare(1, &p[0], &p[0], 2 * sizeof(*p));
	EXPECT_EQ(-1, sys_cpu_opv(ops, 1, cpu, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(1, p[0]);
	EXPECT_EQ(2, p[1]);
	/* Writable again: both run. */
	EXPECT_EQ(0, sys_cpu_opv(ops, 1, cpu, 0));
	ops[0] = op_add(0, &p[0], 1, sizeof(*p));
	EXPECT_EQ(0, sys_cpu_opv(ops, 2, cpu, 0));
	EXPECT_EQ(2, p[0]);
	EXPECT_EQ(3, p[1]);
}

TEST_HARNESS_MAIN
