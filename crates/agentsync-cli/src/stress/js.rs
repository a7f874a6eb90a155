//! The js section: JavaScript agents on the JS host (a main agent and workers on their own
//! threads) mixing blocking `Atomics.wait`, `Atomics.waitAsync` with random timeouts and
//! `Atomics.notify` on a few words of one `SharedArrayBuffer`.
//!
//! Checked at the end: the sum of what every `notify` returned equals the number of waits that
//! ended `ok` (no wake-up lost or invented), nothing is left queued, and the run ended within
//! its budget plus a grace period (a hung run is stopped and reported).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use agentsync_js::{Host, Stream};
use serde::Deserialize;

use super::{Budget, Section};

/// The js section.
pub(super) const SECTION: Section = Section {
    name: "js",
    what: "JS workers and the main agent: Atomics.wait, Atomics.waitAsync with random timeouts and Atomics.notify on shared words",
    run,
};

/// The workers besides the main agent.
const WORKERS: usize = 3;
/// How long past its budget the run may take to drain before it counts as hung.
const GRACE: Duration = Duration::from_secs(30);

/// The main agent's script; `CONFIG` and `WORKER` are defined before it.
const MAIN: &str = include_str!("js_stress.js");
/// The workers' script.
const WORKER: &str = include_str!("js_stress_worker.js");

/// The sums the main agent prints over every agent.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Totals {
    waits: u64,
    notifies: u64,
    woken: u64,
    oks: u64,
    not_equal: u64,
    timeouts: u64,
}

/// The script to run: the configuration, the worker source, then [`MAIN`].
fn script(ms: u128) -> Result<String, String> {
    let worker = serde_json::to_string(WORKER).map_err(|e| e.to_string())?;
    Ok(format!(
        "const CONFIG = {{ workers: {WORKERS}, ms: {ms} }};\nconst WORKER = {worker};\n{MAIN}"
    ))
}

fn run(budget: &Budget) -> Vec<String> {
    let ms = budget
        .until
        .saturating_duration_since(Instant::now())
        .as_millis();
    let mut violations = Vec::new();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let host = Host::builder()
        .on_output(move |stream, line| {
            let mut lines = sink.lock().unwrap_or_else(|p| p.into_inner());
            lines.push(match stream {
                Stream::Stdout => line.to_owned(),
                Stream::Stderr => format!("stderr: {line}"),
            });
            Ok(())
        })
        .build();
    let host = match (host, script(ms)) {
        (Ok(host), Ok(script)) => (host, script),
        (Err(error), _) => return vec![format!("the JS host could not start: {error}")],
        (_, Err(error)) => return vec![format!("the script could not be built: {error}")],
    };
    let (host, source) = host;
    let deadline = Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)) + GRACE;
    let handle = host.handle();
    let (done, finished) = mpsc::channel::<()>();
    let hung = std::thread::scope(|scope| {
        let watchdog = scope.spawn(move || {
            let timed_out = finished.recv_timeout(deadline) == Err(mpsc::RecvTimeoutError::Timeout);
            if timed_out {
                handle.terminate();
            }
            timed_out
        });
        let outcome = host.eval("js_stress.js", &source).and_then(|()| host.run());
        let _ = done.send(());
        if let Err(error) = outcome {
            violations.push(format!("the script failed: {error}"));
        }
        watchdog.join().unwrap_or(true)
    });
    drop(host);
    if hung {
        violations.push(format!(
            "the run did not end within its budget plus {GRACE:?}: it was stopped"
        ));
    }
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    let totals = lines
        .iter()
        .find_map(|line| line.strip_prefix("totals "))
        .map(serde_json::from_str::<Totals>);
    match totals {
        Some(Ok(totals)) => {
            let counters = &budget.counters;
            counters
                .ops
                .fetch_add(totals.waits + totals.notifies, Relaxed);
            counters.waits.fetch_add(totals.waits, Relaxed);
            counters.notifies.fetch_add(totals.notifies, Relaxed);
            counters.woken.fetch_add(totals.woken, Relaxed);
            counters.oks.fetch_add(totals.oks, Relaxed);
            counters.not_equal.fetch_add(totals.not_equal, Relaxed);
            counters.timeouts.fetch_add(totals.timeouts, Relaxed);
            if totals.woken != totals.oks {
                violations.push(format!(
                    "notify returned {} in all but {} waits ended ok",
                    totals.woken, totals.oks
                ));
            }
            let ended = totals.oks + totals.not_equal + totals.timeouts;
            if ended != totals.waits {
                violations.push(format!("{} waits started but {ended} ended", totals.waits));
            }
        }
        Some(Err(error)) => violations.push(format!("the totals line did not parse: {error}")),
        None => violations.push(format!(
            "the script printed no totals line; it printed {lines:?}"
        )),
    }
    let left = agentsync::total_waiters();
    if left != 0 {
        violations.push(format!("leftover waiter: {left} still queued"));
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_balances_its_counts() {
        let budget = Budget {
            until: Instant::now() + Duration::from_millis(200),
            counters: Arc::default(),
        };
        let violations = (SECTION.run)(&budget);
        assert_eq!(violations, Vec::<String>::new());
        assert!(budget.counters.waits.load(Relaxed) > 0);
        assert!(budget.counters.notifies.load(Relaxed) > 0);
    }
}
