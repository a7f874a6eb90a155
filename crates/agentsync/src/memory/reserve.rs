//! Address space for a memory: reserved once at its maximum size, committed as it grows.
//!
//! On Unix the maximum is mapped `PROT_NONE` (address space only: no memory is committed and
//! nothing counts against the overcommit limit), and `grow` makes the new pages readable and
//! writable with `mprotect`; the kernel then supplies zero pages on first touch. A reservation
//! never moves, so pointers into it stay valid for its whole life, and bytes past the current
//! length fault instead of being silently readable, a second line of defence behind the
//! bounds checks.
//!
//! Elsewhere the maximum is allocated zeroed up front with `alloc_zeroed`, which most
//! allocators serve from fresh OS pages that are committed lazily on first touch; `commit` is
//! then a no-op.

use std::ptr::NonNull;

use super::error::MemoryError;
use super::PAGE_SIZE;

/// A fixed range of address space, `bytes` long, starting at `base`.
#[derive(Debug)]
pub(super) struct Reservation {
    /// The first byte; aligned to at least 8 (page aligned when `bytes > 0`).
    base: NonNull<u8>,
    /// The reserved size.
    bytes: usize,
}

// SAFETY: a `Reservation` is an owned range of memory with no thread affinity.
unsafe impl Send for Reservation {}
// SAFETY: `&Reservation` only exposes the base address; accesses go through atomics.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Reserves `bytes` (a multiple of [`PAGE_SIZE`]) of address space, none of it committed.
    pub(super) fn new(bytes: usize) -> Result<Self, MemoryError> {
        if bytes == 0 {
            return Ok(Reservation {
                base: NonNull::<u64>::dangling().cast(),
                bytes,
            });
        }
        let base = os::reserve(bytes).ok_or_else(|| MemoryError::Reserve {
            bytes,
            os_error: std::io::Error::last_os_error().raw_os_error(),
        })?;
        Ok(Reservation { base, bytes })
    }

    /// The first byte.
    pub(super) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Makes `[from, to)` readable and writable (zero-filled). Both are multiples of
    /// [`PAGE_SIZE`] within the reservation.
    pub(super) fn commit(&self, from: usize, to: usize) -> Result<(), MemoryError> {
        debug_assert!(from <= to && to <= self.bytes);
        debug_assert!(from % PAGE_SIZE == 0 && to % PAGE_SIZE == 0);
        if from == to {
            return Ok(());
        }
        if os::commit(self.base, from, to) {
            Ok(())
        } else {
            Err(MemoryError::Commit {
                bytes: to - from,
                os_error: std::io::Error::last_os_error().raw_os_error(),
            })
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes != 0 {
            os::release(self.base, self.bytes);
        }
    }
}

#[cfg(unix)]
mod os {
    use std::ptr::{self, NonNull};

    /// Maps `bytes` of inaccessible address space.
    pub(super) fn reserve(bytes: usize) -> Option<NonNull<u8>> {
        // SAFETY:
        // - a fresh anonymous private mapping at an address of the kernel's choosing touches no
        //   existing memory;
        // - the arguments are valid for `mmap` (length non-zero, fd -1 with MAP_ANONYMOUS).
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            None
        } else {
            NonNull::new(base.cast())
        }
    }

    /// Makes `[from, to)` of the mapping at `base` readable and writable.
    pub(super) fn commit(base: NonNull<u8>, from: usize, to: usize) -> bool {
        // SAFETY:
        // - `[base + from, base + to)` lies inside our own mapping and is page aligned (caller);
        // - raising the protection of never-touched pages invalidates no reference.
        unsafe {
            libc::mprotect(
                base.as_ptr().add(from).cast(),
                to - from,
                libc::PROT_READ | libc::PROT_WRITE,
            ) == 0
        }
    }

    /// Unmaps the whole reservation.
    pub(super) fn release(base: NonNull<u8>, bytes: usize) {
        // SAFETY:
        // - `base`/`bytes` are exactly the mapping made by `reserve`;
        // - the owning memory is being dropped, so nothing borrows into it any more.
        unsafe { libc::munmap(base.as_ptr().cast(), bytes) };
    }
}

#[cfg(not(unix))]
mod os {
    use std::alloc::{alloc_zeroed, dealloc, Layout};
    use std::ptr::NonNull;

    use super::PAGE_SIZE;

    fn layout(bytes: usize) -> Option<Layout> {
        Layout::from_size_align(bytes, PAGE_SIZE).ok()
    }

    /// Allocates `bytes` zeroed; the allocator commits pages lazily where the OS allows.
    pub(super) fn reserve(bytes: usize) -> Option<NonNull<u8>> {
        // SAFETY: the layout has a non-zero size (caller passes `bytes > 0`).
        NonNull::new(unsafe { alloc_zeroed(layout(bytes)?) })
    }

    /// Nothing to do: the whole allocation is already usable.
    pub(super) fn commit(_base: NonNull<u8>, _from: usize, _to: usize) -> bool {
        true
    }

    /// Frees the allocation.
    pub(super) fn release(base: NonNull<u8>, bytes: usize) {
        if let Some(layout) = layout(bytes) {
            // SAFETY: allocated by `reserve` with this very layout; nothing borrows it any more.
            unsafe { dealloc(base.as_ptr(), layout) };
        }
    }
}
