// parking_lock-worker.js: one of the two workers of parking_lock_2w.js (run that, not this file).
// The message {shared, count, role} starts it. Both workers take and release the guide's parking
// lock COUNT times, adding 1 to a plain counter inside. The "timer" worker times from the moment
// both have arrived until both have finished, and posts {ns, counter}; ns is per lock/unlock pair.
//
// shared: [0] the lock, [1] the counter, [2] arrivals, [3] finished workers.

// The guide's three-state lock: 0 free, 1 held, 2 held and someone may be waiting.
function lock(ia, i) {
  let c = Atomics.compareExchange(ia, i, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = Atomics.exchange(ia, i, 2);
  while (c !== 0) {
    Atomics.wait(ia, i, 2);
    c = Atomics.exchange(ia, i, 2);
  }
}
function unlock(ia, i) {
  if (Atomics.exchange(ia, i, 0) === 2) Atomics.notify(ia, i, 1);
}

const WORKERS = 2;

// Adds 1 at shared[index] and blocks until it reaches WORKERS.
function meet(shared, index) {
  if (Atomics.add(shared, index, 1) + 1 === WORKERS) {
    Atomics.notify(shared, index);
    return;
  }
  for (let seen = Atomics.load(shared, index); seen !== WORKERS; seen = Atomics.load(shared, index)) {
    Atomics.wait(shared, index, seen);
  }
}

onmessage = (event) => {
  const { shared, count, role } = event.data;
  meet(shared, 2);
  const start = performance.now();
  for (let k = 0; k < count; k++) {
    lock(shared, 0);
    shared[1] = shared[1] + 1;
    unlock(shared, 0);
  }
  meet(shared, 3);
  if (role === 'timer') {
    const ns = ((performance.now() - start) * 1e6) / (WORKERS * count);
    postMessage({ ns, counter: Atomics.load(shared, 1) });
  }
  close();
};
