// SPDX-License-Identifier: GPL-2.0

//! File handlers and FLBs registered by C code.
//!
//! C header: [`include/linux/liveupdate.h`](srctree/include/linux/liveupdate.h).
//!
//! A subsystem (memfd, later vfio, iommufd, ...) hands LUO a `struct liveupdate_file_handler` or
//! `struct liveupdate_flb` it owns. [`FileHandler`] and [`Flb`] are copyable handles to them whose
//! methods call the C callbacks; the structs are only accessed field by field through raw pointers
//! (see Documentation/luo-rs.rst). (LUO's KUnit fakes are handlers written in Rust, whose handles
//! the test module makes.)

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        Mutex, //
    },
    types::ForeignOwnable, //
};

use crate::{
    capi::abi::c_str_bytes,
    staging::static_once::StaticOnce, //
};

/// Proof that `FLB_SLOTS` is held: only [`lock_slots`] makes one.
struct SlotsGuard {
    _held: kernel::sync::MutexGuard<'static, ()>,
}

/// Takes `FLB_SLOTS`, made on first use, which serializes access to the
/// state slots of all FLBs (C's `luo_flb_init_lock`).
fn lock_slots() -> SlotsGuard {
    static FLB_SLOTS: StaticOnce<Mutex<()>> = StaticOnce::new();
    let slots = FLB_SLOTS.get_or_init(|| new_mutex!((), "luo_flb_slots"));
    SlotsGuard {
        _held: slots.lock(),
    }
}

/// A reference on the module owning a handler or FLB (`try_module_get()`).
///
/// # Invariants
///
/// Holds one reference on `module` (NULL for built-in code).
pub(crate) struct ModuleRef {
    module: *mut bindings::module,
}

// SAFETY: a module reference may be dropped from any thread.
unsafe impl Send for ModuleRef {}

impl ModuleRef {
    fn try_get(module: *mut bindings::module) -> Option<Self> {
        // SAFETY: `module` is the owner field of a registered handler or FLB:
        // NULL or a live module.
        unsafe { bindings::luo_try_module_get(module) }.then_some(Self { module })
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: we hold a reference (type invariant).
        unsafe { bindings::luo_module_put(self.module) };
    }
}

/// An opaque pointer that LUO keeps for C code and hands back: a
/// handler's per-file `private_data`, or the object an FLB hands out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct CPtr(pub(crate) *mut c_void);

// SAFETY: LUO only stores the pointer and hands it back, on any thread.
unsafe impl Send for CPtr {}

impl CPtr {
    /// Whether there is no pointer.
    pub(crate) fn is_none(self) -> bool {
        self.0.is_null()
    }
}

impl Default for CPtr {
    fn default() -> Self {
        Self(core::ptr::null_mut())
    }
}

/// The state of one preserved file that its handler's callbacks see
/// (`struct liveupdate_file_op_args` without the handler).
#[derive(Default)]
pub(crate) struct FileState {
    /// The file; `None` for an incoming file not retrieved yet.
    pub(crate) file: Option<ARef<File>>,
    /// The handler's 64-bit handle to its serialized state.
    pub(crate) data: u64,
    /// The handler's private data.
    pub(crate) private: CPtr,
    /// Outcome of `retrieve`.
    pub(crate) retrieve: Retrieve,
}

