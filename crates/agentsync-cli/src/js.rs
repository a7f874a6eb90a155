//! `agentsync js`: run JavaScript on the agentsync JS host, whose `SharedArrayBuffer`s and
//! `Atomics.wait` / `notify` / `waitAsync` are agentsync's futex.
//!
//! `agentsync js FILE [ARGS...]` runs FILE as a classic script on the main agent
//! (`agentsync.args` holds ARGS); `agentsync js -e CODE` runs inline code. An uncaught error
//! prints `error: file:line:column: Uncaught …` and its stack on stderr and exits with
//! [`EXIT_FAILED`](crate::EXIT_FAILED); a FILE that cannot be read is a usage error
//! ([`EXIT_USAGE`](crate::EXIT_USAGE)), as for `agentsync wasm run`. A program that exits
//! (Emscripten's `exit(n)`, or `main` returning, with `-sEXIT_RUNTIME`: the host's
//! `Module.onExit`) ends the command with status `n`, every worker stopped.
//!
//! `fetch`, `XMLHttpRequest` and `importScripts` read files under the script's directory, and
//! under each `--allow-read DIR`.
//!
//! Console output goes through [`output`], so a closed stdout ends the run
//! with [`EXIT_BROKEN_PIPE`](crate::EXIT_BROKEN_PIPE) and a full one with
//! `error: cannot write output: …`.
//!
//! Tools over the host are subcommands of `js` whose names are reserved words for the first
//! argument: [`JsTool`] lists them. `agentsync js test262 …` is never taken for a file named
//! `test262` (run such a file as `agentsync js ./test262`).

use std::io::{self, Write};
use std::path::PathBuf;

use agentsync_js::{Host, JsError, Stream};
use clap::{Args, Subcommand};

use crate::{output, CliError};

/// `agentsync js` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct JsArgs {
    /// A tool over the host instead of a script (the reserved first words).
    #[command(subcommand)]
    pub tool: Option<JsTool>,
    /// Inline code to run instead of a file.
    #[arg(
        short = 'e',
        long = "eval",
        value_name = "CODE",
        conflicts_with = "file"
    )]
    pub eval: Option<String>,
    /// Let the main agent block in `Atomics.wait`, as Node.js does (by default it cannot, as
    /// on the web: `Atomics.wait` there throws a `TypeError`).
    #[arg(long)]
    pub main_can_block: bool,
    /// Let `fetch`, `XMLHttpRequest` and `importScripts` read files under DIR too (by default
    /// only under the script's directory; for `-e`, the current directory). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub allow_read: Vec<PathBuf>,
    /// The script, run as a classic script on the main agent; worker paths are relative to
    /// its directory.
    #[arg(value_name = "FILE", required_unless_present = "eval")]
    pub file: Option<PathBuf>,
    /// The script's arguments, `agentsync.args`. Options may also follow them; negative
    /// numbers are arguments, and anything after `--` is an argument.
    #[arg(value_name = "ARGS", allow_negative_numbers = true)]
    pub args: Vec<String>,
}

/// Tools over the JS host, chosen by a reserved first word: each is a variant here whose
/// arguments it parses itself, dispatched in [`run`].
#[derive(Debug, Subcommand)]
pub enum JsTool {
    /// Run tc39's test262 files on the host (`agentsync js test262 --root DIR [PATH...]`).
    Test262(crate::js_test262::Test262Args),
    /// Run web-platform-tests `*.any.js` files (the WebAssembly JS API tests) with our own
    /// testharness.js stand-in: `agentsync js testharness [--root DIR] FILE|DIR...`.
    Testharness(crate::js_testharness::TestharnessArgs),
}

/// `agentsync js`.
///
/// # Errors
///
/// [`CliError::Usage`] for a FILE that cannot be read; [`CliError::Failed`]
/// for an uncaught error (its `file:line:column`, message and stack); [`CliError::Output`]
/// when console output could not be written.
pub fn run(args: &JsArgs) -> Result<(), CliError> {
    if let Some(tool) = &args.tool {
        return run_tool(tool);
    }
    let mut builder = Host::builder()
        .main_can_block(args.main_can_block)
        .args(args.args.clone())
        .on_output(console_line);
    for dir in &args.allow_read {
        builder = builder.allow_read(dir);
    }
    let host = builder.build().map_err(|error| match error {
        JsError::Read { path, source } => {
            CliError::Usage(format!("--allow-read {}: {source}", path.display()))
        }
        other => cli_error(other),
    })?;
    let outcome = match (&args.eval, &args.file) {
        (Some(code), _) => host.eval(EVAL_NAME, code).and_then(|()| host.run()),
        (None, Some(file)) => {
            crate::wasm::readable_file(file)?;
            host.run_file(file)
        }
        (None, None) => return Err(CliError::Usage("a FILE or -e CODE is required".into())),
    };
    match outcome.map_err(cli_error) {
        Err(CliError::Status(0, None)) => Ok(()),
        other => other,
    }
}

/// The file name errors and stacks show for `-e` code (Node.js shows the same).
pub const EVAL_NAME: &str = "[eval]";

/// Runs a tool named by its reserved word.
fn run_tool(tool: &JsTool) -> Result<(), CliError> {
    match tool {
        JsTool::Test262(args) => crate::js_test262::test262(args),
        JsTool::Testharness(args) => crate::js_testharness::run(args),
    }
}

/// One line of console output: stdout through [`output`] (whose errors end the run as for
/// any command), stderr directly.
fn console_line(stream: Stream, line: &str) -> io::Result<()> {
    match stream {
        Stream::Stdout => output::line(format_args!("{line}")).map_err(|error| match error {
            CliError::Output(error) => error,
            other => io::Error::other(other.to_string()),
        }),
        Stream::Stderr => writeln!(io::stderr().lock(), "{line}"),
    }
}

/// What a host error means for the command.
fn cli_error(error: JsError) -> CliError {
    match error {
        // As a process's exit status: the low byte, as POSIX keeps it.
        JsError::Exit(0) => CliError::Status(0, None),
        JsError::Exit(status) => CliError::Status(status as u8, None),
        JsError::Output(error) => CliError::Output(error),
        JsError::Read { path, source } => {
            CliError::Usage(format!("cannot read {}: {source}", path.display()))
        }
        other => CliError::Failed(other.to_string()),
    }
}
