// SPDX-License-Identifier: GPL-2.0

//! Pinning pages of user memory.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! Pinning (`FOLL_PIN`) is how the kernel holds on to pages of user memory whose contents it
//! accesses directly, as opposed to merely keeping a reference. A pinned page is not migrated,
//! not reclaimed and not freed until it is unpinned; see the [FOLL_PIN documentation].
//!
//! [FOLL_PIN documentation]: srctree/Documentation/core-api/pin_user_pages.rst
//!
//! Pinning does not keep the page *mapped*: user space can unmap or remap the range at any time
//! (munmap, mremap, MADV_DONTNEED). [`PinnedPages::still_mapped`] tells, under the mmap lock,
//! whether the user range still maps the pinned pages.
//!
//! The access pages are pinned for is part of their type: [`Read`] or [`Write`]. Only pages
//! pinned for writing can be marked dirty, and `still_mapped` only answers for the mm the pages
//! were pinned from.

use crate::{
    bindings,
    error::to_result,
    mm::MmapReadGuard,
    page::{BorrowedPage, PAGE_SIZE},
    prelude::*,
};
use core::{marker::PhantomData, ptr::NonNull};

/// The access pages are pinned for: [`Read`] or [`Write`].
pub trait Access: private::Sealed {
    /// The `FOLL_*` flags of the access.
    const FOLL: u32;
}

/// Pinned for reading: the pages may be shared (the zero page, page cache, a page shared with
/// another process after `fork()`), and can never be marked dirty.
pub enum Read {}

/// Pinned for writing (`FOLL_WRITE`): copy-on-write was broken for them, and they can be marked
/// dirty.
pub enum Write {}

impl Access for Read {
    const FOLL: u32 = 0;
}

impl Access for Write {
    const FOLL: u32 = bindings::FOLL_WRITE;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Read {}
    impl Sealed for super::Write {}
}

/// Up to `N` consecutive pages of the current task's user memory, pinned with `FOLL_PIN` for
/// the access `A`.
///
/// Unpinned on drop, and marked dirty then if [`PinnedPages::set_dirty`] was called (only
/// pages pinned for [`Write`] have it).
///
/// # Invariants
///
/// `self.pages[..self.nr]` are pages pinned by `pin_user_pages_fast()` with the flags of `A`,
/// by this object, for the user addresses `self.addr..self.addr + self.nr * PAGE_SIZE` of
/// `self.mm`, the mm of the task that created it; `self.nr <= N`. `self.dirty` is only ever set
/// when `A` is [`Write`]. `self.mm` is only compared, never dereferenced.
pub struct PinnedPages<const N: usize, A: Access> {
    pages: [*mut bindings::page; N],
    nr: usize,
    addr: usize,
    mm: *const bindings::mm_struct,
    dirty: bool,
    _access: PhantomData<A>,
}

// SAFETY: The pinned pages belong to no thread: they can be unpinned from any thread. `mm` is
// only compared.
unsafe impl<const N: usize, A: Access> Send for PinnedPages<N, A> {}

// SAFETY: The shared-reference methods only read the page pointers, which do not change while
// the pages are pinned.
unsafe impl<const N: usize, A: Access> Sync for PinnedPages<N, A> {}

