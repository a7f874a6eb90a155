//! One agent: a QuickJS-ng runtime on one thread, and its event loop.
//!
//! The loop runs microtasks, then one batch of macrotasks: messages and worker events from the
//! inbox, settled `waitAsync` promises, due timers (with microtasks after each), and sleeps
//! (`thread::park`) until a timer is due or another thread signals it. Other threads reach an
//! agent only through its [`Signal`]: they push to its inbox, mark a wait settled, or interrupt
//! it, then unpark its thread. No helper thread and no polling: a `waitAsync` promise is
//! settled because the futex woke the `Waker` of its `WaitFuture`, which marks it and unparks.

use slab::Slab;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{
    AtomicBool,
    Ordering::{AcqRel, Acquire, Release, SeqCst},
};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::Instant;

use agentsync::WaitResult;
use rquickjs::context::EvalOptions;
use rquickjs::{qjs, Context, Ctx, Function, Object, Persistent, Runtime, Value};

use crate::clone::Message;
use crate::error::{JsError, ScriptError};
use timers::Timers;

mod common;
mod compiled;
mod extension;
mod options;
pub(crate) mod ports;
pub(crate) mod resource;
pub(crate) mod timers;
mod waits;

pub(crate) use compiled::Compiled;
pub(crate) use extension::{Extension, Setup};
pub use options::Stream;
pub(crate) use options::{standard_streams, Options, Output, Sink};

use crate::sab;
pub(crate) use common::{directory_of, gc_function, now_ms, to_number};
pub(crate) use waits::{block_on_wait, result_string, settle_later, wait_async_result};
use waits::{Atoms, PendingWait, GC_THRESHOLD};

/// Locks, recovering from poisoning: no code of the host panics while it holds a lock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; recover from poisoning anyway.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What other threads send an agent.
pub(crate) enum Event {
    /// A message from the parent (`from` 0, or the embedder) or from worker `from`.
    Message { from: u64, message: Message },
    /// Worker `id` ended with an uncaught error.
    WorkerError { id: u64, error: ScriptError },
    /// Worker `id` has ended.
    WorkerExit { id: u64 },
    /// A message to the agent's message port `port` (see [`ports`]).
    PortMessage { port: u64, message: Message },
}

/// The part of an agent other threads can reach.
pub(crate) struct Signal {
    /// The agent's thread, to unpark.
    thread: OnceLock<Thread>,
    inbox: Mutex<VecDeque<Event>>,
    /// Ids of `waitAsync` futures whose waker ran.
    settled: Mutex<Vec<u64>>,
    /// Set by `terminate()` or by the host tearing the run down.
    interrupted: AtomicBool,
    /// A worker that can do nothing until a message arrives: no timer, no pending wait, an
    /// empty inbox, and every worker it started idle too (see `Agent::note_idle`). Cleared by
    /// every post. When the main agent has nothing left to do and every worker is idle, no
    /// agent can ever run again, and the run ends.
    idle: AtomicBool,
    /// Set by every wake before it unparks: what the loop watches while it spins before it
    /// parks (a hint only; the unpark is what a parked loop relies on).
    pending: AtomicBool,
}

impl Signal {
    pub(crate) fn new() -> Arc<Signal> {
        Arc::new(Signal {
            thread: OnceLock::new(),
            inbox: Mutex::new(VecDeque::new()),
            settled: Mutex::new(Vec::new()),
            interrupted: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            pending: AtomicBool::new(false),
        })
    }

    /// Records the agent's thread (once).
    pub(crate) fn bind(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    fn wake(&self) {
        self.pending.store(true, Release);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    pub(crate) fn post(&self, event: Event) {
        lock(&self.inbox).push_back(event);
        // SeqCst, after the push: an agent that marks itself idle re-reads the inbox after its
        // store, so either it sees this event or this store undoes its mark.
        self.idle.store(false, SeqCst);
        self.wake();
    }

    /// Whether the agent is an idle worker (see [`Signal::idle`]).
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(SeqCst)
    }

    /// Stops the agent: its script is interrupted, a blocking wait ends, its loop exits.
    pub(crate) fn interrupt(&self) {
        // SeqCst: pairs with the loads in the interrupt handler and in `block_on_wait`; the
        // unpark after it guarantees a parked agent sees it.
        self.interrupted.store(true, SeqCst);
        self.wake();
        extension::interrupted();
    }

    pub(crate) fn is_interrupted(&self) -> bool {
        self.interrupted.load(SeqCst)
    }
}

/// The current agent's slot of type `T`, made with `Default` on first use: an extension's
/// per-agent state, kept by the agent (as Deno's `OpState` keeps an extension's) and dropped
/// with it, before its runtime. `None` on a thread without an agent. The map is borrowed only
/// to find the slot, so an extension may hold its slot across calls into JavaScript.
pub(crate) fn slot<T: Default + 'static>() -> Option<Rc<T>> {
    with_local(|local| {
        let mut slots = local.slots.borrow_mut();
        let entry = slots
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Rc::new(T::default()) as Rc<dyn std::any::Any>);
        entry.clone().downcast::<T>().ok()
    })
    .flatten()
}

