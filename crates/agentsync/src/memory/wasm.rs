//! The Wasm view: every atomic instruction of the threads proposal over a `SharedMemory`, with
//! byte addresses, natural-alignment and bounds traps, and `wait32` / `wait64` / `notify` in
//! the proposal's check order.

use std::fmt;
use std::sync::atomic::{fence, Ordering::SeqCst};
use std::sync::Arc;

use super::element::sealed::{Raw, Rmw};
use super::element::Element;
use super::{timeout_from_ns, SharedMemory};
use crate::futex::WaitError;

/// A Wasm trap raised by a [`WasmView`] instruction. `Display` starts with the message Wasm
/// engines use and names the rule of `docs/semantics.md` that raised it.
///
/// ```
/// use agentsync::memory::{SharedMemory, Trap, WasmView};
/// let wasm = WasmView::new(&SharedMemory::new(1, 1).unwrap());
/// let trap = wasm.i32_atomic_load(2, 0).unwrap_err();
/// assert_eq!(trap, Trap::UnalignedAtomic { address: 2, size: 4 });
/// assert_eq!(trap.message(), "unaligned atomic");
/// assert_eq!(trap.to_string(), "unaligned atomic: effective address 2 is not a multiple of 4 (W4)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trap {
    /// The effective address is not a multiple of the access size (W4), checked first.
    UnalignedAtomic {
        /// The effective address (address + offset).
        address: u64,
        /// The access size in bytes.
        size: u32,
    },
    /// The access reaches past the memory's current length, or address + offset overflows (W4).
    OutOfBounds {
        /// The effective address, or `u64::MAX` if address + offset overflowed.
        address: u64,
        /// The access size in bytes.
        size: u32,
        /// The memory's length at the time of the check.
        byte_length: u64,
    },
    /// `memory.atomic.wait32` / `wait64` on a memory that is not shared (W7).
    ExpectedSharedMemory,
    /// A wait on a thread that may not block (see [`agent`](crate::agent)), as browsers trap
    /// on their main thread.
    CannotBlock,
}

impl Trap {
    /// The short message Wasm engines and the spec tests use.
    pub const fn message(&self) -> &'static str {
        match self {
            Trap::UnalignedAtomic { .. } => "unaligned atomic",
            Trap::OutOfBounds { .. } => "out of bounds memory access",
            Trap::ExpectedSharedMemory => "expected shared memory",
            Trap::CannotBlock => "Atomics.wait cannot be called in this context",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.message();
        match self {
            Trap::UnalignedAtomic { address, size } => write!(
                f,
                "{message}: effective address {address} is not a multiple of {size} (W4)"
            ),
            Trap::OutOfBounds {
                address,
                size,
                byte_length,
            } => write!(
                f,
                "{message}: {size} bytes at effective address {address} in a memory of \
                 {byte_length} bytes (W4)"
            ),
            Trap::ExpectedSharedMemory => write!(f, "{message}: wait on an unshared memory (W7)"),
            Trap::CannotBlock => f.write_str(message),
        }
    }
}

impl std::error::Error for Trap {}

/// A Wasm module's view of a memory: byte addresses, sequentially consistent little-endian
/// atomics, traps as values.
///
/// Each method is one instruction, named after it (`i32.atomic.rmw8.add_u` is
/// `i32_atomic_rmw8_add_u`) and taking the address operand and the `offset` immediate; the
/// effective address is their sum, without wrap-around. Narrow loads and read-modify-writes
/// zero-extend, narrow stores keep the low bits, narrow `cmpxchg` truncates both operands to
/// the width first. The alignment immediate is always the natural one (W3): it is implied by
/// the method.
///
/// ```
/// use agentsync::memory::{SharedMemory, Trap, WasmView};
///
/// let wasm = WasmView::new(&SharedMemory::new(1, 1).unwrap());
/// wasm.i32_atomic_store(0, 4, -1)?;
/// assert_eq!(wasm.i32_atomic_load8_u(4, 0)?, 0xff);
/// assert_eq!(wasm.i64_atomic_rmw16_add_u(0, 4, 1)?, 0xffff); // old value, zero-extended
/// assert_eq!(wasm.i32_atomic_load(4, 0)?, -65536); // 0xffff_0000: the carry stays in 16 bits
/// assert_eq!(wasm.memory_atomic_wait32(8, 0, 1, 0)?, 1); // not-equal
/// assert_eq!(wasm.memory_atomic_wait32(8, 0, 0, 0)?, 2); // timed-out
/// assert!(matches!(wasm.i64_atomic_load(65536, 0), Err(Trap::OutOfBounds { .. })));
/// # Ok::<(), Trap>(())
/// ```
#[derive(Clone, Debug)]
pub struct WasmView {
    memory: Arc<SharedMemory>,
}

