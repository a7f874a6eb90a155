//! The waiter table: cache-padded buckets, each a lock, an intrusive FIFO queue of records and a
//! count of the records queued in it.
//!
//! Locations are hashed to buckets by address; several locations may share a bucket and each
//! keeps its own arrival order inside it. There is no global lock.

use crate::loom::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::loom::{Mutex, MutexGuard};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr;

use super::node::{Node, Wake};

/// log2 of the number of buckets. Loom models use one: every key shares it (so per-key FIFO
/// inside a shared bucket is always exercised), and the path a model takes does not depend on
/// where the allocator happened to put its words, which loom would see as nondeterminism.
#[cfg(not(loom))]
const BUCKET_BITS: u32 = 9;
#[cfg(loom)]
const BUCKET_BITS: u32 = 0;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// One shard of the table, alone on its cache lines.
#[repr(align(128))]
pub(crate) struct Bucket {
    /// The records of every location that hashes here, oldest first.
    queue: Mutex<Queue>,
    /// How many records `queue` holds. Written under the lock; read without it by `notify` to
    /// skip empty buckets. The increment (`Acquire`) and the notifier's read-modify-write
    /// (`Release`) are the pair that makes that skip safe: see [`Bucket::has_waiters`].
    count: AtomicUsize,
    /// How long waits here last, which sets how long a blocking waiter spins before it parks.
    #[cfg(not(loom))]
    pub(crate) spin: crate::spin::Estimate,
}

/// An intrusive doubly linked list of [`Node`]s. Only ever touched under its bucket's lock.
pub(crate) struct Queue {
    head: *const Node,
    tail: *const Node,
}

// SAFETY: the queue only holds pointers to records that stay alive while linked (a record is
// unlinked by its owner before it is freed), and it is only used under its bucket's lock.
unsafe impl Send for Queue {}

impl Bucket {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Bucket {
            queue: Mutex::new(Queue {
                head: ptr::null(),
                tail: ptr::null(),
            }),
            count: AtomicUsize::new(0),
            spin: crate::spin::Estimate::new(),
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Bucket {
            queue: Mutex::new(Queue {
                head: ptr::null(),
                tail: ptr::null(),
            }),
            count: AtomicUsize::new(0),
        }
    }

    /// Locks the bucket.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked {
            bucket: self,
            queue: crate::loom::lock(&self.queue),
        }
    }

    /// Whether a notifier must look inside this bucket.
    ///
    /// The caller has just written the location (any ordering). A waiter increments `count`
    /// (`Acquire`, under the lock) *before* it reads the location. This read-modify-write is
    /// `Release`, so either it sees that increment, or the waiter's increment reads from it and
    /// the waiter's later read of the location sees the caller's write (it then reports
    /// `not-equal` and never sleeps). Either way no wake-up is lost.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.count.fetch_add(0, Release) != 0
    }

    /// How many records this bucket holds, for diagnostics.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Relaxed)
    }
}

/// A locked bucket.
pub(crate) struct Locked<'a> {
    bucket: &'a Bucket,
    queue: MutexGuard<'a, Queue>,
}