/// Ends the current agent's run with `status` once the running task returns: the agent runs
/// nothing more, and [`Agent::run`] returns [`JsError::Exit`] (for the main agent, the host's
/// run ends and every worker is stopped).
pub(crate) fn exit(status: i32) {
    with_local(|local| {
        local.exit_status.set(Some(status));
        local.closing.set(true);
    });
}

/// The getter of a `SharedArrayBuffer`'s byte length, as the prelude defines it.
const INTRINSIC_BYTE_LENGTH: &str =
    "Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength').get";
/// The getter of a typed array's length (the engine's, which follows a growing buffer).
const INTRINSIC_LENGTH: &str =
    "Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype), 'length').get";

/// The current length of the typed array `view` over the shared `buffer`: the buffer is first
/// brought up to the length any agent grew its block to, which also updates its length-tracking
/// views (J2). Used only when the engine's cached length is too short for an index.
pub(crate) fn current_length<'js>(
    ctx: &Ctx<'js>,
    view: &Value<'js>,
    buffer: &Value<'js>,
) -> rquickjs::Result<usize> {
    let getters = with_local(|local| local.intrinsics.borrow().clone())
        .flatten()
        .ok_or_else(|| rquickjs::Exception::throw_internal(ctx, "no agent on this thread"))?;
    let [byte_length, length] = getters;
    let byte_length = byte_length.restore(ctx)?;
    byte_length.call::<_, Value>((rquickjs::function::This(buffer.clone()),))?;
    let length = length.restore(ctx)?;
    let count: f64 = length.call((rquickjs::function::This(view.clone()),))?;
    Ok(count as usize)
}

/// A thrown value that is not an `Error` (`throw 5`) carries no stack, so no location: name at
/// least the script whose evaluation threw it.
fn located(error: JsError, file_name: &str) -> JsError {
    match error {
        JsError::Script(mut script) if script.location.is_none() => {
            script.location = Some(file_name.to_owned());
            JsError::Script(script)
        }
        other => other,
    }
}

/// How long an ending agent waits for its terminated workers' threads before it leaves the
/// ones still running (inside a long native call) to end on their own.
const TERMINATE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A worker this agent started.
pub(crate) struct Child {
    pub(crate) signal: Arc<Signal>,
    pub(crate) thread: Option<JoinHandle<()>>,
    /// Its exit event arrived, or it was terminated: it no longer keeps us alive.
    pub(crate) done: bool,
}

