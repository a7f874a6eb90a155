//! The `em_*` scenarios: C programs built by Emscripten 3.1.6 (`bench/emscripten/`, with
//! `build.sh`), the web build run by `agentsync js` and the node build by Node.js, each as a
//! child process, one after the other. Both builds are the same C with the same flags but
//! `-sENVIRONMENT`; the guest code is compiled by Cranelift here and by V8 there, and the
//! pthread glue (Emscripten's JavaScript) runs in QuickJS here and V8 there.
//!
//! The pthread scenarios take the figure each program prints itself (so start-up is not in
//! it); `em_startup_ms` is the whole run of a program whose `main` returns at once (the runtime
//! starting its pool of 4 pthread workers, main, exit), and `em_startup_rss` that run's peak
//! resident set (the child's `VmHWM`, sampled each millisecond: a lower bound). Node is skipped with the reason when it is missing.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::report::Target;
use super::{arguments, printed_figure, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC};

/// Embeds `bench/emscripten/$name` for both builds: the script, its module and its worker.
macro_rules! program {
    ($name:literal) => {
        Program {
            name: $name,
            web: [
                include_bytes!(concat!("../../../../bench/emscripten/", $name, "_web.js")),
                include_bytes!(concat!("../../../../bench/emscripten/", $name, "_web.wasm")),
                include_bytes!(concat!(
                    "../../../../bench/emscripten/",
                    $name,
                    "_web.worker.js"
                )),
            ],
            node: [
                include_bytes!(concat!("../../../../bench/emscripten/", $name, "_node.js")),
                include_bytes!(concat!(
                    "../../../../bench/emscripten/",
                    $name,
                    "_node.wasm"
                )),
                include_bytes!(concat!(
                    "../../../../bench/emscripten/",
                    $name,
                    "_node.worker.js"
                )),
            ],
        }
    };
}

