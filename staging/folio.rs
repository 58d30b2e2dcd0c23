// SPDX-License-Identifier: GPL-2.0

//! Folios: references, pins and the page-cache flags of file folios.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h).
//!
//! A [`Folio`] is only reached through a reference that keeps it alive:
//! a [`PinnedFolio`] (`FOLL_PIN`, released with `unpin_folio()`) or a
//! [`UniqueFolio`] (the only reference, released with `folio_put()`).

use core::{
    ops::Deref,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    types::Opaque, //
};

/// A `struct folio`.
///
/// # Invariants
///
/// A shared reference to a `Folio` is only made while the folio has a
/// reference or a pin that outlives it.
#[repr(transparent)]
pub(crate) struct Folio(Opaque<bindings::folio>);

// SAFETY: folios are shared between threads by the kernel; every method
// here is one C allows on any thread.
unsafe impl Send for Folio {}
// SAFETY: as above; concurrent callers are serialized by C where needed.
unsafe impl Sync for Folio {}

impl Folio {
    /// The C struct.
    pub(crate) fn as_ptr(&self) -> *mut bindings::folio {
        self.0.get()
    }

    /// The page frame number of its first page.
    pub(crate) fn pfn(&self) -> u64 {
        // SAFETY: a live folio (type invariant).
        unsafe { bindings::folio_pfn(self.as_ptr()) as u64 }
    }

    /// The number of pages in it.
    pub(crate) fn nr_pages(&self) -> usize {
        // SAFETY: a live folio (type invariant).
        unsafe { bindings::folio_nr_pages(self.as_ptr()) as usize }
    }

    /// Its page index in its file (meaningful while it is in one).
    pub(crate) fn index(&self) -> u64 {
        // SAFETY: a live folio (type invariant).
        unsafe { bindings::folio_pgoff(self.as_ptr()) as u64 }
    }

    /// Whether its contents are valid (`folio_test_uptodate()`).
    pub(crate) fn is_uptodate(&self) -> bool {
        // SAFETY: a live folio (type invariant).
        unsafe { bindings::folio_test_uptodate(self.as_ptr()) }
    }

    /// Locks it (`folio_lock()`, may sleep) until the guard goes.
    pub(crate) fn lock(&self) -> FolioGuard<'_> {
        // SAFETY: a live folio (type invariant).
        unsafe { bindings::folio_lock(self.as_ptr()) };
        // INVARIANT: locked just above.
        FolioGuard(self)
    }
}

/// A locked folio.
///
/// # Invariants
///
/// The folio is locked by this guard.
pub(crate) struct FolioGuard<'a>(&'a Folio);

impl FolioGuard<'_> {
    /// Zeroes it and marks it up to date, as shmem does with a fallocated
    /// folio on first use.
    pub(crate) fn zero_and_mark_uptodate(&mut self) {
        let folio = self.0.as_ptr();
        let size = self.0.nr_pages() * kernel::page::PAGE_SIZE;
        // SAFETY: a live folio, locked (type invariant), `size` bytes long.
        unsafe {
            bindings::folio_zero_range(folio, 0, size);
            bindings::luo_flush_dcache_folio(folio);
            bindings::folio_mark_uptodate(folio);
        }
    }

    /// Marks it dirty, so reclaim keeps its contents (`folio_mark_dirty()`).
    pub(crate) fn mark_dirty(&mut self) {
        // SAFETY: a live folio, locked (type invariant), which keeps its
        // mapping stable as `folio_mark_dirty` needs.
        unsafe { bindings::folio_mark_dirty(self.0.as_ptr()) };
    }
}

impl Drop for FolioGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: locked by this guard (type invariant).
        unsafe { bindings::folio_unlock(self.0.as_ptr()) };
    }
}

/// A folio that nobody else knows, with the one reference this object
/// owns: one just restored from the previous kernel, say.  It is a folio
/// pointer, so a vector of them is an array C takes.
///
/// # Invariants
///
/// `0` is a folio with one reference this object owns; no other reference
/// to it exists, and it is in no page cache, LRU or mapping.
#[repr(transparent)]
pub(crate) struct UniqueFolio(NonNull<Folio>);

impl UniqueFolio {
    /// Takes over the only reference to the folio at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is null or a folio whose only reference is the caller's, in
    /// no page cache, LRU or mapping.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::folio) -> Option<Self> {
        // INVARIANT: the only reference, the caller's (safety requirement).
        Some(Self(NonNull::new(ptr.cast())?))
    }

    /// Marks it up to date and, if `dirty`, dirty: the flags a folio needs
    /// before it joins a page cache.
    pub(crate) fn set_flags(&mut self, uptodate: bool, dirty: bool) {
        let folio = self.as_ptr();
        // SAFETY: the folio is ours alone (type invariant), so nothing
        // races with these flag updates; without a mapping
        // `folio_mark_dirty` only sets the flag.
        unsafe {
            if uptodate {
                bindings::folio_mark_uptodate(folio);
            }
            if dirty {
                bindings::folio_mark_dirty(folio);
            }
        }
    }
}

impl Deref for UniqueFolio {
    type Target = Folio;

    fn deref(&self) -> &Folio {
        // SAFETY: alive while we hold its reference (type invariant).
        unsafe { self.0.as_ref() }
    }
}

impl Drop for UniqueFolio {
    fn drop(&mut self) {
        // SAFETY: the reference is ours (type invariant), given up here.
        unsafe { bindings::folio_put(self.0.as_ptr().cast()) };
    }
}

/// A folio pinned with `FOLL_PIN`, unpinned on drop.
///
/// # Invariants
///
/// `0` is a folio on which this object owns one pin.
#[repr(transparent)]
pub(crate) struct PinnedFolio(NonNull<Folio>);

// SAFETY: a pin may be released from any thread.
unsafe impl Send for PinnedFolio {}
// SAFETY: shared access only reads through `&Folio`.
unsafe impl Sync for PinnedFolio {}

impl PinnedFolio {
    /// Takes over a pin a C function took.
    ///
    /// # Safety
    ///
    /// `ptr` is a folio with a `FOLL_PIN` pin the caller owns.
    pub(crate) unsafe fn from_raw(ptr: NonNull<bindings::folio>) -> Self {
        // INVARIANT: the pin is the caller's (safety requirement).
        Self(ptr.cast())
    }
}

impl Deref for PinnedFolio {
    type Target = Folio;

    fn deref(&self) -> &Folio {
        // SAFETY: pinned, so alive, while `self` is (type invariant).
        unsafe { self.0.as_ref() }
    }
}

impl Drop for PinnedFolio {
    fn drop(&mut self) {
        // SAFETY: the pin is ours (type invariant) and not used after this.
        unsafe { bindings::unpin_folio(self.0.as_ptr().cast()) };
    }
}
