// SPDX-License-Identifier: GPL-2.0

//! Debug-only knobs that make the races of [`execute`] and [`dispatch`] testable.
//!
//! With `CONFIG_CPU_OPV_DEBUG_DELAY`, in `/sys/kernel/debug/cpu_opv/` (all 0 at boot):
//!
//! - `lock_delay_us`: every vector waits this long before it takes the mmap read lock (after
//!   faulting its operands in, when it did: the window in which the range can be remapped
//!   before it is pinned); `lock_waiting` counts the vectors waiting there.
//! - `dispatch_delay_us`: every vector waits this long after pinning and before it is sent to its
//!   CPU, with the mmap read lock held (the window in which only the pins and locks of
//!   [`execute`] keep the operands from changing under the vector); `dispatch_waiting` counts
//!   the vectors waiting there. While it is set, no vector runs in the caller's mm: all take the
//!   pinned path, whose window this is.
//! - `vector_delay_us` (at most 1000): the vector spins this long between its operations, with
//!   interrupts off.
//! - `ipi_only_tid`: the vectors of this thread go by IPI even to an idle CPU.
//!
//! Tests widen the windows to make their races with copy-on-write, munmap, CPU hotplug or
//! another vector deterministic instead of lucky, and wait for a waiting count to become non-zero
//! instead of guessing how long a call takes to get there.
//!
//! Without the option, `kernel/cpu_opv.rs` has a `debug` module of the same functions that do
//! nothing, or answer that nothing is asked.
//!
//! [`execute`]: super::execute
//! [`dispatch`]: super::dispatch

use kernel::{
    debugfs::File,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        SetOnce,
    },
    time::{
        delay::{fsleep, udelay},
        Delta,
    },
};

/// A delay point: its knob and the count of vectors waiting in it, set once at boot by
/// [`init`].
struct Point {
    delay_us: SetOnce<Pin<KBox<File<Atomic<u32>>>>>,
    waiting: SetOnce<Pin<KBox<File<Atomic<u32>>>>>,
}

impl Point {
    const fn new() -> Self {
        Self {
            delay_us: SetOnce::new(),
            waiting: SetOnce::new(),
        }
    }

    /// Creates the files `knob` and `count`.
    fn init(&self, knob: &'static CStr, count: &'static CStr) -> Result {
        let dir = super::debugfs_dir().ok_or(ENOMEM)?;
        let file = dir.read_only_file(count, Atomic::new(0u32));
        self.waiting.populate(KBox::pin_init(file, GFP_KERNEL)?);
        let file = dir.read_write_file(knob, Atomic::new(0u32));
        self.delay_us.populate(KBox::pin_init(file, GFP_KERNEL)?);
        Ok(())
    }

    /// Sleeps for the configured delay, if any, counted as waiting meanwhile.
    fn wait(&self) {
        let us = self.delay_us.as_ref().map_or(0, |file| file.load(Relaxed));
        if us == 0 {
            return;
        }
        let waiting = self.waiting.as_ref();
        if let Some(waiting) = waiting {
            waiting.add(1, Relaxed);
        }
        fsleep(Delta::from_micros(i64::from(us)));
        if let Some(waiting) = waiting {
            waiting.fetch_sub(1, Relaxed);
        }
    }
}

/// Before the mmap read lock.
static LOCK: Point = Point::new();

/// Between pinning and dispatch.
static DISPATCH: Point = Point::new();

/// Within a vector, between its operations: interrupts are off, so this one spins.
static VECTOR: SetOnce<Pin<KBox<File<Atomic<u32>>>>> = SetOnce::new();

/// The thread (its ID; 0: none) whose vectors skip the idle path and go by IPI.
static IPI_ONLY: SetOnce<Pin<KBox<File<Atomic<u32>>>>> = SetOnce::new();

/// The longest delay within a vector, in microseconds: it keeps interrupts off.
const VECTOR_DELAY_MAX_US: u32 = 1000;

/// Creates the knobs and counts of the delay points.
pub(super) fn init() -> Result {
    LOCK.init(c"lock_delay_us", c"lock_waiting")?;
    DISPATCH.init(c"dispatch_delay_us", c"dispatch_waiting")?;
    let dir = super::debugfs_dir().ok_or(ENOMEM)?;
    let file = dir.read_write_file(c"vector_delay_us", Atomic::new(0u32));
    VECTOR.populate(KBox::pin_init(file, GFP_KERNEL)?);
    let file = dir.read_write_file(c"ipi_only_tid", Atomic::new(0u32));
    IPI_ONLY.populate(KBox::pin_init(file, GFP_KERNEL)?);
    Ok(())
}

/// Whether the current thread's vectors must go by IPI, even to an idle CPU: so that a
/// test can have a vector run on an idle CPU, in an IPI, while another thread's vector for
/// that CPU runs on the idle path.
pub(super) fn ipi_only() -> bool {
    let tid = IPI_ONLY.as_ref().map_or(0, |file| file.load(Relaxed));
    tid != 0 && i64::from(tid) == i64::from(kernel::current!().pid())
}

/// Whether vectors must take the pinned path: while the dispatch delay is set, which widens
/// a window (between pinning and dispatch) that only that path has.
pub(super) fn pinned_only() -> bool {
    DISPATCH
        .delay_us
        .as_ref()
        .is_some_and(|file| file.load(Relaxed) != 0)
}

/// Waits before the mmap read lock. Called from process context, with no lock held.
pub(super) fn delay_lock() {
    LOCK.wait();
}

/// Waits between pinning and dispatch. Called from process context.
pub(super) fn delay_dispatch() {
    DISPATCH.wait();
}

/// Spins between two operations of a vector, for the configured time (at most
/// [`VECTOR_DELAY_MAX_US`]), to widen the window in which another vector for the same CPU
/// would see half of this one, were they not serialised. Called with interrupts off.
pub(super) fn delay_in_vector() {
    let us = VECTOR.as_ref().map_or(0, |file| file.load(Relaxed));
    if us != 0 {
        udelay(Delta::from_micros(i64::from(us.min(VECTOR_DELAY_MAX_US))));
    }
}
