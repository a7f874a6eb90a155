//! Stress and behaviour tests for the layer-3 primitives, with threads and async tasks on the
//! same words at once. Each stress test asserts an invariant (exact counts, bounds, order) and
//! ends with no waiter queued on the primitive's words. Sizes are small by default (each well
//! under two seconds); set `AGENTSYNC_STRESS=1` for heavier runs (also used by the `#[ignore]`d
//! variants: `cargo test -p agentsync --test sync -- --ignored`).
#![allow(missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{
    AtomicI32, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use agentsync::sync::{
    Barrier, Condvar, Event, Handoff, Latch, Mutex, PublishError, Queue, QueueRef, RecvError,
    RwLock, Semaphore, SendError, SpinLock, TryRecvError, TrySendError,
};
use agentsync::{agent, waiter_count, WaitError};

mod common;
use common::{poll_once, CountingWaker};

/// Iterations per worker: small by default, larger with `AGENTSYNC_STRESS=1`.
fn rounds(default: usize) -> usize {
    if std::env::var_os("AGENTSYNC_STRESS").is_some() {
        default * 50
    } else {
        default
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// A load-then-store increment: two holders at once would lose updates.
fn bump(counter: &AtomicUsize) {
    let value = counter.load(Relaxed);
    std::hint::spin_loop();
    counter.store(value + 1, Relaxed);
}

/// Word storage for placing a primitive, so tests can ask the futex about its words.
#[repr(C, align(8))]
struct Words<const N: usize>([AtomicI32; N]);

impl<const N: usize> Words<N> {
    fn new() -> Self {
        Words(std::array::from_fn(|_| AtomicI32::new(0)))
    }
    fn queued(&self) -> usize {
        self.0.iter().map(waiter_count).sum()
    }
}

fn mutex_in(words: &Words<1>) -> &Mutex {
    // SAFETY: one aligned, zeroed (unlocked) word that outlives the borrow.
    unsafe { Mutex::from_ptr(words.0.as_ptr().cast()) }
}

fn counter_under_mutex(rounds: usize) {
    let words = Arc::new(Words::<1>::new());
    let counter = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (words, counter) = (Arc::clone(&words), Arc::clone(&counter));
            rt.spawn(async move {
                for _ in 0..rounds {
                    let _guard = mutex_in(&words).lock_async().await;
                    bump(&counter);
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..rounds {
                    let _guard = mutex_in(&words).lock().unwrap();
                    bump(&counter);
                }
            });
        }
        // A third kind of executor: futures-lite on a plain thread.
        s.spawn(|| {
            futures_lite::future::block_on(async {
                for _ in 0..rounds {
                    let _guard = mutex_in(&words).lock_async().await;
                    bump(&counter);
                }
            })
        });
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    assert_eq!(counter.load(Relaxed), 7 * rounds);
    assert!(!mutex_in(&words).is_locked());
    assert_eq!(words.queued(), 0);
}

#[test]
fn mutex_exact_counter_threads_and_tasks() {
    counter_under_mutex(rounds(2_000));
}

#[test]
#[ignore = "heavy: run with --ignored"]
fn mutex_exact_counter_threads_and_tasks_heavy() {
    counter_under_mutex(200_000);
}

#[test]
fn rwlock_exact_counter_and_no_torn_reads() {
    let rounds = rounds(1_000);
    let lock = Arc::new(RwLock::new());
    let pair = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let rt = runtime();
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let (lock, pair) = (Arc::clone(&lock), Arc::clone(&pair));
            rt.spawn(async move {
                for _ in 0..rounds {
                    if i == 0 {
                        let _guard = lock.read_async().await;
                        assert_eq!(pair.0.load(Relaxed), pair.1.load(Relaxed), "torn read");
                    } else {
                        let _guard = lock.write_async().await;
                        bump(&pair.0);
                        bump(&pair.1);
                    }
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for i in 0..3 {
            let (lock, pair) = (&lock, &pair);
            s.spawn(move || {
                for _ in 0..rounds {
                    if i == 0 {
                        let _guard = lock.read().unwrap();
                        assert_eq!(pair.0.load(Relaxed), pair.1.load(Relaxed), "torn read");
                    } else {
                        let _guard = lock.write().unwrap();
                        bump(&pair.0);
                        bump(&pair.1);
                    }
                }
            });
        }
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    assert_eq!(pair.0.load(Relaxed), 4 * rounds);
    assert!(lock.try_write().is_some());
}

#[test]
fn semaphore_never_exceeds_its_permits() {
    const PERMITS: usize = 3;
    let rounds = rounds(1_000);
    let semaphore = Arc::new(Semaphore::new(PERMITS as i32));
    let in_use = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let hold = |in_use: &AtomicUsize, peak: &AtomicUsize, n: usize| {
        let now = in_use.fetch_add(n, SeqCst) + n;
        assert!(now <= PERMITS, "{now} permits in use of {PERMITS}");
        peak.fetch_max(now, Relaxed);
        std::hint::spin_loop();
        in_use.fetch_sub(n, SeqCst);
    };
    let rt = runtime();
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let (semaphore, in_use, peak) = (semaphore.clone(), in_use.clone(), peak.clone());
            rt.spawn(async move {
                let n = 1 + i % 2;
                for _ in 0..rounds {
                    semaphore.acquire_many_async(n as u32).await;
                    hold(&in_use, &peak, n);
                    semaphore.release(n as u32).unwrap();
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for i in 0..3 {
            let (semaphore, in_use, peak) = (&semaphore, &in_use, &peak);
            s.spawn(move || {
                let n = 1 + i % 3;
                for _ in 0..rounds {
                    semaphore.acquire_many(n as u32).unwrap();
                    hold(in_use, peak, n);
                    semaphore.release(n as u32).unwrap();
                }
            });
        }
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    assert_eq!(semaphore.available(), PERMITS as i32);
    assert!(peak.load(Relaxed) <= PERMITS);
}

#[test]
fn barrier_generations_never_mix() {
    const PARTIES: usize = 4;
    let rounds = rounds(200);
    let barrier = Arc::new(Barrier::new(PARTIES as u16));
    // arrivals[r]: parties that reached round r. After the barrier of round r all have.
    let arrivals: Arc<Vec<AtomicUsize>> =
        Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
    let leaders: Arc<Vec<AtomicUsize>> =
        Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
    let check = |round: usize, leader: bool, arrivals: &[AtomicUsize], leaders: &[AtomicUsize]| {
        assert_eq!(arrivals[round].load(SeqCst), PARTIES, "round {round} mixed");
        if round + 1 < arrivals.len() {
            assert!(
                arrivals[round + 1].load(SeqCst) < PARTIES,
                "round {} passed early",
                round + 1
            );
        }
        leaders[round].fetch_add(usize::from(leader), SeqCst);
    };
    let rt = runtime();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (barrier, arrivals, leaders) = (barrier.clone(), arrivals.clone(), leaders.clone());
            rt.spawn(async move {
                for round in 0..arrivals.len() {
                    arrivals[round].fetch_add(1, SeqCst);
                    let leader = barrier.wait_async().await.is_leader();
                    check(round, leader, &arrivals, &leaders);
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (barrier, arrivals, leaders) = (&barrier, &arrivals, &leaders);
            s.spawn(move || {
                for round in 0..arrivals.len() {
                    arrivals[round].fetch_add(1, SeqCst);
                    let leader = barrier.wait().unwrap().is_leader();
                    check(round, leader, arrivals, leaders);
                }
            });
        }
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    assert!(
        leaders.iter().all(|l| l.load(SeqCst) == 1),
        "one leader per generation"
    );
    assert_eq!(barrier.generation() as usize, rounds % 65_536);
}

/// Producers (threads and tasks) send `producer << 20 | sequence`; consumers (threads and
/// tasks) receive until closed. Every item arrives exactly once, in order per producer.
fn queue_exactly_once_in_order(items: usize) {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    let queue = Arc::new(Queue::<4>::new());
    let producers_left = Arc::new(Latch::new(PRODUCERS as i32));
    let rt = runtime();
    let mut tasks = Vec::new();
    for producer in 0..2 {
        let (queue, left) = (queue.clone(), producers_left.clone());
        tasks.push(rt.spawn(async move {
            for sequence in 0..items {
                let value = (producer << 20 | sequence) as i32;
                queue.handle().send_async(value).await.unwrap();
            }
            left.count_down();
            Vec::new()
        }));
    }
    for _ in 0..2 {
        let queue = queue.clone();
        tasks.push(rt.spawn(async move {
            let mut got = Vec::new();
            while let Ok(value) = queue.handle().recv_async().await {
                got.push(value);
            }
            got
        }));
    }
    let mut received: Vec<Vec<i32>> = std::thread::scope(|s| {
        for producer in 2..PRODUCERS {
            let (queue, left) = (&queue, &producers_left);
            s.spawn(move || {
                for sequence in 0..items {
                    queue
                        .handle()
                        .send((producer << 20 | sequence) as i32)
                        .unwrap();
                }
                left.count_down();
            });
        }
        let closer = s.spawn(|| {
            producers_left.wait().unwrap();
            queue.handle().close()
        });
        let consumers: Vec<_> = (2..CONSUMERS)
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        match queue.handle().recv() {
                            Ok(value) => got.push(value),
                            Err(RecvError::Closed) => return got,
                            Err(other) => panic!("recv failed: {other}"),
                        }
                    }
                })
            })
            .collect();
        assert!(closer.join().unwrap());
        consumers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for task in tasks {
        received.push(rt.block_on(task).unwrap());
    }
    let mut seen: HashMap<i32, usize> = HashMap::new();
    for got in &received {
        let mut last: HashMap<i32, i32> = HashMap::new();
        for &value in got {
            *seen.entry(value).or_default() += 1;
            let (producer, sequence) = (value >> 20, value & 0xF_FFFF);
            let previous = last.insert(producer, sequence);
            assert!(
                previous.is_none_or(|p| p < sequence),
                "producer {producer} reordered"
            );
        }
    }
    assert_eq!(seen.len(), PRODUCERS * items, "items lost");
    assert!(seen.values().all(|&n| n == 1), "an item was received twice");
    assert_eq!(queue.handle().try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn queue_every_item_received_exactly_once_in_order_per_producer() {
    queue_exactly_once_in_order(rounds(2_000));
}

#[test]
#[ignore = "heavy: run with --ignored"]
fn queue_every_item_received_exactly_once_heavy() {
    queue_exactly_once_in_order(200_000);
}

/// Many tasks try to lock with random tiny timeouts (their futures are dropped mid-wait, some
/// right after an unlock picked them) while threads lock normally. Nothing may deadlock, and
/// at the end the mutex is free with nobody queued.
fn cancel_storm(rounds: usize) {
    let words = Arc::new(Words::<1>::new());
    let counter = Arc::new(AtomicUsize::new(0));
    let task_locks = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (words, counter, task_locks) = (words.clone(), counter.clone(), task_locks.clone());
            rt.spawn(async move {
                let mut rng = fastrand::Rng::with_seed(i);
                for _ in 0..rounds {
                    let wait = Duration::from_micros(rng.u64(0..50));
                    let lock = mutex_in(&words);
                    if let Ok(_guard) = tokio::time::timeout(wait, lock.lock_async()).await {
                        bump(&counter);
                        task_locks.fetch_add(1, Relaxed);
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let done = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..rounds {
                        let _guard = mutex_in(&words).lock().unwrap();
                        bump(&counter);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        2 * rounds
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    assert_eq!(
        counter.load(Relaxed),
        done + task_locks.load(Relaxed),
        "lost updates"
    );
    assert!(!mutex_in(&words).is_locked());
    assert_eq!(words.queued(), 0);
}

#[test]
fn cancelled_async_acquires_never_deadlock() {
    cancel_storm(rounds(300));
}

#[test]
fn cancelled_semaphore_acquires_never_strand_permits() {
    let rounds = rounds(300);
    let words = Arc::new(Words::<1>::new());
    words.0[0].store(2, Relaxed);
    // SAFETY: an aligned word holding a permit count, outliving every borrow below.
    let semaphore = |words: &Words<1>| unsafe { Semaphore::from_ptr(words.0.as_ptr().cast()) };
    let rt = runtime();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let words = words.clone();
            rt.spawn(async move {
                let mut rng = fastrand::Rng::with_seed(i);
                for _ in 0..rounds {
                    let wait = Duration::from_micros(rng.u64(0..50));
                    let permits = semaphore(&words);
                    if tokio::time::timeout(wait, permits.acquire_many_async(1))
                        .await
                        .is_ok()
                    {
                        tokio::task::yield_now().await;
                        permits.release(1).unwrap();
                    }
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..rounds {
                    semaphore(&words).acquire_many(2).unwrap();
                    semaphore(&words).release(2).unwrap();
                }
            });
        }
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    assert_eq!(semaphore(&words).available(), 2);
    assert_eq!(words.queued(), 0);
}

#[test]
#[ignore = "heavy: run with --ignored"]
fn cancelled_async_acquires_never_deadlock_heavy() {
    cancel_storm(20_000);
}

#[test]
fn blocking_forms_on_an_agent_that_cannot_block_return_the_error() {
    let (mutex, rwlock, semaphore) = (Mutex::new(), RwLock::new(), Semaphore::new(0));
    let (handoff, event, latch, barrier) =
        (Handoff::new(), Event::new(), Latch::new(1), Barrier::new(2));
    let (condvar, queue) = (Condvar::new(), Queue::<2>::new());
    let held = mutex.lock().unwrap();
    let read = rwlock.read().unwrap();
    agent::non_blocking(|| {
        let cannot = Err(WaitError::CannotBlock);
        assert_eq!(mutex.lock().map(drop), cannot);
        assert_eq!(mutex.lock_timeout(Duration::from_secs(1)).map(drop), cannot);
        assert_eq!(rwlock.write().map(drop), cannot);
        assert!(rwlock.read().is_ok(), "a free read lock is still taken");
        assert_eq!(semaphore.acquire(), cannot);
        assert_eq!(handoff.wait().map(drop), cannot);
        assert_eq!(event.wait(), cannot);
        assert_eq!(latch.wait(), cannot);
        assert_eq!(barrier.wait().map(drop), cannot);
        let q = queue.handle();
        assert_eq!(q.recv(), Err(RecvError::CannotBlock));
        q.send(1).unwrap();
        q.send(2).unwrap();
        assert_eq!(q.send(3), Err(SendError::CannotBlock(3)));
        assert!(SpinLock::new().lock_timeout(Duration::ZERO).is_some());
    });
    drop(read);
    drop(held);
    let mut guard = mutex.lock().unwrap();
    agent::non_blocking(|| assert_eq!(condvar.wait(&mut guard), Err(WaitError::CannotBlock)));
    assert!(
        mutex.is_locked(),
        "the condvar error leaves the mutex locked"
    );
}

#[test]
fn timed_forms_time_out_and_leave_no_waiter() {
    let words = Words::<1>::new();
    let mutex = mutex_in(&words);
    let _held = mutex.lock().unwrap();
    let short = Duration::from_millis(5);
    assert!(mutex.lock_timeout(short).unwrap().is_none());
    assert!(futures_lite::future::block_on(mutex.lock_async_timeout(short)).is_none());
    assert_eq!(words.queued(), 0);
    let semaphore = Semaphore::new(0);
    assert_eq!(semaphore.acquire_many_timeout(1, short), Ok(false));
    assert!(!futures_lite::future::block_on(
        semaphore.acquire_many_async_timeout(1, short)
    ));
    assert_eq!(Handoff::new().wait_timeout(short), Ok(None));
    assert_eq!(Latch::new(1).wait_timeout(short), Ok(false));
    let queue = Queue::<2>::new();
    let q = queue.handle();
    assert_eq!(q.recv_timeout(short), Err(RecvError::TimedOut));
    q.send(4).unwrap();
    q.send(5).unwrap();
    assert_eq!(q.send_timeout(6, short), Err(SendError::TimedOut(6)));
    assert_eq!(
        futures_lite::future::block_on(q.send_async_timeout(7, short)),
        Err(SendError::TimedOut(7))
    );
}

#[test]
fn failed_sends_hand_the_value_back() {
    let queue = Queue::<2>::new();
    let q = queue.handle();
    q.try_send(1).unwrap();
    q.try_send(2).unwrap();
    assert_eq!(q.try_send(3), Err(TrySendError::Full(3)));
    assert!(q.close());
    assert!(!q.close());
    assert_eq!(q.try_send(4), Err(TrySendError::Closed(4)));
    assert_eq!(q.send(5), Err(SendError::Closed(5)));
    assert_eq!(
        futures_lite::future::block_on(q.send_async(6)),
        Err(SendError::Closed(6))
    );
    assert_eq!(q.recv(), Ok(1));
    assert_eq!(q.recv(), Ok(2));
    assert_eq!(q.recv(), Err(RecvError::Closed));
    assert_eq!(
        TrySendError::Full(3).to_string(),
        "queue full; value 3 not sent"
    );
}

#[test]
fn queue_placed_in_words_matches_the_documented_layout() {
    let words = Words::<{ 64 + 2 * 4 }>::new();
    assert_eq!(QueueRef::size_for(4), std::mem::size_of_val(&words));
    assert_eq!(std::mem::align_of::<Queue<4>>(), 128);
    assert_eq!(
        std::mem::size_of::<Queue<4>>(),
        QueueRef::size_for(4).next_multiple_of(128)
    );
    // SAFETY: aligned words of the right size, outliving `queue`, used only as this queue.
    let queue = unsafe { QueueRef::init(words.0.as_ptr(), 4) }.unwrap();
    assert_eq!(queue.capacity(), 4);
    assert_eq!(words.0[1].load(Relaxed), 4, "capacity is word 1");
    queue.send(11).unwrap();
    queue.send(12).unwrap();
    assert_eq!(words.0[0].load(Relaxed), 2, "head is word 0");
    assert_eq!(words.0[65].load(Relaxed), 11, "slot 0 value is word 65");
    assert_eq!(words.0[67].load(Relaxed), 12, "slot 1 value is word 67");
    assert_eq!(queue.recv(), Ok(11));
    assert_eq!(
        words.0[32].load(Relaxed),
        1,
        "tail is word 32, 128 bytes after head"
    );
    // A second view of the same words sees the same queue.
    // SAFETY: as above; the words hold an initialised queue.
    let again = unsafe { QueueRef::from_ptr(words.0.as_ptr()) }.unwrap();
    assert_eq!(again.recv(), Ok(12));
    assert!(
        // SAFETY: as above.
        unsafe { QueueRef::init(words.0.as_ptr(), 3) }.is_err(),
        "3 is not a power of two"
    );
    assert!(
        // SAFETY: as above.
        unsafe { QueueRef::init(words.0.as_ptr(), 1) }.is_err(),
        "1 slot is too few"
    );
}

#[test]
fn mutex_word_follows_the_0_1_2_protocol() {
    let words = Words::<1>::new();
    let mutex = mutex_in(&words);
    let guard = mutex.lock().unwrap();
    assert_eq!(words.0[0].load(Relaxed), 1);
    std::thread::scope(|s| {
        s.spawn(|| drop(mutex.lock().unwrap()));
        while words.queued() == 0 {
            std::thread::yield_now();
        }
        assert_eq!(
            words.0[0].load(Relaxed),
            2,
            "a sleeper marks the word contended"
        );
        drop(guard);
    });
    assert_eq!(words.0[0].load(Relaxed), 0);
}

/// Polls an async acquire until it sleeps in the queue of `words`: a contended lock first backs
/// off, yielding to its executor. Returns how many polls that took.
fn poll_until_queued<F, const N: usize>(future: &mut F, waker: &Waker, words: &Words<N>) -> usize
where
    F: std::future::Future + Unpin,
{
    let queued = words.queued();
    let mut polls = 0;
    while words.queued() == queued {
        assert!(poll_once(future, waker).is_pending(), "acquired while held");
        polls += 1;
        assert!(polls < 1000, "the backoff never ended in the queue");
    }
    polls
}

#[test]
fn a_contended_task_yields_to_its_executor_before_it_queues() {
    let words = Words::<1>::new();
    let mutex = mutex_in(&words);
    let guard = mutex.lock().unwrap();
    let (wakes, waker) = CountingWaker::new();

    // A task backing off has registered nothing: dropping it leaves no trace.
    let mut dropped = Box::pin(mutex.lock_async());
    assert!(poll_once(&mut dropped, &waker).is_pending());
    assert_eq!(wakes.count(), 1, "it asked to be polled again");
    drop(dropped);
    assert_eq!(words.queued(), 0);
    assert_eq!(
        words.0[0].load(Relaxed),
        1,
        "the word still says: held, no sleepers"
    );

    // Each pending poll of the backoff asks to be polled again and queues nothing; once the
    // backoff is used up the task sleeps in the word's queue instead.
    let (wakes, waker) = CountingWaker::new();
    let mut task = Box::pin(mutex.lock_async());
    let polls = poll_until_queued(&mut task, &waker, &words);
    assert!(polls >= 2, "no executor yield before queueing");
    assert_eq!(wakes.count(), polls - 1, "every poll but the last yielded");
    assert_eq!(words.0[0].load(Relaxed), 2, "the sleeper marked the word");

    drop(guard);
    assert_eq!(wakes.count(), polls, "the unlock woke the queued task");
    let held = match poll_once(&mut task, &waker) {
        Poll::Ready(held) => held,
        Poll::Pending => panic!("woken but not given the lock"),
    };
    assert_eq!(words.queued(), 0);
    drop(held);
    assert_eq!(words.0[0].load(Relaxed), 0);
}

#[test]
fn handoff_publishes_once() {
    let slot = Handoff::new();
    slot.publish(3).unwrap();
    assert_eq!(slot.publish(4), Err(PublishError(4)));
    assert_eq!(slot.try_get(), Some(3));
    assert_eq!(futures_lite::future::block_on(slot.wait_async()), 3);
}

#[test]
fn event_wakes_threads_and_tasks_and_resets() {
    let event = Arc::new(Event::new());
    let rt = runtime();
    let task = rt.spawn({
        let event = event.clone();
        async move { event.wait_async().await }
    });
    std::thread::scope(|s| {
        let waiter = s.spawn(|| event.wait().unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert!(event.set());
        assert!(!event.set());
        waiter.join().unwrap();
    });
    rt.block_on(task).unwrap();
    event.reset();
    assert!(!event.is_set());
}

#[test]
fn latch_works_as_a_wait_group() {
    let group = Arc::new(agentsync::sync::WaitGroup::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    group.add(3);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                done.fetch_add(1, Relaxed);
                group.done();
            });
        }
        futures_lite::future::block_on(group.wait_async());
        assert_eq!(done.load(Relaxed), 3);
    });
    assert!(!group.count_down(), "counting below zero is refused");
    assert_eq!(group.count(), 0);
}

#[test]
fn condvar_notify_all_wakes_threads_and_tasks() {
    let shared = Arc::new((Mutex::new(), Condvar::new(), AtomicUsize::new(0)));
    let rt = runtime();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let shared = shared.clone();
            rt.spawn(async move {
                let mut guard = shared.0.lock_async().await;
                while shared.2.load(Relaxed) == 0 {
                    guard = shared.1.wait_async(guard).await;
                }
            })
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut guard = shared.0.lock().unwrap();
                while shared.2.load(Relaxed) == 0 {
                    shared.1.wait(&mut guard).unwrap();
                }
            });
        }
        std::thread::sleep(Duration::from_millis(5));
        let _guard = shared.0.lock().unwrap();
        shared.2.store(1, Relaxed);
        shared.1.notify_all();
    });
    for task in tasks {
        rt.block_on(task).unwrap();
    }
}

#[test]
fn semaphore_release_overflow_is_reported() {
    let semaphore = Semaphore::new(i32::MAX - 1);
    let error = semaphore.release(2).unwrap_err();
    assert_eq!(error.available, i32::MAX - 1);
    assert_eq!(semaphore.available(), i32::MAX - 1);
    assert!(!semaphore.try_acquire_many(u32::MAX));
}

#[test]
fn async_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let (m, r, s, q) = (
        Mutex::new(),
        RwLock::new(),
        Semaphore::new(1),
        Queue::<2>::new(),
    );
    is_send(&m.lock_async());
    is_send(&r.write_async());
    is_send(&s.acquire_many_async(1));
    is_send(&q.handle().recv_async());
}

#[cfg(feature = "lock_api")]
#[test]
fn lock_api_mutex_and_rwlock_count_exactly() {
    let counter = agentsync::Mutex::new(0usize);
    let table = agentsync::RwLock::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..rounds(1_000) {
                    *counter.lock() += 1;
                    *table.write() += 1;
                    let _ = *table.read();
                }
            });
        }
    });
    assert_eq!(*counter.lock(), 4 * rounds(1_000));
    assert_eq!(*table.read(), 4 * rounds(1_000));
    assert!(counter.try_lock_for(Duration::from_millis(1)).is_some());
}

