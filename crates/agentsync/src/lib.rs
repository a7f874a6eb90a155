#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod loom;

pub mod futex;
#[cfg(not(loom))]
pub mod memory;
#[cfg(not(loom))]
pub mod polyfill;
pub mod spin;
pub mod sync;

pub use futex::{
    agent, notify, notify_addr, total_waiters, wait, wait_async, wait_async_ptr, wait_ptr,
    waiter_count, waiter_count_addr, Owner, Settled, WaitAsync, WaitError, WaitFuture, WaitResult,
    Waitable,
};
#[cfg(not(loom))]
pub use memory::{
    Atomics, BigInt64Array, BigUint64Array, Int16Array, Int32Array, Int8Array, SharedMemory,
    Uint16Array, Uint32Array, Uint8Array, WasmView,
};

/// A mutex protecting a `T`, from `lock_api` over the one-word [`sync::Mutex`].
///
/// ```
/// let counter = agentsync::Mutex::new(0);
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// ```
#[cfg(all(feature = "lock_api", not(loom)))]
pub type Mutex<T> = lock_api::Mutex<sync::Mutex, T>;

/// The guard of [`Mutex`].
#[cfg(all(feature = "lock_api", not(loom)))]
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, sync::Mutex, T>;

/// A reader-writer lock protecting a `T`, from `lock_api` over the one-word [`sync::RwLock`].
///
/// ```
/// let table = agentsync::RwLock::new(vec![1]);
/// assert_eq!(table.read().len(), 1);
/// table.write().push(2);
/// assert_eq!(*table.read(), [1, 2]);
/// ```
#[cfg(all(feature = "lock_api", not(loom)))]
pub type RwLock<T> = lock_api::RwLock<sync::RwLock, T>;

/// The read guard of [`RwLock`].
#[cfg(all(feature = "lock_api", not(loom)))]
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, sync::RwLock, T>;

/// The write guard of [`RwLock`].
#[cfg(all(feature = "lock_api", not(loom)))]
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, sync::RwLock, T>;
