//! `agentsync bench`: agentsync against the systems people would otherwise use, side by side.
//!
//! Every scenario runs each of its implementations in the same process, alternating within a
//! round (forwards on even rounds, backwards on odd ones, so neither side always runs warm), for
//! several rounds; the median of the rounds is reported, with agentsync's ratio to each peer.
//! All units are "lower is better".

mod emscripten;
mod js;
mod locks;
mod node;
mod pingpong;
mod primitives;
mod report;
mod timeouts;
mod waiters;
mod wasi;
mod wasm;
pub mod wasm_pingpong;

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::CliError;

pub use locks::{AgentsyncMutex, AGENTSYNC_MUTEX_NOTE};
pub use report::{Machine, Repeated, Row, ScenarioReport, Target, BEST};

/// `agentsync bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run (under a minute): fewer rounds, fewer operations, fewer waiters.
    #[arg(long)]
    pub quick: bool,
    /// Run only this scenario (repeatable). Unknown names are rejected with the list of valid ones.
    #[arg(long = "scenario", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(scenario_names()))]
    pub scenarios: Vec<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw agentsync's ratio to each peer as an SVG bar chart in this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// List the scenarios, their units and implementations, and exit.
    #[arg(long)]
    pub list: bool,
    /// Rounds per scenario (default 5, or 3 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: Option<u32>,
    /// Run the whole selection N times and report, per scenario and peer, the median ratio of
    /// the N runs and its min–max (targets are judged on the median).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub repeat: u32,
}

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// `--quick`: small counts.
    pub quick: bool,
}

impl Config {
    /// `full` normally, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// One round's figure for one implementation.
#[derive(Clone, Debug)]
pub struct Sample {
    /// In the scenario's unit.
    pub value: f64,
    /// What else is worth knowing (counts, p99, what is included).
    pub note: Option<String>,
}

impl Sample {
    /// A figure without a note.
    pub fn new(value: f64) -> Self {
        Sample { value, note: None }
    }

    /// A figure with a note.
    pub fn noted(value: f64, note: impl Into<String>) -> Self {
        Sample {
            value,
            note: Some(note.into()),
        }
    }
}

/// What one run of an implementation gave.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A figure.
    Measured(Sample),
    /// Cannot run here (no `node` on PATH, not Linux); the reason goes in the table.
    Skipped(String),
}

/// One implementation of a scenario. `run` does one round; `Err` means it ran and went wrong
/// (a count did not add up), which fails the whole bench.
#[derive(Clone, Copy)]
pub struct Impl {
    /// `agentsync`, `std`, `parking_lot`, `raw_futex`, `node`, ….
    pub name: &'static str,
    /// One round.
    pub run: fn(&Config) -> Result<Outcome, String>,
}

/// A scenario: what is measured, in which unit, and by whom. The first implementation is
/// agentsync's; ratios are agentsync's median divided by each peer's.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// The name used by `--scenario` and in the JSON.
    pub name: &'static str,
    /// `ns/op`, `ns/round-trip`, `bytes/waiter`, `µs lateness`.
    pub unit: &'static str,
    /// One line: what is measured, with the counts the run uses (`--quick` runs fewer).
    pub what: fn(&Config) -> String,
    /// agentsync first, then the peers.
    pub impls: &'static [Impl],
}

/// Pending waiters of the waiter scenarios, for the native path and for Node (a parameter both
/// `waiters` and `node` read, so it lives here rather than in either).
pub(crate) const NATIVE_WAITERS: usize = 100_000;

/// The number a benchmark program printed after `label` on a line of its stderr (the WASI and
/// Emscripten programs measure themselves and print their figure there).
pub(crate) fn printed_figure(stderr: &str, label: &str) -> Result<f64, String> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("printed no {label:?} line (stderr: {stderr:?})"))
}

/// Counts as a program's arguments.
pub(crate) fn arguments(counts: &[usize]) -> Vec<String> {
    counts.iter().map(ToString::to_string).collect()
}

/// The name agentsync's own implementation carries in every scenario.
pub const AGENTSYNC: &str = "agentsync";

/// Every scenario, in the order they run and print.
pub fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend_from_slice(locks::SCENARIOS);
    all.extend_from_slice(primitives::SCENARIOS);
    all.extend_from_slice(pingpong::SCENARIOS);
    all.extend_from_slice(waiters::SCENARIOS);
    all.extend_from_slice(timeouts::SCENARIOS);
    all.extend_from_slice(wasm::SCENARIOS);
    all.extend_from_slice(wasi::SCENARIOS);
    all.extend_from_slice(js::SCENARIOS);
    all.extend_from_slice(js::AGENT_SCENARIOS);
    all.extend_from_slice(emscripten::SCENARIOS);
    all
}

