//! Guest threads: one OS thread, one store and one instance per guest thread, all over one
//! shared memory; and the host import that lets a guest start a thread.
//!
//! A module that imports `(import "agentsync" "thread_spawn" (func (param i32) (result i32)))`
//! and exports `thread_start (param i32 i32)` can start threads: `thread_spawn(arg)` returns a
//! fresh positive thread id (or -1 if the thread could not be started) and runs
//! `thread_start(id, arg)` in a new instance of the same module on a new OS thread, importing
//! the same shared memory.
//!
//! Spawned threads are detached and counted: each one, when its `thread_start` returns (or
//! traps), gives its OS thread and its store back at once and leaves its error, if any, for
//! [`Threads::join_spawned`], which waits until none is left. At most
//! [`Threads::spawn_limit`] spawned threads live at once; a spawn beyond it, or one the OS
//! refuses, returns -1 to the guest.
//!
//! A thread of the run that fails stops the others (see `cancel.rs`): their waits, and with
//! an interruptible program their loops, end with [`WasmError::Cancelled`]. Once no thread
//! of the run is left, the `Threads` can run again.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI32, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};

use wasmtime::{Linker, Store, UpdateDeadline, Val};

use crate::cancel::Cancel;
use crate::compile::Program;
use crate::error::{Trap, WasmError};
use crate::memory::GuestMemory;
use crate::runtime::call;
use crate::state::{GuestState, SpawnThread};
/// The export a spawned thread runs, with `(thread id, argument)`.
pub const THREAD_START: &str = "thread_start";

/// How many guest-spawned threads may live at once unless [`Threads::set_spawn_limit`] says
/// otherwise.
pub const DEFAULT_SPAWN_LIMIT: usize = 1024;

/// The threads of one run: the program, its shared memory and the count of spawned threads.
pub struct Threads {
    program: Program,
    /// The shared memories, one per distinct shared-memory import, in import order.
    memories: Vec<GuestMemory>,
    /// The id the next spawned thread gets; ids are positive, so it stops at `i32::MAX`.
    next_id: AtomicI32,
    /// The most spawned threads that may live at once.
    spawn_limit: AtomicUsize,
    spawned: Mutex<Spawned>,
    /// Signalled (under `spawned`) whenever a spawned thread finishes.
    finished: Condvar,
    /// Raised when a thread of the run fails; stops the others. Lowered again when no thread
    /// of the run is left, so the next run on these `Threads` starts afresh.
    cancel: Arc<Cancel>,
    /// Threads of the run now active: running calls, spawned threads (from their spawn on)
    /// and callers that hold the run open while they start threads.
    active: Mutex<usize>,
    /// What ended the run: the first failure, or what [`end`](Self::end) was told; `None`
    /// while it goes on. Cleared with the cancel flag when no thread is left.
    ended: Mutex<Option<Ended>>,
    /// How this run's threads start, and what else its stores carry (WASI runs differ).
    flavor: Flavor,
}

/// What differs between the threads of an `agentsync.thread_spawn` run and those of a WASI
/// command (wasi-threads).
pub(crate) struct Flavor {
    /// The export a spawned thread runs with `(id, arg)`.
    pub(crate) start_export: &'static str,
    /// The largest thread id handed out.
    pub(crate) max_id: i32,
    /// Resolves imports before the run's own (the WASI functions).
    pub(crate) linker: Option<Linker<GuestState>>,
    /// The WASI context every store of the run shares.
    pub(crate) wasi: Option<wasi_common::WasiCtx>,
    /// Called when the run is stopped, after the flag is raised: wakes what the cancel's
    /// futex wake-ups cannot reach (a blocking WASI call).
    pub(crate) on_stop: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for Flavor {
    fn default() -> Self {
        Self {
            start_export: THREAD_START,
            max_id: i32::MAX,
            linker: None,
            wasi: None,
            on_stop: None,
        }
    }
}

/// The spawned threads' accounting, guarded by `Threads::spawned`.
#[derive(Default)]
struct Spawned {
    /// Spawned threads started and not yet finished.
    live: usize,
    /// The first error a finished spawned thread returned, until `join_spawned` takes it.
    first_error: Option<WasmError>,
}

impl Threads {
    /// Threads of `program` over `memory` (for its shared-memory import).
    pub fn new(program: Program, memory: GuestMemory) -> Arc<Self> {
        Self::with_memories(program, memory, Vec::new())
    }

