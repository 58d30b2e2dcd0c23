// SPDX-License-Identifier: GPL-2.0

//! C structs of a binary interface (a handover ABI, a uAPI) as byte-safe
//! Rust types.
//!
//! [`Abi<T>`] wraps a bindings struct so that it can implement
//! [`FromBytes`] and [`AsBytes`], which the bindings cannot; [`plain_bytes!`]
//! does so for structs of integers and byte arrays, after a compile-time
//! check of their size.
//!
//! [`FromBytes`]: kernel::transmute::FromBytes
//! [`AsBytes`]: kernel::transmute::AsBytes

use core::ops::{
    Deref,
    DerefMut, //
};

/// A C struct of a binary interface.
#[repr(transparent)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Abi<T>(pub(crate) T);

impl<T> Deref for Abi<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Abi<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Declares `Abi<bindings::$t>` plain bytes, after checking that the C
/// struct has `$size` bytes, the sum of its fields'.
macro_rules! plain_bytes {
    ($($t:ident: $size:literal),* $(,)?) => {
        $(
            ::kernel::static_assert!(size_of::<::kernel::bindings::$t>() == $size);
            // SAFETY: `bindings::$t` is a C struct of integers and byte arrays whose size, checked
            // above, is the sum of its fields': any bytes are a valid value.
            unsafe impl ::kernel::transmute::FromBytes
                for $crate::staging::abi::Abi<::kernel::bindings::$t> {}
            // SAFETY: `bindings::$t` is made of integers and byte arrays
            // and its size, checked above, is the sum of its fields': it
            // has no padding, so all its bytes are initialized.
            unsafe impl ::kernel::transmute::AsBytes
                for $crate::staging::abi::Abi<::kernel::bindings::$t> {}
        )*
    };
}
pub(crate) use plain_bytes;
