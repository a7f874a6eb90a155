//! `SharedMemory` and typed views: sizes, growth, bounds, alignment, external memory.
#![cfg(not(loom))] // layer 2 is std-only: loom atomics cannot live in raw memory

mod memory_common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use agentsync::memory::{
    Atomics, BigInt64Array, BigUint64Array, ElementKind, Int16Array, Int32Array, Int8Array,
    JsErrorKind, MemoryError, SharedMemory, Uint16Array, Uint32Array, Uint8Array, WasmView,
    MAX_PAGES, PAGE_SIZE,
};
use memory_common::{shared, wait_until};

#[test]
fn memory_is_send_sync_and_views_too() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SharedMemory>();
    send_sync::<Int32Array>();
    send_sync::<BigUint64Array>();
    send_sync::<WasmView>();
}

#[test]
fn grow_returns_the_old_size_and_stops_at_the_maximum() {
    let memory = SharedMemory::new(0, 3).unwrap();
    assert_eq!(memory.byte_length(), 0);
    assert_eq!(memory.grow(0), Ok(0));
    assert_eq!(memory.grow(1), Ok(0));
    assert_eq!(memory.grow(2), Ok(1));
    assert_eq!(memory.size_pages(), 3);
    assert_eq!(memory.byte_length(), 3 * PAGE_SIZE);
    let error = memory.grow(1).unwrap_err();
    assert_eq!(
        error,
        MemoryError::GrowPastMaximum {
            current_pages: 3,
            delta_pages: 1,
            maximum_pages: 3
        }
    );
    assert!(error.to_string().contains("delta_pages 1"));
    assert_eq!(
        memory.grow(u64::MAX).unwrap_err().js_kind(),
        JsErrorKind::RangeError
    );
    assert_eq!(memory.size_pages(), 3, "a failed grow changes nothing");
}

#[test]
fn sizes_are_validated() {
    assert_eq!(
        SharedMemory::new(0, MAX_PAGES + 1).unwrap_err(),
        MemoryError::MaximumTooLarge {
            maximum_pages: MAX_PAGES + 1
        }
    );
    assert!(SharedMemory::new(0, u64::MAX).is_err());
    assert_eq!(
        SharedMemory::non_shared(5, 4).unwrap_err(),
        MemoryError::InitialAboveMaximum {
            initial_pages: 5,
            maximum_pages: 4
        }
    );
    // A maximum of 4 GiB only reserves address space.
    let huge = SharedMemory::new(1, MAX_PAGES).unwrap();
    assert_eq!(huge.maximum_byte_length(), 1 << 32);
    assert_eq!(huge.byte_length(), PAGE_SIZE);
}

#[test]
fn an_empty_memory_rejects_every_access() {
    let memory = SharedMemory::new(0, 0).unwrap();
    let ia = Int32Array::new(&memory);
    assert!(ia.is_empty());
    assert!(Atomics::load(&ia, 0).is_err());
    assert!(memory.atomic_i32(0).is_err());
    assert!(WasmView::new(&memory).i32_atomic_load(0, 0).is_err());
    assert!(memory.grow(1).is_err());
    let mut nothing = [0u8; 0];
    assert_eq!(memory.read_bytes(0, &mut nothing), Ok(()));
}

#[test]
fn memory_never_moves_and_old_views_stay_valid_after_grow() {
    let memory = SharedMemory::new(1, 4).unwrap();
    let base = memory.as_ptr();
    let before = Int32Array::new(&memory);
    Atomics::store(&before, 100, 5).unwrap();
    memory.grow(3).unwrap();
    assert_eq!(memory.as_ptr(), base);
    assert_eq!(Atomics::load(&before, 100), Ok(5));
    assert_eq!(before.len(), PAGE_SIZE / 4, "views keep their length");
    let after = Int32Array::new(&memory);
    assert_eq!(after.len(), PAGE_SIZE);
    assert_eq!(Atomics::load(&after, PAGE_SIZE - 1), Ok(0));
    assert_eq!(Atomics::load(&after, 100), Ok(5));
}

