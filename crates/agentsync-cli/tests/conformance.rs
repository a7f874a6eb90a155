//! `agentsync conformance --suites DIR` on small suites laid out as the official ones are
//! (WebAssembly/threads, tc39/test262, WebAssembly/wasi-testsuite), as work trees and as bare
//! repositories: each is found at any depth, run, and compared with an expectations file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{agentsync, text};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "agentsync-conformance-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// WebAssembly/threads' shape: `test/core/*.wast`, `test/core/threads/*.wast`, `test/js-api`.
/// `js-api` has one passing and one failing subtest.
fn threads_repo(root: &Path) {
    write(
        &root.join("test/core/atomic.wast"),
        "(module (memory 1 1 shared)\n\
           (func (export \"add\") (result i32)\n\
             (i32.atomic.rmw.add (i32.const 0) (i32.const 2))))\n\
         (assert_return (invoke \"add\") (i32.const 0))\n\
         (assert_return (invoke \"add\") (i32.const 2))\n",
    );
    write(
        &root.join("test/core/threads/unregistered.wast"),
        "(module $Mem (memory (export \"shared\") 1 1 shared))\n\
         (thread $T (shared (module $Mem))\n\
           (assert_unlinkable\n\
             (module (memory (import \"mem\" \"shared\") 1 1 shared))\n\
             \"unknown import\"))\n\
         (wait $T)\n",
    );
    write(
        &root.join("test/js-api/memory/wait.any.js"),
        "test(() => { assert_equals(1 + 1, 2); }, 'Adds');\n\
         test(() => { assert_equals(1, 2); }, 'Wait on unshared memory traps');\n",
    );
}