/// The targets of the core scenarios: at most as slow as the best peer people would use
/// instead, and the blocking path alone within 5 % of the raw futex.
const CORE_TARGETS: &[(&str, Target)] = &[
    ("contended_counter_2t", Target::new("parking_lot", 1.0)),
    ("contended_counter_4t", Target::new("parking_lot", 1.0)),
    ("contended_counter_8t", Target::new("parking_lot", 1.0)),
    ("rwlock_read_mostly_4t", Target::new("parking_lot", 1.0)),
    ("queue_throughput", Target::new("crossbeam", 1.0)),
    ("queue_4p4c", Target::new("crossbeam", 1.0)),
    ("sync_pingpong", Target::best(1.0)),
    ("sync_pingpong_parked", Target::new("raw_futex", 1.05)),
    ("sync_pingpong_loaded", Target::best(1.0)),
    ("thread_task_pingpong", Target::new("tokio_notify", 1.0)),
];

/// The target a scenario has, if any: agentsync's median at most so many times a peer's.
pub fn target(scenario: &str) -> Option<Target> {
    CORE_TARGETS
        .iter()
        .chain(js::TARGETS)
        .chain(wasi::TARGETS)
        .chain(emscripten::TARGETS)
        .find(|(name, _)| *name == scenario)
        .map(|(_, target)| *target)
}

/// The names `--scenario` accepts.
pub fn scenario_names() -> Vec<&'static str> {
    scenarios().iter().map(|s| s.name).collect()
}

/// Checks before the run that an output file can be written, so a bad path is a usage error
/// found in a millisecond rather than after minutes of measuring. Nothing is left behind:
/// the file itself is only written at the end of a successful run ([`write_output`]).
fn check_output(path: &Path, flag: &str) -> Result<(), CliError> {
    crate::outfile::check_writable(path).map_err(|error| {
        CliError::Usage(format!(
            "cannot write {flag} output to {}: {error}",
            path.display()
        ))
    })
}

/// Writes an output file as [`crate::outfile`] says: a regular file whole or not at all, a
/// symlink's target, a FIFO or device as it is; a write error fails the command.
fn write_output(
    path: &Path,
    what: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    crate::outfile::write_file(path, write).map_err(|error| {
        CliError::Failed(format!("cannot write {what} {}: {error}", path.display()))
    })
}

/// `agentsync bench`.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let config = Config { quick: args.quick };
    if args.list {
        for scenario in scenarios() {
            let impls: Vec<&str> = scenario.impls.iter().map(|i| i.name).collect();
            say!(
                "{:<23} {:<14} {}",
                scenario.name,
                scenario.unit,
                impls.join(", ")
            )?;
            say!("{:<23} {}", "", (scenario.what)(&config))?;
        }
        return Ok(());
    }
    if let Some(plot) = &args.plot {
        if plot.extension().and_then(|e| e.to_str()) != Some("svg") {
            return Err(CliError::Usage(format!(
                "--plot writes SVG; give a file name ending in .svg, not {}",
                plot.display()
            )));
        }
    }
    if let Some(json) = &args.json {
        check_output(json, "--json")?;
    }
    if let Some(plot) = &args.plot {
        check_output(plot, "--plot")?;
    }
    let rounds = args.rounds.unwrap_or(config.pick(5, 3)) as usize;
    let selected: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.iter().any(|n| n == s.name))
        .collect();

    let repeat = args.repeat as usize;
    let total: usize = selected
        .iter()
        .map(|s| s.impls.len() * rounds)
        .sum::<usize>()
        * repeat;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} {prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut machine = Machine::read();
    let mut runs = Vec::with_capacity(repeat);
    for run in 0..repeat {
        let mut reports = Vec::new();
        for scenario in &selected {
            if repeat > 1 {
                bar.set_prefix(format!("run {}/{repeat}", run + 1));
            }
            reports.push(run_scenario(scenario, &config, rounds, &bar)?);
        }
        runs.push(reports);
    }
    bar.finish_and_clear();
    machine.finish();

    let mode = if args.quick { "quick" } else { "full" };
    let reports = runs.last().cloned().unwrap_or_default();
    say!("{}", machine.describe())?;
    let repeated = if repeat > 1 {
        report::repeated(&runs)
    } else {
        Vec::new()
    };
    if repeat > 1 {
        say!(
            "agentsync bench ({mode}, {repeat} runs of {rounds} round(s) each; per run the median of its rounds; ratio = agentsync ÷ peer, lower is better for agentsync)"
        )?;
        crate::output::text(&report::repeated_table(&repeated, repeat))?;
        say!("\nthe last run:")?;
    } else {
        say!(
            "agentsync bench ({mode}, {rounds} round(s), median; ratio = agentsync ÷ peer, lower is better for agentsync)"
        )?;
    }
    crate::output::text(&report::table(&reports))?;
    // Written only now, after a successful run: a failed run leaves no partial file.
    if let Some(path) = &args.json {
        write_output(path, "JSON to", |file| {
            report::write_json(file, &reports, &config, rounds, &machine, repeated)
        })?;
        say!("wrote {}", path.display())?;
    }
    if let Some(path) = &args.plot {
        let document = report::svg(&reports).map_err(|e| {
            CliError::Failed(format!("cannot draw the plot {}: {e}", path.display()))
        })?;
        write_output(path, "the plot", |file| file.write_all(document.as_bytes()))?;
        say!("wrote {}", path.display())?;
    }
    Ok(())
}

