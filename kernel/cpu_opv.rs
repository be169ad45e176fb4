// SPDX-License-Identifier: GPL-2.0

//! Per-CPU-atomic operation vector system call, `cpu_opv(2)`.
//!
//! C header: [`include/uapi/linux/cpu_opv.h`](srctree/include/uapi/linux/cpu_opv.h)
//!
//! `cpu_opv()` runs a short vector of operations (compare, memcpy, add) on user memory
//! atomically with respect to the threads that run on one CPU and to the other vectors for it.
//! It is the slow path that completes restartable sequences (rseq): it makes progress where an
//! rseq critical section cannot (single-stepping, a fault on every attempt), and it reaches the
//! per-CPU data of another CPU (work stealing, draining per-CPU caches, committing to a per-CPU
//! ring buffer after a migration).
//!
//! A call goes through stages, each of which is a type:
//!
//! 1. [`Request`]: the `flags` argument, decoded. The two queries answer at once.
//! 2. [`RawOp`]: one `struct cpu_op` copied from user space, not trusted yet.
//! 3. [`Op`] in an [`OpVec`]: a validated operation. Op codes, lengths, widths, alignment,
//!    `expect_fault_*` values and the vector-wide length sum have been checked, so later stages
//!    never check them again.
//! 4. [`VecLayout`], then [`PinnedVec`]: the user pages the operands live on (at most two each,
//!    see [`Segments`], at the untagged address), laid out once, then each pinned once with
//!    `FOLL_PIN` for the access it needs, unpinned on drop.
//! 5. [`MappedVec`]: the operations over their operands' memory, each operand's type saying
//!    whether it is read ([`Mem`]) or written ([`MemMut`], an add's [`Word`]), as an
//!    [`OperandMemory`] finds it (pinned pages, locked page tables, or none): what the
//!    interpreter ([`run`]) runs, and nothing else.
//! 6. Execution ([`execute`]): under the mmap read lock, every operand is checked against the
//!    memory that cpu_opv refuses ([`check_policy`]), then its pages are pinned without
//!    faulting, so that they are what the range maps while the lock is held; read operands
//!    must be on pages that no copy-on-write fault can replace ([`cow_unstable`]). A page that
//!    needs a fault is faulted in with no lock held (killably), and the operands are pinned
//!    again. A vector without memory operands takes no mmap lock. Then [`run`] interprets the
//!    vector on the target CPU, in the inter-processor interrupt handler (or here with
//!    interrupts off, for the current CPU), through the kernel's direct map of the pinned
//!    pages. The handler first makes the task it interrupted abort its rseq critical section,
//!    if it is in one, so that no rseq commit can land on top of the vector's stores (unless
//!    that task is the caller, which is in this system call). An idle target CPU is not
//!    interrupted: the vector runs here, under its runqueue lock, which keeps any task from
//!    running there meanwhile. An offline target CPU runs nothing: the vector then runs here,
//!    with CPU hotplug held off only for as long as the vector runs. Wherever it runs, a
//!    vector runs under its target CPU's [`VectorLock`], which serialises the vectors for a CPU.
//!
//! Most vectors are shorter than that: word-sized operands, a single store at the end (an add,
//! a compare and a store). Such a vector ([`OpVec::runs_in_mm`]), for the current CPU or an idle
//! one, runs in the caller's own mm instead ([`run_in_mm`]): with page faults disabled, its
//! loads and its one store go through the caller's page tables, as the caller's own would, with
//! nothing pinned and nothing to revalidate. An access that would fault comes before the store,
//! or is the store, which then does not happen: the vector has changed nothing, and takes the
//! pinned path above, under the same mmap read lock. So does a vector that a compare stops
//! before an operation that accesses memory, whose faults the call must still report.
//!
//! A longer vector for the current CPU or an idle one runs through the kernel's direct map of its
//! operands' pages while the last-level page tables that map them are locked ([`run_locked`]): the
//! locks keep them mapped as they are, so nothing is pinned, and the entries say up front whether
//! every access can be made. If one cannot, nothing has run, and the vector takes the pinned path.
//!
//! The interpreter never sleeps, allocates, takes a lock or faults: everything that can fail
//! has been done before (or, in the caller's mm, fails before the vector has written anything).
//!
//! Every argument error is reported before any user memory is touched, so a refused call
//! changes nothing in the caller's memory.
//!
//! # Ordering
//!
//! What the system call promises rests on one claim: once a vector for CPU 1 has stored to a
//! word, no rseq critical section that loaded the word before that store commits on CPU 1 after
//! it, and the vector sees every commit made on CPU 1 before it runs. The scenarios below show
//! how each way of running a vector keeps it, in the manner of `kernel/sched/membarrier.c`. `x`
//! is a per-CPU word of CPU 1; `T` is a thread of the caller's process, whose rseq critical
//! sections load `x` and commit a store to it.
//!
//! A) A busy target, in an IPI ([`dispatch`]):
//!
//! ```text
//!     CPU 0 (caller)                        CPU 1 (target), running T
//!
//!                                           T, in a critical section: r1 = x     a
//!     cpu_opv(x += 1, cpu 1):
//!       send the IPI, wait for it           IPI handler, T interrupted:
//!                                             smp_mb(); rseq event for T         b
//!                                             vector lock; x = x + 1; unlock     c
//!                                           return to user space:
//!                                             T is in the critical section,
//!                                             so it resumes at its abort_ip      d
//!       the IPI is done: return
//!                                           (T's commit, x = r1 + 1: never)
//! ```
//!
//! (b) and (c) run in one interrupt of T: T runs no instruction in between, and it goes back to
//! user space only through (d), where the event of (b) is evaluated with interrupts off, as the
//! last step before the return. A critical section that loaded `x` before (c) therefore
//! restarts and loads it again; a commit T made before the IPI came is before (c) in CPU 1's
//! program order, and the vector sees it. (b) is what membarrier's own `ipi_rseq()` does. If
//! CPU 1 runs its idle task or a kernel thread when the IPI comes, (b) does nothing: the tasks
//! it switched out get their event when they are switched in, as in B. The cross-CPU call
//! orders the caller's stores before the handler, and the handler's before the caller's return.
//!
//! B) The caller's own CPU ([`dispatch`]; also [`run_in_mm`] and [`run_locked`], which run
//! only here or as in C):
//!
//! ```text
//!     CPU 1 (caller and target)
//!
//!     T, in a critical section: r1 = x                                         a
//!     T is interrupted, then switched out                                      b
//!     the caller runs: cpu_opv(x += 1, cpu 1):
//!       interrupts off; the current CPU is 1                                   c
//!       vector lock; x = x + 1; unlock                                         d
//!       interrupts on
//!     T is switched in: rseq event for T; back in user space, it resumes at
//!       its abort_ip                                                           e
//! ```
//!
//! A task in a critical section can only have entered the kernel by an interrupt or an
//! exception, which marks it (`rseq.event.user_irq`) until it returns to user space (b).
//! `context_switch()` raises the event for the task it switches in, on this CPU or any other,
//! and (e) evaluates it before the task runs another instruction in user space. Interrupts go
//! off before the CPU is compared (c), so the caller cannot migrate, nor CPU 1 switch tasks,
//! until the vector has run (d). The caller is in a system call, so not in a critical section
//! (rseq allows no system call there).
//!
//! C) An idle target, without an IPI (`sched_call_on_idle_cpu()`):
//!
//! ```text
//!     CPU 0 (caller)                        CPU 1 (target)
//!
//!                                           T, in a critical section: r1 = x     a
//!                                           T is interrupted, switched out:
//!                                             rq->curr = idle; rq unlock         b
//!     cpu_opv(x += 1, cpu 1):
//!       rq lock of CPU 1                    c
//!       rq->curr is CPU 1's idle task:
//!         interrupts are off;
//!         vector lock; x = x + 1; unlock    d
//!       rq unlock of CPU 1                  e
//!                                           __schedule(): rq lock                f
//!                                             rq->curr = T; rseq event for T
//!                                           T, back in user space, resumes at
//!                                             its abort_ip                       g
//! ```
//!
//! Only CPU 1's own `__schedule()` changes its `rq->curr`, under the runqueue lock: from (c)
//! to (e) no task runs on CPU 1. (b) pairs with (c): what ran on CPU 1 before it went idle,
//! commits included, is visible to (d). (e) pairs with (f): (d) is visible to whatever runs on
//! CPU 1 next. T gets its event when it is switched in, at (f) or on any other CPU, and aborts
//! at (g). Interrupt handlers may run on CPU 1 meanwhile, as in D.
//!
//! D) Two vectors for one CPU ([`VectorLock`]):
//!
//! ```text
//!     CPU 0 (caller P, CPU 1 idle)          CPU 1 (idle)           CPU 2 (caller Q)
//!
//!     rq lock of CPU 1                                             CPU 1 was busy when
//!     vector lock of CPU 1                                           Q looked: IPI
//!     P's vector                            IPI handler:
//!                                             vector lock: waits
//!     vector unlock                           Q's vector
//! ```
//!
//! The runqueue lock keeps tasks off CPU 1, not its interrupts. The vector lock of CPU 1 is
//! taken by every vector for CPU 1, wherever it runs, with interrupts off: each vector sees the
//! one before it whole, and none of it is seen half done by the next.
//!
//! E) The release operations, for threads on other CPUs:
//!
//! ```text
//!     the CPU that runs a vector for CPU 1  CPU 2: a reader, in user space
//!     memcpy(s, v), add_release(head, 1)
//!
//!     s = v                                 r1 = load-acquire(head)
//!     smp_mb()                              r2 = s
//!     head = head + 1
//!
//!                     BUG_ON(r1 == the new head && r2 != v)
//! ```
//!
//! A vector is atomic with respect to CPU 1 only: a thread on another CPU can see it half done.
//! A `*_RELEASE` operation makes its store come after every access of the operations before
//! it (a full barrier, so the loads of the compares too), for readers that load it with
//! acquire semantics.
//!
//! F) An offline target ([`call_or_run_offline`]):
//!
//! ```text
//!     CPU 0 (caller)                        CPU 1 (target)
//!
//!                                           T, in a critical section: r1 = x     a
//!                                           going offline: T is pushed to
//!                                             another CPU; CPU 1 is down,
//!                                             cpus_write_unlock()                b
//!     cpu_opv(x += 1, cpu 1):
//!       IPI: -ENXIO
//!       cpus_read_lock()                    c
//!       IPI again: -ENXIO
//!       interrupts off;
//!       vector lock; x = x + 1; unlock      d
//!       cpus_read_unlock()                  e
//!                                           cpu_up(): cpus_write_lock()          f
//! ```
//!
//! An offline CPU runs nothing, and from (c) to (e) it cannot come online. (b) pairs with (c)
//! and (e) with (f), as a lock's release and acquire do. T gets its event when it is switched
//! in on its new CPU, and aborts there.

use core::{
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
        walk::PteTables,
        MmWithUser, MmapReadGuard,
    },
    page::PAGE_SIZE,
    prelude::*,
    rseq, smp,
    sync::barrier,
    task::{CurrentTask, Task},
    time::{Instant, Monotonic},
    uaccess::{self, PagefaultDisabled, UserPtr, UserSlice},
};

/// The prefix of this file's kernel log messages (`pr_*!`), as `module!` would define it.
const __LOG_PREFIX: &[u8] = b"cpu_opv\0";

/// Number of operation types, the answer to `CPU_OP_NR_FLAG`.
const NR_OP_TYPES: u32 = bindings::cpu_op_type_NR_CPU_OPS;

/// Maximum number of operations in a vector, the answer to `CPU_OP_VEC_LEN_MAX_FLAG`.
const VEC_LEN_MAX: usize = bindings::CPU_OP_VEC_LEN_MAX as usize;

/// Maximum length of one compare or memcpy operation, in bytes.
const DATA_LEN_MAX: u32 = bindings::CPU_OP_DATA_LEN_MAX;

/// Maximum length of one arithmetic operation, in bytes.
const ARITHMETIC_DATA_LEN_MAX: u32 = bindings::CPU_OP_ARITHMETIC_DATA_LEN_MAX;

/// Maximum sum of the lengths of the operations of a vector, in bytes.
///
/// One full-size copy plus word-sized operations for the rest of the vector: it bounds the work
/// done with interrupts off on the target CPU.
const VEC_DATA_LEN_MAX: u32 = DATA_LEN_MAX + (VEC_LEN_MAX as u32 - 1) * ARITHMETIC_DATA_LEN_MAX;

// The limits are stated once, in the uapi header; this is the same sum, spelled out.
const _: () = assert!(VEC_DATA_LEN_MAX == bindings::CPU_OP_VEC_DATA_LEN_MAX);
const _: () = assert!(VEC_DATA_LEN_MAX == 4120);

/// Size of one `struct cpu_op`, the unit of the vector.
const RAW_OP_SIZE: usize = size_of::<bindings::cpu_op>();

/// Byte offsets of the fields of `struct cpu_op`.
///
/// The union members share their layout: two 64-bit words, then one `expect_fault` byte per
/// address. `kernel/cpu_opv_sys.c` checks every one of these offsets against the C definition at
/// build time; the checks below tie them to the Rust bindings as well.
mod layout {
    /// `op`, a signed 32-bit operation code.
    pub(super) const OP: usize = 0;
    /// `len`, an unsigned 32-bit length in bytes.
    pub(super) const LEN: usize = 4;
    /// `u`, the operation-specific union.
    pub(super) const U: usize = 8;
    /// First word of the union: `compare_op.a`, `memcpy_op.dst` or `arithmetic_op.p`.
    pub(super) const WORD0: usize = U;
    /// Second word of the union: `compare_op.b`, `memcpy_op.src` or `arithmetic_op.count`.
    pub(super) const WORD1: usize = U + 8;
    /// `expect_fault_a`, `expect_fault_dst` or `expect_fault_p`.
    pub(super) const FAULT0: usize = U + 16;
    /// `expect_fault_b` or `expect_fault_src`.
    pub(super) const FAULT1: usize = U + 17;
}

const _: () = assert!(RAW_OP_SIZE == 32);
const _: () = assert!(offset_of!(bindings::cpu_op, op) == layout::OP);
const _: () = assert!(offset_of!(bindings::cpu_op, len) == layout::LEN);
const _: () = assert!(offset_of!(bindings::cpu_op, u) == layout::U);

/// What the caller asks for, decoded from the `flags` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// `CPU_OP_NR_FLAG`: return the number of operation types.
    QueryNrOps,
    /// `CPU_OP_VEC_LEN_MAX_FLAG`: return the maximum vector length.
    QueryVecLenMax,
    /// No flag: run the vector.
    Execute,
}

impl Request {
    /// Decodes `flags`. Unknown flags, and both queries at once, are `EINVAL`.
    fn from_flags(flags: i32) -> Result<Self> {
        const NR: i32 = bindings::cpu_op_flags_CPU_OP_NR_FLAG as i32;
        const VEC_LEN_MAX: i32 = bindings::cpu_op_flags_CPU_OP_VEC_LEN_MAX_FLAG as i32;

        match flags {
            0 => Ok(Self::Execute),
            NR => Ok(Self::QueryNrOps),
            VEC_LEN_MAX => Ok(Self::QueryVecLenMax),
            _ => Err(EINVAL),
        }
    }
}

/// One `struct cpu_op` as copied from user space, in native byte order, not validated.
#[derive(Clone, Copy)]
struct RawOp([u8; RAW_OP_SIZE]);

impl RawOp {
    /// Returns the `N` bytes at offset `OFF`; the range is checked at compile time.
    fn bytes<const OFF: usize, const N: usize>(&self) -> [u8; N] {
        const { assert!(OFF + N <= RAW_OP_SIZE) };
        let mut out = [0u8; N];
        out.copy_from_slice(&self.0[OFF..OFF + N]);
        out
    }

    /// The `op` field.
    fn op(&self) -> i32 {
        i32::from_ne_bytes(self.bytes::<{ layout::OP }, 4>())
    }

    /// The `len` field.
    fn len(&self) -> u32 {
        u32::from_ne_bytes(self.bytes::<{ layout::LEN }, 4>())
    }

    /// The first word of the union (an address).
    fn word0(&self) -> u64 {
        u64::from_ne_bytes(self.bytes::<{ layout::WORD0 }, 8>())
    }

    /// The second word of the union (an address, or the signed count of an ADD).
    fn word1(&self) -> u64 {
        u64::from_ne_bytes(self.bytes::<{ layout::WORD1 }, 8>())
    }

    /// The `expect_fault` byte of the first address, as a boolean.
    fn fault0(&self) -> Result<bool> {
        expect_fault(self.bytes::<{ layout::FAULT0 }, 1>()[0])
    }

    /// The `expect_fault` byte of the second address, as a boolean.
    fn fault1(&self) -> Result<bool> {
        expect_fault(self.bytes::<{ layout::FAULT1 }, 1>()[0])
    }
}

/// Decodes an `expect_fault_*` byte: only 0 and 1 are defined.
fn expect_fault(byte: u8) -> Result<bool> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(EINVAL),
    }
}

/// A user-space address an operation accesses, with what to report if it cannot be accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Operand {
    /// The user-space address, as passed; it is checked when its pages are pinned.
    addr: u64,
    /// Report `EAGAIN` instead of `EFAULT` when the address cannot be accessed.
    expect_fault: bool,
}

impl Operand {
    /// Whether the address is aligned to `width`, so that a word of that width there is
    /// single-copy atomic and does not straddle a page boundary.
    fn aligned(&self, width: Width) -> bool {
        // `bytes()` is a power of two.
        self.addr & (width.bytes() as u64 - 1) == 0
    }
}

/// The length of a compare or memcpy operation.
///
/// # Invariants
///
/// `self.0 <= DATA_LEN_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DataLen(u16);

impl DataLen {
    /// Validates a compare or memcpy length: `0..=CPU_OP_DATA_LEN_MAX` bytes.
    fn new(len: u32) -> Result<Self> {
        if len > DATA_LEN_MAX {
            return Err(EINVAL);
        }
        // INVARIANT: Just checked; `DATA_LEN_MAX` fits in a `u16`, so the conversion succeeds.
        u16::try_from(len).map(Self).map_err(|_| EINVAL)
    }

    /// The length in bytes.
    fn bytes(self) -> usize {
        usize::from(self.0)
    }
}

/// The width of the memory word an arithmetic operation updates.
///
/// Each discriminant is the base-2 logarithm of the width in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Width {
    /// 1 byte.
    U8 = 0,
    /// 2 bytes.
    U16 = 1,
    /// 4 bytes.
    U32 = 2,
    /// 8 bytes.
    U64 = 3,
}

impl Width {
    /// Validates an arithmetic length: 1, 2, 4 or 8 bytes.
    fn new(len: u32) -> Result<Self> {
        match len {
            1 => Ok(Self::U8),
            2 => Ok(Self::U16),
            4 => Ok(Self::U32),
            8 => Ok(Self::U64),
            _ => Err(EINVAL),
        }
    }

    /// The width in bytes.
    fn bytes(self) -> usize {
        // The discriminant is at most 3 (type definition): no overflow.
        1 << (self as u8)
    }
}

/// The outcome of a compare operation that lets the vector continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compare {
    /// `CPU_COMPARE_EQ_OP`: continue if the two ranges are equal.
    Eq,
    /// `CPU_COMPARE_NE_OP`: continue if the two ranges differ.
    Ne,
}

/// The memory ordering of the stores of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ordering {
    /// No ordering beyond program order on the target CPU.
    Relaxed,
    /// All earlier stores of the vector are visible before this operation's stores.
    Release,
}

