//! Waiting in an agent: the interruptible blocking wait behind `Atomics.wait`, the promises of
//! `Atomics.waitAsync` and the wakers that settle them, and the interned result strings.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use agentsync::{WaitFuture, WaitResult};
use rquickjs::{qjs, Ctx, Function, Persistent, Promise, Value};

use super::{lock, with_local, Signal};

/// The waker of one `waitAsync` future: marks it settled and wakes the agent.
struct SettleWaker {
    signal: Arc<Signal>,
    id: u64,
}

impl Wake for SettleWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.signal.settled).push(self.id);
        self.signal.wake();
    }
}

/// Unparks one thread: the waker of a blocking `Atomics.wait`.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A queued `waitAsync`.
pub(super) struct PendingWait {
    pub(super) future: WaitFuture<'static>,
    /// The promise's resolve function.
    pub(super) resolve: Persistent<Function<'static>>,
    /// When its timeout job runs (J1), if it has a finite timeout.
    pub(super) deadline: Option<Instant>,
    /// The first byte of the buffer it waits on (its key in the SharedArrayBuffer registry).
    pub(super) base: usize,
}

/// Property names and result strings of `Atomics.waitAsync`, interned once per agent.
pub(crate) struct Atoms {
    is_async: qjs::JSAtom,
    value: qjs::JSAtom,
    ok: qjs::JSAtom,
    not_equal: qjs::JSAtom,
    timed_out: qjs::JSAtom,
}

impl Atoms {
    pub(super) fn new(ctx: &Ctx<'_>) -> Atoms {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: a live context; NUL-terminated names.
        let atom = |name: &std::ffi::CStr| unsafe { qjs::JS_NewAtom(raw, name.as_ptr()) };
        Atoms {
            is_async: atom(c"async"),
            value: atom(c"value"),
            ok: atom(c"ok"),
            not_equal: atom(c"not-equal"),
            timed_out: atom(c"timed-out"),
        }
    }

    pub(super) fn free(&self, ctx: &Ctx<'_>) {
        let raw = ctx.as_raw().as_ptr();
        for atom in [
            self.is_async,
            self.value,
            self.ok,
            self.not_equal,
            self.timed_out,
        ] {
            // SAFETY: each atom was made by `new` in this runtime and is freed once.
            unsafe { qjs::JS_FreeAtom(raw, atom) };
        }
    }
}

/// The string of a wait result.
pub(crate) fn result_string<'js>(
    ctx: &Ctx<'js>,
    result: WaitResult,
) -> rquickjs::Result<Value<'js>> {
    let atom = with_local(|local| match result {
        WaitResult::Ok => local.atoms.ok,
        WaitResult::NotEqual => local.atoms.not_equal,
        WaitResult::TimedOut => local.atoms.timed_out,
    })
    .ok_or_else(|| rquickjs::Exception::throw_internal(ctx, "no agent on this thread"))?;
    // SAFETY: a live context and an atom of its runtime.
    let raw = unsafe { qjs::JS_AtomToValue(ctx.as_raw().as_ptr(), atom) };
    // SAFETY: a fresh value we own.
    Ok(unsafe { Value::from_raw(ctx.clone(), raw) })
}

/// `{ async, value }`, the result object of `Atomics.waitAsync`, made in one step.
pub(crate) fn wait_async_result<'js>(
    ctx: &Ctx<'js>,
    is_async: bool,
    value: Value<'js>,
) -> rquickjs::Result<Value<'js>> {
    let names = with_local(|local| [local.atoms.is_async, local.atoms.value])
        .ok_or_else(|| rquickjs::Exception::throw_internal(ctx, "no agent on this thread"))?;
    let raw = ctx.as_raw().as_ptr();
    let flag = Value::new_bool(ctx.clone(), is_async);
    // SAFETY: a live context; two atoms of its runtime and two values; the engine takes one
    // reference of each value, so we hand it duplicates and drop our wrappers.
    let object = unsafe {
        let values = [
            qjs::JS_DupValue(raw, flag.as_raw()),
            qjs::JS_DupValue(raw, value.as_raw()),
        ];
        qjs::JS_NewObjectFrom(raw, 2, names.as_ptr(), values.as_ptr())
    };
    // SAFETY: a fresh value (or the exception marker) that we own.
    let object = unsafe { Value::from_raw(ctx.clone(), object) };
    if object.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    Ok(object)
}

