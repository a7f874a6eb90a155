//! A reader-writer lock on one `i32` word, writer-preferring.
//!
//! The word packs the reader count, a write-locked bit, a writer-waiting bit and a parked bit.
//! A reader enters by adding one, unless the lock is write-locked or a writer waits. A writer
//! enters when there are no readers and no writer, clearing the writer-waiting bit. Anyone who
//! must wait first backs off for a few rounds while nobody sleeps (pauses, then yields; see
//! `backoff.rs`: measured, this halved the time of a read-mostly 4-thread run and brought it
//! level with parking_lot's `RwLock`), then sets the parked bit (and a writer the
//! writer-waiting bit) in the same word, and sleeps while the word holds that value. Whoever
//! clears the parked bit wakes every sleeper; they race again, and writers that lose set
//! writer-waiting again.
//!
//! Policy: a waiting writer stops new readers (writer preference), so a stream of readers
//! cannot starve writers; woken sleepers race, so there is no FIFO order among them.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::backoff::{Backoff, Round};
use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::spin::Policy;

/// Bits 0–28: how many readers hold the lock.
const READERS: i32 = (1 << 29) - 1;
/// Bit 29: a writer holds the lock.
const WRITE_LOCKED: i32 = 1 << 29;
/// Bit 30: a writer is waiting; new readers hold back.
const WRITER_WAITING: i32 = 1 << 30;
/// Bit 31: somebody sleeps on the word; whoever clears this bit must wake everyone.
const PARKED: i32 = i32::MIN;

#[inline]
fn readers(state: i32) -> i32 {
    state & READERS
}

#[inline]
fn may_read(state: i32) -> bool {
    state & (WRITE_LOCKED | WRITER_WAITING) == 0 && readers(state) < READERS
}

#[inline]
fn may_write(state: i32) -> bool {
    state & (WRITE_LOCKED | READERS) == 0
}

/// A reader-writer lock that is one `i32` word, usable from threads and async tasks at once.
///
/// Like [`Mutex`](super::Mutex) it guards no data; enable the `lock_api` feature for
/// `agentsync::RwLock<T>`. No poisoning.
///
/// # Layout
/// `#[repr(transparent)]` over one `AtomicI32`, alignment 4:
///
/// | bits | meaning |
/// |---|---|
/// | 0–28 | readers holding the lock |
/// | 29 | a writer holds the lock |
/// | 30 | a writer waits (new readers hold back) |
/// | 31 | somebody sleeps on the word (unlocking must wake them) |
///
/// ```
/// use agentsync::sync::RwLock;
/// let lock = RwLock::new();
/// let a = lock.read().unwrap();
/// let b = lock.try_read().unwrap();
/// assert!(lock.try_write().is_none());
/// drop((a, b));
/// let w = lock.write().unwrap();
/// assert!(lock.try_read().is_none());
/// drop(w);
/// ```
#[repr(transparent)]
pub struct RwLock {
    state: AtomicI32,
}

/// Shared access to a [`RwLock`]; released on drop.
#[must_use = "the read lock is released when the guard is dropped"]
pub struct RwLockReadGuard<'a> {
    lock: &'a RwLock,
}

/// Exclusive access to a [`RwLock`]; released on drop.
#[must_use = "the write lock is released when the guard is dropped"]
pub struct RwLockWriteGuard<'a> {
    lock: &'a RwLock,
}

impl RwLock {
    core::loom_const_fn! {
        /// An unlocked reader-writer lock.
        pub fn new() -> Self {
            RwLock {
                state: AtomicI32::new(0),
            }
        }
    }

    /// Views an initialised word in memory as a reader-writer lock.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 4 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a`;
    /// - the word follows the layout (zero is unlocked).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(transparent)` over `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Takes a read lock if no writer holds or waits for the lock.
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_>> {
        self.try_read_raw().then(|| RwLockReadGuard { lock: self })
    }

    /// Takes the write lock if nobody holds the lock.
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_>> {
        self.try_write_raw()
            .then(|| RwLockWriteGuard { lock: self })
    }

