//! Loom models of the futex core. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p agentsync --release --test loom_futex --target-dir target/loom`.
#![cfg(loom)]

use agentsync::futex::{explore_wake_window, fire_armed};
use agentsync::{notify, wait, wait_async, waiter_count, WaitResult};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicI32, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// A blocking waiter and a notifier that changes the value first: the waiter must return
/// (loom reports a deadlock if it parks forever), and the result must match the notify count.
/// This covers the notifier's lock-free skip of an empty bucket.
#[test]
fn wait_vs_notify_loses_no_wake_up() {
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let notifier = {
            let word = Arc::clone(&word);
            thread::spawn(move || {
                word.store(1, SeqCst);
                notify(&*word, 1)
            })
        };
        let result = wait(&*word, 0, None).unwrap();
        let woke = notifier.join().unwrap();
        match result {
            WaitResult::Ok => assert_eq!(woke, 1),
            WaitResult::NotEqual => assert_eq!(woke, 0),
            WaitResult::TimedOut => panic!("no timeout was given"),
        }
        assert_eq!(waiter_count(&*word), 0);
    });
}

/// The same race with an async waiter driven by `block_on` on its own thread. The async record
/// dies with its future, so this model also checks (through the records' liveness cells) that
/// a notifier is done with the record before the future can see its result and be dropped.
#[test]
fn wait_async_vs_notify_loses_no_wake_up() {
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let waiter = {
            let word = Arc::clone(&word);
            thread::spawn(move || loom::future::block_on(wait_async(&*word, 0, None)))
        };
        word.store(1, SeqCst);
        let woke = notify(&*word, 1);
        let result = waiter.join().unwrap();
        assert_eq!(woke == 1, result == WaitResult::Ok);
        assert_eq!(woke == 0, result == WaitResult::NotEqual);
    });
}

/// An async deadline firing while a notify runs: exactly one of them decides the record, and
/// the notify count agrees with the result.
#[test]
fn async_timeout_races_notify_with_exactly_one_outcome() {
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let future = wait_async(&*word, 0, Some(Duration::from_secs(1)))
            .into_future()
            .unwrap();
        let timer = thread::spawn(fire_armed);
        let notifier = {
            let word = Arc::clone(&word);
            thread::spawn(move || notify(&*word, 1))
        };
        let result = loom::future::block_on(future);
        timer.join().unwrap();
        let woke = notifier.join().unwrap();
        match result {
            WaitResult::Ok => assert_eq!(woke, 1),
            WaitResult::TimedOut => assert_eq!(woke, 0),
            WaitResult::NotEqual => panic!("an async result is never not-equal"),
        }
        assert_eq!(waiter_count(&*word), 0);
    });
}

/// A blocking wait whose (model) deadline passes while a notify runs.
#[test]
fn blocking_timeout_races_notify_with_exactly_one_outcome() {
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let notifier = {
            let word = Arc::clone(&word);
            thread::spawn(move || notify(&*word, 1))
        };
        let result = wait(&*word, 0, Some(Duration::from_secs(1))).unwrap();
        let woke = notifier.join().unwrap();
        assert_eq!(woke == 1, result == WaitResult::Ok);
        assert_eq!(woke == 0, result == WaitResult::TimedOut);
        assert_eq!(waiter_count(&*word), 0);
    });
}

/// Cancelling a pending future while a notify runs: either the notify took it (and `cancel`
/// reports `Ok`, to be passed on) or the cancel removed it (and the notify counted nobody).
#[test]
fn cancel_races_notify() {
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let future = wait_async(&*word, 0, None).into_future().unwrap();
        let notifier = {
            let word = Arc::clone(&word);
            thread::spawn(move || notify(&*word, 1))
        };
        let outcome = future.cancel();
        let woke = notifier.join().unwrap();
        match outcome {
            Some(WaitResult::Ok) => assert_eq!(woke, 1),
            None => assert_eq!(woke, 0),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(waiter_count(&*word), 0);
    });
}

/// Two waiters, one notify(1) racing a cancel of the older: the younger is woken by one of the
/// two notifies, and counts add up. All keys share the one bucket of loom builds.
#[test]
fn notify_one_of_two_with_a_concurrent_drop() {
    loom::model(|| {
        let words = Arc::new([AtomicI32::new(0), AtomicI32::new(0), AtomicI32::new(0)]);
        let dropped = wait_async(&words[0], 0, None);
        let kept = wait_async(&words[0], 0, None).into_future().unwrap();
        let bystander = wait_async(&words[1], 0, None).into_future().unwrap();
        let notifier = {
            let words = Arc::clone(&words);
            thread::spawn(move || notify(&words[0], 1) + notify(&words[2], 1))
        };
        let taken_before_cancel = dropped.into_future().unwrap().cancel() == Some(WaitResult::Ok);
        let first = notifier.join().unwrap();
        assert_eq!(first, 1, "`kept` was queued the whole time");
        let second = notify(&words[0], 1);
        assert_eq!(second, usize::from(taken_before_cancel));
        assert_eq!(loom::future::block_on(kept), WaitResult::Ok);
        assert_eq!(bystander.cancel(), None, "another key was woken");
    });
}

