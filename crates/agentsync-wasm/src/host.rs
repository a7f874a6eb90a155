//! The host functions that replace `memory.atomic.wait32/64` and `memory.atomic.notify`
//! (W4–W12 on agentsync's futex).
//!
//! Each instance gets its own functions, holding a lazily filled cache of the memory they act
//! on, found through the export the rewrite added (whose name the caller passes in). This
//! module depends on the memory, error and cancel modules only. Checks run in the order of
//! docs/semantics.md: wait — alignment, unshared, bounds, compare, sleep (W7); notify —
//! alignment, bounds, unshared returns 0, wake (W11). On a shared memory everything after the
//! alignment check is agentsync's [`WasmView`] over the guest memory, the same code the host
//! uses; only an unshared memory (owned by its store, free to move) is checked here.

use std::sync::{Arc, OnceLock};

use std::sync::atomic::{AtomicI32, AtomicI64};

use agentsync::memory::{MemoryError, SharedMemory, WasmView};
use wasmtime::{Caller, Extern, Func, Memory, Store};

use crate::cancel::WaitSlot;
use crate::error::Trap;
use crate::memory::{aligned_address, in_bounds, wasm_timeout, GuestMemory};
use crate::state::Blocker;

/// Which threads opcode a host import replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AtomicOp {
    /// `memory.atomic.wait32`: `(addr, expected: i32, timeout: i64) -> i32`.
    Wait32,
    /// `memory.atomic.wait64`: `(addr, expected: i64, timeout: i64) -> i32`.
    Wait64,
    /// `memory.atomic.notify`: `(addr, count: i32) -> i32`.
    Notify,
}

impl AtomicOp {
    /// The opcode's text-format name.
    pub fn opcode(self) -> &'static str {
        match self {
            AtomicOp::Wait32 => "memory.atomic.wait32",
            AtomicOp::Wait64 => "memory.atomic.wait64",
            AtomicOp::Notify => "memory.atomic.notify",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            AtomicOp::Wait32 => "wait32",
            AtomicOp::Wait64 => "wait64",
            AtomicOp::Notify => "notify",
        }
    }
}

/// One host function import added by the rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostImport {
    /// The opcode it replaces.
    pub op: AtomicOp,
    /// The memory the opcode names.
    pub memory: u32,
    /// The memarg's static offset, added to the dynamic address by the host function.
    pub offset: u64,
    /// Whether that memory is 64-bit (the address operand is then an `i64`).
    pub memory64: bool,
}

impl HostImport {
    /// The import's field name, e.g. `wait32/m0/+16`.
    pub fn field_name(&self) -> String {
        #[cfg(test)]
        tests::FIELD_NAMES.with(|n| n.set(n.get() + 1));
        format!("{}/m{}/+{}", self.op.tag(), self.memory, self.offset)
    }
}

/// The memory a rewritten opcode acts on, as found in its instance.
#[derive(Clone)]
enum Target {
    /// A shared memory, seen through agentsync's Wasm view of the guest memory, and the
    /// address of its byte 0.
    Shared(WasmView, usize),
    Unshared(Memory),
}

/// Per-instance, per-import state of a host function.
struct Site {
    import: HostImport,
    /// The export under which the instance shows the memory `import.memory`.
    memory_export: String,
    /// The calling thread's place in its run's cancel, if it belongs to one.
    slot: Option<Arc<WaitSlot>>,
    /// The store's own way to sleep, if it has one.
    blocker: Option<Blocker>,
    target: OnceLock<Target>,
}

impl Site {
    /// The instance's memory, looked up once through the export the rewrite added.
    ///
    /// Borrowed, not cloned: a clone would touch the shared view's reference count on every
    /// wait and notify, one cache line that all guest threads contend for.
    fn target<T>(&self, caller: &mut Caller<'_, T>) -> Result<&Target, Trap> {
        if let Some(target) = self.target.get() {
            return Ok(target);
        }
        let memory = self.import.memory;
        let found = match caller.get_export(&self.memory_export) {
            Some(Extern::SharedMemory(m)) => {
                let guest = GuestMemory::from_shared(m);
                Target::Shared(
                    WasmView::new(&guest.agentsync_memory()),
                    guest.base() as usize,
                )
            }
            Some(Extern::Memory(m)) => Target::Unshared(m),
            _ => return Err(Trap::NoMemory { memory }),
        };
        Ok(self.target.get_or_init(|| found))
    }

