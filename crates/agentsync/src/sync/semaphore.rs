//! A counting semaphore on one `i32` word: the number of free permits.
//!
//! Acquiring `n` is a compare-exchange loop that subtracts `n` when at least `n` are free;
//! otherwise the acquirer sleeps on the word while it still holds the value it saw. Releasing
//! adds permits and wakes every sleeper (each wants a different `n`, so waking only some could
//! strand a request the new permits satisfy).
//!
//! Fairness: none promised. Sleepers are woken together and race with newcomers (barging), so
//! a large request can wait behind a stream of small ones. This keeps release cheap and the
//! word protocol simple enough for Wasm code to share.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Acquire, Relaxed, Release},
};

/// `release` would push the count past `i32::MAX`; nothing was added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermitOverflow {
    /// Permits free when the release was attempted.
    pub available: i32,
    /// Permits the release tried to add.
    pub added: u32,
}

impl fmt::Display for PermitOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "releasing {} permits to a semaphore holding {} would exceed i32::MAX",
            self.added, self.available
        )
    }
}

impl std::error::Error for PermitOverflow {}

/// A counting semaphore that is one `i32` word.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`: the number of free permits. It may be
/// negative (a debt that releases pay first). Alignment 4.
///
/// A request for more than `i32::MAX` permits can never be granted: `try_acquire_many` says
/// `false`, and the waiting forms wait until their timeout (or forever).
///
/// ```
/// use agentsync::sync::Semaphore;
/// let permits = Semaphore::new(2);
/// assert!(permits.try_acquire_many(2));
/// assert!(!permits.try_acquire());
/// permits.release(1).unwrap();
/// permits.acquire().unwrap();
/// assert_eq!(permits.available(), 0);
/// ```
#[repr(transparent)]
pub struct Semaphore {
    permits: AtomicI32,
}

impl Semaphore {
    core::loom_const_fn! {
        /// A semaphore with `permits` free permits.
        pub fn new(permits: i32) -> Self {
            Semaphore {
                permits: AtomicI32::new(permits),
            }
        }
    }

    /// Views an initialised word in memory as a semaphore.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a`;
    /// - the word holds the permit count (any value is a valid count).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(transparent)` over `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Free permits right now (a snapshot).
    pub fn available(&self) -> i32 {
        self.permits.load(Relaxed)
    }

    /// Takes one permit if one is free.
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if `n` are free; all or nothing.
    #[inline]
    pub fn try_acquire_many(&self, n: u32) -> bool {
        self.try_take(n).is_ok()
    }

    /// Takes one permit, blocking while none is free.
    ///
    /// # Blocking
    /// Sleeps in the word's futex queue until a release.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn acquire(&self) -> Result<(), WaitError> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, blocking until `n` are free.
    ///
    /// # Blocking
    /// As [`acquire`](Self::acquire).
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn acquire_many(&self, n: u32) -> Result<(), WaitError> {
        core::block_timed(AcquireOp { semaphore: self, n }, None).map(|_| ())
    }

    /// [`acquire_many`](Self::acquire_many) for at most `timeout`; `Ok(false)` if it timed
    /// out (nothing taken).
    ///
    /// # Blocking
    /// As [`acquire`](Self::acquire), up to `timeout`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn acquire_many_timeout(&self, n: u32, timeout: Duration) -> Result<bool, WaitError> {
        let deadline = core::deadline_after(timeout);
        core::block_timed(AcquireOp { semaphore: self, n }, deadline).map(|taken| taken.is_some())
    }

    /// Takes `n` permits from an async task.
    ///
    /// ```
    /// let permits = agentsync::sync::Semaphore::new(3);
    /// futures_lite::future::block_on(permits.acquire_many_async(3));
    /// assert_eq!(permits.available(), 0);
    /// ```
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped future has taken nothing, and a wake-up it had received is passed
    /// to the next sleeper.
    pub fn acquire_many_async(&self, n: u32) -> impl Future<Output = ()> + Send + '_ {
        async move {
            core::acquire(AcquireOp { semaphore: self, n }, None).await;
        }
    }

    /// [`acquire_many_async`](Self::acquire_many_async) giving up after `timeout`; `false`
    /// if it timed out (nothing taken).
    ///
    /// # Cancel safety
    /// As [`acquire_many_async`](Self::acquire_many_async).
    pub fn acquire_many_async_timeout(
        &self,
        n: u32,
        timeout: Duration,
    ) -> impl Future<Output = bool> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        async move {
            core::acquire(AcquireOp { semaphore: self, n }, deadline)
                .await
                .is_some()
        }
    }

    /// Returns `n` permits and wakes the sleepers.
    ///
    /// # Errors
    /// [`PermitOverflow`] if the count would pass `i32::MAX`; nothing is added then.
    pub fn release(&self, n: u32) -> Result<(), PermitOverflow> {
        let mut available = self.permits.load(Relaxed);
        loop {
            let sum = i32::try_from(n)
                .ok()
                .and_then(|added| available.checked_add(added))
                .ok_or(PermitOverflow {
                    available,
                    added: n,
                })?;
            // Release: pairs with the Acquire of the acquirer that takes these permits.
            match self
                .permits
                .compare_exchange_weak(available, sum, Release, Relaxed)
            {
                Ok(_) => break,
                Err(now) => available = now,
            }
        }
        if n > 0 {
            futex::notify(&self.permits, usize::MAX);
        }
        Ok(())
    }

    /// Subtracts `n` if at least `n` are free; otherwise returns the count seen.
    #[inline]
    fn try_take(&self, n: u32) -> Result<(), i32> {
        let mut available = self.permits.load(Relaxed);
        loop {
            let Some(left) = i32::try_from(n)
                .ok()
                .and_then(|n| available.checked_sub(n))
                .filter(|left| *left >= 0)
            else {
                return Err(available);
            };
            // Acquire: pairs with the Release of `release`.
            match self
                .permits
                .compare_exchange_weak(available, left, Acquire, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => available = now,
            }
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .finish()
    }
}

/// One acquire of `n` permits.
struct AcquireOp<'a> {
    semaphore: &'a Semaphore,
    n: u32,
}

impl Attempt for AcquireOp<'_> {
    type Output = ();

    fn attempt(&mut self) -> Step<'_, ()> {
        match self.semaphore.try_take(self.n) {
            Ok(()) => Step::Done(()),
            Err(seen) => Step::Sleep {
                word: &self.semaphore.permits,
                expected: seen,
            },
        }
    }
}
