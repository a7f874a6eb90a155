//! `wait_async`: the waitAsync proposal's non-blocking wait, as a runtime-agnostic future.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::node::{decode, Node, Wake, CANCELLED, WAITING};
use super::{table, timer, WaitResult, Waitable};
use crate::loom::atomic::Ordering::Relaxed;
use crate::loom::Arc;

/// The result of an async wait: settled at once, or a future of type `F`. Mirrors the
/// `{ async, value }` object of `Atomics.waitAsync`.
///
/// It is itself a future, so `wait_async(..).await` works either way. [`WaitAsync`] is the
/// native form; the polyfill returns the same shape with its own future.
#[derive(Debug)]
#[must_use = "a pending wait is cancelled when dropped"]
pub enum Settled<F> {
    /// Settled synchronously (`async: false`): `NotEqual`, or `TimedOut` for a zero timeout.
    /// Nothing was queued and nothing was allocated.
    Sync(WaitResult),
    /// Queued (`async: true`): the future resolves to `Ok` or `TimedOut`.
    Async(F),
}

/// What [`wait_async`] returns.
pub type WaitAsync<'a> = Settled<WaitFuture<'a>>;

impl<F> Settled<F> {
    /// Whether the wait was queued (JavaScript's `async` field).
    pub fn is_async(&self) -> bool {
        matches!(self, Settled::Async(_))
    }

    /// The synchronous result, if the wait settled at once.
    pub fn sync_result(&self) -> Option<WaitResult> {
        match self {
            Settled::Sync(result) => Some(*result),
            Settled::Async(_) => None,
        }
    }

    /// The future, if the wait was queued.
    pub fn into_future(self) -> Option<F> {
        match self {
            Settled::Sync(_) => None,
            Settled::Async(future) => Some(future),
        }
    }
}

impl<F: Future<Output = WaitResult> + Unpin> Future for Settled<F> {
    type Output = WaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitResult> {
        match self.get_mut() {
            Settled::Sync(result) => Poll::Ready(*result),
            Settled::Async(future) => Pin::new(future).poll(cx),
        }
    }
}

/// A queued async wait. Resolves to [`WaitResult::Ok`] when notified, or
/// [`WaitResult::TimedOut`] when its deadline passes first; never `NotEqual`.
///
/// The record was queued when [`wait_async`] returned, not at the first poll: a notify that comes
/// before the first poll is already counted, and the poll just reports it.
///
/// # Cancel safety
/// Dropping a pending future removes its record from the queue, so later notifies go to other
/// waiters. If a notify already took it, dropping discards that notification; use
/// [`WaitFuture::cancel`] to learn which happened and pass it on if needed.
#[must_use = "a pending wait is cancelled when dropped"]
pub struct WaitFuture<'a> {
    node: Arc<Node>,
    /// What keeps the memory at the record's key alive while the record may be queued (see
    /// [`WaitFuture::keeping`]): released only after `Drop` has withdrawn the record, so no
    /// other memory can be placed at the key while a notify could still find this waiter.
    owner: Option<Owner>,
    _location: PhantomData<&'a ()>,
}

/// Anything that keeps a memory mapped: an `Arc` of the memory, of its engine's handle, ….
pub type Owner = std::sync::Arc<dyn std::any::Any + Send + Sync>;

impl std::fmt::Debug for WaitFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitFuture")
            .field("key", &self.node.key)
            .field("result", &self.node.result())
            .finish()
    }
}

/// Waits for a notify on `location` without blocking, if it holds `expected`.
///
/// This is `Atomics.waitAsync`. The value check and the enqueue are one step, as for
/// [`wait`](crate::wait); blocking and async waiters share one FIFO queue per location. It never
/// checks whether the thread may block.
///
/// - value differs: `Sync(NotEqual)`, checked first;
/// - equal and `timeout` is zero: `Sync(TimedOut)`;
/// - otherwise `Async(future)`: one allocation; a finite timeout is fired by the library's
///   timer thread, an infinite one arms nothing. No helper threads, no polling.
///
/// ```
/// use agentsync::{notify, wait_async, WaitResult};
/// use std::sync::atomic::AtomicI32;
/// use std::time::Duration;
///
/// let word = AtomicI32::new(7);
/// assert_eq!(wait_async(&word, 0, None).sync_result(), Some(WaitResult::NotEqual));
/// assert_eq!(wait_async(&word, 7, Some(Duration::ZERO)).sync_result(), Some(WaitResult::TimedOut));
///
/// let pending = wait_async(&word, 7, None);
/// assert!(pending.is_async());
/// assert_eq!(notify(&word, 1), 1);
/// assert_eq!(futures_lite::future::block_on(pending), WaitResult::Ok);
/// ```
///
/// # Cancel safety
/// See [`WaitFuture`].
pub fn wait_async<A: Waitable>(
    location: &A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> WaitAsync<'_> {
    wait_async_unbound(location, expected, timeout)
}

