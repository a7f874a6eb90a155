//! Programs that once differed from the spec and from Node.js (J1–J3 of docs/semantics.md, and a
//! spurious wake-up through address reuse): each runs on the host and must print its expected
//! lines; when `node` is on PATH, the same file under Node.js with the shim must print the same.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use agentsync_js::{Host, Stream};
use common::run_guarded;

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/parity")
        .join(name)
}

/// Runs a program on the host: its stdout and stderr lines (it must succeed).
fn run_host(name: &str) -> (Vec<String>, Vec<String>) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let builder = {
        let (out, err) = (out.clone(), err.clone());
        Host::builder().on_output(move |stream, line| {
            match stream {
                Stream::Stdout => out.lock().unwrap().push(line.to_owned()),
                Stream::Stderr => err.lock().unwrap().push(line.to_owned()),
            }
            Ok(())
        })
    };
    let path = program(name);
    let result = run_guarded(builder, Arc::new(OnceLock::new()), move |host| {
        host.run_file(&path)
    });
    let (out, err) = (out.lock().unwrap().clone(), err.lock().unwrap().clone());
    if let Err(error) = result {
        panic!("{name} failed: {error}\nstdout: {out:?}\nstderr: {err:?}");
    }
    (out, err)
}

/// The program's stdout under Node.js with the shim; `None` when node is not on PATH.
fn run_node(name: &str) -> Option<Vec<String>> {
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("js/node-shim.cjs");
    let output = match Command::new("node")
        .arg("--require")
        .arg(&shim)
        .arg(program(name))
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            println!("note: node is not on PATH; skipping the Node.js run of {name}");
            return None;
        }
        Err(error) => panic!("cannot run node: {error}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node {name} failed ({}): {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Some(stdout.lines().map(str::to_owned).collect())
}

/// Runs `name` on the host and under node; both must print `expected`. Returns the host's
/// stderr.
fn check(name: &str, expected: &[&str]) -> Vec<String> {
    let (out, err) = run_host(name);
    assert_eq!(out, expected, "{name} on the host (stderr: {err:?})");
    if let Some(node) = run_node(name) {
        assert_eq!(node, expected, "{name} under node");
    }
    err
}

#[test]
fn j1_a_notify_while_main_is_busy_past_the_timeout_still_takes_the_waiter() {
    let err = check(
        "j1_main_busy_notify_wins.js",
        &["notify returned 1 and the wait resolved ok"],
    );
    assert!(err.is_empty(), "{err:?}");
}

#[test]
fn j1_a_worker_blocked_in_wait_past_its_waitasync_timeout_is_still_notified() {
    let err = check(
        "j1_worker_blocked_notify_wins.js",
        &["notify returned 1 and the worker's wait resolved ok"],
    );
    assert!(err.is_empty(), "{err:?}");
}

#[test]
fn j2_notify_and_waitasync_on_a_length_tracking_view_see_the_grown_length() {
    let err = check(
        "j2_length_tracking_atomics.js",
        &[
            r#"0 0 {"async":false,"value":"not-equal"}"#,
            r#"0 {"async":false,"value":"not-equal"}"#,
            "32 77 77 128",
        ],
    );
    assert!(err.is_empty(), "{err:?}");
}

#[test]
fn j3_an_untimed_wait_nobody_can_notify_ends_the_program_with_a_warning() {
    let err = check("j3_untimed_wait_ends.js", &["queued", "the last timer ran"]);
    assert_eq!(
        err,
        [
            "warning: the program ended with 1 Atomics.waitAsync call still pending that no \
          agent can notify any more"
        ]
    );
}

#[test]
fn a_pending_wait_keeps_its_buffer_so_a_new_buffer_at_its_address_cannot_wake_it() {
    check(
        "reused_address.js",
        &[
            "notifies on new buffers woke 0",
            "the wait resolved timed-out",
        ],
    );
}

#[test]
fn structured_clone_follows_the_html_algorithm_as_node_does() {
    check(
        "structured_clone.js",
        &[
            "list 1000",
            "symbol keys 0",
            "error true RangeError bad",
            "dataview true 2 4 8",
            "getter 42 42",
            "holes false 3 e",
            "global DataCloneError",
            "no arg TypeError",
            "function DataCloneError",
            "cycle true true true",
            "shared buffer true",
            r#"misc [5,true,"g"] 7 gi object"#,
            r#"worker {"n":1000,"err":true,"msg":"t","dv":9}"#,
        ],
    );
}

#[test]
fn timer_delays_past_2_31_ms_fire_as_in_node() {
    let err = check("huge_timers.js", &["1e+308 2147483648 4294967301 Infinity"]);
    assert_eq!(err.len(), 4, "one TimeoutOverflowWarning a timer: {err:?}");
}

#[test]
fn a_raw_nul_in_a_string_literal_runs_as_in_node() {
    check("nul_in_literal.js", &["3 0"]);
}

#[test]
fn a_module_under_two_paths_or_importing_itself_runs_once_as_in_node() {
    check("modules/main.mjs", &["a ran", "main ran 1 1 object"]);
}
