//! Bench output: the table, the JSON file and the SVG plot of ratios.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};

use plotters::prelude::*;
use serde::Serialize;

use super::{median, Config, Sample, AGENTSYNC};

/// One implementation's results in one scenario.
#[derive(Clone, Debug)]
pub struct Row {
    /// The implementation's name.
    pub name: &'static str,
    /// One value per round, in round order.
    pub runs: Vec<f64>,
    /// The median of `runs`; `None` when skipped.
    pub median: Option<f64>,
    /// The note of the last round, if any.
    pub note: Option<String>,
    /// Why it did not run.
    pub skipped: Option<String>,
}

impl Row {
    /// Summarises the rounds of one implementation.
    pub fn new(name: &'static str, samples: Vec<Sample>, skipped: Option<String>) -> Self {
        let runs: Vec<f64> = samples.iter().map(|s| s.value).collect();
        Row {
            name,
            median: median(&runs),
            note: samples.iter().rev().find_map(|s| s.note.clone()),
            runs,
            skipped,
        }
    }
}

/// The results of one scenario.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    /// Its name.
    pub scenario: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// What it measures.
    pub what: String,
    /// agentsync first, then the peers.
    pub rows: Vec<Row>,
    /// What agentsync's ratio to one peer should be, if the scenario has a target.
    pub target: Option<Target>,
}

/// A target: agentsync's median at most `at_most` times `peer`'s, in the same run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// The peer the ratio is taken against.
    pub peer: &'static str,
    /// The largest ratio that meets the target.
    pub at_most: f64,
}

/// The peer name of a target taken against the best peer of its row (the lowest median).
pub const BEST: &str = "best peer";

impl Target {
    /// agentsync ≤ `at_most` × `peer`.
    pub const fn new(peer: &'static str, at_most: f64) -> Self {
        Target { peer, at_most }
    }

    /// agentsync ≤ `at_most` × the best peer in the same run, whichever that is.
    pub const fn best(at_most: f64) -> Self {
        Target {
            peer: BEST,
            at_most,
        }
    }
}

/// Whether a run met its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// The ratio is at most the target.
    Met(f64),
    /// The ratio is above the target.
    Missed(f64),
    /// No ratio: agentsync or the peer has no figure (skipped).
    NotJudged,
}

impl ScenarioReport {
    /// agentsync's median divided by `row`'s: below 1 agentsync is better (all units are "lower
    /// is better").
    pub fn ratio(&self, row: &Row) -> Option<f64> {
        let ours = self.rows.iter().find(|r| r.name == AGENTSYNC)?.median?;
        let theirs = row.median?;
        (theirs > 0.0).then(|| ours / theirs)
    }

    /// The row a target is taken against: the named peer, or for [`BEST`] the peer with the
    /// lowest median.
    pub fn target_row(&self, target: &Target) -> Option<&Row> {
        if target.peer == BEST {
            self.rows
                .iter()
                .filter(|row| row.name != AGENTSYNC && row.median.is_some())
                .min_by(|a, b| {
                    a.median
                        .unwrap_or(f64::MAX)
                        .total_cmp(&b.median.unwrap_or(f64::MAX))
                })
        } else {
            self.rows.iter().find(|row| row.name == target.peer)
        }
    }

    /// Whether this run met the scenario's target (`None` without one).
    pub fn verdict(&self) -> Option<(Target, Verdict)> {
        let target = self.target?;
        let ratio = self.target_row(&target).and_then(|row| self.ratio(row));
        Some((
            target,
            match ratio {
                Some(ratio) if ratio <= target.at_most => Verdict::Met(ratio),
                Some(ratio) => Verdict::Missed(ratio),
                None => Verdict::NotJudged,
            },
        ))
    }
}

