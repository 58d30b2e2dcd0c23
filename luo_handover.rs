// SPDX-License-Identifier: GPL-2.0

//! DOC: Checking the handed-over state
//!
//! Everything LUO reads from the previous kernel is untrusted input: a bug in
//! that kernel, a different kernel speaking the same ABI, or memory corrupted
//! on the way may have written it.  Before anything of it is used, at the early
//! initcall, one walk over the whole state checks it:
//!
//! - every handed-over address (`luo_ser`, each session and file block, the
//!   FLB array) is, before it is read, the start of an allocation KHO preserved
//!   and this kernel has not restored, large enough for what is read there
//!   (`kho_preserved_order()`): an address that is not RAM, not preserved, or
//!   already used is never dereferenced;
//! - every block is reached once: a chain that loops, or two chains that share
//!   a block, are found without following them further; a chain has at most
//!   `KHO_MAX_BLOCKS` blocks and each block 1 to `count_per_block` entries;
//! - session names are terminated, not empty and unique; a session's file
//!   count matches its entries, and a session with files has a file chain;
//!   file entries have a terminated, non-empty compatible string and tokens
//!   unique in their session;
//! - the FLB array is one page (`pgcnt`), holds at most `LUO_FLB_MAX`
//!   entries, each with a terminated, non-empty, unique name and a count from
//!   1 to `INT_MAX`;
//! - no file's handle is one of the pages above (a handler frees what its
//!   handle names).  The FLB entries are then copied out and their page freed
//!   (`luo_flb::setup_incoming`).
//!
//! The previous kernel writes none of these faults itself, so each is
//! corruption.  Policy: the check that failed is logged with the address it
//! failed at, and the boot panics as C does for a session chain it cannot
//! restore (`luo_restore_fail()`): continuing with part of the state could
//! leak private data into memory this kernel hands out, or give a workload a
//! device or memory half restored.  A panic loses nothing that was intact: the
//! preserved memory stays in place for an operator who boots again, with
//! `liveupdate=off` or a kernel that reads the state better.  C reads all of
//! this unchecked at first use, and either panics, faults, or leaves every
//! session unreachable behind EIO (notes/handover-validation.md).
//!
//! A file handler's own data (a memfd's folios) is its handler's to check, at
//! retrieve; a fault there costs that file only, as in C.
//!
//! The walk costs O(n log n) for n sessions and files (sorting names and
//! tokens), under no lock: nothing else runs this early.

use crate::{
    capi::abi::{
        self,
        BlockHeaderSer,
        FileSer,
        FlbHeaderSer,
        FlbSer,
        LuoSer,
        SessionSer, //
    },
    luo_flb,
    staging::kho::{
        Handed,
        HandoverAddr,
        Incoming, //
    },
};
use kernel::{
    alloc::KVVec,
    prelude::*,
    rbtree::RBTree,
    str::BStr,
    transmute::FromBytes, //
};

/// The pages of handed-over state seen so far.
struct Walk {
    seen: RBTree<u64, ()>,
}

impl Walk {
    /// Adopts the allocation of `size` bytes at `addr`, which holds `what`, for reading; EINVAL
    /// if KHO did not preserve it or the walk has been there already.
    fn adopt<T: FromBytes>(
        &mut self,
        what: &str,
        addr: HandoverAddr,
        size: usize,
    ) -> Result<Incoming<T>> {
        let pa = addr.pa();
        let data = Incoming::adopt(addr, size).inspect_err(|bad| {
            pr_err!("{what} at {pa:#x}: {bad}\n");
        })?;
        if self
            .seen
            .try_create_and_insert(pa, (), GFP_KERNEL)?
            .is_some()
        {
            pr_err!("{what} at {pa:#x} is reached twice: a chain loops or two chains share it\n");
            return Err(EINVAL);
        }
        Ok(data)
    }

