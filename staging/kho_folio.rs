// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver of folios and vmalloc areas.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h).
//!
//! Outgoing: [`PreservedFolios`] keep pinned folios for the next kernel
//! and a [`PreservedVmalloc`] a vmalloc'ed array, until they are dropped.
//! Incoming: [`restore_folio`] takes back what the previous kernel preserved at a
//! [`HandoverAddr`], and [`HandedVmalloc`] reads an array from a descriptor that the caller's ABI
//! vouches for, checked, in place.

use core::ptr::NonNull;
use kernel::{
    alloc::{
        KVec,
        VVec, //
    },
    bindings,
    error::to_result,
    ffi::c_ulong,
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

/// Pages of a `kho_vmalloc_chunk` page-run list (`KHO_VMALLOC_SIZE`).
const CHUNK_RUNS: usize = (PAGE_SIZE - size_of::<bindings::kho_vmalloc_hdr>()) / size_of::<u64>();

/// Why a [`HandedVmalloc`] cannot be read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VmallocFault {
    /// What is wrong.
    pub(crate) what: &'static str,
    /// The physical address it is wrong at.
    pub(crate) pa: u64,
}

/// An array of `T` that the previous kernel preserved with `kho_preserve_vmalloc()`, read in
/// place, through the direct map, and restored only by [`HandedVmalloc::free`].
///
/// `kho_restore_vmalloc()` reads each chunk of the page list before KHO confirms it, restores as
/// it goes, and on an allocation failure (of its page array or its mapping) has restored pages it
/// then neither maps nor frees, so the array is lost.  This reads nothing before it is checked,
/// allocates nothing, and restores nothing until the array is no longer needed: a reader that
/// fails for want of memory can try again.  Dropping it without [`HandedVmalloc::free`] leaves the
/// pages preserved (reserved).
///
/// # Invariants
///
/// `first` is the physical address of a chain of `kho_vmalloc_chunk` pages, preserved (order 0)
/// and not restored, that list runs of `1 << order` pages, preserved with that order and not
/// restored, `total_pages` pages in all, which hold at least `len` `T`s in order; nothing else in
/// this kernel uses them.
pub(crate) struct HandedVmalloc<T: FromBytes> {
    first: u64,
    order: u32,
    len: usize,
    _t: core::marker::PhantomData<T>,
}

/// The page runs of a chunk chain, in order; the chain is one of a [`HandedVmalloc`] (whose
/// invariant makes reading it sound) or one [`HandedVmalloc::new`] checks as it walks.
struct Runs {
    chunk: u64,
    i: usize,
}

impl Runs {
    /// The chunk page at `pa`.
    ///
    /// # Safety
    ///
    /// `pa` is a preserved page of the previous kernel that nothing in this one uses.
    unsafe fn chunk<'a>(pa: u64) -> &'a bindings::kho_vmalloc_chunk {
        // SAFETY: a page of RAM (safety requirement), in the direct map, which holds a
        // `kho_vmalloc_chunk` (a page of integers) and that nothing writes.
        unsafe { &*bindings::phys_to_virt(pa).cast::<bindings::kho_vmalloc_chunk>() }
    }

    /// The next run.
    ///
    /// # Safety
    ///
    /// The chunk this is at, if any, satisfies [`Runs::chunk`].
    unsafe fn next_run(&mut self) -> Option<u64> {
        while self.chunk != 0 {
            // SAFETY: the caller's requirement.
            let c = unsafe { Self::chunk(self.chunk) };
            if self.i < CHUNK_RUNS && c.phys[self.i] != 0 {
                self.i += 1;
                return Some(c.phys[self.i - 1]);
            }
            // SAFETY: `next` is the `phys` of a `DECLARE_KHOSER_PTR` union.
            self.chunk = unsafe { c.hdr.next.phys };
            self.i = 0;
        }
        None
    }
}

