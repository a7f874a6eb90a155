//! Layer 5 of agentsync: WebAssembly threads over one shared memory whose
//! `memory.atomic.wait32/64` and `memory.atomic.notify` go through agentsync's futex.
//!
//! Before compiling, [`Runtime::compile`] rewrites each wait/notify opcode into a call of a host
//! function implementing W4–W12 of SEMANTICS.md on agentsync's waiter table, so guest threads,
//! host threads and host async tasks wait in the same FIFO queue per address. All other atomic
//! opcodes run natively in wasmtime. The guest's shared memory is a [`GuestMemory`] on the
//! host: its bytes never move, so host code can wait, notify and `wait_async` on guest words.
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

mod demo;
mod error;
mod host;
mod memory;
mod pingpong;
mod rewrite;
mod runtime;
mod script;
mod threads;

pub use demo::{
    async_notify_demo, block_on, lock_demo, tour_lines, AsyncNotifyDemo, LockDemo, LOCK_WAT,
    NOTIFY_WAT,
};
pub use error::{Trap, WasmError};
pub use memory::{wasm_timeout, GuestMemory, PAGE_SIZE};
pub use pingpong::{pingpong, PingPong, PINGPONG_WAT};
pub use rewrite::{memory_export_name, rewrite, AtomicOp, HostImport, Rewritten, HOST_MODULE};
pub use runtime::{call, GuestState, Program, Runtime, Value};
pub use script::{
    run_wast, run_wast_dir, run_wast_on, run_wast_text, run_wast_text_on, FileReport, WastReport,
};
pub use threads::{run_module, RunOutput, Threads, SPAWN_FIELD, SPAWN_MODULE, THREAD_START};
pub use wasmtime;