/// [`wait_async`] with the future's lifetime left to the caller.
#[inline]
fn wait_async_unbound<'a, A: Waitable>(
    location: &A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> WaitAsync<'a> {
    if location.load_seqcst() != expected {
        return WaitAsync::Sync(WaitResult::NotEqual);
    }
    if timeout == Some(Duration::ZERO) {
        return WaitAsync::Sync(WaitResult::TimedOut);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    enqueue(
        location.key(),
        || location.load_seqcst() == expected,
        deadline,
    )
}

/// [`wait_async`] on a location given by pointer. The future does not borrow the location.
///
/// # Safety
/// - `location` is non-null, aligned, and valid for atomic reads for the duration of this call.
///   The future only uses the address as a key afterwards. If the memory is freed and reused
///   while the future is pending, a notify on the new contents' address wakes it: hand what
///   keeps the memory alive to [`WaitAsync::keeping`] so that it cannot be freed first.
pub unsafe fn wait_async_ptr<A: Waitable>(
    location: *const A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> WaitAsync<'static> {
    // SAFETY: valid for this call (caller); the returned future keeps only the address.
    wait_async_unbound(unsafe { &*location }, expected, timeout)
}

/// The slow path: allocate the record, then check and enqueue under the bucket lock.
#[cold]
pub(crate) fn enqueue<'a>(
    key: usize,
    validate: impl FnOnce() -> bool,
    deadline: Option<Instant>,
) -> WaitAsync<'a> {
    let node = Arc::new(Node::new(key, Wake::Nobody));
    {
        let mut locked = table::bucket(key).lock();
        locked.announce();
        if !validate() {
            locked.withdraw();
            return WaitAsync::Sync(WaitResult::NotEqual);
        }
        // SAFETY: fresh record hashing here; the future owns it and unlinks it before freeing
        // (see `Drop`), or it is leaked along with the future.
        unsafe { locked.push_back(Arc::as_ptr(&node)) };
    }
    if let Some(deadline) = deadline {
        timer::arm(deadline, Arc::clone(&node));
    }
    WaitAsync::Async(WaitFuture {
        node,
        owner: None,
        _location: PhantomData,
    })
}

impl<F> Settled<F> {
    /// Applies `f` to the future, if the wait was queued.
    pub fn map_future<G>(self, f: impl FnOnce(F) -> G) -> Settled<G> {
        match self {
            Settled::Sync(result) => Settled::Sync(result),
            Settled::Async(future) => Settled::Async(f(future)),
        }
    }
}

impl<'a> WaitAsync<'a> {
    /// [`WaitFuture::keeping`] for a queued wait; a settled one keeps nothing.
    pub fn keeping(self, owner: impl FnOnce() -> Owner) -> WaitAsync<'a> {
        self.map_future(|future| future.keeping(owner()))
    }
}

