//! The guest's memory as an agentsync memory (`GuestMemory::agentsync_memory`): the `Atomics`
//! facade, `wait_async` and placed primitives on guest words, against guest threads (W12), and
//! guest `memory.grow` seen from the host (W13).

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use agentsync::memory::{Atomics, Int32Array, MemoryError, SharedMemory, PAGE_SIZE};
use agentsync::sync::Mutex;
use agentsync::WaitResult;
use agentsync_wasm::{wasmtime::Val, GuestMemory, Runtime, Threads};

/// The guide's spin lock and parking lock in WAT (the tour's Wasm lock demo).
const LOCK_WAT: &str = include_str!("../examples/wasm/lock.wat");

/// Waits on word 0 (with a timeout in nanoseconds), notifies word 0, grows the memory, loads
/// any word.
const GUEST_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 3 shared))
  (func (export "wait0") (param $ns i64) (result i32)
    (memory.atomic.wait32 (i32.const 0) (i32.const 0) (local.get $ns)))
  (func (export "notify0") (param $n i32) (result i32)
    (memory.atomic.notify (i32.const 0) (local.get $n)))
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages)))
  (func (export "load") (param $addr i32) (result i32)
    (i32.atomic.load (local.get $addr))))
"#;

fn guest(wat: &str) -> (Arc<Threads>, GuestMemory) {
    let runtime = Runtime::shared();
    let program = runtime.compile(wat.as_bytes()).unwrap();
    let memory = program.new_memory(runtime).unwrap();
    (Threads::new(program, memory.clone()), memory)
}

fn wait_for_waiters(memory: &GuestMemory, address: u64, n: usize) {
    while memory.waiter_count(address) < n {
        std::thread::yield_now();
    }
}

/// A bound on waits that a correct run ends with a notify, so that a failing assertion
/// cannot leave a waiter blocking the test forever. Never reached when the test passes.
const SAFETY_NET: Duration = Duration::from_secs(30);

fn call_i32(run: &Arc<Threads>, name: &str, args: &[Val]) -> i32 {
    run.run(name, args).unwrap()[0].unwrap_i32()
}

#[test]
fn agentsync_memory_is_the_guest_memory() {
    let (_run, guest_memory) = guest(GUEST_WAT);
    let memory = guest_memory.agentsync_memory();
    assert_eq!(memory.as_ptr(), guest_memory.base());
    assert!(memory.is_shared());
    assert_eq!(memory.byte_length(), PAGE_SIZE);
    assert_eq!(memory.maximum_byte_length(), 3 * PAGE_SIZE);
    assert!(
        Arc::ptr_eq(&memory, &guest_memory.agentsync_memory()),
        "built once"
    );
    assert_eq!(memory.grow(1), Err(MemoryError::NotGrowable));
}

#[test]
fn w12_atomics_notify_on_guest_memory_wakes_a_guest_wait32() {
    let (run, guest_memory) = guest(GUEST_WAT);
    let words = Int32Array::new(&guest_memory.agentsync_memory());
    let net = Val::I64(SAFETY_NET.as_nanos() as i64);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| call_i32(&run, "wait0", &[net]));
        wait_for_waiters(&guest_memory, 0, 1);
        assert_eq!(Atomics::notify(&words, 0, 1), Ok(1));
        assert_eq!(waiter.join().unwrap(), 0, "the guest wait returned ok");
    });
    assert_eq!(guest_memory.waiter_count(0), 0);
    assert_eq!(Atomics::notify(&words, 0, 1), Ok(0), "nobody left");
}

