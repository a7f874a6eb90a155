//! A spec-script (`.wast`) runner on our rewritten runtime.
//!
//! Supports `module` (text, binary, quote, definitions and instances), `register`, `invoke`,
//! `get`, `assert_return`, `assert_trap`, `assert_exhaustion`, `assert_invalid`,
//! `assert_malformed`, `assert_unlinkable`, and the threads proposal's `thread` and `wait`:
//! a `thread` runs its directives on a new OS thread with its own store; its `shared (module
//! $M)` makes `$M`'s shared memories visible there (the only kind of export that may cross
//! stores), exactly what the threads proposal's scripts rely on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::thread::{Scope, ScopedJoinHandle};

use wasmtime::{Extern, Instance, Linker, Store, Val};
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::token::{Id, Span};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use crate::compile::Program;
use crate::engine::Runtime;
use crate::error::{describe, WasmError};
use crate::runtime::GuestState;

/// The outcome of one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The path (or name) of the script.
    pub path: String,
    /// Directives that did what the script says.
    pub passed: usize,
    /// Directives that did not; described in `failures`.
    pub failed: usize,
    /// One line per failure: `line:column: what happened`.
    pub failures: Vec<String>,
}

impl FileReport {
    /// Whether every directive passed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }

    /// The one line printed for this file.
    pub fn line(&self) -> String {
        if self.ok() {
            format!("ok   {} ({} directives)", self.path, self.passed)
        } else {
            let first = self
                .failures
                .first()
                .map(String::as_str)
                .unwrap_or("no directives");
            format!(
                "FAIL {} ({} passed, {} failed; first: {first})",
                self.path, self.passed, self.failed
            )
        }
    }
}

/// What [`run_wast`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WastReport {
    /// One report per script, in the order given.
    pub files: Vec<FileReport>,
    /// Scripts in which every directive passed.
    pub passed: usize,
    /// Scripts with at least one failure (or that could not be read or parsed).
    pub failed: usize,
}

impl WastReport {
    /// The final line: `N passed, N failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// `agentsync wast FILE...`: runs each script and counts the files that pass.
///
/// # Blocking
///
/// While the scripts run (their threads may wait).
pub fn run_wast(paths: &[PathBuf]) -> WastReport {
    run_wast_on(Runtime::shared(), paths)
}

/// [`run_wast`] on a chosen runtime, e.g. [`Runtime::threads_proposal`] for the threads
/// proposal's own scripts, which assume one memory and one table per module.
///
/// # Blocking
///
/// While the scripts run.
pub fn run_wast_on(runtime: &'static Runtime, paths: &[PathBuf]) -> WastReport {
    let mut report = WastReport::default();
    for path in paths {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => run_wast_text_on(runtime, &path.display().to_string(), &text),
            Err(e) => FileReport {
                path: path.display().to_string(),
                passed: 0,
                failed: 1,
                failures: vec![format!("cannot read: {e}")],
            },
        };
        if file.ok() {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
        report.files.push(file);
    }
    report
}

/// Runs one script given as text; `name` labels the report.
///
/// ```
/// let report = agentsync_wasm::run_wast_text(
///     "demo.wast",
///     r#"(module (memory 1 1 shared)
///          (func (export "wait") (result i32)
///            (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0))))
///        (assert_return (invoke "wait") (i32.const 2))
///        (assert_trap (invoke "missing") "unknown")"#,
/// );
/// assert_eq!((report.passed, report.failed), (2, 1));
/// assert!(report.line().starts_with("FAIL demo.wast"));
/// ```
///
/// # Blocking
///
/// While the script runs.
pub fn run_wast_text(name: &str, text: &str) -> FileReport {
    run_wast_text_on(Runtime::shared(), name, text)
}

/// Runs one script on `runtime` (e.g. [`Runtime::threads_proposal`] for the threads
/// proposal's own scripts).
///
/// # Blocking
///
/// While the script runs.
pub fn run_wast_text_on(runtime: &'static Runtime, name: &str, text: &str) -> FileReport {
    let mut report = FileReport {
        path: name.to_string(),
        ..FileReport::default()
    };
    let buf = match ParseBuffer::new(text) {
        Ok(buf) => buf,
        Err(mut e) => {
            e.set_text(text);
            report.failed = 1;
            report.failures.push(e.to_string());
            return report;
        }
    };
    let wast = match parser::parse::<Wast>(&buf) {
        Ok(wast) => wast,
        Err(mut e) => {
            e.set_text(text);
            report.failed = 1;
            report.failures.push(e.to_string());
            return report;
        }
    };
    std::thread::scope(|scope| {
        let mut cx = Context::new(runtime, scope, text, HashMap::new());
        for directive in wast.directives {
            cx.directive(directive);
        }
        cx.finish(&mut report);
    });
    report
}

/// What the threads of a script count.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

/// A named instance: local to this store, or shared memories from a parent thread's.
enum Named {
    Local(Instance),
    Shared(Vec<(String, Extern)>),
}

struct Context<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    text: &'env str,
    runtime: &'static Runtime,
    store: Store<GuestState>,
    linker: Linker<GuestState>,
    current: Option<Instance>,
    named: HashMap<String, Named>,
    definitions: HashMap<String, Program>,
    threads: HashMap<String, ScopedJoinHandle<'scope, Tally>>,
    tally: Tally,
}

