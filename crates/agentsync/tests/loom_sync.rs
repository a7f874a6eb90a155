//! Loom models of the layer-3 primitives: each checks the primitive's own invariant (mutual
//! exclusion, permit bound, generations, FIFO per producer) and that nobody is left asleep
//! (loom reports a deadlock if every thread is parked, and each model ends by asserting that
//! no waiter is still queued). Async forms run in loom threads through `loom::future::block_on`,
//! so threads and tasks mix on one word.
//!
//! Shape of the models: a thread that did a blocking futex wait does not block on anything else
//! afterwards except by exiting. Under loom the futex core's late `unpark` (sent after the
//! bucket lock is released, possibly after the waiter already saw its record decided and moved
//! on) wakes whatever loom object that thread blocks on next, which loom rejects; with std it
//! is a harmless stray park token. Reported to the futex core.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p agentsync --release --test loom_sync --target-dir target/loom
//! ```
//!
//! The models that guard cancellation and hand-off of a wake-up run with their own, deeper
//! preemption bound ([`model_deep`]): a mutant that reads a cancelled lock's wait result before
//! withdrawing its wait, or a locker that retakes the word with 1 after sleeping, shows only
//! at 4 preemptions.
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use agentsync::sync::{
    Barrier, Condvar, Event, Handoff, Latch, Mutex, Queue, RecvError, RwLock, Semaphore, SpinLock,
};
use agentsync::total_waiters;
use loom::future::block_on;
use loom::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use loom::sync::Arc;
use loom::thread;

/// Storage at a fixed address. The futex table picks buckets by address, so a model whose
/// words move between executions (fresh `Arc`s) can take different paths and loom reports
/// it as nondeterministic; models with two waited words live here instead.
struct Fixed<T>(std::cell::UnsafeCell<std::mem::MaybeUninit<T>>);

// SAFETY: `place` writes only while no thread of the model uses the value (see there); all
// other access is shared, through `&T` of a `Sync` type.
unsafe impl<T: Sync> Sync for Fixed<T> {}

impl<T> Fixed<T> {
    const fn new() -> Self {
        Fixed(std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()))
    }

    /// Puts a fresh `value` in place for this execution (the previous one is forgotten).
    ///
    /// Only call at the start of an execution of the one model that owns this storage: loom
    /// runs a model's executions one after another, and every thread of the previous one was
    /// joined before it ended.
    fn place(&'static self, value: T) -> &'static T {
        // SAFETY:
        // - no reference into the storage is in use (the previous execution is over, its
        //   threads joined), so this exclusive write races with nothing;
        // - the storage is a static: valid and aligned for `T` forever.
        unsafe { (*self.0.get()).write(value) }
    }
}

/// A non-atomic-looking increment: load then store. Two holders at once lose an update.
/// Preemptions explored by [`model_deep`] (`LOOM_DEEP_PREEMPTIONS` overrides).
const DEEP_PREEMPTIONS: usize = 4;

/// `loom::model` with a preemption bound of its own, deeper than the suite's
/// (`LOOM_MAX_PREEMPTIONS`), for the models whose bugs need more preemptions to show.
fn model_deep<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let bound = std::env::var("LOOM_DEEP_PREEMPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEEP_PREEMPTIONS);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    builder.check(f);
}

fn bump(counter: &AtomicUsize) {
    let value = counter.load(Relaxed);
    counter.store(value + 1, Relaxed);
}

/// Polls `future` once with a no-op waker; whether it finished.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = std::task::Waker::noop();
    future.poll(&mut Context::from_waker(waker))
}

#[test]
fn spin_lock_excludes() {
    loom::model(|| {
        let shared = Arc::new((SpinLock::new(), AtomicUsize::new(0)));
        let other = Arc::clone(&shared);
        let t = thread::spawn(move || {
            let _guard = other.0.lock();
            bump(&other.1);
        });
        {
            let _guard = shared.0.lock();
            bump(&shared.1);
        }
        t.join().unwrap();
        assert_eq!(shared.1.load(Relaxed), 2);
    });
}

