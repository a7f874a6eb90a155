//! `run_module` (what `agentsync wasm run` calls) and the errors bad modules give.

use std::path::{Path, PathBuf};

use agentsync_wasm::{run_module, Runtime, Value, WasmError};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/wasm")
        .join(name)
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentsync-wasm-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn four_threads_add_to_one_counter() {
    let out = run_module(&example("counter.wat"), 4, "add", &["1000".to_string()]).unwrap();
    assert_eq!(out.results.len(), 4);
    let last_seen: Vec<i32> = out
        .results
        .iter()
        .map(|r| match r[..] {
            [Value::I32(v)] => v,
            _ => panic!("unexpected results {r:?}"),
        })
        .collect();
    assert!(last_seen.iter().all(|&v| (1000..=4000).contains(&v)));
    // The thread that made the last add loads after it, so it sees every add.
    assert_eq!(last_seen.iter().max(), Some(&4000), "{last_seen:?}");
}

#[test]
fn guest_spawns_threads_and_joins_them_with_wait_notify() {
    let out = run_module(&example("spawn.wat"), 1, "main", &["5".to_string()]).unwrap();
    assert_eq!(out.results, [vec![Value::I32(1 + 2 + 3 + 4 + 5)]]);
}

#[test]
fn lock_wat_runs_from_the_cli_entry_point() {
    let out = run_module(&example("lock.wat"), 3, "increment", &["100".to_string()]).unwrap();
    assert_eq!(out.results, [vec![], vec![], vec![]]);
}

#[test]
fn bad_module_malformed_text_names_line_and_column() {
    let path = scratch(
        "malformed.wat",
        "(module\n  (func (result i32) (i32.const))\n)",
    );
    let err = run_module(&path, 1, "f", &[]).unwrap_err();
    assert!(matches!(err, WasmError::Malformed(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("malformed module: 2:"),
        "names line 2: {text}"
    );
    assert_eq!(
        text.lines().count(),
        1,
        "one line, no caret diagram: {text}"
    );
    assert!(!text.contains("<anon>"), "{text}");
}

#[test]
fn bad_module_without_shared_memory_cannot_run_on_several_threads() {
    let path = scratch(
        "unshared.wat",
        "(module (memory 1) (func (export \"f\") (result i32) (i32.const 1)))",
    );
    let err = run_module(&path, 2, "f", &[]).unwrap_err();
    assert!(matches!(
        err,
        WasmError::NeedsSharedMemoryImport { threads: 2 }
    ));
    assert!(err.to_string().contains("(memory 1 1 shared)"), "{err}");
    // One thread is fine.
    assert_eq!(
        run_module(&path, 1, "f", &[]).unwrap().results,
        [vec![Value::I32(1)]]
    );
}

#[test]
fn bad_module_wait_on_unshared_memory_traps_naming_the_rule() {
    let path = scratch(
        "wait_unshared.wat",
        r#"(module (memory 1 1)
             (func (export "f") (result i32)
               (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0))))"#,
    );
    let err = run_module(&path, 1, "f", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trap: expected shared memory: memory.atomic.wait32 on an unshared memory (W7)"
    );
}

#[test]
fn bad_module_unaligned_atomics_trap() {
    let path = scratch(
        "unaligned.wat",
        r#"(module (import "env" "memory" (memory 1 1 shared))
             (func (export "wait") (param i32) (result i32)
               (memory.atomic.wait64 (local.get 0) (i64.const 0) (i64.const 0)))
             (func (export "load") (param i32) (result i32)
               (i32.atomic.load (local.get 0))))"#,
    );
    let err = run_module(&path, 1, "wait", &["12".to_string()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trap: unaligned atomic: effective address 12 is not a multiple of 8 (W4)"
    );
    let err = run_module(&path, 1, "load", &["6".to_string()]).unwrap_err();
    assert!(err.to_string().contains("unaligned atomic"), "{err}");
}

#[test]
fn bad_module_invalid_alignment_immediate_is_invalid_not_a_trap() {
    let err = Runtime::shared()
        .compile(
            b"(module (memory 1 1 shared) (func (drop (i32.atomic.load align=2 (i32.const 0)))))",
        )
        .unwrap_err();
    assert!(matches!(err, WasmError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("alignment"), "{err}");
}

#[test]
fn bad_invocations_name_what_was_wrong() {
    let counter = example("counter.wat");
    let err = run_module(&counter, 1, "nope", &[]).unwrap_err();
    assert_eq!(err.to_string(), "no exported function named \"nope\"");
    let err = run_module(&counter, 1, "add", &[]).unwrap_err();
    assert_eq!(err.to_string(), "the function takes 1 arguments, 0 given");
    let err = run_module(&counter, 1, "add", &["ten".to_string()]).unwrap_err();
    assert_eq!(err.to_string(), "argument \"ten\" is not a valid i32");
    let err = run_module(Path::new("/nonexistent/x.wat"), 1, "add", &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/x.wat"),
        "{err}"
    );
    let bin = scratch("bad.wasm", "\0asm\x02\0\0\0");
    let err = run_module(&bin, 1, "f", &[]).unwrap_err();
    assert!(matches!(err, WasmError::Malformed(_)), "{err:?}");
}

#[test]
fn bad_module_neither_binary_nor_text_is_not_a_module() {
    for bytes in [&[0x89, 0xfe, 0x00, 0x13, 0xc3][..], b"hello, world"] {
        let err = Runtime::shared().compile(bytes).unwrap_err();
        assert!(matches!(err, WasmError::NotAModule), "{err:?}");
        assert_eq!(
            err.to_string(),
            "not a WebAssembly module: neither binary (no \\0asm header) nor text"
        );
    }
}

#[test]
fn two_shared_memory_imports_get_two_memories() {
    let path = scratch(
        "two_memories.wat",
        r#"(module
             (import "env" "a" (memory $a 1 1 shared))
             (import "env" "b" (memory $b 1 1 shared))
             (func (export "f") (result i32)
               (i32.atomic.store $a (i32.const 0) (i32.const 7))
               (drop (memory.atomic.notify $b (i32.const 0) (i32.const 1)))
               (i32.atomic.load $b (i32.const 0))))"#,
    );
    let out = run_module(&path, 2, "f", &[]).unwrap();
    assert_eq!(out.results, [vec![Value::I32(0)], vec![Value::I32(0)]]);
}

