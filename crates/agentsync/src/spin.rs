//! Spin windows in time, not in instruction counts.
//!
//! One `std::hint::spin_loop()` (`pause` on x86, `isb`/`yield` on ARM) costs anything from about
//! 1 ns to about 50 ns depending on the core: 27 ns on the AMD EPYC vCPUs we tuned on, about
//! 11 ns on a Skylake-class Xeon, a few ns on older cores. A window counted in iterations would
//! spin 10 times longer on one CPU than on the next. So every spin window of this crate is a
//! duration, and the number of iterations that fills it comes from the cost of one iteration,
//! measured on this machine once per process ([`iteration_nanos`]), lazily, on the first wait
//! that spins (never on a fast path).
//!
//! The futex's spin before it parks a thread is also *adaptive*: each table bucket keeps an
//! estimate of how long the waits on its locations last (`Estimate`). A wait spins about
//! twice that estimate, between [`PARK_SPIN_MIN`] and [`PARK_SPIN_MAX`]; when waits there
//! outlast the longest window (a lock held for milliseconds, a partner that sleeps), it spins
//! only the shortest one, and every so often a probe spins the longest window again to find out
//! whether that changed. `docs/spinning.md` gives the measurements behind the numbers.
//!
//! Nothing here decides a result: a waiter that spins re-reads its record, and one that stops
//! spinning parks and is woken by the notify. A wrong measurement (a debugger, a preemption in
//! the middle of it) makes a wait slower, never wrong, and is clamped to credible bounds.

// Under loom the futex does not spin (a spin is invisible to loom), so the window machinery is
// built but unused there.
#![cfg_attr(loom, allow(dead_code))]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The shortest spin of a futex wait before it parks: enough to catch a partner that answers
/// at once (another core that was already running), short next to a park and wake.
pub const PARK_SPIN_MIN: Duration = Duration::from_nanos(1_000);

/// The longest spin of a futex wait before it parks. Spinning longer than a park and wake cost
/// cannot win (a sleeping waiter would be woken sooner); on the VMs we measured a wake-up of a
/// parked thread costs 5 to 25 µs (`docs/spinning.md`).
pub const PARK_SPIN_MAX: Duration = Duration::from_nanos(20_000);

/// The busy part of a lock's backoff, in time: round `r` spins `2 << r` units (so 6 rounds spin
/// 126 units). The unit is what one `pause` cost on the machine the schedule was tuned on.
pub(crate) const BACKOFF_UNIT_PS: u64 = 27_000;

/// Credible bounds of one iteration's cost, in picoseconds: a quarter of a cycle at 4 GHz up
/// to a microsecond (a measurement that a debugger or a preemption stretched).
const MIN_COST_PS: u64 = 250;
const MAX_COST_PS: u64 = 1_000_000;

/// Whether spinning is on; [`set_enabled`].
static ENABLED: AtomicBool = AtomicBool::new(true);

/// This machine's spin costs, measured once.
struct Calibration {
    /// One `spin_loop()`, in picoseconds.
    cost_ps: u64,
    /// [`PARK_SPIN_MIN`] and [`PARK_SPIN_MAX`] in iterations.
    park_min: u32,
    park_max: u32,
}

static CALIBRATION: OnceLock<Calibration> = OnceLock::new();

#[cold]
fn calibrate() -> Calibration {
    const ITERATIONS: u32 = 256;
    const TRIALS: usize = 5;
    // The fastest of a few trials: a preemption or an interrupt only ever lengthens one.
    let mut best = u128::MAX;
    for _ in 0..TRIALS {
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            std::hint::spin_loop();
        }
        best = best.min(start.elapsed().as_nanos());
    }
    let measured =
        u64::try_from(best.saturating_mul(1000) / u128::from(ITERATIONS)).unwrap_or(MAX_COST_PS);
    let cost_ps = measured.clamp(MIN_COST_PS, MAX_COST_PS);
    Calibration {
        cost_ps,
        park_min: iterations_in(PARK_SPIN_MIN, cost_ps),
        park_max: iterations_in(PARK_SPIN_MAX, cost_ps),
    }
}

