// parking_lock-worker.js: one of the four workers of parking_lock.js (run that file, not this
// one). It receives the shared array and N, adds 1 to ia[1] N times under the lock at ia[0],
// reports "done" and ends.
// ia[2] is a start barrier (see startTogether).

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

// All workers start counting together, so that they really contend for the lock: each one
// checks in at ia[2] and blocks until the last one has arrived (workers may block).
function startTogether(ia, workers) {
  if (Atomics.add(ia, 2, 1) + 1 === workers) {
    Atomics.notify(ia, 2);
    return;
  }
  for (let seen = Atomics.load(ia, 2); seen !== workers; seen = Atomics.load(ia, 2)) {
    Atomics.wait(ia, 2, seen);
  }
}

onmessage = (event) => {
  const { ia, n, workers } = event.data;
  startTogether(ia, workers);
  for (let k = 0; k < n; k++) {
    lock(ia, 0);
    ia[1] = ia[1] + 1; // deliberately not atomic: the lock is what makes it safe
    unlock(ia, 0);
  }
  postMessage('done');
  close();
};
