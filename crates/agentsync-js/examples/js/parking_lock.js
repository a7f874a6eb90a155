// parking_lock.js: the guide's three-state lock (0 free, 1 held, 2 held with waiters), on four
// workers. A worker that finds the lock taken parks in Atomics.wait instead of spinning, and
// unlock wakes one parked worker only when the state says someone may be parked.
//
// Four workers each add 1 to a shared counter N times with a plain, non-atomic
// `ia[1] = ia[1] + 1` under the lock; the workers are in parking_lock-worker.js. The main agent
// may not block, so it learns that the workers are done from their messages.
//
// Run (N defaults to 20000):
//   agentsync js parking_lock.js [N]
//   node --require ../../js/node-shim.cjs parking_lock.js [N]
// Prints one line, `counter: 4N (expected 4N)`; a wrong count throws, so the run exits 1.

const WORKERS = 4;
const n = agentsync.args.length > 0 ? Number.parseInt(agentsync.args[0], 10) : 20000;
if (!(n >= 0)) throw new Error('N must be a non-negative integer, not ' + agentsync.args[0]);

// [0] the lock word, [1] the counter it protects, [2] the workers' start barrier.
const ia = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));

let finished = 0;
function workerDone() {
  finished += 1;
  if (finished < WORKERS) return;
  const counter = Atomics.load(ia, 1);
  const expected = WORKERS * n;
  print(`counter: ${counter} (expected ${expected})`);
  if (counter !== expected) throw new Error(`lost updates: counter is ${counter}, expected ${expected}`);
}

for (let w = 0; w < WORKERS; w++) {
  const worker = new Worker('parking_lock-worker.js');
  worker.onmessage = workerDone;
  worker.postMessage({ ia, n, workers: WORKERS });
}
