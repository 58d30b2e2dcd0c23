// SPDX-License-Identifier: GPL-2.0

//! The functions of `include/linux/liveupdate.h` that the rest of the
//! kernel calls: each turns its raw pointers into the handles of
//! [`super::handler`] and calls the safe code on LUO's global state.

use super::{
    errno,
    handler::{
        CPtr,
        FileHandler,
        Flb,
        FlbState, //
    }, //
};
use crate::{
    luo,
    luo_file,
    luo_flb, //
};
use kernel::{
    bindings,
    error::from_result,
    prelude::*, //
};

// The handler struct has a zero-sized private member bindgen cannot
// describe; C only ever sees the pointer.
#[cfg(CONFIG_LIVEUPDATE_TEST)]
#[allow(improper_ctypes)]
extern "C" {
    /// lib/tests/liveupdate.c: registers the test FLBs with `fh`.
    fn liveupdate_test_register(fh: *mut bindings::liveupdate_file_handler);
}

/// `liveupdate_enabled()`: whether live update is on.
#[export]
pub(crate) extern "C" fn liveupdate_enabled() -> bool {
    crate::enabled()
}

/// `liveupdate_reboot()`: serializes LUO's state for a kexec reboot.
#[export]
pub(crate) extern "C" fn liveupdate_reboot() -> c_int {
    errno(crate::reboot(luo()))
}

/// `liveupdate_register_file_handler()`.
///
/// # Safety
///
/// `fh` must point to a handler that stays valid until unregistered.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_register_file_handler(
    fh: *mut bindings::liveupdate_file_handler,
) -> c_int {
    from_result(|| {
        // SAFETY: the caller keeps the handler valid while registered.
        let fh = unsafe { FileHandler::from_raw(fh) }.ok_or(EINVAL)?;
        luo_file::register_handler(luo(), fh)?;
        // As C does: the in-kernel test module attaches its FLBs.
        #[cfg(CONFIG_LIVEUPDATE_TEST)]
        // SAFETY: `fh` is a registered handler; the test module only
        // registers FLBs with it and reads its compatible string.
        unsafe {
            liveupdate_test_register(fh.as_ptr())
        };
        Ok(0)
    })
}

/// `liveupdate_unregister_file_handler()`.
///
/// # Safety
///
/// `fh` must be NULL or a handler passed to `liveupdate_register_file_handler()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_unregister_file_handler(
    fh: *mut bindings::liveupdate_file_handler,
) {
    // SAFETY: as required of the caller.
    if let Some(fh) = unsafe { FileHandler::from_raw(fh) } {
        luo_file::unregister_handler(luo(), fh);
    }
}

/// `liveupdate_register_flb()`: `fh` will use `flb`.
///
/// # Safety
///
/// `fh` a registered handler, `flb` an FLB that lives for the rest of the boot.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_register_flb(
    fh: *mut bindings::liveupdate_file_handler,
    flb: *mut bindings::liveupdate_flb,
) -> c_int {
    // SAFETY: as required of the caller.
    let (Some(fh), Some(flb)) = (unsafe { (FileHandler::from_raw(fh), Flb::from_raw(flb)) }) else {
        return EINVAL.to_errno();
    };
    errno(luo_flb::register(luo(), fh, flb))
}

/// `liveupdate_unregister_flb()`.
///
/// # Safety
///
/// As for `liveupdate_register_flb()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_unregister_flb(
    fh: *mut bindings::liveupdate_file_handler,
    flb: *mut bindings::liveupdate_flb,
) {
    // SAFETY: as required of the caller.
    if let (Some(fh), Some(flb)) = unsafe { (FileHandler::from_raw(fh), Flb::from_raw(flb)) } {
        luo_flb::unregister(luo(), fh, flb);
    }
}

/// Calls `get` on the state of the FLB behind `flb` and stores the object in `*objp`.
///
/// # Safety
///
/// `flb` NULL or an FLB that lives for the rest of the boot; `objp` writable when `get` succeeds.
unsafe fn flb_get(
    flb: *mut bindings::liveupdate_flb,
    objp: *mut *mut c_void,
    get: impl FnOnce(&FlbState) -> Result<CPtr>,
) -> c_int {
    from_result(|| {
        // SAFETY: as required of the caller.
        let flb = unsafe { Flb::from_raw(flb) }.ok_or(EINVAL)?;
        if !crate::enabled() {
            return Err(EOPNOTSUPP);
        }
        let obj = flb.state().and_then(|s| get(&s))?;
        // SAFETY: `objp` is writable when `get` succeeds (caller).
        unsafe { *objp = obj.0 };
        Ok(0)
    })
}

/// `liveupdate_flb_get_incoming()`: the FLB's object from the previous kernel.
///
/// # Safety
///
/// `flb` an FLB that lives for the rest of the boot; `objp` writable.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_get_incoming(
    flb: *mut bindings::liveupdate_flb,
    objp: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded to the caller.
    unsafe { flb_get(flb, objp, |s| s.get_incoming(luo())) }
}

/// `liveupdate_flb_put_incoming()`.
///
/// # Safety
///
/// As for `liveupdate_flb_get_incoming()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_put_incoming(flb: *mut bindings::liveupdate_flb) {
    // SAFETY: as required of the caller.
    if let Some(Ok(s)) = unsafe { Flb::from_raw(flb) }.map(|flb| flb.state()) {
        s.put_incoming(luo());
    }
}

/// `liveupdate_flb_get_outgoing()`: the FLB's preserved object.
///
/// # Safety
///
/// As for `liveupdate_flb_get_incoming()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_get_outgoing(
    flb: *mut bindings::liveupdate_flb,
    objp: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded to the caller.
    unsafe { flb_get(flb, objp, |s| s.get_outgoing()) }
}

/// `liveupdate_flb_put_outgoing()`.
///
/// # Safety
///
/// As for `liveupdate_flb_get_incoming()`.
#[export]
pub(crate) unsafe extern "C" fn liveupdate_flb_put_outgoing(flb: *mut bindings::liveupdate_flb) {
    // SAFETY: as required of the caller.
    if let Some(Ok(s)) = unsafe { Flb::from_raw(flb) }.map(|flb| flb.state()) {
        s.put_outgoing();
    }
}
