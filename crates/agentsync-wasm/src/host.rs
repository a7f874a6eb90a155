//! The host functions that replace `memory.atomic.wait32/64` and `memory.atomic.notify`
//! (W4–W12 on agentsync's futex).
//!
//! Each instance gets its own functions, holding a lazily filled cache of the memory they act
//! on, found through the export the rewrite added ([`memory_export_name`]). Checks run in the
//! order of SEMANTICS.md: wait — alignment, unshared, bounds, compare, sleep (W7); notify —
//! alignment, bounds, unshared returns 0, wake (W11). On a shared memory everything after the
//! alignment check is agentsync's [`WasmView`] over the guest memory, the same code the host
//! uses; only an unshared memory (owned by its store, free to move) is checked here.

use std::sync::{Arc, OnceLock};

use agentsync::memory::WasmView;
use wasmtime::{Caller, Extern, Func, Memory, Store};

use crate::error::Trap;
use crate::memory::{aligned_address, in_bounds, GuestMemory};
use crate::rewrite::{memory_export_name, AtomicOp, HostImport};

/// The memory a rewritten opcode acts on, as found in its instance.
#[derive(Clone)]
enum Target {
    /// A shared memory, seen through agentsync's Wasm view of the guest memory.
    Shared(WasmView),
    Unshared(Memory),
}

/// Per-instance, per-import state of a host function.
struct Site {
    import: HostImport,
    target: OnceLock<Target>,
}

impl Site {
    /// The instance's memory, looked up once through the export the rewrite added.
    fn target<T>(&self, caller: &mut Caller<'_, T>) -> Result<Target, Trap> {
        if let Some(target) = self.target.get() {
            return Ok(target.clone());
        }
        let memory = self.import.memory;
        let found = match caller.get_export(&memory_export_name(memory)) {
            Some(Extern::SharedMemory(m)) => {
                let guest = GuestMemory::from_shared(m);
                Target::Shared(WasmView::new(&guest.agentsync_memory()))
            }
            Some(Extern::Memory(m)) => Target::Unshared(m),
            _ => return Err(Trap::NoMemory { memory }),
        };
        Ok(self.target.get_or_init(|| found).clone())
    }

    /// The W7 checks before the view's: alignment (in 128 bits, so it comes first even when
    /// address + offset overflows), then the unshared-memory trap.
    fn wait_view<T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        size: u32,
    ) -> Result<WasmView, Trap> {
        aligned_address(address, self.import.offset, size)?;
        match self.target(caller)? {
            Target::Shared(view) => Ok(view),
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
        let view = self.wait_view(caller, address, 4)?;
        let code = view.memory_atomic_wait32(address, self.import.offset, expected, timeout_ns)?;
        Ok(code as i32)
    }

    fn wait64<T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        expected: i64,
        timeout_ns: i64,
    ) -> Result<i32, Trap> {
        let view = self.wait_view(caller, address, 8)?;
        let code = view.memory_atomic_wait64(address, self.import.offset, expected, timeout_ns)?;
        Ok(code as i32)
    }

    fn notify<T>(&self, caller: &mut Caller<'_, T>, address: u64, count: i32) -> Result<i32, Trap> {
        let effective = aligned_address(address, self.import.offset, 4)?;
        let woken = match self.target(caller)? {
            // The count operand is an i32 read as u32 (W10): -1 wakes everyone.
            Target::Shared(view) => {
                view.memory_atomic_notify(address, self.import.offset, count as u32)?
            }
            Target::Unshared(memory) => {
                in_bounds(effective, 4, memory.data_size(&*caller))?;
                0
            }
        };
        Ok(woken as i32)
    }
}

/// Creates the host function for `import`, for one instance in `store`.
pub(crate) fn host_function<T: 'static>(store: &mut Store<T>, import: HostImport) -> Func {
    let site = Arc::new(Site {
        import,
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
