// SPDX-License-Identifier: GPL-2.0

//! Cross-CPU function calls.
//!
//! C header: [`include/linux/smp.h`](srctree/include/linux/smp.h)

use crate::{
    bindings, cpu::CpuId, error::to_result, interrupt::LocalInterruptDisabled, prelude::*,
};
use core::ffi::c_void;

/// Calls the closure behind `info`, a C callback's argument, with the proof that interrupts are
/// off.
///
/// # Safety
///
/// `info` points to a live `F` that nothing else accesses during the call, and interrupts are
/// disabled on the current CPU until this function returns (`smp_call_function_single()` calls
/// it from its IPI handler or, for the current CPU, with interrupts disabled;
/// `sched_call_on_idle_cpu()` with interrupts disabled).
unsafe extern "C" fn call_closure<F: FnMut(&LocalInterruptDisabled)>(info: *mut c_void) {
    // SAFETY: By the function's safety requirements, `info` points to a live `F` that nothing
    // else accesses during the call.
    let f = unsafe { &mut *info.cast::<F>() };
    // SAFETY: Interrupts stay disabled until this function returns, which outlives the token's
    // use by `f`.
    let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
    f(irq_off);
}

/// Runs `f` on `cpu` and waits for it to complete.
///
/// When `cpu` is the current CPU, `f` runs here with interrupts disabled; otherwise it runs on
/// `cpu` in the inter-processor interrupt handler (hard interrupt context). Either way `f` gets a
/// [`LocalInterruptDisabled`] token, the proof that interrupts are off on the CPU it runs on, for
/// the functions that require it. It must not sleep, and it should be short: it delays
/// everything else on that CPU.
///
/// # Context
///
/// Process context, with interrupts enabled, as `smp_call_function_single()` requires (it
/// warns otherwise): a caller with interrupts disabled could deadlock against a CPU that waits
/// for it to take an IPI.
///
/// Returns `ENXIO` if `cpu` is offline. The caller decides whether that can race with CPU
/// hotplug (see `cpus_read_lock()`).
///
/// `f` is borrowed, not moved: since this function waits for `f` to return, whatever `f`
/// captures by reference outlives its use on the other CPU.
///
/// # Examples
///
/// ```
/// use kernel::{cpu::CpuId, smp};
///
/// let mut ran_on = None;
/// let this = CpuId::current();
/// smp::call_function_single(this, &mut |_irq_off| ran_on = Some(CpuId::current()))?;
/// # Ok::<(), Error>(())
/// ```
#[doc(alias = "smp_call_function_single")]
pub fn call_function_single<F: FnMut(&LocalInterruptDisabled) + Send>(
    cpu: CpuId,
    f: &mut F,
) -> Result {
    // SAFETY: `call_closure::<F>` matches `smp_call_func_t`, and `info` points to `*f`, which is
    // borrowed mutably until this call returns; with `wait` set, the call returns only after
    // `f` has completed on `cpu` (or was never queued, when an error is returned), which
    // `smp_call_function_single()` runs with interrupts disabled. `F: Send` makes running it on
    // another CPU sound.
    to_result(unsafe {
        bindings::smp_call_function_single(
            cpu.into(),
            Some(call_closure::<F>),
            core::ptr::from_mut(f).cast(),
            true,
        )
    })
}

/// Runs `f` here, on the current CPU, while `cpu` runs its idle task, without waking `cpu`.
///
/// `f` runs with interrupts disabled and `cpu`'s runqueue lock held, if `cpu` is online and
/// runs its idle task: no task runs on `cpu` until `f` returns, and the lock orders `f` after
/// the tasks that ran on `cpu` before and before those that run on it after. Interrupt
/// handlers may run on `cpu` meanwhile. `f` gets a [`LocalInterruptDisabled`] token for the
/// current CPU. It must not sleep, take a runqueue lock or a task's `pi_lock`, nor wake up a
/// task, and it should be short: every wake-up onto `cpu` waits for it.
///
/// Returns `EBUSY` if `cpu` runs a task or is the current CPU, `ENXIO` if it is offline (or not
/// a possible CPU): the caller then falls back to [`call_function_single`].
///
/// # Context
///
/// Interrupts enabled or disabled; no runqueue lock held.
///
/// # Examples
///
/// ```
/// use kernel::{cpu::CpuId, smp};
///
/// let mut ran = false;
/// match smp::call_on_idle_cpu(CpuId::current(), &mut |_irq_off| ran = true) {
///     Ok(()) => assert!(ran),
///     // This task runs on that CPU (unless it migrated since), or the CPU went offline.
///     Err(e) => assert!(!ran && (e == EBUSY || e == ENXIO)),
/// }
/// ```
#[doc(alias = "sched_call_on_idle_cpu")]
pub fn call_on_idle_cpu<F: FnMut(&LocalInterruptDisabled)>(cpu: CpuId, f: &mut F) -> Result {
    // SAFETY: `call_closure::<F>` has the type `sched_call_on_idle_cpu()` takes, and `info`
    // points to `*f`, borrowed mutably until this call returns; the function calls it on this
    // CPU with interrupts disabled, before it returns, or not at all.
    to_result(unsafe {
        bindings::sched_call_on_idle_cpu(
            cpu.into(),
            Some(call_closure::<F>),
            core::ptr::from_mut(f).cast(),
        )
    })
}
