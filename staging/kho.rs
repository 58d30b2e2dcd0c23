// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver (KHO): preserved memory, the FDT subtree, block sets.
//!
//! C headers: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h),
//! [`include/linux/kho_block.h`](srctree/include/linux/kho_block.h).
//!
//! The previous kernel's memory is reached only through a [`HandoverAddr`],
//! which carries KHO's trust in that kernel (see Documentation/luo-rs.rst).

use core::{
    marker::PhantomData,
    ops::Deref,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    error::to_result,
    page::PAGE_SIZE,
    prelude::*,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    types::Opaque, //
};

/// Whether KHO is enabled on this boot.
pub(crate) fn is_enabled() -> bool {
    // SAFETY: `kho_is_enabled` only reads a boot-time flag.
    unsafe { bindings::kho_is_enabled() }
}

/// A physical address the previous kernel handed over.
///
/// # Invariants
///
/// `0` (none), or an address read from the previous kernel's data, in a field that its ABI
/// declares to hold a KHO-preserved allocation of the kind the address is used for.  The data may
/// be corrupt: memory at the address is only read after [`HandoverAddr::check`] found it
/// preserved ([`Incoming::adopt`] does).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct HandoverAddr(pub(super) u64);

impl HandoverAddr {
    /// The address `pa`, read from handed-over data.
    ///
    /// # Safety
    ///
    /// `pa` must satisfy the type invariant, for the use the caller makes of it.
    pub(crate) const unsafe fn new(pa: u64) -> Self {
        Self(pa)
    }

    /// Whether there is no address.
    pub(crate) fn is_null(self) -> bool {
        self.0 == 0
    }

    /// The physical address, for messages.
    pub(crate) fn pa(self) -> u64 {
        self.0
    }

    /// The order of the preserved memory that starts here and that this kernel has not restored
    /// (`kho_preserved_order()`), or why there is none; reads nothing at the address.
    pub(crate) fn preserved_order(self) -> core::result::Result<u32, BadAddr> {
        if self.is_null() {
            return Err(BadAddr::Null);
        }
        // SAFETY: `kho_preserved_order` reads the page's KHO information if the address is RAM,
        // and nothing at the address; any value is allowed.
        let order = unsafe { bindings::kho_preserved_order(self.0) };
        u32::try_from(order).map_err(|_| BadAddr::NotPreserved)
    }

    /// Checks that `size` bytes from here are one preserved allocation this kernel has not
    /// restored, before anything reads them.
    pub(crate) fn check(self, size: usize) -> core::result::Result<(), BadAddr> {
        let order = self.preserved_order()?;
        let bytes = (PAGE_SIZE as u64).checked_shl(order).unwrap_or(u64::MAX);
        if (size as u64) > bytes {
            return Err(BadAddr::TooSmall);
        }
        Ok(())
    }
}

/// Why a handed-over address cannot be read ([`HandoverAddr::check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadAddr {
    /// No address (0).
    Null,
    /// Not the start of memory the previous kernel preserved and this one has not restored: not
    /// RAM, not page-aligned, never preserved, or restored already.
    NotPreserved,
    /// Preserved, but smaller than what is read there.
    TooSmall,
}

impl kernel::fmt::Display for BadAddr {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        f.write_str(match self {
            BadAddr::Null => "no address",
            BadAddr::NotPreserved => "not memory KHO preserved (or restored already)",
            BadAddr::TooSmall => "smaller than its contents",
        })
    }
}

impl From<BadAddr> for Error {
    fn from(_: BadAddr) -> Error {
        EINVAL
    }
}

/// A copy of data the previous kernel handed over; only the KHO modules
/// (this one and [`super::kho_folio`]) make one, so code that knows the
/// ABI may read addresses out of it.
#[derive(Clone, Copy)]
pub(crate) struct Handed<T>(pub(super) T);

impl<T> Deref for Handed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A zeroed allocation of `T` (and, for arrays, what follows it) that KHO
/// preserves across kexec (`kho_alloc_preserve()`) until it is dropped.
///
/// # Invariants
///
/// `ptr` points to a KHO-preserved allocation of `size` bytes, at least
/// `size_of::<T>()`, that this object owns.
pub(crate) struct Preserved<T: FromBytes + AsBytes> {
    ptr: NonNull<T>,
    size: usize,
}

