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
//! 1. [`Request`]: the `flags` argument, decoded.
//! 2. [`RawOp`]: one `struct cpu_op` copied from user space, not trusted yet.
//! 3. [`Op`] in an [`OpVec`]: a validated operation. Op codes, lengths, widths, alignment,
//!    `expect_fault_*` values and the vector-wide length sum have been checked, so later stages
//!    never check them again.
//! 4. Execution ([`execute`]): not yet. A call that passes validation returns `ENOSYS`, as on
//!    a kernel without cpu_opv, and so do the two queries: user space sees no cpu_opv, and
//!    uses what it uses without it.
//!
//! Every argument error is reported before any user memory is touched, so a refused call
//! changes nothing in the caller's memory.

use core::mem::{offset_of, size_of};
use kernel::{
    bindings,
    cpu::CpuId,
    current,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Width {
    /// 1 byte.
    U8,
    /// 2 bytes.
    U16,
    /// 4 bytes.
    U32,
    /// 8 bytes.
    U64,
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
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
            Self::U32 => 4,
            Self::U64 => 8,
        }
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
}

/// Copies `count` operations in from user space at `uptr` and validates them into `ops`, which
/// must be empty.
///
/// `EFAULT` if the vector cannot be read, `EINVAL` if it is not valid.
fn copy_in(uptr: UserPtr, count: usize, ops: &mut OpVec) -> Result {
    let mut bytes = [[0u8; RAW_OP_SIZE]; VEC_LEN_MAX];
    let bytes = bytes.get_mut(..count).ok_or(EINVAL)?;
    // One user copy for the whole vector.
    let flat = bytes.as_flattened_mut();
    UserSlice::new(uptr, flat.len()).reader().read_slice(flat)?;
    ops.decode(bytes.iter().map(|bytes| RawOp(*bytes)))
}

/// Validates the target CPU: in `0..nr_cpu_ids` and in the caller's affinity mask.
fn target_cpu(cpu: i32) -> Result<CpuId> {
    let cpu = CpuId::from_i32(cpu).ok_or(EINVAL)?;
    if !current!().cpus_allowed().test(cpu) {
        return Err(EINVAL);
    }
    Ok(cpu)
}

/// Runs the validated vector `ops` on `cpu`: not yet, `ENOSYS`.
fn execute(_ops: &OpVec, _cpu: CpuId) -> Result<isize> {
    Err(ENOSYS)
}

/// The system call, with its arguments in Rust types.
fn cpu_opv(uptr: UserPtr, cpuopcnt: i32, cpu: i32, flags: i32) -> Result<isize> {
    match Request::from_flags(flags)? {
        // Not before vectors run: see [`execute`].
        Request::QueryNrOps | Request::QueryVecLenMax => return Err(ENOSYS),
        Request::Execute => {}
    }
    let count = usize::try_from(cpuopcnt)
        .ok()
        .filter(|&n| n <= VEC_LEN_MAX)
        .ok_or(EINVAL)?;
    let cpu = target_cpu(cpu)?;
    let mut ops = OpVec::empty();
    copy_in(uptr, count, &mut ops)?;
    execute(&ops, cpu)
}

/// The `cpu_opv()` system call, called from its `SYSCALL_DEFINE4()` in `kernel/cpu_opv_sys.c`.
///
/// Returns `-ENOSYS` for a valid call, as for a query (the vector does not run yet), or the
/// negative errno of an invalid one.
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
    match cpu_opv(UserPtr::from_ptr(ucpuopv.cast()), cpuopcnt, cpu, flags) {
        Ok(ret) => ret,
        Err(err) => err.to_errno() as c_long,
    }
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
}
