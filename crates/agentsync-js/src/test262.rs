//! Running tc39's conformance suite, test262, on this host.
//!
//! The host side of test262's `INTERPRETING.md`: `print`, and `$262` with `global`,
//! `evalScript`, `createRealm`, `detachArrayBuffer`, `gc` and `agent`. Concurrent agents
//! (`$262.agent.start`) are agents of this host on their own threads, so their
//! `Atomics.wait` / `notify` are agentsync's like everywhere else; `broadcast` is native and
//! blocks the calling thread in Rust, so it works from a main agent that cannot block.
//!
//! [`load_test`] reads a test file and its frontmatter (`includes`, `flags`, `features`,
//! `negative`); [`Test::modes`] says how to run it (sloppy, strict, module, raw); [`run_mode`]
//! runs one mode on a thread of its own under a timeout and returns an [`Outcome`]. A test that
//! outlives its timeout is terminated through [`HostHandle::terminate`]; if its thread still
//! does not end, it is abandoned and reported.
//!
//! ```no_run
//! use agentsync_js::test262::{load_test, run_mode, Test262Options};
//!
//! let options = Test262Options::new("/path/to/test262".into());
//! let test = load_test(&options, "test/built-ins/Atomics/wait/nan-for-timeout.js".as_ref())?;
//! for mode in test.modes() {
//!     println!("{mode}: {:?}", run_mode(&options, &test, mode));
//! }
//! # Ok::<(), String>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use rquickjs::function::Rest;
use rquickjs::object::Property;
use rquickjs::{qjs, Array, Ctx, Exception, Function, Module, Object, Value};

use crate::agent::{self, with_local, Agent, Event, Signal};
use crate::error::{display, JsError};
use crate::{clone, Host, HostHandle, Options, Stream};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a run of test262 is configured.
#[derive(Debug, Clone)]
pub struct Test262Options {
    /// The test262 checkout: `harness/` and `test/` are under it.
    pub root: PathBuf,
    /// Runs with QuickJS-ng's own `Atomics.wait` / `notify` (and no `waitAsync`).
    pub engine_atomics: bool,
    /// How long one test (in one mode) may run before it is terminated and failed.
    pub timeout: Duration,
    /// Tests that need one of these features are skipped.
    pub skip_features: Vec<String>,
}

impl Test262Options {
    /// Options for the checkout at `root`: agentsync's Atomics, a 30 s timeout, and
    /// [`unsupported_features`] skipped.
    pub fn new(root: PathBuf) -> Self {
        Test262Options {
            root,
            engine_atomics: false,
            timeout: Duration::from_secs(30),
            skip_features: unsupported_features(false)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// The test262 features this host cannot run: what QuickJS-ng lacks, the host APIs it does not
/// provide, and, with the engine's own Atomics, `Atomics.waitAsync`.
pub fn unsupported_features(engine_atomics: bool) -> Vec<&'static str> {
    let mut features = vec![
        // Host hooks this host does not provide.
        "IsHTMLDDA",
        "host-gc-required",
        // Proposals QuickJS-ng does not implement.
        "immutable-arraybuffer",
        "ShadowRealm",
        "decorators",
        "source-phase-imports",
        "source-phase-imports-module-source",
        "import-defer",
        "explicit-resource-management",
        "Temporal",
        "tail-call-optimization",
    ];
    if engine_atomics {
        features.push("Atomics.waitAsync");
    }
    features
}

/// How a test is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A classic script, harness prepended.
    Sloppy,
    /// A classic script starting with `"use strict";`, harness after it.
    Strict,
    /// A module; the harness runs first as a script.
    Module,
    /// The file exactly as it is, no harness (`flags: [raw]`).
    Raw,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Sloppy => "sloppy",
            Mode::Strict => "strict",
            Mode::Module => "module",
            Mode::Raw => "raw",
        })
    }
}

/// The result of running a test in one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It behaved as its metadata says.
    Pass,
    /// It did not; why.
    Fail(String),
    /// It ran past the timeout and was terminated (or abandoned); what happened.
    Timeout(String),
    /// It was not run; why (an unsupported feature, a flag).
    Skip(String),
}

impl Outcome {
    /// Whether this counts as a failure (a failure or a timeout).
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Fail(_) | Outcome::Timeout(_))
    }

    /// The reason of a failure, timeout or skip.
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail(m) | Outcome::Timeout(m) | Outcome::Skip(m) => Some(m),
        }
    }
}

/// `negative:` of the frontmatter: the test must throw `error_type` in `phase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negative {
    /// `parse`, `resolution` or `runtime`.
    pub phase: String,
    /// The constructor name of the expected error, e.g. `SyntaxError`.
    pub error_type: String,
}

