//! The Wasm steps of the tour: `cargo run -p agentsync-wasm --example tour`.
//!
//! Four Wasm threads and one host thread share `examples/wasm/lock.wat`'s locks; a host async
//! task awaits a guest thread's notify; a host notify wakes a guest wait.

fn main() -> Result<(), agentsync_wasm::WasmError> {
    for line in agentsync_wasm::tour_lines()? {
        println!("{line}");
    }
    Ok(())
}
