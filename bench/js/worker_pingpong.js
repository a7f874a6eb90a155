// worker_pingpong.js: ns per round trip between two workers that block in Atomics.wait and wake
// each other with Atomics.notify. The main agent only starts them (workers/pingpong-worker.js)
// and receives the pinger's measurement by message. COUNT (round trips) defaults to 20000.
//
//   agentsync js bench/js/worker_pingpong.js [COUNT]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/worker_pingpong.js [COUNT]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"}.

(function () {
  const scenario = 'worker_pingpong';
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 20000;
  if (!Number.isSafeInteger(count) || count <= 0) throw new Error('COUNT must be a positive integer, not ' + positional[0]);

  const shared = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const pinger = new Worker('workers/pingpong-worker.js');
  const ponger = new Worker('workers/pingpong-worker.js');
  pinger.onmessage = (event) => {
    print(JSON.stringify({
      scenario,
      value: event.data.ns,
      unit: 'ns/round-trip',
      note: `${count} round trips, worker + worker`,
    }));
  };
  ponger.postMessage({ shared, count, role: 'pong' });
  pinger.postMessage({ shared, count, role: 'ping' });
})();
