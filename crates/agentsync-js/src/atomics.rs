//! `Atomics.wait`, `Atomics.notify` and `Atomics.waitAsync` on agentsync's futex.
//!
//! QuickJS-ng keeps its own waiters on one global list and has no `waitAsync`; these three
//! replace its functions, so a JS agent, a Rust thread, a Rust task and a Wasm guest that wait on
//! the same bytes share one FIFO queue. Arguments are converted in the specification's order
//! (view type, shared buffer, index, value, timeout, then the can-block check), and each
//! failure is the specification's `TypeError` or `RangeError`.

use std::sync::atomic::{AtomicI32, AtomicI64};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use agentsync::memory::{notify_count_from_f64, timeout_from_ms, to_index};
use agentsync::{WaitAsync, WaitFuture, WaitResult};
use rquickjs::{qjs, Ctx, Exception, Object, Value};

use crate::agent::{self, to_number};

/// The element types that can be waited on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int32,
    BigInt64,
}

/// A validated view and index: where the element is.
struct Location {
    kind: Kind,
    /// Address of the element.
    address: usize,
    /// Address of the buffer's first byte (its key in the SharedArrayBuffer registry).
    base: usize,
    /// Whether the view's buffer is a `SharedArrayBuffer`.
    shared: bool,
}

/// The class id QuickJS gives `SharedArrayBuffer` objects (the same in every runtime).
fn shared_class_id(ctx: &Ctx<'_>) -> rquickjs::Result<u32> {
    static ID: OnceLock<u32> = OnceLock::new();
    if let Some(id) = ID.get() {
        return Ok(*id);
    }
    let probe: Value = ctx.eval("new SharedArrayBuffer(1)")?;
    // SAFETY: `probe` is a live value of this context.
    let id = unsafe { qjs::JS_GetClassID(probe.as_raw()) };
    Ok(*ID.get_or_init(|| id))
}

fn arg<'js>(ctx: &Ctx<'js>, args: &[Value<'js>], index: usize) -> Value<'js> {
    args.get(index)
        .cloned()
        .unwrap_or_else(|| Value::new_undefined(ctx.clone()))
}

/// ValidateIntegerTypedArray (waitable) and ValidateAtomicAccess: the view must be an
/// `Int32Array` or `BigInt64Array` (TypeError), in bounds and attached (TypeError); for wait
/// and waitAsync its buffer must be shared (TypeError, before the index); the index must be
/// below its length (RangeError).
fn locate<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    view: &Value<'js>,
    index: &Value<'js>,
    need_shared: bool,
) -> rquickjs::Result<Location> {
    // SAFETY: a live value; returns -1 for anything that is not a typed array.
    let kind = match unsafe { qjs::JS_GetTypedArrayType(view.as_raw()) } {
        t if t == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT32 as i32 => Kind::Int32,
        t if t == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_BIG_INT64 as i32 => Kind::BigInt64,
        -1 => {
            return Err(Exception::throw_type(
                ctx,
                &format!("Atomics.{name}: the first argument is not a typed array"),
            ))
        }
        _ => {
            return Err(Exception::throw_type(
                ctx,
                &format!("Atomics.{name}: only an Int32Array or a BigInt64Array can be waited on"),
            ))
        }
    };
    let (mut offset, mut byte_length, mut element) = (0, 0, 0);
    // SAFETY: live context and typed array; the out-pointers are valid places.
    let buffer = unsafe {
        qjs::JS_GetTypedArrayBuffer(
            ctx.as_raw().as_ptr(),
            view.as_raw(),
            &mut offset,
            &mut byte_length,
            &mut element,
        )
    };
    // SAFETY: an owned value or the exception marker, handed to `Value` to free.
    let buffer = unsafe { Value::from_raw(ctx.clone(), buffer) };
    if buffer.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: a live value.
    let shared = unsafe { qjs::JS_GetClassID(buffer.as_raw()) } == shared_class_id(ctx)?;
    if need_shared && !shared {
        return Err(Exception::throw_type(
            ctx,
            &format!("Atomics.{name}: the typed array's buffer is not a SharedArrayBuffer"),
        ));
    }
    let position = to_number(ctx, index)?;
    let mut length = byte_length as usize / element.max(1) as usize;
    let index = to_index(position).ok();
    // The engine reports a length-tracking view's length at construction, and each buffer
    // object's length as this agent last saw it; a shared block only grows, so only an index
    // past that can still be in range (J2): ask the intrinsic getters for the current length.
    if index.is_some_and(|i| i >= length && shared) {
        length = agent::current_length(ctx, view, &buffer)?.max(length);
    }
    let index = match index {
        Some(index) if index < length => index,
        _ => {
            return Err(Exception::throw_range(
                ctx,
                &format!("Atomics.{name}: index {position} is out of range for length {length}"),
            ))
        }
    };
    if !shared {
        // Only notify gets here, and returns 0 without touching memory: a buffer that the
        // index's `valueOf` detached must not make it throw (the length was read before).
        return Ok(Location {
            kind,
            address: 0,
            base: 0,
            shared,
        });
    }
    let mut size = 0;
    // SAFETY: `buffer` is a live array buffer; the size out-pointer is valid.
    let data = unsafe { qjs::JS_GetArrayBuffer(ctx.as_raw().as_ptr(), &mut size, buffer.as_raw()) };
    if data.is_null() {
        return Err(rquickjs::Error::Exception);
    }
    Ok(Location {
        kind,
        address: data as usize + offset as usize + index * element as usize,
        base: data as usize,
        shared,
    })
}

