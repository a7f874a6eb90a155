//! The engine: wasmtime configured for threads and shared memories. Everything else (memories,
//! compiled programs, instances) is made for one engine.

use std::sync::OnceLock;

use wasmtime::{Config, Engine};

use crate::error::{describe, WasmError};

/// Enables WebAssembly 3.0 (function references, GC, exceptions on top of what wasmtime
/// enables by default): wasmtime 46, which the WASI layer pins, enables only 2.0 and a few
/// proposals by default, while the spec's current scripts are 3.0.
fn wasm3(config: &mut Config) {
    config
        .wasm_function_references(true)
        .wasm_gc(true)
        .wasm_exceptions(true);
}

/// A wasmtime engine with threads and shared memory enabled.
///
/// Modules compiled by one runtime can share memories with each other; make one and reuse it
/// ([`Runtime::shared`] is a process-wide one).
pub struct Runtime {
    engine: Engine,
    /// Whether compiled code checks wasmtime's epoch, so a run can stop guest loops.
    interruptible: bool,
}

impl Runtime {
    /// Creates an engine with the threads proposal and shared memories enabled.
    ///
    /// # Errors
    ///
    /// [`WasmError::Invalid`] if wasmtime refuses the configuration (e.g. unsupported host).
    pub fn new() -> Result<Self, WasmError> {
        let mut config = Config::new();
        config.wasm_threads(true).shared_memory(true);
        wasm3(&mut config);
        let engine = Engine::new(&config).map_err(|e| WasmError::Invalid(describe(&e)))?;
        Ok(Self {
            engine,
            interruptible: false,
        })
    }

    /// A process-wide runtime whose compiled code can be stopped: when one thread of a
    /// [`Threads`](crate::Threads) run fails, the others' guest loops are interrupted (through
    /// wasmtime's epoch interruption), not only their waits. `agentsync wasm run` uses it. Its
    /// code is slightly slower (an epoch check at each loop head and function entry), and
    /// stores of its programs made outside [`Threads`](crate::Threads) must set an epoch
    /// deadline (wasmtime traps at once otherwise).
    ///
    /// # Panics
    ///
    /// If wasmtime cannot create an engine on this host (not a user-input condition).
    pub fn interruptible() -> &'static Runtime {
        static INTERRUPTIBLE: OnceLock<Runtime> = OnceLock::new();
        INTERRUPTIBLE.get_or_init(|| {
            let mut config = Config::new();
            config
                .wasm_threads(true)
                .shared_memory(true)
                .epoch_interruption(true);
            wasm3(&mut config);
            let engine = Engine::new(&config).expect("wasmtime engine with epoch interruption");
            Runtime {
                engine,
                interruptible: true,
            }
        })
    }

    /// Whether this runtime's code checks the epoch (see [`interruptible`](Self::interruptible)).
    pub fn is_interruptible(&self) -> bool {
        self.interruptible
    }

    /// A process-wide runtime, created on first use.
    ///
    /// # Panics
    ///
    /// If wasmtime cannot create an engine on this host (not a user-input condition).
    pub fn shared() -> &'static Runtime {
        static SHARED: OnceLock<Runtime> = OnceLock::new();
        SHARED.get_or_init(|| Runtime::new().expect("wasmtime engine with threads enabled"))
    }

    /// A process-wide runtime with the feature set the threads proposal's own spec scripts
    /// assume (the MVP plus threads: one memory, one table, no reference types), so those
    /// scripts' `assert_invalid` cases about multiple memories and tables hold.
    ///
    /// # Panics
    ///
    /// If wasmtime cannot create an engine on this host (not a user-input condition).
    pub fn threads_proposal() -> &'static Runtime {
        static PROPOSAL: OnceLock<Runtime> = OnceLock::new();
        PROPOSAL.get_or_init(|| {
            let mut config = Config::new();
            config
                .wasm_threads(true)
                .shared_memory(true)
                .wasm_multi_memory(false)
                .wasm_features(wasmtime::WasmFeatures::REFERENCE_TYPES, false);
            let engine = Engine::new(&config).expect("wasmtime engine for the threads proposal");
            Runtime {
                engine,
                interruptible: false,
            }
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}
