//! Conformance of the Wasm view with the WebAssembly rules of docs/semantics.md (W1–W13).
#![cfg(not(loom))] // layer 2 is std-only: loom atomics cannot live in raw memory

mod memory_common;

use std::time::Duration;

use agentsync::memory::{Atomics, Int32Array, SharedMemory, Trap, WasmView, PAGE_SIZE};
use agentsync::{waiter_count_addr, WaitResult};
use memory_common::{addr, non_shared, poll_once, shared, wait_until};

const INIT: u64 = 0x8877_6655_4433_22f1;
const OPERAND: u64 = 0x0123_4567_89ab_cdef;
const CELL: u64 = 64;

fn mask(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Runs one read-modify-write instruction on the low `bits` of a cell holding `INIT` and checks
/// the old value and the new cell against u64 arithmetic.
macro_rules! check_rmw {
    ($wasm:expr, $method:ident, $ty:ty, $bits:expr, $op:expr) => {{
        let wasm: &WasmView = $wasm;
        wasm.i64_atomic_store(CELL, 0, INIT as i64).unwrap();
        let old = wasm.$method(CELL, 0, OPERAND as $ty).unwrap();
        let m = mask($bits);
        assert_eq!(
            old as u64 & m,
            INIT & m,
            "{} old value",
            stringify!($method)
        );
        let op: fn(u64, u64) -> u64 = $op;
        let expected = (INIT & !m) | (op(INIT & m, OPERAND & m) & m);
        let now = wasm.i64_atomic_load(CELL, 0).unwrap() as u64;
        assert_eq!(now, expected, "{} result", stringify!($method));
    }};
}

/// All seven read-modify-writes of one width.
macro_rules! check_family {
    ($wasm:expr, $ty:ty, $bits:expr, $add:ident $sub:ident $and:ident $or:ident $xor:ident
     $xchg:ident $cmpxchg:ident) => {{
        check_rmw!($wasm, $add, $ty, $bits, |a, b| a.wrapping_add(b));
        check_rmw!($wasm, $sub, $ty, $bits, |a, b| a.wrapping_sub(b));
        check_rmw!($wasm, $and, $ty, $bits, |a, b| a & b);
        check_rmw!($wasm, $or, $ty, $bits, |a, b| a | b);
        check_rmw!($wasm, $xor, $ty, $bits, |a, b| a ^ b);
        check_rmw!($wasm, $xchg, $ty, $bits, |_, b| b);
        let wasm: &WasmView = $wasm;
        wasm.i64_atomic_store(CELL, 0, INIT as i64).unwrap();
        let old = wasm.$cmpxchg(CELL, 0, INIT as $ty, OPERAND as $ty).unwrap();
        let m = mask($bits);
        assert_eq!(old as u64 & m, INIT & m);
        let now = wasm.i64_atomic_load(CELL, 0).unwrap() as u64;
        assert_eq!(now, (INIT & !m) | (OPERAND & m), "{}", stringify!($cmpxchg));
        // A mismatch stores nothing.
        let old = wasm.$cmpxchg(CELL, 0, INIT as $ty, 0).unwrap();
        assert_eq!(old as u64 & m, OPERAND & m);
        assert_eq!(wasm.i64_atomic_load(CELL, 0).unwrap() as u64, now);
    }};
}

fn every_rmw(wasm: &WasmView) {
    check_family!(wasm, i32, 32, i32_atomic_rmw_add i32_atomic_rmw_sub i32_atomic_rmw_and
        i32_atomic_rmw_or i32_atomic_rmw_xor i32_atomic_rmw_xchg i32_atomic_rmw_cmpxchg);
    check_family!(wasm, i64, 64, i64_atomic_rmw_add i64_atomic_rmw_sub i64_atomic_rmw_and
        i64_atomic_rmw_or i64_atomic_rmw_xor i64_atomic_rmw_xchg i64_atomic_rmw_cmpxchg);
    check_family!(wasm, i32, 8, i32_atomic_rmw8_add_u i32_atomic_rmw8_sub_u
        i32_atomic_rmw8_and_u i32_atomic_rmw8_or_u i32_atomic_rmw8_xor_u i32_atomic_rmw8_xchg_u
        i32_atomic_rmw8_cmpxchg_u);
    check_family!(wasm, i32, 16, i32_atomic_rmw16_add_u i32_atomic_rmw16_sub_u
        i32_atomic_rmw16_and_u i32_atomic_rmw16_or_u i32_atomic_rmw16_xor_u
        i32_atomic_rmw16_xchg_u i32_atomic_rmw16_cmpxchg_u);
    check_family!(wasm, i64, 8, i64_atomic_rmw8_add_u i64_atomic_rmw8_sub_u
        i64_atomic_rmw8_and_u i64_atomic_rmw8_or_u i64_atomic_rmw8_xor_u i64_atomic_rmw8_xchg_u
        i64_atomic_rmw8_cmpxchg_u);
    check_family!(wasm, i64, 16, i64_atomic_rmw16_add_u i64_atomic_rmw16_sub_u
        i64_atomic_rmw16_and_u i64_atomic_rmw16_or_u i64_atomic_rmw16_xor_u
        i64_atomic_rmw16_xchg_u i64_atomic_rmw16_cmpxchg_u);
    check_family!(wasm, i64, 32, i64_atomic_rmw32_add_u i64_atomic_rmw32_sub_u
        i64_atomic_rmw32_and_u i64_atomic_rmw32_or_u i64_atomic_rmw32_xor_u
        i64_atomic_rmw32_xchg_u i64_atomic_rmw32_cmpxchg_u);
}

fn every_load_and_store(wasm: &WasmView) {
    type Load = fn(&WasmView) -> u64;
    let loads: [(u32, Load); 7] = [
        (32, |w| w.i32_atomic_load(CELL, 0).unwrap() as u32 as u64),
        (64, |w| w.i64_atomic_load(CELL, 0).unwrap() as u64),
        (8, |w| w.i32_atomic_load8_u(CELL, 0).unwrap() as u64),
        (16, |w| w.i32_atomic_load16_u(CELL, 0).unwrap() as u64),
        (8, |w| w.i64_atomic_load8_u(CELL, 0).unwrap() as u64),
        (16, |w| w.i64_atomic_load16_u(CELL, 0).unwrap() as u64),
        (32, |w| w.i64_atomic_load32_u(CELL, 0).unwrap() as u64),
    ];
    for (bits, load) in loads {
        wasm.i64_atomic_store(CELL, 0, INIT as i64).unwrap();
        assert_eq!(load(wasm), INIT & mask(bits), "{bits}-bit load");
    }
    type Store = fn(&WasmView, u64);
    let stores: [(u32, Store); 7] = [
        (32, |w, v| w.i32_atomic_store(CELL, 0, v as i32).unwrap()),
        (64, |w, v| w.i64_atomic_store(CELL, 0, v as i64).unwrap()),
        (8, |w, v| w.i32_atomic_store8(CELL, 0, v as i32).unwrap()),
        (16, |w, v| w.i32_atomic_store16(CELL, 0, v as i32).unwrap()),
        (8, |w, v| w.i64_atomic_store8(CELL, 0, v as i64).unwrap()),
        (16, |w, v| w.i64_atomic_store16(CELL, 0, v as i64).unwrap()),
        (32, |w, v| w.i64_atomic_store32(CELL, 0, v as i64).unwrap()),
    ];
    for (bits, store) in stores {
        wasm.i64_atomic_store(CELL, 0, INIT as i64).unwrap();
        store(wasm, OPERAND);
        let m = mask(bits);
        let expected = (INIT & !m) | (OPERAND & m);
        assert_eq!(
            wasm.i64_atomic_load(CELL, 0).unwrap() as u64,
            expected,
            "{bits}-bit store"
        );
    }
}

#[test]
fn w1_every_threads_instruction_is_provided_and_computes() {
    let wasm = WasmView::new(&shared(1));
    every_load_and_store(&wasm);
    every_rmw(&wasm);
    wasm.atomic_fence();
    assert_eq!(wasm.memory_atomic_notify(CELL, 0, 1), Ok(0));
    assert_eq!(wasm.memory_atomic_wait32(CELL, 0, 1, 0), Ok(1));
    assert_eq!(wasm.memory_atomic_wait64(CELL, 0, 1, 0), Ok(1));
}

#[test]
fn w2_atomic_instructions_also_work_on_unshared_memory() {
    let wasm = WasmView::new(&non_shared());
    every_load_and_store(&wasm);
    every_rmw(&wasm);
}

/// Every access size with every misalignment below it traps as unaligned.
#[test]
fn w3_alignment_is_always_the_natural_one() {
    let wasm = WasmView::new(&shared(1));
    for misalign in 1..8u64 {
        let at = 128 + misalign;
        let traps = [
            (2, wasm.i32_atomic_load16_u(at, 0).err()),
            (4, wasm.i32_atomic_load(at, 0).err()),
            (4, wasm.i64_atomic_rmw32_add_u(at, 0, 1).err()),
            (8, wasm.i64_atomic_rmw_cmpxchg(at, 0, 0, 1).err()),
            (8, wasm.i64_atomic_store(at, 0, 1).err()),
        ];
        for (size, trap) in traps {
            let expected = (misalign % size != 0).then_some(Trap::UnalignedAtomic {
                address: at,
                size: size as u32,
            });
            assert_eq!(trap, expected, "{size}-byte access at {at}");
        }
        // Single bytes are always aligned.
        assert!(wasm.i32_atomic_rmw8_add_u(at, 0, 0).is_ok());
        assert!(wasm.i64_atomic_load8_u(at, 0).is_ok());
    }
}

#[test]
fn w4_effective_address_alignment_then_bounds_no_wraparound() {
    let memory = shared(2);
    let wasm = WasmView::new(&memory);
    let end = PAGE_SIZE as u64;
    // address + offset is the effective address.
    wasm.i32_atomic_store(8, 4, 7).unwrap();
    assert_eq!(wasm.i32_atomic_load(12, 0), Ok(7));
    // Last words in bounds, first ones out.
    assert_eq!(wasm.i32_atomic_load(end - 4, 0), Ok(0));
    assert_eq!(wasm.i64_atomic_load(end - 8, 0), Ok(0));
    let out = wasm.i32_atomic_load(end, 0).unwrap_err();
    assert!(matches!(out, Trap::OutOfBounds { address, size: 4, .. } if address == end));
    assert_eq!(out.message(), "out of bounds memory access");
    assert!(out.to_string().ends_with("(W4)"));
    assert!(matches!(
        wasm.i64_atomic_load(end - 4, 0),
        Err(Trap::UnalignedAtomic { .. })
    ));
    assert!(matches!(
        wasm.i64_atomic_load(end - 8, 8),
        Err(Trap::OutOfBounds { .. })
    ));
    // Alignment is checked first: misaligned and out of bounds is an alignment trap.
    let both = wasm.i32_atomic_load(end + 2, 0).unwrap_err();
    assert_eq!(
        both,
        Trap::UnalignedAtomic {
            address: end + 2,
            size: 4
        }
    );
    assert!(both.to_string().starts_with("unaligned atomic"));
    // No wrap-around: a sum past u64 does not come back to a small address.
    assert!(matches!(
        wasm.i32_atomic_load(u64::MAX - 3, 8),
        Err(Trap::OutOfBounds { .. })
    ));
    assert!(matches!(
        wasm.i32_atomic_load(0xffff_fffc, 8),
        Err(Trap::OutOfBounds { .. })
    ));
    // Bounds follow the current length.
    memory.grow(1).unwrap();
    assert_eq!(wasm.i32_atomic_load(end, 0), Ok(0));
}

#[test]
fn w5_narrow_accesses_zero_extend_keep_low_bits_little_endian() {
    let wasm = WasmView::new(&shared(1));
    wasm.i64_atomic_store(0, 0, -1).unwrap();
    assert_eq!(wasm.i32_atomic_load8_u(0, 0), Ok(0xff));
    assert_eq!(wasm.i32_atomic_load16_u(0, 0), Ok(0xffff));
    assert_eq!(wasm.i64_atomic_load32_u(0, 0), Ok(0xffff_ffff));
    assert_eq!(
        wasm.i64_atomic_rmw8_add_u(0, 0, 1),
        Ok(0xff),
        "old value zero-extended"
    );
    assert_eq!(wasm.i32_atomic_rmw16_xchg_u(2, 0, 0x1234_5678), Ok(0xffff));
    // Stores keep the low bits and touch nothing else.
    assert_eq!(
        wasm.i64_atomic_load(0, 0),
        Ok(0xffff_ffff_5678_ff00_u64 as i64)
    );
    // Little-endian.
    wasm.i32_atomic_store(8, 0, 0x1122_3344).unwrap();
    assert_eq!(wasm.i32_atomic_load8_u(8, 0), Ok(0x44));
    assert_eq!(wasm.i32_atomic_load8_u(11, 0), Ok(0x11));
    assert_eq!(wasm.i32_atomic_load16_u(10, 0), Ok(0x1122));
}

#[test]
fn w6_narrow_cmpxchg_truncates_expected_and_replacement() {
    let wasm = WasmView::new(&shared(1));
    wasm.i32_atomic_store8(0, 0, 0x80).unwrap();
    assert_eq!(wasm.i32_atomic_rmw8_cmpxchg_u(0, 0, 0x180, 0x1ff), Ok(0x80));
    assert_eq!(
        wasm.i32_atomic_load(0, 0),
        Ok(0xff),
        "replacement truncated, neighbours kept"
    );
    wasm.i64_atomic_store32(8, 0, 5).unwrap();
    assert_eq!(
        wasm.i64_atomic_rmw32_cmpxchg_u(8, 0, 0x1_0000_0005, -1),
        Ok(5)
    );
    assert_eq!(wasm.i64_atomic_load(8, 0), Ok(0xffff_ffff));
    assert_eq!(
        wasm.i64_atomic_rmw16_cmpxchg_u(8, 0, 0xffff, 0x7_0001),
        Ok(0xffff)
    );
    assert_eq!(wasm.i64_atomic_load(8, 0), Ok(0xffff_0001));
}

#[test]
fn w7_wait_checks_alignment_then_shared_then_bounds_then_value() {
    let end = PAGE_SIZE as u64;
    let unshared = WasmView::new(&non_shared());
    let shared_view = WasmView::new(&shared(1));
    // Misaligned, unshared and out of bounds: alignment wins.
    assert_eq!(
        unshared.memory_atomic_wait32(end + 1, 0, 0, 0),
        Err(Trap::UnalignedAtomic {
            address: end + 1,
            size: 4
        })
    );
    assert_eq!(
        unshared.memory_atomic_wait64(end + 4, 0, 0, 0),
        Err(Trap::UnalignedAtomic {
            address: end + 4,
            size: 8
        })
    );
    // Aligned, unshared and out of bounds: the unshared memory wins.
    let trap = unshared.memory_atomic_wait32(end, 0, 0, 0).unwrap_err();
    assert_eq!(trap, Trap::ExpectedSharedMemory);
    assert_eq!(trap.message(), "expected shared memory");
    assert!(trap.to_string().contains("W7"));
    assert_eq!(
        unshared.memory_atomic_wait64(0, 0, 0, 0),
        Err(Trap::ExpectedSharedMemory)
    );
    // Shared and out of bounds: the bounds trap.
    assert!(matches!(
        shared_view.memory_atomic_wait64(end, 0, 0, 0),
        Err(Trap::OutOfBounds { .. })
    ));
    // Then the compare.
    shared_view.i32_atomic_store(16, 0, 3).unwrap();
    assert_eq!(shared_view.memory_atomic_wait32(16, 0, 4, -1), Ok(1));
    assert_eq!(shared_view.memory_atomic_wait64(16, 0, 4, -1), Ok(1));
}

#[test]
fn w8_timeouts_are_i64_nanoseconds_and_results_are_0_1_2() {
    let memory = shared(1);
    let wasm = WasmView::new(&memory);
    assert_eq!(wasm.memory_atomic_wait32(0, 0, 1, 0), Ok(1), "not-equal");
    assert_eq!(wasm.memory_atomic_wait32(0, 0, 0, 0), Ok(2), "timed-out");
    assert_eq!(
        wasm.memory_atomic_wait64(0, 0, 0, 100_000),
        Ok(2),
        "timed-out"
    );
    // Negative never expires: only the notify ends it, with 0.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| wasm.memory_atomic_wait64(8, 0, 0, -1));
        wait_until("the wasm waiter", || {
            waiter_count_addr(addr(&memory, 8)) == 1
        });
        assert_eq!(wasm.memory_atomic_notify(8, 0, 1), Ok(1));
        assert_eq!(waiter.join().unwrap(), Ok(0));
    });
}