/// A validated operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `CPU_COMPARE_EQ_OP` or `CPU_COMPARE_NE_OP`: compare `len` bytes at `a` and `b`.
    Compare {
        /// What lets the vector continue.
        kind: Compare,
        /// The first range.
        a: Operand,
        /// The second range.
        b: Operand,
        /// Bytes to compare.
        len: DataLen,
    },
    /// `CPU_MEMCPY_OP` or `CPU_MEMCPY_RELEASE_OP`: copy `len` bytes from `src` to `dst`.
    Memcpy {
        /// The destination.
        dst: Operand,
        /// The source.
        src: Operand,
        /// Bytes to copy.
        len: DataLen,
        /// Ordering of the copy against earlier stores.
        order: Ordering,
    },
    /// `CPU_ADD_OP` or `CPU_ADD_RELEASE_OP`: add `count` to the naturally aligned word at `p`.
    Add {
        /// The word to update.
        p: Operand,
        /// The signed addend, truncated to `width` (wrapping arithmetic).
        count: i64,
        /// The width of the word.
        width: Width,
        /// Ordering of the store against earlier stores.
        order: Ordering,
    },
}

impl Op {
    /// Validates one operation on its own.
    fn new(raw: &RawOp) -> Result<Self> {
        const EQ: i32 = bindings::cpu_op_type_CPU_COMPARE_EQ_OP as i32;
        const NE: i32 = bindings::cpu_op_type_CPU_COMPARE_NE_OP as i32;
        const MEMCPY: i32 = bindings::cpu_op_type_CPU_MEMCPY_OP as i32;
        const MEMCPY_RELEASE: i32 = bindings::cpu_op_type_CPU_MEMCPY_RELEASE_OP as i32;
        const ADD: i32 = bindings::cpu_op_type_CPU_ADD_OP as i32;
        const ADD_RELEASE: i32 = bindings::cpu_op_type_CPU_ADD_RELEASE_OP as i32;

        let first = || -> Result<Operand> {
            Ok(Operand {
                addr: raw.word0(),
                expect_fault: raw.fault0()?,
            })
        };
        let second = || -> Result<Operand> {
            Ok(Operand {
                addr: raw.word1(),
                expect_fault: raw.fault1()?,
            })
        };

        let op = raw.op();
        match op {
            EQ | NE => Ok(Self::Compare {
                kind: if op == EQ { Compare::Eq } else { Compare::Ne },
                a: first()?,
                b: second()?,
                len: DataLen::new(raw.len())?,
            }),
            MEMCPY | MEMCPY_RELEASE => Ok(Self::Memcpy {
                dst: first()?,
                src: second()?,
                len: DataLen::new(raw.len())?,
                order: if op == MEMCPY {
                    Ordering::Relaxed
                } else {
                    Ordering::Release
                },
            }),
            ADD | ADD_RELEASE => {
                let width = Width::new(raw.len())?;
                let p = first()?;
                // Natural alignment: the word is accessed single-copy atomically, and it never
                // straddles a page boundary.
                if !p.aligned(width) {
                    return Err(EINVAL);
                }
                Ok(Self::Add {
                    p,
                    count: i64::from_ne_bytes(raw.word1().to_ne_bytes()),
                    width,
                    order: if op == ADD {
                        Ordering::Relaxed
                    } else {
                        Ordering::Release
                    },
                })
            }
            _ => Err(EINVAL),
        }
    }

    /// The operands of the operation: (operand, length, written), in order.
    fn operands(&self) -> [Option<(Operand, usize, bool)>; 2] {
        match *self {
            Op::Compare { a, b, len, .. } => {
                [Some((a, len.bytes(), false)), Some((b, len.bytes(), false))]
            }
            Op::Memcpy { dst, src, len, .. } => [
                Some((dst, len.bytes(), true)),
                Some((src, len.bytes(), false)),
            ],
            Op::Add { p, width, .. } => [Some((p, width.bytes(), true)), None],
        }
    }

    /// The addresses of the operands of the operation, in order ([`Op::operands`]; a test checks
    /// that they agree); 0 for an add's second, which it does not have.
    fn addrs(&self) -> [u64; 2] {
        match *self {
            Op::Compare { a, b, .. } => [a.addr, b.addr],
            Op::Memcpy { dst, src, .. } => [dst.addr, src.addr],
            Op::Add { p, .. } => [p.addr, 0],
        }
    }

    /// The `len` of the operation, in bytes, as counted against [`VEC_DATA_LEN_MAX`].
    fn len(&self) -> usize {
        match self {
            Self::Compare { len, .. } | Self::Memcpy { len, .. } => len.bytes(),
            Self::Add { width, .. } => width.bytes(),
        }
    }
}

/// A validated vector of at most [`VEC_LEN_MAX`] operations.
///
/// # Invariants
///
/// The first `self.len` entries of `self.ops` are `Some`, the others `None`, and the sum of the
/// operation lengths is at most [`VEC_DATA_LEN_MAX`].
#[derive(Debug, PartialEq, Eq)]
struct OpVec {
    /// The operations, in order.
    ops: [Option<Op>; VEC_LEN_MAX],
    /// How many operations the vector holds.
    len: usize,
}

impl OpVec {
    /// No operation: what [`OpVec::decode`] fills in.
    fn empty() -> Self {
        Self {
            // Slot by slot: as one constant, the compiler copies the whole array in.
            ops: core::array::from_fn(|_| None),
            len: 0,
        }
    }

    /// Validates every operation of `raw` and the vector as a whole.
    #[cfg(CONFIG_KUNIT = "y")]
    fn new(raw: &[RawOp]) -> Result<Self> {
        let mut ops = Self::empty();
        ops.decode(raw.iter().copied())?;
        Ok(ops)
    }

    /// Validates every operation of `raw` and the vector as a whole, into `self`, which must be
    /// empty: in place, since the vector is too large to be moved around for free. On error,
    /// `self` stays empty.
    fn decode(&mut self, raw: impl ExactSizeIterator<Item = RawOp>) -> Result {
        let len = raw.len();
        if len > VEC_LEN_MAX {
            return Err(EINVAL);
        }
        let sum = self
            .ops
            .iter_mut()
            .zip(raw)
            .try_fold(0usize, |sum, (slot, raw)| {
                let op = Op::new(&raw)?;
                *slot = Some(op);
                // Cannot overflow: at most `VEC_LEN_MAX` lengths of at most `DATA_LEN_MAX` each.
                Ok(sum + op.len())
            });
        match sum {
            Ok(sum) if sum <= VEC_DATA_LEN_MAX as usize => {
                // INVARIANT: `len` leading slots were filled, and the sum was just checked.
                self.len = len;
                Ok(())
            }
            Ok(_) => {
                *self = Self::empty();
                Err(EINVAL)
            }
            Err(e) => {
                *self = Self::empty();
                Err(e)
            }
        }
    }

    /// The operations, in order.
    fn iter(&self) -> impl Iterator<Item = &Op> {
        // `filter_map()` rather than `flatten()`, whose state costs more on every step: the
        // first `self.len` are all `Some` (type invariants).
        self.ops
            .get(..self.len)
            .unwrap_or(&[])
            .iter()
            .filter_map(Option::as_ref)
    }

    /// Whether the vector can run through the caller's own page tables ([`run_in_mm`]): every
    /// operand it accesses is a naturally aligned word, and at most one operation writes, the
    /// last one that accesses memory.
    ///
    /// Such a vector accesses memory with single loads and stores, and stores once, at its
    /// end: an access that faults (page faults are disabled) comes before the store or is the
    /// store, which then does not happen, so a vector that faults has changed nothing.
    fn runs_in_mm(&self) -> bool {
        let mut stored = false;
        for op in self.iter().filter(|op| op.len() > 0) {
            if stored {
                return false;
            }
            match *op {
                Op::Compare { a, b, len, .. } => match word_width(len.bytes()) {
                    Some(width) if a.aligned(width) && b.aligned(width) => {}
                    _ => return false,
                },
                Op::Memcpy { dst, src, len, .. } => match word_width(len.bytes()) {
                    Some(width) if dst.aligned(width) && src.aligned(width) => stored = true,
                    _ => return false,
                },
                // Validation made them naturally aligned words.
                Op::Add { .. } => stored = true,
            }
        }
        true
    }
}

/// Copies `count` operations in from user space at `uptr` and validates them into `ops`, which
/// must be empty.
///
/// `EFAULT` if the vector cannot be read, `EINVAL` if it is not valid.
fn copy_in(uptr: UserPtr, count: usize, ops: &mut OpVec) -> Result {
    // Not zeroed: only the bytes that the user copy fills in are read.
    let mut buf = [MaybeUninit::<u8>::uninit(); VEC_LEN_MAX * RAW_OP_SIZE];
    let bytes = buf
        .get_mut(..count.saturating_mul(RAW_OP_SIZE))
        .ok_or(EINVAL)?;
    // One user copy for the whole vector.
    UserSlice::new(uptr, bytes.len()).reader().read_raw(bytes)?;
    // SAFETY: `read_raw()` succeeded: it initialised all of `bytes`, which is `count` times
    // `RAW_OP_SIZE` bytes long, the size of `count` arrays of `RAW_OP_SIZE` bytes, whose alignment
    // is 1. Nothing writes to `bytes` while `raw` lives.
    let raw = unsafe { slice::from_raw_parts(bytes.as_ptr().cast::<[u8; RAW_OP_SIZE]>(), count) };
    ops.decode(raw.iter().map(|bytes| RawOp(*bytes)))
}

/// Validates the target CPU: in `0..nr_cpu_ids` and in the affinity mask of `task`, the caller.
fn target_cpu(task: &CurrentTask, cpu: i32) -> Result<CpuId> {
    let cpu = CpuId::from_i32(cpu).ok_or(EINVAL)?;
    if !task.cpus_allowed().test(cpu) {
        return Err(EINVAL);
    }
    Ok(cpu)
}

// An operand is on at most two pages.
const _: () = assert!(DATA_LEN_MAX as usize <= PAGE_SIZE);

/// The pages an operand lives on: its user address range, split at the page boundary.
///
/// # Invariants
///
/// `0 < self.len <= DATA_LEN_MAX <= PAGE_SIZE`, `self.page` is page-aligned,
/// `self.offset < PAGE_SIZE`, so the range `page + offset .. page + offset + len` lies on at most
/// two pages, and `page + offset + len` does not overflow: the range does not wrap around the
/// address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segments {
    /// User address of the first page.
    page: usize,
    /// Offset of the operand in the first page.
    offset: usize,
    /// Length of the operand, in bytes.
    len: usize,
}

impl Segments {
    /// Splits the operand at `addr` of `len` bytes: its untagged address ([`untag_addrs`]),
    /// which the policy check and pinning both look up, whatever tag user space put in its upper
    /// bits (x86 LAM, arm64 TBI). `None` for an empty operand, which touches no memory; `EFAULT`
    /// for a range that wraps around the address space.
    fn new(addr: u64, len: usize) -> Result<Option<Self>> {
        if len == 0 {
            return Ok(None);
        }
        if len > DATA_LEN_MAX as usize {
            return Err(EINVAL);
        }
        let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
        addr.checked_add(len).ok_or(EFAULT)?;
        // INVARIANT: `len` and the end of the range were just checked, and the page and offset
        // split `addr`.
        Ok(Some(Self {
            page: addr & !(PAGE_SIZE - 1),
            offset: addr & (PAGE_SIZE - 1),
            len,
        }))
    }

    /// Where the operand is on its pages ([`Split`]).
    fn split(&self) -> Split {
        let head = self.len.min(PAGE_SIZE - self.offset);
        // INVARIANT: `head` is at least 1 (`offset < PAGE_SIZE`, `len > 0`) and ends the operand
        // or its first page: a rest is left only if the head ends the page. The rest is shorter
        // than the operand, and so than a page (`len <= PAGE_SIZE`, type invariants). The casts
        // are lossless: each value is at most `PAGE_SIZE`, which fits in a `u32` (asserted
        // below).
        Split {
            offset: self.offset as u32,
            head: head as u32,
            rest: (self.len - head) as u32,
        }
    }
}

// `Split` holds offsets and lengths in a page in `u32`s.
const _: () = assert!(PAGE_SIZE <= u32::MAX as usize);

/// Where an operand is on its pages ([`Segments::split`]): its offset in the first page, its length
/// there, and its length on the next page, from the page's start (0 if the operand is all on the
/// first). Small, so that a [`VecLayout`] is cheap to make and to map.
///
/// # Invariants
///
/// `0 < self.head`, `self.offset + self.head <= PAGE_SIZE` and `self.rest < PAGE_SIZE`: the first
/// piece ends inside the first page, the rest inside the next one; `self.rest > 0` only if
/// `self.offset + self.head == PAGE_SIZE`, so that the two pieces make the operand, `self.head +
/// self.rest` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Split {
    /// Offset of the operand in its first page.
    offset: u32,
    /// Its length on its first page.
    head: u32,
    /// Its length on the next page, from the page's start.
    rest: u32,
}

impl Split {
    /// Whether the operand goes on to the next page.
    fn goes_on(&self) -> bool {
        self.rest > 0
    }

    /// The operand's pieces, `(address, length)`, and how many there are (1 or 2), when its first
    /// page is at `first` and the next one (if it goes on) at `next`: the first piece at its
    /// offset in `first`, the rest at the start of `next`. `None` if the operand goes on to a
    /// next page and `next` is `None`; `next` is not used otherwise. The first piece ends inside
    /// the page at `first`, and the second, shorter than a page, inside the page at `next` (type
    /// invariants). Unused pieces are empty.
    fn pieces(&self, first: NonNull<u8>, next: Option<NonNull<u8>>) -> Option<Pieces> {
        // `offset < PAGE_SIZE` (type invariants): the pointer stays inside the page.
        let head = (
            first.as_ptr().wrapping_add(self.offset as usize),
            self.head as usize,
        );
        if !self.goes_on() {
            return Some(([head, (first.as_ptr(), 0)], 1));
        }
        Some(([head, (next?.as_ptr(), self.rest as usize)], 2))
    }
}

/// The addresses of the operands of `ops`, untagged (`untagged_addr()`) for the current task, as
/// [`Segments::new`] takes them: `addrs[2 * i + j]` is the address of operand `j` of operation
/// `i` (0 for none). One C call for the whole vector.
fn untag_addrs(ops: &OpVec) -> [u64; 2 * VEC_LEN_MAX] {
    let mut addrs = [0; 2 * VEC_LEN_MAX];
    for (op, pair) in ops.iter().zip(addrs.chunks_exact_mut(2)) {
        for (addr, op_addr) in pair.iter_mut().zip(op.addrs()) {
            *addr = op_addr;
        }
    }
    // SAFETY: `addrs` is valid for reads and writes of its `2 * VEC_LEN_MAX` words.
    unsafe { bindings::cpu_opv_untag_addrs(addrs.as_mut_ptr(), addrs.len() as u32) };
    addrs
}

/// The address `addr` untagged, as [`untag_addrs`] untags a vector's.
fn untagged_addr(addr: u64) -> u64 {
    let mut addrs = [addr];
    // SAFETY: `addrs` is valid for reads and writes of its one word.
    unsafe { bindings::cpu_opv_untag_addrs(addrs.as_mut_ptr(), 1) };
    addrs[0]
}

/// One page of an operand, pinned for the access it needs, unpinned on drop.
enum PinnedPage {
    /// A page of a read operand, pinned for reading.
    Read(PinnedPages<1, pin::Read>),
    /// A page of a written operand, or of a read operand pinned for writing to break
    /// copy-on-write (see [`cow_unstable`]).
    Write(PinnedPages<1, pin::Write>),
}

/// How [`PinnedVec::pin`] pins pages.
#[derive(Clone, Copy)]
enum Pinning<'a> {
    /// Faulting them in as needed, with no lock held: this may sleep, for as long as user space
    /// wants. [`PinnedPages::pin_fast`].
    FaultIn,
    /// Only if they are mapped for the access and need no fault, under the mmap read lock.
    /// [`PinnedPages::pin_mapped`].
    Mapped(&'a MmapReadGuard<'a>),
}

/// Pins the page at the page-aligned user address `addr` for the access `A`, as `how` says.
fn pin_page<A: pin::Access>(addr: usize, how: Pinning<'_>) -> Result<PinnedPages<1, A>> {
    match how {
        Pinning::FaultIn => PinnedPages::pin_fast(addr, 1),
        Pinning::Mapped(guard) => PinnedPages::pin_mapped(guard, addr, 1),
    }
}

impl PinnedPage {
    /// Pins the page at the page-aligned user address `addr`, for writing if `write`, as `how`
    /// says.
    fn pin(addr: usize, write: bool, how: Pinning<'_>) -> Result<Self> {
        Ok(if write {
            Self::Write(pin_page(addr, how)?)
        } else {
            Self::Read(pin_page(addr, how)?)
        })
    }

    /// Whether the page was pinned for writing.
    fn is_write(&self) -> bool {
        matches!(self, Self::Write(_))
    }

    /// Its user address.
    fn addr(&self) -> usize {
        match self {
            Self::Read(p) => p.addr(),
            Self::Write(p) => p.addr(),
        }
    }

    /// Whether it is an anonymous page exclusive to this process.
    fn anon_exclusive(&self) -> bool {
        match self {
            Self::Read(p) => p.all_anon_exclusive(),
            Self::Write(p) => p.all_anon_exclusive(),
        }
    }

    /// Whether it is a `ZONE_DEVICE` page.
    fn zone_device(&self) -> bool {
        match self {
            Self::Read(p) => p.any_zone_device(),
            Self::Write(p) => p.any_zone_device(),
        }
    }

    /// Its address in the kernel's direct map.
    fn direct_map(&self) -> Option<NonNull<u8>> {
        match self {
            Self::Read(p) => p.direct_map(0),
            Self::Write(p) => p.direct_map(0),
        }
    }
}

/// The most pages a vector's operands can be on: two per operand.
const PAGES_MAX: usize = 2 * 2 * VEC_LEN_MAX;

/// A page the operands of a vector are on.
#[derive(Clone, Copy)]
struct VecPage {
    /// Its user address, page-aligned.
    addr: usize,
    /// Whether an operand on it is written: the page is then accessed for writing.
    write: bool,
}

/// The distinct pages of a vector's operands, in the order the operands first use them.
///
/// # Invariants
///
/// `self.nr <= PAGES_MAX`, and the addresses of the first `self.nr` pages are distinct.
struct VecPages {
    /// The pages, of which the first `nr` are in use.
    pages: [VecPage; PAGES_MAX],
    /// How many pages are in use.
    nr: usize,
}

impl VecPages {
    /// No page.
    const fn new() -> Self {
        // INVARIANT: No page is in use.
        Self {
            pages: [VecPage {
                addr: 0,
                write: false,
            }; PAGES_MAX],
            nr: 0,
        }
    }

    /// The pages in use.
    fn as_slice(&self) -> &[VecPage] {
        self.pages.get(..self.nr).unwrap_or(&[])
    }

    /// The index of the page at `addr` (page-aligned), added if it is new, and marked written if
    /// `write`. `None` if it is new and there is no room, which two pages per operand at most
    /// always leave.
    fn index_or_add(&mut self, addr: usize, write: bool) -> Option<u8> {
        // From the last page added: the operands of a vector are often on the pages of the ones
        // just before them. The addresses in use are distinct (type invariants): the order of
        // the search does not change the index found.
        let in_use = self.pages.get_mut(..self.nr).unwrap_or(&mut []);
        for (i, page) in in_use.iter_mut().enumerate().rev() {
            if page.addr == addr {
                page.write |= write;
                return u8::try_from(i).ok();
            }
        }
        let nr = self.nr;
        let index = u8::try_from(nr).ok()?;
        *self.pages.get_mut(nr)? = VecPage { addr, write };
        // INVARIANT: `addr` is none of the addresses in use, and there was room for it.
        self.nr = nr + 1;
        Some(index)
    }