impl WaitFuture<'_> {
    /// Keeps `owner` (what keeps the waited-on memory mapped) alive until the wait is
    /// withdrawn or decided and the future dropped.
    ///
    /// The queue is keyed by address: a future from [`wait_async_ptr`] that outlives its memory
    /// would otherwise be found by a notify on whatever memory is placed at the same address
    /// next, and woken spuriously. Every layer that queues a wait on memory it does not borrow
    /// (a view's memory, a guest memory, a JavaScript `SharedArrayBuffer`) hands its owner
    /// here.
    ///
    /// ```
    /// use std::sync::{atomic::AtomicI32, Arc};
    /// let word = Arc::new(AtomicI32::new(0));
    /// // SAFETY: `word` is live for the call, and the future keeps it alive after it.
    /// let pending = unsafe { agentsync::wait_async_ptr(Arc::as_ptr(&word), 0, None) }
    ///     .keeping(|| word.clone());
    /// drop(word); // the future still holds it: nothing else can take its address
    /// drop(pending);
    /// ```
    pub fn keeping(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// The result, if already decided; does not register a waker.
    pub fn result(&self) -> Option<WaitResult> {
        self.node.result()
    }

    /// Spins on the record, the way a blocking [`wait`](crate::wait) does before it parks its
    /// thread, for the window its location's estimate gives ([`crate::spin`]), at most `limit`;
    /// returns the result if it was decided meanwhile. For a host that blocks a thread on this
    /// future by other means (its own parking, an event loop), so that a notify landing within
    /// the window costs no sleep. Registers no waker; spins not at all with spinning off.
    ///
    /// ```
    /// use std::sync::atomic::AtomicI32;
    /// let word = AtomicI32::new(0);
    /// let pending = agentsync::wait_async(&word, 0, None).into_future().unwrap();
    /// assert_eq!(pending.spin(None), None); // nobody notifies
    /// ```
    #[cfg(not(loom))]
    pub fn spin(&self, limit: Option<std::time::Duration>) -> Option<WaitResult> {
        super::spin(
            &self.node,
            super::table::bucket(self.node.key),
            limit,
            crate::spin::Policy::Adaptive,
        )
    }

    /// Withdraws the wait. Returns `None` if it was still queued (now removed: no notify will
    /// count it), or the result that was already decided. A `Some(Ok)` here is a notification
    /// this waiter received; a primitive built on the futex should pass it on.
    ///
    /// ```
    /// use std::sync::atomic::AtomicI32;
    /// let word = AtomicI32::new(0);
    /// let pending = agentsync::wait_async(&word, 0, None).into_future().unwrap();
    /// assert_eq!(pending.cancel(), None);
    /// assert_eq!(agentsync::notify(&word, 1), 0);
    /// ```
    pub fn cancel(self) -> Option<WaitResult> {
        // Once withdrawn, the record is decided, and `Drop` only reads its state.
        self.withdraw()
    }

    fn withdraw(&self) -> Option<WaitResult> {
        let state = self.node.state.load(crate::loom::atomic::Ordering::Acquire);
        if state != WAITING {
            return decode(state);
        }
        let mut locked = table::bucket(self.node.key).lock();
        let state = self.node.state.load(Relaxed);
        if state != WAITING {
            return decode(state);
        }
        // SAFETY: `WAITING` means linked in this bucket, whose lock we hold.
        let wake = unsafe { locked.unlink(&*self.node, CANCELLED) };
        drop(locked);
        drop(wake);
        None
    }

    /// Stores `waker` in the record unless it is already there or the record was decided.
    ///
    /// Waker methods are user code and may call `notify`, even on this bucket, so none of them
    /// runs under the bucket lock: the clone is made before locking, and the displaced waker
    /// (or the unused clone) is dropped after unlocking. `will_wake` only compares pointers.
    /// A re-poll with the waker already stored takes the lock once and clones nothing; a
    /// re-poll with another waker unlocks to clone it and locks again.
    fn register(&mut self, waker: &Waker) -> Poll<WaitResult> {
        let node = &*self.node;
        if node.registered.get() {
            let _locked = table::bucket(node.key).lock();
            if let Some(result) = decode(node.state.load(Relaxed)) {
                return Poll::Ready(result);
            }
            // SAFETY: the record is linked (`WAITING`) and we hold its bucket lock, which
            // guards `wake`.
            let stored = node.wake.with_mut(|stored| unsafe {
                matches!(&*stored, Wake::Task(stored) if stored.will_wake(waker))
            });
            if stored {
                return Poll::Pending;
            }
        }
        let clone = Wake::Task(waker.clone());
        let locked = table::bucket(node.key).lock();
        let decided = decode(node.state.load(Relaxed));
        let unused = match decided {
            Some(_) => clone,
            None => {
                node.registered.set(true);
                // SAFETY: the record is linked (`WAITING`) and we hold its bucket lock, which
                // guards `wake`.
                node.wake
                    .with_mut(|stored| unsafe { stored.replace(clone) })
            }
        };
        drop(locked);
        drop(unused);
        match decided {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }
}

impl Future for WaitFuture<'_> {
    type Output = WaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitResult> {
        let this = self.get_mut();
        if let Some(result) = this.node.result() {
            return Poll::Ready(result);
        }
        this.register(cx.waker())
    }
}

impl Drop for WaitFuture<'_> {
    fn drop(&mut self) {
        self.withdraw();
        // Withdrawn or decided: no queue reaches the record any more, even if the timer still
        // holds a handle to it.
        self.node.die();
    }
}
