//! Script values: arguments to wasmtime values, results against their patterns, and the
//! `spectest` module the official scripts import from.

use wasmtime::{Linker, Store, Val};
use wast::core::{NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::WastArg;

use crate::error::{describe, WasmError};
use crate::state::GuestState;

pub(super) fn arg(store: &mut Store<GuestState>, a: &WastArg<'_>) -> Result<Val, WasmError> {
    let WastArg::Core(a) = a else {
        return Err(WasmError::Malformed(
            "component arguments are not supported".into(),
        ));
    };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(
            wasmtime::ExternRef::new(&mut *store, *n).map_err(|e| WasmError::Trap(describe(&e)))?,
        )),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes()).into()),
        WastArgCore::RefNull(wast::core::HeapType::Abstract {
            ty: wast::core::AbstractHeapType::Extern,
            ..
        }) => Val::ExternRef(None),
        WastArgCore::RefNull(_) => Val::FuncRef(None),
        other => {
            return Err(WasmError::Malformed(format!(
                "unsupported argument {other:?}"
            )))
        }
    })
}

/// Whether `value` is what the script wants; `host` is the number a host reference carries.
pub(super) fn matches(value: &Val, want: &WastRetCore<'_>, host: Option<u32>) -> bool {
    match (value, want) {
        (Val::I32(v), WastRetCore::I32(w)) => v == w,
        (Val::I64(v), WastRetCore::I64(w)) => v == w,
        (Val::F32(bits), WastRetCore::F32(p)) => match p {
            NanPattern::Value(w) => *bits == w.bits,
            NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
            NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        },
        (Val::F64(bits), WastRetCore::F64(p)) => match p {
            NanPattern::Value(w) => *bits == w.bits,
            NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        },
        (Val::V128(v), WastRetCore::V128(pattern)) => v128_matches(v.as_u128(), pattern),
        (Val::FuncRef(f), WastRetCore::RefNull(_)) => f.is_none(),
        (Val::ExternRef(r), WastRetCore::RefNull(_)) => r.is_none(),
        (Val::FuncRef(f), WastRetCore::RefFunc(_)) => f.is_some(),
        (Val::ExternRef(Some(_)), WastRetCore::RefExtern(None)) => true,
        (Val::ExternRef(Some(_)), WastRetCore::RefExtern(Some(n))) => host == Some(*n),
        (v, WastRetCore::Either(options)) => options.iter().any(|w| matches(v, w, host)),
        _ => false,
    }
}

/// A value the way the spec's text writes it: `i32:5`, `f32:2.5`, `f64:nan:0x7ff8000000000001`,
/// `i32x4 1 2 3 4`, `ref.null func`, `ref.extern 1`; `host` is the number a host reference
/// carries.
pub(super) fn show_value(value: &Val, host: Option<u32>) -> String {
    match value {
        Val::I32(v) => format!("i32:{v}"),
        Val::I64(v) => format!("i64:{v}"),
        Val::F32(bits) => format!("f32:{}", show_f32(*bits)),
        Val::F64(bits) => format!("f64:{}", show_f64(*bits)),
        Val::V128(v) => {
            let bytes = v.as_u128().to_le_bytes();
            let lanes: Vec<String> = bytes
                .chunks(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
                .collect();
            format!("i32x4 {}", lanes.join(" "))
        }
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(_)) => match host {
            Some(n) => format!("ref.extern {n}"),
            None => "ref.extern".to_string(),
        },
        other => format!("{other:?}"),
    }
}

/// Several values, comma-separated.
pub(super) fn show_values(values: &[Val]) -> String {
    let shown: Vec<String> = values.iter().map(|v| show_value(v, None)).collect();
    format!("[{}]", shown.join(", "))
}

/// A result pattern the way the spec's text writes it: `f32:2.5`, `f32:nan:canonical`,
/// `f64x2 1 nan:arithmetic`, `ref.extern 1`, `either(i32:1 | i32:2)`.
pub(super) fn show_pattern(want: &WastRetCore<'_>) -> String {
    let f32_pattern = |p: &NanPattern<wast::token::F32>| match p {
        NanPattern::Value(w) => show_f32(w.bits),
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
    };
    let f64_pattern = |p: &NanPattern<wast::token::F64>| match p {
        NanPattern::Value(w) => show_f64(w.bits),
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
    };
    let lanes = |shape: &str, lanes: Vec<String>| format!("{shape} {}", lanes.join(" "));
    match want {
        WastRetCore::I32(w) => format!("i32:{w}"),
        WastRetCore::I64(w) => format!("i64:{w}"),
        WastRetCore::F32(p) => format!("f32:{}", f32_pattern(p)),
        WastRetCore::F64(p) => format!("f64:{}", f64_pattern(p)),
        WastRetCore::V128(V128Pattern::I8x16(w)) => {
            lanes("i8x16", w.iter().map(ToString::to_string).collect())
        }
        WastRetCore::V128(V128Pattern::I16x8(w)) => {
            lanes("i16x8", w.iter().map(ToString::to_string).collect())
        }
        WastRetCore::V128(V128Pattern::I32x4(w)) => {
            lanes("i32x4", w.iter().map(ToString::to_string).collect())
        }
        WastRetCore::V128(V128Pattern::I64x2(w)) => {
            lanes("i64x2", w.iter().map(ToString::to_string).collect())
        }
        WastRetCore::V128(V128Pattern::F32x4(w)) => {
            lanes("f32x4", w.iter().map(f32_pattern).collect())
        }
        WastRetCore::V128(V128Pattern::F64x2(w)) => {
            lanes("f64x2", w.iter().map(f64_pattern).collect())
        }
        WastRetCore::RefNull(_) => "ref.null".to_string(),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::RefExtern(None) => "ref.extern".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::Either(options) => {
            let shown: Vec<String> = options.iter().map(show_pattern).collect();
            format!("either({})", shown.join(" | "))
        }
        other => format!("{other:?}"),
    }
}

