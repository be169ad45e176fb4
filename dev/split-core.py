#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The intermediate versions of the cpu_opv core, patches 14-19 of the series.

    dev/split-core.py OUTDIR    write OUTDIR/1[4-9]-core-*/<path>

The core is one system call split into the parts a reviewer reviews
separately: 14 ABI, entry and validation; 15 the engine; 16 short vectors
in the caller's mm; 17 the fallback for an offline CPU; 18 the trace
events; 19 the debug options; and, after the tests and the documentation,
27 the vectors that run through locked page tables (on patches 24 to 26's
abstractions). The files of the repository (kernel/cpu_opv.rs,
kernel/cpu_opv_sys.c, include/linux/cpu_opv.h) are what patch 27 leaves
(only kernel/cpu_opv.rs changes there); each earlier version is
derived from the next one by taking out what its patch adds, as exact text
edits that fail loudly when the text they expect is gone: after a change to
the core, run dev/mkseries (which calls this) and fix the edit that no
longer applies. dev/mkseries takes the files written as the patches'
versions, as it takes a patch directory's at/ files: they are derived,
never kept in the repository.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The version of each file a patch leaves, by stage: A is patch 14, M 15, B 16, C 17, D 18,
# E 19.
STAGES = {
    "A": "14-core-abi",
    "M": "15-core-engine",
    "B": "16-core-in-mm",
    "C": "17-core-offline",
    "D": "18-core-trace",
    "E": "19-core-debug",
}


class F:
    """A file's text, edited by exact replacements that must match."""

    def __init__(self, text):
        self.t = text

    def rep(self, old, new="", count=1):
        n = self.t.count(old)
        if n != count:
            sys.exit(f"split-core: expected {count} of {old[:80]!r}, found {n}")
        self.t = self.t.replace(old, new)

    def cut(self, start, end, keep_end=False):
        """Removes from `start` (once in the text) to `end` (the first after it)."""
        if self.t.count(start) != 1:
            sys.exit(f"split-core: {start[:60]!r} is there {self.t.count(start)} times")
        i = self.t.index(start)
        j = self.t.find(end, i)
        if j < 0:
            sys.exit(f"split-core: {end[:60]!r} not after {start[:60]!r}")
        self.t = self.t[:i] + self.t[j if keep_end else j + len(end):]


