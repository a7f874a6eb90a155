//! Runs a JS file: `cargo run -p agentsync-js --example jsrun -- FILE [ARGS...]`.
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a file");
    let host = agentsync_js::Host::builder()
        .args(args.collect())
        .build()
        .expect("host");
    if let Err(e) = host.run_file(std::path::Path::new(&path)) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