#[test]
fn dropped_woken_async_lock_passes_the_wake_up_to_the_next_waiter() {
    let words = Words::<1>::new();
    let mutex = mutex_in(&words);
    let held = mutex.lock().unwrap();
    let mut first = Box::pin(mutex.lock_async());
    poll_until_queued(&mut first, &CountingWaker::new().1, &words);
    assert_eq!(words.queued(), 1, "the task is queued first");
    std::thread::scope(|s| {
        let second = s.spawn(|| drop(mutex.lock().unwrap()));
        while words.queued() < 2 {
            std::thread::yield_now();
        }
        // The unlock notifies the oldest waiter: the task, which is then dropped unpolled.
        drop(held);
        drop(first);
        // Without forwarding, the thread would sleep forever on a free mutex.
        second.join().unwrap();
    });
    assert!(!mutex.is_locked());
    assert_eq!(words.queued(), 0);
}

/// Issue 10's lost wake-up: an unlock wakes the queued task, another locker takes the free word
/// (it is now 1: "no sleepers"), the task retries, backs off with nothing registered, and is
/// dropped. A thread queued behind it must still get the lock.
#[test]
fn woken_async_lock_dropped_while_backing_off_passes_the_wake_up_on() {
    let words = Arc::new(Words::<1>::new());
    let mutex = mutex_in(&words);
    let held = mutex.lock().unwrap();
    let (_, waker) = CountingWaker::new();
    let mut task = Box::pin(mutex.lock_async());
    poll_until_queued(&mut task, &waker, &words);
    // A thread queues behind the task; `'static` so that a lost wake-up fails the test instead
    // of hanging it in a scope's join.
    let got_it = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let behind = std::thread::spawn({
        let (words, got_it) = (Arc::clone(&words), Arc::clone(&got_it));
        move || {
            drop(mutex_in(&words).lock().unwrap());
            got_it.store(true, SeqCst);
        }
    });
    common::eventually(
        "the thread never queued",
        || words.queued() == 2,
        std::thread::yield_now,
    );

    drop(held); // notifies the oldest waiter: the task
    let other = mutex.try_lock().expect("the unlock left the word free");
    assert_eq!(words.0[0].load(SeqCst), 1, "taken by a plain try_lock");
    assert!(
        poll_once(&mut task, &waker).is_pending(),
        "the task retries and backs off"
    );
    drop(task); // the operation under test

    // Right after the drop: nobody may sleep on a word that says "no sleepers".
    let (queued, word) = (words.queued(), words.0[0].load(SeqCst));
    assert!(
        queued == 0 || word == 2,
        "{queued} waiter(s) asleep while the word is {word}: the unlock will notify no one"
    );
    drop(other);
    common::eventually(
        "the thread queued behind the dropped task never got the lock",
        || got_it.load(SeqCst),
        std::thread::yield_now,
    );
    behind.join().unwrap();
    assert!(!mutex.is_locked());
    assert_eq!(words.queued(), 0);
}

