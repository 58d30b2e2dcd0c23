// SPDX-License-Identifier: GPL-2.0

//! Random numbers.
//!
//! C header: [`include/linux/random.h`](srctree/include/linux/random.h).

use kernel::bindings;

/// A random `u64` from the kernel's CRNG (`get_random_u64()`).
pub(crate) fn get_random_u64() -> u64 {
    // SAFETY: `get_random_u64` may be called from any context, at any time after `random_init()`,
    // which runs before any initcall.
    unsafe { bindings::get_random_u64() }
}
