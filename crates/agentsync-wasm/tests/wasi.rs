//! WASI commands with wasi-threads: programs from a real toolchain (Zig 0.14.1, see
//! tests/fixtures/wasi/build.sh), how runs end, what the host can do with a running one, and
//! bad input.

use std::path::PathBuf;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use agentsync_wasm::wasi::{Finished, Input, Output, WasiCommand, WasiExit};
use agentsync_wasm::WasmError;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/wasi/{name}.wasm"))
}

fn command(name: &str) -> WasiCommand {
    WasiCommand::from_file(&fixture(name))
        .unwrap()
        .stdout(Output::Capture)
        .stderr(Output::Capture)
}

fn run(command: WasiCommand) -> Finished {
    command.run().unwrap()
}

fn stdout(finished: &Finished) -> String {
    String::from_utf8_lossy(&finished.stdout).into_owned()
}

#[test]
fn a_mutex_counter_from_zig_counts_every_increment() {
    let finished = run(command("mutex_counter").args(["4", "5000"]));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(stdout(&finished), "counter = 20000\n");
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(stderr.starts_with("ns per lock/unlock: "), "{stderr}");
}

#[test]
fn a_condition_variable_ring_from_zig_passes_the_token_every_hop() {
    let finished = run(command("condvar_ring").args(["3", "300"]));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(stdout(&finished), "hops = 900\n");
}

#[test]
fn a_bounded_queue_from_zig_delivers_every_item_once() {
    let finished = run(command("bounded_queue").args(["2", "2000"]));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(stdout(&finished), "sum = 4002000 (expected 4002000)\n");
}

#[test]
fn sixty_four_threads_at_a_futex_gate_all_pass_when_it_opens() {
    let finished = run(command("futex_gate").arg("64"));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(stdout(&finished), "passed = 64\n");
}

#[test]
fn a_worker_that_exits_ends_the_run_with_its_status_while_others_are_blocked() {
    let finished = finishes_soon(command("worker_exits"));
    assert_eq!(finished.exit, WasiExit::Code(7), "{finished:?}");
    assert_eq!(stdout(&finished), "worker: exiting with 7\n");
}

#[test]
fn a_worker_that_traps_ends_the_run_with_the_trap_and_a_backtrace() {
    let finished = run(command("worker_traps"));
    let WasiExit::Trap(trap) = &finished.exit else {
        panic!("{finished:?}");
    };
    assert!(trap.contains("unreachable"), "{trap}");
    assert!(trap.contains("wasm backtrace"), "{trap}");
    assert_eq!(finished.exit.status(), 134);
}

#[test]
fn all_threads_share_one_descriptor_table_and_see_args_env_and_preopens() {
    let dir = std::env::temp_dir().join(format!("agentsync-wasi-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let finished = run(command("files")
        .preopen_dir(&dir, ".")
        .args(["one", "-two", "--three"])
        .env("GREETING", "hello"));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(
        stdout(&finished),
        "file: written by main through a worker's descriptor\n\
         arg 1: one\narg 2: -two\narg 3: --three\nGREETING = hello\n"
    );
    // The program removed its file: nothing is left in the directory.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A program whose `_start` waits (forever) on word 0 of its shared memory, and whose
/// spawned thread, if asked, loops without ever waiting.
const WAITS_FOREVER: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (export "memory" (memory 0))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (loop $again
      (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
      (br $again)))
  (func (export "wasi_thread_start") (param i32 i32)
    (loop $spin (br $spin))))"#;

#[test]
fn cancelling_a_run_ends_its_waiting_and_looping_threads() {
    let run = WasiCommand::compile(WAITS_FOREVER.as_bytes())
        .unwrap()
        .start()
        .unwrap();
    let memory = run.memory().clone();
    while memory.waiter_count(0) == 0 || run.live_threads() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    run.cancel();
    let finished = run.wait();
    assert_eq!(finished.exit, WasiExit::Cancelled);
    assert_eq!(memory.waiter_count(0), 0, "a guest wait was left queued");
}

#[test]
fn dropping_a_running_run_stops_it() {
    let run = WasiCommand::compile(WAITS_FOREVER.as_bytes())
        .unwrap()
        .start()
        .unwrap();
    let memory = run.memory().clone();
    while memory.waiter_count(0) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(run);
    assert_eq!(memory.waiter_count(0), 0);
}

/// A host async task awaits a word of a running program: the guest stores 42 to word 0 and
/// notifies it, then waits on word 4 until the host answers, and exits with the answer.
#[test]
fn a_host_task_awaits_a_guest_word_and_answers_it() {
    let wat = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (export "memory" (memory 0))
      (func (export "_start")
        (i32.atomic.store (i32.const 0) (i32.const 42))
        (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
        (loop $again
          (if (i32.eqz (i32.atomic.load (i32.const 4)))
            (then
              (drop (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1)))
              (br $again))))
        (call $exit (i32.atomic.load (i32.const 4)))))"#;
    let command = WasiCommand::compile(wat.as_bytes()).unwrap();
    let memory = command.memory().unwrap().clone();
    // Queued before the guest runs, so the guest's notify finds it.
    let word = memory.host_wait_async32(0, 0, None).unwrap();
    let run = command.start().unwrap();
    let result = futures_lite::future::block_on(word);
    assert_eq!(result, agentsync::WaitResult::Ok);
    assert_eq!(memory.atomic_i32(0).unwrap().load(SeqCst), 42);
    memory.atomic_i32(4).unwrap().store(9, SeqCst);
    memory.host_notify(4, 1).unwrap();
    assert_eq!(run.wait().exit, WasiExit::Code(9));
}

