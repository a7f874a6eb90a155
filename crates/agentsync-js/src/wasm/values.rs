//! Values between JavaScript and WebAssembly: value types, numbers, BigInts and references,
//! and `ArrayBuffer`s over a non-shared memory's bytes.

use super::*;

/// The value type a JS API descriptor names (`"i32"`, `"i64"`, `"f32"`, `"f64"`).
pub(super) fn value_type(name: &str) -> Option<ValType> {
    Some(match name {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        _ => return None,
    })
}

/// The JS API's name of a value type.
pub(super) fn type_name(ty: &ValType) -> String {
    match ty {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        other => other.to_string(),
    }
}

/// The zero value of a number type.
pub(super) fn default_value(ty: &ValType) -> Option<Val> {
    Some(match ty {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        _ => return None,
    })
}

/// A function's identity key (its address in the store, the same for every handle to it) and
/// its parameter count.
pub(super) fn func_facts(store: &mut StoreContextMut<'_, GuestState>, func: &Func) -> (f64, usize) {
    (
        func_key(store, func) as f64,
        func.ty(&*store).params().len(),
    )
}

/// A function's identity in the agent's store (its address there): the same for every handle
/// of one function, whether read from exports or from a table.
pub(super) fn func_key(store: &mut StoreContextMut<'_, GuestState>, func: &Func) -> u64 {
    func.to_raw(&mut *store) as usize as u64
}

/// A reference from the JS side's encoding: for a funcref table `None` (null) or a Wasm
/// function's id; for an externref table `None` or the key of the JS value it stands for.
pub(super) fn make_ref(
    store: &mut StoreContextMut<'_, GuestState>,
    funcref: bool,
    value: Option<f64>,
) -> Result<Ref, String> {
    match (funcref, value) {
        (true, None) => Ok(Ref::Func(None)),
        (true, Some(id)) => match local_of(id) {
            Some(Local::Func(func)) => Ok(Ref::Func(Some(func))),
            _ => Err("not a Wasm function".into()),
        },
        (false, None) => Ok(Ref::Extern(None)),
        (false, Some(key)) => ExternRef::new(&mut *store, key as u64)
            .map(|r| Ref::Extern(Some(r)))
            .map_err(|e| describe(&e)),
    }
}

/// A reference as the JS side decodes it: null, an externref's key, a function's
/// `{ func, key, length }`, or only its key when the JS side has its function already.
pub(super) fn ref_to_js<'js>(
    ctx: &Ctx<'js>,
    store: &mut StoreContextMut<'_, GuestState>,
    reference: Option<Ref>,
) -> rquickjs::Result<Value<'js>> {
    match reference {
        Some(Ref::Func(Some(func))) => {
            let key = func_key(store, &func);
            if agent_wasm().functions.borrow().contains(&key) {
                return Ok(Value::new_number(ctx.clone(), key as f64));
            }
            let length = func.ty(&*store).params().len();
            let entry = Object::new(ctx.clone())?;
            entry.set("func", add_local(Local::Func(func)) as f64)?;
            entry.set("key", key as f64)?;
            entry.set("length", length)?;
            Ok(entry.into_value())
        }
        Some(Ref::Extern(Some(r))) => {
            let key = r
                .data(&*store)
                .ok()
                .flatten()
                .and_then(|data| data.downcast_ref::<u64>().copied());
            Ok(key.map_or_else(
                || Value::new_null(ctx.clone()),
                |k| Value::new_number(ctx.clone(), k as f64),
            ))
        }
        _ => Ok(Value::new_null(ctx.clone())),
    }
}

/// An `ArrayBuffer` over `len` bytes at `base`, with no free function (the store owns them).
pub(super) fn borrowed_array_buffer<'js>(
    ctx: &Ctx<'js>,
    base: *mut u8,
    len: usize,
) -> rquickjs::Result<Value<'js>> {
    // SAFETY: live context; the bytes stay valid until the buffer is detached, which the JS side
    // does before anything can grow or free the memory (see `wasm.js`, `refresh`).
    let raw = unsafe {
        qjs::JS_NewArrayBuffer(
            ctx.as_raw().as_ptr(),
            base,
            len as _,
            // Zero: not resizable (the memory's own `grow` is the way).
            0,
            None,
            std::ptr::null_mut(),
            false,
        )
    };
    // SAFETY: a value just made in this context, owned by us.
    let value = unsafe { Value::from_raw(ctx.clone(), raw) };
    if value.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    Ok(value)
}

/// A Wasm value in JS: i32, f32, f64 as numbers, i64 as a BigInt.
pub(super) fn to_js<'js>(ctx: &Ctx<'js>, value: &Val) -> rquickjs::Result<Value<'js>> {
    Ok(match value {
        Val::I32(v) => Value::new_int(ctx.clone(), *v),
        Val::I64(v) => BigInt::from_i64(ctx.clone(), *v)?.into_value(),
        Val::F32(bits) => Value::new_number(ctx.clone(), f64::from(f32::from_bits(*bits))),
        Val::F64(bits) => Value::new_number(ctx.clone(), f64::from_bits(*bits)),
        _ => Value::new_null(ctx.clone()),
    })
}

/// ToWebAssemblyValue for the number types.
pub(super) fn from_js(ctx: &Ctx<'_>, ty: &ValType, value: &Value<'_>) -> rquickjs::Result<Val> {
    let raw = ctx.as_raw().as_ptr();
    match ty {
        ValType::I32 => {
            let mut out = 0i32;
            // SAFETY: live context and value; `out` is a valid place.
            if unsafe { qjs::JS_ToInt32(raw, &mut out, value.as_raw()) } < 0 {
                return Err(rquickjs::Error::Exception);
            }
            Ok(Val::I32(out))
        }
        ValType::I64 => {
            let mut out = 0i64;
            // SAFETY: as above.
            if unsafe { qjs::JS_ToBigInt64(raw, &mut out, value.as_raw()) } < 0 {
                return Err(rquickjs::Error::Exception);
            }
            Ok(Val::I64(out))
        }
        ValType::F32 => Ok(Val::F32(
            (crate::agent::to_number(ctx, value)? as f32).to_bits(),
        )),
        ValType::F64 => Ok(Val::F64(crate::agent::to_number(ctx, value)?.to_bits())),
        other => Err(Exception::throw_type(
            ctx,
            &format!("WebAssembly: values of type {other} cannot cross to JavaScript here"),
        )),
    }
}
