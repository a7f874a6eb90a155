//! `agentsync wasm run` and `agentsync wast`: WebAssembly modules and spec scripts on threads
//! whose `memory.atomic.wait` / `notify` share agentsync's queues.

use std::path::PathBuf;

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
    /// The scripts to run.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Use the threads proposal's own feature set (one memory and one table per module), which
    /// its official scripts (`memory.wast`, `imports.wast`) assume.
    #[arg(long)]
    pub threads_proposal: bool,
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
            .map_err(|error| CliError::Failed(format!("{}: {error}", run.module.display())))?;
            for (thread, results) in output.results.iter().enumerate() {
                let values: Vec<String> = results.iter().map(ToString::to_string).collect();
                println!("thread {thread}: {}", values.join(" "));
            }
            Ok(())
        }
    }
}

/// `agentsync wast`: one line per file, then `N passed, N failed`; fails if any file failed.
pub fn wast(args: &WastArgs) -> Result<(), CliError> {
    let report = if args.threads_proposal {
        agentsync_wasm::run_wast_on(agentsync_wasm::Runtime::threads_proposal(), &args.files)
    } else {
        agentsync_wasm::run_wast(&args.files)
    };
    for file in &report.files {
        println!("{}", file.line());
        for failure in file.failures.iter().skip(1) {
            println!("     {failure}");
        }
    }
    println!("{}", report.summary());
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