    /// Lays out an operand of `len` bytes at `addr`, its untagged address ([`untag_addrs`]),
    /// written if `write`, on its pages, which are added if they are new and marked written if
    /// `write`: the slot's page indices are those of pages in use, the first that of the page the
    /// operand starts on, the second that of the next page if the operand goes on, else the first
    /// again. `align` is the alignment the operand must have, a power of two that divides
    /// `PAGE_SIZE`: the width of the word of an add, else 1. An operand that is not so aligned, or
    /// whose range wraps around the address space, is `Slot::Invalid` with the operand's fault,
    /// `EAGAIN` if `expect_fault`, else `EFAULT`.
    // Inline: the five calls in `VecLayout::lay_out()` pass constants for `write`, and for `align`
    // but an add's (its width).
    #[inline]
    fn slot(
        &mut self,
        addr: u64,
        len: usize,
        align: usize,
        write: bool,
        expect_fault: bool,
    ) -> Slot {
        let fault = if expect_fault { EAGAIN } else { EFAULT };
        let seg = match Segments::new(addr, len) {
            Ok(Some(seg)) => seg,
            Ok(None) => return Slot::Empty,
            Err(_) => return Slot::Invalid(fault),
        };
        // `align` divides `PAGE_SIZE`: the offset in the page is aligned as the address is. For the
        // word of an add this never fails (`Op::new()` checked the tagged address, and untagging
        // only clears or extends high bits), but `VecLayout::map()`'s safety relies on it, so it
        // is checked on the untagged address.
        debug_assert!(align.is_power_of_two() && PAGE_SIZE % align == 0);
        if seg.offset & align.wrapping_sub(1) != 0 {
            return Slot::Invalid(fault);
        }
        // Neither `None` can happen: there is room for two pages per operand, and the range of
        // a `Segments` does not wrap around the address space, so neither does its second page.
        // Were it otherwise, the operand could not be accessed: its fault.
        let Some(first) = self.index_or_add(seg.page, write) else {
            return Slot::Invalid(fault);
        };
        let split = seg.split();
        let mut pages = [first, first];
        if split.goes_on() {
            let second = seg.page.checked_add(PAGE_SIZE);
            let Some(second) = second.and_then(|next| self.index_or_add(next, write)) else {
                return Slot::Invalid(fault);
            };
            pages[1] = second;
        }
        Slot::At {
            split,
            pages,
            write,
            fault,
        }
    }
}

// A page index fits in the `u8`s of a `Slot`.
const _: () = assert!(PAGES_MAX <= u8::MAX as usize);

/// Where an operand is, as [`VecLayout::lay_out`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// No operand (an operation with one), or an empty one: nothing to pin.
    Empty,
    /// An operand whose range is not valid (it wraps around the address space, or, never, the
    /// word of an add is not aligned): its fault, reported when its turn comes.
    Invalid(Error),
    /// An operand on one page or two ([`Split::goes_on`]), whose indices in [`VecLayout::pages`]
    /// are the first one or two of `pages`, in order.
    At {
        split: Split,
        pages: [u8; 2],
        write: bool,
        fault: Error,
    },
}

impl Slot {
    /// The indices in [`VecLayout::pages`] of the pages the operand is on, in order; none for no
    /// operand, an empty one or one whose range is not valid.
    fn page_indices(&self) -> impl Iterator<Item = usize> {
        let (pages, n) = match *self {
            Self::At { split, pages, .. } => (pages, if split.goes_on() { 2 } else { 1 }),
            Self::Empty | Self::Invalid(_) => ([0; 2], 0),
        };
        pages.into_iter().take(n).map(usize::from)
    }
}

/// The operands of a vector, laid out on their pages.
///
/// Operands often share a page (the fields of one structure, a counter and its neighbour): each
/// page is pinned once ([`PinnedVec`]), for writing if any operand on it is written, and each
/// operand refers to its pages by index. The layout only depends on the vector: it is made once
/// per call.
///
/// # Invariants
///
/// The slots are those of the operands of `self.ops`, two per operation. A [`Slot::At`] has two
/// page indices, both below `self.pages.nr`: the first is that of the page the operand starts on,
/// the second that of the next page if its `split` goes on ([`Split::goes_on`]), else the first
/// again; its `split` is [`Segments::split`] of the operand's untagged address and length. Its
/// pages are written if it is written. The slot of the word of an add is on one page, at an offset
/// aligned to the word's width, and does not go on ([`VecPages::slot`] checks the alignment on the
/// untagged address).
struct VecLayout<'o> {
    /// The vector.
    ops: &'o OpVec,
    /// The pages, in the order the operands first use them.
    pages: VecPages,
    /// `slots[2 * i]` and `slots[2 * i + 1]` are the operands of operation `i`.
    slots: [Slot; 2 * VEC_LEN_MAX],
}

impl<'o> VecLayout<'o> {
    /// The layout of no operation: laid out in place by [`VecLayout::lay_out`] (it is too
    /// large to be returned for free).
    fn new() -> Self {
        // INVARIANT: No operation, and no slot refers to a page.
        Self {
            ops: &NO_OPS,
            pages: VecPages::new(),
            slots: [Slot::Empty; 2 * VEC_LEN_MAX],
        }
    }

    /// Lays the operands of `ops` out on their pages, as the layout of `ops`. Nothing is
    /// pinned. Called once, on a new `VecLayout`.
    fn lay_out(&mut self, ops: &'o OpVec) {
        let addrs = untag_addrs(ops);
        let pairs = self.slots.chunks_exact_mut(2).zip(addrs.chunks_exact(2));
        for (op, (pair, untagged)) in ops.iter().zip(pairs) {
            let ([first, second], &[first_addr, second_addr]) = (pair, untagged) else {
                continue;
            };
            // The operands of `Op::operands()` (a test checks that they agree), each laid out on
            // pages in use, marked written if it is; the word of an add aligned to its width.
            let pages = &mut self.pages;
            match *op {
                Op::Compare { a, b, len, .. } => {
                    *first = pages.slot(first_addr, len.bytes(), 1, false, a.expect_fault);
                    *second = pages.slot(second_addr, len.bytes(), 1, false, b.expect_fault);
                }
                Op::Memcpy { dst, src, len, .. } => {
                    *first = pages.slot(first_addr, len.bytes(), 1, true, dst.expect_fault);
                    *second = pages.slot(second_addr, len.bytes(), 1, false, src.expect_fault);
                }
                Op::Add { p, width, .. } => {
                    let len = width.bytes();
                    *first = pages.slot(first_addr, len, len, true, p.expect_fault);
                }
            }
        }
        // INVARIANT: The slots of the operands of `ops` were just laid out, those of a new layout
        // without an operand are `Slot::Empty`; the word of an add with `align` its width, which
        // divides `PAGE_SIZE`: aligned, it is on one page and does not go on.
        self.ops = ops;
    }

    /// The pages the operands are on.
    fn pages(&self) -> &[VecPage] {
        self.pages.as_slice()
    }

    /// Maps the operations of the vector over the memory of their operands into `out`, for the
    /// interpreter: the memory of page `i` of [`VecLayout::pages`] is at `page(i)` (in the
    /// kernel's direct map). The memory borrows `keeper`, which keeps the pages where they are.
    /// `None`, with `out` holding no operation, if an operand's range is not valid or one of its
    /// pages has no address: then the vector cannot run.
    ///
    /// # Safety
    ///
    /// Whenever it is called, `page(i)`, if not `None`, must be aligned to `PAGE_SIZE` and valid
    /// for reads of `PAGE_SIZE` bytes, and for writes if page `i` is written, for `'a`.
    unsafe fn map<'a, K: ?Sized>(
        &self,
        page: impl Fn(usize) -> Option<NonNull<u8>>,
        _keeper: &'a K,
        out: &mut MappedVec<'a>,
    ) -> Option<()> {
        // INVARIANT: The caller guarantees the addresses of the pages for `'a`.
        let mut memory = LaidOut {
            layout: self,
            page,
            _lifetime: PhantomData,
        };
        out.map(self.ops, &mut memory)
    }
}

/// The memory of the operands of a [`VecLayout`], whose pages are at `page(i)`, for
/// [`VecLayout::map`], which maps the layout's own vector: the slots say where each operand is,
/// and how long (the lengths that [`OperandMemory`] passes are those of the same operations).
///
/// # Invariants
///
/// Whenever it is called, `page(i)`, if not `None`, is aligned to `PAGE_SIZE` and valid for reads
/// of `PAGE_SIZE` bytes, and for writes if page `i` of the layout is written, for `'a`.
struct LaidOut<'l, 'o, 'a, F> {
    layout: &'l VecLayout<'o>,
    page: F,
    _lifetime: PhantomData<&'a ()>,
}

impl<'a, F: Fn(usize) -> Option<NonNull<u8>>> LaidOut<'_, '_, 'a, F> {
    /// The slot of operand `operand`, if the operand is written or not as `write` says; an empty
    /// one whatever it says.
    fn slot(&self, operand: usize, write: bool) -> Option<&Slot> {
        let slot = self.layout.slots.get(operand)?;
        match slot {
            Slot::At { write: w, .. } if *w != write => None,
            _ => Some(slot),
        }
    }

    /// The memory of the operand laid out in `slot`.
    fn mem(&self, slot: &Slot) -> Option<Mem<'a>> {
        match slot {
            Slot::Empty => Some(Mem::EMPTY),
            Slot::Invalid(_) => None,
            Slot::At {
                split,
                pages: [first, second],
                ..
            } => {
                // The second page is only looked up if the operand goes on to it.
                let next = if split.goes_on() {
                    (self.page)(usize::from(*second))
                } else {
                    None
                };
                let pieces = split.pieces((self.page)(usize::from(*first))?, next)?;
                // SAFETY: By the type invariants of `VecLayout` and `Split`, the first piece is on
                // the operand's first page, the rest (if any) on the next one, at offsets and
                // lengths inside those pages (`Split::pieces()`), whose addresses are valid for
                // reads for `'a` (type invariants).
                Some(unsafe { Mem::new(pieces) })
            }
        }
    }
}

impl<'a, F: Fn(usize) -> Option<NonNull<u8>>> OperandMemory<'a> for LaidOut<'_, '_, 'a, F> {
    fn read(&mut self, operand: usize, _len: usize) -> Option<Mem<'a>> {
        self.mem(self.slot(operand, false)?)
    }

    fn written(&mut self, operand: usize, _len: usize) -> Option<MemMut<'a>> {
        let mem = self.mem(self.slot(operand, true)?)?;
        // SAFETY: The operand's slot is written, so its pages are (type invariants of
        // `VecLayout`), and their addresses valid for writes for `'a` (type invariants).
        Some(unsafe { MemMut::new(mem) })
    }

    fn word(&mut self, operand: usize, width: Width) -> Option<Word<'a>> {
        let Slot::At {
            split,
            pages: [index, _],
            write: true,
            ..
        } = *self.slot(operand, true)?
        else {
            return None;
        };
        // Never: the layout lays the word of an add out so (type invariants of `VecLayout`).
        let bytes = width.bytes();
        if split.goes_on()
            || split.head as usize != bytes
            || split.offset as usize & (bytes - 1) != 0
        {
            return None;
        }
        let ptr = (self.page)(usize::from(index))?.as_ptr();
        let ptr = ptr.wrapping_add(split.offset as usize);
        // SAFETY: The word is on one page (`split` does not go on, and its first piece is the
        // word, inside the page: type invariants of `Split`), at an offset aligned to its width
        // (checked above), and its slot is written (checked above), so its page is (type
        // invariants of `VecLayout`): the page's address, aligned to `PAGE_SIZE` and valid for
        // reads and writes of `PAGE_SIZE` bytes for `'a` (type invariants), plus that offset is
        // aligned to the width, and valid for reads and writes of the width for as long.
        Some(unsafe { Word::new(ptr, width) })
    }
}

/// The pages of a vector's operands, as laid out in a [`VecLayout`], pinned.
///
/// The pins are made in place at each attempt ([`PinnedVec::pin`]), and never moved.
///
/// # Invariants
///
/// `self.pins[i]`, if `Some`, pins page `i` of `self.layout`.
struct PinnedVec<'l, 'o> {
    /// The operands, laid out on their pages.
    layout: &'l VecLayout<'o>,
    /// The pin of each page, by its index in the layout.
    pins: [Option<PinnedPage>; PAGES_MAX],
}

impl<'l, 'o> PinnedVec<'l, 'o> {
    /// Nothing pinned yet, for the operands laid out in `layout`.
    fn new(layout: &'l VecLayout<'o>) -> Self {
        // INVARIANT: Nothing is pinned.
        Self {
            layout,
            pins: Default::default(),
        }
    }

    /// Pins the operands' pages, in the order of the operands, as `how` says, in place of
    /// those pinned before (unpinned first): for writing if an operand on the page is written
    /// or `unshare` names the page (by its index), else for reading. Returns whether all were
    /// pinned: with [`Pinning::Mapped`], a page that is not mapped for the access is not
    /// pinned, and not an error.
    ///
    /// A fault is `EFAULT`, or `EAGAIN` if the caller said to expect one for the operand being
    /// pinned, as if each operand's pages were pinned in turn for the access it needs. Memory that
    /// cpu_opv refuses by policy is `EFAULT` whatever `expect_fault` says: a retry could never
    /// succeed. Only the documented errors reach user space: running out of memory, a fatal
    /// signal, and otherwise a fault (pinning also fails with `EOVERFLOW` for a range at the
    /// top of the address space, `EREMOTEIO` for peer-to-peer DMA memory, ...).
    ///
    /// On error, or when not all were pinned, what was pinned stays pinned until `self` is
    /// dropped or pins again.
    fn pin(&mut self, unshare: &Unshare, how: Pinning<'_>) -> Result<bool> {
        for pin in self.pins.iter_mut() {
            *pin = None;
        }
        let layout = self.layout;
        for slot in layout.slots.iter() {
            let (write, fault) = match *slot {
                Slot::At { write, fault, .. } => (write, fault),
                Slot::Invalid(fault) => return Err(fault),
                Slot::Empty => continue,
            };
            for index in slot.page_indices() {
                // Under the mmap lock, a page that is not mapped for the access is not an error:
                // the caller faults it in without the lock, and tries again.
                if !self.pin_page(index, write, fault, unshare, how)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Pins page `index` for an operand that accesses it (for writing if `write`), unless it is
    /// pinned already for the access. Returns `false` if [`Pinning::Mapped`] found it not mapped
    /// for the access. A page that cannot be pinned is the operand's `fault` (but for `ENOMEM`
    /// and `EINTR`); a `ZONE_DEVICE` page is `EFAULT` (policy).
    fn pin_page(
        &mut self,
        index: usize,
        write: bool,
        fault: Error,
        unshare: &Unshare,
        how: Pinning<'_>,
    ) -> Result<bool> {
        let page = self.layout.pages().get(index).ok_or(EINVAL)?;
        let (addr, written) = (page.addr, page.write);
        let slot = self.pins.get_mut(index).ok_or(EINVAL)?;
        // A read operand on a page that a written operand is on.
        let reads_written = !write && written;
        let for_write = written || unshare.get(index).copied().unwrap_or(false);
        if slot
            .as_ref()
            .is_some_and(|pin| pin.is_write() || !for_write)
        {
            return Ok(true);
        }
        // Not pinned yet, or pinned for reading and now needed for writing: (re)pin it.
        *slot = None;
        let pin = match PinnedPage::pin(addr, for_write, how) {
            Ok(pin) => pin,
            // `EINVAL` is a wrong call (another mm's lock), not a page to fault in.
            Err(e) if e == EINVAL => return Err(e),
            Err(_) if matches!(how, Pinning::Mapped(_)) => return Ok(false),
            Err(e) if e == ENOMEM || e == EINTR => return Err(e),
            // A read operand's page, pinned for writing for a written operand, that cannot be:
            // pin it for reading, so that the faults come in the operands' order (this one's if
            // it cannot even be read, the writer's when it gets its turn).
            Err(_) if reads_written => PinnedPage::pin(addr, false, how).map_err(|e| {
                if e == ENOMEM || e == EINTR {
                    e
                } else {
                    fault
                }
            })?,
            Err(_) => return Err(fault),
        };
        if pin.zone_device() {
            return Err(EFAULT);
        }
        // INVARIANT: `pin` pins page `index`, at its address.
        *slot = Some(pin);
        Ok(true)
    }

    /// The pinned pages, with their index (for [`Unshare`]).
    fn pinned(&self) -> impl Iterator<Item = (usize, &PinnedPage)> {
        let in_use = self.pins.iter().enumerate();
        in_use.filter_map(|(index, pin)| Some((index, pin.as_ref()?)))
    }

    /// Marks dirty the pages written by the first `ran` operations: those of their written
    /// operands (read operands never dirty a page, even one pinned for writing to unshare it).
    fn set_dirty(&mut self, ran: usize) {
        let layout = self.layout;
        for slot in layout.slots.iter().take(2 * ran.min(VEC_LEN_MAX)) {
            if !matches!(slot, Slot::At { write: true, .. }) {
                continue;
            }
            for index in slot.page_indices() {
                if let Some(Some(PinnedPage::Write(pin))) = self.pins.get_mut(index) {
                    pin.set_dirty();
                }
            }
        }
    }

    /// Maps the operations over the operands' memory into `out`, as the interpreter runs them (in
    /// place: the vector is too large to be returned for free). `None` if a page is not pinned
    /// for the access its operands need, which it is once [`PinnedVec::pin`] pinned them all.
    fn map<'a>(&'a self, out: &mut MappedVec<'a>) -> Option<()> {
        // Each page's address once (a call to C), not once for each operand on it.
        let mut ptrs = [None; PAGES_MAX];
        for ((ptr, pin), page) in ptrs.iter_mut().zip(&self.pins).zip(self.layout.pages()) {
            // A written page pinned for reading only (never, once `pin()` pinned them all) is not
            // mapped.
            *ptr = pin
                .as_ref()
                .filter(|pin| pin.is_write() || !page.write)
                .and_then(PinnedPage::direct_map);
        }
        // SAFETY: Each address is the direct map of page `i` (`page_address()`, aligned to
        // `PAGE_SIZE`: cpu_opv is 64-bit only, without highmem), which `self` pins (type
        // invariants), for writing if the page is written (the filter above): the pin keeps the
        // page, and the address valid, while `self` is borrowed.
        unsafe { self.layout.map(|i| *ptrs.get(i)?, self, out) }
    }
}

/// The pieces of an operand's memory, `(address, length)`, and how many of them there are (at
/// most 2), as [`Split::pieces`] gives them.
type Pieces = ([(*mut u8, usize); 2], usize);

/// The memory of one operand that the interpreter reads: up to two pieces, in order.
///
/// # Invariants
///
/// `self.n <= 2`, and each of the first `self.n` pieces `(ptr, len)` is valid for reads of `len`
/// bytes for `'a`.
///
/// The memory is user memory: threads of the caller's process on other CPUs may read and write
/// it at any time, which Rust's memory model would call a data race for ordinary accesses. It
/// is therefore only ever accessed the way the kernel accesses memory shared with user space
/// (the rule every `SAFETY` comment on it cites):
///
/// - aligned words with volatile loads and stores ([`read_word`], [`write_word`]), which are
///   single-copy atomic, as `READ_ONCE()` and `WRITE_ONCE()` are;
/// - single bytes with volatile loads ([`compare`]);
/// - ranges with the C `memcpy()` or `memmove()` ([`copy`]), as `copy_from_user()` copies user
///   memory;
///
/// never through references, nor with Rust's `copy` functions, whose semantics assume that no
/// one else accesses the memory.
#[derive(Clone, Copy)]
struct Mem<'a> {
    pieces: [(*mut u8, usize); 2],
    n: usize,
    _lifetime: PhantomData<&'a ()>,
}

// SAFETY: A `Mem` is shared with the interrupt handler on the target CPU while the calling
// CPU waits for it; only one of them uses it at a time. The pointers themselves are never
// written after construction, and the memory they describe is only accessed as the type
// invariants say (volatile accesses, C `memcpy()` and `memmove()`), which is defined for memory
// that user space accesses concurrently.
unsafe impl Sync for Mem<'_> {}

impl<'a> Mem<'a> {
    /// The memory of an operand of no bytes, or of none: no piece.
    // INVARIANT: No piece to be valid.
    const EMPTY: Self = Self {
        pieces: [(core::ptr::null_mut(), 0); 2],
        n: 0,
        _lifetime: PhantomData,
    };

