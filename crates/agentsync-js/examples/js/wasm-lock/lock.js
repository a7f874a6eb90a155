// lock.js: the guide's Wasm lock (lock.wat) shared by four workers, each running its own
// instance of one module over one shared WebAssembly.Memory, while the main agent takes the
// same parking lock from JavaScript. The main agent may not block, so where a worker's guest
// sleeps in memory.atomic.wait32 it awaits Atomics.waitAsync on the same word: guest waits and
// the main agent's promise share one FIFO queue, so the guest's memory.atomic.notify resolves
// the promise and the main agent's Atomics.notify wakes a guest.
//
// Run (N defaults to 20000; --verbose also prints how often the main agent slept):
//   agentsync js lock.js [N] [--verbose]          (or: cargo run -p agentsync-js --example jsrun -- lock.js)
// Prints two lines:
//   spin counter: 4N (expected 4N)
//   parking counter: 5N (expected 5N)
// A wrong count throws, so the run exits 1.

const WORKERS = 4;
const n = agentsync.args.length > 0 ? Number.parseInt(agentsync.args[0], 10) : 20000;
if (!(n >= 0)) throw new Error('N must be a non-negative integer, not ' + agentsync.args[0]);

const module = new WebAssembly.Module(readbuffer('lock.wat'));
const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const ia = new Int32Array(memory.buffer);
const LOCK = 0; // word of the parking lock (byte 0)
const COUNTER = 1; // word of its counter (byte 4)
const SPIN_COUNTER = 3; // word of the spin lock's counter (byte 12)

// The same three-state protocol as $park_lock / $park_unlock, without blocking.
async function lockAsync() {
  let was = Atomics.compareExchange(ia, LOCK, 0, 1);
  if (was === 0) return;
  if (was !== 2) was = Atomics.exchange(ia, LOCK, 2);
  while (was !== 0) {
    const wait = Atomics.waitAsync(ia, LOCK, 2);
    if (wait.async) {
      mainSlept += 1;
      await wait.value;
    }
    was = Atomics.exchange(ia, LOCK, 2);
  }
}
function unlock() {
  if (Atomics.exchange(ia, LOCK, 0) === 2) Atomics.notify(ia, LOCK, 1);
}

const READY = 4; // word where workers check in (byte 16)
const GO = 5; // word the workers sleep on until everyone is ready (byte 20)

let ready = 0;
let finished = 0;
let mainDone = false;
let mainSlept = 0;
function check() {
  if (finished < WORKERS || !mainDone) return;
  const spin = Atomics.load(ia, SPIN_COUNTER);
  const parking = Atomics.load(ia, COUNTER);
  print(`spin counter: ${spin} (expected ${WORKERS * n})`);
  print(`parking counter: ${parking} (expected ${(WORKERS + 1) * n})`);
  if (spin !== WORKERS * n || parking !== (WORKERS + 1) * n) {
    throw new Error(`lost updates: spin ${spin}, parking ${parking}`);
  }
  if (agentsync.args.includes('--verbose')) print(`main agent slept in waitAsync ${mainSlept} times`);
}

// The main agent counts too, once every worker is ready, so that it really contends with them.
async function count() {
  for (let k = 0; k < n; k++) {
    await lockAsync();
    ia[COUNTER] = ia[COUNTER] + 1; // deliberately not atomic: the lock is what makes it safe
    unlock();
  }
  mainDone = true;
  check();
}

for (let w = 0; w < WORKERS; w++) {
  const worker = new Worker('lock-worker.js');
  worker.onmessage = (event) => {
    if (event.data === 'ready') {
      ready += 1;
      if (ready === WORKERS) {
        Atomics.store(ia, GO, 1);
        Atomics.notify(ia, GO);
        count();
      }
      return;
    }
    finished += 1;
    check();
  };
  worker.postMessage({ module, memory, n });
}
