//! Typed views over a `SharedMemory`: JavaScript's `Int8Array` … `BigUint64Array`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::element::Element;
use super::error::MemoryError;
use super::SharedMemory;

/// A typed view of `length` elements of type `T` starting at `byte_offset` in a memory.
///
/// Like JavaScript's typed arrays over a `SharedArrayBuffer`: the offset must be a multiple of
/// the element size and the view must fit in the memory's length when it is made. Since a memory
/// never shrinks or moves, the view stays valid for its whole life; it keeps the memory alive.
/// Its length is fixed (views that track a growing length are not provided).
///
/// Atomic operations go through [`Atomics`](super::Atomics). [`get`](Self::get) and
/// [`set`](Self::set) are JavaScript's plain `ta[i]` reads and writes: unordered, done as
/// relaxed atomics.
///
/// ```
/// use agentsync::memory::{Int16Array, Int32Array, MemoryError, SharedMemory};
///
/// let memory = SharedMemory::new(1, 1)?;
/// let ia = Int32Array::new(&memory);
/// assert_eq!(ia.len(), 16384);
/// let tail = Int16Array::with_range(&memory, 65532, 2)?;
/// ia.set(16383, -1);
/// assert_eq!(tail.get(0), Some(-1));
/// assert_eq!(tail.get(2), None);
///
/// assert!(matches!(Int32Array::with_range(&memory, 2, 1), Err(MemoryError::ViewMisaligned { .. })));
/// assert!(matches!(Int32Array::with_range(&memory, 65532, 2), Err(MemoryError::ViewPastEnd { .. })));
/// # Ok::<(), MemoryError>(())
/// ```
pub struct TypedArray<T: Element> {
    /// Keeps the bytes alive.
    memory: Arc<SharedMemory>,
    /// The address of element 0: `memory.as_ptr() + byte_offset`.
    start: *mut u8,
    /// The offset of element 0 in the memory.
    byte_offset: usize,
    /// The number of elements; `start .. start + length × size` is inside the memory.
    length: usize,
    _element: PhantomData<T>,
}

// SAFETY: the view is an `Arc` of a `Send + Sync` memory plus plain numbers; `start` points into
// that memory, which is only accessed through atomics.
unsafe impl<T: Element> Send for TypedArray<T> {}
// SAFETY: as for `Send`: every access through `&TypedArray` is atomic.
unsafe impl<T: Element> Sync for TypedArray<T> {}

/// `Int8Array`.
pub type Int8Array = TypedArray<i8>;
/// `Uint8Array`.
pub type Uint8Array = TypedArray<u8>;
/// `Int16Array`.
pub type Int16Array = TypedArray<i16>;
/// `Uint16Array`.
pub type Uint16Array = TypedArray<u16>;
/// `Int32Array`: one of the two waitable views.
pub type Int32Array = TypedArray<i32>;
/// `Uint32Array`.
pub type Uint32Array = TypedArray<u32>;
/// `BigInt64Array`: one of the two waitable views.
pub type BigInt64Array = TypedArray<i64>;
/// `BigUint64Array`.
pub type BigUint64Array = TypedArray<u64>;

impl<T: Element> TypedArray<T> {
    /// A view of the whole memory as it is now (`new Int32Array(sab)`): offset 0, as many
    /// elements as fit in its current length.
    pub fn new(memory: &Arc<SharedMemory>) -> Self {
        let length = memory.byte_length() / T::SIZE;
        TypedArray {
            memory: Arc::clone(memory),
            start: memory.as_ptr(),
            byte_offset: 0,
            length,
            _element: PhantomData,
        }
    }

    /// A view of `length` elements from `byte_offset` (`new Int32Array(sab, byteOffset,
    /// length)`).
    ///
    /// # Errors
    /// [`MemoryError::ViewMisaligned`] unless `byte_offset` is a multiple of the element size;
    /// [`MemoryError::ViewPastEnd`] if the view would reach past the memory's current length.
    pub fn with_range(
        memory: &Arc<SharedMemory>,
        byte_offset: usize,
        length: usize,
    ) -> Result<Self, MemoryError> {
        if byte_offset % T::SIZE != 0 {
            return Err(MemoryError::ViewMisaligned {
                kind: T::KIND,
                byte_offset,
            });
        }
        let byte_length = memory.byte_length();
        let fits = length
            .checked_mul(T::SIZE)
            .and_then(|bytes| bytes.checked_add(byte_offset))
            .is_some_and(|end| end <= byte_length);
        if !fits {
            return Err(MemoryError::ViewPastEnd {
                kind: T::KIND,
                byte_offset,
                length,
                byte_length,
            });
        }
        Ok(TypedArray {
            memory: Arc::clone(memory),
            start: memory.as_ptr().wrapping_add(byte_offset),
            byte_offset,
            length,
            _element: PhantomData,
        })
    }

    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.length
    }

    /// Whether the view has no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The offset of element 0 in the memory.
    pub fn byte_offset(&self) -> usize {
        self.byte_offset
    }

    /// The view's size in bytes.
    pub fn byte_length(&self) -> usize {
        self.length * T::SIZE
    }

    /// The memory under the view.
    pub fn memory(&self) -> &Arc<SharedMemory> {
        &self.memory
    }

    /// The address of element `index`, if it is in range.
    #[inline]
    pub(crate) fn element_ptr(&self, index: usize) -> Option<*mut u8> {
        if index < self.length {
            Some(self.start.wrapping_add(index * T::SIZE))
        } else {
            None
        }
    }

    /// The plain read `ta[index]`: a relaxed atomic load, `None` past the end (JavaScript's
    /// `undefined`).
    #[inline]
    pub fn get(&self, index: usize) -> Option<T> {
        let ptr = self.element_ptr(index)?;
        // SAFETY:
        // - in range and aligned (checked at construction and above), in memory that never moves
        //   or shrinks and that `self.memory` keeps alive;
        // - every access to the memory is atomic.
        Some(unsafe { T::load(ptr, Relaxed) })
    }

    /// The plain write `ta[index] = value`: a relaxed atomic store. Past the end it writes
    /// nothing and returns `false`, as JavaScript ignores it.
    #[inline]
    pub fn set(&self, index: usize, value: T) -> bool {
        let Some(ptr) = self.element_ptr(index) else {
            return false;
        };
        // SAFETY: as in `get`.
        unsafe { T::store(ptr, value, Relaxed) };
        true
    }
}

impl<T: Element> Clone for TypedArray<T> {
    fn clone(&self) -> Self {
        TypedArray {
            memory: Arc::clone(&self.memory),
            start: self.start,
            byte_offset: self.byte_offset,
            length: self.length,
            _element: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for TypedArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(T::KIND.name())
            .field("byte_offset", &self.byte_offset)
            .field("length", &self.length)
            .finish()
    }
}
