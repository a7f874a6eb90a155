// The Node.js (V8) side of `agentsync bench`: the reference implementation of
// Atomics.wait / notify / waitAsync, measured with the same scenarios as the Rust side.
//
// Usage: node --expose-gc agentsync-bench.cjs SCENARIO COUNT
// Prints one JSON line: {"scenario", "value", "unit", "note"} or {"scenario", "skipped"}.
//
// Scenarios:
//   wait_async_create   ns per Atomics.waitAsync call that queues (COUNT pending on one index)
//   wait_async_notify   ns per waiter of one Atomics.notify(all) with COUNT pending waiters
//   wait_async_bytes    bytes per pending waiter: resident-set growth after gc
//   sync_pingpong       ns per round trip between the main thread and a worker (wait/notify)
//   notify_no_waiters   ns per Atomics.notify(…, 1) on an index nobody waits on
'use strict';

const { Worker, isMainThread, workerData } = require('node:worker_threads');

const PING = 0; // the main thread's turn
const PONG = 1; // the worker's turn

function print(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

function nsSince(start, count) {
  return Number(process.hrtime.bigint() - start) / count;
}

function gc() {
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
}

function pendingWaiters(count) {
  const word = new Int32Array(new SharedArrayBuffer(4));
  const pending = new Array(count);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    pending[i] = Atomics.waitAsync(word, 0, 0);
  }
  const createNs = nsSince(start, count);
  for (let i = 0; i < count; i++) {
    if (!pending[i].async) throw new Error('waitAsync settled at once: ' + pending[i].value);
  }
  return { word, pending, createNs };
}

async function settle(word, pending, count) {
  const start = process.hrtime.bigint();
  const woken = Atomics.notify(word, 0);
  const notifyNs = nsSince(start, count);
  if (woken !== count) throw new Error(`notify woke ${woken}, expected ${count}`);
  const results = await Promise.all(pending.map((p) => p.value));
  const ok = results.filter((r) => r === 'ok').length;
  if (ok !== count) throw new Error(`${ok} promises resolved "ok", expected ${count}`);
  return notifyNs;
}

async function waitAsyncScenario(scenario, count) {
  if (typeof Atomics.waitAsync !== 'function') {
    print({ scenario, skipped: `Atomics.waitAsync missing in node ${process.version}` });
    return;
  }
  if (scenario === 'wait_async_bytes') {
    if (typeof global.gc !== 'function') {
      print({ scenario, skipped: 'needs --expose-gc' });
      return;
    }
    gc();
    const before = process.memoryUsage();
    const batch = pendingWaiters(count);
    gc();
    const after = process.memoryUsage();
    const heap = after.heapUsed + after.external - (before.heapUsed + before.external);
    const rss = after.rss - before.rss;
    // The value is resident-set growth: V8 keeps its wait-list nodes in C++ memory that
    // heapUsed and external do not report, so the heap figure alone would undercount.
    print({
      scenario,
      value: rss / count,
      unit: 'bytes/waiter',
      note: `${count} waiters; RSS growth after gc (V8 heap+external alone: ${(heap / count).toFixed(0)} B)`,
    });
    await settle(batch.word, batch.pending, count);
    return;
  }
  const batch = pendingWaiters(count);
  const notifyNs = await settle(batch.word, batch.pending, count);
  if (scenario === 'wait_async_create') {
    print({ scenario, value: batch.createNs, unit: 'ns/waiter', note: `${count} waiters` });
  } else {
    print({
      scenario,
      value: notifyNs,
      unit: 'ns/waiter',
      note: `${count} waiters, one notify(all) call`,
    });
  }
}

function pingpongMain(count) {
  // [0] whose turn, [1] worker ready
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(__filename, { workerData: { shared, count } });
  worker.on('error', (error) => {
    process.stderr.write(String(error) + '\n');
    process.exit(1);
  });
  while (Atomics.load(shared, 1) === 0) Atomics.wait(shared, 1, 0, 1000);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    Atomics.store(shared, 0, PONG);
    Atomics.notify(shared, 0, 1);
    while (Atomics.load(shared, 0) !== PING) Atomics.wait(shared, 0, PONG);
  }
  const ns = nsSince(start, count);
  worker.once('exit', () => {
    print({ scenario: 'sync_pingpong', value: ns, unit: 'ns/round-trip', note: `${count} round trips, main thread + worker` });
  });
}

function pingpongWorker({ shared, count }) {
  Atomics.store(shared, 1, 1);
  Atomics.notify(shared, 1);
  for (let i = 0; i < count; i++) {
    while (Atomics.load(shared, 0) !== PONG) Atomics.wait(shared, 0, PING);
    Atomics.store(shared, 0, PING);
    Atomics.notify(shared, 0, 1);
  }
}

function notifyNoWaiters(count) {
  const word = new Int32Array(new SharedArrayBuffer(4));
  let woken = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) woken += Atomics.notify(word, 0, 1);
  const ns = nsSince(start, count);
  if (woken !== 0) throw new Error(`notify with no waiters woke ${woken}`);
  print({ scenario: 'notify_no_waiters', value: ns, unit: 'ns/op', note: `${count} calls` });
}

async function main() {
  const [scenario, countText] = process.argv.slice(2);
  const count = Number.parseInt(countText, 10);
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new Error(`COUNT must be a positive integer, not ${JSON.stringify(countText)}`);
  }
  switch (scenario) {
    case 'wait_async_create':
    case 'wait_async_notify':
    case 'wait_async_bytes':
      await waitAsyncScenario(scenario, count);
      break;
    case 'sync_pingpong':
      pingpongMain(count);
      break;
    case 'notify_no_waiters':
      notifyNoWaiters(count);
      break;
    default:
      throw new Error(`unknown scenario ${JSON.stringify(scenario)}`);
  }
}

if (isMainThread) {
  main().catch((error) => {
    process.stderr.write(`agentsync-bench.cjs: ${error.message}\n`);
    process.exit(1);
  });
} else {
  pingpongWorker(workerData);
}
