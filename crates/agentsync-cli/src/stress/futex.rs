//! The futex section: blocking threads, tokio tasks and `futures-lite` threads wait on a few
//! words with random timeouts and random cancellations while notifier threads wake them.
//!
//! The workers reach their words through [`Location`], so the facade section (and any later
//! layer with wait / notify) runs the same workers and checks the same invariants through its
//! own API.
//!
//! Invariants checked at the end (docs/architecture.md, layer 1):
//! - the sum of what `notify` returned equals the number of `ok` results delivered (a
//!   `Some(Ok)` from `WaitFuture::cancel` is a delivered `ok`): no lost or doubled wake-up;
//! - a future never resolves `not-equal`; a blocking wait never errors on a thread that may block;
//! - every waiter wakes once the notifiers drain the words (no lost wake-up);
//! - `waiter_count == 0` on every word and in the whole table afterwards (no leftover waiter).

use std::sync::atomic::{
    AtomicI32, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentsync::{notify, wait, wait_async, waiter_count, WaitAsync, WaitResult};

use super::{Budget, Counters, Referee, Section};

/// The futex section.
pub(super) const SECTION: Section = Section {
    name: "futex",
    what: "wait / wait_async / notify from threads and tasks, random timeouts and cancellations",
    run,
};

/// A word the workers wait on and notify, reached through one layer's API. The word always
/// holds [`HELD`]; a wait expecting [`OTHER`] is a not-equal.
pub(super) trait Location: Send + Sync + 'static {
    /// A blocking wait.
    fn wait(&self, expected: i32, timeout: Option<Duration>) -> Result<WaitResult, String>;
    /// An async wait.
    fn wait_async(
        &self,
        expected: i32,
        timeout: Option<Duration>,
    ) -> Result<WaitAsync<'static>, String>;
    /// Wakes up to `count` waiters; returns how many.
    fn notify(&self, count: usize) -> Result<usize, String>;
    /// Waiters queued on the word now.
    fn queued(&self) -> usize;
    /// How the report names it.
    fn name(&self) -> String;
}

/// The futex section's words: plain `AtomicI32`s.
static WORDS: [AtomicI32; 4] = [const { AtomicI32::new(0) }; 4];

/// One of [`WORDS`], through the futex API itself.
struct Word(usize);

impl Location for Word {
    fn wait(&self, expected: i32, timeout: Option<Duration>) -> Result<WaitResult, String> {
        wait(&WORDS[self.0], expected, timeout).map_err(|e| e.to_string())
    }
    fn wait_async(
        &self,
        expected: i32,
        timeout: Option<Duration>,
    ) -> Result<WaitAsync<'static>, String> {
        Ok(wait_async(&WORDS[self.0], expected, timeout))
    }
    fn notify(&self, count: usize) -> Result<usize, String> {
        Ok(notify(&WORDS[self.0], count))
    }
    fn queued(&self) -> usize {
        waiter_count(&WORDS[self.0])
    }
    fn name(&self) -> String {
        format!("word {}", self.0)
    }
}
const HELD: i32 = 0; // what the words hold
const OTHER: i32 = 1; // a value they never hold

const BLOCKING_THREADS: usize = 2;
const LITE_THREADS: usize = 1;
const TOKIO_TASKS: usize = 16;
const NOTIFIERS: usize = 2;
/// How long waiters may take to wake once notifiers drain the words before it counts as a
/// lost wake-up.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);

/// What the workers share.
struct Shared {
    locations: Vec<Box<dyn Location>>,
    counters: Arc<Counters>,
    referee: Referee,
    /// Waiting workers still running.
    live: AtomicUsize,
}

impl Shared {
    fn record(&self, result: WaitResult) {
        let counters = &self.counters;
        counters.ops.fetch_add(1, Relaxed);
        counters.waits.fetch_add(1, Relaxed);
        match result {
            WaitResult::Ok => &counters.oks,
            WaitResult::NotEqual => &counters.not_equal,
            WaitResult::TimedOut => &counters.timeouts,
        }
        .fetch_add(1, Relaxed);
    }