/// As above, but the task has a deadline that passes while it backs off: it gives up at once
/// (a timed acquire never snoozes past its deadline) and must pass the wake-up on.
#[test]
fn woken_async_lock_timing_out_while_backing_off_passes_the_wake_up_on() {
    let words = Arc::new(Words::<1>::new());
    let mutex = mutex_in(&words);
    let held = mutex.lock().unwrap();
    let (_, waker) = CountingWaker::new();
    let timeout = Duration::from_millis(50);
    let mut task = Box::pin(mutex.lock_async_timeout(timeout));
    poll_until_queued(&mut task, &waker, &words);
    let behind = std::thread::spawn({
        let words = Arc::clone(&words);
        move || drop(mutex_in(&words).lock().unwrap())
    });
    common::eventually(
        "the thread never queued",
        || words.queued() == 2,
        std::thread::yield_now,
    );
    drop(held);
    let other = mutex.try_lock().expect("the unlock left the word free");
    std::thread::sleep(2 * timeout);
    let gave_up = std::cell::Cell::new(None);
    common::eventually(
        "the timed acquire never gave up",
        || gave_up.get().is_some(),
        || {
            if let Poll::Ready(guard) = poll_once(&mut task, &waker) {
                gave_up.set(Some(guard.is_none()));
            }
        },
    );
    assert_eq!(gave_up.get(), Some(true), "timed out, not locked");
    let (queued, word) = (words.queued(), words.0[0].load(SeqCst));
    assert!(
        queued == 0 || word == 2,
        "{queued} waiter(s) asleep while the word is {word}: the unlock will notify no one"
    );
    drop(other);
    behind.join().unwrap();
    assert_eq!(words.queued(), 0);
}

