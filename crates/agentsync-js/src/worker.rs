//! Web Workers: each an agent on its own OS thread with its own runtime and event loop.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

use rquickjs::{Ctx, Exception, Function, Object, Value};

use crate::agent::directory_of;
use crate::agent::{with_local, Agent, Child, Event, Extension, Local, Options, Signal};
use crate::clone;
use crate::error::{JsError, ScriptError};

/// Workers and messaging: `new Worker`, `postMessage`, `terminate`, `close`, and structured
/// clone; the natives the prelude builds `Worker`, `postMessage` and `structuredClone` on.
pub(crate) const EXTENSION: Extension = Extension {
    name: "worker",
    install: |ctx, host, _setup| install(ctx, host),
    in_realms: false,
    on_interrupt: None,
};

fn local(ctx: &Ctx<'_>) -> rquickjs::Result<Rc<Local>> {
    with_local(Rc::clone).ok_or_else(|| Exception::throw_internal(ctx, "no agent on this thread"))
}

fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    host.set(
        "spawn",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, specifier: String, is_eval: bool| {
                spawn(&ctx, &local(&ctx)?, specifier, is_eval).map(|id| id as f64)
            },
        )?,
    )?;
    host.set(
        "post",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, to: f64, value: Value<'js>| -> rquickjs::Result<()> {
                let message = clone::serialize(&ctx, &value)?;
                let local = local(&ctx)?;
                let to = to as u64;
                if to == 0 {
                    if let Some((parent, me)) = &local.parent {
                        parent.post(Event::Message { from: *me, message });
                    }
                } else if let Some(child) = local.children.borrow().get(&to).filter(|c| !c.done) {
                    child.signal.post(Event::Message { from: 0, message });
                }
                Ok(())
            },
        )?,
    )?;
    host.set(
        "terminate",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64| -> rquickjs::Result<()> {
                if let Some(child) = local(&ctx)?.children.borrow_mut().get_mut(&(id as u64)) {
                    child.signal.interrupt();
                    child.done = true;
                }
                Ok(())
            },
        )?,
    )?;
    host.set(
        "close",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| -> rquickjs::Result<()> {
            local(&ctx)?.closing.set(true);
            Ok(())
        })?,
    )?;
    host.set(
        "listening",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, on: bool| -> rquickjs::Result<()> {
                local(&ctx)?.listening.set(on);
                Ok(())
            },
        )?,
    )?;
    host.set(
        "structuredClone",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, value: Value<'js>| {
            let message = clone::serialize(&ctx, &value)?;
            clone::deserialize(&ctx, &message)
        })?,
    )?;
    Ok(())
}

/// What a worker runs.
enum Source {
    File(PathBuf),
    Inline(String),
}

/// Starts a worker running `specifier` (a path relative to the calling agent's script, or
/// inline source when `is_eval`); returns its id. A thread the OS refuses is a JS error.
pub(crate) fn spawn(
    ctx: &Ctx<'_>,
    local: &Rc<Local>,
    specifier: String,
    is_eval: bool,
) -> rquickjs::Result<u64> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Relaxed);
    let base_dir = local.base_dir.borrow().clone();
    let (source, name, base_dir) = if is_eval {
        (
            Source::Inline(specifier),
            format!("worker {id} (eval)"),
            base_dir,
        )
    } else {
        let path = base_dir.join(&specifier);
        let name = format!("worker {id} ({})", path.display());
        let dir = directory_of(&path);
        (Source::File(path), name, dir)
    };
    let signal = Signal::new();
    let parent = (local.signal.clone(), id);
    let options = local.options.clone();
    let child_signal = signal.clone();
    let thread = thread::Builder::new()
        .name(format!("js-worker-{id}"))
        .spawn(move || run(name, source, base_dir, child_signal, parent, options))
        .map_err(|error| {
            Exception::throw_internal(ctx, &format!("Worker: cannot start a thread: {error}"))
        })?;
    signal.bind(thread.thread().clone());
    local.children.borrow_mut().insert(
        id,
        Child {
            signal,
            thread: Some(thread),
            done: false,
        },
    );
    Ok(id)
}

/// The worker thread: run the script and its event loop, then tell the parent how it ended.
fn run(
    name: String,
    source: Source,
    base_dir: PathBuf,
    signal: Arc<Signal>,
    parent: (Arc<Signal>, u64),
    options: Arc<Options>,
) {
    let (parent_signal, id) = parent.clone();
    let result = Agent::new(
        name.clone(),
        signal.clone(),
        Some(parent),
        options.clone(),
        false,
        base_dir,
    )
    .and_then(|agent| {
        let (file_name, text) = match source {
            Source::Inline(text) => (format!("[worker eval {id}]"), text),
            Source::File(path) => match std::fs::read_to_string(&path) {
                Ok(text) => (path.display().to_string(), text),
                Err(source) => return Err(JsError::Read { path, source }),
            },
        };
        agent.eval(&file_name, &text)?;
        agent.run()
    });
    // A terminated worker ends without an error event.
    if !signal.is_interrupted() {
        if let Err(error) = result {
            let error = match error {
                JsError::Script(error) => error,
                // Output that cannot be written ends the whole run as it would from main (a
                // quiet 141 for a closed pipe): the parent finds the failure and reports it.
                JsError::Output(io) => {
                    let message = format!("Error: cannot write output: {io}");
                    options.output.keep_error(io);
                    ScriptError {
                        agent: name,
                        message,
                        location: None,
                        stack: String::new(),
                    }
                }
                other => ScriptError {
                    agent: name,
                    message: format!("Error: {other}"),
                    location: None,
                    stack: String::new(),
                },
            };
            parent_signal.post(Event::WorkerError { id, error });
        }
    }
    parent_signal.post(Event::WorkerExit { id });
}
