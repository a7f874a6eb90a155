/*---
description: a module runs strict, with the harness defined before it
flags: [module]
---*/
export const value = 1;
assert.sameValue(this, undefined);
