// SPDX-License-Identifier: GPL-2.0

//! File handlers and FLBs registered by C code.
//!
//! C header: [`include/linux/liveupdate.h`](srctree/include/linux/liveupdate.h).
//!
//! A subsystem (memfd, later vfio, iommufd, ...) hands LUO a
//! `struct liveupdate_file_handler` or `struct liveupdate_flb` it owns,
//! usually a `static`.  [`FileHandler`] and [`Flb`] are copyable handles to
//! them whose methods call the C callbacks with the argument block each
//! expects; [`ModuleRef`] is a reference on the module that owns them.

use crate::luo_flb::FlbState;
use core::ptr::NonNull;
use kernel::{
    bindings,
    ffi::c_void,
    fs::File,
    prelude::*,
    sync::{aref::ARef, Arc},
    types::ForeignOwnable,
};

kernel::sync::global_lock! {
    // SAFETY: `init()` is called in the early initcall, before any use.
    unsafe(uninit) static FLB_SLOTS: Mutex<()> = ();
}

/// Initializes the lock of the FLB state slots.
///
/// # Safety
///
/// Called once, early in boot, before any FLB is used.
pub(crate) unsafe fn init() {
    // SAFETY: forwarded to the caller.
    unsafe { FLB_SLOTS.init() };
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
// SAFETY: no shared-access methods.
unsafe impl Sync for ModuleRef {}

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

/// Opaque per-file data a handler keeps between callbacks (`private_data`).
#[derive(Clone, Copy)]
pub(crate) struct HandlerPrivate(*mut c_void);

// SAFETY: LUO only stores the pointer and passes it back to its handler.
unsafe impl Send for HandlerPrivate {}
// SAFETY: as above.
unsafe impl Sync for HandlerPrivate {}

impl HandlerPrivate {
    /// No private data.
    pub(crate) const NONE: Self = Self(core::ptr::null_mut());
}

/// The state of one preserved file passed to handler callbacks
/// (`struct liveupdate_file_op_args` without the handler).
pub(crate) struct FileArgs<'a> {
    /// The file, when there is one.
    pub(crate) file: Option<&'a File>,
    /// The handler's 64-bit handle to its serialized state.
    pub(crate) data: u64,
    /// The handler's private data.
    pub(crate) private: HandlerPrivate,
    /// Outcome of `retrieve`: 0 not tried, 1 done, negative errno failed.
    pub(crate) retrieve_status: i32,
}

/// A registered `struct liveupdate_file_handler`.
///
/// # Invariants
///
/// `ptr` points to a handler with valid `ops` that stays valid while LUO
/// uses it: from registration until unregistration, and while a file
/// preserved by it holds its owner's [`ModuleRef`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileHandler(NonNull<bindings::liveupdate_file_handler>);

// SAFETY: handlers are immutable C objects, callable from any thread.
unsafe impl Send for FileHandler {}
// SAFETY: as above.
unsafe impl Sync for FileHandler {}

impl FileHandler {
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariant for as long as the handle or a
    /// copy of it is used.
    pub(crate) unsafe fn from_raw(ptr: NonNull<bindings::liveupdate_file_handler>) -> Self {
        Self(ptr)
    }

    /// The raw pointer, for C callers that want it back.
    pub(crate) fn as_ptr(self) -> *mut bindings::liveupdate_file_handler {
        self.0.as_ptr()
    }

    fn ops(&self) -> &bindings::liveupdate_file_ops {
        // SAFETY: type invariant: the handler and its ops are valid.
        unsafe { &*self.0.as_ref().ops }
    }

    /// The compatible string, without its NUL.
    pub(crate) fn compatible(&self) -> &[u8] {
        // SAFETY: type invariant.
        crate::c_str_bytes(unsafe { &self.0.as_ref().compatible })
    }

    /// Whether every mandatory callback is set.
    pub(crate) fn is_complete(&self) -> bool {
        let ops = self.ops();
        ops.preserve.is_some()
            && ops.unpreserve.is_some()
            && ops.retrieve.is_some()
            && ops.finish.is_some()
            && ops.can_preserve.is_some()
    }

    /// Takes a reference on the owning module.
    pub(crate) fn get_owner(&self) -> Option<ModuleRef> {
        ModuleRef::try_get(self.ops().owner)
    }