/// One line saying whether `report` met its target, for the table.
fn target_line(report: &ScenarioReport) -> Option<String> {
    let (target, verdict) = report.verdict()?;
    let peer = match report.target_row(&target) {
        Some(row) if target.peer == BEST => format!("{BEST} ({})", row.name),
        _ => target.peer.to_string(),
    };
    let goal = format!("agentsync ≤ {:.2}× {peer}", target.at_most);
    let verdict = match verdict {
        Verdict::Met(ratio) => format!("met ({ratio:.3})"),
        Verdict::Missed(ratio) => format!("NOT met ({ratio:.3})"),
        Verdict::NotJudged => format!("not judged ({} has no figure)", target.peer),
    };
    Some(format!("{:<23} target: {goal}: {verdict}", report.scenario))
}

fn format_value(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The text table printed at the end of a run.
pub fn table(reports: &[ScenarioReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<23} {:<13} {:>12} {:<14} {:>10}  note",
        "scenario", "impl", "median", "unit", "agentsync÷"
    );
    let _ = writeln!(out, "{}", "-".repeat(101));
    for report in reports {
        for row in &report.rows {
            let (median, ratio) = match (&row.skipped, row.median) {
                (Some(_), _) | (None, None) => ("skipped".to_string(), "-".to_string()),
                (None, Some(median)) => (
                    format_value(median),
                    match report.ratio(row) {
                        Some(ratio) if row.name != AGENTSYNC => format!("{ratio:.3}"),
                        _ => "-".to_string(),
                    },
                ),
            };
            let note = row.skipped.as_deref().or(row.note.as_deref()).unwrap_or("");
            let line = format!(
                "{:<23} {:<13} {:>12} {:<14} {:>10}  {note}",
                report.scenario, row.name, median, report.unit, ratio
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if let Some(line) = target_line(report) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "\nscenarios:");
    for report in reports {
        let _ = writeln!(out, "  {:<23} {}", report.scenario, report.what);
    }
    out
}

#[derive(Serialize)]
struct JsonFile<'a> {
    mode: &'static str,
    rounds: usize,
    ratio: &'static str,
    machine: &'a Machine,
    /// The last run's rows (the only run without `--repeat`).
    scenarios: Vec<JsonRow<'a>>,
    /// With `--repeat N`: per scenario and peer, the ratio of every run, its median and range.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repeated: Vec<Repeated>,
}

/// What the figures of a run depend on, printed above the table and written in the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// The CPU model, as the OS names it.
    pub cpu: String,
    /// Logical CPUs this process may run on.
    pub cores: usize,
    /// What one `spin_loop()` costs here, as agentsync measured it.
    pub spin_iteration_ns: f64,
    /// The 1-minute load average when the run started (Linux).
    pub load_average_start: Option<f64>,
    /// The 1-minute load average when the run ended (Linux).
    pub load_average_end: Option<f64>,
}

impl Machine {
    /// Reads the machine now (the end load average is filled in by [`Machine::finish`]).
    pub fn read() -> Self {
        Machine {
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            spin_iteration_ns: agentsync::spin::iteration_nanos(),
            load_average_start: load_average(),
            load_average_end: None,
        }
    }

    /// Records the load average at the end of the run.
    pub fn finish(&mut self) {
        self.load_average_end = load_average();
    }

    /// One line for the top of the table.
    pub fn describe(&self) -> String {
        let load = |value: Option<f64>| value.map_or("?".to_string(), |v| format!("{v:.2}"));
        format!(
            "machine: {}, {} logical CPUs, spin_loop() {:.1} ns, load average {} at start, {} at end",
            self.cpu,
            self.cores,
            self.spin_iteration_ns,
            load(self.load_average_start),
            load(self.load_average_end)
        )
    }
}