// SAFETY: the allocation is plain memory owned by this object, and `T` is plain bytes.
unsafe impl<T: FromBytes + AsBytes> Send for Preserved<T> {}

impl<T: FromBytes + AsBytes> Preserved<T> {
    /// Allocates and preserves `size` zeroed bytes (at least one `T`).
    pub(crate) fn alloc(size: usize) -> Result<Self> {
        let size = size.max(size_of::<T>());
        // SAFETY: `kho_alloc_preserve` has no preconditions.
        let ptr = kernel::error::from_err_ptr(unsafe { bindings::kho_alloc_preserve(size) })?;
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: `kho_alloc_preserve` returns preserved memory of at
        // least `size` bytes, which is now ours.
        Ok(Self { ptr, size })
    }

    /// The physical address the next kernel finds this allocation at.
    pub(crate) fn phys(&self) -> u64 {
        // SAFETY: `ptr` is a direct-map address (type invariant), which `virt_to_phys` translates.
        unsafe { bindings::virt_to_phys(self.ptr.as_ptr().cast()) }
    }

    /// The array of `U` that fills the allocation after the `T` header.
    pub(crate) fn trailing_mut<U: FromBytes + AsBytes>(&mut self) -> &mut [U] {
        let n = (self.size - size_of::<T>()) / size_of::<U>().max(1);
        const { assert!(size_of::<T>() % align_of::<U>() == 0) };
        // SAFETY: room for `n` `U`s after the `T` (type invariant), aligned
        // (the allocation is page-aligned, and the assertion above), only
        // reachable through `&mut self`; any bytes are a valid `U`.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(1).cast::<U>(), n) }
    }
}

impl<T: FromBytes + AsBytes> Deref for Preserved<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the allocation holds a `T` (type invariant), any bytes of
        // which are valid (`FromBytes`).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: FromBytes + AsBytes> core::ops::DerefMut for Preserved<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the allocation holds a `T` (type invariant), any bytes of which are valid
        // (`FromBytes`); `&mut self` makes this the only access.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: FromBytes + AsBytes> Drop for Preserved<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `kho_alloc_preserve` and is still ours
        // (type invariant); nothing uses it after this.
        unsafe { bindings::kho_unpreserve_free(self.ptr.as_ptr().cast()) };
    }
}

/// Publishes `blob` as the KHO subtree `name` for the next kernel.
pub(crate) fn add_subtree<T: FromBytes + AsBytes>(name: &CStr, blob: &Preserved<T>) -> Result {
    // SAFETY: `name` is NUL-terminated; `blob` is a live preserved
    // allocation of `blob.size` bytes (its type invariant).
    to_result(unsafe {
        bindings::kho_add_subtree(name.as_char_ptr(), blob.ptr.as_ptr().cast(), blob.size)
    })
}

/// The subtree `name` the previous kernel published: its address and length.
pub(crate) fn retrieve_subtree(name: &CStr) -> Result<(HandoverAddr, usize)> {
    let mut phys: bindings::phys_addr_t = 0;
    let mut len: usize = 0;
    // SAFETY: `name` is NUL-terminated and the out pointers are valid.
    to_result(unsafe { bindings::kho_retrieve_subtree(name.as_char_ptr(), &mut phys, &mut len) })?;
    // SAFETY: KHO read this address from the subtree the previous kernel published under `name`.
    Ok((unsafe { HandoverAddr::new(phys) }, len))
}

/// An allocation the previous kernel made with `kho_alloc_preserve()` and
/// handed to this one, read in place; only [`Incoming::free`] releases it.
///
/// # Invariants
///
/// `ptr` is the direct-map address of `size` bytes, at least `size_of::<T>()`, that the previous
/// kernel preserved and that nothing else in this kernel uses.
pub(crate) struct Incoming<T: FromBytes> {
    ptr: NonNull<T>,
    size: usize,
}

// SAFETY: plain memory handed over to this kernel, only read, from any thread.
unsafe impl<T: FromBytes> Send for Incoming<T> {}

