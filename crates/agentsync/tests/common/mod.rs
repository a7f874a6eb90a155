//! Helpers shared by the integration tests.
#![allow(dead_code)]

use agentsync::Waitable;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

/// Generous bound for "this must happen": a failure, not a speed check.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Repeats `step` until `done` holds. A hang guard, not a speed check: if [`PATIENCE`] passes
/// first, the thing the test waits for never happened (a lost wake-up, a timer that never
/// fired), and the test fails naming `what`.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool, mut step: impl FnMut()) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        if Instant::now() >= deadline {
            panic!("gave up after {PATIENCE:?}: {what}");
        }
        step();
    }
}

/// Spins until `n` waiters are queued on `location`; panics after [`PATIENCE`].
pub fn wait_until_queued<A: Waitable>(location: &A, n: usize) {
    eventually(
        &format!("never saw {n} waiters queued"),
        || agentsync::waiter_count(location) >= n,
        std::thread::yield_now,
    );
}

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct CountingWaker(pub AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl CountingWaker {
    pub fn new() -> (Arc<Self>, Waker) {
        let counter = Arc::new(Self::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    pub fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// Polls `future` once with `waker`.
pub fn poll_once<F: std::future::Future + Unpin>(
    future: &mut F,
    waker: &Waker,
) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(waker);
    std::pin::Pin::new(future).poll(&mut cx)
}

/// Runs `f` on its own thread and returns its result, failing (naming `what`) if it has not
/// returned after [`PATIENCE`]: a hang guard for calls that must return whatever state they
/// find. A panic in `f` is passed on. A hung thread is left behind (the test has failed).
pub fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = done.send(f());
    });
    match result.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it returns"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("still running after {PATIENCE:?}: {what}")
        }
    }
}
