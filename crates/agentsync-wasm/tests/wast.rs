//! Runs every script in tests/wast/ through our runner: W1–W14 in spec-script form.
//!
//! The litmus scripts (W14) run `LITMUS_RUNS` times each (default 8, 4096 barrier-synchronised
//! trials a run).

use std::path::PathBuf;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/wast")
        .join(name)
}

fn run(name: &str) {
    let report = agentsync_wasm::run_wast(&[script(name)]);
    let file = &report.files[0];
    assert!(file.ok(), "{}\n{}", file.line(), file.failures.join("\n"));
    assert_eq!(report.summary(), "1 passed, 0 failed");
}

fn litmus(name: &str) {
    let runs: usize = std::env::var("LITMUS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    for _ in 0..runs {
        run(name);
    }
}

#[test]
fn w01_w05_w06_every_threads_opcode_with_narrow_widths() {
    run("w01_w05_w06_opcodes.wast");
}

#[test]
fn w02_w03_atomics_validate_on_unshared_memory_and_need_natural_alignment() {
    run("w02_w03_validation.wast");
}

#[test]
fn w04_unaligned_then_out_of_bounds_without_wrap_around() {
    run("w04_effective_address.wast");
}

#[test]
fn w07_w08_wait_check_order_and_result_codes() {
    run("w07_w08_wait.wast");
}

#[test]
fn w10_w11_notify_counts_and_check_order() {
    run("w10_w11_notify.wast");
}

#[test]
fn w13_shared_memory_needs_a_maximum_and_grows_in_place() {
    run("w13_shared_memory.wast");
}

#[test]
fn w14_litmus_message_passing_never_shows_the_forbidden_outcome() {
    litmus("w14_litmus_message_passing.wast");
}

#[test]
fn w14_litmus_store_buffering_never_shows_the_forbidden_outcome() {
    litmus("w14_litmus_store_buffering.wast");
}

#[test]
fn w14_litmus_load_buffering_never_shows_the_forbidden_outcome() {
    litmus("w14_litmus_load_buffering.wast");
}

#[test]
fn runner_supports_register_get_exhaustion_unlinkable_malformed_and_definitions() {
    run("runner_commands.wast");
}

#[test]
fn runner_reports_failures_with_line_numbers_and_counts_files() {
    let text = "(module (func (export \"f\") (result i32) (i32.const 1)))\n\
                (assert_return (invoke \"f\") (i32.const 2))\n\
                (assert_trap (invoke \"f\") \"unreachable\")\n";
    let file = agentsync_wasm::run_wast_text("bad.wast", text);
    assert_eq!((file.passed, file.failed), (1, 2), "{:?}", file.failures);
    assert!(file.failures[0].starts_with("2:"), "{:?}", file.failures);
    assert!(file.line().starts_with("FAIL bad.wast"));
    let report =
        agentsync_wasm::run_wast(&[script("w13_shared_memory.wast"), script("missing.wast")]);
    assert_eq!(report.summary(), "1 passed, 1 failed");
}

/// The scripts can fail: swapping the expected trap messages makes exactly those assertions
/// fail, so the check order of W4, W7 and W11 is really what passes them.
#[test]
fn mutated_trap_messages_fail_the_scripts() {
    let swap =
        |text: &str, a: &str, b: &str| text.replace(a, "\u{1}").replace(b, a).replace('\u{1}', b);
    let count = |text: &str, needle: &str| {
        text.lines()
            .filter(|l| l.starts_with("(assert_trap") && l.contains(needle))
            .count()
    };
    for (name, a, b) in [
        (
            "w04_effective_address.wast",
            "\"unaligned atomic\"",
            "\"out of bounds memory access\"",
        ),
        (
            "w07_w08_wait.wast",
            "\"expected shared memory\"",
            "\"unaligned atomic\"",
        ),
        (
            "w10_w11_notify.wast",
            "\"unaligned atomic\"",
            "\"out of bounds memory access\"",
        ),
    ] {
        let text = std::fs::read_to_string(script(name)).unwrap();
        let expected_failures = count(&text, a) + count(&text, b);
        let file = agentsync_wasm::run_wast_text(name, &swap(&text, a, b));
        assert_eq!(
            file.failed, expected_failures,
            "{name}: {:?}",
            file.failures
        );
    }
}

#[test]
fn rewrite_keeps_function_indices_memories_offsets_and_memory64() {
    run("rewrite_preserves_modules.wast");
}

