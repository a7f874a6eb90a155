//! test262's `$262` host object and its concurrent agents (`$262.agent`): agents of this host on
//! their own threads, reports, and a native `broadcast` that blocks the calling thread in Rust.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The state of one test's agents, shared by its main agent and its concurrent agents.
pub(super) struct Shared {
    /// The main agent's thread, unparked when an agent takes a broadcast or ends.
    main: Thread,
    reports: Mutex<VecDeque<String>>,
    agents: Mutex<Vec<AgentEntry>>,
    /// Uncaught errors of agents, for the failure message.
    pub(super) errors: Mutex<Vec<String>>,
    /// The number of the last broadcast.
    broadcasts: AtomicU64,
}

impl Shared {
    pub(super) fn new(main: Thread) -> Shared {
        Shared {
            main,
            reports: Mutex::default(),
            agents: Mutex::default(),
            errors: Mutex::default(),
            broadcasts: AtomicU64::new(0),
        }
    }
}

/// A concurrent agent, as its starter sees it.
struct AgentEntry {
    signal: Arc<Signal>,
    link: Arc<Link>,
    thread: Option<JoinHandle<()>>,
}

/// What an agent tells its starter.
#[derive(Default)]
struct Link {
    /// The number of the last broadcast it took.
    received: AtomicU64,
    /// Its thread is ending: it takes no more broadcasts.
    finished: AtomicBool,
}

/// Stops and joins every agent of a test when the test ends.
pub(super) struct Agents(pub(super) Arc<Shared>);

impl Drop for Agents {
    fn drop(&mut self) {
        let agents: Vec<AgentEntry> = lock(&self.0.agents).drain(..).collect();
        for agent in &agents {
            agent.signal.interrupt();
        }
        for agent in agents {
            if let Some(thread) = agent.thread {
                let _ = thread.join();
            }
        }
    }
}

/// Milliseconds on a clock shared by every agent of the process (`performance.now()`'s).
fn monotonic_now() -> f64 {
    crate::agent::now_ms()
}

/// Sleeps this agent's thread for `ms` milliseconds, or until it is interrupted.
fn sleep<'js>(ctx: Ctx<'js>, ms: Rest<Value<'js>>) -> rquickjs::Result<()> {
    let ms = match ms.0.first() {
        Some(v) => crate::agent::to_number(&ctx, v)?,
        None => 0.0,
    };
    let signal = with_local(|local| local.signal.clone());
    if ms.is_nan() || ms <= 0.0 {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs_f64(ms.min(1e9) / 1e3);
    loop {
        if signal.as_ref().is_some_and(|s| s.is_interrupted()) {
            return Err(Exception::throw_internal(&ctx, "agent terminated"));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        thread::park_timeout(deadline - now);
    }
}

fn function<'js, P>(
    ctx: &Ctx<'js>,
    name: &str,
    length: usize,
    f: impl rquickjs::function::IntoJsFunc<'js, P> + 'js,
) -> rquickjs::Result<Function<'js>> {
    Function::new(ctx.clone(), f)?
        .with_name(name)?
        .with_length(length)
}

/// Defines a writable, configurable, non-enumerable global.
fn define_global<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    value: impl rquickjs::IntoJs<'js>,
) -> rquickjs::Result<()> {
    ctx.globals()
        .prop(name, Property::from(value).writable().configurable())
}

