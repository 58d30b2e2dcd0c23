// SPDX-License-Identifier: GPL-2.0

//! Statics initialized in place, once, at run time.
//!
//! C's static locks work from the first instruction; Rust locks are pinned
//! objects made by an initializer at run time.  A [`StaticOnce`] holds one
//! in static memory, made on first use or at a chosen point, never dropped.

use core::{
    cell::UnsafeCell,
    mem::MaybeUninit, //
};
use kernel::{
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    }, //
};

/// The slot is empty.
const EMPTY: i32 = 0;
/// One task runs the initializer.
const BUSY: i32 = 1;
/// The value is initialized, for good.
const READY: i32 = 2;

/// A value initialized in place, once, in static memory.
///
/// # Invariants
///
/// When `state` is `READY`, `value` holds an initialized `T` that is never written or moved again.
/// When it is `BUSY`, only the task that moved it from `EMPTY` to `BUSY` accesses `value`.
pub(crate) struct StaticOnce<T> {
    state: Atomic<i32>,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: after initialization every task gets `&T` (so `T: Sync`); the
// initializer may run on any task and so may the value's users (`T: Send`).
unsafe impl<T: Send + Sync> Sync for StaticOnce<T> {}

impl<T> StaticOnce<T> {
    /// An empty slot, for a `static`.
    pub(crate) const fn new() -> Self {
        Self {
            state: Atomic::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if it is initialized.
    pub(crate) fn get(&'static self) -> Option<&'static T> {
        if self.state.load(Acquire) != READY {
            return None;
        }
        // SAFETY: `READY` (read with acquire ordering, pairing with the release store in `fill`)
        // means `value` is initialized and never changes again (type invariant).
        Some(unsafe { (*self.value.get()).assume_init_ref() })
    }

    /// Runs `init` on the slot, which this task claimed (moved from `EMPTY` to `BUSY`).
    fn fill<E>(&'static self, init: impl PinInit<T, E>) -> Result<&'static T, E> {
        let slot = self.value.get().cast::<T>();
        // SAFETY: this task moved `state` to `BUSY`, so only it accesses the
        // slot: static memory, valid for a `T`, never moved (so pinned).
        if let Err(e) = unsafe { pin_init::raw_try_init(slot, init) } {
            // The initializer left the slot uninitialized.
            self.state.store(EMPTY, Release);
            return Err(e);
        }
        // INVARIANT: the value is initialized; publishing it with release
        // ordering makes it visible to `get`.
        self.state.store(READY, Release);
        // SAFETY: just initialized, and never changed again.
        Ok(unsafe { &*slot })
    }

    /// Initializes the value with `init`; EBUSY if it is or is being
    /// initialized.  If `init` fails the slot stays empty.
    pub(crate) fn try_init(&'static self, init: impl PinInit<T, Error>) -> Result<&'static T> {
        if self.state.cmpxchg(EMPTY, BUSY, Acquire).is_err() {
            return Err(EBUSY);
        }
        self.fill(init)
    }

    /// The value, initialized with `init()` by the first caller.
    ///
    /// A caller that comes while another one initializes spins until it is
    /// done, so `init` must not sleep (initializing locks does not).
    pub(crate) fn get_or_init<I: PinInit<T>>(
        &'static self,
        init: impl FnOnce() -> I,
    ) -> &'static T {
        loop {
            if let Some(value) = self.get() {
                return value;
            }
            if self.state.cmpxchg(EMPTY, BUSY, Acquire).is_ok() {
                let Ok(value) = self.fill(init());
                return value;
            }
            core::hint::spin_loop();
        }
    }
}

#[kunit_tests(luo_rs_static_once)]
mod tests {
    use super::*;
    use kernel::{
        new_mutex,
        sync::Mutex, //
    };

    #[test]
    fn initialized_once_on_first_use() {
        static LOCK: StaticOnce<Mutex<u32>> = StaticOnce::new();
        assert!(LOCK.get().is_none());
        *LOCK.get_or_init(|| new_mutex!(7)).lock() += 1;
        // The second initializer does not run: the value stays.
        assert_eq!(*LOCK.get_or_init(|| new_mutex!(0)).lock(), 8);
        assert!(core::ptr::eq(
            LOCK.get().unwrap(),
            LOCK.get_or_init(|| new_mutex!(0))
        ));
        // Already initialized: the initializer is not even run.
        assert_eq!(LOCK.try_init(Err(ENOMEM)).err(), Some(EBUSY));
    }

    #[test]
    fn failed_init_leaves_it_empty() {
        static VALUE: StaticOnce<u32> = StaticOnce::new();
        // A `Result` is an initializer that fails with its error.
        assert_eq!(VALUE.try_init(Err(ENOMEM)).err(), Some(ENOMEM));
        assert!(VALUE.get().is_none());
        assert_eq!(VALUE.try_init(Ok(5)).copied(), Ok(5));
        assert_eq!(VALUE.get().copied(), Some(5));
    }
}
