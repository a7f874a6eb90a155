//! The `WebAssembly` namespace, on agentsync-wasm: compiled modules, shared memories whose
//! `buffer` is a `SharedArrayBuffer` over the guest bytes themselves, instances whose
//! `memory.atomic.wait32/64` / `notify` share agentsync's queues with `Atomics.wait` /
//! `notify` / `waitAsync`, and the shell globals `read` / `readbuffer`.
//!
//! The JS-visible classes live in `wasm.js`; this file gives it a small native object. Modules
//! and memories are process-wide (a worker can use the one another agent posted): each JS
//! object owns one id in [`shared`], released by a `FinalizationRegistry`, and a posted one is
//! a fresh id (a marker object in the message) the receiver adopts. Instances belong to the
//! agent's thread (their wasmtime store is not shared). A guest calling an imported JS function
//! calls back into the agent that called the guest, on the same thread: the export call keeps
//! the context and its import functions on a thread-local stack for the call's duration.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use agentsync_wasm::wasmtime::{Caller, Extern, ExternType, Instance, Linker, Store, Val, ValType};
use agentsync_wasm::{GuestMemory, GuestState, Program, Runtime, WasmError};
use rquickjs::function::{Constructor, Rest};
use rquickjs::{
    qjs, Array, ArrayBuffer, BigInt, Ctx, Exception, Function, Object, Persistent, TypedArray,
    Value,
};

use crate::agent::with_local;

/// A compiled module and what the JS API shows of it.
struct ModuleData {
    program: Program,
    /// `(module, name, kind)` of each import, in order.
    imports: Vec<(String, String, &'static str)>,
    /// `(name, kind)` of each export, in order.
    exports: Vec<(String, &'static str)>,
    /// `(name, bytes)` of each custom section.
    custom: Vec<(String, Vec<u8>)>,
}

/// What a process-wide id names.
#[derive(Clone)]
enum Shared {
    Module(Arc<ModuleData>),
    Memory(GuestMemory),
}

fn shared() -> MutexGuard<'static, HashMap<u64, Shared>> {
    static TABLE: OnceLock<Mutex<HashMap<u64, Shared>>> = OnceLock::new();
    // No code panics while holding the lock; recover from poisoning anyway.
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

fn add_shared(entry: Shared) -> u64 {
    let id = next_id();
    shared().insert(id, entry);
    id
}

/// One instance, in the store only this thread uses.
struct InstanceState {
    store: Store<GuestState>,
    instance: Instance,
    module: Arc<ModuleData>,
}

/// An export call in progress: the agent's context and the instance's import functions.
struct Frame {
    ctx: NonNull<qjs::JSContext>,
    imports: Persistent<Array<'static>>,
}

thread_local! {
    static INSTANCES: RefCell<HashMap<u64, Rc<RefCell<InstanceState>>>> =
        RefCell::new(HashMap::new());
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// An imported JS function threw: its exception is pending in the context.
    static THREW: Cell<bool> = const { Cell::new(false) };
}

/// Pops the frame it pushed, however the call ends.
struct FrameGuard;

impl FrameGuard {
    fn push<'js>(ctx: &Ctx<'js>, imports: &Array<'js>) -> FrameGuard {
        let imports = Persistent::save(ctx, imports.clone());
        FRAMES.with(|f| {
            f.borrow_mut().push(Frame {
                ctx: ctx.as_raw(),
                imports,
            })
        });
        FrameGuard
    }
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        let frame = FRAMES.with(|f| f.borrow_mut().pop());
        drop(frame);
    }
}

/// Throws `new WebAssembly[kind](message)`, or a plain `Error` if that class is gone.
fn throw_wasm(ctx: &Ctx<'_>, kind: &str, message: &str) -> rquickjs::Error {
    let made = (|| -> rquickjs::Result<Value<'_>> {
        let namespace: Object = ctx.globals().get("WebAssembly")?;
        let class: Constructor = namespace.get(kind)?;
        class.construct((message,))
    })();
    match made {
        Ok(error) => ctx.throw(error),
        Err(_) => {
            ctx.catch();
            Exception::throw_message(ctx, &format!("{kind}: {message}"))
        }
    }
}

