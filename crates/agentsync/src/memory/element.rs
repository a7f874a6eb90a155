//! The eight element types of JavaScript's integer typed arrays, and their atomic operations.
//!
//! Each Rust integer type stands for one typed array: `i8` for `Int8Array` … `u64` for
//! `BigUint64Array`. The raw operations live in a sealed trait, so only this crate can call them
//! on a pointer; users reach them through [`Atomics`](super::Atomics) and the views.

use std::fmt;
// SeqCst: the read-modify-writes serve `Atomics` and Wasm, where every atomic operation is
// sequentially consistent and pairs with every other (W2); loads and stores take theirs from
// the caller (SeqCst for `Atomics`, Relaxed for JavaScript's unordered accesses).
use std::sync::atomic::{
    AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicU16, AtomicU32, AtomicU64, AtomicU8,
    Ordering::{self, SeqCst},
};
use std::time::Duration;

use crate::futex::{WaitAsync, WaitError, WaitResult};
use sealed::Rmw;

/// The type of a typed array, as JavaScript names it.
///
/// ```
/// use agentsync::memory::ElementKind;
/// assert_eq!(ElementKind::BigInt64.to_string(), "BigInt64Array");
/// assert_eq!(ElementKind::Uint16.size(), 2);
/// assert!(ElementKind::Int32.is_waitable() && !ElementKind::Uint32.is_waitable());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementKind {
    /// `Int8Array`, Rust `i8`.
    Int8,
    /// `Uint8Array`, Rust `u8`.
    Uint8,
    /// `Int16Array`, Rust `i16`.
    Int16,
    /// `Uint16Array`, Rust `u16`.
    Uint16,
    /// `Int32Array`, Rust `i32`. Waitable.
    Int32,
    /// `Uint32Array`, Rust `u32`.
    Uint32,
    /// `BigInt64Array`, Rust `i64`. Waitable.
    BigInt64,
    /// `BigUint64Array`, Rust `u64`.
    BigUint64,
}

impl ElementKind {
    /// The element size in bytes (JavaScript's `BYTES_PER_ELEMENT`).
    pub const fn size(self) -> usize {
        match self {
            ElementKind::Int8 | ElementKind::Uint8 => 1,
            ElementKind::Int16 | ElementKind::Uint16 => 2,
            ElementKind::Int32 | ElementKind::Uint32 => 4,
            ElementKind::BigInt64 | ElementKind::BigUint64 => 8,
        }
    }

    /// The constructor name, e.g. `"Int32Array"`.
    pub const fn name(self) -> &'static str {
        match self {
            ElementKind::Int8 => "Int8Array",
            ElementKind::Uint8 => "Uint8Array",
            ElementKind::Int16 => "Int16Array",
            ElementKind::Uint16 => "Uint16Array",
            ElementKind::Int32 => "Int32Array",
            ElementKind::Uint32 => "Uint32Array",
            ElementKind::BigInt64 => "BigInt64Array",
            ElementKind::BigUint64 => "BigUint64Array",
        }
    }

    /// Whether `Atomics.wait`, `waitAsync` and `notify` accept this type: only `Int32Array` and
    /// `BigInt64Array` do.
    pub const fn is_waitable(self) -> bool {
        matches!(self, ElementKind::Int32 | ElementKind::BigInt64)
    }
}

impl fmt::Display for ElementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) mod sealed {
    use super::*;

    /// The read-modify-write operations of `Atomics` (and of Wasm's `atomic.rmw`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Rmw {
        Add,
        Sub,
        And,
        Or,
        Xor,
        Exchange,
    }

    /// The raw operations on an element at a pointer.
    ///
    /// Every `unsafe fn` here has the same contract.
    ///
    /// # Safety
    /// - `ptr` is aligned to the element size and valid for atomic reads and writes of that many
    ///   bytes for the duration of the call.
    /// - Every other access to those bytes during the call is atomic (this crate's memories only
    ///   make atomic accesses).
    pub trait Raw: Copy {
        /// `Atomics.load`-style read with `order`.
        unsafe fn load(ptr: *mut u8, order: Ordering) -> Self;
        /// Write with `order`.
        unsafe fn store(ptr: *mut u8, value: Self, order: Ordering);
        /// A sequentially consistent read-modify-write; returns the old value.
        unsafe fn rmw(ptr: *mut u8, op: Rmw, value: Self) -> Self;
        /// A sequentially consistent compare-and-swap; returns the old value.
        unsafe fn compare_exchange(ptr: *mut u8, expected: Self, replacement: Self) -> Self;
        /// A blocking futex wait, or `None` if the type is not waitable.
        unsafe fn wait(
            _ptr: *mut u8,
            _expected: Self,
            _timeout: Option<Duration>,
        ) -> Option<Result<WaitResult, WaitError>> {
            None
        }
        /// An async futex wait, or `None` if the type is not waitable.
        unsafe fn wait_async(
            _ptr: *mut u8,
            _expected: Self,
            _timeout: Option<Duration>,
        ) -> Option<WaitAsync<'static>> {
            None
        }
    }
}

