//! WASI preview1 commands with wasi-threads, on agentsync's queues.
//!
//! A [`WasiCommand`] is a module that exports `_start`, with what WASI gives it: arguments,
//! environment, preopened directories and standard streams (inherited, empty, given bytes
//! or captured). The WASI functions are the Bytecode Alliance's own (`wasi-common`); the
//! threads are ours, so a guest's `memory.atomic.wait32/notify` go through agentsync's futex
//! and a host thread or async task can wait on a word of a running program.
//!
//! # Threads (wasi-threads)
//!
//! A module that imports `wasi.thread-spawn (param i32) (result i32)` starts a thread with
//! `thread-spawn(arg)`: a new instance of the same module, on a new OS thread, importing the
//! same shared memory, runs `wasi_thread_start(tid, arg)`. Thread ids are unique and in
//! `1..=0x1FFFFFFF`; a spawn beyond [`WasiCommand::spawn_limit`], past the last id, after the
//! run began to end, or that the OS refuses, returns a negative number. All threads share
//! one WASI context: a descriptor one thread opens is usable by every other.
//!
//! # How a run ends
//!
//! A run is the host's unit, not the process's: [`WasiRun::wait`] returns its
//! [`WasiExit`] and the host goes on; several runs go on side by side.
//! - `_start` returning ends the run with status 0 (as returning from `main` does in C).
//! - `proc_exit(n)` from any thread ends it with status `n`.
//! - A trap in any thread ends it with that trap (and the guest's backtrace).
//! - [`WasiRun::cancel`] ends it as [`WasiExit::Cancelled`].
//!
//! Whatever ends it, every other thread of the run is stopped before [`WasiRun::wait`]
//! returns, including threads blocked in `memory.atomic.wait32`, in a loop (the programs
//! are compiled with epoch interruption), sleeping in `poll_oneoff`, or reading the
//! inherited stdin; none is left behind, and the run's memory and queued waits go with it.
//!
//! ```
//! use agentsync_wasm::wasi::{WasiCommand, WasiExit, Output};
//! // A program that prints a line and exits with status 3.
//! let wat = r#"(module
//!   (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
//!   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 16) "hello\n")
//!   (func (export "_start")
//!     (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 6))
//!     (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//!     (call $exit (i32.const 3))))"#;
//! let run = WasiCommand::compile(wat.as_bytes()).unwrap().stdout(Output::Capture).start().unwrap();
//! let finished = run.wait();
//! assert_eq!(finished.exit, WasiExit::Code(3));
//! assert_eq!(finished.stdout, b"hello\n");
//! ```
//!
//! A host async task awaits a word of a running program, in the same queue as the guest's
//! waiters, and answers through another word:
//!
//! ```
//! use agentsync_wasm::wasi::{WasiCommand, WasiExit};
//! use std::sync::atomic::Ordering::SeqCst;
//! // The guest sets word 0 and notifies it, waits until word 4 is set, exits with it.
//! let wat = r#"(module
//!   (import "env" "memory" (memory 1 1 shared))
//!   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!   (export "memory" (memory 0))
//!   (func (export "_start")
//!     (i32.atomic.store (i32.const 0) (i32.const 1))
//!     (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
//!     (loop $wait
//!       (if (i32.eqz (i32.atomic.load (i32.const 4)))
//!         (then (drop (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1)))
//!               (br $wait))))
//!     (call $exit (i32.atomic.load (i32.const 4)))))"#;
//! let command = WasiCommand::compile(wat.as_bytes()).unwrap();
//! let memory = command.memory().unwrap().clone();
//! let guest_word = memory.host_wait_async32(0, 0, None).unwrap(); // queued before the run
//! let run = command.start().unwrap();
//! assert_eq!(futures_lite::future::block_on(guest_word), agentsync::WaitResult::Ok);
//! memory.atomic_i32(4).unwrap().store(42, SeqCst);
//! memory.host_notify(4, 1).unwrap();
//! assert_eq!(run.wait().exit, WasiExit::Code(42));
//! ```
//!
//! Two runs side by side: one ends with `proc_exit` while the other is blocked, and goes on
//! until the host ends it; the process goes on after both.
//!
//! ```
//! use agentsync_wasm::wasi::{WasiCommand, WasiExit};
//! let exits = r#"(module
//!   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!   (memory (export "memory") 1)
//!   (func (export "_start") (call $exit (i32.const 7))))"#;
//! let waits = r#"(module
//!   (import "env" "memory" (memory 1 1 shared))
//!   (export "memory" (memory 0))
//!   (func (export "_start")
//!     (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))))"#;
//! let waiting = WasiCommand::compile(waits.as_bytes()).unwrap().start().unwrap();
//! let exited = WasiCommand::compile(exits.as_bytes()).unwrap().run().unwrap();
//! assert_eq!(exited.exit, WasiExit::Code(7));
//! assert!(!waiting.has_ended());
//! waiting.cancel();
//! assert_eq!(waiting.wait().exit, WasiExit::Cancelled);
//! ```

