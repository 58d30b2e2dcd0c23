// SPDX-License-Identifier: GPL-2.0

//! The extensible-struct ioctl argument (`struct luo_ucmd` in C).
//!
//! Every LUO ioctl takes a pointer to a struct whose first `u32` is the size
//! userspace knows.  The kernel copies `min(user, kernel)` bytes, zero-fills a
//! shorter struct and refuses a longer one whose tail is not all zero
//! (`copy_struct_from_user()`), and answers with `min(user, kernel)` bytes.

use super::Pod;
use core::mem::MaybeUninit;
use kernel::{
    bindings,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// How a struct of `user` bytes from userspace maps onto one of `kernel`
/// bytes (`copy_struct_from_user()`): copy `copy` bytes, then either check
/// that the user's bytes `[kernel, user)` are zero (`tail`), or zero-fill
/// the kernel's bytes `[user, kernel)`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) struct StructCopy {
    /// Bytes copied from the start of the user struct.
    pub(crate) copy: usize,
    /// Offset and length of the user tail that must be zero (E2BIG if not).
    pub(crate) tail: Option<(usize, usize)>,
}

impl StructCopy {
    /// The plan for `kernel` bytes of kernel struct and `user` bytes of user
    /// struct.
    pub(crate) fn new(kernel: usize, user: usize) -> Self {
        let copy = kernel.min(user);
        let tail = (user > kernel).then(|| (kernel, user - kernel));
        Self { copy, tail }
    }
}

/// The argument of one ioctl call.
pub(crate) struct UserCmd {
    ptr: UserPtr,
    user_size: u32,
}

impl UserCmd {
    /// Reads the leading `size` field (`get_user()`); EFAULT when unreadable.
    pub(crate) fn new(arg: usize) -> Result<Self> {
        let ptr = UserPtr::from_addr(arg);
        let mut size = [0u8; 4];
        UserSlice::new(ptr, size.len())
            .reader()
            .read_slice(&mut size)?;
        Ok(Self {
            ptr,
            user_size: u32::from_ne_bytes(size),
        })
    }

    /// The size userspace claims for its struct.
    pub(crate) fn user_size(&self) -> u32 {
        self.user_size
    }

    /// Copies the user struct into a `T` with `copy_struct_from_user()`
    /// semantics: E2BIG for a non-zero tail, EFAULT for a bad pointer.
    pub(crate) fn read<T: Pod>(&self) -> Result<T> {
        let plan = StructCopy::new(size_of::<T>(), self.user_size as usize);
        if let Some((off, len)) = plan.tail {
            let tail = self.ptr.wrapping_byte_add(off);
            // SAFETY: `check_zeroed_user` validates the user range itself.
            match unsafe { bindings::check_zeroed_user(tail.as_const_ptr(), len) } {
                1 => {}
                0 => return Err(E2BIG),
                e => return Err(Error::from_errno(e)),
            }
        }
        let mut val = MaybeUninit::<T>::zeroed();
        // SAFETY: `val` is `size_of::<T>()` writable bytes and
        // `plan.copy <= size_of::<T>()`.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(val.as_mut_ptr().cast::<MaybeUninit<u8>>(), plan.copy)
        };
        UserSlice::new(self.ptr, plan.copy)
            .reader()
            .read_raw(bytes)?;
        // SAFETY: zeroed then partly overwritten; any bit pattern is a valid
        // `T` (`Pod`).
        Ok(unsafe { val.assume_init() })
    }

    /// Copies `min(user size, size_of::<T>())` bytes of `val` back to the
    /// user struct (`luo_ucmd_respond()`).
    pub(crate) fn respond<T: Pod>(&self, val: &T) -> Result {
        let n = size_of::<T>().min(self.user_size as usize);
        // SAFETY: `val` is `size_of::<T>()` initialized bytes with no padding
        // (`Pod`), and `n` does not exceed that.
        let bytes =
            unsafe { core::slice::from_raw_parts(core::ptr::from_ref(val).cast::<u8>(), n) };
        UserSlice::new(self.ptr, n).writer().write_slice(bytes)
    }
}

// SAFETY: the uAPI structs of include/uapi/linux/liveupdate.h: integers and
// byte arrays without padding.
unsafe impl Pod for bindings::liveupdate_ioctl_create_session {}
// SAFETY: as above.
unsafe impl Pod for bindings::liveupdate_ioctl_retrieve_session {}
// SAFETY: as above.
unsafe impl Pod for bindings::liveupdate_session_preserve_fd {}
// SAFETY: as above.
unsafe impl Pod for bindings::liveupdate_session_retrieve_fd {}
// SAFETY: as above.
unsafe impl Pod for bindings::liveupdate_session_finish {}
// SAFETY: as above.
unsafe impl Pod for bindings::liveupdate_session_get_name {}
