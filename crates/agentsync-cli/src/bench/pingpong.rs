//! `sync_pingpong` (and its `_parked` and `_loaded` forms), `thread_task_pingpong` and
//! `notify_no_waiters`: the cost of one wake-up.

use std::hint::black_box;
use std::sync::atomic::{
    AtomicBool, AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;
use std::time::Instant;

use super::{node, noted, ns_per, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC};
use crate::raw_futex;

/// Whose turn it is in a ping-pong.
const PING: u32 = 0; // the timing thread's turn
const PONG: u32 = 1; // the other side's turn

fn round_trips(config: &Config) -> usize {
    config.pick(50_000, 5_000)
}

/// Round trips beside busy threads: each may cost a scheduler time slice, so fewer.
fn loaded_trips(config: &Config) -> usize {
    config.pick(5_000, 500)
}

/// Two threads pass the turn back and forth through `turn`; `sleep(turn, value)` sleeps while
/// `turn` holds `value`, `wake(turn)` wakes the other side. Returns ns per round trip.
fn pingpong_threads(
    trips: usize,
    sleep: impl Fn(&AtomicU32, u32) + Sync,
    wake: impl Fn(&AtomicU32) + Sync,
) -> f64 {
    let turn = AtomicU32::new(PING);
    let pass = |mine: u32, theirs: u32| {
        // Acquire: pairs with the other side's Release store of `mine`.
        while turn.load(Acquire) != mine {
            sleep(&turn, theirs);
        }
        // Release: publishes this side's work before handing over.
        turn.store(theirs, Release);
        wake(&turn);
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..trips {
                pass(PONG, PING);
            }
        });
        let start = Instant::now();
        for _ in 0..trips {
            pass(PING, PONG);
        }
        while turn.load(Acquire) != PING {
            sleep(&turn, PONG);
        }
        ns_per(start.elapsed(), trips)
    })
}

fn sync_agentsync(config: &Config) -> Result<Outcome, String> {
    sync_agentsync_trips(round_trips(config))
}

fn sync_agentsync_trips(trips: usize) -> Result<Outcome, String> {
    let ns = pingpong_threads(
        trips,
        |turn, value| {
            let _ = agentsync::wait(turn, value, None);
        },
        |turn| {
            agentsync::notify(turn, 1);
        },
    );
    Ok(Outcome::Measured(Sample::new(ns)))
}

/// [`sync_agentsync`] with spinning off ([`agentsync::spin::set_enabled`]): the blocking path
/// alone, park and wake on every turn, as the raw futex does.
fn sync_agentsync_parked(config: &Config) -> Result<Outcome, String> {
    agentsync::spin::set_enabled(false);
    let outcome = sync_agentsync(config);
    agentsync::spin::set_enabled(true);
    outcome
}

/// Threads that keep both cores busy (pure computation, no yield) for the length of `run`, so
/// the ping-pong has more runnable threads than cores.
const BUSY_THREADS: usize = 2;

fn loaded(run: impl FnOnce() -> Result<Outcome, String>) -> Result<Outcome, String> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..BUSY_THREADS {
            scope.spawn(|| {
                let mut x = 1u64;
                while !stop.load(Relaxed) {
                    for _ in 0..1000 {
                        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                }
            });
        }
        let outcome = run();
        stop.store(true, Relaxed);
        outcome
    })
}

fn sync_raw_futex(config: &Config) -> Result<Outcome, String> {
    sync_raw_futex_trips(round_trips(config))
}

fn sync_raw_futex_trips(trips: usize) -> Result<Outcome, String> {
    if !raw_futex::AVAILABLE {
        return Ok(Outcome::Skipped("raw_futex: Linux only".into()));
    }
    let ns = pingpong_threads(trips, raw_futex::wait, |turn| {
        raw_futex::wake(turn, 1);
    });
    Ok(Outcome::Measured(Sample::new(ns)))
}

fn sync_std_park(config: &Config) -> Result<Outcome, String> {
    sync_std_park_trips(round_trips(config))
}

fn sync_std_park_trips(trips: usize) -> Result<Outcome, String> {
    let turn = Arc::new(AtomicU32::new(PING));
    let main = std::thread::current();
    let other_turn = Arc::clone(&turn);
    let other = std::thread::spawn(move || {
        for _ in 0..trips {
            while other_turn.load(Acquire) != PONG {
                std::thread::park();
            }
            other_turn.store(PING, Release);
            main.unpark();
        }
    });
    let start = Instant::now();
    for _ in 0..trips {
        turn.store(PONG, Release);
        other.thread().unpark();
        while turn.load(Acquire) != PING {
            std::thread::park();
        }
    }
    let ns = ns_per(start.elapsed(), trips);
    other
        .join()
        .map_err(|_| "the std_park partner thread panicked".to_string())?;
    Ok(Outcome::Measured(Sample::new(ns)))
}

/// A current-thread tokio runtime, as an event loop would have.
fn event_loop() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