    fn record_async(&self, result: WaitResult) {
        if result == WaitResult::NotEqual {
            self.violate("a queued async wait resolved not-equal".into());
        }
        self.record(result);
    }

    /// A withdrawn async wait: `None` was still queued; `Some(Ok)` had been notified.
    fn record_cancel(&self, outcome: Option<WaitResult>) {
        match outcome {
            None => {
                self.counters.ops.fetch_add(1, Relaxed);
                self.counters.waits.fetch_add(1, Relaxed);
                self.counters.cancellations.fetch_add(1, Relaxed);
            }
            Some(result) => self.record_async(result),
        }
    }

    /// Starts an async wait through `word`; a failure is recorded as a violation and ends the
    /// worker (`None`).
    fn start_async(
        &self,
        word: &dyn Location,
        expected: i32,
        timeout: Option<Duration>,
    ) -> Option<WaitAsync<'static>> {
        word.wait_async(expected, timeout)
            .map_err(|error| self.violate(format!("wait_async on {} failed: {error}", word.name())))
            .ok()
    }

    /// Notifies through `word`, recording a failure as a violation.
    fn notify(&self, word: &dyn Location, count: usize) -> usize {
        word.notify(count).unwrap_or_else(|error| {
            self.violate(format!("notify on {} failed: {error}", word.name()));
            0
        })
    }

    fn violate(&self, violation: String) {
        self.referee.violate(violation);
    }

    fn stopping(&self) -> bool {
        self.referee.stopping()
    }
}

/// Counts a waiting worker as live until dropped.
struct Live<'a>(&'a AtomicUsize);

impl<'a> Live<'a> {
    fn enter(live: &'a AtomicUsize) -> Self {
        live.fetch_add(1, Relaxed);
        Live(live)
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Release);
    }
}

fn pick<'a>(
    shared: &'a Shared,
    rng: &mut fastrand::Rng,
) -> (&'a dyn Location, i32, Option<Duration>) {
    let word = &*shared.locations[rng.usize(..shared.locations.len())];
    let expected = if rng.u8(..20) == 0 { OTHER } else { HELD };
    let timeout = match rng.u8(..10) {
        0..=2 => None,
        3 => Some(Duration::ZERO),
        _ => Some(Duration::from_micros(rng.u64(50..2_000))),
    };
    (word, expected, timeout)
}

fn blocking_worker(shared: Arc<Shared>, seed: u64) {
    let _live = Live::enter(&shared.live);
    let mut rng = fastrand::Rng::with_seed(seed);
    while !shared.stopping() {
        let (word, expected, timeout) = pick(&shared, &mut rng);
        match word.wait(expected, timeout) {
            Ok(result) => shared.record(result),
            Err(error) => {
                shared.violate(format!(
                    "a blocking wait on a thread that may block failed: {error}"
                ));
                return;
            }
        }
    }
}

/// Polls once, dawdles, then withdraws; or simply blocks on the future.
fn lite_worker(shared: Arc<Shared>, seed: u64) {
    let _live = Live::enter(&shared.live);
    let mut rng = fastrand::Rng::with_seed(seed);
    while !shared.stopping() {
        let (word, expected, timeout) = pick(&shared, &mut rng);
        let Some(outcome) = shared.start_async(word, expected, timeout) else {
            return;
        };
        match outcome {
            WaitAsync::Sync(result) => shared.record(result),
            WaitAsync::Async(mut future) if rng.bool() => {
                match futures_lite::future::block_on(futures_lite::future::poll_once(&mut future)) {
                    Some(result) => shared.record_async(result),
                    None => {
                        for _ in 0..rng.u32(..50) {
                            std::thread::yield_now();
                        }
                        shared.record_cancel(future.cancel());
                    }
                }
            }
            WaitAsync::Async(future) => shared.record_async(futures_lite::future::block_on(future)),
        }
    }
}

