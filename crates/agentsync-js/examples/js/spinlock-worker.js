// spinlock-worker.js: one of the four workers of spinlock.js (run that file, not this one).
// It receives the shared array and N, adds 1 to ia[1] N times under the lock at ia[0],
// reports "done" and ends.
// ia[2] is a start barrier (see startTogether).

// The guide's spin lock.
function lock(ia, i) { while (Atomics.compareExchange(ia, i, 0, 1) !== 0) Atomics.pause(); }
function unlock(ia, i) { Atomics.store(ia, i, 0); }

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
