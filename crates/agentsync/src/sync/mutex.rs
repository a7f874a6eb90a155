//! A mutex on one `i32` word: the 0 / 1 / 2 futex protocol (Drepper's "Futexes Are Tricky",
//! mutex 2, as Rust std uses it).
//!
//! | word | meaning |
//! |---|---|
//! | `0` | unlocked |
//! | `1` | locked, nobody sleeping |
//! | `2` | locked, somebody may be sleeping: unlock must notify |
//!
//! Lock is one compare-exchange `0 → 1`; unlock is one swap to `0`, plus a notify of one
//! waiter only if the swap saw `2`. A contended locker backs off for a bounded number of
//! rounds while the word says `1` (a few `pause`s, then yields: a thread yields its core, a
//! task yields to its executor), then swaps in `2` and sleeps on the word while it holds `2`.
//! Threads and async tasks sleep in the same FIFO queue. Wasm code can share the lock by
//! running the same protocol on the word.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use super::backoff::{Backoff, Round};
use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::spin::Policy;

/// Free.
const UNLOCKED: i32 = 0;
/// Held, and no one is known to be sleeping.
const LOCKED: i32 = 1;
/// Held, and someone may be sleeping on the word: unlock notifies one.
const CONTENDED: i32 = 2;

/// A mutual-exclusion lock that is one `i32` word, usable from threads and async tasks at once.
///
/// It guards no data itself: it is a word that can live in shared memory. For a `Mutex<T>`
/// with data, enable the `lock_api` feature and use `agentsync::Mutex<T>`. There is no
/// poisoning: a guard dropped by a panic unlocks normally.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`: `0` unlocked, `1` locked, `2` locked with
/// possible sleepers. Alignment 4.
///
/// ```
/// use agentsync::sync::Mutex;
///
/// let lock = Mutex::new();
/// let guard = lock.lock().unwrap();
/// assert!(lock.is_locked());
/// assert!(lock.try_lock().is_none());
/// drop(guard);
/// assert!(lock.try_lock().is_some());
/// ```
#[repr(transparent)]
pub struct Mutex {
    state: AtomicI32,
}

/// Proof that the [`Mutex`] is held; unlocks on drop.
#[must_use = "the mutex unlocks when the guard is dropped"]
pub struct MutexGuard<'a> {
    mutex: &'a Mutex,
}

impl Mutex {
    core::loom_const_fn! {
        /// An unlocked mutex.
        pub fn new() -> Self {
            Mutex {
                state: AtomicI32::new(UNLOCKED),
            }
        }
    }

