//! A resettable event on one `i32` word: bit 0 is "set", the other bits count the sets.
//!
//! `set` turns the bit on and bumps the count in one compare-exchange, then wakes every
//! sleeper. A waiter returns once it sees the bit on, or a count different from the one it
//! first saw: so a `set` quickly followed by `reset` still releases everyone who was waiting
//! (no pulse is lost).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Acquire, Relaxed, Release},
};

/// Bit 0: the event is set.
const SET: i32 = 1;
/// Each `set` that found the event clear adds this (the count lives in bits 1..).
const ONE_SET: i32 = 2;

#[inline]
fn is_set(word: i32) -> bool {
    word & SET != 0
}

/// A manual-reset event: `set` releases all waiters until `reset`.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`: bit 0 set/clear; bits 1–31 a wrapping count of
/// sets. Zero is a clear event. Alignment 4.
///
/// ```
/// use agentsync::sync::Event;
/// let ready = Event::new();
/// assert!(!ready.is_set());
/// ready.set();
/// ready.wait().unwrap();
/// ready.reset();
/// assert_eq!(ready.wait_timeout(std::time::Duration::from_millis(1)), Ok(false));
/// ```
#[repr(transparent)]
pub struct Event {
    word: AtomicI32,
}

impl Event {
    core::loom_const_fn! {
        /// A clear event.
        pub fn new() -> Self {
            Event {
                word: AtomicI32::new(0),
            }
        }
    }

    /// Views an initialised word in memory as an event.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a` (any value is a valid event; zero is clear).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(transparent)` over `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Whether the event is set (with Acquire: what the setter wrote before is visible).
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set`.
        is_set(self.word.load(Acquire))
    }

    /// Sets the event and wakes every waiter. Returns `false` if it was already set.
    pub fn set(&self) -> bool {
        let mut word = self.word.load(Relaxed);
        loop {
            if is_set(word) {
                return false;
            }
            // Release: pairs with the Acquire loads of waiters.
            let next = word.wrapping_add(ONE_SET) | SET;
            match self
                .word
                .compare_exchange_weak(word, next, Release, Relaxed)
            {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        futex::notify(&self.word, usize::MAX);
        true
    }

    /// Clears the event. Waiters that were already released stay released.
    pub fn reset(&self) {
        self.word.fetch_and(!SET, Relaxed);
    }

    /// Waits until the event is set.
    ///
    /// # Blocking
    /// Sleeps until a `set`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if clear and this thread may not block.
    pub fn wait(&self) -> Result<(), WaitError> {
        core::block_timed(self.op(), None).map(|_| ())
    }

    /// Waits at most `timeout`; `Ok(false)` if it timed out.
    ///
    /// # Blocking
    /// Sleeps until a `set` or the timeout.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if clear and this thread may not block.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, WaitError> {
        core::block_timed(self.op(), core::deadline_after(timeout)).map(|set| set.is_some())
    }

    /// Waits from an async task.
    ///
    /// # Cancel safety
    /// Cancel-safe: waiting consumes nothing, and `set` wakes every waiter.
    pub fn wait_async(&self) -> impl Future<Output = ()> + Send + '_ {
        let op = self.op();
        async move {
            core::acquire(op, None).await;
        }
    }

    /// [`wait_async`](Self::wait_async) giving up after `timeout` (`false`).
    ///
    /// # Cancel safety
    /// As [`wait_async`](Self::wait_async).
    pub fn wait_async_timeout(&self, timeout: Duration) -> impl Future<Output = bool> + Send + '_ {
        let op = self.op();
        let deadline = core::deadline_after(timeout);
        async move { core::acquire(op, deadline).await.is_some() }
    }

    fn op(&self) -> WaitOp<'_> {
        WaitOp {
            event: self,
            first_seen: None,
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

struct WaitOp<'a> {
    event: &'a Event,
    /// The word at the first attempt: a different count later means a `set` happened.
    first_seen: Option<i32>,
}

impl Attempt for WaitOp<'_> {
    type Output = ();

    fn attempt(&mut self) -> Step<'_, ()> {
        // Acquire: pairs with the Release in `set`.
        let word = self.event.word.load(Acquire);
        let first = *self.first_seen.get_or_insert(word);
        if is_set(word) || (word & !SET) != (first & !SET) {
            return Step::Done(());
        }
        Step::Sleep {
            word: &self.event.word,
            expected: word,
        }
    }
}
