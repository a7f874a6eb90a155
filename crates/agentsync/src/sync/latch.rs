//! A countdown latch on one `i32` word, which is also a wait group.
//!
//! The word is the number of outstanding arrivals. `count_down` subtracts one and, when that
//! reaches zero, wakes every sleeper; `add` raises the count again (wait-group style). Waiters
//! sleep on the word while it holds the non-zero value they saw.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{AcqRel, Acquire, Relaxed},
};

/// A countdown latch: waiters are released when the count reaches zero.
///
/// Used as a [`WaitGroup`]: `add(n)` before starting `n` jobs, `done()` at the end of each,
/// `wait()` for all of them. A count at zero releases waiters immediately; counting below zero
/// is reported and changes nothing.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`: the outstanding count. Alignment 4.
///
/// ```
/// use agentsync::sync::Latch;
/// let jobs = Latch::new(2);
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| jobs.count_down());
///     }
///     jobs.wait().unwrap();
/// });
/// assert_eq!(jobs.count(), 0);
/// ```
#[repr(transparent)]
pub struct Latch {
    count: AtomicI32,
}

/// A [`Latch`] used as Go's `sync.WaitGroup`: `add`, `done`, `wait`.
pub type WaitGroup = Latch;

impl Latch {
    core::loom_const_fn! {
        /// A latch waiting for `count` arrivals.
        pub fn new(count: i32) -> Self {
            Latch {
                count: AtomicI32::new(count),
            }
        }
    }

    /// Views an initialised word in memory as a latch.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a` (the word is the count; zero is an open latch).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(transparent)` over `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Outstanding arrivals right now (a snapshot).
    pub fn count(&self) -> i32 {
        self.count.load(Relaxed)
    }

    /// Raises the count by `n` (a wait group's `Add`). Returns `false`, changing nothing, if
    /// that would overflow.
    pub fn add(&self, n: i32) -> bool {
        self.count
            .fetch_update(Relaxed, Relaxed, |count| count.checked_add(n))
            .is_ok()
    }

    /// One arrival: lowers the count, waking everyone when it reaches zero. Returns `false`,
    /// changing nothing, if the count was already zero or below.
    pub fn count_down(&self) -> bool {
        // AcqRel: Release publishes this arrival's writes to the waiters (paired with their
        // Acquire loads); Acquire lets the last arrival see the others'.
        let previous = self
            .count
            .fetch_update(AcqRel, Acquire, |count| (count > 0).then(|| count - 1));
        match previous {
            Ok(1) => {
                futex::notify(&self.count, usize::MAX);
                true
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// The wait group's name for [`count_down`](Self::count_down).
    pub fn done(&self) -> bool {
        self.count_down()
    }

    /// Whether the count is zero, without waiting.
    pub fn try_wait(&self) -> bool {
        // Acquire: pairs with the AcqRel of `count_down`.
        self.count.load(Acquire) <= 0
    }

    /// Waits for the count to reach zero.
    ///
    /// # Blocking
    /// Sleeps until the last `count_down`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn wait(&self) -> Result<(), WaitError> {
        core::block_timed(WaitOp(self), None).map(|_| ())
    }

    /// Waits at most `timeout`; `Ok(false)` if it timed out.
    ///
    /// # Blocking
    /// Sleeps until the last `count_down` or the timeout.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, WaitError> {
        core::block_timed(WaitOp(self), core::deadline_after(timeout)).map(|done| done.is_some())
    }

    /// Waits from an async task.
    ///
    /// # Cancel safety
    /// Cancel-safe: waiting consumes nothing, and the last arrival wakes everyone.
    pub fn wait_async(&self) -> impl Future<Output = ()> + Send + '_ {
        async move {
            core::acquire(WaitOp(self), None).await;
        }
    }

    /// [`wait_async`](Self::wait_async) giving up after `timeout` (`false`).
    ///
    /// # Cancel safety
    /// As [`wait_async`](Self::wait_async).
    pub fn wait_async_timeout(&self, timeout: Duration) -> impl Future<Output = bool> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        async move { core::acquire(WaitOp(self), deadline).await.is_some() }
    }
}

impl fmt::Debug for Latch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latch")
            .field("count", &self.count())
            .finish()
    }
}

struct WaitOp<'a>(&'a Latch);

impl Attempt for WaitOp<'_> {
    type Output = ();

    fn attempt(&mut self) -> Step<'_, ()> {
        // Acquire: pairs with the AcqRel of `count_down`.
        match self.0.count.load(Acquire) {
            count if count <= 0 => Step::Done(()),
            count => Step::Sleep {
                word: &self.0.count,
                expected: count,
            },
        }
    }
}