/// The JS error class for an agentsync-wasm error.
fn error_kind(error: &WasmError) -> &'static str {
    match error {
        WasmError::Link(_) | WasmError::MissingSharedMemories { .. } => "LinkError",
        WasmError::Trap(_) | WasmError::Cancelled => "RuntimeError",
        _ => "CompileError",
    }
}

/// A wasmtime error as one line: our traps and wasmtime's by their message.
fn describe(error: &agentsync_wasm::wasmtime::Error) -> String {
    if let Some(trap) = error.downcast_ref::<agentsync_wasm::Trap>() {
        return trap.to_string();
    }
    if let Some(trap) = error.downcast_ref::<agentsync_wasm::wasmtime::Trap>() {
        return trap.to_string();
    }
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The bytes of a `Uint8Array` (copied).
fn bytes_of(ctx: &Ctx<'_>, view: &Value<'_>) -> rquickjs::Result<Vec<u8>> {
    let array = TypedArray::<u8>::from_value(view.clone())
        .map_err(|_| Exception::throw_type(ctx, "WebAssembly: expected the module's bytes"))?;
    let Some(raw) = array.as_raw() else {
        return Err(Exception::throw_type(
            ctx,
            "WebAssembly: the buffer is detached",
        ));
    };
    // SAFETY: the engine's pointer and length of a live, attached typed array; copied before
    // any JavaScript runs again.
    Ok(unsafe { raw.as_ref() }.to_vec())
}

/// Reads the import, export and custom sections of a (valid) binary.
fn describe_module(binary: &[u8], program: Program) -> Result<ModuleData, String> {
    use wasmparser::{ExternalKind, Parser, Payload, TypeRef};
    let mut data = ModuleData {
        program,
        imports: Vec::new(),
        exports: Vec::new(),
        custom: Vec::new(),
    };
    for payload in Parser::new(0).parse_all(binary) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    let kind = match import.ty {
                        TypeRef::Memory(_) => "memory",
                        TypeRef::Table(_) => "table",
                        TypeRef::Global(_) => "global",
                        TypeRef::Tag(_) => "tag",
                        _ => "function",
                    };
                    data.imports
                        .push((import.module.to_string(), import.name.to_string(), kind));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    let kind = match export.kind {
                        ExternalKind::Memory => "memory",
                        ExternalKind::Table => "table",
                        ExternalKind::Global => "global",
                        ExternalKind::Tag => "tag",
                        _ => "function",
                    };
                    data.exports.push((export.name.to_string(), kind));
                }
            }
            Payload::CustomSection(reader) => {
                data.custom
                    .push((reader.name().to_string(), reader.data().to_vec()));
            }
            _ => {}
        }
    }
    Ok(data)
}

/// Compiles binary Wasm (text is refused, as on the web).
fn compile(ctx: &Ctx<'_>, bytes: &[u8]) -> rquickjs::Result<Arc<ModuleData>> {
    if !bytes.starts_with(b"\0asm") {
        return Err(throw_wasm(
            ctx,
            "CompileError",
            "WebAssembly.Module: the bytes do not start with the Wasm magic number",
        ));
    }
    let program = engine()
        .compile(bytes)
        .map_err(|e| throw_wasm(ctx, "CompileError", &e.to_string()))?;
    let data = describe_module(bytes, program).map_err(|e| throw_wasm(ctx, "CompileError", &e))?;
    Ok(Arc::new(data))
}

fn module_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Arc<ModuleData>> {
    match shared().get(&(id as u64)) {
        Some(Shared::Module(module)) => Ok(module.clone()),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Module")),
    }
}

fn memory_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<GuestMemory> {
    match shared().get(&(id as u64)) {
        Some(Shared::Memory(memory)) => Ok(memory.clone()),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Memory")),
    }
}

fn instance_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Rc<RefCell<InstanceState>>> {
    INSTANCES
        .with(|i| i.borrow().get(&(id as u64)).cloned())
        .ok_or_else(|| Exception::throw_type(ctx, "not a live WebAssembly.Instance"))
}

/// A Wasm value in JS: i32, f32, f64 as numbers, i64 as a BigInt.
fn to_js<'js>(ctx: &Ctx<'js>, value: &Val) -> rquickjs::Result<Value<'js>> {
    Ok(match value {
        Val::I32(v) => Value::new_int(ctx.clone(), *v),
        Val::I64(v) => BigInt::from_i64(ctx.clone(), *v)?.into_value(),
        Val::F32(bits) => Value::new_number(ctx.clone(), f64::from(f32::from_bits(*bits))),
        Val::F64(bits) => Value::new_number(ctx.clone(), f64::from_bits(*bits)),
        _ => Value::new_null(ctx.clone()),
    })
}

