//! The WASI programs the bench and the tour run: agentsync-wasm's Zig fixtures (wasi-threads
//! commands built by Zig 0.14.1; sources and `build.sh` beside them), compiled into the
//! binary so both work from any directory.

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            "../../agentsync-wasm/tests/fixtures/wasi/",
            $name,
            ".wasm"
        ))
    };
}

/// `mutex_counter [THREADS] [N]`: threads add to a counter under `std.Thread.Mutex`.
pub const MUTEX_COUNTER: &[u8] = fixture!("mutex_counter");
/// `condvar_ring [THREADS] [ROUNDS]`: a token passed round a ring under a condition variable.
pub const CONDVAR_RING: &[u8] = fixture!("condvar_ring");
/// `bounded_queue [PAIRS] [ITEMS]`: producers and consumers through an 8-slot ring.
pub const BOUNDED_QUEUE: &[u8] = fixture!("bounded_queue");
/// `futex_gate [THREADS]`: threads released from one `std.Thread.Futex` word.
pub const FUTEX_GATE: &[u8] = fixture!("futex_gate");
/// `spawn_join [COUNT]`: threads started and joined one after another.
pub const SPAWN_JOIN: &[u8] = fixture!("spawn_join");
/// `idle_threads [THREADS]`: threads idle at a gate until stdin closes.
pub const IDLE_THREADS: &[u8] = fixture!("idle_threads");
/// `worker_exits`: a worker ends the program with status 7 while the others are blocked.
pub const WORKER_EXITS: &[u8] = fixture!("worker_exits");
