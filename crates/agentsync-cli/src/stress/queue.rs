//! The queue section: a bounded queue placed inside a `SharedMemory`, fed by producer threads
//! and tasks and drained by consumer threads and tasks, with timed and randomly cancelled
//! (dropped) sends and receives.
//!
//! Invariants checked at the end: every value sent was received exactly once; each consumer
//! saw each producer's values in the order they were sent; nothing was received that was not
//! sent; no waiter is left queued on the queue's words.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use agentsync::memory::SharedMemory;
use agentsync::sync::{QueueRef, RecvError, SendError};

use super::{Budget, Counters, Referee, Section};

/// The queue section.
pub(super) const SECTION: Section = Section {
    name: "queue",
    what: "a placed bounded queue: producer and consumer threads and tasks, timed and cancelled operations",
    run,
};

const CAPACITY: u32 = 16;
const THREAD_PRODUCERS: u32 = 2;
const TASK_PRODUCERS: u32 = 2;
const PRODUCERS: u32 = THREAD_PRODUCERS + TASK_PRODUCERS;
const CONSUMER_THREADS: usize = 2;
const CONSUMER_TASKS: usize = 2;
/// A value is `producer << 24 | sequence`.
const SEQUENCE_BITS: u32 = 24;

fn encode(producer: u32, sequence: u32) -> i32 {
    ((producer << SEQUENCE_BITS) | sequence) as i32
}

fn decode(value: i32) -> (u32, u32) {
    let value = value as u32;
    (value >> SEQUENCE_BITS, value & ((1 << SEQUENCE_BITS) - 1))
}

struct World {
    memory: Arc<SharedMemory>,
    counters: Arc<Counters>,
    referee: Referee,
    /// How many values each producer sent.
    sent: StdMutex<Vec<u32>>,
    /// Every value each consumer received, in order.
    received: StdMutex<Vec<Vec<i32>>>,
}

impl World {
    fn queue(&self) -> QueueRef<'_> {
        QueueRef::place(&self.memory, 0).expect("placed at setup")
    }

    fn sent_all(&self, producer: u32, count: u32) {
        if let Ok(mut sent) = self.sent.lock() {
            sent[producer as usize] = count;
        }
    }

    fn count(&self, outcome: &Result<(), SendError>) {
        self.counters.ops.fetch_add(1, Relaxed);
        match outcome {
            Ok(()) => self.counters.oks.fetch_add(1, Relaxed),
            Err(_) => self.counters.timeouts.fetch_add(1, Relaxed),
        };
    }
}

fn thread_producer(world: &World, producer: u32, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sequence = 0;
    while !world.referee.stopping() && sequence < (1 << SEQUENCE_BITS) - 1 {
        let value = encode(producer, sequence);
        let outcome = if rng.bool() {
            world.queue().send(value)
        } else {
            world
                .queue()
                .send_timeout(value, Duration::from_micros(rng.u64(1..200)))
        };
        world.count(&outcome);
        match outcome {
            Ok(()) => sequence += 1,
            Err(SendError::TimedOut(back)) if back == value => {}
            Err(other) => world
                .referee
                .violate(format!("producer {producer}: send failed: {other:?}")),
        }
    }
    world.sent_all(producer, sequence);
}

async fn task_producer(world: Arc<World>, producer: u32, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sequence = 0;
    while !world.referee.stopping() && sequence < (1 << SEQUENCE_BITS) - 1 {
        let value = encode(producer, sequence);
        let patience = Duration::from_micros(rng.u64(1..300));
        // Dropping a send that has not resolved means the value was not sent: resend it.
        match tokio::time::timeout(patience, world.queue().send_async(value)).await {
            Ok(outcome) => {
                world.count(&outcome);
                match outcome {
                    Ok(()) => sequence += 1,
                    Err(error) => world
                        .referee
                        .violate(format!("producer {producer}: send failed: {error:?}")),
                }
            }
            Err(_) => {
                world.counters.ops.fetch_add(1, Relaxed);
                world.counters.cancellations.fetch_add(1, Relaxed);
            }
        }
    }
    world.sent_all(producer, sequence);
}

fn thread_consumer(world: &World, seed: u64) -> Vec<i32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut got = Vec::new();
    loop {
        world.counters.ops.fetch_add(1, Relaxed);
        let outcome = if rng.bool() {
            world.queue().recv()
        } else {
            world
                .queue()
                .recv_timeout(Duration::from_micros(rng.u64(1..200)))
        };
        match outcome {
            Ok(value) => got.push(value),
            Err(RecvError::TimedOut) => {
                world.counters.timeouts.fetch_add(1, Relaxed);
            }
            Err(RecvError::Closed) => return got,
            Err(error) => {
                world.referee.violate(format!("recv failed: {error:?}"));
                return got;
            }
        }
    }
}

async fn task_consumer(world: Arc<World>, seed: u64) -> Vec<i32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut got = Vec::new();
    loop {
        world.counters.ops.fetch_add(1, Relaxed);
        let patience = Duration::from_micros(rng.u64(1..300));
        // A dropped receive took no value.
        match tokio::time::timeout(patience, world.queue().recv_async()).await {
            Ok(Ok(value)) => got.push(value),
            Ok(Err(RecvError::Closed)) => return got,
            Ok(Err(error)) => {
                world.referee.violate(format!("recv failed: {error:?}"));
                return got;
            }
            Err(_) => {
                world.counters.cancellations.fetch_add(1, Relaxed);
            }
        }
    }
}