/// Two blocking lockers asleep behind the holder both get the mutex after the holder's one
/// unlock: the first to wake takes the word with 2 (it has slept, others may sleep too), so its
/// own unlock wakes the second. A locker that retook the word with 1 would leave the second
/// asleep with the mutex free. Bounded: each acquisition must come within 10 s, so the bug is
/// a failure, not a hang.
#[test]
fn two_sleeping_lockers_both_get_the_mutex_after_one_unlock() {
    use std::sync::mpsc;
    for _ in 0..rounds(20) {
        let words = Arc::new(Words::<1>::new());
        let guard = mutex_in(&words).lock().unwrap();
        let (tx, rx) = mpsc::channel();
        for _ in 0..2 {
            let (words, tx) = (Arc::clone(&words), tx.clone());
            std::thread::spawn(move || {
                // Reported after the unlock, so that the check below sees the mutex free.
                drop(mutex_in(&words).lock().unwrap());
                let _ = tx.send(());
            });
        }
        // Both asleep in the futex before the one unlock.
        while words.queued() < 2 {
            std::thread::yield_now();
        }
        drop(guard);
        for n in 1..=2 {
            assert!(
                rx.recv_timeout(Duration::from_secs(10)).is_ok(),
                "locker {n} of 2 never got the mutex after the unlock"
            );
        }
        assert!(!mutex_in(&words).is_locked());
        assert_eq!(words.queued(), 0);
    }
}