#[test]
fn two_runs_side_by_side_one_exits_and_the_other_goes_on() {
    let long = command("condvar_ring").args(["3", "2000"]).start().unwrap();
    let short = run(command("worker_exits"));
    assert_eq!(short.exit, WasiExit::Code(7));
    let long = long.wait();
    assert_eq!(long.exit, WasiExit::Code(0), "{long:?}");
    assert_eq!(stdout(&long), "hops = 6000\n");
}

#[test]
fn stdin_bytes_are_read_then_end_of_file() {
    // fd_read stdin into a buffer, write what was read to stdout, exit with the count.
    let wat = r#"(module
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
    let finished = WasiCommand::compile(wat.as_bytes())
        .unwrap()
        .stdin(Input::Bytes(b"abc".to_vec()))
        .stdout(Output::Capture)
        .run()
        .unwrap();
    assert_eq!(finished.exit, WasiExit::Code(3));
    assert_eq!(finished.stdout, b"abc");
}

/// 10,000 spawns at once: the first 1,024 (the limit) get unique ids in 1..=0x1FFFFFFF, the
/// rest a negative number, and nothing aborts. Each started thread waits at a gate (word 0)
/// so none finishes early; `_start` counts successes in word 8, failures in word 12, keeps
/// the largest id in word 16 and opens the gate.
#[test]
fn ten_thousand_spawns_at_once_past_the_limit_get_negative_ids() {
    let wat = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
      (export "memory" (memory 0))
      (func (export "_start") (local $i i32) (local $id i32)
        (loop $more
          (local.set $id (call $spawn (i32.const 0)))
          (if (i32.gt_s (local.get $id) (i32.const 0))
            (then
              (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1)))
              (if (i32.gt_s (local.get $id) (i32.load (i32.const 16)))
                (then (i32.store (i32.const 16) (local.get $id)))))
            (else
              (i32.store (i32.const 12) (i32.add (i32.load (i32.const 12)) (i32.const 1)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $more (i32.lt_u (local.get $i) (i32.const 10000))))
        (i32.atomic.store (i32.const 0) (i32.const 1))
        (drop (memory.atomic.notify (i32.const 0) (i32.const -1)))
        ;; Wait until every started thread has passed the gate (counted in word 4).
        (loop $wait
          (br_if $wait (i32.ne (i32.atomic.load (i32.const 4)) (i32.load (i32.const 8))))))
      (func (export "wasi_thread_start") (param i32 i32)
        (loop $gate
          (if (i32.eqz (i32.atomic.load (i32.const 0)))
            (then
              (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
              (br $gate))))
        (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))))"#;
    let command = WasiCommand::compile(wat.as_bytes()).unwrap();
    let memory = command.memory().unwrap().clone();
    let finished = command.run().unwrap();
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    let word = |a| memory.atomic_i32(a).unwrap().load(SeqCst);
    let started = word(8);
    assert!(started > 0 && started <= 1024, "{started} started");
    assert_eq!(started + word(12), 10_000);
    assert!(word(16) <= 0x1FFF_FFFF);
}