    /// The memory of an operand in `pieces` (at most two are used).
    ///
    /// # Safety
    ///
    /// Each of the pieces must be valid for reads of its length for `'a`.
    unsafe fn new((pieces, n): Pieces) -> Self {
        // INVARIANT: At most two, and the caller guarantees validity.
        Self {
            pieces,
            n: n.min(2),
            _lifetime: PhantomData,
        }
    }

    /// The valid pieces.
    fn pieces(&self) -> &[(*mut u8, usize)] {
        self.pieces.get(..self.n).unwrap_or(&[])
    }

    /// Its length, in bytes.
    fn len(&self) -> usize {
        self.pieces().iter().map(|&(_, len)| len).sum()
    }

    /// The address of a naturally aligned word of `width`, if the operand is exactly one: such
    /// accesses are single-copy atomic.
    fn word(&self, width: Width) -> Option<*mut u8> {
        let bytes = width.bytes();
        match self.pieces() {
            // `checked_rem()`: no division, so no panic path, even where the compiler cannot
            // see that `bytes` is never 0.
            [(ptr, len)] if *len == bytes && (*ptr as usize).checked_rem(bytes) == Some(0) => {
                Some(*ptr)
            }
            _ => None,
        }
    }
}

/// The memory of one operand that the interpreter writes (and may read), in a [`MappedVec`].
///
/// # Invariants
///
/// Each of the pieces of `self.0.pieces()` is also valid for writes of its length for `'a`.
struct MemMut<'a>(Mem<'a>);

impl<'a> MemMut<'a> {
    /// The memory of an operand of no bytes: no piece.
    // INVARIANT: No piece to be valid.
    const EMPTY: Self = Self(Mem::EMPTY);

    /// The memory `mem`, written.
    ///
    /// # Safety
    ///
    /// Each of the pieces of `mem` must also be valid for writes of its length for `'a`.
    unsafe fn new(mem: Mem<'a>) -> Self {
        // INVARIANT: The caller guarantees validity for writes.
        Self(mem)
    }
}

/// The word of an add: naturally aligned, read and written single-copy atomically.
///
/// # Invariants
///
/// `self.ptr` is aligned to `self.width` and valid for reads and writes of `self.width` bytes
/// for `'a` (user memory: see [`Mem`]).
struct Word<'a> {
    ptr: *mut u8,
    width: Width,
    _lifetime: PhantomData<&'a ()>,
}

// SAFETY: A shared `Word` only gives its pointer, never written after construction, and the word
// is only accessed through it with volatile loads and stores ([`add`]), which are defined for
// memory that other threads (user space, or the interrupt handler on the target CPU that the
// vector is shared with) access concurrently, as for `Mem`.
unsafe impl Sync for Word<'_> {}

impl<'a> Word<'a> {
    /// The word of `width` at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be aligned to `width` and valid for reads and writes of `width` bytes for `'a`.
    unsafe fn new(ptr: *mut u8, width: Width) -> Self {
        debug_assert_eq!((ptr as usize).checked_rem(width.bytes()), Some(0));
        // INVARIANT: The caller guarantees alignment and validity.
        Self {
            ptr,
            width,
            _lifetime: PhantomData,
        }
    }
}

/// An operation of a vector over the memory of its operands, as the interpreter runs it
/// ([`MappedVec::iter`]): which operand is read and which is written is in the type.
enum MappedOp<'a> {
    /// Whether `a` and `b` hold the same bytes is `kind`'s answer, or the vector stops.
    Compare {
        kind: Compare,
        a: Mem<'a>,
        b: Mem<'a>,
    },
    /// Copies `src` to `dst`, after a full barrier for [`Ordering::Release`].
    Memcpy {
        dst: MemMut<'a>,
        src: Mem<'a>,
        order: Ordering,
    },
    /// Adds `count` to `word`, wrapping, its store after a full barrier for
    /// [`Ordering::Release`].
    Add {
        word: Word<'a>,
        count: i64,
        order: Ordering,
    },
}

/// The vector of no operation, that a new [`VecLayout`] holds.
static NO_OPS: OpVec = OpVec {
    ops: [const { None }; VEC_LEN_MAX],
    len: 0,
};

/// The operations of a vector over the memory of their operands, in order: what [`run`]
/// interprets, one [`MappedOp`] at a time ([`MappedVec::iter`]). Each operation's types say what
/// its memory is valid for ([`Mem`], [`MemMut`], [`Word`]): the vector only says how many there
/// are.
///
/// # Invariants
///
/// `self.len <= VEC_LEN_MAX`, and the first `self.len` operations are initialised.
struct MappedVec<'a> {
    /// Not initialised beyond `len`: a new `MappedVec` is made on every call, and zeroing the
    /// array cost more than filling it.
    ops: [MaybeUninit<MappedOp<'a>>; VEC_LEN_MAX],
    /// How many operations there are.
    len: usize,
}

// `MappedVec::clear()` forgets its operations: none may need to be dropped.
const _: () = assert!(!core::mem::needs_drop::<MappedOp<'static>>());

impl<'a> MappedVec<'a> {
    /// No operation yet: filled in place (it is too large to be returned for free).
    fn new() -> Self {
        // INVARIANT: No operation at all.
        Self {
            ops: [const { MaybeUninit::uninit() }; VEC_LEN_MAX],
            len: 0,
        }
    }

    /// Adds `op` after the operations pushed so far; `None` if there are [`VEC_LEN_MAX`]
    /// already.
    fn push(&mut self, op: MappedOp<'a>) -> Option<()> {
        self.ops.get_mut(self.len)?.write(op);
        // INVARIANT: The operation at `self.len` was just initialised, and there was room for it.
        self.len += 1;
        Some(())
    }

    /// Makes `self` hold no operation, as if new (what `push()` pushed is forgotten: a
    /// `MappedOp` needs no drop).
    fn clear(&mut self) {
        // INVARIANT: No operation at all.
        self.len = 0;
    }

    /// Makes `self` the operations that `push_all` pushes, in order, if it returns `Some`;
    /// `None`, with `self` holding no operation, if it fails midway.
    fn fill(&mut self, push_all: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        self.clear();
        let filled = push_all(self);
        if filled.is_none() {
            self.clear();
        }
        filled
    }

    /// Makes `self` the operations of `ops` over the memory of their operands, which `memory`
    /// gives, asked in order for each operand of each operation (operand `j` of operation `i` is
    /// operand `2 * i + j`); `None`, with `self` holding no operation, if it has none for one.
    fn map(&mut self, ops: &OpVec, memory: &mut impl OperandMemory<'a>) -> Option<()> {
        self.fill(|vec| {
            for (i, op) in ops.iter().enumerate() {
                let (first, second) = (2 * i, 2 * i + 1);
                let op = match *op {
                    Op::Compare { kind, len, .. } => MappedOp::Compare {
                        kind,
                        a: memory.read(first, len.bytes())?,
                        b: memory.read(second, len.bytes())?,
                    },
                    Op::Memcpy { len, order, .. } => MappedOp::Memcpy {
                        dst: memory.written(first, len.bytes())?,
                        src: memory.read(second, len.bytes())?,
                        order,
                    },
                    Op::Add {
                        count,
                        width,
                        order,
                        ..
                    } => MappedOp::Add {
                        word: memory.word(first, width)?,
                        count,
                        order,
                    },
                };
                vec.push(op)?;
            }
            Some(())
        })
    }

    /// Its operations, in order.
    fn iter(&self) -> impl Iterator<Item = &MappedOp<'a>> {
        let ops = self.ops.get(..self.len).unwrap_or(&[]);
        // SAFETY: By the type invariants, the first `self.len` operations are initialised.
        ops.iter().map(|op| unsafe { op.assume_init_ref() })
    }
}

/// Where the memory of a vector's operands is found, for [`MappedVec::map`]: for pinned pages
/// ([`VecLayout::map`]), through locked page tables ([`LockedPages`]), or nowhere ([`NoMemory`]).
/// Each answer's type says what the memory is valid for; `None` if the operand cannot be
/// accessed so.
trait OperandMemory<'a> {
    /// The memory of operand `operand`, of `len` bytes, which the operation reads.
    fn read(&mut self, operand: usize, len: usize) -> Option<Mem<'a>>;

    /// The memory of operand `operand`, of `len` bytes, which the operation writes (a copy's
    /// destination).
    fn written(&mut self, operand: usize, len: usize) -> Option<MemMut<'a>>;

    /// The word of `width` of operand `operand`, which an add reads and writes.
    fn word(&mut self, operand: usize, width: Width) -> Option<Word<'a>>;
}

/// The memory of the operands of a vector whose operations access none: an empty vector, or
/// compares and copies of no bytes (an add is never of no bytes).
struct NoMemory;

impl<'a> OperandMemory<'a> for NoMemory {
    fn read(&mut self, _operand: usize, len: usize) -> Option<Mem<'a>> {
        (len == 0).then_some(Mem::EMPTY)
    }

    fn written(&mut self, _operand: usize, len: usize) -> Option<MemMut<'a>> {
        (len == 0).then_some(MemMut::EMPTY)
    }

    fn word(&mut self, _operand: usize, _width: Width) -> Option<Word<'a>> {
        None
    }
}

/// Reads the aligned word of `width` bytes at `ptr`, zero-extended.
///
/// # Safety
///
/// `ptr` must be valid for reads of `width` bytes and aligned to `width`.
unsafe fn read_word(ptr: *mut u8, width: Width) -> u64 {
    // SAFETY: The caller guarantees validity and alignment for the width.
    unsafe {
        match width {
            Width::U8 => u64::from(ptr.read_volatile()),
            Width::U16 => u64::from(ptr.cast::<u16>().read_volatile()),
            Width::U32 => u64::from(ptr.cast::<u32>().read_volatile()),
            Width::U64 => ptr.cast::<u64>().read_volatile(),
        }
    }
}

/// Writes the low `width` bytes of `val` to the aligned word at `ptr`.
///
/// # Safety
///
/// `ptr` must be valid for writes of `width` bytes and aligned to `width`.
unsafe fn write_word(ptr: *mut u8, width: Width, val: u64) {
    // SAFETY: The caller guarantees validity and alignment for the width. The casts truncate
    // on purpose.
    unsafe {
        match width {
            Width::U8 => ptr.write_volatile(val as u8),
            Width::U16 => ptr.cast::<u16>().write_volatile(val as u16),
            Width::U32 => ptr.cast::<u32>().write_volatile(val as u32),
            Width::U64 => ptr.cast::<u64>().write_volatile(val),
        }
    }
}

/// The width of a word-sized operand, if `len` is one.
fn word_width(len: usize) -> Option<Width> {
    Width::new(u32::try_from(len).ok()?).ok()
}

/// Walks two operands of the same length piece by piece, calling `f(a, b, n)` on each stretch
/// of `n` bytes that is contiguous in both. Stops early when `f` returns `false`.
fn for_each_stretch(a: &Mem<'_>, b: &Mem<'_>, mut f: impl FnMut(*mut u8, *mut u8, usize) -> bool) {
    let mut ai = a.pieces().iter().copied();
    let mut bi = b.pieces().iter().copied();
    let (mut ca, mut cb) = (ai.next(), bi.next());
    while let (Some((pa, la)), Some((pb, lb))) = (ca, cb) {
        let n = la.min(lb);
        if !f(pa, pb, n) {
            return;
        }
        ca = if la > n {
            Some((pa.wrapping_add(n), la - n))
        } else {
            ai.next()
        };
        cb = if lb > n {
            Some((pb.wrapping_add(n), lb - n))
        } else {
            bi.next()
        };
    }
}

/// Whether the operands `a` and `b`, of one length, hold the same bytes.
fn compare(a: &Mem<'_>, b: &Mem<'_>) -> bool {
    if let Some(width) = word_width(a.len()) {
        if let (Some(pa), Some(pb)) = (a.word(width), b.word(width)) {
            // SAFETY: `Mem::word` returned aligned words of `width` bytes, each the only piece of
            // a valid operand; they are accessed with volatile loads, as the `Mem` invariants
            // require.
            return unsafe { read_word(pa, width) == read_word(pb, width) };
        }
    }
    let mut equal = true;
    for_each_stretch(a, b, |pa, pb, n| {
        for i in 0..n {
            // SAFETY: `pa` and `pb` are valid for reads of `n` bytes and `i < n`; single bytes
            // are read with volatile loads, as the `Mem` invariants require.
            let (x, y) = unsafe { (pa.add(i).read_volatile(), pb.add(i).read_volatile()) };
            if x != y {
                equal = false;
                return false;
            }
        }
        true
    });
    equal
}

/// Copies the operand `src` to `dst`, of the same length.
///
/// Overlapping ranges give unspecified contents (as for `memcpy()`), inside the ranges only.
fn copy(dst: &MemMut<'_>, src: &Mem<'_>, order: Ordering) {
    if order == Ordering::Release {
        barrier::smp_mb(barrier::ordering::Full);
    }
    if let Some(width) = word_width(src.len()) {
        if let (Some(pd), Some(ps)) = (dst.0.word(width), src.word(width)) {
            // SAFETY: `Mem::word` returned aligned words of `width` bytes, each the only piece of
            // a valid operand, the destination's valid for writes too (`MemMut`). Volatile
            // accesses, as the `Mem` invariants require.
            unsafe { write_word(pd, width, read_word(ps, width)) };
            return;
        }
    }
    for_each_stretch(&dst.0, src, |pd, ps, n| {
        // Stretches overlap where the operands do, or where one page is mapped at both.
        if (pd as usize).abs_diff(ps as usize) >= n {
            // SAFETY: `pd` is valid for writes (a stretch of `dst`: `MemMut`) and `ps` for reads
            // of `n` bytes, two ranges that do not overlap, as the C `memcpy()` requires. It
            // accesses them as the `Mem` invariants require for memory that user space may
            // access concurrently.
            unsafe { bindings::memcpy(pd.cast(), ps.cast(), n) };
        } else {
            // SAFETY: As above; the C `memmove()` allows the two ranges to overlap.
            unsafe { bindings::memmove(pd.cast(), ps.cast(), n) };
        }
        true
    });
}

/// Adds `count`, truncated to the word's width, to `word`, wrapping.
fn add(word: &Word<'_>, count: i64, order: Ordering) {
    // SAFETY: By the type invariants, `word.ptr` is aligned to `word.width` and valid for reads
    // and writes of it, accessed with a volatile load and store, as for `Mem`.
    unsafe {
        let val = read_word(word.ptr, word.width).wrapping_add(count as u64);
        if order == Ordering::Release {
            barrier::smp_mb(barrier::ordering::Full);
        }
        write_word(word.ptr, word.width, val);
    }
}

/// Interprets the operations of `vec` over the memory of their operands.
///
/// Returns 0 when every operation ran, or the index + 1 of the compare that stopped the
/// vector. Runs with interrupts off: no sleeping, no allocation, no lock, no fault.
fn run(vec: &MappedVec<'_>) -> usize {
    for (i, op) in vec.iter().enumerate() {
        if i > 0 {
            debug::delay_in_vector();
        }
        // Each operation's accesses happen after the previous operation's, also as seen by
        // the compiler (the v9 ABI promises a compiler barrier between operations).
        compiler_fence(CompilerOrdering::SeqCst);
        match op {
            MappedOp::Compare { kind, a, b } => {
                if compare(a, b) != (*kind == Compare::Eq) {
                    return i + 1;
                }
            }
            MappedOp::Memcpy { dst, src, order } => copy(dst, src, *order),
            MappedOp::Add { word, count, order } => add(word, *count, *order),
        }
    }
    0
}

/// Reads the user word of `width` at `addr`, zero-extended, through the current task's page
/// tables, without faulting (`nofault`): `None` if it would fault (or `addr` is not aligned for
/// `width`).
#[inline]
fn read_user_word(addr: u64, width: Width, nofault: &PagefaultDisabled) -> Option<u64> {
    let ptr = UserPtr::from_addr(usize::try_from(addr).ok()?);
    let val = match width {
        Width::U8 => ptr.read_word_nofault::<u8>(nofault).map(u64::from),
        Width::U16 => ptr.read_word_nofault::<u16>(nofault).map(u64::from),
        Width::U32 => ptr.read_word_nofault::<u32>(nofault).map(u64::from),
        Width::U64 => ptr.read_word_nofault::<u64>(nofault),
    };
    val.ok()
}

/// Writes the low `width` bytes of `val` to the user word at `addr`, through the current task's
/// page tables, without faulting (`nofault`): `None`, and nothing written, if it would fault (or
/// `addr` is not aligned for `width`).
#[inline]
fn write_user_word(addr: u64, width: Width, val: u64, nofault: &PagefaultDisabled) -> Option<()> {
    let ptr = UserPtr::from_addr(usize::try_from(addr).ok()?);
    // The casts truncate on purpose.
    let written = match width {
        Width::U8 => ptr.write_word_nofault(val as u8, nofault),
        Width::U16 => ptr.write_word_nofault(val as u16, nofault),
        Width::U32 => ptr.write_word_nofault(val as u32, nofault),
        Width::U64 => ptr.write_word_nofault(val, nofault),
    };
    written.ok()
}

/// Interprets `ops`, a vector that [`OpVec::runs_in_mm`], on the user addresses of its operands,
/// through the page tables of the caller, which must be the current task (on the target CPU, or
/// for an idle one).
///
/// Returns what [`run`] returns, or `None` if the vector did not run and wrote nothing: an access
/// would fault (see [`OpVec::runs_in_mm`]), or a compare stopped the vector before operations
/// that access memory, whose faults the call must report (see [`execute`]). The caller then pins
/// the operands. Runs with interrupts off: page faults are disabled, nothing sleeps.
///
/// The accesses are those of the caller's own threads, through the mappings they see: no pin,
/// nothing to revalidate, and a store to a page the process shares copy-on-write, or that the
/// filesystem tracks (write-protected until written), faults and goes to the pinned path like
/// any page that is not mapped for the access.
fn run_in_mm(ops: &OpVec) -> Option<usize> {
    let nofault = uaccess::pagefault_disable();
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            debug::delay_in_vector();
        }
        compiler_fence(CompilerOrdering::SeqCst);
        match *op {
            Op::Compare { kind, a, b, len } => {
                // Zero bytes are equal; any other length is a word (see `OpVec::runs_in_mm()`).
                let equal = match len.bytes() {
                    0 => true,
                    n => {
                        let width = word_width(n)?;
                        read_user_word(a.addr, width, &nofault)?
                            == read_user_word(b.addr, width, &nofault)?
                    }
                };
                if equal != (kind == Compare::Eq) {
                    return stopped(ops, i);
                }
            }
            Op::Memcpy {
                dst,
                src,
                len,
                order,
            } => {
                // As in [`copy`], a release orders the earlier accesses even when there are zero
                // bytes to copy; any other length is a word.
                if order == Ordering::Release {
                    barrier::smp_mb(barrier::ordering::Full);
                }
                if len.bytes() > 0 {
                    let width = word_width(len.bytes())?;
                    let val = read_user_word(src.addr, width, &nofault)?;
                    write_user_word(dst.addr, width, val, &nofault)?;
                }
            }
            Op::Add {
                p,
                count,
                width,
                order,
            } => {
                let val = read_user_word(p.addr, width, &nofault)?.wrapping_add(count as u64);
                if order == Ordering::Release {
                    barrier::smp_mb(barrier::ordering::Full);
                }
                write_user_word(p.addr, width, val, &nofault)?;
            }
        }
    }
    Some(0)
}

