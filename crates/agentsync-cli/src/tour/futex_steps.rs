//! Tour steps for layer 1, the futex: wait / notify / wait_async keyed by address.

use std::sync::atomic::{
    AtomicI32, AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use agentsync::{
    agent, notify, wait, wait_async, waiter_count, Settled, WaitAsync, WaitError, WaitResult,
};

use super::{Checks, Step};

/// Long enough never to fire on a healthy run; short enough that a lost wake-up fails the step
/// instead of hanging the tour.
const PATIENCE: Duration = Duration::from_secs(5);

/// The futex steps.
pub(super) const STEPS: &[Step] = &[
    Step {
        title: "the three results of a blocking wait",
        what: "wait() is Atomics.wait and Wasm's memory.atomic.wait32: it compares, then sleeps until notify() (memory.atomic.notify) or its timeout",
        run: three_results,
    },
    Step {
        title: "the one-shot handoff",
        what: "a consumer thread sleeps in wait(); the producer publishes 0xBEEF, flips the flag, and notify() wakes it",
        run: handoff,
    },
    Step {
        title: "wait_async on a thread that cannot block",
        what: "Atomics.waitAsync never blocks: not-equal and a zero timeout settle at once; otherwise a future resolves to ok or timed-out",
        run: wait_async_outcomes,
    },
    Step {
        title: "a blocking wait where blocking is not allowed",
        what: "on an agent that cannot block (an event loop), wait() is an error, never a hang",
        run: blocking_wait_error,
    },
    Step {
        title: "one FIFO queue for threads and tasks",
        what: "blocking and async waiters on one word queue together; notify(1) wakes the oldest, whatever its kind",
        run: fifo_order,
    },
    Step {
        title: "an agent notifies its own async waiter",
        what: "a thread that cannot block can wait_async, then publish and notify, and be woken by itself",
        run: self_notify,
    },
    Step {
        title: "the polyfill beside the native path",
        what: "the waitAsync polyfill gives the same results but holds one helper thread per pending wait; the native path holds none",
        run: polyfill_beside_native,
    },
];

/// Polls `condition` until it holds or [`PATIENCE`] runs out.
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// A current-thread tokio runtime: the event loop of a thread that cannot block.
fn event_loop() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

fn three_results(checks: &mut Checks) -> Result<(), String> {
    let word = AtomicI32::new(0);
    let not_equal = wait(&word, 1, None);
    checks.say(format_args!(
        "  wait(word = 0, expected 1)           -> {}",
        show(not_equal)
    ));
    checks.equal(
        "a different value is not-equal (Wasm code 1)",
        not_equal,
        Ok(WaitResult::NotEqual),
    );
    let timed_out = wait(&word, 0, Some(Duration::from_millis(10)));
    checks.say(format_args!(
        "  wait(word = 0, expected 0, 10 ms)    -> {}",
        show(timed_out)
    ));
    checks.equal(
        "nobody notifies: timed-out (Wasm code 2)",
        timed_out,
        Ok(WaitResult::TimedOut),
    );
    let (woken, count) = std::thread::scope(|scope| {
        let sleeper = scope.spawn(|| wait(&word, 0, Some(PATIENCE)));
        let queued = eventually(|| waiter_count(&word) == 1);
        let count = if queued { notify(&word, 1) } else { 0 };
        (
            sleeper
                .join()
                .map_err(|_| "the sleeper panicked".to_string()),
            count,
        )
    });
    let woken = woken?;
    checks.say(format_args!(
        "  wait(word = 0, expected 0) + notify  -> {} (notify returned {count})",
        show(woken)
    ));
    checks.equal(
        "a notify wakes it: ok (Wasm code 0)",
        woken,
        Ok(WaitResult::Ok),
    );
    checks.equal("notify returns how many it woke", count, 1);
    checks.equal(
        "Wasm result codes ok / not-equal / timed-out",
        [WaitResult::Ok, WaitResult::NotEqual, WaitResult::TimedOut].map(WaitResult::wasm_code),
        [0, 1, 2],
    );
    Ok(())
}

fn show(result: Result<WaitResult, WaitError>) -> String {
    match result {
        Ok(result) => format!("\"{result}\""),
        Err(error) => format!("error: {error}"),
    }
}

fn handoff(checks: &mut Checks) -> Result<(), String> {
    const EMPTY: i32 = 0; // nothing published yet
    const FULL: i32 = 1; // payload published
    let flag = AtomicI32::new(EMPTY);
    let payload = AtomicU32::new(0);
    let (consumer, notified) = std::thread::scope(|scope| {
        let consumer = scope.spawn(|| {
            let woke = wait(&flag, EMPTY, Some(PATIENCE));
            // Acquire: pairs with the producer's Release store of FULL.
            let full = flag.load(Acquire) == FULL;
            (woke, full.then(|| payload.load(Relaxed)))
        });
        // Wait until the consumer is really asleep, so the wake-up is the point of the step.
        let asleep = eventually(|| waiter_count(&flag) == 1);
        payload.store(0xBEEF, Relaxed);
        // Release: publishes the payload before the flag.
        flag.store(FULL, Release);
        let notified = notify(&flag, 1);
        (consumer.join(), asleep.then_some(notified))
    });
    let (woke, received) = consumer.map_err(|_| "the consumer panicked".to_string())?;
    match woke {
        Ok(result) => checks.say(format_args!("consumer woke: {result}")),
        Err(error) => checks.say(format_args!("consumer could not wait: {error}")),
    }
    match received {
        Some(value) => checks.say(format_args!("payload: {value:x}")),
        None => checks.say(format_args!("payload: (none)")),
    }
    checks.equal(
        "the consumer was asleep and notify woke exactly it",
        notified,
        Some(1),
    );
    checks.equal("the consumer's wait returned ok", woke, Ok(WaitResult::Ok));
    checks.equal(
        "the consumer read the payload",
        received.map(|v| format!("{v:#x}")),
        Some("0xbeef".to_string()),
    );
    Ok(())
}

fn wait_async_outcomes(checks: &mut Checks) -> Result<(), String> {
    let word = AtomicI32::new(0);
    let runtime = event_loop()?;
    std::thread::scope(|scope| {
        let event_thread = scope.spawn(|| {
            agent::set_can_block(false);
            let mut seen = Vec::new();
            let not_equal = wait_async(&word, 1, None);
            seen.push((
                "wait_async(word = 0, expected 1)",
                not_equal.is_async(),
                not_equal.sync_result(),
            ));
            let zero = wait_async(&word, 0, Some(Duration::ZERO));
            seen.push((
                "wait_async(word = 0, expected 0, 0 ms)",
                zero.is_async(),
                zero.sync_result(),
            ));
            let notified = wait_async(&word, 0, None);
            let notified_async = notified.is_async();
            let ok = runtime.block_on(notified);
            seen.push((
                "wait_async(word = 0, expected 0) + notify",
                notified_async,
                Some(ok),
            ));
            let timer = wait_async(&word, 0, Some(Duration::from_millis(20)));
            let timer_async = timer.is_async();
            let timed_out = runtime.block_on(timer);
            seen.push((
                "wait_async(word = 0, expected 0, 20 ms)",
                timer_async,
                Some(timed_out),
            ));
            (seen, agent::can_block())
        });
        // The notifier: waits until the event thread's async waiter is queued, then wakes it.
        let queued = eventually(|| waiter_count(&word) == 1);
        let woke = notify(&word, 1);
        let (seen, can_block) = event_thread
            .join()
            .map_err(|_| "the event-loop thread panicked".to_string())?;
        checks.equal("the event-loop thread cannot block", can_block, false);
        for (call, is_async, result) in &seen {
            let shown = result.map_or("?", WaitResult::as_str);
            checks.say(format_args!(
                "  {call:<44} -> {{ async: {is_async}, value: \"{shown}\" }}"
            ));
        }
        let want = [
            (false, Some(WaitResult::NotEqual)),
            (false, Some(WaitResult::TimedOut)),
            (true, Some(WaitResult::Ok)),
            (true, Some(WaitResult::TimedOut)),
        ];
        let labels = [
            "not-equal settles at once (async: false)",
            "a zero timeout settles at once as timed-out (async: false)",
            "a queued wait resolves ok when notified (async: true)",
            "a queued wait resolves timed-out by the library's timer (async: true)",
        ];
        for ((label, want), (_, is_async, result)) in labels.iter().zip(want).zip(&seen) {
            checks.equal(label, (*is_async, *result), want);
        }
        checks.equal(
            "the notifier found the async waiter queued and woke it",
            (queued, woke),
            (true, 1),
        );
        Ok(())
    })
}

fn blocking_wait_error(checks: &mut Checks) -> Result<(), String> {
    let word = AtomicI32::new(0);
    let (equal, different, after) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                agent::non_blocking(|| {
                    let started = Instant::now();
                    let equal = wait(&word, 0, None);
                    let different = wait(&word, 1, None);
                    (equal, different, started.elapsed())
                })
            })
            .join()
            .map_err(|_| "the event-loop thread panicked".to_string())
    })?;
    checks.say(format_args!(
        "  wait(word = 0, expected 0, forever)  -> {}",
        show(equal)
    ));
    checks.say(format_args!(
        "  wait(word = 0, expected 1, forever)  -> {}",
        show(different)
    ));
    checks.say(format_args!("  both returned in {after:?}"));
    checks.equal("the wait is an error", equal, Err(WaitError::CannotBlock));
    checks.equal(
        "its message",
        WaitError::CannotBlock.to_string().as_str(),
        "Atomics.wait cannot be called in this context",
    );
    checks.equal(
        "the error comes before the value check",
        different,
        Err(WaitError::CannotBlock),
    );
    checks.equal("nothing was left queued", waiter_count(&word), 0);
    Ok(())
}

