//! A JavaScript host (QuickJS-ng through rquickjs) whose `SharedArrayBuffer`s are agentsync
//! memory and whose `Atomics.wait`, `notify` and `waitAsync` are agentsync's futex.
//!
//! JS agents (a main agent that cannot block, and Web Workers on their own threads), Rust
//! threads and Rust async tasks wait in the same first-in-first-out queues. `docs/js-host.md` in
//! the repository describes the JS-visible API, the agent model and the event loop.
//!
//! ```
//! use agentsync::memory::SharedMemory;
//! use std::sync::atomic::Ordering::SeqCst;
//!
//! // A Rust thread waits on word 0 of a memory that a script sees as a SharedArrayBuffer.
//! let memory = SharedMemory::new(1, 1)?;
//! let word = memory.atomic_i32(0)?;
//! let host = agentsync_js::Host::builder().on_output(|_, _| Ok(())).build()?;
//! host.set_shared_memory("shared", &memory)?;
//! std::thread::scope(|s| {
//!     let waiter = s.spawn(|| agentsync::wait(word, 0, None));
//!     while agentsync::waiter_count(word) == 0 {
//!         std::thread::yield_now();
//!     }
//!     // The script's notify wakes the Rust thread: one queue for both.
//!     host.eval("wake.js", "const ia = new Int32Array(shared); Atomics.store(ia, 0, 1); \
//!                           if (Atomics.notify(ia, 0) !== 1) throw new Error('no waiter')")?;
//!     assert_eq!(waiter.join().unwrap(), Ok(agentsync::WaitResult::Ok));
//!     Ok::<(), agentsync_js::JsError>(())
//! })?;
//! assert_eq!(word.load(SeqCst), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `wasm` feature (on by default) every agent also has the `WebAssembly` namespace,
//! on agentsync-wasm: a shared `WebAssembly.Memory`'s `buffer` is a `SharedArrayBuffer` over
//! the guest memory itself, guest `memory.atomic.wait32/64` / `notify` share the futex queues
//! of `Atomics.wait` / `notify` / `waitAsync`, modules and shared memories can be posted to
//! workers, and the shell globals `read(path)` / `readbuffer(path)` load files relative to the
//! calling script (`readbuffer` of a `.wat` file returns the compiled binary). Only shared
//! memories are supported; see `examples/js/wasm-lock`.

mod agent;
mod atomics;
mod clone;
mod error;
mod extensions;
mod globals;
mod host;
mod sab;
pub mod test262;
#[cfg(feature = "wasm")]
mod wasm;
mod web;
mod worker;

pub use clone::Message;
pub use error::{JsError, ScriptError};
pub use host::{Host, HostBuilder, HostHandle, Stream};
pub use sab::live_buffers;

/// How many message ports (`MessageChannel` ends, `BroadcastChannel` members) are open in the
/// process: every one is closed when its agent ends, so after a run this is 0.
pub fn open_ports() -> usize {
    agent::ports::open_count()
}

/// The MIME type a web server gives a file, by its extension (`application/wasm` for `.wasm`,
/// `text/javascript` for `.js`…): what `fetch` reports here, and what `agentsync serve` sends.
pub fn mime_type(path: &std::path::Path) -> &'static str {
    agent::resource::mime_type(path)
}

pub(crate) use agent::Options;