impl<T: FromBytes> Incoming<T> {
    /// The allocation of `size` bytes at `addr`, after [`HandoverAddr::check`] found it preserved
    /// and large enough; `size` must hold a `T`.
    ///
    /// `addr` must be one allocation of at least `size` bytes (the caller's ABI knowledge); only
    /// the one that frees it may [`Incoming::free`] it, others drop theirs.
    pub(crate) fn adopt(addr: HandoverAddr, size: usize) -> core::result::Result<Self, BadAddr> {
        if size < size_of::<T>() {
            return Err(BadAddr::TooSmall);
        }
        addr.check(size)?;
        // SAFETY: `phys_to_virt` is arithmetic on the direct map, which maps all RAM.
        let ptr = unsafe { bindings::phys_to_virt(addr.0) }.cast::<T>();
        // INVARIANT: KHO says `size` bytes there are preserved memory of the previous kernel,
        // which this kernel has not restored, so nothing else in it uses them.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(BadAddr::Null)?,
            size,
        })
    }

    /// The first `count` entries of `U` after the `T` header, as copies; `None` if they do not
    /// fit in the allocation.
    pub(crate) fn entries<'a, U: FromBytes + Copy + 'a>(
        &'a self,
        count: u64,
    ) -> Option<impl Iterator<Item = Handed<U>> + 'a> {
        let room = (self.size - size_of::<T>()) / size_of::<U>().max(1);
        let n = usize::try_from(count).ok().filter(|&n| n <= room)?;
        Some(self.trailing::<U>(n as u64).iter().map(|e| Handed(*e)))
    }

    /// The array of `U` that follows the `T` header, at most `count` long
    /// and never past the allocation.
    pub(crate) fn trailing<U: FromBytes>(&self, count: u64) -> &[U] {
        let room = (self.size - size_of::<T>()) / size_of::<U>().max(1);
        let n = room.min(usize::try_from(count).unwrap_or(usize::MAX));
        const { assert!(size_of::<T>() % align_of::<U>() == 0) };
        // SAFETY: `n` `U`s fit after the header (type invariant), aligned as
        // in `trailing_mut`; any bytes are a valid `U` (`FromBytes`).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr().add(1).cast::<U>(), n) }
    }

    /// Frees the allocation (`kho_restore_free()`).
    pub(crate) fn free(self) {
        // SAFETY: a `kho_alloc_preserve()` allocation of the previous kernel that nothing else uses
        // (type invariant); `self` is consumed.
        unsafe { bindings::kho_restore_free(self.ptr.as_ptr().cast()) };
    }
}

// Used by mm/memfd_luo.rs, which includes this module too.
#[allow(dead_code)]
impl<T: FromBytes> Incoming<T> {
    /// Takes the allocation (one page) from KHO, so that nothing else can: an address naming it
    /// later finds it gone.  `NotPreserved` if something took it since it was adopted.
    pub(crate) fn claim(self) -> core::result::Result<Claimed<T>, BadAddr> {
        if self.size > PAGE_SIZE {
            return Err(BadAddr::TooSmall);
        }
        // SAFETY: `ptr` is a direct-map address (type invariant).
        let pa = unsafe { bindings::virt_to_phys(self.ptr.as_ptr().cast()) };
        // Still there: nothing took it since it was adopted.
        HandoverAddr(pa).check(self.size)?;
        // SAFETY: preserved memory of the previous kernel that nothing restored (checked just
        // above); it becomes ours.
        if unsafe { bindings::kho_restore_pages(pa, 1) }.is_null() {
            return Err(BadAddr::NotPreserved);
        }
        // INVARIANT: restored just above, ours; it holds a `T` (`Incoming` invariant).
        Ok(Claimed { ptr: self.ptr })
    }
}

/// A page the previous kernel handed over, taken from KHO ([`Incoming::claim`]), read in place,
/// and freed on drop.
///
/// # Invariants
///
/// `ptr` is the direct-map address of a page this kernel restored from KHO and owns, which holds
/// a `T`.
#[allow(dead_code)]
pub(crate) struct Claimed<T: FromBytes> {
    ptr: NonNull<T>,
}

// SAFETY: a page this object owns, only read, from any thread.
unsafe impl<T: FromBytes> Send for Claimed<T> {}

