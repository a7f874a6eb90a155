//! The guest's shared memory seen from the host (also as an agentsync memory), the W4
//! alignment check every rewritten opcode starts with, and the checks of the host helpers
//! (the opcodes continue in agentsync's `WasmView`, see `host.rs`).

use std::sync::atomic::{AtomicI32, AtomicI64};
use std::sync::Arc;
use std::time::Duration;

use agentsync::{WaitAsync, WaitResult, Waitable};
use wasmtime::{MemoryType, SharedMemory};

use crate::engine::Runtime;
use crate::error::{Trap, WasmError};

/// Bytes in one WebAssembly page.
pub const PAGE_SIZE: u64 = 65_536;

/// W4, first half: the effective address, checked for natural alignment before anything else.
///
/// The sum is computed in 128 bits so it never wraps around.
pub(crate) fn aligned_address(address: u64, offset: u64, size: u32) -> Result<u128, Trap> {
    let effective = u128::from(address) + u128::from(offset);
    if effective % u128::from(size) != 0 {
        return Err(Trap::UnalignedAtomic {
            address: u64::try_from(effective).unwrap_or(u64::MAX),
            size,
        });
    }
    Ok(effective)
}

/// W4, second half: the access must lie inside the memory's current `length`.
pub(crate) fn in_bounds(effective: u128, size: u32, length: usize) -> Result<usize, Trap> {
    let end = effective + u128::from(size);
    if end > length as u128 {
        return Err(Trap::OutOfBounds {
            address: u64::try_from(effective).ok(),
            size,
            length,
        });
    }
    Ok(effective as usize)
}

/// Converts a Wasm timeout (i64 nanoseconds, negative = never expires, W8) to ours.
pub fn wasm_timeout(nanos: i64) -> Option<Duration> {
    u64::try_from(nanos).ok().map(Duration::from_nanos)
}

/// A guest's shared linear memory, reachable from host code.
///
/// wasmtime never moves a shared memory's bytes (W13): the base pointer stays valid for as
/// long as any handle to the memory exists, and host code can use agentsync's futex,
/// primitives and `wait_async` on guest words. [`agentsync_memory`](Self::agentsync_memory)
/// shows the same bytes as an [`agentsync::memory::SharedMemory`], so the `Atomics` facade, the
/// Wasm view and placed primitives work on them too. Cloning is cheap (both handles are
/// reference counted).
///
/// ```
/// use agentsync_wasm::{GuestMemory, Runtime};
/// let memory = GuestMemory::new(Runtime::shared(), 1, 1).unwrap();
/// let word = memory.atomic_i32(8).unwrap();
/// word.store(7, std::sync::atomic::Ordering::SeqCst);
/// assert_eq!(memory.host_wait32(8, 6, None).unwrap(), agentsync::WaitResult::NotEqual);
/// assert_eq!(memory.host_notify(8, 1).unwrap(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct GuestMemory {
    /// wasmtime's handle: the owner of the bytes.
    memory: SharedMemory,
    /// The same bytes as an agentsync memory, built once when the handle is wrapped.
    host: Arc<agentsync::memory::SharedMemory>,
}

impl GuestMemory {
    /// Creates a shared memory of `minimum` pages that may grow to `maximum` pages.
    ///
    /// # Errors
    ///
    /// [`WasmError::Invalid`] if the limits are refused (maximum below minimum, too large).
    pub fn new(runtime: &Runtime, minimum: u32, maximum: u32) -> Result<Self, WasmError> {
        Self::with_type(runtime, MemoryType::shared(minimum, maximum))
    }

    /// Creates a shared memory of type `ty` (e.g. a module's import type, 64-bit or not).
    ///
    /// # Errors
    ///
    /// [`WasmError::Invalid`] if the type is refused (not shared, limits too large).
    pub fn with_type(runtime: &Runtime, ty: MemoryType) -> Result<Self, WasmError> {
        SharedMemory::new(runtime.engine(), ty)
            .map(Self::from_shared)
            .map_err(|e| WasmError::Invalid(crate::error::describe(&e)))
    }

