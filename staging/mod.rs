// SPDX-License-Identifier: GPL-2.0

//! Abstractions staged for the kernel crate.
//!
//! Each module wraps one C facility that the 7.3 kernel crate lacks, shaped like its future home in
//! `rust/kernel/` (as nova-core's `num.rs` is): it uses only the kernel crate and the bindings,
//! never LUO, and holds the `unsafe` code with its safety argument, so that its users need none.

pub(crate) mod abi;
pub(crate) mod anon_inode;
pub(crate) mod initcall;
pub(crate) mod kho;
// Only LUO's KUnit fakes, handlers written in Rust, need it here (using a
// part of it); mm/memfd_luo.rs includes it too.
#[cfg(CONFIG_KUNIT = "y")]
#[allow(dead_code)]
pub(crate) mod liveupdate;
pub(crate) mod random;
pub(crate) mod rwsem;
pub(crate) mod static_once;
pub(crate) mod uaccess;
