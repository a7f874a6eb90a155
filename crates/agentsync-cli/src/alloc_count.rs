//! A global allocator that counts live heap bytes while counting is switched on.
//!
//! Used by `wait_async_bytes`: the bytes a pending waiter costs are the live-heap growth while
//! the waiters are created, divided by their number. Counting is off by default so the other
//! scenarios pay one relaxed load per allocation and nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{
    AtomicBool, AtomicIsize,
    Ordering::{Relaxed, SeqCst},
};

/// Whether allocations are being counted.
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed while counting was on.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Set by the first counted allocation: proves the allocator is installed.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, plus a live-byte count while [`measure`] runs.
#[derive(Debug)]
pub struct CountingAlloc;

#[inline]
fn record(delta: isize) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_add(delta, Relaxed);
        INSTALLED.store(true, Relaxed);
    }
}

// SAFETY:
// - every method forwards to `System` with the caller's arguments unchanged, so `System`'s
//   guarantees (alignment, size, no unwinding) are ours; the counting touches only atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY:
        // - `layout` comes from the caller, who upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            record(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY:
        // - `ptr` was allocated by this allocator (i.e. by `System`) with `layout` (caller).
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY:
        // - `layout` comes from the caller, who upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            record(layout.size() as isize);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY:
        // - `ptr`, `layout` and `new_size` come from the caller, who upholds
        //   `GlobalAlloc::realloc`'s contract; `ptr` was allocated by `System`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Runs `f` with counting on and returns its result and the live-heap growth in bytes, or
/// `None` for the growth if [`CountingAlloc`] is not the global allocator (unit tests).
///
/// Allocations made by other threads meanwhile are counted too: run it when nothing else works.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<isize>) {
    LIVE.store(0, SeqCst);
    COUNTING.store(true, SeqCst);
    // Make sure at least one allocation is seen, so `INSTALLED` tells the truth.
    drop(std::hint::black_box(Box::new(0u8)));
    let result = f();
    COUNTING.store(false, SeqCst);
    let growth = INSTALLED.load(SeqCst).then(|| LIVE.load(SeqCst));
    (result, growth)
}
