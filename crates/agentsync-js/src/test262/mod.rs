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
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use rquickjs::function::Rest;
use rquickjs::object::Property;
use rquickjs::{qjs, Array, Ctx, Exception, Function, Module, Object, Value};

use crate::agent::{self, lock, with_local, Agent, Event, Signal};
use crate::error::{display, JsError};
use crate::{clone, Host, HostHandle, Options, Stream};

mod agents;
use agents::*;

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
