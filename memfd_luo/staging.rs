// SPDX-License-Identifier: GPL-2.0

//! The staging abstractions of the Rust LUO (kernel/liveupdate/staging/)
//! that this crate uses, compiled into it (it uses a part of some).

#[path = "../../kernel/liveupdate/staging/abi.rs"]
pub(crate) mod abi;
#[path = "../../kernel/liveupdate/staging/folio.rs"]
pub(crate) mod folio;
#[path = "../../kernel/liveupdate/staging/initcall.rs"]
pub(crate) mod initcall;
#[path = "../../kernel/liveupdate/staging/kho.rs"]
pub(crate) mod kho;
#[path = "../../kernel/liveupdate/staging/kho_folio.rs"]
pub(crate) mod kho_folio;
#[path = "../../kernel/liveupdate/staging/liveupdate.rs"]
pub(crate) mod liveupdate;
#[path = "../../kernel/liveupdate/staging/shmem.rs"]
pub(crate) mod shmem;
