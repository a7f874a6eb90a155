//! Web Workers: each an agent on its own OS thread with its own runtime and event loop.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

use rquickjs::{Ctx, Exception, Function, Object, Value};

use crate::agent::{directory_of, ports, resource};
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

/// Posts `message` to worker `to`, or to the parent for 0 (dropped if it has ended).
fn send(local: &Local, to: f64, message: clone::Message) {
    let to = to as u64;
    if to == 0 {
        if let Some((parent, me)) = &local.parent {
            parent.post(Event::Message { from: *me, message });
        }
    } else if let Some(child) = local.children.borrow().get(&to).filter(|c| !c.done) {
        child.signal.post(Event::Message { from: 0, message });
    }
}

fn local(ctx: &Ctx<'_>) -> rquickjs::Result<Rc<Local>> {
    with_local(Rc::clone).ok_or_else(|| Exception::throw_internal(ctx, "no agent on this thread"))
}

fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    host.set(
        "spawn",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, specifier: String, kind: String, name: String| {
                let kind = match kind.as_str() {
                    "eval" => Kind::Eval,
                    "module" => Kind::Module,
                    _ => Kind::Classic,
                };
                spawn(&ctx, &local(&ctx)?, specifier, kind, name).map(|id| id as f64)
            },
        )?,
    )?;
    host.set(
        "post",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, to: f64, value: Value<'js>, ports: Vec<f64>| -> rquickjs::Result<()> {
                let local = local(&ctx)?;
                let message = serialize_with_ports(&ctx, &local, &value, &ports)?;
                send(&local, to, message);
                Ok(())
            },
        )?,
    )?;
    // `post` for a value that needs no pass of the prelude's encoder (see `clone::is_flat`):
    // false, having done nothing, for any other value.
    host.set(
        "postFlat",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, to: f64, value: Value<'js>| -> rquickjs::Result<bool> {
                if !clone::is_flat(&ctx, &value) {
                    return Ok(false);
                }
                let local = local(&ctx)?;
                send(&local, to, clone::serialize(&ctx, &value)?);
                Ok(true)
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
        "workerName",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| -> rquickjs::Result<String> {
            Ok(local(&ctx)?.worker_name.borrow().clone())
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
        "portPair",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| -> rquickjs::Result<Vec<f64>> {
            let (a, b) = ports::pair(&local(&ctx)?.signal);
            Ok(vec![a as f64, b as f64])
        })?,
    )?;
    host.set(
        "portPost",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             from: f64,
             value: Value<'js>,
             transfer: Vec<f64>|
             -> rquickjs::Result<()> {
                let local = local(&ctx)?;
                let message = serialize_with_ports(&ctx, &local, &value, &transfer)?;
                match ports::peer(from as u64) {
                    Some(peer) => ports::send(peer, message),
                    // An end whose other end closed: the message is dropped, as the HTML
                    // standard says (and with it the ports it carried).
                    None => drop(message),
                }
                Ok(())
            },
        )?,
    )?;
    host.set(
        "portClose",
        Function::new(ctx.clone(), |id: f64| ports::close(id as u64))?,
    )?;
    host.set(
        "broadcastOpen",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, name: String| -> rquickjs::Result<f64> {
                Ok(ports::join_broadcast(&local(&ctx)?.signal, name) as f64)
            },
        )?,
    )?;
    host.set(
        "broadcastPost",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, from: f64, value: Value<'js>| -> rquickjs::Result<()> {
                // Each member gets its own copy, in the order they joined.
                for member in ports::broadcast_targets(from as u64) {
                    ports::send(member, clone::serialize(&ctx, &value)?);
                }
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

/// Serializes `value` and takes the transferred ports `transfer` out of this agent into the
/// message; a port that is not this agent's is a `TypeError` (the caller's DataCloneError).
fn serialize_with_ports(
    ctx: &Ctx<'_>,
    local: &Local,
    value: &Value<'_>,
    transfer: &[f64],
) -> rquickjs::Result<clone::Message> {
    let message = clone::serialize(ctx, value)?;
    let mut taken = Vec::with_capacity(transfer.len());
    for id in transfer.iter().map(|id| *id as u64) {
        if !ports::detach(&local.signal, id) {
            for port in &taken {
                ports::claim(&local.signal, *port);
            }
            return Err(Exception::throw_type(
                ctx,
                "a MessagePort in the transfer list is closed or not this agent's",
            ));
        }
        taken.push(id);
    }
    Ok(message.with_ports(taken, ports::close))
}

/// How a worker's specifier is read: a classic script (`new Worker(url)`), a module script
/// (`{ type: "module" }`), or inline source (agentsync's `{ eval: true }`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Classic,
    Module,
    Eval,
}