    fn call<R>(
        &self,
        args: &mut FileArgs<'_>,
        f: impl FnOnce(&mut bindings::liveupdate_file_op_args) -> R,
    ) -> R {
        let mut raw = bindings::liveupdate_file_op_args {
            handler: self.as_ptr(),
            retrieve_status: args.retrieve_status,
            file: args.file.map_or(core::ptr::null_mut(), |f| f.as_ptr()),
            serialized_data: args.data,
            private_data: args.private.0,
        };
        let r = f(&mut raw);
        args.data = raw.serialized_data;
        args.private = HandlerPrivate(raw.private_data);
        r
    }

    /// `can_preserve`: whether this handler takes `file`.
    pub(crate) fn can_preserve(&self, file: &File) -> bool {
        match self.ops().can_preserve {
            // SAFETY: valid handler and a live file.
            Some(f) => unsafe { f(self.as_ptr(), file.as_ptr()) },
            None => false,
        }
    }

    /// `get_id`: the key that identifies `file` among preserved files (the
    /// file pointer when the handler has none).
    pub(crate) fn id_of(&self, file: &File) -> usize {
        match self.ops().get_id {
            // SAFETY: valid handler and a live file.
            Some(f) => unsafe { f(file.as_ptr()) },
            None => file.as_ptr() as usize,
        }
    }

    /// `preserve`: fills `args.data` and `args.private`.
    pub(crate) fn preserve(&self, args: &mut FileArgs<'_>) -> Result {
        let f = self.ops().preserve.ok_or(EINVAL)?;
        // SAFETY: valid handler; the argument block is fully initialized.
        let err = self.call(args, |raw| unsafe { f(raw) });
        kernel::error::to_result(err)
    }

    /// `unpreserve`.
    pub(crate) fn unpreserve(&self, args: &mut FileArgs<'_>) {
        if let Some(f) = self.ops().unpreserve {
            // SAFETY: as in `preserve`.
            self.call(args, |raw| unsafe { f(raw) });
        }
    }

    /// `freeze`, if the handler has it; may update `args.data`.
    pub(crate) fn freeze(&self, args: &mut FileArgs<'_>) -> Result {
        match self.ops().freeze {
            // SAFETY: as in `preserve`.
            Some(f) => kernel::error::to_result(self.call(args, |raw| unsafe { f(raw) })),
            None => Ok(()),
        }
    }

    /// `unfreeze`, if the handler has it.
    pub(crate) fn unfreeze(&self, args: &mut FileArgs<'_>) {
        if let Some(f) = self.ops().unfreeze {
            // SAFETY: as in `preserve`.
            self.call(args, |raw| unsafe { f(raw) });
        }
    }

    /// `retrieve`: recreates the file from `args.data`.
    pub(crate) fn retrieve(&self, args: &mut FileArgs<'_>) -> Result<ARef<File>> {
        let f = self.ops().retrieve.ok_or(EINVAL)?;
        let mut file = core::ptr::null_mut();
        let err = self.call(args, |raw| {
            // SAFETY: as in `preserve`.
            let err = unsafe { f(raw) };
            file = raw.file;
            err
        });
        kernel::error::to_result(err)?;
        let file = NonNull::new(file.cast::<File>()).ok_or(EINVAL)?;
        // SAFETY: a successful `retrieve` returns a new file with one
        // reference, which is ours.
        Ok(unsafe { ARef::from_raw(file) })
    }

    /// `can_finish`, true when the handler has none.
    pub(crate) fn can_finish(&self, args: &mut FileArgs<'_>) -> bool {
        match self.ops().can_finish {
            // SAFETY: as in `preserve`.
            Some(f) => self.call(args, |raw| unsafe { f(raw) }),
            None => true,
        }
    }

    /// `finish`.
    pub(crate) fn finish(&self, args: &mut FileArgs<'_>) {
        if let Some(f) = self.ops().finish {
            // SAFETY: as in `preserve`.
            self.call(args, |raw| unsafe { f(raw) });
        }
    }
}

/// An opaque object an FLB hands to its users (`void *obj`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlbObj(pub(crate) *mut c_void);

// SAFETY: LUO only stores the pointer and hands it back.
unsafe impl Send for FlbObj {}
// SAFETY: as above.
unsafe impl Sync for FlbObj {}

impl FlbObj {
    /// No object.
    pub(crate) const NONE: Self = Self(core::ptr::null_mut());

    /// Whether there is no object.
    pub(crate) fn is_none(self) -> bool {
        self.0.is_null()
    }
}

