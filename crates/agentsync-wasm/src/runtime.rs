//! Instances and calls: a compiled program instantiated in a store (one per thread), its
//! imports resolved, and its exports called.

use std::sync::Arc;

use wasmtime::{Caller, Extern, ExternType, Func, Instance, Linker, Memory, Store, Val};

use crate::compile::Program;
use crate::error::{describe, Trap, WasmError};
use crate::host::host_function;
use crate::memory::GuestMemory;
use crate::rewrite::{memory_export_name, HOST_MODULE};
use crate::state::{GuestState, SpawnThread};

/// Import module of the thread-spawn function.
pub const SPAWN_MODULE: &str = "agentsync";
/// Import field of the thread-spawn function.
pub const SPAWN_FIELD: &str = "thread_spawn";

/// Import module of wasi-threads' spawn function (re-exported as
/// [`wasi::SPAWN_MODULE`](crate::wasi::SPAWN_MODULE)).
pub(crate) const WASI_SPAWN_MODULE: &str = "wasi";
/// Import field of wasi-threads' spawn function.
pub(crate) const WASI_SPAWN_FIELD: &str = "thread-spawn";

/// Whether an import is a thread-spawn function: ours (`agentsync.thread_spawn`) or
/// wasi-threads' (`wasi.thread-spawn`); both take the argument and return the new id.
pub(crate) fn is_spawn_import(module: &str, name: &str) -> bool {
    (module, name) == (SPAWN_MODULE, SPAWN_FIELD)
        || (module, name) == (WASI_SPAWN_MODULE, WASI_SPAWN_FIELD)
}

/// The `agentsync.thread_spawn` host function of a store whose guest may start threads.
fn spawn_function(store: &mut Store<GuestState>, spawner: Arc<dyn SpawnThread>) -> Func {
    Func::wrap(store, move |_: Caller<'_, GuestState>, arg: i32| -> i32 {
        spawner.clone().spawn(arg)
    })
}

impl Program {
    /// Instantiates the module in `store`.
    ///
    /// As [`instantiate_with`](Self::instantiate_with) with `memory` as the only shared
    /// memory (a module that imports two distinct shared memories then fails to link).
    ///
    /// # Errors
    ///
    /// As [`instantiate_with`](Self::instantiate_with).
    pub fn instantiate(
        &self,
        store: &mut Store<GuestState>,
        memory: Option<&GuestMemory>,
        linker: Option<&Linker<GuestState>>,
    ) -> Result<Instance, WasmError> {
        self.instantiate_with(
            store,
            memory.map(std::slice::from_ref).unwrap_or(&[]),
            linker,
        )
    }

    /// Instantiates the module in `store`.
    ///
    /// Imports are resolved in this order: the rewrite's host functions; `linker`; the k-th
    /// distinct shared memory import (see [`shared_memory_imports`](Self::shared_memory_imports))
    /// gets `memories[k]`; an unshared memory import gets a fresh memory; the thread-spawn import
    /// (`agentsync` `thread_spawn`) if the store belongs to [`Threads`](crate::Threads).
    ///
    /// # Errors
    ///
    /// [`WasmError::Link`] for an import nothing provides,
    /// [`WasmError::MissingSharedMemories`] if `memories` is too short,
    /// [`WasmError::SpawnNeedsImportedMemory`] for a thread-spawn import in a module that
    /// defines its own shared memory, [`WasmError::Trap`] if the start function traps.
    pub fn instantiate_with(
        &self,
        store: &mut Store<GuestState>,
        memories: &[GuestMemory],
        linker: Option<&Linker<GuestState>>,
    ) -> Result<Instance, WasmError> {
        let shared = self.shared_memory_imports();
        let mut imports: Vec<Extern> = Vec::new();
        // The rewrite appended its imports, in order, after the module's own: import `i` of
        // those is `rewritten()[i]`, found without comparing names.
        let first_host = self.module().imports().len() - self.rewritten().len();
        for (index, import) in self.module().imports().enumerate() {
            let (module, name) = (import.module(), import.name());
            let host = index
                .checked_sub(first_host)
                .and_then(|k| self.rewritten().get(k))
                .filter(|_| module == HOST_MODULE);
            let resolved = if let Some(host) = host {
                let export = self
                    .memory_export(host.memory)
                    .map_or_else(|| memory_export_name(host.memory), str::to_string);
                let slot = store.data().wait_slot.clone();
                let blocker = store.data().blocker.clone();
                Some(Extern::Func(host_function(
                    store, *host, export, slot, blocker,
                )))
            } else if let Some(found) = linker.and_then(|l| l.get(&mut *store, module, name).ok()) {
                Some(found)
            } else {
                match import.ty() {
                    ExternType::Memory(m) if m.is_shared() => {
                        let k = shared
                            .iter()
                            .position(|(m, n, _)| (m.as_str(), n.as_str()) == (module, name))
                            .unwrap_or(usize::MAX);
                        let given =
                            memories
                                .get(k)
                                .ok_or_else(|| WasmError::MissingSharedMemories {
                                    module: module.to_string(),
                                    name: name.to_string(),
                                    imported: shared.len(),
                                    given: memories.len(),
                                })?;
                        Some(Extern::SharedMemory(given.shared_memory().clone()))
                    }
                    // Only a stand-alone run invents an unshared memory; a script's
                    // imports must all be provided.
                    ExternType::Memory(m) if linker.is_none() => {
                        Memory::new(&mut *store, m).ok().map(Extern::Memory)
                    }
                    ExternType::Func(_) if is_spawn_import(module, name) => {
                        let spawner = store.data().spawner.clone();
                        if spawner.is_some() && self.defines_shared_memory() {
                            return Err(WasmError::SpawnNeedsImportedMemory);
                        }
                        spawner.map(|s| Extern::Func(spawn_function(store, s)))
                    }
                    _ => None,
                }
            };
            let resolved = resolved
                .ok_or_else(|| WasmError::Link(format!("unknown import {module:?} {name:?}")))?;
            imports.push(resolved);
        }
        Instance::new(&mut *store, self.module(), &imports).map_err(|e| {
            let text = describe(&e);
            if text.contains("incompatible import") || text.contains("unknown import") {
                WasmError::Link(text)
            } else {
                WasmError::Trap(text)
            }
        })
    }
}