/// Generates one method per instruction: `load`, `store`, `rmw`, `cmpxchg` kinds.
macro_rules! instructions {
    ($($kind:ident $name:ident ($opcode:expr) $value:ty, $cell:ty $(, $op:ident)?;)*) => {$(
        instructions!(@$kind $name, $opcode, $value, $cell $(, $op)?);
    )*};
    (@load $name:ident, $opcode:expr, $value:ty, $cell:ty) => {
        #[doc = concat!("`", $opcode, "`: a sequentially consistent load (narrow widths zero-extend).")]
        ///
        /// # Errors
        /// [`Trap::UnalignedAtomic`], then [`Trap::OutOfBounds`] (W4).
        #[inline]
        pub fn $name(&self, address: u64, offset: u64) -> Result<$value, Trap> {
            let ptr = self.access(address, offset, <$cell>::SIZE)?;
            // SAFETY: see `access`.
            Ok(unsafe { <$cell as Raw>::load(ptr, SeqCst) } as $value)
        }
    };
    (@store $name:ident, $opcode:expr, $value:ty, $cell:ty) => {
        #[doc = concat!("`", $opcode, "`: a sequentially consistent store (narrow widths keep the low bits).")]
        ///
        /// # Errors
        /// [`Trap::UnalignedAtomic`], then [`Trap::OutOfBounds`] (W4).
        #[inline]
        pub fn $name(&self, address: u64, offset: u64, value: $value) -> Result<(), Trap> {
            let ptr = self.access(address, offset, <$cell>::SIZE)?;
            // SAFETY: see `access`.
            unsafe { <$cell as Raw>::store(ptr, value as $cell, SeqCst) };
            Ok(())
        }
    };
    (@rmw $name:ident, $opcode:expr, $value:ty, $cell:ty, $op:ident) => {
        #[doc = concat!("`", $opcode, "`: a sequentially consistent read-modify-write returning the old value (zero-extended).")]
        ///
        /// # Errors
        /// [`Trap::UnalignedAtomic`], then [`Trap::OutOfBounds`] (W4).
        #[inline]
        pub fn $name(&self, address: u64, offset: u64, value: $value) -> Result<$value, Trap> {
            let ptr = self.access(address, offset, <$cell>::SIZE)?;
            // SAFETY: see `access`.
            Ok(unsafe { <$cell as Raw>::rmw(ptr, Rmw::$op, value as $cell) } as $value)
        }
    };
    (@cmpxchg $name:ident, $opcode:expr, $value:ty, $cell:ty) => {
        #[doc = concat!("`", $opcode, "`: stores `replacement` if the cell equals `expected` (both truncated to the width), returns the old value (zero-extended).")]
        ///
        /// # Errors
        /// [`Trap::UnalignedAtomic`], then [`Trap::OutOfBounds`] (W4).
        #[inline]
        pub fn $name(
            &self,
            address: u64,
            offset: u64,
            expected: $value,
            replacement: $value,
        ) -> Result<$value, Trap> {
            let ptr = self.access(address, offset, <$cell>::SIZE)?;
            let (expected, replacement) = (expected as $cell, replacement as $cell);
            // SAFETY: see `access`.
            Ok(unsafe { <$cell as Raw>::compare_exchange(ptr, expected, replacement) } as $value)
        }
    };
}