/// The agent's state, reachable from native functions through [`with_local`].
pub(crate) struct Local {
    /// `main`, or `worker N (…)`, for error messages.
    pub(crate) name: String,
    pub(crate) signal: Arc<Signal>,
    pub(crate) can_block: bool,
    pub(crate) options: Arc<Options>,
    /// Where relative worker paths and `agentsync.load` paths start.
    pub(crate) base_dir: RefCell<PathBuf>,
    /// The URL of the script the agent runs (see [`resource::location`]).
    pub(crate) location: RefCell<Option<url::Url>>,
    /// A worker's name (`new Worker(url, { name })`, its `self.name`).
    pub(crate) worker_name: RefCell<String>,
    /// Our parent's signal and our id there (workers only).
    pub(crate) parent: Option<(Arc<Signal>, u64)>,
    /// The pending `waitAsync`s, by id (a key of the slab). A notify of many settles them in
    /// the order they were made, which a slab keeps side by side in memory: with a hash map,
    /// finding each record was a cache miss (17 % of settling 400,000).
    waits: RefCell<Slab<PendingWait>>,
    /// `(deadline, id)` of each pending `waitAsync` with a finite timeout: its timeout job.
    wait_deadlines: RefCell<BTreeSet<(Instant, u64)>>,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) children: RefCell<HashMap<u64, Child>>,
    /// `close()` was called.
    pub(crate) closing: Cell<bool>,
    /// The program asked the host to end the run with this status (see [`exit`]).
    exit_status: Cell<Option<i32>>,
    /// A worker has a message handler (it keeps the worker alive).
    pub(crate) listening: Cell<bool>,
    /// Interned names for `Atomics.waitAsync` results.
    pub(crate) atoms: Atoms,
    /// The `SharedArrayBuffer.prototype.byteLength` getter (the prelude's, which brings the
    /// object up to the block's length) and `%TypedArray%.prototype.length` getter, taken
    /// before any script runs.
    intrinsics: RefCell<Option<[Persistent<Function<'static>>; 2]>>,
    /// Each extension's per-agent state, one value per type (see [`slot`]).
    slots: RefCell<HashMap<std::any::TypeId, Rc<dyn std::any::Any>>>,
    /// Promises rejected with no handler yet, with their reason.
    rejections: RefCell<Vec<(Persistent<Value<'static>>, ScriptError)>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

/// Runs `f` on the current agent's state; `None` outside an agent.
pub(crate) fn with_local<R>(f: impl FnOnce(&Rc<Local>) -> R) -> Option<R> {
    let local = CURRENT.with(|current| current.borrow().clone())?;
    Some(f(&local))
}

/// Whether the current agent may block in `Atomics.wait`.
pub(crate) fn can_block() -> bool {
    with_local(|local| local.can_block).unwrap_or(true)
}

/// Resolves `import` specifiers as file paths relative to the importing module's file.
struct RelativeResolver;

impl rquickjs::loader::Resolver for RelativeResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<rquickjs::loader::ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        // Keyed by the canonical path: `./a.mjs` and `../dir/a.mjs` (the same file) are one
        // module, evaluated once, as in every other module loader.
        let path = directory_of(std::path::Path::new(base)).join(name);
        match std::fs::canonicalize(&path) {
            Ok(path) if path.is_file() => Ok(path.display().to_string()),
            _ => Err(rquickjs::Error::new_resolving(base, name)),
        }
    }
}

/// The longest spin of an agent's loop before it parks: longer than a futex wait's, because
/// waking a parked agent costs more. On the 2-vCPU VMs we measured (AMD EPYC), a post to a
/// parked worker spent 15-30 µs in the poster's wake-up system call alone (an interrupt to an
/// idle virtual CPU), and the worker started its task 40-70 µs after the post; to a spinning
/// worker the post took 3-4 µs and the task started 12-18 µs after it (`bench/emscripten`'s
/// spawn.c, whose main thread hands each pthread to a pool worker and joins it).
const IDLE_SPIN_LONGEST: std::time::Duration = std::time::Duration::from_micros(50);

/// A runtime, its context and its state, on the current thread.
pub(crate) struct Agent {
    pub(crate) local: Rc<Local>,
    deliver: Option<Persistent<Function<'static>>>,
    pub(crate) context: Context,
    runtime: Runtime,
    /// How long this agent's loop spins before it parks ([`agentsync::spin::Adaptive`]).
    idle_spin: agentsync::spin::Adaptive,
}