/// A test file and its metadata, ready to run.
#[derive(Debug, Clone)]
pub struct Test {
    /// The file.
    pub path: PathBuf,
    /// Its source text.
    pub source: String,
    /// `includes:` (harness file names).
    pub includes: Vec<String>,
    /// `flags:`.
    pub flags: Vec<String>,
    /// `features:`.
    pub features: Vec<String>,
    /// `negative:`, if any.
    pub negative: Option<Negative>,
}

impl Test {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The modes its flags ask for: `raw` → raw; `module` → module; `onlyStrict` → strict;
    /// `noStrict` → sloppy; otherwise both sloppy and strict.
    pub fn modes(&self) -> Vec<Mode> {
        if self.has_flag("raw") {
            vec![Mode::Raw]
        } else if self.has_flag("module") {
            vec![Mode::Module]
        } else if self.has_flag("onlyStrict") {
            vec![Mode::Strict]
        } else if self.has_flag("noStrict") {
            vec![Mode::Sloppy]
        } else {
            vec![Mode::Sloppy, Mode::Strict]
        }
    }

    /// Why it is not run with `options`, if it is not.
    pub fn skip_reason(&self, options: &Test262Options) -> Option<String> {
        self.features
            .iter()
            .find(|f| options.skip_features.iter().any(|s| s == *f))
            .map(|f| format!("feature {f} is not supported"))
    }
}

/// Reads `path` (absolute, or relative to the root) and parses its frontmatter.
///
/// # Errors
/// A message naming the file if it cannot be read or its frontmatter is malformed.
pub fn load_test(options: &Test262Options, path: &Path) -> Result<Test, String> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        options.root.join(path)
    };
    let source = std::fs::read_to_string(&full)
        .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    let meta = parse_frontmatter(&source).map_err(|e| format!("{}: {e}", full.display()))?;
    Ok(Test {
        path: full,
        source,
        includes: meta.includes,
        flags: meta.flags,
        features: meta.features,
        negative: meta.negative,
    })
}

#[derive(Default)]
struct Meta {
    includes: Vec<String>,
    flags: Vec<String>,
    features: Vec<String>,
    negative: Option<Negative>,
}

/// The parts of the YAML frontmatter (`/*--- … ---*/`) the runner needs.
fn parse_frontmatter(text: &str) -> Result<Meta, String> {
    let start = text
        .find("/*---")
        .ok_or("no frontmatter (a /*--- … ---*/ comment)")?;
    let end = text[start..]
        .find("---*/")
        .ok_or("the frontmatter is not closed by ---*/")?
        + start;
    let lines: Vec<&str> = text[start + 5..end].lines().collect();
    let indented = |l: &str| l.starts_with([' ', '\t']) || l.trim().is_empty();
    let mut meta = Meta::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if indented(line) || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| format!("frontmatter line {:?}: expected `key: value`", line.trim()))?;
        let (key, rest) = (key.trim(), rest.trim());
        let first = i;
        while i < lines.len() && indented(lines[i]) {
            i += 1;
        }
        let block = &lines[first..i];
        match key {
            "includes" => meta.includes = parse_list(key, rest, block)?,
            "flags" => meta.flags = parse_list(key, rest, block)?,
            "features" => meta.features = parse_list(key, rest, block)?,
            "negative" => {
                let mut phase = None;
                let mut error_type = None;
                for entry in block.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
                    match entry.split_once(':') {
                        Some(("phase", v)) => phase = Some(unquote(v.trim()).to_owned()),
                        Some(("type", v)) => error_type = Some(unquote(v.trim()).to_owned()),
                        _ => {}
                    }
                }
                match (phase, error_type) {
                    (Some(phase), Some(error_type))
                        if ["parse", "resolution", "runtime"].contains(&phase.as_str()) =>
                    {
                        meta.negative = Some(Negative { phase, error_type });
                    }
                    _ => {
                        return Err("negative: needs a phase (parse, resolution or runtime) \
                                    and a type"
                            .into())
                    }
                }
            }
            _ => {}
        }
    }
    Ok(meta)
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