mod blocking;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use wasi_common::pipe::{ReadPipe, WritePipe};
use wasi_common::sync::{ambient_authority, Dir};
use wasi_common::table::Table;
use wasi_common::WasiCtx;
use wasmtime::{ExternType, Linker, ValType};

use crate::compile::Program;
use crate::engine::Runtime;
use crate::error::WasmError;
use crate::memory::GuestMemory;
use crate::state::GuestState;
use crate::threads::{Ended, Flavor, Threads};
use blocking::{Stop, StoppableSched, StoppableStdin};

/// Import module of wasi-threads' spawn function.
pub const SPAWN_MODULE: &str = crate::runtime::WASI_SPAWN_MODULE;
/// Import field of wasi-threads' spawn function.
pub const SPAWN_FIELD: &str = crate::runtime::WASI_SPAWN_FIELD;
/// The export a wasi-threads thread runs, with `(thread id, argument)`.
pub const THREAD_START: &str = "wasi_thread_start";
/// The largest thread id wasi-threads allows.
pub const MAX_THREAD_ID: i32 = 0x1FFF_FFFF;
/// The export a WASI command runs.
pub const ENTRY: &str = "_start";

/// Where a run's stdin comes from.
#[derive(Clone, Debug, Default)]
pub enum Input {
    /// The process's stdin. A thread blocked reading it ends with its run.
    Inherit,
    /// Nothing: the guest reads end of file.
    #[default]
    Null,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
}

/// Where a run's stdout or stderr goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    /// The process's stream.
    Inherit,
    /// Nowhere.
    #[default]
    Null,
    /// Kept in memory and returned in [`Finished`].
    Capture,
}

/// How a WASI run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasiExit {
    /// `_start` returned (status 0) or a thread called `proc_exit` with this status.
    Code(i32),
    /// A thread trapped: the trap and the guest's backtrace.
    Trap(String),
    /// The host cancelled the run ([`WasiRun::cancel`]).
    Cancelled,
}

impl WasiExit {
    /// The process exit status a command-line runner reports for it, as wasmtime does:
    /// the guest's status, 134 (an abort's) for a trap, 130 for a cancelled run.
    pub fn status(&self) -> i32 {
        match self {
            WasiExit::Code(code) => *code,
            WasiExit::Trap(_) => 128 + libc::SIGABRT,
            WasiExit::Cancelled => 128 + libc::SIGINT,
        }
    }
}

/// What a finished run leaves: how it ended and what it wrote to captured streams.
#[derive(Clone, Debug)]
pub struct Finished {
    /// How the run ended.
    pub exit: WasiExit,
    /// What the guest wrote to stdout, when it was [`Output::Capture`]d (else empty).
    pub stdout: Vec<u8>,
    /// What the guest wrote to stderr, when it was [`Output::Capture`]d (else empty).
    pub stderr: Vec<u8>,
}