/// Runs one scenario: `rounds` rounds, implementations alternating, median per implementation.
fn run_scenario(
    scenario: &Scenario,
    config: &Config,
    rounds: usize,
    bar: &ProgressBar,
) -> Result<ScenarioReport, CliError> {
    let count = scenario.impls.len();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); count];
    let mut skipped: Vec<Option<String>> = vec![None; count];
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..count).collect()
        } else {
            (0..count).rev().collect()
        };
        for index in order {
            let implementation = &scenario.impls[index];
            bar.set_message(format!(
                "{} · {} · round {}/{rounds}",
                scenario.name,
                implementation.name,
                round + 1
            ));
            if skipped[index].is_none() {
                match (implementation.run)(config) {
                    Ok(Outcome::Measured(sample)) => samples[index].push(sample),
                    Ok(Outcome::Skipped(reason)) => skipped[index] = Some(reason),
                    Err(error) => {
                        bar.abandon();
                        return Err(CliError::Failed(format!(
                            "{} / {} failed: {error}",
                            scenario.name, implementation.name
                        )));
                    }
                }
            }
            bar.inc(1);
        }
    }
    let rows = scenario
        .impls
        .iter()
        .zip(samples)
        .zip(skipped)
        .map(|((implementation, samples), skipped)| Row::new(implementation.name, samples, skipped))
        .collect();
    Ok(ScenarioReport {
        scenario: scenario.name,
        unit: scenario.unit,
        what: (scenario.what)(config),
        rows,
        target: target(scenario.name),
    })
}

/// Attaches `note` to a measured outcome (a skip keeps its own reason).
pub(crate) fn noted(outcome: Result<Outcome, String>, note: &str) -> Result<Outcome, String> {
    outcome.map(|o| match o {
        Outcome::Measured(sample) => Outcome::Measured(Sample::noted(sample.value, note)),
        skipped => skipped,
    })
}

/// A count with thousands separators, as the descriptions write them: `100,000`.
pub(crate) fn thousands(count: usize) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Nanoseconds per operation.
pub(crate) fn ns_per(elapsed: std::time::Duration, operations: usize) -> f64 {
    elapsed.as_nanos() as f64 / operations.max(1) as f64
}

/// The median of a non-empty list (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    })
}

/// The `p`-th percentile (0–100) of a non-empty sorted list, nearest rank.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn thousands_separates_groups_of_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(500), "500");
        assert_eq!(thousands(2_000), "2,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn percentile_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile_sorted(&sorted, 50.0), Some(50.0));
        assert_eq!(percentile_sorted(&sorted, 99.0), Some(99.0));
        assert_eq!(percentile_sorted(&sorted, 0.0), Some(1.0));
    }

    #[test]
    fn every_core_target_names_a_scenario_and_one_of_its_peers() {
        for (name, target) in CORE_TARGETS {
            let scenario = scenarios().into_iter().find(|s| s.name == *name);
            let scenario = scenario.unwrap_or_else(|| panic!("no scenario {name}"));
            assert!(
                target.peer == BEST || scenario.impls.iter().skip(1).any(|i| i.name == target.peer),
                "{name}: {}",
                target.peer
            );
        }
    }

    #[test]
    fn scenario_names_are_unique_and_agentsync_comes_first() {
        let names = scenario_names();
        let mut deduped = names.clone();
        deduped.sort();
        deduped.dedup();
        assert_eq!(names.len(), deduped.len());
        for scenario in scenarios() {
            assert_eq!(scenario.impls[0].name, AGENTSYNC, "{}", scenario.name);
        }
    }
}
