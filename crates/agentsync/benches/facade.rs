//! The `Atomics` facade beside raw `AtomicI32` operations.
//!
//! Each group times one operation three ways: through the facade on an `Int32Array`
//! (index check, address computation, the atomic), on a raw `AtomicI32`, and on a raw
//! `[AtomicI32]` slice indexed the same way (the bounds check Rust code would pay anyway).
//! The facade's overhead is the ratio of the first to the others.
//!
//! Run: `cargo bench -p agentsync --bench facade`

use std::hint::black_box;
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
use std::time::Duration;

use agentsync::memory::{Atomics, Int32Array, SharedMemory, WasmView};
use criterion::{criterion_group, criterion_main, Criterion};

fn facade_vs_raw(c: &mut Criterion) {
    let sab = SharedMemory::new(1, 1).expect("one page");
    let ia = Int32Array::new(&sab);
    let wasm = WasmView::new(&sab);
    let raw = AtomicI32::new(0);
    let slice: Vec<AtomicI32> = (0..64).map(|_| AtomicI32::new(0)).collect();
    let index = 5usize;

    let mut group = c.benchmark_group("load");
    group.bench_function("facade", |b| {
        b.iter(|| Atomics::load(black_box(&ia), black_box(index)).unwrap())
    });
    group.bench_function("raw AtomicI32", |b| b.iter(|| black_box(&raw).load(SeqCst)));
    group.bench_function("raw slice", |b| {
        b.iter(|| black_box(&slice[..])[black_box(index)].load(SeqCst))
    });
    group.bench_function("wasm i32.atomic.load", |b| {
        b.iter(|| black_box(&wasm).i32_atomic_load(black_box(20), 0).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("add");
    group.bench_function("facade", |b| {
        b.iter(|| Atomics::add(black_box(&ia), black_box(index), 1).unwrap())
    });
    group.bench_function("raw AtomicI32", |b| {
        b.iter(|| black_box(&raw).fetch_add(1, SeqCst))
    });
    group.bench_function("raw slice", |b| {
        b.iter(|| black_box(&slice[..])[black_box(index)].fetch_add(1, SeqCst))
    });
    group.finish();

    let mut group = c.benchmark_group("compare_exchange");
    group.bench_function("facade", |b| {
        b.iter(|| Atomics::compare_exchange(black_box(&ia), black_box(index), 0, 0).unwrap())
    });
    group.bench_function("raw AtomicI32", |b| {
        b.iter(|| black_box(&raw).compare_exchange(0, 0, SeqCst, SeqCst))
    });
    group.bench_function("raw slice", |b| {
        b.iter(|| black_box(&slice[..])[black_box(index)].compare_exchange(0, 0, SeqCst, SeqCst))
    });
    group.finish();

    let mut group = c.benchmark_group("notify_nobody");
    group.bench_function("facade", |b| {
        b.iter(|| Atomics::notify(black_box(&ia), black_box(index), 1).unwrap())
    });
    group.bench_function("futex notify", |b| {
        b.iter(|| agentsync::notify(black_box(&raw), 1))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = facade_vs_raw
}
criterion_main!(benches);