    /// Takes a read lock, blocking while a writer holds or waits for it.
    ///
    /// # Blocking
    /// Sleeps on the word until an unlock wakes it.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn read(&self) -> Result<RwLockReadGuard<'_>, WaitError> {
        self.read_timeout_raw(None)?;
        Ok(RwLockReadGuard { lock: self })
    }

    /// [`read`](Self::read) for at most `timeout`; `Ok(None)` if it timed out.
    ///
    /// # Blocking
    /// As [`read`](Self::read), up to `timeout`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn read_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<RwLockReadGuard<'_>>, WaitError> {
        let read = self.read_timeout_raw(core::deadline_after(timeout))?;
        Ok(read.then(|| RwLockReadGuard { lock: self }))
    }

    /// Takes the write lock, blocking while anyone holds it.
    ///
    /// # Blocking
    /// Sleeps on the word until an unlock wakes it.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn write(&self) -> Result<RwLockWriteGuard<'_>, WaitError> {
        self.write_timeout_raw(None)?;
        Ok(RwLockWriteGuard { lock: self })
    }

    /// [`write`](Self::write) for at most `timeout`; `Ok(None)` if it timed out.
    ///
    /// # Blocking
    /// As [`write`](Self::write), up to `timeout`.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn write_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<RwLockWriteGuard<'_>>, WaitError> {
        let written = self.write_timeout_raw(core::deadline_after(timeout))?;
        Ok(written.then(|| RwLockWriteGuard { lock: self }))
    }

    /// Takes a read lock from an async task.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped future holds nothing, and a wake-up it received is passed on.
    pub fn read_async(&self) -> impl Future<Output = RwLockReadGuard<'_>> + Send + '_ {
        async move {
            core::acquire(ReadOp::new(self), None).await;
            RwLockReadGuard { lock: self }
        }
    }

    /// Takes the write lock from an async task.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped future holds nothing; if it had announced itself as a waiting
    /// writer it withdraws that and wakes the readers it held back.
    pub fn write_async(&self) -> impl Future<Output = RwLockWriteGuard<'_>> + Send + '_ {
        async move {
            core::acquire(self.write_op(), None).await;
            RwLockWriteGuard { lock: self }
        }
    }

    /// [`read_async`](Self::read_async) giving up after `timeout` (`None`).
    ///
    /// # Cancel safety
    /// As [`read_async`](Self::read_async).
    pub fn read_async_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<RwLockReadGuard<'_>>> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        async move {
            let read = core::acquire(ReadOp::new(self), deadline).await;
            read.map(|()| RwLockReadGuard { lock: self })
        }
    }

    /// [`write_async`](Self::write_async) giving up after `timeout` (`None`).
    ///
    /// # Cancel safety
    /// As [`write_async`](Self::write_async).
    pub fn write_async_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<RwLockWriteGuard<'_>>> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        async move {
            let written = core::acquire(self.write_op(), deadline).await;
            written.map(|()| RwLockWriteGuard { lock: self })
        }
    }

    /// Releases a read lock whose guard was forgotten (or taken by another agent).
    ///
    /// # Safety
    /// - the caller is entitled to release one read lock currently held on this word.
    pub unsafe fn force_unlock_read(&self) {
        self.unlock_read_raw();
    }

    /// Releases a write lock whose guard was forgotten (or taken by another agent).
    ///
    /// # Safety
    /// - the caller is entitled to release the write lock currently held on this word.
    pub unsafe fn force_unlock_write(&self) {
        self.unlock_write_raw();
    }

    #[inline]
    pub(crate) fn try_read_raw(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        while may_read(state) {
            // Acquire: pairs with the Release of the last write unlock.
            match self
                .state
                .compare_exchange_weak(state, state + 1, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    #[inline]
    pub(crate) fn try_write_raw(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        while may_write(state) {
            // Keep PARKED: the sleepers still need waking at our unlock.
            let next = (state | WRITE_LOCKED) & !WRITER_WAITING;
            // Acquire: pairs with the Release of the previous unlock.
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    pub(crate) fn read_timeout_raw(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<bool, WaitError> {
        if self.try_read_raw() {
            return Ok(true);
        }
        core::block_timed(ReadOp::new(self), deadline).map(|read| read.is_some())
    }

    pub(crate) fn write_timeout_raw(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<bool, WaitError> {
        if self.try_write_raw() {
            return Ok(true);
        }
        core::block_timed(self.write_op(), deadline).map(|written| written.is_some())
    }

    #[inline]
    pub(crate) fn unlock_read_raw(&self) {
        // Release: pairs with the next writer's Acquire.
        let before = self.state.fetch_sub(1, Release);
        if readers(before) == 1 && before & PARKED != 0 {
            self.wake_all();
        }
    }

    #[inline]
    pub(crate) fn unlock_write_raw(&self) {
        // Release: pairs with the next locker's Acquire. Clears PARKED and WRITER_WAITING
        // too: everyone is woken below and re-announces what it still needs.
        if self.state.swap(0, Release) & PARKED != 0 {
            futex::notify(&self.state, usize::MAX);
        }
    }

    /// Clears the parked bit; if it was set, wakes every sleeper.
    #[cold]
    fn wake_all(&self) {
        if self.state.fetch_and(!PARKED, Relaxed) & PARKED != 0 {
            futex::notify(&self.state, usize::MAX);
        }
    }

    fn write_op(&self) -> WriteOp<'_> {
        WriteOp {
            lock: self,
            announced: false,
            done: false,
            backoff: Backoff::new(),
        }
    }

    /// Sets `bits` (including PARKED) in the word if `state` is still current; returns the
    /// value to sleep on, or `None` to retry.
    fn announce(&self, state: i32, bits: i32) -> Option<i32> {
        let want = state | bits | PARKED;
        if want == state {
            return Some(state);
        }
        self.state
            .compare_exchange(state, want, Relaxed, Relaxed)
            .ok()
            .map(|_| want)
    }
}

impl Default for RwLock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RwLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Relaxed);
        f.debug_struct("RwLock")
            .field("readers", &readers(state))
            .field("write_locked", &(state & WRITE_LOCKED != 0))
            .finish()
    }
}

/// One contended read lock: back off while the lock is held and nobody sleeps yet, then sleep.
struct ReadOp<'a> {
    lock: &'a RwLock,
    backoff: Backoff,
}

impl<'a> ReadOp<'a> {
    fn new(lock: &'a RwLock) -> Self {
        ReadOp {
            lock,
            backoff: Backoff::new(),
        }
    }
}

impl Attempt for ReadOp<'_> {
    type Output = ();
    const SPIN: Policy = Policy::Adaptive;

    fn attempt(&mut self) -> Step<'_, ()> {
        loop {
            if self.lock.try_read_raw() {
                return Step::Done(());
            }
            let state = self.lock.state.load(Relaxed);
            if may_read(state) {
                continue;
            }
            match back_off(&mut self.backoff, state) {
                Round::Spun => continue,
                Round::Yield => return Step::Snooze,
                Round::Done => {}
            }
            if let Some(expected) = self.lock.announce(state, 0) {
                return Step::Sleep {
                    word: &self.lock.state,
                    expected,
                };
            }
        }
    }
}

