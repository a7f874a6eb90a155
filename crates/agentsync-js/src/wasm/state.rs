//! The agent's WebAssembly state: process-wide ids of modules and shared memories, the agent's
//! store and its agent-local ids, and the stacks of calls between JavaScript and the guest.

use super::*;

/// A compiled module and what the JS API shows of it.
pub(super) struct ModuleData {
    pub(super) program: Program,
    /// `(module, name, kind)` of each import, in order.
    pub(super) imports: Vec<(String, String, &'static str)>,
    /// `(name, kind, index in its kind's index space)` of each export, in order.
    pub(super) exports: Vec<(String, &'static str, u32)>,
    /// `(name, bytes)` of each custom section.
    pub(super) custom: Vec<(String, Vec<u8>)>,
}

/// What a process-wide id names.
#[derive(Clone)]
pub(super) enum Shared {
    Module(Arc<ModuleData>),
    Memory(GuestMemory),
}

pub(super) fn shared() -> MutexGuard<'static, HashMap<u64, Shared>> {
    pub(super) static TABLE: OnceLock<Mutex<HashMap<u64, Shared>>> = OnceLock::new();
    // No code panics while holding the lock; recover from poisoning anyway.
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn next_id() -> u64 {
    pub(super) static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

pub(super) fn add_shared(entry: Shared) -> u64 {
    let id = next_id();
    shared().insert(id, entry);
    id
}

/// What an agent-local id names: a thing in the agent's store.
#[derive(Clone)]
pub(super) enum Local {
    /// An instance, and the module it was made from.
    Instance(Instance, Arc<ModuleData>),
    /// A non-shared memory.
    Memory(Memory),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A function (exported by an instance, or read from a table).
    Func(Func),
}

/// A call from JavaScript into the guest in progress: the agent's context.
pub(super) struct Frame {
    pub(super) ctx: NonNull<qjs::JSContext>,
}

/// The agent's WebAssembly state, in its slot (see `agent::slot`): dropped with the agent,
/// before its runtime (the functions it keeps are the runtime's), in this order.
#[derive(Default)]
pub(super) struct AgentWasm {
    /// Agent-local ids.
    pub(super) locals: RefCell<HashMap<u64, Local>>,
    /// The JavaScript functions given for function imports, by the id their host function keeps.
    pub(super) imports: RefCell<HashMap<u64, Persistent<Function<'static>>>>,
    /// `wasm.js`'s IterableToList, for what a JS import returns to a multi-value guest.
    pub(super) to_list: RefCell<Option<Persistent<Function<'static>>>>,
    /// `wasm.js`'s `refresh`, run after a guest call and before a JS import when `exposed`.
    pub(super) refresh: RefCell<Option<Persistent<Function<'static>>>>,
    /// Whether a non-shared memory's buffer is exposed to JavaScript (`wasm.js` says when
    /// this changes): only then can a guest's `memory.grow` leave a buffer to detach.
    pub(super) exposed: Cell<bool>,
    /// The identity keys (see `func_facts`) of the Wasm functions that have their JS function
    /// (`wasm.js` keeps them all, by key): a table read of one needs only its key.
    pub(super) functions: RefCell<std::collections::HashSet<u64>>,
    /// The agent's store: every instance, non-shared memory and global of the agent.
    pub(super) store: RefCell<Option<Store<GuestState>>>,
}

/// This agent's WebAssembly state (a fresh, unused one on a thread without an agent).
pub(super) fn agent_wasm() -> Rc<AgentWasm> {
    crate::agent::slot::<AgentWasm>().unwrap_or_default()
}

thread_local! {
    /// The guest-to-JS calls in progress on this thread, innermost last: while one runs, the
    /// store is reached through its `Caller`.
    pub(super) static CALLERS: RefCell<Vec<*mut Caller<'static, GuestState>>> =
        const { RefCell::new(Vec::new()) };
    /// The calls from JavaScript into the guest in progress on this thread, innermost last.
    pub(super) static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// An imported JS function threw: its exception is pending in the context.
    pub(super) static THREW: Cell<bool> = const { Cell::new(false) };
}

/// Pops the frame it pushed, however the call ends.
pub(super) struct FrameGuard;

impl FrameGuard {
    pub(super) fn push(ctx: &Ctx<'_>) -> FrameGuard {
        FRAMES.with(|f| f.borrow_mut().push(Frame { ctx: ctx.as_raw() }));
        FrameGuard
    }
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        FRAMES.with(|f| f.borrow_mut().pop());
    }
}

/// Makes the agent's store: guest waits sleep like `Atomics.wait` (so `terminate()` ends them),
/// and guest code checks the epoch, so a terminated agent's guest loop stops too.
pub(super) fn new_store() -> Store<GuestState> {
    let blocker: agentsync_wasm::Blocker = Arc::new(crate::agent::block_on_wait);
    let mut store = Store::new(engine().engine(), GuestState::with_blocker(blocker));
    let signal = crate::agent::with_local(|local| local.signal.clone());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| match &signal {
        Some(signal) if signal.is_interrupted() => {
            Err(agentsync_wasm::wasmtime::Error::msg("agent terminated"))
        }
        _ => Ok(agentsync_wasm::wasmtime::UpdateDeadline::Continue(1)),
    });
    store
}

/// Runs `f` on the agent's store: through the innermost guest-to-JS call's `Caller` if one is
/// running, else the store itself. `f` must not run JavaScript except by calling the guest.
pub(super) fn with_store<R>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(StoreContextMut<'_, GuestState>) -> R,
) -> rquickjs::Result<R> {
    let caller = CALLERS.with(|c| c.borrow().last().copied());
    if let Some(caller) = caller {
        // SAFETY: the pointer is the `Caller` of the import call running below us on this
        // thread (`CallerGuard` pops it before the call returns), and nothing else uses it
        // meanwhile: `f` runs no JavaScript that could reach it except through a nested guest
        // call, which pushes its own caller.
        let caller = unsafe { &mut *caller };
        return Ok(f(caller.as_context_mut()));
    }
    with_own_store(ctx, |store| f(store.as_context_mut()))
}

/// Runs `f` on the agent's store itself (not through a running call's `Caller`).
pub(super) fn with_own_store<R>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&mut Store<GuestState>) -> R,
) -> rquickjs::Result<R> {
    let wasm = agent_wasm();
    let mut slot = wasm.store.try_borrow_mut().map_err(|_| {
        throw_wasm(
            ctx,
            "RuntimeError",
            "this host cannot do this from inside a call of a Wasm import",
        )
    })?;
    Ok(f(slot.get_or_insert_with(new_store)))
}