/// ToWebAssemblyValue for the number types.
fn from_js(ctx: &Ctx<'_>, ty: &ValType, value: &Value<'_>) -> rquickjs::Result<Val> {
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
            (crate::atomics::to_number(ctx, value)? as f32).to_bits(),
        )),
        ValType::F64 => Ok(Val::F64(crate::atomics::to_number(ctx, value)?.to_bits())),
        other => Err(Exception::throw_type(
            ctx,
            &format!("WebAssembly: values of type {other} cannot cross to JavaScript here"),
        )),
    }
}

/// Calls import function `index` of the innermost export call (see [`FrameGuard`]).
fn call_import(
    index: usize,
    results_ty: &[ValType],
    params: &[Val],
    results: &mut [Val],
) -> agentsync_wasm::wasmtime::Result<()> {
    let top = FRAMES.with(|f| {
        f.borrow()
            .last()
            .map(|frame| (frame.ctx, frame.imports.clone()))
    });
    let Some((raw, imports)) = top else {
        return Err(agentsync_wasm::wasmtime::format_err!(
            "a JavaScript import was called outside a call from JavaScript"
        ));
    };
    // SAFETY: the frame's context is the one whose native call is on this thread's stack
    // below us (it pushed the frame), so it is alive and its runtime is locked by this thread.
    let ctx = unsafe { Ctx::from_raw(raw) };
    let outcome = (|| -> rquickjs::Result<()> {
        let imports = imports.restore(&ctx)?;
        let function: Function = imports.get(index)?;
        let args = params
            .iter()
            .map(|v| to_js(&ctx, v))
            .collect::<rquickjs::Result<Vec<_>>>()?;
        let returned: Value = function.call((Rest(args),))?;
        match results_ty {
            [] => Ok(()),
            [one] => {
                results[0] = from_js(&ctx, one, &returned)?;
                Ok(())
            }
            many => {
                let list = returned.as_array().cloned().ok_or_else(|| {
                    Exception::throw_type(&ctx, "WebAssembly: the import must return an array")
                })?;
                for (k, ty) in many.iter().enumerate() {
                    let item: Value = list.get(k)?;
                    results[k] = from_js(&ctx, ty, &item)?;
                }
                Ok(())
            }
        }
    })();
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => {
            if !matches!(error, rquickjs::Error::Exception) {
                let _ = Exception::throw_type(&ctx, &error.to_string());
            }
            THREW.with(|t| t.set(true));
            Err(agentsync_wasm::wasmtime::format_err!(
                "a JavaScript import threw"
            ))
        }
    }
}

/// After a failed guest call: the JS exception an import threw, or a `RuntimeError`.
fn guest_failed(ctx: &Ctx<'_>, error: &agentsync_wasm::wasmtime::Error) -> rquickjs::Error {
    if THREW.with(|t| t.replace(false)) {
        return rquickjs::Error::Exception;
    }
    throw_wasm(ctx, "RuntimeError", &describe(error))
}

/// The engine of every module and memory of the host: its code checks wasmtime's epoch, which
/// [`interrupt_guests`] bumps, so a terminated agent's guest loop stops.
fn engine() -> &'static Runtime {
    Runtime::interruptible()
}

/// Makes every running guest check whether its agent was interrupted.
pub(crate) fn interrupt_guests() {
    engine().engine().increment_epoch();
}

