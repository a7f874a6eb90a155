//! The `lock_api` raw traits for [`Mutex`] and [`RwLock`], so that `lock_api` supplies
//! `Mutex<T>` / `RwLock<T>` with data and guard types.
//!
//! `lock_api`'s `lock` has no error channel. On an agent that may not block, a `lock` that
//! would have to sleep therefore panics with the `Atomics.wait` error message instead of
//! hanging; `try_lock` and the timed forms work there (the timed forms report `false`).

use std::time::{Duration, Instant};

use super::{Mutex, RwLock};
use crate::futex::WaitError;

/// Panics with the typed error's message: `lock_api`'s `lock` cannot return it.
#[cold]
#[track_caller]
fn cannot_block(error: WaitError) -> ! {
    panic!("{error}")
}

// SAFETY:
// - `try_lock` and `lock` return only with the lock held (a successful `0 → 1`, or a swap that
//   saw `0`), and the Acquire/Release pairs of the word order the critical sections;
// - `unlock` is called only by the holder (the trait's own contract), and releases with a
//   Release swap.
unsafe impl lock_api::RawMutex for Mutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Mutex = Mutex::new();
    type GuardMarker = lock_api::GuardSend;

    /// # Panics
    /// If the lock is held and this thread may not block (see the module docs).
    #[inline]
    fn lock(&self) {
        if !self.try_lock_raw() {
            if let Err(error) = self.lock_contended(None) {
                cannot_block(error);
            }
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.try_lock_raw()
    }

    #[inline]
    unsafe fn unlock(&self) {
        self.unlock_raw();
    }

    fn is_locked(&self) -> bool {
        Mutex::is_locked(self)
    }
}

// SAFETY: the timed forms return `true` only with the lock held, as `lock` does.
unsafe impl lock_api::RawMutexTimed for Mutex {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, timeout: Duration) -> bool {
        self.try_lock_raw()
            || matches!(
                self.lock_contended(Instant::now().checked_add(timeout)),
                Ok(true)
            )
    }

    fn try_lock_until(&self, deadline: Instant) -> bool {
        self.try_lock_raw() || matches!(self.lock_contended(Some(deadline)), Ok(true))
    }
}

// SAFETY:
// - shared locks only coexist with shared locks: a reader enters only by adding one to a word
//   without the write-locked bit, a writer only by setting that bit on a word with no readers;
// - every entry is an Acquire compare-exchange and every exit a Release, ordering the sections;
// - unlocks are called only by holders (the trait's contract).
unsafe impl lock_api::RawRwLock for RwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RwLock = RwLock::new();
    type GuardMarker = lock_api::GuardSend;

    /// # Panics
    /// If the lock must be waited for and this thread may not block.
    fn lock_shared(&self) {
        if let Err(error) = self.read_timeout_raw(None) {
            cannot_block(error);
        }
    }

    fn try_lock_shared(&self) -> bool {
        self.try_read_raw()
    }

    unsafe fn unlock_shared(&self) {
        self.unlock_read_raw();
    }

    /// # Panics
    /// If the lock must be waited for and this thread may not block.
    fn lock_exclusive(&self) {
        if let Err(error) = self.write_timeout_raw(None) {
            cannot_block(error);
        }
    }

    fn try_lock_exclusive(&self) -> bool {
        self.try_write_raw()
    }

    unsafe fn unlock_exclusive(&self) {
        self.unlock_write_raw();
    }
}
