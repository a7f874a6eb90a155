//! The `node` peer: the same scenarios written for Node.js (V8), the reference implementation
//! of these semantics, in `bench/node/agentsync-bench.cjs`, run as a child process.
//!
//! The script is compiled into the binary and written to a temporary file for each run, so the
//! bench works from any directory. Without `node` on PATH the peer is skipped with a note.

use std::io::ErrorKind;
use std::process::Command;

use serde::Deserialize;

use super::{waiters::NATIVE_WAITERS, Config, Outcome, Sample};

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

/// Runs one round of `scenario` under Node.js.
pub(super) fn run(scenario: &str, config: &Config) -> Result<Outcome, String> {
    let path = std::env::temp_dir().join(format!("agentsync-bench-{}.cjs", std::process::id()));
    std::fs::write(&path, SCRIPT)
        .map_err(|e| format!("cannot write the node script to {}: {e}", path.display()))?;
    let output = Command::new("node")
        .arg("--expose-gc")
        .arg(&path)
        .arg(scenario)
        .arg(count(scenario, config).to_string())
        .output();
    let _ = std::fs::remove_file(&path);
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Ok(Outcome::Skipped("node: not found, skipped".into()))
        }
        Err(error) => return Err(format!("cannot run node: {error}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "node exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let line: Line = serde_json::from_str(last)
        .map_err(|e| format!("node printed {last:?}, not the expected JSON line: {e}"))?;
    match (line.skipped, line.value) {
        (Some(reason), _) => Ok(Outcome::Skipped(format!("node: {reason}"))),
        (None, Some(value)) => Ok(Outcome::Measured(Sample {
            value,
            note: line.note,
        })),
        (None, None) => Err(format!("node printed no value: {last}")),
    }
}
