//! Tour steps for layer 6: the JavaScript host, whose agents wait in agentsync's queues.

use std::sync::{Arc, Mutex};

use agentsync_js::{Host, Stream};

use super::{Checks, Step};

/// The layer 6 steps.
pub(super) const STEPS: &[Step] = &[
    Step {
        title: "the handoff in JavaScript: a main agent that cannot block, a worker that can",
        what: "the guide's handoff.js on the JS host: the consumer worker blocks in Atomics.wait, the main agent (which may only waitAsync) wakes it with Atomics.notify; main's own Atomics.wait is a TypeError",
        run: js_handoff,
    },
    Step {
        title: "an Emscripten pthread program, unmodified",
        what: "C with pthread condition variables, barriers and semaphores, built by emscripten 3.1.6 for the web: its page script fetches its .wasm, starts a pool of Web Workers that block in memory.atomic.wait32 on our futex, and its main agent busy-waits in pthread_join; it exits through Module.onExit with the node build's output",
        run: emscripten_program,
    },
];

/// `condvar_pingpong.c` built for the web (`tests/fixtures/emscripten/build.sh`): the page
/// script, its Wasm module and its pthread worker script.
const EMSCRIPTEN: [(&str, &[u8]); 3] = [
    (
        "condvar_pingpong_web.js",
        include_bytes!("../../tests/fixtures/emscripten/condvar_pingpong_web.js"),
    ),
    (
        "condvar_pingpong_web.wasm",
        include_bytes!("../../tests/fixtures/emscripten/condvar_pingpong_web.wasm"),
    ),
    (
        "condvar_pingpong_web.worker.js",
        include_bytes!("../../tests/fixtures/emscripten/condvar_pingpong_web.worker.js"),
    ),
];
/// What the node build of the same program printed.
const EMSCRIPTEN_EXPECTED: &str =
    include_str!("../../tests/fixtures/emscripten/condvar_pingpong.expected");

/// The guide's handoff, as shipped in the JS host's examples.
const HANDOFF: &str = include_str!("../../../agentsync-js/examples/js/handoff.js");
/// Its consumer worker.
const HANDOFF_WORKER: &str = include_str!("../../../agentsync-js/examples/js/handoff-worker.js");
/// How `HANDOFF` starts its worker from a file; the tour starts it from the embedded source.
const WORKER_FROM_FILE: &str = "new Worker('handoff-worker.js')";

/// What a script printed, one `(stream, line)` per call.
type Lines = Arc<Mutex<Vec<(Stream, String)>>>;

/// Runs `source` on a fresh host whose console output is captured; returns what it printed.
fn run_captured(name: &str, source: &str) -> Result<Vec<(Stream, String)>, String> {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let host = Host::builder()
        .on_output(move |stream, line| {
            let mut lines = sink.lock().unwrap_or_else(|p| p.into_inner());
            lines.push((stream, line.to_owned()));
            Ok(())
        })
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = host
        .eval(name, source)
        .and_then(|()| host.run())
        .map_err(|e| e.to_string());
    drop(host);
    let printed = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    outcome.map(|()| printed)
}

/// `HANDOFF` with its worker started from the embedded `HANDOFF_WORKER` source.
fn handoff_inline() -> Result<String, String> {
    if !HANDOFF.contains(WORKER_FROM_FILE) {
        return Err(format!(
            "handoff.js no longer starts its worker with {WORKER_FROM_FILE}"
        ));
    }
    let worker = serde_json::to_string(HANDOFF_WORKER).map_err(|e| e.to_string())?;
    Ok(HANDOFF.replace(
        WORKER_FROM_FILE,
        &format!("new Worker({worker}, {{ eval: true }})"),
    ))
}

fn js_handoff(checks: &mut Checks) -> Result<(), String> {
    let printed = run_captured("handoff.js", &handoff_inline()?)?;
    for (_, line) in &printed {
        checks.say(format_args!("  js> {line}"));
    }
    let lines: Vec<&str> = printed.iter().map(|(_, line)| line.as_str()).collect();
    checks.equal(
        "handoff.js printed exactly its two lines",
        lines,
        vec!["consumer woke: ok", "payload: beef"],
    );
    checks.equal(
        "both on stdout",
        printed.iter().all(|(stream, _)| *stream == Stream::Stdout),
        true,
    );

    let probe = "const ia = new Int32Array(new SharedArrayBuffer(4));\n\
                 try { print(`returned ${Atomics.wait(ia, 0, 0, 0)}`); }\n\
                 catch (e) { print(`${e.name}: ${e.message}`); }";
    let printed = run_captured("main-wait.js", probe)?;
    let line = printed.first().map(|(_, l)| l.as_str()).unwrap_or("");
    checks.say(format_args!(
        "  main agent: Atomics.wait(ia, 0, 0, 0) -> {line}"
    ));
    checks.equal(
        "the main agent may not block",
        line,
        "TypeError: Atomics.wait cannot be called in this context",
    );
    Ok(())
}

fn emscripten_program(checks: &mut Checks) -> Result<(), String> {
    // The program reads its files by URL, as on a page: write them to a directory of our own.
    let dir = crate::temp::TempDir::new_in(&std::env::temp_dir(), "agentsync-tour-")
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    for (name, bytes) in EMSCRIPTEN {
        std::fs::write(dir.path().join(name), bytes)
            .map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let host = Host::builder()
        .on_output(move |stream, line| {
            let mut lines = sink.lock().unwrap_or_else(|p| p.into_inner());
            lines.push((stream, line.to_owned()));
            Ok(())
        })
        .build()
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let outcome = host.run_file(&dir.path().join(EMSCRIPTEN[0].0));
    let took = started.elapsed();
    drop(host);
    let printed = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    let mut stdout = String::new();
    for (stream, line) in &printed {
        let tag = if *stream == Stream::Stdout {
            "out"
        } else {
            "err"
        };
        checks.say(format_args!("  {tag}> {line}"));
        if *stream == Stream::Stdout {
            stdout.push_str(line);
            stdout.push('\n');
        }
    }
    let status = match outcome {
        Err(agentsync_js::JsError::Exit(status)) => status,
        Ok(()) => 0,
        Err(other) => return Err(other.to_string()),
    };
    checks.say(format_args!(
        "  exit status {status}, after {:.0} ms (4 pool workers started, stopped at exit)",
        took.as_secs_f64() * 1e3
    ));
    checks.equal(
        "stdout is the node build's",
        stdout.as_str(),
        EMSCRIPTEN_EXPECTED,
    );
    checks.equal("the program exited with status 0", status, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_is_started_from_its_embedded_source() {
        let inline = handoff_inline().expect("handoff.js starts its worker from a file");
        assert!(!inline.contains(WORKER_FROM_FILE));
        assert!(inline.contains("{ eval: true }"));
    }
}
