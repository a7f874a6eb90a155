//! Layer 1: the futex. `wait`, `wait_async` and `notify` keyed by memory location.
//!
//! Every location has one first-in-first-out queue, shared by blocking waiters (threads) and
//! async waiters (futures). The value check and the enqueue happen in one critical section, so a
//! notify can never slip between "decided to wait" and "went to sleep". Each record's fate
//! (notified, timed out, cancelled) is decided once, under that same lock; wake-ups are delivered
//! after it is released.

pub mod agent;
mod node;
#[cfg(all(target_os = "linux", not(loom)))]
mod sys;
mod table;
mod timer;
mod wait_async;

use std::fmt;
use std::time::{Duration, Instant};

use crate::loom::atomic::{
    AtomicI32, AtomicI64, AtomicU32, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use node::{Node, Wake, TIMED_OUT, WAITING};
use table::WakeList;

pub use wait_async::{wait_async, wait_async_ptr, Owner, Settled, WaitAsync, WaitFuture};

#[cfg(loom)]
#[doc(hidden)]
pub use node::explore_wake_window;
#[cfg(loom)]
#[doc(hidden)]
pub use timer::fire_armed;

/// How a wait ended: the three results of `Atomics.wait`.
///
/// `Display` prints exactly the JavaScript strings.
///
/// ```
/// use agentsync::WaitResult;
/// assert_eq!(WaitResult::Ok.to_string(), "ok");
/// assert_eq!(WaitResult::NotEqual.to_string(), "not-equal");
/// assert_eq!(WaitResult::TimedOut.to_string(), "timed-out");
/// assert_eq!(WaitResult::TimedOut.wasm_code(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitResult {
    /// A `notify` woke this waiter (`"ok"`, Wasm result 0).
    Ok,
    /// The location did not hold the expected value; nothing was queued (`"not-equal"`, 1).
    NotEqual,
    /// The timeout passed before any notify (`"timed-out"`, 2).
    TimedOut,
}

impl WaitResult {
    /// The JavaScript string: `"ok"`, `"not-equal"` or `"timed-out"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitResult::Ok => "ok",
            WaitResult::NotEqual => "not-equal",
            WaitResult::TimedOut => "timed-out",
        }
    }

    /// The result code of `memory.atomic.wait32` / `wait64`: 0 ok, 1 not-equal, 2 timed-out.
    pub const fn wasm_code(self) -> u32 {
        match self {
            WaitResult::Ok => 0,
            WaitResult::NotEqual => 1,
            WaitResult::TimedOut => 2,
        }
    }
}

impl fmt::Display for WaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a blocking wait could not start. "not-equal" and "timed-out" are results, not errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitError {
    /// The calling thread is an agent that may not block (see [`agent`]). JavaScript throws a
    /// `TypeError` here.
    CannotBlock,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::CannotBlock => f.write_str("Atomics.wait cannot be called in this context"),
        }
    }
}

impl std::error::Error for WaitError {}

mod sealed {
    pub trait Sealed {}
}

/// A location that can be waited on: `AtomicI32`, `AtomicU32`, `AtomicI64` or `AtomicU64`.
///
/// The queue of a location is keyed by its address alone, so a 32-bit and a 64-bit wait at the
/// same address share one queue, as JavaScript's Int32 and BigInt64 views over the same bytes do.
pub trait Waitable: sealed::Sealed + Sync + 'static {
    /// The integer the location holds.
    type Value: Copy + Eq + fmt::Debug + Send + 'static;

    /// A sequentially consistent load: the compare of `Atomics.wait`.
    fn load_seqcst(&self) -> Self::Value;

    /// The key of this location's queue: its address.
    #[inline]
    fn key(&self) -> usize {
        self as *const Self as *const u8 as usize
    }
}

macro_rules! waitable {
    ($($atomic:ty => $value:ty),*) => {$(
        impl sealed::Sealed for $atomic {}
        impl Waitable for $atomic {
            type Value = $value;
            #[inline]
            fn load_seqcst(&self) -> $value {
                self.load(SeqCst)
            }
        }
    )*};
}
waitable!(AtomicI32 => i32, AtomicU32 => u32, AtomicI64 => i64, AtomicU64 => u64);