#[test]
fn mutex_thread_and_task_exclude_and_wake() {
    loom::model(|| {
        let shared = Arc::new((Mutex::new(), AtomicUsize::new(0)));
        let task = Arc::clone(&shared);
        let t = thread::spawn(move || {
            block_on(async {
                let _guard = task.0.lock_async().await;
                bump(&task.1);
            })
        });
        {
            let _guard = shared.0.lock().unwrap();
            bump(&shared.1);
        }
        t.join().unwrap();
        assert_eq!(shared.1.load(Relaxed), 2);
        assert!(!shared.0.is_locked());
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn mutex_cancelled_async_lock_passes_the_wake_up_on() {
    model_deep(|| {
        let lock = Arc::new(Mutex::new());
        let held = lock.lock().unwrap().leak();
        let _ = held;
        let canceller = Arc::clone(&lock);
        let blocker = Arc::clone(&lock);
        // A task queues behind the holder and is dropped, maybe after the unlock picked it.
        let t1 = thread::spawn(move || {
            let mut future = pin!(canceller.lock_async());
            if let Poll::Ready(guard) = poll_once(future.as_mut()) {
                drop(guard);
            }
        });
        // A thread queues too: it must get the lock whatever the task did.
        let t2 = thread::spawn(move || drop(blocker.lock().unwrap()));
        // SAFETY: this thread locked it above and leaked the guard.
        unsafe { lock.force_unlock() };
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn semaphore_never_exceeds_permits() {
    loom::model(|| {
        let shared = Arc::new((Semaphore::new(1), AtomicUsize::new(0)));
        let task = Arc::clone(&shared);
        let t = thread::spawn(move || {
            block_on(task.0.acquire_many_async(1));
            assert_eq!(task.1.fetch_add(1, SeqCst), 0, "two holders of one permit");
            task.1.fetch_sub(1, SeqCst);
            task.0.release(1).unwrap();
        });
        shared.0.acquire().unwrap();
        assert_eq!(
            shared.1.fetch_add(1, SeqCst),
            0,
            "two holders of one permit"
        );
        shared.1.fetch_sub(1, SeqCst);
        shared.0.release(1).unwrap();
        t.join().unwrap();
        assert_eq!(shared.0.available(), 1);
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn condvar_notify_is_not_lost() {
    static SHARED: Fixed<(Mutex, Condvar, AtomicBool)> = Fixed::new();
    loom::model(|| {
        let shared = SHARED.place((Mutex::new(), Condvar::new(), AtomicBool::new(false)));
        let t = thread::spawn(move || {
            block_on(async {
                let _guard = shared.0.lock_async().await;
                shared.2.store(true, Relaxed);
                shared.1.notify_one();
            })
        });
        block_on(async {
            let mut guard = shared.0.lock_async().await;
            while !shared.2.load(Relaxed) {
                guard = shared.1.wait_async(guard).await;
            }
        });
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn condvar_blocking_wait_is_woken() {
    static SHARED: Fixed<(Mutex, Condvar, AtomicBool)> = Fixed::new();
    loom::model(|| {
        let shared = SHARED.place((Mutex::new(), Condvar::new(), AtomicBool::new(false)));
        let t = thread::spawn(move || {
            let mut guard = shared.0.lock().unwrap();
            while !shared.2.load(Relaxed) {
                shared.1.wait(&mut guard).unwrap();
            }
        });
        block_on(async {
            shared.2.store(true, Relaxed);
            let _guard = shared.0.lock_async().await;
            shared.1.notify_all();
        });
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn handoff_delivers_to_thread_and_task() {
    loom::model(|| {
        let slot = Arc::new(Handoff::new());
        let thread_waiter = Arc::clone(&slot);
        let t = thread::spawn(move || assert_eq!(thread_waiter.wait(), Ok(7)));
        let publisher = Arc::clone(&slot);
        let p = thread::spawn(move || publisher.publish(7).unwrap());
        assert_eq!(block_on(slot.wait_async()), 7);
        t.join().unwrap();
        p.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn event_set_then_reset_still_releases_the_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let setter = Arc::clone(&event);
        let t = thread::spawn(move || {
            setter.set();
            setter.reset();
        });
        block_on(event.wait_async());
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn latch_releases_after_the_last_count_down() {
    loom::model(|| {
        let shared = Arc::new((Latch::new(2), AtomicUsize::new(0)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let worker = Arc::clone(&shared);
                thread::spawn(move || {
                    worker.1.fetch_add(1, Relaxed);
                    worker.0.count_down();
                })
            })
            .collect();
        shared.0.wait().unwrap();
        assert_eq!(shared.1.load(Relaxed), 2, "released before every arrival");
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn barrier_generations_never_mix() {
    loom::model(|| {
        // Each party writes its round number before the barrier and reads the other's after.
        let shared = Arc::new((Barrier::new(2), [AtomicUsize::new(0), AtomicUsize::new(0)]));
        let other = Arc::clone(&shared);
        let t = thread::spawn(move || {
            let mut leaders = 0;
            for round in 1..=2 {
                other.1[1].store(round, Relaxed);
                leaders += usize::from(block_on(other.0.wait_async()).is_leader());
                assert!(
                    other.1[0].load(Relaxed) >= round,
                    "left round {round} early"
                );
            }
            leaders
        });
        let mut leaders = 0;
        for round in 1..=2 {
            shared.1[0].store(round, Relaxed);
            leaders += usize::from(shared.0.wait().unwrap().is_leader());
            assert!(
                shared.1[1].load(Relaxed) >= round,
                "left round {round} early"
            );
        }
        assert_eq!(leaders + t.join().unwrap(), 2, "one leader per generation");
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn rwlock_writer_excludes_reader() {
    loom::model(|| {
        let shared = Arc::new((RwLock::new(), AtomicUsize::new(0), AtomicUsize::new(0)));
        let writer = Arc::clone(&shared);
        let t = thread::spawn(move || {
            block_on(async {
                let _guard = writer.0.write_async().await;
                bump(&writer.1);
                bump(&writer.2);
            })
        });
        {
            let _guard = shared.0.read().unwrap();
            assert_eq!(shared.1.load(Relaxed), shared.2.load(Relaxed), "torn read");
        }
        {
            let _guard = shared.0.write().unwrap();
            bump(&shared.1);
            bump(&shared.2);
        }
        t.join().unwrap();
        assert_eq!(shared.1.load(Relaxed), 2);
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn queue_delivers_in_order_then_closes() {
    static QUEUE: Fixed<Queue<2>> = Fixed::new();
    loom::model(|| {
        let queue = QUEUE.place(Queue::new()).handle();
        let t = thread::spawn(move || {
            let got = [queue.recv(), queue.recv(), queue.recv(), queue.recv()];
            assert_eq!(got, [Ok(1), Ok(2), Ok(3), Err(RecvError::Closed)]);
        });
        block_on(async {
            for value in 1..=3 {
                queue.send_async(value).await.unwrap();
            }
        });
        queue.close();
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

/// Issue 10: an unlock wakes the queued task, another locker takes the free word (now 1, "no
/// sleepers"), the task retries, backs off (nothing registered) and is dropped. The thread
/// queued behind must still get the lock. Nothing after the drop can heal a lost wake-up: the
/// other locker unlocks a word that says "no sleepers", and the model ends.
#[test]
fn mutex_woken_task_dropped_while_backing_off_passes_the_wake_up_on() {
    model_deep(|| {
        let lock = Arc::new(Mutex::new());
        let held = lock.lock().unwrap();
        let mut task = Box::pin(lock.lock_async());
        // Under loom the backoff is one yield: the first poll snoozes, the second queues.
        while total_waiters() == 0 {
            assert!(poll_once(task.as_mut()).is_pending(), "acquired while held");
        }
        let blocker = Arc::clone(&lock);
        let behind = thread::spawn(move || drop(blocker.lock().unwrap()));
        drop(held); // wakes the oldest waiter: the task
        let other = lock.try_lock(); // takes the free word, unless the thread got it first
        drop(poll_once(task.as_mut())); // the task retries: it snoozes, or locks and unlocks
        drop(task);
        drop(other);
        behind.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(total_waiters(), 0);
    });
}

/// A `notify_one` picks a task waiting on the condvar; the task's future is dropped while it
/// backs off to lock the mutex again. The thread waiting behind it must get the notification.
#[test]
fn condvar_task_dropped_while_relocking_passes_the_notify_on() {
    static SHARED: Fixed<(Mutex, Condvar, AtomicBool)> = Fixed::new();
    loom::model(|| {
        let shared = SHARED.place((Mutex::new(), Condvar::new(), AtomicBool::new(false)));
        let mut task = Box::pin(shared.1.wait_async(shared.0.lock().unwrap()));
        assert!(
            poll_once(task.as_mut()).is_pending(),
            "sleeps on the condvar"
        );
        let t = thread::spawn(move || {
            let mut guard = shared.0.lock().unwrap();
            while !shared.2.load(Relaxed) {
                shared.1.wait(&mut guard).unwrap();
            }
        });
        let guard = shared.0.lock().unwrap();
        shared.2.store(true, Relaxed);
        shared.1.notify_one(); // the task is the oldest waiter
                               // Woken, it finds the mutex held and backs off (or it was the thread that was woken).
        drop(poll_once(task.as_mut()));
        drop(task);
        drop(guard);
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

/// One receiver asleep on an empty queue, exactly one send, and the model ends: the receiver
/// must get the value. (In a model with later sends or a close, those would heal a lost
/// wake-up.) The receiver runs its backoff round before the sender starts, and the sender
/// yields before it sends, so that "the receiver checks, the send runs up to its wake-up, the
/// receiver sleeps" fits in two preemptions.
#[test]
fn queue_one_send_wakes_the_sleeping_receiver() {
    static QUEUE: Fixed<Queue<2>> = Fixed::new();
    loom::model(|| {
        let queue = QUEUE.place(Queue::new()).handle();
        let mut receive = Box::pin(queue.recv_async());
        assert!(poll_once(receive.as_mut()).is_pending(), "nothing sent yet");
        let t = thread::spawn(move || assert_eq!(block_on(receive), Ok(1)));
        thread::yield_now();
        queue.send(1).unwrap();
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

/// The mirror: one sender asleep on a full queue, exactly one receive, and the model ends.
#[test]
fn queue_one_receive_wakes_the_sleeping_sender() {
    static QUEUE: Fixed<Queue<2>> = Fixed::new();
    loom::model(|| {
        let queue = QUEUE.place(Queue::new()).handle();
        queue.try_send(1).unwrap();
        queue.try_send(2).unwrap();
        let mut send = Box::pin(queue.send_async(3));
        assert!(poll_once(send.as_mut()).is_pending(), "the queue is full");
        let t = thread::spawn(move || block_on(send).unwrap());
        thread::yield_now();
        assert_eq!(queue.recv(), Ok(1));
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
        assert_eq!([queue.try_recv(), queue.try_recv()], [Ok(2), Ok(3)]);
    });
}