def rs_stages(final):
    """kernel/cpu_opv.rs at patches 19 to 14, from the final one."""
    out = {}
    f = F(final)

    # Patch 19: without the vectors that run through locked page tables (27).
    f.rep("""//! B) The caller's own CPU ([`dispatch`]; also [`run_in_mm`] and [`run_locked`], which run
//! only here or as in C):""", """//! B) The caller's own CPU ([`dispatch`]; also [`run_in_mm`], which runs only here or as in
//! C):""")
    f.rep("        walk::PteTables,\n")
    f.cut("//! A longer vector for the current CPU or an idle one runs", "//! The interpreter never sleeps", keep_end=True)
    f.cut("/// Runs the vector `ops` for the current CPU or an idle one", "/// Checks that cpu_opv may access the memory", keep_end=True)
    f.rep("""[`OperandMemory`] finds it (pinned pages, locked page tables, or none): what the
//!    interpreter ([`run`]) runs, and nothing else.""", """[`OperandMemory`] finds it (pinned pages, or none): what the interpreter ([`run`]) runs,
//!    and nothing else.""")
    f.rep("""/// Where the memory of a vector's operands is found, for [`MappedVec::map`]: for pinned pages
/// ([`VecLayout::map`]), through locked page tables ([`LockedPages`]), or nowhere ([`NoMemory`]).""", """/// Where the memory of a vector's operands is found, for [`MappedVec::map`]: for pinned pages
/// ([`VecLayout::map`]) or nowhere ([`NoMemory`]).""")
    f.rep("""/// that lock. Any other vector first tries [`run_locked`], under the lock too. The operands of a
/// vector that did not run are pinned ([`execute_pinned`]).
""", """/// that lock. The operands of any other vector are pinned ([`execute_pinned`]).
""")
    f.cut("    if in_mm.is_none() && !debug::pinned_only() {\n        // Any other vector, through the page table", "        in_mm = Some(guard);\n    }\n")
    f.cut("    /// Through the kernel's direct map of the pages of the operands ([`run`]), kept mapped by the", "    /// Through the kernel's direct map of the pinned operands", keep_end=True)
    f.rep("Memory::None(vec) | Memory::Pinned(vec) | Memory::Locked(vec) => Some(run(vec)),", "Memory::None(vec) | Memory::Pinned(vec) => Some(run(vec)),")
    f.rep("Memory::InMm(_) | Memory::Locked(_) => false,", "Memory::InMm(_) => false,")
    f.rep("""/// vector did not run: [`Memory::InMm`] or [`Memory::Locked`] for a CPU that runs another task,
/// or that is offline, or a vector that [`run_in_mm`] did not run (nothing was written). Called
/// with the mmap read lock held if `memory` is not [`Memory::None`], and with `cpu` from
/// [`target_cpu`].
""", """/// vector did not run: [`Memory::InMm`] for a CPU that runs another task, or that is offline, or
/// a vector that [`run_in_mm`] did not run (nothing was written). Called with the mmap read lock
/// held if `memory` is not [`Memory::None`], and with `cpu` from [`target_cpu`].
""")
    f.rep("""            // not for a vector that must run in the caller's mm, nor one whose page tables stay
            // locked here while another CPU runs it.
""", """            // not for a vector that must run in the caller's mm.
""")
    f.rep("""    // Process context, with the mmap read lock held but for `Memory::None`, and for
    // `Memory::Locked` the page table locks (spinlocks): a trace event may be emitted there.
""", """    // Process context, with the mmap read lock held but for `Memory::None`: a trace event may
    // be emitted there.
""")
    out["E"] = f.t

    # Patch 18: without the debug options (19).
    f.rep('/// The prefix of this file\'s kernel log messages (`pr_*!`), as `module!` would define it.\nconst __LOG_PREFIX: &[u8] = b"cpu_opv\\0";\n\n')
    f.rep("""        if i > 0 {
            debug::delay_in_vector();
        }
""", "", count=2)
    f.rep("if ops.runs_in_mm() && !debug::pinned_only() {", "if ops.runs_in_mm() {")
    f.rep("\n    debug::delay_lock();\n", "\n")
    f.rep("            debug::delay_dispatch();\n", "")
    f.rep("        let stamp = irqoff::start();\n", "")
    f.rep("        irqoff::record(stamp);\n", "")
    f.rep("""        || (!debug::ipi_only()
            && smp::call_on_idle_cpu(cpu, &mut |irq_off: &LocalInterruptDisabled| {
                mode = trace::Mode::Idle;
                run_vector(irq_off, false);
            })
            .is_ok())
""", """        || smp::call_on_idle_cpu(cpu, &mut |irq_off: &LocalInterruptDisabled| {
            mode = trace::Mode::Idle;
            run_vector(irq_off, false);
        })
        .is_ok()
""")
    f.cut("// How long each vector keeps interrupts off, recorded for debugging.", "/// The system call, with its arguments in Rust types.", keep_end=True)
    out["D"] = f.t

    # Patch 17: without the trace events (18).
    f.rep("    time::{Instant, Monotonic},\n")
    f.rep("    for attempt in 1..=MAX_ATTEMPTS {\n", "    for _ in 0..MAX_ATTEMPTS {\n")
    f.rep("                trace::retry(attempt, trace::Retry::Unshare);\n")
    f.rep("                    trace::retry(attempt, trace::Retry::Remapped);\n")
    f.rep("""    // Where the vector ran, for `cpu_opv_dispatch`: on the target CPU in an IPI, or in the caller,
    // on the target CPU (local) or for it (idle; offline is told apart after the call).
    let mut mode = trace::Mode::Ipi;
    let mut hotplug = false;
    let mut irqoff_ns = 0;
""")
    f.rep("""        // The clock is read only while `cpu_opv_dispatch` is enabled.
        let traced = trace::dispatch_enabled().then(Instant::<Monotonic>::now);
""")
    f.rep("""        mode = trace::Mode::Local;
        run_vector(&irq_off, false);
""", """        run_vector(&irq_off, false);
""")
    f.rep("""            mode = trace::Mode::Idle;
            run_vector(irq_off, false);
""", """            run_vector(irq_off, false);
""")
    f.rep("""                    let interrupted = Task::current_raw() as usize != caller;
                    // The caller, on `cpu`: it moved there. Off it, `cpu` is offline (below).
                    if !interrupted && CpuId::current() == cpu {
                        mode = trace::Mode::Local;
                    }
                    run_vector(irq_off, interrupted);
""", """                    run_vector(irq_off, Task::current_raw() as usize != caller);
""")
    f.rep("""        drop(serialised);
        if let Some(start) = traced {
            irqoff_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(0);
        }
""", """        drop(serialised);
""")
    f.rep("""                let offline;
                (hotplug, offline) = call_or_run_offline(cpu, &mut handler)?;
                if offline {
                    mode = trace::Mode::Offline;
                }
                true
""", """                call_or_run_offline(cpu, &mut handler)?;
                true
""")
    f.rep("""    if !ran {
        return Ok(None);
    }
    // Process context, with the mmap read lock held but for `Memory::None`: a trace event may
    // be emitted there.
    let pinned = matches!(memory, Memory::Pinned(_));
    trace::dispatch(cpu, mode, hotplug, pinned, irqoff_ns);
    Ok(Some(ret))
""", """    if !ran {
        return Ok(None);
    }
    Ok(Some(ret))
""")
    f.rep("""/// meanwhile. Returns whether CPU hotplug had to be held off (the CPU was offline at first), and
/// whether the handler ran here (it stayed offline).
fn call_or_run_offline<F: FnMut(&LocalInterruptDisabled) + Send>(
    cpu: CpuId,
    handler: &mut F,
) -> Result<(bool, bool)> {""", """/// meanwhile.
fn call_or_run_offline<F: FnMut(&LocalInterruptDisabled) + Send>(
    cpu: CpuId,
    handler: &mut F,
) -> Result {""")
    f.rep("        other => return other.map(|()| (false, false)),\n", "        other => return other,\n")
    f.rep("        other => return other.map(|()| (true, false)),\n", "        other => return other,\n")
    f.rep("""    drop(irq_off);
    Ok((true, true))
}""", """    drop(irq_off);
    Ok(())
}""")
    f.cut("/// Trace events of the `cpu_opv` system: `include/trace/events/cpu_opv.h`.", "/// The system call, with its arguments in Rust types.", keep_end=True)
    f.rep("""    trace::enter(cpu, cpuopcnt, flags);
    let ret = match cpu_opv(UserPtr::from_ptr(ucpuopv.cast()), cpuopcnt, cpu, flags) {
        Ok(ret) => ret,
        Err(err) => err.to_errno() as c_long,
    };
    trace::exit(ret);
    ret
""", """    match cpu_opv(UserPtr::from_ptr(ucpuopv.cast()), cpuopcnt, cpu, flags) {
        Ok(ret) => ret,
        Err(err) => err.to_errno() as c_long,
    }
""")
    out["C"] = f.t

    # Patch 16: without the offline fallback (17).
    f.cut("//!\n//! F) An offline target", "\nuse core::{", keep_end=True)
    f.rep("""//!    running there meanwhile. An offline target CPU runs nothing: the vector then runs here,
//!    with CPU hotplug held off only for as long as the vector runs. Wherever it runs, a
//!    vector runs under its target CPU's [`VectorLock`], which serialises the vectors for a CPU.
""", """//!    running there meanwhile. An offline target CPU runs nothing: a vector for it is refused
//!    (`EINVAL`). Wherever it runs, a vector runs under its target CPU's [`VectorLock`], which
//!    serialises the vectors for a CPU.
""")
    f.rep("""/// it is killable), and the operands are pinned again under the lock. The CPU hotplug lock is
/// only taken, under it, when the target CPU is offline; an idle target's runqueue lock and the
/// vectors' lock ([`VectorLock`]) only around the execution of the vector, which neither faults
/// nor sleeps: nothing a caller controls can hold them for long.
""", """/// it is killable), and the operands are pinned again under the lock. An idle target's runqueue
/// lock and the vectors' lock ([`VectorLock`]) are only taken around the execution of the vector,
/// which neither faults nor sleeps: nothing a caller controls can hold them for long.
""")
    f.rep("""/// in an IPI, or here if it is offline. Returns what the interpreter returned, or `None` if the
/// vector did not run: [`Memory::InMm`] for a CPU that runs another task, or that is offline, or
""", """/// in an IPI (`EINVAL` if it is offline). Returns what the interpreter returned, or `None` if the
/// vector did not run: [`Memory::InMm`] for a CPU that runs another task, or that is offline, or
""")
    f.rep("""                    // the vector's memory: abort it. Unless it is the caller itself, which is in
                    // this system call, not in a critical section: for an offline `cpu`, or on
                    // `cpu` if the caller moved there meanwhile (the call then runs here).
""", """                    // the vector's memory: abort it. Unless it is the caller itself, which is in
                    // this system call, not in a critical section: on `cpu` if the caller moved
                    // there meanwhile (the call then runs here).
""")
    f.rep("""            // The handler would run in the task that an IPI interrupts, or for an offline CPU:
            // not for a vector that must run in the caller's mm.
            Memory::InMm(_) => false,
""", """            // The handler would run in the task that an IPI interrupts: not for a vector that
            // must run in the caller's mm.
            Memory::InMm(_) => false,
""")
    f.rep("""                call_or_run_offline(cpu, &mut handler)?;
                true
""", """                match smp::call_function_single(cpu, &mut handler) {
                    // An offline `cpu` runs nothing: refused, as a CPU the caller may not use is.
                    Err(e) if e == ENXIO => return Err(EINVAL),
                    other => other?,
                }
                true
""")
    f.cut("/// Runs `handler` on `cpu` in an IPI or, if `cpu` is offline, here, keeping it from coming online", "/// The lock that serialises the vectors for one CPU", keep_end=True)
    f.rep("""/// or for its own caller), or the caller, for an idle or an offline target. The runqueue lock
/// that keeps an idle target idle does not keep an IPI from running another caller's vector on
/// it, nor does the IPI's exclude a caller for an idle or an offline target.
""", """/// or for its own caller), or the caller, for an idle target. The runqueue lock that keeps an idle
/// target idle does not keep an IPI from running another caller's vector on it, nor does the
/// IPI's exclude a caller for an idle target.
""")
    out["B"] = f.t

    # Patch 15: without the short vectors that run in the caller's mm (16).
    f.rep("""//! B) The caller's own CPU ([`dispatch`]; also [`run_in_mm`], which runs only here or as in
//! C):""", "//! B) The caller's own CPU ([`dispatch`]):")
    f.cut("//! Most vectors are shorter than that:", "//! The interpreter never sleeps", keep_end=True)
    f.rep("""//! has been done before (or, in the caller's mm, fails before the vector has written anything).
""", """//! has been done before.
""")
    f.rep("    uaccess::{self, PagefaultDisabled, UserPtr, UserSlice},\n", "    uaccess::{UserPtr, UserSlice},\n")
    f.cut("    /// Whether the vector can run through the caller's own page tables", "        true\n    }\n")
    f.rep("""            .filter_map(Option::as_ref)
    }

}
""", """            .filter_map(Option::as_ref)
    }
}
""")
    f.cut("/// Reads the user word of `width` at `addr`", "/// Checks that cpu_opv may access the memory", keep_end=True)
    f.rep("""/// Runs the validated vector `ops` of `task`, the caller, on `cpu`.
///
/// A vector that [`OpVec::runs_in_mm`] first tries to run in the caller's mm, for the current CPU
/// or an idle one, under the mmap read lock, after the policy check ([`check_policy`]); if it
/// cannot (another CPU runs a task, an operand is not mapped for the access, or a compare stops
/// the vector before an access whose fault the call must report), its operands are pinned under
/// that lock. The operands of any other vector are pinned ([`execute_pinned`]).
""", """/// Runs the validated vector `ops` of `task`, the caller, on `cpu`, through pins of its operands'
/// pages ([`execute_pinned`]).
""")
    f.rep("    execute_pinned(task, mm, &layout, cpu, in_mm)\n", "    execute_pinned(task, mm, &layout, cpu)\n")
    f.rep("""/// operands' pages: what [`execute`] does with a vector that did not run without them. `in_mm`,
/// if any, is the mmap read lock of `mm`, taken and checked against the policy already.
""", """/// operands' pages: what [`execute`] does with a vector that accesses memory.
""")
    f.rep("""///
/// Out of line: the paths without pins stay compact.
#[inline(never)]
fn execute_pinned<'m>(""", """fn execute_pinned<'m>(""")
    f.rep("""fn execute_pinned<'m>(
    task: &CurrentTask,
    mm: &'m MmWithUser,
    layout: &VecLayout<'_>,
    cpu: CpuId,
    mut in_mm: Option<MmapReadGuard<'m>>,
) -> Result<isize> {""", """fn execute_pinned(
    task: &CurrentTask,
    mm: &MmWithUser,
    layout: &VecLayout<'_>,
    cpu: CpuId,
) -> Result<isize> {""")
    f.rep("""    let ran = dispatch(Memory::None(&mapped), cpu)?;
    Ok(ran.unwrap_or(0) as isize)
""", """    Ok(dispatch(Memory::None(&mapped), cpu)? as isize)
""")
    f.cut("    // A vector of word operands that stores once, at its end,", "        in_mm = Some(guard);\n    }\n")
    start = """            let guard = match in_mm.take() {
                // Checked against the policy already.
                Some(guard) => guard,
                None => {
"""
    end = """                    lock_checked(mm, ops)?
                }
            };
"""
    i = f.t.index(start)
    j = f.t.index(end, i)
    arm = f.t[i + len(start) : j]
    arm = "".join(line[8:] if line.strip() else line for line in arm.splitlines(True))
    f.t = f.t[:i] + arm + "            let guard = lock_checked(mm, ops)?;\n" + f.t[j + len(end) :]
    f.rep("let ret = dispatch(Memory::Pinned(&mapped), cpu)?.unwrap_or(0);",
          "let ret = dispatch(Memory::Pinned(&mapped), cpu)?;")
    f.rep("""    /// Through the caller's page tables ([`run_in_mm`]): the vector can only run on the caller's
    /// CPU, in its mm.
    InMm(&'a OpVec),
""")
    f.rep("""/// in an IPI (`EINVAL` if it is offline). Returns what the interpreter returned, or `None` if the
/// vector did not run: [`Memory::InMm`] for a CPU that runs another task, or that is offline, or
/// a vector that [`run_in_mm`] did not run (nothing was written). Called with the mmap read lock
/// held if `memory` is not [`Memory::None`], and with `cpu` from [`target_cpu`].
fn dispatch(memory: Memory<'_, '_>, cpu: CpuId) -> Result<Option<usize>> {
    let mut ret = Some(0);
""", """/// in an IPI (`EINVAL` if it is offline). Returns what the interpreter returned. Called with the
/// mmap read lock held if `memory` is not [`Memory::None`], and with `cpu` from [`target_cpu`].
fn dispatch(memory: Memory<'_, '_>, cpu: CpuId) -> Result<usize> {
    let mut ret = 0;
""")
    f.rep("""            Memory::None(vec) | Memory::Pinned(vec) => Some(run(vec)),
            // Only ever called in the caller's mm, on its CPU: see below.
            Memory::InMm(ops) => run_in_mm(ops),
""", """            Memory::None(vec) | Memory::Pinned(vec) => run(vec),
""")
    start = "    let ran = local\n"
    end = "    Ok(Some(ret))\n}\n"
    i = f.t.index(start)
    j = f.t.index(end, i) + len(end)
    f.t = f.t[:i] + """    if !local
        && smp::call_on_idle_cpu(cpu, &mut |irq_off: &LocalInterruptDisabled| {
            run_vector(irq_off, false);
        })
        .is_err()
    {
        // The caller's identity, for the handler to compare with the task it interrupts (its
        // address: a `usize` keeps the handler `Send`).
        let caller = Task::current_raw() as usize;
        let mut handler = |irq_off: &LocalInterruptDisabled| {
            // The task this interrupts on `cpu` may be in an rseq critical section on the
            // vector's memory: abort it. Unless it is the caller itself, which is in this system
            // call, not in a critical section: on `cpu` if the caller moved there meanwhile (the
            // call then runs here).
            run_vector(irq_off, Task::current_raw() as usize != caller);
        };
        match smp::call_function_single(cpu, &mut handler) {
            // An offline `cpu` runs nothing: refused, as a CPU the caller may not use is.
            Err(e) if e == ENXIO => return Err(EINVAL),
            other => other?,
        }
    }
    Ok(ret)
}
""" + f.t[j:]
    f.cut("    #[test]\n    fn vectors_that_run_in_the_callers_mm()", "    #[test]\n    fn vector_limits()", keep_end=True)
    out["M"] = f.t

    # Patch 14: without the engine (15).
    f.cut("//!\n//! # Ordering\n", "\nuse core::{", keep_end=True)
    f.rep("// An operand is on at most two pages.\nconst _: () = assert!(DATA_LEN_MAX as usize <= PAGE_SIZE);\n\n")
    i = f.t.index("//! 4. [`VecLayout`], then [`PinnedVec`]")
    j = f.t.index("//! Every argument error is reported")
    f.t = f.t[:i] + """//! 4. Execution ([`execute`]): not yet. A call that passes validation returns `ENOSYS`, as on
//!    a kernel without cpu_opv, and so do the two queries: user space sees no cpu_opv, and
//!    uses what it uses without it.
//!
""" + f.t[j:]
    f.rep("//! 1. [`Request`]: the `flags` argument, decoded. The two queries answer at once.\n",
          "//! 1. [`Request`]: the `flags` argument, decoded.\n")
    f.rep("""use core::{
    marker::PhantomData,
    mem::{offset_of, size_of, MaybeUninit},
    ptr::NonNull,
    slice,
    sync::atomic::{compiler_fence, Ordering as CompilerOrdering},
};
use kernel::{
    bindings,
    cpu::CpuId,
    current,
    interrupt::LocalInterruptDisabled,
    mm::{
        pin::{self, PinnedPages},
        virt::{flags, vm_flags_t, VmaRef},
        MmWithUser, MmapReadGuard,
    },
    page::PAGE_SIZE,
    prelude::*,
    rseq, smp,
    sync::barrier,
    task::{CurrentTask, Task},
    uaccess::{UserPtr, UserSlice},
};
""", """use core::{
    mem::{offset_of, size_of, MaybeUninit},
    slice,
};
use kernel::{
    bindings,
    cpu::CpuId,
    current,
    prelude::*,
    task::CurrentTask,
    uaccess::{UserPtr, UserSlice},
};
""")
    f.rep("""/// Number of operation types, the answer to `CPU_OP_NR_FLAG`.
const NR_OP_TYPES: u32 = bindings::cpu_op_type_NR_CPU_OPS;

""")
    f.cut("    /// The operands of the operation: (operand, length, written), in order.", "    /// The `len` of the operation, in bytes", keep_end=True)
    f.cut("    /// The operations, in order.\n    fn iter", "/// Copies `count` operations", keep_end=True)
    # the impl block of OpVec now ends after decode: put back its closing brace
    f.rep("""                Err(e)
            }
        }
    }

/// Copies `count` operations""", """                Err(e)
            }
        }
    }
}

/// Copies `count` operations""")
    f.cut("/// The pages an operand lives on: its user address range, split at the page boundary.", "/// The system call, with its arguments in Rust types.", keep_end=True)
    f.rep("/// The system call, with its arguments in Rust types.\n", """/// Runs the validated vector `ops` of the caller on `cpu`: not yet, `ENOSYS`.
fn execute(_task: &CurrentTask, _ops: &OpVec, _cpu: CpuId) -> Result<isize> {
    Err(ENOSYS)
}

/// The system call, with its arguments in Rust types.
""")
    f.rep("""        Request::QueryNrOps => return Ok(NR_OP_TYPES as isize),
        Request::QueryVecLenMax => return Ok(VEC_LEN_MAX as isize),
""", """        // Not before vectors run: see [`execute`].
        Request::QueryNrOps | Request::QueryVecLenMax => return Err(ENOSYS),
""")
    f.rep(
        """/// Returns the answer to a query, 0 when the vector ran to completion, the index + 1 of the
/// compare operation that stopped it, or a negative errno.
""",
        """/// Returns `-ENOSYS` for a valid call, as for a query (the vector does not run yet), or the
/// negative errno of an invalid one.
""",
    )
    i = f.t.index("    #[test]\n    fn segments_split_at_page_boundaries()")
    f.t = f.t[:i].rstrip() + "\n}\n"
    out["A"] = f.t
    return out