/// The value to compare: `ToInt32` or `ToBigInt64`, widened to i64.
fn expected(ctx: &Ctx<'_>, kind: Kind, value: &Value<'_>) -> rquickjs::Result<i64> {
    let raw = ctx.as_raw().as_ptr();
    let (status, expected) = match kind {
        Kind::Int32 => {
            let mut out = 0i32;
            // SAFETY: live context and value; `out` is a valid place.
            let status = unsafe { qjs::JS_ToInt32(raw, &mut out, value.as_raw()) };
            (status, i64::from(out))
        }
        Kind::BigInt64 => {
            let mut out = 0i64;
            // SAFETY: as above.
            let status = unsafe { qjs::JS_ToBigInt64(raw, &mut out, value.as_raw()) };
            (status, out)
        }
    };
    if status < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(expected)
}

/// The timeout argument: absent, NaN or +∞ wait forever; negative is zero.
fn timeout(ctx: &Ctx<'_>, value: &Value<'_>) -> rquickjs::Result<Option<Duration>> {
    if value.is_undefined() {
        return Ok(None);
    }
    Ok(timeout_from_ms(to_number(ctx, value)?))
}

/// Validated arguments of wait / waitAsync.
struct WaitArgs {
    location: Location,
    expected: i64,
    timeout: Option<Duration>,
}

fn wait_args<'js>(ctx: &Ctx<'js>, name: &str, args: &[Value<'js>]) -> rquickjs::Result<WaitArgs> {
    let location = locate(ctx, name, &arg(ctx, args, 0), &arg(ctx, args, 1), true)?;
    let expected = expected(ctx, location.kind, &arg(ctx, args, 2))?;
    let timeout = timeout(ctx, &arg(ctx, args, 3))?;
    Ok(WaitArgs {
        location,
        expected,
        timeout,
    })
}

/// Starts a wait_async on the location: the synchronous result or the queued future.
fn start(args: &WaitArgs) -> WaitAsync<'static> {
    let address = args.location.address;
    match args.location.kind {
        // SAFETY: the address is an aligned element of a live shared buffer (validated), valid
        // for this call; the future keeps only the address as its key.
        Kind::Int32 => unsafe {
            agentsync::wait_async_ptr(
                address as *const AtomicI32,
                args.expected as i32,
                args.timeout,
            )
        },
        // SAFETY: as above.
        Kind::BigInt64 => unsafe {
            agentsync::wait_async_ptr(address as *const AtomicI64, args.expected, args.timeout)
        },
    }
}

/// `Atomics.wait(typedArray, index, value, timeout)`.
fn wait<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> rquickjs::Result<Value<'js>> {
    let args = wait_args(ctx, "wait", args)?;
    if !agent::can_block() {
        return Err(Exception::throw_type(
            ctx,
            "Atomics.wait cannot be called in this context",
        ));
    }
    // The blocking wait is a wait_async driven on this thread, so that `terminate()` can end
    // it: the record sits in the same queue either way.
    let future: WaitFuture<'static> = match start(&args) {
        WaitAsync::Sync(result) => return result_value(ctx, result),
        WaitAsync::Async(future) => future,
    };
    match agent::block_on_wait(future) {
        Some(result) => result_value(ctx, result),
        None => Err(Exception::throw_internal(ctx, "agent terminated")),
    }
}

/// `Atomics.waitAsync(typedArray, index, value, timeout)`.
fn wait_async<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> rquickjs::Result<Value<'js>> {
    let mut args = wait_args(ctx, "waitAsync", args)?;
    // J1: a finite, non-zero timeout is a job of this agent's event loop, not the futex's timer;
    // a zero one stays, for the synchronous `timed-out` (S18); one past the clock's range is ∞.
    let deadline = match args.timeout {
        Some(timeout) if !timeout.is_zero() => {
            args.timeout = None;
            Instant::now().checked_add(timeout)
        }
        _ => None,
    };
    match start(&args) {
        WaitAsync::Sync(result) => {
            let value = result_value(ctx, result)?;
            agent::wait_async_result(ctx, false, value)
        }
        WaitAsync::Async(future) => {
            // The queued wait holds its buffer, so that no new buffer can be placed at its
            // address (and notify it) while it waits, even if no script holds the buffer.
            let future = future.keeping(crate::sab::Hold::owner(args.location.base as *const u8));
            let promise = agent::settle_later(ctx, future, args.location.base, deadline)?;
            agent::wait_async_result(ctx, true, promise.into_value())
        }
    }
}