impl Agent {
    /// Sets up an agent on this thread.
    pub(crate) fn new(
        name: String,
        signal: Arc<Signal>,
        parent: Option<(Arc<Signal>, u64)>,
        options: Arc<Options>,
        is_main: bool,
        base_dir: PathBuf,
    ) -> Result<Agent, JsError> {
        if CURRENT.with(|c| c.borrow().is_some()) {
            return Err(JsError::AgentOnThread);
        }
        signal.bind(thread::current());
        let engine = |e: rquickjs::Error| JsError::Engine(e.to_string());
        let runtime = Runtime::new().map_err(engine)?;
        let context = Context::full(&runtime).map_err(engine)?;
        let can_block = !is_main || options.main_can_block;
        let atoms = context.with(|ctx| Atoms::new(&ctx));
        if options.engine_atomics {
            // The engine's own `Atomics.wait` asks the runtime whether it may block.
            // SAFETY: the runtime of a live context.
            context.with(|ctx| unsafe {
                qjs::JS_SetCanBlock(qjs::JS_GetRuntime(ctx.as_raw().as_ptr()), can_block)
            });
        }
        let local = Rc::new(Local {
            name,
            signal: signal.clone(),
            can_block,
            options,
            base_dir: RefCell::new(base_dir),
            location: RefCell::new(None),
            worker_name: RefCell::new(String::new()),
            parent,
            waits: RefCell::new(Slab::new()),
            wait_deadlines: RefCell::new(BTreeSet::new()),
            timers: RefCell::new(Timers::default()),
            children: RefCell::new(HashMap::new()),
            closing: Cell::new(false),
            exit_status: Cell::new(None),
            listening: Cell::new(false),
            atoms,
            intrinsics: RefCell::new(None),
            slots: RefCell::new(HashMap::new()),
            rejections: RefCell::new(Vec::new()),
        });
        // QuickJS-ng collects cycles whenever allocation passes a threshold, scanning every
        // object each time; with the default (256 KiB) a script holding 100,000 pending
        // promises spends most of its time there. A larger threshold collects less often.
        runtime.set_gc_threshold(GC_THRESHOLD);
        // `import` in module scripts: paths relative to the importing module, `.js` / `.mjs`.
        runtime.set_loader(
            RelativeResolver,
            rquickjs::loader::ScriptLoader::default().with_extension("mjs"),
        );
        let interrupt = signal.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || interrupt.is_interrupted())));
        let tracked = Rc::downgrade(&local);
        runtime.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx, promise, reason, handled| {
                let Some(local) = tracked.upgrade() else {
                    return;
                };
                let mut rejections = local.rejections.borrow_mut();
                if handled {
                    rejections.retain(|(p, _)| {
                        p.clone()
                            .restore(&ctx)
                            .map(|p| p != promise)
                            .unwrap_or(false)
                    });
                } else {
                    let error = ScriptError::from_value(&reason, &local.name);
                    rejections.push((Persistent::save(&ctx, promise), error));
                }
            },
        )));
        CURRENT.with(|c| *c.borrow_mut() = Some(local.clone()));
        let mut agent = Agent {
            local,
            deliver: None,
            context,
            runtime,
            idle_spin: agentsync::spin::Adaptive::with_longest(IDLE_SPIN_LONGEST),
        };
        let name = agent.local.name.clone();
        let deliver = agent.context.with(|ctx| -> Result<_, ScriptError> {
            let catch = |_| ScriptError::catch(&ctx, &name);
            sab::install(&ctx);
            // The native object the prelude builds on; each extension adds its natives.
            let host = Object::new(ctx.clone()).map_err(catch)?;
            let setup = Setup {
                is_main,
                engine_atomics: agent.local.options.engine_atomics,
            };
            for extension in agent.local.options.extensions {
                extension::register(extension);
                (extension.install)(&ctx, &host, &setup).map_err(|e| {
                    let mut error = catch(e);
                    error.message = format!("{} (installing {})", error.message, extension.name);
                    error
                })?;
            }
            static PRELUDE: Compiled =
                Compiled::new("<agentsync prelude>", include_str!("../prelude.js"));
            let prelude: Function = PRELUDE.eval(&ctx).map_err(catch)?;
            let deliver: Function = prelude.call((host, is_main)).map_err(catch)?;
            let getters: [Function; 2] = [
                ctx.eval(INTRINSIC_BYTE_LENGTH).map_err(catch)?,
                ctx.eval(INTRINSIC_LENGTH).map_err(catch)?,
            ];
            *agent.local.intrinsics.borrow_mut() =
                Some(getters.map(|getter| Persistent::save(&ctx, getter)));
            Ok(Persistent::save(&ctx, deliver))
        });
        agent.deliver = Some(deliver.map_err(JsError::Script)?);
        Ok(agent)
    }

    /// Sets the agent's location (its script's URL) and a worker's name.
    pub(crate) fn set_identity(&self, location: Option<url::Url>, name: String) {
        *self.local.location.borrow_mut() = location;
        *self.local.worker_name.borrow_mut() = name;
    }

    /// Evaluates a classic script.
    pub(crate) fn eval(&self, file_name: &str, source: &str) -> Result<(), JsError> {
        self.context.with(|ctx| {
            eval_script(&ctx, source, file_name)
                .map(drop)
                .map_err(|_| located(self.uncaught(&ctx), file_name))
        })
    }

    /// Evaluates a module script; its top-level `await` and an exception it throws surface
    /// through the event loop (as an unhandled rejection).
    pub(crate) fn eval_module(&self, name: &str, source: &str) -> Result<(), JsError> {
        self.context.with(|ctx| {
            rquickjs::Module::evaluate(ctx.clone(), name, source)
                .map(drop)
                .map_err(|_| self.uncaught(&ctx))
        })
    }

    /// The pending exception, or the output failure that caused it.
    fn uncaught(&self, ctx: &Ctx<'_>) -> JsError {
        let error = ScriptError::catch(ctx, &self.local.name);
        match self.local.options.output.take_error() {
            Some(io) => JsError::Output(io),
            None => JsError::Script(error),
        }
    }

    /// Runs the event loop until the agent has nothing left to do, is closed or interrupted.
    pub(crate) fn run(&self) -> Result<(), JsError> {
        loop {
            // Cleared before the loop looks for work: a wake from here on shows in the spin.
            self.local.signal.pending.swap(false, AcqRel);
            self.microtasks()?;
            if self.stopping() {
                return match self.local.exit_status.get() {
                    Some(status) => Err(JsError::Exit(status)),
                    None => Ok(()),
                };
            }
            if self.macrotasks()? {
                continue;
            }
            if !self.alive() {
                self.warn_pending_waits();
                return Ok(());
            }
            if self.note_idle() {
                continue;
            }
            let timer = self.local.timers.borrow().next_due();
            let wait = self
                .local
                .wait_deadlines
                .borrow()
                .first()
                .map(|(due, _)| *due);
            let due = timer.into_iter().chain(wait).min();
            // A message, a settled wait or a stop often comes within microseconds (a worker
            // answering, a pthread handed its next task): spin for the adaptive window first,
            // which costs no sleep and no wake-up when it catches one.
            let limit = due.map(|due| due.saturating_duration_since(Instant::now()));
            let signal = &self.local.signal;
            if self
                .idle_spin
                .spin_until(limit, || signal.pending.load(Acquire))
            {
                continue;
            }
            match due {
                Some(due) => thread::park_timeout(due.saturating_duration_since(Instant::now())),
                None => thread::park(),
            }
        }
    }

    /// Runs every pending job; an exception in one is uncaught. Then reports a rejection
    /// nobody handled.
    fn microtasks(&self) -> Result<(), JsError> {
        self.context.with(|ctx| {
            loop {
                let mut job_ctx = std::ptr::null_mut();
                // SAFETY: the runtime is live and ours; `job_ctx` is a valid out-place.
                let status = unsafe {
                    qjs::JS_ExecutePendingJob(
                        qjs::JS_GetRuntime(ctx.as_raw().as_ptr()),
                        &mut job_ctx,
                    )
                };
                match status {
                    0 => break,
                    s if s < 0 => return Err(self.uncaught(&ctx)),
                    _ => {}
                }
            }
            let first = self.local.rejections.borrow_mut().drain(..).next();
            match first {
                Some((_, error)) => Err(self.local.options.output.take_error().map_or(
                    JsError::Script(ScriptError {
                        message: format!("(in promise) {}", error.message),
                        ..error
                    }),
                    JsError::Output,
                )),
                None => Ok(()),
            }
        })
    }

    /// Runs one batch of macrotasks; returns whether there was any.
    fn macrotasks(&self) -> Result<bool, JsError> {
        let mut ran = false;
        let events: Vec<Event> = lock(&self.local.signal.inbox).drain(..).collect();
        for event in events {
            if self.stopping() {
                return Ok(true);
            }
            ran = true;
            self.dispatch(event)?;
            self.microtasks()?;
        }
        // Every settled wait is resolved in one task, then one microtask checkpoint: a notify
        // of many waiters costs one pass, not one per waiter.
        let settled: Vec<u64> = std::mem::take(&mut *lock(&self.local.signal.settled));
        if !settled.is_empty() && !self.stopping() {
            let results: Vec<_> = settled
                .into_iter()
                .filter_map(|id| self.poll_wait(id))
                .collect();
            ran |= self.resolve_waits(results)?;
        }
        let now = Instant::now();
        // The timeout jobs of waits whose deadline passed (J1), in one task.
        if !self.stopping() {
            let expired = self.expire_waits(now);
            ran |= self.resolve_waits(expired)?;
        }
        loop {
            if self.stopping() {
                return Ok(true);
            }
            let due = self.local.timers.borrow_mut().pop_due(now);
            let Some(timer) = due else { break };
            ran = true;
            self.context
                .with(|ctx| timers::fire(&ctx, &self.local, timer))
                .map_err(|_| self.context.with(|ctx| self.uncaught(&ctx)))?;
            self.microtasks()?;
        }
        Ok(ran)
    }

    /// `close()` was called or the agent was interrupted: run nothing more.
    fn stopping(&self) -> bool {
        self.local.closing.get() || self.local.signal.is_interrupted()
    }

    /// Wait `id`'s result and resolve function, if it settled. Its future was polled once,
    /// when it was made, with the waker that named `id`, which it keeps: reading its result is
    /// enough. (A stale id, whose key a newer wait holds now, reads that wait's result, which
    /// is `None` unless it did settle.)
    fn poll_wait(&self, id: u64) -> Option<(WaitResult, Persistent<Function<'static>>)> {
        let mut waits = self.local.waits.borrow_mut();
        let result = waits.get(id as usize)?.future.result()?;
        let pending = waits.remove(id as usize);
        if let Some(deadline) = pending.deadline {
            self.local
                .wait_deadlines
                .borrow_mut()
                .remove(&(deadline, id));
        }
        Some((result, pending.resolve))
    }

    /// Runs the timeout jobs due at `now`: each takes its waiter off the list, unless a notify
    /// took it first (then the result is `ok`, J1).
    fn expire_waits(&self, now: Instant) -> Vec<(WaitResult, Persistent<Function<'static>>)> {
        let mut expired = Vec::new();
        loop {
            let due = {
                let mut deadlines = self.local.wait_deadlines.borrow_mut();
                match deadlines.first() {
                    Some(&(deadline, id)) if deadline <= now => {
                        deadlines.pop_first();
                        id
                    }
                    _ => break,
                }
            };
            let Some(pending) = self.local.waits.borrow_mut().try_remove(due as usize) else {
                continue;
            };
            let result = pending.future.cancel().unwrap_or(WaitResult::TimedOut);
            expired.push((result, pending.resolve));
        }
        expired
    }

    /// Resolves each promise with its result, in one task; whether there was any.
    fn resolve_waits(
        &self,
        results: Vec<(WaitResult, Persistent<Function<'static>>)>,
    ) -> Result<bool, JsError> {
        if results.is_empty() {
            return Ok(false);
        }
        self.context.with(|ctx| {
            let raw = ctx.as_raw().as_ptr();
            let string = |result| result_string(&ctx, result).map_err(|_| self.uncaught(&ctx));
            let [ok, not_equal, timed_out] = [
                string(WaitResult::Ok)?,
                string(WaitResult::NotEqual)?,
                string(WaitResult::TimedOut)?,
            ];
            for (result, resolve) in results {
                let resolve = resolve.restore(&ctx).map_err(|_| self.uncaught(&ctx))?;
                let value = match result {
                    WaitResult::Ok => &ok,
                    WaitResult::NotEqual => &not_equal,
                    WaitResult::TimedOut => &timed_out,
                };
                // The resolve function, called directly (rquickjs' call builds an argument
                // list per call): it takes its argument by reference and returns undefined.
                let mut argument = value.as_raw();
                // SAFETY: a live context, a function value of it, one live argument.
                let returned = unsafe {
                    qjs::JS_Call(raw, resolve.as_raw(), qjs::JS_UNDEFINED, 1, &mut argument)
                };
                // SAFETY: an owned value (or the exception marker), freed on drop.
                let returned = unsafe { Value::from_raw(ctx.clone(), returned) };
                if returned.is_exception() {
                    return Err(self.uncaught(&ctx));
                }
            }
            Ok::<_, JsError>(())
        })?;
        self.microtasks()?;
        Ok(true)
    }

    /// Whether a pending `waitAsync` keeps the agent alive (J3).
    ///
    /// A worker's always do (its parent may notify them; node's workers under our shim behave
    /// the same). On the main agent, which is asked only once no worker is alive: one with a
    /// timeout job, one already settled, or one on a buffer that Rust code outside the JS host
    /// holds (an embedder's memory, a Wasm memory), which may still notify it. An untimed wait
    /// on a buffer only agents hold does not: no agent is left that could notify it.
    ///
    /// The order of the checks matters: who holds the buffers is read first. A Rust thread
    /// that notifies and then drops its memory is either still seen holding it, or was seen
    /// letting go, and then (through the acquire in `any_held_outside`) its notify is seen by
    /// the checks after: the settled list and each wait's result. Reading the results first
    /// could miss a notify that lands right after, and then miss the holder too.
    fn waits_keep_alive(&self) -> bool {
        let local = &self.local;
        if !local.wait_deadlines.borrow().is_empty() {
            return true;
        }
        let waits = local.waits.borrow();
        if local.parent.is_some() {
            return !waits.is_empty() || !lock(&local.signal.settled).is_empty();
        }
        sab::any_held_outside(waits.iter().map(|(_, p)| p.base))
            || !lock(&local.signal.settled).is_empty()
            || waits.iter().any(|(_, p)| p.future.result().is_some())
    }

    /// The main agent ends with untimed waits nobody can notify: says so on stderr, as the
    /// program ends with status 0 (as node ends it).
    fn warn_pending_waits(&self) {
        let pending = self.local.waits.borrow().len();
        if pending == 0 || self.local.parent.is_some() {
            return;
        }
        let plural = if pending == 1 { "" } else { "s" };
        let _ = self.local.options.output.write(
            Stream::Stderr,
            &format!(
                "warning: the program ended with {pending} Atomics.waitAsync call{plural} \
                 still pending that no agent can notify any more"
            ),
        );
    }

    /// Delivers a message (`kind` "message" from worker or parent `from`, or "port" to port
    /// `from`), claiming the ports it carries for this agent.
    fn deliver_message(
        &self,
        deliver: &Persistent<Function<'static>>,
        kind: &str,
        from: u64,
        mut message: Message,
    ) -> Result<(), JsError> {
        let ports = message.take_ports();
        for port in &ports {
            ports::claim(&self.local.signal, *port);
        }
        self.context.with(|ctx| {
            let deliver = deliver
                .clone()
                .restore(&ctx)
                .map_err(|_| self.uncaught(&ctx))?;
            let data =
                crate::clone::deserialize(&ctx, &message).map_err(|_| self.uncaught(&ctx))?;
            drop(message);
            let ports: Vec<f64> = ports.iter().map(|p| *p as f64).collect();
            deliver
                .call::<_, bool>((kind, from as f64, data, ports))
                .map(drop)
                .map_err(|_| self.uncaught(&ctx))
        })
    }

    fn dispatch(&self, event: Event) -> Result<(), JsError> {
        let Some(deliver) = self.deliver.clone() else {
            return Ok(());
        };
        match event {
            Event::Message { from, message } => {
                self.deliver_message(&deliver, "message", from, message)
            }
            Event::PortMessage { port, message } => {
                self.deliver_message(&deliver, "port", port, message)
            }
            Event::WorkerError { id, error } => {
                if let Some(io) = self.local.options.output.take_error() {
                    return Err(JsError::Output(io));
                }
                let handled = self.context.with(|ctx| {
                    let deliver = deliver.restore(&ctx).map_err(|_| self.uncaught(&ctx))?;
                    let data = error_event_data(&ctx, &error).map_err(|_| self.uncaught(&ctx))?;
                    deliver
                        .call::<_, bool>(("error", id as f64, data))
                        .map_err(|_| self.uncaught(&ctx))
                })?;
                if handled {
                    Ok(())
                } else {
                    Err(JsError::Script(error))
                }
            }
            Event::WorkerExit { id } => {
                // The worker's thread has ended (this is its last event): join it and forget
                // the worker, so that starting and ending workers in a loop uses no memory.
                let child = self.local.children.borrow_mut().remove(&id);
                if let Some(thread) = child.and_then(|c| c.thread) {
                    let _ = thread.join();
                }
                self.context.with(|ctx| {
                    let deliver = deliver.restore(&ctx).map_err(|_| self.uncaught(&ctx))?;
                    deliver
                        .call::<_, bool>(("exit", id as f64))
                        .map(drop)
                        .map_err(|_| self.uncaught(&ctx))
                })
            }
        }
    }

    /// Whether anything can still happen: a timer, a pending `waitAsync`, a live worker, or (in
    /// a worker) a message handler.
    /// Before a worker parks: marks it idle, or not (see [`Signal::idle`]), and on becoming
    /// idle wakes its parent, which may now find every worker idle. Returns whether an event
    /// arrived meanwhile (run the loop again).
    fn note_idle(&self) -> bool {
        let local = &self.local;
        let Some((parent, _)) = &local.parent else {
            return false;
        };
        let idle = local.timers.borrow().is_empty()
            && !self.waits_keep_alive()
            && local
                .children
                .borrow()
                .values()
                .all(|c| c.done || c.signal.is_idle());
        if !idle {
            local.signal.idle.store(false, SeqCst);
            return false;
        }
        if local.signal.idle.swap(true, SeqCst) {
            return false;
        }
        if !lock(&local.signal.inbox).is_empty() {
            local.signal.idle.store(false, SeqCst);
            return true;
        }
        parent.wake();
        false
    }

    fn alive(&self) -> bool {
        let local = &self.local;
        // The main agent is not kept alive by idle workers: nothing could ever wake them.
        let is_main = local.parent.is_none();
        !local.timers.borrow().is_empty()
            || local
                .children
                .borrow()
                .values()
                .any(|c| !(c.done || (is_main && c.signal.is_idle())))
            || (local.parent.is_some() && local.listening.get())
            || !lock(&local.signal.inbox).is_empty()
            || self.waits_keep_alive()
    }

    /// Stops every worker this agent started and waits for their threads; drops the pending
    /// waits and timers.
    pub(crate) fn teardown(&self) {
        let children: Vec<Child> = self
            .local
            .children
            .borrow_mut()
            .drain()
            .map(|(_, c)| c)
            .collect();
        for child in &children {
            child.signal.interrupt();
        }
        // A worker stops at its next interrupt check, but the engine checks only every so many
        // operations: one inside a long native call ("ab".repeat(2e6).split("") in a loop) can
        // take minutes. Wait a bounded time, then leave it to end on its own (the process's
        // exit ends it, with everything it holds), so that this agent's run ends now.
        let deadline = Instant::now() + TERMINATE_GRACE;
        for child in children {
            if let Some(thread) = child.thread {
                while !thread.is_finished() && Instant::now() < deadline {
                    thread::sleep(std::time::Duration::from_millis(1));
                }
                if thread.is_finished() {
                    let _ = thread.join();
                }
            }
        }
        self.local.waits.borrow_mut().clear();
        self.local.wait_deadlines.borrow_mut().clear();
        self.local.timers.borrow_mut().clear();
        self.local.rejections.borrow_mut().clear();
        lock(&self.local.signal.inbox).clear();
    }

    /// Runs `f` with the context.
    pub(crate) fn with<R>(&self, f: impl for<'js> FnOnce(Ctx<'js>) -> R) -> R {
        self.context.with(f)
    }

    /// Runs the engine's garbage collector.
    pub(crate) fn gc(&self) {
        self.runtime.run_gc();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.teardown();
        self.deliver = None;
        self.context.with(|ctx| self.local.atoms.free(&ctx));
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// The data of a worker's `error` event.
fn error_event_data<'js>(ctx: &Ctx<'js>, error: &ScriptError) -> rquickjs::Result<Object<'js>> {
    let data = Object::new(ctx.clone())?;
    data.set("message", format!("Uncaught {}", error.message))?;
    let (file, line, column) = split_location(error.location.as_deref());
    data.set("filename", file)?;
    data.set("lineno", line)?;
    data.set("colno", column)?;
    let (name, message) = error
        .message
        .split_once(": ")
        .unwrap_or(("Error", error.message.as_str()));
    let value: Object = ctx
        .globals()
        .get::<_, Function>("Error")?
        .call((message,))?;
    value.set("name", name)?;
    value.set("stack", error.stack.as_str())?;
    data.set("error", value)?;
    Ok(data)
}

