//! Shared test helpers: run JavaScript in a fresh [`Host`] on a fresh thread, with console output
//! captured and a timeout guard, so a hung host fails its test instead of hanging the suite.
//!
//! Every script gets [`PRELUDE`] first: small assertion helpers (`eq`, `throws`, `done`), a
//! `spawn(code)` that starts an inline worker which also has the prelude, and
//! `queued(byteOffset, n)`: a promise that resolves once at least `n` waiters (JS agents, Rust
//! threads or tasks) are queued on byte `byteOffset` of the global `mem`, a SharedArrayBuffer
//! over Rust-made memory. JS cannot see a waiter count; Rust can, so `queued` prints a request
//! line that the output sink turns into a Rust watcher thread, which polls
//! `agentsync::waiter_count_addr` and posts a message back to the main agent.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use agentsync::memory::SharedMemory;
use agentsync_js::{Host, HostBuilder, HostHandle, JsError, Message, Stream};

/// How long a host may run before the guard terminates it and fails the test.
pub const GUARD: Duration = Duration::from_secs(30);

/// The bytes of the global `mem` every script sees (one 64 KiB page).
pub const MEM_PAGES: u64 = 1;

/// JavaScript helpers prepended to every script (and, through `spawn`, every inline worker).
pub const PRELUDE: &str = r#"
function show(v) {
  if (typeof v === 'bigint') return v + 'n';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v && typeof v === 'object' && !(v instanceof Promise)) {
    try { return JSON.stringify(v); } catch (_) { return String(v); }
  }
  return String(v);
}
function eq(actual, expected, what) {
  if (!Object.is(actual, expected)) {
    throw new Error(`${what}: got ${show(actual)}, expected ${show(expected)}`);
  }
}
// Runs fn, which must throw an error named `name`; returns the error.
function throws(fn, name, what) {
  let error;
  try { fn(); } catch (e) { error = e; }
  if (error === undefined) throw new Error(`${what}: did not throw (expected ${name})`);
  if (!error || error.name !== name) {
    throw new Error(`${what}: threw ${error && error.name}: ${error && error.message}, expected ${name}`);
  }
  return error;
}
function done() { print('done'); }
// An inline worker running `code` (with this prelude); `worker.next()` is a promise of its next
// message, queued so none is lost.
function spawn(code) {
  const worker = new Worker(__PRELUDE + '\n' + code, { eval: true });
  const inbox = [];
  const takers = [];
  worker.onmessage = (event) => {
    if (takers.length) takers.shift()(event.data);
    else inbox.push(event.data);
  };
  worker.next = () => inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => takers.push(r));
  return worker;
}
// spawn() for a function's body: `spawnFn(() => { ... })`.
function spawnFn(f) { return spawn('(' + f + ')();'); }
// A worker that blocks in Atomics.wait(new Int32Array(buffer), index, value, timeout) and posts
// what it returned (read it with `worker.next()`).
function blocker(index, timeout, buffer = mem, value = 0) {
  const worker = spawnFn(() => {
    onmessage = (event) => {
      const { buffer, index, value, timeout } = event.data;
      postMessage(Atomics.wait(new Int32Array(buffer), index, value, timeout));
      close();
    };
  });
  worker.postMessage({ buffer, index, value, timeout });
  return worker;
}
// Whether a promise has settled yet (after letting pending jobs run).
async function settled(promise) {
  let state = false;
  promise.then(() => { state = true; }, () => { state = true; });
  await sleep(0);
  return state;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
if (agentsync.isMain) {
  const watches = new Map();
  globalThis.addEventListener('message', (event) => {
    const resolve = watches.get(event.data);
    if (resolve) { watches.delete(event.data); resolve(); }
  });
  // Resolves once `n` waiters are queued at byte `byteOffset` of `mem` (keeps the agent alive
  // with a timer meanwhile: the embedder's messages do not).
  globalThis.queued = function queued(byteOffset, n) {
    const key = `queued ${byteOffset} ${n}`;
    return new Promise((resolve) => {
      const keepAlive = setInterval(() => {}, 1000);
      watches.set(key, () => { clearInterval(keepAlive); resolve(); });
      print('@' + key);
    });
  };
}
"#;

/// What a run did.
#[derive(Debug)]
pub struct Run {
    /// `Host::run`'s result (or the first error of setup / eval).
    pub result: Result<(), JsError>,
    /// Lines written to stdout (`console.log`, `print`), without the helpers' request lines.
    pub out: Vec<String>,
    /// Lines written to stderr (`console.error`, `console.warn`).
    pub err: Vec<String>,
    /// The memory behind the global `mem`.
    pub mem: Arc<SharedMemory>,
}

impl Run {
    /// Panics, showing the error and the output, unless the run succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        if let Err(error) = &self.result {
            panic!(
                "run failed: {error}\nstdout: {:#?}\nstderr: {:#?}",
                self.out, self.err
            );
        }
        self
    }

    /// Panics unless the run succeeded and its last stdout line is `done`.
    #[track_caller]
    pub fn done(&self) -> &Self {
        self.ok();
        assert_eq!(
            self.out.last().map(String::as_str),
            Some("done"),
            "the script did not reach done(); stdout: {:#?}; stderr: {:#?}",
            self.out,
            self.err
        );
        self
    }

    /// The script error's message (panics if the run did not fail with one).
    #[track_caller]
    pub fn script_error(&self) -> agentsync_js::ScriptError {
        match &self.result {
            Err(JsError::Script(error)) => error.clone(),
            other => panic!(
                "expected a script error, got {other:?}; stdout: {:#?}",
                self.out
            ),
        }
    }
}

