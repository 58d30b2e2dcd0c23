// SPDX-License-Identifier: GPL-2.0

//! Anonymous-inode files backed by a Rust object.
//!
//! C header: [`include/linux/anon_inodes.h`](srctree/include/linux/anon_inodes.h).
//!
//! [`new_file`] makes a file whose `private_data` is an `Arc<T>` and whose
//! `unlocked_ioctl` and `release` call [`AnonFileOps`] on `T`.

use core::{
    marker::PhantomData,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    error::from_result,
    fs::{
        File,
        LocalFile, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow, //
    },
    types::ForeignOwnable, //
};

/// The context of an ioctl call, for looking up the caller's fds.
///
/// # Invariants
///
/// Exists only during an `unlocked_ioctl` call of a file made by [`new_file`], on the calling task,
/// which then holds no `fdget_pos()` reference (the ioctl path uses `fdget()`).
pub(crate) struct IoctlContext {
    _not_send: PhantomData<*mut ()>,
}

impl IoctlContext {
    /// The file behind `fd` in the caller's table (`fget()`); EBADF if none.
    pub(crate) fn fget(&self, fd: i32) -> Result<ARef<File>> {
        // A negative fd is a huge unsigned number, which `fget` refuses.
        let file = LocalFile::fget(fd as u32)?;
        // SAFETY: no `fdget_pos()` is active on this task during the ioctl (type invariant).
        Ok(unsafe { LocalFile::assume_no_fdget_pos(file) })
    }
}

/// What an anonymous-inode file backed by a `Self` does.
pub(crate) trait AnonFileOps: Send + Sync + Sized + 'static {
    /// `unlocked_ioctl`; `Err(ENOIOCTLCMD)` reaches userspace as ENOTTY.
    fn ioctl(this: ArcBorrow<'_, Self>, cx: &IoctlContext, cmd: u32, arg: usize) -> Result<isize>;
    /// `release`, on the last close: gets the file's reference back.
    fn release(this: Arc<Self>) -> Result;
}

/// The `file_operations` table of files backed by `T`.
struct Fops<T>(PhantomData<T>);

impl<T: AnonFileOps> Fops<T> {
    const TABLE: bindings::file_operations = bindings::file_operations {
        release: Some(release_callback::<T>),
        unlocked_ioctl: Some(ioctl_callback::<T>),
        ..pin_init::zeroed()
    };
}

/// The `release` of the table: gives the file's `Arc<T>` back to `T::release`.
///
/// # Safety
///
/// Called by the VFS on the last `fput()` of a file made by [`new_file`].
unsafe extern "C" fn release_callback<T: AnonFileOps>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds the `Arc<T>` that `new_file` converted with
    // `into_foreign`; this is the last use of the file, so we take it back.
    let this = unsafe { Arc::<T>::from_foreign((*file).private_data) };
    from_result(|| T::release(this).map(|()| 0))
}

/// The `unlocked_ioctl` of the table: calls `T::ioctl`.
///
/// # Safety
///
/// Called by the VFS for an ioctl on a file made by [`new_file`].
unsafe extern "C" fn ioctl_callback<T: AnonFileOps>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: `private_data` holds an `Arc<T>` (from `new_file`) that lives
    // until `release`, which cannot run during an ioctl on the file.
    let this = unsafe { Arc::<T>::borrow((*file).private_data) };
    // INVARIANT: this is an `unlocked_ioctl` call of such a file.
    let cx = IoctlContext {
        _not_send: PhantomData,
    };
    from_result(|| T::ioctl(this, &cx, cmd, arg).map(|ret| ret as c_long))
}

/// Creates an anonymous-inode file named `name` (`anon_inode_getfile()`,
/// `O_RDWR`) that owns `data` until its release.
pub(crate) fn new_file<T: AnonFileOps>(name: &CStr, data: Arc<T>) -> Result<ARef<File>> {
    let foreign = data.into_foreign();
    // SAFETY: `name` is NUL-terminated, the table is `'static`, and `foreign`
    // is handed to the file, which gives it back in `release_callback`.
    let file = unsafe {
        bindings::anon_inode_getfile(
            name.as_char_ptr(),
            &Fops::<T>::TABLE,
            foreign,
            bindings::O_RDWR as c_int,
        )
    };
    let file = kernel::error::from_err_ptr(file);
    match file.and_then(|f| NonNull::new(f.cast::<File>()).ok_or(ENOMEM)) {
        // SAFETY: a successful `anon_inode_getfile` returns a file with one reference, which the
        // `ARef` takes over; `File` is a transparent wrapper of `struct file`.
        Ok(file) => Ok(unsafe { ARef::from_raw(file) }),
        Err(e) => {
            // SAFETY: the file was not created, so `foreign` is still ours.
            drop(unsafe { Arc::<T>::from_foreign(foreign) });
            Err(e)
        }
    }
}
