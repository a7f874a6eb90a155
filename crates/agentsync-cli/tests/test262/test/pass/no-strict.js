/*---
description: noStrict runs sloppy only
flags: [noStrict]
---*/
var scope = { answer: 42 };
with (scope) { assert.sameValue(answer, 42); }
