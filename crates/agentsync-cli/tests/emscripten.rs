//! Emscripten's `-pthread` output, built by Debian's emscripten 3.1.6 from the C programs in
//! `tests/fixtures/emscripten` (see its `build.sh`), runs unmodified under `agentsync js`: the
//! web build with a pool of pthread workers (the main agent cannot block and busy-waits),
//! `-sPROXY_TO_PTHREAD` (main runs in a worker), and `-sSINGLE_FILE`. Each run's stdout and
//! exit status equal the node build's, recorded by `build.sh`, and, when `node` is on PATH,
//! the node build run now beside it.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use common::{finish_within, text};

const PROGRAMS: [&str; 4] = [
    "mutex_counter",
    "condvar_pingpong",
    "tls_once",
    "futex_lock",
];
const BUILDS: [&str; 3] = ["web", "proxy", "single"];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/emscripten")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

fn run_within(program: &str, args: &[&str], limit: Duration) -> Output {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    finish_within(child, limit)
}

fn agentsync_js(args: &[&str]) -> Output {
    run_within(
        env!("CARGO_BIN_EXE_agentsync"),
        &[&["js"], args].concat(),
        Duration::from_secs(120),
    )
}

/// What the node build printed and returned, recorded by `build.sh`.
fn expected(program: &str) -> (String, i32) {
    let stdout = std::fs::read_to_string(fixtures().join(format!("{program}.expected"))).unwrap();
    let status = std::fs::read_to_string(fixtures().join(format!("{program}.status"))).unwrap();
    (stdout, status.trim().parse().unwrap())
}

fn node() -> Option<&'static str> {
    let found = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found.then_some("node")
}

#[test]
fn every_web_build_prints_and_exits_as_the_node_build() {
    for program in PROGRAMS {
        let (stdout, status) = expected(program);
        for build in BUILDS {
            let script = fixture(&format!("{program}_{build}.js"));
            let output = agentsync_js(&[&script]);
            assert_eq!(
                (text(&output.stdout), output.status.code()),
                (stdout.clone(), Some(status)),
                "{program}_{build}.js; stderr: {}",
                text(&output.stderr)
            );
        }
    }
}

#[test]
fn the_node_builds_still_give_the_recorded_output_under_node() {
    let Some(node) = node() else {
        println!("skipped: node is not on PATH (the recorded outputs are still compared)");
        return;
    };
    for program in PROGRAMS {
        if program == "futex_lock" {
            // Node 20 runs this build wrongly about half the time here (counters from 82,821
            // to 3,502,584 for 80,000 increments, lock word 0); the same module on our host
            // counted 80,000 in 20 runs of 20. Not a reference for it until that is understood.
            println!("skipped futex_lock_node.js: node miscounts it (see the comment)");
            continue;
        }
        let (stdout, status) = expected(program);
        let script = fixture(&format!("{program}_node.js"));
        let output = run_within(
            node,
            &["--no-experimental-fetch", &script],
            Duration::from_secs(120),
        );
        assert_eq!(
            (text(&output.stdout), output.status.code()),
            (stdout, Some(status)),
            "node {program}_node.js; stderr: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn exit_from_main_gives_its_status_and_stops_the_workers() {
    // tls_once calls exit(3) from main with four pool workers alive: the status is 3, every
    // line printed before it is there, and the run does not wait for the idle workers.
    let output = agentsync_js(&[&fixture("tls_once_web.js")]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stdout).ends_with("main's own value = -1\n"));
    assert!(
        !text(&output.stderr).contains("error:"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn abort_in_a_worker_thread_fails_the_run_with_the_message() {
    let (stdout, node_status) = expected("aborts");
    assert_ne!(node_status, 0);
    for build in BUILDS {
        let output = agentsync_js(&[&fixture(&format!("aborts_{build}.js"))]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "aborts_{build}.js: {stderr}");
        assert_eq!(text(&output.stdout), stdout, "aborts_{build}.js");
        assert!(stderr.contains("Aborted()"), "aborts_{build}.js: {stderr}");
    }
}

#[test]
fn a_build_without_exit_runtime_ends_when_its_pool_is_idle() {
    // No -sEXIT_RUNTIME (the command from the Emscripten docs): main returns, and the four
    // pool workers wait for messages that can never come (node keeps running here, a browser
    // keeps the page). The run ends with status 0 once every agent is idle.
    let output = agentsync_js(&[&fixture("mutex_counter_noexit.js")]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "counter = 80000 (expected 80000)\n");
}

#[test]
fn main_gets_the_scripts_arguments_as_argv() {
    // bench/emscripten/mutex.c reads THREADS and N from argv: Module.arguments is
    // agentsync.args, as node gives the node build its command line.
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/emscripten/mutex_web.js")
        .display()
        .to_string();
    let output = agentsync_js(&[&script, "--", "3", "1000"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "counter = 3000\n");
}