/// Instantiates module `module` with `resolved[i]` for import `i`: an index into `functions`
/// for a function, a memory id for a memory.
fn instantiate<'js>(
    ctx: &Ctx<'js>,
    module: f64,
    resolved: Array<'js>,
    functions: Array<'js>,
) -> rquickjs::Result<f64> {
    let module = module_of(ctx, module)?;
    let runtime = engine();
    // Guest waits sleep like `Atomics.wait` (so `terminate()` ends them), and guest code checks
    // the epoch, so a terminated agent's guest loop stops too.
    let blocker: agentsync_wasm::Blocker = Arc::new(crate::agent::block_on_wait);
    let mut store = Store::new(runtime.engine(), GuestState::with_blocker(blocker));
    let signal = crate::agent::with_local(|local| local.signal.clone());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| match &signal {
        Some(signal) if signal.is_interrupted() => {
            Err(agentsync_wasm::wasmtime::Error::msg("agent terminated"))
        }
        _ => Ok(agentsync_wasm::wasmtime::UpdateDeadline::Continue(1)),
    });
    let mut linker: Linker<GuestState> = Linker::new(runtime.engine());
    linker.allow_shadowing(true);
    let link = |e: agentsync_wasm::wasmtime::Error| throw_wasm(ctx, "LinkError", &describe(&e));
    for (i, import) in module.program.module().imports().enumerate() {
        let Some((_, _, kind)) = module.imports.get(i) else {
            break;
        };
        let slot: f64 = resolved.get(i)?;
        let (name_module, name) = (import.module(), import.name());
        match (import.ty(), *kind) {
            (ExternType::Func(ty), "function") => {
                let index = slot as usize;
                let results: Vec<ValType> = ty.results().collect();
                linker
                    .func_new(
                        name_module,
                        name,
                        ty,
                        move |_: Caller<'_, GuestState>, params: &[Val], out: &mut [Val]| {
                            call_import(index, &results, params, out)
                        },
                    )
                    .map_err(link)?;
            }
            (ExternType::Memory(ty), "memory") => {
                let memory = memory_of(ctx, slot)?;
                if !ty.is_shared() {
                    return Err(throw_wasm(
                        ctx,
                        "LinkError",
                        &format!("import {name_module:?} {name:?}: an unshared memory is expected, and this host has only shared ones"),
                    ));
                }
                linker
                    .define(&store, name_module, name, memory.shared_memory().clone())
                    .map_err(link)?;
            }
            (_, kind) => {
                return Err(throw_wasm(
                    ctx,
                    "LinkError",
                    &format!("import {name_module:?} {name:?}: {kind} imports are not supported by this host"),
                ))
            }
        }
    }
    let instance = {
        let _frame = FrameGuard::push(ctx, &functions);
        module
            .program
            .instantiate_with(&mut store, &[], Some(&linker))
    };
    let instance = match instance {
        Ok(instance) => instance,
        Err(_) if THREW.with(|t| t.replace(false)) => return Err(rquickjs::Error::Exception),
        Err(error) => return Err(throw_wasm(ctx, error_kind(&error), &error.to_string())),
    };
    let id = next_id();
    let state = InstanceState {
        store,
        instance,
        module,
    };
    INSTANCES.with(|i| i.borrow_mut().insert(id, Rc::new(RefCell::new(state))));
    Ok(id as f64)
}

/// The exports of instance `id`: `{name, kind, length?, memory?, base?}` each.
fn exports<'js>(ctx: &Ctx<'js>, id: f64) -> rquickjs::Result<Array<'js>> {
    let state = instance_of(ctx, id)?;
    let mut state = state
        .try_borrow_mut()
        .map_err(|_| Exception::throw_internal(ctx, "WebAssembly.Instance is busy"))?;
    let state = &mut *state;
    let list = Array::new(ctx.clone())?;
    for (k, (name, kind)) in state.module.exports.clone().iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        match state.instance.get_export(&mut state.store, name) {
            Some(Extern::Func(func)) => {
                entry.set("length", func.ty(&state.store).params().len())?;
            }
            Some(Extern::SharedMemory(memory)) => {
                let guest = GuestMemory::from_shared(memory);
                entry.set("base", guest.base() as usize as f64)?;
                entry.set("memory", add_shared(Shared::Memory(guest)) as f64)?;
            }
            Some(Extern::Memory(_)) => entry.set("kind", "unshared-memory")?,
            Some(Extern::Global(global)) => {
                let value = global.get(&mut state.store);
                entry.set("value", to_js(ctx, &value)?)?;
                entry.set("mutable", global.ty(&state.store).mutability().is_var())?;
            }
            _ => {}
        }
        list.set(k, entry)?;
    }
    Ok(list)
}

