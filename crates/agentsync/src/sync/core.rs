//! The one waiting core every primitive shares, with two drivers.
//!
//! A primitive describes one acquire as an [`Attempt`]: each call either finishes or names the
//! word to sleep on and the value it must still hold for the sleep to be worth it. The blocking
//! driver ([`block`]) sleeps with the futex's `park`; the async driver ([`Acquire`]) sleeps with
//! `wait_async`. Both loop back into the same attempt, so the protocol is written once (the
//! shape of smol's async-lock).
//!
//! An attempt may also ask to [`Snooze`](Step::Snooze): the backoff step of a lock that expects
//! its holder to let go soon. The blocking driver yields the thread; the async driver yields to
//! the executor (wakes itself and returns `Pending`), so a task never stalls its executor's
//! thread and a holder that is a task on the same thread gets to run.
//!
//! The futex has no spurious wake-ups and checks the expected value under its bucket lock, so a
//! release that changes the word between "attempt failed" and "sleep" is never lost: the wait
//! returns `not-equal` and the attempt runs again.
//!
//! Cancellation: an async acquire dropped after a notify took its record forwards that notify to
//! the next waiter on the same word (`notify(word, 1)`), so a release is never swallowed;
//! `WaitFuture::cancel` says exactly whether that happened.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::futex::{self, agent, park, WaitAsync, WaitFuture, WaitResult, Waitable};
use crate::loom::atomic::AtomicI32;

/// What one try of an acquire found. `'w` is the borrow of the word to sleep on.
pub(crate) enum Step<'w, T> {
    /// Finished with this result.
    Done(T),
    /// Could not finish: sleep until `word` is notified, unless it no longer holds `expected`.
    Sleep {
        /// The word a releaser will notify.
        word: &'w AtomicI32,
        /// The value seen when the try failed.
        expected: i32,
    },
    /// Could not finish, but the holder is likely to let go very soon: give way for a moment
    /// (a thread yields its core, a task yields to its executor), then try again.
    Snooze,
}

/// One acquire operation. `attempt` may keep state between calls (for example "I have
/// already arrived at the barrier"); `Drop` undoes any registration if the acquire is abandoned.
///
/// The operation borrows its primitive, so the words it names outlive it (and any future
/// driving it).
pub(crate) trait Attempt {
    /// What a finished acquire returns.
    type Output;
    /// Tries once, without sleeping.
    fn attempt(&mut self) -> Step<'_, Self::Output>;
}

/// How a blocking acquire ended when it did not finish. Carries the operation back, so a
/// primitive can return what it held (the queue's value).
pub(crate) enum Unfinished<A> {
    /// The deadline passed.
    TimedOut(A),
    /// The current thread may not block (`agent::can_block() == false`).
    CannotBlock(A),
}

/// The deadline `timeout` from now; `None` (forever) if it does not fit in an `Instant`.
#[inline]
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The blocking driver: attempts, sleeping on the named word between attempts.
///
/// A `Sleep` on a thread that may not block ends with `CannotBlock` (the try path already ran,
/// so a free primitive is still taken on such a thread).
pub(crate) fn block<A: Attempt>(
    mut op: A,
    deadline: Option<Instant>,
) -> Result<A::Output, Unfinished<A>> {
    loop {
        let (word, expected) = match op.attempt() {
            Step::Done(output) => return Ok(output),
            Step::Sleep { word, expected } => (word, expected),
            Step::Snooze => {
                crate::loom::thread::yield_now();
                continue;
            }
        };
        if !agent::can_block() {
            return Err(Unfinished::CannotBlock(op));
        }
        let validate = || word.load_seqcst() == expected;
        if park(word.key(), validate, deadline) == WaitResult::TimedOut {
            return Err(Unfinished::TimedOut(op));
        }
    }
}

/// The async driver: a future running the same attempts, sleeping with `wait_async`.
///
/// Resolves to `Ok(output)`, or `Err(op)` if the deadline passed first.
///
/// # Cancel safety
/// Dropping it before it resolves withdraws its wait. If a notify had already picked it, that
/// notify is forwarded to the next waiter on the same word, so nobody sleeps on a released
/// primitive because of this drop.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Acquire<A: Attempt> {
    /// The operation; `None` once the future has resolved.
    op: Option<A>,
    /// The pending wait and the address of the word it waits on (a word of the primitive
    /// `op` borrows, so it outlives this future).
    wait: Option<(WaitFuture<'static>, usize)>,
    deadline: Option<Instant>,
}