/// Three threads: a blocking waiter, an async waiter and a notifier that wakes everyone. Both
/// waiters finish, and `notify` counted exactly those that report `ok`.
#[test]
fn blocking_and_async_waiters_with_notify_all() {
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let blocking = {
            let word = Arc::clone(&word);
            thread::spawn(move || wait(&*word, 0, None).unwrap())
        };
        let asynchronous = {
            let word = Arc::clone(&word);
            thread::spawn(move || loom::future::block_on(wait_async(&*word, 0, None)))
        };
        word.store(1, SeqCst);
        let woke = notify(&*word, usize::MAX);
        let results = [blocking.join().unwrap(), asynchronous.join().unwrap()];
        let ok = results.iter().filter(|r| **r == WaitResult::Ok).count();
        assert_eq!(woke, ok);
        assert!(results.iter().all(|r| *r != WaitResult::TimedOut));
        assert_eq!(waiter_count(&*word), 0);
    });
}

/// A word to wait on and a payload that the notifier writes (non-atomically) before it
/// changes the word and notifies.
struct Message {
    word: AtomicI32,
    payload: UnsafeCell<u32>,
}

impl Message {
    fn new() -> Arc<Self> {
        Arc::new(Message {
            word: AtomicI32::new(0),
            payload: UnsafeCell::new(0),
        })
    }

    /// The notifier's side: write the payload, publish, notify.
    fn send(&self) -> usize {
        // SAFETY: the only write; readers read only after a notify or the new word ordered
        // them after it (what the models check).
        self.payload.with_mut(|payload| unsafe { *payload = 42 });
        self.word.store(1, SeqCst);
        notify(&self.word, 1)
    }

    /// The waiter's side, once woken: loom reports a causality error if the write above does
    /// not happen before this read.
    fn read(&self) -> u32 {
        // SAFETY: see `send`; loom checks it.
        self.payload.with(|payload| unsafe { *payload })
    }
}

/// A blocking waiter that reports `ok` sees everything its notifier wrote before `notify`:
/// the record's decision is published with `Release` and read with `Acquire`, and nothing else
/// orders the two threads on this path (the waiter takes no lock after it queued). Weakening
/// either ordering to `Relaxed` fails this model. It needs [`explore_wake_window`], so the
/// waiter runs on its own thread and ends right after its wait.
#[test]
fn a_woken_blocking_waiter_sees_what_the_notifier_wrote_before_notify() {
    explore_wake_window(true);
    loom::model(|| {
        let message = Message::new();
        let waiter = {
            let message = Arc::clone(&message);
            thread::spawn(move || {
                let result = wait(&message.word, 0, None).unwrap();
                (result, message.read())
            })
        };
        let woke = message.send();
        let (result, payload) = waiter.join().unwrap();
        assert_eq!(payload, 42, "{result:?}");
        assert_eq!(woke == 1, result == WaitResult::Ok);
    });
}

/// The same for an async waiter, reading the payload while its future is still alive (its
/// drop reads the record's state again, which would hide a weak read in `poll`).
#[test]
fn a_woken_async_waiter_sees_what_the_notifier_wrote_before_notify() {
    loom::model(|| {
        let message = Message::new();
        let notifier = {
            let message = Arc::clone(&message);
            thread::spawn(move || message.send())
        };
        if let Some(mut future) = wait_async(&message.word, 0, None).into_future() {
            let (result, payload) =
                loom::future::block_on(poll_fn(|cx| match Pin::new(&mut future).poll(cx) {
                    Poll::Ready(result) => Poll::Ready((result, message.read())),
                    Poll::Pending => Poll::Pending,
                }));
            assert_eq!((result, payload), (WaitResult::Ok, 42));
            drop(future);
        }
        notifier.join().unwrap();
    });
}

/// A notifier never touches a blocking record after its waiter may have returned (and freed
/// its stack frame): every access through the queue is checked against the record's death
/// (see `Node::touch`). Needs [`explore_wake_window`], as above.
#[test]
fn a_notifier_never_touches_a_record_after_its_waiter_returned() {
    explore_wake_window(true);
    loom::model(|| {
        let word = Arc::new(AtomicI32::new(0));
        let waiter = {
            let word = Arc::clone(&word);
            thread::spawn(move || wait(&*word, 0, None).unwrap())
        };
        word.store(1, SeqCst);
        let woke = notify(&*word, 1);
        let result = waiter.join().unwrap();
        assert_eq!(woke == 1, result == WaitResult::Ok);
    });
}
