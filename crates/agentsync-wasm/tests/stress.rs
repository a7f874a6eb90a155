//! W9/W12 stress: guest and host (blocking and async) waiters with short timeouts race guest
//! and host notifies on one word. Invariant: the sum of what every notify returned equals
//! the number of "ok" results, and nobody is left queued. `WASM_STRESS_ROUNDS` scales it
//! (default 300 waits per waiter).

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use agentsync::WaitResult;
use agentsync_wasm::{wasmtime::Val, Runtime, Threads};
use futures_lite::future::block_on;

const STRESS_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  ;; $k waits on word 0 with timeout $ns; counts ok results at word 4, timeouts at word 8.
  (func (export "waiter") (param $k i32) (param $ns i64)
    (local $r i32)
    (loop $again
      (if (local.get $k)
        (then
          (local.set $r (memory.atomic.wait32 (i32.const 0) (i32.const 0) (local.get $ns)))
          (if (i32.eqz (local.get $r))
            (then (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))))
          (if (i32.eq (local.get $r) (i32.const 2))
            (then (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $again)))))
  ;; $k notifies of one waiter on word 0; adds what they returned to word 12.
  (func (export "notifier") (param $k i32)
    (loop $again
      (if (local.get $k)
        (then
          (drop (i32.atomic.rmw.add (i32.const 12)
            (memory.atomic.notify (i32.const 0) (i32.const 1))))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $again))))))
"#;

#[test]
fn w12_notify_sum_equals_ok_results_across_guest_host_and_async_waiters() {
    let rounds: i32 = std::env::var("WASM_STRESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runtime = Runtime::shared();
    let program = runtime.compile(STRESS_WAT.as_bytes()).unwrap();
    let memory = program.new_memory(runtime).unwrap();
    let run = Threads::new(program, memory.clone());
    let timeout = Duration::from_micros(40);
    let (host_ok, host_woken) = std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                run.run("waiter", &[Val::I32(rounds), Val::I64(40_000)])
                    .unwrap()
            });
        }
        let blocking = s.spawn(|| {
            (0..rounds)
                .filter(|_| memory.host_wait32(0, 0, Some(timeout)).unwrap() == WaitResult::Ok)
                .count()
        });
        let asynchronous = s.spawn(|| {
            (0..rounds)
                .filter(|_| {
                    let wait = memory.host_wait_async32(0, 0, Some(timeout)).unwrap();
                    block_on(wait) == WaitResult::Ok
                })
                .count()
        });
        s.spawn(|| run.run("notifier", &[Val::I32(rounds * 2)]).unwrap());
        let host_notifier = s.spawn(|| {
            let mut woken = 0u64;
            for _ in 0..rounds * 2 {
                woken += u64::from(memory.host_notify(0, 1).unwrap());
                std::thread::yield_now();
            }
            woken
        });
        let ok = blocking.join().unwrap() + asynchronous.join().unwrap();
        (ok as u64, host_notifier.join().unwrap())
    });
    let word = |a| memory.atomic_i32(a).unwrap().load(SeqCst) as u64;
    let (guest_ok, guest_timeouts, guest_woken) = (word(4), word(8), word(12));
    assert_eq!(
        guest_ok + host_ok,
        guest_woken + host_woken,
        "ok results = notify wake-ups (guest ok {guest_ok}, host ok {host_ok}, \
         guest woke {guest_woken}, host woke {host_woken})"
    );
    assert_eq!(
        guest_ok + guest_timeouts,
        2 * rounds as u64,
        "every guest wait ended ok or timed out"
    );
    assert_eq!(memory.waiter_count(0), 0);
    assert_eq!(agentsync::waiter_count_addr(memory.base() as usize), 0);
}