/// Defines `$name`, a copyable handle to a C object `bindings::$t` whose
/// callback table is a `bindings::$ops`, with the methods both kinds share.
macro_rules! c_object {
    ($(#[$doc:meta])* $name:ident($t:ident, $ops:ident), mandatory: $($cb:ident),*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub(crate) struct $name(NonNull<bindings::$t>);

        // SAFETY: LUO writes no public field of the object (only an FLB's private area, under
        // `FLB_SLOTS`), and the callbacks may be called from any thread.
        unsafe impl Send for $name {}
        // SAFETY: shared handles only read the public fields and call the
        // callbacks, which C allows from any thread.
        unsafe impl Sync for $name {}

        impl $name {
            /// A handle to the C object at `ptr`; `None` for NULL.
            ///
            /// # Safety
            ///
            /// `ptr` must be NULL or satisfy the type invariant for as long
            /// as the handle or a copy of it is used.
            pub(crate) unsafe fn from_raw(ptr: *mut bindings::$t) -> Option<Self> {
                NonNull::new(ptr).map(Self)
            }

            /// The raw pointer, for C callers that want it back.
            pub(crate) fn as_ptr(self) -> *mut bindings::$t {
                self.0.as_ptr()
            }

            fn ops(&self) -> &bindings::$ops {
                // SAFETY: the object is valid (type invariant) and its owner
                // never changes `ops`, which points to a valid, immutable
                // table; the private area, which LUO writes, is not covered.
                unsafe { &*(*self.as_ptr()).ops }
            }

            /// The compatible string, without its NUL.
            pub(crate) fn compatible(&self) -> &[u8] {
                // SAFETY: the object is valid (type invariant) and its owner never changes
                // `compatible`; the reference covers that field only.
                c_str_bytes(unsafe { &(*self.as_ptr()).compatible })
            }

            /// Whether every mandatory callback is set.
            pub(crate) fn is_complete(&self) -> bool {
                let ops = self.ops();
                $(ops.$cb.is_some())&&*
            }

            /// Takes a reference on the owning module.
            pub(crate) fn get_owner(&self) -> Option<ModuleRef> {
                ModuleRef::try_get(self.ops().owner)
            }
        }
    };
}

c_object! {
    /// A registered `struct liveupdate_file_handler`.
    ///
    /// # Invariants
    ///
    /// `ptr` points to a handler with valid `ops` that stays valid while LUO
    /// uses it: from registration until unregistration, and while a file
    /// preserved by it holds its owner's [`ModuleRef`].
    FileHandler(liveupdate_file_handler, liveupdate_file_ops),
    mandatory: preserve, unpreserve, retrieve, finish, can_preserve
}

/// A callback of a file handler that takes an argument block.
type FileOp<R> = Option<unsafe extern "C" fn(*mut bindings::liveupdate_file_op_args) -> R>;

impl FileHandler {
    /// Calls the handler's callback `f`, if set, with an argument block
    /// made of `st`; returns what it returned and the block as it left it.
    fn call<R>(
        &self,
        st: &FileState,
        f: FileOp<R>,
    ) -> Option<(R, bindings::liveupdate_file_op_args)> {
        let mut raw = bindings::liveupdate_file_op_args {
            handler: self.as_ptr(),
            retrieve_status: match st.retrieve {
                Retrieve::NotTried => 0,
                Retrieve::Done => 1,
                Retrieve::Failed(e) => e.to_errno(),
            },
            file: st
                .file
                .as_deref()
                .map_or(core::ptr::null_mut(), |f| f.as_ptr()),
            serialized_data: st.data,
            private_data: st.private.0,
        };
        // `st.file`, when there is one, is borrowed across the call.
        // SAFETY: `f` is a callback of this valid handler (type invariant),
        // called with the fully initialized argument block it expects.
        let r = unsafe { f?(&mut raw) };
        Some((r, raw))
    }

    /// `can_preserve`: whether this handler takes `file`.
    pub(crate) fn can_preserve(&self, file: &File) -> bool {
        let can_preserve = self.ops().can_preserve;
        // SAFETY: valid handler and a live file.
        can_preserve.is_some_and(|f| unsafe { f(self.as_ptr(), file.as_ptr()) })
    }

    /// `get_id`: the key that identifies `file` among preserved files (the
    /// file pointer when the handler has none).
    pub(crate) fn id_of(&self, file: &File) -> usize {
        let get_id = self.ops().get_id;
        // SAFETY: valid handler and a live file.
        get_id.map_or(file.as_ptr() as usize, |f| unsafe { f(file.as_ptr()) })
    }

    /// `preserve`: fills `st.data` and `st.private`.
    pub(crate) fn preserve(&self, st: &mut FileState) -> Result {
        let (err, raw) = self.call(st, self.ops().preserve).ok_or(EINVAL)?;
        (st.data, st.private) = (raw.serialized_data, CPtr(raw.private_data));
        to_result(err)
    }

    /// `unpreserve`.
    pub(crate) fn unpreserve(&self, st: &FileState) {
        self.call(st, self.ops().unpreserve);
    }

    /// `freeze`, if the handler has it; on success `st.data` is the handle it leaves.
    pub(crate) fn freeze(&self, st: &mut FileState) -> Result {
        if let Some((err, raw)) = self.call(st, self.ops().freeze) {
            to_result(err)?;
            st.data = raw.serialized_data;
        }
        Ok(())
    }

    /// `unfreeze`, if the handler has it.
    pub(crate) fn unfreeze(&self, st: &FileState) {
        self.call(st, self.ops().unfreeze);
    }

    /// `retrieve`: recreates the file from `st.data`.  The error says whether the failure is final:
    /// it is unless the handler has `retryable_retrieve` and left the handle in place.
    pub(crate) fn retrieve(
        &self,
        st: &FileState,
    ) -> core::result::Result<ARef<File>, (Error, bool)> {
        let (err, raw) = self.call(st, self.ops().retrieve).ok_or((EINVAL, true))?;
        to_result(err).map_err(|e| {
            (
                e,
                !self.ops().retryable_retrieve || raw.serialized_data == 0,
            )
        })?;
        let file = NonNull::new(raw.file.cast::<File>()).ok_or((EINVAL, true))?;
        // SAFETY: a successful `retrieve` leaves in the argument block a new file with one
        // reference, which is now ours; `File` is a transparent wrapper of `struct file`.
        Ok(unsafe { ARef::from_raw(file) })
    }

    /// `can_finish`, true when the handler has none.
    pub(crate) fn can_finish(&self, st: &FileState) -> bool {
        self.call(st, self.ops().can_finish)
            .is_none_or(|(ok, _)| ok)
    }

    /// `finish`.
    pub(crate) fn finish(&self, st: &FileState) {
        self.call(st, self.ops().finish);
    }
}

/// The outcome of retrieving something from the previous kernel, which is
/// tried once and remembered.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum Retrieve {
    /// Not tried yet.
    #[default]
    NotTried,
    /// Retrieved.
    Done,
    /// Retrieving failed with this error, for good.
    Failed(Error),
}