/// Calls export `name` of instance `id`.
fn call<'js>(
    ctx: &Ctx<'js>,
    id: f64,
    name: String,
    args: Array<'js>,
    functions: Array<'js>,
) -> rquickjs::Result<Value<'js>> {
    let state = instance_of(ctx, id)?;
    let busy = || {
        throw_wasm(
            ctx,
            "RuntimeError",
            "this host cannot call into an instance from one of its own imports",
        )
    };
    let func = {
        let mut guard = state.try_borrow_mut().map_err(|_| busy())?;
        let guard = &mut *guard;
        guard
            .instance
            .get_func(&mut guard.store, &name)
            .ok_or_else(|| Exception::throw_type(ctx, &format!("no exported function {name:?}")))?
    };
    let (params, results_len) = {
        let guard = state.try_borrow().map_err(|_| busy())?;
        let ty = func.ty(&guard.store);
        let params: Vec<ValType> = ty.params().collect();
        let results = ty.results().len();
        (params, results)
    };
    // Converting may run JavaScript (valueOf), so it happens before the store is taken.
    let mut values = Vec::with_capacity(params.len());
    for (k, ty) in params.iter().enumerate() {
        let arg: Value = args.get(k)?;
        values.push(from_js(ctx, ty, &arg)?);
    }
    let mut results = vec![Val::I32(0); results_len];
    let outcome = {
        let mut guard = state.try_borrow_mut().map_err(|_| busy())?;
        let _frame = FrameGuard::push(ctx, &functions);
        THREW.with(|t| t.set(false));
        func.call(&mut guard.store, &values, &mut results)
    };
    if let Err(error) = outcome {
        return Err(guest_failed(ctx, &error));
    }
    match results.as_slice() {
        [] => Ok(Value::new_undefined(ctx.clone())),
        [one] => to_js(ctx, one),
        many => {
            let list = Array::new(ctx.clone())?;
            for (k, v) in many.iter().enumerate() {
                list.set(k, to_js(ctx, v)?)?;
            }
            Ok(list.into_value())
        }
    }
}

/// The module's imports or exports as `{module?, name, kind}` descriptors, and its custom
/// sections as `{name, data}`.
fn module_info<'js>(ctx: &Ctx<'js>, id: f64) -> rquickjs::Result<Object<'js>> {
    let module = module_of(ctx, id)?;
    let info = Object::new(ctx.clone())?;
    let imports = Array::new(ctx.clone())?;
    for (k, (from, name, kind)) in module.imports.iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("module", from.as_str())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        imports.set(k, entry)?;
    }
    let exports = Array::new(ctx.clone())?;
    for (k, (name, kind)) in module.exports.iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        exports.set(k, entry)?;
    }
    let custom = Array::new(ctx.clone())?;
    for (k, (name, data)) in module.custom.iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("data", ArrayBuffer::new_copy(ctx.clone(), data)?)?;
        custom.set(k, entry)?;
    }
    info.set("imports", imports)?;
    info.set("exports", exports)?;
    info.set("custom", custom)?;
    Ok(info)
}

/// Text format to binary, for `readbuffer` of a `.wat` file.
fn wat_to_binary(text: &str) -> Result<Vec<u8>, String> {
    let fail = |mut e: wast::Error| {
        e.set_text(text);
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let buffer = wast::parser::ParseBuffer::new(text).map_err(fail)?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buffer).map_err(fail)?;
    wat.encode().map_err(fail)
}

/// A path relative to the calling agent's script directory.
fn resolve(path: &str) -> std::path::PathBuf {
    with_local(|local| local.base_dir.borrow().join(path)).unwrap_or_else(|| path.into())
}

fn read_file(ctx: &Ctx<'_>, what: &str, path: &str) -> rquickjs::Result<Vec<u8>> {
    let full = resolve(path);
    std::fs::read(&full).map_err(|error| {
        Exception::throw_message(
            ctx,
            &format!("{what}: cannot read {}: {error}", full.display()),
        )
    })
}

