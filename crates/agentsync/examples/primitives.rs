//! A short live demonstration of every layer-3 primitive, each with threads and async tasks
//! on the same words, each checking its own result. Meant to be ported into `agentsync tour`.
//!
//! ```text
//! cargo run -p agentsync --example primitives
//! ```
#![allow(missing_docs)]

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use agentsync::sync::{
    Barrier, Condvar, Event, Handoff, Latch, Mutex, Queue, RecvError, RwLock, Semaphore, SpinLock,
};
use futures_lite::future::block_on;

/// Runs `thread_work` on two threads and `task_work` as a task on a third, all at once.
fn threads_and_task(
    thread_work: impl Fn() + Sync,
    task_work: impl std::future::Future<Output = ()> + Send,
) {
    std::thread::scope(|s| {
        s.spawn(&thread_work);
        s.spawn(&thread_work);
        s.spawn(|| block_on(task_work));
    });
}

pub fn spin_lock() {
    let (lock, count) = (SpinLock::new(), AtomicUsize::new(0));
    let work = || {
        for _ in 0..1000 {
            let _guard = lock.lock();
            count.store(count.load(Relaxed) + 1, Relaxed);
        }
    };
    threads_and_task(work, async {
        for _ in 0..1000 {
            let _guard = lock.lock_async().await;
            count.store(count.load(Relaxed) + 1, Relaxed);
        }
    });
    assert_eq!(count.load(Relaxed), 3000);
    println!("spin lock : 2 threads + 1 task, 3000 increments, none lost");
}

pub fn mutex() {
    // The mutex is placed on a plain word, as it would be inside shared memory.
    let word = AtomicI32::new(0);
    // SAFETY: an aligned, zeroed (unlocked) word that outlives `lock`.
    let lock = unsafe { Mutex::from_ptr((&word as *const AtomicI32).cast()) };
    let count = AtomicUsize::new(0);
    let work = || {
        for _ in 0..1000 {
            let _guard = lock.lock().unwrap();
            count.store(count.load(Relaxed) + 1, Relaxed);
        }
    };
    threads_and_task(work, async {
        for _ in 0..1000 {
            let _guard = lock.lock_async().await;
            count.store(count.load(Relaxed) + 1, Relaxed);
        }
    });
    assert_eq!((count.load(Relaxed), word.load(Relaxed)), (3000, 0));
    println!("mutex     : 0/1/2 word, 3000 increments from threads and a task, word back to 0");
}

pub fn handoff_and_event() {
    let (slot, go) = (Handoff::new(), Event::new());
    std::thread::scope(|s| {
        let thread = s.spawn(|| slot.wait().unwrap());
        let task = s.spawn(|| block_on(slot.wait_async()));
        s.spawn(|| {
            go.wait().unwrap();
            slot.publish(42).unwrap();
        });
        go.set();
        assert_eq!((thread.join().unwrap(), task.join().unwrap()), (42, 42));
    });
    assert!(slot.publish(7).is_err());
    println!(
        "handoff   : one publish of 42 reached a thread and a task; a second publish is refused"
    );
    go.reset();
    assert_eq!(go.wait_timeout(Duration::from_millis(1)), Ok(false));
    println!("event     : set released the publisher; after reset a wait times out");
}

pub fn condvar() {
    let (lock, cond, ready) = (Mutex::new(), Condvar::new(), AtomicUsize::new(0));
    std::thread::scope(|s| {
        let thread = s.spawn(|| {
            let mut guard = lock.lock().unwrap();
            while ready.load(Relaxed) == 0 {
                cond.wait(&mut guard).unwrap();
            }
        });
        let task = s.spawn(|| {
            block_on(async {
                let mut guard = lock.lock_async().await;
                while ready.load(Relaxed) == 0 {
                    guard = cond.wait_async(guard).await;
                }
            })
        });
        std::thread::sleep(Duration::from_millis(10));
        let _guard = lock.lock().unwrap();
        ready.store(1, Relaxed);
        cond.notify_all();
        drop(_guard);
        thread.join().unwrap();
        task.join().unwrap();
    });
    println!("condvar   : notify_all woke a waiting thread and a waiting task");
}