/// A Wasm value, as the CLI shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`.
    F32(f32),
    /// An `f64`.
    F64(f64),
    /// Anything else (references, vectors), described.
    Other(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::I32(v) => write!(f, "{v}:i32"),
            Value::I64(v) => write!(f, "{v}:i64"),
            Value::F32(v) => write!(f, "{v}:f32"),
            Value::F64(v) => write!(f, "{v}:f64"),
            Value::Other(v) => f.write_str(v),
        }
    }
}

impl From<&Val> for Value {
    fn from(v: &Val) -> Self {
        match v {
            Val::I32(x) => Value::I32(*x),
            Val::I64(x) => Value::I64(*x),
            Val::F32(x) => Value::F32(f32::from_bits(*x)),
            Val::F64(x) => Value::F64(f64::from_bits(*x)),
            other => Value::Other(format!("{other:?}")),
        }
    }
}

/// Parses a CLI argument as a value of type `ty` (integers may be given signed or unsigned).
pub(crate) fn parse_arg(text: &str, ty: &wasmtime::ValType) -> Result<Val, WasmError> {
    let bad = || WasmError::BadArgument {
        given: text.to_string(),
        expected: format!("{ty}"),
    };
    Ok(match ty {
        wasmtime::ValType::I32 => Val::I32(
            text.parse::<i32>()
                .or_else(|_| text.parse::<u32>().map(|u| u as i32))
                .map_err(|_| bad())?,
        ),
        wasmtime::ValType::I64 => Val::I64(
            text.parse::<i64>()
                .or_else(|_| text.parse::<u64>().map(|u| u as i64))
                .map_err(|_| bad())?,
        ),
        wasmtime::ValType::F32 => Val::F32(text.parse::<f32>().map_err(|_| bad())?.to_bits()),
        wasmtime::ValType::F64 => Val::F64(text.parse::<f64>().map_err(|_| bad())?.to_bits()),
        _ => return Err(bad()),
    })
}

/// Calls the export `name` of `instance` with `args`.
///
/// # Errors
///
/// [`WasmError::NoSuchFunction`], [`WasmError::Trap`].
pub fn call(
    store: &mut Store<GuestState>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, WasmError> {
    let func: Func = instance
        .get_func(&mut *store, name)
        .ok_or_else(|| WasmError::NoSuchFunction(name.to_string()))?;
    let mut results = vec![Val::I32(0); func.ty(&*store).results().len()];
    func.call(&mut *store, args, &mut results).map_err(|e| {
        if let Some(exit) = e.downcast_ref::<wasi_common::I32Exit>() {
            return WasmError::Exit(exit.0);
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Cancelled) => WasmError::Cancelled,
            // WASI commands print the guest's backtrace with a trap.
            _ if store.data().wasi.is_some() => WasmError::Trap(with_backtrace(&e)),
            _ => WasmError::Trap(describe(&e)),
        }
    })?;
    Ok(results)
}

/// The error's text followed by the guest's backtrace, when wasmtime recorded one.
fn with_backtrace(error: &wasmtime::Error) -> String {
    let mut text = describe(error);
    if let Some(trace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
        let trace = trace.to_string();
        if !trace.trim().is_empty() {
            text.push('\n');
            text.push_str(trace.trim_end());
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::host::tests::FIELD_NAMES;
    use crate::{Runtime, Threads};

    /// A module with `n` notify opcodes, each with its own static offset.
    fn distinct_offsets(n: usize) -> String {
        let mut wat = String::from(
            "(module (import \"env\" \"memory\" (memory 1 1 shared)) (func (export \"f\")",
        );
        for k in 0..n {
            let op = format!(
                " (drop (memory.atomic.notify offset={} (i32.const 0) (i32.const 0)))",
                4 * k
            );
            wat.push_str(&op);
        }
        wat.push_str("))");
        wat
    }

    /// Compiling and instantiating a module with n distinct (op, memory, offset) imports names
    /// each import once, in the rewrite, not once per lookup (which made it quadratic).
    #[test]
    fn import_names_are_formatted_once_per_import_not_per_lookup() {
        let n = 2_000;
        let runtime = Runtime::shared();
        FIELD_NAMES.with(|c| c.set(0));
        let program = runtime.compile(distinct_offsets(n).as_bytes()).unwrap();
        assert_eq!(program.rewritten().len(), n);
        let memory = program.new_memory(runtime).unwrap();
        Threads::new(program, memory).run("f", &[]).unwrap();
        let formatted = FIELD_NAMES.with(|c| c.get());
        assert!(
            formatted <= n,
            "{formatted} names formatted for {n} imports"
        );
    }
}
