/*---
description: a TypeError is expected while running
negative:
  phase: runtime
  type: TypeError
---*/
null.property;
