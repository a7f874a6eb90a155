/*---
description: an async test ends by printing through $DONE; waitAsync settles in the loop
flags: [async]
features: [Atomics.waitAsync]
---*/
var view = new Int32Array(new SharedArrayBuffer(8));
var result = Atomics.waitAsync(view, 0, 0, 10);
assert.sameValue(result.async, true);
result.value.then(function (outcome) {
  assert.sameValue(outcome, 'timed-out');
}).then($DONE, $DONE);
