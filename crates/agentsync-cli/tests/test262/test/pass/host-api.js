/*---
description: evalScript, createRealm, detachArrayBuffer, gc, monotonicNow
---*/
assert.sameValue($262.evalScript('var fromScript = 7; fromScript + 1;'), 8);
assert.sameValue(fromScript, 7);
assert.throws(SyntaxError, function () { $262.evalScript('let let = 1;'); });
var other = $262.createRealm();
assert.sameValue(other.evalScript('typeof $262.agent.sleep'), 'function');
assert(other.global.Array !== Array, 'a new realm has its own intrinsics');
var buffer = new ArrayBuffer(8);
$262.detachArrayBuffer(buffer);
assert.sameValue(buffer.byteLength, 0);
assert.throws(TypeError, function () { $262.detachArrayBuffer(new SharedArrayBuffer(8)); });
$262.gc();
var before = $262.agent.monotonicNow();
$262.agent.sleep(20);
assert($262.agent.monotonicNow() - before >= 19, 'sleep sleeps');
