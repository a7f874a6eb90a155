//! The module rewrite: every `memory.atomic.wait32`, `memory.atomic.wait64` and
//! `memory.atomic.notify` becomes a `call` of an imported host function.
//!
//! One import is added per distinct (opcode, memory index, static offset) triple, so the call
//! takes exactly the operands the instruction took and the rewrite is one instruction for one.
//! The imports are appended at the end of the import section; imported functions come first
//! in the function index space, so every *defined* function index shifts up by the number of
//! added imports and every place that names a function (`call`, `return_call`, `ref.func`,
//! exports, the start function, element segments, the name section) is remapped. The memories
//! that the host functions must reach are exported under [`memory_export_name`] so the host
//! can find them in the instance. Nothing else in the module changes: all other atomic
//! opcodes keep running natively in wasmtime.

use std::collections::{HashMap, HashSet};

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    EntityType, ExportKind, ExportSection, ImportSection, Instruction, Module, SectionId,
    TypeSection, ValType,
};
use wasmparser::{Operator, Parser, Payload, TypeRef};

use crate::host::{AtomicOp, HostImport};

/// The import module name under which the rewritten opcodes are imported.
pub const HOST_MODULE: &str = "agentsync:atomics";

/// The host function's parameters: the operands of the opcode it replaces.
fn params(import: &HostImport) -> Vec<ValType> {
    let addr = if import.memory64 {
        ValType::I64
    } else {
        ValType::I32
    };
    match import.op {
        AtomicOp::Wait32 => vec![addr, ValType::I32, ValType::I64],
        AtomicOp::Wait64 => vec![addr, ValType::I64, ValType::I64],
        AtomicOp::Notify => vec![addr, ValType::I32],
    }
}

/// The export name under which the rewrite exposes memory `index` to the host functions,
/// unless the module already exports that name (then see [`Rewritten::memory_exports`]).
pub fn memory_export_name(index: u32) -> String {
    format!("agentsync:memory{index}")
}

/// What the rewrite produced.
#[derive(Debug, Clone)]
pub struct Rewritten {
    /// The new module bytes (the input itself when nothing needed rewriting).
    pub bytes: Vec<u8>,
    /// The added imports, in import order.
    pub imports: Vec<HostImport>,
    /// `(memory index, export name)` of each memory the rewrite exported for the host
    /// functions: [`memory_export_name`], with `'` appended until no export of the module
    /// has that name.
    pub memory_exports: Vec<(u32, String)>,
}

/// A module scanned for what the rewrite needs.
#[derive(Default)]
struct Scan {
    func_imports: u32,
    types: u32,
    /// `(shared, memory64)` per memory index.
    memories: Vec<(bool, bool)>,
    exported_memories: Vec<u32>,
    /// The module's own export names, which the rewrite's exports must not repeat.
    export_names: HashSet<String>,
    imports: Vec<HostImport>,
    /// `(op, memory, offset)` → position in `imports`, so each opcode finds its import in
    /// constant time (a linear search made modules with many offsets quadratic).
    positions: HashMap<(AtomicOp, u32, u64), u32>,
}

