//! The `WebAssembly` namespace of the JS host: Wasm waits and JS waits on one shared memory,
//! the JS API's errors for bad input, and the `examples/js/wasm-lock` programs.
#![cfg(feature = "wasm")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use agentsync_js::{Host, JsError};

/// A fresh directory with `files` written into it.
fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentsync-js-wasm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

/// Runs `path` on a fresh host (on its own thread); its result and stdout lines.
fn run(path: &Path, args: &[&str]) -> (Result<(), String>, Vec<String>) {
    let path = path.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let host = Host::builder()
            .args(args)
            .on_output(move |_, line| {
                sink.lock().unwrap().push(line.to_string());
                Ok(())
            })
            .build()
            .unwrap();
        let result = host.run_file(&path).map_err(|e: JsError| e.to_string());
        drop(host);
        let lines = lines.lock().unwrap().clone();
        (result, lines)
    })
    .join()
    .unwrap()
}

/// A worker that instantiates the posted module over the posted memory, posts what `call`
/// (an expression over `exports`) returns, and closes.
fn guest_worker(call: &str) -> String {
    format!(
        "onmessage = (event) => {{
  const {{ module, memory }} = event.data;
  const {{ exports }} = new WebAssembly.Instance(module, {{ env: {{ memory }} }});
  postMessage({call});
  close();
}};"
    )
}

const WAIT_NOTIFY_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wait") (param i32 i32) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (i64.const -1)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1))))"#;

#[test]
fn a_guest_notify_in_a_worker_resolves_the_main_agents_wait_async() {
    let dir = scratch(
        "wait-async",
        &[
            ("m.wat", WAIT_NOTIFY_WAT),
            (
                "main.js",
                r#"
const module = new WebAssembly.Module(readbuffer('m.wat'));
const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const ia = new Int32Array(memory.buffer);
const wait = Atomics.waitAsync(ia, 0, 0);
print('async: ' + wait.async);
wait.value.then((result) => print('main waitAsync: ' + result));
const worker = new Worker('worker.js');
worker.onmessage = (event) => print('guest notify woke: ' + event.data);
worker.postMessage({ module, memory });
"#,
            ),
            ("worker.js", &guest_worker("exports.notify(0, 1)")),
        ],
    );
    let (result, mut lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    lines.sort();
    assert_eq!(
        lines,
        ["async: true", "guest notify woke: 1", "main waitAsync: ok"]
    );
}

#[test]
fn a_js_notify_wakes_a_guest_wait32_in_a_worker() {
    let dir = scratch(
        "js-notify",
        &[
            ("m.wat", WAIT_NOTIFY_WAT),
            (
                "main.js",
                r#"
const module = new WebAssembly.Module(readbuffer('m.wat'));
const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const ia = new Int32Array(memory.buffer);
const worker = new Worker('worker.js');
worker.onmessage = (event) => print('guest wait32 returned ' + event.data);
worker.postMessage({ module, memory });
function poke() {
  if (Atomics.notify(ia, 1, 1) === 1) print('JS notify woke 1');
  else setTimeout(poke, 1);
}
poke();
"#,
            ),
            ("worker.js", &guest_worker("exports.wait(4, 0)")),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(lines, ["JS notify woke 1", "guest wait32 returned 0"]);
}

#[test]
fn bad_input_gets_the_js_api_errors_and_no_panic() {
    let dir = scratch(
        "errors",
        &[
            ("m.wat", WAIT_NOTIFY_WAT),
            (
                "own.wat",
                r#"(module (memory (export "m") 1) (func (export "f")))"#,
            ),
            (
                "main.js",
                r#"
function name(action) {
  try {
    action();
    return 'no error';
  } catch (error) {
    return error.name + (error instanceof Error ? '' : ' (not an Error)');
  }
}
const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
const module = new WebAssembly.Module(readbuffer('m.wat'));
const own = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('own.wat')));
const worker = new Worker('onmessage = () => {};', { eval: true });
print('post a non-shared memory: ' + name(() => worker.postMessage(own.exports.m)));
worker.terminate();
print('import of the wrong type: ' + name(() => new WebAssembly.Instance(module, { env: { memory: 1 } })));
print('import is a LinkError: ' + name(() => {
  try { new WebAssembly.Instance(module, { env: { memory: {} } }); } catch (e) {
    if (!(e instanceof WebAssembly.LinkError)) throw e;
    throw new RangeError('ok');
  }
}));
// type () -> (), one function whose body holds the undefined opcode 0xff.
const malformed = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0,
  3, 2, 1, 0, 10, 5, 1, 3, 0, 0xff, 0x0b]);
print('malformed body: ' + name(() => new WebAssembly.Module(malformed)));
print('validate: ' + WebAssembly.validate(malformed));
print('grow past the maximum: ' + name(() => memory.grow(2)));
print('grow to the maximum returns ' + memory.grow(1) + ', buffer ' + memory.buffer.byteLength);
print('shared without maximum: ' + name(() => new WebAssembly.Memory({ initial: 1, shared: true })));
print('initial above maximum: ' + name(() => new WebAssembly.Memory({ initial: 2, maximum: 1, shared: true })));
print('memory limits that do not match: ' + name(() => new WebAssembly.Instance(module, { env: { memory } })));
const fits = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const exports = new WebAssembly.Instance(module, { env: { memory: fits } }).exports;
let trap;
try { exports.wait(0, 0); } catch (error) { trap = error; }
print('guest wait on main: ' + (trap instanceof WebAssembly.RuntimeError) + ' ' + trap.message);
WebAssembly.compile(malformed).catch((error) => print('compile rejects: ' + error.name));
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "post a non-shared memory: DataCloneError",
            "import of the wrong type: LinkError",
            "import is a LinkError: RangeError",
            "malformed body: CompileError",
            "validate: false",
            "grow past the maximum: RangeError",
            "grow to the maximum returns 1, buffer 131072",
            "shared without maximum: TypeError",
            "initial above maximum: RangeError",
            "memory limits that do not match: LinkError",
            "guest wait on main: true Atomics.wait cannot be called in this context",
            "compile rejects: CompileError",
        ]
    );
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/js/wasm-lock")
        .join(name)
}

