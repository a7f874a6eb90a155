// floor.js: the engine's own floor under Atomics.waitAsync, for the `quickjs_floor` rows of
// `agentsync bench` (loaded by wait_async_create.js, wait_async_notify.js and
// wait_async_bytes.js with --floor).
//
// floorWaitAsync does what any waitAsync must do in JavaScript and nothing of agentsync: a
// `new Promise` with its resolving function kept alive, and the `{ async, value }` result
// object. floorNotify resolves every pending promise with "ok". What agentsync's host costs
// above these two is its own overhead.

(function (global) {
  const resolvers = [];
  global.floorWaitAsync = function (typedArray, index, value) {
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    resolvers.push(resolve);
    return { async: true, value: promise };
  };
  global.floorNotify = function (typedArray, index) {
    const count = resolvers.length;
    for (let i = 0; i < count; i++) resolvers[i]('ok');
    resolvers.length = 0;
    return count;
  };
})(globalThis);
