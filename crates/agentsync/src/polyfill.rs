//! Layer 4: `wait_async` done by helper threads, as the waitAsync proposal's polyfill does it.
//!
//! Each pending wait occupies one helper thread blocked in [`wait`](crate::wait) on the caller's
//! behalf; when the wait ends, the helper stores the result and wakes the caller's task. Helpers
//! come from a pool: an idle helper is reused, a new one is started when none is idle, and a
//! helper idle for [`IDLE_EXIT`] exits.
//!
//! This is the baseline that the native [`wait_async`](crate::wait_async) is measured against.
//! It is also the way to await a futex the library does not own.
//!
//! # Where it is less faithful than the native path
//! - **Cost**: every pending wait holds an OS thread (a stack of [`HELPER_STACK`] bytes plus
//!   kernel state), and the call blocks the caller until a helper has queued the record (a
//!   thread hand-off). The number of pending waits is limited by the number of threads the OS
//!   allows.
//! - **Cancellation**: dropping the future cannot withdraw the helper's record. The helper
//!   stays queued until a notify or its timeout; a notify that reaches it counts as a wake-up
//!   that nobody receives. The native future removes its record when dropped.
//! - **Blocking**: the call blocks briefly (the hand-off) even on a thread that may not block.
//!
//! What it keeps: the record is queued before `wait_async` returns, in the location's single FIFO
//! queue, so arrival order, `notify` counts and the not-equal check are the same as native.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::futex::{self, Settled, WaitResult, Waitable};
use crate::loom::lock;

/// How long an idle helper waits for work before it exits.
pub const IDLE_EXIT: Duration = Duration::from_secs(5);
/// The stack size of a helper thread.
pub const HELPER_STACK: usize = 64 * 1024;

/// The result of the polyfill's [`wait_async`]: the same shape as [`crate::WaitAsync`].
pub type WaitAsync<'a> = Settled<PolyfillFuture<'a>>;

/// A wait that a helper thread performs. Resolves to `Ok` or `TimedOut`.
///
/// # Cancel safety
/// Dropping it does not withdraw the wait: the helper stays queued until notified or timed out.
#[derive(Debug)]
pub struct PolyfillFuture<'a> {
    slot: Arc<Slot>,
    _location: PhantomData<&'a ()>,
}

/// What the caller and its helper share.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// Signalled when the helper has checked the value.
    checked: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    /// `Some(queued)` once the helper has checked the value under the bucket lock.
    checked: Option<bool>,
    result: Option<WaitResult>,
    waker: Option<Waker>,
}

/// Waits for a notify on `location` through a helper thread, if it holds `expected`.
///
/// Same signature and results as [`crate::wait_async`]; see the module docs for the differences.
///
/// ```
/// use agentsync::{notify, polyfill, WaitResult};
/// use std::sync::atomic::AtomicI32;
///
/// let word = AtomicI32::new(0);
/// let pending = polyfill::wait_async(&word, 0, None);
/// assert!(pending.is_async());
/// assert_eq!(notify(&word, 1), 1);
/// assert_eq!(futures_lite::future::block_on(pending), WaitResult::Ok);
/// ```
///
/// # Blocking
/// Blocks until a helper thread has queued the wait (a thread hand-off), never longer.
///
/// # Panics
/// If no helper is idle and the OS refuses to start another thread; [`try_wait_async`]
/// returns that as an error instead.
pub fn wait_async<A: Waitable>(
    location: &A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> WaitAsync<'_> {
    match try_wait_async(location, expected, timeout) {
        Ok(wait) => wait,
        Err(error) => panic!("{error}"),
    }
}

