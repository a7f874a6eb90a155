//! The blocking WASI calls a run must be able to end: reading the inherited stdin, and
//! `poll_oneoff` (which is also how a guest sleeps).
//!
//! A guest blocked in `memory.atomic.wait32` is woken by the run's cancel (our futex); a guest
//! blocked in the host is not. So a WASI run owns a [`Stop`]: a flag with a condition variable
//! for sleepers and a pipe whose read end every blocking `poll(2)` of the run watches beside
//! its own descriptors. [`Stop::raise`] sets the flag, wakes the sleepers and writes one byte
//! that is never read, so the pipe stays readable: a poll that starts after the raise returns
//! at once, as does one that was already sleeping. The call then traps with
//! [`Trap::Cancelled`](crate::Trap::Cancelled), so the thread ends without running more
//! guest code.

use std::any::Any;
use std::io::{IoSliceMut, Read as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wasi_common::file::{FdFlags, FileType, WasiFile};
use wasi_common::sched::subscription::{RwEventFlags, Subscription};
use wasi_common::sched::{Poll, WasiSched};
use wasi_common::{Error, ErrorExt};

use crate::error::Trap;

/// A WASI run's stop signal (see the module documentation).
pub(crate) struct Stop {
    raised: Mutex<bool>,
    changed: Condvar,
    /// `(read end, write end)`, both non-blocking and close-on-exec.
    pipe: (OwnedFd, OwnedFd),
}

impl Stop {
    /// A lowered stop.
    ///
    /// # Errors
    ///
    /// The OS's error if it refuses a pipe (e.g. too many open files).
    pub(crate) fn new() -> std::io::Result<Arc<Self>> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
        let done = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if done != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `pipe2` succeeded, so both are open descriptors that nothing else owns.
        let pipe = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Arc::new(Self {
            raised: Mutex::new(false),
            changed: Condvar::new(),
            pipe,
        }))
    }

    /// Raises the stop: every blocking call of the run returns, now and from now on.
    pub(crate) fn raise(&self) {
        let mut raised = self.lock();
        if !*raised {
            *raised = true;
            // One byte, never read: the read end stays readable. A full pipe cannot happen
            // (only this write ever writes), and a failed write leaves the flag and the
            // condition variable, which every sleeper also checks.
            // SAFETY: writes one byte from a live buffer to our own descriptor.
            let _ = unsafe { libc::write(self.pipe.1.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
        drop(raised);
        self.changed.notify_all();
    }

    fn is_raised(&self) -> bool {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.raised.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps until `deadline` (or forever for `None`); returns `false` if the stop was
    /// raised first.
    fn sleep_until(&self, deadline: Option<Instant>) -> bool {
        let mut raised = self.lock();
        loop {
            if *raised {
                return false;
            }
            match deadline {
                None => raised = self.changed.wait(raised).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return true;
                    }
                    raised = self
                        .changed
                        .wait_timeout(raised, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    /// `poll(2)` on `fds` and the stop's pipe, for at most `timeout`; returns how many of
    /// `fds` are ready, or `None` if the stop was raised.
    fn poll(
        &self,
        fds: &mut [libc::pollfd],
        timeout: Option<Duration>,
    ) -> Result<Option<usize>, Error> {
        let mut all: Vec<libc::pollfd> = fds.to_vec();
        all.push(libc::pollfd {
            fd: self.pipe.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.is_raised() {
                return Ok(None);
            }
            let millis = match deadline {
                None => -1,
                // Rounded up, so a short timeout does not spin at 0 ms.
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    i32::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
                }
            };
            let count = libc::nfds_t::try_from(all.len()).map_err(|_| Error::overflow())?;
            // SAFETY: `all` is a live array of `count` pollfd records.
            let ready = unsafe { libc::poll(all.as_mut_ptr(), count, millis) };
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error.into());
            }
            if all.last().is_some_and(|stop| stop.revents != 0) {
                return Ok(None);
            }
            for (out, polled) in fds.iter_mut().zip(&all) {
                out.revents = polled.revents;
            }
            let ready = fds.iter().filter(|f| f.revents != 0).count();
            if ready > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(ready));
            }
        }
    }
}

/// The error a blocking call returns once its run is stopped: a trap, so the thread ends.
fn stopped() -> Error {
    Error::trap(wasmtime::Error::new(Trap::Cancelled))
}

/// The WASI scheduler of a run: `poll_oneoff`, `sched_yield` and sleeping, each of which
/// returns (trapping) when the run is stopped.
pub(crate) struct StoppableSched(pub(crate) Arc<Stop>);

#[async_trait::async_trait]
impl WasiSched for StoppableSched {
    async fn poll_oneoff<'a>(&self, poll: &mut Poll<'a>) -> Result<(), Error> {
        if poll.is_empty() {
            return Ok(());
        }
        let timeout = poll
            .earliest_clock_deadline()
            .map(|clock| clock.duration_until().unwrap_or_default());
        let mut fds = Vec::new();
        for subscription in poll.rw_subscriptions() {
            let (file, events) = match subscription {
                Subscription::Read(s) => (s.file, libc::POLLIN),
                Subscription::Write(s) => (s.file, libc::POLLOUT),
                Subscription::MonotonicClock(_) => continue,
            };
            let fd = file
                .pollable()
                .ok_or_else(|| Error::invalid_argument().context("file is not pollable"))?;
            fds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events,
                revents: 0,
            });
        }
        if fds.is_empty() {
            // Only clocks: a sleep the stop can cut short.
            let until = timeout.map(|t| Instant::now() + t);
            if !self.0.sleep_until(until) {
                return Err(stopped());
            }
        } else if self.0.poll(&mut fds, timeout)?.is_none() {
            return Err(stopped());
        }
        let ready = fds.iter().any(|f| f.revents != 0);
        if ready {
            let mut polled = fds.iter();
            for subscription in poll.rw_subscriptions() {
                let Some(fd) = polled.next() else { break };
                let revents = fd.revents;
                let (bytes, sub) = match subscription {
                    Subscription::Read(sub) => (sub.file.num_ready_bytes()?.max(1), sub),
                    Subscription::Write(sub) => (0, sub),
                    Subscription::MonotonicClock(_) => continue,
                };
                if revents & libc::POLLNVAL != 0 {
                    sub.error(Error::badf());
                } else if revents & libc::POLLERR != 0 {
                    sub.error(Error::io());
                } else if revents & libc::POLLHUP != 0 {
                    sub.complete(bytes, RwEventFlags::HANGUP);
                } else if revents != 0 {
                    sub.complete(bytes, RwEventFlags::empty());
                }
            }
        } else if let Some(clock) = poll.earliest_clock_deadline() {
            // The earliest clock fired: its result is recorded when it is read.
            let _ = clock.result();
        }
        Ok(())
    }

    async fn sched_yield(&self) -> Result<(), Error> {
        std::thread::yield_now();
        Ok(())
    }

    async fn sleep(&self, duration: Duration) -> Result<(), Error> {
        if self.0.sleep_until(Some(Instant::now() + duration)) {
            Ok(())
        } else {
            Err(stopped())
        }
    }
}

