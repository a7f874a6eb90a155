//! `SharedMemory`: a byte buffer of Wasm pages that never moves, shared between threads.

use std::any::Any;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{
    AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Arc, Mutex};

use super::error::MemoryError;
use super::reserve::Reservation;
use super::{MAX_PAGES, PAGE_SIZE};

/// Where the current length comes from.
enum Length {
    /// Ours: written by `grow` (under `grow_lock`) with `Release`, read with `Acquire`.
    Owned(AtomicUsize),
    /// Someone else's (a Wasm engine's memory): asked for [`byte_length`], which may take the
    /// engine's lock. `known` is the largest length an answer gave (clamped to the maximum):
    /// since the length never decreases, anything below it is in bounds without asking, so
    /// the bounds checks of threads that wait and notify on the same memory do not all
    /// contend for that lock.
    ///
    /// [`byte_length`]: SharedMemory::byte_length
    External {
        ask: Box<dyn Fn() -> usize + Send + Sync>,
        known: AtomicUsize,
    },
}

/// Who owns the bytes.
enum Storage {
    /// Our own reservation.
    Owned(Reservation),
    /// An external memory; kept alive until we are dropped. Never read, only held.
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
}

/// A linear memory of 64 KiB pages that never moves: JavaScript's `SharedArrayBuffer` (or, made
/// with [`non_shared`](Self::non_shared), its `ArrayBuffer`) and a Wasm memory.
///
/// The maximum is reserved when the memory is made and committed page by page as it grows (see
/// the [module docs](super) for how). Every access goes through atomics, so racing accesses
/// are never undefined behaviour in Rust. Share it with `Arc`; views keep it alive.
///
/// ```
/// use agentsync::memory::{SharedMemory, PAGE_SIZE};
///
/// let memory = SharedMemory::new(1, 4)?;
/// assert_eq!(memory.byte_length(), PAGE_SIZE);
/// let base = memory.as_ptr();
/// assert_eq!(memory.grow(2)?, 1); // returns the old size in pages, like memory.grow
/// assert_eq!(memory.size_pages(), 3);
/// assert!(memory.grow(2).is_err()); // 5 pages would pass the maximum
/// assert_eq!(memory.as_ptr(), base); // never moves
///
/// memory.atomic_i32(8)?.store(7, std::sync::atomic::Ordering::SeqCst);
/// let mut bytes = [0; 4];
/// memory.read_bytes(8, &mut bytes)?;
/// assert_eq!(bytes, 7i32.to_le_bytes());
/// # Ok::<(), agentsync::memory::MemoryError>(())
/// ```
pub struct SharedMemory {
    /// The first byte. Never changes.
    base: NonNull<u8>,
    /// The maximum length in bytes; the reservation's size.
    maximum: usize,
    /// The current length in bytes.
    length: Length,
    /// `false` for the non-shared variant.
    shared: bool,
    /// Serialises `grow` calls, so commit and length update happen in order.
    grow_lock: Mutex<()>,
    /// The owner of the bytes.
    storage: Storage,
}

// SAFETY: the bytes are owned by `storage` (a reservation or an external owner that is
// `Send + Sync`) and are only ever accessed through atomics; the other fields are `Send`.
unsafe impl Send for SharedMemory {}
// SAFETY: shared access reads `base`/`maximum`, loads `length` atomically, calls a `Sync`
// callback, locks a mutex, or accesses the bytes through atomics.
unsafe impl Sync for SharedMemory {}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory")
            .field("base", &self.base)
            .field("byte_length", &self.byte_length())
            .field("maximum_byte_length", &self.maximum)
            .field("shared", &self.shared)
            .field("external", &matches!(self.storage, Storage::External(_)))
            .finish()
    }
}

impl SharedMemory {
    /// A shared memory of `initial_pages` zeroed pages, growable to `maximum_pages`
    /// (at most [`MAX_PAGES`], 4 GiB).
    ///
    /// # Errors
    /// [`MemoryError::MaximumTooLarge`], [`MemoryError::InitialAboveMaximum`], or the OS
    /// refusing the reservation or the initial commit.
    pub fn new(initial_pages: u64, maximum_pages: u64) -> Result<Arc<Self>, MemoryError> {
        Self::create(initial_pages, maximum_pages, true)
    }