impl Retrieve {
    /// The outcome of the earlier attempt, if there was one.
    pub(crate) fn tried(self) -> Option<Result> {
        match self {
            Retrieve::NotTried => None,
            Retrieve::Done => Some(Ok(())),
            Retrieve::Failed(e) => Some(Err(e)),
        }
    }

    /// Remembers the outcome `res` of the attempt, and passes it on.
    pub(crate) fn record<T>(&mut self, res: Result<T>) -> Result<T> {
        *self = match &res {
            Ok(_) => Retrieve::Done,
            Err(e) => Retrieve::Failed(*e),
        };
        res
    }
}

/// One direction of an FLB's life.
#[derive(Default)]
pub(crate) struct FlbSide {
    /// Files using it (outgoing) or the count the previous kernel recorded,
    /// decremented as files finish (incoming).
    pub(crate) count: u64,
    /// The FLB's 64-bit handle to its serialized state.
    pub(crate) data: u64,
    /// The live object the FLB hands to its users.
    pub(crate) obj: CPtr,
    /// Reference on the FLB's module while it is preserved or retrieved.
    pub(crate) owner: Option<ModuleRef>,
    /// Incoming only: the FLB was finished.
    pub(crate) finished: bool,
    /// Incoming only: the outcome of retrieval.
    pub(crate) retrieve: Retrieve,
}

