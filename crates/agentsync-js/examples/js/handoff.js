// handoff.js: the guide's one-shot handoff between an agent that cannot block and one that can.
//
// The consumer (handoff-worker.js) blocks in Atomics.wait(ia, 0, 0) on the flag word ia[0].
// The main agent, which may not block, publishes the payload 0xbeef in ia[1] and wakes it.
// The consumer reports what Atomics.wait returned and the payload it read; the main agent prints:
//   consumer woke: ok
//   payload: beef
//
// Run:
//   agentsync js handoff.js
//   node --require ../../js/node-shim.cjs handoff.js
// A result other than the above throws, so the run exits 1.
//
// Why it is always "ok": Atomics.wait returns "not-equal" if the flag is no longer 0 when it is
// called, and the main agent cannot see whether the consumer is queued yet (JS has no waiter
// count; a "ready" message sent just before the wait would be racy). So the main agent does not
// touch the flag until the consumer is known to be woken:
//   1. it publishes the payload first (the consumer reads it after waking);
//   2. it calls Atomics.notify(ia, 0, 1) every millisecond, flag still 0, until a call returns 1.
//      A notify that finds nobody queued does nothing, and while the flag is 0 the consumer's
//      wait can only end by a notify (it has no timeout), so it returns "ok";
//   3. the notify that woke the consumer happens before its wait returns, and the payload store
//      happens before that notify, so the consumer's load sees 0xbeef;
//   4. then it raises the flag, for anyone who checks it later.

// [0] the flag, [1] the payload.
const ia = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));

const consumer = new Worker('handoff-worker.js');
consumer.onmessage = (event) => {
  const { woke, payload } = event.data;
  print(`consumer woke: ${woke}`);
  print(`payload: ${payload.toString(16)}`);
  if (woke !== 'ok' || payload !== 0xbeef) {
    throw new Error(`handoff failed: wait returned ${woke}, payload ${payload}`);
  }
};
consumer.postMessage(ia);

Atomics.store(ia, 1, 0xbeef); // 1. publish the payload
function ring() {
  if (Atomics.notify(ia, 0, 1) === 1) {
    Atomics.store(ia, 0, 1); // 4. raise the flag
  } else {
    setTimeout(ring, 1); // 2. nobody queued yet: try again shortly
  }
}
ring();