    /// The non-shared variant (JavaScript's `ArrayBuffer`, a Wasm memory without `shared`):
    /// the same storage and atomics, but `Atomics.wait` / `waitAsync` on it are a `TypeError`,
    /// Wasm waits trap, and notify returns 0.
    ///
    /// ```
    /// let memory = agentsync::memory::SharedMemory::non_shared(1, 1).unwrap();
    /// assert!(!memory.is_shared());
    /// ```
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn non_shared(initial_pages: u64, maximum_pages: u64) -> Result<Arc<Self>, MemoryError> {
        Self::create(initial_pages, maximum_pages, false)
    }

    fn create(
        initial_pages: u64,
        maximum_pages: u64,
        shared: bool,
    ) -> Result<Arc<Self>, MemoryError> {
        let maximum = pages_to_bytes(maximum_pages)
            .filter(|_| maximum_pages <= MAX_PAGES)
            .ok_or(MemoryError::MaximumTooLarge { maximum_pages })?;
        if initial_pages > maximum_pages {
            return Err(MemoryError::InitialAboveMaximum {
                initial_pages,
                maximum_pages,
            });
        }
        let initial = initial_pages as usize * PAGE_SIZE;
        let reservation = Reservation::new(maximum)?;
        reservation.commit(0, initial)?;
        Ok(Arc::new(SharedMemory {
            base: reservation.base(),
            maximum,
            length: Length::Owned(AtomicUsize::new(initial)),
            shared,
            grow_lock: Mutex::new(()),
            storage: Storage::Owned(reservation),
        }))
    }

    /// Wraps memory owned by someone else (for example a wasmtime `SharedMemory`) so that views,
    /// the `Atomics` facade and the Wasm view work on it.
    ///
    /// `byte_length` is asked for the current length at every bounds check (its answer is
    /// clamped to `maximum_bytes`); `owner` is kept alive as long as this memory. `grow` returns
    /// [`MemoryError::NotGrowable`]: grow it through its owner.
    ///
    /// ```
    /// use agentsync::memory::{Atomics, Int32Array, SharedMemory};
    /// use std::sync::atomic::AtomicU64;
    /// use std::sync::Arc;
    ///
    /// let words: Arc<[AtomicU64]> = (0..16).map(|_| AtomicU64::new(0)).collect();
    /// let base = words.as_ptr() as *mut u8;
    /// // SAFETY: `words` lives as long as the memory (it is the owner), never moves, is
    /// // 8-aligned, 128 bytes long, and only accessed atomically.
    /// let memory = unsafe { SharedMemory::from_external(base, 128, true, || 128, words) }?;
    /// let ia = Int32Array::new(&memory);
    /// assert_eq!(ia.len(), 32);
    /// Atomics::store(&ia, 3, 5).unwrap();
    /// # Ok::<(), agentsync::memory::MemoryError>(())
    /// ```
    ///
    /// # Safety
    /// - `base` is valid for atomic reads and writes of `maximum_bytes` bytes, or at least of
    ///   every byte below what `byte_length` reports, as long as `owner` is alive.
    /// - The memory never moves, and `byte_length` never decreases.
    /// - Every other access to these bytes while this memory exists is atomic, or does not race
    ///   with ours (Wasm atomics and wasmtime's host accessors qualify).
    ///
    /// # Errors
    /// [`MemoryError::MisalignedBase`] if `base` is null or not aligned to 8 bytes.
    pub unsafe fn from_external(
        base: *mut u8,
        maximum_bytes: usize,
        shared: bool,
        byte_length: impl Fn() -> usize + Send + Sync + 'static,
        owner: impl Send + Sync + 'static,
    ) -> Result<Arc<Self>, MemoryError> {
        let address = base as usize;
        let base = NonNull::new(base)
            .filter(|_| address % 8 == 0)
            .ok_or(MemoryError::MisalignedBase { address })?;
        Ok(Arc::new(SharedMemory {
            base,
            maximum: maximum_bytes,
            length: Length::External {
                ask: Box::new(byte_length),
                known: AtomicUsize::new(0),
            },
            shared,
            grow_lock: Mutex::new(()),
            storage: Storage::External(Box::new(owner)),
        }))
    }

