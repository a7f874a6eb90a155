//! Layer-3 primitives beside their peers, in one run (ratios matter, not absolute times).
//!
//! ```text
//! cargo bench -p agentsync --features lock_api --bench sync -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! - `uncontended`: one lock + unlock; agentsync vs `std::sync::Mutex` vs `parking_lot::Mutex`.
//! - `contended_N`: N threads each doing `OPS` lock / increment / unlock; same peers.
//! - `async_contended`: 4 tasks on a 2-worker tokio runtime, each `OPS` lock / increment /
//!   unlock; agentsync `lock_async` vs `tokio::sync::Mutex` vs `async_lock::Mutex`.
//! - `queue`: 2 producers and 2 consumers moving `ITEMS` `i32`s through 64 slots; agentsync
//!   `Queue<64>` vs `crossbeam_channel::bounded(64)`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

/// Lock operations per thread or task in the contended groups.
const OPS: u64 = 10_000;
/// Items through the queue per iteration.
const ITEMS: usize = 20_000;

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended");
    let ours = agentsync::Mutex::new(0u64);
    group.bench_function("agentsync", |b| b.iter(|| *black_box(&ours).lock() += 1));
    let std_mutex = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| {
        b.iter(|| *black_box(&std_mutex).lock().unwrap() += 1)
    });
    let parking = parking_lot::Mutex::new(0u64);
    group.bench_function("parking_lot", |b| {
        b.iter(|| *black_box(&parking).lock() += 1)
    });
    group.finish();
}

/// Runs `threads` threads each calling `op` `OPS` times; returns the time for `iters` rounds.
fn contended_run(iters: u64, threads: usize, op: &(dyn Fn() + Sync)) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| (0..OPS).for_each(|_| op()));
            }
        });
    }
    start.elapsed()
}

fn contended(c: &mut Criterion) {
    for threads in [2, 4] {
        let mut group = c.benchmark_group(format!("contended_{threads}"));
        let ours = agentsync::Mutex::new(0u64);
        group.bench_function("agentsync", |b| {
            b.iter_custom(|iters| contended_run(iters, threads, &|| *ours.lock() += 1))
        });
        let std_mutex = std::sync::Mutex::new(0u64);
        group.bench_function("std", |b| {
            b.iter_custom(|iters| {
                contended_run(iters, threads, &|| *std_mutex.lock().unwrap() += 1)
            })
        });
        let parking = parking_lot::Mutex::new(0u64);
        group.bench_function("parking_lot", |b| {
            b.iter_custom(|iters| contended_run(iters, threads, &|| *parking.lock() += 1))
        });
        group.finish();
    }
}

/// Spawns 4 tasks each running `task()` and waits for all, `iters` times.
fn async_run<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, task: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    for _ in 0..iters {
        rt.block_on(async {
            let handles: Vec<_> = (0..4).map(|_| tokio::spawn(task())).collect();
            for handle in handles {
                handle.await.unwrap();
            }
        });
    }
    start.elapsed()
}

fn async_contended(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("async_contended");
    let ours = Arc::new((agentsync::sync::Mutex::new(), AtomicU64::new(0)));
    group.bench_function("agentsync", |b| {
        b.iter_custom(|iters| {
            async_run(&rt, iters, || {
                let ours = Arc::clone(&ours);
                async move {
                    for _ in 0..OPS {
                        let _guard = ours.0.lock_async().await;
                        ours.1.store(ours.1.load(Relaxed) + 1, Relaxed);
                    }
                }
            })
        })
    });
    let tokio_mutex = Arc::new(tokio::sync::Mutex::new(0u64));
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            async_run(&rt, iters, || {
                let mutex = Arc::clone(&tokio_mutex);
                async move {
                    for _ in 0..OPS {
                        *mutex.lock().await += 1;
                    }
                }
            })
        })
    });
    let async_lock_mutex = Arc::new(async_lock::Mutex::new(0u64));
    group.bench_function("async_lock", |b| {
        b.iter_custom(|iters| {
            async_run(&rt, iters, || {
                let mutex = Arc::clone(&async_lock_mutex);
                async move {
                    for _ in 0..OPS {
                        *mutex.lock().await += 1;
                    }
                }
            })
        })
    });
    group.finish();
}

/// 2 producers and 2 consumers, `ITEMS` in total, `iters` times.
fn queue_run(iters: u64, send: &(dyn Fn(i32) + Sync), recv: &(dyn Fn() -> i32 + Sync)) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| (0..ITEMS / 2).for_each(|i| send(i as i32)));
                s.spawn(|| {
                    (0..ITEMS / 2).for_each(|_| {
                        black_box(recv());
                    })
                });
            }
        });
    }
    start.elapsed()
}

fn queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue");
    let storage = agentsync::sync::Queue::<64>::new();
    let ours = storage.handle();
    group.bench_function("agentsync", |b| {
        b.iter_custom(|iters| {
            queue_run(iters, &|v| ours.send(v).unwrap(), &|| ours.recv().unwrap())
        })
    });
    let (tx, rx) = crossbeam_channel::bounded::<i32>(64);
    group.bench_function("crossbeam", |b| {
        b.iter_custom(|iters| queue_run(iters, &|v| tx.send(v).unwrap(), &|| rx.recv().unwrap()))
    });
    group.finish();
}

criterion_group!(benches, uncontended, contended, async_contended, queue);
criterion_main!(benches);
