//! Conformance of the futex layer, one test (or more) per rule of docs/semantics.md it owns:
//! S3–S8, S15–S26, S30, S31.

mod common;

use agentsync::{
    agent, notify, notify_addr, wait, wait_async, waiter_count, WaitAsync, WaitError, WaitResult,
};
use common::{eventually, poll_once, wait_until_queued, CountingWaker, PATIENCE};
use futures_lite::future::block_on;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

const FOREVER: Option<Duration> = None;

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

// ---------------------------------------------------------------- waiter lists

#[test]
fn s3_notify_between_check_and_sleep_is_never_lost() {
    // The notifier changes the value and notifies as soon as it can; whatever the interleaving,
    // the waiter either sees the new value (not-equal) or is queued and woken (ok). A lost
    // wake-up would show up as a time-out after PATIENCE.
    for round in 0..2_000 {
        let word = AtomicI32::new(0);
        thread::scope(|s| {
            s.spawn(|| {
                word.store(1, SeqCst);
                notify(&word, 1);
            });
            let result = wait(&word, 0, Some(PATIENCE)).unwrap();
            assert_ne!(
                result,
                WaitResult::TimedOut,
                "lost wake-up in round {round}"
            );
        });
        assert_eq!(waiter_count(&word), 0);
    }
}

#[test]
fn s3_async_notify_between_check_and_enqueue_is_never_lost() {
    for round in 0..2_000 {
        let word = Arc::new(AtomicI32::new(0));
        let notifier = {
            let word = Arc::clone(&word);
            thread::spawn(move || {
                word.store(1, SeqCst);
                notify(&*word, 1)
            })
        };
        let outcome = wait_async(&*word, 0, Some(PATIENCE));
        let woke = notifier.join().unwrap();
        match outcome {
            WaitAsync::Sync(result) => {
                assert_eq!(result, WaitResult::NotEqual);
                assert_eq!(
                    woke, 0,
                    "round {round}: notify counted a waiter that was never queued"
                );
            }
            WaitAsync::Async(future) => {
                if woke == 1 {
                    assert_eq!(block_on(future), WaitResult::Ok);
                } else {
                    // Queued after the notify ran: nobody will wake it, and it is withdrawable.
                    assert_eq!(future.cancel(), None, "round {round}");
                }
            }
        }
        assert_eq!(waiter_count(&*word), 0);
    }
}

