//! Starting and ending workers in a loop keeps resident memory flat: a finished worker leaves
//! nothing behind in its parent (it used to stay in the parent's list of children, about 3.7 KB
//! each in release). Each measurement follows `agentsync.gc()`, which collects and gives freed
//! memory back to the OS, so what is measured is what stays alive. Heavy (thousands of
//! workers), so `#[ignore]`d; CI runs it in release.

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use agentsync_js::{Host, Stream};
use common::run_guarded;

/// Workers started and ended after the first measurement.
const WORKERS: usize = 5_000;
/// Growth allowed after a collection, in bytes: far below the 2 MB that 5,000 retained
/// children would cost, far above what allocator noise gives (a few hundred KB).
const ALLOWED: f64 = 1024.0 * 1024.0;

#[test]
#[ignore = "heavy: thousands of workers; CI runs it in release"]
fn worker_churn_keeps_resident_memory_flat() {
    let script = format!(
        r#"
        const n = {WORKERS} + 200;
        let done = 0, first = 0;
        function next() {{
          if (done === 200) {{ agentsync.gc(); first = agentsync.residentBytes(); }}
          if (done === n) {{ agentsync.gc(); print(agentsync.residentBytes() - first); return; }}
          const w = new Worker('postMessage(1)', {{ eval: true }});
          w.onmessage = () => {{ w.terminate(); done++; setTimeout(next, 0); }};
        }}
        next();
        "#
    );
    let lines = Arc::new(Mutex::new(Vec::new()));
    let builder = {
        let lines = lines.clone();
        Host::builder().on_output(move |stream, line| {
            if stream == Stream::Stdout {
                lines.lock().unwrap().push(line.to_owned());
            }
            Ok(())
        })
    };
    let result = run_guarded(builder, Arc::new(OnceLock::new()), move |host| {
        host.eval("churn.js", &script)?;
        host.run()
    });
    result.unwrap();
    let lines = lines.lock().unwrap();
    let growth: f64 = lines[0].parse().unwrap();
    assert!(
        growth < ALLOWED,
        "resident memory grew {growth} bytes over {WORKERS} workers"
    );
}
