//! `async_timeouts_100k`: how late 100,000 async timeouts fire.
//!
//! Each task computes its own deadline (start + its timeout) and, when woken, records
//! `now - deadline`. Both sides run on the same kind of runtime (tokio current-thread), so task
//! scheduling costs the same; the difference is the timer.
//!
//! The timeouts start after the runtime has polled every task once (100,000 first polls take a
//! while) and are spread thinly (100 per millisecond in a full run), so that what is measured
//! is the timer's precision, not a backlog of ready tasks on the one runtime thread.

use std::sync::atomic::AtomicI32;
use std::time::{Duration, Instant};

use agentsync::WaitResult;

use super::{percentile_sorted, thousands, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC};

/// Nobody notifies this word: every wait on it times out.
static NEVER_NOTIFIED: AtomicI32 = AtomicI32::new(0);

fn timers(config: &Config) -> usize {
    config.pick(100_000, 10_000)
}

/// The shortest timeout, and the span the timeouts are spread over.
fn timeouts(config: &Config) -> (Duration, Duration) {
    config.pick(
        (Duration::from_millis(300), Duration::from_millis(1_000)),
        (Duration::from_millis(50), Duration::from_millis(200)),
    )
}

/// Task `index`'s timeout: neighbours in spawn order get deadlines far apart.
fn timeout_of(index: usize, (shortest, span): (Duration, Duration)) -> Duration {
    shortest + span * (index % 1_000) as u32 / 1_000
}

/// Runs `timers` tasks; `sleep(timeout)` must end no earlier than `timeout` after its call.
/// Returns lateness in µs, sorted.
fn lateness<F, Fut>(
    count: usize,
    spread: (Duration, Duration),
    sleep: F,
) -> Result<Vec<f64>, String>
where
    F: Fn(Duration) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let mut late = runtime.block_on(async move {
        let tasks: Vec<_> = (0..count)
            .map(|index| {
                tokio::spawn(async move {
                    let timeout = timeout_of(index, spread);
                    let deadline = Instant::now() + timeout;
                    sleep(timeout).await?;
                    let now = Instant::now();
                    if now < deadline {
                        return Err(format!(
                            "a {timeout:?} timeout fired {:?} early",
                            deadline - now
                        ));
                    }
                    Ok((now - deadline).as_secs_f64() * 1e6)
                })
            })
            .collect();
        let mut late = Vec::with_capacity(count);
        for task in tasks {
            late.push(
                task.await
                    .map_err(|e| format!("a timer task failed: {e}"))??,
            );
        }
        Ok::<_, String>(late)
    })?;
    late.sort_by(f64::total_cmp);
    Ok(late)
}

fn summary(late: &[f64]) -> Result<Outcome, String> {
    let median = percentile_sorted(late, 50.0).ok_or("no timers ran")?;
    let p99 = percentile_sorted(late, 99.0).ok_or("no timers ran")?;
    Ok(Outcome::Measured(Sample::noted(
        median,
        format!("{} timers; p99 {p99:.0} µs", late.len()),
    )))
}

fn agentsync_timeouts(config: &Config) -> Result<Outcome, String> {
    let late = lateness(timers(config), timeouts(config), |timeout| async move {
        match agentsync::wait_async(&NEVER_NOTIFIED, 0, Some(timeout)).await {
            WaitResult::TimedOut => Ok(()),
            other => Err(format!("a wait nobody notifies ended with {other}")),
        }
    })?;
    summary(&late)
}

fn tokio_timeouts(config: &Config) -> Result<Outcome, String> {
    let late = lateness(timers(config), timeouts(config), |timeout| async move {
        tokio::time::sleep(timeout).await;
        Ok(())
    })?;
    summary(&late)
}

/// The timer scenario.
pub(super) const SCENARIOS: &[Scenario] = &[Scenario {
    name: "async_timeouts_100k",
    unit: "µs lateness",
    what: |config| {
        let (shortest, span) = timeouts(config);
        format!(
            "median lateness of {} async timeouts ({}–{} ms), p99 in the note",
            thousands(timers(config)),
            shortest.as_millis(),
            (shortest + span).as_millis()
        )
    },
    impls: &[
        Impl {
            name: AGENTSYNC,
            run: agentsync_timeouts,
        },
        Impl {
            name: "tokio_sleep",
            run: tokio_timeouts,
        },
    ],
}];
