//! Placing word-built primitives inside a [`SharedMemory`].
//!
//! Layer 3's primitives are a few `AtomicI32` words each. [`SharedMemory::place`] hands out a
//! reference to such a primitive at an aligned offset, so that every agent using the memory
//! (threads, tasks, Wasm code running the same protocol) shares one instance.

use std::sync::atomic::{AtomicI32, Ordering::SeqCst};

use super::{MemoryError, SharedMemory};

/// A type made only of `AtomicI32` words, which can live inside a [`SharedMemory`].
///
/// # Safety
/// Implementors promise:
/// - the type is `#[repr(C)]` or `#[repr(transparent)]` over `AtomicI32` words and nothing else
///   (size a multiple of 4, alignment 4, no padding, no other fields);
/// - any contents of those words is memory-safe for every method: words that do not follow the
///   documented layout (written by a buggy agent, say) are at worst a logic error.
pub unsafe trait Words: Sync + Sized {}

impl SharedMemory {
    /// The primitive `T` whose words start at `byte_offset`, as they are now. Fresh memory is
    /// zeroed, which is the initial state of the mutex, spin lock, condvar, rwlock, event,
    /// handoff and latch; use [`place_new`](Self::place_new) to write a primitive's initial
    /// words first (a semaphore's permits, a barrier's parties).
    ///
    /// ```
    /// use agentsync::memory::SharedMemory;
    /// use agentsync::sync::Mutex;
    ///
    /// let memory = SharedMemory::new(1, 1).unwrap();
    /// let mutex: &Mutex = memory.place(64).unwrap();
    /// let again: &Mutex = memory.place(64).unwrap(); // the same words, the same mutex
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(again.try_lock().is_none());
    /// drop(guard);
    /// assert!(memory.place::<Mutex>(66).is_err()); // misaligned
    /// ```
    ///
    /// # Errors
    /// [`MemoryError::Misaligned`] unless `byte_offset` is a multiple of 4;
    /// [`MemoryError::OutOfBounds`] if the words do not fit in the current length.
    pub fn place<T: Words>(&self, byte_offset: usize) -> Result<&T, MemoryError> {
        let size = std::mem::size_of::<T>();
        if byte_offset % 4 != 0 {
            return Err(MemoryError::Misaligned {
                byte_offset,
                align: 4,
            });
        }
        let ptr = self.in_bounds(byte_offset, size)?;
        // SAFETY:
        // - 4-aligned (checked) and `size_of::<T>()` bytes inside the current length, which never
        //   shrinks, of memory that never moves and lives as long as `self`;
        // - `T` is only `AtomicI32` words (`Words`), every access to the memory is atomic, and
        //   any contents of the words is memory-safe for `T` (`Words`).
        Ok(unsafe { &*ptr.cast::<T>() })
    }

    /// Writes the words of `value` at `byte_offset` (sequentially consistent stores, one per
    /// word), then returns the primitive placed there.
    ///
    /// Meant for setting up a primitive before other agents use it: stores over a primitive
    /// that is in use replace its state under its users' feet.
    ///
    /// ```
    /// use agentsync::memory::SharedMemory;
    /// use agentsync::sync::Semaphore;
    ///
    /// let memory = SharedMemory::new(1, 1).unwrap();
    /// let permits = memory.place_new(0, Semaphore::new(2)).unwrap();
    /// assert!(permits.try_acquire_many(2));
    /// assert!(!permits.try_acquire());
    /// ```
    ///
    /// # Errors
    /// As [`place`](Self::place).
    pub fn place_new<T: Words>(&self, byte_offset: usize, value: T) -> Result<&T, MemoryError> {
        let placed = self.place::<T>(byte_offset)?;
        let words = std::mem::size_of::<T>() / 4;
        let source = (&value as *const T).cast::<AtomicI32>();
        let target = (placed as *const T).cast::<AtomicI32>();
        for i in 0..words {
            // SAFETY: `T` is `words` consecutive `AtomicI32`s (`Words`), both in `value` and
            // at `placed`, so word `i` is in bounds of each.
            let (from, to) = unsafe { (&*source.add(i), &*target.add(i)) };
            to.store(from.load(SeqCst), SeqCst);
        }
        Ok(placed)
    }
}
