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

/// Waits for `child` with a hang guard: kills it and fails the test after `limit`.
pub fn finish_within(mut child: std::process::Child, limit: std::time::Duration) -> Output {
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().expect("poll the child").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            let output = child.wait_with_output().unwrap();
            panic!(
                "agentsync still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// A pipe: `(read end, write end)`.
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    let created = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(created, 0, "pipe(2) failed");
    // SAFETY: pipe(2) succeeded, so both are open and owned by nobody else.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}
