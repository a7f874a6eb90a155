//! Tour-ready demonstrations with checkable results: the guide's lock shared by Wasm threads
//! and a host thread, and host async tasks awaiting a guest's notify.

use std::future::Future;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use agentsync::WaitResult;
use agentsync_wasm::wasmtime::Val;

use agentsync_wasm::{GuestMemory, Runtime, Threads, WasmError};

/// The text of `examples/wasm/lock.wat`.
pub const LOCK_WAT: &str = include_str!("../../agentsync-wasm/examples/wasm/lock.wat");

/// Byte addresses in `lock.wat`'s memory.
mod layout {
    pub const SPIN_LOCK: u64 = 0;
    pub const SPIN_COUNTER: u64 = 4;
    pub const PARK_LOCK: u64 = 8;
    pub const PARK_COUNTER: u64 = 12;
    pub const GUEST_OK_WAITS: u64 = 16;
    pub const GUEST_WOKEN: u64 = 20;
    pub const START_LINE: u64 = 24;
}

/// Parking lock word states (same protocol as the guest's `$park_lock`).
const FREE: i32 = 0; // nobody holds the lock
const HELD: i32 = 1; // held, nobody asleep
const CONTENDED: i32 = 2; // held, sleepers possible

/// What [`lock_demo`] measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockDemo {
    /// Wasm threads that ran `increment` / `increment_parking`.
    pub guest_threads: usize,
    /// Host threads that ran the same protocols in Rust.
    pub host_threads: usize,
    /// Increments per thread and per lock.
    pub iterations: u32,
    /// `(guest_threads + host_threads) × iterations`.
    pub expected: i64,
    /// The counter guarded by the spin lock at the end.
    pub spin_total: i64,
    /// The counter guarded by the parking lock at the end.
    pub parking_total: i64,
    /// Waits on the parking word that returned "ok", by guests.
    pub guest_ok_waits: u64,
    /// Waits on the parking word that returned "ok", by the host.
    pub host_ok_waits: u64,
    /// Sum of what guest notifies returned.
    pub guest_woken: u64,
    /// Sum of what host notifies returned.
    pub host_woken: u64,
    /// Waiters still queued on the parking word at the end (must be 0).
    pub waiters_left: usize,
}

impl LockDemo {
    /// Whether both totals are exact and every "ok" wait was paid for by a notify.
    pub fn holds(&self) -> bool {
        self.spin_total == self.expected
            && self.parking_total == self.expected
            && self.guest_ok_waits + self.host_ok_waits == self.guest_woken + self.host_woken
            && self.waiters_left == 0
    }
}

/// `lock.wat` with `guest_threads` Wasm threads and `host_threads` host threads incrementing
/// one counter under the spin lock, then another under the parking lock whose waits and
/// notifies cross between guest and host.
///
/// # Blocking
///
/// Until every thread is done.
///
/// # Errors
///
/// Any load error or trap.
pub fn lock_demo(
    guest_threads: usize,
    host_threads: usize,
    iterations: u32,
) -> Result<LockDemo, WasmError> {
    let runtime = Runtime::shared();
    let program = runtime.compile(LOCK_WAT.as_bytes())?;
    let memory = program.new_memory(runtime)?;
    let run = Threads::new(program, memory.clone());
    let n = Val::I32(iterations as i32);
    let parties = Val::I32((guest_threads + host_threads) as i32);
    let host_stats: Vec<Result<(u64, u64), WasmError>> = std::thread::scope(|s| {
        let mut guests = Vec::new();
        for _ in 0..guest_threads {
            let run = &run;
            guests.push(s.spawn(move || {
                run.run_sequence(&[
                    ("increment", &[n]),
                    ("start_line", &[parties]),
                    ("increment_parking", &[n]),
                ])
                .map(drop)
            }));
        }
        let hosts: Vec<_> = (0..host_threads)
            .map(|_| s.spawn(|| host_increments(&memory, iterations, guest_threads + host_threads)))
            .collect();
        let mut out = Vec::new();
        for g in guests {
            out.push(join(g).map(|()| (0, 0)));
        }
        for h in hosts {
            out.push(join(h));
        }
        out
    });
    let (mut host_ok_waits, mut host_woken) = (0, 0);
    for stats in host_stats {
        let (ok, woken) = stats?;
        host_ok_waits += ok;
        host_woken += woken;
    }
    let word = |a| memory.atomic_i32(a).map(|w| w.load(SeqCst)).unwrap_or(-1);
    Ok(LockDemo {
        guest_threads,
        host_threads,
        iterations,
        expected: (guest_threads + host_threads) as i64 * i64::from(iterations),
        spin_total: i64::from(word(layout::SPIN_COUNTER)),
        parking_total: i64::from(word(layout::PARK_COUNTER)),
        guest_ok_waits: word(layout::GUEST_OK_WAITS) as u64,
        host_ok_waits,
        guest_woken: word(layout::GUEST_WOKEN) as u64,
        host_woken,
        waiters_left: memory.waiter_count(layout::PARK_LOCK),
    })
}

fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T, WasmError>>) -> Result<T, WasmError> {
    h.join()
        .unwrap_or_else(|_| Err(WasmError::Trap("a demo thread panicked".to_string())))
}

/// The host's half of `lock_demo`: the same two protocols, in Rust, on the guest's words.
/// Returns (ok waits, sum of notify results) on the parking word.
fn host_increments(
    memory: &GuestMemory,
    iterations: u32,
    parties: usize,
) -> Result<(u64, u64), WasmError> {
    let trap = |t: agentsync_wasm::Trap| WasmError::Trap(t.to_string());
    let spin = memory.atomic_i32(layout::SPIN_LOCK).map_err(trap)?;
    let spin_counter = memory.atomic_i32(layout::SPIN_COUNTER).map_err(trap)?;
    for _ in 0..iterations {
        // Acquire pairs with the guest's and our own releasing store of 0.
        while spin
            .compare_exchange_weak(FREE, HELD, SeqCst, SeqCst)
            .is_err()
        {
            std::hint::spin_loop();
        }
        spin_counter.store(spin_counter.load(Relaxed) + 1, Relaxed);
        spin.store(FREE, SeqCst);
    }
    let start_line = memory.atomic_i32(layout::START_LINE).map_err(trap)?;
    start_line.fetch_add(1, SeqCst);
    while (start_line.load(SeqCst) as usize) < parties {
        std::hint::spin_loop();
    }
    let park = memory.atomic_i32(layout::PARK_LOCK).map_err(trap)?;
    let park_counter = memory.atomic_i32(layout::PARK_COUNTER).map_err(trap)?;
    let (mut ok_waits, mut woken) = (0, 0);
    for _ in 0..iterations {
        if let Err(mut seen) = park.compare_exchange(FREE, HELD, SeqCst, SeqCst) {
            if seen != CONTENDED {
                seen = park.swap(CONTENDED, SeqCst);
            }
            while seen != FREE {
                let r = memory
                    .host_wait32(layout::PARK_LOCK, CONTENDED, None)
                    .map_err(trap)?;
                ok_waits += u64::from(r == WaitResult::Ok);
                seen = park.swap(CONTENDED, SeqCst);
            }
        }
        park_counter.store(park_counter.load(Relaxed) + 1, Relaxed);
        for _ in 0..200 {
            std::hint::spin_loop();
        }
        if park.swap(FREE, SeqCst) == CONTENDED {
            woken += u64::from(memory.host_notify(layout::PARK_LOCK, 1).map_err(trap)?);
        }
    }
    Ok((ok_waits, woken))
}

/// A guest that, on a thread it spawns itself, sets word 0 and notifies it; and that waits on
/// word 8 until someone notifies it.
pub const NOTIFY_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "agentsync" "thread_spawn" (func $spawn (param i32) (result i32)))
  ;; Start a thread that will run $thread_start(id, 0).
  (func (export "start") (result i32) (call $spawn (i32.const 0)))
  ;; Set word 0, then wake one waiter there; remember how many were woken at word 4.
  (func (export "thread_start") (param $id i32) (param $arg i32)
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (i32.atomic.store (i32.const 4) (memory.atomic.notify (i32.const 0) (i32.const 1))))
  ;; Sleep on word 8 while it is 0; returns the wait's result code.
  (func (export "wait8") (result i32)
    (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1))))
