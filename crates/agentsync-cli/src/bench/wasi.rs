//! The `wasi_*` scenarios: whole WASI programs (the Zig fixtures of agentsync-wasm, built
//! with wasi-threads) run by `agentsync wasm run` and by wasmtime-cli 46.0.3 (`wasmtime run
//! -W threads=y,shared-memory=y -S threads=y`), the last wasmtime that runs wasi-threads,
//! each as a child process, one after the other. The figure is what the program prints
//! itself (per lock, per hop, per spawn), so the two runtimes' start-up and compilation are
//! not in it; each run's whole wall time is in the note.
//!
//! wasmtime is taken from `$WASMTIME`, else from the PATH; without it (or when it fails, as
//! wasmtime 48 does: "the `-Sthreads` flag is no longer supported") the peer is skipped with
//! the reason. The programs are compiled into the binary and written for each run to a
//! temporary file, so the bench runs from any directory.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    arguments, printed_figure, Config, Impl, Outcome, Sample, Scenario, Target, AGENTSYNC,
};
use crate::temp::TempFile;

use crate::wasi_programs::{CONDVAR_RING, FUTEX_GATE, IDLE_THREADS, MUTEX_COUNTER, SPAWN_JOIN};

/// Which runtime runs the program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Agentsync,
    Wasmtime,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Agentsync => AGENTSYNC,
            Runtime::Wasmtime => "wasmtime",
        }
    }

    /// The command that runs `program` with `args`.
    fn command(self, program: &std::path::Path, args: &[String]) -> Result<Command, String> {
        let mut command = match self {
            Runtime::Agentsync => {
                let exe = std::env::current_exe()
                    .map_err(|e| format!("cannot find this binary ({e})"))?;
                let mut command = Command::new(exe);
                command.args(["wasm", "run"]);
                command
            }
            Runtime::Wasmtime => {
                let wasmtime = std::env::var_os("WASMTIME").unwrap_or_else(|| "wasmtime".into());
                let mut command = Command::new(wasmtime);
                command.args(["run", "-W", "threads=y,shared-memory=y", "-S", "threads=y"]);
                command
            }
        };
        command.arg(program);
        if self == Runtime::Agentsync {
            command.arg("--");
        }
        command.args(args);
        Ok(command)
    }
}

/// Writes `bytes` to a fresh temporary `.wasm` (removed when dropped).
fn program_file(bytes: &[u8]) -> Result<TempFile, String> {
    let mut file = TempFile::new_in(&std::env::temp_dir(), "agentsync-bench-", ".wasm")
        .map_err(|e| format!("cannot write the program to a temporary file ({e})"))?;
    file.file()
        .write_all(bytes)
        .and_then(|()| file.file().flush())
        .map_err(|e| format!("cannot write the program ({e})"))?;
    Ok(file)
}

/// What a finished program printed.
struct Ran {
    stdout: String,
    stderr: String,
    wall: Duration,
}

/// Runs `bytes` under `runtime`; `Err` is why it could not run or did not succeed.
fn run(runtime: Runtime, bytes: &[u8], args: &[String]) -> Result<Ran, String> {
    let program = program_file(bytes)?;
    let started = Instant::now();
    let output = runtime
        .command(program.path(), args)?
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            _ => format!("cannot run ({e})"),
        })?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("failed ({}: {})", output.status, last.trim()));
    }
    Ok(Ran {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
        wall,
    })
}

/// One round: run the program, check its stdout, take its own figure (divided by `per`).
fn measure(
    runtime: Runtime,
    bytes: &[u8],
    args: &[String],
    expected: &str,
    label: &str,
    per: f64,
) -> Result<Outcome, String> {
    let ran = match run(runtime, bytes, args) {
        Ok(ran) => ran,
        // The peer may be missing or unable to run threads: skip it, with the reason.
        Err(reason) if runtime == Runtime::Wasmtime => {
            return Ok(Outcome::Skipped(format!(
                "wasmtime: {reason}; needs wasmtime-cli 46.0.3 (cargo install --locked \
                 wasmtime-cli@46.0.3), skipped"
            )))
        }
        Err(reason) => return Err(format!("{}: {reason}", runtime.name())),
    };
    if ran.stdout != expected {
        return Err(format!(
            "{} printed {:?}, expected {expected:?}",
            runtime.name(),
            ran.stdout
        ));
    }
    let value =
        printed_figure(&ran.stderr, label).map_err(|e| format!("{}: {e}", runtime.name()))?;
    Ok(Outcome::Measured(Sample::noted(
        value / per,
        format!("whole run {:.0} ms", ran.wall.as_secs_f64() * 1e3),
    )))
}

fn spawn_join(runtime: Runtime, config: &Config) -> Result<Outcome, String> {
    let count = config.pick(200, 40);
    let expected = format!("joined = {count}\n");
    let args = arguments(&[count]);
    measure(
        runtime,
        SPAWN_JOIN,
        &args,
        &expected,
        "ns per spawn+join:",
        1.0,
    )
}