fn scan(wasm: &[u8]) -> wasmparser::Result<Scan> {
    let mut s = Scan::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    s.types += group?.types().len() as u32;
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => s.func_imports += 1,
                        TypeRef::Memory(m) => s.memories.push((m.shared, m.memory64)),
                        _ => {}
                    }
                }
            }
            Payload::ExportSection(r) => {
                for export in r {
                    s.export_names.insert(export?.name.to_string());
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    let m = m?;
                    s.memories.push((m.shared, m.memory64));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    let (op, memarg) = match ops.read()? {
                        Operator::MemoryAtomicWait32 { memarg } => (AtomicOp::Wait32, memarg),
                        Operator::MemoryAtomicWait64 { memarg } => (AtomicOp::Wait64, memarg),
                        Operator::MemoryAtomicNotify { memarg } => (AtomicOp::Notify, memarg),
                        _ => continue,
                    };
                    let memory64 = s.memories.get(memarg.memory as usize).is_some_and(|m| m.1);
                    let import = HostImport {
                        op,
                        memory: memarg.memory,
                        offset: memarg.offset,
                        memory64,
                    };
                    let next = s.imports.len() as u32;
                    let key = (op, memarg.memory, memarg.offset);
                    if *s.positions.entry(key).or_insert(next) == next {
                        s.imports.push(import);
                    }
                    if !s.exported_memories.contains(&memarg.memory) {
                        s.exported_memories.push(memarg.memory);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// Rewrites `wasm` (a valid core module) so its wait/notify opcodes call host imports.
///
/// # Errors
///
/// A parse error of the input (callers validate first, so this means a malformed module).
pub fn rewrite(wasm: &[u8]) -> Result<Rewritten, reencode::Error> {
    let scan = scan(wasm)?;
    if scan.imports.is_empty() {
        return Ok(Rewritten {
            bytes: wasm.to_vec(),
            imports: Vec::new(),
            memory_exports: Vec::new(),
        });
    }
    let memory_exports = scan
        .exported_memories
        .iter()
        .map(|&m| {
            let mut name = memory_export_name(m);
            while scan.export_names.contains(&name) {
                name.push('\'');
            }
            (m, name)
        })
        .collect();
    let mut r = Rewriter {
        scan,
        memory_exports,
        types_done: false,
        imports_done: false,
        exports_done: false,
    };
    let mut module = Module::new();
    r.parse_core_module(&mut module, Parser::new(0), wasm)?;
    Ok(Rewritten {
        bytes: module.finish(),
        imports: r.scan.imports,
        memory_exports: r.memory_exports,
    })
}

struct Rewriter {
    scan: Scan,
    memory_exports: Vec<(u32, String)>,
    types_done: bool,
    imports_done: bool,
    exports_done: bool,
}

impl Rewriter {
    fn added(&self) -> u32 {
        self.scan.imports.len() as u32
    }

    fn call_for(&self, op: AtomicOp, memarg: &wasmparser::MemArg) -> Option<u32> {
        let at = self
            .scan
            .positions
            .get(&(op, memarg.memory, memarg.offset))?;
        Some(self.scan.func_imports + at)
    }

    fn push_types(&mut self, types: &mut TypeSection) {
        for import in &self.scan.imports {
            types.ty().function(params(import), [ValType::I32]);
        }
        self.types_done = true;
    }

    fn push_imports(&mut self, imports: &mut ImportSection) {
        for (k, import) in self.scan.imports.iter().enumerate() {
            let ty = EntityType::Function(self.scan.types + k as u32);
            imports.import(HOST_MODULE, &import.field_name(), ty);
        }
        self.imports_done = true;
    }

    fn push_exports(&mut self, exports: &mut ExportSection) {
        for (m, name) in &self.memory_exports {
            exports.export(name, ExportKind::Memory, *m);
        }
        self.exports_done = true;
    }
}

/// Section order rank, to know whether a missing section must be created before `before`.
fn rank(id: Option<SectionId>) -> u8 {
    match id {
        Some(SectionId::Type) => 1,
        Some(SectionId::Import) => 2,
        Some(SectionId::Function | SectionId::Table | SectionId::Memory | SectionId::Tag) => 3,
        Some(SectionId::Global) => 4,
        Some(SectionId::Export) => 5,
        Some(_) => 6,
        None => u8::MAX,
    }
}

impl Reencode for Rewriter {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error> {
        if func >= self.scan.func_imports {
            Ok(func + self.added())
        } else {
            Ok(func)
        }
    }

    fn instruction<'a>(&mut self, op: Operator<'a>) -> Result<Instruction<'a>, reencode::Error> {
        let call = match &op {
            Operator::MemoryAtomicWait32 { memarg } => self.call_for(AtomicOp::Wait32, memarg),
            Operator::MemoryAtomicWait64 { memarg } => self.call_for(AtomicOp::Wait64, memarg),
            Operator::MemoryAtomicNotify { memarg } => self.call_for(AtomicOp::Notify, memarg),
            _ => None,
        };
        match call {
            Some(index) => Ok(Instruction::Call(index)),
            None => reencode::utils::instruction(self, op),
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_type_section(self, types, section)?;
        self.push_types(types);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_import_section(self, imports, section)?;
        self.push_imports(imports);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_export_section(self, exports, section)?;
        self.push_exports(exports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), reencode::Error> {
        let next = rank(before);
        if !self.types_done && next > rank(Some(SectionId::Type)) {
            let mut types = TypeSection::new();
            self.push_types(&mut types);
            module.section(&types);
        }
        if !self.imports_done && next > rank(Some(SectionId::Import)) {
            let mut imports = ImportSection::new();
            self.push_imports(&mut imports);
            module.section(&imports);
        }
        if !self.exports_done && next > rank(Some(SectionId::Export)) {
            let mut exports = ExportSection::new();
            self.push_exports(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        let buf = wast::parser::ParseBuffer::new(text).unwrap();
        let mut module = wast::parser::parse::<wast::Wat>(&buf).unwrap();
        module.encode().unwrap()
    }

    #[test]
    fn module_without_wait_or_notify_is_returned_unchanged() {
        let bytes =
            wat("(module (memory 1 1 shared) (func (drop (i32.atomic.load (i32.const 0)))))");
        let out = rewrite(&bytes).unwrap();
        assert!(out.imports.is_empty());
        assert_eq!(out.bytes, bytes);
    }

    #[test]
    fn one_import_per_distinct_op_memory_and_offset() {
        let bytes = wat(r#"(module (memory 1 1 shared)
                (func (drop (memory.atomic.notify offset=4 (i32.const 0) (i32.const 1)))
                      (drop (memory.atomic.notify offset=4 (i32.const 8) (i32.const 1)))
                      (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
                      (drop (memory.atomic.wait32 (i32.const 0) (i32.const 1) (i64.const 0)))))"#);
        let out = rewrite(&bytes).unwrap();
        let names: Vec<String> = out.imports.iter().map(HostImport::field_name).collect();
        assert_eq!(names, ["notify/m0/+4", "notify/m0/+0", "wait32/m0/+0"]);
        let mut ops = 0;
        for payload in Parser::new(0).parse_all(&out.bytes) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut reader = body.get_operators_reader().unwrap();
                while !reader.eof() {
                    match reader.read().unwrap() {
                        Operator::MemoryAtomicNotify { .. }
                        | Operator::MemoryAtomicWait32 { .. } => ops += 1,
                        _ => {}
                    }
                }
            }
        }
        assert_eq!(ops, 0, "every wait/notify opcode was replaced by a call");
    }

    #[test]
    fn defined_function_indices_shift_past_the_added_imports() {
        let bytes = wat(r#"(module (import "m" "f" (func $imp)) (memory 1 1 shared)
                (table funcref (elem $g))
                (func $f (export "f") (call $g) (call $imp))
                (func $g (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
                (start $f))"#);
        let out = rewrite(&bytes).unwrap();
        assert_eq!(out.imports.len(), 1);
        let mut calls = Vec::new();
        let mut start = None;
        let mut export = None;
        for payload in Parser::new(0).parse_all(&out.bytes) {
            match payload.unwrap() {
                Payload::StartSection { func, .. } => start = Some(func),
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.unwrap();
                        if e.name == "f" {
                            export = Some(e.index);
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mut reader = body.get_operators_reader().unwrap();
                    while !reader.eof() {
                        if let Operator::Call { function_index } = reader.read().unwrap() {
                            calls.push(function_index);
                        }
                    }
                }
                _ => {}
            }
        }
        // Imports: $imp = 0, notify = 1; defined: $f = 2, $g = 3.
        assert_eq!(calls, [3, 0, 1]);
        assert_eq!(start, Some(2));
        assert_eq!(export, Some(2));
    }
}
