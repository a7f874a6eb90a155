// main_worker_pingpong.js: ns per round trip between the main agent, which cannot block and
// waits with Atomics.waitAsync + await, and a worker that blocks in Atomics.wait
// (workers/pingpong-worker.js as the ponger). COUNT (round trips) defaults to 20000.
//
// With --polyfill the main agent waits with waitAsyncPolyfill from polyfill.js instead (each
// wait is handed to a helper worker that blocks for it).
//
//   agentsync js bench/js/main_worker_pingpong.js [COUNT] [--polyfill]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/main_worker_pingpong.js [COUNT] [--polyfill]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"} or {"scenario", "skipped"}.

(async function () {
  const scenario = 'main_worker_pingpong';
  const usePolyfill = agentsync.args.includes('--polyfill');
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 20000;
  if (!Number.isSafeInteger(count) || count <= 0) throw new Error('COUNT must be a positive integer, not ' + positional[0]);

  let waitAsync;
  if (usePolyfill) {
    agentsync.load('polyfill.js');
    waitAsync = waitAsyncPolyfill;
  } else if (typeof Atomics.waitAsync === 'function') {
    waitAsync = Atomics.waitAsync;
  } else {
    print(JSON.stringify({ scenario, skipped: 'Atomics.waitAsync missing' }));
    return;
  }

  const PING = 0;
  const PONG = 1;
  // [0] whose turn, [1] the ponger is ready.
  const shared = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const ponger = new Worker('workers/pingpong-worker.js');
  ponger.postMessage({ shared, count, role: 'pong' });

  // Waits, without blocking, until shared[index] is no longer `value`.
  async function waitWhile(index, value) {
    while (Atomics.load(shared, index) === value) {
      const result = waitAsync(shared, index, value);
      if (result.async) await result.value;
    }
  }

  await waitWhile(1, 0);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    Atomics.store(shared, 0, PONG);
    Atomics.notify(shared, 0, 1);
    await waitWhile(0, PONG);
  }
  const ns = ((performance.now() - start) * 1e6) / count;

  if (usePolyfill) waitAsyncPolyfill.shutdown();
  print(JSON.stringify({
    scenario,
    value: ns,
    unit: 'ns/round-trip',
    note: usePolyfill
      ? `polyfill: ${count} round trips, main (waitAsyncPolyfill) + worker (Atomics.wait)`
      : `${count} round trips, main (Atomics.waitAsync) + worker (Atomics.wait)`,
  }));
})().catch((error) => {
  // Rethrown from a timer: an uncaught error, so the run exits 1 on either host.
  setTimeout(() => {
    throw error;
  });
});