fn mutex(runtime: Runtime, config: &Config) -> Result<Outcome, String> {
    let n = config.pick(50_000, 5_000);
    let expected = format!("counter = {}\n", 4 * n);
    let args = arguments(&[4, n]);
    measure(
        runtime,
        MUTEX_COUNTER,
        &args,
        &expected,
        "ns per lock/unlock:",
        1.0,
    )
}

fn condvar(runtime: Runtime, config: &Config) -> Result<Outcome, String> {
    let rounds = config.pick(5_000, 500);
    let expected = format!("hops = {}\n", 2 * rounds);
    let args = arguments(&[2, rounds]);
    // Two hops make a round trip.
    measure(runtime, CONDVAR_RING, &args, &expected, "ns per hop:", 0.5)
}

fn gate(runtime: Runtime, _config: &Config) -> Result<Outcome, String> {
    let args = arguments(&[64]);
    let label = "ns from opening until all joined:";
    measure(runtime, FUTEX_GATE, &args, "passed = 64\n", label, 1.0)
}

/// Memory per idle guest thread: the resident set of a run with 65 idle threads less that of
/// a run with 1, over 64, each read while the threads wait at their gate.
fn idle_memory(runtime: Runtime, _config: &Config) -> Result<Outcome, String> {
    let rss = |threads: usize| resident_while_idle(runtime, threads);
    let outcome = rss(1).and_then(|one| Ok((one, rss(65)?)));
    match outcome {
        Ok((one, many)) => Ok(Outcome::Measured(Sample::noted(
            (many as f64 - one as f64) / 64.0,
            format!(
                "resident {} KiB with 1 thread, {} KiB with 65",
                one / 1024,
                many / 1024
            ),
        ))),
        Err(reason) if runtime == Runtime::Wasmtime => Ok(Outcome::Skipped(format!(
            "wasmtime: {reason}; needs wasmtime-cli 46.0.3, skipped"
        ))),
        Err(reason) => Err(format!("{}: {reason}", runtime.name())),
    }
}

/// The child's resident bytes once `threads` idle threads of `idle_threads` have arrived.
fn resident_while_idle(runtime: Runtime, threads: usize) -> Result<u64, String> {
    let program = program_file(IDLE_THREADS)?;
    let mut child = runtime
        .command(program.path(), &arguments(&[threads]))?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            _ => format!("cannot run ({e})"),
        })?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    // "ready\n" once every thread waits at the gate (or end of file if it failed).
    while !seen.ends_with(b"ready\n") {
        match stdout.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => break,
        }
    }
    let resident = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
    // Closing stdin lets the program open its gate, join and exit.
    drop(child.stdin.take());
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let status = child.wait().map_err(|e| e.to_string())?;
    if !seen.ends_with(b"ready\n") || !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("failed ({status}: {})", last.trim()));
    }
    if rest != format!("joined = {threads}\n") {
        return Err(format!("printed {rest:?} after ready"));
    }
    resident
        .map(|kib| kib * 1024)
        .ok_or_else(|| "cannot read its resident size".to_string())
}

macro_rules! pair {
    ($f:ident) => {
        &[
            Impl {
                name: AGENTSYNC,
                run: |config| $f(Runtime::Agentsync, config),
            },
            Impl {
                name: "wasmtime",
                run: |config| $f(Runtime::Wasmtime, config),
            },
        ]
    };
}

/// The WASI scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "wasi_spawn_join",
        unit: "ns/thread",
        what: |c| {
            format!(
                "a Zig WASI program starts and joins {} threads one after another (wasi-threads)",
                c.pick(200, 40)
            )
        },
        impls: pair!(spawn_join),
    },
    Scenario {
        name: "wasi_mutex_4t",
        unit: "ns/op",
        what: |c| {
            format!(
                "4 guest threads add to one counter under std.Thread.Mutex, {} times each",
                c.pick(50_000, 5_000)
            )
        },
        impls: pair!(mutex),
    },
    Scenario {
        name: "wasi_condvar_pingpong",
        unit: "ns/round-trip",
        what: |c| {
            format!(
                "2 guest threads pass a token under a mutex with std.Thread.Condition, {} round trips",
                c.pick(5_000, 500)
            )
        },
        impls: pair!(condvar),
    },
    Scenario {
        name: "wasi_futex_gate_64",
        unit: "ns/release",
        what: |_| {
            "64 guest threads wait on one std.Thread.Futex word; the time from one wake of all until all are joined".into()
        },
        impls: pair!(gate),
    },
    Scenario {
        name: "wasi_idle_thread_bytes",
        unit: "bytes/thread",
        what: |_| {
            "resident memory per idle guest thread (65 threads waiting at a gate less 1, over 64)"
                .into()
        },
        impls: pair!(idle_memory),
    },
];

/// The targets the WASI issue set against wasmtime 46.
pub(super) const TARGETS: &[(&str, Target)] = &[
    ("wasi_spawn_join", Target::new("wasmtime", 1.0)),
    ("wasi_mutex_4t", Target::new("wasmtime", 1.0)),
    ("wasi_condvar_pingpong", Target::new("wasmtime", 0.5)),
    ("wasi_futex_gate_64", Target::new("wasmtime", 1.0)),
];
