//! `agentsync js testharness`: WPT-style `*.any.js` files on the JS host, with the fixtures in
//! `tests/testharness/`.

mod common;

use std::path::PathBuf;

use common::{agentsync, text};

/// A fixture's path.
fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testharness")
        .join(name)
        .display()
        .to_string()
}

/// Runs `agentsync js testharness ARGS` and returns (exit code, stdout, stderr).
fn testharness(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["js", "testharness"];
    all.extend_from_slice(args);
    let output = agentsync(&all);
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn a_passing_file_passes() {
    let (code, stdout, stderr) = testharness(&[&fixture("pass.any.js")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("PASS ") && stdout.contains("pass.any.js (2/2)"),
        "{stdout}"
    );
    assert!(stdout.ends_with("2 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn a_failing_assertion_fails_the_file() {
    let (code, stdout, _) = testharness(&[&fixture("fail.any.js")]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "fail.any.js (1/2): one is two: assert_equals: one is not two expected 2 but got 1"
        ),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 passed, 1 failed\n"), "{stdout}");
}

#[test]
fn meta_scripts_are_evaluated_first() {
    let (code, stdout, stderr) = testharness(&[&fixture("meta.any.js")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("meta.any.js (1/1)"), "{stdout}");
}

#[test]
fn promise_tests_run_in_order() {
    let (code, stdout, _) = testharness(&[&fixture("promise.any.js"), "--verbose"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("promise.any.js (3/4)"), "{stdout}");
    assert!(
        stdout.contains("FAIL a rejected promise fails: TypeError: rejected on purpose"),
        "{stdout}"
    );
}

#[test]
fn a_file_that_never_ends_times_out_and_the_run_moves_on() {
    let (code, stdout, _) = testharness(&[
        "--timeout",
        "1",
        &fixture("hang.any.js"),
        &fixture("spin.any.js"),
        &fixture("pass.any.js"),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("hang.any.js (1/2)"), "{stdout}");
    assert!(stdout.contains("timed out after 1 s"), "{stdout}");
    assert!(stdout.contains("spin.any.js (0/1)"), "{stdout}");
    assert!(stdout.contains("pass.any.js (2/2)"), "{stdout}");
}

#[test]
fn a_directory_runs_every_any_js_file() {
    let (code, stdout, _) = testharness(&["--timeout", "1", &fixture("")]);
    assert_eq!(code, Some(1), "{stdout}");
    for name in ["fail", "hang", "meta", "pass", "promise", "spin"] {
        assert!(stdout.contains(&format!("{name}.any.js (")), "{stdout}");
    }
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let (code, stdout, stderr) = testharness(&[&fixture("missing.any.js")]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}
