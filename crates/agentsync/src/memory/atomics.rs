//! The `Atomics` facade: JavaScript's `Atomics` object over typed views, with its argument
//! rules, each operation naming the Wasm opcode it mirrors.

// SeqCst throughout: every `Atomics` operation is sequentially consistent with every other,
// in JavaScript as in Wasm (W2), so each pairs with all the others.
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use super::element::{sealed::Rmw, Element};
use super::error::AtomicsError;
use super::view::TypedArray;
use crate::futex::{WaitAsync, WaitError, WaitResult};

/// JavaScript's `Atomics` namespace. Every call reads like its JavaScript counterpart:
/// `Atomics.add(ia, 0, 1)` is `Atomics::add(&ia, 0, 1)`.
///
/// - Indices are `usize`; JavaScript index values go through [`to_index`](super::to_index).
/// - Values are any Rust integer and are converted to the element type modulo 2^bits, as
///   `ToInt32`, `ToBigInt64`… do; JavaScript Numbers go through
///   [`wrap_number`](super::wrap_number) first.
/// - Results are the element type (`i32` for an `Int32Array`, `u64` for a `BigUint64Array`).
/// - Errors are [`AtomicsError`]s: the `TypeError` and `RangeError` cases of the
///   specification, checked in its order. No input panics.
///
/// All operations other than the plain [`get`](TypedArray::get)/[`set`](TypedArray::set) of a
/// view are sequentially consistent, as in JavaScript and Wasm.
///
/// ```
/// use agentsync::memory::{Atomics, Int32Array, SharedMemory, Uint8Array};
///
/// let sab = SharedMemory::new(1, 1)?;
/// let ia = Int32Array::new(&sab);
/// assert_eq!(Atomics::add(&ia, 0, 5)?, 0);
/// assert_eq!(Atomics::compare_exchange(&ia, 0, 5, 7)?, 5);
/// assert_eq!(Atomics::load(&ia, 0)?, 7);
///
/// let u8a = Uint8Array::new(&sab);
/// assert_eq!(Atomics::store(&u8a, 8, 300)?, 300); // returns the argument...
/// assert_eq!(Atomics::load(&u8a, 8)?, 44); // ...and stores it modulo 256
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum Atomics {}

/// The address of `view[index]`, or the `RangeError`.
#[inline]
fn locate<T: Element>(view: &TypedArray<T>, index: usize) -> Result<*mut u8, AtomicsError> {
    view.element_ptr(index)
        .ok_or(AtomicsError::IndexOutOfRange {
            index,
            length: view.len(),
        })
}

/// The checks of `wait`, `waitAsync` (`check_shared`) and `notify`, in the specification's
/// order: view type, then shared buffer, then index.
#[inline]
fn locate_waitable<T: Element>(
    operation: &'static str,
    view: &TypedArray<T>,
    index: usize,
    check_shared: bool,
) -> Result<*mut u8, AtomicsError> {
    if !T::KIND.is_waitable() {
        return Err(AtomicsError::NotWaitable {
            operation,
            kind: T::KIND,
        });
    }
    if check_shared && !view.memory().is_shared() {
        return Err(AtomicsError::NotShared { operation });
    }
    locate(view, index)
}