/// tc39/test262's shape: `harness/` (our small copy) and `test/built-ins/Atomics`.
fn test262_repo(root: &Path) {
    let harness = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/test262/harness");
    for entry in std::fs::read_dir(&harness).unwrap() {
        let entry = entry.unwrap();
        let to = root.join("harness").join(entry.file_name());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(entry.path(), to).unwrap();
    }
    write(
        &root.join("test/built-ins/Atomics/add/good.js"),
        "/*---\ndescription: add returns the old value\n---*/\n\
         var i32 = new Int32Array(new SharedArrayBuffer(8));\n\
         assert.sameValue(Atomics.add(i32, 0, 5), 0);\n\
         assert.sameValue(Atomics.load(i32, 0), 5);\n",
    );
    write(
        &root.join("test/built-ins/SharedArrayBuffer/length.js"),
        "/*---\ndescription: the constructor's length\nflags: [onlyStrict]\n---*/\n\
         assert.sameValue(SharedArrayBuffer.length, 1);\n",
    );
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// Turns the work tree `tree` into the bare repository `bare`, its files on `branch`.
fn bare_repository(tree: &Path, bare: &Path, branch: &str) {
    git(tree, &["init", "-q"]);
    git(tree, &["checkout", "-q", "-b", branch]);
    git(tree, &["add", "."]);
    git(tree, &["commit", "-q", "-m", "suite"]);
    git(
        tree.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--bare",
            tree.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
}

fn expectations(dir: &Path, text: &str) -> String {
    let path = dir.join("expectations.json");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The row of `suite` in the table: `[passed, failed, skipped]`.
fn row(stdout: &str, suite: &str) -> Vec<usize> {
    let line = stdout
        .lines()
        .skip_while(|l| !l.starts_with("suite "))
        .find(|l| l.split_whitespace().next() == Some(suite))
        .unwrap_or_else(|| panic!("no row for {suite} in:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn work_trees_at_any_depth_are_found_run_and_match_their_expectations() {
    let dir = scratch("trees");
    threads_repo(&dir.join("suites/deep/WebAssembly+threads/repo"));
    test262_repo(&dir.join("suites/test262"));
    let known = expectations(
        &dir,
        r#"{"js-api": {"*: Wait on unshared memory traps": "the builder's quirk"}}"#,
    );
    let suites = dir.join("suites").display().to_string();
    let out = agentsync(&["conformance", "--suites", &suites, "--expectations", &known]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(row(&stdout, "threads-core"), [2, 0, 0], "{stdout}");
    assert_eq!(row(&stdout, "js-api"), [1, 1, 0], "{stdout}");
    // good.js runs strict and sloppy; length.js only strict.
    assert_eq!(row(&stdout, "test262"), [3, 0, 0], "{stdout}");
    assert!(
        stdout.contains(
            "expected failure js-api memory/wait.any.js: Wait on unshared memory traps: \
             the builder's quirk"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("every result is as expected"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_new_failure_a_new_pass_and_a_stale_entry_fail_the_gate() {
    let dir = scratch("differ");
    threads_repo(&dir.join("suites/threads"));
    // The failing subtest is not listed, a passing one is, and one listed case does not exist.
    let known = expectations(
        &dir,
        r#"{"js-api": {"memory/wait.any.js: Adds": "was broken",
                       "memory/gone.any.js: *": "deleted"}}"#,
    );
    let suites = dir.join("suites").display().to_string();
    let out = agentsync(&[
        "conformance",
        "--suites",
        &suites,
        "--expectations",
        &known,
        "--only",
        "js-api",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("DIFFERS js-api new failure memory/wait.any.js: Wait on unshared"),
        "{stdout}"
    );
    assert!(
        stdout.contains("DIFFERS js-api new pass memory/wait.any.js: Adds"),
        "{stdout}"
    );
    assert!(
        stdout.contains("DIFFERS js-api no such case memory/gone.any.js: *"),
        "{stdout}"
    );
    assert!(!stdout.contains("threads-core"), "--only js-api: {stdout}");
    assert!(
        text(&out.stderr).contains("3 results differ from the expectations"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bare_repositories_are_read_at_head_and_wasi_testsuite_at_its_binaries_branch() {
    let dir = scratch("bare");
    let tree = dir.join("work/threads");
    threads_repo(&tree);
    bare_repository(&tree, &dir.join("suites/threads.git"), "main");
    let wasi = dir.join("work/wasi");
    // Text modules (a `.wasm` may hold text): one exits 0, one prints and exits 3 as its
    // JSON says, one exits 1 where 0 is expected (listed below as known), one a component.
    let exit = |code: u32| {
        format!(
            r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
               (memory (export "memory") 1) (data (i32.const 8) "hi\n")
               (func (export "_start")
                 (i32.store (i32.const 0) (i32.const 8)) (i32.store (i32.const 4) (i32.const 3))
                 (call $e (i32.const {code}))))"#
        )
    };
    let print_then_exit = exit(3).replace(
        "(call $e",
        "(drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))) (call $e",
    );
    let print_then_exit = print_then_exit.replace(
        "(module ",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32))) "#,
    );
    write(&wasi.join("tests/proposals/wasi-threads/a.wasm"), &exit(0));
    write(&wasi.join("tests/c/testsuite/b.wasm"), &print_then_exit);
    write(
        &wasi.join("tests/c/testsuite/b.json"),
        r#"{"exit_code": 3, "stdout": "hi\n"}"#,
    );
    write(&wasi.join("tests/c/testsuite/d.wasm"), &exit(1));
    write(&wasi.join("tests/c/testsuite/c.wasm"), "\0asm\x0d\0\x01\0");
    bare_repository(
        &wasi,
        &dir.join("suites/mirror/wasi.git"),
        "prod/testsuite-all",
    );
    std::fs::remove_dir_all(dir.join("work")).unwrap();
    let known = expectations(
        &dir,
        r#"{"js-api": {"*: Wait on unshared memory traps": "quirk"},
            "wasi-testsuite": {"c/testsuite/d.wasm": "exits 1 on purpose"}}"#,
    );
    let suites = dir.join("suites").display().to_string();
    let out = agentsync(&["conformance", "--suites", &suites, "--expectations", &known]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(row(&stdout, "threads-core"), [2, 0, 0], "{stdout}");
    assert!(stdout.contains("threads.git@HEAD"), "{stdout}");
    assert_eq!(row(&stdout, "wasi-testsuite"), [2, 1, 1], "{stdout}");
    assert!(stdout.contains("wasi.git@prod/testsuite-all"), "{stdout}");
    assert!(stdout.contains("a component"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_without_suites_or_a_bad_expectations_file_is_a_usage_error() {
    let dir = scratch("empty");
    let empty = dir.display().to_string();
    let out = agentsync(&["conformance", "--suites", &empty]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no official suite found under"),
        "{}",
        text(&out.stderr)
    );
    threads_repo(&dir.join("t"));
    let bad = expectations(&dir, r#"{"threads": {}}"#);
    let out = agentsync(&["conformance", "--suites", &empty, "--expectations", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown suite \"threads\""),
        "{}",
        text(&out.stderr)
    );
    let out = agentsync(&["conformance", "--suites", "/nowhere/at/all"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
