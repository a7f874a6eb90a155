//! A JavaScript host (QuickJS-ng through rquickjs) whose `SharedArrayBuffer`s are agentsync
//! memory and whose `Atomics.wait`, `notify` and `waitAsync` are agentsync's futex.
//!
//! JS agents (a main agent that cannot block, and Web Workers on their own threads), Rust
//! threads and Rust async tasks wait in the same first-in-first-out queues. See the crate's
//! README section in the repository for the JS-visible API.

mod agent;
mod atomics;
mod clone;
mod error;
mod globals;
mod host;
mod sab;
pub mod test262;
mod timers;
mod worker;

pub use clone::Message;
pub use error::{JsError, ScriptError};
pub use host::{Host, HostBuilder, HostHandle, Stream};
pub use sab::live_buffers;

pub(crate) use host::Options;
