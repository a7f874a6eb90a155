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

use wasmtime::{Extern, Instance, Linker, Store, Val, ValType};
use wast::core::{NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::{Id, Span};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use crate::error::{describe, WasmError};
use crate::profile::Profile;
use crate::runtime::{GuestState, Program, Runtime};

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
    /// Directives that failed where the profile lists a known divergence of the engine:
    /// `line:column: reason (what happened)`. Neither passed nor failed.
    pub divergences: Vec<String>,
}

impl FileReport {
    /// Whether every directive passed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }

    /// The one line printed for this file.
    pub fn line(&self) -> String {
        if self.ok() && self.divergences.is_empty() {
            format!("ok   {} ({} directives)", self.path, self.passed)
        } else if self.ok() {
            let known = self.divergences.len();
            let plural = if known == 1 { "" } else { "s" };
            format!(
                "ok   {} ({} directives, {known} known divergence{plural})",
                self.path, self.passed
            )
        } else {
            // The summary stays one line even if a message spans several.
            let first = self
                .failures
                .first()
                .and_then(|f| f.lines().next())
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
    let each = |_: &FileReport| Ok::<(), std::convert::Infallible>(());
    match run_wast_each(runtime, paths, each) {
        Ok(report) => report,
        Err(never) => match never {},
    }
}

/// [`run_wast_on`], calling `each` with every script's report as soon as that script is done
/// (so a caller can print it before the next script runs, and a script that hangs still leaves
/// the earlier results on screen).
///
/// # Errors
///
/// The first error `each` returns; the remaining scripts are not run.
///
/// # Blocking
///
/// While the scripts run.
pub fn run_wast_each<E>(
    runtime: &'static Runtime,
    paths: &[PathBuf],
    each: impl FnMut(&FileReport) -> Result<(), E>,
) -> Result<WastReport, E> {
    run_scripts(runtime, Profile::Current, paths, each)
}

/// [`run_wast_each`] against a version of the spec: `profile` chooses the runtime, which
/// modules are valid, and the engine's known divergences (see [`Profile`]). A directory stands
/// for the `.wast` files under it, sorted by path.
///
/// # Errors
///
/// The first error `each` returns; the remaining scripts are not run.
///
/// # Blocking
///
/// While the scripts run.
pub fn run_wast_profile<E>(
    profile: Profile,
    paths: &[PathBuf],
    each: impl FnMut(&FileReport) -> Result<(), E>,
) -> Result<WastReport, E> {
    let mut expanded = Vec::new();
    for path in paths {
        if path.is_dir() {
            let start = expanded.len();
            collect_scripts(path, &mut expanded);
            expanded[start..].sort();
        } else {
            expanded.push(path.clone());
        }
    }
    run_scripts(profile.runtime(), profile, &expanded, each)
}

/// The `.wast` files under `dir`, at any depth (a directory that cannot be read stands for
/// itself, so that it is reported as unreadable rather than dropped).
fn collect_scripts(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        into.push(dir.to_path_buf());
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            collect_scripts(&path, into);
        } else if path.extension().is_some_and(|x| x == "wast") {
            into.push(path);
        }
    }
}

fn run_scripts<E>(
    runtime: &'static Runtime,
    profile: Profile,
    paths: &[PathBuf],
    mut each: impl FnMut(&FileReport) -> Result<(), E>,
) -> Result<WastReport, E> {
    let mut report = WastReport::default();
    for path in paths {
        let name = path.display().to_string();
        let file = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => run_text(runtime, profile, &name, &text),
                Err(e) => unreadable(&name, format!("not UTF-8 text: {e}")),
            },
            Err(e) => unreadable(&name, format!("cannot read: {e}")),
        };
        each(&file)?;
        if file.ok() {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
        report.files.push(file);
    }
    Ok(report)
}

/// The report of a script that could not be read.
fn unreadable(name: &str, why: String) -> FileReport {
    FileReport {
        path: name.to_string(),
        passed: 0,
        failed: 1,
        failures: vec![why],
        divergences: Vec::new(),
    }
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
    run_text(runtime, Profile::Current, name, text)
}

/// Runs one script against a version of the spec (see [`Profile`]); `name` labels the report
/// and, by its file name, finds the profile's known divergences.
///
/// # Blocking
///
/// While the script runs.
pub fn run_wast_text_profile(profile: Profile, name: &str, text: &str) -> FileReport {
    run_text(profile.runtime(), profile, name, text)
}

fn run_text(runtime: &'static Runtime, profile: Profile, name: &str, text: &str) -> FileReport {
    let mut report = FileReport {
        path: name.to_string(),
        ..FileReport::default()
    };
    // Spec scripts may hold any Unicode in strings (names.wast has bidi controls); the wast
    // crate's lint against confusable characters is not a spec rule.
    let mut lexer = Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let parsed = ParseBuffer::new_with_lexer(lexer).and_then(|buf| {
        let wast = parser::parse::<Wast>(&buf)?;
        std::thread::scope(|scope| {
            let mut cx = Context::new(runtime, profile, scope, text, HashMap::new());
            for directive in wast.directives {
                cx.directive(directive);
            }
            cx.finish(&mut report);
        });
        Ok(())
    });
    if let Err(e) = parsed {
        report.failed += 1;
        report.failures.push(one_line(&e, text));
    }
    apply_divergences(profile, &mut report);
    report
}

