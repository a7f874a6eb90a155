//! How a blocking waiter sleeps on Linux: the futex system call on its own record's state word.
//! (Elsewhere, and under loom, it parks its thread: see `node::Wake::Thread`.)
//!
//! Sleeping on the state word is what the raw futex does: the notifier's store of the final
//! state and its `FUTEX_WAKE` are the whole hand-off, with no park token in between to swap and
//! no thread handle to count. `FUTEX_WAKE` uses the word's address only as a key and never
//! touches memory, so a wake that reaches the address after its waiter returned (the record
//! was on that waiter's stack) is harmless: at worst a spurious wake-up of a later wait that
//! happens to use the same address, and every sleeper here re-checks its record and sleeps
//! again.
//!
//! A leaf: it knows words and durations, not records; built on Linux only, outside loom.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// The address of a record's state word, as a futex key.
#[derive(Debug)]
pub(crate) struct Word(*const u32);

// SAFETY: only the address is used (as a futex key), never dereferenced.
unsafe impl Send for Word {}

impl Word {
    pub(crate) fn of(word: &AtomicU32) -> Word {
        Word(word.as_ptr())
    }
}

/// Wakes the sleeper on `word`, if any.
pub(crate) fn wake(word: Word) {
    // SAFETY: FUTEX_WAKE reads no memory; the address is only a key (see the module docs).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.0,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// Sleeps while `word` holds `expected`, for at most `timeout`. May return early (a signal, a
/// stale wake-up): the caller re-checks and loops.
pub(crate) fn sleep(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let timespec = timeout.map(|timeout| libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    });
    let timespec_ptr = timespec
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is live and aligned for the whole call (a reference); the kernel compares
    // it with `expected` atomically before sleeping, so a store that came first makes it return
    // at once.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            timespec_ptr,
        );
    }
}