#[test]
fn the_wasm_lock_example_counts_exactly() {
    let (result, lines) = run(&example("lock.js"), &["2000"]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "spin counter: 8000 (expected 8000)",
            "parking counter: 10000 (expected 10000)"
        ]
    );
}

#[test]
fn the_wasm_handoff_example_wakes_the_js_consumer() {
    let (result, lines) = run(&example("handoff.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(lines, ["consumer woke: ok", "payload: beef"]);
}

#[test]
fn terminate_ends_a_worker_blocked_in_a_guest_wait_or_looping_in_guest_code() {
    let dir = scratch(
        "terminate",
        &[
            (
                "m.wat",
                r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wait") (result i32)
    (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1)))
  (func (export "spin") (loop $forever (br $forever))))"#,
            ),
            (
                "main.js",
                r#"
const module = new WebAssembly.Module(readbuffer('m.wat'));
const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const ia = new Int32Array(memory.buffer);
let stopped = 0;
for (const what of ['wait', 'spin']) {
  const worker = new Worker('worker.js');
  worker.onmessage = () => {
    // Started: give the guest time to block or spin, then stop it.
    setTimeout(() => {
      worker.terminate();
      print(what + ' terminated');
      // The terminated guest's wait was withdrawn: nobody is left queued on its word.
      if (++stopped === 2) setTimeout(() => print('left queued: ' + Atomics.notify(ia, 2)), 20);
    }, 50);
  };
  worker.postMessage({ module, memory, what });
}
"#,
            ),
            (
                "worker.js",
                r#"
onmessage = (event) => {
  const { module, memory, what } = event.data;
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  postMessage('started');
  exports[what]();
  postMessage('never');
};
"#,
            ),
        ],
    );
    let (result, mut lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    lines.sort();
    assert_eq!(
        lines,
        ["left queued: 0", "spin terminated", "wait terminated"]
    );
}

#[test]
fn a_non_shared_memory_has_an_array_buffer_that_grow_detaches() {
    let dir = scratch(
        "unshared",
        &[
            (
                "m.wat",
                r#"(module
  (import "env" "memory" (memory 1 4))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
            ),
            (
                "own.wat",
                r#"(module (memory (export "m") 1) (export "again" (memory 0))
  (data (i32.const 0) "\2a"))"#,
            ),
            (
                "main.js",
                r#"
const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
const buffer = memory.buffer;
print('ArrayBuffer: ' + (buffer instanceof ArrayBuffer) + ', same buffer: ' + (buffer === memory.buffer));
new Int32Array(buffer)[1] = 7;
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('m.wat')), { env: { memory } });
print('guest reads ' + exports.load(4));
print('grow returns ' + memory.grow(1) + ', old buffer length ' + buffer.byteLength + ', new ' + memory.buffer.byteLength);
const before = memory.buffer;
print('guest grow returns ' + exports.grow(1) + ', old buffer length ' + before.byteLength + ', new ' + memory.buffer.byteLength);
print('grow past the maximum: ' + (() => { try { memory.grow(2); return 'no error'; } catch (e) { return e.name; } })());
const own = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('own.wat'))).exports;
print('exported: ' + (own.m instanceof WebAssembly.Memory) + ', one object: ' + (own.m === own.again) + ', byte ' + new Uint8Array(own.m.buffer)[0]);
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "ArrayBuffer: true, same buffer: true",
            "guest reads 7",
            "grow returns 1, old buffer length 0, new 131072",
            "guest grow returns 2, old buffer length 0, new 196608",
            "grow past the maximum: RangeError",
            "exported: true, one object: true, byte 42",
        ]
    );
}

