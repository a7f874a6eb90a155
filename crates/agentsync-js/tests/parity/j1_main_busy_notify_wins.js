// J1: a waitAsync timeout is a job of the waiting agent. Main waits 10 ms, then stays busy
// while a worker notifies 20 ms later: the timeout job has not run, the waiter is still on the
// list, so the notify takes it (1) and the promise resolves "ok".
const i32 = new Int32Array(new SharedArrayBuffer(16));
const worker = new Worker(
  `onmessage = (e) => {
     const i32 = new Int32Array(e.data);
     postMessage('ready');
     Atomics.wait(i32, 1, 0);
     const start = Date.now();
     while (Date.now() - start < 20) {}
     const woken = Atomics.notify(i32, 0);
     Atomics.store(i32, 2, 1);
     postMessage(woken);
   };`,
  { eval: true },
);
let result;
worker.onmessage = (e) => {
  if (e.data === 'ready') {
    result = Atomics.waitAsync(i32, 0, 0, 10);
    Atomics.store(i32, 1, 1);
    Atomics.notify(i32, 1);
    while (Atomics.load(i32, 2) === 0) {} // busy until the worker has notified
    return;
  }
  const woken = e.data;
  result.value.then((value) => {
    print('notify returned', woken, 'and the wait resolved', value);
    worker.terminate();
  });
};
worker.postMessage(i32.buffer);
