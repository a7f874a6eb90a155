//! Tour steps for layer 2: the `Atomics` facade over a `SharedMemory`, and the guide's two locks
//! written against it. The locks are the very code of `crates/agentsync/examples/`.

use agentsync::memory::{Atomics, Int32Array, SharedMemory, Trap, Uint8Array, WasmView};

use super::{Checks, Step};

#[allow(dead_code)]
#[path = "../../../agentsync/examples/spinlock.rs"]
mod spinlock;

#[allow(dead_code)]
#[path = "../../../agentsync/examples/parking_lock.rs"]
mod parking_lock;

/// Workers and increments per worker for the lock steps: enough to contend, done in a blink.
const THREADS: usize = 4;
const ITERATIONS: usize = 20_000;

/// The layer 2 steps.
pub(super) const STEPS: &[Step] = &[
    Step {
        title: "the atomic toolbox and the opcode each call mirrors",
        what: "every Atomics operation on an Int32Array over a SharedMemory, JS's argument rules, and the Wasm view's traps",
        run: toolbox,
    },
    Step {
        title: "the spinlock",
        what: "the guide's compare-exchange spinlock on an Int32Array: threads increment a plain counter under it",
        run: spinlock_step,
    },
    Step {
        title: "the parking lock",
        what: "the guide's three-state lock (0 free, 1 held, 2 contended): waiters park in Atomics.wait, unlock notifies only when it saw 2",
        run: parking_lock_step,
    },
];

fn toolbox(checks: &mut Checks) -> Result<(), String> {
    let memory = SharedMemory::new(1, 2).map_err(|e| e.to_string())?;
    let ia = Int32Array::new(&memory);
    let show = |checks: &mut Checks, call: &str, result: String, opcode: &str| {
        checks.say(format_args!("  {call:<38} -> {result:<12} [{opcode}]"))
    };

    let stored = Atomics::store(&ia, 0, 5).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.store(ia, 0, 5)",
        stored.to_string(),
        "i32.atomic.store",
    );
    let old_add = Atomics::add(&ia, 0, 3).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.add(ia, 0, 3)",
        format!("old {old_add}"),
        "i32.atomic.rmw.add",
    );
    let old_sub = Atomics::sub(&ia, 0, 1).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.sub(ia, 0, 1)",
        format!("old {old_sub}"),
        "i32.atomic.rmw.sub",
    );
    let old_and = Atomics::and(&ia, 0, 0b110).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.and(ia, 0, 0b110)",
        format!("old {old_and}"),
        "i32.atomic.rmw.and",
    );
    let old_or = Atomics::or(&ia, 0, 0b1000).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.or(ia, 0, 0b1000)",
        format!("old {old_or}"),
        "i32.atomic.rmw.or",
    );
    let old_xor = Atomics::xor(&ia, 0, 0b1).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.xor(ia, 0, 1)",
        format!("old {old_xor}"),
        "i32.atomic.rmw.xor",
    );
    let old_exchange = Atomics::exchange(&ia, 0, 40).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.exchange(ia, 0, 40)",
        format!("old {old_exchange}"),
        "i32.atomic.rmw.xchg",
    );
    let old_cas = Atomics::compare_exchange(&ia, 0, 40, 42).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.compareExchange(ia, 0, 40, 42)",
        format!("old {old_cas}"),
        "i32.atomic.rmw.cmpxchg",
    );
    let loaded = Atomics::load(&ia, 0).map_err(|e| e.to_string())?;
    show(
        checks,
        "Atomics.load(ia, 0)",
        loaded.to_string(),
        "i32.atomic.load",
    );
    checks.equal(
        "each call returned the old value, as JS does",
        (
            stored,
            old_add,
            old_sub,
            old_and,
            old_or,
            old_xor,
            old_exchange,
            old_cas,
            loaded,
        ),
        (5, 5, 8, 7, 6, 14, 15, 40, 42),
    );
    checks.equal("Atomics.isLockFree(4)", Atomics::is_lock_free(4), true);

    let out_of_range = Atomics::load(&ia, ia.len())
        .map(|_| ())
        .map_err(|e| e.to_string());
    checks.say(format_args!(
        "  {:<38} -> {out_of_range:?}",
        "Atomics.load(ia, ia.length)"
    ));
    checks.check(
        "an index past the end is a RangeError, not a panic",
        out_of_range.is_err(),
    );
    let bytes = Uint8Array::new(&memory);
    let not_waitable = Atomics::wait(&bytes, 0, 0, None).map_err(|e| e.to_string());
    checks.say(format_args!(
        "  {:<38} -> {not_waitable:?}",
        "Atomics.wait(u8a, 0, 0)"
    ));
    checks.check(
        "waiting on a Uint8Array is a TypeError",
        not_waitable.is_err(),
    );

    let wasm = WasmView::new(&memory);
    let unaligned = wasm.i32_atomic_load(2, 0);
    checks.say(format_args!(
        "  {:<38} -> {unaligned:?}",
        "i32.atomic.load at address 2"
    ));
    checks.check(
        "an unaligned Wasm atomic traps",
        matches!(unaligned, Err(Trap::UnalignedAtomic { .. })),
    );
    let beyond = wasm.i32_atomic_load(memory.byte_length() as u64, 0);
    checks.say(format_args!(
        "  {:<38} -> {beyond:?}",
        "i32.atomic.load past the end"
    ));
    checks.check(
        "a Wasm atomic past the end traps out of bounds",
        matches!(beyond, Err(Trap::OutOfBounds { .. })),
    );
    let old_pages = memory.grow(1).map_err(|e| e.to_string())?;
    checks.equal("memory.grow(1) returns the old size in pages", old_pages, 1);
    checks.check(
        "past the declared maximum, grow fails",
        memory.grow(1).is_err(),
    );
    Ok(())
}

fn spinlock_step(checks: &mut Checks) -> Result<(), String> {
    let total = spinlock::run(THREADS, ITERATIONS).map_err(|e| e.to_string())?;
    checks.say(format_args!(
        "  {THREADS} threads x {ITERATIONS} increments under the spinlock = {total}"
    ));
    checks.equal("the counter is exact", total as usize, THREADS * ITERATIONS);
    Ok(())
}

fn parking_lock_step(checks: &mut Checks) -> Result<(), String> {
    // More rounds than the spinlock: parking shows only once threads really collide.
    let iterations = 5 * ITERATIONS;
    let report = parking_lock::run(THREADS, iterations).map_err(|e| e.to_string())?;
    checks.say(format_args!(
        "  {THREADS} threads x {iterations} increments under the parking lock = {}; unlock saw 2 and notified {} times",
        report.total, report.notifies
    ));
    checks.equal(
        "the counter is exact",
        report.total as usize,
        THREADS * iterations,
    );
    checks.equal(
        "no waiter left queued on the lock word",
        report.left_queued,
        0,
    );
    Ok(())
}