fn fifo_order(checks: &mut Checks) -> Result<(), String> {
    let word = AtomicI32::new(0);
    let woken_threads: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    let lock = |m: &Mutex<Vec<&'static str>>| m.lock().map(|v| v.clone()).unwrap_or_default();
    let arrival = [
        "thread A (blocking)",
        "task B (async)",
        "thread C (blocking)",
        "task D (async)",
    ];
    let observed = std::thread::scope(|scope| -> Result<Vec<&str>, String> {
        let sleeper = |name: &'static str| {
            let (word, woken_threads) = (&word, &woken_threads);
            move || {
                let result = wait(word, 0, Some(PATIENCE));
                if let Ok(mut woken) = woken_threads.lock() {
                    woken.push(name);
                }
                result
            }
        };
        let a = scope.spawn(sleeper(arrival[0]));
        if !eventually(|| waiter_count(&word) == 1) {
            return Err("thread A never queued".into());
        }
        let b = wait_async(&word, 0, None)
            .into_future()
            .ok_or("task B settled at once")?;
        let c = scope.spawn(sleeper(arrival[2]));
        if !eventually(|| waiter_count(&word) == 3) {
            return Err("thread C never queued".into());
        }
        let d = wait_async(&word, 0, None)
            .into_future()
            .ok_or("task D settled at once")?;
        checks.say(format_args!(
            "  queued, in this order: {}",
            arrival.join(", ")
        ));
        let mut observed = Vec::new();
        for round in 1..=4 {
            let before_threads = lock(&woken_threads).len();
            let before_tasks = [b.result(), d.result()];
            let count = notify(&word, 1);
            // Async records are decided by the notify itself; a thread reports once it runs.
            let woke = if b.result() != before_tasks[0] {
                Some(arrival[1])
            } else if d.result() != before_tasks[1] {
                Some(arrival[3])
            } else if eventually(|| lock(&woken_threads).len() > before_threads) {
                lock(&woken_threads).last().copied()
            } else {
                None
            };
            checks.say(format_args!(
                "  notify(word, 1) #{round} returned {count}: woke {}",
                woke.unwrap_or("nobody")
            ));
            observed.push(woke.unwrap_or("nobody"));
        }
        let a = a.join().map_err(|_| "thread A panicked")?;
        let c = c.join().map_err(|_| "thread C panicked")?;
        checks.equal(
            "both threads' waits returned ok",
            (a, c),
            (Ok(WaitResult::Ok), Ok(WaitResult::Ok)),
        );
        checks.equal(
            "both tasks' waits resolved ok",
            (b.result(), d.result()),
            (Some(WaitResult::Ok), Some(WaitResult::Ok)),
        );
        Ok(observed)
    })?;
    checks.equal("woken in arrival order", observed, arrival.to_vec());
    checks.equal("nothing left queued", waiter_count(&word), 0);
    Ok(())
}