/// Makes `caller` the way to the store for its call's duration.
pub(super) struct CallerGuard;

impl CallerGuard {
    pub(super) fn push(caller: &mut Caller<'_, GuestState>) -> CallerGuard {
        let raw: *mut Caller<'_, GuestState> = caller;
        CALLERS.with(|c| c.borrow_mut().push(raw.cast()));
        CallerGuard
    }
}

impl Drop for CallerGuard {
    fn drop(&mut self) {
        CALLERS.with(|c| c.borrow_mut().pop());
    }
}

pub(super) fn add_local(entry: Local) -> u64 {
    let id = next_id();
    agent_wasm().locals.borrow_mut().insert(id, entry);
    id
}

pub(super) fn local_of(id: f64) -> Option<Local> {
    agent_wasm().locals.borrow().get(&(id as u64)).cloned()
}

pub(super) fn module_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Arc<ModuleData>> {
    match shared().get(&(id as u64)) {
        Some(Shared::Module(module)) => Ok(module.clone()),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Module")),
    }
}

/// A `WebAssembly.Memory`: shared (process-wide) or non-shared (in the agent's store).
pub(super) enum AnyMemory {
    Shared(GuestMemory),
    Local(Memory),
}

pub(super) fn memory_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<AnyMemory> {
    if let Some(Local::Memory(memory)) = local_of(id) {
        return Ok(AnyMemory::Local(memory));
    }
    match shared().get(&(id as u64)) {
        Some(Shared::Memory(memory)) => Ok(AnyMemory::Shared(memory.clone())),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Memory")),
    }
}

pub(super) fn instance_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<(Instance, Arc<ModuleData>)> {
    match local_of(id) {
        Some(Local::Instance(instance, module)) => Ok((instance, module)),
        _ => Err(Exception::throw_type(
            ctx,
            "not a live WebAssembly.Instance",
        )),
    }
}

pub(super) fn global_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Global> {
    match local_of(id) {
        Some(Local::Global(global)) => Ok(global),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Global")),
    }
}

pub(super) fn table_of(ctx: &Ctx<'_>, id: f64) -> rquickjs::Result<Table> {
    match local_of(id) {
        Some(Local::Table(table)) => Ok(table),
        _ => Err(Exception::throw_type(ctx, "not a WebAssembly.Table")),
    }
}

/// Whether `table` holds funcrefs (else externrefs).
pub(super) fn is_funcref(store: &StoreContextMut<'_, GuestState>, table: &Table) -> bool {
    table.ty(store).element().heap_type().is_func()
}

/// The engine of every module and memory of the host: its code checks wasmtime's epoch, which
/// [`interrupt_guests`] bumps, so a terminated agent's guest loop stops.
pub(super) fn engine() -> &'static Runtime {
    Runtime::interruptible()
}

/// Makes every running guest check whether its agent was interrupted.
pub(crate) fn interrupt_guests() {
    engine().engine().increment_epoch();
}
