//! The facade section: the futex workers again, but every wait and notify goes through the
//! `Atomics` facade or the Wasm view over one `SharedMemory`, and the views overlap: an Int32
//! view, a BigInt64 view and the Wasm view reach the same bytes, so their waiters must share one
//! queue (S1) and the counts must still add up.

use std::sync::Arc;
use std::time::Duration;

use agentsync::memory::{Atomics, BigInt64Array, Int32Array, SharedMemory, WasmView};
use agentsync::{WaitAsync, WaitResult};

use super::futex::{run_on, Location};
use super::{Budget, Section};

/// The facade section.
pub(super) const SECTION: Section = Section {
    name: "facade",
    what: "Atomics.wait / waitAsync / notify and memory.atomic.wait32/64 / notify on overlapping views of one SharedMemory",
    run,
};

/// Words in use: Int32 indices 0, 2, 4 and 6, each the low half of a BigInt64 element.
const WORDS: usize = 4;

/// How a location is reached.
#[derive(Clone, Copy, Debug)]
enum Via {
    Int32,
    BigInt64,
    Wasm,
}

/// Int32 index `2 * slot`, reached through `via` for waits; notifies rotate through all three.
struct Slot {
    slot: usize,
    via: Via,
    memory: Arc<SharedMemory>,
    int32: Int32Array,
    bigint64: BigInt64Array,
    wasm: WasmView,
}

impl Slot {
    fn byte_address(&self) -> usize {
        self.slot * 8
    }
}

impl Location for Slot {
    fn wait(&self, expected: i32, timeout: Option<Duration>) -> Result<WaitResult, String> {
        match self.via {
            Via::Int32 => Atomics::wait(&self.int32, 2 * self.slot, expected, timeout)
                .map_err(|e| e.to_string()),
            Via::BigInt64 => Atomics::wait(&self.bigint64, self.slot, i64::from(expected), timeout)
                .map_err(|e| e.to_string()),
            Via::Wasm => {
                // Wasm timeouts are i64 nanoseconds, negative meaning forever.
                let nanos = timeout.map_or(-1, |t| i64::try_from(t.as_nanos()).unwrap_or(i64::MAX));
                let code = self
                    .wasm
                    .memory_atomic_wait32(self.byte_address() as u64, 0, expected, nanos)
                    .map_err(|trap| trap.to_string())?;
                match code {
                    0 => Ok(WaitResult::Ok),
                    1 => Ok(WaitResult::NotEqual),
                    2 => Ok(WaitResult::TimedOut),
                    other => Err(format!("memory.atomic.wait32 returned {other}")),
                }
            }
        }
    }

    fn wait_async(
        &self,
        expected: i32,
        timeout: Option<Duration>,
    ) -> Result<WaitAsync<'static>, String> {
        match self.via {
            Via::BigInt64 => {
                Atomics::wait_async(&self.bigint64, self.slot, i64::from(expected), timeout)
            }
            Via::Int32 | Via::Wasm => {
                Atomics::wait_async(&self.int32, 2 * self.slot, expected, timeout)
            }
        }
        .map_err(|e| e.to_string())
    }

    fn notify(&self, count: usize) -> Result<usize, String> {
        match fastrand::u8(..3) {
            0 => Atomics::notify(&self.int32, 2 * self.slot, count).map_err(|e| e.to_string()),
            1 => Atomics::notify(&self.bigint64, self.slot, count).map_err(|e| e.to_string()),
            _ => self
                .wasm
                .memory_atomic_notify(
                    self.byte_address() as u64,
                    0,
                    u32::try_from(count).unwrap_or(u32::MAX),
                )
                .map(|woke| woke as usize)
                .map_err(|trap| trap.to_string()),
        }
    }

    fn queued(&self) -> usize {
        agentsync::waiter_count_addr(self.memory.as_ptr() as usize + self.byte_address())
    }

    fn name(&self) -> String {
        format!("byte {} (waits via {:?})", self.byte_address(), self.via)
    }
}

fn run(budget: &Budget) -> Vec<String> {
    let memory = match super::one_page_memory() {
        Ok(memory) => memory,
        Err(error) => return vec![error],
    };
    let (int32, bigint64) = (Int32Array::new(&memory), BigInt64Array::new(&memory));
    let wasm = WasmView::new(&memory);
    // Each word is reached by waiters of all three kinds: three locations per word, one queue.
    let locations = (0..WORDS)
        .flat_map(|slot| [Via::Int32, Via::BigInt64, Via::Wasm].map(|via| (slot, via)))
        .map(|(slot, via)| {
            Box::new(Slot {
                slot,
                via,
                memory: Arc::clone(&memory),
                int32: int32.clone(),
                bigint64: bigint64.clone(),
                wasm: wasm.clone(),
            }) as Box<dyn Location>
        })
        .collect();
    run_on(budget, locations)
}
