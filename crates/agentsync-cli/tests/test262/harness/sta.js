// The error a failed assertion throws, and the marker of code that must never run.
function Test262Error(message) {
  this.message = message || '';
}
Test262Error.prototype.name = 'Test262Error';
Test262Error.prototype.toString = function () { return 'Test262Error: ' + this.message; };
function $DONOTEVALUATE() {
  throw 'this code must not run';
}
