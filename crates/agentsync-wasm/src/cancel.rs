//! The run-wide stop: when one thread of a run fails, the others must not wait forever.
//!
//! Every thread of a run has a [`WaitSlot`] that shows the futex address it is blocked on.
//! [`Cancel::raise`] raises the flag, then [`Cancel::wake_waiters`] keeps notifying every
//! address a slot shows until no thread of the run is waiting; a woken waiter sees the flag and traps with
//! [`Trap::Cancelled`]. The flag store and the slot load are `SeqCst` on the canceller's
//! side, the slot store and flag load `SeqCst` on the waiter's: either the waiter sees the
//! flag before it sleeps, or the canceller sees the slot and wakes it (repeatedly, which
//! covers the moment between the waiter's flag check and its enqueue). Guest code that loops
//! without waiting is stopped by wasmtime's epoch interruption (see `Threads`).

use std::collections::HashMap;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Trap;

/// The stop flag of one run and the slots of its threads.
#[derive(Default)]
pub(crate) struct Cancel {
    cancelled: AtomicBool,
    /// Slot id → the address its thread waits on (0 = not waiting).
    slots: Mutex<HashMap<u64, Arc<AtomicUsize>>>,
    next_slot: AtomicU64,
}

impl Cancel {
    /// Whether the run was cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(SeqCst)
    }

    /// A slot for one more thread of the run.
    pub(crate) fn slot(self: &Arc<Self>) -> WaitSlot {
        let id = self.next_slot.fetch_add(1, Relaxed);
        let address = Arc::new(AtomicUsize::new(0));
        self.lock().insert(id, address.clone());
        WaitSlot {
            cancel: self.clone(),
            id,
            address,
        }
    }

    /// Raises the flag: waits that start from now on end at once.
    pub(crate) fn raise(&self) {
        self.cancelled.store(true, SeqCst);
    }

    /// Lowers the flag, for a next run once no thread of this one is left.
    pub(crate) fn lower(&self) {
        self.cancelled.store(false, SeqCst);
    }

    /// Wakes every thread of the run that waits, until none does; call after [`raise`].
    ///
    /// # Blocking
    ///
    /// Until every waiting thread of the run has left its wait (each does at its next
    /// wake-up, which this call causes).
    ///
    /// [`raise`]: Self::raise
    pub(crate) fn wake_waiters(&self) {
        loop {
            let waiting: Vec<usize> = self
                .lock()
                .values()
                .map(|a| a.load(SeqCst))
                .filter(|&a| a != 0)
                .collect();
            if waiting.is_empty() {
                return;
            }
            for address in waiting {
                agentsync::notify_addr(address, usize::MAX);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<AtomicUsize>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One thread's registration with its run's [`Cancel`]; removed when dropped.
pub(crate) struct WaitSlot {
    cancel: Arc<Cancel>,
    id: u64,
    address: Arc<AtomicUsize>,
}

impl WaitSlot {
    /// Runs the blocking `wait` on the futex `address`, visible to the canceller meanwhile.
    ///
    /// # Errors
    ///
    /// [`Trap::Cancelled`] if the run was cancelled before or during the wait.
    pub(crate) fn wait<R>(
        &self,
        address: usize,
        wait: impl FnOnce() -> Result<R, Trap>,
    ) -> Result<R, Trap> {
        self.address.store(address, SeqCst);
        let result = if self.cancel.is_cancelled() {
            Err(Trap::Cancelled)
        } else {
            wait()
        };
        self.address.store(0, SeqCst);
        if self.cancel.is_cancelled() {
            return Err(Trap::Cancelled);
        }
        result
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        self.cancel.lock().remove(&self.id);
    }
}
