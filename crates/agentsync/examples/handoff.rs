//! The guide's one-shot handoff: a consumer thread blocks on a word until a producer publishes
//! a payload and notifies it.
//!
//! Prints exactly:
//! ```text
//! consumer woke: ok
//! payload: beef
//! ```

use agentsync::{notify, wait, WaitResult};
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

/// Word 0 is the flag (0 = nothing yet, 1 = published); word 1 the payload.
struct Handoff {
    flag: AtomicI32,
    payload: AtomicI32,
}

fn main() {
    let shared = Arc::new(Handoff {
        flag: AtomicI32::new(0),
        payload: AtomicI32::new(0),
    });

    let consumer = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            // Sleep only while the flag still says "nothing yet". Had the producer been faster,
            // this would return `not-equal` at once: the value check and the enqueue are one step.
            let woke = wait(&shared.flag, 0, None).expect("a worker thread may block");
            (woke, shared.payload.load(SeqCst))
        })
    };

    // Publish only once the consumer is queued, so the example shows a real wake-up.
    while agentsync::waiter_count(&shared.flag) == 0 {
        thread::yield_now();
    }
    shared.payload.store(0xBEEF, SeqCst);
    shared.flag.store(1, SeqCst);
    let woken = notify(&shared.flag, 1);

    let (woke, payload) = consumer.join().expect("consumer thread");
    println!("consumer woke: {woke}");
    println!("payload: {payload:x}");
    assert_eq!(woken, 1);
    assert_eq!(woke, WaitResult::Ok);
    assert_eq!(payload, 0xBEEF);
}