/// A YAML list: `[a, b]` (possibly over several lines) or `- a` lines.
fn parse_list(key: &str, rest: &str, block: &[&str]) -> Result<Vec<String>, String> {
    let items = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|item| unquote(item.trim()).to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    };
    if let Some(open) = rest.strip_prefix('[') {
        let mut joined = open.to_owned();
        for line in block {
            joined.push(' ');
            joined.push_str(line.trim());
        }
        let close = joined
            .find(']')
            .ok_or_else(|| format!("{key}: the list is not closed by ]"))?;
        return Ok(items(&joined[..close]));
    }
    if !rest.is_empty() {
        return Err(format!("{key}: expected a list, found {rest:?}"));
    }
    let mut list = Vec::new();
    for line in block.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        let item = line
            .strip_prefix('-')
            .ok_or_else(|| format!("{key}: expected `- item`, found {line:?}"))?;
        list.push(unquote(item.trim()).to_owned());
    }
    Ok(list)
}

/// Harness files, read once per process.
fn harness(root: &Path, name: &str) -> Result<Arc<str>, String> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<str>>>> = OnceLock::new();
    let path = root.join("harness").join(name);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(text) = lock(cache).get(&path) {
        return Ok(text.clone());
    }
    let text: Arc<str> = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read harness file {}: {e}", path.display()))?
        .into();
    lock(cache).insert(path, text.clone());
    Ok(text)
}

/// The harness a test runs after: `assert.js`, `sta.js`, `doneprintHandle.js` for async
/// tests, then its includes.
fn harness_source(options: &Test262Options, test: &Test) -> Result<String, String> {
    let mut names: Vec<&str> = vec!["assert.js", "sta.js"];
    if test.has_flag("async") {
        names.push("doneprintHandle.js");
    }
    for include in &test.includes {
        if !names.contains(&include.as_str()) {
            names.push(include);
        }
    }
    let mut source = String::new();
    for name in names {
        source.push_str(&harness(&options.root, name)?);
        source.push('\n');
    }
    Ok(source)
}

/// Runs `test` in `mode` on a thread of its own and judges it. Past `options.timeout` the
/// host is terminated; a thread that still has not ended 5 s later is abandoned.
pub fn run_mode(options: &Test262Options, test: &Test, mode: Mode) -> Outcome {
    if let Some(reason) = test.skip_reason(options) {
        return Outcome::Skip(reason);
    }
    if test.has_flag("CanBlockIsFalse") && test.has_flag("CanBlockIsTrue") {
        return Outcome::Skip("flags CanBlockIsFalse and CanBlockIsTrue together".into());
    }
    let harness = match mode {
        Mode::Raw => String::new(),
        _ => match harness_source(options, test) {
            Ok(harness) => harness,
            Err(error) => return Outcome::Fail(error),
        },
    };
    let (done_tx, done_rx) = mpsc::channel();
    let (handle_tx, handle_rx) = mpsc::channel();
    let job = Job {
        test: test.clone(),
        mode,
        harness,
        engine_atomics: options.engine_atomics,
    };
    let spawned = thread::Builder::new()
        .name("test262".into())
        .spawn(move || {
            let outcome = job.run(&handle_tx);
            let _ = done_tx.send(outcome);
        });
    let thread = match spawned {
        Ok(thread) => thread,
        Err(error) => return Outcome::Fail(format!("cannot start a thread: {error}")),
    };
    let seconds = options.timeout.as_secs_f64();
    match done_rx.recv_timeout(options.timeout) {
        Ok(outcome) => {
            let _ = thread.join();
            outcome
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = thread.join();
            Outcome::Fail("the test's thread panicked".into())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if let Ok(handle) = handle_rx.try_recv() {
                handle.terminate();
            }
            const GRACE: Duration = Duration::from_secs(5);
            match done_rx.recv_timeout(GRACE) {
                Ok(outcome) => {
                    let _ = thread.join();
                    let what = match outcome.message() {
                        Some(message) => format!(" ({message})"),
                        None => String::new(),
                    };
                    Outcome::Timeout(format!(
                        "timed out after {seconds}s and was terminated{what}"
                    ))
                }
                Err(_) => Outcome::Timeout(format!(
                    "timed out after {seconds}s; its thread was still running {}s after \
                     terminate() and was abandoned",
                    GRACE.as_secs()
                )),
            }
        }
    }
}

/// One mode of one test, moved onto its thread.
struct Job {
    test: Test,
    mode: Mode,
    harness: String,
    engine_atomics: bool,
}

/// What a test threw, and when.
struct Thrown {
    /// Before anything ran (a syntax error), or while running.
    at_parse: bool,
    /// The error's constructor name (or `name`), empty for a non-object.
    name: String,
    message: String,
}