def c_stages(src):
    """kernel/cpu_opv_sys.c at patches 18, 17, 15 and 14 (16 keeps 15's), from the final one."""

    def part(start, end):
        return src[src.index(start) : src.index(end)]

    asserts = part("/*\n * struct cpu_op is ABI", "/*\n * Serialises")
    lock = part("/*\n * Serialises", "/*\n * postcore")
    entry = src[src.index("SYSCALL_DEFINE4(cpu_opv") :]
    # Without the debug options (19): the initcall only initialises the locks.
    init = """/* Long before user space can call cpu_opv(). */
static int __init cpu_opv_sys_init(void)
{
\tunsigned int cpu;

\tfor_each_possible_cpu(cpu)
\t\traw_spin_lock_init(per_cpu_ptr(&cpu_opv_vector_lock, cpu));
\treturn 0;
}
postcore_initcall(cpu_opv_sys_init);

"""
    head_a = """// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() system call entry.
 *
 * The system call is implemented in Rust, in kernel/cpu_opv.rs. This file
 * holds what has to be C: the SYSCALL_DEFINE4() wrapper and the build-time
 * checks that struct cpu_op keeps its ABI layout on every architecture.
 */

#include <linux/build_bug.h>
#include <linux/cpu_opv.h>
#include <linux/stddef.h>
#include <linux/syscalls.h>

"""
    head_b = """// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() system call entry.
 *
 * The system call is implemented in Rust, in kernel/cpu_opv.rs. This file
 * holds what has to be C: the SYSCALL_DEFINE4() wrapper, the build-time
 * checks that struct cpu_op keeps its ABI layout on every architecture, the
 * per-CPU lock of the vectors, a raw spinlock, and the untagging of the
 * operands' addresses.
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

"""
    lock_b = F(lock)
    lock_b.rep(
        """ * the caller, for an idle target, inside the target's runqueue lock, or for
 * an offline one). Always taken with interrupts off.""",
        """ * the caller, for an idle target, inside the target's runqueue lock).
 * Always taken with interrupts off.""",
    )
    return {
        "D": src[: src.index("/*\n * postcore")] + init + entry,
        "C": head_b + asserts + lock + init + entry,
        "M": head_b + asserts + lock_b.t + init + entry,
        "A": head_a + asserts + entry,
    }


