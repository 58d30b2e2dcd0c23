// SPDX-License-Identifier: GPL-2.0

//! Memfd preservation via LUO, in Rust.
//!
//! A drop-in replacement for mm/memfd_luo.c of Linux 7.3: the file handler
//! `memfd-v2`, with the same ABI (`struct memfd_luo_ser` and its folio
//! array) and the same preserved properties (contents, size, position,
//! seals, `O_RDWR | O_LARGEFILE`); see Documentation/mm/memfd_preservation.rst.
//!
//! Unlike the C handler it preserves only the folios the file has: holes
//! stay holes (indices absent from the folio array, which a C kernel
//! restores as holes too), swapped-out pages are read back in, and a write
//! into a hole after preservation is picked up at freeze.  The `unsafe`
//! code is in [`staging`] (folios, shmem, KHO) and [`abi`].

use kernel::{
    alloc::{
        KVVec,
        KVec,
        VVec, //
    },
    bindings,
    ffi::c_ulong,
    fs::File,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::aref::ARef, //
};

#[path = "memfd_luo/abi.rs"]
mod abi;
// Shared with the LUO crate, of which this crate uses a part.
#[allow(unused)]
#[path = "memfd_luo/staging.rs"]
mod staging;

use abi::{
    FolioSer,
    MemfdSer, //
};
use staging::{
    folio::{
        PinnedFolio,
        UniqueFolio, //
    },
    initcall::builtin_init,
    kho,
    kho_folio::{
        ClaimedVmalloc,
        HandedVmalloc,
        PreservedFolios,
        PreservedVmalloc,
        RestoreBatch, //
    },
    liveupdate::{
        FileOps,
        OpArgs,
        RustFileHandler, //
    },
    shmem::{
        self,
        InodeGuard,
        NewMemfd,
        ShmemFile, //
    },
};

/// Messages read `memfd_luo: ...`, as C's `pr_fmt` makes them.
const __LOG_PREFIX: &[u8] = b"memfd_luo\0";

/// Folios pinned per step: `memfd_pin_folios()` looks up 31 at a time,
/// so a small step would look up many it then drops.  Each step's folios
/// are preserved together, under one hold of KHO's lock.
const PIN_BATCH: usize = 512;
/// Folios restored per step (each step holds the page cache lock).
const BATCH: usize = 32;

/// The flags of every folio this handler preserves: it keeps them all
/// (see [`Preserved::scan`]).
const FOLIO_FLAGS: u64 = abi::FOLIO_DIRTY | abi::FOLIO_UPTODATE;

/// What a preserved memfd holds on to, until it is unpreserved or the
/// kexec happens.
///
/// Fields drop in order: the array, the folios, then the serialized
/// memfd, as C's unpreserve releases them.
struct Preserved {
    /// The folio array (`ser.folios`); `None` while the file has no folio.
    array: Option<PreservedVmalloc<FolioSer>>,
    /// The folios, pinned and preserved, a step of the walk at a time.
    folios: KVVec<PreservedFolios>,
    /// The serialized memfd, at the handle LUO hands over.
    ser: kho::Preserved<MemfdSer>,
    /// `shmem_nr_alloced_pages()` before the folios were last looked up.
    seen: usize,
}

impl Preserved {
    /// Pins and preserves the folios of the file that are not preserved
    /// yet, and (re)builds the folio array if there were any.
    ///
    /// Every folio is marked dirty, so that the next kernel never reclaims
    /// it, and one that was fallocated but never written is zeroed and
    /// marked up to date, as C does; so all entries carry
    /// [`FOLIO_FLAGS`].  On error nothing changes.
    fn scan(&mut self, inode: &InodeGuard<'_>) -> Result {
        let size = inode.size();
        if size <= 0 {
            return Ok(());
        }
        // Read before the walk: a page that appears during it makes the
        // count differ at freeze, which looks again.
        let seen = inode.nr_alloced_pages();
        let kept = self.folios.len();
        let res = self.walk(inode, (size as u64 - 1) >> PAGE_SHIFT, seen);
        if res.is_err() {
            // Unpreserves and unpins what the walk added.
            self.folios.truncate(kept);
        }
        res
    }