impl<const N: usize, A: Access> PinnedPages<N, A> {
    /// Pins the `nr` pages of the current task's memory that start at the page-aligned user
    /// address `addr`, for the access `A`.
    ///
    /// Faults the pages in as needed, and so may sleep. Returns `EFAULT` if any of the pages
    /// cannot be pinned with the access asked for (unmapped, `PROT_NONE`, read-only for a
    /// write, `VM_IO` or `VM_PFNMAP`), `EINVAL` if `nr > N` or `addr` is not page-aligned, or
    /// if the task has no mm (a kernel thread).
    #[doc(alias = "pin_user_pages_fast")]
    pub fn pin_fast(addr: usize, nr: usize) -> Result<Self> {
        if nr > N || addr % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let mm = crate::current!().mm().ok_or(EINVAL)?.as_raw().cast_const();
        let mut pages = [core::ptr::null_mut(); N];
        let nr_int = i32::try_from(nr).map_err(|_| EINVAL)?;
        // SAFETY: `pages` has room for `nr` pointers; any user address is allowed.
        let ret =
            unsafe { bindings::pin_user_pages_fast(addr, nr_int, A::FOLL, pages.as_mut_ptr()) };
        to_result(ret)?;
        let pinned = usize::try_from(ret).unwrap_or(0);
        // INVARIANT: `pin_user_pages_fast` pinned `pinned <= nr <= N` pages of the current
        // task's mm, `mm`, from `addr` on, with `A::FOLL`.
        let this = Self {
            pages,
            nr: pinned.min(nr),
            addr,
            mm,
            dirty: false,
            _access: PhantomData,
        };
        if pinned < nr {
            // Dropping `this` unpins the pages that were pinned.
            return Err(EFAULT);
        }
        Ok(this)
    }

    /// The number of pinned pages.
    pub fn len(&self) -> usize {
        self.nr
    }