impl Locked<'_> {
    /// Announces a waiter that is about to check its location. Must precede that check: it is
    /// the waiter's half of the pair described at [`Bucket::has_waiters`].
    #[inline]
    pub(crate) fn announce(&mut self) {
        self.bucket.count.fetch_add(1, Acquire);
    }

    /// Withdraws an announcement whose check failed (nothing was queued).
    #[inline]
    pub(crate) fn withdraw(&mut self) {
        self.bucket.count.fetch_sub(1, Relaxed);
    }

    /// Appends an announced record at the tail.
    ///
    /// # Safety
    /// - `node` is valid, not linked in any queue, and hashes to this bucket;
    /// - it stays valid until it is unlinked (by [`Locked::unlink`] or [`Locked::take`]).
    pub(crate) unsafe fn push_back(&mut self, node: *const Node) {
        let tail = self.queue.tail;
        // SAFETY: `node` is valid and unlinked (caller); the lock is held.
        unsafe {
            (*node).touch();
            (*node).prev.with_mut(|prev| *prev = tail);
            (*node).next.with_mut(|next| *next = ptr::null());
        }
        if tail.is_null() {
            self.queue.head = node;
        } else {
            // SAFETY: `tail` is linked, hence valid; the lock is held.
            unsafe {
                (*tail).touch();
                (*tail).next.with_mut(|next| *next = node);
            }
        }
        self.queue.tail = node;
    }

    /// Unlinks `node` and moves it to the final `state`, returning its wake handle for the
    /// caller to use after unlocking.
    ///
    /// # Safety
    /// - `node` is linked in this bucket's queue (so it is still `WAITING`).
    pub(crate) unsafe fn unlink(&mut self, node: *const Node, state: super::node::State) -> Wake {
        // SAFETY: `node` is linked, so it and its neighbours are valid; the lock is held.
        unsafe {
            (*node).touch();
            let prev = (*node).prev.with_mut(|prev| *prev);
            let next = (*node).next.with_mut(|next| *next);
            if prev.is_null() {
                self.queue.head = next;
            } else {
                (*prev).touch();
                (*prev).next.with_mut(|p| *p = next);
            }
            if next.is_null() {
                self.queue.tail = prev;
            } else {
                (*next).touch();
                (*next).prev.with_mut(|n| *n = prev);
            }
            self.bucket.count.fetch_sub(1, Relaxed);
            (*node).touch();
            let wake = (*node).wake.with_mut(|wake| std::mem::take(&mut *wake));
            // Last access to the record: once this is visible the waiter may free it.
            (*node).state.store(state, Release);
            wake
        }
    }

    /// Unlinks up to `count` records waiting on `key`, oldest first, marking them notified and
    /// handing their wake handles to `woken`. Returns how many.
    pub(crate) fn take(&mut self, key: usize, count: usize, woken: &mut WakeList) -> usize {
        let mut taken = 0;
        let mut cursor = self.queue.head;
        while taken < count && !cursor.is_null() {
            // SAFETY: `cursor` is linked in this queue, hence valid; the lock is held. Its
            // successor is read before `unlink` hands the record back to its owner.
            unsafe {
                (*cursor).touch();
                let next = (*cursor).next.with_mut(|next| *next);
                if (*cursor).key == key {
                    woken.push(self.unlink(cursor, super::node::NOTIFIED));
                    taken += 1;
                }
                cursor = next;
            }
        }
        taken
    }

    /// How many records wait on `key`.
    pub(crate) fn count_key(&self, key: usize) -> usize {
        let mut n = 0;
        let mut cursor = self.queue.head;
        while !cursor.is_null() {
            // SAFETY: linked records are valid while the lock is held.
            unsafe {
                (*cursor).touch();
                n += usize::from((*cursor).key == key);
                cursor = (*cursor).next.with_mut(|next| *next);
            }
        }
        n
    }
}

/// Wake handles collected under a bucket lock and delivered after it is released. Holds the
/// first few inline, so a typical notify does not allocate.
#[derive(Default)]
pub(crate) struct WakeList {
    inline: [Option<Wake>; 8],
    len: usize,
    spill: Vec<Wake>,
}

impl WakeList {
    fn push(&mut self, wake: Wake) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(wake);
                self.len += 1;
            }
            None => self.spill.push(wake),
        }
    }

    /// Wakes everyone collected, in the order they were taken.
    ///
    /// A waker is user code and may panic. Every record here is already decided, so a wake-up
    /// left undelivered would strand its waiter: the others are still delivered, and then the
    /// first panic is resumed in the notifier.
    pub(crate) fn wake_all(mut self) {
        let mut panic = None;
        let inline = self.inline[..self.len].iter_mut().filter_map(Option::take);
        for wake in inline.chain(self.spill.drain(..)) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| wake.wake())) {
                panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }
}

#[cfg(not(loom))]
static TABLE: [Bucket; BUCKETS] = [const { Bucket::new() }; BUCKETS];

#[cfg(loom)]
loom::lazy_static! {
    static ref TABLE: Vec<Bucket> = (0..BUCKETS).map(|_| Bucket::new()).collect();
}

/// The index of the bucket that `key` hashes to (Fibonacci hashing of the address).
#[inline]
pub(crate) fn index(key: usize) -> usize {
    if BUCKET_BITS == 0 {
        return 0;
    }
    ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKET_BITS)) as usize
}

/// The bucket that `key` hashes to.
#[inline]
pub(crate) fn bucket(key: usize) -> &'static Bucket {
    &TABLE[index(key)]
}

/// The records queued in the whole table, for diagnostics.
pub(crate) fn total() -> usize {
    TABLE.iter().map(Bucket::len).sum()
}