/// Generates the seven read-modify-writes and the cmpxchg of one width.
macro_rules! rmw_family {
    ($value:ty, $cell:ty, $add:ident $sub:ident $and:ident $or:ident $xor:ident $xchg:ident
     $cmpxchg:ident, $prefix:literal, $suffix:literal) => {
        instructions! {
            rmw $add (concat!($prefix, ".add", $suffix)) $value, $cell, Add;
            rmw $sub (concat!($prefix, ".sub", $suffix)) $value, $cell, Sub;
            rmw $and (concat!($prefix, ".and", $suffix)) $value, $cell, And;
            rmw $or (concat!($prefix, ".or", $suffix)) $value, $cell, Or;
            rmw $xor (concat!($prefix, ".xor", $suffix)) $value, $cell, Xor;
            rmw $xchg (concat!($prefix, ".xchg", $suffix)) $value, $cell, Exchange;
            cmpxchg $cmpxchg (concat!($prefix, ".cmpxchg", $suffix)) $value, $cell;
        }
    };
}

impl WasmView {
    /// A Wasm view of `memory`.
    pub fn new(memory: &Arc<SharedMemory>) -> Self {
        WasmView {
            memory: Arc::clone(memory),
        }
    }

    /// The memory under the view.
    pub fn memory(&self) -> &Arc<SharedMemory> {
        &self.memory
    }

    /// The alignment check (W4, always first): `address + offset` must be a multiple of `size`.
    ///
    /// Returns the effective address, or `None` if the sum passes `u64::MAX`: such an address
    /// is out of bounds, never wrapped, but that is for [`in_bounds`](Self::in_bounds) to say,
    /// after any check that W7 puts in between.
    #[inline]
    fn aligned(&self, address: u64, offset: u64, size: usize) -> Result<Option<u64>, Trap> {
        // `size` divides 2^64, so the wrapped sum has the same remainder as the true one.
        let wrapped = address.wrapping_add(offset);
        if wrapped % size as u64 != 0 {
            return Err(Trap::UnalignedAtomic {
                address: wrapped,
                size: size as u32,
            });
        }
        Ok(address.checked_add(offset))
    }

    /// The address of `size` bytes at `effective`, if inside the current length (W4). `None`
    /// (a sum past `u64::MAX`) is out of bounds, reported at address `u64::MAX`.
    #[inline]
    fn in_bounds(&self, effective: Option<u64>, size: usize) -> Result<*mut u8, Trap> {
        let out_of_bounds = |byte_length: usize| Trap::OutOfBounds {
            address: effective.unwrap_or(u64::MAX),
            size: size as u32,
            byte_length: byte_length as u64,
        };
        let offset = effective
            .and_then(|effective| usize::try_from(effective).ok())
            .ok_or_else(|| out_of_bounds(self.memory.byte_length()))?;
        self.memory
            .in_bounds(offset, size)
            .map_err(|_| out_of_bounds(self.memory.byte_length()))
    }

    /// Alignment, then bounds: the address of an atomic access of `size` bytes.
    ///
    /// The pointer returned is aligned to `size` (the memory's base is 8-aligned) and inside
    /// the current length of a memory that never moves or shrinks and that `self` keeps alive;
    /// all accesses to it are atomic. That is what every `SAFETY: see access` relies on.
    #[inline]
    fn access(&self, address: u64, offset: u64, size: usize) -> Result<*mut u8, Trap> {
        let effective = self.aligned(address, offset, size)?;
        self.in_bounds(effective, size)
    }