async fn tokio_worker(shared: Arc<Shared>, seed: u64) {
    let _live = Live::enter(&shared.live);
    let mut rng = fastrand::Rng::with_seed(seed);
    while !shared.stopping() {
        let (word, expected, timeout) = pick(&shared, &mut rng);
        let Some(outcome) = shared.start_async(word, expected, timeout) else {
            return;
        };
        match outcome {
            WaitAsync::Sync(result) => {
                shared.record(result);
                tokio::task::yield_now().await;
            }
            WaitAsync::Async(mut future) if rng.u8(..3) == 0 => {
                let patience = Duration::from_micros(rng.u64(10..500));
                match tokio::time::timeout(patience, &mut future).await {
                    Ok(result) => shared.record_async(result),
                    Err(_) => shared.record_cancel(future.cancel()),
                }
            }
            WaitAsync::Async(future) => shared.record_async(future.await),
        }
    }
}

fn notifier(shared: Arc<Shared>, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !shared.stopping() {
        let word = &shared.locations[rng.usize(..shared.locations.len())];
        let count = [1, 1, 2, usize::MAX][rng.usize(..4)];
        let woke = shared.notify(&**word, count);
        shared.counters.woken.fetch_add(woke as u64, Relaxed);
        shared.counters.notifies.fetch_add(1, Relaxed);
        shared.counters.ops.fetch_add(1, Relaxed);
        if rng.u8(..4) == 0 {
            std::thread::sleep(Duration::from_micros(50));
        } else {
            std::thread::yield_now();
        }
    }
}

/// Everything a run started, to be stopped and joined.
struct Crew {
    runtime: tokio::runtime::Runtime,
    waiters: Vec<std::io::Result<std::thread::JoinHandle<()>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    notifiers: Vec<std::io::Result<std::thread::JoinHandle<()>>>,
}

fn spawn_thread(
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("stress-{name}"))
        .spawn(work)
}

/// Starts the waiting threads and tasks and the notifiers.
fn start(shared: &Arc<Shared>, seed: u64) -> std::io::Result<Crew> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut waiters = Vec::new();
    for i in 0..BLOCKING_THREADS as u64 {
        let shared = Arc::clone(shared);
        waiters.push(spawn_thread("blocking", move || {
            blocking_worker(shared, seed ^ i)
        }));
    }
    for i in 0..LITE_THREADS as u64 {
        let shared = Arc::clone(shared);
        waiters.push(spawn_thread("lite", move || {
            lite_worker(shared, seed ^ (100 + i))
        }));
    }
    let tasks = (0..TOKIO_TASKS as u64)
        .map(|i| runtime.spawn(tokio_worker(Arc::clone(shared), seed ^ (200 + i))))
        .collect();
    let notifiers = (0..NOTIFIERS as u64)
        .map(|i| {
            let shared = Arc::clone(shared);
            spawn_thread("notifier", move || notifier(shared, seed ^ (300 + i)))
        })
        .collect();
    Ok(Crew {
        runtime,
        waiters,
        tasks,
        notifiers,
    })
}

