//! The run state every store of ours carries, shared by compile, host and runtime: how a guest
//! starts threads and how its blocking waits sleep. A leaf: it depends on nothing of the crate
//! but the cancel slot, so the modules that use it do not depend on each other through it.

use std::sync::Arc;

use crate::cancel::WaitSlot;

/// What a store's `agentsync.thread_spawn` import calls: starts a thread running the program's
/// `thread_start(id, arg)` and returns its id, or -1 if it could not be started.
pub(crate) trait SpawnThread: Send + Sync {
    fn spawn(self: Arc<Self>, arg: i32) -> i32;
}

/// How a guest's blocking wait sleeps when its embedder must be able to stop it: given the
/// queued wait, it returns the result, or `None` if the thread was told to stop (the wait
/// must then be withdrawn from its queue; the guest traps with [`Trap::Cancelled`]).
///
/// The JS host uses one so that `worker.terminate()` ends a worker blocked in
/// `memory.atomic.wait32`, as it ends one blocked in `Atomics.wait`.
///
/// [`Trap::Cancelled`]: crate::Trap::Cancelled
pub type Blocker =
    Arc<dyn Fn(agentsync::WaitFuture<'static>) -> Option<agentsync::WaitResult> + Send + Sync>;

/// The data every store of ours carries: how a guest may start threads, and how it waits.
#[derive(Default)]
pub struct GuestState {
    pub(crate) spawner: Option<Arc<dyn SpawnThread>>,
    /// This store's thread in its run's cancel, for the wait host functions.
    pub(crate) wait_slot: Option<Arc<WaitSlot>>,
    /// Sleeps for the guest's blocking waits instead of the futex's own blocking wait.
    pub(crate) blocker: Option<Blocker>,
    /// The WASI context of a WASI command's store (shared by all threads of the run).
    pub(crate) wasi: Option<wasi_common::WasiCtx>,
}

impl GuestState {
    /// The store's WASI context. A store that has none (only a WASI command's linker asks)
    /// gets an empty one: no arguments, no environment, no files.
    pub(crate) fn wasi_ctx(&mut self) -> &mut wasi_common::WasiCtx {
        self.wasi
            .get_or_insert_with(|| wasi_common::sync::WasiCtxBuilder::new().build())
    }
}

impl GuestState {
    /// A store state whose guest waits sleep through `blocker` (see [`Blocker`]).
    pub fn with_blocker(blocker: Blocker) -> GuestState {
        GuestState {
            blocker: Some(blocker),
            ..GuestState::default()
        }
    }
}
