//! A run stops when one of its threads fails: the others' waits and loops are interrupted and
//! the run returns the first failure promptly instead of hanging.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use agentsync_wasm::{run_module, RunOutput, WasmError};

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentsync-cancel-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `run_module` with a hang guard of 60 s.
fn run_guarded(path: &Path, threads: usize, invoke: &str) -> Result<RunOutput, WasmError> {
    let (send, receive) = mpsc::channel();
    let (path, invoke) = (path.to_path_buf(), invoke.to_string());
    std::thread::spawn(move || send.send(run_module(&path, threads, &invoke, &[])));
    receive
        .recv_timeout(Duration::from_secs(60))
        .expect("the run did not end within 60 s after a thread trapped")
}

/// The first thread to take a ticket traps; every other one waits on word 4 forever.
const ONE_TRAPS_OTHERS_WAIT: &str = include_str!("fixtures/one_traps_others_wait.wat");

/// As above, but the others spin on word 4 without waiting.
const ONE_TRAPS_OTHERS_SPIN: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "f")
    (if (i32.eqz (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (then unreachable))
    (loop $spin (br_if $spin (i32.eqz (i32.atomic.load (i32.const 4)))))))"#;

/// `main` spawns a thread that traps, then waits forever for it to say it finished.
const SPAWNED_THREAD_TRAPS: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "agentsync" "thread_spawn" (func $spawn (param i32) (result i32)))
  (func (export "thread_start") (param i32 i32) unreachable)
  (func (export "main") (result i32)
    (drop (call $spawn (i32.const 0)))
    (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1))))"#;

#[test]
fn one_thread_traps_while_the_others_wait_forever_ends_the_run_with_the_trap() {
    let path = scratch("wait.wat", ONE_TRAPS_OTHERS_WAIT);
    let error = run_guarded(&path, 8, "f").unwrap_err();
    assert!(matches!(error, WasmError::Trap(_)), "{error:?}");
    assert!(error.to_string().contains("unreachable"), "{error}");
}

#[test]
fn one_thread_traps_while_the_others_spin_forever_ends_the_run_with_the_trap() {
    let path = scratch("spin.wat", ONE_TRAPS_OTHERS_SPIN);
    let error = run_guarded(&path, 4, "f").unwrap_err();
    assert!(error.to_string().contains("unreachable"), "{error}");
}

#[test]
fn a_spawned_thread_that_traps_stops_the_thread_waiting_for_it() {
    let path = scratch("spawned.wat", SPAWNED_THREAD_TRAPS);
    let error = run_guarded(&path, 1, "main").unwrap_err();
    assert!(error.to_string().contains("unreachable"), "{error}");
}
