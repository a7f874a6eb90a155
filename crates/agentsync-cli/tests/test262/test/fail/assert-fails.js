/*---
description: a failed assertion fails the test
---*/
assert.sameValue(1 + 1, 3, 'arithmetic');