/// What a worker runs.
enum Source {
    File(PathBuf),
    Inline(String),
}

/// What a worker runs, where it is, and what it is called.
struct Script {
    source: Source,
    /// The worker's location (`self.location`): its script's URL.
    location: Option<url::Url>,
    base_dir: PathBuf,
    /// How error messages name the worker.
    description: String,
}

/// Finds the script of a worker: a path or URL relative to the calling agent's script (a
/// plain relative path joins its directory, as it always did; `file:` and `blob:` URLs are
/// read as URLs, a blob's content when the worker is made, as the HTML standard says).
fn script(ctx: &Ctx<'_>, local: &Local, specifier: String, kind: Kind) -> rquickjs::Result<Script> {
    let base_dir = local.base_dir.borrow().clone();
    if kind == Kind::Eval {
        return Ok(Script {
            source: Source::Inline(specifier),
            location: local.location.borrow().clone(),
            base_dir,
            description: "eval".into(),
        });
    }
    let absolute = url::Url::parse(&specifier)
        .ok()
        .filter(|url| url.scheme().len() > 1);
    let error =
        |error: resource::ResourceError| Exception::throw_message(ctx, &format!("Worker: {error}"));
    match absolute {
        Some(url) if url.scheme() == "blob" => {
            let blob = resource::read(local, &url).map_err(&error)?;
            let text = String::from_utf8_lossy(&blob.bytes).into_owned();
            Ok(Script {
                source: Source::Inline(text),
                description: url.to_string(),
                location: Some(url),
                base_dir,
            })
        }
        Some(url) => {
            let path = url
                .to_file_path()
                .map_err(|()| error(resource::ResourceError::Scheme(url.to_string())))?;
            Ok(Script {
                description: path.display().to_string(),
                base_dir: directory_of(&path),
                source: Source::File(path),
                location: Some(url),
            })
        }
        None => {
            let path = base_dir.join(&specifier);
            Ok(Script {
                description: path.display().to_string(),
                location: resource::file_url(&path),
                base_dir: directory_of(&path),
                source: Source::File(path),
            })
        }
    }
}

/// Starts a worker running `specifier` (see [`script`]), named `name` (its `self.name`);
/// returns its id. A thread the OS refuses is a JS error.
pub(crate) fn spawn(
    ctx: &Ctx<'_>,
    local: &Rc<Local>,
    specifier: String,
    kind: Kind,
    worker_name: String,
) -> rquickjs::Result<u64> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let script = script(ctx, local, specifier, kind)?;
    let id = NEXT_ID.fetch_add(1, Relaxed);
    let name = format!("worker {id} ({})", script.description);
    let signal = Signal::new();
    let parent = (local.signal.clone(), id);
    let options = local.options.clone();
    let child_signal = signal.clone();
    let thread = thread::Builder::new()
        .name(format!("js-worker-{id}"))
        .spawn(move || {
            run(
                name,
                script,
                kind,
                worker_name,
                child_signal,
                parent,
                options,
            )
        })
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
    script: Script,
    kind: Kind,
    worker_name: String,
    signal: Arc<Signal>,
    parent: (Arc<Signal>, u64),
    options: Arc<Options>,
) {
    let (parent_signal, id) = parent.clone();
    let Script {
        source,
        location,
        base_dir,
        ..
    } = script;
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
            Source::Inline(text) => match (kind, &location) {
                (Kind::Eval, _) | (_, None) => (format!("[worker eval {id}]"), text),
                (_, Some(url)) => (url.to_string(), text),
            },
            Source::File(path) => match std::fs::read_to_string(&path) {
                Ok(text) => (path.display().to_string(), text),
                Err(source) => return Err(JsError::Read { path, source }),
            },
        };
        agent.set_identity(location, worker_name);
        if kind == Kind::Module {
            agent.eval_module(&file_name, &text)?;
        } else {
            agent.eval(&file_name, &text)?;
        }
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
                        exit_status: None,
                    }
                }
                other => ScriptError {
                    agent: name,
                    message: format!("Error: {other}"),
                    location: None,
                    stack: String::new(),
                    exit_status: None,
                },
            };
            parent_signal.post(Event::WorkerError { id, error });
        }
    }
    parent_signal.post(Event::WorkerExit { id });
}
