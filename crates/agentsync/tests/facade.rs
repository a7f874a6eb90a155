//! Conformance of the `Atomics` facade with docs/semantics.md: one test per rule, named after it.
#![cfg(not(loom))] // layer 2 is std-only: loom atomics cannot live in raw memory

mod memory_common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use agentsync::memory::{
    notify_count_from_f64, timeout_from_ms, to_index, Atomics, AtomicsError, BigInt64Array,
    BigUint64Array, Element, ElementKind, Int16Array, Int32Array, Int8Array, JsErrorKind,
    TypedArray, Uint16Array, Uint32Array, Uint8Array, WasmView,
};
use agentsync::{agent, waiter_count_addr, WaitAsync, WaitResult};
use futures_lite::future::block_on;
use memory_common::{addr, non_shared, poll_once, shared, wait_until};

fn pending(result: Result<WaitAsync<'static>, AtomicsError>) -> agentsync::WaitFuture<'static> {
    result
        .expect("valid arguments")
        .into_future()
        .expect("an equal value with no zero timeout queues")
}

#[test]
fn s1_int32_and_bigint64_waits_on_the_same_bytes_share_one_queue() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    let big = BigInt64Array::new(&memory);
    // BigInt64 index 3 is bytes 24..32; Int32 index 6 starts at byte 24.
    let mut first = pending(Atomics::wait_async(&big, 3, 0, None));
    // A view with another byte offset reaching the same byte: Int32 index 2 of a view at 16.
    let shifted = Int32Array::with_range(&memory, 16, 8).unwrap();
    let mut second = pending(Atomics::wait_async(&shifted, 2, 0, None));
    assert_eq!(waiter_count_addr(addr(&memory, 24)), 2);

    assert_eq!(Atomics::notify(&ia, 6, 1), Ok(1));
    assert_eq!(poll_once(&mut first), Some(WaitResult::Ok), "oldest first");
    assert_eq!(poll_once(&mut second), None);
    assert_eq!(Atomics::notify(&big, 3, 1), Ok(1));
    assert_eq!(poll_once(&mut second), Some(WaitResult::Ok));

    // The same across threads, blocking: an Int32 notify wakes a BigInt64 waiter.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| Atomics::wait(&big, 3, 0, None));
        wait_until("the BigInt64 waiter", || {
            waiter_count_addr(addr(&memory, 24)) == 1
        });
        assert_eq!(Atomics::notify(&ia, 6, usize::MAX), Ok(1));
        assert_eq!(waiter.join().unwrap(), Ok(WaitResult::Ok));
    });
}

#[test]
fn s2_location_is_index_times_size_plus_byte_offset() {
    let memory = shared(1);
    let ia = Int32Array::with_range(&memory, 16, 4).unwrap();
    let big = BigInt64Array::with_range(&memory, 8, 4).unwrap();
    // Int32 index 3 of a view at 16 is byte 28; BigInt64 index 2 of a view at 8 is byte 24.
    let mut int_wait = pending(Atomics::wait_async(&ia, 3, 0, None));
    let mut big_wait = pending(Atomics::wait_async(&big, 2, 0, None));
    assert_eq!(waiter_count_addr(addr(&memory, 28)), 1);
    assert_eq!(waiter_count_addr(addr(&memory, 24)), 1);
    // Notify by byte address through the Wasm view, which knows nothing of views.
    let wasm = WasmView::new(&memory);
    assert_eq!(wasm.memory_atomic_notify(28, 0, 10), Ok(1));
    assert_eq!(poll_once(&mut int_wait), Some(WaitResult::Ok));
    assert_eq!(poll_once(&mut big_wait), None);
    assert_eq!(wasm.memory_atomic_notify(20, 4, 10), Ok(1));
    assert_eq!(poll_once(&mut big_wait), Some(WaitResult::Ok));
    // The value compared is the one at that location too.
    memory.atomic_i32(28).unwrap().store(5, SeqCst);
    assert_eq!(
        Atomics::wait(&ia, 3, 5, Some(Duration::ZERO)),
        Ok(WaitResult::TimedOut)
    );
    assert_eq!(Atomics::wait(&ia, 3, 0, None), Ok(WaitResult::NotEqual));
}

