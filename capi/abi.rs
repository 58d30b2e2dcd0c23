// SPDX-License-Identifier: GPL-2.0

//! LUO's binary interfaces as byte-safe Rust types.
//!
//! C headers: [`include/linux/kho/abi/luo.h`](srctree/include/linux/kho/abi/luo.h) (the handover
//! ABI `luo-v5`) and [`include/uapi/linux/liveupdate.h`](srctree/include/uapi/linux/liveupdate.h)
//! (the ioctl arguments).
//!
//! The structs are the bindings' own, wrapped in [`Abi`], their layouts
//! checked at compile time; handed-over addresses are read only here.

pub(crate) use crate::staging::abi::Abi;
use crate::staging::{
    abi::plain_bytes,
    kho::{
        Handed,
        HandoverAddr,
        Incoming, //
    },
};
use core::mem::offset_of;
use kernel::{
    bindings,
    prelude::*, //
};

// The handover ABI `luo-v5` (what the other kernel reads and writes), then the uAPI.
plain_bytes!(
    luo_ser: 32,
    luo_session_ser: 80,
    luo_file_ser: 64,
    luo_flb_header_ser: 16,
    luo_flb_ser: 64,
    kho_block_header_ser: 16,
    liveupdate_ioctl_create_session: 72,
    liveupdate_ioctl_retrieve_session: 72,
    liveupdate_session_preserve_fd: 16,
    liveupdate_session_retrieve_fd: 16,
    liveupdate_session_finish: 8,
    liveupdate_session_get_name: 72,
);

/// `struct luo_ser`, the root of the handed-over state.
pub(crate) type LuoSer = Abi<bindings::luo_ser>;
/// `struct luo_session_ser`, one session.
pub(crate) type SessionSer = Abi<bindings::luo_session_ser>;
/// `struct luo_file_ser`, one preserved file.
pub(crate) type FileSer = Abi<bindings::luo_file_ser>;
/// `struct luo_flb_header_ser`, the header of the FLB array.
pub(crate) type FlbHeaderSer = Abi<bindings::luo_flb_header_ser>;
/// `struct luo_flb_ser`, one preserved FLB.
pub(crate) type FlbSer = Abi<bindings::luo_flb_ser>;
/// `struct kho_block_header_ser`, the header of a block of session or file entries.
pub(crate) type BlockHeaderSer = Abi<bindings::kho_block_header_ser>;

/// Bytes of a block of entries (`KHO_BLOCK_SIZE`).
pub(crate) const BLOCK_SIZE: usize = kernel::page::PAGE_SIZE;
/// Blocks in a chain at most (`KHO_MAX_BLOCKS`, private to kho_block.c).
pub(crate) const MAX_BLOCKS: usize = 10000;

/// Entries of `T` a block holds (`count_per_block` of `kho_block_set_init()`).
pub(crate) const fn per_block<T>() -> u64 {
    ((BLOCK_SIZE - size_of::<BlockHeaderSer>()) / size_of::<T>()) as u64
}