/// A WASI command ready to run: the program and what WASI gives it.
pub struct WasiCommand {
    program: Program,
    /// The run's shared memories (one per distinct shared-memory import), made up front so
    /// the host can reach them before the run starts.
    memories: Vec<GuestMemory>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopens: Vec<(PathBuf, String)>,
    listeners: Vec<std::net::TcpListener>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    spawn_limit: usize,
}

impl WasiCommand {
    /// A command from a module given as text or binary, compiled by
    /// [`Runtime::interruptible`] so that a run can stop its threads' loops.
    ///
    /// # Errors
    ///
    /// As [`WasiCommand::new`], and the load errors of [`Runtime::compile`].
    pub fn compile(source: &[u8]) -> Result<Self, WasmError> {
        let runtime = Runtime::interruptible();
        Self::new(runtime, runtime.compile(source)?)
    }

    /// A command from a module file (`.wasm` or `.wat`); `argv[0]` is the path as given.
    ///
    /// # Errors
    ///
    /// [`WasmError::Io`] for an unreadable file, and those of [`WasiCommand::compile`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, WasmError> {
        let source = std::fs::read(path).map_err(|error| WasmError::Io {
            path: path.display().to_string(),
            error,
        })?;
        let mut command = Self::compile(&source)?;
        command.args[0] = path.display().to_string();
        Ok(command)
    }

    /// A command running `program`, compiled by `runtime`. Programs of a runtime that is not
    /// [interruptible](Runtime::interruptible) can be stopped only at their waits and
    /// blocking calls, not in a loop.
    ///
    /// # Errors
    ///
    /// [`WasmError::NoSuchFunction`] without a `_start` export of type `() -> ()`;
    /// [`WasmError::BadThreadStart`] for a module that imports `wasi.thread-spawn` without a
    /// proper `wasi_thread_start`; [`WasmError::SpawnNeedsImportedMemory`] for one that
    /// imports `wasi.thread-spawn` and defines its own shared memory; [`WasmError::Invalid`]
    /// if a memory cannot be made.
    pub fn new(runtime: &Runtime, program: Program) -> Result<Self, WasmError> {
        check_entry(&program)?;
        if imports_spawn(&program) {
            check_thread_start(&program)?;
            if program.defines_shared_memory() || program.shared_memory_imports().is_empty() {
                return Err(WasmError::SpawnNeedsImportedMemory);
            }
        }
        let memories = program.new_memories(runtime)?;
        Ok(Self {
            program,
            memories,
            args: vec!["main.wasm".to_string()],
            env: Vec::new(),
            preopens: Vec::new(),
            listeners: Vec::new(),
            stdin: Input::default(),
            stdout: Output::default(),
            stderr: Output::default(),
            spawn_limit: crate::threads::DEFAULT_SPAWN_LIMIT,
        })
    }

    /// The guest's `argv[0]` (the file name for [`from_file`](Self::from_file), else
    /// `main.wasm`).
    #[must_use]
    pub fn program_name(mut self, name: impl Into<String>) -> Self {
        self.args[0] = name.into();
        self
    }

    /// Appends one argument (after `argv[0]`).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments (after `argv[0]`).
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the guest (the host's environment is not inherited).
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Gives the guest the host directory `host` under the name `guest` (wasmtime's
    /// `--dir HOST::GUEST`).
    #[must_use]
    pub fn preopen_dir(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.preopens.push((host.into(), guest.into()));
        self
    }

    /// Gives the guest a listening TCP socket (wasmtime's `--tcplisten ADDR`): the sockets are
    /// descriptors 3, 4, … in the order given, before the preopened directories.
    #[must_use]
    pub fn tcp_listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Where stdin comes from ([`Input::Null`] unless set).
    #[must_use]
    pub fn stdin(mut self, input: Input) -> Self {
        self.stdin = input;
        self
    }

    /// Where stdout goes ([`Output::Null`] unless set).
    #[must_use]
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where stderr goes ([`Output::Null`] unless set).
    #[must_use]
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// How many spawned threads may live at once (1024 unless set); `thread-spawn` returns
    /// a negative number beyond it.
    #[must_use]
    pub fn spawn_limit(mut self, limit: usize) -> Self {
        self.spawn_limit = limit;
        self
    }

    /// The first shared memory the program imports (`None` for a program without one): the
    /// memory the run will use, reachable before it starts.
    pub fn memory(&self) -> Option<&GuestMemory> {
        self.memories.first()
    }

    /// Starts the run: `_start` on a new thread. Returns at once.
    ///
    /// # Errors
    ///
    /// [`WasmError::WasiSetup`] for a preopened directory that cannot be opened, an argument
    /// or variable WASI cannot carry, or a pipe or thread the OS refuses.
    pub fn start(self) -> Result<WasiRun, WasmError> {
        let stop = Stop::new().map_err(|e| WasmError::WasiSetup(format!("a pipe: {e}")))?;
        let (ctx, stdout, stderr) = self.context(&stop)?;
        let mut linker: Linker<GuestState> = Linker::new(self.program.module().engine());
        wasi_common::sync::add_to_linker(&mut linker, |state: &mut GuestState| state.wasi_ctx())
            .map_err(|e| WasmError::WasiSetup(crate::error::describe(&e)))?;
        check_imports(&self.program, &linker)?;
        let stopper = stop.clone();
        let flavor = Flavor {
            start_export: THREAD_START,
            max_id: MAX_THREAD_ID,
            linker: Some(linker),
            wasi: Some(ctx),
            on_stop: Some(Arc::new(move || stopper.raise())),
        };
        let mut memories = self.memories;
        if memories.is_empty() {
            // Unused placeholder: the module defines (or does not use) its memory.
            memories.push(GuestMemory::new(Runtime::shared(), 0, 0)?);
        }
        let threads = Threads::with_flavor(self.program, memories, flavor);
        threads.set_spawn_limit(self.spawn_limit);
        let run = threads.clone();
        let main = std::thread::Builder::new()
            .name("wasi-main".to_string())
            .spawn(move || {
                // Held until every thread has ended, so what ended the run is still recorded
                // when it is read below (the record is cleared when no thread is left).
                let _active = run.enter();
                if run.run(ENTRY, &[]).is_ok() {
                    run.end(Ended::Returned);
                }
                // A failure was recorded as what ended the run (unless something ended it
                // first) and stopped the others; wait until each has ended.
                let _ = run.join_spawned();
                run.ended()
            })
            .map_err(|e| WasmError::WasiSetup(format!("the main thread: {e}")))?;
        Ok(WasiRun {
            threads,
            main: Some(main),
            stop,
            stdout,
            stderr,
        })
    }

    /// Runs the command to its end on a new thread and returns how it ended.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn run(self) -> Result<Finished, WasmError> {
        Ok(self.start()?.wait())
    }

    /// The WASI context of the run, and the buffers of captured streams.
    #[allow(clippy::type_complexity)]
    fn context(&self, stop: &Arc<Stop>) -> Result<(WasiCtx, Captured, Captured), WasmError> {
        let sched = Box::new(StoppableSched(stop.clone()));
        let mut ctx = WasiCtx::new(
            wasi_common::sync::random_ctx(),
            wasi_common::sync::clocks_ctx(),
            sched,
            Table::new(),
        );
        for arg in &self.args {
            ctx.push_arg(arg)
                .map_err(|e| WasmError::WasiSetup(format!("argument {arg:?}: {e}")))?;
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains('=') {
                return Err(WasmError::WasiSetup(format!(
                    "environment variable {name:?}: a name must be non-empty and without '='"
                )));
            }
            ctx.push_env(name, value)
                .map_err(|e| WasmError::WasiSetup(format!("environment variable {name:?}: {e}")))?;
        }
        match &self.stdin {
            Input::Inherit => ctx.set_stdin(Box::new(StoppableStdin::new(stop.clone()))),
            Input::Null => {}
            Input::Bytes(bytes) => {
                ctx.set_stdin(Box::new(ReadPipe::from(bytes.clone())));
            }
        }
        let stdout = output(&ctx, 1, self.stdout);
        let stderr = output(&ctx, 2, self.stderr);
        for (fd, listener) in (3..).zip(&self.listeners) {
            let listener = listener
                .try_clone()
                .map_err(|e| WasmError::WasiSetup(format!("a listening socket: {e}")))?;
            let socket = wasi_common::sync::net::Socket::from(
                wasi_common::sync::TcpListener::from_std(listener),
            );
            let access =
                wasi_common::file::FileAccessMode::READ | wasi_common::file::FileAccessMode::WRITE;
            ctx.insert_file(fd, socket.into(), access);
        }
        for (host, guest) in &self.preopens {
            let dir = Dir::open_ambient_dir(host, ambient_authority()).map_err(|e| {
                WasmError::WasiSetup(format!("preopened directory {}: {e}", host.display()))
            })?;
            let dir = Box::new(wasi_common::sync::dir::Dir::from_cap_std(dir));
            ctx.push_preopened_dir(dir, guest).map_err(|e| {
                WasmError::WasiSetup(format!("preopened directory {}: {e}", host.display()))
            })?;
        }
        Ok((ctx, stdout, stderr))
    }
}

