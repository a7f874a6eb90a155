// polyfill.js: Atomics.waitAsync emulated with a helper worker, as the waitAsync proposal's
// polyfill does it. This is a library, not a scenario: a scenario loads it with
//   agentsync.load('polyfill.js');
// which defines the global `waitAsyncPolyfill(typedArray, index, value, timeout)`. It returns
// the shape of Atomics.waitAsync: {async: false, value: "not-equal" | "timed-out"} at once, or
// {async: true, value: Promise<"ok" | "timed-out">}.
//
// The async case hands the wait to a helper worker (new Worker(source, {eval: true})) that
// performs the blocking Atomics.wait and posts its result back; the message resolves the
// promise. An idle helper is reused by the next call; one pending wait occupies one helper, so
// COUNT pending waits need COUNT helper threads. Helpers idle for IDLE_MS are terminated (an idle
// helper has a message handler and would keep the process alive); waitAsyncPolyfill.shutdown()
// terminates the idle ones at once.
//
// Where it differs from the native waitAsync, by construction:
// - The waiter is queued when the helper calls Atomics.wait, not when waitAsyncPolyfill returns.
//   A notify in between misses it. If the value changed in between, the helper's wait says
//   "not-equal"; the promise then resolves "ok", because a native waiter, queued at call time,
//   would have been woken by the notify that normally follows such a store. A notify with no
//   store (the value unchanged) is simply missed: the helper keeps waiting.
// - The timeout starts when the helper begins to wait, so it can expire a little late.
// Must run on an agent that can create workers (the main agent, or a worker).

globalThis.waitAsyncPolyfill = (function () {
  'use strict';

  const IDLE_MS = 100;

  // The helper: keeps the last array it was sent (the caller sends the array only when it
  // changes), blocks, and reports what Atomics.wait returned.
  const HELPER_SOURCE = `
    let view = null;
    onmessage = (event) => {
      const request = event.data;
      if (request.view !== undefined) view = request.view;
      postMessage(Atomics.wait(view, request.index, request.value, request.timeout));
    };
  `;

  const idle = []; // helpers with no pending wait, most recently used last
  let sweeper = null;

  function newHelper() {
    const helper = { worker: new Worker(HELPER_SOURCE, { eval: true }), view: null, resolve: null, idleSince: 0 };
    helper.worker.onmessage = (event) => {
      const resolve = helper.resolve;
      helper.resolve = null;
      helper.idleSince = performance.now();
      idle.push(helper);
      scheduleSweep();
      resolve(event.data === 'timed-out' ? 'timed-out' : 'ok');
    };
    helper.worker.onerror = (event) => {
      throw new Error('waitAsyncPolyfill helper failed: ' + event.message);
    };
    return helper;
  }

  function scheduleSweep() {
    if (sweeper === null) sweeper = setTimeout(sweep, IDLE_MS);
  }

  function sweep() {
    sweeper = null;
    const now = performance.now();
    // The oldest idle helpers are at the front.
    while (idle.length > 0 && now - idle[0].idleSince >= IDLE_MS) idle.shift().worker.terminate();
    if (idle.length > 0) scheduleSweep();
  }

  function waitAsyncPolyfill(typedArray, index, value, timeout) {
    const isBig = typedArray instanceof BigInt64Array;
    if (!isBig && !(typedArray instanceof Int32Array)) {
      throw new TypeError('waitAsyncPolyfill: expected an Int32Array or BigInt64Array');
    }
    if (!(typedArray.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('waitAsyncPolyfill: the array must view a SharedArrayBuffer');
    }
    const current = Atomics.load(typedArray, index); // validates the index
    const expected = isBig ? BigInt.asIntN(64, BigInt(value)) : value | 0;
    let t = timeout === undefined ? NaN : Number(timeout);
    if (Number.isNaN(t)) t = Infinity;
    if (t < 0) t = 0;
    if (current !== expected) return { async: false, value: 'not-equal' };
    if (t === 0) return { async: false, value: 'timed-out' };

    const helper = idle.length > 0 ? idle.pop() : newHelper();
    const promise = new Promise((resolve) => {
      helper.resolve = resolve;
    });
    const request = { index: Number(index), value: expected, timeout: t };
    if (helper.view !== typedArray) {
      request.view = typedArray;
      helper.view = typedArray;
    }
    helper.worker.postMessage(request);
    return { async: true, value: promise };
  }

  waitAsyncPolyfill.shutdown = function shutdown() {
    if (sweeper !== null) clearTimeout(sweeper);
    sweeper = null;
    while (idle.length > 0) idle.pop().worker.terminate();
  };

  return waitAsyncPolyfill;
})();
