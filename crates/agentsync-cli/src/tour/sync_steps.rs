//! Tour steps for layer 3: each primitive, live, from threads and an async task on the same
//! words. The demonstrations are the very code of `crates/agentsync/examples/primitives.rs`;
//! each asserts its own invariant, and a failed assertion is a failed tour check.

use super::{Checks, Step};

/// The examples print with `println!`, which panics on a closed stdout; inside the tour their
/// lines go through [`crate::output`] instead (indented as a step's lines are).
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::output::line_or_keep(format_args!("  {}", format_args!($($arg)*)))
    };
}

#[allow(dead_code)]
#[path = "../../../agentsync/examples/primitives.rs"]
mod primitives;

/// The layer 3 steps.
pub(super) const STEPS: &[Step] = &[
    Step {
        title: "spin lock and mutex",
        what: "the compare-exchange spin lock, and the 0/1/2 futex mutex: two threads and one task increment one counter",
        run: |checks| demo(checks, &[("spin lock", primitives::spin_lock), ("mutex", primitives::mutex)]),
    },
    Step {
        title: "handoff, event and condvar",
        what: "a one-shot publish reaching a thread and a task, a resettable event, a condvar waking a thread and a task",
        run: |checks| {
            demo(
                checks,
                &[("handoff and event", primitives::handoff_and_event), ("condvar", primitives::condvar)],
            )
        },
    },
    Step {
        title: "semaphore, barrier, latch and rwlock",
        what: "permits never exceeded, barrier generations never mixed, a latch released once, readers never seeing half a write",
        run: |checks| {
            demo(
                checks,
                &[
                    ("semaphore", primitives::semaphore),
                    ("barrier and latch", primitives::barrier_and_latch),
                    ("rwlock", primitives::rwlock),
                ],
            )
        },
    },
    Step {
        title: "the bounded queue in shared words",
        what: "a ring of slots with per-slot sequence words: values from a thread and a task arrive exactly once",
        run: |checks| demo(checks, &[("queue", primitives::queue)]),
    },
];

/// Runs each demonstration; it prints what it did and asserts its invariant.
fn demo(checks: &mut Checks, demos: &[(&str, fn())]) -> Result<(), String> {
    for (name, run) in demos {
        let held = std::panic::catch_unwind(run).is_ok();
        checks.check(&format!("{name}: its invariant held"), held);
    }
    Ok(())
}