type Outcome = Result<(), String>;

impl<'scope, 'env: 'scope> Context<'scope, 'env> {
    fn new(
        runtime: &'static Runtime,
        scope: &'scope Scope<'scope, 'env>,
        text: &'env str,
        shared: HashMap<String, Named>,
    ) -> Self {
        let mut store = Store::new(runtime.engine(), GuestState::default());
        let mut linker = Linker::new(runtime.engine());
        linker.allow_shadowing(true);
        define_spectest(&mut store, &mut linker);
        Self {
            scope,
            text,
            runtime,
            store,
            linker,
            current: None,
            named: shared,
            definitions: HashMap::new(),
            threads: HashMap::new(),
            tally: Tally::default(),
        }
    }

    fn finish(mut self, report: &mut FileReport) {
        let pending: Vec<_> = self.threads.drain().collect();
        for (name, handle) in pending {
            self.record(
                Span::from_offset(0),
                Err(format!("thread ${name} never waited for")),
            );
            self.join(handle);
        }
        report.passed += self.tally.passed;
        report.failed += self.tally.failed;
        report.failures.append(&mut self.tally.failures);
    }

    fn join(&mut self, handle: ScopedJoinHandle<'scope, Tally>) {
        match handle.join() {
            Ok(mut t) => {
                self.tally.passed += t.passed;
                self.tally.failed += t.failed;
                self.tally.failures.append(&mut t.failures);
            }
            Err(_) => {
                self.tally.failed += 1;
                self.tally
                    .failures
                    .push("a script thread panicked".to_string());
            }
        }
    }

    fn record(&mut self, span: Span, outcome: Outcome) {
        match outcome {
            Ok(()) => self.tally.passed += 1,
            Err(message) => {
                let (line, col) = span.linecol_in(self.text);
                self.tally.failed += 1;
                self.tally
                    .failures
                    .push(format!("{}:{}: {message}", line + 1, col + 1));
            }
        }
    }

    fn directive(&mut self, directive: WastDirective<'env>) {
        let span = directive.span();
        let outcome = match directive {
            WastDirective::Module(module) => self.module(module),
            WastDirective::ModuleDefinition(module) => self.definition(module),
            WastDirective::ModuleInstance {
                instance, module, ..
            } => self.instance(instance, module),
            WastDirective::Register { name, module, .. } => self.register(name, module),
            WastDirective::Invoke(invoke) => {
                self.invoke(invoke).map(drop).map_err(|e| e.to_string())
            }
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, results),
            WastDirective::AssertTrap { exec, message, .. } => {
                expect_failure(self.execute(exec), message, "trap")
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                expect_failure(self.invoke(call), message, "exhaustion")
            }
            WastDirective::AssertInvalid {
                module, message, ..
            } => self.expect_no_module(module, message, "invalid"),
            WastDirective::AssertMalformed {
                module, message, ..
            } => self.expect_no_module(module, message, "malformed"),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => self.expect_no_module(QuoteWat::Wat(module), message, "unlinkable"),
            WastDirective::Thread(thread) => self.thread(thread),
            WastDirective::Wait { thread, .. } => self.wait(thread),
            other => Err(format!("unsupported directive at {:?}", other.span())),
        };
        self.record(span, outcome);
    }

    fn compile(
        &mut self,
        mut module: QuoteWat<'_>,
    ) -> Result<(Option<String>, Program), WasmError> {
        let id = match &module {
            QuoteWat::Wat(Wat::Module(m)) => m.id.map(|id| id.name().to_string()),
            _ => None,
        };
        let bytes = module.encode().map_err(|mut e| {
            e.set_text(self.text);
            WasmError::Malformed(e.to_string())
        })?;
        Ok((id, self.runtime.compile(&bytes)?))
    }

    fn instantiate(&mut self, program: &Program, id: Option<String>) -> Result<(), WasmError> {
        let instance = program.instantiate(&mut self.store, None, Some(&self.linker))?;
        self.current = Some(instance);
        if let Some(id) = id {
            self.named.insert(id, Named::Local(instance));
        }
        Ok(())
    }

    fn module(&mut self, module: QuoteWat<'_>) -> Outcome {
        let (id, program) = self.compile(module).map_err(|e| e.to_string())?;
        self.instantiate(&program, id).map_err(|e| e.to_string())
    }

    fn definition(&mut self, module: QuoteWat<'_>) -> Outcome {
        let (id, program) = self.compile(module).map_err(|e| e.to_string())?;
        self.definitions.insert(id.unwrap_or_default(), program);
        Ok(())
    }

    fn instance(&mut self, instance: Option<Id<'_>>, module: Option<Id<'_>>) -> Outcome {
        let key = module.map(|m| m.name().to_string()).unwrap_or_default();
        let program = self
            .definitions
            .get(&key)
            .cloned()
            .ok_or_else(|| format!("no module definition ${key}"))?;
        self.instantiate(&program, instance.map(|i| i.name().to_string()))
            .map_err(|e| e.to_string())
    }

    fn exports_of(&mut self, module: Option<Id<'_>>) -> Result<Vec<(String, Extern)>, String> {
        let named = match module {
            Some(id) => self
                .named
                .get(id.name())
                .ok_or_else(|| format!("unknown module ${}", id.name()))?,
            None => {
                let instance = self.current.ok_or("no current module")?;
                return Ok(local_exports(&mut self.store, &instance));
            }
        };
        Ok(match named {
            Named::Shared(items) => items.clone(),
            Named::Local(instance) => {
                let instance = *instance;
                local_exports(&mut self.store, &instance)
            }
        })
    }

    fn register(&mut self, name: &str, module: Option<Id<'_>>) -> Outcome {
        for (field, item) in self.exports_of(module)? {
            self.linker
                .define(&self.store, name, &field, item)
                .map_err(|e| describe(&e))?;
        }
        Ok(())
    }

    fn instance_for(&self, module: Option<Id<'_>>) -> Result<Instance, WasmError> {
        match module {
            None => self
                .current
                .ok_or_else(|| WasmError::Link("no current module".into())),
            Some(id) => match self.named.get(id.name()) {
                Some(Named::Local(i)) => Ok(*i),
                _ => Err(WasmError::Link(format!("unknown module ${}", id.name()))),
            },
        }
    }

    fn invoke(&mut self, invoke: WastInvoke<'_>) -> Result<Vec<Val>, WasmError> {
        let instance = self.instance_for(invoke.module)?;
        let args = invoke.args.iter().map(arg).collect::<Result<Vec<_>, _>>()?;
        crate::runtime::call(&mut self.store, &instance, invoke.name, &args)
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<Val>, WasmError> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Wat(wat) => {
                let (_, program) = self.compile(QuoteWat::Wat(wat))?;
                program.instantiate(&mut self.store, None, Some(&self.linker))?;
                Ok(Vec::new())
            }
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance_for(module)?;
                let g = instance
                    .get_global(&mut self.store, global)
                    .ok_or_else(|| WasmError::NoSuchFunction(global.to_string()))?;
                Ok(vec![g.get(&mut self.store)])
            }
        }
    }

    fn assert_return(&mut self, exec: WastExecute<'_>, expected: Vec<WastRet<'_>>) -> Outcome {
        let got = self.execute(exec).map_err(|e| e.to_string())?;
        if got.len() != expected.len() {
            return Err(format!(
                "{} results, expected {}",
                got.len(),
                expected.len()
            ));
        }
        for (value, want) in got.iter().zip(&expected) {
            let WastRet::Core(want) = want else {
                return Err("component results are not supported".to_string());
            };
            if !matches(value, want) {
                return Err(format!("got {value:?}, expected {want:?}"));
            }
        }
        Ok(())
    }

    fn expect_no_module(&mut self, module: QuoteWat<'_>, message: &str, kind: &str) -> Outcome {
        match self.compile(module) {
            Err(WasmError::Malformed(e)) if kind == "invalid" => {
                Err(format!("expected invalid ({message}), got malformed: {e}"))
            }
            Err(_) => Ok(()),
            Ok((_, program)) if kind == "unlinkable" => {
                match program.instantiate(&mut self.store, None, Some(&self.linker)) {
                    Err(WasmError::Link(_)) | Err(WasmError::Trap(_)) => Ok(()),
                    Err(e) => Err(format!("expected unlinkable ({message}), got {e}")),
                    Ok(_) => Err(format!("expected unlinkable ({message}), module linked")),
                }
            }
            Ok(_) => Err(format!("expected {kind} module ({message}), it compiled")),
        }
    }

    fn thread(&mut self, thread: wast::WastThread<'env>) -> Outcome {
        let mut shared = HashMap::new();
        if let Some(id) = thread.shared_module {
            let memories = self
                .exports_of(Some(id))?
                .into_iter()
                .filter(|(_, e)| matches!(e, Extern::SharedMemory(_)))
                .collect();
            shared.insert(id.name().to_string(), Named::Shared(memories));
        }
        let (runtime, scope, text) = (self.runtime, self.scope, self.text);
        let directives = thread.directives;
        let handle = scope.spawn(move || {
            let mut child = Context::new(runtime, scope, text, shared);
            for directive in directives {
                child.directive(directive);
            }
            let mut report = FileReport::default();
            child.finish(&mut report);
            Tally {
                passed: report.passed,
                failed: report.failed,
                failures: report.failures,
            }
        });
        self.threads.insert(thread.name.name().to_string(), handle);
        Ok(())
    }

    fn wait(&mut self, thread: Id<'_>) -> Outcome {
        let handle = self
            .threads
            .remove(thread.name())
            .ok_or_else(|| format!("no running thread ${}", thread.name()))?;
        self.join(handle);
        Ok(())
    }
}

