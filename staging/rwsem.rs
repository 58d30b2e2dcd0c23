// SPDX-License-Identifier: GPL-2.0

//! Read-write semaphores.
//!
//! C header: [`include/linux/rwsem.h`](srctree/include/linux/rwsem.h).
//!
//! A [`RwSem`] protects a `T` that readers share and a writer changes; it is
//! made like [`kernel::sync::Mutex`], with [`new_rwsem!`].

use core::{
    cell::UnsafeCell,
    marker::PhantomPinned,
    ops::{
        Deref,
        DerefMut, //
    }, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::LockClassKey,
    types::{
        NotThreadSafe,
        Opaque, //
    }, //
};
use pin_init::Wrapper;

/// Creates a [`RwSem`] initializer with the given data and a lockdep class
/// of its own, as `new_mutex!` does.
macro_rules! new_rwsem {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::staging::rwsem::RwSem::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_rwsem;

/// A `struct rw_semaphore` protecting a `T`.
///
/// # Invariants
///
/// `sem` is an initialized semaphore; `data` is only accessed through a [`ReadGuard`] (shared) or a
/// [`WriteGuard`] (exclusive), which hold `sem` for read or for write.
#[pin_data]
pub(crate) struct RwSem<T> {
    #[pin]
    sem: Opaque<bindings::rw_semaphore>,
    #[pin]
    data: UnsafeCell<T>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the semaphore serializes access to `data`; moving the whole lock
// to another thread moves the `T` (so `T: Send`).
unsafe impl<T: Send> Send for RwSem<T> {}
// SAFETY: readers on several threads share `&T` (so `T: Sync`); a writer
// gets `&mut T` on any thread (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for RwSem<T> {}

impl<T> RwSem<T> {
    /// An initializer for a semaphore protecting `data`; use [`new_rwsem!`].
    pub(crate) fn new(
        data: impl PinInit<T>,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            data <- UnsafeCell::pin_init(data),
            _pin: PhantomPinned,
            // SAFETY: `slot` is valid, pinned memory for a semaphore while the
            // closure runs, and `name` and `key` live forever.
            sem <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_rwsem(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// Takes the semaphore for read, sleeping until no writer holds it.
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        // SAFETY: `sem` is initialized (type invariant).
        unsafe { bindings::down_read(self.sem.get()) };
        // INVARIANT: the semaphore is now held for read.
        Guard(self, NotThreadSafe)
    }

    /// Takes the semaphore for write, sleeping until nobody holds it.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        // SAFETY: `sem` is initialized (type invariant).
        unsafe { bindings::down_write(self.sem.get()) };
        // INVARIANT: the semaphore is now held for write.
        Guard(self, NotThreadSafe)
    }
}

/// Access to the data of a [`RwSem`], exclusive if `WRITE`.
///
/// # Invariants
///
/// The semaphore is held, for write if `WRITE`, by this task: a guard is not `Send`.
pub(crate) struct Guard<'a, T, const WRITE: bool>(&'a RwSem<T>, NotThreadSafe);

/// Shared access to the data of a [`RwSem`].
pub(crate) type ReadGuard<'a, T> = Guard<'a, T, false>;
/// Exclusive access to the data of a [`RwSem`].
pub(crate) type WriteGuard<'a, T> = Guard<'a, T, true>;

impl<T> WriteGuard<'_, T> {
    /// Leaves the semaphore held for write for the rest of this boot, for
    /// state that must not change any more.
    pub(crate) fn hold_forever(self) {
        core::mem::forget(self);
    }
}

impl<T, const WRITE: bool> Deref for Guard<'_, T, WRITE> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the semaphore is held (type invariant): for read, so no
        // writer has a `&mut T`; or for write, by this guard, borrowed shared.
        unsafe { &*self.0.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the semaphore is held for write (type invariant), and
        // `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.0.data.get() }
    }
}

impl<T, const WRITE: bool> Drop for Guard<'_, T, WRITE> {
    fn drop(&mut self) {
        let sem = self.0.sem.get();
        if WRITE {
            // SAFETY: this task holds the semaphore for write (type invariant).
            unsafe { bindings::up_write(sem) };
        } else {
            // SAFETY: this task holds the semaphore for read (type invariant).
            unsafe { bindings::up_read(sem) };
        }
    }
}
