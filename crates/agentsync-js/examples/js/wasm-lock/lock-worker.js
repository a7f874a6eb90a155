// lock-worker.js: one of the four workers of lock.js (run that file, not this one). It gets
// the module and the shared memory, instantiates the module over that memory, checks in and
// sleeps until every worker has (so all of them and the main agent contend for the lock),
// counts N times under the parking lock and N times under the spin lock, all inside Wasm,
// then reports.

onmessage = (event) => {
  const { module, memory, n } = event.data;
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const ia = new Int32Array(memory.buffer);
  Atomics.add(ia, 4, 1);
  postMessage('ready');
  Atomics.wait(ia, 5, 0);
  exports.count_parking(n);
  exports.count_spin(n);
  postMessage('done');
  close();
};
