//! Guest `agentsync.thread_spawn`: spawned threads are reclaimed when they finish, and a spawn
//! that cannot start a thread returns -1 to the guest.

use std::path::PathBuf;

use agentsync_wasm::{run_module, Runtime, Threads, Value};
use wasmtime::Val;

/// Spawns `$n` threads one after another, each only after the previous one has signalled that
/// it finished (word 0 = 1). Returns how many spawns succeeded, or `-(k + 1)` if spawn `k`
/// returned -1.
const SEQUENTIAL_SPAWNS: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "agentsync" "thread_spawn" (func $spawn (param i32) (result i32)))
  (func (export "thread_start") (param $id i32) (param $arg i32)
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
  (func (export "main") (param $n i32) (result i32)
    (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (i32.atomic.store (i32.const 0) (i32.const 0))
        (if (i32.lt_s (call $spawn (local.get $k)) (i32.const 1))
          (then (return (i32.sub (i32.const -1) (local.get $k)))))
        (loop $wait
          (if (i32.eqz (i32.atomic.load (i32.const 0)))
            (then
              (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
              (br $wait))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (local.get $k)))"#;

/// `main` spawns `$n` threads that each wait until word 0 is nonzero, records each spawn's
/// result at word `8 + 4k`, then releases them. Returns how many spawns returned -1.
const HELD_SPAWNS: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "agentsync" "thread_spawn" (func $spawn (param i32) (result i32)))
  (func (export "thread_start") (param $id i32) (param $arg i32)
    (loop $wait
      (if (i32.eqz (i32.atomic.load (i32.const 0)))
        (then
          (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
          (br $wait)))))
  (func (export "main") (param $n i32) (result i32)
    (local $k i32) (local $refused i32) (local $id i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $id (call $spawn (local.get $k)))
        (i32.atomic.store (i32.add (i32.const 8) (i32.shl (local.get $k) (i32.const 2)))
          (local.get $id))
        (if (i32.eq (local.get $id) (i32.const -1))
          (then (local.set $refused (i32.add (local.get $refused) (i32.const 1)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (drop (memory.atomic.notify (i32.const 0) (i32.const -1)))
    (local.get $refused)))"#;

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentsync-spawn-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// This process's virtual memory size in KiB (Linux), which every thread stack not given
/// back keeps at least 2 MiB larger.
fn virtual_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A finished guest thread gives its stack back at once, not when the run is joined: after
/// 1,000 sequential spawns (and before `join_spawned`) the process's virtual size is about
/// where it was, not 1,000 stacks (2 GiB) larger.
#[test]
fn finished_spawned_threads_give_their_stacks_back() {
    let runtime = Runtime::shared();
    let program = runtime.compile(SEQUENTIAL_SPAWNS.as_bytes()).unwrap();
    let threads = Threads::new(program.clone(), program.new_memory(runtime).unwrap());
    threads.run("main", &[Val::I32(50)]).unwrap();
    threads.join_spawned().unwrap();
    let Some(before) = virtual_kib() else {
        eprintln!("no /proc/self/status here: nothing to measure");
        return;
    };
    let spawned = threads.run("main", &[Val::I32(1000)]).unwrap();
    assert_eq!(spawned[0].unwrap_i32(), 1000);
    let after = virtual_kib().unwrap();
    threads.join_spawned().unwrap();
    assert!(
        after < before + 512 * 1024,
        "virtual size {before} KiB before 1,000 spawns, {after} KiB after"
    );
}

/// Before finished guest threads were reclaimed, about 32,000 spawns exhausted the process's
/// memory mappings and it aborted. Slow in a debug build (~45 s), hence ignored by default.
#[test]
#[ignore = "40,000 thread spawns; run with --ignored"]
fn forty_thousand_sequential_spawns_complete() {
    let path = scratch("sequential.wat", SEQUENTIAL_SPAWNS);
    let out = run_module(&path, 1, "main", &["40000".to_string()]).unwrap();
    assert_eq!(out.results, [vec![Value::I32(40_000)]]);
}

#[test]
fn spawn_beyond_the_live_thread_limit_returns_minus_one() {
    let runtime = Runtime::shared();
    let program = runtime.compile(HELD_SPAWNS.as_bytes()).unwrap();
    let memory = program.new_memory(runtime).unwrap();
    let threads = Threads::new(program, memory.clone());
    threads.set_spawn_limit(2);
    let refused = threads.run("main", &[Val::I32(3)]).unwrap();
    assert_eq!(refused[0].unwrap_i32(), 1, "the third spawn is refused");
    let ids: Vec<i32> = (0..3)
        .map(|k| {
            let word = memory.atomic_i32(8 + 4 * k).unwrap();
            word.load(std::sync::atomic::Ordering::SeqCst)
        })
        .collect();
    assert!(ids[0] > 0 && ids[1] > 0 && ids[0] != ids[1], "{ids:?}");
    assert_eq!(ids[2], -1);
    threads.join_spawned().unwrap();
    // Once they have finished, the limit has room again.
    memory
        .atomic_i32(0)
        .unwrap()
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let refused = threads.run("main", &[Val::I32(2)]).unwrap();
    assert_eq!(refused[0].unwrap_i32(), 0);
    threads.join_spawned().unwrap();
}
