//! Agents: whether the current thread may block.
//!
//! In JavaScript some agents (a browser's main thread, an audio worklet) may not block, and
//! `Atomics.wait` there throws. Here each thread carries that flag; it starts `true`. Event-loop
//! threads, UI threads and executor threads should clear it, so that a blocking wait is a clear
//! [`WaitError::CannotBlock`](crate::WaitError::CannotBlock) instead of a stalled loop.

use std::cell::Cell;

thread_local! {
    static CAN_BLOCK: Cell<bool> = const { Cell::new(true) };
}

/// Whether the current thread may block in [`wait`](crate::wait).
///
/// ```
/// assert!(agentsync::agent::can_block());
/// ```
#[inline]
pub fn can_block() -> bool {
    CAN_BLOCK.with(Cell::get)
}

/// Sets whether the current thread may block, returning the previous setting.
///
/// ```
/// use agentsync::{agent, wait, WaitError};
/// use std::sync::atomic::AtomicI32;
///
/// let previous = agent::set_can_block(false);
/// let word = AtomicI32::new(0);
/// assert_eq!(wait(&word, 0, None), Err(WaitError::CannotBlock));
/// agent::set_can_block(previous);
/// ```
pub fn set_can_block(can_block: bool) -> bool {
    CAN_BLOCK.with(|flag| flag.replace(can_block))
}

/// Runs `f` with the current thread marked as unable to block, then restores the old setting
/// (also if `f` panics).
///
/// ```
/// let inside = agentsync::agent::non_blocking(agentsync::agent::can_block);
/// assert!(!inside);
/// assert!(agentsync::agent::can_block());
/// ```
pub fn non_blocking<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_can_block(self.0);
        }
    }
    let _restore = Restore(set_can_block(false));
    f()
}
