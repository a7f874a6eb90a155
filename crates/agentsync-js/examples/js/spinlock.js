// spinlock.js: the guide's compare-exchange spin lock, on four workers.
//
// Four workers each add 1 to a shared counter N times. The increment is a plain, non-atomic
// read-modify-write (`ia[1] = ia[1] + 1`); only the lock makes it exact, so a wrong total would
// show a broken lock (or a broken Atomics underneath). The workers are in spinlock-worker.js.
// The main agent may not block, so it learns that the workers are done from their messages.
//
// Run (N defaults to 20000):
//   agentsync js spinlock.js [N]
//   node --require ../../js/node-shim.cjs spinlock.js [N]
// Prints one line, `counter: 4N (expected 4N)`; a wrong count throws, so the run exits 1.

const WORKERS = 4;
const n = agentsync.args.length > 0 ? Number.parseInt(agentsync.args[0], 10) : 20000;
if (!(n >= 0)) throw new Error('N must be a non-negative integer, not ' + agentsync.args[0]);

// [0] the lock word (0 free, 1 held), [1] the counter it protects, [2] the workers' start barrier.
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
  const worker = new Worker('spinlock-worker.js');
  worker.onmessage = workerDone;
  worker.postMessage({ ia, n, workers: WORKERS });
}