/// `wait`, `wait_async` and `notify` on a view of type `T`, all with an out-of-range index.
fn wait_errors<T: Element>(view: &TypedArray<T>) -> [AtomicsError; 3] {
    let index = view.len() + 7;
    [
        Atomics::wait(view, index, 0, None).unwrap_err(),
        Atomics::wait_async(view, index, 0, None).unwrap_err(),
        Atomics::notify(view, index, 1).unwrap_err(),
    ]
}

#[test]
fn s9_wait_on_views_other_than_int32_and_bigint64_is_type_error() {
    let memory = shared(1);
    let cases = [
        (ElementKind::Int8, wait_errors(&Int8Array::new(&memory))),
        (ElementKind::Uint8, wait_errors(&Uint8Array::new(&memory))),
        (ElementKind::Int16, wait_errors(&Int16Array::new(&memory))),
        (ElementKind::Uint16, wait_errors(&Uint16Array::new(&memory))),
        (ElementKind::Uint32, wait_errors(&Uint32Array::new(&memory))),
        (
            ElementKind::BigUint64,
            wait_errors(&BigUint64Array::new(&memory)),
        ),
    ];
    for (kind, errors) in cases {
        for (error, operation) in errors.iter().zip(["Atomics.wait", "Atomics.waitAsync"]) {
            assert_eq!(*error, AtomicsError::NotWaitable { operation, kind });
            assert_eq!(error.js_kind(), JsErrorKind::TypeError);
        }
        assert!(error_names(&errors[0], kind.name()));
    }
    // Waitable views get past the type check (and fail on the index instead).
    let ia = Int32Array::new(&memory);
    assert!(matches!(
        Atomics::wait(&ia, ia.len(), 0, None),
        Err(AtomicsError::IndexOutOfRange { .. })
    ));
}

fn error_names(error: &AtomicsError, what: &str) -> bool {
    error.to_string().contains(what)
}

#[test]
fn s10_non_shared_wait_is_type_error_checked_before_the_index() {
    let memory = non_shared();
    let ia = Int32Array::new(&memory);
    let big = BigInt64Array::new(&memory);
    for index in [0, ia.len(), usize::MAX] {
        let error = Atomics::wait(&ia, index, 0, None).unwrap_err();
        assert_eq!(
            error,
            AtomicsError::NotShared {
                operation: "Atomics.wait"
            }
        );
        assert_eq!(error.js_kind(), JsErrorKind::TypeError);
        assert_eq!(
            Atomics::wait_async(&big, index, 0, None).unwrap_err(),
            AtomicsError::NotShared {
                operation: "Atomics.waitAsync"
            }
        );
    }
    // The type check still comes first.
    assert!(matches!(
        Atomics::wait(&Uint8Array::new(&memory), 0, 0, None),
        Err(AtomicsError::NotWaitable { .. })
    ));
}

#[test]
fn s11_index_at_or_past_the_length_is_range_error() {
    let memory = shared(1);
    let ia = Int32Array::with_range(&memory, 0, 4).unwrap();
    for index in [4, 5, usize::MAX] {
        let expected = AtomicsError::IndexOutOfRange { index, length: 4 };
        assert_eq!(Atomics::wait(&ia, index, 0, None), Err(expected));
        assert_eq!(
            Atomics::wait_async(&ia, index, 0, None).unwrap_err(),
            expected
        );
        assert_eq!(expected.js_kind(), JsErrorKind::RangeError);
        assert!(expected.to_string().contains(&index.to_string()));
    }
    // The last valid index is fine.
    assert_eq!(Atomics::wait(&ia, 3, 1, None), Ok(WaitResult::NotEqual));
    // JavaScript index values: ToIndex.
    assert_eq!(to_index(3.9), Ok(3));
    assert_eq!(
        to_index(-1.0),
        Err(AtomicsError::InvalidIndex { value: -1.0 })
    );
    assert!(to_index(9_007_199_254_740_992.0).is_err());
    assert_eq!(to_index(9_007_199_254_740_991.0), Ok(9_007_199_254_740_991));
}

