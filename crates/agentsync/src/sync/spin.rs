//! A spin lock on one `i32` word: a compare-exchange loop with exponential backoff
//! (the guide's first lock; test-and-test-and-set).
//!
//! It never sleeps in the futex, so it is the one primitive whose "blocking" form is allowed on
//! an agent that may not block (spinning is what such agents may do, like `Atomics.pause`
//! loops in JavaScript). Use it only for critical sections of a few instructions.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::core;
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Acquire, Relaxed, Release},
};

/// Free.
const UNLOCKED: i32 = 0;
/// Held.
const LOCKED: i32 = 1;

/// A lock that spins instead of sleeping: one `i32` word, `0` free, `1` held.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`: `0` unlocked, `1` locked. Alignment 4.
///
/// ```
/// use agentsync::sync::SpinLock;
/// let lock = SpinLock::new();
/// let guard = lock.lock();
/// assert!(lock.try_lock().is_none());
/// drop(guard);
/// assert!(lock.try_lock().is_some());
/// ```
#[repr(transparent)]
pub struct SpinLock {
    state: AtomicI32,
}

/// Proof that the [`SpinLock`] is held; unlocks on drop.
#[must_use = "the lock is released when the guard is dropped"]
pub struct SpinLockGuard<'a> {
    lock: &'a SpinLock,
}

impl SpinLock {
    core::loom_const_fn! {
        /// An unlocked spin lock.
        pub fn new() -> Self {
            SpinLock {
                state: AtomicI32::new(UNLOCKED),
            }
        }
    }

    /// Views an initialised word in memory as a spin lock.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a`;
    /// - the word holds `0` or `1` (a zeroed word is an unlocked spin lock).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(transparent)` over `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Whether the lock is held right now (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.load(Relaxed) == LOCKED
    }

    /// Takes the lock if it is free.
    #[inline]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_>> {
        // Acquire: pairs with the Release store in `unlock`.
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .ok()
            .map(|_| SpinLockGuard { lock: self })
    }

    /// Spins until the lock is taken.
    ///
    /// # Blocking
    /// Busy-waits (it never parks), so it also runs on agents that may not block.
    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_> {
        loop {
            // Without a deadline `lock_contended` only returns with the lock.
            if let Some(guard) = self.try_lock().or_else(|| self.lock_contended(None)) {
                return guard;
            }
        }
    }

    /// Spins for at most `timeout`; `None` if the lock stayed held.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<SpinLockGuard<'_>> {
        self.try_lock()
            .or_else(|| self.lock_contended(core::deadline_after(timeout)))
    }

    /// Takes the lock from an async task, yielding to the executor between tries.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is registered between polls.
    pub fn lock_async(&self) -> impl Future<Output = SpinLockGuard<'_>> + Send + '_ {
        YieldUntil(move || self.try_lock())
    }

    /// `Some(guard)` once taken; `None` if the deadline (if any) passed.
    #[cold]
    fn lock_contended(&self, deadline: Option<Instant>) -> Option<SpinLockGuard<'_>> {
        let mut backoff = Backoff::new();
        loop {
            // Test before test-and-set: wait for the line to say "free" without writing to it.
            // Any value but `UNLOCKED` counts as held (another agent may write anything).
            if self.state.load(Relaxed) == UNLOCKED {
                if let Some(guard) = self.try_lock() {
                    return Some(guard);
                }
            }
            // Checked on every miss, whatever the word holds, so a timed lock always returns.
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return None;
            }
            backoff.snooze();
        }
    }
}

impl Default for SpinLock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SpinLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinLock")
            .field("locked", &self.is_locked())
            .finish()
    }
}

impl Drop for SpinLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the Acquire of the next `try_lock`.
        self.lock.state.store(UNLOCKED, Release);
    }
}

impl fmt::Debug for SpinLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinLockGuard").finish_non_exhaustive()
    }
}

/// Polls `try_take` until it yields, waking itself at once after each miss (a cooperative spin).
struct YieldUntil<F>(F);

impl<T, F: FnMut() -> Option<T> + Unpin> Future for YieldUntil<F> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match (self.get_mut().0)() {
            Some(value) => Poll::Ready(value),
            None => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}
