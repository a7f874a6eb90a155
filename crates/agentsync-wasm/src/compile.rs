//! Compiling: text or binary in, the rewrite applied, a wasmtime module out.

use wasmtime::{ExternType, Module};

use crate::engine::Runtime;
use crate::error::{describe, WasmError};
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
        let (bytes, rewritten) = if rewrite_atomics {
            let out = rewrite(&binary).map_err(|e| WasmError::Malformed(e.to_string()))?;
            (out.bytes, out.imports)
        } else {
            (binary, Vec::new())
        };
        let module = Module::new(self.engine(), &bytes).map_err(|e| classify(&e))?;
        Ok(Program {
            module,
            rewritten,
            interruptible: self.is_interruptible(),
        })
    }
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
    let buf = wast::parser::ParseBuffer::new(text).map_err(|e| malformed(e, text))?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).map_err(|e| malformed(e, text))?;
    wat.encode().map_err(|e| malformed(e, text))
}

fn malformed(mut error: wast::Error, text: &str) -> WasmError {
    error.set_text(text);
    WasmError::Malformed(error.to_string())
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

    /// The shared memory this module imports, as `(module, name, (minimum, maximum) pages)`.
    pub fn shared_memory_import(&self) -> Option<(String, String, u32, u32)> {
        self.module.imports().find_map(|import| match import.ty() {
            ExternType::Memory(m) if m.is_shared() => {
                let min = u32::try_from(m.minimum()).ok()?;
                let max = u32::try_from(m.maximum()?).ok()?;
                Some((
                    import.module().to_string(),
                    import.name().to_string(),
                    min,
                    max,
                ))
            }
            _ => None,
        })
    }

    /// Creates a shared memory matching the module's shared-memory import.
    ///
    /// # Errors
    ///
    /// [`WasmError::NeedsSharedMemoryImport`] if the module imports no shared memory.
    pub fn new_memory(&self, runtime: &Runtime) -> Result<GuestMemory, WasmError> {
        let (_, _, min, max) = self
            .shared_memory_import()
            .ok_or(WasmError::NeedsSharedMemoryImport { threads: 1 })?;
        GuestMemory::new(runtime, min, max)
    }
}