    /// Views an initialised word in memory (a `SharedMemory`, a Wasm memory) as a mutex.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and are only accessed
    ///   atomically during `'a`;
    /// - the word holds `0`, `1` or `2` (a zeroed word is an unlocked mutex).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `Mutex` is `repr(transparent)` over `AtomicI32`, whose every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Whether the mutex is held right now (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.load(Relaxed) != UNLOCKED
    }

    /// Locks if free, without waiting.
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_>> {
        self.try_lock_raw().then(|| MutexGuard { mutex: self })
    }

    /// Locks, blocking the thread while another holder has it.
    ///
    /// # Blocking
    /// Sleeps in the word's futex queue until an unlock notifies it.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if the lock is held and this thread may not block.
    #[inline]
    pub fn lock(&self) -> Result<MutexGuard<'_>, WaitError> {
        if self.try_lock_raw() {
            return Ok(MutexGuard { mutex: self });
        }
        self.lock_contended(None)?;
        Ok(MutexGuard { mutex: self })
    }

    /// Locks, blocking for at most `timeout`. `Ok(None)` if it timed out.
    ///
    /// # Blocking
    /// As [`lock`](Self::lock), up to `timeout`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if the lock is held and this thread may not block.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<MutexGuard<'_>>, WaitError> {
        if self.try_lock_raw() {
            return Ok(Some(MutexGuard { mutex: self }));
        }
        let locked = self.lock_contended(core::deadline_after(timeout))?;
        Ok(locked.then(|| MutexGuard { mutex: self }))
    }

    /// Locks asynchronously: the task sleeps in the same queue as blocking lockers.
    ///
    /// ```
    /// let lock = agentsync::sync::Mutex::new();
    /// let guard = futures_lite::future::block_on(lock.lock_async());
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// ```
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping the future before it resolves leaves the mutex untouched and, if
    /// an unlock had already woken this task, passes the wake-up to the next waiter.
    pub fn lock_async(&self) -> impl Future<Output = MutexGuard<'_>> + Send + '_ {
        async move {
            if !self.try_lock_raw() {
                // Without a deadline this resolves only once the lock is ours.
                core::acquire(self.lock_op(), None).await;
            }
            MutexGuard { mutex: self }
        }
    }

    /// [`lock_async`](Self::lock_async) giving up after `timeout` (`None` if it timed out).
    ///
    /// # Cancel safety
    /// As [`lock_async`](Self::lock_async).
    pub fn lock_async_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<MutexGuard<'_>>> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        async move {
            if self.try_lock_raw() {
                return Some(MutexGuard { mutex: self });
            }
            let locked = core::acquire(self.lock_op(), deadline).await;
            locked.map(|()| MutexGuard { mutex: self })
        }
    }

    /// Unlocks a mutex that the caller locked and whose guard it forgot (or that another
    /// agent, such as Wasm code, locked).
    ///
    /// # Safety
    /// - the mutex is locked, and the caller is entitled to release that lock: no guard for it
    ///   will be dropped afterwards, and no data it protects is still being accessed.
    pub unsafe fn force_unlock(&self) {
        self.unlock_raw();
    }

    #[inline]
    pub(crate) fn try_lock_raw(&self) -> bool {
        // Acquire: pairs with the Release swap in `unlock_raw`.
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    #[inline]
    pub(crate) fn unlock_raw(&self) {
        // Release: pairs with the Acquire of the next locker.
        if self.state.swap(UNLOCKED, Release) == CONTENDED {
            self.wake();
        }
    }

    #[cold]
    fn wake(&self) {
        futex::notify(&self.state, 1);
    }

    /// A contended acquire.
    fn lock_op(&self) -> LockOp<'_> {
        LockOp {
            mutex: self,
            slept: false,
            backoff: Backoff::new(),
        }
    }

    /// `Ok(true)` locked, `Ok(false)` timed out.
    #[cold]
    pub(crate) fn lock_contended(&self, deadline: Option<Instant>) -> Result<bool, WaitError> {
        core::block_timed(self.lock_op(), deadline).map(|locked| locked.is_some())
    }
}

impl Default for Mutex {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Mutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("state", &self.state.load(Relaxed))
            .finish()
    }
}

/// One contended lock: back off while the word says `1`, then take the word with `2` and
/// sleep while it holds `2`.
struct LockOp<'a> {
    mutex: &'a Mutex,
    /// Has slept at least once: the word must now be taken with `2`.
    slept: bool,
    /// The backoff before each sleep (see `backoff.rs` for its schedule and measurements).
    backoff: Backoff,
}

impl Attempt for LockOp<'_> {
    type Output = ();
    const SPIN: Policy = Policy::Adaptive;

    fn attempt(&mut self) -> Step<'_, ()> {
        let state = &self.mutex.state;
        // Having slept, others may sleep too: take the word with 2 so that our unlock wakes
        // them. Before any sleep, 1 is enough: whoever sleeps later swaps in 2 itself.
        let take_with = if self.slept { CONTENDED } else { LOCKED };
        let mut seen = state.load(Relaxed);
        loop {
            match seen {
                // Acquire: pairs with the Release swap of the unlocker. Losing the race only
                // means another locker got in: look again rather than sleep at once.
                UNLOCKED => match state.compare_exchange_weak(seen, take_with, Acquire, Relaxed) {
                    Ok(_) => return Step::Done(()),
                    Err(now) => seen = now,
                },
                LOCKED => match self.backoff.next() {
                    Round::Spun => seen = state.load(Relaxed),
                    Round::Yield => return Step::Snooze,
                    Round::Done => break,
                },
                _ => break,
            }
        }
        // About to sleep: hold the word at 2 so that the holder's unlock notifies. Acquire
        // pairs with the unlocker's Release, in case the swap finds the word free.
        if seen != CONTENDED && state.swap(CONTENDED, Acquire) == UNLOCKED {
            return Step::Done(());
        }
        self.slept = true;
        self.backoff.reset();
        Step::Sleep {
            word: state,
            expected: CONTENDED,
        }
    }
}

impl<'a> MutexGuard<'a> {
    /// The mutex this guard holds.
    pub fn mutex(&self) -> &'a Mutex {
        self.mutex
    }

    /// Keeps the mutex locked past the guard; unlock later with [`Mutex::force_unlock`].
    pub fn leak(self) -> &'a Mutex {
        let mutex = self.mutex;
        std::mem::forget(self);
        mutex
    }
}

impl Drop for MutexGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.unlock_raw();
    }
}

impl fmt::Debug for MutexGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexGuard").finish_non_exhaustive()
    }
}
