//! Waiter records: one per pending wait, blocking or async, linked into a bucket's queue.
//!
//! A record's `state` moves exactly once, from `WAITING` to one of the final states, and only
//! while the bucket lock is held. Whoever makes that move first unlinks the record and takes
//! its wake handle; the store of the final state is that party's *last* access to the record,
//! so a waiter that observes a final state may free the record at once.

use crate::loom::atomic::{AtomicU32, Ordering::Acquire};
#[cfg(not(all(target_os = "linux", not(loom))))]
use crate::loom::thread::Thread;
use crate::loom::UnsafeCell;
use std::cell::Cell;
use std::ptr;
use std::task::Waker;

use super::WaitResult;

/// A record's state: a 32-bit word, so that a blocking waiter can sleep on it with the futex
/// system call ([`super::sys`]).
pub(crate) type State = u32;

/// Queued and not yet decided.
pub(crate) const WAITING: State = 0;
/// Taken from the queue by `notify`: the wait resolves to `ok`.
pub(crate) const NOTIFIED: State = 1;
/// Taken from the queue by its deadline: the wait resolves to `timed-out`.
pub(crate) const TIMED_OUT: State = 2;
/// Taken from the queue because its future was dropped or cancelled.
pub(crate) const CANCELLED: State = 3;

/// How to wake the waiter behind a record.
#[derive(Debug, Default)]
pub(crate) enum Wake {
    /// An async record that has not been polled yet.
    #[default]
    Nobody,
    /// A blocking waiter parked on its thread (under loom, and where there is no futex).
    #[cfg(not(all(target_os = "linux", not(loom))))]
    Thread(Thread),
    /// A blocking waiter asleep on its record's state word (Linux).
    #[cfg(all(target_os = "linux", not(loom)))]
    Futex(super::sys::Word),
    /// An async waiter's task.
    Task(Waker),
}

impl Wake {
    /// Delivers the wake-up. Called only after the bucket lock is released.
    pub(crate) fn wake(self) {
        match self {
            Wake::Nobody => {}
            #[cfg(all(target_os = "linux", not(loom)))]
            Wake::Futex(word) => super::sys::wake(word),
            #[cfg(not(all(target_os = "linux", not(loom))))]
            Wake::Thread(thread) => {
                #[cfg(loom)]
                if EXPLORE_WAKE_WINDOW.with(std::cell::Cell::get) {
                    loom::thread::yield_now();
                }
                thread.unpark()
            }
            Wake::Task(waker) => waker.wake(),
        }
    }
}