/// Moves the failures the profile lists as known divergences to `divergences`; a listed
/// divergence that did not fail becomes a failure, so the list cannot go stale.
fn apply_divergences(profile: Profile, report: &mut FileReport) {
    let file = Path::new(&report.path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let listed: Vec<_> = profile
        .known_divergences()
        .iter()
        .filter(|d| d.file == file)
        .collect();
    if listed.is_empty() {
        return;
    }
    for divergence in listed {
        let prefix = format!("{}: ", divergence.at);
        match report.failures.iter().position(|f| f.starts_with(&prefix)) {
            Some(index) => {
                let failure = report.failures.remove(index);
                report.failed -= 1;
                report.divergences.push(format!(
                    "{}: {} ({})",
                    divergence.at,
                    divergence.reason,
                    &failure[prefix.len()..]
                ));
            }
            None => {
                report.failed += 1;
                report.failures.push(format!(
                    "{}: listed as a known divergence ({}) of profile {}, but it did not fail",
                    divergence.at,
                    divergence.reason,
                    profile.name()
                ));
            }
        }
    }
}

/// A parse error as one line `line:column: message`, the position in the script itself (the
/// `wast` crate's own rendering spans several lines, with a caret diagram).
fn one_line(error: &wast::Error, text: &str) -> String {
    let (line, col) = error.span().linecol_in(text);
    format!("{}:{}: {}", line + 1, col + 1, error.message())
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
    profile: Profile,
    store: Store<GuestState>,
    linker: Linker<GuestState>,
    current: Option<Instance>,
    named: HashMap<String, Named>,
    definitions: HashMap<String, Program>,
    /// Threads started and not yet waited for, with the span of their `thread` directive.
    threads: HashMap<String, (Span, ScopedJoinHandle<'scope, Tally>)>,
    tally: Tally,
}

type Outcome = Result<(), String>;

impl<'scope, 'env: 'scope> Context<'scope, 'env> {
    fn new(
        runtime: &'static Runtime,
        profile: Profile,
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
            profile,
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
        let mut pending: Vec<_> = self.threads.drain().collect();
        pending.sort_by_key(|(_, (span, _))| span.offset());
        for (name, (span, handle)) in pending {
            self.record(span, Err(format!("thread ${name} was never waited for")));
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
            WastDirective::Thread(thread) => self.thread(span, thread),
            WastDirective::Wait { thread, .. } => self.wait(thread),
            other => Err(format!("unsupported directive: {}", directive_name(&other))),
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
        // One line: the directive's line:column is added by `record`; a quoted module's spans
        // point into the quoted text, not into the script.
        let bytes = module
            .encode()
            .map_err(|e| WasmError::Malformed(e.message()))?;
        self.profile.check(&bytes)?;
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

    /// Calls an export. Arguments that do not fit its parameters are a [`WasmError::ArgumentCount`]
    /// or [`WasmError::BadArgument`] of the script, found before the call, so that no
    /// `assert_trap` can take them for a trap.
    fn invoke(&mut self, invoke: WastInvoke<'_>) -> Result<Vec<Val>, WasmError> {
        let instance = self.instance_for(invoke.module)?;
        let args = invoke
            .args
            .iter()
            .map(|a| arg(&mut self.store, a))
            .collect::<Result<Vec<_>, _>>()?;
        let func = instance
            .get_func(&mut self.store, invoke.name)
            .ok_or_else(|| WasmError::NoSuchFunction(invoke.name.to_string()))?;
        let params: Vec<ValType> = func.ty(&self.store).params().collect();
        if params.len() != args.len() {
            return Err(WasmError::ArgumentCount {
                expected: params.len(),
                given: args.len(),
            });
        }
        for (value, ty) in args.iter().zip(&params) {
            if !value.matches_ty(&self.store, ty).unwrap_or(false) {
                return Err(WasmError::BadArgument {
                    given: crate::runtime::Value::from(value).to_string(),
                    expected: ty.to_string(),
                });
            }
        }
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
            // A host reference (`ref.extern N`) is compared by the number it carries.
            let host = match value {
                Val::ExternRef(Some(r)) => r
                    .data(&self.store)
                    .ok()
                    .flatten()
                    .and_then(|d| d.downcast_ref::<u32>().copied()),
                _ => None,
            };
            if !matches(value, want, host) {
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
            // An unlinkable module is a valid one: failing before linking is another error.
            Err(e) if kind == "unlinkable" => {
                Err(format!("expected unlinkable ({message}), got {e}"))
            }
            Err(_) => Ok(()),
            Ok((_, program)) if kind == "unlinkable" => self.expect_unlinkable(&program, message),
            Ok(_) => Err(format!("expected {kind} module ({message}), it compiled")),
        }
    }

    /// Passes only if the imports cannot be resolved. A trap while instantiating (a start
    /// function, a segment out of bounds) is a trap, not a link error.
    fn expect_unlinkable(&mut self, program: &Program, message: &str) -> Outcome {
        match program.instantiate(&mut self.store, None, Some(&self.linker)) {
            Err(WasmError::Link(_)) => Ok(()),
            Err(e) => Err(format!("expected unlinkable ({message}), got {e}")),
            Ok(_) => Err(format!("expected unlinkable ({message}), module linked")),
        }
    }

    fn thread(&mut self, span: Span, thread: wast::WastThread<'env>) -> Outcome {
        let mut shared = HashMap::new();
        if let Some(id) = thread.shared_module {
            let memories = self
                .exports_of(Some(id))?
                .into_iter()
                .filter(|(_, e)| matches!(e, Extern::SharedMemory(_)))
                .collect();
            shared.insert(id.name().to_string(), Named::Shared(memories));
        }
        let (runtime, profile, scope, text) = (self.runtime, self.profile, self.scope, self.text);
        let directives = thread.directives;
        let handle = scope.spawn(move || {
            let mut child = Context::new(runtime, profile, scope, text, shared);
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
        let name = thread.name.name().to_string();
        match self.threads.insert(name.clone(), (span, handle)) {
            None => Ok(()),
            // The earlier thread still counts: join it so its results are not lost.
            Some((_, earlier)) => {
                self.join(earlier);
                Err(format!(
                    "thread ${name} started again before a (wait ${name}) for the first one"
                ))
            }
        }
    }

    fn wait(&mut self, thread: Id<'_>) -> Outcome {
        let (_, handle) = self
            .threads
            .remove(thread.name())
            .ok_or_else(|| format!("no running thread ${}", thread.name()))?;
        self.join(handle);
        Ok(())
    }
}

/// The keyword of a directive the runner does not support, for its failure message.
fn directive_name(directive: &WastDirective<'_>) -> &'static str {
    match directive {
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Module(QuoteWat::QuoteComponent(..))
        | WastDirective::ModuleDefinition(QuoteWat::QuoteComponent(..)) => "component",
        _ => "this directive",
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

fn arg(store: &mut Store<GuestState>, a: &WastArg<'_>) -> Result<Val, WasmError> {
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
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(
            wasmtime::ExternRef::new(&mut *store, *n).map_err(|e| WasmError::Trap(describe(&e)))?,
        )),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes()).into()),
        WastArgCore::RefNull(wast::core::HeapType::Abstract {
            ty: wast::core::AbstractHeapType::Extern,
            ..
        }) => Val::ExternRef(None),
        WastArgCore::RefNull(_) => Val::FuncRef(None),
        other => {
            return Err(WasmError::Malformed(format!(
                "unsupported argument {other:?}"
            )))
        }
    })
}

/// Whether `value` is what the script wants; `host` is the number a host reference carries.
fn matches(value: &Val, want: &WastRetCore<'_>, host: Option<u32>) -> bool {
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
        (Val::V128(v), WastRetCore::V128(pattern)) => v128_matches(v.as_u128(), pattern),
        (Val::FuncRef(f), WastRetCore::RefNull(_)) => f.is_none(),
        (Val::ExternRef(r), WastRetCore::RefNull(_)) => r.is_none(),
        (Val::FuncRef(f), WastRetCore::RefFunc(_)) => f.is_some(),
        (Val::ExternRef(Some(_)), WastRetCore::RefExtern(None)) => true,
        (Val::ExternRef(Some(_)), WastRetCore::RefExtern(Some(n))) => host == Some(*n),
        (v, WastRetCore::Either(options)) => options.iter().any(|w| matches(v, w, host)),
        _ => false,
    }
}

/// Whether a `v128` result matches its pattern, lane by lane (little-endian lanes).
fn v128_matches(bits: u128, pattern: &V128Pattern) -> bool {
    let bytes = bits.to_le_bytes();
    let lane = |width: usize, index: usize| -> u64 {
        let mut value = [0u8; 8];
        value[..width].copy_from_slice(&bytes[index * width..(index + 1) * width]);
        u64::from_le_bytes(value)
    };
    let f32_lane = |index: usize, want: &NanPattern<wast::token::F32>| {
        let bits = lane(4, index) as u32;
        matches(&Val::F32(bits), &WastRetCore::F32(*want), None)
    };
    let f64_lane = |index: usize, want: &NanPattern<wast::token::F64>| {
        matches(&Val::F64(lane(8, index)), &WastRetCore::F64(*want), None)
    };
    match pattern {
        V128Pattern::I8x16(w) => (0..16).all(|i| lane(1, i) as u8 == w[i] as u8),
        V128Pattern::I16x8(w) => (0..8).all(|i| lane(2, i) as u16 == w[i] as u16),
        V128Pattern::I32x4(w) => (0..4).all(|i| lane(4, i) as u32 == w[i] as u32),
        V128Pattern::I64x2(w) => (0..2).all(|i| lane(8, i) == w[i] as u64),
        V128Pattern::F32x4(w) => (0..4).all(|i| f32_lane(i, &w[i])),
        V128Pattern::F64x2(w) => (0..2).all(|i| f64_lane(i, &w[i])),
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
