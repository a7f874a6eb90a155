//! The primitives section: a mutex and a semaphore placed inside one `SharedMemory`, taken by
//! blocking threads (plain and timed) and by tokio tasks whose acquires are randomly cancelled
//! (dropped by a time-out).
//!
//! Invariants checked at the end:
//! - the counter the mutex guards (incremented by a non-atomic read-then-write) equals the
//!   number of successful lock acquisitions: mutual exclusion held;
//! - at most `PERMITS` holders were ever inside the semaphore, and all permits are back;
//! - both words are free and no waiter is left queued on either (a cancelled acquire that was
//!   woken passed its wake-up on, or a sleeper would be stuck and the drain would fail).

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentsync::memory::SharedMemory;
use agentsync::sync::{Mutex, Semaphore};

use super::{Budget, Counters, Referee, Section};

/// The primitives section.
pub(super) const SECTION: Section = Section {
    name: "primitives",
    what: "a placed mutex and semaphore from blocking threads and randomly cancelled async tasks",
    run,
};

const PERMITS: i32 = 3;
const MUTEX_AT: usize = 0;
const SEMAPHORE_AT: usize = 4;
const THREADS: usize = 3;
const TASKS: usize = 12;

struct World {
    memory: Arc<SharedMemory>,
    counters: Arc<Counters>,
    referee: Referee,
    /// Guarded by the mutex: updated by a plain load and store, so a lost update shows.
    guarded: AtomicU64,
    /// Successful lock acquisitions.
    locked: AtomicU64,
    /// Holders inside the semaphore now, and the most ever seen.
    inside: AtomicI32,
    peak: AtomicI32,
}

impl World {
    fn mutex(&self) -> &Mutex {
        self.memory.place(MUTEX_AT).expect("placed at setup")
    }

    fn semaphore(&self) -> &Semaphore {
        self.memory.place(SEMAPHORE_AT).expect("placed at setup")
    }

    /// The critical section of the mutex.
    fn increment(&self) {
        let value = self.guarded.load(Relaxed);
        std::hint::spin_loop();
        self.guarded.store(value + 1, Relaxed);
        self.locked.fetch_add(1, Relaxed);
        self.counters.oks.fetch_add(1, Relaxed);
    }

    /// The critical section of the semaphore.
    fn hold_permit(&self) {
        let now = self.inside.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(now, Relaxed);
        std::hint::spin_loop();
        self.inside.fetch_sub(1, Relaxed);
        if let Err(error) = self.semaphore().release(1) {
            self.referee
                .violate(format!("semaphore release failed: {error}"));
        }
        self.counters.oks.fetch_add(1, Relaxed);
    }

    fn attempt(&self) {
        self.counters.ops.fetch_add(1, Relaxed);
        self.counters.waits.fetch_add(1, Relaxed);
    }
}

fn blocking_worker(world: &World, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !world.referee.stopping() {
        world.attempt();
        let timeout = Duration::from_micros(rng.u64(1..300));
        if rng.bool() {
            match if rng.bool() {
                world.mutex().lock().map(Some)
            } else {
                world.mutex().lock_timeout(timeout)
            } {
                Ok(Some(_guard)) => world.increment(),
                Ok(None) => {
                    world.counters.timeouts.fetch_add(1, Relaxed);
                }
                Err(error) => world.referee.violate(format!(
                    "mutex lock failed on a thread that may block: {error}"
                )),
            }
        } else {
            match world.semaphore().acquire_many_timeout(1, timeout) {
                Ok(true) => world.hold_permit(),
                Ok(false) => {
                    world.counters.timeouts.fetch_add(1, Relaxed);
                }
                Err(error) => world
                    .referee
                    .violate(format!("semaphore acquire failed: {error}")),
            }
        }
    }
}