#[test]
fn misaligned_or_overlong_views_are_clear_errors() {
    let memory = shared(1);
    assert_eq!(
        Int32Array::with_range(&memory, 6, 1).unwrap_err(),
        MemoryError::ViewMisaligned {
            kind: ElementKind::Int32,
            byte_offset: 6
        }
    );
    assert!(Int16Array::with_range(&memory, 3, 1).is_err());
    assert!(BigInt64Array::with_range(&memory, 4, 1).is_err());
    assert!(Uint32Array::with_range(&memory, 2, 1).is_err());
    assert!(Uint16Array::with_range(&memory, 1, 1).is_err());
    assert!(Int8Array::with_range(&memory, 7, 1).is_ok());
    let error = Uint32Array::with_range(&memory, 4, PAGE_SIZE / 4).unwrap_err();
    assert_eq!(
        error,
        MemoryError::ViewPastEnd {
            kind: ElementKind::Uint32,
            byte_offset: 4,
            length: PAGE_SIZE / 4,
            byte_length: PAGE_SIZE,
        }
    );
    assert_eq!(
        error.to_string(),
        "Uint32Array with byte_offset 4 and length 16384 reaches past the memory's length of \
         65536 bytes"
    );
    assert!(Int32Array::with_range(&memory, 6, 1)
        .unwrap_err()
        .to_string()
        .contains("byte_offset is 6"));
    // Overflowing arithmetic is an error, not a panic.
    assert!(BigUint64Array::with_range(&memory, 0, usize::MAX).is_err());
    assert!(Uint8Array::with_range(&memory, usize::MAX, 1).is_err());
    assert!(BigInt64Array::with_range(&memory, usize::MAX - 7, 1).is_err());
    // A view exactly to the end, and an empty view at the end, are fine.
    assert_eq!(
        BigInt64Array::with_range(&memory, 8, PAGE_SIZE / 8 - 1)
            .unwrap()
            .len(),
        8191
    );
    assert!(Uint8Array::with_range(&memory, PAGE_SIZE, 0)
        .unwrap()
        .is_empty());
}

#[test]
fn accessors_check_alignment_and_bounds_against_the_current_length() {
    let memory = SharedMemory::new(1, 2).unwrap();
    assert_eq!(
        memory.atomic_i64(4).unwrap_err(),
        MemoryError::Misaligned {
            byte_offset: 4,
            align: 8
        }
    );
    assert_eq!(
        memory.atomic_u32(PAGE_SIZE).unwrap_err(),
        MemoryError::OutOfBounds {
            byte_offset: PAGE_SIZE,
            size: 4,
            byte_length: PAGE_SIZE
        }
    );
    assert!(memory.atomic_u64(usize::MAX - 7).is_err());
    let word = memory.atomic_i64(PAGE_SIZE - 8).unwrap();
    word.store(-3, SeqCst);
    assert_eq!(
        memory.atomic_u64(PAGE_SIZE - 8).unwrap().load(SeqCst),
        (-3i64) as u64
    );
    memory.grow(1).unwrap();
    assert!(memory.atomic_i32(PAGE_SIZE).is_ok());
    // Byte copies are bounds-checked as a whole.
    let mut buffer = [0u8; 16];
    assert!(memory.read_bytes(2 * PAGE_SIZE - 8, &mut buffer).is_err());
    assert!(memory.write_bytes(usize::MAX, &buffer).is_err());
    memory
        .write_bytes(PAGE_SIZE - 8, &[1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unwrap();
    memory.read_bytes(PAGE_SIZE - 8, &mut buffer).unwrap();
    assert_eq!(&buffer[..10], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
}

#[test]
fn get_and_set_are_plain_unordered_accesses() {
    let memory = shared(1);
    let u16a = Uint16Array::new(&memory);
    assert!(u16a.set(3, 0xbeef));
    assert_eq!(u16a.get(3), Some(0xbeef));
    assert_eq!(Atomics::load(&u16a, 3), Ok(0xbeef));
    assert_eq!(u16a.get(u16a.len()), None);
    assert!(!u16a.set(u16a.len(), 1));
}

/// Readers race a grower: every address below the length a reader observed must be
/// accessible (the pages are committed before the length is published) and read as zero or
/// as the value the grower wrote there.
#[test]
fn stress_concurrent_growth_publishes_committed_pages() {
    const PAGES: u64 = 32;
    let memory = SharedMemory::new(1, PAGES).unwrap();
    let wasm = WasmView::new(&memory);
    let done = AtomicBool::new(false);
    let checked = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(SeqCst) {
                    let length = memory.byte_length() as u64;
                    let value = wasm.i64_atomic_load(length - 8, 0).expect("in bounds");
                    assert!(value == 0 || value == (length / PAGE_SIZE as u64) as i64);
                    checked.fetch_add(1, SeqCst);
                }
            });
        }
        for _ in 1..PAGES {
            let old = memory.grow(1).unwrap();
            let end = (old + 1) * PAGE_SIZE as u64;
            wasm.i64_atomic_store(end - 8, 0, (old + 1) as i64).unwrap();
            // Let the readers run between growths.
            let seen = checked.load(SeqCst);
            wait_until("a reader", || checked.load(SeqCst) > seen);
        }
        done.store(true, SeqCst);
    });
    assert_eq!(memory.size_pages(), PAGES);
    assert!(checked.load(SeqCst) > 0);
}

