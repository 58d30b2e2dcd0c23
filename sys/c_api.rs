// SPDX-License-Identifier: GPL-2.0

//! The C-facing side of LUO: the functions of `include/linux/liveupdate.h`
//! that the rest of the kernel calls, and the fd-table operations LUO
//! performs for userspace.
//!
//! Each exported function turns its raw pointers into the handles of
//! [`super::handler`] and calls the safe implementation.

use super::handler::{FileHandler, Flb, FlbObj};
use crate::{luo_file, luo_flb};
use core::ptr::NonNull;
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    fs::{file::FileDescriptorReservation, File, LocalFile},
    prelude::*,
    sync::aref::ARef,
};

/// The file behind `fd` in the caller's table (`fget()`); EBADF if none.
///
/// # Safety
///
/// No `fdget_pos()` may be active on this thread for the returned file's
/// lifetime on it (true in an ioctl handler).
pub(crate) unsafe fn fget(fd: i32) -> Result<ARef<File>> {
    // A negative fd is a huge unsigned number, which `fget` refuses.
    let file = LocalFile::fget(fd as u32)?;
    // SAFETY: as required of the caller.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(file) })
}

/// Stops the kernel with C's `panic()` and `msg`, as `luo_restore_fail()`
/// does when the handed-over state cannot be restored.
pub(crate) fn panic(msg: core::fmt::Arguments<'_>) -> ! {
    let text = kernel::str::CString::try_from_fmt(msg);
    let ptr = match &text {
        Ok(s) => s.as_char_ptr(),
        Err(_) => c"luo: the incoming tree failed to initialize properly\n".as_char_ptr(),
    };
    // SAFETY: "%s" with a NUL-terminated string that outlives the call.
    unsafe { bindings::panic(c"%s".as_char_ptr(), ptr) }
}

/// A reserved, not yet installed fd (`get_unused_fd_flags(O_CLOEXEC)`);
/// dropping it gives the number back (`put_unused_fd()`).
pub(crate) struct FdReservation(FileDescriptorReservation);

impl FdReservation {
    /// Reserves the lowest free fd, close-on-exec.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(FileDescriptorReservation::get_unused_fd_flags(
            bindings::O_CLOEXEC,
        )?))
    }

    /// The reserved number, as the uAPI reports it.
    pub(crate) fn number(&self) -> i32 {
        self.0.reserved_fd() as i32
    }

    /// Installs `file` at the reserved number (`fd_install()`).
    pub(crate) fn install(self, file: ARef<File>) {
        self.0.fd_install(file)
    }
}

// The handler struct has a zero-sized private member bindgen cannot
// describe; C only ever sees the pointer.
#[cfg(CONFIG_LIVEUPDATE_TEST)]
#[allow(improper_ctypes)]
extern "C" {
    /// lib/tests/liveupdate.c: registers the test FLBs with `fh`.
    fn liveupdate_test_register(fh: *mut bindings::liveupdate_file_handler);
}

/// Lets the in-kernel test module attach its FLBs to a new handler.
pub(crate) fn test_register(_fh: FileHandler) {
    #[cfg(CONFIG_LIVEUPDATE_TEST)]
    // SAFETY: `_fh` is a registered handler; the test module only registers
    // FLBs with it and reads its compatible string.
    unsafe {
        liveupdate_test_register(_fh.as_ptr())
    };
}

fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Callable from C at any time after boot.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_enabled() -> bool {
    crate::enabled()
}

/// # Safety
///
/// Called by kernel/kexec_core.c on a kexec reboot.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_reboot() -> c_int {
    errno(crate::reboot())
}

/// # Safety
///
/// `fh` must point to a handler that stays valid until unregistered.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_register_file_handler(
    fh: *mut bindings::liveupdate_file_handler,
) -> c_int {
    let Some(fh) = NonNull::new(fh) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the caller keeps the handler valid while registered.
    errno(luo_file::register_handler(unsafe {
        FileHandler::from_raw(fh)
    }))
}