fn run(budget: &Budget) -> Vec<String> {
    let memory = match super::one_page_memory() {
        Ok(memory) => memory,
        Err(error) => return vec![error],
    };
    if let Err(error) = QueueRef::place_new(&memory, 0, CAPACITY) {
        return vec![format!("cannot place the queue: {error}")];
    }
    let world = Arc::new(World {
        memory,
        counters: Arc::clone(&budget.counters),
        referee: Referee::default(),
        sent: StdMutex::new(vec![0; PRODUCERS as usize]),
        received: StdMutex::new(Vec::new()),
    });
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(error) => return vec![error],
    };
    let seed = fastrand::u64(..);
    let producer_tasks: Vec<_> = (0..TASK_PRODUCERS)
        .map(|i| {
            runtime.spawn(task_producer(
                Arc::clone(&world),
                THREAD_PRODUCERS + i,
                seed ^ u64::from(10 + i),
            ))
        })
        .collect();
    let consumer_tasks: Vec<_> = (0..CONSUMER_TASKS as u64)
        .map(|i| runtime.spawn(task_consumer(Arc::clone(&world), seed ^ (20 + i))))
        .collect();
    let mut failures = Vec::new();
    std::thread::scope(|scope| {
        let consumers: Vec<_> = (0..CONSUMER_THREADS as u64)
            .map(|i| {
                let world = &world;
                scope.spawn(move || thread_consumer(world, seed ^ (30 + i)))
            })
            .collect();
        let producers: Vec<_> = (0..THREAD_PRODUCERS)
            .map(|p| {
                let world = &world;
                scope.spawn(move || thread_producer(world, p, seed ^ u64::from(40 + p)))
            })
            .collect();
        std::thread::sleep(budget.until.saturating_duration_since(Instant::now()));
        world.referee.stop();
        for producer in producers {
            if producer.join().is_err() {
                failures.push("a producer thread panicked".to_string());
            }
        }
        runtime.block_on(async {
            for task in producer_tasks {
                if let Err(error) = task.await {
                    failures.push(format!("a producer task failed: {error}"));
                }
            }
        });
        // Every producer has stopped: close, and the consumers drain what is left.
        world.queue().close();
        let mut received = Vec::new();
        for consumer in consumers {
            match consumer.join() {
                Ok(got) => received.push(got),
                Err(_) => failures.push("a consumer thread panicked".to_string()),
            }
        }
        runtime.block_on(async {
            for task in consumer_tasks {
                match task.await {
                    Ok(got) => received.push(got),
                    Err(error) => failures.push(format!("a consumer task failed: {error}")),
                }
            }
        });
        if let Ok(mut all) = world.received.lock() {
            *all = received;
        }
    });
    failures.extend(world.referee.violations());
    failures.extend(check(&world));
    failures
}

fn check(world: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let sent = world.sent.lock().map(|s| s.clone()).unwrap_or_default();
    let received = world.received.lock().map(|r| r.clone()).unwrap_or_default();
    let mut seen: Vec<Vec<bool>> = sent.iter().map(|&n| vec![false; n as usize]).collect();
    for (consumer, values) in received.iter().enumerate() {
        let mut last: Vec<Option<u32>> = vec![None; sent.len()];
        for &value in values {
            let (producer, sequence) = decode(value);
            let Some(slot) = seen
                .get_mut(producer as usize)
                .and_then(|s| s.get_mut(sequence as usize))
            else {
                failures.push(format!(
                    "consumer {consumer} received {value:#x}, which was never sent"
                ));
                continue;
            };
            if std::mem::replace(slot, true) {
                failures.push(format!(
                    "producer {producer}'s value {sequence} was received twice"
                ));
            }
            if last[producer as usize].is_some_and(|previous| previous >= sequence) {
                failures.push(format!(
                    "consumer {consumer} saw producer {producer}'s value {sequence} after a later one"
                ));
            }
            last[producer as usize] = Some(sequence);
        }
    }
    for (producer, flags) in seen.iter().enumerate() {
        let lost = flags.iter().filter(|&&got| !got).count();
        if lost > 0 {
            failures.push(format!(
                "{lost} of producer {producer}'s {} values were never received",
                flags.len()
            ));
        }
    }
    let base = world.memory.as_ptr() as usize;
    let left: usize = (0..QueueRef::size_for(CAPACITY))
        .step_by(4)
        .map(|o| agentsync::waiter_count_addr(base + o))
        .sum();
    if left != 0 {
        failures.push(format!(
            "leftover waiter: {left} still queued on the queue's words"
        ));
    }
    failures.truncate(20);
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_reports_lost_duplicated_reordered_and_unknown_values() {
        let memory = SharedMemory::new(1, 1).unwrap();
        QueueRef::place_new(&memory, 0, CAPACITY).unwrap();
        let world = World {
            memory,
            counters: Arc::new(Counters::default()),
            referee: Referee::default(),
            sent: StdMutex::new(vec![4, 0, 0, 0]),
            // Value 3 lost, value 1 twice, value 1 after 2, and one never sent.
            received: StdMutex::new(vec![vec![
                encode(0, 0),
                encode(0, 2),
                encode(0, 1),
                encode(0, 1),
                encode(2, 5),
            ]]),
        };
        let failures = check(&world).join("\n");
        assert!(
            failures.contains("value 1 was received twice"),
            "{failures}"
        );
        assert!(failures.contains("value 1 after a later one"), "{failures}");
        assert!(
            failures.contains("1 of producer 0's 4 values were never received"),
            "{failures}"
        );
        assert!(failures.contains("which was never sent"), "{failures}");
    }
}