#[test]
fn s13_timeout_from_ms_follows_the_js_conversion() {
    let cases = [
        (f64::NAN, None),
        (f64::INFINITY, None),
        (f64::NEG_INFINITY, Some(Duration::ZERO)),
        (-1.0, Some(Duration::ZERO)),
        (-0.0, Some(Duration::ZERO)),
        (0.0, Some(Duration::ZERO)),
        (0.25, Some(Duration::from_micros(250))),
        (1500.0, Some(Duration::from_millis(1500))),
        (1e300, None),
    ];
    for (ms, expected) in cases {
        assert_eq!(timeout_from_ms(ms), expected, "ms = {ms}");
    }
    // No upper limit short of Duration's range: a year is a year.
    let year_ms = 365.0 * 24.0 * 3600.0 * 1000.0;
    assert_eq!(
        timeout_from_ms(year_ms),
        Some(Duration::from_secs(365 * 24 * 3600))
    );
    // And the converted timeout drives a real wait: -5 ms is an immediate timeout.
    let ia = Int32Array::new(&shared(1));
    assert_eq!(
        Atomics::wait(&ia, 0, 0, timeout_from_ms(-5.0)),
        Ok(WaitResult::TimedOut)
    );
}

#[test]
fn s15_cannot_block_is_raised_after_argument_validation() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    agent::non_blocking(|| {
        // Argument errors win.
        assert!(matches!(
            Atomics::wait(&Uint8Array::new(&memory), 0, 0, None),
            Err(AtomicsError::NotWaitable { .. })
        ));
        assert!(matches!(
            Atomics::wait(&ia, ia.len(), 0, None),
            Err(AtomicsError::IndexOutOfRange { .. })
        ));
        let error = Atomics::wait(&ia, 0, 0, None).unwrap_err();
        assert_eq!(error, AtomicsError::CannotBlock);
        assert_eq!(error.js_kind(), JsErrorKind::TypeError);
        assert_eq!(
            error.to_string(),
            "Atomics.wait cannot be called in this context"
        );
        // waitAsync never checks.
        assert!(Atomics::wait_async(&ia, 0, 0, None).unwrap().is_async());
    });
    assert_eq!(waiter_count_addr(addr(&memory, 0)), 0);
}

#[test]
fn s16_value_mismatch_is_not_equal_and_queues_nothing() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    let big = BigInt64Array::new(&memory);
    Atomics::store(&ia, 0, 1).unwrap();
    assert_eq!(Atomics::wait(&ia, 0, 0, None), Ok(WaitResult::NotEqual));
    let sync = Atomics::wait_async(&ia, 0, 0, None).unwrap();
    assert_eq!(sync.sync_result(), Some(WaitResult::NotEqual));
    // The expected value is converted to the element type before the compare.
    assert_eq!(
        Atomics::wait(&ia, 0, 1i64 << 32 | 1, Some(Duration::ZERO)),
        Ok(WaitResult::TimedOut)
    );
    assert_eq!(Atomics::wait(&big, 0, 0, None), Ok(WaitResult::NotEqual));
    assert_eq!(waiter_count_addr(addr(&memory, 0)), 0);
    assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(0));
}

#[test]
fn s17_not_equal_is_checked_before_the_zero_timeout() {
    let ia = Int32Array::new(&shared(1));
    Atomics::store(&ia, 0, 3).unwrap();
    let result = Atomics::wait_async(&ia, 0, 4, Some(Duration::ZERO)).unwrap();
    assert_eq!(result.sync_result(), Some(WaitResult::NotEqual));
    assert_eq!(
        Atomics::wait(&ia, 0, 4, Some(Duration::ZERO)),
        Ok(WaitResult::NotEqual)
    );
}

#[test]
fn s18_wait_async_with_zero_timeout_is_synchronous_timed_out() {
    let memory = shared(1);
    let big = BigInt64Array::new(&memory);
    for timeout in [
        Some(Duration::ZERO),
        timeout_from_ms(-1.0),
        timeout_from_ms(0.0),
    ] {
        let result = Atomics::wait_async(&big, 1, 0, timeout).unwrap();
        assert!(!result.is_async());
        assert_eq!(result.sync_result(), Some(WaitResult::TimedOut));
        assert_eq!(waiter_count_addr(addr(&memory, 8)), 0, "nothing queued");
    }
}

