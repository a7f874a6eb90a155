/*---
description: agents take a broadcast, wait in agentsync's queue, and are woken in order
includes: [agentHelper.js]
flags: [CanBlockIsTrue]
---*/
var view = new Int32Array(new SharedArrayBuffer(16));
for (var i = 0; i < 3; i++) {
  $262.agent.start(
    '$262.agent.receiveBroadcast(function (buffer, id) {\n' +
    '  var view = new Int32Array(buffer);\n' +
    '  Atomics.add(view, 1, 1);\n' +
    '  $262.agent.report(id + ":" + Atomics.wait(view, 0, 0, 10000));\n' +
    '  $262.agent.leaving();\n' +
    '});');
}
$262.agent.broadcast(view.buffer, 5);
spinUntil(view, 1, 3);
var woken = 0;
while (woken < 3) woken += Atomics.notify(view, 0);
assert.sameValue(woken, 3, 'three agents were woken');
assert.sameValue(collectReports(3).join(), '5:ok,5:ok,5:ok');
assert.sameValue($262.agent.getReport(), null);
