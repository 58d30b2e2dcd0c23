// SPDX-License-Identifier: GPL-2.0

//! Abstractions staged for the kernel crate.
//!
//! Each module here wraps one C facility that the kernel crate of 7.3 does
//! not cover yet, shaped like its future home in `rust/kernel/` (and, like
//! nova-core's `num.rs`, meant to move there as is): it uses only the
//! kernel crate and the bindings, never anything of LUO, and it holds the
//! `unsafe` code and its safety arguments so that its users need none.
//!
//! - [`anon_inode`]: anonymous-inode files backed by a Rust object;
//! - [`initcall`]: built-in initcalls of any level and `early_param`;
//! - [`kho`]: Kexec HandOver memory, outgoing and incoming, and block sets;
//! - [`liveupdate`]: Live Update file handlers written in Rust;
//! - [`rwsem`]: read-write semaphores, made with `new_rwsem!`;
//! - [`static_once`]: statics initialized in place once, at first use;
//! - [`uaccess`]: extensible-struct ioctl arguments.

pub(crate) mod anon_inode;
pub(crate) mod initcall;
pub(crate) mod kho;
// Only LUO's KUnit fakes, handlers written in Rust, need it here (using a
// part of it); mm/memfd_luo.rs includes it too.
#[cfg(CONFIG_KUNIT = "y")]
#[allow(dead_code)]
pub(crate) mod liveupdate;
pub(crate) mod rwsem;
pub(crate) mod static_once;
pub(crate) mod uaccess;