impl<T: FromBytes> HandedVmalloc<T> {
    /// The array `desc` describes, of `len` entries, after checking every chunk and page run
    /// against KHO and the page count against `desc`.
    ///
    /// # Safety
    ///
    /// `desc` was read from handed-over memory, from a field the ABI declares to hold the
    /// descriptor of a `kho_preserve_vmalloc()` preservation of an array of `T`, and nothing else
    /// in this kernel uses that preservation.
    pub(crate) unsafe fn new(
        desc: &bindings::kho_vmalloc,
        len: u64,
    ) -> core::result::Result<Self, VmallocFault> {
        const { assert!(PAGE_SIZE % size_of::<T>() == 0) };
        let fault = |what, pa| Err(VmallocFault { what, pa });
        let order = u32::from(desc.order);
        if order > bindings::MAX_PAGE_ORDER {
            return fault("page order too large", 0);
        }
        let total = u64::from(desc.total_pages);
        if len > total * (PAGE_SIZE / size_of::<T>()) as u64 {
            return fault("more entries than its pages hold", 0);
        }
        // SAFETY: `first` is the `phys` of a `DECLARE_KHOSER_PTR` union.
        let first = unsafe { desc.first.phys };
        let (mut pages, mut chunks) = (0u64, 0u64);
        let mut chunk = first;
        while chunk != 0 {
            // A chain that loops lists pages again (more than `total`) or is longer than `total`
            // chunks with a page each.
            chunks += 1;
            if chunks > total + 1 {
                return fault("chunk list too long", chunk);
            }
            // SAFETY: read from the caller's descriptor or a chunk checked below.
            if unsafe { HandoverAddr::new(chunk) }.preserved_order() != Ok(0) {
                return fault("chunk not preserved", chunk);
            }
            // SAFETY: KHO preserved the page and has not restored it: nothing uses it.
            let c = unsafe { Runs::chunk(chunk) };
            for &run in c.phys.iter().take_while(|&&pa| pa != 0) {
                // SAFETY: an address of a checked chunk's list.
                if unsafe { HandoverAddr::new(run) }.preserved_order() != Ok(order) {
                    return fault("page run not preserved", run);
                }
                pages += 1 << order;
                if pages > total {
                    return fault("more pages than the descriptor says", run);
                }
            }
            // SAFETY: `next` is the `phys` of a `DECLARE_KHOSER_PTR` union.
            chunk = unsafe { c.hdr.next.phys };
        }
        if pages != total {
            return fault("fewer pages than the descriptor says", first);
        }
        // INVARIANT: every chunk and run checked just above; the caller's requirement.
        Ok(Self {
            first,
            order,
            len: len as usize,
            _t: core::marker::PhantomData,
        })
    }

    /// The entries, as copies of handed-over data.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Handed<T>> + '_ {
        let per_run = (PAGE_SIZE << self.order) / size_of::<T>();
        let mut runs = Runs {
            chunk: self.first,
            i: 0,
        };
        // SAFETY: the chain of a `HandedVmalloc` (type invariant).
        core::iter::from_fn(move || unsafe { runs.next_run() })
            .flat_map(move |run| {
                (0..per_run).map(move |i| {
                    // SAFETY: a preserved run of `PAGE_SIZE << order` bytes nothing else uses
                    // (type invariant), which holds `per_run` `T`s that any bytes make (`FromBytes`),
                    // maybe packed, so read unaligned.
                    Handed(unsafe {
                        bindings::phys_to_virt(run)
                            .cast::<T>()
                            .add(i)
                            .read_unaligned()
                    })
                })
            })
            .take(self.len)
    }

    /// Restores every page of the array and frees it.
    pub(crate) fn free(self) {
        let nr = 1u64 << self.order;
        let mut chunk = self.first;
        while chunk != 0 {
            // SAFETY: a chunk of the chain (type invariant).
            let c = unsafe { Runs::chunk(chunk) };
            for &run in c.phys.iter().take_while(|&&pa| pa != 0) {
                // SAFETY: a preserved run of `nr` pages nothing else uses (type invariant).
                free_pages(
                    unsafe { bindings::kho_restore_pages(run, nr as c_ulong) },
                    nr,
                );
            }
            // SAFETY: `next` is the `phys` of a `DECLARE_KHOSER_PTR` union; read before the
            // chunk is freed.
            let next = unsafe { c.hdr.next.phys };
            // SAFETY: a preserved page nothing else uses (type invariant), not read after this.
            free_pages(unsafe { bindings::kho_restore_pages(chunk, 1) }, 1);
            chunk = next;
        }
    }
}

/// Frees `nr` order-0 pages from `page` that KHO just restored (`NULL`: none).
fn free_pages(page: *mut bindings::page, nr: u64) {
    if page.is_null() {
        return;
    }
    for j in 0..nr as usize {
        // SAFETY: KHO restored `nr` contiguous pages with a reference each, which are ours.
        unsafe { bindings::__free_pages(page.add(j), 0) };
    }
}