impl<T: FromBytes> Deref for Claimed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a `T` is there (type invariant); any bytes are valid.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: FromBytes> Drop for Claimed<T> {
    fn drop(&mut self) {
        // SAFETY: a page restored from KHO with one reference, ours (type invariant), not used
        // after this.
        unsafe { bindings::free_pages(self.ptr.as_ptr() as kernel::ffi::c_ulong, 0) };
    }
}

impl<T: FromBytes> Deref for Incoming<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a `T` is there (type invariant); any bytes are valid.
        unsafe { self.ptr.as_ref() }
    }
}

/// A set of KHO blocks holding an array of `T` entries (`struct
/// kho_block_set`): outgoing, or the previous kernel's, restored.
///
/// The C state is allocated when the set first needs blocks, so that an empty set (a session
/// without files, the common case for many sessions) costs no allocation.
///
/// # Invariants
///
/// `raw`, when present, was initialized with `kho_block_set_init()` for entries of
/// `size_of::<T>()` bytes; it is pinned in its own allocation (it holds a `list_head`), so the
/// handle can move, and only accessed through `&mut self`.
pub(crate) struct BlockSet<T: FromBytes + AsBytes> {
    raw: Option<Pin<KBox<Opaque<bindings::kho_block_set>>>>,
    _t: PhantomData<T>,
}

// SAFETY: the block set owns its blocks and is only accessed through
// `&mut self` (type invariant), from any thread.
unsafe impl<T: FromBytes + AsBytes> Send for BlockSet<T> {}
// SAFETY: a shared reference gives no access to the set, which is only
// accessed through `&mut self` (type invariant).
unsafe impl<T: FromBytes + AsBytes> Sync for BlockSet<T> {}

impl<T: FromBytes + AsBytes> Default for BlockSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FromBytes + AsBytes> BlockSet<T> {
    /// An empty outgoing set.
    pub(crate) const fn new() -> Self {
        // INVARIANT: no C state yet.
        Self {
            raw: None,
            _t: PhantomData,
        }
    }

    /// Adopts the previous kernel's chain of blocks at `head` (0: none), which the ABI says holds
    /// `T`s; C checks it (no cycle, sane counts) and frees it on error.
    pub(crate) fn restore(head: HandoverAddr) -> Result<Self> {
        let mut set = Self::new();
        let raw = set.raw_or_init()?;
        // SAFETY: a valid, empty block set; `head` is 0 or a block chain the
        // previous kernel preserved, adopted once (`HandoverAddr` invariant);
        // entries of another type would read as garbage, never out of bounds.
        to_result(unsafe { bindings::kho_block_set_restore(raw, head.0) })?;
        Ok(set)
    }

    /// The C state, if allocated.
    fn raw(&mut self) -> Option<*mut bindings::kho_block_set> {
        self.raw.as_ref().map(|raw| raw.get())
    }

    /// The C state, allocated and initialized on first use.
    fn raw_or_init(&mut self) -> Result<*mut bindings::kho_block_set> {
        if let Some(raw) = self.raw() {
            return Ok(raw);
        }
        let raw = KBox::pin_init(
            // SAFETY: `kho_block_set_init` fully initializes the slot.
            Opaque::ffi_init(|slot| unsafe { bindings::kho_block_set_init(slot, size_of::<T>()) }),
            GFP_KERNEL,
        )?;
        let ptr = raw.get();
        // INVARIANT: initialized just above.
        self.raw = Some(raw);
        Ok(ptr)
    }

    /// Makes room for `count` entries, preserving new blocks (EINVAL for a restored set).
    pub(crate) fn grow(&mut self, count: u64) -> Result {
        if count == 0 {
            return Ok(());
        }
        let raw = self.raw_or_init()?;
        // SAFETY: a valid block set (type invariant).
        to_result(unsafe { bindings::kho_block_set_grow(raw, count) })
    }

    /// Frees blocks not needed for `count` entries.
    pub(crate) fn shrink(&mut self, count: u64) {
        let Some(raw) = self.raw() else {
            return;
        };
        // SAFETY: a valid block set (type invariant); reading two fields.
        let (blocks, per_block) = unsafe { ((*raw).nblocks, (*raw).count_per_block) };
        // `kho_block_set_shrink()` frees the last block while the others hold `count`
        // entries; most calls free nothing, and make no call.
        let blocks = u64::try_from(blocks).unwrap_or(0);
        if blocks == 0 || count > (blocks - 1).saturating_mul(per_block) {
            return;
        }
        // SAFETY: a valid block set (type invariant).
        unsafe { bindings::kho_block_set_shrink(raw, count) }
    }

