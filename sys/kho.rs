// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver (KHO): preserved memory, the FDT subtree, block sets.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h),
//! [`include/linux/kho_block.h`](srctree/include/linux/kho_block.h).
//!
//! KHO itself stays C; these are the few safe handles LUO needs around it.

use super::Pod;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{bindings, error::to_result, ffi::c_void, prelude::*, types::Opaque};

/// Whether KHO is enabled on this boot.
pub(crate) fn is_enabled() -> bool {
    // SAFETY: `kho_is_enabled` only reads a boot-time flag.
    unsafe { bindings::kho_is_enabled() }
}

// SAFETY: packed plain-old-data structs of include/linux/kho/abi/luo.h.
unsafe impl Pod for bindings::luo_ser {}
// SAFETY: as above.
unsafe impl Pod for bindings::luo_session_ser {}
// SAFETY: as above.
unsafe impl Pod for bindings::luo_file_ser {}
// SAFETY: as above.
unsafe impl Pod for bindings::luo_flb_header_ser {}
// SAFETY: as above.
unsafe impl Pod for bindings::luo_flb_ser {}

/// A zeroed allocation of `T` (and, for arrays, what follows it) that KHO
/// preserves across kexec: `kho_alloc_preserve()`.
///
/// # Invariants
///
/// `ptr` points to a zeroed, KHO-preserved allocation of `size` bytes, at
/// least `size_of::<T>()`, that this object owns until
/// [`Preserved::unpreserve`] or [`Preserved::leak`].
pub(crate) struct Preserved<T: Pod> {
    ptr: NonNull<T>,
    size: usize,
}

// SAFETY: the allocation is plain memory owned by this object.
unsafe impl<T: Pod> Send for Preserved<T> {}
// SAFETY: shared access only reads.
unsafe impl<T: Pod> Sync for Preserved<T> {}

impl<T: Pod> Preserved<T> {
    /// Allocates and preserves `size` zeroed bytes (at least one `T`).
    pub(crate) fn alloc(size: usize) -> Result<Self> {
        let size = size.max(size_of::<T>());
        // SAFETY: `kho_alloc_preserve` has no preconditions.
        let ptr = from_err_ptr(unsafe { bindings::kho_alloc_preserve(size) })?;
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: kho_alloc_preserve returns zeroed, preserved memory.
        Ok(Self { ptr, size })
    }

    /// The physical address the next kernel finds this allocation at.
    pub(crate) fn phys(&self) -> u64 {
        virt_to_phys(self.ptr.as_ptr().cast())
    }

    /// Raw pointer to the start of the allocation.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// Size of the allocation in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The header and the array of `U` that fills the rest of the allocation.
    pub(crate) fn split_trailing<U: Pod>(&mut self) -> (&mut T, &mut [U]) {
        let n = (self.size - size_of::<T>()) / size_of::<U>();
        // SAFETY: by the type invariant the allocation holds a `T` followed by
        // room for `n` entries of `U`; the two ranges do not overlap; any bit
        // pattern is valid for both (`Pod`, packed).
        unsafe {
            let head = self.ptr.as_mut();
            let rest = core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(1).cast::<U>(), n);
            (head, rest)
        }
    }

    /// Stops preserving the allocation and frees it.
    pub(crate) fn unpreserve(self) {
        // SAFETY: by the type invariant `ptr` came from `kho_alloc_preserve`
        // and is still owned by us; `self` is consumed.
        unsafe { bindings::kho_unpreserve_free(self.ptr.as_ptr().cast()) };
    }
}

impl<T: Pod> core::ops::Deref for Preserved<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: by the type invariant the allocation holds a `T`, any bit
        // pattern of which is valid (`Pod`).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Pod> core::ops::DerefMut for Preserved<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` gives exclusive access.
        unsafe { self.ptr.as_mut() }
    }
}

/// Converts an `ERR_PTR`-encoded pointer into a `Result`.
fn from_err_ptr<T>(ptr: *mut T) -> Result<*mut T> {
    kernel::error::from_err_ptr(ptr)
}

/// Physical address of a directly mapped kernel virtual address.
pub(crate) fn virt_to_phys(ptr: *const u8) -> u64 {
    // SAFETY: `virt_to_phys` is arithmetic on the direct map.
    unsafe { bindings::virt_to_phys(ptr.cast_mut().cast()) }
}

/// Publishes `blob` as the KHO subtree `name` for the next kernel.
pub(crate) fn add_subtree<T: Pod>(name: &CStr, blob: &Preserved<T>) -> Result {
    // SAFETY: `name` is NUL-terminated; `blob` is a live preserved allocation
    // of `blob.size()` bytes.
    to_result(unsafe {
        bindings::kho_add_subtree(name.as_char_ptr(), blob.as_ptr().cast(), blob.size())
    })
}