fn local_exports(store: &mut Store<GuestState>, instance: &Instance) -> Vec<(String, Extern)> {
    let names: Vec<String> = instance
        .exports(&mut *store)
        .map(|e| e.name().to_string())
        .collect();
    names
        .into_iter()
        .filter_map(|n| instance.get_export(&mut *store, &n).map(|e| (n, e)))
        .collect()
}

/// Passes if `outcome` failed with a message containing `message`.
fn expect_failure(outcome: Result<Vec<Val>, WasmError>, message: &str, kind: &str) -> Outcome {
    match outcome {
        Ok(values) => Err(format!("expected {kind} {message:?}, got {values:?}")),
        Err(WasmError::Trap(text)) if text.contains(message) => Ok(()),
        Err(e) => Err(format!("expected {kind} {message:?}, got {e}")),
    }
}

fn arg(a: &WastArg<'_>) -> Result<Val, WasmError> {
    let WastArg::Core(a) = a else {
        return Err(WasmError::Malformed(
            "component arguments are not supported".into(),
        ));
    };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::RefNull(_) => Val::FuncRef(None),
        other => {
            return Err(WasmError::Malformed(format!(
                "unsupported argument {other:?}"
            )))
        }
    })
}

fn matches(value: &Val, want: &WastRetCore<'_>) -> bool {
    match (value, want) {
        (Val::I32(v), WastRetCore::I32(w)) => v == w,
        (Val::I64(v), WastRetCore::I64(w)) => v == w,
        (Val::F32(bits), WastRetCore::F32(p)) => match p {
            NanPattern::Value(w) => *bits == w.bits,
            NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
            NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        },
        (Val::F64(bits), WastRetCore::F64(p)) => match p {
            NanPattern::Value(w) => *bits == w.bits,
            NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        },
        (Val::FuncRef(f), WastRetCore::RefNull(_)) => f.is_none(),
        (Val::FuncRef(f), WastRetCore::RefFunc(_)) => f.is_some(),
        (v, WastRetCore::Either(options)) => options.iter().any(|w| matches(v, w)),
        _ => false,
    }
}