impl<A: Attempt> Acquire<A> {
    /// A future for `op`, giving up at `deadline` (`None`: never).
    pub(crate) fn new(op: A, deadline: Option<Instant>) -> Self {
        Acquire {
            op: Some(op),
            wait: None,
            deadline,
        }
    }
}

/// Starts an async wait on `word`: `Ok(None)` if there is nothing to wait for (the value
/// changed), `Ok(Some(wait))`, or `Err(())` if the deadline has passed.
#[allow(clippy::type_complexity)]
fn sleep_async(
    word: &AtomicI32,
    expected: i32,
    deadline: Option<Instant>,
) -> Result<Option<(WaitFuture<'static>, usize)>, ()> {
    let timeout = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
    // SAFETY:
    // - `word` is a live reference, so the pointer is non-null, aligned and valid for this call;
    // - the `'static` future keeps only the word's address, and the operation driving it
    //   borrows the primitive (hence the word) for as long as the future lives.
    match unsafe { futex::wait_async_ptr(word, expected, timeout) } {
        WaitAsync::Sync(WaitResult::TimedOut) => Err(()),
        WaitAsync::Sync(_) => Ok(None),
        WaitAsync::Async(future) => Ok(Some((future, word.key()))),
    }
}

impl<A: Attempt + Unpin> Future for Acquire<A> {
    type Output = Result<A::Output, A>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            if let Some((future, _)) = &mut this.wait {
                let result = match Pin::new(future).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result,
                };
                this.wait = None;
                if result == WaitResult::TimedOut {
                    return Poll::Ready(Err(this.op.take().expect("polled after completion")));
                }
            }
            let op = this.op.as_mut().expect("polled after completion");
            match op.attempt() {
                Step::Done(output) => {
                    this.op = None;
                    return Poll::Ready(Ok(output));
                }
                Step::Sleep { word, expected } => {
                    match sleep_async(word, expected, this.deadline) {
                        Ok(wait) => this.wait = wait,
                        Err(()) => return Poll::Ready(Err(this.op.take().expect("still running"))),
                    }
                }
                Step::Snooze => {
                    // Nothing is registered: being dropped now owes nobody a wake-up.
                    cx.waker().wake_by_ref();
                    // Under loom, tell the model this task is waiting for another thread, as
                    // a spinning thread does; its `block_on` would otherwise re-poll at once.
                    #[cfg(loom)]
                    loom::thread::yield_now();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<A: Attempt> Drop for Acquire<A> {
    fn drop(&mut self) {
        if let Some((future, address)) = self.wait.take() {
            // A notify that already picked this waiter would be swallowed by the drop: pass it
            // on to the next waiter on the same word (DESIGN.md, layer 1: the primitives'
            // forwarding rule). `None` (still queued, now withdrawn) or a time-out owes nothing.
            if future.cancel() == Some(WaitResult::Ok) {
                futex::notify_addr(address, 1);
            }
        }
    }
}

/// [`block`] for primitives with nothing to hand back: `Ok(Some(output))`, `Ok(None)` when
/// the deadline passed, or the `CannotBlock` error.
pub(crate) fn block_timed<A: Attempt>(
    op: A,
    deadline: Option<Instant>,
) -> Result<Option<A::Output>, futex::WaitError> {
    match block(op, deadline) {
        Ok(output) => Ok(Some(output)),
        Err(Unfinished::TimedOut(_)) => Ok(None),
        Err(Unfinished::CannotBlock(_)) => Err(futex::WaitError::CannotBlock),
    }
}

/// [`Acquire`] for primitives with nothing to hand back: `Some(output)`, or `None` when the
/// deadline passed.
///
/// # Cancel safety
/// As [`Acquire`].
pub(crate) async fn acquire<A: Attempt + Unpin>(
    op: A,
    deadline: Option<Instant>,
) -> Option<A::Output> {
    Acquire::new(op, deadline).await.ok()
}

/// Defines a `const fn` normally and a plain `fn` under loom, whose atomics are not `const`.
macro_rules! loom_const_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$meta])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$meta])*
        #[cfg(loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;