    /// [`Preserved::scan`]'s walk of the pages up to `end`, adding the new
    /// folios to `self.folios` (which the caller trims on error).
    fn walk(&mut self, inode: &InodeGuard<'_>, end: u64, seen: usize) -> Result {
        let kept = self.folios.len();
        let old = self.array.as_ref().map_or(&[][..], |a| a.as_slice());
        // The array: `n` entries are filled, and it always has room for
        // those and the old entries not merged yet (`old[k..]`).  It is
        // sized at the first step (see [`array_len`]) and grows if pages
        // appear during the walk or the guess was short.
        let mut entries = VVec::<FolioSer>::new();
        let (mut start, mut n, mut k, mut grown) = (0, 0, 0, false);
        // Past `end`, the walk is over: no vector to find that out.
        while start <= end {
            let mut batch = KVec::with_capacity(PIN_BATCH.min(seen.max(1)), GFP_KERNEL)?;
            if inode.pin_present(&mut start, end, &mut batch)? == 0 {
                break;
            }
            let room = n + batch.len() + (old.len() - k);
            if entries.is_empty() {
                let pages = batch.iter().map(|f| f.nr_pages()).sum();
                entries = PreservedVmalloc::zeroed(array_len(seen, pages, batch.len()).max(room))?;
            } else if entries.len() < room {
                entries.resize(room, FolioSer::default(), GFP_KERNEL)?;
                grown = true;
            }
            batch.retain(|folio| {
                let index = folio.index();
                // The old array is sorted by index, as the walk goes.
                while k < old.len() && old[k].index() < index {
                    entries[n] = old[k];
                    (n, k) = (n + 1, k + 1);
                }
                if k < old.len() && old[k].index() == index {
                    // Already preserved: drop the second pin.
                    entries[n] = old[k];
                    (n, k) = (n + 1, k + 1);
                    return false;
                }
                prepare(folio);
                entries[n] = FolioSer::new(folio.pfn(), FOLIO_FLAGS, index);
                n += 1;
                true
            });
            if !batch.is_empty() {
                self.folios.push(PreservedFolios::new(batch)?, GFP_KERNEL)?;
            }
        }
        if self.folios.len() > kept {
            let rest = &old[k..];
            let len = n + rest.len();
            entries[n..len].copy_from_slice(rest);
            entries.truncate(len);
            let entries = exact(entries, grown)?;
            let array = PreservedVmalloc::new(entries)?;
            self.ser.nr_folios = array.as_slice().len() as u64;
            self.ser.folios = array.descriptor();
            // The old array, if any, is unpreserved and freed here.
            self.array = Some(array);
        }
        self.seen = seen;
        Ok(())
    }
}

/// The length to give the folio array of a file with `seen` pages, whose
/// first `folios` folios held `pages` pages: an entry for each page over the
/// pages per folio seen so far.  A file of page-sized folios gets an entry
/// per page (the most it can need, as C allocates), one of 2 MiB folios an
/// entry per 512 pages, instead of preserving and handing over 512 times
/// the array it needs.
fn array_len(seen: usize, pages: usize, folios: usize) -> usize {
    match pages.checked_div(folios) {
        Some(per_folio) if per_folio > 1 => seen.div_ceil(per_folio),
        _ => seen,
    }
}

/// `entries` in an allocation with no page beyond the one of its last
/// entry and zeroes after the entries, since the whole allocation is
/// preserved and handed over: `entries` itself if it was allocated zeroed
/// and not `grown` (a grown vector's spare room is not zeroed) and wastes
/// no page, else a copy.
fn exact(entries: VVec<FolioSer>, grown: bool) -> Result<VVec<FolioSer>> {
    let pages = |n: usize| (n * size_of::<FolioSer>()).div_ceil(PAGE_SIZE);
    if !grown && pages(entries.capacity()) == pages(entries.len()) {
        return Ok(entries);
    }
    let mut copy = PreservedVmalloc::zeroed(entries.len())?;
    copy.copy_from_slice(&entries);
    Ok(copy)
}

/// Readies a pinned folio for the next kernel: up to date, dirty.
fn prepare(folio: &PinnedFolio) {
    let mut locked = folio.lock();
    if !folio.is_uptodate() {
        locked.zero_and_mark_uptodate();
    }
    locked.mark_dirty();
}