    /// Walks the block chain at `head` (0: none) of entries `T`, giving each entry to `f`;
    /// returns the number of entries.
    fn walk_chain<T: FromBytes + Copy>(
        &mut self,
        what: &str,
        head: HandoverAddr,
        mut f: impl FnMut(Handed<T>) -> Result,
    ) -> Result<u64> {
        let per_block = abi::per_block::<T>();
        let (mut addr, mut blocks, mut entries) = (head, 0, 0u64);
        while !addr.is_null() {
            blocks += 1;
            if blocks > abi::MAX_BLOCKS {
                pr_err!(
                    "{what} chain at {:#x} has more than {} blocks\n",
                    head.pa(),
                    abi::MAX_BLOCKS
                );
                return Err(EINVAL);
            }
            let block = self.adopt::<BlockHeaderSer>(what, addr, abi::BLOCK_SIZE)?;
            let count = block.count;
            if count == 0 || count > per_block {
                pr_err!(
                    "{what} at {:#x} contains invalid entry count: {count}\n",
                    addr.pa()
                );
                return Err(EINVAL);
            }
            for e in block.entries::<T>(count).ok_or(EINVAL)? {
                f(e)?;
            }
            entries += count;
            addr = block.next();
        }
        Ok(entries)
    }
}

/// The bytes of a handed-over C string of `raw.len()` bytes, if it is terminated and not empty.
fn c_name(raw: &[u8]) -> Option<&[u8]> {
    let s = abi::c_str_bytes(raw);
    (!s.is_empty() && s.len() < raw.len()).then_some(s)
}