#[test]
fn s4_fifo_across_blocking_and_async_waiters() {
    let word = Arc::new(AtomicI32::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    // Queue, in this order: blocking 0, async 1, blocking 2, async 3, blocking 4.
    let mut threads = Vec::new();
    let mut futures = Vec::new();
    for id in 0..5 {
        if id % 2 == 0 {
            let (word, order) = (Arc::clone(&word), Arc::clone(&order));
            threads.push(thread::spawn(move || {
                assert_eq!(wait(&*word, 0, FOREVER), Ok(WaitResult::Ok));
                order.lock().unwrap().push(id);
            }));
        } else {
            futures.push((id, wait_async(&*word, 0, FOREVER).into_future().unwrap()));
        }
        wait_until_queued(&*word, id + 1);
    }
    for expected_first in 0..5 {
        assert_eq!(notify(&*word, 1), 1);
        if expected_first % 2 == 0 {
            eventually(
                "the notified blocking waiter never reported",
                || order.lock().unwrap().len() > expected_first / 2,
                thread::yield_now,
            );
            // The woken blocking waiter is the one whose turn it was, and no async one woke.
            assert_eq!(*order.lock().unwrap().last().unwrap(), expected_first);
        } else {
            let (id, future) = futures.remove(0);
            assert_eq!(id, expected_first);
            assert_eq!(future.result(), Some(WaitResult::Ok));
        }
        for (_, pending) in &futures {
            assert_eq!(pending.result(), None, "a later async waiter woke early");
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 2, 4]);
    assert_eq!(waiter_count(&*word), 0);
}

#[test]
fn s4_fifo_among_many_async_waiters() {
    let word = AtomicI32::new(0);
    let futures: Vec<_> = (0..64)
        .map(|_| wait_async(&word, 0, FOREVER).into_future().unwrap())
        .collect();
    for woken in 0..64 {
        assert_eq!(notify(&word, 1), 1);
        for (i, f) in futures.iter().enumerate() {
            let expected = if i <= woken {
                Some(WaitResult::Ok)
            } else {
                None
            };
            assert_eq!(f.result(), expected);
        }
    }
}

#[test]
fn s5_one_agent_holds_several_records_async_then_blocking() {
    let word = Arc::new(AtomicI32::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let agent = {
        let word = Arc::clone(&word);
        thread::spawn(move || {
            let first = wait_async(&*word, 0, FOREVER).into_future().unwrap();
            let second = wait_async(&*word, 0, FOREVER).into_future().unwrap();
            tx.send(()).unwrap();
            let blocking = wait(&*word, 0, FOREVER).unwrap();
            (first.result(), second.result(), blocking)
        })
    };
    rx.recv().unwrap();
    wait_until_queued(&*word, 3);
    assert_eq!(notify(&*word, 2), 2, "the two async records go first");
    assert_eq!(waiter_count(&*word), 1);
    assert_eq!(notify(&*word, 1), 1);
    let (first, second, blocking) = agent.join().unwrap();
    assert_eq!(first, Some(WaitResult::Ok));
    assert_eq!(second, Some(WaitResult::Ok));
    assert_eq!(blocking, WaitResult::Ok);
}

#[test]
fn s6_writes_to_the_cell_wake_nobody() {
    let word = Arc::new(AtomicI32::new(0));
    let pending = wait_async(&*word, 0, FOREVER).into_future().unwrap();
    let blocked = {
        let word = Arc::clone(&word);
        thread::spawn(move || wait(&*word, 0, ms(300)).unwrap())
    };
    wait_until_queued(&*word, 2);
    word.store(5, SeqCst);
    word.fetch_add(1, SeqCst);
    word.fetch_sub(1, SeqCst);
    word.fetch_and(7, SeqCst);
    word.fetch_or(8, SeqCst);
    word.fetch_xor(1, SeqCst);
    word.swap(9, SeqCst);
    let _ = word.compare_exchange(9, 0, SeqCst, SeqCst);
    assert_eq!(blocked.join().unwrap(), WaitResult::TimedOut);
    assert_eq!(pending.result(), None, "a write woke an async waiter");
    assert_eq!(pending.cancel(), None);
}

#[test]
fn s6_unpark_of_the_waiting_thread_is_not_a_wake_up() {
    let word = Arc::new(AtomicI32::new(0));
    let waiter = {
        let word = Arc::clone(&word);
        thread::spawn(move || wait(&*word, 0, ms(300)).unwrap())
    };
    wait_until_queued(&*word, 1);
    for _ in 0..50 {
        waiter.thread().unpark();
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(waiter.join().unwrap(), WaitResult::TimedOut);
}

#[test]
fn s7_timeout_is_a_lower_bound() {
    let word = AtomicI32::new(0);
    for timeout in [1, 5, 20] {
        let start = Instant::now();
        assert_eq!(wait(&word, 0, ms(timeout)), Ok(WaitResult::TimedOut));
        assert!(start.elapsed() >= Duration::from_millis(timeout));

        let start = Instant::now();
        assert_eq!(
            block_on(wait_async(&word, 0, ms(timeout))),
            WaitResult::TimedOut
        );
        assert!(start.elapsed() >= Duration::from_millis(timeout));
    }
}

#[test]
fn s7_notified_wait_does_not_wait_for_its_timeout() {
    // With a timeout far beyond the test's life, an `ok` proves the notify ended the wait.
    let word = Arc::new(AtomicI32::new(0));
    let waiter = {
        let word = Arc::clone(&word);
        thread::spawn(move || wait(&*word, 0, Some(Duration::from_secs(3600))).unwrap())
    };
    wait_until_queued(&*word, 1);
    assert_eq!(notify(&*word, 1), 1);
    assert_eq!(waiter.join().unwrap(), WaitResult::Ok);
}

#[test]
fn s8_no_waiter_starves_under_contention() {
    // Eight threads hammer one location (one bucket) with wait and notify; every waiter must
    // finish its quota. A starved waiter would keep the join from returning.
    let word = Arc::new(AtomicI32::new(0));
    let done = Arc::new(AtomicI32::new(0));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (word, done) = (Arc::clone(&word), Arc::clone(&done));
            thread::spawn(move || {
                for _ in 0..300 {
                    if i % 2 == 0 {
                        let _ = wait(&*word, 0, ms(2)).unwrap();
                    } else {
                        notify(&*word, 1);
                    }
                }
                done.fetch_add(1, SeqCst);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(done.load(SeqCst), 8);
    assert_eq!(waiter_count(&*word), 0);
}

// ---------------------------------------------------------------- wait / wait_async arguments

#[test]
fn s15_blocking_wait_on_agent_that_cannot_block_is_an_error() {
    let word = AtomicI32::new(0);
    agent::non_blocking(|| {
        let error = wait(&word, 0, FOREVER).unwrap_err();
        assert_eq!(error, WaitError::CannotBlock);
        assert_eq!(
            error.to_string(),
            "Atomics.wait cannot be called in this context"
        );
        // Even when the value differs: the error is raised before the compare.
        assert_eq!(wait(&word, 1, FOREVER), Err(WaitError::CannotBlock));
        assert_eq!(waiter_count(&word), 0);
    });
}

#[test]
fn s15_wait_async_never_checks_the_agent() {
    let word = AtomicI32::new(0);
    agent::non_blocking(|| {
        assert_eq!(
            wait_async(&word, 1, FOREVER).sync_result(),
            Some(WaitResult::NotEqual)
        );
        let pending = wait_async(&word, 0, FOREVER);
        assert!(pending.is_async());
        assert_eq!(notify(&word, 1), 1);
        assert_eq!(block_on(pending), WaitResult::Ok);
    });
}

#[test]
fn s16_value_mismatch_is_not_equal_and_queues_nothing() {
    let word = AtomicI32::new(3);
    assert_eq!(wait(&word, 4, FOREVER), Ok(WaitResult::NotEqual));
    assert_eq!(
        wait_async(&word, 4, FOREVER).sync_result(),
        Some(WaitResult::NotEqual)
    );
    let wide = AtomicI64::new(-1);
    assert_eq!(wait(&wide, 0, FOREVER), Ok(WaitResult::NotEqual));
    assert_eq!(
        wait_async(&wide, 0, FOREVER).sync_result(),
        Some(WaitResult::NotEqual)
    );
    assert_eq!(waiter_count(&word), 0);
    assert_eq!(notify(&word, usize::MAX), 0);
    assert_eq!(notify(&wide, usize::MAX), 0);
}

#[test]
fn s17_not_equal_is_checked_before_the_zero_timeout_shortcut() {
    let word = AtomicI32::new(1);
    assert_eq!(
        wait_async(&word, 0, Some(Duration::ZERO)).sync_result(),
        Some(WaitResult::NotEqual)
    );
    assert_eq!(
        wait(&word, 0, Some(Duration::ZERO)),
        Ok(WaitResult::NotEqual)
    );
}

#[test]
fn s18_zero_timeout_async_wait_is_synchronous_timed_out() {
    let word = AtomicI32::new(0);
    let outcome = wait_async(&word, 0, Some(Duration::ZERO));
    assert!(!outcome.is_async());
    assert_eq!(outcome.sync_result(), Some(WaitResult::TimedOut));
    assert_eq!(waiter_count(&word), 0);
    assert_eq!(notify(&word, 1), 0);
    // (tests/alloc.rs proves this path allocates nothing.)
}

#[test]
fn s19_blocking_wait_with_zero_timeout_queues_then_times_out() {
    let word = AtomicI32::new(0);
    assert_eq!(
        wait(&word, 0, Some(Duration::ZERO)),
        Ok(WaitResult::TimedOut)
    );
    assert_eq!(waiter_count(&word), 0);
    assert_eq!(notify(&word, 1), 0);
}

#[test]
fn s20_timed_out_waiter_is_off_the_list() {
    let word = AtomicI32::new(0);
    assert_eq!(wait(&word, 0, ms(5)), Ok(WaitResult::TimedOut));
    assert_eq!(notify(&word, 1), 0);
    let pending = wait_async(&word, 0, ms(5)).into_future().unwrap();
    assert_eq!(block_on(pending), WaitResult::TimedOut);
    assert_eq!(waiter_count(&word), 0);
    assert_eq!(notify(&word, 1), 0);
}

// ---------------------------------------------------------------- wait_async specifics

#[test]
fn s21_future_runs_under_tokio() {
    let word = Arc::new(AtomicI32::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let task = {
        let word = Arc::clone(&word);
        runtime.spawn(async move { wait_async(&*word, 0, FOREVER).await })
    };
    wait_until_queued(&*word, 1);
    assert_eq!(notify(&*word, 1), 1);
    assert_eq!(runtime.block_on(task).unwrap(), WaitResult::Ok);
}

#[test]
fn s21_future_runs_under_futures_lite_and_a_bare_waker() {
    let word = AtomicI32::new(0);
    let outcome = wait_async(&word, 0, FOREVER);
    assert!(outcome.is_async());
    let mut future = outcome.into_future().unwrap();
    let (count, waker) = CountingWaker::new();
    assert!(poll_once(&mut future, &waker).is_pending());
    assert_eq!(notify(&word, 1), 1);
    assert_eq!(count.count(), 1);
    assert_eq!(poll_once(&mut future, &waker), Poll::Ready(WaitResult::Ok));
    let again = wait_async(&word, 0, ms(1));
    assert_eq!(block_on(again), WaitResult::TimedOut);
}

#[test]
fn s21_future_is_send_and_static_when_the_location_is() {
    fn assert_send<T: Send>(_: &T) {}
    static WORD: AtomicI32 = AtomicI32::new(0);
    let pending = wait_async(&WORD, 0, FOREVER);
    assert_send(&pending);
    let handle = thread::spawn(move || block_on(pending));
    wait_until_queued(&WORD, 1);
    assert_eq!(notify(&WORD, 1), 1);
    assert_eq!(handle.join().unwrap(), WaitResult::Ok);
}

#[test]
fn s22_async_result_is_never_not_equal() {
    let word = AtomicI32::new(0);
    let notified = wait_async(&word, 0, FOREVER).into_future().unwrap();
    let timed = wait_async(&word, 0, ms(5)).into_future().unwrap();
    word.store(1, SeqCst);
    assert_eq!(notify(&word, 1), 1);
    assert_eq!(block_on(notified), WaitResult::Ok);
    assert_eq!(block_on(timed), WaitResult::TimedOut);
}

#[test]
fn s23_timer_fires_without_anyone_polling() {
    let word = AtomicI32::new(0);
    let future = wait_async(&word, 0, ms(10)).into_future().unwrap();
    eventually(
        "the timer never fired",
        || future.result().is_some(),
        || thread::sleep(Duration::from_millis(1)),
    );
    assert_eq!(future.result(), Some(WaitResult::TimedOut));
    assert_eq!(waiter_count(&word), 0);
}

#[test]
fn s23_timer_wakes_the_task() {
    let word = AtomicI32::new(0);
    let mut future = wait_async(&word, 0, ms(10)).into_future().unwrap();
    let (count, waker) = CountingWaker::new();
    assert!(poll_once(&mut future, &waker).is_pending());
    eventually(
        "the timer never woke the task",
        || count.count() > 0,
        || thread::sleep(Duration::from_millis(1)),
    );
    assert_eq!(
        poll_once(&mut future, &waker),
        Poll::Ready(WaitResult::TimedOut)
    );
}

#[test]
fn s23_notify_that_wins_the_race_yields_ok() {
    // Deadlines as short as possible, notified at about the same time: whichever wins, the
    // notify count and the results must agree.
    let word = AtomicI32::new(0);
    let mut ok = 0;
    let mut woke = 0;
    for _ in 0..500 {
        let future = wait_async(&word, 0, Some(Duration::from_micros(50)))
            .into_future()
            .unwrap();
        thread::sleep(Duration::from_micros(40));
        woke += notify(&word, 1);
        if block_on(future) == WaitResult::Ok {
            ok += 1;
        }
    }
    assert_eq!(ok, woke);
    assert_eq!(waiter_count(&word), 0);
}

#[test]
fn s23_infinite_timeout_stays_pending() {
    let word = AtomicI32::new(0);
    let future = wait_async(&word, 0, FOREVER).into_future().unwrap();
    thread::sleep(Duration::from_millis(30));
    assert_eq!(future.result(), None);
    let huge = wait_async(&word, 0, Some(Duration::MAX))
        .into_future()
        .unwrap();
    thread::sleep(Duration::from_millis(10));
    assert_eq!(
        huge.result(),
        None,
        "an unrepresentable deadline means forever"
    );
    assert_eq!(notify(&word, 2), 2);
}

#[test]
fn s24_notify_from_own_agent_resolves_right_away() {
    let word = AtomicI32::new(0);
    let mut future = wait_async(&word, 0, FOREVER).into_future().unwrap();
    assert_eq!(notify(&word, 1), 1);
    let (count, waker) = CountingWaker::new();
    assert_eq!(poll_once(&mut future, &waker), Poll::Ready(WaitResult::Ok));
    assert_eq!(count.count(), 0, "nothing to wake: it was never pending");
}

#[test]
fn s24_notify_from_another_agent_wakes_the_task() {
    let word = Arc::new(AtomicI32::new(0));
    let mut future = wait_async(&*word, 0, FOREVER).into_future().unwrap();
    let (count, waker) = CountingWaker::new();
    assert!(poll_once(&mut future, &waker).is_pending());
    let other = {
        let word = Arc::clone(&word);
        thread::spawn(move || notify(&*word, 1))
    };
    assert_eq!(other.join().unwrap(), 1);
    assert_eq!(count.count(), 1);
    assert_eq!(poll_once(&mut future, &waker), Poll::Ready(WaitResult::Ok));
}

#[test]
fn s25_later_changes_to_the_cell_do_not_matter() {
    let word = AtomicI32::new(0);
    let future = wait_async(&word, 0, FOREVER);
    word.store(42, SeqCst);
    assert_eq!(notify(&word, 1), 1);
    assert_eq!(block_on(future), WaitResult::Ok);
}

#[test]
fn s26_many_agents_and_repeated_waits_mix() {
    let word = Arc::new(AtomicI32::new(0));
    let mut own: Vec<_> = (0..3)
        .map(|_| wait_async(&*word, 0, FOREVER).into_future().unwrap())
        .collect();
    let others: Vec<_> = (0..3)
        .map(|i| {
            let word = Arc::clone(&word);
            thread::spawn(move || {
                if i == 0 {
                    wait(&*word, 0, FOREVER).unwrap()
                } else {
                    let first = wait_async(&*word, 0, FOREVER);
                    let second = wait(&*word, 0, FOREVER).unwrap();
                    assert_eq!(block_on(first), WaitResult::Ok);
                    second
                }
            })
        })
        .collect();
    wait_until_queued(&*word, 3 + 1 + 2 * 2);
    // The agent notifies its own waiters among the others.
    assert_eq!(notify(&*word, usize::MAX), 8);
    for f in own.drain(..) {
        assert_eq!(f.result(), Some(WaitResult::Ok));
    }
    for t in others {
        assert_eq!(t.join().unwrap(), WaitResult::Ok);
    }
}

// ---------------------------------------------------------------- notify

#[test]
fn s30_notify_takes_min_of_count_and_queue_from_the_head() {
    let word = AtomicI32::new(0);
    let futures: Vec<_> = (0..5)
        .map(|_| wait_async(&word, 0, FOREVER).into_future().unwrap())
        .collect();
    assert_eq!(notify(&word, 0), 0);
    assert_eq!(notify(&word, 2), 2);
    assert_eq!(notify(&word, 10), 3);
    assert!(futures.iter().all(|f| f.result() == Some(WaitResult::Ok)));
}

#[test]
fn s30_blocking_and_async_count_the_same() {
    let word = Arc::new(AtomicI32::new(0));
    let blocked: Vec<_> = (0..2)
        .map(|_| {
            let word = Arc::clone(&word);
            thread::spawn(move || wait(&*word, 0, FOREVER).unwrap())
        })
        .collect();
    wait_until_queued(&*word, 2);
    let futures: Vec<_> = (0..2).map(|_| wait_async(&*word, 0, FOREVER)).collect();
    assert_eq!(notify(&*word, usize::MAX), 4);
    for b in blocked {
        assert_eq!(b.join().unwrap(), WaitResult::Ok);
    }
    for f in futures {
        assert_eq!(block_on(f), WaitResult::Ok);
    }
}

#[test]
fn s31_only_the_exact_location_is_affected() {
    let words: Vec<AtomicI32> = (0..4096).map(|_| AtomicI32::new(0)).collect();
    // Two distinct locations in the same bucket.
    let first = &words[0];
    let twin = words[1..]
        .iter()
        .find(|w| {
            agentsync::futex::bucket_index(w.key()) == agentsync::futex::bucket_index(first.key())
        })
        .expect("4096 words cover every bucket");
    let neighbour = &words[1];
    let on_first = wait_async(first, 0, FOREVER).into_future().unwrap();
    let on_twin = wait_async(twin, 0, FOREVER).into_future().unwrap();
    assert_eq!(notify(neighbour, usize::MAX), 0);
    assert_eq!(notify(twin, usize::MAX), 1);
    assert_eq!(on_first.result(), None);
    assert_eq!(on_twin.result(), Some(WaitResult::Ok));
    assert_eq!(notify(first, usize::MAX), 1);
    assert_eq!(notify(first, usize::MAX), 0, "notifying again wakes nobody");
}

#[test]
fn s31_nobody_waiting_is_zero_by_address_too() {
    let word = AtomicU32::new(0);
    assert_eq!(notify(&word, 1), 0);
    assert_eq!(notify_addr(word.key(), usize::MAX), 0);
}

#[test]
fn s1_thirty_two_and_sixty_four_bit_waits_share_the_address() {
    // The futex keys by address, so an AtomicI64 and an AtomicI32 at the same address (as a
    // BigInt64 and an Int32 view over the same bytes) share one queue.
    let wide = AtomicI64::new(0);
    // SAFETY: an AtomicI64 is 8 aligned bytes; its low half is a valid, aligned AtomicI32.
    let narrow: &AtomicI32 = unsafe { &*(&wide as *const AtomicI64 as *const AtomicI32) };
    let on_wide = wait_async(&wide, 0, FOREVER).into_future().unwrap();
    assert_eq!(notify(narrow, 1), 1);
    assert_eq!(on_wide.result(), Some(WaitResult::Ok));
}

use agentsync::Waitable;

#[test]
fn dropping_a_pending_future_removes_its_record() {
    let word = AtomicI32::new(0);
    let first = wait_async(&word, 0, FOREVER);
    let second = wait_async(&word, 0, FOREVER);
    assert_eq!(waiter_count(&word), 2);
    drop(first);
    assert_eq!(waiter_count(&word), 1);
    assert_eq!(
        notify(&word, 1),
        1,
        "the notify goes to the remaining waiter"
    );
    assert_eq!(block_on(second), WaitResult::Ok);
}

#[test]
fn cancel_reports_a_notification_already_taken() {
    let word = AtomicI32::new(0);
    let future = wait_async(&word, 0, FOREVER).into_future().unwrap();
    assert_eq!(notify(&word, 1), 1);
    assert_eq!(future.cancel(), Some(WaitResult::Ok));
}

#[test]
fn wait_result_strings_and_wasm_codes() {
    let all = [WaitResult::Ok, WaitResult::NotEqual, WaitResult::TimedOut];
    let strings: Vec<_> = all.iter().map(ToString::to_string).collect();
    assert_eq!(strings, ["ok", "not-equal", "timed-out"]);
    let codes: Vec<_> = all.iter().map(|r| r.wasm_code()).collect();
    assert_eq!(codes, [0, 1, 2]);
}

// ---------------------------------------------------------------- wakers are user code

/// Runs `f` on its own thread and returns its result, failing after [`PATIENCE`] instead of
/// hanging the test run when `f` deadlocks (the stuck thread is left behind).
fn within_patience<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = std::sync::mpsc::channel();
    thread::spawn(move || send.send(f()));
    receive
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("gave up after {PATIENCE:?}: {what}"))
}

/// Two distinct `'static` words that hash to the same bucket.
fn two_words_in_one_bucket() -> (&'static AtomicI32, &'static AtomicI32) {
    let words: &'static [AtomicI32] = Vec::leak((0..4096).map(|_| AtomicI32::new(0)).collect());
    let bucket = |w: &AtomicI32| agentsync::futex::bucket_index(w.key());
    let twin = words[1..]
        .iter()
        .find(|w| bucket(w) == bucket(&words[0]))
        .expect("4096 words cover every bucket");
    (&words[0], twin)
}

/// The state behind a [`reentrant_waker`]: every waker method notifies `neighbour` and
/// counts the call.
struct Reentrant {
    neighbour: &'static AtomicI32,
    calls: AtomicU32,
}

/// A waker whose `clone`, `wake`, `wake_by_ref` and `drop` each call `notify` on a location
/// in the bucket of the word waited on: run under that bucket's lock, any of them deadlocks.
fn reentrant_waker(neighbour: &'static AtomicI32) -> (&'static Reentrant, Waker) {
    use std::task::{RawWaker, RawWakerVTable};
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, touch, touch, touch);
    fn touch(data: *const ()) {
        // SAFETY: `data` is the leaked `Reentrant` the waker was built from.
        let state = unsafe { &*data.cast::<Reentrant>() };
        notify(state.neighbour, 1);
        state.calls.fetch_add(1, SeqCst);
    }
    fn clone(data: *const ()) -> RawWaker {
        touch(data);
        RawWaker::new(data, &VTABLE)
    }
    let state: &'static Reentrant = Box::leak(Box::new(Reentrant {
        neighbour,
        calls: AtomicU32::new(0),
    }));
    let raw = RawWaker::new((state as *const Reentrant).cast(), &VTABLE);
    // SAFETY: the vtable functions only read the leaked `Reentrant`, which lives forever and
    // is `Sync`; they uphold the `RawWaker` contract (clone returns a waker for the same data).
    (state, unsafe { Waker::from_raw(raw) })
}

