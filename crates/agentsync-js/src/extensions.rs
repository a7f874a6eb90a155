//! The host's extensions, in the order every agent installs them: the one place that names
//! them all (the agent core knows none; see `agent::Extension`). Worker comes before
//! WebAssembly, whose posting of modules and memories wraps the worker's `post`; web comes last, as it adds
//! `WebAssembly.compileStreaming` / `instantiateStreaming`.

use crate::agent::Extension;

/// Every extension, in install order.
pub(crate) static ALL: &[Extension] = &[
    crate::atomics::EXTENSION,
    crate::globals::EXTENSION,
    crate::worker::EXTENSION,
    #[cfg(feature = "wasm")]
    crate::wasm::EXTENSION,
    crate::web::EXTENSION,
];