fn self_notify(checks: &mut Checks) -> Result<(), String> {
    let word = AtomicI32::new(0);
    let runtime = event_loop()?;
    let (queued, count, decided, result) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                agent::non_blocking(|| {
                    let pending = wait_async(&word, 0, None);
                    let queued = pending.is_async();
                    word.store(1, Release);
                    let count = notify(&word, 1);
                    let decided = match &pending {
                        WaitAsync::Async(future) => future.result(),
                        WaitAsync::Sync(result) => Some(*result),
                    };
                    (queued, count, decided, runtime.block_on(pending))
                })
            })
            .join()
            .map_err(|_| "the event-loop thread panicked".to_string())
    })?;
    checks.say(format_args!(
        "  wait_async(word = 0, expected 0)      -> {{ async: {queued} }}"
    ));
    checks.say(format_args!(
        "  store 1, notify(word, 1)              -> {count}"
    ));
    checks.say(format_args!(
        "  the future, before any poll           -> {}",
        decided.map_or("pending", WaitResult::as_str)
    ));
    checks.say(format_args!(
        "  awaited on the same thread            -> \"{result}\""
    ));
    checks.equal("the wait was queued", queued, true);
    checks.equal("the agent's own notify found its waiter", count, 1);
    checks.equal(
        "the result was decided by the notify itself",
        decided,
        Some(WaitResult::Ok),
    );
    checks.equal("awaiting it gives ok, no deadlock", result, WaitResult::Ok);
    Ok(())
}