/// Defines `$262` on `ctx`'s global (with `agent.start` / `broadcast` / `getReport` when
/// `shared` is given: the main agent and its realms).
pub(super) fn install<'js>(
    ctx: &Ctx<'js>,
    shared: Option<&Arc<Shared>>,
) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    object.set("global", ctx.globals())?;
    object.set(
        "evalScript",
        function(ctx, "evalScript", 1, |ctx: Ctx<'js>, source: String| {
            agent::eval_script(&ctx, &source, "<evalScript>")
        })?,
    )?;
    object.set("gc", crate::agent::gc_function(ctx)?)?;
    object.set(
        "detachArrayBuffer",
        function(ctx, "detachArrayBuffer", 1, detach_array_buffer)?,
    )?;
    let realm_shared = shared.cloned();
    object.set(
        "createRealm",
        function(ctx, "createRealm", 0, move |ctx: Ctx<'js>| {
            create_realm(&ctx, realm_shared.as_ref())
        })?,
    )?;
    let agent = Object::new(ctx.clone())?;
    agent.set("sleep", function(ctx, "sleep", 1, sleep)?)?;
    agent.set(
        "monotonicNow",
        function(ctx, "monotonicNow", 0, monotonic_now)?,
    )?;
    if let Some(shared) = shared {
        let s = shared.clone();
        agent.set(
            "start",
            function(ctx, "start", 1, move |ctx: Ctx<'js>, source: String| {
                start_agent(&ctx, &s, source)
            })?,
        )?;
        let s = shared.clone();
        agent.set(
            "broadcast",
            function(
                ctx,
                "broadcast",
                2,
                move |ctx: Ctx<'js>, args: Rest<Value<'js>>| broadcast(&ctx, &s, args.0),
            )?,
        )?;
        let s = shared.clone();
        agent.set(
            "getReport",
            function(ctx, "getReport", 0, move |ctx: Ctx<'js>| {
                match lock(&s.reports).pop_front() {
                    Some(report) => {
                        rquickjs::String::from_str(ctx, &report).map(|s| s.into_value())
                    }
                    None => Ok(Value::new_null(ctx)),
                }
            })?,
        )?;
    }
    object.set("agent", agent)?;
    define_global(ctx, "$262", object.clone())?;
    Ok(object)
}

/// `$262.detachArrayBuffer(buffer)`: DetachArrayBuffer on an `ArrayBuffer`; anything else
/// (a `SharedArrayBuffer` included) is a `TypeError`.
fn detach_array_buffer<'js>(ctx: Ctx<'js>, buffer: Value<'js>) -> rquickjs::Result<()> {
    let probe: Value = ctx.eval("new ArrayBuffer(0)")?;
    // SAFETY: live values of this context.
    let same_class =
        unsafe { qjs::JS_GetClassID(buffer.as_raw()) == qjs::JS_GetClassID(probe.as_raw()) };
    if !buffer.is_object() || !same_class {
        return Err(Exception::throw_type(
            &ctx,
            "$262.detachArrayBuffer: not an ArrayBuffer",
        ));
    }
    // SAFETY: a live ArrayBuffer of this context.
    unsafe { qjs::JS_DetachArrayBuffer(ctx.as_raw().as_ptr(), buffer.as_raw()) };
    Ok(())
}

/// `$262.createRealm()`: a new context of the same runtime with `print`, this host's Atomics
/// and `$262`; returns its `$262`.
fn create_realm<'js>(ctx: &Ctx<'js>, shared: Option<&Arc<Shared>>) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the runtime of a live context, whose lock we hold (we are running in it).
    let realm = unsafe { qjs::JS_NewContext(qjs::JS_GetRuntime(raw)) };
    let Some(realm) = NonNull::new(realm) else {
        return Err(Exception::throw_internal(ctx, "createRealm: out of memory"));
    };
    // SAFETY: a live context of the runtime whose lock we hold; `from_raw` takes its own
    // reference, so ours is released right after.
    let realm_ctx = unsafe { Ctx::from_raw(realm) };
    // SAFETY: drops the reference JS_NewContext returned; `realm_ctx` holds another.
    unsafe { qjs::JS_FreeContext(realm.as_ptr()) };
    let options = with_local(|l| l.options.clone());
    let made = (|| -> rquickjs::Result<Value<'_>> {
        if let Some(options) = &options {
            // The extensions a realm has too (the agent's Atomics), as the agent installs them.
            let setup = crate::agent::Setup {
                is_main: false,
                engine_atomics: options.engine_atomics,
            };
            let host = rquickjs::Object::new(realm_ctx.clone())?;
            for extension in options.extensions.iter().filter(|e| e.in_realms) {
                (extension.install)(&realm_ctx, &host, &setup)?;
            }
        }
        let print = function(&realm_ctx, "print", 1, print)?;
        define_global(&realm_ctx, "print", print)?;
        install(&realm_ctx, shared).map(|o| o.into_value())
    })();
    match made {
        Ok(value) => {
            // SAFETY: values belong to the runtime, not to one context: a new reference to
            // the realm's `$262`, owned by a `Value` of the caller's context.
            let value =
                unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(raw, value.as_raw())) };
            Ok(value)
        }
        Err(_) => {
            let error = display(&realm_ctx.catch());
            Err(Exception::throw_internal(
                ctx,
                &format!("createRealm: {error}"),
            ))
        }
    }
}