/// A captured stream's buffer.
type Captured = Option<Arc<RwLock<Vec<u8>>>>;

/// Installs descriptor `fd` (1 or 2) as `output` says; returns the buffer of a capture.
fn output(ctx: &WasiCtx, fd: u32, output: Output) -> Captured {
    match output {
        Output::Inherit if fd == 1 => {
            ctx.set_stdout(Box::new(wasi_common::sync::stdio::stdout()));
            None
        }
        Output::Inherit => {
            ctx.set_stderr(Box::new(wasi_common::sync::stdio::stderr()));
            None
        }
        Output::Null => None,
        Output::Capture => {
            let buffer = Arc::new(RwLock::new(Vec::new()));
            let pipe = Box::new(WritePipe::from_shared(buffer.clone()));
            if fd == 1 {
                ctx.set_stdout(pipe);
            } else {
                ctx.set_stderr(pipe);
            }
            Some(buffer)
        }
    }
}

/// The bytes a capture holds (empty when the stream was not captured).
fn taken(captured: &Captured) -> Vec<u8> {
    captured.as_ref().map_or_else(Vec::new, |buffer| {
        std::mem::take(&mut *buffer.write().unwrap_or_else(|p| p.into_inner()))
    })
}

/// A running WASI command. Dropping it cancels the run and waits for its threads.
pub struct WasiRun {
    threads: Arc<Threads>,
    /// The thread running `_start`; it returns what ended the run once every thread is gone.
    main: Option<JoinHandle<Option<Ended>>>,
    stop: Arc<Stop>,
    stdout: Captured,
    stderr: Captured,
}

