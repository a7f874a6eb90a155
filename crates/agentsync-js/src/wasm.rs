//! The `WebAssembly` namespace, on agentsync-wasm: compiled modules, shared memories whose
//! `buffer` is a `SharedArrayBuffer` over the guest bytes themselves, instances whose
//! `memory.atomic.wait32/64` / `notify` share agentsync's queues with `Atomics.wait` /
//! `notify` / `waitAsync`, non-shared memories, globals and tables, and the shell globals
//! `read` / `readbuffer`.
//!
//! The JS-visible classes live in `wasm.js`; this file gives it a small native object. Modules
//! and shared memories are process-wide (a worker can use the one another agent posted): each
//! JS object owns one id in [`shared`], released by a `FinalizationRegistry`, and a posted one is
//! a fresh id (a marker object in the message) the receiver adopts. Everything else (instances,
//! non-shared memories, globals, tables, functions) lives in the agent's one wasmtime store
//! ([`STORE`]), named by agent-local ids in [`LOCALS`]. A guest calling an imported JS function
//! calls back into the agent that called the guest, on the same thread: the call from
//! JavaScript keeps the context on a thread-local stack, and the import keeps its `Caller` on
//! another, through which JavaScript reaches the store until the import returns.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use agentsync_wasm::wasmtime::{
    AsContextMut, Caller, Extern, ExternRef, ExternType, Func, Global, GlobalType, Instance,
    Linker, Memory, MemoryType, Mutability, Ref, RefType, Store, StoreContextMut, Table, TableType,
    Val, ValType,
};
use agentsync_wasm::{describe, GuestMemory, GuestState, Program, Runtime, WasmError};
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
    /// `(name, kind, index in its kind's index space)` of each export, in order.
    exports: Vec<(String, &'static str, u32)>,
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

/// What an agent-local id names: a thing in the agent's store.
#[derive(Clone)]
enum Local {
    /// An instance, and the module it was made from.
    Instance(Instance, Arc<ModuleData>),
    /// A non-shared memory.
    Memory(Memory),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A function (exported by an instance, or read from a table).
    Func(Func),
}

/// A call from JavaScript into the guest in progress: the agent's context.
struct Frame {
    ctx: NonNull<qjs::JSContext>,
}

thread_local! {
    /// The agent's store: every instance, non-shared memory and global of the agent.
    static STORE: RefCell<Option<Store<GuestState>>> = const { RefCell::new(None) };
    /// Agent-local ids.
    static LOCALS: RefCell<HashMap<u64, Local>> = RefCell::new(HashMap::new());
    /// The guest-to-JS calls in progress, innermost last: while one runs, the store is reached
    /// through its `Caller`.
    static CALLERS: RefCell<Vec<*mut Caller<'static, GuestState>>> =
        const { RefCell::new(Vec::new()) };
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// The JavaScript functions given for function imports, by the id their host function keeps.
    static IMPORTS: RefCell<HashMap<u64, Persistent<Function<'static>>>> =
        RefCell::new(HashMap::new());
    /// `wasm.js`'s IterableToList, for what a JS import returns to a multi-value guest.
    static TO_LIST: RefCell<Option<Persistent<Function<'static>>>> = const { RefCell::new(None) };
    /// An imported JS function threw: its exception is pending in the context.
    static THREW: Cell<bool> = const { Cell::new(false) };
}

/// Pops the frame it pushed, however the call ends.
struct FrameGuard;

impl FrameGuard {
    fn push(ctx: &Ctx<'_>) -> FrameGuard {
        FRAMES.with(|f| f.borrow_mut().push(Frame { ctx: ctx.as_raw() }));
        FrameGuard
    }
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        FRAMES.with(|f| f.borrow_mut().pop());
    }
}

