// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver of folios and vmalloc areas.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h).
//!
//! Outgoing: [`PreservedFolios`] keep pinned folios for the next kernel
//! and a [`PreservedVmalloc`] a vmalloc'ed array, until they are dropped.
//! Incoming: [`restore_folio`] takes back what the previous kernel preserved at a
//! [`HandoverAddr`], and [`HandedVmalloc`] takes the pages of an array from a descriptor that the
//! caller's ABI vouches for, checked, and reads it in place ([`ClaimedVmalloc`]).

use core::ptr::NonNull;
use kernel::{
    alloc::{
        KVec,
        VVec, //
    },
    bindings,
    error::to_result,
    ffi::c_ulong,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
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

    /// Whether the folio at `addr` can be added: KHO holds it, unrestored, and the batch does not
    /// have it yet (restoring it twice would make KHO warn).
    pub(crate) fn takes(&self, addr: HandoverAddr) -> bool {
        addr.preserved_order().is_ok() && !self.phys[..self.len].contains(&addr.0)
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

/// The descriptor of an array of `T` that the previous kernel preserved with
/// `kho_preserve_vmalloc()`; [`HandedVmalloc::claim`] takes its pages.
///
/// `kho_restore_vmalloc()` reads each chunk of the page list before KHO confirms it, and on an
/// allocation failure (of its page array or its mapping) has restored pages it then neither maps
/// nor frees, so the array is lost.  Claiming checks each page before it reads it, allocates
/// nothing (the array is read in place, through the direct map), and takes every page from KHO
/// before any entry is read, so that an entry naming one of the array's own pages (or a page
/// listed twice) finds it taken rather than freeing it under the reader.
///
/// # Invariants
///
/// `first`, `order`, `total` and `len` were read from a descriptor the ABI declares to describe
/// a `kho_preserve_vmalloc()` array of `T`, which nothing else in this kernel claims; `len` `T`s
/// fit in `total` pages.
pub(crate) struct HandedVmalloc<T: FromBytes> {
    first: u64,
    order: u32,
    total: u64,
    len: usize,
    _t: core::marker::PhantomData<T>,
}

/// The array of a [`HandedVmalloc`], its pages taken from KHO; freed on drop.
///
/// # Invariants
///
/// `first` heads a chain of `kho_vmalloc_chunk` pages listing runs of `1 << order` pages, every
/// one of them restored from KHO and owned by this object, `total` pages of runs in all, which
/// hold at least `len` `T`s in order.
pub(crate) struct ClaimedVmalloc<T: FromBytes> {
    first: u64,
    order: u32,
    len: usize,
    _t: core::marker::PhantomData<T>,
}

/// The chunk page at `pa`.
///
/// # Safety
///
/// `pa` is a page of RAM that nothing else in this kernel writes.
unsafe fn chunk_at<'a>(pa: u64) -> &'a bindings::kho_vmalloc_chunk {
    // SAFETY: a page of RAM (safety requirement), in the direct map, which holds a
    // `kho_vmalloc_chunk` (a page of integers) that nothing writes.
    unsafe { &*bindings::phys_to_virt(pa).cast::<bindings::kho_vmalloc_chunk>() }
}

/// The runs of a chunk, up to the first 0.
fn runs_of(c: &bindings::kho_vmalloc_chunk) -> impl Iterator<Item = u64> + '_ {
    c.phys.iter().copied().take_while(|&pa| pa != 0)
}

/// The next chunk (`hdr.next`).
fn next_of(c: &bindings::kho_vmalloc_chunk) -> u64 {
    // SAFETY: `next` is the `phys` of a `DECLARE_KHOSER_PTR` union of integers.
    unsafe { c.hdr.next.phys }
}

/// Takes `nr` pages at `pa` from KHO if they are preserved memory of order `order` that nothing
/// restored yet (checked first, so that a page already taken is refused without a warning).
fn take_pages(pa: u64, nr: u64, order: u32) -> bool {
    // SAFETY: only the page's KHO information is read.
    if unsafe { HandoverAddr::new(pa) }.preserved_order() != Ok(order) {
        return false;
    }
    // SAFETY: preserved pages of the previous kernel nothing restored; they become ours.
    !unsafe { bindings::kho_restore_pages(pa, nr as c_ulong) }.is_null()
}

/// Frees `nr` order-0 pages at `pa` that this kernel took from KHO.
///
/// # Safety
///
/// The pages were restored by [`take_pages`] and are owned by the caller, which gives them up.
unsafe fn free_taken(pa: u64, nr: u64) {
    for j in 0..nr {
        // SAFETY: `phys_to_virt` is arithmetic on the direct map; the page is restored, with
        // one reference, ours (safety requirement), and `free_pages` drops it.
        unsafe {
            let va = bindings::phys_to_virt(pa + (j << PAGE_SHIFT));
            bindings::free_pages(va as c_ulong, 0)
        };
    }
}

impl<T: FromBytes> HandedVmalloc<T> {
    /// The array `desc` describes, of `len` entries: a fault if they cannot fit or the order is
    /// impossible.  Nothing is read at the descriptor's addresses.
    ///
    /// # Safety
    ///
    /// `desc` was read from handed-over memory, from a field the ABI declares to hold the
    /// descriptor of a `kho_preserve_vmalloc()` preservation of an array of `T`, and nothing else
    /// in this kernel claims that preservation.
    pub(crate) unsafe fn new(
        desc: &bindings::kho_vmalloc,
        len: u64,
    ) -> core::result::Result<Self, VmallocFault> {
        const { assert!(PAGE_SIZE % size_of::<T>() == 0) };
        let order = u32::from(desc.order);
        if order > bindings::MAX_PAGE_ORDER {
            return Err(VmallocFault {
                what: "page order too large",
                pa: 0,
            });
        }
        let total = u64::from(desc.total_pages);
        if len > total * (PAGE_SIZE / size_of::<T>()) as u64 {
            return Err(VmallocFault {
                what: "more entries than its pages hold",
                pa: 0,
            });
        }
        // INVARIANT: the caller's requirement; `len` checked just above.
        Ok(Self {
            // SAFETY: `first` is the `phys` of a `DECLARE_KHOSER_PTR` union of integers.
            first: unsafe { desc.first.phys },
            order,
            total,
            len: len as usize,
            _t: core::marker::PhantomData,
        })
    }

    /// Takes every chunk and page run from KHO, each checked before it is read or taken: the
    /// array, or the fault (after which what was taken is freed, and the rest stays reserved).
    pub(crate) fn claim(self) -> core::result::Result<ClaimedVmalloc<T>, VmallocFault> {
        let fault = |what, pa| Err(VmallocFault { what, pa });
        let nr = 1u64 << self.order;
        let runs = self.total >> self.order;
        // Every chunk but the last is full (`kho_preserve_vmalloc()`), and the last may be empty.
        let max_chunks = runs.div_ceil(CHUNK_RUNS as u64) + 1;
        let (mut taken, mut pages, mut chunks) = (0u64, 0u64, 0u64);
        let mut chunk = self.first;
        let res = loop {
            if chunk == 0 {
                break if pages == self.total {
                    Ok(())
                } else {
                    fault("fewer pages than the descriptor says", self.first)
                };
            }
            chunks += 1;
            if chunks > max_chunks {
                break fault("chunk list too long", chunk);
            }
            if !take_pages(chunk, 1, 0) {
                break fault("chunk not preserved, or listed twice", chunk);
            }
            taken += 1;
            // SAFETY: a page taken just above: ours.
            let c = unsafe { chunk_at(chunk) };
            let mut bad = None;
            for run in runs_of(c) {
                pages += nr;
                if pages > self.total {
                    bad = Some(("more pages than the descriptor says", run));
                    break;
                }
                if !take_pages(run, nr, self.order) {
                    bad = Some(("page run not preserved, or listed twice", run));
                    break;
                }
                taken += 1;
            }
            if let Some((what, pa)) = bad {
                break fault(what, pa);
            }
            chunk = next_of(c);
        };
        // INVARIANT: on success every chunk and run is taken, `total` pages of runs; `len` fits
        // (`HandedVmalloc` invariant).
        let claimed = ClaimedVmalloc {
            first: self.first,
            order: self.order,
            len: self.len,
            _t: core::marker::PhantomData,
        };
        match res {
            Ok(()) => Ok(claimed),
            Err(f) => {
                // SAFETY: the first `taken` pages of the walk are ours.
                unsafe { claimed.free_first(taken) };
                core::mem::forget(claimed);
                Err(f)
            }
        }
    }
}

impl<T: FromBytes> ClaimedVmalloc<T> {
    /// Frees the first `n` chunks and runs of the walk (all: `u64::MAX`).
    ///
    /// # Safety
    ///
    /// Those are taken and owned by `self`, which gives them up: nothing reads them after.
    unsafe fn free_first(&self, mut n: u64) {
        let nr = 1u64 << self.order;
        let mut chunk = self.first;
        while chunk != 0 && n > 0 {
            n -= 1;
            // SAFETY: a chunk among the first `n`: taken, ours until freed below.
            let c = unsafe { chunk_at(chunk) };
            for run in runs_of(c) {
                if n == 0 {
                    break;
                }
                n -= 1;
                // SAFETY: a run among the first `n`, taken and ours (safety requirement).
                unsafe { free_taken(run, nr) };
            }
            let next = next_of(c);
            // SAFETY: the chunk is ours (safety requirement), and not read after this.
            unsafe { free_taken(chunk, 1) };
            chunk = next;
        }
    }

    /// The entries, as copies of handed-over data.
    pub(crate) fn iter(&self) -> Entries<'_, T> {
        Entries {
            array: self,
            chunk: self.first,
            i: 0,
            run: 0,
            j: 0,
            left: self.len,
        }
    }
}