/// # Safety
///
/// `fh` must be NULL or a handler passed to
/// `liveupdate_register_file_handler()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_unregister_file_handler(
    fh: *mut bindings::liveupdate_file_handler,
) {
    if let Some(fh) = NonNull::new(fh) {
        // SAFETY: as required of the caller.
        luo_file::unregister_handler(unsafe { FileHandler::from_raw(fh) });
    }
}

/// # Safety
///
/// `fh` a registered handler, `flb` an FLB that lives for the rest of the
/// boot.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_register_flb(
    fh: *mut bindings::liveupdate_file_handler,
    flb: *mut bindings::liveupdate_flb,
) -> c_int {
    let (Some(fh), Some(flb)) = (NonNull::new(fh), NonNull::new(flb)) else {
        return EINVAL.to_errno();
    };
    // SAFETY: as required of the caller.
    let (fh, flb) = unsafe { (FileHandler::from_raw(fh), Flb::from_raw(flb)) };
    errno(luo_flb::register(fh, flb))
}

/// # Safety
///
/// As for `liveupdate_register_flb()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_unregister_flb(
    fh: *mut bindings::liveupdate_file_handler,
    flb: *mut bindings::liveupdate_flb,
) {
    if let (Some(fh), Some(flb)) = (NonNull::new(fh), NonNull::new(flb)) {
        // SAFETY: as required of the caller.
        let (fh, flb) = unsafe { (FileHandler::from_raw(fh), Flb::from_raw(flb)) };
        luo_flb::unregister(fh, flb);
    }
}

/// Calls `get` on the FLB behind `flb` and stores the object in `*objp`.
///
/// # Safety
///
/// `flb` NULL or an FLB that lives for the rest of the boot; `objp`
/// writable when `get` succeeds.
unsafe fn flb_get(
    flb: *mut bindings::liveupdate_flb,
    objp: *mut *mut c_void,
    get: fn(Flb) -> Result<FlbObj>,
) -> c_int {
    let Some(flb) = NonNull::new(flb) else {
        return EINVAL.to_errno();
    };
    // SAFETY: as required of the caller.
    match get(unsafe { Flb::from_raw(flb) }) {
        Ok(obj) => {
            // SAFETY: `objp` is writable (caller).
            unsafe { *objp = obj.0 };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Calls `put` on the FLB behind `flb`, if not NULL.
///
/// # Safety
///
/// `flb` NULL or an FLB that lives for the rest of the boot.
unsafe fn flb_put(flb: *mut bindings::liveupdate_flb, put: fn(Flb)) {
    if let Some(flb) = NonNull::new(flb) {
        // SAFETY: as required of the caller.
        put(unsafe { Flb::from_raw(flb) });
    }
}

/// # Safety
///
/// `flb` an FLB that lives for the rest of the boot; `objp` writable.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_get_incoming(
    flb: *mut bindings::liveupdate_flb,
    objp: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded to the caller.
    unsafe { flb_get(flb, objp, luo_flb::get_incoming) }
}

/// # Safety
///
/// As for `liveupdate_flb_get_incoming()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_put_incoming(flb: *mut bindings::liveupdate_flb) {
    // SAFETY: forwarded to the caller.
    unsafe { flb_put(flb, luo_flb::put_incoming) }
}

/// # Safety
///
/// As for `liveupdate_flb_get_incoming()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_get_outgoing(
    flb: *mut bindings::liveupdate_flb,
    objp: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded to the caller.
    unsafe { flb_get(flb, objp, luo_flb::get_outgoing) }
}

/// # Safety
///
/// As for `liveupdate_flb_get_incoming()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_put_outgoing(flb: *mut bindings::liveupdate_flb) {
    // SAFETY: forwarded to the caller.
    unsafe { flb_put(flb, luo_flb::put_outgoing) }
}
