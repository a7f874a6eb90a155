//! The `agentsync` binary run as a user would: tour, bench and stress, and bad arguments.

mod common;

use std::process::Command;

use common::{agentsync, text, QUICK_BENCH};

#[test]
fn tour_passes_and_shows_the_handoff_in_order() {
    let output = agentsync(&["tour"]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "tour failed:\n{stdout}\n{}",
        text(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let woke = lines.iter().position(|l| *l == "consumer woke: ok");
    let payload = lines.iter().position(|l| *l == "payload: beef");
    assert!(woke.is_some() && payload == woke.map(|i| i + 1), "{stdout}");
    assert!(stdout.contains("Atomics.wait cannot be called in this context"));
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn bench_quick_writes_json_of_the_right_shape() {
    let dir = std::env::temp_dir().join(format!("agentsync-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("out.json");
    let svg = dir.join("out.svg");
    let mut args = QUICK_BENCH.to_vec();
    args.extend([
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let output = agentsync(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let machine = &document["machine"];
    assert!(
        machine["cpu"].is_string()
            && machine["cores"].as_u64().is_some_and(|n| n >= 1)
            && machine["spin_iteration_ns"]
                .as_f64()
                .is_some_and(|ns| ns > 0.0),
        "the JSON names the machine: {machine}"
    );
    let rows = document["scenarios"].as_array().expect("a scenarios array");
    let impls: Vec<&str> = rows.iter().map(|r| r["impl"].as_str().unwrap()).collect();
    assert_eq!(impls, ["agentsync", "raw_futex", "node"]);
    for row in rows {
        assert_eq!(row["scenario"], "notify_no_waiters");
        assert_eq!(row["unit"], "ns/op");
        assert!(row["runs"].is_array());
        // A skipped peer (no node on PATH) has a reason instead of a median.
        assert!(
            row["median"].as_f64().is_some_and(|m| m > 0.0) || row["skipped"].is_string(),
            "{row}"
        );
    }
    assert!(rows[0]["median"].as_f64().is_some());
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("notify_no_waiters vs raw_futex"));
    let table = text(&output.stdout);
    assert!(
        table.contains("notify_no_waiters") && table.contains("agentsync÷"),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_unknown_scenario_is_a_usage_error_naming_it() {
    let output = agentsync(&["bench", "--scenario", "warp_drive"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("warp_drive"), "{stderr}");
    assert!(
        stderr.contains("sync_pingpong"),
        "lists the valid names: {stderr}"
    );
}

#[test]
fn bench_unwritable_json_path_is_a_clear_error_not_a_panic() {
    let output = agentsync(&["bench", "--quick", "--json", "/nonexistent/dir/x.json"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("/nonexistent/dir/x.json"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bench_plot_must_be_svg() {
    let output = agentsync(&["bench", "--quick", "--plot", "/tmp/ratios.png"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains(".svg"));
}

#[test]
fn stress_one_second_holds_its_invariants() {
    let output = agentsync(&["stress", "--seconds", "1"]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("invariants held"), "{stdout}");
    assert!(stdout.contains("cancellations"), "{stdout}");
}

#[test]
fn stress_zero_seconds_is_a_usage_error() {
    let output = agentsync(&["stress", "--seconds", "0"]);
    assert_eq!(output.status.code(), Some(2));
}

/// Every scenario and implementation issue 5 lists, then the JS host's, as `(scenario, [impls])`.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "uncontended_lock",
        &["agentsync", "std", "parking_lot", "raw_futex"],
    ),
    (
        "contended_counter_2t",
        &["agentsync", "std", "parking_lot", "raw_futex"],
    ),
    (
        "contended_counter_4t",
        &["agentsync", "std", "parking_lot", "raw_futex"],
    ),
    (
        "async_contended_lock",
        &["agentsync", "tokio", "async_lock"],
    ),
    (
        "contended_counter_8t",
        &["agentsync", "std", "parking_lot", "raw_futex"],
    ),
    ("queue_throughput", &["agentsync", "crossbeam"]),
    ("queue_4p4c", &["agentsync", "crossbeam"]),
    ("sync_pingpong", &["agentsync", "raw_futex", "std_park"]),
    (
        "sync_pingpong_parked",
        &["agentsync", "raw_futex", "std_park"],
    ),
    (
        "sync_pingpong_loaded",
        &["agentsync", "raw_futex", "std_park"],
    ),
    ("thread_task_pingpong", &["agentsync", "tokio_notify"]),
    ("wait_async_create", &["agentsync", "polyfill", "node"]),
    ("wait_async_notify", &["agentsync", "polyfill", "node"]),
    ("wait_async_bytes", &["agentsync", "polyfill", "node"]),
    ("notify_no_waiters", &["agentsync", "raw_futex"]),
    ("async_timeouts_100k", &["agentsync", "tokio_sleep"]),
    (
        "js_wait_async_create",
        &["agentsync", "quickjs_floor", "node"],
    ),
    (
        "js_wait_async_notify",
        &["agentsync", "quickjs_floor", "js_polyfill", "node"],
    ),
    (
        "js_wait_async_bytes",
        &["agentsync", "quickjs_floor", "node"],
    ),
    ("js_worker_pingpong", &["agentsync", "node"]),
    (
        "js_main_worker_pingpong",
        &["agentsync", "js_polyfill", "node"],
    ),
    ("js_wasm_main_guest_pingpong", &["agentsync", "node"]),
    ("js_wasm_guest_pingpong", &["agentsync", "node"]),
    ("js_parking_lock_2w", &["agentsync", "node"]),
    ("js_agents_bytes", &["agentsync", "node"]),
    ("js_agents_start", &["agentsync", "node"]),
    ("wasi_spawn_join", &["agentsync", "wasmtime"]),
    ("wasi_mutex_4t", &["agentsync", "wasmtime"]),
    ("wasi_condvar_pingpong", &["agentsync", "wasmtime"]),
    ("wasi_futex_gate_64", &["agentsync", "wasmtime"]),
    ("wasi_idle_thread_bytes", &["agentsync", "wasmtime"]),
    ("em_mutex_4t", &["agentsync", "node"]),
    ("em_condvar_pingpong", &["agentsync", "node"]),
    ("em_spawn_join", &["agentsync", "node"]),
    ("em_parallel_sum", &["agentsync", "node"]),
    ("em_startup_ms", &["agentsync", "node"]),
    ("em_startup_rss", &["agentsync", "node"]),
];

/// The CI check of a whole quick run: every scenario and implementation has a positive median.
/// Checks the file named by `AGENTSYNC_BENCH_JSON` if set (e.g. from a release-build
/// `agentsync bench --quick --json out.json`), else runs the quick bench itself (slow in a debug
/// build, hence `#[ignore]`: run with `cargo test -p agentsync-cli --test cli -- --ignored`).
/// A `node` row may instead be skipped, but only because node is not on PATH, and a
/// `wasmtime` row only because wasmtime is not.
#[test]
#[ignore = "runs the whole quick bench (tens of seconds); CI runs it with --ignored"]
fn bench_quick_json_covers_every_scenario_and_implementation() {
    let json = match std::env::var_os("AGENTSYNC_BENCH_JSON") {
        Some(path) => std::path::PathBuf::from(path),
        None => {
            let path =
                std::env::temp_dir().join(format!("agentsync-quick-{}.json", std::process::id()));
            let output = agentsync(&["bench", "--quick", "--json", path.to_str().unwrap()]);
            assert!(output.status.success(), "{}", text(&output.stderr));
            path
        }
    };
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let machine = &document["machine"];
    assert!(
        machine["cpu"].is_string()
            && machine["cores"].as_u64().is_some_and(|n| n >= 1)
            && machine["spin_iteration_ns"]
                .as_f64()
                .is_some_and(|ns| ns > 0.0),
        "the JSON names the machine: {machine}"
    );
    let rows = document["scenarios"].as_array().expect("a scenarios array");
    for (scenario, impls) in EXPECTED {
        for name in *impls {
            let row = rows
                .iter()
                .find(|r| r["scenario"] == *scenario && r["impl"] == *name)
                .unwrap_or_else(|| panic!("no row for {scenario} / {name}"));
            assert!(row["unit"].is_string() && row["runs"].is_array(), "{row}");
            let measured = row["median"].as_f64().is_some_and(|m| m > 0.0);
            let node_absent = *name == "node" && row["skipped"] == "node: not found, skipped";
            let wasmtime_absent = *name == "wasmtime"
                && row["skipped"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("wasmtime: not found;"));
            assert!(
                measured || node_absent || wasmtime_absent,
                "{scenario} / {name} has no median: {row}"
            );
        }
    }
}

#[test]
fn bench_without_node_on_path_skips_the_node_peer_with_a_note() {
    let dir = std::env::temp_dir().join(format!("agentsync-cli-nonode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("out.json");
    let output = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args([
            "bench",
            "--quick",
            "--rounds",
            "1",
            "--scenario",
            "notify_no_waiters",
        ])
        .arg("--json")
        .arg(&json)
        .env("PATH", &dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("node: not found, skipped"));
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let node = &document["scenarios"][2];
    assert_eq!(node["impl"], "node");
    assert!(node["median"].is_null());
    assert_eq!(node["skipped"], "node: not found, skipped");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_list_names_every_scenario() {
    let output = agentsync(&["bench", "--list"]);
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    for (scenario, impls) in EXPECTED {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(scenario))
            .unwrap_or_else(|| panic!("{scenario} missing:\n{stdout}"));
        for name in *impls {
            assert!(line.contains(name), "{scenario} lacks {name}: {line}");
        }
    }
}

/// `--quick` runs smaller counts, and its descriptions say so instead of the full run's.
#[test]
fn bench_quick_descriptions_name_the_counts_a_quick_run_uses() {
    let quick = text(&agentsync(&["bench", "--list", "--quick"]).stdout);
    assert!(
        quick.contains("median lateness of 10,000 async timeouts (50–250 ms)"),
        "{quick}"
    );
    assert!(
        quick.contains("(100,000 on one word; polyfill 500)"),
        "{quick}"
    );
    assert!(!quick.contains("polyfill 2,000"), "{quick}");
    let full = text(&agentsync(&["bench", "--list"]).stdout);
    assert!(
        full.contains("median lateness of 100,000 async timeouts (300–1300 ms)"),
        "{full}"
    );
    assert!(
        full.contains("(100,000 on one word; polyfill 2,000)"),
        "{full}"
    );
}

/// A scratch directory for one test, removed when dropped (also when the test fails).
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("agentsync-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn quick_bench_args(json: &std::path::Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = QUICK_BENCH.iter().map(Into::into).collect();
    args.push("--json".into());
    args.push(json.into());
    args
}

/// The node script used to go to `$TMPDIR/agentsync-bench-<pid>.cjs`, following a symlink
/// planted there. Now its name is random, it is created exclusively, and it is gone after the
/// run: the planted link's target is never written and nothing else is left behind.
#[test]
fn bench_node_script_does_not_follow_a_planted_symlink_and_is_removed() {
    let scratch = Scratch::new("planted");
    let json = scratch.0.join("out.json");
    let victim = scratch.0.join("victim");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(quick_bench_args(&json))
        .env("TMPDIR", &scratch.0)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The old predictable name; agentsync's own rounds run before node's, so this is planted
    // before the script would be written.
    let planted = scratch
        .0
        .join(format!("agentsync-bench-{}.cjs", child.id()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(!victim.exists(), "the planted symlink was followed");
    let link = planted.file_name().unwrap().to_string_lossy().into_owned();
    let mut expected = vec![link, "out.json".to_string()];
    expected.sort();
    assert_eq!(scratch.entries(), expected, "temporary files left behind");
}

/// When node fails, only the node peer is skipped, with the reason; the run goes on and
/// succeeds.
#[test]
fn bench_a_failing_node_is_skipped_with_its_reason() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("badnode");
    let node = scratch.0.join("node");
    std::fs::write(&node, "#!/bin/sh\necho 'boom: node broke' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o755)).unwrap();
    let json = scratch.0.join("out.json");
    let output = Command::new(env!("CARGO_BIN_EXE_agentsync"))
        .args(quick_bench_args(&json))
        .env("PATH", &scratch.0)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let reason = "node: failed (exit status: 3: boom: node broke), skipped";
    assert!(
        text(&output.stdout).contains(reason),
        "{}",
        text(&output.stdout)
    );
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = document["scenarios"].as_array().unwrap();
    assert!(rows[0]["median"].as_f64().is_some(), "agentsync ran");
    assert_eq!(rows[2]["impl"], "node");
    assert_eq!(rows[2]["skipped"], reason);
}

/// `--json` is written only at the end of a successful run: a run that fails (here: stdout is
/// full, so the table cannot be printed) leaves no JSON file, and an existing one untouched.
#[test]
fn bench_a_failed_run_leaves_no_partial_json() {
    let scratch = Scratch::new("nojson");
    let fresh = scratch.0.join("fresh.json");
    let kept = scratch.0.join("kept.json");
    std::fs::write(&kept, "{\"earlier\": true}\n").unwrap();
    for json in [&fresh, &kept] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_agentsync"))
            .args(quick_bench_args(json))
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    }
    assert_eq!(scratch.entries(), ["kept.json"]);
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        "{\"earlier\": true}\n"
    );
}

/// A scratch directory for one test.
fn out_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("agentsync-out-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `--json LINK` writes the link's target and leaves the link a link (it used to become a new
/// mode-0600 regular file, the target untouched).
#[test]
fn bench_json_through_a_symlink_writes_its_target() {
    let dir = out_dir("symlink");
    let target = dir.join("target.json");
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut args = QUICK_BENCH.to_vec();
    args.extend(["--json", link.to_str().unwrap()]);
    let output = agentsync(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert!(document["scenarios"].is_array());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--json FIFO` writes into the pipe a reader waits on; the FIFO stays a FIFO.
#[test]
fn bench_json_into_a_fifo_reaches_its_reader() {
    use std::os::unix::fs::FileTypeExt;
    let dir = out_dir("fifo");
    let fifo = dir.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let mut args = QUICK_BENCH.to_vec();
    args.extend(["--json", fifo.to_str().unwrap()]);
    let output = agentsync(&args);
    if !output.status.success() {
        // Release the reader (it waits for a writer) before failing.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    }
    assert!(output.status.success(), "{}", text(&output.stderr));
    let received = reader.join().unwrap();
    let document: serde_json::Value = serde_json::from_str(&received).unwrap();
    assert!(document["scenarios"].is_array());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A device that refuses the write (a copy of /dev/full, made in a scratch directory) fails the
/// command with the OS's reason, and the device node stays what it was. Needs root for mknod;
/// skipped with a note otherwise.
#[test]
fn bench_json_to_a_full_device_fails_naming_the_reason_and_keeps_the_node() {
    use std::os::unix::fs::FileTypeExt;
    let dir = out_dir("full");
    let full = dir.join("full");
    let made = std::process::Command::new("mknod")
        .arg(&full)
        .args(["c", "1", "7"])
        .status();
    if !made.is_ok_and(|s| s.success()) {
        println!("note: mknod is refused here (not root); skipping");
        return;
    }
    let mut args = QUICK_BENCH.to_vec();
    args.extend(["--json", full.to_str().unwrap()]);
    let output = agentsync(&args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(std::fs::metadata(&full)
        .unwrap()
        .file_type()
        .is_char_device());
    let _ = std::fs::remove_dir_all(&dir);
}