fn task_agentsync(config: &Config) -> Result<Outcome, String> {
    let trips = config.pick(20_000, 2_000);
    let runtime = event_loop()?;
    let turn = AtomicU32::new(PING);
    let ns = std::thread::scope(|scope| {
        let turn = &turn;
        scope.spawn(move || {
            for _ in 0..trips {
                while turn.load(Acquire) != PONG {
                    let _ = agentsync::wait(turn, PING, None);
                }
                turn.store(PING, Release);
                agentsync::notify(turn, 1);
            }
        });
        // The task's thread is an event loop: it may not block, only wait_async.
        agentsync::agent::non_blocking(|| {
            runtime.block_on(async move {
                let start = Instant::now();
                for _ in 0..trips {
                    turn.store(PONG, Release);
                    agentsync::notify(turn, 1);
                    while turn.load(Acquire) != PING {
                        agentsync::wait_async(turn, PONG, None).await;
                    }
                }
                ns_per(start.elapsed(), trips)
            })
        })
    });
    Ok(Outcome::Measured(Sample::new(ns)))
}

fn task_tokio_notify(config: &Config) -> Result<Outcome, String> {
    let trips = config.pick(20_000, 2_000);
    let runtime = event_loop()?;
    let to_thread = tokio::sync::Notify::new();
    let to_task = tokio::sync::Notify::new();
    let ns = std::thread::scope(|scope| {
        let (to_thread, to_task) = (&to_thread, &to_task);
        scope.spawn(move || {
            for _ in 0..trips {
                futures_lite::future::block_on(to_thread.notified());
                to_task.notify_one();
            }
        });
        runtime.block_on(async move {
            let start = Instant::now();
            for _ in 0..trips {
                to_thread.notify_one();
                to_task.notified().await;
            }
            ns_per(start.elapsed(), trips)
        })
    });
    Ok(Outcome::Measured(Sample::new(ns)))
}

fn no_waiters_agentsync(config: &Config) -> Result<Outcome, String> {
    let operations = config.pick(5_000_000, 500_000);
    let word = AtomicU32::new(0);
    let mut woken = 0;
    let start = Instant::now();
    for _ in 0..operations {
        woken += agentsync::notify(black_box(&word), 1);
    }
    let elapsed = start.elapsed();
    if woken != 0 {
        return Err(format!("notify on a word nobody waits on woke {woken}"));
    }
    Ok(Outcome::Measured(Sample::new(ns_per(elapsed, operations))))
}

fn no_waiters_raw_futex(config: &Config) -> Result<Outcome, String> {
    if !raw_futex::AVAILABLE {
        return Ok(Outcome::Skipped("raw_futex: Linux only".into()));
    }
    let operations = config.pick(1_000_000, 100_000);
    let word = AtomicU32::new(0);
    let mut woken = 0;
    let start = Instant::now();
    for _ in 0..operations {
        woken += raw_futex::wake(black_box(&word), 1);
    }
    let elapsed = start.elapsed();
    if woken != 0 {
        return Err(format!("FUTEX_WAKE on a word nobody waits on woke {woken}"));
    }
    Ok(Outcome::Measured(Sample::new(ns_per(elapsed, operations))))
}

/// The wake-up scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "sync_pingpong",
        unit: "ns/round-trip",
        what: |_| "two threads hand a turn back and forth by wait/notify".into(),
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: sync_agentsync,
            },
            Impl {
                name: "raw_futex",
                run: sync_raw_futex,
            },
            Impl {
                name: "std_park",
                run: sync_std_park,
            },
            Impl {
                name: "node",
                run: |c| node::run("sync_pingpong", c),
            },
        ],
    },
    Scenario {
        name: "sync_pingpong_parked",
        unit: "ns/round-trip",
        what: |_| {
            "sync_pingpong with agentsync's spinning off: the blocking path alone (park and wake every turn)"
                .into()
        },
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: |c| {
                    noted(
                        sync_agentsync_parked(c),
                        "agentsync::spin::set_enabled(false)",
                    )
                },
            },
            Impl {
                name: "raw_futex",
                run: sync_raw_futex,
            },
            Impl {
                name: "std_park",
                run: sync_std_park,
            },
        ],
    },
    Scenario {
        name: "sync_pingpong_loaded",
        unit: "ns/round-trip",
        what: |c| {
            format!(
                "sync_pingpong ({} round trips) beside {BUSY_THREADS} threads that keep the cores busy",
                loaded_trips(c)
            )
        },
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: |c| loaded(|| sync_agentsync_trips(loaded_trips(c))),
            },
            Impl {
                name: "raw_futex",
                run: |c| loaded(|| sync_raw_futex_trips(loaded_trips(c))),
            },
            Impl {
                name: "std_park",
                run: |c| loaded(|| sync_std_park_trips(loaded_trips(c))),
            },
        ],
    },
    Scenario {
        name: "thread_task_pingpong",
        unit: "ns/round-trip",
        what: |_| {
            "a thread (blocking wait) and a task on a current-thread tokio runtime (async wait)"
                .into()
        },
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: task_agentsync,
            },
            Impl {
                name: "tokio_notify",
                run: task_tokio_notify,
            },
        ],
    },
    Scenario {
        name: "notify_no_waiters",
        unit: "ns/op",
        what: |_| "notify(1) on a word nobody waits on".into(),
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: no_waiters_agentsync,
            },
            Impl {
                name: "raw_futex",
                run: no_waiters_raw_futex,
            },
            Impl {
                name: "node",
                run: |c| node::run("notify_no_waiters", c),
            },
        ],
    },
];