impl Job {
    fn run(&self, handle_tx: &mpsc::Sender<HostHandle>) -> Outcome {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        // The harness's own `safeBroadcast` calls `Atomics.wait` on the main agent, so, as in
        // other engines' shells, the main agent can block unless the test says otherwise.
        let can_block = !self.test.has_flag("CanBlockIsFalse");
        let host = Host::builder()
            .main_can_block(can_block)
            .engine_atomics(self.engine_atomics)
            .on_output(move |_, line| {
                lock(&sink).push(line.to_owned());
                Ok(())
            })
            .build();
        let host = match host {
            Ok(host) => host,
            Err(error) => return Outcome::Fail(format!("cannot start the host: {error}")),
        };
        let _ = handle_tx.send(host.handle());
        let shared = Arc::new(Shared::new(thread::current()));
        let agents = Agents(shared.clone());
        let installed = host.with_context(|ctx| {
            engine_can_block(&ctx, can_block);
            install(&ctx, Some(&shared))
                .map(drop)
                .map_err(|_| display(&ctx.catch()))
        });
        if let Err(error) = installed {
            return Outcome::Fail(format!("cannot define $262: {error}"));
        }
        let mut result = host.with_context(|ctx| self.evaluate(&ctx));
        if result.is_ok() {
            result = host.run().map_err(|error| match error {
                JsError::Script(error) => {
                    let message = error
                        .message
                        .strip_prefix("(in promise) ")
                        .unwrap_or(&error.message);
                    let (name, message) = message.split_once(": ").unwrap_or(("", message));
                    Thrown {
                        at_parse: false,
                        name: name.to_owned(),
                        message: message.to_owned(),
                    }
                }
                other => Thrown {
                    at_parse: false,
                    name: String::new(),
                    message: other.to_string(),
                },
            });
        }
        drop(agents);
        let agent_errors = lock(&shared.errors).join("; ");
        let outcome = self.judge(result, &lock(&lines));
        match outcome {
            Outcome::Fail(message) if !agent_errors.is_empty() => {
                Outcome::Fail(format!("{message} [agents: {agent_errors}]"))
            }
            other => other,
        }
    }

    /// Parses, then runs, the test's source: `Err` with what it threw.
    fn evaluate(&self, ctx: &Ctx<'_>) -> Result<(), Thrown> {
        let file = self.test.path.display().to_string();
        match self.mode {
            Mode::Raw => script(ctx, &file, &self.test.source),
            Mode::Sloppy => script(ctx, &file, &format!("{}{}", self.harness, self.test.source)),
            Mode::Strict => script(
                ctx,
                &file,
                &format!("\"use strict\";\n{}{}", self.harness, self.test.source),
            ),
            Mode::Module => {
                script(ctx, "<harness>", &self.harness)?;
                let declared = Module::declare(ctx.clone(), file, self.test.source.as_str())
                    .map_err(|_| thrown(ctx, true))?;
                declared.eval().map(drop).map_err(|_| thrown(ctx, false))
            }
        }
    }

    fn judge(&self, result: Result<(), Thrown>, lines: &[String]) -> Outcome {
        let describe = |t: &Thrown| match t.name.as_str() {
            "" => t.message.clone(),
            name => format!("{name}: {}", t.message),
        };
        if let Some(negative) = &self.test.negative {
            let want_parse = negative.phase == "parse";
            return match result {
                Ok(()) => Outcome::Fail(format!(
                    "expected a {} in phase {}, but it ran to completion",
                    negative.error_type, negative.phase
                )),
                Err(t) if t.name != negative.error_type => Outcome::Fail(format!(
                    "expected a {} in phase {}, got {}",
                    negative.error_type,
                    negative.phase,
                    describe(&t)
                )),
                Err(t) if negative.phase != "resolution" && t.at_parse != want_parse => {
                    Outcome::Fail(format!(
                        "expected a {} in phase {}, got it in phase {}",
                        negative.error_type,
                        negative.phase,
                        if t.at_parse { "parse" } else { "runtime" }
                    ))
                }
                Err(_) => Outcome::Pass,
            };
        }
        if let Err(t) = result {
            let phase = if t.at_parse { " (at parse)" } else { "" };
            return Outcome::Fail(format!("{}{phase}", describe(&t)));
        }
        if self.test.has_flag("async") {
            if let Some(failure) = lines
                .iter()
                .find_map(|l| l.strip_prefix("Test262:AsyncTestFailure:"))
            {
                return Outcome::Fail(failure.to_owned());
            }
            if !lines.iter().any(|l| l == "Test262:AsyncTestComplete") {
                return Outcome::Fail("the async test ended without calling $DONE".into());
            }
        }
        Outcome::Pass
    }
}