    /// Whether this is a shared memory (`false` for [`non_shared`](Self::non_shared)).
    #[inline]
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The current length in bytes (JavaScript's `byteLength`). It only ever grows.
    #[inline]
    pub fn byte_length(&self) -> usize {
        match &self.length {
            // Acquire: pairs with the Release store in `grow`, after the pages were committed.
            Length::Owned(length) => length.load(Acquire),
            Length::External { ask, known } => {
                let now = ask().min(self.maximum);
                // Release: an access that trusts `known` (an Acquire load) happens after this
                // answer, which came after the engine made those bytes accessible.
                if now > known.load(Relaxed) {
                    known.fetch_max(now, Release);
                }
                now
            }
        }
    }

    /// The current size in 64 KiB pages (Wasm's `memory.size`).
    ///
    /// ```
    /// let memory = agentsync::memory::SharedMemory::new(2, 8).unwrap();
    /// assert_eq!((memory.size_pages(), memory.maximum_pages()), (2, 8));
    /// assert_eq!(memory.maximum_byte_length(), 8 * 65536);
    /// ```
    pub fn size_pages(&self) -> u64 {
        (self.byte_length() / PAGE_SIZE) as u64
    }

    /// The declared maximum in bytes: the reservation, never exceeded.
    pub fn maximum_byte_length(&self) -> usize {
        self.maximum
    }

    /// The declared maximum in pages.
    pub fn maximum_pages(&self) -> u64 {
        (self.maximum / PAGE_SIZE) as u64
    }

    /// The first byte. Stable for the memory's whole life; for keys and for code that hands
    /// the memory to a Wasm engine.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Grows the memory by `delta_pages` zeroed pages and returns the old size in pages
    /// (Wasm's `memory.grow`). The bytes do not move; existing views stay valid.
    ///
    /// # Errors
    /// [`MemoryError::GrowPastMaximum`] (the memory is unchanged; Wasm's `memory.grow` returns
    /// −1 here), [`MemoryError::Commit`] if the OS refuses the pages, and
    /// [`MemoryError::NotGrowable`] for an external memory.
    pub fn grow(&self, delta_pages: u64) -> Result<u64, MemoryError> {
        let (Storage::Owned(reservation), Length::Owned(length)) = (&self.storage, &self.length)
        else {
            return Err(MemoryError::NotGrowable);
        };
        let _growing = crate::loom::lock(&self.grow_lock);
        // Relaxed: only `grow` writes the length, and we hold `grow_lock`.
        let old = length.load(Relaxed);
        let old_pages = (old / PAGE_SIZE) as u64;
        let new = pages_to_bytes(delta_pages)
            .and_then(|delta| old.checked_add(delta))
            .filter(|&new| new <= self.maximum)
            .ok_or(MemoryError::GrowPastMaximum {
                current_pages: old_pages,
                delta_pages,
                maximum_pages: self.maximum_pages(),
            })?;
        reservation.commit(old, new)?;
        // Release: a thread that sees the new length also sees the committed pages.
        length.store(new, Release);
        Ok(old_pages)
    }

    /// The address of `[byte_offset, byte_offset + size)`, if it is aligned to `size` and inside
    /// the current length.
    #[inline]
    pub(crate) fn checked(&self, byte_offset: usize, size: usize) -> Result<*mut u8, MemoryError> {
        if byte_offset % size != 0 {
            return Err(MemoryError::Misaligned {
                byte_offset,
                align: size,
            });
        }
        self.in_bounds(byte_offset, size)
    }

    /// The address of `[byte_offset, byte_offset + size)`, if inside the current length.
    #[inline]
    pub(crate) fn in_bounds(
        &self,
        byte_offset: usize,
        size: usize,
    ) -> Result<*mut u8, MemoryError> {
        if let (Length::External { known, .. }, Some(end)) =
            (&self.length, byte_offset.checked_add(size))
        {
            // A length some answer gave is still a lower bound (it never decreases).
            if end <= known.load(Acquire) {
                return Ok(self.base.as_ptr().wrapping_add(byte_offset));
            }
        }
        let byte_length = self.byte_length();
        match byte_offset.checked_add(size) {
            Some(end) if end <= byte_length => Ok(self.base.as_ptr().wrapping_add(byte_offset)),
            _ => Err(MemoryError::OutOfBounds {
                byte_offset,
                size,
                byte_length,
            }),
        }
    }

    /// The 32-bit word at `byte_offset`, as a reference valid as long as the memory: the place
    /// where layer 3 puts its primitives.
    ///
    /// ```
    /// use std::sync::atomic::Ordering::SeqCst;
    /// let memory = agentsync::memory::SharedMemory::new(1, 1).unwrap();
    /// let word = memory.atomic_i32(12).unwrap();
    /// word.store(-1, SeqCst);
    /// assert_eq!(memory.atomic_u32(12).unwrap().load(SeqCst), u32::MAX);
    /// assert!(memory.atomic_i32(13).is_err()); // misaligned
    /// assert!(memory.atomic_i32(65536).is_err()); // past the end
    /// ```
    ///
    /// # Errors
    /// [`MemoryError::Misaligned`] unless `byte_offset` is a multiple of 4;
    /// [`MemoryError::OutOfBounds`] past the current length.
    pub fn atomic_i32(&self, byte_offset: usize) -> Result<&AtomicI32, MemoryError> {
        let ptr = self.checked(byte_offset, 4)?;
        // SAFETY:
        // - aligned and inside the current length, which never shrinks, in memory that never
        //   moves and lives as long as `self`;
        // - every access to the memory is atomic.
        Ok(unsafe { AtomicI32::from_ptr(ptr.cast()) })
    }

    /// [`atomic_i32`](Self::atomic_i32) as unsigned.
    ///
    /// # Errors
    /// As [`atomic_i32`](Self::atomic_i32).
    pub fn atomic_u32(&self, byte_offset: usize) -> Result<&AtomicU32, MemoryError> {
        let ptr = self.checked(byte_offset, 4)?;
        // SAFETY: as in `atomic_i32`.
        Ok(unsafe { AtomicU32::from_ptr(ptr.cast()) })
    }

    /// The 64-bit word at `byte_offset` (a multiple of 8).
    ///
    /// ```
    /// use std::sync::atomic::Ordering::SeqCst;
    /// let memory = agentsync::memory::SharedMemory::new(1, 1).unwrap();
    /// memory.atomic_i64(8).unwrap().store(-2, SeqCst);
    /// assert_eq!(memory.atomic_u64(8).unwrap().load(SeqCst), u64::MAX - 1);
    /// assert!(memory.atomic_i64(4).is_err()); // 4 is not a multiple of 8
    /// ```
    ///
    /// # Errors
    /// [`MemoryError::Misaligned`] unless `byte_offset` is a multiple of 8;
    /// [`MemoryError::OutOfBounds`] past the current length.
    pub fn atomic_i64(&self, byte_offset: usize) -> Result<&AtomicI64, MemoryError> {
        let ptr = self.checked(byte_offset, 8)?;
        // SAFETY: as in `atomic_i32`.
        Ok(unsafe { AtomicI64::from_ptr(ptr.cast()) })
    }

    /// [`atomic_i64`](Self::atomic_i64) as unsigned.
    ///
    /// # Errors
    /// As [`atomic_i64`](Self::atomic_i64).
    pub fn atomic_u64(&self, byte_offset: usize) -> Result<&AtomicU64, MemoryError> {
        let ptr = self.checked(byte_offset, 8)?;
        // SAFETY: as in `atomic_i32`.
        Ok(unsafe { AtomicU64::from_ptr(ptr.cast()) })
    }

    /// Copies bytes out, one relaxed atomic byte load each (JavaScript's unordered reads).
    ///
    /// # Errors
    /// [`MemoryError::OutOfBounds`] if the range is past the current length; nothing is read.
    pub fn read_bytes(&self, byte_offset: usize, out: &mut [u8]) -> Result<(), MemoryError> {
        let start = self.in_bounds(byte_offset, out.len())?;
        for (i, byte) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above), memory never moves or shrinks; atomic access.
            *byte = unsafe { AtomicU8::from_ptr(start.add(i)) }.load(Relaxed);
        }
        Ok(())
    }

    /// Copies bytes in, one relaxed atomic byte store each (JavaScript's unordered writes).
    ///
    /// ```
    /// let memory = agentsync::memory::SharedMemory::new(1, 1).unwrap();
    /// memory.write_bytes(65534, &[1, 2]).unwrap();
    /// assert!(memory.write_bytes(65535, &[1, 2]).is_err()); // one byte too far: nothing written
    /// let mut out = [0; 3];
    /// memory.read_bytes(65533, &mut out).unwrap();
    /// assert_eq!(out, [0, 1, 2]);
    /// ```
    ///
    /// # Errors
    /// [`MemoryError::OutOfBounds`] if the range is past the current length; nothing is written.
    pub fn write_bytes(&self, byte_offset: usize, bytes: &[u8]) -> Result<(), MemoryError> {
        let start = self.in_bounds(byte_offset, bytes.len())?;
        for (i, byte) in bytes.iter().enumerate() {
            // SAFETY: in bounds (checked above), memory never moves or shrinks; atomic access.
            unsafe { AtomicU8::from_ptr(start.add(i)) }.store(*byte, Relaxed);
        }
        Ok(())
    }
}