/// A second `thread $T` before `(wait $T)` is a script error, and the first `$T`'s failures
/// still count (they used to be dropped with its handle: a false pass).
#[test]
fn a_reused_thread_name_fails_and_keeps_the_first_threads_failures() {
    let text = "(module $Mem (memory (export \"m\") 1 1 shared))\n\
                (thread $T (shared (module $Mem))\n\
                  (module (func (export \"f\") (result i32) (i32.const 1)))\n\
                  (assert_return (invoke \"f\") (i32.const 2)))\n\
                (thread $T (shared (module $Mem))\n\
                  (module (func (export \"g\") (result i32) (i32.const 1)))\n\
                  (assert_return (invoke \"g\") (i32.const 1)))\n\
                (wait $T)\n";
    let file = agentsync_wasm::run_wast_text("reused.wast", text);
    assert!(!file.ok(), "{}", file.line());
    assert_eq!(file.failed, 2, "{:?}", file.failures);
    let failures = file.failures.join("\n");
    assert!(
        failures.contains("4:2: got i32:1, expected i32:2"),
        "{failures}"
    );
    assert!(
        failures.contains("5:2: thread $T started again"),
        "{failures}"
    );
}

/// A call the script gets wrong (argument type or count) is not a trap: `assert_trap` and
/// `assert_exhaustion` fail on it even when the message would match the call error's text.
#[test]
fn assert_trap_fails_on_a_call_error() {
    let text = "(module (func (export \"id\") (param i32) (result i32) (local.get 0)))\n\
                (assert_trap (invoke \"id\" (i64.const 1)) \"type mismatch\")\n\
                (assert_trap (invoke \"id\") \"arguments\")\n\
                (assert_trap (invoke \"id\" (i32.const 1) (i32.const 2)) \"\")\n\
                (assert_exhaustion (invoke \"id\") \"\")\n";
    let file = agentsync_wasm::run_wast_text("call_error.wast", text);
    assert_eq!((file.passed, file.failed), (1, 4), "{:?}", file.failures);
    assert!(
        file.failures[0].contains("argument \"1:i64\" is not a valid i32"),
        "{:?}",
        file.failures
    );
    assert!(
        file.failures[1].contains("the function takes 1 arguments, 0 given"),
        "{:?}",
        file.failures
    );
}

/// A trap while instantiating (here a start function) is a trap, not "unlinkable"; nor is a
/// module that does not even validate.
#[test]
fn assert_unlinkable_fails_on_a_trapping_start_function_or_an_invalid_module() {
    let text = "(assert_unlinkable\n\
                  (module (func $start unreachable) (start $start))\n\
                  \"unreachable\")\n\
                (assert_unlinkable (module (func (result i32))) \"type mismatch\")\n\
                (assert_unlinkable\n\
                  (module (import \"spectest\" \"no_such_import\" (func)))\n\
                  \"unknown import\")\n";
    let file = agentsync_wasm::run_wast_text("unlinkable.wast", text);
    assert_eq!((file.passed, file.failed), (1, 2), "{:?}", file.failures);
    assert!(
        file.failures[0].starts_with("1:2: expected unlinkable (unreachable), got trap"),
        "{:?}",
        file.failures
    );
    assert!(
        file.failures[1].starts_with("4:2: expected unlinkable (type mismatch), got invalid"),
        "{:?}",
        file.failures
    );
}

/// A script that does not parse fails with one line `line:column: message` in the script,
/// named by its own path: no `<anon>`, no multi-line caret diagram in the summary.
#[test]
fn a_parse_error_is_one_line_with_the_scripts_line_and_column() {
    let text = "(module\n  (func (result i32) (i32.const)))\n";
    let file = agentsync_wasm::run_wast_text("broken.wast", text);
    assert_eq!((file.passed, file.failed), (0, 1), "{:?}", file.failures);
    let failure = &file.failures[0];
    assert!(failure.starts_with("2:"), "{failure}");
    assert!(
        !failure.contains('\n') && !failure.contains("<anon>"),
        "{failure}"
    );
    assert!(!file.line().contains('\n'), "{}", file.line());
    assert!(
        file.line().starts_with("FAIL broken.wast"),
        "{}",
        file.line()
    );
}

