//! Message ports: the two ends of a `MessageChannel`, and the members of a `BroadcastChannel`,
//! each an id in one registry of the process. A port belongs to one agent at a time, whose
//! inbox receives what is posted to it; posting a port in a message's transfer list takes it
//! from its agent (it is in transit: what arrives for it meanwhile is kept) until the agent
//! that receives the message claims it. An agent's ports are closed when it ends, and so are
//! the ports of a message that is never delivered.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::{lock, slot, Event, Signal};
use crate::clone::Message;

/// One port.
struct Port {
    /// The agent it belongs to; `None` while it travels in a message.
    owner: Option<Arc<Signal>>,
    /// The other end of its channel (`None` for a broadcast member, or once that end closed).
    peer: Option<u64>,
    /// What arrived while it travelled.
    pending: Vec<Message>,
    /// The broadcast channel it is a member of.
    broadcast: Option<String>,
}

#[derive(Default)]
struct Registry {
    ports: HashMap<u64, Port>,
    broadcasts: HashMap<String, Vec<u64>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

fn with<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    f(lock(&REGISTRY).get_or_insert_with(Registry::default))
}

/// The ports the current agent owns, closed when it ends.
#[derive(Default)]
struct Owned(RefCell<HashSet<u64>>);

impl Drop for Owned {
    fn drop(&mut self) {
        for id in self.0.borrow_mut().drain() {
            close(id);
        }
    }
}

fn own(id: u64) {
    if let Some(owned) = slot::<Owned>() {
        owned.0.borrow_mut().insert(id);
    }
}

fn disown(id: u64) {
    if let Some(owned) = slot::<Owned>() {
        owned.0.borrow_mut().remove(&id);
    }
}

/// A new entangled pair of ports, both owned by the current agent (`signal`).
pub(crate) fn pair(signal: &Arc<Signal>) -> (u64, u64) {
    let (a, b) = (NEXT.fetch_add(1, Relaxed), NEXT.fetch_add(1, Relaxed));
    with(|registry| {
        for (id, peer) in [(a, b), (b, a)] {
            registry.ports.insert(
                id,
                Port {
                    owner: Some(signal.clone()),
                    peer: Some(peer),
                    pending: Vec::new(),
                    broadcast: None,
                },
            );
        }
    });
    own(a);
    own(b);
    (a, b)
}

/// A new member of the broadcast channel `name`, owned by the current agent.
pub(crate) fn join_broadcast(signal: &Arc<Signal>, name: String) -> u64 {
    let id = NEXT.fetch_add(1, Relaxed);
    with(|registry| {
        registry
            .broadcasts
            .entry(name.clone())
            .or_default()
            .push(id);
        registry.ports.insert(
            id,
            Port {
                owner: Some(signal.clone()),
                peer: None,
                pending: Vec::new(),
                broadcast: Some(name),
            },
        );
    });
    own(id);
    id
}

/// The other members of `id`'s broadcast channel, oldest first.
pub(crate) fn broadcast_targets(id: u64) -> Vec<u64> {
    with(|registry| {
        let Some(name) = registry.ports.get(&id).and_then(|p| p.broadcast.clone()) else {
            return Vec::new();
        };
        registry
            .broadcasts
            .get(&name)
            .map(|members| members.iter().copied().filter(|m| *m != id).collect())
            .unwrap_or_default()
    })
}

/// The other end of `id`'s channel, if it is still open.
pub(crate) fn peer(id: u64) -> Option<u64> {
    with(|registry| registry.ports.get(&id).and_then(|p| p.peer))
}

/// Delivers `message` to port `to`: into its owner's inbox, or kept while it travels. A
/// closed port drops it (as the HTML standard says).
pub(crate) fn send(to: u64, message: Message) {
    let mut message = Some(message);
    let owner = with(|registry| {
        let port = registry.ports.get_mut(&to)?;
        match &port.owner {
            Some(owner) => Some(owner.clone()),
            None => {
                port.pending.extend(message.take());
                None
            }
        }
    });
    if let (Some(owner), Some(message)) = (owner, message) {
        owner.post(Event::PortMessage { port: to, message });
    }
    // Otherwise kept, or dropped (a closed port), its own ports closed outside the lock.
}

/// Takes port `id` out of the current agent for a message's transfer list; `false` if it is
/// not one of this agent's ports (closed, or already transferred).
pub(crate) fn detach(signal: &Arc<Signal>, id: u64) -> bool {
    let detached = with(|registry| match registry.ports.get_mut(&id) {
        Some(port) if port.owner.as_ref().is_some_and(|o| Arc::ptr_eq(o, signal)) => {
            port.owner = None;
            true
        }
        _ => false,
    });
    if detached {
        disown(id);
    }
    detached
}

/// Makes port `id` (arrived in a message) the current agent's, and delivers what arrived for
/// it meanwhile.
pub(crate) fn claim(signal: &Arc<Signal>, id: u64) {
    let pending = with(|registry| {
        let port = registry.ports.get_mut(&id)?;
        port.owner = Some(signal.clone());
        Some(std::mem::take(&mut port.pending))
    });
    if let Some(pending) = pending {
        own(id);
        for message in pending {
            signal.post(Event::PortMessage { port: id, message });
        }
    }
}

/// Closes port `id`: its channel's other end is no longer entangled with it.
pub(crate) fn close(id: u64) {
    let pending = with(|registry| {
        let port = registry.ports.remove(&id)?;
        if let Some(peer) = port.peer.and_then(|p| registry.ports.get_mut(&p)) {
            peer.peer = None;
        }
        if let Some(name) = &port.broadcast {
            if let Some(members) = registry.broadcasts.get_mut(name) {
                members.retain(|m| *m != id);
                if members.is_empty() {
                    registry.broadcasts.remove(name);
                }
            }
        }
        Some(port.pending)
    });
    disown(id);
    // Dropped outside the registry's lock: a message's drop closes the ports it carries.
    drop(pending);
}

/// How many ports are open (for tests: none may be left behind).
pub(crate) fn open_count() -> usize {
    with(|registry| registry.ports.len())
}