/// A `struct liveupdate_flb` of a C subsystem.
///
/// # Invariants
///
/// `ptr` points to an FLB with valid `ops` that lives for the rest of the
/// boot (FLBs are static objects; LUO keeps per-FLB state forever, as C
/// does in the FLB's private area).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flb(NonNull<bindings::liveupdate_flb>);

// SAFETY: FLBs are immutable C objects, callable from any thread.
unsafe impl Send for Flb {}
// SAFETY: as above.
unsafe impl Sync for Flb {}

impl Flb {
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariant.
    pub(crate) unsafe fn from_raw(ptr: NonNull<bindings::liveupdate_flb>) -> Self {
        Self(ptr)
    }

    fn ops(&self) -> &bindings::liveupdate_flb_ops {
        // SAFETY: type invariant.
        unsafe { &*self.0.as_ref().ops }
    }

    /// The compatible string, without its NUL.
    pub(crate) fn compatible(&self) -> &[u8] {
        // SAFETY: type invariant.
        crate::c_str_bytes(unsafe { &self.0.as_ref().compatible })
    }

    /// Whether every mandatory callback is set.
    pub(crate) fn is_complete(&self) -> bool {
        let ops = self.ops();
        ops.preserve.is_some()
            && ops.unpreserve.is_some()
            && ops.retrieve.is_some()
            && ops.finish.is_some()
    }

    /// Takes a reference on the owning module.
    pub(crate) fn get_owner(&self) -> Option<ModuleRef> {
        ModuleRef::try_get(self.ops().owner)
    }

    /// LUO's state of this FLB, made by `make` on first use.
    ///
    /// Like C, LUO keeps it in the FLB's own private area (in the pointer
    /// slot `private.outgoing.obj`, which no C code of this kernel uses), so
    /// a new, zeroed FLB object starts without state.  The state is never
    /// freed, as C's private state is never torn down.
    pub(crate) fn state(
        &self,
        make: impl FnOnce() -> Result<Arc<FlbState>>,
    ) -> Result<Arc<FlbState>> {
        let _guard = FLB_SLOTS.lock();
        // SAFETY: the FLB is valid (type invariant); its private area is
        // LUO's and this slot is only accessed under `FLB_SLOTS`.
        let slot = unsafe { &raw mut (*self.0.as_ptr()).private.outgoing.obj };
        // SAFETY: as above.
        let raw = unsafe { *slot };
        if !raw.is_null() {
            // SAFETY: a non-NULL slot holds an `Arc<FlbState>` stored below
            // with `into_foreign` and never taken back.
            return Ok(unsafe { <Arc<FlbState> as ForeignOwnable>::borrow(raw) }.into());
        }
        let state = make()?;
        // SAFETY: as above; the slot keeps this reference for good.
        unsafe { *slot = state.clone().into_foreign() };
        Ok(state)
    }

    fn args(&self, data: u64, obj: FlbObj) -> bindings::liveupdate_flb_op_args {
        bindings::liveupdate_flb_op_args {
            flb: self.0.as_ptr(),
            data,
            obj: obj.0,
        }
    }

    /// `preserve`: the FLB's handle and object for the outgoing kernel.
    pub(crate) fn preserve(&self) -> Result<(u64, FlbObj)> {
        let f = self.ops().preserve.ok_or(EINVAL)?;
        let mut args = self.args(0, FlbObj::NONE);
        // SAFETY: valid FLB and argument block.
        kernel::error::to_result(unsafe { f(&mut args) })?;
        Ok((args.data, FlbObj(args.obj)))
    }

    /// `unpreserve`, if set.
    pub(crate) fn unpreserve(&self, data: u64, obj: FlbObj) {
        if let Some(f) = self.ops().unpreserve {
            let mut args = self.args(data, obj);
            // SAFETY: valid FLB and argument block.
            unsafe { f(&mut args) };
        }
    }

    /// `retrieve`: the object rebuilt from the previous kernel's `data`.
    pub(crate) fn retrieve(&self, data: u64) -> Result<FlbObj> {
        let f = self.ops().retrieve.ok_or(EINVAL)?;
        let mut args = self.args(data, FlbObj::NONE);
        // SAFETY: valid FLB and argument block.
        kernel::error::to_result(unsafe { f(&mut args) })?;
        Ok(FlbObj(args.obj))
    }

    /// `finish`.
    pub(crate) fn finish(&self, obj: FlbObj) {
        if let Some(f) = self.ops().finish {
            let mut args = self.args(0, obj);
            // SAFETY: valid FLB and argument block.
            unsafe { f(&mut args) };
        }
    }
}