/// What [`run_in_mm`] returns when the compare at index `i` of `ops` stops the vector.
///
/// A call reports a fault of any of its operands, also of those after the compare that stops the
/// vector: the pinned path finds them all before it runs anything. Whether the later ones can be
/// accessed is not known here: if any accesses memory, the vector goes to the pinned path.
fn stopped(ops: &OpVec, i: usize) -> Option<usize> {
    if ops.iter().skip(i + 1).any(|op| op.len() > 0) {
        None
    } else {
        Some(i + 1)
    }
}

/// Runs the vector `ops` for the current CPU or an idle one through the kernel's direct map of its
/// operands' pages, which the page tables that map them keep mapped while they are locked:
/// nothing is pinned, nothing needs to be revalidated, and nothing is laid out ([`map_locked`]
/// goes over the operands once).
///
/// Returns what [`run`] returns, or `None` if the vector did not run: an operand's range is not
/// valid (its fault is the pinned path's to report), its operands are on pages of more than
/// [`TABLES_MAX`] last-level page tables, or of one whose lock another thread holds
/// ([`PteTables`]), a page is not mapped for the access it needs, or `cpu` runs another task (a
/// vector goes there by IPI, which this path does not wait for while it holds the locks). The
/// caller then pins the operands.
///
/// With the table locked, its entries are what the caller's threads access through: a read
/// operand reads the page a load would read now (no copy-on-write can replace it meanwhile), and
/// a written operand is on a page that a store would write without a fault (present, writable,
/// allowed by the memory protection keys). A written page must also be dirty already: a store
/// through the direct map does not set the entry's dirty bit, and reclaim drops a clean
/// anonymous page that has a copy in swap, or that was freed lazily (`MADV_FREE`), without
/// writing it. A dirty entry hands its state to the page when it is cleared, as for a store by
/// user space. Each operand's pages are checked for its own access ([`LockedPages::page`]): a page
/// that one operand reads and another writes is checked for both, under the same lock, so both
/// reach the same page. A page of a read operand that is the last page looked up (by the operand
/// before, or by this one's first page), and was found for writing, is read through that check
/// (which, as for a write pin, does not ask for `VM_READ`); any other is checked for reading,
/// which a page without `VM_READ` fails, and the vector is then pinned (for writing, if another
/// operand writes the page).
///
/// Called with `guard` held. The policy ([`refused`]) is checked on the mappings of the pages
/// found, once per table and access (a table maps pages of one mapping): the caller only runs
/// the whole [`check_policy`] for a vector that did not run.
fn run_locked(ops: &OpVec, cpu: CpuId, guard: &MmapReadGuard<'_>) -> Result<Option<usize>> {
    let mut tables = PteTables::<TABLES_MAX>::new(guard);
    let mut mapped = MappedVec::new();
    if map_locked(ops, &mut tables, &mut mapped).is_none() {
        return Ok(None);
    }
    dispatch(Memory::Locked(&mapped), cpu)
}

/// Maps the operations of `ops` over the memory of their operands into `out`, for the
/// interpreter, in one pass over the operands: each page an operand is on is found in the
/// kernel's direct map through the table of `tables` that maps it ([`LockedPages`]). `None`,
/// with `out` holding no operation, if an operand's range is not valid or a page cannot be found
/// so (see [`run_locked`]).
fn map_locked<'t, const N: usize>(
    ops: &OpVec,
    tables: &'t mut PteTables<'_, N>,
    out: &mut MappedVec<'t>,
) -> Option<()> {
    let mut pages = LockedPages {
        tables,
        addrs: untag_addrs(ops),
        last: None,
    };
    out.map(ops, &mut pages)
}

/// The memory of a vector's operands, found in the kernel's direct map through locked page
/// tables ([`PteTables::direct_map`]) as [`map_locked`] comes to them.
///
/// The memory borrows the tables for `'t`. A `PteTables` only unlocks its tables when it is
/// dropped, and nothing here drops or replaces `*self.tables` (nor could without an mmap lock
/// guard to make another): the pages found stay mapped, and their addresses valid, for `'t`.
///
/// # Invariants
///
/// If `self.last` is `Some((addr, write, ptr))`, `ptr` is what `self.tables.direct_map()`
/// returned for the page at `addr`, for writing if `write`.
struct LockedPages<'t, 'g, const N: usize> {
    /// The tables, locked as the pages are found.
    tables: &'t mut PteTables<'g, N>,
    /// The addresses of the operands, untagged ([`untag_addrs`]).
    addrs: [u64; 2 * VEC_LEN_MAX],
    /// The last page found (its user address), whether for writing, and its address: an operand
    /// is often on the page of the one just before it (the fields of a structure, neighbouring
    /// counters).
    last: Option<(usize, bool, NonNull<u8>)>,
}

impl<'t, const N: usize> LockedPages<'t, '_, N> {
    /// The address in the direct map of the page at `addr` (page-aligned), found for writing if
    /// `write`, after the policy ([`refused`]) allowed the access in its mapping.
    // Inline: a cache check around one call, made for each page of each operand; rustc keeps it
    // out of line otherwise, at the price of a call and a return each time (seven in the worst
    // case, dev/insncount).
    #[inline(always)]
    fn page(&mut self, addr: usize, write: bool) -> Option<NonNull<u8>> {
        if let Some((last, for_write, ptr)) = self.last {
            if last == addr && (for_write || !write) {
                return Some(ptr);
            }
        }
        let ptr = self
            .tables
            .direct_map(addr, write, |vma, write| !refused(vma, write))?;
        // INVARIANT: `ptr` is what `direct_map()` just returned for `addr` and `write`.
        self.last = Some((addr, write, ptr));
        Some(ptr)
    }

    /// The memory of operand `operand`, of `len` bytes, found for writing if `write`.
    fn mem(&mut self, operand: usize, len: usize, write: bool) -> Option<Mem<'t>> {
        let addr = *self.addrs.get(operand)?;
        let Some(seg) = Segments::new(addr, len).ok()? else {
            return Some(Mem::EMPTY);
        };
        let split = seg.split();
        let first = self.page(seg.page, write)?;
        let next = if split.goes_on() {
            Some(self.page(seg.page.checked_add(PAGE_SIZE)?, write)?)
        } else {
            None
        };
        let pieces = split.pieces(first, next)?;
        // SAFETY: By the type invariants of `Segments` and `Split`, the first piece is on the
        // operand's first page, the rest (if any) on the next one, at offsets and lengths inside
        // those pages (`Split::pieces()`), whose addresses `PteTables::direct_map()` found
        // (`page()`, and the type invariants for the last page): valid for reads while the
        // tables are locked, which they are for `'t` (see the type's documentation).
        Some(unsafe { Mem::new(pieces) })
    }
}

impl<'t, const N: usize> OperandMemory<'t> for LockedPages<'t, '_, N> {
    fn read(&mut self, operand: usize, len: usize) -> Option<Mem<'t>> {
        self.mem(operand, len, false)
    }

    fn written(&mut self, operand: usize, len: usize) -> Option<MemMut<'t>> {
        let mem = self.mem(operand, len, true)?;
        // SAFETY: Its pages were found for writing: valid for writes as for reads, for `'t`.
        Some(unsafe { MemMut::new(mem) })
    }

    /// `None` if the word is not aligned to its width, which `Op::new()` checked on the tagged
    /// address (untagging only clears or extends high bits), but the safety below relies on it.
    fn word(&mut self, operand: usize, width: Width) -> Option<Word<'t>> {
        let addr = usize::try_from(*self.addrs.get(operand)?).ok()?;
        if addr & (width.bytes() - 1) != 0 {
            return None;
        }
        let page = self.page(addr & !(PAGE_SIZE - 1), true)?;
        let ptr = page.as_ptr().wrapping_add(addr & (PAGE_SIZE - 1));
        // SAFETY: The word's address is aligned to its width, which divides `PAGE_SIZE`: the word
        // is at that offset in its page, inside it. The page's address, aligned to `PAGE_SIZE`,
        // was found for writing: valid for reads and writes for `'t` (see the type's
        // documentation), as `ptr` is for the width, aligned to it.
        Some(unsafe { Word::new(ptr, width) })
    }
}

/// The most last-level page tables [`run_locked`] locks for a vector: one for a structure, or
/// for the part of per-CPU data that belongs to one CPU, and a few for the words that a vector
/// updates beside it (a counter, a head).
const TABLES_MAX: usize = 4;