impl WasiRun {
    /// The run's (first) shared memory: host threads may wait, notify and `wait_async` on
    /// its words while the guest runs. For a program that imports none, an empty memory.
    pub fn memory(&self) -> &GuestMemory {
        self.threads.memory()
    }

    /// Whether the run has ended (its threads may still be stopping).
    pub fn has_ended(&self) -> bool {
        self.threads.ended().is_some() || self.main.as_ref().is_none_or(|m| m.is_finished())
    }

    /// Guest-spawned threads that are still running.
    pub fn live_threads(&self) -> usize {
        self.threads.live_spawned()
    }

    /// Ends the run unless it ended already: every thread of it stops (see the module
    /// documentation) and [`wait`](Self::wait) reports [`WasiExit::Cancelled`].
    pub fn cancel(&self) {
        self.threads.end(Ended::Cancelled);
        // The run may have ended on its own meanwhile: the stop is raised either way.
        self.stop.raise();
    }

    /// Waits until the run has ended and all its threads are gone.
    ///
    /// # Blocking
    ///
    /// Until the run ends: `_start` returns, a thread exits or traps, or the run is
    /// cancelled (from another thread, through a reference to this run).
    pub fn wait(mut self) -> Finished {
        let exit = match self.join() {
            Some(Ended::Exit(code)) => WasiExit::Code(code),
            Some(Ended::Failed(message)) => WasiExit::Trap(message),
            Some(Ended::Cancelled) => WasiExit::Cancelled,
            Some(Ended::Returned) | None => WasiExit::Code(0),
        };
        Finished {
            exit,
            stdout: taken(&self.stdout),
            stderr: taken(&self.stderr),
        }
    }

