//! Compiling: text or binary in, the rewrite applied, a wasmtime module out.

use wasmtime::{ExternType, MemoryType, Module};

use crate::engine::Runtime;
use crate::error::{describe, one_line, WasmError};
use crate::host::HostImport;
use crate::memory::GuestMemory;
use crate::rewrite::rewrite;

impl Runtime {
    /// Compiles a module given as text (`.wat`) or binary, rewriting its wait/notify opcodes to
    /// go through agentsync's futex.
    ///
    /// # Errors
    ///
    /// [`WasmError::Malformed`] for text or binary that does not parse, [`WasmError::Invalid`]
    /// for a module that does not validate (checked on the original, before the rewrite).
    pub fn compile(&self, source: &[u8]) -> Result<Program, WasmError> {
        self.compile_with(source, true)
    }

    /// Compiles without the rewrite: wait/notify use wasmtime's own waiter queue. This is the
    /// peer the benchmarks compare against.
    ///
    /// # Errors
    ///
    /// As [`compile`](Self::compile).
    pub fn compile_native(&self, source: &[u8]) -> Result<Program, WasmError> {
        self.compile_with(source, false)
    }

    fn compile_with(&self, source: &[u8], rewrite_atomics: bool) -> Result<Program, WasmError> {
        let binary = to_binary(source)?;
        Module::validate(self.engine(), &binary).map_err(|e| classify(&e))?;
        let defines_shared_memory = defines_shared_memory(&binary);
        let (bytes, rewritten, memory_exports) = if rewrite_atomics {
            let out = rewrite(&binary).map_err(|e| WasmError::Malformed(e.to_string()))?;
            (out.bytes, out.imports, out.memory_exports)
        } else {
            (binary, Vec::new(), Vec::new())
        };
        let module = Module::new(self.engine(), &bytes).map_err(|e| classify(&e))?;
        Ok(Program {
            module,
            rewritten,
            memory_exports,
            defines_shared_memory,
            interruptible: self.is_interruptible(),
        })
    }
}

/// Whether a (validated) module defines a shared memory of its own.
fn defines_shared_memory(binary: &[u8]) -> bool {
    wasmparser::Parser::new(0)
        .parse_all(binary)
        .any(|payload| match payload {
            Ok(wasmparser::Payload::MemorySection(memories)) => {
                memories.into_iter().any(|m| m.is_ok_and(|m| m.shared))
            }
            _ => false,
        })
}

/// Text or binary → binary.
pub(crate) fn to_binary(source: &[u8]) -> Result<Vec<u8>, WasmError> {
    if source.starts_with(b"\0asm") {
        return Ok(source.to_vec());
    }
    // Text must be UTF-8 and start (after blanks) with `(` or a `;;` / `(;` comment.
    let text = std::str::from_utf8(source).ok().filter(|text| {
        let start = text.trim_start();
        start.is_empty() || start.starts_with('(') || start.starts_with(";;")
    });
    let Some(text) = text else {
        return Err(WasmError::NotAModule);
    };
    wat_to_binary(text)
}

/// Compiles WebAssembly text to binary; a parse error is [`WasmError::Malformed`] with its
/// `line:column` in `text`.
///
/// ```
/// let bytes = agentsync_wasm::wat_to_binary("(module)").unwrap();
/// assert!(bytes.starts_with(b"\0asm"));
/// assert!(agentsync_wasm::wat_to_binary("(module (func (i32.const)))").is_err());
/// ```
///
/// # Errors
///
/// [`WasmError::Malformed`] for text that does not parse.
pub fn wat_to_binary(text: &str) -> Result<Vec<u8>, WasmError> {
    let buf = wast::parser::ParseBuffer::new(text).map_err(|e| malformed(e, text))?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).map_err(|e| malformed(e, text))?;
    wat.encode().map_err(|e| malformed(e, text))
}

fn malformed(error: wast::Error, text: &str) -> WasmError {
    WasmError::Malformed(one_line(&error, text))
}

