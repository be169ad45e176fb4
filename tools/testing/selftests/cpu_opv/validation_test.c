// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() argument validation: the flag queries, and every way a call can
 * be refused before the vector runs, each with the errno of the man page and
 * with the caller's memory left untouched; and that the valid neighbours of
 * each refused case are accepted.
 */

#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

#define PAGE	4096

/*
 * Two pages of source and two of destination, so that operands can cross a
 * page boundary, filled with a pattern that no refused call may change.
 */
static uint8_t *arena;
static uint8_t arena_copy[4 * PAGE];

static uint8_t *src(size_t off) { return arena + off; }
static uint8_t *dst(size_t off) { return arena + 2 * PAGE + off; }

static void arena_setup(struct __test_metadata *_metadata)
{
	size_t i;

	if (!arena) {
		arena = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, arena);
	}
	for (i = 0; i < 4 * PAGE; i++)
		arena[i] = (uint8_t)(i * 7 + 3);
	memcpy(arena_copy, arena, sizeof(arena_copy));
}

static int arena_untouched(void)
{
	return !memcmp(arena, arena_copy, sizeof(arena_copy));
}

static int self_cpu(void)
{
	return sched_getcpu();
}

/* The call is refused with @err and changes nothing. */
#define EXPECT_REFUSED(err, ops, cnt, cpu, flags) do {			\
	errno = 0;							\
	EXPECT_EQ(-1, sys_cpu_opv(ops, cnt, cpu, flags));		\
	EXPECT_EQ(err, errno);						\
	EXPECT_TRUE(arena_untouched());					\
} while (0)

/*
 * The call passes validation: the vector runs (0, or the index + 1 of the
 * compare that stopped it). What it changed becomes the new reference.
 */
#define EXPECT_ACCEPTED(ops, cnt, cpu) do {				\
	int __cnt = (cnt);						\
	int __ret = sys_cpu_opv(ops, __cnt, cpu, 0);			\
	EXPECT_LE(0, __ret) TH_LOG("errno %d", errno);			\
	EXPECT_GE(__cnt, __ret);					\
	memcpy(arena_copy, arena, sizeof(arena_copy));			\
} while (0)

FIXTURE(cpu_opv) {
	int cpu;
};

FIXTURE_SETUP(cpu_opv)
{
	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 && errno == ENOSYS)
		SKIP(return, "cpu_opv() is not implemented by this kernel");
	arena_setup(_metadata);
	self->cpu = self_cpu();
	ASSERT_LE(0, self->cpu);
}

FIXTURE_TEARDOWN(cpu_opv)
{
}

TEST_F(cpu_opv, query_nr_ops)
{
	EXPECT_EQ(NR_CPU_OPS, sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG));
	EXPECT_EQ(6, NR_CPU_OPS);
}

TEST_F(cpu_opv, query_vec_len_max)
{
	EXPECT_EQ(CPU_OP_VEC_LEN_MAX,
		  sys_cpu_opv(NULL, 0, 0, CPU_OP_VEC_LEN_MAX_FLAG));
	EXPECT_EQ(4, CPU_OP_VEC_LEN_MAX);
}

TEST_F(cpu_opv, queries_ignore_other_arguments)
{
	EXPECT_EQ(6, sys_cpu_opv((void *)-1L, -1, -1, CPU_OP_NR_FLAG));
	EXPECT_EQ(4, sys_cpu_opv((void *)-1L, INT_MAX, INT_MAX,
				 CPU_OP_VEC_LEN_MAX_FLAG));
}

TEST_F(cpu_opv, flags_invalid)
{
	static const int bad[] = {
		CPU_OP_NR_FLAG | CPU_OP_VEC_LEN_MAX_FLAG,
		1 << 2, 1 << 3, 1 << 30, INT_MIN, -1,
		CPU_OP_NR_FLAG | (1 << 2), CPU_OP_VEC_LEN_MAX_FLAG | (1 << 5),
	};
	struct cpu_op op = op_add(0, dst(0), 1, 8);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, bad[i]);
}

TEST_F(cpu_opv, cpuopcnt_bounds)
{
	static const int bad[] = { -1, INT_MIN, 5, 6, 16, INT_MAX };
	struct cpu_op ops[8];
	size_t i;
	int n;

	for (n = 0; n < 8; n++)
		ops[n] = op_add(0, dst(8 * n), 1, 8);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_REFUSED(EINVAL, ops, bad[i], self->cpu, 0);
	for (n = 0; n <= 4; n++)
		EXPECT_ACCEPTED(ops, n, self->cpu);
}