fn calibration() -> &'static Calibration {
    CALIBRATION.get_or_init(calibrate)
}

/// How many iterations of `cost_ps` fill `window`.
fn iterations_in(window: Duration, cost_ps: u64) -> u32 {
    let picos = window.as_nanos().saturating_mul(1000);
    u32::try_from(picos / u128::from(cost_ps.max(1))).unwrap_or(u32::MAX)
}

/// What one `std::hint::spin_loop()` costs on this machine, in nanoseconds: measured on first
/// use (a few microseconds), then cached for the life of the process.
///
/// ```
/// let ns = agentsync::spin::iteration_nanos();
/// assert!(ns > 0.0 && ns <= 1000.0);
/// ```
pub fn iteration_nanos() -> f64 {
    calibration().cost_ps as f64 / 1000.0
}

/// Turns every spin of the crate on or off, process-wide: the futex's spin before parking and
/// the busy rounds of the primitives' backoff. With spinning off a waiter parks at once, which
/// costs latency but no CPU; benchmarks use it to measure the blocking path alone. On by
/// default.
///
/// ```
/// agentsync::spin::set_enabled(false);
/// assert!(!agentsync::spin::enabled());
/// agentsync::spin::set_enabled(true);
/// ```
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Relaxed);
}

/// Whether spinning is on ([`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// Iterations that fill `units` backoff units (each [`BACKOFF_UNIT_PS`]) on this machine; 0
/// with spinning off.
pub(crate) fn backoff_iterations(units: u32) -> u32 {
    if !enabled() {
        return 0;
    }
    let cost = calibration().cost_ps;
    u32::try_from(u64::from(units) * BACKOFF_UNIT_PS / cost).unwrap_or(u32::MAX)
}

/// How often a thread whose estimate says "spinning does not pay here" still spins the longest
/// window, to notice when it would: every `PROBE_FIRST`th such wait, then, while probes keep
/// failing, half as often each time, down to one in `PROBE_LAST`.
const PROBE_FIRST: u32 = 8;
const PROBE_LAST: u32 = 256;

std::thread_local! {
    /// This thread's probe schedule: waits left before the next probe, and the current interval.
    static PROBE: Cell<(u32, u32)> = const { Cell::new((PROBE_FIRST, PROBE_FIRST)) };
}

/// How a blocking futex wait spins before it parks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Policy {
    /// The bucket's adaptive window: for plain `wait` / `notify`, whose partner may answer at
    /// once or never.
    Adaptive,
    /// The shortest window only, with no estimate kept: for the primitives that wait on
    /// another thread's unbounded work (a queue slot, a count, a signal). They have backed off
    /// already (their own spin, then yields) before they sleep, and on a machine with more
    /// runnable threads than cores a long spin would take the core from the thread that frees
    /// the slot (`queue_throughput` went from 0.72 to 1.04x crossbeam with the adaptive window).
    /// The locks keep the adaptive window: their holders release after a short critical
    /// section (`rwlock_read_mostly_4t` went from 0.62 to 0.72-1.04x parking_lot without it).
    Short,
}

/// How a futex wait's spin ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spun {
    /// The wait was decided after this many iterations: spinning saved a park.
    Caught(u32),
    /// The window ran out: the waiter parks.
    Missed,
}

/// One bucket's estimate of how long its waits last, in spin iterations (a moving average of
/// the last few waits; a wait that outlasted its window counts as twice the longest window).
/// Read and written without ordering: it steers how long to spin, nothing else.
#[derive(Debug)]
pub(crate) struct Estimate {
    iterations: AtomicU32,
}

/// A window the futex spins: how many iterations, and whether it is a probe.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) iterations: u32,
    /// The longest window of its site, in iterations: a miss counts as twice that.
    longest: u32,
    probe: bool,
    /// Whether how it ends feeds the estimate (not for [`Policy::Short`]).
    keep: bool,
}

