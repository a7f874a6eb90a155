/*---
description: a negative test that throws the wrong error fails
negative:
  phase: runtime
  type: TypeError
---*/
throw new RangeError('not the expected type');
