// SPDX-License-Identifier: GPL-2.0

//! The memfd handover ABI `memfd-v2` as byte-safe Rust types.
//!
//! C header: [`include/linux/kho/abi/memfd.h`](srctree/include/linux/kho/abi/memfd.h).
//!
//! The structs are the bindings' own, wrapped in [`Abi`], their layouts
//! checked at compile time; handed-over addresses are read only here.

use core::{
    mem::offset_of,
    ops::{
        Deref,
        DerefMut, //
    }, //
};
use kernel::{
    bindings,
    page::PAGE_SHIFT,
    prelude::*,
    transmute::{
        AsBytes,
        FromBytes, //
    },
};

use crate::staging::{
    folio::UniqueFolio,
    kho::{
        Handed,
        HandoverAddr,
        Incoming, //
    },
    kho_folio::{
        self,
        IncomingVmalloc, //
    },
};

/// A C struct of the memfd ABI, made of integers only.
#[repr(transparent)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Abi<T>(T);

impl<T> Deref for Abi<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Abi<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

// SAFETY: `struct memfd_luo_ser` is packed and made of integers and a
// `struct kho_vmalloc` (integers and a union of an integer and a pointer),
// so any bytes are a valid value.
unsafe impl FromBytes for Abi<bindings::memfd_luo_ser> {}
// SAFETY: packed, and every field is padding-free (size checked below).
unsafe impl AsBytes for Abi<bindings::memfd_luo_ser> {}
// SAFETY: `struct memfd_luo_folio_ser` is packed and made of two 64-bit
// integers (one split into bitfields): any bytes are a valid value.
unsafe impl FromBytes for Abi<bindings::memfd_luo_folio_ser> {}
// SAFETY: packed integers, no padding (size checked below).
unsafe impl AsBytes for Abi<bindings::memfd_luo_folio_ser> {}

/// `struct memfd_luo_ser`, a preserved memfd.
pub(crate) type MemfdSer = Abi<bindings::memfd_luo_ser>;
/// `struct memfd_luo_folio_ser`, one preserved folio.
pub(crate) type FolioSer = Abi<bindings::memfd_luo_folio_ser>;

static_assert!(size_of::<bindings::kho_vmalloc>() == 16);
static_assert!(size_of::<bindings::memfd_luo_ser>() == 48);
static_assert!(offset_of!(bindings::memfd_luo_ser, seals) == 16);
static_assert!(offset_of!(bindings::memfd_luo_ser, nr_folios) == 24);
static_assert!(offset_of!(bindings::memfd_luo_ser, folios) == 32);
static_assert!(size_of::<bindings::memfd_luo_folio_ser>() == 16);
static_assert!(offset_of!(bindings::memfd_luo_folio_ser, index) == 8);

/// The handler's compatible string (`MEMFD_LUO_FH_COMPATIBLE`).
pub(crate) const COMPATIBLE: &CStr =
    match CStr::from_bytes_with_nul(bindings::MEMFD_LUO_FH_COMPATIBLE) {
        Ok(s) => s,
        Err(_) => panic!("not a C string"),
    };
/// The seals a memfd may carry (`MEMFD_LUO_ALL_SEALS`).
pub(crate) const ALL_SEALS: u32 = bindings::MEMFD_LUO_ALL_SEALS;
/// `MEMFD_LUO_FOLIO_DIRTY` (`BIT(0)`, which bindgen cannot expand).
pub(crate) const FOLIO_DIRTY: u64 = 1 << 0;
/// `MEMFD_LUO_FOLIO_UPTODATE` (`BIT(1)`).
pub(crate) const FOLIO_UPTODATE: u64 = 1 << 1;

impl FolioSer {
    /// The entry of a folio at page frame `pfn` and file index `index`.
    pub(crate) fn new(pfn: u64, flags: u64, index: u64) -> Self {
        Abi(bindings::memfd_luo_folio_ser {
            _bitfield_1: bindings::memfd_luo_folio_ser::new_bitfield_1(pfn, flags),
            index,
            ..Default::default()
        })
    }

    /// The folio's index in the file.
    pub(crate) fn index(&self) -> u64 {
        self.0.index
    }
}

impl Handed<FolioSer> {
    /// Restores the entry's folio: `Ok(None)` for an entry without one
    /// (pfn 0), `Err(phys)` if KHO has no folio there.
    pub(crate) fn restore(&self) -> core::result::Result<Option<UniqueFolio>, u64> {
        let pfn = self.pfn();
        if pfn == 0 {
            return Ok(None);
        }
        let phys = pfn << PAGE_SHIFT;
        // Only `folio_array` yields `Handed<FolioSer>`s.
        // SAFETY: a handed-over entry, whose `pfn` memfd.h declares the
        // first page of a folio preserved with `kho_preserve_folio()`.
        let addr = unsafe { HandoverAddr::new(phys) };
        kho_folio::restore_folio(addr).map(Some).ok_or(phys)
    }
}

impl Incoming<MemfdSer> {
    /// The folio array, restored (`kho_restore_vmalloc()`): `None` if KHO
    /// cannot restore it.
    pub(crate) fn folio_array(&self) -> Option<IncomingVmalloc<FolioSer>> {
        let desc = self.folios;
        // `self` is adopted once, so the array is restored once.
        // SAFETY: `folios` of a handed-over `memfd_luo_ser`, which memfd.h
        // declares the descriptor of its folio array's preservation.
        unsafe { IncomingVmalloc::<FolioSer>::restore(desc, self.nr_folios) }
    }
}

/// The memfd the previous kernel preserved at `data`, the handle LUO
/// passes (EINVAL for none).
pub(crate) fn incoming(data: u64) -> Result<Incoming<MemfdSer>> {
    // SAFETY: LUO passes the handle this handler's `preserve` set in the
    // previous kernel: the address of a `kho_alloc_preserve()` allocation
    // holding a `struct memfd_luo_ser`.
    let addr = unsafe { HandoverAddr::new(data) };
    Incoming::adopt(addr, size_of::<MemfdSer>())
}
