//! `setTimeout` / `setInterval`: an agent's timers, ordered by due time, then by creation.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::{Ctx, Function, Persistent, Value};

use super::Local;

/// A timer's callback and how it repeats.
pub(crate) struct Timer {
    id: u64,
    callback: Persistent<Function<'static>>,
    args: Vec<Persistent<Value<'static>>>,
    repeat: Option<Duration>,
}

/// The timers of one agent.
#[derive(Default)]
pub(crate) struct Timers {
    next_id: u64,
    queue: BTreeMap<(Instant, u64), Timer>,
    due_of: HashMap<u64, Instant>,
    /// The timer whose callback runs now, and whether it was cleared meanwhile.
    firing: Option<(u64, bool)>,
}

impl Timers {
    /// Schedules `callback(...args)` after `delay` (and every `delay` after that if
    /// `repeat`); returns its id, a positive integer.
    pub(crate) fn add(
        &mut self,
        delay: Duration,
        callback: Persistent<Function<'static>>,
        args: Vec<Persistent<Value<'static>>>,
        repeat: bool,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let timer = Timer {
            id,
            callback,
            args,
            repeat: repeat.then_some(delay),
        };
        self.insert(Instant::now() + delay, timer);
        id
    }

    fn insert(&mut self, due: Instant, timer: Timer) {
        self.due_of.insert(timer.id, due);
        self.queue.insert((due, timer.id), timer);
    }

    /// `clearTimeout` / `clearInterval`: unknown ids are ignored.
    pub(crate) fn cancel(&mut self, id: u64) {
        if let Some(due) = self.due_of.remove(&id) {
            self.queue.remove(&(due, id));
        }
        if let Some((firing, cleared)) = &mut self.firing {
            if *firing == id {
                *cleared = true;
            }
        }
    }

    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.queue.keys().next().map(|(due, _)| *due)
    }

    /// The first timer due at `now`, taken out of the queue.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let (&(due, id), _) = self
            .queue
            .iter()
            .next()
            .filter(|((due, _), _)| *due <= now)?;
        self.due_of.remove(&id);
        self.queue.remove(&(due, id))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.due_of.clear();
    }
}

/// Runs `timer`'s callback; an interval is scheduled again unless its callback cleared it.
pub(crate) fn fire(ctx: &Ctx<'_>, local: &Rc<Local>, timer: Timer) -> rquickjs::Result<()> {
    let callback = timer.callback.clone().restore(ctx)?;
    let args = timer
        .args
        .iter()
        .map(|a| a.clone().restore(ctx))
        .collect::<rquickjs::Result<Vec<_>>>()?;
    local.timers.borrow_mut().firing = Some((timer.id, false));
    let mut call_args = rquickjs::function::Args::new(ctx.clone(), args.len());
    call_args.push_args(args)?;
    let result = callback.call_arg::<Value>(call_args);
    let mut timers = local.timers.borrow_mut();
    let cleared = timers.firing.take().is_some_and(|(_, cleared)| cleared);
    if let (Some(every), false) = (timer.repeat, cleared) {
        timers.insert(Instant::now() + every, timer);
    }
    result.map(drop)
}
