//! The example programs of `examples/js` run on the host and print what their README says; when
//! `node` is on PATH, the same files under Node.js with the shim print the same lines.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use agentsync_js::{Host, Stream};
use common::run_guarded;

/// A small N keeps the lock examples quick in debug builds (4 workers, 2 cores).
const N: &str = "2000";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/js")
        .join(name)
}

/// Runs an example file on the host; its stdout lines (stderr must be empty).
fn run_example(name: &str, args: &[&str]) -> Vec<String> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let builder = {
        let (lines, errors) = (lines.clone(), errors.clone());
        Host::builder()
            .args(args.iter().map(|a| a.to_string()).collect())
            .on_output(move |stream, line| {
                match stream {
                    Stream::Stdout => lines.lock().unwrap().push(line.to_owned()),
                    Stream::Stderr => errors.lock().unwrap().push(line.to_owned()),
                }
                Ok(())
            })
    };
    let path = example(name);
    let result = run_guarded(builder, Arc::new(OnceLock::new()), move |host| {
        host.run_file(&path)
    });
    let lines = lines.lock().unwrap().clone();
    let errors = errors.lock().unwrap().clone();
    if let Err(error) = result {
        panic!("{name} failed: {error}\nstdout: {lines:?}\nstderr: {errors:?}");
    }
    assert!(errors.is_empty(), "{name} wrote to stderr: {errors:?}");
    lines
}

/// Runs an example under Node.js with the shim; `None` (with a note) when node is absent.
fn run_node(name: &str, args: &[&str]) -> Option<Vec<String>> {
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("js/node-shim.cjs");
    let output = match Command::new("node")
        .arg("--require")
        .arg(&shim)
        .arg(example(name))
        .args(args)
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
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node {name} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    Some(stdout.lines().map(str::to_owned).collect())
}

fn check(name: &str, args: &[&str], expected: &[String]) {
    assert_eq!(run_example(name, args), expected, "{name} on the host");
    if let Some(lines) = run_node(name, args) {
        assert_eq!(lines, expected, "{name} under Node.js");
    }
}

#[test]
fn handoff_prints_ok_and_the_payload() {
    check(
        "handoff.js",
        &[],
        &["consumer woke: ok".into(), "payload: beef".into()],
    );
}

#[test]
fn spinlock_counts_every_increment() {
    let total = 4 * N.parse::<u32>().unwrap();
    check(
        "spinlock.js",
        &[N],
        &[format!("counter: {total} (expected {total})")],
    );
}

#[test]
fn parking_lock_counts_every_increment() {
    let total = 4 * N.parse::<u32>().unwrap();
    check(
        "parking_lock.js",
        &[N],
        &[format!("counter: {total} (expected {total})")],
    );
}

#[test]
fn a_lock_example_rejects_a_bad_argument() {
    let path = example("spinlock.js");
    let result = run_guarded(
        Host::builder()
            .args(vec!["-5".into()])
            .on_output(|_, _| Ok(())),
        Arc::new(OnceLock::new()),
        move |host| host.run_file(&path),
    );
    match result {
        Err(agentsync_js::JsError::Script(error)) => {
            assert!(error.message.contains("N must be"), "{error}")
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}
