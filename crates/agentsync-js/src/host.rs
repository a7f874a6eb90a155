//! The embedding API: a main agent on the caller's thread.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentsync::memory::SharedMemory;
use rquickjs::{qjs, Value};

use crate::agent::directory_of;
pub use crate::agent::Stream;
use crate::agent::{standard_streams, Agent, Event, Options, Output, Signal, Sink};
use crate::clone::Message;
use crate::error::JsError;
use crate::sab;

/// Configures a [`Host`].
pub struct HostBuilder {
    main_can_block: bool,
    engine_atomics: bool,
    args: Vec<String>,
    allow_read: Vec<PathBuf>,
    sink: Box<Sink>,
}

impl std::fmt::Debug for HostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBuilder")
            .field("main_can_block", &self.main_can_block)
            .field("engine_atomics", &self.engine_atomics)
            .field("args", &self.args)
            .field("allow_read", &self.allow_read)
            .finish_non_exhaustive()
    }
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            main_can_block: false,
            engine_atomics: false,
            args: Vec::new(),
            allow_read: Vec::new(),
            sink: Box::new(standard_streams),
        }
    }
}

impl HostBuilder {
    /// Lets the main agent block in `Atomics.wait`, as Node.js does (default: it cannot, as on
    /// the web, and `Atomics.wait` there is a `TypeError`).
    pub fn main_can_block(mut self, can_block: bool) -> Self {
        self.main_can_block = can_block;
        self
    }

    /// Keeps QuickJS-ng's own `Atomics.wait` / `notify` (one global waiter list, no
    /// `waitAsync`) instead of agentsync's: for comparing the two.
    pub fn engine_atomics(mut self, engine: bool) -> Self {
        self.engine_atomics = engine;
        self
    }

    /// The script's arguments, `agentsync.args` in every agent.
    pub fn args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }

    /// Lets `fetch`, `XMLHttpRequest` and `importScripts` read files under `dir` too (by
    /// default only under the main script's directory, or the base directory for inline code).
    pub fn allow_read(mut self, dir: impl Into<PathBuf>) -> Self {
        self.allow_read.push(dir.into());
        self
    }

    /// Sends console output, one line a call, to `sink` instead of stdout / stderr. An error
    /// it returns is thrown into the script and ends the run as [`JsError::Output`].
    pub fn on_output(
        mut self,
        sink: impl Fn(Stream, &str) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.sink = Box::new(sink);
        self
    }

    /// Starts the main agent on this thread.
    ///
    /// # Errors
    /// [`JsError::AgentOnThread`] if this thread already runs one; [`JsError::Engine`] if the
    /// engine cannot start; [`JsError::Read`] for an `allow_read` directory that does not exist.
    pub fn build(self) -> Result<Host, JsError> {
        let mut read_scope = Vec::with_capacity(self.allow_read.len());
        for dir in self.allow_read {
            let canonical = std::fs::canonicalize(&dir)
                .map_err(|source| JsError::Read { path: dir, source })?;
            read_scope.push(canonical);
        }
        let options = Arc::new(Options {
            main_can_block: self.main_can_block,
            engine_atomics: self.engine_atomics,
            args: self.args,
            output: Output::new(self.sink),
            read_scope: std::sync::Mutex::new(read_scope),
            extensions: crate::extensions::ALL,
        });
        let signal = Signal::new();
        let main_can_block = options.main_can_block;
        let agent = Agent::new(
            "main".into(),
            signal.clone(),
            None,
            options,
            true,
            ".".into(),
        )?;
        // The thread's agentsync can-block flag follows the main agent's, so a guest's
        // `memory.atomic.wait32/64` here fails as `Atomics.wait` does; restored on drop.
        let restore_can_block = agentsync::agent::set_can_block(main_can_block);
        Ok(Host {
            agent,
            signal,
            restore_can_block,
        })
    }
}

/// An uncaught exit request of the main agent is the run's end with its status.
fn exit_request(error: JsError) -> JsError {
    match error {
        JsError::Script(script) => match script.exit_status {
            Some(status) => JsError::Exit(status),
            None => JsError::Script(script),
        },
        other => other,
    }
}

/// A JavaScript host: the main agent, on the thread that made it, and the workers it starts.
///
/// ```
/// use agentsync::memory::{Atomics, Int32Array, SharedMemory};
///
/// let memory = SharedMemory::new(1, 1)?;
/// let host = agentsync_js::Host::builder().on_output(|_, _| Ok(())).build()?;
/// host.set_shared_memory("shared", &memory)?;
/// host.eval("example.js", "Atomics.store(new Int32Array(shared), 1, 42)")?;
/// host.run()?;
/// assert_eq!(Atomics::load(&Int32Array::new(&memory), 1)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Host {
    agent: Agent,
    signal: Arc<Signal>,
    /// The thread's agentsync can-block flag before the host set it.
    restore_can_block: bool,
}

