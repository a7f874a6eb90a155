//! `wait_async_create`, `wait_async_notify`, `wait_async_bytes`: the cost of a pending async
//! waiter, for the native path, the helper-thread polyfill and Node.js.
//!
//! The native path and Node are measured at 100,000 pending waiters on one location. The
//! polyfill holds one OS thread per pending waiter, so it is measured at a smaller count (2,000,
//! 500 with `--quick`) and reported per waiter; the count is in the note.

use std::sync::atomic::AtomicI32;
use std::time::{Duration, Instant};

use agentsync::polyfill::{self, PolyfillFuture};
use agentsync::{Settled, WaitFuture, WaitResult};

use super::{
    node, ns_per, thousands, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC, NATIVE_WAITERS,
};
use crate::alloc_count;

fn polyfill_waiters(config: &Config) -> usize {
    config.pick(2_000, 500)
}

/// What one batch of pending waiters cost.
struct Batch {
    create: Duration,
    notify: Duration,
    /// Live-heap growth while creating, when counted.
    heap: Option<isize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Measure {
    Create,
    Notify,
    Bytes,
}

/// Queues `waiters` pending waits on `word` with `start` (timing it, and counting the heap it
/// grows when asked), notifies them all in one call (timing it), and checks that every one was
/// queued, counted by the notify, and resolved `ok`. Resolving a native future that a notify
/// already decided returns at once; a polyfill future waits for its helper to report back, so
/// the next round finds the helpers idle.
fn batch<'w, F>(
    word: &'w AtomicI32,
    waiters: usize,
    count_bytes: bool,
    start: impl Fn(&'w AtomicI32) -> Result<Settled<F>, String>,
) -> Result<Batch, String>
where
    F: std::future::Future<Output = WaitResult> + Unpin,
{
    let mut futures: Vec<F> = Vec::with_capacity(waiters);
    let mut create = || -> Result<Duration, String> {
        let begin = Instant::now();
        for _ in 0..waiters {
            match start(word)? {
                Settled::Async(future) => futures.push(future),
                Settled::Sync(result) => {
                    return Err(format!("wait_async settled at once: {result}"))
                }
            }
        }
        Ok(begin.elapsed())
    };
    let (create, heap) = if count_bytes {
        let (created, heap) = alloc_count::measure(create);
        (created?, heap)
    } else {
        (create()?, None)
    };
    let begin = Instant::now();
    let woken = agentsync::notify(word, usize::MAX);
    let notify = begin.elapsed();
    let delivered = futures
        .into_iter()
        .map(futures_lite::future::block_on)
        .filter(|result| *result == WaitResult::Ok)
        .count();
    if woken != waiters || delivered != waiters {
        return Err(format!(
            "notify woke {woken} and {delivered} futures saw ok, expected {waiters}"
        ));
    }
    Ok(Batch {
        create,
        notify,
        heap,
    })
}

fn native_batch(waiters: usize, count_bytes: bool) -> Result<Batch, String> {
    let word = AtomicI32::new(0);
    batch(&word, waiters, count_bytes, |word| {
        Ok(agentsync::wait_async(word, 0, None))
    })
}

fn polyfill_batch(waiters: usize, count_bytes: bool) -> Result<Batch, String> {
    let word = AtomicI32::new(0);
    batch(&word, waiters, count_bytes, |word| {
        polyfill::try_wait_async(word, 0, None).map_err(|error| error.to_string())
    })
}

fn report(
    batch: &Batch,
    waiters: usize,
    measure: Measure,
    fixed_bytes: usize,
    what: &str,
) -> Result<Outcome, String> {
    Ok(Outcome::Measured(match measure {
        Measure::Create => {
            Sample::noted(ns_per(batch.create, waiters), format!("{waiters} waiters"))
        }
        Measure::Notify => Sample::noted(
            ns_per(batch.notify, waiters),
            format!("{waiters} waiters, one notify(all) call"),
        ),
        Measure::Bytes => match batch.heap {
            Some(heap) => Sample::noted(
                heap as f64 / waiters as f64 + fixed_bytes as f64,
                format!("{waiters} waiters; {what}"),
            ),
            None => {
                return Ok(Outcome::Skipped(
                    "the counting allocator is not installed".into(),
                ))
            }
        },
    }))
}

fn native(config: &Config, measure: Measure) -> Result<Outcome, String> {
    let _ = config;
    let batch = native_batch(NATIVE_WAITERS, measure == Measure::Bytes)?;
    let future = std::mem::size_of::<WaitFuture<'_>>();
    report(
        &batch,
        NATIVE_WAITERS,
        measure,
        future,
        &format!("heap per record + the {future}-byte future"),
    )
}

fn polyfilled(config: &Config, measure: Measure) -> Result<Outcome, String> {
    let waiters = polyfill_waiters(config);
    let batch = polyfill_batch(waiters, measure == Measure::Bytes)?;
    let future = std::mem::size_of::<PolyfillFuture<'_>>();
    report(
        &batch,
        waiters,
        measure,
        future + polyfill::HELPER_STACK,
        &format!(
            "heap + {future}-byte future + one helper stack ({} KiB reserved); kernel thread state not counted",
            polyfill::HELPER_STACK / 1024
        ),
    )
}

macro_rules! waiter_impls {
    ($measure:expr, $node:literal) => {
        &[
            Impl {
                name: AGENTSYNC,
                run: |c| native(c, $measure),
            },
            Impl {
                name: "polyfill",
                run: |c| polyfilled(c, $measure),
            },
            Impl {
                name: "node",
                run: |c| node::run($node, c),
            },
        ]
    };
}

/// The pending-waiter scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "wait_async_create",
        unit: "ns/waiter",
        what: |config| {
            format!(
                "queue one pending wait_async ({} on one word; polyfill {})",
                thousands(NATIVE_WAITERS),
                thousands(polyfill_waiters(config))
            )
        },
        impls: waiter_impls!(Measure::Create, "wait_async_create"),
    },
    Scenario {
        name: "wait_async_notify",
        unit: "ns/waiter",
        what: |config| {
            format!(
                "one notify(all) over {} pending async waiters (polyfill {}), per waiter",
                thousands(NATIVE_WAITERS),
                thousands(polyfill_waiters(config))
            )
        },
        impls: waiter_impls!(Measure::Notify, "wait_async_notify"),
    },
    Scenario {
        name: "wait_async_bytes",
        unit: "bytes/waiter",
        what: |config| {
            format!(
                "memory held by one pending async waiter ({}; polyfill {})",
                thousands(NATIVE_WAITERS),
                thousands(polyfill_waiters(config))
            )
        },
        impls: waiter_impls!(Measure::Bytes, "wait_async_bytes"),
    },
];