/// The next backoff round before sleeping on `state` (busy rounds are waited here), or `Done`
/// at once when others already sleep: their wake-up comes with a notify, and re-reading the
/// word meanwhile would only take its cache line from the holder.
fn back_off(backoff: &mut Backoff, state: i32) -> Round {
    if state & PARKED != 0 {
        return Round::Done;
    }
    backoff.next()
}

struct WriteOp<'a> {
    lock: &'a RwLock,
    /// This writer has set WRITER_WAITING at least once.
    announced: bool,
    /// This writer holds the lock (its guard owns it now).
    done: bool,
    backoff: Backoff,
}

impl Attempt for WriteOp<'_> {
    type Output = ();
    const SPIN: Policy = Policy::Adaptive;

    fn attempt(&mut self) -> Step<'_, ()> {
        loop {
            if self.lock.try_write_raw() {
                self.done = true;
                return Step::Done(());
            }
            let state = self.lock.state.load(Relaxed);
            if may_write(state) {
                continue;
            }
            match back_off(&mut self.backoff, state) {
                Round::Spun => continue,
                Round::Yield => return Step::Snooze,
                Round::Done => {}
            }
            if let Some(expected) = self.lock.announce(state, WRITER_WAITING) {
                self.announced = true;
                return Step::Sleep {
                    word: &self.lock.state,
                    expected,
                };
            }
        }
    }
}

impl Drop for WriteOp<'_> {
    fn drop(&mut self) {
        if self.announced && !self.done {
            // Gave up (timeout, cancel, cannot block): readers may be held back by our
            // WRITER_WAITING. Clear it and PARKED, and wake everyone; other writers re-announce.
            let before = self
                .lock
                .state
                .fetch_and(!(WRITER_WAITING | PARKED), Relaxed);
            if before & PARKED != 0 {
                futex::notify(&self.lock.state, usize::MAX);
            }
        }
    }
}

impl Drop for RwLockReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock_read_raw();
    }
}

impl Drop for RwLockWriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock_write_raw();
    }
}

impl fmt::Debug for RwLockReadGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockReadGuard").finish_non_exhaustive()
    }
}

impl fmt::Debug for RwLockWriteGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockWriteGuard").finish_non_exhaustive()
    }
}
