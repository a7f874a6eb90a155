//! Exponential backoff for a thread or task that waits on a word by re-reading it.
//!
//! A waiter that re-reads a lock word in a tight loop pulls the word's cache line away from
//! the holder on every read, so the holder pays a coherence miss on each of its own writes.
//! Backing off (more `pause`s each round, then giving the core away) keeps the line with the
//! holder, which is what lets a contended lock run long streaks on one core.
//!
//! The schedule was measured against parking_lot in the same run (`agentsync bench --scenario
//! contended_counter_2t --scenario contended_counter_4t`, and the criterion `sync` bench):
//! - plain busy spinning, std's 100 re-reads, left the mutex 2.5–5x behind parking_lot (earlier
//!   sessions tried 0, 10, 20 and 400: none reliably better, 0 and 400 worse);
//! - with this backoff, and with a lost compare-exchange going back to the loop instead of
//!   straight to sleep, the counter runs level with or ahead of parking_lot. 6 to 16 rounds
//!   measured alike, so we keep parking_lot's 10;
//! - 3 busy rounds (parking_lot's) and 6 measured alike for threads; for tasks 6 doubled the
//!   async contended throughput (`cargo bench --bench sync -- async_contended`): an executor
//!   yield is cheap and lets the next task contend at once, so the pauses do the spacing.

/// Busy rounds before the yields: round `r` spins `2 << r` backoff units, 126 in all (3.4 µs).
#[cfg(not(loom))]
const PAUSE_ROUNDS: u32 = 6;
/// Under loom busy rounds only multiply the explored states (a pause is invisible to loom).
#[cfg(loom)]
const PAUSE_ROUNDS: u32 = 0;

/// Rounds before a bounded backoff gives up (and its caller sleeps in the futex queue).
#[cfg(not(loom))]
const ROUNDS: u32 = 10;
/// Under loom one yield round: enough for models to drop or time out an acquire while it
/// backs off (no futex wait queued, maybe a wake-up owed), few enough to keep them small.
#[cfg(loom)]
const ROUNDS: u32 = 1;

/// What the next round of a bounded backoff asks of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Round {
    /// A busy round was waited: look again.
    Spun,
    /// Yield (a thread its core, a task its executor), then look again.
    Yield,
    /// All rounds are used: stop backing off and sleep.
    Done,
}

/// The rounds waited so far.
pub(crate) struct Backoff {
    round: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub(crate) const fn new() -> Self {
        Backoff { round: 0 }
    }

    /// Takes the next round of a backoff bounded to `ROUNDS` rounds, waiting it here if it is
    /// a busy one.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))] // PAUSE_ROUNDS is 0
    pub(crate) fn next(&mut self) -> Round {
        if self.round >= ROUNDS {
            return Round::Done;
        }
        self.round += 1;
        if self.round <= PAUSE_ROUNDS {
            pause(self.round - 1);
            Round::Spun
        } else {
            Round::Yield
        }
    }

    /// Waits one round of an unbounded backoff: a busy round, or a thread yield once those
    /// are used up.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))] // PAUSE_ROUNDS is 0
    pub(crate) fn snooze(&mut self) {
        if self.round < PAUSE_ROUNDS {
            pause(self.round);
            self.round += 1;
        } else {
            crate::loom::thread::yield_now();
        }
    }

    /// Starts again from the first round.
    pub(crate) fn reset(&mut self) {
        self.round = 0;
    }
}

/// Busy round `round`: `2 << round` backoff units of time ([`crate::spin`]), which is
/// `2 << round` `pause`s on the machine the schedule was tuned on, and as many as fill the same
/// time on this one.
fn pause(round: u32) {
    for _ in 0..crate::spin::backoff_iterations(2u32 << round) {
        std::hint::spin_loop();
    }
}
