//! Runs a JS file on the host, without the CLI: `cargo run -p agentsync-js --example jsrun --
//! FILE [ARGS...]`. An uncaught error prints its location, message and stack, and exits 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: jsrun FILE [ARGS...]");
        return ExitCode::from(2);
    };
    let outcome = agentsync_js::Host::builder()
        .args(args.collect())
        .build()
        .and_then(|host| host.run_file(std::path::Path::new(&path)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