/// Binary parse errors are "malformed", everything else wasmtime rejects is "invalid".
fn classify(error: &wasmtime::Error) -> WasmError {
    let text = describe(error);
    let malformed = [
        "magic header",
        "unknown binary version",
        "unexpected end",
        "malformed",
        "section size mismatch",
        "integer too large",
        "integer representation too long",
        "unknown section",
        "section out of order",
        "invalid section",
        "too many locals",
        "zero byte expected",
        "function and code section have inconsistent lengths",
    ];
    if malformed.iter().any(|m| text.contains(m)) {
        WasmError::Malformed(text)
    } else {
        WasmError::Invalid(text)
    }
}

/// A compiled (and rewritten) module. Cheap to clone.
#[derive(Clone)]
pub struct Program {
    module: Module,
    rewritten: Vec<HostImport>,
    /// Where the rewrite exported each memory its host functions use.
    memory_exports: Vec<(u32, String)>,
    /// The module defines (rather than imports) a shared memory.
    defines_shared_memory: bool,
    /// Compiled by an [`Runtime::interruptible`] runtime.
    interruptible: bool,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.module.name())
            .field("rewritten", &self.rewritten)
            .finish()
    }
}

impl Program {
    /// The wasmtime module (after the rewrite).
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Whether the code checks wasmtime's epoch (compiled by [`Runtime::interruptible`]).
    pub fn is_interruptible(&self) -> bool {
        self.interruptible
    }

    /// The host imports the rewrite added (empty for a native compile).
    pub fn rewritten(&self) -> &[HostImport] {
        &self.rewritten
    }

    /// The first shared memory this module imports, as `(module, name, (minimum, maximum)
    /// pages)`; `None` also when its limits do not fit 32 bits (see
    /// [`shared_memory_imports`](Self::shared_memory_imports)).
    pub fn shared_memory_import(&self) -> Option<(String, String, u32, u32)> {
        let (module, name, ty) = self.shared_memory_imports().into_iter().next()?;
        let min = u32::try_from(ty.minimum()).ok()?;
        let max = u32::try_from(ty.maximum()?).ok()?;
        Some((module, name, min, max))
    }

    /// Every distinct shared memory import, `(module, name, type)` in import order; two
    /// imports of the same module and name are one memory.
    pub fn shared_memory_imports(&self) -> Vec<(String, String, MemoryType)> {
        let mut found: Vec<(String, String, MemoryType)> = Vec::new();
        for import in self.module.imports() {
            if let ExternType::Memory(ty) = import.ty() {
                let (module, name) = (import.module(), import.name());
                let seen = found
                    .iter()
                    .any(|(m, n, _)| (m.as_str(), n.as_str()) == (module, name));
                if ty.is_shared() && !seen {
                    found.push((module.to_string(), name.to_string(), ty));
                }
            }
        }
        found
    }

    /// Creates a shared memory of the type of the module's first shared-memory import.
    ///
    /// # Errors
    ///
    /// [`WasmError::NeedsSharedMemoryImport`] if the module imports no shared memory,
    /// [`WasmError::Invalid`] if the memory cannot be made.
    pub fn new_memory(&self, runtime: &Runtime) -> Result<GuestMemory, WasmError> {
        let (_, _, ty) = self
            .shared_memory_imports()
            .into_iter()
            .next()
            .ok_or(WasmError::NeedsSharedMemoryImport { threads: 1 })?;
        GuestMemory::with_type(runtime, ty)
    }

    /// Creates one shared memory for each of
    /// [`shared_memory_imports`](Self::shared_memory_imports), of its type (so a memory64
    /// import gets a 64-bit memory), in the same order.
    ///
    /// # Errors
    ///
    /// [`WasmError::Invalid`] if a memory cannot be made.
    pub fn new_memories(&self, runtime: &Runtime) -> Result<Vec<GuestMemory>, WasmError> {
        self.shared_memory_imports()
            .into_iter()
            .map(|(_, _, ty)| GuestMemory::with_type(runtime, ty))
            .collect()
    }

    /// The export under which the rewritten module shows memory `index` to the host functions.
    pub(crate) fn memory_export(&self, index: u32) -> Option<&str> {
        self.memory_exports
            .iter()
            .find(|(m, _)| *m == index)
            .map(|(_, name)| name.as_str())
    }

    /// Whether the module defines a shared memory of its own instead of importing it.
    pub fn defines_shared_memory(&self) -> bool {
        self.defines_shared_memory
    }
}
