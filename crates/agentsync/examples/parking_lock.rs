//! The guide's three-state parking lock (0 free, 1 held, 2 held with waiters), line for line
//! against the `Atomics` facade.
//!
//! ```js
//! function lock(ia, i) {
//!   let c = Atomics.compareExchange(ia, i, 0, 1);
//!   if (c === 0) return;                       // fast path: it was free
//!   if (c !== 2) c = Atomics.exchange(ia, i, 2); // announce a waiter
//!   while (c !== 0) {
//!     Atomics.wait(ia, i, 2);                  // sleep while it stays contended
//!     c = Atomics.exchange(ia, i, 2);
//!   }
//! }
//! function unlock(ia, i) {
//!   if (Atomics.exchange(ia, i, 0) === 2) Atomics.notify(ia, i, 1); // only if it saw 2
//! }
//! ```
//!
//! Several threads increment a shared counter under the lock with plain (unordered) reads and
//! writes. The program prints the total, how often unlock had to notify, and exits non-zero if
//! the total is not exactly threads × iterations or a waiter is left queued.
//!
//! Run: `cargo run -p agentsync --example parking_lock -- [THREADS] [ITERATIONS]`

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use agentsync::memory::{Atomics, AtomicsError, Int32Array, SharedMemory};

/// Index of the lock word.
const LOCK: usize = 0;
/// Index of the counter the lock protects.
const COUNTER: usize = 1;

/// Nobody holds the lock.
const FREE: i32 = 0;
/// Held, and nobody is (known to be) waiting.
const HELD: i32 = 1;
/// Held, and somebody may be waiting: unlock must notify.
const CONTENDED: i32 = 2;

/// `lock(ia, i)`.
fn lock(ia: &Int32Array, i: usize) -> Result<(), AtomicsError> {
    let mut c = Atomics::compare_exchange(ia, i, FREE, HELD)?;
    if c == FREE {
        return Ok(());
    }
    if c != CONTENDED {
        c = Atomics::exchange(ia, i, CONTENDED)?;
    }
    while c != FREE {
        Atomics::wait(ia, i, CONTENDED, None)?;
        c = Atomics::exchange(ia, i, CONTENDED)?;
    }
    Ok(())
}

/// `unlock(ia, i)`; returns whether it notified.
fn unlock(ia: &Int32Array, i: usize) -> Result<bool, AtomicsError> {
    if Atomics::exchange(ia, i, FREE)? == CONTENDED {
        Atomics::notify(ia, i, 1)?;
        return Ok(true);
    }
    Ok(false)
}

/// What a run observed.
#[derive(Debug)]
pub struct Report {
    /// The final counter.
    pub total: i32,
    /// How many unlocks saw 2 and notified.
    pub notifies: usize,
    /// Waiters still queued on the lock word at the end (must be 0).
    pub left_queued: usize,
}

/// Runs `threads` workers, each incrementing the counter `iterations` times under the lock.
pub fn run(threads: usize, iterations: usize) -> Result<Report, Box<dyn std::error::Error>> {
    let sab = SharedMemory::new(1, 1)?;
    let ia = Int32Array::with_range(&sab, 0, 2)?;
    let notifies = AtomicUsize::new(0);
    // All workers start together, so they really contend.
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(), AtomicsError> {
                    start.wait();
                    for _ in 0..iterations {
                        lock(&ia, LOCK)?;
                        // ia[1] = ia[1] + 1: plain accesses, ordered only by the lock.
                        let count = ia.get(COUNTER).unwrap_or(0);
                        ia.set(COUNTER, count.wrapping_add(1));
                        if unlock(&ia, LOCK)? {
                            notifies.fetch_add(1, Relaxed);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| "a worker panicked")??;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(Report {
        total: Atomics::load(&ia, COUNTER)?,
        notifies: notifies.into_inner(),
        left_queued: agentsync::waiter_count_addr(sab.as_ptr() as usize),
    })
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let threads = args.next().and_then(Result::ok).unwrap_or(4);
    let iterations = args.next().and_then(Result::ok).unwrap_or(100_000);
    let expected = threads * iterations;
    match run(threads, iterations) {
        Ok(report)
            if usize::try_from(report.total).ok() == Some(expected) && report.left_queued == 0 =>
        {
            println!(
                "parking lock: {threads} threads x {iterations} increments = {} (exact); \
                 unlock notified {} times",
                report.total, report.notifies
            );
        }
        Ok(report) => {
            eprintln!(
                "parking lock: counter is {}, expected {expected}; {} waiters left queued",
                report.total, report.left_queued
            );
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("parking lock: {error}");
            std::process::exit(2);
        }
    }
}
