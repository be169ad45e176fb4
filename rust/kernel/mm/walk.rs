// SPDX-License-Identifier: GPL-2.0

//! Locked page tables of user memory.
//!
//! C header: [`include/linux/pagewalk.h`](srctree/include/linux/pagewalk.h)
//!
//! [`PteTables::direct_map`] finds a page of user memory in the kernel's direct map, through its
//! entry in the last-level page table that maps it, whose page table lock it takes first
//! (`user_pte_table_lock()`) unless it holds it already. While that lock is held,
//! no entry of the table changes the page it maps nor the access it allows (the hardware still
//! sets accessed and dirty bits, and some architectures bits of their own): unmapping
//! (`munmap()`, `MADV_DONTNEED`, reclaim), migration, write-protection (`fork()`, KSM,
//! soft-dirty and userfaultfd tracking), NUMA hinting and copy-on-write all take it. A page that
//! a present entry maps therefore stays mapped, hence allocated, until the lock is dropped,
//! without a reference of its own.
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
use core::{mem::MaybeUninit, ptr::NonNull};

/// Up to `N` last-level page tables of an mm, locked: the current task's, for
/// [`PteTables::direct_map`] to mean anything.
///
/// While they are, the present entries of the tables keep mapping the pages they map, with the
/// access they allow (see the [module documentation](self)). [`PteTables::direct_map`] finds a
/// page in the direct map through the table that maps it, locked first if it is not yet. The
/// addresses it finds are raw pointers, valid while the `PteTables` is not dropped, so unlocked
/// (locking another table never unlocks one): their users tie them to a borrow of it.
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
/// `self.nr <= N`, and the first `self.nr` tables are initialised, each locked, in index order, by
/// a successful `user_pte_table_lock()` in the mm whose mmap read lock `self.guard` holds: each
/// table is mapped and its lock held until `self` is dropped, and its `table.vma` is the VMA of
/// that mm that it was locked for. The others are never read (the one at `self.nr` may hold a
/// table whose lock failed). The ranges of address space that the locked tables map are pairwise
/// disjoint, so that a page is mapped by one locked table at most.
pub struct PteTables<'a, const N: usize> {
    guard: &'a MmapReadGuard<'a>,
    // Not `Option`s: only the first `nr` are read, and nothing is initialised for the others.
    tables: [MaybeUninit<PteTable>; N],
    nr: usize,
}

impl<'a, const N: usize> PteTables<'a, N> {
    /// No table locked yet, in the mm whose mmap read lock `guard` holds.
    pub fn new(guard: &'a MmapReadGuard<'a>) -> Self {
        // INVARIANT: No table is initialised.
        Self {
            guard,
            tables: [const { MaybeUninit::uninit() }; N],
            nr: 0,
        }
    }

    /// The tables locked so far.
    #[inline]
    fn locked(&self) -> &[PteTable] {
        let locked = self.tables.get(..self.nr).unwrap_or(&[]);
        // SAFETY: By the type invariants, the first `self.nr` tables are initialised, and
        // `MaybeUninit<T>` has the layout of `T`: the cast keeps the slice's length. The tables
        // are borrowed from `self` for as long as the slice: none is locked nor dropped
        // meanwhile (both need `&mut self`).
        unsafe { &*(core::ptr::from_ref(locked) as *const [PteTable]) }
    }

