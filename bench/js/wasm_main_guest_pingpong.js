// wasm_main_guest_pingpong.js: ns per round trip between the main agent, which cannot block and
// waits with Atomics.waitAsync + await, and a Wasm guest in a worker that blocks in
// memory.atomic.wait32 and wakes the main agent with memory.atomic.notify (the guest's pong of
// wasm/pingpong.wat, run by workers/wasm-pingpong-worker.js). COUNT (round trips) defaults to
// 20000.
//
//   agentsync js bench/js/wasm_main_guest_pingpong.js [COUNT]
//   node --require ./crates/agentsync-js/js/node-shim.cjs bench/js/wasm_main_guest_pingpong.js [COUNT]
//
// Prints one JSON line: {"scenario", "value", "unit", "note"} or {"scenario", "skipped"}.

(async function () {
  const scenario = 'wasm_main_guest_pingpong';
  const positional = agentsync.args.filter((a) => !a.startsWith('--'));
  const count = positional.length > 0 ? Number(positional[0]) : 20000;
  if (!Number.isSafeInteger(count) || count <= 0 || count > 0x3fffffff) {
    throw new Error('COUNT must be an integer in 1..2^30-1, not ' + positional[0]);
  }
  if (typeof Atomics.waitAsync !== 'function') {
    print(JSON.stringify({ scenario, skipped: 'Atomics.waitAsync missing' }));
    return;
  }

  // The words of the shared memory, as in wasm/pingpong.wat.
  const TURN = 0;
  const READY = 1;
  const FLIPS = 2;
  const PING = 0;
  const PONG = 1;

  const module = new WebAssembly.Module(readbuffer('wasm/pingpong.wasm'));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const words = new Int32Array(memory.buffer);
  const guest = new Worker('workers/wasm-pingpong-worker.js');
  const finished = new Promise((resolve) => {
    guest.onmessage = (event) => resolve(event.data);
  });
  guest.postMessage({ module, memory, count, role: 'pong' });

  // Waits, without blocking, until words[index] is no longer `value`.
  async function waitWhile(index, value) {
    while (Atomics.load(words, index) === value) {
      const result = Atomics.waitAsync(words, index, value);
      if (result.async) await result.value;
    }
  }

  await waitWhile(READY, 0);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    Atomics.add(words, FLIPS, 1);
    Atomics.store(words, TURN, PONG);
    Atomics.notify(words, TURN, 1);
    await waitWhile(TURN, PONG);
  }
  const ns = ((performance.now() - start) * 1e6) / count;

  const { played } = await finished;
  const turn = Atomics.load(words, TURN);
  const flips = Atomics.load(words, FLIPS);
  if (played !== count || turn !== PING || flips !== 2 * count) {
    throw new Error(`self-check failed: guest played ${played}, turn ${turn}, flips ${flips}; expected ${count}, ${PING}, ${2 * count}`);
  }
  print(JSON.stringify({
    scenario,
    value: ns,
    unit: 'ns/round-trip',
    note: `${count} round trips, main (Atomics.waitAsync) + Wasm guest in a worker (memory.atomic.wait32)`,
  }));
})().catch((error) => {
  // Rethrown from a timer: an uncaught error, so the run exits 1 on either host.
  setTimeout(() => {
    throw error;
  });
});
