// SPDX-License-Identifier: GPL-2.0

//! Locked page tables of user memory.
//!
//! C header: [`include/linux/pagewalk.h`](srctree/include/linux/pagewalk.h)
//!
//! [`PteTables::lock`] finds the last-level page table that maps an address and takes its page
//! table lock (`user_pte_table_lock()`); [`PteTables::entry`] then gives the entry of any page
//! that a locked table maps. While that lock is held, no entry of the table changes the page
//! it maps nor the access it allows (the hardware still sets accessed and dirty bits, and some
//! architectures bits of their own): unmapping (`munmap()`, `MADV_DONTNEED`, reclaim), migration,
//! write-protection (`fork()`, KSM, soft-dirty and userfaultfd tracking), NUMA hinting and
//! copy-on-write all take it. A page that a present entry maps therefore stays
//! mapped, hence allocated, until the lock is dropped, without a reference of its own.
//!
//! This is for short accesses to the contents of a few pages, by code that must not fault nor
//! sleep and would otherwise pin them for the length of the access. The lock is a spinlock that
//! every page fault in the range the table maps (`PMD_SIZE` of address space) waits for: hold it
//! briefly, never across anything that waits for user space.

use crate::{
    bindings,
    mm::{virt::VmaRef, MmapReadGuard},
    page::PAGE_SIZE,
};
use core::mem::MaybeUninit;

/// The size of the range of addresses that one last-level page table maps (`PMD_SIZE`, which is
/// not a constant everywhere: powerpc's book3s64 picks it at boot).
#[inline]
fn pmd_size() -> usize {
    // SAFETY: No preconditions.
    unsafe { bindings::pmd_size() }
}

impl MmapReadGuard<'_> {
    /// Finds the last-level page table that maps the page at `addr`, and locks it; with `wait`
    /// false, only if its lock is free.
    ///
    /// `None` if `addr` is in no VMA, or no last-level table maps it: none yet, a hugetlb VMA,
    /// or a huge page mapped by a higher-level entry. Also `None` if `wait` is false and another
    /// thread holds the lock. `size` must be `PMD_SIZE` (see [`pmd_size()`]).
    #[inline]
    fn lock_pte_table(&self, addr: usize, wait: bool, size: usize) -> Option<PteTable<'_>> {
        let vma = self.vma_lookup(addr)?;
        let mut table = bindings::user_pte_table {
            vma: vma.as_ptr(),
            address: addr & !(PAGE_SIZE - 1),
            ptep: core::ptr::null_mut(),
            ptl: core::ptr::null_mut(),
        };
        // SAFETY: `table.vma` is a VMA of the mm whose mmap read lock `self` holds, as
        // `user_pte_table_lock()` requires, and `vma_lookup()` found `table.address` in it. The
        // lock stays held until the table is unlocked: the `PteTable` borrows `self`.
        if unsafe { bindings::user_pte_table_lock(&mut table, !wait) } != 0 {
            return None;
        }
        // The range the table maps (`PMD_SIZE` is a power of two), and the part of the VMA in it.
        let first = addr & !(size - 1);
        let range = first..=first | (size - 1);
        let start = first.max(vma.start());
        let end = first.saturating_add(size).min(vma.end());
        // INVARIANT: `user_pte_table_lock()` succeeded, so the table that maps `addr` in `vma` is
        // locked until `user_pte_table_unlock()`. `range` is the `PMD_SIZE`-aligned range that
        // holds `addr` (`size` is `PMD_SIZE`: `PteTables::lock()` passes the size its invariants
        // say is `PMD_SIZE`). `addr` is in the VMA and in the range, so in `start..end`.
        Some(PteTable {
            table,
            vma,
            range,
            start,
            end,
        })
    }
}

/// Up to `N` last-level page tables of an mm, locked: the current task's, for [`Pte::direct_map`]
/// to mean anything.
///
/// While they are, the present entries of the tables keep mapping the pages they map, with the
/// access they allow (see the [module documentation](self)). Tables are locked with
/// [`PteTables::lock`], which needs `&mut self`; their entries are found with
/// [`PteTables::entry`], which only borrows `self`: an entry borrows the `PteTables`, which
/// cannot be dropped, so unlocked, while it is used. The address of its page in the direct map
/// ([`Pte::direct_map`]) is a raw pointer: its users tie it to that borrow.
///
/// The first table locked waits for its lock; the others are only locked if their lock is free
/// (`user_pte_table_lock()`'s `trylock`), so that holding several cannot deadlock against a
/// thread that takes the same locks in another order, nor against the lock of the first (two
/// tables may share a lock). The tables stay locked until the `PteTables` is dropped, which
/// unlocks them in the reverse order.
/// This holds within one `PteTables`: a thread must not lock tables of the same mm in two at
/// once (the second's first lock waits).
///
/// # Invariants
///
/// `self.nr <= N`, and only the first `self.nr` tables are initialised, locked in index order.
/// `self.pmd_size` is `PMD_SIZE`.
pub struct PteTables<'a, const N: usize> {
    guard: &'a MmapReadGuard<'a>,
    // Not `Option`s: nothing is initialised for the tables not locked.
    tables: [MaybeUninit<PteTable<'a>>; N],
    nr: usize,
    // Read once for all the tables.
    pmd_size: usize,
}