#[test]
fn a_module_may_export_the_name_the_rewrite_would_use() {
    let path = scratch(
        "export_name.wat",
        r#"(module
             (import "env" "memory" (memory 1 1 shared))
             (func (export "agentsync:memory0") (result i32)
               (memory.atomic.notify (i32.const 0) (i32.const 1))))"#,
    );
    let out = run_module(&path, 1, "agentsync:memory0", &[]).unwrap();
    assert_eq!(out.results, [vec![Value::I32(0)]]);
}

#[test]
fn a_memory64_shared_import_gets_a_64_bit_memory() {
    let path = scratch(
        "memory64.wat",
        r#"(module
             (import "env" "memory" (memory i64 1 1 shared))
             (func (export "f") (result i32)
               (i64.atomic.store (i64.const 8) (i64.const 5))
               (drop (memory.atomic.notify (i64.const 8) (i32.const 1)))
               (memory.atomic.wait64 (i64.const 8) (i64.const 4) (i64.const 0))))"#,
    );
    let out = run_module(&path, 2, "f", &[]).unwrap();
    // Not equal: the word holds 5.
    assert_eq!(out.results, [vec![Value::I32(1)], vec![Value::I32(1)]]);
}

#[test]
fn a_module_that_defines_its_shared_memory_cannot_spawn_threads() {
    let path = scratch(
        "defined_spawn.wat",
        r#"(module
             (import "agentsync" "thread_spawn" (func $spawn (param i32) (result i32)))
             (memory 1 1 shared)
             (func (export "thread_start") (param i32 i32)
               (i32.atomic.store (i32.const 0) (i32.const 1))
               (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
             (func (export "main") (result i32)
               (drop (call $spawn (i32.const 0)))
               (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 2000000000))))"#,
    );
    let err = run_module(&path, 1, "main", &[]).unwrap_err();
    assert!(
        matches!(err, WasmError::SpawnNeedsImportedMemory),
        "{err:?}"
    );
    assert!(err.to_string().contains("import"), "{err}");
}

/// The linker reports a shared memory import that nothing provides as a link error that starts
/// with `unknown import` and names the module and the field, whoever the caller is.
#[test]
fn a_shared_memory_import_given_no_memory_is_an_unknown_import_naming_it() {
    use agentsync_wasm::wasmtime::{Linker, Store};
    use agentsync_wasm::{GuestState, Runtime};
    let runtime = Runtime::shared();
    let program = runtime
        .compile(br#"(module (memory (import "mem" "shared") 1 1 shared))"#)
        .unwrap();
    let mut store = Store::new(runtime.engine(), GuestState::default());
    let linker = Linker::new(runtime.engine());
    let err = program
        .instantiate(&mut store, None, Some(&linker))
        .unwrap_err();
    assert!(err.is_link_error(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(r#"cannot link module: unknown import "mem" "shared""#),
        "{text}"
    );
}

/// A module with 40 private memories beside its shared one, on 1,024 threads, would need more
/// memory mappings than the kernel allows (about 123,000 against 65,530 here): refused before
/// anything is instantiated, with the limit named, every time (it used to panic in about one
/// run of four, in wasmtime's `munmap`, once the process neared the limit). A few threads of
/// the same module still run.
#[test]
fn threads_past_the_mapping_budget_are_refused_every_time_and_a_few_still_run() {
    let mut wat = String::from("(module (import \"env\" \"memory\" (memory 1 1 shared))");
    for k in 0..40 {
        wat.push_str(&format!(" (memory $m{k} 1)"));
    }
    wat.push_str(" (func (export \"f\") (result i32) (i32.const 7)))");
    let path = scratch("forty_memories.wat", &wat);
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if limit == 0 || limit > 100_000 {
        println!("note: vm.max_map_count is {limit}: 1,024 threads fit; skipping the refusal");
    } else {
        for _ in 0..20 {
            let err = run_module(&path, 1024, "f", &[]).unwrap_err();
            assert!(matches!(err, WasmError::MappingBudget { .. }), "{err}");
            let text = err.to_string();
            assert!(text.contains("vm.max_map_count"), "{text}");
            assert!(text.contains("40 private memories"), "{text}");
        }
    }
    let out = run_module(&path, 4, "f", &[]).unwrap();
    assert_eq!(out.results, vec![vec![Value::I32(7)]; 4]);
}
