// SPDX-License-Identifier: GPL-2.0

//! Shmem files and memfds: their inode, seals and page cache.
//!
//! C headers: [`include/linux/shmem_fs.h`](srctree/include/linux/shmem_fs.h),
//! [`include/linux/memfd.h`](srctree/include/linux/memfd.h).
//!
//! [`ShmemFile`] is a file that `shmem_file()` accepted; its inode is
//! locked with [`ShmemFile::lock`].  [`NewMemfd`] is a memfd this kernel
//! just made and nobody else can reach yet, which is filled with folios.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

use super::folio::{
    PinnedFolio,
    UniqueFolio, //
};

/// The largest file position (`MAX_LFS_FILESIZE` on 64-bit).
const MAX_LFS_FILESIZE: i64 = i64::MAX;

/// The identity of `file`'s inode (its address), shared by every file
/// opened on it.
pub(crate) fn inode_id(file: &File) -> usize {
    // SAFETY: a live file has an inode, which `file_inode` reads.
    unsafe { bindings::file_inode(file.as_ptr()) as usize }
}

/// A file backed by shmem (tmpfs, memfd without hugetlb).
///
/// # Invariants
///
/// `shmem_file()` is true for the file.
#[repr(transparent)]
pub(crate) struct ShmemFile(File);

impl ShmemFile {
    /// `file` as a shmem file, if it is one.
    pub(crate) fn from_file(file: &File) -> Option<&ShmemFile> {
        // SAFETY: a live file.
        let shmem = unsafe { bindings::shmem_file(file.as_ptr()) };
        // SAFETY: `ShmemFile` is a transparent wrapper of `File`.
        // INVARIANT: `shmem_file()` said so.
        shmem.then(|| unsafe { &*core::ptr::from_ref(file).cast::<ShmemFile>() })
    }

    fn file_ptr(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }

    fn inode(&self) -> *mut bindings::inode {
        // SAFETY: a live file has an inode.
        unsafe { bindings::file_inode(self.0.as_ptr()) }
    }

    /// The number of links to the inode (0 for a memfd).
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: the inode lives as long as the file; `i_nlink` is a plain
        // integer, read once like C's `inode->i_nlink`.
        unsafe { core::ptr::read_volatile(&raw const (*self.inode()).__bindgen_anon_1.i_nlink) }
    }

    /// The file position.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: a live file; `f_pos` is a plain integer, read once as C
        // reads it without `f_pos_lock`.
        unsafe { core::ptr::read_volatile(&raw const (*self.0.as_ptr()).f_pos) }
    }

    /// The memfd's seals (`memfd_get_seals()`; EINVAL if it has none).
    pub(crate) fn seals(&self) -> Result<u32> {
        // SAFETY: a live file.
        let seals = unsafe { bindings::memfd_get_seals(self.0.as_ptr()) };
        to_result(seals)?;
        Ok(seals as u32)
    }

    /// Takes the inode lock (`inode_lock()`, may sleep) until the guard
    /// goes.
    pub(crate) fn lock(&self) -> InodeGuard<'_> {
        // SAFETY: the inode of a live file.
        unsafe { bindings::inode_lock(self.inode()) };
        // INVARIANT: locked just above.
        InodeGuard(self)
    }
}

/// The inode of a [`ShmemFile`], locked.
///
/// # Invariants
///
/// The inode lock of `0`'s inode is held by this guard.
pub(crate) struct InodeGuard<'a>(&'a ShmemFile);

impl InodeGuard<'_> {
    /// Freezes or thaws the file's size and page set (`shmem_freeze()`):
    /// while frozen it can be neither truncated, grown nor hole-punched.
    pub(crate) fn set_frozen(&mut self, frozen: bool) {
        // SAFETY: a shmem inode, locked (type invariant) as the function
        // requires.
        unsafe { bindings::shmem_freeze(self.0.inode(), frozen) };
    }

    /// The file size.
    pub(crate) fn size(&self) -> i64 {
        // SAFETY: the inode of a live file.
        unsafe { bindings::i_size_read(self.0.inode()) }
    }

    /// The number of data pages the file holds, in memory or in swap
    /// (`shmem_nr_alloced_pages()`); it only grows while the file is
    /// frozen.
    pub(crate) fn nr_alloced_pages(&self) -> usize {
        // SAFETY: a shmem inode (type invariant of `ShmemFile`).
        unsafe { bindings::shmem_nr_alloced_pages(self.0.inode()) }
    }

    /// Pins the next folios the file holds in `[*start, end]`, skipping
    /// holes and reading swapped-out pages back, into the spare capacity of
    /// `out` (at least one); advances `*start` past them.  Returns how many
    /// were added, 0 when the range has no more.
    pub(crate) fn pin_present(
        &self,
        start: &mut u64,
        end: u64,
        out: &mut KVec<PinnedFolio>,
    ) -> Result<usize> {
        if *start > end {
            return Ok(0);
        }
        if out.len() == out.capacity() {
            out.reserve(1, GFP_KERNEL)?;
        }
        let spare = out.spare_capacity_mut();
        let max = u32::try_from(spare.len()).unwrap_or(u32::MAX);
        let mut idx = *start as c_ulong;
        // SAFETY: a shmem file whose inode is locked (type invariant), and
        // room for `max` folio pointers: `PinnedFolio` is a transparent
        // `NonNull<Folio>`, and `Folio` a transparent `struct folio`.
        let n = unsafe {
            bindings::memfd_pin_present_folios(
                self.0.file_ptr(),
                &mut idx,
                end as c_ulong,
                spare.as_mut_ptr().cast(),
                max,
            )
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        *start = idx as u64;
        // SAFETY: `memfd_pin_present_folios` stored `n <= max` non-null
        // pointers to folios it pinned at the start of the spare capacity,
        // and the pins are now ours: valid `PinnedFolio`s.
        unsafe { out.inc_len(n as usize) };
        Ok(n as usize)
    }
}

