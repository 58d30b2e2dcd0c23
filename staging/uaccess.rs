// SPDX-License-Identifier: GPL-2.0

//! Extensible-struct ioctl arguments.
//!
//! C header: [`include/linux/uaccess.h`](srctree/include/linux/uaccess.h)
//! (`copy_struct_from_user()`).
//!
//! An extensible argument is a struct whose first `u32` is the size userspace knows: a shorter
//! struct is zero-filled, a longer one must have zeroes in its extra bytes (E2BIG), and the answer
//! has `min(user, kernel)` bytes.

use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::UserSlice, //
};

/// How a struct of `user` bytes from userspace maps onto one of `kernel` bytes: the number of bytes
/// to copy, then either the offset and length of the user's bytes `[kernel, user)`, which must be
/// zero, or `None` (the kernel's bytes `[user, kernel)` are zero-filled).
pub(crate) fn struct_copy(kernel: usize, user: usize) -> (usize, Option<(usize, usize)>) {
    let tail = (user > kernel).then(|| (kernel, user - kernel));
    (kernel.min(user), tail)
}

/// The extensible argument of one ioctl call.
pub(crate) struct UserCmd {
    ptr: UserPtr,
    user_size: u32,
}

impl UserCmd {
    /// Reads the leading size (`get_user()`); EFAULT when unreadable.
    pub(crate) fn new(arg: usize) -> Result<Self> {
        let ptr = UserPtr::from_addr(arg);
        let user_size = UserSlice::new(ptr, size_of::<u32>())
            .reader()
            .read::<u32>()?;
        Ok(Self { ptr, user_size })
    }

    /// The size userspace gives for its struct.
    pub(crate) fn user_size(&self) -> u32 {
        self.user_size
    }

    /// Whether the `len` user bytes at `offset` are all zero (`check_zeroed_user()`); EFAULT for an
    /// unreadable byte before the first non-zero one.
    fn is_zeroed(&self, offset: usize, len: usize) -> Result<bool> {
        let mut buf = [0u8; 256];
        let mut addr = self.ptr.as_const_ptr() as usize + offset;
        let mut left = len;
        while left > 0 {
            // Never read across a page boundary: a fault must not hide a
            // non-zero byte earlier in the same read.
            let n = buf.len().min(left).min(PAGE_SIZE - addr % PAGE_SIZE);
            UserSlice::new(UserPtr::from_addr(addr), n)
                .reader()
                .read_slice(&mut buf[..n])?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            left -= n;
            addr = addr.wrapping_add(n);
        }
        Ok(true)
    }

    /// Copies the user struct into a `T` with `copy_struct_from_user()`
    /// semantics: E2BIG for a non-zero tail, EFAULT for a bad pointer.
    pub(crate) fn read<T: FromBytes + AsBytes + Default>(&self) -> Result<T> {
        let (copy, tail) = struct_copy(size_of::<T>(), self.user_size as usize);
        if let Some((offset, len)) = tail {
            if !self.is_zeroed(offset, len)? {
                return Err(E2BIG);
            }
        }
        let mut val = T::default();
        UserSlice::new(self.ptr, copy)
            .reader()
            .read_slice(&mut val.as_bytes_mut()[..copy])?;
        Ok(val)
    }

    /// Copies `min(user size, size_of::<T>())` bytes of `val` back to the user struct.
    pub(crate) fn respond<T: AsBytes>(&self, val: &T) -> Result {
        let n = size_of::<T>().min(self.user_size as usize);
        UserSlice::new(self.ptr, n)
            .writer()
            .write_slice(&val.as_bytes()[..n])
    }
}
