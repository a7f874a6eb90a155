//! `agentsync conformance --suites DIR`: every official suite found under DIR, run through our
//! runners and compared with the committed expectations.
//!
//! The suites are fetched, never committed: WebAssembly/threads (`test/core` with its
//! `threads/` scripts, and `test/js-api`), tc39/test262 (`built-ins/Atomics` and
//! `built-ins/SharedArrayBuffer`) and WebAssembly/wasi-testsuite. Each may be a work tree or a
//! bare repository (read at HEAD; wasi-testsuite at its `prod/testsuite-all` branch), at any
//! depth under DIR; [`find`] recognises them by content.
//!
//! The expectations file (by default [`EXPECTATIONS`], built in from
//! `conformance/expectations.json`) lists, per suite, each case known to fail with its reason.
//! The run differs from it when a case fails that is not listed (a regression), or a listed
//! case passes or no longer exists (the list is stale): either way the command exits
//! [`EXIT_FAILED`](crate::EXIT_FAILED), naming every difference, so a new failure and a new
//! pass both show. A case may be named with `*` wildcards (`*limits.any.js: *`).
//!
//! Output: a progress line per script, js-api file and failing test262 case, then one table
//! (suite, passed, failed, skipped, seconds, where it was found), the expected failures with
//! their reasons, and the differences.

pub mod case;
pub mod find;
pub mod suites;
pub mod wasi;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use crate::CliError;
use find::{find_suites, Kind};
use suites::{run_suite, RunOptions, SuiteRun, Verdict};

/// The committed expectations: for each suite, the cases known to fail and why.
pub const EXPECTATIONS: &str = include_str!("../../conformance/expectations.json");

/// `agentsync conformance` arguments.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Where the fetched suites are (searched at any depth; work trees or bare repositories).
    #[arg(long, value_name = "DIR")]
    pub suites: PathBuf,
    /// An expectations file to use instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub expectations: Option<PathBuf>,
    /// Run only these suites (`threads-core`, `js-api`, `test262`, `wasi-testsuite`).
    #[arg(long, value_name = "SUITE", value_parser = clap::builder::PossibleValuesParser::new(
        Kind::ALL.map(Kind::name)))]
    pub only: Vec<String>,
    /// Seconds one test262 test, one js-api file or one WASI program may run before it
    /// fails (`// META: timeout=long` triples it).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// How many test262 tests run at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<std::num::NonZeroUsize>,
}

/// For each suite name, each known failure (a case name, `*` a wildcard) and its reason.
pub type Expectations = BTreeMap<String, BTreeMap<String, String>>;

/// Parses an expectations file, refusing suite names the gate does not know.
///
/// # Errors
///
/// The text is not a JSON object of objects of strings, or names an unknown suite.
pub fn parse_expectations(text: &str) -> Result<Expectations, String> {
    let parsed: Expectations =
        serde_json::from_str(text).map_err(|e| format!("not valid expectations: {e}"))?;
    for suite in parsed.keys() {
        if Kind::from_name(suite).is_none() {
            let known: Vec<&str> = Kind::ALL.map(Kind::name).to_vec();
            return Err(format!(
                "unknown suite {suite:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(parsed)
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// How a suite's run compares with its expectations.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Failures the file lists: `(case, reason)`.
    pub expected: Vec<(String, String)>,
    /// Every difference, one line each: `new failure …`, `new pass …`, `no such case …`.
    pub differences: Vec<String>,
}

/// Compares a run with the known failures of its suite.
pub fn compare(run: &SuiteRun, known: &BTreeMap<String, String>) -> Comparison {
    let mut comparison = Comparison::default();
    for case in &run.cases {
        let Verdict::Fail(why) = &case.verdict else {
            continue;
        };
        match known.iter().find(|(pattern, _)| matches(pattern, &case.id)) {
            Some((_, reason)) => comparison.expected.push((case.id.clone(), reason.clone())),
            None => comparison
                .differences
                .push(format!("new failure {}: {}", case.id, why)),
        }
    }
    for (pattern, reason) in known {
        let mut matching = run.cases.iter().filter(|c| matches(pattern, &c.id));
        let mut any = false;
        let mut failing = false;
        for case in matching.by_ref() {
            any = true;
            failing |= matches!(case.verdict, Verdict::Fail(_));
        }
        if !any {
            comparison.differences.push(format!(
                "no such case {pattern} (listed as failing: {reason}): remove it from the \
                 expectations"
            ));
        } else if !failing {
            comparison.differences.push(format!(
                "new pass {pattern} (listed as failing: {reason}): remove it from the \
                 expectations"
            ));
        }
    }
    comparison
}

/// `agentsync conformance`.
///
/// # Errors
///
/// [`CliError::Usage`] for a DIR without any suite or a bad expectations file;
/// [`CliError::Failed`] when a result differs from the expectations.
pub fn run(args: &ConformanceArgs) -> Result<(), CliError> {
    let text = match &args.expectations {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read --expectations {}: {e}",
                path.display()
            ))
        })?,
        None => EXPECTATIONS.to_string(),
    };
    let expectations = parse_expectations(&text).map_err(CliError::Usage)?;
    let mut found = find_suites(&args.suites).map_err(CliError::Usage)?;
    if !args.only.is_empty() {
        found.retain(|f| args.only.iter().any(|o| o == f.kind.name()));
    }
    if found.is_empty() {
        return Err(CliError::Usage(format!(
            "no official suite found under {} (looked for test/core/threads/*.wast, \
             test/js-api, test/built-ins/Atomics with harness/, tests/proposals/wasi-threads)",
            args.suites.display()
        )));
    }
    let options = RunOptions {
        threads: args
            .threads
            .map_or(RunOptions::default().threads, |n| n.get()),
        timeout: args.timeout.max(1),
    };
    let mut runs = Vec::new();
    for suite in &found {
        say!("== {} ({})", suite.kind.name(), suite.origin)?;
        let mut progress = |line: &str| say!("{line}");
        runs.push(run_suite(suite, options, &mut progress)?);
    }
    report(&runs, &expectations)
}