/// Defines `read`, `readbuffer` and the native object `wasm.js` builds `WebAssembly` on.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    let global = ctx.globals();
    global.set(
        "read",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, path: String| -> rquickjs::Result<String> {
                let bytes = read_file(&ctx, "read", &path)?;
                String::from_utf8(bytes).map_err(|_| {
                    Exception::throw_message(&ctx, &format!("read: {path} is not UTF-8 text"))
                })
            },
        )?
        .with_name("read")?,
    )?;
    global.set(
        "readbuffer",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, path: String| -> rquickjs::Result<ArrayBuffer<'js>> {
                let mut bytes = read_file(&ctx, "readbuffer", &path)?;
                if path.ends_with(".wat") {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        Exception::throw_message(
                            &ctx,
                            &format!("readbuffer: {path} is not UTF-8 text"),
                        )
                    })?;
                    bytes = wat_to_binary(&text).map_err(|e| {
                        Exception::throw_syntax(&ctx, &format!("readbuffer: {path}: {e}"))
                    })?;
                }
                ArrayBuffer::new_copy(ctx.clone(), bytes)
            },
        )?
        .with_name("readbuffer")?,
    )?;

    let native = Object::new(ctx.clone())?;
    native.set(
        "validate",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, bytes: Value<'js>| {
            let bytes = bytes_of(&ctx, &bytes)?;
            Ok::<_, rquickjs::Error>(
                bytes.starts_with(b"\0asm") && engine().compile(&bytes).is_ok(),
            )
        })?,
    )?;
    native.set(
        "compile",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, bytes: Value<'js>| {
            let bytes = bytes_of(&ctx, &bytes)?;
            let module = compile(&ctx, &bytes)?;
            Ok::<_, rquickjs::Error>(add_shared(Shared::Module(module)) as f64)
        })?,
    )?;
    native.set(
        "moduleInfo",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| module_info(&ctx, id))?,
    )?;
    native.set(
        "memoryNew",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, initial: f64, maximum: f64| -> rquickjs::Result<f64> {
                let memory =
                    GuestMemory::new(engine(), initial as u32, maximum as u32).map_err(|e| {
                        Exception::throw_range(
                            &ctx,
                            &format!("WebAssembly.Memory: cannot allocate: {e}"),
                        )
                    })?;
                Ok(add_shared(Shared::Memory(memory)) as f64)
            },
        )?,
    )?;
    native.set(
        "memoryBuffer",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let memory = memory_of(&ctx, id)?;
            crate::sab::wrap(&ctx, &memory.agentsync_memory())
        })?,
    )?;
    native.set(
        "memoryLength",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            memory_of(&ctx, id).map(|m| m.len() as f64)
        })?,
    )?;
    native.set(
        "memoryBase",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            memory_of(&ctx, id).map(|m| m.base() as usize as f64)
        })?,
    )?;
    native.set(
        "memoryMaximum",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            memory_of(&ctx, id).map(|m| {
                m.shared_memory()
                    .ty()
                    .maximum()
                    .map_or(f64::NAN, |pages| pages as f64)
            })
        })?,
    )?;
    native.set(
        "memoryGrow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, delta: f64| -> rquickjs::Result<f64> {
                let memory = memory_of(&ctx, id)?;
                memory
                    .grow(delta as u64)
                    .map(|old| old as f64)
                    .map_err(|e| {
                        Exception::throw_range(&ctx, &format!("WebAssembly.Memory.grow: {e}"))
                    })
            },
        )?,
    )?;
    native.set(
        "dup",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let entry = shared().get(&(id as u64)).cloned();
            match entry {
                Some(entry) => Ok(add_shared(entry) as f64),
                None => Err(Exception::throw_type(
                    &ctx,
                    "the WebAssembly object is gone",
                )),
            }
        })?,
    )?;
    native.set(
        "release",
        Function::new(ctx.clone(), |id: f64| {
            let gone = shared().remove(&(id as u64));
            drop(gone);
        })?,
    )?;
    native.set(
        "instantiate",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, module: f64, resolved: Array<'js>, functions: Array<'js>| {
                instantiate(&ctx, module, resolved, functions)
            },
        )?,
    )?;
    native.set(
        "exports",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| exports(&ctx, id))?,
    )?;
    native.set(
        "call",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, name: String, args: Array<'js>, functions: Array<'js>| {
                call(&ctx, id, name, args, functions)
            },
        )?,
    )?;
    native.set(
        "dropInstance",
        Function::new(ctx.clone(), |id: f64| {
            let gone = INSTANCES.with(|i| i.borrow_mut().remove(&(id as u64)));
            drop(gone);
        })?,
    )?;
    let setup: Function = ctx.eval_with_options(
        include_str!("wasm.js"),
        crate::agent::options("<agentsync wasm>"),
    )?;
    setup.call::<_, ()>((native, host.clone()))
}
