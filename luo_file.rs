// SPDX-License-Identifier: GPL-2.0

//! Preserved files and the file handlers that know how to preserve them.
//!
//! A file is preserved by the first registered handler that can, at most
//! once ([`PreservedIds`]), frozen and written as a `struct luo_file_ser` at
//! reboot, then retrieved once and finished in the next kernel.

use crate::{
    capi::{
        abi,
        handler::{
            self,
            FileHandler,
            FileState,
            ModuleRef, //
        }, //
    },
    luo_flb,
    luo_index::{
        self,
        Keyed,
        Table, //
    },
    staging::kho,
    Luo, //
};
use kernel::{
    fs::File,
    prelude::*,
    str::BStr,
    sync::{
        aref::ARef,
        Arc, //
    }, //
};

/// A registered file handler and the FLBs it uses, in registration order.
pub(crate) struct Handler {
    fh: FileHandler,
    pub(crate) flbs: KVec<Arc<handler::FlbState>>,
}

/// The registered file handlers and FLBs (what `luo_register_rwlock` protects in C).
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) handlers: KVec<Handler>,
    /// FLBs used by at least one handler, in the order of their first
    /// registration (C's `luo_flb_global.list`).
    pub(crate) flbs: KVec<Arc<handler::FlbState>>,
}

impl Registry {
    /// The registered handler `fh`.
    pub(crate) fn handler(&self, fh: FileHandler) -> Option<&Handler> {
        self.handlers.iter().find(|h| h.fh == fh)
    }

    /// The registered handler `fh`, to change.
    pub(crate) fn handler_mut(&mut self, fh: FileHandler) -> Option<&mut Handler> {
        self.handlers.iter_mut().find(|h| h.fh == fh)
    }

    /// The FLBs of handler `fh` (none if it is not registered).
    pub(crate) fn flbs_of(&self, fh: FileHandler) -> &[Arc<handler::FlbState>] {
        self.handler(fh).map_or(&[], |h| &h.flbs)
    }
}

/// The ids (`get_id`, or the file pointer) of every preserved or retrieved
/// file (C's `luo_preserved_files` xarray): O(1) on average to record, look
/// up and forget, with no allocation per id.
#[derive(Default)]
pub(crate) struct PreservedIds(Table<PreservedId>);

/// An entry of [`PreservedIds`].
struct PreservedId(usize);

impl Keyed for PreservedId {
    type Key = usize;

    fn key(&self) -> &usize {
        &self.0
    }

    fn hash(id: &usize) -> u64 {
        luo_index::hash_u64(*id as u64)
    }
}

impl PreservedIds {
    /// Records `id`; EBUSY if it is already there, checked before anything
    /// is allocated (`xa_insert()`).
    fn mark(&mut self, id: usize) -> Result {
        self.0
            .push(PreservedId(id))
            .map_err(|e| if e == EEXIST { EBUSY } else { e })
    }

    /// Forgets `id` (`xa_erase()`).
    fn unmark(&mut self, id: usize) {
        self.0.remove(&id);
    }
}

/// `liveupdate_register_file_handler()`.
pub(crate) fn register_handler(luo: &Luo, fh: FileHandler) -> Result {
    if !crate::enabled() {
        return Err(EOPNOTSUPP);
    }
    if !fh.is_complete() {
        return Err(EINVAL);
    }
    let mut reg = luo.registry.write();
    let name = fh.compatible();
    if reg.handlers.iter().any(|h| h.fh.compatible() == name) {
        let name = BStr::from_bytes(name);
        pr_err!(
            "File handler registration failed: Compatible string '{name}' already registered.\n"
        );
        return Err(EEXIST);
    }
    let flbs = KVec::new();
    reg.handlers.push(Handler { fh, flbs }, GFP_KERNEL)?;
    Ok(())
}

/// `liveupdate_unregister_file_handler()`: drops the handler and unlinks its FLBs.
pub(crate) fn unregister_handler(luo: &Luo, fh: FileHandler) {
    if !crate::enabled() {
        return;
    }
    let mut reg = luo.registry.write();
    // Each call unlinks the first FLB, so this walks them in order.
    while let Some(flb) = reg.handler(fh).and_then(|h| h.flbs.first()).map(|s| s.flb) {
        reg.unregister_flb(fh, flb);
    }
    if let Some(i) = reg.handlers.iter().position(|h| h.fh == fh) {
        reg.handlers.remove(i).ok();
    }
}

