//! Primitives placed inside a `SharedMemory`: used from threads and tasks through the memory,
//! interoperating with code that runs the same protocol through the `Atomics` facade, and
//! rejected clearly at a bad offset.
#![cfg(not(loom))]

use agentsync::memory::{Atomics, Int32Array, MemoryError, SharedMemory};
use agentsync::sync::{
    Barrier, Condvar, Event, Handoff, Latch, Mutex, PlaceError, QueueRef, RecvError, RwLock,
    Semaphore, SendError, SpinLock, TryRecvError, TrySendError,
};
use futures_lite::future::block_on;
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

mod common;

/// The guide's three-state lock through the facade: the same 0 / 1 / 2 protocol as `Mutex`.
fn facade_lock(ia: &Int32Array, i: usize) {
    let mut c = Atomics::compare_exchange(ia, i, 0, 1).unwrap();
    if c == 0 {
        return;
    }
    if c != 2 {
        c = Atomics::exchange(ia, i, 2).unwrap();
    }
    while c != 0 {
        Atomics::wait(ia, i, 2, None).unwrap();
        c = Atomics::exchange(ia, i, 2).unwrap();
    }
}

fn facade_unlock(ia: &Int32Array, i: usize) {
    if Atomics::exchange(ia, i, 0).unwrap() == 2 {
        Atomics::notify(ia, i, 1).unwrap();
    }
}

#[test]
fn placed_mutex_interoperates_with_the_facade_lock_and_async_tasks() {
    let memory = SharedMemory::new(1, 1).unwrap();
    let ia = Int32Array::new(&memory);
    let mutex: &Mutex = memory.place(0).unwrap();
    const ROUNDS: usize = 3_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        // Threads through the Rust primitive.
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let _guard = mutex.lock().unwrap();
                    ia.set(1, ia.get(1).unwrap() + 1);
                }
            });
        }
        // Threads through the JavaScript-shaped code on the same word.
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    facade_lock(&ia, 0);
                    ia.set(1, ia.get(1).unwrap() + 1);
                    facade_unlock(&ia, 0);
                }
            });
        }
        // Async tasks through the same placed mutex.
        s.spawn(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let memory = memory.clone();
                        tokio::spawn(async move {
                            let mutex: &Mutex = memory.place(0).unwrap();
                            let ia = Int32Array::new(&memory);
                            for _ in 0..ROUNDS {
                                let _guard = mutex.lock_async().await;
                                ia.set(1, ia.get(1).unwrap() + 1);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        });
    });
    assert_eq!(ia.get(1), Some((6 * ROUNDS) as i32));
    assert_eq!(Atomics::load(&ia, 0), Ok(0), "the lock word is free again");
    assert_eq!(agentsync::waiter_count_addr(memory.as_ptr() as usize), 0);
}

#[test]
fn placed_barrier_and_semaphore_keep_their_initial_words() {
    let memory = SharedMemory::new(1, 1).unwrap();
    let barrier = memory.place_new(16, Barrier::new(3)).unwrap();
    let permits = memory.place_new(24, Semaphore::new(2)).unwrap();
    let inside = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..50 {
                    barrier.wait().unwrap();
                    let same: &Semaphore = memory.place(24).unwrap();
                    same.acquire().unwrap();
                    let now = inside.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    inside.fetch_sub(1, SeqCst);
                    same.release(1).unwrap();
                }
            });
        }
    });
    assert!(
        peak.load(SeqCst) <= 2,
        "the semaphore never exceeds its 2 permits"
    );
    assert!(permits.try_acquire_many(2), "both permits are back");
}

#[test]
fn placed_queue_carries_items_between_threads_in_order() {
    let memory = SharedMemory::new(1, 1).unwrap();
    let queue = QueueRef::place_new(&memory, 1024, 16).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let queue = QueueRef::place(&memory, 1024).unwrap();
            for i in 0..2_000 {
                queue.send(i).unwrap();
            }
            queue.close();
        });
        let mut expected = 0;
        while let Ok(value) = queue.recv() {
            assert_eq!(value, expected);
            expected += 1;
        }
        assert_eq!(expected, 2_000);
    });
}

#[test]
fn placing_at_a_bad_offset_is_a_clear_error() {
    let memory = SharedMemory::new(1, 1).unwrap();
    assert!(matches!(
        memory.place::<Mutex>(2),
        Err(MemoryError::Misaligned { byte_offset: 2, .. })
    ));
    assert!(matches!(
        memory.place::<Barrier>(65_532),
        Err(MemoryError::OutOfBounds { .. })
    ));
    assert!(matches!(
        QueueRef::place_new(&memory, 65_000, 64),
        Err(PlaceError::Memory(_))
    ));
    assert!(matches!(
        QueueRef::place_new(&memory, 0, 3),
        Err(PlaceError::Capacity(_))
    ));
    // Words that are not a queue (capacity 0) are refused rather than misread.
    assert!(matches!(
        QueueRef::place(&memory, 4096),
        Err(PlaceError::Capacity(_))
    ));
    let error = memory.place::<Mutex>(70_000).unwrap_err().to_string();
    assert!(error.contains("70000"), "{error}");
}

