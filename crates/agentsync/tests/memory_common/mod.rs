//! Helpers shared by the memory, facade and Wasm-view tests.
#![allow(dead_code)]

use std::sync::Arc;

use agentsync::memory::SharedMemory;

#[path = "../common/mod.rs"]
mod common;

/// A shared memory of one page (maximum `max_pages`).
pub fn shared(max_pages: u64) -> Arc<SharedMemory> {
    SharedMemory::new(1, max_pages).expect("a small memory can be reserved")
}

/// A non-shared memory of one page.
pub fn non_shared() -> Arc<SharedMemory> {
    SharedMemory::non_shared(1, 1).expect("a small memory can be reserved")
}

/// Spins (yielding) until `condition` holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    common::eventually(
        &format!("waiting for {what}"),
        condition,
        std::thread::yield_now,
    );
}

/// The address of byte `offset` of `memory`, the key of its waiter queue.
pub fn addr(memory: &SharedMemory, offset: usize) -> usize {
    memory.as_ptr() as usize + offset
}

/// Polls `future` once with a no-op waker: `Some(output)` if it is ready.
pub fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match std::pin::Pin::new(future).poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}
