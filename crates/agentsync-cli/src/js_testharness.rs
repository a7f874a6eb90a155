//! `agentsync js testharness`: run web-platform-tests style `*.any.js` files (the WebAssembly
//! JS API tests, threads proposal included) on the agentsync JS host.
//!
//! Each file runs in a fresh [`Host`] on its own thread: first our own small testharness.js
//! stand-in ([`SHIM`], not WPT's), then the file's `// META: script=…` includes in order, then
//! the file; then the event loop runs until it is idle, and the shim reports what never finished
//! as `TIMEOUT`. A file that runs longer than `--timeout` seconds is terminated
//! ([`agentsync_js::HostHandle::terminate`]) and counted as one more failed subtest; if its thread
//! still does not end, it is left behind and the run moves on.
//!
//! The main agent may block (as in a JS shell, WPT's `jsshell` global), so a Wasm
//! `memory.atomic.wait32` with a timeout works on it.
//!
//! Output: one line per file, `PASS file (n/n)` or `FAIL file (k/n): first failing subtest:
//! message`, then `N passed, M failed` counting subtests. `--verbose` lists every failing
//! subtest. Exit: [`EXIT_OK`](crate::EXIT_OK) if every subtest passed,
//! [`EXIT_FAILED`](crate::EXIT_FAILED) if any failed, [`EXIT_USAGE`](crate::EXIT_USAGE) for a
//! FILE that does not exist.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentsync_js::{Host, JsError, Stream};
use clap::Args;
use serde::Deserialize;

use crate::CliError;

/// The testharness.js stand-in evaluated before every file.
pub const SHIM: &str = include_str!("testharness.js");

/// The prefix of the shim's line for one finished subtest.
const RESULT: &str = "##testharness-result## ";
/// The prefix of the shim's last line.
const SUMMARY: &str = "##testharness-summary## ";
/// How long a terminated file's thread gets to end before it is left behind.
const GRACE: Duration = Duration::from_secs(5);

/// `agentsync js testharness` arguments.
#[derive(Debug, Args)]
pub struct TestharnessArgs {
    /// The directory that absolute META script paths resolve in: `/wasm/jsapi/x.js` is
    /// `DIR/x.js` (default: the nearest directory named `js-api` above the file, else the
    /// file's own directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Seconds a file may run before it is terminated (`// META: timeout=long` triples it).
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub timeout: u64,
    /// List every failing subtest, and the console output of failing files.
    #[arg(long, short)]
    pub verbose: bool,
    /// Test files, or directories searched recursively for `*.any.js`.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// One subtest's result, as the shim reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Subtest {
    /// Its name.
    pub name: String,
    /// `PASS`, `FAIL`, `TIMEOUT` or `NOTRUN`.
    pub status: String,
    /// Why it did not pass.
    pub message: Option<String>,
}

impl Subtest {
    fn passed(&self) -> bool {
        self.status == "PASS"
    }

    fn failed(name: &str, message: String) -> Subtest {
        Subtest {
            name: name.into(),
            status: "FAIL".into(),
            message: Some(message),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Summary {
    status: String,
    message: Option<String>,
}

/// The outcome of one file.
#[derive(Debug, Default)]
pub struct FileReport {
    /// Its subtests, harness errors and a timeout included as failed ones.
    pub subtests: Vec<Subtest>,
    /// Console lines that are not the shim's.
    pub console: Vec<String>,
}

/// `agentsync js testharness`.
///
/// # Errors
///
/// [`CliError::Usage`] for a FILE that does not exist or a directory without `*.any.js`;
/// [`CliError::Failed`] if a subtest failed; [`CliError::Output`] if stdout failed.
pub fn run(args: &TestharnessArgs) -> Result<(), CliError> {
    let mut files = Vec::new();
    for path in &args.files {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        return Err(CliError::Usage("no *.any.js test files found".into()));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let report = run_file(file, args.root.as_deref(), args.timeout);
        let total = report.subtests.len();
        let ok = report.subtests.iter().filter(|s| s.passed()).count();
        passed += ok;
        failed += total - ok;
        let shown = file.display();
        match report.subtests.iter().find(|s| !s.passed()) {
            None if total > 0 => say!("PASS {shown} ({ok}/{total})")?,
            None => say!("FAIL {shown} (0/0): no subtests")?,
            Some(first) => say!(
                "FAIL {shown} ({ok}/{total}): {}: {}",
                first.name,
                first_line(first.message.as_deref().unwrap_or(&first.status))
            )?,
        }
        if total == 0 {
            failed += 1;
        }
        if args.verbose && (ok < total || total == 0) {
            for subtest in report.subtests.iter().filter(|s| !s.passed()) {
                say!(
                    "  {} {}: {}",
                    subtest.status,
                    subtest.name,
                    subtest.message.as_deref().unwrap_or("")
                )?;
            }
            for line in &report.console {
                say!("  | {line}")?;
            }
        }
    }
    say!("{passed} passed, {failed} failed")?;
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} subtests failed")));
    }
    Ok(())
}

/// Adds `path` (a file) or the `*.any.js` files under it (a directory), sorted; no directory
/// is walked twice (see [`crate::walk`]).
pub(crate) fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let found = crate::walk::files(path, &|name| name.ends_with(".any.js"))
        .map_err(|error| CliError::Usage(format!("cannot read {}: {error}", path.display())))?;
    files.extend(found);
    Ok(())
}

