//! Tour steps for layer 5: WebAssembly threads whose `memory.atomic.wait` / `notify` run on
//! agentsync's futex, so guests, host threads and host tasks share one queue per word.

use crate::wasm_demo::{async_notify_demo, lock_demo};
use agentsync::WaitResult;

use super::{Checks, Step};

/// The layer 5 steps.
pub(super) const STEPS: &[Step] = &[
    Step {
        title: "Wasm threads and a host thread under one lock",
        what: "lock.wat's compare-exchange spin lock and its parking lock: 4 Wasm threads and 1 host thread increment one counter each; the parking lock's waits and notifies cross between guest and host",
        run: wasm_locks,
    },
    Step {
        title: "a host async task awaits a guest's notify",
        what: "the guest's memory.atomic.notify wakes a host wait_async future queued on guest memory (no helper thread), and a host notify wakes a guest memory.atomic.wait32",
        run: wasm_async_handoff,
    },
    Step {
        title: "threaded WASI programs from a real toolchain",
        what: "two Zig programs built for wasi-threads run side by side in this process: a bounded queue under std.Thread.Mutex and Condition, and one whose worker calls exit(7) while its other threads are blocked; that run ends with status 7, its threads stopped, and the other goes on",
        run: wasi_programs,
    },
];

fn wasi_programs(checks: &mut Checks) -> Result<(), String> {
    use crate::wasi_programs::{BOUNDED_QUEUE, WORKER_EXITS};
    use agentsync_wasm::wasi::{Output, WasiCommand, WasiExit};
    let start = |bytes: &[u8], args: &[&str]| {
        WasiCommand::compile(bytes)
            .map(|c| c.args(args.iter().copied()).stdout(Output::Capture))
            .and_then(WasiCommand::start)
            .map_err(|e| e.to_string())
    };
    let queue = start(BOUNDED_QUEUE, &["2", "40000"])?;
    let exits = start(WORKER_EXITS, &[])?;
    let exits = exits.wait();
    let out = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim_end().to_string();
    checks.say(format_args!(
        "  worker_exits:  {:?}, stdout {:?}",
        exits.exit,
        out(&exits.stdout)
    ));
    let queue_live = !queue.has_ended();
    let queue = queue.wait();
    checks.say(format_args!(
        "  bounded_queue: {:?}, stdout {:?}",
        queue.exit,
        out(&queue.stdout)
    ));
    checks.equal(
        "worker_exits ended with its worker's status",
        exits.exit,
        WasiExit::Code(7),
    );
    checks.equal(
        "its worker printed before exiting",
        out(&exits.stdout),
        "worker: exiting with 7".to_string(),
    );
    checks.say(format_args!(
        "  bounded_queue was {} when the other run ended",
        if queue_live {
            "still running"
        } else {
            "already done"
        }
    ));
    checks.equal(
        "bounded_queue ended with status 0",
        queue.exit,
        WasiExit::Code(0),
    );
    checks.equal(
        "the consumers took every item the producers put",
        out(&queue.stdout),
        "sum = 1600040000 (expected 1600040000)".to_string(),
    );
    Ok(())
}

fn wasm_locks(checks: &mut Checks) -> Result<(), String> {
    let demo = lock_demo(4, 1, 10_000).map_err(|e| e.to_string())?;
    checks.say(format_args!(
        "  spin lock:    {} guest + {} host threads x {} = {}",
        demo.guest_threads, demo.host_threads, demo.iterations, demo.spin_total
    ));
    checks.say(format_args!(
        "  parking lock: counter {}; ok waits {} guest + {} host; notify woke {} (guest) + {} (host)",
        demo.parking_total, demo.guest_ok_waits, demo.host_ok_waits, demo.guest_woken, demo.host_woken
    ));
    checks.equal(
        "the spin-locked counter is exact",
        demo.spin_total,
        demo.expected,
    );
    checks.equal(
        "the parking-locked counter is exact",
        demo.parking_total,
        demo.expected,
    );
    checks.equal(
        "every ok wait was paid for by a notify, guest or host",
        demo.guest_ok_waits + demo.host_ok_waits,
        demo.guest_woken + demo.host_woken,
    );
    checks.equal("no waiter left on the lock word", demo.waiters_left, 0);
    Ok(())
}

fn wasm_async_handoff(checks: &mut Checks) -> Result<(), String> {
    let demo = async_notify_demo().map_err(|e| e.to_string())?;
    checks.say(format_args!(
        "  host wait_async on guest word 0     -> {{ async: {} }}, then {}",
        demo.was_async, demo.host_result
    ));
    checks.say(format_args!(
        "  guest memory.atomic.notify returned -> {}",
        demo.guest_notify_returned
    ));
    checks.say(format_args!(
        "  host notify on guest word 8         -> woke {}",
        demo.host_notify_returned
    ));
    checks.say(format_args!(
        "  guest memory.atomic.wait32 returned -> {} (0 = ok)",
        demo.guest_wait_code
    ));
    checks.equal(
        "the host's wait was queued on guest memory",
        demo.was_async,
        true,
    );
    checks.equal(
        "the guest's notify woke the host task",
        demo.host_result,
        WaitResult::Ok,
    );
    checks.equal(
        "the guest's notify counted the host waiter",
        demo.guest_notify_returned,
        1,
    );
    checks.equal(
        "the host's notify woke the guest",
        demo.host_notify_returned,
        1,
    );
    checks.equal("the guest's wait returned ok (0)", demo.guest_wait_code, 0);
    checks.equal("no waiter left", demo.waiters_left, 0);
    Ok(())
}