/// The memfd file handler.
struct MemfdLuo;

impl MemfdLuo {
    /// The part of `preserve` done under the inode lock, with the file
    /// frozen: the checks, in C's order, then the folios.
    fn preserve_locked(file: &ShmemFile, inode: &InodeGuard<'_>) -> Result<KBox<Preserved>> {
        let mut ser = kho::Preserved::<MemfdSer>::alloc(0)?;
        let seals = file.seals()?;
        if seals & !abi::ALL_SEALS != 0 {
            return Err(EOPNOTSUPP);
        }
        ser.pos = file.pos() as u64;
        let size = inode.size();
        // C pins with memfd_pin_folios(), which takes at most UINT_MAX
        // folios, and refuses larger files.
        if (size as u64).div_ceil(PAGE_SIZE as u64) > u64::from(u32::MAX) {
            return Err(EFBIG);
        }
        ser.size = size as u64;
        ser.seals = seals;
        let mut p = KBox::new(
            Preserved {
                array: None,
                folios: KVVec::new(),
                ser,
                seen: 0,
            },
            GFP_KERNEL,
        )?;
        p.scan(inode)?;
        Ok(p)
    }

    /// Inserts the handed-over folios into `memfd`, [`BATCH`] at a time, through `folios` (room
    /// for a batch); on error the folios not inserted yet are restored and freed, as C does.
    fn restore_folios(
        memfd: &mut NewMemfd,
        array: &ClaimedVmalloc<FolioSer>,
        mut folios: KVec<UniqueFolio>,
    ) -> Result {
        let mut entries = array.iter().filter_map(|e| Some((e.folio_addr()?, e)));
        let mut batch = RestoreBatch::<BATCH>::new();
        let (mut indices, mut flags) = ([0; BATCH], [0; BATCH]);
        let mut res = Ok(());
        while res.is_ok() {
            for (addr, e) in entries.by_ref() {
                // An entry naming a page taken already (the array's own, the memfd_luo_ser, a
                // folio listed twice): corrupt.
                if !batch.takes(addr) {
                    pr_err!("folio at {:#x} is not memory KHO holds\n", addr.pa());
                    res = Err(EIO);
                    break;
                }
                let n = batch.len();
                (indices[n], flags[n]) = (e.index() as c_ulong, e.flags());
                // The batch has room: it is restored when full.
                let _ = batch.push(addr);
                if batch.len() == BATCH {
                    break;
                }
            }
            if batch.len() == 0 {
                break;
            }
            for (restored, &flags) in batch.restore().zip(flags.iter()) {
                let mut folio = match restored {
                    Ok(folio) => folio,
                    Err(phys) => {
                        pr_err!("Unable to restore folio at physical address: {:x}\n", phys);
                        res = Err(EIO);
                        break;
                    }
                };
                folio.set_flags(
                    flags & abi::FOLIO_UPTODATE != 0,
                    flags & abi::FOLIO_DIRTY != 0,
                );
                // Room for a batch.
                let _ = folios.push_within_capacity(folio).map_err(drop);
            }
            if res.is_ok() {
                let n = folios.len();
                res = memfd.add_folios(&mut folios, &indices[..n]);
            }
        }
        if res.is_err() {
            // The folios not inserted yet are freed, as C does.
            drop(folios);
            discard(entries.map(|(_, e)| e));
        }
        res
    }

    /// A memfd with the handed-over seals, position and size, still
    /// without folios.
    fn restore(ser: &MemfdSer) -> Result<NewMemfd> {
        if ser.seals & !abi::ALL_SEALS != 0 {
            return Err(EOPNOTSUPP);
        }
        // The seals are preserved: allow sealing so they can be added.
        let memfd = NewMemfd::create(c"", bindings::MFD_ALLOW_SEALING).inspect_err(|e| {
            pr_err!("failed to setup file: {:?}\n", e);
        })?;
        memfd.add_seals(ser.seals).inspect_err(|e| {
            pr_err!("failed to add seals: {:?}\n", e);
        })?;
        memfd.set_pos(ser.pos as i64);
        memfd.set_size(ser.size as i64);
        Ok(memfd)
    }
}

