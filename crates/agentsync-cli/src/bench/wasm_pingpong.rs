//! Ping-pong through wait/notify: the workload `agentsync bench` and the criterion bench time.
//!
//! Two parties take turns on word 0 of a shared memory: the pinger stores 1, notifies and
//! sleeps while the word is 1; the ponger sleeps while it is 0, stores 0 and notifies. One
//! round trip is two wake-ups.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use agentsync::WaitResult;
use agentsync_wasm::wasmtime::Val;

use agentsync_wasm::{Runtime, Threads, WasmError};

/// The ping-pong guest. Both loops re-check the word after every wake-up.
pub const PINGPONG_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "ping") (param $n i32)
    (loop $round
      (if (local.get $n)
        (then
          (i32.atomic.store (i32.const 0) (i32.const 1))
          (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
          (loop $sleep
            (drop (memory.atomic.wait32 (i32.const 0) (i32.const 1) (i64.const -1)))
            (br_if $sleep (i32.eq (i32.atomic.load (i32.const 0)) (i32.const 1))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $round)))))
  (func (export "pong") (param $n i32)
    (loop $round
      (if (local.get $n)
        (then
          (loop $sleep
            (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
            (br_if $sleep (i32.eqz (i32.atomic.load (i32.const 0)))))
          (i32.atomic.store (i32.const 0) (i32.const 0))
          (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $round))))))
"#;

/// Who plays the two sides of the ping-pong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingPong {
    /// Two Wasm threads, wait/notify rewritten onto agentsync's futex.
    GuestGuestAgentsync,
    /// Two Wasm threads, wasmtime's own native wait/notify (the peer).
    GuestGuestWasmtime,
    /// A host thread pings through `host_wait32`/`host_notify`, a Wasm thread pongs.
    HostGuest,
}

impl PingPong {
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            PingPong::GuestGuestAgentsync => "wasm guest<->guest (agentsync futex)",
            PingPong::GuestGuestWasmtime => "wasm guest<->guest (wasmtime native)",
            PingPong::HostGuest => "wasm host<->guest (agentsync futex)",
        }
    }
}

/// Runs `round_trips` round trips of `kind` and returns the time they took (instantiation
/// excluded).
///
/// # Blocking
///
/// For the whole run.
///
/// # Errors
///
/// Any load error or trap.
pub fn pingpong(kind: PingPong, round_trips: u32) -> Result<Duration, WasmError> {
    let runtime = Runtime::shared();
    let program = match kind {
        PingPong::GuestGuestWasmtime => runtime.compile_native(PINGPONG_WAT.as_bytes())?,
        _ => runtime.compile(PINGPONG_WAT.as_bytes())?,
    };
    let memory = program.new_memory(runtime)?;
    let run = Threads::new(program.clone(), memory.clone());
    let start = Barrier::new(2);
    let n = Val::I32(round_trips as i32);
    std::thread::scope(|s| {
        let ponger = s.spawn(|| {
            let mut store = run.store();
            let instance = program.instantiate(&mut store, Some(&memory), None)?;
            start.wait();
            agentsync_wasm::call(&mut store, &instance, "pong", &[n]).map(drop)
        });
        let began;
        if kind == PingPong::HostGuest {
            let word = memory
                .atomic_i32(0)
                .map_err(|t| WasmError::Trap(t.to_string()))?;
            start.wait();
            began = Instant::now();
            for _ in 0..round_trips {
                word.store(1, std::sync::atomic::Ordering::SeqCst);
                memory
                    .host_notify(0, 1)
                    .map_err(|t| WasmError::Trap(t.to_string()))?;
                while word.load(std::sync::atomic::Ordering::SeqCst) == 1 {
                    let r = memory.host_wait32(0, 1, None);
                    debug_assert!(matches!(r, Ok(WaitResult::Ok | WaitResult::NotEqual)));
                }
            }
        } else {
            let mut store = run.store();
            let instance = program.instantiate(&mut store, Some(&memory), None)?;
            start.wait();
            began = Instant::now();
            agentsync_wasm::call(&mut store, &instance, "ping", &[n])?;
        }
        ponger
            .join()
            .unwrap_or_else(|_| Err(WasmError::Trap("the ponger panicked".to_string())))?;
        Ok(began.elapsed())
    })
}
