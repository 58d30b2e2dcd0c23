// SPDX-License-Identifier: GPL-2.0

//! LUO's side of the C interface.
//!
//! Unlike [`crate::staging`], these modules are LUO's own: the structs of
//! its ABIs, the C handlers and FLBs it drives, and the functions of
//! `include/linux/liveupdate.h` that C calls.  The `unsafe` code that
//! depends on those C contracts is here, each block with its argument; the
//! LUO logic above is safe Rust.  Only [`exports`] calls up into it.
//!
//! - [`abi`]: `luo-v5` and uAPI structs as byte-safe types, their layouts
//!   checked at compile time, handed-over addresses read out of them;
//! - [`handler`]: C file handlers and FLBs, their callbacks and owners;
//! - [`exports`]: the `liveupdate_*` functions C calls.

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
