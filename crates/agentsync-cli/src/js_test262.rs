//! `agentsync js test262`: tc39's conformance suite on the JS host, in parallel, each test on
//! its own thread under a timeout.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agentsync_js::test262::{
    load_test, run_mode, unsupported_features, Mode, Outcome, Test262Options,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::CliError;

/// `agentsync js test262` arguments.
#[derive(Debug, Args)]
pub struct Test262Args {
    /// The test262 checkout (with `harness/` and `test/`).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Test files or directories, relative to the root or absolute (default: `test`).
    pub paths: Vec<PathBuf>,
    /// Writes one JSON record per test and mode to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Uses QuickJS-ng's own `Atomics.wait` / `notify` (no `waitAsync`), for comparison.
    #[arg(long)]
    pub engine_atomics: bool,
    /// How many tests run at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    /// Seconds one test may run before it is terminated and failed.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
}

/// One test file in one mode, and how it went.
pub(crate) struct Record {
    /// The file, relative to the root.
    pub(crate) file: String,
    /// Its mode; `None` when the file could not be loaded.
    pub(crate) mode: Option<Mode>,
    /// How it went.
    pub(crate) outcome: Outcome,
    /// How long it ran.
    pub(crate) millis: u128,
}

/// The `.js` test files under `path` (fixtures, `*_FIXTURE.js`, are not tests), sorted; no
/// directory is walked twice (see [`crate::walk`]).
pub(crate) fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let wanted = |name: &str| name.ends_with(".js") && !name.contains("_FIXTURE");
    let found = crate::walk::files(path, &wanted)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    out.extend(found);
    Ok(())
}

/// Runs `agentsync js test262`.
///
/// # Errors
/// [`CliError::Usage`] for a missing root or path, [`CliError::Failed`] if any test failed.
pub fn test262(args: &Test262Args) -> Result<(), CliError> {
    if !args.root.join("harness").is_dir() {
        return Err(CliError::Usage(format!(
            "--root {}: not a test262 checkout (no harness/ directory)",
            args.root.display()
        )));
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(CliError::Usage(
            "--timeout: must be a positive number of seconds".into(),
        ));
    }
    if let Some(path) = &args.json {
        crate::outfile::check_writable(path)
            .map_err(|e| CliError::Usage(format!("cannot write --json {}: {e}", path.display())))?;
    }
    // One absolute root: test paths are made relative to it and joined to it again, so a
    // relative root must not be applied twice.
    let root = std::path::absolute(&args.root)
        .map_err(|e| CliError::Usage(format!("--root {}: {e}", args.root.display())))?;
    let mut options = Test262Options::new(root.clone());
    options.engine_atomics = args.engine_atomics;
    options.timeout = Duration::from_secs_f64(args.timeout.min(1e6));
    options.skip_features = unsupported_features(args.engine_atomics)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("test")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for path in &paths {
        let full = if path.is_absolute() {
            path.clone()
        } else {
            root.join(path)
        };
        collect(&full, &mut files)?;
    }
    let threads = args
        .threads
        .map(NonZeroUsize::get)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
    let started = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let records = execute(&options, &files, threads, |record, total| {
        bar.set_length(total as u64);
        bar.inc(1);
        report_failure(&bar, record)
    });
    bar.finish_and_clear();
    let records = records?;
    let wall = started.elapsed();
    if let Some(path) = &args.json {
        write_json(path, &records)?;
    }
    let count = |f: fn(&Outcome) -> bool| records.iter().filter(|r| f(&r.outcome)).count();
    let passed = count(|o| *o == Outcome::Pass);
    let failed = count(Outcome::is_failure);
    let skipped = count(|o| matches!(o, Outcome::Skip(_)));
    let timed_out = count(|o| matches!(o, Outcome::Timeout(_)));
    let mut by_feature: Vec<(String, usize)> = Vec::new();
    for record in &records {
        if let Outcome::Skip(reason) = &record.outcome {
            match by_feature.iter_mut().find(|(r, _)| r == reason) {
                Some((_, n)) => *n += 1,
                None => by_feature.push((reason.clone(), 1)),
            }
        }
    }
    by_feature.sort();
    for (reason, n) in &by_feature {
        say!("skipped {n}: {reason}")?;
    }
    say!(
        "skip list: {} ({})",
        options.skip_features.join(", "),
        if args.engine_atomics {
            "QuickJS-ng's own Atomics"
        } else {
            "agentsync's Atomics"
        }
    )?;
    say!(
        "{} files, {threads} threads, {:.1} s wall time{}",
        files.len(),
        wall.as_secs_f64(),
        if timed_out > 0 {
            format!(", {timed_out} timed out")
        } else {
            String::new()
        }
    )?;
    say!("{passed} passed, {failed} failed, {skipped} skipped")?;
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} test262 runs failed")));
    }
    Ok(())
}

