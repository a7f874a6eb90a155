//! Every command whose stdout is closed or full ends with a clear status, never a panic: a
//! closed pipe (`agentsync tour | head -1`) stops it quietly with status 141 (128 + SIGPIPE),
//! a full disk (`>/dev/full`) prints `error: cannot write output: …` and exits with 1.

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::process::{Command, Output, Stdio};

mod common;

use common::QUICK_BENCH;

/// The commands of issue 10, each short.
fn commands() -> Vec<Vec<String>> {
    let wasm = concat!(env!("CARGO_MANIFEST_DIR"), "/../agentsync-wasm");
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect();
    vec![
        strings(&["--help"]),
        strings(&["--version"]),
        strings(&["tour"]),
        strings(&["wast", &format!("{wasm}/tests/wast/w13_shared_memory.wast")]),
        strings(&[
            "wasm",
            "run",
            &format!("{wasm}/examples/wasm/counter.wat"),
            "--invoke",
            "add",
            "10",
        ]),
        strings(&QUICK_BENCH),
        strings(&["stress", "--seconds", "1"]),
        // The same rule for every agent: main printing, and a worker printing.
        strings(&["js", "-e", "print('main')"]),
        strings(&[
            "js",
            "-e",
            "new Worker(\"print('worker')\", { eval: true })",
        ]),
    ]
}

fn run_with_stdout(args: &[String], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("the agentsync binary runs")
}

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE,
/// as for a reader like `head -1` that went away.
fn closed_pipe() -> OwnedFd {
    let (read, write) = common::pipe();
    drop(read);
    write
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_status_141() {
    for args in commands() {
        let output = run_with_stdout(&args, Stdio::from(closed_pipe()));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?} is not quiet: {stderr}");
    }
}

#[test]
fn a_full_disk_is_one_error_line_and_status_1() {
    for args in commands() {
        let full = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full exists on Linux");
        let output = run_with_stdout(&args, Stdio::from(full));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: cannot write output: No space left on device"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}
