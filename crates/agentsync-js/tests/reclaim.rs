//! Process-wide counts (`live_buffers()`, `agentsync::total_waiters()`) return to where they
//! started once hosts are dropped. One test in its own binary, so no other test's hosts run in
//! the process while it compares the counts; its hosts run one after another.

mod common;

use std::thread;

use common::{run_js, run_with, wait_for_waiters, Options};

fn wrap(source: &str) -> String {
    format!("(async () => {{\n{source}\ndone();\n}})();")
}

#[test]
fn buffers_and_waiters_are_reclaimed_after_hosts_end() {
    let buffers = agentsync_js::live_buffers();
    let waiters = agentsync::total_waiters();

    // Buffers made in JS, posted to workers (by themselves, in views, in objects), grown, and
    // one posted to a worker that is terminated before it reads its messages.
    run_js(&wrap(
        r#"
        const bufs = Array.from({ length: 8 }, (_, i) => new SharedArrayBuffer(16 * (i + 1)));
        const growable = new SharedArrayBuffer(8, { maxByteLength: 1 << 20 });
        growable.grow(1 << 16);
        const w = spawnFn(() => {
          onmessage = (e) => {
            const { bufs, view, growable } = e.data;
            Atomics.add(view, 0, 1);
            Atomics.store(new Int32Array(growable), 0, bufs.length);
            postMessage([new SharedArrayBuffer(32), bufs[0]]); // new ones back to main, too
            close();
          };
        });
        w.postMessage({ bufs, view: new Int32Array(bufs[1]), growable });
        const [fresh, first] = await w.next();
        eq(fresh.byteLength, 32, 'a buffer made by the worker');
        eq(Atomics.load(new Int32Array(growable), 0), 8, 'the worker wrote');
        const doomed = spawnFn(() => { onmessage = () => {}; });
        doomed.postMessage(new SharedArrayBuffer(64));
        doomed.postMessage([new SharedArrayBuffer(64), mem]);
        doomed.terminate();
        agentsync.gc();
        "#,
    ))
    .done();
    assert_eq!(
        agentsync_js::live_buffers(),
        buffers,
        "after buffers and messages"
    );

    // Waiters: a worker blocked forever, the main agent's waitAsync forever, several async
    // records with timeouts; the run is ended from Rust with terminate().
    let run = run_with(
        Options::default(),
        r#"
        const ia = new Int32Array(mem);
        blocker(0);
        Atomics.waitAsync(ia, 0, 0);
        for (let i = 0; i < 5; i++) Atomics.waitAsync(ia, 1, 0, 60000);
        "#,
        move |host, mem| {
            // The count is meaningful: `mem` (and the worker's copy of it) are registered now.
            assert!(agentsync_js::live_buffers() > buffers);
            let handle = host.handle();
            let mem = mem.clone();
            thread::spawn(move || {
                wait_for_waiters(&mem, 0, 2);
                wait_for_waiters(&mem, 4, 5);
                handle.terminate();
            });
        },
    );
    run.ok();
    assert_eq!(agentsync::total_waiters(), waiters, "after terminate");
    drop(run);
    assert_eq!(agentsync_js::live_buffers(), buffers, "after terminate");

    // A failed run (an uncaught error with waits pending) cleans up too.
    let run = run_js(
        r#"
        const ia = new Int32Array(new SharedArrayBuffer(8));
        blocker(0, undefined, ia.buffer);
        Atomics.waitAsync(ia, 1, 0);
        setTimeout(() => { throw new Error('planned failure'); }, 50);
        "#,
    );
    assert!(run.script_error().message.contains("planned failure"));
    assert_eq!(agentsync::total_waiters(), waiters, "after a failed run");
    drop(run);
    assert_eq!(agentsync_js::live_buffers(), buffers, "after a failed run");
}
