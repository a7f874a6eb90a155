//! Layer 3: synchronization primitives made of plain `i32` words.
//!
//! Every primitive here is `#[repr(transparent)]` or `#[repr(C)]` over
//! [`AtomicI32`](std::sync::atomic::AtomicI32) words, so it can be an ordinary Rust value or be
//! placed at an aligned offset inside shared memory (safely with
//! [`SharedMemory::place`](crate::memory::SharedMemory::place) and
//! [`QueueRef::place_new`], or by pointer with `from_ptr`), where Wasm code or another thread
//! can run the same protocol on the same words. Each type documents its words.
//!
//! Each primitive offers the same forms, all driven by one waiting core:
//!
//! | form | example | on a thread that may not block |
//! |---|---|---|
//! | try | [`Mutex::try_lock`] | works |
//! | blocking | [`Mutex::lock`] | `Err(WaitError::CannotBlock)` instead of sleeping |
//! | blocking with timeout | [`Mutex::lock_timeout`] | same |
//! | async | [`Mutex::lock_async`] | works: it never blocks |
//!
//! Blocking threads and async tasks wait in the same FIFO futex queue per word. The async
//! forms return `Send` futures that work under any executor; each documents its cancel
//! safety. A wait ends only through a notify or a timeout (the futex has no spurious
//! wake-ups), and an async acquire dropped after it was woken passes that wake-up on, whether
//! it was still queued, backing off or retrying; a timed acquire that gives up does the same.
//!
//! A placed primitive's words may hold anything another agent wrote. Whatever they hold, a try
//! form never waits and a timed form returns once its timeout has passed, without panicking;
//! the answer is only meaningful for words that follow the documented layout.

// The async forms spell out `impl Future + Send` so that the signature promises `Send`.
#![allow(clippy::manual_async_fn)]

pub(crate) mod core;

mod backoff;
mod barrier;
mod condvar;
mod event;
mod handoff;
mod latch;
#[cfg(all(feature = "lock_api", not(loom)))]
mod lock_api;
mod mutex;
mod queue;
mod rwlock;
mod semaphore;
mod spin;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::Condvar;
pub use event::Event;
pub use handoff::{Handoff, PublishError};
pub use latch::{Latch, WaitGroup};
pub use mutex::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub use queue::PlaceError;
pub use queue::{
    CapacityError, Queue, QueueRef, RecvError, SendError, TryRecvError, TrySendError, MAX_CAPACITY,
    MIN_CAPACITY,
};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{PermitOverflow, Semaphore};
pub use spin::{SpinLock, SpinLockGuard};

/// Marks the primitives as placeable inside a [`SharedMemory`](crate::memory::SharedMemory).
macro_rules! placeable {
    ($($primitive:ty),*) => {$(
        // SAFETY:
        // - `#[repr(C)]` or `#[repr(transparent)]` over `AtomicI32` words only (see the type's
        //   layout table);
        // - every method touches the words only through atomics, and no method relies on
        //   their values for memory safety: values outside the layout are logic errors only.
        #[cfg(not(loom))]
        unsafe impl crate::memory::Words for $primitive {}
    )*};
}
placeable!(Barrier, Condvar, Event, Handoff, Latch, Mutex, RwLock, Semaphore, SpinLock);
