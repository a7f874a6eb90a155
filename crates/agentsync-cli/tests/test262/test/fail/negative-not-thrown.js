/*---
description: a negative test that throws nothing fails
negative:
  phase: parse
  type: SyntaxError
---*/
var fine = 1;