/// One preserved (outgoing) or handed-over (incoming) file.
struct LuoFile {
    fh: FileHandler,
    /// Keeps the handler's module loaded while the file is LUO's.
    _owner: ModuleRef,
    state: FileState,
    token: u64,
}

/// Files are found by token.
impl Keyed for LuoFile {
    type Key = u64;

    fn key(&self) -> &u64 {
        &self.token
    }

    fn hash(token: &u64) -> u64 {
        luo_index::hash_u64(*token)
    }
}

/// The files of one session, in preservation order and by token (`struct luo_file_set`), and the
/// KHO blocks of their entries (the previous kernel's, for an incoming session).
pub(crate) struct FileSet {
    files: Table<LuoFile>,
    blocks: kho::BlockSet<abi::FileSer>,
}

impl FileSet {
    /// An empty set; it allocates nothing until a file comes.
    pub(crate) const fn new() -> Self {
        Self {
            files: Table::new(),
            blocks: kho::BlockSet::new(),
        }
    }

    /// Number of files.
    pub(crate) fn count(&self) -> u64 {
        self.files.len() as u64
    }

    /// `PRESERVE_FD`: preserves the file that `fget` looks up under `token`
    /// (`luo_preserve_file()`).
    pub(crate) fn preserve(
        &mut self,
        luo: &Luo,
        token: u64,
        fget: impl FnOnce() -> Result<ARef<File>>,
    ) -> Result {
        if self.files.contains(&token) {
            return Err(EEXIST);
        }
        self.blocks.grow(self.count() + 1)?;
        let res = self.preserve_grown(luo, token, fget);
        if res.is_err() {
            self.blocks.shrink(self.count());
        }
        res
    }

    fn preserve_grown(
        &mut self,
        luo: &Luo,
        token: u64,
        fget: impl FnOnce() -> Result<ARef<File>>,
    ) -> Result {
        let file = fget()?;
        // The first handler that can preserve the file, if its module can be
        // pinned; ENOENT otherwise.
        let (fh, owner) = {
            let reg = luo.registry.read();
            let found = reg.handlers.iter().find(|h| h.fh.can_preserve(&file));
            let fh = found.ok_or(ENOENT)?.fh;
            (fh, fh.get_owner().ok_or(ENOENT)?)
        };
        let id = fh.id_of(&file);
        luo.preserved.lock().mark(id)?;
        let mut state = FileState {
            file: Some(file),
            ..Default::default()
        };
        // The file's own room (C's `kzalloc` of the `luo_file`) is made
        // between the FLBs and the handler, as in C.
        let res = luo_flb::file_preserve(luo, fh).and_then(|()| {
            let res = self.files.reserve().and_then(|()| fh.preserve(&mut state));
            if res.is_err() {
                luo_flb::file_unpreserve(luo, fh);
            }
            res
        });
        if let Err(e) = res {
            luo.preserved.lock().unmark(id);
            // The module reference goes before the file, as in C.
            drop(owner);
            return Err(e);
        }
        let file = LuoFile {
            fh,
            _owner: owner,
            state,
            token,
        };
        // Cannot fail: the token is free and room was made above.
        self.files.push(file)
    }

    /// Unpreserves every file, last preserved first, when an outgoing
    /// session is closed (`luo_file_unpreserve_files()`).
    pub(crate) fn unpreserve_all(&mut self, luo: &Luo) {
        self.release_all(luo, |f| {
            f.fh.unpreserve(&f.state);
            luo_flb::file_unpreserve(luo, f.fh);
        });
    }

    /// Lets go of every file, last first, after `done` tells its handler and
    /// FLBs; its id, entry and references go with it.
    fn release_all(&mut self, luo: &Luo, done: impl Fn(&LuoFile)) {
        // Most sessions hold no file: no call for them.
        if self.files.is_empty() {
            self.blocks.destroy();
            return;
        }
        while let Some(f) = self.files.pop() {
            done(&f);
            if let Some(file) = &f.state.file {
                luo.preserved.lock().unmark(f.fh.id_of(file));
            }
            self.blocks.shrink(self.count());
        }
        self.blocks.destroy();
    }

