//! `rwlock_read_mostly_4t`, `async_contended_lock`, `queue_throughput`: layer-3 primitives
//! against the crates people would otherwise reach for.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use super::{noted, ns_per, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC};

/// Tasks contending for the async lock, on a runtime of [`WORKERS`] threads.
const TASKS: usize = 4;
const WORKERS: usize = 2;
/// Ring slots of the bounded queues.
const SLOTS: usize = 64;

/// Threads of the read-mostly scenario, and how many of each thread's operations are writes.
const RW_THREADS: usize = 4;
const WRITE_EVERY: usize = 8;

/// A counter behind a reader-writer lock.
trait RwCounter: Sync {
    fn zero() -> Self;
    fn write_increment(&self);
    fn read(&self) -> u64;
}

impl RwCounter for agentsync::RwLock<u64> {
    fn zero() -> Self {
        agentsync::RwLock::new(0)
    }
    fn write_increment(&self) {
        *self.write() += 1;
    }
    fn read(&self) -> u64 {
        *self.read()
    }
}

impl RwCounter for parking_lot::RwLock<u64> {
    fn zero() -> Self {
        parking_lot::RwLock::new(0)
    }
    fn write_increment(&self) {
        *self.write() += 1;
    }
    fn read(&self) -> u64 {
        *self.read()
    }
}