/// Runs every mode of every test file in `files` on `threads` threads and returns the records
/// sorted by file and mode. `each` sees every record as it arrives, with the number of records
/// to expect in all (loading errors are records too); its first error stops handing out tests
/// (the running ones finish) and is returned.
pub(crate) fn execute(
    options: &Test262Options,
    files: &[PathBuf],
    threads: usize,
    mut each: impl FnMut(&Record, usize) -> Result<(), CliError>,
) -> Result<Vec<Record>, CliError> {
    let shown = |path: &Path| {
        path.strip_prefix(&options.root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let mut records = Vec::new();
    let mut jobs = Vec::new();
    for file in files {
        match load_test(options, file) {
            Ok(test) => {
                let test = std::sync::Arc::new(test);
                for mode in test.modes() {
                    jobs.push((test.clone(), mode));
                }
            }
            Err(error) => records.push(Record {
                file: shown(file),
                mode: None,
                outcome: Outcome::Fail(error),
                millis: 0,
            }),
        }
    }
    let total = records.len() + jobs.len();
    let mut failed_output = None;
    for record in &records {
        if let Err(error) = each(record, total) {
            failed_output.get_or_insert(error);
        }
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<Record>();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(jobs.len().max(1)) {
            let tx = tx.clone();
            let (next, jobs, shown) = (&next, &jobs, &shown);
            scope.spawn(move || {
                while let Some((test, mode)) = jobs.get(next.fetch_add(1, Relaxed)) {
                    let begun = Instant::now();
                    let outcome = run_mode(options, test, *mode);
                    let record = Record {
                        file: shown(&test.path),
                        mode: Some(*mode),
                        outcome,
                        millis: begun.elapsed().as_millis(),
                    };
                    if tx.send(record).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for record in rx {
            if failed_output.is_none() {
                if let Err(error) = each(&record, total) {
                    failed_output = Some(error);
                    // Stop handing out tests; the running ones finish.
                    next.store(usize::MAX / 2, Relaxed);
                }
            }
            records.push(record);
        }
    });
    if let Some(error) = failed_output {
        return Err(error);
    }
    records.sort_by(|a, b| {
        (&a.file, a.mode.map(|m| m.to_string())).cmp(&(&b.file, b.mode.map(|m| m.to_string())))
    });
    Ok(records)
}

/// One line for a failed test: file, mode, the first line of the reason.
fn report_failure(bar: &ProgressBar, record: &Record) -> Result<(), CliError> {
    if !record.outcome.is_failure() {
        return Ok(());
    }
    let kind = match record.outcome {
        Outcome::Timeout(_) => "TIMEOUT",
        _ => "FAIL",
    };
    let message = record.outcome.message().unwrap_or("");
    let message = message.lines().next().unwrap_or("");
    let mode = record
        .mode
        .map_or_else(|| "-".to_owned(), |m| m.to_string());
    bar.suspend(|| say!("{kind} {} ({mode}): {message}", record.file))
}

fn write_json(path: &Path, records: &[Record]) -> Result<(), CliError> {
    let list: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let outcome = match r.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail(_) => "fail",
                Outcome::Timeout(_) => "timeout",
                Outcome::Skip(_) => "skip",
            };
            serde_json::json!({
                "file": r.file,
                "mode": r.mode.map(|m| m.to_string()),
                "outcome": outcome,
                "message": r.outcome.message(),
                "ms": r.millis as u64,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&list)
        .map_err(|e| CliError::Failed(format!("cannot encode the results: {e}")))?;
    crate::outfile::write_file(path, |file| file.write_all((text + "\n").as_bytes()))
        .map_err(|e| CliError::Failed(format!("cannot write --json {}: {e}", path.display())))
}
