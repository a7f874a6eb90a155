//! The wasi section: WASI runs with wasi-threads whose guest threads wait and notify on one
//! word while a host thread waits on the same word, one run after another, each ending one of
//! three ways: `_start` returns, a guest thread calls `proc_exit` halfway, or the host cancels
//! the run at a random moment.
//!
//! Checked for every run: it ended as planned (a cancel may lose the race with the run's own
//! end), nothing is left queued on the word, and, for a run that returned (and so drained
//! its waiters), the sum of what every notify returned equals the `ok` waits, guest and host.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use agentsync_wasm::wasi::{WasiCommand, WasiExit};
use agentsync_wasm::GuestMemory;

use super::{Budget, Section};

/// The wasi section.
pub(super) const SECTION: Section = Section {
    name: "wasi",
    what: "WASI runs: 3 guest threads and a host thread wait on one word while _start notifies; each run returns, exits halfway or is cancelled by the host",
    run,
};

/// The guest program (see its comments for the memory layout).
const PROGRAM: &str = include_str!("wasi_stress.wat");
/// How many notifies `_start` makes per run.
const NOTIFIES: i32 = 2_000;

/// How a run is to end.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Return,
    Exit(i32),
    Cancel(Duration),
}

fn run(budget: &Budget) -> Vec<String> {
    let runtime = agentsync_wasm::Runtime::interruptible();
    let program = match runtime.compile(PROGRAM.as_bytes()) {
        Ok(program) => program,
        Err(error) => return vec![format!("the stress program does not compile: {error}")],
    };
    let mut violations = Vec::new();
    let mut runs = 0u64;
    while Instant::now() < budget.until && violations.len() < 10 {
        let plan = match fastrand::u8(0..3) {
            0 => Plan::Return,
            1 => Plan::Exit(i32::from(fastrand::u8(1..100))),
            _ => Plan::Cancel(Duration::from_micros(fastrand::u64(0..5_000))),
        };
        runs += 1;
        if let Err(violation) = one_run(runtime, &program, plan, budget) {
            violations.push(format!("run {runs} ({plan:?}): {violation}"));
        }
    }
    violations
}

fn one_run(
    runtime: &agentsync_wasm::Runtime,
    program: &agentsync_wasm::Program,
    plan: Plan,
    budget: &Budget,
) -> Result<(), String> {
    let command = WasiCommand::new(runtime, program.clone()).map_err(|e| e.to_string())?;
    let memory = command.memory().ok_or("no shared memory")?.clone();
    let word = |at| memory.atomic_i32(at).map_err(|e| e.to_string());
    word(20)?.store(if let Plan::Exit(code) = plan { code } else { 0 }, SeqCst);
    word(24)?.store(NOTIFIES, SeqCst);
    let host_oks = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let finished = std::thread::scope(|scope| {
        // A host thread waits on the guests' word too, 1 ms at a time.
        scope.spawn(|| host_waits(&memory, &done, &host_oks, budget));
        let started = Instant::now();
        let finished = WasiCommand::start(command).map(|run| {
            if let Plan::Cancel(after) = plan {
                std::thread::sleep(after);
                run.cancel();
            }
            run.wait()
        });
        done.store(true, SeqCst);
        finished.map(|f| (f, started.elapsed()))
    });
    let (finished, took) = finished.map_err(|e| e.to_string())?;
    let counters = &budget.counters;
    counters.ops.fetch_add(1, Relaxed);
    let guest_oks = word(8)?.load(SeqCst) as u64;
    let woken = word(12)?.load(SeqCst) as u64;
    counters
        .notifies
        .fetch_add(word(32)?.load(SeqCst) as u64, Relaxed);
    let host = host_oks.load(SeqCst);
    counters.oks.fetch_add(guest_oks + host, Relaxed);
    counters.woken.fetch_add(woken, Relaxed);
    let expected = match plan {
        Plan::Return => vec![WasiExit::Code(0)],
        Plan::Exit(code) => vec![WasiExit::Code(code)],
        // The run may have ended on its own first.
        Plan::Cancel(_) => vec![WasiExit::Cancelled, WasiExit::Code(0)],
    };
    if !expected.contains(&finished.exit) {
        return Err(format!("ended {:?} after {took:?}", finished.exit));
    }
    let queued = memory.waiter_count(0);
    if queued != 0 {
        return Err(format!("{queued} waiter(s) left queued on the word"));
    }
    if finished.exit == WasiExit::Code(0) && woken != guest_oks + host {
        return Err(format!(
            "notify reported {woken} wake-ups but {guest_oks} guest and {host} host waits ended ok"
        ));
    }
    Ok(())
}

/// Waits on word 0 a millisecond at a time until the run is over.
fn host_waits(memory: &GuestMemory, done: &AtomicBool, oks: &AtomicU64, budget: &Budget) {
    while !done.load(SeqCst) {
        budget.counters.waits.fetch_add(1, Relaxed);
        match memory.host_wait32(0, 0, Some(Duration::from_millis(1))) {
            Ok(agentsync::WaitResult::Ok) => {
                oks.fetch_add(1, SeqCst);
            }
            Ok(agentsync::WaitResult::TimedOut) => {
                budget.counters.timeouts.fetch_add(1, Relaxed);
            }
            Ok(agentsync::WaitResult::NotEqual) | Err(_) => {
                budget.counters.not_equal.fetch_add(1, Relaxed);
            }
        }
    }
}