/// LUO's state of one FLB (C's `struct luo_flb_private`); the LUO logic
/// that drives it is in `luo_flb`.
#[pin_data]
pub(crate) struct FlbState {
    pub(crate) flb: Flb,
    #[pin]
    pub(crate) outgoing: Mutex<FlbSide>,
    #[pin]
    pub(crate) incoming: Mutex<FlbSide>,
}

c_object! {
    /// A `struct liveupdate_flb` of a C subsystem.
    ///
    /// # Invariants
    ///
    /// `ptr` points to an FLB with valid `ops` that stays valid while it is registered, while LUO's
    /// state of it holds a reference on its module, and for the rest of the boot if it has no owner
    /// module (built-in FLBs are static objects).
    Flb(liveupdate_flb, liveupdate_flb_ops),
    mandatory: preserve, unpreserve, retrieve, finish
}

/// A callback of an FLB.
type FlbOp<R> = Option<unsafe extern "C" fn(*mut bindings::liveupdate_flb_op_args) -> R>;

impl Flb {
    /// The pointer slot of the FLB's private area where LUO keeps its
    /// [`FlbState`] (`private.outgoing.obj`, which no C code of this kernel
    /// uses), so a new, zeroed FLB starts without state, as in C.
    fn slot(&self) -> *mut *mut c_void {
        // SAFETY: the FLB is valid (type invariant); the place expression
        // only computes the address of one field of its private area.
        unsafe { &raw mut (*self.as_ptr()).private.outgoing.obj }
    }

    /// LUO's state of this FLB, if it has one; `_slots` shows `FLB_SLOTS` is held.
    fn slot_state(&self, _slots: &SlotsGuard) -> Option<Arc<FlbState>> {
        // SAFETY: `slot` is a field of a valid FLB (type invariant), only
        // accessed under `FLB_SLOTS`, which `_slots` shows is held.
        let raw = unsafe { self.slot().read() };
        // SAFETY: a non-NULL slot holds an `Arc<FlbState>` stored by `state`
        // with `into_foreign`, which only `release_state` takes back, under
        // the lock `_slots` shows is held; the borrow ends before it is dropped.
        (!raw.is_null()).then(|| unsafe { <Arc<FlbState> as ForeignOwnable>::borrow(raw) }.into())
    }

    /// LUO's state of this FLB, made on first use.
    pub(crate) fn state(&self) -> Result<Arc<FlbState>> {
        if let Some(state) = self.slot_state(&lock_slots()) {
            return Ok(state);
        }
        let state = Arc::pin_init(
            pin_init!(FlbState {
                flb: *self,
                outgoing <- new_mutex!(FlbSide::default()),
                incoming <- new_mutex!(FlbSide::default()),
            }),
            GFP_KERNEL,
        )?;
        let slots = lock_slots();
        if let Some(state) = self.slot_state(&slots) {
            // Another task made one meanwhile: use it.
            return Ok(state);
        }
        // SAFETY: a field of a valid FLB, under `FLB_SLOTS`; the slot owns
        // the reference it gets, until `release_state`.
        unsafe { self.slot().write(state.clone().into_foreign()) };
        Ok(state)
    }

    /// Drops LUO's state of an FLB whose last registration went away, when
    /// a module owns it and the state holds no reference on that module
    /// (see Documentation/luo-rs.rst); a built-in FLB keeps its state.
    pub(crate) fn release_state(&self) {
        if self.ops().owner.is_null() {
            return;
        }
        let Some(state) = self.slot_state(&lock_slots()) else {
            return;
        };
        // Whether it holds a module reference (something is preserved, or in use since retrieved),
        // checked outside `FLB_SLOTS`, which is never held while an FLB lock is taken; none can be
        // taken meanwhile, as preservation runs under the registration lock, held for write.
        let (out, inc) = (state.outgoing.lock(), state.incoming.lock());
        if out.count != 0 || out.owner.is_some() || inc.owner.is_some() {
            return;
        }
        drop((inc, out));
        let slots = lock_slots();
        if !self
            .slot_state(&slots)
            .is_some_and(|s| Arc::ptr_eq(&s, &state))
        {
            return;
        }
        // SAFETY: `slot` is a field of a valid FLB, and we hold `FLB_SLOTS`;
        // it holds the reference `state` stored with `into_foreign` (checked
        // above), taken back once, as the slot is cleared in the same step.
        drop(unsafe { Arc::<FlbState>::from_foreign(self.slot().replace(core::ptr::null_mut())) });
    }

