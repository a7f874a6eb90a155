//! `agentsync wasm run` and `agentsync wast`, run as a user would.

mod common;

use std::process::Command;

use common::{agentsync, wasm_crate};

#[test]
fn wasm_run_calls_the_export_on_every_thread_over_one_memory() {
    let module = wasm_crate("examples/wasm/counter.wat");
    let output = agentsync(&[
        "wasm",
        "run",
        &module,
        "--threads",
        "4",
        "--invoke",
        "add",
        "1000",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let totals: Vec<i64> = stdout
        .lines()
        .map(|line| {
            line.rsplit(' ')
                .next()
                .unwrap()
                .trim_end_matches(":i32")
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(totals.len(), 4);
    // Each thread saw the counter after its own adds; the last one to finish saw all of them.
    assert_eq!(totals.iter().max(), Some(&4000), "{stdout}");
}

#[test]
fn wasm_run_reports_a_missing_file_and_a_bad_export_clearly() {
    let missing = agentsync(&["wasm", "run", "/nonexistent/x.wat", "--invoke", "f"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "an unreadable file is a usage error"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/x.wat"));

    let module = wasm_crate("examples/wasm/counter.wat");
    let unknown = agentsync(&["wasm", "run", &module, "--invoke", "no_such_export"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "an export that is not there is a usage error"
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no_such_export"));
}

/// Arguments that ask for what the module cannot do are usage errors (exit 2), each named in
/// one line; a guest that runs and fails is exit 1.
#[test]
fn wasm_run_argument_errors_exit_2_naming_the_problem() {
    let counter = wasm_crate("examples/wasm/counter.wat");
    let dir = std::env::temp_dir().join(format!("agentsync-argerr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unshared = dir.join("unshared.wat");
    std::fs::write(&unshared, r#"(module (func (export "f")))"#).unwrap();
    let unshared = unshared.to_str().unwrap();
    let cases: [(&str, &[&str], &str); 3] = [
        (&counter, &["--invoke", "add"], "arguments"),
        (&counter, &["--invoke", "add", "abc"], "\"abc\""),
        (
            unshared,
            &["--threads", "2", "--invoke", "f"],
            "shared memory",
        ),
    ];
    for (module, args, named) in cases {
        let mut argv = vec!["wasm", "run", module];
        argv.extend_from_slice(args);
        let output = agentsync(&argv);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{argv:?}: {stderr}");
        assert!(stderr.contains(named), "{argv:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{argv:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A malformed text module is reported in one line with the file's line and column, not the
/// parser's `<anon>` caret diagram.
#[test]
fn wasm_run_malformed_text_is_one_line_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("agentsync-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.wat");
    std::fs::write(&path, "(module\n  (func (result i32) i32.const))").unwrap();
    let output = agentsync(&["wasm", "run", path.to_str().unwrap(), "--invoke", "f"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("<anon>"), "{stderr}");
    assert!(stderr.contains("bad.wat: malformed module: 2:"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wast_prints_a_line_per_file_and_the_closing_count() {
    let scripts = [
        wasm_crate("tests/wast/w13_shared_memory.wast"),
        wasm_crate("tests/wast/w07_w08_wait.wast"),
    ];
    let output = agentsync(&["wast", &scripts[0], &scripts[1]]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("ok ") && lines[1].starts_with("ok "),
        "{stdout}"
    );
    assert_eq!(lines[2], "2 passed, 0 failed");
}

#[test]
fn wast_counts_a_failing_script_and_exits_non_zero() {
    let dir = std::env::temp_dir().join(format!("agentsync-wast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.wast");
    std::fs::write(&bad, "(module (func (export \"f\") (result i32) (i32.const 1)))\n(assert_return (invoke \"f\") (i32.const 2))\n").unwrap();
    let output = agentsync(&["wast", bad.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().next().unwrap().starts_with("FAIL"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("0 passed, 1 failed"));
}

/// Issue 10 item 11: each file's line is printed when that file is done, so a script that
/// hangs (here: a wait nobody notifies) still leaves the earlier results on screen.
#[test]
fn wast_prints_each_file_before_the_next_one_runs() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;

    let dir = std::env::temp_dir().join(format!("agentsync-wast-hang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hang = dir.join("hang.wast");
    std::fs::write(
        &hang,
        "(module (memory 1 1 shared)\n\
           (func (export \"forever\") (result i32)\n\
             (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))\n\
         (assert_return (invoke \"forever\") (i32.const 0))\n",
    )
    .unwrap();
    let first = wasm_crate("tests/wast/w13_shared_memory.wast");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(["wast", &first, hang.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    // A hang guard, not a speed check: the first line comes long before this.
    let line = receiver.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let line = line.expect("the first file's line was printed while the second still runs");
    assert!(
        line.starts_with("ok ") && line.contains("w13_shared_memory"),
        "{line}"
    );
}

/// Usage errors exit 2 (`EXIT_USAGE`), a run whose scripts fail exits 1: a script that cannot
/// be opened is the former, found before any script runs.
#[test]
fn wast_with_an_unreadable_file_is_a_usage_error_naming_it() {
    let good = wasm_crate("tests/wast/w13_shared_memory.wast");
    let output = agentsync(&["wast", &good, "/nonexistent/missing.wast"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read /nonexistent/missing.wast: "),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing ran");
    let clap_error = agentsync(&["wast", "--no-such-flag", &good]);
    assert_eq!(clap_error.status.code(), Some(2));
}

/// `--profile threads-proposal` runs scripts as the threads proposal's spec version defines
/// them; `--threads-proposal` is the proposal before reference types (one table per module);
/// a directory stands for its `.wast` files.
#[test]
fn wast_threads_proposal_profile_runs_directories_of_scripts() {
    let scratch = std::env::temp_dir().join(format!("agentsync-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("sub")).unwrap();
    let script = wasm_crate("tests/wast/profile_threads_proposal.wast");
    std::fs::copy(&script, scratch.join("b.wast")).unwrap();
    std::fs::copy(&script, scratch.join("sub/a.wast")).unwrap();
    std::fs::write(scratch.join("notes.txt"), "not a script").unwrap();
    let early = std::env::temp_dir().join(format!("agentsync-early-{}.wast", std::process::id()));
    std::fs::write(
        &early,
        "(assert_invalid (module (table 1 funcref) (table 1 funcref)) \"multiple tables\")\n",
    )
    .unwrap();
    let dir = scratch.to_str().unwrap();
    let by_profile = agentsync(&["wast", "--profile", "threads-proposal", dir]);
    let by_flag = agentsync(&["wast", "--threads-proposal", early.to_str().unwrap()]);
    let early_by_profile = agentsync(&[
        "wast",
        "--profile",
        "threads-proposal",
        early.to_str().unwrap(),
    ]);
    let current = agentsync(&["wast", &script]);
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_file(&early);

    let stdout = String::from_utf8_lossy(&by_profile.stdout);
    assert!(by_profile.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("ok   {dir}/b.wast")),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!("ok   {dir}/sub/a.wast")),
        "{stdout}"
    );
    assert_eq!(lines[2..], ["2 passed, 0 failed"], "{stdout}");

    let stdout = String::from_utf8_lossy(&by_flag.stdout);
    assert!(by_flag.status.success(), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("1 passed, 0 failed"));
    assert_eq!(
        early_by_profile.status.code(),
        Some(1),
        "two tables are valid there"
    );

    let stdout = String::from_utf8_lossy(&current.stdout);
    assert_eq!(current.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("FAIL"), "{stdout}");
}
