//! Everything the CLI prints on stdout goes through [`line()`], which returns the write error
//! instead of panicking as `println!` does when stdout is closed (`agentsync tour | head -1`)
//! or full (`agentsync tour >/dev/full`).
//!
//! [`crate::run`] turns the error into the exit status: a closed pipe ends the command quietly
//! with [`EXIT_BROKEN_PIPE`](crate::EXIT_BROKEN_PIPE); any other write error prints
//! `error: cannot write output: …` on stderr and exits with [`EXIT_FAILED`](crate::EXIT_FAILED).

use std::fmt;
use std::io;
use std::sync::Mutex;

use crate::CliError;

/// Writes `args` and a newline to stdout and flushes, so a closed or full stdout is reported at
/// the line that could not be written.
///
/// # Errors
///
/// [`CliError::Output`] with the write error.
pub fn line(args: fmt::Arguments<'_>) -> Result<(), CliError> {
    write(format_args!("{args}\n"))
}

/// Writes `text` as it is (it brings its own newlines) to stdout and flushes.
///
/// # Errors
///
/// [`CliError::Output`] with the write error.
pub fn text(text: &str) -> Result<(), CliError> {
    write(format_args!("{text}"))
}

/// Writes to stdout and flushes.
#[cfg(not(test))]
fn write(args: fmt::Arguments<'_>) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = io::stdout().lock();
    stdout
        .write_fmt(args)
        .and_then(|()| stdout.flush())
        .map_err(CliError::Output)
}

/// In unit tests, through `print!`, which the test harness captures (it cannot fail there).
#[cfg(test)]
fn write(args: fmt::Arguments<'_>) -> Result<(), CliError> {
    print!("{args}");
    Ok(())
}

/// The first write error of code that cannot return one (the library's examples, run inside
/// the tour, print with `println!`); [`take_kept`] hands it over.
static KEPT: Mutex<Option<io::Error>> = Mutex::new(None);

/// [`line()`] for code that cannot return an error: the first error is kept for [`take_kept`],
/// later lines are dropped.
pub fn line_or_keep(args: fmt::Arguments<'_>) {
    let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if kept.is_none() {
        if let Err(CliError::Output(error)) = line(args) {
            *kept = Some(error);
        }
    }
}

/// The error [`line_or_keep`] kept, if any.
///
/// # Errors
///
/// [`CliError::Output`] with the kept error.
pub fn take_kept() -> Result<(), CliError> {
    let kept = KEPT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    kept.map_or(Ok(()), |error| Err(CliError::Output(error)))
}
