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
//! (munmap, mremap, MADV_DONTNEED). A caller that needs the pages the range maps *now* pins them
//! with [`PinnedPages::pin_mapped`] under the mmap read lock, which keeps the mapping from
//! being replaced while it is held, and faults the range in with [`PinnedPages::pin_fast`],
//! without the lock, when a page is missing.
//!
//! The access pages are pinned for is part of their type: [`Read`] or [`Write`]. Only pages
//! pinned for writing can be marked dirty.

use crate::{
    bindings,
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
/// `self.pages[..self.nr]` are pages pinned with `FOLL_PIN` and the flags of `A`, by this
/// object, for the user addresses `self.addr..self.addr + self.nr * PAGE_SIZE` of the mm of the
/// task that created it; `self.nr <= N`. `self.dirty` is only ever set when `A` is [`Write`].
pub struct PinnedPages<const N: usize, A: Access> {
    pages: [*mut bindings::page; N],
    nr: usize,
    addr: usize,
    dirty: bool,
    _access: PhantomData<A>,
}

// SAFETY: The pinned pages belong to no thread: they can be unpinned from any thread.
unsafe impl<const N: usize, A: Access> Send for PinnedPages<N, A> {}

// SAFETY: The shared-reference methods only read the page pointers, which do not change while
// the pages are pinned.
unsafe impl<const N: usize, A: Access> Sync for PinnedPages<N, A> {}

impl<const N: usize, A: Access> PinnedPages<N, A> {
    /// Pins the `nr` pages of the current task's memory that start at the page-aligned user
    /// address `addr`, for the access `A`.
    ///
    /// Faults the pages in as needed, and so may sleep; it takes the mmap read lock if it has to
    /// fault, so it must not be called with that lock held. Returns `EFAULT` if any of the pages
    /// cannot be pinned with the access asked for (unmapped, `PROT_NONE`, read-only for a write,
    /// `VM_IO` or `VM_PFNMAP`), `EINVAL` if `nr > N` or `addr` is not page-aligned, or if the
    /// task has no mm (a kernel thread).
    #[doc(alias = "pin_user_pages_fast")]
    pub fn pin_fast(addr: usize, nr: usize) -> Result<Self> {
        crate::current!().mm().ok_or(EINVAL)?;
        // SAFETY: `pin_user_pages_fast()` takes any user address and pins with `FOLL_PIN` up to
        // `nr` pages of the current task's mm into an array of `nr` pointers. `nr` fits in a
        // `c_int`, as `pin_with` checks first.
        unsafe {
            Self::pin_with(addr, nr, |nr, flags, pages| {
                bindings::pin_user_pages_fast(addr, nr as c_int, flags, pages) as c_long
            })
        }
    }

    /// Pins the `nr` pages of the current task's memory that start at the page-aligned user
    /// address `addr`, for the access `A`, if they are all mapped for that access and none
    /// needs a fault, not even one that breaks copy-on-write or unshares a page.
    ///
    /// Called with `guard`, the mmap read lock of the current task's mm; never drops it and
    /// never faults: the pages pinned are those the range maps while the lock keeps `munmap()`,
    /// `mremap()` and `mmap()` from replacing them. Returns `EFAULT` if not
    /// every page could be pinned (the caller faults them in without the lock, with
    /// [`PinnedPages::pin_fast`], and tries again), and `EINVAL` as [`PinnedPages::pin_fast`]
    /// does, or if `guard` locks another mm.
    ///
    /// The pages are looked up with GUP-fast first, which walks the page tables with interrupts
    /// off and takes no lock, so that threads of one process pinning pages of one page table do
    /// not contend on its lock. Only where GUP-fast cannot pin (the shared zero page, some file
    /// mappings, architectures without it) are they looked up again under `guard`, with the
    /// page table lock and `FOLL_NOFAULT`.
    #[doc(alias = "pin_user_pages_fast_only")]
    #[doc(alias = "pin_user_pages")]
    pub fn pin_mapped(guard: &MmapReadGuard<'_>, addr: usize, nr: usize) -> Result<Self> {
        let current_mm = crate::current!().mm().ok_or(EINVAL)?.as_raw();
        if !core::ptr::eq(current_mm, guard.mm.as_raw()) {
            return Err(EINVAL);
        }
        // SAFETY: `pin_user_pages_fast_only()` takes any user address and pins with `FOLL_PIN`
        // up to `nr` pages of the current task's mm into an array of `nr` pointers, without
        // faulting or taking a lock. `nr` fits in a `c_int`, as `pin_with` checks first.
        let fast = unsafe {
            Self::pin_with(addr, nr, |nr, flags, pages| {
                bindings::pin_user_pages_fast_only(addr, nr as c_int, flags, pages) as c_long
            })
        };
        if let Ok(pinned) = fast {
            return Ok(pinned);
        }
        // SAFETY: `guard` holds the mmap read lock of the current task's mm, as
        // `pin_user_pages()` requires (it never drops it); it takes any user address and pins
        // with `FOLL_PIN` up to `nr` pages of that mm into an array of `nr` pointers, and with
        // `FOLL_NOFAULT` it fails instead of faulting.
        unsafe {
            Self::pin_with(addr, nr, |nr, flags, pages| {
                bindings::pin_user_pages(addr, nr, flags | bindings::FOLL_NOFAULT, pages)
            })
        }
    }

    /// Pins with `pin`, a call of a function of the `pin_user_pages()` family for `addr`.
    ///
    /// # Safety
    ///
    /// `pin(nr, flags, pages)`, called with `nr <= N` and `nr <= c_int::MAX`, must pin at most
    /// `nr` pages of the current task's mm from `addr` on with `FOLL_PIN` and `flags`, store them
    /// in `pages[..nr]`, and return how many it pinned, or a negative errno.
    unsafe fn pin_with(
        addr: usize,
        nr: usize,
        pin: impl FnOnce(usize, c_uint, *mut *mut bindings::page) -> c_long,
    ) -> Result<Self> {
        if nr > N || c_int::try_from(nr).is_err() || addr % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let mut pages = [core::ptr::null_mut(); N];
        // `pages` has room for the `nr` pointers `pin` may store.
        let ret = pin(nr, A::FOLL, pages.as_mut_ptr());
        if ret < 0 {
            let errno = c_int::try_from(ret).unwrap_or(EINVAL.to_errno());
            return Err(Error::from_errno(errno));
        }
        let pinned = usize::try_from(ret).unwrap_or(0);
        // INVARIANT: `pin` pinned `pinned <= nr <= N` pages of the current task's mm from `addr`
        // on, with `FOLL_PIN` and `A::FOLL`.
        let this = Self {
            pages,
            nr: pinned.min(nr),
            addr,
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

    /// The kernel virtual address of page `i`, in the kernel's direct map; `None` if there is no
    /// page `i`.
    ///
    /// On 64-bit kernels, every page is in the direct map (there is no highmem), so the address
    /// is valid for as long as the page is pinned, and needs no `kmap_local_page()`. Accesses
    /// through it race with user space, which may access the same memory concurrently:
    /// callers use volatile or byte-copy accesses, never references.
    #[cfg(not(CONFIG_HIGHMEM))]
    pub fn direct_map(&self, i: usize) -> Option<NonNull<u8>> {
        let page = *self.pinned().get(i)?;
        // SAFETY: By the type invariants, `page` is a pinned, hence valid, page.
        NonNull::new(unsafe { bindings::page_address(page) }.cast())
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
