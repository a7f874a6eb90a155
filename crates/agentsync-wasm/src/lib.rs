//! Layer 5 of agentsync: WebAssembly threads over one shared memory whose
//! `memory.atomic.wait32/64` and `memory.atomic.notify` go through agentsync's futex.
//!
//! Before compiling, [`Runtime::compile`] rewrites each wait/notify opcode into a call of a host
//! function implementing W4–W12 of docs/semantics.md on agentsync's waiter table, so guest threads,
//! host threads and host async tasks wait in the same FIFO queue per address. All other atomic
//! opcodes run natively in wasmtime. The guest's shared memory is a [`GuestMemory`] on the
//! host: its bytes never move, so host code can wait, notify and `wait_async` on guest words,
//! and [`GuestMemory::agentsync_memory`] hands it out as an [`agentsync::memory::SharedMemory`]
//! for the `Atomics` facade, typed views and primitives placed in guest memory.
//!
//! ```
//! use agentsync_wasm::{Runtime, Threads};
//! let runtime = Runtime::shared();
//! let program = runtime
//!     .compile(br#"(module (import "env" "memory" (memory 1 1 shared))
//!         (func (export "wake") (result i32)
//!           (memory.atomic.notify (i32.const 0) (i32.const 1))))"#)
//!     .unwrap();
//! let memory = program.new_memory(runtime).unwrap();
//! let threads = Threads::new(program, memory.clone());
//! // A host thread waits on word 0; the guest's notify wakes it.
//! std::thread::scope(|s| {
//!     let waiter = s.spawn(|| memory.host_wait32(0, 0, None).unwrap());
//!     while memory.waiter_count(0) == 0 { std::thread::yield_now(); }
//!     let woke = threads.run("wake", &[]).unwrap();
//!     assert_eq!(woke[0].unwrap_i32(), 1);
//!     assert_eq!(waiter.join().unwrap(), agentsync::WaitResult::Ok);
//! });
//! ```
//!
//! # How the rewrite works
//!
//! [`rewrite`] adds one imported host function per distinct (opcode, memory index, static
//! offset) and replaces each wait/notify instruction by a `call` of it, so the operands on the
//! stack are unchanged and the offset is baked into the host function. The imports go at the
//! end of the import section; every defined function index shifts by their number and is
//! remapped everywhere (calls, `ref.func`, element segments, exports, start, names). Each
//! memory that a wait/notify names is exported as [`memory_export_name`] (with `'` appended
//! while the module already has an export of that name) so the host function can find it.
//! Instantiation takes the added imports by position and the rewrite finds each opcode's
//! import in a map, so both are linear in the module's size. The original module is validated
//! first, so an invalid one (e.g. a wrong alignment immediate, W3) is rejected before the
//! rewrite could hide it.
//!
//! # Guaranteed
//!
//! - W4–W12 in the order docs/semantics.md gives, with trap messages that start with the spec
//!   tests' texts (`unaligned atomic`, `expected shared memory`, `out of bounds memory
//!   access`). On shared memories the checks after alignment are agentsync's
//!   [`WasmView`](agentsync::memory::WasmView), the same code host callers use.
//! - Guest waits, host blocking waits and host `wait_async` futures on the same bytes share
//!   one FIFO queue: a notify from either side wakes the oldest waiters of any kind.
//! - The guest's shared memory never moves ([`GuestMemory::base`] is stable across `grow`).
//! - Each distinct shared-memory import of a run gets its own memory, of the import's type
//!   (64-bit for memory64), shared by all threads of the run, spawned ones included. A module
//!   that defines its own shared memory and imports `thread_spawn` is refused
//!   ([`WasmError::SpawnNeedsImportedMemory`]), since spawned instances cannot share it.
//! - A finished guest-spawned thread frees its OS thread and store at once; at most
//!   [`Threads::spawn_limit`] live at once, and `thread_spawn` returns -1 beyond it or when the
//!   OS refuses a thread.
//! - When one thread of a [`Threads`] run fails, the run stops: the other threads' guest
//!   waits end with [`WasmError::Cancelled`] and, with [`Runtime::interruptible`] (which
//!   [`run_module`] uses), so do their loops; [`run_module`] returns the first failure.
//!   [`run_module`] starts all its threads before any runs guest code, so a thread the OS
//!   refuses ends the run with [`WasmError::ThreadStart`] instead of leaving the others
//!   waiting for it.
//!
//! # Not guaranteed
//!
//! - Plain (non-atomic) guest accesses that race with host atomics on the same bytes are data
//!   races in Rust's model, as in every Wasm embedding; use atomics on both sides.
//! - `agentsync.thread_spawn` is this crate's own import; WASI programs use wasi-threads'
//!   `wasi.thread-spawn` through [`wasi::WasiCommand`], which runs them as `wasmtime run -S
//!   threads` does (see docs/wasi.md).
//! - Stopping a failed run wakes its waiting threads by notifying the words they wait on, so
//!   a host thread waiting on one of those same words is woken too (with `ok`).
//! - Guest code compiled by a runtime that is not [`Runtime::interruptible`] is stopped only
//!   at its waits: a loop that never waits keeps its thread (and the run) going.
//! - The script runner matches `assert_trap` / `assert_exhaustion` messages by substring, but
//!   not the messages of `assert_invalid` (any validation error), `assert_malformed` (any
//!   parse or validation error) and `assert_unlinkable` (any error resolving the imports of a
//!   valid module; a trap while instantiating is not one): validators word their errors
//!   differently. `assert_exception`, `assert_suspension`, components, and GC values (`ref.any`,
//!   `ref.struct`, …) are reported as unsupported failures.
//! - Scripts are judged against one version of the spec at a time ([`Profile`]): `current`
//!   (what wasmtime implements today) by default, or `threads-proposal` (the threads proposal
//!   repository's `test/core`). Where the engine still differs from a profile's scripts, the
//!   profile lists the place and the reason ([`Profile::known_divergences`]).

// The flow reads one way: `rewrite` → `compile` → `runtime` (instantiate, call) → `threads`.
// `engine`, `memory`, `host`, `cancel` and `error` are the leaves they build on: `host` (the
// wait/notify functions) sees only `memory`, `cancel` and `error`.
mod cancel;
mod compile;
mod engine;
mod error;
mod host;
mod memory;
mod profile;
mod rewrite;
mod run;
mod runtime;
mod script;
mod state;
mod threads;
pub mod wasi;

pub use compile::{wat_to_binary, Program};
pub use engine::Runtime;
pub use error::{describe, Trap, WasmError};
pub use host::{AtomicOp, HostImport};
pub use memory::{wasm_timeout, GuestMemory, PAGE_SIZE};
pub use profile::{KnownDivergence, Profile};
pub use rewrite::{memory_export_name, rewrite, Rewritten, HOST_MODULE};
pub use run::{run_module, RunOutput};
pub use runtime::{call, Value, SPAWN_FIELD, SPAWN_MODULE};
pub use script::{
    run_wast, run_wast_dir, run_wast_each, run_wast_on, run_wast_profile, run_wast_text,
    run_wast_text_on, run_wast_text_profile, FileReport, WastReport,
};
pub use state::{Blocker, GuestState};
pub use threads::{Threads, DEFAULT_SPAWN_LIMIT, THREAD_START};
pub use wasmtime;