/// Sorts `v` and returns a value that is in it twice.
fn duplicate<T: Ord + Copy>(v: &mut [T]) -> Option<T> {
    v.sort_unstable();
    v.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// Checks the state the previous kernel handed over at `luo_ser` (at `addr`), before any of it is
/// used: EINVAL, with a message naming the check, if anything is wrong.
pub(crate) fn check(luo_ser: &Incoming<LuoSer>, addr: HandoverAddr) -> Result {
    let mut walk = Walk {
        seen: RBTree::new(),
    };
    walk.seen.try_create_and_insert(addr.pa(), (), GFP_KERNEL)?;

    // The sessions: names first, then each one's files.
    let mut sessions = KVVec::<Handed<SessionSer>>::new();
    walk.walk_chain::<SessionSer>("session block", luo_ser.sessions(), |s| {
        if c_name(&s.name).is_none() {
            let raw = BStr::from_bytes(abi::c_str_bytes(&s.name));
            pr_err!("session name '{raw}' is empty or not terminated\n");
            return Err(EINVAL);
        }
        sessions.push(s, GFP_KERNEL)?;
        Ok(())
    })?;
    let mut names = KVVec::with_capacity(sessions.len(), GFP_KERNEL)?;
    for s in sessions.iter() {
        names.push(c_padded(&s.name), GFP_KERNEL)?;
    }
    if let Some(name) = duplicate(&mut names) {
        let name = BStr::from_bytes(abi::c_str_bytes(&name));
        pr_err!("session name '{name}' is there twice\n");
        return Err(EINVAL);
    }
    drop(names);
    let (mut tokens, mut data) = (KVVec::<u64>::new(), KVVec::new());
    for s in sessions.iter() {
        check_files(&mut walk, s, &mut tokens, &mut data)?;
    }
    drop(sessions);

    let flbs = luo_ser.flbs();
    if !flbs.is_null() {
        check_flbs(&mut walk, flbs)?;
    }
    // A file handler frees what its handle names: never a page of LUO's own.
    for (token, d) in data.iter() {
        if walk.seen.get(d).is_some() {
            pr_err!("file token {token}: its handle {d:#x} is a page of LUO's own state\n");
            return Err(EINVAL);
        }
    }
    Ok(())
}

/// A C string of a fixed-size field with every byte after its NUL zeroed, so that two names equal
/// as C strings compare equal.
fn c_padded<const N: usize>(raw: &[u8; N]) -> [u8; N] {
    let mut out = [0u8; N];
    let s = abi::c_str_bytes(raw);
    out[..s.len()].copy_from_slice(s);
    out
}

/// Checks the file entries of session `s`; `tokens` is scratch space, and each file's token and
/// handle go to `data`.
fn check_files(
    walk: &mut Walk,
    s: &Handed<SessionSer>,
    tokens: &mut KVVec<u64>,
    data: &mut KVVec<(u64, u64)>,
) -> Result {
    let name = BStr::from_bytes(abi::c_str_bytes(&s.name));
    let (head, count) = (s.files(), s.file_set_ser.count);
    if head.is_null() {
        if count != 0 {
            pr_err!("session '{name}' has {count} files but no file block\n");
            return Err(EINVAL);
        }
        return Ok(());
    }
    tokens.clear();
    let found = walk.walk_chain::<FileSer>("file block", head, |f| {
        if c_name(&f.compatible).is_none() {
            let raw = BStr::from_bytes(abi::c_str_bytes(&f.compatible));
            pr_err!("session '{name}': file handler '{raw}' is empty or not terminated\n");
            return Err(EINVAL);
        }
        tokens.push(f.token, GFP_KERNEL)?;
        data.push((f.token, f.data), GFP_KERNEL)?;
        Ok(())
    })?;
    if found != count {
        pr_err!("session '{name}': file count mismatch: expected {count}, found {found}\n");
        return Err(EINVAL);
    }
    if let Some(token) = duplicate(tokens) {
        pr_err!("session '{name}': token {token} is there twice\n");
        return Err(EINVAL);
    }
    Ok(())
}

/// Checks the FLB array at `addr`.
fn check_flbs(walk: &mut Walk, addr: HandoverAddr) -> Result {
    let size = luo_flb::FLB_PGCNT * kernel::page::PAGE_SIZE;
    let header = walk.adopt::<FlbHeaderSer>("FLB array", addr, size)?;
    let (pgcnt, count) = (header.pgcnt, header.count);
    if pgcnt != luo_flb::FLB_PGCNT as u64 {
        pr_err!(
            "FLB array at {:#x}: {pgcnt} pages, not {}\n",
            addr.pa(),
            luo_flb::FLB_PGCNT
        );
        return Err(EINVAL);
    }
    let Some(entries) = header.entries::<FlbSer>(count) else {
        pr_err!(
            "FLB array at {:#x}: {count} entries, more than {}\n",
            addr.pa(),
            luo_flb::FLB_MAX
        );
        return Err(EINVAL);
    };
    let mut names = KVec::with_capacity(luo_flb::FLB_MAX, GFP_KERNEL)?;
    for e in entries {
        let raw = BStr::from_bytes(abi::c_str_bytes(&e.name));
        if c_name(&e.name).is_none() {
            pr_err!("FLB '{raw}': name empty or not terminated\n");
            return Err(EINVAL);
        }
        let users = e.count;
        if users == 0 || users > i32::MAX as u64 {
            pr_err!("FLB '{raw}': invalid count {users}\n");
            return Err(EINVAL);
        }
        names.push(c_padded(&e.name), GFP_KERNEL)?;
    }
    if let Some(name) = duplicate(&mut names) {
        let name = BStr::from_bytes(abi::c_str_bytes(&name));
        pr_err!("FLB '{name}' is there twice\n");
        return Err(EINVAL);
    }
    Ok(())
}

#[kunit_tests(luo_rs_handover)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_terminated_and_not_empty() {
        assert_eq!(c_name(b"abc\0\0"), Some(&b"abc"[..]));
        assert_eq!(c_name(b"\0abc\0"), None);
        assert_eq!(c_name(b"abcde"), None);
        // Bytes after the NUL do not count.
        assert_eq!(c_name(b"ab\0cd"), Some(&b"ab"[..]));
    }

    #[test]
    fn duplicates_are_found_in_any_order() {
        assert_eq!(duplicate(&mut [3u64, 1, 2]), None);
        assert_eq!(duplicate(&mut [3u64, 1, 2, 1]), Some(1));
        assert_eq!(duplicate::<u64>(&mut []), None);
    }
}
