//! Property test: random sequences of facade, Wasm-view, grow and byte operations, with random
//! and often invalid offsets, lengths, indices, widths and alignments, never panic and agree
//! with a simple sequential model of the bytes.
#![cfg(not(loom))] // layer 2 is std-only: loom atomics cannot live in raw memory

mod memory_common;

use std::sync::Arc;
use std::time::Duration;

use agentsync::memory::{
    wrap_number, Atomics, AtomicsError, Element, SharedMemory, Trap, TypedArray, WasmView,
    PAGE_SIZE,
};
use agentsync::{WaitAsync, WaitResult};
use proptest::prelude::*;

const MAX_PAGES: u64 = 2;

/// The sequential model: the bytes and the current length.
struct Model {
    bytes: Vec<u8>,
    length: usize,
}

impl Model {
    fn read(&self, at: usize, size: usize) -> u64 {
        let mut le = [0u8; 8];
        le[..size].copy_from_slice(&self.bytes[at..at + size]);
        u64::from_le_bytes(le)
    }

    fn write(&mut self, at: usize, size: usize, value: i128) {
        let le = (value as u64).to_le_bytes();
        self.bytes[at..at + size].copy_from_slice(&le[..size]);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Load,
    Store,
    Add,
    Sub,
    And,
    Or,
    Xor,
    Exchange,
    CompareExchange,
    Get,
    Set,
    Wait,
    WaitAsync,
    Notify,
}

impl Action {
    /// Every action, for the strategy to pick from.
    const ALL: [Action; 14] = [
        Action::Load,
        Action::Store,
        Action::Add,
        Action::Sub,
        Action::And,
        Action::Or,
        Action::Xor,
        Action::Exchange,
        Action::CompareExchange,
        Action::Get,
        Action::Set,
        Action::Wait,
        Action::WaitAsync,
        Action::Notify,
    ];
}

#[derive(Clone, Debug)]
enum Op {
    Facade {
        kind: usize,
        byte_offset: usize,
        length: usize,
        index: usize,
        action: Action,
        a: i128,
        b: i128,
    },
    Wasm {
        size: usize,
        address: u64,
        offset: u64,
        action: Action,
        a: i64,
        b: i64,
    },
    Grow {
        delta: u64,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

fn value() -> impl Strategy<Value = i128> {
    prop_oneof![
        -300i128..300,
        any::<i64>().prop_map(i128::from),
        any::<u64>().prop_map(i128::from),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let end = PAGE_SIZE;
    let facade = (
        0usize..8,
        prop_oneof![
            0usize..48,
            end - 40..end + 8,
            2 * end - 40..2 * end + 8,
            any::<usize>()
        ],
        prop_oneof![
            0usize..16,
            8180usize..8200,
            Just(usize::MAX),
            any::<usize>()
        ],
        prop_oneof![4 => 0usize..20, 1 => any::<usize>()],
        action(),
        value(),
        value(),
    )
        .prop_map(
            |(kind, byte_offset, length, index, action, a, b)| Op::Facade {
                kind,
                byte_offset,
                length,
                index,
                action,
                a,
                b,
            },
        );
    let end = end as u64;
    let wasm = (
        prop::sample::select(vec![1usize, 2, 4, 8]),
        prop_oneof![
            0u64..96,
            end - 16..end + 8,
            2 * end - 16..2 * end + 8,
            any::<u64>()
        ],
        prop_oneof![3 => Just(0u64), 2 => 0u64..16, 1 => any::<u64>()],
        action(),
        any::<i64>(),
        prop_oneof![-3i64..3, any::<i64>()],
    )
        .prop_map(|(size, address, offset, action, a, b)| Op::Wasm {
            size,
            address,
            offset,
            action,
            a,
            b,
        });
    let grow = prop_oneof![3 => 0u64..2, 1 => any::<u64>()].prop_map(|delta| Op::Grow { delta });
    prop_oneof![6 => facade, 3 => wasm, 1 => grow]
}

/// The value an `Rmw`-like action leaves, given the old element and the operand (both already
/// in the element type's range as i128).
fn apply(action: Action, old: i128, operand: i128) -> i128 {
    match action {
        Action::Add => old.wrapping_add(operand),
        Action::Sub => old.wrapping_sub(operand),
        Action::And => old & operand,
        Action::Or => old | operand,
        Action::Xor => old ^ operand,
        _ => operand,
    }
}

fn facade_step<T: Element + Into<i128>>(
    memory: &Arc<SharedMemory>,
    model: &mut Model,
    (byte_offset, length, index): (usize, usize, usize),
    action: Action,
    (a, b): (i128, i128),
) {
    let size = T::SIZE;
    let fits = length
        .checked_mul(size)
        .and_then(|bytes| bytes.checked_add(byte_offset))
        .is_some_and(|end| end <= model.length);
    let view = TypedArray::<T>::with_range(memory, byte_offset, length);
    assert_eq!(
        view.is_ok(),
        byte_offset % size == 0 && fits,
        "view {byte_offset}+{length}"
    );
    let Ok(view) = view else { return };
    let wrap = |v: i128| -> i128 { T::wrap(v).into() };
    let at = (index < length).then(|| byte_offset + index * size);
    let range_error = AtomicsError::IndexOutOfRange { index, length };
    let current = |model: &Model| at.map(|at| wrap(model.read(at, size) as i128));
    let waitable = T::KIND.is_waitable();
    let type_error = |operation| AtomicsError::NotWaitable {
        operation,
        kind: T::KIND,
    };
    match action {
        Action::Load => {
            let got = Atomics::load(&view, index).map(Into::into);
            assert_eq!(got, current(model).ok_or(range_error));
        }
        Action::Get => {
            assert_eq!(view.get(index).map(Into::into), current(model));
        }
        Action::Store | Action::Set => {
            if action == Action::Store {
                let got = Atomics::store(&view, index, a);
                assert_eq!(got, at.map(|_| a).ok_or(range_error));
            } else {
                assert_eq!(view.set(index, T::wrap(a)), at.is_some());
            }
            if let Some(at) = at {
                model.write(at, size, a);
            }
        }
        Action::CompareExchange => {
            let got = Atomics::compare_exchange(&view, index, a, b).map(Into::into);
            let old = current(model);
            assert_eq!(got, old.ok_or(range_error));
            if let (Some(at), Some(old)) = (at, old) {
                if old == wrap(a) {
                    model.write(at, size, b);
                }
            }
        }
        Action::Wait | Action::WaitAsync => {
            let expected = if !waitable {
                Err(type_error(if action == Action::Wait {
                    "Atomics.wait"
                } else {
                    "Atomics.waitAsync"
                }))
            } else {
                current(model)
                    .map(|now| {
                        if now == wrap(a) {
                            WaitResult::TimedOut
                        } else {
                            WaitResult::NotEqual
                        }
                    })
                    .ok_or(range_error)
            };
            let got = if action == Action::Wait {
                Atomics::wait(&view, index, a, Some(Duration::ZERO))
            } else {
                Atomics::wait_async(&view, index, a, Some(Duration::ZERO)).map(|w| match w {
                    WaitAsync::Sync(result) => result,
                    WaitAsync::Async(_) => panic!("a zero timeout never queues"),
                })
            };
            assert_eq!(got, expected);
        }
        Action::Notify => {
            let expected = if !waitable {
                Err(type_error("Atomics.notify"))
            } else {
                at.map(|_| 0).ok_or(range_error)
            };
            assert_eq!(Atomics::notify(&view, index, usize::MAX), expected);
        }
        rmw => {
            let got = match rmw {
                Action::Add => Atomics::add(&view, index, a),
                Action::Sub => Atomics::sub(&view, index, a),
                Action::And => Atomics::and(&view, index, a),
                Action::Or => Atomics::or(&view, index, a),
                Action::Xor => Atomics::xor(&view, index, a),
                _ => Atomics::exchange(&view, index, a),
            }
            .map(Into::into);
            let old = current(model);
            assert_eq!(got, old.ok_or(range_error));
            if let (Some(at), Some(old)) = (at, old) {
                model.write(at, size, apply(rmw, old, wrap(a)));
            }
        }
    }
}

/// What the Wasm checks should say for a `size`-byte access (W4): the checked address or a trap.
fn wasm_target(model: &Model, size: usize, address: u64, offset: u64) -> Result<usize, Trap> {
    // The true sum, in 128 bits: alignment is judged on it first, even past 2^64 (W4).
    let sum = u128::from(address) + u128::from(offset);
    if sum % size as u128 != 0 {
        return Err(Trap::UnalignedAtomic {
            address: sum as u64,
            size: size as u32,
        });
    }
    let Ok(effective) = u64::try_from(sum) else {
        return Err(Trap::OutOfBounds {
            address: u64::MAX,
            size: size as u32,
            byte_length: model.length as u64,
        });
    };
    if effective + size as u64 > model.length as u64 {
        return Err(Trap::OutOfBounds {
            address: effective,
            size: size as u32,
            byte_length: model.length as u64,
        });
    }
    Ok(effective as usize)
}

/// The i64 instruction family at width `size`, through one dispatch.
fn wasm_rmw(
    wasm: &WasmView,
    size: usize,
    action: Action,
    address: u64,
    offset: u64,
    a: i64,
) -> Result<i64, Trap> {
    macro_rules! by_action {
        ($add:ident $sub:ident $and:ident $or:ident $xor:ident $xchg:ident) => {
            match action {
                Action::Add => wasm.$add(address, offset, a),
                Action::Sub => wasm.$sub(address, offset, a),
                Action::And => wasm.$and(address, offset, a),
                Action::Or => wasm.$or(address, offset, a),
                Action::Xor => wasm.$xor(address, offset, a),
                _ => wasm.$xchg(address, offset, a),
            }
        };
    }
    match size {
        1 => {
            by_action!(i64_atomic_rmw8_add_u i64_atomic_rmw8_sub_u i64_atomic_rmw8_and_u i64_atomic_rmw8_or_u i64_atomic_rmw8_xor_u i64_atomic_rmw8_xchg_u)
        }
        2 => {
            by_action!(i64_atomic_rmw16_add_u i64_atomic_rmw16_sub_u i64_atomic_rmw16_and_u i64_atomic_rmw16_or_u i64_atomic_rmw16_xor_u i64_atomic_rmw16_xchg_u)
        }
        4 => {
            by_action!(i64_atomic_rmw32_add_u i64_atomic_rmw32_sub_u i64_atomic_rmw32_and_u i64_atomic_rmw32_or_u i64_atomic_rmw32_xor_u i64_atomic_rmw32_xchg_u)
        }
        _ => {
            by_action!(i64_atomic_rmw_add i64_atomic_rmw_sub i64_atomic_rmw_and i64_atomic_rmw_or i64_atomic_rmw_xor i64_atomic_rmw_xchg)
        }
    }
}

fn wasm_step(
    wasm: &WasmView,
    model: &mut Model,
    (size, address, offset): (usize, u64, u64),
    action: Action,
    (a, b): (i64, i64),
) {
    let target = wasm_target(model, size, address, offset);
    let mask = if size == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    };
    let current = |model: &Model| target.map(|at| model.read(at, size) as i64);
    match action {
        Action::Load | Action::Get => {
            let got = match size {
                1 => wasm.i64_atomic_load8_u(address, offset),
                2 => wasm.i64_atomic_load16_u(address, offset),
                4 => wasm.i64_atomic_load32_u(address, offset),
                _ => wasm.i64_atomic_load(address, offset),
            };
            assert_eq!(got, current(model));
        }
        Action::Store | Action::Set => {
            let got = match size {
                1 => wasm.i64_atomic_store8(address, offset, a),
                2 => wasm.i64_atomic_store16(address, offset, a),
                4 => wasm.i64_atomic_store32(address, offset, a),
                _ => wasm.i64_atomic_store(address, offset, a),
            };
            assert_eq!(got, target.map(|_| ()));
            if let Ok(at) = target {
                model.write(at, size, a as i128);
            }
        }
        Action::CompareExchange => {
            let got = match size {
                1 => wasm.i64_atomic_rmw8_cmpxchg_u(address, offset, a, b),
                2 => wasm.i64_atomic_rmw16_cmpxchg_u(address, offset, a, b),
                4 => wasm.i64_atomic_rmw32_cmpxchg_u(address, offset, a, b),
                _ => wasm.i64_atomic_rmw_cmpxchg(address, offset, a, b),
            };
            let old = current(model);
            assert_eq!(got, old);
            if let (Ok(at), Ok(old)) = (target, old) {
                if old as u64 == a as u64 & mask {
                    model.write(at, size, b as i128);
                }
            }
        }
        Action::Wait | Action::WaitAsync => {
            // wait32 for 4-byte requests, wait64 otherwise; a zero timeout never sleeps.
            let (size, got) = if size == 4 {
                (4, wasm.memory_atomic_wait32(address, offset, a as i32, 0))
            } else {
                (8, wasm.memory_atomic_wait64(address, offset, a, 0))
            };
            let mask = if size == 8 { u64::MAX } else { u32::MAX as u64 };
            let expected = wasm_target(model, size, address, offset).map(|at| {
                if model.read(at, size) == a as u64 & mask {
                    2
                } else {
                    1
                }
            });
            assert_eq!(got, expected);
        }
        Action::Notify => {
            let expected = wasm_target(model, 4, address, offset).map(|_| 0);
            assert_eq!(
                wasm.memory_atomic_notify(address, offset, u32::MAX),
                expected
            );
        }
        rmw => {
            let got = wasm_rmw(wasm, size, rmw, address, offset, a);
            let old = current(model);
            assert_eq!(got, old);
            if let (Ok(at), Ok(old)) = (target, old) {
                let new = apply(rmw, old as u64 as i128, (a as u64 & mask) as i128);
                model.write(at, size, new);
            }
        }
    }
}

fn run(ops: Vec<Op>) {
    let memory = SharedMemory::new(1, MAX_PAGES).unwrap();
    let wasm = WasmView::new(&memory);
    let mut model = Model {
        bytes: vec![0; MAX_PAGES as usize * PAGE_SIZE],
        length: PAGE_SIZE,
    };
    for op in ops {
        match op {
            Op::Facade {
                kind,
                byte_offset,
                length,
                index,
                action,
                a,
                b,
            } => {
                macro_rules! step {
                    ($ty:ty) => {
                        facade_step::<$ty>(
                            &memory,
                            &mut model,
                            (byte_offset, length, index),
                            action,
                            (a, b),
                        )
                    };
                }
                match kind {
                    0 => step!(i8),
                    1 => step!(u8),
                    2 => step!(i16),
                    3 => step!(u16),
                    4 => step!(i32),
                    5 => step!(u32),
                    6 => step!(i64),
                    _ => step!(u64),
                }
            }
            Op::Wasm {
                size,
                address,
                offset,
                action,
                a,
                b,
            } => wasm_step(&wasm, &mut model, (size, address, offset), action, (a, b)),
            Op::Grow { delta } => {
                let pages = (model.length / PAGE_SIZE) as u64;
                let got = memory.grow(delta);
                if pages.checked_add(delta).is_some_and(|new| new <= MAX_PAGES) {
                    assert_eq!(got, Ok(pages));
                    model.length += delta as usize * PAGE_SIZE;
                } else {
                    assert!(got.is_err());
                }
            }
        }
        assert_eq!(memory.byte_length(), model.length);
    }
    let mut bytes = vec![0; model.length];
    memory.read_bytes(0, &mut bytes).unwrap();
    assert!(
        bytes == model.bytes[..model.length],
        "memory and model differ"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wrap_number_is_the_integer_part_modulo_2_64(x in -1e37f64..1e37) {
        let reference = x.trunc() as i128; // exact: |x| < 2^127
        prop_assert_eq!(wrap_number(x), reference as i64);
        prop_assert_eq!(wrap_number(x) as u32, reference as u32); // ToUint32
    }

    #[test]
    fn facade_and_wasm_view_agree_with_a_sequential_model(ops in prop::collection::vec(op(), 1..64)) {
        run(ops);
    }
}