impl RwCounter for std::sync::RwLock<u64> {
    fn zero() -> Self {
        std::sync::RwLock::new(0)
    }
    fn write_increment(&self) {
        *self.write().unwrap_or_else(|e| e.into_inner()) += 1;
    }
    fn read(&self) -> u64 {
        *self.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// [`RW_THREADS`] threads share one counter: one operation in [`WRITE_EVERY`] increments it
/// under the write lock, the others read it under the read lock; time per operation.
fn read_mostly<L: RwCounter>(config: &Config) -> Result<Outcome, String> {
    let per_thread = config.pick(1_000_000, 100_000) / RW_THREADS / WRITE_EVERY * WRITE_EVERY;
    let lock = L::zero();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..RW_THREADS {
            scope.spawn(|| {
                for i in 0..per_thread {
                    if i % WRITE_EVERY == 0 {
                        lock.write_increment();
                    } else {
                        std::hint::black_box(lock.read());
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let writes = (RW_THREADS * per_thread / WRITE_EVERY) as u64;
    match lock.read() {
        count if count == writes => Ok(Outcome::Measured(Sample::new(ns_per(
            elapsed,
            RW_THREADS * per_thread,
        )))),
        count => Err(format!(
            "write exclusion broken: counter is {count}, expected {writes}"
        )),
    }
}

/// A counter behind an async lock.
trait AsyncCounter: Send + Sync + 'static {
    fn zero() -> Self;
    /// Lock, add one, unlock.
    fn increment(&self) -> impl Future<Output = ()> + Send + '_;
    fn count(&self) -> u64;
}

/// agentsync's word mutex guarding a load-then-store increment, which would lose updates if
/// two tasks ever held the lock at once.
struct AgentsyncCounter {
    lock: agentsync::sync::Mutex,
    count: AtomicU64,
}

impl AsyncCounter for AgentsyncCounter {
    fn zero() -> Self {
        AgentsyncCounter {
            lock: agentsync::sync::Mutex::new(),
            count: AtomicU64::new(0),
        }
    }
    async fn increment(&self) {
        let _guard = self.lock.lock_async().await;
        self.count.store(self.count.load(Relaxed) + 1, Relaxed);
    }
    fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }
}

impl AsyncCounter for tokio::sync::Mutex<u64> {
    fn zero() -> Self {
        tokio::sync::Mutex::new(0)
    }
    async fn increment(&self) {
        *self.lock().await += 1;
    }
    fn count(&self) -> u64 {
        *self.blocking_lock()
    }
}

impl AsyncCounter for async_lock::Mutex<u64> {
    fn zero() -> Self {
        async_lock::Mutex::new(0)
    }
    async fn increment(&self) {
        *self.lock().await += 1;
    }
    fn count(&self) -> u64 {
        *self.lock_blocking()
    }
}

/// [`TASKS`] tasks on a [`WORKERS`]-thread tokio runtime increment one counter; time per
/// increment over all of them.
fn async_contended<C: AsyncCounter>(config: &Config) -> Result<Outcome, String> {
    let operations = config.pick(400_000, 40_000) / TASKS * TASKS;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .map_err(|error| format!("cannot start a tokio runtime: {error}"))?;
    let counter = Arc::new(C::zero());
    let start = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    for _ in 0..operations / TASKS {
                        counter.increment().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await
                .map_err(|error| format!("a locking task failed: {error}"))?;
        }
        Ok::<(), String>(())
    })?;
    let elapsed = start.elapsed();
    match counter.count() {
        count if count == operations as u64 => {
            Ok(Outcome::Measured(Sample::new(ns_per(elapsed, operations))))
        }
        count => Err(format!(
            "mutual exclusion broken: counter is {count}, expected {operations}"
        )),
    }
}

/// A bounded channel of `i32`.
trait Channel: Sync {
    fn with_slots(slots: usize) -> Self;
    fn send(&self, value: i32) -> Result<(), String>;
    fn recv(&self) -> Result<i32, String>;
}

impl Channel for agentsync::sync::Queue<SLOTS> {
    fn with_slots(_: usize) -> Self {
        agentsync::sync::Queue::new()
    }
    fn send(&self, value: i32) -> Result<(), String> {
        self.handle()
            .send(value)
            .map_err(|error| format!("send failed: {error:?}"))
    }
    fn recv(&self) -> Result<i32, String> {
        self.handle()
            .recv()
            .map_err(|error| format!("recv failed: {error:?}"))
    }
}

impl Channel
    for (
        crossbeam_channel::Sender<i32>,
        crossbeam_channel::Receiver<i32>,
    )
{
    fn with_slots(slots: usize) -> Self {
        crossbeam_channel::bounded(slots)
    }
    fn send(&self, value: i32) -> Result<(), String> {
        self.0.send(value).map_err(|error| error.to_string())
    }
    fn recv(&self) -> Result<i32, String> {
        self.1.recv().map_err(|error| error.to_string())
    }
}

/// `PAIRS` producer and `PAIRS` consumer threads move `items` values through [`SLOTS`]
/// slots; time per item. Every value must arrive exactly once (checked by count and sum).
fn queue_throughput<C: Channel, const PAIRS: usize>(config: &Config) -> Result<Outcome, String> {
    let per_producer = config.pick(500_000, 50_000) / PAIRS;
    let items = per_producer * PAIRS;
    let channel = C::with_slots(SLOTS);
    let start = Instant::now();
    let received: Vec<Result<(usize, u64), String>> = std::thread::scope(|scope| {
        let channel = &channel;
        for _ in 0..PAIRS {
            scope.spawn(move || {
                for value in 0..per_producer {
                    // Sends fail only on a closed queue or vanished receivers, neither of which
                    // happens here; a failure would show up below as missing items.
                    if channel.send(value as i32).is_err() {
                        return;
                    }
                }
            });
        }
        let consumers: Vec<_> = (0..PAIRS)
            .map(|_| {
                scope.spawn(move || {
                    let mut sum = 0u64;
                    for _ in 0..per_producer {
                        sum += channel.recv()? as u64;
                    }
                    Ok((per_producer, sum))
                })
            })
            .collect();
        consumers
            .into_iter()
            .map(|consumer| {
                consumer
                    .join()
                    .unwrap_or_else(|_| Err("a consumer panicked".into()))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let (mut count, mut sum) = (0, 0u64);
    for consumer in received {
        let (n, s) = consumer?;
        count += n;
        sum += s;
    }
    let expected_sum = PAIRS as u64 * (per_producer as u64 * (per_producer as u64 - 1) / 2);
    if count != items || sum != expected_sum {
        return Err(format!(
            "queue lost or duplicated items: {count} received (sum {sum}), expected {items} (sum {expected_sum})"
        ));
    }
    Ok(Outcome::Measured(Sample::new(ns_per(elapsed, items))))
}

macro_rules! queue_impls {
    ($pairs:literal) => {
        &[
            Impl {
                name: AGENTSYNC,
                run: |c| {
                    noted(
                        queue_throughput::<agentsync::sync::Queue<SLOTS>, $pairs>(c),
                        "agentsync::sync::Queue (a Vyukov ring in plain words, futex waits)",
                    )
                },
            },
            Impl {
                name: "crossbeam",
                run: queue_throughput::<
                    (
                        crossbeam_channel::Sender<i32>,
                        crossbeam_channel::Receiver<i32>,
                    ),
                    $pairs,
                >,
            },
        ]
    };
}

/// The primitive scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "rwlock_read_mostly_4t",
        unit: "ns/op",
        what: |_| {
            "4 threads share one counter: 1 op in 8 increments it (write lock), 7 read it".into()
        },
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: |c| {
                    noted(
                        read_mostly::<agentsync::RwLock<u64>>(c),
                        "agentsync::RwLock (one word, writer preference, lock_api guards)",
                    )
                },
            },
            Impl {
                name: "std",
                run: read_mostly::<std::sync::RwLock<u64>>,
            },
            Impl {
                name: "parking_lot",
                run: read_mostly::<parking_lot::RwLock<u64>>,
            },
        ],
    },
    Scenario {
        name: "async_contended_lock",
        unit: "ns/op",
        what: |_| {
            "4 tasks on a 2-thread tokio runtime increment one counter behind an async lock".into()
        },
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: |c| {
                    noted(
                        async_contended::<AgentsyncCounter>(c),
                        "agentsync::sync::Mutex::lock_async",
                    )
                },
            },
            Impl {
                name: "tokio",
                run: async_contended::<tokio::sync::Mutex<u64>>,
            },
            Impl {
                name: "async_lock",
                run: async_contended::<async_lock::Mutex<u64>>,
            },
        ],
    },
    Scenario {
        name: "queue_throughput",
        unit: "ns/item",
        what: |_| {
            "2 producer and 2 consumer threads move i32s through a bounded queue of 64 slots".into()
        },
        impls: queue_impls!(2),
    },
    Scenario {
        name: "queue_4p4c",
        unit: "ns/item",
        what: |_| {
            "4 producer and 4 consumer threads move i32s through a bounded queue of 64 slots (more runnable threads than cores, on most machines)".into()
        },
        impls: queue_impls!(4),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rwlock_keeps_the_count() {
        let config = Config { quick: true };
        for run in [
            read_mostly::<agentsync::RwLock<u64>>,
            read_mostly::<std::sync::RwLock<u64>>,
            read_mostly::<parking_lot::RwLock<u64>>,
        ] {
            assert!(matches!(run(&config), Ok(Outcome::Measured(_))));
        }
    }

    #[test]
    fn every_async_lock_keeps_the_count() {
        let config = Config { quick: true };
        for run in [
            async_contended::<AgentsyncCounter>,
            async_contended::<tokio::sync::Mutex<u64>>,
            async_contended::<async_lock::Mutex<u64>>,
        ] {
            assert!(matches!(run(&config), Ok(Outcome::Measured(_))));
        }
    }

    #[test]
    fn every_queue_delivers_each_item_once() {
        let config = Config { quick: true };
        assert!(matches!(
            queue_throughput::<agentsync::sync::Queue<SLOTS>, 2>(&config),
            Ok(Outcome::Measured(_))
        ));
        assert!(matches!(
            queue_throughput::<agentsync::sync::Queue<SLOTS>, 4>(&config),
            Ok(Outcome::Measured(_))
        ));
        assert!(matches!(
            queue_throughput::<
                (
                    crossbeam_channel::Sender<i32>,
                    crossbeam_channel::Receiver<i32>,
                ),
                2,
            >(&config),
            Ok(Outcome::Measured(_))
        ));
    }
}