    /// Whether no page is pinned.
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// The user address of the first page.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Page `i`, as long as it is pinned.
    pub fn page(&self, i: usize) -> Option<BorrowedPage<'_>> {
        let page = NonNull::new(*self.pinned().get(i)?)?;
        // SAFETY: By the type invariants, `page` is pinned, hence valid, for as long as `self`
        // is borrowed, which the returned `BorrowedPage` is.
        Some(unsafe { BorrowedPage::from_raw(page) })
    }

    /// Whether every page is an anonymous page that is exclusive to the process that pinned it.
    ///
    /// Such a page is never replaced by a copy-on-write fault: writes through any mapping of
    /// the process go to it. It stays exclusive while it is pinned: `fork()` copies pinned
    /// exclusive pages instead of sharing them, and KSM does not merge pinned pages. Pages
    /// pinned for reading may instead be the shared zero page or a page-cache page of a private
    /// file mapping, which the first write replaces (`FOLL_PIN` does not unshare those).
    pub fn all_anon_exclusive(&self) -> bool {
        self.pinned().iter().all(|&page| {
            // SAFETY: By the type invariants, `page` is a pinned, hence valid, page.
            // `PageAnonExclusive()` is only defined for anonymous pages, which is checked first.
            unsafe { bindings::PageAnon(page) && bindings::PageAnonExclusive(page) }
        })
    }

    /// Whether any of the pages is a `ZONE_DEVICE` page (device or persistent memory).
    pub fn any_zone_device(&self) -> bool {
        self.pinned().iter().any(|&page| {
            // SAFETY: By the type invariants, `page` is a pinned, hence valid, page.
            unsafe { bindings::is_zone_device_page(page) }
        })
    }

    /// The kernel virtual address of page `i`, in the kernel's direct map.
    ///
    /// On 64-bit kernels, every page is in the direct map (there is no highmem), so the address
    /// is valid for as long as the page is pinned, and needs no `kmap_local_page()`. Accesses
    /// through it race with user space, which may access the same memory concurrently:
    /// callers use volatile or byte-copy accesses, never references.
    #[cfg(not(CONFIG_HIGHMEM))]
    pub fn direct_map(&self, i: usize) -> Option<*mut u8> {
        let page = *self.pinned().get(i)?;
        // SAFETY: By the type invariants, `page` is a pinned, hence valid, page.
        Some(unsafe { bindings::page_address(page) }.cast())
    }

    /// Whether the user range still maps the pinned pages, checked under the mmap read lock of
    /// the mm they were pinned from. For any other mm's lock, the answer is `false`.
    ///
    /// Never faults anything in: a page that is not present is not mapped, and a write-pinned
    /// page that is now mapped read-only (for instance after `mprotect()`) does not count.
    /// Only meaningful while `guard` is held: the mapping can change after it is released.
    ///
    /// Each page is looked up with GUP-fast first, which walks the page tables with interrupts
    /// off and takes no lock, so that threads of one process revalidating pages of one page
    /// table do not contend on its lock. Only where GUP-fast cannot tell (it refuses some kinds
    /// of mappings) is the page looked up with the page table lock.
    #[doc(alias = "get_user_pages_fast_only")]
    #[doc(alias = "get_user_pages_remote")]
    pub fn still_mapped(&self, guard: &MmapReadGuard<'_>) -> bool {
        if !core::ptr::eq(guard.mm.as_raw().cast_const(), self.mm) {
            return false;
        }
        let flags = A::FOLL;
        // GUP-fast walks the current task's page tables: it can only answer for them.
        let current_mm = crate::current!()
            .mm()
            .is_some_and(|mm| core::ptr::eq(mm.as_raw(), guard.mm.as_raw()));
        self.pinned().iter().enumerate().all(|(i, &pinned)| {
            let addr = self.addr + i * PAGE_SIZE;
            let page = current_mm
                .then(|| Self::mapped_page_fast(addr, flags))
                .flatten()
                .or_else(|| Self::mapped_page(guard, addr, flags));
            page == Some(pinned)
        })
    }

    /// The page the current task maps at `addr` for the access `flags` asks for, if GUP-fast
    /// finds it. No reference is kept: the pointer is only for comparison.
    fn mapped_page_fast(addr: usize, flags: u32) -> Option<*mut bindings::page> {
        let mut page = core::ptr::null_mut();
        // SAFETY: `page` has room for one pointer. GUP-fast takes no lock and accepts any
        // address.
        let ret = unsafe { bindings::get_user_pages_fast_only(addr, 1, flags, &mut page) };
        Self::drop_ref(ret == 1, page)
    }

    /// The page `guard`'s mm maps at `addr` for the access `flags` asks for, looked up without
    /// faulting. No reference is kept: the pointer is only for comparison.
    fn mapped_page(
        guard: &MmapReadGuard<'_>,
        addr: usize,
        flags: u32,
    ) -> Option<*mut bindings::page> {
        let mut page = core::ptr::null_mut();
        // SAFETY: `guard` owns the mmap read lock of its mm, as `get_user_pages_remote()`
        // requires; `page` has room for one pointer; `locked` is null, so the lock is never
        // dropped.
        let ret = unsafe {
            bindings::get_user_pages_remote(
                guard.mm.as_raw(),
                addr,
                1,
                flags | bindings::FOLL_NOFAULT,
                &mut page,
                core::ptr::null_mut(),
            )
        };
        Self::drop_ref(ret == 1, page)
    }

    /// After a GUP call for one page: if it `found` one, drops the reference it took on `page`
    /// and returns the page pointer.
    fn drop_ref(found: bool, page: *mut bindings::page) -> Option<*mut bindings::page> {
        if !found {
            return None;
        }
        // SAFETY: The GUP call returned one page, `page`, with a reference taken for us, which
        // is dropped here; only the pointer is compared afterwards.
        unsafe { bindings::put_page(page) };
        Some(page)
    }

    /// The pinned page pointers.
    fn pinned(&self) -> &[*mut bindings::page] {
        // By the type invariants `self.nr <= N`, so this never falls back to the empty slice.
        self.pages.get(..self.nr).unwrap_or(&[])
    }
}

impl<const N: usize> PinnedPages<N, Write> {
    /// Marks the pages dirty: they are unpinned with `unpin_user_pages_dirty_lock()` and
    /// `make_dirty`. Only pages pinned for writing can be.
    pub fn set_dirty(&mut self) {
        // INVARIANT: `A` is `Write`.
        self.dirty = true;
    }
}

impl<const N: usize, A: Access> Drop for PinnedPages<N, A> {
    fn drop(&mut self) {
        if self.nr == 0 {
            return;
        }
        // SAFETY: By the type invariants, the first `nr` pointers are pages pinned by this
        // object, which are unpinned exactly once, here.
        unsafe {
            bindings::unpin_user_pages_dirty_lock(self.pages.as_mut_ptr(), self.nr, self.dirty)
        };
    }
}