    instructions! {
        load i32_atomic_load ("i32.atomic.load") i32, u32;
        load i64_atomic_load ("i64.atomic.load") i64, u64;
        load i32_atomic_load8_u ("i32.atomic.load8_u") i32, u8;
        load i32_atomic_load16_u ("i32.atomic.load16_u") i32, u16;
        load i64_atomic_load8_u ("i64.atomic.load8_u") i64, u8;
        load i64_atomic_load16_u ("i64.atomic.load16_u") i64, u16;
        load i64_atomic_load32_u ("i64.atomic.load32_u") i64, u32;
        store i32_atomic_store ("i32.atomic.store") i32, u32;
        store i64_atomic_store ("i64.atomic.store") i64, u64;
        store i32_atomic_store8 ("i32.atomic.store8") i32, u8;
        store i32_atomic_store16 ("i32.atomic.store16") i32, u16;
        store i64_atomic_store8 ("i64.atomic.store8") i64, u8;
        store i64_atomic_store16 ("i64.atomic.store16") i64, u16;
        store i64_atomic_store32 ("i64.atomic.store32") i64, u32;
    }

    rmw_family!(i32, u32, i32_atomic_rmw_add i32_atomic_rmw_sub i32_atomic_rmw_and
        i32_atomic_rmw_or i32_atomic_rmw_xor i32_atomic_rmw_xchg i32_atomic_rmw_cmpxchg,
        "i32.atomic.rmw", "");
    rmw_family!(i64, u64, i64_atomic_rmw_add i64_atomic_rmw_sub i64_atomic_rmw_and
        i64_atomic_rmw_or i64_atomic_rmw_xor i64_atomic_rmw_xchg i64_atomic_rmw_cmpxchg,
        "i64.atomic.rmw", "");
    rmw_family!(i32, u8, i32_atomic_rmw8_add_u i32_atomic_rmw8_sub_u i32_atomic_rmw8_and_u
        i32_atomic_rmw8_or_u i32_atomic_rmw8_xor_u i32_atomic_rmw8_xchg_u
        i32_atomic_rmw8_cmpxchg_u, "i32.atomic.rmw8", "_u");
    rmw_family!(i32, u16, i32_atomic_rmw16_add_u i32_atomic_rmw16_sub_u i32_atomic_rmw16_and_u
        i32_atomic_rmw16_or_u i32_atomic_rmw16_xor_u i32_atomic_rmw16_xchg_u
        i32_atomic_rmw16_cmpxchg_u, "i32.atomic.rmw16", "_u");
    rmw_family!(i64, u8, i64_atomic_rmw8_add_u i64_atomic_rmw8_sub_u i64_atomic_rmw8_and_u
        i64_atomic_rmw8_or_u i64_atomic_rmw8_xor_u i64_atomic_rmw8_xchg_u
        i64_atomic_rmw8_cmpxchg_u, "i64.atomic.rmw8", "_u");
    rmw_family!(i64, u16, i64_atomic_rmw16_add_u i64_atomic_rmw16_sub_u i64_atomic_rmw16_and_u
        i64_atomic_rmw16_or_u i64_atomic_rmw16_xor_u i64_atomic_rmw16_xchg_u
        i64_atomic_rmw16_cmpxchg_u, "i64.atomic.rmw16", "_u");
    rmw_family!(i64, u32, i64_atomic_rmw32_add_u i64_atomic_rmw32_sub_u i64_atomic_rmw32_and_u
        i64_atomic_rmw32_or_u i64_atomic_rmw32_xor_u i64_atomic_rmw32_xchg_u
        i64_atomic_rmw32_cmpxchg_u, "i64.atomic.rmw32", "_u");

    /// `atomic.fence`: a sequentially consistent fence.
    ///
    /// ```
    /// let wasm = agentsync::memory::WasmView::new(&agentsync::memory::SharedMemory::new(1, 1).unwrap());
    /// wasm.atomic_fence();
    /// ```
    pub fn atomic_fence(&self) {
        fence(SeqCst);
    }

    /// The checks of `wait32` / `wait64` in the order of W7: alignment, shared, bounds.
    fn wait_target<T: Element>(&self, address: u64, offset: u64) -> Result<*mut u8, Trap> {
        let effective = self.aligned(address, offset, T::SIZE)?;
        if !self.memory.is_shared() {
            return Err(Trap::ExpectedSharedMemory);
        }
        self.in_bounds(effective, T::SIZE)
    }