#[test]
fn w9_no_spurious_wakeups_writes_do_not_wake() {
    let memory = shared(1);
    let wasm = WasmView::new(&memory);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| wasm.memory_atomic_wait32(32, 0, 0, -1));
        wait_until("the wasm waiter", || {
            waiter_count_addr(addr(&memory, 32)) == 1
        });
        // Writes of every kind to the cell, and notifies of its neighbours, wake nobody.
        wasm.i32_atomic_store(32, 0, 1).unwrap();
        wasm.i32_atomic_rmw_add(32, 0, 1).unwrap();
        wasm.i64_atomic_rmw_xchg(32, 0, 9).unwrap();
        wasm.i32_atomic_rmw_cmpxchg(32, 0, 9, 0).unwrap();
        assert_eq!(wasm.memory_atomic_notify(28, 0, 10), Ok(0));
        assert_eq!(wasm.memory_atomic_notify(36, 0, 10), Ok(0));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waiter_count_addr(addr(&memory, 32)), 1, "still waiting");
        assert_eq!(wasm.memory_atomic_notify(32, 0, 1), Ok(1));
        assert_eq!(waiter.join().unwrap(), Ok(0));
    });
}

#[test]
fn w10_notify_wakes_at_most_count_at_exactly_that_address() {
    let memory = shared(1);
    let wasm = WasmView::new(&memory);
    let ia = Int32Array::new(&memory);
    let mut at_16: Vec<_> = (0..3)
        .map(|_| {
            Atomics::wait_async(&ia, 4, 0, None)
                .unwrap()
                .into_future()
                .unwrap()
        })
        .collect();
    let mut at_20 = Atomics::wait_async(&ia, 5, 0, None)
        .unwrap()
        .into_future()
        .unwrap();
    assert_eq!(
        wasm.memory_atomic_notify(16, 0, 0),
        Ok(0),
        "count 0 wakes nobody"
    );
    assert_eq!(wasm.memory_atomic_notify(16, 0, 2), Ok(2));
    assert_eq!(poll_once(&mut at_16[0]), Some(WaitResult::Ok));
    assert_eq!(poll_once(&mut at_16[1]), Some(WaitResult::Ok));
    assert_eq!(poll_once(&mut at_16[2]), None);
    assert_eq!(wasm.memory_atomic_notify(16, 0, u32::MAX), Ok(1));
    assert_eq!(poll_once(&mut at_20), None, "the next word is untouched");
    assert_eq!(wasm.memory_atomic_notify(20, 0, 1), Ok(1));
}