pub fn semaphore() {
    let (permits, in_use, peak) = (Semaphore::new(2), AtomicUsize::new(0), AtomicUsize::new(0));
    let hold = || {
        peak.fetch_max(in_use.fetch_add(1, Relaxed) + 1, Relaxed);
        std::thread::sleep(Duration::from_micros(200));
        in_use.fetch_sub(1, Relaxed);
    };
    let work = || {
        for _ in 0..50 {
            permits.acquire().unwrap();
            hold();
            permits.release(1).unwrap();
        }
    };
    threads_and_task(work, async {
        for _ in 0..50 {
            permits.acquire_many_async(1).await;
            hold();
            permits.release(1).unwrap();
        }
    });
    assert!(peak.load(Relaxed) <= 2);
    println!(
        "semaphore : 2 permits, 3 contenders, at most {} held at once",
        peak.load(Relaxed)
    );
}

pub fn barrier_and_latch() {
    let (barrier, finished) = (Barrier::new(3), Latch::new(3));
    let leaders = AtomicUsize::new(0);
    let work = || {
        for _ in 0..10 {
            leaders.fetch_add(usize::from(barrier.wait().unwrap().is_leader()), Relaxed);
        }
        finished.count_down();
    };
    threads_and_task(work, async {
        for _ in 0..10 {
            leaders.fetch_add(usize::from(barrier.wait_async().await.is_leader()), Relaxed);
        }
        finished.count_down();
    });
    finished.wait().unwrap();
    assert_eq!((leaders.load(Relaxed), barrier.generation()), (10, 10));
    println!("barrier   : 3 parties, 10 generations, exactly one leader each");
    println!("latch     : released once all 3 parties counted down");
}

pub fn rwlock() {
    let (lock, a, b) = (RwLock::new(), AtomicUsize::new(0), AtomicUsize::new(0));
    let work = || {
        for i in 0..500 {
            if i % 4 == 0 {
                let _guard = lock.write().unwrap();
                a.fetch_add(1, Relaxed);
                b.fetch_add(1, Relaxed);
            } else {
                let _guard = lock.read().unwrap();
                assert_eq!(a.load(Relaxed), b.load(Relaxed));
            }
        }
    };
    threads_and_task(work, async {
        for _ in 0..125 {
            let _guard = lock.write_async().await;
            a.fetch_add(1, Relaxed);
            b.fetch_add(1, Relaxed);
        }
    });
    assert_eq!(a.load(Relaxed), 375);
    println!("rwlock    : readers never saw a half-done write; 375 writes counted");
}

pub fn queue() {
    let storage = Queue::<4>::new();
    let queue = storage.handle();
    let sum = std::thread::scope(|s| {
        let thread = s.spawn(|| (1..=100).for_each(|v| queue.send(v).unwrap()));
        let task = s.spawn(|| {
            block_on(async {
                for v in 101..=200 {
                    queue.send_async(v).await.unwrap();
                }
            })
        });
        let consumer = s.spawn(|| {
            let mut sum = 0;
            while let Ok(v) = queue.recv() {
                sum += v;
            }
            sum
        });
        thread.join().unwrap();
        task.join().unwrap();
        // Both producers are done: close, and the consumer drains what is left, then stops.
        queue.close();
        consumer.join().unwrap()
    });
    assert_eq!(sum, (1..=200).sum::<i32>());
    assert_eq!(queue.recv(), Err(RecvError::Closed));
    println!("queue     : 200 values through 4 slots from a thread and a task, sum {sum}");
}

fn main() {
    spin_lock();
    mutex();
    handoff_and_event();
    condvar();
    semaphore();
    barrier_and_latch();
    rwlock();
    queue();
}