/// Wakes whoever still sleeps until every waiting worker has left its loop. `Err` names the
/// workers that never woke: a lost wake-up.
fn drain(shared: &Shared) -> Result<(), String> {
    let started = Instant::now();
    while shared.live.load(Acquire) > 0 {
        if started.elapsed() > DRAIN_PATIENCE {
            return Err(format!(
                "lost wake-up: {} waiting worker(s) still asleep {DRAIN_PATIENCE:?} after the words were drained",
                shared.live.load(Acquire)
            ));
        }
        for word in &shared.locations {
            let woke = shared.notify(&**word, usize::MAX);
            shared.counters.woken.fetch_add(woke as u64, Relaxed);
            shared.counters.notifies.fetch_add(1, Relaxed);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Joins every waiting thread and task; returns what went wrong with them.
fn join(crew: Crew) -> Vec<String> {
    let mut failures = Vec::new();
    for handle in crew.waiters {
        match handle {
            Ok(handle) => {
                if handle.join().is_err() {
                    failures.push("a waiting thread panicked".into());
                }
            }
            Err(error) => failures.push(format!("cannot start a thread: {error}")),
        }
    }
    crew.runtime.block_on(async {
        for task in crew.tasks {
            if let Err(error) = task.await {
                failures.push(format!("a tokio task failed: {error}"));
            }
        }
    });
    failures
}

fn run(budget: &Budget) -> Vec<String> {
    run_on(
        budget,
        (0..WORDS.len())
            .map(|i| Box::new(Word(i)) as Box<dyn Location>)
            .collect(),
    )
}

/// Runs the workers on `locations` until the budget is spent, drains, and checks.
pub(super) fn run_on(budget: &Budget, locations: Vec<Box<dyn Location>>) -> Vec<String> {
    let shared = Arc::new(Shared {
        locations,
        counters: Arc::clone(&budget.counters),
        referee: Referee::default(),
        live: AtomicUsize::new(0),
    });
    let mut crew = match start(&shared, fastrand::u64(..)) {
        Ok(crew) => crew,
        Err(error) => return vec![format!("cannot start the workers: {error}")],
    };
    std::thread::sleep(budget.until.saturating_duration_since(Instant::now()));
    shared.referee.stop();
    for handle in crew.notifiers.drain(..).flatten() {
        let _ = handle.join();
    }
    if let Err(lost) = drain(&shared) {
        // The sleepers cannot be joined; the runtime is abandoned with them.
        crew.runtime.shutdown_background();
        return vec![lost];
    }
    let mut failures = join(crew);
    failures.extend(shared.referee.violations());
    failures.extend(check_counts(&budget.counters, &shared.locations));
    failures
}

/// The end-of-run invariants: counts add up, nothing left queued.
fn check_counts(counters: &Counters, locations: &[Box<dyn Location>]) -> Vec<String> {
    let mut failures = Vec::new();
    let get = |counter: &AtomicU64| counter.load(Relaxed);
    let (woken, oks) = (get(&counters.woken), get(&counters.oks));
    if woken != oks {
        failures.push(format!(
            "count mismatch: notify returned {woken} in total but {oks} waits received ok"
        ));
    }
    for word in locations {
        let left = word.queued();
        if left != 0 {
            failures.push(format!(
                "leftover waiter: {left} still queued on {}",
                word.name()
            ));
        }
    }
    let total = agentsync::total_waiters();
    if total != 0 {
        failures.push(format!(
            "leftover waiter: {total} still queued in the whole table"
        ));
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_counts_reports_a_count_mismatch() {
        let counters = Counters::default();
        counters.woken.store(3, Relaxed);
        counters.oks.store(2, Relaxed);
        let failures = check_counts(&counters, &[]);
        assert!(
            failures.iter().any(|f| f.contains("count mismatch")
                && f.contains("returned 3")
                && f.contains("2 waits")),
            "{failures:?}"
        );
    }

    #[test]
    fn check_counts_reports_a_leftover_waiter() {
        let words: Vec<Box<dyn Location>> = vec![Box::new(Word(2))];
        let pending = wait_async(&WORDS[2], HELD, None);
        let failures = check_counts(&Counters::default(), &words);
        drop(pending);
        assert!(
            failures
                .iter()
                .any(|f| f.contains("leftover waiter: 1 still queued on word 2")),
            "{failures:?}"
        );
        // Other tests of this process may be waiting elsewhere; word 2 is this test's alone.
        assert!(!check_counts(&Counters::default(), &words)
            .iter()
            .any(|f| f.contains("word 2")));
    }
}