    /// The index of a locked table that maps the page at `addr`, in the same VMA as the page it was
    /// locked for: one already locked, or else the one that maps it, locked now.
    ///
    /// `None` if the page is in no VMA, or no last-level table maps it: none yet, a huge page
    /// mapped by a higher-level entry, or a hugetlb VMA. Also `None` if its table cannot be locked
    /// without waiting (but for the first), if its lock is one held already (the table is locked
    /// for another VMA in the same range, or, without split page table locks, any table is
    /// locked; on powerpc's book3s64, whose tables are fragments of a page that share its lock, a
    /// neighbouring table fails its trylock so), or if `N` tables are locked already.
    fn lock(&mut self, addr: usize) -> Option<usize> {
        if let Some(index) = self.locked().iter().position(|table| table.maps(addr)) {
            return Some(index);
        }
        // Never a lock this thread holds: a table locked for another VMA that shares the range,
        // or, without split page table locks, any table (all share the mm's lock). A trylock of
        // it would fail, and a uniprocessor kernel with spinlock debugging reports that as a bug.
        if self.nr > 0
            && (!cfg!(CONFIG_SPLIT_PTE_PTLOCKS)
                || self.locked().iter().any(|table| table.covers(addr)))
        {
            return None;
        }
        let index = self.nr;
        let table = self.tables.get_mut(index)?;
        // Locked in place: the table is too large to be returned for free. Not counted until it is
        // locked, and so never read nor unlocked if it is not.
        let table = table.write(PteTable {
            table: bindings::user_pte_table {
                address: addr & !(PAGE_SIZE - 1),
                vma: core::ptr::null_mut(),
                start: 0,
                end: 0,
                ptep: core::ptr::null_mut(),
                ptl: core::ptr::null_mut(),
            },
            start: 0,
            end: 0,
            allowed: [false; 2],
        });
        // SAFETY: `self.guard.mm` is an mm whose mmap read lock `self.guard` holds, as
        // `user_pte_table_lock()` requires, until the table is unlocked: `self` borrows the guard,
        // and unlocks its tables when dropped. `table.table` is valid for reads and writes, its
        // `address` set. The first table waits for its lock; the others only take theirs if it is
        // free: a lock this thread holds, which the check above rules out where it can, fails the
        // trylock.
        if unsafe {
            bindings::user_pte_table_lock(self.guard.mm.as_raw(), &mut table.table, index > 0)
        } != 0
        {
            return None;
        }
        // SAFETY: `user_pte_table_lock()` succeeded: `table.table.vma` is the VMA of
        // `table.table.address`, which it found in the mm whose mmap read lock `self.guard` holds;
        // used only here, while it does.
        let vma = unsafe { VmaRef::from_raw(table.table.vma) };
        // The part of the VMA in the range the table maps: `addr` is in both.
        table.start = table.table.start.max(vma.start());
        table.end = table.table.end.min(vma.end());
        // INVARIANT: The table at `self.nr`, just written, is now locked by `user_pte_table_lock()`
        // in the mm of `self.guard`, after the ones before it, and `table.table.vma` is the VMA it
        // found; there was room for it. It maps the `PMD_SIZE`-aligned range of `addr`, which no
        // other locked table covers (checked above, unless it is the first): the ranges stay
        // disjoint.
        self.nr = index + 1;
        Some(index)
    }

