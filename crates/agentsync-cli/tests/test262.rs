//! `agentsync js test262` on small test files in test262's format (tests/test262): what passes
//! passes, each kind of failure is reported with its reason, and hangs end at the timeout.

mod common;

use common::{agentsync, text};

fn root() -> String {
    format!("{}/tests/test262", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn passing_tests_pass_in_their_modes() {
    let out = agentsync(&["js", "test262", "--root", &root(), "test/pass"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("18 passed, 0 failed, 2 skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("feature immutable-arraybuffer is not supported"),
        "{stdout}"
    );
}

#[test]
fn failures_and_hangs_are_reported_not_hung() {
    let json = std::env::temp_dir().join(format!("agentsync-t262-{}.json", std::process::id()));
    let json_arg = json.display().to_string();
    let out = agentsync(&[
        "js",
        "test262",
        "--root",
        &root(),
        "--timeout",
        "2",
        "--threads",
        "4",
        "--json",
        &json_arg,
        "test/fail",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("0 passed, 19 failed, 0 skipped"),
        "{stdout}"
    );
    for expected in [
        "FAIL test/fail/assert-fails.js (strict): Test262Error: arithmetic: got 2, wanted 3",
        "FAIL test/fail/async-failure.js (sloppy): RangeError: deliberate",
        "(sloppy): the async test ended without calling $DONE",
        "TIMEOUT test/fail/hangs.js (strict): timed out after 2s",
        "TIMEOUT test/fail/hangs-in-wait.js (sloppy): timed out after 2s",
        "TIMEOUT test/fail/hangs-in-agent.js (strict): timed out after 2s",
        "expected a SyntaxError in phase parse, but it ran to completion",
        "expected a TypeError in phase runtime, got RangeError: not the expected type",
        "no-frontmatter.js (-):",
        "cannot read harness file",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    let records = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_file(&json);
    assert!(records.contains("\"outcome\": \"timeout\""), "{records}");
    assert!(
        records.contains("\"file\": \"test/fail/hangs.js\""),
        "{records}"
    );
}

#[test]
fn a_missing_root_is_a_usage_error() {
    let out = agentsync(&["js", "test262", "--root", "/nonexistent/test262"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a test262 checkout"));
    let out = agentsync(&["js", "test262", "--root", &root(), "test/none"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A relative `--root` is applied once (it used to be doubled: `cannot read f/f/test/ok.js`).
#[test]
fn a_relative_root_is_applied_once() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "js",
            "test262",
            "--root",
            "tests/test262",
            "test/pass/basic.js",
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}
