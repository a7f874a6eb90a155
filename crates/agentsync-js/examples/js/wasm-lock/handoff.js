// handoff.js: a one-shot handoff from a Wasm producer (handoff.wat, instantiated on the main
// agent) to a JavaScript consumer (handoff-worker.js) that blocks in Atomics.wait on a word of
// the same shared WebAssembly.Memory. The guest's memory.atomic.notify wakes the JS waiter.
//
// Run:
//   agentsync js handoff.js            (or: cargo run -p agentsync-js --example jsrun -- handoff.js)
// Prints:
//   consumer woke: ok
//   payload: beef
// Anything else throws, so the run exits 1.
//
// The main agent cannot block, so it calls the producer once a millisecond until its notify
// reports that it woke the consumer (see handoff.wat): the consumer's wait then returns "ok".

const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readbuffer('handoff.wat')), {
  env: { memory },
});

const consumer = new Worker('handoff-worker.js');
consumer.onmessage = (event) => {
  const { woke, payload } = event.data;
  print(`consumer woke: ${woke}`);
  print(`payload: ${payload.toString(16)}`);
  if (woke !== 'ok' || payload !== 0xbeef) {
    throw new Error(`handoff failed: wait returned ${woke}, payload ${payload}`);
  }
};
consumer.postMessage(memory);

function ring() {
  if (exports.produce(0xbeef) !== 1) setTimeout(ring, 1);
}
ring();
