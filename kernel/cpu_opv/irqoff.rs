// SPDX-License-Identifier: GPL-2.0

//! How long each vector keeps interrupts off, recorded for debugging.
//!
//! With `CONFIG_CPU_OPV_DEBUG_IRQOFF`, every CPU keeps the durations of the last [`SAMPLES`]
//! vectors it ran, from the start of the handler that runs a vector (rseq abort included) to its
//! end, in nanoseconds. `/sys/kernel/debug/cpu_opv/irqoff_ns` shows them, one `<cpu> <ns>` line
//! each; writing anything to it clears them.
//!
//! A CPU writes only its own slots, with interrupts off, so the slots need no lock: the atomics
//! are relaxed and only keep concurrent readers of the file well-defined. A read or a clear while
//! vectors run may see a vector's sample without its count, or the reverse.
//!
//! Without the option, `kernel/cpu_opv.rs` has an `irqoff` module whose `start()` and
//! `record()` are empty and whose `Stamp` is zero-sized: the statistic costs nothing.

use kernel::{
    cpu::{nr_cpu_ids, CpuId},
    debugfs::{File, Reader, Writer},
    fmt,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        SetOnce,
    },
    time::{Instant, Monotonic},
    uaccess::UserSliceReader,
};

/// Number of durations each CPU keeps.
pub(super) const SAMPLES: usize = 1024;

/// The durations of all CPUs.
pub(super) struct Log {
    /// [`SAMPLES`] slots per possible CPU, in CPU order, in nanoseconds.
    ns: VVec<Atomic<u32>>,
    /// Per possible CPU, the number of vectors recorded since the last clear. The next
    /// duration goes to the slot of this number modulo [`SAMPLES`].
    count: VVec<Atomic<u32>>,
}

impl Log {
    /// An empty log for `cpus` CPUs.
    pub(super) fn new(cpus: usize) -> Result<Self> {
        let slots = cpus.checked_mul(SAMPLES).ok_or(ENOMEM)?;
        let mut ns = VVec::with_capacity(slots, GFP_KERNEL)?;
        let mut count = VVec::with_capacity(cpus, GFP_KERNEL)?;
        for _ in 0..slots {
            ns.push(Atomic::new(0), GFP_KERNEL)?;
        }
        for _ in 0..cpus {
            count.push(Atomic::new(0), GFP_KERNEL)?;
        }
        Ok(Self { ns, count })
    }

    /// Records `ns` as the duration of the vector just run by `cpu`.
    pub(super) fn record(&self, cpu: usize, ns: u32) {
        let Some(count) = self.count.get(cpu) else {
            return;
        };
        let n = count.load(Relaxed);
        if let Some(slot) = self.ns.get(cpu * SAMPLES + n as usize % SAMPLES) {
            slot.store(ns, Relaxed);
            count.store(n.wrapping_add(1), Relaxed);
        }
    }

    /// The durations `cpu` keeps, in no particular order.
    pub(super) fn samples(&self, cpu: usize) -> impl Iterator<Item = u32> + '_ {
        let kept = self
            .count
            .get(cpu)
            .map_or(0, |count| (count.load(Relaxed) as usize).min(SAMPLES));
        self.ns
            .iter()
            .skip(cpu * SAMPLES)
            .take(kept)
            .map(|slot| slot.load(Relaxed))
    }

    /// Forgets every duration.
    pub(super) fn clear(&self) {
        for count in self.count.iter() {
            count.store(0, Relaxed);
        }
    }
}

impl Writer for Log {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for cpu in 0..self.count.len() {
            for ns in self.samples(cpu) {
                writeln!(f, "{cpu} {ns}")?;
            }
        }
        Ok(())
    }
}

impl Reader for Log {
    fn read_from_slice(&self, _reader: &mut UserSliceReader) -> Result {
        self.clear();
        Ok(())
    }
}

/// The debugfs file that owns the log.
struct Debugfs {
    /// `/sys/kernel/debug/cpu_opv/irqoff_ns`.
    log: Pin<KBox<File<Log>>>,
}

/// Set once, at boot, by [`init`]; empty if that failed.
static DEBUGFS: SetOnce<Debugfs> = SetOnce::new();

/// Allocates the log and creates its debugfs file.
pub(super) fn init() -> Result {
    let log = Log::new(nr_cpu_ids() as usize)?;
    let dir = super::debugfs_dir().ok_or(ENOMEM)?;
    let log = KBox::pin_init(dir.read_write_file(c"irqoff_ns", log), GFP_KERNEL)?;
    DEBUGFS.populate(Debugfs { log });
    Ok(())
}

/// When a vector started to run.
pub(super) struct Stamp(Instant<Monotonic>);

/// Notes the start of a vector.
#[inline]
pub(super) fn start() -> Stamp {
    Stamp(Instant::now())
}

/// Records how long the vector started at `stamp` took. Called with interrupts off, on the
/// CPU that ran it.
#[inline]
pub(super) fn record(stamp: Stamp) {
    let ns = u32::try_from(stamp.0.elapsed().as_nanos()).unwrap_or(u32::MAX);
    if let Some(debugfs) = DEBUGFS.as_ref() {
        debugfs.log.record(CpuId::current().as_u32() as usize, ns);
    }
}

#[kunit_tests(cpu_opv_irqoff)]
mod tests {
    use super::{Log, SAMPLES};
    use kernel::prelude::*;

    /// The one duration `log` keeps for `cpu`, if it keeps exactly one.
    ///
    /// A loop rather than `Iterator::eq()`, whose monomorphised symbol is too long for kallsyms.
    fn single_sample(log: &Log, cpu: usize) -> Option<u32> {
        let mut samples = log.samples(cpu);
        let first = samples.next()?;
        samples.next().is_none().then_some(first)
    }

    #[test]
    fn irqoff_log_keeps_the_last_samples_per_cpu() -> Result {
        let log = Log::new(2)?;
        assert_eq!(log.samples(0).count(), 0);
        let n = SAMPLES as u32 + 10;
        for ns in 0..n {
            log.record(1, ns);
        }
        log.record(0, 7);
        assert_eq!(single_sample(&log, 0), Some(7));
        // CPU 1 keeps the last SAMPLES durations: 10 to n - 1, each once.
        assert_eq!(log.samples(1).count(), SAMPLES);
        assert_eq!(log.samples(1).min(), Some(10));
        assert_eq!(log.samples(1).max(), Some(n - 1));
        let sum: u64 = log.samples(1).map(u64::from).sum();
        assert_eq!(sum, (10..u64::from(n)).sum::<u64>());
        // A CPU the log has no room for is ignored.
        log.record(2, 1);
        assert_eq!(log.samples(2).count(), 0);
        log.clear();
        assert_eq!(log.samples(0).count() + log.samples(1).count(), 0);
        log.record(1, 3);
        assert_eq!(single_sample(&log, 1), Some(3));
        Ok(())
    }
}
