//! The Linux futex system call used directly: the kernel's limit, and the `raw_futex` peer.
//!
//! On other systems [`AVAILABLE`] is false and the `raw_futex` peers are skipped.

use std::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};

/// Whether this build can call the futex system call.
pub const AVAILABLE: bool = cfg!(target_os = "linux");

/// `FUTEX_WAIT_PRIVATE`: sleeps if `*word == expected`, until a wake. Spurious returns are
/// possible; callers loop.
#[cfg(target_os = "linux")]
#[inline]
pub fn wait(word: &AtomicU32, expected: u32) {
    // SAFETY:
    // - `word` is a live, aligned 32-bit atomic for the whole call (it is a reference);
    // - a null timeout means "forever"; the other arguments are ignored by FUTEX_WAIT.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// `FUTEX_WAKE_PRIVATE`: wakes up to `count` threads sleeping on `word`; returns how many.
#[cfg(target_os = "linux")]
#[inline]
pub fn wake(word: &AtomicU32, count: i32) -> usize {
    // SAFETY:
    // - `word` is a live, aligned 32-bit atomic (it is a reference); FUTEX_WAKE only uses its
    //   address as a key and never writes through it.
    let woken = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            count,
        )
    };
    woken.max(0) as usize
}

/// Not Linux: never called, because [`AVAILABLE`] is false; yields so nothing spins hot.
#[cfg(not(target_os = "linux"))]
pub fn wait(_word: &AtomicU32, _expected: u32) {
    std::thread::yield_now();
}

/// Not Linux: wakes nobody.
#[cfg(not(target_os = "linux"))]
pub fn wake(_word: &AtomicU32, _count: i32) -> usize {
    0
}

const UNLOCKED: u32 = 0; // free
const LOCKED: u32 = 1; // held, nobody sleeping
const CONTENDED: u32 = 2; // held, someone may be sleeping

/// A 0 free / 1 held / 2 contended mutex written directly on the futex system call.
#[derive(Debug)]
pub struct RawFutexMutex {
    state: AtomicU32,
}

// SAFETY:
// - `lock` returns only after moving `state` from UNLOCKED to LOCKED or CONTENDED by an atomic
//   read-modify-write, so at most one holder exists; `unlock` is only called by the holder
//   (lock_api's contract) and resets it to UNLOCKED with Release, pairing with lock's Acquire.
unsafe impl lock_api::RawMutex for RawFutexMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawFutexMutex {
        state: AtomicU32::new(UNLOCKED),
    };
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        // Release: pairs with the Acquire of the next `lock`.
        if self.state.swap(UNLOCKED, Release) == CONTENDED {
            wake(&self.state, 1);
        }
    }
}

impl RawFutexMutex {
    #[cold]
    fn lock_contended(&self) {
        // Acquire: pairs with the Release of `unlock`.
        while self.state.swap(CONTENDED, Acquire) != UNLOCKED {
            wait(&self.state, CONTENDED);
        }
    }
}