impl Drop for InodeGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: locked by this guard (type invariant).
        unsafe { bindings::inode_unlock(self.0.inode()) };
    }
}

/// A memfd this kernel made and nobody else can reach yet.
///
/// # Invariants
///
/// `file` is a memfd (a shmem file) with no other reference, not installed
/// in any file table; it has no folio at or after index `floor`, or
/// `floor` is `c_ulong::MAX`.
pub(crate) struct NewMemfd {
    file: ARef<File>,
    floor: c_ulong,
}

impl NewMemfd {
    /// A new memfd (`memfd_alloc_file()`, with `MFD_*` flags).
    pub(crate) fn create(name: &CStr, flags: u32) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated.
        let file = unsafe { bindings::memfd_alloc_file(name.as_char_ptr(), flags) };
        let file = kernel::error::from_err_ptr(file)?;
        let file = NonNull::new(file.cast::<File>()).ok_or(ENOMEM)?;
        // SAFETY: a new file with one reference, now ours; `File` is a
        // transparent wrapper of `struct file`.
        let file = unsafe { ARef::from_raw(file) };
        // INVARIANT: nobody else has it, and it has no folio.
        Ok(Self { file, floor: 0 })
    }

    fn inode(&self) -> *mut bindings::inode {
        // SAFETY: a live file has an inode.
        unsafe { bindings::file_inode(self.file.as_ptr()) }
    }

    /// Adds `seals` (`memfd_add_seals()`).
    pub(crate) fn add_seals(&self, seals: u32) -> Result {
        // SAFETY: a live memfd.
        to_result(unsafe { bindings::memfd_add_seals(self.file.as_ptr(), seals) })
    }

    /// Sets the file position (`vfs_setpos()`; a bad one is ignored, as C
    /// does).
    pub(crate) fn set_pos(&self, pos: i64) {
        // SAFETY: a live file that nobody else uses (type invariant).
        unsafe { bindings::vfs_setpos(self.file.as_ptr(), pos, MAX_LFS_FILESIZE) };
    }

    /// Sets the file size (`i_size_write()`), without touching its pages.
    pub(crate) fn set_size(&self, size: i64) {
        // SAFETY: the inode of a file that nobody else uses (type
        // invariant), so no lock is needed against other writers.
        unsafe { bindings::i_size_write(self.inode(), size) };
    }

    /// Inserts `folios` at page indices `indices` (same length), charged
    /// and accounted as shmem's own (`shmem_add_restored_folios()`), and
    /// empties `folios`.
    ///
    /// Every folio is consumed: added, or freed on error (in which case
    /// none of them is added).  Folios past the last one added before are
    /// added without a look for another in their range, so a file restored
    /// in the order of its indices is fastest.
    pub(crate) fn add_folios(
        &mut self,
        folios: &mut KVec<UniqueFolio>,
        indices: &[c_ulong],
    ) -> Result {
        if folios.len() != indices.len() {
            return Err(EINVAL);
        }
        let nr = u32::try_from(indices.len()).map_err(|_| EINVAL)?;
        let (ptr, _, cap) = core::mem::take(folios).into_raw_parts();
        // `ptr` has `nr` unique folios (`UniqueFolio` is a transparent folio
        // pointer) whose references go to C, and an index each; C moves
        // `floor` past the folios it adds, which keeps the type invariant.
        // SAFETY: a shmem inode nobody else can reach, with no folio at or
        // after `floor` unless it is `MAX` (type invariant); `ptr` as above.
        let ret = unsafe {
            bindings::shmem_add_restored_folios(
                self.inode(),
                ptr.cast(),
                indices.as_ptr(),
                nr,
                &mut self.floor,
            )
        };
        // SAFETY: the allocation `into_raw_parts` gave back, now without
        // elements: C consumed every folio's reference.
        *folios = unsafe { KVec::from_raw_parts(ptr, 0, cap) };
        to_result(ret)
    }

    /// The file, for whoever will own it.
    pub(crate) fn into_file(self) -> ARef<File> {
        self.file
    }
}