def h_stages(final):
    """include/linux/cpu_opv.h at patches 15 and 14 (16 to 18 keep 15's)."""
    f = F(final)
    f.rep(
        """/*
 * The implementation of cpu_opv(), in Rust (kernel/cpu_opv.rs). Only
 * kernel/cpu_opv_sys.c calls these: the initcall and the SYSCALL_DEFINE4()
 * entry.
 */
void cpu_opv_init(void);
""",
        """/*
 * The implementation of cpu_opv(), in Rust (kernel/cpu_opv.rs). Only the
 * SYSCALL_DEFINE4() entry in kernel/cpu_opv_sys.c calls it.
 */
""",
    )
    b = f.t
    a = b[: b.index("/*\n * The lock that serialises")] + "#endif /* _LINUX_CPU_OPV_H */\n"
    # Nothing in patch 14's declarations needs u64 (cpu_opv_untag_addrs() comes with 15).
    a = a.replace("#include <linux/types.h>\n", "", 1)
    return {"M": b, "A": a}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dev/split-core.py OUTDIR")
    out = sys.argv[1]

    def read(path):
        with open(os.path.join(ROOT, path)) as f:
            return f.read()

    versions = {}
    for stage, text in rs_stages(read("kernel/cpu_opv.rs")).items():
        versions[(stage, "kernel/cpu_opv.rs")] = text
    for stage, text in c_stages(read("kernel/cpu_opv_sys.c")).items():
        versions[(stage, "kernel/cpu_opv_sys.c")] = text
    for stage, text in h_stages(read("include/linux/cpu_opv.h")).items():
        versions[(stage, "include/linux/cpu_opv.h")] = text
    for (stage, path), text in versions.items():
        dest = os.path.join(out, STAGES[stage], path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            f.write(text)

if __name__ == "__main__":
    main()