    /// Freezes every file and writes its entry, then the session's `entry`;
    /// on failure unfreezes the ones frozen (`luo_file_freeze()`).
    pub(crate) fn freeze(&mut self, entry: &mut abi::SessionSer) -> Result {
        if self.files.is_empty() {
            return Ok(());
        }
        let mut cursor = self.blocks.cursor();
        let mut failed = None;
        for (i, f) in self.files.iter_mut().enumerate() {
            let Some(entry) = cursor.reserve() else {
                pr_warn!("No room for file serialization entry\n");
                failed = Some((i, ENOSPC));
                break;
            };
            if let Err(e) = f.fh.freeze(&mut f.state) {
                let (token, name) = (f.token, BStr::from_bytes(f.fh.compatible()));
                pr_warn!("Freeze failed for token[{token:#x}] handler[{name}] err[{e:?}]\n");
                failed = Some((i, e));
                break;
            }
            abi::copy_c_str(&mut entry.compatible, f.fh.compatible());
            entry.data = f.state.data;
            entry.token = f.token;
        }
        if let Some((i, e)) = failed {
            self.unfreeze_first(i);
            return Err(e);
        }
        entry.file_set_ser.count = self.count();
        entry.file_set_ser.files = self.blocks.head_pa();
        Ok(())
    }

    /// Unfreezes the first `n` files, last first, and zeroes the entries.
    ///
    /// C (`__luo_file_unfreeze()`) undoes them first first; undoing in the reverse order of the
    /// freezes lets a handler whose freeze of one file builds on the freeze of an earlier one
    /// (devices behind a shared object) unwind as it wound.
    fn unfreeze_first(&mut self, n: usize) {
        let skip = self.files.len() - n;
        for f in self.files.iter().rev().skip(skip) {
            f.fh.unfreeze(&f.state);
        }
        self.blocks.clear();
    }

    /// Undoes a successful [`FileSet::freeze`] (`luo_file_unfreeze()`).
    pub(crate) fn unfreeze(&mut self, entry: &mut abi::SessionSer) {
        if self.files.is_empty() {
            return;
        }
        self.unfreeze_first(self.files.len());
        entry.file_set_ser.count = 0;
        entry.file_set_ser.files = 0;
    }

    /// `RETRIEVE_FD`: the file preserved under `token`, recreated on first
    /// call (`luo_retrieve_file()`).
    pub(crate) fn retrieve(&mut self, luo: &Luo, token: u64) -> Result<ARef<File>> {
        let f = self.files.get_mut(&token).ok_or(ENOENT)?;
        if let Some(res) = f.state.retrieve.tried() {
            return res.and_then(|()| f.state.file.clone().ok_or(ENOENT));
        }
        // Room to track the file, made first: nothing is retrieved without it.
        luo.preserved.lock().0.reserve()?;
        let file = match f.fh.retrieve(&f.state) {
            // The handler consumed nothing: the file may be retrieved again later (C remembers
            // every failure, and a transient ENOMEM loses the file).
            Err((e, false)) => return Err(e),
            res => f.state.retrieve.record(res.map_err(|(e, _)| e))?,
        };
        if luo.preserved.lock().mark(f.fh.id_of(&file)).is_err() {
            pr_warn!("Retrieved file is already tracked as preserved\n");
        }
        f.state.file = Some(file.clone());
        Ok(file)
    }

    /// `FINISH`: if every handler agrees, finishes every file, last first (`luo_file_finish()`).
    pub(crate) fn finish(&mut self, luo: &Luo) -> Result {
        if self.files.is_empty() {
            return Ok(());
        }
        if !self.files.iter().all(|f| f.fh.can_finish(&f.state)) {
            return Err(EBUSY);
        }
        self.release_all(luo, |f| {
            f.fh.finish(&f.state);
            luo_flb::file_finish(luo, f.fh);
        });
        Ok(())
    }

    /// Rebuilds the set from the previous kernel's `count` entries at
    /// `head` (`luo_file_deserialize()`); ENOENT for an unknown handler.
    pub(crate) fn deserialize(&mut self, luo: &Luo, head: kho::HandoverAddr, count: u64) -> Result {
        if head.is_null() {
            if count != 0 {
                pr_warn!("File set has {} files but no blocks\n", count);
            }
            return Ok(());
        }
        self.blocks = kho::BlockSet::restore(head)?;
        let res = read_entries(luo, &mut self.blocks, &mut self.files, count);
        if res.is_err() {
            self.files = Table::default();
            self.blocks.destroy();
        }
        res
    }
}

