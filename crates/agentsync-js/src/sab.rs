//! Every `SharedArrayBuffer` is agentsync memory.
//!
//! QuickJS-ng asks the host for a shared buffer's bytes through three hooks (alloc, dup, free).
//! [`install`] points them at one process-wide registry: each buffer is an agentsync
//! [`SharedMemory`] (it never moves), keyed by its first byte and counted by how many
//! `SharedArrayBuffer` objects, in any agent, hold it. A buffer posted to another agent is the
//! same pointer wrapped again there, so it lives while any agent holds it. Memory made in Rust
//! joins the registry when [`wrap`] hands it to a script.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use agentsync::memory::{SharedMemory, PAGE_SIZE};
use rquickjs::{qjs, Ctx, Exception, Value};

/// One registered buffer.
struct Entry {
    memory: Arc<SharedMemory>,
    /// How many engine objects (and in-flight messages) hold it.
    holders: usize,
    /// The largest length any agent grew it to (0: never grown). QuickJS-ng keeps a length in
    /// each buffer object; this is the one length of the shared block that the spec has.
    grown_to: Arc<AtomicUsize>,
}

/// Base address → buffer.
fn registry() -> MutexGuard<'static, HashMap<usize, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Entry>>> = OnceLock::new();
    // No code panics while holding the lock, so poisoning cannot happen; recover anyway.
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The memory whose first byte is `base`, if a script-visible buffer holds it.
pub(crate) fn memory_at(base: *const u8) -> Option<Arc<SharedMemory>> {
    registry()
        .get(&(base as usize))
        .map(|entry| entry.memory.clone())
}

/// Counts one more holder of the buffer at `base` (a message carrying it); whether one was
/// registered there.
pub(crate) fn hold(base: *const u8) -> bool {
    match registry().get_mut(&(base as usize)) {
        Some(entry) => {
            entry.holders += 1;
            true
        }
        None => false,
    }
}

/// One holder of a registered buffer, for as long as it lives: what a queued `waitAsync` keeps,
/// so that its buffer (and so its address) stays taken while the wait may be notified.
pub(crate) struct Hold(Option<usize>);

impl Hold {
    /// Holds the buffer at `base` (nothing if no buffer is registered there, so that the drop
    /// cannot release a buffer registered there later).
    pub(crate) fn owner(base: *const u8) -> agentsync::Owner {
        Arc::new(Hold(hold(base).then_some(base as usize)))
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(base) = self.0 {
            release(base as *const u8);
        }
    }
}

/// Drops one holder of the buffer at `base`; the memory is unmapped with the last.
pub(crate) fn release(base: *const u8) {
    let gone = {
        let mut registry = registry();
        match registry.get_mut(&(base as usize)) {
            Some(entry) if entry.holders > 1 => {
                entry.holders -= 1;
                None
            }
            Some(_) => registry.remove(&(base as usize)),
            None => None,
        }
    };
    // Unmap outside the lock.
    drop(gone);
}

/// The length of the shared block at `base` as grown by any agent (0 if never grown).
pub(crate) fn grown_length(base: *const u8) -> usize {
    registry()
        .get(&(base as usize))
        .map_or(0, |entry| entry.grown_to.load(SeqCst))
}

/// Records that an agent grew the block at `base` to `length` bytes.
pub(crate) fn record_growth(base: *const u8, length: usize) {
    if let Some(entry) = registry().get(&(base as usize)) {
        // SeqCst: every agent's byteLength reads this one value (ArrayBufferByteLength, seq-cst).
        entry.grown_to.fetch_max(length, SeqCst);
    }
}

/// Whether any of the buffers at `bases` is also held by Rust code outside the JS host (an
/// embedder's `SharedMemory`, a Wasm memory's view): such a buffer can be notified from outside
/// any agent.
///
/// When it answers `false`, everything a holder did before letting go (a notify, say) is
/// visible to the caller: the acquire fence pairs with the release decrement of `Arc`'s drop.
pub(crate) fn any_held_outside(bases: impl Iterator<Item = usize>) -> bool {
    let held = {
        let registry = registry();
        let mut seen = Vec::new();
        bases.into_iter().any(|base| {
            if seen.contains(&base) {
                return false;
            }
            seen.push(base);
            registry
                .get(&base)
                .is_some_and(|entry| Arc::strong_count(&entry.memory) > 1)
        })
    };
    // Acquire: pairs with the Release decrement of the last outside holder's `Arc::drop`.
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    held
}

/// How many buffers are alive, for tests that check nothing leaks.
pub fn live_buffers() -> usize {
    registry().len()
}

