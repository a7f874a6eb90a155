//! Error types: the traps our wait/notify host functions raise, and what loading or running a
//! module can fail with.

use std::fmt;

/// A trap raised by the rewritten `memory.atomic.wait32/64` / `memory.atomic.notify`, or by the
/// host helpers on a [`GuestMemory`](crate::GuestMemory).
///
/// Each message starts with the text the WebAssembly spec tests expect (`unaligned atomic`,
/// `expected shared memory`, `out of bounds memory access`) and then names the bad value and
/// the rule of docs/semantics.md.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trap {
    /// W4: the effective address is not a multiple of the access size.
    UnalignedAtomic {
        /// The effective address (address + static offset).
        address: u64,
        /// The access size in bytes.
        size: u32,
    },
    /// W7: a wait on a memory that is not shared.
    ExpectedSharedMemory {
        /// The opcode that trapped.
        opcode: &'static str,
    },
    /// W4: the access does not fit in the memory's current length.
    OutOfBounds {
        /// The effective address (address + static offset), `None` if it overflowed 64 bits.
        address: Option<u64>,
        /// The access size in bytes.
        size: u32,
        /// The memory's current length in bytes.
        length: usize,
    },
    /// A wait on a thread whose agent cannot block.
    CannotBlock,
    /// The memory the host function should use is not reachable (the call did not come from
    /// the rewritten instance).
    NoMemory {
        /// The memory index the opcode named.
        memory: u32,
    },
    /// Another thread of the run failed, so this one was stopped.
    Cancelled,
    /// A trap of agentsync's [`WasmView`](agentsync::memory::WasmView) that has no case of its
    /// own here (its enum may gain cases).
    Other(agentsync::memory::Trap),
}

/// agentsync's Wasm view checks W4–W11 for shared guest memories; its traps become ours.
impl From<agentsync::memory::Trap> for Trap {
    fn from(trap: agentsync::memory::Trap) -> Self {
        use agentsync::memory::Trap as Layer2;
        match trap {
            Layer2::UnalignedAtomic { address, size } => Trap::UnalignedAtomic { address, size },
            Layer2::OutOfBounds {
                address,
                size,
                byte_length,
            } => Trap::OutOfBounds {
                // `u64::MAX` stands for "address + offset overflowed"; as an effective
                // address it cannot pass the alignment check that runs first.
                address: (address != u64::MAX).then_some(address),
                size,
                length: usize::try_from(byte_length).unwrap_or(usize::MAX),
            },
            Layer2::CannotBlock => Trap::CannotBlock,
            other => Trap::Other(other),
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trap::UnalignedAtomic { address, size } => write!(
                f,
                "unaligned atomic: effective address {address} is not a multiple of {size} (W4)"
            ),
            Trap::ExpectedSharedMemory { opcode } => {
                write!(
                    f,
                    "expected shared memory: {opcode} on an unshared memory (W7)"
                )
            }
            Trap::OutOfBounds {
                address: Some(address),
                size,
                length,
            } => write!(
                f,
                "out of bounds memory access: {size} bytes at effective address {address} \
                 past the memory's {length} bytes (W4)"
            ),
            Trap::OutOfBounds {
                address: None,
                size,
                length,
            } => write!(
                f,
                "out of bounds memory access: address + offset of a {size}-byte access \
                 overflows (memory has {length} bytes) (W4)"
            ),
            Trap::CannotBlock => f.write_str("Atomics.wait cannot be called in this context"),
            Trap::NoMemory { memory } => write!(
                f,
                "memory {memory} of the calling instance is not reachable by the host function"
            ),
            Trap::Cancelled => f.write_str("stopped: another thread of the run failed"),
            Trap::Other(trap) => trap.fmt(f),
        }
    }
}

impl std::error::Error for Trap {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Trap::Other(trap) => Some(trap),
            _ => None,
        }
    }
}