/// Makes an incoming file of each entry, checking that there are `expected` of them; where the
/// previous kernel wrote a token twice, the first entry answers, as C's list walk does.
fn read_entries(
    luo: &Luo,
    blocks: &mut kho::BlockSet<abi::FileSer>,
    files: &mut Table<LuoFile>,
    expected: u64,
) -> Result {
    let reg = luo.registry.read();
    for entry in blocks.cursor() {
        let name = abi::c_str_bytes(&entry.compatible);
        let found = reg.handlers.iter().find(|h| h.fh.compatible() == name);
        let Some((fh, _owner)) = found.and_then(|h| h.fh.get_owner().map(|o| (h.fh, o))) else {
            let name = BStr::from_bytes(name);
            pr_warn!("No registered handler for compatible '{name}'\n");
            return Err(ENOENT);
        };
        files.push_shadowed(LuoFile {
            fh,
            _owner,
            state: FileState {
                data: entry.data,
                ..Default::default()
            },
            token: entry.token,
        })?;
    }
    let found = files.len();
    if found as u64 != expected {
        pr_warn!("File count mismatch: expected {expected}, found {found}\n");
        return Err(EINVAL);
    }
    Ok(())
}

#[kunit_tests(luo_rs_file)]
mod tests {
    use super::*;
    use crate::staging::liveupdate::{
        FileOps,
        OpArgs,
        RustFileHandler, //
    };
    use kernel::sync::atomic::{
        Atomic,
        Relaxed, //
    };

    /// Ids far from any kernel pointer, so no real file can collide.
    const ID_A: usize = 0x11;
    const ID_B: usize = 0x22;

    #[test]
    fn preserved_ids_are_unique() {
        let mut ids = PreservedIds::default();
        assert_eq!(ids.mark(ID_A), Ok(()));
        assert_eq!(ids.mark(ID_A), Err(EBUSY));
        assert_eq!(ids.mark(ID_B), Ok(()));
        ids.unmark(ID_A);
        assert_eq!(ids.mark(ID_A), Ok(()));
        ids.unmark(ID_A);
        ids.unmark(ID_B);
        // Forgetting an unknown id is harmless.
        ids.unmark(ID_B);
        assert_eq!(ids.mark(ID_B), Ok(()));
        assert_eq!(ids.0.len(), 1);
        assert!(ids.0.get(&ID_B).is_some());
    }

    #[test]
    fn failed_preserve_gives_back_its_block() -> Result {
        // Growing a block preserves it: not with KHO off (`kho=off`).
        if !crate::enabled() {
            return Ok(());
        }
        let luo = KBox::pin_init(Luo::new(), GFP_KERNEL)?;
        let mut set = FileSet::new();
        // The token is free, so LUO grows the KHO blocks for one more entry,
        // then fget() fails: the block must be given back.
        assert_eq!(set.preserve(&luo, 7, || Err(EBADF)), Err(EBADF));
        assert_eq!(set.count(), 0);
        assert_eq!(set.blocks.head_pa(), 0);
        // A file that no handler of this (empty) registry takes: ENOENT,
        // and the block is given back too.
        let file = dummy_file()?;
        assert_eq!(set.preserve(&luo, 7, || Ok(file)), Err(ENOENT));
        assert_eq!(set.blocks.head_pa(), 0);
        assert!(luo.preserved.lock().0.is_empty());
        assert!(set.files.is_empty());
        Ok(())
    }

    /// An anonymous-inode file of no handler's.
    fn dummy_file() -> Result<ARef<File>> {
        crate::staging::anon_inode::new_file(c"[luo_kunit]", Arc::new(Dummy, GFP_KERNEL)?)
    }

    /// A file handler whose `freeze` fails for files with handle
    /// `FAIL_DATA`, counting `unfreeze` calls (KUnit runs one test at a
    /// time, so a static counter is enough).
    struct Fake;

    const FAIL_DATA: u64 = 0xBAD;
    static UNFROZEN: Atomic<u32> = Atomic::new(0);
    static FAKE: RustFileHandler<Fake> = RustFileHandler::new(c"luo-kunit-fake");

    impl FileOps for Fake {
        type Private = ();

