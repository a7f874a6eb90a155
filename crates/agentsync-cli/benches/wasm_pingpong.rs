//! Ping-pong through wait/notify between two Wasm threads, rewritten onto agentsync's futex
//! beside wasmtime's own native wait/notify (same module, same run), and host <-> guest.
//!
//! `cargo bench -p agentsync-cli --bench wasm_pingpong`; the ratio to watch is
//! agentsync / wasmtime for guest<->guest (target ≤ 1.2×).

use std::time::Duration;

use agentsync_cli::bench::wasm_pingpong::{pingpong, PingPong};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("wasm_pingpong");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    for (name, kind) in [
        ("guest_guest_agentsync", PingPong::GuestGuestAgentsync),
        ("guest_guest_wasmtime", PingPong::GuestGuestWasmtime),
        ("host_guest_agentsync", PingPong::HostGuest),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let rounds = u32::try_from(iters).unwrap_or(u32::MAX);
                pingpong(kind, rounds).expect("ping-pong runs")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