#[test]
fn bad_programs_are_refused_with_a_clear_error() {
    let no_start = "(module (memory (export \"memory\") 1))";
    let error = WasiCommand::compile(no_start.as_bytes()).err().unwrap();
    assert!(
        matches!(error, WasmError::NoSuchFunction(ref f) if f == "_start"),
        "{error}"
    );

    let wrong_start = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi" "thread-spawn" (func (param i32) (result i32)))
      (func (export "_start"))
      (func (export "wasi_thread_start") (param i32)))"#;
    let error = WasiCommand::compile(wrong_start.as_bytes()).err().unwrap();
    assert!(matches!(error, WasmError::BadThreadStart(_)), "{error}");
    assert!(error.to_string().contains("wasi_thread_start"), "{error}");

    let missing_start = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi" "thread-spawn" (func (param i32) (result i32)))
      (func (export "_start")))"#;
    let error = WasiCommand::compile(missing_start.as_bytes())
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("exports no wasi_thread_start"),
        "{error}"
    );

    let own_memory = r#"(module
      (import "wasi" "thread-spawn" (func (param i32) (result i32)))
      (memory 1 1 shared)
      (func (export "_start"))
      (func (export "wasi_thread_start") (param i32 i32)))"#;
    let error = WasiCommand::compile(own_memory.as_bytes()).err().unwrap();
    assert!(
        matches!(error, WasmError::SpawnNeedsImportedMemory),
        "{error}"
    );

    let unknown = r#"(module
      (import "wasi_snapshot_preview1" "no_such_call" (func))
      (func (export "_start")))"#;
    let error = WasiCommand::compile(unknown.as_bytes())
        .unwrap()
        .start()
        .err()
        .unwrap();
    assert!(matches!(error, WasmError::Link(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("unknown import"), "{message}");
    assert!(message.contains("no_such_call"), "{message}");
}

#[test]
fn a_missing_preopen_is_a_setup_error_naming_it() {
    let error = command("files")
        .preopen_dir("/nonexistent/agentsync", ".")
        .start()
        .err()
        .unwrap();
    assert!(matches!(error, WasmError::WasiSetup(_)), "{error}");
    assert!(
        error.to_string().contains("/nonexistent/agentsync"),
        "{error}"
    );
}

#[test]
fn an_environment_name_with_an_equals_sign_is_refused() {
    let error = command("files").env("A=B", "c").start().err().unwrap();
    assert!(error.to_string().contains("\"A=B\""), "{error}");
}

#[test]
fn threads_started_and_joined_one_after_another_are_all_joined() {
    let finished = run(command("spawn_join").arg("50"));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(stdout(&finished), "joined = 50\n");
}

#[test]
fn idle_threads_wait_until_stdin_ends_then_join() {
    let finished = run(command("idle_threads")
        .arg("16")
        .stdin(Input::Bytes(b"go".to_vec())));
    assert_eq!(finished.exit, WasiExit::Code(0), "{finished:?}");
    assert_eq!(stdout(&finished), "ready\njoined = 16\n");
}

/// Runs `command` on another thread; fails the test if it does not end within 30 s (a hang
/// guard: a run that does not stop its blocked threads never ends).
fn finishes_soon(command: WasiCommand) -> Finished {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(command.run().unwrap()));
    finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the run did not end within 30 s")
}

/// `_start` returns while a spawned thread loops forever: the run ends with status 0 and the
/// looping thread is stopped (by the epoch), not waited for.
#[test]
fn returning_from_start_stops_the_other_threads() {
    let wat = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
      (export "memory" (memory 0))
      (func (export "_start")
        (drop (call $spawn (i32.const 0)))
        (loop $started (br_if $started (i32.eqz (i32.atomic.load (i32.const 0))))))
      (func (export "wasi_thread_start") (param i32 i32)
        (i32.atomic.store (i32.const 0) (i32.const 1))
        (loop $spin (br $spin))))"#;
    let finished = finishes_soon(WasiCommand::compile(wat.as_bytes()).unwrap());
    assert_eq!(finished.exit, WasiExit::Code(0));
}

/// A worker sleeps an hour in `poll_oneoff` while `_start` calls `proc_exit(5)`: the sleep
/// ends with the run.
#[test]
fn exit_ends_a_thread_sleeping_in_poll_oneoff() {
    let wat = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "poll_oneoff"
        (func $poll (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (export "memory" (memory 0))
      (func (export "_start")
        (drop (call $spawn (i32.const 0)))
        (loop $started (br_if $started (i32.eqz (i32.atomic.load (i32.const 0)))))
        (call $exit (i32.const 5)))
      (func (export "wasi_thread_start") (param i32 i32)
        ;; One subscription at 256: a monotonic clock, an hour from now.
        (i32.store8 (i32.const 264) (i32.const 0))
        (i32.store (i32.const 272) (i32.const 1))
        (i64.store (i32.const 280) (i64.const 3600000000000))
        (i32.atomic.store (i32.const 0) (i32.const 1))
        (drop (call $poll (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 600)))))"#;
    let finished = finishes_soon(WasiCommand::compile(wat.as_bytes()).unwrap());
    assert_eq!(finished.exit, WasiExit::Code(5));
}
