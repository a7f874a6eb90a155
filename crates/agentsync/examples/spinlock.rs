//! The guide's compare-exchange spinlock, line for line against the `Atomics` facade.
//!
//! ```js
//! const ia = new Int32Array(new SharedArrayBuffer(8)); // ia[0]: the lock, ia[1]: the counter
//! function lock()   { while (Atomics.compareExchange(ia, 0, 0, 1) !== 0) Atomics.pause(); }
//! function unlock() { Atomics.store(ia, 0, 0); }
//! // in each worker:
//! for (let i = 0; i < N; i++) { lock(); ia[1] = ia[1] + 1; unlock(); }
//! ```
//!
//! Several threads increment a shared counter under the lock with plain (unordered) reads and
//! writes, so a broken lock loses updates. The program prints the total and exits non-zero if
//! it is not exactly threads × iterations.
//!
//! Run: `cargo run -p agentsync --example spinlock -- [THREADS] [ITERATIONS]`

use agentsync::memory::{Atomics, AtomicsError, Int32Array, SharedMemory};

/// Index of the lock word: 0 free, 1 held.
const LOCK: usize = 0;
/// Index of the counter the lock protects.
const COUNTER: usize = 1;

/// `lock()`: spin until the compare-exchange from 0 to 1 succeeds.
fn lock(ia: &Int32Array) -> Result<(), AtomicsError> {
    while Atomics::compare_exchange(ia, LOCK, 0, 1)? != 0 {
        Atomics::pause();
    }
    Ok(())
}

/// `unlock()`: store 0.
fn unlock(ia: &Int32Array) -> Result<(), AtomicsError> {
    Atomics::store(ia, LOCK, 0)?;
    Ok(())
}

/// Runs `threads` workers, each incrementing the counter `iterations` times under the lock,
/// and returns the final counter.
pub fn run(threads: usize, iterations: usize) -> Result<i32, Box<dyn std::error::Error>> {
    let sab = SharedMemory::new(1, 1)?;
    let ia = Int32Array::with_range(&sab, 0, 2)?;
    // All workers start together, so they really contend.
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(), AtomicsError> {
                    start.wait();
                    for _ in 0..iterations {
                        lock(&ia)?;
                        // ia[1] = ia[1] + 1: plain accesses, ordered only by the lock.
                        let count = ia.get(COUNTER).unwrap_or(0);
                        ia.set(COUNTER, count.wrapping_add(1));
                        unlock(&ia)?;
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
    Ok(Atomics::load(&ia, COUNTER)?)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let threads = args.next().and_then(Result::ok).unwrap_or(4);
    let iterations = args.next().and_then(Result::ok).unwrap_or(100_000);
    let expected = threads * iterations;
    match run(threads, iterations) {
        Ok(total) if usize::try_from(total).ok() == Some(expected) => {
            println!("spinlock: {threads} threads x {iterations} increments = {total} (exact)");
        }
        Ok(total) => {
            eprintln!("spinlock: counter is {total}, expected {expected}: updates were lost");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("spinlock: {error}");
            std::process::exit(2);
        }
    }
}