#[test]
fn s19_blocking_wait_with_zero_timeout_queues_then_times_out() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    // An async waiter queued first must still be there, and first, afterwards.
    let mut earlier = pending(Atomics::wait_async(&ia, 0, 0, None));
    assert_eq!(
        Atomics::wait(&ia, 0, 0, Some(Duration::ZERO)),
        Ok(WaitResult::TimedOut)
    );
    assert_eq!(waiter_count_addr(addr(&memory, 0)), 1);
    assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(1));
    assert_eq!(poll_once(&mut earlier), Some(WaitResult::Ok));
}

#[test]
fn s20_a_timed_out_waiter_is_off_the_list() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    assert_eq!(
        Atomics::wait(&ia, 0, 0, timeout_from_ms(1.0)),
        Ok(WaitResult::TimedOut)
    );
    assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(0));
    let future = pending(Atomics::wait_async(&ia, 0, 0, timeout_from_ms(1.0)));
    assert_eq!(block_on(future), WaitResult::TimedOut);
    assert_eq!(waiter_count_addr(addr(&memory, 0)), 0);
    assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(0));
}

#[test]
fn s27_notify_accepts_only_int32_and_bigint64_views() {
    let memory = shared(1);
    let checks = [
        wait_errors(&Int8Array::new(&memory))[2],
        wait_errors(&Uint8Array::new(&memory))[2],
        wait_errors(&Int16Array::new(&memory))[2],
        wait_errors(&Uint16Array::new(&memory))[2],
        wait_errors(&Uint32Array::new(&memory))[2],
        wait_errors(&BigUint64Array::new(&memory))[2],
    ];
    for error in checks {
        assert!(matches!(
            error,
            AtomicsError::NotWaitable {
                operation: "Atomics.notify",
                ..
            }
        ));
        assert_eq!(error.js_kind(), JsErrorKind::TypeError);
    }
    assert_eq!(Atomics::notify(&Int32Array::new(&memory), 0, 1), Ok(0));
    assert_eq!(Atomics::notify(&BigInt64Array::new(&memory), 0, 1), Ok(0));
}

#[test]
fn s28_notify_checks_the_index_after_the_type() {
    let memory = shared(1);
    let big = BigInt64Array::with_range(&memory, 8, 2).unwrap();
    assert_eq!(
        Atomics::notify(&big, 2, 0),
        Err(AtomicsError::IndexOutOfRange {
            index: 2,
            length: 2
        })
    );
    assert_eq!(Atomics::notify(&big, 1, 0), Ok(0));
}

#[test]
fn s29_notify_count_is_truncated_and_clamped() {
    let cases = [
        (None, usize::MAX),
        (Some(f64::NAN), 0),
        (Some(-0.5), 0),
        (Some(-7.0), 0),
        (Some(f64::NEG_INFINITY), 0),
        (Some(0.9), 0),
        (Some(1.9), 1),
        (Some(3.0), 3),
        (Some(f64::INFINITY), usize::MAX),
        (Some(1e300), usize::MAX),
    ];
    for (count, expected) in cases {
        assert_eq!(notify_count_from_f64(count), expected, "count = {count:?}");
    }
    // Applied to a real queue of four waiters.
    let ia = Int32Array::new(&shared(1));
    let mut waits: Vec<_> = (0..4)
        .map(|_| pending(Atomics::wait_async(&ia, 0, 0, None)))
        .collect();
    let notify = |count| Atomics::notify(&ia, 0, notify_count_from_f64(count)).unwrap();
    assert_eq!(notify(Some(f64::NAN)), 0);
    assert_eq!(notify(Some(-2.0)), 0);
    assert_eq!(notify(Some(1.7)), 1);
    assert_eq!(notify(None), 3);
    assert!(waits
        .iter_mut()
        .all(|w| poll_once(w) == Some(WaitResult::Ok)));
}

