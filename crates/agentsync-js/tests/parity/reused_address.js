// A pending waitAsync on a buffer nothing else references keeps that buffer: a new buffer can
// not take its address, so notifies on 100 new buffers wake nobody, and the wait times out.
let pending;
(() => {
  const a = new Int32Array(new SharedArrayBuffer(4096));
  pending = Atomics.waitAsync(a, 0, 0, 200).value;
})();
agentsync.gc();
let woken = 0;
for (let i = 0; i < 100; i++) woken += Atomics.notify(new Int32Array(new SharedArrayBuffer(4096)), 0);
print('notifies on new buffers woke', woken);
pending.then((value) => print('the wait resolved', value));
