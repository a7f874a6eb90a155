//! The `agentsync` binary: parses the command line and hands it to [`agentsync_cli::run`].

use std::process::ExitCode;

use agentsync_cli::alloc_count::CountingAlloc;
use clap::Parser;

/// Counts live heap bytes while a benchmark asks it to (`wait_async_bytes`); otherwise it only
/// forwards to the system allocator.
#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

fn main() -> ExitCode {
    let argv = agentsync_cli::wasm::guest_arguments_after_module(std::env::args_os().collect());
    match agentsync_cli::Cli::try_parse_from(argv) {
        Ok(cli) => agentsync_cli::run(cli),
        Err(error) => agentsync_cli::parse_failed(&error),
    }
}
