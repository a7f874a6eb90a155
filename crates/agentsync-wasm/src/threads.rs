//! Guest threads: one OS thread, one store and one instance per guest thread, all over one
//! shared memory; and the host import that lets a guest start a thread.
//!
//! A module that imports `(import "agentsync" "thread_spawn" (func (param i32) (result i32)))`
//! and exports `thread_start (param i32 i32)` can start threads: `thread_spawn(arg)` returns a
//! fresh positive thread id (or -1 if the thread could not be started) and runs
//! `thread_start(id, arg)` in a new instance of the same module on a new OS thread, importing
//! the same shared memory. The host joins every spawned thread before a run returns.

use std::path::Path;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use wasmtime::{Store, Val};

use crate::compile::Program;
use crate::engine::Runtime;
use crate::error::WasmError;
use crate::memory::GuestMemory;
use crate::runtime::{call, parse_arg, GuestState, SpawnThread, Value};
/// The export a spawned thread runs, with `(thread id, argument)`.
pub const THREAD_START: &str = "thread_start";

/// The threads of one run: the program, its shared memory and the spawned threads to join.
pub struct Threads {
    program: Program,
    memory: GuestMemory,
    next_id: AtomicI32,
    spawned: Mutex<Vec<JoinHandle<Result<(), WasmError>>>>,
}

impl Threads {
    /// Threads of `program` over `memory`.
    pub fn new(program: Program, memory: GuestMemory) -> Arc<Self> {
        Arc::new(Self {
            program,
            memory,
            next_id: AtomicI32::new(1),
            spawned: Mutex::new(Vec::new()),
        })
    }

    /// The shared memory every thread imports.
    pub fn memory(&self) -> &GuestMemory {
        &self.memory
    }

    /// A new store whose guest may spawn threads of this run.
    pub fn store(self: &Arc<Self>) -> Store<GuestState> {
        Store::new(
            self.program.module().engine(),
            GuestState {
                spawner: Some(self.clone()),
            },
        )
    }

    /// Runs `name(args)` in a new instance on the calling thread.
    ///
    /// # Blocking
    ///
    /// While the guest runs (it may wait).
    ///
    /// # Errors
    ///
    /// Any [`WasmError`] from instantiation or the call.
    pub fn run(self: &Arc<Self>, name: &str, args: &[Val]) -> Result<Vec<Val>, WasmError> {
        let mut store = self.store();
        let instance = self
            .program
            .instantiate(&mut store, Some(&self.memory), None)?;
        call(&mut store, &instance, name, args)
    }

    /// Runs several calls in sequence in one new instance on the calling thread; returns the
    /// last call's results.
    ///
    /// # Blocking
    ///
    /// While the guest runs.
    ///
    /// # Errors
    ///
    /// Any [`WasmError`] from instantiation or a call.
    pub fn run_sequence(self: &Arc<Self>, calls: &[(&str, &[Val])]) -> Result<Vec<Val>, WasmError> {
        let mut store = self.store();
        let instance = self
            .program
            .instantiate(&mut store, Some(&self.memory), None)?;
        let mut last = Vec::new();
        for (name, args) in calls {
            last = call(&mut store, &instance, name, args)?;
        }
        Ok(last)
    }

    /// Joins every thread the guests spawned (including threads spawned by those threads).
    ///
    /// # Blocking
    ///
    /// Until all spawned threads have finished.
    ///
    /// # Errors
    ///
    /// The first error a spawned thread returned.
    pub fn join_spawned(&self) -> Result<(), WasmError> {
        let mut first = Ok(());
        loop {
            let Some(handle) = lock(&self.spawned).pop() else {
                return first;
            };
            let outcome = handle
                .join()
                .unwrap_or_else(|_| Err(WasmError::Trap("a guest thread panicked".to_string())));
            if first.is_ok() {
                first = outcome;
            }
        }
    }
}

/// Locks ignoring poisoning: the vector stays consistent whatever a panicking holder did.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SpawnThread for Threads {
    fn spawn(self: Arc<Self>, arg: i32) -> i32 {
        let id = self.next_id.fetch_add(1, Relaxed);
        let threads = self.clone();
        let started = std::thread::Builder::new()
            .name(format!("wasm-thread-{id}"))
            .spawn(move || {
                threads
                    .run(THREAD_START, &[Val::I32(id), Val::I32(arg)])
                    .map(drop)
            });
        match started {
            Ok(handle) => {
                lock(&self.spawned).push(handle);
                id
            }
            Err(_) => -1,
        }
    }
}

/// What [`run_module`] returns: the results of each of the `--threads` invocations, in
/// thread order.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// `results[i]` is what thread `i`'s call returned.
    pub results: Vec<Vec<Value>>,
}

/// `agentsync wasm run MODULE --threads N --invoke NAME ARGS...`: loads a `.wat` or `.wasm`
/// file, rewrites its wait/notify, and calls `invoke(args)` on `threads` threads at once, each
/// in its own instance over one shared memory (the one the module imports; with one thread a
/// module may also define its own memory).
///
/// # Blocking
///
/// Until every thread (including guest-spawned ones) has finished.
///
/// # Errors
///
/// [`WasmError::Io`] for an unreadable file, any load error of [`Runtime::compile`],
/// [`WasmError::NeedsSharedMemoryImport`] for `threads > 1` without a shared-memory import,
/// argument errors, and the first trap any thread hit.
pub fn run_module(
    path: &Path,
    threads: usize,
    invoke: &str,
    args: &[String],
) -> Result<RunOutput, WasmError> {
    let source = std::fs::read(path).map_err(|error| WasmError::Io {
        path: path.display().to_string(),
        error,
    })?;
    let runtime = Runtime::shared();
    let program = runtime.compile(&source)?;
    let threads = threads.max(1);
    let memory = match program.shared_memory_import() {
        Some(_) => program.new_memory(runtime)?,
        None if threads > 1 => return Err(WasmError::NeedsSharedMemoryImport { threads }),
        // Unused placeholder: the module defines (or does not use) its memory.
        None => GuestMemory::new(runtime, 0, 0)?,
    };
    let args = typed_args(&program, invoke, args)?;
    let run = Threads::new(program, memory);
    let outcomes: Vec<Result<Vec<Val>, WasmError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| run.run(invoke, &args)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(WasmError::Trap("a guest thread panicked".into())))
            })
            .collect()
    });
    run.join_spawned()?;
    let mut results = Vec::with_capacity(threads);
    for outcome in outcomes {
        results.push(outcome?.iter().map(Value::from).collect());
    }
    Ok(RunOutput { results })
}

fn typed_args(program: &Program, invoke: &str, args: &[String]) -> Result<Vec<Val>, WasmError> {
    let ty = program
        .module()
        .get_export(invoke)
        .and_then(|e| e.func().cloned())
        .ok_or_else(|| WasmError::NoSuchFunction(invoke.to_string()))?;
    let params: Vec<_> = ty.params().collect();
    if params.len() != args.len() {
        return Err(WasmError::ArgumentCount {
            expected: params.len(),
            given: args.len(),
        });
    }
    args.iter()
        .zip(&params)
        .map(|(a, t)| parse_arg(a, t))
        .collect()
}
