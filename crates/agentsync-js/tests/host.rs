//! The host's behaviour on bad input and over an agent's lifecycle: errors, workers that throw
//! or are terminated, structured clone, timers, shared and growable buffers, the embedding API.

mod common;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use agentsync::memory::{Atomics, Int32Array, SharedMemory};
use agentsync_js::{Host, JsError, Message};
use common::{run_guarded, run_js};

fn wrap(source: &str) -> String {
    format!("(async () => {{\n{source}\ndone();\n}})();")
}

/// The waiters queued on the first word of `mem` (parallel tests use other memories).
fn waiters_at_start(mem: &SharedMemory) -> usize {
    agentsync::waiter_count_addr(mem.as_ptr() as usize)
}

#[test]
fn harness_a_failed_check_fails_the_run() {
    let run = run_js("eq(1 + 1, 3, 'arithmetic'); done();");
    let error = run.script_error();
    assert!(
        error.message.contains("arithmetic: got 2, expected 3"),
        "{error}"
    );
    assert!(run.out.is_empty());
}

#[test]
fn a_missing_script_is_a_read_error() {
    let result = run_guarded(Host::builder(), Arc::new(OnceLock::new()), |host| {
        host.run_file(Path::new("/nonexistent/agentsync-js/missing.js"))
    });
    match result {
        Err(JsError::Read { path, source }) => {
            assert_eq!(path, Path::new("/nonexistent/agentsync-js/missing.js"));
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected JsError::Read, got {other:?}"),
    }
}

#[test]
fn a_missing_worker_script_is_an_error_event() {
    run_js(&wrap(
        r#"
        const w = new Worker('/nonexistent/agentsync-js/worker.js');
        const event = await new Promise((resolve) => { w.onerror = resolve; });
        eq(typeof event.message, 'string', 'an error event with a message');
        if (!event.message.includes('worker.js')) throw new Error('message names the file: ' + event.message);
        "#,
    ))
    .done();
}

#[test]
fn an_uncaught_error_in_the_main_agent_fails_the_run_with_its_location() {
    let run = run_js("print('before');\nfunction f() { throw new RangeError('bad thing'); }\nf();");
    let error = run.script_error();
    assert_eq!(error.agent, "main");
    assert_eq!(error.message, "RangeError: bad thing");
    let location = error.location.expect("a location");
    assert!(location.starts_with("test.js:"), "{location}");
    assert_eq!(run.out, ["before"]);
}

#[test]
fn a_throwing_worker_reaches_onerror_with_message_and_error() {
    run_js(&wrap(
        r#"
        const w = spawn("throw new TypeError('worker exploded');");
        const event = await new Promise((resolve) => { w.onerror = resolve; });
        eq(event.type, 'error', 'an error event');
        if (!event.message.includes('worker exploded')) throw new Error('message: ' + event.message);
        eq(event.error instanceof Error || typeof event.error === 'object', true, 'the error');
        eq(String(event.error && event.error.message || event.error).includes('worker exploded'), true,
           'the error names the message: ' + show(event.error));
        "#,
    ))
    .done();
}

#[test]
fn a_throwing_worker_without_onerror_fails_the_run() {
    let run = run_js(
        "spawn(\"throw new Error('no handler here');\"); setTimeout(() => print('late'), 5000);",
    );
    let error = run.script_error();
    assert!(error.agent.starts_with("worker"), "{error:?}");
    assert!(error.message.contains("no handler here"), "{error:?}");
    assert!(
        run.out.is_empty(),
        "the run ended before the timer: {:?}",
        run.out
    );
}

#[test]
fn a_rejected_promise_in_a_worker_without_onerror_fails_the_run() {
    let run = run_js("spawn(\"Promise.reject(new Error('rejected in worker'));\");");
    let error = run.script_error();
    assert!(error.message.contains("rejected in worker"), "{error:?}");
}

#[test]
fn an_uncloneable_message_is_a_data_clone_error() {
    let run = run_js(&wrap(
        r#"
        const w = spawnFn(() => {
          onmessage = () => {
            let name;
            try { postMessage(() => 1); } catch (e) { name = e.name + ':' + (e instanceof DOMException); }
            postMessage(name);
            close();
          };
        });
        const values = { 'a function': () => 1, 'an object holding a function': { f() {} },
                         'an array holding a class': [1, class {}] };
        for (const [what, value] of Object.entries(values)) {
          const e = throws(() => w.postMessage(value), 'DataCloneError', `post ${what}`);
          eq(e instanceof DOMException, true, 'a DOMException');
          eq(e instanceof Error, true, 'an Error');
          print(what + ': ' + e.message);
          throws(() => structuredClone(value), 'DataCloneError', `structuredClone of ${what}`);
        }
        w.postMessage('go'); // the worker is still usable
        eq(await w.next(), 'DataCloneError:true', 'the worker side too');
        "#,
    ));
    run.done();
    for line in &run.out[..run.out.len() - 1] {
        let (_, message) = line.split_once(": ").unwrap();
        assert!(
            message.contains("unsupported") && message.contains("can be posted"),
            "a DataCloneError message should say what is wrong and what can be posted: {line:?}"
        );
    }
}

#[test]
fn a_flat_message_arrives_as_structured_clone_says_both_ways() {
    // Plain objects of primitives take the native fast path (no pass of the prelude's
    // encoder); everything else takes the encoder. What arrives must not tell them apart.
    run_js(&wrap(
        r#"
        const w = spawnFn(() => {
          onmessage = (e) => {
            const d = e.data;
            const shape = d !== null && typeof d === 'object'
              ? `${Object.getPrototypeOf(d) === Object.prototype}:${JSON.stringify(d, (k, v) => typeof v === 'bigint' ? `${v}n` : v)}:${Object.getOwnPropertySymbols(d).length}`
              : `${typeof d}:${String(d)}`;
            postMessage(shape, []);
          };
        });
        let reads = 0;
        const hidden = { v: 2 };
        Object.defineProperty(hidden, 'h', { value: 1, enumerable: false });
        const nullProto = Object.create(null);
        nullProto.k = 'x';
        const cases = [
          [{ cmd: 'run', arg: 7, text: 'é', big: 10n, none: null, u: undefined }, 'true:{"cmd":"run","arg":7,"text":"é","big":"10n","none":null}:0'],
          [{ get g() { reads += 1; return 5; } }, 'true:{"g":5}:0'],
          [hidden, 'true:{"v":2}:0'],
          [nullProto, 'true:{"k":"x"}:0'],
          [{ [Symbol.iterator]: 1, a: 1 }, 'true:{"a":1}:0'],
          [{ nested: { a: 1 } }, 'true:{"nested":{"a":1}}:0'],
          [3, 'number:3'],
          ['s', 'string:s'],
          [undefined, 'undefined:undefined'],
        ];
        for (const [value, expected] of cases) {
          w.postMessage(value, []);
          eq(await w.next(), expected, `posting ${expected}`);
        }
        eq(reads, 1, 'a getter runs once, in the sender');
        throws(() => w.postMessage({ s: Symbol('s') }, []), 'DataCloneError', 'a symbol value');
        throws(() => w.postMessage({ f() {} }), 'DataCloneError', 'a function value');
        throws(() => w.postMessage(new Proxy({ p: 1 }, {}), []), 'DataCloneError', 'a proxy (an exotic object)');
        w.terminate();
        "#,
    ))
    .done();
}

#[test]
fn a_symbol_cannot_be_cloned() {
    run_js(&wrap(
        r#"
        throws(() => structuredClone(Symbol('s')), 'DataCloneError', 'structuredClone of a symbol');
        throws(() => structuredClone({ s: Symbol('s') }), 'DataCloneError', 'of an object holding one');
        const w = spawnFn(() => { onmessage = () => {}; });
        throws(() => w.postMessage([Symbol.iterator]), 'DataCloneError', 'posting one');
        w.terminate();
        "#,
    ))
    .done();
}

#[test]
fn structured_clone_copies_array_buffers_and_shares_shared_ones() {
    run_js(&wrap(
        r#"
        const ab = new ArrayBuffer(8);
        const sab = new SharedArrayBuffer(8);
        const copy = structuredClone({ ab, sab, list: [1, 'two', 3n, { four: 4 }], nested: new Int32Array(sab) });
        new Int32Array(copy.ab)[0] = 5;
        eq(new Int32Array(ab)[0], 0, 'an ArrayBuffer is copied');
        copy.nested[1] = 6;
        eq(new Int32Array(sab)[1], 6, 'a SharedArrayBuffer is shared');
        eq(copy.list[2], 3n, 'a BigInt');
        eq(copy.list[3].four, 4, 'a nested object');
        "#,
    ))
    .done();
}

#[test]
fn wait_async_on_a_non_shared_or_detached_buffer_is_a_type_error() {
    run_js(&wrap(
        r#"
        throws(() => Atomics.waitAsync(new Int32Array(4), 0, 0), 'TypeError', 'non-shared Int32Array');
        throws(() => Atomics.waitAsync(new BigInt64Array(4), 0, 0n), 'TypeError', 'non-shared BigInt64Array');
        eq(typeof ArrayBuffer.prototype.transfer, 'function', 'QuickJS-ng has ArrayBuffer.prototype.transfer');
        const ab = new ArrayBuffer(16);
        const ia = new Int32Array(ab);
        ab.transfer();
        eq(ab.detached, true, 'detached');
        throws(() => Atomics.waitAsync(ia, 0, 0), 'TypeError', 'waitAsync on a detached buffer');
        throws(() => Atomics.waitAsync(ia, 0, 0, 0), 'TypeError', 'waitAsync on a detached buffer, timeout 0');
        throws(() => Atomics.notify(ia, 0), 'TypeError', 'notify on a detached buffer');
        "#,
    ))
    .done();
}

#[test]
fn terminating_a_worker_blocked_in_atomics_wait_ends_the_run_and_dequeues_it() {
    let run = run_js(&wrap(
        r#"
        const w = blocker(0);
        await queued(0, 1);
        w.terminate();
        "#,
    ));
    run.done();
    assert_eq!(
        waiters_at_start(&run.mem),
        0,
        "the terminated wait left the queue"
    );
}

#[test]
fn terminating_a_spinning_worker_ends_the_run() {
    run_js(&wrap(
        r#"
        const ia = new Int32Array(mem);
        const w = spawnFn(() => {
          onmessage = (e) => {
            const ia = new Int32Array(e.data);
            Atomics.store(ia, 1, 1);
            for (;;) Atomics.add(ia, 2, 1);
          };
        });
        w.postMessage(mem);
        while (Atomics.load(ia, 1) === 0) await sleep(1);
        const before = Atomics.load(ia, 2);
        while (Atomics.load(ia, 2) === before) await sleep(1); // it is spinning
        w.terminate();
        "#,
    ))
    .done();
}

#[test]
fn close_inside_a_worker_ends_it_even_with_a_message_handler() {
    run_js(&wrap(
        r#"
        const w = spawnFn(() => {
          onmessage = (e) => {
            postMessage('closing:' + e.data);
            close(); // the handler would keep it alive otherwise
          };
        });
        w.postMessage(1);
        eq(await w.next(), 'closing:1', 'the message before close');
        "#,
    ))
    .done(); // and the run ends: the closed worker no longer keeps it alive
}

#[test]
fn close_inside_a_worker_drops_its_timers() {
    run_js(&wrap(
        r#"
        const w = spawnFn(() => {
          onmessage = () => {
            setTimeout(() => postMessage('late'), 0);
            postMessage('closing');
            close();
          };
        });
        w.postMessage(1);
        eq(await w.next(), 'closing', 'the message before close');
        await sleep(100);
        eq(await settled(w.next()), false, 'no message from a timer after close');
        "#,
    ))
    .done();
}

#[test]
fn a_worker_with_onmessage_stays_alive_until_terminated() {
    run_js(&wrap(
        r#"
        const w = spawnFn(() => { onmessage = (e) => postMessage(e.data * 2); });
        await sleep(100); // nothing to do but a handler: it must still be there
        w.postMessage(21);
        eq(await w.next(), 42, 'still alive');
        w.postMessage(1);
        eq(await w.next(), 2, 'and again');
        w.terminate();
        "#,
    ))
    .done();
}

#[test]
fn a_worker_with_add_event_listener_and_self_onmessage_stays_alive() {
    run_js(&wrap(
        r#"
        const a = spawnFn(() => { addEventListener('message', (e) => postMessage('a' + e.data)); });
        const b = spawnFn(() => { self.onmessage = (e) => postMessage('b' + e.data); });
        await sleep(50);
        a.postMessage(1);
        b.postMessage(2);
        eq(await a.next(), 'a1', 'addEventListener');
        eq(await b.next(), 'b2', 'self.onmessage');
        a.terminate();
        b.terminate();
        "#,
    ))
    .done();
}

#[test]
fn a_worker_without_handlers_ends_by_itself() {
    // The run ends only if the worker does: a worker kept alive would trip the guard of
    // `run_js` (it terminates the host and fails the test).
    run_js("spawn('print(\"worker ran\")'); done();").ok();
}

#[test]
fn timers_fire_in_order_and_can_be_cleared() {
    let run = run_js(
        r#"
        setTimeout(() => print('t10'), 10);
        setTimeout(() => print('t0a'), 0);
        setTimeout(() => print('t5'), 5);
        setTimeout(() => print('t0b'));
        const cleared = setTimeout(() => print('cleared timeout fired'), 1);
        clearTimeout(cleared);
        clearTimeout(12345); // unknown ids are ignored
        let n = 0;
        const id = setInterval(() => {
          n += 1;
          print('interval ' + n);
          if (n === 3) {
            clearInterval(id);
            setTimeout(() => { print('after ' + n); done(); }, 30);
          }
        }, 15);
        queueMicrotask(() => print('microtask'));
        print('sync');
        "#,
    );
    run.done();
    assert_eq!(
        run.out,
        [
            "sync",
            "microtask",
            "t0a",
            "t0b",
            "t5",
            "t10",
            "interval 1",
            "interval 2",
            "interval 3",
            "after 3",
            "done"
        ]
    );
}

#[test]
fn an_unhandled_promise_rejection_fails_the_run() {
    let run = run_js("Promise.reject(new Error('nobody caught me'));");
    let error = run.script_error();
    assert!(error.message.contains("nobody caught me"), "{error:?}");
    let run = run_js("(async () => { await null; throw new TypeError('async throw'); })();");
    assert!(run.script_error().message.contains("async throw"));
    // A rejection handled in the same turn is not an error.
    run_js("Promise.reject(new Error('x')).catch(() => { print('caught'); done(); });").done();
}

#[test]
fn a_shared_array_buffer_posted_to_a_worker_is_the_same_memory() {
    run_js(&wrap(
        r#"
        const sab = new SharedArrayBuffer(16);
        const ia = new Int32Array(sab);
        const w = spawnFn(() => {
          onmessage = (e) => {
            const ia = new Int32Array(e.data.sab);
            Atomics.store(ia, 1, 1234);
            e.data.view[2] = 99; // a view posted alone keeps its buffer shared
            Atomics.store(new Int32Array(e.data.mem), 0, ia[0] + 1);
            postMessage('written');
            close();
          };
        });
        ia[0] = 41;
        w.postMessage({ sab, view: new Int32Array(sab), mem });
        eq(await w.next(), 'written', 'the worker wrote');
        eq(Atomics.load(ia, 1), 1234, 'main sees the worker write');
        eq(ia[2], 99, 'through a posted view');
        eq(Atomics.load(new Int32Array(mem), 0), 42, 'Rust memory too');
        "#,
    ))
    .done();
}

#[test]
fn a_growable_shared_array_buffer_grows_and_stays_shared() {
    run_js(&wrap(
        r#"
        const sab = new SharedArrayBuffer(8, { maxByteLength: 64 });
        eq(sab.growable, true, 'growable');
        eq(sab.byteLength, 8, 'initial length');
        eq(sab.maxByteLength, 64, 'max length');
        sab.grow(32);
        eq(sab.byteLength, 32, 'grown');
        const tracking = new Int32Array(sab); // length-tracking view
        eq(tracking.length, 8, 'a length-tracking view sees the growth');
        Atomics.store(tracking, 7, 7);
        throws(() => sab.grow(16), 'RangeError', 'cannot shrink');
        throws(() => sab.grow(65), 'RangeError', 'cannot pass the maximum');
        const w = spawnFn(() => {
          onmessage = (e) => {
            const sab = e.data;
            const ia = new Int32Array(sab);
            const seen = [sab.byteLength, Atomics.load(ia, 7)];
            Atomics.store(ia, 6, 6);
            sab.grow(64);
            Atomics.store(new Int32Array(sab), 15, 15);
            postMessage(seen);
            close();
          };
        });
        w.postMessage(sab);
        eq((await w.next()).join(), '32,7', 'the worker sees the length and the bytes');
        eq(Atomics.load(tracking, 6), 6, 'main sees the worker write');
        // Growing it again here makes the worker's write past 32 bytes visible: the same memory.
        sab.grow(64);
        eq(Atomics.load(new Int32Array(sab), 15), 15, 'the worker write past the old length');
        "#,
    ))
    .done();
}

#[test]
fn a_growable_shared_array_buffer_grown_by_a_worker_is_longer_in_main() {
    run_js(&wrap(
        r#"
        const sab = new SharedArrayBuffer(8, { maxByteLength: 64 });
        const w = spawnFn(() => {
          onmessage = (e) => { e.data.grow(64); postMessage(e.data.byteLength); close(); };
        });
        w.postMessage(sab);
        eq(await w.next(), 64, 'the worker grew it');
        eq(sab.byteLength, 64, 'growth is visible to every agent (ECMA-262 ArrayBufferByteLength)');
        eq(new Int32Array(sab).length, 16, 'a length-tracking view in main');
        "#,
    ))
    .done();
}

#[test]
fn the_embedding_api_shares_memory_and_messages() {
    let memory = SharedMemory::new(1, 1).unwrap();
    let extra = SharedMemory::new(1, 1).unwrap();
    Atomics::store(&Int32Array::new(&memory), 0, 5).unwrap();
    Atomics::store(&Int32Array::new(&extra), 0, 9).unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let builder = {
        let lines = lines.clone();
        Host::builder()
            .args(vec!["one".into(), "two".into()])
            .on_output(move |_, line| {
                lines.lock().unwrap().push(line.to_owned());
                Ok(())
            })
    };
    let (memory_in, extra_in) = (memory.clone(), extra.clone());
    let result = run_guarded(builder, Arc::new(OnceLock::new()), move |host| {
        host.set_shared_memory("shared", &memory_in)?;
        host.eval(
            "embed.js",
            r#"
            if (agentsync.args.join() !== 'one,two') throw new Error('args ' + agentsync.args);
            if (agentsync.isMain !== true || crossOriginIsolated !== true) throw new Error('globals');
            if (!(shared instanceof SharedArrayBuffer)) throw new Error('not a SharedArrayBuffer');
            print('read ' + Atomics.load(new Int32Array(shared), 0));
            globalThis.view = new Int32Array(shared, 4);
            globalThis.plain = new ArrayBuffer(8);
            globalThis.made = new SharedArrayBuffer(4);
            Atomics.store(new Int32Array(made), 0, 3);
            const got = [];
            const keepAlive = setInterval(() => {}, 1000);
            onmessage = (e) => {
              const d = e.data;
              got.push(d instanceof SharedArrayBuffer ? 'sab:' + new Int32Array(d)[0] : JSON.stringify(d));
              if (got.length === 3) {
                print(got.join());
                Atomics.store(new Int32Array(d), 1, 10); // writes the Rust memory
                clearInterval(keepAlive);
              }
            };
            "#,
        )?;
        // The same memory comes back, by buffer or by view; a plain buffer is not shared memory.
        let back = host.shared_memory("shared").expect("shared");
        assert!(Arc::ptr_eq(&back, &memory_in));
        let through_view = host.shared_memory("view").expect("view");
        assert!(Arc::ptr_eq(&through_view, &memory_in));
        assert!(host.shared_memory("plain").is_none());
        assert!(host.shared_memory("missing").is_none());
        let made = host.shared_memory("made").expect("a script-made buffer");
        assert_eq!(
            made.atomic_i32(0)
                .unwrap()
                .load(std::sync::atomic::Ordering::SeqCst),
            3
        );
        // A second host on this thread is refused.
        assert!(matches!(Host::new(), Err(JsError::AgentOnThread)));
        let handle = host.handle();
        handle.post_message(Message::text("hello"));
        handle.post_message(Message::number(2.5));
        handle.post_message(Message::shared_memory(&extra_in));
        host.run()
    });
    if let Err(error) = result {
        panic!("{error}; output {:?}", lines.lock().unwrap());
    }
    assert_eq!(*lines.lock().unwrap(), ["read 5", "\"hello\",2.5,sab:9"]);
    assert_eq!(Atomics::load(&Int32Array::new(&extra), 1).unwrap(), 10);
}

#[test]
fn terminate_from_the_handle_stops_the_main_agent() {
    let slot = Arc::new(OnceLock::new());
    let (tx, rx) = std::sync::mpsc::channel::<agentsync_js::HostHandle>();
    let stopper = std::thread::spawn(move || {
        let handle = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        handle.terminate();
    });
    let result = run_guarded(
        Host::builder().on_output(|_, _| Ok(())),
        slot,
        move |host| {
            tx.send(host.handle()).unwrap();
            // A worker blocked forever, a timer far away and a pending waitAsync.
            host.eval(
                "stop.js",
                r#"
                const ia = new Int32Array(new SharedArrayBuffer(8));
                const w = new Worker('onmessage = (e) => Atomics.wait(new Int32Array(e.data), 0, 0);', { eval: true });
                w.postMessage(ia.buffer);
                setTimeout(() => {}, 60000);
                Atomics.waitAsync(ia, 1, 0);
                "#,
            )?;
            host.run()
        },
    );
    stopper.join().unwrap();
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_failing_output_sink_ends_the_run_with_an_output_error() {
    let result = run_guarded(
        Host::builder().on_output(|_, _| Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))),
        Arc::new(OnceLock::new()),
        |host| {
            host.eval(
                "out.js",
                "print('x'); setTimeout(() => print('never'), 10);",
            )?;
            host.run()
        },
    );
    match result {
        Err(JsError::Output(error)) => assert_eq!(error.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("expected JsError::Output, got {other:?}"),
    }
}

/// A delay above 2³¹−1 ms (or +∞) is 1 ms with a warning, as in node and browsers: such timers
/// fire, and the run ends, instead of waiting forever.
#[test]
fn timers_with_delays_past_2_31_ms_fire_after_1_ms_with_a_warning() {
    let run = run_js(
        r#"
        const fired = [];
        const delays = [1e308, 2 ** 31, 2 ** 32 + 5, Infinity];
        for (const d of delays) {
          setTimeout(() => {
            fired.push(String(d));
            if (fired.length === delays.length) { print(fired.sort().join(' ')); done(); }
          }, d);
        }
        const kept = setTimeout(() => print('2**31-1 is kept as it is'), 2 ** 31 - 1);
        clearTimeout(kept);
        "#,
    );
    run.done();
    assert_eq!(
        run.out[0], "1e+308 2147483648 4294967301 Infinity",
        "{:?}",
        run.out
    );
    assert_eq!(run.err.len(), 4, "{:?}", run.err);
    assert!(
        run.err[0].starts_with("TimeoutOverflowWarning: 1e308 does not fit"),
        "{:?}",
        run.err
    );
}

/// `WebAssembly.Table.prototype.grow` applies the JS embedding's limit of 10,000,000 elements,
/// as the constructor does: a huge delta is a RangeError at once, not gigabytes allocated.
#[cfg(feature = "wasm")]
#[test]
fn table_grow_past_the_js_embedding_limit_is_a_range_error_at_once() {
    let run = run_js(
        r#"
        const t = new WebAssembly.Table({ element: 'anyfunc', initial: 1 });
        throws(() => t.grow(2 ** 31), 'RangeError', 'grow by 2**31');
        throws(() => t.grow(10000000), 'RangeError', 'one past the limit');
        eq(t.length, 1, 'unchanged');
        eq(t.grow(9), 1, 'a small grow returns the old length');
        eq(t.length, 10, 'grown');
        done();
        "#,
    );
    run.done();
}