    /// The address in the kernel's direct map of the page at `addr` (page-aligned), found through
    /// its entry in the locked table that maps it (locked first if none does: see below), if the
    /// current task may access it there, for writing if `write`, without a fault, as
    /// `get_user_pages()` lets it without `FOLL_FORCE`; and, for a write, if the entry is dirty
    /// already (a store through the direct map does not dirty it).
    /// `user_pte_table_page_address()` checks:
    ///
    /// - the VMA: not `VM_IO` nor `VM_PFNMAP`, not a `memfd_secret()` mapping (whose pages are not
    ///   in the direct map); `VM_READ`, or `VM_WRITE` and not a shadow stack (which only the
    ///   CPU's shadow stack operations write);
    /// - the entry: present, accessible to user space (not `PROT_NONE`, nor made inaccessible for
    ///   NUMA hinting), writable for a write (and then dirty), allowed by the task's memory
    ///   protection keys, mapping a normal page (see `vm_normal_page()`) that is not
    ///   `ZONE_DEVICE`. The keys are the current task's: the answers are only meaningful for its
    ///   own mm.
    ///
    /// Before a page of a table is looked at for an access, `allow` is asked about the table's VMA
    /// and the access (whether it writes): the caller's own policy. Its answer is remembered once
    /// it allowed the access in a table, which it is not asked about again: it must answer alike
    /// at every call for one `PteTables`. `user_pte_table_page_address()` marks the
    /// folio referenced, as `get_user_pages_fast()` marks the folios it takes (an access through
    /// the direct map sets no accessed bit in the entry), whether or not the caller then accesses
    /// it.
    ///
    /// `None` if no table that maps the page can be locked (the page is in no VMA, no last-level
    /// table maps it, its lock is taken, or `N` tables are locked already: the first table waits
    /// for its lock, the others are only locked if it is free), if `allow` refuses, or if the
    /// page cannot be accessed so. A page stays mapped while its table is locked, and a table
    /// stays locked until `self` is dropped (locking more never unlocks one): the address is valid
    /// until then. It does not carry that lifetime: callers tie what they make of it to a borrow
    /// of `self`. Accesses through it race with user space, which may access the same memory
    /// concurrently: callers use volatile or byte-copy accesses, never references. (The module
    /// is not built with `CONFIG_HIGHMEM`, where a page may have no address in the direct map.)
    #[inline]
    pub fn direct_map(
        &mut self,
        addr: usize,
        write: bool,
        allow: impl FnOnce(&'a VmaRef, bool) -> bool,
    ) -> Option<NonNull<u8>> {
        let index = self.lock(addr)?;
        let table = self.tables.get_mut(..self.nr)?.get_mut(index)?;
        // SAFETY: `index` is below `self.nr` (`lock()` returned it): by the type invariants, the
        // table is initialised.
        let table = unsafe { table.assume_init_mut() };
        let allowed = table.allowed.get_mut(usize::from(write))?;
        if !*allowed {
            // SAFETY: By the type invariants, `table.table.vma` is the VMA of the mm whose mmap
            // read lock `self.guard` holds for `'a`, that the table was locked for.
            let vma = unsafe { VmaRef::from_raw(table.table.vma) };
            if !allow(vma, write) {
                return None;
            }
            *allowed = true;
        }
        // SAFETY: By the type invariants, `table.table` is locked, and its VMA is a VMA of an mm
        // whose mmap read lock is held for as long. `addr` is in the range the table maps in its
        // VMA (`lock()` found or locked the table for it).
        let kaddr = unsafe { bindings::user_pte_table_page_address(&table.table, addr, write) };
        NonNull::new(kaddr.cast())
    }
}

impl<const N: usize> Drop for PteTables<'_, N> {
    fn drop(&mut self) {
        // In the reverse order of locking: with `CONFIG_HIGHPTE`, each table was mapped with
        // `kmap_local_page()`, whose mappings must be undone in the reverse order.
        let locked = self.tables.get_mut(..self.nr).unwrap_or(&mut []);
        for table in locked.iter_mut().rev() {
            // SAFETY: By the type invariants, the first `self.nr` tables are initialised and
            // locked by `user_pte_table_lock()`, and are still: this unlocks each, once (`self` is
            // not used again).
            unsafe { bindings::user_pte_table_unlock(&mut table.assume_init_mut().table) };
        }
    }
}

/// A last-level page table of a VMA, as [`PteTables`] locks it. Once `PteTables::lock()` has
/// locked it (the first `nr` of a `PteTables`): `self.table.start..self.table.end` is the range of
/// addresses that the table maps, and `self.start..self.end` the part of `self.table.vma` in it,
/// the pages that the table maps in the VMA. Plain data, with no invariants of its own:
/// [`PteTables`] locks and unlocks it.
struct PteTable {
    table: bindings::user_pte_table,
    start: usize,
    end: usize,
    /// Whether the caller's policy allowed reads (`[0]`) and writes (`[1]`) in the table's VMA
    /// ([`PteTables::direct_map`]); `false` until it was asked.
    allowed: [bool; 2],
}

impl PteTable {
    /// Whether this table maps the page at `addr`, in the same VMA.
    #[inline]
    fn maps(&self, addr: usize) -> bool {
        (self.start..self.end).contains(&addr)
    }

    /// Whether this table maps the page at `addr`, in any VMA.
    #[inline]
    fn covers(&self, addr: usize) -> bool {
        (self.table.start..self.table.end).contains(&addr)
    }
}