#[test]
fn s30_notify_wakes_min_of_count_and_queue_length_oldest_first() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    let mut first = pending(Atomics::wait_async(&ia, 1, 0, None));
    let mut second = pending(Atomics::wait_async(&ia, 1, 0, None));
    std::thread::scope(|s| {
        let blocking = s.spawn(|| Atomics::wait(&ia, 1, 0, None));
        wait_until("the blocking waiter", || {
            waiter_count_addr(addr(&memory, 4)) == 3
        });
        assert_eq!(Atomics::notify(&ia, 1, 2), Ok(2));
        assert_eq!(poll_once(&mut first), Some(WaitResult::Ok));
        assert_eq!(poll_once(&mut second), Some(WaitResult::Ok));
        assert_eq!(
            waiter_count_addr(addr(&memory, 4)),
            1,
            "the blocking waiter is last"
        );
        // Blocking and async waiters count the same; min(5, 1) = 1.
        assert_eq!(Atomics::notify(&ia, 1, 5), Ok(1));
        assert_eq!(blocking.join().unwrap(), Ok(WaitResult::Ok));
    });
}

#[test]
fn s31_notify_affects_only_the_exact_location() {
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    let big = BigInt64Array::new(&memory);
    let mut waiting = pending(Atomics::wait_async(&ia, 2, 0, None));
    assert_eq!(Atomics::notify(&ia, 3, usize::MAX), Ok(0), "the next word");
    assert_eq!(
        Atomics::notify(&ia, 1, usize::MAX),
        Ok(0),
        "the previous word"
    );
    assert_eq!(
        Atomics::notify(&big, 0, usize::MAX),
        Ok(0),
        "bytes 0..8, starting elsewhere"
    );
    assert_eq!(poll_once(&mut waiting), None);
    assert_eq!(
        Atomics::notify(&big, 1, usize::MAX),
        Ok(1),
        "bytes 8..16 start at word 2"
    );
    assert_eq!(poll_once(&mut waiting), Some(WaitResult::Ok));
    assert_eq!(
        Atomics::notify(&ia, 2, usize::MAX),
        Ok(0),
        "notifying again"
    );
}

#[test]
fn s32_non_shared_notify_validates_then_returns_zero() {
    let memory = non_shared();
    let ia = Int32Array::new(&memory);
    assert!(matches!(
        Atomics::notify(&Uint16Array::new(&memory), 0, 1),
        Err(AtomicsError::NotWaitable { .. })
    ));
    assert!(matches!(
        Atomics::notify(&ia, ia.len(), 1),
        Err(AtomicsError::IndexOutOfRange { .. })
    ));
    assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(0));
    assert_eq!(Atomics::notify(&BigInt64Array::new(&memory), 0, 1), Ok(0));
}

/// Runs every read-modify-write on element 1 of a `T` view and checks it against i128 math.
fn exercise<T: Element + Into<i128>>(view: &TypedArray<T>) {
    let bits = 8 * T::SIZE as u32;
    let wrap = |v: i128| -> i128 { T::wrap(v).into() };
    let mut model: i128 = 0;
    let operands: [i128; 5] = [1, -1, 0x7f, 0x1234_5678_9abc, -0x8000_0000_0000_0000];
    for value in operands {
        type Op = fn(i128, i128) -> i128;
        let table: [(&str, Op); 6] = [
            ("add", |a, b| a + b),
            ("sub", |a, b| a - b),
            ("and", |a, b| a & b),
            ("or", |a, b| a | b),
            ("xor", |a, b| a ^ b),
            ("exchange", |_, b| b),
        ];
        for (name, op) in table {
            let old = match name {
                "add" => Atomics::add(view, 1, value),
                "sub" => Atomics::sub(view, 1, value),
                "and" => Atomics::and(view, 1, value),
                "or" => Atomics::or(view, 1, value),
                "xor" => Atomics::xor(view, 1, value),
                _ => Atomics::exchange(view, 1, value),
            }
            .unwrap();
            assert_eq!(old.into(), model, "{name} {value} on {}", T::KIND);
            model = wrap(op(model, value));
            assert_eq!(
                Atomics::load(view, 1).unwrap().into(),
                model,
                "{bits}-bit {name}"
            );
        }
        assert_eq!(Atomics::store(view, 1, value), Ok(value));
        model = wrap(value);
        assert_eq!(
            Atomics::compare_exchange(view, 1, value, 9),
            Ok(T::wrap(model))
        );
        assert_eq!(Atomics::load(view, 1).unwrap().into(), 9);
        model = 9;
    }
    // Neighbours untouched.
    assert_eq!(Atomics::load(view, 0).unwrap().into(), 0);
    assert_eq!(Atomics::load(view, 2).unwrap().into(), 0);
}