/// The CPU model from `/proc/cpuinfo` (x86's `model name`, or ARM's `CPU part` line), or the
/// architecture when the OS does not say.
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == key && !value.trim().is_empty()).then(|| value.trim().to_string())
        })
    };
    field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("CPU part").map(|part| format!("ARM CPU part {part}")))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The 1-minute load average (Linux's `/proc/loadavg`).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One scenario's ratio to one peer over the runs of `--repeat N`.
#[derive(Clone, Debug, Serialize)]
pub struct Repeated {
    /// The scenario.
    pub scenario: &'static str,
    /// The peer, or [`BEST`].
    pub peer: &'static str,
    /// agentsync ÷ peer in each run that had both figures.
    pub ratios: Vec<f64>,
    /// Their median, smallest and largest.
    pub median: Option<f64>,
    /// The smallest of `ratios`.
    pub min: Option<f64>,
    /// The largest of `ratios`.
    pub max: Option<f64>,
    /// Whether the median meets the scenario's target, on the target's peer row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<JsonTargetOwned>,
}

/// A target judged on the median ratio of repeated runs.
#[derive(Clone, Debug, Serialize)]
pub struct JsonTargetOwned {
    /// The largest median ratio that meets it.
    pub at_most: f64,
    /// `null` when not judged (no ratio).
    pub met: Option<bool>,
}

/// Summarises the runs of `--repeat N` (each a list of scenario reports in the same order):
/// per scenario and peer, the ratios of the runs. A [`BEST`] target adds a row of its own,
/// against whichever peer was best in each run.
pub fn repeated(runs: &[Vec<ScenarioReport>]) -> Vec<Repeated> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, report) in first.iter().enumerate() {
        let of_runs = || runs.iter().filter_map(move |run| run.get(index));
        let mut peers: Vec<&'static str> = report
            .rows
            .iter()
            .map(|row| row.name)
            .filter(|name| *name != AGENTSYNC)
            .collect();
        if report.target.is_some_and(|t| t.peer == BEST) {
            peers.push(BEST);
        }
        for peer in peers {
            let ratios: Vec<f64> = of_runs()
                .filter_map(|run| {
                    let row = if peer == BEST {
                        run.target_row(&Target::best(0.0))?
                    } else {
                        run.rows.iter().find(|row| row.name == peer)?
                    };
                    run.ratio(row)
                })
                .collect();
            let median = median(&ratios);
            let target = report
                .target
                .filter(|t| t.peer == peer)
                .map(|t| JsonTargetOwned {
                    at_most: t.at_most,
                    met: median.map(|m| m <= t.at_most),
                });
            out.push(Repeated {
                scenario: report.scenario,
                peer,
                min: ratios.iter().copied().min_by(f64::total_cmp),
                max: ratios.iter().copied().max_by(f64::total_cmp),
                median,
                ratios,
                target,
            });
        }
    }
    out
}