/// `print` for a new realm (the host's own is defined in the first one).
fn print<'js>(ctx: Ctx<'js>, args: Rest<Value<'js>>) -> rquickjs::Result<()> {
    let line = args.0.iter().map(display).collect::<Vec<_>>().join(" ");
    let result = with_local(|l| l.options.output.write(Stream::Stdout, &line));
    match result {
        Some(Err(error)) => Err(Exception::throw_internal(&ctx, &format!("print: {error}"))),
        _ => Ok(()),
    }
}

/// `$262.agent.start(source)`: an agent on a new thread; returns once it is running.
fn start_agent(ctx: &Ctx<'_>, shared: &Arc<Shared>, source: String) -> rquickjs::Result<()> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, SeqCst);
    let (main_signal, options) = with_local(|l| (l.signal.clone(), l.options.clone()))
        .ok_or_else(|| Exception::throw_internal(ctx, "no agent on this thread"))?;
    let signal = Signal::new();
    let link = Arc::new(Link::default());
    let (started_tx, started_rx) = mpsc::channel();
    let thread = {
        let (signal, link, shared) = (signal.clone(), link.clone(), shared.clone());
        thread::Builder::new()
            .name(format!("test262-agent-{id}"))
            .spawn(move || {
                run_agent(AgentStart {
                    id,
                    source,
                    shared,
                    link,
                    signal,
                    main_signal,
                    options,
                    started: started_tx,
                })
            })
            .map_err(|e| {
                Exception::throw_internal(ctx, &format!("$262.agent.start: no thread: {e}"))
            })?
    };
    signal.bind(thread.thread().clone());
    lock(&shared.agents).push(AgentEntry {
        signal,
        link,
        thread: Some(thread),
    });
    match started_rx.recv() {
        Ok(()) => Ok(()),
        Err(_) => {
            let error = lock(&shared.errors).last().cloned().unwrap_or_default();
            Err(Exception::throw_internal(
                ctx,
                &format!("$262.agent.start: the agent did not start: {error}"),
            ))
        }
    }
}

struct AgentStart {
    id: u64,
    source: String,
    shared: Arc<Shared>,
    link: Arc<Link>,
    signal: Arc<Signal>,
    main_signal: Arc<Signal>,
    options: Arc<Options>,
    started: mpsc::Sender<()>,
}