    /// Wraps a wasmtime shared memory (e.g. one a guest exported).
    ///
    /// # Panics
    ///
    /// If wasmtime's base pointer were null or not 8-aligned; wasmtime page-aligns every
    /// memory, including empty ones.
    pub fn from_shared(memory: SharedMemory) -> Self {
        let host = agentsync_view(&memory);
        Self { memory, host }
    }

    /// The guest's memory as an [`agentsync::memory::SharedMemory`]: the same bytes, at the same
    /// address, with the same current length (asked of wasmtime at every bounds check, so guest
    /// `memory.grow` shows at once). Typed views, the `Atomics` facade, the `WasmView` and
    /// placed primitives (`memory.place::<agentsync::sync::Mutex>(offset)`) work on it, and
    /// their waits share the FIFO queues of guest waits on the same bytes (W12).
    ///
    /// It cannot grow: grow the memory through [`grow`](Self::grow) or the guest. It keeps the
    /// wasmtime memory alive as long as it lives.
    ///
    /// ```
    /// use agentsync::memory::{Atomics, Int32Array};
    /// use agentsync_wasm::{GuestMemory, Runtime};
    ///
    /// let guest = GuestMemory::new(Runtime::shared(), 1, 2).unwrap();
    /// let memory = guest.agentsync_memory();
    /// assert_eq!(memory.as_ptr(), guest.base());
    /// assert_eq!(memory.maximum_byte_length(), 2 * 65536);
    /// let words = Int32Array::new(&memory);
    /// Atomics::store(&words, 3, 42).unwrap();
    /// assert_eq!(guest.atomic_i32(12).unwrap().load(std::sync::atomic::Ordering::SeqCst), 42);
    /// guest.grow(1).unwrap();
    /// assert_eq!(memory.byte_length(), 2 * 65536);
    /// ```
    pub fn agentsync_memory(&self) -> Arc<agentsync::memory::SharedMemory> {
        Arc::clone(&self.host)
    }

    /// The wasmtime handle, to import the memory into an instance.
    pub fn shared_memory(&self) -> &SharedMemory {
        &self.memory
    }

    /// The address of byte 0. It never changes, even when the memory grows.
    pub fn base(&self) -> *mut u8 {
        self.memory.data().as_ptr() as *mut u8
    }

    /// The current length in bytes (a multiple of [`PAGE_SIZE`]).
    pub fn len(&self) -> usize {
        self.memory.data_size()
    }

    /// Whether the memory currently has zero bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grows the memory by `pages`, returning the previous size in pages.
    ///
    /// # Errors
    ///
    /// [`WasmError::Trap`] if the maximum would be exceeded.
    pub fn grow(&self, pages: u64) -> Result<u64, WasmError> {
        self.memory
            .grow(pages)
            .map_err(|e| WasmError::Trap(crate::error::describe(&e)))
    }

    /// Checks `address` for a `size`-byte atomic access (alignment first, then bounds) and
    /// returns a pointer to it.
    fn checked<A>(&self, address: u64, offset: u64) -> Result<*const A, Trap> {
        let size = std::mem::size_of::<A>() as u32;
        let effective = aligned_address(address, offset, size)?;
        let index = in_bounds(effective, size, self.len())?;
        // SAFETY:
        // - `index + size <= len`, so the offset stays inside the memory's allocation.
        Ok(unsafe { self.base().add(index) }.cast::<A>())
    }

    /// The 32-bit word at byte `address`, as a host atomic.
    ///
    /// Guest and host accesses to it are the same memory operations: `SeqCst` here pairs with
    /// the guest's (sequentially consistent, W2) atomic instructions.
    ///
    /// # Errors
    ///
    /// [`Trap::UnalignedAtomic`] or [`Trap::OutOfBounds`].
    pub fn atomic_i32(&self, address: u64) -> Result<&AtomicI32, Trap> {
        let ptr = self.checked::<AtomicI32>(address, 0)?;
        // SAFETY:
        // - aligned to 4 and inside the memory (checked above);
        // - the memory never moves or shrinks and lives as long as `self` holds its handle;
        // - every access to these bytes from the host is atomic; the guest's are Wasm
        //   accesses, which wasmtime performs as machine loads/stores like any racy Wasm host.
        Ok(unsafe { &*ptr })
    }

