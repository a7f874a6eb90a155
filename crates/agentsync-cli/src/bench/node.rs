//! The `node` peer: the same scenarios written for Node.js (V8), the reference implementation
//! of these semantics, in `bench/node/agentsync-bench.cjs`, run as a child process.
//!
//! The script is compiled into the binary and written for each run to a temporary file created
//! exclusively under a random name ([`TempFile`]) and removed afterwards, so the bench works
//! from any directory and never follows a file planted in the temporary directory. Without
//! `node` on PATH, or when node fails, the peer is skipped with the reason; the rest of the
//! bench goes on.

use std::io::{ErrorKind, Write};
use std::process::{Command, Output};

use serde::Deserialize;

use super::{Config, Outcome, Sample, NATIVE_WAITERS};
use crate::temp::TempFile;

/// The Node.js side of the bench.
const SCRIPT: &str = include_str!("../../../../bench/node/agentsync-bench.cjs");

/// The one JSON line the script prints.
#[derive(Debug, Deserialize)]
struct Line {
    value: Option<f64>,
    note: Option<String>,
    skipped: Option<String>,
}

/// How many operations the script does for `scenario`.
fn count(scenario: &str, config: &Config) -> usize {
    match scenario {
        "sync_pingpong" => config.pick(50_000, 5_000),
        "notify_no_waiters" => config.pick(5_000_000, 500_000),
        _ => NATIVE_WAITERS,
    }
}

/// Runs one round of `scenario` under Node.js. Whatever goes wrong on node's side (no node,
/// the script cannot be written, node fails or prints something else) skips this peer with the
/// reason; the rest of the bench goes on.
pub(super) fn run(scenario: &str, config: &Config) -> Result<Outcome, String> {
    Ok(match measure(scenario, config) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Skipped(format!("node: {reason}, skipped")),
    })
}

/// One round under Node.js; `Err` is why node could not measure it.
fn measure(scenario: &str, config: &Config) -> Result<Outcome, String> {
    // Created exclusively under a random name and removed when `script` drops, on every return.
    let mut script = TempFile::new_in(&std::env::temp_dir(), "agentsync-bench-", ".cjs")
        .and_then(|mut file| file.file().write_all(SCRIPT.as_bytes()).map(|()| file))
        .map_err(|e| format!("cannot write its script to a temporary file ({e})"))?;
    script.file().flush().map_err(|e| {
        format!(
            "cannot write its script to {} ({e})",
            script.path().display()
        )
    })?;
    let output = Command::new("node")
        .arg("--expose-gc")
        .arg(script.path())
        .arg(scenario)
        .arg(count(scenario, config).to_string())
        .output();
    drop(script);
    outcome(output)
}

/// What a node run printed: its one JSON line as a figure or a skip (`node: REASON`); `Err` is
/// why node could not measure (not found, failed, printed something else).
pub(super) fn outcome(output: std::io::Result<Output>) -> Result<Outcome, String> {
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => return Err("not found".into()),
        Err(error) => return Err(format!("cannot run ({error})")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!(
            "failed ({}{})",
            output.status,
            last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
        ));
    }
    parse_line(&stdout, "node")
}

/// The last non-blank line of `stdout`, the protocol's one JSON line, as a figure or as a skip
/// (`{who}: REASON`); `Err` if it is not that line.
pub(super) fn parse_line(stdout: &str, who: &str) -> Result<Outcome, String> {
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let line: Line = serde_json::from_str(last)
        .map_err(|e| format!("printed {last:?}, not the expected JSON line ({e})"))?;
    match (line.skipped, line.value) {
        (Some(reason), _) => Ok(Outcome::Skipped(format!("{who}: {reason}"))),
        (None, Some(value)) => Ok(Outcome::Measured(Sample {
            value,
            note: line.note,
        })),
        (None, None) => Err(format!("printed no value ({last})")),
    }
}
