//! The web platform pieces (src/web): URL, encoding, base64, crypto, fetch / Response,
//! XMLHttpRequest, importScripts, blob URLs, location, the read scope, Emscripten's exit hook,
//! and the end of a run whose workers are all idle. Each script runs from a file in its own
//! temporary directory, as `agentsync js FILE` runs it.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use agentsync_js::{Host, HostBuilder, JsError, Stream};
use common::run_guarded;

/// Assertion helpers for the scripts (main agent and workers).
const HELPERS: &str = r#"
function eq(actual, expected, what) {
  if (!Object.is(actual, expected)) {
    throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}
function throws(fn, name, what) {
  let error;
  try { fn(); } catch (e) { error = e; }
  if (error === undefined) throw new Error(`${what}: did not throw (expected ${name})`);
  if (error.name !== name) throw new Error(`${what}: threw ${error.name}: ${error.message}, expected ${name}`);
  return error;
}
async function rejects(promise, name, what) {
  try { await promise; } catch (error) {
    if (error.name !== name) throw new Error(`${what}: rejected with ${error.name}: ${error.message}, expected ${name}`);
    return error;
  }
  throw new Error(`${what}: did not reject (expected ${name})`);
}
"#;

/// A directory of its own for one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("agentsync-web-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

struct Outcome {
    result: Result<(), JsError>,
    out: Vec<String>,
}

/// Runs `main` (a file in `dir`, with the helpers prepended) and collects stdout.
fn run_file(dir: &Dir, main: &str, configure: impl FnOnce(HostBuilder) -> HostBuilder) -> Outcome {
    let path = dir.write("main.js", format!("{HELPERS}\n{main}"));
    let out = Arc::new(Mutex::new(Vec::new()));
    let builder = {
        let out = out.clone();
        configure(Host::builder().on_output(move |stream, line| {
            if stream == Stream::Stdout {
                out.lock().unwrap().push(line.to_owned());
            }
            Ok(())
        }))
    };
    let result = run_guarded(builder, Arc::new(OnceLock::new()), move |host| {
        host.run_file(&path)
    });
    let out = std::mem::take(&mut *out.lock().unwrap());
    Outcome { result, out }
}

/// Runs `main` and expects it to end without error, having printed `done` last.
fn passes(dir: &Dir, main: &str) {
    let outcome = run_file(
        dir,
        &format!("(async () => {{\n{main}\nprint('done');\n}})();"),
        |b| b,
    );
    if let Err(error) = &outcome.result {
        panic!("{error}\noutput: {:?}", outcome.out);
    }
    assert_eq!(
        outcome.out.last().map(String::as_str),
        Some("done"),
        "{:?}",
        outcome.out
    );
}

#[test]
fn url_parses_resolves_and_keeps_its_search_params_in_step() {
    let dir = Dir::new("url");
    passes(
        &dir,
        r#"
        const u = new URL('../b/c.wasm?x=1&y=two#frag', 'file:///srv/a/page.js');
        eq(u.href, 'file:///srv/b/c.wasm?x=1&y=two#frag', 'href');
        eq(u.protocol, 'file:', 'protocol');
        eq(u.pathname, '/srv/b/c.wasm', 'pathname');
        eq(u.search, '?x=1&y=two', 'search');
        eq(u.hash, '#frag', 'hash');
        eq(u.searchParams.get('y'), 'two', 'searchParams.get');
        u.searchParams.append('z', 'a b&c');
        eq(u.search, '?x=1&y=two&z=a+b%26c', 'append writes the query');
        u.search = '?only=1';
        eq(u.searchParams.get('only'), '1', 'the search setter updates the params');
        eq(u.searchParams.has('x'), false, 'and drops the old ones');
        const h = new URL('https://user:pw@example.com:8080/p?q#h');
        eq(h.origin, 'https://example.com:8080', 'origin');
        eq(h.host, 'example.com:8080', 'host');
        h.port = '443';
        eq(h.port, '', 'the default port is not shown');
        h.hostname = 'other.org';
        eq(h.href, 'https://user:pw@other.org/p?q#h', 'hostname setter');
        eq(new URL('file:///x').origin, 'null', 'file: origins are opaque');
        throws(() => new URL('not a url'), 'TypeError', 'an invalid URL');
        throws(() => new URL('/p', 'also not a url'), 'TypeError', 'an invalid base');
        eq(URL.canParse('b', 'http://a/'), true, 'canParse');
        eq(URL.parse('nope'), null, 'parse');
        eq(JSON.stringify({ u: new URL('http://a/b') }), '{"u":"http://a/b"}', 'toJSON');
        const p = new URLSearchParams('a=1&b=%20x&a=3');
        eq(p.getAll('a').join(), '1,3', 'getAll');
        eq(p.get('b'), ' x', 'percent-decoding');
        p.sort();
        eq(p.toString(), 'a=1&a=3&b=+x', 'sort is stable');
        eq(new URLSearchParams({ k: 'v' }).toString(), 'k=v', 'from a record');
        eq(location.protocol, 'file:', 'location of the main script');
        eq(location.href.endsWith('/main.js'), true, 'location.href');
        eq(document.currentScript.src, location.href, 'document.currentScript.src');
        eq(window, globalThis, 'window');
        eq(self, globalThis, 'self');
        "#,
    );
}

#[test]
fn text_encoding_follows_the_encoding_standard() {
    let dir = Dir::new("encoding");
    passes(
        &dir,
        r#"
        const bytes = new TextEncoder().encode('aé€😀\ud800');
        eq(Array.from(bytes).join(), '97,195,169,226,130,172,240,159,152,128,239,191,189', 'encode, a lone surrogate as U+FFFD');
        eq(new TextDecoder().decode(bytes), 'aé€😀\ufffd', 'utf-8 round trip');
        eq(new TextDecoder('utf-16le').decode(new Uint8Array([104, 0, 105, 0])), 'hi', 'utf-16le');
        eq(new TextDecoder('UTF8').encoding, 'utf-8', 'labels');
        eq(new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 65])), 'A', 'the BOM is removed');
        eq(new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 65])), '\ufeffA', 'ignoreBOM');
        eq(new TextDecoder().decode(new Uint8Array([0xff])), '\ufffd', 'replacement');
        throws(() => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])), 'TypeError', 'fatal');
        const d = new TextDecoder();
        const euro = [0xe2, 0x82, 0xac];
        eq(d.decode(new Uint8Array(euro.slice(0, 2)), { stream: true }), '', 'a split sequence waits');
        eq(d.decode(new Uint8Array(euro.slice(2))), '€', 'and completes');
        throws(() => new TextDecoder('no-such-encoding'), 'RangeError', 'an unknown label');
        throws(() => new TextDecoder().decode(new Uint8Array(new SharedArrayBuffer(4))), 'TypeError', 'a view on shared memory');
        eq(new TextDecoder().decode(), '', 'no input');
        const into = new Uint8Array(4);
        const r = new TextEncoder().encodeInto('a€b', into);
        eq(`${r.read},${r.written}`, '2,4', 'encodeInto stops before what does not fit');
        eq(btoa('hello'), 'aGVsbG8=', 'btoa');
        eq(atob(' aGVs bG8 '), 'hello', 'atob ignores ASCII whitespace');
        eq(atob('aGVsbG8'), 'hello', 'atob without padding');
        throws(() => atob('a'), 'InvalidCharacterError', 'a length of 1 mod 4');
        throws(() => atob('a*bc'), 'InvalidCharacterError', 'a character outside the alphabet');
        throws(() => btoa('€'), 'InvalidCharacterError', 'btoa of a non-Latin1 string');
        eq(atob(btoa('\x00\xff\x80')), '\x00\xff\x80', 'binary round trip');
        const random = crypto.getRandomValues(new Uint32Array(64));
        eq(random.some((x) => x !== 0), true, 'getRandomValues fills');
        throws(() => crypto.getRandomValues(new Uint8Array(65537)), 'QuotaExceededError', 'more than 64 KiB');
        throws(() => crypto.getRandomValues(new Float64Array(2)), 'TypeMismatchError', 'a float array');
        throws(() => crypto.getRandomValues(new Int32Array(new SharedArrayBuffer(8))), 'TypeError', 'shared memory');
        eq(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()), true, 'randomUUID');
        eq(navigator.hardwareConcurrency >= 1, true, 'hardwareConcurrency');
        "#,
    );
}

