// wasm-pingpong-worker.js: a worker that runs one side of the Wasm guest ping-pong of
// wasm_main_guest_pingpong.js and wasm_guest_pingpong.js (run those, not this file).
// The message {module, memory, count, role} starts it; the guest is wasm/pingpong.wat.
//
// memory (shared): [0] TURN, [1] READY, [2] FLIPS, as described in wasm/pingpong.wat.
// role "pong": marks READY, then the guest's pong(count) plays COUNT turns; posts {played}.
// role "ping": waits (Atomics.wait) until READY, then times the guest's ping(count) and posts
//              {made, ns}, ns per round trip.
// Each side ends after its last turn.

const READY = 1;

onmessage = (event) => {
  const { module, memory, count, role } = event.data;
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const words = new Int32Array(memory.buffer);
  if (role === 'pong') {
    Atomics.store(words, READY, 1);
    Atomics.notify(words, READY);
    postMessage({ played: exports.pong(count) });
  } else {
    while (Atomics.load(words, READY) === 0) Atomics.wait(words, READY, 0);
    const start = performance.now();
    const made = exports.ping(count);
    postMessage({ made, ns: ((performance.now() - start) * 1e6) / count });
  }
  close();
};