/// The subtree `name` the previous kernel published, as physical address and
/// length.
pub(crate) fn retrieve_subtree(name: &CStr) -> Result<(u64, usize)> {
    let mut phys: bindings::phys_addr_t = 0;
    let mut len: usize = 0;
    // SAFETY: `name` is NUL-terminated and the out pointers are valid.
    to_result(unsafe { bindings::kho_retrieve_subtree(name.as_char_ptr(), &mut phys, &mut len) })?;
    Ok((phys, len))
}

/// Memory preserved by the previous kernel and handed to this one.
///
/// Not freed on drop: as in C, some incoming state (the FLB page) stays
/// reserved for the whole boot; [`Incoming::free`] releases the rest.
///
/// # Invariants
///
/// `ptr` is the direct-map address of `size` bytes, at least
/// `size_of::<T>()`, that the previous kernel preserved with
/// `kho_alloc_preserve()`.
pub(crate) struct Incoming<T: Pod> {
    ptr: NonNull<T>,
    size: usize,
}

// SAFETY: plain memory handed over to this kernel.
unsafe impl<T: Pod> Send for Incoming<T> {}
// SAFETY: shared access only reads.
unsafe impl<T: Pod> Sync for Incoming<T> {}

impl<T: Pod> Incoming<T> {
    /// The preserved allocation of `size` bytes at `phys`.
    ///
    /// # Safety
    ///
    /// `phys` must be the physical address of an allocation of at least
    /// `size` bytes, and `size >= size_of::<T>()`, that the previous kernel
    /// made with `kho_alloc_preserve()`; nothing else may free it.
    pub(crate) unsafe fn new(phys: u64, size: usize) -> Self {
        // SAFETY: the caller guarantees `phys` is preserved RAM, which the
        // direct map covers.
        let ptr = unsafe { bindings::phys_to_virt(phys) }.cast::<T>();
        // INVARIANT: per the safety requirements.
        Self {
            // SAFETY: the direct-map address of RAM is never NULL.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            size,
        }
    }

    /// The array of `U` that follows the `T` header, at most `count` long
    /// and never past the allocation.
    pub(crate) fn trailing<U: Pod>(&self, count: u64) -> &[U] {
        let room = (self.size - size_of::<T>()) / size_of::<U>();
        let n = room.min(usize::try_from(count).unwrap_or(usize::MAX));
        // SAFETY: by the type invariant `n` entries of `U` fit after the
        // header; any bit pattern is valid (`Pod`) and `U` is packed.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr().add(1).cast::<U>(), n) }
    }

    /// Frees the allocation (`kho_restore_free()`).
    pub(crate) fn free(self) {
        // SAFETY: by the type invariant this is a `kho_alloc_preserve()`
        // allocation of the previous kernel; `self` is consumed.
        unsafe { bindings::kho_restore_free(self.ptr.as_ptr().cast()) };
    }
}

impl<T: Pod> core::ops::Deref for Incoming<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: by the type invariant at least one `T` is there; any bit
        // pattern is valid.
        unsafe { self.ptr.as_ref() }
    }
}

/// A set of KHO blocks holding a growable array of serialized `T` entries
/// (`struct kho_block_set`): the outgoing side preserves blocks as it grows,
/// the incoming side walks the chain the previous kernel left.
///
/// The C structure is self-referential (a `list_head`), so it lives pinned in
/// its own allocation and this handle can move freely.
///
/// # Invariants
///
/// `inner` was initialized with `kho_block_set_init()` for entries of
/// `size_of::<T>()` bytes and is only accessed through `&mut self`.
pub(crate) struct BlockSet<T: Pod> {
    inner: Pin<KBox<Opaque<bindings::kho_block_set>>>,
    _t: PhantomData<T>,
}

// SAFETY: the block set owns its blocks; all access needs `&mut self`.
unsafe impl<T: Pod> Send for BlockSet<T> {}
// SAFETY: `&BlockSet` gives no access at all.
unsafe impl<T: Pod> Sync for BlockSet<T> {}

impl<T: Pod> BlockSet<T> {
    /// An empty block set.
    pub(crate) fn new() -> Result<Self> {
        let inner = KBox::pin_init(
            // SAFETY: `kho_block_set_init` fully initializes the slot.
            unsafe {
                pin_init::pin_init_from_closure(|slot: *mut Opaque<bindings::kho_block_set>| {
                    bindings::kho_block_set_init(Opaque::cast_into(slot), size_of::<T>());
                    Ok::<(), core::convert::Infallible>(())
                })
            },
            GFP_KERNEL,
        )?;
        // INVARIANT: initialized just above.
        Ok(Self {
            inner,
            _t: PhantomData,
        })
    }