    /// The 64-bit word at byte `address`, as a host atomic.
    ///
    /// # Errors
    ///
    /// [`Trap::UnalignedAtomic`] or [`Trap::OutOfBounds`].
    pub fn atomic_i64(&self, address: u64) -> Result<&AtomicI64, Trap> {
        let ptr = self.checked::<AtomicI64>(address, 0)?;
        // SAFETY: as in `atomic_i32`, with 8-byte alignment checked.
        Ok(unsafe { &*ptr })
    }

    /// The W7/W8 wait at an already known shared memory, shared by guest and host callers.
    pub(crate) fn wait_at<A: Waitable>(
        &self,
        address: u64,
        offset: u64,
        expected: A::Value,
        timeout: Option<Duration>,
    ) -> Result<WaitResult, Trap> {
        let ptr = self.checked::<A>(address, offset)?;
        // SAFETY:
        // - `ptr` is non-null, aligned and in bounds (checked), and the memory outlives the
        //   call because `self` holds a handle to it.
        unsafe { agentsync::wait_ptr(ptr, expected, timeout) }.map_err(|_| Trap::CannotBlock)
    }

    /// The W10/W11 notify at an already known shared memory.
    pub(crate) fn notify_at(&self, address: u64, offset: u64, count: u32) -> Result<u32, Trap> {
        let ptr = self.checked::<AtomicI32>(address, offset)?;
        let count = if count == u32::MAX {
            usize::MAX
        } else {
            count as usize
        };
        let woken = agentsync::notify_addr(ptr as usize, count);
        // `woken <= count <= u32::MAX` except for the "all" case, where it is the queue length.
        Ok(u32::try_from(woken).unwrap_or(u32::MAX))
    }

    /// Blocks the calling host thread on the i32 at `address`, in the same FIFO queue as guest
    /// `memory.atomic.wait32` on those bytes (W12).
    ///
    /// # Blocking
    ///
    /// Until a notify (guest or host) or the timeout; `None` waits forever.
    ///
    /// # Errors
    ///
    /// [`Trap::UnalignedAtomic`], [`Trap::OutOfBounds`], or [`Trap::CannotBlock`] if this
    /// thread's agent may not block.
    pub fn host_wait32(
        &self,
        address: u64,
        expected: i32,
        timeout: Option<Duration>,
    ) -> Result<WaitResult, Trap> {
        self.wait_at::<AtomicI32>(address, 0, expected, timeout)
    }

    /// As [`host_wait32`](Self::host_wait32) for the i64 at `address` (`memory.atomic.wait64`).
    ///
    /// # Blocking
    ///
    /// Until a notify or the timeout.
    ///
    /// # Errors
    ///
    /// As [`host_wait32`](Self::host_wait32), with 8-byte alignment.
    pub fn host_wait64(
        &self,
        address: u64,
        expected: i64,
        timeout: Option<Duration>,
    ) -> Result<WaitResult, Trap> {
        self.wait_at::<AtomicI64>(address, 0, expected, timeout)
    }

    /// Wakes up to `count` waiters (guest or host, oldest first) on `address`, like
    /// `memory.atomic.notify`; `u32::MAX` wakes all. Returns how many were woken.
    ///
    /// # Errors
    ///
    /// [`Trap::UnalignedAtomic`] (4-byte alignment) or [`Trap::OutOfBounds`].
    pub fn host_notify(&self, address: u64, count: u32) -> Result<u32, Trap> {
        self.notify_at(address, 0, count)
    }