"#;

/// What [`async_notify_demo`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncNotifyDemo {
    /// The host's `wait_async` was queued (not resolved synchronously).
    pub was_async: bool,
    /// What the awaited future resolved to ("ok" when the guest's notify woke it).
    pub host_result: WaitResult,
    /// What the guest thread's `memory.atomic.notify` returned.
    pub guest_notify_returned: i32,
    /// What the host's notify returned when it woke the guest's `wait32`.
    pub host_notify_returned: u32,
    /// The guest `wait32`'s result code (0 = ok).
    pub guest_wait_code: i32,
    /// Waiters left on either word (must be 0).
    pub waiters_left: usize,
}

/// A host async task awaits a guest thread's `memory.atomic.notify` (no helper thread: the
/// future is queued on the guest word itself), then a host notify wakes a guest `wait32`.
///
/// # Blocking
///
/// Until both hand-offs are done.
///
/// # Errors
///
/// Any load error or trap.
pub fn async_notify_demo() -> Result<AsyncNotifyDemo, WasmError> {
    let runtime = Runtime::shared();
    let program = runtime.compile(NOTIFY_WAT.as_bytes())?;
    let memory = program.new_memory(runtime)?;
    let run = Threads::new(program, memory.clone());
    let trap = |t: agentsync_wasm::Trap| WasmError::Trap(t.to_string());

    let future = memory.host_wait_async32(0, 0, None).map_err(trap)?;
    let was_async = future.is_async();
    run.run("start", &[])?;
    let host_result = block_on(future);
    run.join_spawned()?;
    let guest_notify_returned = memory.atomic_i32(4).map_err(trap)?.load(SeqCst);

    let (guest_wait_code, host_notify_returned) = std::thread::scope(|s| {
        let guest = s.spawn(|| run.run("wait8", &[]));
        while memory.waiter_count(8) == 0 {
            std::thread::yield_now();
        }
        let woken = memory.host_notify(8, 1).map_err(trap)?;
        let code = join(guest)?.first().and_then(Val::i32).unwrap_or(-1);
        Ok::<_, WasmError>((code, woken))
    })?;
    Ok(AsyncNotifyDemo {
        was_async,
        host_result,
        guest_notify_returned,
        host_notify_returned,
        guest_wait_code,
        waiters_left: memory.waiter_count(0) + memory.waiter_count(8),
    })
}

/// Wakes the thread that is blocked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls `future` on this thread, parking between polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// The Wasm steps of `agentsync tour`, one narrated line each, from real runs.
///
/// # Blocking
///
/// While the demos run (well under a second).
///
/// # Errors
///
/// Any load error or trap of the demos.
pub fn tour_lines() -> Result<Vec<String>, WasmError> {
    let lock = lock_demo(4, 1, 10_000)?;
    let hand_off = async_notify_demo()?;
    Ok(vec![
        format!(
            "wasm lock.wat: {} Wasm threads + {} host thread took the guide's compare-exchange \
             spin lock {} times each: counter = {} (expected {})",
            lock.guest_threads, lock.host_threads, lock.iterations, lock.spin_total, lock.expected
        ),
        format!(
            "wasm parking lock on the same memory: counter = {} (expected {}); ok waits: {} \
             guest + {} host = notify wake-ups: {} guest + {} host; waiters left: {}",
            lock.parking_total,
            lock.expected,
            lock.guest_ok_waits,
            lock.host_ok_waits,
            lock.guest_woken,
            lock.host_woken,
            lock.waiters_left
        ),
        format!(
            "wasm host async task awaited a guest thread's memory.atomic.notify: queued = {}, \
             result = {}, the guest's notify woke {} (no helper thread)",
            hand_off.was_async, hand_off.host_result, hand_off.guest_notify_returned
        ),
        format!(
            "wasm host notify woke a guest memory.atomic.wait32: notify woke {}, wait returned {}",
            hand_off.host_notify_returned, hand_off.guest_wait_code
        ),
    ])
}