/// [`wait_async`], with a helper thread the OS refuses to start reported as an error.
///
/// ```
/// use agentsync::{notify, polyfill, WaitResult};
/// use std::sync::atomic::AtomicI32;
///
/// let word = AtomicI32::new(0);
/// let pending = polyfill::try_wait_async(&word, 0, None).expect("a helper thread started");
/// assert_eq!(notify(&word, 1), 1);
/// assert_eq!(futures_lite::future::block_on(pending), WaitResult::Ok);
/// ```
///
/// # Errors
/// [`HelperUnavailable`] if no helper is idle and the OS refuses to start another thread.
/// Nothing is queued then: the location's waiters and a later `notify` are unaffected.
///
/// # Blocking
/// As [`wait_async`].
pub fn try_wait_async<A: Waitable>(
    location: &A,
    expected: A::Value,
    timeout: Option<Duration>,
) -> Result<WaitAsync<'_>, HelperUnavailable> {
    if location.load_seqcst() != expected {
        return Ok(WaitAsync::Sync(WaitResult::NotEqual));
    }
    if timeout == Some(Duration::ZERO) {
        return Ok(WaitAsync::Sync(WaitResult::TimedOut));
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let slot = Arc::new(Slot::default());
    let location_ptr = SendPtr(location as *const A);
    let helper_slot = Arc::clone(&slot);
    let job: Job = Box::new(move || {
        let location_ptr = location_ptr;
        let result = futex::park(
            location_ptr.key(),
            || {
                // SAFETY: the caller blocks in `wait_async` (below) until this check has run,
                // so the location is borrowed for the whole of it.
                let queued = unsafe { &*location_ptr.0 }.load_seqcst() == expected;
                let mut state = lock(&helper_slot.state);
                state.checked = Some(queued);
                helper_slot.checked.notify_one();
                queued
            },
            deadline,
            crate::spin::Policy::Adaptive,
        );
        let waker = {
            let mut state = lock(&helper_slot.state);
            state.result = Some(result);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
    pool().submit(job)?;
    let mut state = lock(&slot.state);
    let queued = loop {
        match state.checked {
            Some(queued) => break queued,
            None => state = slot.checked.wait(state).unwrap_or_else(|e| e.into_inner()),
        }
    };
    drop(state);
    Ok(if queued {
        WaitAsync::Async(PolyfillFuture {
            slot,
            _location: PhantomData,
        })
    } else {
        WaitAsync::Sync(WaitResult::NotEqual)
    })
}

/// The OS refused to start a helper thread for the polyfill (a thread or memory limit).
#[derive(Debug)]
pub struct HelperUnavailable(std::io::Error);

impl std::fmt::Display for HelperUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agentsync polyfill: cannot start a helper thread: {}",
            self.0
        )
    }
}

impl std::error::Error for HelperUnavailable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

struct SendPtr<A>(*const A);
// SAFETY: the pointer is only dereferenced while the caller of `wait_async` keeps the location
// borrowed (it waits for the check), and `Waitable` locations are `Sync`.
unsafe impl<A: Sync> Send for SendPtr<A> {}

impl<A: Waitable> SendPtr<A> {
    fn key(&self) -> usize {
        self.0 as *const u8 as usize
    }
}

impl Future for PolyfillFuture<'_> {
    type Output = WaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitResult> {
        let mut state = lock(&self.slot.state);
        if let Some(result) = state.result {
            return Poll::Ready(result);
        }
        if !state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    /// Helpers waiting for a job.
    idle: usize,
    /// Helpers alive.
    helpers: usize,
}

fn pool() -> &'static Pool {
    static POOL: Pool = Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            idle: 0,
            helpers: 0,
        }),
        work: Condvar::new(),
    };
    &POOL
}

/// How many helper threads are alive (busy or idle).
pub fn helper_threads() -> usize {
    lock(&pool().state).helpers
}

impl Pool {
    /// Queues `job` for a helper, starting one if none is idle. If the OS refuses, the job is
    /// taken back out (it has not run: nothing was queued on the location) and the error
    /// returned.
    fn submit(&'static self, job: Job) -> Result<(), HelperUnavailable> {
        // The job's address identifies it in the queue (it captures data, so it is not a
        // zero-sized box with a shared dangling address).
        let id = (&*job as *const (dyn FnOnce() + Send)).cast::<()>();
        let mut state = lock(&self.state);
        state.jobs.push_back(job);
        if state.jobs.len() <= state.idle {
            drop(state);
            self.work.notify_one();
            return Ok(());
        }
        state.helpers += 1;
        drop(state);
        let spawned = std::thread::Builder::new()
            .name("agentsync-polyfill".into())
            .stack_size(HELPER_STACK)
            .spawn(move || self.run());
        if let Err(error) = spawned {
            let mut state = lock(&self.state);
            state.helpers -= 1;
            // A helper that finished its job meanwhile may have taken ours: then it runs.
            let queued = state.jobs.iter().position(|queued| {
                std::ptr::eq((&**queued as *const (dyn FnOnce() + Send)).cast::<()>(), id)
            });
            if let Some(position) = queued {
                state.jobs.remove(position);
                return Err(HelperUnavailable(error));
            }
        }
        Ok(())
    }

    fn run(&'static self) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                // A waker that panics in `wake` must not kill the helper (the pool would count
                // a dead helper as alive); the panic is the waker's, not the pool's.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                state = lock(&self.state);
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.jobs.is_empty() {
                state.helpers -= 1;
                return;
            }
        }
    }
}