impl Estimate {
    pub(crate) const fn new() -> Self {
        Estimate {
            iterations: AtomicU32::new(0),
        }
    }

    /// The window for the next wait here, capped at `limit` (a timed wait's remaining time).
    #[cfg(test)]
    pub(crate) fn window(&self, limit: Option<Duration>, policy: Policy) -> Window {
        self.window_up_to(limit, policy, PARK_SPIN_MAX)
    }

    /// [`Estimate::window`] for a site whose longest window is `longest`.
    fn window_up_to(&self, limit: Option<Duration>, policy: Policy, longest: Duration) -> Window {
        if !enabled() {
            return Window {
                iterations: 0,
                longest: 0,
                probe: false,
                keep: false,
            };
        }
        let calibration = calibration();
        // The futex's own longest window is counted once, in the calibration: no division
        // on every futex wait that spins.
        let longest = if longest == PARK_SPIN_MAX {
            calibration.park_max
        } else {
            iterations_in(longest, calibration.cost_ps).max(calibration.park_min)
        };
        let estimate = self.iterations.load(Relaxed);
        let (iterations, probe) = if policy == Policy::Short {
            (calibration.park_min, false)
        } else if estimate <= longest {
            // Spinning pays here: twice what waits take, so most land inside the window.
            let window = estimate
                .saturating_mul(2)
                .saturating_add(calibration.park_min);
            (window.min(longest), false)
        } else if probe_due() {
            (longest, true)
        } else {
            (calibration.park_min, false)
        };
        let capped = match limit {
            Some(limit) => iterations.min(iterations_in(limit, calibration.cost_ps)),
            None => iterations,
        };
        Window {
            iterations: capped,
            longest,
            probe: probe && capped == iterations,
            // A window that the deadline cut short says nothing about how long waits here
            // last: it does not feed the estimate.
            keep: policy == Policy::Adaptive && capped == iterations,
        }
    }

    /// Folds in how a wait's spin ended.
    pub(crate) fn record(&self, window: Window, spun: Spun) {
        if !window.keep {
            return;
        }
        if window.probe {
            probe_result(matches!(spun, Spun::Caught(_)));
        }
        let sample = match spun {
            Spun::Caught(iterations) => iterations,
            Spun::Missed => window.longest.saturating_mul(2),
        };
        // A quarter of the way to the new sample: three misses in a row turn spinning down,
        // one catch after a miss turns it back up.
        let old = self.iterations.load(Relaxed);
        let new = old - old / 4 + sample / 4;
        self.iterations.store(new, Relaxed);
    }

    /// Spins until `ready()` or the end of the window this estimate gives (at most `limit`),
    /// then folds what happened into the estimate. Whether `ready()` came true.
    pub(crate) fn spin_until(
        &self,
        limit: Option<Duration>,
        policy: Policy,
        longest: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> bool {
        let window = self.window_up_to(limit, policy, longest);
        if window.iterations == 0 {
            return false;
        }
        for spins in 0..window.iterations {
            if ready() {
                self.record(window, Spun::Caught(spins));
                return true;
            }
            std::hint::spin_loop();
        }
        self.record(window, Spun::Missed);
        false
    }
}

/// The futex's adaptive spin, for a sleep of a host's own: an event loop about to park until
/// its next task, say. Each `Adaptive` keeps one estimate of how long the waits at its site
/// last and spins as a futex bucket does: about twice that, between [`PARK_SPIN_MIN`] and its
/// longest window ([`PARK_SPIN_MAX`] unless [`Adaptive::with_longest`] says otherwise), or only
/// the shortest window (with probes) where waits outlast the longest. A catch saves the sleep
/// and the wake-up; a miss costs the window.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering::Acquire};
///
/// let site = agentsync::spin::Adaptive::new();
/// let ready = AtomicBool::new(true);
/// assert!(site.spin_until(None, || ready.load(Acquire)));
/// ready.store(false, std::sync::atomic::Ordering::Release);
/// // Nothing sets it: the window runs out (at most 1 µs here) and the caller sleeps.
/// let limit = Some(std::time::Duration::from_micros(1));
/// assert!(!site.spin_until(limit, || ready.load(Acquire)));
/// ```
#[derive(Debug)]
pub struct Adaptive {
    estimate: Estimate,
    longest: Duration,
}

impl Adaptive {
    /// A site with no history (its first wait spins the shortest window) whose longest window
    /// is the futex's, [`PARK_SPIN_MAX`].
    pub const fn new() -> Self {
        Adaptive::with_longest(PARK_SPIN_MAX)
    }