/// `Atomics.notify(typedArray, index, count)`.
fn notify<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> rquickjs::Result<Value<'js>> {
    let location = locate(ctx, "notify", &arg(ctx, args, 0), &arg(ctx, args, 1), false)?;
    let count = arg(ctx, args, 2);
    let count = if count.is_undefined() {
        usize::MAX
    } else {
        notify_count_from_f64(Some(to_number(ctx, &count)?))
    };
    let woken = if location.shared {
        agentsync::notify_addr(location.address, count)
    } else {
        0
    };
    Ok(Value::new_number(ctx.clone(), woken as f64))
}

/// The string of `result`, from the agent's interned atoms.
fn result_value<'js>(ctx: &Ctx<'js>, result: WaitResult) -> rquickjs::Result<Value<'js>> {
    agent::result_string(ctx, result)
}

/// Signature of the natives below.
type Native = for<'js> fn(&Ctx<'js>, &[Value<'js>]) -> rquickjs::Result<Value<'js>>;

/// Calls `native` from a raw engine call: the three functions are plain C functions, without
/// the argument marshalling of a Rust closure, because they sit on the hot path.
///
/// # Safety
/// `ctx` is the live calling context and `argv` points to `argc` live values (the engine's
/// calling convention).
unsafe fn call_native(
    native: Native,
    ctx: *mut qjs::JSContext,
    argc: std::ffi::c_int,
    argv: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: a live context (caller).
    let ctx = unsafe { Ctx::from_raw(std::ptr::NonNull::new_unchecked(ctx)) };
    let raw = ctx.as_raw().as_ptr();
    let argv: &[qjs::JSValue] = if argc <= 0 || argv.is_null() {
        &[]
    } else {
        // SAFETY: `argc` live values (caller).
        unsafe { std::slice::from_raw_parts(argv, argc as usize) }
    };
    let mut args: [Option<Value>; 4] = [None, None, None, None];
    for (slot, &value) in args.iter_mut().zip(argv) {
        // SAFETY: a live value, duplicated so the wrapper owns one reference.
        *slot = Some(unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(raw, value)) });
    }
    let args: Vec<Value> = args.into_iter().flatten().collect();
    match native(&ctx, &args) {
        // SAFETY: one more reference for the engine; the wrapper drops its own.
        Ok(value) => unsafe { qjs::JS_DupValue(raw, value.as_raw()) },
        Err(rquickjs::Error::Exception) => qjs::JS_EXCEPTION,
        Err(other) => {
            let _ = Exception::throw_internal(&ctx, &other.to_string());
            qjs::JS_EXCEPTION
        }
    }
}

macro_rules! raw_native {
    ($raw:ident, $native:ident) => {
        unsafe extern "C" fn $raw(
            ctx: *mut qjs::JSContext,
            _this: qjs::JSValue,
            argc: std::ffi::c_int,
            argv: *mut qjs::JSValue,
        ) -> qjs::JSValue {
            // SAFETY: the engine calls us with its calling convention.
            unsafe { call_native($native, ctx, argc, argv) }
        }
    };
}
raw_native!(raw_wait, wait);
raw_native!(raw_wait_async, wait_async);
raw_native!(raw_notify, notify);

/// Replaces `Atomics.wait` and `Atomics.notify` and adds `Atomics.waitAsync`; the other
/// operations (and `pause`) stay the engine's, which are already sequentially consistent.
/// Atomics on agentsync's futex (`wait`, `notify`, `waitAsync`), unless the host runs the
/// engine's own.
pub(crate) const EXTENSION: agent::Extension = agent::Extension {
    name: "atomics",
    install: |ctx, _host, setup| {
        if setup.engine_atomics {
            Ok(())
        } else {
            install(ctx)
        }
    },
    in_realms: true,
    on_interrupt: None,
};

pub(crate) fn install<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<()> {
    let atomics: Object<'js> = ctx.globals().get("Atomics")?;
    let natives: [(&std::ffi::CStr, qjs::JSCFunction, i32); 3] = [
        (c"wait", Some(raw_wait), 4),
        (c"waitAsync", Some(raw_wait_async), 4),
        (c"notify", Some(raw_notify), 3),
    ];
    for (name, function, length) in natives {
        // SAFETY: a live context; the name is a C string; a plain (generic) C function.
        let raw = unsafe {
            qjs::JS_NewCFunction2(
                ctx.as_raw().as_ptr(),
                function,
                name.as_ptr(),
                length,
                qjs::JSCFunctionEnum_JS_CFUNC_generic,
                0,
            )
        };
        // SAFETY: a fresh value (or the exception marker) that we own.
        let function = unsafe { Value::from_raw(ctx.clone(), raw) };
        if function.is_exception() {
            return Err(rquickjs::Error::Exception);
        }
        let name = name.to_str().unwrap_or_default();
        // Built-in methods are writable, configurable and not enumerable.
        atomics.prop(
            name,
            rquickjs::object::Property::from(function)
                .writable()
                .configurable(),
        )?;
    }
    Ok(())
}
