//! Loom models of the layer-3 primitives: each checks the primitive's own invariant (mutual
//! exclusion, permit bound, generations, FIFO per producer) and that nobody is left asleep
//! (loom reports a deadlock if every thread is parked, and each model ends by asserting that
//! no waiter is still queued). Async forms run in loom threads through `loom::future::block_on`,
//! so threads and tasks mix on one word.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p agentsync --release --test loom_sync --target-dir target/loom
//! ```
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

/// A non-atomic-looking increment: load then store. Two holders at once lose an update.
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
    loom::model(|| {
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
    loom::model(|| {
        let shared = Arc::new((Mutex::new(), Condvar::new(), AtomicBool::new(false)));
        let notifier = Arc::clone(&shared);
        let t = thread::spawn(move || {
            let _guard = notifier.0.lock().unwrap();
            notifier.2.store(true, Relaxed);
            notifier.1.notify_one();
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
    loom::model(|| {
        let shared = Arc::new((Mutex::new(), Condvar::new(), AtomicBool::new(false)));
        let notifier = Arc::clone(&shared);
        let t = thread::spawn(move || {
            notifier.2.store(true, Relaxed);
            let _guard = notifier.0.lock().unwrap();
            notifier.1.notify_all();
        });
        let mut guard = shared.0.lock().unwrap();
        while !shared.2.load(Relaxed) {
            shared.1.wait(&mut guard).unwrap();
        }
        drop(guard);
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}

#[test]
fn handoff_delivers_to_thread_and_task() {
    loom::model(|| {
        let slot = Arc::new(Handoff::new());
        let task = Arc::clone(&slot);
        let t = thread::spawn(move || assert_eq!(block_on(task.wait_async()), 7));
        let publisher = Arc::clone(&slot);
        let p = thread::spawn(move || publisher.publish(7).unwrap());
        assert_eq!(slot.wait(), Ok(7));
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
    loom::model(|| {
        let queue = Arc::new(Queue::<2>::new());
        let producer = Arc::clone(&queue);
        let t = thread::spawn(move || {
            let queue = producer.handle();
            block_on(queue.send_async(1)).unwrap();
            queue.send(2).unwrap();
            queue.send(3).unwrap();
            queue.close();
        });
        let q = queue.handle();
        assert_eq!(q.recv(), Ok(1));
        assert_eq!(block_on(q.recv_async()), Ok(2));
        assert_eq!(q.recv(), Ok(3));
        assert_eq!(q.recv(), Err(RecvError::Closed));
        t.join().unwrap();
        assert_eq!(total_waiters(), 0);
    });
}