/// Why loading, linking or running a module failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WasmError {
    /// The file could not be read.
    Io {
        /// The path given.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The bytes are neither a binary module (they do not start with `\0asm`) nor module text
    /// (UTF-8 starting with `(` or a comment).
    NotAModule,
    /// The text or binary could not be parsed.
    Malformed(String),
    /// The module parsed but does not validate.
    Invalid(String),
    /// The module's imports could not be satisfied.
    Link(String),
    /// The module has no export of that name, or it is not a function.
    NoSuchFunction(String),
    /// An argument could not be converted to the function's parameter type.
    BadArgument {
        /// The text given.
        given: String,
        /// The parameter type.
        expected: String,
    },
    /// Wrong number of arguments.
    ArgumentCount {
        /// Parameters the function takes.
        expected: usize,
        /// Arguments given.
        given: usize,
    },
    /// Several threads were requested but the module does not import a shared memory.
    NeedsSharedMemoryImport {
        /// Threads requested.
        threads: usize,
    },
    /// The module defines its own shared memory and imports `agentsync.thread_spawn`: each
    /// spawned thread, a new instance, would get a fresh memory instead of sharing it.
    SpawnNeedsImportedMemory,
    /// A shared memory import that nothing provides: fewer shared memories were given than the
    /// module imports, and no linker defines this one. A link error: its message starts with
    /// `unknown import`, as the spec scripts expect, and names the module and field.
    MissingSharedMemories {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
        /// Distinct shared memories the module imports.
        imported: usize,
        /// Memories given.
        given: usize,
    },
    /// Execution trapped or a host function failed; the message is wasmtime's (or our
    /// [`Trap`]'s) text.
    Trap(String),
    /// This thread was stopped because another thread of the run failed or ended it.
    Cancelled,
    /// A thread of a WASI command called `proc_exit` with this status.
    Exit(i32),
    /// A WASI command's module imports `wasi.thread-spawn` but lacks a `wasi_thread_start`
    /// export of type `(i32, i32) -> ()`; the text says what it has instead.
    BadThreadStart(String),
    /// A WASI command's setting that cannot be applied: a preopened directory that cannot
    /// be opened, an argument or variable WASI cannot carry (a NUL byte), or what the OS
    /// refused while preparing the run.
    WasiSetup(String),
    /// The requested threads would need more memory mappings than the kernel lets the process
    /// have (`vm.max_map_count`); refused before anything was instantiated.
    MappingBudget {
        /// Threads requested.
        threads: usize,
        /// Private (non-shared) memories each thread's instance has.
        memories: usize,
        /// Mappings the threads would need, about.
        needed: usize,
        /// Mappings the process may still make.
        available: usize,
        /// The kernel's limit.
        limit: usize,
    },
    /// Not every requested thread could be started (the OS refused one); the ones that had
    /// started were stopped before running guest code.
    ThreadStart {
        /// Threads that had started.
        started: usize,
        /// Threads requested.
        requested: usize,
        /// Why the next one could not start.
        error: String,
    },
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmError::Io { path, error } => write!(f, "cannot read {path}: {error}"),
            WasmError::NotAModule => {
                f.write_str("not a WebAssembly module: neither binary (no \\0asm header) nor text")
            }
            WasmError::Malformed(m) => write!(f, "malformed module: {m}"),
            WasmError::Invalid(m) => write!(f, "invalid module: {m}"),
            WasmError::Link(m) => write!(f, "cannot link module: {m}"),
            WasmError::NoSuchFunction(n) => write!(f, "no exported function named {n:?}"),
            WasmError::BadArgument { given, expected } => {
                write!(f, "argument {given:?} is not a valid {expected}")
            }
            WasmError::ArgumentCount { expected, given } => {
                write!(f, "the function takes {expected} arguments, {given} given")
            }
            WasmError::NeedsSharedMemoryImport { threads } => write!(
                f,
                "{threads} threads need a module that imports its shared memory, e.g. \
                 (import \"env\" \"memory\" (memory 1 1 shared))"
            ),
            WasmError::SpawnNeedsImportedMemory => f.write_str(
                "the module defines its own shared memory and imports a thread-spawn function, \
                 so each spawned thread would get a separate memory; import the memory \
                 instead, e.g. (import \"env\" \"memory\" (memory 1 1 shared))",
            ),
            WasmError::MissingSharedMemories {
                module,
                name,
                imported,
                given,
            } => write!(
                f,
                "cannot link module: unknown import {module:?} {name:?}: no shared memory \
                 given for it (the module imports {imported} shared memories, {given} given)"
            ),
            WasmError::MappingBudget {
                threads,
                memories,
                needed,
                available,
                limit,
            } => write!(
                f,
                "{threads} threads need about {needed} memory mappings ({memories} private \
                 memories each), but the process may make only {available} more \
                 (vm.max_map_count is {limit}); use fewer threads"
            ),
            WasmError::Trap(m) => write!(f, "trap: {m}"),
            WasmError::Cancelled => f.write_str("stopped: another thread of the run failed"),
            WasmError::Exit(code) => write!(f, "the program exited with status {code}"),
            WasmError::BadThreadStart(what) => write!(
                f,
                "the module imports wasi.thread-spawn but {what}; wasi-threads needs an export \
                 (func (export \"wasi_thread_start\") (param i32 i32))"
            ),
            WasmError::WasiSetup(what) => write!(f, "cannot prepare the WASI run: {what}"),
            WasmError::ThreadStart {
                started,
                requested,
                error,
            } => write!(
                f,
                "could start only {started} of {requested} threads ({error}); \
                 the {started} started were stopped before running"
            ),
        }
    }
}

impl WasmError {
    /// Whether instantiation failed because an import could not be resolved (a link error in
    /// the spec's terms, `WebAssembly.LinkError` in JS), as opposed to a trap while
    /// instantiating or a module that does not compile.
    pub fn is_link_error(&self) -> bool {
        matches!(
            self,
            WasmError::Link(_) | WasmError::MissingSharedMemories { .. }
        )
    }
}

impl std::error::Error for WasmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WasmError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A text-format parse error as one line `line:column: message`, the position in `text` itself
/// (the `wast` crate's own rendering spans several lines, with `<anon>` and a caret diagram).
pub(crate) fn one_line(error: &wast::Error, text: &str) -> String {
    let (line, col) = error.span().linecol_in(text);
    format!("{}:{}: {}", line + 1, col + 1, error.message())
}

/// Renders a wasmtime error on one line: our [`Trap`]'s text, wasmtime's trap message, or
/// the error with its causes.
///
/// ```
/// let error = agentsync_wasm::wasmtime::Error::msg("a   line\nbreak");
/// assert_eq!(agentsync_wasm::describe(&error), "a line break");
/// ```
pub fn describe(error: &wasmtime::Error) -> String {
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        return trap.to_string();
    }
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
