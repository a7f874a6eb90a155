//! Allocation behaviour of the futex: blocking waits and the synchronous `wait_async` results
//! allocate nothing; a queued async wait allocates exactly once.

use agentsync::{notify, wait, wait_async, WaitResult};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::AtomicI32;
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        let _ = BYTES.try_with(|n| n.set(n.get() + layout.size()));
        // SAFETY: the caller's obligations for `alloc` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (we forward every allocation).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (count, bytes) made by this thread while running `f`.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (a0, b0) = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    let result = f();
    (
        result,
        ALLOCATIONS.with(Cell::get) - a0,
        BYTES.with(Cell::get) - b0,
    )
}

#[test]
fn s18_sync_fast_paths_allocate_nothing() {
    let word = AtomicI32::new(0);
    let ((), allocations, _) = counted(|| {
        for _ in 0..1000 {
            assert_eq!(
                wait_async(&word, 1, None).sync_result(),
                Some(WaitResult::NotEqual)
            );
            assert_eq!(
                wait_async(&word, 0, Some(Duration::ZERO)).sync_result(),
                Some(WaitResult::TimedOut)
            );
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn blocking_waits_and_notify_allocate_nothing() {
    let word = AtomicI32::new(0);
    // Warm up: the first `thread::current()` on a thread may create its handle.
    let _ = wait(&word, 0, Some(Duration::ZERO));
    let ((), allocations, _) = counted(|| {
        for _ in 0..100 {
            assert_eq!(wait(&word, 1, None), Ok(WaitResult::NotEqual));
            assert_eq!(
                wait(&word, 0, Some(Duration::from_micros(10))),
                Ok(WaitResult::TimedOut)
            );
            assert_eq!(notify(&word, 1), 0);
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn queued_async_wait_allocates_once_and_at_most_96_bytes() {
    let word = AtomicI32::new(0);
    let (future, allocations, bytes) = counted(|| wait_async(&word, 0, None));
    assert!(future.is_async());
    assert_eq!(allocations, 1);
    let per_waiter = bytes + std::mem::size_of_val(&future);
    assert!(per_waiter <= 96, "{per_waiter} bytes per pending waiter");
    // Notify and resolve: waking allocates nothing either.
    let (woke, allocations, _) = counted(|| notify(&word, 1));
    assert_eq!((woke, allocations), (1, 0));
    assert_eq!(futures_lite::future::block_on(future), WaitResult::Ok);
}