#[test]
fn w11_notify_checks_alignment_then_bounds_then_unshared_returns_zero() {
    let end = PAGE_SIZE as u64;
    for wasm in [WasmView::new(&non_shared()), WasmView::new(&shared(1))] {
        assert_eq!(
            wasm.memory_atomic_notify(end + 2, 0, 1),
            Err(Trap::UnalignedAtomic {
                address: end + 2,
                size: 4
            })
        );
        assert!(matches!(
            wasm.memory_atomic_notify(end, 0, 1),
            Err(Trap::OutOfBounds { .. })
        ));
        assert_eq!(wasm.memory_atomic_notify(4, 0, 1), Ok(0));
    }
    // Unshared: 0 even with a waiter at that address (there can be none through a wait, so
    // queue one on the bytes' address with the core futex directly).
    let memory = non_shared();
    let word = memory.atomic_i32(0).unwrap();
    let queued = agentsync::wait_async(word, 0, None).into_future().unwrap();
    assert_eq!(WasmView::new(&memory).memory_atomic_notify(0, 0, 1), Ok(0));
    assert_eq!(
        queued.cancel(),
        None,
        "still queued: the unshared notify woke nobody"
    );
}

#[test]
fn w12_wasm_and_host_waiters_share_one_fifo_list() {
    let memory = shared(1);
    let wasm = WasmView::new(&memory);
    let ia = Int32Array::new(&memory);
    let mut host_async = Atomics::wait_async(&ia, 10, 0, None)
        .unwrap()
        .into_future()
        .unwrap();
    std::thread::scope(|s| {
        let guest = s.spawn(|| wasm.memory_atomic_wait32(40, 0, 0, -1));
        wait_until("the guest waiter", || {
            waiter_count_addr(addr(&memory, 40)) == 2
        });
        let host = s.spawn(|| Atomics::wait(&ia, 10, 0, None));
        wait_until("the host waiter", || {
            waiter_count_addr(addr(&memory, 40)) == 3
        });
        // A guest notify wakes the oldest: the host's async waiter.
        assert_eq!(wasm.memory_atomic_notify(40, 0, 1), Ok(1));
        assert_eq!(poll_once(&mut host_async), Some(WaitResult::Ok));
        // A host notify wakes the guest next.
        assert_eq!(Atomics::notify(&ia, 10, 1), Ok(1));
        assert_eq!(guest.join().unwrap(), Ok(0));
        // And a guest notify wakes the blocking host waiter.
        assert_eq!(wasm.memory_atomic_notify(40, 0, 1), Ok(1));
        assert_eq!(host.join().unwrap(), Ok(WaitResult::Ok));
    });
}