#[test]
fn w12_atomics_wait_async_on_guest_memory_is_woken_by_a_guest_notify() {
    let (run, guest_memory) = guest(GUEST_WAT);
    let words = Int32Array::new(&guest_memory.agentsync_memory());
    // Not-equal is decided at call time, without queueing.
    let mismatch = Atomics::wait_async(&words, 0, 1, None).unwrap();
    assert_eq!(mismatch.sync_result(), Some(WaitResult::NotEqual));

    let pending = Atomics::wait_async(&words, 0, 0, Some(SAFETY_NET)).unwrap();
    assert!(pending.is_async(), "queued on the guest word at call time");
    assert_eq!(guest_memory.waiter_count(0), 1);
    std::thread::scope(|s| {
        // The host task awaits on its own thread while a guest thread notifies.
        let task = s.spawn(|| futures_lite::future::block_on(pending));
        assert_eq!(call_i32(&run, "notify0", &[Val::I32(1)]), 1);
        assert_eq!(task.join().unwrap(), WaitResult::Ok);
    });
    assert_eq!(guest_memory.waiter_count(0), 0);
    assert_eq!(call_i32(&run, "notify0", &[Val::I32(1)]), 0);
}

/// `lock.wat`'s parking lock word and the counter it guards.
const PARK_LOCK: usize = 8;
const PARK_COUNTER: usize = 12;
/// `lock.wat`'s start line: parties that reached the parking phase.
const START_LINE: usize = 24;

/// Arrives at `lock.wat`'s start line and spins until `parties` have.
fn start_line(memory: &SharedMemory, parties: usize) {
    let line = memory.atomic_i32(START_LINE).unwrap();
    line.fetch_add(1, SeqCst);
    while (line.load(SeqCst) as usize) < parties {
        std::hint::spin_loop();
    }
}

/// Bumps the guarded counter with a load, a pause and a store, so that an increment racing
/// outside the lock would be lost; the caller holds the lock. Relaxed: the lock orders it.
fn bump(counter: &std::sync::atomic::AtomicI32) {
    let seen = counter.load(Relaxed);
    for _ in 0..200 {
        std::hint::spin_loop();
    }
    counter.store(seen + 1, Relaxed);
}

#[test]
fn w12_placed_mutex_excludes_host_threads_tasks_and_the_guest_parking_lock() {
    const GUEST_THREADS: usize = 1;
    const HOST_THREADS: usize = 1;
    const HOST_TASKS: usize = 1;
    const ITERATIONS: usize = 2000;
    let parties = GUEST_THREADS + HOST_THREADS + HOST_TASKS;

    let (run, guest_memory) = guest(LOCK_WAT);
    let memory = guest_memory.agentsync_memory();
    // lock.wat's parking lock is the 0 / 1 / 2 protocol of `agentsync::sync::Mutex`.
    let mutex: &Mutex = memory.place(PARK_LOCK).unwrap();
    let counter = memory.atomic_i32(PARK_COUNTER).unwrap();
    std::thread::scope(|s| {
        let mut guests = Vec::new();
        for _ in 0..GUEST_THREADS {
            guests.push(s.spawn(|| {
                run.run_sequence(&[
                    ("start_line", &[Val::I32(parties as i32)]),
                    ("increment_parking", &[Val::I32(ITERATIONS as i32)]),
                ])
                .unwrap()
            }));
        }
        for _ in 0..HOST_THREADS {
            s.spawn(|| {
                start_line(&memory, parties);
                for _ in 0..ITERATIONS {
                    let _guard = mutex.lock().unwrap();
                    bump(counter);
                }
            });
        }
        for _ in 0..HOST_TASKS {
            s.spawn(|| {
                start_line(&memory, parties);
                futures_lite::future::block_on(async {
                    for _ in 0..ITERATIONS {
                        let _guard = mutex.lock_async().await;
                        bump(counter);
                    }
                });
            });
        }
        for g in guests {
            g.join().unwrap();
        }
    });
    assert_eq!(
        counter.load(SeqCst) as usize,
        parties * ITERATIONS,
        "no increment lost: guest and host held the lock exclusively"
    );
    assert!(!mutex.is_locked());
    assert_eq!(guest_memory.waiter_count(PARK_LOCK as u64), 0);
}

