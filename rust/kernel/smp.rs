// SPDX-License-Identifier: GPL-2.0

//! Cross-CPU function calls.
//!
//! C header: [`include/linux/smp.h`](srctree/include/linux/smp.h)

use crate::{bindings, cpu::CpuId, error::to_result, prelude::*};
use core::ffi::c_void;

/// Runs `f` on `cpu` and waits for it to complete.
///
/// When `cpu` is the current CPU, `f` runs here with interrupts disabled; otherwise it runs on
/// `cpu` in the inter-processor interrupt handler (hard interrupt context). Either way it must
/// not sleep, and it should be short: it delays everything else on that CPU.
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
/// smp::call_function_single(this, &mut || ran_on = Some(CpuId::current()))?;
/// # Ok::<(), Error>(())
/// ```
#[doc(alias = "smp_call_function_single")]
pub fn call_function_single<F: FnMut() + Send>(cpu: CpuId, f: &mut F) -> Result {
    /// Calls the closure behind `info`.
    ///
    /// # Safety
    ///
    /// `info` points to a live `F` that nothing else accesses during the call.
    unsafe extern "C" fn trampoline<F: FnMut()>(info: *mut c_void) {
        // SAFETY: `call_function_single` passes a pointer to `*f`, borrowed mutably for the
        // whole synchronous call, so it is live and not accessed by anyone else.
        let f = unsafe { &mut *info.cast::<F>() };
        f();
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