/// The pending exception as a [`Thrown`].
fn thrown(ctx: &Ctx<'_>, at_parse: bool) -> Thrown {
    let value = ctx.catch();
    let mut name = String::new();
    let mut message = display(&value);
    if let Some(object) = value.as_object() {
        let constructor_name = object
            .get::<_, Object>("constructor")
            .and_then(|c| c.get::<_, String>("name"));
        name = constructor_name
            .or_else(|_| object.get::<_, String>("name"))
            .unwrap_or_default();
        if let Ok(m) = object.get::<_, String>("message") {
            message = m;
        }
        ctx.catch();
    }
    Thrown {
        at_parse,
        name,
        message,
    }
}

/// Compiles `source` as a classic script, then runs it.
fn script(ctx: &Ctx<'_>, file: &str, source: &str) -> Result<(), Thrown> {
    let raw = ctx.as_raw().as_ptr();
    let mut text = Vec::with_capacity(source.len() + 1);
    text.extend_from_slice(source.as_bytes());
    text.push(0);
    let mut name = file.replace('\0', "?").into_bytes();
    name.push(0);
    // SAFETY: a live context; `text` is NUL-terminated past `len` as JS_Eval requires, and
    // `name` is a NUL-terminated C string; both outlive the call.
    let compiled = unsafe {
        qjs::JS_Eval(
            raw,
            text.as_ptr().cast(),
            source.len() as _,
            name.as_ptr().cast(),
            (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32,
        )
    };
    // SAFETY: an owned value or the exception marker, handed to `Value` to free.
    let compiled = unsafe { Value::from_raw(ctx.clone(), compiled) };
    if compiled.is_exception() {
        return Err(thrown(ctx, true));
    }
    // SAFETY: JS_EvalFunction takes ownership of the function, so it gets a new reference of
    // a live value of this context.
    let result = unsafe { qjs::JS_EvalFunction(raw, qjs::JS_DupValue(raw, compiled.as_raw())) };
    // SAFETY: as above.
    let result = unsafe { Value::from_raw(ctx.clone(), result) };
    if result.is_exception() {
        return Err(thrown(ctx, false));
    }
    Ok(())
}

/// The state of one test's agents, shared by its main agent and its concurrent agents.
struct Shared {
    /// The main agent's thread, unparked when an agent takes a broadcast or ends.
    main: Thread,
    reports: Mutex<VecDeque<String>>,
    agents: Mutex<Vec<AgentEntry>>,
    /// Uncaught errors of agents, for the failure message.
    errors: Mutex<Vec<String>>,
    /// The number of the last broadcast.
    broadcasts: AtomicU64,
}

impl Shared {
    fn new(main: Thread) -> Shared {
        Shared {
            main,
            reports: Mutex::default(),
            agents: Mutex::default(),
            errors: Mutex::default(),
            broadcasts: AtomicU64::new(0),
        }
    }
}

/// A concurrent agent, as its starter sees it.
struct AgentEntry {
    signal: Arc<Signal>,
    link: Arc<Link>,
    thread: Option<JoinHandle<()>>,
}

/// What an agent tells its starter.
#[derive(Default)]
struct Link {
    /// The number of the last broadcast it took.
    received: AtomicU64,
    /// Its thread is ending: it takes no more broadcasts.
    finished: AtomicBool,
}

/// Stops and joins every agent of a test when the test ends.
struct Agents(Arc<Shared>);

impl Drop for Agents {
    fn drop(&mut self) {
        let agents: Vec<AgentEntry> = lock(&self.0.agents).drain(..).collect();
        for agent in &agents {
            agent.signal.interrupt();
        }
        for agent in agents {
            if let Some(thread) = agent.thread {
                let _ = thread.join();
            }
        }
    }
}

/// Milliseconds on a clock shared by every agent of the process.
fn monotonic_now() -> f64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// Sleeps this agent's thread for `ms` milliseconds, or until it is interrupted.
fn sleep<'js>(ctx: Ctx<'js>, ms: Rest<Value<'js>>) -> rquickjs::Result<()> {
    let ms = match ms.0.first() {
        Some(v) => crate::atomics::to_number(&ctx, v)?,
        None => 0.0,
    };
    let signal = with_local(|local| local.signal.clone());
    if ms.is_nan() || ms <= 0.0 {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs_f64(ms.min(1e9) / 1e3);
    loop {
        if signal.as_ref().is_some_and(|s| s.is_interrupted()) {
            return Err(Exception::throw_internal(&ctx, "agent terminated"));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        thread::park_timeout(deadline - now);
    }
}

fn function<'js, P>(
    ctx: &Ctx<'js>,
    name: &str,
    length: usize,
    f: impl rquickjs::function::IntoJsFunc<'js, P> + 'js,
) -> rquickjs::Result<Function<'js>> {
    Function::new(ctx.clone(), f)?
        .with_name(name)?
        .with_length(length)
}