/// An f32 by its bits: the number (as Rust prints it), or `nan:0x…` with the payload.
fn show_f32(bits: u32) -> String {
    let value = f32::from_bits(bits);
    if value.is_nan() {
        format!(
            "{}nan:0x{:x}",
            if bits >> 31 == 1 { "-" } else { "" },
            bits & 0x7f_ffff
        )
    } else {
        format!("{value:?}")
    }
}

/// An f64 by its bits, as [`show_f32`].
fn show_f64(bits: u64) -> String {
    let value = f64::from_bits(bits);
    if value.is_nan() {
        let payload = bits & 0x000f_ffff_ffff_ffff;
        format!(
            "{}nan:0x{payload:x}",
            if bits >> 63 == 1 { "-" } else { "" }
        )
    } else {
        format!("{value:?}")
    }
}

/// Whether a `v128` result matches its pattern, lane by lane (little-endian lanes).
fn v128_matches(bits: u128, pattern: &V128Pattern) -> bool {
    let bytes = bits.to_le_bytes();
    let lane = |width: usize, index: usize| -> u64 {
        let mut value = [0u8; 8];
        value[..width].copy_from_slice(&bytes[index * width..(index + 1) * width]);
        u64::from_le_bytes(value)
    };
    let f32_lane = |index: usize, want: &NanPattern<wast::token::F32>| {
        let bits = lane(4, index) as u32;
        matches(&Val::F32(bits), &WastRetCore::F32(*want), None)
    };
    let f64_lane = |index: usize, want: &NanPattern<wast::token::F64>| {
        matches(&Val::F64(lane(8, index)), &WastRetCore::F64(*want), None)
    };
    match pattern {
        V128Pattern::I8x16(w) => (0..16).all(|i| lane(1, i) as u8 == w[i] as u8),
        V128Pattern::I16x8(w) => (0..8).all(|i| lane(2, i) as u16 == w[i] as u16),
        V128Pattern::I32x4(w) => (0..4).all(|i| lane(4, i) as u32 == w[i] as u32),
        V128Pattern::I64x2(w) => (0..2).all(|i| lane(8, i) == w[i] as u64),
        V128Pattern::F32x4(w) => (0..4).all(|i| f32_lane(i, &w[i])),
        V128Pattern::F64x2(w) => (0..2).all(|i| f64_lane(i, &w[i])),
    }
}

/// The `spectest` module the official scripts import from.
pub(super) fn define_spectest(store: &mut Store<GuestState>, linker: &mut Linker<GuestState>) {
    use wasmtime::{Global, GlobalType, Memory, MemoryType, Mutability, Table, TableType, ValType};
    let _ = linker.func_wrap("spectest", "print", || {});
    let _ = linker.func_wrap("spectest", "print_i32", |_: i32| {});
    let _ = linker.func_wrap("spectest", "print_i64", |_: i64| {});
    let _ = linker.func_wrap("spectest", "print_f32", |_: f32| {});
    let _ = linker.func_wrap("spectest", "print_f64", |_: f64| {});
    let _ = linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {});
    let _ = linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {});
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, value) in globals {
        if let Ok(g) = Global::new(&mut *store, GlobalType::new(ty, Mutability::Const), value) {
            let _ = linker.define(&*store, "spectest", name, g);
        }
    }
    let table_ty = TableType::new(wasmtime::RefType::FUNCREF, 10, Some(20));
    if let Ok(t) = Table::new(&mut *store, table_ty, wasmtime::Ref::Func(None)) {
        let _ = linker.define(&*store, "spectest", "table", t);
    }
    if let Ok(m) = Memory::new(&mut *store, MemoryType::new(1, Some(2))) {
        let _ = linker.define(&*store, "spectest", "memory", m);
    }
    if let Ok(m) = wasmtime::SharedMemory::new(store.engine(), MemoryType::shared(1, 2)) {
        let _ = linker.define(&*store, "spectest", "shared_memory", m);
    }
}