    /// The W7 checks before the view's: alignment (in 128 bits, so it comes first even when
    /// address + offset overflows), then the unshared-memory trap.
    fn wait_view<T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        size: u32,
    ) -> Result<(&WasmView, usize), Trap> {
        let effective = aligned_address(address, self.import.offset, size)?;
        match self.target(caller)? {
            // The futex key of the word (only used to wake this wait on a cancel).
            Target::Shared(view, base) => Ok((view, base.wrapping_add(effective as usize))),
            Target::Unshared(_) => Err(Trap::ExpectedSharedMemory {
                opcode: self.import.op.opcode(),
            }),
        }
    }

    fn wait32<T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        expected: i32,
        timeout_ns: i64,
    ) -> Result<i32, Trap> {
        self.wait::<AtomicI32, T>(caller, address, expected, timeout_ns)
    }

    fn wait64<T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        expected: i64,
        timeout_ns: i64,
    ) -> Result<i32, Trap> {
        self.wait::<AtomicI64, T>(caller, address, expected, timeout_ns)
    }

    /// `memory.atomic.wait32/64`: W7's checks, then a wait through the store's [`Blocker`] if it
    /// has one, else the futex's blocking wait (inside the run's cancel slot, if any).
    fn wait<C: Cell, T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        expected: C::Value,
        timeout_ns: i64,
    ) -> Result<i32, Trap> {
        let (view, key) = self.wait_view(caller, address, C::SIZE)?;
        if let Some(blocker) = &self.blocker {
            let effective = aligned_address(address, self.import.offset, C::SIZE)?;
            let memory = view.memory();
            // `C::at` checks bounds on the memory's cached length; the current length (a
            // wasmtime lock) is read only to report a miss.
            let word = usize::try_from(effective)
                .ok()
                .and_then(|at| C::at(memory, at).ok())
                .ok_or_else(|| Trap::OutOfBounds {
                    address: u64::try_from(effective).ok(),
                    size: C::SIZE,
                    length: memory.byte_length(),
                })?;
            // SAFETY: an aligned, in-bounds word of the instance's memory, live for this call;
            // the queued wait keeps only its address.
            let pending =
                unsafe { agentsync::wait_async_ptr(word, expected, wasm_timeout(timeout_ns)) };
            return block_with(blocker, pending);
        }
        let offset = self.import.offset;
        let wait = || Ok(C::view_wait(view, address, offset, expected, timeout_ns)?);
        let code = match &self.slot {
            Some(slot) => slot.wait(key, wait)?,
            None => wait()?,
        };
        Ok(code as i32)
    }

    fn notify<T>(&self, caller: &mut Caller<'_, T>, address: u64, count: i32) -> Result<i32, Trap> {
        let effective = aligned_address(address, self.import.offset, 4)?;
        let woken = match self.target(caller)? {
            // The count operand is an i32 read as u32 (W10): -1 wakes everyone.
            Target::Shared(view, _) => {
                view.memory_atomic_notify(address, self.import.offset, count as u32)?
            }
            Target::Unshared(memory) => {
                let memory = *memory;
                in_bounds(effective, 4, memory.data_size(&*caller))?;
                0
            }
        };
        Ok(woken as i32)
    }
}

/// The 32- or 64-bit cell of a guest wait.
trait Cell: agentsync::Waitable + Sized {
    /// Its size in bytes (and alignment).
    const SIZE: u32;
    /// The cell at byte `at` of `memory`.
    fn at(memory: &SharedMemory, at: usize) -> Result<&Self, MemoryError>;
    /// The view's blocking `memory.atomic.wait32/64`.
    fn view_wait(
        view: &WasmView,
        address: u64,
        offset: u64,
        expected: Self::Value,
        timeout_ns: i64,
    ) -> Result<u32, agentsync::memory::Trap>;
}