macro_rules! rmw {
    ($(#[$doc:meta])* $name:ident => $op:ident) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// [`AtomicsError::IndexOutOfRange`] if `index >= view.len()`.
        #[inline]
        pub fn $name<T: Element>(
            view: &TypedArray<T>,
            index: usize,
            value: impl Into<i128>,
        ) -> Result<T, AtomicsError> {
            let ptr = locate(view, index)?;
            // SAFETY:
            // - in range and aligned (checked by the view and `locate`), in memory that never
            //   moves or shrinks and that the view keeps alive;
            // - every access to the memory is atomic.
            Ok(unsafe { T::rmw(ptr, Rmw::$op, T::wrap(value.into())) })
        }
    };
}

impl Atomics {
    /// `Atomics.load(view, index)`: a sequentially consistent read.
    ///
    /// Mirrors `i32.atomic.load` / `i64.atomic.load` and the narrow `i32.atomic.load8_u`,
    /// `i32.atomic.load16_u` (signed views reinterpret the bits).
    ///
    /// ```
    /// # use agentsync::memory::*;
    /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
    /// assert_eq!(Atomics::load(&ia, 0), Ok(0));
    /// assert!(Atomics::load(&ia, ia.len()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`AtomicsError::IndexOutOfRange`] if `index >= view.len()`.
    #[inline]
    pub fn load<T: Element>(view: &TypedArray<T>, index: usize) -> Result<T, AtomicsError> {
        let ptr = locate(view, index)?;
        // SAFETY: as in `add`.
        Ok(unsafe { T::load(ptr, SeqCst) })
    }

    /// `Atomics.store(view, index, value)`: a sequentially consistent write of `value` modulo
    /// 2^bits. Returns `value` itself, not the wrapped element (JavaScript returns the
    /// argument converted to an integer).
    ///
    /// Mirrors `i32.atomic.store` / `i64.atomic.store` and `i32.atomic.store8` / `store16`.
    ///
    /// ```
    /// # use agentsync::memory::*;
    /// let i8a = Int8Array::new(&SharedMemory::new(1, 1).unwrap());
    /// assert_eq!(Atomics::store(&i8a, 0, 200), Ok(200));
    /// assert_eq!(Atomics::load(&i8a, 0), Ok(-56));
    /// ```
    ///
    /// # Errors
    /// [`AtomicsError::IndexOutOfRange`] if `index >= view.len()`.
    #[inline]
    pub fn store<T: Element, V: Into<i128> + Copy>(
        view: &TypedArray<T>,
        index: usize,
        value: V,
    ) -> Result<V, AtomicsError> {
        let ptr = locate(view, index)?;
        // SAFETY: as in `add`.
        unsafe { T::store(ptr, T::wrap(value.into()), SeqCst) };
        Ok(value)
    }

    rmw! {
        /// `Atomics.add(view, index, value)`: adds `value` (wrapping) and returns the old
        /// element. Mirrors `i32.atomic.rmw.add` / `i64.atomic.rmw.add` (and `rmw8.add_u`,
        /// `rmw16.add_u`).
        ///
        /// ```
        /// # use agentsync::memory::*;
        /// let u8a = Uint8Array::new(&SharedMemory::new(1, 1).unwrap());
        /// assert_eq!(Atomics::add(&u8a, 0, 255), Ok(0));
        /// assert_eq!(Atomics::add(&u8a, 0, 2), Ok(255));
        /// assert_eq!(Atomics::load(&u8a, 0), Ok(1));
        /// ```
        add => Add
    }

    rmw! {
        /// `Atomics.sub(view, index, value)`: subtracts (wrapping), returns the old element.
        /// Mirrors `i32.atomic.rmw.sub` / `i64.atomic.rmw.sub`.
        ///
        /// ```
        /// # use agentsync::memory::*;
        /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
        /// assert_eq!(Atomics::sub(&ia, 0, 1), Ok(0));
        /// assert_eq!(Atomics::load(&ia, 0), Ok(-1));
        /// ```
        sub => Sub
    }

    rmw! {
        /// `Atomics.and(view, index, value)`: bitwise and, returns the old element.
        /// Mirrors `i32.atomic.rmw.and` / `i64.atomic.rmw.and`.
        ///
        /// ```
        /// # use agentsync::memory::*;
        /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
        /// Atomics::store(&ia, 0, 0b1100).unwrap();
        /// assert_eq!(Atomics::and(&ia, 0, 0b1010), Ok(0b1100));
        /// assert_eq!(Atomics::load(&ia, 0), Ok(0b1000));
        /// ```
        and => And
    }

    rmw! {
        /// `Atomics.or(view, index, value)`: bitwise or, returns the old element.
        /// Mirrors `i32.atomic.rmw.or` / `i64.atomic.rmw.or`.
        ///
        /// ```
        /// # use agentsync::memory::*;
        /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
        /// assert_eq!(Atomics::or(&ia, 0, 0b101), Ok(0));
        /// assert_eq!(Atomics::load(&ia, 0), Ok(0b101));
        /// ```
        or => Or
    }

    rmw! {
        /// `Atomics.xor(view, index, value)`: bitwise exclusive or, returns the old element.
        /// Mirrors `i32.atomic.rmw.xor` / `i64.atomic.rmw.xor`.
        ///
        /// ```
        /// # use agentsync::memory::*;
        /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
        /// Atomics::store(&ia, 0, 0b110).unwrap();
        /// assert_eq!(Atomics::xor(&ia, 0, 0b011), Ok(0b110));
        /// assert_eq!(Atomics::load(&ia, 0), Ok(0b101));
        /// ```
        xor => Xor
    }

    rmw! {
        /// `Atomics.exchange(view, index, value)`: stores `value` (wrapped), returns the old
        /// element. Mirrors `i32.atomic.rmw.xchg` / `i64.atomic.rmw.xchg`.
        ///
        /// ```
        /// # use agentsync::memory::*;
        /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
        /// assert_eq!(Atomics::exchange(&ia, 0, 2), Ok(0));
        /// assert_eq!(Atomics::exchange(&ia, 0, 3), Ok(2));
        /// ```
        exchange => Exchange
    }

    /// `Atomics.compareExchange(view, index, expected, replacement)`: if the element equals
    /// `expected` converted to the element type (modulo 2^bits), stores `replacement`
    /// (converted likewise). Returns the old element either way.
    ///
    /// Mirrors `i32.atomic.rmw.cmpxchg` / `i64.atomic.rmw.cmpxchg` (and `rmw8.cmpxchg_u`,
    /// `rmw16.cmpxchg_u`).
    ///
    /// ```
    /// # use agentsync::memory::*;
    /// let u8a = Uint8Array::new(&SharedMemory::new(1, 1).unwrap());
    /// Atomics::store(&u8a, 0, 44).unwrap();
    /// assert_eq!(Atomics::compare_exchange(&u8a, 0, 300, 1), Ok(44)); // 300 wraps to 44
    /// assert_eq!(Atomics::load(&u8a, 0), Ok(1));
    /// assert_eq!(Atomics::compare_exchange(&u8a, 0, 0, 9), Ok(1)); // no match, no store
    /// assert_eq!(Atomics::load(&u8a, 0), Ok(1));
    /// ```
    ///
    /// # Errors
    /// [`AtomicsError::IndexOutOfRange`] if `index >= view.len()`.
    #[inline]
    pub fn compare_exchange<T: Element>(
        view: &TypedArray<T>,
        index: usize,
        expected: impl Into<i128>,
        replacement: impl Into<i128>,
    ) -> Result<T, AtomicsError> {
        let ptr = locate(view, index)?;
        let (expected, replacement) = (T::wrap(expected.into()), T::wrap(replacement.into()));
        // SAFETY: as in `add`.
        Ok(unsafe { T::compare_exchange(ptr, expected, replacement) })
    }

    /// `Atomics.isLockFree(size)`: `true` for 4 always; for 1, 2 and 8 whether this target has
    /// native atomics of that size (fixed for the build); `false` for any other size.
    ///
    /// Wasm has no opcode for it: every Wasm atomic access is lock-free or not by the engine's
    /// choice.
    ///
    /// ```
    /// use agentsync::memory::Atomics;
    /// assert!(Atomics::is_lock_free(4));
    /// assert!(!Atomics::is_lock_free(3));
    /// ```
    // One row per size, as the specification lists them.
    #[allow(clippy::match_like_matches_macro)]
    pub const fn is_lock_free(size: usize) -> bool {
        match size {
            1 => cfg!(target_has_atomic = "8"),
            2 => cfg!(target_has_atomic = "16"),
            4 => true,
            8 => cfg!(target_has_atomic = "64"),
            _ => false,
        }
    }

    /// `Atomics.pause()`: a hint to the CPU that the caller is spinning
    /// (`std::hint::spin_loop`). Takes no iteration count and returns nothing.
    ///
    /// Wasm has no opcode for it.
    ///
    /// ```
    /// agentsync::memory::Atomics::pause();
    /// ```
    #[inline]
    pub fn pause() {
        std::hint::spin_loop();
    }

    /// `Atomics.wait(view, index, value, timeout)`: sleeps until notified if `view[index]`
    /// equals `value` (converted to the element type). `timeout` `None` waits forever; use
    /// [`timeout_from_ms`](super::timeout_from_ms) for JavaScript's milliseconds.
    ///
    /// Mirrors `memory.atomic.wait32` (Int32Array) and `memory.atomic.wait64` (BigInt64Array).
    /// The wait is keyed by the element's address, so waits through any view of the same
    /// bytes share one queue.
    ///
    /// ```
    /// use agentsync::memory::{Atomics, Int32Array, SharedMemory};
    /// use agentsync::WaitResult;
    /// use std::time::Duration;
    ///
    /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
    /// assert_eq!(Atomics::wait(&ia, 0, 1, None), Ok(WaitResult::NotEqual));
    /// assert_eq!(Atomics::wait(&ia, 0, 0, Some(Duration::ZERO)), Ok(WaitResult::TimedOut));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         while Atomics::notify(&ia, 0, 1) == Ok(0) {
    ///             std::thread::yield_now();
    ///         }
    ///     });
    ///     assert_eq!(Atomics::wait(&ia, 0, 0, None), Ok(WaitResult::Ok));
    /// });
    /// ```
    ///
    /// # Blocking
    /// Blocks until notified or until the timeout, a lower bound on the time waited.
    ///
    /// # Errors
    /// In this order: [`AtomicsError::NotWaitable`] (not an Int32Array or BigInt64Array),
    /// [`AtomicsError::NotShared`], [`AtomicsError::IndexOutOfRange`], then
    /// [`AtomicsError::CannotBlock`] if the calling agent may not block.
    pub fn wait<T: Element>(
        view: &TypedArray<T>,
        index: usize,
        value: impl Into<i128>,
        timeout: Option<Duration>,
    ) -> Result<WaitResult, AtomicsError> {
        let ptr = locate_waitable("Atomics.wait", view, index, true)?;
        // SAFETY: as in `add` (the pointer is also non-null: it is inside a live memory).
        match unsafe { T::wait(ptr, T::wrap(value.into()), timeout) } {
            Some(Ok(result)) => Ok(result),
            Some(Err(WaitError::CannotBlock)) => Err(AtomicsError::CannotBlock),
            // Unreachable: `locate_waitable` admitted only waitable types.
            None => Err(AtomicsError::NotWaitable {
                operation: "Atomics.wait",
                kind: T::KIND,
            }),
        }
    }

    /// `Atomics.waitAsync(view, index, value, timeout)`: waits for a notify without blocking.
    /// Returns [`WaitAsync::Sync`] (`not-equal`, or `timed-out` for a zero timeout; nothing
    /// queued) or [`WaitAsync::Async`], a runtime-agnostic future resolving to `ok` or
    /// `timed-out`. Never checks whether the agent may block.
    ///
    /// Mirrors no Wasm opcode: it is the async form of `memory.atomic.wait32` / `wait64`.
    ///
    /// ```
    /// use agentsync::memory::{Atomics, Int32Array, SharedMemory};
    /// use agentsync::WaitResult;
    ///
    /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
    /// let pending = Atomics::wait_async(&ia, 0, 0, None).unwrap();
    /// assert!(pending.is_async());
    /// assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(1));
    /// assert_eq!(futures_lite::future::block_on(pending), WaitResult::Ok);
    /// ```
    ///
    /// # Cancel safety
    /// As [`crate::WaitFuture`]: dropping a pending future removes its record. A pending future
    /// keeps the view's memory alive (so no other memory can be placed at its address and
    /// notify it) until it is dropped.
    ///
    /// # Errors
    /// [`AtomicsError::NotWaitable`], [`AtomicsError::NotShared`],
    /// [`AtomicsError::IndexOutOfRange`], in this order.
    pub fn wait_async<T: Element>(
        view: &TypedArray<T>,
        index: usize,
        value: impl Into<i128>,
        timeout: Option<Duration>,
    ) -> Result<WaitAsync<'static>, AtomicsError> {
        let ptr = locate_waitable("Atomics.waitAsync", view, index, true)?;
        // SAFETY: as in `wait`.
        let pending = unsafe { T::wait_async(ptr, T::wrap(value.into()), timeout) }.ok_or(
            AtomicsError::NotWaitable {
                operation: "Atomics.waitAsync",
                kind: T::KIND,
            },
        )?;
        // A queued wait keeps its memory: no other memory can take the address while it is.
        Ok(pending.keeping(|| view.memory().clone()))
    }

    /// `Atomics.notify(view, index, count)`: wakes up to `count` waiters on `view[index]`,
    /// oldest first, and returns how many it woke. `usize::MAX` means all (JavaScript's
    /// `undefined`); use [`notify_count_from_f64`](super::notify_count_from_f64) for a
    /// JavaScript count. On a non-shared memory it checks the arguments and returns 0.
    ///
    /// Mirrors `memory.atomic.notify`.
    ///
    /// ```
    /// # use agentsync::memory::*;
    /// let ia = Int32Array::new(&SharedMemory::new(1, 1).unwrap());
    /// assert_eq!(Atomics::notify(&ia, 0, usize::MAX), Ok(0));
    /// let u8a = Uint8Array::new(ia.memory());
    /// assert!(Atomics::notify(&u8a, 0, 1).is_err()); // TypeError
    /// ```
    ///
    /// # Errors
    /// [`AtomicsError::NotWaitable`], then [`AtomicsError::IndexOutOfRange`].
    #[inline]
    pub fn notify<T: Element>(
        view: &TypedArray<T>,
        index: usize,
        count: usize,
    ) -> Result<usize, AtomicsError> {
        let ptr = locate_waitable("Atomics.notify", view, index, false)?;
        if !view.memory().is_shared() {
            return Ok(0);
        }
        Ok(crate::futex::notify_addr(ptr as usize, count))
    }
}
