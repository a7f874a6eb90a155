//! Guest and host waiters on the same words: W9, W12, W13, the lock demo, FIFO across guest
//! and host, and the async hand-offs.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use agentsync::WaitResult;
use agentsync_wasm::{wasmtime::Val, GuestMemory, Runtime, Threads};

/// A guest that waits on word 0 and then logs its id in arrival order:
/// word 4 = next log slot, words 8.. = ids in wake-up order.
const FIFO_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wait_and_log") (param $id i32) (result i32)
    (local $code i32)
    (local.set $code (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
    (i32.atomic.store
      (i32.add (i32.const 8)
        (i32.mul (i32.const 4) (i32.atomic.rmw.add (i32.const 4) (i32.const 1))))
      (local.get $id))
    (local.get $code))
  (func (export "wait_ns") (param $ns i64) (result i32)
    (memory.atomic.wait32 (i32.const 0) (i32.const 0) (local.get $ns)))
  (func (export "notify") (param $n i32) (result i32)
    (memory.atomic.notify (i32.const 0) (local.get $n))))
"#;

fn fifo_program() -> (Arc<Threads>, GuestMemory) {
    let runtime = Runtime::shared();
    let program = runtime.compile(FIFO_WAT.as_bytes()).unwrap();
    let memory = program.new_memory(runtime).unwrap();
    (Threads::new(program, memory.clone()), memory)
}

fn wait_for_waiters(memory: &GuestMemory, address: u64, n: usize) {
    while memory.waiter_count(address) < n {
        std::thread::yield_now();
    }
}

fn host_log(memory: &GuestMemory, id: i32) {
    let slot = memory.atomic_i32(4).unwrap().fetch_add(1, SeqCst);
    memory
        .atomic_i32(8 + 4 * slot as u64)
        .unwrap()
        .store(id, SeqCst);
}

#[test]
fn w12_fifo_order_holds_across_guest_and_host_waiters() {
    let (run, memory) = fifo_program();
    let logged = |n: i32| memory.atomic_i32(4).unwrap().load(SeqCst) >= n;
    std::thread::scope(|s| {
        // Arrival order: guest 1, host blocking 2, host async 3, guest 4.
        let g1 = s.spawn(|| run.run("wait_and_log", &[Val::I32(1)]).unwrap());
        wait_for_waiters(&memory, 0, 1);
        let h2 = s.spawn(|| {
            let r = memory.host_wait32(0, 0, None).unwrap();
            host_log(&memory, 2);
            r
        });
        wait_for_waiters(&memory, 0, 2);
        let fut = memory.host_wait_async32(0, 0, None).unwrap();
        assert!(fut.is_async());
        let a3 = s.spawn(|| {
            let r = futures_lite::future::block_on(fut);
            host_log(&memory, 3);
            r
        });
        wait_for_waiters(&memory, 0, 3);
        let g4 = s.spawn(|| run.run("wait_and_log", &[Val::I32(4)]).unwrap());
        wait_for_waiters(&memory, 0, 4);

        // Wake one at a time, alternating host and guest notifiers; each wake-up is logged
        // before the next notify, so the log is the wake-up order.
        for step in 1..=4 {
            let n = if step % 2 == 1 {
                memory.host_notify(0, 1).unwrap()
            } else {
                run.run("notify", &[Val::I32(1)]).unwrap()[0].unwrap_i32() as u32
            };
            assert_eq!(n, 1, "notify {step} woke exactly one waiter");
            while !logged(step) {
                std::thread::yield_now();
            }
        }
        assert_eq!(g1.join().unwrap()[0].unwrap_i32(), 0);
        assert_eq!(h2.join().unwrap(), WaitResult::Ok);
        assert_eq!(a3.join().unwrap(), WaitResult::Ok);
        assert_eq!(g4.join().unwrap()[0].unwrap_i32(), 0);
    });
    let log: Vec<i32> = (0..4)
        .map(|i| memory.atomic_i32(8 + 4 * i).unwrap().load(SeqCst))
        .collect();
    assert_eq!(log, [1, 2, 3, 4], "woken oldest first, whatever the kind");
    assert_eq!(memory.waiter_count(0), 0);
    assert_eq!(memory.host_notify(0, 1).unwrap(), 0);
}

#[test]
fn w12_guest_notify_wakes_host_blocking_waiter_and_counts_it() {
    let (run, memory) = fifo_program();
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..3)
            .map(|_| s.spawn(|| memory.host_wait32(0, 0, None).unwrap()))
            .collect();
        wait_for_waiters(&memory, 0, 3);
        let woke = run.run("notify", &[Val::I32(-1)]).unwrap()[0].unwrap_i32();
        assert_eq!(woke, 3, "count -1 is u32::MAX: wake all");
        for w in waiters {
            assert_eq!(w.join().unwrap(), WaitResult::Ok);
        }
    });
    assert_eq!(memory.waiter_count(0), 0);
}

#[test]
fn w9_a_store_without_notify_does_not_wake_a_guest_waiter() {
    let (run, memory) = fifo_program();
    std::thread::scope(|s| {
        let g = s.spawn(|| run.run("wait_ns", &[Val::I64(50_000_000)]).unwrap());
        wait_for_waiters(&memory, 0, 1);
        memory.atomic_i32(0).unwrap().store(7, SeqCst);
        assert_eq!(g.join().unwrap()[0].unwrap_i32(), 2, "timed out, not woken");
    });
    assert_eq!(memory.waiter_count(0), 0);
    // W20-like: the waiter is gone, so a notify finds nobody.
    assert_eq!(memory.host_notify(0, 1).unwrap(), 0);
}

#[test]
fn w13_shared_memory_does_not_move_when_it_grows() {
    let memory = GuestMemory::new(Runtime::shared(), 1, 4).unwrap();
    let base = memory.base();
    memory.atomic_i32(65_532).unwrap().store(5, SeqCst);
    assert!(memory.atomic_i32(65_536).is_err());
    assert_eq!(memory.grow(2).unwrap(), 1);
    assert_eq!(memory.base(), base);
    assert_eq!(memory.len(), 3 * 65_536);
    assert_eq!(memory.atomic_i32(65_532).unwrap().load(SeqCst), 5);
    assert!(memory.atomic_i32(65_536).is_ok());
    assert!(memory.grow(2).is_err(), "past the declared maximum");
}

#[test]
fn w13_shared_memory_without_maximum_is_rejected() {
    let err = Runtime::shared()
        .compile(b"(module (memory 1 shared))")
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("maximum"), "{text}");
}

#[test]
fn host_wait_rejects_unaligned_and_out_of_bounds_addresses() {
    let memory = GuestMemory::new(Runtime::shared(), 1, 1).unwrap();
    let e = memory.host_wait32(2, 0, None).unwrap_err();
    assert!(e.to_string().starts_with("unaligned atomic"), "{e}");
    let e = memory.host_wait64(4, 0, None).unwrap_err();
    assert!(e.to_string().starts_with("unaligned atomic"), "{e}");
    let e = memory.host_notify(65_536, 1).unwrap_err();
    assert!(e.to_string().starts_with("out of bounds"), "{e}");
    let e = memory.host_wait_async32(65_536, 0, None).unwrap_err();
    assert!(e.to_string().contains("65536"), "{e}");
    assert_eq!(
        memory.host_wait64(8, 1, Some(Duration::ZERO)).unwrap(),
        WaitResult::NotEqual
    );
}