/// Makes the agent's store: guest waits sleep like `Atomics.wait` (so `terminate()` ends them),
/// and guest code checks the epoch, so a terminated agent's guest loop stops too.
fn new_store() -> Store<GuestState> {
    let blocker: agentsync_wasm::Blocker = Arc::new(crate::agent::block_on_wait);
    let mut store = Store::new(engine().engine(), GuestState::with_blocker(blocker));
    let signal = crate::agent::with_local(|local| local.signal.clone());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| match &signal {
        Some(signal) if signal.is_interrupted() => {
            Err(agentsync_wasm::wasmtime::Error::msg("agent terminated"))
        }
        _ => Ok(agentsync_wasm::wasmtime::UpdateDeadline::Continue(1)),
    });
    store
}

/// Runs `f` on the agent's store: through the innermost guest-to-JS call's `Caller` if one is
/// running, else the store itself. `f` must not run JavaScript except by calling the guest.
fn with_store<R>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(StoreContextMut<'_, GuestState>) -> R,
) -> rquickjs::Result<R> {
    let caller = CALLERS.with(|c| c.borrow().last().copied());
    if let Some(caller) = caller {
        // SAFETY: the pointer is the `Caller` of the import call running below us on this
        // thread (`CallerGuard` pops it before the call returns), and nothing else uses it
        // meanwhile: `f` runs no JavaScript that could reach it except through a nested guest
        // call, which pushes its own caller.
        let caller = unsafe { &mut *caller };
        return Ok(f(caller.as_context_mut()));
    }
    with_own_store(ctx, |store| f(store.as_context_mut()))
}

/// Runs `f` on the agent's store itself (not through a running call's `Caller`).
fn with_own_store<R>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&mut Store<GuestState>) -> R,
) -> rquickjs::Result<R> {
    STORE.with(|s| {
        let mut slot = s.try_borrow_mut().map_err(|_| {
            throw_wasm(
                ctx,
                "RuntimeError",
                "this host cannot do this from inside a call of a Wasm import",
            )
        })?;
        Ok(f(slot.get_or_insert_with(new_store)))
    })
}

/// Forgets the agent's store and everything in it, when the agent ends (no script runs again,
/// and the `ArrayBuffer`s over its memories have no free function).
pub(crate) fn agent_ended() {
    let locals = LOCALS.with(|l| std::mem::take(&mut *l.borrow_mut()));
    drop(locals);
    let imports = IMPORTS.with(|i| std::mem::take(&mut *i.borrow_mut()));
    drop(imports);
    let to_list = TO_LIST.with(|t| t.borrow_mut().take());
    drop(to_list);
    let store = STORE.with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()));
    drop(store);
}

/// Makes `caller` the way to the store for its call's duration.
struct CallerGuard;

impl CallerGuard {
    fn push(caller: &mut Caller<'_, GuestState>) -> CallerGuard {
        let raw: *mut Caller<'_, GuestState> = caller;
        CALLERS.with(|c| c.borrow_mut().push(raw.cast()));
        CallerGuard
    }
}

impl Drop for CallerGuard {
    fn drop(&mut self) {
        CALLERS.with(|c| c.borrow_mut().pop());
    }
}

fn add_local(entry: Local) -> u64 {
    let id = next_id();
    LOCALS.with(|l| l.borrow_mut().insert(id, entry));
    id
}

fn local_of(id: f64) -> Option<Local> {
    LOCALS.with(|l| l.borrow().get(&(id as u64)).cloned())
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
        e if e.is_link_error() => "LinkError",
        WasmError::Trap(_) | WasmError::Cancelled => "RuntimeError",
        _ => "CompileError",
    }
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
                    data.exports
                        .push((export.name.to_string(), kind, export.index));
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

/// A `WebAssembly.Memory`: shared (process-wide) or non-shared (in the agent's store).
enum AnyMemory {
    Shared(GuestMemory),
    Local(Memory),
}

fn memory_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<AnyMemory> {
    if let Some(Local::Memory(memory)) = local_of(id) {
        return Ok(AnyMemory::Local(memory));
    }
    match shared().get(&(id as u64)) {
        Some(Shared::Memory(memory)) => Ok(AnyMemory::Shared(memory.clone())),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Memory")),
    }
}

fn instance_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<(Instance, Arc<ModuleData>)> {
    match local_of(id) {
        Some(Local::Instance(instance, module)) => Ok((instance, module)),
        _ => Err(Exception::throw_type(
            ctx,
            "not a live WebAssembly.Instance",
        )),
    }
}