/// Options of one run.
pub struct Options {
    pub main_can_block: bool,
    pub args: Vec<String>,
    /// Prepend [`PRELUDE`] (and define `__PRELUDE`).
    pub prelude: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            main_can_block: false,
            args: Vec::new(),
            prelude: true,
        }
    }
}

/// Runs `source` in a fresh host (main agent cannot block).
pub fn run_js(source: &str) -> Run {
    run_with(Options::default(), source, |_, _| {})
}

/// Runs `source` in a fresh host whose main agent can block.
pub fn run_js_blocking(source: &str) -> Run {
    run_with(
        Options {
            main_can_block: true,
            ..Options::default()
        },
        source,
        |_, _| {},
    )
}

/// Runs `source` in a fresh host on a fresh thread. `setup` runs on the host's thread after the
/// script was evaluated and before the event loop, with the host and the memory of `mem` (to
/// start Rust threads that use the same memory, for example).
pub fn run_with(
    options: Options,
    source: &str,
    setup: impl FnOnce(&Host, &Arc<SharedMemory>) + Send + 'static,
) -> Run {
    let mem = SharedMemory::new(MEM_PAGES, MEM_PAGES).expect("shared memory");
    let source = if options.prelude {
        format!(
            "const __PRELUDE = {};\n{PRELUDE}\n{source}",
            json_string(PRELUDE)
        )
    } else {
        source.to_owned()
    };
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let handle_slot: Arc<OnceLock<HostHandle>> = Arc::new(OnceLock::new());
    let builder = {
        let (out, err, mem, slot) = (out.clone(), err.clone(), mem.clone(), handle_slot.clone());
        Host::builder()
            .main_can_block(options.main_can_block)
            .args(options.args)
            .on_output(move |stream, line| {
                match stream {
                    Stream::Stdout => {
                        if let Some(request) = line.strip_prefix("@queued ") {
                            watch(request, &mem, &slot);
                        } else {
                            out.lock().unwrap().push(line.to_owned());
                        }
                    }
                    Stream::Stderr => err.lock().unwrap().push(line.to_owned()),
                }
                Ok(())
            })
    };
    let result = run_guarded(builder, handle_slot, {
        let mem = mem.clone();
        move |host| {
            host.set_shared_memory("mem", &mem)?;
            host.eval("test.js", &source)?;
            setup(host, &mem);
            host.run()
        }
    });
    let out = std::mem::take(&mut *out.lock().unwrap());
    let err = std::mem::take(&mut *err.lock().unwrap());
    Run {
        result,
        out,
        err,
        mem,
    }
}

/// Builds a host from `builder` on a new thread and runs `body` there; if it takes longer than
/// [`GUARD`], terminates the host and panics.
pub fn run_guarded(
    builder: HostBuilder,
    slot: Arc<OnceLock<HostHandle>>,
    body: impl FnOnce(&Host) -> Result<(), JsError> + Send + 'static,
) -> Result<(), JsError> {
    let (done_tx, done_rx) = mpsc::channel();
    let thread = {
        let slot = slot.clone();
        thread::spawn(move || {
            let result = builder.build().and_then(|host| {
                let _ = slot.set(host.handle());
                let result = body(&host);
                drop(host);
                result
            });
            let _ = done_tx.send(result);
        })
    };
    match done_rx.recv_timeout(GUARD) {
        Ok(result) => {
            thread.join().expect("host thread");
            result
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if let Some(handle) = slot.get() {
                handle.terminate();
            }
            let ended = done_rx.recv_timeout(Duration::from_secs(5)).is_ok();
            panic!("the host did not finish within {GUARD:?} (terminated; ended after: {ended})");
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = thread
                .join()
                .expect_err("the host thread ended without a result");
            std::panic::resume_unwind(panic)
        }
    }
}

/// Starts a watcher for a `queued(byteOffset, n)` request.
fn watch(request: &str, mem: &Arc<SharedMemory>, slot: &Arc<OnceLock<HostHandle>>) {
    let mut parts = request
        .split(' ')
        .map(|p| p.parse::<usize>().expect("queued args"));
    let (offset, n) = (parts.next().unwrap(), parts.next().unwrap());
    let address = mem.as_ptr() as usize + offset;
    let handle = slot
        .get()
        .expect("the host handle is set before the script runs")
        .clone();
    let mem = mem.clone(); // keeps the address valid while we poll
    thread::spawn(move || {
        let deadline = Instant::now() + GUARD;
        while agentsync::waiter_count_addr(address) < n {
            if Instant::now() > deadline {
                return;
            }
            thread::sleep(Duration::from_micros(200));
        }
        drop(mem);
        handle.post_message(Message::text(format!("queued {offset} {n}")));
    });
}

/// Polls until `n` waiters are queued at byte `offset` of `mem` (panics after [`GUARD`]).
pub fn wait_for_waiters(mem: &SharedMemory, offset: usize, n: usize) {
    let address = mem.as_ptr() as usize + offset;
    let deadline = Instant::now() + GUARD;
    while agentsync::waiter_count_addr(address) < n {
        assert!(
            Instant::now() < deadline,
            "never saw {n} waiters at byte {offset}"
        );
        thread::sleep(Duration::from_micros(200));
    }
}

/// `s` as a JavaScript string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