/// Writes `values` into consecutive words from `byte_offset`, as another agent might.
fn fill(memory: &SharedMemory, byte_offset: usize, values: &[i32]) {
    for (index, value) in values.iter().enumerate() {
        let word = memory.atomic_i32(byte_offset + 4 * index).unwrap();
        word.store(*value, SeqCst);
    }
}

/// Where `every_bounded_form_returns` places each primitive (byte offsets).
const MUTEX_AT: usize = 0;
const SPIN_AT: usize = 4;
const HANDOFF_AT: usize = 8;
const EVENT_AT: usize = 16;
const CONDVAR_AT: usize = 20;
const CONDVAR_LOCK_AT: usize = 24;
const SEMAPHORE_AT: usize = 28;
const BARRIER_AT: usize = 32;
const LATCH_AT: usize = 40;
const RWLOCK_AT: usize = 44;
/// Words of all the primitives above.
const PRIMITIVE_WORDS: usize = 12;
const QUEUE_AT: usize = 1024;
/// Header and ring words of the largest queue the property places.
const QUEUE_WORDS: usize = 64 + 2 * 8;

/// Any `i32`, with the values the protocols give a meaning to (and their edges) picked often.
fn any_word() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0, 1, 2, 3, -1, -2, i32::MIN, i32::MIN + 1, i32::MAX, 0xFFFF, 1 << 16, 1 << 29, 1 << 30,
        ]),
        1 => any::<i32>(),
    ]
}

/// Calls every try and timed form (blocking and async) of every placed primitive, each on the
/// words `words` / `queue_words` as another agent left them. Any answer will do; returning is
/// what is checked.
fn every_bounded_form_returns(
    memory: &SharedMemory,
    words: &[i32],
    queue_words: &[i32],
    capacity: u32,
    n: u32,
) {
    let short = Duration::from_millis(1);
    let reset = || fill(memory, 0, words);

    let mutex: &Mutex = memory.place(MUTEX_AT).unwrap();
    reset();
    drop(mutex.try_lock());
    reset();
    drop(mutex.lock_timeout(short));
    reset();
    drop(block_on(mutex.lock_async_timeout(short)));

    let spin: &SpinLock = memory.place(SPIN_AT).unwrap();
    reset();
    drop(spin.try_lock());
    reset();
    drop(spin.lock_timeout(short));

    let handoff: &Handoff = memory.place(HANDOFF_AT).unwrap();
    reset();
    let _ = handoff.try_get();
    let _ = handoff.wait_timeout(short);
    reset();
    let _ = block_on(handoff.wait_async_timeout(short));
    reset();
    let _ = handoff.publish(n as i32);

    let event: &Event = memory.place(EVENT_AT).unwrap();
    reset();
    let _ = event.wait_timeout(short);
    reset();
    let _ = block_on(event.wait_async_timeout(short));
    reset();
    event.set();
    event.reset();

    // The condvar needs a held mutex: take it, then let "another agent" scribble on its word.
    let condvar: &Condvar = memory.place(CONDVAR_AT).unwrap();
    let condvar_lock: &Mutex = memory.place(CONDVAR_LOCK_AT).unwrap();
    let scribbled = words[CONDVAR_LOCK_AT / 4];
    reset();
    fill(memory, CONDVAR_LOCK_AT, &[0]);
    let mut guard = condvar_lock.try_lock().unwrap();
    fill(memory, CONDVAR_LOCK_AT, &[scribbled]);
    let _ = condvar.wait_timeout(&mut guard, short);
    drop(guard);
    reset();
    fill(memory, CONDVAR_LOCK_AT, &[0]);
    let guard = condvar_lock.try_lock().unwrap();
    fill(memory, CONDVAR_LOCK_AT, &[scribbled]);
    drop(block_on(condvar.wait_async_timeout(guard, short)));
    condvar.notify_one();
    condvar.notify_all();

    let semaphore: &Semaphore = memory.place(SEMAPHORE_AT).unwrap();
    reset();
    semaphore.try_acquire_many(n);
    reset();
    let _ = semaphore.acquire_many_timeout(n, short);
    reset();
    block_on(semaphore.acquire_many_async_timeout(n, short));
    reset();
    let _ = semaphore.release(n);

    let barrier: &Barrier = memory.place(BARRIER_AT).unwrap();
    reset();
    let _ = barrier.wait_timeout(short);
    reset();
    let _ = block_on(barrier.wait_async_timeout(short));

    let latch: &Latch = memory.place(LATCH_AT).unwrap();
    reset();
    latch.try_wait();
    let _ = latch.wait_timeout(short);
    reset();
    block_on(latch.wait_async_timeout(short));
    reset();
    latch.count_down();
    latch.add(n as i32);

    let rwlock: &RwLock = memory.place(RWLOCK_AT).unwrap();
    reset();
    drop(rwlock.try_read());
    reset();
    drop(rwlock.try_write());
    reset();
    drop(rwlock.read_timeout(short));
    reset();
    drop(rwlock.write_timeout(short));
    reset();
    drop(block_on(rwlock.read_async_timeout(short)));
    reset();
    drop(block_on(rwlock.write_async_timeout(short)));

    // The queue as another agent left it, but with a valid capacity so that it places...
    let mut placed_words = queue_words.to_vec();
    placed_words[1] = capacity as i32;
    let queue_reset = || fill(memory, QUEUE_AT, &placed_words);
    queue_reset();
    let queue = QueueRef::place(memory, QUEUE_AT).unwrap();
    let _ = queue.try_send(n as i32);
    queue_reset();
    let _ = queue.try_recv();
    queue_reset();
    let _ = queue.send_timeout(n as i32, short);
    queue_reset();
    let _ = queue.recv_timeout(short);
    queue_reset();
    let _ = block_on(queue.send_async_timeout(n as i32, short));
    queue_reset();
    let _ = block_on(queue.recv_async_timeout(short));
    queue_reset();
    queue.close();
    let _ = queue.try_recv();
    // ... and with its capacity word as written too (refused, or used for the try forms).
    fill(memory, QUEUE_AT, queue_words);
    if let Ok(queue) = QueueRef::place(memory, QUEUE_AT) {
        let _ = queue.try_send(n as i32);
        let _ = queue.try_recv();
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        // A failure here is a hang, and each shrinking step would wait out the hang guard.
        max_shrink_iters: 0,
        ..ProptestConfig::default()
    })]

    /// Issue 10: a word shared with another agent can hold anything. Every try and timed form
    /// of every placed primitive returns within its bound whatever the words hold (a wrong
    /// answer for words outside the protocol is allowed; a hang or a panic is not).
    #[test]
    fn every_try_and_timed_form_returns_whatever_the_words_hold(
        words in prop::collection::vec(any_word(), PRIMITIVE_WORDS),
        queue_words in prop::collection::vec(any_word(), QUEUE_WORDS),
        capacity in prop::sample::select(vec![2u32, 4, 8]),
        n in prop_oneof![Just(0u32), Just(1), Just(2), Just(u32::MAX), any::<u32>()],
    ) {
        let memory = SharedMemory::new(1, 1).unwrap();
        common::returns("a try or timed form on arbitrary words", move || {
            every_bounded_form_returns(&memory, &words, &queue_words, capacity, n)
        });
    }
}

