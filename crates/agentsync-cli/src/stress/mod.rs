//! `agentsync stress`: every layer's invariant stress, for `--seconds N`, with a live progress
//! line, and a clear report (and a non-zero exit) on any violation.
//!
//! The run is split evenly between [`Section`]s, one per layer. Each section drives threads and
//! tasks for its share of the time, then stops them, lets them drain, and checks its
//! invariants. Add a layer by writing a `fn(&Budget) -> Vec<String>` and listing it in
//! [`sections`].

mod facade;
mod futex;
mod js;
mod primitives;
mod queue;
mod wasi;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::CliError;

/// `agentsync stress` arguments.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// How long to run, in seconds, split evenly between the sections.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub seconds: u64,
    /// Run only these sections (repeat the flag for several); all of them by default.
    #[arg(long = "section", value_name = "NAME",
          value_parser = clap::builder::PossibleValuesParser::new(section_names()))]
    pub sections: Vec<String>,
}

/// The names `--section` accepts.
fn section_names() -> Vec<&'static str> {
    sections().iter().map(|s| s.name).collect()
}

/// What the threads and tasks of a section have done; shown live, checked at the end.
#[derive(Debug, Default)]
pub struct Counters {
    /// Every operation: waits, notifies, lock acquisitions, ….
    pub ops: AtomicU64,
    /// Waits started (blocking and async).
    pub waits: AtomicU64,
    /// Notify calls.
    pub notifies: AtomicU64,
    /// The sum of what notify returned.
    pub woken: AtomicU64,
    /// Waits that ended `ok` (including a `Some(Ok)` from `WaitFuture::cancel`).
    pub oks: AtomicU64,
    /// Waits that ended `not-equal`.
    pub not_equal: AtomicU64,
    /// Waits that ended `timed-out`.
    pub timeouts: AtomicU64,
    /// Async waits withdrawn before any result.
    pub cancellations: AtomicU64,
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let get = |counter: &AtomicU64| counter.load(Relaxed);
        write!(
            f,
            "ops {}  waits {}  notifies {} (woke {})  ok {}  not-equal {}  timeouts {}  cancellations {}",
            get(&self.ops),
            get(&self.waits),
            get(&self.notifies),
            get(&self.woken),
            get(&self.oks),
            get(&self.not_equal),
            get(&self.timeouts),
            get(&self.cancellations),
        )
    }
}

/// What a section is given: when to stop, and where to count.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Stop starting new work at this instant.
    pub until: Instant,
    /// The section's counters (fresh for each section).
    pub counters: Arc<Counters>,
}

/// One layer's stress.
#[derive(Clone, Copy)]
pub struct Section {
    /// `futex`, `facade`, `primitives`, `queue`, `js`, `wasi`.
    pub name: &'static str,
    /// What it runs and what it checks.
    pub what: &'static str,
    /// Runs until `budget.until`, then drains and returns every violation found (empty: clean).
    pub run: fn(&Budget) -> Vec<String>,
}

/// Every section, in order. Later layers append theirs.
pub fn sections() -> Vec<Section> {
    vec![
        futex::SECTION,
        facade::SECTION,
        primitives::SECTION,
        queue::SECTION,
        js::SECTION,
        wasi::SECTION,
    ]
}

/// `agentsync stress`.
pub fn run(args: &StressArgs) -> Result<(), CliError> {
    let sections: Vec<Section> = sections()
        .into_iter()
        .filter(|s| args.sections.is_empty() || args.sections.iter().any(|n| n == s.name))
        .collect();
    let share = Duration::from_secs(args.seconds) / sections.len() as u32;
    let mut report = Vec::new();
    for section in &sections {
        say!("stress [{}] {} for {share:?}", section.name, section.what)?;
        let budget = Budget {
            until: Instant::now() + share,
            counters: Arc::new(Counters::default()),
        };
        let violations = with_progress(section.name, &budget, share, || (section.run)(&budget));
        say!("  {}", budget.counters)?;
        if violations.is_empty() {
            say!("  invariants held")?;
        } else {
            for violation in &violations {
                say!("  VIOLATION: {violation}")?;
            }
            report.extend(
                violations
                    .into_iter()
                    .map(|v| format!("[{}] {v}", section.name)),
            );
        }
    }
    if report.is_empty() {
        say!("stress: all sections passed")?;
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "stress found {} violation(s):\n  {}",
            report.len(),
            report.join("\n  ")
        )))
    }
}

/// Runs `work` while a progress line shows the counters (on a terminal; hidden otherwise).
fn with_progress<R>(name: &str, budget: &Budget, share: Duration, work: impl FnOnce() -> R) -> R {
    let bar = ProgressBar::new(share.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:20}] {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("[{name}]"));
    let start = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (result, ()) = std::thread::scope(|scope| {
        let ticker = scope.spawn(|| {
            while !done.load(Relaxed) {
                bar.set_position(start.elapsed().as_millis().min(share.as_millis()) as u64);
                bar.set_message(budget.counters.to_string());
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let result = work();
        done.store(true, Relaxed);
        (result, ticker.join().unwrap_or(()))
    });
    bar.finish_and_clear();
    result
}

/// What every section's workers share besides their own state: when to stop, and the
/// violations found on the way.
#[derive(Debug, Default)]
pub struct Referee {
    stop: std::sync::atomic::AtomicBool,
    violations: std::sync::Mutex<Vec<String>>,
}

impl Referee {
    /// Whether the workers should stop starting new work.
    pub fn stopping(&self) -> bool {
        // Acquire: pairs with the Release store in `stop`.
        self.stop.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Tells the workers to stop.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Records a violation.
    pub fn violate(&self, violation: String) {
        if let Ok(mut violations) = self.violations.lock() {
            violations.push(violation);
        }
    }

    /// The violations recorded so far.
    pub fn violations(&self) -> Vec<String> {
        self.violations
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

/// The one-page shared memory a section places its words in.
pub fn one_page_memory() -> Result<std::sync::Arc<agentsync::memory::SharedMemory>, String> {
    agentsync::memory::SharedMemory::new(1, 1)
        .map_err(|error| format!("cannot create the shared memory: {error}"))
}

/// The tokio runtime the sections' async workers run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start a tokio runtime: {error}"))
}