/// An agent's thread: set up, say it runs, run the script and the event loop.
fn run_agent(start: AgentStart) {
    let AgentStart {
        id,
        source,
        shared,
        link,
        signal,
        main_signal,
        options,
        started,
    } = start;
    let name = format!("agent {id}");
    // The parent link keeps the agent's loop alive while it listens for broadcasts; it never
    // posts to the main agent (this thread reports through `shared`).
    let result = Agent::new(
        name.clone(),
        signal.clone(),
        Some((main_signal, id)),
        options,
        false,
        ".".into(),
    )
    .and_then(|agent| {
        agent
            .with(|ctx| install_agent(&ctx, &shared, &link).map_err(|_| display(&ctx.catch())))
            .map_err(|e| JsError::Engine(format!("cannot define $262: {e}")))?;
        let _ = started.send(());
        agent.eval(&format!("<agent {id}>"), &source)?;
        agent.run()
    });
    if let Err(error) = result {
        if !signal.is_interrupted() {
            lock(&shared.errors).push(format!("{name}: {error}"));
        }
    }
    drop(started);
    link.finished.store(true, SeqCst);
    shared.main.unpark();
}

/// Tells QuickJS-ng whether its own `Atomics.wait` may block on this agent's runtime (the
/// host leaves the engine's flag at its default, false, which only `--engine-atomics` sees).
pub(super) fn engine_can_block(ctx: &Ctx<'_>, can_block: bool) {
    // SAFETY: the runtime of a live context; the call only sets a flag.
    unsafe { qjs::JS_SetCanBlock(qjs::JS_GetRuntime(ctx.as_raw().as_ptr()), can_block) };
}

/// `$262` in a concurrent agent: the common part, and `agent.receiveBroadcast`, `report`,
/// `leaving`.
fn install_agent<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    link: &Arc<Link>,
) -> rquickjs::Result<()> {
    engine_can_block(ctx, true);
    let object = install(ctx, None)?;
    let agent: Object = object.get("agent")?;
    let s = shared.clone();
    agent.set(
        "report",
        function(ctx, "report", 1, move |value: Value<'js>| {
            lock(&s.reports).push_back(display(&value));
        })?,
    )?;
    agent.set("leaving", function(ctx, "leaving", 0, || {})?)?;
    let (s, l) = (shared.clone(), link.clone());
    let ack = function(ctx, "ack", 1, move |number: f64| {
        l.received.fetch_max(number as u64, SeqCst);
        s.main.unpark();
    })?;
    // The broadcast arrives as a message event; it is acknowledged before the callback runs,
    // since the callback usually blocks in Atomics.wait.
    let make: Function = ctx.eval(
        "(function (ack) {\n\
           return function receiveBroadcast(callback) {\n\
             globalThis.addEventListener('message', function (event) {\n\
               var data = event.data;\n\
               ack(data[2]);\n\
               callback(data[0], data[1]);\n\
             });\n\
           };\n\
         })",
    )?;
    let receive: Function = make.call((ack,))?;
    agent.set("receiveBroadcast", receive)?;
    Ok(())
}

/// `$262.agent.broadcast(sab, id)`: posts both to every agent, then blocks this thread (in
/// Rust, not `Atomics.wait`) until each has taken it or ended.
fn broadcast<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<()> {
    let number = shared.broadcasts.fetch_add(1, SeqCst) + 1;
    let data = Array::new(ctx.clone())?;
    let mut args = args.into_iter();
    data.set(
        0,
        args.next()
            .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
    )?;
    data.set(
        1,
        args.next()
            .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
    )?;
    data.set(2, number as f64)?;
    let data = data.into_value();
    let targets: Vec<(Arc<Signal>, Arc<Link>)> = lock(&shared.agents)
        .iter()
        .map(|a| (a.signal.clone(), a.link.clone()))
        .collect();
    for (signal, _) in &targets {
        let message = clone::serialize(ctx, &data)?;
        signal.post(Event::Message { from: 0, message });
    }
    let me = with_local(|l| l.signal.clone());
    loop {
        let pending = targets
            .iter()
            .any(|(_, l)| l.received.load(SeqCst) < number && !l.finished.load(SeqCst));
        if !pending {
            return Ok(());
        }
        if me.as_ref().is_some_and(|s| s.is_interrupted()) {
            return Err(Exception::throw_internal(ctx, "agent terminated"));
        }
        thread::park_timeout(Duration::from_millis(100));
    }
}
