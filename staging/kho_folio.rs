// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver of folios and vmalloc areas.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h).
//!
//! Outgoing: a [`PreservedFolio`] keeps a pinned folio for the next kernel
//! and a [`PreservedVmalloc`] a vmalloc'ed array, until they are dropped.
//! Incoming: [`restore_folio`] and [`IncomingVmalloc`] take back what the
//! previous kernel preserved, at a [`HandoverAddr`] or from a descriptor
//! that the caller's ABI vouches for.

use core::ptr::NonNull;
use kernel::{
    alloc::{
        flags::__GFP_ZERO,
        VVec, //
    },
    bindings,
    error::to_result,
    page::PAGE_SIZE,
    prelude::*,
    transmute::{
        AsBytes,
        FromBytes, //
    },
};

use super::{
    folio::{
        PinnedFolio,
        UniqueFolio, //
    },
    kho::{
        Handed,
        HandoverAddr, //
    },
};

/// A pinned folio that KHO preserves until it is dropped
/// (`kho_preserve_folio()`).
///
/// # Invariants
///
/// The folio is KHO-preserved, by this object.
pub(crate) struct PreservedFolio(PinnedFolio);

impl PreservedFolio {
    /// Preserves `folio`, keeping its pin.
    pub(crate) fn new(folio: PinnedFolio) -> Result<Self> {
        // SAFETY: a pinned folio, alive while `folio` is.
        to_result(unsafe { bindings::kho_preserve_folio(folio.as_ptr()) })?;
        // INVARIANT: preserved just above.
        Ok(Self(folio))
    }

    /// The physical page frame number the next kernel finds it at.
    pub(crate) fn pfn(&self) -> u64 {
        self.0.pfn()
    }
}

impl Drop for PreservedFolio {
    fn drop(&mut self) {
        // SAFETY: preserved by this object (type invariant); the pin is
        // released after this, when the field drops.
        unsafe { bindings::kho_unpreserve_folio(self.0.as_ptr()) };
    }
}

/// A zeroed vmalloc'ed array of `T` that KHO preserves until it is dropped
/// (`kho_preserve_vmalloc()`).
///
/// # Invariants
///
/// `desc` describes the KHO preservation of `vec`'s allocation, made by
/// this object; `vec` has at least one element.
pub(crate) struct PreservedVmalloc<T: AsBytes> {
    vec: VVec<T>,
    desc: bindings::kho_vmalloc,
}

impl<T: AsBytes> PreservedVmalloc<T> {
    /// An empty array with room for `n` entries, zeroed, for
    /// [`PreservedVmalloc::new`].
    pub(crate) fn vec(n: usize) -> Result<VVec<T>> {
        Ok(VVec::with_capacity(n.max(1), GFP_KERNEL | __GFP_ZERO)?)
    }

    /// Preserves `vec`, which [`PreservedVmalloc::vec`] made (so that the
    /// next kernel finds zeroes, not stale memory, after the entries);
    /// EINVAL if it is empty.
    pub(crate) fn new(mut vec: VVec<T>) -> Result<Self> {
        if vec.is_empty() {
            return Err(EINVAL);
        }
        let mut desc = bindings::kho_vmalloc::default();
        // SAFETY: `vec` is a non-empty vmalloc allocation (`Vmalloc` makes
        // `VM_ALLOC` areas), and `desc` a valid out pointer.
        to_result(unsafe { bindings::kho_preserve_vmalloc(vec.as_mut_ptr().cast(), &mut desc) })?;
        // INVARIANT: preserved just above.
        Ok(Self { vec, desc })
    }

    /// The descriptor the next kernel restores it from.
    pub(crate) fn descriptor(&self) -> bindings::kho_vmalloc {
        self.desc
    }

    /// The entries.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.vec
    }
}

impl<T: AsBytes> Drop for PreservedVmalloc<T> {
    fn drop(&mut self) {
        // SAFETY: `desc` describes a preservation this object made (type
        // invariant); `vec` is freed after this, when the field drops.
        unsafe { bindings::kho_unpreserve_vmalloc(&mut self.desc) };
    }
}

/// Restores the folio the previous kernel preserved at `addr`
/// (`kho_restore_folio()`); `None` if KHO has no folio there.
pub(crate) fn restore_folio(addr: HandoverAddr) -> Option<UniqueFolio> {
    // SAFETY: `kho_restore_folio` checks that a folio was preserved at the
    // address, which the `HandoverAddr` invariant says is for this use.
    let folio = unsafe { bindings::kho_restore_folio(addr.0) };
    // SAFETY: a folio KHO just restored has one reference, the caller's,
    // and is in no page cache, LRU or mapping.
    unsafe { UniqueFolio::from_raw(folio) }
}

/// A vmalloc'ed array of `T` that the previous kernel preserved, mapped
/// again in this one (`kho_restore_vmalloc()`); freed on drop.
///
/// # Invariants
///
/// `ptr` is a vmalloc area of at least `len` `T`s, owned by this object.
pub(crate) struct IncomingVmalloc<T: FromBytes> {
    ptr: NonNull<T>,
    len: usize,
}

impl<T: FromBytes> IncomingVmalloc<T> {
    /// Restores the array `desc` describes, of at most `count` entries:
    /// `None` if KHO cannot.
    ///
    /// # Safety
    ///
    /// `desc` was read from handed-over memory, from a field the ABI
    /// declares to hold the descriptor of a `kho_preserve_vmalloc()`
    /// preservation, and nothing else restores it.
    pub(crate) unsafe fn restore(desc: bindings::kho_vmalloc, count: u64) -> Option<Self> {
        // SAFETY: a descriptor of a vmalloc preservation, restored once
        // (safety requirement).
        let ptr = unsafe { bindings::kho_restore_vmalloc(&desc) };
        let ptr = NonNull::new(ptr.cast::<T>())?;
        let bytes = desc.total_pages as usize * PAGE_SIZE;
        let room = bytes / size_of::<T>().max(1);
        // INVARIANT: the area has `total_pages` pages and is ours.
        Some(Self {
            ptr,
            len: room.min(usize::try_from(count).unwrap_or(usize::MAX)),
        })
    }

    /// The entries, as copies of handed-over data.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Handed<T>> + '_ {
        (0..self.len).map(|i| {
            // SAFETY: `i < len` entries of `T` are in the area (type
            // invariant), and any bytes are a valid `T`, which may be
            // packed, so read unaligned.
            Handed(unsafe { self.ptr.as_ptr().add(i).read_unaligned() })
        })
    }
}

impl<T: FromBytes> Drop for IncomingVmalloc<T> {
    fn drop(&mut self) {
        // SAFETY: a vmalloc area owned by this object (type invariant),
        // which `kvfree` hands to `vfree`.
        unsafe { bindings::kvfree(self.ptr.as_ptr().cast()) };
    }
}