#[test]
fn s35_all_operations_work_on_every_integer_view_shared_or_not() {
    for memory in [shared(1), non_shared()] {
        exercise(&Int8Array::new(&memory));
        exercise(&Uint8Array::with_range(&memory, 64, 4).unwrap());
        exercise(&Int16Array::with_range(&memory, 128, 4).unwrap());
        exercise(&Uint16Array::with_range(&memory, 192, 4).unwrap());
        exercise(&Int32Array::with_range(&memory, 256, 4).unwrap());
        exercise(&Uint32Array::with_range(&memory, 320, 4).unwrap());
        exercise(&BigInt64Array::with_range(&memory, 384, 4).unwrap());
        exercise(&BigUint64Array::with_range(&memory, 448, 4).unwrap());
    }
}

#[test]
fn s36_out_of_range_index_is_range_error_for_every_operation() {
    let memory = shared(1);
    let view = Uint16Array::with_range(&memory, 2, 3).unwrap();
    for index in [3, 4, 1 << 40, usize::MAX] {
        let expected = Err(AtomicsError::IndexOutOfRange { index, length: 3 });
        assert_eq!(Atomics::load(&view, index), expected);
        assert_eq!(Atomics::store(&view, index, 1).map(|_| 0u16), expected);
        assert_eq!(Atomics::add(&view, index, 1), expected);
        assert_eq!(Atomics::sub(&view, index, 1), expected);
        assert_eq!(Atomics::and(&view, index, 1), expected);
        assert_eq!(Atomics::or(&view, index, 1), expected);
        assert_eq!(Atomics::xor(&view, index, 1), expected);
        assert_eq!(Atomics::exchange(&view, index, 1), expected);
        assert_eq!(Atomics::compare_exchange(&view, index, 0, 1), expected);
        assert_eq!(view.get(index), None);
        assert!(!view.set(index, 1));
    }
    // Nothing was written anywhere.
    let mut bytes = [1u8; 64];
    memory.read_bytes(0, &mut bytes).unwrap();
    assert_eq!(bytes, [0; 64]);
}

#[test]
fn s37_rmw_returns_the_old_value_and_conversions_wrap() {
    let memory = shared(1);
    let u8a = Uint8Array::new(&memory);
    let i16a = Int16Array::new(&memory);
    let big = BigUint64Array::new(&memory);
    // store returns its argument as an integer, not the wrapped element.
    assert_eq!(Atomics::store(&u8a, 0, 300), Ok(300));
    assert_eq!(Atomics::load(&u8a, 0), Ok(44));
    assert_eq!(Atomics::store(&i16a, 1, -1i64), Ok(-1i64));
    assert_eq!(Atomics::load(&i16a, 1), Ok(-1));
    // compare_exchange compares with the expected value converted to the element type.
    assert_eq!(Atomics::compare_exchange(&u8a, 0, 300, 7), Ok(44));
    assert_eq!(Atomics::load(&u8a, 0), Ok(7));
    assert_eq!(Atomics::compare_exchange(&u8a, 0, 8, 9), Ok(7), "no match");
    assert_eq!(Atomics::load(&u8a, 0), Ok(7), "no store without a match");
    assert_eq!(
        Atomics::compare_exchange(&i16a, 1, 0xffff, 0x1_0002),
        Ok(-1)
    );
    assert_eq!(Atomics::load(&i16a, 1), Ok(2));
    // BigUint64: -1 is 2^64 - 1.
    assert_eq!(Atomics::store(&big, 1, -1), Ok(-1));
    assert_eq!(Atomics::add(&big, 1, 2), Ok(u64::MAX));
    assert_eq!(Atomics::compare_exchange(&big, 1, 1u64, u64::MAX), Ok(1));
    assert_eq!(Atomics::load(&big, 1), Ok(u64::MAX));
}

