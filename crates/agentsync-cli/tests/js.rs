//! `agentsync js` run as a user would: the guide's examples, inline code, uncaught errors,
//! unreadable files, the main agent's permission to block; and the JS step of the tour and
//! the js stress section.

mod common;

use std::process::{Command, Output, Stdio};

use common::{agentsync, js_crate, text};

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[test]
fn handoff_prints_exactly_its_two_lines() {
    let output = agentsync(&["js", &js_crate("examples/js/handoff.js")]);
    assert_ok(&output);
    assert_eq!(text(&output.stdout), "consumer woke: ok\npayload: beef\n");
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn script_arguments_reach_agentsync_args() {
    let output = agentsync(&["js", &js_crate("examples/js/parking_lock.js"), "250"]);
    assert_ok(&output);
    assert_eq!(text(&output.stdout), "counter: 1000 (expected 1000)\n");
}

#[test]
fn inline_code_runs_with_e() {
    let output = agentsync(&["js", "-e", "print(6 * 7, agentsync.isMain)"]);
    assert_ok(&output);
    assert_eq!(text(&output.stdout), "42 true\n");
}

#[test]
fn an_uncaught_error_is_exit_1_with_its_location_and_stack() {
    let output = agentsync(&[
        "js",
        "-e",
        "function f() { throw new RangeError('too far'); }\nf();",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let (location, message) = stderr
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("error: [eval]:1:"))
        .and_then(|rest| rest.split_once(": "))
        .unwrap_or_else(|| panic!("no `error: [eval]:1:COLUMN: …` line: {stderr}"));
    assert!(location.parse::<u32>().is_ok(), "{stderr}");
    assert_eq!(message, "Uncaught RangeError: too far");
    let frame = format!("at f ([eval]:1:{location})");
    assert!(stderr.contains(&frame), "{stderr}");
    assert!(stderr.contains("at <eval> ([eval]:2:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_uncaught_error_in_a_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("agentsync-js-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("throws.js");
    std::fs::write(&file, "const x = 1;\nnull.f();\n").unwrap();
    let output = agentsync(&["js", &file.display().to_string()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let want = format!("error: {}:2:", file.display());
    assert!(stderr.starts_with(&want), "{stderr}");
    assert!(stderr.contains("TypeError"), "{stderr}");
}

#[test]
fn a_syntax_error_is_exit_1_with_its_location() {
    let output = agentsync(&["js", "-e", "let = ;"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: [eval]:1:") && stderr.contains("SyntaxError"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_a_usage_error_naming_it() {
    let output = agentsync(&["js", "/nonexistent/agentsync/missing.js"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: cannot read /nonexistent/agentsync/missing.js:"),
        "{stderr}"
    );
}

#[test]
fn neither_file_nor_code_is_a_usage_error() {
    assert_eq!(agentsync(&["js"]).status.code(), Some(2));
}

const MAIN_WAIT: &str = "print(Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1))";

#[test]
fn main_can_block_lets_the_main_agent_wait() {
    let output = agentsync(&["js", "-e", MAIN_WAIT, "--main-can-block"]);
    assert_ok(&output);
    assert_eq!(text(&output.stdout), "timed-out\n");
}

#[test]
fn without_main_can_block_the_main_agents_wait_is_a_type_error() {
    let output = agentsync(&["js", "-e", MAIN_WAIT]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("Uncaught TypeError: Atomics.wait cannot be called in this context"),
        "{stderr}"
    );
}

#[test]
fn tool_words_are_not_taken_for_files() {
    // `test262` is the runner: a root that does not exist is a usage error naming it.
    let output = agentsync(&["js", "test262", "--root", "/nowhere"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("/nowhere"),
        "{}",
        text(&output.stderr)
    );
    // `testharness` is the WPT runner: a missing file is a usage error naming it.
    let output = agentsync(&["js", "testharness", "/nowhere/x.any.js"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("/nowhere/x.any.js"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_closed_stdout_ends_a_script_with_141_and_a_full_one_with_1() {
    let run = |stdout: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_agentsync"))
            .args(["js", "-e", "for (let i = 0; i < 3; i++) print(i)"])
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .expect("the agentsync binary runs")
    };
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let output = run(Stdio::from(full));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).starts_with("error: cannot write output:"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(["js", "-e", "for (let i = 0; i < 3; i++) print(i)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the agentsync binary runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("it ends");
    assert_eq!(output.status.code(), Some(141), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn the_tour_runs_the_js_handoff() {
    let output = agentsync(&["tour"]);
    assert_ok(&output);
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let woke = lines.iter().position(|l| *l == "  js> consumer woke: ok");
    let payload = lines.iter().position(|l| *l == "  js> payload: beef");
    assert!(woke.is_some() && payload == woke.map(|i| i + 1), "{stdout}");
    assert!(stdout.contains(
        "main agent: Atomics.wait(ia, 0, 0, 0) -> TypeError: Atomics.wait cannot be called in this context"
    ));
}

#[test]
fn the_js_stress_section_holds_its_invariants() {
    let output = agentsync(&["stress", "--seconds", "1", "--section", "js"]);
    assert_ok(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("stress [js]"), "{stdout}");
    assert!(!stdout.contains("stress [futex]"), "{stdout}");
    assert!(stdout.contains("invariants held"), "{stdout}");
}

#[test]
fn an_unknown_stress_section_is_a_usage_error() {
    assert_eq!(
        agentsync(&["stress", "--section", "nope"]).status.code(),
        Some(2)
    );
}

/// Plain mistakes get plain messages (issue: what hostile input found, item 13): a thrown
/// non-Error names its script; `read()` / `readbuffer(Symbol())` say what is wrong instead of
/// the binding library's conversion errors; `new Worker()` and `new Worker(Symbol())` throw as
/// WebIDL says instead of starting workers on files named "undefined" / "Symbol(x)".
#[test]
fn plain_mistakes_get_plain_messages() {
    let dir = std::env::temp_dir().join(format!("agentsync-js-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("throws.js");
    std::fs::write(&script, "function f() { throw 5; }\nf();\n").unwrap();
    let output = agentsync(&["js", script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: Uncaught 5", script.display())),
        "{stderr}"
    );
    for (code, message) in [
        ("read()", "TypeError: read: a file path is required"),
        (
            "readbuffer(Symbol())",
            "TypeError: readbuffer: the path is a Symbol, not a string",
        ),
        (
            "new Worker()",
            "TypeError: Worker constructor: 1 argument required",
        ),
        (
            "new Worker(Symbol('x'))",
            "TypeError: cannot convert symbol",
        ),
    ] {
        let output = agentsync(&["js", "-e", code]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{code}: {stderr}");
        assert!(stderr.contains(message), "{code}: {stderr}");
        assert!(
            !stderr.contains("in worker"),
            "{code} started a worker: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A directory where a file is expected is a usage error (exit 2) for `wasm run` as for `js`.
#[test]
fn a_directory_given_as_the_program_is_a_usage_error() {
    let dir = std::env::temp_dir();
    let dir = dir.to_str().unwrap();
    for args in [vec!["wasm", "run", dir, "--invoke", "f"], vec!["js", dir]] {
        let output = agentsync(&args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("it is a directory"), "{args:?}: {stderr}");
    }
}

/// ES modules are keyed by canonical path: one file imported under two names, and a module
/// that imports itself, each run once (they used to run twice).
#[test]
fn a_module_imported_under_two_names_or_by_itself_runs_once() {
    let dir = std::env::temp_dir().join(format!("agentsync-js-modules-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("dir")).unwrap();
    std::fs::write(
        dir.join("dir/a.mjs"),
        "print('a ran');\nexport const x = 1;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.mjs"),
        "import { x } from './dir/a.mjs';\n\
         import { x as y } from './dir/../dir/a.mjs';\n\
         import * as me from './main.mjs';\n\
         print('main ran', x, y, typeof me);\n",
    )
    .unwrap();
    let output = agentsync(&["js", dir.join("main.mjs").to_str().unwrap()]);
    assert_ok(&output);
    assert_eq!(text(&output.stdout), "a ran\nmain ran 1 1 object\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A raw NUL character inside a string literal is valid JavaScript: it runs on main and in a
/// worker (it used to fail with `Uncaught [uninitialized]` and no location).
#[test]
fn a_raw_nul_in_a_string_literal_runs_on_main_and_in_a_worker() {
    let dir = std::env::temp_dir().join(format!("agentsync-js-nul-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("worker.js"), "postMessage('a\0b'.length);\n").unwrap();
    std::fs::write(
        dir.join("main.js"),
        "print('x\0y'.length);\n\
         const w = new Worker('worker.js');\n\
         w.onmessage = (e) => { print(e.data); w.terminate(); };\n",
    )
    .unwrap();
    let output = agentsync(&["js", dir.join("main.js").to_str().unwrap()]);
    assert_ok(&output);
    assert_eq!(text(&output.stdout), "3\n3\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A worker looping on a heavy native call cannot be stopped at once (the engine checks for
/// interrupts only every so many operations), but after `terminate()` the run no longer waits
/// for it beyond a bounded grace: main's error is printed and the process ends (it used to
/// stay alive for minutes, and main's error was never printed meanwhile).
#[test]
fn a_terminated_worker_in_a_heavy_native_loop_does_not_hold_the_run() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args([
            "js",
            "-e",
            "const w = new Worker(`postMessage(1); for (;;) 'ab'.repeat(2e6).split('')`, \
             { eval: true });\n\
             w.onmessage = () => { w.terminate(); \
             setTimeout(() => { throw new Error('main failed after terminate'); }, 50); };",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the run did not end within 60 s of terminate()");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("main failed after terminate"), "{stderr}");
}
