/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of the cpu_opv() system call.
 *
 * The tracepoints are defined in kernel/cpu_opv_sys.c, which also makes the
 * rust_do_trace_*() functions through which kernel/cpu_opv.rs emits them
 * (CREATE_RUST_TRACE_POINTS). None is emitted with interrupts off: the
 * vector runs in an IPI handler, or locally with interrupts off, and
 * cpu_opv_dispatch reports how it ran once it is done, with how long it
 * kept the interrupts of its CPU off (measured only while the event is
 * enabled).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cpu_opv

#if !defined(_TRACE_CPU_OPV_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_CPU_OPV_H

#include <linux/tracepoint.h>
#include <linux/types.h>

#ifndef __CPU_OPV_TRACE_ENUMS_ONCE
#define __CPU_OPV_TRACE_ENUMS_ONCE
/* Where a vector ran: the mode of cpu_opv_dispatch. */
enum cpu_opv_dispatch_mode {
	/* On the calling CPU, which was the target CPU. */
	CPU_OPV_DISPATCH_LOCAL,
	/* On the target CPU, in an IPI sent by the calling CPU. */
	CPU_OPV_DISPATCH_IPI,
	/* The target CPU was offline: on the calling CPU, serialised. */
	CPU_OPV_DISPATCH_OFFLINE,
	/*
	 * The target CPU was idle: on the calling CPU, under the target's
	 * runqueue lock, without waking it (sched_call_on_idle_cpu()).
	 */
	CPU_OPV_DISPATCH_IDLE,
};

/* Why the operands of a vector are pinned again: cpu_opv_retry. */
enum cpu_opv_retry_reason {
	/* A page faulted in without the mmap lock was unmapped again under it. */
	CPU_OPV_RETRY_REMAPPED,
	/* A read operand must be pinned for writing to break copy-on-write. */
	CPU_OPV_RETRY_UNSHARE,
};
#endif /* __CPU_OPV_TRACE_ENUMS_ONCE */

TRACE_DEFINE_ENUM(CPU_OPV_DISPATCH_LOCAL);
TRACE_DEFINE_ENUM(CPU_OPV_DISPATCH_IPI);
TRACE_DEFINE_ENUM(CPU_OPV_DISPATCH_OFFLINE);
TRACE_DEFINE_ENUM(CPU_OPV_DISPATCH_IDLE);
TRACE_DEFINE_ENUM(CPU_OPV_RETRY_REMAPPED);
TRACE_DEFINE_ENUM(CPU_OPV_RETRY_UNSHARE);

#define show_cpu_opv_dispatch_mode(mode)			\
	__print_symbolic(mode,					\
		{ CPU_OPV_DISPATCH_LOCAL,	"local" },	\
		{ CPU_OPV_DISPATCH_IPI,		"ipi" },	\
		{ CPU_OPV_DISPATCH_OFFLINE,	"offline" },	\
		{ CPU_OPV_DISPATCH_IDLE,	"idle" })

#define show_cpu_opv_retry_reason(reason)			\
	__print_symbolic(reason,				\
		{ CPU_OPV_RETRY_REMAPPED,	"remapped" },	\
		{ CPU_OPV_RETRY_UNSHARE,	"unshare" })

/*
 * A call, with its arguments as passed: emitted before any of them is
 * checked, so that every call, refused or not, has an enter and an exit.
 */
TRACE_EVENT(cpu_opv_enter,
	    TP_PROTO(int cpu, int cpuopcnt, int flags),
	    TP_ARGS(cpu, cpuopcnt, flags),
	    TP_STRUCT__entry(__field(int, cpu)
			     __field(int, cpuopcnt)
			     __field(int, flags)),
	    TP_fast_assign(__entry->cpu = cpu;
			   __entry->cpuopcnt = cpuopcnt;
			   __entry->flags = flags;),
	    TP_printk("cpu=%d cpuopcnt=%d flags=0x%x",
		      __entry->cpu, __entry->cpuopcnt, __entry->flags)
);

/*
 * The end of a call: the answer to a query, 0 when the vector ran to
 * completion, the index + 1 of the compare that stopped it, or -errno.
 */
TRACE_EVENT(cpu_opv_exit,
	    TP_PROTO(long ret),
	    TP_ARGS(ret),
	    TP_STRUCT__entry(__field(long, ret)),
	    TP_fast_assign(__entry->ret = ret;),
	    TP_printk("ret=%ld", __entry->ret)
);

/*
 * Attempt @attempt (from 1) could not pin the operands under the mmap lock
 * for @reason: they are faulted in and pinned again, or the call fails with
 * EAGAIN after the last attempt.
 */
TRACE_EVENT(cpu_opv_retry,
	    TP_PROTO(unsigned int attempt, enum cpu_opv_retry_reason reason),
	    TP_ARGS(attempt, reason),
	    TP_STRUCT__entry(__field(unsigned int, attempt)
			     __field(unsigned int, reason)),
	    TP_fast_assign(__entry->attempt = attempt;
			   __entry->reason = reason;),
	    TP_printk("attempt=%u reason=%s", __entry->attempt,
		      show_cpu_opv_retry_reason(__entry->reason))
);

/*
 * A vector for target CPU @cpu ran: where (@mode), whether the CPU hotplug
 * lock had to be taken (@hotplug: the target CPU was offline when the
 * vector was first sent; it may have come online since), whether its
 * operands were pinned (@pinned; if not, it ran in the caller's mm, through
 * the caller's page tables, with page faults disabled, or it accessed no
 * memory), and for how long the CPU that ran it had its interrupts off for
 * it (@irqoff_ns: from the start of the handler to its end; 0 if the event
 * was enabled while the vector ran, since the clock is only read while the
 * event is enabled).
 */
TRACE_EVENT(cpu_opv_dispatch,
	    TP_PROTO(unsigned int cpu, enum cpu_opv_dispatch_mode mode,
		     bool hotplug, bool pinned, u64 irqoff_ns),
	    TP_ARGS(cpu, mode, hotplug, pinned, irqoff_ns),
	    TP_STRUCT__entry(__field(unsigned int, cpu)
			     __field(unsigned int, mode)
			     __field(bool, hotplug)
			     __field(bool, pinned)
			     __field(u64, irqoff_ns)),
	    TP_fast_assign(__entry->cpu = cpu;
			   __entry->mode = mode;
			   __entry->hotplug = hotplug;
			   __entry->pinned = pinned;
			   __entry->irqoff_ns = irqoff_ns;),
	    TP_printk("cpu=%u mode=%s hotplug=%d pinned=%d irqoff_ns=%llu",
		      __entry->cpu, show_cpu_opv_dispatch_mode(__entry->mode),
		      __entry->hotplug, __entry->pinned, __entry->irqoff_ns)
);

#endif /* _TRACE_CPU_OPV_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
