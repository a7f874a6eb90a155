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
//! (`AgentWasm::store`, in the agent's slot), named by agent-local ids (`AgentWasm::locals`). A guest calling an imported JS function
//! calls back into the agent that called the guest, on the same thread: the call from
//! JavaScript keeps the context on a thread-local stack, and the import keeps its `Caller` on
//! another, through which JavaScript reaches the store until the import returns.

mod errors;
mod global;
mod instance;
mod memory;
mod module;
mod shell;
mod state;
mod table;
mod values;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::rc::Rc;
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

use errors::*;
use state::*;
use values::*;

/// WebAssembly on agentsync-wasm (`WebAssembly.*`, `read`, `readbuffer`); its per-agent store
/// is dropped when the agent ends, and an interrupt stops every guest at its next epoch check.
pub(crate) const EXTENSION: crate::agent::Extension = crate::agent::Extension {
    name: "wasm",
    install: |ctx, host, _setup| install(ctx, host),
    in_realms: false,
    on_interrupt: Some(interrupt_guests),
};

/// Defines `read`, `readbuffer` and the native object `wasm.js` builds `WebAssembly` on.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    let global = ctx.globals();
    shell::globals(ctx, &global)?;
    let native = Object::new(ctx.clone())?;
    module::natives(ctx, &native)?;
    memory::natives(ctx, &native)?;
    global::natives(ctx, &native)?;
    table::natives(ctx, &native)?;
    instance::natives(ctx, &native)?;
    static WASM_JS: crate::agent::Compiled =
        crate::agent::Compiled::new("<agentsync wasm>", include_str!("../wasm.js"));
    let setup: Function = WASM_JS.eval(ctx)?;
    setup.call::<_, ()>((native, host.clone()))
}