/// The table of `--repeat N`: the median ratio per scenario and peer, with its range.
pub fn repeated_table(rows: &[Repeated], runs: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<23} {:<13} {:>8} {:>17}  target",
        "scenario",
        "peer",
        "median",
        format!("min–max of {runs}")
    );
    let _ = writeln!(out, "{}", "-".repeat(80));
    for row in rows {
        let (median, range) = match (row.median, row.min, row.max) {
            (Some(median), Some(min), Some(max)) => {
                (format!("{median:.3}"), format!("{min:.3}–{max:.3}"))
            }
            _ => ("-".to_string(), "skipped".to_string()),
        };
        let target = match &row.target {
            Some(JsonTargetOwned { at_most, met }) => format!(
                "≤ {at_most:.2}: {}",
                match met {
                    Some(true) => "met",
                    Some(false) => "NOT met",
                    None => "not judged",
                }
            ),
            None => String::new(),
        };
        let line = format!(
            "{:<23} {:<13} {:>8} {:>17}  {target}",
            row.scenario, row.peer, median, range
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[derive(Serialize)]
struct JsonRow<'a> {
    scenario: &'a str,
    #[serde(rename = "impl")]
    implementation: &'a str,
    median: Option<f64>,
    unit: &'a str,
    runs: &'a [f64],
    ratio: Option<f64>,
    note: Option<&'a str>,
    skipped: Option<&'a str>,
    /// On the row of the peer a target is taken against only.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<JsonTarget>,
}

#[derive(Serialize)]
struct JsonTarget {
    /// The largest ratio that meets it.
    at_most: f64,
    /// `null` when not judged (no ratio).
    met: Option<bool>,
}

fn json_target(report: &ScenarioReport, row: &Row) -> Option<JsonTarget> {
    let (target, verdict) = report.verdict()?;
    (report.target_row(&target)?.name == row.name).then_some(JsonTarget {
        at_most: target.at_most,
        met: match verdict {
            Verdict::Met(_) => Some(true),
            Verdict::Missed(_) => Some(false),
            Verdict::NotJudged => None,
        },
    })
}

/// Writes `{"scenarios": [{"scenario", "impl", "median", "unit", "runs", …}]}`.
pub fn write_json(
    file: &mut dyn std::io::Write,
    reports: &[ScenarioReport],
    config: &Config,
    rounds: usize,
    machine: &Machine,
    repeated: Vec<Repeated>,
) -> std::io::Result<()> {
    let scenarios = reports
        .iter()
        .flat_map(|report| {
            report.rows.iter().map(move |row| JsonRow {
                scenario: report.scenario,
                implementation: row.name,
                median: row.median,
                unit: report.unit,
                runs: &row.runs,
                ratio: report.ratio(row),
                note: row.note.as_deref(),
                skipped: row.skipped.as_deref(),
                target: json_target(report, row),
            })
        })
        .collect();
    let document = JsonFile {
        mode: if config.quick { "quick" } else { "full" },
        rounds,
        ratio: "agentsync median / impl median; below 1 agentsync is better",
        machine,
        scenarios,
        repeated,
    };
    let mut writer = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, &document)?;
    writer.write_all(b"\n")?;
    writer.flush()
}

/// Draws one horizontal bar per (scenario, peer): agentsync's ratio on a log scale, 1 marked;
/// returns the SVG document.
pub fn svg(reports: &[ScenarioReport]) -> Result<String, String> {
    let mut document = String::new();
    draw_svg(&mut document, reports)?;
    Ok(document)
}

