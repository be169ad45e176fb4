/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_CPU_OPV_H
#define _LINUX_CPU_OPV_H

#include <linux/compiler_types.h>
#include <linux/types.h>
#include <uapi/linux/cpu_opv.h>

/*
 * The implementation of cpu_opv(), in Rust (kernel/cpu_opv.rs). Only
 * kernel/cpu_opv_sys.c calls these: the initcall and the SYSCALL_DEFINE4()
 * entry.
 */
void cpu_opv_init(void);
long cpu_opv_syscall(struct cpu_op __user *ucpuopv, int cpuopcnt, int cpu,
		     int flags);

/*
 * The lock that serialises the vectors for one CPU, in kernel/cpu_opv_sys.c
 * (raw spinlocks have no Rust abstraction): kernel/cpu_opv.rs takes it with
 * interrupts off around every vector, for the vector's target CPU.
 */
void cpu_opv_lock_vectors(unsigned int cpu);
void cpu_opv_unlock_vectors(unsigned int cpu);

/*
 * untagged_addr() of each of @nr user addresses of the current task, in
 * place: kernel/cpu_opv.rs untags a vector's operands with one call.
 */
void cpu_opv_untag_addrs(u64 *addrs, unsigned int nr);

#endif /* _LINUX_CPU_OPV_H */