impl Cell for AtomicI32 {
    const SIZE: u32 = 4;
    fn at(memory: &SharedMemory, at: usize) -> Result<&Self, MemoryError> {
        memory.atomic_i32(at)
    }
    fn view_wait(
        view: &WasmView,
        address: u64,
        offset: u64,
        expected: i32,
        timeout_ns: i64,
    ) -> Result<u32, agentsync::memory::Trap> {
        view.memory_atomic_wait32(address, offset, expected, timeout_ns)
    }
}

impl Cell for AtomicI64 {
    const SIZE: u32 = 8;
    fn at(memory: &SharedMemory, at: usize) -> Result<&Self, MemoryError> {
        memory.atomic_i64(at)
    }
    fn view_wait(
        view: &WasmView,
        address: u64,
        offset: u64,
        expected: i64,
        timeout_ns: i64,
    ) -> Result<u32, agentsync::memory::Trap> {
        view.memory_atomic_wait64(address, offset, expected, timeout_ns)
    }
}

/// A guest wait through a store's [`Blocker`]: the can-block check of W7's sleep step, then
/// the queued wait (0 ok, 1 not-equal, 2 timed-out), or [`Trap::Cancelled`] if it was stopped.
fn block_with(blocker: &Blocker, pending: agentsync::WaitAsync<'static>) -> Result<i32, Trap> {
    let future = match pending {
        agentsync::WaitAsync::Sync(result) => return Ok(result.wasm_code() as i32),
        agentsync::WaitAsync::Async(future) => future,
    };
    if !agentsync::futex::agent::can_block() {
        // Withdrawn before it could be counted: a blocking wait here is an error, not a wait.
        let _ = future.cancel();
        return Err(Trap::CannotBlock);
    }
    match blocker(future) {
        Some(result) => Ok(result.wasm_code() as i32),
        None => Err(Trap::Cancelled),
    }
}

/// Creates the host function for `import`, for one instance in `store` that exports the memory
/// the opcode names as `memory_export`; its waits end with [`Trap::Cancelled`] when the run
/// of `slot` is cancelled.
pub(crate) fn host_function<T: 'static>(
    store: &mut Store<T>,
    import: HostImport,
    memory_export: String,
    slot: Option<Arc<WaitSlot>>,
    blocker: Option<Blocker>,
) -> Func {
    let site = Arc::new(Site {
        import,
        memory_export,
        slot,
        blocker,
        target: OnceLock::new(),
    });
    let trap = wasmtime::Error::new;
    match (import.op, import.memory64) {
        (AtomicOp::Wait32, false) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i32, e: i32, t: i64| -> wasmtime::Result<i32> {
                site.wait32(&mut c, u64::from(a as u32), e, t).map_err(trap)
            },
        ),
        (AtomicOp::Wait32, true) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i64, e: i32, t: i64| -> wasmtime::Result<i32> {
                site.wait32(&mut c, a as u64, e, t).map_err(trap)
            },
        ),
        (AtomicOp::Wait64, false) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i32, e: i64, t: i64| -> wasmtime::Result<i32> {
                site.wait64(&mut c, u64::from(a as u32), e, t).map_err(trap)
            },
        ),
        (AtomicOp::Wait64, true) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i64, e: i64, t: i64| -> wasmtime::Result<i32> {
                site.wait64(&mut c, a as u64, e, t).map_err(trap)
            },
        ),
        (AtomicOp::Notify, false) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i32, n: i32| -> wasmtime::Result<i32> {
                site.notify(&mut c, u64::from(a as u32), n).map_err(trap)
            },
        ),
        (AtomicOp::Notify, true) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i64, n: i32| -> wasmtime::Result<i32> {
                site.notify(&mut c, a as u64, n).map_err(trap)
            },
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    thread_local! {
        /// How many times this thread formatted an import's field name.
        pub(crate) static FIELD_NAMES: Cell<usize> = const { Cell::new(0) };
    }
}