    /// A site whose longest window is `longest` (at least [`PARK_SPIN_MIN`]): for a sleep whose
    /// wake-up costs more than a futex wait's, such as a thread woken through a system call
    /// that must send an interrupt to an idle virtual CPU.
    pub const fn with_longest(longest: Duration) -> Self {
        Adaptive {
            estimate: Estimate::new(),
            longest,
        }
    }

    /// Spins until `ready()` returns true or the site's window (at most `limit`) runs out,
    /// and learns from which came first. Returns whether `ready()` came true; with spinning
    /// off ([`set_enabled`]) it returns false at once.
    pub fn spin_until(&self, limit: Option<Duration>, ready: impl FnMut() -> bool) -> bool {
        self.estimate
            .spin_until(limit, Policy::Adaptive, self.longest, ready)
    }
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive::new()
    }
}

/// Whether this thread's next long-estimate wait should probe.
fn probe_due() -> bool {
    PROBE.with(|probe| {
        let (left, interval) = probe.get();
        if left <= 1 {
            probe.set((interval, interval));
            true
        } else {
            probe.set((left - 1, interval));
            false
        }
    })
}

/// A probe caught its wait (probe often again) or missed (probe half as often).
fn probe_result(caught: bool) {
    PROBE.with(|probe| {
        let (left, interval) = probe.get();
        let interval = if caught {
            PROBE_FIRST
        } else {
            (interval * 2).min(PROBE_LAST)
        };
        probe.set((left.min(interval), interval));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_fills_its_duration_at_the_measured_cost() {
        assert_eq!(iterations_in(Duration::from_nanos(1_000), 27_000), 37);
        assert_eq!(iterations_in(Duration::from_nanos(1_000), 1_000), 1_000);
        assert_eq!(iterations_in(Duration::ZERO, 1_000), 0);
        // A window too long to count saturates rather than wrapping to a short one.
        assert_eq!(iterations_in(Duration::from_secs(1 << 40), 250), u32::MAX);
    }

    #[test]
    fn the_calibration_is_credible_and_windows_are_ordered() {
        let calibration = calibration();
        assert!((MIN_COST_PS..=MAX_COST_PS).contains(&calibration.cost_ps));
        assert!(calibration.park_min < calibration.park_max);
        assert!(calibration.park_max <= iterations_in(PARK_SPIN_MAX, MIN_COST_PS));
    }

    #[test]
    fn waits_that_are_caught_keep_the_window_short_and_long_waits_turn_it_down() {
        let calibration = calibration();
        let estimate = Estimate::new();
        // A fresh bucket spins the shortest window plus nothing.
        let first = estimate.window(None, Policy::Adaptive);
        assert_eq!(first.iterations, calibration.park_min);
        // Waits caught after 100 iterations: the window settles near 2 × 100 + min.
        for _ in 0..32 {
            let window = estimate.window(None, Policy::Adaptive);
            estimate.record(window, Spun::Caught(100));
        }
        let settled = estimate.window(None, Policy::Adaptive).iterations;
        assert!(
            settled >= 2 * 90 + calibration.park_min && settled <= 2 * 100 + calibration.park_min,
            "{settled}"
        );
        // Three misses in a row: the estimate passes the longest window, so a wait spins only
        // the shortest one (or a probe, the longest).
        for _ in 0..3 {
            let window = estimate.window(None, Policy::Adaptive);
            estimate.record(window, Spun::Missed);
        }
        let mut shortest = 0;
        for _ in 0..(2 * PROBE_LAST) {
            let window = estimate.window(None, Policy::Adaptive);
            assert!(
                window.iterations == calibration.park_min
                    || (window.probe && window.iterations == calibration.park_max),
                "{window:?}"
            );
            shortest += usize::from(!window.probe);
            estimate.record(window, Spun::Missed);
        }
        assert!(shortest > 2 * PROBE_LAST as usize * 7 / 8, "{shortest}");
        // One caught probe, and the window comes back.
        PROBE.with(|probe| probe.set((1, PROBE_LAST)));
        let probe = estimate.window(None, Policy::Adaptive);
        assert!(probe.probe);
        for _ in 0..8 {
            estimate.record(probe, Spun::Caught(10));
        }
        assert!(estimate.window(None, Policy::Adaptive).iterations < calibration.park_max);
    }

    #[test]
    fn the_short_policy_spins_the_shortest_window_and_leaves_the_estimate_alone() {
        let calibration = calibration();
        let estimate = Estimate::new();
        for _ in 0..8 {
            let window = estimate.window(None, Policy::Adaptive);
            estimate.record(window, Spun::Caught(100));
        }
        let before = estimate.iterations.load(Relaxed);
        for _ in 0..8 {
            let window = estimate.window(None, Policy::Short);
            assert_eq!(window.iterations, calibration.park_min);
            estimate.record(window, Spun::Missed);
        }
        assert_eq!(estimate.iterations.load(Relaxed), before);
    }

    #[test]
    fn a_timed_wait_spins_no_longer_than_its_time_left() {
        let estimate = Estimate::new();
        let cut = estimate.window(Some(Duration::ZERO), Policy::Adaptive);
        assert_eq!(cut.iterations, 0);
        // A window the deadline cut short is no evidence: its miss leaves the estimate alone.
        estimate.record(cut, Spun::Missed);
        assert_eq!(estimate.iterations.load(Relaxed), 0);
        let cost = calibration().cost_ps;
        let limit = Duration::from_nanos(100);
        assert!(
            estimate.window(Some(limit), Policy::Adaptive).iterations <= iterations_in(limit, cost)
        );
    }

    #[test]
    fn a_site_with_a_longer_longest_window_grows_to_it_and_no_further() {
        let calibration = calibration();
        let longest = PARK_SPIN_MAX * 3;
        let longest_iterations = iterations_in(longest, calibration.cost_ps);
        let estimate = Estimate::new();
        // Waits that last twice the futex's longest window: a futex bucket would give up on
        // spinning, this site settles on a window that covers them.
        let wait = calibration.park_max * 2;
        for _ in 0..32 {
            let window = estimate.window_up_to(None, Policy::Adaptive, longest);
            assert!(window.iterations <= longest_iterations, "{window:?}");
            estimate.record(window, Spun::Caught(wait));
        }
        let settled = estimate.window_up_to(None, Policy::Adaptive, longest);
        assert!(settled.iterations > calibration.park_max, "{settled:?}");
        assert!(settled.iterations >= wait && !settled.probe, "{settled:?}");
        // Misses count as twice this site's longest window: it turns down as a bucket does.
        PROBE.with(|probe| probe.set((PROBE_LAST, PROBE_LAST)));
        for _ in 0..8 {
            let window = estimate.window_up_to(None, Policy::Adaptive, longest);
            estimate.record(window, Spun::Missed);
        }
        let after = estimate.window_up_to(None, Policy::Adaptive, longest);
        assert_eq!(after.iterations, calibration.park_min, "{after:?}");
    }

    #[test]
    fn spinning_off_means_no_window_and_no_backoff_spin() {
        // Other tests in this process may spin meanwhile: only this thread's windows are read.
        set_enabled(false);
        let window = Estimate::new().window(None, Policy::Adaptive).iterations;
        let backoff = backoff_iterations(64);
        set_enabled(true);
        assert_eq!((window, backoff), (0, 0));
        assert!(backoff_iterations(64) > 0);
    }
}