/// An unsupported directive is named by its keyword at the script's line:column, not by a
/// `Span { offset: … }`.
#[test]
fn an_unsupported_directive_is_named_at_its_line_and_column() {
    let text = "(module (func (export \"f\")))\n(assert_exception (invoke \"f\"))\n";
    let file = agentsync_wasm::run_wast_text("exception.wast", text);
    assert_eq!(
        file.failures,
        ["2:2: unsupported directive: assert_exception"],
        "{}",
        file.line()
    );
}

/// A module that fails to parse inside a script (here a quoted one) is one line too.
#[test]
fn a_module_parse_error_is_one_line_without_anon() {
    let text = "(module quote \"(func (i32.const))\")\n";
    let file = agentsync_wasm::run_wast_text("quoted.wast", text);
    assert_eq!(file.failed, 1, "{:?}", file.failures);
    let failure = &file.failures[0];
    assert!(
        failure.starts_with("1:9: malformed module: expected a i32"),
        "{failure}"
    );
    assert!(
        !failure.contains('\n') && !failure.contains("<anon>"),
        "{failure}"
    );
}

fn profile_script() -> (PathBuf, String) {
    let path = script("profile_threads_proposal.wast");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// The threads-proposal profile accepts and rejects modules as that spec version does; the
/// current profile (what the engine implements today) fails exactly the four version checks.
#[test]
fn threads_proposal_profile_judges_modules_as_that_spec_version() {
    use agentsync_wasm::Profile;
    let (path, text) = profile_script();
    let name = path.display().to_string();
    let proposal = agentsync_wasm::run_wast_text_profile(Profile::ThreadsProposal, &name, &text);
    assert!(
        proposal.ok(),
        "{}\n{}",
        proposal.line(),
        proposal.failures.join("\n")
    );
    assert!(proposal.divergences.is_empty());
    let current = agentsync_wasm::run_wast_text_profile(Profile::Current, &name, &text);
    let lines: Vec<&str> = current
        .failures
        .iter()
        .map(|f| f.split(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["6", "10", "15", "28"], "{:?}", current.failures);
    // The early proposal (before reference types) has no externref and one table.
    let early = agentsync_wasm::run_wast_text_profile(Profile::ThreadsProposalEarly, &name, &text);
    assert!(!early.ok(), "externref is not part of it");
    let tables =
        "(assert_invalid (module (table 1 funcref) (table 1 funcref)) \"multiple tables\")";
    let early = agentsync_wasm::run_wast_text_profile(Profile::ThreadsProposalEarly, "t", tables);
    assert!(early.ok(), "{:?}", early.failures);
    let proposal = agentsync_wasm::run_wast_text_profile(Profile::ThreadsProposal, "t", tables);
    assert!(!proposal.ok(), "two tables are valid with reference types");
}

/// A known divergence is reported as one, with its reason: neither passed nor failed. A
/// listed divergence that stops diverging is a failure, so the list cannot go stale.
#[test]
fn a_known_divergence_is_reported_and_must_still_diverge() {
    use agentsync_wasm::Profile;
    let divergence = Profile::ThreadsProposal
        .divergence("bulk.wast", "221:2")
        .expect("listed");
    let padding = "\n".repeat(218);
    let module = "(module (table 3 funcref)\n\
                  (func (export \"call\") (param i32) (result i32)\n\
                    (call_indirect (result i32) (local.get 0))))";
    let diverging = format!(
        "{module}{padding}(assert_trap (invoke \"call\" (i32.const 2)) \"uninitialized element 2\")\n"
    );
    let file = agentsync_wasm::run_wast_text_profile(
        Profile::ThreadsProposal,
        "suite/bulk.wast",
        &diverging,
    );
    assert!(file.ok(), "{}\n{:?}", file.line(), file.failures);
    assert_eq!(file.divergences.len(), 1);
    assert!(file.divergences[0].starts_with(&format!("221:2: {}", divergence.reason)));
    assert!(
        file.line().contains("1 known divergence"),
        "{}",
        file.line()
    );

    let agreeing = format!(
        "{module}{padding}(assert_trap (invoke \"call\" (i32.const 2)) \"uninitialized element\")\n"
    );
    let file = agentsync_wasm::run_wast_text_profile(
        Profile::ThreadsProposal,
        "suite/bulk.wast",
        &agreeing,
    );
    assert!(!file.ok());
    assert!(
        file.failures[0].contains("listed as a known divergence"),
        "{:?}",
        file.failures
    );
}

/// A directory stands for the `.wast` files under it; a symlink loop among its directories is
/// not followed (it used to recurse until the stack overflowed), and a file that is not UTF-8
/// is a failure naming the problem.
#[test]
fn a_directory_with_a_symlink_loop_and_a_binary_file_is_reported_not_crashed() {
    let dir = std::env::temp_dir().join(format!("agentsync-wast-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop.wast"), dir.join("sub/loop.wast")).unwrap();
    std::fs::copy(script("w13_shared_memory.wast"), dir.join("a.wast")).unwrap();
    std::fs::write(dir.join("sub/binary.wast"), b"\xff\xfe(module)").unwrap();
    let report = agentsync_wasm::run_wast_profile(
        agentsync_wasm::Profile::Current,
        std::slice::from_ref(&dir),
        |_| Ok::<(), ()>(()),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<String> = report.files.iter().map(|f| f.line()).collect();
    assert_eq!(report.summary(), "1 passed, 2 failed", "{lines:#?}");
    assert!(lines[1].contains("sub/binary.wast") && lines[1].contains("not UTF-8"));
    assert!(lines[2].contains("sub/loop.wast") && lines[2].contains("cannot read"));
}

/// A module that imports a shared memory nobody registered cannot link, and the failure is an
/// `unknown import` naming module and field, at the top level and inside a `thread` block
/// (the threads proposal's own scripts assert this; it used to be a separate "N shared
/// memories but M were given" error that `assert_unlinkable` did not count as a link error).
#[test]
fn an_unregistered_shared_memory_import_is_an_unknown_import_also_in_a_thread() {
    let text = "(module $Mem (memory (export \"shared\") 1 1 shared))\n\
                (assert_unlinkable\n\
                  (module (memory (import \"nobody\" \"shared\") 1 1 shared))\n\
                  \"unknown import\")\n\
                (thread $T (shared (module $Mem))\n\
                  (register \"mem\" $Mem)\n\
                  (module (memory (import \"mem\" \"shared\") 1 1 shared)\n\
                    (func (export \"ok\") (result i32) (i32.const 1)))\n\
                  (assert_return (invoke \"ok\") (i32.const 1))\n\
                  (assert_unlinkable\n\
                    (module (memory (import \"mem\" \"other\") 1 1 shared))\n\
                    \"unknown import\"))\n\
                (wait $T)\n";
    let file = agentsync_wasm::run_wast_text("unregistered.wast", text);
    assert!(file.ok(), "{}\n{}", file.line(), file.failures.join("\n"));
    // Every directive, the two assertions and the thread's included.
    assert_eq!((file.passed, file.failed), (8, 0), "{:?}", file.failures);
}

/// A wrong result is reported as the spec's text writes values (`f32:2.5`, `i32x4 …`,
/// `ref.extern 1`), not as Rust's Debug dumps of wasmtime's and wast's types.
#[test]
fn failures_print_values_as_the_spec_text_writes_them() {
    let text = "(module\n\
                  (func (export \"f\") (result f32) (f32.const 1.5))\n\
                  (func (export \"v\") (result v128) (v128.const i32x4 1 2 3 4))\n\
                  (func (export \"id\") (param externref) (result externref) (local.get 0))\n\
                  (func (export \"n\") (result f64) (f64.const nan:0x1)))\n\
                (assert_return (invoke \"f\") (f32.const 2.5))\n\
                (assert_return (invoke \"v\") (v128.const i32x4 1 2 3 5))\n\
                (assert_return (invoke \"id\" (ref.extern 1)) (ref.extern 2))\n\
                (assert_return (invoke \"n\") (f64.const nan:canonical))\n\
                (assert_trap (invoke \"f\") \"unreachable\")\n";
    let file = agentsync_wasm::run_wast_text("values.wast", text);
    assert_eq!(file.failed, 5, "{:?}", file.failures);
    let expected = [
        "6:2: got f32:1.5, expected f32:2.5",
        "7:2: got i32x4 1 2 3 4, expected i32x4 1 2 3 5",
        "8:2: got ref.extern 1, expected ref.extern 2",
        "9:2: got f64:nan:0x1, expected f64:nan:canonical",
        "10:2: expected trap \"unreachable\", got [f32:1.5]",
    ];
    for (failure, want) in file.failures.iter().zip(expected) {
        assert!(failure.starts_with(want), "{failure} / {want}");
    }
}