/// `pages × 64 KiB` if that fits a `usize`.
fn pages_to_bytes(pages: u64) -> Option<usize> {
    usize::try_from(pages).ok()?.checked_mul(PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;

    /// An external memory asks its engine for the length only when an access lies beyond the
    /// largest length it was told: the bounds checks of waits and notifies take no lock.
    #[test]
    fn an_external_length_is_asked_only_past_what_it_was_told() {
        #[repr(align(8))]
        struct Bytes([u8; 4 * PAGE_SIZE]);
        let bytes: &'static mut Bytes = Box::leak(Box::new(Bytes([0; 4 * PAGE_SIZE])));
        let length = Arc::new(AtomicUsize::new(PAGE_SIZE));
        let asked = Arc::new(AtomicUsize::new(0));
        let (l, a) = (length.clone(), asked.clone());
        // SAFETY: a leaked, 8-aligned buffer of the maximum's size that nothing else touches;
        // the length below only grows.
        let memory = unsafe {
            SharedMemory::from_external(
                bytes.0.as_mut_ptr(),
                4 * PAGE_SIZE,
                true,
                move || {
                    a.fetch_add(1, SeqCst);
                    l.load(SeqCst)
                },
                (),
            )
        }
        .unwrap();
        assert_eq!(memory.byte_length(), PAGE_SIZE);
        let before = asked.load(SeqCst);
        for offset in (0..PAGE_SIZE).step_by(4) {
            memory.atomic_i32(offset).unwrap();
        }
        assert_eq!(asked.load(SeqCst), before, "in-bounds accesses asked");
        // Past the known length: asked, and still refused while the engine says so.
        assert!(memory.atomic_i32(PAGE_SIZE).is_err());
        assert!(asked.load(SeqCst) > before);
        // The engine grew: the next access past the old length asks and is allowed.
        length.store(2 * PAGE_SIZE, SeqCst);
        memory.atomic_i32(PAGE_SIZE).unwrap();
        let after = asked.load(SeqCst);
        memory.atomic_i32(2 * PAGE_SIZE - 4).unwrap();
        assert_eq!(asked.load(SeqCst), after);
        assert!(memory.atomic_i32(2 * PAGE_SIZE).is_err());
    }
}
