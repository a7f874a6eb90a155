//! Running each official suite through our own runners, as a list of named cases.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::{Duration, Instant};

use agentsync_js::test262::{unsupported_features, Outcome, Test262Options};
use agentsync_wasm::Profile;

use super::case::relative;
pub use super::case::{Case, Verdict};
use super::find::{Found, Kind};
use crate::CliError;

/// A suite's run.
#[derive(Debug)]
pub struct SuiteRun {
    /// Which suite.
    pub kind: Kind,
    /// Where it was found.
    pub origin: String,
    /// Every case, in a stable order.
    pub cases: Vec<Case>,
    /// Wall time of the run.
    pub seconds: f64,
}

impl SuiteRun {
    /// How many cases have a verdict like `f`'s.
    pub fn count(&self, f: fn(&Verdict) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.verdict)).count()
    }
}

/// Knobs of a gate run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Threads for test262.
    pub threads: usize,
    /// Seconds a test262 test or a js-api file may run.
    pub timeout: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            timeout: 30,
        }
    }
}

/// Runs one suite found by [`find_suites`](super::find::find_suites); `progress` sees a line
/// per finished unit (a script, a js-api file, a failing test262 case).
///
/// # Errors
///
/// What `progress` returns (a closed stdout), or a suite whose files cannot be listed.
pub fn run_suite(
    found: &Found,
    options: RunOptions,
    progress: &mut dyn FnMut(&str) -> Result<(), CliError>,
) -> Result<SuiteRun, CliError> {
    let started = Instant::now();
    let cases = match found.kind {
        Kind::ThreadsCore => threads_core(&found.root, progress)?,
        Kind::JsApi => js_api(&found.root, options, progress)?,
        Kind::Test262 => test262(&found.root, options, progress)?,
        Kind::WasiTestsuite => {
            super::wasi::run_all(&found.root, Duration::from_secs(options.timeout), progress)?
        }
    };
    Ok(SuiteRun {
        kind: found.kind,
        origin: found.origin.clone(),
        cases,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every `.wast` under `test/core` (its `threads/` and any other subdirectory), judged by the
/// threads proposal's spec version; one case per script, named relative to `test/core`.
fn threads_core(
    root: &Path,
    progress: &mut dyn FnMut(&str) -> Result<(), CliError>,
) -> Result<Vec<Case>, CliError> {
    let core = root.join("test/core");
    let mut cases = Vec::new();
    agentsync_wasm::run_wast_profile(
        Profile::ThreadsProposal,
        std::slice::from_ref(&core),
        |file| {
            let id = relative(Path::new(&file.path), &core);
            let verdict = if file.ok() {
                Verdict::Pass
            } else {
                let first = file
                    .failures
                    .first()
                    .map_or("no directives", String::as_str);
                Verdict::Fail(first.lines().next().unwrap_or("").to_string())
            };
            cases.push(Case { id, verdict });
            progress(&format!("threads-core {}", file.line()))
        },
    )?;
    Ok(cases)
}

/// Every `*.any.js` under `test/js-api` with our testharness stand-in; one case per subtest,
/// named `FILE: SUBTEST` with FILE relative to `test/js-api`.
fn js_api(
    root: &Path,
    options: RunOptions,
    progress: &mut dyn FnMut(&str) -> Result<(), CliError>,
) -> Result<Vec<Case>, CliError> {
    let api = root.join("test/js-api");
    let mut files = Vec::new();
    crate::js_testharness::collect(&api, &mut files)?;
    let mut cases = Vec::new();
    for file in &files {
        let report = crate::js_testharness::run_file(file, Some(&api), options.timeout);
        let name = relative(file, &api);
        let before = cases.len();
        for subtest in &report.subtests {
            let verdict = if subtest.status == "PASS" {
                Verdict::Pass
            } else {
                let why = subtest.message.as_deref().unwrap_or(&subtest.status);
                Verdict::Fail(format!(
                    "{}: {}",
                    subtest.status,
                    why.lines().next().unwrap_or("")
                ))
            };
            cases.push(Case {
                id: format!("{name}: {}", subtest.name),
                verdict,
            });
        }
        if report.subtests.is_empty() {
            cases.push(Case {
                id: format!("{name}: (no subtests)"),
                verdict: Verdict::Fail("the file reported no subtests".into()),
            });
        }
        let failed = cases[before..]
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Fail(_)))
            .count();
        let total = cases.len() - before;
        progress(&format!(
            "js-api {name}: {} of {total} subtests passed",
            total - failed
        ))?;
    }
    Ok(cases)
}

/// test262's `built-ins/Atomics` and `built-ins/SharedArrayBuffer`, every file in each of its
/// modes, agentsync's Atomics; one case per file and mode, `test/…/x.js (strict)`.
fn test262(
    root: &Path,
    options: RunOptions,
    progress: &mut dyn FnMut(&str) -> Result<(), CliError>,
) -> Result<Vec<Case>, CliError> {
    let mut settings = Test262Options::new(root.to_path_buf());
    settings.timeout = Duration::from_secs(options.timeout);
    settings.skip_features = unsupported_features(false)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut files = Vec::new();
    for dir in ["test/built-ins/Atomics", "test/built-ins/SharedArrayBuffer"] {
        let path = root.join(dir);
        if path.is_dir() {
            crate::js_test262::collect(&path, &mut files)?;
        }
    }
    let records = crate::js_test262::execute(&settings, &files, options.threads, |r, _| {
        if r.outcome.is_failure() {
            let mode = r.mode.map_or_else(|| "-".to_owned(), |m| m.to_string());
            let why = r.outcome.message().unwrap_or("");
            progress(&format!(
                "test262 FAIL {} ({mode}): {}",
                r.file,
                why.lines().next().unwrap_or("")
            ))?;
        }
        Ok(())
    })?;
    Ok(records
        .into_iter()
        .map(|r| {
            let mode = r.mode.map_or_else(|| "-".to_owned(), |m| m.to_string());
            let verdict = match &r.outcome {
                Outcome::Pass => Verdict::Pass,
                Outcome::Skip(why) => Verdict::Skip(why.clone()),
                other => Verdict::Fail(
                    other
                        .message()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                ),
            };
            Case {
                id: format!("{} ({mode})", r.file),
                verdict,
            }
        })
        .collect())
}
