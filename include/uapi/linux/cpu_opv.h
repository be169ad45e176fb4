/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_CPU_OPV_H
#define _UAPI_LINUX_CPU_OPV_H

/*
 * linux/cpu_opv.h
 *
 * Per-CPU-atomic operation vector system call API.
 *
 * Copyright (c) 2017-2018 Mathieu Desnoyers <mathieu.desnoyers@efficios.com>
 */

#include <linux/types.h>

/* Size of the operation-specific part of struct cpu_op. */
#define CPU_OP_ARG_LEN_MAX		24
/* Maximum data length of one compare or memcpy operation, in bytes. */
#define CPU_OP_DATA_LEN_MAX		4096
/* Maximum data length of one arithmetic operation, in bytes. */
#define CPU_OP_ARITHMETIC_DATA_LEN_MAX	8
/* Maximum number of operations in a vector (CPU_OP_VEC_LEN_MAX_FLAG). */
#define CPU_OP_VEC_LEN_MAX		4
/*
 * Maximum sum of the len fields of a vector: one 4096-byte copy plus three
 * word-sized operations, 4096 + 3 * 8 = 4120 bytes. It bounds the time the
 * target CPU spends with interrupts off.
 */
#define CPU_OP_VEC_DATA_LEN_MAX		(CPU_OP_DATA_LEN_MAX + \
					 (CPU_OP_VEC_LEN_MAX - 1) * \
					 CPU_OP_ARITHMETIC_DATA_LEN_MAX)

enum cpu_op_flags {
	/* Return the number of operation types (NR_CPU_OPS). */
	CPU_OP_NR_FLAG			= (1U << 0),
	/* Return the maximum number of operations in a vector. */
	CPU_OP_VEC_LEN_MAX_FLAG		= (1U << 1),
};

enum cpu_op_type {
	/* compare */
	CPU_COMPARE_EQ_OP,
	CPU_COMPARE_NE_OP,
	/* memcpy */
	CPU_MEMCPY_OP,
	CPU_MEMCPY_RELEASE_OP,
	/* arithmetic */
	CPU_ADD_OP,
	CPU_ADD_RELEASE_OP,

	NR_CPU_OPS,
};

/*
 * One operation of a vector. 32 bytes on every architecture: the pointers
 * are carried as __u64 whatever the size of a user pointer.
 *
 * The bytes after the expect_fault fields (bytes 26 to 31 of a compare or
 * memcpy operation, 25 to 31 of an add) are not checked, since callers never
 * had to zero them: they cannot be given a meaning without a new operation
 * code or flag. Unknown operation codes and flags are EINVAL, which is what
 * lets new ones be added; CPU_OP_NR_FLAG returns the number of operation
 * codes.
 */
struct cpu_op {
	/* enum cpu_op_type. */
	__s32 op;
	/*
	 * Data length, in bytes: up to CPU_OP_DATA_LEN_MAX for a compare or
	 * memcpy; 1, 2, 4 or 8 for an add, whose word at p must be naturally
	 * aligned.
	 */
	__u32 len;
	union {
		/*
		 * expect_fault_*: 0, or 1 to get EAGAIN instead of EFAULT
		 * when the operand cannot be accessed.
		 */
		struct {
			__u64 a;
			__u64 b;
			__u8 expect_fault_a;
			__u8 expect_fault_b;
		} compare_op;
		struct {
			__u64 dst;
			__u64 src;
			__u8 expect_fault_dst;
			__u8 expect_fault_src;
		} memcpy_op;
		struct {
			__u64 p;
			__s64 count;
			__u8 expect_fault_p;
		} arithmetic_op;
		char __padding[CPU_OP_ARG_LEN_MAX];
	} u;
};

#endif /* _UAPI_LINUX_CPU_OPV_H */
