//! A one-shot handoff of one `i32`: publish once, any number of waiters receive it.
//!
//! The publisher claims the state word (`EMPTY → WRITING`), stores the value, then marks it
//! `PUBLISHED` with Release and notifies every sleeper. A waiter sleeps while the state is not
//! `PUBLISHED`, and reads the value after an Acquire load of the state.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Acquire, Relaxed, Release},
};

/// Nothing published yet.
const EMPTY: i32 = 0;
/// A publisher claimed the handoff and is storing the value.
const WRITING: i32 = 1;
/// The value is in place and final.
const PUBLISHED: i32 = 2;

/// The handoff already carried a value; the rejected value is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishError(pub i32);

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handoff already published; value {} not sent", self.0)
    }
}

impl std::error::Error for PublishError {}

/// A write-once slot for one `i32`, with waiting readers.
///
/// # Layout
/// `#[repr(C)]`, two `AtomicI32` words, alignment 4, size 8:
///
/// | offset | word | meaning |
/// |---|---|---|
/// | 0 | state | `0` empty, `1` being written, `2` published |
/// | 4 | value | the published value (meaningful once state is `2`) |
///
/// ```
/// use agentsync::sync::Handoff;
/// let slot = Handoff::new();
/// assert_eq!(slot.try_get(), None);
/// std::thread::scope(|s| {
///     s.spawn(|| slot.publish(42).unwrap());
///     assert_eq!(slot.wait(), Ok(42));
/// });
/// assert!(slot.publish(7).is_err());
/// ```
#[repr(C)]
pub struct Handoff {
    state: AtomicI32,
    value: AtomicI32,
}

impl Handoff {
    core::loom_const_fn! {
        /// An empty handoff.
        pub fn new() -> Self {
            Handoff {
                state: AtomicI32::new(EMPTY),
                value: AtomicI32::new(0),
            }
        }
    }

    /// Views two initialised words in memory as a handoff.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 8 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a`;
    /// - the state word holds `0`, `1` or `2` per the layout (zeroed memory is an empty
    ///   handoff).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(C)` of two `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Publishes `value` and wakes every waiter.
    ///
    /// # Errors
    /// [`PublishError`] with `value` if something was already published.
    pub fn publish(&self, value: i32) -> Result<(), PublishError> {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Relaxed, Relaxed)
            .is_err()
        {
            return Err(PublishError(value));
        }
        self.value.store(value, Relaxed);
        // Release: pairs with the Acquire load in `try_get`.
        self.state.store(PUBLISHED, Release);
        futex::notify(&self.state, usize::MAX);
        Ok(())
    }

    /// The value, if published.
    #[inline]
    pub fn try_get(&self) -> Option<i32> {
        // Acquire: pairs with the Release store in `publish`.
        (self.state.load(Acquire) == PUBLISHED).then(|| self.value.load(Relaxed))
    }

    /// Waits for the value.
    ///
    /// # Blocking
    /// Sleeps until published.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if unpublished and this thread may not block.
    pub fn wait(&self) -> Result<i32, WaitError> {
        core::block_timed(GetOp(self), None).map(|value| value.unwrap_or_default())
    }

    /// Waits at most `timeout` for the value; `Ok(None)` if it timed out.
    ///
    /// # Blocking
    /// Sleeps until published or `timeout`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if unpublished and this thread may not block.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<i32>, WaitError> {
        core::block_timed(GetOp(self), core::deadline_after(timeout))
    }

    /// Waits for the value from an async task.
    ///
    /// # Cancel safety
    /// Cancel-safe: waiting consumes nothing, and publish wakes every waiter.
    pub fn wait_async(&self) -> impl Future<Output = i32> + Send + '_ {
        async move { core::acquire(GetOp(self), None).await.unwrap_or_default() }
    }

    /// [`wait_async`](Self::wait_async) giving up after `timeout` (`None`).
    ///
    /// # Cancel safety
    /// As [`wait_async`](Self::wait_async).
    pub fn wait_async_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<i32>> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        core::acquire(GetOp(self), deadline)
    }
}

impl Default for Handoff {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Handoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handoff")
            .field("value", &self.try_get())
            .finish()
    }
}

struct GetOp<'a>(&'a Handoff);

impl Attempt for GetOp<'_> {
    type Output = i32;

    fn attempt(&mut self) -> Step<'_, i32> {
        // Acquire: pairs with the Release store in `publish`.
        match self.0.state.load(Acquire) {
            PUBLISHED => Step::Done(self.0.value.load(Relaxed)),
            seen => Step::Sleep {
                word: &self.0.state,
                expected: seen,
            },
        }
    }
}
