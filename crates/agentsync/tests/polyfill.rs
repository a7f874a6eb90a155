//! Layer 4: the helper-thread polyfill of `wait_async` gives the native results, shares the
//! location's FIFO queue, and keeps its pool honest when a waker panics.
//!
//! One test binary, run serially through `POOL` (the pool is process-wide, and the panic test
//! counts its threads).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use agentsync::polyfill;
use agentsync::polyfill::WaitAsync;
use agentsync::{notify, WaitResult};
use common::eventually;
use futures_lite::future::block_on;

static POOL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn polyfill_gives_the_native_synchronous_results() {
    let _pool = serial();
    let word = AtomicI32::new(7);
    assert!(matches!(
        polyfill::try_wait_async(&word, 0, None).unwrap(),
        WaitAsync::Sync(WaitResult::NotEqual)
    ));
    assert!(matches!(
        polyfill::try_wait_async(&word, 7, Some(Duration::ZERO)).unwrap(),
        WaitAsync::Sync(WaitResult::TimedOut)
    ));
    assert_eq!(notify(&word, usize::MAX), 0, "nothing was queued");
}

#[test]
fn polyfill_and_native_waiters_share_one_fifo_queue() {
    let _pool = serial();
    let word = AtomicI32::new(0);
    let first = polyfill::try_wait_async(&word, 0, None).unwrap();
    let second = agentsync::wait_async(&word, 0, None);
    assert_eq!(
        agentsync::waiter_count(&word),
        2,
        "both queued before returning"
    );
    assert_eq!(notify(&word, 1), 1);
    assert_eq!(
        block_on(first),
        WaitResult::Ok,
        "the older (polyfill) waiter woke first"
    );
    assert_eq!(notify(&word, 1), 1);
    assert_eq!(block_on(second), WaitResult::Ok);
    assert_eq!(agentsync::waiter_count(&word), 0);
}

#[test]
fn polyfill_times_out() {
    let _pool = serial();
    let word = AtomicI32::new(0);
    let wait = polyfill::try_wait_async(&word, 0, Some(Duration::from_millis(5))).unwrap();
    assert_eq!(block_on(wait), WaitResult::TimedOut);
    assert_eq!(notify(&word, 1), 0, "a timed-out waiter is off the list");
}

/// A waker that notes it was woken, then panics.
#[derive(Default)]
struct PanickingWaker(AtomicBool);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
        panic!("this waker panics on purpose");
    }
}

/// Live OS threads of this process named as polyfill helpers.
fn live_helpers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim_end() == "agentsync-polyf")
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_panicking_waker_does_not_kill_its_helper_or_skew_the_pool() {
    let _pool = serial();
    let word = AtomicI32::new(0);
    let mut wait = match polyfill::try_wait_async(&word, 0, None).unwrap() {
        WaitAsync::Async(future) => future,
        WaitAsync::Sync(result) => panic!("expected a queued wait, got {result}"),
    };
    let panicking = Arc::new(PanickingWaker::default());
    let waker = Waker::from(Arc::clone(&panicking));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
    assert_eq!(notify(&word, 1), 1);
    eventually(
        "the helper never woke the waker",
        || panicking.0.load(SeqCst),
        std::thread::yield_now,
    );
    // The helper stored the result before it woke (and panicked in) the waker.
    assert_eq!(
        Pin::new(&mut wait).poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(WaitResult::Ok)
    );
    // Give a helper that the panic kills time to finish unwinding and exit (if the machine is
    // too slow for that, this test passes without showing anything; it never fails wrongly).
    std::thread::sleep(Duration::from_millis(200));
    // Every helper the pool counts is a live thread: one killed by the panic would stay
    // counted forever and never be reused.
    eventually(
        "the pool counts a helper that the waker's panic killed",
        || polyfill::helper_threads() == live_helpers(),
        || std::thread::sleep(Duration::from_millis(1)),
    );
}
