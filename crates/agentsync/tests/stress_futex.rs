//! Stress of the futex with threads and async tasks (under tokio and under futures-lite)
//! waiting on and notifying a few locations with random timeouts and random cancellations.
//!
//! Invariant: the sum of what `notify` returned equals the number of `ok` results delivered
//! (a cancel that finds its record already notified counts as delivered: `cancel()` returns
//! `Some(Ok)`), and no waiter is left queued at the end.
//!
//! Runs for `AGENTSYNC_STRESS_MS` milliseconds (default 1500). CI also runs it under
//! AddressSanitizer (the last steps of `.ci/run`), where a notifier that touches a waiter record
//! after the waiter may have returned (a freed future, a popped stack frame) fails the run.

mod common;

use agentsync::{notify, wait, wait_async, waiter_count, WaitAsync, WaitResult};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const LOCATIONS: usize = 4;

#[derive(Default)]
struct Tally {
    notified: AtomicUsize,
    ok: AtomicUsize,
    timed_out: AtomicUsize,
    cancelled: AtomicUsize,
}

struct World {
    words: [AtomicI32; LOCATIONS],
    stop: AtomicBool,
    tally: Tally,
}

fn random_timeout(rng: &mut fastrand::Rng) -> Option<Duration> {
    match rng.u8(0..4) {
        0 => None,
        1 => Some(Duration::ZERO),
        _ => Some(Duration::from_micros(rng.u64(1..2_000))),
    }
}

fn record(tally: &Tally, result: WaitResult) {
    match result {
        WaitResult::Ok => tally.ok.fetch_add(1, SeqCst),
        WaitResult::TimedOut => tally.timed_out.fetch_add(1, SeqCst),
        WaitResult::NotEqual => panic!("the words never change, so not-equal is impossible"),
    };
}

fn blocking_waiter(world: &World, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !world.stop.load(SeqCst) {
        let word = &world.words[rng.usize(..LOCATIONS)];
        record(
            &world.tally,
            wait(word, 0, random_timeout(&mut rng)).unwrap(),
        );
    }
}

/// One async wait that is awaited, or cancelled after a random delay (tokio).
async fn tokio_waiter(world: Arc<World>, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !world.stop.load(SeqCst) {
        let word = &world.words[rng.usize(..LOCATIONS)];
        let future = match wait_async(word, 0, random_timeout(&mut rng)) {
            WaitAsync::Sync(result) => {
                record(&world.tally, result);
                tokio::task::yield_now().await;
                continue;
            }
            WaitAsync::Async(future) => future,
        };
        if rng.bool() {
            record(&world.tally, future.await);
            continue;
        }
        let mut future = future;
        let patience = Duration::from_micros(rng.u64(0..500));
        tokio::select! {
            result = &mut future => record(&world.tally, result),
            _ = tokio::time::sleep(patience) => match future.cancel() {
                None => { world.tally.cancelled.fetch_add(1, SeqCst); }
                Some(result) => record(&world.tally, result),
            },
        }
    }
}

/// Async waits polled by futures-lite on a plain thread; some are cancelled after one poll,
/// some dropped unpolled-and-undecided through `cancel`.
fn lite_waiter(world: &World, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !world.stop.load(SeqCst) {
        let word = &world.words[rng.usize(..LOCATIONS)];
        let mut outcome = wait_async(word, 0, random_timeout(&mut rng));
        match rng.u8(0..3) {
            0 => record(&world.tally, futures_lite::future::block_on(outcome)),
            _ => {
                let polled =
                    futures_lite::future::block_on(futures_lite::future::poll_once(&mut outcome));
                match (polled, outcome) {
                    (Some(result), _) => record(&world.tally, result),
                    (None, WaitAsync::Async(future)) => match future.cancel() {
                        None => {
                            world.tally.cancelled.fetch_add(1, SeqCst);
                        }
                        Some(result) => record(&world.tally, result),
                    },
                    (None, WaitAsync::Sync(_)) => unreachable!("a sync result is always ready"),
                }
            }
        }
    }
}

fn notifier(world: &World, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !world.stop.load(SeqCst) {
        let count = if rng.u8(0..8) == 0 {
            usize::MAX
        } else {
            rng.usize(1..3)
        };
        let woke = notify(&world.words[rng.usize(..LOCATIONS)], count);
        world.tally.notified.fetch_add(woke, SeqCst);
        if rng.u8(0..4) == 0 {
            thread::yield_now();
        }
    }
}

#[test]
fn stress_threads_and_tasks_keep_notify_and_ok_counts_equal() {
    let millis = std::env::var("AGENTSYNC_STRESS_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let world = Arc::new(World {
        words: std::array::from_fn(|_| AtomicI32::new(0)),
        stop: AtomicBool::new(false),
        tally: Tally::default(),
    });
    let seed = fastrand::u64(..);
    eprintln!("stress seed {seed}");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| runtime.spawn(tokio_waiter(Arc::clone(&world), seed ^ (100 + i))))
        .collect();
    let mut threads = Vec::new();
    for i in 0..2 {
        let w = Arc::clone(&world);
        threads.push(thread::spawn(move || blocking_waiter(&w, seed ^ (200 + i))));
        let w = Arc::clone(&world);
        threads.push(thread::spawn(move || lite_waiter(&w, seed ^ (300 + i))));
        let w = Arc::clone(&world);
        threads.push(thread::spawn(move || notifier(&w, seed ^ (400 + i))));
    }

    thread::sleep(Duration::from_millis(millis));
    world.stop.store(true, SeqCst);
    // Wake whoever still waits forever, until every participant has finished.
    common::eventually(
        "participants never finished: a lost wake-up?",
        || threads.iter().all(|t| t.is_finished()) && tasks.iter().all(|t| t.is_finished()),
        || {
            for word in &world.words {
                world
                    .tally
                    .notified
                    .fetch_add(notify(word, usize::MAX), SeqCst);
            }
            thread::sleep(Duration::from_millis(1));
        },
    );
    for t in threads {
        t.join().unwrap();
    }
    for t in tasks {
        runtime.block_on(t).unwrap();
    }

    let tally = &world.tally;
    let (notified, ok) = (tally.notified.load(SeqCst), tally.ok.load(SeqCst));
    eprintln!(
        "notified {notified}, ok {ok}, timed out {}, cancelled {}",
        tally.timed_out.load(SeqCst),
        tally.cancelled.load(SeqCst)
    );
    assert_eq!(
        notified, ok,
        "every notification must be delivered exactly once"
    );
    for word in &world.words {
        assert_eq!(waiter_count(word), 0, "a waiter was left queued");
    }
    assert!(
        ok > 0 && tally.timed_out.load(SeqCst) > 0 && tally.cancelled.load(SeqCst) > 0,
        "the run exercised every outcome"
    );
}