    /// Threads of `program` whose first shared-memory import gets `memory` and the following
    /// distinct ones get `more`, in order (see [`Program::new_memories`]).
    pub fn with_memories(
        program: Program,
        memory: GuestMemory,
        more: Vec<GuestMemory>,
    ) -> Arc<Self> {
        let mut memories = vec![memory];
        memories.extend(more);
        Self::with_flavor(program, memories, Flavor::default())
    }

    /// Threads of `program` over `memories` (at least one), started the way `flavor` says.
    pub(crate) fn with_flavor(
        program: Program,
        memories: Vec<GuestMemory>,
        flavor: Flavor,
    ) -> Arc<Self> {
        Arc::new(Self {
            program,
            memories,
            next_id: AtomicI32::new(1),
            spawn_limit: AtomicUsize::new(DEFAULT_SPAWN_LIMIT),
            spawned: Mutex::new(Spawned::default()),
            finished: Condvar::new(),
            cancel: Arc::default(),
            active: Mutex::new(0),
            ended: Mutex::new(None),
            flavor,
        })
    }

    /// How many guest-spawned threads may live at once ([`DEFAULT_SPAWN_LIMIT`] unless set).
    pub fn spawn_limit(&self) -> usize {
        self.spawn_limit.load(Relaxed)
    }

    /// Sets how many guest-spawned threads may live at once; `thread_spawn` returns -1 beyond
    /// it. Threads already running are not affected.
    pub fn set_spawn_limit(&self, limit: usize) {
        self.spawn_limit.store(limit, Relaxed);
    }

    /// How many guest-spawned threads are running now.
    pub fn live_spawned(&self) -> usize {
        lock(&self.spawned).live
    }

    /// The (first) shared memory every thread imports.
    pub fn memory(&self) -> &GuestMemory {
        &self.memories[0]
    }

    /// A new store whose guest may spawn threads of this run.
    ///
    /// Its waits, and with an [interruptible](crate::Runtime::interruptible) program its
    /// loops too, stop with [`WasmError::Cancelled`] once another thread of the run failed.
    pub fn store(self: &Arc<Self>) -> Store<GuestState> {
        let mut store = Store::new(
            self.program.module().engine(),
            GuestState {
                spawner: Some(self.clone()),
                wait_slot: Some(Arc::new(self.cancel.slot())),
                blocker: None,
                wasi: self.flavor.wasi.clone(),
            },
        );
        if self.program.is_interruptible() {
            let cancel = self.cancel.clone();
            store.set_epoch_deadline(1);
            // `stop` raises the flag before it bumps the epoch: if the bump came before the
            // deadline above was set, the flag is seen here and the deadline made due now.
            if cancel.is_cancelled() {
                store.set_epoch_deadline(0);
            }
            store.epoch_deadline_callback(move |_| {
                if cancel.is_cancelled() {
                    Err(wasmtime::Error::new(Trap::Cancelled))
                } else {
                    // Another run on the same engine was cancelled: go on.
                    Ok(UpdateDeadline::Continue(1))
                }
            });
        }
        store
    }

    /// Whether a thread of this run failed, so the others are being stopped.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Passes a thread's outcome on; a failure (other than being stopped) stops the run: the
    /// flag is raised, interruptible guest code is interrupted and every waiting thread of
    /// the run is woken to trap.
    fn stop_on_failure<R>(&self, outcome: Result<R, WasmError>) -> Result<R, WasmError> {
        if let Err(error) = &outcome {
            if !matches!(error, WasmError::Cancelled) {
                self.end(Ended::from(error));
            }
        }
        outcome
    }