/// An element type of an integer typed array: `i8`, `u8`, `i16`, `u16`, `i32`, `u32`, `i64`,
/// `u64`. Sealed.
///
/// ```
/// use agentsync::memory::{Element, ElementKind};
/// assert_eq!(<u8 as Element>::KIND, ElementKind::Uint8);
/// assert_eq!(u8::wrap(300), 44); // JavaScript's ToUint8
/// assert_eq!(i8::wrap(200), -56); // ToInt8
/// assert_eq!(u64::wrap(-1), u64::MAX); // BigInt.asUintN(64, -1n)
/// ```
pub trait Element: sealed::Raw + PartialEq + Eq + fmt::Debug + Send + Sync + 'static {
    /// Which typed array this is.
    const KIND: ElementKind;
    /// The size in bytes.
    const SIZE: usize;

    /// Converts an integer to this type modulo 2^bits, as JavaScript's `ToInt8` … `ToUint32`,
    /// `ToBigInt64` and `ToBigUint64` do for integral values.
    fn wrap(value: i128) -> Self;

    /// The value as a wide integer (what JavaScript returns as a Number or a BigInt).
    fn widen(self) -> i128;
}

macro_rules! element {
    ($($ty:ident => $atomic:ident, $kind:ident;)*) => {$(
        impl sealed::Raw for $ty {
            #[inline]
            unsafe fn load(ptr: *mut u8, order: Ordering) -> Self {
                // SAFETY:
                // - aligned and valid for the call (caller);
                // - all concurrent accesses are atomic (caller).
                unsafe { <$atomic>::from_ptr(ptr.cast()) }.load(order)
            }

            #[inline]
            unsafe fn store(ptr: *mut u8, value: Self, order: Ordering) {
                // SAFETY: as in `load`.
                unsafe { <$atomic>::from_ptr(ptr.cast()) }.store(value, order)
            }

            #[inline]
            unsafe fn rmw(ptr: *mut u8, op: Rmw, value: Self) -> Self {
                // SAFETY: as in `load`.
                let atomic = unsafe { <$atomic>::from_ptr(ptr.cast()) };
                match op {
                    Rmw::Add => atomic.fetch_add(value, SeqCst),
                    Rmw::Sub => atomic.fetch_sub(value, SeqCst),
                    Rmw::And => atomic.fetch_and(value, SeqCst),
                    Rmw::Or => atomic.fetch_or(value, SeqCst),
                    Rmw::Xor => atomic.fetch_xor(value, SeqCst),
                    Rmw::Exchange => atomic.swap(value, SeqCst),
                }
            }

            #[inline]
            unsafe fn compare_exchange(ptr: *mut u8, expected: Self, replacement: Self) -> Self {
                // SAFETY: as in `load`.
                let atomic = unsafe { <$atomic>::from_ptr(ptr.cast()) };
                match atomic.compare_exchange(expected, replacement, SeqCst, SeqCst) {
                    Ok(old) | Err(old) => old,
                }
            }

            element!(@wait $ty => $atomic, $kind);
        }

        impl Element for $ty {
            const KIND: ElementKind = ElementKind::$kind;
            const SIZE: usize = std::mem::size_of::<$ty>();

            #[inline]
            fn wrap(value: i128) -> Self {
                value as $ty
            }

            #[inline]
            fn widen(self) -> i128 {
                self as i128
            }
        }
    )*};
    (@wait i32 => $atomic:ident, $kind:ident) => { element!(@waitable $atomic); };
    (@wait i64 => $atomic:ident, $kind:ident) => { element!(@waitable $atomic); };
    (@wait $ty:ident => $atomic:ident, $kind:ident) => {};
    (@waitable $atomic:ident) => {
        #[inline]
        unsafe fn wait(
            ptr: *mut u8,
            expected: Self,
            timeout: Option<Duration>,
        ) -> Option<Result<WaitResult, WaitError>> {
            // SAFETY: non-null, aligned and valid for the call (caller of `wait`).
            Some(unsafe { crate::futex::wait_ptr(ptr.cast::<$atomic>(), expected, timeout) })
        }

        #[inline]
        unsafe fn wait_async(
            ptr: *mut u8,
            expected: Self,
            timeout: Option<Duration>,
        ) -> Option<WaitAsync<'static>> {
            // SAFETY: non-null, aligned and valid for the call (caller of `wait_async`); the
            // future keeps only the address.
            Some(unsafe { crate::futex::wait_async_ptr(ptr.cast::<$atomic>(), expected, timeout) })
        }
    };
}

element! {
    i8 => AtomicI8, Int8;
    u8 => AtomicU8, Uint8;
    i16 => AtomicI16, Int16;
    u16 => AtomicU16, Uint16;
    i32 => AtomicI32, Int32;
    u32 => AtomicU32, Uint32;
    i64 => AtomicI64, BigInt64;
    u64 => AtomicU64, BigUint64;
}
