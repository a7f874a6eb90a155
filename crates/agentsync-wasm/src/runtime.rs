//! The engine, compiled programs and instances: one instance per thread over one shared memory.

use std::sync::OnceLock;

use wasmtime::{
    Config, Engine, Extern, ExternType, Func, Instance, Linker, Memory, Module, Store, Val,
};

use crate::error::{describe, WasmError};
use crate::host::host_function;
use crate::memory::GuestMemory;
use crate::rewrite::{rewrite, HostImport, HOST_MODULE};
use crate::threads::{Threads, SPAWN_FIELD, SPAWN_MODULE};

/// A wasmtime engine with threads and shared memory enabled.
///
/// Modules compiled by one runtime can share memories with each other; make one and reuse it
/// ([`Runtime::shared`] is a process-wide one).
pub struct Runtime {
    engine: Engine,
}

impl Runtime {
    /// Creates an engine with the threads proposal and shared memories enabled.
    ///
    /// # Errors
    ///
    /// [`WasmError::Invalid`] if wasmtime refuses the configuration (e.g. unsupported host).
    pub fn new() -> Result<Self, WasmError> {
        let mut config = Config::new();
        config.wasm_threads(true).shared_memory(true);
        let engine = Engine::new(&config).map_err(|e| WasmError::Invalid(describe(&e)))?;
        Ok(Self { engine })
    }

    /// A process-wide runtime, created on first use.
    ///
    /// # Panics
    ///
    /// If wasmtime cannot create an engine on this host (not a user-input condition).
    pub fn shared() -> &'static Runtime {
        static SHARED: OnceLock<Runtime> = OnceLock::new();
        SHARED.get_or_init(|| Runtime::new().expect("wasmtime engine with threads enabled"))
    }

    /// A process-wide runtime with the feature set the threads proposal's own spec scripts
    /// assume (the MVP plus threads: one memory, one table, no reference types), so those
    /// scripts' `assert_invalid` cases about multiple memories and tables hold.
    ///
    /// # Panics
    ///
    /// If wasmtime cannot create an engine on this host (not a user-input condition).
    pub fn threads_proposal() -> &'static Runtime {
        static PROPOSAL: OnceLock<Runtime> = OnceLock::new();
        PROPOSAL.get_or_init(|| {
            let mut config = Config::new();
            config
                .wasm_threads(true)
                .shared_memory(true)
                .wasm_multi_memory(false)
                .wasm_features(wasmtime::WasmFeatures::REFERENCE_TYPES, false);
            let engine = Engine::new(&config).expect("wasmtime engine for the threads proposal");
            Runtime { engine }
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a module given as text (`.wat`) or binary, rewriting its wait/notify opcodes to
    /// go through agentsync's futex.
    ///
    /// # Errors
    ///
    /// [`WasmError::Malformed`] for text or binary that does not parse, [`WasmError::Invalid`]
    /// for a module that does not validate (checked on the original, before the rewrite).
    pub fn compile(&self, source: &[u8]) -> Result<Program, WasmError> {
        self.compile_with(source, true)
    }

    /// Compiles without the rewrite: wait/notify use wasmtime's own waiter queue. This is the
    /// peer the benchmarks compare against.
    ///
    /// # Errors
    ///
    /// As [`compile`](Self::compile).
    pub fn compile_native(&self, source: &[u8]) -> Result<Program, WasmError> {
        self.compile_with(source, false)
    }

    fn compile_with(&self, source: &[u8], rewrite_atomics: bool) -> Result<Program, WasmError> {
        let binary = to_binary(source)?;
        Module::validate(&self.engine, &binary).map_err(|e| classify(&e))?;
        let (bytes, rewritten) = if rewrite_atomics {
            let out = rewrite(&binary).map_err(|e| WasmError::Malformed(e.to_string()))?;
            (out.bytes, out.imports)
        } else {
            (binary, Vec::new())
        };
        let module = Module::new(&self.engine, &bytes).map_err(|e| classify(&e))?;
        Ok(Program { module, rewritten })
    }
}

/// Text or binary → binary.
pub(crate) fn to_binary(source: &[u8]) -> Result<Vec<u8>, WasmError> {
    if source.starts_with(b"\0asm") {
        return Ok(source.to_vec());
    }
    let text = std::str::from_utf8(source)
        .map_err(|_| WasmError::Malformed("module text is not UTF-8".to_string()))?;
    let buf = wast::parser::ParseBuffer::new(text).map_err(|e| malformed(e, text))?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).map_err(|e| malformed(e, text))?;
    wat.encode().map_err(|e| malformed(e, text))
}

fn malformed(mut error: wast::Error, text: &str) -> WasmError {
    error.set_text(text);
    WasmError::Malformed(error.to_string())
}

