//! The host functions that replace `memory.atomic.wait32/64` and `memory.atomic.notify`
//! (W4–W12 on agentsync's futex).
//!
//! Each instance gets its own functions, holding a lazily filled cache of the memory they act
//! on, found through the export the rewrite added ([`memory_export_name`]). Checks run in the
//! order of SEMANTICS.md: wait — alignment, unshared, bounds, compare, sleep (W7); notify —
//! alignment, bounds, unshared returns 0, wake (W11).

use std::sync::atomic::{AtomicI32, AtomicI64};
use std::sync::{Arc, OnceLock};

use agentsync::Waitable;
use wasmtime::{Caller, Extern, Func, Memory, Store};

use crate::error::Trap;
use crate::memory::{aligned_address, in_bounds, wasm_timeout, GuestMemory};
use crate::rewrite::{memory_export_name, AtomicOp, HostImport};

/// The memory a rewritten opcode acts on, as found in its instance.
#[derive(Clone)]
enum Target {
    Shared(GuestMemory),
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
            Some(Extern::SharedMemory(m)) => Target::Shared(GuestMemory::from_shared(m)),
            Some(Extern::Memory(m)) => Target::Unshared(m),
            _ => return Err(Trap::NoMemory { memory }),
        };
        Ok(self.target.get_or_init(|| found).clone())
    }

    fn wait<A: Waitable, T>(
        &self,
        caller: &mut Caller<'_, T>,
        address: u64,
        expected: A::Value,
        timeout_ns: i64,
    ) -> Result<i32, Trap> {
        let size = std::mem::size_of::<A>() as u32;
        aligned_address(address, self.import.offset, size)?;
        let memory = match self.target(caller)? {
            Target::Shared(memory) => memory,
            Target::Unshared(_) => {
                return Err(Trap::ExpectedSharedMemory {
                    opcode: self.import.op.opcode(),
                })
            }
        };
        let result = memory.wait_at::<A>(
            address,
            self.import.offset,
            expected,
            wasm_timeout(timeout_ns),
        )?;
        Ok(result.wasm_code() as i32)
    }

    fn notify<T>(&self, caller: &mut Caller<'_, T>, address: u64, count: i32) -> Result<i32, Trap> {
        let effective = aligned_address(address, self.import.offset, 4)?;
        let woken = match self.target(caller)? {
            Target::Shared(memory) => {
                memory.notify_at(address, self.import.offset, count as u32)?
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
                site.wait::<AtomicI32, T>(&mut c, u64::from(a as u32), e, t)
                    .map_err(trap)
            },
        ),
        (AtomicOp::Wait32, true) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i64, e: i32, t: i64| -> wasmtime::Result<i32> {
                site.wait::<AtomicI32, T>(&mut c, a as u64, e, t)
                    .map_err(trap)
            },
        ),
        (AtomicOp::Wait64, false) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i32, e: i64, t: i64| -> wasmtime::Result<i32> {
                site.wait::<AtomicI64, T>(&mut c, u64::from(a as u32), e, t)
                    .map_err(trap)
            },
        ),
        (AtomicOp::Wait64, true) => Func::wrap(
            store,
            move |mut c: Caller<'_, T>, a: i64, e: i64, t: i64| -> wasmtime::Result<i32> {
                site.wait::<AtomicI64, T>(&mut c, a as u64, e, t)
                    .map_err(trap)
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