/// The `// META: key=value` lines at the top of a test file.
fn meta(source: &str) -> Vec<(String, String)> {
    source
        .lines()
        .map_while(|line| {
            let line = line.trim();
            (line.is_empty() || line.starts_with("//")).then_some(line)
        })
        .filter_map(|line| line.strip_prefix("//")?.trim().strip_prefix("META:"))
        .filter_map(|rest| {
            let (key, value) = rest.trim().split_once('=')?;
            Some((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Where a META script path points: `/wasm/jsapi/x` in `root`, other absolute paths below
/// `root` too, relative ones next to the test file.
fn resolve(script: &str, file: &Path, root: &Path) -> PathBuf {
    if let Some(rest) = script.strip_prefix("/wasm/jsapi/") {
        root.join(rest)
    } else if let Some(rest) = script.strip_prefix('/') {
        root.join(rest)
    } else {
        file.parent().unwrap_or(Path::new(".")).join(script)
    }
}

/// The default root: the nearest `js-api` directory above `file`, else its directory.
fn default_root(file: &Path) -> PathBuf {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    absolute
        .ancestors()
        .skip(1)
        .find(|dir| dir.file_name().is_some_and(|n| n == "js-api"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| file.parent().unwrap_or(Path::new(".")).to_path_buf())
}

/// Runs one file on a fresh host on its own thread, within `timeout` seconds.
pub fn run_file(file: &Path, root: Option<&Path>, timeout: u64) -> FileReport {
    let source = match std::fs::read_to_string(file) {
        Ok(source) => source,
        Err(error) => {
            return FileReport {
                subtests: vec![Subtest::failed(
                    "(harness)",
                    format!("cannot read: {error}"),
                )],
                console: Vec::new(),
            }
        }
    };
    let meta = meta(&source);
    let root = root.map_or_else(|| default_root(file), Path::to_path_buf);
    let mut scripts = Vec::new();
    for (key, value) in &meta {
        if key == "script" {
            scripts.push(resolve(value, file, &root));
        }
    }
    scripts.push(file.to_path_buf());
    let long = meta.iter().any(|(k, v)| k == "timeout" && v == "long");
    let limit = Duration::from_secs(if long {
        timeout.saturating_mul(3)
    } else {
        timeout
    });

    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let timed_out = Arc::new(AtomicBool::new(false));
    let seen_timeout = timed_out.clone();
    let reason = format!("timed out after {} s", limit.as_secs());
    let (handle_tx, handle_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<Vec<String>>();
    let spawned = std::thread::Builder::new()
        .name("testharness".into())
        .spawn(move || {
            let errors = run_on_this_thread(&scripts, sink, &handle_tx, &seen_timeout, &reason);
            let _ = done_tx.send(errors);
        });
    let mut harness_errors = match spawned {
        Err(error) => vec![format!("cannot start a thread: {error}")],
        Ok(thread) => match done_rx.recv_timeout(limit) {
            Ok(errors) => {
                let _ = thread.join();
                errors
            }
            Err(_) => {
                // Timed out (or the thread died): stop the host, give it a moment to report
                // its unfinished subtests, and move on even if it does not end.
                timed_out.store(true, Ordering::SeqCst);
                if let Ok(handle) = handle_rx.try_recv() {
                    agentsync_js::HostHandle::terminate(&handle);
                }
                let mut errors = Vec::new();
                if done_rx.recv_timeout(GRACE).is_ok() {
                    let _ = thread.join();
                } else {
                    errors.push(format!(
                        "timed out after {} s, and the thread did not end",
                        limit.as_secs()
                    ));
                }
                errors
            }
        },
    };

    let mut report = FileReport::default();
    let mut summary = None;
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    for line in lines {
        if let Some(json) = line.strip_prefix(RESULT) {
            match serde_json::from_str::<Subtest>(json) {
                Ok(subtest) => report.subtests.push(subtest),
                Err(error) => report
                    .console
                    .push(format!("(bad result line: {error}) {line}")),
            }
        } else if let Some(json) = line.strip_prefix(SUMMARY) {
            summary = serde_json::from_str::<Summary>(json).ok();
        } else {
            report.console.push(line);
        }
    }
    if let Some(summary) = summary {
        if summary.status != "OK" {
            harness_errors.insert(0, summary.message.unwrap_or(summary.status));
        }
    } else if harness_errors.is_empty() {
        harness_errors.push("the harness did not finish".into());
    }
    let reported_timeout = report.subtests.iter().any(|s| s.status == "TIMEOUT");
    if timed_out.load(Ordering::SeqCst) && !reported_timeout && harness_errors.is_empty() {
        harness_errors.push(format!("timed out after {} s", limit.as_secs()));
    }
    // Errors from a terminated host are the termination's, not the file's.
    if timed_out.load(Ordering::SeqCst) && reported_timeout {
        harness_errors.retain(|e| e.contains("timed out"));
    }
    for error in harness_errors {
        report.subtests.push(Subtest::failed("(harness)", error));
    }
    report
}

/// Builds a host on this thread, evaluates the shim and `scripts`, runs the event loop and
/// lets the shim report. Returns the harness errors (uncaught exceptions outside subtests).
fn run_on_this_thread(
    scripts: &[PathBuf],
    lines: Arc<Mutex<Vec<String>>>,
    handle_tx: &mpsc::Sender<agentsync_js::HostHandle>,
    timed_out: &AtomicBool,
    reason: &str,
) -> Vec<String> {
    let host = Host::builder()
        .main_can_block(true)
        .on_output(move |stream: Stream, line: &str| {
            let line = match stream {
                Stream::Stdout => line.to_string(),
                Stream::Stderr => format!("stderr: {line}"),
            };
            lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            Ok(())
        })
        .build();
    let host = match host {
        Ok(host) => host,
        Err(error) => return vec![error.to_string()],
    };
    let _ = handle_tx.send(host.handle());
    let mut errors = Vec::new();
    if let Err(error) = host.eval("testharness.js", SHIM) {
        return vec![format!("the shim failed: {error}")];
    }
    for script in scripts {
        let source = match std::fs::read_to_string(script) {
            Ok(source) => source,
            Err(error) => {
                errors.push(format!("cannot read {}: {error}", script.display()));
                break;
            }
        };
        if let Some(dir) = script.parent() {
            host.set_base_dir(dir.to_path_buf());
        }
        if let Err(error) = host.eval(&script.display().to_string(), &source) {
            errors.push(uncaught(&error));
            break;
        }
    }
    if let Err(error) = host.run() {
        errors.push(uncaught(&error));
    }
    // After a timeout the host was terminated: the shim says so for what never finished.
    let finish = if timed_out.load(Ordering::SeqCst) {
        format!("__testharness.finish({})", js_string(reason))
    } else {
        "__testharness.finish()".to_string()
    };
    if let Err(error) = host.eval("[testharness finish]", &finish) {
        errors.push(format!("the shim could not finish: {error}"));
    }
    errors
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The first line of a message (a harness error's stack stays for `--verbose`).
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// A harness error for an exception no subtest caught.
fn uncaught(error: &JsError) -> String {
    format!("uncaught: {error}")
}
