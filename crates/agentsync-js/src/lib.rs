//! A JavaScript host (QuickJS-ng through rquickjs) whose `SharedArrayBuffer`s are agentsync
//! memory and whose `Atomics.wait`, `notify` and `waitAsync` are agentsync's futex.
//!
//! JS agents (a main agent that cannot block, and Web Workers on their own threads), Rust
//! threads and Rust async tasks wait in the same first-in-first-out queues. See the crate's
//! README section in the repository for the JS-visible API.
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
mod globals;
mod host;
mod sab;
pub mod test262;
mod timers;
#[cfg(feature = "wasm")]
mod wasm;
mod worker;

pub use clone::Message;
pub use error::{JsError, ScriptError};
pub use host::{Host, HostBuilder, HostHandle, Stream};
pub use sab::live_buffers;

pub(crate) use host::Options;
