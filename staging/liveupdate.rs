// SPDX-License-Identifier: GPL-2.0

//! Live Update file handlers written in Rust.
//!
//! C header: [`include/linux/liveupdate.h`](srctree/include/linux/liveupdate.h).
//!
//! A subsystem that preserves a kind of file across a live update
//! implements [`FileOps`] and registers a [`RustFileHandler`] with LUO,
//! as a C subsystem registers a `struct liveupdate_file_handler`.

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::{
        from_result,
        to_result, //
    },
    fs::File,
    prelude::*,
    sync::aref::ARef,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// The arguments of a callback of a file handler written in Rust, whose
/// per-file private object is a `P`.
///
/// # Invariants
///
/// `raw.private_data` is null or came from `P::into_foreign`, and is owned
/// by the file this call is about.
pub(crate) struct OpArgs<'a, P: ForeignOwnable> {
    raw: &'a mut bindings::liveupdate_file_op_args,
    _p: PhantomData<P>,
}

impl<'a, P: ForeignOwnable> OpArgs<'a, P> {
    /// The file: the preserved one (preserve to unfreeze), the retrieved
    /// one (finish, if it was retrieved) or none.
    pub(crate) fn file(&self) -> Option<&'a File> {
        let file = self.raw.file;
        if file.is_null() {
            return None;
        }
        // SAFETY: LUO passes a file it holds a reference on for the call
        // (`'a`), and `File` is a transparent wrapper of `struct file`.
        Some(unsafe { File::from_raw_file(file) })
    }

    /// The handler's 64-bit handle to its serialized state.
    pub(crate) fn data(&self) -> u64 {
        self.raw.serialized_data
    }

    /// Sets the handle (in `preserve` and `freeze`).
    pub(crate) fn set_data(&mut self, data: u64) {
        self.raw.serialized_data = data;
    }

    /// In `can_finish` and `finish`: the outcome of retrieving the file, `None` if nobody tried.
    pub(crate) fn retrieve_status(&self) -> Option<Result> {
        match self.raw.retrieve_status {
            0 => None,
            s if s < 0 => Some(Err(Error::from_errno(s))),
            _ => Some(Ok(())),
        }
    }

    /// Gives the file its private object (in `preserve`); an earlier one is dropped.
    pub(crate) fn set_private(&mut self, private: P) {
        drop(self.take_private());
        // INVARIANT: the pointer comes from `into_foreign` and belongs to this file.
        self.raw.private_data = private.into_foreign();
    }

    /// The file's private object, borrowed.
    pub(crate) fn private(&self) -> Option<P::Borrowed<'_>> {
        let p = self.raw.private_data;
        // SAFETY: `p` came from `into_foreign` (type invariant) and stays
        // there while `self` is borrowed, since only `&mut self` takes it.
        (!p.is_null()).then(|| unsafe { P::borrow(p) })
    }

    /// The file's private object, borrowed mutably.
    pub(crate) fn private_mut(&mut self) -> Option<P::BorrowedMut<'_>> {
        let p = self.raw.private_data;
        // SAFETY: `p` came from `into_foreign` (type invariant), and
        // `&mut self` makes this the only borrow.
        (!p.is_null()).then(|| unsafe { P::borrow_mut(p) })
    }

    /// Takes the file's private object back (in `unpreserve`).
    pub(crate) fn take_private(&mut self) -> Option<P> {
        let p = core::mem::replace(&mut self.raw.private_data, core::ptr::null_mut());
        // SAFETY: `p` came from `into_foreign` (type invariant), and the
        // slot no longer holds it, so it is converted back once.
        (!p.is_null()).then(|| unsafe { P::from_foreign(p) })
    }
}

