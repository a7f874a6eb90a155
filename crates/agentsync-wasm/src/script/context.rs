//! One script's (or one script thread's) state: its store, linker, named instances and
//! threads, and what each directive does.

use std::collections::HashMap;
use std::thread::{Scope, ScopedJoinHandle};

use wasmtime::{Extern, Instance, Linker, Store, Val, ValType};
use wast::token::{Id, Span};
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use super::values::{arg, define_spectest, matches, show_pattern, show_value, show_values};
use super::FileReport;
use crate::compile::Program;
use crate::engine::Runtime;
use crate::error::{describe, WasmError};
use crate::profile::Profile;
use crate::state::GuestState;

/// What the threads of a script count.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

/// A named instance: local to this store, or shared memories from a parent thread's.
pub(super) enum Named {
    Local(Instance),
    Shared(Vec<(String, Extern)>),
}

/// A script's state on one thread.
pub(super) struct Context<'scope, 'env> {
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
    pub(super) fn new(
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

    pub(super) fn finish(mut self, report: &mut FileReport) {
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

    pub(super) fn directive(&mut self, directive: WastDirective<'env>) {
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
                return Err(format!(
                    "got {}, expected {}",
                    show_value(value, host),
                    show_pattern(want)
                ));
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
            Err(e) if e.is_link_error() => Ok(()),
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
        Ok(values) => Err(format!(
            "expected {kind} {message:?}, got {}",
            show_values(&values)
        )),
        Err(WasmError::Trap(text)) if text.contains(message) => Ok(()),
        Err(e) => Err(format!("expected {kind} {message:?}, got {e}")),
    }
}
