// lock-worker.js: one of the four workers of lock.js (run that file, not this one). It gets
// the module and the shared memory, instantiates the module over that memory, counts N times
// under the spin lock and N times under the parking lock, all inside Wasm, then reports.

onmessage = (event) => {
  const { module, memory, n } = event.data;
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  exports.count_spin(n);
  exports.count_parking(n);
  postMessage('done');
  close();
};