/// A module `(func (export "answer") (result i32) i32.const 42)`.
const ANSWER_WASM: [u8; 39] = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03,
    0x02, 0x01, 0x00, 0x07, 0x0a, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x00, 0x0a,
    0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b,
];

#[test]
fn fetch_reads_files_next_to_the_script_and_reports_what_it_cannot() {
    let dir = Dir::new("fetch");
    dir.write("data/hello.txt", "hello file");
    dir.write("data/config.json", r#"{"threads": 4}"#);
    dir.write("answer.wasm", ANSWER_WASM);
    dir.write("truncated.wasm", &ANSWER_WASM[..20]);
    dir.write("answer.bin", ANSWER_WASM);
    passes(
        &dir,
        r#"
        const text = await fetch('data/hello.txt');
        eq(text.ok, true, 'ok');
        eq(text.status, 200, 'status');
        eq(text.url, new URL('data/hello.txt', location.href).href, 'url');
        eq(text.headers.get('content-type'), 'text/plain', 'content type');
        eq(await text.text(), 'hello file', 'text');
        await rejects(text.text(), 'TypeError', 'a body read twice');
        eq((await (await fetch('./data/config.json')).json()).threads, 4, 'json');
        const bytes = await (await fetch(new URL('data/hello.txt', location.href))).arrayBuffer();
        eq(bytes.byteLength, 10, 'arrayBuffer, from a URL object');
        const missing = await fetch('data/missing.txt');
        eq(missing.ok, false, 'a missing file is not ok');
        eq(missing.status, 404, 'but a 404');
        const outside = await rejects(fetch('/etc/hostname'), 'TypeError', 'a file outside the script directory');
        eq(outside.message.includes('--allow-read'), true, 'the error names the rule: ' + outside.message);
        await rejects(fetch('../escape.txt'), 'TypeError', 'a relative path out of the directory');
        await rejects(fetch('https://example.com/'), 'TypeError', 'the network');
        await rejects(fetch('data/hello.txt', { method: 'POST' }), 'TypeError', 'a POST');
        const { instance, module } = await WebAssembly.instantiateStreaming(fetch('answer.wasm'), {});
        eq(instance.exports.answer(), 42, 'instantiateStreaming');
        eq(module instanceof WebAssembly.Module, true, 'and its module');
        eq((await WebAssembly.compileStreaming(fetch('answer.wasm'))) instanceof WebAssembly.Module, true, 'compileStreaming');
        await rejects(WebAssembly.compileStreaming(fetch('truncated.wasm')), 'CompileError', 'a truncated module');
        await rejects(WebAssembly.compileStreaming(fetch('answer.bin')), 'TypeError', 'a response that is not application/wasm');
        await rejects(WebAssembly.compileStreaming(fetch('missing.wasm')), 'TypeError', 'a 404');
        const r = new Response('{"a":1}', { status: 201, headers: { 'X-Y': 'z' } });
        eq(r.status, 201, 'Response status');
        eq(r.headers.get('x-y'), 'z', 'headers are case-insensitive');
        eq((await r.clone().json()).a, 1, 'clone and json');
        throws(() => new Response('', { status: 99 }), 'RangeError', 'a status out of range');
        "#,
    );
}

#[test]
fn allow_read_widens_the_read_scope() {
    let dir = Dir::new("scope");
    let other = Dir::new("scope-other");
    other.write("shared.txt", "from elsewhere");
    let url = format!("file://{}/shared.txt", other.0.display());
    let script = format!("(async () => {{ print(await (await fetch({url:?})).text()); }})();",);
    let refused = run_file(&dir, &script, |b| b);
    let error = refused.result.expect_err("outside the scope");
    assert!(error.to_string().contains("--allow-read"), "{error}");
    let allowed = run_file(&dir, &script, |b| b.allow_read(&other.0));
    assert!(
        allowed.result.is_ok(),
        "{:?}",
        allowed.result.err().map(|e| e.to_string())
    );
    assert_eq!(allowed.out, ["from elsewhere"]);
    let missing = Host::builder()
        .allow_read("/nonexistent/agentsync-dir")
        .build();
    assert!(matches!(missing, Err(JsError::Read { .. })), "{missing:?}");
}

#[test]
fn workers_read_with_xhr_and_import_scripts_relative_to_their_own_url() {
    let dir = Dir::new("xhr");
    dir.write(
        "lib/helper.js",
        "var helperValue = 7; importScripts('more.js');",
    );
    dir.write("lib/more.js", "var moreValue = helperValue * 6;");
    dir.write(
        "lib/throws.js",
        "throw new RangeError('from the imported script');",
    );
    dir.write("lib/bytes.bin", [1u8, 2, 3, 250]);
    dir.write(
        "lib/worker.js",
        format!(
            "{HELPERS}\n{}",
            r#"
            eq(self.location.href.endsWith('/lib/worker.js'), true, 'the worker location');
            eq(self.name, 'named', 'self.name');
            importScripts('helper.js');
            eq(moreValue, 42, 'importScripts nests, relative to each script');
            throws(() => importScripts('missing.js'), 'NetworkError', 'a missing script');
            throws(() => importScripts('/etc/hostname'), 'NetworkError', 'a script outside the scope');
            throws(() => importScripts('throws.js'), 'RangeError', 'an imported script that throws');
            const xhr = new XMLHttpRequest();
            xhr.open('GET', 'bytes.bin', false);
            xhr.responseType = 'arraybuffer';
            xhr.send(null);
            eq(xhr.status, 200, 'sync xhr status');
            eq(Array.from(new Uint8Array(xhr.response)).join(), '1,2,3,250', 'sync xhr bytes');
            const gone = new XMLHttpRequest();
            gone.open('GET', 'nope.bin', false);
            gone.send();
            eq(gone.status, 404, 'a missing file is a 404');
            const denied = new XMLHttpRequest();
            denied.open('GET', '/etc/hostname', false);
            throws(() => denied.send(), 'NetworkError', 'outside the scope');
            postMessage('worker ok');
            "#
        ),
    );
    passes(
        &dir,
        r#"
        const worker = new Worker('lib/worker.js', { name: 'named' });
        const reply = await new Promise((resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => reject(new Error(e.message));
        });
        eq(reply, 'worker ok', 'the worker');
        const xhr = new XMLHttpRequest();
        xhr.open('GET', 'lib/more.js');
        const loaded = new Promise((resolve) => { xhr.onload = resolve; });
        xhr.send();
        await loaded;
        eq(xhr.readyState, 4, 'async xhr done');
        eq(xhr.responseText, 'var moreValue = helperValue * 6;', 'async xhr text');
        const sync = new XMLHttpRequest();
        sync.open('GET', 'lib/more.js', false);
        throws(() => { sync.responseType = 'arraybuffer'; }, 'InvalidAccessError', 'a sync responseType on the main agent');
        const failed = new XMLHttpRequest();
        failed.open('GET', '/etc/hostname');
        const error = new Promise((resolve) => { failed.onerror = () => resolve('error event'); });
        failed.send();
        eq(await error, 'error event', 'an async request outside the scope');
        throws(() => new Worker('x.js', { type: 'wrong' }), 'TypeError', 'an unknown worker type');
        "#,
    );
}

#[test]
fn blob_urls_carry_workers_scripts_and_data_until_revoked() {
    let dir = Dir::new("blob");
    passes(
        &dir,
        r#"
        const blob = new Blob(['postMessage(self.location.href.slice(0, 5) + typeof importScripts);'], { type: 'text/javascript' });
        eq(blob.size, 67, 'size');
        eq(blob.type, 'text/javascript', 'type');
        const url = URL.createObjectURL(blob);
        eq(url.startsWith('blob:'), true, 'a blob URL');
        const worker = new Worker(url);
        eq(await new Promise((resolve) => { worker.onmessage = (e) => resolve(e.data); }), 'blob:function', 'a worker from a blob URL');
        const lib = URL.createObjectURL(new Blob(['var fromBlob = 5;']));
        const user = new Worker(URL.createObjectURL(new Blob([`importScripts(${JSON.stringify(lib)}); postMessage(fromBlob);`])));
        eq(await new Promise((resolve) => { user.onmessage = (e) => resolve(e.data); }), 5, 'importScripts of a blob URL');
        eq(await (await fetch(lib)).text(), 'var fromBlob = 5;', 'fetch of a blob URL');
        URL.revokeObjectURL(lib);
        await rejects(fetch(lib), 'TypeError', 'fetch after revoke');
        throws(() => new Worker(lib), 'Error', 'a worker from a revoked URL');
        const parts = new Blob([new Uint8Array([1, 2]), 'a', new Blob(['b'])]);
        eq(Array.from(new Uint8Array(await parts.arrayBuffer())).join(), '1,2,97,98', 'parts');
        eq(await parts.slice(-2).text(), 'ab', 'slice');
        const file = new File(['x'], 'x.txt', { type: 'text/plain' });
        eq(`${file.name} ${file.size} ${file.type}`, 'x.txt 1 text/plain', 'File');
        "#,
    );
}

#[test]
fn a_worker_syntax_error_is_an_error_event_with_file_and_line() {
    let dir = Dir::new("syntax");
    dir.write("broken.js", "let ok = 1;\nlet = = 2;\n");
    passes(
        &dir,
        r#"
        const worker = new Worker('broken.js');
        const event = await new Promise((resolve) => { worker.onerror = resolve; });
        eq(event.filename.endsWith('broken.js'), true, 'filename: ' + event.filename);
        eq(event.lineno, 2, 'lineno');
        eq(event.message.includes('SyntaxError'), true, 'message: ' + event.message);
        "#,
    );
}

#[test]
fn module_on_exit_ends_the_run_with_its_status_after_the_scripts_own_hook() {
    let dir = Dir::new("exit");
    let outcome = run_file(
        &dir,
        r#"
        var Module = { onExit(status) { print('their hook saw ' + status); } };
        // Busy workers must not outlive the exit.
        const worker = new Worker(URL.createObjectURL(new Blob(['setInterval(() => {}, 1000);'])));
        setTimeout(() => { print('exiting'); Module.onExit(5); print('the task finishes'); }, 10);
        setTimeout(() => print('never: the run ended'), 200);
        "#,
        |b| b,
    );
    assert!(
        matches!(outcome.result, Err(JsError::Exit(5))),
        "{:?}",
        outcome.result.err()
    );
    assert_eq!(
        outcome.out,
        ["exiting", "their hook saw 5", "the task finishes"]
    );
    // An uncaught ExitStatus (the way Emscripten's quit_ ends a program elsewhere) too.
    let thrown = run_file(
        &dir,
        "function ExitStatus(s) { this.name = 'ExitStatus'; this.status = s; }\n\
         throw new ExitStatus(2);",
        |b| b,
    );
    assert!(
        matches!(thrown.result, Err(JsError::Exit(2))),
        "{:?}",
        thrown.result.err()
    );
}

#[test]
fn a_run_ends_when_its_listening_workers_are_all_idle() {
    let dir = Dir::new("idle");
    // Two levels of workers that only listen: nothing can ever wake them, so the run ends
    // (node would keep running). A worker with a timer keeps it going until the timer is done.
    let outcome = run_file(
        &dir,
        r#"
        const inner = `onmessage = (e) => postMessage(e.data + 1);`;
        const outer = `
          const child = new Worker(URL.createObjectURL(new Blob([${JSON.stringify(inner)}])));
          child.onmessage = (e) => postMessage(e.data);
          onmessage = (e) => child.postMessage(e.data);
          setTimeout(() => {
            postMessage('outer timer');
            // Busy after its last message: the main agent checks while this worker still
            // runs, parks, and only this worker's turning idle can wake it.
            const end = Date.now() + 100;
            while (Date.now() < end) {}
          }, 50);`;
        const worker = new Worker(URL.createObjectURL(new Blob([outer])));
        worker.onmessage = (e) => print(e.data);
        worker.postMessage(41);
        "#,
        |b| b,
    );
    assert!(
        outcome.result.is_ok(),
        "{:?}",
        outcome.result.err().map(|e| e.to_string())
    );
    let mut out = outcome.out;
    out.sort();
    assert_eq!(out, ["42", "outer timer"]);
}

#[test]
fn a_module_worker_imports_relative_to_its_file() {
    let dir = Dir::new("module");
    dir.write("lib/dep.mjs", "export const answer = 42;");
    dir.write(
        "lib/worker.mjs",
        "import { answer } from './dep.mjs';\npostMessage(`${answer} ${typeof importScripts}`);",
    );
    passes(
        &dir,
        r#"
        const worker = new Worker('lib/worker.mjs', { type: 'module' });
        const reply = await new Promise((resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => reject(new Error(e.message));
        });
        eq(reply, '42 function', 'a module worker');
        "#,
    );
}

#[test]
fn exit_while_a_worker_prints_loses_no_line_it_printed_first() {
    // The worker prints a numbered line, then tells main; main exits on hearing of line 40.
    // Every line up to 40 was printed before main heard of it, so all are in the output, in
    // order and once; what the worker printed after is cut anywhere, never in the middle.
    let dir = Dir::new("exit-race");
    let outcome = run_file(
        &dir,
        r#"
        const worker = new Worker(URL.createObjectURL(new Blob([`
          for (let i = 0; ; i++) { print('line ' + i); postMessage(i); }
        `])));
        Module = {};
        worker.onmessage = (e) => { if (e.data === 40) Module.onExit(0); };
        "#,
        |b| b,
    );
    assert!(
        matches!(outcome.result, Err(JsError::Exit(0))),
        "{:?}",
        outcome.result.err()
    );
    let numbers: Vec<usize> = outcome
        .out
        .iter()
        .map(|line| {
            line.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a torn line: {line:?}"))
        })
        .collect();
    assert!(numbers.len() > 40, "{} lines", numbers.len());
    assert!(
        numbers.iter().enumerate().all(|(at, n)| at == *n),
        "lines out of order or missing: {numbers:?}"
    );
}
