// SPDX-License-Identifier: GPL-2.0

//! The memfd handover ABI `memfd-v2` as byte-safe Rust types.
//!
//! C header: [`include/linux/kho/abi/memfd.h`](srctree/include/linux/kho/abi/memfd.h).
//!
//! The structs are the bindings' own, wrapped in [`Abi`], their layouts
//! checked at compile time; handed-over addresses are read only here.

use core::mem::offset_of;
use kernel::{
    bindings,
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

use crate::staging::{
    abi::Abi,
    folio::UniqueFolio,
    kho::{
        Handed,
        HandoverAddr,
        Incoming, //
    },
    kho_folio::{
        self,
        HandedVmalloc,
        VmallocFault, //
    },
};

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
// SAFETY: any bytes are a valid value (see `FromBytes` above), zeroes too:
// an entry without a folio.
unsafe impl Zeroable for Abi<bindings::memfd_luo_folio_ser> {}

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

/// Width of `pfn`, the low bits of the first word of `struct
/// memfd_luo_folio_ser` (`u64 pfn:52; u64 flags:12;`, laid out from bit 0
/// on little-endian ABIs), above which `flags` lie.
const PFN_BITS: u32 = 52;
const PFN_MASK: u64 = (1 << PFN_BITS) - 1;

impl FolioSer {
    /// The entry of a folio at page frame `pfn` and file index `index`.
    ///
    /// The bitfields are packed by hand: bindgen's accessors move one bit
    /// at a time, which made them a third of the handler's own time.
    pub(crate) fn new(pfn: u64, flags: u64, index: u64) -> Self {
        let word = (pfn & PFN_MASK) | (flags << PFN_BITS);
        Abi(bindings::memfd_luo_folio_ser {
            _bitfield_1: bindings::__BindgenBitfieldUnit::new(word.to_le_bytes()),
            index,
            ..Default::default()
        })
    }

    /// The first word: `pfn` and `flags`.
    fn word(&self) -> u64 {
        let mut word = [0; 8];
        word.copy_from_slice(&self.as_bytes()[..8]);
        u64::from_le_bytes(word)
    }

    /// The folio's page frame number (0: no folio).
    pub(crate) fn pfn(&self) -> u64 {
        self.word() & PFN_MASK
    }

    /// The `MEMFD_LUO_FOLIO_*` flags.
    pub(crate) fn flags(&self) -> u64 {
        self.word() >> PFN_BITS
    }

    /// The folio's index in the file.
    pub(crate) fn index(&self) -> u64 {
        self.0.index
    }
}

impl Handed<FolioSer> {
    /// The address of the entry's folio: `None` for an entry without one
    /// (pfn 0).
    pub(crate) fn folio_addr(&self) -> Option<HandoverAddr> {
        let pfn = self.pfn();
        // Only `folio_array` yields `Handed<FolioSer>`s.
        // SAFETY: a handed-over entry, whose `pfn` memfd.h declares the
        // first page of a folio preserved with `kho_preserve_folio()`.
        (pfn != 0).then(|| unsafe { HandoverAddr::new(pfn << PAGE_SHIFT) })
    }

    /// Restores the entry's folio: `Ok(None)` for an entry without one
    /// (pfn 0), `Err(phys)` if KHO has no folio there.
    pub(crate) fn restore(&self) -> core::result::Result<Option<UniqueFolio>, u64> {
        let Some(addr) = self.folio_addr() else {
            return Ok(None);
        };
        kho_folio::restore_folio(addr)
            .map(Some)
            .ok_or(self.pfn() << PAGE_SHIFT)
    }
}

impl Incoming<MemfdSer> {
    /// How many folio entries the folio array's pages hold.
    pub(crate) fn folio_capacity(&self) -> u64 {
        let pages = self.folios.total_pages;
        u64::from(pages) * (PAGE_SIZE / size_of::<FolioSer>()) as u64
    }

    /// The folio array's descriptor, whose pages [`HandedVmalloc::claim`] takes.
    pub(crate) fn folio_array(
        &self,
    ) -> core::result::Result<HandedVmalloc<FolioSer>, VmallocFault> {
        let desc = self.folios;
        // SAFETY: `folios` of a handed-over `memfd_luo_ser` (adopted once), which memfd.h
        // declares the descriptor of its folio array's preservation.
        unsafe { HandedVmalloc::<FolioSer>::new(&desc, self.nr_folios) }
    }
}

/// The memfd the previous kernel preserved at `data`, the handle LUO
/// passes (EINVAL for none).
pub(crate) fn incoming(data: u64) -> Result<Incoming<MemfdSer>> {
    // SAFETY: LUO passes the handle this handler's `preserve` set in the
    // previous kernel: the address of a `kho_alloc_preserve()` allocation
    // holding a `struct memfd_luo_ser`.
    let addr = unsafe { HandoverAddr::new(data) };
    Incoming::adopt(addr, size_of::<MemfdSer>()).map_err(|bad| {
        pr_err!("serialized memfd at {:#x}: {bad}\n", data);
        Error::from(bad)
    })
}

#[kunit_tests(memfd_luo_rs)]
mod tests {
    use super::*;

    #[test]
    fn folio_entry_matches_the_c_bitfields() {
        let cases = [
            (0, 0),
            (1, FOLIO_DIRTY),
            (PFN_MASK, 0xfff),
            (0x12_3456_789a, 3),
        ];
        for (pfn, flags) in cases {
            let ours = FolioSer::new(pfn, flags, 7);
            let c = bindings::memfd_luo_folio_ser {
                _bitfield_1: bindings::memfd_luo_folio_ser::new_bitfield_1(pfn, flags),
                index: 7,
                ..Default::default()
            };
            assert_eq!(ours.as_bytes(), Abi(c).as_bytes());
            assert_eq!((ours.pfn(), ours.flags()), (c.pfn(), c.flags()));
        }
    }
}