    /// An async wait on the i32 at `address`, queued at call time in the same FIFO list as
    /// guest waiters: no helper thread is involved.
    ///
    /// # Cancel safety
    ///
    /// Dropping the pending future removes its record; see [`agentsync::WaitFuture`].
    ///
    /// # Errors
    ///
    /// [`Trap::UnalignedAtomic`] or [`Trap::OutOfBounds`].
    pub fn host_wait_async32(
        &self,
        address: u64,
        expected: i32,
        timeout: Option<Duration>,
    ) -> Result<WaitAsync<'static>, Trap> {
        let ptr = self.checked::<AtomicI32>(address, 0)?;
        // SAFETY:
        // - `ptr` is aligned and in bounds (checked) and valid for the call (`self` holds the
        //   memory); after the call the futex only uses the address as a key, and the queued
        //   wait holds the memory (`keeping`), so no other memory can take that address.
        let pending = unsafe { agentsync::wait_async_ptr(ptr, expected, timeout) };
        Ok(pending.keeping(|| self.owner()))
    }

    /// As [`host_wait_async32`](Self::host_wait_async32) for the i64 at `address`.
    ///
    /// # Cancel safety
    ///
    /// As [`host_wait_async32`](Self::host_wait_async32).
    ///
    /// # Errors
    ///
    /// As [`host_wait_async32`](Self::host_wait_async32), with 8-byte alignment.
    pub fn host_wait_async64(
        &self,
        address: u64,
        expected: i64,
        timeout: Option<Duration>,
    ) -> Result<WaitAsync<'static>, Trap> {
        let ptr = self.checked::<AtomicI64>(address, 0)?;
        // SAFETY: as in `host_wait_async32`.
        let pending = unsafe { agentsync::wait_async_ptr(ptr, expected, timeout) };
        Ok(pending.keeping(|| self.owner()))
    }

    /// What keeps the bytes mapped: wasmtime's handle (the agentsync view does not own them).
    fn owner(&self) -> agentsync::Owner {
        std::sync::Arc::new(self.memory.clone())
    }

    /// How many waiters (guest and host) are queued on the word at `address`.
    pub fn waiter_count(&self, address: u64) -> usize {
        agentsync::waiter_count_addr(self.base() as usize + address as usize)
    }
}

/// Builds the agentsync view of a wasmtime shared memory (see
/// [`GuestMemory::agentsync_memory`]).
fn agentsync_view(memory: &SharedMemory) -> Arc<agentsync::memory::SharedMemory> {
    let base = memory.data().as_ptr() as *mut u8;
    let maximum = maximum_bytes(memory);
    let length = memory.clone();
    // SAFETY:
    // - valid for every byte below `byte_length`: `base` is the start of wasmtime's allocation
    //   and `data_size()` is the accessible length, for as long as the wasmtime memory lives;
    //   the owner we pass is a clone of its handle, so it lives as long as the view;
    // - never moves: a shared memory's base pointer is fixed for its whole life (wasmtime's
    //   `SharedMemory::data` docs; its `memory_may_move` is `false` for shared memories, so a
    //   growth that does not fit the initial reservation fails instead of relocating);
    // - `byte_length` never decreases: Wasm memories only grow, and `data_size()` reads the
    //   length under wasmtime's memory lock, which `grow` holds until the new pages are
    //   accessible and the length is stored;
    // - every other access is atomic or does not race with ours: the view only uses atomics;
    //   guest atomic instructions are machine atomics; wasmtime's host accessors hand out
    //   `UnsafeCell`s to be accessed atomically (its `SharedMemory::data` contract); guest
    //   plain loads and stores race with host atomics only in a guest program that races on
    //   those bytes, which the crate docs exclude as for any Wasm embedding.
    let made = unsafe {
        agentsync::memory::SharedMemory::from_external(
            base,
            maximum,
            true,
            move || length.data_size(),
            memory.clone(),
        )
    };
    // wasmtime's bases are page aligned and non-null, even for an allocation of zero bytes
    // (it points those at a page-aligned static), so the only error cannot happen.
    made.expect("wasmtime shared memory bases are page aligned")
}

/// The declared maximum in bytes, clamped to what this host can address.
fn maximum_bytes(memory: &SharedMemory) -> usize {
    let ty = memory.ty();
    let pages = ty.maximum().unwrap_or(ty.minimum());
    usize::try_from(pages.saturating_mul(ty.page_size())).unwrap_or(usize::MAX)
}
