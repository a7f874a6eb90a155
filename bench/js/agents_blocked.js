// agents_blocked.js: what an agent costs. Start COUNT (default 200) workers that each block in
// Atomics.wait on one word, and measure, once all have arrived at the wait, the resident-set
// growth (--bytes: MiB per 100 workers) or the time from the first `new Worker` (--time:
// seconds per 100 workers). Then one notify releases them all and every worker ends.
//
//   agentsync js bench/js/agents_blocked.js [COUNT] --bytes|--time
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/agents_blocked.js [COUNT] --bytes|--time
//
// Prints one JSON line: {"scenario", "value", "unit", "note"}.

(async function () {
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 200;
  if (!Number.isSafeInteger(count) || count <= 0) throw new Error('COUNT must be a positive integer, not ' + positional[0]);
  const time = agentsync.args.includes('--time');
  const scenario = time ? 'agents_start' : 'agents_bytes';

  // [0] the gate the workers wait on, [1] how many have arrived.
  const shared = new Int32Array(new SharedArrayBuffer(8));
  agentsync.gc();
  const before = agentsync.residentBytes();
  const started = performance.now();
  for (let i = 0; i < count; i++) new Worker('workers/blocked-worker.js').postMessage(shared);
  for (let arrived = Atomics.load(shared, 1); arrived < count; arrived = Atomics.load(shared, 1)) {
    await Atomics.waitAsync(shared, 1, arrived, 10000).value;
  }
  const elapsed = performance.now() - started;
  // Each worker counts itself just before its wait: give the last ones time to be in it.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = agentsync.residentBytes();
  Atomics.store(shared, 0, 1);
  Atomics.notify(shared, 0);

  print(JSON.stringify(time
    ? { scenario, value: elapsed / count * 100 / 1000, unit: 's/100 workers', note: `${count} workers started until all arrived at Atomics.wait` }
    : { scenario, value: (after - before) / count * 100 / 1048576, unit: 'MiB/100 workers', note: `${count} workers blocked in Atomics.wait; resident-set growth` }));
})();