#[test]
fn w13_a_shared_memory_declares_a_maximum_and_never_moves() {
    let memory = SharedMemory::new(1, 3).unwrap();
    let wasm = WasmView::new(&memory);
    let base = memory.as_ptr();
    wasm.i64_atomic_store(8, 0, 42).unwrap();
    assert_eq!(memory.maximum_pages(), 3);
    assert_eq!(memory.grow(2), Ok(1));
    assert_eq!(memory.as_ptr(), base);
    assert_eq!(wasm.i64_atomic_load(8, 0), Ok(42), "contents kept");
    assert_eq!(
        wasm.i64_atomic_load(3 * PAGE_SIZE as u64 - 8, 0),
        Ok(0),
        "new pages zeroed"
    );
    assert!(memory.grow(1).is_err());
    assert_eq!(memory.size_pages(), 3);
}

#[test]
fn w4_alignment_is_checked_before_an_address_that_overflows() {
    let memory = SharedMemory::new(1, 1).unwrap();
    let wasm = WasmView::new(&memory);
    // address + offset = 2^64 + 1: past every memory, and unaligned: the unaligned trap wins.
    assert!(matches!(
        wasm.i32_atomic_load(u64::MAX, 2),
        Err(Trap::UnalignedAtomic { size: 4, .. })
    ));
    assert!(matches!(
        wasm.memory_atomic_wait32(u64::MAX, 2, 0, 0),
        Err(Trap::UnalignedAtomic { .. })
    ));
    assert!(matches!(
        wasm.memory_atomic_notify(u64::MAX, 2, 1),
        Err(Trap::UnalignedAtomic { .. })
    ));
    // address + offset = 2^64: aligned, so out of bounds.
    assert!(matches!(
        wasm.i32_atomic_load(u64::MAX - 1, 2),
        Err(Trap::OutOfBounds { .. })
    ));
}

