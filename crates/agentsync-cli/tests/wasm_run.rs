//! `agentsync wasm run` when threads cannot be started, when a guest thread traps, and with
//! bad command lines or files.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

/// Runs `command` with a hang guard: kills it and fails the test after `limit`.
fn finish_within(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agentsync binary");
    common::finish_within(child, limit)
}

/// A file readable by every user, in a fresh directory.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentsync-wasm-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every thread adds 1 to word 0 and waits until as many as it was told (1024 here) have.
const BARRIER: &str = include_str!("../../agentsync-wasm/tests/fixtures/barrier.wat");

/// Under a process limit of 64 (as an unprivileged user, so the limit applies), 1024 threads
/// cannot all start: the run says how many did, stops them, and exits 1 without a panic.
/// Needs root (to switch user) and util-linux's `setpriv` and `prlimit`; skipped otherwise.
#[test]
fn threads_refused_by_the_os_end_the_run_with_one_line_and_status_1() {
    let tools = ["setpriv", "prlimit"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok());
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !tools || !root {
        eprintln!("skipped: needs root, setpriv and prlimit");
        return;
    }
    let module = scratch("barrier1024.wat", BARRIER.as_bytes());
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "prlimit",
        "--nproc=64",
    ]);
    command.arg(env!("CARGO_BIN_EXE_agentsync"));
    command.args(["wasm", "run", "--threads", "1024", "--invoke", "meet"]);
    command.arg(&module).arg("1024");
    let output = finish_within(command, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("could start only "), "{stderr}");
    assert!(stderr.contains(" of 1024 threads"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

fn agentsync(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentsync"));
    command.args(args);
    command
}

/// Thread 0 traps; the others wait on word 4 forever.
const ONE_TRAPS_OTHERS_WAIT: &str =
    include_str!("../../agentsync-wasm/tests/fixtures/one_traps_others_wait.wat");

#[test]
fn a_trapping_thread_ends_the_run_with_status_1_and_the_trap() {
    let module = scratch("trap.wat", ONE_TRAPS_OTHERS_WAIT.as_bytes());
    let module = module.to_str().unwrap();
    let command = agentsync(&["wasm", "run", module, "--threads", "5", "--invoke", "f"]);
    let output = finish_within(command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(output.stdout.is_empty());
}

fn counter_wat() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agentsync-wasm/examples/wasm/counter.wat")
}

#[test]
fn options_after_the_guest_arguments_are_options() {
    let counter = counter_wat();
    let counter = counter.to_str().unwrap();
    let args = [
        "wasm",
        "run",
        counter,
        "--invoke",
        "add",
        "10",
        "--threads",
        "3",
    ];
    let output = finish_within(agentsync(&args), Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert_eq!(stdout.lines().count(), 3, "three threads ran: {stdout}");
}

#[test]
fn negative_numbers_and_values_after_double_dash_are_guest_arguments() {
    let module = scratch(
        "negate.wat",
        br#"(module (func (export "neg") (param f64) (result f64) (f64.neg (local.get 0))))"#,
    );
    let module = module.to_str().unwrap();
    let output = agentsync(&["wasm", "run", module, "--invoke", "neg", "-2.5"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "thread 0: 2.5:f64\n"
    );
    let output = agentsync(&["wasm", "run", module, "--invoke", "neg", "--", "-inf"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "thread 0: inf:f64\n"
    );
}

#[test]
fn random_bytes_are_not_a_webassembly_module_naming_the_file() {
    let module = scratch(
        "random.bin",
        &[0x89, 0xfe, 0x00, 0x13, 0xc3, 0x28, 0xff, 0x7f],
    );
    let output = agentsync(&["wasm", "run", module.to_str().unwrap(), "--invoke", "f"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("random.bin"), "{stderr}");
    assert!(stderr.contains("not a WebAssembly module"), "{stderr}");
    assert!(!stderr.contains("UTF-8"), "{stderr}");
}
