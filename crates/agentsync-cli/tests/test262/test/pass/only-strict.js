/*---
description: onlyStrict prepends "use strict"
flags: [onlyStrict]
---*/
assert.sameValue((function () { return this; })(), undefined);
