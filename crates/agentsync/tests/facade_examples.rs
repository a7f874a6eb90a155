//! The guide's lock examples, run small: the exact total proves mutual exclusion.
#![cfg(not(loom))] // layer 2 is std-only: loom atomics cannot live in raw memory

#[allow(dead_code)]
#[path = "../examples/spinlock.rs"]
mod spinlock;

#[allow(dead_code)]
#[path = "../examples/parking_lock.rs"]
mod parking_lock;

#[test]
fn spinlock_example_counts_exactly() {
    assert_eq!(spinlock::run(3, 2_000).unwrap(), 6_000);
}

#[test]
fn parking_lock_example_counts_exactly_and_leaves_nobody_queued() {
    let report = parking_lock::run(3, 2_000).unwrap();
    assert_eq!(report.total, 6_000);
    assert_eq!(report.left_queued, 0);
}