/// Blocks this thread until `future` settles; `None` if the agent was interrupted first (the
/// wait is withdrawn from its queue). It spins first, for the futex's adaptive window, as the
/// futex's own blocking wait does: a notify that lands meanwhile costs no sleep.
pub(crate) fn block_on_wait(mut future: WaitFuture<'static>) -> Option<WaitResult> {
    if let Some(result) = future.spin(None) {
        return Some(result);
    }
    let signal = with_local(|local| local.signal.clone());
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    loop {
        if signal.as_ref().is_some_and(|s| s.is_interrupted()) {
            // Whatever it was, this agent is going away; a notify that took it is spent.
            let _ = future.cancel();
            return None;
        }
        if let Poll::Ready(result) = Pin::new(&mut future).poll(&mut cx) {
            return Some(result);
        }
        thread::park();
    }
}

/// The promise of a queued `waitAsync` on the buffer whose first byte is `base`: settled by the
/// loop when the future's waker runs, or by the agent's timeout job at `deadline` (J1: the
/// waiter leaves the list only when that job runs, so a notify that comes first still wins).
pub(crate) fn settle_later<'js>(
    ctx: &Ctx<'js>,
    future: WaitFuture<'static>,
    base: usize,
    deadline: Option<Instant>,
) -> rquickjs::Result<Promise<'js>> {
    let (promise, resolve, _reject) = ctx.promise()?;
    let local = with_local(Rc::clone)
        .ok_or_else(|| rquickjs::Exception::throw_internal(ctx, "no agent on this thread"))?;
    // The record's key, taken now (its waker names it); nothing else inserts before it does.
    let id = local.waits.borrow().vacant_key() as u64;
    // The future keeps the waker it is polled with below; the loop reads the result later
    // without polling again (`Agent::poll_wait`).
    let waker = Waker::from(Arc::new(SettleWaker {
        signal: local.signal.clone(),
        id,
    }));
    let mut pending = PendingWait {
        future,
        resolve: Persistent::save(ctx, resolve),
        deadline,
        base,
    };
    if let Some(deadline) = deadline {
        local.wait_deadlines.borrow_mut().insert((deadline, id));
    }
    // Register the waker now: a notify from another thread may come at any moment. If it
    // already came, mark it settled ourselves (the promise still settles in a later task).
    if Pin::new(&mut pending.future)
        .poll(&mut TaskContext::from_waker(&waker))
        .is_ready()
    {
        lock(&local.signal.settled).push(id);
    }
    let pending_waits = {
        let mut waits = local.waits.borrow_mut();
        let key = waits.insert(pending);
        debug_assert_eq!(key as u64, id);
        waits.len()
    };
    if pending_waits % 1024 == 0 {
        make_room_for_waits(ctx, pending_waits);
    }
    Ok(promise)
}

/// Bytes allocated between cycle collections (see `Agent::new`).
pub(super) const GC_THRESHOLD: usize = 32 << 20;

/// Raises the collector's threshold so that pending waits alone do not make it run: each
/// collection scans every live object, and a script that queues 100,000 `waitAsync`s would
/// otherwise pay for a dozen full scans of its own promises.
fn make_room_for_waits(ctx: &Ctx<'_>, pending_waits: usize) {
    // SAFETY: the runtime of a live context.
    let runtime = unsafe { qjs::JS_GetRuntime(ctx.as_raw().as_ptr()) };
    let wanted = GC_THRESHOLD.max(pending_waits.saturating_mul(BYTES_PER_WAIT_ROOM)) as qjs::size_t;
    // SAFETY: as above.
    if unsafe { qjs::JS_GetGCThreshold(runtime) } < wanted {
        // SAFETY: as above.
        unsafe { qjs::JS_SetGCThreshold(runtime, wanted) };
    }
}

/// Room per pending wait when raising the collector's threshold: about twice what one costs
/// (a promise, its resolving functions, the result object and our record: about 700 bytes).
const BYTES_PER_WAIT_ROOM: usize = 2048;
