//! How a blocking waiter sleeps: on Linux, the futex system call on its own record's state
//! word; elsewhere (and under loom), its thread's park token.
//!
//! Sleeping on the state word is what the raw futex does: the notifier's store of the final
//! state and its `FUTEX_WAKE` are the whole hand-off, with no park token in between to swap and
//! no thread handle to count. `FUTEX_WAKE` uses the word's address only as a key and never
//! touches memory, so a wake that reaches the address after its waiter returned (the record
//! was on that waiter's stack) is harmless: at worst a spurious wake-up of a later wait that
//! happens to use the same address, and every sleeper here re-checks its record and sleeps
//! again.

#[cfg(not(loom))]
use std::time::Duration;

use super::node::{Node, Wake};
#[cfg(all(target_os = "linux", not(loom)))]
use super::node::{State, WAITING};

/// The wake handle of a blocking record, filled in once the record has its final address.
pub(crate) fn handle(node: &Node) -> Wake {
    #[cfg(all(target_os = "linux", not(loom)))]
    {
        Wake::Futex(Word(node.state.as_ptr()))
    }
    #[cfg(not(all(target_os = "linux", not(loom))))]
    {
        let _ = node;
        Wake::Thread(crate::loom::thread::current())
    }
}

/// The address of a record's state word, as a futex key.
#[cfg(all(target_os = "linux", not(loom)))]
#[derive(Debug)]
pub(crate) struct Word(*const State);

// SAFETY: only the address is used (as a futex key), never dereferenced.
#[cfg(all(target_os = "linux", not(loom)))]
unsafe impl Send for Word {}

/// Wakes the sleeper on `word`, if any.
#[cfg(all(target_os = "linux", not(loom)))]
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

/// Sleeps while `node` is still `WAITING`, for at most `timeout`. May return early (a signal, a
/// stale wake-up): the caller re-checks the record and loops.
#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) fn sleep(node: &Node, timeout: Option<Duration>) {
    let timespec = timeout.map(|timeout| libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    });
    let timespec_ptr = timespec
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: the state word is live and aligned for the whole call (the record is borrowed);
    // the kernel compares it with WAITING atomically before sleeping, so a notify that decided
    // the record before this call makes it return at once.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            node.state.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            WAITING,
            timespec_ptr,
        );
    }
}

/// Elsewhere: the thread's park token.
#[cfg(all(not(target_os = "linux"), not(loom)))]
pub(crate) fn sleep(_node: &Node, timeout: Option<Duration>) {
    match timeout {
        None => std::thread::park(),
        Some(timeout) => std::thread::park_timeout(timeout),
    }
}