fn split_location(location: Option<&str>) -> (String, u32, u32) {
    let Some(location) = location else {
        return (String::new(), 0, 0);
    };
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    (parts.next().unwrap_or("").to_owned(), line, column)
}

/// Classic-script evaluation options with a file name.
/// Evaluates `source` as a classic script named `file_name`; its completion value.
///
/// The source goes to the engine by length, not as a C string: a raw NUL character inside a
/// string literal is valid JavaScript, and a C string would end the script there (rquickjs's
/// own `eval` refuses such a source with an internal error and no location).
pub(crate) fn eval_script<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    file_name: &str,
) -> rquickjs::Result<Value<'js>> {
    let mut bytes = Vec::with_capacity(source.len() + 1);
    bytes.extend_from_slice(source.as_bytes());
    // The engine reads up to the length, and wants a NUL after it.
    bytes.push(0);
    let name = std::ffi::CString::new(file_name.replace('\0', "\u{fffd}"))
        .unwrap_or_else(|_| c"<script>".to_owned());
    // SAFETY:
    // - `ctx` is a live context of this thread;
    // - `bytes` holds `source.len()` bytes followed by a NUL, and outlives the call;
    // - `name` is a NUL-terminated string that outlives the call.
    let raw = unsafe {
        qjs::JS_Eval(
            ctx.as_raw().as_ptr(),
            bytes.as_ptr().cast(),
            source.len() as _,
            name.as_ptr(),
            qjs::JS_EVAL_TYPE_GLOBAL as i32,
        )
    };
    // SAFETY: a fresh value (or the exception marker) that we own.
    let value = unsafe { Value::from_raw(ctx.clone(), raw) };
    if value.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    Ok(value)
}

pub(crate) fn options(file_name: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = false;
    options.promise = false;
    options.filename = Some(file_name.to_owned());
    options
}