TEST_F(cpu_opv, cpu_bounds)
{
	int nr = nr_possible_cpus();
	int bad[] = { -1, -2, INT_MIN, nr, nr + 1, INT_MAX };
	struct cpu_op op = op_add(0, dst(0), 1, 8);
	cpu_set_t set;
	size_t i;
	int cpu;

	ASSERT_LT(0, nr);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_REFUSED(EINVAL, &op, 1, bad[i], 0);

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	for (cpu = 0; cpu < nr; cpu++) {
		if (CPU_ISSET(cpu, &set))
			EXPECT_ACCEPTED(&op, 1, cpu);
	}
}

TEST_F(cpu_opv, cpu_outside_affinity)
{
	struct cpu_op op = op_add(0, dst(0), 1, 8);
	cpu_set_t set;
	int other;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	if (CPU_COUNT(&set) < 2)
		SKIP(return, "needs two CPUs in the affinity mask");
	for (other = 0; !CPU_ISSET(other, &set) || other == self->cpu; other++)
		;
	/* The harness runs each test in its own process: this is local. */
	CPU_ZERO(&set);
	CPU_SET(self->cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	EXPECT_REFUSED(EINVAL, &op, 1, other, 0);
	EXPECT_ACCEPTED(&op, 1, self->cpu);
}

TEST_F(cpu_opv, vector_address)
{
	struct cpu_op *page;
	struct cpu_op op = op_add(0, dst(0), 1, 8);

	EXPECT_REFUSED(EFAULT, NULL, 1, self->cpu, 0);
#if UINTPTR_MAX > 0xffffffffU	/* a 32-bit caller cannot pass it */
	EXPECT_REFUSED(EFAULT, (void *)0xffff888000000000UL, 1, self->cpu, 0);
#endif
	EXPECT_REFUSED(EFAULT, (void *)-32L, 1, self->cpu, 0);
	/* No operation: the address is not read. */
	EXPECT_ACCEPTED(NULL, 0, self->cpu);

	/* A vector whose second op lies on an inaccessible page. */
	page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, mprotect((char *)page + PAGE, PAGE, PROT_NONE));
	page = (struct cpu_op *)((char *)page + PAGE) - 1;
	*page = op;
	EXPECT_ACCEPTED(page, 1, self->cpu);
	EXPECT_REFUSED(EFAULT, page, 2, self->cpu, 0);
	EXPECT_REFUSED(EFAULT, page + 1, 1, self->cpu, 0);

	/* A vector on an unmapped page. */
	ASSERT_EQ(0, munmap(page + 1, PAGE));
	EXPECT_REFUSED(EFAULT, page + 1, 1, self->cpu, 0);
}

TEST_F(cpu_opv, op_codes)
{
	static const int bad[] = { -1, NR_CPU_OPS, 7, 0x100, INT_MAX, INT_MIN };
	struct cpu_op op;
	size_t i;
	int code;

	for (code = 0; code < NR_CPU_OPS; code++) {
		op = op_compare(1, src(0), dst(0), 8);
		op.op = code;
		EXPECT_ACCEPTED(&op, 1, self->cpu);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		op = op_compare(1, src(0), dst(0), 8);
		op.op = bad[i];
		EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
	}
}

TEST_F(cpu_opv, compare_and_memcpy_lengths)
{
	static const uint32_t good[] = { 0, 1, 7, 8, 9, 4095, 4096 };
	static const uint32_t bad[] = { 4097, 8192, 0x10000, UINT32_MAX };
	struct cpu_op op;
	size_t i;
	int kind;

	for (kind = 0; kind < 4; kind++) {
		for (i = 0; i < ARRAY_SIZE(good); i++) {
			op = kind < 2 ? op_compare(kind, src(1), dst(3), good[i]) :
					op_memcpy(kind & 1, dst(3), src(1), good[i]);
			EXPECT_ACCEPTED(&op, 1, self->cpu);
		}
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			op = kind < 2 ? op_compare(kind, src(1), dst(3), bad[i]) :
					op_memcpy(kind & 1, dst(3), src(1), bad[i]);
			EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
		}
	}
}