fn draw_svg(document: &mut String, reports: &[ScenarioReport]) -> Result<(), String> {
    let bars: Vec<(String, f64)> = reports
        .iter()
        .flat_map(|report| {
            report
                .rows
                .iter()
                .filter(|row| row.name != AGENTSYNC)
                .filter_map(move |row| {
                    report
                        .ratio(row)
                        .map(|ratio| (format!("{} vs {}", report.scenario, row.name), ratio))
                })
        })
        .collect();
    let height = 120 + 28 * bars.len().max(1) as u32;
    let root = SVGBackend::with_string(document, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (labels, plot) = root.split_horizontally(300);
    let low = bars.iter().map(|b| b.1).fold(0.5f64, f64::min) / 1.5;
    let high = bars.iter().map(|b| b.1).fold(2.0f64, f64::max) * 1.5;
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            "agentsync ÷ peer (log scale; < 1: agentsync better)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(36)
        .build_cartesian_2d((low..high).log_scale(), 0f64..bars.len().max(1) as f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("ratio")
        .draw()
        .map_err(|e| e.to_string())?;
    for (position, (label, ratio)) in bars.iter().enumerate() {
        // The first scenario at the top, as in the table.
        let index = bars.len() - 1 - position;
        let top = index as f64 + 0.15;
        let bottom = index as f64 + 0.85;
        let colour = if *ratio <= 1.0 {
            RGBColor(46, 139, 87)
        } else {
            RGBColor(200, 60, 50)
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(1.0, top), (*ratio, bottom)],
                colour.filled(),
            )))
            .map_err(|e| e.to_string())?;
        let (_, y) = chart.backend_coord(&(1.0, index as f64 + 0.5));
        labels
            .draw(&Text::new(
                format!("{label}  {ratio:.3}"),
                (8, y - 7),
                ("sans-serif", 13),
            ))
            .map_err(|e| e.to_string())?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, bars.len().max(1) as f64)],
            BLACK.stroke_width(1),
        )))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ours: f64, node: Option<f64>) -> ScenarioReport {
        let node_row = match node {
            Some(value) => Row::new("node", vec![Sample::new(value)], None),
            None => Row::new("node", Vec::new(), Some("node: not found, skipped".into())),
        };
        ScenarioReport {
            scenario: "js_example",
            unit: "ns/op",
            what: String::new(),
            rows: vec![Row::new(AGENTSYNC, vec![Sample::new(ours)], None), node_row],
            target: Some(Target::new("node", 0.5)),
        }
    }

    #[test]
    fn a_target_is_met_only_at_or_below_its_ratio() {
        assert_eq!(
            report(1.0, Some(2.0)).verdict().map(|v| v.1),
            Some(Verdict::Met(0.5))
        );
        let missed = report(3.0, Some(2.0));
        assert_eq!(missed.verdict().map(|v| v.1), Some(Verdict::Missed(1.5)));
        let table = table(&[missed]);
        assert!(table.contains("NOT met (1.500)"), "{table}");
        assert!(!table.contains(": met"), "{table}");
    }

    fn run(ours: f64, peers: &[(&'static str, f64)], target: Target) -> ScenarioReport {
        let mut rows = vec![Row::new(AGENTSYNC, vec![Sample::new(ours)], None)];
        rows.extend(
            peers
                .iter()
                .map(|(name, value)| Row::new(name, vec![Sample::new(*value)], None)),
        );
        ScenarioReport {
            scenario: "sync_example",
            unit: "ns",
            what: String::new(),
            rows,
            target: Some(target),
        }
    }

    #[test]
    fn a_best_peer_target_is_taken_against_the_lowest_median() {
        let report = run(
            6.0,
            &[("raw_futex", 10.0), ("std_park", 5.0)],
            Target::best(1.0),
        );
        assert_eq!(
            report.target_row(&Target::best(1.0)).map(|r| r.name),
            Some("std_park")
        );
        assert_eq!(report.verdict().map(|v| v.1), Some(Verdict::Missed(1.2)));
        assert!(table(&[report]).contains("best peer (std_park): NOT met (1.200)"));
    }

    #[test]
    fn repeated_runs_report_the_median_ratio_and_its_range() {
        let runs: Vec<Vec<ScenarioReport>> = [(1.0, 2.0), (3.0, 2.0), (2.0, 2.0)]
            .iter()
            .map(|&(ours, peer)| vec![run(ours, &[("raw_futex", peer)], Target::best(1.0))])
            .collect();
        let rows = repeated(&runs);
        // One row for the peer and one for the best-peer target.
        assert_eq!(rows.len(), 2);
        let peer = &rows[0];
        assert_eq!((peer.scenario, peer.peer), ("sync_example", "raw_futex"));
        assert_eq!(peer.ratios, [0.5, 1.5, 1.0]);
        assert_eq!(
            (peer.median, peer.min, peer.max),
            (Some(1.0), Some(0.5), Some(1.5))
        );
        assert!(peer.target.is_none());
        let best = &rows[1];
        assert_eq!(best.peer, BEST);
        assert_eq!(best.target.as_ref().and_then(|t| t.met), Some(true));
        let table = repeated_table(&rows, 3);
        assert!(table.contains("0.500–1.500"), "{table}");
        assert!(table.contains("≤ 1.00: met"), "{table}");
    }

    #[test]
    fn the_machine_line_names_the_cpu_and_the_spin_cost() {
        let machine = Machine::read();
        assert!(!machine.cpu.is_empty());
        assert!(machine.cores >= 1);
        assert!(machine.spin_iteration_ns > 0.0);
        assert!(machine.describe().contains("spin_loop()"));
    }

    #[test]
    fn a_skipped_peer_leaves_the_target_not_judged() {
        let skipped = report(1.0, None);
        assert_eq!(skipped.verdict().map(|v| v.1), Some(Verdict::NotJudged));
        assert!(table(&[skipped]).contains("not judged (node has no figure)"));
    }
}