/// Checks that cpu_opv may access the memory of every operand of `ops`.
///
/// Refused: device memory (`VM_IO`, `VM_PFNMAP`, `VM_MIXEDMAP`: it may not be cached
/// write-back, may have side effects, and has no `struct page` to pin or one that must not be
/// pinned), `memfd_secret()` memory (not in the kernel's direct map: GUP refuses it too), and,
/// for written operands, shared writable file mappings whose dirty state the filesystem tracks
/// (writes through a pin would bypass it) and shadow stacks (which only the CPU's shadow stack
/// operations write: `get_user_pages()` refuses writes to them, but `pin_user_pages_fast()` may
/// not see that an entry is a shadow stack's). The answer is `EFAULT`, whatever `expect_fault`
/// says: a retry could never succeed. An address without a mapping passes: pinning reports it
/// as a fault.
fn check_policy(ops: &OpVec, guard: &MmapReadGuard<'_>) -> Result {
    // The last mapping found to hold a whole operand, and allowed: its range, and whether it was
    // checked for writing. The operands of a vector are often in one mapping (a structure, an
    // array of per-CPU data), which is then looked up once. The lock keeps the ranges stable.
    let mut allowed: Option<(usize, usize, bool)> = None;
    for op in ops.iter() {
        for &(operand, len, write) in op.operands().iter().filter_map(Option::as_ref) {
            // One operand a call: the cheapest case is a one-add in the caller's mm, which has no
            // layout to untag with; the other callers (compares, the pinned path) make up to eight.
            let Ok(Some(seg)) = Segments::new(untagged_addr(operand.addr), len) else {
                continue;
            };
            // The first and the last byte: an operand spans at most two pages, and so at most
            // two mappings. Most are in one, which one lookup finds.
            let first = seg.page + seg.offset;
            let last = first + (seg.len - 1);
            if allowed.is_some_and(|(start, end, for_write)| {
                start <= first && last < end && (for_write || !write)
            }) {
                continue;
            }
            match guard.vma_lookup(first) {
                Some(vma) if last < vma.end() => {
                    if refused(vma, write) {
                        return Err(EFAULT);
                    }
                    allowed = Some((vma.start(), vma.end(), write));
                }
                first_vma => {
                    let refuses = |vma: Option<&VmaRef>| vma.is_some_and(|vma| refused(vma, write));
                    if refuses(first_vma) || refuses(guard.vma_lookup(last)) {
                        return Err(EFAULT);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether cpu_opv refuses to access the memory of `vma` (for writing if `write`): see
/// [`check_policy`].
fn refused(vma: &VmaRef, write: bool) -> bool {
    const DEVICE: vm_flags_t = flags::IO | flags::PFNMAP | flags::MIXEDMAP;

    vma.flags() & DEVICE != 0
        || vma.is_secretmem()
        || (write && (vma.is_shadow_stack() || vma.needs_dirty_tracking()))
}

/// Takes the mmap read lock of `mm` (killably), and checks under it that cpu_opv may access the
/// memory of every operand of `ops` ([`check_policy`]).
fn lock_checked<'a>(mm: &'a MmWithUser, ops: &OpVec) -> Result<MmapReadGuard<'a>> {
    debug::delay_lock();
    let guard = mm.mmap_read_lock_killable()?;
    check_policy(ops, &guard)?;
    Ok(guard)
}

/// Attempts (pin under the mmap lock, after faulting in where needed) before a vector whose
/// pages keep changing gets `EAGAIN`.
const MAX_ATTEMPTS: usize = 4;

/// The pages (by their index in [`VecLayout::pages`], which only depends on the vector) to be
/// pinned for writing although no operation writes them, to break copy-on-write: see
/// [`cow_unstable`].
type Unshare = [bool; PAGES_MAX];

/// The pages of read operands of `ops` that a copy-on-write fault could replace while the
/// vector waits for its CPU.
///
/// A read-only `FOLL_PIN` unshares anonymous pages (so that the pin observes later writes) but
/// not the shared zero page nor the page-cache pages of a private file mapping (see
/// `gup_must_unshare()`). In a private writable mapping, the first write by any thread replaces
/// such a page with a new anonymous copy; copy-on-write faults run under the per-VMA lock or the
/// mmap read lock, which the mmap read lock held here does not exclude. A vector that compared
/// or copied from the old page would act on a state its CPU no longer sees. Such pages are
/// pinned again for writing, which breaks copy-on-write at once: the page the vector reads is
/// then the page every later write goes to. Each page of an operand is judged on its own: an
/// operand may span a private writable page and a read-only one, which cannot be pinned for
/// writing.
///
/// Pages of shared mappings never change under a write. Private mappings without `VM_WRITE`
/// are only written through `FOLL_FORCE` (a debugger's `PTRACE_POKEDATA`), which is not
/// excluded: a vector that races a debugger writing to read-only memory may read the old
/// contents, as any concurrent reader of that memory would.
///
/// Called with `guard` held, after `pinned` was pinned under it.
fn cow_unstable(pinned: &PinnedVec<'_, '_>, guard: &MmapReadGuard<'_>) -> Option<Unshare> {
    let mut unshare: Unshare = [false; PAGES_MAX];
    let mut any = false;
    for (index, page) in pinned.pinned() {
        if page.is_write() || page.anon_exclusive() {
            continue;
        }
        if guard
            .vma_lookup(page.addr())
            .is_some_and(|vma| vma.flags() & (flags::SHARED | flags::WRITE) == flags::WRITE)
        {
            if let Some(want) = unshare.get_mut(index) {
                *want = true;
                any = true;
            }
        }
    }
    any.then_some(unshare)
}

/// Runs `ops`, whose operations access no memory (an empty vector: a fence for the rseq
/// critical sections of `cpu`): nothing to pin, and no mmap lock.
#[inline(never)]
fn execute_without_memory(ops: &OpVec, cpu: CpuId) -> Result<isize> {
    let mut mapped = MappedVec::new();
    // Never `None`: the caller checked that no operation accesses memory.
    mapped.map(ops, &mut NoMemory).ok_or(EINVAL)?;
    let ran = dispatch(Memory::None(&mapped), cpu)?;
    Ok(ran.unwrap_or(0) as isize)
}

/// Runs the validated vector `ops` of `task`, the caller, on `cpu`.
///
/// A vector that [`OpVec::runs_in_mm`] first tries to run in the caller's mm, for the current CPU
/// or an idle one, under the mmap read lock, after the policy check ([`check_policy`]); if it
/// cannot (another CPU runs a task, an operand is not mapped for the access, or a compare stops
/// the vector before an access whose fault the call must report), its operands are pinned under
/// that lock. Any other vector first tries [`run_locked`], under the lock too. The operands of a
/// vector that did not run are pinned ([`execute_pinned`]).
fn execute(task: &CurrentTask, ops: &OpVec, cpu: CpuId) -> Result<isize> {
    if ops.iter().all(|op| op.len() == 0) {
        return execute_without_memory(ops, cpu);
    }
    let mm = task.mm().ok_or(EINVAL)?;
    // A vector of word operands that stores once, at its end, for the current CPU or an idle one,
    // runs in this task's mm, on this CPU, without pinning its operands. If it cannot (another
    // CPU runs a task: the vector goes by IPI), or if it did not run in the mm (nothing was
    // written: see `run_in_mm()`), its operands are pinned under the lock it holds.
    let mut in_mm = None;
    if ops.runs_in_mm() && !debug::pinned_only() {
        let guard = lock_checked(mm, ops)?;
        if let Some(ret) = dispatch(Memory::InMm(ops), cpu)? {
            return Ok(ret as isize);
        }
        in_mm = Some(guard);
    }
    if in_mm.is_none() && !debug::pinned_only() {
        // Any other vector, through the page tables that map its operands, which check the policy
        // on the way: the whole check only runs if the vector did not run.
        debug::delay_lock();
        let guard = mm.mmap_read_lock_killable()?;
        if let Some(ret) = run_locked(ops, cpu, &guard)? {
            return Ok(ret as isize);
        }
        check_policy(ops, &guard)?;
        in_mm = Some(guard);
    }
    // Laid out once; pinned in place at each attempt.
    let mut layout = VecLayout::new();
    layout.lay_out(ops);
    execute_pinned(task, mm, &layout, cpu, in_mm)
}

/// Runs the vector laid out in `layout` ([`VecLayout::lay_out`]) on `cpu`, through pins of its
/// operands' pages: what [`execute`] does with a vector that did not run without them. `in_mm`,
/// if any, is the mmap read lock of `mm`, taken and checked against the policy already.
///
/// The operands are pinned under the mmap read lock (taken killably), with GUP-fast and without
/// faulting, so that they are the pages the range maps while `munmap()`, `mremap()` and `mmap()`
/// cannot replace them; the lock is held until the vector has run, and is only shared with this
/// process's threads. A page that is not mapped for the access is faulted in without any lock
/// (faulting may wait for as long as user space wants: userfaultfd, FUSE, a slow swap device;
/// it is killable), and the operands are pinned again under the lock. The CPU hotplug lock is
/// only taken, under it, when the target CPU is offline; an idle target's runqueue lock and the
/// vectors' lock ([`VectorLock`]) only around the execution of the vector, which neither faults
/// nor sleeps: nothing a caller controls can hold them for long.
///
/// Out of line: the paths without pins stay compact.
#[inline(never)]
fn execute_pinned<'m>(
    task: &CurrentTask,
    mm: &'m MmWithUser,
    layout: &VecLayout<'_>,
    cpu: CpuId,
    mut in_mm: Option<MmapReadGuard<'m>>,
) -> Result<isize> {
    let ops = layout.ops;
    let mut unshare: Unshare = [false; PAGES_MAX];
    // Whether the last pass under the lock found a page to fault in (or to pin for writing):
    // from then on, every pass faults the operands in first.
    let mut fault_in = false;
    let mut pinned = PinnedVec::new(layout);
    for attempt in 1..=MAX_ATTEMPTS {
        // An attempt that finds a page missing faults the operands in and pins again, once.
        let mut faulted_in = false;
        loop {
            let guard = match in_mm.take() {
                // Checked against the policy already.
                Some(guard) => guard,
                None => {
                    if task.fatal_signal_pending() {
                        return Err(EINTR);
                    }
                    if fault_in {
                        // Faults are reported here, where they are found: `EFAULT` (`EAGAIN`
                        // if expected). The pins only fault the pages in: they are dropped
                        // when the operands are pinned under the lock.
                        if let Err(e) = pinned.pin(&unshare, Pinning::FaultIn) {
                            if e == EAGAIN {
                                // An expected fault, or memory that cpu_opv refuses by policy,
                                // mapped since the last check (`VM_IO`, `VM_PFNMAP`): tell them
                                // apart.
                                check_policy(ops, &mm.mmap_read_lock_killable()?)?;
                            }
                            return Err(e);
                        }
                        faulted_in = true;
                    }
                    lock_checked(mm, ops)?
                }
            };
            let complete = pinned.pin(&unshare, Pinning::Mapped(&guard))?;
            if let Some(more) = cow_unstable(&pinned, &guard) {
                for (u, m) in unshare.iter_mut().zip(more.iter()) {
                    *u |= m;
                }
                fault_in = true;
                trace::retry(attempt, trace::Retry::Unshare);
                break;
            }
            if !complete {
                fault_in = true;
                if faulted_in {
                    // Faulted in without the lock, and gone again under it.
                    trace::retry(attempt, trace::Retry::Remapped);
                    break;
                }
                continue;
            }
            debug::delay_dispatch();
            let mut mapped = MappedVec::new();
            if pinned.map(&mut mapped).is_none() {
                // Never: `pin()` returned an invalid operand's fault, and pinned every page for
                // the access its operands need, each in the direct map (without `CONFIG_HIGHMEM`,
                // which cpu_opv's 64-bit kernels do not have, no page address is null).
                return Err(EFAULT);
            }
            let ret = dispatch(Memory::Pinned(&mapped), cpu)?.unwrap_or(0);
            drop(guard);
            let ran = if ret == 0 { ops.iter().count() } else { ret };
            pinned.set_dirty(ran);
            return Ok(ret as isize);
        }
    }
    Err(EAGAIN)
}

/// A vector to run, and how its operations reach their memory.
#[derive(Clone, Copy)]
enum Memory<'a, 'm> {
    /// No operation accesses memory.
    None(&'a MappedVec<'m>),
    /// Through the caller's page tables ([`run_in_mm`]): the vector can only run on the caller's
    /// CPU, in its mm.
    InMm(&'a OpVec),
    /// Through the kernel's direct map of the pages of the operands ([`run`]), kept mapped by the
    /// page tables locked in [`run_locked`]: like [`Memory::InMm`], the vector can only run on
    /// the caller's CPU.
    Locked(&'a MappedVec<'m>),
    /// Through the kernel's direct map of the pinned operands ([`run`]): anywhere.
    Pinned(&'a MappedVec<'m>),
}

/// Runs the vector on `cpu`, its operands' memory reached as `memory` says: here if `cpu` is the
/// current CPU, here under `cpu`'s runqueue lock if it is idle (without waking it up), on `cpu`
/// in an IPI, or here if it is offline. Returns what the interpreter returned, or `None` if the
/// vector did not run: [`Memory::InMm`] or [`Memory::Locked`] for a CPU that runs another task,
/// or that is offline, or a vector that [`run_in_mm`] did not run (nothing was written). Called
/// with the mmap read lock held if `memory` is not [`Memory::None`], and with `cpu` from
/// [`target_cpu`].
fn dispatch(memory: Memory<'_, '_>, cpu: CpuId) -> Result<Option<usize>> {
    let mut ret = Some(0);
    // Where the vector ran, for `cpu_opv_dispatch`: on the target CPU in an IPI, or in the caller,
    // on the target CPU (local) or for it (idle; offline is told apart after the call).
    let mut mode = trace::Mode::Ipi;
    let mut hotplug = false;
    let mut irqoff_ns = 0;
    // Runs the vector here, with interrupts off. If `abort`, it runs in an IPI on `cpu`, in a task
    // other than the caller: that task's rseq critical section is aborted first, inside the
    // interrupts-off time that the debug statistic measures.
    let mut run_vector = |irq_off: &LocalInterruptDisabled, abort: bool| {
        let stamp = irqoff::start();
        // The clock is read only while `cpu_opv_dispatch` is enabled.
        let traced = trace::dispatch_enabled().then(Instant::<Monotonic>::now);
        if abort {
            rseq::abort_current_critical_section(irq_off);
        }
        // SAFETY: `cpu` came from `target_cpu()`, which found it in the caller's allowed CPUs,
        // all of which are possible CPUs.
        let serialised = unsafe { VectorLock::lock(cpu, irq_off) };
        ret = match memory {
            Memory::None(vec) | Memory::Pinned(vec) | Memory::Locked(vec) => Some(run(vec)),
            // Only ever called in the caller's mm, on its CPU: see below.
            Memory::InMm(ops) => run_in_mm(ops),
        };
        drop(serialised);
        irqoff::record(stamp);
        if let Some(start) = traced {
            irqoff_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(0);
        }
    };
    // The current CPU: the vector runs here, in the caller, which is in this system call, not in
    // an rseq critical section (the other tasks of this CPU were scheduled out, which aborts
    // theirs already). Interrupts go off before the CPU is compared, so that the task cannot
    // migrate in between.
    let irq_off = kernel::interrupt::local_interrupt_disable();
    let local = CpuId::current() == cpu;
    if local {
        mode = trace::Mode::Local;
        run_vector(&irq_off, false);
    }
    drop(irq_off);
    // An idle `cpu` runs no task until the closure returns: the vector runs here, in the caller,
    // without an IPI that would wake `cpu` up.
    let ran = local
        || (!debug::ipi_only()
            && smp::call_on_idle_cpu(cpu, &mut |irq_off: &LocalInterruptDisabled| {
                mode = trace::Mode::Idle;
                run_vector(irq_off, false);
            })
            .is_ok())
        || match memory {
            // The handler would run in the task that an IPI interrupts, or for an offline CPU:
            // not for a vector that must run in the caller's mm, nor one whose page tables stay
            // locked here while another CPU runs it.
            Memory::InMm(_) | Memory::Locked(_) => false,
            Memory::None(_) | Memory::Pinned(_) => {
                // The caller's identity, for the handler to compare with the task it interrupts
                // (its address: a `usize` keeps the handler `Send`).
                let caller = Task::current_raw() as usize;
                let mut handler = |irq_off: &LocalInterruptDisabled| {
                    // The task this interrupts on `cpu` may be in an rseq critical section on
                    // the vector's memory: abort it. Unless it is the caller itself, which is in
                    // this system call, not in a critical section: for an offline `cpu`, or on
                    // `cpu` if the caller moved there meanwhile (the call then runs here).
                    let interrupted = Task::current_raw() as usize != caller;
                    // The caller, on `cpu`: it moved there. Off it, `cpu` is offline (below).
                    if !interrupted && CpuId::current() == cpu {
                        mode = trace::Mode::Local;
                    }
                    run_vector(irq_off, interrupted);
                };
                let offline;
                (hotplug, offline) = call_or_run_offline(cpu, &mut handler)?;
                if offline {
                    mode = trace::Mode::Offline;
                }
                true
            }
        };
    // A vector that `run_in_mm()` did not run has written nothing.
    let Some(ret) = ret else {
        return Ok(None);
    };
    if !ran {
        return Ok(None);
    }
    // Process context, with the mmap read lock held but for `Memory::None`, and for
    // `Memory::Locked` the page table locks (spinlocks): a trace event may be emitted there.
    let pinned = matches!(memory, Memory::Pinned(_));
    trace::dispatch(cpu, mode, hotplug, pinned, irqoff_ns);
    Ok(Some(ret))
}

/// Runs `handler` on `cpu` in an IPI or, if `cpu` is offline, here, keeping it from coming online
/// meanwhile. Returns whether CPU hotplug had to be held off (the CPU was offline at first), and
/// whether the handler ran here (it stayed offline).
fn call_or_run_offline<F: FnMut(&LocalInterruptDisabled) + Send>(
    cpu: CpuId,
    handler: &mut F,
) -> Result<(bool, bool)> {
    match smp::call_function_single(cpu, handler) {
        Err(e) if e == ENXIO => {}
        other => return other.map(|()| (false, false)),
    }
    // The CPU is offline, or was. Keep it from coming online, then look again.
    let _hotplug = kernel::cpu::HotplugReadGuard::lock();
    match smp::call_function_single(cpu, handler) {
        Err(e) if e == ENXIO => {}
        other => return other.map(|()| (true, false)),
    }
    // It stays offline and runs nothing: the vector runs here, with interrupts off, as it would
    // in an IPI.
    let irq_off = kernel::interrupt::local_interrupt_disable();
    handler(&irq_off);
    drop(irq_off);
    Ok((true, true))
}

/// The lock that serialises the vectors for one CPU (`cpu_opv_lock_vectors()`, a per-CPU raw
/// spinlock in `kernel/cpu_opv_sys.c`), held while the vector runs.
///
/// Every vector runs under its target CPU's, whichever CPU runs it: the target itself (in an IPI,
/// or for its own caller), or the caller, for an idle or an offline target. The runqueue lock
/// that keeps an idle target idle does not keep an IPI from running another caller's vector on
/// it, nor does the IPI's exclude a caller for an idle or an offline target.
///
/// # Invariants
///
/// The lock of CPU `self.cpu` is held, with interrupts off until the guard is dropped.
struct VectorLock<'a> {
    cpu: CpuId,
    _irq_off: PhantomData<&'a LocalInterruptDisabled>,
}

impl<'a> VectorLock<'a> {
    /// Takes the lock of `cpu`'s vectors. Interrupts stay off (`irq_off`) while it is held:
    /// the IPI handler takes it too.
    ///
    /// # Safety
    ///
    /// `cpu` is a possible CPU (a [`CpuId`] is only below `nr_cpu_ids`): the locks are per-CPU
    /// variables, which only possible CPUs have.
    unsafe fn lock(cpu: CpuId, _irq_off: &'a LocalInterruptDisabled) -> Self {
        // SAFETY: `cpu` is a possible CPU (the function's safety requirement), whose lock the
        // initcall initialised before user space could call cpu_opv(). Interrupts are off (the
        // token) for as long as the guard, which borrows the token, lives.
        unsafe { bindings::cpu_opv_lock_vectors(cpu.as_u32()) };
        // INVARIANT: The lock was just taken.
        Self {
            cpu,
            _irq_off: PhantomData,
        }
    }
}

impl Drop for VectorLock<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, this CPU holds the lock of `self.cpu`.
        unsafe { bindings::cpu_opv_unlock_vectors(self.cpu.as_u32()) };
    }
}

/// Trace events of the `cpu_opv` system: `include/trace/events/cpu_opv.h`.
///
/// The tracepoints, and the `rust_do_trace_*()` functions that emit them for Rust, are defined
/// in `kernel/cpu_opv_sys.c`. Each function here is a static branch, patched in only while its
/// event is enabled, around a call of that C function, which builds the record; the arguments
/// are values the caller has at hand, so a disabled event computes nothing. Without
/// `CONFIG_TRACEPOINTS` the functions are empty.
///
/// No event is emitted with interrupts off: the code that runs a vector only notes where it ran
/// (and reads the clock while `cpu_opv_dispatch` is enabled), and `dispatch()` emits
/// `cpu_opv_dispatch` once the vector is done.
mod trace {
    use kernel::{
        bindings,
        cpu::CpuId,
        ffi::{c_int, c_long, c_uint},
        tracepoint::declare_trace,
    };

    declare_trace! {
        /// `cpu_opv_enter`: a call, with its arguments as passed.
        ///
        /// # Safety
        ///
        /// RCU must be watching (any process context).
        unsafe fn cpu_opv_enter(cpu: c_int, cpuopcnt: c_int, flags: c_int);

        /// `cpu_opv_exit`: what the call returns.
        ///
        /// # Safety
        ///
        /// RCU must be watching (any process context).
        unsafe fn cpu_opv_exit(ret: c_long);

        /// `cpu_opv_retry`: attempt `attempt` (from 1) could not pin the operands under the lock.
        ///
        /// # Safety
        ///
        /// RCU must be watching (any process context).
        unsafe fn cpu_opv_retry(attempt: c_uint, reason: bindings::cpu_opv_retry_reason);

        /// `cpu_opv_dispatch`: a vector for `cpu` ran, as `mode` says, its operands `pinned` or
        /// not, with interrupts off for `irqoff_ns`.
        ///
        /// # Safety
        ///
        /// RCU must be watching (any process context).
        unsafe fn cpu_opv_dispatch(
            cpu: c_uint,
            mode: bindings::cpu_opv_dispatch_mode,
            hotplug: bool,
            pinned: bool,
            irqoff_ns: u64,
        );
    }

    /// Where a vector ran: `enum cpu_opv_dispatch_mode`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(u32)]
    pub(super) enum Mode {
        /// On the calling CPU, which was the target CPU.
        Local = bindings::cpu_opv_dispatch_mode_CPU_OPV_DISPATCH_LOCAL,
        /// On the target CPU, in an IPI.
        Ipi = bindings::cpu_opv_dispatch_mode_CPU_OPV_DISPATCH_IPI,
        /// On the calling CPU, for an offline target CPU.
        Offline = bindings::cpu_opv_dispatch_mode_CPU_OPV_DISPATCH_OFFLINE,
        /// On the calling CPU, for an idle target CPU, under its runqueue lock.
        Idle = bindings::cpu_opv_dispatch_mode_CPU_OPV_DISPATCH_IDLE,
    }

    /// Why the operands are pinned again: `enum cpu_opv_retry_reason`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(u32)]
    pub(super) enum Retry {
        /// A page faulted in without the lock was not mapped under it any more.
        Remapped = bindings::cpu_opv_retry_reason_CPU_OPV_RETRY_REMAPPED,
        /// A read operand is pinned again for writing, to break copy-on-write.
        Unshare = bindings::cpu_opv_retry_reason_CPU_OPV_RETRY_UNSHARE,
    }

    /// Emits `cpu_opv_enter`. Called from the system call.
    #[inline(always)]
    pub(super) fn enter(cpu: i32, cpuopcnt: i32, flags: i32) {
        // SAFETY: The system call runs in process context, where RCU is watching.
        unsafe { cpu_opv_enter(cpu, cpuopcnt, flags) }
    }

    /// Emits `cpu_opv_exit`. Called from the system call.
    #[inline(always)]
    pub(super) fn exit(ret: isize) {
        // SAFETY: The system call runs in process context, where RCU is watching.
        unsafe { cpu_opv_exit(ret) }
    }

    /// Emits `cpu_opv_retry`. Called from [`execute`](super::execute).
    #[inline(always)]
    pub(super) fn retry(attempt: usize, reason: Retry) {
        // SAFETY: `execute()` runs in process context, where RCU is watching. `attempt` is at
        // most `MAX_ATTEMPTS`: the conversion does not truncate.
        unsafe { cpu_opv_retry(attempt as c_uint, reason as bindings::cpu_opv_retry_reason) }
    }

    /// Emits `cpu_opv_dispatch`. Called from [`dispatch`](super::dispatch), with interrupts on.
    #[inline(always)]
    pub(super) fn dispatch(cpu: CpuId, mode: Mode, hotplug: bool, pinned: bool, irqoff_ns: u64) {
        // SAFETY: `dispatch()` runs in process context, where RCU is watching.
        unsafe {
            cpu_opv_dispatch(
                cpu.as_u32(),
                mode as bindings::cpu_opv_dispatch_mode,
                hotplug,
                pinned,
                irqoff_ns,
            )
        }
    }

    /// Whether `cpu_opv_dispatch` is enabled: a static branch, patched in only while it is, so
    /// that the clock is read for it only then. Any context.
    #[cfg(CONFIG_TRACEPOINTS)]
    #[inline(always)]
    pub(super) fn dispatch_enabled() -> bool {
        // SAFETY: The static key of a tracepoint may always be queried, as `declare_trace!`
        // does.
        unsafe {
            kernel::jump_label::static_branch_unlikely!(
                bindings::__tracepoint_cpu_opv_dispatch,
                bindings::tracepoint,
                key
            )
        }
    }

    /// Without `CONFIG_TRACEPOINTS`: never.
    #[cfg(not(CONFIG_TRACEPOINTS))]
    #[inline(always)]
    pub(super) fn dispatch_enabled() -> bool {
        false
    }
}

// How long each vector keeps interrupts off, recorded for debugging. The file is a crate root:
// its modules' paths are relative to `kernel/`.
#[cfg(CONFIG_CPU_OPV_DEBUG_IRQOFF)]
#[path = "cpu_opv/irqoff.rs"]
mod irqoff;

/// Without `CONFIG_CPU_OPV_DEBUG_IRQOFF`: nothing is recorded.
#[cfg(not(CONFIG_CPU_OPV_DEBUG_IRQOFF))]
mod irqoff {
    use kernel::prelude::*;

    /// Nothing: the start of a vector is not noted.
    pub(super) struct Stamp;

    /// Does nothing.
    #[inline(always)]
    pub(super) fn start() -> Stamp {
        Stamp
    }

    /// Does nothing.
    #[inline(always)]
    pub(super) fn record(_stamp: Stamp) {}

    /// Does nothing.
    pub(super) fn init() -> Result {
        Ok(())
    }
}

/// `/sys/kernel/debug/cpu_opv`, the directory of the debug-only files, made by the first of
/// them. Only called at init, by the debug options' `init()` functions that [`cpu_opv_init`]
/// calls.
#[cfg(any(CONFIG_CPU_OPV_DEBUG_IRQOFF, CONFIG_CPU_OPV_DEBUG_DELAY))]
fn debugfs_dir() -> Option<&'static kernel::debugfs::Dir> {
    static DIR: kernel::sync::SetOnce<kernel::debugfs::Dir> = kernel::sync::SetOnce::new();
    if DIR.as_ref().is_none() {
        DIR.populate(kernel::debugfs::Dir::new(c"cpu_opv"));
    }
    DIR.as_ref()
}

// Debug-only knobs that make the races of `execute()` and `dispatch()` testable.
#[cfg(CONFIG_CPU_OPV_DEBUG_DELAY)]
#[path = "cpu_opv/debug.rs"]
mod debug;

/// Without `CONFIG_CPU_OPV_DEBUG_DELAY`: no delay.
#[cfg(not(CONFIG_CPU_OPV_DEBUG_DELAY))]
mod debug {
    use kernel::prelude::*;

    /// Does nothing.
    pub(super) fn init() -> Result {
        Ok(())
    }

    /// Does nothing.
    #[inline(always)]
    pub(super) fn delay_lock() {}

    /// Does nothing.
    #[inline(always)]
    pub(super) fn delay_dispatch() {}

    /// Does nothing.
    #[inline(always)]
    pub(super) fn delay_in_vector() {}

    /// Never: vectors for idle CPUs take the idle path.
    #[inline(always)]
    pub(super) fn ipi_only() -> bool {
        false
    }

    /// Never: vectors that can run in the caller's mm do.
    #[inline(always)]
    pub(super) fn pinned_only() -> bool {
        false
    }
}

/// Initialises cpu_opv, from an initcall in `kernel/cpu_opv_sys.c`.
#[export]
pub extern "C" fn cpu_opv_init() {
    if let Err(e) = irqoff::init() {
        pr_warn!("no irq-off statistic: {e:?}\n");
    }
    if let Err(e) = debug::init() {
        pr_warn!("no debug knobs: {e:?}\n");
    }
}