    /// Ends the run for `why` unless something ended it already: records it as what ended
    /// the run and stops every other thread (their waits, their loops when the program is
    /// interruptible, and blocking WASI calls).
    pub(crate) fn end(&self, why: Ended) {
        {
            let mut ended = lock(&self.ended);
            if ended.is_some() || self.cancel.is_cancelled() {
                return;
            }
            *ended = Some(why);
        }
        self.stop();
    }

    /// What ended the run ([`end`](Self::end)), if anything did yet.
    pub(crate) fn ended(&self) -> Option<Ended> {
        lock(&self.ended).clone()
    }

    /// Counts the caller as active in the run until the guard is dropped.
    pub(crate) fn enter(&self) -> Active<'_> {
        self.count_in();
        Active(self)
    }

    fn count_in(&self) {
        *lock(&self.active) += 1;
    }

    fn leave(&self) {
        let mut active = lock(&self.active);
        *active -= 1;
        if *active == 0 {
            lock(&self.ended).take();
            self.cancel.lower();
        }
    }

    fn stop(&self) {
        self.cancel.raise();
        if self.program.is_interruptible() {
            self.program.module().engine().increment_epoch();
        }
        if let Some(on_stop) = &self.flavor.on_stop {
            on_stop();
        }
        self.cancel.wake_waiters();
    }

    /// Runs `name(args)` in a new instance on the calling thread.
    ///
    /// # Blocking
    ///
    /// While the guest runs (it may wait).
    ///
    /// # Errors
    ///
    /// Any [`WasmError`] from instantiation or the call (which then stops the run's other
    /// threads), or [`WasmError::Cancelled`] if another thread of the run failed meanwhile.
    pub fn run(self: &Arc<Self>, name: &str, args: &[Val]) -> Result<Vec<Val>, WasmError> {
        let _active = self.enter();
        let mut store = self.store();
        let outcome = self
            .program
            .instantiate_with(&mut store, &self.memories, self.flavor.linker.as_ref())
            .and_then(|instance| call(&mut store, &instance, name, args));
        self.stop_on_failure(outcome)
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
        let _active = self.enter();
        let mut store = self.store();
        let outcome = self
            .program
            .instantiate_with(&mut store, &self.memories, self.flavor.linker.as_ref())
            .and_then(|instance| {
                let mut last = Vec::new();
                for (name, args) in calls {
                    last = call(&mut store, &instance, name, args)?;
                }
                Ok(last)
            });
        self.stop_on_failure(outcome)
    }

    /// Waits for every thread the guests spawned (including threads spawned by those threads).
    ///
    /// # Blocking
    ///
    /// Until all spawned threads have finished.
    ///
    /// # Errors
    ///
    /// The first error a spawned thread returned since the last call.
    pub fn join_spawned(&self) -> Result<(), WasmError> {
        let mut spawned = lock(&self.spawned);
        while spawned.live > 0 {
            spawned = self
                .finished
                .wait(spawned)
                .unwrap_or_else(|p| p.into_inner());
        }
        spawned.first_error.take().map_or(Ok(()), Err)
    }

    /// Takes a place for one more spawned thread and a fresh id, or `None` at the limit or
    /// when ids are exhausted.
    fn reserve_spawn(&self) -> Option<i32> {
        let mut spawned = lock(&self.spawned);
        if spawned.live >= self.spawn_limit() || self.cancel.is_cancelled() {
            return None;
        }
        let id = self
            .next_id
            // Ids up to and including the flavor's last one (i32::MAX itself is never handed
            // out: the next id would not fit).
            .fetch_update(Relaxed, Relaxed, |id| {
                if id <= self.flavor.max_id {
                    id.checked_add(1)
                } else {
                    None
                }
            })
            .ok()?;
        spawned.live += 1;
        Some(id)
    }