#[test]
fn w13_guest_memory_grow_is_seen_through_the_agentsync_memory() {
    let (run, guest_memory) = guest(GUEST_WAT);
    let memory = guest_memory.agentsync_memory();
    let base = memory.as_ptr();
    let new_word = PAGE_SIZE + 16;
    assert!(
        memory.atomic_i32(new_word).is_err(),
        "past the end before the grow"
    );
    assert!(memory.place::<Mutex>(new_word).is_err());

    assert_eq!(
        call_i32(&run, "grow", &[Val::I32(1)]),
        1,
        "old size in pages"
    );
    assert_eq!(memory.byte_length(), 2 * PAGE_SIZE);
    assert_eq!(memory.size_pages(), 2);
    assert_eq!(memory.as_ptr(), base, "never moves");

    // A view made after the grow reaches the new page, and the guest sees what it stores.
    let words = Int32Array::new(&memory);
    assert_eq!(words.len(), 2 * PAGE_SIZE / 4);
    Atomics::store(&words, new_word / 4, 77).unwrap();
    assert_eq!(call_i32(&run, "load", &[Val::I32(new_word as i32)]), 77);
    let mutex = memory.place_new(new_word, Mutex::new()).unwrap();
    let guard = mutex.try_lock().unwrap();
    assert_eq!(
        call_i32(&run, "load", &[Val::I32(new_word as i32)]),
        1,
        "locked"
    );
    drop(guard);

    // Growing past the declared maximum fails in the guest and changes nothing here.
    assert_eq!(call_i32(&run, "grow", &[Val::I32(2)]), -1);
    assert_eq!(memory.byte_length(), 2 * PAGE_SIZE);
}

/// Waits and notifies at any address, with an offset, and grows the memory.
const TRAPS_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 2 shared))
  (func (export "wait32+4") (param $addr i32) (result i32)
    (memory.atomic.wait32 offset=4 (local.get $addr) (i32.const 1) (i64.const 0)))
  (func (export "notify") (param $addr i32) (result i32)
    (memory.atomic.notify (local.get $addr) (i32.const 1)))
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages))))
"#;

#[test]
fn w4_rewritten_opcodes_trap_with_the_address_and_the_live_length() {
    let (run, _guest_memory) = guest(TRAPS_WAT);
    let trap = |name: &str, address: i32| run.run(name, &[Val::I32(address)]).unwrap_err();
    assert_eq!(
        trap("wait32+4", 65532).to_string(),
        "trap: out of bounds memory access: 4 bytes at effective address 65536 past the \
         memory's 65536 bytes (W4)"
    );
    assert_eq!(
        trap("wait32+4", 2).to_string(),
        "trap: unaligned atomic: effective address 6 is not a multiple of 4 (W4)"
    );
    assert_eq!(
        trap("notify", 65536).to_string(),
        "trap: out of bounds memory access: 4 bytes at effective address 65536 past the \
         memory's 65536 bytes (W4)"
    );
    // The bounds follow the guest's memory.grow: the same addresses are now in bounds.
    assert_eq!(call_i32(&run, "grow", &[Val::I32(1)]), 1);
    assert_eq!(
        call_i32(&run, "wait32+4", &[Val::I32(65532)]),
        1,
        "not-equal"
    );
    assert_eq!(call_i32(&run, "notify", &[Val::I32(65536)]), 0);
    assert_eq!(
        trap("notify", 131072).to_string(),
        "trap: out of bounds memory access: 4 bytes at effective address 131072 past the \
         memory's 131072 bytes (W4)"
    );
}

#[test]
fn w4_memory64_overflowing_address_checks_alignment_first() {
    let report = agentsync_wasm::run_wast_text(
        "memory64_overflow",
        r#"(module
  (memory i64 1 1 shared)
  (func (export "wait32+2") (param i64) (result i32)
    (memory.atomic.wait32 offset=2 (local.get 0) (i32.const 0) (i64.const 0)))
  (func (export "notify+4") (param i64) (result i32)
    (memory.atomic.notify offset=4 (local.get 0) (i32.const 1))))
(assert_trap (invoke "wait32+2" (i64.const -1)) "unaligned atomic")
(assert_trap (invoke "wait32+2" (i64.const -2)) "out of bounds memory access")
(assert_trap (invoke "notify+4" (i64.const -4)) "out of bounds memory access")
(assert_trap (invoke "notify+4" (i64.const -3)) "unaligned atomic")
"#,
    );
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.passed, 5);
}
