//! The errors of layer 2: building memories and views, and the `Atomics` facade's
//! `TypeError` / `RangeError` cases. Each message names the argument and the value given.

use std::fmt;

use super::ElementKind;

/// The JavaScript error class an [`AtomicsError`] or a [`MemoryError`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsErrorKind {
    /// `TypeError`: the wrong kind of view, buffer or agent.
    TypeError,
    /// `RangeError`: an index, offset or size outside what is allowed.
    RangeError,
}

/// Why a memory, a view or a direct accessor could not be made, or a memory could not grow.
///
/// ```
/// use agentsync::memory::{MemoryError, SharedMemory};
/// let error = SharedMemory::new(2, 1).unwrap_err();
/// assert_eq!(error, MemoryError::InitialAboveMaximum { initial_pages: 2, maximum_pages: 1 });
/// assert_eq!(error.to_string(), "initial size 2 pages is above the maximum of 1 pages");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryError {
    /// `maximum_pages` is above [`MAX_PAGES`](super::MAX_PAGES) (or too large for this target).
    MaximumTooLarge {
        /// The maximum asked for.
        maximum_pages: u64,
    },
    /// `initial_pages` is above `maximum_pages`.
    InitialAboveMaximum {
        /// The initial size asked for.
        initial_pages: u64,
        /// The maximum asked for.
        maximum_pages: u64,
    },
    /// The operating system refused to reserve the address space.
    Reserve {
        /// How many bytes were asked for.
        bytes: usize,
        /// The OS error code, if any.
        os_error: Option<i32>,
    },
    /// The operating system refused to commit pages while growing.
    Commit {
        /// How many bytes were being committed.
        bytes: usize,
        /// The OS error code, if any.
        os_error: Option<i32>,
    },
    /// `grow` would pass the declared maximum. The memory is unchanged.
    GrowPastMaximum {
        /// The size in pages before the call.
        current_pages: u64,
        /// The growth asked for.
        delta_pages: u64,
        /// The declared maximum.
        maximum_pages: u64,
    },
    /// The memory belongs to someone else (see `SharedMemory::from_external`), who grows it.
    NotGrowable,
    /// An external memory's base pointer is null or not 8-byte aligned.
    MisalignedBase {
        /// The base address given.
        address: usize,
    },
    /// A byte offset is not a multiple of the element size.
    Misaligned {
        /// The offset given.
        byte_offset: usize,
        /// The required alignment in bytes.
        align: usize,
    },
    /// `[byte_offset, byte_offset + size)` is not inside the memory's current length.
    OutOfBounds {
        /// The offset given.
        byte_offset: usize,
        /// How many bytes were to be reached.
        size: usize,
        /// The memory's length at the time of the check.
        byte_length: usize,
    },
    /// A view's byte offset is not a multiple of its element size.
    ViewMisaligned {
        /// The view type.
        kind: ElementKind,
        /// The `byte_offset` argument.
        byte_offset: usize,
    },
    /// A view would reach past the end of the memory.
    ViewPastEnd {
        /// The view type.
        kind: ElementKind,
        /// The `byte_offset` argument.
        byte_offset: usize,
        /// The `length` argument, in elements.
        length: usize,
        /// The memory's length at the time of the check.
        byte_length: usize,
    },
}

impl MemoryError {
    /// The JavaScript error class: every case is a `RangeError` (as for `new Int32Array(buffer,
    /// 3)` or a `SharedArrayBuffer` too large), except the growth of an external memory, which
    /// is a `TypeError`.
    pub fn js_kind(&self) -> JsErrorKind {
        match self {
            MemoryError::NotGrowable => JsErrorKind::TypeError,
            _ => JsErrorKind::RangeError,
        }
    }
}

