// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() system call entry.
 *
 * The system call is implemented in Rust, in kernel/cpu_opv.rs. This file
 * holds what has to be C: the SYSCALL_DEFINE4() wrapper; the build-time
 * checks that struct cpu_op keeps its ABI layout on every architecture; the
 * trace events, which kernel/cpu_opv.rs emits through the rust_do_trace_*()
 * functions that CREATE_RUST_TRACE_POINTS defines here; the per-CPU lock of
 * the vectors, a raw spinlock; and the untagging of the operands' addresses.
 */

#include <linux/build_bug.h>
#include <linux/cpu_opv.h>
#include <linux/init.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>

#define CREATE_TRACE_POINTS
#define CREATE_RUST_TRACE_POINTS
#include <trace/events/cpu_opv.h>

/*
 * struct cpu_op is ABI: 32 bytes, the union at offset 8, its two words at
 * 8 and 16, and the expect_fault byte of the first address at 24 in every
 * member, of the second at 25 (compare, memcpy). The Rust decoder (the
 * layout module of kernel/cpu_opv.rs) relies on these.
 */
static_assert(sizeof(struct cpu_op) == 32);
static_assert(offsetof(struct cpu_op, op) == 0);
static_assert(offsetof(struct cpu_op, len) == 4);
static_assert(offsetof(struct cpu_op, u) == 8);
static_assert(offsetof(struct cpu_op, u.compare_op.a) == 8);
static_assert(offsetof(struct cpu_op, u.compare_op.b) == 16);
static_assert(offsetof(struct cpu_op, u.compare_op.expect_fault_a) == 24);
static_assert(offsetof(struct cpu_op, u.compare_op.expect_fault_b) == 25);
static_assert(offsetof(struct cpu_op, u.memcpy_op.dst) == 8);
static_assert(offsetof(struct cpu_op, u.memcpy_op.src) == 16);
static_assert(offsetof(struct cpu_op, u.memcpy_op.expect_fault_dst) == 24);
static_assert(offsetof(struct cpu_op, u.memcpy_op.expect_fault_src) == 25);
static_assert(offsetof(struct cpu_op, u.arithmetic_op.p) == 8);
static_assert(offsetof(struct cpu_op, u.arithmetic_op.count) == 16);
static_assert(offsetof(struct cpu_op, u.arithmetic_op.expect_fault_p) == 24);
static_assert(CPU_OP_VEC_DATA_LEN_MAX == 4120);

/*
 * Serialises the vectors for one CPU: each runs with its target CPU's lock
 * held, whichever CPU runs it (the target, in an IPI or for its own caller;
 * the caller, for an idle target, inside the target's runqueue lock, or for
 * an offline one). Always taken with interrupts off.
 */
static DEFINE_PER_CPU(raw_spinlock_t, cpu_opv_vector_lock);

void cpu_opv_lock_vectors(unsigned int cpu)
{
	raw_spin_lock(per_cpu_ptr(&cpu_opv_vector_lock, cpu));
}

void cpu_opv_unlock_vectors(unsigned int cpu)
{
	raw_spin_unlock(per_cpu_ptr(&cpu_opv_vector_lock, cpu));
}

/*
 * The operands' addresses are looked up in the caller's mm untagged, as
 * get_user_pages() and find_vma() need them. untagged_addr() is a macro:
 * one call untags a whole vector's, rather than one call per operand. A
 * kernel thread (the KUnit tests) has no user addresses to untag, and no mm
 * whose tagging mode some architectures read (riscv).
 */
void cpu_opv_untag_addrs(u64 *addrs, unsigned int nr)
{
	unsigned int i;

	if (!current->mm)
		return;
	for (i = 0; i < nr; i++)
		addrs[i] = untagged_addr(addrs[i]);
}

/*
 * postcore: after debugfs (a core_initcall) for the debug options' files,
 * and long before user space can call cpu_opv().
 */
static int __init cpu_opv_sys_init(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		raw_spin_lock_init(per_cpu_ptr(&cpu_opv_vector_lock, cpu));
	cpu_opv_init();
	return 0;
}
postcore_initcall(cpu_opv_sys_init);

SYSCALL_DEFINE4(cpu_opv, struct cpu_op __user *, ucpuopv, int, cpuopcnt,
		int, cpu, int, flags)
{
	return cpu_opv_syscall(ucpuopv, cpuopcnt, cpu, flags);
}