        fn can_preserve(_: &File) -> bool {
            false
        }
        fn preserve(_: &mut OpArgs<'_, ()>) -> Result {
            Err(EOPNOTSUPP)
        }
        fn unpreserve(_: &mut OpArgs<'_, ()>) {}
        /// Fails for `FAIL_DATA`, else adds 100 to the handle.
        fn freeze(args: &mut OpArgs<'_, ()>) -> Result {
            if args.data() == FAIL_DATA {
                return Err(EIO);
            }
            args.set_data(args.data() + 100);
            Ok(())
        }
        fn unfreeze(_: &mut OpArgs<'_, ()>) {
            UNFROZEN.add(1, Relaxed);
        }
        fn retrieve(_: &mut OpArgs<'_, ()>) -> Result<ARef<File>> {
            Err(EOPNOTSUPP)
        }
        fn finish(_: &mut OpArgs<'_, ()>) {}
    }

    /// A set of three files of the fake handler, with handles 1, `second`, 3.
    fn fake_set(fh: FileHandler, second: u64) -> Result<FileSet> {
        let mut set = FileSet::new();
        set.blocks.grow(3)?;
        for (i, data) in [1, second, 3].into_iter().enumerate() {
            let file = dummy_file()?;
            set.files.push(LuoFile {
                fh,
                _owner: fh.get_owner().ok_or(ENODEV)?,
                state: FileState {
                    file: Some(file),
                    data,
                    ..Default::default()
                },
                token: i as u64,
            })?;
        }
        Ok(set)
    }

    /// The object behind the fake files.
    struct Dummy;

    impl crate::staging::anon_inode::AnonFileOps for Dummy {
        fn ioctl(
            _: kernel::sync::ArcBorrow<'_, Self>,
            _: &crate::staging::anon_inode::IoctlContext,
            _: u32,
            _: usize,
        ) -> Result<isize> {
            Err(ENOTTY)
        }
        fn release(_: Arc<Self>) -> Result {
            Ok(())
        }
    }

    #[test]
    fn freeze_failure_unfreezes_the_files_before_it() -> Result {
        // The entries are written into preserved blocks: not with KHO off.
        if !crate::enabled() {
            return Ok(());
        }
        let fh = FAKE.handle();

        // The second file fails: the first is unfrozen, entries are zeroed.
        UNFROZEN.store(0, Relaxed);
        let mut set = fake_set(fh, FAIL_DATA)?;
        let mut ser = abi::SessionSer::default();
        assert_eq!(set.freeze(&mut ser), Err(EIO));
        assert_eq!(UNFROZEN.load(Relaxed), 1);
        assert_eq!((ser.file_set_ser.files, ser.file_set_ser.count), (0, 0));
        // Read back without reserving: the blocks were cleared, counts
        // included, so the next kernel would find no entry.
        assert!(set.blocks.cursor().next().is_none());
        drop(set);

        // All succeed: every entry is written with the frozen handle; an
        // unfreeze (a later session failed) undoes all three.
        UNFROZEN.store(0, Relaxed);
        let mut set = fake_set(fh, 2)?;
        assert_eq!(set.freeze(&mut ser), Ok(()));
        assert_eq!(ser.file_set_ser.count, 3);
        assert_eq!(ser.file_set_ser.files, set.blocks.head_pa());
        let mut cursor = set.blocks.cursor();
        for (token, data) in [(0u64, 101u64), (1, 102), (2, 103)] {
            let e = cursor.next().map(|e| (e.token, e.data));
            assert_eq!(e, Some((token, data)));
        }
        assert!(cursor.next().is_none());
        set.unfreeze(&mut ser);
        assert_eq!(UNFROZEN.load(Relaxed), 3);
        assert_eq!((ser.file_set_ser.files, ser.file_set_ser.count), (0, 0));
        Ok(())
    }

    #[test]
    fn empty_set_retrieve_and_finish() -> Result {
        let luo = KBox::pin_init(Luo::new(), GFP_KERNEL)?;
        let mut set = FileSet::new();
        assert_eq!(set.retrieve(&luo, 1).err(), Some(ENOENT));
        assert_eq!(set.finish(&luo), Ok(()));
        let mut ser = abi::SessionSer::default();
        assert_eq!(set.freeze(&mut ser), Ok(()));
        assert_eq!((ser.file_set_ser.files, ser.file_set_ser.count), (0, 0));
        Ok(())
    }
}