#[test]
fn exported_functions_are_native_functions_that_refresh_memory_on_every_way_out() {
    let dir = scratch(
        "exported",
        &[
            (
                "m.wat",
                r#"(module
  (import "env" "memory" (memory 1 4))
  (import "env" "look" (func $look))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "growThenLook") (drop (memory.grow (i32.const 1))) (call $look))
  (func (export "growThenTrap") (drop (memory.grow (i32.const 1))) unreachable))"#,
            ),
            (
                "main.js",
                r#"
const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
let seen;
const look = () => { seen = 'import sees the old buffer ' + before.byteLength + ', new ' + memory.buffer.byteLength; };
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('m.wat')), { env: { memory, look } });
const f = exports.add;
const d = (k) => { const x = Object.getOwnPropertyDescriptor(f, k); return [x.value, x.writable, x.enumerable, x.configurable].join(' '); };
print('typeof ' + typeof f + ', Function.prototype: ' + (Object.getPrototypeOf(f) === Function.prototype));
print('name ' + d('name') + '; length ' + d('length'));
print('new: ' + (() => { try { new f(1, 2); return 'no error'; } catch (e) { return e.name; } })());
print('missing args ' + f() + ', extra ' + f(1, 2, 3) + ', converted ' + f('40', { valueOf: () => 2 }));
let before = memory.buffer;
exports.growThenLook();
print(seen);
before = memory.buffer;
print('trap: ' + (() => { try { exports.growThenTrap(); return 'no error'; } catch (e) { return e.name; } })() + ', old buffer ' + before.byteLength + ', new ' + memory.buffer.byteLength);
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "typeof function, Function.prototype: true",
            "name 1 false false true; length 2 false false true",
            "new: TypeError",
            "missing args 0, extra 3, converted 42",
            "import sees the old buffer 0, new 131072",
            "trap: RuntimeError, old buffer 0, new 196608",
        ]
    );
}

#[test]
fn a_global_is_live_across_javascript_and_wasm() {
    let dir = scratch(
        "global",
        &[
            (
                "m.wat",
                r#"(module
  (import "env" "g" (global $g (mut i32)))
  (import "env" "k" (global $k i64))
  (global $own (export "own") (mut f64) (f64.const 1.5))
  (export "g" (global $g))
  (func (export "get") (result i32) (global.get $g))
  (func (export "bump") (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func (export "k") (result i64) (global.get $k))
  (func (export "setOwn") (param f64) (global.set $own (local.get 0))))"#,
            ),
            (
                "main.js",
                r#"
const g = new WebAssembly.Global({ value: 'i32', mutable: true }, 41);
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('m.wat')), { env: { g, k: 5n } });
exports.bump();
print('JS sees ' + g.value + ', same object: ' + (exports.g === g));
g.value = 100;
print('Wasm sees ' + exports.get() + ', k ' + exports.k());
exports.setOwn(2.25);
print('exported global: ' + exports.own.value + ' ' + (exports.own instanceof WebAssembly.Global));
const c = new WebAssembly.Global({ value: 'i64' }, 3n);
print('valueOf ' + c.valueOf());
print('set a constant: ' + (() => { try { c.value = 1n; return 'no error'; } catch (e) { return e.name; } })());
print('bad type: ' + (() => { try { new WebAssembly.Global({ value: 'i8' }); return 'no error'; } catch (e) { return e.name; } })());
print('mutable from a number: ' + (() => { try {
  new WebAssembly.Instance(new WebAssembly.Module(readbuffer('m.wat')), { env: { g: 1, k: 5n } });
  return 'no error'; } catch (e) { return e.name; } })());
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "JS sees 42, same object: true",
            "Wasm sees 100, k 5",
            "exported global: 2.25 true",
            "valueOf 3",
            "set a constant: TypeError",
            "bad type: TypeError",
            "mutable from a number: LinkError",
        ]
    );
}