/// Restores and frees the folios of `entries`; an entry whose folio KHO does not hold (a corrupt
/// one, checked first) is skipped.
fn discard(entries: impl Iterator<Item = kho::Handed<FolioSer>>) {
    for e in entries {
        if e.folio_addr().is_some_and(|a| a.preserved_order().is_err()) {
            continue;
        }
        if let Err(phys) = e.restore() {
            pr_warn!("Unable to restore folio at physical address: {:x}\n", phys);
        }
    }
}

/// Checks the handed-over memfd's own fields before anything is taken: the size must be a file
/// size and the folio array must hold `nr_folios` entries; gives the array's descriptor (`None`
/// for a memfd without folios).  A fault is logged; it is final (EINVAL).
fn check(ser: &kho::Incoming<MemfdSer>) -> Result<Option<HandedVmalloc<FolioSer>>> {
    let (size, nr) = (ser.size, ser.nr_folios);
    // MAX_LFS_FILESIZE on 64-bit.
    if size > i64::MAX as u64 {
        pr_err!("file size {:#x} is not a file size\n", size);
        return Err(EINVAL);
    }
    if nr == 0 {
        return Ok(None);
    }
    if nr > ser.folio_capacity() {
        // The array cannot be trusted: its folios stay preserved (reserved).
        let cap = ser.folio_capacity();
        pr_err!("{} folios do not fit in an array of {}\n", nr, cap);
        return Err(EINVAL);
    }
    ser.folio_array().map(Some).map_err(|f| {
        pr_err!("folio array: {} at {:#x}\n", f.what, f.pa);
        EINVAL
    })
}

/// Takes the folio array's pages and checks every entry: the array, or the fault (logged; the
/// folios that KHO still holds are freed).  C checks none of this: it reads past the array for a
/// large `nr_folios`, and inserts folios at any index.
fn claim_folios(array: HandedVmalloc<FolioSer>, size: u64) -> Result<ClaimedVmalloc<FolioSer>> {
    let array = array.claim().map_err(|f| {
        pr_err!("folio array: {} at {:#x}\n", f.what, f.pa);
        EINVAL
    })?;
    if let Some(e) = check_folios(&array, size) {
        discard(array.iter());
        return Err(e);
    }
    Ok(array)
}

/// The fault of the first folio entry that is wrong (see [`check`]).
fn check_folios(array: &ClaimedVmalloc<FolioSer>, size: u64) -> Option<Error> {
    let pages = size.div_ceil(PAGE_SIZE as u64);
    let mut next = 0;
    for (i, e) in array.iter().enumerate() {
        let Some(addr) = e.folio_addr() else {
            continue;
        };
        let Ok(order) = addr.preserved_order() else {
            pr_err!(
                "folio {} at {:#x} is not memory KHO preserved\n",
                i,
                addr.pa()
            );
            return Some(EIO);
        };
        let (index, nr_pages) = (e.index(), 1u64 << order);
        let fault = if e.flags() & !FOLIO_FLAGS != 0 {
            "has unknown flags"
        } else if index % nr_pages != 0 {
            "is not aligned to its size"
        } else if index >= pages {
            "is past the end of the file"
        } else if index < next {
            "overlaps the folio before it"
        } else {
            next = index + nr_pages;
            continue;
        };
        pr_err!(
            "folio {} at index {:#x} (order {}) {}\n",
            i,
            index,
            order,
            fault
        );
        return Some(EINVAL);
    }
    None
}

impl FileOps for MemfdLuo {
    type Private = KBox<Preserved>;

    fn can_preserve(file: &File) -> bool {
        ShmemFile::from_file(file).is_some_and(|f| f.nlink() == 0)
    }

    fn get_id(file: &File) -> usize {
        shmem::inode_id(file)
    }

    fn preserve(args: &mut OpArgs<'_, KBox<Preserved>>) -> Result {
        let file = args.file().and_then(ShmemFile::from_file).ok_or(EINVAL)?;
        let mut inode = file.lock();
        inode.set_frozen(true);
        match Self::preserve_locked(file, &inode) {
            Ok(p) => {
                args.set_data(p.ser.phys());
                args.set_private(p);
                Ok(())
            }
            Err(e) => {
                inode.set_frozen(false);
                Err(e)
            }
        }
    }