/// The `spectest` module the official scripts import from.
fn define_spectest(store: &mut Store<GuestState>, linker: &mut Linker<GuestState>) {
    use wasmtime::{Global, GlobalType, Memory, MemoryType, Mutability, Table, TableType, ValType};
    let _ = linker.func_wrap("spectest", "print", || {});
    let _ = linker.func_wrap("spectest", "print_i32", |_: i32| {});
    let _ = linker.func_wrap("spectest", "print_i64", |_: i64| {});
    let _ = linker.func_wrap("spectest", "print_f32", |_: f32| {});
    let _ = linker.func_wrap("spectest", "print_f64", |_: f64| {});
    let _ = linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {});
    let _ = linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {});
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, value) in globals {
        if let Ok(g) = Global::new(&mut *store, GlobalType::new(ty, Mutability::Const), value) {
            let _ = linker.define(&*store, "spectest", name, g);
        }
    }
    let table_ty = TableType::new(wasmtime::RefType::FUNCREF, 10, Some(20));
    if let Ok(t) = Table::new(&mut *store, table_ty, wasmtime::Ref::Func(None)) {
        let _ = linker.define(&*store, "spectest", "table", t);
    }
    if let Ok(m) = Memory::new(&mut *store, MemoryType::new(1, Some(2))) {
        let _ = linker.define(&*store, "spectest", "memory", m);
    }
    if let Ok(m) = wasmtime::SharedMemory::new(store.engine(), MemoryType::shared(1, 2)) {
        let _ = linker.define(&*store, "spectest", "shared_memory", m);
    }
}

/// Runs the scripts under `dir` whose names end in `.wast`, sorted by name.
///
/// # Errors
///
/// If the directory cannot be read.
pub fn run_wast_dir(dir: &Path) -> std::io::Result<WastReport> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    paths.sort();
    Ok(run_wast(&paths))
}