#[test]
fn external_memory_follows_its_owner() {
    struct Owner {
        words: Box<[AtomicU64]>,
        length: Arc<AtomicUsize>,
        dropped: Arc<AtomicBool>,
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            self.dropped.store(true, SeqCst);
        }
    }
    let length = Arc::new(AtomicUsize::new(64));
    let dropped = Arc::new(AtomicBool::new(false));
    let owner = Owner {
        words: (0..32).map(|_| AtomicU64::new(0)).collect(),
        length: Arc::clone(&length),
        dropped: Arc::clone(&dropped),
    };
    let base = owner.words.as_ptr() as *mut u8;
    let reported = Arc::clone(&owner.length);
    // SAFETY: the owner keeps the 256 bytes alive and unmoved, only accessed atomically; the
    // reported length only grows and stays within 256.
    let memory = unsafe {
        SharedMemory::from_external(base, 256, true, move || reported.load(SeqCst), owner)
    }
    .unwrap();
    let wasm = WasmView::new(&memory);
    assert!(wasm.i64_atomic_load(64, 0).is_err());
    assert_eq!(memory.grow(1), Err(MemoryError::NotGrowable));
    length.store(128, SeqCst); // the owner grew it
    wasm.i64_atomic_store(64, 0, 9).unwrap();
    length.store(1 << 20, SeqCst); // a lying owner is clamped to the maximum
    assert_eq!(memory.byte_length(), 256);
    assert!(wasm.i64_atomic_load(256, 0).is_err());
    let big = BigInt64Array::new(&memory);
    assert_eq!(Atomics::load(&big, 8), Ok(9));
    drop(wasm);
    drop(memory);
    assert!(!dropped.load(SeqCst), "the view still holds the memory");
    drop(big);
    assert!(
        dropped.load(SeqCst),
        "the owner is dropped with the last handle"
    );

    let misaligned = AtomicU64::new(0);
    let base = (&misaligned as *const AtomicU64 as *mut u8).wrapping_add(1);
    // SAFETY: rejected before any use.
    let error = unsafe { SharedMemory::from_external(base, 4, true, || 4, ()) }.unwrap_err();
    assert!(matches!(error, MemoryError::MisalignedBase { .. }));
    let null = std::ptr::null_mut();
    // SAFETY: rejected before any use.
    let error = unsafe { SharedMemory::from_external(null, 0, true, || 0, ()) }.unwrap_err();
    assert_eq!(error, MemoryError::MisalignedBase { address: 0 });
}

/// A queued `wait_async` holds its memory: dropping every view and the memory itself does not
/// unmap it while the wait may be notified, so a new memory cannot be placed at its address,
/// and a notify on a new memory (which the allocator would otherwise put right there) wakes
/// nobody. Without the hold, the second memory reuses the address and the notify returns 1.
#[test]
fn a_queued_wait_keeps_its_memory_so_a_reused_address_cannot_wake_it() {
    let memory = SharedMemory::new(1, 1).unwrap();
    let address = memory.as_ptr() as usize;
    let pending = Atomics::wait_async(&Int32Array::new(&memory), 0, 0, None).unwrap();
    assert!(pending.is_async());
    drop(memory);
    let mut woken = 0;
    for _ in 0..64 {
        let other = SharedMemory::new(1, 1).unwrap();
        assert_ne!(
            other.as_ptr() as usize,
            address,
            "the held address was reused"
        );
        woken += Atomics::notify(&Int32Array::new(&other), 0, usize::MAX).unwrap();
    }
    assert_eq!(woken, 0);
    let future = pending.into_future().unwrap();
    assert_eq!(future.result(), None, "still queued");
    drop(future);
    // Released now: the address may be used again, and nothing is left queued there.
    assert_eq!(agentsync::waiter_count_addr(address), 0);
}

/// Stress: threads free memories with waits still queued on them while other threads make new
/// memories (which land on freed addresses) and notify them. Invariant: no notify ever finds a
/// waiter of a freed memory (Σ notify = 0), every wait is still pending when withdrawn, and
/// nothing is left queued at the end.
#[test]
fn stress_freed_and_reused_memory_never_wakes_a_queued_waiter() {
    let rounds = if cfg!(debug_assertions) { 200 } else { 2_000 };
    let woken = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let notifiers: Vec<_> = (0..2)
        .map(|_| {
            let (woken, done) = (woken.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(SeqCst) {
                    let fresh = SharedMemory::new(1, 1).unwrap();
                    let view = Int32Array::new(&fresh);
                    for index in 0..4 {
                        woken.fetch_add(Atomics::notify(&view, index, usize::MAX).unwrap(), SeqCst);
                    }
                }
            })
        })
        .collect();
    let mut held = Vec::new();
    for round in 0..rounds {
        let memory = SharedMemory::new(1, 1).unwrap();
        let view = Int32Array::new(&memory);
        for index in 0..4 {
            held.push(Atomics::wait_async(&view, index, 0, None).unwrap());
        }
        drop((view, memory));
        if round % 8 == 7 {
            for pending in held.drain(..) {
                assert_eq!(
                    pending.into_future().unwrap().cancel(),
                    None,
                    "woken while freed"
                );
            }
        }
    }
    done.store(true, SeqCst);
    for notifier in notifiers {
        notifier.join().unwrap();
    }
    for pending in held.drain(..) {
        assert_eq!(pending.into_future().unwrap().cancel(), None);
    }
    // Every wait was withdrawn while still queued (`cancel` gave `None`): nothing is left.
    assert_eq!(
        woken.load(SeqCst),
        0,
        "a notify on a new memory woke a waiter of a freed one"
    );
}