#[test]
fn waker_methods_never_run_under_the_bucket_lock() {
    let (word, neighbour) = two_words_in_one_bucket();
    within_patience("a waker method ran under the bucket lock", move || {
        let (first_state, first) = reentrant_waker(neighbour);
        let (second_state, second) = reentrant_waker(neighbour);
        let mut future = wait_async(word, 0, FOREVER).into_future().unwrap();
        // First poll: the waker is cloned into the record.
        assert_eq!(poll_once(&mut future, &first), Poll::Pending);
        assert_eq!(first_state.calls.load(SeqCst), 1, "cloned once");
        // Same waker again: nothing to clone.
        assert_eq!(poll_once(&mut future, &first), Poll::Pending);
        // Another waker: it is cloned in, and the old clone dropped.
        assert_eq!(poll_once(&mut future, &second), Poll::Pending);
        assert_eq!(first_state.calls.load(SeqCst), 2, "clone, then drop");
        assert_eq!(second_state.calls.load(SeqCst), 1, "cloned once");
        // The notify wakes (consumes) the stored clone.
        assert_eq!(notify(word, 1), 1);
        assert_eq!(second_state.calls.load(SeqCst), 2, "clone, then wake");
        assert_eq!(poll_once(&mut future, &second), Poll::Ready(WaitResult::Ok));
        // A second record, cancelled with a waker registered: the clone is dropped.
        let mut future = wait_async(word, 0, FOREVER).into_future().unwrap();
        assert_eq!(poll_once(&mut future, &first), Poll::Pending);
        assert_eq!(future.cancel(), None);
        assert_eq!(first_state.calls.load(SeqCst), 4, "clone, then drop");
        assert_eq!(waiter_count(word), 0);
    });
}