async fn task_worker(world: Arc<World>, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !world.referee.stopping() {
        world.attempt();
        let patience = Duration::from_micros(rng.u64(1..400));
        if rng.bool() {
            match tokio::time::timeout(patience, world.mutex().lock_async()).await {
                Ok(_guard) => world.increment(),
                Err(_) => {
                    world.counters.cancellations.fetch_add(1, Relaxed);
                }
            }
        } else {
            match tokio::time::timeout(patience, world.semaphore().acquire_many_async(1)).await {
                Ok(()) => world.hold_permit(),
                Err(_) => {
                    world.counters.cancellations.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

fn run(budget: &Budget) -> Vec<String> {
    let memory = match super::one_page_memory() {
        Ok(memory) => memory,
        Err(error) => return vec![error],
    };
    if let Err(error) = memory
        .place::<Mutex>(MUTEX_AT)
        .and_then(|_| memory.place_new(SEMAPHORE_AT, Semaphore::new(PERMITS)))
    {
        return vec![format!("cannot place the primitives: {error}")];
    }
    let world = Arc::new(World {
        memory,
        counters: Arc::clone(&budget.counters),
        referee: Referee::default(),
        guarded: AtomicU64::new(0),
        locked: AtomicU64::new(0),
        inside: AtomicI32::new(0),
        peak: AtomicI32::new(0),
    });
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(error) => return vec![error],
    };
    let seed = fastrand::u64(..);
    let tasks: Vec<_> = (0..TASKS as u64)
        .map(|i| runtime.spawn(task_worker(Arc::clone(&world), seed ^ (100 + i))))
        .collect();
    std::thread::scope(|scope| {
        for i in 0..THREADS as u64 {
            let world = &world;
            scope.spawn(move || blocking_worker(world, seed ^ i));
        }
        std::thread::sleep(budget.until.saturating_duration_since(Instant::now()));
        world.referee.stop();
    });
    let mut failures = Vec::new();
    runtime.block_on(async {
        for task in tasks {
            if let Err(error) = task.await {
                failures.push(format!("a task failed: {error}"));
            }
        }
    });
    failures.extend(world.referee.violations());
    failures.extend(check(&world));
    failures
}

fn check(world: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let (guarded, locked) = (world.guarded.load(Relaxed), world.locked.load(Relaxed));
    if guarded != locked {
        failures.push(format!(
            "broken mutual exclusion: the guarded counter is {guarded} after {locked} lock acquisitions"
        ));
    }
    let peak = world.peak.load(Relaxed);
    if peak > PERMITS {
        failures.push(format!(
            "the semaphore let {peak} holders in at once (permits: {PERMITS})"
        ));
    }
    let available = world.semaphore().available();
    if available != PERMITS {
        failures.push(format!(
            "the semaphore ends with {available} permits, not {PERMITS}"
        ));
    }
    if world.mutex().is_locked() {
        failures.push("the mutex is still locked at the end".into());
    }
    let base = world.memory.as_ptr() as usize;
    for (name, offset) in [("mutex", MUTEX_AT), ("semaphore", SEMAPHORE_AT)] {
        let left = agentsync::waiter_count_addr(base + offset);
        if left != 0 {
            failures.push(format!(
                "leftover waiter: {left} still queued on the {name} word"
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_reports_lost_updates_excess_holders_and_a_held_lock() {
        let memory = SharedMemory::new(1, 1).unwrap();
        let mutex = memory.place::<Mutex>(MUTEX_AT).unwrap();
        memory
            .place_new(SEMAPHORE_AT, Semaphore::new(PERMITS))
            .unwrap();
        let world = World {
            memory: Arc::clone(&memory),
            counters: Arc::new(Counters::default()),
            referee: Referee::default(),
            guarded: AtomicU64::new(9),
            locked: AtomicU64::new(10),
            inside: AtomicI32::new(0),
            peak: AtomicI32::new(PERMITS + 1),
        };
        let _held = mutex.try_lock().unwrap();
        let failures = check(&world).join("\n");
        assert!(
            failures.contains("guarded counter is 9 after 10"),
            "{failures}"
        );
        assert!(failures.contains("holders in at once"), "{failures}");
        assert!(failures.contains("still locked"), "{failures}");
    }
}