/// Defines a writable, configurable, non-enumerable global.
fn define_global<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    value: impl rquickjs::IntoJs<'js>,
) -> rquickjs::Result<()> {
    ctx.globals()
        .prop(name, Property::from(value).writable().configurable())
}

/// Defines `$262` on `ctx`'s global (with `agent.start` / `broadcast` / `getReport` when
/// `shared` is given: the main agent and its realms).
fn install<'js>(ctx: &Ctx<'js>, shared: Option<&Arc<Shared>>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    object.set("global", ctx.globals())?;
    object.set(
        "evalScript",
        function(ctx, "evalScript", 1, |ctx: Ctx<'js>, source: String| {
            ctx.eval_with_options::<Value, _>(source, agent::options("<evalScript>"))
        })?,
    )?;
    object.set("gc", crate::globals::gc_function(ctx)?)?;
    object.set(
        "detachArrayBuffer",
        function(ctx, "detachArrayBuffer", 1, detach_array_buffer)?,
    )?;
    let realm_shared = shared.cloned();
    object.set(
        "createRealm",
        function(ctx, "createRealm", 0, move |ctx: Ctx<'js>| {
            create_realm(&ctx, realm_shared.as_ref())
        })?,
    )?;
    let agent = Object::new(ctx.clone())?;
    agent.set("sleep", function(ctx, "sleep", 1, sleep)?)?;
    agent.set(
        "monotonicNow",
        function(ctx, "monotonicNow", 0, monotonic_now)?,
    )?;
    if let Some(shared) = shared {
        let s = shared.clone();
        agent.set(
            "start",
            function(ctx, "start", 1, move |ctx: Ctx<'js>, source: String| {
                start_agent(&ctx, &s, source)
            })?,
        )?;
        let s = shared.clone();
        agent.set(
            "broadcast",
            function(
                ctx,
                "broadcast",
                2,
                move |ctx: Ctx<'js>, args: Rest<Value<'js>>| broadcast(&ctx, &s, args.0),
            )?,
        )?;
        let s = shared.clone();
        agent.set(
            "getReport",
            function(ctx, "getReport", 0, move |ctx: Ctx<'js>| {
                match lock(&s.reports).pop_front() {
                    Some(report) => {
                        rquickjs::String::from_str(ctx, &report).map(|s| s.into_value())
                    }
                    None => Ok(Value::new_null(ctx)),
                }
            })?,
        )?;
    }
    object.set("agent", agent)?;
    define_global(ctx, "$262", object.clone())?;
    Ok(object)
}

/// `$262.detachArrayBuffer(buffer)`: DetachArrayBuffer on an `ArrayBuffer`; anything else
/// (a `SharedArrayBuffer` included) is a `TypeError`.
fn detach_array_buffer<'js>(ctx: Ctx<'js>, buffer: Value<'js>) -> rquickjs::Result<()> {
    let probe: Value = ctx.eval("new ArrayBuffer(0)")?;
    // SAFETY: live values of this context.
    let same_class =
        unsafe { qjs::JS_GetClassID(buffer.as_raw()) == qjs::JS_GetClassID(probe.as_raw()) };
    if !buffer.is_object() || !same_class {
        return Err(Exception::throw_type(
            &ctx,
            "$262.detachArrayBuffer: not an ArrayBuffer",
        ));
    }
    // SAFETY: a live ArrayBuffer of this context.
    unsafe { qjs::JS_DetachArrayBuffer(ctx.as_raw().as_ptr(), buffer.as_raw()) };
    Ok(())
}