    /// Waits for the main thread; returns what ended the run.
    fn join(&mut self) -> Option<Ended> {
        let main = self.main.take()?;
        main.join()
            .unwrap_or_else(|_| Some(Ended::Failed("the main guest thread panicked".to_string())))
    }
}

impl Drop for WasiRun {
    fn drop(&mut self) {
        if self.main.is_some() {
            self.cancel();
            self.join();
        }
    }
}

/// Every import must be one a run provides: a WASI function, a thread-spawn function, a
/// shared memory, or a host function of the wait/notify rewrite. Checked before the run
/// starts, so a program that cannot link is an error of [`WasiCommand::start`], naming the
/// import as the spec's scripts word it (`unknown import`).
fn check_imports(program: &Program, linker: &Linker<GuestState>) -> Result<(), WasmError> {
    let mut store = wasmtime::Store::new(program.module().engine(), GuestState::default());
    for import in program.module().imports() {
        let (module, name) = (import.module(), import.name());
        let provided = match import.ty() {
            ExternType::Memory(ty) => ty.is_shared(),
            ExternType::Func(_) => {
                module == crate::rewrite::HOST_MODULE
                    || crate::runtime::is_spawn_import(module, name)
                    || linker.get(&mut store, module, name).is_ok()
            }
            _ => false,
        };
        if !provided {
            return Err(WasmError::Link(format!(
                "unknown import {module:?} {name:?}: a WASI command may import WASI preview1 \
                 functions, wasi.thread-spawn and a shared memory"
            )));
        }
    }
    Ok(())
}

/// Whether the program imports wasi-threads' spawn function.
fn imports_spawn(program: &Program) -> bool {
    program
        .module()
        .imports()
        .any(|i| (i.module(), i.name()) == (SPAWN_MODULE, SPAWN_FIELD))
}

/// `_start` must be an exported `() -> ()` function.
fn check_entry(program: &Program) -> Result<(), WasmError> {
    match program.module().get_export(ENTRY) {
        Some(ExternType::Func(ty)) if ty.params().len() == 0 && ty.results().len() == 0 => Ok(()),
        _ => Err(WasmError::NoSuchFunction(ENTRY.to_string())),
    }
}

/// `wasi_thread_start` must be an exported `(i32, i32) -> ()` function.
fn check_thread_start(program: &Program) -> Result<(), WasmError> {
    match program.module().get_export(THREAD_START) {
        None => Err(WasmError::BadThreadStart(
            "exports no wasi_thread_start".to_string(),
        )),
        Some(ExternType::Func(ty)) => {
            let params: Vec<ValType> = ty.params().collect();
            let right = params.len() == 2
                && params.iter().all(|p| matches!(p, ValType::I32))
                && ty.results().len() == 0;
            if right {
                Ok(())
            } else {
                Err(WasmError::BadThreadStart(format!(
                    "its wasi_thread_start has type {ty}"
                )))
            }
        }
        Some(_) => Err(WasmError::BadThreadStart(
            "its wasi_thread_start export is not a function".to_string(),
        )),
    }
}