#[test]
fn tables_and_exported_functions_keep_one_object_per_function() {
    let dir = scratch(
        "table",
        &[
            (
                "m.wat",
                r#"(module
  (import "env" "table" (table 2 funcref))
  (import "env" "double" (func $double (param i32) (result i32)))
  (type $unary (func (param i32) (result i32)))
  (func $inc (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (export "alias" (func $inc))
  (export "double" (func $double))
  (elem (i32.const 0) $inc $double)
  (func (export "apply") (param i32 i32) (result i32)
    (call_indirect (type $unary) (local.get 1) (local.get 0))))"#,
            ),
            (
                "inner.wat",
                r#"(module (table (export "t") 1 funcref) (elem (i32.const 0) $seven)
  (func $seven (result i32) (i32.const 7)))"#,
            ),
            (
                "main.js",
                r#"
const table = new WebAssembly.Table({ element: 'anyfunc', initial: 2, maximum: 3 });
const double = (x) => x * 2;
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('m.wat')), { env: { table, double } });
print('name ' + exports.inc.name + ', length ' + exports.inc.length + ', alias same: ' + (exports.alias === exports.inc));
print('re-exported import is the JS function: ' + (exports.double === double));
print('table.get(0) is the export: ' + (table.get(0) === exports.inc));
table.set(1, exports.inc);
print('apply through the table: ' + exports.apply(1, 41));
print('grow returns ' + table.grow(1) + ', length ' + table.length + ', new slot ' + table.get(2));
print('set a JS function: ' + (() => { try { table.set(0, double); return 'no error'; } catch (e) { return e.name; } })());
print('get out of bounds: ' + (() => { try { table.get(3); return 'no error'; } catch (e) { return e.name; } })());
const inner = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('inner.wat'))).exports.t;
const first = inner.get(0);
print('a function seen first in a table: ' + first() + ', the same object again: ' + (inner.get(0) === first));
const refs = new WebAssembly.Table({ element: 'externref', initial: 1 }, 'hello');
const key = {};
refs.set(0, key);
print('externref keeps the object: ' + (refs.get(0) === key));
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "name 1, length 1, alias same: true",
            "re-exported import is the JS function: true",
            "table.get(0) is the export: true",
            "apply through the table: 42",
            "grow returns 2, length 3, new slot null",
            "set a JS function: TypeError",
            "get out of bounds: RangeError",
            "a function seen first in a table: 7, the same object again: true",
            "externref keeps the object: true",
        ]
    );
}

#[test]
fn a_js_import_reaches_the_store_while_the_guest_runs() {
    let dir = scratch(
        "reentry",
        &[
            (
                "r.wat",
                r#"(module
  (import "env" "cb" (func $cb (param i32) (result i32)))
  (import "env" "g" (global $g (mut i32)))
  (memory (export "mem") 1 4)
  (func (export "outer") (param i32) (result i32)
    (drop (memory.grow (i32.const 1)))
    (call $cb (local.get 0)))
  (func (export "inner") (param i32) (result i32)
    (global.set $g (i32.const 9))
    (i32.add (local.get 0) (i32.const 100))))"#,
            ),
            (
                "main.js",
                r#"
const g = new WebAssembly.Global({ value: 'i32', mutable: true }, 0);
const module = new WebAssembly.Module(readbuffer('r.wat'));
let exports;
let old;
const cb = (x) => {
  print('in the import: old buffer ' + old.byteLength + ', buffer ' + exports.mem.buffer.byteLength);
  const r = exports.inner(x);
  print('nested call ' + r + ', global ' + g.value);
  try { new WebAssembly.Instance(module, { env: { g, cb } }); } catch (e) { print('nested instance: ' + e.name); }
  return r + 1;
};
exports = new WebAssembly.Instance(module, { env: { g, cb } }).exports;
old = exports.mem.buffer;
print('outer ' + exports.outer(1));
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines,
        [
            "in the import: old buffer 0, buffer 131072",
            "nested call 101, global 9",
            "nested instance: RuntimeError",
            "outer 102",
        ]
    );
}

#[test]
fn w7_a_guest_wait_on_an_unshared_memory_traps_and_notify_returns_zero() {
    let dir = scratch(
        "unshared-wait",
        &[
            (
                "m.wat",
                r#"(module
  (memory 1)
  (func (export "wait") (result i32)
    (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 1000)))
  (func (export "notify") (result i32)
    (memory.atomic.notify (i32.const 0) (i32.const 1))))"#,
            ),
            (
                "main.js",
                r#"
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('m.wat')), {});
print('notify: ' + exports.notify());
try {
  exports.wait();
  print('wait returned');
} catch (trap) {
  print('wait: ' + (trap instanceof WebAssembly.RuntimeError) + ' ' + trap.message);
}
"#,
            ),
        ],
    );
    let (result, lines) = run(&dir.join("main.js"), &[]);
    assert_eq!(result, Ok(()));
    assert_eq!(lines[0], "notify: 0");
    assert!(
        lines[1].starts_with("wait: true") && lines[1].contains("shared"),
        "{lines:?}"
    );
}