/// `$262.createRealm()`: a new context of the same runtime with `print`, this host's Atomics
/// and `$262`; returns its `$262`.
fn create_realm<'js>(ctx: &Ctx<'js>, shared: Option<&Arc<Shared>>) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the runtime of a live context, whose lock we hold (we are running in it).
    let realm = unsafe { qjs::JS_NewContext(qjs::JS_GetRuntime(raw)) };
    let Some(realm) = NonNull::new(realm) else {
        return Err(Exception::throw_internal(ctx, "createRealm: out of memory"));
    };
    // SAFETY: a live context of the runtime whose lock we hold; `from_raw` takes its own
    // reference, so ours is released right after.
    let realm_ctx = unsafe { Ctx::from_raw(realm) };
    // SAFETY: drops the reference JS_NewContext returned; `realm_ctx` holds another.
    unsafe { qjs::JS_FreeContext(realm.as_ptr()) };
    let engine_atomics = with_local(|l| l.options.engine_atomics).unwrap_or(false);
    let made = (|| -> rquickjs::Result<Value<'_>> {
        if !engine_atomics {
            crate::atomics::install(&realm_ctx)?;
        }
        let print = function(&realm_ctx, "print", 1, print)?;
        define_global(&realm_ctx, "print", print)?;
        install(&realm_ctx, shared).map(|o| o.into_value())
    })();
    match made {
        Ok(value) => {
            // SAFETY: values belong to the runtime, not to one context: a new reference to
            // the realm's `$262`, owned by a `Value` of the caller's context.
            let value =
                unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(raw, value.as_raw())) };
            Ok(value)
        }
        Err(_) => {
            let error = display(&realm_ctx.catch());
            Err(Exception::throw_internal(
                ctx,
                &format!("createRealm: {error}"),
            ))
        }
    }
}

/// `print` for a new realm (the host's own is defined in the first one).
fn print<'js>(ctx: Ctx<'js>, args: Rest<Value<'js>>) -> rquickjs::Result<()> {
    let line = args.0.iter().map(display).collect::<Vec<_>>().join(" ");
    let result = with_local(|l| l.options.output.write(Stream::Stdout, &line));
    match result {
        Some(Err(error)) => Err(Exception::throw_internal(&ctx, &format!("print: {error}"))),
        _ => Ok(()),
    }
}

/// `$262.agent.start(source)`: an agent on a new thread; returns once it is running.
fn start_agent(ctx: &Ctx<'_>, shared: &Arc<Shared>, source: String) -> rquickjs::Result<()> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, SeqCst);
    let (main_signal, options) = with_local(|l| (l.signal.clone(), l.options.clone()))
        .ok_or_else(|| Exception::throw_internal(ctx, "no agent on this thread"))?;
    let signal = Signal::new();
    let link = Arc::new(Link::default());
    let (started_tx, started_rx) = mpsc::channel();
    let thread = {
        let (signal, link, shared) = (signal.clone(), link.clone(), shared.clone());
        thread::Builder::new()
            .name(format!("test262-agent-{id}"))
            .spawn(move || {
                run_agent(AgentStart {
                    id,
                    source,
                    shared,
                    link,
                    signal,
                    main_signal,
                    options,
                    started: started_tx,
                })
            })
            .map_err(|e| {
                Exception::throw_internal(ctx, &format!("$262.agent.start: no thread: {e}"))
            })?
    };
    signal.bind(thread.thread().clone());
    lock(&shared.agents).push(AgentEntry {
        signal,
        link,
        thread: Some(thread),
    });
    match started_rx.recv() {
        Ok(()) => Ok(()),
        Err(_) => {
            let error = lock(&shared.errors).last().cloned().unwrap_or_default();
            Err(Exception::throw_internal(
                ctx,
                &format!("$262.agent.start: the agent did not start: {error}"),
            ))
        }
    }
}

struct AgentStart {
    id: u64,
    source: String,
    shared: Arc<Shared>,
    link: Arc<Link>,
    signal: Arc<Signal>,
    main_signal: Arc<Signal>,
    options: Arc<Options>,
    started: mpsc::Sender<()>,
}

/// An agent's thread: set up, say it runs, run the script and the event loop.
fn run_agent(start: AgentStart) {
    let AgentStart {
        id,
        source,
        shared,
        link,
        signal,
        main_signal,
        options,
        started,
    } = start;
    let name = format!("agent {id}");
    // The parent link keeps the agent's loop alive while it listens for broadcasts; it never
    // posts to the main agent (this thread reports through `shared`).
    let result = Agent::new(
        name.clone(),
        signal.clone(),
        Some((main_signal, id)),
        options,
        false,
        ".".into(),
    )
    .and_then(|agent| {
        agent
            .with(|ctx| install_agent(&ctx, &shared, &link).map_err(|_| display(&ctx.catch())))
            .map_err(|e| JsError::Engine(format!("cannot define $262: {e}")))?;
        let _ = started.send(());
        agent.eval(&format!("<agent {id}>"), &source)?;
        agent.run()
    });
    if let Err(error) = result {
        if !signal.is_interrupted() {
            lock(&shared.errors).push(format!("{name}: {error}"));
        }
    }
    drop(started);
    link.finished.store(true, SeqCst);
    shared.main.unpark();
}

