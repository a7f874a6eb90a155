//! A condition variable on one `i32` word: a notification sequence number (Rust std's futex
//! condvar scheme).
//!
//! A waiter reads the sequence while holding the mutex, unlocks, and sleeps while the sequence
//! still has that value. A notifier bumps the sequence, then wakes one or all. A notify that
//! comes after the read and before the sleep changed the word, so the sleep does not start
//! (no lost wake-up). Like every condition variable, a return does not prove the condition:
//! wait in a loop that re-checks it.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::core::{self, Attempt, Step};
use super::mutex::MutexGuard;
use crate::futex::{self, agent, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Relaxed, Release},
};

/// A condition variable for [`Mutex`](super::Mutex), shared by threads and async tasks.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`: a wrapping count of notifications. Any value
/// is valid; zero for a fresh one. Alignment 4.
///
/// ```
/// use agentsync::sync::{Condvar, Mutex};
/// use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
///
/// let (lock, ready, flag) = (Mutex::new(), Condvar::new(), AtomicBool::new(false));
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let _guard = lock.lock().unwrap();
///         flag.store(true, Relaxed);
///         ready.notify_one();
///     });
///     let mut guard = lock.lock().unwrap();
///     while !flag.load(Relaxed) {
///         ready.wait(&mut guard).unwrap();
///     }
/// });
/// ```
#[repr(transparent)]
pub struct Condvar {
    sequence: AtomicI32,
}

impl Condvar {
    core::loom_const_fn! {
        /// A condition variable nobody waits on.
        pub fn new() -> Self {
            Condvar {
                sequence: AtomicI32::new(0),
            }
        }
    }

    /// Views a word in memory as a condition variable.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a` (any value is valid).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(transparent)` over `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Wakes the oldest waiter, if any; returns how many it woke (0 or 1).
    pub fn notify_one(&self) -> usize {
        // Release: a waiter that sees the new sequence also sees what came before.
        self.sequence.fetch_add(1, Release);
        futex::notify(&self.sequence, 1)
    }

    /// Wakes every waiter; returns how many it woke.
    pub fn notify_all(&self) -> usize {
        // Release: as in `notify_one`.
        self.sequence.fetch_add(1, Release);
        futex::notify(&self.sequence, usize::MAX)
    }

    /// Unlocks the guard's mutex, sleeps until notified, and locks it again.
    ///
    /// # Blocking
    /// Sleeps until a notify, then until the mutex is free.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if this thread may not block; the mutex stays locked.
    pub fn wait(&self, guard: &mut MutexGuard<'_>) -> Result<(), WaitError> {
        self.wait_inner(guard, None).map(|_| ())
    }

    /// As [`wait`](Self::wait), for at most `timeout` of sleeping; `Ok(false)` if it timed out.
    /// The mutex is locked again either way.
    ///
    /// # Blocking
    /// Sleeps until a notify or the timeout, then until the mutex is free.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if this thread may not block; the mutex stays locked.
    pub fn wait_timeout(
        &self,
        guard: &mut MutexGuard<'_>,
        timeout: Duration,
    ) -> Result<bool, WaitError> {
        self.wait_inner(guard, Some(timeout))
    }

    fn wait_inner(
        &self,
        guard: &mut MutexGuard<'_>,
        timeout: Option<Duration>,
    ) -> Result<bool, WaitError> {
        if !agent::can_block() {
            return Err(WaitError::CannotBlock);
        }
        let mutex = guard.mutex();
        let op = self.op();
        mutex.unlock_raw();
        let deadline = timeout.and_then(core::deadline_after);
        let woken = core::block_timed(op, deadline);
        // Relock whatever happened: the guard still claims the mutex. This thread may block
        // (checked above), so without a deadline `lock_contended` returns only with the lock.
        if !mutex.try_lock_raw() {
            let _ = mutex.lock_contended(None);
        }
        woken.map(|woken| woken.is_some())
    }

    /// Unlocks the guard's mutex, waits for a notify from an async task, and locks again.
    ///
    /// ```
    /// use agentsync::sync::{Condvar, Mutex};
    /// let (lock, cond) = (Mutex::new(), Condvar::new());
    /// futures_lite::future::block_on(async {
    ///     let guard = lock.lock_async().await;
    ///     let waiting = cond.wait_async(guard);
    ///     futures_lite::pin!(waiting);
    ///     assert!(futures_lite::future::poll_once(&mut waiting).await.is_none());
    ///     assert_eq!(cond.notify_one(), 1);
    ///     let _guard = waiting.await;
    /// });
    /// ```
    ///
    /// # Cancel safety
    /// The guard moves into the future, so dropping the future leaves the mutex unlocked (or
    /// still locked, if it was never polled: the guard unlocks on drop). A `notify_one` that
    /// had already chosen this waiter is passed to the next one, also when the future is
    /// dropped while it locks the mutex again (the next waiter may then return without a
    /// notify of its own, which a condition variable allows).
    pub fn wait_async<'a>(
        &'a self,
        guard: MutexGuard<'a>,
    ) -> impl Future<Output = MutexGuard<'a>> + Send + 'a {
        async move {
            let mutex = guard.mutex();
            let op = self.op();
            drop(guard);
            core::acquire(op, None).await;
            let pass_on = PassOn(Some(&self.sequence));
            let guard = mutex.lock_async().await;
            pass_on.disarm();
            guard
        }
    }

    /// As [`wait_async`](Self::wait_async), sleeping at most `timeout`; the flag is `false` if
    /// it timed out. The mutex is locked again either way.
    ///
    /// # Cancel safety
    /// As [`wait_async`](Self::wait_async).
    pub fn wait_async_timeout<'a>(
        &'a self,
        guard: MutexGuard<'a>,
        timeout: Duration,
    ) -> impl Future<Output = (MutexGuard<'a>, bool)> + Send + 'a {
        let deadline = core::deadline_after(timeout);
        async move {
            let mutex = guard.mutex();
            let op = self.op();
            drop(guard);
            let woken = core::acquire(op, deadline).await.is_some();
            let pass_on = PassOn(woken.then_some(&self.sequence));
            let guard = mutex.lock_async().await;
            pass_on.disarm();
            (guard, woken)
        }
    }

    /// Reads the sequence; must run while the mutex is held.
    fn op(&self) -> WaitOp<'_> {
        WaitOp {
            sequence: &self.sequence,
            seen: Some(self.sequence.load(Relaxed)),
        }
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

/// Wakes the next waiter on the sequence word when dropped armed: a wait that ended but whose
/// future was dropped before it locked the mutex again never reached its caller, so the
/// `notify_one` it used up is passed on.
struct PassOn<'a>(Option<&'a AtomicI32>);

impl PassOn<'_> {
    /// The caller gets the guard: nothing to pass on.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        if let Some(sequence) = self.0 {
            futex::notify(sequence, 1);
        }
    }
}

/// Sleep once on the sequence read under the mutex; any wake-up or change ends the wait.
struct WaitOp<'a> {
    sequence: &'a AtomicI32,
    /// The sequence read under the mutex; `None` after the one sleep.
    seen: Option<i32>,
}

impl Attempt for WaitOp<'_> {
    type Output = ();

    fn attempt(&mut self) -> Step<'_, ()> {
        match self.seen.take() {
            Some(seen) => Step::Sleep {
                word: self.sequence,
                expected: seen,
            },
            None => Step::Done(()),
        }
    }
}