/// The system call, with its arguments in Rust types.
fn cpu_opv(uptr: UserPtr, cpuopcnt: i32, cpu: i32, flags: i32) -> Result<isize> {
    match Request::from_flags(flags)? {
        Request::QueryNrOps => return Ok(NR_OP_TYPES as isize),
        Request::QueryVecLenMax => return Ok(VEC_LEN_MAX as isize),
        Request::Execute => {}
    }
    let count = usize::try_from(cpuopcnt)
        .ok()
        .filter(|&n| n <= VEC_LEN_MAX)
        .ok_or(EINVAL)?;
    let task = current!();
    let cpu = target_cpu(task, cpu)?;
    let mut ops = OpVec::empty();
    copy_in(uptr, count, &mut ops)?;
    execute(task, &ops, cpu)
}

/// The `cpu_opv()` system call, called from its `SYSCALL_DEFINE4()` in `kernel/cpu_opv_sys.c`.
///
/// Returns the answer to a query, 0 when the vector ran to completion, the index + 1 of the
/// compare operation that stopped it, or a negative errno.
///
/// # Safety
///
/// Must be called from process context on behalf of the current task. `ucpuopv` is a user-space
/// pointer: it is only ever accessed through the user-copy functions, so any value is allowed.
#[export]
pub unsafe extern "C" fn cpu_opv_syscall(
    ucpuopv: *mut bindings::cpu_op,
    cpuopcnt: c_int,
    cpu: c_int,
    flags: c_int,
) -> c_long {
    trace::enter(cpu, cpuopcnt, flags);
    let ret = match cpu_opv(UserPtr::from_ptr(ucpuopv.cast()), cpuopcnt, cpu, flags) {
        Ok(ret) => ret,
        Err(err) => err.to_errno() as c_long,
    };
    trace::exit(ret);
    ret
}

#[kunit_tests(cpu_opv)]
mod tests {
    use super::*;

    /// Builds a raw operation as user space lays it out.
    fn raw(op: i32, len: u32, w0: u64, w1: u64, f0: u8, f1: u8) -> RawOp {
        let mut b = [0u8; RAW_OP_SIZE];
        b[layout::OP..layout::OP + 4].copy_from_slice(&op.to_ne_bytes());
        b[layout::LEN..layout::LEN + 4].copy_from_slice(&len.to_ne_bytes());
        b[layout::WORD0..layout::WORD0 + 8].copy_from_slice(&w0.to_ne_bytes());
        b[layout::WORD1..layout::WORD1 + 8].copy_from_slice(&w1.to_ne_bytes());
        b[layout::FAULT0] = f0;
        b[layout::FAULT1] = f1;
        RawOp(b)
    }

    const EQ: i32 = bindings::cpu_op_type_CPU_COMPARE_EQ_OP as i32;
    const NE: i32 = bindings::cpu_op_type_CPU_COMPARE_NE_OP as i32;
    const MEMCPY: i32 = bindings::cpu_op_type_CPU_MEMCPY_OP as i32;
    const MEMCPY_RELEASE: i32 = bindings::cpu_op_type_CPU_MEMCPY_RELEASE_OP as i32;
    const ADD: i32 = bindings::cpu_op_type_CPU_ADD_OP as i32;
    const ADD_RELEASE: i32 = bindings::cpu_op_type_CPU_ADD_RELEASE_OP as i32;

    #[test]
    fn flags_decode() {
        assert_eq!(Request::from_flags(0), Ok(Request::Execute));
        assert_eq!(Request::from_flags(1), Ok(Request::QueryNrOps));
        assert_eq!(Request::from_flags(2), Ok(Request::QueryVecLenMax));
        for bad in [3, 4, 8, -1, i32::MIN, i32::MAX] {
            assert_eq!(Request::from_flags(bad), Err(EINVAL));
        }
    }

    #[test]
    fn every_op_code_decodes() {
        let a = raw(EQ, 7, 0x1000, 0x2000, 1, 0);
        assert_eq!(
            Op::new(&a),
            Ok(Op::Compare {
                kind: Compare::Eq,
                a: Operand {
                    addr: 0x1000,
                    expect_fault: true
                },
                b: Operand {
                    addr: 0x2000,
                    expect_fault: false
                },
                len: DataLen(7),
            })
        );
        assert!(matches!(
            Op::new(&raw(NE, 0, 0, 0, 0, 0)),
            Ok(Op::Compare {
                kind: Compare::Ne,
                ..
            })
        ));
        assert_eq!(
            Op::new(&raw(MEMCPY_RELEASE, 4096, 0x3001, 0x4003, 0, 1)),
            Ok(Op::Memcpy {
                dst: Operand {
                    addr: 0x3001,
                    expect_fault: false
                },
                src: Operand {
                    addr: 0x4003,
                    expect_fault: true
                },
                len: DataLen(4096),
                order: Ordering::Release,
            })
        );
        assert!(matches!(
            Op::new(&raw(MEMCPY, 1, 0, 0, 0, 0)),
            Ok(Op::Memcpy {
                order: Ordering::Relaxed,
                ..
            })
        ));
        assert_eq!(
            Op::new(&raw(ADD, 8, 0x5008, (-3i64) as u64, 1, 0)),
            Ok(Op::Add {
                p: Operand {
                    addr: 0x5008,
                    expect_fault: true
                },
                count: -3,
                width: Width::U64,
                order: Ordering::Relaxed,
            })
        );
        assert!(matches!(
            Op::new(&raw(ADD_RELEASE, 2, 0x10, 1, 0, 0)),
            Ok(Op::Add {
                width: Width::U16,
                order: Ordering::Release,
                ..
            })
        ));
        for bad in [-1, 6, 7, i32::MAX, i32::MIN] {
            assert_eq!(Op::new(&raw(bad, 0, 0, 0, 0, 0)), Err(EINVAL));
        }
    }

    #[test]
    fn lengths() {
        for op in [EQ, NE, MEMCPY, MEMCPY_RELEASE] {
            for ok in [0, 1, 7, 8, 9, 4095, 4096] {
                assert!(Op::new(&raw(op, ok, 0, 0, 0, 0)).is_ok());
            }
            for bad in [4097, 8192, u32::MAX] {
                assert_eq!(Op::new(&raw(op, bad, 0, 0, 0, 0)), Err(EINVAL));
            }
        }
        for op in [ADD, ADD_RELEASE] {
            for ok in [1, 2, 4, 8] {
                assert!(Op::new(&raw(op, ok, 0x1000, 0, 0, 0)).is_ok());
            }
            for bad in [0, 3, 5, 6, 7, 9, 16, u32::MAX] {
                assert_eq!(Op::new(&raw(op, bad, 0x1000, 0, 0, 0)), Err(EINVAL));
            }
        }
    }

    #[test]
    fn add_alignment() {
        for (len, addr, ok) in [
            (1, 0x1001, true),
            (2, 0x1002, true),
            (2, 0x1001, false),
            (4, 0x1004, true),
            (4, 0x1002, false),
            (8, 0x1008, true),
            (8, 0x1004, false),
            (8, 0x1ff9, false),
        ] {
            assert_eq!(Op::new(&raw(ADD, len, addr, 0, 0, 0)).is_ok(), ok);
        }
    }

    #[test]
    fn expect_fault_values() {
        for op in [EQ, MEMCPY] {
            assert!(Op::new(&raw(op, 8, 0, 0, 1, 1)).is_ok());
            assert_eq!(Op::new(&raw(op, 8, 0, 0, 2, 0)), Err(EINVAL));
            assert_eq!(Op::new(&raw(op, 8, 0, 0, 0, 0xff)), Err(EINVAL));
        }
        assert_eq!(Op::new(&raw(ADD, 8, 0, 0, 2, 0)), Err(EINVAL));
        // The byte after `expect_fault_p` is padding for an ADD: v9 callers never zeroed it.
        assert!(Op::new(&raw(ADD, 8, 0, 0, 1, 0xff)).is_ok());
    }

    #[test]
    fn vectors_that_run_in_the_callers_mm() {
        let runs = |raw: &[RawOp]| OpVec::new(raw).map(|v| v.runs_in_mm());
        let add = raw(ADD_RELEASE, 8, 0x1000, 1, 0, 0);
        let cmp = raw(EQ, 8, 0x1008, 0x2000, 0, 0);
        let copy = raw(MEMCPY, 4, 0x1004, 0x2004, 0, 0);
        let empty = raw(MEMCPY, 0, 0x1001, 0x2003, 0, 0);
        // Word operands, one store at the end.
        assert_eq!(runs(&[]), Ok(true));
        assert_eq!(runs(&[add]), Ok(true));
        assert_eq!(runs(&[cmp, cmp, cmp, add]), Ok(true));
        assert_eq!(runs(&[cmp, copy]), Ok(true));
        assert_eq!(runs(&[cmp, raw(NE, 2, 0x1002, 0x2006, 0, 0)]), Ok(true));
        // Zero-length operations access nothing, wherever they are.
        assert_eq!(runs(&[empty, add, empty]), Ok(true));
        // A second store, or an access after the store: a fault could come after a store.
        assert_eq!(runs(&[add, add]), Ok(false));
        assert_eq!(runs(&[copy, add]), Ok(false));
        assert_eq!(runs(&[add, cmp]), Ok(false));
        // Operands that are not naturally aligned words.
        assert_eq!(runs(&[raw(EQ, 16, 0x1000, 0x2000, 0, 0)]), Ok(false));
        assert_eq!(runs(&[raw(EQ, 3, 0x1000, 0x2000, 0, 0)]), Ok(false));
        assert_eq!(runs(&[raw(EQ, 8, 0x1000, 0x2004, 0, 0)]), Ok(false));
        assert_eq!(runs(&[raw(MEMCPY, 8, 0x1004, 0x2000, 0, 0)]), Ok(false));
        assert_eq!(
            runs(&[raw(MEMCPY_RELEASE, 2, 0x1000, 0x2001, 0, 0)]),
            Ok(false)
        );
        assert_eq!(runs(&[raw(MEMCPY, 4096, 0x1000, 0x3000, 0, 0)]), Ok(false));

        // A compare that stops the vector before an operation that accesses memory sends it to
        // the pinned path, which reports that operation's faults.
        let v = OpVec::new(&[cmp, add]).expect("a valid vector");
        assert_eq!(stopped(&v, 0), None);
        let v = OpVec::new(&[cmp, cmp]).expect("a valid vector");
        assert_eq!(stopped(&v, 0), None);
        assert_eq!(stopped(&v, 1), Some(2));
        let v = OpVec::new(&[cmp, empty, raw(NE, 0, 0, 0, 0, 0)]).expect("a valid vector");
        assert_eq!(stopped(&v, 0), Some(1));
        assert_eq!(stopped(&v, 2), Some(3));
    }

    #[test]
    fn vector_limits() {
        let big = raw(MEMCPY, 4096, 0, 0, 0, 0);
        let word = raw(ADD, 8, 0, 1, 0, 0);
        let v = OpVec::new(&[big, word, word, word]).expect("4120 bytes is the limit");
        assert_eq!(v.len, 4);
        assert_eq!(v.ops.iter().flatten().map(Op::len).sum::<usize>(), 4120);

        let nine = raw(EQ, 9, 0, 0, 0, 0);
        assert_eq!(OpVec::new(&[big, word, word, nine]), Err(EINVAL));
        assert_eq!(OpVec::new(&[big, big]), Err(EINVAL));
        assert_eq!(OpVec::new(&[word; 5]), Err(EINVAL));
        assert_eq!(OpVec::new(&[]).map(|v| v.len), Ok(0));
        // An invalid op anywhere refuses the whole vector.
        assert_eq!(
            OpVec::new(&[word, word, word, raw(ADD, 3, 0, 0, 0, 0)]),
            Err(EINVAL)
        );
    }

    #[test]
    fn segments_split_at_page_boundaries() {
        if PAGE_SIZE != 4096 {
            // The addresses below are split for 4 KiB pages.
            return;
        }
        assert_eq!(Segments::new(0x1234, 0), Ok(None));
        let split = |offset, head, rest| Split { offset, head, rest };
        // Whether the operand goes on to the next page, against the number of pages its range
        // touches, counted on its own.
        let goes_on = |seg: &Segments| {
            let pages = (seg.offset + seg.len).div_ceil(PAGE_SIZE);
            assert_eq!(seg.split().goes_on(), pages == 2);
            pages == 2
        };
        let seg = Segments::new(0x1000, 4096).unwrap().unwrap();
        let one = seg.split();
        assert_eq!(one, split(0, 4096, 0));
        assert!(!goes_on(&seg));
        let seg = Segments::new(0x1ff9, 8).unwrap().unwrap();
        assert_eq!((seg.page, seg.offset), (0x1000, 0xff9));
        let two = seg.split();
        assert_eq!(two, split(0xff9, 7, 1));
        assert!(goes_on(&seg));
        let seg = Segments::new(0x2001, 4096).unwrap().unwrap();
        assert_eq!(seg.split(), split(1, 4095, 1));
        assert!(goes_on(&seg));
        // The longest rest: one byte on the first page.
        let seg = Segments::new(0x2fff, 4096).unwrap().unwrap();
        assert_eq!(seg.split(), split(0xfff, 1, 4095));
        assert!(goes_on(&seg));
        // The pieces on pages at other addresses (never accessed): the first at the offset, the
        // rest at the start of the next page, which an operand that goes on needs.
        let at = |addr: usize| NonNull::new(core::ptr::without_provenance_mut::<u8>(addr));
        let (a, b) = (at(0x10000).unwrap(), at(0x30000));
        let piece = |addr: usize, len: usize| (core::ptr::without_provenance_mut::<u8>(addr), len);
        assert_eq!(
            one.pieces(a, None),
            Some(([piece(0x10000, 4096), piece(0x10000, 0)], 1))
        );
        assert_eq!(
            two.pieces(a, b),
            Some(([piece(0x10ff9, 7), piece(0x30000, 1)], 2))
        );
        assert_eq!(two.pieces(a, None), None);
        // An operand that ends at the end of its page does not go on, whatever `next` is.
        assert_eq!(one.pieces(a, b), one.pieces(a, None));
        let seg = Segments::new(0x1ff8, 8).unwrap().unwrap();
        assert!(!goes_on(&seg));
        let last = seg.split();
        assert_eq!(
            last.pieces(a, b),
            Some(([piece(0x10ff8, 8), piece(0x10000, 0)], 1))
        );
        // A range that wraps around the address space is a fault, not a crash.
        assert_eq!(Segments::new(u64::MAX - 3, 8), Err(EFAULT));
        assert_eq!(Segments::new(0, 4097), Err(EINVAL));
    }

    #[test]
    fn vectors_without_memory_map_without_any() {
        // What `execute_without_memory()` runs: an empty vector, compares and copies of no bytes.
        let empty = raw(MEMCPY, 0, 0x1001, 0x2003, 0, 0);
        let none = raw(NE, 0, 0, 0, 0, 0);
        let mut mapped = MappedVec::new();
        for raw_ops in [&[][..], &[empty, none], &[none, empty, empty, none]] {
            let v = OpVec::new(raw_ops).expect("a valid vector");
            assert_eq!(mapped.map(&v, &mut NoMemory), Some(()));
            assert_eq!(mapped.iter().count(), raw_ops.len());
            assert!(mapped.iter().all(|op| match op {
                MappedOp::Compare { a, b, .. } => a.len() == 0 && b.len() == 0,
                MappedOp::Memcpy { dst, src, .. } => dst.0.len() == 0 && src.len() == 0,
                MappedOp::Add { .. } => false,
            }));
        }
        // Any operation with memory to access has none to map, and the vector none at all.
        for raw_ops in [
            &[empty, raw(ADD, 8, 0x1000, 1, 0, 0)][..],
            &[raw(EQ, 1, 0x1000, 0x2000, 0, 0)],
            &[none, raw(MEMCPY, 8, 0x1000, 0x2000, 0, 0)],
        ] {
            let v = OpVec::new(raw_ops).expect("a valid vector");
            assert_eq!(mapped.map(&v, &mut NoMemory), None);
            assert_eq!(mapped.iter().count(), 0);
        }
    }

    #[test]
    fn operands_are_laid_out_on_distinct_pages() -> Result {
        if PAGE_SIZE != 4096 {
            // The addresses below are laid out for 4 KiB pages.
            return Ok(());
        }
        // The benchmark's worst case: a page copied, each side across two pages, an add on the
        // source's first page, and two adds on one more page.
        let ops = OpVec::new(&[
            raw(MEMCPY, 4096, 0x10800, 0x20800, 0, 1),
            raw(ADD, 8, 0x20800, 1, 0, 0),
            raw(ADD, 8, 0x30008, 1, 0, 0),
            raw(ADD, 8, 0x30010, 1, 0, 0),
        ])
        .expect("valid vector");
        let mut layout = VecLayout::new();
        layout.lay_out(&ops);
        // Each page once, written if any operand on it is: the source's second page is only read.
        let want = [
            (0x10000, true),
            (0x11000, true),
            (0x20000, true),
            (0x21000, false),
            (0x30000, true),
        ];
        assert_eq!(layout.pages().len(), want.len());
        for (page, &(addr, written)) in layout.pages().iter().zip(want.iter()) {
            assert_eq!((page.addr, page.write), (addr, written));
        }
        // The page indices of a slot, and no more.
        let indices = |slot: &Slot| {
            let mut indices = slot.page_indices();
            [indices.next(), indices.next(), indices.next()]
        };
        let at = |i: usize| match &layout.slots[i] {
            slot @ Slot::At { write, fault, .. } => Some((*write, *fault, indices(slot))),
            _ => None,
        };
        let (one, two) = (|a| [Some(a), None, None], |a, b| [Some(a), Some(b), None]);
        assert_eq!(at(0), Some((true, EFAULT, two(0, 1))));
        assert_eq!(at(1), Some((false, EAGAIN, two(2, 3))));
        assert_eq!(at(2), Some((true, EFAULT, one(2))));
        assert_eq!(at(4), Some((true, EFAULT, one(4))));
        assert_eq!(at(6), Some((true, EFAULT, one(4))));
        // An operand on one page has that page's index twice.
        assert!(matches!(layout.slots[4], Slot::At { pages: [4, 4], .. }));
        // An add has one operand: no page.
        for i in [3, 5, 7] {
            assert_eq!(layout.slots[i], Slot::Empty);
            assert_eq!(at(i), None);
            assert_eq!(layout.slots[i].page_indices().count(), 0);
        }

        // A range that wraps around the address space is its operand's fault, for the pinned path
        // to report; the operands before it are laid out.
        let ops = OpVec::new(&[
            raw(ADD, 8, 0x30008, 1, 0, 0),
            raw(MEMCPY, 16, 0x30010, u64::MAX - 7, 0, 1),
        ])
        .expect("valid vector");
        let mut layout = VecLayout::new();
        layout.lay_out(&ops);
        assert_eq!(layout.pages().len(), 1);
        assert!(matches!(layout.slots[3], Slot::Invalid(e) if e == EAGAIN));
        // It cannot be mapped, whatever its valid operands' pages are: the vector cannot run.
        let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        let mut ptrs = [None; PAGES_MAX];
        ptrs[0] = NonNull::new(page.as_mut_ptr());
        let keeper = ();
        let mut mapped = MappedVec::new();
        // SAFETY: The address is that of a buffer of a page, valid for reads and writes while
        // the buffer lives, which is longer than `mapped` (declared after it).
        assert!(unsafe { layout.map(|i| *ptrs.get(i)?, &keeper, &mut mapped) }.is_none());
        // The add before it was mapped, and is gone: nothing of the vector is left to run.
        assert_eq!(mapped.iter().count(), 0);
        Ok(())
    }