/// The engine asks for a new shared buffer of `size` bytes. No precondition: any size is
/// answered, with null when it cannot be had.
extern "C" fn sab_alloc(_opaque: *mut c_void, size: qjs::size_t) -> *mut c_void {
    let pages = size.div_ceil(PAGE_SIZE as u64).max(1);
    // QuickJS asks for the maximum length up front and writes zeroes over all of it, so the
    // whole buffer is committed now; grow then only moves the engine's length.
    match SharedMemory::new(pages, pages) {
        Ok(memory) => {
            let base = memory.as_ptr();
            let entry = Entry {
                memory,
                holders: 1,
                grown_to: Arc::default(),
            };
            registry().insert(base as usize, entry);
            base.cast()
        }
        // The engine turns null into an out-of-memory error.
        Err(_) => std::ptr::null_mut(),
    }
}

/// Another object holds the buffer at `ptr`; a pointer the registry does not know is ignored.
extern "C" fn sab_dup(_opaque: *mut c_void, ptr: *mut c_void) {
    hold(ptr.cast());
}

/// An object let go of the buffer at `ptr`; a pointer the registry does not know is ignored.
extern "C" fn sab_free(_opaque: *mut c_void, ptr: *mut c_void) {
    release(ptr.cast());
}

/// Points the runtime's SharedArrayBuffer hooks at the registry.
pub(crate) fn install(ctx: &Ctx<'_>) {
    let functions = qjs::JSSharedArrayBufferFunctions {
        sab_alloc: Some(sab_alloc),
        sab_free: Some(sab_free),
        sab_dup: Some(sab_dup),
        sab_opaque: std::ptr::null_mut(),
    };
    // SAFETY:
    // - the context pointer is live (we are inside `ctx`), so is its runtime;
    // - QuickJS copies the table, so a stack value is fine.
    unsafe {
        qjs::JS_SetSharedArrayBufferFunctions(qjs::JS_GetRuntime(ctx.as_raw().as_ptr()), &functions)
    };
}

/// A `SharedArrayBuffer` over `memory`: the same bytes, never copied.
///
/// It has the memory's current length and cannot be grown from JavaScript (the memory's own
/// `grow` is the way, and a later `wrap` shows the new length), because QuickJS would touch bytes
/// past what the memory has committed.
pub(crate) fn wrap<'js>(
    ctx: &Ctx<'js>,
    memory: &Arc<SharedMemory>,
) -> rquickjs::Result<Value<'js>> {
    wrap_parts(ctx, memory.as_ptr(), memory.byte_length(), 0, Some(memory))
}

/// A `SharedArrayBuffer` over the registered buffer at `base` (a message's), or over `memory`
/// which is registered first if it is new. `max_len` 0 makes it fixed-length.
pub(crate) fn wrap_parts<'js>(
    ctx: &Ctx<'js>,
    base: *mut u8,
    len: usize,
    max_len: usize,
    memory: Option<&Arc<SharedMemory>>,
) -> rquickjs::Result<Value<'js>> {
    let mut registered_now = false;
    if let Some(memory) = memory {
        let mut registry = registry();
        registry.entry(base as usize).or_insert_with(|| {
            registered_now = true;
            Entry {
                memory: memory.clone(),
                holders: 0,
                grown_to: Arc::default(),
            }
        });
    } else if memory_at(base).is_none() {
        return Err(Exception::throw_internal(
            ctx,
            "SharedArrayBuffer: the shared memory is gone",
        ));
    }
    // SAFETY:
    // - `base` is the first byte of a registered memory, committed for `len` (and `max_len`)
    //   bytes, that never moves; the engine's `sab_dup` below keeps it registered while the
    //   buffer object lives, and `sab_free` releases it;
    // - no free function: with the hooks installed, QuickJS frees shared buffers through them.
    let raw = unsafe {
        qjs::JS_NewArrayBuffer(
            ctx.as_raw().as_ptr(),
            base,
            len as _,
            max_len as _,
            None,
            std::ptr::null_mut(),
            true,
        )
    };
    // SAFETY: `raw` is a fresh value (or the exception marker) owned by us.
    let value = unsafe { Value::from_raw(ctx.clone(), raw) };
    if value.is_exception() {
        if registered_now {
            let mut registry = registry();
            if registry
                .get(&(base as usize))
                .is_some_and(|e| e.holders == 0)
            {
                registry.remove(&(base as usize));
            }
        }
        return Err(rquickjs::Error::Exception);
    }
    Ok(value)
}