/// The process's stdin for a run: reads wait in `poll(2)` with the run's stop beside, so a
/// thread blocked reading stdin ends with its run (the thread never blocks in `read(2)`).
pub(crate) struct StoppableStdin {
    inner: wasi_common::sync::stdio::Stdin,
    stop: Arc<Stop>,
}

impl StoppableStdin {
    pub(crate) fn new(stop: Arc<Stop>) -> Self {
        Self {
            inner: wasi_common::sync::stdio::stdin(),
            stop,
        }
    }
}

#[async_trait::async_trait]
impl WasiFile for StoppableStdin {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, Error> {
        self.inner.get_filetype().await
    }

    fn pollable(&self) -> Option<BorrowedFd<'_>> {
        self.inner.pollable()
    }

    fn isatty(&self) -> bool {
        self.inner.isatty()
    }

    async fn get_fdflags(&self) -> Result<FdFlags, Error> {
        self.inner.get_fdflags().await
    }

    async fn read_vectored<'a>(&self, bufs: &mut [IoSliceMut<'a>]) -> Result<u64, Error> {
        let stdin = std::io::stdin();
        let mut fd = [libc::pollfd {
            fd: stdin.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if self.stop.poll(&mut fd, None)?.is_none() {
            return Err(stopped());
        }
        // Readable (data, end of file or an error): this read does not block. It reads the
        // descriptor itself, not through std's buffered `Stdin`, which could keep bytes
        // that the next poll would not see.
        // SAFETY: descriptor 0 stays open for the process's life; `ManuallyDrop` keeps this
        // `File` from closing it.
        let mut raw = std::mem::ManuallyDrop::new(unsafe {
            std::fs::File::from_raw_fd(stdin.as_fd().as_raw_fd())
        });
        let n = raw.read_vectored(bufs)?;
        Ok(u64::try_from(n)?)
    }

    async fn read_vectored_at<'a>(
        &self,
        bufs: &mut [IoSliceMut<'a>],
        offset: u64,
    ) -> Result<u64, Error> {
        self.inner.read_vectored_at(bufs, offset).await
    }

    async fn seek(&self, pos: std::io::SeekFrom) -> Result<u64, Error> {
        self.inner.seek(pos).await
    }

    async fn peek(&self, buf: &mut [u8]) -> Result<u64, Error> {
        self.inner.peek(buf).await
    }

    fn num_ready_bytes(&self) -> Result<u64, Error> {
        self.inner.num_ready_bytes()
    }
}