    /// Waits on a checked address; `T` is `i32` or `i64`.
    fn wait<T: Element>(&self, ptr: *mut u8, expected: T, timeout_ns: i64) -> Result<u32, Trap> {
        // SAFETY: see `access` (also non-null: inside a live memory).
        match unsafe { T::wait(ptr, expected, timeout_from_ns(timeout_ns)) } {
            Some(Ok(result)) => Ok(result.wasm_code()),
            Some(Err(WaitError::CannotBlock)) | None => Err(Trap::CannotBlock),
        }
    }

    /// `memory.atomic.wait32`: if the 32-bit cell at the effective address equals `expected`,
    /// sleeps until notified or until `timeout_ns` nanoseconds pass (negative: never). Returns
    /// 0 ok, 1 not-equal, 2 timed-out.
    ///
    /// Checks in the order of W7: alignment trap, unshared-memory trap, bounds trap, compare.
    /// Shares its queue with every other wait on the same bytes (host or guest, 32 or 64 bits).
    ///
    /// # Blocking
    /// Blocks until notified or until the timeout.
    ///
    /// # Errors
    /// [`Trap::UnalignedAtomic`], [`Trap::ExpectedSharedMemory`], [`Trap::OutOfBounds`], and
    /// [`Trap::CannotBlock`] on a thread that may not block.
    pub fn memory_atomic_wait32(
        &self,
        address: u64,
        offset: u64,
        expected: i32,
        timeout_ns: i64,
    ) -> Result<u32, Trap> {
        let ptr = self.wait_target::<i32>(address, offset)?;
        self.wait(ptr, expected, timeout_ns)
    }

    /// `memory.atomic.wait64`: [`memory_atomic_wait32`](Self::memory_atomic_wait32) on a
    /// 64-bit cell (8-byte alignment).
    ///
    /// ```
    /// use agentsync::memory::{SharedMemory, Trap, WasmView};
    /// let wasm = WasmView::new(&SharedMemory::new(1, 1).unwrap());
    /// assert_eq!(wasm.memory_atomic_wait64(8, 0, 0, 1_000), Ok(2));
    /// assert!(matches!(wasm.memory_atomic_wait64(4, 0, 0, 0), Err(Trap::UnalignedAtomic { .. })));
    /// ```
    ///
    /// # Blocking
    /// Blocks until notified or until the timeout.
    ///
    /// # Errors
    /// As [`memory_atomic_wait32`](Self::memory_atomic_wait32).
    pub fn memory_atomic_wait64(
        &self,
        address: u64,
        offset: u64,
        expected: i64,
        timeout_ns: i64,
    ) -> Result<u32, Trap> {
        let ptr = self.wait_target::<i64>(address, offset)?;
        self.wait(ptr, expected, timeout_ns)
    }

    /// `memory.atomic.notify`: wakes at most `count` waiters on exactly the effective address,
    /// oldest first, and returns how many it woke. On an unshared memory it returns 0 after the
    /// checks.
    ///
    /// Checks in the order of W11: alignment (4 bytes) trap, bounds trap, then unshared → 0.
    ///
    /// ```
    /// use agentsync::memory::{SharedMemory, WasmView};
    /// let wasm = WasmView::new(&SharedMemory::new(1, 1).unwrap());
    /// assert_eq!(wasm.memory_atomic_notify(0, 0, 1), Ok(0));
    /// assert!(wasm.memory_atomic_notify(2, 0, 1).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Trap::UnalignedAtomic`], then [`Trap::OutOfBounds`].
    pub fn memory_atomic_notify(&self, address: u64, offset: u64, count: u32) -> Result<u32, Trap> {
        let ptr = self.access(address, offset, 4)?;
        if !self.memory.is_shared() {
            return Ok(0);
        }
        let woken = crate::futex::notify_addr(ptr as usize, count as usize);
        // At most `count` were woken, so this always fits.
        Ok(u32::try_from(woken).unwrap_or(u32::MAX))
    }
}
