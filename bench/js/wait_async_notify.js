// wait_async_notify.js: ns per waiter to wake COUNT pending Atomics.waitAsync waiters with one
// Atomics.notify(all), timed until every promise reaction has run (Promise.all resolved).
// COUNT defaults to 100000.
//
// With --polyfill it measures waitAsyncPolyfill from polyfill.js instead (one helper worker per
// pending wait, so COUNT defaults to 32). A helper is queued only once it runs Atomics.wait, so
// this mode first does one untimed round (which also starts the helpers), then creates the timed
// round's waits, gives the helpers time to block, and times notify calls, repeated until they
// have woken COUNT waiters, plus the promises; the note says how many notify calls it took.
//
//   agentsync js bench/js/wait_async_notify.js [COUNT] [--polyfill | --floor]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/wait_async_notify.js [COUNT] [--polyfill]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"} or {"scenario", "skipped"}.

(async function () {
  const scenario = 'wait_async_notify';
  const usePolyfill = agentsync.args.includes('--polyfill');
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : usePolyfill ? 32 : 100000;
  if (!Number.isSafeInteger(count) || count <= 0) throw new Error('COUNT must be a positive integer, not ' + positional[0]);

  // --floor: the engine's floor (floor.js) instead of Atomics, for the quickjs_floor rows.
  const floor = agentsync.args.includes('--floor');
  let waitAsync;
  let notify = Atomics.notify;
  if (usePolyfill) {
    agentsync.load('polyfill.js');
    waitAsync = waitAsyncPolyfill;
  } else if (floor) {
    agentsync.load('floor.js');
    waitAsync = floorWaitAsync;
    notify = floorNotify;
  } else if (typeof Atomics.waitAsync === 'function') {
    waitAsync = Atomics.waitAsync;
  } else {
    print(JSON.stringify({ scenario, skipped: 'Atomics.waitAsync missing' }));
    return;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const word = new Int32Array(new SharedArrayBuffer(4));

  function create() {
    const pending = new Array(count);
    for (let i = 0; i < count; i++) {
      const result = waitAsync(word, 0, 0);
      if (!result.async) throw new Error('waitAsync settled at once: ' + result.value);
      pending[i] = result.value;
    }
    return pending;
  }

  // Notifies until COUNT waiters are woken; a polyfill helper may not be queued yet.
  async function wakeAll() {
    let woken = 0;
    let calls = 0;
    for (;;) {
      woken += notify(word, 0);
      calls += 1;
      if (woken >= count) break;
      if (!usePolyfill) break;
      await sleep(1);
    }
    if (woken !== count) throw new Error(`notify woke ${woken}, expected ${count}`);
    return calls;
  }

  function check(results) {
    const ok = results.filter((r) => r === 'ok').length;
    if (ok !== count) throw new Error(`${ok} promises resolved "ok", expected ${count}`);
  }

  if (usePolyfill) {
    const warm = Promise.all(create());
    await wakeAll();
    check(await warm);
  }

  const all = Promise.all(create()); // the reactions are attached before the clock starts
  if (usePolyfill) await sleep(50);
  const start = performance.now();
  const calls = await wakeAll();
  const results = await all;
  const ns = ((performance.now() - start) * 1e6) / count;
  check(results);

  if (usePolyfill) {
    waitAsyncPolyfill.shutdown();
    print(JSON.stringify({
      scenario,
      value: ns,
      unit: 'ns/waiter',
      note: `polyfill: ${count} waiters on helper workers, ${calls} notify(all) call(s)`,
    }));
  } else {
    const what = floor ? 'floor waits (new Promise + result object, no Atomics), all resolved at once' : 'waiters, one notify(all) call';
    print(JSON.stringify({ scenario, value: ns, unit: 'ns/waiter', note: `${count} ${what}` }));
  }
})().catch((error) => {
  // Rethrown from a timer: an uncaught error, so the run exits 1 on either host.
  setTimeout(() => {
    throw error;
  });
});