/// Tells QuickJS-ng whether its own `Atomics.wait` may block on this agent's runtime (the
/// host leaves the engine's flag at its default, false, which only `--engine-atomics` sees).
fn engine_can_block(ctx: &Ctx<'_>, can_block: bool) {
    // SAFETY: the runtime of a live context; the call only sets a flag.
    unsafe { qjs::JS_SetCanBlock(qjs::JS_GetRuntime(ctx.as_raw().as_ptr()), can_block) };
}

/// `$262` in a concurrent agent: the common part, and `agent.receiveBroadcast`, `report`,
/// `leaving`.
fn install_agent<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    link: &Arc<Link>,
) -> rquickjs::Result<()> {
    engine_can_block(ctx, true);
    let object = install(ctx, None)?;
    let agent: Object = object.get("agent")?;
    let s = shared.clone();
    agent.set(
        "report",
        function(ctx, "report", 1, move |value: Value<'js>| {
            lock(&s.reports).push_back(display(&value));
        })?,
    )?;
    agent.set("leaving", function(ctx, "leaving", 0, || {})?)?;
    let (s, l) = (shared.clone(), link.clone());
    let ack = function(ctx, "ack", 1, move |number: f64| {
        l.received.fetch_max(number as u64, SeqCst);
        s.main.unpark();
    })?;
    // The broadcast arrives as a message event; it is acknowledged before the callback runs,
    // since the callback usually blocks in Atomics.wait.
    let make: Function = ctx.eval(
        "(function (ack) {\n\
           return function receiveBroadcast(callback) {\n\
             globalThis.addEventListener('message', function (event) {\n\
               var data = event.data;\n\
               ack(data[2]);\n\
               callback(data[0], data[1]);\n\
             });\n\
           };\n\
         })",
    )?;
    let receive: Function = make.call((ack,))?;
    agent.set("receiveBroadcast", receive)?;
    Ok(())
}

/// `$262.agent.broadcast(sab, id)`: posts both to every agent, then blocks this thread (in
/// Rust, not `Atomics.wait`) until each has taken it or ended.
fn broadcast<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<()> {
    let number = shared.broadcasts.fetch_add(1, SeqCst) + 1;
    let data = Array::new(ctx.clone())?;
    let mut args = args.into_iter();
    data.set(
        0,
        args.next()
            .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
    )?;
    data.set(
        1,
        args.next()
            .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
    )?;
    data.set(2, number as f64)?;
    let data = data.into_value();
    let targets: Vec<(Arc<Signal>, Arc<Link>)> = lock(&shared.agents)
        .iter()
        .map(|a| (a.signal.clone(), a.link.clone()))
        .collect();
    for (signal, _) in &targets {
        let message = clone::serialize(ctx, &data)?;
        signal.post(Event::Message { from: 0, message });
    }
    let me = with_local(|l| l.signal.clone());
    loop {
        let pending = targets
            .iter()
            .any(|(_, l)| l.received.load(SeqCst) < number && !l.finished.load(SeqCst));
        if !pending {
            return Ok(());
        }
        if me.as_ref().is_some_and(|s| s.is_interrupted()) {
            return Err(Exception::throw_internal(ctx, "agent terminated"));
        }
        thread::park_timeout(Duration::from_millis(100));
    }
}

/// Runs every mode of the test at `path`; a file that cannot be loaded is one failure.
pub fn run_test(options: &Test262Options, path: &Path) -> Vec<(Option<Mode>, Outcome)> {
    match load_test(options, path) {
        Ok(test) => test
            .modes()
            .into_iter()
            .map(|mode| (Some(mode), run_mode(options, &test, mode)))
            .collect(),
        Err(error) => vec![(None, Outcome::Fail(error))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_lists_and_negative() {
        let meta = parse_frontmatter(
            "/*---\ndescription: >\n  x: y\nincludes: [a.js, 'b.js']\nflags:\n  - async\n  - onlyStrict\nfeatures: [A,\n  B]\nnegative:\n  phase: parse\n  type: SyntaxError\n---*/",
        )
        .unwrap_or_default();
        assert_eq!(meta.includes, ["a.js", "b.js"]);
        assert_eq!(meta.flags, ["async", "onlyStrict"]);
        assert_eq!(meta.features, ["A", "B"]);
        assert_eq!(
            meta.negative,
            Some(Negative {
                phase: "parse".into(),
                error_type: "SyntaxError".into()
            })
        );
    }

    #[test]
    fn bad_frontmatter_is_an_error() {
        assert!(parse_frontmatter("no metadata").is_err());
        assert!(parse_frontmatter("/*---\nflags: [a\n---*/").is_err());
        assert!(parse_frontmatter("/*---\nnegative:\n  phase: later\n  type: E\n---*/").is_err());
    }
}