/// Prints the table, the expected failures and the differences; fails on any difference.
fn report(runs: &[SuiteRun], expectations: &Expectations) -> Result<(), CliError> {
    let empty = BTreeMap::new();
    let comparisons: Vec<Comparison> = runs
        .iter()
        .map(|run| compare(run, expectations.get(run.kind.name()).unwrap_or(&empty)))
        .collect();
    say!()?;
    say!(
        "{:<15} {:>7} {:>7} {:>8} {:>8}  where",
        "suite",
        "passed",
        "failed",
        "skipped",
        "seconds"
    )?;
    for run in runs {
        say!(
            "{:<15} {:>7} {:>7} {:>8} {:>8.1}  {}",
            run.kind.name(),
            run.count(|v| *v == Verdict::Pass),
            run.count(|v| matches!(v, Verdict::Fail(_))),
            run.count(|v| matches!(v, Verdict::Skip(_))),
            run.seconds,
            run.origin
        )?;
    }
    let mut differences = 0;
    for (run, comparison) in runs.iter().zip(&comparisons) {
        for (case, reason) in &comparison.expected {
            say!("expected failure {} {case}: {reason}", run.kind.name())?;
        }
        for difference in &comparison.differences {
            say!("DIFFERS {} {difference}", run.kind.name())?;
            differences += 1;
        }
    }
    let skipped: Vec<String> = runs
        .iter()
        .filter_map(|run| {
            run.cases.iter().find_map(|c| match &c.verdict {
                Verdict::Skip(why) if run.kind == Kind::WasiTestsuite => {
                    Some(format!("{}: {why}", run.kind.name()))
                }
                _ => None,
            })
        })
        .collect();
    for line in skipped {
        say!("skipped {line}")?;
    }
    if differences > 0 {
        return Err(CliError::Failed(format!(
            "{differences} results differ from the expectations"
        )));
    }
    say!("every result is as expected")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use suites::Case;

    #[test]
    fn wildcards_match_any_run_and_only_that() {
        assert!(matches("a.any.js: x", "a.any.js: x"));
        assert!(!matches("a.any.js: x", "a.any.js: xy"));
        assert!(matches("*limits.any.js: *", "limits.any.js: Max memory"));
        assert!(matches("*limits.any.js: *", "dir/limits.any.js: "));
        assert!(!matches("*limits.any.js: *", "limits.any.js"));
        assert!(matches(
            "*: Wait*traps",
            "memory/x.any.js: Wait on unshared memory traps"
        ));
        assert!(!matches(
            "*: Wait*traps",
            "memory/x.any.js: Wait on shared memory"
        ));
        assert!(matches("*", ""));
        assert!(!matches("a*a", "a"));
    }

    fn run(cases: &[(&str, Verdict)]) -> SuiteRun {
        SuiteRun {
            kind: Kind::JsApi,
            origin: "here".into(),
            cases: cases
                .iter()
                .map(|(id, verdict)| Case {
                    id: (*id).to_string(),
                    verdict: verdict.clone(),
                })
                .collect(),
            seconds: 0.0,
        }
    }

    #[test]
    fn a_new_failure_a_new_pass_and_a_stale_entry_each_differ() {
        let known: BTreeMap<String, String> = [
            ("a: listed".to_string(), "known".to_string()),
            ("b: now passes".to_string(), "was broken".to_string()),
            ("c: gone".to_string(), "deleted test".to_string()),
        ]
        .into();
        let result = run(&[
            ("a: listed", Verdict::Fail("boom".into())),
            ("b: now passes", Verdict::Pass),
            ("d: new", Verdict::Fail("bad".into())),
            ("e: fine", Verdict::Pass),
            ("f: skipped", Verdict::Skip("feature".into())),
        ]);
        let comparison = compare(&result, &known);
        assert_eq!(
            comparison.expected,
            [("a: listed".to_string(), "known".to_string())]
        );
        assert_eq!(comparison.differences.len(), 3, "{comparison:?}");
        assert!(comparison.differences[0].starts_with("new failure d: new: bad"));
        assert!(comparison.differences[1].starts_with("new pass b: now passes"));
        assert!(comparison.differences[2].starts_with("no such case c: gone"));
    }

    #[test]
    fn the_built_in_expectations_parse_and_an_unknown_suite_is_refused() {
        let parsed = parse_expectations(EXPECTATIONS).unwrap();
        assert!(parsed.contains_key("js-api"));
        let err = parse_expectations(r#"{"nope": {}}"#).unwrap_err();
        assert!(err.contains("unknown suite \"nope\""), "{err}");
        assert!(parse_expectations("[1]").is_err());
    }
}
