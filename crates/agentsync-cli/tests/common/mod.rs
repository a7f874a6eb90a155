//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The shortest bench run: one quick round of the cheapest scenario.
pub const QUICK_BENCH: [&str; 6] = [
    "bench",
    "--quick",
    "--rounds",
    "1",
    "--scenario",
    "notify_no_waiters",
];

/// Runs the `agentsync` binary with `args` and collects its output.
pub fn agentsync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(args)
        .output()
        .expect("the agentsync binary runs")
}

/// Captured output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path inside the `agentsync-wasm` crate (its examples and spec scripts).
pub fn wasm_crate(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agentsync-wasm")
        .join(path)
        .display()
        .to_string()
}

/// A path inside the `agentsync-js` crate (its example scripts).
pub fn js_crate(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agentsync-js")
        .join(path)
        .display()
        .to_string()
}
