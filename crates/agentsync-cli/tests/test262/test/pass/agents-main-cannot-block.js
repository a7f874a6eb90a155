/*---
description: broadcast works from a main agent that cannot block; its Atomics.wait throws
includes: [agentHelper.js]
flags: [CanBlockIsFalse]
---*/
var view = new Int32Array(new SharedArrayBuffer(8));
assert.throws(TypeError, function () { Atomics.wait(view, 0, 0, 0); });
$262.agent.start(
  '$262.agent.receiveBroadcast(function (buffer) {\n' +
  '  var view = new Int32Array(buffer);\n' +
  '  $262.agent.report(Atomics.wait(view, 0, 0, 0));\n' +
  '  $262.agent.report(typeof Atomics.waitAsync);\n' +
  '});');
$262.agent.broadcast(view.buffer);
assert.sameValue(collectReports(2).join(), 'function,timed-out');