    /// Calls the FLB's callback `f`, if set, with `data` and `obj`; returns
    /// what it returned and the handle and object it left in the block.
    fn call<R>(&self, f: FlbOp<R>, data: u64, obj: CPtr) -> Option<(R, u64, CPtr)> {
        let mut args = bindings::liveupdate_flb_op_args {
            flb: self.as_ptr(),
            data,
            obj: obj.0,
        };
        // SAFETY: `f` is a callback of this valid FLB (type invariant), whose contract is a fully
        // initialized argument block naming the FLB, which `args` is, alive across the call.
        let r = unsafe { f?(&mut args) };
        Some((r, args.data, CPtr(args.obj)))
    }

    /// `preserve`: the FLB's handle and object for the outgoing kernel.
    pub(crate) fn preserve(&self) -> Result<(u64, CPtr)> {
        let (err, data, obj) = self
            .call(self.ops().preserve, 0, CPtr::default())
            .ok_or(EINVAL)?;
        to_result(err)?;
        Ok((data, obj))
    }

    /// `unpreserve`, if set.
    pub(crate) fn unpreserve(&self, data: u64, obj: CPtr) {
        self.call(self.ops().unpreserve, data, obj);
    }

    /// `retrieve`: the object rebuilt from the previous kernel's `data`.
    pub(crate) fn retrieve(&self, data: u64) -> Result<CPtr> {
        let (err, _, obj) = self
            .call(self.ops().retrieve, data, CPtr::default())
            .ok_or(EINVAL)?;
        to_result(err)?;
        Ok(obj)
    }

    /// `finish`.
    pub(crate) fn finish(&self, obj: CPtr) {
        self.call(self.ops().finish, 0, obj);
    }
}

#[kunit_tests(luo_rs_handler)]
mod tests {
    use super::*;
    use crate::{
        luo_file,
        luo_flb,
        staging::liveupdate::{
            FileOps,
            OpArgs,
            RustFileHandler, //
        },
        Luo, //
    };

    impl<T: FileOps> RustFileHandler<T> {
        /// The handle LUO uses.
        pub(crate) fn handle(&'static self) -> FileHandler {
            // INVARIANT: a static handler with valid ops lives forever.
            FileHandler(NonNull::from(self).cast())
        }
    }

    /// A handler that takes no file.
    struct NoFiles;

    impl FileOps for NoFiles {
        type Private = ();