/// Turns a `#define` string of a C header into a `&CStr` at compile time.
const fn c_define(s: &'static [u8]) -> &'static CStr {
    match CStr::from_bytes_with_nul(s) {
        Ok(s) => s,
        Err(_) => panic!("not a C string"),
    }
}

/// The ABI this kernel speaks (`LUO_ABI_COMPATIBLE`).
pub(crate) const COMPATIBLE: &CStr = c_define(bindings::LUO_ABI_COMPATIBLE);
/// The name of LUO's KHO subtree (`LUO_KHO_ENTRY_NAME`).
pub(crate) const KHO_ENTRY_NAME: &CStr = c_define(bindings::LUO_KHO_ENTRY_NAME);
/// Bytes of a session name, its NUL included.
pub(crate) const SESSION_NAME_LEN: usize = bindings::LIVEUPDATE_SESSION_NAME_LENGTH as usize;

/// The size of the field `f` of a struct, for `offset_of_end!`.
pub(crate) const fn size_of_field<S, F>(_: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

/// `offsetofend()`: the offset of the first byte after field `$f` of `$t`.
macro_rules! offset_of_end {
    ($t:ty, $f:ident) => {
        ::core::mem::offset_of!($t, $f) + $crate::capi::abi::size_of_field(|s: &$t| &s.$f)
    };
}
pub(crate) use offset_of_end;

// The rest of the layout of `luo-v5`.
static_assert!(bindings::LIVEUPDATE_SESSION_NAME_LENGTH == 64);
static_assert!(bindings::LIVEUPDATE_HNDL_COMPAT_LENGTH == 48);
static_assert!(bindings::LIVEUPDATE_FLB_COMPAT_LENGTH == 48);
static_assert!(offset_of!(bindings::luo_ser, liveupdate_num) == 8);
static_assert!(offset_of!(bindings::luo_ser, sessions_pa) == 16);
static_assert!(offset_of!(bindings::luo_ser, flbs_pa) == 24);
static_assert!(offset_of!(bindings::luo_file_ser, data) == 48);
static_assert!(offset_of!(bindings::luo_file_ser, token) == 56);
static_assert!(size_of::<bindings::luo_file_set_ser>() == 16);
static_assert!(offset_of!(bindings::luo_file_set_ser, count) == 8);
static_assert!(offset_of!(bindings::luo_session_ser, file_set_ser) == 64);
static_assert!(offset_of!(bindings::luo_flb_header_ser, count) == 8);
static_assert!(offset_of!(bindings::luo_flb_ser, data) == 48);
static_assert!(offset_of!(bindings::luo_flb_ser, count) == 56);
static_assert!(offset_of!(bindings::kho_block_header_ser, count) == 8);
static_assert!(per_block::<SessionSer>() == 51 && per_block::<FileSer>() == 63);

impl Incoming<LuoSer> {
    /// The head of the session entries' block chain (`sessions_pa`).
    pub(crate) fn sessions(&self) -> HandoverAddr {
        // SAFETY: read from the `luo_ser` the previous kernel handed over, whose `sessions_pa`
        // luo.h declares the head of a block chain of `struct luo_session_ser` (or 0).
        unsafe { HandoverAddr::new(self.sessions_pa) }
    }

    /// The FLB array (`flbs_pa`).
    pub(crate) fn flbs(&self) -> HandoverAddr {
        // SAFETY: read from the handed-over `luo_ser`, whose `flbs_pa` luo.h declares an allocation
        // holding a `struct luo_flb_header_ser` and its entries (or 0).
        unsafe { HandoverAddr::new(self.flbs_pa) }
    }
}

impl Incoming<BlockHeaderSer> {
    /// The next block of the chain (`next`; 0 after the last).
    pub(crate) fn next(&self) -> HandoverAddr {
        // SAFETY: read from a handed-over block header, whose `next` block.h declares the next
        // block of the same chain (or 0).
        unsafe { HandoverAddr::new(self.next) }
    }
}

impl Handed<SessionSer> {
    /// The head of the session's file entries' block chain (`file_set_ser.files`).
    pub(crate) fn files(&self) -> HandoverAddr {
        // SAFETY: read from a handed-over `luo_session_ser`, whose `file_set_ser.files` luo.h
        // declares the head of a block chain of `struct luo_file_ser` (or 0).
        unsafe { HandoverAddr::new(self.file_set_ser.files) }
    }
}

/// The bytes of a fixed-size C string up to its NUL (all if none).
pub(crate) fn c_str_bytes(raw: &[u8]) -> &[u8] {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    &raw[..len]
}

/// Writes `src` as a NUL-terminated string into `dst`, truncating and
/// zero-filling (`strscpy_pad()`).
pub(crate) fn copy_c_str(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len().saturating_sub(1));
    dst[..n].copy_from_slice(&src[..n]);
    dst[n..].fill(0);
}