/// A benchmark program's two builds.
struct Program {
    name: &'static str,
    web: [&'static [u8]; 3],
    node: [&'static [u8]; 3],
}

const MUTEX: Program = program!("mutex");
const CONDVAR: Program = program!("condvar");
const SPAWN: Program = program!("spawn");
const SUM: Program = program!("sum");
const STARTUP: Program = program!("startup");

/// Who runs the program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runner {
    Agentsync,
    Node,
}

/// How long one run may take.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// What a finished run printed, and what it cost.
struct Ran {
    stdout: String,
    stderr: String,
    wall: Duration,
    /// Peak resident set, bytes.
    max_rss: u64,
}

/// Writes the build `runner` runs to a fresh temporary folder and runs it with `args`.
fn run(program: &Program, runner: Runner, args: &[String]) -> Result<Ran, String> {
    let dir = crate::temp::TempDir::new_in(&std::env::temp_dir(), "agentsync-bench-em-")
        .map_err(|e| format!("cannot make a temporary folder ({e})"))?;
    let (suffix, files) = match runner {
        Runner::Agentsync => ("web", &program.web),
        Runner::Node => ("node", &program.node),
    };
    let names = [".js", ".wasm", ".worker.js"].map(|ext| format!("{}_{suffix}{ext}", program.name));
    for (name, bytes) in names.iter().zip(files) {
        std::fs::write(dir.path().join(name), bytes)
            .map_err(|e| format!("cannot write {name} ({e})"))?;
    }
    let script = dir.path().join(&names[0]);
    let mut command = match runner {
        Runner::Agentsync => {
            let exe =
                std::env::current_exe().map_err(|e| format!("cannot find this binary ({e})"))?;
            let mut command = Command::new(exe);
            command.arg("js").arg(&script).arg("--");
            command
        }
        Runner::Node => {
            let mut command = Command::new("node");
            command.arg("--no-experimental-fetch").arg(&script);
            command
        }
    };
    command.args(args);
    run_measured(command)
}

/// Runs `command` to its end (killed after [`TIME_LIMIT`]), with its peak resident set.
fn run_measured(mut command: Command) -> Result<Ran, String> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            _ => format!("cannot run ({e})"),
        })?;
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped")));
    let stderr = read(Box::new(child.stderr.take().expect("piped")));
    let pid = i32::try_from(child.id()).map_err(|_| "a pid out of range".to_string())?;
    let mut max_rss = 0;
    let status = loop {
        // wait4's ru_maxrss cannot be used: Linux carries the forking process's high-water
        // mark into the child across exec (every run read this bench's own 112 MiB). The
        // child's VmHWM, read each millisecond while it runs, is its own.
        max_rss = max_rss.max(high_water_mark(pid).unwrap_or(0));
        let mut status = 0;
        // SAFETY: waits for our own child; the out-pointer is valid.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break status;
        }
        if waited < 0 {
            return Err(format!(
                "cannot wait for the child ({})",
                std::io::Error::last_os_error()
            ));
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            return Err(format!("did not finish within {TIME_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = started.elapsed();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("failed (wait status {status}: {})", last.trim()));
    }
    Ok(Ran {
        stdout,
        stderr,
        wall,
        max_rss,
    })
}

/// The peak resident set of process `pid` so far (`VmHWM` of `/proc/PID/status`), bytes.
fn high_water_mark(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A run's outcome from `figure`; node's failures skip it, with the reason.
fn outcome(
    runner: Runner,
    result: Result<Ran, String>,
    expected: &str,
    figure: impl FnOnce(&Ran) -> Result<f64, String>,
) -> Result<Outcome, String> {
    let name = match runner {
        Runner::Agentsync => AGENTSYNC,
        Runner::Node => "node",
    };
    let ran = match result {
        Ok(ran) => ran,
        Err(reason) if runner == Runner::Node => {
            return Ok(Outcome::Skipped(format!("node: {reason}, skipped")))
        }
        Err(reason) => return Err(format!("{name}: {reason}")),
    };
    if ran.stdout != expected {
        return Err(format!(
            "{name} printed {:?}, expected {expected:?}",
            ran.stdout
        ));
    }
    let value = figure(&ran).map_err(|e| format!("{name}: {e}"))?;
    Ok(Outcome::Measured(Sample::noted(
        value,
        format!(
            "whole run {:.0} ms, peak RSS {:.1} MiB",
            ran.wall.as_secs_f64() * 1e3,
            ran.max_rss as f64 / 1048576.0
        ),
    )))
}

fn mutex(runner: Runner, config: &Config) -> Result<Outcome, String> {
    let n = config.pick(100_000, 10_000);
    let ran = run(&MUTEX, runner, &arguments(&[4, n]));
    outcome(runner, ran, &format!("counter = {}\n", 4 * n), |r| {
        printed_figure(&r.stderr, "ns per lock/unlock:")
    })
}

fn condvar(runner: Runner, config: &Config) -> Result<Outcome, String> {
    let rounds = config.pick(20_000, 2_000);
    let ran = run(&CONDVAR, runner, &arguments(&[rounds]));
    outcome(runner, ran, &format!("handoffs = {}\n", 2 * rounds), |r| {
        printed_figure(&r.stderr, "ns per round trip:")
    })
}

fn spawn(runner: Runner, config: &Config) -> Result<Outcome, String> {
    let count = config.pick(500, 50);
    let ran = run(&SPAWN, runner, &arguments(&[count]));
    outcome(runner, ran, &format!("joined = {count}\n"), |r| {
        printed_figure(&r.stderr, "ns per spawn+join:")
    })
}

/// The sum `sum.c` prints for `mib` MiB: each byte `i * 31 + 7` (mod 256), xor each pass.
fn expected_sum(mib: usize) -> u64 {
    let size = mib << 20;
    // The byte pattern repeats every 256 bytes, which a MiB holds a whole number of times.
    let mut per_256 = 0u64;
    for pass in 0..8u8 {
        for i in 0..256usize {
            let byte = (i.wrapping_mul(31).wrapping_add(7)) as u8;
            per_256 += u64::from(byte ^ pass);
        }
    }
    per_256 * (size / 256) as u64
}

fn sum(runner: Runner, config: &Config) -> Result<Outcome, String> {
    let mib = config.pick(64, 16);
    let ran = run(&SUM, runner, &arguments(&[mib, 4]));
    outcome(
        runner,
        ran,
        &format!("sum = {}\n", expected_sum(mib)),
        |r| printed_figure(&r.stderr, "ms for the parallel sum:"),
    )
}

fn startup_ms(runner: Runner, _config: &Config) -> Result<Outcome, String> {
    let ran = run(&STARTUP, runner, &[]);
    outcome(runner, ran, "main\n", |r| Ok(r.wall.as_secs_f64() * 1e3))
}

fn startup_rss(runner: Runner, _config: &Config) -> Result<Outcome, String> {
    let ran = run(&STARTUP, runner, &[]);
    outcome(runner, ran, "main\n", |r| Ok(r.max_rss as f64 / 1048576.0))
}

/// agentsync's host and node, on one scenario function.
macro_rules! em_impls {
    ($run:ident) => {
        &[
            Impl {
                name: AGENTSYNC,
                run: |c| $run(Runner::Agentsync, c),
            },
            Impl {
                name: "node",
                run: |c| $run(Runner::Node, c),
            },
        ]
    };
}

/// The Emscripten scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "em_mutex_4t",
        unit: "ns/op",
        what: |config| {
            format!(
                "Emscripten: one pthread_mutex lock/unlock, 4 threads x {} (bench/emscripten/mutex.c)",
                super::thousands(config.pick(100_000, 10_000))
            )
        },
        impls: em_impls!(mutex),
    },
    Scenario {
        name: "em_condvar_pingpong",
        unit: "ns/round-trip",
        what: |config| {
            format!(
                "Emscripten: {} round trips of two threads under a pthread condition variable (bench/emscripten/condvar.c)",
                super::thousands(config.pick(20_000, 2_000))
            )
        },
        impls: em_impls!(condvar),
    },
    Scenario {
        name: "em_spawn_join",
        unit: "ns/spawn",
        what: |config| {
            format!(
                "Emscripten: pthread_create + pthread_join from main, {} one after another, pool of 4 (bench/emscripten/spawn.c)",
                config.pick(500, 50)
            )
        },
        impls: em_impls!(spawn),
    },
    Scenario {
        name: "em_parallel_sum",
        unit: "ms",
        what: |config| {
            format!(
                "Emscripten: 8 passes over {} MiB summed by 4 threads (bench/emscripten/sum.c)",
                config.pick(64, 16)
            )
        },
        impls: em_impls!(sum),
    },
    Scenario {
        name: "em_startup_ms",
        unit: "ms",
        what: |_| {
            "Emscripten: a whole run whose main returns at once (runtime, pool of 4 workers, exit; bench/emscripten/startup.c)".into()
        },
        impls: em_impls!(startup_ms),
    },
    Scenario {
        name: "em_startup_rss",
        unit: "MiB",
        what: |_| "Emscripten: the peak resident set of that run".into(),
        impls: em_impls!(startup_rss),
    },
];

/// The targets: the pthread scenarios at most node's time in the same run.
pub(super) const TARGETS: &[(&str, Target)] = &[
    ("em_mutex_4t", Target::new("node", 1.0)),
    ("em_condvar_pingpong", Target::new("node", 1.0)),
    ("em_spawn_join", Target::new("node", 1.0)),
    ("em_parallel_sum", Target::new("node", 1.0)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_sum_is_the_programs() {
        // What sum.c printed for 64 MiB, 4 threads, under both builds.
        assert_eq!(expected_sum(64), 68_451_041_280);
    }
}