/// A file handler written in Rust: what its callbacks do.
pub(crate) trait FileOps: 'static {
    /// The per-file object that lives from `preserve` to `unpreserve`.
    type Private: ForeignOwnable;

    /// Whether the handler takes `file`.
    fn can_preserve(file: &File) -> bool;
    /// What identifies the file's object: two files with the same id are
    /// the same for LUO (preserving the second is refused).
    fn get_id(file: &File) -> usize {
        file.as_ptr() as usize
    }
    /// Preserves the file; sets the handle.
    fn preserve(args: &mut OpArgs<'_, Self::Private>) -> Result;
    /// Undoes `preserve`.
    fn unpreserve(args: &mut OpArgs<'_, Self::Private>);
    /// Last step before the kexec; may change the handle.
    fn freeze(_args: &mut OpArgs<'_, Self::Private>) -> Result {
        Ok(())
    }
    /// Undoes `freeze` when a later one failed.
    fn unfreeze(_args: &mut OpArgs<'_, Self::Private>) {}
    /// Recreates the file from the handle, in the next kernel.
    ///
    /// With [`FileOps::RETRYABLE_RETRIEVE`], a failure that leaves the preserved state as it was
    /// leaves the handle too, and LUO lets the file be retrieved again; one that consumed it sets
    /// the handle to 0 ([`OpArgs::set_data`]), which makes the failure final.
    fn retrieve(args: &mut OpArgs<'_, Self::Private>) -> Result<ARef<File>>;
    /// Whether [`FileOps::retrieve`] says, by the handle it leaves, whether a failure was final
    /// (`retryable_retrieve`).
    const RETRYABLE_RETRIEVE: bool = false;
    /// Whether the file may be finished now.
    fn can_finish(_args: &mut OpArgs<'_, Self::Private>) -> bool {
        true
    }
    /// Hands the file over for good.
    fn finish(args: &mut OpArgs<'_, Self::Private>);
}

/// Defines C callbacks that take an argument block: each one passes the
/// block, as [`OpArgs`], to a closure that calls the method of `T`.
macro_rules! op_callbacks {
    ($($name:ident $(-> $ret:ty)? = $body:expr;)*) => {$(
        /// The callback of the same name of `T`.
        ///
        /// # Safety
        ///
        /// `args` is a valid argument block whose private data this handler set (LUO passes one).
        unsafe extern "C" fn $name(args: *mut bindings::liveupdate_file_op_args) $(-> $ret)? {
            // SAFETY: valid and exclusively ours for the call (safety requirement).
            let raw = unsafe { &mut *args };
            // INVARIANT: only `OpArgs` sets the private data of this
            // handler's files (safety requirement).
            ($body)(&mut OpArgs { raw, _p: PhantomData })
        }
    )*};
}

/// The C callbacks of a [`FileOps`] implementation.
struct Vtable<T>(PhantomData<T>);

impl<T: FileOps> Vtable<T> {
    const OPS: bindings::liveupdate_file_ops = bindings::liveupdate_file_ops {
        can_preserve: Some(Self::can_preserve),
        preserve: Some(Self::preserve),
        unpreserve: Some(Self::unpreserve),
        freeze: Some(Self::freeze),
        unfreeze: Some(Self::unfreeze),
        retrieve: Some(Self::retrieve),
        can_finish: Some(Self::can_finish),
        finish: Some(Self::finish),
        get_id: Some(Self::get_id),
        // Built in: no module owns it.
        owner: core::ptr::null_mut(),
        retryable_retrieve: T::RETRYABLE_RETRIEVE,
    };

    /// `can_preserve` of `T`.
    ///
    /// # Safety
    ///
    /// `file` is a live file (LUO passes one).
    unsafe extern "C" fn can_preserve(
        _handler: *mut bindings::liveupdate_file_handler,
        file: *mut bindings::file,
    ) -> bool {
        // SAFETY: a live file, borrowed for the call; `File` is a
        // transparent wrapper of `struct file`.
        T::can_preserve(unsafe { File::from_raw_file(file) })
    }

    /// `get_id` of `T`.
    ///
    /// # Safety
    ///
    /// `file` is a live file (LUO passes one).
    unsafe extern "C" fn get_id(file: *mut bindings::file) -> c_ulong {
        // SAFETY: a live file, borrowed for the call; `File` is a
        // transparent wrapper of `struct file`.
        T::get_id(unsafe { File::from_raw_file(file) }) as c_ulong
    }

    op_callbacks! {
        preserve -> c_int = |a| from_result(|| T::preserve(a).map(|()| 0));
        unpreserve = T::unpreserve;
        freeze -> c_int = |a| from_result(|| T::freeze(a).map(|()| 0));
        unfreeze = T::unfreeze;
        // LUO takes over the file's reference.
        retrieve -> c_int = |a: &mut OpArgs<'_, T::Private>| from_result(|| {
            a.raw.file = ARef::into_raw(T::retrieve(a)?).as_ptr().cast();
            Ok(0)
        });
        can_finish -> bool = T::can_finish;
        finish = T::finish;
    }
}

/// A `struct liveupdate_file_handler` whose callbacks are a [`FileOps`]
/// implementation, for a `static`.
///
/// # Invariants
///
/// `ops` points to `Vtable::<T>::OPS`; after it is made only LUO writes
/// the struct (its list and private fields, while it is registered).
#[repr(transparent)]
pub(crate) struct RustFileHandler<T: FileOps> {
    raw: Opaque<bindings::liveupdate_file_handler>,
    _ops: PhantomData<T>,
}

// SAFETY: only LUO writes the struct, under its own locks (type
// invariant); the callbacks may run on any thread.
unsafe impl<T: FileOps> Sync for RustFileHandler<T> {}

impl<T: FileOps> RustFileHandler<T> {
    /// A handler named `compatible` (at most 47 bytes).
    pub(crate) const fn new(compatible: &CStr) -> Self {
        let name = compatible.to_bytes();
        let mut raw = bindings::liveupdate_file_handler {
            ops: &Vtable::<T>::OPS,
            ..pin_init::zeroed()
        };
        assert!(name.len() < raw.compatible.len());
        let mut i = 0;
        while i < name.len() {
            raw.compatible[i] = name[i];
            i += 1;
        }
        // INVARIANT: `ops` is the vtable of `T`.
        Self {
            raw: Opaque::new(raw),
            _ops: PhantomData,
        }
    }

    /// The C struct, for LUO.
    pub(crate) fn as_ptr(&'static self) -> *mut bindings::liveupdate_file_handler {
        self.raw.get()
    }

    /// Registers the handler with LUO (`liveupdate_register_file_handler()`).
    pub(crate) fn register(&'static self) -> Result {
        // SAFETY: a handler with valid ops that lives forever.
        to_result(unsafe { bindings::liveupdate_register_file_handler(self.as_ptr()) })
    }
}
