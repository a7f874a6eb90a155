// The js stress section (agentsync stress): CONFIG = { workers, ms } is defined before this
// script runs, and WORKER is the workers' source.
//
// Words 0..WORDS-1 of `ia` stay 0 for the whole run: a wait on them with expected 0 ends "ok"
// (a notify woke it) or "timed-out"; with expected 1 it is "not-equal". Word STOP is set by the
// main agent when the time budget is spent.
//
// Every agent counts the "ok" results it got and the sum of what its Atomics.notify calls
// returned. After STOP no agent starts a wait; the main agent then notifies every word (and
// counts it) until every worker has reported and its own waitAsync promises have settled, so a
// waiter blocked without a timeout is always woken by a counted notify. The main agent prints
// one line: `totals {json}` with the sums over all agents.

const WORDS = 4;
const STOP = WORDS;
const ia = new Int32Array(new SharedArrayBuffer((WORDS + 1) * 4));

function fresh() {
  return { waits: 0, notifies: 0, woken: 0, oks: 0, notEqual: 0, timeouts: 0 };
}
function count(totals, result) {
  if (result === 'ok') totals.oks += 1;
  else if (result === 'not-equal') totals.notEqual += 1;
  else if (result === 'timed-out') totals.timeouts += 1;
  else throw new Error(`unexpected wait result ${result}`);
}
function add(into, from) {
  for (const key of Object.keys(into)) into[key] += from[key];
}

const totals = fresh();
let pending = 0; // main's unsettled waitAsync promises
let reported = 0;

function waitAsyncOnMain() {
  const word = Math.floor(Math.random() * WORDS);
  const expected = Math.random() < 0.05 ? 1 : 0;
  const timeout = Math.random() < 0.2 ? Infinity : Math.random() * 5;
  totals.waits += 1;
  const result = Atomics.waitAsync(ia, word, expected, timeout);
  if (!result.async) {
    count(totals, result.value);
    return;
  }
  pending += 1;
  result.value.then((value) => {
    pending -= 1;
    count(totals, value);
  });
}
function notifyOnMain(word, howMany) {
  totals.notifies += 1;
  totals.woken += Atomics.notify(ia, word, howMany);
}

for (let w = 0; w < CONFIG.workers; w++) {
  const worker = new Worker(WORKER, { eval: true });
  worker.onmessage = (event) => {
    add(totals, event.data);
    reported += 1;
  };
  worker.postMessage(ia);
}

function busy() {
  if (Atomics.load(ia, STOP) !== 0) return;
  for (let k = 0; k < 20; k++) {
    if (Math.random() < 0.5) waitAsyncOnMain();
    else notifyOnMain(Math.floor(Math.random() * WORDS), Math.random() < 0.3 ? Infinity : 1);
  }
  setTimeout(busy, 0);
}
function drain() {
  for (let word = 0; word < WORDS; word++) notifyOnMain(word, Infinity);
  if (reported < CONFIG.workers || pending > 0) {
    setTimeout(drain, 1);
    return;
  }
  print(`totals ${JSON.stringify(totals)}`);
}
busy();
setTimeout(() => {
  Atomics.store(ia, STOP, 1);
  drain();
}, CONFIG.ms);
