// SPDX-License-Identifier: GPL-2.0

//! Cross-CPU function calls.
//!
//! C header: [`include/linux/smp.h`](srctree/include/linux/smp.h)

use crate::{
    bindings, cpu::CpuId, error::to_result, interrupt::LocalInterruptDisabled, prelude::*,
};
use core::ffi::c_void;

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
    /// Calls the closure behind `info`.
    ///
    /// # Safety
    ///
    /// `info` points to a live `F` that nothing else accesses during the call, and interrupts
    /// are disabled on this CPU for the duration of the call.
    unsafe extern "C" fn trampoline<F: FnMut(&LocalInterruptDisabled)>(info: *mut c_void) {
        // SAFETY: `call_function_single` passes a pointer to `*f`, borrowed mutably for the
        // whole synchronous call, so it is live and not accessed by anyone else.
        let f = unsafe { &mut *info.cast::<F>() };
        // SAFETY: `smp_call_function_single()` calls this from its IPI handler, or locally
        // with interrupts disabled: they stay disabled until this function returns, which
        // outlives the token's use by `f`.
        let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
        f(irq_off);
    }

    // SAFETY: `trampoline::<F>` matches `smp_call_func_t`, and `info` points to `*f`, which is
    // borrowed mutably until this call returns; with `wait` set, the call returns only after
    // `f` has completed on `cpu` (or was never queued, when an error is returned). `F: Send`
    // makes running it on another CPU sound.
    to_result(unsafe {
        bindings::smp_call_function_single(
            cpu.into(),
            Some(trampoline::<F>),
            core::ptr::from_mut(f).cast(),
            true,
        )
    })
}
