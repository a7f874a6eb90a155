//! The `agentsync` command line: the guided tour, benchmarks against peers, and stress runs.
//!
//! Layer 7 of `docs/architecture.md`. It uses only the public API of the `agentsync` library.
//! The binary (`src/main.rs`) installs [`alloc_count::CountingAlloc`] and calls [`run`].
//!
//! Exit codes: [`EXIT_OK`] on success, [`EXIT_FAILED`] when a tour check fails, a stress
//! invariant is broken or a run fails, [`EXIT_USAGE`] for bad arguments (clap uses the same code
//! for the errors it finds itself), [`EXIT_BROKEN_PIPE`] when the reader of stdout went away.
//!
//! All output on stdout goes through [`output::line`] (the `say!` macro), which returns write
//! errors instead of panicking: a closed pipe (`agentsync tour | head -1`) stops the command
//! quietly, any other write error (`agentsync tour >/dev/full`) prints one line
//! `error: cannot write output: …` and exits with [`EXIT_FAILED`].

/// `println!` that returns [`CliError::Output`] instead of panicking: `say!("{x}")?`.
macro_rules! say {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

pub mod alloc_count;
pub mod bench;
pub mod conformance;
pub mod js;
pub mod js_test262;
pub mod js_testharness;
pub mod outfile;
pub mod output;
pub mod raw_futex;
pub mod serve;
pub mod stress;
pub mod temp;
pub mod tour;
pub mod walk;
pub mod wasi_programs;
pub mod wasm;
pub mod wasm_demo;

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Everything went as checked.
pub const EXIT_OK: u8 = 0;
/// A check failed, an invariant was broken, or a run could not complete.
pub const EXIT_FAILED: u8 = 1;
/// The arguments were wrong: unknown scenario, an output path that cannot be written, ….
pub const EXIT_USAGE: u8 = 2;
/// stdout was closed before the command finished (`agentsync tour | head -1`): the command
/// stops quietly. 141 is 128 + SIGPIPE, what a shell reports for a writer killed by SIGPIPE,
/// so `set -o pipefail` treats us like any other writer; not 0, because the run stopped before
/// it could check everything.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// `agentsync`: the ECMAScript / WebAssembly shared-memory synchronization model for Rust.
#[derive(Debug, Parser)]
#[command(name = "agentsync", version, about, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through the model step by step; each step runs live and checks its own result.
    Tour,
    /// Measure agentsync against its peers (std, parking_lot, raw futex, tokio, Node.js).
    Bench(bench::BenchArgs),
    /// Hammer every layer with threads and tasks and check the invariants at the end.
    Stress(stress::StressArgs),
    /// Run WebAssembly modules on threads whose waits share agentsync's queues.
    Wasm(wasm::WasmArgs),
    /// Run WebAssembly spec scripts (`.wast`), threads proposal included.
    Wast(wasm::WastArgs),
    /// Run JavaScript whose SharedArrayBuffers and Atomics.wait / notify / waitAsync are
    /// agentsync's: `agentsync js FILE [ARGS...]` or `agentsync js -e CODE`.
    Js(js::JsArgs),
    /// Serve a folder on loopback, cross-origin isolated (so pages get `SharedArrayBuffer`);
    /// with `--run FILE.js`, run the script in a headless browser and exit with its status.
    Serve(serve::ServeArgs),
    /// Run every official suite found under a directory (WebAssembly threads spec scripts and
    /// JS API, test262's Atomics and SharedArrayBuffer, wasi-testsuite) and compare the
    /// results with the committed expectations.
    Conformance(conformance::ConformanceArgs),
}

/// Why a command did not succeed.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments; exits with [`EXIT_USAGE`].
    Usage(String),
    /// The command ran and something failed; exits with [`EXIT_FAILED`].
    Failed(String),
    /// stdout could not be written; exits with [`EXIT_BROKEN_PIPE`] (quietly) if the reader
    /// went away, else with [`EXIT_FAILED`].
    Output(std::io::Error),
    /// A program run by the command ended with this status (a WASI command's exit code);
    /// exits with it, printing the message first if there is one.
    Status(u8, Option<String>),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failed(message) => f.write_str(message),
            CliError::Output(error) => write!(f, "cannot write output: {error}"),
            CliError::Status(code, None) => write!(f, "exited with status {code}"),
            CliError::Status(_, Some(message)) => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Tour => tour::run(),
        Command::Bench(args) => bench::run(&args),
        Command::Stress(args) => stress::run(&args),
        Command::Wasm(args) => wasm::module_readable(&args).and_then(|()| wasm::run(&args)),
        Command::Wast(args) => wasm::wast(&args),
        Command::Js(args) => js::run(&args),
        Command::Conformance(args) => conformance::run(&args),
        Command::Serve(args) => serve::run(&args),
    };
    ExitCode::from(exit_code(outcome))
}

/// What a command line that did not parse into a command ends with: `--help` and
/// `--version` are written to stdout through [`output`] (so a closed or full stdout ends them
/// as it ends any command), argument errors go to stderr with [`EXIT_USAGE`].
pub fn parse_failed(error: &clap::Error) -> ExitCode {
    if error.use_stderr() {
        let _ = error.print();
        return ExitCode::from(EXIT_USAGE);
    }
    ExitCode::from(exit_code(output::text(&error.render().to_string())))
}

/// The exit code of an outcome; errors are printed to stderr (except a closed stdout, which
/// ends the command quietly). A failing stderr is ignored: there is nowhere left to report.
fn exit_code(outcome: Result<(), CliError>) -> u8 {
    use std::io::Write;
    let error = match outcome {
        Ok(()) => return EXIT_OK,
        Err(CliError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            return EXIT_BROKEN_PIPE
        }
        Err(CliError::Status(code, None)) => return code,
        Err(error) => error,
    };
    let _ = writeln!(std::io::stderr(), "error: {error}");
    match error {
        CliError::Usage(_) => EXIT_USAGE,
        CliError::Failed(_) | CliError::Output(_) => EXIT_FAILED,
        CliError::Status(code, _) => code,
    }
}