    /// Frees every block (unpreserving outgoing ones, restoring and freeing incoming ones).
    pub(crate) fn destroy(&mut self) {
        if let Some(raw) = self.raw() {
            // SAFETY: a valid block set (type invariant); it stays valid and empty.
            unsafe { bindings::kho_block_set_destroy(raw) }
        }
    }

    /// Zeroes every entry, keeping the blocks.
    pub(crate) fn clear(&mut self) {
        if let Some(raw) = self.raw() {
            // SAFETY: a valid block set (type invariant).
            unsafe { bindings::kho_block_set_clear(raw) }
        }
    }

    /// Physical address of the first block (0 if none).
    pub(crate) fn head_pa(&mut self) -> u64 {
        // SAFETY: a valid block set (type invariant); reading a field.
        self.raw().map_or(0, |raw| unsafe { (*raw).head_pa })
    }

    /// A cursor at the first entry.
    pub(crate) fn cursor(&mut self) -> BlockCursor<'_, T> {
        let it = self.raw().map(|raw| {
            let mut it = pin_init::zeroed();
            // SAFETY: a valid block set (type invariant); `it` is a valid out pointer.
            unsafe { bindings::kho_block_set_it_init(&mut it, raw) };
            it
        });
        BlockCursor {
            it,
            _set: PhantomData,
        }
    }
}

impl<T: FromBytes + AsBytes> Drop for BlockSet<T> {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// A position in a [`BlockSet`] (`struct kho_block_set_it`; none for a set
/// that has no blocks yet); as an iterator it reads the written entries as
/// copies ([`Handed`]).
///
/// # Invariants
///
/// `it`, if any, iterates the block set this cursor borrows mutably, so the
/// blocks live and nothing else touches them while it exists.
pub(crate) struct BlockCursor<'a, T: FromBytes + AsBytes> {
    it: Option<bindings::kho_block_set_it>,
    _set: PhantomData<&'a mut BlockSet<T>>,
}

impl<T: FromBytes + AsBytes> BlockCursor<'_, T> {
    /// The entry at `p`, borrowed from this cursor, so that one entry at most
    /// is reachable at a time.
    fn entry(&mut self, p: *mut c_void) -> Option<&mut T> {
        let p = NonNull::new(p.cast::<T>())?;
        // SAFETY: `p` is `size_of::<T>()` bytes in a block that lives while the
        // set is borrowed (type invariant); any bytes are a valid `T`.
        Some(unsafe { &mut *p.as_ptr() })
    }

    /// Claims the next entry for writing; `None` when the blocks are full.
    pub(crate) fn reserve(&mut self) -> Option<&mut T> {
        let it = self.it.as_mut()?;
        // SAFETY: `it` is valid (type invariant).
        let p = unsafe { bindings::kho_block_set_it_reserve_entry(it) };
        self.entry(p)
    }

    /// Steps back to the previous entry; `None` at the start.
    pub(crate) fn prev(&mut self) -> Option<&mut T> {
        let it = self.it.as_mut()?;
        // SAFETY: `it` is valid (type invariant).
        let p = unsafe { bindings::kho_block_set_it_prev(it) };
        self.entry(p)
    }
}

impl<T: FromBytes + AsBytes> Iterator for BlockCursor<'_, T> {
    type Item = Handed<T>;

    fn next(&mut self) -> Option<Handed<T>> {
        let it = self.it.as_mut()?;
        // SAFETY: `it` is valid (type invariant).
        let p = unsafe { bindings::kho_block_set_it_read_entry(it) };
        let p = NonNull::new(p.cast::<T>())?;
        // SAFETY: `p` points to `size_of::<T>()` bytes inside a block of
        // the borrowed set (type invariant); any bytes are a valid `T`
        // (`FromBytes`), which may be packed, so read unaligned.
        Some(Handed(unsafe { p.as_ptr().read_unaligned() }))
    }
}
