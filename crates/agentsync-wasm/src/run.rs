//! `agentsync wasm run`: a module file called on N threads at once, each in its own instance
//! over one shared memory.
//!
//! The N threads are all started before any of them runs guest code: they wait at a gate,
//! so if the OS refuses one, the others are told to stop before they began and the run
//! reports how many could start.

use std::path::Path;
use std::sync::{Condvar, Mutex};

use wasmtime::Val;

use crate::compile::Program;
use crate::engine::Runtime;
use crate::error::WasmError;
use crate::memory::GuestMemory;
use crate::runtime::{parse_arg, Value};
use crate::threads::Threads;

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
    // Interruptible, so a thread that fails stops the others' loops as well as their waits.
    let runtime = Runtime::interruptible();
    let program = runtime.compile(&source)?;
    let threads = threads.max(1);
    let mut memories = program.new_memories(runtime)?.into_iter();
    let memory = match memories.next() {
        Some(memory) => memory,
        None if threads > 1 => return Err(WasmError::NeedsSharedMemoryImport { threads }),
        // Unused placeholder: the module defines (or does not use) its memory.
        None => GuestMemory::new(runtime, 0, 0)?,
    };
    let args = typed_args(&program, invoke, args)?;
    check_mapping_budget(&program, threads)?;
    let run = Threads::with_memories(program, memory, memories.collect());
    let results = run_threads(&run, threads, invoke, &args, usize::MAX)?;
    let results = results
        .iter()
        .map(|values| values.iter().map(Value::from).collect())
        .collect();
    Ok(RunOutput { results })
}

/// Memory mappings one thread needs besides its private memories: its stack and guard page,
/// and what an instance maps, rounded up.
const MAPPINGS_PER_THREAD: usize = 4;
/// Mappings one private (non-shared) memory needs: its reservation, split by `mprotect` into
/// the accessible pages and the guard regions around them.
const MAPPINGS_PER_MEMORY: usize = 3;
/// Mappings left for everything else the process maps meanwhile (libraries, heap, code).
const MAPPING_RESERVE: usize = 2048;

/// Refuses, before anything is instantiated, a run whose threads would need more memory
/// mappings than the kernel lets the process have (`vm.max_map_count`): near that limit even
/// unmapping fails (splitting a mapping needs a new one), which wasmtime cannot recover from.
fn check_mapping_budget(program: &Program, threads: usize) -> Result<(), WasmError> {
    let Some(limit) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
    else {
        return Ok(());
    };
    let mapped = std::fs::read_to_string("/proc/self/maps").map_or(0, |s| s.lines().count());
    let unshared_imports = program
        .module()
        .imports()
        .filter(|i| matches!(i.ty(), wasmtime::ExternType::Memory(m) if !m.is_shared()))
        .count();
    let memories = program.module().resources_required().num_memories as usize + unshared_imports;
    let needed = threads.saturating_mul(MAPPINGS_PER_THREAD + memories * MAPPINGS_PER_MEMORY);
    let available = limit.saturating_sub(mapped + MAPPING_RESERVE);
    if needed > available {
        return Err(WasmError::MappingBudget {
            threads,
            memories,
            needed,
            available,
            limit,
        });
    }
    Ok(())
}

/// Whether the gated threads of a run may go on: `None` until every thread has started.
struct Gate {
    open: Mutex<Option<bool>>,
    changed: Condvar,
}

impl Gate {
    fn new() -> Self {
        Self {
            open: Mutex::new(None),
            changed: Condvar::new(),
        }
    }

    /// Lets every waiting thread through, to run (`true`) or to stop at once (`false`).
    fn open(&self, go: bool) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = Some(go);
        self.changed.notify_all();
    }

    /// Waits until the gate opens; returns whether to run.
    fn pass(&self) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *open {
                Some(go) => return go,
                None => open = self.changed.wait(open).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

/// Calls `invoke(args)` on `count` new threads of `run` at once and waits for them and for
/// every thread they spawned. At most `start_limit` OS threads are started (a test hook:
/// production passes `usize::MAX`); a thread that cannot be started, by the OS or by that
/// limit, stops the run before any guest code ran. The error returned is the failure that
/// stopped the run, not the [`WasmError::Cancelled`] of the threads it stopped.
pub(crate) fn run_threads(
    run: &std::sync::Arc<Threads>,
    count: usize,
    invoke: &str,
    args: &[Val],
    start_limit: usize,
) -> Result<Vec<Vec<Val>>, WasmError> {
    let gate = Gate::new();
    // Held until every thread has ended: a failure stays raised for threads still starting.
    let active = run.enter();
    let outcomes = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(count);
        for index in 0..count {
            let started = if index < start_limit {
                std::thread::Builder::new()
                    .name(format!("wasm-main-{index}"))
                    .spawn_scoped(scope, || gate.pass().then(|| run.run(invoke, args)))
            } else {
                Err(std::io::Error::other("the start limit was reached"))
            };
            match started {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    gate.open(false);
                    return Err(WasmError::ThreadStart {
                        started: index,
                        requested: count,
                        error: error.to_string(),
                    });
                }
            }
        }
        gate.open(true);
        Ok(handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Some(Err(WasmError::Trap("a guest thread panicked".into())))
                })
            })
            .collect::<Vec<_>>())
    });
    let spawned = run.join_spawned();
    drop(active);
    let outcomes = outcomes?;
    let mut results = Vec::with_capacity(count);
    let mut stopped = false;
    for outcome in outcomes.into_iter().flatten() {
        match outcome {
            Ok(values) => results.push(values),
            // Stopped because another thread failed: report that failure instead.
            Err(WasmError::Cancelled) => stopped = true,
            Err(error) => return Err(error),
        }
    }
    spawned?;
    if stopped {
        return Err(WasmError::Cancelled);
    }
    Ok(results)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each thread adds 1 to word 0, then waits until as many as it was told have.
    const BARRIER: &str = include_str!("../tests/fixtures/barrier.wat");

    #[test]
    fn refused_thread_start_stops_the_started_ones_before_guest_code() {
        // Interruptible, so a thread that fails stops the others' loops as well as their waits.
        let runtime = Runtime::interruptible();
        let program = runtime.compile(BARRIER.as_bytes()).unwrap();
        let memory = program.new_memory(runtime).unwrap();
        let run = Threads::new(program, memory.clone());
        let error = run_threads(&run, 4, "meet", &[Val::I32(4)], 2).unwrap_err();
        assert!(
            matches!(
                error,
                WasmError::ThreadStart {
                    started: 2,
                    requested: 4,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error
            .to_string()
            .starts_with("could start only 2 of 4 threads"));
        let word = memory.atomic_i32(0).unwrap();
        assert_eq!(word.load(std::sync::atomic::Ordering::SeqCst), 0);
        // With every thread started the same run completes.
        assert_eq!(
            run_threads(&run, 4, "meet", &[Val::I32(4)], usize::MAX)
                .unwrap()
                .len(),
            4
        );
    }
}