#[test]
fn spin_lock_timeout_returns_whatever_the_word_holds() {
    for value in [2, -1, i32::MIN, i32::MAX] {
        let memory = SharedMemory::new(1, 1).unwrap();
        fill(&memory, 0, &[value]);
        let timed_out = common::returns("SpinLock::lock_timeout", move || {
            let spin: &SpinLock = memory.place(0).unwrap();
            spin.lock_timeout(Duration::from_millis(1)).is_none()
        });
        assert!(timed_out, "a word of {value} is not a free spin lock");
    }
}

/// A slot whose sequence word is ahead of `head` (for a send) or of `tail` (for a receive), as
/// another agent may leave it: the try forms must answer, not wait for the claim word to move.
#[test]
fn queue_try_forms_return_when_a_sequence_is_ahead_of_its_claim_word() {
    let memory = SharedMemory::new(1, 1).unwrap();
    QueueRef::place_new(&memory, QUEUE_AT, 4).unwrap();
    fill(&memory, QUEUE_AT + 256, &[5]); // slot 0: its turn is position 5
    let (sent, received, timed_send, timed_receive) =
        common::returns("the queue's try forms on a sequence ahead", move || {
            let queue = QueueRef::place(&memory, QUEUE_AT).unwrap();
            let short = Duration::from_millis(1);
            let timed_send = [
                queue.send_timeout(2, short),
                block_on(queue.send_async_timeout(3, short)),
            ];
            let timed_receive = [
                queue.recv_timeout(short),
                block_on(queue.recv_async_timeout(short)),
            ];
            (
                queue.try_send(1),
                queue.try_recv(),
                timed_send,
                timed_receive,
            )
        });
    assert_eq!(sent, Err(TrySendError::Full(1)));
    assert_eq!(received, Err(TryRecvError::Empty));
    assert_eq!(
        timed_send,
        [2, 3].map(|value| Err(SendError::TimedOut(value)))
    );
    assert_eq!(timed_receive, [Err(RecvError::TimedOut); 2]);
}
