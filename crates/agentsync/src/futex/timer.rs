//! The timer that fires the deadlines of async waits.
//!
//! One thread, started on first use, sleeps until the earliest deadline in a heap. Firing a
//! deadline goes through the bucket lock and acts only if the record is still queued, so a
//! notify that got there first wins and the wait reports `ok`. Entries of records that were
//! notified or cancelled stay in the heap until they are due or until the heap has doubled since
//! its last sweep, when they are dropped in one pass: memory stays proportional to live waits.

use super::node::{Node, TIMED_OUT, WAITING};
use super::table;
use crate::loom::Arc;

/// Moves `node` to `timed-out` if it is still queued, and wakes its waiter.
pub(crate) fn fire(node: &Node) {
    let mut bucket = table::bucket(node.key).lock();
    if node.state.load(crate::loom::atomic::Ordering::Relaxed) != WAITING {
        return;
    }
    // SAFETY: the record is `WAITING`, so it is linked in its bucket, whose lock we hold.
    let wake = unsafe { bucket.unlink(node, TIMED_OUT) };
    drop(bucket);
    wake.wake();
}

#[cfg(not(loom))]
mod thread {
    use super::{fire, Arc, Node, WAITING};
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::sync::{Condvar, Mutex, OnceLock};
    use std::time::Instant;

    struct Entry {
        deadline: Instant,
        seq: u64,
        node: Arc<Node>,
    }

    impl PartialEq for Entry {
        fn eq(&self, other: &Self) -> bool {
            (self.deadline, self.seq) == (other.deadline, other.seq)
        }
    }
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Entry {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
        }
    }

    #[derive(Default)]
    struct Heap {
        entries: BinaryHeap<Reverse<Entry>>,
        seq: u64,
        /// Sweep out decided records when the heap reaches this size.
        sweep_at: usize,
    }

    struct Timer {
        heap: Mutex<Heap>,
        wakeup: Condvar,
    }

    const MIN_SWEEP: usize = 1024;

    fn timer() -> &'static Timer {
        static TIMER: OnceLock<&'static Timer> = OnceLock::new();
        TIMER.get_or_init(|| {
            let timer: &'static Timer = Box::leak(Box::new(Timer {
                heap: Mutex::new(Heap {
                    sweep_at: MIN_SWEEP,
                    ..Heap::default()
                }),
                wakeup: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("agentsync-timer".into())
                .spawn(move || run(timer))
                .expect("agentsync: cannot start the timer thread");
            timer
        })
    }

    /// Schedules `node` to time out at `deadline`.
    pub(crate) fn arm(deadline: Instant, node: Arc<Node>) {
        let timer = timer();
        let mut heap = crate::loom::lock(&timer.heap);
        if heap.entries.len() >= heap.sweep_at {
            heap.entries.retain(|entry| {
                entry
                    .0
                    .node
                    .state
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == WAITING
            });
            heap.sweep_at = (heap.entries.len() * 2).max(MIN_SWEEP);
        }
        let earliest = heap
            .entries
            .peek()
            .is_none_or(|first| deadline < first.0.deadline);
        heap.seq += 1;
        let seq = heap.seq;
        heap.entries.push(Reverse(Entry {
            deadline,
            seq,
            node,
        }));
        drop(heap);
        if earliest {
            timer.wakeup.notify_one();
        }
    }

    fn run(timer: &'static Timer) {
        let mut due = Vec::new();
        let mut heap = crate::loom::lock(&timer.heap);
        loop {
            let now = Instant::now();
            while heap
                .entries
                .peek()
                .is_some_and(|first| first.0.deadline <= now)
            {
                if let Some(Reverse(entry)) = heap.entries.pop() {
                    due.push(entry.node);
                }
            }
            if !due.is_empty() {
                drop(heap);
                for node in due.drain(..) {
                    // A waker may panic. The panic hook has reported it, and there is nobody
                    // to hand it to: the timer must go on serving every other wait.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fire(&node)));
                }
                heap = crate::loom::lock(&timer.heap);
                continue;
            }
            heap = match heap.entries.peek() {
                Some(first) => {
                    let sleep = first.0.deadline.saturating_duration_since(now);
                    timer
                        .wakeup
                        .wait_timeout(heap, sleep)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
                None => timer
                    .wakeup
                    .wait(heap)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
        }
    }
}

#[cfg(not(loom))]
pub(crate) use thread::arm;

/// Under loom there is no timer thread: armed records wait in a list until a model calls
/// [`fire_armed`], standing in for the deadline.
#[cfg(loom)]
mod model {
    use super::{fire, Arc, Node};
    use std::time::Instant;

    loom::lazy_static! {
        static ref ARMED: loom::sync::Mutex<Vec<Arc<Node>>> = loom::sync::Mutex::new(Vec::new());
    }

    pub(crate) fn arm(_deadline: Instant, node: Arc<Node>) {
        crate::loom::lock(&ARMED).push(node);
    }

    /// Fires every armed deadline now (loom models only).
    pub fn fire_armed() {
        let armed = std::mem::take(&mut *crate::loom::lock(&ARMED));
        for node in armed {
            fire(&node);
        }
    }
}

#[cfg(loom)]
pub(crate) use model::arm;
#[cfg(loom)]
pub use model::fire_armed;
