//! Extensions: each feature of the host (Atomics on the futex, console and timers, Worker and
//! messaging, WebAssembly) is one, listed once in `crate::extensions`. The agent core installs
//! them in that order into every agent, calls their hooks, and knows nothing else of them; an
//! extension depends on the core, never on another extension.

use std::sync::Mutex;

use rquickjs::{Ctx, Object};

/// What an extension's `install` may need to know about the agent it installs into.
pub(crate) struct Setup {
    /// The main agent (cannot block unless the host says so), not a worker.
    pub(crate) is_main: bool,
    /// The host runs QuickJS-ng's own `Atomics.wait` / `notify` (for comparison).
    pub(crate) engine_atomics: bool,
}

/// One feature of the host.
pub(crate) struct Extension {
    /// Its name, for errors and docs.
    pub(crate) name: &'static str,
    /// Installs its globals, and its natives on `host`, the object the prelude builds on.
    pub(crate) install: for<'js> fn(&Ctx<'js>, &Object<'js>, &Setup) -> rquickjs::Result<()>,
    /// Also installed into a realm that `$262.createRealm()` makes.
    pub(crate) in_realms: bool,
    /// Called (on the interrupting thread) when any agent is interrupted. Per-agent state needs
    /// no end hook: it lives in the agent's slots (`agent::slot`) and ends with the agent.
    pub(crate) on_interrupt: Option<fn()>,
}

/// The interrupt hooks of the extensions installed so far (each once).
static INTERRUPT_HOOKS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Remembers `extension`'s interrupt hook, once.
pub(crate) fn register(extension: &Extension) {
    if let Some(hook) = extension.on_interrupt {
        let mut hooks = INTERRUPT_HOOKS.lock().unwrap_or_else(|p| p.into_inner());
        if !hooks.iter().any(|h| std::ptr::fn_addr_eq(*h, hook)) {
            hooks.push(hook);
        }
    }
}

/// Runs every registered interrupt hook.
pub(crate) fn interrupted() {
    let hooks = INTERRUPT_HOOKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for hook in hooks {
        hook();
    }
}