/// The entries of a [`ClaimedVmalloc`], in order (a named type: an adapter chain's symbol
/// names outgrow kallsyms).
pub(crate) struct Entries<'a, T: FromBytes> {
    array: &'a ClaimedVmalloc<T>,
    /// The chunk being read, and the index of its next run.
    chunk: u64,
    i: usize,
    /// The run being read (0: none), and the index of its next entry.
    run: u64,
    j: usize,
    /// Entries still to give.
    left: usize,
}

impl<T: FromBytes> Iterator for Entries<'_, T> {
    type Item = Handed<T>;

    fn next(&mut self) -> Option<Handed<T>> {
        if self.left == 0 {
            return None;
        }
        let per_run = (PAGE_SIZE << self.array.order) / size_of::<T>();
        while self.run == 0 || self.j == per_run {
            if self.chunk == 0 {
                return None;
            }
            // SAFETY: a chunk of the array, taken and owned by it (type invariant).
            let c = unsafe { chunk_at(self.chunk) };
            match c.phys.get(self.i).copied().filter(|&pa| pa != 0) {
                Some(run) => (self.run, self.j, self.i) = (run, 0, self.i + 1),
                None => (self.chunk, self.i, self.run) = (next_of(c), 0, 0),
            }
        }
        // SAFETY: a run of `PAGE_SIZE << order` bytes owned by the array (type invariant), which
        // holds `per_run` `T`s that any bytes make (`FromBytes`), maybe packed, so read
        // unaligned; `j < per_run`.
        let e = unsafe {
            bindings::phys_to_virt(self.run)
                .cast::<T>()
                .add(self.j)
                .read_unaligned()
        };
        self.j += 1;
        self.left -= 1;
        Some(Handed(e))
    }
}

impl<T: FromBytes> Drop for ClaimedVmalloc<T> {
    fn drop(&mut self) {
        // SAFETY: every page is ours (type invariant), and `self` is going away.
        unsafe { self.free_first(u64::MAX) };
    }
}
