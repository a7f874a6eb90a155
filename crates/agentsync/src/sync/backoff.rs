//! Exponential backoff for a thread or task that waits on a word by re-reading it.
//!
//! A waiter that re-reads a lock word in a tight loop pulls the word's cache line away from
//! the holder on every read, so the holder pays a coherence miss on each of its own writes.
//! Backing off (more `pause`s each round, then giving the core away) keeps the line with the
//! holder, which is what lets a contended lock run long streaks on one core.

/// Rounds of a backoff: round `r` is `2 << r` `pause` instructions while `r` is below
/// `spin_rounds`; after that each round is a yield, which the caller performs (a thread
/// yield, or a task's yield to its executor) or [`snooze`](Backoff::snooze) does.
pub(crate) struct Backoff {
    round: u32,
    spin_rounds: u32,
}

impl Backoff {
    /// A backoff that busy-waits `spin_rounds` rounds (2, 4, 8, … pauses) before it yields.
    pub(crate) const fn new(spin_rounds: u32) -> Self {
        Backoff {
            round: 0,
            spin_rounds,
        }
    }

    /// How many rounds have been waited so far.
    pub(crate) fn rounds(&self) -> u32 {
        self.round
    }

    /// Waits one busy round and returns `true`, or returns `false` without waiting once the
    /// busy rounds are used up (the caller then yields and calls [`yielded`](Self::yielded)).
    pub(crate) fn spin(&mut self) -> bool {
        if self.round >= self.spin_rounds {
            return false;
        }
        for _ in 0..(2u32 << self.round) {
            std::hint::spin_loop();
        }
        self.round += 1;
        true
    }

    /// Counts a round in which the caller yielded.
    pub(crate) fn yielded(&mut self) {
        self.round = self.round.saturating_add(1);
    }

    /// Waits one round: a busy round, or a thread yield once those are used up.
    pub(crate) fn snooze(&mut self) {
        if !self.spin() {
            crate::loom::thread::yield_now();
            self.yielded();
        }
    }

    /// Starts again from the first busy round.
    pub(crate) fn reset(&mut self) {
        self.round = 0;
    }
}