#[cfg(loom)]
std::thread_local! {
    static EXPLORE_WAKE_WINDOW: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Loom models only: whether a notifier yields between deciding a blocking record and
/// unparking its thread. Set it before `loom::model` (loom runs a model's threads on the
/// calling OS thread, so they all see it).
///
/// Loom's `unpark` hands the notifier's causality to the woken thread at once, even while that
/// thread still runs, and its partial-order reduction does not count `unpark` as racing the
/// thread's read of its record. So without the yield loom never runs a blocking waiter between
/// the decision and the unpark: the window in which a weak ordering or a late access to the
/// record shows. It is opt-in because a late `unpark` that reaches a thread already blocked in
/// loom's `JoinHandle::join` trips an assertion inside loom (std's join ignores it): a model
/// that turns it on lets its blocking waiters finish right after their wait.
#[cfg(loom)]
pub fn explore_wake_window(on: bool) {
    EXPLORE_WAKE_WINDOW.with(|flag| flag.set(on));
}

/// One waiter record.
#[derive(Debug)]
pub(crate) struct Node {
    /// Previous record in the bucket queue. Guarded by the bucket lock.
    pub(crate) prev: UnsafeCell<*const Node>,
    /// Next record in the bucket queue. Guarded by the bucket lock.
    pub(crate) next: UnsafeCell<*const Node>,
    /// The location waited on (its address).
    pub(crate) key: usize,
    /// `WAITING`, then one final state. Written under the bucket lock, read anywhere.
    pub(crate) state: AtomicU32,
    /// The wake handle. Guarded by the bucket lock.
    pub(crate) wake: UnsafeCell<Wake>,
    /// Whether the owning future has stored a waker in `wake`. Only that future reads or
    /// writes it, while polled (through `&mut`); it sits in what would be padding.
    pub(crate) registered: Cell<bool>,
    /// Loom models only: the record's liveness. Its owner writes it when the record dies
    /// ([`Node::die`]); every access through a queue link reads it first ([`Node::touch`]). An
    /// access that a waiter's return does not follow in happens-before order (a use after free
    /// in the real build) is then a causality error that loom reports on the spot.
    #[cfg(loom)]
    liveness: UnsafeCell<()>,
}

// SAFETY:
// - `prev`, `next` and `wake` are only touched while holding the lock of the bucket that
//   `key` hashes to (every access site is under that lock), so they are never raced;
// - `state` is atomic; `key` is immutable;
// - `registered` is only used by the future that owns the record, through `&mut` to it.
unsafe impl Sync for Node {}
// SAFETY: the raw pointers are queue links owned by the bucket (see `Sync` above); `Thread`
// and `Waker` are `Send`.
unsafe impl Send for Node {}

impl Node {
    pub(crate) fn new(key: usize, wake: Wake) -> Self {
        Node {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            key,
            state: AtomicU32::new(WAITING),
            wake: UnsafeCell::new(wake),
            registered: Cell::new(false),
            #[cfg(loom)]
            liveness: UnsafeCell::new(()),
        }
    }

    /// The wake handle of a blocking record, made once the record is at its final address: on
    /// Linux its own state word, to sleep on with the futex system call ([`super::sys`]);
    /// elsewhere, and under loom, the waiter's thread.
    pub(crate) fn blocking_wake(&self) -> Wake {
        #[cfg(all(target_os = "linux", not(loom)))]
        {
            Wake::Futex(super::sys::Word::of(&self.state))
        }
        #[cfg(not(all(target_os = "linux", not(loom))))]
        {
            Wake::Thread(crate::loom::thread::current())
        }
    }

    /// Marks an access through a queue link (by a notifier, a timer, a neighbour's unlink).
    /// Checked under loom only; compiles to nothing otherwise.
    #[inline(always)]
    pub(crate) fn touch(&self) {
        #[cfg(loom)]
        self.liveness.with(|_| ());
    }

    /// Marks the death of the record: its owner frees it or gives it up, and no queue may reach
    /// it any more. Checked under loom only; compiles to nothing otherwise.
    ///
    /// Every cell of the record is marked, not only its liveness: a notifier's late take of the
    /// wake handle, or a neighbour's late write of a link, touches those cells directly, and
    /// would otherwise go unseen by loom (only a sanitizer would catch the use after free).
    #[inline(always)]
    pub(crate) fn die(&self) {
        #[cfg(loom)]
        {
            self.liveness.with_mut(|_| ());
            self.prev.with_mut(|_| ());
            self.next.with_mut(|_| ());
            self.wake.with_mut(|_| ());
        }
    }

    /// The final result, if decided. Pairs with the `Release` store of the deciding party.
    #[inline]
    pub(crate) fn result(&self) -> Option<WaitResult> {
        decode(self.state.load(Acquire))
    }
}

/// A blocking record dies with its waiter's stack frame; an async one when its last handle goes.
#[cfg(loom)]
impl Drop for Node {
    fn drop(&mut self) {
        self.die();
    }
}

/// Maps a state to the result a waiter reports. `CANCELLED` reports nothing: nobody is left
/// to receive it.
#[inline]
pub(crate) fn decode(state: State) -> Option<WaitResult> {
    match state {
        NOTIFIED => Some(WaitResult::Ok),
        TIMED_OUT => Some(WaitResult::TimedOut),
        _ => None,
    }
}
