// SPDX-License-Identifier: GPL-2.0

//! The thin unsafe layer LUO stands on.
//!
//! Everything that touches a raw pointer, calls C or is called by C lives in
//! these small modules, each with the safety argument for its `unsafe`
//! blocks.  The orchestration logic above them (`luo_core`, `luo_session`,
//! `luo_file`, `luo_flb`) is safe Rust.
//!
//! - [`kho`]: KHO-preserved memory, the `LUO` subtree and block sets;
//! - [`anon_file`]: anonymous-inode files with a `file_operations` table;
//! - [`uaccess`]: the extensible-struct ioctl argument (`copy_struct_from_user`);
//! - [`rwsem`]: global read-write semaphores;
//! - [`handler`]: C file handlers and FLBs, their callbacks and owners;
//! - [`c_api`]: the `liveupdate_*` functions C calls;
//! - [`init`]: built-in initcalls and early parameters.

pub(crate) mod anon_file;
pub(crate) mod c_api;
pub(crate) mod handler;
pub(crate) mod init;
pub(crate) mod kho;
pub(crate) mod rwsem;
pub(crate) mod uaccess;

/// Plain-old-data C structs of the KHO ABI and the uAPI.
///
/// # Safety
///
/// Implementors are `#[repr(C)]` (or packed) structs of integers and byte
/// arrays: every bit pattern is a valid value and they have no padding that
/// could leak kernel memory when copied out as bytes.
pub(crate) unsafe trait Pod: Sized {}
