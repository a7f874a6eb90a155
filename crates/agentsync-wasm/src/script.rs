//! A spec-script (`.wast`) runner on our rewritten runtime.
//!
//! Supports `module` (text, binary, quote, definitions and instances), `register`, `invoke`,
//! `get`, `assert_return`, `assert_trap`, `assert_exhaustion`, `assert_invalid`,
//! `assert_malformed`, `assert_unlinkable`, and the threads proposal's `thread` and `wait`:
//! a `thread` runs its directives on a new OS thread with its own store; its `shared (module
//! $M)` makes `$M`'s shared memories visible there (the only kind of export that may cross
//! stores), exactly what the threads proposal's scripts rely on.

mod context;
mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::Wast;

use crate::engine::Runtime;
use crate::error::one_line;
use crate::profile::Profile;

use context::Context;

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
/// itself, so that it is reported as unreadable rather than dropped). Symlinked directories
/// are not entered, so a link loop cannot recurse forever; symlinked files are kept.
fn collect_scripts(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        into.push(dir.to_path_buf());
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_scripts(&path, into);
        } else if path.extension().is_some_and(|x| x == "wast") && !path.is_dir() {
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