/// Which check stopped a wait or notify (or that it got past all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Unaligned,
    Unshared,
    Bounds,
    /// Every check passed: a wait compared (and reported not-equal), a notify returned this.
    Passed(u32),
}

fn stop(result: Result<u32, Trap>) -> Stop {
    match result {
        Ok(code) => Stop::Passed(code),
        Err(Trap::UnalignedAtomic { .. }) => Stop::Unaligned,
        Err(Trap::ExpectedSharedMemory) => Stop::Unshared,
        Err(Trap::OutOfBounds { .. }) => Stop::Bounds,
        Err(other) => panic!("unexpected trap {other:?}"),
    }
}

/// Address and offset pairs for an access of `size` bytes to a one-page memory, each with a
/// description: (what, address, offset, aligned, in bounds).
fn trap_order_rows(size: u64) -> Vec<(&'static str, u64, u64, bool, bool)> {
    let end = PAGE_SIZE as u64;
    vec![
        ("aligned, in bounds", 16, 0, true, true),
        ("aligned, the last cell", end - size, 0, true, true),
        (
            "aligned, the last cell by offset",
            0,
            end - size,
            true,
            true,
        ),
        ("aligned, just past the end", end, 0, true, false),
        ("aligned, past the end by offset", size, end, true, false),
        (
            "aligned, address + offset is exactly 2^64",
            u64::MAX - size + 1,
            size,
            true,
            false,
        ),
        (
            "aligned, address + offset past 2^64",
            u64::MAX - size + 1,
            2 * size,
            true,
            false,
        ),
        (
            "aligned, the offset alone near 2^64",
            size,
            u64::MAX - size + 1,
            true,
            false,
        ),
        ("misaligned, in bounds", size / 2, 0, false, true),
        ("misaligned, past the end", end + size / 2, 0, false, false),
        (
            "misaligned, address + offset past 2^64",
            u64::MAX,
            2,
            false,
            false,
        ),
    ]
}

