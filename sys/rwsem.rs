// SPDX-License-Identifier: GPL-2.0

//! Read-write semaphores for global state.
//!
//! C header: [`include/linux/rwsem.h`](srctree/include/linux/rwsem.h).
//!
//! The kernel crate has no `rw_semaphore` abstraction; LUO needs one for the
//! registration lock and the serialization lock, which are taken for read
//! on every ioctl and for write on registration or reboot.

use core::{cell::UnsafeCell, marker::PhantomData, ops::Deref, ops::DerefMut};
use kernel::{bindings, prelude::*, sync::LockClassKey, types::Opaque};

/// A `struct rw_semaphore` protecting a `T`, meant for `static` items.
///
/// # Invariants
///
/// After [`RwSem::init`] `sem` is an initialized semaphore; `data` is only
/// accessed through the guards, which hold it for read (shared) or write
/// (exclusive).
pub(crate) struct RwSem<T> {
    sem: Opaque<bindings::rw_semaphore>,
    data: UnsafeCell<T>,
}

// SAFETY: the semaphore serializes access to `data`.
unsafe impl<T: Send> Send for RwSem<T> {}
// SAFETY: readers share `&T` (so `T: Sync`), a writer gets `&mut T` from any
// thread (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for RwSem<T> {}

impl<T> RwSem<T> {
    /// A semaphore still to be initialized with [`RwSem::init`].
    ///
    /// # Safety
    ///
    /// [`RwSem::init`] must be called once before any other method.
    pub(crate) const unsafe fn new_uninit(data: T) -> Self {
        Self {
            sem: Opaque::uninit(),
            data: UnsafeCell::new(data),
        }
    }

    /// Initializes the semaphore (`init_rwsem`).
    ///
    /// # Safety
    ///
    /// Called exactly once, before any other use and while nothing else can
    /// touch `self`.
    pub(crate) unsafe fn init(&'static self, name: &'static CStr, key: Pin<&'static LockClassKey>) {
        // SAFETY: `sem` is valid memory for a semaphore that nobody uses yet
        // (safety requirements); `name` and `key` live forever.
        unsafe { bindings::__init_rwsem(self.sem.get(), name.as_char_ptr(), key.as_ptr()) };
    }

    /// Takes the semaphore for read.
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        // SAFETY: `sem` is initialized (type invariant).
        unsafe { bindings::down_read(self.sem.get()) };
        ReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the semaphore for write.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        // SAFETY: `sem` is initialized (type invariant).
        unsafe { bindings::down_write(self.sem.get()) };
        WriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

/// Shared access to the data of a [`RwSem`].
///
/// # Invariants
///
/// The semaphore is held for read, by this task: a guard is not `Send`.
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a RwSem<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the semaphore is held for read, so no writer exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: held for read (type invariant).
        unsafe { bindings::up_read(self.lock.sem.get()) };
    }
}

/// Exclusive access to the data of a [`RwSem`].
///
/// # Invariants
///
/// The semaphore is held for write, by this task: a guard is not `Send`.
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a RwSem<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> WriteGuard<'_, T> {
    /// Leaves the semaphore held for write for the rest of this boot.
    ///
    /// Used once reboot serialization succeeded: from then on every session
    /// operation blocks, as in C where the semaphore is never released.
    pub(crate) fn hold_forever(self) {
        core::mem::forget(self);
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the semaphore is held for write.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the semaphore is held for write: this is the only access.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: held for write (type invariant).
        unsafe { bindings::up_write(self.lock.sem.get()) };
    }
}
