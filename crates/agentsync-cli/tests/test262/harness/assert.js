// A minimal assertion library with the names test files use.
function assert(condition, message) {
  if (condition !== true) throw new Test262Error(message || 'expected true');
}
assert.sameValue = function (actual, expected, message) {
  if (!Object.is(actual, expected)) {
    throw new Test262Error((message ? message + ': ' : '') + 'got ' + String(actual) + ', wanted ' + String(expected));
  }
};
assert.throws = function (Constructor, action, message) {
  try {
    action();
  } catch (error) {
    if (error === null || typeof error !== 'object' || error.constructor !== Constructor) {
      throw new Test262Error((message || 'throws') + ': wrong error ' + String(error));
    }
    return;
  }
  throw new Test262Error((message || 'throws') + ': nothing was thrown');
};