#[test]
fn w7_wait_traps_alignment_then_unshared_then_bounds_for_every_address() {
    let views = [
        ("shared", WasmView::new(&shared(1))),
        ("unshared", WasmView::new(&non_shared())),
    ];
    for (kind, wasm) in &views {
        let is_shared = *kind == "shared";
        for size in [4u64, 8] {
            for (what, address, offset, aligned, in_bounds) in trap_order_rows(size) {
                let expected = match (aligned, is_shared, in_bounds) {
                    (false, _, _) => Stop::Unaligned,
                    (true, false, _) => Stop::Unshared,
                    (true, true, false) => Stop::Bounds,
                    (true, true, true) => Stop::Passed(1), // cells hold 0, expected 1: not-equal
                };
                let got = match size {
                    4 => stop(wasm.memory_atomic_wait32(address, offset, 1, 0)),
                    _ => stop(wasm.memory_atomic_wait64(address, offset, 1, 0)),
                };
                assert_eq!(got, expected, "wait{} on {kind} memory, {what}", size * 8);
            }
        }
    }
}

#[test]
fn w11_notify_traps_alignment_then_bounds_then_unshared_returns_zero_for_every_address() {
    let views = [
        ("shared", WasmView::new(&shared(1))),
        ("unshared", WasmView::new(&non_shared())),
    ];
    for (kind, wasm) in &views {
        for (what, address, offset, aligned, in_bounds) in trap_order_rows(4) {
            let expected = match (aligned, in_bounds) {
                (false, _) => Stop::Unaligned,
                (true, false) => Stop::Bounds,
                (true, true) => Stop::Passed(0), // nobody waits (shared) or unshared: 0
            };
            let got = stop(wasm.memory_atomic_notify(address, offset, 1));
            assert_eq!(got, expected, "notify on {kind} memory, {what}");
        }
    }
}