#[test]
fn s38_is_lock_free_sizes() {
    assert!(Atomics::is_lock_free(4));
    for size in [1, 2, 8] {
        // Fixed: the same answer every time.
        assert_eq!(Atomics::is_lock_free(size), Atomics::is_lock_free(size));
    }
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert!(Atomics::is_lock_free(1) && Atomics::is_lock_free(2) && Atomics::is_lock_free(8));
    }
    for size in [0, 3, 5, 6, 7, 16, usize::MAX] {
        assert!(!Atomics::is_lock_free(size), "size {size}");
    }
}

#[test]
fn s39_pause_takes_no_count_and_returns_nothing() {
    // The signature is the rule: no argument, unit result.
    let pause: fn() = Atomics::pause;
    let spins = AtomicUsize::new(0);
    while spins.fetch_add(1, SeqCst) < 10 {
        pause();
    }
    assert_eq!(spins.load(SeqCst), 11);
}

/// Concurrency through the facade: waiters on an Int32 view and a BigInt64 view of the same
/// bytes, notified through a third path (the Wasm view). Invariant: the sum of what notify
/// returned equals the number of `Ok` results, and nothing is left queued.
#[test]
fn stress_mixed_views_notify_sum_equals_ok_results() {
    const WAITERS: usize = 4;
    let rounds: usize = if cfg!(debug_assertions) { 200 } else { 2000 };
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    let big = BigInt64Array::new(&memory);
    let wasm = WasmView::new(&memory);
    let oks = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let mut notified = 0;
    std::thread::scope(|s| {
        for waiter in 0..WAITERS {
            let (ia, big, oks, done) = (&ia, &big, &oks, &done);
            s.spawn(move || {
                for round in 0..rounds {
                    let timeout = Some(Duration::from_micros(200));
                    let result = if (waiter + round) % 2 == 0 {
                        Atomics::wait(ia, 2, 0, timeout)
                    } else {
                        Atomics::wait(big, 1, 0, timeout)
                    };
                    if result == Ok(WaitResult::Ok) {
                        oks.fetch_add(1, SeqCst);
                    }
                }
                done.fetch_add(1, SeqCst);
            });
        }
        while done.load(SeqCst) < WAITERS {
            notified += wasm.memory_atomic_notify(8, 0, 1).unwrap() as usize;
            std::thread::yield_now();
        }
    });
    assert_eq!(notified, oks.load(SeqCst));
    assert_eq!(waiter_count_addr(addr(&memory, 8)), 0);
}

/// Async (`wait_async`, awaited on its own thread) and blocking waiters on the same bytes
/// through different views, notified through the facade. Invariant: the sum of what notify
/// returned equals the number of `Ok` results, and nothing is left queued.
#[test]
fn stress_async_and_blocking_waiters_notify_sum_equals_ok_results() {
    let rounds: usize = if cfg!(debug_assertions) { 300 } else { 3000 };
    let memory = shared(1);
    let ia = Int32Array::new(&memory);
    let big = BigInt64Array::new(&memory);
    let oks = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let mut notified = 0;
    let timeout = Some(Duration::from_micros(300));
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..rounds {
                if Atomics::wait(&big, 0, 0, timeout) == Ok(WaitResult::Ok) {
                    oks.fetch_add(1, SeqCst);
                }
            }
            done.fetch_add(1, SeqCst);
        });
        s.spawn(|| {
            agent::non_blocking(|| {
                for _ in 0..rounds {
                    let wait = Atomics::wait_async(&ia, 1, 0, timeout).unwrap();
                    if block_on(wait) == WaitResult::Ok {
                        oks.fetch_add(1, SeqCst);
                    }
                }
            });
            done.fetch_add(1, SeqCst);
        });
        while done.load(SeqCst) < 2 {
            notified += Atomics::notify(&ia, 0, 1).unwrap();
            notified += Atomics::notify(&ia, 1, 1).unwrap();
            std::thread::yield_now();
        }
    });
    // Index 0 of the BigInt64 view is Int32 indices 0 and 1: only index 0 is its location.
    assert_eq!(notified, oks.load(SeqCst));
    assert_eq!(waiter_count_addr(addr(&memory, 0)), 0);
    assert_eq!(waiter_count_addr(addr(&memory, 4)), 0);
}
