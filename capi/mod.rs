// SPDX-License-Identifier: GPL-2.0

//! LUO's side of the C interface.
//!
//! Unlike [`crate::staging`], these modules are LUO's own, and hold the `unsafe` code that depends
//! on its C contracts; only [`exports`] calls up into the LUO logic.

pub(crate) mod abi;
pub(crate) mod exports;
pub(crate) mod handler;

use kernel::{
    bindings,
    prelude::*, //
};

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

/// The C return value of `r`: 0 or a negative errno.
pub(crate) fn errno(r: Result) -> c_int {
    kernel::error::from_result(|| r.map(|()| 0))
}
