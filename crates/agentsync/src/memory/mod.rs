//! Layer 2: the memory that agents share, and every `Atomics` operation over it.
//!
//! - [`SharedMemory`]: a byte buffer of 64 KiB Wasm pages that never moves, growable up to a
//!   declared maximum, shared by `Arc`; a [non-shared](SharedMemory::non_shared) variant for
//!   the rules that tell the two apart; [external](SharedMemory::from_external) memories (a Wasm
//!   engine's) wrapped the same way.
//! - Typed views ([`Int8Array`] … [`BigUint64Array`]) and the [`Atomics`] facade, with
//!   JavaScript's argument rules and errors ([`AtomicsError`]), plus the conversions an engine
//!   applies to JavaScript values ([`to_index`], [`timeout_from_ms`], [`notify_count_from_f64`],
//!   [`wrap_number`]).
//! - [`WasmView`]: the threads proposal's atomic instructions with byte addresses and
//!   [`Trap`]s.
//!
//! ```
//! use agentsync::memory::{Atomics, BigInt64Array, Int32Array, SharedMemory};
//!
//! let sab = SharedMemory::new(1, 16)?;
//! let ia = Int32Array::new(&sab);
//! let big = BigInt64Array::new(&sab);
//! Atomics::store(&big, 0, -2)?;
//! assert_eq!(Atomics::load(&ia, 0)?, -2); // little-endian: the low half
//! assert_eq!(Atomics::load(&ia, 1)?, -1); // and the high half
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Storage
//! The maximum is reserved when a memory is made and never moves. On Unix that is an
//! inaccessible `mmap` of the whole maximum (address space only, nothing committed or counted
//! against overcommit); `grow` `mprotect`s the new pages read-write and the kernel hands out
//! zero pages on first touch. A maximum of 4 GiB thus costs nothing until it is used, and bytes
//! past the current length fault rather than read, behind the bounds checks. On other targets
//! the maximum is allocated zeroed up front (`alloc_zeroed`), which allocators serve from fresh,
//! lazily committed OS pages. The base is page aligned, so every naturally aligned offset is
//! aligned for its atomic type.
//!
//! # What is guaranteed
//! - Every access to a memory's bytes, through a view, the facade, the Wasm view or the
//!   accessors, is an atomic access of the element's size at a naturally aligned address:
//!   sequentially consistent for `Atomics` operations and Wasm instructions, relaxed for the
//!   plain reads and writes that JavaScript calls unordered (`get`/`set`, `read_bytes`/
//!   `write_bytes`). A program that races same-size accesses is therefore never undefined
//!   behaviour, and no read of an aligned element is torn.
//! - Bounds are checked against the current length, read atomically, on every access; no input
//!   reads past it, and none panics.
//! - Waits are keyed by byte address: an `Int32Array` and a `BigInt64Array` wait on the same
//!   bytes, or a host wait and a Wasm wait, share one FIFO queue.
//!
//! # What is not
//! - **Mixed-size races.** Rust's memory model (C++'s) only defines atomic accesses that
//!   overlap exactly; two racing accesses of different sizes to overlapping bytes (an `Int8Array`
//!   store racing a `BigInt64Array` load, say), one of them a write, are outside it, and tools
//!   like Miri report them. On x86-64 and AArch64 the compiled code is one plain atomic
//!   instruction per access, and the hardware gives what JavaScript and Wasm promise: each
//!   access is single-copy atomic, so a reader sees each byte either before or after a racing
//!   write, never a value no write produced. JavaScript engines written in C++ and Wasm
//!   engines rely on the same hardware behaviour. Programs that keep every location at one
//!   size, or separate size changes with synchronisation, stay fully inside Rust's model.
//! - **Unaligned accesses** are not provided: views demand aligned offsets and the Wasm view
//!   traps, as atomics there must be naturally aligned.
//! - **Length-tracking views** (a view that follows the memory as it grows) are not provided:
//!   make a new view after `grow`.
//! - The memory never shrinks and is freed only when the last `Arc` (every view holds one) is
//!   dropped. A pending `wait_async` future holds the memory too, until it is dropped.

mod atomics;
mod buffer;
mod convert;
mod element;
mod error;
mod place;
mod reserve;
mod view;
mod wasm;

pub use atomics::Atomics;
pub use buffer::SharedMemory;
pub use convert::{notify_count_from_f64, timeout_from_ms, timeout_from_ns, to_index, wrap_number};
pub use element::{Element, ElementKind};
pub use error::{AtomicsError, JsErrorKind, MemoryError};
pub use place::Words;
pub use view::{
    BigInt64Array, BigUint64Array, Int16Array, Int32Array, Int8Array, TypedArray, Uint16Array,
    Uint32Array, Uint8Array,
};
pub use wasm::{Trap, WasmView};

/// The size of a Wasm page: 64 KiB.
pub const PAGE_SIZE: usize = 65536;

/// The largest maximum a memory may declare, in pages: 65536 pages, 4 GiB, the limit of a
/// 32-bit Wasm memory.
pub const MAX_PAGES: u64 = 65536;