fn global_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Global> {
    match local_of(id) {
        Some(Local::Global(global)) => Ok(global),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Global")),
    }
}

/// The value type a JS API descriptor names (`"i32"`, `"i64"`, `"f32"`, `"f64"`).
fn value_type(name: &str) -> Option<ValType> {
    Some(match name {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        _ => return None,
    })
}

/// The JS API's name of a value type.
fn type_name(ty: &ValType) -> String {
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
fn default_value(ty: &ValType) -> Option<Val> {
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
fn func_facts(store: &mut StoreContextMut<'_, GuestState>, func: &Func) -> (f64, usize) {
    let key = func.to_raw(&mut *store) as usize as f64;
    (key, func.ty(&*store).params().len())
}

/// A reference from the JS side's encoding: for a funcref table `None` (null) or a Wasm
/// function's id; for an externref table `None` or the key of the JS value it stands for.
fn make_ref(
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

/// A reference as the JS side decodes it: null, an externref's key, or a function's
/// `{ func, key, length }`.
fn ref_to_js<'js>(
    ctx: &Ctx<'js>,
    store: &mut StoreContextMut<'_, GuestState>,
    reference: Option<Ref>,
) -> rquickjs::Result<Value<'js>> {
    match reference {
        Some(Ref::Func(Some(func))) => {
            let (key, length) = func_facts(store, &func);
            let entry = Object::new(ctx.clone())?;
            entry.set("func", add_local(Local::Func(func)) as f64)?;
            entry.set("key", key)?;
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

fn table_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Table> {
    match local_of(id) {
        Some(Local::Table(table)) => Ok(table),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Table")),
    }
}

/// Whether `table` holds funcrefs (else externrefs).
fn is_funcref(store: &StoreContextMut<'_, GuestState>, table: &Table) -> bool {
    table.ty(store).element().heap_type().is_func()
}

/// An `ArrayBuffer` over `len` bytes at `base`, with no free function (the store owns them).
fn borrowed_array_buffer<'js>(
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
            (crate::agent::to_number(ctx, value)? as f32).to_bits(),
        )),
        ValType::F64 => Ok(Val::F64(crate::agent::to_number(ctx, value)?.to_bits())),
        other => Err(Exception::throw_type(
            ctx,
            &format!("WebAssembly: values of type {other} cannot cross to JavaScript here"),
        )),
    }
}

