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

impl Target {
    /// agentsync ≤ `at_most` × `peer`.
    pub const fn new(peer: &'static str, at_most: f64) -> Self {
        Target { peer, at_most }
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

    /// Whether this run met the scenario's target (`None` without one).
    pub fn verdict(&self) -> Option<(Target, Verdict)> {
        let target = self.target?;
        let ratio = self
            .rows
            .iter()
            .find(|row| row.name == target.peer)
            .and_then(|row| self.ratio(row));
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
    let goal = format!("agentsync ≤ {:.1}× {}", target.at_most, target.peer);
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
    scenarios: Vec<JsonRow<'a>>,
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
    (target.peer == row.name).then_some(JsonTarget {
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
        scenarios,
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

    #[test]
    fn a_skipped_peer_leaves_the_target_not_judged() {
        let skipped = report(1.0, None);
        assert_eq!(skipped.verdict().map(|v| v.1), Some(Verdict::NotJudged));
        assert!(table(&[skipped]).contains("not judged (node has no figure)"));
    }
}
