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
//! Wake-ups are never swallowed. A notify that took this acquire's record is a debt: the
//! releaser counted on this waiter to act on the word. The debt is paid when the acquire
//! finishes, or when it registers a new wait on the same word (the primitive only sleeps once
//! the word tells the next releaser to notify again). An acquire that ends any other way (its
//! future dropped while it backs off, its deadline passing before it sleeps again, a thread
//! that may not block) passes the wake-up on to the next waiter on that word
//! (`notify(word, 1)`). A future dropped while its wait is queued asks `WaitFuture::cancel`
//! whether a notify took the record meanwhile, and forwards it if so.
//!
//! Deadlines bound every path: an attempt that keeps asking to snooze (words that another agent
//! left outside the protocol, say) still gives up once the deadline has passed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::futex::{self, agent, park, WaitAsync, WaitFuture, WaitResult, Waitable};
use crate::loom::atomic::AtomicI32;
use crate::spin::Policy;

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
    /// How long a blocked acquire spins in the futex before it parks ([`Policy`]). The shortest
    /// window by default: a wait for another thread's unbounded work (a slot, a count, a
    /// signal) gains little from spinning, and on a machine with more runnable threads than
    /// cores the spin takes the core from that thread. The locks, whose holders release after a
    /// short critical section, spin the adaptive window.
    const SPIN: Policy = Policy::Short;
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

/// A wake-up an acquire received and has not used yet: the address of the word it was notified
/// on (see the module docs for when it is paid and when it is passed on).
#[derive(Default)]
struct Owed(Option<usize>);

impl Owed {
    /// A notify took our record on the word at `address`. Queueing that record paid any
    /// earlier debt (see [`rearmed`](Self::rearmed)), so this is the only one.
    fn woken(&mut self, address: usize) {
        debug_assert!(self.0.is_none(), "a queued wait pays the debt first");
        self.0 = Some(address);
    }

    /// A new wait is queued on the word at `address`: the primitive left that word asking the
    /// next releaser to notify, so a debt on the same word is paid. A debt on another word
    /// cannot be paid by this wait: pass it on.
    fn rearmed(&mut self, address: usize) {
        if self.0 != Some(address) {
            self.forward();
        }
        self.0 = None;
    }

    /// The acquire ends without using the wake-up: wake the next waiter on that word instead.
    fn forward(&mut self) {
        if let Some(address) = self.0.take() {
            futex::notify_addr(address, 1);
        }
    }
}

/// Whether `deadline` has passed. Under loom a finite deadline counts as passed at once, as in
/// the futex core, so models explore the give-up path of every timed acquire.
#[cfg(not(loom))]
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

#[cfg(loom)]
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some()
}

/// The blocking driver: attempts, sleeping on the named word between attempts.
///
/// A `Sleep` on a thread that may not block ends with `CannotBlock` (the try path already ran,
/// so a free primitive is still taken on such a thread). A wake-up that this thread received
/// and could not use is passed on before it returns unfinished.
pub(crate) fn block<A: Attempt>(
    mut op: A,
    deadline: Option<Instant>,
) -> Result<A::Output, Unfinished<A>> {
    let mut owed = Owed::default();
    loop {
        let sleep = match op.attempt() {
            Step::Done(output) => return Ok(output),
            Step::Sleep { word, expected } => Some((word, expected)),
            Step::Snooze => None,
        };
        let Some((word, expected)) = sleep else {
            if passed(deadline) {
                owed.forward();
                return Err(Unfinished::TimedOut(op));
            }
            crate::loom::thread::yield_now();
            continue;
        };
        if !agent::can_block() {
            owed.forward();
            return Err(Unfinished::CannotBlock(op));
        }
        let address = word.key();
        let validate = || word.load_seqcst() == expected;
        match park(address, validate, deadline, A::SPIN) {
            // Nothing was queued: whatever we owe, we still owe.
            WaitResult::NotEqual => {}
            // Queued (which paid a debt on this word), then notified: a new debt.
            WaitResult::Ok => {
                owed.rearmed(address);
                owed.woken(address);
            }
            WaitResult::TimedOut => {
                owed.rearmed(address);
                return Err(Unfinished::TimedOut(op));
            }
        }
    }
}

/// The async driver: a future running the same attempts, sleeping with `wait_async`.
///
/// Resolves to `Ok(output)`, or `Err(op)` if the deadline passed first.
///
/// # Cancel safety
/// Dropping it before it resolves withdraws its wait. If a notify had already picked it (its
/// wait is still queued, or it was woken and is backing off or retrying), that notify is
/// forwarded to the next waiter on the same word, so nobody sleeps on a released primitive
/// because of this drop. A timed-out acquire forwards an unused wake-up the same way.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Acquire<A: Attempt> {
    /// The operation; `None` once the future has resolved.
    op: Option<A>,
    /// The pending wait and the address of the word it waits on (a word of the primitive
    /// `op` borrows, so it outlives this future).
    wait: Option<(WaitFuture<'static>, usize)>,
    /// A wake-up received and not yet used or passed on.
    owed: Owed,
    deadline: Option<Instant>,
}

impl<A: Attempt> Acquire<A> {
    /// A future for `op`, giving up at `deadline` (`None`: never).
    pub(crate) fn new(op: A, deadline: Option<Instant>) -> Self {
        Acquire {
            op: Some(op),
            wait: None,
            owed: Owed::default(),
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
            if let Some((future, address)) = &mut this.wait {
                let result = match Pin::new(future).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result,
                };
                let address = *address;
                this.wait = None;
                if result == WaitResult::TimedOut {
                    return Poll::Ready(Err(this.op.take().expect("polled after completion")));
                }
                // Notified: a releaser counts on us until we finish or queue again.
                this.owed.woken(address);
            }
            let op = this.op.as_mut().expect("polled after completion");
            match op.attempt() {
                Step::Done(output) => {
                    this.owed = Owed::default();
                    this.op = None;
                    return Poll::Ready(Ok(output));
                }
                Step::Sleep { word, expected } => {
                    match sleep_async(word, expected, this.deadline) {
                        Ok(Some(wait)) => {
                            this.owed.rearmed(wait.1);
                            this.wait = Some(wait);
                        }
                        // Not equal: nothing queued, try again (still owing).
                        Ok(None) => {}
                        Err(()) => return Poll::Ready(Err(this.give_up())),
                    }
                }
                Step::Snooze => {
                    if passed(this.deadline) {
                        return Poll::Ready(Err(this.give_up()));
                    }
                    // Nothing is registered; a wake-up we owe stays owed (and `Drop` passes
                    // it on if we are dropped now).
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

impl<A: Attempt> Acquire<A> {
    /// Ends unfinished at the deadline: passes on a wake-up we owe, hands the operation back.
    fn give_up(&mut self) -> A {
        self.owed.forward();
        self.op.take().expect("still running")
    }
}

impl<A: Attempt> Drop for Acquire<A> {
    fn drop(&mut self) {
        if let Some((future, address)) = self.wait.take() {
            // A notify that already picked this waiter would be swallowed by the drop: pass it
            // on to the next waiter on the same word (docs/architecture.md, layer 3: the
            // primitives' forwarding rule). `None` (still queued, now withdrawn) or a time-out
            // owes nothing.
            if future.cancel() == Some(WaitResult::Ok) {
                futex::notify_addr(address, 1);
            }
        }
        // Woken earlier, then dropped while backing off or retrying: pass that wake-up on too.
        self.owed.forward();
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