/// Calls the JavaScript function of import `key`, in the context of the innermost call from
/// JavaScript (see [`FrameGuard`]).
fn call_import(
    key: u64,
    results_ty: &[ValType],
    params: &[Val],
    results: &mut [Val],
) -> agentsync_wasm::wasmtime::Result<()> {
    let top = FRAMES.with(|f| f.borrow().last().map(|frame| frame.ctx));
    let function = IMPORTS.with(|i| i.borrow().get(&key).cloned());
    let (Some(raw), Some(function)) = (top, function) else {
        return Err(agentsync_wasm::wasmtime::format_err!(
            "a JavaScript import was called outside a call from JavaScript"
        ));
    };
    // SAFETY: the frame's context is the one whose native call is on this thread's stack
    // below us (it pushed the frame), so it is alive and its runtime is locked by this thread.
    let ctx = unsafe { Ctx::from_raw(raw) };
    let outcome = (|| -> rquickjs::Result<()> {
        let function = function.restore(&ctx)?;
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
                // Any iterable, iterated as the JS API says (IterableToList, in `wasm.js`).
                let to_list = TO_LIST
                    .with(|t| t.borrow().clone())
                    .ok_or_else(|| Exception::throw_internal(&ctx, "WebAssembly is not set up"))?
                    .restore(&ctx)?;
                let list: Array = to_list.call((returned,))?;
                if list.len() != many.len() {
                    return Err(Exception::throw_type(
                        &ctx,
                        "WebAssembly: the import returned the wrong number of values",
                    ));
                }
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

/// What one import of an instantiation is bound to.
enum Binding {
    /// Calls the JavaScript function registered under this key in [`IMPORTS`].
    Function(u64, agentsync_wasm::wasmtime::FuncType),
    /// A Wasm function (an exported function given back).
    Func(Func),
    Table(Table),
    Memory(AnyMemory),
    Global(Global),
    /// A new immutable global of this type and value (a number given for a global import).
    NewGlobal(GlobalType, Val),
}

/// Instantiates module `module` with `resolved[i]` for import `i`: a JavaScript function or a
/// Wasm function's id for a function, a memory id for a memory, a global id or `{ value }` for a
/// global, a table id for a table.
fn instantiate<'js>(ctx: &Ctx<'js>, module: f64, resolved: Array<'js>) -> rquickjs::Result<f64> {
    let module = module_of(ctx, module)?;
    let runtime = engine();
    let link_error = |text: String| throw_wasm(ctx, "LinkError", &text);
    // Everything that may run JavaScript (conversions) happens before the store is taken.
    let mut bindings = Vec::new();
    for (i, import) in module.program.module().imports().enumerate() {
        let Some((_, _, kind)) = module.imports.get(i) else {
            break;
        };
        let (name_module, name) = (import.module(), import.name());
        let where_ = format!("import {name_module:?} {name:?}");
        let slot: Value = resolved.get(i)?;
        let binding = match (import.ty(), *kind) {
            (ExternType::Func(ty), "function") => match slot.as_number() {
                Some(id) => match local_of(id) {
                    Some(Local::Func(func)) => Binding::Func(func),
                    _ => return Err(link_error(format!("{where_}: a function is expected"))),
                },
                None => {
                    let function = Function::from_value(slot)
                        .map_err(|_| link_error(format!("{where_}: a function is expected")))?;
                    let key = next_id();
                    let saved = Persistent::save(ctx, function);
                    IMPORTS.with(|i| i.borrow_mut().insert(key, saved));
                    Binding::Function(key, ty)
                }
            },
            (ExternType::Table(_), "table") => match local_of(slot.as_number().unwrap_or(0.0)) {
                Some(Local::Table(table)) => Binding::Table(table),
                _ => {
                    return Err(link_error(format!(
                        "{where_}: a WebAssembly.Table is expected"
                    )))
                }
            },
            (ExternType::Memory(ty), "memory") => {
                let memory = memory_of(ctx, slot.as_number().unwrap_or(0.0))?;
                match (&memory, ty.is_shared()) {
                    (AnyMemory::Shared(_), true) | (AnyMemory::Local(_), false) => {}
                    (_, shared) => {
                        return Err(link_error(format!(
                            "{where_}: a {} memory is expected",
                            if shared { "shared" } else { "non-shared" }
                        )))
                    }
                }
                Binding::Memory(memory)
            }
            (ExternType::Global(ty), "global") => {
                if let Some(id) = slot.as_number() {
                    Binding::Global(global_of(ctx, id)?)
                } else {
                    let given: Value = slot
                        .as_object()
                        .map(|o| o.get("value"))
                        .transpose()?
                        .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
                    if ty.mutability() == Mutability::Var {
                        return Err(link_error(format!(
                            "{where_}: a mutable global needs a WebAssembly.Global"
                        )));
                    }
                    let content = ty.content().clone();
                    let fits = match content {
                        ValType::I64 => given.is_big_int(),
                        ValType::I32 | ValType::F32 | ValType::F64 => given.is_number(),
                        _ => false,
                    };
                    if !fits {
                        return Err(link_error(format!(
                            "{where_}: the value does not fit a global of type {}",
                            type_name(&content)
                        )));
                    }
                    let value = from_js(ctx, &content, &given)?;
                    Binding::NewGlobal(ty, value)
                }
            }
            (_, kind) => {
                return Err(link_error(format!(
                    "{where_}: {kind} imports are not supported by this host"
                )))
            }
        };
        bindings.push((name_module.to_string(), name.to_string(), binding));
    }
    let made = with_own_store(ctx, |store| -> Result<Instance, String> {
        let mut linker: Linker<GuestState> = Linker::new(runtime.engine());
        linker.allow_shadowing(true);
        for (name_module, name, binding) in bindings {
            let item: Extern = match binding {
                Binding::Function(key, ty) => {
                    let results: Vec<ValType> = ty.results().collect();
                    linker
                        .func_new(
                            &name_module,
                            &name,
                            ty,
                            move |mut caller: Caller<'_, GuestState>,
                                  params: &[Val],
                                  out: &mut [Val]| {
                                let _caller = CallerGuard::push(&mut caller);
                                call_import(key, &results, params, out)
                            },
                        )
                        .map_err(|e| describe(&e))?;
                    continue;
                }
                Binding::Memory(AnyMemory::Shared(memory)) => memory.shared_memory().clone().into(),
                Binding::Memory(AnyMemory::Local(memory)) => memory.into(),
                Binding::Global(global) => global.into(),
                Binding::Func(func) => func.into(),
                Binding::Table(table) => table.into(),
                Binding::NewGlobal(ty, value) => Global::new(&mut *store, ty, value)
                    .map_err(|e| describe(&e))?
                    .into(),
            };
            linker
                .define(&*store, &name_module, &name, item)
                .map_err(|e| describe(&e))?;
        }
        let _frame = FrameGuard::push(ctx);
        module
            .program
            .instantiate_with(store, &[], Some(&linker))
            .map_err(|e| format!("{}\u{0}{}", error_kind(&e), e))
    })?;
    let instance = match made {
        Ok(instance) => instance,
        Err(_) if THREW.with(|t| t.replace(false)) => return Err(rquickjs::Error::Exception),
        Err(text) => {
            let (kind, message) = text.split_once('\u{0}').unwrap_or(("LinkError", &text));
            return Err(throw_wasm(ctx, kind, message));
        }
    };
    Ok(add_local(Local::Instance(instance, module)) as f64)
}

/// The exports of instance `id`: `{name, kind, index, length?, memory?, global?}` each.
fn exports<'js>(ctx: &Ctx<'js>, id: f64) -> rquickjs::Result<Array<'js>> {
    let (instance, module) = instance_of(ctx, id)?;
    let found: Vec<Option<(Extern, (f64, usize))>> = with_store(ctx, |mut store| {
        module
            .exports
            .iter()
            .map(|(name, _, _)| {
                let item = instance.get_export(&mut store, name)?;
                let facts = match &item {
                    Extern::Func(func) => func_facts(&mut store, func),
                    _ => (0.0, 0),
                };
                Some((item, facts))
            })
            .collect()
    })?;
    let list = Array::new(ctx.clone())?;
    for (k, ((name, kind, index), item)) in module.exports.iter().zip(found).enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        entry.set("index", *index)?;
        match item {
            Some((Extern::Func(func), (key, length))) => {
                entry.set("func", add_local(Local::Func(func)) as f64)?;
                entry.set("key", key)?;
                entry.set("length", length)?;
            }
            Some((Extern::Table(table), _)) => {
                entry.set("table", add_local(Local::Table(table)) as f64)?;
            }
            Some((Extern::SharedMemory(memory), _)) => {
                let guest = GuestMemory::from_shared(memory);
                entry.set("memory", add_shared(Shared::Memory(guest)) as f64)?;
            }
            Some((Extern::Memory(memory), _)) => {
                entry.set("memory", add_local(Local::Memory(memory)) as f64)?;
            }
            Some((Extern::Global(global), _)) => {
                entry.set("global", add_local(Local::Global(global)) as f64)?;
            }
            _ => {}
        }
        list.set(k, entry)?;
    }
    Ok(list)
}