    fn raw(&mut self) -> *mut bindings::kho_block_set {
        self.inner.get()
    }

    /// Makes room for `count` entries, preserving new blocks (outgoing).
    pub(crate) fn grow(&mut self, count: u64) -> Result {
        // SAFETY: `raw` is a valid, initialized block set (type invariant).
        to_result(unsafe { bindings::kho_block_set_grow(self.raw(), count) })
    }

    /// Frees blocks not needed for `count` entries.
    pub(crate) fn shrink(&mut self, count: u64) {
        // SAFETY: as in `grow`.
        unsafe { bindings::kho_block_set_shrink(self.raw(), count) }
    }

    /// Adopts the chain of blocks at `head_pa` left by the previous kernel.
    ///
    /// The chain is validated (no cycle, sane per-block counts); on error it
    /// is freed.
    ///
    /// # Safety
    ///
    /// `head_pa` must be 0 or the head of a block chain of `T` entries that
    /// the previous kernel preserved, not owned by anything else.
    pub(crate) unsafe fn restore(&mut self, head_pa: u64) -> Result {
        // SAFETY: valid block set; the chain is as the caller guarantees.
        to_result(unsafe { bindings::kho_block_set_restore(self.raw(), head_pa) })
    }

    /// Frees every block.
    pub(crate) fn destroy(&mut self) {
        // SAFETY: as in `grow`.
        unsafe { bindings::kho_block_set_destroy(self.raw()) }
    }

    /// Zeroes every block's entries, keeping the blocks.
    pub(crate) fn clear(&mut self) {
        // SAFETY: as in `grow`.
        unsafe { bindings::kho_block_set_clear(self.raw()) }
    }

    /// Physical address of the first block (0 if none).
    pub(crate) fn head_pa(&mut self) -> u64 {
        // SAFETY: as in `grow`; reading a field.
        unsafe { (*self.raw()).head_pa }
    }

    /// A cursor at the first entry.
    pub(crate) fn cursor(&mut self) -> BlockCursor<'_, T> {
        let mut it = bindings::kho_block_set_it {
            bs: core::ptr::null_mut(),
            block: core::ptr::null_mut(),
            i: 0,
        };
        // SAFETY: valid block set; `it` is a valid out pointer.
        unsafe { bindings::kho_block_set_it_init(&mut it, self.raw()) };
        BlockCursor {
            it,
            _set: PhantomData,
        }
    }
}

impl<T: Pod> Drop for BlockSet<T> {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// A position in a [`BlockSet`] (`struct kho_block_set_it`).
///
/// # Invariants
///
/// `it` was initialized on the block set this cursor mutably borrows.
pub(crate) struct BlockCursor<'a, T: Pod> {
    it: bindings::kho_block_set_it,
    _set: PhantomData<&'a mut BlockSet<T>>,
}

impl<T: Pod> BlockCursor<'_, T> {
    fn entry<'b>(p: *mut c_void) -> Option<&'b mut T> {
        let mut p = NonNull::new(p.cast::<T>())?;
        // The callers tie the reference to `&mut self`, so at most one entry
        // is reachable at a time; blocks live as long as the set is borrowed.
        // SAFETY: an entry pointer of the set points to `size_of::<T>()`
        // bytes inside one of its blocks; any bit pattern is a valid `T`.
        Some(unsafe { p.as_mut() })
    }

    /// Claims the next entry for writing (outgoing); `None` when the
    /// preallocated blocks are full.
    pub(crate) fn reserve(&mut self) -> Option<&mut T> {
        // SAFETY: `it` is valid (type invariant).
        Self::entry(unsafe { bindings::kho_block_set_it_reserve_entry(&mut self.it) })
    }

    /// The next written entry (incoming); `None` at the end.
    pub(crate) fn read(&mut self) -> Option<&mut T> {
        // SAFETY: `it` is valid (type invariant).
        Self::entry(unsafe { bindings::kho_block_set_it_read_entry(&mut self.it) })
    }

    /// Steps back to the previous entry; `None` at the start.
    pub(crate) fn prev(&mut self) -> Option<&mut T> {
        // SAFETY: `it` is valid (type invariant).
        Self::entry(unsafe { bindings::kho_block_set_it_prev(&mut self.it) })
    }
}
