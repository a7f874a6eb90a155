//! Criterion benchmarks of the futex beside its peers, run side by side in one process:
//!
//! - `notify_no_waiters`: agentsync `notify` vs the raw Linux `FUTEX_WAKE` syscall;
//! - `pingpong`: two threads bouncing a word with wait/notify vs the raw futex;
//! - `thread_task_pingpong`: a thread and an async task vs tokio's `Notify`;
//! - `wait_async_per_waiter`: create and notify many pending `wait_async`s, native vs polyfill;
//! - bytes per pending waiter, printed (a counting allocator), native vs polyfill.
#![allow(missing_docs)]

use agentsync::{notify, wait, wait_async, WaitResult};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Counting;
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Relaxed);
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The Linux futex syscall on a word, the kernel's limit that our futex should approach: the
/// same wrapper `agentsync bench` uses.
#[allow(dead_code)]
#[path = "../../agentsync-cli/src/raw_futex.rs"]
mod raw;

fn notify_no_waiters(c: &mut Criterion) {
    let mut group = c.benchmark_group("notify_no_waiters");
    let word = AtomicU32::new(0);
    group.bench_function("agentsync", |b| b.iter(|| notify(&word, 1)));
    group.bench_function("raw_futex", |b| b.iter(|| raw::wake(&word, 1)));
    group.finish();
}

/// Round trips of a token between two threads: the main thread sets the word to 1 and waits
/// while it is 1; the partner waits while it is 0, sets it back to 0 and notifies.
fn pingpong_with(iters: u64, wait_while: fn(&AtomicU32, u32), wake: fn(&AtomicU32)) -> Duration {
    let word = Arc::new(AtomicU32::new(0));
    let partner = {
        let word = Arc::clone(&word);
        thread::spawn(move || {
            for _ in 0..iters {
                while word.load(SeqCst) == 0 {
                    wait_while(&word, 0);
                }
                word.store(0, SeqCst);
                wake(&word);
            }
        })
    };
    let start = Instant::now();
    for _ in 0..iters {
        word.store(1, SeqCst);
        wake(&word);
        while word.load(SeqCst) == 1 {
            wait_while(&word, 1);
        }
    }
    let elapsed = start.elapsed();
    partner.join().unwrap();
    elapsed
}

fn pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("pingpong");
    group.bench_function("agentsync", |b| {
        b.iter_custom(|iters| {
            pingpong_with(
                iters,
                |w, v| {
                    let _ = wait(w, v, None);
                },
                |w| {
                    notify(w, 1);
                },
            )
        })
    });
    group.bench_function("raw_futex", |b| {
        b.iter_custom(|iters| {
            pingpong_with(iters, raw::wait, |w| {
                raw::wake(w, 1);
            })
        })
    });
    group.finish();
}

/// A thread and a task on a current-thread runtime take turns; one iteration is a round trip.
fn thread_task_pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("thread_task_pingpong");
    group.bench_function("agentsync", |b| {
        b.iter_custom(|iters| {
            let word = Arc::new(AtomicI32::new(0));
            let task_side = {
                let word = Arc::clone(&word);
                thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        for _ in 0..iters {
                            while word.load(SeqCst) == 0 {
                                wait_async(&*word, 0, None).await;
                            }
                            word.store(0, SeqCst);
                            notify(&*word, 1);
                        }
                    })
                })
            };
            let start = Instant::now();
            for _ in 0..iters {
                word.store(1, SeqCst);
                notify(&*word, 1);
                while word.load(SeqCst) == 1 {
                    let _ = wait(&*word, 1, None);
                }
            }
            let elapsed = start.elapsed();
            task_side.join().unwrap();
            elapsed
        })
    });
    group.bench_function("tokio_notify", |b| {
        b.iter_custom(|iters| {
            let to_task = Arc::new(tokio::sync::Notify::new());
            let to_thread = Arc::new(tokio::sync::Notify::new());
            let task_side = {
                let (to_task, to_thread) = (Arc::clone(&to_task), Arc::clone(&to_thread));
                thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        for _ in 0..iters {
                            to_task.notified().await;
                            to_thread.notify_one();
                        }
                    })
                })
            };
            let start = Instant::now();
            for _ in 0..iters {
                to_task.notify_one();
                futures_lite::future::block_on(to_thread.notified());
            }
            let elapsed = start.elapsed();
            task_side.join().unwrap();
            elapsed
        })
    });
    group.finish();
}

/// Creates `n` pending waits, notifies them all, and resolves them. Returns the time per waiter.
fn create_and_notify(n: usize, polyfill: bool) -> Duration {
    let word = AtomicI32::new(0);
    let start = Instant::now();
    if polyfill {
        let pending: Vec<_> = (0..n)
            .map(|_| agentsync::polyfill::wait_async(&word, 0, None))
            .collect();
        assert_eq!(notify(&word, usize::MAX), n);
        for p in pending {
            assert_eq!(futures_lite::future::block_on(p), WaitResult::Ok);
        }
    } else {
        let pending: Vec<_> = (0..n).map(|_| wait_async(&word, 0, None)).collect();
        assert_eq!(notify(&word, usize::MAX), n);
        for p in pending {
            assert_eq!(futures_lite::future::block_on(p), WaitResult::Ok);
        }
    }
    start.elapsed() / n as u32
}

fn wait_async_per_waiter(c: &mut Criterion) {
    let mut group = c.benchmark_group("wait_async_per_waiter");
    group.sample_size(10);
    for (name, n, polyfill) in [("native", 100_000, false), ("polyfill", 1_000, true)] {
        group.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
            b.iter_custom(|iters| (0..iters).map(|_| create_and_notify(n, polyfill)).sum())
        });
    }
    group.finish();
    report_bytes_per_waiter();
}

/// Heap bytes per pending waiter (and, for the polyfill, the helper threads' stacks).
fn report_bytes_per_waiter() {
    let word = AtomicI32::new(0);
    let n = 100_000;
    let before = ALLOCATED.load(Relaxed);
    let pending: Vec<_> = (0..n).map(|_| wait_async(&word, 0, None)).collect();
    let heap = ALLOCATED.load(Relaxed) - before;
    let native = heap as f64 / n as f64;
    assert_eq!(notify(&word, usize::MAX), n);
    drop(pending);

    let n = 1_000;
    let helpers_before = agentsync::polyfill::helper_threads();
    let before = ALLOCATED.load(Relaxed);
    let pending: Vec<_> = (0..n)
        .map(|_| agentsync::polyfill::wait_async(&word, 0, None))
        .collect();
    let heap = ALLOCATED.load(Relaxed).saturating_sub(before);
    let helpers = agentsync::polyfill::helper_threads().saturating_sub(helpers_before);
    let stacks = helpers * agentsync::polyfill::HELPER_STACK;
    assert_eq!(notify(&word, usize::MAX), n);
    drop(pending);
    eprintln!(
        "bytes per pending waiter: native {native:.1} (heap, the Vec slot included); polyfill {:.1} heap + {:.0} reserved stack",
        heap as f64 / n as f64,
        stacks as f64 / n as f64
    );
}

criterion_group!(
    benches,
    notify_no_waiters,
    pingpong,
    thread_task_pingpong,
    wait_async_per_waiter
);
criterion_main!(benches);