/// Calls Wasm function `id`.
fn call<'js>(ctx: &Ctx<'js>, id: f64, args: Array<'js>) -> rquickjs::Result<Value<'js>> {
    let Some(Local::Func(func)) = local_of(id) else {
        return Err(Exception::throw_type(ctx, "not a Wasm function"));
    };
    let (params, results_len) = with_store(ctx, |store| {
        let ty = func.ty(&store);
        let params: Vec<ValType> = ty.params().collect();
        let results = ty.results().len();
        (params, results)
    })?;
    // Converting may run JavaScript (valueOf), so it happens before the store is taken.
    let mut values = Vec::with_capacity(params.len());
    for (k, ty) in params.iter().enumerate() {
        let arg: Value = args.get(k)?;
        values.push(from_js(ctx, ty, &arg)?);
    }
    let mut results = vec![Val::I32(0); results_len];
    let outcome = {
        let _frame = FrameGuard::push(ctx);
        THREW.with(|t| t.set(false));
        with_store(ctx, |mut store| {
            func.call(&mut store, &values, &mut results)
        })?
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
    for (k, (name, kind, _)) in module.exports.iter().enumerate() {
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

/// The path argument of `read` / `readbuffer`: required, and converted as `String(x)` would,
/// except that a Symbol is a TypeError (as any string conversion of one is).
fn path_argument<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    path: rquickjs::function::Opt<Value<'js>>,
) -> rquickjs::Result<String> {
    let Some(path) = path.0 else {
        return Err(Exception::throw_type(
            ctx,
            &format!("{what}: a file path is required"),
        ));
    };
    if path.is_symbol() {
        return Err(Exception::throw_type(
            ctx,
            &format!("{what}: the path is a Symbol, not a string"),
        ));
    }
    let path: rquickjs::convert::Coerced<String> = rquickjs::FromJs::from_js(ctx, path)?;
    Ok(path.0)
}

/// WebAssembly on agentsync-wasm (`WebAssembly.*`, `read`, `readbuffer`); its per-agent store
/// is dropped when the agent ends, and an interrupt stops every guest at its next epoch check.
pub(crate) const EXTENSION: crate::agent::Extension = crate::agent::Extension {
    name: "wasm",
    install: |ctx, host, _setup| install(ctx, host),
    in_realms: false,
    on_interrupt: Some(interrupt_guests),
    on_end: Some(agent_ended),
};

/// Defines `read`, `readbuffer` and the native object `wasm.js` builds `WebAssembly` on.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    let global = ctx.globals();
    global.set(
        "read",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             path: rquickjs::function::Opt<Value<'js>>|
             -> rquickjs::Result<String> {
                let path = path_argument(&ctx, "read", path)?;
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
            |ctx: Ctx<'js>,
             path: rquickjs::function::Opt<Value<'js>>|
             -> rquickjs::Result<ArrayBuffer<'js>> {
                let path = path_argument(&ctx, "readbuffer", path)?;
                let mut bytes = read_file(&ctx, "readbuffer", &path)?;
                if path.ends_with(".wat") {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        Exception::throw_message(
                            &ctx,
                            &format!("readbuffer: {path} is not UTF-8 text"),
                        )
                    })?;
                    bytes = agentsync_wasm::wat_to_binary(&text).map_err(|e| {
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
            |ctx: Ctx<'js>,
             initial: f64,
             maximum: Option<f64>,
             shared: bool|
             -> rquickjs::Result<f64> {
                let fail = |e: String| {
                    Exception::throw_range(
                        &ctx,
                        &format!("WebAssembly.Memory: cannot allocate: {e}"),
                    )
                };
                if shared {
                    let maximum = maximum.unwrap_or(initial);
                    let memory = GuestMemory::new(engine(), initial as u32, maximum as u32)
                        .map_err(|e| fail(e.to_string()))?;
                    return Ok(add_shared(Shared::Memory(memory)) as f64);
                }
                let ty = MemoryType::new(initial as u32, maximum.map(|m| m as u32));
                let memory = with_store(&ctx, |store| Memory::new(store, ty))?
                    .map_err(|e| fail(describe(&e)))?;
                Ok(add_local(Local::Memory(memory)) as f64)
            },
        )?,
    )?;
    native.set(
        "memoryShared",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            memory_of(&ctx, id).map(|m| matches!(m, AnyMemory::Shared(_)))
        })?,
    )?;
    native.set(
        "memoryBuffer",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            match memory_of(&ctx, id)? {
                AnyMemory::Shared(memory) => crate::sab::wrap(&ctx, &memory.agentsync_memory()),
                AnyMemory::Local(memory) => {
                    let (base, len) = with_store(&ctx, |store| {
                        (memory.data_ptr(&store), memory.data_size(&store))
                    })?;
                    borrowed_array_buffer(&ctx, base, len)
                }
            }
        })?,
    )?;
    native.set(
        "memoryLength",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            match memory_of(&ctx, id)? {
                AnyMemory::Shared(memory) => Ok(memory.len() as f64),
                AnyMemory::Local(memory) => {
                    with_store(&ctx, |store| memory.data_size(&store) as f64)
                }
            }
        })?,
    )?;
    native.set(
        "memoryMaximum",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let ty = match memory_of(&ctx, id)? {
                AnyMemory::Shared(memory) => memory.shared_memory().ty(),
                AnyMemory::Local(memory) => with_store(&ctx, |store| memory.ty(&store))?,
            };
            Ok::<_, rquickjs::Error>(ty.maximum().map_or(65536.0, |pages| pages as f64))
        })?,
    )?;
    native.set(
        "memoryGrow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, delta: f64| -> rquickjs::Result<f64> {
                let grown = match memory_of(&ctx, id)? {
                    AnyMemory::Shared(memory) => {
                        memory.grow(delta as u64).map_err(|e| e.to_string())
                    }
                    AnyMemory::Local(memory) => {
                        with_store(&ctx, |store| memory.grow(store, delta as u64))?
                            .map_err(|e| describe(&e))
                    }
                };
                grown.map(|old| old as f64).map_err(|e| {
                    Exception::throw_range(&ctx, &format!("WebAssembly.Memory.grow: {e}"))
                })
            },
        )?,
    )?;
    native.set(
        "detach",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, buffer: Value<'js>| {
            if buffer.is_object() {
                // SAFETY: live context and value; detaching a non-shared ArrayBuffer made by
                // `borrowed_array_buffer` (no free function) only forgets its bytes.
                unsafe { qjs::JS_DetachArrayBuffer(ctx.as_raw().as_ptr(), buffer.as_raw()) };
            }
        })?,
    )?;
    native.set(
        "globalNew",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             ty: String,
             mutable: bool,
             value: Value<'js>|
             -> rquickjs::Result<f64> {
                let content = value_type(&ty).ok_or_else(|| {
                    Exception::throw_type(
                        &ctx,
                        &format!("WebAssembly.Global: this host has no globals of type {ty:?}"),
                    )
                })?;
                let value = if value.is_undefined() {
                    default_value(&content).ok_or_else(|| {
                        Exception::throw_type(&ctx, "WebAssembly.Global: no default value")
                    })?
                } else {
                    from_js(&ctx, &content, &value)?
                };
                let mutability = if mutable {
                    Mutability::Var
                } else {
                    Mutability::Const
                };
                let global = with_store(&ctx, |store| {
                    Global::new(store, GlobalType::new(content, mutability), value)
                })?
                .map_err(|e| Exception::throw_type(&ctx, &describe(&e)))?;
                Ok(add_local(Local::Global(global)) as f64)
            },
        )?,
    )?;
    native.set(
        "globalInfo",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let global = global_of(&ctx, id)?;
            let ty = with_store(&ctx, |store| global.ty(&store))?;
            let info = Object::new(ctx.clone())?;
            info.set("value", type_name(ty.content()))?;
            info.set("mutable", ty.mutability() == Mutability::Var)?;
            Ok::<_, rquickjs::Error>(info)
        })?,
    )?;
    native.set(
        "globalGet",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let global = global_of(&ctx, id)?;
            let value = with_store(&ctx, |store| global.get(store))?;
            to_js(&ctx, &value)
        })?,
    )?;
    native.set(
        "globalSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, value: Value<'js>| -> rquickjs::Result<()> {
                let global = global_of(&ctx, id)?;
                let ty = with_store(&ctx, |store| global.ty(&store))?;
                if ty.mutability() != Mutability::Var {
                    return Err(Exception::throw_type(
                        &ctx,
                        "WebAssembly.Global: the global is immutable",
                    ));
                }
                let value = from_js(&ctx, ty.content(), &value)?;
                with_store(&ctx, |store| global.set(store, value))?
                    .map_err(|e| Exception::throw_type(&ctx, &describe(&e)))
            },
        )?,
    )?;
    native.set(
        "tableNew",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             funcref: bool,
             initial: f64,
             maximum: Option<f64>,
             init: Option<f64>|
             -> rquickjs::Result<f64> {
                let element = if funcref {
                    RefType::FUNCREF
                } else {
                    RefType::EXTERNREF
                };
                let ty = TableType::new(element, initial as u32, maximum.map(|m| m as u32));
                let made = with_store(&ctx, |mut store| {
                    let init = make_ref(&mut store, funcref, init)?;
                    Table::new(&mut store, ty, init).map_err(|e| describe(&e))
                })?;
                let table = made.map_err(|e| {
                    Exception::throw_range(&ctx, &format!("WebAssembly.Table: {e}"))
                })?;
                Ok(add_local(Local::Table(table)) as f64)
            },
        )?,
    )?;
    native.set(
        "tableInfo",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let table = table_of(&ctx, id)?;
            let (funcref, length, maximum) = with_store(&ctx, |store| {
                let ty = table.ty(&store);
                (is_funcref(&store, &table), table.size(&store), ty.maximum())
            })?;
            let info = Object::new(ctx.clone())?;
            info.set("funcref", funcref)?;
            info.set("length", length as f64)?;
            info.set("maximum", maximum.map_or(f64::INFINITY, |m| m as f64))?;
            Ok::<_, rquickjs::Error>(info)
        })?,
    )?;
    native.set(
        "tableGet",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64, index: f64| {
            let table = table_of(&ctx, id)?;
            let inner = ctx.clone();
            with_store(&ctx, move |mut store| {
                let got = table.get(&mut store, index as u64);
                if got.is_none() {
                    return Err(Exception::throw_range(
                        &inner,
                        "WebAssembly.Table.get: the index is out of bounds",
                    ));
                }
                ref_to_js(&inner, &mut store, got)
            })?
        })?,
    )?;
    native.set(
        "tableSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, index: f64, value: Option<f64>| -> rquickjs::Result<()> {
                let table = table_of(&ctx, id)?;
                with_store(&ctx, |mut store| {
                    let funcref = is_funcref(&store, &table);
                    let value = make_ref(&mut store, funcref, value)?;
                    table
                        .set(&mut store, index as u64, value)
                        .map_err(|e| describe(&e))
                })?
                .map_err(|e| Exception::throw_range(&ctx, &format!("WebAssembly.Table.set: {e}")))
            },
        )?,
    )?;
    native.set(
        "tableGrow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, delta: f64, value: Option<f64>| -> rquickjs::Result<f64> {
                let table = table_of(&ctx, id)?;
                with_store(&ctx, |mut store| {
                    let funcref = is_funcref(&store, &table);
                    let value = make_ref(&mut store, funcref, value)?;
                    table
                        .grow(&mut store, delta as u64, value)
                        .map_err(|e| describe(&e))
                })?
                .map(|old| old as f64)
                .map_err(|e| Exception::throw_range(&ctx, &format!("WebAssembly.Table.grow: {e}")))
            },
        )?,
    )?;
    native.set(
        "setToList",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, to_list: Function<'js>| {
            let saved = Persistent::save(&ctx, to_list);
            TO_LIST.with(|t| *t.borrow_mut() = Some(saved));
        })?,
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
            |ctx: Ctx<'js>, module: f64, resolved: Array<'js>| instantiate(&ctx, module, resolved),
        )?,
    )?;
    native.set(
        "exports",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| exports(&ctx, id))?,
    )?;
    native.set(
        "call",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64, args: Array<'js>| {
            call(&ctx, id, args)
        })?,
    )?;
    native.set(
        "dropLocal",
        Function::new(ctx.clone(), |id: f64| {
            let gone = LOCALS.with(|l| l.borrow_mut().remove(&(id as u64)));
            drop(gone);
        })?,
    )?;
    let setup: Function = ctx.eval_with_options(
        include_str!("wasm.js"),
        crate::agent::options("<agentsync wasm>"),
    )?;
    setup.call::<_, ()>((native, host.clone()))
}
