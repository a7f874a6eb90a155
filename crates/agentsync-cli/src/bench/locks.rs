//! `uncontended_lock`, `contended_counter_2t`, `_4t` and `_8t`: a counter behind a lock (8
//! threads on a 2-core machine is the oversubscribed case: more runnable threads than cores).

use std::hint::black_box;
use std::time::Instant;

use super::{noted, ns_per, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC};
use crate::raw_futex::{self, RawFutexMutex};

/// The agentsync mutex these scenarios measure: layer 3's 0 / 1 / 2 futex mutex with
/// lock_api guards.
pub type AgentsyncMutex = agentsync::Mutex<u64>;

/// The note printed beside the agentsync lock figures.
pub const AGENTSYNC_MUTEX_NOTE: &str = "agentsync::Mutex (0/1/2 futex mutex, lock_api guard)";

/// Something that guards a `u64` counter.
pub trait CounterLock: Send + Sync + 'static {
    /// A counter at zero.
    fn zero() -> Self;
    /// Lock, add one, unlock.
    fn increment(&self);
    /// The count (locks).
    fn count(&self) -> u64;
}

impl CounterLock for std::sync::Mutex<u64> {
    fn zero() -> Self {
        std::sync::Mutex::new(0)
    }
    #[inline]
    fn increment(&self) {
        *self.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }
    fn count(&self) -> u64 {
        *self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<R: lock_api::RawMutex + Send + Sync + 'static> CounterLock for lock_api::Mutex<R, u64> {
    fn zero() -> Self {
        lock_api::Mutex::new(0)
    }
    #[inline]
    fn increment(&self) {
        *self.lock() += 1;
    }
    fn count(&self) -> u64 {
        *self.lock()
    }
}

/// One thread: lock, increment, unlock, `operations` times.
fn uncontended<L: CounterLock>(config: &Config) -> Result<Outcome, String> {
    let operations = config.pick(2_000_000, 200_000);
    let lock = L::zero();
    let start = Instant::now();
    for _ in 0..operations {
        black_box(&lock).increment();
    }
    let elapsed = start.elapsed();
    check_count(&lock, operations as u64)?;
    Ok(Outcome::Measured(Sample::new(ns_per(elapsed, operations))))
}

/// `threads` threads increment one counter; time per increment over all of them.
fn contended<L: CounterLock>(config: &Config, threads: usize) -> Result<Outcome, String> {
    let operations = config.pick(1_000_000, 100_000) / threads * threads;
    let lock = L::zero();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..operations / threads {
                    lock.increment();
                }
            });
        }
    });
    let elapsed = start.elapsed();
    check_count(&lock, operations as u64)?;
    Ok(Outcome::Measured(Sample::new(ns_per(elapsed, operations))))
}

fn check_count<L: CounterLock>(lock: &L, expected: u64) -> Result<(), String> {
    match lock.count() {
        count if count == expected => Ok(()),
        count => Err(format!(
            "mutual exclusion broken: counter is {count}, expected {expected}"
        )),
    }
}

fn raw_futex_or_skip(run: impl FnOnce() -> Result<Outcome, String>) -> Result<Outcome, String> {
    if raw_futex::AVAILABLE {
        run()
    } else {
        Ok(Outcome::Skipped("raw_futex: Linux only".into()))
    }
}

type RawFutexCounter = lock_api::Mutex<RawFutexMutex, u64>;

macro_rules! lock_impls {
    ($runner:expr) => {
        &[
            Impl {
                name: AGENTSYNC,
                run: |c| noted($runner(c, Kind::Agentsync), AGENTSYNC_MUTEX_NOTE),
            },
            Impl {
                name: "std",
                run: |c| $runner(c, Kind::Std),
            },
            Impl {
                name: "parking_lot",
                run: |c| $runner(c, Kind::ParkingLot),
            },
            Impl {
                name: "raw_futex",
                run: |c| raw_futex_or_skip(|| $runner(c, Kind::RawFutex)),
            },
        ]
    };
}

#[derive(Clone, Copy)]
enum Kind {
    Agentsync,
    Std,
    ParkingLot,
    RawFutex,
}

fn uncontended_by(config: &Config, kind: Kind) -> Result<Outcome, String> {
    match kind {
        Kind::Agentsync => uncontended::<AgentsyncMutex>(config),
        Kind::Std => uncontended::<std::sync::Mutex<u64>>(config),
        Kind::ParkingLot => uncontended::<parking_lot::Mutex<u64>>(config),
        Kind::RawFutex => uncontended::<RawFutexCounter>(config),
    }
}

fn contended_by<const THREADS: usize>(config: &Config, kind: Kind) -> Result<Outcome, String> {
    match kind {
        Kind::Agentsync => contended::<AgentsyncMutex>(config, THREADS),
        Kind::Std => contended::<std::sync::Mutex<u64>>(config, THREADS),
        Kind::ParkingLot => contended::<parking_lot::Mutex<u64>>(config, THREADS),
        Kind::RawFutex => contended::<RawFutexCounter>(config, THREADS),
    }
}

/// The lock scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "uncontended_lock",
        unit: "ns/op",
        what: |_| "lock + increment + unlock on one thread".into(),
        impls: lock_impls!(uncontended_by),
    },
    Scenario {
        name: "contended_counter_2t",
        unit: "ns/op",
        what: |_| "2 threads increment one locked counter".into(),
        impls: lock_impls!(contended_by::<2>),
    },
    Scenario {
        name: "contended_counter_4t",
        unit: "ns/op",
        what: |_| "4 threads increment one locked counter".into(),
        impls: lock_impls!(contended_by::<4>),
    },
    Scenario {
        name: "contended_counter_8t",
        unit: "ns/op",
        what: |_| {
            "8 threads increment one locked counter (more runnable threads than cores, on most machines)"
                .into()
        },
        impls: lock_impls!(contended_by::<8>),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lock_keeps_the_count_under_contention() {
        let config = Config { quick: true };
        for kind in [Kind::Agentsync, Kind::Std, Kind::ParkingLot, Kind::RawFutex] {
            if matches!(kind, Kind::RawFutex) && !raw_futex::AVAILABLE {
                continue;
            }
            assert!(matches!(
                contended_by::<4>(&config, kind),
                Ok(Outcome::Measured(_))
            ));
        }
    }
}