/// A waker whose `wake` panics, as a buggy executor's might.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics in wake");
    }
}

#[test]
fn a_panicking_waker_does_not_strand_the_wake_ups_after_it() {
    let word: &'static AtomicI32 = Box::leak(Box::new(AtomicI32::new(0)));
    let panicking = Waker::from(Arc::new(PanickingWaker));
    let (_, quiet) = CountingWaker::new();
    // Queue: an async waiter with the panicking waker, a blocking thread, another async waiter.
    let mut first = wait_async(word, 0, FOREVER).into_future().unwrap();
    assert_eq!(poll_once(&mut first, &panicking), Poll::Pending);
    let blocked = thread::spawn(move || wait(word, 0, FOREVER).unwrap());
    wait_until_queued(word, 2);
    let last = wait_async(word, 0, FOREVER).into_future().unwrap();

    let notified = std::panic::catch_unwind(|| notify(word, 2));
    assert!(notified.is_err(), "the waker's panic reaches the notifier");
    // That notify took the two oldest records; both are delivered as `ok`.
    eventually(
        "the thread queued behind the panicking waker was never woken",
        || blocked.is_finished(),
        || thread::sleep(Duration::from_millis(1)),
    );
    assert_eq!(blocked.join().unwrap(), WaitResult::Ok);
    assert_eq!(poll_once(&mut first, &quiet), Poll::Ready(WaitResult::Ok));
    assert_eq!(
        last.result(),
        None,
        "notify(2) left the third waiter queued"
    );
    assert_eq!(waiter_count(word), 1);
    // No lock is left held: the bucket still works, and the counts add up (2 + 1 == 3 `ok`).
    assert_eq!(notify(word, usize::MAX), 1);
    assert_eq!(block_on(last), WaitResult::Ok);
    assert_eq!(waiter_count(word), 0);
}