impl<'a, const N: usize> PteTables<'a, N> {
    /// No table locked yet, in the mm whose mmap read lock `guard` holds.
    pub fn new(guard: &'a MmapReadGuard<'a>) -> Self {
        // INVARIANT: No table is initialised, and the size is `pmd_size()`.
        Self {
            guard,
            tables: [const { MaybeUninit::uninit() }; N],
            nr: 0,
            pmd_size: pmd_size(),
        }
    }

    /// The tables locked so far.
    #[inline]
    fn locked(&self) -> &[PteTable<'a>] {
        let locked = self.tables.get(..self.nr).unwrap_or(&[]);
        // SAFETY: By the type invariants, the first `self.nr` tables are initialised, and
        // `MaybeUninit<T>` has the layout of `T`: the cast keeps the slice's length. The tables
        // are borrowed from `self` for as long as the slice: none is locked nor dropped
        // meanwhile (both need `&mut self`).
        unsafe { &*(core::ptr::from_ref(locked) as *const [PteTable<'a>]) }
    }

    /// Makes sure that a locked table maps the page at `addr`, in the same VMA as the page it was
    /// locked for: one already locked, or else the one that maps it, locked now.
    ///
    /// `false` if the page is in no VMA, or no last-level table maps it: none yet, a huge page
    /// mapped by a higher-level entry, or a hugetlb VMA. Also `false` if its table cannot be
    /// locked without waiting (but for the first), if its lock is one held already (the table is
    /// locked for another VMA in the same range, or, without split page table locks, any table
    /// is locked; on powerpc's book3s64, whose tables are fragments of a page that share its
    /// lock, a neighbouring table fails its trylock so), or if `N` tables are locked already.
    /// The entries are not checked here: [`Pte::direct_map`] checks the one it is asked about.
    #[must_use]
    pub fn lock(&mut self, addr: usize) -> bool {
        if self.locked().iter().any(|table| table.maps(addr)) {
            return true;
        }
        // Never a lock this thread holds: a table locked for another VMA that shares the range,
        // or, without split page table locks, any table (all share the mm's lock). A trylock of
        // it would fail, and a uniprocessor kernel with spinlock debugging reports that as a bug.
        if self.nr > 0
            && (!cfg!(CONFIG_SPLIT_PTE_PTLOCKS)
                || self.locked().iter().any(|table| table.covers(addr)))
        {
            return false;
        }
        let Some(slot) = self.tables.get_mut(self.nr) else {
            return false;
        };
        let Some(table) = self.guard.lock_pte_table(addr, self.nr == 0, self.pmd_size) else {
            return false;
        };
        slot.write(table);
        // INVARIANT: The first uninitialised table is now initialised, locked after the ones
        // before it, and there was room for it.
        self.nr += 1;
        true
    }

    /// The entry of the page at `addr`, from a locked table that maps it ([`PteTables::lock`]);
    /// `None` if none does.
    #[inline]
    pub fn entry(&self, addr: usize) -> Option<Pte<'_>> {
        self.locked()
            .iter()
            .find(|table| table.maps(addr))?
            .entry(addr)
    }
}

impl<const N: usize> Drop for PteTables<'_, N> {
    fn drop(&mut self) {
        // In the reverse order of locking: with `CONFIG_HIGHPTE`, each table was mapped with
        // `kmap_local_page()`, whose mappings must be undone in the reverse order.
        let locked = self.tables.get_mut(..self.nr).unwrap_or(&mut []);
        for table in locked.iter_mut().rev() {
            // SAFETY: By the type invariants, the first `self.nr` tables are initialised. Each
            // is dropped once: `MaybeUninit` has no drop glue, so the tables are not dropped
            // again with `self.tables`.
            unsafe { table.assume_init_drop() };
        }
    }
}

/// A last-level page table of a VMA, locked.
///
/// # Invariants
///
/// `self.table` was locked by a successful `user_pte_table_lock()`, for `self.vma` (its `vma`):
/// the table is mapped and its lock is held until `self` is dropped. `self.vma` is a VMA of an mm
/// whose mmap read lock is held for `'a`. `self.range` is the `PMD_SIZE`-aligned range that holds
/// the address it was locked for, and `self.start..self.end` the part of the VMA in it: the pages
/// that the table maps in the VMA.
struct PteTable<'a> {
    table: bindings::user_pte_table,
    vma: &'a VmaRef,
    range: core::ops::RangeInclusive<usize>,
    start: usize,
    end: usize,
}

