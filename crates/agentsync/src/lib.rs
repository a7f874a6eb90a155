#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod loom;

pub mod futex;
#[cfg(not(loom))]
pub mod memory;
#[cfg(not(loom))]
pub mod polyfill;

pub use futex::{
    agent, notify, notify_addr, total_waiters, wait, wait_async, wait_async_ptr, wait_ptr,
    waiter_count, waiter_count_addr, Settled, WaitAsync, WaitError, WaitFuture, WaitResult,
    Waitable,
};
#[cfg(not(loom))]
pub use memory::{
    Atomics, BigInt64Array, BigUint64Array, Int16Array, Int32Array, Int8Array, SharedMemory,
    Uint16Array, Uint32Array, Uint8Array, WasmView,
};