/// What one path did with a batch of pending waits.
#[derive(Debug, PartialEq)]
struct Batch {
    not_equal: Option<WaitResult>,
    zero_timeout: Option<WaitResult>,
    queued: usize,
    woken: usize,
    ok: usize,
}

const BATCH: usize = 200;

/// `BATCH` pending waits started by `start`, the two synchronous outcomes, notify(all): the
/// same run for the native path and for the polyfill, which return the same `Settled` shape.
fn batch<'w, F>(
    word: &'w AtomicI32,
    start: impl Fn(&'w AtomicI32, i32, Option<Duration>) -> Settled<F>,
) -> (Batch, Duration)
where
    F: std::future::Future<Output = WaitResult> + Unpin,
{
    let started = Instant::now();
    let pending: Vec<F> = (0..BATCH)
        .filter_map(|_| start(word, 0, None).into_future())
        .collect();
    let created = started.elapsed();
    let batch = Batch {
        not_equal: start(word, 1, None).sync_result(),
        zero_timeout: start(word, 0, Some(Duration::ZERO)).sync_result(),
        queued: pending.len(),
        woken: notify(word, usize::MAX),
        ok: pending
            .into_iter()
            .map(futures_lite::future::block_on)
            .filter(|r| *r == WaitResult::Ok)
            .count(),
    };
    (batch, created)
}

fn polyfill_beside_native(checks: &mut Checks) -> Result<(), String> {
    let word = AtomicI32::new(0);
    let helpers_before = agentsync::polyfill::helper_threads();
    let (native_batch, native_created) = batch(&word, agentsync::wait_async);
    let native_helpers = agentsync::polyfill::helper_threads().saturating_sub(helpers_before);
    let (polyfill_batch, polyfill_created) = batch(&word, agentsync::polyfill::wait_async);
    // Helpers outlive their waits (they idle a few seconds), so this counts the ones started.
    let polyfill_helpers = agentsync::polyfill::helper_threads().saturating_sub(helpers_before);

    checks.say(format_args!(
        "  {BATCH} pending waits on one word, then notify(all):"
    ));
    checks.say(format_args!(
        "  path      queued  woken  ok   helper threads  time to queue"
    ));
    for (name, batch, helpers, time) in [
        ("native", &native_batch, native_helpers, native_created),
        (
            "polyfill",
            &polyfill_batch,
            polyfill_helpers,
            polyfill_created,
        ),
    ] {
        checks.say(format_args!(
            "  {name:<9} {:>6} {:>6} {:>4} {:>16} {:>14.2?}",
            batch.queued, batch.woken, batch.ok, helpers, time
        ));
    }
    checks.equal("same results on both paths", &polyfill_batch, &native_batch);
    checks.equal(
        "the native path queued all and woke all ok",
        (native_batch.queued, native_batch.woken, native_batch.ok),
        (BATCH, BATCH, BATCH),
    );
    checks.equal("the native path started no thread", native_helpers, 0);
    checks.check(
        &format!("the polyfill held helper threads ({polyfill_helpers} alive for {BATCH} waits)"),
        polyfill_helpers > 0,
    );
    checks.equal("nothing left queued", waiter_count(&word), 0);
    Ok(())
}
