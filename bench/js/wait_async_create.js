// wait_async_create.js: ns per Atomics.waitAsync call that queues a waiter.
// COUNT (default 100000) pending waits on one index are created and timed; then one notify wakes
// them all and every promise must resolve "ok".
//
//   agentsync js bench/js/wait_async_create.js [COUNT] [--floor]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/wait_async_create.js [COUNT]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"} or {"scenario", "skipped"}.

(async function () {
  const scenario = 'wait_async_create';
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 100000;
  if (!Number.isSafeInteger(count) || count <= 0) throw new Error('COUNT must be a positive integer, not ' + positional[0]);
  // --floor: the engine's floor (floor.js) instead of Atomics, for the quickjs_floor rows.
  const floor = agentsync.args.includes('--floor');
  if (floor) agentsync.load('floor.js');
  const waitAsync = floor ? floorWaitAsync : Atomics.waitAsync;
  const notify = floor ? floorNotify : Atomics.notify;
  if (typeof waitAsync !== 'function') {
    print(JSON.stringify({ scenario, skipped: 'Atomics.waitAsync missing' }));
    return;
  }

  const word = new Int32Array(new SharedArrayBuffer(4));
  const pending = new Array(count);
  const start = performance.now();
  for (let i = 0; i < count; i++) pending[i] = waitAsync(word, 0, 0);
  const ns = ((performance.now() - start) * 1e6) / count;

  for (let i = 0; i < count; i++) {
    if (!pending[i].async) throw new Error('waitAsync settled at once: ' + pending[i].value);
  }
  const woken = notify(word, 0);
  if (woken !== count) throw new Error(`notify woke ${woken}, expected ${count}`);
  const results = await Promise.all(pending.map((p) => p.value));
  const ok = results.filter((r) => r === 'ok').length;
  if (ok !== count) throw new Error(`${ok} promises resolved "ok", expected ${count}`);

  const what = floor ? 'floor (new Promise + result object, no Atomics)' : 'waiters';
  print(JSON.stringify({ scenario, value: ns, unit: 'ns/waiter', note: `${count} ${what}` }));
})().catch((error) => {
  // Rethrown from a timer: an uncaught error, so the run exits 1 on either host.
  setTimeout(() => {
    throw error;
  });
});