impl<'a> PteTable<'a> {
    /// Whether this table maps the page at `addr`, in the same VMA.
    #[inline]
    fn maps(&self, addr: usize) -> bool {
        (self.start..self.end).contains(&addr)
    }

    /// Whether this table maps the page at `addr`, in any VMA.
    #[inline]
    fn covers(&self, addr: usize) -> bool {
        self.range.contains(&addr)
    }

    /// The entry of the page at `addr`, if this table maps it in the same VMA.
    #[inline]
    fn entry(&self, addr: usize) -> Option<Pte<'_>> {
        if !self.maps(addr) {
            return None;
        }
        // INVARIANT: `addr` is in `self.start..self.end`, and so is its page: `self.start` is
        // page-aligned (the larger of two page-aligned addresses).
        Some(Pte {
            table: self,
            addr: addr & !(PAGE_SIZE - 1),
        })
    }
}

impl Drop for PteTable<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `self.table` was locked by `user_pte_table_lock()`, and
        // is still: this unlocks it, once. With `CONFIG_HIGHPTE` the tables must be unlocked in
        // the reverse order of locking, which `PteTables`, their only owner, does.
        unsafe { bindings::user_pte_table_unlock(&mut self.table) };
    }
}

/// The entry of a page in a table locked in [`PteTables`]: it does not change while the table is
/// locked, which it is for `'a`, the borrow of the `PteTables`.
///
/// # Invariants
///
/// `self.addr` is page-aligned and in `self.table.start..self.table.end`: the table maps it, in
/// its VMA.
pub struct Pte<'a> {
    table: &'a PteTable<'a>,
    addr: usize,
}

impl<'a> Pte<'a> {
    /// The VMA the entry maps the page in.
    #[inline]
    pub fn vma(&self) -> &'a VmaRef {
        self.table.vma
    }

    /// The address in the kernel's direct map of the page, if the current task may access it
    /// through this entry, for writing if `write`, without a fault, as `get_user_pages()` lets it
    /// without `FOLL_FORCE`; and, if `write`, the entry is dirty already (a store through the
    /// direct map does not dirty it). `user_pte_table_page_address()` checks, in one call:
    ///
    /// - the VMA: not `VM_IO` nor `VM_PFNMAP`, not a `memfd_secret()` mapping (whose pages are not
    ///   in the direct map); `VM_READ`, or `VM_WRITE` and not a shadow stack (which only the
    ///   CPU's shadow stack operations write);
    /// - the entry: present, accessible to user space (not `PROT_NONE`, nor made inaccessible for
    ///   NUMA hinting), writable if `write` (and then dirty), allowed by the task's memory
    ///   protection keys, mapping a normal page (see `vm_normal_page()`) that is not
    ///   `ZONE_DEVICE`. The keys are the current task's: the answer is only meaningful for its
    ///   own mm.
    ///
    /// It marks the folio referenced, as `get_user_pages_fast()` marks the folios it takes (an
    /// access through the direct map sets no accessed bit in the entry), whether or not the
    /// caller then accesses it.
    ///
    /// `None` unless all hold. The page stays mapped while the table is locked, so the address is
    /// valid for `'a`, the borrow of the [`PteTables`] that locked it; the pointer does not carry
    /// that lifetime: callers tie what they make of it to the borrow. Accesses through it race
    /// with user space, which may access the same memory concurrently: callers use volatile or
    /// byte-copy accesses, never references. It does not exist with `CONFIG_HIGHMEM`, where a
    /// page may have no address in the direct map.
    #[cfg(not(CONFIG_HIGHMEM))]
    #[inline]
    pub fn direct_map(&self, write: bool) -> Option<core::ptr::NonNull<u8>> {
        // SAFETY: By the type invariants of `PteTable`, its `table` is locked, for `'a`, and its
        // VMA is a VMA of an mm whose mmap read lock is held for as long. By the type invariants
        // of `Pte`, the table maps `self.addr`, in that VMA.
        let ptr =
            unsafe { bindings::user_pte_table_page_address(&self.table.table, self.addr, write) };
        core::ptr::NonNull::new(ptr.cast())
    }
}