/// Binary parse errors are "malformed", everything else wasmtime rejects is "invalid".
fn classify(error: &wasmtime::Error) -> WasmError {
    let text = describe(error);
    let malformed = [
        "magic header",
        "unknown binary version",
        "unexpected end",
        "malformed",
        "section size mismatch",
        "integer too large",
        "integer representation too long",
        "unknown section",
        "section out of order",
        "invalid section",
        "too many locals",
        "zero byte expected",
        "function and code section have inconsistent lengths",
    ];
    if malformed.iter().any(|m| text.contains(m)) {
        WasmError::Malformed(text)
    } else {
        WasmError::Invalid(text)
    }
}

/// A compiled (and rewritten) module. Cheap to clone.
#[derive(Clone)]
pub struct Program {
    module: Module,
    rewritten: Vec<HostImport>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.module.name())
            .field("rewritten", &self.rewritten)
            .finish()
    }
}

/// The data every store of ours carries: how a guest may start threads.
#[derive(Default)]
pub struct GuestState {
    pub(crate) threads: Option<std::sync::Arc<Threads>>,
}

impl Program {
    /// The wasmtime module (after the rewrite).
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The host imports the rewrite added (empty for a native compile).
    pub fn rewritten(&self) -> &[HostImport] {
        &self.rewritten
    }

    /// The shared memory this module imports, as `(module, name, (minimum, maximum) pages)`.
    pub fn shared_memory_import(&self) -> Option<(String, String, u32, u32)> {
        self.module.imports().find_map(|import| match import.ty() {
            ExternType::Memory(m) if m.is_shared() => {
                let min = u32::try_from(m.minimum()).ok()?;
                let max = u32::try_from(m.maximum()?).ok()?;
                Some((
                    import.module().to_string(),
                    import.name().to_string(),
                    min,
                    max,
                ))
            }
            _ => None,
        })
    }

    /// Creates a shared memory matching the module's shared-memory import.
    ///
    /// # Errors
    ///
    /// [`WasmError::NeedsSharedMemoryImport`] if the module imports no shared memory.
    pub fn new_memory(&self, runtime: &Runtime) -> Result<GuestMemory, WasmError> {
        let (_, _, min, max) = self
            .shared_memory_import()
            .ok_or(WasmError::NeedsSharedMemoryImport { threads: 1 })?;
        GuestMemory::new(runtime, min, max)
    }

    /// Instantiates the module in `store`.
    ///
    /// Imports are resolved in this order: the rewrite's host functions; a shared memory
    /// import gets `memory`; an unshared memory import gets a fresh memory; the thread-spawn
    /// import (`agentsync` `thread_spawn`) if the store has [`Threads`]; then `linker`.
    ///
    /// # Errors
    ///
    /// [`WasmError::Link`] for an import nothing provides, [`WasmError::Trap`] if the start
    /// function traps.
    pub fn instantiate(
        &self,
        store: &mut Store<GuestState>,
        memory: Option<&GuestMemory>,
        linker: Option<&Linker<GuestState>>,
    ) -> Result<Instance, WasmError> {
        let mut imports: Vec<Extern> = Vec::new();
        for import in self.module.imports() {
            let (module, name) = (import.module(), import.name());
            let resolved = if module == HOST_MODULE {
                self.rewritten
                    .iter()
                    .find(|h| h.field_name() == name)
                    .map(|h| Extern::Func(host_function(store, *h)))
            } else if let Some(found) = linker.and_then(|l| l.get(&mut *store, module, name).ok()) {
                Some(found)
            } else {
                match import.ty() {
                    ExternType::Memory(m) if m.is_shared() => {
                        memory.map(|g| Extern::SharedMemory(g.shared_memory().clone()))
                    }
                    // Only a stand-alone run invents an unshared memory; a script's
                    // imports must all be provided.
                    ExternType::Memory(m) if linker.is_none() => {
                        Memory::new(&mut *store, m).ok().map(Extern::Memory)
                    }
                    ExternType::Func(_) if (module, name) == (SPAWN_MODULE, SPAWN_FIELD) => store
                        .data()
                        .threads
                        .clone()
                        .map(|t| Extern::Func(crate::threads::spawn_function(store, t))),
                    _ => None,
                }
            };
            let resolved = resolved
                .ok_or_else(|| WasmError::Link(format!("unknown import {module:?} {name:?}")))?;
            imports.push(resolved);
        }
        Instance::new(&mut *store, &self.module, &imports).map_err(|e| {
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
    func.call(&mut *store, args, &mut results)
        .map_err(|e| WasmError::Trap(describe(&e)))?;
    Ok(results)
}
