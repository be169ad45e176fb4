// SPDX-License-Identifier: GPL-2.0

//! Restartable sequences.
//!
//! C header: [`include/linux/rseq.h`](srctree/include/linux/rseq.h)

use crate::{bindings, interrupt::LocalInterruptDisabled, sync::barrier};

/// Makes the task interrupted on this CPU abort its rseq critical section, if it is in one.
///
/// For inter-processor interrupt handlers that change memory the interrupted task may be
/// operating on in an rseq critical section: before that task returns to user space, the
/// kernel evaluates its critical section and, if the task was inside it, moves it to the abort
/// handler, so the critical section cannot commit on top of the change. This is what
/// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)` does in its IPI handler.
///
/// The full barrier orders the caller's earlier stores before the task resumes, and pairs with
/// the barrier after `rq->curr` is updated on context switch.
///
/// `_irq_off` proves that interrupts are disabled on this CPU, so that the interrupted task
/// stays the current task of this CPU for the duration of the call.
pub fn abort_current_critical_section(_irq_off: &LocalInterruptDisabled) {
    barrier::smp_mb(barrier::ordering::Full);
    let task = crate::task::Task::current_raw();
    // SAFETY: `task` is the current task, valid while it runs; with interrupts disabled (the
    // `_irq_off` token), it keeps running on this CPU for the duration of these calls.
    unsafe {
        if bindings::rseq_v2(task) {
            bindings::rseq_sched_switch_event(task);
        } else {
            bindings::rseq_force_update();
        }
    }
}
