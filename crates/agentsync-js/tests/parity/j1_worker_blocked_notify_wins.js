// J1 in a worker: its own waitAsync (10 ms) times out while it is blocked in Atomics.wait, so
// the timeout job cannot run; main's notify 60 ms later still finds the waiter (1), and the
// worker's promise resolves "ok".
const i32 = new Int32Array(new SharedArrayBuffer(16));
const worker = new Worker(
  `onmessage = (e) => {
     const i32 = new Int32Array(e.data);
     const result = Atomics.waitAsync(i32, 0, 0, 10);
     postMessage('queued');
     Atomics.wait(i32, 1, 0);
     result.value.then((value) => postMessage(value));
   };`,
  { eval: true },
);
let woken;
worker.onmessage = (e) => {
  if (e.data === 'queued') {
    setTimeout(() => {
      woken = Atomics.notify(i32, 0);
      Atomics.store(i32, 1, 1);
      Atomics.notify(i32, 1);
    }, 60);
  } else {
    print('notify returned', woken, 'and the worker\'s wait resolved', e.data);
    worker.terminate();
  }
};
worker.postMessage(i32.buffer);
