// J2: a growable SharedArrayBuffer has one length; Atomics.notify / waitAsync on a
// length-tracking view check the index against the block's current length, whichever agent
// grew it.
const sab = new SharedArrayBuffer(16, { maxByteLength: 256 });
const lt = new Int32Array(sab);
sab.grow(64);
print(Atomics.load(lt, 10), Atomics.notify(lt, 10), JSON.stringify(Atomics.waitAsync(lt, 10, 1)));
const worker = new Worker(
  `onmessage = (e) => { e.data.grow(128); new Int32Array(e.data)[20] = 77; postMessage(1); };`,
  { eval: true },
);
worker.onmessage = () => {
  print(Atomics.notify(lt, 20), JSON.stringify(Atomics.waitAsync(lt, 20, 1)));
  print(lt.length, Atomics.load(lt, 20), lt[20], sab.byteLength);
  worker.terminate();
};
worker.postMessage(sab);
