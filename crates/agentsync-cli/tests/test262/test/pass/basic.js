/*---
description: the harness is there, includes are loaded, both modes run
includes: [agentHelper.js]
---*/
assert.sameValue(typeof collectReports, 'function');
assert.sameValue(typeof $262.global, 'object');
assert.sameValue($262.global, this);
