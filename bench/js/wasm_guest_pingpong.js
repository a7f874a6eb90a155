// wasm_guest_pingpong.js: ns per round trip between two Wasm guests, each in its own worker,
// blocking in memory.atomic.wait32 and waking each other with memory.atomic.notify (ping and
// pong of wasm/pingpong.wat, run by workers/wasm-pingpong-worker.js). The main agent posts the
// module and the shared memory and collects the pinger's timing by message. COUNT (round trips)
// defaults to 20000.
//
//   agentsync js bench/js/wasm_guest_pingpong.js [COUNT]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/wasm_guest_pingpong.js [COUNT]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"}.

(async function () {
  const scenario = 'wasm_guest_pingpong';
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 20000;
  if (!Number.isSafeInteger(count) || count <= 0 || count > 0x3fffffff) {
    throw new Error('COUNT must be an integer in 1..2^30-1, not ' + positional[0]);
  }

  // The words of the shared memory, as in wasm/pingpong.wat.
  const TURN = 0;
  const FLIPS = 2;
  const PING = 0;

  const module = new WebAssembly.Module(readbuffer('wasm/pingpong.wasm'));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const words = new Int32Array(memory.buffer);
  const start = (role) =>
    new Promise((resolve) => {
      const worker = new Worker('workers/wasm-pingpong-worker.js');
      worker.onmessage = (event) => resolve(event.data);
      worker.postMessage({ module, memory, count, role });
    });
  const [{ played }, { made, ns }] = await Promise.all([start('pong'), start('ping')]);

  const turn = Atomics.load(words, TURN);
  const flips = Atomics.load(words, FLIPS);
  if (played !== count || made !== count || turn !== PING || flips !== 2 * count) {
    throw new Error(`self-check failed: pong played ${played}, ping made ${made}, turn ${turn}, flips ${flips}; expected ${count}, ${count}, ${PING}, ${2 * count}`);
  }
  print(JSON.stringify({
    scenario,
    value: ns,
    unit: 'ns/round-trip',
    note: `${count} round trips between two Wasm guests in workers (memory.atomic.wait32 / notify)`,
  }));
})().catch((error) => {
  // Rethrown from a timer: an uncaught error, so the run exits 1 on either host.
  setTimeout(() => {
    throw error;
  });
});
