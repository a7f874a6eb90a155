//! Web Workers: each an agent on its own OS thread with its own runtime and event loop.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

use rquickjs::{Ctx, Exception};

use crate::agent::{Agent, Child, Event, Local, Signal};
use crate::error::{JsError, ScriptError};
use crate::globals::directory_of;
use crate::Options;

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