        fn can_preserve(_: &File) -> bool {
            false
        }
        fn preserve(_: &mut OpArgs<'_, ()>) -> Result {
            Err(EOPNOTSUPP)
        }
        fn unpreserve(_: &mut OpArgs<'_, ()>) {}
        fn retrieve(_: &mut OpArgs<'_, ()>) -> Result<ARef<File>> {
            Err(EOPNOTSUPP)
        }
        fn finish(_: &mut OpArgs<'_, ()>) {}
    }

    static NO_FILES: RustFileHandler<NoFiles> = RustFileHandler::new(c"luo-kunit-no-files");

    /// Does nothing; the FLB callbacks are never called in these tests.
    ///
    /// # Safety
    ///
    /// None needed; `unsafe` for the table's function type.
    unsafe extern "C" fn flb_nop(_: *mut bindings::liveupdate_flb_op_args) -> c_int {
        0
    }

    /// Does nothing.
    ///
    /// # Safety
    ///
    /// None needed; `unsafe` for the table's function type.
    unsafe extern "C" fn flb_nop_void(_: *mut bindings::liveupdate_flb_op_args) {}

    /// Stands in for the module that owns a test FLB.  The test never preserves nor retrieves the
    /// FLB, so LUO takes no reference on its owner: the pointer is only compared with NULL.
    static FAKE_MODULE: u8 = 0;

    /// An FLB owned by "a module", in a box that lives through the test.
    fn module_flb(ops: &bindings::liveupdate_flb_ops) -> Result<KBox<bindings::liveupdate_flb>> {
        let mut raw = KBox::new(
            bindings::liveupdate_flb {
                ops,
                ..pin_init::zeroed()
            },
            GFP_KERNEL,
        )?;
        raw.compatible[..15].copy_from_slice(b"luo-kunit-flb-1");
        Ok(raw)
    }

    #[test]
    fn module_flb_state_goes_with_its_last_registration() -> Result {
        if !crate::enabled() {
            return Ok(());
        }
        let ops = bindings::liveupdate_flb_ops {
            preserve: Some(flb_nop),
            unpreserve: Some(flb_nop_void),
            retrieve: Some(flb_nop),
            finish: Some(flb_nop_void),
            owner: (&raw const FAKE_MODULE).cast_mut().cast(),
        };
        let mut raw = module_flb(&ops)?;
        // SAFETY: the box outlives every use of the handle in this test, and
        // its state is released before the box is freed (checked below); its
        // owner is no live module, but nothing here takes a reference on it.
        let flb = unsafe { Flb::from_raw(&mut *raw) }.ok_or(EINVAL)?;
        let luo = KBox::pin_init(Luo::new(), GFP_KERNEL)?;
        let fh = NO_FILES.handle();
        luo_file::register_handler(&luo, fh)?;
        luo_flb::register(&luo, fh, flb)?;
        let state = flb.state()?;
        assert!(Arc::ptr_eq(&state, &flb.state()?));

        // While the state holds a reference on the module (the FLB is
        // preserved), unregistering keeps it: the module cannot go away.
        state.outgoing.lock().count = 1;
        luo_flb::unregister(&luo, fh, flb);
        // SAFETY: the slot of a live FLB, read as `state` does (no other
        // thread knows this FLB).
        assert!(!unsafe { flb.slot().read() }.is_null());
        state.outgoing.lock().count = 0;

        // Registered again, then unregistered while it holds nothing: the
        // state goes, so the module may free the FLB.
        luo_flb::register(&luo, fh, flb)?;
        luo_flb::unregister(&luo, fh, flb);
        // SAFETY: the slot of a live FLB that no other thread knows.
        assert!(unsafe { flb.slot().read() }.is_null());
        assert!(!Arc::ptr_eq(&state, &flb.state()?));
        flb.release_state();
        // SAFETY: the slot of a live FLB that no other thread knows.
        assert!(unsafe { flb.slot().read() }.is_null());
        luo_file::unregister_handler(&luo, fh);
        drop(raw);
        Ok(())
    }

    #[test]
    fn builtin_flb_keeps_its_state() -> Result {
        let ops = bindings::liveupdate_flb_ops {
            preserve: Some(flb_nop),
            unpreserve: Some(flb_nop_void),
            retrieve: Some(flb_nop),
            finish: Some(flb_nop_void),
            owner: core::ptr::null_mut(),
        };
        let mut raw = module_flb(&ops)?;
        // SAFETY: the box outlives every use of the handle in this test.
        let flb = unsafe { Flb::from_raw(&mut *raw) }.ok_or(EINVAL)?;
        let state = flb.state()?;
        flb.release_state();
        assert!(Arc::ptr_eq(&state, &flb.state()?));
        // The test FLB dies here, so take the slot's reference back by
        // hand: release_state keeps it for built-in FLBs.
        // SAFETY: the slot holds the reference `state()` stored.
        drop(unsafe { <Arc<FlbState> as ForeignOwnable>::from_foreign(flb.slot().read()) });
        drop(raw);
        Ok(())
    }
}
