// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver of folios and vmalloc areas.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h).
//!
//! Outgoing: [`PreservedFolios`] keep pinned folios for the next kernel
//! and a [`PreservedVmalloc`] a vmalloc'ed array, until they are dropped.
//! Incoming: [`restore_folio`] and [`IncomingVmalloc`] take back what the
//! previous kernel preserved, at a [`HandoverAddr`] or from a descriptor
//! that the caller's ABI vouches for.

use core::ptr::NonNull;
use kernel::{
    alloc::{
        KVec,
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

/// Pinned folios that KHO preserves until they are dropped
/// (`kho_preserve_folios()`, one hold of KHO's lock for all of them).
///
/// # Invariants
///
/// Every folio of `0` is KHO-preserved, by this object.
pub(crate) struct PreservedFolios(KVec<PinnedFolio>);

impl PreservedFolios {
    /// Preserves `folios`, keeping their pins; on error none is preserved
    /// and they are unpinned.
    pub(crate) fn new(mut folios: KVec<PinnedFolio>) -> Result<Self> {
        let nr = u32::try_from(folios.len()).map_err(|_| EINVAL)?;
        // SAFETY: `PinnedFolio` is a transparent `NonNull<Folio>` and
        // `Folio` a transparent `struct folio`, so the vector is an array
        // of `nr` pointers to pinned folios, alive while it is.
        to_result(unsafe { bindings::kho_preserve_folios(folios.as_mut_ptr().cast(), nr) })?;
        // INVARIANT: all preserved just above.
        Ok(Self(folios))
    }
}

impl Drop for PreservedFolios {
    fn drop(&mut self) {
        // `new` checked that the length fits.
        let nr = self.0.len() as u32;
        // SAFETY: an array of `nr` pinned folios, each preserved by this
        // object (type invariant); the pins are released after this, when
        // the field drops.
        unsafe { bindings::kho_unpreserve_folios(self.0.as_mut_ptr().cast(), nr) };
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
    /// An array of `n` zeroed entries (at least one), for the caller to
    /// fill and truncate, then [`PreservedVmalloc::new`].
    pub(crate) fn zeroed(n: usize) -> Result<VVec<T>>
    where
        T: Zeroable,
    {
        Ok(VVec::zeroed(n.max(1), GFP_KERNEL)?)
    }

    /// Preserves `vec`, which [`PreservedVmalloc::zeroed`] made (so that
    /// the next kernel finds zeroes, not stale memory, after the entries);
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

/// Up to `N` handed-over folios restored together (`kho_restore_folios()`,
/// which counts their pages back to their zones once for all of them).
///
/// # Invariants
///
/// `phys[..len]` are `HandoverAddr`s of folios; while a [`RestoredFolios`]
/// borrows the batch, `folios[next..len]` are what `kho_restore_folios()`
/// returned for them: folios whose one reference the batch owns, or null.
pub(crate) struct RestoreBatch<const N: usize> {
    phys: [bindings::phys_addr_t; N],
    folios: [*mut bindings::folio; N],
    len: usize,
}

impl<const N: usize> RestoreBatch<N> {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        Self {
            phys: [0; N],
            folios: [core::ptr::null_mut(); N],
            len: 0,
        }
    }

    /// Adds the folio at `addr`; false if the batch is full.
    pub(crate) fn push(&mut self, addr: HandoverAddr) -> bool {
        let Some(slot) = self.phys.get_mut(self.len) else {
            return false;
        };
        *slot = addr.0;
        self.len += 1;
        true
    }

    /// The number of folios added.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Restores the folios added, which empties the batch; for each, in
    /// order, the folio or `Err(phys)` where KHO has none.
    pub(crate) fn restore(&mut self) -> RestoredFolios<'_, N> {
        // SAFETY: `phys[..len]` are addresses of handed-over folios (type
        // invariant), each restored once as the batch is emptied after
        // this; `folios` has room for a result each.
        unsafe {
            bindings::kho_restore_folios(
                self.phys.as_ptr(),
                self.folios.as_mut_ptr(),
                self.len as u32,
            )
        };
        // INVARIANT: a result for each address, with its reference.
        RestoredFolios {
            batch: self,
            next: 0,
        }
    }
}

/// The folios of a [`RestoreBatch`], in order; those not taken are freed
/// when it is dropped, which empties the batch.
pub(crate) struct RestoredFolios<'a, const N: usize> {
    batch: &'a mut RestoreBatch<N>,
    next: usize,
}

impl<const N: usize> Iterator for RestoredFolios<'_, N> {
    type Item = core::result::Result<UniqueFolio, u64>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batch.len {
            return None;
        }
        let (folio, phys) = (self.batch.folios[self.next], self.batch.phys[self.next]);
        self.next += 1;
        // SAFETY: a folio KHO just restored, whose one reference the batch
        // owned (type invariant) and gives up here, as `next` moved past
        // it; it is in no page cache, LRU or mapping.
        Some(unsafe { UniqueFolio::from_raw(folio) }.ok_or(phys))
    }
}

impl<const N: usize> Drop for RestoredFolios<'_, N> {
    fn drop(&mut self) {
        for folio in self.by_ref() {
            drop(folio);
        }
        self.batch.len = 0;
    }
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
