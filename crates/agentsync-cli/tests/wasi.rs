//! `agentsync wasm run PROGRAM.wasm ARGS...`: WASI commands with wasi-threads, built by a
//! real toolchain (Zig 0.14.1), run as `wasmtime run` runs them.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use common::{finish_within, pipe, text};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../agentsync-wasm/tests/fixtures/wasi/{name}.wasm"))
        .display()
        .to_string()
}

/// Runs `agentsync ARGS` with stdin from `stdin`, killing it (and failing) after `limit`.
fn run_within(args: &[&str], stdin: Stdio, limit: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agentsync binary");
    finish_within(child, limit)
}

fn run(args: &[&str]) -> Output {
    run_within(args, Stdio::null(), Duration::from_secs(60))
}

#[test]
fn a_zig_program_runs_with_its_arguments_and_exits_0() {
    let output = run(&["wasm", "run", &fixture("mutex_counter"), "4", "2500"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "counter = 10000\n");
}

#[test]
fn the_exit_status_is_the_guests() {
    let output = run(&["wasm", "run", &fixture("worker_exits")]);
    assert_eq!(output.status.code(), Some(7), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "worker: exiting with 7\n");
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

#[test]
fn a_trap_exits_134_with_the_trap_and_backtrace_on_stderr() {
    let output = run(&["wasm", "run", &fixture("worker_traps")]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(134), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(stderr.contains("wasm backtrace"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The wasi-testsuite's `*_wasi_read` case: the main thread exits while a worker is blocked
/// reading a stdin that never gets data nor closes. The run must end at once with the status.
#[test]
fn exit_while_a_thread_is_blocked_reading_stdin_ends_the_run() {
    let (read, write) = pipe();
    let output = run_within(
        &["wasm", "run", &fixture("stdin_exit")],
        Stdio::from(read),
        Duration::from_secs(30),
    );
    drop(write);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "main: exiting with 3\n");
}

/// Reads stdin into a buffer, writes what it read to stdout, exits with the count.
const ECHO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 32))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))
    (call $exit (i32.load (i32.const 8)))))"#;

#[test]
fn stdin_is_the_processs_stdin() {
    let dir = std::env::temp_dir().join(format!("agentsync-cli-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("echo.wat");
    std::fs::write(&module, ECHO).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(["wasm", "run", module.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abcd").unwrap();
    let output = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert_eq!(text(&output.stdout), "abcd");
}

#[test]
fn dir_env_and_hyphenated_program_arguments_pass_through() {
    let dir = std::env::temp_dir().join(format!("agentsync-cli-wasi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let preopen = format!("{}::.", dir.display());
    let program = fixture("files");
    let expected = "file: written by main through a worker's descriptor\n\
                    arg 1: a\narg 2: -b\narg 3: --c\nGREETING = hi there\n";
    let options = [
        "wasm",
        "run",
        "--dir",
        &preopen,
        "--env",
        "GREETING=hi there",
    ];
    // Everything after the module is the program's, as with `wasmtime run`.
    let mut args = options.to_vec();
    args.extend([program.as_str(), "a", "-b", "--c"]);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), expected);
    // `--invoke` selects the other mode wherever it stands; after `--` it is an argument.
    let mut args = options.to_vec();
    args.extend([program.as_str(), "--", "a", "-b", "--c", "--invoke"]);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        expected.replace("GREETING", "arg 4: --invoke\nGREETING")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_command_lines_are_usage_errors_naming_the_problem() {
    let counter = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agentsync-wasm/examples/wasm/counter.wat")
        .display()
        .to_string();
    let mutex = fixture("mutex_counter");
    let cases: [(&[&str], &str); 4] = [
        (
            &["wasm", "run", "--dir", "/nonexistent/agentsync", &mutex],
            "/nonexistent/agentsync",
        ),
        (&["wasm", "run", "--env", "=oops", &mutex], "non-empty"),
        (&["wasm", "run", "--threads", "2", &mutex], "--threads"),
        (&["wasm", "run", &counter], "_start"),
    ];
    for (args, named) in cases {
        let output = run(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// A guest writing to a closed stdout gets an error from `fd_write` (the process ignores
/// SIGPIPE), and the program decides: these Zig programs ignore print errors and exit 0.
#[test]
fn a_closed_stdout_is_the_guests_error_not_a_crash() {
    let (read, write) = pipe();
    drop(read);
    let output = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(["wasm", "run", &fixture("mutex_counter"), "2", "100"])
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// Exits with the file type of descriptor 3 (6 = a stream socket), or 99 if it has none.
const FD3_TYPE: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (call $stat (i32.const 3) (i32.const 64)) (then (call $exit (i32.const 99))))
    (call $exit (i32.load8_u (i32.const 64)))))"#;

#[test]
fn wasmtime_command_lines_work_unchanged() {
    let dir = std::env::temp_dir().join(format!("agentsync-cli-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("fd3.wat");
    std::fs::write(&module, FD3_TYPE).unwrap();
    let module = module.to_str().unwrap();
    // -W / -S thread options are accepted (always on here).
    let threads = ["-W", "threads=y,shared-memory=y", "-S", "threads=y"];
    let mut args = vec!["wasm", "run"];
    args.extend(threads);
    let counter = fixture("mutex_counter");
    args.extend([counter.as_str(), "2", "10"]);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "counter = 20\n");
    // --tcplisten preopens a listening socket at descriptor 3.
    let output = run(&["wasm", "run", "--tcplisten", "127.0.0.1:0", module]);
    assert_eq!(output.status.code(), Some(6), "{}", text(&output.stderr));
    let output = run(&["wasm", "run", module]);
    assert_eq!(output.status.code(), Some(99), "{}", text(&output.stderr));
    // Options it does not know are refused by name, not ignored.
    for (flag, value) in [
        ("-W", "gc=y"),
        ("-S", "http=y"),
        ("--tcplisten", "not-an-address"),
    ] {
        let output = run(&["wasm", "run", flag, value, module]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(value), "{flag} {value}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn env_name_alone_passes_the_hosts_value_and_inherit_env_passes_all() {
    let dir = std::env::temp_dir().join(format!("agentsync-cli-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let preopen = format!("{}::.", dir.display());
    let program = fixture("files");
    for options in [vec!["--env", "GREETING"], vec!["-S", "inherit-env"]] {
        let mut args = vec!["wasm", "run", "--dir", &preopen];
        args.extend(options.iter().copied());
        args.push(&program);
        let output = Command::new(env!("CARGO_BIN_EXE_agentsync"))
            .args(&args)
            .env("GREETING", "from the host")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(
            text(&output.stdout).ends_with("GREETING = from the host\n"),
            "{options:?}: {}",
            text(&output.stdout)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