fn os(f: &mut fmt::Formatter<'_>, os_error: &Option<i32>) -> fmt::Result {
    match os_error {
        Some(code) => write!(f, " (OS error {code})"),
        None => Ok(()),
    }
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::MaximumTooLarge { maximum_pages } => write!(
                f,
                "maximum_pages {maximum_pages} is above the limit of {} pages",
                super::MAX_PAGES
            ),
            MemoryError::InitialAboveMaximum {
                initial_pages,
                maximum_pages,
            } => write!(
                f,
                "initial size {initial_pages} pages is above the maximum of {maximum_pages} pages"
            ),
            MemoryError::Reserve { bytes, os_error } => {
                write!(f, "could not reserve {bytes} bytes of address space")?;
                os(f, os_error)
            }
            MemoryError::Commit { bytes, os_error } => {
                write!(f, "could not commit {bytes} bytes while growing")?;
                os(f, os_error)
            }
            MemoryError::GrowPastMaximum {
                current_pages,
                delta_pages,
                maximum_pages,
            } => write!(
                f,
                "grow by delta_pages {delta_pages} from {current_pages} pages would pass the \
                 maximum of {maximum_pages} pages"
            ),
            MemoryError::NotGrowable => {
                f.write_str("this memory is external: grow it through its owner")
            }
            MemoryError::MisalignedBase { address } => write!(
                f,
                "external base address {address:#x} is null or not aligned to 8 bytes"
            ),
            MemoryError::Misaligned { byte_offset, align } => {
                write!(f, "byte_offset {byte_offset} is not a multiple of {align}")
            }
            MemoryError::OutOfBounds {
                byte_offset,
                size,
                byte_length,
            } => write!(
                f,
                "byte_offset {byte_offset} with size {size} is past the memory's length of \
                 {byte_length} bytes"
            ),
            MemoryError::ViewMisaligned { kind, byte_offset } => write!(
                f,
                "start offset of {kind} should be a multiple of {}: byte_offset is {byte_offset}",
                kind.size()
            ),
            MemoryError::ViewPastEnd {
                kind,
                byte_offset,
                length,
                byte_length,
            } => write!(
                f,
                "{kind} with byte_offset {byte_offset} and length {length} reaches past the \
                 memory's length of {byte_length} bytes"
            ),
        }
    }
}

impl std::error::Error for MemoryError {}

/// A `TypeError` or `RangeError` of the `Atomics` facade.
///
/// ```
/// use agentsync::memory::{Atomics, AtomicsError, Int32Array, JsErrorKind, SharedMemory};
/// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
/// let error = Atomics::load(&ia, 16384).unwrap_err();
/// assert_eq!(error, AtomicsError::IndexOutOfRange { index: 16384, length: 16384 });
/// assert_eq!(error.js_kind(), JsErrorKind::RangeError);
/// assert_eq!(error.to_string(), "index 16384 is out of range for a length of 16384");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum AtomicsError {
    /// `TypeError`: wait, waitAsync and notify accept only `Int32Array` and `BigInt64Array`.
    NotWaitable {
        /// The operation, e.g. `"Atomics.wait"`.
        operation: &'static str,
        /// The view type given.
        kind: ElementKind,
    },
    /// `TypeError`: wait and waitAsync need a shared memory.
    NotShared {
        /// The operation.
        operation: &'static str,
    },
    /// `RangeError`: the index is at or past the view's length.
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// The view's length.
        length: usize,
    },
    /// `RangeError`: a JavaScript index value that `ToIndex` rejects (negative, or above
    /// 2^53 − 1); see [`to_index`](super::to_index).
    InvalidIndex {
        /// The value given.
        value: f64,
    },
    /// `TypeError`: a blocking wait on an agent that may not block (see [`agent`](crate::agent)).
    CannotBlock,
}

impl AtomicsError {
    /// The JavaScript error class.
    pub fn js_kind(&self) -> JsErrorKind {
        match self {
            AtomicsError::NotWaitable { .. }
            | AtomicsError::NotShared { .. }
            | AtomicsError::CannotBlock => JsErrorKind::TypeError,
            AtomicsError::IndexOutOfRange { .. } | AtomicsError::InvalidIndex { .. } => {
                JsErrorKind::RangeError
            }
        }
    }
}

impl fmt::Display for AtomicsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtomicsError::NotWaitable { operation, kind } => write!(
                f,
                "{operation} needs an Int32Array or a BigInt64Array, not a {kind}"
            ),
            AtomicsError::NotShared { operation } => {
                write!(f, "{operation} needs a shared memory, not a non-shared one")
            }
            AtomicsError::IndexOutOfRange { index, length } => {
                write!(f, "index {index} is out of range for a length of {length}")
            }
            AtomicsError::InvalidIndex { value } => write!(
                f,
                "index {value} is not a valid index (negative or above 2^53 - 1)"
            ),
            AtomicsError::CannotBlock => {
                f.write_str("Atomics.wait cannot be called in this context")
            }
        }
    }
}

impl std::error::Error for AtomicsError {}