    fn freeze(args: &mut OpArgs<'_, KBox<Preserved>>) -> Result {
        let file = args.file().and_then(ShmemFile::from_file).ok_or(EINVAL)?;
        let Some(p) = args.private_mut() else {
            kernel::warn_on!(true);
            return Err(EINVAL);
        };
        // The position may have changed since preserve.
        p.ser.pos = file.pos() as u64;
        let inode = file.lock();
        // Pages written into holes since preserve are preserved now.
        if inode.nr_alloced_pages() != p.seen {
            p.scan(&inode)?;
        }
        Ok(())
    }

    fn unpreserve(args: &mut OpArgs<'_, KBox<Preserved>>) {
        let Some(file) = args.file().and_then(ShmemFile::from_file) else {
            kernel::warn_on!(true);
            return;
        };
        let mut inode = file.lock();
        inode.set_frozen(false);
        drop(args.take_private());
    }

    /// Checks what the previous kernel handed over, makes the memfd and its batch, and only then
    /// takes the handed-over pages and restores folios: a failure before that (an allocation: the
    /// memfd's inode, dentry and file) consumed nothing, and LUO lets the file be retrieved again
    /// ([`FileOps::RETRYABLE_RETRIEVE`]); C frees the handed-over state on any failure, so a
    /// transient ENOMEM loses the memfd.  A failure after it, or a corrupt handover, is final
    /// (the handle set to 0), as in C.
    fn retrieve(args: &mut OpArgs<'_, KBox<Preserved>>) -> Result<ARef<File>> {
        let res = (|| {
            let ser = abi::incoming(args.data()).map_err(Final)?;
            let array = match check(&ser) {
                Ok(array) => array,
                Err(e) => {
                    drop(ser.claim());
                    return Err(Final(e));
                }
            };
            // Nothing is consumed until the pages are taken.
            let mut memfd = Self::restore(&ser).map_err(Retry)?;
            let folios = KVec::with_capacity(BATCH, GFP_KERNEL).map_err(|e| Retry(e.into()))?;
            let size = ser.size;
            // The memfd_luo_ser page and the array's pages are ours from here, so an entry
            // naming one of them finds it taken.
            let ser = ser.claim().map_err(|bad| {
                pr_err!("serialized memfd: {bad}\n");
                Final(EINVAL)
            })?;
            if let Some(array) = array {
                let array = claim_folios(array, size).map_err(Final)?;
                // On error the folios not inserted are freed, as C does.
                Self::restore_folios(&mut memfd, &array, folios).map_err(Final)?;
            }
            drop(ser);
            Ok(memfd.into_file())
        })();
        res.map_err(|fault| match fault {
            Retry(e) => e,
            Final(e) => {
                args.set_data(0);
                e
            }
        })
    }

    const RETRYABLE_RETRIEVE: bool = true;

    fn finish(args: &mut OpArgs<'_, KBox<Preserved>>) {
        // A retrieved file owns its folios, and a failed retrieve freed what it could (or, if it
        // may be tried again, consumed nothing): only a file not retrieved is left to free.
        if args.retrieve_status().is_some() {
            return;
        }
        let Ok(ser) = abi::incoming(args.data()) else {
            return;
        };
        let array = check(&ser);
        let Ok(_ser) = ser.claim() else {
            return;
        };
        if let Ok(Some(array)) = array {
            match array.claim() {
                Ok(array) => discard(array.iter()),
                Err(f) => pr_err!("folio array: {} at {:#x}\n", f.what, f.pa),
            }
        }
    }
}

/// How a retrieve failed: `Retry` consumed nothing, `Final` did (or met corrupt data).
enum Fault {
    Retry(Error),
    Final(Error),
}
use Fault::{
    Final,
    Retry, //
};

/// The handler LUO calls.
static HANDLER: RustFileHandler<MemfdLuo> = RustFileHandler::new(abi::COMPATIBLE);

/// Registers the handler; without live update there is nothing to do.
fn init() -> Result {
    match HANDLER.register() {
        Err(e) if e != EOPNOTSUPP => {
            pr_err!("Could not register luo filesystem handler: {:?}\n", e);
            Err(e)
        }
        _ => Ok(()),
    }
}

builtin_init!(late_initcall, memfd_luo_init_rs, init);