    #[test]
    fn the_layout_accesses_operands_as_the_operations_do() {
        // `VecLayout::lay_out()` spells out `Op::operands()`, and `Op::addrs()` their addresses:
        // for each kind of operation, the same operands, written and faulting alike, each on the
        // page of its own address, written as the operand is.
        for (op, f1) in [
            (EQ, 1),
            (NE, 1),
            (MEMCPY, 1),
            (MEMCPY_RELEASE, 1),
            (ADD, 0),
            (ADD_RELEASE, 0),
        ] {
            let ops = OpVec::new(&[raw(op, 8, 0x10000, 0x20000, 0, f1)]).expect("valid vector");
            let mut layout = VecLayout::new();
            layout.lay_out(&ops);
            let op = ops.iter().next();
            assert!(op.is_some());
            let Some(op) = op else {
                return;
            };
            for (operand, slot) in op.operands().iter().zip(&layout.slots) {
                let agree = match (operand, slot) {
                    (
                        Some((operand, len, write)),
                        Slot::At {
                            split,
                            write: laid_out,
                            fault,
                            ..
                        },
                    ) => {
                        let want = if operand.expect_fault { EAGAIN } else { EFAULT };
                        let page = |i: usize| {
                            let page = layout.pages().get(i)?;
                            Some((page.addr as u64, page.write))
                        };
                        *laid_out == *write
                            && *fault == want
                            && (split.head + split.rest) as usize == *len
                            && slot.page_indices().count() == 1
                            && slot
                                .page_indices()
                                .all(|i| page(i) == Some((operand.addr, *write)))
                    }
                    (None, Slot::Empty) => true,
                    _ => false,
                };
                assert!(agree);
            }
        }
    }

    #[test]
    fn the_word_of_an_add_is_laid_out_on_one_page() {
        // `VecPages::slot()`, with `align` the width as `VecLayout::lay_out()` passes it for an
        // add, lays the word of an add out as one piece on one page, for each width, at the start,
        // inside and at the end of a page, and at the end of the address space, each after a page
        // of another operand: on that page if it is the word's, which the word then marks written.
        // The last word of the address space, whose end a `usize` cannot hold, is `Slot::Invalid`
        // as a range that wraps around (`Segments::new()`), and a word that is not aligned is not
        // laid out. Validation never lets such a word through (`Op::new()`): no vector reaches the
        // check, which this test alone covers.
        let page = 0x100000usize;
        let new = || {
            let mut pages = VecPages::new();
            assert_eq!(pages.index_or_add(page + PAGE_SIZE, false), Some(0));
            pages
        };
        for width in [Width::U8, Width::U16, Width::U32, Width::U64] {
            let len = width.bytes();
            for addr in [
                page,
                page + 8,
                page + PAGE_SIZE - len,
                usize::MAX - (len - 1),
                usize::MAX - (2 * len - 1),
                page + PAGE_SIZE,
                page + 2 * PAGE_SIZE - len,
            ] {
                for (expect_fault, fault) in [(false, EFAULT), (true, EAGAIN)] {
                    let mut pages = new();
                    let slot = pages.slot(addr as u64, len, len, true, expect_fault);
                    let last = addr == usize::MAX - (len - 1);
                    assert_eq!(addr.checked_add(len).is_none(), last);
                    if last {
                        assert_eq!(slot, Slot::Invalid(fault));
                        assert_eq!(pages.nr, 1);
                        continue;
                    }
                    let first = addr & !(PAGE_SIZE - 1);
                    let index = if first == page + PAGE_SIZE { 0 } else { 1 };
                    let want = Slot::At {
                        split: Split {
                            offset: (addr % PAGE_SIZE) as u32,
                            head: len as u32,
                            rest: 0,
                        },
                        pages: [index, index],
                        write: true,
                        fault,
                    };
                    assert_eq!(slot, want);
                    assert_eq!(pages.nr, usize::from(index) + 1);
                    let laid_out = pages.as_slice().get(usize::from(index));
                    assert!(laid_out.is_some_and(|p| p.addr == first && p.write));
                }
            }
            if len > 1 {
                // Not aligned, inside a page and across its end: nothing laid out. The same
                // operands, as any other operand, are.
                for (addr, expect_fault, fault) in [
                    (page + 1, false, EFAULT),
                    (page + 1, true, EAGAIN),
                    (page + PAGE_SIZE - 1, false, EFAULT),
                ] {
                    let mut pages = new();
                    let slot = pages.slot(addr as u64, len, len, true, expect_fault);
                    assert_eq!(slot, Slot::Invalid(fault));
                    assert_eq!(pages.nr, 1);
                    let slot = pages.slot(addr as u64, len, 1, true, expect_fault);
                    assert!(matches!(slot, Slot::At { .. }));
                }
            }
        }
    }

    #[test]
    fn the_word_of_an_add_is_mapped_aligned_on_its_page() -> Result {
        // An add of each width, side by side up to the end of a page (of any size), where a word
        // that was not aligned would cross into the next page: `VecLayout::map()` relies on the
        // layout to map each as a `Word` on its page, aligned to its width.
        let end = 0x100000 + PAGE_SIZE;
        let ops = [(1u32, end - 15), (2, end - 14), (4, end - 12), (8, end - 8)];
        let vec = ops.map(|(len, addr)| raw(ADD, len, addr as u64, 1, 0, 0));
        let vec = OpVec::new(&vec).expect("valid vector");
        let mut layout = VecLayout::new();
        layout.lay_out(&vec);
        assert_eq!(layout.pages().len(), 1);
        // A buffer of a page stands for the page: `VecLayout::map()` wants it aligned as one.
        let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        let base = page.as_mut_ptr();
        assert_eq!(base as usize % PAGE_SIZE, 0);
        let mut ptrs = [None; PAGES_MAX];
        ptrs[0] = NonNull::new(base);
        let keeper = ();
        {
            let mut mapped = MappedVec::new();
            // SAFETY: The address is that of a buffer of a page, aligned to `PAGE_SIZE` (checked
            // above), valid for reads and writes while the buffer lives, which is longer than
            // `mapped` (declared after it).
            assert!(unsafe { layout.map(|i| *ptrs.get(i)?, &keeper, &mut mapped) }.is_some());
            let mut n = 0;
            for (op, &(len, addr)) in mapped.iter().zip(&ops) {
                let want = base.wrapping_add(addr % PAGE_SIZE);
                let width = Width::new(len).expect("a width");
                // The word itself, at its offset in the page, of its width.
                let word = match op {
                    MappedOp::Add { word, .. } => Some(word),
                    _ => None,
                };
                assert!(word.is_some_and(|word| word.ptr == want && word.width == width));
                n += 1;
            }
            assert_eq!(n, 4);
            assert_eq!(run(&mapped), 0);
        }
        // Each add added 1 to its word, and nothing else changed.
        let sum = |bytes: &[u8]| bytes.iter().map(|&b| usize::from(b)).sum::<usize>();
        for (len, addr) in ops {
            let off = addr % PAGE_SIZE;
            assert_eq!(page.get(off..off + len as usize).map(sum), Some(1));
        }
        assert_eq!(sum(&page), 4);
        Ok(())
    }

    #[test]
    fn a_layout_maps_each_operand_onto_its_pages() -> Result {
        if PAGE_SIZE != 4096 {
            // The addresses below are laid out for 4 KiB pages.
            return Ok(());
        }
        // Sixteen bytes copied from the end of one page and the start of the next to a third
        // page, which three buffers stand for.
        let ops = OpVec::new(&[raw(MEMCPY, 16, 0x20100, 0x10ff8, 0, 0)]).expect("valid vector");
        let mut layout = VecLayout::new();
        layout.lay_out(&ops);
        let mut dst = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        let mut src = [
            KVec::from_elem(1u8, PAGE_SIZE, GFP_KERNEL)?,
            KVec::from_elem(2u8, PAGE_SIZE, GFP_KERNEL)?,
        ];
        let mut ptrs = [None; PAGES_MAX];
        for (page, ptr) in layout.pages().iter().zip(ptrs.iter_mut()) {
            *ptr = match page.addr {
                0x20000 => NonNull::new(dst.as_mut_ptr()),
                0x10000 => NonNull::new(src[0].as_mut_ptr()),
                0x11000 => NonNull::new(src[1].as_mut_ptr()),
                _ => None,
            };
        }
        assert!(ptrs.iter().take(3).all(Option::is_some));
        let keeper = ();
        {
            let mut mapped = MappedVec::new();
            // SAFETY: Each address is that of a buffer of a page, valid for reads and writes while
            // the buffers live, which is longer than `mapped` (declared after them).
            assert!(unsafe { layout.map(|i| *ptrs.get(i)?, &keeper, &mut mapped) }.is_some());
            // The copy, from two pieces into one, and no other operation.
            let pieces = |op: Option<&MappedOp<'_>>| match op {
                Some(MappedOp::Memcpy { dst, src, .. }) => {
                    Some((dst.0.pieces().len(), src.pieces().len()))
                }
                _ => None,
            };
            assert_eq!(pieces(mapped.iter().next()), Some((1, 2)));
            assert_eq!(mapped.iter().count(), 1);
            assert_eq!(run(&mapped), 0);
        }
        let want: [u8; 16] = core::array::from_fn(|i| if i < 8 { 1 } else { 2 });
        assert_eq!(dst.get(0x100..0x110), Some(&want[..]));
        // Nothing else was written.
        let untouched = |range: &[u8]| range.iter().all(|&b| b == 0);
        assert!(dst.get(..0x100).is_some_and(untouched));
        assert!(dst.get(0x110..).is_some_and(untouched));

        // A page without an address: the vector cannot run.
        ptrs[1] = None;
        let mut mapped = MappedVec::new();
        // SAFETY: As above.
        assert!(unsafe { layout.map(|i| *ptrs.get(i)?, &keeper, &mut mapped) }.is_none());
        assert_eq!(mapped.iter().count(), 0);
        Ok(())
    }

    /// Two separate allocations standing for two pages that are not contiguous in the kernel,
    /// as two pinned user pages are not.
    struct TwoPages([KVec<u8>; 2]);

    impl TwoPages {
        fn new(seed: u8) -> Result<Self> {
            let mut p = [
                KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?,
                KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?,
            ];
            for (i, b) in p.iter_mut().flat_map(|v| v.iter_mut()).enumerate() {
                *b = (i as u8).wrapping_mul(29).wrapping_add(seed);
            }
            Ok(Self(p))
        }

        fn flat(&self) -> KVec<u8> {
            let mut v = KVec::new();
            for page in &self.0 {
                v.extend_from_slice(page, GFP_KERNEL)
                    .expect("small allocation");
            }
            v
        }

        /// The operand at `off` of `len` bytes, on the two buffers as on two pages; `None` for
        /// no byte.
        fn mem(&mut self, off: usize, len: usize) -> Option<View<'_>> {
            let split = Segments::new(off as u64, len).ok()??.split();
            let [first, next] = &mut self.0;
            let pieces = split.pieces(
                NonNull::new(first.as_mut_ptr())?,
                NonNull::new(next.as_mut_ptr()),
            )?;
            // INVARIANT: The pieces lie inside the two buffers, a page each
            // (`Split::pieces()`), which `self` owns and the result borrows mutably.
            Some(View {
                pieces,
                _borrow: PhantomData,
            })
        }
    }

    /// The pieces of an operand in buffers of a test.
    ///
    /// # Invariants
    ///
    /// The pieces are valid for reads and writes of their length for `'a`.
    struct View<'a> {
        pieces: Pieces,
        _borrow: PhantomData<&'a mut [u8]>,
    }

    /// The operands of a one-operation vector in test buffers, as [`run_one`] maps them: each
    /// given once, `None` for an operand of no byte, or none.
    struct Views<'a>([Option<View<'a>>; 2]);

    impl<'a> Views<'a> {
        /// The memory of operand `operand`, taken.
        fn take(&mut self, operand: usize) -> Option<Mem<'a>> {
            let view = self.0.get_mut(operand)?.take();
            Some(view.map_or(Mem::EMPTY, |view| {
                // SAFETY: By the type invariants of `View`, the pieces are valid for reads and
                // writes for `'a`.
                unsafe { Mem::new(view.pieces) }
            }))
        }
    }

    impl<'a> OperandMemory<'a> for Views<'a> {
        fn read(&mut self, operand: usize, _len: usize) -> Option<Mem<'a>> {
            self.take(operand)
        }

        fn written(&mut self, operand: usize, _len: usize) -> Option<MemMut<'a>> {
            let mem = self.take(operand)?;
            // SAFETY: The pieces of a `View` are valid for writes too (type invariants of `View`).
            Some(unsafe { MemMut::new(mem) })
        }

        /// `None` if the operand is not one piece of `width` bytes, aligned to it.
        fn word(&mut self, operand: usize, width: Width) -> Option<Word<'a>> {
            let ptr = self.take(operand)?.word(width)?;
            // SAFETY: `Mem::word()` found one piece of `width` bytes, aligned to it, valid for
            // reads and writes (type invariants of `View`).
            Some(unsafe { Word::new(ptr, width) })
        }
    }

    /// Runs a one-operation vector over `a` (first operand) and `b` (second operand): `None` for
    /// an operand of no byte, or none.
    fn run_one(op: RawOp, a: Option<View<'_>>, b: Option<View<'_>>) -> usize {
        let ops = OpVec::new(&[op]).expect("valid op");
        let mut mapped = MappedVec::new();
        if mapped.map(&ops, &mut Views([a, b])).is_none() {
            // Not the memory of an add: no result the tests expect.
            return usize::MAX;
        }
        run(&mapped)
    }

    const OFFSETS: [usize; 6] = [0, 1, 7, 8, 4088, 4095];
    const LENGTHS: [u32; 7] = [0, 1, 7, 8, 9, 4095, 4096];

    /// Every (first operand offset, second operand offset, length) of [`OFFSETS`] and
    /// [`LENGTHS`]: the operands start anywhere in a page, and cross into the next one.
    fn offset_pairs_and_lengths() -> impl Iterator<Item = (usize, usize, u32)> {
        OFFSETS.iter().flat_map(|&a| {
            OFFSETS
                .iter()
                .flat_map(move |&b| LENGTHS.iter().map(move |&l| (a, b, l)))
        })
    }

    #[test]
    fn memcpy_across_pages_is_byte_exact() -> Result {
        for (src_off, dst_off, len) in offset_pairs_and_lengths() {
            let n = len as usize;
            let mut src = TwoPages::new(3)?;
            let mut dst = TwoPages::new(101)?;
            let mut expect = dst.flat();
            expect[dst_off..dst_off + n].copy_from_slice(&src.flat()[src_off..src_off + n]);
            let op = raw(MEMCPY, len, 0, 0, 0, 0);
            assert_eq!(run_one(op, dst.mem(dst_off, n), src.mem(src_off, n)), 0);
            assert!(dst.flat()[..] == expect[..]);
        }
        Ok(())
    }

    #[test]
    fn compare_across_pages() -> Result {
        for (a_off, b_off, len) in offset_pairs_and_lengths() {
            let n = len as usize;
            let mut a = TwoPages::new(3)?;
            let mut b = TwoPages::new(77)?;
            // Make b's range equal to a's.
            let src = a.flat();
            let op = raw(MEMCPY, len, 0, 0, 0, 0);
            assert_eq!(run_one(op, b.mem(b_off, n), a.mem(a_off, n)), 0);
            let eq = raw(EQ, len, 0, 0, 0, 0);
            let ne = raw(NE, len, 0, 0, 0, 0);
            assert_eq!(run_one(eq, a.mem(a_off, n), b.mem(b_off, n)), 0);
            assert_eq!(run_one(ne, a.mem(a_off, n), b.mem(b_off, n)), 1);
            if n > 0 {
                // A difference in the last byte, possibly on the second page.
                let last = b_off + n - 1;
                b.0[last / PAGE_SIZE][last % PAGE_SIZE] ^= 0x10;
                assert_eq!(run_one(eq, a.mem(a_off, n), b.mem(b_off, n)), 1);
                assert_eq!(run_one(ne, a.mem(a_off, n), b.mem(b_off, n)), 0);
            }
            assert!(a.flat()[..] == src[..]);
        }
        Ok(())
    }

    #[test]
    fn add_every_width() -> Result {
        let counts = [
            1i64,
            -1,
            255,
            256,
            0x10001,
            i64::MIN,
            i64::MAX,
            -0x1_2345_6789,
        ];
        for width in [1u32, 2, 4, 8] {
            for &count in &counts {
                let mut page = TwoPages::new(9)?;
                let off = PAGE_SIZE - width as usize;
                let before = page.flat();
                let mut old = [0u8; 8];
                old[..width as usize].copy_from_slice(&before[off..off + width as usize]);
                let mask = if width == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * width)) - 1
                };
                let expect = (u64::from_ne_bytes(old).wrapping_add(count as u64)) & mask;
                let op = raw(ADD, width, off as u64, count as u64, 0, 0);
                assert_eq!(run_one(op, page.mem(off, width as usize), None), 0);
                let after = page.flat();
                let mut new = [0u8; 8];
                new[..width as usize].copy_from_slice(&after[off..off + width as usize]);
                assert_eq!(u64::from_ne_bytes(new), expect);
                assert!(after[..off] == before[..off] && after[PAGE_SIZE..] == before[PAGE_SIZE..]);
            }
        }
        Ok(())
    }

    #[test]
    fn failed_compare_stops_the_vector() -> Result {
        let mut words = TwoPages::new(0)?;
        for b in words.0.iter_mut().flat_map(|v| v.iter_mut()) {
            *b = 0;
        }
        // Word i at offset 8 * i of the first page; word 7 holds 1.
        words.0[0][56] = 1;
        for fail in 0..4 {
            let base = words.0[0].as_mut_ptr();
            // The 8-byte word at `off` of the first buffer.
            // SAFETY: Words inside the first buffer, valid for reads and writes while `words`
            // lives, which is longer than `mapped`.
            let mem =
                |off: usize| unsafe { Mem::new(([(base.wrapping_add(off), 8), (base, 0)], 1)) };
            // Adds of 1 to words 0 to 3, but for a compare of words 6 and 7 at index `fail`.
            let mut mapped = MappedVec::new();
            for i in 0..4 {
                let op = if i == fail {
                    MappedOp::Compare {
                        kind: Compare::Eq,
                        a: mem(48),
                        b: mem(56),
                    }
                } else {
                    // SAFETY: As above; the buffer is aligned to 8 bytes (a `KVec<u8>` of a page
                    // is allocated by `kmalloc()`, aligned to its size).
                    let word = unsafe { Word::new(base.wrapping_add(8 * i), Width::U64) };
                    MappedOp::Add {
                        word,
                        count: 1,
                        order: Ordering::Relaxed,
                    }
                };
                mapped.push(op).expect("room for four operations");
            }
            assert_eq!(mapped.iter().count(), 4);
            let before = words.flat();
            assert_eq!(run(&mapped), fail + 1);
            let after = words.flat();
            for i in 0..4 {
                if i != fail {
                    let grew = after[8 * i] == before[8 * i].wrapping_add(1);
                    assert_eq!(grew, i < fail);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn queries() {
        let null = UserPtr::from_addr(0);
        assert_eq!(cpu_opv(null, 0, 0, 1), Ok(6));
        assert_eq!(cpu_opv(null, 0, 0, 2), Ok(4));
        assert_eq!(cpu_opv(null, 0, 0, 3), Err(EINVAL));
        assert_eq!(cpu_opv(null, -1, -1, 1), Ok(6));
    }
}