#[test]
fn a_panicking_waker_does_not_stop_the_timer() {
    let word: &'static AtomicI32 = Box::leak(Box::new(AtomicI32::new(0)));
    let panicking = Waker::from(Arc::new(PanickingWaker));
    let mut doomed = wait_async(word, 0, ms(1)).into_future().unwrap();
    assert_eq!(poll_once(&mut doomed, &panicking), Poll::Pending);
    eventually(
        "the first deadline never fired",
        || doomed.result().is_some(),
        || thread::sleep(Duration::from_millis(1)),
    );
    assert_eq!(doomed.result(), Some(WaitResult::TimedOut));
    // The timer thread, which ran that waker, still fires later deadlines.
    let later = within_patience("the timer stopped after a waker panicked", move || {
        block_on(wait_async(word, 0, ms(1)))
    });
    assert_eq!(later, WaitResult::TimedOut);
}

// ---------------------------------------------------------------- spinning is bounded

/// A blocking wait spins before it parks, for a window in time that adapts to how long waits on
/// its bucket last (`agentsync::spin`). Whatever the window, a timed wait that nobody notifies
/// ends at its deadline: here twenty 1 ms waits must all time out well within the patience
/// bound (a window that ignored the deadline, or spun "forever", would not).
#[test]
fn a_timed_wait_never_spins_past_its_deadline() {
    within_patience("timed waits spun past their deadline", || {
        let word = AtomicI32::new(0);
        for _ in 0..20 {
            assert_eq!(wait(&word, 0, ms(1)), Ok(WaitResult::TimedOut));
        }
        assert_eq!(waiter_count(&word), 0);
    });
}

/// With spinning off, a wait parks at once and is still woken by a notify.
#[test]
fn spinning_off_still_delivers_every_wake() {
    agentsync::spin::set_enabled(false);
    let word = AtomicI32::new(0);
    let woken = thread::scope(|s| {
        let waiter = s.spawn(|| wait(&word, 0, None));
        while waiter_count(&word) == 0 {
            thread::yield_now();
        }
        word.store(1, SeqCst);
        let woken = notify(&word, 1);
        (woken, waiter.join().unwrap())
    });
    agentsync::spin::set_enabled(true);
    assert_eq!(woken, (1, Ok(WaitResult::Ok)));
}