impl Drop for Host {
    fn drop(&mut self) {
        agentsync::agent::set_can_block(self.restore_can_block);
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    /// A host with the default options (the main agent cannot block; output to stdout).
    ///
    /// # Errors
    /// As [`HostBuilder::build`].
    pub fn new() -> Result<Host, JsError> {
        HostBuilder::default().build()
    }

    /// Configures a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Makes `memory` the global `name`, a `SharedArrayBuffer` over the same bytes.
    ///
    /// # Errors
    /// [`JsError::Script`] if the engine refuses (out of memory).
    pub fn set_shared_memory(&self, name: &str, memory: &Arc<SharedMemory>) -> Result<(), JsError> {
        self.agent.with(|ctx| {
            sab::wrap(&ctx, memory)
                .and_then(|buffer| ctx.globals().set(name, buffer))
                .map_err(|_| JsError::Script(crate::error::ScriptError::catch(&ctx, "main")))
        })
    }

    /// The memory behind the global `name`: a `SharedArrayBuffer`, or a view over one.
    pub fn shared_memory(&self, name: &str) -> Option<Arc<SharedMemory>> {
        self.agent.with(|ctx| {
            let value: Value = ctx.globals().get(name).ok()?;
            let object = value.as_object()?;
            let buffer: Value = match object.get::<_, Value>("buffer") {
                Ok(buffer) if buffer.is_object() => buffer,
                _ => value.clone(),
            };
            let mut size = 0;
            // SAFETY: a live value of this context; the size out-pointer is valid.
            let data = unsafe {
                qjs::JS_GetArrayBuffer(ctx.as_raw().as_ptr(), &mut size, buffer.as_raw())
            };
            if data.is_null() {
                ctx.catch();
                return None;
            }
            sab::memory_at(data)
        })
    }

    /// Evaluates a classic script on the main agent (its workers start; its promises and timers
    /// run in [`run`](Self::run)).
    ///
    /// # Errors
    /// [`JsError::Script`] for a syntax error or an uncaught exception.
    pub fn eval(&self, file_name: &str, source: &str) -> Result<(), JsError> {
        self.agent
            .eval(file_name, source)
            .map_err(exit_request)
            .inspect_err(|_| self.agent.teardown())
    }

    /// Evaluates a module script on the main agent; `import` paths are relative to `name`.
    ///
    /// # Errors
    /// [`JsError::Script`] for a syntax error or a failed import; an exception the module
    /// throws (or a rejected top-level `await`) ends [`run`](Self::run).
    pub fn eval_module(&self, name: &str, source: &str) -> Result<(), JsError> {
        self.agent
            .eval_module(name, source)
            .map_err(exit_request)
            .inspect_err(|_| self.agent.teardown())
    }

    /// Runs `path` as a classic script (a module if it ends in `.mjs`) on the main agent, then the event loop until nothing is
    /// left to do and no worker is alive. Worker paths are relative to the script's directory.
    ///
    /// # Errors
    /// [`JsError::Read`], or as [`eval`](Self::eval) and [`run`](Self::run).
    pub fn run_file(&self, path: &Path) -> Result<(), JsError> {
        let source = std::fs::read_to_string(path).map_err(|source| JsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = directory_of(path);
        if let Ok(canonical) = std::fs::canonicalize(&dir) {
            let mut scope = crate::agent::lock(&self.agent.local.options.read_scope);
            if !scope.contains(&canonical) {
                scope.push(canonical);
            }
        }
        *self.agent.local.base_dir.borrow_mut() = dir;
        *self.agent.local.location.borrow_mut() = crate::agent::resource::file_url(path);
        let name = path.display().to_string();
        if path.extension().is_some_and(|e| e == "mjs") {
            // Modules are keyed by canonical path (see the resolver), the first one too, so that
            // a module importing itself, or the entry under another name, is not run twice.
            let canonical = std::fs::canonicalize(path).map_or(name, |p| p.display().to_string());
            self.eval_module(&canonical, &source)?;
        } else {
            self.eval(&name, &source)?;
        }
        self.run()
    }

    /// Sets the directory that `new Worker(path)` and `agentsync.load` resolve from (for
    /// scripts given to [`eval`](Self::eval)).
    pub fn set_base_dir(&self, dir: PathBuf) {
        *self.agent.local.base_dir.borrow_mut() = dir;
    }

    /// Runs the event loop until the main agent has nothing left to do and no worker is alive.
    /// On an error every worker is stopped before it returns.
    ///
    /// # Errors
    /// [`JsError::Script`] for an uncaught exception or unhandled rejection in the main agent,
    /// or in a worker without an `onerror` handler; [`JsError::Output`] if console output
    /// failed.
    pub fn run(&self) -> Result<(), JsError> {
        self.agent
            .run()
            .map_err(exit_request)
            .inspect_err(|_| self.agent.teardown())
    }

    /// A handle other threads can use to reach the main agent.
    pub fn handle(&self) -> HostHandle {
        HostHandle {
            signal: self.signal.clone(),
        }
    }

    /// Runs the main agent's garbage collector.
    pub fn gc(&self) {
        self.agent.gc();
    }

    /// Runs `f` with the main agent's context: the hook through which in-crate extensions
    /// (test262's `$262`) define native globals and evaluate code their own way.
    pub(crate) fn with_context<R>(&self, f: impl for<'js> FnOnce(rquickjs::Ctx<'js>) -> R) -> R {
        self.agent.with(f)
    }
}

/// Reaches a [`Host`]'s main agent from any thread.
#[derive(Clone)]
pub struct HostHandle {
    signal: Arc<Signal>,
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle").finish_non_exhaustive()
    }
}

impl HostHandle {
    /// Delivers `message` as a `message` event on the main agent's global (`onmessage`).
    pub fn post_message(&self, message: Message) {
        self.signal.post(Event::Message { from: 0, message });
    }

    /// Stops the main agent: its script is interrupted, a blocking wait ends, and
    /// [`Host::run`] returns.
    pub fn terminate(&self) {
        self.signal.interrupt();
    }
}
