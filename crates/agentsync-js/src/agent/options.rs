//! What every agent of one host shares: its options, where console output goes, and the
//! extensions each agent installs.

use std::io::{self, Write};
use std::sync::Mutex;

use super::extension::Extension;

/// Which stream a line of console output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `console.log`, `console.info`, `console.debug`, `print`.
    Stdout,
    /// `console.error`, `console.warn`.
    Stderr,
}

pub(crate) type Sink = dyn Fn(Stream, &str) -> io::Result<()> + Send + Sync;

/// Where console output goes, and the first write that failed.
pub(crate) struct Output {
    sink: Box<Sink>,
    failed: Mutex<Option<io::Error>>,
}

impl Output {
    pub(crate) fn new(sink: Box<Sink>) -> Output {
        Output {
            sink,
            failed: Mutex::new(None),
        }
    }

    pub(crate) fn write(&self, stream: Stream, line: &str) -> io::Result<()> {
        (self.sink)(stream, line).inspect_err(|error| {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| io::Error::new(error.kind(), error.to_string()));
        })
    }

    pub(crate) fn take_error(&self) -> Option<io::Error> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Puts back a failure that ended a worker, for the agent that reports the run's end to
    /// find: a closed stdout ends every agent's run the same way.
    pub(crate) fn keep_error(&self, error: io::Error) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert(error);
    }
}

pub(crate) fn standard_streams(stream: Stream, line: &str) -> io::Result<()> {
    match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            writeln!(out, "{line}")?;
            out.flush()
        }
        Stream::Stderr => writeln!(io::stderr().lock(), "{line}"),
    }
}

/// What every agent of one host shares.
pub(crate) struct Options {
    pub(crate) main_can_block: bool,
    pub(crate) engine_atomics: bool,
    pub(crate) args: Vec<String>,
    pub(crate) output: Output,
    /// The directories (canonical) that `fetch`, `XMLHttpRequest` and `importScripts` may read:
    /// the main script's directory and each `allow_read` one (see `resource::read`).
    pub(crate) read_scope: Mutex<Vec<std::path::PathBuf>>,
    /// The features every agent installs, in order ([`crate::extensions::ALL`]).
    pub(crate) extensions: &'static [Extension],
}
