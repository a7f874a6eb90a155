// handoff-worker.js: the consumer of handoff.js (run that file, not this one). It gets the
// shared WebAssembly.Memory, sleeps on the flag word until the Wasm producer wakes it, reads
// the payload and reports both.

onmessage = (event) => {
  const ia = new Int32Array(event.data.buffer);
  const woke = Atomics.wait(ia, 0, 0);
  const payload = Atomics.load(ia, 1);
  postMessage({ woke, payload });
  close();
};