/// Blocks the current thread until `location` is notified, if it holds `expected`.
///
/// This is `Atomics.wait` and Wasm's `memory.atomic.wait32` / `memory.atomic.wait64`.
/// `timeout` `None` waits forever; a timeout too large to represent also waits forever. A wait
/// ends only through a notify or its timeout: there are no spurious wake-ups.
///
/// Blocking waits allocate nothing: the waiter record lives on this thread's stack.
///
/// ```
/// use agentsync::{notify, wait, WaitResult};
/// use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
/// use std::time::Duration;
///
/// let word = AtomicI32::new(0);
/// assert_eq!(wait(&word, 1, None), Ok(WaitResult::NotEqual));
/// assert_eq!(wait(&word, 0, Some(Duration::from_millis(1))), Ok(WaitResult::TimedOut));
///
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while agentsync::waiter_count(&word) == 0 {
///             std::thread::yield_now();
///         }
///         word.store(1, SeqCst);
///         assert_eq!(notify(&word, 1), 1);
///     });
///     assert_eq!(wait(&word, 0, None), Ok(WaitResult::Ok));
/// });
/// ```
///
/// # Blocking
/// Blocks until notified or until the timeout, which is a lower bound on the time waited.
///
/// # Errors
/// [`WaitError::CannotBlock`] if the current thread may not block (see [`agent`]).
pub fn wait<A: Waitable>(
    location: &A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> Result<WaitResult, WaitError> {
    if !agent::can_block() {
        return Err(WaitError::CannotBlock);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    Ok(park(
        location.key(),
        || location.load_seqcst() == expected,
        deadline,
        crate::spin::Policy::Adaptive,
    ))
}

/// [`wait`] on a location given by pointer, for memory the caller does not hold as a Rust
/// reference (a shared or Wasm linear memory).
///
/// # Safety
/// - `location` is non-null, aligned, and valid for atomic reads for the duration of this call.
///
/// # Errors
/// As [`wait`].
pub unsafe fn wait_ptr<A: Waitable>(
    location: *const A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> Result<WaitResult, WaitError> {
    // SAFETY: valid for the duration of the call (caller), and `wait` does not keep the borrow.
    wait(unsafe { &*location }, expected, timeout)
}

/// The blocking wait algorithm: lock the bucket, announce, validate, enqueue, sleep.
///
/// `validate` runs under the bucket lock and returns whether to sleep. A record whose deadline
/// has passed when it wakes is timed out under the lock, unless a notify took it first.
pub(crate) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    deadline: Option<Instant>,
    spin: crate::spin::Policy,
) -> WaitResult {
    let node = Node::new(key, Wake::Nobody);
    // The record is at its final address now: its wake handle may name it.
    let handle = node.blocking_wake();
    // SAFETY: the record is not linked yet, so nobody else can reach its wake cell.
    node.wake.with_mut(|wake| unsafe { *wake = handle });
    let bucket = table::bucket(key);
    {
        let mut locked = bucket.lock();
        locked.announce();
        if !validate() {
            locked.withdraw();
            return WaitResult::NotEqual;
        }
        // SAFETY: the record is fresh and hashes here; it lives on this stack frame, which does
        // not return before the record is unlinked (by a notifier or by the timeout below).
        unsafe { locked.push_back(&node) };
    }
    if let Some(result) = sleep(&node, bucket, deadline, spin) {
        return result;
    }
    let mut locked = bucket.lock();
    if node.state.load(Relaxed) != WAITING {
        // A notify took the record between our deadline and this lock: it wins.
        return WaitResult::Ok;
    }
    // SAFETY: `WAITING` means linked in this bucket, whose lock we hold.
    drop(unsafe { locked.unlink(&node, TIMED_OUT) });
    WaitResult::TimedOut
}

/// Sleeps until the record is decided (returning its result) or the deadline passes (`None`).
///
/// It spins first, watching the record, for the window the bucket's estimate gives
/// ([`crate::spin`]): a notify that lands within it costs no sleep and no wake-up syscall.
/// Measured with `agentsync bench --scenario sync_pingpong` on the 2-core dev machine (quiet):
/// without the spin the round trip is the raw futex's; with it, a fraction of that.
#[cfg(not(loom))]
fn sleep(
    node: &Node,
    bucket: &table::Bucket,
    deadline: Option<Instant>,
    policy: crate::spin::Policy,
) -> Option<WaitResult> {
    let limit = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
    if let Some(result) = spin(node, bucket, limit, policy) {
        return Some(result);
    }
    loop {
        if let Some(result) = node.result() {
            return Some(result);
        }
        match deadline {
            None => block(node, None),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                block(node, Some(deadline - now));
            }
        }
    }
}

/// Sleeps while `node` is undecided, for at most `timeout`; may return early (the caller
/// re-checks and loops). On Linux with the futex system call on the record's state word,
/// elsewhere by parking the thread.
#[cfg(not(loom))]
fn block(node: &Node, timeout: Option<Duration>) {
    #[cfg(target_os = "linux")]
    sys::sleep(&node.state, WAITING, timeout);
    #[cfg(not(target_os = "linux"))]
    match timeout {
        None => std::thread::park(),
        Some(timeout) => std::thread::park_timeout(timeout),
    }
}

/// Watches `node` for the window that `bucket`'s estimate gives (at most `limit`), and folds
/// what happened back into the estimate. The result, if the record was decided meanwhile.
#[cfg(not(loom))]
pub(crate) fn spin(
    node: &Node,
    bucket: &table::Bucket,
    limit: Option<Duration>,
    policy: crate::spin::Policy,
) -> Option<WaitResult> {
    let mut result = None;
    bucket
        .spin
        .spin_until(limit, policy, crate::spin::PARK_SPIN_MAX, || {
            result = node.result();
            result.is_some()
        });
    result
}

/// Under loom a finite deadline is taken to have passed at once, so models explore a timeout
/// racing every notify.
#[cfg(loom)]
fn sleep(
    node: &Node,
    _bucket: &table::Bucket,
    deadline: Option<Instant>,
    _policy: crate::spin::Policy,
) -> Option<WaitResult> {
    loop {
        if let Some(result) = node.result() {
            return Some(result);
        }
        if deadline.is_some() {
            return None;
        }
        loom::thread::park();
    }
}

/// Wakes up to `count` waiters on `location`, oldest first, blocking and async alike, and
/// returns how many it woke.
///
/// This is `Atomics.notify` and Wasm's `memory.atomic.notify`. Use `usize::MAX` for "all".
/// When nobody waits on the location's bucket it takes no lock.
///
/// ```
/// use std::sync::atomic::AtomicI32;
/// let word = AtomicI32::new(0);
/// assert_eq!(agentsync::notify(&word, usize::MAX), 0);
/// ```
#[inline]
pub fn notify<A: Waitable>(location: &A, count: usize) -> usize {
    notify_addr(location.key(), count)
}

/// [`notify`] by address. Needs no live borrow: notifying an address whose memory was just
/// freed is harmless (it wakes whoever waits at that address, usually nobody).
///
/// ```
/// let word = Box::new(std::sync::atomic::AtomicI32::new(0));
/// let addr = &*word as *const _ as usize;
/// drop(word);
/// assert_eq!(agentsync::notify_addr(addr, 1), 0);
/// ```
#[inline]
pub fn notify_addr(addr: usize, count: usize) -> usize {
    let bucket = table::bucket(addr);
    if count == 0 || !bucket.has_waiters() {
        return 0;
    }
    notify_contended(bucket, addr, count)
}

#[cold]
fn notify_contended(bucket: &table::Bucket, addr: usize, count: usize) -> usize {
    let mut woken = WakeList::default();
    let taken = bucket.lock().take(addr, count, &mut woken);
    woken.wake_all();
    taken
}

/// How many waiters are queued on `location` right now (blocking and async). For tests and
/// diagnostics: the answer may be stale as soon as it is returned.
///
/// ```
/// let word = std::sync::atomic::AtomicI32::new(0);
/// assert_eq!(agentsync::waiter_count(&word), 0);
/// ```
pub fn waiter_count<A: Waitable>(location: &A) -> usize {
    waiter_count_addr(location.key())
}

/// [`waiter_count`] by address.
pub fn waiter_count_addr(addr: usize) -> usize {
    table::bucket(addr).lock().count_key(addr)
}

/// How many waiters are queued in the whole table, on every location. For tests and
/// diagnostics in a process that controls all of its waits.
pub fn total_waiters() -> usize {
    table::total()
}

/// The index of the table bucket that `addr` hashes to. Lets tests build two locations that
/// share a bucket; not part of the stable API.
#[doc(hidden)]
pub fn bucket_index(addr: usize) -> usize {
    table::index(addr)
}