TEST_F(cpu_opv, add_widths_and_alignment)
{
	static const uint32_t bad[] = { 0, 3, 5, 6, 7, 9, 16, 4096, UINT32_MAX };
	struct cpu_op op;
	uint32_t len;
	size_t i;
	int rel;

	for (rel = 0; rel < 2; rel++) {
		for (len = 1; len <= 8; len *= 2) {
			op = op_add(rel, dst(PAGE - len), -1, len);
			EXPECT_ACCEPTED(&op, 1, self->cpu);
			if (len > 1) {
				/* Misaligned, and crossing a page boundary. */
				op = op_add(rel, dst(PAGE - len / 2), 1, len);
				EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
				op = op_add(rel, dst(1), 1, len);
				EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
			}
		}
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			op = op_add(rel, dst(0), 1, bad[i]);
			EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
		}
	}
}

TEST_F(cpu_opv, vector_length_sum)
{
	struct cpu_op ops[4] = {
		op_memcpy(0, dst(100), src(100), 4096),
		op_add(0, dst(0), 1, 8),
		op_add(1, dst(8), 1, 8),
		op_compare(1, src(16), dst(16), 8),
	};

	/* 4096 + 3 * 8 = 4120 is the limit. */
	EXPECT_ACCEPTED(ops, 4, self->cpu);
	ops[3].len = 9;
	EXPECT_REFUSED(EINVAL, ops, 4, self->cpu, 0);
	/* The sum counts lengths, not operations: two ops reach it too. */
	ops[1] = op_compare(0, src(0), dst(0), 24);
	EXPECT_ACCEPTED(ops, 2, self->cpu);
	ops[1].len = 25;
	EXPECT_REFUSED(EINVAL, ops, 2, self->cpu, 0);
	/* Two big operations, each valid on its own. */
	ops[1].len = 4096;
	EXPECT_REFUSED(EINVAL, ops, 2, self->cpu, 0);
	EXPECT_ACCEPTED(&ops[1], 1, self->cpu);
}

TEST_F(cpu_opv, expect_fault_values)
{
	struct cpu_op op;
	int field;

	for (field = 0; field < 2; field++) {
		op = op_compare(1, src(0), dst(0), 8);
		op.u.compare_op.expect_fault_a = 1;
		op.u.compare_op.expect_fault_b = 1;
		EXPECT_ACCEPTED(&op, 1, self->cpu);
		if (field)
			op.u.compare_op.expect_fault_b = 2;
		else
			op.u.compare_op.expect_fault_a = 2;
		EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);

		op = op_memcpy(0, dst(0), src(0), 8);
		if (field)
			op.u.memcpy_op.expect_fault_src = 0xff;
		else
			op.u.memcpy_op.expect_fault_dst = 0x80;
		EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
	}
	op = op_add(0, dst(0), 1, 8);
	op.u.arithmetic_op.expect_fault_p = 1;
	EXPECT_ACCEPTED(&op, 1, self->cpu);
	op.u.arithmetic_op.expect_fault_p = 2;
	EXPECT_REFUSED(EINVAL, &op, 1, self->cpu, 0);
}

TEST_F(cpu_opv, union_padding_is_not_checked)
{
	/* v9 callers never had to zero the bytes an op does not use. */
	size_t pad = offsetof(struct cpu_op, u.arithmetic_op.expect_fault_p) + 1;
	struct cpu_op op = op_add(0, dst(0), 1, 8);

	memset((char *)&op + pad, 0xa5, sizeof(op) - pad);
	EXPECT_ACCEPTED(&op, 1, self->cpu);
}

TEST_F(cpu_opv, one_bad_op_refuses_the_vector)
{
	struct cpu_op ops[4];
	int bad, i;

	for (bad = 0; bad < 4; bad++) {
		for (i = 0; i < 4; i++)
			ops[i] = op_add(0, dst(8 * i), 1, 8);
		ops[bad].len = 3;
		EXPECT_REFUSED(EINVAL, ops, 4, self->cpu, 0);
	}
}

TEST(abi_layout)
{
	struct cpu_op op;

	EXPECT_EQ(32, sizeof(struct cpu_op));
	EXPECT_EQ(8, offsetof(struct cpu_op, u));
	EXPECT_EQ(16, offsetof(struct cpu_op, u.arithmetic_op.count));
	EXPECT_EQ(24, offsetof(struct cpu_op, u.memcpy_op.expect_fault_dst));
	EXPECT_EQ(25, offsetof(struct cpu_op, u.compare_op.expect_fault_b));
	EXPECT_EQ(4120, CPU_OP_VEC_DATA_LEN_MAX);
	EXPECT_EQ(4096, CPU_OP_DATA_LEN_MAX);
	(void)op;
}

TEST_HARNESS_MAIN