    /// Gives a spawned thread's place back and keeps its error if it is the first.
    fn finish_spawn(&self, outcome: Result<(), WasmError>) {
        let mut spawned = lock(&self.spawned);
        spawned.live -= 1;
        match (outcome, &spawned.first_error) {
            (Ok(()), _) => {}
            // The failure that stopped the run is worth more than "stopped".
            (Err(error), None | Some(WasmError::Cancelled)) => spawned.first_error = Some(error),
            (Err(_), Some(_)) => {}
        }
        self.finished.notify_all();
    }
}

/// What ended a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The main call returned (a WASI command's `_start`).
    Returned,
    /// A thread called `proc_exit` with this status.
    Exit(i32),
    /// A thread trapped or failed otherwise; the message (with the guest's backtrace when the
    /// store keeps them).
    Failed(String),
    /// The host cancelled the run.
    Cancelled,
}

impl From<&WasmError> for Ended {
    fn from(error: &WasmError) -> Self {
        match error {
            WasmError::Exit(code) => Ended::Exit(*code),
            WasmError::Cancelled => Ended::Cancelled,
            WasmError::Trap(message) => Ended::Failed(message.clone()),
            other => Ended::Failed(other.to_string()),
        }
    }
}

/// An active thread of a run (see [`Threads::enter`]).
pub(crate) struct Active<'a>(&'a Threads);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Locks ignoring poisoning: the accounting stays consistent whatever a panicking holder did.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends a spawned thread's accounting when the thread's work ends, even by a panic, or when
/// the thread could not be started (the unrun closure that owns it is dropped).
struct SpawnedThread {
    threads: Arc<Threads>,
    /// What `thread_start` returned; `None` if it never ran.
    outcome: Option<Result<(), WasmError>>,
}

impl Drop for SpawnedThread {
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            Err(WasmError::Trap("a guest thread panicked".to_string()))
        } else {
            self.outcome.take().unwrap_or(Ok(()))
        };
        self.threads.finish_spawn(outcome);
        self.threads.leave();
    }
}

impl SpawnThread for Threads {
    fn spawn(self: Arc<Self>, arg: i32) -> i32 {
        let Some(id) = self.reserve_spawn() else {
            return -1;
        };
        // Active from now on (left when the guard below drops), so the run cannot look
        // finished between this spawn and the new thread's start.
        self.count_in();
        let mut thread = SpawnedThread {
            threads: self.clone(),
            outcome: None,
        };
        let started = std::thread::Builder::new()
            .name(format!("wasm-thread-{id}"))
            .spawn(move || {
                let start = thread.threads.flavor.start_export;
                let outcome = thread.threads.run(start, &[Val::I32(id), Val::I32(arg)]);
                thread.outcome.replace(outcome.map(drop));
            });
        match started {
            // Detached: the thread's resources go back to the OS when it ends.
            Ok(_) => id,
            // The unrun closure, and with it the guard, was dropped: the place is free again.
            Err(_) => -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Runtime;

    /// A spawn once the run has begun to end (a `proc_exit`, a trap, a cancel) gets -1 and
    /// starts nothing; so does one past the last id.
    #[test]
    fn no_thread_starts_once_the_run_is_ending_or_past_the_last_id() {
        let runtime = Runtime::shared();
        let program = runtime
            .compile(
                br#"(module (import "env" "memory" (memory 1 1 shared))
                    (func (export "thread_start") (param i32 i32)))"#,
            )
            .unwrap();
        let memory = program.new_memory(runtime).unwrap();
        let flavor = Flavor {
            max_id: 2,
            ..Flavor::default()
        };
        let run = Threads::with_flavor(program, vec![memory], flavor);
        let _active = run.enter();
        assert_eq!(run.clone().spawn(0), 1);
        assert_eq!(run.clone().spawn(0), 2);
        assert_eq!(run.clone().spawn(0), -1, "past the last id");
        run.join_spawned().unwrap();
        run.next_id.store(1, Relaxed);
        run.end(Ended::Exit(3));
        assert_eq!(run.clone().spawn(0), -1, "the run is ending");
        assert_eq!(run.live_spawned(), 0);
        assert_eq!(run.ended(), Some(Ended::Exit(3)));
    }
}
