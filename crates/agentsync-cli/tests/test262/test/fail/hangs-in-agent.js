/*---
description: an agent that never reports leaves the main agent polling until the timeout
includes: [agentHelper.js]
---*/
$262.agent.start('$262.agent.receiveBroadcast(function (buffer) { Atomics.wait(new Int32Array(buffer), 0, 0); });');
$262.agent.broadcast(new SharedArrayBuffer(4));
collectReports(1);
