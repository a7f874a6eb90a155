//! A reusable barrier on two `i32` words: arrivals and generation packed in one word, and the
//! number of parties.
//!
//! Each arrival adds one to the low 16 bits. The arrival that completes the count is the leader:
//! it resets the count to zero and bumps the generation (the high 16 bits) in one `fetch_add`,
//! then wakes every sleeper. Everyone else sleeps until the generation differs from the one it
//! arrived in. Because count and generation change together, an early arrival of the next round
//! can never be counted in the old one (generations never mix).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::core::{self, Attempt, Step};
use crate::futex::{self, WaitError};
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{AcqRel, Acquire, Relaxed},
};

/// The low 16 bits count arrivals in the current generation.
const COUNT_MASK: i32 = 0xFFFF;
/// One generation step in the high 16 bits.
const ONE_GENERATION: i32 = 1 << 16;

#[inline]
fn generation(word: i32) -> i32 {
    word & !COUNT_MASK
}

/// Whether this party completed the round ([`is_leader`](Self::is_leader)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// `true` for exactly one party per generation: the last to arrive.
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// A barrier for a fixed number of parties (1 to 65 535), reusable round after round.
///
/// # Layout
/// `#[repr(C)]`, two `AtomicI32` words, alignment 4, size 8:
///
/// | offset | word | meaning |
/// |---|---|---|
/// | 0 | state | bits 0–15 arrivals in this generation, bits 16–31 generation (wrapping) |
/// | 4 | parties | parties per generation (constant) |
///
/// An arrival counts once it happened, also if the waiter then times out or its future is
/// dropped: the round still completes when the others arrive.
///
/// ```
/// use agentsync::sync::Barrier;
/// let barrier = Barrier::new(3);
/// let leaders = std::thread::scope(|s| {
///     let handles: Vec<_> = (0..3)
///         .map(|_| s.spawn(|| barrier.wait().unwrap().is_leader()))
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap() as u32).sum::<u32>()
/// });
/// assert_eq!(leaders, 1);
/// ```
#[repr(C)]
pub struct Barrier {
    state: AtomicI32,
    parties: AtomicI32,
}

impl Barrier {
    core::loom_const_fn! {
        /// A barrier for `parties` parties; `0` behaves as `1`.
        pub fn new(parties: u16) -> Self {
            let parties = if parties == 0 { 1 } else { parties as i32 };
            Barrier {
                state: AtomicI32::new(0),
                parties: AtomicI32::new(parties),
            }
        }
    }

    /// Views two initialised words in memory as a barrier.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the 8 bytes are valid for atomic reads and writes for `'a` and only accessed
    ///   atomically during `'a`;
    /// - the words follow the layout: the parties word holds 1 to 65 535 and the arrival
    ///   count is below it (a state of zero and the parties count is a fresh barrier).
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        // SAFETY:
        // - aligned, valid and live for 'a: the caller's contract;
        // - `repr(C)` of two `AtomicI32`, for which every bit pattern is valid.
        unsafe { &*ptr }
    }

    /// Parties per generation.
    pub fn parties(&self) -> u16 {
        self.parties.load(Relaxed).clamp(1, COUNT_MASK) as u16
    }

    /// The current generation (wrapping at 65 536).
    pub fn generation(&self) -> u16 {
        (self.state.load(Acquire) >> 16) as u16
    }

    /// Arrives and waits for the rest of this generation.
    ///
    /// # Blocking
    /// Sleeps until the last party arrives.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block (the
    /// arrival still counts).
    pub fn wait(&self) -> Result<BarrierWaitResult, WaitError> {
        core::block_timed(self.op(), None)
            .map(|result| result.unwrap_or(BarrierWaitResult { leader: false }))
    }

    /// Arrives and waits at most `timeout`; `Ok(None)` if it timed out (the arrival counts).
    ///
    /// # Blocking
    /// Sleeps until the last party arrives or the timeout.
    ///
    /// # Errors
    /// [`WaitError::CannotBlock`] if it would sleep on a thread that may not block.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<BarrierWaitResult>, WaitError> {
        core::block_timed(self.op(), core::deadline_after(timeout))
    }

    /// Arrives (at the first poll) and waits from an async task.
    ///
    /// # Cancel safety
    /// Not a no-op to cancel once polled: the arrival counts. Waiting itself consumes
    /// nothing, since the leader wakes everyone.
    pub fn wait_async(&self) -> impl Future<Output = BarrierWaitResult> + Send + '_ {
        async move {
            core::acquire(self.op(), None)
                .await
                .unwrap_or(BarrierWaitResult { leader: false })
        }
    }

    /// [`wait_async`](Self::wait_async) giving up after `timeout` (`None`).
    ///
    /// # Cancel safety
    /// As [`wait_async`](Self::wait_async).
    pub fn wait_async_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<BarrierWaitResult>> + Send + '_ {
        let deadline = core::deadline_after(timeout);
        async move { core::acquire(self.op(), deadline).await }
    }

    fn op(&self) -> WaitOp<'_> {
        WaitOp {
            barrier: self,
            arrived_in: None,
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("generation", &self.generation())
            .finish()
    }
}

struct WaitOp<'a> {
    barrier: &'a Barrier,
    /// The generation bits of the round this party arrived in, once it has.
    arrived_in: Option<i32>,
}

impl Attempt for WaitOp<'_> {
    type Output = BarrierWaitResult;

    fn attempt(&mut self) -> Step<'_, BarrierWaitResult> {
        let state = &self.barrier.state;
        let arrived_in = match self.arrived_in {
            Some(generation) => generation,
            None => {
                // AcqRel: Release publishes our writes to the leader, Acquire makes the
                // leader (when it is us) see everyone's.
                let before = state.fetch_add(1, AcqRel);
                let parties = self.barrier.parties.load(Relaxed).clamp(1, COUNT_MASK);
                if (before & COUNT_MASK) + 1 >= parties {
                    // Leader: count back to zero and next generation, in one step. AcqRel:
                    // Release pairs with the waiters' Acquire loads below.
                    state.fetch_add(ONE_GENERATION.wrapping_sub(parties), AcqRel);
                    futex::notify(state, usize::MAX);
                    return Step::Done(BarrierWaitResult { leader: true });
                }
                self.arrived_in = Some(generation(before));
                generation(before)
            }
        };
        // Acquire: pairs with the leader's AcqRel.
        let now = state.load(Acquire);
        if generation(now) != arrived_in {
            return Step::Done(BarrierWaitResult { leader: false });
        }
        Step::Sleep {
            word: state,
            expected: now,
        }
    }
}
