// parking_lock_2w.js: ns per lock/unlock pair of the guide's three-state parking lock, with two
// workers (workers/parking_lock-worker.js) contending, each doing COUNT (default 200000) pairs
// around a plain counter increment. The wall time from both workers' start to both workers'
// end is divided by 2 * COUNT. The counter must come out as 2 * COUNT.
//
//   agentsync js bench/js/parking_lock_2w.js [COUNT]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/parking_lock_2w.js [COUNT]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"}.

(function () {
  const scenario = 'parking_lock_2w';
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 200000;
  if (!Number.isSafeInteger(count) || count <= 0) throw new Error('COUNT must be a positive integer, not ' + positional[0]);

  // [0] the lock, [1] the counter, [2] arrivals, [3] finished workers.
  const shared = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  const timer = new Worker('workers/parking_lock-worker.js');
  const other = new Worker('workers/parking_lock-worker.js');
  timer.onmessage = (event) => {
    const { ns, counter } = event.data;
    if (counter !== 2 * count) throw new Error(`lost updates: counter is ${counter}, expected ${2 * count}`);
    print(JSON.stringify({
      scenario,
      value: ns,
      unit: 'ns/op',
      note: `${count} lock/unlock pairs per worker, 2 workers, the guide's parking lock`,
    }));
  };
  timer.postMessage({ shared, count, role: 'timer' });
  other.postMessage({ shared, count, role: 'other' });
})();
