//! The one-shot handoff with the consumer an async task on a thread that cannot block: it
//! uses `wait_async`, and a blocking `wait` there would be an error, not a hang.
//!
//! Prints exactly:
//! ```text
//! consumer woke: ok
//! payload: beef
//! ```

use agentsync::{agent, notify, wait, wait_async, WaitError, WaitResult};
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

struct Handoff {
    flag: AtomicI32,
    payload: AtomicI32,
}

fn main() {
    let shared = Arc::new(Handoff {
        flag: AtomicI32::new(0),
        payload: AtomicI32::new(0),
    });

    // The consumer's thread is an event loop: it may not block.
    let consumer = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            agent::set_can_block(false);
            assert_eq!(wait(&shared.flag, 0, None), Err(WaitError::CannotBlock));
            futures_lite::future::block_on(async {
                let woke = wait_async(&shared.flag, 0, None).await;
                (woke, shared.payload.load(SeqCst))
            })
        })
    };

    // Publish only once the consumer's task is queued, so the example shows a real wake-up.
    while agentsync::waiter_count(&shared.flag) == 0 {
        thread::yield_now();
    }
    shared.payload.store(0xBEEF, SeqCst);
    shared.flag.store(1, SeqCst);
    assert_eq!(notify(&shared.flag, 1), 1);

    let (woke, payload) = consumer.join().expect("consumer thread");
    println!("consumer woke: {woke}");
    println!("payload: {payload:x}");
    assert_eq!(woke, WaitResult::Ok);
    assert_eq!(payload, 0xBEEF);
}
